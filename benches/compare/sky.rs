//! skycluster: a `#[service]` trait, served by one node and called through
//! its generated client by another, with the default (bincode) codec and
//! default options.

use std::net::SocketAddr;

use bytes::Bytes;
use skycluster::{Cluster, Config, ErrorKind};

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

/// The node name the client gives the server.
const SERVER_NODE: &str = "bench";

pub(crate) async fn serve(addr: &str) -> Result<Server, String> {
    let cluster = Cluster::new(Config::new());
    cluster.set_name(SERVER_NODE).map_err(|e| e.to_string())?;
    let addr = cluster.listen(addr).await.map_err(|e| e.to_string())?;
    let handle = cluster.spawn::<dyn Echo>(Service);
    cluster
        .register::<dyn Echo>(handle)
        .map_err(|e| e.to_string())?;
    Ok(Server {
        addr,
        _keep: Box::new(cluster),
    })
}

/// A client of the server at `addr`, by its registered name, as Skynet
/// code names services: `cluster.proxy("bench", "@Echo")`.
pub(crate) fn connect(addr: SocketAddr) -> SkyClient {
    let cluster = Cluster::new(Config::new().with_node(SERVER_NODE, addr.to_string()));
    SkyClient(cluster.proxy::<dyn Echo>(SERVER_NODE, "@Echo"))
}

#[derive(Clone)]
pub(crate) struct SkyClient(EchoClient);

impl super::BenchClient for SkyClient {
    const ONE_WAY: bool = true;

    async fn call(&self, payload: Bytes) -> Result<Bytes, String> {
        self.0.echo(payload).await.map_err(|e| e.to_string())
    }

    async fn push(&self, payload: Bytes) -> Result<Pushed, String> {
        match self.0.push(payload) {
            Ok(()) => Ok(Pushed::Queued),
            Err(e) if matches!(e.kind(), ErrorKind::Overloaded { .. }) => Ok(Pushed::Full),
            Err(e) => Err(e.to_string()),
        }
    }
}
