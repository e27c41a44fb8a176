//! The in-process harness behind `--bin allocs`: server and client on two
//! threads of one process, each with its own current-thread runtime, so a
//! per-thread allocation counter tells the two sides apart.
//!
//! The counter itself is the binary's business (it replaces the global
//! allocator); this module takes it as a function that runs a closure and
//! returns what the closure allocated on the calling thread.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;

use super::{
    current_thread_runtime, payload, serve, with_client, BenchClient, Pushed, System, WithClient,
    Workload, PUSHES,
};

/// Calls (or pushes) before counting starts.
const WARMUP_OPS: u64 = 5_000;
/// Calls (or pushes) counted.
const MEASURED_OPS: u64 = 50_000;
/// Fewer for large payloads.
const LARGE_OPS: (u64, u64) = (100, 500);
/// One-way pushes the client may be ahead of the server: beyond it the
/// pusher waits, so that its count is not of the queue-full path.
const PUSHES_AHEAD: u64 = 4096;
/// The longest any phase may take.
const PHASE_TIMEOUT: Duration = Duration::from_secs(60);

const WARM: u8 = 0;
const MEASURE: u8 = 1;
const MEASURED: u8 = 2;
const DONE: u8 = 3;

/// What one side allocated over the measured stretch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allocs {
    /// Allocations (reallocations included).
    pub count_total: u64,
    /// Bytes requested.
    pub bytes_total: u64,
}

/// Both sides' allocations over the same stretch of calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    /// Calls completed (W3: pushes queued) in the stretch.
    pub calls: u64,
    /// W3: messages the server counted in the stretch; else `calls`.
    pub served: u64,
    /// The client thread's allocations.
    pub client: Allocs,
    /// The server thread's allocations.
    pub server: Allocs,
}

/// Runs `f` and returns what it allocated on the calling thread.
pub type Measure = fn(&mut dyn FnMut()) -> Allocs;

/// Runs `workload` against `system` in this process and counts both
/// sides' allocations with `measure`.
///
/// # Errors
///
/// When the server or client cannot start, a call fails, or a phase
/// overruns its time.
pub fn count(system: System, workload: Workload, measure: Measure) -> Result<Counted, String> {
    let (phase_tx, phase_rx) = watch::channel(WARM);
    let (addr_tx, addr_rx) = mpsc::channel::<Result<SocketAddr, String>>();
    let server = std::thread::spawn(move || -> Result<Allocs, String> {
        let runtime = current_thread_runtime()?;
        let mut phase = phase_rx;
        let started = runtime.block_on(serve(system, "127.0.0.1:0"));
        let server = match started {
            Ok(server) => server,
            Err(e) => {
                let _ = addr_tx.send(Err(e.clone()));
                return Err(e);
            }
        };
        let _ = addr_tx.send(Ok(server.addr));
        runtime.block_on(reach(&mut phase, MEASURE))?;
        let mut reached = Ok(());
        let allocs = measure(&mut || reached = runtime.block_on(reach(&mut phase, MEASURED)));
        reached?;
        runtime.block_on(reach(&mut phase, DONE))?;
        drop(server);
        Ok(allocs)
    });

    let client_side = || -> Result<(u64, u64, Allocs), String> {
        let addr = addr_rx
            .recv_timeout(PHASE_TIMEOUT)
            .map_err(|_| "the server did not start".to_owned())??;
        let runtime = current_thread_runtime()?;
        let ops = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicU8::new(0));
        let tasks = runtime.block_on(with_client(
            system,
            addr,
            Spawn {
                workload,
                ops: Arc::clone(&ops),
                stop: Arc::clone(&stop),
            },
        ))??;
        let (warmup, measured) = match workload {
            Workload::Echo { size, .. } if size >= 1 << 16 => LARGE_OPS,
            _ => (WARMUP_OPS, MEASURED_OPS),
        };
        let done = |n: u64| {
            let ops = Arc::clone(&ops);
            move || ops.load(Ordering::Relaxed) >= n
        };
        let counted = || (ops.load(Ordering::Relaxed), PUSHES.load(Ordering::Relaxed));
        runtime.block_on(until(done(counted().0 + warmup)))?;
        let _ = phase_tx.send(MEASURE);
        let start = counted();
        let mut reached = Ok(());
        let allocs = measure(&mut || reached = runtime.block_on(until(done(start.0 + measured))));
        let end = counted();
        let _ = phase_tx.send(MEASURED);
        let calls = end.0 - start.0;
        let served = match workload {
            Workload::Push { .. } => end.1 - start.1,
            Workload::Echo { .. } => calls,
        };
        reached?;
        stop.store(1, Ordering::Relaxed);
        runtime
            .block_on(async {
                tokio::time::timeout(PHASE_TIMEOUT, futures_util::future::join_all(tasks)).await
            })
            .map_err(|_| "client tasks did not stop".to_owned())?;
        Ok((calls, served, allocs))
    };
    let client = client_side();
    let _ = phase_tx.send(DONE);
    let server = server
        .join()
        .map_err(|_| "the server thread panicked".to_owned())?;
    let (calls, served, client) = client?;
    Ok(Counted {
        calls,
        served,
        client,
        server: server?,
    })
}

/// Waits until the phase is at least `target`.
async fn reach(phase: &mut watch::Receiver<u8>, target: u8) -> Result<(), String> {
    tokio::time::timeout(PHASE_TIMEOUT, phase.wait_for(|p| *p >= target))
        .await
        .map_err(|_| format!("phase {target} not reached within {PHASE_TIMEOUT:?}"))?
        .map(|_| ())
        .map_err(|_| "the client went away".to_owned())
}

/// Lets the runtime run until `done()`, checking between scheduler ticks.
/// Yielding allocates nothing, unlike a timer-based poll might.
async fn until(done: impl Fn() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + PHASE_TIMEOUT;
    while !done() {
        if Instant::now() > deadline {
            return Err(format!("the calls did not finish within {PHASE_TIMEOUT:?}"));
        }
        tokio::task::yield_now().await;
    }
    Ok(())
}

/// Connects and spawns the workload's looping tasks on the runtime; they
/// run whenever it is driven.
struct Spawn {
    workload: Workload,
    ops: Arc<AtomicU64>,
    stop: Arc<AtomicU8>,
}

impl WithClient for Spawn {
    type Output = Result<Vec<tokio::task::JoinHandle<()>>, String>;

    async fn run<C: BenchClient>(self, client: C) -> Self::Output {
        let Spawn {
            workload,
            ops,
            stop,
        } = self;
        let (tasks, size, push) = match workload {
            Workload::Echo { conc, size } => (conc, size, false),
            Workload::Push { size } if C::ONE_WAY => (1, size, true),
            Workload::Push { size } => (256, size, true),
        };
        let payload = payload(size);
        let first = tokio::time::timeout(PHASE_TIMEOUT, client.call(payload.clone()))
            .await
            .map_err(|_| "no reply to the first call".to_owned())??;
        if first != payload {
            return Err("the first reply is not the payload sent".to_owned());
        }
        Ok((0..tasks)
            .map(|_| {
                let (client, payload) = (client.clone(), payload.clone());
                let (ops, stop) = (Arc::clone(&ops), Arc::clone(&stop));
                tokio::spawn(async move {
                    if push && C::ONE_WAY {
                        push_loop(&client, payload, &ops, &stop).await;
                    } else {
                        call_loop(&client, payload, push, &ops, &stop).await;
                    }
                })
            })
            .collect())
    }
}

/// The most a looping task does, whatever the flags say.
const MAX_OPS: u64 = 1 << 32;

async fn call_loop<C: BenchClient>(
    client: &C,
    payload: Bytes,
    push: bool,
    ops: &AtomicU64,
    stop: &AtomicU8,
) {
    for _ in 0..MAX_OPS {
        if stop.load(Ordering::Relaxed) != 0 {
            return;
        }
        let ok = if push {
            client.push(payload.clone()).await.is_ok()
        } else {
            client.call(payload.clone()).await.is_ok()
        };
        if !ok {
            return;
        }
        ops.fetch_add(1, Ordering::Relaxed);
    }
}

async fn push_loop<C: BenchClient>(client: &C, payload: Bytes, ops: &AtomicU64, stop: &AtomicU8) {
    for i in 0..MAX_OPS {
        if i % 128 == 0 {
            if stop.load(Ordering::Relaxed) != 0 {
                return;
            }
            tokio::task::yield_now().await;
        }
        let sent = ops.load(Ordering::Relaxed);
        if sent.saturating_sub(PUSHES.load(Ordering::Relaxed)) > PUSHES_AHEAD {
            tokio::task::yield_now().await;
            continue;
        }
        match client.push(payload.clone()).await {
            Ok(Pushed::Queued) => {
                ops.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Pushed::Full) => tokio::time::sleep(Duration::from_millis(1)).await,
            Err(_) => return,
        }
    }
}
