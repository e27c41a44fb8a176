//! The fan-in runner (`--bin fanin`): connections into one node, 100,
//! 1,000 and 10,000 of them, and what `max_clients` does at its edge.
//!
//! The runner first raises its soft limit on open files to the hard one
//! (`setrlimit` through rustix); its children inherit it. For each count N
//! it starts one server ([`roles`], this binary with `fanin-serve`: the
//! bench's echo node, current-thread, default options but for
//! `max_clients`, set above N so that every connection is served) pinned
//! to core 0, and `--clients` client processes (`fanin-client`) pinned to
//! core 1, which hold N connections between them: each is one `Cluster`
//! naming the server once per connection, so that the client side's
//! memory per connection is a sender's, as a node's per peer is
//! (`--cluster-per-connection`: a `Cluster` per connection, as many client
//! nodes would be). Then, with every wait bounded:
//!
//! 1. **Accept.** Every client makes each of its connections with a first
//!    call, `--at-once` at a time: from the parent's `connect` to the last
//!    client's `connected` is the time N connections took to be accepted
//!    and answered, and N over it the accept rate. The server must then
//!    report N connections.
//! 2. **Memory.** `VmRSS` of the server before the clients started and
//!    after the connections idled a moment, over N: memory per connection
//!    (an agent); the same over the client processes (a sender).
//! 3. **Calls.** `--inflight` calls in flight on every connection (each a
//!    task calling the 16-byte echo in a loop): calls/s, p50/p99 over every
//!    client's calls, and each side's CPU per call.
//!
//! Last, the edge: a server with `max_clients = --max-clients` and one
//! client opening `--beyond` connections more than that. The server
//! closes each connection beyond its limit as it arrives, so the first
//! call on it fails; the runner counts the connections served and closed,
//! and checks that the served ones still answer.
//!
//! Every child is killed if the runner fails or panics (each is a
//! [`Proc`], which kills on drop), and each exits by itself when its
//! stdin closes.

mod roles;

pub(crate) use roles::{client_role, serve_role};

use std::path::Path;
use std::time::{Duration, Instant};

use crate::child::{
    broadcast, gather, raise_file_limit, strings, taskset_works, Proc, REPLY_TIMEOUT,
    RESULT_TIMEOUT, START_TIMEOUT,
};
use crate::compare::Flags;
use crate::procfs;
use crate::report::{heading, si, target, us};
use crate::runs;
use crate::tally::Tally;
use crate::windows::Windows;

/// The connection counts.
const CONNECTIONS: [usize; 3] = [100, 1000, 10_000];
/// Files a process needs besides its connections: the runtime, pipes,
/// the listener, `/proc` reads.
const FILES_BESIDES: u64 = 64;
/// How long connecting may take: 10,000 connections on a loaded machine.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Debug)]
struct Settings {
    connections: Vec<usize>,
    clients: usize,
    inflight: usize,
    at_once: usize,
    max_clients: usize,
    beyond: usize,
    windows: Windows,
    pin: bool,
    /// A `Cluster` per connection on the client side, not one per process.
    cluster_per_connection: bool,
}

const USAGE: &str = "usage: fanin [--smoke] [--connections 100,1000,10000] [--clients 4]
             [--inflight 2] [--at-once 64] [--max-clients 100] [--beyond 20]
             [--warmup-ms N] [--measure-ms N] [--idle-ms N] [--no-pin]
             [--cluster-per-connection]";

impl Settings {
    fn parse(args: &[String]) -> Result<Settings, String> {
        let flags = Flags::new(args);
        let smoke = flags.has("--smoke");
        let (connections, clients, max_clients, beyond) = if smoke {
            (vec![10, 40], 2, 10, 5)
        } else {
            (CONNECTIONS.to_vec(), 4, 100, 20)
        };
        let settings = Settings {
            connections: flags.counts("--connections")?.unwrap_or(connections),
            clients: flags.parse("--clients")?.unwrap_or(clients),
            inflight: flags.parse("--inflight")?.unwrap_or(2),
            at_once: flags.parse("--at-once")?.unwrap_or(64),
            max_clients: flags.parse("--max-clients")?.unwrap_or(max_clients),
            beyond: flags.parse("--beyond")?.unwrap_or(beyond),
            windows: Windows::parse(&flags, smoke)?,
            pin: !flags.has("--no-pin") && taskset_works(),
            cluster_per_connection: flags.has("--cluster-per-connection"),
        };
        if settings.connections.is_empty()
            || settings
                .connections
                .iter()
                .any(|&n| !(1..=20_000).contains(&n))
        {
            return Err("--connections takes counts of 1 to 20000".to_owned());
        }
        if !(1..=16).contains(&settings.clients) {
            return Err("--clients must be 1 to 16".to_owned());
        }
        if !(1..=64).contains(&settings.inflight) || !(1..=4096).contains(&settings.at_once) {
            return Err("--inflight must be 1 to 64, --at-once 1 to 4096".to_owned());
        }
        if !(1..=10_000).contains(&settings.max_clients) || !(1..=10_000).contains(&settings.beyond)
        {
            return Err("--max-clients and --beyond must be 1 to 10000".to_owned());
        }
        Ok(settings)
    }
}

/// One N's figures.
#[derive(Clone, Debug)]
struct FaninSample {
    connections: usize,
    accept_ms: f64,
    server_kib_per_conn: f64,
    client_kib_per_conn: f64,
    calls_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    server_cpu_us: f64,
    client_cpu_us: f64,
    errors: u64,
    first_error: Option<String>,
}

/// What the edge run saw.
#[derive(Clone, Debug)]
struct Edge {
    max_clients: usize,
    opened: usize,
    answered: usize,
    failed: usize,
    first_error: String,
    /// Connections the server said it served.
    served: usize,
    /// Of the answered connections, those that answered again.
    still: usize,
}

/// The runner's `main`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let Some((settings, exe)) = runs::start(args, USAGE, Settings::parse)? else {
        return Ok(());
    };
    let (before, limit) = raise_file_limit()?;
    eprintln!(
        "fanin: RLIMIT_NOFILE soft limit {before}, raised to the hard limit {limit} (setrlimit)"
    );
    if !settings.pin {
        eprintln!("fanin: not pinning (no working taskset, or --no-pin)");
    }
    let load_before = procfs::load_average();
    let mut samples = Vec::new();
    let mut failures = Vec::new();
    for &n in &settings.connections {
        eprintln!("fanin: {n} connections");
        if (n as u64) + FILES_BESIDES > limit {
            failures.push(format!(
                "{n} connections: the open-file limit is {limit}; raise the hard limit (ulimit -Hn)"
            ));
            continue;
        }
        let per_client = n.div_ceil(settings.clients) as u64;
        if per_client + FILES_BESIDES > limit {
            failures.push(format!(
                "{n} connections: {per_client} per client process is over the open-file limit \
                 {limit}; use more --clients"
            ));
            continue;
        }
        match run_fanin(&exe, &settings, n) {
            Ok(sample) => {
                runs::note_errors(
                    &mut failures,
                    &format!("{n} connections"),
                    sample.errors,
                    sample.first_error.as_deref(),
                );
                samples.push(sample);
            }
            Err(e) => failures.push(format!("{n} connections: {e}")),
        }
    }
    eprintln!(
        "fanin: the edge, max_clients {} and {} beyond",
        settings.max_clients, settings.beyond
    );
    let edge = match run_edge(&exe, &settings) {
        Ok(edge) => Some(edge),
        Err(e) => {
            failures.push(format!("the edge: {e}"));
            None
        }
    };
    let load_after = procfs::load_average();
    print!(
        "{}",
        render(
            &settings,
            limit,
            &samples,
            edge.as_ref(),
            (load_before, load_after)
        )
    );
    runs::failed(&failures)
}

/// Starts the server with `max_clients`; returns it and its address.
fn start_server(
    exe: &Path,
    settings: &Settings,
    max_clients: usize,
) -> Result<(Proc, String), String> {
    let args = strings(&["fanin-serve", "--max-clients", &max_clients.to_string()]);
    let cores = settings.pin.then_some("0");
    let mut server = Proc::spawn(exe, cores, &args, "server".to_owned())?;
    let addr = server.reply("listening ", START_TIMEOUT)?;
    Ok((server, addr))
}

/// Starts client processes holding `n` connections between them.
fn start_clients(
    exe: &Path,
    settings: &Settings,
    addr: &str,
    n: usize,
    processes: usize,
) -> Result<Vec<Proc>, String> {
    let processes = processes.min(n).max(1);
    let mut clients = Vec::with_capacity(processes);
    for i in 0..processes {
        let share = n / processes + usize::from(i < n % processes);
        let mut args = strings(&[
            "fanin-client",
            "--addr",
            addr,
            "--connections",
            &share.to_string(),
            "--inflight",
            &settings.inflight.to_string(),
            "--at-once",
            &settings.at_once.to_string(),
        ]);
        if settings.cluster_per_connection {
            args.push("--cluster-per-connection".to_owned());
        }
        let cores = settings.pin.then_some("1");
        clients.push(Proc::spawn(exe, cores, &args, format!("client {i}"))?);
    }
    gather(&mut clients, "ready", START_TIMEOUT)?;
    Ok(clients)
}

/// `OK FAILED [ERROR]` of a `connected` or `rechecked` line.
fn outcome(line: &str) -> Result<(usize, usize, String), String> {
    let mut words = line.splitn(3, ' ');
    let mut num = || words.next().and_then(|w| w.parse::<usize>().ok());
    match (num(), num()) {
        (Some(ok), Some(failed)) => Ok((ok, failed, words.next().unwrap_or("").to_owned())),
        _ => Err(format!("bad outcome `{line}`")),
    }
}

/// Connections the server serves now.
fn served(server: &mut Proc) -> Result<usize, String> {
    server.tell("status")?;
    let line = server.reply("status ", REPLY_TIMEOUT)?;
    line.parse()
        .map_err(|e| format!("bad status `{line}`: {e}"))
}

fn run_fanin(exe: &Path, settings: &Settings, n: usize) -> Result<FaninSample, String> {
    // Room above N: the curve is about connections served, the edge below.
    let (mut server, addr) = start_server(exe, settings, n + n / 10 + 16)?;
    let server_before = server.rss_kib()?;
    let mut clients = start_clients(exe, settings, &addr, n, settings.clients)?;
    let clients_before: u64 = clients.iter().map(Proc::rss_kib).sum::<Result<_, _>>()?;

    let started = Instant::now();
    broadcast(&mut clients, "connect")?;
    let mut failed = 0;
    let mut first_error = String::new();
    for line in gather(&mut clients, "connected ", CONNECT_TIMEOUT)? {
        let (_, f, e) = outcome(&line)?;
        failed += f;
        if first_error.is_empty() {
            first_error = e;
        }
    }
    let accept_ms = started.elapsed().as_secs_f64() * 1e3;
    if failed > 0 {
        return Err(format!(
            "{failed} of {n} connections failed their first call: {first_error}"
        ));
    }
    let open = served(&mut server)?;
    if open != n {
        return Err(format!("the server serves {open} connections, not {n}"));
    }

    std::thread::sleep(Duration::from_millis(settings.windows.idle_ms));
    let server_after = server.rss_kib()?;
    let clients_after: u64 = clients.iter().map(Proc::rss_kib).sum::<Result<_, _>>()?;

    broadcast(&mut clients, "run")?;
    gather(&mut clients, "started", REPLY_TIMEOUT)?;
    std::thread::sleep(Duration::from_millis(settings.windows.warmup_ms));
    broadcast(&mut clients, "measure")?;
    let cpu = |clients: &[Proc], server: &Proc| -> Result<(Duration, Duration), String> {
        Ok((
            server.cpu()?,
            clients.iter().map(Proc::cpu).sum::<Result<_, _>>()?,
        ))
    };
    let cpu0 = cpu(&clients, &server)?;
    std::thread::sleep(Duration::from_millis(settings.windows.measure_ms));
    let cpu1 = cpu(&clients, &server)?;
    broadcast(&mut clients, "stop")?;
    let mut all = Tally::default();
    let mut calls_per_sec = 0.0;
    for line in gather(&mut clients, "result ", RESULT_TIMEOUT)? {
        let tally = Tally::decode(&line)?;
        calls_per_sec += tally.calls as f64 / tally.secs.max(1e-9);
        all.merge(&tally);
    }
    broadcast(&mut clients, "exit")?;
    for client in clients {
        client.finish()?;
    }
    server.tell("exit")?;
    server.finish()?;

    let per_call = |d: Duration| d.as_secs_f64() * 1e6 / all.calls.max(1) as f64;
    let per_conn = |before: u64, after: u64| (after as f64 - before as f64) / n as f64;
    Ok(FaninSample {
        connections: n,
        accept_ms,
        server_kib_per_conn: per_conn(server_before, server_after),
        client_kib_per_conn: per_conn(clients_before, clients_after),
        calls_per_sec,
        p50_us: all.latency.percentile(50) as f64 / 1e3,
        p99_us: all.latency.percentile(99) as f64 / 1e3,
        server_cpu_us: per_call(cpu1.0.saturating_sub(cpu0.0)),
        client_cpu_us: per_call(cpu1.1.saturating_sub(cpu0.1)),
        errors: all.errors,
        first_error: all.first_error,
    })
}

/// `max_clients` connections and `beyond` more, from one client.
fn run_edge(exe: &Path, settings: &Settings) -> Result<Edge, String> {
    let (mut server, addr) = start_server(exe, settings, settings.max_clients)?;
    let opened = settings.max_clients + settings.beyond;
    let mut clients = start_clients(exe, settings, &addr, opened, 1)?;
    broadcast(&mut clients, "connect")?;
    let line = gather(&mut clients, "connected ", CONNECT_TIMEOUT)?.remove(0);
    let (answered, failed, first_error) = outcome(&line)?;
    let served = served(&mut server)?;
    broadcast(&mut clients, "recheck")?;
    let line = gather(&mut clients, "rechecked ", CONNECT_TIMEOUT)?.remove(0);
    let (still, _, _) = outcome(&line)?;
    broadcast(&mut clients, "exit")?;
    for client in clients {
        client.finish()?;
    }
    server.tell("exit")?;
    server.finish()?;
    Ok(Edge {
        max_clients: settings.max_clients,
        opened,
        answered,
        failed,
        first_error,
        served,
        still,
    })
}

fn render(
    settings: &Settings,
    limit: u64,
    samples: &[FaninSample],
    edge: Option<&Edge>,
    load: (Option<f64>, Option<f64>),
) -> String {
    let mut out = heading("skycluster fan-in", load);
    out += &format!(
        "one run per N; server current-thread, default options; {} client processes, {}; {} \
         calls in flight per connection; connecting {} at a time per client; {}; open-file \
         limit {limit} (raised by setrlimit); {} ms idle, {} ms warm-up, {} ms measured\n\n",
        settings.clients,
        if settings.cluster_per_connection {
            "a Cluster per connection"
        } else {
            "one Cluster each"
        },
        settings.inflight,
        settings.at_once,
        if settings.pin {
            "server on core 0, clients on core 1"
        } else {
            "unpinned"
        },
        settings.windows.idle_ms,
        settings.windows.warmup_ms,
        settings.windows.measure_ms,
    );
    out += "| connections | accepted in ms | accepts/s | server KiB per connection | client KiB per connection | calls/s | p50 µs | p99 µs | server CPU µs/call | client CPU µs/call |\n";
    out += "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for s in samples {
        out += &format!(
            "| {} | {:.1} | {} | {:.1} | {:.1} | {} | {} | {} | {:.2} | {:.2} |\n",
            s.connections,
            s.accept_ms,
            si(s.connections as f64 / (s.accept_ms / 1e3).max(1e-9)),
            s.server_kib_per_conn,
            s.client_kib_per_conn,
            si(s.calls_per_sec),
            us(s.p50_us),
            us(s.p99_us),
            s.server_cpu_us,
            s.client_cpu_us,
        );
    }
    if let Some(e) = edge {
        let error = if e.first_error.is_empty() {
            String::new()
        } else {
            format!(" (the first failure: {})", e.first_error.replace('_', " "))
        };
        out += &format!(
            "\nAt the edge: max_clients = {}, {} connections opened: {} answered their first call \
             and {} failed{error}; the server held {} connections; {} of the {} answered again.\n",
            e.max_clients, e.opened, e.answered, e.failed, e.served, e.still, e.answered,
        );
    }
    let most = samples.iter().max_by_key(|s| s.connections);
    let n = most.map_or("?".to_owned(), |s| s.connections.to_string());
    let exactly = |v: f64| (v - 1.0).abs() < 1e-9;
    let lines = [
        target(
            &format!("N={n}: server memory per idle connection (an agent) <= 16 KiB"),
            most.map(|s| s.server_kib_per_conn),
            |v| v <= 16.0,
        ),
        target(
            &format!("N={n}: client memory per idle connection (a sender) <= 16 KiB"),
            most.map(|s| s.client_kib_per_conn),
            |v| v <= 16.0,
        ),
        target(
            "max_clients: connections served / max_clients = 1",
            edge.map(|e| e.served as f64 / e.max_clients as f64),
            exactly,
        ),
        target(
            "max_clients: first calls failed / connections beyond it = 1",
            edge.map(|e| e.failed as f64 / (e.opened - e.max_clients) as f64),
            exactly,
        ),
        target(
            "max_clients: served connections answering again / served = 1",
            edge.map(|e| e.still as f64 / e.answered.max(1) as f64),
            exactly,
        ),
    ];
    format!("{out}\nTargets (same run):\n{}\n", lines.join("\n"))
}
