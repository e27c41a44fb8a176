use serde::{Deserialize, Serialize};

/// Not `skycluster::HandlerError`, though named like it.
#[derive(Serialize, Deserialize)]
struct HandlerError(String);

#[skycluster::service]
trait Rooms {
    async fn join(&self, n: u32) -> Result<u32, HandlerError>;
}

fn main() {}
