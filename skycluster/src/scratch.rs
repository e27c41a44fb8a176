//! Per-thread buffers that typed calls and replies are encoded into.
//!
//! A small payload is encoded into a reused buffer and copied from there
//! (into a sender's output buffer, or into a reply of its own). A large one
//! must outlive the encoding, because it leaves in pieces: it is copied into
//! a second per-thread buffer and handed out as a `Bytes` sharing that
//! buffer's memory. Once the payload has been written and dropped, the next
//! large payload reuses the same memory, instead of asking the allocator
//! for fresh pages (which a 256 KiB message pays for in page faults).
//!
//! A small payload that needs a `Bytes` of its own (a service's reply) is
//! cut from a third per-thread buffer, an arena: one allocation per
//! [`ARENA_CHUNK`] of them, or none while each is dropped before the arena
//! fills, where a copy costs an allocation each.

use std::cell::RefCell;
use std::thread::LocalKey;

use bytes::{Bytes, BytesMut};

/// The most capacity either scratch buffer keeps between uses.
const KEEP: usize = 1 << 20;

/// How much memory the small-payload arena takes at a time.
const ARENA_CHUNK: usize = 64 << 10;

thread_local! {
    static SMALL: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static LARGE: RefCell<BytesMut> = RefCell::new(BytesMut::new());
    static ARENA: RefCell<BytesMut> = RefCell::new(BytesMut::with_capacity(ARENA_CHUNK));
}

/// Runs `f` with this thread's empty scratch buffer (or a new one, if `f`
/// is already running further up the stack: an argument's `Serialize`
/// that encodes a call of its own).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    SMALL.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let result = f(&mut buf);
            if buf.capacity() > KEEP {
                *buf = Vec::new();
            }
            result
        }
        Err(_) => f(&mut Vec::new()),
    })
}

/// A copy of `payload` with memory of its own, for a payload that must
/// outlive its scratch buffer: cut from this thread's arena when small,
/// from its large-payload buffer when large (both reused once what was cut
/// from them is dropped), and a plain copy beyond [`KEEP`].
pub(crate) fn to_bytes(payload: &[u8]) -> Bytes {
    match payload.len() {
        // A unit reply (every push's): nothing to allocate or share.
        0 => Bytes::new(),
        n if n <= ARENA_CHUNK / 4 => cut_from(&ARENA, payload),
        n if n <= KEEP => cut_from(&LARGE, payload),
        _ => Bytes::copy_from_slice(payload),
    }
}

/// `payload`, copied into the buffer `key` names and split off it. When
/// the buffer is full, `reserve` reclaims its whole memory if every
/// payload cut from it is gone, and otherwise allocates anew (at least the
/// capacity the buffer started with).
fn cut_from(key: &'static LocalKey<RefCell<BytesMut>>, payload: &[u8]) -> Bytes {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.reserve(payload.len());
            buf.extend_from_slice(payload);
            buf.split().freeze()
        }
        Err(_) => Bytes::copy_from_slice(payload),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_large_payload_leaves_its_memory_for_the_next() {
        let data = vec![7u8; 64 * 1024];
        let first = to_bytes(&data);
        let at = first.as_ptr();
        let second = to_bytes(&data);
        assert_ne!(second.as_ptr(), at, "the first is still held");
        drop(first);
        let reusable = second.as_ptr();
        drop(second);
        let third = to_bytes(&data);
        assert_eq!(&third[..], &data[..]);
        assert_eq!(third.as_ptr(), reusable);
    }

    #[test]
    fn small_payloads_share_an_arena_that_is_reused_once_they_are_gone() {
        let first = to_bytes(b"first");
        let second = to_bytes(b"second");
        assert_eq!((&first[..], &second[..]), (&b"first"[..], &b"second"[..]));
        // Cut from one allocation, one after the other.
        assert_eq!(second.as_ptr(), first[first.len()..].as_ptr());
        let start = first.as_ptr();
        drop((first, second));
        // Once the arena is full, the payloads cut from it being gone, the
        // next one reclaims its memory from the start.
        let reclaimed =
            (0..=ARENA_CHUNK / 1000 + 1).any(|_| to_bytes(&[1; 1000]).as_ptr() == start);
        assert!(reclaimed, "the arena's memory was not reused");
        // Large ones go elsewhere: an arena held by them would hold too much.
        let big = vec![2u8; ARENA_CHUNK];
        assert_eq!(&to_bytes(&big)[..], &big[..]);
    }

    #[test]
    fn scratch_is_empty_each_time_and_nests() {
        let outer = with_scratch(|buf| {
            buf.extend_from_slice(b"outer");
            let inner = with_scratch(|inner| {
                assert!(inner.is_empty());
                inner.extend_from_slice(b"in");
                inner.len()
            });
            (buf.len(), inner)
        });
        assert_eq!(outer, (5, 2));
        with_scratch(|buf| assert!(buf.is_empty()));
    }
}
