//! Figures an operator can scrape, through the [`metrics`] facade (the
//! `metrics` feature); without the feature every method here is empty and
//! inlined away.
//!
//! Handles are registered once per sender and per listener, labelled by
//! node, so that a call touches only counters already made: with no
//! recorder installed they are no-ops (a branch on an empty handle), with
//! one each is an atomic add. What is recorded:
//!
//! | name | kind | labels | what |
//! | --- | --- | --- | --- |
//! | `skycluster_calls_started_total` | counter | `node` | calls queued to `node` (or refused at once) |
//! | `skycluster_calls_ended_total` | counter | `node`, `outcome` | calls ended: `ok`, an [`ErrorKind`] in snake case, or `cancelled` (the caller dropped it) |
//! | `skycluster_calls_in_flight` | gauge | `node` | calls to `node` awaiting their answer |
//! | `skycluster_call_seconds` | histogram | `node` | from queueing to the answer, one call in 64 (a precise clock read at each end of every call would cost more than all the rest) |
//! | `skycluster_pushes_sent_total` | counter | `node` | pushes queued to `node` |
//! | `skycluster_bytes_sent_total`, `skycluster_bytes_received_total` | counter | `node`, `side` | bytes on the connection to `node` (`side="sender"`), or on connections served by this node, `node` (`side="agent"`) |
//! | `skycluster_connections_open` | gauge | `node`, `side` | connections up |
//! | `skycluster_connect_failures_total` | counter | `node` | failed connects (and handshakes); each starts a back-off |
//! | `skycluster_reconnects_total` | counter | `node` | connections made after the first |
//! | `skycluster_requests_served_total` | counter | `node`, `kind` | requests this node's services received (name queries, which carry the runtime's own probes and checks, are not counted): `call` or `push` |
//! | `skycluster_handshake_failures_total` | counter | `node` | connections this node's listener closed in the TLS or `Auth` handshake |
//! | `skycluster_multipart_pending` | gauge | `node` | multi-part requests begun and not yet complete on connections this node serves |
//! | `skycluster_handler_seconds` | histogram | `service`, `method` | how long a `#[service]` method took, from its first poll to its reply encoded, one request in 64 per thread (no `node`: the dispatcher does not know which node's listener the request came in by) |
//! | `skycluster_probes_total` | counter | `node`, `outcome` | liveness probes sent on a silent connection to `node`: `sent`, and `dead` for those that found it half-open (the connection is replaced) |
//! | `skycluster_frames_refused_total` | counter | `node`, `reason` | requests this node's agents refused by a limit (`wire::Limits`): `too_large`, `too_many_pending`, `too_much_buffered`, or `malformed` |

#[cfg(feature = "metrics")]
use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};

use crate::ErrorKind;

/// The figures of one sender: calls and the connection to one node.
#[derive(Debug, Default)]
pub(crate) struct SenderMetrics {
    #[cfg(feature = "metrics")]
    on: Option<SenderHandles>,
}

#[cfg(feature = "metrics")]
struct SenderHandles {
    node: metrics::SharedString,
    started: Counter,
    ok: Counter,
    cancelled: Counter,
    in_flight: Gauge,
    latency: Histogram,
    pushes: Counter,
    bytes_out: Counter,
    bytes_in: Counter,
    open: Gauge,
    connect_failures: Counter,
    reconnects: Counter,
    /// Whether a connection was ever up, to tell reconnects.
    was_up: std::sync::atomic::AtomicBool,
}

#[cfg(feature = "metrics")]
impl std::fmt::Debug for SenderHandles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderHandles")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl SenderMetrics {
    /// Registers the handles for calls to `node` with the recorder
    /// installed now (none: no-op handles).
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn new(node: &str) -> SenderMetrics {
        #[cfg(feature = "metrics")]
        {
            let n = metrics::SharedString::from(node.to_owned());
            let sender = ("side", "sender");
            SenderMetrics {
                on: Some(SenderHandles {
                    started: counter!("skycluster_calls_started_total", "node" => n.clone()),
                    ok: counter!("skycluster_calls_ended_total", "node" => n.clone(), "outcome" => "ok"),
                    cancelled: counter!("skycluster_calls_ended_total", "node" => n.clone(), "outcome" => "cancelled"),
                    in_flight: gauge!("skycluster_calls_in_flight", "node" => n.clone()),
                    latency: histogram!("skycluster_call_seconds", "node" => n.clone()),
                    pushes: counter!("skycluster_pushes_sent_total", "node" => n.clone()),
                    bytes_out: counter!("skycluster_bytes_sent_total", "node" => n.clone(), sender.0 => sender.1),
                    bytes_in: counter!("skycluster_bytes_received_total", "node" => n.clone(), sender.0 => sender.1),
                    open: gauge!("skycluster_connections_open", "node" => n.clone(), sender.0 => sender.1),
                    connect_failures: counter!("skycluster_connect_failures_total", "node" => n.clone()),
                    reconnects: counter!("skycluster_reconnects_total", "node" => n.clone()),
                    was_up: std::sync::atomic::AtomicBool::new(false),
                    node: n,
                }),
            }
        }
        #[cfg(not(feature = "metrics"))]
        SenderMetrics {}
    }

    /// A call was queued (or refused at once: then `ended` follows).
    #[inline]
    pub(crate) fn call_started(&self) {
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.on {
            m.started.increment(1);
            m.in_flight.increment(1.0);
        }
    }

    /// A call ended with `outcome` (`None`: dropped unanswered), `elapsed`
    /// after it started if known.
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn call_ended(
        &self,
        outcome: Option<Result<(), &ErrorKind>>,
        elapsed: Option<std::time::Duration>,
    ) {
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.on {
            m.in_flight.decrement(1.0);
            match outcome {
                Some(Ok(())) => m.ok.increment(1),
                None => m.cancelled.increment(1),
                // Errors are rare: their counter is looked up when one happens.
                Some(Err(kind)) => counter!(
                    "skycluster_calls_ended_total",
                    "node" => m.node.clone(),
                    "outcome" => outcome_name(kind),
                )
                .increment(1),
            }
            if let Some(elapsed) = elapsed {
                m.latency.record(elapsed.as_secs_f64());
            }
        }
    }

    /// A push was queued.
    #[inline]
    pub(crate) fn push_sent(&self) {
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.on {
            m.pushes.increment(1);
        }
    }

    /// `n` bytes were written to the connection.
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn sent(&self, n: usize) {
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.on {
            m.bytes_out.increment(n as u64);
        }
    }

    /// `n` bytes were read from the connection.
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn received(&self, n: usize) {
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.on {
            m.bytes_in.increment(n as u64);
        }
    }

    /// A liveness probe was sent (`dead`: one found the connection
    /// half-open, and it is replaced).
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn probe(&self, dead: bool) {
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.on {
            let outcome = if dead { "dead" } else { "sent" };
            counter!("skycluster_probes_total", "node" => m.node.clone(), "outcome" => outcome)
                .increment(1);
        }
    }

    /// A connect (or its handshake) failed.
    #[inline]
    pub(crate) fn connect_failed(&self) {
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.on {
            m.connect_failures.increment(1);
        }
    }

    /// A connection is up (a reconnect if one was before). The gauge goes
    /// down when the guard drops, however the connection's task ends (it
    /// may be aborted).
    #[inline]
    pub(crate) fn connected(&self) -> OpenGuard {
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.on {
            if m.was_up.swap(true, std::sync::atomic::Ordering::Relaxed) {
                m.reconnects.increment(1);
            }
            m.open.increment(1.0);
            return OpenGuard {
                gauge: Some(m.open.clone()),
            };
        }
        OpenGuard::default()
    }
}

/// The figures of one listener's agents, labelled with this node's name.
#[derive(Clone, Debug, Default)]
pub(crate) struct AgentMetrics {
    #[cfg(feature = "metrics")]
    on: Option<std::sync::Arc<AgentHandles>>,
}

#[cfg(feature = "metrics")]
#[derive(Debug)]
struct AgentHandles {
    node: metrics::SharedString,
    calls: Counter,
    reassembling: Gauge,
    pushes: Counter,
    bytes_in: Counter,
    bytes_out: Counter,
    open: Gauge,
    handshake_failures: Counter,
}

impl AgentMetrics {
    /// Registers the handles for connections served by node `node`.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn new(node: &str) -> AgentMetrics {
        #[cfg(feature = "metrics")]
        {
            let n = metrics::SharedString::from(node.to_owned());
            AgentMetrics {
                on: Some(std::sync::Arc::new(AgentHandles {
                    node: n.clone(),
                    reassembling: gauge!("skycluster_multipart_pending", "node" => n.clone()),
                    calls: counter!("skycluster_requests_served_total", "node" => n.clone(), "kind" => "call"),
                    pushes: counter!("skycluster_requests_served_total", "node" => n.clone(), "kind" => "push"),
                    bytes_in: counter!("skycluster_bytes_received_total", "node" => n.clone(), "side" => "agent"),
                    bytes_out: counter!("skycluster_bytes_sent_total", "node" => n.clone(), "side" => "agent"),
                    open: gauge!("skycluster_connections_open", "node" => n.clone(), "side" => "agent"),
                    handshake_failures: counter!("skycluster_handshake_failures_total", "node" => n),
                })),
            }
        }
        #[cfg(not(feature = "metrics"))]
        AgentMetrics {}
    }

    /// A request arrived (a push if `push`).
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn request(&self, push: bool) {
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.on {
            if push {
                m.pushes.increment(1);
            } else {
                m.calls.increment(1);
            }
        }
    }

    /// `n` bytes were read.
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn received(&self, n: usize) {
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.on {
            m.bytes_in.increment(n as u64);
        }
    }

    /// `n` bytes were written.
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn sent(&self, n: usize) {
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.on {
            m.bytes_out.increment(n as u64);
        }
    }

    /// A multi-part request was refused (a limit of `wire::Limits`, or
    /// pieces that do not add up).
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn refused(&self, why: &crate::wire::ReassemblyError) {
        #[cfg(feature = "metrics")]
        {
            use crate::wire::ReassemblyError as E;
            let reason = match why {
                E::TooLarge { .. } => "too_large",
                E::TooManyPending { .. } => "too_many_pending",
                E::BufferFull { .. } => "too_much_buffered",
                _ => "malformed",
            };
            self.refused_for(reason);
        }
    }

    /// A frame could not be parsed, and was dropped.
    #[inline]
    pub(crate) fn malformed(&self) {
        #[cfg(feature = "metrics")]
        self.refused_for("malformed");
    }

    #[cfg(feature = "metrics")]
    fn refused_for(&self, reason: &'static str) {
        if let Some(m) = &self.on {
            counter!("skycluster_frames_refused_total", "node" => m.node.clone(), "reason" => reason)
                .increment(1);
        }
    }

    /// The multi-part requests in reassembly on one connection, kept in
    /// the node's gauge until the connection ends.
    #[inline]
    pub(crate) fn reassembly(&self) -> Reassembling {
        Reassembling {
            #[cfg(feature = "metrics")]
            gauge: self.on.as_ref().map(|m| m.reassembling.clone()),
            count: 0,
        }
    }

    /// A connection failed its TLS or `Auth` handshake.
    #[inline]
    #[cfg_attr(not(any(feature = "auth", feature = "tls")), allow(dead_code))]
    pub(crate) fn handshake_failed(&self) {
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.on {
            m.handshake_failures.increment(1);
        }
    }

    /// A connection is being served until the guard drops.
    #[inline]
    pub(crate) fn open(&self) -> OpenGuard {
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.on {
            m.open.increment(1.0);
            return OpenGuard {
                gauge: Some(m.open.clone()),
            };
        }
        OpenGuard::default()
    }
}

/// Takes one from a connections gauge when dropped.
#[derive(Debug, Default)]
pub(crate) struct OpenGuard {
    #[cfg(feature = "metrics")]
    gauge: Option<Gauge>,
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        #[cfg(feature = "metrics")]
        if let Some(gauge) = &self.gauge {
            gauge.decrement(1.0);
        }
    }
}

/// An outcome label for an error: its variant in snake case.
#[cfg(feature = "metrics")]
fn outcome_name(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Timeout { .. } => "timeout",
        ErrorKind::Disabled => "disabled",
        ErrorKind::Absent => "absent",
        ErrorKind::Connect { .. } => "connect",
        ErrorKind::Disconnected { .. } => "disconnected",
        ErrorKind::Remote { .. } => "remote",
        ErrorKind::SchemaMismatch { .. } => "schema_mismatch",
        ErrorKind::UnknownMethod { .. } => "unknown_method",
        ErrorKind::Codec { .. } => "codec",
        ErrorKind::TooLarge { .. } => "too_large",
        ErrorKind::Overloaded { .. } => "overloaded",
        ErrorKind::InvalidAddress { .. } => "invalid_address",
        ErrorKind::Shutdown => "shutdown",
        ErrorKind::Unavailable { .. } => "unavailable",
    }
}

/// Times one `#[service]` method in 64 (per thread) for
/// `skycluster_handler_seconds`: made when the method starts, recorded by
/// [`HandlerTimer::finish`]. Unsampled, or without the feature, it is
/// empty and costs a counter on the thread.
#[derive(Debug, Default)]
pub(crate) struct HandlerTimer {
    #[cfg(feature = "metrics")]
    started: Option<(crate::node::clock::Instant, &'static str, &'static str)>,
}

/// One method in this many is timed.
#[cfg(feature = "metrics")]
const HANDLER_SAMPLE: u32 = 64;

impl HandlerTimer {
    /// Starts timing `method` of `service`, if this request is sampled.
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn start(service: &'static str, method: &'static str) -> HandlerTimer {
        #[cfg(feature = "metrics")]
        {
            thread_local! {
                static COUNT: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
            }
            let n = COUNT.with(|c| {
                let n = c.get();
                c.set(n.wrapping_add(1));
                n
            });
            if n % HANDLER_SAMPLE == 0 {
                return HandlerTimer {
                    started: Some((crate::node::clock::now(), service, method)),
                };
            }
        }
        HandlerTimer::default()
    }

    /// The method finished: records how long it took, if timed.
    #[inline]
    pub(crate) fn finish(self) {
        #[cfg(feature = "metrics")]
        if let Some((started, service, method)) = self.started {
            let took = crate::node::clock::now().saturating_duration_since(started);
            histogram!("skycluster_handler_seconds", "service" => service, "method" => method)
                .record(took.as_secs_f64());
        }
    }
}

/// One connection's share of `skycluster_multipart_pending`: set after
/// each read, taken back out when the connection ends.
#[derive(Debug)]
pub(crate) struct Reassembling {
    #[cfg(feature = "metrics")]
    gauge: Option<Gauge>,
    count: usize,
}

impl Reassembling {
    /// `count` multi-part requests are incomplete now.
    #[inline]
    pub(crate) fn set(&mut self, count: usize) {
        if count == self.count {
            return;
        }
        #[cfg(feature = "metrics")]
        if let Some(gauge) = &self.gauge {
            gauge.increment(count as f64 - self.count as f64);
        }
        self.count = count;
    }
}

impl Drop for Reassembling {
    fn drop(&mut self) {
        self.set(0);
    }
}
