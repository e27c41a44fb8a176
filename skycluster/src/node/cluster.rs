//! The cluster handle: config, senders, listeners and local services of
//! one node, behind one cheap-to-clone value.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{watch, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::agent;
use super::clock::Deadline;
use super::config::{Config, NodeAddr};
use super::proxy::{Endpoint, IntoAddress};
use super::registry::{Handle, Registry};
use super::sender::{Sender, Target};
use super::status::{ListenerStatus, NodeStatus, Status};
use super::Options;
use crate::codec::luaseri::{self, Value};
use crate::service::{BoxFuture, Handler, IntoService, Service};
use crate::wire::{Address, Name};
use crate::{CallError, Error, ErrorKind, Result};

/// One node's view of the cluster: Skynet's `cluster` module.
///
/// Cheap to clone and usable from any task. Calls to other nodes share one
/// connection per node; calls to this node's own services skip the network.
///
/// # Examples
///
/// ```no_run
/// use bytes::Bytes;
/// use skycluster::{Cluster, HandlerError, Request};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = Cluster::load("clustername.lua")?;
/// cluster.open("game1").await?;
///
/// // A raw-bytes service, reachable as `@echo` from every node.
/// let echo = cluster.spawn_handler(|req: Request| async move {
///     Ok::<_, HandlerError>(req.into_payload())
/// });
/// cluster.register_name("echo", echo)?;
///
/// let reply = cluster.call("battle1", "@room_mgr", Bytes::from_static(b"\x24ping")).await?;
/// println!("{} bytes back", reply.len());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Cluster {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    /// This node's own name, once `open` or `set_name` gave it one.
    name: OnceLock<Arc<str>>,
    config: Mutex<Config>,
    /// Bumped on every reload, to wake calls waiting for a missing node.
    config_version: watch::Sender<u64>,
    senders: Mutex<HashMap<Arc<str>, Arc<Sender>>>,
    pub(crate) registry: Registry,
    pub(crate) options: Arc<Options>,
    listeners: Mutex<Vec<Listener>>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

#[derive(Debug)]
struct Listener {
    addr: SocketAddr,
    slots: Arc<Semaphore>,
    /// Requests its agents are handling now.
    requests: Arc<AtomicUsize>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No critical section here can panic half-way; poisoning is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cluster {
    /// A cluster with this membership and default [`Options`].
    pub fn new(config: Config) -> Cluster {
        Cluster::with_options(config, Options::default())
    }

    /// A cluster with this membership and these options.
    pub fn with_options(config: Config, options: Options) -> Cluster {
        Cluster {
            inner: Arc::new(Inner {
                name: OnceLock::new(),
                config: Mutex::new(config),
                config_version: watch::Sender::new(0),
                senders: Mutex::new(HashMap::new()),
                registry: Registry::new(),
                options: Arc::new(options),
                listeners: Mutex::new(Vec::new()),
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// A cluster whose membership is read from a clustername file.
    ///
    /// # Errors
    ///
    /// As [`Config::load`].
    pub fn load(path: impl AsRef<Path>) -> Result<Cluster> {
        Ok(Cluster::new(Config::load(path)?))
    }

    /// This node's name, if it has one (`open` or `set_name` gives it).
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::{Cluster, Config};
    ///
    /// let cluster = Cluster::new(Config::new());
    /// assert_eq!(cluster.node_name(), None);
    /// cluster.set_name("game1")?;
    /// assert_eq!(cluster.node_name(), Some("game1"));
    /// # Ok::<(), skycluster::Error>(())
    /// ```
    pub fn node_name(&self) -> Option<&str> {
        self.inner.name.get().map(|n| &**n)
    }

    /// Names this node without listening: calls to `node` then run
    /// locally, and trace tags carry the name.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] if the node already has another name.
    pub fn set_name(&self, node: &str) -> Result<()> {
        let name = self.inner.name.get_or_init(|| node.into());
        if &**name != node {
            return Err(Error::InvalidName {
                name: node.to_owned(),
                reason: "this node already has another name",
            });
        }
        Ok(())
    }

    /// Listens on `node`'s configured address and makes `node` this
    /// node's name (`cluster.open("game1")`). Returns the bound address.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownNode`] or [`Error::NodeDisabled`] when the config has
    /// no address for `node`, and [`Error::Listen`] when binding fails.
    pub async fn open(&self, node: &str) -> Result<SocketAddr> {
        let addr = match lock(&self.inner.config).get(node) {
            Some(NodeAddr::At(addr)) => addr.clone(),
            Some(NodeAddr::Disabled) => {
                return Err(Error::NodeDisabled {
                    node: node.to_owned(),
                })
            }
            None => {
                return Err(Error::UnknownNode {
                    node: node.to_owned(),
                })
            }
        };
        self.set_name(node)?;
        self.listen(addr.as_str()).await
    }

    /// Listens on an explicit address, such as `127.0.0.1:0`, and returns
    /// the address bound. It binds exactly what it is given: never
    /// `0.0.0.0` unless asked.
    ///
    /// # Errors
    ///
    /// [`Error::Listen`] when binding fails.
    pub async fn listen(&self, addr: impl ToSocketAddrs + std::fmt::Display) -> Result<SocketAddr> {
        let shown = addr.to_string();
        let listen_error = |source| Error::Listen {
            addr: shown.clone(),
            source,
        };
        let listener = TcpListener::bind(addr).await.map_err(listen_error)?;
        let local = listener.local_addr().map_err(listen_error)?;
        let slots = Arc::new(Semaphore::new(self.inner.options.max_clients));
        let requests = Arc::new(AtomicUsize::new(0));
        lock(&self.inner.listeners).push(Listener {
            addr: local,
            slots: Arc::clone(&slots),
            requests: Arc::clone(&requests),
        });
        tracing::info!(node = ?self.node_name(), addr = %local, "listening");
        let inner = Arc::clone(&self.inner);
        self.inner
            .tasks
            .spawn(accept_loop(inner, listener, local, slots, requests));
        Ok(local)
    }

    /// Calls `address` on `node` with a raw payload (`cluster.call`).
    ///
    /// # Errors
    ///
    /// As [`Endpoint::call`].
    pub async fn call(
        &self,
        node: &str,
        address: impl IntoAddress,
        payload: Bytes,
    ) -> Result<Bytes, CallError> {
        self.endpoint(node, address).call(payload).await
    }

    /// Pushes a raw payload to `address` on `node`, wanting no reply
    /// (`cluster.send`).
    ///
    /// # Errors
    ///
    /// As [`Endpoint::send`].
    pub fn send(
        &self,
        node: &str,
        address: impl IntoAddress,
        payload: Bytes,
    ) -> Result<(), CallError> {
        self.endpoint(node, address).send(payload)
    }

    /// An endpoint for `address` on `node`: Skynet's `cluster.proxy`, for
    /// raw payloads.
    pub fn endpoint(&self, node: &str, address: impl IntoAddress) -> Endpoint {
        Endpoint::new(self.clone(), node, address)
    }

    /// An endpoint from Skynet's one-string form: `"node@name"` (a
    /// registered name) or `"node.name"` (a local name).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidAddress`] when the string has neither form.
    pub fn endpoint_at(&self, target: &str) -> Result<Endpoint, CallError> {
        let (node, address) = split_target(target).ok_or_else(|| {
            // No node could be split off: name the whole string as both,
            // rather than an address the caller never wrote.
            let address = Name::new(Bytes::copy_from_slice(target.as_bytes()))
                .map_or(Address::Name(Name::from_static("<invalid>")), Address::Name);
            CallError::new(
                target,
                address,
                ErrorKind::InvalidAddress {
                    reason: format!("`{target}` is not `node@name` or `node.name`").into(),
                },
            )
        })?;
        Ok(self.endpoint(node, address))
    }

    /// A typed client of service `S` at `address` on `node`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// #[skycluster::service]
    /// pub trait BattleMgr {
    ///     async fn create_room(&self, mode: u8) -> u32;
    /// }
    ///
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), skycluster::CallError> {
    /// # let cluster = skycluster::Cluster::new(skycluster::Config::new());
    /// let room = cluster.proxy::<dyn BattleMgr>("battle1", ".battle_mgr").create_room(1).await?;
    /// println!("room {room}");
    /// # Ok(()) }
    /// ```
    pub fn proxy<S: Service + ?Sized>(&self, node: &str, address: impl IntoAddress) -> S::Client {
        S::client(self.endpoint(node, address))
    }

    /// A typed client from the one-string form `"node@name"` or
    /// `"node.name"`.
    ///
    /// # Errors
    ///
    /// As [`Cluster::endpoint_at`].
    pub fn proxy_at<S: Service + ?Sized>(&self, target: &str) -> Result<S::Client, CallError> {
        self.endpoint_at(target).map(S::client)
    }

    /// Asks `node` for the handle registered as `name`
    /// (`cluster.query(node, name)`), without the `@`.
    ///
    /// # Errors
    ///
    /// A [`CallError`]; the remote text is `name not found` for an unknown
    /// name.
    pub async fn query_name(&self, node: &str, name: &str) -> Result<Handle, CallError> {
        let endpoint = self.endpoint(node, Address::QUERY);
        let name = name.strip_prefix('@').unwrap_or(name);
        let payload = luaseri::pack(&[Value::String(name.as_bytes().to_vec())])
            .map_err(|e| endpoint.error(codec_error("encode", e)))?;
        let reply = endpoint.call(Bytes::from(payload)).await?;
        match luaseri::unpack(&reply).as_deref() {
            Ok([Value::Integer(h)]) => u32::try_from(*h).map(Handle::from_raw).map_err(|_| {
                endpoint.error(codec_error("decode", format!("handle {h} out of range")))
            }),
            Ok(other) => Err(endpoint.error(codec_error(
                "decode",
                format!("expected one integer handle, got {other:?}"),
            ))),
            Err(e) => Err(endpoint.error(codec_error("decode", e))),
        }
    }

    /// Looks up service `S` on `node` under its registered name and
    /// returns a client bound to the handle found.
    ///
    /// The future is a [`Query`], which names only the client type: an
    /// `async fn` here would name `dyn S` in its future, and rustc then
    /// refuses it inside `Send` futures (spawned tasks, service methods).
    ///
    /// # Errors
    ///
    /// As [`Cluster::query_name`].
    pub fn query<S: Service + ?Sized>(&self, node: &str) -> Query<S::Client> {
        let cluster = self.clone();
        let node: Arc<str> = node.into();
        let lookup = {
            let cluster = self.clone();
            let node = Arc::clone(&node);
            let name = S::NAME;
            Box::pin(async move { cluster.query_name(&node, name).await })
        };
        Query {
            cluster,
            node,
            lookup,
            client: S::client,
        }
    }

    /// Starts a local service of type `S` (`dyn Trait` of a `#[service]`
    /// trait) served by `implementation`, and returns its handle:
    /// Skynet's `skynet.newservice`.
    ///
    /// `implementation` is the implementation itself, an `Arc` of one (to
    /// keep a reference to it), or an `Arc<dyn Trait>`; see
    /// [`IntoService`]. Calls run concurrently on it, so it takes `&self`.
    ///
    /// # Examples
    ///
    /// ```
    /// #[skycluster::service]
    /// pub trait BattleMgr {
    ///     async fn create_room(&self, mode: u8) -> u32;
    /// }
    ///
    /// #[derive(Default)]
    /// struct Rooms;
    ///
    /// #[skycluster::async_trait]
    /// impl BattleMgr for Rooms {
    ///     async fn create_room(&self, mode: u8) -> u32 {
    ///         u32::from(mode) + 100
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = skycluster::Cluster::new(skycluster::Config::new());
    /// let handle = cluster.spawn::<dyn BattleMgr>(Rooms::default());
    /// cluster.name(".battle_mgr", handle)?;
    /// # cluster.set_name("battle1")?;
    /// let room = cluster.proxy::<dyn BattleMgr>("battle1", ".battle_mgr").create_room(1).await?;
    /// assert_eq!(room, 101);
    /// # Ok(()) }
    /// ```
    pub fn spawn<S: Service + ?Sized>(&self, implementation: impl IntoService<S>) -> Handle {
        self.spawn_handler_arc(S::handler(implementation.into_service()))
    }

    /// Starts a local raw-bytes service: any [`Handler`], a closure from
    /// [`Request`](crate::Request) to a future of the reply included.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::{Cluster, Config, HandlerError, Request};
    ///
    /// let cluster = Cluster::new(Config::new());
    /// let echo = cluster.spawn_handler(|req: Request| async move {
    ///     Ok::<_, HandlerError>(req.into_payload())
    /// });
    /// cluster.register_name("echo", echo)?;
    /// # Ok::<(), skycluster::Error>(())
    /// ```
    pub fn spawn_handler(&self, handler: impl Handler) -> Handle {
        self.spawn_handler_arc(Arc::new(handler))
    }

    fn spawn_handler_arc(&self, handler: Arc<dyn Handler>) -> Handle {
        self.inner.registry.spawn(handler)
    }

    /// Stops a local service: its handle and names stop resolving.
    pub fn kill(&self, handle: Handle) -> bool {
        self.inner.registry.kill(handle)
    }

    /// Gives a local service a node-local name, `.name`: Skynet's
    /// `skynet.name(".name", handle)`. Other nodes reach it as
    /// `cluster.proxy(node, ".name")`, or `"node.name"`; the leading `.`
    /// may be left out. A name another service holds moves to `handle`
    /// (Skynet's `skynet.name` leaves it with the first holder, silently).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] or [`Error::UnknownHandle`].
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::{Cluster, Config, HandlerError, Request};
    ///
    /// let cluster = Cluster::new(Config::new());
    /// let echo = cluster.spawn_handler(|req: Request| async move {
    ///     Ok::<_, HandlerError>(req.into_payload())
    /// });
    /// cluster.name(".echo", echo)?;
    /// # Ok::<(), skycluster::Error>(())
    /// ```
    pub fn name(&self, name: &str, handle: Handle) -> Result<()> {
        self.inner.registry.name(name, handle)
    }

    /// The former name of [`Cluster::name`], kept for one release.
    ///
    /// # Errors
    ///
    /// As [`Cluster::name`].
    #[deprecated(note = "use Cluster::name")]
    pub fn name_local(&self, name: &str, handle: Handle) -> Result<()> {
        self.name(name, handle)
    }

    /// Registers service `S`'s handle under `@` plus its cluster name, for
    /// other nodes to find with [`Cluster::query`].
    ///
    /// # Errors
    ///
    /// [`Error::NameTaken`] if the name is registered already.
    pub fn register<S: Service + ?Sized>(&self, handle: Handle) -> Result<()> {
        self.register_name(S::NAME, handle)
    }

    /// `cluster.register(name, handle)`. A taken name is an error, not an
    /// overwrite.
    ///
    /// # Errors
    ///
    /// [`Error::NameTaken`], [`Error::InvalidName`] or
    /// [`Error::UnknownHandle`].
    pub fn register_name(&self, name: &str, handle: Handle) -> Result<()> {
        self.inner.registry.register(name, handle)
    }

    /// Removes a registered name; returns the handle it named.
    pub fn unregister(&self, name: &str) -> Option<Handle> {
        self.inner.registry.unregister(name)
    }

    /// Re-reads the clustername file this cluster was loaded from
    /// (`cluster.reload()`). Returns once the change is in effect.
    ///
    /// # Errors
    ///
    /// As [`Config::load`]; [`Error::NoConfigFile`] if the config came
    /// from no file. Nothing changes on error.
    pub fn reload(&self) -> Result<()> {
        let path = lock(&self.inner.config).path().map(Path::to_owned);
        let Some(path) = path else {
            return Err(Error::NoConfigFile {
                node: self.node_name().unwrap_or("(unnamed)").to_owned(),
            });
        };
        self.reload_with(Config::load(path)?);
        Ok(())
    }

    /// Merges `update` into the config, like `cluster.reload{...}`: nodes it
    /// names get its addresses, others stay. A changed address moves that
    /// node's sender (its waiting calls fail now); `false` disables the
    /// node. Returns once the change is in effect.
    pub fn reload_with(&self, update: Config) {
        let inner = &self.inner;
        {
            let mut config = lock(&inner.config);
            let senders = lock(&inner.senders);
            for entry in update.entries() {
                config.apply(entry);
            }
            for (node, sender) in senders.iter() {
                if let Some(addr) = config.get(node) {
                    sender.retarget(target_of(addr));
                }
            }
        }
        inner.config_version.send_modify(|v| *v += 1);
    }

    /// A snapshot of every node's connection and every listener.
    pub fn status(&self) -> Status {
        let inner = &self.inner;
        let config = lock(&inner.config).clone();
        let senders = lock(&inner.senders).clone();
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
        let max = inner.options.max_clients;
        let listeners = lock(&inner.listeners)
            .iter()
            .map(|l| ListenerStatus {
                addr: l.addr,
                connections: max - l.slots.available_permits(),
                requests: l.requests.load(Ordering::Relaxed),
            })
            .collect();
        Status { nodes, listeners }
    }

    /// Stops accepting connections, lets requests in flight finish within
    /// `grace`, then closes every sender (their waiting calls fail with
    /// [`ErrorKind::Shutdown`]).
    pub async fn shutdown(&self, grace: Duration) {
        let inner = &self.inner;
        inner.shutdown.cancel();
        inner.tasks.close();
        if tokio::time::timeout(grace, inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(node = ?self.node_name(), ?grace, "requests still running after the grace period");
        }
        for sender in lock(&inner.senders).values() {
            sender.close();
        }
    }
}

/// The future of [`Cluster::query`]: a name query, then a typed client
/// bound to the handle it found.
#[must_use = "futures do nothing unless awaited"]
pub struct Query<C> {
    cluster: Cluster,
    node: Arc<str>,
    lookup: BoxFuture<Result<Handle, CallError>>,
    client: fn(Endpoint) -> C,
}

impl<C> std::fmt::Debug for Query<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Query")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl<C> Future for Query<C> {
    type Output = Result<C, CallError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let handle = std::task::ready!(self.lookup.as_mut().poll(cx))?;
        let endpoint = self.cluster.endpoint(&self.node, handle);
        Poll::Ready(Ok((self.client)(endpoint)))
    }
}

fn codec_error(action: &'static str, e: impl ToString) -> ErrorKind {
    ErrorKind::Codec {
        action,
        reason: e.to_string().into(),
    }
}

fn target_of(addr: &NodeAddr) -> Target {
    match addr {
        NodeAddr::At(addr) => Target::At(addr.clone()),
        NodeAddr::Disabled => Target::Disabled,
    }
}

/// `"node@name"` -> (`node`, `@name`); `"node.name"` -> (`node`, `.name`).
fn split_target(target: &str) -> Option<(&str, &str)> {
    let at = target.find(['@', '.'])?;
    let (node, address) = target.split_at(at);
    (!node.is_empty() && address.len() > 1).then_some((node, address))
}

impl Inner {
    pub(crate) fn is_local(&self, node: &str) -> bool {
        self.name.get().is_some_and(|name| &**name == node)
    }

    /// The sender for `node`, waiting (until `deadline`) for a reload to
    /// supply a node missing from the config, unless `__nowaiting` is on.
    pub(crate) async fn sender(
        &self,
        node: &str,
        deadline: Deadline,
    ) -> Result<Arc<Sender>, ErrorKind> {
        let mut changes = self.config_version.subscribe();
        let mut logged = false;
        loop {
            match self.sender_now(node) {
                Err(ErrorKind::Absent) if !lock(&self.config).nowaiting() => {}
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
            let woke = tokio::time::timeout_at(deadline.at().into(), changed)
                .await
                .map_err(|_| ErrorKind::Timeout {
                    elapsed: deadline.started.elapsed(),
                    limit: deadline.limit,
                })?;
            if woke.is_err() {
                return Err(ErrorKind::Shutdown);
            }
        }
    }

    /// The sender for `node` if the config has it, without waiting.
    pub(crate) fn sender_now(&self, node: &str) -> Result<Arc<Sender>, ErrorKind> {
        if let Some(sender) = lock(&self.senders).get(node) {
            return Ok(Arc::clone(sender));
        }
        let config = lock(&self.config);
        let target = match config.get(node) {
            Some(addr) => target_of(addr),
            None => return Err(ErrorKind::Absent),
        };
        let mut senders = lock(&self.senders);
        let sender = senders.entry(node.into()).or_insert_with(|| {
            let local = self
                .name
                .get()
                .cloned()
                .unwrap_or_else(|| "skycluster".into());
            Sender::new(node.into(), local, target, Arc::clone(&self.options))
        });
        Ok(Arc::clone(sender))
    }

    /// Finds the local service an address names, or the error text to
    /// answer with.
    pub(crate) fn resolve(&self, address: &Address) -> Result<Arc<dyn Handler>, String> {
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
                        return Err(agent::unresolved(
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
            .ok_or_else(|| agent::unresolved(node, address, why))
    }
}

async fn accept_loop(
    inner: Arc<Inner>,
    listener: TcpListener,
    local: SocketAddr,
    slots: Arc<Semaphore>,
    requests: Arc<AtomicUsize>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = inner.shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait a moment
                // rather than spin.
                tracing::warn!(%local, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%local, %peer, max = inner.options.max_clients, "maxclient reached; closing connection");
            drop(stream);
            continue;
        };
        tracing::debug!(%local, %peer, "accepted");
        let agent_inner = Arc::clone(&inner);
        let shutdown = inner.shutdown.child_token();
        let requests = Arc::clone(&requests);
        // Every event of the agent carries this node's name and the peer.
        let span = tracing::debug_span!("agent", node = ?inner.name.get(), %peer);
        inner.tasks.spawn(
            async move {
                agent::serve(agent_inner, stream, peer, shutdown, requests).await;
                drop(slot);
            }
            .instrument(span),
        );
    }
    tracing::info!(%local, "listener closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reloading_a_cluster_built_without_a_file_says_so() {
        let cluster = Cluster::new(Config::new().with_node("game1", "127.0.0.1:7003"));
        cluster.set_name("game1").expect("game1 is in the config");
        let err = cluster.reload().unwrap_err();
        assert!(matches!(err, Error::NoConfigFile { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "cannot reload node `game1`: its config was not loaded from a file (use reload_with)"
        );
    }

    #[test]
    fn one_string_targets_split_like_skynet() {
        assert_eq!(split_target("battle1@mgr"), Some(("battle1", "@mgr")));
        assert_eq!(split_target("battle1.mgr"), Some(("battle1", ".mgr")));
        assert_eq!(split_target("battle1"), None);
        assert_eq!(split_target("@mgr"), None);
        assert_eq!(split_target("battle1@"), None);
    }
}
