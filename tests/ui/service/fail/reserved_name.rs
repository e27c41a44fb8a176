#[skycluster::service]
trait Service {
    async fn with_timeout(&self, ms: u64);
}

fn main() {}
