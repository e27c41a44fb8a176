//! Multi-part messages: cutting large payloads into pieces, and joining
//! pieces back into messages without trusting the sizes a peer claims.
//!
//! Requests and replies cut their pieces the same way and differ only in
//! each piece's header: the type bytes, and whether the type comes before
//! the session or after it. So [`request`](super::request) and
//! [`response`](super::response) each hand this module a [`PieceHeader`]
//! describing theirs, and this module knows nothing else of either; its
//! frames go out through [`frame`]. Joining works on sessions and byte
//! counts only: the callers parse the pieces' frames and pass in what they
//! carry.

use std::collections::{HashMap, VecDeque};

use bytes::{BufMut, Bytes, BytesMut};

use super::error::ReassemblyError;
use super::frame::{self, PREFIX};

/// A request payload of this many bytes or more is sent in pieces; a reply
/// only when it is larger than this.
pub const MULTIPART_THRESHOLD: usize = 0x8000;

/// The size of every piece but the last.
pub const PIECE_SIZE: usize = 0x8000;

/// What each piece adds to its chunk: the frame's prefix, a type byte and a
/// 4-byte session.
const PIECE_HEADER: usize = PREFIX + 5;

/// How one direction heads its pieces, in the 5 bytes after the prefix.
///
/// Given by the module that owns the direction's frame types, so that
/// cutting pieces needs nothing else from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PieceHeader {
    /// The type byte of a piece that more pieces follow.
    pub(crate) more: u8,
    /// The type byte of the last piece.
    pub(crate) last: u8,
    /// Whether the type byte comes before the session (a request's pieces)
    /// or after it (a reply's).
    pub(crate) type_first: bool,
}

/// The pieces of a multi-part message still to be written, after its header.
///
/// Returned by the `encode_*` functions for large payloads. Writing them
/// one at a time lets a writer put other frames between them, so one large
/// message does not hold back small calls. Each piece is 0x8000 bytes except
/// the last, as Skynet cuts them.
///
/// # Examples
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use skycluster::wire::{encode_request, Address, Session};
///
/// let mut out = BytesMut::new();
/// let payload = Bytes::from(vec![0u8; 70_000]);
/// let mut pieces = encode_request(&mut out, &Address::Handle(10), Session::FIRST, payload)?
///     .expect("70 000 bytes is a multi-part request");
/// let mut n = 0;
/// while pieces.write_next(&mut out) {
///     n += 1;
/// }
/// assert_eq!(n, 3);
/// assert!(pieces.is_done());
/// # Ok::<(), skycluster::wire::FrameError>(())
/// ```
#[derive(Debug)]
pub struct Pieces {
    header: PieceHeader,
    session: u32,
    payload: Bytes,
    offset: usize,
}

impl Pieces {
    /// The pieces of `payload`, each headed as `header` says.
    pub(crate) fn new(header: PieceHeader, session: u32, payload: Bytes) -> Pieces {
        Pieces {
            header,
            session,
            payload,
            offset: 0,
        }
    }

    /// Writes the next piece into `dst`; returns `false` once all were
    /// written (and writes nothing then).
    pub fn write_next(&mut self, dst: &mut BytesMut) -> bool {
        let remaining = self.payload.len() - self.offset;
        if remaining == 0 {
            return false;
        }
        let size = remaining.min(PIECE_SIZE);
        let last = size == remaining;
        let kind = if last {
            self.header.last
        } else {
            self.header.more
        };
        frame::begin(dst, PIECE_HEADER - PREFIX + size);
        if self.header.type_first {
            dst.put_u8(kind);
            dst.put_u32_le(self.session);
        } else {
            dst.put_u32_le(self.session);
            dst.put_u8(kind);
        }
        dst.extend_from_slice(&self.payload[self.offset..self.offset + size]);
        self.offset += size;
        true
    }

    /// Whether every piece has been written.
    pub fn is_done(&self) -> bool {
        self.offset == self.payload.len()
    }

    /// The session the pieces carry.
    pub fn session(&self) -> u32 {
        self.session
    }

    /// Payload bytes not yet written.
    pub fn remaining(&self) -> usize {
        self.payload.len() - self.offset
    }

    /// The bytes the pieces not yet written take on the wire.
    fn remaining_on_wire(&self) -> usize {
        let remaining = self.remaining();
        remaining + PIECE_HEADER * remaining.div_ceil(PIECE_SIZE)
    }
}

/// How many bytes of pieces a connection writes in one go: eight pieces.
pub(crate) const WRITE_BATCH: usize = 8 * PIECE_SIZE;

/// Appends pieces of the queued large messages to `dst`, one piece of each
/// in turn, until `dst` holds at least `batch` bytes or every message is
/// out. Finished messages leave the queue.
///
/// Taking turns keeps one huge message from holding back the others;
/// filling a whole batch keeps a large message from costing a system call
/// (and a trip round the connection's loop) per 32 KiB piece.
pub(crate) fn write_pieces(queue: &mut VecDeque<Pieces>, dst: &mut BytesMut, batch: usize) {
    if queue.is_empty() {
        return;
    }
    // Room for the whole batch (and a piece's overrun) at once, rather than
    // a copy each time the buffer doubles.
    let room = batch
        .saturating_sub(dst.len())
        .saturating_add(PIECE_HEADER + PIECE_SIZE);
    let queued: usize = queue.iter().map(Pieces::remaining_on_wire).sum();
    dst.reserve(room.min(queued));
    while !queue.is_empty() && dst.len() < batch {
        queue.retain_mut(|pieces| {
            if dst.len() < batch {
                pieces.write_next(dst);
            }
            !pieces.is_done()
        });
    }
}

/// Limits on what one connection may make its reader hold in memory.
///
/// A multi-part header's `total_size` is a claim from the network. Memory
/// grows with bytes actually received, and these limits bound it. (A claim
/// of up to 1 MiB reserves its buffer at once; pages never written to
/// cost address space only.)
///
/// # Examples
///
/// ```
/// use skycluster::wire::Limits;
///
/// let limits = Limits::default().with_max_message(1 << 20);
/// assert_eq!(limits.max_message, 1 << 20);
/// assert_eq!(limits.max_pending, Limits::default().max_pending);
/// ```
///
/// `#[non_exhaustive]`: outside this crate, build one from
/// [`Limits::default`] with the `with_*` methods, so that a new limit is
/// not a breaking change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest message (request or reply) that will be reassembled.
    /// Default: 64 MiB.
    pub max_message: usize,
    /// How many multi-part messages may be incomplete at once on one
    /// connection. Default: 256.
    pub max_pending: usize,
    /// How many bytes of incomplete multi-part messages one connection may
    /// buffer in all. Default: 256 MiB.
    pub max_buffered: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 64 << 20,
            max_pending: 256,
            max_buffered: 256 << 20,
        }
    }
}

impl Limits {
    /// Sets the largest message that will be reassembled
    /// ([`Limits::max_message`]).
    #[must_use]
    pub fn with_max_message(mut self, max_message: usize) -> Self {
        self.max_message = max_message;
        self
    }

    /// Sets how many multi-part messages may be incomplete at once on one
    /// connection ([`Limits::max_pending`]).
    #[must_use]
    pub fn with_max_pending(mut self, max_pending: usize) -> Self {
        self.max_pending = max_pending;
        self
    }

    /// Sets how many bytes of incomplete multi-part messages one connection
    /// may buffer in all ([`Limits::max_buffered`]).
    #[must_use]
    pub fn with_max_buffered(mut self, max_buffered: usize) -> Self {
        self.max_buffered = max_buffered;
        self
    }
}

/// The most a multi-part header's claimed size reserves up front (see
/// [`Reassembly::start`]).
const EAGER_RESERVE: usize = 1 << 20;

/// The largest buffer a connection keeps for its next multi-part message.
const SPARE_KEEP: usize = 1 << 20;

/// Joins the pieces of interleaved multi-part messages, keyed by session.
///
/// `M` is what the header said besides the size (the address, for a
/// request). A message over the limits is refused when its header arrives
/// and its later pieces are dropped silently, so the peer gets one answer.
#[derive(Debug)]
pub(crate) struct Reassembly<M> {
    limits: Limits,
    pending: HashMap<u32, Partial<M>>,
    buffered: usize,
    /// The buffer of the last message joined, kept for the next one; it is
    /// reused once that message has been dropped (see [`SPARE_KEEP`]).
    spare: Option<BytesMut>,
}

#[derive(Debug)]
enum Partial<M> {
    Joining {
        meta: M,
        announced: usize,
        buf: BytesMut,
    },
    /// Refused at the header: drop its pieces until the last one.
    Discarding,
}

impl<M> Reassembly<M> {
    pub(crate) fn new(limits: Limits) -> Self {
        Reassembly {
            limits,
            pending: HashMap::new(),
            buffered: 0,
            spare: None,
        }
    }

    /// A buffer with room for `capacity` bytes: the spare one when it is
    /// free again (its last message dropped), else a new one.
    fn buffer(&mut self, capacity: usize) -> BytesMut {
        let mut buf = self.spare.take().unwrap_or_default();
        buf.reserve(capacity);
        buf
    }

    /// A header arrived. A second header for a pending session replaces
    /// the first, whose bytes are dropped.
    pub(crate) fn start(
        &mut self,
        session: u32,
        announced: u32,
        meta: M,
    ) -> Result<(), ReassemblyError> {
        let announced = announced as usize;
        if let Some(old) = self.pending.remove(&session) {
            self.release(&old);
        }
        if self.pending.len() >= self.limits.max_pending {
            // Not remembered: the next pieces get `NoHeader`, one answer each
            // at most, and the table stays bounded.
            return Err(ReassemblyError::TooManyPending {
                session,
                limit: self.limits.max_pending,
            });
        }
        if announced > self.limits.max_message {
            self.pending.insert(session, Partial::Discarding);
            return Err(ReassemblyError::TooLarge {
                session,
                announced,
                limit: self.limits.max_message,
            });
        }
        // Untouched capacity costs address space, not memory: a message of
        // moderate size gets its whole buffer at once instead of being
        // copied as it doubles. Beyond that the buffer grows with what
        // actually arrives.
        let buf = self.buffer(announced.min(EAGER_RESERVE));
        self.pending.insert(
            session,
            Partial::Joining {
                meta,
                announced,
                buf,
            },
        );
        Ok(())
    }

    /// A piece arrived. Returns the whole message after its last piece.
    ///
    /// `Ok(None)` means more pieces are expected, or the piece belonged to a
    /// message already refused.
    pub(crate) fn piece(
        &mut self,
        session: u32,
        chunk: Bytes,
        last: bool,
    ) -> Result<Option<(M, Bytes)>, ReassemblyError> {
        let Some(partial) = self.pending.get_mut(&session) else {
            return Err(ReassemblyError::NoHeader { session });
        };
        let (announced, received) = match partial {
            Partial::Discarding => {
                if last {
                    self.pending.remove(&session);
                }
                return Ok(None);
            }
            Partial::Joining { announced, buf, .. } => (*announced, buf.len() + chunk.len()),
        };
        if received > announced || (last && received != announced) {
            if let Some(old) = self.pending.remove(&session) {
                self.release(&old);
            }
            return Err(ReassemblyError::SizeMismatch {
                session,
                announced,
                received,
            });
        }
        if self.buffered + chunk.len() > self.limits.max_buffered && !last {
            if let Some(old) = self.pending.remove(&session) {
                self.release(&old);
            }
            self.pending.insert(session, Partial::Discarding);
            return Err(ReassemblyError::BufferFull {
                session,
                limit: self.limits.max_buffered,
            });
        }
        if !last {
            if let Some(Partial::Joining { buf, .. }) = self.pending.get_mut(&session) {
                // Grow with what arrived, never with what was announced.
                buf.extend_from_slice(&chunk);
                self.buffered += chunk.len();
            }
            return Ok(None);
        }
        let Some(Partial::Joining { meta, buf, .. }) = self.pending.remove(&session) else {
            return Ok(None);
        };
        self.buffered -= buf.len();
        let payload = if buf.is_empty() {
            // One piece carried everything: hand it on without a copy.
            chunk
        } else {
            let mut buf = buf;
            buf.extend_from_slice(&chunk);
            let keep = buf.capacity() <= SPARE_KEEP;
            let payload = buf.split().freeze();
            if keep {
                // The emptied handle still points at the payload's memory:
                // once the payload is dropped, the next message reuses it
                // instead of faulting in fresh pages.
                self.spare = Some(buf);
            }
            payload
        };
        Ok(Some((meta, payload)))
    }

    /// Forgets a session's partial message, e.g. when an error reply ends it.
    pub(crate) fn abandon(&mut self, session: u32) {
        if let Some(old) = self.pending.remove(&session) {
            self.release(&old);
        }
    }

    fn release(&mut self, partial: &Partial<M>) {
        if let Partial::Joining { buf, .. } = partial {
            self.buffered -= buf.len();
        }
    }

    /// Incomplete messages held now.
    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Limits {
        Limits {
            max_message: 100,
            max_pending: 2,
            max_buffered: 150,
        }
    }

    #[test]
    fn interleaved_sessions_are_joined_separately() {
        let mut r = Reassembly::new(Limits::default());
        r.start(1, 4, 'a').unwrap();
        r.start(2, 2, 'b').unwrap();
        assert_eq!(r.piece(1, Bytes::from_static(b"12"), false), Ok(None));
        let b = r.piece(2, Bytes::from_static(b"xy"), true).unwrap();
        assert_eq!(b, Some(('b', Bytes::from_static(b"xy"))));
        let a = r.piece(1, Bytes::from_static(b"34"), true).unwrap();
        assert_eq!(a, Some(('a', Bytes::from_static(b"1234"))));
        assert_eq!(r.pending(), 0);
        assert_eq!(r.buffered, 0);
    }

    #[test]
    fn a_4_gib_claim_is_refused_without_allocating() {
        let mut r = Reassembly::new(small());
        let err = r.start(9, u32::MAX, ()).unwrap_err();
        assert!(matches!(err, ReassemblyError::TooLarge { session: 9, .. }));
        // Its pieces are dropped quietly, and the last one clears the entry.
        assert_eq!(r.piece(9, Bytes::from_static(b"x"), false), Ok(None));
        assert_eq!(r.piece(9, Bytes::from_static(b"x"), true), Ok(None));
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn pending_headers_are_bounded() {
        let mut r = Reassembly::new(small());
        r.start(1, 10, ()).unwrap();
        r.start(2, 10, ()).unwrap();
        assert!(matches!(
            r.start(3, 10, ()),
            Err(ReassemblyError::TooManyPending { .. })
        ));
        assert_eq!(r.pending(), 2);
    }

    #[test]
    fn pieces_that_overrun_or_fall_short_are_mismatches() {
        let mut r = Reassembly::new(small());
        r.start(1, 3, ()).unwrap();
        assert!(matches!(
            r.piece(1, Bytes::from_static(b"1234"), false),
            Err(ReassemblyError::SizeMismatch { .. })
        ));
        r.start(2, 3, ()).unwrap();
        assert!(matches!(
            r.piece(2, Bytes::from_static(b"12"), true),
            Err(ReassemblyError::SizeMismatch { .. })
        ));
        assert!(matches!(
            r.piece(7, Bytes::from_static(b"1"), true),
            Err(ReassemblyError::NoHeader { session: 7 })
        ));
        assert_eq!(r.buffered, 0);
    }

    #[test]
    fn buffered_bytes_are_bounded_across_sessions() {
        let mut r = Reassembly::new(small());
        r.start(1, 100, ()).unwrap();
        r.start(2, 100, ()).unwrap();
        r.piece(1, Bytes::from(vec![0; 99]), false).unwrap();
        assert!(matches!(
            r.piece(2, Bytes::from(vec![0; 60]), false),
            Err(ReassemblyError::BufferFull { session: 2, .. })
        ));
        assert_eq!(r.buffered, 99);
    }

    /// A reply's piece header, written out here so that these tests need
    /// nothing from the response module either.
    const REPLY: PieceHeader = PieceHeader {
        more: 0x03,
        last: 0x04,
        type_first: false,
    };

    #[test]
    fn pieces_are_headed_as_their_direction_says() {
        let payload = Bytes::from(vec![5u8; PIECE_SIZE + 2]);
        let request = PieceHeader {
            more: 0x02,
            last: 0x03,
            type_first: true,
        };
        for (header, more, last) in [
            (
                request,
                &b"\x80\x05\x02\x09\x00\x00\x00"[..],
                &b"\x00\x07\x03\x09\x00\x00\x00"[..],
            ),
            (
                REPLY,
                b"\x80\x05\x09\x00\x00\x00\x03",
                b"\x00\x07\x09\x00\x00\x00\x04",
            ),
        ] {
            let mut pieces = Pieces::new(header, 9, payload.clone());
            let mut out = BytesMut::new();
            assert!(pieces.write_next(&mut out));
            assert_eq!(&out[..PIECE_HEADER], more);
            assert_eq!(out.len(), PIECE_HEADER + PIECE_SIZE);
            out.clear();
            assert!(pieces.write_next(&mut out));
            assert_eq!(&out[..], [last, b"\x05\x05"].concat());
            assert!(pieces.is_done());
            assert!(!pieces.write_next(&mut out), "nothing more to write");
        }
    }

    #[test]
    fn pieces_take_turns_up_to_the_batch() {
        let big = |session| Pieces::new(REPLY, session, Bytes::from(vec![7u8; 3 * PIECE_SIZE]));
        let mut queue = VecDeque::from([big(1), big(2)]);
        let mut out = BytesMut::new();
        write_pieces(&mut queue, &mut out, 3 * PIECE_SIZE);
        // Session 1, session 2, session 1: the batch is full after the third.
        let sessions: Vec<u32> = out
            .chunks(PIECE_HEADER + PIECE_SIZE)
            .map(|piece| u32::from_le_bytes([piece[2], piece[3], piece[4], piece[5]]))
            .collect();
        assert_eq!(sessions, [1, 2, 1]);
        assert_eq!(
            queue.iter().map(Pieces::remaining).sum::<usize>(),
            3 * PIECE_SIZE
        );

        let mut rest = BytesMut::new();
        write_pieces(&mut queue, &mut rest, usize::MAX);
        assert_eq!(rest.len(), 3 * (7 + PIECE_SIZE));
        assert!(queue.is_empty(), "finished messages leave the queue");
    }

    #[test]
    fn a_joined_buffer_is_reused_once_its_message_is_dropped() {
        let mut r = Reassembly::new(Limits::default());
        let join = |r: &mut Reassembly<()>, session: u32| {
            r.start(session, 8, ()).unwrap();
            assert_eq!(
                r.piece(session, Bytes::from_static(b"1234"), false),
                Ok(None)
            );
            r.piece(session, Bytes::from_static(b"5678"), true)
                .unwrap()
                .expect("joined")
                .1
        };
        let first = join(&mut r, 1);
        let at = first.as_ptr();
        // Still held: the next message cannot have its memory.
        let second = join(&mut r, 2);
        assert_ne!(second.as_ptr(), at);
        assert_eq!(
            (&first[..], &second[..]),
            (&b"12345678"[..], &b"12345678"[..])
        );
        let reusable = second.as_ptr();
        drop(second);
        let third = join(&mut r, 3);
        assert_eq!(&third[..], b"12345678");
        assert_eq!(
            third.as_ptr(),
            reusable,
            "the dropped message's memory is reused"
        );
        assert_eq!(r.buffered, 0);
    }
}
