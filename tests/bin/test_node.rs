//! A node for tests that need a real process: listens on the address given
//! (default `127.0.0.1:0`), prints `ready <addr>` and serves `@echo`
//! (`.echo`) and `.slow` (payload: milliseconds to wait, then echo) until
//! killed.

use std::time::Duration;

use bytes::Bytes;
use skycluster::{Cluster, Config, HandlerError, Request};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let cluster = Cluster::new(Config::new());
    cluster.set_name("test_node")?;
    let bound = cluster.listen(addr.as_str()).await?;
    let echo = cluster
        .spawn_handler(|req: Request| async move { Ok::<_, HandlerError>(req.into_payload()) });
    cluster.register_name("echo", echo)?;
    cluster.name_local(".echo", echo)?;
    let slow = cluster.spawn_handler(|req: Request| async move {
        let text = String::from_utf8_lossy(req.payload()).into_owned();
        let ms: u64 = text
            .parse()
            .map_err(|_| HandlerError::new("not a number"))?;
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok::<Bytes, _>(req.into_payload())
    });
    cluster.name_local(".slow", slow)?;
    println!("ready {bound}");
    std::future::pending::<()>().await;
    Ok(())
}
