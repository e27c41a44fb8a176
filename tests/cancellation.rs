//! Cancellation between Rust nodes: a caller that drops a call tells the
//! callee (a `0x07` frame, only to a node that offered it), which drops
//! the handler's future; a burst of 10,000 dropped calls leaves nothing
//! running on the callee; pushes are never cancelled.

mod support;

use std::time::Duration;

use skycluster::{Cluster, Config, Options};
use tokio::sync::mpsc;

use support::node::{bounded, client};

#[skycluster::service]
trait Worker {
    /// Whether the call came with a deadline: the sign that the caller's
    /// connection agreed on extensions.
    async fn extended(&self) -> bool;
    /// Says it started, then works until dropped.
    async fn hold(&self, id: u32) -> u32;
    /// Says it arrived.
    #[push]
    async fn note(&self, id: u32);
}

/// Sends `id` when dropped.
struct Guard(u32, mpsc::UnboundedSender<u32>);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.1.send(self.0);
    }
}

struct Work {
    started: mpsc::UnboundedSender<u32>,
    dropped: mpsc::UnboundedSender<u32>,
    noted: mpsc::UnboundedSender<u32>,
}

#[skycluster::async_trait]
impl Worker for Work {
    async fn extended(&self) -> bool {
        skycluster::deadline().is_some()
    }

    async fn hold(&self, id: u32) -> u32 {
        let _guard = Guard(id, self.dropped.clone());
        let _ = self.started.send(id);
        std::future::pending::<()>().await;
        id
    }

    async fn note(&self, id: u32) {
        let _ = self.noted.send(id);
    }
}

struct Fixture {
    server: Cluster,
    caller: Cluster,
    started: mpsc::UnboundedReceiver<u32>,
    dropped: mpsc::UnboundedReceiver<u32>,
    noted: mpsc::UnboundedReceiver<u32>,
}

async fn fixture(server_options: Options) -> Fixture {
    let server = Cluster::with_options(Config::new(), server_options);
    let addr = bounded("listen", server.listen("127.0.0.1:0"))
        .await
        .expect("listen");
    let (started_tx, started) = mpsc::unbounded_channel();
    let (dropped_tx, dropped) = mpsc::unbounded_channel();
    let (noted_tx, noted) = mpsc::unbounded_channel();
    let handle = server.spawn::<dyn Worker>(Work {
        started: started_tx,
        dropped: dropped_tx,
        noted: noted_tx,
    });
    server.register::<dyn Worker>(handle).expect("register");
    let caller = client(&[("worker", addr)], Options::default());
    let fixture = Fixture {
        server,
        caller,
        started,
        dropped,
        noted,
    };
    // The connection agrees on extensions with its first answers: call
    // until a call arrives with a deadline. Bounded.
    let worker = fixture.worker();
    for _ in 0..100 {
        if bounded("extended", worker.extended()).await.expect("call") {
            return fixture;
        }
    }
    panic!("the connection never agreed on extensions in 100 round trips");
}

impl Fixture {
    fn worker(&self) -> WorkerClient {
        self.caller.proxy::<dyn Worker>("worker", "@Worker")
    }

    /// Requests the server's listener is handling now.
    fn running(&self) -> usize {
        self.server.status().listeners[0].requests
    }
}

#[tokio::test]
async fn a_dropped_call_drops_the_handler_on_the_callee() {
    let mut f = fixture(Options::default()).await;
    let worker = f.worker();
    let call = tokio::spawn(async move { worker.hold(7).await });
    assert_eq!(bounded("started", f.started.recv()).await, Some(7));
    call.abort();
    assert_eq!(bounded("dropped", f.dropped.recv()).await, Some(7));
    assert!(call.await.expect_err("aborted").is_cancelled());

    // The connection goes on, and a call that is not dropped is not.
    let worker = f.worker().with_timeout(Duration::from_secs(30));
    let kept = tokio::spawn(async move { worker.hold(8).await });
    assert_eq!(bounded("started", f.started.recv()).await, Some(8));
    assert_eq!(f.running(), 1);
    assert!(f.dropped.try_recv().is_err(), "a call nobody dropped was");
    kept.abort();
    assert_eq!(bounded("dropped", f.dropped.recv()).await, Some(8));
}

#[tokio::test]
async fn ten_thousand_dropped_calls_leave_nothing_running() {
    const CALLS: u32 = 10_000;
    // Room for all of them at once on the one connection.
    let mut f = fixture(Options::default().with_max_in_flight(20_000)).await;
    let calls: Vec<_> = (0..CALLS)
        .map(|id| {
            let worker = f.worker();
            tokio::spawn(async move { worker.hold(id).await })
        })
        .collect();
    for _ in 0..CALLS {
        bounded("started", f.started.recv()).await.expect("started");
    }
    assert_eq!(f.running(), CALLS as usize);
    for call in &calls {
        call.abort();
    }
    let mut dropped = vec![false; CALLS as usize];
    for _ in 0..CALLS {
        let id = bounded("dropped", f.dropped.recv()).await.expect("dropped");
        assert!(
            !std::mem::replace(&mut dropped[id as usize], true),
            "{id} twice"
        );
    }
    assert!(dropped.iter().all(|d| *d));
    // The running set lets a cancelled request go as it is next polled.
    for _ in 0..100 {
        if f.running() == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(f.running(), 0);
    // And the connection still answers.
    assert!(bounded("extended", f.worker().extended())
        .await
        .expect("call"));
}

#[tokio::test]
async fn pushes_are_never_cancelled() {
    let mut f = fixture(Options::default()).await;
    let worker = f.worker();
    for id in 0..100 {
        worker.note(id).expect("queued");
    }
    drop(worker);
    for id in 0..100 {
        assert_eq!(bounded("noted", f.noted.recv()).await, Some(id));
    }
}
