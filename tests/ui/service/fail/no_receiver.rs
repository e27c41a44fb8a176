#[skycluster::service]
trait Service {
    async fn ping(x: u32);
}

fn main() {}
