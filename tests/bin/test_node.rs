//! A node for tests that need a real process: listens on the address given
//! (default `127.0.0.1:0`), prints `ready <addr>` and serves `@echo`
//! (`.echo`) and `.slow` (payload: milliseconds to wait, then echo) until
//! killed (see `support/services.rs`). `--frame-timeout-ms N` shortens
//! the agent's frame timeout.

use std::time::Duration;

use skycluster::{Cluster, Config, Options};

#[path = "../support/services.rs"]
#[allow(unreachable_pub)]
mod services;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let mut options = Options::default();
    while let Some(flag) = args.next() {
        let value: u64 = args
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--frame-timeout-ms" => options.frame_timeout = Duration::from_millis(value),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let cluster = Cluster::with_options(Config::new(), options);
    cluster.set_name("test_node")?;
    let bound = cluster.listen(addr.as_str()).await?;
    services::install(&cluster)?;
    println!("ready {bound}");
    std::future::pending::<()>().await;
    Ok(())
}
