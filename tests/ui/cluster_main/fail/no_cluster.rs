#[skycluster::cluster_main]
async fn main() {}
