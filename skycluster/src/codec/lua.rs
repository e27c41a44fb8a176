//! lua-seri with Skynet's calling convention: the codec of
//! `#[service(codec = lua)]`, for calls to and from Lua services.

use std::fmt;

use bytes::Bytes;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, IntoDeserializer, Visitor};
use serde::ser::{self, Impossible, Serialize};
use serde::Deserialize;

use super::luaseri::{self, Deserializer};
use super::{Codec, CodecError};

const FORMAT: &str = "lua-seri";

/// A lone nil, what a missing value reads as.
const NIL: &[u8] = &[0];

/// lua-seri (`skynet.pack`) with the calling convention of Skynet's `"lua"`
/// protocol, so that Lua nodes call Rust services and Rust calls Lua ones.
///
/// * **A call** is `skynet.pack(method, arg1, arg2, ...)`: what a Lua node
///   sends for `cluster.call(node, addr, "method", arg1, arg2)`. Missing
///   trailing arguments read as nil (so an `Option` argument may be left
///   out) and extra ones are ignored, as a Lua function would. A last
///   argument of type [`Values`](luaseri::Values) takes every value left,
///   as `...` does.
/// * **A reply** is the pack of the return values, as a Lua function's
///   `return a, b`: a tuple is several values, `()` is none,
///   [`Values`](luaseri::Values) is as many as it holds, anything else is
///   one value.
/// * **`Result`** follows Lua's `return nil, err` idiom: `Ok(v)` is the
///   reply of `v` (the rules above), `Err(e)` is the two values `nil, e`.
///   A Lua caller writes `local room, err = cluster.call(...)`, and a Rust
///   client decodes exactly two values whose first is nil as `Err`,
///   anything else as `Ok`. Only `Ok` of a tuple whose first element is
///   nil (`Ok((None, x))`) is ambiguous; avoid that shape.
///
/// Errors that Lua raises (`error(...)`) travel as error frames, not
/// replies; a Rust client sees them as `ErrorKind::Remote`. A `#[service]`
/// method raises one by returning `Result<T, HandlerError>` (see
/// [`HandlerError`](crate::HandlerError)).
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::{pack, Value};
/// use skycluster::codec::{Codec, Lua};
///
/// // cluster.call("rust1", "@battle", "create_room", "duel", {1, 2})
/// let payload = Lua::encode_call("create_room", &("duel", vec![1, 2]))?;
/// assert_eq!(payload, Lua::encode_call("create_room", &("duel", [1, 2]))?);
/// let (method, args) = Lua::decode_method(&payload)?;
/// assert_eq!(method, b"create_room");
/// let (mode, players): (String, Vec<u64>) = Lua::decode_args(args)?;
/// assert_eq!((mode.as_str(), players), ("duel", vec![1, 2]));
///
/// // `return nil, "room is full"` decodes as an `Err`.
/// let reply = pack(&[Value::Nil, Value::from("room is full")])?;
/// let room: Result<u32, String> = Lua::decode_reply(&reply)?;
/// assert_eq!(room, Err("room is full".to_owned()));
/// assert_eq!(Lua::encode_reply(&room)?, reply);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Lua;

fn codec_error(e: impl fmt::Display) -> CodecError {
    CodecError::new(FORMAT, e)
}

impl Codec for Lua {
    fn encode_call<A: Serialize + ?Sized>(method: &str, args: &A) -> Result<Bytes, CodecError> {
        let mut buf = Vec::with_capacity(64);
        luaseri::write(&mut buf, method).map_err(codec_error)?;
        luaseri::write_multi(&mut buf, args).map_err(codec_error)?;
        Ok(Bytes::from(buf))
    }

    fn encode_call_into<A: Serialize + ?Sized>(
        method: &str,
        args: &A,
        dst: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        luaseri::write(dst, method).map_err(codec_error)?;
        luaseri::write_multi(dst, args).map_err(codec_error)
    }

    fn decode_method(payload: &[u8]) -> Result<(&[u8], &[u8]), CodecError> {
        split_string(payload)
            .map_err(|why| codec_error(format!("the first value must be the method name: {why}")))
    }

    fn decode_args<A: DeserializeOwned>(args: &[u8]) -> Result<A, CodecError> {
        luaseri::from_slice_multi(args).map_err(codec_error)
    }

    fn encode_reply<R: Serialize + ?Sized>(reply: &R) -> Result<Bytes, CodecError> {
        let mut buf = Vec::with_capacity(32);
        Self::encode_reply_into(reply, &mut buf)?;
        Ok(Bytes::from(buf))
    }

    fn encode_reply_into<R: Serialize + ?Sized>(
        reply: &R,
        dst: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let start = dst.len();
        match reply.serialize(ResultProbe { buf: &mut *dst }) {
            Ok(()) => Ok(()),
            Err(Probe::NotResult) => {
                // The probe may have written before it gave up.
                dst.truncate(start);
                luaseri::write_multi(dst, reply).map_err(codec_error)
            }
            Err(Probe::Failed(e)) => Err(codec_error(e)),
        }
    }

    fn decode_reply<R: DeserializeOwned>(payload: &[u8]) -> Result<R, CodecError> {
        R::deserialize(Reply { input: payload }).map_err(codec_error)
    }

    /// A reply of one string is handed out in the payload's memory; any
    /// other reply decodes as [`Codec::decode_reply`] would, errors
    /// included.
    fn decode_bytes_reply(payload: Bytes) -> Result<Bytes, CodecError> {
        match split_string(&payload) {
            Ok((string, [])) => Ok(payload.slice_ref(string)),
            _ => Self::decode_reply(&payload),
        }
    }

    /// A lone string argument is handed out in the request's memory; any
    /// other arguments decode as [`Codec::decode_args`] would.
    fn decode_bytes_args(args: Bytes) -> Result<(Bytes,), CodecError> {
        match split_string(&args) {
            Ok((string, [])) => Ok((args.slice_ref(string),)),
            _ => Self::decode_args(&args),
        }
    }
}

/// Splits off the string value that starts `payload`, without decoding the
/// rest.
fn split_string(payload: &[u8]) -> Result<(&[u8], &[u8]), &'static str> {
    let (&tag, rest) = payload.split_first().ok_or("the payload is empty")?;
    let (len, rest) = match (tag & 7, tag >> 3) {
        // Short string: the cookie is the length.
        (4, len) => (usize::from(len), rest),
        (5, 2) if rest.len() >= 2 => (
            usize::from(u16::from_le_bytes([rest[0], rest[1]])),
            &rest[2..],
        ),
        (5, 4) if rest.len() >= 4 => {
            let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
            (
                usize::try_from(len).map_err(|_| "string too long")?,
                &rest[4..],
            )
        }
        (5, _) => return Err("truncated or invalid long string header"),
        _ => return Err("it is not a string"),
    };
    if rest.len() < len {
        return Err("the string is truncated");
    }
    Ok(rest.split_at(len))
}

// ---- encoding a reply: `Result` as Lua's `nil, err` ----

/// Why [`ResultProbe`] stopped.
#[derive(Debug)]
enum Probe {
    /// The value is not a `Result`; nothing was written.
    NotResult,
    /// It was a `Result`, and writing it failed.
    Failed(luaseri::Error),
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::NotResult => f.write_str("not a Result"),
            Probe::Failed(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Probe {}

impl ser::Error for Probe {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Probe::Failed(<luaseri::Error as ser::Error>::custom(msg))
    }
}

/// Writes a top-level `Result` the Lua way and refuses anything else
/// before writing a byte, so the caller can write it as a plain reply.
struct ResultProbe<'a> {
    buf: &'a mut Vec<u8>,
}

macro_rules! not_result {
    ($($method:ident($($arg:ty),*);)*) => {$(
        fn $method(self, $(_: $arg),*) -> Result<(), Probe> {
            Err(Probe::NotResult)
        }
    )*};
}

impl ser::Serializer for ResultProbe<'_> {
    type Ok = ();
    type Error = Probe;
    type SerializeSeq = Impossible<(), Probe>;
    type SerializeTuple = Impossible<(), Probe>;
    type SerializeTupleStruct = Impossible<(), Probe>;
    type SerializeTupleVariant = Impossible<(), Probe>;
    type SerializeMap = Impossible<(), Probe>;
    type SerializeStruct = Impossible<(), Probe>;
    type SerializeStructVariant = Impossible<(), Probe>;

    not_result! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), Probe> {
        Err(Probe::NotResult)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), Probe> {
        Err(Probe::NotResult)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Probe> {
        match (name, variant) {
            ("Result", "Ok") => luaseri::write_multi(self.buf, value).map_err(Probe::Failed),
            ("Result", "Err") => {
                self.buf.push(NIL[0]);
                luaseri::write(self.buf, value).map_err(|e| {
                    self.buf.clear();
                    Probe::Failed(e)
                })
            }
            _ => Err(Probe::NotResult),
        }
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Probe> {
        Err(Probe::NotResult)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Probe> {
        Err(Probe::NotResult)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Probe> {
        Err(Probe::NotResult)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Probe> {
        Err(Probe::NotResult)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Probe> {
        Err(Probe::NotResult)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Probe> {
        Err(Probe::NotResult)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Probe> {
        Err(Probe::NotResult)
    }
}

// ---- decoding a reply: the return values of a Lua function ----

/// The values of a reply, read as a Lua caller would: a tuple takes one
/// value per field (nil past the end), `()` takes none, a top-level
/// `Result` is `Err` for exactly `nil, e` and `Ok` otherwise, and anything
/// else reads the first value (nil if there is none). Extra values are
/// ignored.
struct Reply<'de> {
    input: &'de [u8],
}

impl<'de> Reply<'de> {
    /// A deserializer positioned on the first value, or on a nil if there
    /// are no values.
    fn first(&self) -> Deserializer<'de> {
        Deserializer::from_slice(if self.input.is_empty() {
            NIL
        } else {
            self.input
        })
    }

    /// `Some(e)`'s bytes when the reply is exactly two values, the first
    /// nil: Lua's `return nil, err`.
    fn lua_error(&self) -> Option<&'de [u8]> {
        let (&tag, rest) = self.input.split_first()?;
        if tag & 7 != 0 || rest.is_empty() {
            return None;
        }
        let mut de = Deserializer::from_slice(rest);
        IgnoredAny::deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(rest)
    }

    /// Reads the first value (nil if there is none) with `read`.
    fn one<V: Visitor<'de>>(
        self,
        read: impl FnOnce(&mut Deserializer<'de>, V) -> luaseri::Result<V::Value>,
        visitor: V,
    ) -> luaseri::Result<V::Value> {
        read(&mut self.first(), visitor)
    }

    fn values<V: Visitor<'de>>(self, len: usize, visitor: V) -> luaseri::Result<V::Value> {
        luaseri::visit_values(&mut Deserializer::from_slice(self.input), len, visitor)
    }
}

impl<'de> de::Deserializer<'de> for Reply<'de> {
    type Error = luaseri::Error;

    luaseri::forward_to_one_value!();

    /// `()`: a function that returns nothing (or values nobody reads).
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> luaseri::Result<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> luaseri::Result<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> luaseri::Result<V::Value> {
        if name == luaseri::VALUES_TOKEN {
            // `Values`: however many values came back.
            return luaseri::visit_rest(&mut Deserializer::from_slice(self.input), visitor);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> luaseri::Result<V::Value> {
        self.values(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> luaseri::Result<V::Value> {
        self.values(len, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> luaseri::Result<V::Value> {
        if name == "Result" && variants == ["Ok", "Err"] {
            let variant = match self.lua_error() {
                Some(err) => ReplyVariant::Err(err),
                None => ReplyVariant::Ok(self),
            };
            return visitor.visit_enum(variant);
        }
        de::Deserializer::deserialize_enum(&mut self.first(), name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        true
    }
}

/// A top-level `Result`, already told apart.
enum ReplyVariant<'de> {
    Ok(Reply<'de>),
    /// The bytes of `e` in `nil, e`.
    Err(&'de [u8]),
}

impl<'de> de::EnumAccess<'de> for ReplyVariant<'de> {
    type Error = luaseri::Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> luaseri::Result<(V::Value, Self)> {
        let name = match self {
            ReplyVariant::Ok(_) => "Ok",
            ReplyVariant::Err(_) => "Err",
        };
        let variant =
            seed.deserialize(IntoDeserializer::<luaseri::Error>::into_deserializer(name))?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for ReplyVariant<'de> {
    type Error = luaseri::Error;

    fn unit_variant(self) -> luaseri::Result<()> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"a newtype variant",
        ))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> luaseri::Result<T::Value> {
        match self {
            ReplyVariant::Ok(reply) => seed.deserialize(reply),
            ReplyVariant::Err(err) => seed.deserialize(&mut Deserializer::from_slice(err)),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _: V) -> luaseri::Result<V::Value> {
        Err(de::Error::invalid_type(
            de::Unexpected::TupleVariant,
            &"a newtype variant",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _: V,
    ) -> luaseri::Result<V::Value> {
        Err(de::Error::invalid_type(
            de::Unexpected::StructVariant,
            &"a newtype variant",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::luaseri::{pack, unpack, Value, Values};

    fn s(text: &str) -> Value {
        Value::from(text)
    }

    #[test]
    fn a_call_is_the_method_then_each_argument() {
        let payload = Lua::encode_call("create_room", &("duel", 7u32, None::<u8>)).unwrap();
        assert_eq!(
            unpack(&payload).unwrap(),
            [s("create_room"), s("duel"), Value::Integer(7), Value::Nil]
        );
        let none = Lua::encode_call("ping", &()).unwrap();
        assert_eq!(unpack(&none).unwrap(), [s("ping")]);
    }

    #[test]
    fn the_method_name_is_split_off_every_string_form() {
        for name in ["m", &"x".repeat(40), &"y".repeat(70_000)] {
            let payload = pack(&[s(name), Value::Integer(1)]).unwrap();
            let (method, args) = Lua::decode_method(&payload).unwrap();
            assert_eq!(method, name.as_bytes());
            assert_eq!(args, [0x0a, 0x01]);
        }
        // A Lua string is any bytes; so is the name read from one.
        let payload = pack(&[Value::String(vec![0xff])]).unwrap();
        assert_eq!(
            Lua::decode_method(&payload).unwrap(),
            (&[0xff][..], &[][..])
        );
        assert!(Lua::decode_method(&pack(&[Value::Integer(1)]).unwrap()).is_err());
        assert!(Lua::decode_method(&[]).is_err());
        assert!(Lua::decode_method(&[0x15, 0x10]).is_err());
        assert!(Lua::decode_method(&[0x1c, b'a']).is_err());
    }

    #[test]
    fn arguments_follow_lua_arity_rules() {
        let args = pack(&[Value::Integer(1)]).unwrap();
        let (a, b): (u8, Option<String>) = Lua::decode_args(&args).unwrap();
        assert_eq!((a, b), (1, None));
        let extra = pack(&[Value::Integer(1), s("x"), s("y")]).unwrap();
        let (a,): (u8,) = Lua::decode_args(&extra).unwrap();
        assert_eq!(a, 1);
        assert!(Lua::decode_args::<(u8, String)>(&args).is_err());
    }

    #[test]
    fn replies_are_the_lua_return_values() {
        let cases: [(Bytes, Vec<Value>); 6] = [
            (Lua::encode_reply(&7u32).unwrap(), vec![Value::Integer(7)]),
            (Lua::encode_reply(&()).unwrap(), vec![]),
            (
                Lua::encode_reply(&(1u8, "a")).unwrap(),
                vec![Value::Integer(1), s("a")],
            ),
            (
                Lua::encode_reply(&Ok::<u32, String>(7)).unwrap(),
                vec![Value::Integer(7)],
            ),
            (
                Lua::encode_reply(&Err::<u32, String>("full".into())).unwrap(),
                vec![Value::Nil, s("full")],
            ),
            (Lua::encode_reply(&Ok::<(), String>(())).unwrap(), vec![]),
        ];
        for (bytes, values) in cases {
            assert_eq!(unpack(&bytes).unwrap(), values);
        }
    }

    #[test]
    fn a_tuple_reply_reads_nil_past_the_values_and_ignores_extra_ones() {
        // `return 1` read as two values: the second is nil.
        let one = pack(&[Value::Integer(1)]).unwrap();
        let r: (u32, Option<String>) = Lua::decode_reply(&one).unwrap();
        assert_eq!(r, (1, None));
        // `return 1, "a", true` read as two values: the third is ignored.
        let three = pack(&[Value::Integer(1), s("a"), Value::Boolean(true)]).unwrap();
        let r: (u32, Option<String>) = Lua::decode_reply(&three).unwrap();
        assert_eq!(r, (1, Some("a".to_owned())));
        // A missing value that cannot be nil is an error, not a default.
        assert!(Lua::decode_reply::<(u32, String)>(&one).is_err());
    }

    #[test]
    fn replies_round_trip() {
        fn round_trip<T: Serialize + DeserializeOwned + PartialEq + fmt::Debug>(v: T) {
            let bytes = Lua::encode_reply(&v).unwrap();
            assert_eq!(Lua::decode_reply::<T>(&bytes).unwrap(), v, "{bytes:?}");
        }
        round_trip(7u32);
        round_trip(());
        round_trip(Some(3u8));
        round_trip(None::<u8>);
        round_trip((1u8, "a".to_owned(), None::<u8>));
        round_trip(Ok::<u32, String>(7));
        round_trip(Err::<u32, String>("full".into()));
        round_trip(Ok::<(), String>(()));
        round_trip(Ok::<Option<u8>, String>(None));
        round_trip(Ok::<(u8, u8), String>((1, 2)));
        round_trip(Err::<u32, (u8, String)>((3, "x".into())));
        round_trip(vec![Ok::<u8, u8>(1), Err(2)]);
    }

    #[test]
    fn values_take_every_argument_left_and_answer_with_any_number() {
        // cluster.call(node, addr, "route", "chat", 1, nil, "x", nil)
        let rest = [Value::Integer(1), Value::Nil, s("x"), Value::Nil];
        let mut sent = vec![s("route"), s("chat")];
        sent.extend(rest.iter().cloned());
        let payload = pack(&sent).unwrap();
        let (method, args) = Lua::decode_method(&payload).unwrap();
        assert_eq!(method, b"route");
        let (cmd, got): (String, Values) = Lua::decode_args(args).unwrap();
        assert_eq!((cmd.as_str(), got.as_slice()), ("chat", &rest[..]));
        // A Rust client sends the same bytes.
        let args = ("chat".to_owned(), Values::from(rest.to_vec()));
        assert_eq!(Lua::encode_call("route", &args).unwrap(), payload);

        // `return 1, nil, "x", nil`, and `return` with nothing.
        let reply = Lua::encode_reply(&Values::from(rest.to_vec())).unwrap();
        assert_eq!(unpack(&reply).unwrap(), rest);
        assert_eq!(
            Lua::decode_reply::<Values>(&reply).unwrap().as_slice(),
            rest
        );
        assert!(Lua::encode_reply(&Values::new()).unwrap().is_empty());
        assert!(Lua::decode_reply::<Values>(&[]).unwrap().is_empty());

        // Fixed values first, then the rest: `return "chat", ...`.
        let both = (s("chat"), Values::from(rest.to_vec()));
        let reply = Lua::encode_reply(&both).unwrap();
        assert_eq!(unpack(&reply).unwrap().len(), 5);
        assert_eq!(Lua::decode_reply::<(Value, Values)>(&reply).unwrap(), both);

        // Inside `Ok`, the same; `Err` is still `nil, err`.
        let ok = Ok::<Values, String>(Values::from(rest.to_vec()));
        assert_eq!(Lua::encode_reply(&ok).unwrap(), pack(&rest).unwrap());
        let err = Err::<Values, String>("full".into());
        let reply = Lua::encode_reply(&err).unwrap();
        assert_eq!(
            Lua::decode_reply::<Result<Values, String>>(&reply).unwrap(),
            err
        );
        let ok = pack(&[Value::Integer(1), Value::Nil, Value::Nil]).unwrap();
        let r: Result<Values, String> = Lua::decode_reply(&ok).unwrap();
        assert_eq!(r.map(|v| v.len()), Ok(3));
    }

    #[test]
    fn a_lua_error_reply_decodes_as_err_and_anything_else_as_ok() {
        let err = pack(&[Value::Nil, s("room is full")]).unwrap();
        let r: Result<u32, String> = Lua::decode_reply(&err).unwrap();
        assert_eq!(r, Err("room is full".into()));

        let ok = pack(&[Value::Integer(7), s("ignored")]).unwrap();
        let r: Result<u32, String> = Lua::decode_reply(&ok).unwrap();
        assert_eq!(r, Ok(7));

        // `return nil`: Ok(None); `return nil, nil, x` is not the idiom.
        let nil = pack(&[Value::Nil]).unwrap();
        let r: Result<Option<u32>, String> = Lua::decode_reply(&nil).unwrap();
        assert_eq!(r, Ok(None));
        let three = pack(&[Value::Nil, s("e"), s("x")]).unwrap();
        let r: Result<Option<u32>, String> = Lua::decode_reply(&three).unwrap();
        assert_eq!(r, Ok(None));

        // A type mismatch is an error, never a wrong value.
        assert!(Lua::decode_reply::<Result<u32, String>>(&pack(&[s("x")]).unwrap()).is_err());
    }

    #[test]
    fn a_bytes_reply_or_argument_shares_the_payload_and_odd_ones_decode_as_before() {
        for len in [0usize, 5, 31, 32, 300, 70_000] {
            let data = Bytes::from(vec![b'x'; len]);
            let reply = Lua::encode_reply(&data).unwrap();
            let shared = Lua::decode_bytes_reply(reply.clone()).unwrap();
            assert_eq!(shared, data, "len {len}");
            if len > 0 {
                assert_eq!(shared.as_ptr(), reply[reply.len() - len..].as_ptr());
            }
            let call = Lua::encode_call("store", &(data.clone(),)).unwrap();
            let (_, args) = Lua::decode_method(&call).unwrap();
            let (arg,) = Lua::decode_bytes_args(call.slice_ref(args)).unwrap();
            assert_eq!(arg, data);
            if len > 0 {
                assert_eq!(arg.as_ptr(), call[call.len() - len..].as_ptr());
            }
        }
        // Not a lone string: the same outcome as the copying decoders.
        let two = luaseri::pack(&[Value::from("a"), Value::from("b")])
            .map(Bytes::from)
            .unwrap();
        assert_eq!(
            Lua::decode_bytes_reply(two.clone()).ok(),
            Lua::decode_reply::<Bytes>(&two).ok()
        );
        let number = luaseri::pack(&[Value::Integer(3)])
            .map(Bytes::from)
            .unwrap();
        assert!(Lua::decode_bytes_reply(number.clone()).is_err());
        assert!(Lua::decode_bytes_args(number).is_err());
    }
}
