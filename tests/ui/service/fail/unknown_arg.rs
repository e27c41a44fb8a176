#[skycluster::service(nmae = "battle")]
trait Service {
    async fn ping(&self);
}

fn main() {}
