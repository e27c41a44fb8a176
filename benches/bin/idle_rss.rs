//! The resident memory of skycluster nodes holding 1,000 idle connections.
//!
//! Two processes. The server node (a child, this binary with `serve`)
//! listens and serves the bench's echo service. The client node (this
//! process) has 1,000 nodes in its config, all at the server's address,
//! and calls each once: 1,000 senders, each with its connection, on one
//! side; 1,000 agents on the other. Then everything idles, and each side
//! reads its own `VmRSS` (`/proc/self/status`), before and after.
//!
//! `cargo run --release -p benches --bin idle_rss [-- --connections N]`

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use benches::procfs::rss_kib;
use bytes::Bytes;
use skycluster::{Cluster, Config, HandlerError, Request};

/// The longest the whole measurement may take.
const TIMEOUT: Duration = Duration::from_secs(120);
/// Calls made at once while connecting.
const CONNECTING_AT_ONCE: usize = 50;
/// How long the connections idle before the second reading.
const IDLE: Duration = Duration::from_millis(500);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("serve") {
        serve()
    } else {
        let connections = match args.iter().position(|a| a == "--connections") {
            Some(i) => args
                .get(i + 1)
                .and_then(|v| v.parse().ok())
                .filter(|&n| n > 0 && n <= 10_000),
            None => Some(1000),
        };
        match connections {
            Some(n) => measure(n),
            None => Err("--connections takes 1 to 10000".to_owned()),
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("idle_rss: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// The server node: prints `listening ADDR` and `rss KIB`, then answers
/// each `rss` line on stdin with its RSS and connection count. Exits when
/// stdin closes or after [`TIMEOUT`].
fn serve() -> Result<(), String> {
    let runtime = runtime()?;
    let cluster = Cluster::new(Config::new());
    let addr = runtime
        .block_on(cluster.listen("127.0.0.1:0"))
        .map_err(|e| e.to_string())?;
    let handle = cluster
        .spawn_handler(|req: Request| async move { Ok::<_, HandlerError>(req.into_payload()) });
    cluster
        .register_name("echo", handle)
        .map_err(|e| e.to_string())?;
    let rss = rss_kib().map_err(|e| e.to_string())?;
    println!("listening {addr}");
    println!("rss {rss} 0");
    let _ = std::io::stdout().flush();
    let status = cluster.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if line.as_deref().map_or(true, |l| l != "rss") {
                break;
            }
            let connections: usize = status
                .status()
                .listeners
                .iter()
                .map(|l| l.connections)
                .sum();
            println!("rss {} {connections}", rss_kib().unwrap_or(0));
            let _ = std::io::stdout().flush();
        }
        std::process::exit(0);
    });
    runtime.block_on(async { tokio::time::sleep(TIMEOUT).await });
    Err(format!("not stopped within {TIMEOUT:?}"))
}

/// Reads lines from the server with a bound on each wait.
struct Server {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn expect(&self, prefix: &str) -> Result<String, String> {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .map_err(|_| format!("the server said no `{prefix}`"))?;
            if let Some(rest) = line.strip_prefix(prefix) {
                return Ok(rest.trim().to_owned());
            }
        }
    }

    /// The server's RSS in KiB and its open connections.
    fn rss(&self) -> Result<(u64, usize), String> {
        let line = self.expect("rss ")?;
        let mut fields = line.split_whitespace();
        match (
            fields.next().and_then(|v| v.parse().ok()),
            fields.next().and_then(|v| v.parse().ok()),
        ) {
            (Some(rss), Some(conns)) => Ok((rss, conns)),
            _ => Err(format!("bad rss line `{line}`")),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn measure(connections: usize) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let server = Server { child, lines };
    let addr = server.expect("listening ")?;
    let (server_before, _) = server.rss()?;

    let runtime = runtime()?;
    let mut config = Config::new();
    for i in 0..connections {
        config = config.with_node(format!("n{i}"), addr.clone());
    }
    let cluster = Cluster::new(config);
    let client_before = rss_kib().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        tokio::time::timeout(TIMEOUT, connect_all(&cluster, connections))
            .await
            .map_err(|_| format!("connecting took over {TIMEOUT:?}"))?
    })?;
    runtime.block_on(async { tokio::time::sleep(IDLE).await });
    let client_after = rss_kib().map_err(|e| e.to_string())?;
    writeln!(stdin, "rss").map_err(|e| e.to_string())?;
    let (server_after, open) = server.rss()?;
    let connected = cluster
        .status()
        .nodes
        .iter()
        .filter(|n| n.connected)
        .count();
    drop(stdin);

    let per = |before: u64, after: u64| (after.saturating_sub(before)) as f64 / connections as f64;
    println!("{connections} idle connections, each used for one 16-byte call");
    println!("| node | VmRSS before | VmRSS after | per connection |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| server: {open} agents | {server_before} KiB | {server_after} KiB | {:.1} KiB |",
        per(server_before, server_after)
    );
    println!(
        "| client: {connected} senders | {client_before} KiB | {client_after} KiB | {:.1} KiB |",
        per(client_before, client_after)
    );
    if open != connections || connected != connections {
        return Err(format!(
            "expected {connections} connections, the server has {open} and the client {connected}"
        ));
    }
    Ok(())
}

/// Calls every node once, [`CONNECTING_AT_ONCE`] at a time.
async fn connect_all(cluster: &Cluster, connections: usize) -> Result<(), String> {
    let payload = Bytes::from_static(&[7; 16]);
    let nodes: Arc<Vec<String>> = Arc::new((0..connections).map(|i| format!("n{i}")).collect());
    for chunk in nodes.chunks(CONNECTING_AT_ONCE) {
        let calls = chunk
            .iter()
            .map(|node| cluster.call(node, "@echo", payload.clone()));
        for reply in futures_util::future::join_all(calls).await {
            let reply = reply.map_err(|e| e.to_string())?;
            if reply != payload {
                return Err("an echo came back different".to_owned());
            }
        }
    }
    Ok(())
}
