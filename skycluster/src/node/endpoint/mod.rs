//! Endpoints: a service on a node, ready to call, the way Skynet's
//! `cluster.proxy` binds one.
//!
//! * here: [`Endpoint`], what a call needs (node, address, sender,
//!   timeout), how it starts, and pushes;
//! * `call`: the one future every call is, typed or raw;
//! * `address`: [`IntoAddress`], what an endpoint can be made for;
//! * `pool`: an endpoint over every node that serves a service, picking
//!   one per call;
//! * `recent`: the targets this thread made endpoints for last.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Waker;
use std::time::Duration;

use bytes::Bytes;

use super::clock::Deadline;
use super::registry::Handle;
use super::sender::{Payload, SchemaCheck, Sender};
use super::state::NodeState;
use crate::codec::luaseri::{self, Value};
use crate::codec::CodecError;
use crate::error::Called;
use crate::handler::{classify, Request};
use crate::schema::Fingerprints;
use crate::scratch;
use crate::wire::{draft, Address, TraceTag};
use crate::{CallError, ErrorKind};

mod address;
mod call;
mod pool;
mod recent;

pub use address::{AddressError, IntoAddress};
pub use call::Call;
pub(crate) use call::{Begun, Body, Encode};
use pool::Pool;
pub use pool::Retry;

/// A service on a node, ready to call: Skynet's `cluster.proxy`.
///
/// Cheap to clone; calls through clones share the node's one connection.
/// `#[service]` clients wrap one. Per-call options are set by consuming
/// builders, so a client can keep a default and derive variants.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use bytes::Bytes;
/// use skycluster::{Cluster, Config};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), skycluster::CallError> {
/// let cluster = Cluster::new(Config::new().with_node("db", "127.0.0.1:7003"));
/// let db = cluster.endpoint("db", ".store").with_timeout(Duration::from_secs(2));
/// let reply: Bytes = db.call(Bytes::from_static(b"\x24load")).await?;
/// println!("{} bytes back", reply.len());
/// db.send(Bytes::from_static(b"\x24flush"))?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Endpoint {
    target: Arc<Target>,
    /// A pool's endpoint: each call picks a node of the pool (`target`,
    /// node `*`, only names the pool's calls that reach no node).
    pool: Option<Arc<Pool>>,
    timeout: Option<Duration>,
    trace: Option<TraceTag>,
}

/// Where an endpoint's calls go, and what the first of them looked up:
/// shared by its clones, and by endpoints made for it again on this
/// thread (see `recent`).
pub(crate) struct Target {
    state: Arc<NodeState>,
    node: Arc<str>,
    /// The address, or what the caller wrote if it cannot be sent (calls
    /// then fail with it).
    address: Result<Address, AddressError>,
    /// The header of every typed call's and push's frame to `address`,
    /// made by the first of them (a raw call has no use for it).
    header: OnceLock<draft::Header>,
    /// The node's sender, once resolved. Senders live as long as the
    /// node's state (a reload retargets them), so caching is safe.
    sender: OnceLock<Arc<Sender>>,
    /// The connection on which the schema check found the service here
    /// agreeing with the caller's build in every method, and which
    /// service: `generation << 32 | Fingerprints::id`, 0 for none. One
    /// load and compare per typed call.
    agreed: AtomicU64,
}

/// The node a pool's endpoint names: its calls each go to a node of the
/// pool.
const POOL_NODE: &str = "*";

/// A typed call's or push's schema: the service's fingerprints and the
/// method called.
pub(crate) type Checked = Option<(&'static Fingerprints, &'static str)>;

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("node", &self.target.node)
            .field("address", &self.called())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    pub(crate) fn new(state: &Arc<NodeState>, node: &str, address: impl IntoAddress) -> Endpoint {
        let target = recent::find(state.id, node, &address).unwrap_or_else(|| {
            let address = address.into_address();
            let valid = address.is_ok();
            let target = Arc::new(Target {
                state: Arc::clone(state),
                node: node.into(),
                address,
                header: OnceLock::new(),
                sender: OnceLock::new(),
                agreed: AtomicU64::new(0),
            });
            if valid {
                recent::remember(&target);
            }
            target
        });
        Endpoint {
            target,
            pool: None,
            timeout: None,
            trace: None,
        }
    }

    /// An endpoint over every node that serves the registered name
    /// `service`: see [`Cluster::pool`](crate::Cluster::pool).
    pub(crate) fn pool(state: &Arc<NodeState>, service: &str) -> Endpoint {
        let service = service.strip_prefix('@').unwrap_or(service);
        let address = format!("@{service}").into_address();
        let pool = address
            .as_ref()
            .ok()
            .map(|address| Arc::new(Pool::new(state, service, address.clone())));
        let target = Arc::new(Target {
            state: Arc::clone(state),
            node: POOL_NODE.into(),
            address,
            header: OnceLock::new(),
            sender: OnceLock::new(),
            agreed: AtomicU64::new(0),
        });
        Endpoint {
            target,
            pool,
            timeout: None,
            trace: None,
        }
    }

    /// The nodes a pool's endpoint found serving its service when it last
    /// looked (it looks on its first call, and again when the membership
    /// changes); `None` for an endpoint bound to one node.
    ///
    /// # Examples
    ///
    /// ```
    /// let cluster = skycluster::Cluster::new(skycluster::Config::new());
    /// assert_eq!(cluster.endpoint("db", ".store").pool_nodes(), None);
    /// // Not looked yet: nobody.
    /// assert_eq!(cluster.pool_endpoint("Store").pool_nodes(), Some(vec![]));
    /// ```
    pub fn pool_nodes(&self) -> Option<Vec<String>> {
        self.pool.as_ref().map(|pool| pool.nodes())
    }

    /// `member` (a node of this pool), with this endpoint's trace tag.
    pub(super) fn on(&self, member: &Endpoint) -> Endpoint {
        Endpoint {
            target: Arc::clone(&member.target),
            pool: None,
            timeout: member.timeout,
            trace: self.trace.clone(),
        }
    }

    /// Whether a call through this endpoint could go out now: its node is
    /// this one, or in the config with a sender that is not backing off.
    pub(super) fn available(&self) -> bool {
        let target = &*self.target;
        if target.state.is_local(&target.node) {
            return true;
        }
        let sender = match target.sender.get() {
            Some(sender) => sender,
            None => match target.state.sender_now(&target.node) {
                Ok(sender) => target.sender.get_or_init(|| sender),
                Err(_) => return false,
            },
        };
        sender.available()
    }

    /// The node the calls go to; `*` for a pool's endpoint, whose calls
    /// each go to a node of the pool (and whose errors name that node).
    ///
    /// # Examples
    ///
    /// ```
    /// let cluster = skycluster::Cluster::new(skycluster::Config::new());
    /// assert_eq!(cluster.endpoint("db", ".store").node(), "db");
    /// ```
    pub fn node(&self) -> &str {
        &self.target.node
    }

    /// The address on that node; `None` if the address given cannot be
    /// sent (every call then fails with [`ErrorKind::InvalidAddress`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let cluster = skycluster::Cluster::new(skycluster::Config::new());
    /// let store = cluster.endpoint("db", ".store");
    /// assert_eq!(store.address().map(|a| a.to_string()).as_deref(), Some(".store"));
    /// assert_eq!(cluster.endpoint("db", "").address(), None);
    /// ```
    pub fn address(&self) -> Option<&Address> {
        self.target.address.as_ref().ok()
    }

    /// The same endpoint with a different call timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Endpoint {
        self.timeout = Some(timeout);
        self
    }

    /// The same endpoint, sending `tag` as the trace tag of each call.
    pub fn with_trace(mut self, tag: TraceTag) -> Endpoint {
        self.trace = Some(tag);
        self
    }

    /// The trace tag calls through this endpoint carry: its own, or the
    /// one of the request whose handler makes the call.
    #[inline]
    fn trace(&self) -> Option<TraceTag> {
        match &self.trace {
            Some(tag) => Some(tag.clone()),
            None => super::traced::trace_tag(),
        }
    }

    /// Asks this endpoint's node (the endpoint is its address 0, the name
    /// queries) for the handle registered as `name`: `cluster.query`.
    pub(crate) async fn query_handle(&self, name: &str) -> Result<Handle, CallError> {
        let name = name.strip_prefix('@').unwrap_or(name);
        let codec_error = |action, reason: String| {
            self.error(ErrorKind::Codec {
                action,
                reason: reason.into(),
            })
        };
        let payload = luaseri::pack(&[Value::String(name.as_bytes().to_vec())])
            .map_err(|e| codec_error("encode", e.to_string()))?;
        let reply = self.call(Bytes::from(payload)).await?;
        match luaseri::unpack(&reply).as_deref() {
            Ok([Value::Integer(h)]) => u32::try_from(*h)
                .map(Handle::from_raw)
                .map_err(|_| codec_error("decode", format!("handle {h} out of range"))),
            Ok(other) => Err(codec_error(
                "decode",
                format!("expected one integer handle, got {other:?}"),
            )),
            Err(e) => Err(codec_error("decode", e.to_string())),
        }
    }

    /// The timeout calls through this endpoint use.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let cluster = skycluster::Cluster::new(skycluster::Config::new());
    /// let store = cluster.endpoint("db", ".store");
    /// assert_eq!(store.timeout(), skycluster::Options::default().call_timeout);
    /// let quick = store.with_timeout(Duration::from_millis(50));
    /// assert_eq!(quick.timeout(), Duration::from_millis(50));
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
            .unwrap_or(self.target.state.options.call_timeout)
    }

    /// The address as calls' errors name it: what the caller wrote.
    fn called(&self) -> Called {
        match &self.target.address {
            Ok(address) => Called::Address(address.clone()),
            Err(e) => Called::Written(e.written().into()),
        }
    }

    /// A [`CallError`] naming this endpoint's node and address.
    pub(crate) fn error(&self, kind: ErrorKind) -> CallError {
        CallError::new(Arc::clone(&self.target.node), self.called(), kind)
    }

    /// The address, or the error every call to an invalid one fails with.
    fn valid_address(&self) -> Result<&Address, ErrorKind> {
        self.target
            .address
            .as_ref()
            .map_err(|e| ErrorKind::InvalidAddress {
                reason: e.to_string().into(),
            })
    }

    /// Starts a call whose payload is `body`; its answer will wake `waker`.
    ///
    /// On the usual path (a remote node, known to the config) the payload
    /// is drafted in a per-thread scratch buffer and copied straight into
    /// the sender's output buffer: a small typed call allocates nothing
    /// for its payload, and a large one shares memory the next large one
    /// reuses. The node's sender is looked up once per target, without
    /// waiting; only a node missing from the config (and `__nowaiting`
    /// off) makes the call wait, as a boxed future.
    ///
    /// A typed call names its service's fingerprints and method
    /// (`checked`): before the first such call to the address on a
    /// connection, the call waits for the schema check (see
    /// [`Options::schema_check`](crate::Options::schema_check)), boxed
    /// too; after it, one atomic load says the service agrees.
    ///
    /// A pool's endpoint picks a node per call, and may run an idempotent
    /// one again elsewhere (`retry`): its call is boxed, its payload in
    /// memory of its own.
    pub(crate) fn begin(
        &self,
        body: impl Body,
        checked: Checked,
        retry: Retry,
        waker: &Waker,
    ) -> Begun<'_> {
        let target = &*self.target;
        let address = match self.valid_address() {
            Ok(address) => address,
            Err(kind) => return Begun::Failed(kind),
        };
        if let Some(pool) = &self.pool {
            return match body.into_bytes() {
                Ok(payload) => Begun::Elsewhere(pool::call(self, pool, payload, checked, retry)),
                Err(e) => Begun::Failed(encode_error(e)),
            };
        }
        let state = &*target.state;
        if state.is_local(&target.node) {
            return match body.into_bytes() {
                Ok(payload) => Begun::Later(Box::pin(self.call_local(address, payload))),
                Err(e) => Begun::Failed(encode_error(e)),
            };
        }
        // The call's clock starts now: waiting for the node counts
        // against its timeout.
        let deadline = Deadline::starting_now(super::deadline::inherit(self.timeout()));
        let found = match target.sender.get() {
            // A kept sender of a node that left the membership: as if
            // absent (one atomic load).
            Some(sender) if sender.removed() => Err(ErrorKind::Absent),
            Some(sender) => Ok(sender),
            None => state
                .sender_now(&target.node)
                .map(|sender| target.sender.get_or_init(|| sender)),
        };
        let sender = match found {
            Ok(sender) => sender,
            Err(ErrorKind::Absent) if state.waits_for_absent() => {
                return match body.into_bytes() {
                    Ok(payload) => {
                        Begun::Later(Box::pin(self.call_when_present(address, payload, deadline)))
                    }
                    Err(e) => Begun::Failed(encode_error(e)),
                }
            }
            Err(kind) => return Begun::Failed(kind),
        };
        if let Some((mine, method)) = checked.filter(|_| state.options.schema_check) {
            if !target.agrees(sender, mine) {
                match sender.known_schema(address) {
                    Some(check) => {
                        if let Err(kind) = target.judge(&check, mine, method) {
                            return Begun::Failed(kind);
                        }
                    }
                    None => {
                        return match body.into_bytes() {
                            Ok(payload) => Begun::Later(Box::pin(self.call_after_check(
                                sender, address, payload, deadline, mine, method,
                            ))),
                            Err(e) => Begun::Failed(encode_error(e)),
                        }
                    }
                }
            }
        }
        scratch::with_scratch(|buf| {
            let payload = match body.draft(target.header(address), buf) {
                Ok(payload) => payload,
                Err(e) => return Begun::Failed(encode_error(e)),
            };
            let trace = self.trace();
            match sender.begin(address, payload, deadline, trace.as_ref(), Some(waker)) {
                Ok(call) => Begun::InFlight(call),
                Err(kind) => Begun::Failed(kind),
            }
        })
    }

    /// A call to a node missing from the config: waits for a reload to
    /// bring it, until the call's deadline, then queues the call.
    async fn call_when_present(
        &self,
        address: &Address,
        payload: Bytes,
        deadline: Deadline,
    ) -> Result<Bytes, ErrorKind> {
        let target = &*self.target;
        let sender = target.state.wait_for_sender(&target.node, deadline).await?;
        let sender = target.sender.get_or_init(|| sender);
        let trace = self.trace();
        let trace = trace.as_ref();
        sender
            .begin(address, Payload::Owned(payload), deadline, trace, None)?
            .await
    }

    /// A typed call on a connection that has not checked the service at
    /// its address yet: asks (or waits for the caller that asked), then
    /// queues the call if its method agrees. The check counts against the
    /// call's timeout.
    async fn call_after_check(
        &self,
        sender: &Arc<Sender>,
        address: &Address,
        payload: Bytes,
        deadline: Deadline,
        mine: &'static Fingerprints,
        method: &'static str,
    ) -> Result<Bytes, ErrorKind> {
        let check = sender.remote_schema(address, deadline).await?;
        self.target.judge(&check, mine, method)?;
        let trace = self.trace();
        let trace = trace.as_ref();
        sender
            .begin(address, Payload::Owned(payload), deadline, trace, None)?
            .await
    }

    /// A call to this node's own service: no network, same semantics.
    async fn call_local(&self, address: &Address, payload: Bytes) -> Result<Bytes, ErrorKind> {
        let state = &*self.target.state;
        let remote = |text: String| ErrorKind::Remote { text: text.into() };
        if address.is_query() {
            return state.answer_query(&payload).map_err(remote);
        }
        let handler = state.resolve(address).map_err(remote)?;
        let trace = self
            .trace
            .as_ref()
            .map(|t| Bytes::copy_from_slice(t.as_bytes()));
        let deadline = Deadline::starting_now(super::deadline::inherit(self.timeout()));
        // The handler runs on the caller's task: its panic, caught, fails
        // this call as the node's agent would answer it, not the caller.
        let handled =
            crate::handler::handle_caught(&*handler, Request::with(payload, false, trace));
        match tokio::time::timeout_at(deadline.at(), handled).await {
            Ok(Ok(Ok(reply))) => Ok(reply),
            Ok(Ok(Err(e))) => Err(classify(Bytes::from(e.text().to_owned()))),
            Ok(Err(panic)) => {
                let text = crate::handler::service_panicked(address, &self.target.node, &*panic);
                tracing::error!(error = %text, "a handler panicked in a local call");
                Err(remote(text))
            }
            Err(_) => Err(deadline.expired()),
        }
    }

    /// Calls the service with `payload` and waits for its reply.
    ///
    /// The same future a typed client's call is, with the payload as it
    /// is for arguments and the reply as it is for the result.
    ///
    /// # Errors
    ///
    /// A [`CallError`] naming the node and address: the node is disabled or
    /// absent, the connection failed or dropped, the reply did not come
    /// within the timeout, or the service answered with an error.
    pub fn call(
        &self,
        payload: Bytes,
    ) -> impl Future<Output = Result<Bytes, CallError>> + Send + '_ {
        Call::new(self, "", payload, call::start_raw, call::finish_raw)
    }

    /// Sends `payload` without waiting for a reply (`cluster.send`).
    ///
    /// Pushes to one node leave in the order they were sent. Delivery is at
    /// most once: pushes queued when a connection drops are lost.
    ///
    /// # Errors
    ///
    /// Only failures known at once: the node is disabled, absent, or its
    /// sender is backing off after a failed connect. A node missing from
    /// the config with `__nowaiting` off is an error here too (a push does
    /// not wait).
    pub fn send(&self, payload: Bytes) -> Result<(), CallError> {
        self.push(payload, None).map_err(|kind| self.error(kind))
    }

    /// Pushes a payload `body` writes: for typed clients, encoded into a
    /// per-thread scratch buffer and copied straight into the sender's
    /// output buffer, so a small push allocates nothing (a large one shares
    /// memory the next large one reuses).
    ///
    /// A typed push (`checked`) is judged by what its connection already
    /// knows of the service: it fails if its method differs there, and is
    /// sent unchecked if nothing is known yet (a push does not wait).
    pub(crate) fn push(&self, body: impl Body, checked: Checked) -> Result<(), ErrorKind> {
        if let Some(pool) = &self.pool {
            return pool::push_target(pool)?.push(body, checked);
        }
        let target = &*self.target;
        let address = self.valid_address()?;
        let state = &*target.state;
        if state.is_local(&target.node) {
            let payload = body.into_bytes().map_err(encode_error)?;
            return self.push_local(address, payload);
        }
        let sender = match target.sender.get() {
            Some(sender) if sender.removed() => return Err(ErrorKind::Absent),
            Some(sender) => sender,
            None => {
                let sender = state.sender_now(&target.node)?;
                target.sender.get_or_init(|| sender)
            }
        };
        if let Some((mine, method)) = checked.filter(|_| state.options.schema_check) {
            if !target.agrees(sender, mine) {
                if let Some(check) = sender.known_schema(address) {
                    target.judge(&check, mine, method)?;
                }
            }
        }
        scratch::with_scratch(|buf| {
            let payload = body
                .draft(target.header(address), buf)
                .map_err(encode_error)?;
            sender.push(address, payload)
        })
    }

    fn push_local(&self, address: &Address, payload: Bytes) -> Result<(), ErrorKind> {
        let target = &*self.target;
        let handler = target
            .state
            .resolve(address)
            .map_err(|text| ErrorKind::Remote { text: text.into() })?;
        let node = Arc::clone(&target.node);
        let address = address.clone();
        let request = Request::with(payload, true, None);
        // Handled on a task of its own, as a push to another node is:
        // a handler that answers at once runs inside `handle`, and
        // must not run inside this call, under the sender's locks.
        tokio::spawn(async move {
            match crate::handler::handle_caught(&*handler, request).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::debug!(%node, error = %e, "local push failed"),
                Err(panic) => {
                    let text = crate::handler::service_panicked(&address, &node, &*panic);
                    tracing::error!(error = %text, "a handler panicked in a local push");
                }
            }
        });
        Ok(())
    }
}

impl Target {
    fn header(&self, address: &Address) -> &draft::Header {
        self.header.get_or_init(|| draft::Header::new(address))
    }

    /// Whether the check on `sender`'s current connection found the
    /// service `mine` agreeing here in every method.
    #[inline]
    fn agrees(&self, sender: &Sender, mine: &Fingerprints) -> bool {
        self.agreed.load(Ordering::Acquire) == agreement(sender.generation(), mine)
    }

    /// Judges a call of `method` by `check`: fails it if the remote build
    /// of the service differs in that method, and remembers a service
    /// that agrees in all of them (or that has nothing to check).
    fn judge(
        &self,
        check: &SchemaCheck,
        mine: &Fingerprints,
        method: &str,
    ) -> Result<(), ErrorKind> {
        let differences = check
            .remote()
            .map(|remote| mine.differences(remote))
            .unwrap_or_default();
        if differences.is_empty() {
            self.agreed
                .store(agreement(check.generation(), mine), Ordering::Release);
            return Ok(());
        }
        if !differences.iter().any(|d| d.method() == method) {
            return Ok(());
        }
        let differences = differences
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        Err(ErrorKind::SchemaMismatch {
            service: mine.service().into(),
            differences: differences.into(),
        })
    }
}

/// What `Target::agreed` holds for `mine` on connection `generation` (its
/// low 32 bits: 2^32 reconnects apart, two connections would look alike).
fn agreement(generation: u64, mine: &Fingerprints) -> u64 {
    (generation << 32) | u64::from(mine.id())
}

/// A payload that could not be encoded, as its caller sees it.
fn encode_error(e: CodecError) -> ErrorKind {
    ErrorKind::Codec {
        action: "encode",
        reason: e.to_string().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Handle, Options};

    fn state() -> Arc<NodeState> {
        Arc::new(NodeState::new(Config::new(), Options::default()))
    }

    fn same(a: &Endpoint, b: &Endpoint) -> bool {
        Arc::ptr_eq(&a.target, &b.target)
    }

    #[test]
    fn an_endpoint_made_again_on_this_thread_shares_its_target() {
        let (a, b) = (state(), state());
        let store = Endpoint::new(&a, "db", ".store");
        assert!(same(&store, &Endpoint::new(&a, "db", ".store")));
        assert!(same(
            &store,
            &Endpoint::new(&a, "db", String::from(".store"))
        ));
        // Another node's state, node, address or spelling: another target.
        assert!(!same(&store, &Endpoint::new(&b, "db", ".store")));
        assert!(!same(&store, &Endpoint::new(&a, "db2", ".store")));
        assert!(!same(&store, &Endpoint::new(&a, "db", ".other")));
        let handle = Endpoint::new(&a, "db", Handle::from_raw(10));
        assert!(same(&handle, &Endpoint::new(&a, "db", 10u32)));
        assert!(!same(&handle, &Endpoint::new(&a, "db", ":0000000a")));
        // An unsendable address is never shared.
        assert!(!same(
            &Endpoint::new(&a, "db", ""),
            &Endpoint::new(&a, "db", "")
        ));
        // Another thread makes its own.
        let elsewhere = std::thread::spawn({
            let a = Arc::clone(&a);
            move || Endpoint::new(&a, "db", ".store")
        })
        .join()
        .expect("thread");
        assert!(!same(&store, &elsewhere));
    }
}
