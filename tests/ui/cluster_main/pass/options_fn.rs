//! `options = path`: the node runs with the function's `Options`. Its
//! `auth` (a client without the secret is refused, one with it answered),
//! its `call_timeout` (a call to a silent peer fails at exactly that
//! limit) and its `shutdown_grace` (with a request hanging, the process
//! exits after the grace, not after the 5 s default).
#![deny(warnings)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use skycluster::{Auth, Cluster, Config, ErrorKind, HandlerError, Options, Request};
use tokio::sync::Notify;
use tokio::time::timeout;

const SECRET: &[u8] = b"ui secret";
const CALL_TIMEOUT: Duration = Duration::from_millis(300);
const GRACE: Duration = Duration::from_millis(200);
/// Bounds every wait in the body.
const LIMIT: Duration = Duration::from_secs(30);
/// Far above `GRACE`, below the default grace (5 s): a process still
/// running this long after the body returned did not use `GRACE`.
const EXIT_BOUND: Duration = Duration::from_secs(4);

fn options() -> Options {
    Options::default()
        .with_call_timeout(CALL_TIMEOUT)
        .with_shutdown_grace(GRACE)
        // `silent` stands in for a Lua node: called without the handshake.
        .with_auth(Some(Auth::new(SECRET.to_vec()).with_plain_node("silent")))
}

#[skycluster::cluster_main(options = options)]
async fn main(cluster: Cluster) -> Result<(), Box<dyn std::error::Error>> {
    let echo = cluster.spawn_handler(|req: Request| async move {
        Ok::<_, HandlerError>(req.into_payload())
    });
    cluster.register_name("echo", echo)?;
    let started = Arc::new(Notify::new());
    let told = Arc::clone(&started);
    let stuck = cluster.spawn_handler(move |_: Request| {
        told.notify_one();
        std::future::pending::<Result<Bytes, HandlerError>>()
    });
    cluster.register_name("stuck", stuck)?;

    // Auth: the listener wants the secret.
    let addr = cluster.status().listeners[0].addr;
    let config = Config::new()
        .with_node("ui", addr.to_string())
        .with_nowaiting(true);
    let plain = Cluster::with_options(config.clone(), Options::default());
    let ping = Bytes::from_static(b"ping");
    let err = timeout(LIMIT, plain.call("ui", "@echo", ping.clone()))
        .await?
        .expect_err("a client without the secret is refused");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Disconnected { .. } | ErrorKind::Connect { .. }
        ),
        "{err}"
    );
    let client = Cluster::with_options(
        config,
        Options::default().with_auth(Some(Auth::new(SECRET.to_vec()))),
    );
    let reply = timeout(LIMIT, client.call("ui", "@echo", ping.clone())).await??;
    assert_eq!(reply, ping);

    // call_timeout: a peer that never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    cluster.reload_with(Config::new().with_node("silent", silent.local_addr()?.to_string()));
    let err = timeout(LIMIT, cluster.call("silent", "@x", Bytes::new()))
        .await?
        .expect_err("nobody answers");
    match err.kind() {
        ErrorKind::Timeout { limit, .. } => assert_eq!(*limit, CALL_TIMEOUT),
        other => panic!("expected a timeout, got {other}"),
    }

    // shutdown_grace: leave a request running and return.
    tokio::spawn(async move {
        let _ = client.call("ui", "@stuck", Bytes::new()).await;
    });
    timeout(LIMIT, started.notified()).await?;
    std::thread::spawn(|| {
        std::thread::sleep(EXIT_BOUND);
        eprintln!("still running {EXIT_BOUND:?} after the body: shutdown_grace {GRACE:?} unused");
        std::process::exit(1);
    });
    Ok(())
}
