//! Pools: one client over every node that serves a service, choosing a
//! node per call ([`Cluster::pool`](crate::Cluster::pool)).
//!
//! * Who serves: with a membership source (etcd), the nodes it lists for
//!   the service's registered name; otherwise every node of the config
//!   that answers a name query (`cluster.query`) for it with a handle.
//!   The list is looked up again when the membership changes (any reload,
//!   or the source listing a service anew) and, without a source, every
//!   [`REFRESH`], in the background: a call never waits for it, except
//!   the first, or one that finds nobody.
//! * Which node: the power of two choices. Two nodes picked at random,
//!   the call goes to the one with fewer of this pool's calls in flight;
//!   a node whose sender cannot send now (disabled, or backing off after a
//!   failed connect) is skipped. Two random picks spread load nearly as
//!   well as asking every node, at the cost of two.
//! * Another node: a call that fails without having left (no connection,
//!   node gone, queue full) goes to another node, once, within the same
//!   deadline: nothing ran, so nothing runs twice. A call whose
//!   connection dropped after it may have left goes again only if its
//!   method is `#[idempotent]`.
//!
//! A pool call's payload is encoded once, into memory of its own (a retry
//! sends it again), and the call runs as a boxed future: a pool costs an
//! allocation or two per call that a kept client does not.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use super::{Begun, Call, Checked, Endpoint};
use crate::node::clock::{self, Deadline, Instant};
use crate::node::config::NodeAddr;
use crate::node::state::{lock, NodeState};
use crate::wire::Address;
use crate::{CallError, ErrorKind};

/// How often a pool without a membership source asks the nodes again who
/// serves its service: a node that registers it later is found within
/// this long.
pub(crate) const REFRESH: Duration = Duration::from_secs(5);

/// How long a finding of nobody stands: calls in that time fail at once
/// instead of asking every node again.
const NOBODY_STANDS: Duration = Duration::from_secs(1);

/// Whether a call may run again on another node when its connection
/// drops after it may have left: `#[idempotent]` methods may. (A call
/// that never left goes to another node whatever its method.)
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Never: the method may have done its work before the connection
    /// dropped.
    Never,
    /// Once, on another node of the pool.
    OnceElsewhere,
}

/// A pool: the service's registered name and the nodes found serving it.
pub(crate) struct Pool {
    state: Arc<NodeState>,
    /// The registered name, without `@`.
    service: Arc<str>,
    /// `@service`: where calls go on every node.
    address: Address,
    found: Mutex<Found>,
    /// One lookup at a time.
    looking: tokio::sync::Mutex<()>,
    /// A background lookup is on its way.
    refreshing: AtomicBool,
}

/// What the last lookup found.
struct Found {
    /// The config version it started at; `None` before the first.
    version: Option<u64>,
    at: Instant,
    members: Arc<[Member]>,
    /// Where it looked, for the error when nobody serves.
    looked: Arc<str>,
}

/// A node serving the service.
struct Member {
    endpoint: Endpoint,
    /// This pool's calls to it that have not ended: shared by the member
    /// as each lookup finds it again.
    in_flight: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let found = lock(&self.found);
        let nodes: Vec<&str> = found.members.iter().map(|m| m.endpoint.node()).collect();
        f.debug_struct("Pool")
            .field("service", &self.service)
            .field("nodes", &nodes)
            .finish_non_exhaustive()
    }
}

/// What a pool call resolves to: the endpoint of the node that answered
/// (or the pool's own, if none was tried), and the outcome.
pub(crate) type Outcome = (Endpoint, Result<Bytes, ErrorKind>);

impl Pool {
    pub(crate) fn new(state: &Arc<NodeState>, service: &str, address: Address) -> Pool {
        Pool {
            state: Arc::clone(state),
            service: service.into(),
            address,
            found: Mutex::new(Found {
                version: None,
                at: clock::now(),
                members: Arc::from([]),
                looked: "the pool has not looked yet (a push does not wait for it; a call does)"
                    .into(),
            }),
            looking: tokio::sync::Mutex::new(()),
            refreshing: AtomicBool::new(false),
        }
    }

    /// The nodes serving the service, as last found.
    pub(crate) fn nodes(&self) -> Vec<String> {
        let found = lock(&self.found);
        found
            .members
            .iter()
            .map(|m| m.endpoint.node().to_owned())
            .collect()
    }

    /// Whether what was found still stands: nothing changed since, and,
    /// without a membership source, it is not older than `REFRESH` (or
    /// `NOBODY_STANDS`, when it was nobody).
    fn stands(&self, found: &Found) -> bool {
        if found.version != Some(self.state.version()) {
            return false;
        }
        if self.state.membership.get().is_some() {
            return true;
        }
        let age = clock::coarse_now().saturating_duration_since(found.at);
        age < if found.members.is_empty() {
            NOBODY_STANDS
        } else {
            REFRESH
        }
    }

    /// The members to choose from: as found, looked up again in the
    /// background when stale; waited for when there are none yet.
    async fn members(self: &Arc<Self>, deadline: Deadline) -> Result<Arc<[Member]>, ErrorKind> {
        match self.found_now() {
            Ok(members) => return Ok(members),
            Err((nobody, true)) => return Err(nobody),
            Err((_, false)) => {}
        }
        let looked = tokio::time::timeout_at(deadline.at(), self.look(deadline));
        looked.await.map_err(|_| deadline.expired())?;
        let found = lock(&self.found);
        if found.members.is_empty() {
            return Err(self.nobody(&found));
        }
        Ok(Arc::clone(&found.members))
    }

    /// The members as last found, without waiting: a stale finding is
    /// looked up again in the background. With none, the error saying so,
    /// and whether that finding still stands (else a lookup is due).
    fn found_now(self: &Arc<Self>) -> Result<Arc<[Member]>, (ErrorKind, bool)> {
        let found = lock(&self.found);
        let stands = self.stands(&found);
        let found = if found.members.is_empty() {
            Err((self.nobody(&found), stands))
        } else {
            Ok(Arc::clone(&found.members))
        };
        if !stands {
            self.refresh_in_background();
        }
        found
    }

    fn nobody(&self, found: &Found) -> ErrorKind {
        ErrorKind::Unavailable {
            service: Arc::clone(&self.service),
            reason: Arc::clone(&found.looked),
        }
    }

    /// Looks again on a task of its own, unless one is on its way (or
    /// there is no runtime here to run it: a push from a plain thread;
    /// the next call looks).
    fn refresh_in_background(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let pool = Arc::clone(self);
        let deadline = Deadline::starting_now(self.state.options.call_timeout);
        runtime.spawn(async move {
            pool.look(deadline).await;
            pool.refreshing.store(false, Ordering::Release);
        });
    }

    /// Looks up who serves the service, unless a lookup that ended while
    /// this one waited for its turn already did.
    async fn look(&self, deadline: Deadline) {
        let _turn = self.looking.lock().await;
        if self.stands(&lock(&self.found)) {
            return;
        }
        let version = self.state.version();
        let (nodes, looked) = match self.state.membership.get() {
            Some(tracker) => {
                // Only nodes the config has: a node's entry and its
                // services' may leave in separate changes.
                let mut nodes = tracker.serving(&self.service);
                let config = self.state.config();
                nodes.retain(|node| matches!(config.get(node), Some(NodeAddr::At(_))));
                drop(config);
                let looked = format!("the membership source lists no node for `{}`", self.service);
                (nodes, looked)
            }
            None => self.ask_every_node(deadline).await,
        };
        let mut found = lock(&self.found);
        // The members still serving stay as they are: their counts are
        // shared with the calls in flight, which take themselves off when
        // they end.
        let members: Vec<Member> = nodes
            .into_iter()
            .map(
                |node| match found.members.iter().find(|m| m.endpoint.node() == node) {
                    Some(kept) => Member {
                        endpoint: kept.endpoint.clone(),
                        in_flight: Arc::clone(&kept.in_flight),
                    },
                    None => Member {
                        endpoint: Endpoint::new(&self.state, &node, self.address.clone()),
                        in_flight: Arc::default(),
                    },
                },
            )
            .collect();
        if members.is_empty() && found.version.is_some() && !found.members.is_empty() {
            tracing::warn!(service = %self.service, "pool: no node serves the service any more");
        }
        *found = Found {
            version: Some(version),
            at: clock::now(),
            members: members.into(),
            looked: looked.into(),
        };
    }

    /// Without a membership source: asks every enabled node of the config
    /// for the service's handle, all at once, each within `deadline`.
    /// Returns the nodes that have one, and what was asked, for the error
    /// when none has.
    async fn ask_every_node(&self, deadline: Deadline) -> (Vec<String>, String) {
        let nodes: Vec<String> = self
            .state
            .config()
            .nodes()
            .filter(|(_, addr)| matches!(addr, NodeAddr::At(_)))
            .map(|(node, _)| node.to_owned())
            .collect();
        let wait = deadline
            .at()
            .saturating_duration_since(clock::now())
            .min(self.state.options.call_timeout);
        let mut asked = tokio::task::JoinSet::new();
        for node in &nodes {
            let endpoint = Endpoint::new(&self.state, node, Address::QUERY).with_timeout(wait);
            let (service, node) = (Arc::clone(&self.service), node.clone());
            asked.spawn(async move {
                let answer = endpoint.query_handle(&service).await;
                (node, answer)
            });
        }
        let mut serving = Vec::new();
        let mut silent = 0;
        while let Some(joined) = asked.join_next().await {
            match joined {
                Ok((node, Ok(_))) => serving.push(node),
                // "name not found", or no answer: not serving, for now.
                Ok((node, Err(e))) => {
                    if !matches!(e.kind(), ErrorKind::Remote { .. }) {
                        silent += 1;
                        tracing::debug!(%node, service = %self.service, error = %e, "pool: node did not answer");
                    }
                }
                Err(e) => {
                    tracing::warn!(service = %self.service, error = %e, "pool: a lookup task failed")
                }
            }
        }
        serving.sort();
        let looked = match (nodes.len(), silent) {
            (0, _) => "the config has no enabled node".to_owned(),
            (n, 0) => format!("none of the {n} nodes in the config has it registered"),
            (n, s) => format!(
                "none of the {n} nodes in the config has it registered ({s} did not answer)"
            ),
        };
        (serving, looked)
    }
}

/// A call through a pool, from `endpoint` (the pool's): finds the
/// members, picks one, calls it; retries once elsewhere if `retry` says so
/// and the first failed before any reply.
pub(crate) fn call(
    endpoint: &Endpoint,
    pool: &Arc<Pool>,
    payload: Bytes,
    checked: Checked,
    retry: Retry,
) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'static>> {
    let deadline = Deadline::starting_now(crate::node::deadline::inherit(endpoint.timeout()));
    let (endpoint, pool) = (endpoint.clone(), Arc::clone(pool));
    Box::pin(async move {
        let members = match pool.members(deadline).await {
            Ok(members) => members,
            Err(kind) => return (endpoint, Err(kind)),
        };
        let first = choose(&members, None);
        let (tried, outcome) =
            attempt(&members[first], &endpoint, &payload, checked, deadline).await;
        match outcome {
            Err(kind) if members.len() > 1 && may_go_elsewhere(&kind, retry) => {
                let second = choose(&members, Some(first));
                tracing::debug!(service = %pool.service, failed = tried.node(), next = members[second].endpoint.node(), error = %kind, "pool: the call goes to another node");
                attempt(&members[second], &endpoint, &payload, checked, deadline).await
            }
            outcome => (tried, outcome),
        }
    })
}

/// A push through a pool: to a member picked as a call's would be, if
/// the pool has found its members; a push does not wait for a lookup.
pub(crate) fn push_target(pool: &Arc<Pool>) -> Result<Endpoint, ErrorKind> {
    let members = pool.found_now().map_err(|(nobody, _)| nobody)?;
    Ok(members[choose(&members, None)].endpoint.clone())
}

/// One attempt on `member`, within what is left of `deadline`, counted in
/// its calls in flight until it ends (or is dropped).
async fn attempt(
    member: &Member,
    pool_endpoint: &Endpoint,
    payload: &[u8],
    checked: Checked,
    deadline: Deadline,
) -> Outcome {
    let left = deadline.at().saturating_duration_since(clock::now());
    let endpoint = pool_endpoint.on(&member.endpoint).with_timeout(left);
    let _counted = InFlight::start(&member.in_flight);
    let method = checked.map_or("", |(_, method)| method);
    let call = Call::new(
        &endpoint,
        method,
        (payload, checked),
        start_attempt,
        finish_attempt,
    );
    let outcome = match call.await {
        Ok(outcome) => outcome,
        Err(e) => Err(e.kind().clone()),
    };
    (endpoint, outcome)
}

fn start_attempt<'a>(
    endpoint: &'a Endpoint,
    _: &'static str,
    (payload, checked): (&[u8], Checked),
    waker: &std::task::Waker,
) -> Begun<'a> {
    endpoint.begin(payload, checked, Retry::Never, waker)
}

/// The outcome as it is: the pool's caller makes the error.
#[allow(clippy::unnecessary_wraps)]
fn finish_attempt(
    _: &Endpoint,
    _: &'static str,
    outcome: Result<Bytes, ErrorKind>,
) -> Result<Result<Bytes, ErrorKind>, CallError> {
    Ok(outcome)
}

/// A count of calls in flight, held while one runs.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn start(count: &'a AtomicUsize) -> InFlight<'a> {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether a call that failed with `kind` on one node goes to another.
///
/// A call that never left (the node could not be reached, is gone, or
/// its queue is full; a schema mismatch stops it before sending) goes
/// elsewhere whatever its method: nothing ran, so nothing runs twice.
/// One that may have left and got no reply (the connection dropped) does
/// only if its method is idempotent. Never a timeout (no time is left),
/// nor anything the service or the codec said.
fn may_go_elsewhere(kind: &ErrorKind, retry: Retry) -> bool {
    match kind {
        ErrorKind::Connect { .. }
        | ErrorKind::Disabled
        | ErrorKind::Absent
        | ErrorKind::Overloaded { .. }
        | ErrorKind::SchemaMismatch { .. } => true,
        ErrorKind::Disconnected { .. } => retry == Retry::OnceElsewhere,
        _ => false,
    }
}

/// The power of two choices among `members`, never `except` (when there
/// is another): of two picked at random, the one with fewer calls in
/// flight, preferring one whose sender can send now.
fn choose(members: &[Member], except: Option<usize>) -> usize {
    let n = members.len();
    let pick = |r: u64| -> usize {
        // `r % n` over the members other than `except`.
        let others = n - usize::from(except.is_some() && n > 1);
        let i = (r % others as u64) as usize;
        match except {
            Some(e) if n > 1 && i >= e => i + 1,
            _ => i,
        }
    };
    if n <= 1 {
        return 0;
    }
    let a = pick(random());
    let b = pick(random());
    // The less busy of the two, if its sender can send; else the other;
    // else any member that can; else the less busy (its error says why).
    let load = |i: usize| members[i].in_flight.load(Ordering::Relaxed);
    let (best, other) = if load(b) < load(a) { (b, a) } else { (a, b) };
    if members[best].endpoint.available() {
        return best;
    }
    if other != best && members[other].endpoint.available() {
        return other;
    }
    (0..n)
        .find(|&i| Some(i) != except && i != best && members[i].endpoint.available())
        .unwrap_or(best)
}

/// A fast per-thread pseudo-random number (xorshift64*), seeded from the
/// thread's identity and the clock: for spreading calls, not secrets.
fn random() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0x9e37_79b9_7f4a_7c15);
            h.finish() | 1
        });
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Options};

    fn members(state: &Arc<NodeState>, n: usize) -> Vec<Member> {
        (0..n)
            .map(|i| Member {
                endpoint: Endpoint::new(state, &format!("n{i}"), "@S"),
                in_flight: Arc::default(),
            })
            .collect()
    }

    fn state(n: usize) -> Arc<NodeState> {
        let mut config = Config::new();
        for i in 0..n {
            config = config.with_node(format!("n{i}"), format!("127.0.0.1:{}", 1000 + i));
        }
        Arc::new(NodeState::new(config, Options::default()))
    }

    #[test]
    fn a_second_choice_is_never_the_first_when_there_is_another() {
        let state = state(3);
        let members = members(&state, 3);
        for _ in 0..1000 {
            let first = choose(&members, None);
            assert!(first < 3);
            assert_ne!(choose(&members, Some(first)), first);
        }
        let one = self::members(&state, 1);
        assert_eq!(choose(&one, Some(0)), 0);
    }

    #[test]
    fn the_less_busy_of_two_wins() {
        let state = state(2);
        let members = members(&state, 2);
        members[0].in_flight.store(10, Ordering::Relaxed);
        // With two members, both picks are equally likely to be either:
        // whenever they differ, the idle one wins; so the busy one is
        // chosen only when both picks were it, about a quarter of the time.
        let busy = (0..4000).filter(|_| choose(&members, None) == 0).count();
        assert!(busy < 1400, "busy member chosen {busy} times of 4000");
    }

    #[test]
    fn an_unsent_call_goes_elsewhere_and_a_lost_one_only_if_idempotent() {
        use Retry::{Never, OnceElsewhere};
        let lost = ErrorKind::Disconnected {
            reason: "reset".into(),
        };
        assert!(may_go_elsewhere(&lost, OnceElsewhere));
        assert!(!may_go_elsewhere(&lost, Never));
        let refused = ErrorKind::Connect {
            addr: "127.0.0.1:1".into(),
            reason: Arc::new(std::io::ErrorKind::ConnectionRefused.into()),
        };
        assert!(may_go_elsewhere(&refused, Never));
        assert!(may_go_elsewhere(&ErrorKind::Absent, Never));
        for kind in [
            ErrorKind::Remote { text: "no".into() },
            ErrorKind::Timeout {
                elapsed: Duration::from_secs(1),
                limit: Duration::from_secs(1),
            },
        ] {
            assert!(!may_go_elsewhere(&kind, OnceElsewhere), "{kind}");
        }
    }
}
