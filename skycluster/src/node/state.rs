//! What one node shares between its handle, its listeners, its agents and
//! its endpoints, and the routing they all ask it for:
//!
//! * an address on this node: which local service it names
//!   ([`NodeState::resolve`]), or the answer to a name query
//!   ([`NodeState::answer_query`]);
//! * a node of the cluster: the sender that reaches it
//!   ([`NodeState::sender_now`], [`NodeState::wait_for_sender`]).
//!
//! Everything else in `node` uses this module; it uses none of them but
//! the sender, the registry and the config.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use tokio::sync::{watch, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::clock::Deadline;
use super::config::Config;
use super::membership::Tracker;
use super::registry::{Handle, Registry};
use super::sender::{
    extensions_answer, is_extensions_query, schema_answer, schema_asked_about, Sender,
};
use super::Options;
use crate::codec::luaseri::{self, Value};
use crate::handler::{unresolved, Handler};
use crate::wire::Address;
use crate::ErrorKind;

/// One node's shared state. [`Cluster`](super::Cluster) is a handle to it.
#[derive(Debug)]
pub(crate) struct NodeState {
    /// Tells this node's state from every other in the process, for the
    /// per-thread cache of endpoint targets (see `endpoint::recent`).
    pub(super) id: u64,
    /// This node's own name, once `open` or `set_name` gave it one.
    name: OnceLock<Arc<str>>,
    config: Mutex<Config>,
    /// Bumped on every reload, to wake calls waiting for a missing node.
    config_version: watch::Sender<u64>,
    /// `config_version`'s value, readable with one atomic load (a pool
    /// reads it on every call).
    version: AtomicU64,
    senders: Mutex<HashMap<Arc<str>, Arc<Sender>>>,
    pub(super) registry: Registry,
    pub(super) options: Arc<Options>,
    pub(super) listeners: Mutex<Vec<Listening>>,
    pub(super) shutdown: CancellationToken,
    pub(super) tasks: TaskTracker,
    /// Where the membership comes from when not only from the config
    /// (etcd): its health and what it published, once joined.
    pub(super) membership: OnceLock<Arc<Tracker>>,
}

/// A listener's counters, for [`Cluster::status`](super::Cluster::status).
#[derive(Debug)]
pub(crate) struct Listening {
    pub(super) addr: SocketAddr,
    /// One permit per connection it may still accept.
    pub(super) slots: Arc<Semaphore>,
    /// Requests its agents are handling now.
    pub(super) requests: Arc<AtomicUsize>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No critical section here can panic half-way; poisoning is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl NodeState {
    pub(super) fn new(config: Config, options: Options) -> NodeState {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        NodeState {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: OnceLock::new(),
            config: Mutex::new(config),
            config_version: watch::Sender::new(0),
            version: AtomicU64::new(0),
            senders: Mutex::new(HashMap::new()),
            registry: Registry::new(),
            options: Arc::new(options),
            listeners: Mutex::new(Vec::new()),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            membership: OnceLock::new(),
        }
    }

    /// This node's name, if it has one.
    pub(super) fn name(&self) -> Option<&Arc<str>> {
        self.name.get()
    }

    /// Names this node; `false` if it already has another name.
    pub(super) fn set_name(&self, node: &str) -> bool {
        &**self.name.get_or_init(|| node.into()) == node
    }

    pub(super) fn config(&self) -> MutexGuard<'_, Config> {
        lock(&self.config)
    }

    /// Whether `node` is this node: its calls skip the network.
    pub(super) fn is_local(&self, node: &str) -> bool {
        self.name.get().is_some_and(|name| &**name == node)
    }

    /// Merges `update` into the config and points every sender at its
    /// node's new address, then wakes calls waiting for a missing node.
    pub(super) fn reload(&self, update: Config) {
        {
            let mut config = lock(&self.config);
            let senders = lock(&self.senders);
            for entry in update.entries() {
                config.apply(entry);
            }
            for (node, sender) in senders.iter() {
                if let Some(addr) = config.get(node) {
                    sender.retarget(addr.clone());
                }
            }
        }
        self.bump();
    }

    /// Removes `node` from the config, as a membership source that lost it
    /// says: calls to it then behave as to an absent node. Its sender is
    /// kept (endpoints cache it, and a node coming back retargets it) but
    /// marked removed, so that its waiting calls fail now and calls
    /// through endpoints that kept it wait for the node, or fail, as for an
    /// absent one.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))]
    pub(super) fn remove(&self, nodes: &[String]) {
        {
            let mut config = lock(&self.config);
            let senders = lock(&self.senders);
            for node in nodes {
                config.remove(node);
                if let Some(sender) = senders.get(node.as_str()) {
                    sender.remove();
                }
            }
        }
        self.bump();
    }

    /// The config's version: bumped by every change of the config, and
    /// of the services a membership source lists.
    pub(super) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// A new version: every receiver of `changes` wakes.
    fn bump(&self) {
        self.config_version.send_modify(|v| {
            *v += 1;
            self.version.store(*v, Ordering::Release);
        });
    }

    /// Says that the membership changed without the config changing (a
    /// source listed a service anew): pools look again.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))]
    pub(super) fn touch(&self) {
        self.bump();
    }

    /// A receiver that sees every change of the config.
    pub(super) fn changes(&self) -> watch::Receiver<u64> {
        self.config_version.subscribe()
    }

    /// Every sender made so far, by node.
    pub(super) fn senders(&self) -> HashMap<Arc<str>, Arc<Sender>> {
        lock(&self.senders).clone()
    }

    /// Whether a call to a node missing from the config waits for a reload
    /// to add it (`__nowaiting` off), rather than failing at once.
    pub(super) fn waits_for_absent(&self) -> bool {
        !lock(&self.config).nowaiting()
    }

    /// The sender for `node`, waiting (until `deadline`) for a reload to
    /// supply a node missing from the config, unless `__nowaiting` is on.
    pub(super) async fn wait_for_sender(
        &self,
        node: &str,
        deadline: Deadline,
    ) -> Result<Arc<Sender>, ErrorKind> {
        let mut changes = self.config_version.subscribe();
        let mut logged = false;
        loop {
            match self.sender_now(node) {
                Err(ErrorKind::Absent) if self.waits_for_absent() => {}
                other => {
                    if logged {
                        tracing::info!(%node, "cluster node resolved");
                    }
                    return other;
                }
            }
            if !logged {
                tracing::info!(%node, "waiting for cluster node");
                logged = true;
            }
            let changed = changes.changed();
            let woke = tokio::time::timeout_at(deadline.at(), changed)
                .await
                .map_err(|_| deadline.expired())?;
            if woke.is_err() {
                return Err(ErrorKind::Shutdown);
            }
        }
    }

    /// The sender for `node` if the config has it, without waiting.
    pub(super) fn sender_now(&self, node: &str) -> Result<Arc<Sender>, ErrorKind> {
        // The config first: a node removed from it (see `remove`) keeps its
        // sender, but is absent.
        let config = lock(&self.config);
        let Some(addr) = config.get(node) else {
            return Err(ErrorKind::Absent);
        };
        let mut senders = lock(&self.senders);
        if let Some(sender) = senders.get(node) {
            return Ok(Arc::clone(sender));
        }
        let sender = senders.entry(node.into()).or_insert_with(|| {
            let local = self
                .name
                .get()
                .cloned()
                .unwrap_or_else(|| "skycluster".into());
            Sender::new(node.into(), local, addr.clone(), Arc::clone(&self.options))
        });
        Ok(Arc::clone(sender))
    }

    /// Finds the local service an address names, or the error text to
    /// answer with.
    pub(super) fn resolve(&self, address: &Address) -> Result<Arc<dyn Handler>, String> {
        let node = self.name.get().map_or("?", |n| &**n);
        let handle = match address {
            Address::Handle(h) => Some(*h),
            Address::Name(name) => {
                let text = String::from_utf8_lossy(name.as_bytes());
                match text.as_bytes().first() {
                    Some(b'@') => self.registry.registered(&text[1..]).map(Handle::get),
                    Some(b'.') => self.registry.local(&text[1..]).map(Handle::get),
                    Some(b':') => u32::from_str_radix(&text[1..], 16).ok(),
                    _ => {
                        return Err(unresolved(
                            node,
                            address,
                            "a name starts with `@` (registered), `.` (local) or `:` (handle)",
                        ))
                    }
                }
            }
        };
        let why = match address {
            Address::Name(n) if n.as_bytes().first() == Some(&b'@') => "not registered",
            Address::Name(_) => "no service has this name",
            Address::Handle(_) => "no service has this handle",
        };
        handle
            .and_then(|h| self.registry.get(h))
            .ok_or_else(|| unresolved(node, address, why))
    }

    /// Answers a request to address 0, a name query: the payload is
    /// `skynet.pack(name)`; the answer is the packed handle registered
    /// under `@name`, or Skynet's `name not found`.
    ///
    /// A schema check's query (the reserved name, then an address) is
    /// answered with the fingerprints of the typed service at that
    /// address, or "name not found", as a Lua node answers it, where there
    /// is none.
    pub(super) fn answer_query(&self, payload: &[u8]) -> Result<Bytes, String> {
        let values = luaseri::unpack(payload).map_err(|e| format!("bad name query: {e}"))?;
        if is_extensions_query(&values) && self.options.extensions {
            return extensions_answer();
        }
        if let Some(asked) = schema_asked_about(&values) {
            return asked
                .ok()
                .and_then(|address| self.resolve(&address).ok())
                .and_then(|handler| handler.fingerprints())
                .ok_or_else(|| "name not found".to_owned())
                .and_then(schema_answer);
        }
        let Some(Value::String(name)) = values.first() else {
            return Err("bad name query: the payload is not a name".to_owned());
        };
        let name = String::from_utf8_lossy(name);
        match self.registry.registered(&name) {
            Some(handle) => luaseri::pack(&[Value::Integer(i64::from(handle.get()))])
                .map(Bytes::from)
                .map_err(|e| e.to_string()),
            None => Err("name not found".to_owned()),
        }
    }
}
