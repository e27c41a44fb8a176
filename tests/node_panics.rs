//! A handler that panics fails its own request and nothing else: the
//! caller gets an error frame naming the service (and method) and saying
//! it panicked, and the connection, the calls in flight on it and the
//! calls after it go on. Over TCP on 127.0.0.1 (typed clients, raw calls,
//! and Skynet frames written by hand), and for local calls.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use skycluster::codec::luaseri::Value;
use skycluster::{CallError, Cluster, Config, ErrorKind, HandlerError, Options, Request};
use tokio::sync::Notify;

use support::node::{bounded, client, pack, s};
use support::raw::{push, request, Raw};

/// The node every test serves from.
const NODE: &str = "panics1";

// ---- the services ----

/// A bincode service with methods that panic.
#[skycluster::service]
pub trait Fragile {
    /// Panics on its first poll.
    async fn boom(&self, room: u32) -> u32;
    /// Panics after an `.await`, on a later poll.
    async fn boom_later(&self, room: u32) -> u32;
    /// Says it has arrived, waits to be released, then answers `room`.
    async fn hold(&self, room: u32) -> u32;
    /// Answers `room + 1`.
    async fn next(&self, room: u32) -> u32;
}

#[derive(Default)]
struct FragileImpl {
    arrived: Notify,
    release: Notify,
}

#[skycluster::async_trait]
impl Fragile for FragileImpl {
    async fn boom(&self, room: u32) -> u32 {
        if room > 0 {
            panic!("room {room} is on fire");
        }
        room
    }

    async fn boom_later(&self, room: u32) -> u32 {
        tokio::task::yield_now().await;
        if room > 0 {
            panic!("room {room} burned down later");
        }
        room
    }

    async fn hold(&self, room: u32) -> u32 {
        self.arrived.notify_one();
        self.release.notified().await;
        room
    }

    async fn next(&self, room: u32) -> u32 {
        room + 1
    }
}

/// A service as a Lua node's peers call it.
#[skycluster::service(codec = lua, name = "lua_fragile")]
pub trait LuaFragile {
    /// `error(...)` would be Lua's way; this one panics.
    async fn burn(&self, room: u32) -> u32;
    /// `return "hello, " .. name`
    async fn greet(&self, name: String) -> String;
}

struct LuaFragileImpl;

#[skycluster::async_trait]
impl LuaFragile for LuaFragileImpl {
    async fn burn(&self, room: u32) -> u32 {
        if room > 0 {
            panic!("lua room {room} is on fire");
        }
        room
    }

    async fn greet(&self, name: String) -> String {
        format!("hello, {name}")
    }
}

/// A raw closure handler: panics in `handle` itself when the payload is
/// `now`, in its future (after an `.await`) when it is `later`, and echoes
/// anything else.
fn raw_fragile(request: Request) -> impl std::future::Future<Output = Result<Bytes, HandlerError>> {
    if request.payload() == "now" {
        panic!("asked to panic now");
    }
    async move {
        tokio::task::yield_now().await;
        if request.payload() == "later" {
            panic!("asked to panic later");
        }
        Ok(request.into_payload())
    }
}

/// A node named [`NODE`] on an ephemeral port with `@Fragile`,
/// `@lua_fragile` and the raw `.fragile`.
async fn server() -> (Cluster, SocketAddr, Arc<FragileImpl>) {
    let cluster = Cluster::new(Config::new());
    cluster.set_name(NODE).expect("fresh cluster");
    let addr = cluster.listen("127.0.0.1:0").await.expect("listen");
    let fragile = Arc::new(FragileImpl::default());
    let handle = cluster.spawn::<dyn Fragile>(Arc::clone(&fragile));
    cluster.register::<dyn Fragile>(handle).expect("register");
    let handle = cluster.spawn::<dyn LuaFragile>(LuaFragileImpl);
    cluster
        .register::<dyn LuaFragile>(handle)
        .expect("register");
    let handle = cluster.spawn_handler(raw_fragile);
    cluster.name(".fragile", handle).expect("name");
    (cluster, addr, fragile)
}

/// The text of a remote error, failing the test on any other outcome.
fn remote_text<T: std::fmt::Debug>(outcome: Result<T, CallError>) -> String {
    match outcome {
        Err(e) => match e.kind() {
            ErrorKind::Remote { text } => text.to_string(),
            other => panic!("expected a remote error, got {other:?}: {e}"),
        },
        Ok(v) => panic!("expected a remote error, got {v:?}"),
    }
}

// ---- over TCP ----

#[tokio::test]
async fn a_method_that_panics_fails_alone_and_its_connection_goes_on() {
    let (_server, addr, fragile) = server().await;
    let game = client(&[(NODE, addr)], Options::default());
    let rooms = game.proxy::<dyn Fragile>(NODE, "@Fragile");
    assert_eq!(bounded("first call", rooms.next(1)).await.expect("call"), 2);

    // `hold` is in flight on the same connection while the others panic.
    let (held, ()) = tokio::join!(bounded("held call", rooms.hold(5)), async {
        bounded("hold arrives", fragile.arrived.notified()).await;

        let text = remote_text(bounded("boom", rooms.boom(7)).await);
        assert_eq!(
            text,
            "method `boom` of service `Fragile` panicked: room 7 is on fire"
        );
        assert_eq!(bounded("after boom", rooms.next(2)).await.expect("call"), 3);

        let text = remote_text(bounded("boom_later", rooms.boom_later(8)).await);
        assert_eq!(
            text,
            "method `boom_later` of service `Fragile` panicked: room 8 burned down later"
        );
        assert_eq!(
            bounded("after boom_later", rooms.next(3))
                .await
                .expect("call"),
            4
        );
        assert!(game.status().nodes[0].connected, "still connected");
        fragile.release.notify_one();
    });
    // A dropped connection would have failed it.
    assert_eq!(held.expect("the call in flight is answered"), 5);
    assert_eq!(bounded("last call", rooms.next(9)).await.expect("call"), 10);
}

#[tokio::test]
async fn a_raw_handler_that_panics_gets_an_error_naming_address_and_node() {
    let (_server, addr, fragile) = server().await;
    let game = client(&[(NODE, addr)], Options::default());
    let raw = game.endpoint(NODE, ".fragile");
    let rooms = game.proxy::<dyn Fragile>(NODE, "@Fragile");
    let hi = Bytes::from_static(b"hi");
    assert_eq!(
        bounded("echo", raw.call(hi.clone())).await.expect("call"),
        hi
    );

    let (held, ()) = tokio::join!(bounded("held call", rooms.hold(6)), async {
        bounded("hold arrives", fragile.arrived.notified()).await;
        let text = remote_text(bounded("now", raw.call(Bytes::from_static(b"now"))).await);
        assert_eq!(
            text,
            "service at `.fragile` on node `panics1` panicked: asked to panic now"
        );
        assert_eq!(
            bounded("echo", raw.call(hi.clone())).await.expect("call"),
            hi
        );
        let text = remote_text(bounded("later", raw.call(Bytes::from_static(b"later"))).await);
        assert_eq!(
            text,
            "service at `.fragile` on node `panics1` panicked: asked to panic later"
        );
        // Pushes that panic: logged, nothing sent back, nothing broken.
        raw.send(Bytes::from_static(b"now")).expect("queued");
        raw.send(Bytes::from_static(b"later")).expect("queued");
        assert_eq!(
            bounded("echo", raw.call(hi.clone())).await.expect("call"),
            hi
        );
        fragile.release.notify_one();
    });
    assert_eq!(held.expect("the call in flight is answered"), 6);
}

#[tokio::test]
async fn a_lua_codec_method_that_panics_answers_a_skynet_frame_with_an_error_frame() {
    let (_server, addr, _fragile) = server().await;
    let mut raw = Raw::connect(addr).await;

    // cluster.call("panics1", "@lua_fragile", "burn", 7)
    raw.write(&request(
        "@lua_fragile",
        1,
        pack(&[s("burn"), Value::Integer(7)]),
    ))
    .await;
    let (kind, reply) = raw.reply_frame().await;
    assert_eq!((kind, reply.session), (0x00, 1), "an error frame");
    assert_eq!(
        reply.result,
        Err(Bytes::from_static(
            b"method `burn` of service `lua_fragile` panicked: lua room 7 is on fire"
        ))
    );

    // The same socket goes on.
    raw.write(&request("@lua_fragile", 2, pack(&[s("greet"), s("lua")])))
        .await;
    let (kind, reply) = raw.reply_frame().await;
    assert_eq!((kind, reply.session), (0x01, 2));
    assert_eq!(reply.result, Ok(pack(&[s("hello, lua")])));

    // Pushes that panic, in a method and in a raw handler's `handle` and
    // future, are answered with nothing: the next frame back is the
    // next call's reply.
    let mut out = push("@lua_fragile", pack(&[s("burn"), Value::Integer(8)]));
    out.extend_from_slice(&push(".fragile", Bytes::from_static(b"now")));
    out.extend_from_slice(&push(".fragile", Bytes::from_static(b"later")));
    out.extend_from_slice(&request(".fragile", 3, Bytes::from_static(b"later")));
    out.extend_from_slice(&request(".fragile", 4, Bytes::from_static(b"now")));
    out.extend_from_slice(&request("@lua_fragile", 5, pack(&[s("greet"), s("x")])));
    raw.write(&out).await;
    let mut replies = Vec::new();
    for _ in 0..3 {
        let (kind, reply) = raw.reply_frame().await;
        replies.push((reply.session, kind, reply.result));
    }
    // Replies leave as calls finish: `later` yields first.
    replies.sort_by_key(|(session, ..)| *session);
    let panicked = |what: &str| {
        Err(Bytes::from(format!(
            "service at `.fragile` on node `panics1` panicked: asked to panic {what}"
        )))
    };
    assert_eq!(
        replies,
        [
            (3, 0x00, panicked("later")),
            (4, 0x00, panicked("now")),
            (5, 0x01, Ok(pack(&[s("hello, x")]))),
        ]
    );
    // Every push has run by now (the last with call 3): had one been
    // answered, its frame would come before this call's reply.
    raw.write(&request("@lua_fragile", 6, pack(&[s("greet"), s("y")])))
        .await;
    let (kind, reply) = raw.reply_frame().await;
    assert_eq!((kind, reply.session), (0x01, 6));
    assert_eq!(reply.result, Ok(pack(&[s("hello, y")])));
}

// ---- local calls ----

#[tokio::test]
async fn a_local_call_to_a_panicking_service_returns_an_error_not_the_panic() {
    let (server, _addr, _fragile) = server().await;

    let rooms = server.proxy::<dyn Fragile>(NODE, "@Fragile");
    let text = remote_text(bounded("local boom", rooms.boom(7)).await);
    assert_eq!(
        text,
        "method `boom` of service `Fragile` panicked: room 7 is on fire"
    );
    let text = remote_text(bounded("local boom_later", rooms.boom_later(8)).await);
    assert_eq!(
        text,
        "method `boom_later` of service `Fragile` panicked: room 8 burned down later"
    );
    assert_eq!(bounded("local next", rooms.next(1)).await.expect("call"), 2);

    let raw = server.endpoint(NODE, ".fragile");
    for what in ["now", "later"] {
        let text = remote_text(bounded("local raw", raw.call(Bytes::from(what))).await);
        assert_eq!(
            text,
            format!("service at `.fragile` on node `panics1` panicked: asked to panic {what}")
        );
    }
    // A local push runs on a task of its own: its panic is logged there.
    raw.send(Bytes::from_static(b"now")).expect("queued");
    raw.send(Bytes::from_static(b"later")).expect("queued");
    let hi = Bytes::from_static(b"hi");
    assert_eq!(
        bounded("local echo", raw.call(hi.clone()))
            .await
            .expect("call"),
        hi
    );
}
