//! What can go wrong, each error naming the node, address or limit involved.
//!
//! Each cause is told once in a chain of errors (the Rust API guidelines'
//! rule): an error either says its cause in its message, or returns it from
//! [`source`](std::error::Error::source), never both, so a printer that
//! walks the chain (`anyhow`'s `{:#}`, `eyre`, `#[cluster_main]`, the
//! `skycluster` command) shows each cause once.
//!
//! * [`Error`]'s variants that wrap an I/O error ([`Error::ConfigRead`],
//!   [`Error::Listen`]) say what failed and return the I/O error as their
//!   source: print the chain, not only the top message.
//! * A [`CallError`]'s message is whole: it ends with its [`ErrorKind`]'s
//!   text, which for [`ErrorKind::Connect`] includes the connect error, and
//!   it has no source. Call errors are logged and shown one line at a time
//!   (trace fields, `status` rows), so that line says why; the I/O error
//!   itself is in [`ErrorKind::Connect`]'s `reason`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::wire::Address;

/// A call or push that did not get a reply.
///
/// Every `CallError` names the node and the address it was for, and the
/// method when the call came through a typed client; [`CallError::kind`]
/// says what happened. Where Skynet answers only `call failed`, this says
/// why.
///
/// # Examples
///
/// ```
/// use skycluster::{CallError, ErrorKind};
///
/// pub fn describe(e: &CallError) -> &'static str {
///     match e.kind() {
///         ErrorKind::Timeout { .. } => "slow",
///         ErrorKind::Remote { .. } => "the service said no",
///         _ => "unreachable",
///     }
/// }
/// # let _ = describe;
/// ```
#[derive(Clone, Debug)]
pub struct CallError(Box<Details>);

/// Boxed, so that `Result<T, CallError>` is hardly larger than `T`: every
/// call's result moves through several layers, and an error is rare.
#[derive(Clone, Debug)]
struct Details {
    node: Arc<str>,
    address: Called,
    method: Option<&'static str>,
    kind: ErrorKind,
}

/// The address a call was for: one that could be sent, or the text the
/// caller wrote when it could not (an empty name, one over 255 bytes).
#[derive(Clone, Debug)]
pub(crate) enum Called {
    Address(Address),
    Written(Arc<str>),
}

impl fmt::Display for Called {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Called::Address(address) => address.fmt(f),
            Called::Written(text) => f.write_str(text),
        }
    }
}

/// What happened to a call, without the node and address.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No reply came within the call's timeout. A reply arriving later is
    /// dropped.
    #[error("timed out after {elapsed:?} (timeout {limit:?})")]
    Timeout {
        /// How long the call waited.
        elapsed: Duration,
        /// The timeout it was given (per call, or `Options::call_timeout`).
        limit: Duration,
    },
    /// The node's address is `false` in the config.
    #[error("node is disabled in the cluster config")]
    Disabled,
    /// The node is not in the config, and `__nowaiting` is on.
    #[error("node is absent from the cluster config")]
    Absent,
    /// Connecting to the node failed. While the sender backs off, calls fail
    /// at once with the last connect error.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// The address tried.
        addr: String,
        /// The connect error.
        reason: Arc<std::io::Error>,
    },
    /// The connection dropped (or moved to a new address) while the call
    /// was waiting for its reply. The call may or may not have run.
    #[error("connection lost: {reason}")]
    Disconnected {
        /// Why the connection ended.
        reason: Arc<str>,
    },
    /// The remote node answered with an error. The text is the node's own.
    #[error("remote error: {text}")]
    Remote {
        /// The error text from the reply frame.
        text: Arc<str>,
    },
    /// The remote node's build of the service differs from this one's for
    /// the method called: the schema check (once per connection, see
    /// [`Options::schema_check`](crate::Options::schema_check)) found its
    /// arguments, return type or codec changed there, or the method gone.
    /// Nothing was sent. Calls of the methods both builds agree on go
    /// through.
    #[error(
        "the remote node's `{service}` was built from another version of its trait: \
         its methods {differences} differ from this build's (calls of the other methods go through; \
         rebuild one side, or turn the check off with Options::with_schema_check(false))"
    )]
    SchemaMismatch {
        /// The service, by its registered name.
        service: Arc<str>,
        /// Every method of this build that differs there, each with how:
        /// "`open` (changed), `close` (missing)".
        differences: Arc<str>,
    },
    /// The remote service does not have this method: client and server
    /// disagree about the service.
    #[error("the remote service has no method `{method}`")]
    UnknownMethod {
        /// The method asked for.
        method: Arc<str>,
    },
    /// The request or reply payload could not be encoded or decoded.
    #[error("cannot {action} payload: {reason}")]
    Codec {
        /// `encode` or `decode`.
        action: &'static str,
        /// What went wrong.
        reason: Arc<str>,
    },
    /// The payload is over a configured limit.
    #[error("payload of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The payload's size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The connection to the node has more unsent bytes queued than
    /// [`Options::max_queued_bytes`](crate::Options::max_queued_bytes): the
    /// peer is not reading. Calls fail at once instead of queueing more.
    #[error("{queued} bytes already queued for the node, limit {limit}")]
    Overloaded {
        /// Bytes waiting to be written.
        queued: usize,
        /// The limit.
        limit: usize,
    },
    /// The address cannot be written on the wire, or a one-string target
    /// (`"node@name"`) could not be split.
    #[error("invalid address: {reason}")]
    InvalidAddress {
        /// What is wrong with it.
        reason: Arc<str>,
    },
    /// The cluster is shutting down.
    #[error("the cluster is shutting down")]
    Shutdown,
    /// A pool ([`Cluster::pool`](crate::Cluster::pool)) found no node
    /// serving its service.
    #[error("no node serves `{service}`: {reason}")]
    Unavailable {
        /// The registered name the pool looks for.
        service: Arc<str>,
        /// Where it looked, and what it found there.
        reason: Arc<str>,
    },
}

impl CallError {
    /// An error for a call to `address` on `node`.
    pub(crate) fn new(node: Arc<str>, address: Called, kind: ErrorKind) -> CallError {
        CallError(Box::new(Details {
            node,
            address,
            method: None,
            kind,
        }))
    }

    /// Adds the typed method the call was for.
    pub(crate) fn with_method(mut self, method: &'static str) -> CallError {
        self.0.method = Some(method);
        self
    }

    /// The node the call was for.
    pub fn node(&self) -> &str {
        &self.0.node
    }

    /// The address on that node; `None` when the address given could not
    /// be sent (the error is then [`ErrorKind::InvalidAddress`], and the
    /// message shows what was written).
    pub fn address(&self) -> Option<&Address> {
        match &self.0.address {
            Called::Address(address) => Some(address),
            Called::Written(_) => None,
        }
    }

    /// The typed method, when the call came from a generated client.
    pub fn method(&self) -> Option<&'static str> {
        self.0.method
    }

    /// What happened.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// Whether the call timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Timeout { .. })
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Details {
            node,
            address,
            method,
            kind,
        } = &*self.0;
        write!(f, "call to node `{node}` address `{address}`")?;
        if let Some(method) = method {
            write!(f, " method `{method}`")?;
        }
        write!(f, " failed: {kind}")
    }
}

/// No source: the message already ends with the kind's text, the connect
/// error included (see the module docs).
impl std::error::Error for CallError {}

/// Errors of the cluster as a whole: config files, listeners, names.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// [`Cluster::reload`](crate::Cluster::reload) on a cluster whose
    /// config came from no file: there is nothing to re-read.
    #[error(
        "cannot reload node `{node}`: its config was not loaded from a file (use reload_with)"
    )]
    NoConfigFile {
        /// The node's name, or `(unnamed)` before `open` or `set_name`.
        node: String,
    },
    /// The clustername file could not be read; the I/O error is its
    /// [`source`](std::error::Error::source).
    #[error("cannot read cluster config {path}")]
    ConfigRead {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line of the clustername file is not `name = "host:port"`,
    /// `name = false`, an option, a comment or blank.
    #[error("{path}:{line}: {reason}")]
    ConfigSyntax {
        /// The file (or `<memory>`).
        path: String,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A node name is not in the config.
    #[error("node `{node}` is not in the cluster config")]
    UnknownNode {
        /// The node.
        node: String,
    },
    /// The node's address is `false`.
    #[error("node `{node}` is disabled in the cluster config")]
    NodeDisabled {
        /// The node.
        node: String,
    },
    /// Binding a listener failed; the I/O error is its
    /// [`source`](std::error::Error::source).
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A name is taken (Skynet's `register` asserts; skycluster refuses).
    #[error("name `{name}` is already registered to {handle}")]
    NameTaken {
        /// The name.
        name: String,
        /// The handle that holds it.
        handle: crate::Handle,
    },
    /// A name is malformed: `register` names have no `@`, local names start
    /// with `.`; both are 1 to 255 bytes on the wire.
    #[error("invalid name `{name}`: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// No service has this handle.
    #[error("no service with handle {handle}")]
    UnknownHandle {
        /// The handle.
        handle: crate::Handle,
    },
    /// A call failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// Joining or keeping the membership from etcd failed.
    #[error(transparent)]
    Membership(#[from] crate::node::MembershipError),
}

/// `Result` with skycluster's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::error::Error as StdError;
    use std::io;
    use std::sync::Arc;

    use super::*;

    /// Each message of `e`'s chain, outermost first.
    fn chain(e: &(dyn StdError + 'static)) -> Vec<String> {
        let mut messages = vec![e.to_string()];
        let mut current = e;
        while let Some(source) = current.source() {
            assert!(messages.len() < 16, "a chain this long is a cycle");
            messages.push(source.to_string());
            current = source;
        }
        messages
    }

    /// No message contains the next one's: a chain printer shows each
    /// cause once. And `cause` is in the chain, once.
    fn assert_told_once(e: &(dyn StdError + 'static), cause: &str) {
        let messages = chain(e);
        for pair in messages.windows(2) {
            assert!(
                !pair[0].contains(&pair[1]),
                "{:?} repeats its source {:?}",
                pair[0],
                pair[1]
            );
        }
        let whole = messages.join(": ");
        assert_eq!(whole.matches(cause).count(), 1, "{whole}");
    }

    fn refused() -> io::Error {
        io::Error::new(io::ErrorKind::ConnectionRefused, "refused by the test")
    }

    fn connect_failure() -> CallError {
        CallError::new(
            "db".into(),
            Called::Address(Address::Handle(7)),
            ErrorKind::Connect {
                addr: "127.0.0.1:9".to_owned(),
                reason: Arc::new(refused()),
            },
        )
    }

    #[test]
    fn io_causes_are_sources_not_repeated_in_the_message() {
        let read = Error::ConfigRead {
            path: "cluster.lua".to_owned(),
            source: io::Error::new(io::ErrorKind::NotFound, "no such file for the test"),
        };
        assert_told_once(&read, "no such file for the test");
        assert!(read.source().is_some());
        assert!(read.to_string().contains("cluster.lua"), "{read}");

        let listen = Error::Listen {
            addr: "127.0.0.1:1".to_owned(),
            source: io::Error::new(io::ErrorKind::AddrInUse, "in use for the test"),
        };
        assert_told_once(&listen, "in use for the test");
        assert!(listen.to_string().contains("127.0.0.1:1"), "{listen}");
    }

    #[test]
    fn a_call_error_tells_its_connect_error_once_in_its_message() {
        let call = connect_failure();
        assert_told_once(&call, "refused by the test");
        assert!(call.to_string().contains("127.0.0.1:9"), "{call}");
        assert_told_once(call.kind(), "refused by the test");
        let wrapped = Error::from(connect_failure());
        assert_told_once(&wrapped, "refused by the test");
    }

    #[test]
    fn a_real_config_read_failure_tells_the_os_error_once() {
        let e = crate::Config::load("/nonexistent/skycluster/clustername.lua")
            .expect_err("no such file");
        let messages = chain(&e);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(!messages[0].contains(&messages[1]), "{messages:?}");
        assert!(messages[0].contains("/nonexistent/skycluster/clustername.lua"));
    }
}
