//! Arbitrary bytes from a peer into a sender's reply decoder: no panic; a
//! broken stream is an error, never a crash.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use skycluster::wire::{Limits, ReplyDecoder, ResponseFrame};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let _ = ResponseFrame::parse(Bytes::copy_from_slice(data));
    let limits = Limits::default()
        .with_max_message(1 << 16)
        .with_max_pending(8)
        .with_max_buffered(1 << 17);
    let mut decoder = ReplyDecoder::new(limits);
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut buf = BytesMut::new();
    'feed: for chunk in data.chunks(step) {
        buf.extend_from_slice(chunk);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(reply)) => {
                    if let Ok(payload) = reply.result {
                        assert!(payload.len() <= limits.max_message.max(0xFFFF));
                    }
                }
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }
});
