//! A `codec = lua` service: Lua Skynet nodes can call it, and it can be
//! called the way they would call it.
//!
//! With `codec = lua` a call is `skynet.pack(method, args...)` and the
//! reply is the packed return values, exactly what `cluster.call` sends
//! and expects. `Result` follows Lua's `return nil, err` idiom;
//! `Result<T, HandlerError>` fails like Lua's `error(...)`; and `Values`
//! is a Lua function's `...`, in and out.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use skycluster::codec::luaseri::{self, Value, Values};
use skycluster::{Cluster, ErrorKind, HandlerError};

/// In Lua: `cluster.call("bag", "@bag", "add_item", "sword", 2)`.
#[skycluster::service(codec = lua, name = "bag")]
pub trait Bag {
    /// Returns the new count, or `nil, reason`.
    async fn add_item(&self, item: String, count: i64) -> Result<i64, String>;
    /// Takes `count` of `item` out, or raises as `error(...)` would.
    async fn remove_item(&self, item: String, count: i64) -> Result<i64, HandlerError>;
    /// `count(...)`: the count of each item named, nil for one the bag
    /// does not hold: `count("sword", "axe")` returns `2, nil`.
    async fn count(&self, items: Values) -> Values;
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

    async fn remove_item(&self, item: String, count: i64) -> Result<i64, HandlerError> {
        let mut items = self.items.lock().map_err(|_| "bag poisoned")?;
        let held = items.get(&item).copied().unwrap_or(0);
        if count <= 0 || count > held {
            // Lua: error(string.format("cannot remove %d of %s", count, item))
            return Err(format!("cannot remove {count} of {item}: the bag holds {held}").into());
        }
        items.insert(item, held - count);
        Ok(held - count)
    }

    async fn count(&self, items: Values) -> Values {
        let held = self.items.lock().map(|i| i.clone()).unwrap_or_default();
        items
            .iter()
            .map(|item| {
                let count = item.as_str().and_then(|name| held.get(name));
                count.map_or(Value::Nil, |&n| Value::Integer(n))
            })
            .collect()
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
    let inventory = bag.spawn::<dyn Bag>(Inventory::default());
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

    // Any number of arguments in, as many values out, nils kept:
    // skynet.pack("count", "sword", "axe", "potion").
    let request = ["count", "sword", "axe", "potion"].map(Value::from);
    let reply = lua_call(&game1, &request).await?;
    println!("as Lua: count(\"sword\", \"axe\", \"potion\") returns {reply}");
    assert_eq!(reply, "2, nil, 5");
    // The typed client takes and returns `Values` too.
    let counts = client.count(Values::from(vec![Value::from("axe")])).await?;
    println!("typed:  count(axe) = {counts}");

    // `Err(HandlerError)` is an error frame, as Lua's `error(...)` sends:
    // a Lua caller's `cluster.call` raises, a Rust caller gets the text.
    let request = [
        Value::from("remove_item"),
        Value::from("sword"),
        Value::from(3),
    ];
    let err = lua_call(&game1, &request)
        .await
        .expect_err("the bag holds 2 swords");
    println!("as Lua: remove_item(\"sword\", 3) raises: {err}");
    match client.remove_item("sword".into(), 3).await {
        Err(e) if matches!(e.kind(), ErrorKind::Remote { .. }) => {
            println!("typed:  remove_item(sword, 3) failed: {e}");
        }
        other => return Err(format!("expected an error frame, got {other:?}").into()),
    }
    println!(
        "typed:  remove_item(sword, 1) = {:?}",
        client.remove_item("sword".into(), 1).await?
    );

    // A map comes back as a Lua table.
    let reply = lua_call(&game1, &[Value::from("items")]).await?;
    println!("as Lua: items() returns {reply}");
    assert_eq!(reply, r#"{potion = 5, sword = 1}"#);

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
