//! A body returning `()`.
#[skycluster::cluster_main]
async fn main(_cluster: skycluster::Cluster) {}
