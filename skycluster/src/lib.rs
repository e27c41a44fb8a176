//! Skynet's cluster layer, rebuilt in Rust, with compile-time-checked remote calls.
//!
//! A *node* is a process with a name (`game1`, `battle1`, `db`) and an
//! address in a shared clustername file. Services on one node call services
//! on another; skycluster carries those calls over Skynet's own wire
//! protocol, so a Rust node and a Lua Skynet node can call each other.
//!
//! # Quick start
//!
//! A service is a trait; one node serves it, another calls it through a
//! client the compiler checks. Here both nodes live in one process, on
//! loopback:
//!
//! ```
//! use skycluster::{Cluster, Config};
//!
//! #[skycluster::service]
//! pub trait Greeter {
//!     async fn hello(&self, name: String) -> String;
//! }
//!
//! struct English;
//!
//! #[skycluster::async_trait]
//! impl Greeter for English {
//!     async fn hello(&self, name: String) -> String {
//!         format!("hello, {name}")
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // battle1 serves `Greeter`, registered as `@Greeter`.
//! let battle = Cluster::new(Config::new());
//! battle.set_name("battle1")?;
//! let addr = battle.listen("127.0.0.1:0").await?;
//! let handle = battle.spawn::<dyn Greeter>(English);
//! battle.register::<dyn Greeter>(handle)?;
//!
//! // game1 knows where battle1 is (a clustername file says so in a real
//! // cluster: `Cluster::load("clustername.lua")`) and calls it.
//! let game = Cluster::new(Config::new().with_node("battle1", addr.to_string()));
//! let greeter = game.proxy::<dyn Greeter>("battle1", "@Greeter");
//! assert_eq!(greeter.hello("game1".into()).await?, "hello, game1");
//! # Ok(()) }
//! ```
//!
//! `#[service(codec = lua)]` makes the same service callable from Lua
//! Skynet nodes (`cluster.call("battle1", "@Greeter", "hello", "lua1")`),
//! and `#[cluster_main]` turns an async fn into a node's entrypoint.
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
//! * [`schema`]: what a service looks like from outside, read from its
//!   types' serde shape, and the Lua stubs made from it.
//! * [`Error`] and [`CallError`]: what can go wrong, each naming the node,
//!   address or limit involved.
//!
//! How these depend on each other (one way), and one typed call traced
//! file by file from the proxy to the socket and back: `ARCHITECTURE.md`
//! at the root of the repository.
//!
//! # Features
//!
//! * `bincode` (default): [`codec::Bincode`], the codec of a `#[service]`
//!   that names none. bincode is unmaintained upstream; it stays the
//!   default because a default codec that changed would change the bytes
//!   between nodes.
//! * `auth` (default): `Auth`, connections proving a shared secret, and
//!   secret files (`--secret-file`) for `#[cluster_main]` nodes.
//! * `postcard`: `codec::Postcard`, a maintained format of bincode's size
//!   class, for `#[service(codec = postcard)]`.
//! * `test-util`: for tests only. Time follows tokio's clock, so
//!   `tokio::time::pause` (`#[tokio::test(start_paused = true)]`) makes
//!   timeouts and back-offs end when the paused clock says, without
//!   waiting. Costs a little per call; leave it out of production builds.
//! * `etcd`: membership from etcd v3 (`Etcd`, `Cluster::join`): nodes
//!   publish their name and address under a key prefix, held by a lease,
//!   and watch it. Off by default; the clustername file stays the default.
//! * `tls`: TLS between Rust nodes on rustls (`Options::with_tls`,
//!   `Tls`): certificates from PEM files, mutual TLS, plaintext kept for
//!   named (Lua) nodes.
//! * `metrics`: counters, gauges and a latency histogram through the
//!   `metrics` facade, labelled by node (calls started and ended by
//!   outcome, in flight, call seconds, pushes, requests served, bytes each
//!   way, connections open, connect failures, reconnects, handshake
//!   failures). Install a recorder before making a `Cluster`: figures are
//!   registered when senders and connections are made. Without a recorder
//!   each update is a check of an empty handle.
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

pub mod codec;
mod error;
mod handler;
mod node;
pub mod schema;
mod scratch;
pub mod wire;

pub use error::{CallError, Error, ErrorKind, Result};
pub use handler::{BoxFuture, Handled, Handler, HandlerError, Request};
#[cfg(feature = "auth")]
pub use node::Auth;
#[cfg(feature = "etcd")]
pub use node::Etcd;
pub use node::{
    deadline, read_secret_file, trace_tag, AddressError, Cluster, Config, Endpoint, Handle,
    IntoAddress, IntoService, ListenerStatus, NodeAddr, NodeStatus, Options, Query, SecretFile,
    SecretFileError, Service, Status, Transport,
};
pub use node::{MembershipError, MembershipStatus};
#[cfg(feature = "tls")]
pub use node::{Tls, TlsError};

pub use async_trait::async_trait;
pub use skycluster_macros::{cluster_main, service};

#[doc(hidden)]
#[path = "private/mod.rs"]
pub mod __private;
