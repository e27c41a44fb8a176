#[skycluster::service]
trait Service {
    async fn ping(&self, name: &str);
}

fn main() {}
