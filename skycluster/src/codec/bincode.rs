//! bincode 2 through serde: the default codec between Rust nodes.

use bincode::enc::write::SizeWriter;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

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
        bincode::serde::encode_into_std_write(method, dst, config())
            .and_then(|_| bincode::serde::encode_into_std_write(args, dst, config()))
            .map(|_| ())
            .map_err(|e| CodecError::new(FORMAT, e))
    }

    fn decode_method(payload: &[u8]) -> Result<(&str, &[u8]), CodecError> {
        let (method, used): (&str, usize) =
            bincode::serde::borrow_decode_from_slice(payload, config())
                .map_err(|e| CodecError::new(FORMAT, format!("no method name: {e}")))?;
        Ok((method, &payload[used..]))
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
        bincode::serde::encode_into_std_write(reply, dst, config())
            .map(|_| ())
            .map_err(|e| CodecError::new(FORMAT, e))
    }

    fn decode_reply<R: DeserializeOwned>(payload: &[u8]) -> Result<R, CodecError> {
        decode_exact(payload)
    }
}

/// Sizes the encoding first (no allocation), then writes it into a buffer
/// of exactly that size: one allocation, no regrowth, and a `Bytes` that
/// needs no separate shared header.
fn encode_exact(
    write: impl FnOnce(&mut Vec<u8>) -> Result<usize, bincode::error::EncodeError>,
    size: impl FnOnce(&mut SizeWriter) -> Result<(), bincode::error::EncodeError>,
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
    // Borrowing, owned values copy straight out of the slice; the owned
    // decoder would zero a buffer for every byte string first.
    let (value, used) = bincode::serde::borrow_decode_from_slice(bytes, config())
        .map_err(|e| CodecError::new(FORMAT, e))?;
    if used != bytes.len() {
        return Err(CodecError::new(
            FORMAT,
            format!("{} bytes left over after the value", bytes.len() - used),
        ));
    }
    Ok(value)
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
    fn garbage_has_no_method() {
        assert!(Bincode::decode_method(&[0xff, 0xff, 0xff]).is_err());
    }
}
