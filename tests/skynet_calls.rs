//! A real Lua Skynet node and a Rust node calling each other: every
//! address form, `cluster.call` / `send` / `proxy` / `query` /
//! `register` on the Lua side, raw endpoints, typed clients and
//! `query` on the Rust side, pushes in order, and trace tags both ways.
//!
//! Needs `SKYNET_HOME` (see `tests/lua/README.md`); without it every test
//! here is ignored with that reason.

mod support;

use skycluster::codec::luaseri::{Table, Value, Values};
use skycluster::wire::TraceTag;
use skycluster::ErrorKind;

use support::skynet::{
    bounded, next_seen, pack, pcall_err, pcall_ok, s, show_all, unpack, Callee, Fixture, Room,
};

fn int(i: i64) -> Value {
    Value::Integer(i)
}

fn table(pairs: &[(&str, Value)]) -> Value {
    let mut t = Table::new();
    for (k, v) in pairs {
        t.insert(*k, v.clone());
    }
    Value::Table(t)
}

fn array(values: Vec<Value>) -> Value {
    Value::Table(Table::from(values))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn rust_calls_the_lua_callee_at_every_address_form() {
    let f = Fixture::start("sk-addr-r2l").await;
    let args = [int(1), s("x")];
    let handle = f.lua.callee;
    let hex = format!(":{handle:08x}");
    for addr in ["@callee", ".callee", hex.as_str()] {
        let reply = f.callee(addr, "echo", &args).await;
        assert_eq!(reply.expect(addr), args, "{addr}");
    }
    let reply = f.callee(handle, "echo", &args).await;
    assert_eq!(reply.expect("numeric handle"), args);

    // Skynet's one-string forms.
    for target in ["lua1@callee", "lua1.callee"] {
        let endpoint = f.rust.endpoint_at(target).expect(target);
        let reply = bounded(target, endpoint.call(pack(&[s("echo"), int(7)]))).await;
        assert_eq!(unpack(&reply.expect(target)), [int(7)], "{target}");
    }

    // cluster.query, with or without the `@`.
    for name in ["callee", "@callee"] {
        let found = bounded(name, f.rust.query_name("lua1", name)).await;
        assert_eq!(found.expect(name).get(), handle, "{name}");
    }
    let control = bounded("query", f.rust.query_name("lua1", "control")).await;
    assert_eq!(control.expect("control").get(), f.lua.control);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn lua_calls_the_rust_echo_at_every_address_form() {
    let mut f = Fixture::start("sk-addr-l2r").await;
    let handle = i64::from(f.echo.get());
    let hex = format!(":{:08x}", f.echo.get());
    let addrs = [s("@echo"), s(".echo"), int(handle), s(&hex)];
    for addr in addrs {
        // cluster.call("rust1", addr, "hi", nil, 3)
        let reply = f
            .control(
                "call",
                &[s("rust1"), addr.clone(), s("hi"), Value::Nil, int(3)],
            )
            .await;
        assert_eq!(
            pcall_ok(&addr.to_string(), reply),
            [s("hi"), Value::Nil, int(3)],
            "{addr}"
        );
        let seen = next_seen(&mut f.seen).await;
        assert!(!seen.push && seen.trace.is_none(), "{seen:?}");
    }

    // cluster.proxy(node, name) and its one-string forms.
    for (method, args) in [
        ("proxy_call", vec![s("rust1"), s("@echo")]),
        ("proxy_call", vec![s("rust1"), s(".echo")]),
        ("proxy_call_at", vec![s("rust1@echo")]),
        ("proxy_call_at", vec![s("rust1.echo")]),
    ] {
        let mut all = args.clone();
        all.push(s("via proxy"));
        let reply = f.control(method, &all).await;
        assert_eq!(
            pcall_ok(method, reply),
            [s("via proxy")],
            "{method} {}",
            show_all(&args)
        );
    }

    // cluster.query finds the handle; a call to it reaches the service.
    let reply = f.control("query", &[s("rust1"), s("echo")]).await;
    assert_eq!(pcall_ok("query", reply), [int(handle)]);
    let reply = f
        .control("query_call", &[s("rust1"), s("echo"), s("by handle")])
        .await;
    assert_eq!(pcall_ok("query_call", reply), [int(handle), s("by handle")]);
    let reply = f.control("query", &[s("rust1"), s("rtyped")]).await;
    assert_eq!(pcall_ok("query", reply), [int(i64::from(f.typed.get()))]);

    // An unknown name: `name not found` on the wire, `call failed` in Lua.
    let reply = f.control("query", &[s("rust1"), s("nobody")]).await;
    let err = pcall_err("query nobody", &reply);
    assert!(err.contains("call failed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_name_the_lua_node_registers_is_found_by_rust_until_unregistered() {
    let f = Fixture::start("sk-register").await;
    let reply = f
        .control("register", &[s("callee2"), int(i64::from(f.lua.callee))])
        .await;
    pcall_ok("register", reply);
    let found = bounded("query", f.rust.query_name("lua1", "callee2")).await;
    assert_eq!(found.expect("registered").get(), f.lua.callee);
    let reply = f.callee("@callee2", "echo", &[s("again")]).await;
    assert_eq!(reply.expect("@callee2"), [s("again")]);

    pcall_ok("unregister", f.control("unregister", &[s("callee2")]).await);
    let err = bounded("query", f.rust.query_name("lua1", "callee2"))
        .await
        .expect_err("unregistered");
    assert!(
        matches!(err.kind(), ErrorKind::Remote { text } if &**text == "name not found"),
        "{err}"
    );
    let err = f.callee("@callee2", "echo", &[]).await.expect_err("gone");
    assert!(matches!(err.kind(), ErrorKind::Remote { text } if &**text == "Invalid name"));

    // Registered again, for another service: the Lua agent's name cache
    // follows, and Rust's next call reaches `control`.
    let reply = f
        .control("register", &[s("callee2"), int(i64::from(f.lua.control))])
        .await;
    pcall_ok("register again", reply);
    let reply = f
        .callee("@callee2", "eval", &[s("return 'control here'")])
        .await;
    assert_eq!(
        reply.expect("@callee2 is control now"),
        [Value::Boolean(true), s("control here")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_rust_name_moved_to_another_service_is_followed_by_the_lua_caller() {
    let mut f = Fixture::start("sk-rename").await;
    let echo = [s("rust1"), s("@echo"), s("add"), int(1), int(2)];
    let reply = f.control("call", &echo).await;
    assert_eq!(pcall_ok("echo", reply), [s("add"), int(1), int(2)]);
    next_seen(&mut f.seen).await;
    // The Lua node's connection has `@echo` resolved; the name moves.
    assert_eq!(f.rust.unregister("echo"), Some(f.echo));
    f.rust
        .register_name("echo", f.typed)
        .expect("register again");
    let reply = f.control("call", &echo).await;
    assert_eq!(pcall_ok("add", reply), [int(3)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_typed_rust_client_calls_the_lua_callee() {
    let f = Fixture::start("sk-typed-r2l").await;
    let by_name = f.rust.proxy::<dyn Callee>("lua1", "@callee");
    let by_local = f.rust.proxy::<dyn Callee>("lua1", ".callee");
    let by_handle = f.rust.proxy::<dyn Callee>("lua1", f.lua.callee);
    let by_query = bounded("typed query", f.rust.query::<dyn Callee>("lua1"))
        .await
        .expect("query finds @callee");
    // A variadic Lua method through a variadic typed method: nils between
    // and at the end come back as they went.
    let args = Values::from(vec![int(-5), Value::Nil, s("five"), Value::Nil]);
    for client in [&by_name, &by_local, &by_handle, &by_query] {
        let back = bounded("echo", client.echo(args.clone())).await;
        assert_eq!(back.expect("echo"), args);
    }
    let none = bounded("echo", by_name.echo(Values::new())).await;
    assert_eq!(none.expect("echo of nothing"), Values::new());
    // Lua sees the types Rust meant.
    let types = bounded("types", by_name.types(1, 1.0, "s".into(), true)).await;
    assert_eq!(types.expect("types"), "integer,float,string,boolean");
    let big = bounded("big", by_name.big(100_000)).await.expect("big");
    assert!(big.len() == 100_000 && big.bytes().all(|b| b == b'x'));

    // Typed pushes arrive in order.
    for seq in 1..=50 {
        by_name.push("typed".into(), seq).expect("queued");
    }
    let (seqs, _) = bounded("pushes", by_name.pushes("typed".into()))
        .await
        .expect("pushes");
    assert_eq!(seqs, (1..=50).collect::<Vec<i64>>());

    // The schema check's reserved query, the first frame each typed
    // client's connection sent to this address: the Lua node answered it
    // as any unknown name, so there was nothing to check and every call
    // above went through.
    let fingerprints = bounded(
        "schema query",
        f.rust.remote_fingerprints("lua1", "@callee"),
    )
    .await
    .expect("the Lua node answers");
    assert_eq!(fingerprints, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn lua_calls_a_typed_rust_service() {
    let mut f = Fixture::start("sk-typed-l2r").await;
    let call = |method: &str, args: &[Value]| {
        let mut all = vec![s("rust1"), s("@rtyped"), s(method)];
        all.extend_from_slice(args);
        all
    };
    let reply = f.control("call", &call("add", &[int(2), int(40)])).await;
    assert_eq!(pcall_ok("add", reply), [int(42)]);
    // Lua integers wrap.
    let reply = f
        .control("call", &call("add", &[int(i64::MAX), int(1)]))
        .await;
    assert_eq!(pcall_ok("add", reply), [int(i64::MIN)]);
    let reply = f.control("call", &call("greet", &[])).await;
    assert_eq!(pcall_ok("greet", reply), [s("hello, nobody")]);
    let reply = f.control("call", &call("greet", &[s("lua")])).await;
    assert_eq!(pcall_ok("greet", reply), [s("hello, lua")]);
    let reply = f.control("call", &call("divide", &[int(7), int(2)])).await;
    assert_eq!(pcall_ok("divide", reply), [int(3)]);
    // `Err` is the reply `nil, err`: the Lua call itself succeeds.
    let reply = f.control("call", &call("divide", &[int(7), int(0)])).await;
    assert_eq!(
        pcall_ok("divide", reply),
        [Value::Nil, s("division by zero")]
    );
    let reply = f.control("call", &call("pair", &[])).await;
    assert_eq!(pcall_ok("pair", reply), [s("half"), Value::Real(0.5)]);

    // A struct is a Lua table with keys; a missing Option field is nil.
    let room = table(&[
        ("id", int(9)),
        ("name", s("orc")),
        ("players", array(vec![int(1), int(2), int(3)])),
    ]);
    let reply = f.control("call", &call("room", &[room])).await;
    let expected = table(&[
        ("id", int(9)),
        ("name", s("orc-1")),
        ("players", array(vec![int(3), int(2), int(1)])),
    ]);
    assert_eq!(pcall_ok("room", reply), [expected]);

    // Lua 5.4 code often has floats where it means integers (`2^3` is
    // 8.0): an integral float reads into an integer argument, and a
    // sequence arrives from a `__pairs` proxy as well as from an array.
    let reply = f
        .control(
            "eval",
            &[s(
                r#"return cluster.call("rust1", "@rtyped", "add", 2^3, 1.0)"#,
            )],
        )
        .await;
    assert_eq!(pcall_ok("add floats", reply), [int(9)]);
    let code = r#"
        local players = setmetatable({}, { __pairs = function() return next, { 7, 8, 9 }, nil end })
        local room = cluster.call("rust1", "@rtyped", "room", { id = 2, name = "proxy", players = players })
        return room.name, table.concat(room.players, ",")
    "#;
    let reply = f.control("eval", &[s(code)]).await;
    assert_eq!(pcall_ok("__pairs", reply), [s("proxy-1"), s("9,8,7")]);
    // 2.5 is no integer: the arguments do not decode, and the call raises.
    let reply = f
        .control("call", &call("add", &[Value::Real(2.5), int(1)]))
        .await;
    assert!(pcall_err("add 2.5", &reply).ends_with("call failed"));

    // The same service through its handle, its local name and a proxy.
    let handle = int(i64::from(f.typed.get()));
    for addr in [handle, s(".rtyped")] {
        let reply = f
            .control(
                "call",
                &[s("rust1"), addr.clone(), s("add"), int(1), int(1)],
            )
            .await;
        assert_eq!(pcall_ok(&addr.to_string(), reply), [int(2)]);
    }
    let reply = f
        .control(
            "proxy_call",
            &[s("rust1"), s("@rtyped"), s("add"), int(5), int(5)],
        )
        .await;
    assert_eq!(pcall_ok("proxy add", reply), [int(10)]);

    // Typed pushes from cluster.send and from a proxy's skynet.send.
    for seq in 1..=20 {
        let reply = f.control("send", &call("note", &[int(seq)])).await;
        pcall_ok("send", reply);
    }
    let reply = f
        .control(
            "proxy_send",
            &[s("rust1"), s("@rtyped"), s("note"), int(21)],
        )
        .await;
    pcall_ok("proxy_send", reply);
    let mut got = Vec::new();
    for _ in 1..=21 {
        got.push(
            bounded("note", f.notes.recv())
                .await
                .expect("service alive"),
        );
    }
    assert_eq!(got, (1..=21).collect::<Vec<i64>>());

    // And from Rust, the typed client of the same service works as well.
    let client = f
        .rust
        .proxy::<dyn support::skynet::RTyped>("rust1", "@rtyped");
    let room = Room {
        id: 1,
        name: "elf".into(),
        players: vec![4, 5],
        owner: Some("me".into()),
    };
    let back = bounded("room", client.room(room)).await.expect("room");
    assert_eq!(back.name, "elf-1");
    assert_eq!(back.players, [5, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn rust_pushes_reach_the_lua_callee_in_order_at_any_size() {
    let f = Fixture::start("sk-push-r2l").await;
    // Every tenth push is 100 KiB: a multi-part push between small ones.
    let big = s(&"p".repeat(100 * 1024));
    let mut expected_sizes = Vec::new();
    for seq in 1..=100 {
        let mut values = vec![s("push"), s("raw"), int(seq)];
        if seq % 10 == 0 {
            values.push(big.clone());
            expected_sizes.push(int(100 * 1024));
        } else {
            expected_sizes.push(int(0));
        }
        f.rust
            .send("lua1", f.lua.callee, pack(&values))
            .expect("queued");
    }
    // Through an endpoint to the registered name, too.
    let endpoint = f.rust.endpoint("lua1", "@callee");
    for seq in 1..=30 {
        endpoint
            .send(pack(&[s("push"), s("named"), int(seq)]))
            .expect("queued");
    }
    // The call goes out after the pushes on the same connection.
    let reply = f
        .callee(f.lua.callee, "pushes", &[s("raw")])
        .await
        .expect("pushes");
    let seqs: Vec<Value> = (1..=100).map(int).collect();
    assert_eq!(reply, [array(seqs), array(expected_sizes)]);
    let reply = f
        .callee("@callee", "pushes", &[s("named")])
        .await
        .expect("pushes");
    assert_eq!(reply[0], array((1..=30).map(int).collect()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn lua_pushes_reach_the_rust_echo_in_order_at_any_size() {
    let mut f = Fixture::start("sk-push-l2r").await;
    // cluster.send("rust1", "@echo", "small", i) for i = 1..100
    let reply = f
        .control(
            "send_seq",
            &[s("rust1"), s("@echo"), s("small"), int(100), int(0), int(0)],
        )
        .await;
    pcall_ok("send_seq", reply);
    for seq in 1..=100 {
        let seen = next_seen(&mut f.seen).await;
        assert!(seen.push, "{seen:?}");
        // The trailing nil of `cluster.send(.., key, i, nil)` counts.
        assert_eq!(seen.values, [s("small"), int(seq), Value::Nil]);
    }

    // Every tenth of these carries 100 KiB. Skynet's own sender writes the
    // pieces of a multi-part message with `socket.lwrite` (low priority,
    // socketchannel.lua), so small pushes queued after a big one can
    // overtake it on the wire: small ones stay in order among themselves,
    // big ones too, and every one arrives whole.
    let reply = f
        .control(
            "send_seq",
            &[
                s("rust1"),
                s("@echo"),
                s("mixed"),
                int(100),
                int(10),
                int(100 * 1024),
            ],
        )
        .await;
    pcall_ok("send_seq", reply);
    let (mut small, mut big) = (Vec::new(), Vec::new());
    for _ in 1..=100 {
        let seen = next_seen(&mut f.seen).await;
        assert!(seen.push, "{seen:?}");
        let seq = match &seen.values[..] {
            [key, Value::Integer(seq), Value::Nil] if *key == s("mixed") => {
                small.push(*seq);
                *seq
            }
            [key, Value::Integer(seq), Value::String(payload)] if *key == s("mixed") => {
                assert_eq!(payload.len(), 100 * 1024);
                big.push(*seq);
                *seq
            }
            other => panic!("unexpected push {}", show_all(other)),
        };
        assert_eq!(seq % 10 == 0, big.last() == Some(&seq), "push {seq}");
    }
    assert_eq!(
        small,
        (1..=100).filter(|i| i % 10 != 0).collect::<Vec<i64>>()
    );
    assert_eq!(big, (1..=10).map(|i| i * 10).collect::<Vec<i64>>());

    // And a proxy's skynet.send.
    let reply = f
        .control("proxy_send", &[s("rust1"), s(".echo"), s("by proxy")])
        .await;
    pcall_ok("proxy_send", reply);
    let seen = next_seen(&mut f.seen).await;
    assert!(seen.push);
    assert_eq!(seen.values, [s("by proxy")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_lua_trace_tag_reaches_a_rust_handler() {
    let mut f = Fixture::start("sk-trace-l2r").await;
    let reply = f
        .control("traced_call", &[s("rust1"), s("@echo"), s("traced")])
        .await;
    // traced_call returns the tag, then pcall's outcome.
    let [Value::String(tag), Value::Boolean(true), echoed] = &reply[..] else {
        panic!("traced_call: {}", show_all(&reply));
    };
    assert_eq!(echoed, &s("traced"));
    let tag = String::from_utf8_lossy(tag).into_owned();
    assert_eq!(tag, format!(":{:08x}-1", f.lua.control));
    let seen = next_seen(&mut f.seen).await;
    // clustersender rewrites it as `(<hostname><pid>-rust1-<session+1>)<tag>`.
    let trace = seen.trace.expect("the request carries the tag");
    assert!(trace.starts_with('('), "{trace}");
    assert!(trace.ends_with(&format!("){tag}")), "{trace}");
    assert!(trace.contains("-rust1-"), "{trace}");

    // The next, untraced call carries none.
    let reply = f.control("call", &[s("rust1"), s("@echo"), int(1)]).await;
    pcall_ok("call", reply);
    let seen = next_seen(&mut f.seen).await;
    assert_eq!(seen.trace, None);

    // A multi-part request takes the tag sent before its header.
    let big = s(&"t".repeat(100 * 1024));
    let reply = f
        .control("traced_call", &[s("rust1"), s("@echo"), big.clone()])
        .await;
    let [Value::String(tag), Value::Boolean(true), echoed] = &reply[..] else {
        panic!("traced_call: {}", show_all(&reply));
    };
    assert!(echoed == &big, "the 100 KiB echo differs");
    let tag = String::from_utf8_lossy(tag).into_owned();
    let seen = next_seen(&mut f.seen).await;
    let trace = seen.trace.expect("the multi-part request carries the tag");
    assert!(trace.ends_with(&format!("){tag}")), "{trace}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_trace_tag_marks_calls_in_flight_on_skynet_but_only_its_own_call_on_rust() {
    let mut f = Fixture::start("sk-trace-inflight").await;
    // A traced call A that the callee holds, then an untraced call B on
    // the same connection while A is in flight. The fork sends A first:
    // it wakes the main coroutine, which runs once A has yielded in
    // cluster.call, its request already with the sender.
    let code = r#"
        local node, hold, key, probe, method = ...
        cluster.call(node, probe, method)  -- the sender exists and is connected
        local main = coroutine.running()
        skynet.fork(function()
            skynet.trace("held")
            skynet.wakeup(main)
            pcall(cluster.call, node, hold, "hold", key)
        end)
        skynet.wait(main)
        return skynet.tracetag(), cluster.call(node, probe, method)
    "#;

    // Lua to Lua (the node calls itself through its own cluster port):
    // Skynet's agent keeps the tag until A returns, so B carries it too.
    let reply = f
        .control(
            "eval",
            &[
                s(code),
                s("lua1"),
                s("@callee"),
                s("k"),
                s("@callee"),
                s("trace"),
            ],
        )
        .await;
    let reply = pcall_ok("lua to lua", reply);
    let [Value::Nil, Value::String(b_tag)] = &reply[..] else {
        panic!(
            "B's own tag is nil, and the callee saw one: {}",
            show_all(&reply)
        );
    };
    let b_tag = String::from_utf8_lossy(b_tag).into_owned();
    assert!(
        b_tag.ends_with(&format!(":{:08x}-1", f.lua.control)),
        "B carried A's tag on Skynet: {b_tag}"
    );
    let released = f.callee("@callee", "release", &[s("k")]).await;
    assert_eq!(released.expect("release"), [Value::Boolean(true)]);

    // Lua to Rust: skycluster's agent gives the tag to A only.
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let held = {
        let release = std::sync::Arc::clone(&release);
        f.rust.spawn_handler(move |req: skycluster::Request| {
            let release = std::sync::Arc::clone(&release);
            async move {
                release.notified().await;
                Ok::<_, skycluster::HandlerError>(req.into_payload())
            }
        })
    };
    f.rust.register_name("hold", held).expect("register");
    let reply = f
        .control(
            "eval",
            &[
                s(code),
                s("rust1"),
                s("@hold"),
                s("k"),
                s("@echo"),
                s("trace"),
            ],
        )
        .await;
    assert_eq!(pcall_ok("lua to rust", reply), [Value::Nil, s("trace")]);
    let warm = next_seen(&mut f.seen).await;
    assert_eq!(warm.trace, None);
    let b = next_seen(&mut f.seen).await;
    assert_eq!(b.trace, None, "B carried no tag on skycluster");
    release.notify_one();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_rust_trace_tag_reaches_the_lua_callee() {
    let f = Fixture::start("sk-trace-r2l").await;
    let traced = |tag: &str| {
        f.rust
            .endpoint("lua1", "@callee")
            .with_trace(TraceTag::new(tag.to_owned()).expect("short tag"))
    };
    let reply = bounded("traced", traced("rusttag").call(pack(&[s("trace")]))).await;
    let reply = unpack(&reply.expect("trace"));
    let [Value::String(tag)] = &reply[..] else {
        panic!("trace: {}", show_all(&reply));
    };
    // Rewritten as Skynet's sender does, with this node's name.
    let tag = String::from_utf8_lossy(tag).into_owned();
    assert!(tag.starts_with("(rust1-lua1-"), "{tag}");
    assert!(tag.ends_with(")rusttag"), "{tag}");

    // A tag that starts with `(` goes as it is.
    let reply = bounded("traced", traced("(mine)x").call(pack(&[s("trace")]))).await;
    assert_eq!(unpack(&reply.expect("trace")), [s("(mine)x")]);

    // A multi-part request takes the tag sent before its header.
    let big = s(&"t".repeat(100 * 1024));
    let reply = bounded("traced", traced("(big)y").call(pack(&[s("trace"), big]))).await;
    assert_eq!(unpack(&reply.expect("trace")), [s("(big)y")]);

    // The typed client's next call carries no tag.
    let client = f.rust.proxy::<dyn Callee>("lua1", "@callee");
    let tag = bounded("trace", client.trace()).await.expect("trace");
    assert_eq!(tag, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn many_concurrent_calls_both_ways_all_get_their_own_replies() {
    let f = Fixture::start("sk-concurrent").await;
    // Rust -> Lua: 200 calls in flight on one connection, replies matched
    // by session whatever order they come in.
    let mut calls = Vec::new();
    for i in 0..200 {
        let rust = f.rust.clone();
        calls.push(tokio::spawn(async move {
            let reply = rust
                .call(
                    "lua1",
                    "@callee",
                    pack(&[s("echo"), int(i), s(&i.to_string())]),
                )
                .await;
            (i, reply)
        }));
    }
    for call in calls {
        let (i, reply) = bounded("call", call).await.expect("task");
        assert_eq!(unpack(&reply.expect("echo")), [int(i), s(&i.to_string())]);
    }
    // Lua -> Rust: the Lua side runs 50 calls in parallel coroutines.
    let code = r#"
        local n = ...
        local results, done = {}, 0
        local co = coroutine.running()
        for i = 1, n do
            skynet.fork(function()
                local ok, v = pcall(cluster.call, "rust1", "@rtyped", "add", i, 1000)
                results[i] = ok and v or -1
                done = done + 1
                if done == n then skynet.wakeup(co) end
            end)
        end
        skynet.wait(co)
        return results
    "#;
    let reply = f.control("eval", &[s(code), int(50)]).await;
    let results = pcall_ok("eval", reply);
    let expected: Vec<Value> = (1..=50).map(|i| int(i + 1000)).collect();
    assert_eq!(results, [array(expected)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_deadline_stops_at_a_lua_hop_and_nothing_breaks() {
    use skycluster::{HandlerError, Request};
    use std::time::Duration;

    let f = Fixture::start("sk-deadline-lua").await;
    // Says whether its request came with a deadline.
    let probe = f.rust.spawn_handler(|_req: Request| async move {
        let saw = skycluster::deadline().is_some();
        Ok::<_, HandlerError>(pack(&[Value::Boolean(saw)]))
    });
    f.rust.register_name("probe", probe).expect("register");
    // rust1 → lua1 (a connection that agrees on no extensions: the Lua
    // node answered the query "name not found", so no deadline frame is
    // sent), then lua1 → rust1, which carries none either.
    let control = f
        .rust
        .endpoint("lua1", "@control")
        .with_timeout(Duration::from_secs(5));
    for _ in 0..3 {
        let reply = bounded(
            "call through lua1",
            control.call(pack(&[s("call"), s("rust1"), s("@probe")])),
        )
        .await
        .expect("the chain answers");
        assert_eq!(
            unpack(&reply),
            vec![Value::Boolean(true), Value::Boolean(false)],
            "pcall's true, then the probe's answer"
        );
    }
}
