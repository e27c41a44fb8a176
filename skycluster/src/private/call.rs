//! A generated client's side: what a typed call encodes and decodes. The
//! call itself is the one future every call is ([`Call`], in `node`).

use std::fmt;
use std::task::Waker;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::if_type;
use crate::codec::Codec;
use crate::handler::bad_arguments_text;
use crate::node::{Begun, Encode};
use crate::schema::Fingerprints;
use crate::{CallError, Endpoint, ErrorKind};

pub use crate::node::{Call, Retry};

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

/// Starts a typed call of `method` with `args`, returning an `R`; see
/// [`Call`]. The codec and the types are checked here, where the call is
/// written, not at its `.await`. `fingerprints` are the service's, for the
/// schema check ([`Service::fingerprints`](crate::Service::fingerprints));
/// `retry` says whether a pool may run it again elsewhere (`#[idempotent]`).
pub fn call<'a, C: Codec, A: Serialize, R: DeserializeOwned + 'static>(
    endpoint: &'a Endpoint,
    fingerprints: Option<&'static Fingerprints>,
    method: &'static str,
    retry: Retry,
    args: A,
) -> Call<'a, Typed<A>, R> {
    Call::new(
        endpoint,
        method,
        Typed {
            args,
            fingerprints,
            retry,
        },
        start::<C, A>,
        finish::<C, R>,
    )
}

/// What a typed call starts with: its arguments, and what the runtime
/// needs to know of its method.
#[derive(Debug)]
pub struct Typed<A> {
    args: A,
    fingerprints: Option<&'static Fingerprints>,
    retry: Retry,
}

/// Queues a call of `method`, its arguments encoded in place.
fn start<'a, C: Codec, A: Serialize>(
    endpoint: &'a Endpoint,
    method: &'static str,
    typed: Typed<A>,
    waker: &Waker,
) -> Begun<'a> {
    let Typed {
        args,
        fingerprints,
        retry,
    } = typed;
    endpoint.begin(
        Encode(|buf: &mut Vec<u8>| C::encode_call_into(method, &args, buf)),
        fingerprints.map(|f| (f, method)),
        retry,
        waker,
    )
}

/// Decodes the reply to a call of `method`, naming the method in every error.
/// A `Bytes` reply shares the payload's memory ([`Codec::decode_bytes_reply`]).
fn finish<C: Codec, R: DeserializeOwned + 'static>(
    endpoint: &Endpoint,
    method: &'static str,
    outcome: Result<Bytes, ErrorKind>,
) -> Result<R, CallError> {
    match outcome {
        Ok(payload) => if_type(payload, C::decode_bytes_reply)
            .unwrap_or_else(|payload| C::decode_reply(&payload))
            .map_err(|e| codec_error(endpoint, method, "decode", e)),
        Err(kind) => match bad_arguments_text(&kind) {
            // The server could not decode what we sent: the two sides
            // disagree about the method's types.
            Some(text) => Err(codec_error(endpoint, method, "decode", text)),
            None => Err(endpoint.error(kind).with_method(method)),
        },
    }
}

/// Pushes a call of `method`: encodes it and queues it without waiting.
pub fn send<C: Codec, A: Serialize>(
    endpoint: &Endpoint,
    fingerprints: Option<&'static Fingerprints>,
    method: &'static str,
    args: &A,
) -> Result<(), CallError> {
    endpoint
        .push(
            Encode(|buf: &mut Vec<u8>| C::encode_call_into(method, args, buf)),
            fingerprints.map(|f| (f, method)),
        )
        .map_err(|kind| endpoint.error(kind).with_method(method))
}
