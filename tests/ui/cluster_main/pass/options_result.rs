//! `options = "path"` (the string form) naming a function that returns
//! `Result<Options, E>`, next to `grace_ms`, and a body returning
//! `Result<(), Box<dyn Error + Send + Sync>>`.
#![deny(warnings)]

mod node {
    pub fn options() -> Result<skycluster::Options, std::io::Error> {
        Ok(skycluster::Options::default().with_max_clients(8))
    }
}

#[skycluster::cluster_main(options = "node::options", grace_ms = 50)]
async fn main(
    cluster: skycluster::Cluster,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if cluster.node_name() != Some("ui") {
        return Err("not the node the test driver named".into());
    }
    Ok(())
}
