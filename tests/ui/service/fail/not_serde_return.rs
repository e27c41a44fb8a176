struct NotSerde;

#[skycluster::service]
trait Service {
    async fn ping(&self) -> Result<u32, NotSerde>;
}

fn main() {}
