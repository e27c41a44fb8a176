//! A node for the etcd membership tests that need a real process (one to
//! SIGKILL): `etcd_node URL PREFIX NAME TTL_SECS` listens on
//! `127.0.0.1:0`, serves `@echo` (see `support/services.rs`), joins etcd,
//! prints `ready <addr>` and runs until killed.

use std::time::Duration;

use skycluster::{Cluster, Config, Etcd};

#[path = "../support/services.rs"]
#[allow(unreachable_pub, dead_code)]
mod services;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, prefix, name, ttl] = args.as_slice() else {
        return Err("usage: etcd_node URL PREFIX NAME TTL_SECS".into());
    };
    let ttl = Duration::from_secs(ttl.parse()?);
    let cluster = Cluster::new(Config::new());
    cluster.set_name(name)?;
    let bound = cluster.listen("127.0.0.1:0").await?;
    services::install(&cluster)?;
    cluster
        .join(
            Etcd::new([url.as_str()])
                .with_prefix(prefix.as_str())
                .with_ttl(ttl),
        )
        .await?;
    println!("ready {bound}");
    std::future::pending::<()>().await;
    Ok(())
}
