//! The bincode codec's properties: any value of a representative set of
//! serde shapes round-trips as a call and as a reply, reads exactly as
//! bincode itself reads it, and no bytes make decoding panic or allocate
//! what the input does not hold.

mod support;

use bytes::Bytes;
use proptest::prelude::*;
use skycluster::codec::{Bincode, Codec};

use support::shapes::{Mode, Room};
use support::strategies;

/// Around where the format changes how it writes a length.
const LONG: &str = ".{250,260}";

proptest! {
    #[test]
    fn any_room_round_trips_as_a_reply_and_reads_as_bincode_reads_it(room in strategies::room(LONG)) {
        let reply = Bincode::encode_reply(&room).unwrap();
        let ours: Room = Bincode::decode_reply(&reply).unwrap();
        prop_assert_eq!(&ours, &room);
        let (theirs, used): (Room, usize) =
            bincode::serde::decode_from_slice(&reply, bincode::config::standard()).unwrap();
        prop_assert_eq!((theirs, used), (room, reply.len()));
    }

    #[test]
    fn any_call_round_trips(room in strategies::room(LONG), method in "[a-z_]{1,20}", extra in strategies::text(LONG)) {
        let args = (room, extra);
        let call = Bincode::encode_call(&method, &args).unwrap();
        let mut into = Vec::new();
        Bincode::encode_call_into(&method, &args, &mut into).unwrap();
        prop_assert_eq!(&into[..], &call[..]);
        let (name, encoded) = Bincode::decode_method(&call).unwrap();
        prop_assert_eq!(name, method.as_bytes());
        let decoded: (Room, String) = Bincode::decode_args(encoded).unwrap();
        prop_assert_eq!(decoded, args);
    }

    #[test]
    fn a_bytes_reply_reads_the_same_shared_or_copied(data in prop::collection::vec(any::<u8>(), 0..70_000)) {
        let reply = Bincode::encode_reply(&Bytes::from(data.clone())).unwrap();
        let copied: Bytes = Bincode::decode_reply(&reply).unwrap();
        let shared = Bincode::decode_bytes_reply(reply).unwrap();
        prop_assert_eq!(&copied[..], &data[..]);
        prop_assert_eq!(shared, copied);
    }

    #[test]
    fn no_bytes_panic_and_shared_and_serde_agree(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        // Lengths in these bytes claim up to 2^64; decoding must refuse
        // them without asking the allocator for that much.
        let _ = Bincode::decode_reply::<Room>(&bytes);
        let _ = Bincode::decode_reply::<Vec<Mode>>(&bytes);
        let _ = Bincode::decode_args::<(String, Bytes)>(&bytes);
        let _ = Bincode::decode_method(&bytes);
        let shared = Bincode::decode_bytes_reply(Bytes::from(bytes.clone())).ok();
        prop_assert_eq!(shared, Bincode::decode_reply::<Bytes>(&bytes).ok());
    }
}
