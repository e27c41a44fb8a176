//! The serde [`Deserializer`]: lua-seri bytes straight into Rust values.
//!
//! Typed reads stream over the input: a struct's fields are matched as the
//! keys go by, and `&str` / `&[u8]` fields borrow from the input. Only
//! `deserialize_any` on a table (for [`Value`], untagged enums and the like)
//! and the rare sequence whose integer keys arrived as pairs build an
//! intermediate [`Value`], since their shape is only known once the whole
//! table has been read.

use serde::de::{self, IntoDeserializer, Visitor};

use super::decode::{check_depth, Item, Reader};
use super::encode::TYPE_NIL;
use super::error::{Error, ErrorKind, Result};
use super::value::{f64_to_i64, Value};
use super::value_serde::{visit_table, ValueDeserializer};
use super::values::VALUES_TOKEN;

mod multi;
mod table;
mod variant;

use multi::MultiDeserializer;
pub(crate) use multi::{forward_to_one_value, visit_rest, visit_values};
use table::{TableMap, TableSeq};
use variant::{TableVariant, UnitVariant};

/// A serde deserializer over lua-seri bytes.
///
/// Most code wants [`from_slice`] or [`from_slice_multi`]; use this type to
/// read values one at a time.
///
/// # Examples
///
/// ```
/// use serde::Deserialize;
/// use skycluster::codec::luaseri::Deserializer;
///
/// // skynet.pack("hi", 7)
/// let bytes = [0x14, b'h', b'i', 0x0a, 0x07];
/// let mut de = Deserializer::from_slice(&bytes);
/// let s = <&str>::deserialize(&mut de)?;
/// let n = u8::deserialize(&mut de)?;
/// de.end()?;
/// assert_eq!((s, n), ("hi", 7));
/// # Ok::<(), skycluster::codec::luaseri::Error>(())
/// ```
#[derive(Debug)]
pub struct Deserializer<'de> {
    reader: Reader<'de>,
    /// How many tables enclose the next value.
    depth: usize,
}

impl<'de> Deserializer<'de> {
    /// A deserializer reading the values in `input`, from the start.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde::Deserialize;
    /// use skycluster::codec::luaseri::Deserializer;
    ///
    /// let mut de = Deserializer::from_slice(&[0x09]);
    /// assert!(bool::deserialize(&mut de)?);
    /// # Ok::<(), skycluster::codec::luaseri::Error>(())
    /// ```
    pub fn from_slice(input: &'de [u8]) -> Self {
        Deserializer {
            reader: Reader::new(input),
            depth: 0,
        }
    }

    /// Checks that every byte was consumed.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::TrailingBytes`] if values remain.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde::Deserialize;
    /// use skycluster::codec::luaseri::Deserializer;
    ///
    /// let mut de = Deserializer::from_slice(&[0x09, 0x01]);
    /// bool::deserialize(&mut de)?;
    /// assert!(de.end().is_err());
    /// # Ok::<(), skycluster::codec::luaseri::Error>(())
    /// ```
    pub fn end(&self) -> Result<()> {
        if self.reader.is_at_end() {
            Ok(())
        } else {
            Err(ErrorKind::TrailingBytes {
                offset: self.reader.pos(),
            }
            .into())
        }
    }

    #[inline]
    fn item(&mut self, what: &'static str) -> Result<(usize, Item<'de>)> {
        let start = self.reader.pos();
        Ok((start, self.reader.read_item(what)?))
    }

    /// Hands an already-read item to `visitor` as whatever it is.
    fn visit_item<V: Visitor<'de>>(
        &mut self,
        start: usize,
        item: Item<'de>,
        visitor: V,
    ) -> Result<V::Value> {
        match item {
            // Borrowed, and as text when it is UTF-8; a `String` visitor
            // refuses the bytes with a type error.
            Item::Str(s) => match std::str::from_utf8(s) {
                Ok(s) => visitor.visit_borrowed_str(s),
                Err(_) => visitor.visit_borrowed_bytes(s),
            }
            .map_err(|e: Error| e.at(start)),
            other => self.visit_non_string(start, other, visitor),
        }
    }

    /// [`Self::visit_item`] for an item its caller has checked is not a
    /// string. It makes no string call on `visitor`, so that an identifier
    /// visitor's `visit_borrowed_bytes` keeps the single call site in
    /// `deserialize_identifier`, where the compiler then inlines it.
    fn visit_non_string<V: Visitor<'de>>(
        &mut self,
        start: usize,
        item: Item<'de>,
        visitor: V,
    ) -> Result<V::Value> {
        match item {
            Item::Nil => visitor.visit_unit(),
            Item::Bool(b) => visitor.visit_bool(b),
            Item::Int(i) => visitor.visit_i64(i),
            Item::Real(f) => visitor.visit_f64(f),
            // Not reached: callers take strings themselves.
            Item::Str(s) => Err(de::Error::invalid_type(de::Unexpected::Bytes(s), &visitor)),
            Item::Ptr(p) => visitor.visit_newtype_struct((p as i64).into_deserializer()),
            Item::Table(n) => {
                let table = self.reader.read_table_body(start, n, self.depth)?;
                visit_table(table, visitor)
            }
        }
        .map_err(|e: Error| e.at(start))
    }

    /// The item for an identifier that is not a short string.
    #[inline(never)]
    fn identifier_item(&mut self) -> Result<(usize, Item<'de>)> {
        self.item("string")
    }

    /// Enters the table whose header is at `start`.
    #[inline]
    fn enter(&mut self, start: usize) -> Result<()> {
        check_depth(start, self.depth)?;
        self.depth += 1;
        Ok(())
    }

    /// Consumes a nil terminator if one is next. At the end of the input
    /// it returns false, and the read that follows reports the truncation.
    #[inline(always)]
    fn eat_terminator(&mut self) -> bool {
        match self.reader.peek() {
            Some(t) if t & 7 == TYPE_NIL => {
                self.reader.bump();
                true
            }
            _ => false,
        }
    }

    /// Reports a truncation when the input ended where `what` was due.
    #[cold]
    fn check_not_at_end(&self, what: &'static str) -> Result<()> {
        if self.reader.is_at_end() {
            return Err(Error::truncated(self.reader.pos(), what, 1, 0));
        }
        Ok(())
    }

    fn read_table_seq<V: Visitor<'de>>(
        &mut self,
        start: usize,
        n: usize,
        pad_to: Option<usize>,
        visitor: V,
    ) -> Result<V::Value> {
        self.enter(start)?;
        let hint = self.reader.capacity_for(n);
        let mut access = TableSeq {
            de: self,
            start,
            array_left: n,
            hint,
            yielded: 0,
            pad_to,
            tail: None,
            done: false,
        };
        let value = visitor
            .visit_seq(&mut access)
            .map_err(|e: Error| e.at(start))?;
        if access.array_left > 0 || !access.done {
            access.finish()?;
        }
        self.depth -= 1;
        Ok(value)
    }

    fn read_table_map<V: Visitor<'de>>(
        &mut self,
        start: usize,
        n: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.enter(start)?;
        let mut access = TableMap {
            de: self,
            array_left: n,
            index: 0,
            done: false,
        };
        let value = visitor
            .visit_map(&mut access)
            .map_err(|e: Error| e.at(start))?;
        if access.array_left > 0 || !access.done {
            access.finish()?;
        }
        self.depth -= 1;
        Ok(value)
    }

    /// Skips the rest of the values, checking them, as a Lua function
    /// ignores extra arguments.
    fn skip_rest(&mut self) -> Result<()> {
        while !self.reader.is_at_end() {
            self.reader.skip_value(0, "value")?;
        }
        Ok(())
    }
}

/// Deserializes exactly one lua-seri value from `input`.
///
/// Strings borrow from `input` where the target type allows (`&str`,
/// `&[u8]` with `serde_bytes`).
///
/// # Errors
///
/// A decode error (with its byte offset), a type mismatch, an empty input,
/// or [`ErrorKind::TrailingBytes`] when more than one value is present.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use skycluster::codec::luaseri::from_slice;
///
/// // {hp = 10}
/// let bytes = [0x06, 0x14, b'h', b'p', 0x0a, 0x0a, 0x00];
/// let map: HashMap<&str, u32> = from_slice(&bytes)?;
/// assert_eq!(map["hp"], 10);
///
/// // A Lua float with an integral value reads into an integer field.
/// let n: i32 = from_slice(&[0x42, 0, 0, 0, 0, 0, 0, 0x08, 0x40])?;
/// assert_eq!(n, 3);
/// # Ok::<(), skycluster::codec::luaseri::Error>(())
/// ```
pub fn from_slice<'de, T: de::Deserialize<'de>>(input: &'de [u8]) -> Result<T> {
    if input.is_empty() {
        return Err(Error::truncated(0, "value", 1, 0));
    }
    let mut de = Deserializer::from_slice(input);
    let value = T::deserialize(&mut de).map_err(|e| e.at(0))?;
    de.end()?;
    Ok(value)
}

/// Deserializes all the values in `input` into a tuple, the way a Lua
/// function receives its arguments.
///
/// Each tuple field takes one value; missing trailing values read as nil,
/// so trailing `Option` arguments may be left out; extra values are checked
/// and ignored. A tuple struct or a newtype around a tuple works the same.
/// `()` accepts any values. Any other type reads the first value (nil if
/// there is none) and ignores the rest, mirroring [`to_vec_multi`](super::to_vec_multi).
///
/// # Errors
///
/// A decode error (with its byte offset) or a type mismatch.
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::{from_slice_multi, to_vec_multi};
///
/// let bytes = to_vec_multi(&("login", 42))?;
/// let (method, uid, token): (&str, i64, Option<String>) = from_slice_multi(&bytes)?;
/// assert_eq!((method, uid, token), ("login", 42, None));
/// # Ok::<(), skycluster::codec::luaseri::Error>(())
/// ```
pub fn from_slice_multi<'de, T: de::Deserialize<'de>>(input: &'de [u8]) -> Result<T> {
    let mut de = Deserializer::from_slice(input);
    let value = T::deserialize(MultiDeserializer { de: &mut de }).map_err(|e| e.at(0))?;
    de.end()?;
    Ok(value)
}

/// Deserializes a [`Value`] into `T`, as unpacking its packed form would.
///
/// # Errors
///
/// A type mismatch.
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::{from_value, Value};
///
/// let v: Value = "{3, 4}".parse()?;
/// let pair: (u8, f32) = from_value(v)?;
/// assert_eq!(pair, (3, 4.0));
/// # Ok::<(), skycluster::codec::luaseri::Error>(())
/// ```
pub fn from_value<T: de::DeserializeOwned>(value: Value) -> Result<T> {
    T::deserialize(ValueDeserializer(value))
}

macro_rules! deserialize_integers {
    ($($method:ident),*) => {$(
        #[inline]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            self.deserialize_integer(visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> {
    #[inline]
    fn deserialize_integer<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let start = self.reader.pos();
        if let Some(i) = self.reader.try_int() {
            return visitor.visit_i64(i).map_err(|e: Error| e.at(start));
        }
        self.deserialize_integer_slow(visitor)
    }

    // The `*_slow` halves take what the `try_*` fast paths left. They stay
    // out of line: inlined, they merged with the fast paths into jump
    // tables that cost an indirect branch per field.

    #[inline(never)]
    fn deserialize_integer_slow<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let (start, item) = self.item("integer")?;
        match item {
            Item::Int(i) => visitor.visit_i64(i).map_err(|e: Error| e.at(start)),
            // Lua 5.4 code often sends 3.0 for 3.
            Item::Real(f) => match f64_to_i64(f) {
                Some(i) => visitor.visit_i64(i),
                None => visitor.visit_f64(f),
            }
            .map_err(|e: Error| e.at(start)),
            other => self.visit_item(start, other, visitor),
        }
    }

    #[inline]
    fn deserialize_float<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let start = self.reader.pos();
        if let Some(f) = self.reader.try_real() {
            return visitor.visit_f64(f).map_err(|e: Error| e.at(start));
        }
        self.deserialize_float_slow(visitor)
    }

    #[inline(never)]
    fn deserialize_float_slow<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let (start, item) = self.item("number")?;
        match item {
            Item::Real(f) => visitor.visit_f64(f).map_err(|e: Error| e.at(start)),
            Item::Int(i) => visitor.visit_f64(i as f64).map_err(|e: Error| e.at(start)),
            other => self.visit_item(start, other, visitor),
        }
    }

    #[inline(never)]
    fn deserialize_bool_slow<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let (start, item) = self.item("boolean")?;
        match item {
            Item::Bool(b) => visitor.visit_bool(b).map_err(|e: Error| e.at(start)),
            other => self.visit_item(start, other, visitor),
        }
    }

    #[inline(never)]
    fn deserialize_str_slow<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let (start, item) = self.item("string")?;
        self.visit_item(start, item, visitor)
    }

    /// A sequence, or a tuple padded to `pad_to`.
    #[inline(never)]
    fn deserialize_table_slow<V: Visitor<'de>>(
        &mut self,
        pad_to: Option<usize>,
        visitor: V,
    ) -> Result<V::Value> {
        let (start, item) = self.item("table")?;
        match item {
            // `{1, nil}` packs as one value: Lua's length stops before a trailing nil.
            Item::Table(n) => self.read_table_seq(start, n, pad_to, visitor),
            other => self.visit_item(start, other, visitor),
        }
    }

    #[inline(never)]
    fn deserialize_map_slow<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let (start, item) = self.item("table")?;
        match item {
            Item::Table(n) => self.read_table_map(start, n, visitor),
            other => self.visit_item(start, other, visitor),
        }
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let (start, item) = self.item("value")?;
        self.visit_item(start, item, visitor)
    }

    deserialize_integers!(
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

    #[inline]
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_float(visitor)
    }

    #[inline]
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_float(visitor)
    }

    #[inline]
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.reader.pos();
        if let Some(b) = self.reader.try_bool() {
            return visitor.visit_bool(b).map_err(|e: Error| e.at(start));
        }
        self.deserialize_bool_slow(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    #[inline]
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.reader.pos();
        if let Some(s) = self.reader.try_short_str() {
            return match std::str::from_utf8(s) {
                Ok(s) => visitor.visit_borrowed_str(s),
                Err(_) => visitor.visit_borrowed_bytes(s),
            }
            .map_err(|e: Error| e.at(start));
        }
        self.deserialize_str_slow(visitor)
    }

    #[inline]
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    #[inline]
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let (start, item) = self.item("string")?;
        match item {
            Item::Str(s) => visitor
                .visit_borrowed_bytes(s)
                .map_err(|e: Error| e.at(start)),
            other => self.visit_item(start, other, visitor),
        }
    }

    #[inline]
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    #[inline]
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.reader.peek() {
            Some(t) if t & 7 == TYPE_NIL => {
                let start = self.reader.pos();
                self.reader.bump();
                visitor.visit_none().map_err(|e: Error| e.at(start))
            }
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_any(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_any(visitor)
    }

    #[inline]
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == VALUES_TOKEN && self.depth == 0 {
            // At the top level, `Values` is every value left.
            return visit_rest(self, visitor);
        }
        visitor.visit_newtype_struct(self)
    }

    #[inline]
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.reader.pos();
        if let Some(n) = self.reader.try_table() {
            return self.read_table_seq(start, n, None, visitor);
        }
        self.deserialize_table_slow(None, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        let start = self.reader.pos();
        if let Some(n) = self.reader.try_table() {
            return self.read_table_seq(start, n, Some(len), visitor);
        }
        self.deserialize_table_slow(Some(len), visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_tuple(len, visitor)
    }

    #[inline]
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.reader.pos();
        if let Some(n) = self.reader.try_table() {
            return self.read_table_map(start, n, visitor);
        }
        self.deserialize_map_slow(visitor)
    }

    #[inline]
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
        let (start, item) = self.item("enum")?;
        match item {
            Item::Str(name) => visitor
                .visit_enum(UnitVariant { name })
                .map_err(|e: Error| e.at(start)),
            Item::Table(0) => {
                self.enter(start)?;
                if self.eat_terminator() {
                    return Err(de::Error::custom(
                        "empty table for an enum, expected {Variant = value}",
                    ))
                    .map_err(|e: Error| e.at(start));
                }
                let value = visitor
                    .visit_enum(TableVariant { de: &mut *self })
                    .map_err(|e: Error| e.at(start))?;
                if !self.eat_terminator() {
                    self.check_not_at_end("table key")?;
                    return Err(de::Error::custom(
                        "enum table has more than one key, expected {Variant = value}",
                    ))
                    .map_err(|e: Error| e.at(start));
                }
                self.depth -= 1;
                Ok(value)
            }
            other => self.visit_item(start, other, visitor),
        }
    }

    /// Field and variant names go to the visitor as bytes: UTF-8
    /// validation of every key was a third of the time to decode a typical
    /// struct, and serde_derive's identifier visitors match bytes directly.
    /// A hand-written identifier visitor needs `visit_bytes` too.
    ///
    /// Every string reaches the visitor through the one call below, long
    /// ones included: with a single call site the compiler inlines the
    /// derived visitor's match on the name into the struct's loop.
    #[inline]
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.reader.pos();
        let name = match self.reader.try_short_str() {
            Some(s) => s,
            None => match self.identifier_item()? {
                (_, Item::Str(s)) => s,
                (start, other) => return self.visit_non_string(start, other, visitor),
            },
        };
        visitor
            .visit_borrowed_bytes(name)
            .map_err(|e: Error| e.at(start))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.reader.skip_value(self.depth, "value")?;
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        // Lua peers read strings better than byte tuples (addresses, ids).
        true
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Point<'a> {
        x: i32,
        name: &'a str,
        tag: Option<u8>,
    }

    #[test]
    fn structs_borrow_their_strings() {
        // {x = 1, name = "n"}
        let bytes = [
            0x06, 0x0c, b'x', 0x0a, 0x01, 0x24, b'n', b'a', b'm', b'e', 0x0c, b'n', 0x00,
        ];
        let p: Point<'_> = from_slice(&bytes).unwrap();
        assert_eq!(
            p,
            Point {
                x: 1,
                name: "n",
                tag: None
            }
        );
        assert_eq!(p.name.as_ptr(), bytes[11..].as_ptr());
    }

    #[test]
    fn identifiers_take_every_string_form() {
        #[derive(Debug, PartialEq, Deserialize, serde::Serialize)]
        struct Long {
            a_field_name_longer_than_thirty_one_bytes: u8,
            b: u8,
        }
        let v = Long {
            a_field_name_longer_than_thirty_one_bytes: 1,
            b: 2,
        };
        let bytes = super::super::to_vec(&v).unwrap();
        assert_eq!(from_slice::<Long>(&bytes).unwrap(), v);
        // The long form of a short name.
        #[derive(Debug, PartialEq, Deserialize)]
        struct Short {
            b: u8,
        }
        let bytes = [0x06, 0x15, 1, 0, b'b', 0x0a, 0x02, 0x00];
        assert_eq!(from_slice::<Short>(&bytes).unwrap(), Short { b: 2 });
        // Keys that are not strings reach the visitor as what they are.
        let err = from_slice::<Point<'_>>(&[0x06, 0x09, 0x0a, 0x01, 0x00]).unwrap_err();
        assert!(err.to_string().contains("invalid type: boolean"), "{err}");
        let err = from_slice::<Point<'_>>(&[0x06, 0x06, 0x00, 0x0a, 0x01, 0x00]).unwrap_err();
        assert!(err.to_string().contains("invalid type: sequence"), "{err}");
        assert_eq!(err.offset(), Some(1));
    }

    #[test]
    fn numbers_convert_where_lua_would() {
        assert_eq!(from_slice::<f32>(&[0x0a, 0x05]).unwrap(), 5.0);
        assert_eq!(
            from_slice::<u8>(&[0x42, 0, 0, 0, 0, 0, 0, 0x14, 0x40]).unwrap(),
            5
        );
        assert!(from_slice::<u8>(&[0x42, 0, 0, 0, 0, 0, 0, 0x16, 0x40]).is_err());
        assert!(from_slice::<u8>(&[0x22, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn tuples_pad_with_nil_and_refuse_extras() {
        assert_eq!(
            from_slice::<(u8, Option<u8>)>(&[0x0e, 0x0a, 0x01, 0x00]).unwrap(),
            (1, None)
        );
        assert!(from_slice::<(u8,)>(&[0x16, 0x0a, 0x01, 0x0a, 0x02, 0x00]).is_err());
        assert!(from_slice::<(u8,)>(&[0x0e, 0x0a, 0x01, 0x14, 0x01, 0x02, 0x00]).is_err());
    }

    #[test]
    fn truncated_tables_are_errors() {
        assert!(matches!(
            from_slice::<Vec<u8>>(&[0x0e, 0x0a, 0x01]).map_err(Error::into_kind),
            Err(ErrorKind::Truncated { offset: 3, .. })
        ));
        assert!(matches!(
            from_slice::<std::collections::HashMap<String, u8>>(&[0x06, 0x0c, b'a'])
                .map_err(Error::into_kind),
            Err(ErrorKind::Truncated { .. })
        ));
    }

    #[test]
    fn enums_need_exactly_one_key() {
        #[derive(Debug, Deserialize, PartialEq)]
        enum E {
            A(u8),
            B,
        }
        assert_eq!(from_slice::<E>(&[0x0c, b'B']).unwrap(), E::B);
        assert_eq!(
            from_slice::<E>(&[0x06, 0x0c, b'A', 0x0a, 0x02, 0x00]).unwrap(),
            E::A(2)
        );
        assert!(from_slice::<E>(&[0x06, 0x00]).is_err());
        assert!(from_slice::<E>(&[0x06, 0x0c, b'A', 0x0a, 0x02, 0x0c, b'B', 0x09, 0x00]).is_err());
        assert!(matches!(
            from_slice::<E>(&[0x06, 0x0c, b'A', 0x0a, 0x02]).map_err(Error::into_kind),
            Err(ErrorKind::Truncated { .. })
        ));
    }

    #[test]
    fn multi_values_read_like_lua_arguments() {
        let bytes = [0x0a, 0x01, 0x0c, b'x', 0x09];
        let (a, b): (i64, String) = from_slice_multi(&bytes).unwrap();
        assert_eq!((a, b.as_str()), (1, "x"));
        let (a, b, c, d): (i64, &str, bool, Option<i64>) = from_slice_multi(&bytes).unwrap();
        assert_eq!((a, b, c, d), (1, "x", true, None));
        // Extra values must still be well-formed.
        assert!(from_slice_multi::<(i64,)>(&[0x0a, 0x01, 0x07]).is_err());
        assert!(from_slice::<i64>(&[]).is_err());
    }
}
