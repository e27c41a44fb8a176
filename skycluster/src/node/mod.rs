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
//! * [`Config`], [`Options`], [`Auth`], `registry` (local services and
//!   their names), `status`.
//! * `membership`: where the membership comes from besides the config:
//!   the clustername file written from it, and etcd (feature `etcd`).
//!
//! Dependencies point one way: `cluster` → `listener` → `agent` → `state`
//! → `sender`; `cluster` → `endpoint` → `state`. Nothing below `cluster`
//! knows of it; see ARCHITECTURE.md.

mod agent;
mod auth;
mod clock;
mod cluster;
mod config;
mod endpoint;
mod listener;
mod membership;
mod options;
mod pending;
mod registry;
mod secret_file;
mod sender;
mod service;
mod state;
mod status;

pub use auth::Auth;
pub use cluster::{Cluster, Query};
pub use config::{Config, NodeAddr};
pub use endpoint::{AddressError, Endpoint, IntoAddress};
pub(crate) use endpoint::{Begun, Encode};
// For generated code only, through `__private`.
pub use endpoint::Call;
#[cfg(feature = "etcd")]
pub use membership::Etcd;
pub use membership::{MembershipError, MembershipStatus};
pub use options::Options;
pub use registry::Handle;
pub use secret_file::{read_secret_file, SecretFile, SecretFileError};
pub use service::{IntoService, Service, ServiceFrom};
pub use status::{ListenerStatus, NodeStatus, Status};
