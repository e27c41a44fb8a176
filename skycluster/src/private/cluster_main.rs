//! What `#[cluster_main]` expands to: the node's flags and environment,
//! its [`Options`], its runtime, a graceful shutdown on a signal, and
//! errors printed once each.
//!
//! In order, [`run_main`]:
//!
//! 1. reads `--node`, `--config` and `--secret-file` (each flag over its
//!    environment variable, [`MainArgs`]);
//! 2. builds the runtime;
//! 3. makes the node's [`Options`]: the `options = path` function's, or
//!    the defaults; a secret file turns on [`Options::auth`] with its
//!    secret ([`read_secret_file`](crate::read_secret_file));
//! 4. loads the config, listens, runs the body until it returns or a
//!    signal comes, and shuts down within the grace: `grace_ms` if the
//!    attribute has it, else [`Options::shutdown_grace`];
//! 5. returns the body's value; an `Err` is printed instead, the error and
//!    each of its causes once, with `Display` ([`ErrorChain`]), and the
//!    process exits with code 1 (where Rust's own `main` would print
//!    `Debug`).

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

#[cfg(feature = "auth")]
use crate::Auth;
use crate::{Cluster, Config, Options, SecretFile};

/// The flags and environment variables naming the node, its config and
/// the file holding the cluster secret.
const NODE_FLAG: &str = "--node";
const CONFIG_FLAG: &str = "--config";
const SECRET_FLAG: &str = "--secret-file";
const NODE_ENV: &str = "SKYCLUSTER_NODE";
const CONFIG_ENV: &str = "SKYCLUSTER_CONFIG";
const SECRET_ENV: &str = "SKYCLUSTER_SECRET_FILE";

/// The most causes [`ErrorChain`] prints: chains are short, and a cyclic
/// one (a bug, but possible) must not print forever.
const MAX_CAUSES: usize = 32;

/// How an `options = path` function's value becomes [`Options`].
type MakeOptions = Box<dyn FnOnce() -> Result<Options, Box<dyn StdError>>>;

/// `#[cluster_main(grace_ms = .., worker_threads = .., options = ..)]`.
pub struct MainOptions {
    grace: Option<Duration>,
    worker_threads: Option<usize>,
    options: Option<MakeOptions>,
}

impl MainOptions {
    pub fn new() -> MainOptions {
        MainOptions {
            grace: None,
            worker_threads: None,
            options: None,
        }
    }

    /// `grace_ms`: overrides [`Options::shutdown_grace`].
    pub fn grace(mut self, grace: Duration) -> MainOptions {
        self.grace = Some(grace);
        self
    }

    pub fn worker_threads(mut self, n: usize) -> MainOptions {
        self.worker_threads = Some(n);
        self
    }

    /// `options = path`: `make` is called once, after the flags are read
    /// and before the config is loaded, inside the runtime.
    pub fn options<F, R, M>(mut self, make: F) -> MainOptions
    where
        F: FnOnce() -> R + 'static,
        R: IntoOptions<M>,
    {
        self.options = Some(Box::new(move || make().into_options()));
        self
    }
}

impl Default for MainOptions {
    fn default() -> MainOptions {
        MainOptions::new()
    }
}

impl fmt::Debug for MainOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MainOptions")
            .field("grace", &self.grace)
            .field("worker_threads", &self.worker_threads)
            .field("options", &self.options.as_ref().map(|_| "fn"))
            .finish()
    }
}

/// Which impl of [`MainError`] (and so of [`IntoOptions`] and
/// [`MainOutput`], whose impls for a value that is not an error, such as
/// `()`, take `()`) a type takes. The marker parameter lets one trait have impls that would
/// otherwise overlap: `Box<dyn Error + Send + Sync>` is not
/// `Into<Box<dyn Error>>`, and a blanket impl over every `E: Into<..>`
/// next to one for that box would be refused.
#[derive(Debug)]
pub enum ViaInto {}

/// See [`ViaInto`]: `Box<dyn Error + Send + Sync>`.
#[derive(Debug)]
pub enum SendSyncBox {}

/// See [`ViaInto`]: `Box<dyn Error + Send>`.
#[derive(Debug)]
pub enum SendBox {}

#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an error type `#[cluster_main]` can print",
    note = "the error of a `#[cluster_main]` body or `options` function is a \
            `std::error::Error`, `Box<dyn Error (+ Send + Sync)>`, `anyhow::Error`, \
            `eyre::Report` or `String`"
)]
/// An error a `#[cluster_main]` body or `options` function may return:
/// any `E: Into<Box<dyn Error>>` (every `std::error::Error`, `String`,
/// `&str`, `anyhow::Error`, `eyre::Report`), and the boxes of
/// `dyn Error + Send (+ Sync)` that are not.
pub trait MainError<M> {
    /// The error, boxed, with its chain of sources intact.
    fn into_boxed(self) -> Box<dyn StdError>;
}

impl<E: Into<Box<dyn StdError>>> MainError<ViaInto> for E {
    fn into_boxed(self) -> Box<dyn StdError> {
        self.into()
    }
}

impl MainError<SendSyncBox> for Box<dyn StdError + Send + Sync> {
    fn into_boxed(self) -> Box<dyn StdError> {
        self
    }
}

impl MainError<SendBox> for Box<dyn StdError + Send> {
    fn into_boxed(self) -> Box<dyn StdError> {
        self
    }
}

#[diagnostic::on_unimplemented(
    message = "a `#[cluster_main(options = ..)]` function returns `skycluster::Options` \
               or `Result<skycluster::Options, E>`, not `{Self}`",
    label = "this function's value is not `Options`"
)]
/// What an `options = path` function may return: [`Options`], or a
/// `Result` of them whose error stops the node at startup.
pub trait IntoOptions<M> {
    fn into_options(self) -> Result<Options, Box<dyn StdError>>;
}

impl IntoOptions<()> for Options {
    fn into_options(self) -> Result<Options, Box<dyn StdError>> {
        Ok(self)
    }
}

impl<E: MainError<M>, M> IntoOptions<M> for Result<Options, E> {
    fn into_options(self) -> Result<Options, Box<dyn StdError>> {
        self.map_err(MainError::into_boxed)
    }
}

#[diagnostic::on_unimplemented(
    message = "a `#[cluster_main]` function returns `()`, `ExitCode` or `Result<(), E>`, \
               not `{Self}`",
    label = "`main` returns this"
)]
/// What a `#[cluster_main]` body may return: `main` returns it, unless it
/// is an `Err`, which is printed (by `ErrorChain`, each cause once) before
/// the process exits with code 1. A shutdown signal that cuts the body
/// short gives [`interrupted`].
///
/// [`interrupted`]: MainOutput::interrupted
pub trait MainOutput<M>: Sized {
    /// The value `main` returns when a signal stopped the node: success.
    fn interrupted() -> Self;

    /// The value for `main` to return, or the error to print instead.
    fn or_error(self) -> Result<Self, Box<dyn StdError>>;
}

impl MainOutput<()> for () {
    fn interrupted() {}

    fn or_error(self) -> Result<(), Box<dyn StdError>> {
        Ok(())
    }
}

impl<E: MainError<M>, M> MainOutput<M> for Result<(), E> {
    fn interrupted() -> Self {
        Ok(())
    }

    fn or_error(self) -> Result<Self, Box<dyn StdError>> {
        match self {
            Ok(()) => Ok(Ok(())),
            Err(e) => Err(e.into_boxed()),
        }
    }
}

impl MainOutput<()> for ExitCode {
    fn interrupted() -> Self {
        ExitCode::SUCCESS
    }

    fn or_error(self) -> Result<ExitCode, Box<dyn StdError>> {
        Ok(self)
    }
}

/// An error and each of its sources, `Display`ed once each and joined
/// with `: `, as `anyhow`'s `{:#}` does: `cannot read cluster config
/// c.lua: No such file or directory (os error 2)`. It relies on every
/// error in the chain telling its own cause either in its message or as
/// its source, not both (see `error.rs`).
#[derive(Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn StdError + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut current = self.0;
        for _ in 0..MAX_CAUSES {
            let Some(source) = current.source() else {
                return Ok(());
            };
            write!(f, ": {source}")?;
            current = source;
        }
        if current.source().is_some() {
            f.write_str(": ...")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The node name, clustername path and secret file `main` was started
/// with.
#[derive(Debug, PartialEq, Eq)]
struct MainArgs {
    node: String,
    config: String,
    secret: Option<SecretFile>,
}

impl MainArgs {
    /// Reads `--node NAME`, `--config FILE` and `--secret-file FILE` (or
    /// `--flag=VALUE`) from `args` (without the program name), falling
    /// back to `env` for each. Other arguments are left to the program.
    ///
    /// An empty `SKYCLUSTER_SECRET_FILE` is an error rather than "no
    /// secret": a deployment that meant to set one fails closed.
    fn parse(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<MainArgs, String> {
        let mut node = None;
        let mut config = None;
        let mut secret = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            for (flag, slot) in [
                (NODE_FLAG, &mut node),
                (CONFIG_FLAG, &mut config),
                (SECRET_FLAG, &mut secret),
            ] {
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
        let secret = match (secret, env(SECRET_ENV)) {
            (Some(path), _) => Some(SecretFile {
                path: path.into(),
                named_by: SECRET_FLAG,
            }),
            (None, Some(path)) if path.is_empty() => {
                return Err(format!(
                    "{SECRET_ENV} is set but empty: name the secret file, or unset it"
                ))
            }
            (None, Some(path)) => Some(SecretFile {
                path: path.into(),
                named_by: SECRET_ENV,
            }),
            (None, None) => None,
        };
        Ok(MainArgs {
            node,
            config,
            secret,
        })
    }
}

/// The node's options: `make`'s (the `options = path` function), or the
/// defaults, with [`Options::auth`] on if a secret file is given.
///
/// # Errors
///
/// The function's own error, an unreadable secret file, or both a secret
/// file and an `auth` from the function: which secret would be meant is
/// unclear, so the node does not start.
fn node_options(
    make: Option<MakeOptions>,
    secret: Option<&SecretFile>,
) -> Result<Options, Box<dyn StdError>> {
    #[cfg_attr(not(feature = "auth"), allow(unused_mut))]
    let mut options = match make {
        Some(make) => make().map_err(|e| {
            format!(
                "the `#[cluster_main(options = ..)]` function failed: {}",
                ErrorChain(&*e)
            )
        })?,
        None => Options::default(),
    };
    #[cfg(not(feature = "auth"))]
    if let Some(file) = secret {
        return Err(format!(
            "a secret file is named by {}, but this node was built without skycluster's \
             `auth` feature: turn it on, or start the node without a secret",
            file.named_by
        )
        .into());
    }
    #[cfg(feature = "auth")]
    if let Some(file) = secret {
        if options.auth.is_some() {
            return Err(format!(
                "the `#[cluster_main(options = ..)]` function sets `Options::auth`, and a \
                 secret file is named by {} too: use one or the other",
                file.named_by
            )
            .into());
        }
        options.auth = Some(Auth::from_secret_file(file)?);
    }
    Ok(options)
}

/// The program's name, for messages.
fn program() -> String {
    std::env::args().next().unwrap_or_else(|| "node".to_owned())
}

/// Prints `message` and exits with `code`: `main` has no caller to return
/// a startup error to that could say which flag is missing.
fn exit_with(code: i32, message: impl fmt::Display) -> ! {
    let program = program();
    eprintln!("{program}: {message}");
    if code == 2 {
        eprintln!(
            "usage: {program} {NODE_FLAG} NAME {CONFIG_FLAG} FILE [{SECRET_FLAG} FILE] \
             (or set {NODE_ENV}, {CONFIG_ENV} and {SECRET_ENV})"
        );
    }
    std::process::exit(code)
}

/// The body of the `main` that `#[cluster_main]` generates.
///
/// An `Err` from the body is printed here and the process exits with code
/// 1, rather than returned: `main` returning it would print it again, with
/// `Debug`. (A `#[cluster_main]` function called by another function, as
/// the demo example's `main` does, so never sees an `Err` either.)
pub fn run_main<F, Fut, T, M>(main_options: MainOptions, body: F) -> T
where
    F: FnOnce(Cluster) -> Fut,
    Fut: Future<Output = T>,
    T: MainOutput<M>,
{
    let args = MainArgs::parse(std::env::args().skip(1), |key| std::env::var(key).ok())
        .unwrap_or_else(|e| exit_with(2, e));
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = main_options.worker_threads {
        builder.worker_threads(n);
    }
    let runtime = builder.build().unwrap_or_else(|e| {
        exit_with(
            1,
            format_args!("cannot start the tokio runtime: {}", ErrorChain(&e)),
        )
    });
    let output = runtime.block_on(async move {
        // Caught from here on: a signal while the node starts is not lost,
        // nor does it kill the process.
        let mut signals = ShutdownSignals::install();
        let options = node_options(main_options.options, args.secret.as_ref())
            .unwrap_or_else(|e| exit_with(1, ErrorChain(&*e)));
        let grace = main_options.grace.unwrap_or(options.shutdown_grace);
        let config = Config::load(&args.config).unwrap_or_else(|e| exit_with(1, ErrorChain(&e)));
        let cluster = Cluster::with_options(config, options);
        if let Err(e) = cluster.open(&args.node).await {
            exit_with(1, ErrorChain(&e));
        }
        let output = tokio::select! {
            output = body(cluster.clone()) => output,
            signal = signals.recv() => {
                tracing::info!(node = %args.node, %signal, "shutting down");
                T::interrupted()
            }
        };
        tokio::select! {
            () = cluster.shutdown(grace) => {}
            signal = signals.recv() => exit_with(130, format!("{signal} during shutdown, exiting now")),
        }
        output
    });
    drop(runtime);
    output
        .or_error()
        .unwrap_or_else(|e| exit_with(1, ErrorChain(&*e)))
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
    use std::path::PathBuf;

    use crate::{read_secret_file, SecretFileError};

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
            secret: None,
        }
    }

    fn secret(path: &str, named_by: &'static str) -> Option<SecretFile> {
        Some(SecretFile {
            path: path.into(),
            named_by,
        })
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

    #[test]
    fn the_secret_file_flag_beats_its_variable_and_says_which_named_it() {
        let base = ["--node", "n", "--config", "c.lua"];
        assert_eq!(parse(&base, &[]).map(|a| a.secret), Ok(None));
        let env = [(SECRET_ENV, "/env/secret")];
        assert_eq!(
            parse(&base, &env).map(|a| a.secret),
            Ok(secret("/env/secret", SECRET_ENV))
        );
        let flagged = [&base[..], &["--secret-file=/flag/secret"]].concat();
        assert_eq!(
            parse(&flagged, &env).map(|a| a.secret),
            Ok(secret("/flag/secret", SECRET_FLAG))
        );
        let flagged = [&base[..], &["--secret-file", "/flag/secret"]].concat();
        assert_eq!(
            parse(&flagged, &[]).map(|a| a.secret),
            Ok(secret("/flag/secret", SECRET_FLAG))
        );
    }

    #[test]
    fn an_empty_secret_file_variable_or_flag_is_refused() {
        let base = ["--node", "n", "--config", "c.lua"];
        let err = parse(&base, &[(SECRET_ENV, "")]).unwrap_err();
        assert!(err.contains(SECRET_ENV) && err.contains("empty"), "{err}");
        let err = parse(&[&base[..], &["--secret-file="]].concat(), &[]).unwrap_err();
        assert!(err.contains("--secret-file needs a value"), "{err}");
        let err = parse(&[&base[..], &["--secret-file"]].concat(), &[]).unwrap_err();
        assert!(err.contains("--secret-file needs a value"), "{err}");
    }

    /// A file in a fresh temp directory, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, bytes: &[u8]) -> TempFile {
            let path =
                std::env::temp_dir().join(format!("skycluster-main-{}-{name}", std::process::id()));
            std::fs::write(&path, bytes).expect("write temp file");
            TempFile(path)
        }

        fn named_by(&self, named_by: &'static str) -> SecretFile {
            SecretFile {
                path: self.0.clone(),
                named_by,
            }
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn a_secret_is_the_files_bytes_less_trailing_line_endings() {
        let file = TempFile::new("crlf", b"s3cret \tx\r\n\n");
        let read = read_secret_file(&file.named_by(SECRET_FLAG)).expect("readable");
        assert_eq!(read, b"s3cret \tx");
        let file = TempFile::new("bare", b"\x00\xffkey");
        let read = read_secret_file(&file.named_by(SECRET_FLAG)).expect("readable");
        assert_eq!(read, b"\x00\xffkey");
    }

    #[test]
    fn a_missing_empty_or_huge_secret_file_is_an_error_naming_it_and_its_variable() {
        let missing = SecretFile {
            path: "/nonexistent/skycluster/secret".into(),
            named_by: SECRET_ENV,
        };
        let err = read_secret_file(&missing).unwrap_err();
        let text = ErrorChain(&err).to_string();
        assert!(text.contains("/nonexistent/skycluster/secret"), "{text}");
        assert!(text.contains(SECRET_ENV), "{text}");
        let cause = err.source().map(ToString::to_string).unwrap_or_default();
        assert!(!cause.is_empty(), "the I/O error is the source");
        assert_eq!(text.matches(&*cause).count(), 1, "{text}");

        let empty = TempFile::new("empty", b"\r\n");
        let err = read_secret_file(&empty.named_by(SECRET_FLAG)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("empty") && text.contains(SECRET_FLAG),
            "{text}"
        );
        assert!(text.contains(&*empty.0.to_string_lossy()), "{text}");

        let huge = TempFile::new("huge", &vec![b'k'; 64 * 1024 + 1]);
        let err = read_secret_file(&huge.named_by(SECRET_FLAG)).unwrap_err();
        assert!(matches!(err, SecretFileError::TooLarge { .. }), "{err}");
    }

    #[cfg(feature = "auth")]
    #[test]
    fn a_secret_file_turns_auth_on_unless_the_options_function_set_it() {
        let file = TempFile::new("opts", b"k\n");
        let options = node_options(None, Some(&file.named_by(SECRET_ENV))).expect("options");
        assert!(options.auth.is_some());
        assert!(node_options(None, None).expect("defaults").auth.is_none());

        let with_auth: MakeOptions = Box::new(|| {
            Ok(Options {
                auth: Some(Auth::new(b"other".to_vec())),
                ..Options::default()
            })
        });
        let err = node_options(Some(with_auth), Some(&file.named_by(SECRET_ENV))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("Options::auth") && text.contains(SECRET_ENV),
            "{text}"
        );
    }

    #[cfg(not(feature = "auth"))]
    #[test]
    fn a_secret_file_without_the_auth_feature_is_an_error_naming_it() {
        let file = TempFile::new("noauth", b"k\n");
        let err = node_options(None, Some(&file.named_by(SECRET_FLAG))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(SECRET_FLAG) && text.contains("`auth`"),
            "{text}"
        );
        assert!(node_options(None, None).is_ok());
    }

    #[test]
    fn the_options_function_is_used_and_its_error_printed_whole() {
        let timeout: MakeOptions = Box::new(|| {
            Ok(Options {
                call_timeout: Duration::from_millis(250),
                ..Options::default()
            })
        });
        let options = node_options(Some(timeout), None).expect("options");
        assert_eq!(options.call_timeout, Duration::from_millis(250));

        let failing = MainOptions::new().options(|| -> Result<Options, std::io::Error> {
            Err(std::io::Error::other("no such setting"))
        });
        let err = node_options(failing.options, None).unwrap_err();
        let text = ErrorChain(&*err).to_string();
        assert_eq!(
            text,
            "the `#[cluster_main(options = ..)]` function failed: no such setting"
        );
    }

    /// An error with one cause, as `anyhow`'s `context` makes.
    #[derive(Debug)]
    struct Context(&'static str, std::io::Error);

    impl fmt::Display for Context {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Context {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.1)
        }
    }

    #[test]
    fn a_body_error_is_its_chain_once_each_with_display() {
        let err: Result<(), Box<dyn StdError + Send + Sync>> = Err(Box::new(Context(
            "loading rooms",
            std::io::Error::other("disk on fire"),
        )));
        let boxed = err.or_error().unwrap_err();
        assert_eq!(
            ErrorChain(&*boxed).to_string(),
            "loading rooms: disk on fire"
        );
        let text: Result<(), String> = Err("plain text".to_owned());
        let boxed = text.or_error().unwrap_err();
        assert_eq!(ErrorChain(&*boxed).to_string(), "plain text");
        let config: Result<(), crate::Error> =
            Err(Config::load("/nonexistent/skycluster/c.lua").unwrap_err());
        let boxed = config.or_error().unwrap_err();
        let text = ErrorChain(&*boxed).to_string();
        let cause = boxed.source().map(ToString::to_string).unwrap_or_default();
        assert!(text.starts_with("cannot read cluster config /nonexistent/skycluster/c.lua: "));
        assert!(!cause.is_empty());
        assert_eq!(text.matches(&*cause).count(), 1, "{text}");

        assert!(().or_error().is_ok());
        assert!(matches!(
            Ok::<(), std::io::Error>(()).or_error(),
            Ok(Ok(()))
        ));
        assert!(matches!(ExitCode::from(3).or_error(), Ok(code) if code == ExitCode::from(3)));
    }

    #[test]
    fn a_cyclic_chain_stops_printing() {
        #[derive(Debug)]
        struct Loop;
        impl fmt::Display for Loop {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("again")
            }
        }
        impl StdError for Loop {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&Loop)
            }
        }
        let text = ErrorChain(&Loop).to_string();
        assert_eq!(text.matches("again").count(), MAX_CAUSES + 1);
        assert!(text.ends_with(": ..."), "{text}");
    }
}
