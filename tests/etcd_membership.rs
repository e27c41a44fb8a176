//! Membership from a real etcd: nodes joining, leaving, dying, a name
//! claimed twice, etcd out of reach, and the clustername export.
//!
//! Needs `SKYCLUSTER_ETCD`, the client URL of a running etcd on loopback
//! (`.ci/run` starts one); without it every test is ignored, saying so.
//! Each test uses a key prefix of its own, so they run side by side.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use skycluster::{Cluster, Config, Error, ErrorKind, Etcd, MembershipError, NodeAddr, Options};
use support::node::{bounded, echo_server, LIMIT};
use support::process::first_line;

/// The etcd the tests run against.
fn etcd_url() -> String {
    std::env::var("SKYCLUSTER_ETCD").expect("SKYCLUSTER_ETCD is set (cfg(etcd))")
}

/// etcd settings for one test: its own prefix, a short TTL.
fn etcd(test: &str) -> Etcd {
    Etcd::new([etcd_url()])
        .with_prefix(format!("/skycluster-test/{}/{test}/", std::process::id()))
        .with_ttl(Duration::from_secs(2))
}

/// Waits (bounded) until `cluster`'s membership satisfies `done`, woken by
/// each change rather than polling on a timer.
async fn until(cluster: &Cluster, what: &str, done: impl Fn(&Config) -> bool) {
    until_seen(cluster, what, |c| done(&c.membership())).await;
}

/// As [`until`], for anything `cluster` sees of the membership (the
/// services it lists too).
async fn until_seen(cluster: &Cluster, what: &str, done: impl Fn(&Cluster) -> bool) {
    bounded(what, async {
        loop {
            let changed = cluster.membership_changed();
            if done(cluster) {
                return;
            }
            changed.await;
        }
    })
    .await;
}

fn has(config: &Config, node: &str) -> bool {
    config.get(node).is_some()
}

/// A node named `name` on loopback serving `@echo`, joined to etcd.
async fn joined(name: &str, etcd: &Etcd, options: Options) -> Cluster {
    let (cluster, _addr) = echo_server(name, options).await;
    bounded("join", cluster.join(etcd.clone()))
        .await
        .expect("join etcd");
    cluster
}

#[tokio::test]
#[cfg_attr(
    not(etcd),
    ignore = "needs SKYCLUSTER_ETCD: a running etcd (see .ci/run)"
)]
async fn three_nodes_join_and_call_each_other() {
    let etcd = etcd("three");
    let names = ["n1", "n2", "n3"];
    let mut nodes = Vec::new();
    for name in names {
        nodes.push(joined(name, &etcd, Options::default()).await);
    }
    for node in &nodes {
        until(node, "every node listed", |c| {
            names.iter().all(|n| has(c, n))
        })
        .await;
    }
    for from in &nodes {
        for to in names {
            let reply = bounded("call", from.call(to, "@echo", Bytes::from_static(b"hi")))
                .await
                .unwrap_or_else(|e| panic!("{:?} -> {to}: {e}", from.node_name()));
            assert_eq!(&reply[..], b"hi");
        }
    }
    // Registered names travel too.
    bounded("services listed", async {
        while nodes[0].nodes_serving("@echo").len() < 3 {
            nodes[0].membership_changed().await;
        }
    })
    .await;
    let mut serving = nodes[0].nodes_serving("echo");
    serving.sort();
    assert_eq!(serving, names);
    let status = nodes[0].status().membership.expect("joined etcd");
    assert_eq!(status.source, "etcd");
    assert!(status.unreachable_since.is_none(), "{status:?}");
    for node in &nodes {
        node.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test]
#[cfg_attr(
    not(etcd),
    ignore = "needs SKYCLUSTER_ETCD: a running etcd (see .ci/run)"
)]
async fn a_node_that_leaves_cleanly_is_absent_everywhere() {
    let etcd = etcd("leave");
    let stay = joined(
        "stay",
        &etcd,
        Options::default().with_call_timeout(LIMIT * 2),
    )
    .await;
    let go = joined("go", &etcd, Options::default()).await;
    until(&stay, "go listed", |c| has(c, "go")).await;
    let reply = bounded(
        "call go",
        stay.call("go", "@echo", Bytes::from_static(b"x")),
    )
    .await;
    assert_eq!(&reply.expect("go answers")[..], b"x");

    bounded("shutdown", go.shutdown(Duration::from_secs(5))).await;
    // Within the request, not the TTL: the lease was revoked.
    until(&stay, "go removed", |c| !has(c, "go")).await;
    // A new endpoint to a removed node behaves as to an absent one: with
    // `__nowaiting` on, it fails at once.
    stay.reload_with(Config::new().with_nowaiting(true));
    let err = bounded("call removed", stay.call("go", ".echo", Bytes::new()))
        .await
        .expect_err("go is gone");
    assert!(
        matches!(err.kind(), ErrorKind::Absent | ErrorKind::Disabled),
        "{err}"
    );
    stay.shutdown(Duration::from_secs(5)).await;
}

/// An `etcd_node` process, SIGKILLed when dropped.
struct EtcdNode(Child);

impl EtcdNode {
    fn start(etcd: &Etcd, name: &str, ttl_secs: u64) -> EtcdNode {
        let mut child = Command::new(env!("CARGO_BIN_EXE_etcd_node"))
            .args([&etcd_url(), etcd.prefix(), name, &ttl_secs.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start etcd_node");
        let line = first_line(&mut child, "etcd_node");
        assert!(line.starts_with("ready "), "etcd_node said {line:?}");
        EtcdNode(child)
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for EtcdNode {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
#[cfg_attr(
    not(etcd),
    ignore = "needs SKYCLUSTER_ETCD: a running etcd (see .ci/run)"
)]
async fn a_killed_node_is_dropped_when_its_lease_expires_and_kept_endpoints_treat_it_as_absent() {
    let etcd = etcd("kill");
    let watcher = joined("watcher", &etcd, Options::default()).await;
    let mut victim = EtcdNode::start(&etcd, "victim", 1);
    until(&watcher, "victim listed", |c| has(c, "victim")).await;
    let endpoint = watcher.endpoint("victim", "@echo");
    let reply = bounded("call victim", endpoint.call(Bytes::from_static(b"x"))).await;
    assert_eq!(&reply.expect("victim answers")[..], b"x");

    victim.kill();
    // No clean leave: only the lease's expiry removes it.
    until(&watcher, "victim dropped", |c| !has(c, "victim")).await;
    // The kept endpoint behaves as a fresh one would, as for any absent
    // node: it waits for the node to come back (`__nowaiting` off)...
    let waiting = tokio::spawn({
        let endpoint = endpoint.clone();
        async move { endpoint.call(Bytes::from_static(b"back")).await }
    });
    let mut victim = EtcdNode::start(&etcd, "victim", 1);
    until(&watcher, "victim back", |c| has(c, "victim")).await;
    let reply = bounded("the waiting call", waiting)
        .await
        .expect("task")
        .expect("the node came back and answered");
    assert_eq!(&reply[..], b"back");

    // ...and under `__nowaiting`, fails at once: neither waits for a
    // timeout.
    victim.kill();
    until(&watcher, "victim dropped again", |c| !has(c, "victim")).await;
    watcher.reload_with(Config::new().with_nowaiting(true));
    let err = bounded("call the dead node", endpoint.call(Bytes::new()))
        .await
        .expect_err("victim is dead");
    assert!(matches!(err.kind(), ErrorKind::Absent), "{err}");
    let err = bounded("call anew", watcher.call("victim", ".echo", Bytes::new()))
        .await
        .expect_err("victim is dead");
    assert!(matches!(err.kind(), ErrorKind::Absent), "{err}");
    watcher.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
#[cfg_attr(
    not(etcd),
    ignore = "needs SKYCLUSTER_ETCD: a running etcd (see .ci/run)"
)]
async fn a_second_node_with_a_taken_name_is_refused_with_the_holder_s_address() {
    let etcd = etcd("dup");
    let (first, first_addr) = echo_server("dup", Options::default()).await;
    bounded("join", first.join(etcd.clone()))
        .await
        .expect("first joins");
    let (second, _) = echo_server("dup", Options::default()).await;
    let err = bounded("join twice", second.join(etcd.clone()))
        .await
        .expect_err("the name is taken");
    match &err {
        Error::Membership(MembershipError::NameTaken { node, holder }) => {
            assert_eq!(node, "dup");
            assert_eq!(holder, &first_addr.to_string());
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains(&first_addr.to_string()), "{err}");
    // The holder is untouched.
    let check = Cluster::new(Config::new());
    bounded("watch", check.join(etcd.clone()))
        .await
        .expect("a watcher joins");
    assert_eq!(
        check.membership().get("dup"),
        Some(&NodeAddr::At(first_addr.to_string()))
    );
    first.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
#[cfg_attr(
    not(etcd),
    ignore = "needs SKYCLUSTER_ETCD: a running etcd (see .ci/run)"
)]
async fn joining_with_etcd_down_is_an_error_at_once_or_after_the_start_wait() {
    // A loopback port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let down = Etcd::new([url.clone()]).with_request_timeout(Duration::from_millis(500));

    let cluster = Cluster::new(Config::new());
    let err = bounded("join at once", cluster.join(down.clone()))
        .await
        .expect_err("etcd is down");
    assert!(
        matches!(err, Error::Membership(MembershipError::Unreachable { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains(&url), "{err}");

    let waiting = down
        .with_start_wait(Some(Duration::from_secs(1)))
        .with_backoff(Duration::from_millis(50), Duration::from_millis(200));
    let err = bounded("join after waiting", cluster.join(waiting))
        .await
        .expect_err("etcd stays down");
    assert!(
        matches!(err, Error::Membership(MembershipError::Unreachable { .. })),
        "{err:?}"
    );
    assert!(cluster.status().membership.is_none());
}

#[tokio::test]
#[cfg_attr(
    not(etcd),
    ignore = "needs SKYCLUSTER_ETCD: a running etcd (see .ci/run)"
)]
async fn the_clustername_export_reads_back_as_the_membership() {
    let etcd = etcd("export");
    let a = joined("alpha", &etcd, Options::default()).await;
    let b = joined("beta", &etcd, Options::default()).await;
    until(&a, "both listed", |c| has(c, "alpha") && has(c, "beta")).await;

    let read = bounded("read", etcd.read()).await.expect("read etcd");
    let dir = std::env::temp_dir().join(format!("skycluster-etcd-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("clustername.lua");
    read.write_clustername(&path).expect("write");
    let back = Config::load(&path).expect("a clustername file");
    assert_eq!(
        back.nodes().collect::<Vec<_>>(),
        a.membership().nodes().collect::<Vec<_>>()
    );
    // A node loaded from it calls the etcd nodes.
    let lua_like = Cluster::load(&path).expect("load");
    let reply = bounded(
        "call",
        lua_like.call("beta", "@echo", Bytes::from_static(b"e")),
    )
    .await;
    assert_eq!(&reply.expect("beta answers")[..], b"e");

    // `skycluster export` writes the same file.
    let cli_path = dir.join("from_cli.lua");
    let args = [
        "export".to_owned(),
        "--etcd".to_owned(),
        etcd_url(),
        "--prefix".to_owned(),
        etcd.prefix().to_owned(),
        "--out".to_owned(),
        cli_path.display().to_string(),
    ];
    let ran = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        support::run::run(env!("CARGO_BIN_EXE_cli_skycluster"), &args, LIMIT)
    })
    .await
    .expect("the CLI ran");
    ran.expect_code(0);
    assert!(ran.stdout.contains("wrote 2 nodes"), "{}", ran.stdout);
    let from_cli = Config::load(&cli_path).expect("a clustername file");
    assert_eq!(
        from_cli.nodes().collect::<Vec<_>>(),
        back.nodes().collect::<Vec<_>>()
    );
    std::fs::remove_dir_all(&dir).ok();
    a.shutdown(Duration::from_secs(5)).await;
    b.shutdown(Duration::from_secs(5)).await;
}

/// An etcd of the test's own, to stop and restart: on free loopback
/// ports, with a temporary data directory, killed when dropped.
struct OwnEtcd {
    child: Option<Child>,
    dir: std::path::PathBuf,
    client: u16,
    peer: u16,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl OwnEtcd {
    fn new() -> OwnEtcd {
        let dir = std::env::temp_dir().join(format!(
            "skycluster-own-etcd-{}-{}",
            std::process::id(),
            free_port()
        ));
        let mut etcd = OwnEtcd {
            child: None,
            dir,
            client: free_port(),
            peer: free_port(),
        };
        etcd.start();
        etcd
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client)
    }

    fn start(&mut self) {
        let peer = format!("http://127.0.0.1:{}", self.peer);
        let child = Command::new("etcd")
            .arg("--name=own")
            .arg(format!("--data-dir={}", self.dir.display()))
            .arg(format!("--listen-client-urls={}", self.url()))
            .arg(format!("--advertise-client-urls={}", self.url()))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=own={peer}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd on PATH (SKYCLUSTER_ETCD is set, so it is installed)");
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnEtcd {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits (bounded) until `cluster`'s etcd is reachable (`true`) or not.
async fn etcd_reachable(cluster: &Cluster, up: bool) {
    bounded("etcd reachability in status", async {
        loop {
            let status = cluster.status().membership.expect("joined");
            if status.unreachable_since.is_none() == up {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
}

#[tokio::test]
#[cfg_attr(
    not(etcd),
    ignore = "needs SKYCLUSTER_ETCD: a running etcd (see .ci/run)"
)]
async fn while_etcd_is_down_calls_go_on_and_status_says_since_when_then_it_comes_back() {
    let mut own = OwnEtcd::new();
    let etcd = Etcd::new([own.url()])
        .with_ttl(Duration::from_secs(5))
        .with_backoff(Duration::from_millis(50), Duration::from_millis(200))
        .with_request_timeout(Duration::from_secs(1))
        .with_start_wait(Some(LIMIT / 2));
    let a = joined("a", &etcd, Options::default()).await;
    let b = joined("b", &etcd, Options::default()).await;
    until(&a, "b listed", |c| has(c, "b")).await;

    own.kill();
    etcd_reachable(&a, false).await;
    let status = a.status().membership.expect("joined");
    assert!(
        status.unreachable_since.is_some() && status.last_error.is_some(),
        "{status:?}"
    );
    // The last membership holds, and calls never wait on etcd.
    for _ in 0..20 {
        let reply = bounded(
            "call while etcd is down",
            a.call("b", "@echo", Bytes::from_static(b"x")),
        )
        .await;
        assert_eq!(&reply.expect("b answers")[..], b"x");
    }

    own.start();
    etcd_reachable(&a, true).await;
    // Changes flow again: a node joining now is seen.
    let c = joined("c", &etcd, Options::default()).await;
    until(&a, "c listed", |cfg| has(cfg, "c") && has(cfg, "b")).await;
    let reply = bounded("call c", a.call("c", "@echo", Bytes::from_static(b"y"))).await;
    assert_eq!(&reply.expect("c answers")[..], b"y");
    for node in [&a, &b, &c] {
        node.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(etcd),
    ignore = "needs SKYCLUSTER_ETCD: a running etcd (see .ci/run)"
)]
async fn a_hundred_nodes_in_one_process_join_at_once_and_all_are_seen() {
    const N: usize = 100;
    let etcd = etcd("hundred");
    let watcher = Cluster::new(Config::new());
    bounded("watcher joins", watcher.join(etcd.clone()))
        .await
        .expect("watcher joins");
    let joins: Vec<_> = (0..N)
        .map(|i| {
            let etcd = etcd.clone();
            tokio::spawn(
                async move { joined(&format!("node{i}"), &etcd, Options::default()).await },
            )
        })
        .collect();
    let mut nodes = Vec::new();
    for join in joins {
        nodes.push(bounded("a node joins", join).await.expect("join task"));
    }
    until(&watcher, "every node listed", |c| c.nodes().count() == N).await;
    // Any one of them is callable by name from the watcher.
    let reply = bounded(
        "call node57",
        watcher.call("node57", "@echo", Bytes::from_static(b"z")),
    )
    .await;
    assert_eq!(&reply.expect("node57 answers")[..], b"z");
    for node in &nodes {
        bounded("shutdown", node.shutdown(Duration::from_secs(5))).await;
    }
    until(&watcher, "every node gone", |c| c.nodes().count() == 0).await;
}

/// A node named `name`, joined to etcd, serving `@echo` and `@who` (which
/// answers with the node's name).
async fn joined_who(name: &str, etcd: &Etcd) -> Cluster {
    let cluster = joined(name, etcd, Options::default()).await;
    let me = Bytes::from(name.to_owned());
    let who = cluster.spawn_handler(move |_req: skycluster::Request| {
        let me = me.clone();
        async move { Ok::<_, skycluster::HandlerError>(me) }
    });
    cluster.register_name("who", who).expect("register who");
    cluster
}

/// Calls `pool` `n` times and counts the answers per node.
async fn who_answers(
    pool: &skycluster::Endpoint,
    n: usize,
) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..n {
        let reply = bounded("pool call", pool.call(Bytes::new()))
            .await
            .expect("a node answers");
        *counts
            .entry(String::from_utf8_lossy(&reply).into_owned())
            .or_default() += 1;
    }
    counts
}

#[tokio::test]
#[cfg_attr(
    not(etcd),
    ignore = "needs SKYCLUSTER_ETCD: a running etcd (see .ci/run)"
)]
async fn a_pool_spreads_over_the_nodes_etcd_lists_and_follows_one_leaving() {
    let etcd = etcd("pool");
    let watcher = joined("watcher", &etcd, Options::default()).await;
    let mut servers = Vec::new();
    for name in ["n1", "n2", "n3"] {
        servers.push(joined_who(name, &etcd).await);
    }
    let pool = watcher.pool_endpoint("who");
    until_seen(&watcher, "every node listed as serving who", |w| {
        w.nodes_serving("who").len() == 3
            && ["n1", "n2", "n3"].iter().all(|n| has(&w.membership(), n))
    })
    .await;
    let counts = who_answers(&pool, 90).await;
    assert_eq!(
        counts.keys().collect::<Vec<_>>(),
        ["n1", "n2", "n3"],
        "{counts:?}"
    );
    assert_eq!(
        pool.pool_nodes(),
        Some(vec!["n1".into(), "n2".into(), "n3".into()])
    );

    // n2 leaves: its lease revoked, its names gone; the pool follows
    // without being rebuilt.
    servers[1].shutdown(Duration::from_secs(5)).await;
    until(&watcher, "n2 gone", |c| !has(c, "n2")).await;
    let counts = who_answers(&pool, 60).await;
    assert_eq!(
        counts.keys().collect::<Vec<_>>(),
        ["n1", "n3"],
        "{counts:?}"
    );
    for server in &servers {
        server.shutdown(Duration::from_secs(5)).await;
    }
    watcher.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
#[cfg_attr(
    not(etcd),
    ignore = "needs SKYCLUSTER_ETCD: a running etcd (see .ci/run)"
)]
async fn a_pool_skips_a_killed_node_before_and_after_its_lease_expires() {
    let etcd = etcd("pool-kill");
    let watcher = joined("watcher", &etcd, Options::default()).await;
    let survivor = joined("survivor", &etcd, Options::default()).await;
    let mut victim = EtcdNode::start(&etcd, "victim", 1);
    let pool = watcher.pool_endpoint("echo");
    until_seen(&watcher, "all three listed as serving echo", |w| {
        let config = w.membership();
        w.nodes_serving("echo").len() == 3 && has(&config, "victim") && has(&config, "survivor")
    })
    .await;
    // watcher itself serves echo too (joined() installs it): three nodes.
    bounded("a call", pool.call(Bytes::from_static(b"x")))
        .await
        .expect("a node answers");
    assert_eq!(
        pool.pool_nodes(),
        Some(vec!["survivor".into(), "victim".into(), "watcher".into()])
    );

    victim.kill();
    // Once this node has seen the connection close (a call already queued
    // on it would fail `Disconnected`, and these raw calls are not
    // idempotent)...
    bounded("the victim's connection closed", async {
        while watcher
            .status()
            .nodes
            .iter()
            .any(|n| n.name == "victim" && n.connected)
        {
            tokio::task::yield_now().await;
        }
    })
    .await;
    // ...and before its lease expires, the pool still lists it: a call
    // that picks it cannot connect and goes to another node.
    for i in 0..60 {
        let reply = bounded("pool call", pool.call(Bytes::from(format!("{i}"))))
            .await
            .unwrap_or_else(|e| panic!("call {i} right after the kill: {e}"));
        assert_eq!(reply, format!("{i}").as_bytes());
    }
    until(&watcher, "victim dropped", |c| !has(c, "victim")).await;
    // A call after the change looks again, in the background: calls go
    // on meanwhile, and the pool soon lists the two left.
    bounded("the pool drops victim", async {
        loop {
            pool.call(Bytes::from_static(b"x"))
                .await
                .expect("a node answers");
            if pool.pool_nodes() == Some(vec!["survivor".into(), "watcher".into()]) {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    survivor.shutdown(Duration::from_secs(5)).await;
    watcher.shutdown(Duration::from_secs(5)).await;
}
