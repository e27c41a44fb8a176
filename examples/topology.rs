//! The seed's game-server topology: `game1` asks `battle1` for a room, and
//! `battle1` records it on `db`. It shows the three ways to find a service
//! on another node: `register` + `query`, a local name + `proxy`, and the
//! one-string form `"node.name"`.
//!
//! The three nodes share this process so the example runs by itself; the
//! `demo` binary runs the same topology as separate processes.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use skycluster::Cluster;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Room {
    pub id: u32,
    pub mode: String,
}

/// Persistence, on node `db`.
#[skycluster::service(name = "db")]
pub trait Db {
    /// Stores a room and returns how many rooms are stored.
    async fn save_room(&self, room: Room) -> u32;
}

/// Room management, on the battle nodes.
#[skycluster::service]
pub trait BattleMgr {
    async fn create_room(&self, mode: String) -> Result<Room, String>;
}

#[derive(Default)]
struct Store {
    rooms: AtomicU32,
}

#[skycluster::async_trait]
impl Db for Store {
    async fn save_room(&self, _room: Room) -> u32 {
        self.rooms.fetch_add(1, Ordering::Relaxed) + 1
    }
}

struct Battle {
    /// This node's handle on the cluster: a service calls other nodes
    /// through the same connections as everything else on its node.
    cluster: Cluster,
    next_id: AtomicU32,
}

#[skycluster::async_trait]
impl BattleMgr for Battle {
    async fn create_room(&self, mode: String) -> Result<Room, String> {
        if mode != "duel" && mode != "team" {
            return Err(format!("no such mode: {mode}"));
        }
        let room = Room {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            mode,
        };
        // Ask `db` which handle is registered as `@db` (Skynet's
        // `cluster.query`) and bind a typed client to that handle.
        let db = self
            .cluster
            .query::<dyn Db>("db")
            .await
            .map_err(|e| e.to_string())?;
        db.save_room(room.clone())
            .await
            .map_err(|e| e.to_string())?;
        Ok(room)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = examples::Scratch::new("topology")?;
    let config = scratch.clustername(&["game1", "battle1", "db"])?;

    // db: `cluster.register("db", handle)`, so any node can query it.
    let db = Cluster::load(&config)?;
    db.open("db").await?;
    let store = db.spawn::<dyn Db>(Store::default());
    db.register::<dyn Db>(store)?;

    // battle1: a node-local name, `.battle_mgr`, like `skynet.name`.
    // Other nodes reach it by naming both node and service.
    let battle1 = Cluster::load(&config)?;
    battle1.open("battle1").await?;
    let mgr = battle1.spawn::<dyn BattleMgr>(Battle {
        cluster: battle1.clone(),
        next_id: AtomicU32::new(0),
    });
    battle1.name(".battle_mgr", mgr)?;

    // game1: `cluster.proxy("battle1", ".battle_mgr")`, typed.
    let game1 = Cluster::load(&config)?;
    game1.open("game1").await?;
    let battle = game1.proxy::<dyn BattleMgr>("battle1", ".battle_mgr");
    let room = battle.create_room("duel".to_owned()).await??;
    println!("game1 -> battle1.battle_mgr: created room {room:?}");

    // The one-string form, as Skynet's `cluster.proxy("battle1.battle_mgr")`.
    // The service's own error comes back typed, in the inner Result.
    let same = game1.proxy_at::<dyn BattleMgr>("battle1.battle_mgr")?;
    let refused = same.create_room("chess".to_owned()).await?;
    println!("game1 -> battle1.battle_mgr: chess is refused: {refused:?}");
    assert!(refused.is_err());

    // game1 can query db too; battle1 saved one room there.
    let stored = game1.query::<dyn Db + 'static>("db").await?;
    let count = stored
        .save_room(Room {
            id: 0,
            mode: "lobby".to_owned(),
        })
        .await?;
    println!("game1 -> db (found by query): {count} rooms stored");
    assert_eq!(count, 2);

    for node in [game1, battle1, db] {
        node.shutdown(Duration::from_secs(1)).await;
    }
    Ok(())
}
