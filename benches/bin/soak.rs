//! Node processes calling each other under chaos (kills, restarts, a node
//! disabled and brought back) for a given time: one table, and a failure
//! on a hung call, a misdelivered reply, a duplicated push or growth.
//! `cargo run --release -p benches --bin soak -- --help`.

fn main() -> std::process::ExitCode {
    benches::main(benches::Runner::Soak)
}
