//! One node of the mesh: a skycluster node with a typed `#[service]`,
//! its membership read from the shared clustername file, obeying the
//! parent's commands one line at a time.
//!
//! It listens on an ephemeral port of 127.0.0.1 and says where
//! (`listening ADDR`); once the parent has written every node's address
//! into the file, `reload` reads it. Then:
//!
//! * `mesh`: calls every peer once (each call makes this node's
//!   connection to that peer), says `meshed`;
//! * `status`: says `status SENDERS AGENTS`, its connected peers and the
//!   connections it serves;
//! * `paced RATE`: calls every peer RATE times a second, one task per peer;
//! * `closed K`: K tasks, each calling one peer in a loop, one call in
//!   flight each, spread over the peers;
//! * `measure`, then `stop`: the window; `stop` ends the calls and says
//!   `result TALLY`;
//! * `exit`, or stdin closing: the process ends.
//!
//! Anything that fails is said as `error ...`.

use std::io::BufRead;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use skycluster::Cluster;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::compare::{current_thread_runtime, say, Flags};
use crate::tally::Tally;

/// A node's service: a small typed call, each way.
#[skycluster::service]
pub(crate) trait Peer {
    /// Returns `seq`: the caller checks it came back.
    async fn ping(&self, from: u32, seq: u64) -> u64;
}

struct PeerService;

#[skycluster::async_trait]
impl Peer for PeerService {
    async fn ping(&self, _from: u32, seq: u64) -> u64 {
        seq
    }
}

/// The longest a node lives, whatever its parent does.
const NODE_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// How long `mesh` may take: every peer's first call.
const MESH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the calls may take to end after `stop`.
const JOIN_TIMEOUT: Duration = Duration::from_secs(40);
/// Per task, a call is never tried more often than this.
const MAX_OPS_PER_TASK: u64 = 100_000_000;
/// A task gives up after this many failed calls.
const MAX_ERRORS: u64 = 100;
/// Latency samples kept per node, over all its tasks (4 bytes each).
const LATENCY_SAMPLES: usize = 1 << 20;

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// `mesh-node --name NAME --config FILE`.
pub(crate) fn node_role(args: &[String]) -> Result<(), String> {
    let flags = Flags::new(args);
    let name: String = flags.required("--name")?;
    let config: String = flags.required("--config")?;
    let runtime = current_thread_runtime()?;
    runtime.block_on(async {
        let cluster = Cluster::load(&config).map_err(|e| e.to_string())?;
        cluster.set_name(&name).map_err(|e| e.to_string())?;
        let addr = cluster
            .listen("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let handle = cluster.spawn::<dyn Peer>(PeerService);
        cluster
            .register::<dyn Peer>(handle)
            .map_err(|e| e.to_string())?;
        say(&format!("listening {addr}"));
        let mut commands = control();
        let mut node = Node {
            cluster,
            name,
            running: None,
        };
        let lifetime = tokio::time::sleep(NODE_LIFETIME);
        tokio::pin!(lifetime);
        loop {
            let command = tokio::select! {
                command = commands.recv() => command,
                () = &mut lifetime => return Err(format!("not stopped within {NODE_LIFETIME:?}")),
            };
            let Some(command) = command else {
                return Ok(());
            };
            if command == "exit" {
                return Ok(());
            }
            if let Err(e) = node.obey(&command).await {
                say(&format!("error {e}"));
            }
        }
    })
}

/// The parent's lines, read on a plain thread so that the runtime's one
/// thread does nothing but the node's work. The process exits when stdin
/// closes: the parent is gone.
fn control() -> mpsc::UnboundedReceiver<String> {
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

struct Node {
    cluster: Cluster,
    name: String,
    running: Option<Running>,
}

/// Calls under way.
struct Running {
    phase: Arc<AtomicU8>,
    started: Instant,
    tasks: Vec<JoinHandle<TaskResult>>,
}

impl Node {
    async fn obey(&mut self, command: &str) -> Result<(), String> {
        let mut words = command.split_whitespace();
        let verb = words.next().unwrap_or_default();
        let arg = words.next().map(str::parse::<u64>).transpose();
        let arg = arg.map_err(|e| format!("`{command}`: {e}"))?;
        match (verb, arg) {
            ("reload", None) => {
                self.cluster.reload().map_err(|e| e.to_string())?;
                say("reloaded");
            }
            ("mesh", None) => {
                self.mesh().await?;
                say("meshed");
            }
            ("status", None) => {
                let status = self.cluster.status();
                let senders = status.nodes.iter().filter(|n| n.connected).count();
                let agents: usize = status.listeners.iter().map(|l| l.connections).sum();
                say(&format!("status {senders} {agents}"));
            }
            ("paced", Some(rate)) if (1..=10_000).contains(&rate) => {
                self.start(Load::Paced { per_sec: rate })?;
                say("started");
            }
            ("closed", Some(tasks)) if (1..=10_000).contains(&tasks) => {
                self.start(Load::Closed {
                    tasks: tasks as usize,
                })?;
                say("started");
            }
            ("measure", None) => {
                let running = self.running.as_mut().ok_or("nothing running")?;
                running.phase.store(MEASURE, Ordering::Relaxed);
                running.started = Instant::now();
            }
            ("stop", None) => {
                let running = self.running.take().ok_or("nothing running")?;
                let tally = stop(running).await?;
                say(&format!("result {}", tally.encode()));
            }
            _ => return Err(format!("unknown command `{command}`")),
        }
        Ok(())
    }

    /// Every other node in the config, by name, in order; and this node's
    /// place among all of them.
    fn peers(&self) -> (Vec<String>, usize) {
        let mut all: Vec<String> = self
            .cluster
            .status()
            .nodes
            .into_iter()
            .map(|n| n.name)
            .collect();
        all.sort();
        let me = all.iter().position(|n| *n == self.name).unwrap_or(0);
        all.retain(|n| *n != self.name);
        (all, me)
    }

    /// Calls every peer once, all at once.
    async fn mesh(&self) -> Result<(), String> {
        let (peers, me) = self.peers();
        let calls = peers.iter().map(|peer| async move {
            let client = self.cluster.proxy::<dyn Peer>(peer, "@Peer");
            match client.ping(me as u32, 0).await {
                Ok(0) => Ok(()),
                Ok(seq) => Err(format!("{peer} answered {seq} to 0")),
                Err(e) => Err(e.to_string()),
            }
        });
        let all = futures_util::future::join_all(calls);
        let replies = tokio::time::timeout(MESH_TIMEOUT, all)
            .await
            .map_err(|_| format!("the mesh took over {MESH_TIMEOUT:?}"))?;
        replies.into_iter().collect()
    }

    fn start(&mut self, load: Load) -> Result<(), String> {
        if self.running.is_some() {
            return Err("calls are already running".to_owned());
        }
        let (peers, me) = self.peers();
        if peers.is_empty() {
            return Err("no peers in the config".to_owned());
        }
        let phase = Arc::new(AtomicU8::new(WARMUP));
        let client = |peer: &str| self.cluster.proxy::<dyn Peer>(peer, "@Peer");
        let tasks = match load {
            Load::Paced { per_sec } => {
                let period = Duration::from_secs(1) / per_sec as u32;
                let cap = LATENCY_SAMPLES / peers.len();
                peers
                    .iter()
                    .enumerate()
                    .map(|(i, peer)| {
                        // Spread the pairs' ticks over the period, the same
                        // way on every run.
                        let spread = ((me * 7919 + i * 104_729) % 1000) as u32;
                        let offset = period * spread / 1000;
                        tokio::spawn(paced(
                            client(peer),
                            me as u32,
                            period,
                            offset,
                            Arc::clone(&phase),
                            cap,
                        ))
                    })
                    .collect()
            }
            Load::Closed { tasks } => {
                let cap = LATENCY_SAMPLES / tasks;
                (0..tasks)
                    .map(|t| {
                        let peer = &peers[(me + t) % peers.len()];
                        tokio::spawn(closed(client(peer), me as u32, Arc::clone(&phase), cap))
                    })
                    .collect()
            }
        };
        self.running = Some(Running {
            phase,
            started: Instant::now(),
            tasks,
        });
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
enum Load {
    /// One task per peer, calling it `per_sec` times a second.
    Paced { per_sec: u64 },
    /// `tasks` tasks calling in a loop.
    Closed { tasks: usize },
}

/// Ends the window, waits for the calls to end, and adds them up.
async fn stop(running: Running) -> Result<Tally, String> {
    running.phase.store(STOP, Ordering::Relaxed);
    let secs = running.started.elapsed().as_secs_f64();
    let joined = tokio::time::timeout(JOIN_TIMEOUT, futures_util::future::join_all(running.tasks))
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

/// What one task saw.
#[derive(Debug, Default)]
struct TaskResult {
    calls: u64,
    latencies: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

impl TaskResult {
    fn with_capacity(cap: usize) -> TaskResult {
        TaskResult {
            latencies: Vec::with_capacity(cap.min(4096)),
            ..TaskResult::default()
        }
    }

    /// One call's outcome; false once the task should give up.
    fn count(
        &mut self,
        outcome: Result<(), String>,
        elapsed: Duration,
        phase: u8,
        cap: usize,
    ) -> bool {
        match outcome {
            Ok(()) if phase == MEASURE => {
                self.calls += 1;
                if self.latencies.len() < cap {
                    self.latencies
                        .push(u32::try_from(elapsed.as_nanos()).unwrap_or(u32::MAX));
                }
            }
            Ok(()) => {}
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
        self.errors < MAX_ERRORS
    }
}

async fn ping(client: &PeerClient, me: u32, seq: u64) -> Result<(), String> {
    match client.ping(me, seq).await {
        Ok(back) if back == seq => Ok(()),
        Ok(back) => Err(format!("sent {seq}, got {back}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Calls one peer every `period`, from `offset` on; a tick missed while a
/// call was slow is skipped, not made up.
async fn paced(
    client: PeerClient,
    me: u32,
    period: Duration,
    offset: Duration,
    phase: Arc<AtomicU8>,
    cap: usize,
) -> TaskResult {
    let mut result = TaskResult::with_capacity(cap);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    for seq in 0..MAX_OPS_PER_TASK {
        ticks.tick().await;
        if phase.load(Ordering::Relaxed) == STOP {
            break;
        }
        let started = Instant::now();
        let outcome = ping(&client, me, seq).await;
        let now = phase.load(Ordering::Relaxed);
        if !result.count(outcome, started.elapsed(), now, cap) {
            break;
        }
    }
    result
}

/// Calls one peer in a loop, one call in flight.
async fn closed(client: PeerClient, me: u32, phase: Arc<AtomicU8>, cap: usize) -> TaskResult {
    let mut result = TaskResult::with_capacity(cap);
    for seq in 0..MAX_OPS_PER_TASK {
        if phase.load(Ordering::Relaxed) == STOP {
            break;
        }
        let started = Instant::now();
        let outcome = ping(&client, me, seq).await;
        let now = phase.load(Ordering::Relaxed);
        if !result.count(outcome, started.elapsed(), now, cap) {
            break;
        }
    }
    result
}
