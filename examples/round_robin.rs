//! The seed's load balancing, without the loop: `cluster.pool` spreads
//! room creation over every node that serves `BattleMgr`, and a node that
//! goes down is skipped.
//!
//! The seed walks `battle1`, `battle2`, `battle3` in turn by hand and
//! moves on when one fails. A pool finds the nodes itself (here by asking
//! each node of the config whether it registered `BattleMgr`), sends each
//! call to the less busy of two picked at random, and sends a call that
//! could not reach its node to another one.

use std::collections::BTreeMap;
use std::time::Duration;

use skycluster::Cluster;

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

/// Creates `n` rooms through `battles` and counts them per node.
async fn create_rooms(
    battles: &BattleMgrClient,
    n: usize,
) -> Result<BTreeMap<String, usize>, skycluster::CallError> {
    let mut per_node = BTreeMap::new();
    for _ in 0..n {
        *per_node.entry(battles.create_room().await?).or_default() += 1;
    }
    Ok(per_node)
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
        // Registered (`@BattleMgr`): what a pool looks for.
        node.register::<dyn BattleMgr>(mgr)?;
        battles.push(node);
    }

    let game1 = Cluster::load(&config)?;
    game1.open("game1").await?;
    let pool = game1.pool::<dyn BattleMgr>();

    println!("all three up:  {:?}", create_rooms(&pool, 30).await?);
    println!(
        "serving:       {:?}",
        pool.endpoint().pool_nodes().unwrap_or_default()
    );

    // battle2 goes away: the calls that pick it go to another node.
    if let Some(battle2) = battles.get(1) {
        battle2.shutdown(Duration::from_secs(1)).await;
    }
    let per_node = create_rooms(&pool, 30).await?;
    println!("battle2 down:  {per_node:?}");
    assert!(!per_node.contains_key("battle2"));

    game1.shutdown(Duration::from_secs(1)).await;
    for node in battles {
        node.shutdown(Duration::from_secs(1)).await;
    }
    Ok(())
}
