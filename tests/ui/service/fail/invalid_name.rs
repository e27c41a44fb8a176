#[skycluster::service(name = "@battle")]
trait Service {
    async fn ping(&self);
}

fn main() {}
