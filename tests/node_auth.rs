//! Opt-in authentication: nodes that share the secret talk; others are
//! closed before a single frame is read.

mod support;

use skycluster::{Auth, ErrorKind, Options};

use support::node::{bounded, client, echo_server, pack, s};
use support::raw::skynet_query_until_closed;

fn with_secret(secret: &[u8]) -> Options {
    Options::default().with_auth(Some(Auth::new(secret.to_vec())))
}

#[tokio::test]
async fn nodes_that_share_the_secret_call_each_other() {
    let (_server, addr) = echo_server("vault", with_secret(b"correct horse")).await;
    let game = client(&[("vault", addr)], with_secret(b"correct horse"));
    let reply = bounded("call", game.call("vault", "@echo", pack(&[s("x")]))).await;
    assert_eq!(reply.expect("authenticated"), pack(&[s("x")]));
}

#[tokio::test]
async fn a_wrong_secret_fails_the_call_with_an_authentication_error() {
    let (_server, addr) = echo_server("vault", with_secret(b"correct horse")).await;
    let game = client(&[("vault", addr)], with_secret(b"battery staple"));
    let err = bounded("call", game.call("vault", "@echo", pack(&[s("x")])))
        .await
        .expect_err("refused");
    assert!(matches!(err.kind(), ErrorKind::Connect { .. }), "{err}");
    assert!(err.to_string().contains("authentication failed"), "{err}");
}

#[tokio::test]
async fn a_plain_skynet_client_is_closed_without_an_answer() {
    let (_server, addr) = echo_server("vault", with_secret(b"correct horse")).await;
    // The node closes (a reset is fine: it left our frame unread).
    let seen = skynet_query_until_closed(addr).await;
    // At most the challenge came back, never a reply.
    assert!(seen.len() <= 37, "{} bytes came back", seen.len());
    assert!(seen.is_empty() || seen.starts_with(b"SKYA"));
}

#[tokio::test]
async fn plain_nodes_are_called_without_the_handshake() {
    // A node without auth (standing in for a Lua node), called by a node
    // that has a secret but lists it as plain.
    let (_lua, addr) = echo_server("lua1", Options::default()).await;
    let options =
        Options::default().with_auth(Some(Auth::new(b"k".to_vec()).with_plain_node("lua1")));
    let game = client(&[("lua1", addr)], options);
    bounded("plain call", game.call("lua1", "@echo", pack(&[s("x")])))
        .await
        .expect("no handshake with a plain node");
}

#[tokio::test]
async fn a_call_times_out_on_time_while_the_handshake_stalls() {
    // A peer that accepts and then says nothing: the handshake would wait
    // out the connect timeout (10 s here); the call's own 200 ms rule.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = silent.local_addr().expect("addr");
    let accept = tokio::spawn(async move { silent.accept().await.map(|(s, _)| s) });
    let options = with_secret(b"correct horse")
        .with_connect_timeout(std::time::Duration::from_secs(10))
        .with_call_timeout(std::time::Duration::from_millis(200));
    let game = client(&[("vault", addr)], options);
    let started = std::time::Instant::now();
    let err = bounded("call", game.call("vault", "@echo", pack(&[s("x")])))
        .await
        .expect_err("no handshake, no answer");
    assert!(err.is_timeout(), "{err}");
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(5),
        "the call waited {waited:?}, not its own timeout"
    );
    let _held_open = bounded("accepted", accept).await;
}
