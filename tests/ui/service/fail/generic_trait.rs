#[skycluster::service]
trait Service<T> {
    async fn ping(&self);
}

fn main() {}
