//! What `#[cluster_main]` expands to: the node's flags and environment,
//! its runtime, and a graceful shutdown on a signal.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::Cluster;

/// How long calls in flight may run after a shutdown signal, by default.
const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// The flags and environment variables naming the node and its config.
const NODE_FLAG: &str = "--node";
const CONFIG_FLAG: &str = "--config";
const NODE_ENV: &str = "SKYCLUSTER_NODE";
const CONFIG_ENV: &str = "SKYCLUSTER_CONFIG";

/// `#[cluster_main(grace_ms = .., worker_threads = ..)]`.
#[derive(Debug, Clone)]
pub struct MainOptions {
    grace: Duration,
    worker_threads: Option<usize>,
}

impl MainOptions {
    pub fn new() -> MainOptions {
        MainOptions {
            grace: DEFAULT_GRACE,
            worker_threads: None,
        }
    }

    pub fn grace(mut self, grace: Duration) -> MainOptions {
        self.grace = grace;
        self
    }

    pub fn worker_threads(mut self, n: usize) -> MainOptions {
        self.worker_threads = Some(n);
        self
    }
}

impl Default for MainOptions {
    fn default() -> MainOptions {
        MainOptions::new()
    }
}

#[diagnostic::on_unimplemented(
    message = "a `#[cluster_main]` function returns `()` or `Result<(), E>`, not `{Self}`",
    label = "`main` returns this"
)]
/// What a `#[cluster_main]` body may return: `main` returns it, and a
/// shutdown signal that cuts the body short returns [`interrupted`].
///
/// [`interrupted`]: MainOutput::interrupted
pub trait MainOutput {
    /// The value `main` returns when a signal stopped the node: success.
    fn interrupted() -> Self;
}

impl MainOutput for () {
    fn interrupted() {}
}

impl<E> MainOutput for Result<(), E> {
    fn interrupted() -> Self {
        Ok(())
    }
}

impl MainOutput for std::process::ExitCode {
    fn interrupted() -> Self {
        std::process::ExitCode::SUCCESS
    }
}

/// The node name and clustername path `main` was started with.
#[derive(Debug, PartialEq, Eq)]
struct MainArgs {
    node: String,
    config: String,
}

impl MainArgs {
    /// Reads `--node NAME` / `--node=NAME` and `--config FILE` /
    /// `--config=FILE` from `args` (without the program name), falling back
    /// to `env` for each. Other arguments are left to the program.
    fn parse(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<MainArgs, String> {
        let mut node = None;
        let mut config = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            for (flag, slot) in [(NODE_FLAG, &mut node), (CONFIG_FLAG, &mut config)] {
                let value = if arg == flag {
                    Some(args.next().ok_or_else(|| format!("{flag} needs a value"))?)
                } else {
                    arg.strip_prefix(flag)
                        .and_then(|rest| rest.strip_prefix('='))
                        .map(str::to_owned)
                };
                if let Some(value) = value {
                    if value.is_empty() {
                        return Err(format!("{flag} needs a value"));
                    }
                    *slot = Some(value);
                }
            }
        }
        let node = node
            .or_else(|| env(NODE_ENV).filter(|v| !v.is_empty()))
            .ok_or_else(|| format!("no node name: pass {NODE_FLAG} NAME or set {NODE_ENV}"))?;
        let config = config
            .or_else(|| env(CONFIG_ENV).filter(|v| !v.is_empty()))
            .ok_or_else(|| {
                format!("no cluster config: pass {CONFIG_FLAG} FILE or set {CONFIG_ENV}")
            })?;
        Ok(MainArgs { node, config })
    }
}

/// Prints `message` and exits with `code`: `main` has no caller to return
/// a startup error to that could say which flag is missing.
fn exit_with(code: i32, message: impl fmt::Display) -> ! {
    let program = std::env::args().next().unwrap_or_else(|| "node".to_owned());
    eprintln!("{program}: {message}");
    if code == 2 {
        eprintln!("usage: {program} {NODE_FLAG} NAME {CONFIG_FLAG} FILE (or set {NODE_ENV} and {CONFIG_ENV})");
    }
    std::process::exit(code)
}

/// The body of the `main` that `#[cluster_main]` generates.
pub fn run_main<F, Fut, T>(options: MainOptions, body: F) -> T
where
    F: FnOnce(Cluster) -> Fut,
    Fut: Future<Output = T>,
    T: MainOutput,
{
    let args = MainArgs::parse(std::env::args().skip(1), |key| std::env::var(key).ok())
        .unwrap_or_else(|e| exit_with(2, e));
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = options.worker_threads {
        builder.worker_threads(n);
    }
    let runtime = builder
        .build()
        .unwrap_or_else(|e| exit_with(1, format!("cannot start the tokio runtime: {e}")));
    runtime.block_on(async move {
        // Caught from here on: a signal while the node starts is not lost,
        // nor does it kill the process.
        let mut signals = ShutdownSignals::install();
        let cluster = Cluster::load(&args.config).unwrap_or_else(|e| exit_with(1, e));
        if let Err(e) = cluster.open(&args.node).await {
            exit_with(1, e);
        }
        let output = tokio::select! {
            output = body(cluster.clone()) => output,
            signal = signals.recv() => {
                tracing::info!(node = %args.node, %signal, "shutting down");
                T::interrupted()
            }
        };
        tokio::select! {
            () = cluster.shutdown(options.grace) => {}
            signal = signals.recv() => exit_with(130, format!("{signal} during shutdown, exiting now")),
        }
        output
    })
}

/// Ctrl-C and, on Unix, SIGTERM: handlers installed when this is made,
/// not when it is first awaited.
struct ShutdownSignals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl ShutdownSignals {
    fn install() -> ShutdownSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let unix = signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
                .ok();
            ShutdownSignals { unix }
        }
        #[cfg(not(unix))]
        {
            ShutdownSignals {}
        }
    }

    /// Waits for the next signal; says which came.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        if let Some((term, interrupt)) = &mut self.unix {
            return tokio::select! {
                _ = interrupt.recv() => "interrupt",
                _ = term.recv() => "SIGTERM",
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        "interrupt"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<MainArgs, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MainArgs::parse(args.iter().map(|a| a.to_string()), |key| {
            env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        })
    }

    fn args(node: &str, config: &str) -> MainArgs {
        MainArgs {
            node: node.into(),
            config: config.into(),
        }
    }

    #[test]
    fn flags_come_in_both_spellings_and_beat_the_environment() {
        let env = [(NODE_ENV, "envnode"), (CONFIG_ENV, "env.lua")];
        assert_eq!(
            parse(&["--node", "game1", "--config=c.lua"], &env),
            Ok(args("game1", "c.lua"))
        );
        assert_eq!(parse(&["--verbose"], &env), Ok(args("envnode", "env.lua")));
    }

    #[test]
    fn a_missing_node_or_config_names_the_flag_and_the_variable() {
        let err = parse(&["--config", "c.lua"], &[]).unwrap_err();
        assert!(err.contains("--node") && err.contains(NODE_ENV), "{err}");
        let err = parse(&[], &[(NODE_ENV, "game1")]).unwrap_err();
        assert!(
            err.contains("--config") && err.contains(CONFIG_ENV),
            "{err}"
        );
        assert!(parse(&["--node"], &[])
            .unwrap_err()
            .contains("needs a value"));
    }
}
