#[skycluster::cluster_main]
async fn main(cluster: skycluster::Cluster) -> u32 {
    let _ = cluster;
    7
}
