//! Payload formats.
//!
//! A frame's payload is opaque bytes to the [`wire`](crate::wire) layer. The
//! typed layer turns Rust values into those bytes through a codec:
//!
//! * [`luaseri`]: the format of `skynet.pack`, spoken by Lua Skynet services.

pub mod luaseri;
