//! Deadlines that travel: the time a Rust caller will wait goes with its
//! request to a Rust callee (the `0x06` frame, sent only to a node that
//! offered it; see `sender/extensions.rs`), which runs the handler with it
//! in scope and drops the handler's work when it passes.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::handler::{BoxFuture, HandlerError};

/// What a call made from inside a handler leaves for the hop back: its
/// timeout is the handler's time left minus this, so that its own error
/// comes back before the caller's deadline does.
pub(crate) const HOP: Duration = Duration::from_millis(5);

tokio::task_local! {
    static DEADLINE: Instant;
}

/// When the caller of the request being handled stops waiting for it, if
/// it said: inside a handler serving a call from a Rust node (which sends
/// its remaining time with each call), `Some`; elsewhere, and for calls
/// from Lua nodes and pushes, `None`.
///
/// Calls made from inside the handler inherit it: their timeout is the
/// smaller of their own and what is left of it (less a few milliseconds
/// for the hop back). When it passes, the node drops the handler's future
/// and sends no reply: the caller has given up. Work that must not stop
/// half-way (two writes that belong together) should not span an `.await`
/// past which it could be dropped; hand it to a task of its own
/// (`tokio::spawn`) instead.
///
/// # Examples
///
/// ```
/// #[skycluster::service]
/// pub trait Search {
///     async fn find(&self, query: String) -> Vec<String>;
/// }
///
/// struct Index;
///
/// #[skycluster::async_trait]
/// impl Search for Index {
///     async fn find(&self, query: String) -> Vec<String> {
///         // Skip the expensive part when the caller will not wait for it.
///         let plenty = skycluster::deadline().is_none_or(|at| {
///             at.saturating_duration_since(tokio::time::Instant::now())
///                 > std::time::Duration::from_millis(50)
///         });
///         if plenty { vec![query.clone(), format!("{query}*")] } else { vec![query] }
///     }
/// }
///
/// // Outside a handler there is none.
/// assert!(skycluster::deadline().is_none());
/// # let _ = skycluster::Cluster::new(skycluster::Config::new()).spawn::<dyn Search>(Index);
/// ```
pub fn deadline() -> Option<Instant> {
    DEADLINE.try_with(|at| *at).ok()
}

/// A call's timeout, `own`, cut to what the handler it is made from has
/// left, less [`HOP`].
#[inline]
pub(crate) fn inherit(own: Duration) -> Duration {
    match deadline() {
        Some(at) => own.min(
            at.saturating_duration_since(super::clock::now())
                .saturating_sub(HOP),
        ),
        None => own,
    }
}

/// Runs `f` (a handler's `handle`, which may do all its work at once)
/// with `at` in scope.
pub(crate) fn sync_scope<R>(at: Option<Instant>, f: impl FnOnce() -> R) -> R {
    match at {
        Some(at) => DEADLINE.sync_scope(at, f),
        None => f(),
    }
}

/// A handler's future, run with `at` in scope and dropped when it passes.
pub(crate) fn bound(
    at: Instant,
    future: BoxFuture<Result<Bytes, HandlerError>>,
) -> BoxFuture<Result<Bytes, HandlerError>> {
    Box::pin(DEADLINE.scope(at, expire(at, future)))
}

async fn expire(
    at: Instant,
    future: impl Future<Output = Result<Bytes, HandlerError>>,
) -> Result<Bytes, HandlerError> {
    tokio::time::timeout_at(at, future)
        .await
        .unwrap_or_else(|_| Err(HandlerError::new(crate::handler::DEADLINE_PASSED)))
}
