//! The `metrics` feature: calls, pushes, bytes and connections move the
//! figures a recorder sees, labelled by node.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use skycluster::Options;

use support::node::{bounded, client, echo_server, pack, s};

/// Every handle registered, by `name{k=v,...}`: counters and gauges as
/// their atomic (a gauge holds f64 bits), histograms as their count.
#[derive(Default)]
struct Figures(Mutex<HashMap<String, Arc<AtomicU64>>>);

struct Counted(Arc<AtomicU64>);

impl HistogramFn for Counted {
    fn record(&self, _value: f64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn name(key: &Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Figures {
    fn slot(&self, key: &Key) -> Arc<AtomicU64> {
        let mut map = self.0.lock().expect("figures");
        Arc::clone(map.entry(name(key)).or_default())
    }

    fn get(&self, name: &str) -> u64 {
        let map = self.0.lock().expect("figures");
        map.get(name).map_or(0, |v| v.load(Ordering::Relaxed))
    }

    fn gauge(&self, name: &str) -> f64 {
        f64::from_bits(self.get(name))
    }
}

impl Recorder for &'static Figures {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.slot(key))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.slot(key))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Counted(self.slot(key))))
    }
}

/// The recorder, installed once for this test binary.
fn figures() -> &'static Figures {
    static FIGURES: OnceLock<&'static Figures> = OnceLock::new();
    FIGURES.get_or_init(|| {
        let figures: &'static Figures = Box::leak(Box::default());
        metrics::set_global_recorder(figures).expect("the only recorder");
        figures
    })
}

/// Waits (bounded) until `f` holds.
async fn until(what: &str, f: impl Fn() -> bool) {
    bounded(what, async {
        while !f() {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

#[tokio::test]
async fn calls_pushes_bytes_and_connections_are_counted_by_node() {
    let m = figures();
    let (_server, addr) = echo_server("m_srv", Options::default()).await;
    let game = client(&[("m_srv", addr)], Options::default());
    // 70 calls: the latency histogram times one call in 64.
    for _ in 0..70 {
        let reply = bounded("call", game.call("m_srv", "@echo", pack(&[s("x")]))).await;
        reply.expect("echo");
    }
    let err = bounded("failing call", game.call("m_srv", ".fail", Bytes::new())).await;
    err.expect_err("room is full");
    game.send("m_srv", ".echo", Bytes::from_static(b"p1"))
        .expect("push");
    game.send("m_srv", ".echo", Bytes::from_static(b"p2"))
        .expect("push");

    assert_eq!(m.get("skycluster_calls_started_total{node=m_srv}"), 71);
    assert_eq!(
        m.get("skycluster_calls_ended_total{node=m_srv,outcome=ok}"),
        70
    );
    assert_eq!(
        m.get("skycluster_calls_ended_total{node=m_srv,outcome=remote}"),
        1
    );
    // Sessions 1 and 65 are timed; the first may be the runtime's own
    // query, which is not counted.
    let timed = m.get("skycluster_call_seconds{node=m_srv}");
    assert!((1..=2).contains(&timed), "{timed} calls timed");
    assert_eq!(m.gauge("skycluster_calls_in_flight{node=m_srv}"), 0.0);
    assert_eq!(m.get("skycluster_pushes_sent_total{node=m_srv}"), 2);
    until("pushes served", || {
        m.get("skycluster_requests_served_total{kind=push,node=m_srv}") == 2
    })
    .await;
    assert_eq!(
        m.get("skycluster_requests_served_total{kind=call,node=m_srv}"),
        71
    );
    assert!(m.get("skycluster_bytes_sent_total{node=m_srv,side=sender}") > 0);
    assert!(m.get("skycluster_bytes_received_total{node=m_srv,side=sender}") > 0);
    assert!(m.get("skycluster_bytes_received_total{node=m_srv,side=agent}") > 0);
    assert!(m.get("skycluster_bytes_sent_total{node=m_srv,side=agent}") > 0);
    assert_eq!(
        m.gauge("skycluster_connections_open{node=m_srv,side=sender}"),
        1.0
    );
    assert_eq!(
        m.gauge("skycluster_connections_open{node=m_srv,side=agent}"),
        1.0
    );
    assert_eq!(m.get("skycluster_reconnects_total{node=m_srv}"), 0);
}

#[tokio::test]
async fn a_failed_connect_is_counted_with_its_outcome() {
    let m = figures();
    // A port nobody listens on: bind, note it, close.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let game = client(&[("m_dead", addr)], Options::default());
    let err = bounded("call", game.call("m_dead", "@echo", Bytes::new())).await;
    err.expect_err("nobody there");
    assert_eq!(m.get("skycluster_calls_started_total{node=m_dead}"), 1);
    assert_eq!(
        m.get("skycluster_calls_ended_total{node=m_dead,outcome=connect}"),
        1
    );
    assert_eq!(m.get("skycluster_connect_failures_total{node=m_dead}"), 1);
    assert_eq!(m.gauge("skycluster_calls_in_flight{node=m_dead}"), 0.0);
}

#[skycluster::service]
pub trait Ticker {
    async fn tick(&self, n: u32) -> u32;
}

struct Tick;

#[skycluster::async_trait]
impl Ticker for Tick {
    async fn tick(&self, n: u32) -> u32 {
        n + 1
    }
}

#[tokio::test]
async fn handler_time_by_service_and_method_probes_and_refused_frames_are_counted() {
    use std::time::Duration;

    use skycluster::wire::Limits;
    use support::fault_proxy::{FaultProxy, Mode};
    use support::raw::Raw;

    let m = figures();
    let options = Options::default().with_limits(Limits::default().with_max_message(1024));
    let (server, addr) = echo_server("m_hp", options).await;
    let ticker = server.spawn::<dyn Ticker>(Tick);
    server.register::<dyn Ticker>(ticker).expect("register");

    // Handler time: one method in 64 per thread is timed, so 65 calls on
    // this (current-thread) runtime time at least one.
    let game = client(&[("m_hp", addr)], Options::default());
    let ticks = game.proxy::<dyn Ticker>("m_hp", "@Ticker");
    for n in 0..65 {
        assert_eq!(bounded("tick", ticks.tick(n)).await.expect("tick"), n + 1);
    }
    let timed = m.get("skycluster_handler_seconds{method=tick,service=Ticker}");
    assert!((1..=2).contains(&timed), "{timed} ticks timed");

    // Frames refused: a multi-part request over `max_message`, and one
    // whose pieces do not add up.
    let mut raw = Raw::connect(addr).await;
    // Header: 1 MiB for handle 10, session 4.
    raw.write(&[0, 13, 0x01, 10, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0x10, 0])
        .await;
    let refused = raw.reply().await;
    assert_eq!(refused.session, 4);
    assert_eq!(
        m.get("skycluster_frames_refused_total{node=m_hp,reason=too_large}"),
        1
    );
    raw.write(&[0, 13, 0x01, 10, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0])
        .await;
    raw.write(&[0, 8, 0x03, 5, 0, 0, 0, b'a', b'b', b'c']).await;
    assert_eq!(raw.reply().await.session, 5);
    assert_eq!(
        m.get("skycluster_frames_refused_total{node=m_hp,reason=malformed}"),
        1
    );

    // Multi-part requests in reassembly: one begun, then finished. (The
    // refused 1 MiB one is still pending: its pieces would be read and
    // dropped until its last.)
    let pending = || m.gauge("skycluster_multipart_pending{node=m_hp}");
    assert_eq!(pending(), 1.0);
    raw.write(&[0, 13, 0x01, 10, 0, 0, 0, 6, 0, 0, 0, 3, 0, 0, 0])
        .await;
    until("a multi-part request pending", || pending() == 2.0).await;
    raw.write(&[0, 8, 0x03, 6, 0, 0, 0, b'a', b'b', b'c']).await;
    assert_eq!(raw.reply().await.session, 6);
    assert_eq!(pending(), 1.0);
    // The connection's share leaves with it.
    drop(raw);
    until("the connection's share gone", || pending() == 0.0).await;

    // Probes: a black-holed connection; the call times out in silence,
    // the probe goes out and finds the connection dead.
    let proxy = FaultProxy::start(addr).await;
    let options = Options::default()
        .with_call_timeout(Duration::from_millis(100))
        .with_probe_timeout(Duration::from_millis(200));
    let probed = client(&[("m_probed", proxy.addr)], options);
    bounded(
        "through the proxy",
        probed.call("m_probed", "@echo", pack(&[s("a")])),
    )
    .await
    .expect("forwarding works");
    proxy.set(Mode::BlackHole);
    bounded(
        "black hole",
        probed.call("m_probed", "@echo", pack(&[s("b")])),
    )
    .await
    .expect_err("nothing comes back");
    until("the probe finds the connection dead", || {
        m.get("skycluster_probes_total{node=m_probed,outcome=dead}") == 1
    })
    .await;
    assert_eq!(
        m.get("skycluster_probes_total{node=m_probed,outcome=sent}"),
        1
    );
}
