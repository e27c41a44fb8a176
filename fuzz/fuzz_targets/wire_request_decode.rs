//! Arbitrary bytes from a peer into an agent's request decoder: no panic,
//! and multi-part state stays within its limits.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use skycluster::wire::{Inbound, Limits, RequestDecoder, RequestFrame};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let _ = RequestFrame::parse(Bytes::copy_from_slice(data));
    let limits = Limits::default()
        .with_max_message(1 << 16)
        .with_max_pending(8)
        .with_max_buffered(1 << 17);
    let mut decoder = RequestDecoder::new(limits);
    // The first byte picks a read size, so frames are cut at many places.
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut buf = BytesMut::new();
    for chunk in data.chunks(step) {
        buf.extend_from_slice(chunk);
        while let Ok(Some(item)) = decoder.decode(&mut buf) {
            if let Inbound::Request(req) = item {
                assert!(req.payload.len() <= limits.max_message.max(0xFFFF));
            }
        }
        assert!(decoder.pending() <= limits.max_pending);
    }
});
