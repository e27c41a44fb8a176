//! Hostile input on a listener: the node answers errors or closes the
//! connection, never panics, and its memory stays bounded. Run with
//! `--nocapture` to see the resident memory figures.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use skycluster::Options;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::node::{bounded, client, echo_server, pack, s};
use support::process::NodeProcess;

/// The node still answers a normal call on a fresh connection.
async fn still_serves(addr: SocketAddr) {
    let game = client(&[("victim", addr)], Options::default());
    let reply = bounded(
        "normal call",
        game.call("victim", "@echo", pack(&[s("ok?")])),
    )
    .await;
    assert_eq!(reply.expect("the node still serves"), pack(&[s("ok?")]));
}

/// Reads until EOF (or an error), bounded; returns the bytes read.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    bounded("connection close", async {
        let mut buf = [0u8; 64 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    all
}

fn report(what: &str, node: &NodeProcess, before: u64) -> u64 {
    let after = node.rss_kib();
    println!("rss {what}: {before} KiB -> {after} KiB");
    after
}

/// 64 MiB of slack over the starting size: far below what the attacks
/// would cost if a claimed size were trusted (4 GiB) or pending headers
/// were unbounded.
const RSS_SLACK_KIB: u64 = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_stalls_and_huge_claims_leave_the_node_serving_in_bounded_memory() {
    let node = NodeProcess::start_with("127.0.0.1:0", &["--frame-timeout-ms", "300"]);
    let addr = node.addr;
    still_serves(addr).await;
    let start = node.rss_kib();

    // 1. Random bytes (xorshift, so the run is repeatable).
    let mut garbage = Vec::with_capacity(1 << 20);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while garbage.len() < 1 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        garbage.extend_from_slice(&x.to_le_bytes());
    }
    let mut raw = bounded("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    // The node may close on us mid-write; that is a fine answer too.
    let _ = bounded("garbage", raw.write_all(&garbage)).await;
    drop(raw);
    still_serves(addr).await;
    report("after 1 MiB of random bytes", &node, start);

    // 2. A length prefix and then nothing: closed after the frame timeout.
    let mut raw = bounded("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    raw.write_all(&[0x00, 0x10, 0x00]).await.expect("write");
    read_to_close(&mut raw).await;
    still_serves(addr).await;

    // 3. A multi-part header announcing 4 GiB: refused without allocating.
    let mut raw = bounded("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    raw.write_all(&[0, 13, 0x01, 1, 0, 0, 0, 6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])
        .await
        .expect("write");
    let mut reply = [0u8; 7];
    bounded("refusal", raw.read_exact(&mut reply))
        .await
        .expect("error reply");
    assert_eq!(
        &reply[2..7],
        &[6, 0, 0, 0, 0],
        "an error reply for session 6"
    );
    drop(raw);
    report("after a 4 GiB claim", &node, start);

    // 4. 100,000 multi-part headers never completed.
    let mut raw = bounded("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    let (mut rd, mut wr) = raw.split();
    let mut headers = BytesMut::new();
    for session in 1..=100_000u32 {
        headers.extend_from_slice(&[0, 13, 0x01, 1, 0, 0, 0]);
        headers.extend_from_slice(&session.to_le_bytes());
        headers.extend_from_slice(&1000u32.to_le_bytes());
    }
    let (_, refused) = bounded("100k headers", async {
        tokio::join!(
            async {
                wr.write_all(&headers).await.expect("write headers");
            },
            async {
                // Headers beyond the pending limit are refused, one error
                // reply each; count them as they come.
                let mut buf = BytesMut::new();
                let mut refused = 0u32;
                while refused < 100_000 - 256 {
                    if rd.read_buf(&mut buf).await.expect("read") == 0 {
                        break;
                    }
                    while buf.len() >= 2 {
                        let len = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
                        if buf.len() < 2 + len {
                            break;
                        }
                        buf.advance(2 + len);
                        refused += 1;
                    }
                }
                refused
            }
        )
    })
    .await;
    assert_eq!(
        refused,
        100_000 - 256,
        "every header past the pending limit is refused"
    );
    let after = report("with 100,000 pending headers", &node, start);
    assert!(
        after < start + RSS_SLACK_KIB,
        "memory grew from {start} to {after} KiB"
    );
    drop(raw);

    // 5. Unknown frame types and a zero-length name, then a real request on
    // the same connection.
    let mut raw = bounded("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    let mut frames = vec![0, 5, 0x05, 0, 0, 0, 0, 0, 1, 0x90];
    frames.extend_from_slice(&[0, 7, 0x80, 0, 1, 0, 0, 0, 0x02]);
    let address: skycluster::wire::Address = "@echo".parse().expect("name");
    let mut ok = BytesMut::new();
    skycluster::wire::encode_request(
        &mut ok,
        &address,
        skycluster::wire::Session::FIRST,
        pack(&[s("x")]),
    )
    .expect("fits");
    frames.extend_from_slice(&ok);
    raw.write_all(&frames).await.expect("write");
    let mut head = [0u8; 7];
    bounded("reply", raw.read_exact(&mut head))
        .await
        .expect("a reply");
    assert_eq!(&head[2..7], &[1, 0, 0, 0, 1], "an ok reply to session 1");

    let end = report("at the end", &node, start);
    assert!(
        end < start + RSS_SLACK_KIB,
        "memory grew from {start} to {end} KiB"
    );
    still_serves(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connection_attempts_do_not_break_maxclient_or_existing_clients() {
    let options = Options::default().with_max_clients(64);
    let (server, addr) = echo_server("victim", options).await;
    let existing = client(&[("victim", addr)], Options::default());
    bounded("before", existing.call("victim", "@echo", pack(&[s("a")])))
        .await
        .expect("served");

    let storm: Vec<_> = (0..10_000)
        .map(|_| {
            tokio::spawn(async move {
                // Each attempt is bounded; a refused or reset one is fine.
                let connected =
                    tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr)).await;
                if let Ok(Ok(mut stream)) = connected {
                    let mut byte = [0u8; 1];
                    let _ =
                        tokio::time::timeout(Duration::from_millis(200), stream.read(&mut byte))
                            .await;
                }
            })
        })
        .collect();
    // While the storm rages, the existing client keeps being served and
    // the listener never holds more than maxclient connections.
    for _ in 0..20 {
        bounded("during", existing.call("victim", "@echo", pack(&[s("b")])))
            .await
            .expect("still served");
        assert!(server.status().listeners[0].connections <= 64);
    }
    for attempt in storm {
        bounded("attempt", attempt).await.expect("task");
    }
    assert!(server.status().listeners[0].connections <= 64);
    bounded("after", existing.call("victim", "@echo", pack(&[s("c")])))
        .await
        .expect("still served");
}
