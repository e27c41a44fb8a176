//! Faults in the kernel: a node process in a network namespace this test
//! makes, joined to the test's namespace by a veth pair, and the link set
//! down (a partition that leaves the connection half-open: no FIN, no
//! RST) and up again, or capped with `tc tbf`. Every call ends within its
//! timeout plus a bound; the liveness probe replaces the half-open
//! connection; once the link is back, calls succeed again within a stated
//! time without the caller doing anything.
//!
//! Needs root and iproute2: run with `SKYCLUSTER_NETNS=1` (`.ci/run` does);
//! without it each test is ignored with that reason.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use skycluster::{Cluster, Config, ErrorKind, Options};

use support::node::bounded;
use support::process::NodeProcess;

/// How far past its timeout a call may end.
const BOUND: Duration = Duration::from_secs(2);
/// How soon after the link comes back calls must succeed again.
const HEAL_WITHIN: Duration = Duration::from_secs(10);

/// A namespace with one end of a veth pair, the other end here, each
/// with an address of a /24 of its own. Removed on drop.
struct Net {
    ns: String,
    host_if: String,
    ns_ip: String,
}

fn ip(args: &[&str]) {
    let status = Command::new("ip")
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("ip {args:?}: {e}"));
    assert!(status.success(), "ip {args:?} failed: {status}");
}

impl Net {
    fn new(tag: u8) -> Net {
        let id = std::process::id() % 10_000;
        let ns = format!("sktest{id}n{tag}");
        let host_if = format!("skh{id}n{tag}");
        let ns_if = format!("skn{id}n{tag}");
        let subnet = format!("10.{}.{}", 200 + u32::from(tag), id % 250);
        let (host_ip, ns_ip) = (format!("{subnet}.1"), format!("{subnet}.2"));
        ip(&["netns", "add", &ns]);
        let net = Net {
            ns: ns.clone(),
            host_if: host_if.clone(),
            ns_ip: ns_ip.clone(),
        };
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ]);
        ip(&["link", "set", &ns_if, "netns", &ns]);
        ip(&["addr", "add", &format!("{host_ip}/24"), "dev", &host_if]);
        ip(&["link", "set", &host_if, "up"]);
        ip(&[
            "netns",
            "exec",
            &ns,
            "ip",
            "addr",
            "add",
            &format!("{ns_ip}/24"),
            "dev",
            &ns_if,
        ]);
        ip(&["netns", "exec", &ns, "ip", "link", "set", &ns_if, "up"]);
        ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]);
        net
    }

    /// Cuts the link: packets are dropped, nobody is told.
    fn down(&self) {
        ip(&["link", "set", &self.host_if, "down"]);
    }

    fn up(&self) {
        ip(&["link", "set", &self.host_if, "up"]);
    }

    /// Caps what leaves this side to `rate` (`tc tbf`).
    fn cap(&self, rate: &str) {
        let status = Command::new("tc")
            .args(["qdisc", "replace", "dev", &self.host_if, "root", "tbf"])
            .args(["rate", rate, "burst", "32kbit", "latency", "400ms"])
            .status()
            .expect("tc");
        assert!(status.success(), "tc tbf on {} failed", self.host_if);
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the pair, and so both.
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .status();
    }
}

fn caller(addr: std::net::SocketAddr) -> Cluster {
    let options = Options::default()
        .with_call_timeout(Duration::from_secs(1))
        .with_probe_timeout(Duration::from_secs(1))
        .with_connect_timeout(Duration::from_secs(1))
        .with_backoff_min(Duration::from_millis(50))
        .with_backoff_max(Duration::from_millis(500));
    Cluster::with_options(Config::new().with_node("far", addr.to_string()), options)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(netns),
    ignore = "needs SKYCLUSTER_NETNS=1: root and iproute2 (ip netns), see tests/netns_faults.rs"
)]
async fn a_partition_ends_every_call_in_time_and_heals_by_itself() {
    let net = Net::new(1);
    let _node = NodeProcess::start_in(&net.ns, &format!("{}:0", net.ns_ip), &[]);
    let addr = _node.addr;
    let cluster = caller(addr);
    let far = cluster.endpoint("far", "@echo");
    let payload = Bytes::from_static(b"across");
    assert_eq!(
        bounded("before", far.call(payload.clone()))
            .await
            .expect("ok"),
        payload
    );

    net.down();
    // Every call ends, within its timeout and the bound: a timeout while
    // the connection is half-open, then, once the probe has dropped it,
    // the reconnect's failure.
    let mut kinds = Vec::new();
    for _ in 0..6 {
        let started = Instant::now();
        let err = bounded("partitioned", far.call(payload.clone()))
            .await
            .expect_err("the link is down");
        assert!(
            started.elapsed() <= Duration::from_secs(1) + BOUND,
            "a call took {:?}: {err}",
            started.elapsed()
        );
        kinds.push(
            format!("{:?}", err.kind())
                .split([' ', '{', '('])
                .next()
                .map(str::to_owned),
        );
    }
    assert!(
        kinds.iter().any(|k| k.as_deref() == Some("Timeout")),
        "no call timed out on the half-open connection: {kinds:?}"
    );
    // The liveness probe found the connection dead and dropped it.
    let status = cluster.status();
    let node = status.nodes.iter().find(|n| n.name == "far").expect("far");
    let said = node.last_error.as_deref().unwrap_or_default();
    assert!(
        !node.connected && (said.contains("liveness probe") || said.contains("connect")),
        "after the partition: connected {}, last error {said:?}",
        node.connected
    );

    net.up();
    let healed = Instant::now();
    loop {
        match far.call(payload.clone()).await {
            Ok(reply) => {
                assert_eq!(reply, payload);
                break;
            }
            Err(e) => assert!(
                healed.elapsed() < HEAL_WITHIN,
                "no call succeeded within {HEAL_WITHIN:?} of the link coming back: {e}"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(netns),
    ignore = "needs SKYCLUSTER_NETNS=1: root and iproute2 (ip netns), see tests/netns_faults.rs"
)]
async fn a_slow_link_delivers_large_and_small_calls_whole_and_in_time() {
    let net = Net::new(2);
    let node = NodeProcess::start_in(&net.ns, &format!("{}:0", net.ns_ip), &[]);
    net.cap("16mbit");
    let options = Options::default().with_call_timeout(Duration::from_secs(30));
    let cluster = Cluster::with_options(
        Config::new().with_node("far", node.addr.to_string()),
        options,
    );
    let far = cluster.endpoint("far", "@echo");
    let started = Instant::now();
    let calls = (0..24u32).map(|i| {
        let far = far.clone();
        async move {
            // Every fourth a 256 KiB call, sent in pieces; the rest small.
            let size = if i % 4 == 0 { 256 * 1024 } else { 64 };
            let payload = Bytes::from(vec![i as u8; size]);
            let reply = far.call(payload.clone()).await;
            (payload, reply)
        }
    });
    let results = bounded("slow link", futures_util::future::join_all(calls)).await;
    for (sent, reply) in results {
        match reply {
            Ok(reply) => assert!(
                reply == sent,
                "a reply of {} bytes is not its call's",
                reply.len()
            ),
            Err(e) => panic!("a call over the slow link failed: {e}"),
        }
    }
    // 1.5 MiB each way through 16 Mbit/s takes about a second here.
    assert!(
        started.elapsed() < Duration::from_secs(30) + BOUND,
        "took {:?}",
        started.elapsed()
    );
    assert!(!matches!(
        bounded("after", far.call(Bytes::from_static(b"x")))
            .await
            .map_err(|e| e.kind().clone()),
        Err(ErrorKind::Timeout { .. })
    ));
}
