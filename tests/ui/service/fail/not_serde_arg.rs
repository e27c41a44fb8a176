struct NotSerde;

#[skycluster::service]
trait Service {
    async fn ping(&self, ok: u32, bad: NotSerde);
}

fn main() {}
