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
//! * [`Handler`], [`Request`], [`Handled`], [`HandlerError`]: what a local
//!   service is, knowing nothing of nodes.
//! * [`Cluster`] and its parts: the runtime. One *sender* per remote node,
//!   one *agent* per accepted connection, the registry of local services,
//!   and [`Endpoint`]s, through which every call goes as one future.
//! * [`Service`]: the trait `#[service]` implements, tying a trait to its
//!   generated client and dispatcher.
//! * [`Error`] and [`CallError`]: what can go wrong, each naming the node,
//!   address or limit involved.
//!
//! How these depend on each other (one way), and one typed call traced
//! file by file from the proxy to the socket and back: `ARCHITECTURE.md`
//! at the root of the repository.
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
