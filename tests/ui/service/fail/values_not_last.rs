use skycluster::codec::luaseri::Values;

#[skycluster::service(codec = lua)]
trait Router {
    /// `Values` takes every argument left: `cmd` would never get one.
    async fn route(&self, rest: Values, cmd: String) -> Values;
}

fn main() {}
