//! lua-seri, the payload format of `skynet.pack` / `skynet.unpack`.
//!
//! A packed buffer is a sequence of Lua values back to back:
//! `skynet.pack("echo", 1, nil)` is three values, and the buffer has no
//! header, count or trailer. This module reads and writes that format
//! byte-for-byte as Skynet's `lua-seri.c` does.
//!
//! # Organization
//!
//! * [`Value`] and [`Table`]: dynamic Lua values, with [`pack`] and
//!   [`unpack`] for a whole sequence of them. `Value` prints as a Lua
//!   literal and parses from one ([`Value::from_str`](std::str::FromStr)).
//!   [`Values`] is any number of them as one serde value: a Lua
//!   function's `...` or its `return a, b, c`.
//! * serde: [`to_vec`] / [`from_slice`] turn one Rust value into one Lua
//!   value; [`to_vec_multi`] / [`from_slice_multi`] turn a tuple into
//!   several, the way `skynet.call(addr, "lua", "method", a, b)` sends its
//!   arguments. [`write()`] and [`write_multi`] append to a buffer you own.
//!   [`Serializer`] and [`Deserializer`] are there for custom drivers.
//! * [`Error`] and [`ErrorKind`]: every decode error names the byte offset.
//!
//! # How Rust types map to Lua
//!
//! | Rust | Lua |
//! |------|-----|
//! | `bool` | boolean |
//! | integers | integer, with Skynet's width rules; a `u64` above `i64::MAX` is an error |
//! | `f32`, `f64` | float (a real, never narrowed to an integer) |
//! | `char`, `str`, `String`, `serde_bytes` | string (raw bytes) |
//! | `Option<T>` | nil or the value |
//! | `()`, unit struct | nil |
//! | `Vec<T>`, slices, tuples, tuple structs | array table `{a, b, c}` |
//! | structs, maps | table with keys: `{name = "x", hp = 3}` |
//! | newtype struct | the inner value |
//! | unit enum variant | its name as a string: `"Idle"` |
//! | other enum variants | a one-key table: `{Move = {x = 1, y = 2}}`, `{Hit = 30}`, `{Pair = {1, 2}}` |
//! | [`Values`] | at the top level, every value left (any number); inside a table, an array table |
//!
//! Deserializing is lenient where Lua programs are: an integer reads into a
//! float field, and a float with an exact integral value reads into an
//! integer field (Lua 5.4 code often produces `3.0` where it means `3`). A
//! sequence also reads from a table whose integer keys arrived as pairs
//! (a `__pairs` proxy, or holes: missing keys read as nil, so a
//! `Vec<Option<T>>` gets `None` there). Struct fields and map entries whose
//! value is `nil` are written as pairs `k, nil`, which Lua simply drops; a
//! missing `Option` field reads as `None`. Field and variant names reach
//! serde's visitors as bytes (`visit_borrowed_bytes`), which saves a UTF-8
//! check per key; serde_derive's visitors take them, and a hand-written
//! identifier visitor has to implement `visit_bytes`.
//!
//! # Limits
//!
//! Packing refuses tables nested deeper than [`MAX_PACK_DEPTH`], exactly
//! like Skynet. Unpacking, which Skynet does not limit, stops at
//! [`MAX_UNPACK_DEPTH`] so hostile input can't overflow the stack.
//!
//! # Examples
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use skycluster::codec::luaseri;
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct Move {
//!     x: i32,
//!     y: i32,
//! }
//!
//! // skynet.pack("move", 7, {x = 1, y = 2})
//! let bytes = luaseri::to_vec_multi(&("move", 7, Move { x: 1, y: 2 }))?;
//! let values = luaseri::unpack(&bytes)?;
//! assert_eq!(values[2].to_string(), "{x = 1, y = 2}");
//!
//! let (method, session, mv): (String, u32, Move) = luaseri::from_slice_multi(&bytes)?;
//! assert_eq!((method.as_str(), session, mv), ("move", 7, Move { x: 1, y: 2 }));
//! # Ok::<(), luaseri::Error>(())
//! ```

mod de;
mod decode;
mod encode;
mod error;
mod literal;
mod ser;
mod value;
mod value_serde;
mod values;

pub(crate) use de::{forward_to_one_value, visit_rest, visit_values};
pub use de::{from_slice, from_slice_multi, from_value, Deserializer};
pub use decode::unpack;
pub use encode::{pack, pack_into};
pub use error::{Error, ErrorKind, Result};
pub use ser::{
    to_value, to_vec, to_vec_multi, write, write_multi, MapSerializer, SeqSerializer, Serializer,
};
pub use value::{Table, Value};
pub use values::Values;
pub(crate) use values::VALUES_TOKEN;

/// The deepest table nesting Skynet packs: a value inside more than this
/// many tables is refused with [`ErrorKind::TooDeepToPack`].
///
/// 32 nested tables holding a value pack; 33 pack only if the innermost
/// one is empty, as with Skynet's `MAX_DEPTH`.
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::{pack, Value, MAX_PACK_DEPTH};
///
/// let mut v = Value::from(1);
/// for _ in 0..MAX_PACK_DEPTH {
///     v = Value::from(vec![v]);
/// }
/// assert!(pack(&[v.clone()]).is_ok());
/// assert!(pack(&[Value::from(vec![v])]).is_err());
/// ```
pub const MAX_PACK_DEPTH: usize = 32;

/// The deepest table nesting the decoder accepts, well above the 200 levels
/// Skynet was seen to unpack; deeper input fails with
/// [`ErrorKind::TooDeepToUnpack`] instead of exhausting the stack.
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::{unpack, ErrorKind, MAX_UNPACK_DEPTH};
///
/// let hostile = vec![0x0e; 1_000_000]; // a million nested table headers
/// let err = unpack(&hostile).unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::TooDeepToUnpack { .. }));
/// # let _ = MAX_UNPACK_DEPTH;
/// ```
pub const MAX_UNPACK_DEPTH: usize = 256;
