//! The timed windows of a scale runner (`mesh`, `fanin`): warm-up,
//! measured, and idle, in milliseconds, with one set of flags and one
//! check.

use crate::compare::Flags;

/// How long a run warms up, measures, and idles before memory is read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Windows {
    pub(crate) warmup_ms: u64,
    pub(crate) measure_ms: u64,
    pub(crate) idle_ms: u64,
}

/// The longest any window may be.
const MAX_MS: u64 = 60_000;

impl Windows {
    /// `--warmup-ms`, `--measure-ms` and `--idle-ms`, defaulting to short
    /// windows under `--smoke` and to 1 s, 3 s and 1 s otherwise; checked.
    pub(crate) fn parse(flags: &Flags<'_>, smoke: bool) -> Result<Windows, String> {
        let (warmup_ms, measure_ms, idle_ms) = if smoke {
            (100, 200, 100)
        } else {
            (1000, 3000, 1000)
        };
        let windows = Windows {
            warmup_ms: flags.parse("--warmup-ms")?.unwrap_or(warmup_ms),
            measure_ms: flags.parse("--measure-ms")?.unwrap_or(measure_ms),
            idle_ms: flags.parse("--idle-ms")?.unwrap_or(idle_ms),
        };
        windows.validate()?;
        Ok(windows)
    }

    /// A measured window of at least 1 ms; none longer than a minute.
    fn validate(&self) -> Result<(), String> {
        if self.measure_ms == 0
            || self.measure_ms > MAX_MS
            || self.warmup_ms > MAX_MS
            || self.idle_ms > MAX_MS
        {
            return Err(
                "--measure-ms must be 1 to 60000, --warmup-ms and --idle-ms at most 60000"
                    .to_owned(),
            );
        }
        Ok(())
    }
}
