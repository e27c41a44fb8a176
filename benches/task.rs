//! What one calling task saw, shared by the comparison client
//! (`compare/driver.rs`) and the scale runners' callers (`calls.rs`).

use std::time::Duration;

/// One task's calls in the measured window, their latencies (as many as
/// it keeps), and its failures.
#[derive(Debug, Default)]
pub(crate) struct TaskResult {
    pub(crate) calls: u64,
    pub(crate) latencies: Vec<u32>,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
}

impl TaskResult {
    /// Room for `cap` latencies, made before the task starts calling.
    pub(crate) fn with_capacity(cap: usize) -> TaskResult {
        TaskResult {
            latencies: Vec::with_capacity(cap),
            ..TaskResult::default()
        }
    }

    /// Counts a call that completed in the measured window after
    /// `elapsed`, keeping its latency while fewer than `cap` are kept.
    pub(crate) fn measured(&mut self, elapsed: Duration, cap: usize) {
        self.calls += 1;
        if self.latencies.len() < cap {
            let ns = u32::try_from(elapsed.as_nanos()).unwrap_or(u32::MAX);
            self.latencies.push(ns);
        }
    }

    /// Counts a failed call, keeping the first error.
    pub(crate) fn failed(&mut self, error: String) {
        self.errors += 1;
        self.first_error.get_or_insert(error);
    }
}
