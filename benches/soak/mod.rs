//! The soak runner (`--bin soak`): 4 to 8 node processes calling each
//! other (typed calls, large messages, numbered pushes) while a chaos loop
//! SIGKILLs and restarts a node (on a new port: the node has moved) or
//! disables one in the clustername file and brings it back, every few
//! seconds, for a given time. It prints one table and fails on a hung
//! call, a misdelivered reply, a duplicated push, or memory or open files
//! that grew past their bound in the second half of the run.
//!
//! `cargo run --release -p benches --bin soak -- --seconds 1800` is the
//! long run; `.ci/run` runs `--seconds 60`.

mod node;

pub(crate) use node::node_role;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::child::{Proc, REPLY_TIMEOUT, START_TIMEOUT};
use crate::compare::Flags;
use crate::procfs;

const USAGE: &str = "usage: soak [--smoke] [--nodes 4] [--seconds 60] [--chaos-ms 3000] [--seed 1]";

/// How much a node's resident memory may grow from the run's half to its
/// end, and by how many open files: a leak shows as more.
const RSS_GROWTH: f64 = 1.5;
const RSS_SLACK_KIB: u64 = 8 * 1024;
const FD_SLACK: u64 = 32;

struct Settings {
    nodes: usize,
    run: Duration,
    chaos: Duration,
    seed: u64,
}

impl Settings {
    fn parse(args: &[String]) -> Result<Settings, String> {
        let flags = Flags::new(args);
        let smoke = flags.has("--smoke");
        let settings = Settings {
            nodes: flags.parse("--nodes")?.unwrap_or(if smoke { 3 } else { 4 }),
            run: Duration::from_secs(flags.parse("--seconds")?.unwrap_or(if smoke {
                4
            } else {
                60
            })),
            chaos: Duration::from_millis(flags.parse("--chaos-ms")?.unwrap_or(if smoke {
                1000
            } else {
                3000
            })),
            seed: flags.parse("--seed")?.unwrap_or(1),
        };
        if !(3..=8).contains(&settings.nodes) {
            return Err(format!("--nodes takes 3 to 8\n{USAGE}"));
        }
        if settings.run > Duration::from_secs(4 * 3600) || settings.run.is_zero() {
            return Err(format!("--seconds takes 1 to 14400\n{USAGE}"));
        }
        if settings.chaos < Duration::from_millis(200) {
            return Err(format!("--chaos-ms takes at least 200\n{USAGE}"));
        }
        Ok(settings)
    }
}

/// One node's place in the cluster, across its incarnations.
struct Slot {
    name: String,
    proc: Option<Proc>,
    incarnation: u64,
    addr: String,
    /// The latest tally of each incarnation, by incarnation.
    tallies: BTreeMap<u64, Tally>,
    /// (resident KiB, open files) at the run's half, of the incarnation
    /// then running, if it still is at the end.
    half: Option<(u64, (u64, u64))>,
}

/// A node's counts, as its `tally` line says them.
#[derive(Clone, Debug, Default)]
struct Tally(BTreeMap<String, u64>);

impl Tally {
    fn parse(line: &str) -> Tally {
        Tally(
            line.split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> u64 {
        self.0.get(key).copied().unwrap_or(0)
    }
}

/// A small seeded generator: the run's choices follow from `--seed`.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The runner's `main`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let settings = Settings::parse(args)?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let dir = std::env::temp_dir().join(format!("skycluster-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = soak(&exe, &dir, &settings);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn soak(exe: &Path, dir: &Path, settings: &Settings) -> Result<(), String> {
    let config = dir.join("clustername.lua");
    write_config(&config, &[], None)?;
    let names: Vec<String> = (1..=settings.nodes).map(|i| format!("soak{i}")).collect();
    let mut slots = Vec::new();
    for name in &names {
        let mut slot = Slot {
            name: name.clone(),
            proc: None,
            incarnation: 0,
            addr: String::new(),
            tallies: BTreeMap::new(),
            half: None,
        };
        start_node(exe, &config, &names, &mut slot)?;
        slots.push(slot);
    }
    write_config(&config, &slots, None)?;
    reload_all(&mut slots)?;
    for slot in &mut slots {
        tell(slot, "start")?;
    }
    let mut rng = Rng(settings.seed.max(1) ^ 0x9e37_79b9_7f4a_7c15);
    let (mut restarts, mut disables) = (0u64, 0u64);
    let mut disabled: Option<usize> = None;
    let started = Instant::now();
    let mut next_chaos = started + settings.chaos;
    let mut halfway_taken = false;
    let mut at_start: Option<Vec<(u64, u64)>> = None;
    while started.elapsed() < settings.run {
        drain(&mut slots);
        if at_start.is_none() && started.elapsed() >= settings.chaos.min(Duration::from_secs(2)) {
            at_start = Some(slots.iter().map(footprint).collect());
        }
        if !halfway_taken && started.elapsed() >= settings.run / 2 {
            for slot in &mut slots {
                slot.half = Some((slot.incarnation, footprint(slot)));
            }
            halfway_taken = true;
        }
        if Instant::now() >= next_chaos {
            next_chaos += settings.chaos;
            if let Some(i) = disabled.take() {
                // Bring the disabled node back.
                write_config(&config, &slots, None)?;
                reload_all(&mut slots)?;
                eprintln!("soak: {} enabled again", slots[i].name);
            } else if rng.below(2) == 0 {
                let i = rng.below(slots.len());
                kill(&mut slots[i]);
                start_node(exe, &config, &names, &mut slots[i])?;
                write_config(&config, &slots, None)?;
                reload_all(&mut slots)?;
                tell(&mut slots[i], "start")?;
                restarts += 1;
                eprintln!(
                    "soak: {} killed and restarted at {}",
                    slots[i].name, slots[i].addr
                );
            } else {
                let i = rng.below(slots.len());
                write_config(&config, &slots, Some(i))?;
                reload_all(&mut slots)?;
                disabled = Some(i);
                disables += 1;
                eprintln!("soak: {} disabled", slots[i].name);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let at_end_before_stop: Vec<(u64, u64)> = slots.iter().map(footprint).collect();
    for slot in &mut slots {
        tell(slot, "stop")?;
    }
    for slot in &mut slots {
        let incarnation = slot.incarnation;
        let line = slot
            .proc
            .as_mut()
            .ok_or("a node is not running")?
            .expect("tally", REPLY_TIMEOUT * 2)?;
        slot.tallies.insert(incarnation, Tally::parse(&line));
    }
    for slot in &mut slots {
        if let Some(proc) = slot.proc.take() {
            proc.finish()?;
        }
    }
    report(
        settings,
        &slots,
        restarts,
        disables,
        at_start.as_deref(),
        &at_end_before_stop,
    )
}

/// Starts the next incarnation of `slot`'s node and waits until it listens.
fn start_node(exe: &Path, config: &Path, names: &[String], slot: &mut Slot) -> Result<(), String> {
    slot.incarnation += 1;
    let args = vec![
        "soak-node".to_owned(),
        "--name".to_owned(),
        slot.name.clone(),
        "--config".to_owned(),
        config.display().to_string(),
        "--peers".to_owned(),
        names.join(","),
        "--incarnation".to_owned(),
        slot.incarnation.to_string(),
    ];
    let what = format!("{} (incarnation {})", slot.name, slot.incarnation);
    let mut proc = Proc::spawn(exe, None, &args, what)?;
    slot.addr = proc.expect("listening", START_TIMEOUT)?;
    slot.proc = Some(proc);
    Ok(())
}

/// SIGKILLs `slot`'s node, keeping its last tally.
fn kill(slot: &mut Slot) {
    drain(std::slice::from_mut(slot));
    // Dropping a running `Proc` kills it (SIGKILL).
    slot.proc = None;
}

fn tell(slot: &mut Slot, line: &str) -> Result<(), String> {
    slot.proc
        .as_mut()
        .ok_or_else(|| format!("{} is not running", slot.name))?
        .tell(line)
}

/// Tells every node to reload and waits for each to say it did; tallies
/// said meanwhile are kept.
fn reload_all(slots: &mut [Slot]) -> Result<(), String> {
    for slot in slots.iter_mut() {
        tell(slot, "reload")?;
    }
    for slot in slots.iter_mut() {
        let incarnation = slot.incarnation;
        let proc = slot.proc.as_mut().ok_or("a node is not running")?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = proc.next_line(left)?;
            if line == "reloaded" {
                break;
            }
            if let Some(rest) = line.strip_prefix("tally ") {
                slot.tallies.insert(incarnation, Tally::parse(rest));
            } else if line.starts_with("error") {
                return Err(format!("{}: {line}", slot.name));
            }
        }
    }
    Ok(())
}

/// Takes every line the nodes said since the last look, keeping each
/// incarnation's latest tally.
fn drain(slots: &mut [Slot]) {
    for slot in slots {
        let incarnation = slot.incarnation;
        let Some(proc) = slot.proc.as_mut() else {
            continue;
        };
        while let Ok(line) = proc.next_line(Duration::ZERO) {
            if let Some(rest) = line.strip_prefix("tally ") {
                slot.tallies.insert(incarnation, Tally::parse(rest));
            } else if line.starts_with("error") {
                eprintln!("soak: {}: {line}", slot.name);
            }
        }
    }
}

/// A node's resident memory (KiB) and open files, from its latest tally.
fn footprint(slot: &Slot) -> (u64, u64) {
    slot.tallies
        .get(&slot.incarnation)
        .map_or((0, 0), |t| (t.get("rss_kib"), t.get("fds")))
}

/// Writes the clustername file: every node at its address, `disabled`
/// as `false`. Whole, by rename: a node reads the old or the new.
fn write_config(path: &Path, slots: &[Slot], disabled: Option<usize>) -> Result<(), String> {
    let mut text = String::from("__nowaiting = true\n");
    for (i, slot) in slots.iter().enumerate() {
        if Some(i) == disabled {
            text += &format!("{} = false\n", slot.name);
        } else {
            text += &format!("{} = \"{}\"\n", slot.name, slot.addr);
        }
    }
    let next: PathBuf = path.with_extension("new");
    std::fs::write(&next, text)
        .and_then(|()| std::fs::rename(&next, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn report(
    settings: &Settings,
    slots: &[Slot],
    restarts: u64,
    disables: u64,
    at_start: Option<&[(u64, u64)]>,
    at_end: &[(u64, u64)],
) -> Result<(), String> {
    let mut total = Tally::default();
    for slot in slots {
        for tally in slot.tallies.values() {
            for (k, v) in &tally.0 {
                if k != "rss_kib" && k != "fds" {
                    *total.0.entry(k.clone()).or_insert(0) += v;
                }
            }
        }
    }
    let load = procfs::load_average().map_or_else(|| "?".to_owned(), |l| format!("{l:.2}"));
    println!(
        "skycluster soak: {} nodes, {:?}, chaos every {:?}, seed {}; 1-min load at the end {load}\n",
        settings.nodes, settings.run, settings.chaos, settings.seed
    );
    println!("| calls | ended ok | hung | misdelivered | pushes sent | received | lost | duplicated | push refused | restarts | disables |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {restarts} | {disables} |",
        total.get("calls"),
        total.get("ok"),
        total.get("hung"),
        total.get("misdelivered"),
        total.get("pushes"),
        total.get("received"),
        total.get("lost"),
        total.get("duplicated"),
        total.get("push_failed"),
    );
    println!("\n| calls ended by error kind | count |\n| --- | --- |");
    for (k, v) in total.0.iter().filter(|(k, _)| k.starts_with("err.")) {
        println!("| {} | {v} |", &k[4..]);
    }
    println!("\n| node | incarnations | VmRSS KiB start / half / end | open files start / half / end |\n| --- | --- | --- | --- |");
    let mut grew = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        let start = at_start.and_then(|s| s.get(i)).copied().unwrap_or((0, 0));
        let end = at_end.get(i).copied().unwrap_or((0, 0));
        let half = slot.half.map(|(_, f)| f).unwrap_or((0, 0));
        println!(
            "| {} | {} | {} / {} / {} | {} / {} / {} |",
            slot.name, slot.incarnation, start.0, half.0, end.0, start.1, half.1, end.1
        );
        // Growth counts only where one incarnation ran from the half on.
        if let Some((incarnation, (rss, fds))) = slot.half {
            if incarnation == slot.incarnation && rss > 0 {
                let rss_bound = (rss as f64 * RSS_GROWTH) as u64 + RSS_SLACK_KIB;
                if end.0 > rss_bound {
                    grew.push(format!(
                        "{}: VmRSS {rss} -> {} KiB (bound {rss_bound})",
                        slot.name, end.0
                    ));
                }
                if end.1 > fds + FD_SLACK {
                    grew.push(format!("{}: open files {fds} -> {}", slot.name, end.1));
                }
            }
        }
    }
    let mut failures = grew;
    for (key, what) in [
        ("hung", "hung calls"),
        ("misdelivered", "misdelivered replies"),
        ("duplicated", "duplicated pushes"),
    ] {
        if total.get(key) > 0 {
            failures.push(format!("{} {what}", total.get(key)));
        }
    }
    if total.get("ok") == 0 {
        failures.push("no call succeeded".to_owned());
    }
    if failures.is_empty() {
        println!("\nsoak passed: 0 hung, 0 misdelivered, 0 duplicated, memory and open files within bounds");
        Ok(())
    } else {
        Err(format!("soak failed: {}", failures.join("; ")))
    }
}
