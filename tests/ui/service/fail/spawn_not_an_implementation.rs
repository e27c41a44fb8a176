#[skycluster::service]
trait Echo {
    async fn echo(&self, text: String) -> String;
}

/// Implements nothing.
struct Silent;

fn main() {
    let cluster = skycluster::Cluster::new(skycluster::Config::new());
    cluster.spawn::<dyn Echo>(Silent);
}
