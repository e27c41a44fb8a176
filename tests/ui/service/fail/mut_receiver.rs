#[skycluster::service]
trait Service {
    async fn ping(&mut self);
}

fn main() {}
