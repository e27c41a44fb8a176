//! The services every test node hosts, shared by in-process nodes
//! (`support::node`) and the `test_node` process.

use std::time::Duration;

use bytes::Bytes;
use skycluster::{Cluster, HandlerError, Request};

/// Installs `@echo` (also `.echo`), which replies with its payload;
/// `.slow`, whose payload is the milliseconds to wait before echoing; and
/// `.fail`, which always fails with `room is full`.
pub fn install(cluster: &Cluster) -> skycluster::Result<()> {
    let echo = cluster
        .spawn_handler(|req: Request| async move { Ok::<_, HandlerError>(req.into_payload()) });
    cluster.register_name("echo", echo)?;
    cluster.name(".echo", echo)?;
    let slow = cluster.spawn_handler(|req: Request| async move {
        let text = String::from_utf8_lossy(req.payload()).into_owned();
        let ms: u64 = text
            .parse()
            .map_err(|_| HandlerError::new("not a number"))?;
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(req.into_payload())
    });
    cluster.name(".slow", slow)?;
    let fail = cluster.spawn_handler(|_req: Request| async move {
        Err::<Bytes, _>(HandlerError::new("room is full"))
    });
    cluster.name(".fail", fail)?;
    Ok(())
}
