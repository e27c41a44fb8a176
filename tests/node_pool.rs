//! `Cluster::pool`: one client over every node that serves a service,
//! over real TCP on 127.0.0.1. Who serves is found by name queries (no
//! membership source here; the etcd suite covers a pool fed by etcd).

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use skycluster::{CallError, Cluster, Config, ErrorKind, Options};

use support::fault_proxy::{FaultProxy, Mode};
use support::node::{bounded, named_node};

#[skycluster::service]
pub trait Rooms {
    /// Which node answered.
    #[idempotent]
    async fn whoami(&self) -> String;
    /// Which node answered; counted, and not idempotent.
    async fn open(&self) -> String;
    #[push]
    async fn note(&self, text: String);
}

struct Node {
    name: String,
    /// Calls received (either method).
    calls: AtomicU32,
    /// Whether calls hang until the node goes down.
    hang: AtomicBool,
    notes: tokio::sync::mpsc::UnboundedSender<String>,
}

impl Node {
    async fn answer(&self) -> String {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.hang.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
        self.name.clone()
    }
}

#[skycluster::async_trait]
impl Rooms for Node {
    async fn whoami(&self) -> String {
        self.answer().await
    }

    async fn open(&self) -> String {
        self.answer().await
    }

    async fn note(&self, text: String) {
        let _ = self.notes.send(format!("{}: {text}", self.name));
    }
}

struct Server {
    cluster: Cluster,
    addr: SocketAddr,
    node: Arc<Node>,
}

/// A node named `name` serving `Rooms`, registered, on an ephemeral port.
async fn server(name: &str, notes: &tokio::sync::mpsc::UnboundedSender<String>) -> Server {
    let (cluster, addr) = named_node(name, Config::new()).await;
    let node = Arc::new(Node {
        name: name.to_owned(),
        calls: AtomicU32::new(0),
        hang: AtomicBool::new(false),
        notes: notes.clone(),
    });
    let handle = cluster.spawn::<dyn Rooms>(Arc::clone(&node));
    cluster.register::<dyn Rooms>(handle).expect("register");
    Server {
        cluster,
        addr,
        node,
    }
}

/// A client node whose config lists every server, plus `extra`.
fn client_of(servers: &[&Server], extra: &[(&str, SocketAddr)]) -> Cluster {
    let mut config = Config::new();
    for s in servers {
        config = config.with_node(s.node.name.clone(), s.addr.to_string());
    }
    for (name, addr) in extra {
        config = config.with_node(*name, addr.to_string());
    }
    Cluster::with_options(config, Options::default())
}

/// Calls `whoami` `n` times, 20 at a time, and counts the answers.
async fn spread(rooms: &RoomsClient, n: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for _ in 0..n / 20 {
        let calls = (0..20).map(|_| rooms.whoami());
        for answer in futures_util::future::join_all(calls).await {
            *counts.entry(answer.expect("whoami")).or_default() += 1;
        }
    }
    counts
}

#[tokio::test]
async fn a_pool_spreads_calls_over_every_node_that_serves_the_service() {
    let (notes, _) = tokio::sync::mpsc::unbounded_channel();
    let b1 = server("battle1", &notes).await;
    let b2 = server("battle2", &notes).await;
    let b3 = server("battle3", &notes).await;
    // A node that serves something else.
    let (_other, other_addr) = named_node("db", Config::new()).await;
    let game = client_of(&[&b1, &b2, &b3], &[("db", other_addr)]);

    let rooms = game.pool::<dyn Rooms>();
    let counts = bounded("300 calls", spread(&rooms, 300)).await;
    assert_eq!(
        counts.keys().cloned().collect::<Vec<_>>(),
        ["battle1", "battle2", "battle3"],
        "{counts:?}"
    );
    // Three ways, each far from none: 100 each on average.
    assert!(counts.values().all(|&n| n >= 40), "{counts:?}");
    assert_eq!(
        rooms.endpoint().pool_nodes(),
        Some(vec!["battle1".into(), "battle2".into(), "battle3".into()])
    );
    assert_eq!(rooms.endpoint().node(), "*");
}

/// Two nodes serving `Rooms`, a client with a pool of them, and 20 calls
/// at once of `whoami` (idempotent) or `open` (not), of which those that
/// reach battle1 hang there until it goes down: the outcomes of all 20,
/// and how many of them battle2 ran. battle1 is reached through a proxy,
/// and goes down as a crashed host does: every connection cut.
async fn battle1_dies_under(idempotent: bool) -> (Vec<Result<String, CallError>>, u32) {
    let (notes, _) = tokio::sync::mpsc::unbounded_channel();
    let b1 = server("battle1", &notes).await;
    let b2 = server("battle2", &notes).await;
    let proxy = FaultProxy::start(b1.addr).await;
    let game = client_of(&[&b2], &[("battle1", proxy.addr)]);
    let rooms = game.pool::<dyn Rooms>();
    bounded("first calls", spread(&rooms, 40)).await;
    b1.node.hang.store(true, Ordering::Relaxed);
    let (b1_before, b2_before) = (
        b1.node.calls.load(Ordering::Relaxed),
        b2.node.calls.load(Ordering::Relaxed),
    );
    // Of 20 calls started at once, about half pick battle1.
    let calls = futures_util::future::join_all((0..20).map(|_| {
        let rooms = rooms.clone();
        async move {
            if idempotent {
                rooms.whoami().await
            } else {
                rooms.open().await
            }
        }
    }));
    let battle1_goes_down = async {
        while b1.node.calls.load(Ordering::Relaxed) == b1_before {
            tokio::task::yield_now().await;
        }
        proxy.set(Mode::Cut);
    };
    let (outcomes, ()) =
        bounded("20 calls", async { tokio::join!(calls, battle1_goes_down) }).await;
    (outcomes, b2.node.calls.load(Ordering::Relaxed) - b2_before)
}

#[tokio::test]
async fn an_idempotent_call_runs_again_elsewhere_when_its_connection_drops() {
    let (outcomes, _) = battle1_dies_under(true).await;
    for outcome in outcomes {
        assert_eq!(outcome.expect("run again on battle2"), "battle2");
    }
}

#[tokio::test]
async fn a_call_that_is_not_idempotent_is_never_run_twice() {
    let (outcomes, ran_on_battle2) = battle1_dies_under(false).await;
    let (ok, failed): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(Result::is_ok);
    let first = failed.first().expect("a call was held by battle1");
    let first = first.as_ref().expect_err("failed");
    assert_eq!(first.node(), "battle1", "{first}");
    assert_eq!(first.method(), Some("open"));
    for e in &failed {
        let e = e.as_ref().expect_err("failed");
        assert!(matches!(e.kind(), ErrorKind::Disconnected { .. }), "{e}");
    }
    // battle2 ran exactly the calls that succeeded: none a second time.
    assert_eq!(ran_on_battle2 as usize, ok.len());
}

#[tokio::test]
async fn a_call_that_never_left_goes_to_another_node_whatever_its_method() {
    let (notes, _) = tokio::sync::mpsc::unbounded_channel();
    let b1 = server("battle1", &notes).await;
    let b2 = server("battle2", &notes).await;
    let game = client_of(&[&b1, &b2], &[]);
    let rooms = game.pool::<dyn Rooms>();
    bounded("first calls", spread(&rooms, 40)).await;
    b1.cluster.shutdown(Duration::from_secs(1)).await;
    // The pool still lists battle1: a call that picks it cannot connect,
    // and goes to battle2 instead, `open` (not idempotent) included.
    for i in 0..100 {
        let answer = bounded("open", rooms.open()).await;
        assert_eq!(answer.expect("sent to battle2"), "battle2", "call {i}");
    }
    // And some call did pick battle1 first: its sender saw the failure.
    let status = game.status();
    let battle1 = status
        .nodes
        .iter()
        .find(|n| n.name == "battle1")
        .expect("battle1 in the config");
    assert!(
        battle1.last_error.is_some(),
        "no call tried battle1: {battle1:?}"
    );
}

#[tokio::test]
async fn a_pool_follows_a_reload_without_being_rebuilt() {
    let (notes, _) = tokio::sync::mpsc::unbounded_channel();
    let b1 = server("battle1", &notes).await;
    let game = client_of(&[&b1], &[]);
    let rooms = game.pool::<dyn Rooms>();
    let counts = bounded("calls", spread(&rooms, 20)).await;
    assert_eq!(counts.keys().collect::<Vec<_>>(), ["battle1"]);

    let b2 = server("battle2", &notes).await;
    game.reload_with(Config::new().with_node("battle2", b2.addr.to_string()));
    let counts = bounded("calls after the reload", spread(&rooms, 200)).await;
    assert_eq!(
        counts.keys().collect::<Vec<_>>(),
        ["battle1", "battle2"],
        "{counts:?}"
    );
}

#[tokio::test]
async fn a_pool_that_finds_nobody_says_where_it_looked() {
    let (_a, a) = named_node("battle1", Config::new()).await;
    let (_b, b) = named_node("battle2", Config::new()).await;
    let game = Cluster::new(
        Config::new()
            .with_node("battle1", a.to_string())
            .with_node("battle2", b.to_string()),
    );
    let e = bounded("call", game.pool::<dyn Rooms>().whoami())
        .await
        .expect_err("nobody serves Rooms");
    assert!(matches!(e.kind(), ErrorKind::Unavailable { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "call to node `*` address `@Rooms` method `whoami` failed: no node serves `Rooms`: \
         none of the 2 nodes in the config has it registered"
    );
    // A raw pool says the same.
    let e = bounded("raw call", game.pool_endpoint("@Rooms").call(Bytes::new()))
        .await
        .expect_err("nobody serves Rooms");
    assert!(matches!(e.kind(), ErrorKind::Unavailable { .. }), "{e}");
}

#[tokio::test]
async fn a_push_through_a_pool_reaches_a_serving_node() {
    let (notes, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let b1 = server("battle1", &notes).await;
    let b2 = server("battle2", &notes).await;
    let game = client_of(&[&b1, &b2], &[]);
    let rooms = game.pool::<dyn Rooms>();
    // Before the pool has looked, a push has nowhere to go (it never waits).
    let e = rooms.note("early".into()).expect_err("not looked yet");
    assert!(matches!(e.kind(), ErrorKind::Unavailable { .. }), "{e}");
    bounded("a call", rooms.whoami()).await.expect("whoami");
    rooms.note("hello".into()).expect("pushed");
    let heard = bounded("the push", heard.recv()).await.expect("a note");
    assert!(
        heard == "battle1: hello" || heard == "battle2: hello",
        "{heard}"
    );
}
