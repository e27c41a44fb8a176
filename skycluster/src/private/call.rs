//! A generated client's side: a typed call as one future, and a push.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{if_type, BAD_ARGUMENTS};
use crate::codec::{Codec, CodecError};
use crate::node::{Begun, InFlight};
use crate::{CallError, Endpoint, ErrorKind};

/// A codec failure in a call of `method`, as its caller sees it.
fn codec_error(
    endpoint: &Endpoint,
    method: &'static str,
    action: &'static str,
    e: impl fmt::Display,
) -> CallError {
    endpoint
        .error(ErrorKind::Codec {
            action,
            reason: e.to_string().into(),
        })
        .with_method(method)
}

/// A typed call of `method` with `args`, returning an `R`: encoded and
/// queued when first polled, then waiting for the reply, which it decodes.
/// [`call`] makes one; a generated method returns it as it is, so a call is
/// one future, not one inside another.
///
/// The request is queued with the caller's waker already in place, so the
/// call is not polled again until its answer (or timeout) comes. The
/// arguments are dropped once encoded: they are never borrowed across a
/// wait, so the future is `Send` whenever they are.
#[must_use = "a call does nothing unless awaited"]
pub struct Call<'a, A, R> {
    endpoint: &'a Endpoint,
    method: &'static str,
    /// The codec's encoder and decoder, fixed where the codec and the
    /// types are checked: at [`call`], not at the `.await`.
    encode: Encoder<A>,
    decode: Decoder<R>,
    state: CallState<'a, A>,
}

type Encoder<A> = fn(&'static str, &A, &mut Vec<u8>) -> Result<(), CodecError>;
type Decoder<R> = fn(&Endpoint, &'static str, Result<Bytes, CallError>) -> Result<R, CallError>;

enum CallState<'a, A> {
    Start(A),
    InFlight(InFlight<'a>),
    /// The first call to a node, or a local one: a larger future, kept
    /// off the common path's size.
    Owned(Pin<Box<dyn Future<Output = Result<Bytes, CallError>> + Send + 'a>>),
    Done,
}

/// Starts a typed call; see [`Call`].
pub fn call<'a, C: Codec, A: Serialize, R: DeserializeOwned + 'static>(
    endpoint: &'a Endpoint,
    method: &'static str,
    args: A,
) -> Call<'a, A, R> {
    Call {
        endpoint,
        method,
        encode: C::encode_call_into::<A>,
        decode: decode_reply::<C, R>,
        state: CallState::Start(args),
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
        let endpoint = this.endpoint;
        let method = this.method;
        // Only the first poll moves the state out (to take the arguments);
        // the one after the answer reads it where it is.
        if matches!(this.state, CallState::Start(_)) {
            if let CallState::Start(args) = std::mem::replace(&mut this.state, CallState::Done) {
                let encode = this.encode;
                let begun = endpoint.begin_encoded(|buf| encode(method, &args, buf), cx.waker());
                drop(args);
                this.state = match begun {
                    // Its answer wakes this task.
                    Begun::InFlight(call) => {
                        this.state = CallState::InFlight(call);
                        return Poll::Pending;
                    }
                    Begun::Owned(payload) => CallState::Owned(Box::pin(endpoint.call(payload))),
                    Begun::Failed(kind) => {
                        return Poll::Ready(Err(endpoint.error(kind).with_method(method)));
                    }
                    Begun::Encode(e) => {
                        return Poll::Ready(Err(codec_error(endpoint, method, "encode", e)));
                    }
                };
            }
        }
        let outcome = match &mut this.state {
            CallState::InFlight(call) => {
                ready!(Pin::new(call).poll(cx)).map_err(|kind| endpoint.error(kind))
            }
            CallState::Owned(call) => ready!(call.as_mut().poll(cx)),
            CallState::Start(_) | CallState::Done => {
                panic!("the call of `{method}` was polled after it completed")
            }
        };
        this.state = CallState::Done;
        Poll::Ready((this.decode)(endpoint, method, outcome))
    }
}

/// Decodes the reply to a call of `method`, naming the method in every error.
/// A `Bytes` reply shares the payload's memory ([`Codec::decode_bytes_reply`]).
fn decode_reply<C: Codec, R: DeserializeOwned + 'static>(
    endpoint: &Endpoint,
    method: &'static str,
    reply: Result<Bytes, CallError>,
) -> Result<R, CallError> {
    match reply {
        Ok(payload) => if_type(payload, C::decode_bytes_reply)
            .unwrap_or_else(|payload| C::decode_reply(&payload))
            .map_err(|e| codec_error(endpoint, method, "decode", e)),
        Err(e) => match e.kind() {
            // The server could not decode what we sent: the two sides
            // disagree about the method's types.
            ErrorKind::Remote { text } if text.starts_with(BAD_ARGUMENTS) => {
                Err(codec_error(endpoint, method, "decode", text))
            }
            _ => Err(e.with_method(method)),
        },
    }
}

/// Pushes a call of `method`: encodes it and queues it without waiting.
pub fn send<C: Codec, A: Serialize>(
    endpoint: &Endpoint,
    method: &'static str,
    args: &A,
) -> Result<(), CallError> {
    endpoint
        .send_encoded(|buf| {
            C::encode_call_into(method, args, buf)
                .map_err(|e| codec_error(endpoint, method, "encode", e))
        })
        .map_err(|e| e.with_method(method))
}
