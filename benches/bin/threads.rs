//! One skycluster server on a current-thread runtime and on the
//! multi-thread runtime `#[cluster_main]` builds, served from 1, 4 and 64
//! connections. `cargo run --release -p benches --bin threads -- --help`.

fn main() -> std::process::ExitCode {
    benches::main(benches::Runner::Threads)
}
