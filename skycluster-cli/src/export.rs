//! `skycluster export`: the membership etcd holds, written as a
//! clustername file, so that Lua Skynet nodes (which read only such files)
//! can `cluster.reload` from it. Once, or with `--watch` on every change.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use skycluster::{Cluster, Config, Etcd};

use crate::{chain, Failure};

/// Writes the membership under `prefix` at `endpoint` to `out`; with
/// `watch`, again on every change until the process is stopped (or, for
/// tests, after `max_writes` writes).
pub(crate) async fn run(
    endpoint: &str,
    prefix: &str,
    out: &Path,
    watch: bool,
    max_writes: Option<u64>,
    timeout: Duration,
) -> Result<ExitCode, Failure> {
    let etcd = Etcd::new([endpoint])
        .with_prefix(prefix)
        .with_request_timeout(timeout);
    let write = |config: &Config| {
        config
            .write_clustername(out)
            .map_err(|e| Failure::Usage(chain(&e)))?;
        println!(
            "wrote {} nodes to {}",
            config.nodes().count(),
            out.display()
        );
        Ok::<(), Failure>(())
    };
    if !watch {
        let config = etcd
            .read()
            .await
            .map_err(|e| Failure::Unreachable(chain(&e)))?;
        write(&config)?;
        return Ok(ExitCode::SUCCESS);
    }
    // A node that only watches: it publishes nothing.
    let cluster = Cluster::new(Config::new());
    cluster
        .join(etcd)
        .await
        .map_err(|e| Failure::Unreachable(chain(&e)))?;
    let mut written = 0u64;
    loop {
        let changed = cluster.membership_changed();
        write(&cluster.membership())?;
        written += 1;
        if max_writes.is_some_and(|max| written >= max) {
            return Ok(ExitCode::SUCCESS);
        }
        changed.await;
    }
}
