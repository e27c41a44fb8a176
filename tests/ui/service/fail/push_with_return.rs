#[skycluster::service]
trait Service {
    #[push]
    async fn ping(&self) -> u32;
}

fn main() {}
