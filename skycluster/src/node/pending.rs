//! The calls a sender is waiting on: one slot per session, holding the
//! call's deadline and, once it comes, its answer.
//!
//! A caller's future polls its slot (under the sender's lock) and leaves
//! its waker there; the connection fills the slot and wakes it. That costs
//! two table lookups per call where a channel would cost an allocation and
//! its atomics: on a small call's client side the channel was the largest
//! single cost.
//!
//! Timeouts are deadlines swept by the sender's connection, not a tokio
//! timer per call: registering and cancelling a timer (and reading the
//! clock for it) cost more than the rest of a small call's client side.
//! The sweeper sleeps until the earliest deadline that can be due, so with
//! steady traffic it wakes about once per call timeout, and a call that
//! times out is failed at most [`SWEEP_GRANULARITY`] late.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::ErrorKind;

/// What a call ends with.
pub(crate) type Outcome = Result<Bytes, ErrorKind>;

/// How late a timed-out call may be failed: the sweeper never wakes more
/// often than this, however many deadlines fall close together.
pub(crate) const SWEEP_GRANULARITY: Duration = Duration::from_millis(5);

/// One call waiting for its reply.
#[derive(Debug)]
pub(crate) struct Waiter {
    started: Instant,
    deadline: Instant,
    /// The sender's read count when the call started: if it is unchanged
    /// when the call times out, the peer said nothing at all meanwhile.
    heard: u64,
    /// The answer, once it came, until the caller takes it.
    outcome: Option<Outcome>,
    /// Whom to wake when the answer comes.
    waker: Option<Waker>,
}

impl Waiter {
    pub(crate) fn new(started: Instant, deadline: Instant, heard: u64) -> Waiter {
        Waiter {
            started,
            deadline,
            heard,
            outcome: None,
            waker: None,
        }
    }

    /// Records the answer; returns whom to wake. A call answered already
    /// (a late reply after its timeout) keeps its first answer.
    fn answer(&mut self, outcome: Outcome) -> Option<Waker> {
        if self.outcome.is_some() {
            return None;
        }
        self.outcome = Some(outcome);
        self.waker.take()
    }

    fn waiting(&self) -> bool {
        self.outcome.is_none()
    }
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

/// Calls by session, from when they are queued until their caller takes
/// the answer (or gives up).
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

    /// Answers the call waiting on `session`. Returns whom to wake and when
    /// the call started, or `None` if no call waits on it (it timed out,
    /// its caller gave up, or the peer made the session up).
    #[inline]
    pub(crate) fn answer(
        &mut self,
        session: u32,
        outcome: Outcome,
    ) -> Option<(Option<Waker>, Instant)> {
        let waiter = self.waiters.get_mut(&session).filter(|w| w.waiting())?;
        Some((waiter.answer(outcome), waiter.started))
    }

    /// The caller's side: takes the answer if it came, else leaves `waker`
    /// to be woken when it does.
    #[inline]
    pub(crate) fn poll_answer(&mut self, session: u32, waker: &Waker) -> Poll<Outcome> {
        // Only the caller removes its slot, so it is there; be safe anyway.
        let forgotten = || {
            Err(ErrorKind::Disconnected {
                reason: "the call was forgotten by its sender".into(),
            })
        };
        let Entry::Occupied(mut slot) = self.waiters.entry(session) else {
            return Poll::Ready(forgotten());
        };
        let waiter = slot.get_mut();
        if waiter.outcome.is_none() {
            match &mut waiter.waker {
                Some(w) if w.will_wake(waker) => {}
                other => *other = Some(waker.clone()),
            }
            return Poll::Pending;
        }
        Poll::Ready(slot.remove().outcome.unwrap_or_else(forgotten))
    }

    /// Drops a call's slot: its caller gave up.
    pub(crate) fn remove(&mut self, session: u32) {
        self.waiters.remove(&session);
    }

    /// Calls still waiting for their answer.
    pub(crate) fn len(&self) -> usize {
        self.waiters.values().filter(|w| w.waiting()).count()
    }

    /// When the sweeper should wake next.
    pub(crate) fn next_sweep(&self) -> Option<Instant> {
        self.next_sweep
    }

    /// Fails every waiting call whose deadline has passed at `now`, and
    /// works out when the next one can be due.
    pub(crate) fn sweep(&mut self, now: Instant, read_count: u64) -> Swept {
        let mut swept = Swept::default();
        let mut earliest: Option<Instant> = None;
        for waiter in self.waiters.values_mut().filter(|w| w.waiting()) {
            if waiter.deadline > now {
                earliest = Some(earliest.map_or(waiter.deadline, |e| e.min(waiter.deadline)));
                continue;
            }
            swept.expired += 1;
            swept.silent |= waiter.heard == read_count;
            let elapsed = now.saturating_duration_since(waiter.started);
            let limit = waiter.deadline.saturating_duration_since(waiter.started);
            if let Some(waker) = waiter.answer(Err(ErrorKind::Timeout { elapsed, limit })) {
                waker.wake();
            }
        }
        self.next_sweep = earliest.map(|at| at.max(now + SWEEP_GRANULARITY));
        swept
    }

    /// Fails every waiting call with `error`.
    pub(crate) fn fail_all(&mut self, error: &ErrorKind) {
        for waiter in self.waiters.values_mut() {
            if let Some(waker) = waiter.answer(Err(error.clone())) {
                waker.wake();
            }
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

    fn waiter(started: Instant, timeout: Duration, heard: u64) -> Waiter {
        Waiter::new(started, started + timeout, heard)
    }

    fn take(pending: &mut Pending, session: u32) -> Poll<Outcome> {
        pending.poll_answer(session, Waker::noop())
    }

    #[test]
    fn only_an_earlier_deadline_needs_the_sweeper() {
        let t0 = Instant::now();
        let mut pending = Pending::default();
        assert!(pending.insert(1, waiter(t0, Duration::from_secs(30), 0)));
        assert!(!pending.insert(2, waiter(t0, Duration::from_secs(31), 0)));
        assert!(pending.insert(3, waiter(t0, Duration::from_secs(1), 0)));
        assert_eq!(pending.next_sweep(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(pending.len(), 3);
    }

    #[test]
    fn an_answer_waits_in_its_slot_until_the_caller_takes_it() {
        let t0 = Instant::now();
        let mut pending = Pending::default();
        pending.insert(5, waiter(t0, Duration::from_secs(1), 0));
        assert!(take(&mut pending, 5).is_pending());
        let (waker, started) = pending
            .answer(5, Ok(Bytes::from_static(b"hi")))
            .expect("waits");
        assert!(waker.is_some(), "the caller left its waker");
        assert_eq!(started, t0);
        assert_eq!(pending.len(), 0, "answered calls no longer wait");
        // A second reply for the same session is not for anyone.
        assert!(pending.answer(5, Ok(Bytes::new())).is_none());
        assert!(matches!(take(&mut pending, 5), Poll::Ready(Ok(b)) if b == "hi"));
        assert!(
            pending.answer(5, Ok(Bytes::new())).is_none(),
            "the slot is gone"
        );
    }

    #[test]
    fn a_sweep_fails_exactly_the_calls_past_their_deadline() {
        let t0 = Instant::now();
        let mut pending = Pending::default();
        pending.insert(1, waiter(t0, Duration::from_millis(100), 7));
        pending.insert(2, waiter(t0, Duration::from_secs(10), 7));

        let at = t0 + Duration::from_millis(150);
        let swept = pending.sweep(at, 8);
        assert_eq!(
            swept,
            Swept {
                expired: 1,
                silent: false
            }
        );
        match take(&mut pending, 1) {
            Poll::Ready(Err(ErrorKind::Timeout { elapsed, limit })) => {
                assert_eq!(elapsed, Duration::from_millis(150));
                assert_eq!(limit, Duration::from_millis(100));
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(
            take(&mut pending, 2).is_pending(),
            "the later call still waits"
        );
        assert_eq!(pending.len(), 1);
        assert_eq!(pending.next_sweep(), Some(t0 + Duration::from_secs(10)));
        // A reply after the timeout finds the call answered already.
        pending.insert(3, waiter(t0, Duration::from_millis(1), 0));
        pending.sweep(t0 + Duration::from_millis(2), 0);
        assert!(pending.answer(3, Ok(Bytes::new())).is_none());
    }

    #[test]
    fn a_call_that_heard_nothing_is_silent() {
        let t0 = Instant::now();
        let mut pending = Pending::default();
        pending.insert(1, waiter(t0, Duration::from_millis(1), 3));
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
        pending.insert(1, waiter(t0, Duration::from_millis(1), 0));
        pending.insert(2, waiter(t0, Duration::from_millis(2), 0));
        pending.sweep(t0 + Duration::from_millis(1), 0);
        assert_eq!(
            pending.next_sweep(),
            Some(t0 + Duration::from_millis(1) + SWEEP_GRANULARITY)
        );
    }

    #[test]
    fn failing_all_answers_every_waiter_and_a_caller_that_gives_up_leaves_nothing() {
        let t0 = Instant::now();
        let mut pending = Pending::default();
        pending.insert(9, waiter(t0, Duration::from_secs(1), 0));
        pending.insert(10, waiter(t0, Duration::from_secs(1), 0));
        pending.fail_all(&ErrorKind::Shutdown);
        assert_eq!((pending.len(), pending.next_sweep()), (0, None));
        assert!(matches!(
            take(&mut pending, 9),
            Poll::Ready(Err(ErrorKind::Shutdown))
        ));
        pending.remove(10);
        assert!(pending.waiters.is_empty());
    }
}
