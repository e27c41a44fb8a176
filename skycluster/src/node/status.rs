//! What `Cluster::status` reports.

use std::net::SocketAddr;
use std::time::Duration;

use super::config::NodeAddr;

/// A snapshot of a cluster's connections.
#[derive(Clone, Debug)]
pub struct Status {
    /// Every configured node.
    pub nodes: Vec<NodeStatus>,
    /// Every listener this node opened.
    pub listeners: Vec<ListenerStatus>,
}

/// One remote node, as this node sees it.
#[derive(Clone, Debug)]
pub struct NodeStatus {
    /// The node's name.
    pub name: String,
    /// Its configured address.
    pub address: NodeAddr,
    /// Whether a connection is up now.
    pub connected: bool,
    /// Calls waiting for replies.
    pub in_flight: usize,
    /// The last connection error, if any.
    pub last_error: Option<String>,
    /// The round-trip time of a recent call: the first call, then one in
    /// 64, is timed precisely.
    pub last_rtt: Option<Duration>,
}

/// One listener of this node.
#[derive(Clone, Debug)]
pub struct ListenerStatus {
    /// The bound address.
    pub addr: SocketAddr,
    /// Connections being served now.
    pub connections: usize,
    /// Requests its connections are handling now: started and not yet
    /// answered. (A request its handler answers at once is never counted.)
    pub requests: usize,
}
