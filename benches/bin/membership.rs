//! How fast a cluster fed by etcd sees a node join (8, 32 and 100 nodes),
//! and a killed one go, against its lease's TTL. Needs a running etcd:
//! `cargo run --release -p benches --bin membership -- --etcd http://127.0.0.1:2379`.

fn main() -> std::process::ExitCode {
    benches::main(benches::Runner::Membership)
}
