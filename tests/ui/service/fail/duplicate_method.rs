#[skycluster::service]
trait Service {
    async fn ping(&self);
    async fn ping(&self, x: u32);
}

fn main() {}
