//! Membership from etcd v3.
//!
//! Keys, under a prefix (default `/skycluster/`):
//!
//! * `{prefix}nodes/{node}` = `"host:port"`: a node that listens;
//! * `{prefix}services/{name}/{node}` = `""`: a name `node` registered.
//!
//! Each node holds its keys with one lease, kept alive every third of its
//! TTL; the lease is revoked (its keys deleted) on a clean shutdown, and
//! expires, deleting them, when the node dies. A node's name is claimed
//! with a transaction that creates the key only if it is absent, so two
//! live nodes never share a name.
//!
//! One task per joined node keeps the lease, publishes registered names
//! and watches the prefix; each watch event goes through
//! [`apply`](super::apply). When etcd fails, the task marks it unreachable
//! (see [`MembershipStatus`](super::MembershipStatus)), keeps the last
//! membership and retries with capped, doubling back-off; calls never
//! wait on it. Back in touch, it lists the prefix again (a full listing,
//! so removals missed meanwhile are applied), then watches from there.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, LeaseKeepAliveStream,
    LeaseKeeper, PutOptions, Txn, TxnOp, TxnOpResponse, WatchOptions, WatchStream,
};
use tokio::time::{timeout, Instant};

use super::{apply, Change, MembershipError, Tracker};
use crate::node::state::{lock, NodeState};
use crate::node::Cluster;
use crate::Result;

/// Where and how a node finds its membership in etcd v3: the endpoints,
/// the key prefix, the lease TTL and what to do when etcd is out of reach.
///
/// Pass it to [`Cluster::join`]. Every setting has a documented default.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use skycluster::Etcd;
///
/// let etcd = Etcd::new(["http://127.0.0.1:2379"])
///     .with_prefix("/game/")
///     .with_ttl(Duration::from_secs(5))
///     .with_start_wait(Some(Duration::from_secs(30)));
/// assert_eq!(etcd.prefix(), "/game/");
/// assert_eq!(etcd.ttl(), Duration::from_secs(5));
/// assert_eq!(Etcd::new(["http://127.0.0.1:2379"]).ttl(), Duration::from_secs(10));
/// ```
#[derive(Clone, Debug)]
pub struct Etcd {
    endpoints: Vec<String>,
    prefix: String,
    ttl: Duration,
    start_wait: Option<Duration>,
    request_timeout: Duration,
    backoff_min: Duration,
    backoff_max: Duration,
    advertise: Option<String>,
}

impl Etcd {
    /// etcd at these endpoints (`http://host:port`), with the defaults:
    /// prefix `/skycluster/`, TTL 10 s, no start wait (joining fails at
    /// once when etcd is out of reach), requests time out after 3 s,
    /// reconnects back off from 100 ms to at most 5 s.
    ///
    /// # Examples
    ///
    /// ```
    /// let etcd = skycluster::Etcd::new(["http://127.0.0.1:2379"]);
    /// assert_eq!(etcd.prefix(), "/skycluster/");
    /// ```
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Etcd {
        Etcd {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            prefix: "/skycluster/".to_owned(),
            ttl: Duration::from_secs(10),
            start_wait: None,
            request_timeout: Duration::from_secs(3),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            advertise: None,
        }
    }

    /// Sets the key prefix; clusters sharing one etcd use different ones.
    /// Default: `/skycluster/`.
    ///
    /// # Examples
    ///
    /// ```
    /// let etcd = skycluster::Etcd::new(["http://127.0.0.1:2379"]).with_prefix("/staging/");
    /// assert_eq!(etcd.prefix(), "/staging/");
    /// ```
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Etcd {
        self.prefix = prefix.into();
        self
    }

    /// Sets the lease TTL: a node that dies without leaving is dropped by
    /// every other node within about this long. Whole seconds, at least
    /// one (etcd's unit). Default: 10 s.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let etcd = skycluster::Etcd::new(["http://127.0.0.1:2379"]).with_ttl(Duration::from_millis(10));
    /// assert_eq!(etcd.ttl(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Etcd {
        self.ttl = Duration::from_secs(ttl.as_secs().max(1));
        self
    }

    /// Sets what [`Cluster::join`] does when etcd is out of reach:
    /// `None` fails at once with [`MembershipError::Unreachable`];
    /// `Some(wait)` retries for up to `wait` first. Default: `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let etcd = skycluster::Etcd::new(["http://127.0.0.1:2379"])
    ///     .with_start_wait(Some(Duration::from_secs(60)));
    /// # let _ = etcd;
    /// ```
    #[must_use]
    pub fn with_start_wait(mut self, wait: Option<Duration>) -> Etcd {
        self.start_wait = wait;
        self
    }

    /// Sets how long one etcd request may take. Default: 3 s.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let etcd = skycluster::Etcd::new(["http://127.0.0.1:2379"])
    ///     .with_request_timeout(Duration::from_secs(1));
    /// # let _ = etcd;
    /// ```
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Etcd {
        self.request_timeout = timeout;
        self
    }

    /// Sets the back-off between reconnect attempts: from `min`, doubling,
    /// at most `max`. Default: 100 ms to 5 s.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let etcd = skycluster::Etcd::new(["http://127.0.0.1:2379"])
    ///     .with_backoff(Duration::from_millis(50), Duration::from_secs(1));
    /// # let _ = etcd;
    /// ```
    #[must_use]
    pub fn with_backoff(mut self, min: Duration, max: Duration) -> Etcd {
        self.backoff_min = min;
        self.backoff_max = max.max(min);
        self
    }

    /// Sets the address this node publishes, when it differs from the one
    /// it listens on (a listener on `0.0.0.0`, or behind NAT). Default:
    /// the address of its first listener.
    ///
    /// # Examples
    ///
    /// ```
    /// let etcd = skycluster::Etcd::new(["http://127.0.0.1:2379"])
    ///     .with_advertise("10.0.0.5:7001");
    /// # let _ = etcd;
    /// ```
    #[must_use]
    pub fn with_advertise(mut self, addr: impl Into<String>) -> Etcd {
        self.advertise = Some(addr.into());
        self
    }

    /// The key prefix.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(skycluster::Etcd::new(["http://127.0.0.1:2379"]).prefix(), "/skycluster/");
    /// ```
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The lease TTL.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// assert_eq!(skycluster::Etcd::new(["http://127.0.0.1:2379"]).ttl(), Duration::from_secs(10));
    /// ```
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Reads the membership etcd holds now, once, as a [`Config`](crate::Config):
    /// what `skycluster etcd export` writes as a clustername file.
    ///
    /// # Errors
    ///
    /// [`MembershipError::Unreachable`] when etcd does not answer within
    /// the request timeout.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), skycluster::Error> {
    /// let etcd = skycluster::Etcd::new(["http://127.0.0.1:2379"]);
    /// let config = etcd.read().await?;
    /// config.write_clustername("clustername.lua")?;
    /// # Ok(()) }
    /// ```
    pub async fn read(&self) -> Result<crate::Config> {
        let mut client = self.connect().await?;
        let (changes, _) = self.list(&mut client).await?;
        let mut config = crate::Config::new();
        for change in changes {
            if let Change::Node(node, addr) = change {
                if super::valid_addr(&addr) {
                    config = config.with_node(node, addr);
                }
            }
        }
        Ok(config)
    }

    fn location(&self) -> String {
        format!("{} {}", self.endpoints.join(","), self.prefix)
    }

    fn unreachable(&self, reason: impl ToString) -> MembershipError {
        MembershipError::Unreachable {
            endpoints: self.endpoints.join(","),
            reason: reason.to_string(),
        }
    }

    fn node_key(&self, node: &str) -> String {
        format!("{}nodes/{node}", self.prefix)
    }

    fn service_key(&self, name: &str, node: &str) -> String {
        format!("{}services/{name}/{node}", self.prefix)
    }

    /// Runs one etcd request within the request timeout; a failure or a
    /// timeout is "unreachable".
    async fn ask<T>(
        &self,
        op: &'static str,
        request: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, MembershipError> {
        match timeout(self.request_timeout, request).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(self.unreachable(format!("{op}: {e}"))),
            Err(_) => {
                Err(self.unreachable(format!("{op}: no answer within {:?}", self.request_timeout)))
            }
        }
    }

    async fn connect(&self) -> Result<Client, MembershipError> {
        let ping = (self.ttl / 3).max(Duration::from_millis(500));
        let options = ConnectOptions::new()
            .with_connect_timeout(self.request_timeout)
            .with_keep_alive(ping, ping)
            .with_keep_alive_while_idle(true);
        let mut client = self
            .ask(
                "connect",
                Client::connect(self.endpoints.clone(), Some(options)),
            )
            .await?;
        // The connection is made lazily: make sure etcd answers.
        self.ask("status", client.status()).await?;
        Ok(client)
    }

    /// The whole listing under the prefix, and the revision it is at.
    async fn list(&self, client: &mut Client) -> Result<(Vec<Change>, i64), MembershipError> {
        let listing = self
            .ask(
                "get",
                client.get(self.prefix.clone(), Some(GetOptions::new().with_prefix())),
            )
            .await?;
        let revision = listing.header().map_or(0, |h| h.revision());
        let changes = listing
            .kvs()
            .iter()
            .filter_map(|kv| self.change(kv.key(), kv.value(), EventType::Put))
            .collect();
        Ok((changes, revision))
    }

    /// What a key under the prefix says, or `None` for a key that is not
    /// skycluster's.
    fn change(&self, key: &[u8], value: &[u8], event: EventType) -> Option<Change> {
        let key = std::str::from_utf8(key).ok()?.strip_prefix(&self.prefix)?;
        if let Some(node) = key.strip_prefix("nodes/") {
            let node = node.to_owned();
            return Some(match event {
                EventType::Put => Change::Node(node, std::str::from_utf8(value).ok()?.to_owned()),
                EventType::Delete => Change::NodeGone(node),
            });
        }
        let (name, node) = key.strip_prefix("services/")?.rsplit_once('/')?;
        let (name, node) = (name.to_owned(), node.to_owned());
        Some(match event {
            EventType::Put => Change::Service(name, node),
            EventType::Delete => Change::ServiceGone(name, node),
        })
    }

    /// Claims `me.node` for `me.addr` under a lease (`old`, if it still
    /// holds the key, else a new one): create-if-absent, so that a name
    /// another live node holds is refused with its address.
    async fn claim(
        &self,
        client: &mut Client,
        me: &Me,
        old: Option<i64>,
    ) -> Result<Lease, MembershipError> {
        let key = self.node_key(&me.node);
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        // A lease kept across a lost connection still holds the key, if
        // it has not expired: reuse it.
        let alive = match old {
            Some(id) => {
                let left = self
                    .ask("lease ttl", client.lease_time_to_live(id, None))
                    .await?;
                (left.ttl() > 0).then_some(id)
            }
            None => None,
        };
        let (id, fresh) = match alive {
            Some(id) => (id, false),
            None => {
                let granted = self
                    .ask("lease grant", client.lease_grant(ttl, None))
                    .await?;
                (granted.id(), true)
            }
        };
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key.clone(),
                me.addr.clone(),
                Some(PutOptions::new().with_lease(id)),
            )])
            .or_else([TxnOp::get(key.clone(), None)]);
        let answer = self.ask("txn", client.txn(txn)).await?;
        if !answer.succeeded() {
            let holder = answer.op_responses().into_iter().find_map(|r| match r {
                TxnOpResponse::Get(get) => get.kvs().first().cloned(),
                _ => None,
            });
            match holder {
                // Still ours: the old lease is alive.
                Some(kv) if kv.lease() == id && !fresh => {}
                Some(kv) => {
                    if fresh {
                        let _ = self.ask("lease revoke", client.lease_revoke(id)).await;
                    }
                    return Err(MembershipError::NameTaken {
                        node: me.node.clone(),
                        holder: String::from_utf8_lossy(kv.value()).into_owned(),
                    });
                }
                // Deleted in between: claim again, with a new lease.
                None if !fresh => return Box::pin(self.claim(client, me, None)).await,
                None => {
                    return Err(MembershipError::Etcd {
                        op: "txn",
                        reason: format!("`{key}` neither absent nor present"),
                    })
                }
            }
        }
        let (keeper, stream) = self
            .ask("lease keep-alive", client.lease_keep_alive(id))
            .await?;
        Ok(Lease {
            id,
            fresh,
            keeper,
            stream,
        })
    }

    /// Puts and deletes service keys so that they match the names this
    /// node has registered now.
    async fn publish_names(
        &self,
        client: &mut Client,
        state: &NodeState,
        me: &Me,
        lease: i64,
        published: &mut BTreeSet<String>,
    ) -> Result<(), MembershipError> {
        let now: BTreeSet<String> = state.registry.registered_names().into_iter().collect();
        for name in now.difference(&published.clone()) {
            let key = self.service_key(name, &me.node);
            let options = PutOptions::new().with_lease(lease);
            self.ask("put", client.put(key, "", Some(options))).await?;
            published.insert(name.clone());
        }
        for name in published.clone().difference(&now) {
            let key = self.service_key(name, &me.node);
            self.ask("delete", client.delete(key, None)).await?;
            published.remove(name);
        }
        Ok(())
    }

    /// Connects, claims the name (if publishing), publishes registered
    /// names, lists the prefix and starts watching after the listing.
    async fn establish(
        &self,
        state: &NodeState,
        me: Option<&Me>,
        old_lease: Option<i64>,
        published: &mut BTreeSet<String>,
    ) -> Result<Session, MembershipError> {
        let mut client = self.connect().await?;
        let lease = match me {
            Some(me) => {
                let lease = self.claim(&mut client, me, old_lease).await?;
                if lease.fresh {
                    // The keys of the old lease, if any, went with it.
                    published.clear();
                }
                self.publish_names(&mut client, state, me, lease.id, published)
                    .await?;
                Some(lease)
            }
            None => None,
        };
        let (listing, revision) = self.list(&mut client).await?;
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(revision + 1);
        let watch = self
            .ask("watch", client.watch(self.prefix.clone(), Some(options)))
            .await?;
        Ok(Session {
            client,
            lease,
            watch,
            listing,
        })
    }
}

/// The name and address this node publishes.
#[derive(Clone, Debug)]
struct Me {
    node: String,
    addr: String,
}

/// A lease this node holds its keys with, and its keep-alive stream.
struct Lease {
    id: i64,
    /// Granted now, rather than kept from before a lost connection.
    fresh: bool,
    keeper: LeaseKeeper,
    stream: LeaseKeepAliveStream,
}

/// One connection's worth of membership: the client, the lease, the
/// watch, and the listing the watch starts after.
struct Session {
    client: Client,
    lease: Option<Lease>,
    watch: WatchStream,
    listing: Vec<Change>,
}

impl Cluster {
    /// Joins the membership kept in etcd.
    ///
    /// Reads every node and registered name under the prefix into this
    /// node's config, and from then on applies each change as it happens
    /// (through the same path as [`Cluster::reload_with`]: a moved node's
    /// waiting calls fail with "node moved"; a removed node is absent
    /// again, honouring `__nowaiting`). A node that has a name and a
    /// listener (or [`Etcd::with_advertise`]) also publishes itself,
    /// under a lease kept alive every third of the TTL, with every name it
    /// [`register`](Cluster::register)s, and deletes it all on
    /// [`Cluster::shutdown`]. Without a name or listener it only watches.
    ///
    /// etcd is never on a call's path: when it goes out of reach the node
    /// keeps the membership it last saw, retries with capped back-off,
    /// and [`Cluster::status`] says since when (in
    /// [`Status::membership`](crate::Status::membership)).
    ///
    /// # Errors
    ///
    /// [`MembershipError::Unreachable`] when etcd does not answer (after
    /// the [start wait](Etcd::with_start_wait), if one is set);
    /// [`MembershipError::NameTaken`] naming the holder's address when a
    /// live node already holds this node's name;
    /// [`MembershipError::AlreadyJoined`] on a second join. Each comes
    /// wrapped in [`Error::Membership`](crate::Error::Membership).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use skycluster::{Cluster, Config, Etcd};
    ///
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), skycluster::Error> {
    /// let cluster = Cluster::new(Config::new());
    /// cluster.set_name("game1")?;
    /// cluster.listen("127.0.0.1:7001").await?;
    /// cluster.join(Etcd::new(["http://127.0.0.1:2379"])).await?;
    /// // Every node that joined the same prefix is callable by name now.
    /// # Ok(()) }
    /// ```
    pub async fn join(&self, etcd: Etcd) -> Result<()> {
        let state = self.state();
        let named = || self.node_name().unwrap_or("(unnamed)").to_owned();
        if state.membership.get().is_some() {
            return Err(MembershipError::AlreadyJoined { node: named() }.into());
        }
        let listening = lock(&state.listeners).first().map(|l| l.addr.to_string());
        let me = match (self.node_name(), etcd.advertise.clone().or(listening)) {
            (Some(node), Some(addr)) => Some(Me {
                node: node.to_owned(),
                addr,
            }),
            _ => None,
        };
        let mut published = BTreeSet::new();
        let give_up = etcd.start_wait.map(|wait| Instant::now() + wait);
        let mut backoff = etcd.backoff_min;
        let session = loop {
            match etcd
                .establish(state, me.as_ref(), None, &mut published)
                .await
            {
                Ok(session) => break session,
                Err(e @ MembershipError::Unreachable { .. }) => {
                    let Some(give_up) = give_up.filter(|&at| Instant::now() + backoff < at) else {
                        return Err(e.into());
                    };
                    tracing::info!(error = %e, "etcd unreachable; waiting to join");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = tokio::time::sleep_until(give_up) => return Err(e.into()),
                        () = state.shutdown.cancelled() => return Err(e.into()),
                    }
                    backoff = (backoff * 2).min(etcd.backoff_max);
                }
                Err(e) => return Err(e.into()),
            }
        };
        let tracker = Arc::new(Tracker::new("etcd", etcd.location()));
        if state.membership.set(Arc::clone(&tracker)).is_err() {
            return Err(MembershipError::AlreadyJoined { node: named() }.into());
        }
        let Session {
            client,
            lease,
            watch,
            listing,
        } = session;
        apply(state, &tracker, listing, true);
        let task = Task {
            state: Arc::clone(state),
            tracker,
            etcd,
            me,
            published,
        };
        state.tasks.spawn(task.run(Session {
            client,
            lease,
            watch,
            listing: Vec::new(),
        }));
        Ok(())
    }
}

/// The task that keeps one node's membership in etcd.
struct Task {
    state: Arc<NodeState>,
    tracker: Arc<Tracker>,
    etcd: Etcd,
    me: Option<Me>,
    published: BTreeSet<String>,
}

/// Why a session ended.
enum Ended {
    Shutdown(Box<Client>, Option<i64>),
    /// Lost touch with etcd; the lease, if it may still be alive.
    Lost(String, Option<i64>),
}

impl Task {
    async fn run(mut self, first: Session) {
        let mut session = Some(first);
        let mut lease_id = None;
        let mut backoff = self.etcd.backoff_min;
        loop {
            if let Some(current) = session.take() {
                backoff = self.etcd.backoff_min;
                match self.serve(current).await {
                    Ended::Shutdown(mut client, lease) => {
                        if let Some(id) = lease {
                            // Revoking deletes every key the lease holds.
                            let revoked =
                                self.etcd.ask("lease revoke", client.lease_revoke(id)).await;
                            if let Err(e) = revoked {
                                tracing::warn!(error = %e, "could not leave etcd cleanly; the lease will expire");
                            }
                        }
                        return;
                    }
                    Ended::Lost(error, lease) => {
                        lease_id = lease;
                        self.tracker.unreachable(error);
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = self.state.shutdown.cancelled() => return,
            }
            backoff = (backoff * 2).min(self.etcd.backoff_max);
            let established = self
                .etcd
                .establish(&self.state, self.me.as_ref(), lease_id, &mut self.published)
                .await;
            match established {
                Ok(mut next) => {
                    apply(
                        &self.state,
                        &self.tracker,
                        std::mem::take(&mut next.listing),
                        true,
                    );
                    self.tracker.reachable();
                    session = Some(next);
                }
                Err(e @ MembershipError::NameTaken { .. }) => {
                    // Another node took the name while this one was cut
                    // off: go on watching, unpublished.
                    tracing::error!(error = %e, "this node's name was taken while etcd was out of reach; watching only");
                    self.tracker.error(e.to_string());
                    self.me = None;
                    lease_id = None;
                }
                Err(e) => self.tracker.unreachable(e.to_string()),
            }
        }
    }

    /// Keeps the lease, publishes names and applies watch events until
    /// etcd fails or the node shuts down.
    async fn serve(&mut self, session: Session) -> Ended {
        let Session {
            mut client,
            mut lease,
            mut watch,
            ..
        } = session;
        let ttl = self.etcd.ttl;
        let mut tick = tokio::time::interval(ttl / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut answered = Instant::now();
        let lease_id = lease.as_ref().map(|l| l.id);
        loop {
            tokio::select! {
                () = self.state.shutdown.cancelled() => return Ended::Shutdown(Box::new(client), lease_id),
                _ = tick.tick(), if lease.is_some() => {
                    if answered.elapsed() > ttl {
                        return Ended::Lost(format!("no keep-alive answer within the TTL ({ttl:?})"), None);
                    }
                    if let Some(lease) = lease.as_mut() {
                        if let Err(e) = self.etcd.ask("keep-alive", lease.keeper.keep_alive()).await {
                            return Ended::Lost(e.to_string(), lease_id);
                        }
                    }
                }
                answer = next_keep_alive(&mut lease) => match answer {
                    Ok(Some(ttl_left)) if ttl_left > 0 => answered = Instant::now(),
                    Ok(Some(_)) => return Ended::Lost("the lease expired".to_owned(), None),
                    Ok(None) => return Ended::Lost("the keep-alive stream ended".to_owned(), lease_id),
                    Err(e) => return Ended::Lost(format!("keep-alive: {e}"), lease_id),
                },
                event = watch.message() => match event {
                    Ok(Some(response)) => {
                        if response.canceled() {
                            return Ended::Lost(format!("watch canceled: {}", response.cancel_reason()), lease_id);
                        }
                        let changes: Vec<Change> = response
                            .events()
                            .iter()
                            .filter_map(|ev| ev.kv().and_then(|kv| self.etcd.change(kv.key(), kv.value(), ev.event_type())))
                            .collect();
                        if !changes.is_empty() {
                            apply(&self.state, &self.tracker, changes, false);
                        }
                    }
                    Ok(None) => return Ended::Lost("the watch ended".to_owned(), lease_id),
                    Err(e) => return Ended::Lost(format!("watch: {e}"), lease_id),
                },
                () = self.tracker.names_changed.notified(), if lease.is_some() => {
                    if let (Some(me), Some(id)) = (self.me.clone(), lease_id) {
                        let published = self.etcd.publish_names(&mut client, &self.state, &me, id, &mut self.published).await;
                        if let Err(e) = published {
                            return Ended::Lost(e.to_string(), lease_id);
                        }
                    }
                }
            }
        }
    }
}

/// The next keep-alive answer's remaining TTL; pending for ever without a
/// lease.
async fn next_keep_alive(lease: &mut Option<Lease>) -> Result<Option<i64>, etcd_client::Error> {
    match lease {
        Some(lease) => Ok(lease.stream.message().await?.map(|r| r.ttl())),
        None => std::future::pending().await,
    }
}
