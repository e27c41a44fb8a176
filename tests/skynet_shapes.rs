//! Every lua-seri shape across the boundary with a real Lua Skynet node,
//! round-tripped through the Lua echo and through the Rust echo (raw and
//! typed), compared as values (tables in any order, floats by bits), and
//! checked by Lua itself against the Lua literal of what Rust meant. Then
//! payloads at the multi-part edges and of several MiB both ways, and
//! nesting at the pack depth limit on both sides.
//!
//! Needs `SKYNET_HOME` (see `tests/lua/README.md`); without it every test
//! here is ignored with that reason.

mod support;

use skycluster::codec::luaseri::{self, ErrorKind as SeriErrorKind, Table, Value};

use support::skynet::{next_seen, pcall_err, pcall_ok, s, same_list, short, show_all, Fixture};

fn int(i: i64) -> Value {
    Value::Integer(i)
}

fn real(x: f64) -> Value {
    Value::Real(x)
}

fn bytes(b: Vec<u8>) -> Value {
    Value::String(b)
}

fn array(values: Vec<Value>) -> Value {
    Value::Table(Table::from(values))
}

fn pairs(pairs: Vec<(Value, Value)>) -> Value {
    Value::Table(Table {
        array: Vec::new(),
        hash: pairs,
    })
}

/// `depth` tables nested in one another, the innermost holding `inner`
/// (or nothing).
fn nested(depth: usize, inner: Option<Value>) -> Value {
    let mut v = Value::Table(Table::from(inner.into_iter().collect::<Vec<_>>()));
    for _ in 1..depth {
        v = array(vec![v]);
    }
    v
}

/// Every shape, as the argument list of one call.
fn shapes() -> Vec<(&'static str, Vec<Value>)> {
    let all_bytes: Vec<u8> = (0..=255).collect();
    let mixed = {
        let mut t = Table::from(vec![int(1), int(2)]);
        t.insert("x", "y");
        t.insert(true, false);
        t.insert(1.5, "float key");
        t.insert(-1, "negative key");
        t.insert(0, "zero key");
        t.insert(i64::MAX, "max key");
        t.insert(bytes(vec![0, 255]), "binary key");
        Value::Table(t)
    };
    let map = {
        let mut t = Table::new();
        t.insert("name", "orc");
        t.insert("hp", 30);
        t.insert("alive", true);
        t.insert("speed", 1.25);
        t.insert("tags", array(vec![s("a"), s("b")]));
        Value::Table(t)
    };
    vec![
        ("no values", vec![]),
        ("a lone nil", vec![Value::Nil]),
        (
            "nil between and at the end",
            vec![int(1), Value::Nil, int(2), Value::Nil],
        ),
        ("nils only", vec![Value::Nil, Value::Nil, Value::Nil]),
        (
            "booleans",
            vec![Value::Boolean(true), Value::Boolean(false)],
        ),
        ("zero and one", vec![int(0), int(1), int(-1)]),
        (
            "8-bit edges",
            vec![
                int(127),
                int(128),
                int(255),
                int(256),
                int(-128),
                int(-129),
                int(-255),
                int(-256),
            ],
        ),
        (
            "16-bit edges",
            vec![
                int(32767),
                int(32768),
                int(65535),
                int(65536),
                int(-32768),
                int(-32769),
                int(-65536),
            ],
        ),
        (
            "32-bit edges",
            vec![
                int(i64::from(i32::MAX)),
                int(i64::from(i32::MAX) + 1),
                int(i64::from(i32::MIN)),
                int(i64::from(i32::MIN) - 1),
                int(i64::from(u32::MAX)),
                int(i64::from(u32::MAX) + 1),
            ],
        ),
        (
            "64-bit edges",
            vec![int(i64::MAX), int(i64::MIN), int(i64::MIN + 1)],
        ),
        ("zeros", vec![real(0.0), real(-0.0)]),
        (
            "floats",
            vec![
                real(1.0),
                real(-1.5),
                real(0.1),
                real(6.02e23),
                real(2f64.powi(53)),
                real(2f64.powi(63)),
            ],
        ),
        (
            "float extremes",
            vec![
                real(f64::MIN_POSITIVE),
                real(5e-324),
                real(f64::MAX),
                real(-f64::MAX),
            ],
        ),
        (
            "infinities",
            vec![real(f64::INFINITY), real(f64::NEG_INFINITY)],
        ),
        ("nan", vec![real(f64::NAN)]),
        ("empty string", vec![s("")]),
        (
            "string length edges",
            vec![
                s(&"a".repeat(31)),
                s(&"b".repeat(32)),
                s(&"c".repeat(65535)),
                s(&"d".repeat(65536)),
            ],
        ),
        ("every byte", vec![bytes(all_bytes.clone())]),
        (
            "embedded nul and utf-8",
            vec![bytes(b"a\0b".to_vec()), s("héllo, 世界")],
        ),
        ("1 MiB string", vec![s(&"m".repeat(1 << 20))]),
        ("empty table", vec![Value::Table(Table::new())]),
        ("array", vec![array(vec![int(1), int(2), int(3)])]),
        ("array of 30", vec![array((1..=30).map(int).collect())]),
        ("array of 31", vec![array((1..=31).map(int).collect())]),
        ("array of 300", vec![array((1..=300).map(int).collect())]),
        ("map", vec![map]),
        ("mixed table", vec![mixed]),
        (
            "nested tables",
            vec![array(vec![
                array(vec![int(1)]),
                array(vec![int(2), array(vec![int(3)])]),
            ])],
        ),
        (
            "hole in the middle",
            vec![array(vec![int(1), Value::Nil, int(3)])],
        ),
        (
            "holes at the start",
            vec![array(vec![Value::Nil, Value::Nil, int(3)])],
        ),
        (
            "integer keys as pairs, out of order",
            vec![pairs(vec![
                (int(3), s("c")),
                (int(1), s("a")),
                (int(4), s("d")),
            ])],
        ),
        (
            "array of tables with binary strings",
            vec![array(vec![
                array(vec![bytes(all_bytes.clone())]),
                pairs(vec![(s("k"), bytes(vec![0, 1, 2]))]),
            ])],
        ),
        (
            "nested 32 deep holding a value",
            vec![nested(32, Some(int(1)))],
        ),
        ("nested 33 deep, innermost empty", vec![nested(33, None)]),
        (
            "several values of every kind",
            vec![
                int(1),
                s("x"),
                array(vec![int(1)]),
                Value::Nil,
                real(2.5),
                Value::Boolean(true),
                real(-0.0),
            ],
        ),
    ]
}

/// The Lua source of a list of values: what `check` and `roundtrip` load.
fn literal(values: &[Value]) -> String {
    values
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn every_shape_round_trips_through_the_lua_echo() {
    let f = Fixture::start("sk-shapes-lua").await;
    // The Lua checker is strict: it tells these apart.
    for (literal, value) in [
        ("1", real(1.0)),
        ("-0.0", real(0.0)),
        ("1, nil", int(1)),
        ("{1, 2}", array(vec![int(1), int(2), int(3)])),
    ] {
        let verdict = f
            .callee("@callee", "check", &[s(literal), value.clone()])
            .await
            .expect("check");
        assert_eq!(
            verdict.first(),
            Some(&Value::Boolean(false)),
            "{literal} vs {value}"
        );
    }
    for (label, values) in shapes() {
        let reply = f.callee("@callee", "echo", &values).await;
        let reply = reply.unwrap_or_else(|e| panic!("{label}: {e}"));
        if let Err(why) = same_list(&values, &reply) {
            panic!(
                "{label}: the Lua echo changed it: {why}\nsent {}",
                short_all(&values)
            );
        }
        // Lua itself agrees that what arrived is what Rust meant.
        let mut args = vec![s(&literal(&values))];
        args.extend_from_slice(&values);
        let verdict = f.callee("@callee", "check", &args).await;
        let verdict = verdict.unwrap_or_else(|e| panic!("{label}: check: {e}"));
        assert_eq!(
            verdict,
            [Value::Boolean(true)],
            "{label}: Lua sees something else: {}",
            show_all(&verdict)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn every_shape_round_trips_through_the_rust_echo() {
    let mut f = Fixture::start("sk-shapes-rust").await;
    for (label, values) in shapes() {
        // Lua builds the values from their literal, calls the Rust echo
        // (which decodes and packs them again), and compares the reply.
        let reply = f
            .control(
                "roundtrip",
                &[s("rust1"), s("@echo"), Value::Nil, s(&literal(&values))],
            )
            .await;
        let verdict = pcall_ok(label, reply);
        assert_eq!(
            verdict,
            [Value::Boolean(true)],
            "{label}: the reply differs in Lua: {}",
            show_all(&verdict)
        );
        // Rust decoded exactly what Lua sent.
        let seen = next_seen(&mut f.seen).await;
        if let Err(why) = same_list(&values, &seen.values) {
            panic!("{label}: Rust decoded something else: {why}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn every_shape_round_trips_through_a_variadic_typed_rust_method() {
    let f = Fixture::start("sk-shapes-values").await;
    for (label, values) in shapes() {
        // cluster.call("rust1", "@rtyped", "echo_all", ...): `Values` in
        // and out, every value and nil counted.
        let reply = f
            .control(
                "roundtrip",
                &[
                    s("rust1"),
                    s("@rtyped"),
                    s("echo_all"),
                    s(&literal(&values)),
                ],
            )
            .await;
        let verdict = pcall_ok(label, reply);
        assert_eq!(
            verdict,
            [Value::Boolean(true)],
            "{label}: came back different: {}",
            show_all(&verdict)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn every_single_value_round_trips_through_a_typed_rust_method() {
    let f = Fixture::start("sk-shapes-typed").await;
    for (label, values) in shapes() {
        // A lone `nil` comes back as no value at all: see
        // `a_typed_method_returning_nil_replies_one_nil` below.
        for value in values.into_iter().filter(|v| !v.is_nil()) {
            // cluster.call("rust1", "@rtyped", "echo1", value): the value
            // goes through serde as a `Value` argument and return.
            let reply = f
                .control(
                    "roundtrip",
                    &[s("rust1"), s("@rtyped"), s("echo1"), s(&value.to_string())],
                )
                .await;
            let verdict = pcall_ok(label, reply);
            assert_eq!(
                verdict,
                [Value::Boolean(true)],
                "{label}: {} came back different: {}",
                short(&value),
                show_all(&verdict)
            );
        }
    }
}

/// `select("#", cluster.call(...))` in Lua: how many values a reply has.
const COUNT: &str = r##"
    local node, addr, method, literal = ...
    local values = skytest.values(literal)
    return select("#", cluster.call(node, addr, method, table.unpack(values, 1, values.n)))
"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_typed_method_returning_none_replies_one_nil_as_lua_does() {
    let f = Fixture::start("sk-none").await;
    // A Lua function `return v` called with nil replies one nil...
    let reply = f
        .control(
            "eval",
            &[s(COUNT), s("lua1"), s("@callee"), s("echo"), s("nil")],
        )
        .await;
    assert_eq!(pcall_ok("lua echo", reply), [int(1)]);
    // ...and so does a typed method returning `None`.
    let reply = f
        .control(
            "eval",
            &[s(COUNT), s("rust1"), s("@rtyped"), s("maybe"), s("nil")],
        )
        .await;
    assert_eq!(pcall_ok("maybe", reply), [int(1)]);
    let reply = f
        .control(
            "eval",
            &[s(COUNT), s("rust1"), s("@rtyped"), s("maybe"), s("7")],
        )
        .await;
    assert_eq!(pcall_ok("maybe", reply), [int(1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_typed_method_returning_value_nil_replies_one_nil() {
    let f = Fixture::start("sk-value-nil").await;
    let reply = f
        .control(
            "eval",
            &[s(COUNT), s("rust1"), s("@rtyped"), s("echo1"), s("nil")],
        )
        .await;
    assert_eq!(pcall_ok("echo1", reply), [int(1)], "values in the reply");
}

/// `callee.len`'s checksum, computed the same way.
fn checksum(s: &[u8]) -> i64 {
    s.iter()
        .step_by(997)
        .fold(0i64, |sum, &b| (sum * 31 + i64::from(b)) % 0x7fff_ffff)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn payloads_at_the_multi_part_edges_and_of_several_mib_cross_both_ways() {
    let f = Fixture::start("sk-multipart").await;

    // Rust -> Lua requests: `skynet.pack("len", s)` is 4 + 3 + #s bytes
    // below 64 KiB, 4 + 5 + #s above. A request is multi-part from 0x8000.
    let requests = [
        (0x7fff, 0x7fff - 7),
        (0x8000, 0x8000 - 7),
        (0x8001, 0x8001 - 7),
        (0x10000, 0x10000 - 7),
        (0x10001, 0x10001 - 7),
        (4 << 20, (4 << 20) - 9),
    ];
    for (total, len) in requests {
        let text: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let reply = f.callee("@callee", "len", &[bytes(text.clone())]).await;
        let reply = reply.unwrap_or_else(|e| panic!("request of {total:#x} bytes: {e}"));
        assert_eq!(
            reply,
            [int(len as i64), int(checksum(&text))],
            "request of {total:#x} bytes"
        );
    }

    // Lua -> Rust replies: `skynet.pack(s)` is 3 + #s bytes below 64 KiB,
    // 5 + #s above. A reply is multi-part above 0x8000.
    let replies = [
        (0x8000, 0x8000 - 3),
        (0x8001, 0x8001 - 3),
        (0x10000, 0x10000 - 5),
        ((4 << 20) + 5, 4 << 20),
    ];
    for (total, n) in replies {
        let reply = f.callee("@callee", "big", &[int(n)]).await;
        let reply = reply.unwrap_or_else(|e| panic!("reply of {total:#x} bytes: {e}"));
        let [Value::String(text)] = &reply[..] else {
            panic!("reply of {total:#x} bytes: {}", show_all(&reply));
        };
        assert!(
            text.len() == n as usize && text.iter().all(|&b| b == b'x'),
            "reply of {total:#x} bytes: {} bytes back",
            text.len()
        );
    }

    // Several MiB each way in one call, every byte value.
    let text: Vec<u8> = (0..(3 << 20) + 12_345)
        .map(|i| (i * 7 % 256) as u8)
        .collect();
    let reply = f.callee("@callee", "echo", &[bytes(text.clone())]).await;
    assert!(
        reply.expect("3 MiB echo") == [bytes(text)],
        "3 MiB echo came back different"
    );

    // Lua -> Rust and back through the Rust echo: `skynet.pack(s)` is
    // 3 + #s bytes (5 + #s from 64 KiB), request and reply alike; Lua
    // sends multi-part from 0x8000, Rust answers multi-part above it.
    for len in [0x7ffc, 0x7ffd, 0x7ffe, 0xfffb, 0x10000, 5 << 20] {
        let reply = f
            .control("big_roundtrip", &[s("rust1"), s("@echo"), int(len)])
            .await;
        assert_eq!(
            pcall_ok("big_roundtrip", reply),
            [Value::Boolean(true), int(len)],
            "a string of {len:#x} bytes from Lua"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn both_sides_refuse_to_pack_a_value_nested_33_deep() {
    let f = Fixture::start("sk-depth").await;
    // Rust refuses before sending anything.
    let err = luaseri::pack(&[nested(33, Some(int(1)))]).expect_err("too deep for Skynet");
    assert!(
        matches!(err.kind(), SeriErrorKind::TooDeepToPack { .. }),
        "{err}"
    );

    // Lua refuses in skynet.pack, inside cluster.call.
    let code = r#"
        local depth = ...
        local v = { 1 }
        for _ = 2, depth do v = { v } end
        return cluster.call("rust1", "@echo", v)
    "#;
    let reply = f.control("eval", &[s(code), int(33)]).await;
    let err = pcall_err("33 deep", &reply);
    assert!(
        err.contains("serialize can't pack too depth table"),
        "{err}"
    );
    // One level less goes through.
    let reply = f.control("eval", &[s(code), int(32)]).await;
    assert_eq!(pcall_ok("32 deep", reply), [nested(32, Some(int(1)))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_light_userdata_survives_the_lua_echo() {
    // No Lua literal makes one, so only the echo: Lua unpacks it as a light
    // userdata and packs the same pointer bits back.
    let f = Fixture::start("sk-lightuserdata").await;
    let values = [Value::LightUserdata(0x0000_7f12_3456_789a), int(1)];
    let reply = f.callee("@callee", "echo", &values).await;
    assert_eq!(reply.expect("echo"), values);
    let reply = f.callee("@callee", "types", &values).await;
    assert_eq!(reply.expect("types"), [s("userdata,integer")]);
}

fn short_all(values: &[Value]) -> String {
    values.iter().map(short).collect::<Vec<_>>().join(", ")
}
