//! Peers that die, restart and move: no call is lost track of.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use skycluster::{CallError, Cluster, Config, ErrorKind, Options};
use tokio::net::TcpSocket;

use support::fault_proxy::{FaultProxy, Mode};
use support::node::{
    bounded, client, connected, echo_server, in_flight_at_least, pack, s, sink_server,
};
use support::process::NodeProcess;

/// The resolution of tokio's timers: on a paused clock a deadline fires
/// at its instant rounded up to this (to the tick after it when the clock
/// was paused between two ticks).
const TICK: Duration = Duration::from_millis(1);

/// Checks that `err` is a timeout of `limit` that came at its deadline,
/// by a paused clock: never early, and at most a tick late. Returns how
/// long the call waited, by its error.
fn assert_timed_out_at(err: &CallError, limit: Duration) -> Duration {
    match err.kind() {
        ErrorKind::Timeout { elapsed, limit: l } => {
            assert_eq!(*l, limit, "{err}");
            assert!(
                *elapsed >= limit && *elapsed <= limit + TICK,
                "timed out after {elapsed:?}, limit {limit:?}"
            );
            *elapsed
        }
        _ => panic!("expected a timeout: {err}"),
    }
}

/// Lets the runtime's other tasks take turns, without time passing,
/// until `holds` is true or a thousand turns have gone by; whether it
/// held. (`tokio::time::advance` fires the timers due, but returns before
/// the tasks they woke have run.)
async fn settles(holds: impl Fn() -> bool) -> bool {
    for _ in 0..1000 {
        if holds() {
            return true;
        }
        tokio::task::yield_now().await;
    }
    holds()
}

/// The connect error `err` carries, to tell one connect attempt's error
/// from another's.
fn connect_error(err: &CallError) -> Arc<std::io::Error> {
    match err.kind() {
        ErrorKind::Connect { reason, .. } => Arc::clone(reason),
        _ => panic!("expected a connect error: {err}"),
    }
}

/// A port on 127.0.0.1 that refuses connections, held so that nobody
/// else takes it: bound but not listening. (`SO_REUSEADDR` lets a
/// listener bind it later, while the socket holds it.)
fn refusing_port() -> (TcpSocket, SocketAddr) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
    socket.bind(any).expect("bind");
    let addr = socket.local_addr().expect("addr");
    (socket, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_fails_pending_calls_at_once_and_a_restart_is_picked_up() {
    let mut node = NodeProcess::start("127.0.0.1:0");
    let addr = node.addr;
    let game = client(&[("battle1", addr)], Options::default());
    bounded(
        "first call",
        game.call("battle1", "@echo", pack(&[s("hi")])),
    )
    .await
    .expect("node is up");

    // Calls that would take 10 s; the node dies under them.
    let pending: Vec<_> = (0..5)
        .map(|_| {
            let game = game.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let r = game
                    .call("battle1", ".slow", Bytes::from_static(b"10000"))
                    .await;
                (r, started.elapsed())
            })
        })
        .collect();
    // Wait until all five are on the wire.
    in_flight_at_least(&game, 5).await;
    node.kill();
    for task in pending {
        let (result, took) = bounded("pending call", task).await.expect("task");
        let err = result.expect_err("the node died");
        assert!(
            matches!(err.kind(), ErrorKind::Disconnected { .. }),
            "{err}"
        );
        assert_eq!(err.node(), "battle1");
        assert!(took < Duration::from_secs(5), "failed only after {took:?}");
    }

    // The same address again: the next call reconnects by itself. (The
    // first attempts may meet the back-off of a refused connect.)
    let _node = NodeProcess::start(&addr.to_string());
    let reply = bounded("after restart", async {
        loop {
            match game.call("battle1", "@echo", pack(&[s("back")])).await {
                Ok(reply) => break reply,
                Err(e) if matches!(e.kind(), ErrorKind::Connect { .. }) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("unexpected error after restart: {e}"),
            }
        }
    })
    .await;
    assert_eq!(reply, pack(&[s("back")]));
}

// On a paused clock: the back-off is virtual time, and the only network
// here is a connect refused as soon as it is made.
#[tokio::test(start_paused = true)]
async fn a_refusing_node_fails_fast_with_the_connect_error_for_a_back_off_that_doubles() {
    use tokio::time::{advance, Instant};

    let (_refusing, addr) = refusing_port();
    let min = Duration::from_secs(1);
    let options = Options::default()
        .with_backoff_min(min)
        .with_backoff_max(Duration::from_secs(60));
    let game = client(&[("db", addr)], options);
    let call = || bounded("call", game.call("db", "@x", Bytes::new()));

    let err = call().await.expect_err("nobody listens");
    let first = connect_error(&err);
    assert_eq!(first.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    assert!(game.status().nodes[0].last_error.is_some());
    let failed = Instant::now();

    // The first back-off is `backoff_min`, less up to a quarter (jitter).
    // Until it ends, calls fail at once, with that same error: no connect
    // is tried, and no time passes.
    advance(min * 3 / 4 - TICK).await;
    let before = Instant::now();
    let err = call().await.expect_err("backing off");
    assert!(Arc::ptr_eq(&connect_error(&err), &first), "{err}");
    assert_eq!(Instant::now(), before, "failed at once");

    // By `backoff_min` it is over: the next call tries again, is refused
    // again (a new error), and the back-off doubles.
    advance(failed + min - Instant::now()).await;
    let err = call().await.expect_err("still nobody");
    let second = connect_error(&err);
    assert!(!Arc::ptr_eq(&second, &first), "a new attempt: {err}");
    let failed = Instant::now();
    advance(min * 2 * 3 / 4 - TICK).await;
    let err = call().await.expect_err("backing off longer");
    assert!(Arc::ptr_eq(&connect_error(&err), &second), "{err}");
    advance(failed + min * 2 - Instant::now()).await;
    let err = call().await.expect_err("and still nobody");
    assert!(!Arc::ptr_eq(&connect_error(&err), &second), "tried again");
}

#[tokio::test(start_paused = true)]
async fn a_node_back_during_the_back_off_is_reached_once_it_ends() {
    use tokio::time::{advance, Instant};

    let (refusing, addr) = refusing_port();
    let min = Duration::from_secs(1);
    let options = Options::default().with_backoff_min(min);
    let game = client(&[("battle1", addr)], options);
    let echo = || bounded("echo", game.call("battle1", "@echo", pack(&[s("x")])));
    let err = echo().await.expect_err("nobody listens");
    let refused = connect_error(&err);
    let failed = Instant::now();

    // The node comes up on its port...
    let server = Cluster::new(Config::new());
    server.set_name("battle1").expect("fresh cluster");
    server
        .listen(addr)
        .await
        .expect("listen on the refusing port");
    drop(refusing);
    support::services::install(&server).expect("services");
    // ...but until the back-off ends, calls fail at once without trying it.
    advance(min * 3 / 4 - TICK).await;
    let err = echo().await.expect_err("backing off");
    assert!(Arc::ptr_eq(&connect_error(&err), &refused), "{err}");
    assert_eq!(server.status().listeners[0].connections, 0);

    advance(failed + min - Instant::now()).await;
    // Real I/O from here: a paused clock would leap to the next timer
    // whenever the runtime waited for the network.
    tokio::time::resume();
    assert_eq!(echo().await.expect("reconnected"), pack(&[s("x")]));
    assert_eq!(server.status().listeners[0].connections, 1);
}

#[tokio::test]
async fn a_call_nobody_answers_times_out_at_its_limit_and_the_probe_then_drops_the_connection() {
    // Listening, never accepting: the kernel completes connects and takes
    // the bytes, and nothing ever comes back.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr");
    let limit = Duration::from_millis(250);
    let probe_timeout = Duration::from_secs(2);
    let options = Options::default()
        .with_call_timeout(limit)
        .with_probe_timeout(probe_timeout);
    let game = client(&[("db", addr)], options);
    // Connected first, on the real clock: a push needs no answer.
    game.send("db", "@x", Bytes::new()).expect("queued");
    connected(&game, true).await;

    tokio::time::pause();
    let started = tokio::time::Instant::now();
    let err = bounded("silence", game.call("db", "@x", Bytes::new()))
        .await
        .expect_err("nobody answers");
    let elapsed = assert_timed_out_at(&err, limit);
    assert!(err.to_string().contains("(timeout 250ms)"), "{err}");
    assert_eq!(started.elapsed(), elapsed, "the call's clock is tokio's");

    // Nothing at all came back while it waited, so a liveness probe went
    // out; unanswered, it drops the connection at its deadline (give or
    // take the tick a timer rounds up to).
    let dropped = || !game.status().nodes[0].connected;
    tokio::time::advance(probe_timeout - TICK).await;
    assert!(!settles(dropped).await, "dropped early");
    tokio::time::advance(2 * TICK).await;
    assert!(settles(dropped).await, "the probe's deadline passed");
    let node = &game.status().nodes[0];
    let why = node.last_error.as_deref().unwrap_or_default();
    assert!(why.contains("liveness probe"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_moving_a_node_ends_in_flight_calls_and_new_calls_go_to_the_new_address() {
    let (_old, old_addr) = echo_server("battle1", Options::default()).await;
    let (new, new_addr) = echo_server("battle1b", Options::default()).await;
    let game = client(&[("battle1", old_addr)], Options::default());
    bounded("warm", game.call("battle1", "@echo", pack(&[s("x")])))
        .await
        .expect("old address works");

    let call = |ms: &'static str| {
        let game = game.clone();
        tokio::spawn(async move { game.call("battle1", ".slow", Bytes::from(ms)).await })
    };
    let slow: Vec<_> = (0..500).map(|_| call("5000")).collect();
    let fast: Vec<_> = (0..500).map(|_| call("0")).collect();
    // Fast calls made while slow ones wait share the old connection.
    for task in fast {
        bounded("fast call", task)
            .await
            .expect("task")
            .expect("fast calls before the move succeed");
    }
    // Every slow call is on the old connection when the node moves: the
    // fast ones are done, so these are the 500 in flight. (Waiting for 500
    // of 1000 mixed calls instead raced: a call whose task had not run yet
    // went to the new address and succeeded there.)
    in_flight_at_least(&game, 500).await;
    game.reload_with(Config::new().with_node("battle1", new_addr.to_string()));
    for task in slow {
        match bounded("in-flight call", task).await.expect("task") {
            Ok(_) => panic!("a slow call on the old connection succeeded"),
            Err(e) => assert!(
                matches!(e.kind(), ErrorKind::Disconnected { .. }),
                "unclear error: {e}"
            ),
        }
    }
    // New calls reach the new node: it counts its connections.
    bounded(
        "new address",
        game.call("battle1", "@echo", pack(&[s("y")])),
    )
    .await
    .expect("new address works");
    assert_eq!(new.status().listeners[0].connections, 1);
}

#[tokio::test]
async fn disabling_a_node_by_reload_fails_its_calls_and_reenabling_restores_them() {
    let (_server, addr) = echo_server("battle1", Options::default()).await;
    let game = client(&[("battle1", addr)], Options::default());
    bounded("up", game.call("battle1", "@echo", pack(&[s("x")])))
        .await
        .expect("works");
    game.reload_with(Config::new().with_disabled("battle1"));
    let err = bounded("disabled", game.call("battle1", "@echo", pack(&[s("x")])))
        .await
        .expect_err("disabled");
    assert!(matches!(err.kind(), ErrorKind::Disabled), "{err}");
    game.reload_with(Config::new().with_node("battle1", addr.to_string()));
    bounded("re-enabled", game.call("battle1", "@echo", pack(&[s("x")])))
        .await
        .expect("works again");
}

#[tokio::test]
async fn a_call_with_its_own_timeout_ends_with_node_address_and_elapsed_time() {
    let (_server, addr) = echo_server("battle1", Options::default()).await;
    let game = client(&[("battle1", addr)], Options::default());
    bounded("warm", game.call("battle1", "@echo", pack(&[s("w")])))
        .await
        .expect("connected");
    let limit = Duration::from_millis(100);
    let slow = game.endpoint("battle1", ".slow").with_timeout(limit);

    // Connected, on a paused clock: the call's deadline (100 ms) comes
    // before the end of the server's sleep (3 s), so once nothing else can
    // run the clock leaps to it.
    tokio::time::pause();
    let err = bounded("timeout", slow.call(Bytes::from_static(b"3000")))
        .await
        .expect_err("too slow");
    assert_timed_out_at(&err, limit);
    let text = err.to_string();
    assert!(
        text.contains("battle1") && text.contains(".slow") && text.contains("timed out"),
        "{text}"
    );
    assert!(text.contains("(timeout 100ms)"), "names the limit: {text}");
    // The server answers late; the reply is dropped and the connection
    // keeps serving (on the real clock again, for the network).
    tokio::time::advance(Duration::from_secs(3)).await;
    tokio::time::resume();
    bounded(
        "after timeout",
        game.call("battle1", "@echo", pack(&[s("z")])),
    )
    .await
    .expect("still fine");
}

#[tokio::test]
async fn a_black_holed_connection_times_calls_out_and_is_replaced_once_the_peer_is_back() {
    let (_server, addr) = echo_server("battle1", Options::default()).await;
    let proxy = FaultProxy::start(addr).await;
    let (call_timeout, probe_timeout) = (Duration::from_millis(200), Duration::from_millis(300));
    let options = Options::default()
        .with_call_timeout(call_timeout)
        .with_probe_timeout(probe_timeout);
    let game = client(&[("battle1", proxy.addr)], options);
    bounded(
        "through the proxy",
        game.call("battle1", "@echo", pack(&[s("a")])),
    )
    .await
    .expect("forwarding works");

    proxy.set(Mode::BlackHole);
    // On a paused clock from here: what the sender does next waits only on
    // its timers, which come exactly when they are due.
    tokio::time::pause();
    let err = bounded("black hole", game.call("battle1", "@echo", pack(&[s("b")])))
        .await
        .expect_err("nothing comes back");
    assert_timed_out_at(&err, call_timeout);

    // The peer is reachable again, but the old connection stays dead: only
    // the sender's liveness probe, sent as the call timed out in silence,
    // ends it, at the probe's deadline (give or take a tick).
    proxy.set(Mode::Forward);
    let dropped = || !game.status().nodes[0].connected;
    tokio::time::advance(probe_timeout - TICK).await;
    assert!(!settles(dropped).await, "dropped early");
    tokio::time::advance(2 * TICK).await;
    assert!(settles(dropped).await, "the probe failed");

    // The next call connects again, and gets through.
    tokio::time::resume();
    let reply = bounded("recovery", game.call("battle1", "@echo", pack(&[s("c")])))
        .await
        .expect("a new connection works");
    assert_eq!(reply, pack(&[s("c")]));
}

#[tokio::test]
async fn a_cut_connection_fails_pending_calls_and_the_next_call_reconnects() {
    let (_server, addr) = echo_server("battle1", Options::default()).await;
    let proxy = FaultProxy::start(addr).await;
    let game = client(&[("battle1", proxy.addr)], Options::default());
    bounded("warm", game.call("battle1", "@echo", pack(&[s("a")])))
        .await
        .expect("works");
    let slow = {
        let game = game.clone();
        tokio::spawn(async move {
            game.call("battle1", ".slow", Bytes::from_static(b"10000"))
                .await
        })
    };
    in_flight_at_least(&game, 1).await;
    proxy.set(Mode::Cut);
    let err = bounded("cut", slow).await.expect("task").expect_err("cut");
    assert!(
        matches!(err.kind(), ErrorKind::Disconnected { .. }),
        "{err}"
    );
    proxy.set(Mode::Forward);
    bounded("reconnect", game.call("battle1", "@echo", pack(&[s("b")])))
        .await
        .expect("a new connection works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_calls_in_flight_and_refuses_new_connections() {
    let (server, addr) = echo_server("battle1", Options::default()).await;
    let game = client(&[("battle1", addr)], Options::default());
    bounded("warm", game.call("battle1", "@echo", pack(&[s("a")])))
        .await
        .expect("works");
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let game = game.clone();
            tokio::spawn(async move {
                game.call("battle1", ".slow", Bytes::from_static(b"300"))
                    .await
            })
        })
        .collect();
    in_flight_at_least(&game, 10).await;
    // In flight means being handled by the server, not merely sent.
    bounded("requests running on the server", async {
        while server.status().listeners[0].requests < 10 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    bounded("shutdown", server.shutdown(Duration::from_secs(10))).await;
    assert_eq!(server.status().listeners[0].requests, 0, "all answered");
    for call in calls {
        let reply = bounded("call in flight", call).await.expect("task");
        assert_eq!(
            reply.expect("completes during shutdown"),
            Bytes::from_static(b"300")
        );
    }
    let err = bounded("refused", tokio::net::TcpStream::connect(addr))
        .await
        .expect_err("the listener is closed");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn ten_thousand_pushes_arrive_complete_and_in_order() {
    let (_server, addr, mut rx) = sink_server().await;
    let game = client(&[("battle1", addr)], Options::default());
    // Some pushes are large enough to go in pieces, interleaved with the
    // small ones that follow them; order must still hold.
    for i in 0..10_000u32 {
        let mut payload = i.to_le_bytes().to_vec();
        if i % 1000 == 0 {
            payload.resize(100_000, 7);
        }
        game.send("battle1", ".sink", Bytes::from(payload))
            .expect("queued");
    }
    for i in 0..10_000u32 {
        let payload = bounded("push", rx.recv())
            .await
            .expect("delivered")
            .into_payload();
        assert_eq!(&payload[..4], &i.to_le_bytes(), "push {i} out of order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_a_dropped_connection_pushes_arrive_at_most_once_and_in_order() {
    let (server, addr, mut rx) = sink_server().await;
    let proxy = FaultProxy::start(addr).await;
    let game = client(&[("battle1", proxy.addr)], Options::default());
    for i in 0..1000u32 {
        game.send("battle1", ".sink", Bytes::from(i.to_le_bytes().to_vec()))
            .expect("queued");
    }
    connected(&game, true).await;
    proxy.set(Mode::Cut);
    connected(&game, false).await;
    // The old connection's agent hands on what it read before it goes;
    // only then can order across the two connections be asked for.
    bounded("old connection served", async {
        while server.status().listeners[0].connections > 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    proxy.set(Mode::Forward);
    for i in 1000..2000u32 {
        game.send("battle1", ".sink", Bytes::from(i.to_le_bytes().to_vec()))
            .expect("queued on a new connection");
    }
    let mut last = None;
    bounded("second batch", async {
        while last != Some(1999) {
            let req = rx.recv().await.expect("sink alive");
            let n = u32::from_le_bytes(req.payload()[..4].try_into().expect("4 bytes"));
            assert!(
                last.is_none_or(|l| n > l),
                "{n} after {last:?}: duplicated or reordered"
            );
            last = Some(n);
        }
    })
    .await;
}
