//! Where a node's membership comes from: which nodes there are, and where.
//!
//! Two sources feed one path:
//!
//! * the clustername file (`Config`, today's behaviour, unchanged):
//!   read at start, merged again by `Cluster::reload` / `reload_with`;
//! * etcd (`etcd`, feature `etcd`): each node puts its name and address
//!   under a key prefix, held by a lease it keeps alive, and watches the
//!   prefix.
//!
//! Whatever the source, a change goes through [`apply`]: a node added or
//! moved is merged as `reload_with` merges (a moved node's waiting calls
//! fail with "node moved"), a node removed is taken out of the config, so
//! that calls to it behave as to an absent node (waiting for it, or
//! failing at once under `__nowaiting`).
//!
//! `file` writes a membership back out as a clustername file, for Lua
//! nodes to `cluster.reload` from.

// Without the `etcd` feature no source feeds `apply` yet.
#![cfg_attr(not(feature = "etcd"), allow(dead_code))]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::Notify;

use super::config::Config;
use super::state::{lock, NodeState};
use super::Cluster;

#[cfg(feature = "etcd")]
mod etcd;
mod file;

#[cfg(feature = "etcd")]
pub use etcd::Etcd;

/// Why joining, or keeping, a membership source failed.
///
/// # Examples
///
/// ```
/// use skycluster::MembershipError;
///
/// let e = MembershipError::NameTaken {
///     node: "game1".into(),
///     holder: "127.0.0.1:7001".into(),
/// };
/// assert_eq!(
///     e.to_string(),
///     "node name `game1` is already held by the node at 127.0.0.1:7001"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MembershipError {
    /// etcd could not be reached (within the start wait, if one was set).
    #[error("etcd at {endpoints} is unreachable: {reason}")]
    Unreachable {
        /// The endpoints tried, comma-separated.
        endpoints: String,
        /// The last error.
        reason: String,
    },
    /// Another live node holds this node's name.
    #[error("node name `{node}` is already held by the node at {holder}")]
    NameTaken {
        /// The name claimed.
        node: String,
        /// The address the holder published.
        holder: String,
    },
    /// The cluster already joined a membership source.
    #[error("node `{node}` already joined a membership source")]
    AlreadyJoined {
        /// The node, or `(unnamed)`.
        node: String,
    },
    /// An etcd request failed.
    #[error("etcd {op} failed: {reason}")]
    Etcd {
        /// What was asked (`get`, `txn`, `lease grant`, …).
        op: &'static str,
        /// etcd's error.
        reason: String,
    },
}

/// The health of the membership source, in [`Status::membership`](crate::Status::membership).
///
/// # Examples
///
/// ```
/// let cluster = skycluster::Cluster::new(skycluster::Config::new());
/// // A cluster that joined no source reports none.
/// assert!(cluster.status().membership.is_none());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MembershipStatus {
    /// The source: `"etcd"`.
    pub source: &'static str,
    /// Where it is: etcd's endpoints and the key prefix.
    pub location: String,
    /// Since when the source has been out of reach, if it is now; the
    /// node keeps the membership it last saw meanwhile.
    pub unreachable_since: Option<SystemTime>,
    /// The last error from the source, if any.
    pub last_error: Option<String>,
    /// Nodes the source lists now.
    pub nodes: usize,
}

/// What a joined membership source shares with the node: its health, the
/// nodes and services it last listed, and a nudge for republishing names.
#[derive(Debug)]
pub(crate) struct Tracker {
    source: &'static str,
    location: String,
    health: Mutex<Health>,
    /// The nodes the source lists, with their addresses: what [`apply`]
    /// diffs a full listing against.
    nodes: Mutex<BTreeMap<String, String>>,
    /// Registered name -> the nodes that publish it.
    services: Mutex<BTreeMap<String, BTreeSet<String>>>,
    /// Woken when this node's registered names change.
    pub(crate) names_changed: Notify,
}

#[derive(Debug, Default)]
struct Health {
    unreachable_since: Option<SystemTime>,
    last_error: Option<String>,
}

impl Tracker {
    pub(crate) fn new(source: &'static str, location: String) -> Tracker {
        Tracker {
            source,
            location,
            health: Mutex::new(Health::default()),
            nodes: Mutex::new(BTreeMap::new()),
            services: Mutex::new(BTreeMap::new()),
            names_changed: Notify::new(),
        }
    }

    pub(crate) fn status(&self) -> MembershipStatus {
        let health = lock(&self.health);
        MembershipStatus {
            source: self.source,
            location: self.location.clone(),
            unreachable_since: health.unreachable_since,
            last_error: health.last_error.clone(),
            nodes: lock(&self.nodes).len(),
        }
    }

    /// The source answered: it is reachable again.
    pub(crate) fn reachable(&self) {
        let mut health = lock(&self.health);
        if let Some(since) = health.unreachable_since.take() {
            tracing::info!(source = self.source, location = %self.location, ?since, "membership source reachable again");
        }
    }

    /// The source failed: unreachable from now, unless already.
    pub(crate) fn unreachable(&self, error: String) {
        let mut health = lock(&self.health);
        if health.unreachable_since.is_none() {
            tracing::warn!(source = self.source, location = %self.location, %error, "membership source unreachable; keeping the last membership");
            health.unreachable_since = Some(SystemTime::now());
        }
        health.last_error = Some(error);
    }

    /// Records an error that is not about reachability (a refused claim).
    pub(crate) fn error(&self, error: String) {
        lock(&self.health).last_error = Some(error);
    }

    pub(crate) fn serving(&self, name: &str) -> Vec<String> {
        lock(&self.services)
            .get(name)
            .map(|nodes| nodes.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// One change a membership source reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// A node is at this address (new or moved).
    Node(String, String),
    /// A node is gone.
    NodeGone(String),
    /// A node serves a registered name.
    Service(String, String),
    /// A node no longer serves a registered name.
    ServiceGone(String, String),
}

/// Applies a source's changes to the node, the one path every source's
/// changes take: added and moved nodes are merged as `reload_with` merges
/// them (a moved node's waiting calls fail with "node moved"), removed
/// nodes are taken out of the config (calls to them behave as to an
/// absent node). With `full`, `changes` is the whole listing: nodes and
/// services the tracker knew and the listing lacks are removed.
pub(crate) fn apply(state: &NodeState, tracker: &Tracker, changes: Vec<Change>, full: bool) {
    let mut update = Config::new();
    let mut gone = Vec::new();
    let mut services_changed = full;
    {
        let mut nodes = lock(&tracker.nodes);
        let mut services = lock(&tracker.services);
        if full {
            let listed: BTreeSet<&str> = changes
                .iter()
                .filter_map(|c| match c {
                    Change::Node(n, _) => Some(n.as_str()),
                    _ => None,
                })
                .collect();
            gone.extend(
                nodes
                    .keys()
                    .filter(|n| !listed.contains(n.as_str()))
                    .cloned(),
            );
            services.clear();
        }
        for change in changes {
            match change {
                Change::Node(node, addr) => {
                    if !valid_addr(&addr) {
                        tracing::warn!(%node, %addr, "ignoring a membership entry: not host:port");
                        continue;
                    }
                    if nodes.get(&node) != Some(&addr) {
                        update = update.with_node(node.clone(), addr.clone());
                        nodes.insert(node, addr);
                    }
                }
                Change::NodeGone(node) => gone.push(node),
                Change::Service(name, node) => {
                    services_changed |= services.entry(name).or_default().insert(node);
                }
                Change::ServiceGone(name, node) => {
                    if let Some(set) = services.get_mut(&name) {
                        services_changed |= set.remove(&node);
                        if set.is_empty() {
                            services.remove(&name);
                        }
                    }
                }
            }
        }
        gone.retain(|node| nodes.remove(node).is_some());
    }
    let added = update.nodes().next().is_some();
    let nodes_changed = added || !gone.is_empty();
    if added {
        tracing::info!(nodes = ?update.nodes().map(|(n, a)| format!("{n}={a}")).collect::<Vec<_>>(), "membership: nodes added or moved");
        state.reload(update);
    }
    if !gone.is_empty() {
        tracing::info!(nodes = ?gone, "membership: nodes removed");
        state.remove(&gone);
    }
    // Pools look again at a new version; a change of nodes made one.
    if services_changed && !nodes_changed {
        state.touch();
    }
}

/// `host:port` with a numeric port, as the clustername reader demands.
fn valid_addr(addr: &str) -> bool {
    addr.rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

impl NodeState {
    /// This node's registered names changed: a membership source that
    /// publishes them republishes.
    pub(super) fn names_changed(&self) {
        if let Some(tracker) = self.membership.get() {
            tracker.names_changed.notify_one();
        }
    }
}

impl Cluster {
    /// The membership as this node sees it now: every node and its
    /// address, from the config and whatever source it joined.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::{Cluster, Config, NodeAddr};
    ///
    /// let cluster = Cluster::new(Config::new().with_node("db", "127.0.0.1:7003"));
    /// let membership = cluster.membership();
    /// assert_eq!(membership.get("db"), Some(&NodeAddr::At("127.0.0.1:7003".into())));
    /// ```
    pub fn membership(&self) -> Config {
        self.state().config().clone()
    }

    /// Waits until the membership changes (a reload, or a change from a
    /// membership source), or the cluster shuts down.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use skycluster::{Cluster, Config};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cluster = Cluster::new(Config::new());
    /// let changed = cluster.membership_changed();
    /// cluster.reload_with(Config::new().with_node("db", "127.0.0.1:7003"));
    /// tokio::time::timeout(Duration::from_secs(5), changed).await.expect("changed");
    /// # }
    /// ```
    pub fn membership_changed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut changes = self.state().changes();
        changes.mark_unchanged();
        let state = Arc::clone(self.state());
        async move {
            tokio::select! {
                _ = changes.changed() => {}
                () = state.shutdown.cancelled() => {}
            }
        }
    }

    /// The nodes that publish service `name` (a registered name, without
    /// `@`), as the membership source last listed them: with etcd, every
    /// node that `register`ed it. Empty without a source.
    ///
    /// # Examples
    ///
    /// ```
    /// let cluster = skycluster::Cluster::new(skycluster::Config::new());
    /// assert!(cluster.nodes_serving("BattleMgr").is_empty());
    /// ```
    pub fn nodes_serving(&self, name: &str) -> Vec<String> {
        let name = name.strip_prefix('@').unwrap_or(name);
        self.state()
            .membership
            .get()
            .map(|t| t.serving(name))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Options;
    use crate::NodeAddr;

    fn node(n: &str, a: &str) -> Change {
        Change::Node(n.into(), a.into())
    }

    #[test]
    fn a_full_listing_removes_nodes_it_lacks_and_keeps_the_config_s_own() {
        let state = NodeState::new(
            Config::new().with_node("static", "127.0.0.1:1"),
            Options::default(),
        );
        let tracker = Tracker::new("test", String::new());
        apply(
            &state,
            &tracker,
            vec![node("a", "127.0.0.1:2"), node("b", "127.0.0.1:3")],
            true,
        );
        assert_eq!(state.config().nodes().count(), 3);
        apply(&state, &tracker, vec![node("b", "127.0.0.1:4")], true);
        let config = state.config().clone();
        assert_eq!(config.get("a"), None);
        assert_eq!(config.get("b"), Some(&NodeAddr::At("127.0.0.1:4".into())));
        // A node the source never listed is not the source's to remove.
        assert_eq!(
            config.get("static"),
            Some(&NodeAddr::At("127.0.0.1:1".into()))
        );
    }

    #[test]
    fn entries_that_are_not_host_port_are_ignored() {
        let state = NodeState::new(Config::new(), Options::default());
        let tracker = Tracker::new("test", String::new());
        apply(&state, &tracker, vec![node("a", "nonsense")], false);
        assert_eq!(state.config().get("a"), None);
        apply(
            &state,
            &tracker,
            vec![
                Change::Service("S".into(), "a".into()),
                Change::Service("S".into(), "b".into()),
                Change::ServiceGone("S".into(), "a".into()),
            ],
            false,
        );
        assert_eq!(tracker.serving("S"), vec!["b".to_owned()]);
    }
}
