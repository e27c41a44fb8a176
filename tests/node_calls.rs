//! The runtime over real TCP on 127.0.0.1: calls, pushes, names, errors.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use skycluster::codec::luaseri::Value;
use skycluster::{Cluster, Config, ErrorKind, HandlerError, Options, Request};
use tokio::sync::mpsc;

use support::node::{bounded, client, echo_server, pack, s, sink_server};

#[tokio::test]
async fn raw_calls_reach_handles_local_names_and_registered_names() {
    let (server, addr) = echo_server("battle1", Options::default()).await;
    let game = client(&[("battle1", addr)], Options::default());
    let payload = pack(&[s("echo"), Value::Integer(1)]);

    let by_name = bounded("@echo", game.call("battle1", "@echo", payload.clone())).await;
    assert_eq!(by_name.expect("registered name"), payload);
    let by_local = bounded(".echo", game.call("battle1", ".echo", payload.clone())).await;
    assert_eq!(by_local.expect("local name"), payload);

    let handle = bounded("query", game.query_name("battle1", "echo"))
        .await
        .expect("query finds @echo");
    let by_handle = bounded("handle", game.call("battle1", handle, payload.clone())).await;
    assert_eq!(by_handle.expect("handle"), payload);
    let hex = format!(":{:08x}", handle.get());
    let by_hex = bounded("hex", game.call("battle1", hex.as_str(), payload.clone())).await;
    assert_eq!(by_hex.expect("hex handle"), payload);

    let proxy = game.endpoint_at("battle1@echo").expect("one-string form");
    assert_eq!(
        bounded("proxy", proxy.call(payload.clone()))
            .await
            .expect("proxy"),
        payload
    );
    drop(server);
}

#[tokio::test]
async fn every_unresolvable_address_gets_an_error_naming_it_and_the_node() {
    let (_server, addr) = echo_server("battle1", Options::default()).await;
    let game = client(&[("battle1", addr)], Options::default());
    let cases: [(&str, &str); 4] = [
        ("@nobody", "Invalid name `@nobody` on node `battle1`"),
        (".nobody", "invalid address `.nobody` on node `battle1`"),
        (":000000ff", "invalid address `:000000ff` on node `battle1`"),
        // Skynet never answers a name without a prefix: the caller hangs.
        ("echo", "invalid address `echo` on node `battle1`"),
    ];
    for (address, expected) in cases {
        let err = bounded(address, game.call("battle1", address, pack(&[s("x")])))
            .await
            .expect_err("unresolvable");
        let ErrorKind::Remote { text } = err.kind() else {
            panic!("{address}: {err}");
        };
        assert!(text.starts_with(expected), "{address}: {text}");
        assert_eq!(err.node(), "battle1");
        assert!(err.to_string().contains(address), "{err}");
    }
    let err = bounded("query", game.query_name("battle1", "nobody"))
        .await
        .expect_err("unknown name");
    assert!(matches!(err.kind(), ErrorKind::Remote { text } if &**text == "name not found"));
    let err = bounded("fail", game.call("battle1", ".fail", Bytes::new()))
        .await
        .expect_err("handler error");
    assert!(matches!(err.kind(), ErrorKind::Remote { text } if &**text == "room is full"));
}

#[tokio::test]
async fn disabled_and_absent_nodes_fail_at_once_with_their_names() {
    let config = Config::new().with_disabled("db").with_nowaiting(true);
    let game = Cluster::new(config);
    let err = bounded("disabled", game.call("db", "@store", Bytes::new()))
        .await
        .expect_err("disabled");
    assert!(matches!(err.kind(), ErrorKind::Disabled), "{err}");
    assert!(err.to_string().contains("`db`"), "{err}");
    let err = bounded("absent", game.call("nowhere", "@x", Bytes::new()))
        .await
        .expect_err("absent");
    assert!(matches!(err.kind(), ErrorKind::Absent), "{err}");
    assert!(game.send("nowhere", "@x", Bytes::new()).is_err());
}

#[tokio::test]
async fn without_nowaiting_a_call_waits_for_the_reload_that_adds_its_node() {
    let (_server, addr) = echo_server("battle2", Options::default()).await;
    let game = Cluster::new(Config::new());
    let waiting = {
        let game = game.clone();
        tokio::spawn(async move { game.call("battle2", "@echo", pack(&[s("late")])).await })
    };
    // Let the call reach its wait; then supply the node.
    tokio::task::yield_now().await;
    game.reload_with(Config::new().with_node("battle2", addr.to_string()));
    let reply = bounded("waiting call", waiting).await.expect("task");
    assert_eq!(reply.expect("resolved after reload"), pack(&[s("late")]));
}

// On a paused clock: nothing but the call's timeout can end the wait.
#[tokio::test(start_paused = true)]
async fn without_nowaiting_a_call_no_reload_resolves_ends_exactly_at_its_timeout() {
    use tokio::time::{advance, Instant};

    let limit = Duration::from_millis(100);
    let quick = Cluster::with_options(Config::new(), Options::default().with_call_timeout(limit));
    let started = Instant::now();
    // The call is polled first, so its clock starts now. A reload that
    // brings some other node wakes it, and it goes on waiting until its
    // own deadline.
    let (called, ()) = tokio::join!(
        bounded("timeout", quick.call("ghost", "@x", Bytes::new())),
        async {
            advance(limit / 2).await;
            quick.reload_with(Config::new().with_node("other", "127.0.0.1:1"));
        }
    );
    let err = called.expect_err("never configured");
    match err.kind() {
        ErrorKind::Timeout { elapsed, limit: l } => {
            assert_eq!((*elapsed, *l), (limit, limit), "{err}");
        }
        _ => panic!("expected a timeout: {err}"),
    }
    assert_eq!(started.elapsed(), limit);
    assert_eq!(err.node(), "ghost");
}

#[tokio::test]
async fn replies_are_matched_by_session_in_any_order() {
    let (_server, addr) = echo_server("battle1", Options::default()).await;
    let game = client(&[("battle1", addr)], Options::default());
    let (tx, mut rx) = mpsc::unbounded_channel();
    for ms in [300u64, 100, 200] {
        let game = game.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let payload = Bytes::from(ms.to_string());
            let reply = game.call("battle1", ".slow", payload.clone()).await;
            tx.send((ms, reply.map(|r| r == payload)))
                .expect("receiver alive");
        });
    }
    let mut order = Vec::new();
    for _ in 0..3 {
        let (ms, matched) = bounded("slow call", rx.recv()).await.expect("sent");
        assert!(
            matched.expect("call succeeds"),
            "reply of {ms} ms call mismatched"
        );
        order.push(ms);
    }
    assert_eq!(
        order,
        vec![100, 200, 300],
        "a slow call held back a fast one"
    );
}

#[tokio::test]
async fn a_thousand_calls_in_flight_on_one_connection_each_get_their_own_reply() {
    // Replies come back in reads of hundreds, which the connection hands
    // out a batch at a time: none may be lost or crossed between batches.
    let (_server, addr) = echo_server("battle1", Options::default()).await;
    let game = client(&[("battle1", addr)], Options::default());
    let calls = (0..1_000u32).map(|i| {
        let game = game.clone();
        tokio::spawn(async move {
            let payload = Bytes::from(i.to_le_bytes().to_vec());
            (i, game.call("battle1", ".echo", payload).await)
        })
    });
    let calls: Vec<_> = calls.collect();
    for call in calls {
        let (i, reply) = bounded("call", call).await.expect("task");
        let reply = reply.unwrap_or_else(|e| panic!("call {i}: {e}"));
        assert_eq!(&reply[..], &i.to_le_bytes(), "call {i} got another's reply");
    }
}

#[tokio::test]
async fn pushes_arrive_in_order_and_get_no_reply() {
    let (_server, addr, mut rx) = sink_server().await;
    let game = client(&[("battle1", addr)], Options::default());
    let count = 2_000u32;
    for i in 0..count {
        game.send("battle1", ".sink", Bytes::from(i.to_le_bytes().to_vec()))
            .expect("queued");
    }
    for i in 0..count {
        let req = bounded("push", rx.recv()).await.expect("delivered");
        assert!(req.is_push());
        let payload = req.into_payload();
        assert_eq!(&payload[..], &i.to_le_bytes(), "push {i} out of order");
    }
}

#[tokio::test]
async fn ten_megabytes_each_way_do_not_hold_back_small_calls() {
    let (_server, addr) = echo_server("battle1", Options::default()).await;
    let game = client(&[("battle1", addr)], Options::default());
    let big: Bytes = (0..10 * 1024 * 1024)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    let big_call = {
        let game = game.clone();
        let big = big.clone();
        tokio::spawn(async move { game.call("battle1", "@echo", big).await })
    };
    let mut small_done = 0;
    while !big_call.is_finished() && small_done < 200 {
        let reply = bounded("small", game.call("battle1", "@echo", pack(&[s("ping")]))).await;
        assert_eq!(reply.expect("small call"), pack(&[s("ping")]));
        small_done += 1;
    }
    let reply = bounded("big", big_call)
        .await
        .expect("task")
        .expect("big call");
    assert_eq!(reply.len(), big.len());
    assert!(reply == big, "10 MB echo corrupted");
    assert!(
        small_done > 0,
        "no small call completed while the big one was in flight"
    );
}

#[tokio::test]
async fn maxclient_accepts_exactly_that_many_connections() {
    let options = Options::default().with_max_clients(2);
    let (server, addr) = echo_server("battle1", options).await;
    let mut clients = Vec::new();
    for _ in 0..2 {
        let c = client(&[("battle1", addr)], Options::default());
        bounded(
            "within maxclient",
            c.call("battle1", "@echo", pack(&[s("a")])),
        )
        .await
        .expect("accepted");
        clients.push(c);
    }
    let extra = client(&[("battle1", addr)], Options::default());
    let err = bounded(
        "beyond maxclient",
        extra.call("battle1", "@echo", pack(&[s("a")])),
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(err.kind(), ErrorKind::Disconnected { .. }),
        "{err}"
    );
    assert_eq!(server.status().listeners[0].connections, 2);
    // The accepted ones keep working.
    for c in &clients {
        bounded("still served", c.call("battle1", "@echo", pack(&[s("b")])))
            .await
            .expect("served");
    }
}

#[tokio::test]
async fn calls_to_the_local_node_skip_the_network() {
    let cluster = Cluster::new(Config::new().with_node("game1", "127.0.0.1:1"));
    cluster.set_name("game1").expect("name");
    let echo = cluster
        .spawn_handler(|req: Request| async move { Ok::<_, HandlerError>(req.into_payload()) });
    cluster.register_name("echo", echo).expect("register");
    // Port 1 has no listener: only a local dispatch can answer.
    let reply = bounded("local", cluster.call("game1", "@echo", pack(&[s("x")]))).await;
    assert_eq!(reply.expect("local call"), pack(&[s("x")]));
    let status = cluster.status();
    assert!(!status.nodes[0].connected);
}

#[tokio::test]
async fn cluster_name_gives_a_local_name_other_nodes_reach() {
    let server = Cluster::new(Config::new());
    server.set_name("battle1").expect("fresh cluster");
    let addr = server.listen("127.0.0.1:0").await.expect("listen");
    assert_eq!(server.node_name(), Some("battle1"));
    let reply_with = |text: &'static str| {
        move |_req: Request| async move { Ok::<_, HandlerError>(pack(&[s(text)])) }
    };
    let first = server.spawn_handler(reply_with("first"));
    let second = server.spawn_handler(reply_with("second"));
    // `skynet.name(".mgr", handle)`; the `.` may be left out.
    server.name(".mgr", first).expect("a valid name");
    server.name("other", second).expect("a valid name");

    let game = client(&[("battle1", addr)], Options::default());
    let call = |address: &'static str| {
        let game = game.clone();
        async move {
            let reply = bounded(address, game.call("battle1", address, pack(&[s("x")]))).await;
            reply.expect("the name resolves")
        }
    };
    assert_eq!(call(".mgr").await, pack(&[s("first")]));
    assert_eq!(call(".other").await, pack(&[s("second")]));
    let at = game.endpoint_at("battle1.mgr").expect("one-string form");
    let reply = bounded("battle1.mgr", at.call(pack(&[s("x")]))).await;
    assert_eq!(reply.expect("resolves"), pack(&[s("first")]));

    // A taken name moves to the service named last.
    server.name(".mgr", second).expect("a valid name");
    assert_eq!(call(".mgr").await, pack(&[s("second")]));

    for bad in ["", ".", "..x", ".@x"] {
        let err = server.name(bad, first).expect_err(bad);
        assert!(
            matches!(err, skycluster::Error::InvalidName { .. }),
            "{bad}: {err}"
        );
    }
    assert!(server.kill(first));
    let err = server.name(".gone", first).expect_err("a killed service");
    assert!(
        matches!(err, skycluster::Error::UnknownHandle { .. }),
        "{err}"
    );
}

/// `name_local` is `name`'s former name, kept for one release.
#[tokio::test]
#[allow(deprecated)]
async fn the_deprecated_name_local_still_names_a_local_service() {
    let (server, addr) = echo_server("battle1", Options::default()).await;
    let echo = server
        .spawn_handler(|req: Request| async move { Ok::<_, HandlerError>(req.into_payload()) });
    server.name_local(".old_echo", echo).expect("a valid name");
    let game = client(&[("battle1", addr)], Options::default());
    let reply = bounded(
        ".old_echo",
        game.call("battle1", ".old_echo", pack(&[s("x")])),
    )
    .await;
    assert_eq!(reply.expect("the name resolves"), pack(&[s("x")]));
}

#[tokio::test]
async fn status_reports_connections_and_round_trips() {
    let (_server, addr) = echo_server("battle1", Options::default()).await;
    let game = client(&[("battle1", addr)], Options::default());
    bounded("call", game.call("battle1", "@echo", pack(&[s("x")])))
        .await
        .expect("call");
    let status = game.status();
    let node = &status.nodes[0];
    assert_eq!(node.name, "battle1");
    assert!(node.connected);
    assert_eq!(node.in_flight, 0);
    assert!(node.last_rtt.is_some());
    let _ = Arc::new(status);
}

#[tokio::test]
async fn reload_rereads_the_clustername_file() {
    let (_a, addr_a) = echo_server("battle1", Options::default()).await;
    let (b, addr_b) = echo_server("battle1b", Options::default()).await;
    let dir = std::env::temp_dir().join(format!("skycluster-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("clustername.lua");
    std::fs::write(&path, format!("-- test cluster\nbattle1 = \"{addr_a}\"\n")).expect("write");
    let game = Cluster::load(&path).expect("load");
    bounded("before", game.call("battle1", "@echo", pack(&[s("x")])))
        .await
        .expect("first address");

    std::fs::write(&path, format!("battle1 = \"{addr_b}\" -- moved\n")).expect("rewrite");
    game.reload().expect("reload");
    bounded("after", game.call("battle1", "@echo", pack(&[s("x")])))
        .await
        .expect("new address");
    assert_eq!(
        b.status().listeners[0].connections,
        1,
        "the call went to the new address"
    );

    std::fs::write(&path, "battle1 = 42\n").expect("rewrite");
    let err = game.reload().expect_err("bad line");
    assert!(err.to_string().contains("clustername.lua:1"), "{err}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}
