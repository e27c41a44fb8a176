//! The benchmark runners of `benches/` still run: `compare` (every
//! workload against every system), `threads`, `mesh` and `fanin`, each in
//! its `--smoke` mode, a fraction of a second per measurement. Nothing
//! here is about speed: only that every row is there and nothing failed.
//!
//! Only the `compare` binary is built for this crate (as `bench_compare`);
//! it hosts every runner: `compare threads --smoke` runs what `cargo run
//! -p benches --bin threads -- --smoke` does.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `bench_compare` with `args`, killing it after `timeout`; returns
/// its stdout once it has exited successfully.
fn run_runner(args: &[&str], timeout: Duration) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bench_compare"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the runner");
    // Read both pipes on threads, so that a chatty runner cannot fill one
    // and stall while this waits for it to exit.
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(stdout));
    let stderr = read(Box::new(stderr));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the runner") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{}` took over {timeout:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    assert!(
        status.success(),
        "`{}`: {status}\n{stdout}\n{stderr}",
        args.join(" ")
    );
    stdout
}

/// The line of `stdout` that starts with `row`; fails if there is none or
/// it says `failed`.
fn row<'a>(stdout: &'a str, row: &str) -> &'a str {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(row))
        .unwrap_or_else(|| panic!("no row `{row}` in\n{stdout}"));
    assert!(!line.contains("failed"), "{line}");
    line
}

/// Every target line says met, MISSED or not measured, and there is at
/// least one.
fn targets_are_reported(stdout: &str) {
    let section = stdout
        .split_once("Targets")
        .unwrap_or_else(|| panic!("no targets in\n{stdout}"))
        .1;
    let lines: Vec<&str> = section.lines().filter(|l| l.starts_with("- ")).collect();
    assert!(!lines.is_empty(), "no target lines in\n{stdout}");
    for line in lines {
        assert!(
            line.ends_with("(met)")
                || line.ends_with("(MISSED)")
                || line.ends_with("(not measured)"),
            "{line}"
        );
    }
}

#[test]
fn every_workload_runs_against_every_system() {
    // Debug builds, 40 short runs of two processes each: well under this.
    let stdout = run_runner(&["--smoke"], Duration::from_secs(180));
    for workload in [
        "W1 16 B echo, C=1",
        "W1 16 B echo, C=32",
        "W1 16 B echo, C=256",
        "W2 256 KiB echo, C=4",
        "W3 16 B push",
    ] {
        for system in [
            "skycluster",
            "skycluster-lua",
            "skycluster-postcard",
            "skycluster-plain",
            "skycluster-tls",
            "tarpc",
            "ceiling",
        ] {
            row(&stdout, &format!("| {workload} | {system} | "));
        }
        for codec in ["lua", "postcard"] {
            row(&stdout, &format!("| {workload} | {codec} | "));
        }
    }
    targets_are_reported(&stdout);
    assert!(
        stdout.contains("| calls/s default/plain |"),
        "no default/plain table in\n{stdout}"
    );
    assert!(
        stdout.contains("| calls/s codec/bincode |"),
        "no codec/bincode table in\n{stdout}"
    );
    assert!(
        stdout.contains("| calls/s tls/plain |"),
        "no tls/plain table in\n{stdout}"
    );
}

#[test]
fn the_threads_runner_serves_every_runtime_from_every_connection_count() {
    let stdout = run_runner(&["threads", "--smoke"], Duration::from_secs(120));
    for connections in [1, 4, 64] {
        for runtime in [
            "current-thread",
            "multi-thread, 1 worker",
            "multi-thread, 2 workers",
        ] {
            row(&stdout, &format!("| {connections} | {runtime} | "));
        }
    }
    targets_are_reported(&stdout);
}

#[test]
fn the_mesh_runner_connects_every_node_to_every_other_and_calls_them() {
    // Fails by itself if a mesh is incomplete or a call fails.
    let stdout = run_runner(&["mesh", "--smoke"], Duration::from_secs(120));
    for (nodes, connections) in [(2, 2), (4, 12)] {
        row(&stdout, &format!("| {nodes} | {connections} | "));
        row(&stdout, &format!("| {nodes} | paced, "));
        row(&stdout, &format!("| {nodes} | closed loop | "));
    }
    targets_are_reported(&stdout);
}

#[test]
fn the_fanin_runner_serves_every_connection_and_closes_those_beyond_max_clients() {
    // Fails by itself if a connection is not served or a call fails.
    let stdout = run_runner(&["fanin", "--smoke"], Duration::from_secs(120));
    for connections in [10, 40] {
        row(&stdout, &format!("| {connections} | "));
    }
    let edge = stdout
        .lines()
        .find(|l| l.starts_with("At the edge: max_clients = 10, 15 connections opened"))
        .unwrap_or_else(|| panic!("no edge line in\n{stdout}"));
    assert!(
        edge.contains("10 answered their first call and 5 failed"),
        "{edge}"
    );
    assert!(edge.contains("the server held 10 connections"), "{edge}");
    targets_are_reported(&stdout);
    for check in [
        "connections served / max_clients = 1: 1.00 (met)",
        "first calls failed / connections beyond it = 1: 1.00 (met)",
        "served connections answering again / served = 1: 1.00 (met)",
    ] {
        assert!(stdout.contains(check), "no `{check}` in\n{stdout}");
    }
}

#[test]
fn the_soak_runner_survives_its_chaos_with_nothing_hung_lost_twice_or_misdelivered() {
    // Three nodes, four seconds, a kill, restart or disable every second;
    // it fails by itself on a hung call, a misdelivered reply or a
    // duplicated push.
    let stdout = run_runner(&["soak", "--smoke"], Duration::from_secs(120));
    assert!(
        stdout.contains("soak passed: 0 hung, 0 misdelivered, 0 duplicated"),
        "{stdout}"
    );
    row(&stdout, "| soak1 | ");
}

#[test]
#[cfg_attr(
    not(etcd),
    ignore = "needs SKYCLUSTER_ETCD: a running etcd (see .ci/run)"
)]
fn the_membership_runner_times_joins_and_a_killed_node_against_a_real_etcd() {
    // Fails by itself if a node is not seen, not callable or not dropped.
    let etcd = std::env::var("SKYCLUSTER_ETCD").expect("SKYCLUSTER_ETCD is set (cfg(etcd))");
    let stdout = run_runner(
        &[
            "membership",
            "--etcd",
            &etcd,
            "--nodes",
            "3",
            "--reps",
            "1",
            "--ttl-secs",
            "1",
        ],
        Duration::from_secs(120),
    );
    let line = row(&stdout, "| 3 | ");
    assert_eq!(line.matches('|').count(), 6, "{line}");
}
