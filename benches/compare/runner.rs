//! The parent process: runs every (repetition, workload, system) as a
//! fresh server/client pair and prints one table.
//!
//! Repetitions are the outer loop and systems the inner one, so the runs
//! a ratio compares are close in time, and a slow spell on a shared
//! machine hits every system of a repetition alike.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::{Flags, Report, System, Workload};
use crate::child::{strings, taskset_works, Proc};
use crate::procfs;
use crate::report::{heading, si, us};

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Slack beyond the warm-up and the window for the client's lines.
const LINE_SLACK: Duration = Duration::from_secs(30);

/// Settings of one runner invocation.
#[derive(Clone, Debug)]
struct Settings {
    reps: usize,
    warmup_ms: u64,
    measure_ms: u64,
    systems: Vec<System>,
    workloads: Vec<Workload>,
    pin: bool,
}

impl Settings {
    fn parse(args: &[String]) -> Result<Settings, String> {
        let flags = Flags::new(args);
        let smoke = flags.has("--smoke");
        let systems = flags.list("--systems", &System::ALL)?;
        let workloads = flags.list("--workloads", &Workload::ALL)?;
        let (reps, warmup_ms, measure_ms) = if smoke {
            (1, 100, 200)
        } else {
            (3, 1000, 3000)
        };
        let settings = Settings {
            reps: flags.parse("--reps")?.unwrap_or(reps),
            warmup_ms: flags.parse("--warmup-ms")?.unwrap_or(warmup_ms),
            measure_ms: flags.parse("--measure-ms")?.unwrap_or(measure_ms),
            systems,
            workloads,
            pin: !flags.has("--no-pin") && taskset_works(),
        };
        if settings.reps == 0 || settings.reps > 20 {
            return Err("--reps must be 1 to 20".to_owned());
        }
        if settings.measure_ms == 0 || settings.measure_ms > 60_000 || settings.warmup_ms > 60_000 {
            return Err("--measure-ms must be 1 to 60000, --warmup-ms at most 60000".to_owned());
        }
        Ok(settings)
    }
}

const USAGE: &str = "usage: compare [--smoke] [--reps N] [--warmup-ms N] [--measure-ms N]
               [--systems skycluster,skycluster-fresh,skycluster-raw,skycluster-lua,
               skycluster-postcard,skycluster-plain,skycluster-tls,skycluster-pool,
               tarpc,ceiling]
               [--workloads w1c1,w1c32,w1c256,w2,w3]
               [--no-pin]
       compare mesh|fanin|threads [FLAGS]: runs that runner, as its own binary does";

/// The runner's `main`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let Some((settings, exe)) = crate::runs::start(args, USAGE, Settings::parse)? else {
        return Ok(());
    };
    let load_before = procfs::load_average();
    if !settings.pin {
        eprintln!("compare: not pinning (no working taskset, or --no-pin)");
    }
    let mut results: HashMap<(String, System), Vec<Sample>> = HashMap::new();
    let mut failures = Vec::new();
    for rep in 0..settings.reps {
        for &workload in &settings.workloads {
            for &system in &settings.systems {
                eprintln!(
                    "compare: rep {}/{} {} {}",
                    rep + 1,
                    settings.reps,
                    workload.name(),
                    system
                );
                match run_one(&exe, &settings, system, workload) {
                    Ok(sample) => {
                        crate::runs::note_errors(
                            &mut failures,
                            &format!("{} {system}", workload.name()),
                            sample.errors,
                            sample.first_error.as_deref(),
                        );
                        results
                            .entry((workload.name(), system))
                            .or_default()
                            .push(sample);
                    }
                    Err(e) => failures.push(format!("{} {system}: {e}", workload.name())),
                }
            }
        }
    }
    let load_after = procfs::load_average();
    print!("{}", render(&settings, &results, (load_before, load_after)));
    crate::runs::failed(&failures)
}

/// One run's figures.
#[derive(Clone, Debug)]
pub(super) struct Sample {
    /// Calls (or messages the server counted) per second.
    pub(super) rate: f64,
    pub(super) p50_us: f64,
    pub(super) p99_us: f64,
    /// Megabytes (10^6) per second each way, for echo.
    pub(super) mb_per_sec: f64,
    pub(super) server_cpu_us: f64,
    pub(super) client_cpu_us: f64,
    pub(super) errors: u64,
    pub(super) first_error: Option<String>,
}

/// One server and one client process, and how to start them.
#[derive(Clone, Debug)]
pub(super) struct Pair<'a> {
    pub(super) system: System,
    pub(super) workload: Workload,
    /// Arguments for the server beyond its system (its runtime).
    pub(super) server_args: &'a [String],
    /// Arguments for the client beyond its system, address, workload and
    /// timing (its connections).
    pub(super) client_args: &'a [String],
    /// `taskset -c` CPU lists, if pinned.
    pub(super) server_cores: Option<&'a str>,
    pub(super) client_cores: Option<&'a str>,
    pub(super) warmup_ms: u64,
    pub(super) measure_ms: u64,
}

/// The server's push count and its clock, in nanoseconds.
fn server_count(server: &mut Proc) -> Result<(u64, u64), String> {
    server.tell("count")?;
    let line = server.expect("count ", Duration::from_secs(5))?;
    let mut fields = line.split_whitespace().map(str::parse::<u64>);
    match (fields.next(), fields.next()) {
        (Some(Ok(count)), Some(Ok(nanos))) => Ok((count, nanos)),
        _ => Err(format!("bad count line `{line}`")),
    }
}

fn run_one(
    exe: &Path,
    settings: &Settings,
    system: System,
    workload: Workload,
) -> Result<Sample, String> {
    let core = |c| settings.pin.then_some(c);
    run_pair(
        exe,
        &Pair {
            system,
            workload,
            server_args: &[],
            client_args: &[],
            server_cores: core("0"),
            client_cores: core("1"),
            warmup_ms: settings.warmup_ms,
            measure_ms: settings.measure_ms,
        },
    )
}

/// Runs one pair: starts the server, then the client, samples both
/// processes' CPU time (and the server's push count) when the client's
/// window starts and ends, and works out the figures.
pub(super) fn run_pair(exe: &Path, pair: &Pair<'_>) -> Result<Sample, String> {
    let Pair {
        system, workload, ..
    } = *pair;
    let name = |role: &str| format!("{role} ({system}, {})", workload.name());
    let mut server_args = strings(&["serve", "--system", system.name()]);
    server_args.extend_from_slice(pair.server_args);
    let mut server = Proc::spawn(exe, pair.server_cores, &server_args, name("server"))?;
    let addr = server.expect("listening ", START_TIMEOUT)?;
    let mut client_args = strings(&[
        "client",
        "--system",
        system.name(),
        "--addr",
        &addr,
        "--workload",
        &workload.name(),
        "--warmup-ms",
        &pair.warmup_ms.to_string(),
        "--measure-ms",
        &pair.measure_ms.to_string(),
    ]);
    client_args.extend_from_slice(pair.client_args);
    let mut client = Proc::spawn(exe, pair.client_cores, &client_args, name("client"))?;
    let slack = LINE_SLACK + Duration::from_millis(pair.warmup_ms);
    client.expect("start", slack)?;
    let cpu0 = (server.cpu()?, client.cpu()?);
    let count0 = server_count(&mut server)?;
    client.expect("end", slack + Duration::from_millis(pair.measure_ms))?;
    let cpu1 = (server.cpu()?, client.cpu()?);
    let count1 = server_count(&mut server)?;
    let report = Report::decode(&client.expect("result ", LINE_SLACK)?)?;
    client.finish()?;
    server.finish()?;

    let (rate, ops) = match workload {
        Workload::Echo { .. } => (report.calls as f64 / report.secs, report.calls),
        Workload::Push { .. } => {
            let counted = count1.0.saturating_sub(count0.0);
            let secs = count1.1.saturating_sub(count0.1) as f64 / 1e9;
            (counted as f64 / secs.max(1e-9), counted)
        }
    };
    let per_op = |d: Duration| d.as_secs_f64() * 1e6 / ops.max(1) as f64;
    let mb_per_sec = match workload {
        Workload::Echo { size, .. } => rate * size as f64 / 1e6,
        Workload::Push { size } => rate * size as f64 / 1e6,
    };
    Ok(Sample {
        rate,
        p50_us: report.p50_ns as f64 / 1e3,
        p99_us: report.p99_ns as f64 / 1e3,
        mb_per_sec,
        server_cpu_us: per_op(cpu1.0.saturating_sub(cpu0.0)),
        client_cpu_us: per_op(cpu1.1.saturating_sub(cpu0.1)),
        errors: report.errors,
        first_error: report.first_error,
    })
}

/// Min, median and max of one figure over the repetitions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Spread {
    pub(super) min: f64,
    pub(super) med: f64,
    pub(super) max: f64,
}

impl Spread {
    pub(super) fn of(samples: &[Sample], figure: impl Fn(&Sample) -> f64) -> Option<Spread> {
        let mut v: Vec<f64> = samples.iter().map(figure).collect();
        v.sort_by(f64::total_cmp);
        Some(Spread {
            min: *v.first()?,
            med: v[v.len() / 2],
            max: *v.last()?,
        })
    }
}

pub(super) fn cell(spread: Option<Spread>, fmt: fn(f64) -> String) -> String {
    match spread {
        Some(s) => format!("{} ({}–{})", fmt(s.med), fmt(s.min), fmt(s.max)),
        None => "–".to_owned(),
    }
}

pub(super) fn cpu(x: f64) -> String {
    format!("{x:.2}")
}

fn render(
    settings: &Settings,
    results: &HashMap<(String, System), Vec<Sample>>,
    load: (Option<f64>, Option<f64>),
) -> String {
    let mut out = heading("skycluster comparison", load);
    out += &format!(
        "{} repetitions, {} ms warm-up, {} ms measured, {}; median (min–max)\n\n",
        settings.reps,
        settings.warmup_ms,
        settings.measure_ms,
        if settings.pin {
            "server on core 0, client on core 1"
        } else {
            "unpinned"
        },
    );
    out += "| workload | system | calls/s | p50 µs | p99 µs | MB/s each way | server CPU µs/call | client CPU µs/call |\n";
    out += "| --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for &workload in &settings.workloads {
        for &system in &settings.systems {
            let Some(samples) = results.get(&(workload.name(), system)) else {
                out += &format!("| {} | {system} | failed | | | | | |\n", workload.label());
                continue;
            };
            let push = matches!(workload, Workload::Push { .. });
            let latency = |f: fn(&Sample) -> f64| {
                if push {
                    "–".to_owned()
                } else {
                    cell(Spread::of(samples, f), us)
                }
            };
            let mb = if matches!(workload, Workload::Echo { size, .. } if size >= 1 << 16) {
                cell(Spread::of(samples, |s| s.mb_per_sec), |x| format!("{x:.0}"))
            } else {
                "–".to_owned()
            };
            out += &format!(
                "| {} | {system} | {} | {} | {} | {mb} | {} | {} |\n",
                workload.label(),
                cell(Spread::of(samples, |s| s.rate), si),
                latency(|s| s.p50_us),
                latency(|s| s.p99_us),
                cell(Spread::of(samples, |s| s.server_cpu_us), cpu),
                cell(Spread::of(samples, |s| s.client_cpu_us), cpu),
            );
        }
    }
    if settings
        .workloads
        .iter()
        .any(|w| matches!(w, Workload::Push { .. }))
        && settings.systems.contains(&System::Tarpc)
    {
        out += "\nW3: messages the server counted per second. tarpc has no one-way calls; its row is a call returning `()`, 256 in flight.\n";
    }
    out += &ratios(settings, results);
    out
}

/// Per workload, skycluster against the others (medians), and the targets.
fn ratios(settings: &Settings, results: &HashMap<(String, System), Vec<Sample>>) -> String {
    let med = |w: Workload, s: System, f: fn(&Sample) -> f64| {
        results
            .get(&(w.name(), s))
            .and_then(|v| Spread::of(v, f))
            .map(|s| s.med)
    };
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let show = |r: Option<f64>| r.map_or("–".to_owned(), |r| format!("{r:.2}"));
    let mut out = String::from(
        "\n| workload | calls/s sky/tarpc | calls/s sky/ceiling | p50 sky/ceiling | server CPU sky/tarpc | client CPU sky/tarpc |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    let mut targets = Vec::new();
    for &w in &settings.workloads {
        let r = |s: System, f: fn(&Sample) -> f64| ratio(med(w, System::Sky, f), med(w, s, f));
        let vs_tarpc = r(System::Tarpc, |s| s.rate);
        let vs_ceiling = r(System::Ceiling, |s| s.rate);
        let p50 = r(System::Ceiling, |s| s.p50_us);
        let server_cpu = r(System::Tarpc, |s| s.server_cpu_us);
        let client_cpu = r(System::Tarpc, |s| s.client_cpu_us);
        let push = matches!(w, Workload::Push { .. });
        out += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            w.label(),
            show(vs_tarpc),
            show(vs_ceiling),
            if push { "–".to_owned() } else { show(p50) },
            show(server_cpu),
            show(client_cpu),
        );
        let mut target = |what: String, value: Option<f64>, ok: fn(f64) -> bool| {
            let verdict = match value {
                Some(v) if ok(v) => "met",
                Some(_) => "MISSED",
                None => "not measured",
            };
            targets.push(format!(
                "- {} {what}: {} ({verdict})",
                w.label(),
                show(value)
            ));
        };
        match w {
            Workload::Echo {
                conc: 32 | 256,
                size: 16,
            } => {
                target("calls/s sky/tarpc >= 1.5".into(), vs_tarpc, |v| v >= 1.5);
                target("calls/s sky/ceiling >= 0.75".into(), vs_ceiling, |v| {
                    v >= 0.75
                });
                target("server CPU/call sky/tarpc <= 0.5".into(), server_cpu, |v| {
                    v <= 0.5
                });
                target("client CPU/call sky/tarpc <= 0.5".into(), client_cpu, |v| {
                    v <= 0.5
                });
            }
            Workload::Echo { conc: 1, size: 16 } => {
                target("p50 sky/ceiling <= 1.15".into(), p50, |v| v <= 1.15);
            }
            Workload::Echo {
                conc: 4,
                size: 262_144,
            } => {
                target("MB/s sky/ceiling >= 0.75".into(), vs_ceiling, |v| v >= 0.75);
            }
            Workload::Push { size: 16 } => {
                target("msgs/s sky/ceiling >= 0.40".into(), vs_ceiling, |v| {
                    v >= 0.40
                });
            }
            _ => {}
        }
    }
    out += &other_clients(settings, &med, &ratio, &show, &mut targets);
    out += &versus_kept(
        settings,
        &med,
        &ratio,
        &show,
        ("codec", "bincode"),
        &[(System::SkyLua, "lua"), (System::SkyPostcard, "postcard")],
    );
    out += &versus_kept(
        settings,
        &med,
        &ratio,
        &show,
        ("client", "kept"),
        &[(System::SkyPool, "pool")],
    );
    out += &extensions(settings, &med, &ratio, &show, &mut targets);
    out += &tls_cost(settings, &med, &ratio, &show, &mut targets);
    if !targets.is_empty() {
        out += "\nTargets (medians of the same run):\n";
        out += &targets.join("\n");
        out += "\n";
    }
    out
}

/// The median of one figure of a workload's samples on a system.
type Median<'a> = dyn Fn(Workload, System, fn(&Sample) -> f64) -> Option<f64> + 'a;

/// skycluster's other clients (a proxy made per call, raw `Cluster::call`)
/// against its kept typed client, with the target that they cost no more
/// than 5% more client CPU per call.
fn other_clients(
    settings: &Settings,
    med: &Median<'_>,
    ratio: &dyn Fn(Option<f64>, Option<f64>) -> Option<f64>,
    show: &dyn Fn(Option<f64>) -> String,
    targets: &mut Vec<String>,
) -> String {
    let others = [System::SkyFresh, System::SkyRaw];
    if !settings.systems.contains(&System::Sky)
        || !others.iter().any(|s| settings.systems.contains(s))
    {
        return String::new();
    }
    let mut out = String::from(
        "\n| workload | calls/s fresh/kept | client CPU fresh/kept | calls/s raw/kept | client CPU raw/kept |\n| --- | --- | --- | --- | --- |\n",
    );
    for &w in &settings.workloads {
        let r = |s: System, f: fn(&Sample) -> f64| ratio(med(w, s, f), med(w, System::Sky, f));
        let fresh_cpu = r(System::SkyFresh, |s| s.client_cpu_us);
        out += &format!(
            "| {} | {} | {} | {} | {} |\n",
            w.label(),
            show(r(System::SkyFresh, |s| s.rate)),
            show(fresh_cpu),
            show(r(System::SkyRaw, |s| s.rate)),
            show(r(System::SkyRaw, |s| s.client_cpu_us)),
        );
        if let Workload::Echo {
            conc: 256,
            size: 16,
        } = w
        {
            let verdict = match fresh_cpu {
                Some(v) if v <= 1.05 => "met",
                Some(_) => "MISSED",
                None => "not measured",
            };
            targets.push(format!(
                "- {} client CPU/call fresh proxy/kept client <= 1.05: {} ({verdict})",
                w.label(),
                show(fresh_cpu)
            ));
        }
    }
    out
}

/// The kept client as it ships (schema check and Rust-to-Rust
/// extensions on: a deadline frame with every call) against the same
/// client with both off, with the target that they cost at most 5% of
/// W1 C=256's calls/s.
fn extensions(
    settings: &Settings,
    med: &Median<'_>,
    ratio: &dyn Fn(Option<f64>, Option<f64>) -> Option<f64>,
    show: &dyn Fn(Option<f64>) -> String,
    targets: &mut Vec<String>,
) -> String {
    if !settings.systems.contains(&System::Sky) || !settings.systems.contains(&System::SkyPlain) {
        return String::new();
    }
    let mut out = String::from(
        "\n| workload | calls/s default/plain | server CPU default/plain | client CPU default/plain |\n| --- | --- | --- | --- |\n",
    );
    for &w in &settings.workloads {
        let r = |f: fn(&Sample) -> f64| ratio(med(w, System::Sky, f), med(w, System::SkyPlain, f));
        let rate = r(|s| s.rate);
        out += &format!(
            "| {} | {} | {} | {} |\n",
            w.label(),
            show(rate),
            show(r(|s| s.server_cpu_us)),
            show(r(|s| s.client_cpu_us)),
        );
        if let Workload::Echo {
            conc: 256,
            size: 16,
        } = w
        {
            let verdict = match rate {
                Some(v) if v >= 0.95 => "met",
                Some(_) => "MISSED",
                None => "not measured",
            };
            targets.push(format!(
                "- {} calls/s with the schema check and extensions / without >= 0.95: {} ({verdict})",
                w.label(),
                show(rate)
            ));
        }
    }
    out
}

/// Variants of skycluster's kept typed client against it, one row per
/// workload and variant: `others` names each variant's system and its
/// label, `what` the column the labels go in. No target: the figures are
/// for a user choosing between them.
///
/// The codecs (`codec = lua`, `codec = postcard` against bincode): what
/// Skynet's calling convention in lua-seri, or postcard in bincode's
/// place, costs. The pool (`cluster.pool` against a client kept for the
/// one node): what choosing a node per call costs.
fn versus_kept(
    settings: &Settings,
    med: &Median<'_>,
    ratio: &dyn Fn(Option<f64>, Option<f64>) -> Option<f64>,
    show: &dyn Fn(Option<f64>) -> String,
    (what, base): (&str, &str),
    others: &[(System, &str)],
) -> String {
    let others: Vec<(System, &str)> = others
        .iter()
        .copied()
        .filter(|(s, _)| settings.systems.contains(s))
        .collect();
    if !settings.systems.contains(&System::Sky) || others.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n| workload | {what} | calls/s {what}/{base} | p50 {what}/{base} | server CPU {what}/{base} | client CPU {what}/{base} |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for &w in &settings.workloads {
        for &(system, label) in &others {
            let r = |f: fn(&Sample) -> f64| ratio(med(w, system, f), med(w, System::Sky, f));
            let push = matches!(w, Workload::Push { .. });
            out += &format!(
                "| {} | {label} | {} | {} | {} | {} |\n",
                w.label(),
                show(r(|s| s.rate)),
                if push {
                    "–".to_owned()
                } else {
                    show(r(|s| s.p50_us))
                },
                show(r(|s| s.server_cpu_us)),
                show(r(|s| s.client_cpu_us)),
            );
        }
    }
    out
}

/// skycluster over TLS against the same client in plaintext, with the
/// issue's target: TLS keeps at least 0.7 of the calls/s at W1 C=256.
fn tls_cost(
    settings: &Settings,
    med: &Median<'_>,
    ratio: &dyn Fn(Option<f64>, Option<f64>) -> Option<f64>,
    show: &dyn Fn(Option<f64>) -> String,
    targets: &mut Vec<String>,
) -> String {
    if !settings.systems.contains(&System::Sky) || !settings.systems.contains(&System::SkyTls) {
        return String::new();
    }
    let mut out = String::from(
        "\n| workload | calls/s tls/plain | p50 tls/plain | server CPU tls/plain | client CPU tls/plain |\n| --- | --- | --- | --- | --- |\n",
    );
    for &w in &settings.workloads {
        let r = |f: fn(&Sample) -> f64| ratio(med(w, System::SkyTls, f), med(w, System::Sky, f));
        let push = matches!(w, Workload::Push { .. });
        let rate = r(|s| s.rate);
        out += &format!(
            "| {} | {} | {} | {} | {} |\n",
            w.label(),
            show(rate),
            if push {
                "–".to_owned()
            } else {
                show(r(|s| s.p50_us))
            },
            show(r(|s| s.server_cpu_us)),
            show(r(|s| s.client_cpu_us)),
        );
        if let Workload::Echo {
            conc: 256,
            size: 16,
        } = w
        {
            let verdict = match rate {
                Some(v) if v >= 0.7 => "met",
                Some(_) => "MISSED",
                None => "not measured",
            };
            targets.push(format!(
                "- {} calls/s tls/plain >= 0.70: {} ({verdict})",
                w.label(),
                show(rate)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_name_parses_back() {
        for w in Workload::ALL {
            assert_eq!(w.name().parse::<Workload>(), Ok(w));
        }
        assert_eq!(
            "echo:8:100".parse::<Workload>(),
            Ok(Workload::Echo { conc: 8, size: 100 })
        );
        assert!("w9".parse::<Workload>().is_err());
    }
}
