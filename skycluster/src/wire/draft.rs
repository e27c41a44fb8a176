//! A single-frame request written before its session is known.
//!
//! A typed call encodes its payload into a scratch buffer outside the
//! sender's lock, and the sender copies it into its output buffer under
//! the lock, where the session is handed out. Writing the frame's header
//! into the scratch buffer first, with the session left blank, makes that
//! copy the whole frame: one append and four bytes written in, instead of
//! the header assembled piece by piece inside the lock on every call.

use bytes::BytesMut;

use super::address::Address;
use super::frame::{self, PREFIX};
use super::multipart::MULTIPART_THRESHOLD;
use super::request::put_single;

/// The session: the last four bytes of the header.
const SESSION: usize = 4;

/// The header of every single-frame request to one address, with the size
/// and session blank: made once per endpoint, so that starting a draft is
/// one append.
#[derive(Debug)]
pub(crate) struct Header(Box<[u8]>);

impl Header {
    /// The header for requests to `address`: the frame the encoder writes
    /// for an empty payload, whose size and session are filled in later.
    pub(crate) fn new(address: &Address) -> Header {
        let mut head = BytesMut::new();
        put_single(&mut head, address, 0, &[]);
        Header(Box::from(&head[..]))
    }

    /// Writes the header into the empty `buf`, for the payload to be
    /// appended; returns its length, for [`Draft::finish`].
    pub(crate) fn start(&self, buf: &mut Vec<u8>) -> usize {
        debug_assert!(buf.is_empty(), "a draft starts its buffer");
        buf.extend_from_slice(&self.0);
        self.0.len()
    }
}

/// A whole request frame but for its session.
#[derive(Debug)]
pub(crate) struct Draft<'a> {
    frame: &'a [u8],
    head: usize,
}

impl<'a> Draft<'a> {
    /// The frame in `buf`, whose header [`Header::start`] wrote as `head`
    /// bytes, with its size filled in; or, if the payload is too large for
    /// a single frame, the payload alone (it must travel in pieces).
    pub(crate) fn finish(buf: &'a mut [u8], head: usize) -> Result<Draft<'a>, &'a [u8]> {
        if buf.len() - head >= MULTIPART_THRESHOLD {
            return Err(&buf[head..]);
        }
        // Below the threshold, and the header is at most 263 bytes: the
        // body's length fits the prefix.
        let prefix = frame::prefix(buf.len() - PREFIX);
        buf[..PREFIX].copy_from_slice(&prefix);
        Ok(Draft { frame: buf, head })
    }

    /// The payload, without the header.
    #[cfg(test)]
    fn payload(&self) -> &'a [u8] {
        &self.frame[self.head..]
    }

    /// Appends the frame to `dst` as a request with `session` (0 for a
    /// push).
    pub(crate) fn queue(&self, dst: &mut BytesMut, session: u32) {
        let at = dst.len() + self.head - SESSION;
        dst.extend_from_slice(self.frame);
        dst[at..at + SESSION].copy_from_slice(&session.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::wire::{encode_push, encode_request, FrameError, Pieces, Session};

    type Encoder =
        fn(&mut BytesMut, &Address, Session, Bytes) -> Result<Option<Pieces>, FrameError>;

    fn drafted(address: &Address, session: u32, payload: &[u8]) -> Option<BytesMut> {
        let mut buf = Vec::new();
        let head = Header::new(address).start(&mut buf);
        buf.extend_from_slice(payload);
        let draft = Draft::finish(&mut buf, head).ok()?;
        assert_eq!(draft.payload(), payload);
        let mut out = BytesMut::from(&b"queued before"[..]);
        draft.queue(&mut out, session);
        assert_eq!(&out[..13], b"queued before", "what was queued stays");
        Some(out.split_off(13))
    }

    #[test]
    fn a_draft_queued_is_the_frame_the_encoder_writes() {
        let name: Address = "@a_service_name".parse().unwrap();
        let long: Address = "@".repeat(255).parse().unwrap();
        let largest = vec![7; MULTIPART_THRESHOLD - 1];
        for address in [Address::Handle(0x0a0b_0c0d), name, long] {
            for payload in [&b""[..], b"\x24echo\x14hi", &largest] {
                let session = Session::FIRST.next();
                // A push is a request with session 0.
                let encoders: [(Encoder, u32); 2] =
                    [(encode_request, session.get()), (encode_push, 0)];
                for (encode, on_wire) in encoders {
                    let mut frame = BytesMut::new();
                    let payload_bytes = Bytes::copy_from_slice(payload);
                    let rest = encode(&mut frame, &address, session, payload_bytes);
                    assert!(matches!(rest, Ok(None)));
                    assert_eq!(drafted(&address, on_wire, payload), Some(frame));
                }
            }
        }
    }

    #[test]
    fn a_payload_for_pieces_is_handed_back_alone() {
        let payload = vec![9; MULTIPART_THRESHOLD];
        let mut buf = Vec::new();
        let head = Header::new(&Address::Handle(10)).start(&mut buf);
        buf.extend_from_slice(&payload);
        assert_eq!(Draft::finish(&mut buf, head).err(), Some(&payload[..]));
    }
}
