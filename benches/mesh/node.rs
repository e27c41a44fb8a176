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

use std::time::Duration;

use skycluster::Cluster;

use crate::calls::{serve_commands, Caller, Running, LATENCY_SAMPLES};
use crate::compare::{current_thread_runtime, say, Flags};

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

/// How long `mesh` may take: every peer's first call.
const MESH_TIMEOUT: Duration = Duration::from_secs(60);

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
        let mut node = Node {
            cluster,
            name,
            running: None,
        };
        serve_commands(&mut node, async |node, command| node.obey(command).await).await
    })
}

struct Node {
    cluster: Cluster,
    name: String,
    running: Option<Running>,
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
                self.running.as_mut().ok_or("nothing running")?.measure();
            }
            ("stop", None) => {
                let running = self.running.take().ok_or("nothing running")?;
                let tally = running.stop().await?;
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
        let me_u32 = me as u32;
        let caller = |peer: &str| Ping {
            client: self.cluster.proxy::<dyn Peer>(peer, "@Peer"),
            me: me_u32,
        };
        let mut running = Running::default();
        match load {
            Load::Paced { per_sec } => {
                let period = Duration::from_secs(1) / per_sec as u32;
                let cap = LATENCY_SAMPLES / peers.len();
                for (i, peer) in peers.iter().enumerate() {
                    // Spread the pairs' ticks over the period, the same
                    // way on every run.
                    let spread = ((me * 7919 + i * 104_729) % 1000) as u32;
                    running.paced(caller(peer), period, period * spread / 1000, cap);
                }
            }
            Load::Closed { tasks } => {
                let cap = LATENCY_SAMPLES / tasks;
                for t in 0..tasks {
                    running.closed(caller(&peers[(me + t) % peers.len()]), cap);
                }
            }
        }
        self.running = Some(running);
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

/// A call to one peer, checked.
struct Ping {
    client: PeerClient,
    me: u32,
}

impl Caller for Ping {
    async fn call(&self, seq: u64) -> Result<(), String> {
        match self.client.ping(self.me, seq).await {
            Ok(back) if back == seq => Ok(()),
            Ok(back) => Err(format!("sent {seq}, got {back}")),
            Err(e) => Err(e.to_string()),
        }
    }
}
