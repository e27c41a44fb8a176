//! `#[service]` end to end: typed calls between two nodes over TCP on
//! 127.0.0.1, pushes, the Lua codec as a Lua node speaks it (variadic
//! methods included), methods that fail with an error frame, the forms
//! `spawn` takes, and clients that disagree with the server.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use skycluster::codec::luaseri::{self, Table, Value, Values};
use skycluster::codec::{Bincode, Codec};
use skycluster::wire::TraceTag;
use skycluster::{CallError, Cluster, Config, ErrorKind, HandlerError, Options, Request, Service};
use tokio::sync::mpsc;

use support::node::{bounded, client, pack, s};

// ---- a bincode service with every argument shape ----

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Player {
    pub id: u64,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Mode {
    Duel,
    Team { size: u8 },
    Custom(String, u32),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RoomError {
    NoPlayers,
    TooMany { max: usize },
}

#[skycluster::service(name = "shapes")]
pub trait Shapes {
    async fn ping(&self);
    async fn double(&self, x: u32) -> u32;
    async fn concat(&self, a: String, b: u8, c: Option<i64>) -> String;
    async fn create_room(&self, mode: Mode, players: Vec<Player>) -> Result<u64, RoomError>;
    async fn lookup(&self, id: Option<u64>) -> Option<Player>;
    async fn split(&self, words: Vec<String>) -> (usize, Vec<String>);
    async fn stall(&self);
    #[push]
    async fn left(&self, room: u64, player: u64);
}

struct ShapesImpl {
    left: mpsc::UnboundedSender<(u64, u64)>,
}

#[skycluster::async_trait]
impl Shapes for ShapesImpl {
    async fn ping(&self) {}

    async fn double(&self, x: u32) -> u32 {
        x * 2
    }

    async fn concat(&self, a: String, b: u8, c: Option<i64>) -> String {
        format!("{a}-{b}-{c:?}")
    }

    async fn create_room(&self, mode: Mode, players: Vec<Player>) -> Result<u64, RoomError> {
        match (&mode, players.len()) {
            (_, 0) => Err(RoomError::NoPlayers),
            (Mode::Duel, n) if n > 2 => Err(RoomError::TooMany { max: 2 }),
            (Mode::Custom(_, base), n) => Ok(u64::from(*base) + n as u64),
            (_, n) => Ok(100 + n as u64),
        }
    }

    async fn lookup(&self, id: Option<u64>) -> Option<Player> {
        id.map(|id| Player {
            id,
            name: format!("player{id}"),
        })
    }

    async fn split(&self, words: Vec<String>) -> (usize, Vec<String>) {
        let upper = words.iter().map(|w| w.to_uppercase()).collect();
        (words.len(), upper)
    }

    async fn stall(&self) {
        std::future::pending::<()>().await
    }

    async fn left(&self, room: u64, player: u64) {
        let _ = self.left.send((room, player));
    }
}

/// A node named `name` on an ephemeral port, serving `implementation`
/// registered under its service name.
async fn serve<S: Service + ?Sized>(name: &str, implementation: Arc<S>) -> (Cluster, SocketAddr) {
    let cluster = Cluster::new(Config::new());
    cluster.set_name(name).expect("fresh cluster");
    let addr = cluster.listen("127.0.0.1:0").await.expect("listen");
    let handle = cluster.spawn::<S>(implementation);
    cluster.register::<S>(handle).expect("register");
    (cluster, addr)
}

async fn shapes_server() -> (Cluster, SocketAddr, mpsc::UnboundedReceiver<(u64, u64)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (cluster, addr) = serve::<dyn Shapes>("battle1", Arc::new(ShapesImpl { left: tx })).await;
    (cluster, addr, rx)
}

fn players(n: u64) -> Vec<Player> {
    (1..=n)
        .map(|id| Player {
            id,
            name: format!("p{id}"),
        })
        .collect()
}

#[tokio::test]
async fn every_argument_shape_round_trips_between_two_nodes() {
    let (_server, addr, _left) = shapes_server().await;
    let game = client(&[("battle1", addr)], Options::default());
    let battle = game.proxy::<dyn Shapes>("battle1", "@shapes");

    bounded("ping", battle.ping()).await.expect("no arguments");
    assert_eq!(bounded("double", battle.double(21)).await.expect("one"), 42);
    assert_eq!(
        bounded("concat", battle.concat("a".into(), 7, Some(-3)))
            .await
            .expect("several"),
        "a-7-Some(-3)"
    );
    assert_eq!(
        bounded("concat none", battle.concat(String::new(), 0, None))
            .await
            .expect("a None"),
        "-0-None"
    );
    assert_eq!(
        bounded(
            "room",
            battle.create_room(Mode::Team { size: 3 }, players(3))
        )
        .await
        .expect("structs and enums"),
        Ok(103)
    );
    assert_eq!(
        bounded(
            "custom",
            battle.create_room(Mode::Custom("x".into(), 7), players(2))
        )
        .await
        .expect("tuple variant"),
        Ok(9)
    );
    assert_eq!(
        bounded("empty room", battle.create_room(Mode::Duel, Vec::new()))
            .await
            .expect("the call succeeds"),
        Err(RoomError::NoPlayers)
    );
    assert_eq!(
        bounded("full room", battle.create_room(Mode::Duel, players(3)))
            .await
            .expect("the call succeeds"),
        Err(RoomError::TooMany { max: 2 })
    );
    assert_eq!(
        bounded("lookup", battle.lookup(Some(4)))
            .await
            .expect("Option"),
        Some(Player {
            id: 4,
            name: "player4".into()
        })
    );
    assert_eq!(
        bounded("lookup none", battle.lookup(None))
            .await
            .expect("None"),
        None
    );
    assert_eq!(
        bounded("split", battle.split(vec!["a".into(), "bc".into()]))
            .await
            .expect("Vec and tuple"),
        (2, vec!["A".to_owned(), "BC".to_owned()])
    );
}

#[tokio::test]
async fn typed_calls_of_every_size_take_turns_on_one_connection() {
    let (_server, addr, _left) = shapes_server().await;
    let game = client(&[("battle1", addr)], Options::default());
    let battle = game.proxy::<dyn Shapes>("battle1", "@shapes");
    // The first call finds the node's sender; later ones encode into the
    // reused buffer; a payload past 32 KiB goes out in pieces and takes
    // that buffer with it. Interleave them and check each answer.
    let big = |n: usize| vec!["w".repeat(1000); n];
    for round in 0..3usize {
        let small = bounded("small", battle.double(round as u32)).await;
        assert_eq!(small.expect("small"), 2 * round as u32);
        let words = big(40 + round);
        let (count, upper) = bounded("big", battle.split(words))
            .await
            .expect("a multi-part call");
        assert_eq!(count, 40 + round);
        assert!(upper.iter().all(|w| w.len() == 1000 && w.starts_with('W')));
    }
    let concurrent = futures_util::future::join_all((0..64u32).map(|i| battle.double(i)));
    let answers = bounded("concurrent", concurrent).await;
    for (i, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer.expect("concurrent call"), 2 * i as u32);
    }
}

/// Byte strings as arguments and replies: a lone `Bytes` takes the codec's
/// shared path both ways, two of them the serde path.
#[skycluster::service(name = "blobs")]
pub trait Blobs {
    async fn reverse(&self, data: Bytes) -> Bytes;
    async fn join(&self, a: Bytes, b: Bytes) -> Bytes;
}

struct BlobsImpl;

#[skycluster::async_trait]
impl Blobs for BlobsImpl {
    async fn reverse(&self, data: Bytes) -> Bytes {
        data.iter().rev().copied().collect()
    }

    async fn join(&self, a: Bytes, b: Bytes) -> Bytes {
        [a, b].concat().into()
    }
}

#[tokio::test]
async fn bytes_arguments_and_replies_of_every_size_round_trip() {
    let (server, addr) = serve::<dyn Blobs>("battle1", Arc::new(BlobsImpl)).await;
    let game = client(&[("battle1", addr)], Options::default());
    let remote = game.proxy::<dyn Blobs>("battle1", "@blobs");
    // The server calling its own service: no network, same answers.
    let local = server.proxy::<dyn Blobs>("battle1", "@blobs");
    // Empty, small, either side of the largest reply a handler returns in
    // place (48 bytes encoded), and past 32 KiB (in pieces each way).
    for (blobs, len) in [&remote, &local]
        .into_iter()
        .flat_map(|blobs| [0usize, 16, 47, 48, 250, 70_000].map(|len| (blobs, len)))
    {
        let data: Bytes = (0..len).map(|i| (i % 251) as u8).collect();
        let reversed = bounded("reverse", blobs.reverse(data.clone()))
            .await
            .expect("reverse");
        assert_eq!(reversed.len(), len);
        assert!(reversed.iter().eq(data.iter().rev()), "len {len}");
        let joined = bounded("join", blobs.join(data.clone(), reversed))
            .await
            .expect("join");
        assert_eq!(&joined[..len], &data[..]);
        assert!(joined[len..].iter().eq(data.iter().rev()));
    }
}

#[tokio::test]
async fn a_push_arrives_without_a_reply() {
    let (_server, addr, mut left) = shapes_server().await;
    let game = client(&[("battle1", addr)], Options::default());
    let battle = game.proxy::<dyn Shapes>("battle1", "@shapes");

    battle.left(7, 9).expect("queued");
    battle.left(7, 10).expect("queued");
    assert_eq!(bounded("first push", left.recv()).await, Some((7, 9)));
    assert_eq!(bounded("second push", left.recv()).await, Some((7, 10)));
}

#[tokio::test]
async fn query_and_one_string_targets_find_the_registered_service() {
    let (_server, addr, _left) = shapes_server().await;
    let game = client(&[("battle1", addr)], Options::default());

    let queried = bounded("query", game.query::<dyn Shapes>("battle1"))
        .await
        .expect("@shapes is registered");
    assert_eq!(bounded("double", queried.double(4)).await.expect("call"), 8);

    let at = game
        .proxy_at::<dyn Shapes>("battle1@shapes")
        .expect("one-string form");
    assert_eq!(bounded("double", at.double(5)).await.expect("call"), 10);
}

/// The spelling the docs show, `cluster.proxy::<dyn S>(..).method()`, a
/// proxy made afresh for every call: remote, local, and waiting for the
/// reload that brings its node, each the one call future of a kept client.
#[tokio::test]
async fn a_proxy_made_for_every_call_behaves_as_a_kept_one() {
    let (server, addr, _left) = shapes_server().await;
    let game = Cluster::new(Config::new());
    let waiting = {
        let game = game.clone();
        tokio::spawn(async move {
            game.proxy::<dyn Shapes>("battle1", "@shapes")
                .double(1)
                .await
        })
    };
    // On this one-threaded runtime, the call runs until it waits.
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished(), "battle1 is not in the config yet");
    game.reload_with(Config::new().with_node("battle1", addr.to_string()));
    let reply = bounded("waiting call", waiting).await.expect("task");
    assert_eq!(reply.expect("resolved after reload"), 2);

    for n in 0..50u32 {
        let proxy = || game.proxy::<dyn Shapes>("battle1", "@shapes");
        assert_eq!(
            bounded("fresh", proxy().double(n)).await.expect("call"),
            n * 2
        );
    }
    for n in 0..5u32 {
        let proxy = || server.proxy::<dyn Shapes>("battle1", "@shapes");
        assert_eq!(
            bounded("local", proxy().double(n)).await.expect("call"),
            n * 2
        );
    }
    // A fresh proxy of an unknown service fails as a kept one does.
    let err = bounded(
        "unregistered",
        game.proxy::<dyn Shapes>("battle1", "@nobody").double(1),
    )
    .await
    .expect_err("nobody");
    assert_eq!(err.method(), Some("double"));
    assert!(err.to_string().contains("@nobody"), "{err}");
}

/// An address that cannot be sent fails every call, and the error shows
/// the address as it was written, not a stand-in.
#[tokio::test]
async fn an_unsendable_address_is_reported_as_written() {
    let game = Cluster::new(Config::new().with_node("battle1", "127.0.0.1:1"));
    let long = format!("@{}", "x".repeat(300));
    let err = bounded(
        "too long",
        game.proxy::<dyn Shapes>("battle1", long.as_str()).double(1),
    )
    .await
    .expect_err("a name over 255 bytes");
    assert!(
        matches!(err.kind(), ErrorKind::InvalidAddress { .. }),
        "{err}"
    );
    assert_eq!(err.address(), None);
    assert!(
        err.to_string().contains(&format!("address `{long}`")),
        "{err}"
    );
    let err = bounded("empty", game.call("battle1", "", Bytes::new()))
        .await
        .expect_err("an empty name");
    assert!(
        err.to_string()
            .starts_with("call to node `battle1` address `` failed: invalid address"),
        "{err}"
    );
    assert!(game.send("battle1", "", Bytes::new()).is_err());
}

// On a paused clock until the call that never answers has timed out: its
// deadline is the only timer due before the test's own bound, so the clock
// leaps to it.
#[tokio::test(start_paused = true)]
async fn per_call_options_apply_to_the_derived_client_only() {
    let (_server, addr, _left) = shapes_server().await;
    let game = client(&[("battle1", addr)], Options::default());
    let battle = game.proxy::<dyn Shapes>("battle1", "@shapes");

    let limit = Duration::from_millis(200);
    let impatient = battle.with_timeout(limit);
    assert_eq!(impatient.endpoint().timeout(), limit);
    assert_ne!(battle.endpoint().timeout(), limit);
    let started = tokio::time::Instant::now();
    let err = bounded("stall", impatient.stall())
        .await
        .expect_err("never answers");
    match err.kind() {
        ErrorKind::Timeout { elapsed, limit: l } => {
            assert_eq!((*elapsed, *l), (limit, limit), "{err}");
        }
        _ => panic!("expected a timeout: {err}"),
    }
    assert_eq!(started.elapsed(), limit);
    assert_eq!(err.method(), Some("stall"));
    assert_eq!(err.node(), "battle1");

    // Real I/O from here: a paused clock would leap to the next timer
    // whenever the runtime waited for the network.
    tokio::time::resume();
    let traced = battle.with_trace(TraceTag::new("(test)shapes").expect("short tag"));
    assert_eq!(bounded("traced", traced.double(1)).await.expect("call"), 2);
}

#[tokio::test]
async fn a_typed_call_its_caller_gives_up_on_is_forgotten() {
    let (_server, addr, _left) = shapes_server().await;
    let game = client(&[("battle1", addr)], Options::default());
    let battle = game.proxy::<dyn Shapes>("battle1", "@shapes");
    // Connected, so that the next call is queued on its first poll.
    assert_eq!(bounded("double", battle.double(1)).await.expect("call"), 2);

    fn is_send<T: Send>(_: &T) {}
    let stalled = battle.stall();
    is_send(&stalled);
    // One poll queues the request and leaves it waiting; then the caller
    // moves on and drops it.
    tokio::select! {
        biased;
        result = stalled => panic!("a stalled call finished: {result:?}"),
        () = std::future::ready(()) => {}
    }
    assert_eq!(
        game.status().nodes[0].in_flight,
        0,
        "the call was forgotten"
    );
    // Never polled: nothing is queued, and nothing waits.
    drop(battle.double(2));
    assert_eq!(game.status().nodes[0].in_flight, 0);
    assert_eq!(bounded("double", battle.double(3)).await.expect("call"), 6);
}

// ---- methods that wait ----

/// A room whose `wait` answers only once `open` has been called, so a
/// `wait` is still running after its first poll.
#[skycluster::service]
pub trait Gate {
    async fn wait(&self, tag: u32) -> String;
    async fn open(&self);
}

struct Gated {
    name: String,
    waiting: mpsc::UnboundedSender<u32>,
    gate: tokio::sync::Notify,
    /// How often `wait` was polled while it waited at the gate.
    polls: std::sync::atomic::AtomicUsize,
}

#[skycluster::async_trait]
impl Gate for Gated {
    async fn wait(&self, tag: u32) -> String {
        let _ = self.waiting.send(tag);
        let mut open = std::pin::pin!(self.gate.notified());
        std::future::poll_fn(|cx| {
            self.polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::future::Future::poll(open.as_mut(), cx)
        })
        .await;
        format!("{} {tag}", self.name)
    }

    async fn open(&self) {
        // Stores a permit if `wait` has not started waiting yet.
        self.gate.notify_one();
    }
}

#[tokio::test]
async fn a_method_that_waits_answers_when_done_and_others_go_past_it() {
    let (waiting, mut waits) = mpsc::unbounded_channel();
    let gated = Arc::new(Gated {
        name: "room".to_owned(),
        waiting,
        gate: tokio::sync::Notify::new(),
        polls: Default::default(),
    });
    let (_server, addr) = serve::<dyn Gate>("battle1", Arc::clone(&gated) as Arc<dyn Gate>).await;
    let game = client(&[("battle1", addr)], Options::default());
    let gate = game.proxy::<dyn Gate>("battle1", "@Gate");
    let first = tokio::spawn({
        let gate = gate.clone();
        async move { gate.wait(7).await }
    });
    assert_eq!(bounded("wait starts", waits.recv()).await, Some(7));
    // The waiting call holds nothing up: `open` is answered, then `wait`.
    bounded("open", gate.open()).await.expect("open");
    let reply = bounded("wait", first).await.expect("task");
    assert_eq!(reply.expect("wait"), "room 7");
    // Polled once as the request is dispatched, once by the connection's
    // set of running requests (with a waker that the gate can wake), once
    // when the gate opened: no poll is spent twice on the same start.
    assert_eq!(gated.polls.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[tokio::test]
async fn calls_to_an_unreachable_node_name_the_method() {
    let game = Cluster::new(Config::new().with_disabled("battle1"));
    let battle = game.proxy::<dyn Shapes>("battle1", "@shapes");
    let err = bounded("disabled", battle.double(1))
        .await
        .expect_err("disabled node");
    assert!(matches!(err.kind(), ErrorKind::Disabled), "{err}");
    assert_eq!(err.method(), Some("double"));
    let err = battle.left(1, 2).expect_err("disabled node");
    assert_eq!(err.method(), Some("left"));
}

// ---- a client that disagrees with the server ----

/// What a stale client thinks `shapes` is.
#[skycluster::service(name = "shapes")]
pub trait ShapesV0 {
    /// The server takes a `u32`.
    async fn double(&self, x: String) -> u32;
    /// The server returns `()`.
    async fn ping(&self) -> String;
    /// The server has no such method.
    async fn vanished(&self) -> u8;
}

#[tokio::test]
async fn a_mismatched_client_gets_unknown_method_or_codec_errors_never_values() {
    let (_server, addr, _left) = shapes_server().await;
    // The schema check stops these calls first (tests/schema_check.rs);
    // without it, the dispatcher and the codecs still refuse them.
    let game = client(
        &[("battle1", addr)],
        Options::default().with_schema_check(false),
    );
    let stale = game.proxy::<dyn ShapesV0>("battle1", "@shapes");

    let err = bounded("vanished", stale.vanished())
        .await
        .expect_err("no such method");
    assert!(
        matches!(err.kind(), ErrorKind::UnknownMethod { method } if &**method == "vanished"),
        "{err}"
    );
    assert_eq!(err.method(), Some("vanished"));

    let err = bounded("double", stale.double("twenty-one".into()))
        .await
        .expect_err("the server can't decode a String as a u32");
    let ErrorKind::Codec { reason, .. } = err.kind() else {
        panic!("expected a codec error, got {err}");
    };
    assert!(
        reason.contains("`double`") && reason.contains("`shapes`"),
        "{reason}"
    );
    assert_eq!(err.method(), Some("double"));

    let err = bounded("ping", stale.ping())
        .await
        .expect_err("the client can't decode () as a String");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Codec {
                action: "decode",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.method(), Some("ping"));
    assert!(err.to_string().contains("method `ping`"), "{err}");
}

#[tokio::test]
async fn a_string_length_past_the_payload_is_refused_not_allocated() {
    let (_server, addr, _left) = shapes_server().await;
    let game = client(&[("battle1", addr)], Options::default());
    // `concat(a: String, ..)` with `a` claiming 2^62 bytes. bincode alone
    // would ask the allocator for all of them, which aborts the process.
    let call = Bincode::encode_call("concat", &()).expect("encodes");
    let mut hostile = call.to_vec();
    hostile.extend_from_slice(&[253, 0, 0, 0, 0, 0, 0, 0, 0x40, 1, 0]);
    let err = bounded(
        "hostile call",
        game.call("battle1", "@shapes", hostile.into()),
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(err.kind(), ErrorKind::Remote { text } if text.contains("`concat`")),
        "{err}"
    );
    // The node is alive and serving.
    let battle = game.proxy::<dyn Shapes>("battle1", "@shapes");
    let reply = bounded("concat", battle.concat("a".into(), 1, None)).await;
    assert_eq!(reply.expect("served"), "a-1-None");
}

#[tokio::test]
async fn a_method_name_that_is_not_utf8_is_an_unknown_method() {
    let (_server, addr, _left) = shapes_server().await;
    let game = client(&[("battle1", addr)], Options::default());
    // bincode's string: a length, then the bytes; 0xff is never UTF-8.
    let call = Bytes::from_static(&[4, b'p', b'i', 0xff, b'g']);
    let err = bounded(
        "a call of `pi\\xffg`",
        game.call("battle1", "@shapes", call),
    )
    .await
    .expect_err("no method has that name");
    assert!(
        matches!(err.kind(), ErrorKind::UnknownMethod { method } if &**method == "pi\u{fffd}g"),
        "{err}"
    );
}

// ---- the Lua codec, as Lua nodes speak it ----

#[skycluster::service(codec = lua, name = "battle")]
pub trait LuaBattle {
    async fn create_room(&self, mode: String, players: Vec<u32>) -> Result<u32, String>;
    async fn greet(&self, name: Option<String>) -> String;
    async fn info(&self) -> (String, u32);
    #[push]
    async fn left(&self, room: u32, player: u32);
}

struct LuaBattleImpl {
    left: mpsc::UnboundedSender<(u32, u32)>,
}

#[skycluster::async_trait]
impl LuaBattle for LuaBattleImpl {
    async fn create_room(&self, mode: String, players: Vec<u32>) -> Result<u32, String> {
        if players.is_empty() {
            return Err(format!("no players for {mode}"));
        }
        Ok(players.iter().sum())
    }

    async fn greet(&self, name: Option<String>) -> String {
        format!("hello, {}", name.as_deref().unwrap_or("stranger"))
    }

    async fn info(&self) -> (String, u32) {
        ("arena".into(), 3)
    }

    async fn left(&self, room: u32, player: u32) {
        let _ = self.left.send((room, player));
    }
}

async fn lua_server() -> (Cluster, SocketAddr, mpsc::UnboundedReceiver<(u32, u32)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let implementation = Arc::new(LuaBattleImpl { left: tx });
    let (cluster, addr) = serve::<dyn LuaBattle>("rust1", implementation).await;
    (cluster, addr, rx)
}

fn array(values: Vec<Value>) -> Value {
    Value::Table(Table::from(values))
}

/// `cluster.call("rust1", "@battle", ...)` from Lua: the raw payload in,
/// the unpacked reply out.
async fn lua_call(game: &Cluster, values: &[Value]) -> Result<Vec<Value>, CallError> {
    let reply = bounded("lua call", game.call("rust1", "@battle", pack(values))).await?;
    Ok(luaseri::unpack(&reply).expect("the reply is lua-seri"))
}

#[tokio::test]
async fn a_lua_node_calls_a_lua_codec_service() {
    let (_server, addr, mut left) = lua_server().await;
    let game = client(&[("rust1", addr)], Options::default());
    let players = array(vec![Value::Integer(1), Value::Integer(2)]);

    // cluster.call("rust1", "@battle", "create_room", "duel", {1, 2})
    let reply = lua_call(&game, &[s("create_room"), s("duel"), players])
        .await
        .expect("call");
    assert_eq!(reply, [Value::Integer(3)]);

    // An `Err` comes back as `nil, err`.
    let reply = lua_call(&game, &[s("create_room"), s("duel"), array(vec![])])
        .await
        .expect("call");
    assert_eq!(reply, [Value::Nil, s("no players for duel")]);

    // A missing trailing argument is nil; a tuple is several values.
    let reply = lua_call(&game, &[s("greet")]).await.expect("call");
    assert_eq!(reply, [s("hello, stranger")]);
    let reply = lua_call(&game, &[s("greet"), s("lua")])
        .await
        .expect("call");
    assert_eq!(reply, [s("hello, lua")]);
    let reply = lua_call(&game, &[s("info")]).await.expect("call");
    assert_eq!(reply, [s("arena"), Value::Integer(3)]);

    // cluster.send("rust1", "@battle", "left", 7, 9)
    game.send(
        "rust1",
        "@battle",
        pack(&[s("left"), Value::Integer(7), Value::Integer(9)]),
    )
    .expect("queued");
    assert_eq!(bounded("push", left.recv()).await, Some((7, 9)));
}

#[tokio::test]
async fn a_lua_node_that_disagrees_gets_an_error_naming_service_and_method() {
    let (_server, addr, _left) = lua_server().await;
    let game = client(&[("rust1", addr)], Options::default());

    let err = lua_call(&game, &[s("destroy_room"), Value::Integer(1)])
        .await
        .expect_err("unknown method");
    assert!(
        matches!(err.kind(), ErrorKind::UnknownMethod { method } if &**method == "destroy_room"),
        "{err}"
    );

    let err = lua_call(&game, &[s("create_room"), Value::Integer(1), s("x")])
        .await
        .expect_err("arguments of the wrong types");
    let ErrorKind::Remote { text } = err.kind() else {
        panic!("a raw caller sees the error text: {err}");
    };
    assert!(
        text.contains("`create_room`") && text.contains("`battle`"),
        "{text}"
    );

    let err = lua_call(&game, &[Value::Integer(1)])
        .await
        .expect_err("no method name");
    assert!(matches!(err.kind(), ErrorKind::Remote { .. }), "{err}");
}

#[tokio::test]
async fn a_rust_client_of_a_lua_codec_trait_calls_rust_and_lua_services_alike() {
    // A Rust implementation, through the typed client.
    let (_server, rust_addr, _left) = lua_server().await;

    // A Lua service, played by a raw handler that speaks as Skynet would.
    let lua = Cluster::new(Config::new());
    lua.set_name("lua1").expect("fresh cluster");
    let lua_addr = lua.listen("127.0.0.1:0").await.expect("listen");
    let handle = lua.spawn_handler(|req: Request| async move {
        let args = luaseri::unpack(req.payload()).map_err(|e| HandlerError::new(e.to_string()))?;
        let reply = match args.first().and_then(Value::as_str) {
            // return nil, "room is full"
            Some("create_room") => vec![Value::Nil, s("room is full")],
            // return "lua arena", 5
            Some("info") => vec![s("lua arena"), Value::Integer(5)],
            // return "hi " .. name
            Some("greet") => vec![s("hi from lua")],
            _ => return Err(HandlerError::new("lua.lua:1: bad method")),
        };
        Ok(pack(&reply))
    });
    lua.register_name("battle", handle).expect("register");

    let game = client(
        &[("rust1", rust_addr), ("lua1", lua_addr)],
        Options::default(),
    );
    let rust = game.proxy::<dyn LuaBattle>("rust1", "@battle");
    let lua_client = game.proxy::<dyn LuaBattle>("lua1", "@battle");

    assert_eq!(
        bounded("rust room", rust.create_room("duel".into(), vec![4, 5]))
            .await
            .expect("call"),
        Ok(9)
    );
    assert_eq!(
        bounded("rust no room", rust.create_room("duel".into(), vec![]))
            .await
            .expect("call"),
        Err("no players for duel".to_owned())
    );
    assert_eq!(
        bounded("rust info", rust.info()).await.expect("call"),
        ("arena".to_owned(), 3)
    );
    assert_eq!(
        bounded("lua room", lua_client.create_room("duel".into(), vec![1]))
            .await
            .expect("call"),
        Err("room is full".to_owned())
    );
    assert_eq!(
        bounded("lua info", lua_client.info()).await.expect("call"),
        ("lua arena".to_owned(), 5)
    );
    assert_eq!(
        bounded("lua greet", lua_client.greet(None))
            .await
            .expect("call"),
        "hi from lua"
    );
    lua_client
        .left(1, 2)
        .expect("a push to a live node is queued");
}

// ---- variadic methods and error frames, as Lua nodes see them ----

/// What Lua services commonly accept and answer: `...` in, any number of
/// values out, and `error(...)`.
#[skycluster::service(codec = lua, name = "router")]
pub trait Router {
    /// `function(...) return ... end`
    async fn echo(&self, args: Values) -> Values;
    /// `function(room, ...) return room, select("#", ...), ... end`
    async fn route(&self, room: u32, rest: Values) -> (u32, usize, Values);
    /// `error(...)` when `n` is negative, `return nil, err` above 100.
    async fn check(&self, n: i64) -> Result<Result<i64, String>, HandlerError>;
    /// `error(...)` always, with the values it got in the message.
    async fn refuse(&self, why: Values) -> Result<(), HandlerError>;
    #[push]
    async fn notify(&self, args: Values);
}

struct RouterImpl {
    notified: mpsc::UnboundedSender<Values>,
}

#[skycluster::async_trait]
impl Router for RouterImpl {
    async fn echo(&self, args: Values) -> Values {
        args
    }

    async fn route(&self, room: u32, rest: Values) -> (u32, usize, Values) {
        (room, rest.len(), rest)
    }

    async fn check(&self, n: i64) -> Result<Result<i64, String>, HandlerError> {
        if n < 0 {
            return Err(format!("check: {n} is negative").into());
        }
        Ok(if n > 100 {
            Err(format!("{n} is too big"))
        } else {
            Ok(n)
        })
    }

    async fn refuse(&self, why: Values) -> Result<(), HandlerError> {
        Err(HandlerError::new(format!("refused: {why}")))
    }

    async fn notify(&self, args: Values) {
        let _ = self.notified.send(args);
    }
}

async fn router_server() -> (Cluster, SocketAddr, mpsc::UnboundedReceiver<Values>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (cluster, addr) = serve::<dyn Router>("rust1", Arc::new(RouterImpl { notified: tx })).await;
    (cluster, addr, rx)
}

/// `cluster.call("rust1", "@router", ...)` from Lua.
async fn router_call(game: &Cluster, values: &[Value]) -> Result<Vec<Value>, CallError> {
    let reply = bounded("lua call", game.call("rust1", "@router", pack(values))).await?;
    Ok(luaseri::unpack(&reply).expect("the reply is lua-seri"))
}

fn int(i: i64) -> Value {
    Value::Integer(i)
}

#[tokio::test]
async fn a_lua_node_calls_variadic_methods_and_every_nil_is_kept() {
    let (_server, addr, mut notified) = router_server().await;
    let game = client(&[("rust1", addr)], Options::default());
    let nil = Value::Nil;

    // No arguments, and `return` with no values.
    assert_eq!(router_call(&game, &[s("echo")]).await.expect("call"), []);
    // Nils between and at the end travel both ways.
    let args = [int(1), nil.clone(), s("x"), nil.clone(), nil.clone()];
    let mut call = vec![s("echo")];
    call.extend(args.iter().cloned());
    assert_eq!(router_call(&game, &call).await.expect("call"), args);
    let table = array(vec![int(1), int(2)]);
    let reply = router_call(&game, &[s("echo"), table.clone(), Value::Boolean(false)]).await;
    assert_eq!(reply.expect("call"), [table, Value::Boolean(false)]);

    // A fixed parameter, then the rest; a tuple whose last is the rest.
    let reply = router_call(&game, &[s("route"), int(7)]).await;
    assert_eq!(reply.expect("call"), [int(7), int(0)]);
    let reply = router_call(&game, &[s("route"), int(7), nil.clone(), nil.clone()]).await;
    assert_eq!(
        reply.expect("call"),
        [int(7), int(2), nil.clone(), nil.clone()]
    );
    let reply = router_call(&game, &[s("route"), int(7), s("a"), int(2)]).await;
    assert_eq!(reply.expect("call"), [int(7), int(2), s("a"), int(2)]);
    let err = router_call(&game, &[s("route"), s("seven")])
        .await
        .expect_err("a fixed parameter of the wrong type");
    assert!(
        matches!(err.kind(), ErrorKind::Remote { text } if text.contains("`route`")),
        "{err}"
    );

    // cluster.send("rust1", "@router", "notify", 1, nil)
    game.send(
        "rust1",
        "@router",
        pack(&[s("notify"), int(1), nil.clone()]),
    )
    .expect("queued");
    let got = bounded("push", notified.recv()).await.expect("a push");
    assert_eq!(got, Values::from(vec![int(1), nil]));
}

#[tokio::test]
async fn a_method_that_raises_answers_lua_with_an_error_frame() {
    let (_server, addr, _notified) = router_server().await;
    let game = client(&[("rust1", addr)], Options::default());

    assert_eq!(
        router_call(&game, &[s("check"), int(5)])
            .await
            .expect("call"),
        [int(5)]
    );
    // The inner `Err` is still Lua's `return nil, err`...
    assert_eq!(
        router_call(&game, &[s("check"), int(500)])
            .await
            .expect("call"),
        [Value::Nil, s("500 is too big")]
    );
    // ...and the outer one an error frame, what `error(...)` sends.
    let err = router_call(&game, &[s("check"), int(-1)])
        .await
        .expect_err("an error frame");
    assert!(
        matches!(err.kind(), ErrorKind::Remote { text } if &**text == "check: -1 is negative"),
        "{err}"
    );
    let err = router_call(&game, &[s("refuse"), s("closed"), Value::Nil, int(3)])
        .await
        .expect_err("an error frame");
    assert!(
        matches!(err.kind(), ErrorKind::Remote { text } if &**text == r#"refused: "closed", nil, 3"#),
        "{err}"
    );
    // The connection goes on serving.
    assert_eq!(
        router_call(&game, &[s("echo"), int(1)])
            .await
            .expect("call"),
        [int(1)]
    );
}

#[tokio::test]
async fn a_rust_client_calls_variadic_and_raising_methods_of_rust_and_lua_services() {
    let (_server, rust_addr, _notified) = router_server().await;

    // A Lua router, played by a raw handler that speaks as Skynet would.
    let lua = Cluster::new(Config::new());
    lua.set_name("lua1").expect("fresh cluster");
    let lua_addr = lua.listen("127.0.0.1:0").await.expect("listen");
    let handle = lua.spawn_handler(|req: Request| async move {
        let mut args =
            luaseri::unpack(req.payload()).map_err(|e| HandlerError::new(e.to_string()))?;
        let method = args.remove(0);
        match method.as_str() {
            // return ...
            Some("echo") => Ok(pack(&args)),
            // return room, select("#", ...), ...
            Some("route") => {
                let mut reply = vec![args[0].clone(), int(args.len() as i64 - 1)];
                reply.extend(args.into_iter().skip(1));
                Ok(pack(&reply))
            }
            // error("lua.lua:9: no check here")
            _ => Err(HandlerError::new("lua.lua:9: no check here")),
        }
    });
    lua.register_name("router", handle).expect("register");

    let game = client(
        &[("rust1", rust_addr), ("lua1", lua_addr)],
        Options::default(),
    );
    let values = Values::from(vec![int(1), Value::Nil, s("x"), Value::Nil]);
    for node in ["rust1", "lua1"] {
        let router = game.proxy::<dyn Router>(node, "@router");
        let echoed = bounded("echo", router.echo(values.clone())).await;
        assert_eq!(echoed.expect("echo"), values, "{node}");
        let none = bounded("echo nothing", router.echo(Values::new())).await;
        assert!(none.expect("echo").is_empty(), "{node}");
        let routed = bounded("route", router.route(9, values.clone())).await;
        assert_eq!(routed.expect("route"), (9, 4, values.clone()), "{node}");
    }

    let rust = game.proxy::<dyn Router>("rust1", "@router");
    assert_eq!(bounded("check", rust.check(5)).await.expect("call"), Ok(5));
    assert_eq!(
        bounded("check", rust.check(500)).await.expect("call"),
        Err("500 is too big".to_owned())
    );
    // An error frame is the call's error, with the method's text.
    let err = bounded("check", rust.check(-1))
        .await
        .expect_err("an error frame");
    assert!(
        matches!(err.kind(), ErrorKind::Remote { text } if &**text == "check: -1 is negative"),
        "{err}"
    );
    assert_eq!(err.method(), Some("check"));
    let lua_router = game.proxy::<dyn Router>("lua1", "@router");
    let err = bounded("lua check", lua_router.check(1))
        .await
        .expect_err("Lua raised");
    assert!(
        matches!(err.kind(), ErrorKind::Remote { text } if &**text == "lua.lua:9: no check here"),
        "{err}"
    );
    rust.notify(values)
        .expect("a push to a live node is queued");
}

/// A bincode service fails the same way.
#[skycluster::service(name = "vault")]
pub trait Vault {
    async fn open(&self, code: u32) -> Result<String, HandlerError>;
}

struct VaultImpl;

#[skycluster::async_trait]
impl Vault for VaultImpl {
    async fn open(&self, code: u32) -> Result<String, HandlerError> {
        match code {
            1234 => Ok("gold".to_owned()),
            _ => Err(format!("wrong code {code}").into()),
        }
    }
}

#[tokio::test]
async fn a_bincode_method_that_raises_answers_with_an_error_frame() {
    let (_server, addr) = serve::<dyn Vault>("bank1", Arc::new(VaultImpl)).await;
    let game = client(&[("bank1", addr)], Options::default());
    let vault = game.proxy::<dyn Vault>("bank1", "@vault");
    assert_eq!(
        bounded("open", vault.open(1234)).await.expect("call"),
        "gold"
    );
    let err = bounded("open", vault.open(1))
        .await
        .expect_err("an error frame");
    assert!(
        matches!(err.kind(), ErrorKind::Remote { text } if &**text == "wrong code 1"),
        "{err}"
    );
    assert_eq!(err.method(), Some("open"));
    // A raw caller sees the frame too.
    let call = Bincode::encode_call("open", &(7u32,)).expect("encodes");
    let err = bounded("raw open", game.call("bank1", "@vault", call))
        .await
        .expect_err("an error frame");
    assert!(
        matches!(err.kind(), ErrorKind::Remote { text } if &**text == "wrong code 7"),
        "{err}"
    );
}

// ---- what spawn takes ----

#[tokio::test]
async fn spawn_takes_an_implementation_an_arc_of_one_or_an_arc_dyn() {
    let server = Cluster::new(Config::new());
    server.set_name("bank1").expect("fresh cluster");
    let addr = server.listen("127.0.0.1:0").await.expect("listen");
    let shared = Arc::new(VaultImpl);
    let dynamic: Arc<dyn Vault> = Arc::new(VaultImpl);
    let handles = [
        server.spawn::<dyn Vault>(VaultImpl),
        server.spawn::<dyn Vault>(Arc::clone(&shared)),
        server.spawn::<dyn Vault>(dynamic),
    ];
    // The service holds its own reference to a shared implementation.
    assert_eq!(Arc::strong_count(&shared), 2);
    let game = client(&[("bank1", addr)], Options::default());
    for (i, handle) in handles.into_iter().enumerate() {
        let name = format!(".vault{i}");
        server.name(&name, handle).expect("a valid name");
        let vault = game.proxy::<dyn Vault>("bank1", name.as_str());
        let opened = bounded("open", vault.open(1234)).await;
        assert_eq!(opened.expect("call"), "gold", "{name}");
    }
}
