//! The fan-in runner's children: the server node, and the client
//! processes that open its connections.
//!
//! The server (`fanin-serve`) is the bench's echo node with `max_clients`
//! set; it says `listening ADDR`, and answers `status` with `status N`, the
//! connections it serves.
//!
//! A client (`fanin-client`) is one `Cluster` whose config names the
//! server K times (`s0` .. `sK-1`, all at its address): one sender, so one
//! connection, per name, as a node with K peers holds them. With
//! `--cluster-per-connection` it is K `Cluster`s instead, each naming the
//! server once, as K client nodes would be. It says `ready`, then obeys:
//!
//! * `connect`: one call on every connection (the call makes it), at most
//!   `--at-once` at a time; says `connected OK FAILED [FIRST_ERROR]`;
//! * `run`: `--inflight` tasks per connection that connected, each calling
//!   the 16-byte echo in a loop; says `started`;
//! * `measure`, `stop`: the window; `stop` says `result TALLY`;
//! * `recheck`: one more call on every connection that connected; says
//!   `rechecked OK FAILED [FIRST_ERROR]`;
//! * `exit`, or stdin closing: the process ends.

use bytes::Bytes;
use futures_util::StreamExt;
use skycluster::{Cluster, Config, Options};

use crate::calls::{serve_commands, Caller, Running, LATENCY_SAMPLES};
use crate::compare::{
    current_thread_runtime, say, server_runtime, sky_node, threads_flag, Echo, EchoClient, Flags,
};

/// The payload of every call: W1's 16 bytes.
const PAYLOAD: &[u8; 16] = b"0123456789abcdef";

/// `fanin-serve --max-clients M [--threads N]`.
pub(crate) fn serve_role(args: &[String]) -> Result<(), String> {
    let flags = Flags::new(args);
    let max_clients: usize = flags.required("--max-clients")?;
    let runtime = server_runtime(threads_flag(&flags)?)?;
    runtime.block_on(async {
        let options = Options::default().with_max_clients(max_clients);
        let (mut cluster, addr) = sky_node("127.0.0.1:0", options).await?;
        say(&format!("listening {addr}"));
        serve_commands(&mut cluster, async |cluster, command| match command {
            "status" => {
                let status = cluster.status();
                let served: usize = status.listeners.iter().map(|l| l.connections).sum();
                say(&format!("status {served}"));
                Ok(())
            }
            _ => Err(format!("unknown command `{command}`")),
        })
        .await
    })
}

/// A client process's state.
struct Client {
    /// One `Cluster`, or one per connection.
    clusters: Vec<Cluster>,
    /// One client per configured name, so per connection.
    clients: Vec<EchoClient>,
    /// Those whose first call succeeded.
    connected: Vec<EchoClient>,
    inflight: usize,
    at_once: usize,
    running: Option<Running>,
}

/// `fanin-client --addr A --connections K --inflight D --at-once B
/// [--cluster-per-connection]`.
pub(crate) fn client_role(args: &[String]) -> Result<(), String> {
    let flags = Flags::new(args);
    let one_each = flags.has("--cluster-per-connection");
    let addr: String = flags.required("--addr")?;
    let connections: usize = flags.required("--connections")?;
    let inflight: usize = flags.required("--inflight")?;
    let at_once: usize = flags.required("--at-once")?;
    if !(1..=20_000).contains(&connections) || !(1..=64).contains(&inflight) || at_once == 0 {
        return Err(
            "--connections takes 1 to 20000, --inflight 1 to 64, --at-once at least 1".to_owned(),
        );
    }
    let runtime = current_thread_runtime()?;
    runtime.block_on(async {
        let (clusters, clients) = if one_each {
            // A client node per connection, each naming the server once.
            (0..connections)
                .map(|_| {
                    let cluster = Cluster::new(Config::new().with_node("s", &addr));
                    let client = cluster.proxy::<dyn Echo>("s", "@Echo");
                    (cluster, client)
                })
                .unzip()
        } else {
            let names: Vec<String> = (0..connections).map(|i| format!("s{i}")).collect();
            let config = names
                .iter()
                .fold(Config::new(), |config, name| config.with_node(name, &addr));
            let cluster = Cluster::new(config);
            let clients = names
                .iter()
                .map(|name| cluster.proxy::<dyn Echo>(name, "@Echo"))
                .collect();
            (vec![cluster], clients)
        };
        let mut client = Client {
            clusters,
            clients,
            connected: Vec::new(),
            inflight,
            at_once,
            running: None,
        };
        say("ready");
        serve_commands(&mut client, async |client, command| {
            client.obey(command).await
        })
        .await
    })
}

impl Client {
    async fn obey(&mut self, command: &str) -> Result<(), String> {
        match command {
            "connect" => {
                let (ok, failed, error) = self.call_each(&self.clients).await;
                self.connected = ok;
                say(&format!(
                    "connected {} {failed} {error}",
                    self.connected.len()
                ));
            }
            "recheck" => {
                let (ok, failed, error) = self.call_each(&self.connected).await;
                say(&format!("rechecked {} {failed} {error}", ok.len()));
            }
            "status" => {
                let connected: usize = self
                    .clusters
                    .iter()
                    .map(|c| c.status().nodes.iter().filter(|n| n.connected).count())
                    .sum();
                say(&format!("status {connected}"));
            }
            "run" => {
                if self.running.is_some() {
                    return Err("calls are already running".to_owned());
                }
                if self.connected.is_empty() {
                    return Err("no connection to call on".to_owned());
                }
                let tasks = self.connected.len() * self.inflight;
                let cap = (LATENCY_SAMPLES / tasks).max(1);
                let mut running = Running::default();
                for client in &self.connected {
                    for _ in 0..self.inflight {
                        let caller = EchoCall {
                            client: client.clone(),
                            payload: Bytes::from_static(PAYLOAD),
                        };
                        running.closed(caller, cap);
                    }
                }
                self.running = Some(running);
                say("started");
            }
            "measure" => self.running.as_mut().ok_or("nothing running")?.measure(),
            "stop" => {
                let running = self.running.take().ok_or("nothing running")?;
                let tally = running.stop().await?;
                say(&format!("result {}", tally.encode()));
            }
            _ => return Err(format!("unknown command `{command}`")),
        }
        Ok(())
    }

    /// One call on each of `clients`, at most `at_once` at a time: those
    /// that answered, how many failed, and the first failure's text.
    async fn call_each(&self, clients: &[EchoClient]) -> (Vec<EchoClient>, usize, String) {
        let payload = Bytes::from_static(PAYLOAD);
        let calls = clients.iter().map(|client| {
            let payload = payload.clone();
            async move {
                let outcome = EchoCall {
                    client: client.clone(),
                    payload,
                }
                .call(0)
                .await;
                (client, outcome)
            }
        });
        let outcomes: Vec<_> = futures_util::stream::iter(calls)
            .buffer_unordered(self.at_once)
            .collect()
            .await;
        let mut ok = Vec::with_capacity(outcomes.len());
        let mut failed = 0;
        let mut first_error = None;
        for (client, outcome) in outcomes {
            match outcome {
                Ok(()) => ok.push(client.clone()),
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
        (ok, failed, first_error.unwrap_or_default())
    }
}

/// One echo of the payload, checked.
struct EchoCall {
    client: EchoClient,
    payload: Bytes,
}

impl Caller for EchoCall {
    async fn call(&self, _seq: u64) -> Result<(), String> {
        match self.client.echo(self.payload.clone()).await {
            Ok(reply) if reply == self.payload => Ok(()),
            Ok(reply) => Err(format!("a {} byte reply to 16 bytes", reply.len())),
            Err(e) => Err(e.to_string()),
        }
    }
}
