//! Listeners: bind an address, accept connections up to `max_clients`,
//! and hand each to an agent of its own.

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, ToSocketAddrs};
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::agent::Accepted;
use super::state::{lock, Listening, NodeState};
use super::transport::Acceptor;
use crate::{Error, Result};

/// How long the accept loop waits after a failed accept (out of file
/// descriptors and the like), rather than spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(20);

/// Binds exactly `addr` and serves it until the node shuts down. Returns
/// the address bound.
pub(super) async fn listen(
    state: &Arc<NodeState>,
    addr: impl ToSocketAddrs + std::fmt::Display,
) -> Result<SocketAddr> {
    let shown = addr.to_string();
    let listen_error = |source| Error::Listen {
        addr: shown.clone(),
        source,
    };
    #[cfg(feature = "turmoil")]
    if state.options.transport == super::Transport::Turmoil {
        let listener = turmoil::net::TcpListener::bind(shown.as_str())
            .await
            .map_err(listen_error)?;
        let local = listener.local_addr().map_err(listen_error)?;
        return Ok(serve_listener(state, listener, local));
    }
    let listener = bind(addr, state.options.listen_backlog)
        .await
        .map_err(listen_error)?;
    let local = listener.local_addr().map_err(listen_error)?;
    Ok(serve_listener(state, listener, local))
}

/// Registers `listener` in the node's status and starts its accept loop.
fn serve_listener<L: Acceptor>(state: &Arc<NodeState>, listener: L, local: SocketAddr) -> SocketAddr
where
    L::Stream: Accepted,
{
    let slots = Arc::new(Semaphore::new(state.options.max_clients));
    let requests = Arc::new(AtomicUsize::new(0));
    lock(&state.listeners).push(Listening {
        addr: local,
        slots: Arc::clone(&slots),
        requests: Arc::clone(&requests),
    });
    tracing::info!(node = ?state.name(), addr = %local, "listening");
    state.tasks.spawn(accept_loop(
        Arc::clone(state),
        listener,
        local,
        slots,
        requests,
    ));
    local
}

/// Binds the first of `addr`'s addresses that binds, with a listen queue
/// of `backlog` connections (tokio's `TcpListener::bind` asks for 128:
/// a burst of a few hundred connects then loses SYNs, and each lost one
/// waits a second for its retransmission).
async fn bind(addr: impl ToSocketAddrs, backlog: u32) -> std::io::Result<TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host(addr).await? {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        };
        let bound = socket.and_then(|socket| {
            // As tokio's bind does: a restarted node can take its port
            // back while old connections sit in TIME_WAIT.
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            socket.listen(backlog)
        });
        match bound {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

async fn accept_loop<L: Acceptor>(
    state: Arc<NodeState>,
    listener: L,
    local: SocketAddr,
    slots: Arc<Semaphore>,
    requests: Arc<AtomicUsize>,
) where
    L::Stream: Accepted,
{
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = state.shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(%local, error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%local, %peer, max = state.options.max_clients, "maxclient reached; closing connection");
            drop(stream);
            continue;
        };
        tracing::debug!(%local, %peer, "accepted");
        let agent_state = Arc::clone(&state);
        let shutdown = state.shutdown.child_token();
        let requests = Arc::clone(&requests);
        // Every event of the agent carries this node's name and the peer.
        let span = tracing::debug_span!("agent", node = ?state.name(), %peer);
        state.tasks.spawn(
            async move {
                stream.serve(agent_state, peer, shutdown, requests).await;
                drop(slot);
            }
            .instrument(span),
        );
    }
    tracing::info!(%local, "listener closed");
}
