//! Panics in handlers, caught per request: a handler that panics fails
//! its own request, with an error frame that says so, and nothing else.
//!
//! Handlers run on the task of the connection that brought their
//! requests (and a local call's on its caller's task), so an uncaught
//! panic would end every other call on that connection, or the caller.
//! Each synchronous step of a handler runs under [`catch_unwind`], which
//! costs nothing unless something panics. A build with `panic = "abort"`
//! cannot catch anything: there a panic still ends the process.
//!
//! The texts such a request is answered with are made in `error.rs`.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::{Handled, Handler, HandlerError, Request};

/// What a caught panic carries: the value `panic!` was given.
pub(crate) type Panic = Box<dyn Any + Send + 'static>;

/// The message of a panic, when it has one: `panic!("...")` carries a
/// `&str` or a `String`; `std::panic::panic_any` may carry anything.
pub(crate) fn message(panic: &(dyn Any + Send)) -> Option<&str> {
    panic
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
}

/// Polls `future` once, a panic becoming `Err`. A future that panicked
/// must not be polled again: it is dropped, like one that finished.
///
/// (The future is not `UnwindSafe`, nor is what it borrows: whatever a
/// panic leaves half-done in it is dropped with it, and anything it shares
/// with other requests is the handler's to keep consistent, as with a
/// panic on a task of its own.)
pub(crate) fn poll_caught<F: Future + ?Sized>(
    future: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, Panic>> {
    match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
        Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(panic) => Poll::Ready(Err(panic)),
    }
}

/// `f()`, or the panic it raised. A handler's synchronous part (its
/// `handle`) runs under this.
pub(crate) fn call_caught<T>(f: impl FnOnce() -> T) -> Result<T, Panic> {
    catch_unwind(AssertUnwindSafe(f))
}

/// `handler`'s answer to `request`, its `handle` and every poll of its
/// future run under [`catch_unwind`]: the outcome, or the panic that
/// ended it. For a caller that awaits a handler on a task of its own (a
/// local call or push), so that the handler's panic does not end it.
pub(crate) fn handle_caught(handler: &dyn Handler, request: Request) -> Caught {
    Caught(call_caught(|| handler.handle(request)).map_err(Some))
}

/// A handler's answer, as [`handle_caught`] runs it.
#[derive(Debug)]
#[must_use = "a handler's outcome is its reply"]
pub(crate) struct Caught(Result<Handled, Option<Panic>>);

impl Future for Caught {
    type Output = Result<Result<Bytes, HandlerError>, Panic>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            Ok(handled) => poll_caught(Pin::new(handled), cx),
            Err(panic) => match panic.take() {
                Some(panic) => Poll::Ready(Err(panic)),
                None => Poll::Ready(Ok(Err(HandlerError::new(
                    "internal error: a panicked handler's outcome was taken twice",
                )))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    fn poll<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
    }

    /// A handler's body that panics with `what`.
    fn explode(what: &str) -> Result<Bytes, HandlerError> {
        panic!("{what}")
    }

    #[test]
    fn a_panics_message_is_its_text_when_it_has_one() {
        fn of(f: impl FnOnce()) -> Panic {
            call_caught(f).expect_err("panics")
        }
        assert_eq!(
            message(&*of(|| panic!("room is full"))),
            Some("room is full")
        );
        let n = 3;
        assert_eq!(message(&*of(|| panic!("room {n}"))), Some("room 3"));
        assert_eq!(message(&*of(|| std::panic::panic_any(7u32))), None);
    }

    #[test]
    fn a_panic_in_handle_or_in_its_future_is_caught() {
        let in_handle = |_: Request| std::future::ready(explode("at once"));
        let mut caught = handle_caught(&in_handle, Request::new(Bytes::new()));
        match poll(&mut caught) {
            Poll::Ready(Err(panic)) => assert_eq!(message(&*panic), Some("at once")),
            other => panic!("expected the panic, got {other:?}"),
        }
        assert!(
            matches!(poll(&mut caught), Poll::Ready(Ok(Err(_)))),
            "a second poll answers, and does not panic"
        );

        let (go, gone) = tokio::sync::oneshot::channel::<()>();
        let gone = std::sync::Mutex::new(Some(gone));
        let later = move |_: Request| {
            let gone = gone.lock().ok().and_then(|mut g| g.take());
            async move {
                if let Some(gone) = gone {
                    let _ = gone.await;
                }
                explode("later")
            }
        };
        let mut caught = handle_caught(&later, Request::new(Bytes::new()));
        assert!(poll(&mut caught).is_pending());
        go.send(()).expect("waiting");
        match poll(&mut caught) {
            Poll::Ready(Err(panic)) => assert_eq!(message(&*panic), Some("later")),
            other => panic!("expected the panic, got {other:?}"),
        }

        let fine = |request: Request| async move { Ok(request.into_payload()) };
        let mut caught = handle_caught(&fine, Request::new(Bytes::from_static(b"hi")));
        assert!(matches!(poll(&mut caught), Poll::Ready(Ok(Ok(b))) if b == "hi"));
    }
}
