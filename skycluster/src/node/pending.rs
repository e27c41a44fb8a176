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
//! times out is failed at most [`SWEEP_GRANULARITY`] after its deadline
//! (which allows for the coarse clock's lag: see [`super::clock`]).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::task::{Poll, Waker};
use std::time::Duration;

use bytes::Bytes;

use super::clock::{self, Deadline, Instant};
use crate::handler::DEADLINE_PASSED;
use crate::ErrorKind;

/// What a call ends with.
pub(crate) type Outcome = Result<Bytes, ErrorKind>;

/// How late a timed-out call may be failed: the sweeper never wakes more
/// often than this, however many deadlines fall close together.
pub(crate) const SWEEP_GRANULARITY: Duration = Duration::from_millis(5);

/// One call waiting for its reply.
#[derive(Debug)]
pub(crate) struct Waiter {
    deadline: Deadline,
    /// Whether `deadline.started` was read from the precise clock, so
    /// that the call's round trip can be timed (see [`Waiter::time`]).
    timed: bool,
    /// The sender's read count when the call started: if it is unchanged
    /// when the call times out, the peer said nothing at all meanwhile.
    heard: u64,
    /// Whom to wake, then the answer.
    state: State,
}

/// Where a call stands. The waker and the answer are never wanted
/// together, so they share their room: a slot is smaller, and every call
/// moves it around.
#[derive(Debug)]
enum State {
    /// No answer yet: whom to wake when it comes (once the caller polled).
    Waiting(Option<Waker>),
    /// The answer, until the caller takes it.
    Answered(Outcome),
}

impl Waiter {
    /// A call started at `deadline.started`, when the sender had read
    /// `heard` times; `waker` (if any) is woken by its answer.
    pub(crate) fn new(deadline: Deadline, heard: u64, waker: Option<Waker>) -> Waiter {
        Waiter {
            deadline,
            timed: false,
            heard,
            state: State::Waiting(waker),
        }
    }

    /// The milliseconds left until the deadline, for the callee; `None`
    /// for a deadline too far off to say in a `u32` (49 days).
    pub(crate) fn millis_left(&self) -> Option<u32> {
        let spent = clock::coarse_now().saturating_duration_since(self.deadline.started);
        u32::try_from(self.deadline.limit.saturating_sub(spent).as_millis()).ok()
    }

    /// Restarts the call's clock from a precise reading, so that its
    /// answer can tell the round-trip time. The deadline only moves later.
    pub(crate) fn time(&mut self) {
        self.deadline.started = clock::now();
        self.timed = true;
    }

    /// Records the answer; returns whom to wake. A call answered already
    /// (a late reply after its timeout) keeps its first answer.
    fn answer(&mut self, outcome: Outcome) -> Option<Waker> {
        match &mut self.state {
            State::Answered(_) => None,
            State::Waiting(waker) => {
                let waker = waker.take();
                self.state = State::Answered(outcome);
                waker
            }
        }
    }

    fn waiting(&self) -> bool {
        matches!(self.state, State::Waiting(_))
    }

    /// The caller's side: takes the answer, or leaves `waker` to be woken
    /// when it comes.
    fn take_or_park(&mut self, waker: &Waker) -> Option<Outcome> {
        match std::mem::replace(&mut self.state, State::Waiting(None)) {
            State::Answered(outcome) => Some(outcome),
            State::Waiting(parked) => {
                let waker = match parked {
                    Some(parked) if parked.will_wake(waker) => parked,
                    _ => waker.clone(),
                };
                self.state = State::Waiting(Some(waker));
                None
            }
        }
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
///
/// The table is direct-mapped: session `s` waits in slot `s % slots.len()`.
/// Sessions are handed out in order, so the calls in flight at one time
/// are nearly always the latest few and land in slots of their own:
/// finding a call is a mask and a compare, with no hashing and no probing.
/// (A hash table here, with its inserts and tombstones, cost about a tenth
/// of a small call's client side.) The slots outnumber the waiters at
/// least twice over, so a slot is only ever wanted by a newer session when
/// its call has outlived that many newer ones; such a straggler moves to a
/// small hash table of its own.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// A power of two long, or empty.
    slots: Vec<Slot>,
    stragglers: HashMap<u32, Waiter, BuildHasherDefault<SessionHasher>>,
    /// Waiters held, in slots and stragglers, answered or not.
    held: usize,
    /// When the earliest deadline is due, or a little later; `None` when
    /// no call waits.
    next_sweep: Option<Instant>,
}

/// One slot of [`Pending`]: `session` is meaningful while `waiter` is set.
#[derive(Debug, Default)]
struct Slot {
    session: u32,
    waiter: Option<Waiter>,
}

/// Slots in a table that holds anything. Small, because every sender that
/// has made a call keeps this many, idle or not: at 4 they take about as
/// much memory as the smallest hash table did.
const MIN_SLOTS: usize = 4;

impl Pending {
    /// Records a waiter. Returns true when its deadline comes before the
    /// sweeper's next wake-up, so the sweeper must be told.
    pub(crate) fn insert(&mut self, session: u32, waiter: Waiter) -> bool {
        let deadline = waiter.deadline.at();
        if (self.held + 1) * 2 > self.slots.len() {
            self.resize((self.held + 1) * 2);
        }
        if self.place(session, waiter) {
            self.held += 1;
        }
        match self.next_sweep {
            Some(at) if at <= deadline => false,
            _ => {
                self.next_sweep = Some(deadline);
                true
            }
        }
    }

    /// Puts a waiter in its slot, moving an older one there to the
    /// stragglers. Returns false if it replaced a waiter of the same
    /// session (which sessions handed out in order never do).
    #[inline]
    fn place(&mut self, session: u32, waiter: Waiter) -> bool {
        let i = session as usize & (self.slots.len() - 1);
        let slot = &mut self.slots[i];
        let old = std::mem::replace(&mut slot.session, session);
        match slot.waiter.replace(waiter) {
            Some(_) if old == session => false,
            Some(older) => self.stragglers.insert(old, older).is_none(),
            None => true,
        }
    }

    /// Rebuilds the slots at least `want` long (a power of two, at least
    /// [`MIN_SLOTS`]), giving stragglers their slots back where they can.
    fn resize(&mut self, want: usize) {
        let len = want.max(MIN_SLOTS).next_power_of_two();
        let old = std::mem::replace(&mut self.slots, Vec::with_capacity(len));
        self.slots.resize_with(len, Slot::default);
        let stragglers = std::mem::take(&mut self.stragglers);
        let held = old
            .into_iter()
            .filter_map(|slot| Some((slot.session, slot.waiter?)))
            .chain(stragglers);
        for (session, waiter) in held {
            self.place(session, waiter);
        }
    }

    /// The slot that holds `session`, if one does.
    #[inline]
    fn slot_index(&self, session: u32) -> Option<usize> {
        // With no slots the mask is all ones and `get` finds nothing.
        let i = session as usize & self.slots.len().wrapping_sub(1);
        let slot = self.slots.get(i)?;
        (slot.session == session && slot.waiter.is_some()).then_some(i)
    }

    #[inline]
    fn waiter_mut(&mut self, session: u32) -> Option<&mut Waiter> {
        match self.slot_index(session) {
            Some(i) => self.slots[i].waiter.as_mut(),
            None if self.stragglers.is_empty() => None,
            None => self.stragglers.get_mut(&session),
        }
    }

    /// Hands `outcome` to the call waiting on `session`. Returns the
    /// caller's waker (if it has polled) and, if the call was
    /// [timed](Waiter::time), when it started; `None` if no call waits on
    /// it (never sent, given up, or answered already).
    #[inline]
    pub(crate) fn answer(
        &mut self,
        session: u32,
        outcome: Outcome,
    ) -> Option<(Option<Waker>, Option<Instant>)> {
        let waiter = self.waiter_mut(session).filter(|w| w.waiting())?;
        let started = waiter.timed.then_some(waiter.deadline.started);
        // A callee that dropped the work at the deadline this call gave
        // it: to the caller, the call timed out.
        let outcome = match outcome {
            Err(ErrorKind::Remote { text }) if *text == *DEADLINE_PASSED => {
                Err(waiter.deadline.expired())
            }
            outcome => outcome,
        };
        Some((waiter.answer(outcome), started))
    }

    /// The caller's side: takes the answer (removing the slot), or leaves
    /// `waker` to be woken when it comes.
    #[inline]
    pub(crate) fn poll_answer(&mut self, session: u32, waker: &Waker) -> Poll<Outcome> {
        // Only the caller removes its slot, so it is there; be safe anyway.
        let forgotten = || {
            Err(ErrorKind::Disconnected {
                reason: "the call was forgotten by its sender".into(),
            })
        };
        // One lookup: the slot (or straggler) is emptied where it is found.
        let outcome = match self.slot_index(session) {
            Some(i) => {
                let slot = &mut self.slots[i].waiter;
                let outcome = slot.as_mut().and_then(|w| w.take_or_park(waker));
                if outcome.is_some() {
                    *slot = None;
                }
                outcome
            }
            None => match self.stragglers.entry(session) {
                Entry::Occupied(mut entry) => {
                    let outcome = entry.get_mut().take_or_park(waker);
                    if outcome.is_some() {
                        entry.remove();
                    }
                    outcome
                }
                Entry::Vacant(_) => return Poll::Ready(forgotten()),
            },
        };
        match outcome {
            Some(outcome) => {
                self.held -= 1;
                Poll::Ready(outcome)
            }
            None => Poll::Pending,
        }
    }

    /// Forgets a call whose caller gave up.
    pub(crate) fn remove(&mut self, session: u32) {
        let removed = match self.slot_index(session) {
            Some(i) => self.slots[i].waiter.take().is_some(),
            None => self.stragglers.remove(&session).is_some(),
        };
        if removed {
            self.held -= 1;
        }
    }

    fn waiters_mut(&mut self) -> impl Iterator<Item = &mut Waiter> {
        self.slots
            .iter_mut()
            .filter_map(|slot| slot.waiter.as_mut())
            .chain(self.stragglers.values_mut())
    }

    /// Calls still waiting for an answer.
    pub(crate) fn len(&self) -> usize {
        let slots = self.slots.iter().filter_map(|slot| slot.waiter.as_ref());
        slots
            .chain(self.stragglers.values())
            .filter(|w| w.waiting())
            .count()
    }

    /// When the sweeper should next run, if any call waits.
    pub(crate) fn next_sweep(&self) -> Option<Instant> {
        self.next_sweep
    }

    /// Fails every waiting call whose deadline is `now` or earlier, and
    /// works out the next sweep. `read_count` is the connection's count of
    /// reads so far, to tell calls that waited in silence. A table left
    /// mostly empty by a burst of calls shrinks here.
    pub(crate) fn sweep(&mut self, now: Instant, read_count: u64) -> Swept {
        let mut swept = Swept::default();
        let mut earliest: Option<Instant> = None;
        for waiter in self.waiters_mut().filter(|w| w.waiting()) {
            let deadline = waiter.deadline.at();
            if deadline > now {
                earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
                continue;
            }
            swept.expired += 1;
            swept.silent |= waiter.heard == read_count;
            let elapsed = now.saturating_duration_since(waiter.deadline.started);
            let limit = waiter.deadline.limit;
            if let Some(waker) = waiter.answer(Err(ErrorKind::Timeout { elapsed, limit })) {
                waker.wake();
            }
        }
        self.next_sweep = earliest.map(|at| at.max(now + SWEEP_GRANULARITY));
        if self.slots.len() > MIN_SLOTS && self.held * 8 < self.slots.len() {
            self.resize(self.held * 2);
        }
        swept
    }

    /// Answers every waiting call with `error`.
    pub(crate) fn fail_all(&mut self, error: &ErrorKind) {
        for waiter in self.waiters_mut() {
            if let Some(waker) = waiter.answer(Err(error.clone())) {
                waker.wake();
            }
        }
        self.next_sweep = None;
    }
}

/// Hashes a session for the stragglers' table: the table is keyed by
/// numbers we hand out ourselves, so it needs no defence against chosen
/// keys, just a spread of the bits.
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

    fn waiter(started: Instant, limit: Duration, heard: u64) -> Waiter {
        Waiter::new(Deadline { started, limit }, heard, None)
    }

    /// When a call started at `t0` with `limit` is due: a coarse clock's
    /// lag later.
    fn due(t0: Instant, limit: Duration) -> Instant {
        t0 + limit + clock::lag()
    }

    fn take(pending: &mut Pending, session: u32) -> Poll<Outcome> {
        pending.poll_answer(session, Waker::noop())
    }

    /// The reply taken for `session`, if one was there.
    fn reply(pending: &mut Pending, session: u32) -> Option<Bytes> {
        match take(pending, session) {
            Poll::Ready(Ok(reply)) => Some(reply),
            Poll::Ready(Err(e)) => panic!("session {session} failed: {e}"),
            Poll::Pending => None,
        }
    }

    #[test]
    fn only_an_earlier_deadline_needs_the_sweeper() {
        let t0 = clock::now();
        let mut pending = Pending::default();
        assert!(pending.insert(1, waiter(t0, Duration::from_secs(30), 0)));
        assert!(!pending.insert(2, waiter(t0, Duration::from_secs(31), 0)));
        assert!(pending.insert(3, waiter(t0, Duration::from_secs(1), 0)));
        assert_eq!(pending.next_sweep(), Some(due(t0, Duration::from_secs(1))));
        assert_eq!(pending.len(), 3);
    }

    #[test]
    fn an_answer_waits_in_its_slot_until_the_caller_takes_it() {
        let t0 = clock::now();
        let mut pending = Pending::default();
        pending.insert(5, waiter(t0, Duration::from_secs(1), 0));
        assert!(take(&mut pending, 5).is_pending());
        let (waker, started) = pending
            .answer(5, Ok(Bytes::from_static(b"hi")))
            .expect("waits");
        assert!(waker.is_some(), "the caller left its waker");
        assert_eq!(started, None, "an untimed call has no round trip");
        assert_eq!(pending.len(), 0, "answered calls no longer wait");
        // A second reply for the same session is not for anyone.
        assert!(pending.answer(5, Ok(Bytes::new())).is_none());
        assert!(matches!(take(&mut pending, 5), Poll::Ready(Ok(b)) if b == "hi"));
        assert!(
            pending.answer(5, Ok(Bytes::new())).is_none(),
            "the slot is gone"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_timed_call_tells_when_it_started_by_the_precise_clock() {
        let t0 = clock::coarse_now();
        let mut pending = Pending::default();
        let mut timed = waiter(t0, Duration::from_secs(1), 0);
        tokio::time::advance(Duration::from_millis(7)).await;
        timed.time();
        pending.insert(1, timed);
        let (_, started) = pending.answer(1, Ok(Bytes::new())).expect("waits");
        assert_eq!(started, Some(t0 + Duration::from_millis(7)));
    }

    #[test]
    fn a_sweep_fails_exactly_the_calls_past_their_deadline() {
        let t0 = clock::now();
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
        assert_eq!(pending.next_sweep(), Some(due(t0, Duration::from_secs(10))));
        // A reply after the timeout finds the call answered already.
        pending.insert(3, waiter(t0, Duration::from_millis(1), 0));
        pending.sweep(due(t0, Duration::from_millis(1)), 0);
        assert!(pending.answer(3, Ok(Bytes::new())).is_none());
    }

    #[test]
    fn a_call_that_heard_nothing_is_silent() {
        let t0 = clock::now();
        let mut pending = Pending::default();
        pending.insert(1, waiter(t0, Duration::from_millis(1), 3));
        let swept = pending.sweep(due(t0, Duration::from_millis(2)), 3);
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
        let t0 = clock::now();
        let mut pending = Pending::default();
        pending.insert(1, waiter(t0, Duration::from_millis(1), 0));
        pending.insert(2, waiter(t0, Duration::from_millis(2), 0));
        let first = due(t0, Duration::from_millis(1));
        pending.sweep(first, 0);
        assert_eq!(pending.next_sweep(), Some(first + SWEEP_GRANULARITY));
    }

    #[test]
    fn failing_all_answers_every_waiter_and_a_caller_that_gives_up_leaves_nothing() {
        let t0 = clock::now();
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
        assert_eq!(pending.held, 0);
    }

    #[test]
    fn a_call_outliving_many_newer_ones_keeps_its_place_in_line() {
        let t0 = clock::now();
        let mut pending = Pending::default();
        pending.insert(1, waiter(t0, Duration::from_secs(1), 0));
        // Ten thousand later calls come and go while session 1 waits; some
        // of them want its slot.
        for session in 2..10_002 {
            pending.insert(session, waiter(t0, Duration::from_secs(1), 0));
            assert!(pending.answer(session, Ok(Bytes::new())).is_some());
            assert!(take(&mut pending, session).is_ready());
        }
        assert_eq!(pending.len(), 1);
        assert!(pending.stragglers.contains_key(&1));
        let late = Bytes::from_static(b"late");
        assert!(pending.answer(1, Ok(late.clone())).is_some());
        assert_eq!(reply(&mut pending, 1), Some(late));
        assert_eq!((pending.len(), pending.held), (0, 0));
    }

    #[test]
    fn sessions_that_wrap_around_stay_apart() {
        let t0 = clock::now();
        let mut pending = Pending::default();
        for session in [0x7fff_fffe, 0x7fff_ffff, 1, 2] {
            pending.insert(session, waiter(t0, Duration::from_secs(1), 0));
        }
        for session in [2, 0x7fff_ffff, 1, 0x7fff_fffe] {
            let sent = Bytes::from(session.to_string());
            assert!(pending.answer(session, Ok(sent.clone())).is_some());
            assert_eq!(reply(&mut pending, session), Some(sent));
        }
        assert_eq!(pending.held, 0);
    }

    #[test]
    fn the_table_grows_with_a_burst_and_shrinks_after_it() {
        let t0 = clock::now();
        let mut pending = Pending::default();
        for session in 1..=5000 {
            pending.insert(session, waiter(t0, Duration::from_secs(1), 0));
        }
        assert!(pending.slots.len() >= 10_000);
        assert!(
            pending.stragglers.is_empty(),
            "in-order sessions never collide"
        );
        // Answered out of order, every reply reaches its own call.
        for session in (1..=5000).rev().step_by(2).chain((1..=5000).step_by(2)) {
            pending.answer(session, Ok(Bytes::from(session.to_string())));
        }
        for session in 1..=4990 {
            let expect = Bytes::from(session.to_string());
            assert_eq!(reply(&mut pending, session), Some(expect));
        }
        pending.sweep(t0, 0);
        assert_eq!(pending.slots.len(), 32, "ten calls held, twice over");
        for session in 4991..=5000 {
            assert!(take(&mut pending, session).is_ready(), "{session} kept");
        }
    }

    proptest::proptest! {
        /// Against a plain map of the same calls, whatever the order of
        /// inserts, answers, takes and give-ups.
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec((0u8..4, 0usize..64), 1..400)) {
            let t0 = clock::now();
            let mut pending = Pending::default();
            let mut model: HashMap<u32, Option<Bytes>> = HashMap::new();
            let mut next = 1u32;
            for (op, pick) in ops {
                let mut live: Vec<u32> = model.keys().copied().collect();
                live.sort_unstable();
                let target = live.get(pick % live.len().max(1)).copied();
                match (op, target) {
                    (0, _) | (_, None) => {
                        pending.insert(next, waiter(t0, Duration::from_secs(1), 0));
                        model.insert(next, None);
                        // Long jumps in session make slots collide.
                        next += 1 + (pick as u32 % 3) * 61;
                    }
                    (1, Some(s)) => {
                        let sent = Bytes::from(s.to_string());
                        let first = model.get(&s) == Some(&None);
                        proptest::prop_assert_eq!(pending.answer(s, Ok(sent.clone())).is_some(), first);
                        model.entry(s).or_default().get_or_insert(sent);
                    }
                    (2, Some(s)) => {
                        let got = reply(&mut pending, s);
                        proptest::prop_assert_eq!(&got, &model[&s]);
                        if got.is_some() {
                            model.remove(&s);
                        }
                    }
                    (_, Some(s)) => {
                        pending.remove(s);
                        model.remove(&s);
                    }
                }
                proptest::prop_assert_eq!(pending.held, model.len());
                let waiting = model.values().filter(|r| r.is_none()).count();
                proptest::prop_assert_eq!(pending.len(), waiting);
            }
        }
    }
}
