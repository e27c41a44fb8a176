//! Local services: a [`Handler`] takes a [`Request`] and answers with a
//! reply payload or a [`HandlerError`], whose text goes back in an error
//! frame.
//!
//! `#[service]` generates one handler per trait (decode the method, call
//! the implementation, encode the reply); hand-written handlers serve raw
//! bytes. Nothing here knows about nodes or connections: the runtime in
//! `node` hands requests in and carries the answers out.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

mod error;
mod handled;
mod unwind;

pub use error::HandlerError;
pub(crate) use error::{
    bad_arguments, bad_arguments_text, classify, method_panicked, service_panicked, unresolved,
    DEADLINE_PASSED,
};
pub use handled::Handled;
pub(crate) use handled::{Inline, Now};
pub(crate) use unwind::{call_caught, handle_caught, poll_caught, Panic};

/// A boxed, sendable future: what a [`Handler`] returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A request as a local service receives it.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use skycluster::Request;
///
/// let request = Request::new(Bytes::from_static(b"ping"));
/// assert!(!request.is_push());
/// ```
#[derive(Clone, Debug)]
pub struct Request {
    payload: Bytes,
    push: bool,
    trace: Option<Bytes>,
}

impl Request {
    /// A call (not a push) carrying `payload`.
    pub fn new(payload: Bytes) -> Request {
        Request {
            payload,
            push: false,
            trace: None,
        }
    }

    pub(crate) fn with(payload: Bytes, push: bool, trace: Option<Bytes>) -> Request {
        Request {
            payload,
            push,
            trace,
        }
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Takes the payload out.
    pub fn into_payload(self) -> Bytes {
        self.payload
    }

    /// Whether the sender wants no reply (`cluster.send`). A push's reply is
    /// dropped.
    pub fn is_push(&self) -> bool {
        self.push
    }

    /// The trace tag sent before this request, if any.
    pub fn trace(&self) -> Option<&Bytes> {
        self.trace.as_ref()
    }
}

/// A local service: turns a request into a reply.
///
/// Implemented for every `Fn(Request) -> impl Future<Output = Result<Bytes,
/// HandlerError>>`, so a raw-bytes service is a closure. The generated
/// dispatcher of a `#[service]` trait implements it too, and answers at
/// once when the method does.
///
/// # Examples
///
/// A closure:
///
/// ```
/// use skycluster::{Handler, HandlerError, Request};
///
/// let echo = |req: Request| async move { Ok::<_, HandlerError>(req.into_payload()) };
/// fn takes(_: impl Handler) {}
/// takes(echo);
/// ```
///
/// By hand, answering without a future when it can:
///
/// ```
/// use skycluster::{Handled, Handler, HandlerError, Request};
///
/// struct Echo;
///
/// impl Handler for Echo {
///     fn handle(&self, request: Request) -> Handled {
///         if request.payload().is_empty() {
///             return Handled::ready(Err(HandlerError::new("nothing to echo")));
///         }
///         Handled::ready(Ok(request.into_payload()))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let reply = Echo.handle(Request::new(bytes::Bytes::from_static(b"hi"))).await;
/// assert_eq!(reply, Ok(bytes::Bytes::from_static(b"hi")));
/// # }
/// ```
///
/// # Panics
///
/// A handler that panics, in `handle` or in the future it returns, fails
/// that one request: the node catches the panic, logs it, and answers
/// the caller with an error frame saying so (``service at `@echo` on node
/// `battle1` panicked: <message>``; a `#[service]` names the method too).
/// The connection and every other request on it go on, and a local call
/// gets the same error rather than the panic. What the panic left
/// half-done in state the handler shares with other requests (a poisoned
/// `Mutex`, say) stays so: a panic is still a bug to fix.
///
/// A build with `panic = "abort"` cannot catch a panic: there it ends the
/// process, as any panic does.
///
/// ```
/// use bytes::Bytes;
/// use skycluster::{Cluster, Config, ErrorKind, HandlerError, Request};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = Cluster::new(Config::new());
/// cluster.set_name("battle1")?;
/// let picky = cluster.spawn_handler(|request: Request| async move {
///     if request.payload().is_empty() {
///         panic!("nothing to echo");
///     }
///     Ok::<_, HandlerError>(request.into_payload())
/// });
/// cluster.register_name("echo", picky)?;
///
/// let echo = cluster.endpoint("battle1", "@echo");
/// let err = echo.call(Bytes::new()).await.unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::Remote { text }
///     if &**text == "service at `@echo` on node `battle1` panicked: nothing to echo"));
/// assert_eq!(echo.call(Bytes::from_static(b"hi")).await?, "hi");
/// # Ok(()) }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Handles one request. Requests on one connection run concurrently, so
    /// a slow one does not hold back the others.
    fn handle(&self, request: Request) -> Handled;

    /// The fingerprints of the typed service this handler serves, which
    /// this node answers a caller's schema check with (see
    /// [`Options::schema_check`](crate::Options::schema_check)). The
    /// dispatcher `#[service]` generates returns its service's; a raw
    /// handler has none, and its callers skip the check.
    fn fingerprints(&self) -> Option<&'static crate::schema::Fingerprints> {
        None
    }
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Bytes, HandlerError>> + Send + 'static,
{
    fn handle(&self, request: Request) -> Handled {
        Handled::later(self(request))
    }
}
