//! Reading frames off a TCP byte stream: one `tokio_util` [`Decoder`] per
//! direction.
//!
//! Each decoder is the three other layers in a row: [`Frames`] cuts the
//! bodies out of the read buffer, [`RequestFrame::parse`] or
//! [`ResponseFrame::parse`] reads each one, and [`Reassembly`] joins the
//! pieces of multi-part messages. What comes out is an [`Inbound`] item
//! (an agent's side) or a [`Reply`] (a sender's).

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

use super::address::Address;
use super::error::{FrameError, ReassemblyError};
use super::frame::Frames;
use super::multipart::{Limits, Reassembly};
use super::request::RequestFrame;
use super::response::ResponseFrame;

/// A complete request or push, as an agent reads it off the wire: where it
/// goes and its session, with the payload still encoded.
///
/// The agent turns it into the [`Request`](crate::Request) a service's
/// handler receives, which keeps the payload and drops the addressing.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use skycluster::wire::{Inbound, RequestDecoder};
/// use tokio_util::codec::Decoder;
///
/// let mut decoder = RequestDecoder::default();
/// let mut bytes = BytesMut::from(&b"\x00\x0e\x00\x00\x00\x00\x00\x02\x00\x00\x00\x24echo"[..]);
/// let Some(Inbound::Request(request)) = decoder.decode(&mut bytes)? else { panic!() };
/// assert!(request.address.is_query());
/// assert_eq!(request.session, 2);
/// assert!(!request.push);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundRequest {
    /// Where it goes.
    pub address: Address,
    /// Its session; 0 for a single-frame push.
    pub session: u32,
    /// Whether no reply is wanted.
    pub push: bool,
    /// The whole payload.
    pub payload: Bytes,
}

/// What an agent reads from a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// A complete request or push.
    Request(InboundRequest),
    /// A trace tag for the next request.
    Trace(Bytes),
    /// How long the caller waits for the next request, in milliseconds
    /// (skycluster's extension; see [`RequestFrame::Deadline`]).
    Deadline(u32),
    /// The caller gave up on this session (skycluster's extension; see
    /// [`RequestFrame::Cancel`]).
    Cancel(u32),
    /// A multi-part message that could not be joined. Skynet answers these
    /// with `Invalid large req` under the message's session.
    Broken(ReassemblyError),
    /// A body that could not be parsed. Skynet drops such frames and the
    /// connection goes on.
    Malformed(FrameError),
}

#[derive(Debug)]
struct RequestMeta {
    address: Address,
    push: bool,
}

/// Decodes a sender's byte stream into [`Inbound`] items.
///
/// Never fails on content: a bad frame becomes [`Inbound::Malformed`] or
/// [`Inbound::Broken`] and decoding goes on, as Skynet's agent does. Memory
/// held for multi-part messages is bounded by its [`Limits`].
///
/// It takes every whole frame in the buffer at once and hands them out one
/// per call, so call it until it returns `None`: the buffer then holds only
/// the start of a frame still arriving.
#[derive(Debug)]
pub struct RequestDecoder {
    frames: Frames,
    reassembly: Reassembly<RequestMeta>,
}

impl RequestDecoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> Self {
        RequestDecoder {
            frames: Frames::default(),
            reassembly: Reassembly::new(limits),
        }
    }

    /// Multi-part messages begun and not yet complete.
    pub fn pending(&self) -> usize {
        self.reassembly.pending()
    }

    fn on_frame(&mut self, frame: RequestFrame) -> Option<Inbound> {
        match frame {
            RequestFrame::Message {
                address,
                session,
                payload,
            } => Some(Inbound::Request(InboundRequest {
                address,
                session,
                push: session == 0,
                payload,
            })),
            RequestFrame::Trace(tag) => Some(Inbound::Trace(tag)),
            RequestFrame::Deadline(millis) => Some(Inbound::Deadline(millis)),
            RequestFrame::Cancel(session) => Some(Inbound::Cancel(session)),
            RequestFrame::Start {
                address,
                session,
                total,
                push,
            } => self
                .reassembly
                .start(session, total, RequestMeta { address, push })
                .err()
                .map(Inbound::Broken),
            RequestFrame::Piece {
                session,
                chunk,
                last,
            } => match self.reassembly.piece(session, chunk, last) {
                Ok(None) => None,
                Ok(Some((meta, payload))) => Some(Inbound::Request(InboundRequest {
                    address: meta.address,
                    session,
                    push: meta.push,
                    payload,
                })),
                Err(e) => Some(Inbound::Broken(e)),
            },
        }
    }
}

impl Default for RequestDecoder {
    fn default() -> Self {
        RequestDecoder::new(Limits::default())
    }
}

impl Decoder for RequestDecoder {
    type Item = Inbound;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, std::io::Error> {
        // Frames that complete nothing (a header, a middle piece) are
        // consumed here, so one call drains everything it can.
        while let Some(body) = self.frames.next_body(src) {
            let item = match RequestFrame::parse(body) {
                Ok(frame) => self.on_frame(frame),
                Err(e) => Some(Inbound::Malformed(e)),
            };
            if item.is_some() {
                return Ok(item);
            }
        }
        Ok(None)
    }
}

/// A reply to one call, as a sender receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The session of the call it answers.
    pub session: u32,
    /// The payload, or the error text the agent sent.
    pub result: Result<Bytes, Bytes>,
}

/// Why a sender's stream of replies is broken.
///
/// Skynet's sender closes the connection and fails every pending call on
/// any of these; so does skycluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyStreamError {
    /// Reading the socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A reply body could not be parsed. The message carries the frame
    /// error's text, so it is not also given as the `source()`: a chain
    /// printer would show it twice.
    #[error("malformed reply: {0}")]
    Malformed(FrameError),
    /// A multi-part reply's pieces do not add up.
    #[error("broken multi-part reply: {0}")]
    Broken(ReassemblyError),
}

/// Decodes an agent's byte stream into [`Reply`]s.
///
/// A reply over [`Limits::max_message`] (or [`Limits::max_buffered`]) is
/// turned into an error reply for its session, naming the limit, and its
/// pieces are dropped; the connection stays up.
///
/// Like [`RequestDecoder`], it takes every whole frame in the buffer at
/// once and hands them out one per call.
#[derive(Debug)]
pub struct ReplyDecoder {
    frames: Frames,
    reassembly: Reassembly<()>,
}

impl ReplyDecoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> Self {
        ReplyDecoder {
            frames: Frames::default(),
            reassembly: Reassembly::new(limits),
        }
    }

    fn on_frame(&mut self, frame: ResponseFrame) -> Result<Option<Reply>, ReplyStreamError> {
        let refused = |e: ReassemblyError| Reply {
            session: e.session(),
            result: Err(Bytes::from(e.to_string())),
        };
        Ok(match frame {
            ResponseFrame::Ok { session, payload } => Some(Reply {
                session,
                result: Ok(payload),
            }),
            ResponseFrame::Error { session, text } => {
                // An error may cut a multi-part reply short.
                self.reassembly.abandon(session);
                Some(Reply {
                    session,
                    result: Err(text),
                })
            }
            ResponseFrame::Start { session, total } => {
                match self.reassembly.start(session, total, ()) {
                    Ok(()) => None,
                    Err(
                        e @ (ReassemblyError::TooLarge { .. }
                        | ReassemblyError::TooManyPending { .. }),
                    ) => Some(refused(e)),
                    Err(e) => return Err(ReplyStreamError::Broken(e)),
                }
            }
            ResponseFrame::Piece {
                session,
                chunk,
                last,
            } => match self.reassembly.piece(session, chunk, last) {
                Ok(None) => None,
                Ok(Some(((), payload))) => Some(Reply {
                    session,
                    result: Ok(payload),
                }),
                Err(e @ ReassemblyError::BufferFull { .. }) => Some(refused(e)),
                Err(e) => return Err(ReplyStreamError::Broken(e)),
            },
        })
    }
}

impl Default for ReplyDecoder {
    fn default() -> Self {
        ReplyDecoder::new(Limits::default())
    }
}

impl Decoder for ReplyDecoder {
    type Item = Reply;
    type Error = ReplyStreamError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Reply>, ReplyStreamError> {
        while let Some(body) = self.frames.next_body(src) {
            if let Some(reply) =
                self.on_frame(ResponseFrame::parse(body).map_err(ReplyStreamError::Malformed)?)?
            {
                return Ok(Some(reply));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::frame::READ_ROOM;
    use crate::wire::{encode_ok, encode_request, Session};

    fn requests(n: u32) -> BytesMut {
        let mut out = BytesMut::new();
        let mut session = Session::FIRST;
        for i in 0..n {
            let payload = Bytes::from(format!("call {i}"));
            let pieces = encode_request(&mut out, &Address::Handle(7), session, payload);
            assert!(matches!(pieces, Ok(None)));
            session = session.next();
        }
        out
    }

    #[test]
    fn frames_read_together_come_out_in_order_and_a_partial_one_waits() {
        let all = requests(3);
        let cut = all.len() - 4;
        let mut src = BytesMut::from(&all[..cut]);
        let mut decoder = RequestDecoder::default();
        let mut payloads = Vec::new();
        while let Ok(Some(Inbound::Request(request))) = decoder.decode(&mut src) {
            payloads.push(request.payload);
        }
        assert_eq!(payloads, [&b"call 0"[..], b"call 1"]);
        // What is left is the third frame's start, with room for its rest.
        let frame = all.len() / 3;
        assert_eq!(&src[..], &all[2 * frame..cut]);
        assert!(src.capacity() >= src.len() + 4);
        src.extend_from_slice(&all[cut..]);
        let Ok(Some(Inbound::Request(last))) = decoder.decode(&mut src) else {
            panic!("the third frame is whole now");
        };
        assert_eq!((last.session, &last.payload[..]), (3, &b"call 2"[..]));
        assert!(src.is_empty());
        assert!(matches!(decoder.decode(&mut src), Ok(None)));
    }

    #[test]
    fn the_read_buffer_keeps_its_memory_once_its_frames_are_gone() {
        let all = requests(3);
        // Not quite room for the next read: the rest of the third frame
        // and the room to read it need the memory the first two took.
        let mut src = BytesMut::with_capacity(all.len() - 4 + READ_ROOM - 1);
        src.extend_from_slice(&all[..all.len() - 4]);
        let start = src.as_ptr();
        let mut decoder = RequestDecoder::default();
        let mut decoded = 0;
        // Each request is dropped before the next call, as a handler that
        // answers at once drops it.
        while let Ok(Some(_)) = decoder.decode(&mut src) {
            decoded += 1;
        }
        assert_eq!(decoded, 2);
        // The start of the third frame moved to the front of the same
        // memory, which has room for the rest: no new buffer.
        assert_eq!(src.as_ptr(), start);
        assert!(src.capacity() >= src.len() + 4);
    }

    #[test]
    fn replies_read_together_share_the_buffer_they_arrived_in() {
        let mut src = BytesMut::new();
        for session in 1..=3u32 {
            let payload = Bytes::from(vec![session as u8; 10]);
            assert!(matches!(encode_ok(&mut src, session, payload), Ok(None)));
        }
        let start = src.as_ptr() as usize;
        let mut decoder = ReplyDecoder::default();
        for session in 1..=3u32 {
            let reply = decoder.decode(&mut src).ok().flatten().expect("a reply");
            assert_eq!(reply.session, session);
            let payload = reply.result.expect("ok");
            assert_eq!(&payload[..], &[session as u8; 10]);
            // Body `session` starts after `session` frame headers of 7
            // bytes and the bodies before it: no copy was made.
            let offset = payload.as_ptr() as usize - start;
            assert_eq!(offset, 7 * session as usize + 10 * (session as usize - 1));
        }
        assert!(matches!(decoder.decode(&mut src), Ok(None)));
    }
}
