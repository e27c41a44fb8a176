//! What every runner's printout shares: the date, the machine, the load,
//! and how numbers are written.

use std::time::SystemTime;

use crate::procfs;

/// The heading line every runner prints above its tables: what, when
/// (UTC), on how many cores of which CPU, and the 1-minute load before and
/// after the run.
pub(crate) fn heading(what: &str, load: (Option<f64>, Option<f64>)) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let show_load = |l: Option<f64>| l.map_or("?".to_owned(), |l| format!("{l:.2}"));
    format!(
        "\n{what}, {} (UTC), {cores} cores, {}, 1-min load {} before, {} after\n\n",
        today(),
        procfs::cpu_model(),
        show_load(load.0),
        show_load(load.1),
    )
}

/// A rate with a k or M suffix.
pub(crate) fn si(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.3}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// Microseconds: one decimal below 100.
pub(crate) fn us(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// A ratio or small figure, two decimals; `–` when there is none.
pub(crate) fn show(r: Option<f64>) -> String {
    r.map_or("–".to_owned(), |r| format!("{r:.2}"))
}

/// `a / b`, when both are there and `b` is not zero.
pub(crate) fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// One target line: `- what: value (met)`, `(MISSED)` or `(not measured)`.
pub(crate) fn target(what: &str, value: Option<f64>, ok: impl Fn(f64) -> bool) -> String {
    let verdict = match value {
        Some(v) if ok(v) => "met",
        Some(_) => "MISSED",
        None => "not measured",
    };
    format!("- {what}: {} ({verdict})", show(value))
}

/// The `p`th percentile of sorted samples; 0 if there are none.
pub(crate) fn percentile(sorted: &[u32], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    u64::from(sorted[(sorted.len() * p / 100).min(sorted.len() - 1)])
}

/// Today's date, UTC, as `YYYY-MM-DD`.
pub(crate) fn today() -> String {
    let days = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to a date.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_come_out_as_the_calendar_says() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_000), (2024, 10, 4));
    }
}
