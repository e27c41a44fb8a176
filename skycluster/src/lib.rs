//! Skynet's cluster layer, rebuilt in Rust, with compile-time-checked remote calls.
//!
//! A *node* is a process with a name (`game1`, `battle1`, `db`) and an
//! address in a shared clustername file. Services on one node call services
//! on another; skycluster carries those calls over Skynet's own wire
//! protocol, so a Rust node and a Lua Skynet node can call each other.
//!
//! # Layout
//!
//! * [`wire`]: the frames Skynet's cluster nodes exchange over TCP, and a
//!   streaming decoder that reassembles multi-part messages.
//! * [`codec`]: payload formats. [`codec::luaseri`] is `skynet.pack`'s
//!   format; [`codec::Bincode`] serves Rust-to-Rust calls.
//! * [`Cluster`] and its parts: the runtime. The config file, one *sender* per remote node,
//!   one *agent* per accepted connection, the name registry and proxies.
//! * [`Service`] and [`Handler`]: the runtime half of `#[service]`, the
//!   traits the generated code implements.
//! * [`Error`]: what can go wrong, each variant naming the node, address or
//!   limit involved.
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

pub mod codec;
mod error;
mod handler;
mod node;
mod scratch;
pub mod wire;

pub use error::{CallError, Error, ErrorKind, Result};
pub use handler::{BoxFuture, Handled, Handler, HandlerError, Request};
pub use node::{
    AddressError, Auth, Cluster, Config, Endpoint, Handle, IntoAddress, IntoService,
    ListenerStatus, NodeAddr, NodeStatus, Options, Query, Service, Status,
};

pub use async_trait::async_trait;
pub use skycluster_macros::{cluster_main, service};

#[doc(hidden)]
#[path = "private/mod.rs"]
pub mod __private;
