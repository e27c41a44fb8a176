//! The comparison runner: skycluster against tarpc and a raw-TCP ceiling,
//! each as a server process and a client process on 127.0.0.1.
//!
//! `compare` (the parent) starts, for every workload, system and
//! repetition, a server pinned to core 0 and a client pinned to core 1
//! (`taskset`), both this same binary with a role argument, each on a
//! tokio current-thread runtime, with one TCP connection between them.
//!
//! * `runner`: the parent. Spawns the pair, samples both processes'
//!   CPU time (and, for pushes, the server's message count) when the
//!   client says its measured window starts and ends, and prints the table.
//! * `driver`: the client process. Warms up, then runs the workload's
//!   tasks through one shared client for the measured window.
//! * `sky`, `rpc`, `ceiling`: the systems, each a server and a client
//!   behind `BenchClient` (`sky` has five clients: kept, made afresh per
//!   call, raw, the kept one of a `codec = lua` echo, and the kept one
//!   over TLS).
//! * [`counting`]: the same servers and clients on two threads of one
//!   process, for `--bin allocs`.
//! * `threads`: the runner behind `--bin threads`: the same pairs, with
//!   the server on a multi-thread runtime and the client over several
//!   connections.
//!
//! The parent talks to its children by lines: a server prints
//! `listening ADDR` and answers `count` on stdin with `count N NANOS`
//! (messages it has counted, and when); a client prints `start`, `end` and
//! `result ...`. Every wait is bounded, and a child that overruns is killed.

mod ceiling;
pub mod counting;
mod driver;
mod recorder;
mod rpc;
mod runner;
mod sky;
mod threads;

use std::fmt;
use std::future::Future;
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use driver::{Report, Timing};
pub(crate) use sky::{node as sky_node, Echo, EchoClient};

/// One-way messages a server has received, whichever system delivered them.
static PUSHES: AtomicU64 = AtomicU64::new(0);

fn count_push() {
    PUSHES.fetch_add(1, Ordering::Relaxed);
}

/// The longest a server process lives, whatever its parent does.
const SERVER_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// A system under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum System {
    /// skycluster, through a `#[service]` trait and its generated client.
    Sky,
    /// skycluster, the same client made afresh for every call.
    SkyFresh,
    /// skycluster, raw bytes through `Cluster::call` and `Cluster::send`.
    SkyRaw,
    /// skycluster, a `#[service(codec = lua)]` trait: lua-seri payloads in
    /// Skynet's calling convention, as a Lua node sends them.
    SkyLua,
    /// skycluster, a `#[service(codec = postcard)]` trait.
    SkyPostcard,
    /// skycluster's kept client without the schema check and the
    /// extensions: Skynet's bytes exactly.
    SkyPlain,
    /// skycluster's kept typed client, as `Sky`, over TLS (rustls, TLS
    /// 1.3, a certificate made when the server starts).
    SkyTls,
    /// skycluster's `cluster.pool::<dyn Echo>()` over the one server node:
    /// what choosing a node per call costs against `Sky`'s kept client.
    SkyPool,
    /// tarpc with its bincode serde transport over TCP.
    Tarpc,
    /// Length-prefixed frames over raw TCP, written in the bench.
    Ceiling,
}

impl System {
    /// Every system, in table order.
    pub const ALL: [System; 10] = [
        System::Sky,
        System::SkyFresh,
        System::SkyRaw,
        System::SkyLua,
        System::SkyPostcard,
        System::SkyPlain,
        System::SkyTls,
        System::SkyPool,
        System::Tarpc,
        System::Ceiling,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            System::Sky => "skycluster",
            System::SkyFresh => "skycluster-fresh",
            System::SkyRaw => "skycluster-raw",
            System::SkyLua => "skycluster-lua",
            System::SkyPostcard => "skycluster-postcard",
            System::SkyPlain => "skycluster-plain",
            System::SkyTls => "skycluster-tls",
            System::SkyPool => "skycluster-pool",
            System::Tarpc => "tarpc",
            System::Ceiling => "ceiling",
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for System {
    type Err = String;

    fn from_str(s: &str) -> Result<System, String> {
        System::ALL
            .into_iter()
            .find(|sys| sys.name() == s)
            .ok_or_else(|| format!("unknown system `{s}` (skycluster, skycluster-fresh, skycluster-raw, skycluster-lua, skycluster-postcard, skycluster-plain, skycluster-tls, skycluster-pool, tarpc, ceiling)"))
    }
}

/// What the client does during the measured window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// W1 and W2: `conc` tasks each calling echo with `size` bytes, one
    /// call at a time.
    Echo {
        /// Calls in flight: one task per call.
        conc: usize,
        /// Payload bytes each way.
        size: usize,
    },
    /// W3: one-way messages of `size` bytes, as fast as the server takes
    /// them.
    Push {
        /// Payload bytes.
        size: usize,
    },
}

impl Workload {
    /// The workloads: W1 at C = 1, 32 and 256, W2 and W3.
    pub const ALL: [Workload; 5] = [
        Workload::Echo { conc: 1, size: 16 },
        Workload::Echo { conc: 32, size: 16 },
        Workload::Echo {
            conc: 256,
            size: 16,
        },
        Workload::Echo {
            conc: 4,
            size: 256 << 10,
        },
        Workload::Push { size: 16 },
    ];

    /// The name used on the command line: `w1c1`, `w1c32`, `w1c256`, `w2`,
    /// `w3`, or `echo:C:SIZE` / `push:SIZE` for others.
    pub fn name(self) -> String {
        match self {
            Workload::Echo { conc, size: 16 } => format!("w1c{conc}"),
            Workload::Echo {
                conc: 4,
                size: 262_144,
            } => "w2".to_owned(),
            Workload::Push { size: 16 } => "w3".to_owned(),
            Workload::Echo { conc, size } => format!("echo:{conc}:{size}"),
            Workload::Push { size } => format!("push:{size}"),
        }
    }

    /// How the table labels it.
    pub fn label(self) -> String {
        match self {
            Workload::Echo { conc, size: 16 } => format!("W1 16 B echo, C={conc}"),
            Workload::Echo {
                conc: 4,
                size: 262_144,
            } => "W2 256 KiB echo, C=4".to_owned(),
            Workload::Push { size: 16 } => "W3 16 B push".to_owned(),
            Workload::Echo { conc, size } => format!("{size} B echo, C={conc}"),
            Workload::Push { size } => format!("{size} B push"),
        }
    }

    fn size(self) -> usize {
        match self {
            Workload::Echo { size, .. } | Workload::Push { size } => size,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Workload {
    type Err = String;

    fn from_str(s: &str) -> Result<Workload, String> {
        if let Some(w) = Workload::ALL.into_iter().find(|w| w.name() == s) {
            return Ok(w);
        }
        let bad = || {
            format!("unknown workload `{s}` (w1c1, w1c32, w1c256, w2, w3, echo:C:SIZE, push:SIZE)")
        };
        let num = |v: &str| v.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(bad);
        match s.split(':').collect::<Vec<_>>()[..] {
            ["echo", c, size] => Ok(Workload::Echo {
                conc: num(c)?,
                size: num(size)?,
            }),
            ["push", size] => Ok(Workload::Push { size: num(size)? }),
            _ => Err(bad()),
        }
    }
}

/// What became of a one-way message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued for sending.
    Queued,
    /// The client's queue is full; try again after the writer drains it.
    Full,
}

/// A client of one system: what the workloads need from it.
pub(crate) trait BenchClient: Clone + Send + Sync + 'static {
    /// Whether [`BenchClient::push`] returns without waiting for the
    /// server. tarpc has no one-way messages: its pushes are calls that
    /// return `()`, run by many tasks at once.
    const ONE_WAY: bool;

    /// Calls echo with `payload`; returns the reply.
    fn call(&self, payload: Bytes) -> impl Future<Output = Result<Bytes, String>> + Send + '_;

    /// Sends `payload` as a one-way message.
    fn push(&self, payload: Bytes) -> impl Future<Output = Result<Pushed, String>> + Send + '_;
}

/// A running server; dropping it stops nothing (the process exits).
pub(crate) struct Server {
    addr: SocketAddr,
    /// Whatever must stay alive for the server to serve.
    _keep: Box<dyn std::any::Any>,
}

/// Starts `system`'s server on `addr` on the current runtime.
pub(crate) async fn serve(system: System, addr: &str) -> Result<Server, String> {
    match system {
        System::Sky
        | System::SkyFresh
        | System::SkyRaw
        | System::SkyLua
        | System::SkyPostcard
        | System::SkyPlain
        | System::SkyPool => sky::serve(addr).await,
        System::SkyTls => sky::serve_tls(addr).await,
        System::Tarpc => rpc::serve(addr).await,
        System::Ceiling => ceiling::serve(addr).await,
    }
}

/// Something that runs a workload against any system's client.
pub(crate) trait WithClient {
    /// What the run returns.
    type Output;

    /// Runs with `client`.
    fn run<C: BenchClient>(self, client: C) -> impl Future<Output = Self::Output>;
}

/// As [`with_client`], with the client's calls spread over `connections`
/// connections: skycluster's kept client only.
pub(crate) async fn with_clients<F: WithClient>(
    system: System,
    addr: SocketAddr,
    connections: usize,
    f: F,
) -> Result<F::Output, String> {
    match (system, connections) {
        (_, 1) => with_client(system, addr, f).await,
        (System::Sky, k) => Ok(f.run(sky::connect_many(addr, k)).await),
        _ => Err(format!("{system} runs over one connection only")),
    }
}

/// Connects `system`'s client to `addr` and hands it to `f`.
pub(crate) async fn with_client<F: WithClient>(
    system: System,
    addr: SocketAddr,
    f: F,
) -> Result<F::Output, String> {
    Ok(match system {
        System::Sky => f.run(sky::connect(addr)).await,
        System::SkyFresh => f.run(sky::connect_fresh(addr)).await,
        System::SkyRaw => f.run(sky::connect_raw(addr)).await,
        System::SkyLua => f.run(sky::connect_lua(addr)).await,
        System::SkyPostcard => f.run(sky::connect_postcard(addr)).await,
        System::SkyPlain => f.run(sky::connect_plain(addr)).await,
        System::SkyTls => f.run(sky::connect_tls(addr)?).await,
        System::SkyPool => f.run(sky::connect_pool(addr)).await,
        System::Tarpc => f.run(rpc::connect(addr).await?).await,
        System::Ceiling => f.run(ceiling::connect(addr).await?).await,
    })
}

/// The payload of every message of `size` bytes.
fn payload(size: usize) -> Bytes {
    Bytes::from((0..size).map(|i| i as u8).collect::<Vec<u8>>())
}

/// `compare`'s `main`: the runner, or one of the runners' child roles
/// when the first argument names one (see [`crate::main`]).
pub fn main() -> ExitCode {
    crate::main(crate::Runner::Compare)
}

/// The comparison runner, for [`crate::main`].
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    runner::run(args)
}

/// The threads runner, for [`crate::main`].
pub(crate) fn run_threads(args: &[String]) -> Result<(), String> {
    threads::run(args)
}

/// Flags as `--key value` pairs.
#[derive(Debug)]
pub struct Flags<'a> {
    args: &'a [String],
}

impl<'a> Flags<'a> {
    /// Flags read from `args` (the program's arguments, without its name).
    pub fn new(args: &'a [String]) -> Flags<'a> {
        Flags { args }
    }

    /// The value after `--key`, if given.
    pub(crate) fn get(&self, key: &str) -> Result<Option<&'a str>, String> {
        match self.args.iter().position(|a| a == key) {
            None => Ok(None),
            Some(i) => self
                .args
                .get(i + 1)
                .map(|v| Some(v.as_str()))
                .ok_or_else(|| format!("{key} needs a value")),
        }
    }

    pub(crate) fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>, String>
    where
        T::Err: fmt::Display,
    {
        self.get(key)?
            .map(|v| v.parse().map_err(|e| format!("{key} {v}: {e}")))
            .transpose()
    }

    /// The comma-separated names after `--key`, parsed; `all` if absent.
    pub fn list<T: Copy + FromStr<Err = String>>(
        &self,
        key: &str,
        all: &[T],
    ) -> Result<Vec<T>, String> {
        match self.get(key)? {
            Some(names) => names.split(',').map(str::parse).collect(),
            None => Ok(all.to_vec()),
        }
    }

    /// The comma-separated counts after `--key`, if given.
    pub(crate) fn counts(&self, key: &str) -> Result<Option<Vec<usize>>, String> {
        self.get(key)?
            .map(|list| {
                list.split(',')
                    .map(|n| n.parse::<usize>().map_err(|e| format!("{key} {n}: {e}")))
                    .collect()
            })
            .transpose()
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.args.iter().any(|a| a == key)
    }

    pub(crate) fn required<T: FromStr>(&self, key: &str) -> Result<T, String>
    where
        T::Err: fmt::Display,
    {
        self.parse(key)?.ok_or_else(|| format!("{key} is required"))
    }
}

pub(crate) fn current_thread_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))
}

/// `--threads N`: 0 (the default) for a current-thread runtime, else N
/// workers, at most 64.
pub(crate) fn threads_flag(flags: &Flags<'_>) -> Result<usize, String> {
    let threads: usize = flags.parse("--threads")?.unwrap_or(0);
    if threads > 64 {
        return Err("--threads takes 0 (current-thread) to 64".to_owned());
    }
    Ok(threads)
}

/// A current-thread runtime for `threads == 0`; else the multi-thread
/// runtime `#[cluster_main(worker_threads = N)]` builds
/// (`skycluster::__private::run_main`): the same builder calls.
pub(crate) fn server_runtime(threads: usize) -> Result<tokio::runtime::Runtime, String> {
    if threads == 0 {
        return current_thread_runtime();
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(threads)
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))
}

/// `compare serve --system S [--threads N]`: serve on 127.0.0.1 until
/// stdin closes, on a current-thread runtime, or with `--threads N` (N >
/// 0) on a multi-thread one with N workers.
pub(crate) fn serve_role(args: &[String]) -> Result<(), String> {
    let flags = Flags::new(args);
    let system: System = flags.required("--system")?;
    recorder::install_if_asked()?;
    let runtime = server_runtime(threads_flag(&flags)?)?;
    runtime.block_on(async {
        let server = serve(system, "127.0.0.1:0").await?;
        say(&format!("listening {}", server.addr));
        spawn_control();
        tokio::time::sleep(SERVER_LIFETIME).await;
        drop(server);
        Err(format!(
            "served for {SERVER_LIFETIME:?} without being stopped"
        ))
    })
}

/// Answers the parent on a plain thread, so that the runtime's one thread
/// does nothing but serve. Exits the process when stdin closes.
fn spawn_control() {
    let started = Instant::now();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line.as_deref() {
                Ok("count") => say(&format!(
                    "count {} {}",
                    PUSHES.load(Ordering::Relaxed),
                    started.elapsed().as_nanos()
                )),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        std::process::exit(0);
    });
}

/// Prints one line for the parent and flushes it.
pub(crate) fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // The parent is gone if this fails; it will kill us anyway.
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// `compare client --system S --addr A --workload W [--warmup-ms N]
/// [--measure-ms N] [--connections K] [--threads N]`: run the workload and
/// report. With `--connections K` (skycluster only) the workload's tasks
/// are spread evenly over K connections; with `--threads N` (N > 0) they
/// run on a multi-thread runtime of N workers.
pub(crate) fn client_role(args: &[String]) -> Result<(), String> {
    let flags = Flags::new(args);
    let system: System = flags.required("--system")?;
    let addr: SocketAddr = flags.required("--addr")?;
    let workload: Workload = flags.required("--workload")?;
    let connections: usize = flags.parse("--connections")?.unwrap_or(1);
    if connections == 0 || connections > 10_000 {
        return Err("--connections takes 1 to 10000".to_owned());
    }
    let threads = threads_flag(&flags)?;
    recorder::install_if_asked()?;
    let timing = Timing {
        warmup: Duration::from_millis(flags.parse("--warmup-ms")?.unwrap_or(1000)),
        measure: Duration::from_millis(flags.parse("--measure-ms")?.unwrap_or(3000)),
    };
    let runtime = server_runtime(threads)?;
    let report = runtime.block_on(driver::drive(
        system,
        addr,
        connections,
        workload,
        timing,
        &|line| say(line),
    ))?;
    say(&format!("result {}", report.encode()));
    Ok(())
}
