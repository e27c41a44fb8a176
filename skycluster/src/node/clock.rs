//! The clock a call's deadline is read from.
//!
//! Every call notes when it started, so that its timeout can fire. A
//! precise reading (`Instant::now()`) was about 3% of a small call's client
//! side. On Linux the kernel also keeps a coarse monotonic clock: the same
//! timeline, advanced once per scheduler tick, read without touching the
//! timer hardware. Deadlines are coarse anyway (the sweeper fails calls up
//! to [`SWEEP_GRANULARITY`](super::pending::SWEEP_GRANULARITY) late), so
//! calls read the coarse clock and push their deadline out by its
//! [`lag`] (two ticks): a call never times out early, and at most that
//! much later than before.
//!
//! Elsewhere, or where the coarse clock cannot be read, both functions
//! fall back to the precise clock and no lag.

use std::time::{Duration, Instant};

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
            elapsed: self.started.elapsed(),
            limit: self.limit,
        }
    }

    /// `started + limit`, plus the coarse clock's [`lag`] so that it never
    /// comes early; decades away if that overflows (a timeout of
    /// `Duration::MAX` means "wait as long as it takes").
    pub(crate) fn at(&self) -> Instant {
        const FAR: Duration = Duration::from_secs(60 * 60 * 24 * 365 * 30);
        self.limit
            .checked_add(lag())
            .and_then(|wait| self.started.checked_add(wait))
            .or_else(|| self.started.checked_add(FAR))
            .unwrap_or(self.started)
    }
}

/// Now, or up to [`lag`] earlier.
#[inline]
pub(crate) fn coarse_now() -> Instant {
    imp::coarse_now()
}

/// How far [`coarse_now`] may trail `Instant::now()`.
#[inline]
pub(crate) fn lag() -> Duration {
    imp::lag()
}

#[cfg(target_os = "linux")]
mod imp {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    use rustix::time::{clock_getres, clock_gettime, ClockId, Timespec};

    /// A lag outside this range means the coarse clock is not what we
    /// take it for: a tick is 1 to 10 ms on Linux.
    const PLAUSIBLE_LAG: std::ops::RangeInclusive<Duration> =
        Duration::from_micros(1)..=Duration::from_millis(20);

    /// Maps the coarse clock's readings onto `Instant`s.
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
    fn coarse() -> Option<&'static Coarse> {
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
    pub(super) fn coarse_now() -> Instant {
        let Some(coarse) = coarse() else {
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
        coarse().map_or(Duration::ZERO, |c| c.lag)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::time::{Duration, Instant};

    #[inline]
    pub(super) fn coarse_now() -> Instant {
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
        // A few ticks' worth of readings. It is never ahead; a tick the
        // kernel delays on a loaded machine may leave a rare reading
        // further behind, which only makes a deadline later.
        let end = Instant::now() + Duration::from_millis(50);
        let (mut readings, mut late) = (0u32, 0u32);
        while Instant::now() < end && readings < 1_000_000 {
            let before = Instant::now();
            let coarse = coarse_now();
            let after = Instant::now();
            assert!(coarse <= after, "coarse {coarse:?} is ahead of {after:?}");
            if before.saturating_duration_since(coarse) > lag() {
                late += 1;
            }
            readings += 1;
        }
        assert!(readings > 0);
        assert!(
            late <= readings / 100,
            "{late} of {readings} readings trail by more than {:?}",
            lag()
        );
    }

    #[test]
    fn a_deadline_is_never_early_and_keeps_its_limit() {
        let limit = Duration::from_millis(100);
        let before = Instant::now();
        let deadline = Deadline::starting_now(limit);
        assert_eq!(deadline.limit, limit);
        assert!(deadline.at() >= before + limit);
        assert!(deadline.at() <= Instant::now() + limit + lag());
        let forever = Deadline::starting_now(Duration::MAX);
        assert!(forever.at() > Instant::now() + Duration::from_secs(60 * 60 * 24 * 365));
    }
}
