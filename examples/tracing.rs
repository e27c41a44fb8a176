//! One request, one trace, across three nodes: `game1` asks `battle1` to
//! create a room with a trace tag, and `battle1`'s handler records it on
//! `db`. Each handler runs in a `traced` span whose `trace` field is the
//! tag, and `battle1`'s call to `db` carries the tag on without being
//! told. A small `tracing-subscriber` layer collects those spans and
//! prints the trace as a tree.
//!
//! A Lua Skynet node in the chain logs the same tag, as it logs
//! `skynet.trace()` tags of its own.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use skycluster::wire::TraceTag;
use skycluster::Cluster;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::Registry;

#[skycluster::service(name = "db")]
pub trait Db {
    async fn save_room(&self, id: u32) -> u32;
}

#[skycluster::service]
pub trait BattleMgr {
    async fn create_room(&self, mode: String) -> Result<u32, String>;
}

struct Store;

#[skycluster::async_trait]
impl Db for Store {
    async fn save_room(&self, id: u32) -> u32 {
        tracing::info!(id, "saved");
        1
    }
}

struct Battle(Cluster);

#[skycluster::async_trait]
impl BattleMgr for Battle {
    async fn create_room(&self, mode: String) -> Result<u32, String> {
        tracing::info!(%mode, "creating");
        // No tag given here: the call carries the one this request came with.
        let db = self.0.proxy::<dyn Db>("db", "@db");
        db.save_room(7).await.map_err(|e| e.to_string())?;
        Ok(7)
    }
}

/// One `traced` span: which node ran it, for whom, with which tag.
#[derive(Debug, Default)]
struct Hop {
    trace: String,
    node: String,
    peer: String,
}

impl Visit for Hop {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        let value = format!("{value:?}");
        match field.name() {
            "trace" => self.trace = value,
            "node" => self.node = value,
            "peer" => self.peer = value,
            _ => {}
        }
    }
}

/// Collects the `traced` spans, in the order they opened, by tag.
#[derive(Clone, Default)]
struct Traces(Arc<Mutex<BTreeMap<String, Vec<Hop>>>>);

impl<S: tracing::Subscriber> Layer<S> for Traces {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        if attrs.metadata().name() != "traced" {
            return;
        }
        let mut hop = Hop::default();
        attrs.record(&mut hop);
        if let Ok(mut traces) = self.0.lock() {
            traces.entry(hop.trace.clone()).or_default().push(hop);
        }
    }
}

impl Traces {
    /// Each trace as a tree: the caller, then each hop under the one
    /// before it.
    fn print(&self, caller: &str) {
        let Ok(traces) = self.0.lock() else { return };
        for (trace, hops) in traces.iter() {
            println!("trace {trace}");
            println!("{caller}");
            for (depth, hop) in hops.iter().enumerate() {
                println!(
                    "{}└─ {} (called from {})",
                    "   ".repeat(depth),
                    hop.node,
                    hop.peer
                );
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let traces = Traces::default();
    tracing::subscriber::set_global_default(Registry::default().with(traces.clone()))?;

    let scratch = examples::Scratch::new("tracing")?;
    let config = scratch.clustername(&["game1", "battle1", "db"])?;
    let db = Cluster::load(&config)?;
    db.open("db").await?;
    let store = db.spawn::<dyn Db>(Store);
    db.register::<dyn Db>(store)?;
    let battle1 = Cluster::load(&config)?;
    battle1.open("battle1").await?;
    let mgr = battle1.spawn::<dyn BattleMgr>(Battle(battle1.clone()));
    battle1.register::<dyn BattleMgr>(mgr)?;
    let game1 = Cluster::load(&config)?;
    game1.open("game1").await?;

    let battle = game1
        .proxy::<dyn BattleMgr>("battle1", "@BattleMgr")
        .with_trace(TraceTag::new("create_room")?);
    let room = battle.create_room("duel".to_owned()).await??;
    println!("game1 -> battle1 -> db: room {room}");
    traces.print("game1");

    for node in [game1, battle1, db] {
        node.shutdown(Duration::from_secs(1)).await;
    }
    Ok(())
}
