//! The runtime: Skynet's `clusterd`, `clustersender`, `clusteragent` and
//! `clusterproxy`, as one async API on tokio.
//!
//! * [`Config`]: the clustername file.
//! * [`Cluster`]: the handle users hold. It owns one *sender* per remote
//!   node (one TCP connection, multiplexed by session), the *listeners*
//!   and their *agents* (one per accepted connection), and the *registry*
//!   of local services and names.
//! * [`Endpoint`]: a service bound to a node, what `cluster.proxy` returns.
//! * [`Options`]: every timeout and limit, with its default.
//! * [`Auth`]: opt-in shared-secret authentication between Rust nodes.

mod agent;
mod auth;
mod clock;
mod cluster;
mod config;
mod options;
mod pending;
mod proxy;
mod registry;
pub(crate) mod scratch;
mod sender;
mod status;

pub use auth::Auth;
pub use cluster::{Cluster, Query};
pub use config::{Config, NodeAddr};
pub use options::Options;
pub(crate) use proxy::Begun;
pub use proxy::{Endpoint, IntoAddress};
pub use registry::Handle;
pub(crate) use sender::InFlight;
pub use status::{ListenerStatus, NodeStatus, Status};
