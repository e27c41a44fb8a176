//! Decodes arbitrary bytes with the bincode codec, as a server decodes a
//! call and a client a reply, into shapes that own strings, byte strings,
//! sequences, maps, options and enums. Nothing may panic, and nothing may
//! allocate more than the input could justify: run with
//! `-malloc_limit_mb=64`, so a length taken on trust is a crash.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use skycluster::codec::{Bincode, Codec};

#[path = "../../tests/support/shapes.rs"]
mod shapes;

use shapes::{Mode, Room};

fuzz_target!(|data: &[u8]| {
    let payload = Bytes::copy_from_slice(data);
    if let Ok((method, args)) = Bincode::decode_method(&payload) {
        let _ = method.len();
        let _ = Bincode::decode_args::<(String, Vec<u64>, Option<Bytes>)>(args);
        let _ = Bincode::decode_args::<(Room,)>(args);
        let _ = Bincode::decode_bytes_args(payload.slice_ref(args));
    }
    let _ = Bincode::decode_reply::<Result<Room, String>>(data);
    let _ = Bincode::decode_reply::<Vec<Mode>>(data);
    let _ = Bincode::decode_reply::<Bytes>(data);
    if let Ok(bytes) = Bincode::decode_bytes_reply(payload.clone()) {
        // The shared path and serde agree.
        assert_eq!(Bincode::decode_reply::<Bytes>(data).ok(), Some(bytes));
    }
});
