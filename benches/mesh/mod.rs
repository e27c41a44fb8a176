//! The mesh runner (`--bin mesh`): N skycluster node processes on this
//! machine, each calling every other, for N = 2, 8, 32 and 64.
//!
//! For each N the parent starts N nodes ([`node`], this binary with
//! `mesh-node`), unpinned, each on a tokio current-thread runtime with
//! default options. They read one clustername file; each listens on an
//! ephemeral port of 127.0.0.1, and once the parent has written every
//! port into the file, each reloads it. Then, with every wait bounded:
//!
//! 1. **Mesh.** Every node calls every other once, all at once: the time
//!    from the parent's `mesh` to the last node's `meshed` is the time
//!    the full mesh (N(N-1) connections) took to connect. Each node then
//!    reports N-1 connected senders and N-1 agents, or the run fails.
//! 2. **Idle.** Resident memory (`VmRSS` from `/proc`) of every node
//!    before the mesh and after it has idled a moment, over the peers:
//!    memory per peer, one sender and one agent; and the CPU the idle
//!    nodes use.
//! 3. **Paced.** Every node calls every peer at a fixed modest rate
//!    (`--rate`, calls a second per ordered pair), one task per peer:
//!    calls/s, p50/p99 over every node's calls, CPU per call (all nodes'
//!    CPU over the calls).
//! 4. **Closed loop.** The same total calls in flight whatever N
//!    (`--inflight`, 256 by default: 128 per node at N = 2, 4 at N = 64),
//!    each task calling one peer in a loop: what the machine can do, the
//!    issue's figure for "64 nodes make at least 0.8 of 2 nodes' calls/s".
//!
//! Every child is killed if the runner fails or panics (each is a
//! [`Proc`], which kills on drop), and each exits by itself when its
//! stdin closes.

mod node;

pub(crate) use node::node_role;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::child::{
    broadcast, gather, strings, Proc, REPLY_TIMEOUT, RESULT_TIMEOUT, START_TIMEOUT,
};
use crate::compare::Flags;
use crate::procfs;
use crate::report::{heading, ratio, si, target, us};
use crate::runs;
use crate::tally::Tally;
use crate::windows::Windows;

/// The node counts.
const NODES: [usize; 4] = [2, 8, 32, 64];
/// How long the mesh may take to form (the nodes' own bound is 60 s).
const MESH_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Clone, Debug)]
struct Settings {
    nodes: Vec<usize>,
    /// Calls a second from each node to each peer, paced.
    rate: u64,
    /// Closed-loop calls in flight over the whole mesh.
    inflight: usize,
    windows: Windows,
}

const USAGE: &str = "usage: mesh [--smoke] [--nodes 2,8,32,64] [--rate 4] [--inflight 256]
            [--warmup-ms N] [--measure-ms N] [--idle-ms N]";

impl Settings {
    fn parse(args: &[String]) -> Result<Settings, String> {
        let flags = Flags::new(args);
        let smoke = flags.has("--smoke");
        let (nodes, rate, inflight) = if smoke {
            (vec![2, 4], 20, 16)
        } else {
            (NODES.to_vec(), 4, 256)
        };
        let settings = Settings {
            nodes: flags.counts("--nodes")?.unwrap_or(nodes),
            rate: flags.parse("--rate")?.unwrap_or(rate),
            inflight: flags.parse("--inflight")?.unwrap_or(inflight),
            windows: Windows::parse(&flags, smoke)?,
        };
        if settings.nodes.is_empty() || settings.nodes.iter().any(|&n| !(2..=128).contains(&n)) {
            return Err("--nodes takes counts of 2 to 128".to_owned());
        }
        if !(1..=1000).contains(&settings.rate) {
            return Err("--rate must be 1 to 1000 calls a second per pair".to_owned());
        }
        if !(1..=4096).contains(&settings.inflight) {
            return Err("--inflight must be 1 to 4096".to_owned());
        }
        Ok(settings)
    }

    /// Closed-loop tasks per node at `n` nodes: the same total whatever
    /// `n`, at least one each.
    fn per_node(&self, n: usize) -> usize {
        (self.inflight / n).max(1)
    }
}

/// One N's figures.
#[derive(Clone, Debug)]
struct MeshSample {
    nodes: usize,
    mesh_ms: f64,
    /// Mean `VmRSS` of a node before the mesh.
    rss_before_kib: f64,
    /// Memory per peer (one sender, one agent) once the mesh idles.
    per_peer_kib: f64,
    /// CPU an idle node uses, per second.
    idle_cpu_us_per_sec: f64,
    paced: Window,
    closed: Window,
}

/// What the nodes did in one measured window, all together.
#[derive(Clone, Debug)]
struct Window {
    calls_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_us_per_call: f64,
    errors: u64,
    first_error: Option<String>,
}

/// The runner's `main`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let Some((settings, exe)) = runs::start(args, USAGE, Settings::parse)? else {
        return Ok(());
    };
    let load_before = procfs::load_average();
    let mut samples = Vec::new();
    let mut failures = Vec::new();
    for &n in &settings.nodes {
        eprintln!("mesh: {n} nodes");
        match run_mesh(&exe, &settings, n) {
            Ok(sample) => {
                for (load, w) in [("paced", &sample.paced), ("closed", &sample.closed)] {
                    runs::note_errors(
                        &mut failures,
                        &format!("{n} nodes, {load}"),
                        w.errors,
                        w.first_error.as_deref(),
                    );
                }
                samples.push(sample);
            }
            Err(e) => failures.push(format!("{n} nodes: {e}")),
        }
    }
    let load_after = procfs::load_average();
    print!("{}", render(&settings, &samples, (load_before, load_after)));
    runs::failed(&failures)
}

/// A directory of its own for one N's clustername file, removed on drop.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(n: usize) -> Result<Scratch, String> {
        let dir = std::env::temp_dir().join(format!("skycluster-mesh-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Scratch { dir })
    }

    /// Writes `text` as the clustername file, whole: a node reading it
    /// sees the old text or the new, never half.
    fn write(&self, text: &str) -> Result<PathBuf, String> {
        let path = self.dir.join("clustername.lua");
        let next = self.dir.join("clustername.lua.new");
        std::fs::write(&next, text)
            .and_then(|()| std::fs::rename(&next, &path))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn total_cpu(nodes: &[Proc]) -> Result<Duration, String> {
    nodes.iter().map(Proc::cpu).sum()
}

fn total_rss(nodes: &[Proc]) -> Result<u64, String> {
    nodes.iter().map(Proc::rss_kib).sum()
}

fn run_mesh(exe: &Path, settings: &Settings, n: usize) -> Result<MeshSample, String> {
    let scratch = Scratch::new(n)?;
    // No addresses yet: every node picks its own port first.
    let config = scratch.write("__nowaiting = true\n")?;
    let config = config.display().to_string();
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let args = strings(&["mesh-node", "--name", &format!("n{i}"), "--config", &config]);
        nodes.push(Proc::spawn(exe, None, &args, format!("node n{i} of {n}"))?);
    }
    let addrs = gather(&mut nodes, "listening ", START_TIMEOUT)?;
    let mut text = String::from("-- written by the mesh runner\n__nowaiting = true\n");
    for (i, addr) in addrs.iter().enumerate() {
        text += &format!("n{i} = \"{addr}\"\n");
    }
    scratch.write(&text)?;
    broadcast(&mut nodes, "reload")?;
    gather(&mut nodes, "reloaded", REPLY_TIMEOUT)?;

    let rss_before = total_rss(&nodes)?;
    let started = Instant::now();
    broadcast(&mut nodes, "mesh")?;
    gather(&mut nodes, "meshed", MESH_TIMEOUT)?;
    let mesh_ms = started.elapsed().as_secs_f64() * 1e3;
    broadcast(&mut nodes, "status")?;
    for (i, status) in gather(&mut nodes, "status ", REPLY_TIMEOUT)?
        .iter()
        .enumerate()
    {
        let counts: Vec<usize> = status
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        if counts != [n - 1, n - 1] {
            return Err(format!(
                "node n{i}: `{status}` connected senders and agents, expected {0} of each",
                n - 1
            ));
        }
    }

    let cpu0 = total_cpu(&nodes)?;
    std::thread::sleep(Duration::from_millis(settings.windows.idle_ms));
    let cpu1 = total_cpu(&nodes)?;
    let rss_idle = total_rss(&nodes)?;
    let idle_secs = (settings.windows.idle_ms as f64 / 1e3).max(1e-3);

    let paced = window(&mut nodes, &format!("paced {}", settings.rate), settings)?;
    let closed = window(
        &mut nodes,
        &format!("closed {}", settings.per_node(n)),
        settings,
    )?;
    broadcast(&mut nodes, "exit")?;
    for node in nodes {
        node.finish()?;
    }
    Ok(MeshSample {
        nodes: n,
        mesh_ms,
        rss_before_kib: rss_before as f64 / n as f64,
        per_peer_kib: (rss_idle as f64 - rss_before as f64) / (n * (n - 1)) as f64,
        idle_cpu_us_per_sec: cpu1.saturating_sub(cpu0).as_secs_f64() * 1e6 / n as f64 / idle_secs,
        paced,
        closed,
    })
}

/// Starts `load` on every node, warms up, and measures one window.
fn window(nodes: &mut [Proc], load: &str, settings: &Settings) -> Result<Window, String> {
    broadcast(nodes, load)?;
    gather(nodes, "started", REPLY_TIMEOUT)?;
    std::thread::sleep(Duration::from_millis(settings.windows.warmup_ms));
    broadcast(nodes, "measure")?;
    let cpu0 = total_cpu(nodes)?;
    std::thread::sleep(Duration::from_millis(settings.windows.measure_ms));
    let cpu1 = total_cpu(nodes)?;
    broadcast(nodes, "stop")?;
    let mut all = Tally::default();
    let mut calls_per_sec = 0.0;
    for line in gather(nodes, "result ", RESULT_TIMEOUT)? {
        let tally = Tally::decode(&line)?;
        calls_per_sec += tally.calls as f64 / tally.secs.max(1e-9);
        all.merge(&tally);
    }
    Ok(Window {
        calls_per_sec,
        p50_us: all.latency.percentile(50) as f64 / 1e3,
        p99_us: all.latency.percentile(99) as f64 / 1e3,
        cpu_us_per_call: cpu1.saturating_sub(cpu0).as_secs_f64() * 1e6 / all.calls.max(1) as f64,
        errors: all.errors,
        first_error: all.first_error,
    })
}

fn render(settings: &Settings, samples: &[MeshSample], load: (Option<f64>, Option<f64>)) -> String {
    let mut out = heading("skycluster mesh", load);
    out += &format!(
        "one run per N; nodes unpinned, current-thread runtimes, default options; {} ms idle, \
         {} ms warm-up, {} ms measured\n\n",
        settings.windows.idle_ms, settings.windows.warmup_ms, settings.windows.measure_ms
    );
    out += "| nodes | connections | full mesh in ms | VmRSS per node before, KiB | KiB per peer (a sender and an agent), idle | idle CPU per node, µs/s |\n";
    out += "| --- | --- | --- | --- | --- | --- |\n";
    for s in samples {
        out += &format!(
            "| {} | {} | {:.1} | {:.0} | {:.1} | {:.0} |\n",
            s.nodes,
            s.nodes * (s.nodes - 1),
            s.mesh_ms,
            s.rss_before_kib,
            s.per_peer_kib,
            s.idle_cpu_us_per_sec,
        );
    }
    out += "\n| nodes | load | calls in flight | calls/s | p50 µs | p99 µs | CPU µs/call, all nodes |\n";
    out += "| --- | --- | --- | --- | --- | --- | --- |\n";
    for s in samples {
        let n = s.nodes;
        let offered = settings.rate as f64 * (n * (n - 1)) as f64;
        let rows = [
            (
                format!(
                    "paced, {}/s per pair ({}/s offered)",
                    settings.rate,
                    si(offered)
                ),
                "≤ 1 per pair".to_owned(),
                &s.paced,
            ),
            (
                "closed loop".to_owned(),
                (settings.per_node(n) * n).to_string(),
                &s.closed,
            ),
        ];
        for (load, inflight, w) in rows {
            out += &format!(
                "| {n} | {load} | {inflight} | {} | {} | {} | {:.2} |\n",
                si(w.calls_per_sec),
                us(w.p50_us),
                us(w.p99_us),
                w.cpu_us_per_call,
            );
        }
    }
    out += &targets(settings, samples);
    out
}

/// The targets, at the most nodes of this run against the fewest.
fn targets(settings: &Settings, samples: &[MeshSample]) -> String {
    let most = samples.iter().max_by_key(|s| s.nodes);
    let fewest = samples.iter().min_by_key(|s| s.nodes);
    // Memory per peer against a run of at least 8 nodes where there is
    // one: with one or three peers, a page more or less is most of it.
    let reference = samples
        .iter()
        .filter(|s| Some(s.nodes) != most.map(|m| m.nodes))
        .min_by_key(|s| (s.nodes < 8, s.nodes));
    let n = |s: Option<&MeshSample>| s.map_or("?".to_owned(), |s| s.nodes.to_string());
    let mut lines = vec![
        target(
            &format!(
                "N={}: memory per idle peer (one sender and one agent) <= 32 KiB (16 KiB each side)",
                n(most)
            ),
            most.map(|s| s.per_peer_kib),
            |v| v <= 32.0,
        ),
        target(
            &format!(
                "memory per peer N={} / N={} <= 1.5 (nothing grows with N but the connections)",
                n(most),
                n(reference)
            ),
            ratio(
                most.map(|s| s.per_peer_kib),
                reference.map(|s| s.per_peer_kib),
            ),
            |v| v <= 1.5,
        ),
    ];
    let same = most.zip(fewest).filter(|(m, f)| m.nodes != f.nodes);
    let (m, f) = match same {
        Some((m, f)) => (Some(m), Some(f)),
        None => (None, None),
    };
    let inflight = |s: Option<&MeshSample>| {
        s.map_or("?".to_owned(), |s| {
            (settings.per_node(s.nodes) * s.nodes).to_string()
        })
    };
    lines.push(target(
        &format!(
            "closed-loop calls/s N={} / N={} at the same calls in flight ({} and {}) >= 0.8",
            n(m),
            n(f),
            inflight(m),
            inflight(f),
        ),
        ratio(
            m.map(|s| s.closed.calls_per_sec),
            f.map(|s| s.closed.calls_per_sec),
        ),
        |v| v >= 0.8,
    ));
    format!("\nTargets (same run):\n{}\n", lines.join("\n"))
}
