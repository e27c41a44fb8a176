#[skycluster::service]
trait Service {
    type Room;
    async fn ping(&self);
}

fn main() {}
