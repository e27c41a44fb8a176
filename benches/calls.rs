//! The calling side of the many-process runners (`mesh`, `fanin`), in the
//! child: tasks that call paced or in a closed loop, a window the parent
//! opens and closes by command, and the [`Tally`] of it.
//!
//! The parent sends the child's commands as lines on its stdin
//! ([`commands`]); a child says `started` when its tasks run, counts the
//! calls that complete between `measure` and `stop`, and answers `stop`
//! with `result TALLY`.

use std::future::Future;
use std::io::BufRead;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::compare::say;
use crate::tally::Tally;
use crate::task::TaskResult;

/// How long the calls may take to end after `stop`: longer than a call's
/// default timeout (30 s), so a stuck call fails rather than hangs.
const JOIN_TIMEOUT: Duration = Duration::from_secs(40);
/// Per task, a call is never tried more often than this.
const MAX_OPS_PER_TASK: u64 = 100_000_000;
/// A task gives up after this many failed calls.
const MAX_ERRORS: u64 = 100;
/// Latency samples kept per process, over all its tasks (4 bytes each).
pub(crate) const LATENCY_SAMPLES: usize = 1 << 20;

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// The parent's lines, read on a plain thread so that the runtime's one
/// thread does nothing but the child's work. The process exits when stdin
/// closes: the parent is gone.
pub(crate) fn commands() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
        std::process::exit(0);
    });
    rx
}

/// The longest a child (a `mesh` node, a `fanin` server or client) lives,
/// whatever its parent does.
const LIFETIME: Duration = Duration::from_secs(30 * 60);

/// Runs `obey` on every command until `exit`, stdin closing or
/// [`LIFETIME`]; an error is said as `error ...`.
pub(crate) async fn serve_commands<S>(
    state: &mut S,
    mut obey: impl AsyncFnMut(&mut S, &str) -> Result<(), String>,
) -> Result<(), String> {
    let mut commands = commands();
    let lifetime = tokio::time::sleep(LIFETIME);
    tokio::pin!(lifetime);
    loop {
        let command = tokio::select! {
            command = commands.recv() => command,
            () = &mut lifetime => return Err(format!("not stopped within {LIFETIME:?}")),
        };
        match command.as_deref() {
            None | Some("exit") => return Ok(()),
            Some(command) => {
                if let Err(e) = obey(state, command).await {
                    say(&format!("error {e}"));
                }
            }
        }
    }
}

/// One call, made again and again by a task.
pub(crate) trait Caller: Send + Sync + 'static {
    /// Makes the `seq`th call and checks its reply.
    fn call(&self, seq: u64) -> impl Future<Output = Result<(), String>> + Send + '_;
}

/// Calls under way, and the window they are measured in.
#[derive(Debug)]
pub(crate) struct Running {
    phase: Arc<AtomicU8>,
    started: Instant,
    tasks: Vec<JoinHandle<TaskResult>>,
}

impl Default for Running {
    fn default() -> Running {
        Running {
            phase: Arc::new(AtomicU8::new(WARMUP)),
            started: Instant::now(),
            tasks: Vec::new(),
        }
    }
}

impl Running {
    /// Starts a task calling with `caller` every `period` from `offset`
    /// on; a tick missed while a call was slow is skipped, not made up.
    pub(crate) fn paced(
        &mut self,
        caller: impl Caller,
        period: Duration,
        offset: Duration,
        cap: usize,
    ) {
        let phase = Arc::clone(&self.phase);
        self.tasks.push(tokio::spawn(async move {
            let mut result = TaskResult::with_capacity(cap.min(4096));
            let start = tokio::time::Instant::now() + offset;
            let mut ticks = tokio::time::interval_at(start, period);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
            for seq in 0..MAX_OPS_PER_TASK {
                ticks.tick().await;
                if phase.load(Ordering::Relaxed) == STOP {
                    break;
                }
                if !call(&mut result, &caller, seq, &phase, cap).await {
                    break;
                }
            }
            result
        }));
    }

    /// Starts a task calling with `caller` in a loop, one call in flight.
    pub(crate) fn closed(&mut self, caller: impl Caller, cap: usize) {
        let phase = Arc::clone(&self.phase);
        self.tasks.push(tokio::spawn(async move {
            let mut result = TaskResult::with_capacity(cap.min(4096));
            for seq in 0..MAX_OPS_PER_TASK {
                if phase.load(Ordering::Relaxed) == STOP {
                    break;
                }
                if !call(&mut result, &caller, seq, &phase, cap).await {
                    break;
                }
            }
            result
        }));
    }

    /// Opens the measured window.
    pub(crate) fn measure(&mut self) {
        self.phase.store(MEASURE, Ordering::Relaxed);
        self.started = Instant::now();
    }

    /// Closes the window, waits for the calls to end, and adds them up.
    pub(crate) async fn stop(self) -> Result<Tally, String> {
        self.phase.store(STOP, Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64();
        let joined = tokio::time::timeout(JOIN_TIMEOUT, futures_util::future::join_all(self.tasks))
            .await
            .map_err(|_| format!("calls still running {JOIN_TIMEOUT:?} after stop"))?;
        let mut tally = Tally {
            secs,
            ..Tally::default()
        };
        for task in joined {
            let task = task.map_err(|e| format!("a task failed: {e}"))?;
            tally.calls += task.calls;
            tally.errors += task.errors;
            if tally.first_error.is_none() {
                tally.first_error = task.first_error;
            }
            for ns in task.latencies {
                tally.latency.record(u64::from(ns));
            }
        }
        Ok(tally)
    }
}

/// Makes one call into `result` and counts it if it completed in the
/// window; false once the task should give up.
async fn call(
    result: &mut TaskResult,
    caller: &impl Caller,
    seq: u64,
    phase: &AtomicU8,
    cap: usize,
) -> bool {
    let started = Instant::now();
    let outcome = caller.call(seq).await;
    let elapsed = started.elapsed();
    match outcome {
        Ok(()) if phase.load(Ordering::Relaxed) == MEASURE => result.measured(elapsed, cap),
        Ok(()) => {}
        Err(e) => result.failed(e),
    }
    result.errors < MAX_ERRORS
}
