// Every mistake is reported in one compile, each at its own token.
#[skycluster::service(codec = lua, bogus = 1)]
trait Service {
    fn not_async(&self);
    async fn endpoint(&self);
    #[push]
    async fn push_returns(&self) -> u8;
}

fn main() {}
