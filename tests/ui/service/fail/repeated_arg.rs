#[skycluster::service(codec = lua, codec = bincode)]
trait Service {
    async fn ping(&self);
}

fn main() {}
