//! Every argument and return shape, and what the generated items are.
#![deny(warnings)]

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use skycluster::{CallError, Cluster, Config, Service};

#[derive(Debug, Serialize, Deserialize)]
pub struct Player {
    pub id: u64,
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Mode {
    Duel,
    Team { size: u8 },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum RoomError {
    Full,
}

/// A service with every shape.
#[skycluster::service(name = "battle")]
pub trait BattleMgr {
    /// No arguments, no return value.
    async fn ping(&self);
    async fn one(&self, x: u32) -> u32;
    async fn several(&self, a: u8, b: String, c: Option<i64>) -> (u8, String);
    async fn structs(&self, mode: Mode, players: Vec<Player>) -> Result<u32, RoomError>;
    #[push]
    async fn left(&self, room: u32, _: u64);
    async fn r#type(&self) -> Option<Vec<u8>>;
    #[cfg(any())]
    async fn configured_out(&self, never: NotAType);
    async fn with_default(&self) -> u8 {
        7
    }
}

struct Impl;

#[skycluster::async_trait]
impl BattleMgr for Impl {
    async fn ping(&self) {}
    async fn one(&self, x: u32) -> u32 {
        x
    }
    async fn several(&self, a: u8, b: String, _: Option<i64>) -> (u8, String) {
        (a, b)
    }
    async fn structs(&self, _: Mode, _: Vec<Player>) -> Result<u32, RoomError> {
        Err(RoomError::Full)
    }
    async fn left(&self, _: u32, _: u64) {}
    async fn r#type(&self) -> Option<Vec<u8>> {
        None
    }
}

fn is_send<T: Send>(_: &T) {}
fn client_like<C: Clone + Debug + Send + Sync + 'static>() {}

fn main() {
    assert_eq!(<dyn BattleMgr as Service>::NAME, "battle");
    client_like::<BattleMgrClient>();
    let _: fn(Arc<dyn BattleMgr>) -> ServeBattleMgr = ServeBattleMgr::new;
    let _: Arc<dyn skycluster::Handler> = <dyn BattleMgr as Service>::handler(Arc::new(Impl));

    let cluster = Cluster::new(Config::new());
    let client: BattleMgrClient = cluster.proxy::<dyn BattleMgr>("battle1", "@battle");
    let client = client.with_timeout(Duration::from_secs(1));
    assert_eq!(client.endpoint().node(), "battle1");

    let call = client.structs(Mode::Team { size: 2 }, vec![]);
    is_send(&call);
    let _: &dyn std::future::Future<Output = Result<Result<u32, RoomError>, CallError>> = &call;
    drop(call);
    let _ = client.ping();
    let _ = client.r#type();
    let _ = client.with_default();
    let _: fn(&BattleMgrClient, u32, u64) -> Result<(), CallError> = BattleMgrClient::left;
}
