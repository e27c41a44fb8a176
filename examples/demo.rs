//! The seed's topology as four real processes on 127.0.0.1:
//!
//! ```text
//!            query @game            pool of @BattleMgr
//!   demo  ─────────────►  game1  ───────────────►  battle1, battle2
//!                                                        │ query @db
//!                                                        ▼
//!                                                        db
//! ```
//!
//! ```sh
//! cargo run -p examples --bin demo
//! ```
//!
//! The demo writes a clustername file with free ports, starts `game1`,
//! `battle1`, `battle2` and `db` (this same binary, re-run with
//! `--node NAME --config FILE`), creates rooms through a pool over the
//! battle nodes (`cluster.pool::<dyn BattleMgr>()`, which finds who
//! serves `BattleMgr` and spreads the calls), kills `battle1` to show game1
//! failing over to `battle2`, restarts it to show it rejoining, and stops
//! every process it started.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use examples::{Node, Scratch};
use serde::{Deserialize, Serialize};
use skycluster::{Cluster, Config, Options};

/// How long any one step may take before the demo gives up.
const STEP: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Room {
    pub id: u32,
    pub host: String,
    /// The ticket game1 asked for it with: one room per ticket.
    pub ticket: u64,
}

/// On `db`, registered as `@db`.
#[skycluster::service(name = "db")]
pub trait Db {
    /// Records a room hosted by `host` for `ticket` and returns it with a
    /// fresh id; a ticket seen before gets its room back, so asking twice
    /// makes one room.
    async fn new_room(&self, ticket: u64, host: String) -> Room;
    async fn rooms(&self) -> Vec<Room>;
}

/// On each battle node, registered as `@BattleMgr`.
#[skycluster::service]
pub trait BattleMgr {
    /// Idempotent by its ticket (db keeps one room per ticket): a pool
    /// may run it again on the other node if a connection drops mid-call.
    #[idempotent]
    async fn create_room(&self, ticket: u64) -> Result<Room, String>;
}

/// On `game1`, registered as `@game`.
#[skycluster::service(name = "game")]
pub trait Game {
    async fn create_room(&self) -> Result<Room, String>;
}

// ---- the nodes ----

#[derive(Default)]
struct Rooms {
    next: AtomicU32,
    all: Mutex<Vec<Room>>,
}

#[skycluster::async_trait]
impl Db for Rooms {
    async fn new_room(&self, ticket: u64, host: String) -> Room {
        let Ok(mut all) = self.all.lock() else {
            return Room {
                id: 0,
                host,
                ticket,
            };
        };
        if let Some(room) = all.iter().find(|r| r.ticket == ticket) {
            return room.clone();
        }
        let room = Room {
            id: self.next.fetch_add(1, Ordering::Relaxed) + 1,
            host,
            ticket,
        };
        all.push(room.clone());
        room
    }

    async fn rooms(&self) -> Vec<Room> {
        self.all.lock().map(|all| all.clone()).unwrap_or_default()
    }
}

struct Battle {
    cluster: Cluster,
}

#[skycluster::async_trait]
impl BattleMgr for Battle {
    async fn create_room(&self, ticket: u64) -> Result<Room, String> {
        // Ask db for whatever handle it registered as `@db` (cluster.query),
        // so db's handles are nobody else's business.
        let db = self
            .cluster
            .query::<dyn Db>("db")
            .await
            .map_err(|e| e.to_string())?;
        let host = self.cluster.node_name().unwrap_or("?").to_owned();
        db.new_room(ticket, host).await.map_err(|e| e.to_string())
    }
}

struct Lobby {
    /// Every node that serves `BattleMgr`, one picked per call.
    battles: BattleMgrClient,
    next_ticket: AtomicU64,
}

#[skycluster::async_trait]
impl Game for Lobby {
    /// A room on whichever battle node the pool picks: a node that cannot
    /// be reached is skipped, so one crash costs no failed request.
    async fn create_room(&self) -> Result<Room, String> {
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        match self.battles.create_room(ticket).await {
            Ok(answer) => answer,
            Err(e) => Err(format!("no battle node took the room: {e}")),
        }
    }
}

/// One node process: `demo --node NAME --config FILE`.
#[skycluster::cluster_main(grace_ms = 2000)]
async fn run_node(cluster: Cluster) -> Result<(), skycluster::Error> {
    match cluster.node_name().unwrap_or_default() {
        "db" => {
            let db = cluster.spawn::<dyn Db>(Rooms::default());
            cluster.register::<dyn Db>(db)?;
        }
        "game1" => {
            let lobby = Lobby {
                battles: cluster
                    .pool::<dyn BattleMgr>()
                    .with_timeout(Duration::from_secs(2)),
                next_ticket: AtomicU64::new(1),
            };
            let game = cluster.spawn::<dyn Game>(lobby);
            cluster.register::<dyn Game>(game)?;
        }
        _ => {
            let battle = Battle {
                cluster: cluster.clone(),
            };
            let mgr = cluster.spawn::<dyn BattleMgr>(battle);
            cluster.register::<dyn BattleMgr>(mgr)?;
        }
    }
    println!("ready");
    // The demo holds our stdin: when it exits, even killed, we do too.
    let _ = examples::stdin_closed().await;
    Ok(())
}

// ---- the demo itself ----

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if examples::has_flag("--node") {
        return run_node().map_err(Into::into);
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(demo())
}

/// Starts node `name` from `config`, waiting for its `ready` line.
async fn start(name: &str, config: &Path) -> std::io::Result<Node> {
    let mut command = Command::new(std::env::current_exe()?);
    command.arg("--node").arg(name).arg("--config").arg(config);
    let name = name.to_owned();
    tokio::task::spawn_blocking(move || Node::start(&name, command, STEP)).await?
}

async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = Scratch::new("demo")?;
    let config: PathBuf = scratch.clustername(&["game1", "battle1", "battle2", "db"])?;
    println!("clustername: {}", config.display());

    let mut nodes = BTreeMap::new();
    for name in ["db", "battle1", "battle2", "game1"] {
        nodes.insert(name, start(name, &config).await?);
    }
    let pids: Vec<String> = nodes
        .values()
        .map(|n| format!("{} (pid {})", n.name(), n.id()))
        .collect();
    println!("started:  {}", pids.join(", "));

    // The demo is a node without a name: it can call, nobody calls it.
    let options = Options::default().with_call_timeout(Duration::from_secs(10));
    let cluster = Cluster::with_options(Config::load(&config)?, options);
    let game = cluster.query::<dyn Game>("game1").await?;
    let handle = game
        .endpoint()
        .address()
        .ok_or("the query gave no address")?;
    println!("query:    game1 has @game, handle {handle}");

    let create = || async {
        let room = game.create_room().await??;
        let line = format!("room {} -> {}", room.id, room.host);
        Ok::<_, Box<dyn std::error::Error>>((room.host, line))
    };

    let mut lines = Vec::new();
    for _ in 0..4 {
        lines.push(create().await?.1);
    }
    println!("pooled:   {}", lines.join(", "));

    if let Some(battle1) = nodes.get_mut("battle1") {
        battle1.kill();
    }
    println!("killed:   battle1 (SIGKILL)");
    for _ in 0..2 {
        let (_, line) = create().await?;
        println!("failover: {line}");
    }

    let battle1 = start("battle1", &config).await?;
    println!(
        "restarted: battle1 (pid {}) on the same address",
        battle1.id()
    );
    nodes.insert("battle1", battle1);
    // game1 reconnects on demand, after a short back-off from its failed
    // attempts: ask until battle1 gets a room again.
    let deadline = Instant::now() + STEP;
    let mut tries = 0;
    loop {
        tries += 1;
        let (host, line) = create().await?;
        if host == "battle1" {
            println!("rejoined: {line} (call {tries} after the restart)");
            break;
        }
        if Instant::now() > deadline {
            return Err("battle1 did not rejoin in time".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let db = cluster.query::<dyn Db>("db").await?;
    let mut per_host = BTreeMap::<String, usize>::new();
    for room in db.rooms().await? {
        *per_host.entry(room.host).or_default() += 1;
    }
    let counts: Vec<String> = per_host.iter().map(|(h, n)| format!("{h} {n}")).collect();
    println!("db:       rooms per node: {}", counts.join(", "));

    cluster.shutdown(Duration::from_secs(1)).await;
    let mut stopped = Vec::new();
    for (name, node) in nodes {
        let status = tokio::task::spawn_blocking(move || node.stop(STEP)).await??;
        if !status.success() {
            return Err(format!("{name} exited with {status}").into());
        }
        stopped.push(name);
    }
    println!("stopped:  {} (SIGTERM, all exited 0)", stopped.join(", "));
    Ok(())
}
