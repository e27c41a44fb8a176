//! Every example and the demo run to completion and exit 0.
//!
//! The example sources are built a second time as `[[bin]]` targets of
//! this crate (`examples_<name>`, see `Cargo.toml`), so cargo builds them
//! before these tests and `env!("CARGO_BIN_EXE_...")` finds them: no nested
//! `cargo build`, no second target directory, no lock to wait for.

mod support;

use std::time::Duration;

use support::run::{is_running, run, Run};

/// Generous for a loaded two-core machine; the examples take well under a
/// second each, the demo a few.
const LIMIT: Duration = Duration::from_secs(90);

fn example(exe: &str, expected: &[&str]) -> Run {
    let out = run(exe, &[], LIMIT);
    out.expect_code(0);
    for text in expected {
        assert!(
            out.stdout.contains(text),
            "{exe}: expected {text:?} in\n{}",
            out.stdout
        );
    }
    eprintln!("{exe}: {:?}", out.took);
    out
}

#[test]
fn two_nodes_greets_across_nodes() {
    example(env!("CARGO_BIN_EXE_examples_two_nodes"), &["hello, world"]);
}

#[test]
fn topology_registers_proxies_and_queries() {
    example(
        env!("CARGO_BIN_EXE_examples_topology"),
        &["created room", "chess is refused", "2 rooms stored"],
    );
}

#[test]
fn tracing_prints_one_trace_through_three_nodes() {
    example(
        env!("CARGO_BIN_EXE_examples_tracing"),
        &[
            "room 7",
            "trace (game1-battle1-",
            ")create_room",
            "└─ battle1 (called from 127.0.0.1:",
            "   └─ db (called from 127.0.0.1:",
        ],
    );
}

#[test]
fn push_delivers_every_notification() {
    example(
        env!("CARGO_BIN_EXE_examples_push"),
        &["alice joined", "bob joined", "carol joined"],
    );
}

#[test]
fn safe_call_falls_back_on_timeout_and_on_a_dead_node() {
    let out = example(
        env!("CARGO_BIN_EXE_examples_safe_call"),
        &["timed out", "cannot connect"],
    );
    assert_eq!(out.stdout.matches("using the fallback").count(), 2);
}

#[test]
fn round_robin_skips_a_node_that_is_down() {
    example(
        env!("CARGO_BIN_EXE_examples_round_robin"),
        &[
            "all three up:  {\"battle1\": ",
            "\"battle3\": ",
            "serving:       [\"battle1\", \"battle2\", \"battle3\"]",
            "battle2 down:",
        ],
    );
}

#[test]
fn hot_reload_moves_disables_and_restores_a_node() {
    example(
        env!("CARGO_BIN_EXE_examples_hot_reload"),
        &["after:  db is new", "disabled:", "re-enabled: db is new"],
    );
}

#[test]
fn lua_service_answers_lua_style_calls() {
    example(
        env!("CARGO_BIN_EXE_examples_lua_service"),
        &[
            "returns 5",
            "returns nil, ",
            "returns 2, nil, 5",
            "remove_item(\"sword\", 3) raises: ",
            "remote error: cannot remove 3 of sword",
            "{potion = 5, sword = 1}",
        ],
    );
}

#[test]
fn demo_fails_over_rejoins_and_stops_every_process() {
    let out = example(
        env!("CARGO_BIN_EXE_examples_demo"),
        &[
            "pooled:   room 1 -> battle",
            "killed:",
            "failover: room 5 -> battle2",
            "rejoined:",
            "stopped:",
        ],
    );
    // Every process the demo started, the restarted battle1 included, is
    // gone by the time it exits.
    let pids: Vec<u32> = out
        .stdout
        .split("(pid ")
        .skip(1)
        .filter_map(|rest| rest.split(')').next()?.parse().ok())
        .collect();
    assert_eq!(pids.len(), 5, "{}", out.stdout);
    for pid in pids {
        assert!(!is_running(pid), "node process {pid} outlived the demo");
    }
}

/// `GET /metrics` from `addr` (`127.0.0.1:PORT`), bounded: the body.
fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).expect("connect to the metrics port");
    conn.set_read_timeout(Some(LIMIT)).expect("timeout");
    conn.write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .expect("request");
    let mut response = String::new();
    conn.read_to_string(&mut response).expect("response");
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .expect("an HTTP response")
}

/// The value of the sample named `series` in Prometheus text, 0 if absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

#[test]
fn metrics_serves_prometheus_text_whose_counters_move_with_its_calls() {
    use std::io::{BufRead, Write};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_examples_metrics"))
        .arg("--hold")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the example");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || lines.recv_timeout(LIMIT).expect("a line from the example");
    let first = next();
    let addr = first
        .strip_prefix("metrics at http://")
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    let ok = r#"skycluster_calls_ended_total{node="battle1",outcome="ok"}"#;
    let served = r#"skycluster_requests_served_total{node="battle1",kind="call"}"#;
    let before = scrape(&addr);
    assert_eq!(sample(&before, ok), 0.0, "{before}");
    let mut stdin = child.stdin.take().expect("piped stdin");
    writeln!(stdin, "go").expect("tell it to call");
    assert_eq!(next(), "made 10 calls");
    let after = scrape(&addr);
    assert_eq!(sample(&after, ok), 10.0, "{after}");
    assert_eq!(sample(&after, served), 10.0, "{after}");
    assert_eq!(
        sample(
            &after,
            r#"skycluster_connections_open{node="battle1",side="sender"}"#
        ),
        1.0,
        "{after}"
    );
    assert!(
        sample(
            &after,
            r#"skycluster_bytes_sent_total{node="battle1",side="sender"}"#
        ) > 0.0,
        "{after}"
    );
    drop(stdin);
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "{status}");
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the example did not exit after stdin closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
