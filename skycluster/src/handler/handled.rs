//! What a handler made of a request: its reply now, or a future of it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::{BoxFuture, HandlerError};

/// What a [`Handler`](super::Handler) made of a request: its reply already, or a future
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
        crate::scratch::to_bytes(self.as_bytes())
    }
}

impl fmt::Debug for Inline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ok")
            .field(&Bytes::copy_from_slice(self.as_bytes()))
            .finish()
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
