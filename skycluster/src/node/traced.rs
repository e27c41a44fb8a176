//! Trace tags that travel: the tag a request arrived with (Skynet's trace
//! frame, `skynet.trace()` on a Lua node, or [`Endpoint::with_trace`](crate::Endpoint::with_trace)
//! on a Rust one) is in scope while its handler runs, as a field of a
//! `tracing` span, and the calls the handler makes carry it on, as a
//! traced Lua service's calls do.

use tracing::Instrument;

use crate::handler::{BoxFuture, HandlerError};
use crate::wire::TraceTag;

tokio::task_local! {
    static TRACE: TraceTag;
}

/// The trace tag of the request being handled, if it came with one: a
/// handler's calls carry it on (unless their endpoint has its own, set by
/// [`Endpoint::with_trace`](crate::Endpoint::with_trace)), so one request
/// is one trace across Rust and Lua nodes. Its handler runs inside a
/// `tracing` span named `traced` with the tag as its `trace` field.
///
/// # Examples
///
/// ```
/// #[skycluster::service]
/// pub trait Audit {
///     async fn record(&self, what: String) -> String;
/// }
///
/// struct Log;
///
/// #[skycluster::async_trait]
/// impl Audit for Log {
///     async fn record(&self, what: String) -> String {
///         match skycluster::trace_tag() {
///             Some(tag) => format!("{what} in {}", String::from_utf8_lossy(tag.as_bytes())),
///             None => what,
///         }
///     }
/// }
///
/// // Outside a handler there is none.
/// assert!(skycluster::trace_tag().is_none());
/// # let _ = skycluster::Cluster::new(skycluster::Config::new()).spawn::<dyn Audit>(Log);
/// ```
pub fn trace_tag() -> Option<TraceTag> {
    TRACE.try_with(Clone::clone).ok()
}

/// A handler's tag and the span it runs in.
pub(crate) struct Traced {
    tag: TraceTag,
    span: tracing::Span,
}

impl Traced {
    /// The tag `tag` arrived with, for a handler at `node` serving `peer`.
    pub(crate) fn new(tag: TraceTag, node: &str, peer: &std::net::SocketAddr) -> Traced {
        let span = tracing::info_span!(
            "traced",
            trace = %String::from_utf8_lossy(tag.as_bytes()),
            %node,
            %peer,
        );
        Traced { tag, span }
    }

    /// Runs `f` (a handler's `handle`) in the span, with the tag in scope.
    pub(crate) fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        self.span.in_scope(|| TRACE.sync_scope(self.tag.clone(), f))
    }

    /// A handler's future, run in the span with the tag in scope.
    pub(crate) fn bind(
        self,
        future: BoxFuture<Result<bytes::Bytes, HandlerError>>,
    ) -> BoxFuture<Result<bytes::Bytes, HandlerError>> {
        Box::pin(TRACE.scope(self.tag, future.instrument(self.span)))
    }
}
