//! proptest strategies for the shapes of `shapes.rs`, shared by the
//! codecs' property tests.

use bytes::Bytes;
use proptest::prelude::*;

use super::shapes::{Mode, Room};

/// Strings short and long: `long` is a range around where the codec
/// under test changes how it writes a length (bincode at 251 bytes,
/// postcard's varint at 128).
pub fn text(long: &'static str) -> impl Strategy<Value = String> + Clone {
    prop_oneof![".{0,12}", long]
}

pub fn mode(long: &'static str) -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Duel),
        (any::<u8>(), prop::collection::vec(text(long), 0..4))
            .prop_map(|(size, names)| Mode::Team { size, names }),
        (text(long), prop::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(s, b)| Mode::Custom(s, b)),
    ]
}

pub fn room(long: &'static str) -> impl Strategy<Value = Room> {
    (
        any::<u64>(),
        mode(long),
        prop::collection::vec((any::<u32>(), text(long)), 0..6),
        prop::collection::btree_map(text(long), any::<i64>(), 0..5),
        prop::option::of(text(long).prop_map(String::into_boxed_str)),
        prop::collection::vec(any::<u8>(), 0..600).prop_map(Bytes::from),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(id, mode, players, scores, note, blob, flag)| Room {
            id,
            mode,
            players,
            scores,
            note,
            blob,
            unit: (),
            flag,
        })
}
