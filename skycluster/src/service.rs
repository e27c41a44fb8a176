//! The runtime half of `#[service]`: what a local service is, and the
//! traits the generated code implements.
//!
//! A local service is a [`Handler`]: it takes a request's payload and
//! returns a reply payload or an error text. `#[service]` generates one
//! handler per trait (decode the method, call the implementation, encode
//! the reply) and a client; hand-written handlers serve raw bytes.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

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
/// A raw [`Handler`] returns it, and so does a `#[service]` method whose
/// return type is written `Result<T, HandlerError>`: its `Err` is answered
/// with an error frame, as Lua's `error("room is full")` is, instead of a
/// reply. A Rust caller gets `ErrorKind::Remote` with the text; a Lua
/// caller's `cluster.call` raises (Skynet's sender turns every error frame
/// into `call failed`, and logs the text).
///
/// # Examples
///
/// ```
/// use skycluster::HandlerError;
///
/// let e = HandlerError::new("room is full");
/// assert_eq!(e.to_string(), "room is full");
/// assert_eq!(HandlerError::from("room is full"), e);
/// ```
///
/// A method that fails like Lua's `error(...)`:
///
/// ```
/// use skycluster::{Cluster, Config, ErrorKind, HandlerError};
///
/// #[skycluster::service(codec = lua)]
/// pub trait Rooms {
///     /// Lua: `if n > 8 then error("room is full") end; return n`
///     async fn join(&self, n: u32) -> Result<u32, HandlerError>;
/// }
///
/// struct Lobby;
///
/// #[skycluster::async_trait]
/// impl Rooms for Lobby {
///     async fn join(&self, n: u32) -> Result<u32, HandlerError> {
///         if n > 8 {
///             return Err("room is full".into());
///         }
///         Ok(n)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = Cluster::new(Config::new());
/// cluster.set_name("battle1")?;
/// let lobby = cluster.spawn::<dyn Rooms>(Lobby);
/// cluster.name(".lobby", lobby)?;
///
/// // The client's method returns `Result<u32, CallError>`: the error
/// // frame is the call's error, of kind `ErrorKind::Remote`.
/// let rooms = cluster.proxy::<dyn Rooms>("battle1", ".lobby");
/// assert_eq!(rooms.join(3).await?, 3);
/// let err = rooms.join(9).await.unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::Remote { text } if &**text == "room is full"));
/// # Ok(()) }
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

    /// The error for a method `service` does not have. The method is its
    /// name as the caller sent it, text or bytes (bytes that are not UTF-8
    /// are shown lossily).
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::HandlerError;
    ///
    /// let e = HandlerError::unknown_method("BattleMgr", "create");
    /// assert_eq!(e.text(), "unknown method `create` of service `BattleMgr`");
    /// let e = HandlerError::unknown_method("BattleMgr", b"cr\xffate");
    /// assert_eq!(e.text(), "unknown method `cr\u{fffd}ate` of service `BattleMgr`");
    /// ```
    pub fn unknown_method(service: &str, method: impl AsRef<[u8]>) -> HandlerError {
        let method = String::from_utf8_lossy(method.as_ref());
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

impl From<String> for HandlerError {
    fn from(text: String) -> HandlerError {
        HandlerError::new(text)
    }
}

impl From<&str> for HandlerError {
    fn from(text: &str) -> HandlerError {
        HandlerError::new(text)
    }
}

/// What a [`Handler`] made of a request: its reply already, or a future
/// that will produce it.
///
/// Most handlers of a game server answer at once; a ready reply goes
/// straight back without a boxed future or a task. `Handled` is itself a
/// future, so a caller that just wants the outcome awaits it.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use skycluster::{Handled, HandlerError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let now = Handled::ready(Ok(Bytes::from_static(b"pong")));
/// assert!(now.is_ready());
/// let later = Handled::later(async { Err(HandlerError::new("room is full")) });
/// assert!(!later.is_ready());
/// assert_eq!(later.await, Err(HandlerError::new("room is full")));
/// # }
/// ```
#[must_use = "a handler's outcome is its reply"]
pub struct Handled(Option<Now>);

/// What a [`Handled`] holds, for the agent that answers it. (A `Handled`
/// polled to completion holds nothing.)
pub(crate) enum Now {
    /// The reply or error.
    Reply(Result<Bytes, HandlerError>),
    /// A small reply, encoded in place: no allocation and no reference
    /// count, which a ready `Bytes` costs.
    Inline(Inline),
    /// The future that will produce it, not polled yet.
    Later(BoxFuture<Result<Bytes, HandlerError>>),
    /// The future that will produce it, polled once already and pending:
    /// the next poll should bring a waker that can wake it.
    Started(BoxFuture<Result<Bytes, HandlerError>>),
}

impl Handled {
    /// A reply (or an error) known now.
    pub fn ready(outcome: Result<Bytes, HandlerError>) -> Handled {
        Handled(Some(Now::Reply(outcome)))
    }

    /// A reply `future` will produce.
    pub fn later(
        future: impl Future<Output = Result<Bytes, HandlerError>> + Send + 'static,
    ) -> Handled {
        Handled(Some(Now::Later(Box::pin(future))))
    }

    /// A reply an already boxed `future` will produce, without boxing it
    /// again as [`Handled::later`] would.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use skycluster::{BoxFuture, Handled, HandlerError};
    ///
    /// let future: BoxFuture<Result<Bytes, HandlerError>> = Box::pin(async { Ok(Bytes::new()) });
    /// let handled = Handled::boxed(future);
    /// assert!(!handled.is_ready());
    /// ```
    pub fn boxed(future: BoxFuture<Result<Bytes, HandlerError>>) -> Handled {
        Handled(Some(Now::Later(future)))
    }

    /// A reply `future` will produce, which was polled once and is still
    /// running.
    pub(crate) fn started(future: BoxFuture<Result<Bytes, HandlerError>>) -> Handled {
        Handled(Some(Now::Started(future)))
    }

    /// A small reply, carried in place.
    pub(crate) fn inline(reply: Inline) -> Handled {
        Handled(Some(Now::Inline(reply)))
    }

    /// Whether the reply is known now.
    pub fn is_ready(&self) -> bool {
        matches!(self.0, Some(Now::Reply(_) | Now::Inline(_)))
    }

    /// What it holds.
    pub(crate) fn into_now(self) -> Now {
        self.0.unwrap_or_else(|| {
            Now::Reply(Err(HandlerError::new(
                "internal error: a handler's reply was taken twice",
            )))
        })
    }
}

impl Future for Handled {
    type Output = Result<Bytes, HandlerError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(Now::Later(future) | Now::Started(future)) = &mut this.0 {
            return future.as_mut().poll(cx);
        }
        match this.0.take() {
            Some(Now::Reply(outcome)) => Poll::Ready(outcome),
            Some(Now::Inline(reply)) => Poll::Ready(Ok(reply.to_bytes())),
            Some(Now::Later(_) | Now::Started(_)) | None => {
                panic!("a `Handled` was polled after it completed")
            }
        }
    }
}

impl fmt::Debug for Handled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(Now::Reply(outcome)) => f.debug_tuple("Handled::Ready").field(outcome).finish(),
            Some(Now::Inline(reply)) => f.debug_tuple("Handled::Ready").field(reply).finish(),
            Some(Now::Later(_) | Now::Started(_)) => f.write_str("Handled::Later(..)"),
            None => f.write_str("Handled::Taken"),
        }
    }
}

/// A reply of at most [`Inline::MAX`] bytes, held in place.
#[derive(Clone, Copy)]
pub(crate) struct Inline {
    len: u8,
    bytes: [u8; Inline::MAX],
}

impl Inline {
    /// The longest reply held in place: a 16-byte payload and its framing
    /// fit with room to spare, and a `Handled` stays one cache line.
    pub(crate) const MAX: usize = 48;

    /// `reply`, if it is short enough.
    pub(crate) fn new(reply: &[u8]) -> Option<Inline> {
        let mut bytes = [0; Inline::MAX];
        bytes.get_mut(..reply.len())?.copy_from_slice(reply);
        Some(Inline {
            len: reply.len() as u8,
            bytes,
        })
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// A copy in memory of its own, for a caller that needs a `Bytes`.
    pub(crate) fn to_bytes(self) -> Bytes {
        crate::node::scratch::to_bytes(self.as_bytes())
    }
}

impl fmt::Debug for Inline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ok")
            .field(&Bytes::copy_from_slice(self.as_bytes()))
            .finish()
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
pub trait Handler: Send + Sync + 'static {
    /// Handles one request. Requests on one connection run concurrently, so
    /// a slow one does not hold back the others.
    fn handle(&self, request: Request) -> Handled;
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

/// What `cluster.spawn::<dyn S>(..)` serves `S` with: an implementation of
/// `S` itself, an `Arc` of one (to keep a reference), or an `Arc<dyn S>`.
///
/// Implemented for every type `#[service]` can turn into the `Arc<dyn S>`
/// its dispatcher holds; there is nothing to implement by hand.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
///
/// #[skycluster::service]
/// pub trait Counter {
///     async fn add(&self, n: u64) -> u64;
/// }
///
/// #[derive(Default)]
/// struct Total(std::sync::atomic::AtomicU64);
///
/// #[skycluster::async_trait]
/// impl Counter for Total {
///     async fn add(&self, n: u64) -> u64 {
///         self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n
///     }
/// }
///
/// let cluster = skycluster::Cluster::new(skycluster::Config::new());
/// // The implementation itself...
/// let a = cluster.spawn::<dyn Counter>(Total::default());
/// // ...or shared, to read it from here too...
/// let total = Arc::new(Total::default());
/// let b = cluster.spawn::<dyn Counter>(Arc::clone(&total));
/// // ...or already a trait object.
/// let any: Arc<dyn Counter> = Arc::new(Total::default());
/// let c = cluster.spawn::<dyn Counter>(any);
/// assert!(a != b && b != c);
/// ```
pub trait IntoService<S: ?Sized> {
    /// The implementation, shared, as the dispatcher holds it.
    fn into_service(self) -> Arc<S>;
}

impl<I, S: ?Sized + ServiceFrom<I>> IntoService<S> for I {
    fn into_service(self) -> Arc<S> {
        S::service_from(self)
    }
}

/// How service `Self` (a `dyn Trait`) is made from `I`, for
/// [`IntoService`]: `#[service]` implements it for every implementation of
/// the trait and an `Arc` of one, and this crate for `Arc<dyn Trait>`.
///
/// The other way round from `IntoService`, because a crate may implement
/// skycluster's trait for its own `dyn Trait` with any `I`, but not for
/// any `I` with its own `dyn Trait` as the parameter (the orphan rule).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{I}` is not an implementation of `{Self}`",
    label = "not an implementation of `{Self}`",
    note = "`cluster.spawn::<{Self}>(..)` takes an implementation of the trait, an `Arc` of \
            one, or an `Arc<{Self}>`"
)]
pub trait ServiceFrom<I> {
    /// `implementation`, as the dispatcher holds it.
    fn service_from(implementation: I) -> Arc<Self>;
}

impl<S: ?Sized + Service> ServiceFrom<Arc<S>> for S {
    fn service_from(implementation: Arc<S>) -> Arc<S> {
        implementation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handled_fits_in_a_cache_line() {
        assert!(std::mem::size_of::<Handled>() <= 64);
    }

    #[test]
    fn a_reply_up_to_the_inline_limit_is_held_in_place() {
        let at_limit = [1u8; Inline::MAX];
        let inline = Inline::new(&at_limit).expect("fits");
        assert_eq!(inline.as_bytes(), &at_limit[..]);
        assert!(Inline::new(&[1u8; Inline::MAX + 1]).is_none());
        assert_eq!(Inline::new(b"").map(|i| i.as_bytes().len()), Some(0));

        let mut handled = Handled::inline(inline);
        assert!(handled.is_ready());
        let polled =
            Pin::new(&mut handled).poll(&mut Context::from_waker(std::task::Waker::noop()));
        assert_eq!(polled, Poll::Ready(Ok(Bytes::copy_from_slice(&at_limit))));
        assert!(
            matches!(handled.into_now(), Now::Reply(Err(_))),
            "taken once"
        );
    }
}
