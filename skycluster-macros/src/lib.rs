//! Procedural macros for skycluster. Use them through the `skycluster` crate:
//! `#[skycluster::service]` and `#[skycluster::cluster_main]`.
//!
//! # Layout
//!
//! * `service/`: `#[service]`. `parse.rs` reads and checks the attribute
//!   and the trait, `expand.rs` generates one item per method of
//!   `ServiceGenerator`.
//! * `main_attr.rs`: `#[cluster_main]`.
//! * `attr.rs`: the `key = value` arguments both attributes take, read
//!   one way: `crate = "path"`, a key set twice, an unknown key.
//! * `ctxt.rs`: collects every error before failing, so one compile shows
//!   every mistake.
//!
//! What the generated code calls, and where it sits in the runtime:
//! `ARCHITECTURE.md` at the root of the repository.

use proc_macro::TokenStream;

mod attr;
mod ctxt;
mod main_attr;
mod service;

/// Turns a trait into a cluster service: a typed client, a dispatcher, and
/// the glue that lets `Cluster` spawn, name, register and call it.
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// pub enum GameMode { Duel, Team }
/// #[derive(Debug, Serialize, Deserialize)]
/// pub enum RoomError { Full }
///
/// #[skycluster::service]
/// pub trait BattleMgr {
///     /// Opens a room for `players`.
///     async fn create_room(&self, mode: GameMode, players: Vec<u64>) -> Result<u32, RoomError>;
///
///     /// Says a player left; the caller doesn't wait.
///     #[push]
///     async fn player_left(&self, room: u32, player: u64);
/// }
///
/// struct Rooms;
///
/// #[skycluster::async_trait]
/// impl BattleMgr for Rooms {
///     async fn create_room(&self, _: GameMode, _: Vec<u64>) -> Result<u32, RoomError> {
///         Ok(7)
///     }
///     async fn player_left(&self, _: u32, _: u64) {}
/// }
///
/// async fn play(cluster: skycluster::Cluster) -> Result<(), Box<dyn std::error::Error>> {
///     // Serve it here...
///     let handle = cluster.spawn::<dyn BattleMgr>(Rooms);
///     cluster.register::<dyn BattleMgr>(handle)?;
///     // ...and call it on another node: `?` for the call, then the method's own result.
///     let battle = cluster.proxy::<dyn BattleMgr>("battle1", "@BattleMgr");
///     match battle.create_room(GameMode::Duel, vec![1, 2]).await? {
///         Ok(room) => battle.player_left(room, 2)?,
///         Err(RoomError::Full) => println!("no room for us"),
///     }
///     Ok(())
/// }
/// ```
///
/// # What it generates
///
/// For `trait BattleMgr`:
///
/// * **The trait**, rewritten by `async_trait` so that `dyn BattleMgr` is a
///   type (each method returns a boxed `Send` future), with the supertraits
///   `Send + Sync + 'static` added so an implementation can be shared by
///   concurrent calls. Implement it with `#[skycluster::async_trait]` on
///   the `impl` block, as above.
/// * **`BattleMgrClient`** (`Clone`, `Debug`), wrapping an `Endpoint`. Each
///   method `async fn m(&self, args..) -> R` becomes `fn m(&self, args..)
///   -> impl Future<Output = Result<R, CallError>>`, awaited like an `async
///   fn`: the outer `Result` is the transport, `R` is exactly the trait's
///   return type, so a method returning `Result<RoomId, RoomError>` brings
///   `RoomError` back typed (a method returning `Result<T, HandlerError>`
///   is the one exception: see *Failing like Lua's `error()`* below). The
///   future is the call itself: it encodes and
///   queues the request when first polled and decodes the reply, with no
///   `async fn` state machine around it. A lone `bytes::Bytes` argument or
///   a `Bytes` return value is not copied: it shares the frame's memory
///   (see `Codec::decode_bytes_reply`). A `#[push]`
///   method becomes a plain `fn m(&self, args..) -> Result<(), CallError>`
///   that queues the request and returns. `new(endpoint)`, `endpoint()`,
///   `with_timeout(d)` and `with_trace(tag)` (a copy of the client with that
///   option for its calls) complete it.
/// * **`ServeBattleMgr`**, the dispatcher: a `skycluster::Handler` that
///   decodes the method name, then that method's arguments, awaits the
///   implementation and encodes its return value. An unknown method is
///   answered with `HandlerError::unknown_method`, which the client reports
///   as `ErrorKind::UnknownMethod`; arguments that do not decode are
///   answered with an error naming the service and the method, which a
///   generated client reports as `ErrorKind::Codec` (a raw caller sees the
///   text as `ErrorKind::Remote`). Both sides insist that every byte is
///   used, so a changed arity or field type almost always fails to decode;
///   but bincode carries no type information, so types with the same layout
///   (`u32` and `i32`, a struct and a tuple of the same fields, enum
///   variants reordered) decode without error. Change a method's name when
///   its types change incompatibly.
/// * **`impl Service for dyn BattleMgr`**: the cluster name, the client and
///   the dispatcher, which `Cluster::proxy`, `spawn`, `register` and
///   `query` use; and two small impls that turn an implementation, or an
///   `Arc` of one, into the `Arc<dyn BattleMgr>` the dispatcher holds, so
///   that `cluster.spawn::<dyn BattleMgr>(Rooms)` takes either (see
///   `skycluster::IntoService`).
/// * A static check that every argument and return type is
///   `Serialize + DeserializeOwned`; the error points at the type. Under
///   `codec = lua`, also that no parameter but the last is `Values`.
///
/// Why `dyn BattleMgr`: in Rust 2021 a trait is named as a type only as
/// `dyn Trait`, so that is the spelling `Service` is implemented for and
/// the one a user guesses for `cluster.proxy::<dyn BattleMgr>(..)`. It also
/// lets the dispatcher hold any implementation as `Arc<dyn BattleMgr>`,
/// which is what async-trait's rewrite makes possible. (async-trait's
/// expansion names `Box` unqualified: in a `#![no_implicit_prelude]` module,
/// `use ::std::boxed::Box;`. Everything `#[service]` itself emits uses
/// absolute paths.)
///
/// # Attributes
///
/// * `#[service(name = "battle")]`: the cluster name (what
///   `cluster.register` puts after the `@`). Defaults to the trait's name.
/// * `#[service(codec = lua)]`: lua-seri with Skynet's calling convention,
///   so that Lua nodes can call the service and Rust can call Lua services.
///   The request is `skynet.pack(method, arg1, arg2, ..)`, and the reply is
///   the packed return value: `Ok(v)` packs as `v`, `Err(e)` as `nil, e`
///   (Lua's `return nil, err`), a tuple as several values, `()` as none
///   and `Values` as however many it holds. A last parameter of type
///   `Values` takes every argument left (see below). See
///   `skycluster::codec::Lua`. The default is `codec = bincode` (the
///   `bincode` feature of skycluster, on by default); `codec = postcard`
///   picks `skycluster::codec::Postcard` (the `postcard` feature), a
///   maintained format of the same size class; any other path names a
///   type implementing `skycluster::codec::Codec`. Both sides of a service
///   must name the same codec.
/// * `#[service(crate = "path")]`: where the skycluster crate is, when it
///   is renamed.
/// * `#[push]` on a method: a one-way message; the method returns nothing.
/// * `#[idempotent]` on a method: running it twice does no harm (a read, a
///   set to a value). A client made by `cluster.pool::<dyn S>()` runs such
///   a call again, once, on another node, when its connection drops after
///   the request may have left; any other method then fails. (A call that
///   never left, because its node could not be reached, goes to another
///   node whatever its method.) Calls through a client bound to one node
///   are never retried.
///
/// Methods must be `async fn m(&self, ...)`, without generics, and must not
/// be named `new`, `endpoint`, `with_timeout` or `with_trace`. Default bodies
/// are allowed.
///
/// # Failing like Lua's `error()`
///
/// A method whose return type is written `Result<T, HandlerError>` (any
/// path to `Result` and to `skycluster::HandlerError`) fails the way a Lua
/// service's `error("room is full")` does: `Ok(v)` is the reply, as a `T`
/// method's `v` would be, and `Err(e)` is answered with an error frame
/// carrying `e`'s text, under every codec. On the other side:
///
/// * the generated client's method returns `Result<T, CallError>`, not
///   `Result<Result<T, HandlerError>, CallError>`: the error frame is the
///   call's error, of kind `ErrorKind::Remote { text }`;
/// * a Lua caller's `cluster.call` raises. (Skynet's sender raises
///   `call failed` whatever the frame says, and logs the text.)
///
/// Any other error type is a value: `Result<T, RoomError>` under bincode,
/// and Lua's `return nil, err` under `codec = lua`. The two nest:
/// `Result<Result<T, String>, HandlerError>` answers `nil, err` for the
/// inner `Err` and raises for the outer one.
///
/// ```
/// use skycluster::HandlerError;
///
/// #[skycluster::service(codec = lua)]
/// pub trait Bag {
///     async fn take(&self, item: String) -> Result<u32, HandlerError>;
/// }
///
/// struct Inventory;
///
/// #[skycluster::async_trait]
/// impl Bag for Inventory {
///     async fn take(&self, item: String) -> Result<u32, HandlerError> {
///         if item.is_empty() {
///             // Lua: error("take: no item")
///             return Err(HandlerError::new("take: no item"));
///         }
///         Ok(1)
///     }
/// }
///
/// async fn take(bag: &BagClient) {
///     match bag.take("sword".into()).await {
///         Ok(n) => println!("took {n}"),
///         // The error frame's text, as `ErrorKind::Remote`.
///         Err(e) => println!("failed: {e}"),
///     }
/// }
/// ```
///
/// # Any number of values (`codec = lua`)
///
/// `skycluster::codec::luaseri::Values` is a Lua function's `...`: as the
/// last parameter, it takes every argument after the fixed ones, nils
/// between and at the end included; as the return type (alone, last in a
/// tuple, or in `Ok`), it answers with as many values as it holds. A Lua
/// caller sees exactly what it would from a Lua service, and the generated
/// client takes and returns `Values` too.
///
/// ```
/// use skycluster::codec::luaseri::{Value, Values};
///
/// #[skycluster::service(codec = lua)]
/// pub trait Chat {
///     /// function(channel, ...) return channel, select("#", ...), ... end
///     async fn post(&self, channel: String, args: Values) -> (String, usize, Values);
/// }
///
/// struct Board;
///
/// #[skycluster::async_trait]
/// impl Chat for Board {
///     async fn post(&self, channel: String, args: Values) -> (String, usize, Values) {
///         (channel, args.len(), args)
///     }
/// }
///
/// async fn post(chat: &ChatClient) -> Result<(), skycluster::CallError> {
///     let args = Values::from(vec![Value::from("hi"), Value::Nil]);
///     let (channel, count, echoed) = chat.post("world".into(), args).await?;
///     assert_eq!((channel.as_str(), count, echoed.len()), ("world", 2, 2));
///     Ok(())
/// }
/// ```
///
/// # The same thing by hand
///
/// The expansion, trimmed to one method (`cargo expand` shows all of it):
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize)] pub enum GameMode { Duel }
/// # #[derive(Serialize, Deserialize)] pub enum RoomError { Full }
/// use std::sync::Arc;
///
/// use skycluster::codec::{Bincode, Codec};
/// use bytes::Bytes;
/// use skycluster::{Endpoint, Handled, Handler, HandlerError, Request};
///
/// #[skycluster::async_trait]
/// pub trait BattleMgr: Send + Sync + 'static {
///     async fn create_room(&self, mode: GameMode, players: Vec<u64>) -> Result<u32, RoomError>;
/// }
///
/// #[derive(Clone, Debug)]
/// pub struct BattleMgrClient {
///     endpoint: Endpoint,
/// }
///
/// impl BattleMgrClient {
///     // The generated method returns one future (`Call`, from
///     // `skycluster::__private`) that encodes the arguments in place,
///     // queues them and decodes the reply, its errors a `CallError` naming
///     // the node, address and method. By hand, over a raw call:
///     pub async fn create_room(
///         &self,
///         mode: GameMode,
///         players: Vec<u64>,
///     ) -> Result<Result<u32, RoomError>, Box<dyn std::error::Error + Send + Sync>> {
///         let payload = Bincode::encode_call("create_room", &(mode, players))?;
///         let reply = self.endpoint.call(payload).await?;
///         Ok(Bincode::decode_reply(&reply)?)
///     }
/// }
///
/// pub struct ServeBattleMgr {
///     service: Arc<dyn BattleMgr>,
/// }
///
/// impl Handler for ServeBattleMgr {
///     // The generated one also polls the method once before it boxes
///     // anything, and answers with `Handled::ready` if it has finished.
///     fn handle(&self, request: Request) -> Handled {
///         let service = Arc::clone(&self.service);
///         Handled::later(async move {
///             let fail = |e| HandlerError::new(format!("service `BattleMgr`: {e}"));
///             let payload = request.into_payload();
///             let (method, args) = Bincode::decode_method(&payload).map_err(fail)?;
///             match method {
///                 b"create_room" => {
///                     let (mode, players) = Bincode::decode_args(args).map_err(fail)?;
///                     let reply = service.create_room(mode, players).await;
///                     Bincode::encode_reply(&reply).map_err(fail)
///                 }
///                 _ => Err(HandlerError::unknown_method("BattleMgr", method)),
///             }
///         })
///     }
/// }
///
/// impl skycluster::Service for dyn BattleMgr {
///     const NAME: &'static str = "BattleMgr";
///     type Client = BattleMgrClient;
///
///     fn client(endpoint: Endpoint) -> BattleMgrClient {
///         BattleMgrClient { endpoint }
///     }
///
///     fn handler(implementation: Arc<Self>) -> Arc<dyn Handler> {
///         Arc::new(ServeBattleMgr { service: implementation })
///     }
/// }
/// ```
///
/// # Compile errors
///
/// Each mistake gets its own error on the token at fault, and all of them
/// are reported at once: a method that is not `async`, is generic, does
/// not take `&self`, a `#[push]` method with a return value, two methods
/// with the same name, a method named like a generated one, an unknown or
/// repeated attribute key, an argument or return type that is not a
/// serde type, a `Values` parameter that is not the last (`codec = lua`),
/// and a `Result<T, HandlerError>` whose `HandlerError` is not
/// skycluster's.
///
/// ```compile_fail
/// #[skycluster::service]
/// trait Oops {
///     fn not_async(&self) -> u32;
/// }
/// ```
#[proc_macro_attribute]
pub fn service(args: TokenStream, input: TokenStream) -> TokenStream {
    service::expand(args.into(), input.into()).into()
}

/// Runs `async fn main(cluster: Cluster)` as a cluster node.
///
/// ```no_run
/// #[skycluster::service]
/// pub trait Echo {
///     async fn echo(&self, text: String) -> String;
/// }
///
/// struct Impl;
///
/// #[skycluster::async_trait]
/// impl Echo for Impl {
///     async fn echo(&self, text: String) -> String {
///         text
///     }
/// }
///
/// #[skycluster::cluster_main]
/// async fn main(cluster: skycluster::Cluster) -> Result<(), skycluster::Error> {
///     let handle = cluster.spawn::<dyn Echo>(Impl);
///     cluster.register::<dyn Echo>(handle)?;
///     // Serve until Ctrl-C or SIGTERM.
///     std::future::pending::<()>().await;
///     Ok(())
/// }
/// ```
///
/// Run it as `my-node --node game1 --config clustername.lua`, or with
/// `SKYCLUSTER_NODE=game1 SKYCLUSTER_CONFIG=clustername.lua` (Skynet's
/// `nodename` and `cluster` config keys). The generated `main`:
///
/// 1. reads the node name and the clustername path (flags first, then the
///    environment); if one is missing it prints a usage line to stderr and
///    exits with code 2;
/// 2. builds a multi-threaded tokio runtime;
/// 3. makes the node's [`Options`]: those `options = path` returns, or the
///    defaults; with `--secret-file FILE` (or `SKYCLUSTER_SECRET_FILE`) it
///    turns on `Options::auth` with the file's bytes, less trailing line
///    endings, as the shared secret;
/// 4. loads the config with `Cluster::load`, builds the node with
///    `Cluster::with_options` and listens on its address with
///    `Cluster::open`; a failure in steps 3 or 4 (a bad secret file, a
///    secret file together with an `auth` from `options`, an `Err` from
///    `options`, an unreadable config) is printed and exits with code 1;
/// 5. runs the body, and at the same time waits for Ctrl-C or SIGTERM;
/// 6. when the body returns, or on the signal (the body is then dropped),
///    calls `cluster.shutdown(grace)`: no new connections, calls in flight
///    get `grace` to finish;
/// 7. an `Err` from the body is printed with `Display`, each cause of its
///    chain once, and the process exits with code 1; otherwise `main`
///    returns the body's value (`()` or `Ok(())` after a signal).
///
/// The body returns `()`, `ExitCode` or `Result<(), E>`, with `E` an error:
/// any `std::error::Error`, `Box<dyn Error (+ Send + Sync)>`, `String`,
/// `anyhow::Error` or `eyre::Report`.
///
/// [`Options`]: https://docs.rs/skycluster/latest/skycluster/struct.Options.html
///
/// # Attributes
///
/// * `options = path::to_fn`: a `fn() -> Options` or
///   `fn() -> Result<Options, E>`, called once before the config is
///   loaded: limits, timeouts, `Auth`.
/// * `grace_ms = 5000`: how long calls in flight may take at shutdown;
///   overrides `Options::shutdown_grace` (default 5 s).
/// * `worker_threads = 4`: the runtime's worker threads (default: one per
///   core).
/// * `crate = "path"`: where the skycluster crate is, when renamed.
///
/// # The same thing by hand
///
/// ```no_run
/// # async fn body(cluster: skycluster::Cluster) -> Result<(), skycluster::Error> { Ok(()) }
/// # fn options() -> skycluster::Options { skycluster::Options::default() }
/// fn main() -> std::process::ExitCode {
///     let node = std::env::var("SKYCLUSTER_NODE").expect("node name");
///     let config = std::env::var("SKYCLUSTER_CONFIG").expect("config path");
///     let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
///     let result = runtime.block_on(async {
///         let options = options();
///         let grace = options.shutdown_grace;
///         let cluster = skycluster::Cluster::with_options(skycluster::Config::load(&config)?, options);
///         cluster.open(&node).await?;
///         let result = tokio::select! {
///             result = body(cluster.clone()) => result,
///             _ = tokio::signal::ctrl_c() => Ok(()),
///         };
///         cluster.shutdown(grace).await;
///         result
///     });
///     match result {
///         Ok(()) => std::process::ExitCode::SUCCESS,
///         Err(e) => {
///             eprintln!("my-node: error: {e}");
///             std::process::ExitCode::FAILURE
///         }
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn cluster_main(args: TokenStream, input: TokenStream) -> TokenStream {
    main_attr::expand(args.into(), input.into()).into()
}

/// The input unchanged, followed by `error`: the compile fails with the
/// error, and the IDE still sees the item (tokio-macros does the same).
fn token_stream_with_error(
    mut input: proc_macro2::TokenStream,
    error: syn::Error,
) -> proc_macro2::TokenStream {
    input.extend(error.into_compile_error());
    input
}
