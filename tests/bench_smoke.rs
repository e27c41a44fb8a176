//! The comparison runner (`cargo run --release -p benches --bin compare`)
//! still runs: every workload against every system, a fraction of a
//! second each. Nothing here is about speed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Debug builds, 15 short runs of two processes each: well under this.
const TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn every_workload_runs_against_every_system() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bench_compare"))
        .arg("--smoke")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the runner");
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the runner") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the runner took over {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = child.wait_with_output().expect("the runner's output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    for workload in [
        "W1 16 B echo, C=1",
        "W1 16 B echo, C=32",
        "W1 16 B echo, C=256",
        "W2 256 KiB echo, C=4",
        "W3 16 B push",
    ] {
        for system in ["skycluster", "skycluster-lua", "tarpc", "ceiling"] {
            let row = format!("| {workload} | {system} | ");
            let line = stdout
                .lines()
                .find(|l| l.starts_with(&row))
                .unwrap_or_else(|| panic!("no row `{row}` in\n{stdout}"));
            assert!(!line.contains("failed"), "{line}");
        }
    }
    assert!(stdout.contains("Targets"), "{stdout}");
    assert!(
        stdout.contains("| calls/s lua/bincode |"),
        "no lua/bincode table in\n{stdout}"
    );
}
