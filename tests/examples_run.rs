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
        &["room on battle3", "battle2 down:"],
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
            "round-robin: room 1 -> battle1, room 2 -> battle2",
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
