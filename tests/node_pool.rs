//! `Cluster::pool`: one client over every node that serves a service,
//! over real TCP on 127.0.0.1. Who serves is found by name queries (no
//! membership source here; the etcd suite covers a pool fed by etcd).

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use skycluster::{Cluster, Config, ErrorKind, Options};

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
    opened: AtomicU32,
    notes: tokio::sync::mpsc::UnboundedSender<String>,
}

#[skycluster::async_trait]
impl Rooms for Node {
    async fn whoami(&self) -> String {
        self.name.clone()
    }

    async fn open(&self) -> String {
        self.opened.fetch_add(1, Ordering::Relaxed);
        self.name.clone()
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
        opened: AtomicU32::new(0),
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

#[tokio::test]
async fn an_idempotent_call_is_retried_elsewhere_when_its_node_is_gone() {
    let (notes, _) = tokio::sync::mpsc::unbounded_channel();
    let b1 = server("battle1", &notes).await;
    let b2 = server("battle2", &notes).await;
    let game = client_of(&[&b1, &b2], &[]);
    let rooms = game.pool::<dyn Rooms>();
    let counts = bounded("first calls", spread(&rooms, 40)).await;
    assert_eq!(counts.len(), 2, "{counts:?}");

    b1.cluster.shutdown(Duration::from_secs(1)).await;
    // Half the calls pick battle1 first while the pool still lists it:
    // each of those is retried on battle2, so every call succeeds.
    for i in 0..100 {
        let answer = bounded("whoami", rooms.whoami()).await;
        assert_eq!(answer.expect("retried elsewhere"), "battle2", "call {i}");
    }
    // And some call did go to battle1 first: its sender saw the failure.
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
async fn a_call_that_is_not_idempotent_is_never_retried() {
    let (notes, _) = tokio::sync::mpsc::unbounded_channel();
    let b1 = server("battle1", &notes).await;
    let b2 = server("battle2", &notes).await;
    let game = client_of(&[&b1, &b2], &[]);
    let rooms = game.pool::<dyn Rooms>();
    bounded("first calls", spread(&rooms, 40)).await;

    b1.cluster.shutdown(Duration::from_secs(1)).await;
    let opened_before = b2.node.opened.load(Ordering::Relaxed);
    let (mut failed, mut ok) = (Vec::new(), 0);
    for _ in 0..100 {
        match bounded("open", rooms.open()).await {
            Ok(node) => {
                assert_eq!(node, "battle2");
                ok += 1;
            }
            Err(e) => failed.push(e),
        }
        if !failed.is_empty() && ok >= 10 {
            break;
        }
    }
    let first = failed.first().expect("some call picked battle1 and failed");
    assert_eq!(first.node(), "battle1", "{first}");
    assert_eq!(first.method(), Some("open"));
    assert!(
        matches!(
            first.kind(),
            ErrorKind::Connect { .. } | ErrorKind::Disconnected { .. }
        ),
        "{first}"
    );
    assert!(failed.iter().all(|e| e.node() == "battle1"), "{failed:?}");
    // battle2 ran exactly the calls that succeeded: none twice.
    let opened = b2.node.opened.load(Ordering::Relaxed) - opened_before;
    assert_eq!(opened as usize, ok);
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
