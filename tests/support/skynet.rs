//! A real Lua Skynet node next to the Rust nodes of a test.
//!
//! [`LuaNode`] runs `$SKYNET_HOME/skynet tests/lua/config` with the test's
//! own clustername file ([`Names`]) and waits (bounded) for the ready line
//! of `tests/lua/main.lua`. The node hosts `@callee` / `.callee` (the
//! service Rust calls) and `@control` / `.control` (the service Rust calls
//! to make the Lua node call Rust); see `tests/lua/README.md`.
//!
//! The process is killed and reaped when the guard drops, also when the
//! test panics, and then everything it printed goes to the test's output.
//! The Lua side arms a watchdog of its own (`SKYCLUSTER_LIFETIME`), so a
//! node outlives its test by at most that much even if this process is
//! killed.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use skycluster::codec::luaseri::{self, Table, Value, Values};
use skycluster::{CallError, Cluster, Config, HandlerError, Options, Request};
use tokio::sync::mpsc;

use examples::Scratch;

/// Bounds every wait on the Lua node: its start, a line, a call.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Seconds the Lua node lives at most (its own watchdog aborts it).
const LIFETIME_S: u32 = 120;

/// How many ports a Lua node tries before the test gives up.
const PORT_ATTEMPTS: usize = 5;

/// The built Skynet tree: `SKYNET_HOME` now, else as it was at build time.
///
/// # Panics
///
/// When it is unset, or has no `skynet` binary: the message names the path.
pub fn skynet_home() -> PathBuf {
    let home = std::env::var_os("SKYNET_HOME")
        .map(PathBuf::from)
        .or_else(|| option_env!("SKYNET_HOME").map(PathBuf::from))
        .expect(
            "SKYNET_HOME is not set: it must name a built Skynet tree (see tests/lua/README.md)",
        );
    let binary = home.join("skynet");
    assert!(
        binary.is_file(),
        "SKYNET_HOME={} has no `skynet` binary ({} does not exist): build Skynet there \
         (see tests/lua/README.md)",
        home.display(),
        binary.display()
    );
    home.canonicalize()
        .unwrap_or_else(|e| panic!("SKYNET_HOME={}: {e}", home.display()))
}

/// `tests/lua`: the config and services of the Lua node.
pub fn lua_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/lua"))
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// A scratch directory holding the clustername file every node of one
/// test reads, rewritten on every change (so a `cluster.reload()` sees
/// it). `__nowaiting = true`, so a call to a node missing from the file
/// fails at once instead of waiting for a reload.
#[derive(Clone)]
pub struct Names {
    inner: Arc<NamesInner>,
}

struct NamesInner {
    scratch: Scratch,
    path: PathBuf,
    /// `(node, value)`, value as Lua source: `"127.0.0.1:1"` or `false`.
    entries: Mutex<Vec<(String, String)>>,
}

impl Names {
    /// A fresh scratch directory with an empty clustername file.
    pub fn new(label: &str) -> Names {
        let scratch = Scratch::new(label).expect("scratch dir");
        let path = scratch.path().join("clustername.lua");
        let names = Names {
            inner: Arc::new(NamesInner {
                scratch,
                path,
                entries: Mutex::new(Vec::new()),
            }),
        };
        names.write(&names.entries());
        names
    }

    fn entries(&self) -> MutexGuard<'_, Vec<(String, String)>> {
        self.inner.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self, entries: &[(String, String)]) {
        // Addresses are written as `"host" .. sep .. port`, with a local:
        // every interop test then also checks that Skynet and skycluster
        // read these forms of the file alike.
        let mut text = String::from(
            "-- written by tests/support/skynet.rs\n__nowaiting = true\nlocal sep = ':'\n",
        );
        for (node, value) in entries {
            let spelled = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .and_then(|v| v.rsplit_once(':'))
                .map(|(host, port)| format!("\"{host}\" .. sep .. {port}"));
            let _ = writeln!(text, "{node} = {}", spelled.as_deref().unwrap_or(value));
        }
        // Written whole and renamed, so a reader never sees half a file.
        let tmp = self.inner.path.with_extension("tmp");
        std::fs::write(&tmp, text).expect("write clustername");
        std::fs::rename(&tmp, &self.inner.path).expect("rename clustername");
    }

    fn put(&self, node: &str, value: String) {
        let mut entries = self.entries();
        match entries.iter_mut().find(|(n, _)| n == node) {
            Some(entry) => entry.1 = value,
            None => entries.push((node.to_owned(), value)),
        }
        self.write(&entries);
    }

    /// Sets `node`'s address.
    pub fn set(&self, node: &str, addr: SocketAddr) {
        self.put(node, format!("\"{addr}\""));
    }

    /// Sets `node` to `false` (disabled).
    pub fn disable(&self, node: &str) {
        self.put(node, "false".to_owned());
    }

    /// The clustername file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The scratch directory.
    pub fn dir(&self) -> &Path {
        self.inner.scratch.path()
    }

    /// The file as a skycluster config, read now.
    pub fn config(&self) -> Config {
        Config::load(self.path()).expect("clustername parses")
    }
}

/// Everything a child printed, line by line, stdout and stderr
/// interleaved as they arrived.
#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

impl Log {
    fn lock(&self) -> MutexGuard<'_, Vec<String>> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, line: String) {
        self.lock().push(line);
        self.grew.notify_all();
    }

    fn drain(self: &Arc<Self>, from: impl Read + Send + 'static, prefix: &'static str) {
        let log = Arc::clone(self);
        std::thread::spawn(move || {
            for line in BufReader::new(from).split(b'\n') {
                let Ok(line) = line else { break };
                log.push(format!("{prefix}{}", String::from_utf8_lossy(&line)));
            }
            log.push(format!("{prefix}<closed>"));
        });
    }

    /// The first line at index `from` or later that `pred` accepts, waiting
    /// at most `limit`.
    fn wait(&self, from: usize, limit: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        self.wait_until(limit, |lines| {
            lines.iter().skip(from).find(|l| pred(l)).cloned()
        })
    }

    /// Waits at most `limit` for `check` to find something in the lines,
    /// checking again each time a line arrives.
    fn wait_until<T>(
        &self,
        limit: Duration,
        mut check: impl FnMut(&[String]) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + limit;
        let mut lines = self.lock();
        loop {
            if let Some(found) = check(&lines) {
                return Some(found);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            lines = self
                .grew
                .wait_timeout(lines, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// A running Lua Skynet node, killed and reaped on drop.
pub struct LuaNode {
    child: Option<Child>,
    log: Arc<Log>,
    /// Its node name in the clustername file.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The numeric handle of `.callee` (also `@callee`).
    pub callee: u32,
    /// The numeric handle of `.control` (also `@control`).
    pub control: u32,
}

impl LuaNode {
    /// Starts a Lua node called `name` on a free loopback port, which it
    /// adds to `names`, and waits (bounded) until it is ready. Tries another
    /// port if the one picked was taken meanwhile.
    pub async fn start(names: &Names, name: &str) -> LuaNode {
        let names = names.clone();
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || LuaNode::start_blocking(&names, &name))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    fn start_blocking(names: &Names, name: &str) -> LuaNode {
        let home = skynet_home();
        let mut failures = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            names.set(name, addr);
            let mut child = Command::new(home.join("skynet"))
                .arg(lua_dir().join("config"))
                .current_dir(names.dir())
                .env("SKYNET_HOME", &home)
                .env("SKYCLUSTER_LUA", lua_dir())
                .env("SKYCLUSTER_CLUSTERNAME", names.path())
                .env("SKYCLUSTER_NODE", name)
                .env("SKYCLUSTER_LIFETIME", LIFETIME_S.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}/skynet: {e}", home.display()));
            let log = Arc::new(Log::default());
            if let Some(out) = child.stdout.take() {
                log.drain(out, "");
            }
            if let Some(err) = child.stderr.take() {
                log.drain(err, "stderr: ");
            }
            let mut node = LuaNode {
                child: Some(child),
                log,
                name: name.to_owned(),
                addr,
                callee: 0,
                control: 0,
            };
            let line = node.log.wait(0, LIMIT, |l| {
                l.contains("SKYTEST ready") || l.contains("SKYTEST open-failed") || l == "<closed>"
            });
            match line {
                Some(line) if line.contains("SKYTEST ready") => {
                    node.callee = field(&line, "callee=");
                    node.control = field(&line, "control=");
                    return node;
                }
                Some(line) if line.contains("open-failed") => {
                    // The port was taken between our probe and its bind.
                    let _ = writeln!(failures, "port {}: {line}", addr.port());
                    node.kill();
                }
                other => {
                    let status = node.child.as_mut().map(Child::try_wait);
                    node.kill();
                    let why = match (other, status) {
                        (None, _) => format!("was not ready within {LIMIT:?}"),
                        (Some(_), Some(Ok(Some(status)))) => format!("exited ({status})"),
                        (Some(_), _) => "closed its stdout".to_owned(),
                    };
                    panic!(
                        "Lua node {name} {why} before its ready line; it printed:\n{}",
                        node.output()
                    );
                }
            }
        }
        panic!("Lua node {name} could not open a port in {PORT_ATTEMPTS} tries:\n{failures}");
    }

    /// Kills the node at once (SIGKILL) and reaps it; its output stays.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Everything the node printed so far.
    pub fn output(&self) -> String {
        self.log.lock().join("\n")
    }

    /// How many lines it printed so far: a mark for [`LuaNode::wait_line`].
    pub fn mark(&self) -> usize {
        self.log.lock().len()
    }

    /// Waits (at most [`LIMIT`]) for a line after `mark` that contains
    /// `text`, and returns it; panics with the node's output if none comes.
    pub async fn wait_line(&self, mark: usize, text: &str) -> String {
        let log = Arc::clone(&self.log);
        let wanted = text.to_owned();
        let found =
            tokio::task::spawn_blocking(move || log.wait(mark, LIMIT, |l| l.contains(&wanted)))
                .await
                .expect("waiting thread");
        found.unwrap_or_else(|| {
            panic!(
                "Lua node {} printed no line with {text:?} within {LIMIT:?}; it printed:\n{}",
                self.name,
                self.output()
            )
        })
    }

    /// Waits (at most [`LIMIT`]) until `n` lines after `mark` contain
    /// `text`.
    pub async fn wait_lines(&self, mark: usize, text: &str, n: usize) {
        let log = Arc::clone(&self.log);
        let wanted = text.to_owned();
        let enough = tokio::task::spawn_blocking(move || {
            log.wait_until(LIMIT, |lines| {
                let seen = lines.iter().skip(mark).filter(|l| l.contains(&wanted));
                (seen.count() >= n).then_some(())
            })
            .is_some()
        })
        .await
        .expect("waiting thread");
        assert!(
            enough,
            "Lua node {} printed fewer than {n} lines with {text:?} within {LIMIT:?}:\n{}",
            self.name,
            self.output()
        );
    }

    /// Whether any line after `mark` contains `text`.
    pub fn printed(&self, mark: usize, text: &str) -> bool {
        self.log.lock().iter().skip(mark).any(|l| l.contains(text))
    }
}

impl Drop for LuaNode {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "----- Lua node {} ({}) printed -----\n{}\n----- end of Lua node {} -----",
                self.name,
                self.addr,
                self.output(),
                self.name
            );
        }
    }
}

/// The number after `key` in a ready line.
fn field(line: &str, key: &str) -> u32 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in ready line {line:?}"))
}

/// A Rust node listening on a free loopback port as `name`, with options
/// `options`, its address added to `names`. Give it services, then load
/// the clustername with [`join`] once every node is in it.
pub async fn rust_node(names: &Names, name: &str, options: Options) -> Cluster {
    let cluster = Cluster::with_options(Config::new(), options);
    cluster.set_name(name).expect("fresh cluster");
    let addr = cluster.listen("127.0.0.1:0").await.expect("listen");
    names.set(name, addr);
    cluster
}

/// Makes `cluster` know every node in `names` (`cluster.reload{...}`).
pub fn join(cluster: &Cluster, names: &Names) {
    cluster.reload_with(names.config());
}

/// A client node named `name` that knows every node in `names` and
/// listens nowhere.
pub fn client(names: &Names, name: &str) -> Cluster {
    let cluster = Cluster::new(names.config());
    cluster.set_name(name).expect("fresh cluster");
    cluster
}

/// Awaits `f`, failing the test if it takes longer than [`LIMIT`].
pub async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(LIMIT, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no result within {LIMIT:?}"),
    }
}

/// A string value.
pub fn s(text: &str) -> Value {
    Value::String(text.as_bytes().to_vec())
}

/// Packs values as `skynet.pack` does.
pub fn pack(values: &[Value]) -> Bytes {
    Bytes::from(luaseri::pack(values).expect("values pack"))
}

/// Unpacks a reply.
pub fn unpack(payload: &[u8]) -> Vec<Value> {
    luaseri::unpack(payload).unwrap_or_else(|e| panic!("reply is not lua-seri: {e}"))
}

/// `cluster.call(node, addr, method, args...)` as a Lua node sends it; the
/// reply's values.
pub async fn lua_call(
    cluster: &Cluster,
    node: &str,
    addr: impl skycluster::IntoAddress,
    method: &str,
    args: &[Value],
) -> Result<Vec<Value>, CallError> {
    let mut values = vec![s(method)];
    values.extend_from_slice(args);
    let reply = bounded(method, cluster.call(node, addr, pack(&values))).await?;
    Ok(unpack(&reply))
}

/// Calls `method` of the Lua node's `@control`, which must answer.
pub async fn control(cluster: &Cluster, lua: &LuaNode, method: &str, args: &[Value]) -> Vec<Value> {
    lua_call(cluster, &lua.name, "@control", method, args)
        .await
        .unwrap_or_else(|e| panic!("control {method}: {e}"))
}

/// Values that must match exactly: floats by bits (so `-0.0` is not
/// `0.0`) except that NaN matches NaN, integers apart from floats, tables
/// by their key/value sets whatever order or part the pairs came in.
///
/// # Errors
///
/// Where they differ.
pub fn same(a: &Value, b: &Value) -> Result<(), String> {
    match (a, b) {
        (Value::Real(x), Value::Real(y)) => {
            if x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()) {
                Ok(())
            } else {
                Err(format!("{a} ~= {b}"))
            }
        }
        (Value::Table(x), Value::Table(y)) => {
            let (x, y) = (entries(x), entries(y));
            if x.len() != y.len() {
                return Err(format!("{} keys ~= {} keys", x.len(), y.len()));
            }
            for (k, v) in &x {
                let Some((_, w)) = y.iter().find(|(k2, _)| k2 == k) else {
                    return Err(format!("key {k} missing"));
                };
                same(v, w).map_err(|e| format!("[{k}]: {e}"))?;
            }
            Ok(())
        }
        _ if a == b => Ok(()),
        _ => Err(format!("{} ~= {}", short(a), short(b))),
    }
}

/// A value shown in at most 200 characters.
pub fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.len() <= 200 {
        return text;
    }
    let mut cut = 200;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}... ({} chars)", &text[..cut], text.len())
}

/// Every live key/value pair of a table, as Lua would hold it after
/// unpacking: array holes and nil values dropped, the last pair per key,
/// a float key with an integral value turned into the integer key.
fn entries(t: &Table) -> Vec<(Value, Value)> {
    let mut out: Vec<(Value, Value)> = Vec::new();
    let pairs = t
        .array
        .iter()
        .enumerate()
        .map(|(i, v)| (Value::Integer(i as i64 + 1), v.clone()))
        .chain(t.hash.iter().cloned());
    for (k, v) in pairs {
        let k = match k {
            // Exactly representable: Lua's own float-to-integer key rule.
            Value::Real(x) if x.fract() == 0.0 && x >= -(2f64.powi(63)) && x < 2f64.powi(63) => {
                Value::Integer(x as i64)
            }
            k => k,
        };
        out.retain(|(k2, _)| *k2 != k);
        if !v.is_nil() {
            out.push((k, v));
        }
    }
    out
}

/// Lists of values that must match exactly, nils and their count included.
///
/// # Errors
///
/// Where they differ.
pub fn same_list(a: &[Value], b: &[Value]) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("{} values ~= {} values", a.len(), b.len()));
    }
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        same(x, y).map_err(|e| format!("value {}: {e}", i + 1))?;
    }
    Ok(())
}

/// A raw service that decodes every request as lua-seri values, reports
/// them (and whether it was a push, and its trace tag) on the returned
/// channel, and replies with the same values packed again by Rust: the
/// Rust echo of the round trips.
pub fn rust_echo(cluster: &Cluster) -> (skycluster::Handle, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = cluster.spawn_handler(move |req: Request| {
        let tx = tx.clone();
        async move {
            let values = luaseri::unpack(req.payload())
                .map_err(|e| HandlerError::new(format!("rust echo cannot decode: {e}")))?;
            let reply = luaseri::pack(&values)
                .map_err(|e| HandlerError::new(format!("rust echo cannot encode: {e}")))?;
            let _ = tx.send(Seen {
                values,
                push: req.is_push(),
                trace: req.trace().map(|t| String::from_utf8_lossy(t).into_owned()),
            });
            Ok(Bytes::from(reply))
        }
    });
    (handle, rx)
}

/// What [`rust_echo`] received.
#[derive(Debug)]
pub struct Seen {
    pub values: Vec<Value>,
    pub push: bool,
    pub trace: Option<String>,
}

/// The next request `rx` saw, within [`LIMIT`].
pub async fn next_seen(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    bounded("a request at the rust echo", rx.recv())
        .await
        .expect("echo service alive")
}

/// `true`, then the rest: what a Lua `pcall` returned on success.
///
/// # Panics
///
/// When the first value is not `true`, with the error the Lua side saw.
pub fn pcall_ok(what: &str, values: Vec<Value>) -> Vec<Value> {
    match values.first() {
        Some(Value::Boolean(true)) => values[1..].to_vec(),
        _ => panic!("{what}: the Lua pcall failed: {}", show_all(&values)),
    }
}

/// The error text of a failed Lua `pcall` (`false, err`).
///
/// # Panics
///
/// When the pcall succeeded.
pub fn pcall_err(what: &str, values: &[Value]) -> String {
    match values {
        [Value::Boolean(false), err, ..] => match err {
            Value::String(text) => String::from_utf8_lossy(text).into_owned(),
            other => other.to_string(),
        },
        _ => panic!("{what}: the Lua pcall did not fail: {}", show_all(values)),
    }
}

/// Values as a Lua list, each shortened.
pub fn show_all(values: &[Value]) -> String {
    values.iter().map(short).collect::<Vec<_>>().join(", ")
}

/// The Lua node's `@callee` seen from Rust: a typed client of a Lua
/// service. Method names are the Lua methods of `tests/lua/callee.lua`.
#[skycluster::service(codec = lua, name = "callee")]
pub trait Callee {
    /// Every argument back, nils included (a variadic Lua method).
    async fn echo(&self, args: Values) -> Values;
    /// `math.type` or `type` of each argument, comma-separated.
    async fn types(&self, i: i64, f: f64, text: String, flag: bool) -> String;
    /// A string of `n` bytes `x`.
    async fn big(&self, n: i64) -> String;
    /// Raises `error(text)`.
    async fn fail(&self, text: String);
    /// The trace tag the call arrived with.
    async fn trace(&self) -> Option<String>;
    /// Records a push under `key`.
    #[push]
    async fn push(&self, key: String, seq: i64);
    /// The seqs and payload sizes recorded under `key`.
    async fn pushes(&self, key: String) -> (Vec<i64>, Vec<i64>);
}

/// A room, as a Lua table `{id = 1, name = "orc", players = {1, 2}}`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Room {
    pub id: u32,
    pub name: String,
    pub players: Vec<u32>,
    pub owner: Option<String>,
}

/// A typed `codec = lua` service on the Rust node, for Lua callers:
/// `cluster.call("rust1", "@rtyped", "add", 1, 2)`.
#[skycluster::service(codec = lua, name = "rtyped")]
pub trait RTyped {
    /// `a + b`.
    async fn add(&self, a: i64, b: i64) -> i64;
    /// `hello, NAME` (a missing name is `nobody`).
    async fn greet(&self, name: Option<String>) -> String;
    /// `a // b`, or `nil, "division by zero"`.
    async fn divide(&self, a: i64, b: i64) -> Result<i64, String>;
    /// Two values: `"half", 0.5`.
    async fn pair(&self) -> (String, f64);
    /// `u64::MAX`, which no Lua integer holds: the reply cannot be encoded.
    async fn huge(&self) -> u64;
    /// Its one argument back, through serde.
    async fn echo1(&self, v: Value) -> Value;
    /// Its one optional argument back.
    async fn maybe(&self, v: Option<i64>) -> Option<i64>;
    /// Every argument back, nils included: a Lua function's `...`.
    async fn echo_all(&self, args: Values) -> Values;
    /// Raises like Lua's `error(text)`: an error frame, not a reply.
    async fn raise(&self, text: String) -> Result<i64, HandlerError>;
    /// The room with `-1` appended to its name and its players reversed.
    async fn room(&self, room: Room) -> Room;
    /// Reports `seq` on the typed channel.
    #[push]
    async fn note(&self, seq: i64);
}

struct RTypedImpl {
    notes: mpsc::UnboundedSender<i64>,
}

#[skycluster::async_trait]
impl RTyped for RTypedImpl {
    async fn add(&self, a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }

    async fn greet(&self, name: Option<String>) -> String {
        format!("hello, {}", name.as_deref().unwrap_or("nobody"))
    }

    async fn divide(&self, a: i64, b: i64) -> Result<i64, String> {
        a.checked_div(b)
            .ok_or_else(|| "division by zero".to_owned())
    }

    async fn pair(&self) -> (String, f64) {
        ("half".to_owned(), 0.5)
    }

    async fn huge(&self) -> u64 {
        u64::MAX
    }

    async fn echo1(&self, v: Value) -> Value {
        v
    }

    async fn maybe(&self, v: Option<i64>) -> Option<i64> {
        v
    }

    async fn echo_all(&self, args: Values) -> Values {
        args
    }

    async fn raise(&self, text: String) -> Result<i64, HandlerError> {
        Err(HandlerError::new(text))
    }

    async fn room(&self, mut room: Room) -> Room {
        room.name.push_str("-1");
        room.players.reverse();
        room
    }

    async fn note(&self, seq: i64) {
        let _ = self.notes.send(seq);
    }
}

/// One Lua node (`lua1`) and one Rust node (`rust1`) that know each
/// other. `rust1` serves:
///
/// * `@echo` / `.echo`: [`rust_echo`], whose requests arrive on `seen`;
/// * `@fail` / `.fail`: a raw handler that always fails with
///   `room is full (rust1)`;
/// * `@rtyped` / `.rtyped`: [`RTyped`], whose pushes arrive on `notes`.
pub struct Fixture {
    pub names: Names,
    pub rust: Cluster,
    pub lua: LuaNode,
    pub echo: skycluster::Handle,
    pub seen: mpsc::UnboundedReceiver<Seen>,
    pub fail: skycluster::Handle,
    pub typed: skycluster::Handle,
    pub notes: mpsc::UnboundedReceiver<i64>,
}

/// The text `.fail` on `rust1` answers with.
pub const RUST_FAIL: &str = "room is full (rust1)";

impl Fixture {
    /// Starts both nodes; `label` names the scratch directory.
    pub async fn start(label: &str) -> Fixture {
        Fixture::start_with(label, Options::default()).await
    }

    /// As [`Fixture::start`], with `rust1`'s options.
    pub async fn start_with(label: &str, options: Options) -> Fixture {
        let names = Names::new(label);
        let rust = rust_node(&names, "rust1", options).await;
        let (echo, seen) = rust_echo(&rust);
        rust.register_name("echo", echo).expect("register echo");
        rust.name(".echo", echo).expect("name .echo");
        let fail = rust.spawn_handler(|_req: Request| async move {
            Err::<Bytes, _>(HandlerError::new(RUST_FAIL))
        });
        rust.register_name("fail", fail).expect("register fail");
        rust.name(".fail", fail).expect("name .fail");
        let (tx, notes) = mpsc::unbounded_channel();
        let typed = rust.spawn::<dyn RTyped>(Arc::new(RTypedImpl { notes: tx }));
        rust.register::<dyn RTyped>(typed).expect("register rtyped");
        rust.name(".rtyped", typed).expect("name .rtyped");
        let lua = LuaNode::start(&names, "lua1").await;
        join(&rust, &names);
        Fixture {
            names,
            rust,
            lua,
            echo,
            seen,
            fail,
            typed,
            notes,
        }
    }

    /// Calls `@control` on the Lua node (see `tests/lua/control.lua`).
    pub async fn control(&self, method: &str, args: &[Value]) -> Vec<Value> {
        control(&self.rust, &self.lua, method, args).await
    }

    /// Calls `method` of the Lua callee at `addr` with `args`.
    pub async fn callee(
        &self,
        addr: impl skycluster::IntoAddress,
        method: &str,
        args: &[Value],
    ) -> Result<Vec<Value>, CallError> {
        lua_call(&self.rust, &self.lua.name, addr, method, args).await
    }
}
