//! Metrics: with skycluster's `metrics` feature and a Prometheus recorder
//! (`metrics-exporter-prometheus`), a node's calls, bytes and connections
//! can be scraped as Prometheus text.
//!
//! Two nodes in one process: `game1` calls `battle1`'s `@echo`. The
//! recorder is installed first (senders register their figures when they
//! are made), and this program serves what it renders on a loopback port
//! at `/metrics`, with a few lines of HTTP of its own (the exporter's
//! `http-listener` feature would serve it too, with hyper).
//!
//! Run alone, it makes 10 calls, scrapes itself and prints the
//! skycluster lines. With `--hold` it prints `metrics at ADDR`, makes its
//! calls when a line arrives on stdin, prints `made 10 calls`, and serves
//! until stdin closes (at most a minute): `tests/examples_run.rs` scrapes
//! it before and after.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use skycluster::{Cluster, Config, HandlerError, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CALLS: usize = 10;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hold = std::env::args().any(|a| a == "--hold");
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let metrics_addr = serve_metrics(prometheus).await?;
    println!("metrics at http://{metrics_addr}/metrics");

    let battle = Cluster::new(Config::new());
    battle.set_name("battle1")?;
    let addr = battle.listen("127.0.0.1:0").await?;
    let echo = battle
        .spawn_handler(|req: Request| async move { Ok::<_, HandlerError>(req.into_payload()) });
    battle.register_name("echo", echo)?;
    let game = Cluster::new(Config::new().with_node("battle1", addr.to_string()));
    game.set_name("game1")?;

    let mut stdin = stdin_lines();
    if hold {
        // The scraper looks once before the calls.
        tokio::time::timeout(Duration::from_secs(60), stdin.recv()).await?;
    }
    for i in 0..CALLS {
        let payload = Bytes::from(format!("call {i}"));
        let reply = game.call("battle1", "@echo", payload.clone()).await?;
        assert_eq!(reply, payload);
    }
    println!("made {CALLS} calls");
    if hold {
        // Serve until the scraper closes stdin.
        let _ = tokio::time::timeout(Duration::from_secs(60), async {
            while stdin.recv().await.is_some() {}
        })
        .await;
        return Ok(());
    }
    let text = scrape(metrics_addr).await?;
    for line in text.lines().filter(|l| l.starts_with("skycluster_")) {
        println!("{line}");
    }
    Ok(())
}

/// Lines of stdin, read on a thread of their own (not a blocking task of
/// the runtime, which would keep it from shutting down); ends at EOF.
fn stdin_lines() -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Serves the recorder's text on a loopback port: every request gets it.
async fn serve_metrics(prometheus: PrometheusHandle) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let body = prometheus.render();
            tokio::spawn(async move {
                // The request line and headers, up to a blank line.
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16384 {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(body.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    Ok(addr)
}

/// `GET /metrics`, as Prometheus would: the body.
async fn scrape(addr: SocketAddr) -> std::io::Result<String> {
    let mut conn = TcpStream::connect(addr).await?;
    conn.write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await?;
    let mut response = String::new();
    conn.read_to_string(&mut response).await?;
    Ok(response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_owned()))
}
