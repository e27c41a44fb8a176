//! Endpoints: a remote (or local) address bound to a node, the way
//! Skynet's `cluster.proxy` binds one.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::task::Waker;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::clock::Deadline;
use super::cluster::Cluster;
use super::scratch;
use super::sender::{InFlight, Payload, Sender};
use crate::codec::CodecError;
use crate::service::Request;
use crate::wire::{draft, Address, Name, TraceTag};
use crate::{CallError, ErrorKind, Handle};

/// Something that names a service on a node: a handle, or a name spelled
/// the Skynet way (`"@registered"`, `".local"`, `":0000000a"`).
///
/// # Examples
///
/// ```
/// use skycluster::{Handle, IntoAddress};
/// use skycluster::wire::Address;
///
/// assert_eq!(Handle::from_raw(10).into_address(), Ok(Address::Handle(10)));
/// assert!("@battle".into_address().is_ok());
/// assert!("".into_address().is_err());
/// ```
pub trait IntoAddress {
    /// The address, or why it cannot be sent.
    ///
    /// # Errors
    ///
    /// A name of 0 or more than 255 bytes.
    fn into_address(self) -> Result<Address, String>;
}

impl IntoAddress for Address {
    fn into_address(self) -> Result<Address, String> {
        Ok(self)
    }
}

impl IntoAddress for Handle {
    fn into_address(self) -> Result<Address, String> {
        Ok(Address::Handle(self.get()))
    }
}

impl IntoAddress for u32 {
    fn into_address(self) -> Result<Address, String> {
        Ok(Address::Handle(self))
    }
}

impl IntoAddress for Name {
    fn into_address(self) -> Result<Address, String> {
        Ok(Address::Name(self))
    }
}

impl IntoAddress for &str {
    fn into_address(self) -> Result<Address, String> {
        self.parse().map_err(|e| format!("name `{self}`: {e}"))
    }
}

impl IntoAddress for String {
    fn into_address(self) -> Result<Address, String> {
        self.as_str().into_address()
    }
}

impl IntoAddress for &String {
    fn into_address(self) -> Result<Address, String> {
        self.as_str().into_address()
    }
}

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
    timeout: Option<Duration>,
    trace: Option<TraceTag>,
}

struct Target {
    cluster: Cluster,
    node: Arc<str>,
    address: Address,
    /// The header of every typed call's and push's frame to `address`,
    /// made by the first of them (a raw call has no use for it).
    header: OnceLock<draft::Header>,
    /// Why the address given could not be used; calls fail with it.
    invalid: Option<Arc<str>>,
    /// The node's sender, once resolved. Senders live as long as the
    /// cluster (a reload retargets them), so caching is safe.
    sender: OnceLock<Arc<Sender>>,
}

impl Target {
    fn header(&self) -> &draft::Header {
        self.header
            .get_or_init(|| draft::Header::new(&self.address))
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("node", &self.target.node)
            .field("address", &self.target.address)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    pub(crate) fn new(cluster: Cluster, node: &str, address: impl IntoAddress) -> Endpoint {
        let (address, invalid) = match address.into_address() {
            Ok(address) => (address, None),
            Err(why) => (
                Address::Name(Name::from_static("<invalid>")),
                Some(Arc::from(why)),
            ),
        };
        Endpoint {
            target: Arc::new(Target {
                cluster,
                node: node.into(),
                header: OnceLock::new(),
                address,
                invalid,
                sender: OnceLock::new(),
            }),
            timeout: None,
            trace: None,
        }
    }

    /// The node the calls go to.
    pub fn node(&self) -> &str {
        &self.target.node
    }

    /// The address on that node.
    pub fn address(&self) -> &Address {
        &self.target.address
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

    /// The timeout calls through this endpoint use.
    pub fn timeout(&self) -> Duration {
        self.timeout
            .unwrap_or(self.target.cluster.inner.options.call_timeout)
    }

    /// A [`CallError`] naming this endpoint's node and address.
    pub fn error(&self, kind: ErrorKind) -> CallError {
        CallError::new(
            Arc::clone(&self.target.node),
            self.target.address.clone(),
            kind,
        )
    }

    /// Starts a call whose payload `encode` writes, for typed clients;
    /// its answer will wake `waker`.
    ///
    /// On the usual path (a remote node whose sender is known) the payload
    /// is encoded into a per-thread scratch buffer and copied straight into
    /// the sender's output buffer: a small call allocates nothing for its
    /// payload, and a large one shares memory the next large one reuses.
    /// Otherwise (the node's first call, a local or an invalid target) the
    /// payload is handed back, owned, for [`Endpoint::call`].
    pub(crate) fn begin_encoded(
        &self,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), CodecError>,
        waker: &Waker,
    ) -> Begun<'_> {
        let target = &*self.target;
        let sender = match target.sender.get() {
            Some(sender)
                if target.invalid.is_none() && !target.cluster.inner.is_local(&target.node) =>
            {
                sender
            }
            _ => return encode_owned(encode),
        };
        scratch::with_scratch(|buf| {
            let head = target.header().start(buf);
            if let Err(e) = encode(buf) {
                return Begun::Encode(e);
            }
            match sender.begin(
                &target.address,
                Payload::from_draft(buf, head),
                Deadline::starting_now(self.timeout()),
                self.trace.as_ref(),
                Some(waker),
            ) {
                Ok(call) => Begun::InFlight(call),
                Err(kind) => Begun::Failed(kind),
            }
        })
    }

    /// Calls the service with `payload` and waits for its reply.
    ///
    /// # Errors
    ///
    /// A [`CallError`] naming the node and address: the node is disabled or
    /// absent, the connection failed or dropped, the reply did not come
    /// within the timeout, or the service answered with an error.
    pub async fn call(&self, payload: Bytes) -> Result<Bytes, CallError> {
        self.call_inner(payload)
            .await
            .map_err(|kind| self.error(kind))
    }

    async fn call_inner(&self, payload: Bytes) -> Result<Bytes, ErrorKind> {
        let target = &*self.target;
        if let Some(why) = &target.invalid {
            return Err(ErrorKind::InvalidAddress {
                reason: Arc::clone(why),
            });
        }
        let cluster = &target.cluster.inner;
        let timeout = self.timeout();
        if cluster.is_local(&target.node) {
            return self.call_local(payload, timeout).await;
        }
        // The call's clock starts now: finding the node's sender, the first
        // time, counts against its timeout.
        let deadline = Deadline::starting_now(timeout);
        let sender = match target.sender.get() {
            Some(sender) => sender,
            None => {
                let sender = cluster.sender(&target.node, deadline).await?;
                target.sender.get_or_init(|| sender)
            }
        };
        sender
            .call(&target.address, payload, deadline, self.trace.as_ref())
            .await
    }

    /// A call to this node's own service: no network, same semantics.
    async fn call_local(&self, payload: Bytes, timeout: Duration) -> Result<Bytes, ErrorKind> {
        let cluster = &self.target.cluster.inner;
        if self.target.address.is_query() {
            return super::agent::query_name(cluster, &payload)
                .map_err(|text| ErrorKind::Remote { text: text.into() });
        }
        let handler = cluster
            .resolve(&self.target.address)
            .map_err(|text| ErrorKind::Remote { text: text.into() })?;
        let trace = self
            .trace
            .as_ref()
            .map(|t| Bytes::copy_from_slice(t.as_bytes()));
        let started = Instant::now();
        match tokio::time::timeout(
            timeout,
            handler.handle(Request::with(payload, false, trace)),
        )
        .await
        {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => Err(super::sender::remote_error(Bytes::from(
                e.text().to_owned(),
            ))),
            Err(_) => Err(ErrorKind::Timeout {
                elapsed: started.elapsed(),
                limit: timeout,
            }),
        }
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
        self.send_inner(Payload::Owned(payload))
            .map_err(|kind| self.error(kind))
    }

    /// Pushes a payload `encode` writes, for typed clients: encoded into a
    /// per-thread scratch buffer and copied straight into the sender's
    /// output buffer, so a small push allocates nothing (a large one shares
    /// memory the next large one reuses).
    pub(crate) fn send_encoded(
        &self,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), CallError>,
    ) -> Result<(), CallError> {
        scratch::with_scratch(|buf| {
            let head = self.target.header().start(buf);
            encode(buf)?;
            self.send_inner(Payload::from_draft(buf, head))
                .map_err(|kind| self.error(kind))
        })
    }

    fn send_inner(&self, payload: Payload<'_>) -> Result<(), ErrorKind> {
        let target = &*self.target;
        if let Some(why) = &target.invalid {
            return Err(ErrorKind::InvalidAddress {
                reason: Arc::clone(why),
            });
        }
        let cluster = &target.cluster.inner;
        if cluster.is_local(&target.node) {
            let handler = cluster
                .resolve(&target.address)
                .map_err(|text| ErrorKind::Remote { text: text.into() })?;
            let node = Arc::clone(&target.node);
            let request = Request::with(payload.into_bytes(), true, None);
            // Handled on a task of its own, as a push to another node is:
            // a handler that answers at once runs inside `handle`, and
            // must not run inside this call, under the sender's locks.
            tokio::spawn(async move {
                if let Err(e) = handler.handle(request).await {
                    tracing::debug!(%node, error = %e, "local push failed");
                }
            });
            return Ok(());
        }
        let sender = match target.sender.get() {
            Some(sender) => sender,
            None => {
                let sender = cluster.sender_now(&target.node)?;
                target.sender.get_or_init(|| sender)
            }
        };
        sender.push(&target.address, payload)
    }
}

/// How [`Endpoint::begin_encoded`] started a call.
#[derive(Debug)]
pub(crate) enum Begun<'a> {
    /// Queued: await it for the reply.
    InFlight(InFlight<'a>),
    /// Not queued: the encoded payload, for [`Endpoint::call`].
    Owned(Bytes),
    /// The call failed before it was queued.
    Failed(ErrorKind),
    /// The payload could not be encoded.
    Encode(CodecError),
}

fn encode_owned<'a>(encode: impl FnOnce(&mut Vec<u8>) -> Result<(), CodecError>) -> Begun<'a> {
    let mut buf = Vec::new();
    match encode(&mut buf) {
        Ok(()) => Begun::Owned(Bytes::from(buf)),
        Err(e) => Begun::Encode(e),
    }
}
