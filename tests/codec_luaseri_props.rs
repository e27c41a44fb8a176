//! lua-seri properties: any `Value` and a representative set of serde
//! types round-trip, Lua literals round-trip, and no input bytes make the
//! decoder panic or overflow the stack.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use skycluster::codec::luaseri::{
    self, from_slice, from_slice_multi, from_value, pack, to_value, to_vec, to_vec_multi, unpack,
    Error, ErrorKind, Table, Value, MAX_PACK_DEPTH, MAX_UNPACK_DEPTH,
};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::Integer),
        prop_oneof![
            Just(0),
            Just(255),
            Just(256),
            Just(65535),
            Just(65536),
            Just(-1)
        ]
        .prop_map(Value::Integer),
        any::<f64>().prop_map(Value::Real),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::String),
        prop::collection::vec(any::<u8>(), 30..300).prop_map(Value::String),
        any::<u64>().prop_map(Value::LightUserdata),
    ]
}

/// A table key: anything but nil and NaN.
fn key(value: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    value.prop_filter("nil and NaN can't be keys", |k| match k {
        Value::Nil => false,
        Value::Real(x) => !x.is_nan(),
        _ => true,
    })
}

fn value() -> impl Strategy<Value = Value> {
    // prop_recursive's depth stays far below MAX_PACK_DEPTH; the limit
    // itself is tested separately.
    scalar().prop_recursive(6, 200, 12, |inner| {
        (
            prop::collection::vec(inner.clone(), 0..12),
            prop::collection::vec((key(inner.clone()), inner), 0..6),
        )
            .prop_map(|(array, hash)| Value::Table(Table { array, hash }))
    })
}

fn values() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(value(), 0..5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_values_round_trip_through_pack(vs in values()) {
        let bytes = pack(&vs).expect("generated values are packable");
        let back = unpack(&bytes).expect("packed bytes unpack");
        prop_assert_eq!(&back, &vs);
        // The decoder keeps the wire shape, so packing again gives the same bytes.
        prop_assert_eq!(pack(&back).expect("repack"), bytes);
    }

    #[test]
    fn any_value_round_trips_through_serde(v in value()) {
        let bytes = to_vec(&v).expect("serialize");
        let back: Value = from_slice(&bytes).expect("deserialize");
        prop_assert_eq!(&back, &v);
        let owned: Value = from_value(back.clone()).expect("from_value");
        prop_assert_eq!(&owned, &v);
        prop_assert_eq!(to_value(&v).expect("to_value"), v);
    }

    #[test]
    fn any_value_round_trips_through_a_lua_literal(v in value()) {
        let text = v.to_string();
        let back: Value = text.parse().map_err(|e: Error| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(&back, &v, "{}", text);
        let pretty = format!("{v:#}");
        prop_assert_eq!(&pretty.parse::<Value>().expect("pretty parses"), &v);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(vs) = unpack(&bytes) {
            // Anything decoded repacks (unless nested past the pack limit) to
            // bytes that decode to the same values.
            if let Ok(again) = pack(&vs) {
                prop_assert_eq!(unpack(&again).expect("repacked bytes decode"), vs.clone());
            }
            for v in &vs {
                let _ = v.to_string();
            }
        }
        let _ = from_slice::<Value>(&bytes);
        let _ = from_slice::<Message>(&bytes);
        let _ = from_slice::<Shape>(&bytes);
        let _ = from_slice::<Vec<Option<i32>>>(&bytes);
        let _ = from_slice::<HashMap<String, i64>>(&bytes);
        let _ = from_slice_multi::<(String, Option<i64>, Vec<Value>)>(&bytes);
        let _ = from_slice::<serde::de::IgnoredAny>(&bytes);
    }

    #[test]
    fn structured_garbage_never_panics_the_decoder(
        parts in prop::collection::vec(prop_oneof![
            Just(vec![0x06u8]), Just(vec![0x0e]), Just(vec![0xfe, 0x0a, 0x20]), Just(vec![0x00]),
            Just(vec![0x14, b'i', b'd']), Just(vec![0x0a, 0x01]), Just(vec![0x42, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f]),
            Just(vec![0x24, b'N', b'a', b'm', b'e']), Just(vec![0x03, 1, 2, 3, 4, 5, 6, 7, 8]),
        ], 0..64)
    ) {
        let bytes: Vec<u8> = parts.concat();
        if let Ok(vs) = unpack(&bytes) {
            let _ = pack(&vs);
        }
        let _ = from_slice::<Value>(&bytes);
        let _ = from_slice::<Message>(&bytes);
        let _ = from_slice::<Vec<Shape>>(&bytes);
    }

    #[test]
    fn messages_round_trip(m in message()) {
        let bytes = to_vec(&m).expect("serialize");
        prop_assert_eq!(from_slice::<Message>(&bytes).expect("deserialize"), m.clone());
        prop_assert_eq!(from_value::<Message>(to_value(&m).expect("to_value")).expect("from_value"), m.clone());
        // And Lua sees an ordinary table.
        let v: Value = from_slice(&bytes).expect("as a Value");
        prop_assert!(v.as_table().is_some());
    }

    #[test]
    fn argument_tuples_round_trip(
        name in "[a-z]{1,12}",
        n in any::<i64>(),
        opt in any::<Option<u32>>(),
        shapes in prop::collection::vec(shape(), 0..4),
        blob in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let args = (name.clone(), n, opt, shapes.clone(), serde_bytes::ByteBuf::from(blob.clone()));
        let bytes = to_vec_multi(&args).expect("serialize");
        prop_assert_eq!(unpack(&bytes).expect("unpack").len(), 5);
        let back: (String, i64, Option<u32>, Vec<Shape>, serde_bytes::ByteBuf) =
            from_slice_multi(&bytes).expect("deserialize");
        prop_assert_eq!(back, args);
        // Borrowing readers see the same data without copying it.
        let (b_name, _, _, _, b_blob): (&str, i64, Option<u32>, Vec<Shape>, &serde_bytes::Bytes) =
            from_slice_multi(&bytes).expect("borrowing");
        prop_assert_eq!(b_name, name.as_str());
        prop_assert_eq!(&b_blob[..], &blob[..]);
    }

    #[test]
    fn serde_and_value_packing_agree(m in message()) {
        // to_vec writes what packing the equivalent Value writes, up to pair order.
        let v = to_value(&m).expect("to_value");
        let bytes = pack(std::slice::from_ref(&v)).expect("pack");
        prop_assert_eq!(from_slice::<Message>(&bytes).expect("from packed Value"), m);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Item {
    id: u32,
    count: u16,
    bound: bool,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Rect(i32, i32),
    Poly {
        points: Vec<(i16, i16)>,
        closed: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Loose {
    Num(i64),
    Text(String),
    List(Vec<i64>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Message {
    uid: u64,
    level: i8,
    score: f32,
    ratio: f64,
    nick: Option<String>,
    tags: HashMap<String, i64>,
    items: Vec<Item>,
    shape: Shape,
    pair: (u8, i128),
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
    ch: char,
    loose: Loose,
    sorted: BTreeMap<i32, Option<bool>>,
    #[serde(default)]
    unit: (),
}

fn item() -> impl Strategy<Value = Item> {
    (any::<u32>(), any::<u16>(), any::<bool>(), ".{0,20}").prop_map(|(id, count, bound, name)| {
        Item {
            id,
            count,
            bound,
            name,
        }
    })
}

fn finite() -> impl Strategy<Value = f64> {
    prop::num::f64::NORMAL | prop::num::f64::ZERO | prop::num::f64::SUBNORMAL
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Empty),
        finite().prop_map(Shape::Circle),
        (any::<i32>(), any::<i32>()).prop_map(|(w, h)| Shape::Rect(w, h)),
        (
            prop::collection::vec(any::<(i16, i16)>(), 0..5),
            any::<bool>()
        )
            .prop_map(|(points, closed)| Shape::Poly { points, closed }),
    ]
}

fn loose() -> impl Strategy<Value = Loose> {
    prop_oneof![
        any::<i64>().prop_map(Loose::Num),
        ".{0,10}".prop_map(Loose::Text),
        prop::collection::vec(any::<i64>(), 0..5).prop_map(Loose::List),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        (
            0..=i64::MAX as u64,
            any::<i8>(),
            prop::num::f32::NORMAL,
            finite(),
        ),
        (
            prop::option::of(".{0,10}"),
            prop::collection::hash_map("[a-z]{1,8}", any::<i64>(), 0..6),
        ),
        prop::collection::vec(item(), 0..8),
        shape(),
        (any::<u8>(), any::<i64>()),
        prop::collection::vec(any::<u8>(), 0..40),
        any::<char>(),
        loose(),
        prop::collection::btree_map(any::<i32>(), any::<Option<bool>>(), 0..5),
    )
        .prop_map(
            |(
                (uid, level, score, ratio),
                (nick, tags),
                items,
                shape,
                (a, b),
                blob,
                ch,
                loose,
                sorted,
            )| {
                Message {
                    uid,
                    level,
                    score,
                    ratio,
                    nick,
                    tags,
                    items,
                    shape,
                    pair: (a, i128::from(b)),
                    blob,
                    ch,
                    loose,
                    sorted,
                    unit: (),
                }
            },
        )
}

fn nested(levels: usize, innermost: Value) -> Value {
    let mut v = innermost;
    for _ in 0..levels {
        v = Value::from(vec![v]);
    }
    v
}

#[test]
fn packing_depth_limit_matches_skynet_through_serde_too() {
    // 32 tables around a leaf pack; 33 don't.
    let ok = nested(MAX_PACK_DEPTH, Value::from(1));
    assert!(to_vec(&ok).is_ok());
    let too_deep = nested(MAX_PACK_DEPTH + 1, Value::from(1));
    assert_eq!(
        to_vec(&too_deep).map_err(Error::into_kind),
        Err(ErrorKind::TooDeepToPack { limit: 32 })
    );
    // 33 tables whose innermost is empty pack; 34 don't.
    let empty = Value::Table(Table::new());
    assert!(to_vec(&nested(MAX_PACK_DEPTH, empty.clone())).is_ok());
    assert!(to_vec(&nested(MAX_PACK_DEPTH + 1, empty)).is_err());

    // The same limit for any Rust type.
    let json = |levels| (0..levels).fold(serde_json::json!(1), |acc, _| serde_json::json!([acc]));
    assert!(to_vec(&json(32)).is_ok());
    assert!(to_vec(&json(33)).is_err());
    // An enum's `{Variant = payload}` is a table level too.
    let mut shape = serde_json::json!({ "Circle": 1.0 });
    for _ in 0..31 {
        shape = serde_json::json!([shape]);
    }
    assert!(to_vec(&shape).is_ok());
    assert!(to_vec(&serde_json::json!([shape])).is_err());
}

#[test]
fn a_million_nested_headers_is_an_error_not_a_stack_overflow() {
    let hostile = vec![0x0e; 1_000_000];
    assert!(matches!(
        unpack(&hostile).map_err(Error::into_kind),
        Err(ErrorKind::TooDeepToUnpack { .. })
    ));
    assert!(matches!(
        from_slice::<Value>(&hostile).map_err(Error::into_kind),
        Err(ErrorKind::TooDeepToUnpack { .. })
    ));
    assert!(from_slice::<serde::de::IgnoredAny>(&hostile).is_err());
    assert!(from_slice::<Vec<Value>>(&hostile).is_err());
    let escaped: Vec<u8> = std::iter::repeat_n([0xfe, 0x0a, 0xff], 300_000)
        .flatten()
        .collect();
    assert!(unpack(&escaped).is_err());
}

// Skynet was seen to unpack 200 levels.
const _: () = assert!(MAX_UNPACK_DEPTH >= 200);

#[test]
fn skynets_200_levels_decode_through_every_path() {
    let mut bytes = vec![0x0e; 200];
    bytes.push(0x00);
    bytes.extend(std::iter::repeat_n(0x00, 200));
    let values = unpack(&bytes).expect("unpack");
    assert_eq!(from_slice::<Value>(&bytes).expect("serde"), values[0]);
    from_slice::<serde::de::IgnoredAny>(&bytes).expect("skip");
}

#[test]
fn lua_style_messages_read_leniently() {
    // {uid = 1.0, level = 2, ...}: Lua 5.4 code often makes integers floats.
    let lua: Value = r#"{
        uid = 7.0, level = -3, score = 2, ratio = 0.5, tags = {},
        items = {{id = 1, count = 2, bound = true, name = "sword"}},
        shape = {Rect = {3, 4.0}}, pair = {1, 2}, blob = "\0\1", ch = "x",
        loose = {1, 2, 3}, sorted = {[5] = true},
    }"#
    .parse()
    .expect("literal");
    let bytes = pack(&[lua]).expect("pack");
    let m: Message = from_slice(&bytes).expect("lenient read");
    assert_eq!(m.uid, 7);
    assert_eq!(m.score, 2.0);
    assert_eq!(m.nick, None);
    assert_eq!(m.shape, Shape::Rect(3, 4));
    assert_eq!(m.loose, Loose::List(vec![1, 2, 3]));
    assert_eq!(m.blob, [0, 1]);

    assert!(from_slice::<i32>(&pack(&[Value::Real(1.5)]).expect("pack")).is_err());
    assert!(from_slice::<u8>(&pack(&[Value::Integer(256)]).expect("pack")).is_err());
}

#[test]
fn sequences_read_from_any_table_shape() {
    // A __pairs proxy: everything in the key/value part, in any order.
    let proxy = [0x06, 0x0a, 0x02, 0x0a, 0x14, 0x0a, 0x01, 0x0a, 0x0a, 0x00];
    assert_eq!(from_slice::<Vec<i32>>(&proxy).expect("proxy"), [10, 20]);
    // Holes read as nil.
    let holes: Value = "{1, nil, 3}".parse().expect("literal");
    let packed = pack(&[holes]).expect("pack");
    assert_eq!(
        from_slice::<Vec<Option<i32>>>(&packed).expect("holes"),
        [Some(1), None, Some(3)]
    );
    // Skynet's own layout of {1, nil, 3}: n = 1, then pair 3 = 3.
    let skynet = [0x0e, 0x0a, 0x01, 0x0a, 0x03, 0x0a, 0x03, 0x00];
    assert_eq!(
        from_slice::<Vec<Option<i32>>>(&skynet).expect("skynet holes"),
        [Some(1), None, Some(3)]
    );
    // {1, nil} has length 1 in Lua; a pair still reads, with None.
    assert_eq!(
        from_slice::<(i32, Option<i32>)>(&[0x0e, 0x0a, 0x01, 0x00]).expect("pair"),
        (1, None)
    );
    // A sparse table is not a sequence.
    let sparse = pack(&["{[1000000] = 1}".parse::<Value>().expect("literal")]).expect("pack");
    assert!(from_slice::<Vec<Option<i32>>>(&sparse).is_err());
    assert!(from_slice::<Vec<i32>>(
        &pack(&["{a = 1}".parse::<Value>().expect("lit")]).expect("pack")
    )
    .is_err());
}

#[test]
fn multi_value_calls_look_like_skynet_pack() {
    // skynet.pack("echo", 1, true, nil, "x") from the vectors.
    let bytes = to_vec_multi(&("echo", 1, true, None::<i32>, "x")).expect("pack");
    assert_eq!(hex(&bytes), "246563686f0a0109000c78");
    // Missing trailing arguments read as nil; extra ones are ignored.
    let (m, a, b): (String, i32, Option<i32>) = from_slice_multi(&bytes[..7]).expect("short");
    assert_eq!((m.as_str(), a, b), ("echo", 1, None));
    let (m,): (String,) = from_slice_multi(&bytes).expect("extra");
    assert_eq!(m, "echo");
    assert!(from_slice_multi::<(String, String)>(&bytes).is_err());
    from_slice_multi::<()>(&bytes).expect("unit takes anything");
    assert!(to_vec_multi(&()).expect("unit").is_empty());
    // A struct is one argument.
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Args {
        a: i32,
    }
    let one = to_vec_multi(&Args { a: 1 }).expect("struct");
    assert_eq!(unpack(&one).expect("unpack").len(), 1);
    assert_eq!(
        from_slice_multi::<Args>(&one).expect("struct back"),
        Args { a: 1 }
    );
    assert_eq!(
        from_slice_multi::<Option<Args>>(&[]).expect("nothing"),
        None
    );
    // Writing appends.
    let mut buf = vec![0xaa];
    luaseri::write_multi(&mut buf, &("get", 7)).expect("append");
    assert_eq!(hex(&buf), "aa1c6765740a07");
}

#[test]
fn flattened_and_renamed_fields_still_match() {
    // Field names reach serde_derive's visitors as bytes; flatten buffers them.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Inner {
        hp: i32,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Outer {
        #[serde(rename = "Name")]
        name: String,
        #[serde(flatten)]
        inner: Inner,
        #[serde(flatten)]
        rest: HashMap<String, i64>,
    }
    let v: Value = r#"{Name = "orc", hp = 7, speed = 3}"#.parse().expect("literal");
    let bytes = pack(&[v]).expect("pack");
    let o: Outer = from_slice(&bytes).expect("flattened");
    assert_eq!(o.name, "orc");
    assert_eq!(o.inner, Inner { hp: 7 });
    assert_eq!(o.rest.get("speed"), Some(&3));
    assert_eq!(
        from_slice::<Outer>(&to_vec(&o).expect("encode")).expect("round trip"),
        o
    );
}

#[test]
fn enums_take_lua_friendly_forms() {
    assert_eq!(
        unpack(&to_vec(&Shape::Empty).expect("unit")).expect("unpack")[0].to_string(),
        r#""Empty""#
    );
    assert_eq!(
        unpack(&to_vec(&Shape::Circle(1.5)).expect("nt")).expect("unpack")[0].to_string(),
        "{Circle = 1.5}"
    );
    assert_eq!(
        unpack(&to_vec(&Shape::Rect(1, 2)).expect("tuple")).expect("unpack")[0].to_string(),
        "{Rect = {1, 2}}"
    );
    let poly = Shape::Poly {
        points: vec![(1, 2)],
        closed: true,
    };
    assert_eq!(
        unpack(&to_vec(&poly).expect("struct")).expect("unpack")[0].to_string(),
        "{Poly = {points = {{1, 2}}, closed = true}}"
    );
    let two_keys = pack(&["{Rect = {1, 2}, Circle = 1.0}"
        .parse::<Value>()
        .expect("lit")])
    .expect("pack");
    assert!(from_slice::<Shape>(&two_keys).is_err());
}

#[test]
fn out_of_range_integers_are_refused() {
    assert!(matches!(
        to_vec(&u64::MAX).map_err(Error::into_kind),
        Err(ErrorKind::IntegerOutOfRange(_))
    ));
    assert!(to_vec(&(i64::MAX as u64)).is_ok());
    assert!(to_vec(&i128::MIN).is_err());
    assert!(to_vec(&u128::from(u64::MAX)).is_err());
}

#[test]
fn bad_map_keys_are_refused() {
    let mut m = HashMap::new();
    m.insert(None::<i32>, 1);
    assert_eq!(
        to_vec(&m).map_err(Error::into_kind),
        Err(ErrorKind::InvalidKey("nil"))
    );
    struct NanKey;
    impl Serialize for NanKey {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut map = s.serialize_map(Some(1))?;
            map.serialize_entry(&f64::NAN, &1)?;
            map.end()
        }
    }
    assert_eq!(
        to_vec(&NanKey).map_err(Error::into_kind),
        Err(ErrorKind::InvalidKey("NaN"))
    );
}

#[test]
fn decode_errors_name_the_offset() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct P {
        x: i32,
    }
    // {x = "no"}: the bad value sits at byte 3.
    let bytes = pack(&[r#"{x = "no"}"#.parse::<Value>().expect("literal")]).expect("pack");
    let err = from_slice::<P>(&bytes).expect_err("type mismatch");
    assert_eq!(err.offset(), Some(3), "{err}");
    assert!(err.to_string().contains("at byte 3"), "{err}");
    let err = from_slice::<P>(&[0x06, 0x00]).expect_err("missing field");
    assert!(err.to_string().starts_with("missing field `x`"), "{err}");
    let err = from_slice::<i32>(&[0x0a, 0x01, 0x0a]).expect_err("trailing");
    assert_eq!(*err.kind(), ErrorKind::TrailingBytes { offset: 2 });
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
