//! The listener's accept queue: a burst of connects that arrives while
//! the node is busy waits in the kernel's queue (`Options::listen_backlog`)
//! instead of losing its SYNs and stalling a second for each retransmit.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use skycluster::{Cluster, Config, Options};

/// Well below the one second a lost SYN waits before it is sent again.
const CONNECT_LIMIT: Duration = Duration::from_millis(400);

/// A node listening on a runtime nobody drives after `listen` returns:
/// its accept loop never runs, so every connect stays in the queue.
fn stalled_node(options: Options) -> (tokio::runtime::Runtime, Cluster, SocketAddr) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cluster = Cluster::with_options(Config::new(), options);
    let addr = runtime
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(10), cluster.listen("127.0.0.1:0")).await
        })
        .expect("listen in time")
        .expect("listen");
    (runtime, cluster, addr)
}

/// Opens `n` connections one after another; how many completed their
/// handshake within [`CONNECT_LIMIT`].
fn connects(addr: SocketAddr, n: usize) -> (usize, Vec<TcpStream>) {
    let mut held = Vec::new();
    for _ in 0..n {
        match TcpStream::connect_timeout(&addr, CONNECT_LIMIT) {
            Ok(stream) => held.push(stream),
            Err(_) => break,
        }
    }
    (held.len(), held)
}

#[test]
fn six_hundred_connects_at_once_wait_in_the_default_queue() {
    let (_runtime, _cluster, addr) = stalled_node(Options::default());
    // tokio's own bind asks for a queue of 128: the 130th connect would
    // lose its SYN here.
    let (done, _held) = connects(addr, 600);
    assert_eq!(done, 600, "the listen queue held only {done} connects");
}

#[test]
fn a_small_backlog_is_the_one_asked_for() {
    // The control: with room for 32, a burst of 200 does not all fit, so
    // the queue above is the option's doing.
    let (_runtime, _cluster, addr) = stalled_node(Options::default().with_listen_backlog(32));
    let (done, _held) = connects(addr, 200);
    assert!(done < 200, "all 200 connects fit in a queue of 32");
    assert!(done >= 32, "only {done} connects fit in a queue of 32");
}
