//! The top-level values of one message: a tuple reads them all, anything
//! else reads the first.

use serde::de::{self, DeserializeSeed, Visitor};

use super::Deserializer;
use crate::codec::luaseri::encode::TYPE_NIL;
use crate::codec::luaseri::error::{Error, Result};
use crate::codec::luaseri::value::Value;
use crate::codec::luaseri::value_serde::ValueDeserializer;
use crate::codec::luaseri::values::VALUES_TOKEN;

/// Reads a tuple from the top-level values and anything else from the first one.
pub(super) struct MultiDeserializer<'a, 'de> {
    pub(super) de: &'a mut Deserializer<'de>,
}

impl<'de> MultiDeserializer<'_, 'de> {
    fn args<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        let value = visit_values(&mut *self.de, len, visitor)?;
        self.de.skip_rest()?;
        Ok(value)
    }

    fn one<V: Visitor<'de>>(
        self,
        read: impl FnOnce(&mut Deserializer<'de>, V) -> Result<V::Value>,
        visitor: V,
    ) -> Result<V::Value> {
        if self.de.reader.is_at_end() {
            // No arguments at all: the first one is nil, as in Lua.
            return read(&mut Deserializer::from_slice(&[TYPE_NIL]), visitor);
        }
        let value = read(&mut *self.de, visitor)?;
        self.de.skip_rest()?;
        Ok(value)
    }
}

/// Writes, inside an `impl serde::de::Deserializer<'de>`, every
/// `deserialize_*` method that reads one value (all but unit, tuples,
/// newtype structs, enums and ignored values) as
/// `self.one(read, visitor)`, where `read` deserializes from a
/// `&mut Deserializer<'de>`.
///
/// Both readers of a message's top-level values use it: call arguments
/// here, and a Lua function's return values (`codec::lua`). So neither can
/// miss a method the other forwards.
macro_rules! forward_to_one_value {
    () => {
        $crate::codec::luaseri::forward_to_one_value! {
            @each
            deserialize_any();
            deserialize_bool();
            deserialize_i8();
            deserialize_i16();
            deserialize_i32();
            deserialize_i64();
            deserialize_i128();
            deserialize_u8();
            deserialize_u16();
            deserialize_u32();
            deserialize_u64();
            deserialize_u128();
            deserialize_f32();
            deserialize_f64();
            deserialize_char();
            deserialize_str();
            deserialize_string();
            deserialize_bytes();
            deserialize_byte_buf();
            deserialize_option();
            deserialize_unit_struct(name: &'static str);
            deserialize_seq();
            deserialize_map();
            deserialize_struct(name: &'static str, fields: &'static [&'static str]);
            deserialize_identifier();
        }
    };
    (@each $($method:ident($($arg:ident: $t:ty),*);)*) => {$(
        fn $method<V: ::serde::de::Visitor<'de>>(
            self,
            $($arg: $t,)*
            visitor: V,
        ) -> $crate::codec::luaseri::Result<V::Value> {
            self.one(
                |de, v| ::serde::de::Deserializer::$method(de, $($arg,)* v),
                visitor,
            )
        }
    )*};
}
pub(crate) use forward_to_one_value;

impl<'de> de::Deserializer<'de> for MultiDeserializer<'_, 'de> {
    type Error = Error;

    forward_to_one_value!();

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.one(
            |de, v| de::Deserializer::deserialize_enum(de, name, variants, v),
            visitor,
        )
    }

    /// `()` takes no arguments and ignores any it gets.
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.de.skip_rest()?;
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == VALUES_TOKEN {
            return visit_rest(self.de, visitor);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        self.args(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.args(len, visitor)
    }

    fn is_human_readable(&self) -> bool {
        true
    }
}

/// Visits the top-level values left in `de` as the `len` fields of a
/// tuple, nil past the end, and leaves any after them unread: call
/// arguments here, a Lua function's return values in `codec::lua`.
pub(crate) fn visit_values<'de, V: Visitor<'de>>(
    de: &mut Deserializer<'de>,
    len: usize,
    visitor: V,
) -> Result<V::Value> {
    visitor.visit_seq(MultiSeq {
        de,
        len,
        yielded: 0,
    })
}

/// The top-level values as a tuple's fields, nil past the end.
struct MultiSeq<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    len: usize,
    yielded: usize,
}

impl<'de> de::SeqAccess<'de> for MultiSeq<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.yielded >= self.len {
            return Ok(None);
        }
        self.yielded += 1;
        if self.de.reader.is_at_end() {
            return seed.deserialize(ValueDeserializer(Value::Nil)).map(Some);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.len - self.yielded)
    }
}

/// Visits every top-level value left in `de` as a sequence, nils included:
/// [`Values`](crate::codec::luaseri::Values) at the top level of a message.
pub(crate) fn visit_rest<'de, V: Visitor<'de>>(
    de: &mut Deserializer<'de>,
    visitor: V,
) -> Result<V::Value> {
    visitor.visit_seq(RestSeq { de })
}

/// The top-level values left, to the end of the message.
struct RestSeq<'a, 'de> {
    de: &'a mut Deserializer<'de>,
}

impl<'de> de::SeqAccess<'de> for RestSeq<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.de.reader.is_at_end() {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }
}
