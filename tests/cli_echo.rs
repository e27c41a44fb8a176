//! The `skycluster` command against a real `echo_node` process: every
//! method, a 100 KiB reply, remote errors, bad literals, unreachable
//! nodes, and the exit code of each.
//!
//! Both binaries are built from their own sources as `[[bin]]` targets of
//! this crate (`cli_skycluster`, `examples_echo_node`); see
//! `examples_run.rs` for why.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use examples::{Node, Scratch};
use support::run::{run, write_config, Run};

const CLI: &str = env!("CARGO_BIN_EXE_cli_skycluster");
const ECHO_NODE: &str = env!("CARGO_BIN_EXE_examples_echo_node");

/// Bounds every wait: process start, each command.
const LIMIT: Duration = Duration::from_secs(30);

/// An `echo_node` named `echo1`, in a config that also has a node nobody
/// listens on (`down`) and a disabled one (`off`).
struct Fixture {
    config: PathBuf,
    node: Node,
    _scratch: Scratch,
}

impl Fixture {
    fn start() -> Fixture {
        let scratch = Scratch::new("cli").expect("scratch dir");
        let port = || examples::free_port().expect("free port");
        let config = write_config(
            &scratch,
            &[
                format!("echo1 = \"127.0.0.1:{}\"", port()),
                format!("down = \"127.0.0.1:{}\"", port()),
                "off = false".to_owned(),
            ],
        );
        let mut command = Command::new(ECHO_NODE);
        command
            .args(["--config"])
            .arg(&config)
            .args(["--node", "echo1", "--exit-with-stdin"]);
        let node = Node::start("echo1", command, LIMIT).expect("echo_node ready");
        Fixture {
            config,
            node,
            _scratch: scratch,
        }
    }

    /// `skycluster <before..> <command> --config FILE <after..>`.
    fn cli(&self, command: &str, args: &[&str]) -> Run {
        self.cli_with(&[], command, args)
    }

    fn cli_with(&self, global: &[&str], command: &str, args: &[&str]) -> Run {
        let config = self.config.to_str().expect("utf-8 temp path");
        let mut all: Vec<&str> = global.to_vec();
        all.extend([command, "--config", config]);
        all.extend(args);
        run(CLI, &all, LIMIT)
    }

    /// `call echo1 @echo METHOD ARGS..`, expecting success; the one line
    /// printed.
    fn call(&self, args: &[&str]) -> String {
        let mut all = vec!["echo1", "@echo"];
        all.extend(args);
        let out = self.cli("call", &all);
        out.expect_code(0);
        out.stdout
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("no newline after {:?}", out.stdout))
            .to_owned()
    }
}

#[test]
fn echo_returns_every_argument_as_it_was_sent() {
    let f = Fixture::start();
    assert_eq!(
        f.call(&["echo", "1", "\"x\"", "{a = 1}"]),
        r#"1, "x", {a = 1}"#
    );
    assert_eq!(
        f.call(&[
            "echo",
            "-1",
            "nil",
            "2.5",
            "true",
            "{1, 2, a = 'b'}",
            "-math.huge"
        ]),
        r#"-1, nil, 2.5, true, {1, 2, a = "b"}, -math.huge"#
    );
    assert_eq!(f.call(&["echo"]), "");
}

#[test]
fn the_local_name_and_a_queried_handle_reach_the_same_service() {
    let f = Fixture::start();
    let out = f.cli("call", &["echo1", ".echo", "echo", "\"local\""]);
    assert_eq!(out.expect_code(0).stdout, "\"local\"\n");

    let out = f.cli("query", &["echo1", "echo"]);
    let handle = out.expect_code(0).stdout.trim().to_owned();
    assert!(handle.parse::<u32>().is_ok_and(|h| h > 0), "{handle:?}");
    let out = f.cli("call", &["echo1", &handle, "add", "2", "3"]);
    assert_eq!(out.expect_code(0).stdout, "5\n");
}

#[test]
fn schema_prints_the_typed_methods_fingerprints_or_says_there_are_none() {
    let f = Fixture::start();
    let out = f.cli("schema", &["echo1", "@echo"]);
    let stdout = &out.expect_code(0).stdout;
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("echo (lua)"), "{stdout}");
    let methods: Vec<(&str, &str)> = lines
        .map(|line| line.split_once(' ').expect("METHOD FINGERPRINT"))
        .collect();
    let names: Vec<&str> = methods.iter().map(|(m, _)| *m).collect();
    assert_eq!(names, ["add", "big", "fail", "sleep"], "{stdout}");
    for (_, fingerprint) in &methods {
        assert!(
            fingerprint.len() == 16 && fingerprint.bytes().all(|b| b.is_ascii_hexdigit()),
            "{stdout}"
        );
    }

    let out = f.cli("schema", &["echo1", "@nobody"]);
    assert!(
        out.expect_code(1).stderr.contains("no typed service"),
        "{}",
        out.stderr
    );
    f.cli("schema", &["down", "@echo"]).expect_code(3);
}

#[test]
fn add_keeps_integers_and_reals_apart() {
    let f = Fixture::start();
    assert_eq!(f.call(&["add", "1", "2"]), "3");
    assert_eq!(f.call(&["add", "-5", "3"]), "-2");
    assert_eq!(f.call(&["add", "1.5", "2"]), "3.5");
    assert_eq!(f.call(&["add", "1", "2.0"]), "3.0");
    // Lua integers wrap around.
    assert_eq!(f.call(&["add", "math.maxinteger", "1"]), "math.mininteger");
}

#[test]
fn add_of_a_string_is_a_remote_error() {
    let f = Fixture::start();
    let out = f.cli("call", &["echo1", "@echo", "add", "1", "\"a\""]);
    out.expect_code(1);
    assert!(out.stderr.contains("a number"), "{}", out.stderr);
}

#[test]
fn big_replies_with_100_kib_of_x() {
    let f = Fixture::start();
    let reply = f.call(&["big", "102400"]);
    let inner = reply
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not a quoted string: {}...", &reply[..20.min(reply.len())]));
    assert_eq!(inner.len(), 102_400);
    assert!(inner.bytes().all(|b| b == b'x'));
}

#[test]
fn fail_exits_1_with_the_message() {
    let f = Fixture::start();
    let out = f.cli("call", &["echo1", "@echo", "fail", "\"room is full\""]);
    out.expect_code(1);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(out.stderr.contains("room is full"), "{}", out.stderr);
    assert!(out.stderr.contains("remote error"), "{}", out.stderr);
}

#[test]
fn sleep_replies_true_and_a_short_timeout_exits_4() {
    let f = Fixture::start();
    assert_eq!(f.call(&["sleep", "20"]), "true");
    let out = f.cli_with(
        &["--timeout", "200ms"],
        "call",
        &["echo1", "@echo", "sleep", "5000"],
    );
    out.expect_code(4);
    assert!(out.stderr.contains("timed out"), "{}", out.stderr);
    assert!(out.took < Duration::from_secs(4), "took {:?}", out.took);
}

#[test]
fn a_bad_literal_exits_2_and_says_where() {
    let f = Fixture::start();
    let out = f.cli("call", &["echo1", "@echo", "echo", "1", "{1,"]);
    out.expect_code(2);
    assert!(out.stderr.contains("argument 2 `{1,`"), "{}", out.stderr);
    assert!(out.stderr.contains("invalid lua literal"), "{}", out.stderr);
    // A bare word is not a string literal: strings need quotes.
    f.cli("call", &["echo1", "@echo", "echo", "hello"])
        .expect_code(2);
}

#[test]
fn bad_addresses_nodes_and_flags_exit_2() {
    let f = Fixture::start();
    // No prefix: a Lua node would never answer it.
    let out = f.cli("call", &["echo1", "echo", "echo"]);
    assert!(out.expect_code(2).stderr.contains("must be `@name`"));
    let out = f.cli("call", &["nosuch", "@echo", "echo"]);
    assert!(out.expect_code(2).stderr.contains("not in"));
    f.cli("call", &["echo1"]).expect_code(2);
    f.cli_with(&["--timeout", "soon"], "status", &[])
        .expect_code(2);
    let missing = run(
        CLI,
        &["status", "--config", "/nonexistent/clustername.lua"],
        LIMIT,
    );
    assert!(missing.expect_code(2).stderr.contains("cannot read"));
}

#[test]
fn an_unregistered_name_is_a_remote_error() {
    let f = Fixture::start();
    let out = f.cli("query", &["echo1", "nope"]);
    assert!(out.expect_code(1).stderr.contains("name not found"));
    let out = f.cli("call", &["echo1", "@nope", "echo"]);
    out.expect_code(1);
}

#[test]
fn an_unreachable_or_disabled_node_exits_3() {
    let f = Fixture::start();
    let out = f.cli("call", &["down", "@echo", "echo", "1"]);
    out.expect_code(3);
    assert!(out.stderr.contains("cannot connect"), "{}", out.stderr);
    let out = f.cli("query", &["down", "echo"]);
    out.expect_code(3);
    let out = f.cli("call", &["off", "@echo", "echo", "1"]);
    assert!(out.expect_code(3).stderr.contains("disabled"));
}

#[test]
fn status_prints_a_row_per_node_and_exits_3_if_one_is_down() {
    let f = Fixture::start();
    let out = f.cli("status", &[]);
    out.expect_code(3);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert!(lines[0].starts_with("NODE") && lines[0].contains("RTT"));
    let row = |node: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(node))
            .unwrap_or_else(|| panic!("no row for {node}:\n{}", out.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    let echo1 = row("echo1");
    assert_eq!(echo1[2], "reachable");
    assert_eq!(echo1[4], "ms");
    assert!(echo1[3].parse::<f64>().is_ok(), "{echo1:?}");
    assert_eq!(row("down")[2], "unreachable");
    assert_eq!(row("off")[1..3], ["false", "disabled"]);

    // With every enabled node up, status succeeds.
    let scratch = Scratch::new("cli-status").expect("scratch");
    let text = std::fs::read_to_string(&f.config).expect("config");
    let up: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("down"))
        .map(str::to_owned)
        .collect();
    let config = write_config(&scratch, &up);
    let out = run(
        CLI,
        &["status", "--config", config.to_str().expect("utf-8")],
        LIMIT,
    );
    out.expect_code(0);
}

#[test]
fn status_json_prints_one_object_per_node_for_scripts() {
    let f = Fixture::start();
    let out = f.cli("status", &["--json"]);
    out.expect_code(3);
    let rows: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    assert_eq!(rows.len(), 3, "{}", out.stdout);
    let row = |node: &str| {
        rows.iter()
            .find(|r| r["node"] == node)
            .unwrap_or_else(|| panic!("no row for {node}:\n{}", out.stdout))
    };
    let echo1 = row("echo1");
    assert_eq!(echo1["state"], "reachable");
    assert!(
        echo1["rtt_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{echo1}"
    );
    assert_eq!(echo1["detail"], "");
    let down = row("down");
    assert_eq!(down["state"], "unreachable");
    assert!(down["rtt_ms"].is_null(), "{down}");
    assert!(
        down["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{down}"
    );
    let off = row("off");
    assert_eq!(
        (&off["state"], &off["address"]),
        (&"disabled".into(), &"false".into())
    );
}

#[test]
fn help_documents_the_exit_codes() {
    let out = run(CLI, &["--help"], LIMIT);
    out.expect_code(0);
    for text in [
        "Exit codes",
        "1  remote error",
        "2  bad arguments",
        "3  unreachable",
        "4  timeout",
    ] {
        assert!(out.stdout.contains(text), "{text:?} not in\n{}", out.stdout);
    }
    let out = run(CLI, &["call", "--help"], LIMIT);
    assert!(out.expect_code(0).stdout.contains("Lua literal"));
}

#[test]
fn echo_node_exits_0_on_sigterm() {
    let f = Fixture::start();
    let status = f.node.stop(LIMIT).expect("stops");
    assert!(status.success(), "{status}");
}

/// An `echo_node` named `vault` run with `Auth`, its secret read from the
/// file `SKYCLUSTER_SECRET_FILE` names; a second file holds another secret.
struct AuthFixture {
    config: String,
    secret: String,
    wrong: String,
    _node: Node,
    scratch: Scratch,
}

impl AuthFixture {
    fn start() -> AuthFixture {
        let scratch = Scratch::new("cli-auth").expect("scratch dir");
        let port = examples::free_port().expect("free port");
        let config = write_config(&scratch, &[format!("vault = \"127.0.0.1:{port}\"")]);
        // Ending in a newline, as `echo secret > file` writes it: the node
        // and the CLI both read it without.
        let secret = write_file(&scratch, "secret", "correct horse\n");
        let wrong = write_file(&scratch, "wrong", "battery staple\n");
        let mut command = Command::new(ECHO_NODE);
        command
            .env("SKYCLUSTER_SECRET_FILE", &secret)
            .arg("--config")
            .arg(&config)
            .args(["--node", "vault", "--exit-with-stdin"]);
        let node = Node::start("vault", command, LIMIT).expect("echo_node with Auth ready");
        AuthFixture {
            config: utf8(config),
            secret,
            wrong,
            _node: node,
            scratch,
        }
    }

    /// `skycluster <command> --config FILE <args..>`, with `--secret-file`
    /// first when `secret` is given.
    fn cli(&self, secret: Option<&str>, command: &str, args: &[&str]) -> Run {
        let mut all = vec![command, "--config", &self.config];
        if let Some(file) = secret {
            all.extend(["--secret-file", file]);
        }
        all.extend(args);
        run(CLI, &all, LIMIT)
    }
}

/// `text` in a file `name` of `scratch`; its path.
fn write_file(scratch: &Scratch, name: &str, text: &str) -> String {
    let path = scratch.path().join(name);
    std::fs::write(&path, text).expect("write file");
    utf8(path)
}

fn utf8(path: PathBuf) -> String {
    path.into_os_string()
        .into_string()
        .expect("utf-8 temp path")
}

#[test]
fn an_auth_node_answers_the_cli_given_its_secret_file_by_flag_or_variable() {
    let f = AuthFixture::start();
    let secret = Some(f.secret.as_str());
    let out = f.cli(secret, "call", &["vault", "@echo", "echo", "1", "\"x\""]);
    assert_eq!(out.expect_code(0).stdout, "1, \"x\"\n");
    let out = f.cli(secret, "query", &["vault", "echo"]);
    assert!(out.expect_code(0).stdout.trim().parse::<u32>().is_ok());
    let out = f.cli(secret, "status", &[]);
    assert!(
        out.expect_code(0).stdout.contains("reachable"),
        "{}",
        out.stdout
    );

    // The same file through the environment.
    let variable = format!("SKYCLUSTER_SECRET_FILE={}", f.secret);
    let out = run(
        "env",
        &[
            &variable, CLI, "call", "--config", &f.config, "vault", "@echo", "echo", "2",
        ],
        LIMIT,
    );
    assert_eq!(out.expect_code(0).stdout, "2\n");
}

#[test]
fn an_auth_node_refuses_the_cli_without_its_secret_and_says_so() {
    let f = AuthFixture::start();
    for (command, args) in [
        ("call", &["vault", "@echo", "echo", "1"][..]),
        ("query", &["vault", "echo"][..]),
    ] {
        let out = f.cli(None, command, args);
        out.expect_code(3);
        assert!(out.stdout.is_empty(), "{}", out.stdout);
        assert!(
            out.stderr
                .contains("node `vault` asks for the cluster secret: pass --secret-file FILE"),
            "{command}: {}",
            out.stderr
        );
    }
    let out = f.cli(None, "status", &[]);
    out.expect_code(3);
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with("vault"))
        .unwrap_or_else(|| panic!("no row for vault:\n{}", out.stdout));
    assert!(row.contains("unreachable"), "{row}");
    assert!(row.contains("asks for the cluster secret"), "{row}");

    // Another secret: the handshake fails, and says why.
    let out = f.cli(Some(&f.wrong), "call", &["vault", "@echo", "echo", "1"]);
    out.expect_code(3);
    assert!(
        out.stderr.contains("authentication failed"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("asks for"), "{}", out.stderr);

    // A secret file that is not there is the caller's mistake.
    let missing = f.scratch.path().join("missing");
    let missing = missing.to_str().expect("utf-8 temp path");
    let out = f.cli(Some(missing), "call", &["vault", "@echo", "echo", "1"]);
    out.expect_code(2);
    assert!(out.stderr.contains(missing), "{}", out.stderr);
}

#[test]
fn a_node_takes_its_secret_file_flag_over_the_variable() {
    let scratch = Scratch::new("cli-auth-flag").expect("scratch dir");
    let port = examples::free_port().expect("free port");
    let config = utf8(write_config(
        &scratch,
        &[format!("vault = \"127.0.0.1:{port}\"")],
    ));
    let secret = write_file(&scratch, "secret", "flag secret");
    let mut command = Command::new(ECHO_NODE);
    command
        // Would stop the node at startup, were it read.
        .env("SKYCLUSTER_SECRET_FILE", scratch.path().join("missing"))
        .args(["--config", &config, "--node", "vault", "--exit-with-stdin"])
        .args(["--secret-file", &secret]);
    let _node = Node::start("vault", command, LIMIT).expect("echo_node ready");
    let out = run(
        CLI,
        &[
            "call",
            "--config",
            &config,
            "--secret-file",
            &secret,
            "vault",
            "@echo",
            "echo",
            "3",
        ],
        LIMIT,
    );
    assert_eq!(out.expect_code(0).stdout, "3\n");
}

#[test]
fn a_node_stops_at_startup_on_a_missing_or_empty_secret_file_naming_it() {
    let scratch = Scratch::new("cli-auth-bad").expect("scratch dir");
    let port = examples::free_port().expect("free port");
    let config = utf8(write_config(
        &scratch,
        &[format!("vault = \"127.0.0.1:{port}\"")],
    ));
    // `--exit-with-stdin` and a closed stdin: a node that started anyway
    // would exit 0 at once instead of hanging the test.
    let node_args = ["--config", &config, "--node", "vault", "--exit-with-stdin"];

    let missing = utf8(scratch.path().join("missing"));
    let mut args = node_args.to_vec();
    args.extend(["--secret-file", &missing]);
    let out = run(ECHO_NODE, &args, LIMIT);
    out.expect_code(1);
    assert!(out.stderr.contains(&missing), "{}", out.stderr);
    assert!(out.stderr.contains("--secret-file"), "{}", out.stderr);
    // The OS error, once: it is the error's source, not in its message.
    assert_eq!(
        out.stderr.matches("No such file").count(),
        1,
        "{}",
        out.stderr
    );

    let empty = write_file(&scratch, "empty", "\n");
    let variable = format!("SKYCLUSTER_SECRET_FILE={empty}");
    let mut args = vec![variable.as_str(), ECHO_NODE];
    args.extend(node_args);
    let out = run("env", &args, LIMIT);
    out.expect_code(1);
    for text in [&empty[..], "SKYCLUSTER_SECRET_FILE", "is empty"] {
        assert!(out.stderr.contains(text), "{text:?} not in {}", out.stderr);
    }
}

#[test]
fn a_config_that_cannot_be_read_is_reported_with_its_cause_once() {
    let path = "/nonexistent/skycluster/clustername.lua";
    // By a node, at startup...
    let out = run(
        ECHO_NODE,
        &["--config", path, "--node", "echo1", "--exit-with-stdin"],
        LIMIT,
    );
    out.expect_code(1);
    let line = format!("cannot read cluster config {path}: No such file");
    assert!(out.stderr.contains(&line), "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("No such file").count(),
        1,
        "{}",
        out.stderr
    );
    // ...and by the CLI.
    let out = run(CLI, &["status", "--config", path], LIMIT);
    out.expect_code(2);
    assert!(out.stderr.contains(&line), "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("No such file").count(),
        1,
        "{}",
        out.stderr
    );
}
