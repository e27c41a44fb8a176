//! Timeouts and limits, each with a documented default.

use std::time::Duration;

#[cfg(feature = "auth")]
use super::Auth;
use super::Transport;
use crate::wire::Limits;

/// How a cluster behaves under load and failure.
///
/// Every limit is here, with its default. Start from
/// [`Options::default`] and change what you need with the `with_*`
/// methods; the fields stay readable. The struct is `#[non_exhaustive]`,
/// so a new limit in a later release is not a breaking change (outside
/// this crate it cannot be built with a struct literal):
///
/// ```
/// use std::time::Duration;
/// use skycluster::Options;
///
/// let options = Options::default()
///     .with_call_timeout(Duration::from_secs(5))
///     .with_max_clients(64);
/// assert_eq!(options.call_timeout, Duration::from_secs(5));
/// assert_eq!(options.max_clients, 64);
/// assert_eq!(options.max_in_flight, 1024);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// How long a call waits for its reply before failing with
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout). Default: 30 s.
    /// Skynet has none; a call there can wait forever. A remote call fails
    /// never before its timeout, and after it by at most 5 ms plus, on
    /// Linux, two kernel ticks (13 ms in all with a 250 Hz tick): the
    /// connection sweeps deadlines rather than arming a timer per call,
    /// and calls start their clock from the kernel's coarse clock.
    pub call_timeout: Duration,
    /// How long a connect attempt may take. Default: 5 s.
    pub connect_timeout: Duration,
    /// After a failed connect, calls fail at once for this long, doubling
    /// (with jitter) on each further failure. Default: 100 ms.
    pub backoff_min: Duration,
    /// The cap on that back-off. Default: 5 s.
    pub backoff_max: Duration,
    /// How many connections a listener serves at once; more are closed as
    /// they arrive. Default: 1024. (Skynet's gate serves `maxclient - 1`;
    /// skycluster serves exactly this many.)
    pub max_clients: usize,
    /// Requests one connection may have running at once. Beyond it the
    /// agent stops reading, so the peer's writes back up instead of piling
    /// up here. Default: 1024.
    pub max_in_flight: usize,
    /// Limits on multi-part messages, both directions.
    pub limits: Limits,
    /// A frame that has begun arriving must be complete within this, or the
    /// agent closes the connection: a slow or stuck peer cannot hold a
    /// half-read frame forever. Default: 30 s.
    pub frame_timeout: Duration,
    /// How long an agent keeps a connection on which nothing arrives.
    /// Default: none (Skynet's senders keep idle connections open).
    pub idle_timeout: Option<Duration>,
    /// When a call times out and nothing at all arrived from its node while
    /// it waited, the connection may be half-open (the peer vanished
    /// without a FIN). The sender then sends a liveness probe, a name
    /// query that Lua nodes answer too; if nothing arrives within this, it
    /// drops the connection and the next call reconnects. Default: 5 s.
    pub probe_timeout: Duration,
    /// Bytes a connection may hold unwritten: replies an agent has not
    /// sent yet (beyond it, the agent stops reading), or calls and pushes a
    /// sender has queued (beyond it, new ones fail at once with
    /// [`ErrorKind::Overloaded`](crate::ErrorKind::Overloaded)).
    /// Default: 64 MiB.
    pub max_queued_bytes: usize,
    /// On shutdown, how long requests in flight may take to finish.
    /// Default: 5 s. A `#[cluster_main]` node shuts down with it on a
    /// signal or when its body returns (the attribute's `grace_ms`, if
    /// given, overrides it). [`Cluster::shutdown`](crate::Cluster::shutdown)
    /// takes the grace as its argument: a node run by hand passes this.
    pub shutdown_grace: Duration,
    /// How many connections the kernel may hold for a listener before its
    /// accept loop takes them (the `listen(2)` backlog; Linux caps it at
    /// `net.core.somaxconn`). A connect beyond it loses its SYN and waits
    /// a second to retry, so a burst of connects (a gateway's players
    /// reconnecting, a fleet starting) wants room. Default: 1024 (tokio's
    /// own bind asks for 128, where `benches/fanin` measured a second's
    /// stall at a few hundred connects at once).
    pub listen_backlog: u32,
    /// Whether a typed client checks, once per connection and address,
    /// that the remote node's build of the service agrees with its own
    /// (see [`Service::fingerprints`](crate::Service::fingerprints)). The
    /// first call to an address on a connection then waits one round trip
    /// longer: a name query for a reserved name, which a Rust node answers
    /// with the service's method fingerprints and a Lua node (or a Rust
    /// node without a typed service there) with its ordinary "not found",
    /// which skips the check. A call of a method that differs fails with
    /// [`ErrorKind::SchemaMismatch`](crate::ErrorKind::SchemaMismatch)
    /// without being sent. A push is not held back: it is checked against
    /// what the connection already knows, and sent if nothing is known
    /// yet. Default: on.
    pub schema_check: bool,
    /// Whether this node uses skycluster's extensions with other Rust
    /// nodes: on each new connection it asks the node (a name query for a
    /// reserved name, which a Lua node answers "name not found") and, if
    /// the node offers them, sends each call's remaining time with it
    /// ([`deadline`](crate::deadline)); and it offers them to nodes that
    /// ask. Off, a node writes and answers exactly what Skynet does.
    /// Default: on.
    pub extensions: bool,
    /// The network connections run over: TCP, or turmoil's simulation for
    /// tests (feature `turmoil`). Default: [`Transport::Tcp`].
    pub transport: Transport,
    /// A shared secret that connections must prove they know, for clusters
    /// of Rust nodes. Default: none, byte-compatible with Lua nodes. See
    /// [`Auth`]. Needs the `auth` feature (on by default).
    #[cfg(feature = "auth")]
    pub auth: Option<Auth>,
    /// TLS for this node's listener and senders (the `tls` feature).
    /// Default: none, byte-compatible with Lua nodes. See
    /// [`Tls`](crate::Tls).
    #[cfg(feature = "tls")]
    pub tls: Option<crate::Tls>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            call_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            max_clients: 1024,
            max_in_flight: 1024,
            limits: Limits::default(),
            frame_timeout: Duration::from_secs(30),
            idle_timeout: None,
            probe_timeout: Duration::from_secs(5),
            max_queued_bytes: 64 << 20,
            shutdown_grace: Duration::from_secs(5),
            listen_backlog: 1024,
            schema_check: true,
            extensions: true,
            transport: Transport::Tcp,
            #[cfg(feature = "auth")]
            auth: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl Options {
    /// Sets how long a call waits for its reply ([`Options::call_timeout`]).
    #[must_use]
    pub fn with_call_timeout(mut self, call_timeout: Duration) -> Self {
        self.call_timeout = call_timeout;
        self
    }

    /// Sets how long a connect attempt may take ([`Options::connect_timeout`]).
    #[must_use]
    pub fn with_connect_timeout(mut self, connect_timeout: Duration) -> Self {
        self.connect_timeout = connect_timeout;
        self
    }

    /// Sets the first back-off after a failed connect ([`Options::backoff_min`]).
    #[must_use]
    pub fn with_backoff_min(mut self, backoff_min: Duration) -> Self {
        self.backoff_min = backoff_min;
        self
    }

    /// Sets the cap on the connect back-off ([`Options::backoff_max`]).
    #[must_use]
    pub fn with_backoff_max(mut self, backoff_max: Duration) -> Self {
        self.backoff_max = backoff_max;
        self
    }

    /// Sets how many connections a listener serves at once ([`Options::max_clients`]).
    #[must_use]
    pub fn with_max_clients(mut self, max_clients: usize) -> Self {
        self.max_clients = max_clients;
        self
    }

    /// Sets how many requests one connection may have running ([`Options::max_in_flight`]).
    #[must_use]
    pub fn with_max_in_flight(mut self, max_in_flight: usize) -> Self {
        self.max_in_flight = max_in_flight;
        self
    }

    /// Sets the limits on multi-part messages ([`Options::limits`]).
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets how long a begun frame may take to arrive ([`Options::frame_timeout`]).
    #[must_use]
    pub fn with_frame_timeout(mut self, frame_timeout: Duration) -> Self {
        self.frame_timeout = frame_timeout;
        self
    }

    /// Sets how long an idle connection is kept, `None` for ever ([`Options::idle_timeout`]).
    #[must_use]
    pub fn with_idle_timeout(mut self, idle_timeout: Option<Duration>) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }

    /// Sets how long a liveness probe waits ([`Options::probe_timeout`]).
    #[must_use]
    pub fn with_probe_timeout(mut self, probe_timeout: Duration) -> Self {
        self.probe_timeout = probe_timeout;
        self
    }

    /// Sets the bytes a connection may hold unwritten ([`Options::max_queued_bytes`]).
    #[must_use]
    pub fn with_max_queued_bytes(mut self, max_queued_bytes: usize) -> Self {
        self.max_queued_bytes = max_queued_bytes;
        self
    }

    /// Sets how long requests in flight may take to finish on shutdown ([`Options::shutdown_grace`]).
    #[must_use]
    pub fn with_shutdown_grace(mut self, shutdown_grace: Duration) -> Self {
        self.shutdown_grace = shutdown_grace;
        self
    }

    /// Sets the listen backlog ([`Options::listen_backlog`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let options = skycluster::Options::default().with_listen_backlog(4096);
    /// assert_eq!(options.listen_backlog, 4096);
    /// ```
    #[must_use]
    pub fn with_listen_backlog(mut self, listen_backlog: u32) -> Self {
        self.listen_backlog = listen_backlog;
        self
    }

    /// Turns the Rust-to-Rust extensions on or off ([`Options::extensions`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let options = skycluster::Options::default().with_extensions(false);
    /// assert!(!options.extensions);
    /// ```
    #[must_use]
    pub fn with_extensions(mut self, extensions: bool) -> Self {
        self.extensions = extensions;
        self
    }

    /// Sets the network connections run over ([`Options::transport`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::{Options, Transport};
    ///
    /// let options = Options::default().with_transport(Transport::Tcp);
    /// assert_eq!(options.transport, Transport::Tcp);
    /// ```
    #[must_use]
    pub fn with_transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Turns the schema check on or off ([`Options::schema_check`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let options = skycluster::Options::default().with_schema_check(false);
    /// assert!(!options.schema_check);
    /// ```
    #[must_use]
    pub fn with_schema_check(mut self, schema_check: bool) -> Self {
        self.schema_check = schema_check;
        self
    }

    /// Sets the shared secret connections must prove, `None` for none ([`Options::auth`]).
    #[cfg(feature = "auth")]
    #[must_use]
    pub fn with_auth(mut self, auth: Option<Auth>) -> Self {
        self.auth = auth;
        self
    }

    /// Sets TLS for this node's listener and senders, `None` for none
    /// ([`Options::tls`]; the `tls` feature). It combines with
    /// [`with_auth`](Options::with_auth): the `Auth` handshake then runs
    /// inside TLS.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use skycluster::{Options, Tls};
    ///
    /// let tls = Tls::from_pem_files("node.crt", "node.key", "cluster-ca.crt")?;
    /// let options = Options::default().with_tls(Some(tls));
    /// assert!(options.tls.is_some());
    /// # Ok::<(), skycluster::TlsError>(())
    /// ```
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn with_tls(mut self, tls: Option<crate::Tls>) -> Self {
        self.tls = tls;
        self
    }
}
