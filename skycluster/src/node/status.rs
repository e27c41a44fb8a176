//! What `Cluster::status` reports.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::config::NodeAddr;
use super::membership::MembershipStatus;
use super::state::{lock, NodeState};

/// A snapshot of a cluster's connections.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Status {
    /// Every configured node.
    pub nodes: Vec<NodeStatus>,
    /// Every listener this node opened.
    pub listeners: Vec<ListenerStatus>,
    /// Where the membership comes from, when not only from the config
    /// (etcd): whether it is reachable, and since when not.
    pub membership: Option<MembershipStatus>,
}

/// One remote node, as this node sees it.
#[derive(Clone, Debug)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct ListenerStatus {
    /// The bound address.
    pub addr: SocketAddr,
    /// Connections being served now.
    pub connections: usize,
    /// Requests its connections are handling now: started and not yet
    /// answered. (A request its handler answers at once is never counted.)
    pub requests: usize,
}

impl Status {
    /// A snapshot of `state`: every configured node (with its sender's
    /// view, once it has one) and every listener.
    pub(super) fn of(state: &NodeState) -> Status {
        let config = state.config().clone();
        let senders = state.senders();
        let nodes = config
            .nodes()
            .map(|(name, addr)| {
                let sender = senders.get(name).map(|s| s.status());
                NodeStatus {
                    name: name.to_owned(),
                    address: addr.clone(),
                    connected: sender.as_ref().is_some_and(|s| s.connected),
                    in_flight: sender.as_ref().map_or(0, |s| s.in_flight),
                    last_error: sender.as_ref().and_then(|s| s.last_error.clone()),
                    last_rtt: sender.as_ref().and_then(|s| s.last_rtt),
                }
            })
            .collect();
        let max = state.options.max_clients;
        let listeners = lock(&state.listeners)
            .iter()
            .map(|l| ListenerStatus {
                addr: l.addr,
                connections: max - l.slots.available_permits(),
                requests: l.requests.load(Ordering::Relaxed),
            })
            .collect();
        let membership = state.membership.get().map(|m| m.status());
        Status {
            nodes,
            listeners,
            membership,
        }
    }
}
