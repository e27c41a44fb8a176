//! skycluster: a `#[service]` trait, served by one node and called through
//! its generated client by another, with the default (bincode) codec and
//! default options; kept (one client for every call), made afresh for each
//! call (`cluster.proxy::<dyn Echo>(..).echo(..)`, as the docs spell it),
//! or raw (`cluster.call` / `cluster.send` of bytes, as the CLI calls);
//! and the same echo under `codec = lua` (lua-seri with Skynet's calling
//! convention), called as a Lua node calls it, and under
//! `codec = postcard`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use skycluster::{CallError, Cluster, Config, ErrorKind, HandlerError, Options, Request};

use super::{count_push, Pushed, Server};

/// The bench service. Payloads are `Bytes`, which serde carries as a byte
/// string, not as a sequence of numbers.
#[skycluster::service]
pub(crate) trait Echo {
    /// Returns what it was given.
    async fn echo(&self, data: Bytes) -> Bytes;

    /// Counts a one-way message.
    #[push]
    async fn push(&self, data: Bytes);
}

/// The bench service under `codec = lua`: a call is
/// `skynet.pack("echo", data)`, exactly what a Lua node's
/// `cluster.call("bench", "@LuaEcho", "echo", data)` sends, and the reply is
/// `skynet.pack(data)`. `Bytes` travel as Lua strings.
#[skycluster::service(codec = lua)]
pub(crate) trait LuaEcho {
    /// Returns what it was given.
    async fn echo(&self, data: Bytes) -> Bytes;

    /// Counts a one-way message (`cluster.send`).
    #[push]
    async fn push(&self, data: Bytes);
}

/// The bench service under `codec = postcard`, bincode's maintained
/// alternative between Rust nodes.
#[skycluster::service(codec = postcard)]
pub(crate) trait PostcardEcho {
    /// Returns what it was given.
    async fn echo(&self, data: Bytes) -> Bytes;

    /// Counts a one-way message.
    #[push]
    async fn push(&self, data: Bytes);
}

struct Service;

#[skycluster::async_trait]
impl Echo for Service {
    async fn echo(&self, data: Bytes) -> Bytes {
        data
    }

    async fn push(&self, _data: Bytes) {
        count_push();
    }
}

#[skycluster::async_trait]
impl LuaEcho for Service {
    async fn echo(&self, data: Bytes) -> Bytes {
        data
    }

    async fn push(&self, _data: Bytes) {
        count_push();
    }
}

#[skycluster::async_trait]
impl PostcardEcho for Service {
    async fn echo(&self, data: Bytes) -> Bytes {
        data
    }

    async fn push(&self, _data: Bytes) {
        count_push();
    }
}

/// The node name the client gives the server.
const SERVER_NODE: &str = "bench";

/// The raw echo's registered name, and its address.
const RAW_NAME: &str = "raw";
const RAW_ADDRESS: &str = "@raw";

pub(crate) async fn serve(addr: &str) -> Result<Server, String> {
    let (cluster, addr) = node(addr, Options::default()).await?;
    Ok(Server {
        addr,
        _keep: Box::new(cluster),
    })
}

/// The server node, with `options`, listening on `addr`: the typed echo
/// as `@Echo`, `@LuaEcho` and `@PostcardEcho`, and the raw one as `@raw`.
pub(crate) async fn node(addr: &str, options: Options) -> Result<(Cluster, SocketAddr), String> {
    let cluster = Cluster::with_options(Config::new(), options);
    cluster.set_name(SERVER_NODE).map_err(|e| e.to_string())?;
    let addr = cluster.listen(addr).await.map_err(|e| e.to_string())?;
    let handle = cluster.spawn::<dyn Echo>(Service);
    cluster
        .register::<dyn Echo>(handle)
        .map_err(|e| e.to_string())?;
    let lua = cluster.spawn::<dyn LuaEcho>(Service);
    cluster
        .register::<dyn LuaEcho>(lua)
        .map_err(|e| e.to_string())?;
    let postcard = cluster.spawn::<dyn PostcardEcho>(Service);
    cluster
        .register::<dyn PostcardEcho>(postcard)
        .map_err(|e| e.to_string())?;
    // The raw clients' echo: the payload back, a push counted.
    let raw = cluster.spawn_handler(|request: Request| async move {
        if request.is_push() {
            count_push();
        }
        Ok::<_, HandlerError>(request.into_payload())
    });
    cluster
        .register_name(RAW_NAME, raw)
        .map_err(|e| e.to_string())?;
    Ok((cluster, addr))
}

/// A client of the server at `addr`, by its registered name, as Skynet
/// code names services: `cluster.proxy("bench", "@Echo")`.
pub(crate) fn connect(addr: SocketAddr) -> SkyClient {
    SkyClient(client_cluster(addr).proxy::<dyn Echo>(SERVER_NODE, "@Echo"))
}

/// A bench client over one generated proxy type: the typed echo's and
/// the `codec = lua` echo's proxies have the same `echo` and `push` but no
/// trait in common, so one body serves both through this macro.
macro_rules! proxy_client {
    ($(#[$doc:meta])* $name:ident($proxy:ty)) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub(crate) struct $name($proxy);

        impl super::BenchClient for $name {
            const ONE_WAY: bool = true;

            async fn call(&self, payload: Bytes) -> Result<Bytes, String> {
                self.0.echo(payload).await.map_err(|e| e.to_string())
            }

            async fn push(&self, payload: Bytes) -> Result<Pushed, String> {
                pushed(self.0.push(payload))
            }
        }
    };
}

proxy_client!(
    /// The typed echo's client.
    SkyClient(EchoClient)
);

/// A pool over every node serving `Echo` (the one server):
/// `cluster.pool::<dyn Echo>()`, kept for every call.
pub(crate) fn connect_pool(addr: SocketAddr) -> SkyClient {
    SkyClient(client_cluster(addr).pool::<dyn Echo>())
}

/// A client of the `codec = lua` echo, kept for every call:
/// `cluster.proxy("bench", "@LuaEcho")`.
pub(crate) fn connect_lua(addr: SocketAddr) -> SkyLuaClient {
    SkyLuaClient(client_cluster(addr).proxy::<dyn LuaEcho>(SERVER_NODE, "@LuaEcho"))
}

proxy_client!(
    /// The `codec = lua` echo's client.
    SkyLuaClient(LuaEchoClient)
);

/// The kept typed client with neither the schema check nor the
/// Rust-to-Rust extensions (deadline frames): the bytes Skynet's own
/// sender would write, to measure what those cost.
pub(crate) fn connect_plain(addr: SocketAddr) -> SkyClient {
    let options = Options::default()
        .with_schema_check(false)
        .with_extensions(false);
    let cluster = Cluster::with_options(
        Config::new().with_node(SERVER_NODE, addr.to_string()),
        options,
    );
    SkyClient(cluster.proxy::<dyn Echo>(SERVER_NODE, "@Echo"))
}

/// A client of the `codec = postcard` echo, kept for every call:
/// `cluster.proxy("bench", "@PostcardEcho")`.
pub(crate) fn connect_postcard(addr: SocketAddr) -> SkyPostcardClient {
    SkyPostcardClient(client_cluster(addr).proxy::<dyn PostcardEcho>(SERVER_NODE, "@PostcardEcho"))
}

proxy_client!(
    /// The `codec = postcard` echo's client.
    SkyPostcardClient(PostcardEchoClient)
);

/// A kept client over `connections` connections to the server at `addr`:
/// one `Cluster` whose config names the server `connections` times
/// (`bench0`, `bench1`, ..., all at `addr`), so that it keeps a sender, and
/// a connection, for each name. The server does not see which name a
/// caller used.
pub(crate) fn connect_many(addr: SocketAddr, connections: usize) -> SkyManyClient {
    let config = (0..connections).fold(Config::new(), |config, i| {
        config.with_node(format!("{SERVER_NODE}{i}"), addr.to_string())
    });
    let cluster = Cluster::new(config);
    let clients: Arc<[EchoClient]> = (0..connections)
        .map(|i| cluster.proxy::<dyn Echo>(&format!("{SERVER_NODE}{i}"), "@Echo"))
        .collect();
    SkyManyClient {
        clients,
        at: 0,
        next: Arc::new(AtomicUsize::new(1)),
    }
}

/// Calls over one of several connections. Each clone takes the next
/// connection in turn, so the driver's tasks (a clone each) are spread
/// evenly over them, every task's calls on one connection, as callers of
/// a node's many peers would be.
pub(crate) struct SkyManyClient {
    clients: Arc<[EchoClient]>,
    at: usize,
    next: Arc<AtomicUsize>,
}

impl Clone for SkyManyClient {
    fn clone(&self) -> SkyManyClient {
        let at = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        SkyManyClient {
            clients: Arc::clone(&self.clients),
            at,
            next: Arc::clone(&self.next),
        }
    }
}

impl super::BenchClient for SkyManyClient {
    const ONE_WAY: bool = true;

    async fn call(&self, payload: Bytes) -> Result<Bytes, String> {
        self.clients[self.at]
            .echo(payload)
            .await
            .map_err(|e| e.to_string())
    }

    async fn push(&self, payload: Bytes) -> Result<Pushed, String> {
        pushed(self.clients[self.at].push(payload))
    }
}

fn pushed(outcome: Result<(), CallError>) -> Result<Pushed, String> {
    match outcome {
        Ok(()) => Ok(Pushed::Queued),
        Err(e) if matches!(e.kind(), ErrorKind::Overloaded { .. }) => Ok(Pushed::Full),
        Err(e) => Err(e.to_string()),
    }
}

fn client_cluster(addr: SocketAddr) -> Cluster {
    Cluster::new(Config::new().with_node(SERVER_NODE, addr.to_string()))
}

/// Where the TLS server of port `port` leaves what its client needs: the
/// CA certificate, and a client certificate and key (the client's own
/// node needs one; the server does not ask for it).
fn tls_dir(port: u16) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("skycluster-bench-tls-{port}"))
}

/// As [`serve`], over TLS: a CA, the server's certificate for 127.0.0.1
/// and a client's, made now; the client's part is left in [`tls_dir`].
pub(crate) async fn serve_tls(addr: &str) -> Result<Server, String> {
    let err = |e: rcgen::Error| format!("cannot make a certificate: {e}");
    let ca_key = rcgen::KeyPair::generate().map_err(err)?;
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "bench CA");
    let ca = ca.self_signed(&ca_key).map_err(err)?;
    let leaf = || -> Result<(String, String), String> {
        let key = rcgen::KeyPair::generate().map_err(err)?;
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).map_err(err)?;
        let cert = params.signed_by(&key, &ca, &ca_key).map_err(err)?;
        Ok((cert.pem(), key.serialize_pem()))
    };
    let (cert, key) = leaf()?;
    let tls = skycluster::Tls::from_pem(cert.as_bytes(), key.as_bytes(), ca.pem().as_bytes())
        .map_err(|e| e.to_string())?;
    let (cluster, addr) = node(addr, Options::default().with_tls(Some(tls))).await?;
    let dir = tls_dir(addr.port());
    let (client_cert, client_key) = leaf()?;
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text)
            .map_err(|e| format!("cannot write {}: {e}", dir.join(name).display()))
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    write("ca.pem", &ca.pem())?;
    write("client.pem", &client_cert)?;
    write("client.key", &client_key)?;
    Ok(Server {
        addr,
        _keep: Box::new(cluster),
    })
}

/// As [`connect`], over TLS to the server [`serve_tls`] started.
pub(crate) fn connect_tls(addr: SocketAddr) -> Result<SkyClient, String> {
    let dir = tls_dir(addr.port());
    let tls = skycluster::Tls::from_pem_files(
        dir.join("client.pem"),
        dir.join("client.key"),
        dir.join("ca.pem"),
    )
    .map_err(|e| e.to_string())?;
    // Read once; the next server on this port writes its own.
    let _ = std::fs::remove_dir_all(&dir);
    let config = Config::new().with_node(SERVER_NODE, addr.to_string());
    let cluster = Cluster::with_options(config, Options::default().with_tls(Some(tls)));
    Ok(SkyClient(cluster.proxy::<dyn Echo>(SERVER_NODE, "@Echo")))
}

/// A client that makes its typed client afresh for every call and push.
pub(crate) fn connect_fresh(addr: SocketAddr) -> SkyFreshClient {
    SkyFreshClient(client_cluster(addr))
}

#[derive(Clone)]
pub(crate) struct SkyFreshClient(Cluster);

impl SkyFreshClient {
    fn proxy(&self) -> EchoClient {
        self.0.proxy::<dyn Echo>(SERVER_NODE, "@Echo")
    }
}

impl super::BenchClient for SkyFreshClient {
    const ONE_WAY: bool = true;

    async fn call(&self, payload: Bytes) -> Result<Bytes, String> {
        self.proxy().echo(payload).await.map_err(|e| e.to_string())
    }

    async fn push(&self, payload: Bytes) -> Result<Pushed, String> {
        pushed(self.proxy().push(payload))
    }
}

/// A client of raw bytes through `Cluster::call` and `Cluster::send`.
pub(crate) fn connect_raw(addr: SocketAddr) -> SkyRawClient {
    SkyRawClient(client_cluster(addr))
}

#[derive(Clone)]
pub(crate) struct SkyRawClient(Cluster);

impl super::BenchClient for SkyRawClient {
    const ONE_WAY: bool = true;

    async fn call(&self, payload: Bytes) -> Result<Bytes, String> {
        self.0
            .call(SERVER_NODE, RAW_ADDRESS, payload)
            .await
            .map_err(|e| e.to_string())
    }

    async fn push(&self, payload: Bytes) -> Result<Pushed, String> {
        pushed(self.0.send(SERVER_NODE, RAW_ADDRESS, payload))
    }
}
