//! The seed's load balancing: rooms are created on `battle1`, `battle2`,
//! `battle3` in turn, and a node that fails is skipped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use skycluster::{CallError, Cluster};

#[skycluster::service]
pub trait BattleMgr {
    /// Creates a room and says which node hosts it.
    async fn create_room(&self) -> String;
}

struct Battle {
    node: String,
}

#[skycluster::async_trait]
impl BattleMgr for Battle {
    async fn create_room(&self) -> String {
        self.node.clone()
    }
}

/// `current_node = current_node % #battle_nodes + 1`, shared by every task
/// on the node: an atomic counter instead of a Lua upvalue.
struct RoundRobin {
    battles: Vec<BattleMgrClient>,
    next: AtomicUsize,
}

impl RoundRobin {
    /// Asks the next node in turn; if it fails, the one after it, and so
    /// on, each at most once.
    async fn create_room(&self) -> Result<String, CallError> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut last_error = None;
        for i in 0..self.battles.len() {
            let battle = &self.battles[(start + i) % self.battles.len()];
            match battle.create_room().await {
                Ok(host) => return Ok(host),
                Err(e) => {
                    println!("  {} failed: {}", e.node(), e.kind());
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.expect("at least one battle node"))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = examples::Scratch::new("round_robin")?;
    let names = ["battle1", "battle2", "battle3"];
    let config = scratch.clustername(&["game1", names[0], names[1], names[2]])?;

    let mut battles = Vec::new();
    for name in names {
        let node = Cluster::load(&config)?;
        node.open(name).await?;
        let mgr = node.spawn::<dyn BattleMgr>(Battle {
            node: name.to_owned(),
        });
        node.name(".battle_mgr", mgr)?;
        battles.push(node);
    }

    let game1 = Cluster::load(&config)?;
    game1.open("game1").await?;
    let picker = RoundRobin {
        battles: names
            .iter()
            .map(|name| game1.proxy::<dyn BattleMgr>(name, ".battle_mgr"))
            .collect(),
        next: AtomicUsize::new(0),
    };

    println!("all three up:");
    for _ in 0..6 {
        println!("  room on {}", picker.create_room().await?);
    }

    // battle2 goes away: its turn falls to the next node.
    if let Some(battle2) = battles.get(1) {
        battle2.shutdown(Duration::from_secs(1)).await;
    }
    println!("battle2 down:");
    let mut hosts = Vec::new();
    for _ in 0..4 {
        let host = picker.create_room().await?;
        println!("  room on {host}");
        hosts.push(host);
    }
    assert!(!hosts.iter().any(|h| h == "battle2"));

    game1.shutdown(Duration::from_secs(1)).await;
    for node in battles {
        node.shutdown(Duration::from_secs(1)).await;
    }
    Ok(())
}
