//! Request frames: what a sender writes and an agent reads.
//!
//! The type bytes and what follows each are in the request table of the
//! [module docs](super). Parsing a body gives a [`RequestFrame`]; the
//! encoders write whole frames, and hand a large payload to
//! [`multipart`](super::multipart) as [`Pieces`] headed the way requests
//! head theirs ([`PIECES`]). [`put_single`] is also the header the
//! sender's [`draft`](super::draft) reuses.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::address::{Address, Name};
use super::error::FrameError;
use super::frame::{self, PREFIX};
use super::multipart::{PieceHeader, Pieces, MULTIPART_THRESHOLD};
use super::session::Session;

const SINGLE_HANDLE: u8 = 0x00;
const SINGLE_NAME: u8 = 0x80;
const MULTI_HANDLE: u8 = 0x01;
const MULTI_HANDLE_PUSH: u8 = 0x41;
const MULTI_NAME: u8 = 0x81;
const MULTI_NAME_PUSH: u8 = 0xC1;
const PIECE_MORE: u8 = 0x02;
const PIECE_LAST: u8 = 0x03;
const TRACE: u8 = 0x04;
/// skycluster's own: the time left for the next request. Skynet has no
/// such type; a sender writes it only to a node that said it reads it.
/// (Not `0x05`: the vectors pin that Skynet rejects `0x05`, and so does
/// skycluster.)
const DEADLINE: u8 = 0x06;
/// skycluster's own: the caller gave up on a session.
const CANCEL: u8 = 0x07;

/// A request's pieces: the type byte, then the session.
const PIECES: PieceHeader = PieceHeader {
    more: PIECE_MORE,
    last: PIECE_LAST,
    type_first: true,
};

/// One request frame body, parsed.
///
/// A multi-part message is a [`RequestFrame::Start`] followed by
/// [`RequestFrame::Piece`]s; [`RequestDecoder`](super::RequestDecoder) joins
/// them into an [`InboundRequest`](super::InboundRequest).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use skycluster::wire::{Address, RequestFrame};
///
/// // A body from a real Skynet node: call handle 10, session 1.
/// let body = Bytes::from_static(b"\x00\x0a\x00\x00\x00\x01\x00\x00\x00\x24echo\x14hi");
/// let frame = RequestFrame::parse(body).unwrap();
/// assert_eq!(
///     frame,
///     RequestFrame::Message {
///         address: Address::Handle(10),
///         session: 1,
///         payload: Bytes::from_static(b"\x24echo\x14hi"),
///     }
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestFrame {
    /// A whole request (`session != 0`) or push (`session == 0`).
    Message {
        /// Where it goes.
        address: Address,
        /// 0 for a push.
        session: u32,
        /// The payload.
        payload: Bytes,
    },
    /// The header of a multi-part request or push.
    Start {
        /// Where it goes.
        address: Address,
        /// The session that joins the pieces (real even for a push).
        session: u32,
        /// The size the sender claims; not to be trusted for allocation.
        total: u32,
        /// Whether no reply is wanted.
        push: bool,
    },
    /// A piece of a multi-part message.
    Piece {
        /// The session of the message it belongs to.
        session: u32,
        /// The piece's bytes.
        chunk: Bytes,
        /// Whether this is the last piece.
        last: bool,
    },
    /// A trace tag that applies to the next request on the connection.
    Trace(Bytes),
    /// skycluster's extension (type `0x06`, a `DWORD` of milliseconds):
    /// how long the caller will wait for the next request on the
    /// connection. Only a Rust node that offered it is sent one.
    Deadline(u32),
    /// skycluster's extension (type `0x07`, a `DWORD` session): the
    /// caller gave up on the call under this session; the callee drops
    /// its work. Only a Rust node that offered it is sent one.
    Cancel(u32),
}

impl RequestFrame {
    /// Parses a frame body (without its 2-byte length).
    ///
    /// # Errors
    ///
    /// [`FrameError`] saying what is wrong: an empty body, an unknown type,
    /// a body too short for its type, or a zero-length name.
    pub fn parse(mut body: Bytes) -> Result<RequestFrame, FrameError> {
        let Some(&kind) = body.first() else {
            return Err(FrameError::Empty);
        };
        let len = body.len();
        let short = |expected| FrameError::BadLength {
            kind,
            expected,
            actual: len,
        };
        match kind {
            SINGLE_HANDLE => {
                if len < 9 {
                    return Err(short(9));
                }
                body.advance(1);
                let address = Address::Handle(body.get_u32_le());
                let session = body.get_u32_le();
                Ok(RequestFrame::Message {
                    address,
                    session,
                    payload: body,
                })
            }
            MULTI_HANDLE | MULTI_HANDLE_PUSH => {
                if len != 13 {
                    return Err(short(13));
                }
                body.advance(1);
                Ok(RequestFrame::Start {
                    address: Address::Handle(body.get_u32_le()),
                    session: body.get_u32_le(),
                    total: body.get_u32_le(),
                    push: kind == MULTI_HANDLE_PUSH,
                })
            }
            SINGLE_NAME | MULTI_NAME | MULTI_NAME_PUSH => {
                let name_len = usize::from(*body.get(1).ok_or(short(2))?);
                if name_len == 0 {
                    return Err(FrameError::NameLength { len: 0 });
                }
                let fixed = 2 + name_len + 4;
                let expected = if kind == SINGLE_NAME {
                    fixed
                } else {
                    fixed + 4
                };
                if len < expected || (kind != SINGLE_NAME && len != expected) {
                    return Err(short(expected));
                }
                body.advance(2);
                let name = Name::new(body.split_to(name_len))?;
                let address = Address::Name(name);
                let session = body.get_u32_le();
                if kind == SINGLE_NAME {
                    Ok(RequestFrame::Message {
                        address,
                        session,
                        payload: body,
                    })
                } else {
                    Ok(RequestFrame::Start {
                        address,
                        session,
                        total: body.get_u32_le(),
                        push: kind == MULTI_NAME_PUSH,
                    })
                }
            }
            PIECE_MORE | PIECE_LAST => {
                if len < 5 {
                    return Err(short(5));
                }
                body.advance(1);
                let session = body.get_u32_le();
                Ok(RequestFrame::Piece {
                    session,
                    chunk: body,
                    last: kind == PIECE_LAST,
                })
            }
            TRACE => {
                body.advance(1);
                Ok(RequestFrame::Trace(body))
            }
            DEADLINE => {
                if len != 5 {
                    return Err(short(5));
                }
                body.advance(1);
                Ok(RequestFrame::Deadline(body.get_u32_le()))
            }
            CANCEL => {
                if len != 5 {
                    return Err(short(5));
                }
                body.advance(1);
                Ok(RequestFrame::Cancel(body.get_u32_le()))
            }
            kind => Err(FrameError::UnknownType { kind }),
        }
    }
}

/// Writes a request to `address` that wants a reply under `session`.
///
/// A payload under 0x8000 bytes becomes one frame in `dst`. A larger one
/// (`>= 0x8000`, Skynet's request threshold) becomes a header frame in `dst`
/// and the returned [`Pieces`], which the caller writes when it likes, so
/// that other traffic can go between them. The payload is not copied until
/// its pieces are written. Either way the request consumes `session`; the
/// next one is `session.next()`.
///
/// # Errors
///
/// [`FrameError::TooLarge`] for a payload of 4 GiB or more: the header
/// carries its size in 32 bits. Nothing is written then.
///
/// # Examples
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use skycluster::wire::{encode_request, Address, Session};
///
/// let mut out = BytesMut::new();
/// let payload = Bytes::from_static(b"\x24echo\x14hi");
/// let rest = encode_request(&mut out, &Address::Handle(10), Session::FIRST, payload)?;
/// assert!(rest.is_none());
/// assert_eq!(&out[..], b"\x00\x11\x00\x0a\x00\x00\x00\x01\x00\x00\x00\x24echo\x14hi");
/// # Ok::<(), skycluster::wire::FrameError>(())
/// ```
pub fn encode_request(
    dst: &mut BytesMut,
    address: &Address,
    session: Session,
    payload: Bytes,
) -> Result<Option<Pieces>, FrameError> {
    encode(dst, address, session.get(), false, payload)
}

/// Writes a push (no reply) to `address`.
///
/// A small push carries session 0 and does not consume `session`. A
/// multi-part one (payload `>= 0x8000`) needs a real session to join its
/// pieces: it carries `session`, consumes it, and returns the [`Pieces`].
/// So the caller's next session is `session.next()` exactly when this
/// returns `Some`.
///
/// # Errors
///
/// [`FrameError::TooLarge`] for a payload of 4 GiB or more.
///
/// # Examples
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use skycluster::wire::{encode_push, Address, Session};
///
/// let mut out = BytesMut::new();
/// let rest = encode_push(&mut out, &Address::Handle(10), Session::FIRST, Bytes::from_static(b"\x02"))?;
/// assert!(rest.is_none(), "a small push consumes no session");
/// assert_eq!(&out[..], b"\x00\x0a\x00\x0a\x00\x00\x00\x00\x00\x00\x00\x02");
/// # Ok::<(), skycluster::wire::FrameError>(())
/// ```
pub fn encode_push(
    dst: &mut BytesMut,
    address: &Address,
    session: Session,
    payload: Bytes,
) -> Result<Option<Pieces>, FrameError> {
    encode(dst, address, session.get(), true, payload)
}

fn encode(
    dst: &mut BytesMut,
    address: &Address,
    session: u32,
    push: bool,
    payload: Bytes,
) -> Result<Option<Pieces>, FrameError> {
    let total =
        u32::try_from(payload.len()).map_err(|_| FrameError::TooLarge { len: payload.len() })?;
    let name = match address {
        Address::Handle(_) => None,
        Address::Name(name) => Some(name.as_bytes()),
    };
    // 1 type byte, the address, 4 bytes of session.
    let head = 1 + name.map_or(4, |n| 1 + n.len()) + 4;
    if payload.len() < MULTIPART_THRESHOLD {
        put_single(dst, address, if push { 0 } else { session }, &payload);
        return Ok(None);
    }
    let (handle_kind, name_kind) = if push {
        (MULTI_HANDLE_PUSH, MULTI_NAME_PUSH)
    } else {
        (MULTI_HANDLE, MULTI_NAME)
    };
    frame::begin(dst, head + 4);
    put_address(dst, address, handle_kind, name_kind);
    dst.put_u32_le(session);
    dst.put_u32_le(total);
    Ok(Some(Pieces::new(PIECES, session, payload)))
}

/// One frame: size, address, session (0 for a push) and the payload, which
/// is under [`MULTIPART_THRESHOLD`].
pub(super) fn put_single(dst: &mut BytesMut, address: &Address, session: u32, payload: &[u8]) {
    // Written in as few pieces as the layout allows: this is every small
    // call's and push's header.
    let session = session.to_le_bytes();
    match address {
        Address::Handle(handle) => {
            // The type byte, the handle, the session.
            let size = 1 + 4 + 4 + payload.len();
            let [s0, s1] = frame::prefix(size);
            let [h0, h1, h2, h3] = handle.to_le_bytes();
            let [t0, t1, t2, t3] = session;
            dst.reserve(PREFIX + size);
            dst.extend_from_slice(&[s0, s1, SINGLE_HANDLE, h0, h1, h2, h3, t0, t1, t2, t3]);
        }
        Address::Name(name) => {
            // The type byte, the name's length and bytes (1..=255 by
            // construction), the session.
            let name = name.as_bytes();
            let size = 1 + 1 + name.len() + 4 + payload.len();
            let [s0, s1] = frame::prefix(size);
            dst.reserve(PREFIX + size);
            dst.extend_from_slice(&[s0, s1, SINGLE_NAME, name.len() as u8]);
            dst.extend_from_slice(name);
            dst.extend_from_slice(&session);
        }
    }
    dst.extend_from_slice(payload);
}

fn put_address(dst: &mut BytesMut, address: &Address, handle_kind: u8, name_kind: u8) {
    match address {
        Address::Handle(handle) => {
            dst.put_u8(handle_kind);
            dst.put_u32_le(*handle);
        }
        Address::Name(name) => {
            dst.put_u8(name_kind);
            // A `Name` is 1..=255 bytes by construction.
            dst.put_u8(name.as_bytes().len() as u8);
            dst.extend_from_slice(name.as_bytes());
        }
    }
}

/// A trace tag: at most 0x8000 bytes, sent before the request it marks.
///
/// # Examples
///
/// ```
/// use skycluster::wire::TraceTag;
///
/// assert!(TraceTag::new("(game1-battle1-3)create_room").is_ok());
/// assert!(TraceTag::new(vec![b't'; 0x8001]).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceTag(Bytes);

impl TraceTag {
    /// The longest tag Skynet accepts.
    pub const MAX_LEN: usize = 0x8000;

    /// Checks the length and wraps the tag.
    ///
    /// # Errors
    ///
    /// [`FrameError::TraceTooLong`] for a tag over [`TraceTag::MAX_LEN`] bytes.
    pub fn new(tag: impl Into<Bytes>) -> Result<TraceTag, FrameError> {
        let tag = tag.into();
        if tag.len() > Self::MAX_LEN {
            return Err(FrameError::TraceTooLong { len: tag.len() });
        }
        Ok(TraceTag(tag))
    }

    /// The tag's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Writes a trace frame: the tag applies to the next request written.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use skycluster::wire::{encode_trace, TraceTag};
///
/// let mut out = BytesMut::new();
/// encode_trace(&mut out, &TraceTag::new("abc").unwrap());
/// assert_eq!(&out[..], b"\x00\x04\x04abc");
/// ```
pub fn encode_trace(dst: &mut BytesMut, tag: &TraceTag) {
    frame::begin(dst, 1 + tag.0.len());
    dst.put_u8(TRACE);
    dst.extend_from_slice(&tag.0);
}

/// Writes skycluster's deadline frame: the next request written may take
/// `millis` milliseconds. Never written to a node that did not offer it:
/// Skynet would drop it as an unknown type.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use skycluster::wire::{encode_deadline, RequestFrame};
///
/// let mut out = BytesMut::new();
/// encode_deadline(&mut out, 200);
/// assert_eq!(&out[..], b"\x00\x05\x06\xc8\x00\x00\x00");
/// let body = bytes::Bytes::copy_from_slice(&out[2..]);
/// assert_eq!(RequestFrame::parse(body), Ok(RequestFrame::Deadline(200)));
/// ```
pub fn encode_deadline(dst: &mut BytesMut, millis: u32) {
    frame::begin(dst, 5);
    dst.put_u8(DEADLINE);
    dst.put_u32_le(millis);
}

/// Writes skycluster's cancel frame: the caller gave up on `session`.
/// Never written to a node that did not offer it.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use skycluster::wire::{encode_cancel, RequestFrame};
///
/// let mut out = BytesMut::new();
/// encode_cancel(&mut out, 9);
/// let body = bytes::Bytes::copy_from_slice(&out[2..]);
/// assert_eq!(RequestFrame::parse(body), Ok(RequestFrame::Cancel(9)));
/// ```
pub fn encode_cancel(dst: &mut BytesMut, session: u32) {
    frame::begin(dst, 5);
    dst.put_u8(CANCEL);
    dst.put_u32_le(session);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_hex(hex: &str) -> Result<RequestFrame, FrameError> {
        RequestFrame::parse(Bytes::from(hex::decode(hex).unwrap()))
    }

    #[test]
    fn zero_length_name_is_rejected() {
        assert_eq!(
            parse_hex("8000010000000c78"),
            Err(FrameError::NameLength { len: 0 })
        );
    }

    #[test]
    fn multi_part_header_must_be_exactly_13_bytes() {
        assert!(parse_hex("010a000000030000007a1101").is_err());
        assert!(parse_hex("010a000000030000007a11010000").is_err());
        assert!(parse_hex("010a000000030000007a110100").is_ok());
    }

    #[test]
    fn name_frame_shorter_than_its_name_is_rejected() {
        assert!(matches!(
            parse_hex("80ff4065"),
            Err(FrameError::BadLength { kind: 0x80, .. })
        ));
        assert!(matches!(parse_hex("80"), Err(FrameError::BadLength { .. })));
    }

    #[test]
    fn a_short_body_names_its_own_type_and_minimum() {
        // The type byte comes first in a request, so a short body always
        // has one to name (unlike a reply's, which comes after the session).
        for (hex, kind, expected) in [
            ("000a000000", 0x00, 9),
            ("010a", 0x01, 13),
            ("41", 0x41, 13),
            ("80", 0x80, 2),
            ("c103414243", 0xc1, 13),
            ("0201", 0x02, 5),
            ("03", 0x03, 5),
        ] {
            let actual = hex.len() / 2;
            assert_eq!(
                parse_hex(hex),
                Err(FrameError::BadLength {
                    kind,
                    expected,
                    actual
                }),
                "{hex}"
            );
        }
        assert_eq!(parse_hex(""), Err(FrameError::Empty));
    }

    #[test]
    fn empty_trace_tag_parses() {
        assert_eq!(parse_hex("04"), Ok(RequestFrame::Trace(Bytes::new())));
    }

    #[test]
    fn a_deadline_is_exactly_four_bytes_of_milliseconds() {
        assert_eq!(parse_hex("06e8030000"), Ok(RequestFrame::Deadline(1000)));
        assert!(parse_hex("06e80300").is_err());
        assert!(parse_hex("06e803000000").is_err());
        assert_eq!(parse_hex("0709000000"), Ok(RequestFrame::Cancel(9)));
        assert!(parse_hex("070900").is_err());
        // Skynet's unknown type stays unknown.
        assert!(parse_hex("05e8030000").is_err());
    }
}
