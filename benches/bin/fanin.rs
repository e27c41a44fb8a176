//! 100, 1,000 and 10,000 connections into one skycluster node: accept
//! rate, memory per connection, calls/s and p99, and `max_clients` at its
//! edge. `cargo run --release -p benches --bin fanin -- --help`.

fn main() -> std::process::ExitCode {
    benches::main(benches::Runner::Fanin)
}
