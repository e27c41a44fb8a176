//! Payload formats.
//!
//! A frame's payload is opaque bytes to the [`wire`](crate::wire) layer. A
//! typed service turns its calls into those bytes through a [`Codec`]:
//!
//! * [`Bincode`] (the default, feature `bincode`, on by default): compact,
//!   for calls between Rust nodes.
//! * `Postcard` (feature `postcard`): as compact, and maintained upstream
//!   where bincode is not (RUSTSEC-2025-0141); choose it on a trait with
//!   `#[service(codec = postcard)]`.
//! * [`Lua`]: lua-seri with Skynet's calling convention, for calls to and
//!   from Lua services. The format itself is in [`luaseri`].
//!
//! The codec is the one place a format is chosen: replacing bincode means
//! one new `Codec` implementation, nothing else. A `#[service]` names its
//! codec, or gets bincode: a build never switches a trait's format behind
//! its back because some crate turned a feature on.

#[cfg(feature = "bincode")]
mod bincode;
#[cfg(feature = "bincode")]
mod borrow_first;
mod lua;
pub mod luaseri;
#[cfg(feature = "postcard")]
mod postcard;

#[cfg(feature = "bincode")]
pub use self::bincode::Bincode;
pub use self::lua::Lua;
#[cfg(feature = "postcard")]
pub use self::postcard::Postcard;

/// Stands in for the bincode codec when the `bincode` feature is off, so
/// that a `#[service]` without a `codec = ..` fails to compile with a
/// message saying what to do, not with "cannot find type".
#[cfg(not(feature = "bincode"))]
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Bincode;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// How a typed service's calls and replies become payload bytes.
///
/// A call is a method name and a tuple of arguments; a reply is one value.
/// The server reads the method name first, then decodes the arguments with
/// the types of that method.
///
/// # Examples
///
/// ```
/// use skycluster::codec::{Bincode, Codec};
///
/// let payload = Bincode::encode_call("add", &(1i64, 2i64))?;
/// let (method, args) = Bincode::decode_method(&payload)?;
/// assert_eq!(method, b"add");
/// let (a, b): (i64, i64) = Bincode::decode_args(args)?;
/// assert_eq!(a + b, 3);
/// # Ok::<(), skycluster::codec::CodecError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a skycluster codec",
    note = "a `#[service]` without `codec = ..` uses bincode, which needs skycluster's \
            `bincode` feature (on by default); or name another codec: \
            `#[service(codec = postcard)]` (feature `postcard`), `#[service(codec = lua)]`"
)]
pub trait Codec: Send + Sync + 'static {
    /// Encodes a call of `method` with `args` (a tuple, one element per
    /// argument).
    ///
    /// # Errors
    ///
    /// When an argument cannot be represented in the format.
    fn encode_call<A: Serialize + ?Sized>(method: &str, args: &A) -> Result<Bytes, CodecError>;

    /// Encodes a call like [`Codec::encode_call`], appending it to `dst`.
    ///
    /// Generated clients encode through this into a buffer they reuse, so a
    /// small call allocates nothing for its payload. The provided version
    /// calls `encode_call` and copies; a format that can write into a
    /// `Vec` should override it. On error `dst` may hold part of the call.
    ///
    /// # Errors
    ///
    /// When an argument cannot be represented in the format.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::{Bincode, Codec};
    ///
    /// let mut buf = Vec::new();
    /// Bincode::encode_call_into("add", &(1i64, 2i64), &mut buf)?;
    /// assert_eq!(buf, Bincode::encode_call("add", &(1i64, 2i64))?);
    /// # Ok::<(), skycluster::codec::CodecError>(())
    /// ```
    fn encode_call_into<A: Serialize + ?Sized>(
        method: &str,
        args: &A,
        dst: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        dst.extend_from_slice(&Self::encode_call(method, args)?);
        Ok(())
    }

    /// Splits a call payload into its method name and the encoded arguments.
    ///
    /// The name is the bytes the caller sent, not checked as UTF-8: a Lua
    /// caller's method name is a Lua string, which can hold any bytes, and
    /// a dispatcher compares it with the names it knows as bytes. A name
    /// that is not UTF-8 names no Rust method, so it is answered as an
    /// unknown method, with the name shown lossily.
    ///
    /// # Errors
    ///
    /// When the payload does not start with a method name.
    fn decode_method(payload: &[u8]) -> Result<(&[u8], &[u8]), CodecError>;

    /// Decodes the arguments returned by [`Codec::decode_method`].
    ///
    /// # Errors
    ///
    /// When they do not decode as `A`.
    fn decode_args<A: DeserializeOwned>(args: &[u8]) -> Result<A, CodecError>;

    /// Encodes a method's return value.
    ///
    /// # Errors
    ///
    /// When the value cannot be represented in the format.
    fn encode_reply<R: Serialize + ?Sized>(reply: &R) -> Result<Bytes, CodecError>;

    /// Encodes a method's return value like [`Codec::encode_reply`],
    /// appending it to `dst`: generated servers encode replies into a
    /// buffer they reuse. The provided version calls `encode_reply` and
    /// copies. On error `dst` may hold part of the reply.
    ///
    /// # Errors
    ///
    /// When the value cannot be represented in the format.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::{Codec, Lua};
    ///
    /// let mut buf = Vec::new();
    /// Lua::encode_reply_into(&Ok::<u32, String>(7), &mut buf)?;
    /// assert_eq!(buf, Lua::encode_reply(&Ok::<u32, String>(7))?);
    /// # Ok::<(), skycluster::codec::CodecError>(())
    /// ```
    fn encode_reply_into<R: Serialize + ?Sized>(
        reply: &R,
        dst: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        dst.extend_from_slice(&Self::encode_reply(reply)?);
        Ok(())
    }

    /// Decodes a reply payload.
    ///
    /// # Errors
    ///
    /// When it does not decode as `R`.
    fn decode_reply<R: DeserializeOwned>(payload: &[u8]) -> Result<R, CodecError>;

    /// Decodes a reply whose type is [`Bytes`], the payload being shared.
    ///
    /// Generated clients call this, not [`Codec::decode_reply`], for a
    /// method that returns `Bytes`. A format that stores a byte string as
    /// it is, behind a length, can hand the reply out as a slice of
    /// `payload`: no copy and no allocation, whatever its size. The
    /// provided version decodes a copy with `decode_reply`.
    ///
    /// A shared reply keeps the memory it was read into alive, a chunk of
    /// the connection's read buffer, for as long as it is held: to keep a
    /// small reply for long, keep `Bytes::copy_from_slice(&reply)` instead.
    ///
    /// # Errors
    ///
    /// When the payload is not one byte string.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use skycluster::codec::{Bincode, Codec};
    ///
    /// let payload = Bincode::encode_reply(&Bytes::from_static(b"state"))?;
    /// let at = payload[1..].as_ptr();
    /// let reply = Bincode::decode_bytes_reply(payload)?;
    /// assert_eq!(reply, "state");
    /// // The payload's own memory, not a copy.
    /// assert_eq!(reply.as_ptr(), at);
    /// # Ok::<(), skycluster::codec::CodecError>(())
    /// ```
    fn decode_bytes_reply(payload: Bytes) -> Result<Bytes, CodecError> {
        Self::decode_reply(&payload)
    }

    /// Decodes the arguments of a method whose one argument is [`Bytes`],
    /// sharing `args` (the part of a request after the method name) as
    /// [`Codec::decode_bytes_reply`] shares a reply. The provided version
    /// decodes a copy with [`Codec::decode_args`].
    ///
    /// # Errors
    ///
    /// When the arguments are not one byte string.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use skycluster::codec::{Bincode, Codec};
    ///
    /// let payload = Bincode::encode_call("store", &(Bytes::from_static(b"blob"),))?;
    /// let (method, args) = Bincode::decode_method(&payload)?;
    /// assert_eq!(method, b"store");
    /// let (blob,) = Bincode::decode_bytes_args(payload.slice_ref(args))?;
    /// assert_eq!(blob, "blob");
    /// // Within the request's memory.
    /// assert_eq!(blob.as_ptr(), payload[payload.len() - 4..].as_ptr());
    /// # Ok::<(), skycluster::codec::CodecError>(())
    /// ```
    fn decode_bytes_args(args: Bytes) -> Result<(Bytes,), CodecError> {
        Self::decode_args(&args)
    }
}

/// A payload that could not be encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{format}: {reason}")]
pub struct CodecError {
    format: &'static str,
    reason: String,
}

impl CodecError {
    /// An error of `format` (`"bincode"`, `"lua-seri"`) saying why.
    pub fn new(format: &'static str, reason: impl ToString) -> CodecError {
        CodecError {
            format,
            reason: reason.to_string(),
        }
    }

    /// Why it failed.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}
