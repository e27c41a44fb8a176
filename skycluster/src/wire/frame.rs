//! Framing: the big-endian `u16` length before every body, and cutting
//! whole frames out of what a connection has read.
//!
//! This is the one module that reads or writes that length. Encoders start
//! each frame with [`begin`] (or put [`prefix`] at the front of a header
//! they write in one piece); decoders take bodies, the length already
//! stripped, from [`Frames`]. Nothing here knows what a body holds: the
//! other modules of `wire` build on this one, never the other way round.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The length prefix's size: a big-endian `u16`.
pub(crate) const PREFIX: usize = 2;

/// The longest body a prefix can announce.
pub(crate) const MAX_BODY: usize = u16::MAX as usize;

/// The prefix of a frame whose body is `len` bytes.
///
/// For encoders that write a whole header in one append. Every caller
/// frames a body it has already bounded (a payload under the multi-part
/// threshold plus a header of at most 263 bytes), so the bound is only
/// checked in debug builds: the encoders are the hot path.
#[inline]
pub(crate) fn prefix(len: usize) -> [u8; PREFIX] {
    debug_assert!(len <= MAX_BODY, "a frame body of {len} bytes");
    (len as u16).to_be_bytes()
}

/// Starts a frame of `len` body bytes in `dst`: makes room for the whole
/// frame, then writes its prefix, for the body to be appended.
///
/// `len` is bounded as for [`prefix`].
#[inline]
pub(crate) fn begin(dst: &mut BytesMut, len: usize) {
    dst.reserve(PREFIX + len);
    dst.put_slice(&prefix(len));
}

/// The body length a prefix announces.
#[inline]
fn body_len(bytes: [u8; PREFIX]) -> usize {
    usize::from(u16::from_be_bytes(bytes))
}

/// Whole frames cut from a read buffer together, handed out one body at a
/// time.
///
/// Cutting each frame from the `BytesMut` on its own costs the buffer's
/// bookkeeping twice per frame; cutting all the whole ones at once costs it
/// once per read, and each body after that is a slice of shared memory.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    /// Whole frames, length prefixes included, not yet handed out.
    whole: Bytes,
}

impl Frames {
    /// The next frame's body, if a whole one has arrived.
    ///
    /// Inlined into the decoders: it runs once per frame, and most of the
    /// time it is a slice of what was cut already.
    #[inline]
    pub(crate) fn next_body(&mut self, src: &mut BytesMut) -> Option<Bytes> {
        if self.whole.is_empty() && !self.cut(src) {
            return None;
        }
        let len = body_len([*self.whole.first()?, *self.whole.get(1)?]);
        if self.whole.len() < PREFIX + len {
            // `whole_frames` measured every frame: not reached.
            self.whole = Bytes::new();
            return None;
        }
        // The last frame takes the reference to the read buffer with it,
        // so that the buffer can reuse its memory once the frame is gone.
        let mut body = self.whole.split_to(PREFIX + len);
        body.advance(PREFIX);
        Some(body)
    }

    /// Cuts the whole frames in `src`; false if there is none yet.
    fn cut(&mut self, src: &mut BytesMut) -> bool {
        let (whole, missing) = whole_frames(src);
        if whole == 0 {
            // Room for the rest of the frame that has begun, and for the
            // next read (see [`READ_ROOM`]). Only now: with no frame of the
            // buffer held here, it can take back its memory instead of
            // allocating anew.
            src.reserve(missing.max(READ_ROOM));
            return false;
        }
        self.whole = src.split_to(whole).freeze();
        true
    }
}

/// The least free space a decoder leaves in its read buffer once it has
/// handed out every whole frame, for the next read.
///
/// A read fills at most the buffer's free space. When that space runs low,
/// a read takes only the front of a batch the peer wrote at once, and an
/// agent answers that front in one write and the rest in another: one batch
/// becomes two, and stays two, since each reply batch brings back one
/// request batch. The connection then pays twice the syscalls and wake-ups
/// for the same calls. (At 32 calls in flight over loopback, a 64 KiB buffer
/// split one batch in about sixty, and the connection went on in halves.)
pub(crate) const READ_ROOM: usize = 16 * 1024;

/// How many bytes at the start of `src` are whole frames, and how many
/// more the frame after them still needs.
fn whole_frames(src: &BytesMut) -> (usize, usize) {
    let mut at = 0;
    while let (Some(&hi), Some(&lo)) = (src.get(at), src.get(at + 1)) {
        let end = at + PREFIX + body_len([hi, lo]);
        if end > src.len() {
            return (at, end - src.len());
        }
        at = end;
    }
    (at, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame of `len` bytes of `fill`.
    fn frame(fill: u8, len: usize) -> Vec<u8> {
        let mut frame = BytesMut::new();
        begin(&mut frame, len);
        frame.put_bytes(fill, len);
        frame.to_vec()
    }

    #[test]
    fn the_prefix_is_the_body_length_big_endian() {
        assert_eq!(prefix(0), [0, 0]);
        assert_eq!(prefix(0x0102), [1, 2]);
        assert_eq!(prefix(MAX_BODY), [0xff, 0xff]);
        let mut dst = BytesMut::from(&b"before"[..]);
        begin(&mut dst, 300);
        assert_eq!(&dst[..], b"before\x01\x2c");
        assert!(dst.capacity() >= 6 + PREFIX + 300, "room for the body");
        assert_eq!(body_len(prefix(300)), 300);
    }

    #[test]
    fn whole_frames_are_measured_and_the_missing_rest_counted() {
        let mut src = BytesMut::new();
        src.extend_from_slice(&frame(1, 3));
        src.extend_from_slice(&frame(2, 0));
        assert_eq!(whole_frames(&src), (7, 0));
        src.extend_from_slice(&frame(3, 10)[..4]);
        assert_eq!(whole_frames(&src), (7, 8));
        // Half a prefix: nothing of the next frame is known yet.
        let mut src = BytesMut::from(&frame(1, 3)[..]);
        src.extend_from_slice(&[0]);
        assert_eq!(whole_frames(&src), (5, 0));
    }

    #[test]
    fn a_read_always_has_room_and_reuses_memory_nothing_else_holds() {
        // A buffer nearly full: one large frame, then the start of a small
        // one, which needs far less than a read's room.
        let nearly_full = |buf: &mut BytesMut, fill: u8| {
            buf.extend_from_slice(&frame(fill, 60_000));
            buf.extend_from_slice(&frame(fill, 100)[..10]);
        };
        let mut frames = Frames::default();
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let start = buf.as_ptr();
        nearly_full(&mut buf, 7);
        let taken = frames.next_body(&mut buf);
        assert_eq!(taken.map(|body| body.len()), Some(60_000));
        assert!(frames.next_body(&mut buf).is_none());
        assert!(buf.capacity() - buf.len() >= READ_ROOM);
        assert_eq!(buf.as_ptr(), start, "the half frame moved to the front");
        assert_eq!(&buf[..], &frame(7, 100)[..10]);

        // While a frame taken off is still held, the room is new memory.
        buf.clear();
        nearly_full(&mut buf, 8);
        let held = frames.next_body(&mut buf);
        assert!(frames.next_body(&mut buf).is_none());
        assert!(buf.capacity() - buf.len() >= READ_ROOM);
        assert_eq!(&buf[..], &frame(8, 100)[..10]);
        assert_eq!(held.map(|body| body.len()), Some(60_000));

        // Enough room already: nothing moves.
        let before = buf.as_ptr();
        assert!(frames.next_body(&mut buf).is_none());
        assert_eq!(buf.as_ptr(), before);
    }
}
