//! Seeded simulation: real senders, agents, registry and typed services
//! on turmoil's simulated network (`Transport::Turmoil`), with faults
//! chosen from a seed: latency with jitter, held and released links,
//! partitions that heal, and a host crashed and restarted. Each run
//! checks that every call ends (reply or typed error) within its timeout
//! plus a bound, that no reply reaches the wrong call, that no push
//! arrives twice, and that once the faults end calls succeed again within
//! a stated time, with nothing done by the caller (the liveness probe
//! replaces connections a partition left half-open).
//!
//! `SKYCLUSTER_SIM_SEEDS=N` runs seeds 1 to N (default 150, about two minutes);
//! `SKYCLUSTER_SIM_SEED=S` runs seed S alone, as a failure says.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use skycluster::{Cluster, Config, Options, Transport};
use tokio::time::Instant;

/// Each call's timeout.
const CALL_TIMEOUT: Duration = Duration::from_millis(500);
/// How far past its timeout a call may end.
const BOUND: Duration = Duration::from_millis(500);
/// How soon after the last fault ends calls must succeed again.
const HEAL_WITHIN: Duration = Duration::from_secs(3);
/// Simulated time the faults run for, then the calm.
const FAULTS_FOR: Duration = Duration::from_secs(6);
const CALM_FOR: Duration = Duration::from_secs(4);
const PORT: u16 = 7000;
const SERVERS: [&str; 2] = ["a", "b"];

#[skycluster::service]
trait Echo {
    async fn echo(&self, seq: u64) -> u64;
    #[push]
    async fn note(&self, seq: u64);
}

/// What the servers saw: every note's number, across restarts.
#[derive(Default)]
struct Seen {
    notes: Mutex<Vec<(String, u64)>>,
}

struct Server {
    host: &'static str,
    seen: Arc<Seen>,
}

#[skycluster::async_trait]
impl Echo for Server {
    async fn echo(&self, seq: u64) -> u64 {
        seq
    }

    async fn note(&self, seq: u64) {
        if let Ok(mut notes) = self.seen.notes.lock() {
            notes.push((self.host.to_owned(), seq));
        }
    }
}

fn options() -> Options {
    Options::default()
        .with_transport(Transport::Turmoil)
        .with_call_timeout(CALL_TIMEOUT)
        .with_connect_timeout(CALL_TIMEOUT)
        .with_probe_timeout(Duration::from_millis(500))
        .with_backoff_min(Duration::from_millis(20))
        .with_backoff_max(Duration::from_millis(300))
}

fn config() -> Config {
    SERVERS.iter().fold(Config::new(), |config, host| {
        config.with_node(*host, format!("{host}:{PORT}"))
    })
}

/// What the client found wrong, if anything.
#[derive(Default)]
struct Verdict {
    calls: AtomicU64,
    ok: AtomicU64,
    failures: Mutex<Vec<String>>,
}

impl Verdict {
    fn fail(&self, what: String) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.push(what);
        }
    }
}

/// A small generator for the fault schedule: the seed decides it.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn run_seed(seed: u64) -> Result<(u64, u64), String> {
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(FAULTS_FOR + CALM_FOR + Duration::from_secs(30))
        .tick_duration(Duration::from_millis(2))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(30))
        .build();
    let seen = Arc::new(Seen::default());
    for host in SERVERS {
        let seen = Arc::clone(&seen);
        sim.host(host, move || {
            let seen = Arc::clone(&seen);
            async move {
                let cluster = Cluster::with_options(config(), options());
                cluster.set_name(host)?;
                cluster.listen(format!("0.0.0.0:{PORT}")).await?;
                let handle = cluster.spawn::<dyn Echo>(Server { host, seen });
                cluster.register::<dyn Echo>(handle)?;
                std::future::pending::<()>().await;
                Ok(())
            }
        });
    }
    let verdict = Arc::new(Verdict::default());
    let calm = Arc::new(AtomicBool::new(false));
    {
        let verdict = Arc::clone(&verdict);
        let calm = Arc::clone(&calm);
        sim.client("client", async move {
            let cluster = Cluster::with_options(config(), options());
            cluster.set_name("client")?;
            let clients: Vec<_> = SERVERS
                .iter()
                .map(|host| cluster.proxy::<dyn Echo>(host, "@Echo"))
                .collect();
            let mut seq = 0u64;
            let mut calm_since: Option<Instant> = None;
            let mut ok_after_calm = [false; SERVERS.len()];
            let start = Instant::now();
            while start.elapsed() < FAULTS_FOR + CALM_FOR {
                if calm_since.is_none() && calm.load(Ordering::SeqCst) {
                    calm_since = Some(Instant::now());
                }
                for (i, client) in clients.iter().enumerate() {
                    seq += 1;
                    verdict.calls.fetch_add(1, Ordering::Relaxed);
                    let began = Instant::now();
                    match tokio::time::timeout(CALL_TIMEOUT + BOUND, client.echo(seq)).await {
                        Err(_) => verdict.fail(format!("call {seq} to {} hung", SERVERS[i])),
                        Ok(Ok(back)) if back == seq => {
                            verdict.ok.fetch_add(1, Ordering::Relaxed);
                            if calm_since.is_some() {
                                ok_after_calm[i] = true;
                            }
                        }
                        Ok(Ok(back)) => verdict.fail(format!("call {seq} got the reply of {back}")),
                        Ok(Err(e)) => {
                            if began.elapsed() > CALL_TIMEOUT + BOUND {
                                verdict.fail(format!(
                                    "call {seq} ended after {:?}: {e}",
                                    began.elapsed()
                                ));
                            }
                            if let Some(since) = calm_since {
                                if began.duration_since(since) > HEAL_WITHIN {
                                    verdict.fail(format!(
                                        "call {seq} to {} failed {:?} into the calm: {e}",
                                        SERVERS[i],
                                        began.duration_since(since)
                                    ));
                                }
                            }
                            // A failing node is not called in a spin.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                    let _ = client.note(seq);
                }
            }
            for (i, ok) in ok_after_calm.iter().enumerate() {
                if !ok {
                    verdict.fail(format!("no call to {} succeeded in the calm", SERVERS[i]));
                }
            }
            Ok(())
        });
    }

    // The faults, chosen from the seed, while the simulation steps.
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut next_fault = Duration::from_millis(500);
    let mut faults = Vec::new();
    loop {
        let done = sim.step().map_err(|e| format!("seed {seed}: {e}"))?;
        if done {
            break;
        }
        let now = sim.elapsed();
        if now < FAULTS_FOR && now >= next_fault {
            next_fault = now + Duration::from_millis(300 + rng.below(1200));
            let server = SERVERS[rng.below(SERVERS.len() as u64) as usize];
            match rng.below(5) {
                0 => {
                    sim.partition("client", server);
                    faults.push(format!("partition {server}"));
                }
                1 => {
                    sim.repair("client", server);
                    faults.push(format!("repair {server}"));
                }
                2 => {
                    sim.hold("client", server);
                    faults.push(format!("hold {server}"));
                }
                3 => {
                    sim.release("client", server);
                    faults.push(format!("release {server}"));
                }
                _ => {
                    sim.bounce(server);
                    faults.push(format!("restart {server}"));
                }
            }
        }
        if now >= FAULTS_FOR && !calm.load(Ordering::SeqCst) {
            for server in SERVERS {
                sim.repair("client", server);
                sim.release("client", server);
            }
            calm.store(true, Ordering::SeqCst);
        }
    }

    let mut problems = verdict
        .failures
        .lock()
        .map(|f| f.clone())
        .unwrap_or_default();
    let notes = seen.notes.lock().map(|n| n.clone()).unwrap_or_default();
    let mut once = HashSet::new();
    for note in &notes {
        if !once.insert(note.clone()) {
            problems.push(format!("push {} reached {} twice", note.1, note.0));
        }
    }
    if problems.is_empty() {
        Ok((
            verdict.calls.load(Ordering::Relaxed),
            verdict.ok.load(Ordering::Relaxed),
        ))
    } else {
        Err(format!(
            "seed {seed} (SKYCLUSTER_SIM_SEED={seed} cargo test -p tests --test sim): {}; faults: {}",
            problems.iter().take(5).cloned().collect::<Vec<_>>().join("; "),
            faults.join(", ")
        ))
    }
}

#[test]
fn seeded_faults_end_every_call_and_heal_by_themselves() {
    let seeds: Vec<u64> = match std::env::var("SKYCLUSTER_SIM_SEED") {
        Ok(seed) => vec![seed.parse().expect("SKYCLUSTER_SIM_SEED is a number")],
        Err(_) => {
            let n = std::env::var("SKYCLUSTER_SIM_SEEDS")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(150u64);
            (1..=n).collect()
        }
    };
    let (mut calls, mut ok) = (0, 0);
    let mut failed = Vec::new();
    for &seed in &seeds {
        match run_seed(seed) {
            Ok((c, o)) => {
                calls += c;
                ok += o;
            }
            Err(e) => failed.push(e),
        }
    }
    println!("{} seeds: {calls} calls, {ok} answered", seeds.len());
    assert!(
        failed.is_empty(),
        "{} of {} seeds failed:\n{}",
        failed.len(),
        seeds.len(),
        failed.join("\n")
    );
}
