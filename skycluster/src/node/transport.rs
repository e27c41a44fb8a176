//! What connections run over: TCP, or, for tests with the `turmoil`
//! feature, turmoil's simulated network, where hosts, links, partitions
//! and crashes are played from a seed on one thread.
//!
//! The choice is made once per connect and per listener: each transport's
//! stream is a [`Link`](super::link::Link), and senders and agents are
//! generic over it, so TCP's path is the same machine code with or
//! without the feature.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use super::link::Link;

/// The network a node's connections run over ([`Options::transport`](crate::Options::transport)).
///
/// # Examples
///
/// ```
/// use skycluster::{Options, Transport};
///
/// assert_eq!(Options::default().transport, Transport::Tcp);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// Real TCP (the default).
    #[default]
    Tcp,
    /// turmoil's simulated network (feature `turmoil`): the node must run
    /// inside a turmoil host, listens on turmoil's sockets and reaches
    /// other hosts by their names (`battle1:7000` in the config). For
    /// deterministic fault tests; TLS does not apply.
    #[cfg(feature = "turmoil")]
    Turmoil,
}

/// A listener of some transport: accepts [`Link`]s.
pub(crate) trait Acceptor: Send + Sync + 'static {
    /// What it accepts.
    type Stream: Link;

    /// The next connection and its peer's address.
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
}

impl Acceptor for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;

    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send {
        tokio::net::TcpListener::accept(self)
    }
}

#[cfg(feature = "turmoil")]
impl Acceptor for turmoil::net::TcpListener {
    type Stream = turmoil::net::TcpStream;

    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send {
        turmoil::net::TcpListener::accept(self)
    }
}
