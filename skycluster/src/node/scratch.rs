//! Per-thread buffers that typed calls and replies are encoded into.
//!
//! A small payload is encoded into a reused buffer and copied from there
//! (into a sender's output buffer, or into a reply of its own). A large one
//! must outlive the encoding, because it leaves in pieces: it is copied into
//! a second per-thread buffer and handed out as a `Bytes` sharing that
//! buffer's memory. Once the payload has been written and dropped, the next
//! large payload reuses the same memory, instead of asking the allocator
//! for fresh pages (which a 256 KiB message pays for in page faults).

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};

/// The most capacity either buffer keeps between uses.
const KEEP: usize = 1 << 20;

thread_local! {
    static SMALL: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static LARGE: RefCell<BytesMut> = RefCell::new(BytesMut::new());
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

/// A copy of `payload` that shares this thread's large-payload buffer: its
/// memory is reused by a later call once this copy has been dropped.
pub(crate) fn large_payload(payload: &[u8]) -> Bytes {
    if payload.len() > KEEP {
        return Bytes::copy_from_slice(payload);
    }
    LARGE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            // Reclaims the whole buffer when every payload cut from it is
            // gone; otherwise allocates anew, as a copy would.
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
        let first = large_payload(&data);
        let at = first.as_ptr();
        let second = large_payload(&data);
        assert_ne!(second.as_ptr(), at, "the first is still held");
        drop(first);
        let reusable = second.as_ptr();
        drop(second);
        let third = large_payload(&data);
        assert_eq!(&third[..], &data[..]);
        assert_eq!(third.as_ptr(), reusable);
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
