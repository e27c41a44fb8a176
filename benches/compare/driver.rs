//! The client process: runs one workload through one shared client.
//!
//! Every task loops until the phase says stop; the controller warms up,
//! opens the measured window, closes it, and joins the tasks. Calls are
//! counted, and their latency kept, when they *complete* inside the
//! window, so the count is exact whatever the concurrency.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::task::JoinHandle;

use super::{payload, with_clients, BenchClient, Pushed, System, WithClient, Workload};
use crate::fields::{error_field, field};
use crate::report::percentile;
use crate::task::TaskResult;

/// Per task, a call or push is never tried more often than this.
const MAX_OPS_PER_TASK: u64 = 500_000_000;
/// Latency samples kept over all tasks (4 bytes each).
const LATENCY_SAMPLES: usize = 4 << 20;
/// A task gives up after this many failed calls.
const MAX_ERRORS: u64 = 100;
/// How long the first call may take: the connection is made then.
const FIRST_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the tasks may take to notice the window closed.
const JOIN_TIMEOUT: Duration = Duration::from_secs(20);
/// One-way pushes between two yields to the connection's task.
const PUSH_BATCH: u64 = 128;
/// Calls in flight when a system without one-way messages runs W3.
const UNIT_CALLS_IN_FLIGHT: usize = 256;

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// How long to warm up and how long to measure.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Running, not measured.
    pub warmup: Duration,
    /// The measured window.
    pub measure: Duration,
}

/// What a client measured in its window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Calls (or pushes queued) completed in the window.
    pub calls: u64,
    /// The window's length.
    pub secs: f64,
    /// Median call latency; 0 for one-way pushes.
    pub p50_ns: u64,
    /// 99th percentile call latency; 0 for one-way pushes.
    pub p99_ns: u64,
    /// Calls that failed, at any time.
    pub errors: u64,
    /// Why the first one failed.
    pub first_error: Option<String>,
}

impl Report {
    /// The report as one line of `key=value` fields.
    pub fn encode(&self) -> String {
        let error = error_field(self.first_error.as_deref());
        format!(
            "calls={} secs={} p50_ns={} p99_ns={} errors={}{error}",
            self.calls, self.secs, self.p50_ns, self.p99_ns, self.errors
        )
    }

    /// Reads what [`Report::encode`] wrote.
    ///
    /// # Errors
    ///
    /// A field missing or not a number.
    pub fn decode(line: &str) -> Result<Report, String> {
        let field = |key: &str| field(line, key);
        let num = |key: &str| {
            field(key)
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| format!("no {key} in `{line}`"))
        };
        Ok(Report {
            calls: num("calls")?,
            secs: field("secs")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("no secs in `{line}`"))?,
            p50_ns: num("p50_ns")?,
            p99_ns: num("p99_ns")?,
            errors: num("errors")?,
            first_error: field("error").map(str::to_owned),
        })
    }
}

#[derive(Debug)]
struct Phase(AtomicU8);

impl Phase {
    fn get(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, phase: u8) {
        self.0.store(phase, Ordering::Relaxed);
    }
}

/// Runs `workload` against `system`'s server at `addr`, over
/// `connections` connections. `say` tells the parent when the window
/// starts (`start`) and ends (`end`).
pub(crate) async fn drive(
    system: System,
    addr: SocketAddr,
    connections: usize,
    workload: Workload,
    timing: Timing,
    say: &dyn Fn(&str),
) -> Result<Report, String> {
    with_clients(
        system,
        addr,
        connections,
        Drive {
            workload,
            timing,
            say,
        },
    )
    .await?
}

struct Drive<'a> {
    workload: Workload,
    timing: Timing,
    say: &'a dyn Fn(&str),
}

impl WithClient for Drive<'_> {
    type Output = Result<Report, String>;

    async fn run<C: BenchClient>(self, client: C) -> Result<Report, String> {
        let Drive {
            workload,
            timing,
            say,
        } = self;
        let payload = payload(workload.size());
        // The first call makes the connection; none of it is timed.
        let first = tokio::time::timeout(FIRST_CALL_TIMEOUT, client.call(payload.clone()))
            .await
            .map_err(|_| format!("no reply to the first call within {FIRST_CALL_TIMEOUT:?}"))??;
        if first != payload {
            return Err("the first reply is not the payload sent".to_owned());
        }

        let phase = Arc::new(Phase(AtomicU8::new(WARMUP)));
        let spawn_calls = |n: usize, push: bool| -> Vec<JoinHandle<TaskResult>> {
            (0..n)
                .map(|_| {
                    let cap = if push { 0 } else { LATENCY_SAMPLES / n };
                    tokio::spawn(call_loop(
                        client.clone(),
                        payload.clone(),
                        Arc::clone(&phase),
                        push,
                        cap,
                    ))
                })
                .collect()
        };
        let tasks = match workload {
            Workload::Echo { conc, .. } => spawn_calls(conc, false),
            Workload::Push { .. } if C::ONE_WAY => vec![tokio::spawn(push_loop(
                client.clone(),
                payload.clone(),
                Arc::clone(&phase),
            ))],
            Workload::Push { .. } => spawn_calls(UNIT_CALLS_IN_FLIGHT, true),
        };

        tokio::time::sleep(timing.warmup).await;
        phase.set(MEASURE);
        let started = Instant::now();
        say("start");
        tokio::time::sleep(timing.measure).await;
        phase.set(STOP);
        let secs = started.elapsed().as_secs_f64();
        say("end");

        let joined = tokio::time::timeout(JOIN_TIMEOUT, futures_util::future::join_all(tasks))
            .await
            .map_err(|_| format!("tasks still running {JOIN_TIMEOUT:?} after the window"))?;
        let mut report = Report {
            secs,
            ..Report::default()
        };
        let mut latencies = Vec::new();
        for task in joined {
            let task = task.map_err(|e| format!("a task failed: {e}"))?;
            report.calls += task.calls;
            report.errors += task.errors;
            if report.first_error.is_none() {
                report.first_error = task.first_error;
            }
            latencies.extend(task.latencies);
        }
        latencies.sort_unstable();
        report.p50_ns = percentile(&latencies, 50);
        report.p99_ns = percentile(&latencies, 99);
        Ok(report)
    }
}

/// One call in flight at a time: echo (`push == false`) or a push that
/// waits for the server (`push == true`).
async fn call_loop<C: BenchClient>(
    client: C,
    payload: Bytes,
    phase: Arc<Phase>,
    push: bool,
    cap: usize,
) -> TaskResult {
    let mut result = TaskResult::with_capacity(cap);
    for _ in 0..MAX_OPS_PER_TASK {
        if phase.get() == STOP {
            break;
        }
        let started = Instant::now();
        let outcome = if push {
            client.push(payload.clone()).await.map(|_| ())
        } else {
            match client.call(payload.clone()).await {
                Ok(reply) if reply.len() == payload.len() => Ok(()),
                Ok(reply) => Err(format!(
                    "a {} byte reply to {} bytes",
                    reply.len(),
                    payload.len()
                )),
                Err(e) => Err(e),
            }
        };
        let elapsed = started.elapsed();
        if let Err(e) = outcome {
            result.failed(e);
            if result.errors >= MAX_ERRORS {
                break;
            }
            continue;
        }
        if phase.get() == MEASURE {
            result.measured(elapsed, cap);
        }
    }
    result
}

/// One-way pushes, as fast as the client's queue takes them; yields every
/// [`PUSH_BATCH`] so the connection's task can write, and waits a
/// millisecond when the queue is full.
async fn push_loop<C: BenchClient>(client: C, payload: Bytes, phase: Arc<Phase>) -> TaskResult {
    let mut result = TaskResult::default();
    for i in 0..MAX_OPS_PER_TASK {
        if i % PUSH_BATCH == 0 {
            if phase.get() == STOP {
                break;
            }
            tokio::task::yield_now().await;
        }
        match client.push(payload.clone()).await {
            Ok(Pushed::Queued) => {
                if phase.get() == MEASURE {
                    result.calls += 1;
                }
            }
            Ok(Pushed::Full) => tokio::time::sleep(Duration::from_millis(1)).await,
            Err(e) => {
                result.failed(e);
                if result.errors >= MAX_ERRORS {
                    break;
                }
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_survives_its_line() {
        let report = Report {
            calls: 12,
            secs: 0.5,
            p50_ns: 30_000,
            p99_ns: 90_000,
            errors: 1,
            first_error: Some("connection_refused".to_owned()),
        };
        assert_eq!(Report::decode(&report.encode()), Ok(report));
    }

    #[test]
    fn percentiles_index_the_sorted_samples() {
        let samples: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&samples, 50), 51);
        assert_eq!(percentile(&samples, 99), 100);
        assert_eq!(percentile(&[], 99), 0);
    }
}
