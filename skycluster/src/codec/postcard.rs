//! postcard through serde: a maintained compact format between Rust nodes.

use bytes::{Buf, Bytes};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Codec, CodecError};

const FORMAT: &str = "postcard";

/// Encodes with [postcard](https://docs.rs/postcard) 1.x through serde.
///
/// The choice for Rust-to-Rust services that want a maintained format:
/// bincode, the default, is unmaintained upstream (RUSTSEC-2025-0141).
/// Both are compact and carry no type information; postcard writes every
/// integer wider than a byte as a varint, so small numbers take less room
/// and large ones a little more. `benches/README.md` measures the two side
/// by side (`skycluster-postcard` in `compare`).
///
/// A call is the method name as a postcard string (a varint length, then
/// the bytes), then the arguments tuple. A reply is the return value.
///
/// Both sides of a service must use the same codec: name it on the trait,
/// `#[service(codec = postcard)]`. Needs the `postcard` feature.
///
/// # Examples
///
/// ```
/// use skycluster::codec::{Codec, Postcard};
///
/// let payload = Postcard::encode_call("add", &(1i64, 2i64))?;
/// let (method, args) = Postcard::decode_method(&payload)?;
/// assert_eq!(method, b"add");
/// let (a, b): (i64, i64) = Postcard::decode_args(args)?;
/// assert_eq!(a + b, 3);
/// # Ok::<(), skycluster::codec::CodecError>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Postcard;

impl Codec for Postcard {
    fn encode_call<A: Serialize + ?Sized>(method: &str, args: &A) -> Result<Bytes, CodecError> {
        let mut out = Vec::new();
        Self::encode_call_into(method, args, &mut out)?;
        Ok(Bytes::from(out))
    }

    fn encode_call_into<A: Serialize + ?Sized>(
        method: &str,
        args: &A,
        dst: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        put_varint(dst, method.len() as u64);
        dst.extend_from_slice(method.as_bytes());
        append(args, dst)
    }

    fn decode_method(payload: &[u8]) -> Result<(&[u8], &[u8]), CodecError> {
        let (name, rest) = byte_string(payload)
            .map_err(|e| CodecError::new(FORMAT, format!("no method name: {}", e.reason())))?;
        Ok((name, rest))
    }

    fn decode_args<A: DeserializeOwned>(args: &[u8]) -> Result<A, CodecError> {
        decode_exact(args)
    }

    fn encode_reply<R: Serialize + ?Sized>(reply: &R) -> Result<Bytes, CodecError> {
        let mut out = Vec::new();
        append(reply, &mut out)?;
        Ok(Bytes::from(out))
    }

    fn encode_reply_into<R: Serialize + ?Sized>(
        reply: &R,
        dst: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        append(reply, dst)
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

/// Serializes `value` after what `dst` holds.
fn append<T: Serialize + ?Sized>(value: &T, dst: &mut Vec<u8>) -> Result<(), CodecError> {
    // postcard's `Extend` flavour takes its writer by value: lend it the
    // buffer and take it back, so a reused buffer keeps its capacity.
    let taken = std::mem::take(dst);
    *dst = postcard::to_extend(value, taken).map_err(|e| CodecError::new(FORMAT, e))?;
    Ok(())
}

/// Decodes `T` and insists every byte was used: leftovers mean the two
/// sides disagree about the types.
///
/// postcard reads strings and byte strings from the input as borrowed
/// slices, checking a claimed length against what is there before it
/// allocates, and serde caps what a claimed sequence length reserves: a
/// length of 2^60 is an error, not an allocation.
fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let mut deserializer = postcard::Deserializer::from_bytes(bytes);
    let value = T::deserialize(&mut deserializer).map_err(|e| CodecError::new(FORMAT, e))?;
    let rest = deserializer
        .finalize()
        .map_err(|e| CodecError::new(FORMAT, e))?;
    if !rest.is_empty() {
        return Err(left_over(rest.len()));
    }
    Ok(value)
}

/// The byte string that is the whole of `encoded`, in its memory.
fn shared_byte_string(mut encoded: Bytes) -> Result<Bytes, CodecError> {
    let (string, rest) = byte_string(&encoded)?;
    if !rest.is_empty() {
        return Err(left_over(rest.len()));
    }
    let header = encoded.len() - string.len();
    encoded.advance(header);
    Ok(encoded)
}

/// Splits a byte string (a varint length, then that many bytes) off the
/// front of `encoded`.
fn byte_string(encoded: &[u8]) -> Result<(&[u8], &[u8]), CodecError> {
    let (len, header) = varint(encoded)?;
    let rest = &encoded[header..];
    match usize::try_from(len) {
        Ok(len) if len <= rest.len() => Ok(rest.split_at(len)),
        _ => Err(CodecError::new(
            FORMAT,
            format!("a length of {len} bytes where {} are left", rest.len()),
        )),
    }
}

/// A LEB128 varint of at most ten bytes (a `u64`), as postcard writes a
/// length, and the bytes it took.
fn varint(encoded: &[u8]) -> Result<(u64, usize), CodecError> {
    let mut value = 0u64;
    for (i, &byte) in encoded.iter().take(10).enumerate() {
        let bits = u64::from(byte & 0x7f);
        // The tenth byte holds the one bit left of 64.
        if i == 9 && byte > 1 {
            return Err(CodecError::new(FORMAT, "a length does not fit in 64 bits"));
        }
        value |= bits << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(CodecError::new(FORMAT, "a length is cut short"))
}

/// Writes `value` as [`varint`] reads it.
fn put_varint(dst: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        dst.push((value as u8) | 0x80);
        value >>= 7;
    }
    dst.push(value as u8);
}

fn left_over(n: usize) -> CodecError {
    CodecError::new(FORMAT, format!("{n} bytes left over after the value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_replies_round_trip() {
        let payload = Postcard::encode_call("create_room", &(3u32, vec!["a".to_owned()])).unwrap();
        let (method, args) = Postcard::decode_method(&payload).unwrap();
        assert_eq!(method, b"create_room");
        let (mode, players): (u32, Vec<String>) = Postcard::decode_args(args).unwrap();
        assert_eq!((mode, players), (3, vec!["a".to_owned()]));

        let reply = Postcard::encode_reply(&Ok::<_, String>(Some(7u64))).unwrap();
        assert_eq!(
            Postcard::decode_reply::<Result<Option<u64>, String>>(&reply).unwrap(),
            Ok(Some(7))
        );
    }

    #[test]
    fn method_names_and_values_are_written_as_postcard_writes_them() {
        for name in [
            "",
            "m",
            &"n".repeat(127),
            &"x".repeat(128),
            &"y".repeat(70_000),
        ] {
            let mut ours = Vec::new();
            Postcard::encode_call_into(name, &(7u8, 300u32), &mut ours).unwrap();
            let mut theirs = postcard::to_allocvec(name).unwrap();
            theirs.extend(postcard::to_allocvec(&(7u8, 300u32)).unwrap());
            assert_eq!(ours, theirs, "a name of {} bytes", name.len());
            let (method, args) = Postcard::decode_method(&ours).unwrap();
            assert_eq!(method, name.as_bytes());
            assert_eq!(Postcard::decode_args::<(u8, u32)>(args).unwrap(), (7, 300));
        }
    }

    #[test]
    fn leftover_bytes_are_a_type_mismatch() {
        let payload = Postcard::encode_call("m", &(1u8, 2u8)).unwrap();
        let (_, args) = Postcard::decode_method(&payload).unwrap();
        let err = Postcard::decode_args::<(u8,)>(args).unwrap_err();
        assert_eq!(
            err.to_string(),
            "postcard: 1 bytes left over after the value"
        );
        assert_eq!(Postcard::decode_args::<(u8, u8)>(args).unwrap(), (1, 2));
    }

    #[test]
    fn a_bytes_reply_or_argument_is_a_slice_of_the_payload() {
        for len in [0usize, 1, 127, 128, 300, 0x10001] {
            let data = Bytes::from(vec![9u8; len]);
            let reply = Postcard::encode_reply(&data).unwrap();
            let shared = Postcard::decode_bytes_reply(reply.clone()).unwrap();
            assert_eq!(shared, data, "len {len}");
            assert_eq!(shared.as_ptr(), reply[reply.len() - len..].as_ptr());
            assert_eq!(Postcard::decode_reply::<Bytes>(&reply).unwrap(), shared);

            let call = Postcard::encode_call("m", &(data.clone(),)).unwrap();
            let (_, args) = Postcard::decode_method(&call).unwrap();
            let args = call.slice_ref(args);
            let (arg,) = Postcard::decode_bytes_args(args.clone()).unwrap();
            assert_eq!(arg, data);
            assert_eq!(arg.as_ptr(), args[args.len() - len..].as_ptr());
        }
        let mut longer = Postcard::encode_reply(&Bytes::from_static(b"abc"))
            .unwrap()
            .to_vec();
        longer.push(0);
        assert!(Postcard::decode_bytes_reply(Bytes::from(longer)).is_err());
        assert!(Postcard::decode_bytes_args(Bytes::new()).is_err());
    }

    #[test]
    fn a_length_past_the_end_is_an_error_not_an_allocation() {
        // 2^62, as a varint.
        let mut huge = Vec::new();
        put_varint(&mut huge, 1 << 62);
        assert!(Postcard::decode_args::<(String,)>(&huge).is_err());
        assert!(Postcard::decode_reply::<Bytes>(&huge).is_err());
        assert!(Postcard::decode_reply::<serde_bytes::ByteBuf>(&huge).is_err());
        assert!(Postcard::decode_reply::<Vec<u64>>(&huge).is_err());
        let nested = [&[1, 1][..], &huge].concat();
        assert!(Postcard::decode_reply::<Option<Vec<String>>>(&nested).is_err());
        let err = Postcard::decode_method(&huge).unwrap_err();
        assert!(
            err.reason().starts_with("no method name: a length of"),
            "{err}"
        );
    }

    #[test]
    fn garbage_has_no_method() {
        assert!(Postcard::decode_method(&[]).is_err());
        assert!(Postcard::decode_method(&[0x80]).is_err());
        assert!(Postcard::decode_method(&[0xff; 11]).is_err());
        let err = Postcard::decode_method(&[5, b'a', b'b']).unwrap_err();
        assert_eq!(
            err.to_string(),
            "postcard: no method name: a length of 5 bytes where 2 are left"
        );
    }

    #[test]
    fn varints_round_trip_at_every_width() {
        for value in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            put_varint(&mut buf, value);
            assert_eq!(varint(&buf).unwrap(), (value, buf.len()), "{value}");
        }
    }
}
