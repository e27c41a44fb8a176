#[skycluster::service]
trait Service {
    async fn ping<T>(&self, t: T);
}

fn main() {}
