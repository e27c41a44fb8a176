//! `Cluster::pool` over a Lua Skynet node and a Rust node that both
//! register the same name: the pool finds both with name queries (which
//! Skynet's clusterd answers) and spreads its calls over them.
//!
//! Needs `SKYNET_HOME` (see `tests/lua/README.md`); without it the test
//! is ignored, saying so.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use skycluster::{HandlerError, Options, Request};
use support::skynet::{bounded, client, join, pack, rust_node, s, unpack, LuaNode, Names};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_pool_spreads_over_a_lua_node_and_a_rust_node_serving_one_name() {
    let names = Names::new("sk-pool");
    // The Rust side of `callee`: answers `echo` as the Lua one does (its
    // arguments back), and counts.
    let rust = rust_node(&names, "rust1", Options::default()).await;
    let served = Arc::new(AtomicUsize::new(0));
    let echo = rust.spawn_handler({
        let served = Arc::clone(&served);
        move |req: Request| {
            served.fetch_add(1, Ordering::Relaxed);
            let values = unpack(req.payload());
            async move { Ok::<_, HandlerError>(pack(values.get(1..).unwrap_or_default())) }
        }
    });
    rust.register_name("callee", echo).expect("register");
    let _lua = LuaNode::start(&names, "lua1").await;
    join(&rust, &names);

    let game = client(&names, "game1");
    let pool = game.pool_endpoint("callee");
    const CALLS: usize = 60;
    for i in 0..CALLS {
        let reply = bounded(
            "pool call",
            pool.call(pack(&[s("echo"), s(&format!("{i}"))])),
        )
        .await
        .unwrap_or_else(|e| panic!("call {i}: {e}"));
        assert_eq!(unpack(&reply), [s(&format!("{i}"))]);
    }
    assert_eq!(
        pool.pool_nodes(),
        Some(vec!["lua1".to_owned(), "rust1".to_owned()])
    );
    // Both served: about half each, and far from none.
    let by_rust = served.load(Ordering::Relaxed);
    assert!(
        (10..=CALLS - 10).contains(&by_rust),
        "rust1 served {by_rust} of {CALLS}"
    );
}
