//! TLS between Rust nodes (the `tls` feature), with certificates made at
//! test time: calls, pushes and multi-part messages go through; a peer
//! with the wrong CA, an expired certificate, or no TLS at all is refused
//! before a frame is read, and the caller's error names the node.

mod support;

use std::time::Duration;

use bytes::Bytes;
use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair};
use skycluster::{Auth, ErrorKind, Options, Tls};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::node::{bounded, client, echo_server, pack, s, sink_server_with};
use support::raw::skynet_query_until_closed;

/// A certificate authority made for one test.
struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA certificate");
        Ca { cert, key }
    }

    /// A node certificate for 127.0.0.1, signed by this CA.
    fn node(&self) -> Identity {
        self.node_with(|_| {})
    }

    fn node_with(&self, edit: impl FnOnce(&mut CertificateParams)) -> Identity {
        let key = KeyPair::generate().expect("node key");
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
        params.distinguished_name.push(DnType::CommonName, "node");
        edit(&mut params);
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("node certificate");
        Identity {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// TLS settings for a node with a certificate from this CA, trusting
    /// `trusted`.
    fn tls(&self, trusted: &Ca) -> Tls {
        self.node().tls(trusted)
    }
}

/// A node's certificate and key, as PEM.
struct Identity {
    cert: String,
    key: String,
}

impl Identity {
    fn tls(&self, trusted: &Ca) -> Tls {
        Tls::from_pem(
            self.cert.as_bytes(),
            self.key.as_bytes(),
            trusted.cert.pem().as_bytes(),
        )
        .expect("TLS settings")
    }
}

fn with_tls(tls: Tls) -> Options {
    Options::default()
        .with_tls(Some(tls))
        // A refused handshake fails fast rather than at 5 s.
        .with_connect_timeout(Duration::from_secs(2))
        .with_frame_timeout(Duration::from_secs(2))
}

#[tokio::test]
async fn calls_pushes_and_multi_part_calls_go_over_tls() {
    let ca = Ca::new("cluster CA");
    let (_server, addr) = echo_server("vault", with_tls(ca.tls(&ca))).await;
    let game = client(&[("vault", addr)], with_tls(ca.tls(&ca)));
    let reply = bounded("call", game.call("vault", "@echo", pack(&[s("x")]))).await;
    assert_eq!(reply.expect("call over TLS"), pack(&[s("x")]));
    // Large enough to go in many pieces each way.
    let big = Bytes::from((0..300_000u32).map(|i| i as u8).collect::<Vec<u8>>());
    let reply = bounded("large call", game.call("vault", "@echo", big.clone())).await;
    assert_eq!(reply.expect("multi-part call over TLS"), big);
    // Many at once, so that writes coalesce and TLS records split them.
    let calls = (0..64u32).map(|i| {
        let game = game.clone();
        async move {
            let payload = Bytes::from(i.to_le_bytes().to_vec());
            let reply = game.call("vault", ".echo", payload.clone()).await;
            assert_eq!(reply.expect("concurrent call"), payload);
        }
    });
    bounded("concurrent calls", futures_util::future::join_all(calls)).await;
    assert!(game.status().nodes[0].connected);
}

#[tokio::test]
async fn pushes_and_multi_part_pushes_arrive_over_tls() {
    let ca = Ca::new("cluster CA");
    let (_server, addr, mut got) = sink_server_with(Some("vault"), with_tls(ca.tls(&ca))).await;
    let game = client(&[("vault", addr)], with_tls(ca.tls(&ca)));
    let big = Bytes::from(vec![7u8; 100_000]);
    game.send("vault", ".sink", Bytes::from_static(b"hello"))
        .expect("push queued");
    game.send("vault", ".sink", big.clone())
        .expect("large push queued");
    let first = bounded("push", got.recv()).await.expect("a push");
    assert!(first.is_push());
    assert_eq!(first.payload().as_ref(), b"hello");
    let second = bounded("large push", got.recv()).await.expect("a push");
    assert_eq!(second.payload(), &big);
}

#[tokio::test]
async fn mutual_tls_accepts_a_sender_with_a_certificate_from_the_ca() {
    let ca = Ca::new("cluster CA");
    let server_tls = ca.tls(&ca).with_client_auth().expect("client auth");
    let (_server, addr) = echo_server("vault", with_tls(server_tls)).await;
    let game = client(&[("vault", addr)], with_tls(ca.tls(&ca)));
    let reply = bounded("call", game.call("vault", "@echo", pack(&[s("x")]))).await;
    assert_eq!(reply.expect("mutual TLS"), pack(&[s("x")]));
}

#[tokio::test]
async fn mutual_tls_refuses_a_sender_certified_by_another_ca() {
    let ca = Ca::new("cluster CA");
    let rogue = Ca::new("rogue CA");
    let server_tls = ca.tls(&ca).with_client_auth().expect("client auth");
    let (_server, addr) = echo_server("vault", with_tls(server_tls)).await;
    // Trusts the listener, but presents a certificate the listener does
    // not trust.
    let game = client(&[("vault", addr)], with_tls(rogue.tls(&ca)));
    let err = bounded("call", game.call("vault", "@echo", pack(&[s("x")])))
        .await
        .expect_err("refused");
    assert_eq!(err.node(), "vault", "{err}");
    // With TLS 1.3 the refusal arrives after the sender's side of the
    // handshake: as a failed connect, or as the connection dropping
    // with the listener's alert.
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Connect { .. } | ErrorKind::Disconnected { .. }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("TLS handshake failed")
            || text.contains("received fatal alert")
            || text.contains("closed by peer")
            || text.contains("write failed"),
        "{text}"
    );
}

#[tokio::test]
async fn a_listener_certified_by_another_ca_fails_the_call_naming_the_node() {
    let ca = Ca::new("cluster CA");
    let rogue = Ca::new("rogue CA");
    let (_server, addr) = echo_server("vault", with_tls(rogue.tls(&rogue))).await;
    let game = client(&[("vault", addr)], with_tls(ca.tls(&ca)));
    let err = bounded("call", game.call("vault", "@echo", pack(&[s("x")])))
        .await
        .expect_err("untrusted listener");
    assert!(matches!(err.kind(), ErrorKind::Connect { .. }), "{err}");
    assert_eq!(err.node(), "vault");
    let text = err.to_string();
    assert!(text.contains("vault"), "{text}");
    assert!(text.contains("TLS handshake failed"), "{text}");
    assert!(text.contains("UnknownIssuer"), "{text}");
}

#[tokio::test]
async fn an_expired_listener_certificate_fails_the_call() {
    let ca = Ca::new("cluster CA");
    let expired = ca.node_with(|p| {
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    });
    let (_server, addr) = echo_server("vault", with_tls(expired.tls(&ca))).await;
    let game = client(&[("vault", addr)], with_tls(ca.tls(&ca)));
    let err = bounded("call", game.call("vault", "@echo", pack(&[s("x")])))
        .await
        .expect_err("expired certificate");
    assert!(matches!(err.kind(), ErrorKind::Connect { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("TLS handshake failed"), "{text}");
    assert!(text.contains("certificate expired"), "{text}");
}

#[tokio::test]
async fn a_plaintext_sender_to_a_tls_listener_is_closed_before_a_frame_is_read() {
    let ca = Ca::new("cluster CA");
    let (_server, addr) = echo_server("vault", with_tls(ca.tls(&ca))).await;
    // A skycluster node without TLS, as a Lua node would call.
    let plain = client(
        &[("vault", addr)],
        Options::default().with_connect_timeout(Duration::from_secs(2)),
    );
    let err = bounded("call", plain.call("vault", "@echo", pack(&[s("x")])))
        .await
        .expect_err("plaintext refused");
    assert_eq!(err.node(), "vault", "{err}");
    assert!(
        matches!(err.kind(), ErrorKind::Disconnected { .. }),
        "{err}"
    );
    // A raw Skynet frame gets no reply: the connection closes.
    let seen = skynet_query_until_closed(addr).await;
    // At most a TLS alert record (type 21) came back, never a reply.
    assert!(seen.is_empty() || seen[0] == 21, "{seen:?}");
}

#[tokio::test]
async fn garbage_and_silence_are_closed_by_a_tls_listener() {
    let ca = Ca::new("cluster CA");
    let options = with_tls(ca.tls(&ca)).with_frame_timeout(Duration::from_millis(300));
    let (server, addr) = echo_server("vault", options).await;
    let mut garbage = bounded("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])
        .await
        .expect("write");
    let mut silent = bounded("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    for conn in [&mut garbage, &mut silent] {
        bounded("closed", async {
            let mut buf = [0u8; 256];
            while let Ok(1..) = conn.read(&mut buf).await {}
        })
        .await;
    }
    // The node still serves TLS callers.
    let game = client(&[("vault", addr)], with_tls(ca.tls(&ca)));
    bounded("call", game.call("vault", "@echo", pack(&[s("x")])))
        .await
        .expect("still serving");
    drop(server);
}

#[tokio::test]
async fn a_tls_sender_to_a_plaintext_listener_fails_within_the_connect_timeout() {
    let ca = Ca::new("cluster CA");
    // A plaintext node, as a Lua node listens: it reads the ClientHello as
    // the start of a frame and waits for the rest.
    let (_server, addr) = echo_server("lua1", Options::default()).await;
    let game = client(
        &[("lua1", addr)],
        with_tls(ca.tls(&ca)).with_connect_timeout(Duration::from_millis(500)),
    );
    let err = bounded("call", game.call("lua1", "@echo", pack(&[s("x")])))
        .await
        .expect_err("no TLS there");
    assert!(matches!(err.kind(), ErrorKind::Connect { .. }), "{err}");
    assert_eq!(err.node(), "lua1");
    assert!(err.to_string().contains("TLS handshake failed"), "{err}");
}

#[tokio::test]
async fn a_tls_node_calls_a_plain_node_and_a_tls_node_in_one_cluster() {
    let ca = Ca::new("cluster CA");
    let (_vault, vault_addr) = echo_server("vault", with_tls(ca.tls(&ca))).await;
    // A node without TLS, standing in for a Lua Skynet node.
    let (_lua, lua_addr) = echo_server("lua1", Options::default()).await;
    let game = client(
        &[("vault", vault_addr), ("lua1", lua_addr)],
        with_tls(ca.tls(&ca).with_plain_node("lua1")),
    );
    let reply = bounded("TLS call", game.call("vault", "@echo", pack(&[s("a")]))).await;
    assert_eq!(reply.expect("TLS node"), pack(&[s("a")]));
    let reply = bounded("plain call", game.call("lua1", "@echo", pack(&[s("b")]))).await;
    assert_eq!(reply.expect("plain node"), pack(&[s("b")]));
}

#[tokio::test]
async fn tls_and_auth_combine() {
    let ca = Ca::new("cluster CA");
    let secret = |s: &[u8]| Some(Auth::new(s.to_vec()));
    let (_server, addr) =
        echo_server("vault", with_tls(ca.tls(&ca)).with_auth(secret(b"k1"))).await;
    let game = client(
        &[("vault", addr)],
        with_tls(ca.tls(&ca)).with_auth(secret(b"k1")),
    );
    let reply = bounded("call", game.call("vault", "@echo", pack(&[s("x")]))).await;
    assert_eq!(reply.expect("TLS and Auth"), pack(&[s("x")]));
    let wrong = client(
        &[("vault", addr)],
        with_tls(ca.tls(&ca)).with_auth(secret(b"k2")),
    );
    let err = bounded("call", wrong.call("vault", "@echo", pack(&[s("x")])))
        .await
        .expect_err("wrong secret inside TLS");
    assert!(err.to_string().contains("authentication failed"), "{err}");
}

#[test]
fn bad_pem_files_are_errors_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("skycluster-tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca = Ca::new("cluster CA");
    let node = ca.node();
    let cert = dir.join("node.crt");
    let key = dir.join("node.key");
    let roots = dir.join("ca.crt");
    let empty = dir.join("empty.pem");
    std::fs::write(&cert, &node.cert).expect("write");
    std::fs::write(&key, &node.key).expect("write");
    std::fs::write(&roots, ca.cert.pem()).expect("write");
    std::fs::write(&empty, "nothing here\n").expect("write");

    Tls::from_pem_files(&cert, &key, &roots).expect("good files load");
    let missing = dir.join("missing.crt");
    let err = Tls::from_pem_files(&missing, &key, &roots).expect_err("missing");
    assert!(err.to_string().contains("missing.crt"), "{err}");
    let err = Tls::from_pem_files(&cert, &empty, &roots).expect_err("no key");
    assert!(err.to_string().contains("empty.pem"), "{err}");
    assert!(err.to_string().contains("private key"), "{err}");
    let err = Tls::from_pem_files(&cert, &key, &empty).expect_err("no CA");
    assert!(err.to_string().contains("empty.pem"), "{err}");
    assert!(err.to_string().contains("CA certificates"), "{err}");
    // Another node's key does not fit this certificate.
    let other = dir.join("other.key");
    std::fs::write(&other, ca.node().key).expect("write");
    let err = Tls::from_pem_files(&cert, &other, &roots).expect_err("wrong key");
    assert!(err.to_string().contains("other.key"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
