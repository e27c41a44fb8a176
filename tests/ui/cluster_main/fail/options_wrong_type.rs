fn options() -> u32 {
    7
}

#[skycluster::cluster_main(options = options)]
async fn main(cluster: skycluster::Cluster) {
    let _ = cluster;
}
