//! Response frames: what an agent writes and a sender reads.
//!
//! Every body is the session, a type byte, then what the reply table of the
//! [module docs](super) gives for that type. Parsing a body gives a
//! [`ResponseFrame`]; the encoders write whole frames, and hand a large
//! payload to [`multipart`](super::multipart) as [`Pieces`] headed the way
//! replies head theirs ([`PIECES`]).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::error::FrameError;
use super::frame::{self, PREFIX};
use super::multipart::{PieceHeader, Pieces, PIECE_SIZE};

const ERROR: u8 = 0x00;
const OK: u8 = 0x01;
const MULTI_START: u8 = 0x02;
const PIECE_MORE: u8 = 0x03;
const PIECE_LAST: u8 = 0x04;

/// A reply's pieces: the session, then the type byte, as in every reply.
const PIECES: PieceHeader = PieceHeader {
    more: PIECE_MORE,
    last: PIECE_LAST,
    type_first: false,
};

/// Error replies are cut to this many bytes.
pub const MAX_ERROR_TEXT: usize = 0x8000;

/// One response frame body, parsed.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use skycluster::wire::ResponseFrame;
///
/// let body = Bytes::from_static(b"\x07\x00\x00\x00\x00name not found");
/// assert_eq!(
///     ResponseFrame::parse(body).unwrap(),
///     ResponseFrame::Error { session: 7, text: Bytes::from_static(b"name not found") }
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseFrame {
    /// The call failed; the text says why. Free text, not lua-seri.
    Error {
        /// The call's session.
        session: u32,
        /// Why it failed.
        text: Bytes,
    },
    /// The call succeeded with this whole payload.
    Ok {
        /// The call's session.
        session: u32,
        /// The reply.
        payload: Bytes,
    },
    /// A multi-part reply starts.
    Start {
        /// The call's session.
        session: u32,
        /// The size the agent claims; not to be trusted for allocation.
        total: u32,
    },
    /// A piece of a multi-part reply.
    Piece {
        /// The call's session.
        session: u32,
        /// The piece's bytes.
        chunk: Bytes,
        /// Whether this is the last piece.
        last: bool,
    },
}

impl ResponseFrame {
    /// Parses a frame body (without its 2-byte length).
    ///
    /// # Errors
    ///
    /// [`FrameError::TooShort`] for a body under 5 bytes (too short to
    /// have a type), [`FrameError::UnknownType`] for an unknown type, or
    /// [`FrameError::BadLength`] for a start frame that is not exactly 9
    /// bytes. Skynet's sender treats each of these as a broken stream.
    pub fn parse(mut body: Bytes) -> Result<ResponseFrame, FrameError> {
        let len = body.len();
        if len < 5 {
            // The type byte is the fifth: none has arrived to name.
            return Err(FrameError::TooShort {
                minimum: 5,
                actual: len,
            });
        }
        let session = body.get_u32_le();
        let kind = body.get_u8();
        match kind {
            ERROR => Ok(ResponseFrame::Error {
                session,
                text: body,
            }),
            OK => Ok(ResponseFrame::Ok {
                session,
                payload: body,
            }),
            MULTI_START => {
                if len != 9 {
                    return Err(FrameError::BadLength {
                        kind,
                        expected: 9,
                        actual: len,
                    });
                }
                Ok(ResponseFrame::Start {
                    session,
                    total: body.get_u32_le(),
                })
            }
            PIECE_MORE | PIECE_LAST => Ok(ResponseFrame::Piece {
                session,
                chunk: body,
                last: kind == PIECE_LAST,
            }),
            kind => Err(FrameError::UnknownType { kind }),
        }
    }
}

/// Writes a successful reply to `session`.
///
/// A payload of at most 0x8000 bytes is one frame in `dst`; a larger one
/// (Skynet's reply threshold is `> 0x8000`, one more than a request's) is a
/// start frame in `dst` plus the returned [`Pieces`].
///
/// # Errors
///
/// [`FrameError::TooLarge`] for a payload of 4 GiB or more.
///
/// # Examples
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use skycluster::wire::encode_ok;
///
/// let mut out = BytesMut::new();
/// assert!(encode_ok(&mut out, 1, Bytes::from_static(b"\x14hi"))?.is_none());
/// assert_eq!(&out[..], b"\x00\x08\x01\x00\x00\x00\x01\x14hi");
/// # Ok::<(), skycluster::wire::FrameError>(())
/// ```
pub fn encode_ok(
    dst: &mut BytesMut,
    session: u32,
    payload: Bytes,
) -> Result<Option<Pieces>, FrameError> {
    let total =
        u32::try_from(payload.len()).map_err(|_| FrameError::TooLarge { len: payload.len() })?;
    if payload.len() <= PIECE_SIZE {
        encode_small_ok(dst, session, &payload)?;
        return Ok(None);
    }
    frame::begin(dst, 9);
    dst.put_u32_le(session);
    dst.put_u8(MULTI_START);
    dst.put_u32_le(total);
    Ok(Some(Pieces::new(PIECES, session, payload)))
}

/// Writes a successful reply to `session` that fits in one frame, as
/// [`encode_ok`] does for a payload of at most [`PIECE_SIZE`] bytes, from
/// a payload that is not a `Bytes`.
///
/// # Errors
///
/// [`FrameError::TooLarge`] for a longer payload, which needs pieces.
pub(crate) fn encode_small_ok(
    dst: &mut BytesMut,
    session: u32,
    payload: &[u8],
) -> Result<(), FrameError> {
    if payload.len() > PIECE_SIZE {
        return Err(FrameError::TooLarge { len: payload.len() });
    }
    // The header in one piece.
    let size = 5 + payload.len();
    let [s0, s1] = frame::prefix(size);
    let [t0, t1, t2, t3] = session.to_le_bytes();
    dst.reserve(PREFIX + size);
    dst.extend_from_slice(&[s0, s1, t0, t1, t2, t3, OK]);
    dst.extend_from_slice(payload);
    Ok(())
}

/// Writes an error reply to `session`, truncating `text` to 0x8000 bytes as
/// Skynet does.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use skycluster::wire::encode_error;
///
/// let mut out = BytesMut::new();
/// encode_error(&mut out, 3, b"Invalid large req");
/// assert_eq!(&out[..7], b"\x00\x16\x03\x00\x00\x00\x00");
/// ```
pub fn encode_error(dst: &mut BytesMut, session: u32, text: &[u8]) {
    let text = &text[..text.len().min(MAX_ERROR_TEXT)];
    frame::begin(dst, 5 + text.len());
    dst.put_u32_le(session);
    dst.put_u8(ERROR);
    dst.extend_from_slice(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_reply_from_a_slice_is_framed_as_encode_ok_frames_it() {
        let payload = [7u8; PIECE_SIZE];
        let (mut from_slice, mut from_bytes) = (BytesMut::new(), BytesMut::new());
        encode_small_ok(&mut from_slice, 9, &payload).expect("fits");
        let pieces = encode_ok(&mut from_bytes, 9, Bytes::copy_from_slice(&payload));
        assert!(matches!(pieces, Ok(None)));
        assert_eq!(from_slice, from_bytes);
        // One byte more needs pieces: refused, and nothing is written.
        let mut out = BytesMut::new();
        let err = encode_small_ok(&mut out, 9, &[0; PIECE_SIZE + 1]).unwrap_err();
        assert_eq!(
            err,
            FrameError::TooLarge {
                len: PIECE_SIZE + 1
            }
        );
        assert!(out.is_empty());
    }

    #[test]
    fn short_and_unknown_bodies_are_errors() {
        assert!(ResponseFrame::parse(Bytes::from_static(b"\x01\x00\x00\x00")).is_err());
        assert_eq!(
            ResponseFrame::parse(Bytes::from_static(b"\x01\x00\x00\x00\x09")),
            Err(FrameError::UnknownType { kind: 9 })
        );
        assert!(ResponseFrame::parse(Bytes::from_static(b"\x01\x00\x00\x00\x02\x00")).is_err());
    }

    #[test]
    fn a_body_under_5_bytes_is_reported_as_too_short_not_as_a_type() {
        // No type byte has arrived: the error names the length and the
        // minimum, not a type read from past the end.
        for body in [&b""[..], b"\x01", b"\x01\x00\x00\x00"] {
            let err = ResponseFrame::parse(Bytes::from_static(body)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("body is too short: {} bytes, at least 5", body.len())
            );
            assert_eq!(
                err,
                FrameError::TooShort {
                    minimum: 5,
                    actual: body.len()
                }
            );
        }
    }

    #[test]
    fn error_text_is_truncated_to_0x8000_bytes() {
        let mut out = BytesMut::new();
        encode_error(&mut out, 5, &vec![b'e'; 40_000]);
        assert_eq!(out.len(), 2 + 5 + 0x8000);
    }
}
