//! The runtime half of `#[service]`: what a local service is, and the
//! traits the generated code implements.
//!
//! A local service is a [`Handler`]: it takes a request's payload and
//! returns a reply payload or an error text. `#[service]` generates one
//! handler per trait (decode the method, call the implementation, encode
//! the reply) and a client; hand-written handlers serve raw bytes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::node::Endpoint;

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

/// Why a local service did not produce a reply. The text goes back to the
/// caller in an error frame.
///
/// # Examples
///
/// ```
/// use skycluster::HandlerError;
///
/// let e = HandlerError::new("room is full");
/// assert_eq!(e.to_string(), "room is full");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct HandlerError {
    text: String,
}

impl HandlerError {
    /// Prefix of the error text for a method the service does not have, so
    /// that a skycluster client can tell it from other remote errors.
    pub const UNKNOWN_METHOD: &'static str = "unknown method ";

    /// An error whose text is `text`.
    pub fn new(text: impl Into<String>) -> HandlerError {
        HandlerError { text: text.into() }
    }

    /// The error for a method `service` does not have.
    pub fn unknown_method(service: &str, method: &str) -> HandlerError {
        HandlerError::new(format!(
            "{}`{method}` of service `{service}`",
            Self::UNKNOWN_METHOD
        ))
    }

    /// The text sent to the caller.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A local service: turns a request into a reply.
///
/// Implemented for every `Fn(Request) -> impl Future<Output = Result<Bytes,
/// HandlerError>>`, so a raw-bytes service is a closure. The generated
/// dispatcher of a `#[service]` trait implements it too.
///
/// # Examples
///
/// ```
/// use skycluster::{Handler, HandlerError, Request};
///
/// let echo = |req: Request| async move { Ok::<_, HandlerError>(req.into_payload()) };
/// fn takes(_: impl Handler) {}
/// takes(echo);
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Handles one request. Requests on one connection run concurrently, so
    /// a slow one does not hold back the others.
    fn handle(&self, request: Request) -> BoxFuture<Result<Bytes, HandlerError>>;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Bytes, HandlerError>> + Send + 'static,
{
    fn handle(&self, request: Request) -> BoxFuture<Result<Bytes, HandlerError>> {
        Box::pin(self(request))
    }
}

/// A service interface, implemented by `#[service]` for `dyn Trait`.
///
/// It ties the trait to its cluster name, its generated client and its
/// generated dispatcher, so that `cluster.proxy::<dyn BattleMgr>(..)` and
/// `cluster.spawn::<dyn BattleMgr>(..)` are typed.
pub trait Service: Send + Sync + 'static {
    /// The name the service registers under (without `@`); the trait's name
    /// unless `#[service(name = "...")]` says otherwise.
    const NAME: &'static str;

    /// The generated client type.
    type Client: Clone + Send + Sync + 'static;

    /// A client that sends its calls to `endpoint`.
    fn client(endpoint: Endpoint) -> Self::Client;

    /// The handler that serves calls with `implementation`.
    fn handler(implementation: Arc<Self>) -> Arc<dyn Handler>;
}
