//! A Lua Skynet node in a cluster whose membership lives in etcd: it
//! reads `skycluster export`'s clustername file with `cluster.reload` and
//! calls a Rust node that only etcd knows of.
//!
//! Needs `SKYNET_HOME` (see `tests/lua/README.md`) and `SKYCLUSTER_ETCD`
//! (a running etcd; `.ci/run` starts one); without them the test is
//! ignored, saying so.

mod support;

use std::time::Duration;

use skycluster::codec::luaseri::Value;
use skycluster::{Cluster, Config, Etcd, Options};
use support::run::run;
use support::skynet::{bounded, control, s, LuaNode, Names, LIMIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(skynet, etcd)),
    ignore = "needs SKYNET_HOME and SKYCLUSTER_ETCD: a built Skynet tree and a running etcd (see tests/lua/README.md, .ci/run)"
)]
async fn a_lua_node_reloads_the_etcd_export_and_calls_a_node_only_etcd_knows() {
    let url = std::env::var("SKYCLUSTER_ETCD").expect("SKYCLUSTER_ETCD is set (cfg(etcd))");
    let names = Names::new("sk-etcd-export");
    let lua = LuaNode::start(&names, "lua1").await;
    // The test's own client knows the Lua node from the clustername file.
    let client = Cluster::new(names.config());

    // A Rust node that only etcd lists.
    let etcd = Etcd::new([url.clone()])
        .with_prefix(format!(
            "/skycluster-test/{}/skynet-export/",
            std::process::id()
        ))
        .with_ttl(Duration::from_secs(2));
    let rust = Cluster::with_options(Config::new(), Options::default());
    rust.set_name("etcd1").expect("fresh cluster");
    bounded("listen", rust.listen("127.0.0.1:0"))
        .await
        .expect("listen");
    support::services::install(&rust).expect("services");
    bounded("join", rust.join(etcd.clone()))
        .await
        .expect("join etcd");

    // Before: the Lua node does not know etcd1.
    let before = control(&client, &lua, "call", &[s("etcd1"), s("@echo"), s("hi")]).await;
    assert_eq!(before.first(), Some(&Value::Boolean(false)), "{before:?}");

    // `skycluster export` writes the membership over the Lua node's
    // clustername file; `cluster.reload()` reads it.
    let out = names.path().display().to_string();
    let args = [
        "export",
        "--etcd",
        url.as_str(),
        "--prefix",
        etcd.prefix(),
        "--out",
        out.as_str(),
    ];
    let ran =
        tokio::task::block_in_place(|| run(env!("CARGO_BIN_EXE_cli_skycluster"), &args, LIMIT));
    ran.expect_code(0);
    assert!(ran.stdout.contains("wrote 1 node"), "{}", ran.stdout);
    let reloaded = control(&client, &lua, "reload", &[]).await;
    assert_eq!(
        reloaded.first(),
        Some(&Value::Boolean(true)),
        "{reloaded:?}"
    );

    let after = control(&client, &lua, "call", &[s("etcd1"), s("@echo"), s("hi")]).await;
    assert_eq!(after, [Value::Boolean(true), s("hi")]);
    rust.shutdown(Duration::from_secs(5)).await;
}
