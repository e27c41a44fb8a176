//! The `skycluster` command against a real Lua Skynet node: calling its
//! service at every address form, querying its names, its errors and exit
//! codes, and `status`.
//!
//! Needs `SKYNET_HOME` (see `tests/lua/README.md`); without it every test
//! here is ignored with that reason.

mod support;

use support::run::{run, Run};
use support::skynet::{LuaNode, Names, LIMIT};

const CLI: &str = env!("CARGO_BIN_EXE_cli_skycluster");

/// `skycluster <command> --config FILE <args..>`, bounded by [`LIMIT`].
fn cli(names: &Names, command: &str, args: &[&str]) -> Run {
    let config = names.path().to_str().expect("utf-8 temp path");
    let mut all = vec![command, "--config", config];
    all.extend(args);
    // A blocking wait: off the runtime's worker.
    tokio::task::block_in_place(|| run(CLI, &all, LIMIT))
}

/// The one line a successful command printed.
fn line(out: &Run) -> String {
    out.expect_code(0);
    out.stdout
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("no newline after {:?}", out.stdout))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn the_cli_calls_a_lua_service_at_every_address_form() {
    let names = Names::new("sk-cli-call");
    let lua = LuaNode::start(&names, "lua1").await;

    let out = cli(
        &names,
        "call",
        &["lua1", "@callee", "echo", "1", "\"x\"", "{a = 1}"],
    );
    assert_eq!(line(&out), r#"1, "x", {a = 1}"#);
    // nils between and at the end, floats, a negative zero, tables.
    let out = cli(
        &names,
        "call",
        &[
            "lua1",
            "@callee",
            "echo",
            "nil",
            "-0.0",
            "math.huge",
            "math.mininteger",
            "{1, 2, k = 'v'}",
            "nil",
        ],
    );
    assert_eq!(
        line(&out),
        r#"nil, -0.0, math.huge, math.mininteger, {1, 2, k = "v"}, nil"#
    );
    // Lua sees the types the literals say.
    let out = cli(
        &names,
        "call",
        &["lua1", "@callee", "types", "1", "1.0", "'s'", "true", "{}"],
    );
    assert_eq!(line(&out), r#""integer,float,string,boolean,table""#);

    let handle = lua.callee.to_string();
    let hex = format!(":{:08x}", lua.callee);
    for addr in [".callee", handle.as_str(), hex.as_str()] {
        let out = cli(&names, "call", &["lua1", addr, "echo", "\"by address\""]);
        assert_eq!(line(&out), r#""by address""#, "{addr}");
    }

    // A 100 KiB reply: multi-part from the Lua side.
    let out = cli(&names, "call", &["lua1", "@callee", "big", "102400"]);
    let reply = line(&out);
    let inner = reply
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not a quoted string: {}", &reply[..reply.len().min(40)]));
    assert!(inner.len() == 102_400 && inner.bytes().all(|b| b == b'x'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn the_cli_queries_lua_names_and_reports_lua_errors() {
    let names = Names::new("sk-cli-query");
    let mut lua = LuaNode::start(&names, "lua1").await;

    let out = cli(&names, "query", &["lua1", "callee"]);
    assert_eq!(line(&out), lua.callee.to_string());
    let out = cli(&names, "query", &["lua1", "control"]);
    assert_eq!(line(&out), lua.control.to_string());

    let out = cli(&names, "query", &["lua1", "nosuch"]);
    out.expect_code(1);
    assert!(out.stderr.contains("name not found"), "{}", out.stderr);

    // error("...") in the Lua service: exit 1 with Skynet's text.
    let out = cli(&names, "call", &["lua1", "@callee", "fail", "\"boom\""]);
    out.expect_code(1);
    assert!(out.stderr.contains("remote error"), "{}", out.stderr);
    assert!(out.stderr.contains("call failed"), "{}", out.stderr);
    let out = cli(&names, "call", &["lua1", "@nosuch", "echo"]);
    out.expect_code(1);
    assert!(out.stderr.contains("Invalid name"), "{}", out.stderr);

    // status: the node answers the liveness probe (a name query).
    let out = cli(&names, "status", &[]);
    out.expect_code(0);
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with("lua1"))
        .unwrap_or_else(|| panic!("no row for lua1:\n{}", out.stdout));
    assert!(row.contains("reachable"), "{row}");

    // Once the node is gone: exit 3, unreachable.
    lua.kill();
    let out = cli(&names, "call", &["lua1", "@callee", "echo", "1"]);
    out.expect_code(3);
    assert!(out.stderr.contains("cannot connect"), "{}", out.stderr);
    cli(&names, "status", &[]).expect_code(3);
}
