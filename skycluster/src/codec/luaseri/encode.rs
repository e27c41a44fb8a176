//! Writing lua-seri: the tag and payload writers shared by [`pack`] and the
//! serde [`Serializer`](super::Serializer).
//!
//! Every writer appends to a `Vec<u8>` and picks the encoding Skynet's
//! `lua-seri.c` picks, so packing the same Lua data gives the same bytes.

use super::error::{Error, ErrorKind, Result};
use super::value::Value;
use super::MAX_PACK_DEPTH;

pub(crate) const TYPE_NIL: u8 = 0;
pub(crate) const TYPE_BOOLEAN: u8 = 1;
pub(crate) const TYPE_NUMBER: u8 = 2;
pub(crate) const TYPE_USERDATA: u8 = 3;
pub(crate) const TYPE_SHORT_STRING: u8 = 4;
pub(crate) const TYPE_LONG_STRING: u8 = 5;
pub(crate) const TYPE_TABLE: u8 = 6;

pub(crate) const NUMBER_ZERO: u8 = 0;
pub(crate) const NUMBER_BYTE: u8 = 1;
pub(crate) const NUMBER_WORD: u8 = 2;
pub(crate) const NUMBER_DWORD: u8 = 4;
pub(crate) const NUMBER_QWORD: u8 = 6;
pub(crate) const NUMBER_REAL: u8 = 8;

/// Cookie 31 in a table tag: the array count follows as a number value.
pub(crate) const COOKIE_ESCAPE: u8 = 31;

/// The tag byte of a real number.
pub(crate) const TAG_REAL: u8 = tag(TYPE_NUMBER, NUMBER_REAL);

pub(crate) const fn tag(ty: u8, cookie: u8) -> u8 {
    ty | (cookie << 3)
}

#[inline]
pub(crate) fn write_nil(buf: &mut Vec<u8>) {
    buf.push(TYPE_NIL);
}

#[inline]
pub(crate) fn write_bool(buf: &mut Vec<u8>, v: bool) {
    buf.push(tag(TYPE_BOOLEAN, u8::from(v)));
}

/// Skynet's width rules: zero, then 8 bytes if it doesn't fit in an i32,
/// then a signed dword for negatives, then the smallest unsigned width.
#[inline]
pub(crate) fn write_integer(buf: &mut Vec<u8>, v: i64) {
    if v == 0 {
        buf.push(tag(TYPE_NUMBER, NUMBER_ZERO));
    } else if let Ok(small) = i32::try_from(v) {
        if small < 0 {
            let b = small.to_le_bytes();
            buf.extend_from_slice(&[tag(TYPE_NUMBER, NUMBER_DWORD), b[0], b[1], b[2], b[3]]);
        } else if small < 0x100 {
            // `small` is in 1..=255 here.
            buf.extend_from_slice(&[tag(TYPE_NUMBER, NUMBER_BYTE), small.to_le_bytes()[0]]);
        } else if small < 0x10000 {
            let b = small.to_le_bytes();
            buf.extend_from_slice(&[tag(TYPE_NUMBER, NUMBER_WORD), b[0], b[1]]);
        } else {
            let b = small.to_le_bytes();
            buf.extend_from_slice(&[tag(TYPE_NUMBER, NUMBER_DWORD), b[0], b[1], b[2], b[3]]);
        }
    } else {
        let b = v.to_le_bytes();
        buf.extend_from_slice(&[
            tag(TYPE_NUMBER, NUMBER_QWORD),
            b[0],
            b[1],
            b[2],
            b[3],
            b[4],
            b[5],
            b[6],
            b[7],
        ]);
    }
}

/// Reals are never narrowed, even when integral (Skynet packs `1.0` as a real).
#[inline]
pub(crate) fn write_real(buf: &mut Vec<u8>, v: f64) {
    let b = v.to_bits().to_le_bytes();
    buf.extend_from_slice(&[TAG_REAL, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
}

#[inline]
pub(crate) fn write_string(buf: &mut Vec<u8>, s: &[u8]) -> Result<()> {
    let len = s.len();
    if len < 32 {
        // `len` < 32 so the shift stays in the byte.
        buf.reserve(1 + len);
        buf.push(tag(TYPE_SHORT_STRING, len as u8));
    } else if let Ok(len16) = u16::try_from(len) {
        let b = len16.to_le_bytes();
        buf.reserve(3 + len);
        buf.extend_from_slice(&[tag(TYPE_LONG_STRING, 2), b[0], b[1]]);
    } else if let Ok(len32) = u32::try_from(len) {
        let b = len32.to_le_bytes();
        buf.reserve(5 + len);
        buf.extend_from_slice(&[tag(TYPE_LONG_STRING, 4), b[0], b[1], b[2], b[3]]);
    } else {
        return Err(ErrorKind::StringTooLong { len }.into());
    }
    buf.extend_from_slice(s);
    Ok(())
}

/// The header of a table whose array part holds `array_len` values.
#[inline]
pub(crate) fn write_table_header(buf: &mut Vec<u8>, array_len: usize) -> Result<()> {
    if array_len < usize::from(COOKIE_ESCAPE) {
        // `array_len` < 31 so the shift stays in the byte.
        buf.push(tag(TYPE_TABLE, array_len as u8));
    } else {
        buf.push(tag(TYPE_TABLE, COOKIE_ESCAPE));
        let n = i64::try_from(array_len).map_err(|_| Error::out_of_range(array_len))?;
        write_integer(buf, n);
    }
    Ok(())
}

/// Ends a table's key/value part.
#[inline]
pub(crate) fn write_table_end(buf: &mut Vec<u8>) {
    buf.push(TYPE_NIL);
}

#[inline]
pub(crate) fn write_light_userdata(buf: &mut Vec<u8>, p: u64) {
    let b = p.to_le_bytes();
    buf.extend_from_slice(&[
        tag(TYPE_USERDATA, 0),
        b[0],
        b[1],
        b[2],
        b[3],
        b[4],
        b[5],
        b[6],
        b[7],
    ]);
}

/// Checks the key that starts at `buf[start..]`: a nil key would end the
/// table early, and Skynet's unpacker rejects a NaN key.
#[inline]
pub(crate) fn check_written_key(buf: &[u8], start: usize) -> Result<()> {
    match buf.get(start..) {
        Some([t, ..]) if t & 7 == TYPE_NIL => Err(ErrorKind::InvalidKey("nil").into()),
        Some([TAG_REAL, rest @ ..]) => {
            let bits = rest
                .get(..8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_le_bytes);
            match bits {
                Some(bits) if f64::from_bits(bits).is_nan() => {
                    Err(ErrorKind::InvalidKey("NaN").into())
                }
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// Packs `values` as `skynet.pack(v1, ..., vn)` does: one after the other,
/// trailing nils included.
///
/// # Errors
///
/// [`ErrorKind::TooDeepToPack`] for tables nested deeper than
/// [`MAX_PACK_DEPTH`](super::MAX_PACK_DEPTH) (Skynet refuses them too),
/// [`ErrorKind::InvalidKey`] for a nil or NaN table key, and
/// [`ErrorKind::StringTooLong`] for a string over 4 GiB.
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::{pack, Value};
///
/// let bytes = pack(&[Value::from("echo"), Value::from(1), Value::Nil])?;
/// assert_eq!(bytes, [0x24, b'e', b'c', b'h', b'o', 0x0a, 0x01, 0x00]);
/// assert!(pack(&[])?.is_empty());
/// # Ok::<(), skycluster::codec::luaseri::Error>(())
/// ```
pub fn pack(values: &[Value]) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    pack_into(&mut buf, values)?;
    Ok(buf)
}

/// Appends the packed `values` to `buf`; see [`pack`].
///
/// On error `buf` is left as it was.
///
/// # Errors
///
/// As [`pack`].
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::{pack_into, Value};
///
/// let mut buf = vec![0xaa];
/// pack_into(&mut buf, &[Value::from(true)])?;
/// assert_eq!(buf, [0xaa, 0x09]);
/// # Ok::<(), skycluster::codec::luaseri::Error>(())
/// ```
pub fn pack_into(buf: &mut Vec<u8>, values: &[Value]) -> Result<()> {
    let start = buf.len();
    let result = values.iter().try_for_each(|v| write_value(buf, v, 0));
    if result.is_err() {
        buf.truncate(start);
    }
    result
}

/// Writes `v`, which sits at `depth` (0 for a top-level value, `L` inside a
/// table nested `L` deep), refusing what Skynet refuses.
pub(crate) fn write_value(buf: &mut Vec<u8>, v: &Value, depth: usize) -> Result<()> {
    if depth > MAX_PACK_DEPTH {
        return Err(ErrorKind::TooDeepToPack {
            limit: MAX_PACK_DEPTH,
        }
        .into());
    }
    match v {
        Value::Nil => write_nil(buf),
        Value::Boolean(b) => write_bool(buf, *b),
        Value::Integer(i) => write_integer(buf, *i),
        Value::Real(f) => write_real(buf, *f),
        Value::String(s) => write_string(buf, s)?,
        Value::LightUserdata(p) => write_light_userdata(buf, *p),
        Value::Table(t) => {
            write_table_header(buf, t.array.len())?;
            for item in &t.array {
                write_value(buf, item, depth + 1)?;
            }
            for (k, item) in &t.hash {
                match k {
                    Value::Nil => return Err(ErrorKind::InvalidKey("nil").into()),
                    Value::Real(f) if f.is_nan() => return Err(ErrorKind::InvalidKey("NaN").into()),
                    _ => {}
                }
                write_value(buf, k, depth + 1)?;
                write_value(buf, item, depth + 1)?;
            }
            write_table_end(buf);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::luaseri::Table;

    fn int_bytes(v: i64) -> Vec<u8> {
        let mut buf = Vec::new();
        write_integer(&mut buf, v);
        buf
    }

    #[test]
    fn integers_use_skynets_widths() {
        assert_eq!(int_bytes(0), [0x02]);
        assert_eq!(int_bytes(1), [0x0a, 0x01]);
        assert_eq!(int_bytes(255), [0x0a, 0xff]);
        assert_eq!(int_bytes(256), [0x12, 0x00, 0x01]);
        assert_eq!(int_bytes(65535), [0x12, 0xff, 0xff]);
        assert_eq!(int_bytes(65536), [0x22, 0x00, 0x00, 0x01, 0x00]);
        assert_eq!(int_bytes(-1), [0x22, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            int_bytes(i64::from(i32::MAX)),
            [0x22, 0xff, 0xff, 0xff, 0x7f]
        );
        assert_eq!(
            int_bytes(i64::from(i32::MIN)),
            [0x22, 0x00, 0x00, 0x00, 0x80]
        );
        assert_eq!(
            int_bytes(2_147_483_648),
            [0x32, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00]
        );
        assert_eq!(int_bytes(i64::MIN), [0x32, 0, 0, 0, 0, 0, 0, 0, 0x80]);
    }

    #[test]
    fn strings_switch_form_at_32_and_65536_bytes() {
        let mut buf = Vec::new();
        write_string(&mut buf, b"").unwrap();
        assert_eq!(buf, [0x04]);
        buf.clear();
        write_string(&mut buf, &[b'a'; 31]).unwrap();
        assert_eq!(buf[0], 0xfc);
        buf.clear();
        write_string(&mut buf, &[b'a'; 32]).unwrap();
        assert_eq!(buf[..3], [0x15, 0x20, 0x00]);
        buf.clear();
        write_string(&mut buf, &[b'a'; 65536]).unwrap();
        assert_eq!(buf[..5], [0x25, 0x00, 0x00, 0x01, 0x00]);
    }

    #[test]
    fn table_headers_escape_at_31() {
        let mut buf = Vec::new();
        write_table_header(&mut buf, 30).unwrap();
        assert_eq!(buf, [0xf6]);
        buf.clear();
        write_table_header(&mut buf, 31).unwrap();
        assert_eq!(buf, [0xfe, 0x0a, 0x1f]);
        buf.clear();
        write_table_header(&mut buf, 300).unwrap();
        assert_eq!(buf, [0xfe, 0x12, 0x2c, 0x01]);
    }

    fn nested(levels: usize, innermost: Table) -> Value {
        let mut v = Value::Table(innermost);
        for _ in 1..levels {
            v = Value::Table(Table::from(vec![v]));
        }
        v
    }

    #[test]
    fn depth_limit_matches_skynet() {
        let leaf = || Table::from(vec![Value::Integer(1)]);
        assert!(pack(&[nested(32, leaf())]).is_ok());
        assert_eq!(
            pack(&[nested(33, leaf())]),
            Err(ErrorKind::TooDeepToPack { limit: 32 }.into())
        );
        assert!(pack(&[nested(33, Table::new())]).is_ok());
        assert!(pack(&[nested(34, Table::new())]).is_err());
    }

    #[test]
    fn bad_keys_are_refused_and_leave_the_buffer_alone() {
        let mut t = Table::new();
        t.hash.push((Value::Real(f64::NAN), Value::Integer(1)));
        let mut buf = vec![1, 2];
        assert_eq!(
            pack_into(&mut buf, &[Value::Table(t)]),
            Err(ErrorKind::InvalidKey("NaN").into())
        );
        assert_eq!(buf, [1, 2]);
        let mut t = Table::new();
        t.hash.push((Value::Nil, Value::Integer(1)));
        assert_eq!(
            pack(&[Value::Table(t)]),
            Err(ErrorKind::InvalidKey("nil").into())
        );
    }

    #[test]
    fn written_keys_are_checked() {
        assert!(check_written_key(&[0x0a, 0x01], 0).is_ok());
        assert!(check_written_key(&[0x06, 0x00], 1).is_err());
        let mut buf = vec![];
        write_real(&mut buf, f64::NAN);
        assert!(check_written_key(&buf, 0).is_err());
        buf.clear();
        write_real(&mut buf, 1.5);
        assert!(check_written_key(&buf, 0).is_ok());
    }
}
