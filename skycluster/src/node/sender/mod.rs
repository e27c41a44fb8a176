//! The sender: one TCP connection to one remote node, shared by every call
//! to it.
//!
//! Callers never touch the socket. A call takes the next session, copies
//! its frame (drafted beforehand: see [`crate::wire::draft`]) into the
//! shared output buffer, records a waiter and wakes the connection's writer
//! task. That task swaps the whole buffer out and writes it in one go, so
//! frames queued together leave together; pieces of
//! large calls follow, one piece of each in turn up to a batch per write,
//! so a 10 MB payload does not hold small calls back. (Large pushes go out
//! whole, to keep pushes in order.) Replies are matched to waiters by
//! session, in any order, and handed out at most
//! [`REPLY_BATCH`](connection::REPLY_BATCH) at a
//! time, so that under load the requests of the first callers leave while
//! the rest are woken. Timeouts are deadlines the connection sweeps (see
//! [`super::pending`]), not a timer per call.
//!
//! Pushes are delivered at most once: those still queued when a connection
//! drops are lost, never replayed.
//!
//! Failure is loud: when the connection drops every waiter fails at once,
//! and after a failed connect calls fail fast (with the connect error) for
//! a capped, jittered back-off, instead of each waiting out a timeout.
//!
//! Every time read here (back-off, probe deadlines, round trips, the
//! sweep) comes from [`super::clock`], the clock calls' deadlines are
//! read from: a test on tokio's paused clock sees all of it move together.
//!
//! Here: what callers do (queue a call or a push, wait for its answer).
//! `connection`: the connection's tasks (connect, write, read, back off).
//! `sweep`: deadlines and liveness probes.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tracing::Instrument;

use super::clock::{self, Deadline, Instant};
use super::config::NodeAddr;
use super::metrics::SenderMetrics;
use super::pending::{Outcome, Pending, Waiter};
use super::Options;
use crate::scratch;
use crate::wire::draft::Draft;
use crate::wire::{
    encode_cancel, encode_deadline, encode_push, encode_request, encode_trace, Address, Pieces,
    Session, TraceTag, MULTIPART_THRESHOLD,
};
use crate::ErrorKind;

mod connection;
mod extensions;
mod schema;
mod sweep;

pub(crate) use extensions::{answer as extensions_answer, is_query as is_extensions_query};
pub(crate) use schema::{
    answer as schema_answer, asked_about as schema_asked_about, query as schema_query,
    read_answer as read_schema_answer, Check as SchemaCheck,
};

/// One call in this many (the first included) reads the precise clock
/// when it starts, so that status can show a round-trip time; the others
/// make do with the coarse clock their deadline needs (see [`super::clock`]).
const RTT_SAMPLE: u32 = 64;

#[derive(Debug)]
enum Conn {
    Idle,
    Connecting(AbortHandle),
    Up(AbortHandle),
    /// Connecting failed; calls fail with `error` until `until`.
    Backoff {
        until: Instant,
        error: ErrorKind,
    },
}

#[derive(Debug)]
struct State {
    /// The node's address in the config.
    target: NodeAddr,
    conn: Conn,
    /// Bumped whenever the connection is replaced, so a task of an old
    /// connection cannot touch the new one's state.
    generation: u64,
    next_session: Session,
    pending: Pending,
    out: BytesMut,
    pieces: VecDeque<Pieces>,
    failures: u32,
    last_error: Option<String>,
    last_rtt: Option<Duration>,
    /// A liveness probe in flight: its deadline, and the read count when
    /// it was sent.
    probe: Option<(Instant, u64)>,
    /// What the schema checks asked of each address (see `schema`); an
    /// entry of an older generation is stale.
    schemas: HashMap<Address, Arc<schema::Check>>,
    /// What the node on this connection offered (`extensions`): none
    /// until it answers.
    extensions: u32,
}

/// A snapshot for [`Cluster::status`](crate::Cluster::status).
#[derive(Clone, Debug)]
pub(crate) struct SenderStatus {
    pub(crate) connected: bool,
    pub(crate) in_flight: usize,
    pub(crate) last_error: Option<String>,
    pub(crate) last_rtt: Option<Duration>,
}

#[derive(Debug)]
pub(crate) struct Sender {
    node: Arc<str>,
    /// This node's own name, for trace tags.
    local: Arc<str>,
    options: Arc<Options>,
    state: Mutex<State>,
    wake: Notify,
    /// Tells the sweeper that a call's deadline comes before its next
    /// wake-up.
    sweep_wake: Notify,
    /// Counts successful reads, so a timed-out call can tell whether the
    /// peer said anything at all while it waited.
    heard: AtomicU64,
    /// `State::generation`, readable without the lock: a typed call
    /// compares it with the generation its target's schema check agreed
    /// at.
    generation: AtomicU64,
    /// Set while the node is out of the membership (see `remove`).
    removed: AtomicBool,
    metrics: SenderMetrics,
}

impl Sender {
    pub(crate) fn new(
        node: Arc<str>,
        local: Arc<str>,
        target: NodeAddr,
        options: Arc<Options>,
    ) -> Arc<Sender> {
        let metrics = SenderMetrics::new(&node);
        Arc::new(Sender {
            node,
            metrics,
            local,
            options,
            state: Mutex::new(State {
                target,
                conn: Conn::Idle,
                generation: 0,
                next_session: Session::FIRST,
                pending: Pending::default(),
                out: BytesMut::new(),
                pieces: VecDeque::new(),
                failures: 0,
                last_error: None,
                last_rtt: None,
                probe: None,
                schemas: HashMap::new(),
                extensions: 0,
            }),
            wake: Notify::new(),
            sweep_wake: Notify::new(),
            heard: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            removed: AtomicBool::new(false),
        })
    }

    /// The connection calls queued now go out on (see `State::generation`).
    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Moves on to the next connection: the old one's tasks and answers
    /// stop counting.
    fn next_generation(&self, st: &mut State) {
        st.generation += 1;
        self.generation.store(st.generation, Ordering::Release);
        st.schemas.clear();
        st.extensions = 0;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent before it can
        // panic (none does I/O), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a request and returns the call in flight, to be awaited for
    /// its reply. The payload has been copied out by the time this returns.
    ///
    /// No timer is armed per call: the waiter carries its deadline, and the
    /// connection's sweeper fails it with [`ErrorKind::Timeout`] once the
    /// deadline has passed (see [`super::pending`]).
    ///
    /// A caller that is being polled passes its `waker`: the answer will
    /// wake it, and it need not poll the call until then.
    pub(crate) fn begin(
        self: &Arc<Self>,
        address: &Address,
        payload: Payload<'_>,
        deadline: Deadline,
        trace: Option<&TraceTag>,
        waker: Option<&Waker>,
    ) -> Result<InFlight<'_>, ErrorKind> {
        self.begin_counted(address, payload, deadline, trace, waker, true)
    }

    /// As [`Sender::begin`], for the queries the runtime makes of its own
    /// (extensions, schema checks): not counted as calls in the metrics.
    pub(crate) fn begin_internal(
        self: &Arc<Self>,
        address: &Address,
        payload: Payload<'_>,
        deadline: Deadline,
    ) -> Result<InFlight<'_>, ErrorKind> {
        self.begin_counted(address, payload, deadline, None, None, false)
    }

    fn begin_counted(
        self: &Arc<Self>,
        address: &Address,
        payload: Payload<'_>,
        deadline: Deadline,
        trace: Option<&TraceTag>,
        waker: Option<&Waker>,
        counted: bool,
    ) -> Result<InFlight<'_>, ErrorKind> {
        let waiter = Waiter::new(deadline, self.heard.load(Ordering::Relaxed), waker.cloned());
        if counted {
            self.metrics.call_started();
        }
        let session = match self.start_call(address, payload, trace, waiter) {
            Ok(session) => session,
            Err(e) => {
                if counted {
                    self.metrics.call_ended(Some(Err(&e)), None);
                }
                return Err(e);
            }
        };
        Ok(InFlight {
            sender: self,
            session,
            done: false,
            counted,
            // Timed as the round trips are, one call in `RTT_SAMPLE`: a
            // precise clock read at each end of every call would cost more
            // than every counter together, recorder or not.
            #[cfg(feature = "metrics")]
            started: (session % RTT_SAMPLE == 1).then(clock::now),
        })
    }

    fn start_call(
        self: &Arc<Self>,
        address: &Address,
        payload: Payload<'_>,
        trace: Option<&TraceTag>,
        mut waiter: Waiter,
    ) -> Result<u32, ErrorKind> {
        let mut st = self.lock();
        self.ready(&mut st)?;
        self.check_queue(&st)?;
        let queued = st.out.len();
        let session = st.next_session;
        if let Some(tag) = trace {
            let tag = self.rewrite_trace(tag, session);
            encode_trace(&mut st.out, &tag);
        }
        // Only before a request of one frame: the agent applies a deadline
        // to the next request it completes, and a multi-part one completes
        // after whatever comes between its pieces.
        let single = match &payload {
            Payload::Draft(_) => true,
            Payload::Owned(payload) => payload.len() < MULTIPART_THRESHOLD,
        };
        if single && st.extensions & extensions::DEADLINES != 0 {
            if let Some(millis) = waiter.millis_left() {
                encode_deadline(&mut st.out, millis);
            }
        }
        match payload {
            Payload::Draft(draft) => draft.queue(&mut st.out, session.get()),
            Payload::Owned(payload) => {
                let len = payload.len();
                match encode_request(&mut st.out, address, session, payload) {
                    Ok(Some(pieces)) => st.pieces.push_back(pieces),
                    Ok(None) => {}
                    Err(_) => {
                        // Not even its trace tag leaves.
                        st.out.truncate(queued);
                        return Err(ErrorKind::TooLarge {
                            len,
                            limit: u32::MAX as usize,
                        });
                    }
                }
            }
        }
        st.next_session = session.next();
        if session.get() % RTT_SAMPLE == 1 {
            waiter.time();
        }
        let sooner = st.pending.insert(session.get(), waiter);
        drop(st);
        if queued == 0 {
            self.wake_writer();
        }
        if sooner {
            self.sweep_wake.notify_one();
        }
        Ok(session.get())
    }

    /// Skynet rewrites a tag without a leading `(` as
    /// `(<local>-<node>-<session + 1>)<tag>`.
    fn rewrite_trace(&self, tag: &TraceTag, session: Session) -> TraceTag {
        if tag.as_bytes().first() == Some(&b'(') {
            return tag.clone();
        }
        let mut text = format!("({}-{}-{})", self.local, self.node, session.next()).into_bytes();
        text.extend_from_slice(tag.as_bytes());
        text.truncate(TraceTag::MAX_LEN);
        TraceTag::new(text).unwrap_or_else(|_| tag.clone())
    }

    /// Queues a push. Pushes to one node leave in the order they were
    /// queued, also while the connection is being set up, whatever their
    /// sizes.
    pub(crate) fn push(
        self: &Arc<Self>,
        address: &Address,
        payload: Payload<'_>,
    ) -> Result<(), ErrorKind> {
        let mut st = self.lock();
        self.ready(&mut st)?;
        self.check_queue(&st)?;
        let queued = st.out.len();
        match payload {
            Payload::Draft(draft) => draft.queue(&mut st.out, 0),
            Payload::Owned(payload) => {
                let session = st.next_session;
                let len = payload.len();
                match encode_push(&mut st.out, address, session, payload) {
                    Ok(Some(mut pieces)) => {
                        // A multi-part push needs a real session to join its
                        // pieces.
                        st.next_session = session.next();
                        // Its pieces go out whole, as Skynet's do:
                        // interleaved, later small pushes would overtake it,
                        // and pushes to one node must arrive in the order
                        // they were sent. (Large *calls* are interleaved;
                        // their order does not matter.)
                        while pieces.write_next(&mut st.out) {}
                    }
                    Ok(None) => {}
                    Err(_) => {
                        return Err(ErrorKind::TooLarge {
                            len,
                            limit: u32::MAX as usize,
                        })
                    }
                }
            }
        }
        drop(st);
        self.metrics.push_sent();
        if queued == 0 {
            self.wake_writer();
        }
        Ok(())
    }

    /// Tells the writer there is output. Callers do so only when they
    /// found the output buffer empty: a non-empty one was already
    /// announced by whoever filled it first, and the writer has not taken
    /// it since (taking it empties it). That saves a compare-and-swap per
    /// call and per push while a batch builds up.
    fn wake_writer(&self) {
        self.wake.notify_one();
    }

    /// Refuses more work while the peer is not reading what is queued.
    fn check_queue(&self, st: &State) -> Result<(), ErrorKind> {
        let queued = st.out.len() + st.pieces.iter().map(Pieces::remaining).sum::<usize>();
        let limit = self.options.max_queued_bytes;
        if queued > limit {
            return Err(ErrorKind::Overloaded { queued, limit });
        }
        Ok(())
    }

    /// Sends a liveness probe unless one is out: a name query for the empty
    /// name, which Skynet and skycluster both answer (`name not found`).
    /// Any byte from the peer proves it alive; silence until the deadline
    /// drops the connection.
    fn probe(&self) {
        let mut st = self.lock();
        if !matches!(st.conn, Conn::Up(_)) || st.probe.is_some() {
            return;
        }
        tracing::info!(node = %self.node, "call timed out in silence; probing the connection");
        let session = st.next_session;
        st.next_session = session.next();
        // skynet.pack("") is the single byte 0x04; nobody waits for the reply.
        let probe = Bytes::from_static(&[0x04]);
        if encode_request(&mut st.out, &Address::QUERY, session, probe).is_ok() {
            let deadline = clock::now() + self.options.probe_timeout;
            st.probe = Some((deadline, self.heard.load(Ordering::Relaxed)));
            self.metrics.probe(false);
        }
        drop(st);
        self.wake.notify_one();
        // The sweeper watches the probe's deadline.
        self.sweep_wake.notify_one();
    }

    /// Makes sure a connection is up or on its way, or says why not.
    ///
    /// Every call and push asks, and nearly always the connection is up:
    /// that test is inlined into them, and the rest is not.
    #[inline]
    fn ready(self: &Arc<Self>, st: &mut State) -> Result<(), ErrorKind> {
        match st.conn {
            // A disabled target has no connection (see `retarget`).
            Conn::Up(_) | Conn::Connecting(_) => Ok(()),
            Conn::Idle | Conn::Backoff { .. } => self.start(st),
        }
    }

    /// [`Sender::ready`] without a connection: starts one, unless the node
    /// is disabled or the last connect failed too recently.
    #[cold]
    fn start(self: &Arc<Self>, st: &mut State) -> Result<(), ErrorKind> {
        if matches!(st.target, NodeAddr::Disabled) {
            return Err(ErrorKind::Disabled);
        }
        if let Conn::Backoff { until, error } = &st.conn {
            if clock::now() < *until {
                return Err(error.clone());
            }
        }
        // Only now, when a connection starts, is the address cloned.
        let NodeAddr::At(addr) = &st.target else {
            return Err(ErrorKind::Disabled);
        };
        let addr = addr.clone();
        // Every event of the connection carries the node it goes to.
        let span = tracing::debug_span!("sender", node = %self.node, %addr);
        let task = tokio::spawn(Arc::clone(self).run(addr, st.generation).instrument(span));
        st.conn = Conn::Connecting(task.abort_handle());
        Ok(())
    }

    /// Points the sender at a new address (or disables it). The current
    /// connection closes and its waiting calls fail now; the next call
    /// connects to the new address.
    pub(crate) fn retarget(&self, target: NodeAddr) {
        let mut st = self.lock();
        self.removed.store(false, Ordering::Release);
        if st.target == target {
            return;
        }
        let error = match &target {
            NodeAddr::Disabled => ErrorKind::Disabled,
            NodeAddr::At(addr) => ErrorKind::Disconnected {
                reason: format!("node moved to {addr}").into(),
            },
        };
        tracing::info!(node = %self.node, from = ?st.target, to = ?target, "node address changed");
        st.target = target;
        self.reset(&mut st, error);
        st.failures = 0;
    }

    /// The node left the membership: no connection, its waiting calls fail
    /// as calls to an absent node do, and calls through endpoints that
    /// kept this sender see [`Sender::removed`] and behave as calls to an
    /// absent node (waiting for it, unless `__nowaiting`). A reload that
    /// brings the node back retargets the sender, which undoes this.
    pub(crate) fn remove(&self) {
        let mut st = self.lock();
        self.removed.store(true, Ordering::Release);
        if st.target == NodeAddr::Disabled {
            return;
        }
        tracing::info!(node = %self.node, from = ?st.target, "node removed from the membership");
        st.target = NodeAddr::Disabled;
        self.reset(&mut st, ErrorKind::Absent);
        st.failures = 0;
    }

    /// Whether the node left the membership (see [`Sender::remove`]): one
    /// atomic load, for every call through a kept endpoint.
    #[inline]
    pub(crate) fn removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }

    /// Closes the connection for good (the cluster is shutting down).
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        st.target = NodeAddr::Disabled;
        self.reset(&mut st, ErrorKind::Shutdown);
    }

    /// Drops the connection and fails everything waiting on it.
    fn reset(&self, st: &mut State, error: ErrorKind) {
        self.next_generation(st);
        if let Conn::Up(task) | Conn::Connecting(task) = &st.conn {
            task.abort();
        }
        st.conn = Conn::Idle;
        st.probe = None;
        fail_all(st, &error);
    }

    /// Whether a call queued now could go out: the node is not disabled,
    /// and no back-off after a failed connect is in force. A pool skips a
    /// node for which this is false.
    pub(crate) fn available(&self) -> bool {
        let st = self.lock();
        match &st.conn {
            _ if matches!(st.target, NodeAddr::Disabled) => false,
            Conn::Backoff { until, .. } => clock::now() >= *until,
            Conn::Idle | Conn::Connecting(_) | Conn::Up(_) => true,
        }
    }

    pub(crate) fn status(&self) -> SenderStatus {
        let st = self.lock();
        SenderStatus {
            connected: matches!(st.conn, Conn::Up(_)),
            in_flight: st.pending.len(),
            last_error: st.last_error.clone(),
            last_rtt: st.last_rtt,
        }
    }

    /// A caller gave up on `session` before its answer: its slot goes,
    /// and a node that offered it is told, so that it drops the work.
    fn forget(&self, session: u32) {
        let mut st = self.lock();
        st.pending.remove(session);
        if st.extensions & extensions::CANCELS != 0 && matches!(st.conn, Conn::Up(_)) {
            let idle = st.out.is_empty();
            encode_cancel(&mut st.out, session);
            drop(st);
            if idle {
                self.wake_writer();
            }
        }
    }
}

/// A request's payload: owned, or a whole frame drafted in a scratch
/// buffer (see [`crate::wire::draft`]), borrowed just long enough to be
/// copied into the output buffer.
#[derive(Debug)]
pub(crate) enum Payload<'a> {
    Owned(Bytes),
    Draft(Draft<'a>),
}

impl<'a> Payload<'a> {
    /// The payload drafted in a scratch buffer, whose header is `head`
    /// bytes: the frame itself if it fits one, otherwise the payload
    /// copied now, before the sender's lock is taken, into memory of its
    /// own that the next large payload reuses (it leaves in pieces, later).
    pub(crate) fn from_draft(buf: &'a mut [u8], head: usize) -> Payload<'a> {
        match Draft::finish(buf, head) {
            Ok(draft) => Payload::Draft(draft),
            Err(payload) => Payload::Owned(scratch::to_bytes(payload)),
        }
    }
}

/// A call whose request is queued: resolves to its reply, an error or a
/// timeout. Dropping it unanswered (the caller gave up) forgets the
/// waiter, so a late reply is discarded.
#[derive(Debug)]
pub(crate) struct InFlight<'a> {
    sender: &'a Sender,
    session: u32,
    done: bool,
    /// Whether the metrics count it (not the runtime's own queries).
    counted: bool,
    /// When it was queued, for the latency histogram: sampled, one call
    /// in `RTT_SAMPLE`.
    #[cfg(feature = "metrics")]
    started: Option<Instant>,
}

impl Future for InFlight<'_> {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let outcome = ready!(self
            .sender
            .lock()
            .pending
            .poll_answer(self.session, cx.waker()));
        // Taking the answer removed the call's slot.
        self.done = true;
        #[cfg(feature = "metrics")]
        if self.counted {
            let elapsed = self
                .started
                .map(|started| clock::now().saturating_duration_since(started));
            let ended = outcome.as_ref().map(|_| ());
            self.sender.metrics.call_ended(Some(ended), elapsed);
        }
        if let Err(ErrorKind::Timeout { elapsed, .. }) = &outcome {
            tracing::debug!(node = %self.sender.node, session = self.session, ?elapsed, "call timed out");
        }
        Poll::Ready(outcome)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.sender.forget(self.session);
            if self.counted {
                self.sender.metrics.call_ended(None, None);
            }
        }
    }
}

fn fail_all(st: &mut State, error: &ErrorKind) {
    st.pending.fail_all(error);
    // Queued pushes die with the connection: delivery is at most once.
    st.out.clear();
    st.pieces.clear();
}
