//! Nodes coming and going next to a real Lua Skynet node: a Rust node
//! process restarted while the Lua node keeps calling it, a Lua node's
//! clustername reloaded to a moved Rust node, and a Lua node killed with
//! Rust calls pending, then started again elsewhere.
//!
//! Needs `SKYNET_HOME` (see `tests/lua/README.md`); without it every test
//! here is ignored with that reason.

mod support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use skycluster::codec::luaseri::{Table, Value};
use skycluster::{ErrorKind, HandlerError, Options, Request};

use examples::Node;
use support::skynet::{
    bounded, client, control, free_port, join, lua_call, pcall_err, pcall_ok, rust_node, s,
    Fixture, LuaNode, Names, LIMIT,
};

const ECHO_NODE: &str = env!("CARGO_BIN_EXE_examples_echo_node");

fn int(i: i64) -> Value {
    Value::Integer(i)
}

/// `echo_node` serving `@echo` as `node` at its address in `names`.
fn echo_node(names: &Names, node: &str) -> Node {
    let mut command = Command::new(ECHO_NODE);
    command
        .arg("--config")
        .arg(names.path())
        .args(["--node", node, "--exit-with-stdin"]);
    Node::start(node, command, LIMIT).unwrap_or_else(|e| panic!("echo_node {node}: {e}"))
}

/// `came, outcomes, last error, last value` of `control.loop_wait`.
async fn loop_wait(ctl: &skycluster::Cluster, lua: &LuaNode, kind: &str) -> (bool, String, Value) {
    let reply = control(
        ctl,
        lua,
        "loop_wait",
        &[s("restart"), s(kind), int(LIMIT.as_millis() as i64 / 2)],
    )
    .await;
    let came = reply.first() == Some(&Value::Boolean(true));
    let outcomes = reply
        .get(1)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let last_fail = reply.get(2).cloned().unwrap_or_default();
    (came, outcomes, last_fail)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_rust_node_restarted_while_a_lua_node_keeps_calling_serves_it_again() {
    let names = Names::new("sk-restart");
    names.set("rust1", SocketAddr::from(([127, 0, 0, 1], free_port())));
    let mut rust1 = echo_node(&names, "rust1");
    let lua = LuaNode::start(&names, "lua1").await;
    let ctl = client(&names, "ctl");

    // The Lua node calls rust1's @echo every 50 ms, in the background.
    let reply = control(
        &ctl,
        &lua,
        "loop_start",
        &[
            s("restart"),
            s("rust1"),
            s("@echo"),
            int(50),
            int(2000),
            s("echo"),
            s("hi"),
        ],
    )
    .await;
    pcall_ok("loop_start", reply);
    let (came, outcomes, _) = loop_wait(&ctl, &lua, "ok").await;
    assert!(came, "no call succeeded: {outcomes}");

    // Down: every call fails with an error (three in a row here).
    rust1.kill();
    for _ in 0..3 {
        let (came, outcomes, last_fail) = loop_wait(&ctl, &lua, "fail").await;
        assert!(came, "no call failed while rust1 was down: {outcomes}");
        let text = last_fail.as_str().unwrap_or_default().to_owned();
        assert!(text.ends_with("call failed"), "{last_fail}");
    }

    // Up again on the same address: the next calls reach it.
    let rust1 = echo_node(&names, "rust1");
    let (came, outcomes, _) = loop_wait(&ctl, &lua, "ok").await;
    assert!(came, "no call succeeded after the restart: {outcomes}");
    let reply = control(&ctl, &lua, "loop_stop", &[s("restart")]).await;
    let outcomes = reply
        .first()
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();

    // Successes, then failures only while it was down, then successes.
    let mut runs: Vec<&str> = outcomes.split(' ').collect();
    runs.dedup();
    assert_eq!(runs, ["ok", "fail", "ok"], "{outcomes}");
    drop(rust1);
}

/// A Rust node named `name` whose `@who` answers its name.
async fn who(names: &Names, name: &'static str) -> skycluster::Cluster {
    let node = rust_node(names, name, Options::default()).await;
    let h = node.spawn_handler(move |_req: Request| async move {
        Ok::<_, HandlerError>(support::skynet::pack(&[s(name)]))
    });
    node.register_name("who", h).expect("register");
    node
}

fn addr_of(names: &Names, node: &str) -> SocketAddr {
    match names.config().get(node) {
        Some(skycluster::NodeAddr::At(addr)) => addr.parse().expect("an ip:port"),
        other => panic!("{node} has no address: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_lua_node_reloaded_to_a_moved_rust_node_calls_it_there() {
    let names = Names::new("sk-reload");
    // Two Rust nodes; the clustername file first says rust1 is `a`.
    let a = who(&names, "a").await;
    let b = who(&names, "b").await;
    let (addr_a, addr_b) = (addr_of(&names, "a"), addr_of(&names, "b"));
    names.set("rust1", addr_a);
    let lua = LuaNode::start(&names, "lua1").await;
    let ctl = client(&names, "ctl");
    let who_args = [s("rust1"), s("@who")];
    let who_is_rust1 = || control(&ctl, &lua, "call", &who_args);

    assert_eq!(pcall_ok("before", who_is_rust1().await), [s("a")]);

    // The file moves rust1 to `b`; cluster.reload() re-reads it.
    names.set("rust1", addr_b);
    pcall_ok("reload", control(&ctl, &lua, "reload", &[]).await);
    assert_eq!(pcall_ok("after reload", who_is_rust1().await), [s("b")]);

    // cluster.reload{rust1 = ...} moves it back.
    let mut back = Table::new();
    back.insert("rust1", addr_a.to_string());
    pcall_ok(
        "reload table",
        control(&ctl, &lua, "reload", &[Value::Table(back)]).await,
    );
    assert_eq!(pcall_ok("reloaded back", who_is_rust1().await), [s("a")]);

    // rust1 = false: calls fail; a string address brings it back.
    let mut off = Table::new();
    off.insert("rust1", false);
    pcall_ok(
        "off",
        control(&ctl, &lua, "reload", &[Value::Table(off)]).await,
    );
    let err = pcall_err("disabled", &who_is_rust1().await);
    assert!(err.ends_with("call failed"), "{err}");
    let mut on = Table::new();
    on.insert("rust1", addr_b.to_string());
    pcall_ok(
        "on",
        control(&ctl, &lua, "reload", &[Value::Table(on)]).await,
    );
    assert_eq!(pcall_ok("enabled", who_is_rust1().await), [s("b")]);

    // And after `b` is gone for good, moving back to `a` still works.
    b.shutdown(Duration::from_millis(100)).await;
    drop(b);
    names.set("rust1", addr_a);
    pcall_ok("reload", control(&ctl, &lua, "reload", &[]).await);
    assert_eq!(pcall_ok("moved", who_is_rust1().await), [s("a")]);
    drop(a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_killed_lua_node_fails_every_pending_rust_call_naming_it() {
    // A call timeout far above the test's bound: the calls must end
    // because the node died, not because they timed out.
    let options = Options::default().with_call_timeout(Duration::from_secs(300));
    let mut f = Fixture::start_with("sk-kill", options).await;
    let mark = f.lua.mark();
    let mut pending = Vec::new();
    for _ in 0..3 {
        let rust = f.rust.clone();
        pending.push(tokio::spawn(async move {
            rust.call(
                "lua1",
                "@callee",
                support::skynet::pack(&[s("sleep"), int(60_000)]),
            )
            .await
        }));
    }
    // All three are inside the Lua service before it dies.
    f.lua.wait_lines(mark, "SKYTEST sleeping 60000", 3).await;
    f.lua.kill();
    for call in pending {
        let outcome = bounded("pending call", call).await.expect("task");
        let err = outcome.expect_err("the node died");
        assert_eq!(err.node(), "lua1");
        assert!(err.to_string().contains("`lua1`"), "{err}");
        assert!(
            matches!(err.kind(), ErrorKind::Disconnected { .. }),
            "{err}"
        );
    }
    // While it is down, a call fails naming it.
    let err = lua_call(&f.rust, "lua1", "@callee", "echo", &[int(1)])
        .await
        .expect_err("nobody listens");
    assert_eq!(err.node(), "lua1");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Connect { .. } | ErrorKind::Disconnected { .. }
        ),
        "{err}"
    );

    // Started again on another port: Rust reloads the file and reaches it.
    let lua = LuaNode::start(&f.names, "lua1").await;
    join(&f.rust, &f.names);
    let reply = lua_call(&f.rust, "lua1", "@callee", "echo", &[s("back")]).await;
    assert_eq!(reply.expect("the new node answers"), [s("back")]);
    // And it reaches rust1 too.
    let reply = control(&f.rust, &lua, "call", &[s("rust1"), s("@echo"), int(2)]).await;
    assert_eq!(pcall_ok("call rust1", reply), [int(2)]);
    let seen = support::skynet::next_seen(&mut f.seen).await;
    assert_eq!(seen.values, [int(2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_lua_node_answers_the_liveness_probe_so_the_connection_stays() {
    let options = Options::default().with_probe_timeout(Duration::from_millis(300));
    let f = Fixture::start_with("sk-probe", options).await;
    let mark = f.lua.mark();
    let reply = lua_call(&f.rust, "lua1", "@callee", "echo", &[int(1)]).await;
    assert_eq!(reply.expect("echo"), [int(1)]);

    // A name with no prefix goes to Skynet's harbor and is never answered:
    // the call times out in silence, and the sender probes the connection
    // with a name query, which the Lua agent answers (`name not found`).
    let silent = |timeout: Duration| {
        let endpoint = f.rust.endpoint("lua1", "callee").with_timeout(timeout);
        async move { endpoint.call(support::skynet::pack(&[s("echo")])).await }
    };
    let err = bounded("silent call", silent(Duration::from_millis(200)))
        .await
        .expect_err("never answered");
    assert!(err.is_timeout(), "{err}");
    // Were the probe unanswered, the connection would drop within
    // `probe_timeout` and this longer call would end disconnected; since
    // the Lua node answered, it ends at its own timeout.
    let err = bounded("second silent call", silent(Duration::from_millis(900)))
        .await
        .expect_err("never answered");
    assert!(err.is_timeout(), "the probe went unanswered: {err}");

    // Same connection all along: the Lua node accepted one.
    let reply = lua_call(&f.rust, "lua1", "@callee", "echo", &[int(2)]).await;
    assert_eq!(reply.expect("echo"), [int(2)]);
    let accepted = f
        .lua
        .output()
        .lines()
        .skip(mark)
        .filter(|l| l.contains("socket accept from"))
        .count();
    assert_eq!(accepted, 1, "{}", f.lua.output());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_rust_node_shutting_down_answers_the_lua_call_in_flight_then_refuses() {
    let names = Names::new("sk-shutdown");
    let rust = rust_node(&names, "rust1", Options::default()).await;
    // @hold: says it has the request, then waits to be released.
    let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel();
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let hold = {
        let release = std::sync::Arc::clone(&release);
        rust.spawn_handler(move |req: Request| {
            let (release, arrived) = (std::sync::Arc::clone(&release), arrived_tx.clone());
            async move {
                let _ = arrived.send(());
                release.notified().await;
                Ok::<_, HandlerError>(req.into_payload())
            }
        })
    };
    rust.register_name("hold", hold).expect("register");
    let lua = LuaNode::start(&names, "lua1").await;
    join(&rust, &names);
    // The test drives the Lua node from a node of its own, which stays up.
    let ctl = client(&names, "ctl");

    let pending = {
        let ctl = ctl.clone();
        tokio::spawn(async move {
            lua_call(
                &ctl,
                "lua1",
                "@control",
                "call",
                &[s("rust1"), s("@hold"), s("x")],
            )
            .await
        })
    };
    bounded("the held call arrives", arrived.recv()).await;
    // `join!` polls the shutdown first: it has begun when the release runs.
    tokio::join!(rust.shutdown(Duration::from_secs(10)), async {
        release.notify_one();
    });
    let reply = bounded("held call", pending)
        .await
        .expect("task")
        .expect("control answers");
    assert_eq!(pcall_ok("the call in flight", reply), [s("x")]);

    // Shut down: the Lua node's next call fails.
    let reply = control(&ctl, &lua, "call", &[s("rust1"), s("@hold"), s("y")]).await;
    let err = pcall_err("after shutdown", &reply);
    assert!(err.ends_with("call failed"), "{err}");
}
