//! `Cluster::query::<dyn S>` inside `Send` futures (spawned tasks, service
//! methods): a regression test that fails to compile if the returned future
//! names `dyn S` with a lifetime rustc cannot generalise.

mod support;

use std::sync::Arc;

use skycluster::Options;

use support::node::{bounded, client, echo_server};

#[skycluster::service]
pub trait Counter {
    async fn add(&self, a: i64, b: i64) -> i64;
}

struct Adder;

#[skycluster::async_trait]
impl Counter for Adder {
    async fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }
}

#[tokio::test]
async fn a_typed_query_can_run_in_a_spawned_task() {
    let (server, addr) = echo_server("battle1", Options::default()).await;
    let handle = server.spawn::<dyn Counter>(Arc::new(Adder));
    server.register::<dyn Counter>(handle).expect("register");
    let game = client(&[("battle1", addr)], Options::default());
    let task = tokio::spawn(async move {
        let counter = game.query::<dyn Counter>("battle1").await?;
        counter.add(2, 3).await
    });
    let sum = bounded("spawned query", task).await.expect("task");
    assert_eq!(sum.expect("typed call"), 5);
}
