#[skycluster::cluster_main]
fn main(cluster: skycluster::Cluster) {
    let _ = cluster;
}
