// A body error must be one `#[cluster_main]` can print with `Display`.
#[derive(Debug)]
struct Code(u8);

#[skycluster::cluster_main]
async fn main(cluster: skycluster::Cluster) -> Result<(), Code> {
    let _ = cluster;
    Err(Code(3))
}
