//! A call through an [`Endpoint`], as one future: typed calls (generated
//! clients) and raw ones ([`Endpoint::call`]) alike.
//!
//! The request is queued on the first poll, with that poll's waker in its
//! slot, so the call is not polled again until its answer (or its timeout)
//! comes; nothing is boxed and nothing is allocated for it on that path.
//! A call to this node's own service, or one that waits for a reload to
//! bring its node into the config, goes through a boxed state of the same
//! future instead: rarer, and larger, so kept off the common path's size.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use bytes::Bytes;

use super::pool;
use super::Endpoint;
use crate::codec::CodecError;
use crate::node::sender::{InFlight, Payload};
use crate::wire::draft;
use crate::{CallError, ErrorKind};

/// How a call's request payload is written.
pub(crate) trait Body {
    /// The payload as the sender takes it: drafted into `buf` after
    /// `header` (a typed call encodes its arguments in place), or handed
    /// over whole.
    fn draft<'b>(
        self,
        header: &draft::Header,
        buf: &'b mut Vec<u8>,
    ) -> Result<Payload<'b>, CodecError>;

    /// The payload in memory of its own, for a call that cannot be queued
    /// now: a local one, or one waiting for its node.
    fn into_bytes(self) -> Result<Bytes, CodecError>;
}

/// A payload an encoder writes: a typed call's arguments.
pub(crate) struct Encode<F>(pub(crate) F);

impl<F: FnOnce(&mut Vec<u8>) -> Result<(), CodecError>> Body for Encode<F> {
    fn draft<'b>(
        self,
        header: &draft::Header,
        buf: &'b mut Vec<u8>,
    ) -> Result<Payload<'b>, CodecError> {
        let head = header.start(buf);
        (self.0)(buf)?;
        Ok(Payload::from_draft(buf, head))
    }

    fn into_bytes(self) -> Result<Bytes, CodecError> {
        let mut buf = Vec::new();
        (self.0)(&mut buf)?;
        Ok(Bytes::from(buf))
    }
}

/// A payload another owner keeps (a pool's, for a second attempt): drafted
/// after the header as an encoder would write it, so sending it allocates
/// nothing.
impl Body for &[u8] {
    fn draft<'b>(
        self,
        header: &draft::Header,
        buf: &'b mut Vec<u8>,
    ) -> Result<Payload<'b>, CodecError> {
        let copy = |buf: &mut Vec<u8>| {
            buf.extend_from_slice(self);
            Ok(())
        };
        Encode(copy).draft(header, buf)
    }

    fn into_bytes(self) -> Result<Bytes, CodecError> {
        Ok(Bytes::copy_from_slice(self))
    }
}

/// A raw payload is its own body: queued as it is, shared, never copied
/// twice.
impl Body for Bytes {
    fn draft<'b>(self, _: &draft::Header, _: &'b mut Vec<u8>) -> Result<Payload<'b>, CodecError> {
        Ok(Payload::Owned(self))
    }

    fn into_bytes(self) -> Result<Bytes, CodecError> {
        Ok(self)
    }
}

/// How [`Endpoint::begin`] started a call.
pub(crate) enum Begun<'a> {
    /// Queued: its answer wakes the caller.
    InFlight(InFlight<'a>),
    /// A local call, or one waiting for its node: a future to poll.
    Later(Pin<Box<dyn Future<Output = Result<Bytes, ErrorKind>> + Send + 'a>>),
    /// A pool's call: a future to poll, which says which node's endpoint
    /// its outcome is from.
    Elsewhere(Pin<Box<dyn Future<Output = pool::Outcome> + Send + 'static>>),
    /// Failed before anything was queued.
    Failed(ErrorKind),
}

/// Starts a call of `method` (typed) with `args` on `endpoint`.
pub(crate) type Start<'a, A> = fn(&'a Endpoint, &'static str, A, &Waker) -> Begun<'a>;

/// Makes the caller's result of a call of `method` from its outcome.
pub(crate) type Finish<R> =
    fn(&Endpoint, &'static str, Result<Bytes, ErrorKind>) -> Result<R, CallError>;

/// A call in progress: started on its first poll by `start`, finished by
/// `finish` once its answer comes. [`Endpoint::call`] makes a raw one;
/// `#[service]` clients a typed one, whose method returns it as it is, so
/// a call is one future, not one inside another.
///
/// The arguments are dropped once encoded: they are never borrowed across
/// a wait, so the future is `Send` whenever they are.
#[must_use = "a call does nothing unless awaited"]
pub struct Call<'a, A, R> {
    endpoint: &'a Endpoint,
    /// The method, for a typed call's errors; empty for a raw call.
    method: &'static str,
    /// Fixed where the codec and the types are checked, at the call, not
    /// at the `.await`.
    start: Start<'a, A>,
    finish: Finish<R>,
    state: State<'a, A>,
}

enum State<'a, A> {
    Start(A),
    InFlight(InFlight<'a>),
    Later(Pin<Box<dyn Future<Output = Result<Bytes, ErrorKind>> + Send + 'a>>),
    Elsewhere(Pin<Box<dyn Future<Output = pool::Outcome> + Send + 'static>>),
    Done,
}

impl<'a, A, R> Call<'a, A, R> {
    pub(crate) fn new(
        endpoint: &'a Endpoint,
        method: &'static str,
        args: A,
        start: Start<'a, A>,
        finish: Finish<R>,
    ) -> Call<'a, A, R> {
        Call {
            endpoint,
            method,
            start,
            finish,
            state: State::Start(args),
        }
    }
}

// The arguments are moved out, never pinned: `Call` can be `Unpin` whatever
// they are.
impl<A, R> Unpin for Call<'_, A, R> {}

impl<A, R> fmt::Debug for Call<'_, A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("endpoint", self.endpoint)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl<A, R> Future for Call<'_, A, R> {
    type Output = Result<R, CallError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (endpoint, method) = (this.endpoint, this.method);
        // Only the first poll moves the state out (to take the arguments);
        // the one after the answer reads it where it is.
        if matches!(this.state, State::Start(_)) {
            if let State::Start(args) = std::mem::replace(&mut this.state, State::Done) {
                match (this.start)(endpoint, method, args, cx.waker()) {
                    // Its answer wakes this task.
                    Begun::InFlight(call) => {
                        this.state = State::InFlight(call);
                        return Poll::Pending;
                    }
                    Begun::Later(future) => this.state = State::Later(future),
                    Begun::Elsewhere(future) => this.state = State::Elsewhere(future),
                    Begun::Failed(kind) => {
                        return Poll::Ready((this.finish)(endpoint, method, Err(kind)));
                    }
                }
            }
        }
        let outcome = match &mut this.state {
            State::InFlight(call) => ready!(Pin::new(call).poll(cx)),
            State::Later(future) => ready!(future.as_mut().poll(cx)),
            State::Elsewhere(future) => {
                // Its errors name the node that failed it.
                let (answered, outcome) = ready!(future.as_mut().poll(cx));
                this.state = State::Done;
                return Poll::Ready((this.finish)(&answered, method, outcome));
            }
            State::Start(_) | State::Done => {
                panic!("a call to {endpoint:?} was polled after it completed")
            }
        };
        this.state = State::Done;
        Poll::Ready((this.finish)(endpoint, method, outcome))
    }
}

/// [`Start`] of a raw call: the payload is the body.
pub(crate) fn start_raw<'a>(
    endpoint: &'a Endpoint,
    _: &'static str,
    payload: Bytes,
    waker: &Waker,
) -> Begun<'a> {
    endpoint.begin(payload, None, super::Retry::Never, waker)
}

/// [`Finish`] of a raw call: the reply is the result.
pub(crate) fn finish_raw(
    endpoint: &Endpoint,
    _: &'static str,
    outcome: Result<Bytes, ErrorKind>,
) -> Result<Bytes, CallError> {
    outcome.map_err(|kind| endpoint.error(kind))
}
