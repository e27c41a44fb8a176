//! Every entry of `cluster_frames.json`, bytes recorded from a real Skynet
//! node, checked against skycluster's encoders and decoders. An entry added
//! to the file is a new case here with no code change.

mod support;

use bytes::{Bytes, BytesMut};
use serde_json::Value as Json;
use skycluster::wire::{
    encode_error, encode_ok, encode_push, encode_request, encode_trace, Address, Inbound, Name,
    Reply, ReplyDecoder, RequestDecoder, RequestFrame, ResponseFrame, Session, TraceTag,
};
use tokio_util::codec::Decoder;

use support::{load_vectors, unhex};

/// The exact bytes of an entry: `hex`, or its `frames` one after another.
fn expected_bytes(entry: &Json) -> Vec<u8> {
    if let Some(hex) = entry["hex"].as_str() {
        return unhex(hex);
    }
    let frames = entry["frames"]
        .as_array()
        .expect("entry has `hex` or `frames`");
    frames
        .iter()
        .flat_map(|f| unhex(f.as_str().expect("frame is hex")))
        .collect()
}

fn frame_count(bytes: &[u8]) -> usize {
    let mut rest = bytes;
    let mut n = 0;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        rest = &rest[2 + len..];
        n += 1;
    }
    assert!(rest.is_empty(), "vector bytes end inside a frame");
    n
}

fn address_of(case: &Json) -> Address {
    match &case["addr"] {
        Json::Number(n) => Address::Handle(
            u32::try_from(n.as_u64().expect("address is an integer")).expect("address fits u32"),
        ),
        Json::String(s) => Address::Name(Name::new(s.clone()).expect("vector name is valid")),
        other => panic!("unexpected address {other}"),
    }
}

/// Checks a decoded payload against the case's `payload_*` fields.
fn check_payload(name: &str, case: &Json, payload: &[u8]) {
    let len = case["payload_len"].as_u64().expect("payload_len") as usize;
    assert_eq!(payload.len(), len, "{name}: payload length");
    match case["payload_hex"].as_str() {
        Some(hex) => assert_eq!(payload, &unhex(hex)[..], "{name}: payload"),
        None => {
            let first = unhex(
                case["payload_first16_hex"]
                    .as_str()
                    .expect("payload_first16_hex"),
            );
            assert_eq!(&payload[..first.len()], &first[..], "{name}: payload start");
        }
    }
}

fn decode_requests(bytes: &[u8]) -> Vec<Inbound> {
    let mut decoder = RequestDecoder::default();
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(item) = decoder
        .decode(&mut buf)
        .expect("decoding never fails on content")
    {
        out.push(item);
    }
    assert!(buf.is_empty(), "decoder left bytes behind");
    out
}

fn decode_replies(bytes: &[u8]) -> Vec<Reply> {
    let mut decoder = ReplyDecoder::default();
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(reply) = decoder.decode(&mut buf).expect("recorded replies decode") {
        out.push(reply);
    }
    assert!(buf.is_empty(), "decoder left bytes behind");
    out
}

fn write_all(dst: &mut BytesMut, pieces: Option<skycluster::wire::Pieces>) -> bool {
    let multi = pieces.is_some();
    if let Some(mut pieces) = pieces {
        while pieces.write_next(dst) {}
    }
    multi
}

fn check_request(name: &str, entry: &Json, push: bool) {
    let case = &entry["case"];
    let expected = expected_bytes(entry);
    let frames = case["frames"].as_u64().expect("frames") as usize;
    assert_eq!(frame_count(&expected), frames, "{name}: frame count");

    // Decode, as an agent does.
    let items = decode_requests(&expected);
    let [Inbound::Request(request)] = &items[..] else {
        panic!("{name}: expected one request, got {items:?}");
    };
    let address = address_of(case);
    assert_eq!(request.address, address, "{name}: address");
    let wire_session = case["session"].as_u64().expect("session") as u32;
    assert_eq!(request.session, wire_session, "{name}: session");
    assert_eq!(request.push, push, "{name}: push");
    check_payload(name, case, &request.payload);

    // Encode, as a sender does. A push is handed the sender's counter
    // (the entry's `session`); the wire carries 0 unless it is multi-part.
    let given = if push {
        entry["session"].as_u64().expect("session")
    } else {
        u64::from(wire_session)
    };
    let session = Session::new(u32::try_from(given).expect("session fits u32"))
        .expect("recorded sessions are valid");
    let mut out = BytesMut::new();
    let pieces = if push {
        encode_push(&mut out, &address, session, request.payload.clone())
    } else {
        encode_request(&mut out, &address, session, request.payload.clone())
    }
    .expect("payload fits");
    let multi = write_all(&mut out, pieces);
    assert_eq!(hex::encode(&out), hex::encode(&expected), "{name}: bytes");
    assert_eq!(multi, frames > 1, "{name}: multi-part");
    if let Some(next) = entry["next_session"].as_u64() {
        assert_eq!(
            u64::from(session.next().get()),
            next,
            "{name}: next session"
        );
    }
}

fn check_response(name: &str, entry: &Json, ok: bool) {
    let case = &entry["case"];
    let expected = expected_bytes(entry);
    assert_eq!(
        frame_count(&expected),
        case["frames"].as_u64().expect("frames") as usize,
        "{name}: frame count"
    );
    let session = case["session"].as_u64().expect("session") as u32;

    let replies = decode_replies(&expected);
    let [reply] = &replies[..] else {
        panic!("{name}: expected one reply, got {replies:?}");
    };
    assert_eq!(reply.session, session, "{name}: session");
    let payload = match (&reply.result, ok) {
        (Ok(payload), true) => payload.clone(),
        (Err(text), false) => {
            if let Some(expected_text) = case["text"].as_str() {
                assert_eq!(&text[..], expected_text.as_bytes(), "{name}: text");
            }
            text.clone()
        }
        (result, _) => panic!("{name}: wrong outcome {result:?}"),
    };
    check_payload(name, case, &payload);

    let mut out = BytesMut::new();
    if ok {
        let pieces = encode_ok(&mut out, session, payload).expect("payload fits");
        write_all(&mut out, pieces);
    } else {
        encode_error(&mut out, session, &payload);
    }
    assert_eq!(hex::encode(&out), hex::encode(&expected), "{name}: bytes");
}

fn check_trace(name: &str, entry: &Json) {
    let tag = unhex(entry["case"]["tag_hex"].as_str().expect("tag_hex"));
    let expected = expected_bytes(entry);
    let items = decode_requests(&expected);
    assert_eq!(
        items,
        vec![Inbound::Trace(Bytes::from(tag.clone()))],
        "{name}"
    );
    let mut out = BytesMut::new();
    encode_trace(
        &mut out,
        &TraceTag::new(tag).expect("recorded tag is valid"),
    );
    assert_eq!(hex::encode(&out), hex::encode(&expected), "{name}: bytes");
}

/// Packing errors only Lua can cause: the Rust API must refuse the same
/// argument, or have no way to express it. Matched on Skynet's message, so
/// a new kind of entry fails here until it is handled.
fn check_lua_only_error(name: &str, entry: &Json) {
    let error = entry["error"]
        .as_str()
        .expect("lua_only_error has an error");
    if let Some(n) = error.strip_prefix("Invalid request session ") {
        let n: i64 = n.trim().parse().expect("session number");
        let refused = u32::try_from(n).ok().and_then(Session::new).is_none();
        assert!(refused, "{name}: session {n} must not be a Session");
    } else if let Some(rest) = error.strip_prefix("name length is invalid") {
        let name_given = rest.split_once(": ").map_or("", |(_, n)| n);
        assert!(
            Name::new(name_given.to_owned()).is_err(),
            "{name}: a name of {} bytes must be refused",
            name_given.len()
        );
    } else if let Some(len) = error.strip_prefix("trace tag is too long : ") {
        let len: usize = len.trim().parse().expect("tag length");
        assert!(TraceTag::new(vec![b't'; len]).is_err(), "{name}");
    } else if error.starts_with("name is not a string") || error == "Invalid request message" {
        // `Address` is a number or a `Name`, and a payload is `Bytes`: a
        // boolean name or a nil message cannot be written in Rust.
    } else {
        panic!("{name}: unhandled Lua-only error {error:?}");
    }
}

/// Free-text behaviour entries; the one recorded so far is about pieces
/// that do not add up, which the agent answers with `Invalid large req`.
fn check_behaviour(name: &str, entry: &Json) {
    let text = entry["case"]["text"].as_str().expect("behaviour text");
    assert!(
        text.contains("Invalid large req"),
        "{name}: unhandled behaviour {text:?}"
    );
    // Header announcing 5 bytes, then a last piece of 3.
    let mut bytes = BytesMut::new();
    bytes.extend_from_slice(&[0, 13, 0x01, 10, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0]);
    bytes.extend_from_slice(&[0, 8, 0x03, 4, 0, 0, 0, b'a', b'b', b'c']);
    let items = decode_requests(&bytes);
    assert!(
        matches!(&items[..], [Inbound::Broken(e)] if e.session() == 4),
        "{name}: {items:?}"
    );
}

#[test]
fn every_recorded_cluster_frame_matches() {
    let entries = load_vectors("cluster_frames.json");
    assert!(!entries.is_empty());
    for entry in &entries {
        let name = entry["name"].as_str().expect("entry has a name");
        let op = entry["case"]["op"].as_str().expect("entry has case.op");
        match op {
            "request" => check_request(name, entry, false),
            "push" => check_request(name, entry, true),
            "response_ok" => check_response(name, entry, true),
            "response_error" => check_response(name, entry, false),
            "trace" => check_trace(name, entry),
            "unpack_request_rejected" => {
                let body = Bytes::from(unhex(entry["case"]["body_hex"].as_str().expect("body")));
                assert!(
                    RequestFrame::parse(body).is_err(),
                    "{name}: must be rejected"
                );
            }
            "unpack_response_rejected" => {
                let hex = entry["case"]["body_hex"].as_str().expect("body");
                let body = Bytes::from(unhex(hex));
                assert!(ResponseFrame::parse(body.clone()).is_err(), "{name}");
                let mut stream = BytesMut::new();
                stream.extend_from_slice(&(body.len() as u16).to_be_bytes());
                stream.extend_from_slice(&body);
                assert!(
                    ReplyDecoder::default().decode(&mut stream).is_err(),
                    "{name}"
                );
            }
            "lua_only_error" => check_lua_only_error(name, entry),
            "behaviour" => check_behaviour(name, entry),
            other => panic!("{name}: unknown op {other:?}"),
        }
    }
}
