//! The schema check: two builds of one trait, differing by one argument
//! type, by one added method and by one removed method, each calling the
//! other over TCP. A call of a method the builds disagree on fails with
//! one error naming the service and every method that differs, and is not
//! sent; the methods they agree on go through; the check is redone on a
//! new connection, and can be turned off.

mod support;

use std::net::SocketAddr;

use skycluster::{CallError, Cluster, Config, ErrorKind, Options, Service};

use support::node::{bounded, client};

/// The first build.
mod base {
    #[skycluster::service(name = "Rooms")]
    pub(crate) trait Rooms {
        async fn open(&self, id: u32) -> u32;
        async fn close(&self, id: u32) -> bool;
        #[push]
        async fn note(&self, text: String);
    }
}

/// `open` takes an `i32`: under bincode a `u32` decodes as one without
/// error, to another number; and `note` takes a number.
mod changed {
    #[skycluster::service(name = "Rooms")]
    pub(crate) trait Rooms {
        async fn open(&self, id: i32) -> u32;
        async fn close(&self, id: u32) -> bool;
        #[push]
        async fn note(&self, text: u64);
    }
}

/// `stats` added.
mod added {
    #[skycluster::service(name = "Rooms")]
    pub(crate) trait Rooms {
        async fn open(&self, id: u32) -> u32;
        async fn close(&self, id: u32) -> bool;
        #[push]
        async fn note(&self, text: String);
        async fn stats(&self) -> String;
    }
}

/// `close` removed.
mod removed {
    #[skycluster::service(name = "Rooms")]
    pub(crate) trait Rooms {
        async fn open(&self, id: u32) -> u32;
        #[push]
        async fn note(&self, text: String);
    }
}

/// Serves every build: `open` doubles, `close` says yes.
struct Server;

#[skycluster::async_trait]
impl base::Rooms for Server {
    async fn open(&self, id: u32) -> u32 {
        id * 2
    }
    async fn close(&self, _: u32) -> bool {
        true
    }
    async fn note(&self, _: String) {}
}

#[skycluster::async_trait]
impl changed::Rooms for Server {
    async fn open(&self, id: i32) -> u32 {
        id.wrapping_mul(2) as u32
    }
    async fn close(&self, _: u32) -> bool {
        true
    }
    async fn note(&self, _: u64) {}
}

#[skycluster::async_trait]
impl added::Rooms for Server {
    async fn open(&self, id: u32) -> u32 {
        id * 2
    }
    async fn close(&self, _: u32) -> bool {
        true
    }
    async fn note(&self, _: String) {}
    async fn stats(&self) -> String {
        "1 room".into()
    }
}

#[skycluster::async_trait]
impl removed::Rooms for Server {
    async fn open(&self, id: u32) -> u32 {
        id * 2
    }
    async fn note(&self, _: String) {}
}

/// A node serving `S` as `@Rooms` on an ephemeral port.
async fn serve<S>() -> (Cluster, SocketAddr)
where
    S: Service + ?Sized,
    Server: skycluster::IntoService<S>,
{
    let server = Cluster::new(Config::new());
    let addr = bounded("listen", server.listen("127.0.0.1:0"))
        .await
        .expect("listen");
    let handle = server.spawn::<S>(Server);
    server.register::<S>(handle).expect("register");
    (server, addr)
}

/// Asserts `err` is the schema check's, naming `Rooms` and exactly
/// `differences`, for `method`.
fn assert_mismatch(err: &CallError, method: &str, differences: &str) {
    let ErrorKind::SchemaMismatch {
        service,
        differences: found,
    } = err.kind()
    else {
        panic!("expected a schema mismatch, got {err}");
    };
    assert_eq!(&**service, "Rooms");
    assert_eq!(&**found, differences, "{err}");
    assert_eq!(err.method(), Some(method));
    let text = err.to_string();
    assert!(
        text.contains("`Rooms`") && text.contains(differences) && text.contains("rooms"),
        "{text}"
    );
}

#[tokio::test]
async fn a_changed_argument_type_fails_that_method_only_both_ways() {
    // A client of the first build, a server of the changed one.
    let (_server, addr) = serve::<dyn changed::Rooms>().await;
    let caller = client(&[("rooms", addr)], Options::default());
    let rooms = caller.proxy::<dyn base::Rooms>("rooms", "@Rooms");
    let err = bounded("open", rooms.open(21)).await.expect_err("changed");
    assert_mismatch(&err, "open", "`note` (changed), `open` (changed)");
    assert!(bounded("close", rooms.close(1)).await.expect("agreed"));
    // The connection knows now: a push of a changed method is refused
    // before it is sent.
    let err = rooms.note("hi".into()).expect_err("changed");
    assert_mismatch(&err, "note", "`note` (changed), `open` (changed)");

    // And the other way round.
    let (_server, addr) = serve::<dyn base::Rooms>().await;
    let caller = client(&[("rooms", addr)], Options::default());
    let rooms = caller.proxy::<dyn changed::Rooms>("rooms", "@Rooms");
    let err = bounded("open", rooms.open(21)).await.expect_err("changed");
    assert_mismatch(&err, "open", "`note` (changed), `open` (changed)");
    assert!(bounded("close", rooms.close(1)).await.expect("agreed"));
}

#[tokio::test]
async fn an_added_method_fails_only_on_a_server_without_it() {
    let (_server, addr) = serve::<dyn base::Rooms>().await;
    let caller = client(&[("rooms", addr)], Options::default());
    let rooms = caller.proxy::<dyn added::Rooms>("rooms", "@Rooms");
    let err = bounded("stats", rooms.stats()).await.expect_err("missing");
    assert_mismatch(&err, "stats", "`stats` (missing)");
    assert_eq!(bounded("open", rooms.open(21)).await.expect("agreed"), 42);
    assert!(bounded("close", rooms.close(1)).await.expect("agreed"));
    rooms.note("hi".into()).expect("agreed");

    // An old client of a newer server: adding a method is compatible.
    let (_server, addr) = serve::<dyn added::Rooms>().await;
    let caller = client(&[("rooms", addr)], Options::default());
    let rooms = caller.proxy::<dyn base::Rooms>("rooms", "@Rooms");
    assert_eq!(bounded("open", rooms.open(21)).await.expect("agreed"), 42);
    assert!(bounded("close", rooms.close(1)).await.expect("agreed"));
    rooms.note("hi".into()).expect("agreed");
}

#[tokio::test]
async fn a_removed_method_fails_only_for_a_client_that_still_has_it() {
    let (_server, addr) = serve::<dyn removed::Rooms>().await;
    let caller = client(&[("rooms", addr)], Options::default());
    let rooms = caller.proxy::<dyn base::Rooms>("rooms", "@Rooms");
    let err = bounded("close", rooms.close(1)).await.expect_err("missing");
    assert_mismatch(&err, "close", "`close` (missing)");
    assert_eq!(bounded("open", rooms.open(21)).await.expect("agreed"), 42);

    // A client built after the removal, of a server from before it.
    let (_server, addr) = serve::<dyn base::Rooms>().await;
    let caller = client(&[("rooms", addr)], Options::default());
    let rooms = caller.proxy::<dyn removed::Rooms>("rooms", "@Rooms");
    assert_eq!(bounded("open", rooms.open(21)).await.expect("agreed"), 42);
    rooms.note("hi".into()).expect("agreed");
}

#[tokio::test]
async fn a_new_connection_is_checked_again() {
    let (_old, old_addr) = serve::<dyn base::Rooms>().await;
    let (_new, new_addr) = serve::<dyn changed::Rooms>().await;
    let caller = client(&[("rooms", old_addr)], Options::default());
    let rooms = caller.proxy::<dyn base::Rooms>("rooms", "@Rooms");
    assert_eq!(bounded("open", rooms.open(21)).await.expect("agreed"), 42);
    // The node moves to a server of the changed build: the same proxy's
    // next call goes over a new connection, checked again.
    caller.reload_with(Config::new().with_node("rooms", new_addr.to_string()));
    let err = bounded("open", rooms.open(21)).await.expect_err("changed");
    assert_mismatch(&err, "open", "`note` (changed), `open` (changed)");
}

#[tokio::test]
async fn with_the_check_off_a_changed_type_decodes_as_another_value() {
    // What the check is for: bincode reads the u32 21 as the i32 -11.
    let (_server, addr) = serve::<dyn changed::Rooms>().await;
    let caller = client(
        &[("rooms", addr)],
        Options::default().with_schema_check(false),
    );
    let rooms = caller.proxy::<dyn base::Rooms>("rooms", "@Rooms");
    let wrong = bounded("open", rooms.open(21)).await.expect("unchecked");
    assert_ne!(wrong, 42);
    assert_eq!(wrong, (-22i32) as u32);
}

#[tokio::test]
async fn a_raw_service_or_an_unknown_address_is_not_checked() {
    let server = Cluster::new(Config::new());
    let addr = bounded("listen", server.listen("127.0.0.1:0"))
        .await
        .expect("listen");
    // Bytes in, the same bytes out: a bincode `u32` reply to `open(u32)`
    // would need the argument alone, so answer with a fixed one.
    let raw = server.spawn_handler(|_request: skycluster::Request| async move {
        Ok::<_, skycluster::HandlerError>(bytes::Bytes::from_static(&[7]))
    });
    server.register_name("Rooms", raw).expect("register");
    let caller = client(&[("rooms", addr)], Options::default());
    let rooms = caller.proxy::<dyn base::Rooms>("rooms", "@Rooms");
    assert_eq!(bounded("open", rooms.open(21)).await.expect("unchecked"), 7);

    let missing = caller.proxy::<dyn base::Rooms>("rooms", "@Nobody");
    let err = bounded("missing", missing.open(1))
        .await
        .expect_err("no service");
    assert!(
        matches!(err.kind(), ErrorKind::Remote { .. }),
        "the call itself reports the address: {err}"
    );
}

#[test]
fn every_service_has_its_fingerprints() {
    let base = <dyn base::Rooms as Service>::fingerprints().expect("generated");
    let changed = <dyn changed::Rooms as Service>::fingerprints().expect("generated");
    assert_eq!(base.service(), "Rooms");
    assert_ne!(base.method("open"), changed.method("open"));
    assert_eq!(base.method("close"), changed.method("close"));
    // Made once, kept.
    assert!(std::ptr::eq(
        base,
        <dyn base::Rooms as Service>::fingerprints().expect("generated")
    ));
}
