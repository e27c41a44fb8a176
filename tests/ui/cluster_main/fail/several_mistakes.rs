// Every argument mistake is reported in one compile, each at its own token.
#[skycluster::cluster_main(flavor = "current_thread", grace_ms = 1, grace_ms = 2, worker_threads = 0)]
async fn main(cluster: skycluster::Cluster) {
    let _ = cluster;
}
