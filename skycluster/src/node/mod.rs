//! The runtime: Skynet's `clusterd`, `clustersender`, `clusteragent` and
//! `clusterproxy`, as one async API on tokio.
//!
//! * [`Cluster`] (`cluster`): the handle users hold.
//! * `state`: what the handle, listeners, agents and endpoints share, and
//!   the routing they ask it for: which local service an address names,
//!   which sender reaches a node.
//! * `listener` and `agent`: accepting connections, and serving one.
//! * [`Endpoint`] (`endpoint`): a service bound to a node, what
//!   `cluster.proxy` wraps, and the one future every call is.
//! * `sender`: one multiplexed connection to one remote node, with its
//!   `pending` calls and their deadlines (`clock`).
//! * [`Service`] (`service`): the trait `#[service]` implements, tying a
//!   trait to its client and its dispatcher.
//! * `link`: the streams a connection runs over (TCP, or TLS over it:
//!   `tls`, with the `tls` feature).
//! * [`Config`], [`Options`], [`Auth`], `registry` (local services and
//!   their names), `status`.
//! * `membership`: where the membership comes from besides the config:
//!   the clustername file written from it, and etcd (feature `etcd`).
//!
//! Dependencies point one way: `cluster` → `listener` → `agent` → `state`
//! → `sender`; `cluster` → `endpoint` → `state`. Nothing below `cluster`
//! knows of it; see ARCHITECTURE.md.

mod agent;
#[cfg(feature = "auth")]
mod auth;
mod clock;
mod cluster;
mod config;
mod deadline;
mod endpoint;
mod link;
mod listener;
mod membership;
mod metrics;
mod options;
mod pending;
mod registry;
mod secret_file;
mod sender;
mod service;
mod state;
mod status;
#[cfg(feature = "tls")]
mod tls;
mod traced;
mod transport;

#[cfg(feature = "auth")]
pub use auth::Auth;
pub use cluster::{Cluster, Query};
pub use config::{Config, NodeAddr};
pub use deadline::deadline;
pub use endpoint::{AddressError, Endpoint, IntoAddress};
pub(crate) use endpoint::{Begun, Encode};
pub(crate) use metrics::HandlerTimer;
pub use traced::trace_tag;
pub use transport::Transport;
// For generated code only, through `__private`.
pub use endpoint::Call;
#[doc(hidden)]
pub use endpoint::Retry;
#[cfg(feature = "etcd")]
pub use membership::Etcd;
pub use membership::{MembershipError, MembershipStatus};
pub use options::Options;
pub use registry::Handle;
pub use secret_file::{read_secret_file, SecretFile, SecretFileError};
pub use service::{IntoService, Service, ServiceFrom};
pub use status::{ListenerStatus, NodeStatus, Status};
#[cfg(feature = "tls")]
pub use tls::{Tls, TlsError};
