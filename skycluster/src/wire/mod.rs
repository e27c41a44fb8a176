//! The frames Skynet's cluster nodes exchange over TCP.
//!
//! Every frame is a big-endian `u16` length and a body. A connection is
//! one-way in purpose: the *sender* (the side that connected) writes
//! [requests](RequestFrame) and reads [responses](ResponseFrame); the
//! *agent* (the side that accepted) does the opposite. Inside a body every
//! 32-bit number is little-endian.
//!
//! Payloads of 0x8000 bytes or more travel as a header and pieces
//! ([`Pieces`] on the way out); [`RequestDecoder`] and [`ReplyDecoder`] join
//! them on the way in, within [`Limits`]. [`Session`] numbers requests the
//! way Skynet does.
//!
//! The layout of each frame is in `shared/spec/wire.md`; the tests check
//! every encoder against bytes recorded from a real Skynet node.
//!
//! # Examples
//!
//! A request written, then read back as an agent reads it:
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use skycluster::wire::{encode_request, Address, Inbound, RequestDecoder, Session};
//! use tokio_util::codec::Decoder;
//!
//! let mut stream = BytesMut::new();
//! let address: Address = "@echo".parse()?;
//! encode_request(&mut stream, &address, Session::FIRST, Bytes::from_static(b"\x24ping"))?;
//!
//! let mut agent = RequestDecoder::default();
//! let Some(Inbound::Request(req)) = agent.decode(&mut stream)? else { unreachable!() };
//! assert_eq!(req.address, address);
//! assert_eq!(req.session, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod address;
pub(crate) mod draft;
mod error;
mod frame;
mod multipart;
mod request;
mod response;
mod session;
mod stream;

pub use address::{Address, Name};
pub use error::{FrameError, ReassemblyError};
pub(crate) use multipart::{write_pieces, WRITE_BATCH};
pub use multipart::{Limits, Pieces, MULTIPART_THRESHOLD, PIECE_SIZE};
pub use request::{encode_push, encode_request, encode_trace, RequestFrame, TraceTag};
pub(crate) use response::encode_small_ok;
pub use response::{encode_error, encode_ok, ResponseFrame, MAX_ERROR_TEXT};
pub use session::Session;
pub use stream::{Inbound, InboundRequest, Reply, ReplyDecoder, ReplyStreamError, RequestDecoder};
