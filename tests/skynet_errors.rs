//! Errors across the boundary with a real Lua Skynet node: a Lua
//! `error(...)` seen from Rust, a failing Rust handler or typed method
//! seen from Lua, and addresses neither side can resolve.
//!
//! Skynet never hands an error frame's text to a Lua caller: its sender
//! logs the text and the caller's `cluster.call` raises `call failed`. So
//! where Lua calls Rust, the tests assert both: `call failed` in the pcall,
//! and the Rust text in the Lua node's log. Where Rust calls Lua, a Lua
//! `error(...)` comes back as Skynet's agent words it (`...call failed`):
//! the raised text only reaches the Lua node's log.
//!
//! Needs `SKYNET_HOME` (see `tests/lua/README.md`); without it every test
//! here is ignored with that reason.

mod support;

use std::time::Duration;

use bytes::Bytes;
use skycluster::codec::luaseri::Value;
use skycluster::{ErrorKind, HandlerError, Request};

use support::skynet::{bounded, pack, pcall_err, pcall_ok, s, Callee, Fixture, RUST_FAIL};

fn int(i: i64) -> Value {
    Value::Integer(i)
}

/// The text of a remote error, or a panic naming what came instead.
fn remote_text(what: &str, err: &skycluster::CallError) -> String {
    match err.kind() {
        ErrorKind::Remote { text } => text.to_string(),
        _ => panic!("{what}: expected a remote error, got {err}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_lua_error_reaches_rust_as_a_remote_error_naming_the_node() {
    let f = Fixture::start("sk-err-lua").await;
    let mark = f.lua.mark();
    let err = f
        .callee("@callee", "fail", &[s("boom 42")])
        .await
        .expect_err("error() raises");
    // Skynet's agent answers with skynet.rawcall's error, not the text
    // raised; the text is in the Lua node's log.
    let text = remote_text("fail", &err);
    assert!(text.ends_with("call failed"), "{text}");
    assert_eq!(err.node(), "lua1");
    assert!(err.to_string().contains("`lua1`"), "{err}");
    assert!(err.to_string().contains("@callee"), "{err}");
    f.lua.wait_line(mark, "boom 42").await;

    // The same through a typed client.
    let client = f.rust.proxy::<dyn Callee>("lua1", "@callee");
    let err = bounded("typed fail", client.fail("typed boom".into()))
        .await
        .expect_err("error() raises");
    assert!(
        remote_text("typed fail", &err).ends_with("call failed"),
        "{err}"
    );
    assert_eq!(err.method(), Some("fail"));
    f.lua.wait_line(mark, "typed boom").await;

    // A method the Lua service does not have raises in its dispatch.
    let err = f
        .callee("@callee", "nosuch", &[])
        .await
        .expect_err("unknown method");
    assert!(
        remote_text("nosuch", &err).ends_with("call failed"),
        "{err}"
    );
    f.lua.wait_line(mark, "callee has no method nosuch").await;

    // The connection is fine afterwards.
    let reply = f.callee("@callee", "echo", &[int(1)]).await;
    assert_eq!(reply.expect("echo"), [int(1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn unresolvable_lua_addresses_answer_with_skynets_texts() {
    let f = Fixture::start("sk-err-lua-addr").await;
    let err = f.callee("@nobody", "echo", &[]).await.expect_err("@nobody");
    assert_eq!(remote_text("@nobody", &err), "Invalid name");
    let err = bounded("query", f.rust.query_name("lua1", "nobody"))
        .await
        .expect_err("query nobody");
    assert_eq!(remote_text("query", &err), "name not found");
    for addr in [".nobody", ":00ffffff"] {
        let err = f.callee(addr, "echo", &[]).await.expect_err(addr);
        let text = remote_text(addr, &err);
        assert!(text.ends_with("call to invalid address"), "{addr}: {text}");
    }
    let err = f
        .callee(0x00ff_ffffu32, "echo", &[])
        .await
        .expect_err("no such handle");
    assert!(remote_text("handle", &err).ends_with("call to invalid address"));

    // A name with no `@`, `.` or `:` goes to Skynet's harbor, which drops
    // it: no answer ever comes, so the Rust call ends at its timeout.
    let endpoint = f
        .rust
        .endpoint("lua1", "callee")
        .with_timeout(Duration::from_millis(300));
    let err = bounded("prefixless", endpoint.call(pack(&[s("echo")])))
        .await
        .expect_err("never answered");
    assert!(err.is_timeout(), "{err}");

    // A push to an unknown name gets an error frame with session 0, which
    // the Rust sender drops; the connection keeps working.
    f.rust
        .send("lua1", "@nobody", pack(&[s("push")]))
        .expect("queued");
    // A multi-part push uses a real session, and Skynet answers with it: a
    // reply to a session that is no call's, which the sender drops too.
    f.rust
        .send("lua1", "@nobody", pack(&[s(&"p".repeat(100 * 1024))]))
        .expect("queued");
    let reply = f.callee("@callee", "echo", &[s("still here")]).await;
    assert_eq!(reply.expect("echo"), [s("still here")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_failing_rust_handler_makes_the_lua_call_raise() {
    let f = Fixture::start("sk-err-rust").await;
    let handle = int(i64::from(f.fail.get()));
    for addr in [s("@fail"), s(".fail"), handle] {
        let mark = f.lua.mark();
        let reply = f.control("call", &[s("rust1"), addr.clone(), s("x")]).await;
        let err = pcall_err(&addr.to_string(), &reply);
        assert!(err.ends_with("call failed"), "{addr}: {err}");
        // The sender logs the text of the error frame.
        f.lua.wait_line(mark, RUST_FAIL).await;
    }
    let mark = f.lua.mark();
    let reply = f
        .control("proxy_call", &[s("rust1"), s("@fail"), s("x")])
        .await;
    assert!(pcall_err("proxy", &reply).ends_with("call failed"));
    f.lua.wait_line(mark, RUST_FAIL).await;

    // An error text longer than a frame is cut to 0x8000 bytes; the Lua
    // side takes it and the connection keeps working.
    let long = f.rust.spawn_handler(|_req: Request| async move {
        Err::<Bytes, _>(HandlerError::new("e".repeat(100 * 1024)))
    });
    f.rust.register_name("longfail", long).expect("register");
    let reply = f.control("call", &[s("rust1"), s("@longfail")]).await;
    assert!(pcall_err("longfail", &reply).ends_with("call failed"));
    let reply = f.control("call", &[s("rust1"), s("@echo"), int(5)]).await;
    assert_eq!(pcall_ok("echo after", reply), [int(5)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_typed_rust_method_that_raises_or_cannot_run_makes_the_lua_call_raise() {
    let f = Fixture::start("sk-err-typed").await;
    let cases: [(&str, Vec<Value>, &str); 5] = [
        (
            "a method that raises (Result<_, HandlerError>)",
            vec![s("raise"), s("the room is gone")],
            "the room is gone",
        ),
        (
            "arguments of the wrong type",
            vec![s("add"), s("one"), int(1)],
            "cannot decode the arguments of `add` of service `rtyped`",
        ),
        (
            "a method it does not have",
            vec![s("nosuch")],
            "unknown method `nosuch` of service `rtyped`",
        ),
        (
            "a reply Lua cannot hold",
            vec![s("huge")],
            "cannot encode the reply of `huge` of service `rtyped`",
        ),
        (
            "a method name that is not a string",
            vec![int(42)],
            "cannot decode the method name of a call to service `rtyped`",
        ),
    ];
    for (what, args, logged) in cases {
        let mark = f.lua.mark();
        let mut all = vec![s("rust1"), s("@rtyped")];
        all.extend(args);
        let reply = f.control("call", &all).await;
        let err = pcall_err(what, &reply);
        assert!(err.ends_with("call failed"), "{what}: {err}");
        f.lua.wait_line(mark, logged).await;
    }
    // `Err` is not a failure: it is the reply `nil, err`.
    let reply = f
        .control(
            "call",
            &[s("rust1"), s("@rtyped"), s("divide"), int(1), int(0)],
        )
        .await;
    assert_eq!(
        pcall_ok("divide", reply),
        [Value::Nil, s("division by zero")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn unresolvable_rust_addresses_make_the_lua_call_raise_with_the_reason_logged() {
    let f = Fixture::start("sk-err-rust-addr").await;
    let cases = [
        (s("@nobody"), "Invalid name `@nobody` on node `rust1`"),
        (s(".nobody"), "invalid address `.nobody` on node `rust1`"),
        (
            int(0x00ff_ffff),
            "invalid address `:00ffffff` on node `rust1`",
        ),
        // Skynet would never answer this one (the caller hangs); skycluster
        // answers, so the Lua call fails at once.
        (s("echo"), "invalid address `echo` on node `rust1`"),
    ];
    for (addr, logged) in cases {
        let mark = f.lua.mark();
        let reply = f.control("call", &[s("rust1"), addr.clone(), s("x")]).await;
        let err = pcall_err(&addr.to_string(), &reply);
        assert!(err.ends_with("call failed"), "{addr}: {err}");
        f.lua.wait_line(mark, logged).await;
    }
    let mark = f.lua.mark();
    let reply = f.control("query", &[s("rust1"), s("nobody")]).await;
    assert!(pcall_err("query", &reply).ends_with("call failed"));
    f.lua.wait_line(mark, "name not found").await;

    // A push to an unknown name: Skynet answers it with an error frame of
    // session 0, which a Lua sender logs as an unknown session. The
    // connection keeps working either way.
    let mark = f.lua.mark();
    let reply = f.control("send", &[s("rust1"), s("@nobody"), s("x")]).await;
    pcall_ok("send", reply);
    f.lua.wait_line(mark, "unknown session : 0").await;
    // A multi-part push carries a real session, and the error frame comes
    // back with it, as Skynet's agent does.
    let mark = f.lua.mark();
    let big = s(&"p".repeat(100 * 1024));
    let reply = f.control("send", &[s("rust1"), s("@nobody"), big]).await;
    pcall_ok("send", reply);
    let line = f.lua.wait_line(mark, "unknown session : ").await;
    let session = line.rsplit(' ').next().unwrap_or_default();
    assert!(
        session.parse::<u32>().is_ok_and(|n| n > 0),
        "the error frame of a multi-part push has its session: {line}"
    );
    let reply = f.control("call", &[s("rust1"), s("@echo"), int(9)]).await;
    assert_eq!(pcall_ok("echo after", reply), [int(9)]);
    // (The raw reply of a call to the Lua node is unaffected too.)
    let reply = f.callee("@callee", "echo", &[int(3)]).await.expect("echo");
    assert_eq!(reply, [int(3)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_rust_node_with_auth_turns_a_lua_caller_away_and_still_calls_it_plain() {
    let options = skycluster::Options::default().with_auth(Some(
        skycluster::Auth::new(b"skynet tests secret".to_vec()).with_plain_node("lua1"),
    ));
    let f = Fixture::start_with("sk-auth", options).await;
    // rust1 -> lua1 goes without the handshake: lua1 is a plain node.
    let reply = f.callee("@callee", "echo", &[int(1)]).await;
    assert_eq!(reply.expect("plain call"), [int(1)]);
    // lua1 -> rust1: the listener's challenge is not a frame the Lua
    // sender understands, and its request is not an answer: the listener
    // closes the connection and the Lua call fails, not hangs.
    let reply = f.control("call", &[s("rust1"), s("@echo"), int(2)]).await;
    let err = pcall_err("call with auth", &reply);
    assert!(err.ends_with("call failed"), "{err}");
}
