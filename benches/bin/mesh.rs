//! N skycluster node processes, each calling every other: mesh time,
//! memory per peer, calls/s, latency and CPU per call as N grows.
//! `cargo run --release -p benches --bin mesh -- --help`.

fn main() -> std::process::ExitCode {
    benches::main(benches::Runner::Mesh)
}
