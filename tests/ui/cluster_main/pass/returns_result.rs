//! Starts a node from SKYCLUSTER_NODE / SKYCLUSTER_CONFIG (set by the test
//! driver), serves a service, calls it, and exits.
#![deny(warnings)]

use std::sync::Arc;

#[skycluster::service]
pub trait Echo {
    async fn echo(&self, text: String) -> String;
}

struct Impl;

#[skycluster::async_trait]
impl Echo for Impl {
    async fn echo(&self, text: String) -> String {
        text
    }
}

#[skycluster::cluster_main(grace_ms = 100, worker_threads = 2)]
async fn main(cluster: skycluster::Cluster) -> Result<(), Box<dyn std::error::Error>> {
    assert_eq!(cluster.node_name(), Some("ui"));
    let handle = cluster.spawn::<dyn Echo>(Arc::new(Impl));
    cluster.register::<dyn Echo>(handle)?;
    let echo = cluster.proxy::<dyn Echo>("ui", "@Echo");
    assert_eq!(echo.echo("hi".to_owned()).await?, "hi");
    Ok(())
}
