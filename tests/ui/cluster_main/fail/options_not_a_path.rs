#[skycluster::cluster_main(options = 5)]
async fn main(cluster: skycluster::Cluster) {
    let _ = cluster;
}
