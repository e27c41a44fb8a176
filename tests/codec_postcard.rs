//! The postcard codec: any value of a representative set of serde shapes
//! round-trips as a call and as a reply and reads exactly as postcard
//! itself reads it, no bytes make decoding panic or allocate what the
//! input does not hold, and a `#[service(codec = postcard)]` trait works
//! between two nodes over TCP, with a mismatch caught by the schema check
//! or, with the check off, answered as a codec error.

mod support;

use bytes::Bytes;
use proptest::prelude::*;
use skycluster::codec::{Codec, Postcard};
use skycluster::{service, Cluster, Config, ErrorKind, Options};

use support::node::{bounded, client};
use support::shapes::{Mode, Room};
use support::strategies;

/// Around where the format changes how it writes a length.
const LONG: &str = ".{120,140}";

proptest! {
    #[test]
    fn any_room_round_trips_as_a_reply_and_reads_as_postcard_reads_it(room in strategies::room(LONG)) {
        let reply = Postcard::encode_reply(&room).unwrap();
        let ours: Room = Postcard::decode_reply(&reply).unwrap();
        prop_assert_eq!(&ours, &room);
        let theirs: Room = postcard::from_bytes(&reply).unwrap();
        prop_assert_eq!(theirs, room);
    }

    #[test]
    fn any_call_round_trips(room in strategies::room(LONG), method in "[a-z_]{1,20}", extra in strategies::text(LONG)) {
        let args = (room, extra);
        let call = Postcard::encode_call(&method, &args).unwrap();
        let mut into = vec![7u8];
        Postcard::encode_call_into(&method, &args, &mut into).unwrap();
        prop_assert_eq!(&into[1..], &call[..]);
        let (name, encoded) = Postcard::decode_method(&call).unwrap();
        prop_assert_eq!(name, method.as_bytes());
        let decoded: (Room, String) = Postcard::decode_args(encoded).unwrap();
        prop_assert_eq!(decoded, args);
    }

    #[test]
    fn no_bytes_panic_and_shared_and_serde_agree(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        // Varint lengths in these bytes claim up to 2^64; decoding must
        // refuse them without asking the allocator for that much.
        let _ = Postcard::decode_reply::<Room>(&bytes);
        let _ = Postcard::decode_reply::<Vec<Mode>>(&bytes);
        let _ = Postcard::decode_args::<(String, Bytes)>(&bytes);
        let _ = Postcard::decode_method(&bytes);
        let shared = Postcard::decode_bytes_reply(Bytes::from(bytes.clone())).ok();
        prop_assert_eq!(shared, Postcard::decode_reply::<Bytes>(&bytes).ok());
    }
}

/// The service as the server builds it.
mod v1 {
    use super::*;

    #[service(codec = postcard, name = "Rooms")]
    pub(crate) trait Rooms {
        async fn open(&self, room: Room) -> Result<u64, String>;
        async fn blob(&self, data: Bytes) -> Bytes;
        #[push]
        async fn note(&self, text: String);
    }
}

/// The same service name, built by a client whose `open` takes another
/// type: postcard carries no types, so the server finds bytes it cannot
/// read and says so.
mod v2 {
    use super::*;

    #[service(codec = postcard, name = "Rooms")]
    pub(crate) trait Rooms {
        async fn open(&self, id: String) -> Result<u64, String>;
    }
}

struct Server {
    notes: tokio::sync::mpsc::UnboundedSender<String>,
}

#[skycluster::async_trait]
impl v1::Rooms for Server {
    async fn open(&self, room: Room) -> Result<u64, String> {
        if room.players.is_empty() {
            return Err(format!("room {} has no players", room.id));
        }
        Ok(room.id * 2)
    }

    async fn blob(&self, data: Bytes) -> Bytes {
        data
    }

    async fn note(&self, text: String) {
        let _ = self.notes.send(text);
    }
}

fn sample(id: u64, players: usize) -> Room {
    Room {
        id,
        mode: Mode::Team {
            size: 2,
            names: vec!["red".into(), "blue".into()],
        },
        players: (0..players as u32).map(|i| (i, format!("p{i}"))).collect(),
        scores: Default::default(),
        note: Some("hi".into()),
        blob: Bytes::from_static(b"\x00\x01"),
        unit: (),
        flag: None,
    }
}

#[tokio::test]
async fn a_postcard_service_answers_calls_pushes_and_errors_over_tcp() {
    let server = Cluster::new(Config::new());
    let addr = bounded("listen", server.listen("127.0.0.1:0"))
        .await
        .expect("listen");
    let (notes, mut noted) = tokio::sync::mpsc::unbounded_channel();
    let handle = server.spawn::<dyn v1::Rooms>(Server { notes });
    server.register::<dyn v1::Rooms>(handle).expect("register");

    let caller = client(&[("rooms", addr)], Options::default());
    let rooms = caller.proxy::<dyn v1::Rooms>("rooms", "@Rooms");
    assert_eq!(
        bounded("open", rooms.open(sample(21, 2))).await.unwrap(),
        Ok(42)
    );
    assert_eq!(
        bounded("open empty", rooms.open(sample(5, 0)))
            .await
            .unwrap(),
        Err("room 5 has no players".to_owned())
    );
    let big = Bytes::from(vec![0xa5; 300_000]);
    assert_eq!(bounded("blob", rooms.blob(big.clone())).await.unwrap(), big);
    rooms.note("after".into()).expect("push queued");
    assert_eq!(
        bounded("note", noted.recv()).await.as_deref(),
        Some("after")
    );

    // A client built from another version of the trait: the schema check
    // stops the call before it is sent.
    let stale = caller.proxy::<dyn v2::Rooms>("rooms", "@Rooms");
    let err = bounded("stale open", stale.open("21".into()))
        .await
        .expect_err("the builds differ");
    assert!(
        matches!(err.kind(), ErrorKind::SchemaMismatch { differences, .. } if &**differences == "`open` (changed)"),
        "{err}"
    );
    // Without the check, the server finds bytes it cannot read, and says so.
    let unchecked = client(
        &[("rooms", addr)],
        Options::default().with_schema_check(false),
    );
    let stale = unchecked.proxy::<dyn v2::Rooms>("rooms", "@Rooms");
    let err = bounded("stale open", stale.open("21".into()))
        .await
        .expect_err("the server cannot read a string as a room");
    let ErrorKind::Codec { reason, .. } = err.kind() else {
        panic!("expected a codec error, got {err}");
    };
    assert!(
        reason.contains("`open`") && reason.contains("`Rooms`") && reason.contains("postcard"),
        "{reason}"
    );
    assert_eq!(err.method(), Some("open"));
    // The connection is still good.
    assert_eq!(
        bounded("open again", rooms.open(sample(1, 1)))
            .await
            .unwrap(),
        Ok(2)
    );
}
