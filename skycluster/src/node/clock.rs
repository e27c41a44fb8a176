//! The clock the runtime reads time from: call deadlines, the deadline
//! sweep, connect back-off, liveness probes and round-trip times.
//!
//! It hands out [`tokio::time::Instant`]s, which tokio's timers
//! (`sleep_until`, `timeout_at`) take as they are. Where they are read
//! from depends on the build:
//!
//! - Normally, from the system's monotonic clock directly, converted with
//!   `Instant::from_std` (no runtime lookup). Every call notes when it
//!   started, so that its timeout can fire, and a precise reading
//!   (`std::time::Instant::now()`) was about 3% of a small call's client
//!   side. On Linux the kernel also keeps a coarse monotonic clock: the
//!   same timeline, advanced once per scheduler tick, read without
//!   touching the timer hardware. Deadlines are coarse anyway (the sweeper
//!   fails calls up to
//!   [`SWEEP_GRANULARITY`](super::pending::SWEEP_GRANULARITY) late), so
//!   calls read the coarse clock ([`coarse_now`]) and push their deadline
//!   out by its [`lag`] (two ticks): a call never times out early, and at
//!   most that much later than before. Elsewhere, or where the coarse
//!   clock cannot be read, the coarse reading is the precise one and there
//!   is no lag.
//! - With the `test-util` feature (and in this crate's unit tests), from
//!   tokio's clock: every reading is `tokio::time::Instant::now()` and
//!   there is no lag. A test on a paused clock (`tokio::time::pause`,
//!   `#[tokio::test(start_paused = true)]`) then sees calls time out,
//!   probes fail and back-offs end exactly when the virtual clock says,
//!   without waiting. Each reading looks the runtime's clock up, which
//!   costs a little per call: not for production builds.
//!
//! Read the system clock beside tokio's paused one and a deadline would
//! be on a different timeline from the timer waiting for it: so every time
//! the runtime reads comes from here, never from `std::time::Instant`.

use std::time::Duration;

pub(crate) use tokio::time::Instant;

/// When a call started and the timeout it was given: what its timeout
/// error reports, and where its deadline lies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    pub(crate) started: Instant,
    pub(crate) limit: Duration,
}

impl Deadline {
    /// A deadline `limit` from now, by the coarse clock.
    #[inline]
    pub(crate) fn starting_now(limit: Duration) -> Deadline {
        Deadline {
            started: coarse_now(),
            limit,
        }
    }

    /// The error of a call whose deadline this was, having passed.
    pub(crate) fn expired(&self) -> crate::ErrorKind {
        crate::ErrorKind::Timeout {
            elapsed: now().saturating_duration_since(self.started),
            limit: self.limit,
        }
    }

    /// `started + limit`, plus the coarse clock's [`lag`] so that it never
    /// comes early; decades away if that overflows (a timeout of
    /// `Duration::MAX` means "wait as long as it takes").
    pub(crate) fn at(&self) -> Instant {
        due(self.started, self.limit, lag())
    }
}

/// `started + limit + lag`, or decades after `started` if that overflows.
fn due(started: Instant, limit: Duration, lag: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(60 * 60 * 24 * 365 * 30);
    limit
        .checked_add(lag)
        .and_then(|wait| started.checked_add(wait))
        .or_else(|| started.checked_add(FAR))
        .unwrap_or(started)
}

/// Now, precisely: for what is timed (round trips, back-off, probes).
#[inline]
pub(crate) fn now() -> Instant {
    source::now()
}

/// Now, or up to [`lag`] earlier: for the start of every call.
#[inline]
pub(crate) fn coarse_now() -> Instant {
    source::coarse_now()
}

/// How far [`coarse_now`] may trail [`now`].
#[inline]
pub(crate) fn lag() -> Duration {
    source::lag()
}

#[cfg(not(any(test, feature = "test-util")))]
use system as source;
#[cfg(any(test, feature = "test-util"))]
use tokio_clock as source;

/// The system's clocks, read directly: a normal build's.
#[cfg_attr(all(feature = "test-util", not(test)), allow(dead_code))]
mod system {
    use super::{coarse, Duration, Instant};

    #[inline]
    pub(super) fn now() -> Instant {
        Instant::from_std(std::time::Instant::now())
    }

    #[inline]
    pub(super) fn coarse_now() -> Instant {
        Instant::from_std(coarse::now())
    }

    #[inline]
    pub(super) fn lag() -> Duration {
        coarse::lag()
    }
}

/// tokio's clock, which a test may pause: the `test-util` build's.
#[cfg(any(test, feature = "test-util"))]
mod tokio_clock {
    use super::{Duration, Instant};

    #[inline]
    pub(super) fn now() -> Instant {
        Instant::now()
    }

    #[inline]
    pub(super) fn coarse_now() -> Instant {
        Instant::now()
    }

    #[inline]
    pub(super) fn lag() -> Duration {
        Duration::ZERO
    }
}

#[cfg(target_os = "linux")]
#[cfg_attr(all(feature = "test-util", not(test)), allow(dead_code))]
mod coarse {
    //! The kernel's coarse monotonic clock, on std's timeline.

    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    use rustix::time::{clock_getres, clock_gettime, ClockId, Timespec};

    /// A lag outside this range means the coarse clock is not what we
    /// take it for: a tick is 1 to 10 ms on Linux.
    const PLAUSIBLE_LAG: std::ops::RangeInclusive<Duration> =
        Duration::from_micros(1)..=Duration::from_millis(20);

    /// Maps the coarse clock's readings onto std's `Instant`s.
    struct Coarse {
        /// `Instant::now()` taken together with `anchor_at`.
        anchor: Instant,
        /// The precise monotonic clock at `anchor`.
        anchor_at: Timespec,
        /// Twice the coarse clock's resolution: a reading is at most a
        /// tick old, and the tick's update itself takes a moment.
        lag: Duration,
    }

    const NANOS_PER_SEC: i64 = 1_000_000_000;

    /// `a - b`, if `a` is not earlier; no division or 128-bit arithmetic,
    /// as this runs on every call.
    #[inline]
    fn since(a: Timespec, b: Timespec) -> Option<Duration> {
        let (mut secs, mut nanos) = (a.tv_sec - b.tv_sec, a.tv_nsec - b.tv_nsec);
        if nanos < 0 {
            secs -= 1;
            nanos += NANOS_PER_SEC;
        }
        let secs = u64::try_from(secs).ok()?;
        let nanos = u32::try_from(nanos)
            .ok()
            .filter(|&n| i64::from(n) < NANOS_PER_SEC)?;
        Some(Duration::new(secs, nanos))
    }

    /// `None` when the coarse clock can't be trusted to be `Instant`'s
    /// timeline, a tick behind.
    fn mapping() -> Option<&'static Coarse> {
        static COARSE: OnceLock<Option<Coarse>> = OnceLock::new();
        COARSE
            .get_or_init(|| {
                let resolution = clock_getres(ClockId::MonotonicCoarse);
                let lag = since(resolution, Timespec::default())?.checked_mul(2)?;
                if !PLAUSIBLE_LAG.contains(&lag) {
                    return None;
                }
                // std's `Instant` reads CLOCK_MONOTONIC on Linux.
                let anchor = Instant::now();
                let anchor_at = clock_gettime(ClockId::Monotonic);
                Some(Coarse {
                    anchor,
                    anchor_at,
                    lag,
                })
            })
            .as_ref()
    }

    #[inline]
    pub(super) fn now() -> Instant {
        let Some(coarse) = mapping() else {
            return Instant::now();
        };
        match since(clock_gettime(ClockId::MonotonicCoarse), coarse.anchor_at) {
            Some(elapsed) => coarse
                .anchor
                .checked_add(elapsed)
                .unwrap_or_else(Instant::now),
            // Within a tick of the anchor, the coarse clock still reads
            // before it: the anchor is then no later than now, and at most
            // a tick earlier.
            None => coarse.anchor,
        }
    }

    #[inline]
    pub(super) fn lag() -> Duration {
        mapping().map_or(Duration::ZERO, |c| c.lag)
    }
}

#[cfg(not(target_os = "linux"))]
#[cfg_attr(all(feature = "test-util", not(test)), allow(dead_code))]
mod coarse {
    use std::time::{Duration, Instant};

    #[inline]
    pub(super) fn now() -> Instant {
        Instant::now()
    }

    #[inline]
    pub(super) fn lag() -> Duration {
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_clock_trails_the_precise_one_by_at_most_its_lag() {
        // The real clocks, whatever this build reads. A few ticks' worth
        // of readings. It is never ahead; a tick the kernel delays on a
        // loaded machine may leave a rare reading further behind, which
        // only makes a deadline later.
        let end = system::now() + Duration::from_millis(50);
        let (mut readings, mut late) = (0u32, 0u32);
        while system::now() < end && readings < 1_000_000 {
            let before = system::now();
            let coarse = system::coarse_now();
            let after = system::now();
            assert!(coarse <= after, "coarse {coarse:?} is ahead of {after:?}");
            if before.saturating_duration_since(coarse) > system::lag() {
                late += 1;
            }
            readings += 1;
        }
        assert!(readings > 0);
        assert!(
            late <= readings / 100,
            "{late} of {readings} readings trail by more than {:?}",
            system::lag()
        );
    }

    #[test]
    fn a_deadline_on_the_coarse_clock_is_never_early() {
        let limit = Duration::from_millis(100);
        let before = system::now();
        let at = due(system::coarse_now(), limit, system::lag());
        assert!(at >= before + limit);
        assert!(at <= system::now() + limit + system::lag());
    }

    #[test]
    fn a_deadline_of_duration_max_is_decades_away() {
        let forever = Deadline::starting_now(Duration::MAX);
        assert_eq!(forever.limit, Duration::MAX);
        assert!(forever.at() > now() + Duration::from_secs(60 * 60 * 24 * 365));
    }

    #[tokio::test(start_paused = true)]
    async fn on_a_paused_clock_a_deadline_comes_exactly_at_its_limit() {
        let limit = Duration::from_millis(100);
        let deadline = Deadline::starting_now(limit);
        assert_eq!(deadline.started, Instant::now(), "no lag on tokio's clock");
        assert_eq!(deadline.at(), deadline.started + limit);
        // A timer for the deadline fires there, and not a moment later.
        let waited = tokio::time::timeout_at(deadline.at(), std::future::pending::<()>()).await;
        assert!(waited.is_err());
        assert_eq!(Instant::now(), deadline.at());
        tokio::time::advance(Duration::from_millis(50)).await;
        match deadline.expired() {
            crate::ErrorKind::Timeout { elapsed, limit: l } => {
                assert_eq!((elapsed, l), (Duration::from_millis(150), limit));
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
}
