//! serde for [`Value`]: `Serialize`/`Deserialize` impls, and the
//! deserializer that reads Rust types out of an owned `Value`.
//!
//! With this module's [`Serializer`](super::Serializer) a `Value` keeps
//! everything it has on the wire, light userdata included (through a
//! private newtype name). Other formats see plain data: a table becomes a
//! sequence when it is one, otherwise a map.

use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize, SerializeMap, SerializeSeq};

use super::error::{Error, ErrorKind, Result};
use super::ser::LIGHTUSERDATA_TOKEN;
use super::value::{f64_to_i64, sequence_tail, Table, Value};

impl Serialize for Value {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            // `none`, not `unit`: a unit at the top of a Lua reply is "no values",
            // while a nil is one value (`return nil` packs `00`).
            Value::Nil => serializer.serialize_none(),
            Value::Boolean(b) => serializer.serialize_bool(*b),
            Value::Integer(i) => serializer.serialize_i64(*i),
            Value::Real(f) => serializer.serialize_f64(*f),
            Value::String(s) => match std::str::from_utf8(s) {
                Ok(s) => serializer.serialize_str(s),
                Err(_) => serializer.serialize_bytes(s),
            },
            Value::Table(t) => t.serialize(serializer),
            // The pointer's bits, as an i64 so no format rejects it as too large.
            Value::LightUserdata(p) => {
                serializer.serialize_newtype_struct(LIGHTUSERDATA_TOKEN, &(*p as i64))
            }
        }
    }
}

impl Serialize for Table {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.hash.is_empty() {
            let mut seq = serializer.serialize_seq(Some(self.array.len()))?;
            for v in &self.array {
                seq.serialize_element(v)?;
            }
            return seq.end();
        }
        let mut map = serializer.serialize_map(None)?;
        for (i, v) in self.array.iter().enumerate() {
            if !v.is_nil() {
                map.serialize_entry(&(i as u64 + 1), v)?;
            }
        }
        for (k, v) in &self.hash {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> de::Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

impl<'de> de::Deserialize<'de> for Table {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Table(t) => Ok(t),
            other => Err(de::Error::invalid_type(unexpected(&other), &"a table")),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a lua value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Boolean(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Integer(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v).map(Value::Integer).map_err(|_| {
            E::custom(format_args!(
                "integer {v} does not fit in a lua integer (i64)"
            ))
        })
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        i64::try_from(v).map(Value::Integer).map_err(|_| {
            E::custom(format_args!(
                "integer {v} does not fit in a lua integer (i64)"
            ))
        })
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i64::try_from(v).map(Value::Integer).map_err(|_| {
            E::custom(format_args!(
                "integer {v} does not fit in a lua integer (i64)"
            ))
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Real(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    /// Only lua-seri's light userdata reaches here from `deserialize_any`.
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let bits: i64 = de::Deserialize::deserialize(d)?;
        Ok(Value::LightUserdata(bits as u64))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut array = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element()? {
            array.push(v);
        }
        Ok(Value::Table(Table::from(array)))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut hash = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some(pair) = map.next_entry()? {
            hash.push(pair);
        }
        Ok(Value::Table(Table {
            array: Vec::new(),
            hash,
        }))
    }
}

fn unexpected(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Nil => de::Unexpected::Unit,
        Value::Boolean(b) => de::Unexpected::Bool(*b),
        Value::Integer(i) => de::Unexpected::Signed(*i),
        Value::Real(f) => de::Unexpected::Float(*f),
        Value::String(s) => match std::str::from_utf8(s) {
            Ok(s) => de::Unexpected::Str(s),
            Err(_) => de::Unexpected::Bytes(s),
        },
        Value::Table(_) => de::Unexpected::Map,
        Value::LightUserdata(_) => de::Unexpected::Other("light userdata"),
    }
}

/// Reads Rust types out of an owned [`Value`], with the same rules as the
/// byte [`Deserializer`](super::Deserializer).
#[derive(Debug)]
pub(crate) struct ValueDeserializer(pub(crate) Value);

impl ValueDeserializer {
    fn sequence(table: Table, pad_to: Option<usize>) -> Result<SeqOfValues> {
        let Table { mut array, hash } = table;
        if !hash.is_empty() {
            let next = array.len() + 1;
            let tail = sequence_tail(hash, next).map_err(|m| ErrorKind::Message {
                message: m.into_boxed_str(),
                offset: None,
            })?;
            array.extend(tail);
        }
        Ok(SeqOfValues {
            len: array.len(),
            iter: array.into_iter(),
            yielded: 0,
            pad_to,
        })
    }
}

/// Hands a table to `visitor` as `deserialize_any` would: a sequence if
/// its keys are 1..n, a map otherwise.
pub(crate) fn visit_table<'de, V: Visitor<'de>>(t: Table, visitor: V) -> Result<V::Value> {
    match t.into_sequence() {
        Ok(array) => visitor.visit_seq(SeqOfValues {
            len: array.len(),
            iter: array.into_iter(),
            yielded: 0,
            pad_to: None,
        }),
        Err(t) => visitor.visit_map(PairsOfTable::new(t)),
    }
}

macro_rules! value_integers {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            match self.0 {
                Value::Integer(i) => visitor.visit_i64(i),
                Value::Real(f) => match f64_to_i64(f) {
                    Some(i) => visitor.visit_i64(i),
                    None => visitor.visit_f64(f),
                },
                other => ValueDeserializer(other).deserialize_any(visitor),
            }
        }
    )*};
}

use de::Deserializer as _;

impl<'de> de::Deserializer<'de> for ValueDeserializer {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::Nil => visitor.visit_unit(),
            Value::Boolean(b) => visitor.visit_bool(b),
            Value::Integer(i) => visitor.visit_i64(i),
            Value::Real(f) => visitor.visit_f64(f),
            Value::String(s) => match String::from_utf8(s) {
                Ok(s) => visitor.visit_string(s),
                Err(e) => visitor.visit_byte_buf(e.into_bytes()),
            },
            Value::LightUserdata(p) => visitor.visit_newtype_struct((p as i64).into_deserializer()),
            Value::Table(t) => visit_table(t, visitor),
        }
    }

    value_integers!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::Integer(i) => visitor.visit_f64(i as f64),
            other => ValueDeserializer(other).deserialize_any(visitor),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::String(s) => visitor.visit_byte_buf(s),
            other => ValueDeserializer(other).deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::Nil => visitor.visit_none(),
            other => visitor.visit_some(ValueDeserializer(other)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::Table(t) => visitor.visit_seq(Self::sequence(t, None)?),
            other => ValueDeserializer(other).deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::Table(t) => {
                let mut seq = Self::sequence(t, Some(len))?;
                let value = visitor.visit_seq(&mut seq)?;
                if seq.iter.len() > 0 {
                    return Err(de::Error::invalid_length(seq.len, &"fewer values"));
                }
                Ok(value)
            }
            other => ValueDeserializer(other).deserialize_any(visitor),
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::Table(t) => visitor.visit_map(PairsOfTable::new(t)),
            other => ValueDeserializer(other).deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.0 {
            Value::String(name) => visitor.visit_enum(OwnedVariant {
                name: Value::String(name),
                payload: None,
            }),
            Value::Table(mut t) if t.array.is_empty() && t.hash.len() == 1 => match t.hash.pop() {
                Some((name, payload)) => visitor.visit_enum(OwnedVariant {
                    name,
                    payload: Some(payload),
                }),
                None => Err(de::Error::custom("expected {Variant = value}")),
            },
            Value::Table(_) => Err(de::Error::custom(
                "enum table must have exactly one key, expected {Variant = value}",
            )),
            other => ValueDeserializer(other).deserialize_any(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool char str string unit unit_struct identifier
    }
}

/// A table's values as a sequence, nil-padded for tuples.
struct SeqOfValues {
    len: usize,
    iter: std::vec::IntoIter<Value>,
    yielded: usize,
    pad_to: Option<usize>,
}

impl<'de> de::SeqAccess<'de> for SeqOfValues {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let value = match self.iter.next() {
            Some(v) => v,
            None => match self.pad_to {
                Some(len) if self.yielded < len => Value::Nil,
                _ => return Ok(None),
            },
        };
        self.yielded += 1;
        seed.deserialize(ValueDeserializer(value)).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A table's pairs: array-part values under their integer keys (holes
/// skipped), then the key/value part.
struct PairsOfTable {
    array: std::iter::Enumerate<std::vec::IntoIter<Value>>,
    hash: std::vec::IntoIter<(Value, Value)>,
    value: Option<Value>,
}

impl PairsOfTable {
    fn new(t: Table) -> Self {
        PairsOfTable {
            array: t.array.into_iter().enumerate(),
            hash: t.hash.into_iter(),
            value: None,
        }
    }
}

impl<'de> de::MapAccess<'de> for PairsOfTable {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        for (i, v) in self.array.by_ref() {
            if !v.is_nil() {
                self.value = Some(v);
                let key = i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1);
                return seed.deserialize(key.into_deserializer()).map(Some);
            }
        }
        match self.hash.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(ValueDeserializer(k)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let value = self.value.take().unwrap_or_default();
        seed.deserialize(ValueDeserializer(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.array.len() + self.hash.len())
    }
}

/// An enum read from a `Value`: a name and, for `{Variant = payload}`, the payload.
struct OwnedVariant {
    name: Value,
    payload: Option<Value>,
}

impl<'de> de::EnumAccess<'de> for OwnedVariant {
    type Error = Error;
    type Variant = Payload;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Payload)> {
        let variant = seed.deserialize(ValueDeserializer(self.name))?;
        Ok((variant, Payload(self.payload)))
    }
}

/// A variant's payload; `None` for a variant sent as a plain string.
struct Payload(Option<Value>);

impl<'de> de::VariantAccess<'de> for Payload {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(ValueDeserializer(self.0.unwrap_or_default()))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        ValueDeserializer(self.0.unwrap_or_default()).deserialize_tuple(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        ValueDeserializer(self.0.unwrap_or_default()).deserialize_map(visitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::codec::luaseri::{from_value, to_vec, unpack};

    #[test]
    fn values_read_into_rust_types() {
        #[derive(Debug, PartialEq, Deserialize)]
        struct S {
            a: Vec<Option<u8>>,
            b: (f64, String),
            e: E,
        }
        #[derive(Debug, PartialEq, Deserialize)]
        enum E {
            V { n: i8 },
        }
        let v: Value = "{a = {1, nil, 3}, b = {2, 'x'}, e = {V = {n = -1}}}"
            .parse()
            .unwrap();
        let s: S = from_value(v).unwrap();
        assert_eq!(
            s,
            S {
                a: vec![Some(1), None, Some(3)],
                b: (2.0, "x".into()),
                e: E::V { n: -1 }
            }
        );
    }

    #[test]
    fn tables_serialize_as_sequences_only_when_they_are_one() {
        let seq: Value = "{1, 2}".parse().unwrap();
        assert_eq!(to_vec(&seq).unwrap(), [0x16, 0x0a, 1, 0x0a, 2, 0x00]);
        let mixed: Value = "{1, x = 2}".parse().unwrap();
        let back = unpack(&to_vec(&mixed).unwrap()).unwrap();
        assert_eq!(back, [mixed]);
    }

    #[test]
    fn values_deserialize_from_any_shape() {
        let v: Value = from_value(Value::from(vec![Value::from(1)])).unwrap();
        assert_eq!(v.to_string(), "{1}");
        let t: Table = from_value("{k = true}".parse::<Value>().unwrap()).unwrap();
        assert_eq!(t.get_str("k"), Some(&Value::Boolean(true)));
        assert!(from_value::<Table>(Value::from(1)).is_err());
        assert!(from_value::<u64>(Value::Integer(-1)).is_err());
    }
}
