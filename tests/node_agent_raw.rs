//! The agent as a Lua Skynet sender sees it: raw frames in, raw frames out.

mod support;

use bytes::{Bytes, BytesMut};
use skycluster::codec::luaseri::{self, Value};
use skycluster::wire::{encode_trace, Address, Session, TraceTag};
use skycluster::Options;

use support::node::{bounded, echo_server, pack, s, sink_server};
use support::raw::{request, Raw};

#[tokio::test]
async fn a_name_query_answers_the_packed_handle_as_skynet_does() {
    let (server, addr) = echo_server("rust1", Options::default()).await;
    let mut raw = Raw::connect(addr).await;
    // i_request_queryname from the recorded vectors: query "echo", session 2.
    raw.write(&hex::decode("000e000000000002000000246563686f").expect("hex"))
        .await;
    let reply = raw.reply().await;
    assert_eq!(reply.session, 2);
    let handle = bounded("local query", server.query_name("rust1", "echo")).await;
    let expected = luaseri::pack(&[Value::Integer(i64::from(handle.expect("registered").get()))])
        .expect("pack");
    assert_eq!(reply.result, Ok(Bytes::from(expected)));
}

#[tokio::test]
async fn broken_multi_part_requests_get_invalid_large_req_and_the_connection_goes_on() {
    let (_server, addr) = echo_server("rust1", Options::default()).await;
    let mut raw = Raw::connect(addr).await;
    // Header for 5 bytes to handle 10, then a last piece of 3: they do not add up.
    raw.write(&[0, 13, 0x01, 10, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0])
        .await;
    raw.write(&[0, 8, 0x03, 4, 0, 0, 0, b'a', b'b', b'c']).await;
    let reply = raw.reply().await;
    assert_eq!(reply.session, 4);
    let text = reply.result.expect_err("an error reply");
    assert!(text.starts_with(b"Invalid large req"), "{text:?}");

    // Unknown frame type and an empty body are dropped; the next request works.
    raw.write(&[0, 5, 0x05, 0, 0, 0, 0]).await;
    raw.write(&[0, 0]).await;
    raw.write(&request("@echo", 9, pack(&[s("still here")])))
        .await;
    let reply = raw.reply().await;
    assert_eq!(reply.session, 9);
    assert_eq!(reply.result, Ok(pack(&[s("still here")])));
}

#[tokio::test]
async fn a_4_gib_claim_is_refused_without_allocating_it() {
    let (_server, addr) = echo_server("rust1", Options::default()).await;
    let mut raw = Raw::connect(addr).await;
    raw.write(&[0, 13, 0x01, 10, 0, 0, 0, 6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])
        .await;
    let reply = raw.reply().await;
    assert_eq!(reply.session, 6);
    let text = String::from_utf8(reply.result.expect_err("refused").to_vec()).expect("utf-8");
    assert!(text.contains("exceeds the limit"), "{text}");
}

#[tokio::test]
async fn a_push_to_an_unknown_name_is_answered_with_session_0_like_skynet() {
    let (_server, addr) = echo_server("rust1", Options::default()).await;
    let mut raw = Raw::connect(addr).await;
    // c_push_name_addr, but to a name nobody registered.
    let mut frame = BytesMut::new();
    let address: Address = "@nobody".parse().expect("name");
    skycluster::wire::encode_push(&mut frame, &address, Session::FIRST, pack(&[s("x")]))
        .expect("fits");
    raw.write(&frame).await;
    let reply = raw.reply().await;
    assert_eq!(reply.session, 0);
    assert!(reply
        .result
        .expect_err("error")
        .starts_with(b"Invalid name"));
}

#[tokio::test]
async fn a_trace_tag_reaches_the_handler_of_the_next_request() {
    let (_server, addr, mut rx) = sink_server().await;
    let mut raw = Raw::connect(addr).await;
    let mut out = BytesMut::new();
    encode_trace(&mut out, &TraceTag::new("(a-b-3)hello").expect("tag"));
    out.extend_from_slice(&request(".sink", 1, Bytes::new()));
    out.extend_from_slice(&request(".sink", 2, Bytes::new()));
    raw.write(&out).await;
    raw.reply().await;
    raw.reply().await;
    let first = bounded("trace", rx.recv()).await.expect("handler ran");
    let second = bounded("trace", rx.recv()).await.expect("handler ran");
    assert_eq!(first.trace(), Some(&Bytes::from_static(b"(a-b-3)hello")));
    assert_eq!(second.trace(), None, "a tag applies to one request");
}
