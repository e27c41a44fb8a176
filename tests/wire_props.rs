//! Property tests: any message to any address, as request, push or reply,
//! survives encode then decode when the stream is cut into random reads.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use skycluster::wire::{
    encode_error, encode_ok, encode_push, encode_request, Address, Inbound, Name, ReplyDecoder,
    RequestDecoder, Session,
};
use tokio_util::codec::Decoder;

fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        any::<u32>().prop_map(Address::Handle),
        proptest::collection::vec(any::<u8>(), 1..=255)
            .prop_map(|n| Address::Name(Name::new(n).expect("1..=255 bytes"))),
    ]
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    // Mostly small, sometimes around the 0x8000 threshold, up to 200 KiB.
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..64),
        2 => proptest::collection::vec(any::<u8>(), 0x7FF0..0x8010),
        1 => proptest::collection::vec(any::<u8>(), 0..200 * 1024),
    ]
}

fn session() -> impl Strategy<Value = Session> {
    (1..=Session::MAX).prop_map(|n| Session::new(n).expect("in range"))
}

/// Feeds `bytes` to `decode` in reads of the given sizes (cycled).
fn feed<T>(
    bytes: &[u8],
    cuts: &[usize],
    mut decode: impl FnMut(&mut BytesMut) -> Vec<T>,
) -> Vec<T> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < bytes.len() {
        let n = cuts[i % cuts.len()].min(bytes.len() - at);
        buf.extend_from_slice(&bytes[at..at + n]);
        at += n;
        i += 1;
        out.extend(decode(&mut buf));
    }
    assert!(buf.is_empty(), "bytes left undecoded");
    out
}

fn requests(decoder: &mut RequestDecoder, buf: &mut BytesMut) -> Vec<Inbound> {
    let mut out = Vec::new();
    while let Some(item) = decoder.decode(buf).expect("no I/O here") {
        out.push(item);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn requests_and_pushes_round_trip(
        messages in proptest::collection::vec((address(), session(), payload(), any::<bool>()), 1..6),
        cuts in proptest::collection::vec(1usize..70_000, 1..8),
    ) {
        let mut stream = BytesMut::new();
        let mut pending = Vec::new();
        for (address, session, payload, push) in &messages {
            let payload = Bytes::from(payload.clone());
            let pieces = if *push {
                encode_push(&mut stream, address, *session, payload)
            } else {
                encode_request(&mut stream, address, *session, payload)
            }.expect("fits");
            if let Some(pieces) = pieces {
                pending.push(pieces);
            }
        }
        // Write the pieces of all large messages interleaved, one each in turn.
        while !pending.is_empty() {
            pending.retain_mut(|p| p.write_next(&mut stream) && !p.is_done());
        }
        let mut decoder = RequestDecoder::default();
        let got = feed(&stream, &cuts, |buf| requests(&mut decoder, buf));
        prop_assert_eq!(got.len(), messages.len());
        // Small messages come out in order at once; large ones when their
        // last piece arrives. Match by (address, payload) as a multiset.
        let mut expected: Vec<_> = messages
            .iter()
            .map(|(a, s, p, push)| {
                let multi = p.len() >= 0x8000;
                let session = if *push && !multi { 0 } else { s.get() };
                (format!("{a:?}"), session, *push, p.clone())
            })
            .collect();
        let mut actual: Vec<_> = got
            .into_iter()
            .map(|item| match item {
                Inbound::Request(r) => (format!("{:?}", r.address), r.session, r.push, r.payload.to_vec()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        expected.sort();
        actual.sort();
        prop_assert_eq!(actual, expected);
    }

    #[test]
    fn replies_round_trip(
        replies in proptest::collection::vec((1u32..1000, payload(), any::<bool>()), 1..6),
        cuts in proptest::collection::vec(1usize..70_000, 1..8),
    ) {
        // Distinct sessions, as a sender never reuses a pending one.
        let replies: Vec<_> = replies
            .into_iter()
            .enumerate()
            .map(|(i, (s, p, ok))| (s * 10 + i as u32, p, ok))
            .collect();
        let mut stream = BytesMut::new();
        for (session, payload, ok) in &replies {
            if *ok {
                if let Some(mut pieces) = encode_ok(&mut stream, *session, Bytes::from(payload.clone())).expect("fits") {
                    while pieces.write_next(&mut stream) {}
                }
            } else {
                encode_error(&mut stream, *session, payload);
            }
        }
        let mut decoder = ReplyDecoder::default();
        let got = feed(&stream, &cuts, |buf| {
            let mut out = Vec::new();
            while let Some(reply) = decoder.decode(buf).expect("valid stream") {
                out.push(reply);
            }
            out
        });
        prop_assert_eq!(got.len(), replies.len());
        for ((session, payload, ok), reply) in replies.iter().zip(got) {
            prop_assert_eq!(reply.session, *session);
            match reply.result {
                Ok(p) => { prop_assert!(*ok); prop_assert_eq!(&p[..], &payload[..]); }
                Err(t) => {
                    prop_assert!(!*ok);
                    let cut = payload.len().min(skycluster::wire::MAX_ERROR_TEXT);
                    prop_assert_eq!(&t[..], &payload[..cut]);
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        cuts in proptest::collection::vec(1usize..512, 1..8),
    ) {
        let mut requests_decoder = RequestDecoder::default();
        let mut buf = BytesMut::new();
        let mut at = 0;
        for (i, _) in bytes.iter().enumerate().step_by(1) {
            if i < at { continue; }
            let n = cuts[i % cuts.len()].min(bytes.len() - at);
            buf.extend_from_slice(&bytes[at..at + n]);
            at += n;
            while let Ok(Some(_)) = requests_decoder.decode(&mut buf) {}
        }
        let mut replies = ReplyDecoder::default();
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = replies.decode(&mut buf) {}
    }
}
