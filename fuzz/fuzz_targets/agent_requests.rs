//! The request path of an agent, end to end: arbitrary bytes from a peer
//! over real loopback TCP into a node with a few services, replies read
//! back. The node must never panic, must close or answer every connection,
//! and must keep serving the next input.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use skycluster::{Cluster, Config, HandlerError, Options, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

struct Node {
    runtime: Runtime,
    addr: SocketAddr,
}

fn node() -> &'static Node {
    static NODE: OnceLock<Node> = OnceLock::new();
    NODE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let addr = runtime.block_on(async {
            let options = Options::default().with_frame_timeout(Duration::from_millis(50));
            let cluster = Cluster::with_options(Config::new(), options);
            cluster.set_name("fuzz").expect("name");
            let addr = cluster.listen("127.0.0.1:0").await.expect("listen");
            let echo = cluster.spawn_handler(|req: Request| async move {
                Ok::<_, HandlerError>(req.into_payload())
            });
            cluster.register_name("echo", echo).expect("register");
            cluster.name(".echo", echo).expect("name");
            let fail = cluster.spawn_handler(|_req: Request| async move {
                Err::<Bytes, _>(HandlerError::new("no"))
            });
            cluster.name(".fail", fail).expect("name");
            // Keep the cluster alive for the whole run.
            std::mem::forget(cluster);
            addr
        });
        Node { runtime, addr }
    })
}

fuzz_target!(|data: &[u8]| {
    let node = node();
    node.runtime.block_on(async {
        let mut stream = TcpStream::connect(node.addr).await.expect("the node accepts");
        // The node may close first (a stalled frame); that is an answer.
        let _ = stream.write_all(data).await;
        let _ = stream.shutdown().await;
        let mut sink = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut sink));
        assert!(read.await.is_ok(), "the node neither answered nor closed within 10 s");
    });
});
