//! The calls a sender is waiting on: one waiter per session, each with its
//! deadline.
//!
//! Timeouts are deadlines swept by the sender's connection, not a tokio
//! timer per call: registering and cancelling a timer (and reading the
//! clock for it) cost more than the rest of a small call's client side.
//! The sweeper sleeps until the earliest deadline that can be due, so with
//! steady traffic it wakes about once per call timeout, and a call that
//! times out is failed at most [`SWEEP_GRANULARITY`] late.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::ErrorKind;

/// What a call ends with.
pub(crate) type Outcome = Result<Bytes, ErrorKind>;

/// How late a timed-out call may be failed: the sweeper never wakes more
/// often than this, however many deadlines fall close together.
pub(crate) const SWEEP_GRANULARITY: Duration = Duration::from_millis(5);

/// One call waiting for its reply.
#[derive(Debug)]
pub(crate) struct Waiter {
    pub(crate) tx: oneshot::Sender<Outcome>,
    pub(crate) started: Instant,
    pub(crate) deadline: Instant,
    /// The sender's read count when the call started: if it is unchanged
    /// when the call times out, the peer said nothing at all meanwhile.
    pub(crate) heard: u64,
}

/// What a sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Swept {
    /// Calls failed with a timeout.
    pub(crate) expired: usize,
    /// Whether one of them waited in silence: nothing at all was read from
    /// the peer while it waited, so the connection may be dead.
    pub(crate) silent: bool,
}

/// Waiting calls by session.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    waiters: HashMap<u32, Waiter, BuildHasherDefault<SessionHasher>>,
    /// When the sweeper should next look for expired waiters; `None` when
    /// nothing waits.
    next_sweep: Option<Instant>,
}

impl Pending {
    /// Records a waiter. Returns true when its deadline comes before the
    /// sweeper's next wake-up, so the sweeper must be told.
    pub(crate) fn insert(&mut self, session: u32, waiter: Waiter) -> bool {
        let deadline = waiter.deadline;
        self.waiters.insert(session, waiter);
        match self.next_sweep {
            Some(at) if at <= deadline => false,
            _ => {
                self.next_sweep = Some(deadline);
                true
            }
        }
    }

    /// Takes the waiter for `session`, if a call is still waiting on it.
    #[inline]
    pub(crate) fn remove(&mut self, session: u32) -> Option<Waiter> {
        self.waiters.remove(&session)
    }

    pub(crate) fn len(&self) -> usize {
        self.waiters.len()
    }

    /// When the sweeper should wake next.
    pub(crate) fn next_sweep(&self) -> Option<Instant> {
        self.next_sweep
    }

    /// Fails every waiter whose deadline has passed at `now`, and works out
    /// when the next one can be due.
    pub(crate) fn sweep(&mut self, now: Instant, read_count: u64) -> Swept {
        let mut swept = Swept::default();
        let mut earliest: Option<Instant> = None;
        let mut expired = Vec::new();
        for (&session, waiter) in &self.waiters {
            if waiter.deadline <= now {
                expired.push(session);
            } else {
                earliest = Some(earliest.map_or(waiter.deadline, |e| e.min(waiter.deadline)));
            }
        }
        for waiter in expired.into_iter().filter_map(|s| self.waiters.remove(&s)) {
            swept.expired += 1;
            swept.silent |= waiter.heard == read_count;
            let elapsed = now.saturating_duration_since(waiter.started);
            // The caller may have given up already; that is fine.
            let _ = waiter.tx.send(Err(ErrorKind::Timeout { elapsed }));
        }
        self.next_sweep = earliest.map(|at| at.max(now + SWEEP_GRANULARITY));
        swept
    }

    /// Fails every waiter with `error`.
    pub(crate) fn fail_all(&mut self, error: &ErrorKind) {
        for (_, waiter) in self.waiters.drain() {
            let _ = waiter.tx.send(Err(error.clone()));
        }
        self.next_sweep = None;
    }
}

/// Sessions are consecutive numbers: a multiplication spreads them over
/// the table, where SipHash would spend more time than the lookup.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SessionHasher(u64);

impl Hasher for SessionHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        // Fibonacci hashing: the high bits, which hashbrown uses for its
        // control bytes, depend on every bit of the session.
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(
        started: Instant,
        timeout: Duration,
        heard: u64,
    ) -> (Waiter, oneshot::Receiver<Outcome>) {
        let (tx, rx) = oneshot::channel();
        let waiter = Waiter {
            tx,
            started,
            deadline: started + timeout,
            heard,
        };
        (waiter, rx)
    }

    #[test]
    fn only_an_earlier_deadline_needs_the_sweeper() {
        let t0 = Instant::now();
        let mut pending = Pending::default();
        assert!(pending.insert(1, waiter(t0, Duration::from_secs(30), 0).0));
        assert!(!pending.insert(2, waiter(t0, Duration::from_secs(31), 0).0));
        assert!(pending.insert(3, waiter(t0, Duration::from_secs(1), 0).0));
        assert_eq!(pending.next_sweep(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(pending.len(), 3);
    }

    #[test]
    fn a_sweep_fails_exactly_the_calls_past_their_deadline() {
        let t0 = Instant::now();
        let mut pending = Pending::default();
        let (w1, mut due) = waiter(t0, Duration::from_millis(100), 7);
        let (w2, mut later) = waiter(t0, Duration::from_secs(10), 7);
        pending.insert(1, w1);
        pending.insert(2, w2);

        let at = t0 + Duration::from_millis(150);
        let swept = pending.sweep(at, 8);
        assert_eq!(
            swept,
            Swept {
                expired: 1,
                silent: false
            }
        );
        match due.try_recv() {
            Ok(Err(ErrorKind::Timeout { elapsed })) => {
                assert_eq!(elapsed, Duration::from_millis(150));
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(later.try_recv().is_err(), "the later call still waits");
        assert_eq!(pending.len(), 1);
        assert_eq!(pending.next_sweep(), Some(t0 + Duration::from_secs(10)));
        assert!(pending.remove(2).is_some());
    }

    #[test]
    fn a_call_that_heard_nothing_is_silent() {
        let t0 = Instant::now();
        let mut pending = Pending::default();
        pending.insert(1, waiter(t0, Duration::from_millis(1), 3).0);
        let swept = pending.sweep(t0 + Duration::from_millis(2), 3);
        assert_eq!(
            swept,
            Swept {
                expired: 1,
                silent: true
            }
        );
        assert_eq!(pending.next_sweep(), None);
    }

    #[test]
    fn sweeps_never_come_closer_together_than_the_granularity() {
        let t0 = Instant::now();
        let mut pending = Pending::default();
        pending.insert(1, waiter(t0, Duration::from_millis(1), 0).0);
        pending.insert(2, waiter(t0, Duration::from_millis(2), 0).0);
        pending.sweep(t0 + Duration::from_millis(1), 0);
        assert_eq!(
            pending.next_sweep(),
            Some(t0 + Duration::from_millis(1) + SWEEP_GRANULARITY)
        );
    }

    #[test]
    fn failing_all_answers_every_waiter() {
        let t0 = Instant::now();
        let mut pending = Pending::default();
        let (w, mut rx) = waiter(t0, Duration::from_secs(1), 0);
        pending.insert(9, w);
        pending.fail_all(&ErrorKind::Shutdown);
        assert!(matches!(rx.try_recv(), Ok(Err(ErrorKind::Shutdown))));
        assert_eq!((pending.len(), pending.next_sweep()), (0, None));
    }
}
