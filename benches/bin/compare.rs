//! skycluster against tarpc and a raw-TCP ceiling, each as a server and a
//! client process. `cargo run --release -p benches --bin compare -- --help`.

fn main() -> std::process::ExitCode {
    benches::compare::main()
}
