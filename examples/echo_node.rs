//! A fixture node any Skynet client can call.
//!
//! ```sh
//! cargo run --release -p examples --bin echo_node -- --config FILE --node NAME
//! ```
//!
//! It listens on NAME's address from the clustername FILE and hosts one
//! `codec = lua` service, registered as `@echo` and named `.echo`:
//!
//! * `echo(...)` replies with all its arguments unchanged;
//! * `add(a, b)` replies `a + b` (integers stay integers, reals stay reals);
//! * `big(n)` replies a string of `n` bytes `x`;
//! * `fail(msg)` fails, with `msg` in the error text;
//! * `sleep(ms)` replies `true` after `ms` milliseconds.
//!
//! From a Lua node: `cluster.call("NAME", "@echo", "echo", 1, "x", {a = 1})`
//! returns `1, "x", {a = 1}`, and `cluster.query("NAME", "echo")` returns
//! the service's handle.
//!
//! It prints `ready` once listening and exits cleanly on SIGTERM or
//! Ctrl-C. With `--exit-with-stdin` it also exits when its stdin closes,
//! so a test or supervisor that dies cannot leave it running.
//!
//! # Why `echo` is dispatched by hand
//!
//! `add`, `big`, `sleep` and `fail` come from `#[service(codec = lua)]`;
//! `fail` returns `Result<(), HandlerError>`, so its `Err` is an error
//! frame, as Lua's `error(...)` sends. `echo` could too, as
//! `async fn echo(&self, args: Values) -> Values`, and a Lua caller would
//! get the same values back. But it would decode and re-encode them, and a
//! table holding both an array and a hash part would go back with its
//! array as pairs (`[1] = a`): the same Lua table, other bytes. A fixture
//! answers with the very bytes it got, so one raw [`Handler`] answers
//! `echo` with the arguments' own bytes and hands every other call to the
//! generated dispatcher, unchanged.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use skycluster::codec::luaseri::Value;
use skycluster::codec::{Codec, Lua};
use skycluster::{Cluster, Handled, Handler, HandlerError, Request, Service};

/// The largest `big(n)`: well under the 64 MiB message limit, and no
/// caller can make the node allocate without bound.
const MAX_BIG: usize = 32 << 20;

/// A Lua number: an integer or a real, kept apart as Lua 5.3+ does.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub enum Number {
    Integer(i64),
    Real(f64),
}

/// By hand rather than `untagged`, for the error a Lua programmer expects:
/// "expected a number", not "did not match any variant".
impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Number, D::Error> {
        struct Visit;
        impl Visitor<'_> for Visit {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                i64::try_from(v)
                    .map(Number::Integer)
                    .map_err(|_| E::custom("integer out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number::Real(v))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

/// The typed part of the service.
#[skycluster::service(codec = lua, name = "echo")]
pub trait Echo {
    async fn add(&self, a: Number, b: Number) -> Number;
    /// `nil, err` above [`MAX_BIG`].
    async fn big(&self, n: u64) -> Result<String, String>;
    async fn sleep(&self, ms: u64) -> bool;
    /// Raises `fail: MSG`, as `error("fail: " .. tostring(msg))` would.
    async fn fail(&self, msg: Value) -> Result<(), HandlerError>;
}

struct Fixture;

#[skycluster::async_trait]
impl Echo for Fixture {
    async fn add(&self, a: Number, b: Number) -> Number {
        match (a, b) {
            // Lua integer arithmetic wraps around.
            (Number::Integer(a), Number::Integer(b)) => Number::Integer(a.wrapping_add(b)),
            (a, b) => Number::Real(real(a) + real(b)),
        }
    }

    async fn big(&self, n: u64) -> Result<String, String> {
        match usize::try_from(n) {
            Ok(n) if n <= MAX_BIG => Ok("x".repeat(n)),
            _ => Err(format!("big: {n} is over the limit of {MAX_BIG} bytes")),
        }
    }

    async fn sleep(&self, ms: u64) -> bool {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        true
    }

    async fn fail(&self, msg: Value) -> Result<(), HandlerError> {
        let text = msg.as_str().map_or_else(|| msg.to_string(), str::to_owned);
        Err(HandlerError::new(format!("fail: {text}")))
    }
}

fn real(n: Number) -> f64 {
    match n {
        Number::Integer(i) => i as f64,
        Number::Real(x) => x,
    }
}

/// `echo` by hand; everything else to the generated dispatcher.
struct EchoService {
    typed: Arc<dyn Handler>,
}

impl Handler for EchoService {
    fn handle(&self, request: Request) -> Handled {
        let payload = request.payload().clone();
        let (method, args) = match Lua::decode_method(&payload) {
            Ok(split) => split,
            Err(e) => return Handled::ready(Err(HandlerError::new(e.to_string()))),
        };
        match method {
            // The arguments are the bytes after the method name: replying
            // with them returns every value exactly as it arrived.
            b"echo" => Handled::ready(Ok(payload.slice_ref(args))),
            _ => self.typed.handle(request),
        }
    }

    // The typed methods' fingerprints, so that a Rust client's schema
    // check (and `skycluster schema`) sees them through this wrapper.
    fn fingerprints(&self) -> Option<&'static skycluster::schema::Fingerprints> {
        self.typed.fingerprints()
    }
}

#[skycluster::cluster_main(grace_ms = 2000)]
async fn main(cluster: Cluster) -> Result<(), skycluster::Error> {
    let typed = <dyn Echo as Service>::handler(Arc::new(Fixture));
    let echo = cluster.spawn_handler(EchoService { typed });
    cluster.register_name("echo", echo)?;
    cluster.name(".echo", echo)?;
    println!("ready");
    if examples::has_flag("--exit-with-stdin") {
        let _ = examples::stdin_closed().await;
    } else {
        // Serve until SIGTERM or Ctrl-C; `cluster_main` handles both.
        std::future::pending::<()>().await;
    }
    Ok(())
}
