#[skycluster::cluster_main(flavor = "current_thread")]
async fn main(cluster: skycluster::Cluster) {
    let _ = cluster;
}
