//! Enums: a unit variant sent as its name, any other as `{Variant = payload}`.

use serde::de::{self, DeserializeSeed, Visitor};

use super::Deserializer;
use crate::codec::luaseri::error::{Error, Result};

/// An enum sent as a string: a unit variant.
pub(super) struct UnitVariant<'de> {
    pub(super) name: &'de [u8],
}

impl<'de> de::EnumAccess<'de> for UnitVariant<'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let value = match std::str::from_utf8(self.name) {
            Ok(s) => seed.deserialize(de::value::BorrowedStrDeserializer::<Error>::new(s))?,
            Err(_) => seed.deserialize(de::value::BorrowedBytesDeserializer::<Error>::new(
                self.name,
            ))?,
        };
        Ok((value, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"newtype variant",
        ))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"tuple variant",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"struct variant",
        ))
    }
}

/// An enum sent as `{Variant = payload}`, positioned at the key.
pub(super) struct TableVariant<'a, 'de> {
    pub(super) de: &'a mut Deserializer<'de>,
}

impl<'de> de::EnumAccess<'de> for TableVariant<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let value = seed.deserialize(&mut *self.de)?;
        Ok((value, self))
    }
}

impl<'de> de::VariantAccess<'de> for TableVariant<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        // `{Idle = true}` or similar: the payload means nothing to a unit variant.
        let depth = self.de.depth;
        self.de.reader.skip_value(depth, "table value")
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(&mut *self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_tuple(&mut *self.de, len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_map(&mut *self.de, visitor)
    }
}
