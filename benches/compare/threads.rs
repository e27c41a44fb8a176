//! The threads runner (`--bin threads`): one skycluster server node on a
//! current-thread runtime, and on the multi-thread runtime
//! `#[cluster_main]` builds with 1 and 2 worker threads, served from 1, 4
//! and 64 client connections with C = 256 calls in flight in total (W1's
//! 16-byte echo).
//!
//! Each run is a `compare` pair ([`super::runner::run_pair`]): a server
//! process (`serve --threads N`) and a client process (`client
//! --connections K`, the driver's 256 tasks spread evenly over K
//! connections of one client node). The client runs on a current-thread
//! runtime pinned to core 1 (`--client-threads N`: a multi-thread one,
//! on both cores for N > 1). A current-thread or 1-worker server is pinned
//! to core 0; a 2-worker server may run on both cores, the second shared
//! with the client: that is the question on a 2-core machine, whether a
//! second worker adds throughput or only overhead. A client on one core
//! that needs more CPU per call than the server caps what any server
//! runtime can show; the client's CPU per call in the table says whether
//! it did.
//!
//! Repetitions are the outer loop, then connections, then runtimes, so the
//! runs a ratio compares are close in time.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use super::runner::{cell, cpu, run_pair, Pair, Sample, Spread};
use super::{Flags, System, Workload};
use crate::child::{strings, taskset_works};
use crate::procfs;
use crate::report::{heading, ratio, show, si, target, us};

/// The connection counts.
const CONNECTIONS: [usize; 3] = [1, 4, 64];
/// Calls in flight in total, over all connections.
const CONCURRENCY: usize = 256;

/// How the server node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ServerRuntime {
    /// A tokio current-thread runtime, as `compare` runs every server.
    Current,
    /// The multi-thread runtime `#[cluster_main]` builds, with this many
    /// worker threads.
    Workers(usize),
}

impl ServerRuntime {
    const ALL: [ServerRuntime; 3] = [
        ServerRuntime::Current,
        ServerRuntime::Workers(1),
        ServerRuntime::Workers(2),
    ];

    /// `serve --threads`: 0 for current-thread.
    fn threads(self) -> usize {
        match self {
            ServerRuntime::Current => 0,
            ServerRuntime::Workers(n) => n,
        }
    }

    /// The CPUs the server may use when pinned: one per worker, from 0,
    /// as far as this machine has them.
    fn cores(self) -> String {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        match self {
            ServerRuntime::Current => "0".to_owned(),
            ServerRuntime::Workers(n) => match n.min(cpus) {
                0 | 1 => "0".to_owned(),
                n => format!("0-{}", n - 1),
            },
        }
    }
}

impl fmt::Display for ServerRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerRuntime::Current => f.write_str("current-thread"),
            ServerRuntime::Workers(1) => f.write_str("multi-thread, 1 worker"),
            ServerRuntime::Workers(n) => write!(f, "multi-thread, {n} workers"),
        }
    }
}

impl FromStr for ServerRuntime {
    type Err = String;

    /// `current`, or a number of worker threads.
    fn from_str(s: &str) -> Result<ServerRuntime, String> {
        match s {
            "current" => Ok(ServerRuntime::Current),
            n => match n.parse::<usize>() {
                Ok(n) if (1..=64).contains(&n) => Ok(ServerRuntime::Workers(n)),
                _ => Err(format!(
                    "unknown runtime `{s}` (current, or 1 to 64 workers)"
                )),
            },
        }
    }
}

/// A connection count, parsed from a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Conns(usize);

impl FromStr for Conns {
    type Err = String;

    fn from_str(s: &str) -> Result<Conns, String> {
        match s.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => Ok(Conns(n)),
            _ => Err(format!("connections `{s}`: 1 to 1000")),
        }
    }
}

#[derive(Clone, Debug)]
struct Settings {
    reps: usize,
    warmup_ms: u64,
    measure_ms: u64,
    concurrency: usize,
    /// The client's worker threads: 0 for current-thread.
    client_threads: usize,
    connections: Vec<usize>,
    runtimes: Vec<ServerRuntime>,
    pin: bool,
}

const USAGE: &str = "usage: threads [--smoke] [--reps N] [--warmup-ms N] [--measure-ms N]
               [--connections 1,4,64] [--runtimes current,1,2] [--conc 256]
               [--client-threads N] [--no-pin]";

impl Settings {
    fn parse(args: &[String]) -> Result<Settings, String> {
        let flags = Flags::new(args);
        let (reps, warmup_ms, measure_ms) = if flags.has("--smoke") {
            (1, 100, 200)
        } else {
            (3, 1000, 3000)
        };
        let all = CONNECTIONS.map(Conns);
        let settings = Settings {
            reps: flags.parse("--reps")?.unwrap_or(reps),
            warmup_ms: flags.parse("--warmup-ms")?.unwrap_or(warmup_ms),
            measure_ms: flags.parse("--measure-ms")?.unwrap_or(measure_ms),
            concurrency: flags.parse("--conc")?.unwrap_or(CONCURRENCY),
            client_threads: flags.parse("--client-threads")?.unwrap_or(0),
            connections: flags
                .list("--connections", &all)?
                .into_iter()
                .map(|c| c.0)
                .collect(),
            runtimes: flags.list("--runtimes", &ServerRuntime::ALL)?,
            pin: !flags.has("--no-pin") && taskset_works(),
        };
        if settings.reps == 0 || settings.reps > 20 {
            return Err("--reps must be 1 to 20".to_owned());
        }
        if settings.measure_ms == 0 || settings.measure_ms > 60_000 || settings.warmup_ms > 60_000 {
            return Err("--measure-ms must be 1 to 60000, --warmup-ms at most 60000".to_owned());
        }
        if settings.client_threads > 64 {
            return Err("--client-threads must be 0 (current-thread) to 64".to_owned());
        }
        if settings.concurrency == 0 || settings.concurrency > 4096 {
            return Err("--conc must be 1 to 4096".to_owned());
        }
        if let Some(&k) = settings
            .connections
            .iter()
            .find(|&&k| k > settings.concurrency)
        {
            return Err(format!(
                "{k} connections for {} calls in flight: some would carry none",
                settings.concurrency
            ));
        }
        Ok(settings)
    }
}

/// The runner's `main`.
pub(super) fn run(args: &[String]) -> Result<(), String> {
    let Some((settings, exe)) = crate::runs::start(args, USAGE, Settings::parse)? else {
        return Ok(());
    };
    if !settings.pin {
        eprintln!("threads: not pinning (no working taskset, or --no-pin)");
    }
    let workload = Workload::Echo {
        conc: settings.concurrency,
        size: 16,
    };
    let load_before = procfs::load_average();
    let mut results: HashMap<(usize, ServerRuntime), Vec<Sample>> = HashMap::new();
    let mut failures = Vec::new();
    for rep in 0..settings.reps {
        for &connections in &settings.connections {
            for &runtime in &settings.runtimes {
                eprintln!(
                    "threads: rep {}/{} {connections} connections, {runtime}",
                    rep + 1,
                    settings.reps
                );
                let server_args = strings(&["--threads", &runtime.threads().to_string()]);
                let client_args = strings(&[
                    "--connections",
                    &connections.to_string(),
                    "--threads",
                    &settings.client_threads.to_string(),
                ]);
                let server_cores = runtime.cores();
                let client_cores = client_cores(settings.client_threads);
                let pair = Pair {
                    system: System::Sky,
                    workload,
                    server_args: &server_args,
                    client_args: &client_args,
                    server_cores: settings.pin.then_some(server_cores.as_str()),
                    client_cores: settings.pin.then_some(client_cores),
                    warmup_ms: settings.warmup_ms,
                    measure_ms: settings.measure_ms,
                };
                let what = format!("{connections} connections, {runtime}");
                match run_pair(&exe, &pair) {
                    Ok(sample) => {
                        crate::runs::note_errors(
                            &mut failures,
                            &what,
                            sample.errors,
                            sample.first_error.as_deref(),
                        );
                        results
                            .entry((connections, runtime))
                            .or_default()
                            .push(sample);
                    }
                    Err(e) => failures.push(format!("{what}: {e}")),
                }
            }
        }
    }
    let load_after = procfs::load_average();
    print!("{}", render(&settings, &results, (load_before, load_after)));
    crate::runs::failed(&failures)
}

/// The CPUs the client may use when pinned: core 1, or every core for a
/// multi-thread client of more than one worker.
fn client_cores(threads: usize) -> &'static str {
    if threads > 1 {
        "0-1"
    } else {
        "1"
    }
}

fn render(
    settings: &Settings,
    results: &HashMap<(usize, ServerRuntime), Vec<Sample>>,
    load: (Option<f64>, Option<f64>),
) -> String {
    let mut out = heading("skycluster server runtimes", load);
    out += &format!(
        "{} repetitions, {} ms warm-up, {} ms measured; W1 16 B echo, C={} in total over the \
         connections; {}; median (min–max)\n\n",
        settings.reps,
        settings.warmup_ms,
        settings.measure_ms,
        settings.concurrency,
        match (settings.pin, settings.client_threads) {
            (false, _) => "unpinned".to_owned(),
            (true, 0) =>
                "client (current-thread) on core 1, server on core 0 (2 workers: cores 0-1)"
                    .to_owned(),
            (true, n) => format!(
                "client ({n} workers) on cores {}, server on core 0 (2 workers: cores 0-1)",
                client_cores(n)
            ),
        },
    );
    out += "| connections | server runtime | calls/s | p50 µs | p99 µs | server CPU µs/call | client CPU µs/call |\n";
    out += "| --- | --- | --- | --- | --- | --- | --- |\n";
    for &connections in &settings.connections {
        for &runtime in &settings.runtimes {
            let Some(samples) = results.get(&(connections, runtime)) else {
                out += &format!("| {connections} | {runtime} | failed | | | | |\n");
                continue;
            };
            let figure =
                |f: fn(&Sample) -> f64, fmt: fn(f64) -> String| cell(Spread::of(samples, f), fmt);
            out += &format!(
                "| {connections} | {runtime} | {} | {} | {} | {} | {} |\n",
                figure(|s| s.rate, si),
                figure(|s| s.p50_us, us),
                figure(|s| s.p99_us, us),
                figure(|s| s.server_cpu_us, cpu),
                figure(|s| s.client_cpu_us, cpu),
            );
        }
    }
    let med = |connections: usize, runtime: ServerRuntime, f: fn(&Sample) -> f64| {
        results
            .get(&(connections, runtime))
            .and_then(|v| Spread::of(v, f))
            .map(|s| s.med)
    };
    let multi: Vec<ServerRuntime> = settings
        .runtimes
        .iter()
        .copied()
        .filter(|&r| r != ServerRuntime::Current)
        .collect();
    if settings.runtimes.contains(&ServerRuntime::Current) && !multi.is_empty() {
        out += "\n| connections | runtime | calls/s against current-thread | server CPU/call against current-thread |\n";
        out += "| --- | --- | --- | --- |\n";
        for &connections in &settings.connections {
            for &runtime in &multi {
                let r = |f: fn(&Sample) -> f64| {
                    ratio(
                        med(connections, runtime, f),
                        med(connections, ServerRuntime::Current, f),
                    )
                };
                out += &format!(
                    "| {connections} | {runtime} | {} | {} |\n",
                    show(r(|s| s.rate)),
                    show(r(|s| s.server_cpu_us)),
                );
            }
        }
    }
    // The target: W1 over 64 connections on the multi-thread
    // runtime (its most workers here) at 1.5x one current-thread worker.
    let most = multi.iter().copied().max_by_key(|r| r.threads());
    let connections = settings.connections.iter().copied().max();
    out += "\nTargets (medians of the same run):\n";
    out += &match (most, connections) {
        (Some(most), Some(connections)) => target(
            &format!(
                "W1 C={} over {connections} connections, calls/s {most} / current-thread >= 1.5",
                settings.concurrency
            ),
            ratio(
                med(connections, most, |s| s.rate),
                med(connections, ServerRuntime::Current, |s| s.rate),
            ),
            |v| v >= 1.5,
        ),
        _ => target(
            "calls/s multi-thread / current-thread >= 1.5 (no multi-thread runtime in this run)",
            None,
            |_| false,
        ),
    };
    out += "\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_parse_and_pin_one_core_per_worker() {
        assert_eq!("current".parse(), Ok(ServerRuntime::Current));
        assert_eq!("2".parse(), Ok(ServerRuntime::Workers(2)));
        assert!("0".parse::<ServerRuntime>().is_err());
        assert_eq!(ServerRuntime::Current.cores(), "0");
        assert_eq!(ServerRuntime::Workers(1).cores(), "0");
        let two = if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
            "0-1"
        } else {
            "0"
        };
        assert_eq!(ServerRuntime::Workers(2).cores(), two);
    }
}
