//! bincode 2 through serde: the default codec between Rust nodes.

use bincode::enc::write::{SizeWriter, Writer};
use bincode::error::EncodeError;
use bytes::{Buf, Bytes};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::borrow_first::Seed;
use super::{Codec, CodecError};

const FORMAT: &str = "bincode";

/// Encodes with bincode 2 (standard config) through serde.
///
/// A call is the method name as a bincode string, then the arguments tuple.
/// A reply is the return value.
///
/// # Examples
///
/// ```
/// use skycluster::codec::{Bincode, Codec};
///
/// let reply = Bincode::encode_reply(&Some(7u32))?;
/// assert_eq!(Bincode::decode_reply::<Option<u32>>(&reply)?, Some(7));
/// # Ok::<(), skycluster::codec::CodecError>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Bincode;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

impl Codec for Bincode {
    fn encode_call<A: Serialize + ?Sized>(method: &str, args: &A) -> Result<Bytes, CodecError> {
        encode_exact(
            |w| {
                bincode::serde::encode_into_std_write(method, w, config())?;
                bincode::serde::encode_into_std_write(args, w, config())
            },
            |size| {
                bincode::serde::encode_into_writer(method, &mut *size, config())?;
                bincode::serde::encode_into_writer(args, size, config())
            },
        )
    }

    fn encode_call_into<A: Serialize + ?Sized>(
        method: &str,
        args: &A,
        dst: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        put_length_prefix(dst, method.len());
        dst.extend_from_slice(method.as_bytes());
        bincode::serde::encode_into_writer(args, Append(dst), config())
            .map_err(|e| CodecError::new(FORMAT, e))
    }

    fn decode_method(payload: &[u8]) -> Result<(&[u8], &[u8]), CodecError> {
        let no_name =
            |why: &dyn std::fmt::Display| CodecError::new(FORMAT, format!("no method name: {why}"));
        let (len, header) = length_prefix(payload).map_err(|e| no_name(&e.reason()))?;
        let rest = &payload[header..];
        let name = usize::try_from(len)
            .ok()
            .and_then(|len| rest.get(..len))
            .ok_or_else(|| no_name(&past_the_end(len, rest.len()).reason()))?;
        Ok((name, &rest[name.len()..]))
    }

    fn decode_args<A: DeserializeOwned>(args: &[u8]) -> Result<A, CodecError> {
        decode_exact(args)
    }

    fn encode_reply<R: Serialize + ?Sized>(reply: &R) -> Result<Bytes, CodecError> {
        encode_exact(
            |w| bincode::serde::encode_into_std_write(reply, w, config()),
            |size| bincode::serde::encode_into_writer(reply, size, config()),
        )
    }

    fn encode_reply_into<R: Serialize + ?Sized>(
        reply: &R,
        dst: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        bincode::serde::encode_into_writer(reply, Append(dst), config())
            .map_err(|e| CodecError::new(FORMAT, e))
    }

    fn decode_reply<R: DeserializeOwned>(payload: &[u8]) -> Result<R, CodecError> {
        decode_exact(payload)
    }

    fn decode_bytes_reply(payload: Bytes) -> Result<Bytes, CodecError> {
        shared_byte_string(payload)
    }

    fn decode_bytes_args(args: Bytes) -> Result<(Bytes,), CodecError> {
        // A tuple adds nothing around its elements.
        shared_byte_string(args).map(|bytes| (bytes,))
    }
}

/// The byte string that is the whole of `encoded`, in its memory.
#[inline]
fn shared_byte_string(mut encoded: Bytes) -> Result<Bytes, CodecError> {
    let (len, header) = length_prefix(&encoded)?;
    let body = encoded.len() - header;
    match usize::try_from(len) {
        Ok(len) if len == body => {
            encoded.advance(header);
            Ok(encoded)
        }
        Ok(len) if len < body => Err(left_over(body - len)),
        _ => Err(past_the_end(len, body)),
    }
}

/// The length a string or byte string starts with, and the bytes it
/// took.
///
/// Read by hand, as bincode's specification lays it out (a varint: one
/// byte below 251, else a marker byte 251, 252 or 253 and a little-endian
/// `u16`, `u32` or `u64`): bincode's own decoder takes several times the
/// instructions for these few bytes, on every call's method name and every
/// `Bytes` reply.
///
/// Nearly every length is one byte: that case is inlined, the rest is not.
#[inline]
fn length_prefix(encoded: &[u8]) -> Result<(u64, usize), CodecError> {
    match encoded.first() {
        Some(&short @ 0..=250) => Ok((u64::from(short), 1)),
        _ => long_length_prefix(encoded),
    }
}

/// [`length_prefix`] past its one-byte case (which it never sees): a
/// marker, then a little-endian length of two, four or eight bytes.
fn long_length_prefix(encoded: &[u8]) -> Result<(u64, usize), CodecError> {
    let (&marker, rest) = encoded.split_first().ok_or_else(cut_short)?;
    Ok(match marker {
        251 => (u64::from(u16::from_le_bytes(le(rest)?)), 3),
        252 => (u64::from(u32::from_le_bytes(le(rest)?)), 5),
        253 => (u64::from_le_bytes(le(rest)?), 9),
        _ => {
            return Err(CodecError::new(
                FORMAT,
                format!("{marker} cannot start a length"),
            ))
        }
    })
}

fn cut_short() -> CodecError {
    CodecError::new(FORMAT, "a length is cut short")
}

/// Writes the length a string starts with, as [`length_prefix`] reads it.
#[inline]
fn put_length_prefix(dst: &mut Vec<u8>, len: usize) {
    match u8::try_from(len) {
        Ok(short @ 0..=250) => dst.push(short),
        _ => put_long_length_prefix(dst, len),
    }
}

fn put_long_length_prefix(dst: &mut Vec<u8>, len: usize) {
    match (u16::try_from(len), u32::try_from(len)) {
        (Ok(len), _) => {
            dst.push(251);
            dst.extend_from_slice(&len.to_le_bytes());
        }
        (_, Ok(len)) => {
            dst.push(252);
            dst.extend_from_slice(&len.to_le_bytes());
        }
        _ => {
            dst.push(253);
            dst.extend_from_slice(&(len as u64).to_le_bytes());
        }
    }
}

fn past_the_end(len: u64, there: usize) -> CodecError {
    CodecError::new(
        FORMAT,
        format!("a length of {len} bytes where {there} are left"),
    )
}

/// The first `N` bytes of `rest`, for a length of that many bytes.
fn le<const N: usize>(rest: &[u8]) -> Result<[u8; N], CodecError> {
    rest.get(..N)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(cut_short)
}

/// Appends to a `Vec`: bincode's writer for `std::io::Write` would wrap
/// every write in an `io::Result` that cannot fail.
struct Append<'a>(&'a mut Vec<u8>);

impl Writer for Append<'_> {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// Sizes the encoding first (no allocation), then writes it into a buffer
/// of exactly that size: one allocation, no regrowth, and a `Bytes` that
/// needs no separate shared header.
fn encode_exact(
    write: impl FnOnce(&mut Vec<u8>) -> Result<usize, EncodeError>,
    size: impl FnOnce(&mut SizeWriter) -> Result<(), EncodeError>,
) -> Result<Bytes, CodecError> {
    let mut sized = SizeWriter::default();
    size(&mut sized).map_err(|e| CodecError::new(FORMAT, e))?;
    if sized.bytes_written == 0 {
        return Ok(Bytes::new());
    }
    let mut out = Vec::with_capacity(sized.bytes_written);
    write(&mut out).map_err(|e| CodecError::new(FORMAT, e))?;
    Ok(Bytes::from(out))
}

/// Decodes `T` and insists every byte was used: leftovers mean the two
/// sides disagree about the types.
fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    // Owned strings are read as borrowed ones and copied: bincode would
    // allocate (and zero) whatever length the input claims first.
    let (value, used) = bincode::serde::seed_decode_from_slice(Seed::new(), bytes, config())
        .map_err(|e| CodecError::new(FORMAT, e))?;
    if used != bytes.len() {
        return Err(left_over(bytes.len() - used));
    }
    Ok(value)
}

fn left_over(n: usize) -> CodecError {
    CodecError::new(FORMAT, format!("{n} bytes left over after the value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftover_bytes_are_a_type_mismatch() {
        let payload = Bincode::encode_call("m", &(1u8, 2u8)).unwrap();
        let (_, args) = Bincode::decode_method(&payload).unwrap();
        assert!(Bincode::decode_args::<(u8,)>(args).is_err());
        assert_eq!(Bincode::decode_args::<(u8, u8)>(args).unwrap(), (1, 2));
    }

    #[test]
    fn a_bytes_reply_or_argument_is_a_slice_of_the_payload() {
        let data = Bytes::from(vec![9u8; 300]);
        let reply = Bincode::encode_reply(&data).unwrap();
        let shared = Bincode::decode_bytes_reply(reply.clone()).unwrap();
        assert_eq!(shared, data);
        // 300 takes a three-byte varint.
        assert_eq!(shared.as_ptr(), reply[3..].as_ptr());
        assert_eq!(Bincode::decode_reply::<Bytes>(&reply).unwrap(), shared);

        let call = Bincode::encode_call("m", &(data.clone(),)).unwrap();
        let (_, args) = Bincode::decode_method(&call).unwrap();
        let args = call.slice_ref(args);
        let (arg,) = Bincode::decode_bytes_args(args.clone()).unwrap();
        assert_eq!(
            (arg.clone(),),
            Bincode::decode_args::<(Bytes,)>(&args).unwrap()
        );
        assert_eq!(arg.as_ptr(), args[3..].as_ptr());
    }

    #[test]
    fn byte_strings_are_read_as_bincode_writes_them_at_every_length_form() {
        for len in [0usize, 1, 250, 251, 252, 0xffff, 0x10000, 0x10001] {
            let data = Bytes::from(vec![3u8; len]);
            let reply = Bincode::encode_reply(&data).unwrap();
            let shared = Bincode::decode_bytes_reply(reply.clone()).unwrap();
            assert_eq!(shared, data, "len {len}");
            assert_eq!(shared.as_ptr(), reply[reply.len() - len..].as_ptr());
        }
        // Lengths that say more than there is, or a marker bincode gives
        // no byte string.
        for bad in [
            &b"\x05abc"[..],
            b"\xfb\x01",
            b"\xfd\xff\xff\xff\xff\xff\xff\xff\xff",
            b"\xfe",
            b"\xff",
        ] {
            assert!(Bincode::decode_bytes_reply(Bytes::copy_from_slice(bad)).is_err());
        }
    }

    #[test]
    fn a_bytes_reply_must_be_exactly_one_byte_string() {
        let reply = Bincode::encode_reply(&Bytes::from_static(b"abc")).unwrap();
        let mut longer = reply.to_vec();
        longer.push(0);
        let err = Bincode::decode_bytes_reply(Bytes::from(longer)).unwrap_err();
        assert!(err.reason().contains("1 bytes left over"), "{err}");
        let short = reply.slice(..reply.len() - 1);
        assert!(Bincode::decode_bytes_reply(short).is_err());
        assert!(Bincode::decode_bytes_args(Bytes::new()).is_err());
    }

    #[test]
    fn a_length_past_the_end_is_an_error_not_an_allocation() {
        // A string, a byte string and a string in a vector in an option,
        // each claiming 2^62 bytes (a varint: 253, then a u64).
        let huge = [253, 0, 0, 0, 0, 0, 0, 0, 0x40];
        let err = Bincode::decode_args::<(String,)>(&huge).unwrap_err();
        assert!(err.reason().contains("UnexpectedEnd"), "{err}");
        assert!(Bincode::decode_reply::<Bytes>(&huge).is_err());
        assert!(Bincode::decode_reply::<serde_bytes::ByteBuf>(&huge).is_err());
        let nested = [&[1, 1][..], &huge].concat();
        assert!(Bincode::decode_reply::<Option<Vec<String>>>(&nested).is_err());
        // What is there still reads.
        let fine = Bincode::encode_reply(&Some(vec!["a".to_owned(), "bc".to_owned()])).unwrap();
        assert_eq!(
            Bincode::decode_reply::<Option<Vec<String>>>(&fine).unwrap(),
            Some(vec!["a".to_owned(), "bc".to_owned()])
        );
    }

    #[test]
    fn garbage_has_no_method() {
        assert!(Bincode::decode_method(&[0xff, 0xff, 0xff]).is_err());
        // The format is named once, before the reason.
        let err = Bincode::decode_method(&[5, b'a', b'b']).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bincode: no method name: a length of 5 bytes where 2 are left"
        );
        // A name longer than the payload, or none at all.
        assert!(Bincode::decode_method(&[5, b'a', b'b']).is_err());
        assert!(Bincode::decode_method(&[]).is_err());
    }

    #[test]
    fn a_name_that_is_not_utf8_is_read_as_its_bytes() {
        let (method, args) = Bincode::decode_method(&[2, 0xc3, 0x28, 9]).unwrap();
        assert_eq!((method, args), (&[0xc3, 0x28][..], &[9][..]));
    }

    #[test]
    fn method_names_are_written_and_read_as_bincode_does() {
        let names = [
            "",
            "m",
            &"n".repeat(250),
            &"x".repeat(251),
            &"y".repeat(70_000),
        ];
        for name in names {
            let mut ours = Vec::new();
            Bincode::encode_call_into(name, &(7u8,), &mut ours).unwrap();
            let mut theirs = bincode::serde::encode_to_vec(name, config()).unwrap();
            theirs.push(7);
            assert_eq!(ours, theirs, "a name of {} bytes", name.len());
            let (method, args) = Bincode::decode_method(&ours).unwrap();
            assert_eq!((method, args), (name.as_bytes(), &[7][..]));
        }
    }
}
