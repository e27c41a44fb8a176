//! One node of the soak: a skycluster node that calls every peer in a
//! loop (mostly 16-byte echoes, now and then 100 KiB) and pushes a
//! numbered note to each after every call, counting how each call ended
//! and what arrived, and says its tally every half second.
//!
//! Commands, one a line: `reload` (reads the clustername file again, says
//! `reloaded`), `start` (the calls begin), `stop` (the calls end, says the
//! final `tally ...`), `exit` or stdin closing (the process ends).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use skycluster::{Cluster, ErrorKind};

use crate::calls::serve_commands;
use crate::compare::{current_thread_runtime, say, Flags};
use crate::procfs;

/// Each call's own timeout.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// How far past its timeout a call may end before it counts as hung.
pub(crate) const HANG_BOUND: Duration = Duration::from_secs(3);
/// How often a node says its tally.
const TALLY_EVERY: Duration = Duration::from_millis(500);
/// Calling tasks per peer.
const TASKS_PER_PEER: usize = 2;
/// One call in this many carries a large payload (sent in pieces).
const LARGE_EVERY: u64 = 20;
const LARGE: usize = 100 * 1024;

/// The soak's service.
#[skycluster::service]
pub(crate) trait Soak {
    /// Returns what it was given: the caller checks it is its own.
    async fn echo(&self, data: Bytes) -> Bytes;
    /// The `seq`th note from incarnation `incarnation` of node `from`.
    #[push]
    async fn note(&self, from: String, incarnation: u64, seq: u64);
}

/// What a node counts.
#[derive(Default)]
struct Counts {
    calls: AtomicU64,
    ok: AtomicU64,
    hung: AtomicU64,
    misdelivered: AtomicU64,
    pushes: AtomicU64,
    push_failed: AtomicU64,
    received: AtomicU64,
    duplicated: AtomicU64,
    lost: AtomicU64,
    /// Calls that ended in an error, by the error's kind.
    errors: Mutex<BTreeMap<String, u64>>,
    /// The last note's number from each sender's incarnation.
    last_note: Mutex<HashMap<(String, u64), u64>>,
}

impl Counts {
    fn line(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut line = format!(
            "tally calls={} ok={} hung={} misdelivered={} pushes={} push_failed={} received={} duplicated={} lost={} rss_kib={} fds={}",
            get(&self.calls),
            get(&self.ok),
            get(&self.hung),
            get(&self.misdelivered),
            get(&self.pushes),
            get(&self.push_failed),
            get(&self.received),
            get(&self.duplicated),
            get(&self.lost),
            procfs::rss_kib_of(std::process::id()).unwrap_or(0),
            open_fds(),
        );
        if let Ok(errors) = self.errors.lock() {
            for (kind, n) in errors.iter() {
                line += &format!(" err.{kind}={n}");
            }
        }
        line
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// An error kind's name: `Timeout`, `Connect`, ...
fn kind_name(kind: &ErrorKind) -> String {
    let debug = format!("{kind:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("Other")
        .to_owned()
}

struct Service(Arc<Counts>);

#[skycluster::async_trait]
impl Soak for Service {
    async fn echo(&self, data: Bytes) -> Bytes {
        data
    }

    async fn note(&self, from: String, incarnation: u64, seq: u64) {
        let counts = &self.0;
        counts.received.fetch_add(1, Ordering::Relaxed);
        let Ok(mut last) = counts.last_note.lock() else {
            return;
        };
        // The first note this node hears from a sender sets the count
        // going: notes before it went to an earlier incarnation of this
        // node, or arrived before this node was there.
        let last = last.entry((from, incarnation)).or_insert(seq - 1);
        if seq <= *last {
            counts.duplicated.fetch_add(1, Ordering::Relaxed);
        } else {
            counts.lost.fetch_add(seq - *last - 1, Ordering::Relaxed);
            *last = seq;
        }
    }
}

/// `soak-node --name NAME --config FILE --peers A,B,.. --incarnation K`.
pub(crate) fn node_role(args: &[String]) -> Result<(), String> {
    let flags = Flags::new(args);
    let name: String = flags.required("--name")?;
    let config: String = flags.required("--config")?;
    let peers: String = flags.required("--peers")?;
    let incarnation: u64 = flags.required("--incarnation")?;
    let peers: Vec<String> = peers
        .split(',')
        .filter(|p| !p.is_empty() && *p != name)
        .map(str::to_owned)
        .collect();
    let runtime = current_thread_runtime()?;
    runtime.block_on(async {
        let cluster = Cluster::load(&config).map_err(|e| e.to_string())?;
        cluster.set_name(&name).map_err(|e| e.to_string())?;
        let addr = cluster
            .listen("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let counts = Arc::new(Counts::default());
        let handle = cluster.spawn::<dyn Soak>(Service(Arc::clone(&counts)));
        cluster
            .register::<dyn Soak>(handle)
            .map_err(|e| e.to_string())?;
        say(&format!("listening {addr}"));
        let mut node = Node {
            cluster,
            name,
            incarnation,
            peers,
            counts,
            stop: Arc::new(AtomicBool::new(false)),
            tasks: Vec::new(),
        };
        serve_commands(&mut node, async |node, command| node.obey(command).await).await
    })
}

struct Node {
    cluster: Cluster,
    name: String,
    incarnation: u64,
    peers: Vec<String>,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Node {
    async fn obey(&mut self, command: &str) -> Result<(), String> {
        match command {
            "reload" => {
                self.cluster.reload().map_err(|e| e.to_string())?;
                say("reloaded");
            }
            "start" => self.start(),
            "stop" => {
                self.stop.store(true, Ordering::Relaxed);
                for task in self.tasks.drain(..) {
                    // Each ends within a call's timeout and the hang bound.
                    let _ = tokio::time::timeout(CALL_TIMEOUT + HANG_BOUND * 2, task).await;
                }
                say(&self.counts.line());
            }
            other => return Err(format!("unknown command `{other}`")),
        }
        Ok(())
    }

    fn start(&mut self) {
        let counts = Arc::clone(&self.counts);
        let stop = Arc::clone(&self.stop);
        self.tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                say(&counts.line());
                tokio::time::sleep(TALLY_EVERY).await;
            }
        }));
        for (p, peer) in self.peers.iter().enumerate() {
            // One numbering of notes per peer, shared by its tasks: a note
            // is numbered and queued under the lock, so numbers leave in
            // order.
            let notes = Arc::new(Mutex::new(0u64));
            for t in 0..TASKS_PER_PEER {
                let client = self
                    .cluster
                    .proxy::<dyn Soak>(peer, "@Soak")
                    .with_timeout(CALL_TIMEOUT);
                let caller = Caller {
                    client,
                    name: self.name.clone(),
                    incarnation: self.incarnation,
                    counts: Arc::clone(&self.counts),
                    stop: Arc::clone(&self.stop),
                    notes: Arc::clone(&notes),
                    seed: (p * TASKS_PER_PEER + t) as u64 + self.incarnation * 7919,
                };
                self.tasks.push(tokio::spawn(caller.run()));
            }
        }
    }
}

struct Caller {
    client: SoakClient,
    name: String,
    incarnation: u64,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    notes: Arc<Mutex<u64>>,
    seed: u64,
}

impl Caller {
    async fn run(self) {
        let counts = &self.counts;
        let mut seq = self.seed << 32;
        while !self.stop.load(Ordering::Relaxed) {
            seq += 1;
            let size = if seq % LARGE_EVERY == 0 { LARGE } else { 16 };
            // The call's number in its first bytes: a reply that is not
            // this call's shows.
            let mut data = vec![(seq % 251) as u8; size];
            data[..8].copy_from_slice(&seq.to_le_bytes());
            let data = Bytes::from(data);
            counts.calls.fetch_add(1, Ordering::Relaxed);
            let ended =
                tokio::time::timeout(CALL_TIMEOUT + HANG_BOUND, self.client.echo(data.clone()))
                    .await;
            let failed = match ended {
                Err(_) => {
                    counts.hung.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Ok(Ok(back)) if back == data => {
                    counts.ok.fetch_add(1, Ordering::Relaxed);
                    false
                }
                Ok(Ok(_)) => {
                    counts.misdelivered.fetch_add(1, Ordering::Relaxed);
                    false
                }
                Ok(Err(e)) => {
                    if let Ok(mut errors) = counts.errors.lock() {
                        *errors.entry(kind_name(e.kind())).or_insert(0) += 1;
                    }
                    true
                }
            };
            self.note();
            if failed {
                // A node down or backing off fails calls at once: pace
                // them instead of spinning.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    fn note(&self) {
        let Ok(mut next) = self.notes.lock() else {
            return;
        };
        let seq = *next + 1;
        match self.client.note(self.name.clone(), self.incarnation, seq) {
            Ok(()) => {
                *next = seq;
                self.counts.pushes.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.counts.push_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
