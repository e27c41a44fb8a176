#[skycluster::service]
struct Service;

fn main() {}
