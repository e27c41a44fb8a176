//! The serde [`Serializer`]: Rust values straight to lua-seri bytes.
//!
//! Values are written as they are visited, with no intermediate [`Value`]:
//! a struct becomes a table header `06`, its fields as key/value pairs and
//! a `00`; a sequence of known length becomes a header with that array
//! count and its elements. A sequence of unknown length can't have its
//! count written up front, so its elements go out as pairs `[i] = v`,
//! which Lua unpacks to the same table.

use std::cell::RefCell;

use serde::ser::{self, Serialize};

use super::decode::{Item, Reader};
use super::encode::{
    check_written_key, write_bool, write_integer, write_light_userdata, write_nil, write_real,
    write_string, write_table_end, write_table_header,
};
use super::error::{Error, ErrorKind, Result};
use super::value::Value;
use super::values::VALUES_TOKEN;
use super::MAX_PACK_DEPTH;

/// The newtype-struct name under which [`Value::LightUserdata`] serializes,
/// so this serializer can write it as type 3 while other formats see an integer.
pub(crate) const LIGHTUSERDATA_TOKEN: &str = "$skycluster::luaseri::LightUserdata";

/// A serde serializer that appends lua-seri bytes for one value to a `Vec<u8>`.
///
/// Most code wants [`to_vec`] or [`write()`]; use this type to drive serde
/// yourself. After an error the buffer holds a partial value.
///
/// # Examples
///
/// ```
/// use serde::Serialize;
/// use skycluster::codec::luaseri::Serializer;
///
/// let mut buf = Vec::new();
/// vec![1, 2, 3].serialize(&mut Serializer::new(&mut buf))?;
/// assert_eq!(buf, [0x1e, 0x0a, 0x01, 0x0a, 0x02, 0x0a, 0x03, 0x00]);
/// # Ok::<(), skycluster::codec::luaseri::Error>(())
/// ```
#[derive(Debug)]
pub struct Serializer<'a> {
    out: &'a mut Vec<u8>,
    /// How many tables enclose the value being written; Skynet's `depth`.
    depth: usize,
}

impl<'a> Serializer<'a> {
    /// A serializer appending to `out`, for a top-level value.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde::Serialize;
    /// use skycluster::codec::luaseri::Serializer;
    ///
    /// let mut buf = vec![];
    /// "hi".serialize(&mut Serializer::new(&mut buf))?;
    /// assert_eq!(buf, [0x14, b'h', b'i']);
    /// # Ok::<(), skycluster::codec::luaseri::Error>(())
    /// ```
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Serializer { out, depth: 0 }
    }

    /// Writes one value inside the table being built, refusing what sits
    /// deeper than Skynet packs.
    #[inline]
    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        if self.depth > MAX_PACK_DEPTH {
            return Err(ErrorKind::TooDeepToPack {
                limit: MAX_PACK_DEPTH,
            }
            .into());
        }
        value.serialize(&mut *self)
    }

    /// Opens a table holding `array_len` array values; its contents are one level deeper.
    #[inline]
    fn open(&mut self, array_len: usize) -> Result<()> {
        write_table_header(self.out, array_len)?;
        self.depth += 1;
        Ok(())
    }

    #[inline]
    fn close(&mut self) {
        write_table_end(self.out);
        self.depth -= 1;
    }

    /// Opens `{variant = ...}`: the variant table and the key, ready for the payload.
    #[inline]
    fn open_variant(&mut self, variant: &str) -> Result<()> {
        self.open(0)?;
        if self.depth > MAX_PACK_DEPTH {
            return Err(ErrorKind::TooDeepToPack {
                limit: MAX_PACK_DEPTH,
            }
            .into());
        }
        write_string(self.out, variant.as_bytes())
    }

    fn light_userdata<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        let start = self.out.len();
        value.serialize(&mut *self)?;
        let written = self.out.get(start..).unwrap_or_default();
        match Reader::new(written).read_item("light userdata") {
            Ok(Item::Int(p)) => {
                self.out.truncate(start);
                // The pointer travels as its 8 raw bytes; the sign is just a bit.
                write_light_userdata(self.out, p as u64);
                Ok(())
            }
            _ => Err(ser::Error::custom("light userdata must wrap an integer")),
        }
    }
}

/// Serializes `value` as one lua-seri value.
///
/// # Errors
///
/// [`ErrorKind::TooDeepToPack`] past [`MAX_PACK_DEPTH`](super::MAX_PACK_DEPTH)
/// nested tables, [`ErrorKind::IntegerOutOfRange`] for a `u64` above
/// `i64::MAX`, [`ErrorKind::InvalidKey`] for a map key that is nil or NaN, and
/// whatever the value's `Serialize` impl reports.
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::to_vec;
///
/// assert_eq!(to_vec(&Some(300))?, [0x12, 0x2c, 0x01]);
/// assert_eq!(to_vec(&1.0)?, [0x42, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
/// assert!(to_vec(&u64::MAX).is_err());
/// # Ok::<(), skycluster::codec::luaseri::Error>(())
/// ```
pub fn to_vec<T: ?Sized + Serialize>(value: &T) -> Result<Vec<u8>> {
    with_scratch(|buf| write(buf, value))
}

/// Appends `value`, as one lua-seri value, to `buf`; see [`to_vec`].
///
/// On error `buf` is left as it was.
///
/// # Errors
///
/// As [`to_vec`].
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::write;
///
/// let mut buf = Vec::with_capacity(64);
/// write(&mut buf, "a")?;
/// write(&mut buf, &[1, 2])?;
/// assert_eq!(buf, [0x0c, b'a', 0x16, 0x0a, 0x01, 0x0a, 0x02, 0x00]);
/// # Ok::<(), skycluster::codec::luaseri::Error>(())
/// ```
pub fn write<T: ?Sized + Serialize>(buf: &mut Vec<u8>, value: &T) -> Result<()> {
    let start = buf.len();
    let result = value.serialize(&mut Serializer::new(buf));
    if result.is_err() {
        buf.truncate(start);
    }
    result
}

/// Serializes a tuple of arguments as several lua-seri values, the way
/// `skynet.pack(a, b, c)` does.
///
/// A tuple or tuple struct gives one value per field, `None`s included
/// (`skynet.pack(1, nil)` keeps its nil); `()` gives no values at all.
/// Anything else, a named struct included, is one value, as [`to_vec`]
/// would write it. Wrap a single argument as `(x,)`.
///
/// # Errors
///
/// As [`to_vec`].
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::{to_vec_multi, unpack};
///
/// // skynet.call(addr, "lua", "echo", 1, nil) sends these bytes:
/// let bytes = to_vec_multi(&("echo", 1, None::<i32>))?;
/// assert_eq!(bytes, [0x24, b'e', b'c', b'h', b'o', 0x0a, 0x01, 0x00]);
/// assert_eq!(unpack(&bytes)?.len(), 3);
/// assert!(to_vec_multi(&())?.is_empty());
/// # Ok::<(), skycluster::codec::luaseri::Error>(())
/// ```
pub fn to_vec_multi<T: ?Sized + Serialize>(args: &T) -> Result<Vec<u8>> {
    with_scratch(|buf| write_multi(buf, args))
}

thread_local! {
    /// Where `to_vec` builds a value before copying it out at its exact
    /// size: one allocation and one copy instead of growing a fresh vector
    /// several times (that growing was a third of the time to encode a
    /// 2.6 KB message).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A scratch buffer larger than this is released after use rather than
/// kept for the thread's lifetime.
const SCRATCH_KEEP: usize = 64 * 1024;

/// Runs `fill` on this thread's scratch buffer and returns a copy of what it
/// wrote; on a nested call (a `Serialize` impl that calls `to_vec`) or while
/// the thread is exiting, on a fresh vector.
fn with_scratch(fill: impl FnOnce(&mut Vec<u8>) -> Result<()>) -> Result<Vec<u8>> {
    let mut fill = Some(fill);
    let pooled = SCRATCH.try_with(|cell| {
        let mut buf = cell.try_borrow_mut().ok()?;
        let fill = fill.take()?;
        buf.clear();
        let result = fill(&mut buf).map(|()| buf.as_slice().to_vec());
        if buf.capacity() > SCRATCH_KEEP {
            *buf = Vec::new();
        }
        Some(result)
    });
    match (pooled, fill) {
        (Ok(Some(result)), _) => result,
        (_, Some(fill)) => {
            let mut buf = Vec::new();
            fill(&mut buf).map(|()| buf)
        }
        // `fill` only goes missing once it has run and produced a result.
        (_, None) => Err(ser::Error::custom("scratch buffer unavailable")),
    }
}

/// Appends a tuple of arguments to `buf` as several lua-seri values; see
/// [`to_vec_multi`]. This is the allocation-free path for a request body.
///
/// On error `buf` is left as it was.
///
/// # Errors
///
/// As [`to_vec`].
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::write_multi;
///
/// let mut payload = Vec::new();
/// write_multi(&mut payload, &("get", 7))?;
/// assert_eq!(payload, [0x1c, b'g', b'e', b't', 0x0a, 0x07]);
/// # Ok::<(), skycluster::codec::luaseri::Error>(())
/// ```
pub fn write_multi<T: ?Sized + Serialize>(buf: &mut Vec<u8>, args: &T) -> Result<()> {
    let start = buf.len();
    let result = args.serialize(MultiSerializer {
        inner: &mut Serializer::new(buf),
    });
    if result.is_err() {
        buf.truncate(start);
    }
    result
}

/// Serializes `value` into a [`Value`], as packing and unpacking it would.
///
/// # Errors
///
/// As [`to_vec`].
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::to_value;
///
/// let v = to_value(&vec![Some(1), None])?;
/// assert_eq!(v.to_string(), "{1, nil}");
/// # Ok::<(), skycluster::codec::luaseri::Error>(())
/// ```
pub fn to_value<T: ?Sized + Serialize>(value: &T) -> Result<Value> {
    let bytes = to_vec(value)?;
    let mut reader = Reader::new(&bytes);
    reader.read_value(0, "value")
}

macro_rules! serialize_small_ints {
    ($($method:ident: $t:ty),*) => {$(
        #[inline]
        fn $method(self, v: $t) -> Result<()> {
            write_integer(self.out, i64::from(v));
            Ok(())
        }
    )*};
}

impl<'b, 'a> ser::Serializer for &'b mut Serializer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = SeqSerializer<'b, 'a>;
    type SerializeTuple = SeqSerializer<'b, 'a>;
    type SerializeTupleStruct = SeqSerializer<'b, 'a>;
    type SerializeTupleVariant = SeqSerializer<'b, 'a>;
    type SerializeMap = MapSerializer<'b, 'a>;
    type SerializeStruct = MapSerializer<'b, 'a>;
    type SerializeStructVariant = MapSerializer<'b, 'a>;

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<()> {
        write_bool(self.out, v);
        Ok(())
    }

    serialize_small_ints!(
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32
    );

    #[inline]
    fn serialize_u64(self, v: u64) -> Result<()> {
        let v = i64::try_from(v).map_err(|_| Error::out_of_range(v))?;
        write_integer(self.out, v);
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<()> {
        let v = i64::try_from(v).map_err(|_| Error::out_of_range(v))?;
        write_integer(self.out, v);
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<()> {
        let v = i64::try_from(v).map_err(|_| Error::out_of_range(v))?;
        write_integer(self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_f32(self, v: f32) -> Result<()> {
        write_real(self.out, f64::from(v));
        Ok(())
    }

    #[inline]
    fn serialize_f64(self, v: f64) -> Result<()> {
        write_real(self.out, v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<()> {
        let mut utf8 = [0; 4];
        write_string(self.out, v.encode_utf8(&mut utf8).as_bytes())
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result<()> {
        write_string(self.out, v.as_bytes())
    }

    #[inline]
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        write_string(self.out, v)
    }

    #[inline]
    fn serialize_none(self) -> Result<()> {
        write_nil(self.out);
        Ok(())
    }

    #[inline]
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }

    #[inline]
    fn serialize_unit(self) -> Result<()> {
        write_nil(self.out);
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        write_nil(self.out);
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<()> {
        write_string(self.out, variant.as_bytes())
    }

    #[inline]
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<()> {
        if name == LIGHTUSERDATA_TOKEN {
            return self.light_userdata(value);
        }
        if name == VALUES_TOKEN && self.depth == 0 {
            // At the top level, `Values` is as many values as it holds.
            return value.serialize(MultiSerializer { inner: self });
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        self.open_variant(variant)?;
        value.serialize(&mut *self)?;
        self.close();
        Ok(())
    }

    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq> {
        SeqSerializer::open(self, len, false)
    }

    #[inline]
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple> {
        SeqSerializer::open(self, Some(len), false)
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        SeqSerializer::open(self, Some(len), false)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        self.open_variant(variant)?;
        SeqSerializer::open(self, Some(len), true)
    }

    #[inline]
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        MapSerializer::open(self, false)
    }

    #[inline]
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        MapSerializer::open(self, false)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        self.open_variant(variant)?;
        MapSerializer::open(self, true)
    }
}

/// Writes an array table, or pairs `[i] = v` when the length isn't known.
#[derive(Debug)]
pub struct SeqSerializer<'b, 'a> {
    ser: &'b mut Serializer<'a>,
    /// The announced array count; `None` when writing pairs.
    expected: Option<usize>,
    written: usize,
    /// Inside `{variant = {...}}`, which needs closing too.
    variant: bool,
}

impl<'b, 'a> SeqSerializer<'b, 'a> {
    #[inline]
    fn open(ser: &'b mut Serializer<'a>, len: Option<usize>, variant: bool) -> Result<Self> {
        if variant && ser.depth > MAX_PACK_DEPTH {
            return Err(ErrorKind::TooDeepToPack {
                limit: MAX_PACK_DEPTH,
            }
            .into());
        }
        ser.open(len.unwrap_or(0))?;
        Ok(SeqSerializer {
            ser,
            expected: len,
            written: 0,
            variant,
        })
    }

    #[inline]
    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.written += 1;
        if self.expected.is_none() {
            let key = i64::try_from(self.written).map_err(|_| Error::out_of_range(self.written))?;
            if self.ser.depth > MAX_PACK_DEPTH {
                return Err(ErrorKind::TooDeepToPack {
                    limit: MAX_PACK_DEPTH,
                }
                .into());
            }
            write_integer(self.ser.out, key);
        }
        self.ser.element(value)
    }

    #[inline]
    fn finish(self) -> Result<()> {
        if let Some(expected) = self.expected {
            if expected != self.written {
                return Err(ser::Error::custom(format_args!(
                    "sequence announced {expected} elements but wrote {}",
                    self.written
                )));
            }
        }
        self.ser.close();
        if self.variant {
            self.ser.close();
        }
        Ok(())
    }
}

impl ser::SerializeSeq for SeqSerializer<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }

    #[inline]
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeTuple for SeqSerializer<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }

    #[inline]
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for SeqSerializer<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }

    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for SeqSerializer<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }

    fn end(self) -> Result<()> {
        self.finish()
    }
}

/// Writes a table of key/value pairs: a map, a struct or a struct variant.
#[derive(Debug)]
pub struct MapSerializer<'b, 'a> {
    ser: &'b mut Serializer<'a>,
    variant: bool,
}

impl<'b, 'a> MapSerializer<'b, 'a> {
    #[inline]
    fn open(ser: &'b mut Serializer<'a>, variant: bool) -> Result<Self> {
        if variant && ser.depth > MAX_PACK_DEPTH {
            return Err(ErrorKind::TooDeepToPack {
                limit: MAX_PACK_DEPTH,
            }
            .into());
        }
        ser.open(0)?;
        Ok(MapSerializer { ser, variant })
    }

    #[inline]
    fn field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        if self.ser.depth > MAX_PACK_DEPTH {
            return Err(ErrorKind::TooDeepToPack {
                limit: MAX_PACK_DEPTH,
            }
            .into());
        }
        write_string(self.ser.out, key.as_bytes())?;
        value.serialize(&mut *self.ser)
    }

    #[inline]
    fn finish(self) -> Result<()> {
        self.ser.close();
        if self.variant {
            self.ser.close();
        }
        Ok(())
    }
}

impl ser::SerializeMap for MapSerializer<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<()> {
        let start = self.ser.out.len();
        self.ser.element(key)?;
        check_written_key(self.ser.out, start)
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.ser.element(value)
    }

    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeStruct for MapSerializer<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.field(key, value)
    }

    #[inline]
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for MapSerializer<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.field(key, value)
    }

    fn end(self) -> Result<()> {
        self.finish()
    }
}

/// Writes a tuple as several top-level values and anything else as one.
struct MultiSerializer<'b, 'a> {
    inner: &'b mut Serializer<'a>,
}

/// The fields of a multi-value tuple, each a top-level value.
struct MultiTuple<'b, 'a> {
    inner: &'b mut Serializer<'a>,
}

impl ser::SerializeTuple for MultiTuple<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.inner)
    }

    #[inline]
    fn end(self) -> Result<()> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for MultiTuple<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.inner)
    }

    fn end(self) -> Result<()> {
        Ok(())
    }
}

/// Forwards methods to the single-value serializer.
macro_rules! forward_one {
    ($($method:ident($($arg:ident: $t:ty),*);)*) => {$(
        fn $method(self, $($arg: $t),*) -> Result<()> {
            ser::Serializer::$method(self.inner, $($arg),*)
        }
    )*};
}

impl<'b, 'a> ser::Serializer for MultiSerializer<'b, 'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = SeqSerializer<'b, 'a>;
    type SerializeTuple = MultiTuple<'b, 'a>;
    type SerializeTupleStruct = MultiTuple<'b, 'a>;
    type SerializeTupleVariant = SeqSerializer<'b, 'a>;
    type SerializeMap = MapSerializer<'b, 'a>;
    type SerializeStruct = MapSerializer<'b, 'a>;
    type SerializeStructVariant = MapSerializer<'b, 'a>;

    forward_one! {
        serialize_bool(v: bool);
        serialize_i8(v: i8);
        serialize_i16(v: i16);
        serialize_i32(v: i32);
        serialize_i64(v: i64);
        serialize_i128(v: i128);
        serialize_u8(v: u8);
        serialize_u16(v: u16);
        serialize_u32(v: u32);
        serialize_u64(v: u64);
        serialize_u128(v: u128);
        serialize_f32(v: f32);
        serialize_f64(v: f64);
        serialize_char(v: char);
        serialize_str(v: &str);
        serialize_bytes(v: &[u8]);
        serialize_none();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<()> {
        value.serialize(self.inner)
    }

    /// `()` is the empty argument list: `skynet.pack()` writes nothing.
    fn serialize_unit(self) -> Result<()> {
        Ok(())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<()> {
        if name == LIGHTUSERDATA_TOKEN {
            return ser::Serializer::serialize_newtype_struct(self.inner, name, value);
        }
        // A newtype around an argument tuple is still an argument list.
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        ser::Serializer::serialize_newtype_variant(self.inner, name, index, variant, value)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq> {
        ser::Serializer::serialize_seq(self.inner, len)
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple> {
        Ok(MultiTuple { inner: self.inner })
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Ok(MultiTuple { inner: self.inner })
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        ser::Serializer::serialize_tuple_variant(self.inner, name, index, variant, len)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap> {
        ser::Serializer::serialize_map(self.inner, len)
    }

    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Self::SerializeStruct> {
        ser::Serializer::serialize_struct(self.inner, name, len)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        ser::Serializer::serialize_struct_variant(self.inner, name, index, variant, len)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Point {
        x: i32,
        y: Option<i32>,
    }

    #[derive(Serialize)]
    enum Shape {
        Dot,
        Circle(u8),
        Rect(u8, u8),
        Named { n: u8 },
    }

    #[test]
    fn structs_are_tables_with_string_keys() {
        let bytes = to_vec(&Point { x: 1, y: None }).unwrap();
        assert_eq!(
            bytes,
            [0x06, 0x0c, b'x', 0x0a, 0x01, 0x0c, b'y', 0x00, 0x00]
        );
    }

    #[test]
    fn enums_take_their_lua_forms() {
        assert_eq!(to_vec(&Shape::Dot).unwrap(), [0x1c, b'D', b'o', b't']);
        assert_eq!(
            to_vec(&Shape::Circle(3)).unwrap(),
            [0x06, 0x34, b'C', b'i', b'r', b'c', b'l', b'e', 0x0a, 0x03, 0x00]
        );
        assert_eq!(
            to_vec(&Shape::Rect(1, 2)).unwrap(),
            [0x06, 0x24, b'R', b'e', b'c', b't', 0x16, 0x0a, 1, 0x0a, 2, 0x00, 0x00]
        );
        assert_eq!(
            to_vec(&Shape::Named { n: 0 }).unwrap(),
            [0x06, 0x2c, b'N', b'a', b'm', b'e', b'd', 0x06, 0x0c, b'n', 0x02, 0x00, 0x00]
        );
    }

    #[test]
    fn sequences_of_unknown_length_become_pairs() {
        struct Unsized;
        impl Serialize for Unsized {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq([7u8, 8].iter().filter(|_| true))
            }
        }
        assert_eq!(
            to_vec(&Unsized).unwrap(),
            [0x06, 0x0a, 0x01, 0x0a, 0x07, 0x0a, 0x02, 0x0a, 0x08, 0x00]
        );
    }

    #[test]
    fn maps_keep_nil_values_and_refuse_nil_keys() {
        let mut m = BTreeMap::new();
        m.insert("a", None::<i32>);
        assert_eq!(to_vec(&m).unwrap(), [0x06, 0x0c, b'a', 0x00, 0x00]);
        let mut m = BTreeMap::new();
        m.insert(None::<i32>, 1);
        assert_eq!(to_vec(&m), Err(ErrorKind::InvalidKey("nil").into()));
    }

    #[test]
    fn light_userdata_survives_serde() {
        let bytes = to_vec(&Value::LightUserdata(0x1122)).unwrap();
        assert_eq!(bytes, [0x03, 0x22, 0x11, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn to_vec_may_be_called_from_inside_a_serialize_impl() {
        struct PackedInside;
        impl Serialize for PackedInside {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let inner = to_vec(&1).map_err(ser::Error::custom)?;
                s.serialize_bytes(&inner)
            }
        }
        assert_eq!(to_vec(&PackedInside).unwrap(), [0x14, 0x0a, 0x01]);
        // A large value doesn't stay pinned in the scratch buffer.
        let big = vec![0u8; SCRATCH_KEEP * 2];
        assert_eq!(
            to_vec(serde_bytes::Bytes::new(&big)).unwrap().len(),
            big.len() + 5
        );
        assert_eq!(SCRATCH.with(|b| b.borrow().capacity()), 0);
        assert!(to_vec(&u64::MAX).is_err());
        assert_eq!(to_vec(&2).unwrap(), [0x0a, 0x02]);
    }

    #[test]
    fn a_failed_write_leaves_the_buffer_alone() {
        let mut buf = vec![1];
        assert!(write(&mut buf, &(1u8, u64::MAX)).is_err());
        assert_eq!(buf, [1]);
        assert!(write_multi(&mut buf, &(1u8, u64::MAX)).is_err());
        assert_eq!(buf, [1]);
    }
}
