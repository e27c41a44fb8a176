//! The frames Skynet's cluster nodes exchange over TCP.
//!
//! A connection is one-way in purpose: the *sender* (the side that
//! connected) writes [requests](RequestFrame) and reads
//! [responses](ResponseFrame); the *agent* (the side that accepted) does
//! the opposite. Payloads of 0x8000 bytes or more travel as a header and
//! pieces ([`Pieces`] on the way out); [`RequestDecoder`] and
//! [`ReplyDecoder`] join them on the way in, within [`Limits`]. [`Session`]
//! numbers requests the way Skynet does.
//!
//! # Frame layout
//!
//! Every frame, both ways, is a big-endian `u16` length and that many bytes
//! of body (so at most 65535). Inside a body every `u32` is little-endian.
//! The tests check every encoder and decoder against frames recorded from a
//! real Skynet node (`tests/vectors/cluster_frames.json`).
//!
//! A request body starts with its type byte:
//!
//! | type | after the type byte |
//! | --- | --- |
//! | `0x00` | `u32` handle, `u32` session, payload (under 0x8000 bytes) |
//! | `0x80` | `u8` name length (1..=255), name, `u32` session, payload (under 0x8000 bytes) |
//! | `0x01` / `0x41` | `u32` handle, `u32` session, `u32` total size: a multi-part request / push starts (13 bytes in all) |
//! | `0x81` / `0xC1` | `u8` name length, name, `u32` session, `u32` total size |
//! | `0x02` / `0x03` | `u32` session, a piece: more follow / the last one |
//! | `0x04` | a trace tag (at most 0x8000 bytes) for the next request |
//!
//! A single-frame request with session 0 is a push: no reply is wanted. A
//! multi-part push carries a real session, to join its pieces by. Handle 0
//! is a name query.
//!
//! A reply body starts with the `u32` session of the call, then its type
//! byte:
//!
//! | type | after the session and the type byte |
//! | --- | --- |
//! | `0x00` | error text (free text, not lua-seri), at most 0x8000 bytes |
//! | `0x01` | the whole payload, at most 0x8000 bytes |
//! | `0x02` | `u32` total size: a multi-part reply starts (9 bytes in all) |
//! | `0x03` / `0x04` | a piece: more follow / the last one |
//!
//! A request payload goes in pieces at 0x8000 bytes or more, a reply's only
//! above 0x8000 ([`MULTIPART_THRESHOLD`]). Every piece but the last is
//! [`PIECE_SIZE`] bytes; pieces of different sessions may interleave.
//!
//! # Organization
//!
//! Each module uses only the ones listed before it:
//!
//! * `error`, `address`, `session`: what can go wrong ([`FrameError`],
//!   [`ReassemblyError`]), where a request goes ([`Address`], [`Name`]),
//!   and [`Session`] numbers.
//! * `frame`: the length prefix, the only code that writes or reads it,
//!   and the cutting of whole frames out of a read buffer.
//! * `multipart`: cutting a payload into [`Pieces`], each headed as the
//!   direction's module says, and joining pieces back within [`Limits`].
//! * `request`, `response`: each direction's frame types: parsing a body
//!   ([`RequestFrame`], [`ResponseFrame`]) and encoding a message.
//! * `draft`: a request frame written before its session is known, for
//!   the sender's hot path.
//! * `stream`: one [`tokio_util`] decoder per direction, from bytes to
//!   [`Inbound`] items or [`Reply`]s.
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
pub use request::{
    encode_cancel, encode_deadline, encode_push, encode_request, encode_trace, RequestFrame,
    TraceTag,
};
pub(crate) use response::encode_small_ok;
pub use response::{encode_error, encode_ok, ResponseFrame, MAX_ERROR_TEXT};
pub use session::Session;
pub use stream::{Inbound, InboundRequest, Reply, ReplyDecoder, ReplyStreamError, RequestDecoder};
