#[skycluster::service]
trait Service {
    #[push(fast)]
    async fn ping(&self);
}

fn main() {}
