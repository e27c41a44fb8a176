//! `skycluster`: call, query and check the nodes of a Skynet cluster, Lua
//! Skynet nodes and skycluster nodes alike.
//!
//! ```sh
//! skycluster call --config clustername.lua game1 @echo echo 1 '"x"' '{a = 1}'
//! skycluster query --config clustername.lua game1 echo
//! skycluster status --config clustername.lua
//! skycluster export --etcd http://127.0.0.1:2379 --out clustername.lua --watch
//! skycluster call --config clustername.lua --secret-file secret vault @echo echo 1
//! ```
//!
//! # Layout
//!
//! * `main.rs`: the command line, `call` and `query`, and how failures map
//!   to exit codes.
//! * `status.rs`: probing every node and printing the table.
//! * `export.rs` (feature `etcd`): the membership in etcd written as a
//!   clustername file.
//! * `secret.rs`: the cluster secret for nodes with `Auth`, and telling a
//!   node that asks for it from one that is down.
//!
//! Errors are printed on one line, each cause once (`error: cause`).
//!
//! Its calls are raw `Cluster::call`s, the same call future a typed client
//! uses (`ARCHITECTURE.md` at the root of the repository).

use std::error::Error as StdError;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use skycluster::codec::luaseri::{self, Value};
use skycluster::wire::Address;
use skycluster::{Auth, CallError, Cluster, Config, ErrorKind, NodeAddr, Options};

#[cfg(feature = "etcd")]
mod export;
mod secret;
mod status;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  remote error: the node answered with an error (the service failed,
     the name is not registered, `name not found`)
  2  bad arguments: unknown flag, invalid Lua literal or address, node not
     in the config, unreadable config file
  3  unreachable: the node refused or dropped the connection (a node
     with Auth drops it without the right --secret-file), or is disabled
     (`false`) in the config; for `status`, any node unreachable
  4  timeout: no reply within --timeout
  5  the reply is not lua-seri (the service is not a Lua-protocol one)";

/// Call, query and check the nodes of a Skynet cluster.
#[derive(Debug, Parser)]
#[command(name = "skycluster", version, after_help = EXIT_CODES)]
struct Cli {
    /// How long to wait for each reply (and connection): `500ms`, `2s`,
    /// `1m`, or a number of seconds.
    #[arg(long, global = true, default_value = "5s", value_parser = parse_duration)]
    timeout: Duration,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct ConfigArg {
    /// The clustername file: `name = "host:port"` lines, as Skynet reads.
    #[arg(long, env = "SKYCLUSTER_CONFIG", value_name = "FILE")]
    config: PathBuf,

    /// A file holding the cluster secret, for nodes run with skycluster's
    /// Auth: the same file the nodes read (its bytes, less trailing line
    /// endings). Every node called must then have Auth.
    #[arg(long, env = "SKYCLUSTER_SECRET_FILE", value_name = "FILE")]
    secret_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Calls METHOD on ADDR at NODE, as `cluster.call(NODE, ADDR, METHOD, ARG...)`
    /// does, and prints the reply's values as Lua literals on one line.
    #[command(after_help = "\
Each ARG is one Lua literal: 1, -2, 2.5, \"x\" (quote it for the shell: '\"x\"'),
true, nil, {1, 2, a = \"b\"}. The request is skynet.pack(METHOD, ARG...).

Example:
  skycluster call --config clustername.lua game1 @echo echo 1 '\"x\"' '{a = 1}'
  1, \"x\", {a = 1}")]
    Call {
        #[command(flatten)]
        config: ConfigArg,
        /// The node, as named in the clustername file.
        node: String,
        /// `@name` (registered), `.name` (local), `:0000000a` or `10` (a handle).
        addr: String,
        /// The method name, the first value of the request.
        method: String,
        /// Arguments, each a Lua literal.
        #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Prints the handle NODE has registered as NAME (`cluster.query`): a
    /// number, usable as the ADDR of `call`.
    Query {
        #[command(flatten)]
        config: ConfigArg,
        /// The node, as named in the clustername file.
        node: String,
        /// The registered name, without `@`.
        name: String,
    },
    /// Prints the fingerprint of each method of the typed service at ADDR on
    /// NODE: what a Rust client's schema check compares with its own build.
    #[command(after_help = "\
Prints `SERVICE (CODEC)`, then one `METHOD FINGERPRINT` line per method.
A raw service, no service, or a Lua node has no fingerprints: the command
says so and exits with 1.

Example:
  skycluster schema --config clustername.lua battle1 @BattleMgr
  BattleMgr (bincode)
  create_room 3f2a9c0d17e4b6a5")]
    Schema {
        #[command(flatten)]
        config: ConfigArg,
        /// The node, as named in the clustername file.
        node: String,
        /// `@name` (registered), `.name` (local), `:0000000a` or `10` (a handle).
        addr: String,
    },
    /// Checks every configured node: reachable or not, and the round-trip
    /// time of a name query. Prints a table, or with --json one JSON
    /// object per node, a line each, for scripts.
    Status {
        #[command(flatten)]
        config: ConfigArg,
        /// One JSON object per node and line: `node`, `address`, `state`
        /// (`reachable`, `unreachable`, `timeout` or `disabled`), `rtt_ms`
        /// (a number, or null) and `detail`.
        #[arg(long)]
        json: bool,
    },
    /// Writes the membership etcd holds (nodes that joined with
    /// `Cluster::join`) as a clustername file, for Lua nodes to
    /// `cluster.reload` from: once, or with --watch on every change.
    #[cfg(feature = "etcd")]
    Export {
        /// etcd's client URL.
        #[arg(long, env = "SKYCLUSTER_ETCD", value_name = "URL")]
        etcd: String,
        /// The key prefix the nodes joined under.
        #[arg(long, default_value = "/skycluster/")]
        prefix: String,
        /// The clustername file to write (replaced whole each time).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Keep running and rewrite the file on every change.
        #[arg(long)]
        watch: bool,
        /// With --watch, stop after this many writes (for tests).
        #[arg(long, hide = true)]
        max_writes: Option<u64>,
    },
}

/// Why the command failed: each has its own exit code.
#[derive(Debug)]
enum Failure {
    Remote(String),
    Usage(String),
    Unreachable(String),
    Timeout(String),
    BadReply(String),
}

impl Failure {
    fn exit(self) -> ExitCode {
        let (code, message) = match self {
            Failure::Remote(m) => (1, m),
            Failure::Usage(m) => (2, m),
            Failure::Unreachable(m) => (3, m),
            Failure::Timeout(m) => (4, m),
            Failure::BadReply(m) => (5, m),
        };
        eprintln!("skycluster: {message}");
        ExitCode::from(code)
    }

    /// The failure a call to `node` through `client` ended in: that of
    /// `e`, with a hint when the node closed the connection because no
    /// secret was given.
    async fn of_call_to(e: &CallError, client: &Client, node: &str) -> Failure {
        let failure = Failure::of_call(e);
        if client.secret || !matches!(e.kind(), ErrorKind::Disconnected { .. }) {
            return failure;
        }
        match client.address(node) {
            Some(addr) if secret::asks_for_secret(&addr, client.timeout).await => {
                Failure::Unreachable(format!("{}; {}", chain(e), secret::hint(node)))
            }
            _ => failure,
        }
    }

    /// The failure a call error means.
    fn of_call(e: &CallError) -> Failure {
        let message = chain(e);
        match e.kind() {
            ErrorKind::Timeout { .. } => Failure::Timeout(message),
            ErrorKind::Remote { .. } | ErrorKind::UnknownMethod { .. } => Failure::Remote(message),
            ErrorKind::InvalidAddress { .. } | ErrorKind::TooLarge { .. } => {
                Failure::Usage(message)
            }
            ErrorKind::Codec { .. } => Failure::BadReply(message),
            // Connect, Disconnected, Disabled, Absent, Overloaded,
            // Shutdown, and whatever later versions add: the node could
            // not be talked to.
            _ => Failure::Unreachable(message),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return Failure::Unreachable(format!("cannot start tokio: {}", chain(&e))).exit(),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(failure) => failure.exit(),
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let timeout = cli.timeout;
    match cli.command {
        Command::Call {
            config,
            node,
            addr,
            method,
            args,
        } => {
            let client = connect(&config, Some(&node), timeout)?;
            let address = parse_address(&addr)?;
            let mut values = vec![Value::from(method.as_str())];
            for (i, arg) in args.iter().enumerate() {
                let value = arg.parse::<Value>().map_err(|e| {
                    Failure::Usage(format!("argument {} `{arg}`: {}", i + 1, chain(&e)))
                })?;
                values.push(value);
            }
            let payload = luaseri::pack(&values)
                .map_err(|e| Failure::Usage(format!("cannot pack the arguments: {}", chain(&e))))?;
            let reply = match client
                .cluster
                .call(&node, address, Bytes::from(payload))
                .await
            {
                Ok(reply) => reply,
                Err(e) => return Err(Failure::of_call_to(&e, &client, &node).await),
            };
            let values = luaseri::unpack(&reply).map_err(|e| {
                let head: String = reply.iter().take(32).map(|b| format!("{b:02x}")).collect();
                Failure::BadReply(format!(
                    "the reply ({} bytes, starting {head}) is not lua-seri: {}",
                    reply.len(),
                    chain(&e)
                ))
            })?;
            println!("{}", lua_list(&values));
            Ok(ExitCode::SUCCESS)
        }
        Command::Query { config, node, name } => {
            let client = connect(&config, Some(&node), timeout)?;
            let handle = match client.cluster.query_name(&node, &name).await {
                Ok(handle) => handle,
                Err(e) => return Err(Failure::of_call_to(&e, &client, &node).await),
            };
            println!("{}", handle.get());
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema { config, node, addr } => {
            let client = connect(&config, Some(&node), timeout)?;
            let address = parse_address(&addr)?;
            let fingerprints = match client.cluster.remote_fingerprints(&node, address).await {
                Ok(Some(fingerprints)) => fingerprints,
                Ok(None) => {
                    return Err(Failure::Remote(format!(
                        "node `{node}` has no typed service with fingerprints at {addr} (a raw \
                         service, no service, or a Lua node)"
                    )))
                }
                Err(e) => return Err(Failure::of_call_to(&e, &client, &node).await),
            };
            println!("{} ({})", fingerprints.service(), fingerprints.codec());
            for (method, fingerprint) in fingerprints.methods() {
                println!("{method} {fingerprint}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { config, json } => {
            let client = connect(&config, None, timeout)?;
            status::run(&client, json).await
        }
        #[cfg(feature = "etcd")]
        Command::Export {
            etcd,
            prefix,
            out,
            watch,
            max_writes,
        } => export::run(&etcd, &prefix, &out, watch, max_writes, timeout).await,
    }
}

/// Values as Lua prints a function's returns: `1, "x", {a = 1}`.
fn lua_list(values: &[Value]) -> String {
    values
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// An error and each of its sources, once each: `what failed: why`.
/// skycluster's errors tell each cause either in their message or as their
/// source, never both, so nothing repeats.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut current = e;
    // Bounded: a cyclic chain (a bug) must not print forever.
    for _ in 0..32 {
        let Some(source) = current.source() else {
            break;
        };
        text.push_str(": ");
        text.push_str(&source.to_string());
        current = source;
    }
    text
}

/// The cluster the command calls through, and what a failure message
/// needs to know about it.
pub(crate) struct Client {
    pub(crate) cluster: Cluster,
    /// Whether a secret was given (`--secret-file`).
    pub(crate) secret: bool,
    /// `--timeout`.
    pub(crate) timeout: Duration,
}

impl Client {
    /// `node`'s address in the config, if it has one.
    pub(crate) fn address(&self, node: &str) -> Option<String> {
        self.cluster
            .status()
            .nodes
            .into_iter()
            .find(|n| n.name == node)
            .and_then(|n| match n.address {
                NodeAddr::At(addr) => Some(addr),
                _ => None,
            })
    }
}

/// A client cluster for `config`, checking first that `node` is in it.
fn connect(config: &ConfigArg, node: Option<&str>, timeout: Duration) -> Result<Client, Failure> {
    let path = &config.config;
    let loaded = Config::load(path).map_err(|e| Failure::Usage(chain(&e)))?;
    if let Some(node) = node {
        match loaded.get(node) {
            Some(NodeAddr::At(_)) => {}
            Some(NodeAddr::Disabled) => {
                return Err(Failure::Unreachable(format!(
                    "node `{node}` is disabled (`false`) in {}",
                    path.display()
                )))
            }
            None => {
                return Err(Failure::Usage(format!(
                    "node `{node}` is not in {}",
                    path.display()
                )))
            }
        }
    }
    let secret = match &config.secret_file {
        Some(file) => Some(secret::read(file).map_err(Failure::Usage)?),
        None => None,
    };
    let options = Options::default()
        .with_call_timeout(timeout)
        .with_connect_timeout(timeout)
        .with_auth(secret.as_ref().map(|s| Auth::new(s.clone())));
    Ok(Client {
        cluster: Cluster::with_options(loaded, options),
        secret: secret.is_some(),
        timeout,
    })
}

/// `10` is handle 10; `@name`, `.name` and `:hex` are sent as written.
/// A bare name is refused: a Lua node routes it to the harbor and never
/// answers.
fn parse_address(text: &str) -> Result<Address, Failure> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(0) => Err(Failure::Usage(
                "handle 0 is reserved for name queries; use `skycluster query`".to_owned(),
            )),
            Ok(handle) => Ok(Address::Handle(handle)),
            Err(_) => Err(Failure::Usage(format!(
                "handle `{text}` does not fit in 32 bits"
            ))),
        };
    }
    if !text.starts_with(['@', '.', ':']) {
        return Err(Failure::Usage(format!(
            "address `{text}` must be `@name`, `.name`, `:0000000a` or a handle number"
        )));
    }
    text.parse()
        .map_err(|e| Failure::Usage(format!("address `{text}`: {}", chain(&e))))
}

/// `500ms`, `2s`, `1.5s`, `1m`, or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 500ms, 2s or 1m"))?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        other => return Err(format!("unknown unit `{other}`: use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{text}` is not a positive duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_common_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3h").is_err());
    }

    #[test]
    fn addresses_are_names_with_a_prefix_or_handles() {
        assert!(matches!(parse_address("10"), Ok(Address::Handle(10))));
        assert!(matches!(parse_address("@echo"), Ok(Address::Name(_))));
        assert!(matches!(parse_address(":0000000a"), Ok(Address::Name(_))));
        assert!(parse_address("echo").is_err());
        assert!(parse_address("0").is_err());
        assert!(parse_address("99999999999").is_err());
    }

    #[test]
    fn every_command_takes_a_secret_file() {
        let common = ["--config", "c.lua", "--secret-file", "s"];
        for (command, rest) in [
            ("call", &["n", "@a", "m"][..]),
            ("query", &["n", "a"][..]),
            ("schema", &["n", "@a"][..]),
            ("status", &[][..]),
        ] {
            let args = [&["skycluster", command][..], &common[..], rest].concat();
            let cli = Cli::try_parse_from(args).expect("parses");
            let config = match cli.command {
                Command::Call { config, .. }
                | Command::Query { config, .. }
                | Command::Schema { config, .. }
                | Command::Status { config, .. } => config,
                #[cfg(feature = "etcd")]
                Command::Export { .. } => unreachable!("not among the commands parsed"),
            };
            assert_eq!(config.secret_file, Some(PathBuf::from("s")), "{command}");
        }
    }

    #[test]
    fn the_command_line_parses_negative_arguments() {
        let cli = Cli::try_parse_from([
            "skycluster",
            "--timeout",
            "1s",
            "call",
            "--config",
            "c.lua",
            "n",
            "@a",
            "m",
            "-1",
            "{1}",
        ])
        .expect("parses");
        match cli.command {
            Command::Call { args, .. } => assert_eq!(args, ["-1", "{1}"]),
            other => panic!("parsed as {other:?}"),
        }
    }
}
