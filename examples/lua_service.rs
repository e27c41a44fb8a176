//! A `codec = lua` service: Lua Skynet nodes can call it, and it can be
//! called the way they would call it.
//!
//! With `codec = lua` a call is `skynet.pack(method, args...)` and the
//! reply is the packed return values, exactly what `cluster.call` sends
//! and expects. `Result` follows Lua's `return nil, err` idiom.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use skycluster::codec::luaseri::{self, Value};
use skycluster::Cluster;

/// In Lua: `cluster.call("bag", "@bag", "add_item", "sword", 2)`.
#[skycluster::service(codec = lua, name = "bag")]
pub trait Bag {
    /// Returns the new count, or `nil, reason`.
    async fn add_item(&self, item: String, count: i64) -> Result<i64, String>;
    /// A Lua table `{sword = 2, ...}`.
    async fn items(&self) -> BTreeMap<String, i64>;
}

#[derive(Default)]
struct Inventory {
    items: Mutex<BTreeMap<String, i64>>,
}

#[skycluster::async_trait]
impl Bag for Inventory {
    async fn add_item(&self, item: String, count: i64) -> Result<i64, String> {
        if count <= 0 {
            return Err(format!("cannot add {count} of {item}"));
        }
        let mut items = self.items.lock().map_err(|_| "bag poisoned".to_owned())?;
        let total = items.entry(item).or_insert(0);
        *total += count;
        Ok(*total)
    }

    async fn items(&self) -> BTreeMap<String, i64> {
        self.items.lock().map(|i| i.clone()).unwrap_or_default()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = examples::Scratch::new("lua_service")?;
    let config = scratch.clustername(&["bag", "game1"])?;

    let bag = Cluster::load(&config)?;
    bag.open("bag").await?;
    let inventory = bag.spawn::<dyn Bag>(Arc::new(Inventory::default()));
    bag.register::<dyn Bag>(inventory)?;

    let game1 = Cluster::load(&config)?;
    game1.open("game1").await?;

    // From Rust, typed: the same client as with any codec.
    let client = game1.proxy::<dyn Bag>("bag", "@bag");
    println!(
        "typed:  add_item(sword, 2) = {:?}",
        client.add_item("sword".into(), 2).await?
    );

    // What a Lua node sends, built by hand: skynet.pack("add_item", "potion", 5).
    let request = [
        Value::from("add_item"),
        Value::from("potion"),
        Value::from(5),
    ];
    let reply = lua_call(&game1, &request).await?;
    println!("as Lua: add_item(\"potion\", 5) returns {reply}");
    assert_eq!(reply, "5");

    // An `Err` arrives as two values, `nil, err`: Lua's
    // `local n, err = cluster.call(...)`.
    let request = [
        Value::from("add_item"),
        Value::from("shield"),
        Value::from(0),
    ];
    let reply = lua_call(&game1, &request).await?;
    println!("as Lua: add_item(\"shield\", 0) returns {reply}");
    assert!(reply.starts_with("nil, "));

    // A map comes back as a Lua table.
    let reply = lua_call(&game1, &[Value::from("items")]).await?;
    println!("as Lua: items() returns {reply}");
    assert_eq!(reply, r#"{potion = 5, sword = 2}"#);

    game1.shutdown(Duration::from_secs(1)).await;
    bag.shutdown(Duration::from_secs(1)).await;
    Ok(())
}

/// Sends packed values to `@bag` the way Lua's `cluster.call` does and
/// prints the reply's values as Lua literals.
async fn lua_call(
    cluster: &Cluster,
    values: &[Value],
) -> Result<String, Box<dyn std::error::Error>> {
    let payload = Bytes::from(luaseri::pack(values)?);
    let reply = cluster.call("bag", "@bag", payload).await?;
    let values = luaseri::unpack(&reply)?;
    Ok(values
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join(", "))
}
