//! The membership runner (`--bin membership`): how fast a cluster fed by
//! etcd sees a node arrive, and a dead one go. Needs a running etcd
//! (`--etcd URL`, or `SKYCLUSTER_ETCD`); each run uses a key prefix of its
//! own, and every node it starts leaves (its lease revoked) at the end.
//!
//! 1. **Join → callable.** N nodes join and see each other; then, `--reps`
//!    times, one more node joins. Measured from `Cluster::join` starting,
//!    and from it returning (the lease granted and the node's key put),
//!    until *every* one of the N has it in its membership and has had a
//!    call to it answered. The N nodes and the newcomer run in this
//!    process, on one runtime, each with its own `Cluster`: what is
//!    measured is etcd's watch, the membership path and a first connect,
//!    not the network between hosts.
//! 2. **Killed → dropped.** A node in a child process (this binary with
//!    the `membership-node` role) joins with a lease of `--ttl-secs`, is
//!    seen by the N, and is SIGKILLed: from the kill until every one of
//!    the N has dropped it, against the TTL. Nothing revokes its lease, so
//!    only its expiry removes it.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use skycluster::{Cluster, Config, Etcd, HandlerError, Request};

use crate::child::{Proc, START_TIMEOUT};
use crate::compare::Flags;
use crate::procfs;
use crate::report::heading;
use crate::runs;

/// The cluster sizes.
const NODES: [usize; 3] = [8, 32, 100];
/// Longest any one wait may take: a join, everyone seeing a change.
const WAIT: Duration = Duration::from_secs(60);
/// The longest a `membership-node` child lives, whatever its parent does.
const LIFETIME: Duration = Duration::from_secs(10 * 60);

const USAGE: &str = "usage: membership [--etcd URL] [--nodes 8,32,100] [--reps 5] [--ttl-secs 2]
  --etcd      an etcd v3 client URL on loopback (default: $SKYCLUSTER_ETCD)";

struct Settings {
    etcd: String,
    nodes: Vec<usize>,
    reps: usize,
    ttl: Duration,
}

impl Settings {
    fn parse(args: &[String]) -> Result<Settings, String> {
        let flags = Flags::new(args);
        let etcd = match flags.parse::<String>("--etcd")? {
            Some(url) => url,
            None => std::env::var("SKYCLUSTER_ETCD")
                .map_err(|_| "no etcd: give --etcd URL or set SKYCLUSTER_ETCD".to_owned())?,
        };
        let nodes = match flags.parse::<String>("--nodes")? {
            Some(list) => list
                .split(',')
                .map(|n| {
                    n.trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=500).contains(n))
                        .ok_or_else(|| format!("--nodes: `{n}` is not a count from 1 to 500"))
                })
                .collect::<Result<_, _>>()?,
            None => NODES.to_vec(),
        };
        let reps = flags.parse("--reps")?.unwrap_or(5);
        if !(1..=50).contains(&reps) {
            return Err("--reps must be 1 to 50".to_owned());
        }
        let ttl_secs: u64 = flags.parse("--ttl-secs")?.unwrap_or(2);
        if !(1..=60).contains(&ttl_secs) {
            return Err("--ttl-secs must be 1 to 60".to_owned());
        }
        Ok(Settings {
            etcd,
            nodes,
            reps,
            ttl: Duration::from_secs(ttl_secs),
        })
    }
}

/// The runner's `main`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let Some((settings, exe)) = runs::start(args, USAGE, Settings::parse)? else {
        return Ok(());
    };
    let load_before = procfs::load_average();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for &n in &settings.nodes {
        eprintln!("membership: {n} nodes");
        match runtime.block_on(measure(&exe, &settings, n)) {
            Ok(row) => rows.push((n, row)),
            Err(e) => failures.push(format!("{n} nodes: {e}")),
        }
    }
    let load_after = procfs::load_average();
    print!("{}", render(&settings, &rows, (load_before, load_after)));
    runs::failed(&failures)
}

/// What one cluster size gave.
struct Row {
    /// Per repetition: from `join` starting, and from it returning, until
    /// every node had called the newcomer.
    from_start: Vec<Duration>,
    from_granted: Vec<Duration>,
    /// From the SIGKILL until every node had dropped the killed one.
    dropped: Duration,
}

/// A prefix nobody else uses: this process and a counter.
fn prefix(what: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static RUN: AtomicU32 = AtomicU32::new(0);
    format!(
        "/skycluster-bench/{}/{what}-{}/",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    )
}

/// A node named `name` on an ephemeral loopback port serving `.echo`,
/// joined to `etcd`.
async fn node(name: &str, etcd: &Etcd) -> Result<Cluster, String> {
    let cluster = Cluster::new(Config::new());
    cluster.set_name(name).map_err(|e| format!("{name}: {e}"))?;
    cluster
        .listen("127.0.0.1:0")
        .await
        .map_err(|e| format!("{name}: {e}"))?;
    let echo = cluster
        .spawn_handler(|req: Request| async move { Ok::<_, HandlerError>(req.into_payload()) });
    cluster
        .name(".echo", echo)
        .map_err(|e| format!("{name}: {e}"))?;
    bounded(&format!("{name} joining"), cluster.join(etcd.clone()))
        .await?
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(cluster)
}

/// Awaits `f` for at most [`WAIT`].
async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(WAIT, f)
        .await
        .map_err(|_| format!("{what}: not within {WAIT:?}"))
}

/// Waits until `cluster`'s membership has `node` (or, with `present`
/// false, lacks it).
async fn until_seen(cluster: &Cluster, node: &str, present: bool) {
    loop {
        let changed = cluster.membership_changed();
        if cluster.membership().get(node).is_some() == present {
            return;
        }
        changed.await;
    }
}

/// Waits until every one of `nodes` sees `node` (and, if `call`, has had
/// a call to it answered), or no longer sees it.
async fn everyone(nodes: &[Cluster], node: &str, present: bool, call: bool) -> Result<(), String> {
    let mut waits = tokio::task::JoinSet::new();
    for cluster in nodes {
        let (cluster, node) = (cluster.clone(), node.to_owned());
        waits.spawn(async move {
            until_seen(&cluster, &node, present).await;
            if call {
                cluster
                    .call(&node, ".echo", Bytes::from_static(b"hello"))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            } else {
                Ok(())
            }
        });
    }
    let what = if present {
        "seen by every node"
    } else {
        "dropped by every node"
    };
    bounded(&format!("{node} {what}"), async {
        while let Some(done) = waits.join_next().await {
            done.map_err(|e| format!("a waiting task failed: {e}"))??;
        }
        Ok::<_, String>(())
    })
    .await?
}

async fn measure(exe: &Path, settings: &Settings, n: usize) -> Result<Row, String> {
    let etcd = Etcd::new([settings.etcd.clone()])
        .with_prefix(prefix(&format!("n{n}")))
        .with_ttl(settings.ttl);
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        nodes.push(node(&format!("m{i}"), &etcd).await?);
    }
    for i in 0..n {
        everyone(&nodes, &format!("m{i}"), true, false).await?;
    }
    let outcome = measure_on(exe, settings, &etcd, &nodes).await;
    for cluster in &nodes {
        cluster.shutdown(Duration::from_secs(2)).await;
    }
    outcome
}

async fn measure_on(
    exe: &Path,
    settings: &Settings,
    etcd: &Etcd,
    nodes: &[Cluster],
) -> Result<Row, String> {
    let mut row = Row {
        from_start: Vec::new(),
        from_granted: Vec::new(),
        dropped: Duration::ZERO,
    };
    for rep in 0..settings.reps {
        let name = format!("joiner{rep}");
        let started = Instant::now();
        let joiner = node(&name, etcd).await?;
        let granted = Instant::now();
        everyone(nodes, &name, true, true).await?;
        let done = Instant::now();
        row.from_start.push(done - started);
        row.from_granted.push(done - granted);
        // It leaves (lease revoked) before the next one comes.
        joiner.shutdown(Duration::from_secs(2)).await;
        everyone(nodes, &name, false, false).await?;
    }

    // A node in a process of its own, killed: only its lease's expiry
    // removes it.
    let args = [
        "membership-node".to_owned(),
        settings.etcd.clone(),
        etcd.prefix().to_owned(),
        "victim".to_owned(),
        settings.ttl.as_secs().to_string(),
    ];
    let mut victim = Proc::spawn(exe, None, &args, "membership-node victim".to_owned())?;
    victim.expect("ready", START_TIMEOUT)?;
    everyone(nodes, "victim", true, true).await?;
    let killed = Instant::now();
    drop(victim);
    everyone(nodes, "victim", false, false).await?;
    row.dropped = killed.elapsed();
    Ok(row)
}

/// The `membership-node` role: joins etcd at `URL` under `PREFIX` as
/// `NAME` with a lease of `TTL` seconds, says `ready`, and stays until its
/// stdin closes (or it is killed, which is the point).
pub(crate) fn node_role(args: &[String]) -> Result<(), String> {
    let [url, prefix, name, ttl] = args else {
        return Err("usage: membership-node URL PREFIX NAME TTL_SECS".to_owned());
    };
    let ttl: u64 = ttl
        .parse()
        .map_err(|_| format!("TTL_SECS: `{ttl}` is not a number"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    runtime.block_on(async {
        let etcd = Etcd::new([url.clone()])
            .with_prefix(prefix.clone())
            .with_ttl(Duration::from_secs(ttl));
        let _cluster = node(name, &etcd).await?;
        // The parent's lines: none are expected; stdin closing (the
        // parent gone) ends the process, and so does a lifetime's end.
        let mut commands = crate::calls::commands();
        println!("ready");
        let _ = tokio::time::timeout(LIFETIME, commands.recv()).await;
        Ok(())
    })
}

fn render(settings: &Settings, rows: &[(usize, Row)], load: (Option<f64>, Option<f64>)) -> String {
    let mut out = heading("skycluster membership from etcd", load);
    out += &format!(
        "{} joins per size (median, max), all nodes in one process; a killed node's lease {} s\n\n",
        settings.reps,
        settings.ttl.as_secs()
    );
    out += "| nodes | join start → every node called it, ms | lease granted → every node called it, ms | killed → dropped by every node, s | dropped / TTL |\n";
    out += "| --- | --- | --- | --- | --- |\n";
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median_max = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        match (v.get(v.len() / 2), v.last()) {
            (Some(m), Some(x)) => format!("{:.1} ({:.1})", ms(*m), ms(*x)),
            _ => "–".to_owned(),
        }
    };
    for (n, row) in rows {
        out += &format!(
            "| {n} | {} | {} | {:.2} | {:.2} |\n",
            median_max(&row.from_start),
            median_max(&row.from_granted),
            row.dropped.as_secs_f64(),
            row.dropped.as_secs_f64() / settings.ttl.as_secs_f64(),
        );
    }
    out
}
