//! What a metrics recorder costs: with `SKYCLUSTER_BENCH_RECORDER=prometheus`
//! in its environment, a compare child (server or client) installs a
//! Prometheus recorder before it starts, and renders its text once a
//! second (as a scrape every second would, and as the exporter's own
//! upkeep drains its histograms). Needs the benches' `metrics` feature,
//! which turns on skycluster's:
//!
//! ```sh
//! cargo run --release -p benches --features metrics --bin compare -- --systems skycluster --workloads w1c256
//! SKYCLUSTER_BENCH_RECORDER=prometheus cargo run --release -p benches --features metrics --bin compare -- ...
//! ```
//!
//! against the same command without `--features metrics`: the three
//! builds' rows are the cost of the feature with no recorder, and of a
//! recorder (see `benches/README.md`).

/// The variable that asks for a recorder.
const VAR: &str = "SKYCLUSTER_BENCH_RECORDER";

/// Installs the recorder the environment asks for, if any.
pub(crate) fn install_if_asked() -> Result<(), String> {
    match std::env::var(VAR).ok().as_deref() {
        None | Some("" | "none") => Ok(()),
        Some("prometheus") => prometheus(),
        Some(other) => Err(format!("{VAR}={other}: expected `prometheus` or `none`")),
    }
}

#[cfg(feature = "metrics")]
fn prometheus() -> Result<(), String> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("{VAR}=prometheus: cannot install the recorder: {e}"))?;
    // A scrape a second, on a thread of its own: what an exporter costs
    // besides the recording itself. Ends with the process.
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
        handle.run_upkeep();
        std::hint::black_box(handle.render());
    });
    Ok(())
}

#[cfg(not(feature = "metrics"))]
fn prometheus() -> Result<(), String> {
    Err(format!(
        "{VAR}=prometheus needs the benches' `metrics` feature: \
         cargo run --release -p benches --features metrics --bin compare"
    ))
}
