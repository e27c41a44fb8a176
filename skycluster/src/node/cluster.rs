//! The cluster handle: config, senders, listeners and local services of
//! one node, behind one cheap-to-clone value.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::ToSocketAddrs;

use super::config::{Config, NodeAddr};
use super::endpoint::{Endpoint, IntoAddress};
use super::listener;
use super::registry::Handle;
use super::sender::{read_schema_answer, schema_query};
use super::service::{IntoService, Service};
use super::state::NodeState;
use super::status::Status;
use super::Options;

use crate::error::Called;
use crate::handler::{BoxFuture, Handler};
use crate::schema::Fingerprints;
use crate::wire::Address;
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
    state: Arc<NodeState>,
}

impl Cluster {
    /// A cluster with this membership and default [`Options`].
    pub fn new(config: Config) -> Cluster {
        Cluster::with_options(config, Options::default())
    }

    /// A cluster with this membership and these options.
    pub fn with_options(config: Config, options: Options) -> Cluster {
        Cluster {
            state: Arc::new(NodeState::new(config, options)),
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
        self.state.name().map(|n| &**n)
    }

    /// Names this node without listening: calls to `node` then run
    /// locally, and trace tags carry the name.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] if the node already has another name.
    pub fn set_name(&self, node: &str) -> Result<()> {
        if !self.state.set_name(node) {
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
        let addr = match self.state.config().get(node) {
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
        listener::listen(&self.state, addr).await
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
        Endpoint::new(&self.state, node, address)
    }

    /// An endpoint from Skynet's one-string form: `"node@name"` (a
    /// registered name) or `"node.name"` (a local name).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidAddress`] when the string has neither form.
    pub fn endpoint_at(&self, target: &str) -> Result<Endpoint, CallError> {
        let (node, address) = split_target(target).ok_or_else(|| {
            // No node could be split off: name the whole string as both.
            CallError::new(
                target.into(),
                Called::Written(target.into()),
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

    /// A typed client over every node that serves `S`: each call goes to
    /// one of them, picked per call. What Skynet leaves to a hand-written
    /// loop over `cluster.query`.
    ///
    /// * **Who serves `S`**: with a membership source
    ///   (`Cluster::join`, feature `etcd`), the nodes that
    ///   `register`ed it; otherwise every enabled node of the config that
    ///   answers a name query for `S::NAME` with a handle, this node
    ///   included. Calls go to `@S::NAME` there, so a Lua node that
    ///   `cluster.register`s the name serves it too. The pool looks on its
    ///   first call, again whenever the membership changes, and, without a
    ///   source, every 5 s in the background; it is never rebuilt by hand.
    /// * **Which node**: of two members picked at random, the one with
    ///   fewer of this pool's calls in flight (the power of two choices),
    ///   skipping a node that is disabled or backing off after a failed
    ///   connect.
    /// * **Another node**: a call that fails without having left (cannot
    ///   connect, node gone or disabled, queue full) goes to another
    ///   node, once, within the same timeout: nothing ran, so nothing runs
    ///   twice. A call whose connection dropped after it may have left
    ///   runs again elsewhere only if its method is `#[idempotent]`: any
    ///   other method may have done its work before the connection
    ///   dropped, and fails with [`ErrorKind::Disconnected`].
    /// * **Errors** name the node the call went to; a pool that found
    ///   nobody fails with [`ErrorKind::Unavailable`], saying where it
    ///   looked.
    ///
    /// A pool call encodes its arguments into memory of its own and runs
    /// as a boxed future (see `benches/README.md` for what that costs
    /// against a client kept for one node). Make the pool once and keep
    /// it: its clones share what it found and its counts.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// #[skycluster::service]
    /// pub trait BattleMgr {
    ///     #[idempotent]
    ///     async fn room_count(&self) -> u32;
    ///     async fn create_room(&self, mode: u8) -> u32;
    /// }
    ///
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), skycluster::CallError> {
    /// let cluster = skycluster::Cluster::load("clustername.lua").expect("config");
    /// let battles = cluster.pool::<dyn BattleMgr>();
    /// for mode in 0..10 {
    ///     // Spread over battle1, battle2, ...: whichever serve BattleMgr.
    ///     let room = battles.create_room(mode).await?;
    ///     println!("room {room}");
    /// }
    /// // Run again on another node if the connection drops mid-call.
    /// println!("{} rooms", battles.room_count().await?);
    /// # Ok(()) }
    /// ```
    pub fn pool<S: Service + ?Sized>(&self) -> S::Client {
        S::client(self.pool_endpoint(S::NAME))
    }

    /// A raw endpoint over every node that serves the registered name
    /// `name` (with or without `@`): [`Cluster::pool`] for raw payloads
    /// and Lua services. Its [`node`](Endpoint::node) is `*`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use bytes::Bytes;
    ///
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), skycluster::CallError> {
    /// let cluster = skycluster::Cluster::load("clustername.lua").expect("config");
    /// let echoes = cluster.pool_endpoint("echo");
    /// let reply = echoes.call(Bytes::from_static(b"\x24ping")).await?;
    /// println!("{} bytes back from one of {:?}", reply.len(), echoes.pool_nodes());
    /// # Ok(()) }
    /// ```
    pub fn pool_endpoint(&self, name: &str) -> Endpoint {
        Endpoint::pool(&self.state, name)
    }

    /// Asks `node` for the handle registered as `name`
    /// (`cluster.query(node, name)`), without the `@`.
    ///
    /// # Errors
    ///
    /// A [`CallError`]; the remote text is `name not found` for an unknown
    /// name.
    pub async fn query_name(&self, node: &str, name: &str) -> Result<Handle, CallError> {
        self.endpoint(node, Address::QUERY).query_handle(name).await
    }

    /// Asks `node` for the fingerprints of the typed service at `address`
    /// ([`Service::fingerprints`]), as a schema check does: `None` if
    /// there is none there (a raw service, no service, or a Lua node,
    /// which answers "name not found"). `skycluster schema` prints them.
    ///
    /// # Errors
    ///
    /// A [`CallError`] if the node cannot be asked, or answers with
    /// something that is not fingerprints.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), skycluster::CallError> {
    /// # let cluster = skycluster::Cluster::new(skycluster::Config::new());
    /// if let Some(remote) = cluster.remote_fingerprints("battle1", "@BattleMgr").await? {
    ///     for (method, fingerprint) in remote.methods() {
    ///         println!("{method} {fingerprint}");
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn remote_fingerprints(
        &self,
        node: &str,
        address: impl IntoAddress,
    ) -> Result<Option<Fingerprints>, CallError> {
        let asked = self.endpoint(node, address);
        let address = asked.address().cloned().ok_or_else(|| {
            asked.error(ErrorKind::InvalidAddress {
                reason: "the address cannot be sent".into(),
            })
        })?;
        let endpoint = self.endpoint(node, Address::QUERY);
        let payload = schema_query(&address).map_err(|kind| endpoint.error(kind))?;
        match endpoint.call(payload).await {
            Ok(reply) => read_schema_answer(&reply)
                .map(Some)
                .map_err(|why| asked.error(codec_error("decode", why))),
            Err(e) if matches!(e.kind(), ErrorKind::Remote { .. }) => Ok(None),
            Err(e) => Err(asked.error(e.kind().clone())),
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
        self.state.registry.spawn(handler)
    }

    /// Stops a local service: its handle and names stop resolving.
    pub fn kill(&self, handle: Handle) -> bool {
        let killed = self.state.registry.kill(handle);
        self.state.names_changed();
        killed
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
        self.state.registry.name(name, handle)
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
        self.state.registry.register(name, handle)?;
        self.state.names_changed();
        Ok(())
    }

    /// Removes a registered name; returns the handle it named.
    pub fn unregister(&self, name: &str) -> Option<Handle> {
        let removed = self.state.registry.unregister(name);
        self.state.names_changed();
        removed
    }

    /// Re-reads the clustername file this cluster was loaded from
    /// (`cluster.reload()`). Returns once the change is in effect.
    ///
    /// # Errors
    ///
    /// As [`Config::load`]; [`Error::NoConfigFile`] if the config came
    /// from no file. Nothing changes on error.
    pub fn reload(&self) -> Result<()> {
        let path = self.state.config().path().map(Path::to_owned);
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
        self.state.reload(update);
    }

    /// The state this handle shares, for the membership sources.
    pub(super) fn state(&self) -> &Arc<NodeState> {
        &self.state
    }

    /// A snapshot of every node's connection and every listener.
    pub fn status(&self) -> Status {
        Status::of(&self.state)
    }

    /// Stops accepting connections, lets requests in flight finish within
    /// `grace`, then closes every sender (their waiting calls fail with
    /// [`ErrorKind::Shutdown`]).
    pub async fn shutdown(&self, grace: Duration) {
        let state = &self.state;
        state.shutdown.cancel();
        state.tasks.close();
        if tokio::time::timeout(grace, state.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(node = ?self.node_name(), ?grace, "requests still running after the grace period");
        }
        for sender in state.senders().values() {
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

/// `"node@name"` -> (`node`, `@name`); `"node.name"` -> (`node`, `.name`).
fn split_target(target: &str) -> Option<(&str, &str)> {
    let at = target.find(['@', '.'])?;
    let (node, address) = target.split_at(at);
    (!node.is_empty() && address.len() > 1).then_some((node, address))
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
