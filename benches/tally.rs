//! What a process of the many-process runners (`mesh`, `fanin`) reports
//! for one measured window: calls, errors and a latency histogram, on one
//! line, so that the parent can add up every process's and read
//! percentiles of all their calls together.

use std::fmt::Write;

use crate::fields::{error_field, field};

/// Sub-buckets per power of two: a value's bucket is its top five bits, so
/// a percentile read from it is within 1/16 (6%) of the value's own.
const SUB: u64 = 16;
/// Buckets for every `u64`.
const BUCKETS: usize = (SUB as usize) * 61;

/// Latencies in nanoseconds, counted in log-linear buckets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
        }
    }
}

impl Histogram {
    /// The bucket of `v`: `v` itself below [`SUB`], else 16 per power of
    /// two.
    fn bucket(v: u64) -> usize {
        if v < SUB {
            return v as usize;
        }
        let bits = 63 - u64::from(v.leading_zeros()); // >= 4
        let mantissa = (v >> (bits - 4)) & (SUB - 1);
        (SUB * (bits - 3) + mantissa) as usize
    }

    /// The smallest value in bucket `i`.
    fn low(i: usize) -> u64 {
        let i = i as u64;
        if i < SUB {
            return i;
        }
        let bits = i / SUB + 3;
        (SUB + i % SUB) << (bits - 4)
    }

    /// Counts one value.
    pub(crate) fn record(&mut self, v: u64) {
        self.counts[Self::bucket(v)] += 1;
    }

    /// Adds every count of `other`.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// Values counted.
    pub(crate) fn len(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The `p`th percentile, as the middle of its bucket; 0 if empty.
    pub(crate) fn percentile(&self, p: u64) -> u64 {
        let total = self.len();
        if total == 0 {
            return 0;
        }
        // The rank of the sample at p%, as `report::percentile` indexes.
        let rank = (total * p / 100).min(total - 1);
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen > rank {
                // Wrapping: the last bucket's end is 2^64, which wraps to 0.
                let low = Self::low(i);
                return low + Self::low(i + 1).wrapping_sub(low) / 2;
            }
        }
        0
    }

    /// `i:count` pairs of the buckets in use, or `-`.
    fn encode(&self) -> String {
        let mut out = String::new();
        for (i, &n) in self.counts.iter().enumerate().filter(|(_, &n)| n > 0) {
            let comma = if out.is_empty() { "" } else { "," };
            let _ = write!(out, "{comma}{i}:{n}");
        }
        if out.is_empty() {
            out.push('-');
        }
        out
    }

    fn decode(text: &str) -> Result<Histogram, String> {
        let mut h = Histogram::default();
        if text == "-" {
            return Ok(h);
        }
        for pair in text.split(',') {
            let parsed = pair
                .split_once(':')
                .and_then(|(i, n)| Some((i.parse::<usize>().ok()?, n.parse::<u64>().ok()?)));
            match parsed {
                Some((i, n)) if i < BUCKETS => h.counts[i] += n,
                _ => return Err(format!("bad histogram bucket `{pair}`")),
            }
        }
        Ok(h)
    }
}

/// One process's measured window.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Tally {
    /// Calls completed in the window.
    pub(crate) calls: u64,
    /// The window, as this process saw it.
    pub(crate) secs: f64,
    /// Calls that failed, at any time.
    pub(crate) errors: u64,
    /// Why the first one failed.
    pub(crate) first_error: Option<String>,
    /// Latencies of (up to a cap of) the calls in the window.
    pub(crate) latency: Histogram,
}

impl Tally {
    /// Adds `other`'s calls, errors and latencies; keeps the longer window.
    pub(crate) fn merge(&mut self, other: &Tally) {
        self.calls += other.calls;
        self.secs = self.secs.max(other.secs);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        self.latency.merge(&other.latency);
    }

    /// The tally as one line of `key=value` fields.
    pub(crate) fn encode(&self) -> String {
        let error = error_field(self.first_error.as_deref());
        format!(
            "calls={} secs={} errors={} hist={}{error}",
            self.calls,
            self.secs,
            self.errors,
            self.latency.encode()
        )
    }

    /// Reads what [`Tally::encode`] wrote.
    pub(crate) fn decode(line: &str) -> Result<Tally, String> {
        let field = |key: &str| field(line, key).ok_or_else(|| format!("no {key} in `{line}`"));
        let num = |key: &str| {
            field(key)?
                .parse::<u64>()
                .map_err(|e| format!("{key} in `{line}`: {e}"))
        };
        Ok(Tally {
            calls: num("calls")?,
            secs: field("secs")?
                .parse()
                .map_err(|e| format!("secs in `{line}`: {e}"))?,
            errors: num("errors")?,
            first_error: field("error").ok().map(str::to_owned),
            latency: Histogram::decode(field("hist")?)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_a_bucket_that_holds_it() {
        for v in (0..5000).chain([u64::MAX / 3, u64::MAX]) {
            let i = Histogram::bucket(v);
            assert!(i < BUCKETS, "{v}");
            assert!(Histogram::low(i) <= v, "{v}");
            if i + 1 < BUCKETS {
                assert!(v < Histogram::low(i + 1), "{v}");
            }
        }
    }

    #[test]
    fn percentiles_are_within_a_sixteenth() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.record(v * 1000);
        }
        for (p, exact) in [(50, 50_001_000.0), (99, 99_001_000.0)] {
            let got = h.percentile(p) as f64;
            assert!((got - exact).abs() / exact < 1.0 / 16.0, "p{p}: {got}");
        }
        assert_eq!(Histogram::default().percentile(99), 0);
    }

    #[test]
    fn a_tally_survives_its_line_and_merges() {
        let mut tally = Tally {
            calls: 12,
            secs: 0.5,
            ..Tally::default()
        };
        tally.latency.record(30_000);
        tally.latency.record(90_000);
        tally.errors = 1;
        tally.first_error = Some("connection refused".to_owned());
        let back = Tally::decode(&tally.encode()).expect("decodes");
        assert_eq!(back.calls, 12);
        assert_eq!(back.latency, tally.latency);
        assert_eq!(back.first_error.as_deref(), Some("connection_refused"));
        let mut sum = back.clone();
        sum.merge(&back);
        assert_eq!((sum.calls, sum.errors, sum.latency.len()), (24, 2, 4));
        let empty = Tally::decode(&Tally::default().encode()).expect("decodes");
        assert_eq!(empty.latency.len(), 0);
    }
}
