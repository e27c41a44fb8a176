//! The smallest cluster: node `hello` serves a typed service, node `world`
//! calls it over TCP.
//!
//! Both nodes live in this one process so that the example runs by itself;
//! in production each is its own process, started with its own node name
//! and the same clustername file.

use skycluster::Cluster;

/// The interface both sides compile against. `#[service]` generates
/// `GreeterClient` (for callers) and the dispatcher (for the server), so a
/// typo in a method name or a wrong argument type is a compile error, not a
/// runtime `call failed`.
#[skycluster::service]
pub trait Greeter {
    async fn greet(&self, name: String) -> String;
}

struct English;

#[skycluster::async_trait]
impl Greeter for English {
    async fn greet(&self, name: String) -> String {
        format!("hello, {name}")
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // clustername.lua: `hello = "127.0.0.1:<port>"`, `world = ...`.
    let scratch = examples::Scratch::new("two_nodes")?;
    let config = scratch.clustername(&["hello", "world"])?;

    // Node `hello`: listen on its configured address and give the service
    // a registered name, `@Greeter`, that other nodes can address.
    let hello = Cluster::load(&config)?;
    hello.open("hello").await?;
    let greeter = hello.spawn::<dyn Greeter>(English);
    hello.register::<dyn Greeter>(greeter)?;

    // Node `world`: a typed client for `@Greeter` on `hello`. The outer
    // `?` is the network (node down, timeout); the value is the method's.
    let world = Cluster::load(&config)?;
    world.open("world").await?;
    let client = world.proxy::<dyn Greeter>("hello", "@Greeter");
    let reply = client.greet("world".to_owned()).await?;
    println!("world -> hello: {reply}");
    assert_eq!(reply, "hello, world");

    // Stop accepting, let calls in flight finish, close connections.
    world.shutdown(std::time::Duration::from_secs(1)).await;
    hello.shutdown(std::time::Duration::from_secs(1)).await;
    Ok(())
}
