//! tarpc: a `#[tarpc::service]` over its bincode serde transport on TCP,
//! served the way tarpc's examples serve (a task per request), with
//! tarpc's default configs and socket options as shipped (no
//! `TCP_NODELAY`: setting it measured slower).

use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::{future, StreamExt};
use tarpc::server::{BaseChannel, Channel};
use tarpc::tokio_serde::formats::Bincode;
use tarpc::{client, context};

use super::{count_push, Pushed, Server};

#[tarpc::service]
pub(crate) trait Echo {
    /// Returns what it was given.
    async fn echo(data: Bytes) -> Bytes;
    /// Counts a message. tarpc has no one-way calls: this one returns `()`.
    async fn push(data: Bytes);
}

#[derive(Clone)]
struct Service;

impl Echo for Service {
    async fn echo(self, _: context::Context, data: Bytes) -> Bytes {
        data
    }

    async fn push(self, _: context::Context, _data: Bytes) {
        count_push();
    }
}

pub(crate) async fn serve(addr: &str) -> Result<Server, String> {
    let listener = tarpc::serde_transport::tcp::listen(addr, Bincode::default)
        .await
        .map_err(|e| format!("tarpc listen on {addr}: {e}"))?;
    let addr = listener.local_addr();
    tokio::spawn(
        listener
            .filter_map(|accepted| future::ready(accepted.ok()))
            .map(BaseChannel::with_defaults)
            .for_each(|channel| async move {
                tokio::spawn(
                    channel
                        .execute(Service.serve())
                        .for_each(|response| async move {
                            tokio::spawn(response);
                        }),
                );
            }),
    );
    Ok(Server {
        addr,
        _keep: Box::new(()),
    })
}

pub(crate) async fn connect(addr: SocketAddr) -> Result<TarpcClient, String> {
    let transport = tarpc::serde_transport::tcp::connect(addr, Bincode::default)
        .await
        .map_err(|e| format!("tarpc connect to {addr}: {e}"))?;
    Ok(TarpcClient(
        EchoClient::new(client::Config::default(), transport).spawn(),
    ))
}

#[derive(Clone)]
pub(crate) struct TarpcClient(EchoClient);

impl super::BenchClient for TarpcClient {
    const ONE_WAY: bool = false;

    async fn call(&self, payload: Bytes) -> Result<Bytes, String> {
        self.0
            .echo(context::current(), payload)
            .await
            .map_err(|e| e.to_string())
    }

    async fn push(&self, payload: Bytes) -> Result<Pushed, String> {
        self.0
            .push(context::current(), payload)
            .await
            .map(|()| Pushed::Queued)
            .map_err(|e| e.to_string())
    }
}
