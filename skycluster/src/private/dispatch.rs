//! A generated dispatcher's side: the method name, the arguments, running
//! the method and encoding what it returns.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};

use bytes::{Buf, Bytes};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::if_type;
use crate::codec::{Codec, CodecError};
use crate::handler::{bad_arguments, call_caught, method_panicked, Inline};
use crate::node::HandlerTimer;
use crate::scratch;
use crate::{Handled, HandlerError};

/// A method's future as `async_trait` makes it: boxed, borrowing the
/// service for `'s`.
pub type MethodFuture<'s, R> = Pin<Box<dyn Future<Output = R> + Send + 's>>;

/// Runs one method of `service` as far as it goes now. `start` calls the
/// method; `finish` encodes what it returns.
///
/// A method that finishes on its first poll, as most do, is answered at
/// once: the method's own boxed future is the only allocation. One still
/// running is handed on as a future that keeps the service alive, and its
/// reply is encoded when it finishes.
///
/// A method that panics (on its first poll or a later one, or while its
/// reply is encoded) is answered with an error naming `service_name` and
/// `method`, and logged: the panic goes no further than its own request.
pub fn run_method<S, R, F>(
    service_name: &'static str,
    method: &'static str,
    service: &Arc<S>,
    start: impl for<'s> FnOnce(&'s S) -> MethodFuture<'s, R>,
    finish: F,
) -> Handled
where
    S: ?Sized + Send + Sync + 'static,
    R: 'static,
    F: FnOnce(R) -> Encoded + Send + 'static,
{
    let timer = HandlerTimer::start(service_name, method);
    let first = call_caught(move || {
        let mut future = start(service);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(reply) => Ok(finish(reply)),
            Poll::Pending => Err((future, finish)),
        }
    });
    let (future, finish) = match first {
        Ok(Ok(encoded)) => {
            timer.finish();
            return encoded.into();
        }
        Ok(Err(running)) => running,
        Err(panic) => return Handled::ready(Err(panicked(service_name, method, &*panic))),
    };
    // SAFETY: only the lifetime changes, to one that `Running` makes true:
    // * `start` is generic over `'s`, so the future can borrow nothing but
    //   the `&'s S` it was given: whatever else it holds outlives every
    //   `'s`, so is `'static`;
    // * that `S` lives in the `Arc`'s allocation, which never moves, and
    //   which `Running` keeps alive with a reference of its own;
    // * `Running` drops the future before that reference (field order) and
    //   never hands the future out.
    #[allow(unsafe_code)]
    let future =
        unsafe { std::mem::transmute::<MethodFuture<'_, R>, MethodFuture<'static, R>>(future) };
    Handled::started(Box::pin(Running {
        future,
        _service: Arc::clone(service),
        finish: Some(finish),
        names: (service_name, method),
        timer: Some(timer),
    }))
}

/// The error a method that panicked is answered with; logged, since the
/// panic is a bug the caller cannot fix.
fn panicked(service: &'static str, method: &'static str, panic: &(dyn Any + Send)) -> HandlerError {
    let e = method_panicked(service, method, panic);
    tracing::error!(service, method, error = %e, "a service method panicked; answered with an error");
    e
}

/// A method still running after its first poll; see [`run_method`].
struct Running<S: ?Sized, R, F> {
    /// Borrows `*_service`: declared first, so dropped first.
    future: MethodFuture<'static, R>,
    _service: Arc<S>,
    finish: Option<F>,
    /// The service's and the method's names, for the error if it panics.
    names: (&'static str, &'static str),
    /// Times it, if sampled, until its reply is encoded.
    timer: Option<HandlerTimer>,
}

// Nothing in it is pinned but the boxed future, which stays where it is.
impl<S: ?Sized, R, F> Unpin for Running<S, R, F> {}

impl<S: ?Sized, R, F> Future for Running<S, R, F>
where
    F: FnOnce(R) -> Encoded,
{
    type Output = Result<Bytes, HandlerError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (future, finish, timer) = (&mut this.future, &mut this.finish, &mut this.timer);
        let polled = call_caught(|| {
            let reply = ready!(future.as_mut().poll(cx));
            let finish = finish.take().unwrap_or_else(|| {
                panic!("a service method's future was polled after it completed")
            });
            let encoded = finish(reply).into_result();
            if let Some(timer) = timer.take() {
                timer.finish();
            }
            Poll::Ready(encoded)
        });
        polled.unwrap_or_else(|panic| {
            // Never polled again: the agent drops a future that answered.
            let (service, method) = this.names;
            Poll::Ready(Err(panicked(service, method, &*panic)))
        })
    }
}

/// Splits a request into its method name and where its encoded arguments
/// are.
pub fn decode_method<'p, C: Codec>(
    service: &'static str,
    payload: &'p Bytes,
) -> Result<(&'p [u8], Args), HandlerError> {
    let (method, args) = C::decode_method(payload).map_err(|e| {
        HandlerError::new(format!(
            "cannot decode the method name of a call to service `{service}`: {e}"
        ))
    })?;
    Ok((method, Args::locate(payload, args)))
}

/// Where a call's encoded arguments are: a range of its payload, or a copy
/// if the codec returned other memory (its `decode_method` is free to).
///
/// A range, not a slice, so the dispatcher can hand the payload itself on
/// to [`decode_args`] once it has matched the method name: a lone `Bytes`
/// argument then becomes the payload, cut down, with no reference count
/// taken and dropped on the way.
#[derive(Debug)]
pub enum Args {
    Within(std::ops::Range<usize>),
    Copied(Bytes),
}

impl Args {
    fn locate(payload: &[u8], args: &[u8]) -> Args {
        let (within, part) = (payload.as_ptr_range(), args.as_ptr_range());
        if within.start <= part.start && part.end <= within.end {
            let start = part.start as usize - within.start as usize;
            Args::Within(start..start + args.len())
        } else {
            Args::Copied(Bytes::copy_from_slice(args))
        }
    }

    /// The arguments as bytes of their own, cut from `payload`.
    fn take(self, mut payload: Bytes) -> Bytes {
        match self {
            Args::Within(range) => {
                // Codecs return the rest of the payload: nothing to cut at
                // the end, and cutting there would make a `Bytes` built
                // from a `Vec` share (and allocate) its memory.
                if range.end < payload.len() {
                    payload.truncate(range.end);
                }
                payload.advance(range.start);
                payload
            }
            Args::Copied(args) => args,
        }
    }
}

/// Decodes the arguments of `method`, the part `args` of `payload`. A lone
/// `Bytes` argument is the payload's own memory
/// ([`Codec::decode_bytes_args`]).
pub fn decode_args<C: Codec, A: DeserializeOwned + 'static>(
    service: &'static str,
    method: &'static str,
    payload: Bytes,
    args: Args,
) -> Result<A, HandlerError> {
    if_type(args.take(payload), C::decode_bytes_args)
        .unwrap_or_else(|args| C::decode_args(&args))
        .map_err(|e: CodecError| bad_arguments(service, method, e))
}

/// A method's encoded reply, as [`encode_reply`] makes it.
#[derive(Debug)]
pub struct Encoded(EncodedReply);

#[derive(Debug)]
enum EncodedReply {
    /// A small reply, held in place.
    Inline(Inline),
    /// A larger one, or an error.
    Shared(Result<Bytes, HandlerError>),
}

impl Encoded {
    /// As a method still running produces it: in memory of its own.
    fn into_result(self) -> Result<Bytes, HandlerError> {
        match self.0 {
            EncodedReply::Inline(reply) => Ok(reply.to_bytes()),
            EncodedReply::Shared(outcome) => outcome,
        }
    }
}

impl From<Encoded> for Handled {
    fn from(encoded: Encoded) -> Handled {
        match encoded.0 {
            EncodedReply::Inline(reply) => Handled::inline(reply),
            EncodedReply::Shared(outcome) => Handled::ready(outcome),
        }
    }
}

/// Encodes what `method` returned.
pub fn encode_reply<C: Codec, R: Serialize>(
    service: &'static str,
    method: &'static str,
    reply: &R,
) -> Encoded {
    // Encoded into this thread's scratch buffer, then held in place when
    // small, or copied into memory later replies reuse (see `scratch`).
    scratch::with_scratch(|buf| match C::encode_reply_into(reply, buf) {
        Ok(()) => Encoded(match Inline::new(buf) {
            Some(reply) => EncodedReply::Inline(reply),
            None => EncodedReply::Shared(Ok(scratch::to_bytes(buf))),
        }),
        Err(e) => Encoded(EncodedReply::Shared(Err(HandlerError::new(format!(
            "cannot encode the reply of `{method}` of service `{service}`: {e}"
        ))))),
    })
}

/// Encodes what a method returning `Result<T, HandlerError>` returned:
/// `Ok` as [`encode_reply`] would, `Err` as an error frame with its text,
/// the way a Lua service's `error(...)` answers.
pub fn encode_or_raise<C: Codec, T: Serialize>(
    service: &'static str,
    method: &'static str,
    reply: Result<T, HandlerError>,
) -> Encoded {
    match reply {
        Ok(value) => encode_reply::<C, T>(service, method, &value),
        Err(e) => Encoded(EncodedReply::Shared(Err(e))),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn a_part_within_the_payload_shares_it_and_any_other_is_copied() {
        let whole = Bytes::from_static(b"method:args");
        let part = |payload: &Bytes, args: &[u8]| Args::locate(payload, args).take(payload.clone());
        let inside = part(&whole, &whole[7..]);
        assert_eq!(
            (&inside[..], inside.as_ptr()),
            (&b"args"[..], whole[7..].as_ptr())
        );
        assert!(part(&whole, &whole[11..]).is_empty());
        // A part in the middle is cut at both ends.
        let middle = part(&whole, &whole[2..6]);
        assert_eq!(
            (&middle[..], middle.as_ptr()),
            (&b"thod"[..], whole[2..].as_ptr())
        );
        let elsewhere = b"args".to_vec();
        let copied = part(&whole, &elsewhere);
        assert_eq!(&copied[..], b"args");
        assert_ne!(copied.as_ptr(), elsewhere.as_ptr());
        // Starting within but running past the end is not within.
        let shorter = whole.slice(..9);
        let past = part(&shorter, &whole[7..]);
        assert_eq!(&past[..], b"args");
        assert_ne!(past.as_ptr(), whole[7..].as_ptr());
    }

    #[cfg(feature = "bincode")]
    #[test]
    fn a_raised_error_is_an_error_and_ok_a_reply() {
        use crate::codec::Bincode;

        let raised = encode_or_raise::<Bincode, u32>("Rooms", "open", Err("full".into()));
        assert_eq!(raised.into_result(), Err(HandlerError::new("full")));
        let mut ok = Handled::from(encode_or_raise::<Bincode, u32>("Rooms", "open", Ok(7)));
        assert!(ok.is_ready());
        assert_eq!(
            poll(&mut ok),
            Poll::Ready(Ok(Bincode::encode_reply(&7u32).expect("encodes")))
        );
    }

    /// A service that says when it is dropped.
    struct Rooms {
        name: &'static str,
        dropped: Arc<AtomicBool>,
    }

    impl Drop for Rooms {
        fn drop(&mut self) {
            self.dropped.store(true, Ordering::SeqCst);
        }
    }

    fn rooms() -> (Arc<Rooms>, Arc<AtomicBool>) {
        let dropped = Arc::new(AtomicBool::new(false));
        let rooms = Rooms {
            name: "room",
            dropped: Arc::clone(&dropped),
        };
        (Arc::new(rooms), dropped)
    }

    fn encode(reply: String) -> Encoded {
        Encoded(EncodedReply::Shared(Ok(Bytes::from(reply))))
    }

    fn poll(handled: &mut Handled) -> Poll<Result<Bytes, HandlerError>> {
        Pin::new(handled).poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_method_that_finishes_at_once_is_answered_at_once() {
        let (service, _dropped) = rooms();
        let mut handled = run_method(
            "Rooms",
            "open",
            &service,
            |rooms| Box::pin(async move { format!("{}:1", rooms.name) }),
            encode,
        );
        assert!(handled.is_ready());
        assert_eq!(Arc::strong_count(&service), 1, "nothing kept the service");
        assert_eq!(
            poll(&mut handled),
            Poll::Ready(Ok(Bytes::from_static(b"room:1")))
        );
    }

    #[test]
    fn a_method_still_running_keeps_its_service_until_it_is_done() {
        let (service, dropped) = rooms();
        let (open, opened) = tokio::sync::oneshot::channel::<u32>();
        let mut handled = run_method(
            "Rooms",
            "open",
            &service,
            move |rooms| {
                Box::pin(async move {
                    let n = opened.await.unwrap_or(0);
                    format!("{}:{n}", rooms.name)
                })
            },
            encode,
        );
        assert!(!handled.is_ready());
        // The caller's reference goes, as a killed service's does: the
        // method still borrows the service, so the service stays.
        drop(service);
        assert!(poll(&mut handled).is_pending());
        assert!(!dropped.load(Ordering::SeqCst), "dropped while borrowed");
        open.send(7).expect("the method waits");
        assert_eq!(
            poll(&mut handled),
            Poll::Ready(Ok(Bytes::from_static(b"room:7")))
        );
        drop(handled);
        assert!(dropped.load(Ordering::SeqCst), "kept after the method");
    }

    #[test]
    fn a_method_that_panics_at_once_is_answered_with_an_error_naming_it() {
        let (service, _dropped) = rooms();
        let mut handled = run_method(
            "Rooms",
            "open",
            &service,
            |rooms| {
                Box::pin(async move {
                    if rooms.name == "room" {
                        panic!("no room for {}", rooms.name);
                    }
                    String::new()
                })
            },
            encode,
        );
        assert!(handled.is_ready());
        assert_eq!(Arc::strong_count(&service), 1, "nothing kept the service");
        assert_eq!(
            poll(&mut handled),
            Poll::Ready(Err(HandlerError::new(
                "method `open` of service `Rooms` panicked: no room for room"
            )))
        );
    }

    #[test]
    fn a_method_that_panics_later_or_in_its_encoding_is_answered_with_an_error() {
        let (service, dropped) = rooms();
        let (open, opened) = tokio::sync::oneshot::channel::<u32>();
        let mut handled = run_method(
            "Rooms",
            "open",
            &service,
            move |rooms| {
                Box::pin(async move {
                    let n = opened.await.unwrap_or(0);
                    assert!(n < 5, "room {n} of {} is out of range", rooms.name);
                    n
                })
            },
            |n: u32| encode(n.to_string()),
        );
        drop(service);
        assert!(poll(&mut handled).is_pending());
        open.send(7).expect("the method waits");
        assert_eq!(
            poll(&mut handled),
            Poll::Ready(Err(HandlerError::new(
                "method `open` of service `Rooms` panicked: room 7 of room is out of range"
            )))
        );
        drop(handled);
        assert!(dropped.load(Ordering::SeqCst), "the service went with it");

        let (service, _dropped) = rooms();
        let mut handled = run_method(
            "Rooms",
            "open",
            &service,
            |_| Box::pin(async { 1u32 }),
            |_: u32| -> Encoded { std::panic::panic_any(1u8) },
        );
        assert_eq!(
            poll(&mut handled),
            Poll::Ready(Err(HandlerError::new(
                "method `open` of service `Rooms` panicked"
            )))
        );
    }

    #[test]
    fn a_method_dropped_unfinished_goes_before_its_service() {
        /// Checks, as the method's future drops, that the service is there.
        struct ReadsOnDrop<'a>(&'a Rooms, Arc<AtomicBool>);
        impl Drop for ReadsOnDrop<'_> {
            fn drop(&mut self) {
                assert!(!self.1.load(Ordering::SeqCst), "the service went first");
                assert_eq!(self.0.name, "room");
            }
        }
        let (service, dropped) = rooms();
        let (_open, opened) = tokio::sync::oneshot::channel::<u32>();
        let flag = Arc::clone(&dropped);
        let handled = run_method(
            "Rooms",
            "open",
            &service,
            move |rooms| {
                Box::pin(async move {
                    let _guard = ReadsOnDrop(rooms, flag);
                    let n = opened.await.unwrap_or(0);
                    format!("{}:{n}", rooms.name)
                })
            },
            encode,
        );
        drop(service);
        assert!(!dropped.load(Ordering::SeqCst));
        drop(handled);
        assert!(dropped.load(Ordering::SeqCst));
    }
}
