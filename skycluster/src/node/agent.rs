//! The agent: serves one accepted connection.
//!
//! It reads request frames, resolves each address (a handle, a `.local`
//! name, an `@registered` name, or 0 for a name query), and runs the
//! requests concurrently on the connection's task, so a slow call does not
//! hold back a fast one. Replies leave as their calls finish, coalesced
//! into as few writes as possible. Pushes get no reply. Every failure the
//! caller can see is an error frame whose text says what failed and where.
//!
//! A handler that panics fails its own request alone: its `handle` and
//! every poll of its future run under `catch_unwind`, and the request is
//! answered with an error frame naming the address and this node (a
//! `#[service]`'s dispatcher catches its methods' panics first, and names
//! the method).

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::future::{AbortHandle, Abortable, Aborted};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;

use super::deadline::{bound, sync_scope as deadline_scope};
use super::link::Link;
use super::metrics::AgentMetrics;
use super::state::NodeState;
use super::traced::Traced;
use crate::handler::{
    call_caught, poll_caught, service_panicked, BoxFuture, Handled, Handler, HandlerError, Now,
    Panic, Request,
};
use crate::wire::{
    encode_error, encode_ok, encode_small_ok, write_pieces, Address, Inbound, Pieces,
    RequestDecoder, TraceTag, WRITE_BATCH,
};

/// A handler's future, with the session its reply goes to.
struct Answering {
    session: u32,
    push: bool,
    /// The address the request was for, to name if the handler panics.
    address: Address,
    /// Dropped, unpolled, when its caller cancels the call.
    future: Abortable<BoxFuture<Result<Bytes, HandlerError>>>,
}

/// How a running request ended.
enum Ended {
    /// Its handler's outcome.
    Handled(Result<Bytes, HandlerError>),
    /// Its handler panicked, serving this address.
    Panicked(Address, Panic),
    /// Its caller cancelled it: the handler's future was dropped.
    Cancelled,
}

impl Future for Answering {
    type Output = (u32, bool, Ended);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        // A future that panicked is not polled again: ready, it leaves
        // the running set and is dropped.
        poll_caught(Pin::new(&mut this.future), cx).map(|outcome| {
            let ended = match outcome {
                Ok(Ok(outcome)) => Ended::Handled(outcome),
                Ok(Err(Aborted)) => Ended::Cancelled,
                Err(panic) => Ended::Panicked(this.address.clone(), panic),
            };
            (this.session, this.push, ended)
        })
    }
}

/// What to do with one request.
pub(crate) enum Dispatch {
    /// What its handler made of it, when its caller stops waiting, and
    /// the trace it belongs to.
    Run(Handled, Option<Instant>, Option<Traced>),
    /// Nothing: its caller's deadline had passed when it arrived.
    Expired,
    /// Answer now, without running anything.
    Answer(Result<Bytes, String>),
    /// Its handler panicked in `handle`.
    Panicked(Panic),
}

struct Agent {
    state: Arc<NodeState>,
    peer: SocketAddr,
    running: FuturesUnordered<Answering>,
    wbuf: BytesMut,
    pieces: VecDeque<Pieces>,
    trace: Option<Bytes>,
    /// The time the caller gave the next request, in milliseconds (the
    /// deadline frame of a Rust caller that uses extensions).
    deadline: Option<u32>,
    /// How to drop each running call's handler, by session, for a Rust
    /// caller's cancel frame. Pushes are never cancelled.
    cancels: HashMap<u32, AbortHandle>,
    /// The last address resolved, at which registry version, to what.
    resolved: Option<(Address, u64, Arc<dyn Handler>)>,
    /// The listener's count of requests being handled, for its status.
    requests: Arc<AtomicUsize>,
    metrics: AgentMetrics,
}

/// An accepted stream an agent can serve: what a transport's listener
/// hands over.
pub(crate) trait Accepted: Link {
    /// Serves the connection until the peer closes it, it breaks a limit,
    /// or the cluster shuts down (then calls in flight finish first).
    fn serve(
        self,
        state: Arc<NodeState>,
        peer: SocketAddr,
        shutdown: CancellationToken,
        requests: Arc<AtomicUsize>,
    ) -> impl Future<Output = ()> + Send;
}

impl Accepted for TcpStream {
    fn serve(
        self,
        state: Arc<NodeState>,
        peer: SocketAddr,
        shutdown: CancellationToken,
        requests: Arc<AtomicUsize>,
    ) -> impl Future<Output = ()> + Send {
        serve(state, self, peer, shutdown, requests)
    }
}

/// turmoil's simulated connections: no TCP options, no TLS.
#[cfg(feature = "turmoil")]
impl Accepted for turmoil::net::TcpStream {
    fn serve(
        self,
        state: Arc<NodeState>,
        peer: SocketAddr,
        shutdown: CancellationToken,
        requests: Arc<AtomicUsize>,
    ) -> impl Future<Output = ()> + Send {
        let metrics = AgentMetrics::new(state.name().map_or("", |n| &**n));
        serve_on(state, self, peer, shutdown, requests, metrics)
    }
}

/// Serves an accepted TCP `stream`: TCP_NODELAY, TLS if configured, then
/// [`serve_on`].
async fn serve(
    state: Arc<NodeState>,
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: CancellationToken,
    requests: Arc<AtomicUsize>,
) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
    }
    let metrics = AgentMetrics::new(state.name().map_or("", |n| &**n));
    // The TLS path is boxed: a task's future is as large as its largest
    // branch, and a TLS stream's state is kilobytes that every plaintext
    // connection would otherwise carry too (`idle_rss` measured 4 KiB).
    #[cfg(feature = "tls")]
    if let Some(tls) = state.options.tls.clone() {
        return Box::pin(async move {
            let limit = state.options.frame_timeout;
            match super::tls::accept(&tls, stream, limit).await {
                Ok(stream) => serve_on(state, stream, peer, shutdown, requests, metrics).await,
                Err(e) => {
                    metrics.handshake_failed();
                    tracing::warn!(%peer, error = %e, "TLS handshake failed; closing");
                }
            }
        })
        .await;
    }
    serve_on(state, stream, peer, shutdown, requests, metrics).await;
}

/// The rest of `serve` on an accepted stream: `Auth`, then requests.
async fn serve_on<S: Link>(
    state: Arc<NodeState>,
    mut stream: S,
    peer: SocketAddr,
    shutdown: CancellationToken,
    requests: Arc<AtomicUsize>,
    metrics: AgentMetrics,
) {
    let options = Arc::clone(&state.options);
    #[cfg(feature = "auth")]
    if let Some(auth) = &options.auth {
        if let Err(e) = super::auth::accept(&mut stream, auth, options.frame_timeout).await {
            tracing::warn!(%peer, error = %e, "refused an unauthenticated connection");
            metrics.handshake_failed();
            return;
        }
    }
    let mut agent = Agent {
        state,
        peer,
        running: FuturesUnordered::new(),
        wbuf: BytesMut::with_capacity(64 * 1024),
        pieces: VecDeque::new(),
        trace: None,
        deadline: None,
        cancels: HashMap::new(),
        resolved: None,
        requests,
        metrics,
    };
    let _open = agent.metrics.open();
    let (mut rd, mut wr) = stream.split();
    let mut rbuf = BytesMut::with_capacity(64 * 1024);
    let mut decoder = RequestDecoder::new(options.limits);
    let mut reassembling = agent.metrics.reassembly();
    let mut reading = true;
    // Fires when a frame has been half-read too long, or nothing arrived
    // for the idle timeout.
    let deadline = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(deadline);
    let mut armed = false;
    // Bytes a TLS stream holds after a write returned; never on TCP.
    let mut unflushed = false;
    // One registration for the connection's life, not one per loop turn.
    let shutdown = shutdown.cancelled();
    tokio::pin!(shutdown);
    if let Some(idle) = options.idle_timeout {
        deadline.as_mut().reset(Instant::now() + idle);
        armed = true;
    }

    loop {
        if agent.wbuf.is_empty() {
            write_pieces(&mut agent.pieces, &mut agent.wbuf, WRITE_BATCH);
        }
        if !reading && agent.running.is_empty() && agent.wbuf.is_empty() {
            break;
        }
        // Stop reading while too much is running or unsent: the peer's
        // writes back up instead of piling up here.
        let unsent = agent.wbuf.len() + agent.pieces.iter().map(Pieces::remaining).sum::<usize>();
        let can_read = reading
            && agent.running.len() < options.max_in_flight
            && unsent <= options.max_queued_bytes;
        tokio::select! {
            biased;
            Some((session, push, ended)) = agent.running.next(), if !agent.running.is_empty() => {
                agent.requests.fetch_sub(1, Ordering::Relaxed);
                if !push {
                    agent.cancels.remove(&session);
                }
                match ended {
                    Ended::Handled(outcome) => agent.finish(session, push, outcome),
                    Ended::Panicked(address, panic) => {
                        agent.panicked(session, push, &address, &*panic);
                    }
                    // The caller gave up: it wants no answer.
                    Ended::Cancelled => {}
                }
            }
            // `write`, not the vectored write `write_buf` would make of
            // this one slice: the kernel then has no iovec to import.
            written = write_or_flush::<S, _>(&mut wr, &agent.wbuf), if !agent.wbuf.is_empty() || unflushed => {
                match written {
                    Ok(n) => {
                        agent.metrics.sent(n);
                        agent.wbuf.advance(n);
                        unflushed = S::BUFFERED && n > 0;
                    }
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "write failed; closing");
                        break;
                    }
                }
            }
            read = rd.read_buf(&mut rbuf), if can_read => {
                match read {
                    Ok(0) => reading = false,
                    Ok(n) => {
                        agent.metrics.received(n);
                        while let Ok(Some(item)) = decoder.decode(&mut rbuf) {
                            agent.on_inbound(item);
                        }
                        reassembling.set(decoder.pending());
                        // Re-arm: a partial frame must finish in time; an
                        // empty buffer waits for the idle timeout, if any.
                        let next = if !rbuf.is_empty() {
                            Some(options.frame_timeout)
                        } else {
                            options.idle_timeout
                        };
                        armed = next.is_some();
                        if let Some(wait) = next {
                            deadline.as_mut().reset(Instant::now() + wait);
                        }
                    }
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "read failed");
                        reading = false;
                    }
                }
            }
            () = &mut deadline, if armed && reading => {
                tracing::info!(%peer, "closing a connection that stalled mid-frame or idled");
                reading = false;
                armed = false;
            }
            () = &mut shutdown, if reading => {
                reading = false;
            }
        }
    }
    // Requests dropped unanswered (the write side failed) leave the count.
    agent
        .requests
        .fetch_sub(agent.running.len(), Ordering::Relaxed);
    // Close gracefully: closing with unread bytes makes the kernel reset
    // the connection, and a reset can destroy replies still on their way.
    // Send FIN, then discard what the peer still sends until it closes too.
    let _ = tokio::time::timeout(CLOSE_DRAIN, async {
        let _ = wr.shutdown().await;
        loop {
            rbuf.clear();
            match rd.read_buf(&mut rbuf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    tracing::debug!(%peer, "agent done");
}

/// A handler's future, bounded by its caller's deadline if it has one,
/// in its trace's span if it has one.
fn bounded(
    deadline: Option<Instant>,
    traced: Option<Traced>,
    future: BoxFuture<Result<Bytes, HandlerError>>,
) -> BoxFuture<Result<Bytes, HandlerError>> {
    let future = match deadline {
        Some(at) => bound(at, future),
        None => future,
    };
    match traced {
        Some(traced) => traced.bind(future),
        None => future,
    }
}

/// Writes some of `buf`, or with `buf` empty flushes what a TLS stream
/// still holds (then returns 0). On TCP this is `write` alone.
async fn write_or_flush<S: Link, W: AsyncWrite + Unpin>(
    wr: &mut W,
    buf: &[u8],
) -> std::io::Result<usize> {
    if S::BUFFERED && buf.is_empty() {
        wr.flush().await.map(|()| 0)
    } else {
        wr.write(buf).await
    }
}

/// How long a closing agent waits for the peer to close its side.
const CLOSE_DRAIN: Duration = Duration::from_secs(1);

impl Agent {
    fn on_inbound(&mut self, item: Inbound) {
        match item {
            Inbound::Request(request) => {
                let session = request.session;
                let push = request.push;
                // Requests to services: a name query (address 0, which
                // also carries liveness probes and the runtime's own
                // extension and schema queries) is not one.
                if !request.address.is_query() {
                    self.metrics.request(push);
                }
                match self.dispatch(request) {
                    Dispatch::Run(handled, deadline, traced) => match handled.into_now() {
                        Now::Reply(outcome) => self.finish(session, push, outcome),
                        // A push's reply is dropped.
                        Now::Inline(_) if push => {}
                        Now::Inline(reply) => self.reply_small(session, reply.as_bytes()),
                        Now::Later(future) => {
                            self.run(session, push, bounded(deadline, traced, future));
                        }
                        Now::Started(future) => {
                            self.wait(session, push, bounded(deadline, traced, future));
                        }
                    },
                    Dispatch::Expired => {
                        tracing::debug!(peer = %self.peer, session, "not run: its deadline had passed");
                    }
                    Dispatch::Answer(answer) => self.reply(session, answer),
                    Dispatch::Panicked(panic) => {
                        let address = self.dispatched();
                        self.panicked(session, push, &address, &*panic);
                    }
                }
            }
            Inbound::Trace(tag) => self.trace = Some(tag),
            // skycluster's own frames, from a Rust node this node offered
            // them to; one that offers none drops them, as Skynet drops
            // any type it does not know.
            Inbound::Deadline(_) | Inbound::Cancel(_) if !self.state.options.extensions => {
                tracing::debug!(peer = %self.peer, "dropping an extension frame this node does not offer");
            }
            Inbound::Deadline(millis) => self.deadline = Some(millis),
            Inbound::Cancel(session) => {
                if let Some(handle) = self.cancels.remove(&session) {
                    handle.abort();
                }
            }
            Inbound::Broken(e) => {
                tracing::debug!(peer = %self.peer, error = %e, "broken multi-part request");
                self.metrics.refused(&e);
                // Skynet's text first, so Lua peers and their logs see what
                // they know; the reason after it.
                let text = format!("Invalid large req: {e}");
                self.reply(e.session(), Err(text));
            }
            Inbound::Malformed(e) => {
                // Skynet drops frames it cannot parse; so does skycluster.
                tracing::debug!(peer = %self.peer, error = %e, "dropping malformed frame");
                self.metrics.malformed();
            }
        }
    }

    fn dispatch(&mut self, request: crate::wire::InboundRequest) -> Dispatch {
        // A deadline applies to the next call, whatever becomes of it.
        let deadline = match self.deadline.take() {
            Some(0) if !request.push => return Dispatch::Expired,
            // The coarse clock, as a call's own deadline: it may trail by
            // a few milliseconds, which makes the deadline that much
            // earlier, never later, and costs no system clock read.
            Some(millis) if !request.push => {
                Some(super::clock::coarse_now() + Duration::from_millis(u64::from(millis)))
            }
            _ => None,
        };
        let state = &self.state;
        if request.address.is_query() {
            return Dispatch::Answer(state.answer_query(&request.payload));
        }
        let version = state.registry.version();
        // The cached handler, borrowed: no reference count moves per request.
        let handler = match &mut self.resolved {
            Some((address, v, handler)) if *v == version && *address == request.address => {
                &*handler
            }
            slot => match state.resolve(&request.address) {
                Ok(handler) => &slot.insert((request.address, version, handler)).2,
                Err(text) => return Dispatch::Answer(Err(text)),
            },
        };
        // The tag applies to the next call; pushes see it but leave it.
        let trace = if request.push {
            self.trace.clone()
        } else {
            self.trace.take()
        };
        // A traced call runs in a span with its tag, which the calls it
        // makes carry on.
        let traced = trace.as_ref().and_then(|tag| {
            let tag = TraceTag::new(tag.clone()).ok()?;
            Some(Traced::new(
                tag,
                state.name().map_or("?", |n| &**n),
                &self.peer,
            ))
        });
        let request = Request::with(request.payload, request.push, trace);
        let handle = || deadline_scope(deadline, || handler.handle(request));
        let handled = match &traced {
            Some(traced) => call_caught(|| traced.scope(handle)),
            None => call_caught(handle),
        };
        match handled {
            Ok(handled) => Dispatch::Run(handled, deadline, traced),
            Err(panic) => Dispatch::Panicked(panic),
        }
    }

    /// The address of the request `dispatch` just ran a handler for: it
    /// resolved it and cached it. (Address 0, the name query, runs no
    /// handler, so never shows here.)
    fn dispatched(&self) -> Address {
        self.resolved
            .as_ref()
            .map_or(Address::QUERY, |(address, ..)| address.clone())
    }

    /// Runs a handler's future: polled once here, since most finish on
    /// their first poll, and otherwise left to the connection's set of
    /// running requests, which polls it again with the right waker.
    fn run(
        &mut self,
        session: u32,
        push: bool,
        mut future: BoxFuture<Result<Bytes, HandlerError>>,
    ) {
        let mut cx = Context::from_waker(Waker::noop());
        match poll_caught(future.as_mut(), &mut cx) {
            Poll::Ready(Ok(outcome)) => self.finish(session, push, outcome),
            Poll::Ready(Err(panic)) => {
                let address = self.dispatched();
                self.panicked(session, push, &address, &*panic);
            }
            Poll::Pending => self.wait(session, push, future),
        }
    }

    /// Leaves a handler's pending future to the connection's set of
    /// running requests, which polls it with a waker that can wake it.
    fn wait(&mut self, session: u32, push: bool, future: BoxFuture<Result<Bytes, HandlerError>>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        // A reference count, not a copy: a name shares the frame's memory.
        let address = self.dispatched();
        let (handle, registration) = AbortHandle::new_pair();
        if !push {
            self.cancels.insert(session, handle);
        }
        self.running.push(Answering {
            session,
            push,
            address,
            future: Abortable::new(future, registration),
        });
    }

    /// Answers a request whose handler panicked serving `address` with an
    /// error frame that says so (a push gets nothing), and logs it: the
    /// panic fails this request alone.
    fn panicked(&mut self, session: u32, push: bool, address: &Address, panic: &(dyn Any + Send)) {
        let node = self.state.name().map_or("?", |n| &**n);
        let text = service_panicked(address, node, panic);
        tracing::error!(peer = %self.peer, session, push, error = %text, "a handler panicked");
        if !push {
            self.reply(session, Err(text));
        }
    }

    fn finish(&mut self, session: u32, push: bool, outcome: Result<Bytes, HandlerError>) {
        match (push, outcome) {
            (true, Ok(_)) => {}
            (true, Err(e)) => {
                tracing::debug!(peer = %self.peer, error = %e, "push handler failed");
            }
            (false, outcome) => self.reply(session, outcome.map_err(|e| e.text().to_owned())),
        }
    }

    /// Writes a small reply that is not a `Bytes`, as `reply` writes one.
    fn reply_small(&mut self, session: u32, payload: &[u8]) {
        if let Err(e) = encode_small_ok(&mut self.wbuf, session, payload) {
            encode_error(&mut self.wbuf, session, e.to_string().as_bytes());
        }
    }

    fn reply(&mut self, session: u32, answer: Result<Bytes, String>) {
        match answer {
            Ok(payload) => match encode_ok(&mut self.wbuf, session, payload) {
                Ok(Some(pieces)) => self.pieces.push_back(pieces),
                Ok(None) => {}
                Err(e) => encode_error(&mut self.wbuf, session, e.to_string().as_bytes()),
            },
            Err(text) => encode_error(&mut self.wbuf, session, text.as_bytes()),
        }
    }
}
