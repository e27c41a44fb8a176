//! Nodes on 127.0.0.1 for the runtime tests.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use skycluster::codec::luaseri::{self, Value};
use skycluster::{Cluster, Config, HandlerError, Options, Request};

/// Every wait in a test is bounded by this, so a hang fails the test.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Awaits `f`, failing the test if it takes longer than [`LIMIT`].
pub async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(LIMIT, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no result within {LIMIT:?}"),
    }
}

/// Packs Lua values the way `skynet.pack` does.
pub fn pack(values: &[Value]) -> Bytes {
    Bytes::from(luaseri::pack(values).expect("values pack"))
}

/// A string value.
pub fn s(text: &str) -> Value {
    Value::String(text.as_bytes().to_vec())
}

/// Starts a server node named `name` on an ephemeral port hosting the
/// services of [`super::services::install`].
pub async fn echo_server(name: &str, options: Options) -> (Cluster, SocketAddr) {
    let cluster = Cluster::with_options(Config::new(), options);
    cluster.set_name(name).expect("fresh cluster");
    let addr = cluster.listen("127.0.0.1:0").await.expect("listen");
    super::services::install(&cluster).expect("install services");
    (cluster, addr)
}

/// A node named `name` with `config`, listening on an ephemeral port.
pub async fn named_node(name: &str, config: Config) -> (Cluster, SocketAddr) {
    let cluster = Cluster::new(config);
    cluster.set_name(name).expect("fresh cluster");
    let addr = bounded("listen", cluster.listen("127.0.0.1:0"))
        .await
        .expect("listen");
    (cluster, addr)
}

/// A client cluster whose config maps each `(name, addr)`.
pub fn client(nodes: &[(&str, SocketAddr)], options: Options) -> Cluster {
    let mut config = Config::new();
    for (name, addr) in nodes {
        config = config.with_node(*name, addr.to_string());
    }
    Cluster::with_options(config, options)
}

/// A node with one raw service, `.sink`, that hands every request it gets
/// (calls and pushes) to the returned channel and replies with nothing.
pub async fn sink_server() -> (
    Cluster,
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<Request>,
) {
    sink_server_with(None, Options::default()).await
}

/// As [`sink_server`], named `name` if given, with `options`.
pub async fn sink_server_with(
    name: Option<&str>,
    options: Options,
) -> (
    Cluster,
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<Request>,
) {
    let server = Cluster::with_options(Config::new(), options);
    if let Some(name) = name {
        server.set_name(name).expect("fresh cluster");
    }
    let addr = server.listen("127.0.0.1:0").await.expect("listen");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let sink = server.spawn_handler(move |req: Request| {
        let tx = tx.clone();
        async move {
            tx.send(req).expect("receiver alive");
            Ok::<_, HandlerError>(Bytes::new())
        }
    });
    server.name(".sink", sink).expect("name");
    (server, addr, rx)
}

/// Waits (bounded) until `cluster` has at least `n` calls in flight to the
/// first node of its config.
pub async fn in_flight_at_least(cluster: &Cluster, n: usize) {
    bounded("calls in flight", async {
        while cluster.status().nodes[0].in_flight < n {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

/// Waits (bounded) until the sender to the first node of `cluster`'s
/// config is connected (`true`) or not (`false`).
pub async fn connected(cluster: &Cluster, up: bool) {
    bounded("connection state", async {
        while cluster.status().nodes[0].connected != up {
            tokio::task::yield_now().await;
        }
    })
    .await;
}
