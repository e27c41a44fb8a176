//! Deadlines that travel between Rust nodes: a chain game → battle → db
//! where the first caller's 200 ms ends the third node's work; the
//! deadline readable in a handler; a request whose deadline had passed
//! when it arrived is not run; and a node with extensions off, or a Lua
//! node (tests/skynet_calls.rs), sees exactly Skynet's bytes.

mod support;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use skycluster::wire::encode_deadline;
use skycluster::{Cluster, Config, ErrorKind, HandlerError, Options, Request};
use tokio::sync::mpsc;
use tokio::time::Instant;

use support::node::{bounded, client, named_node};
use support::raw::{request, Raw};

/// The third node's service.
#[skycluster::service]
trait Db {
    /// The milliseconds left to the caller's deadline, as the handler sees
    /// them, or `None` without one.
    async fn left(&self) -> Option<u64>;
    /// Works until dropped.
    async fn save(&self) -> u32;
}

/// The second node's service, calling the third.
#[skycluster::service]
trait Battle {
    /// Its own time left, and what `db` saw of the time left.
    async fn left(&self) -> (Option<u64>, Option<u64>);
    /// Calls `db.save`, and says how that call ended.
    async fn create_room(&self) -> String;
}

/// Tells the test when its `save` is dropped.
struct Dropped(mpsc::UnboundedSender<&'static str>);

impl Drop for Dropped {
    fn drop(&mut self) {
        let _ = self.0.send("save dropped");
    }
}

struct DbImpl {
    dropped: mpsc::UnboundedSender<&'static str>,
}

fn millis_left() -> Option<u64> {
    skycluster::deadline().map(|at| {
        at.saturating_duration_since(Instant::now())
            .as_millis()
            .try_into()
            .unwrap_or(u64::MAX)
    })
}

#[skycluster::async_trait]
impl Db for DbImpl {
    async fn left(&self) -> Option<u64> {
        millis_left()
    }

    async fn save(&self) -> u32 {
        let _guard = Dropped(self.dropped.clone());
        std::future::pending::<()>().await;
        0
    }
}

struct BattleImpl {
    cluster: Cluster,
}

impl BattleImpl {
    fn db(&self) -> DbClient {
        self.cluster.proxy::<dyn Db>("db", "@Db")
    }
}

#[skycluster::async_trait]
impl Battle for BattleImpl {
    async fn left(&self) -> (Option<u64>, Option<u64>) {
        let own = millis_left();
        (own, self.db().left().await.ok().flatten())
    }

    async fn create_room(&self) -> String {
        match self.db().save().await {
            Ok(n) => format!("saved {n}"),
            Err(e) => e.to_string(),
        }
    }
}

/// `db` and `battle` nodes, and a `game` client with `options`.
struct Chain {
    game: Cluster,
    _battle: Cluster,
    _db: Cluster,
    dropped: mpsc::UnboundedReceiver<&'static str>,
}

async fn chain(game_options: Options) -> Chain {
    let (db, db_addr) = named_node("db", Config::new()).await;
    let (tx, dropped) = mpsc::unbounded_channel();
    let handle = db.spawn::<dyn Db>(DbImpl { dropped: tx });
    db.register::<dyn Db>(handle).expect("register");
    let (battle, battle_addr) =
        named_node("battle", Config::new().with_node("db", db_addr.to_string())).await;
    let handle = battle.spawn::<dyn Battle>(BattleImpl {
        cluster: battle.clone(),
    });
    battle.register::<dyn Battle>(handle).expect("register");
    let game = client(&[("battle", battle_addr)], game_options);
    Chain {
        game,
        _battle: battle,
        _db: db,
        dropped,
    }
}

/// Calls `battle.left` until both hops carry a deadline, each call a
/// round trip: the nodes agree on extensions once per connection, and the
/// first call of a connection may leave before the answer. Bounded.
async fn until_both_hops_carry_deadlines(battle: &BattleClient) -> (u64, u64) {
    for _ in 0..100 {
        if let (Some(own), Some(db)) = bounded("left", battle.left()).await.expect("left") {
            return (own, db);
        }
    }
    panic!("no deadline reached both hops in 100 round trips");
}

#[tokio::test]
async fn the_first_callers_deadline_ends_the_third_nodes_work() {
    let mut chain = chain(Options::default()).await;
    let battle = chain.game.proxy::<dyn Battle>("battle", "@Battle");
    let (own, db) = until_both_hops_carry_deadlines(&battle).await;
    // The default 30 s, less the hop each time it is passed on.
    assert!(own <= 30_000 && own > 29_000, "battle saw {own} ms");
    assert!(db < own, "db saw {db} ms, battle {own} ms");

    let quick = battle.with_timeout(Duration::from_millis(200));
    let started = Instant::now();
    // battle's call to db inherited what was left of the 200 ms, less the
    // hop, so it timed out first, and battle could still say so in time.
    match bounded("create_room", quick.create_room()).await {
        Ok(account) => {
            assert!(
                account.contains("timed out") && account.contains("method `save`"),
                "{account}"
            );
            let limit = account
                .split("(timeout ")
                .nth(1)
                .and_then(|rest| rest.split("ms)").next())
                .and_then(|ms| ms.parse::<f64>().ok())
                .unwrap_or_else(|| panic!("no timeout in {account}"));
            assert!(limit < 200.0, "db's call was given {limit} ms");
        }
        // Or battle's own reply came too late for the caller.
        Err(err) => assert!(
            matches!(err.kind(), ErrorKind::Timeout { .. }),
            "the caller times out: {err}"
        ),
    }
    // db's work is dropped when the deadline it was given passes, which
    // is no later than the first caller's.
    assert_eq!(
        bounded("db's work dropped", chain.dropped.recv()).await,
        Some("save dropped")
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "dropped only after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_handler_sees_the_callers_time_and_passes_on_less() {
    let chain = chain(Options::default()).await;
    let battle = chain
        .game
        .proxy::<dyn Battle>("battle", "@Battle")
        .with_timeout(Duration::from_secs(3));
    let (own, db) = until_both_hops_carry_deadlines(&battle).await;
    assert!(own <= 3_000 && own > 2_000, "battle saw {own} ms of 3 s");
    assert!(db < own, "db saw {db} ms, battle {own} ms");
    // Outside a handler there is none.
    assert!(skycluster::deadline().is_none());
}

#[tokio::test]
async fn with_extensions_off_the_caller_sends_no_deadline() {
    let chain = chain(Options::default().with_extensions(false)).await;
    let battle = chain
        .game
        .proxy::<dyn Battle>("battle", "@Battle")
        .with_timeout(Duration::from_secs(3));
    for _ in 0..3 {
        let (own, _) = bounded("left", battle.left()).await.expect("left");
        assert_eq!(own, None, "a deadline came from a node with extensions off");
    }
}

/// Frames by hand: a deadline of 0 before one request, none before the
/// next. The first is not run and not answered; the second is.
#[tokio::test]
async fn a_request_whose_deadline_passed_before_it_arrived_is_not_run() {
    let server = Cluster::new(Config::new());
    let addr = bounded("listen", server.listen("127.0.0.1:0"))
        .await
        .expect("listen");
    let (ran, mut runs) = mpsc::unbounded_channel();
    let echo = server.spawn_handler(move |req: Request| {
        let ran = ran.clone();
        async move {
            let _ = ran.send(req.payload().clone());
            Ok::<_, HandlerError>(req.into_payload())
        }
    });
    server.register_name("echo", echo).expect("register");

    let mut raw = Raw::connect(addr).await;
    let mut frames = BytesMut::new();
    encode_deadline(&mut frames, 0);
    frames.extend_from_slice(&request("@echo", 1, Bytes::from_static(b"late")));
    encode_deadline(&mut frames, 5_000);
    frames.extend_from_slice(&request("@echo", 2, Bytes::from_static(b"in time")));
    frames.extend_from_slice(&request("@echo", 3, Bytes::from_static(b"no deadline")));
    raw.write(&frames).await;
    let first = raw.reply().await;
    assert_eq!(first.session, 2, "session 1 was answered");
    assert_eq!(first.result.as_deref(), Ok(&b"in time"[..]));
    let second = raw.reply().await;
    assert_eq!(second.session, 3);
    assert_eq!(
        bounded("runs", runs.recv()).await.as_deref(),
        Some(&b"in time"[..])
    );
    assert_eq!(
        bounded("runs", runs.recv()).await.as_deref(),
        Some(&b"no deadline"[..])
    );
}

/// A node with extensions off offered none: a deadline frame sent anyway
/// is dropped, and the request after it runs as any other.
#[tokio::test]
async fn a_node_that_offers_no_extensions_drops_their_frames() {
    let server = Cluster::with_options(Config::new(), Options::default().with_extensions(false));
    let addr = bounded("listen", server.listen("127.0.0.1:0"))
        .await
        .expect("listen");
    let echo = server.spawn_handler(|_req: Request| async move {
        let saw = skycluster::deadline().is_some();
        Ok::<_, HandlerError>(Bytes::from_static(if saw { b"deadline" } else { b"none" }))
    });
    server.register_name("echo", echo).expect("register");
    let mut raw = Raw::connect(addr).await;
    let mut frames = BytesMut::new();
    encode_deadline(&mut frames, 0);
    frames.extend_from_slice(&request("@echo", 1, Bytes::from_static(b"x")));
    raw.write(&frames).await;
    let reply = raw.reply().await;
    assert_eq!(reply.session, 1);
    assert_eq!(reply.result.as_deref(), Ok(&b"none"[..]));
}
