//! The seed's `safe_call`: a remote call with a timeout and a fallback.
//!
//! In Lua, `pcall(cluster.call, ...)` catches the error and the caller
//! degrades gracefully. Here every call already returns a `Result` whose
//! error says what went wrong (timeout, node down, service error), and
//! `with_timeout` bounds how long we are willing to wait.

use std::future::Future;
use std::time::Duration;

use skycluster::{CallError, Cluster};

#[skycluster::service]
pub trait Ranking {
    /// The top players; `delay_ms` stands in for a slow database.
    async fn top(&self, delay_ms: u64) -> Vec<String>;
}

struct Live;

#[skycluster::async_trait]
impl Ranking for Live {
    async fn top(&self, delay_ms: u64) -> Vec<String> {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        vec!["alice".to_owned(), "bob".to_owned()]
    }
}

/// Awaits `call`; on any failure, logs why and returns `fallback()`.
async fn safe_call<T>(
    what: &str,
    call: impl Future<Output = Result<T, CallError>>,
    fallback: impl FnOnce() -> T,
) -> T {
    match call.await {
        Ok(value) => value,
        Err(e) => {
            // `e` names node, address and method, and says why: the
            // information Skynet reduces to "call failed".
            println!("  {what} failed ({}), using the fallback", e.kind());
            fallback()
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = examples::Scratch::new("safe_call")?;
    // `gone` is configured but never started: connecting to it fails.
    let config = scratch.clustername(&["game1", "rank", "gone"])?;

    let rank = Cluster::load(&config)?;
    rank.open("rank").await?;
    let live = rank.spawn::<dyn Ranking>(Live);
    rank.register::<dyn Ranking>(live)?;

    let game1 = Cluster::load(&config)?;
    game1.open("game1").await?;
    // A client that gives up after 200 ms instead of the default 30 s.
    let ranking = game1
        .proxy::<dyn Ranking>("rank", "@Ranking")
        .with_timeout(Duration::from_millis(200));
    let cached = || vec!["(cached) alice".to_owned()];

    println!("fast reply:");
    let top = safe_call("rank.top", ranking.top(10), cached).await;
    println!("  top = {top:?}");
    assert_eq!(top.len(), 2);

    println!("slow reply (500 ms > 200 ms timeout):");
    let top = safe_call("rank.top", ranking.top(500), cached).await;
    println!("  top = {top:?}");
    assert_eq!(top, cached());

    println!("node down:");
    let nobody = game1.proxy::<dyn Ranking>("gone", "@Ranking");
    let top = safe_call("gone.top", nobody.top(0), cached).await;
    println!("  top = {top:?}");
    assert_eq!(top, cached());

    game1.shutdown(Duration::from_secs(1)).await;
    // The timed-out call is still sleeping on `rank`; the grace period
    // lets it finish.
    rank.shutdown(Duration::from_secs(1)).await;
    Ok(())
}
