//! A sender's connection task: connect, then write what callers queue and
//! read the replies until the connection ends; and the back-off after a
//! failed connect.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::AbortHandle;
use tokio_util::codec::Decoder;
use tracing::Instrument;

use super::{clock, fail_all, Conn, Sender};
use crate::handler::classify;
use crate::node::link::Link;
use crate::node::Options;
use crate::wire::{write_pieces, Reply, ReplyDecoder, WRITE_BATCH};
use crate::ErrorKind;

/// A connect that got no answer within `limit`.
fn timed_out(limit: Duration) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no answer within {limit:?}"),
    )
}

impl Sender {
    /// The connection task: connect, then write queued frames and read
    /// replies until the connection ends.
    pub(super) async fn run(self: Arc<Self>, addr: String, generation: u64) {
        // Calls time out while connecting too; the sweeper ends with this
        // task, however it ends.
        let sweeper = tokio::spawn(Arc::clone(&self).sweep_loop());
        let _sweeper = AbortOnDrop(sweeper.abort_handle());
        #[cfg(feature = "turmoil")]
        if self.options.transport == crate::Transport::Turmoil {
            let limit = self.options.connect_timeout;
            let connected =
                tokio::time::timeout(limit, turmoil::net::TcpStream::connect(addr.as_str()))
                    .await
                    .unwrap_or_else(|_| Err(timed_out(limit)));
            return match connected {
                Ok(stream) => Box::pin(self.connected(stream, addr, generation)).await,
                Err(e) => self.connect_failed(generation, addr, e),
            };
        }
        let connected =
            tokio::time::timeout(self.options.connect_timeout, TcpStream::connect(&addr))
                .await
                .unwrap_or_else(|_| Err(timed_out(self.options.connect_timeout)));
        let stream = match connected {
            Ok(stream) => stream,
            Err(e) => return self.connect_failed(generation, addr, e),
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(node = %self.node, error = %e, "cannot set TCP_NODELAY");
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = self
            .options
            .tls
            .as_ref()
            .filter(|t| t.applies_to(&self.node))
        {
            // Boxed, as the agent's: the TLS state would otherwise make
            // every plaintext connection's task kilobytes larger.
            let tls = tls.clone();
            return Box::pin(async move {
                let limit = self.options.connect_timeout;
                match crate::node::tls::connect(&tls, stream, &addr, limit).await {
                    Ok(stream) => self.connected(stream, addr, generation).await,
                    Err(e) => self.connect_failed(generation, addr, e),
                }
            })
            .await;
        }
        self.connected(stream, addr, generation).await
    }

    /// The rest of `run` on a connected stream: `Auth`, then the pump.
    #[cfg_attr(not(feature = "auth"), allow(unused_mut))]
    async fn connected<S: Link>(self: Arc<Self>, mut stream: S, addr: String, generation: u64) {
        #[cfg(feature = "auth")]
        if let Some(auth) = self
            .options
            .auth
            .as_ref()
            .filter(|a| a.applies_to(&self.node))
        {
            let limit = self.options.connect_timeout;
            if let Err(e) = crate::node::auth::connect(&mut stream, auth, limit).await {
                let error = std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("authentication failed: {e}"),
                );
                return self.connect_failed(generation, addr, error);
            }
        }
        {
            let mut st = self.lock();
            if st.generation != generation {
                return;
            }
            let Conn::Connecting(task) = &st.conn else {
                return;
            };
            st.conn = Conn::Up(task.clone());
            st.failures = 0;
        }
        self.ask_extensions(generation);
        tracing::debug!(node = %self.node, %addr, "connected");
        let open = self.metrics.connected();
        let reason = self.pump(stream, generation).await;
        drop(open);
        tracing::debug!(node = %self.node, %addr, %reason, "connection closed");
        let mut st = self.lock();
        if st.generation == generation {
            st.last_error = Some(reason.clone());
            self.reset(
                &mut st,
                ErrorKind::Disconnected {
                    reason: reason.into(),
                },
            );
        }
    }

    fn connect_failed(&self, generation: u64, addr: String, error: std::io::Error) {
        let mut st = self.lock();
        if st.generation != generation {
            return;
        }
        st.failures = st.failures.saturating_add(1);
        self.metrics.connect_failed();
        let wait = backoff(&self.options, st.failures, &[&self.local, &self.node]);
        tracing::warn!(node = %self.node, %addr, %error, retry_in = ?wait, "connect failed");
        let error = ErrorKind::Connect {
            addr,
            reason: Arc::new(error),
        };
        st.last_error = Some(error.to_string());
        self.next_generation(&mut st);
        fail_all(&mut st, &error);
        st.conn = Conn::Backoff {
            until: clock::now() + wait,
            error,
        };
    }

    /// Moves bytes both ways until the connection fails; returns why.
    ///
    /// The writer is a task of its own, woken only when callers queue
    /// output; this one reads, woken only when replies arrive. (As two
    /// branches of one task, every wake-up polled both: at 256 calls in
    /// flight that sent about a tenth more TCP segments per call.)
    async fn pump<S: Link>(self: &Arc<Self>, stream: S, generation: u64) -> String {
        let (rd, wr) = stream.into_split();
        let writer = Arc::clone(self).write_frames::<S>(wr, generation);
        let writer = tokio::spawn(writer.in_current_span());
        let _writer = AbortOnDrop(writer.abort_handle());
        tokio::select! {
            why = self.read_replies(rd) => why,
            why = writer => why.unwrap_or_else(|e| format!("writer failed: {e}")),
        }
    }

    /// Reads replies and hands them to their callers, a batch at a time.
    ///
    /// A batch is at most [`REPLY_BATCH`] replies; between two, the reader
    /// steps back so that the callers woken so far run, and the requests
    /// they make in turn leave, before it wakes more.
    async fn read_replies(&self, mut rd: impl AsyncRead + Unpin) -> String {
        let mut rbuf = BytesMut::with_capacity(64 * 1024);
        let mut decoder = ReplyDecoder::new(self.options.limits);
        let mut replies = Vec::new();
        let mut wakers = Vec::new();
        loop {
            match rd.read_buf(&mut rbuf).await {
                Ok(0) => return "closed by peer".to_owned(),
                Ok(n) => self.metrics.received(n),
                Err(e) => return format!("read failed: {e}"),
            }
            self.heard.fetch_add(1, Ordering::Relaxed);
            loop {
                let reply = match decoder.decode(&mut rbuf) {
                    Ok(Some(reply)) => reply,
                    Ok(None) => break,
                    Err(e) => return format!("bad reply stream: {e}"),
                };
                if replies.len() == REPLY_BATCH {
                    // More than a batch came in: this one's callers go first.
                    self.complete(&mut replies, &mut wakers);
                    yield_once().await;
                }
                replies.push(reply);
            }
            if !replies.is_empty() {
                self.complete(&mut replies, &mut wakers);
            }
        }
    }

    /// Writes whatever callers queue, all of it at once, until the
    /// connection is replaced or a write fails.
    async fn write_frames<S: Link>(
        self: Arc<Self>,
        mut wr: S::OwnedWrite,
        generation: u64,
    ) -> String {
        let mut wbuf = BytesMut::with_capacity(64 * 1024);
        loop {
            if !self.take_output(&mut wbuf, generation) {
                return "sender reset".to_owned();
            }
            if wbuf.is_empty() {
                self.wake.notified().await;
                continue;
            }
            // `write`, not the vectored write `write_all_buf` would make of
            // this one slice: the kernel then has no iovec to import.
            if let Err(e) = wr.write_all(&wbuf).await {
                return format!("write failed: {e}");
            }
            self.metrics.sent(wbuf.len());
            // TLS may hold the last record until flushed.
            if S::BUFFERED {
                if let Err(e) = wr.flush().await {
                    return format!("write failed: {e}");
                }
            }
            wbuf.clear();
        }
    }

    /// Takes everything queued into the empty `wbuf`: the output buffer by
    /// swapping, then pieces of large messages up to a batch. Returns false
    /// if this connection has been replaced.
    fn take_output(&self, wbuf: &mut BytesMut, generation: u64) -> bool {
        let mut st = self.lock();
        if st.generation != generation {
            return false;
        }
        std::mem::swap(&mut st.out, wbuf);
        write_pieces(&mut st.pieces, wbuf, WRITE_BATCH);
        true
    }

    /// Hands replies to their waiters under one lock, and wakes the
    /// callers once it is released.
    fn complete(&self, replies: &mut Vec<Reply>, wakers: &mut Vec<Waker>) {
        let mut st = self.lock();
        let mut last_started = None;
        for reply in replies.drain(..) {
            let session = reply.session;
            match st.pending.answer(session, reply.result.map_err(classify)) {
                Some((waker, started)) => {
                    last_started = started.or(last_started);
                    wakers.extend(waker);
                }
                // The caller may have given up already; that is fine.
                None => tracing::debug!(node = %self.node, session, "reply for no waiting call"),
            }
        }
        // One clock read per batch, not per reply, and only for the calls
        // timed precisely: status shows the last.
        if let Some(started) = last_started {
            st.last_rtt = Some(clock::now().saturating_duration_since(started));
        }
        drop(st);
        for waker in wakers.drain(..) {
            waker.wake();
        }
    }
}

/// The most replies a connection hands out before it lets the callers it
/// woke run: tokio's own budget of work per turn of a task.
///
/// Past it, the requests those callers make leave in one write while the
/// rest of the replies are handed out, so the peer works on them meanwhile
/// instead of waiting for one large batch. (At 256 calls in flight, one
/// batch left each side idle half the time: about a third fewer calls per
/// second than two in turn.)
const REPLY_BATCH: usize = 128;

/// Lets every task already woken run before this one goes on.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        // Back of the run queue, behind the callers just woken.
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// Aborts a task when dropped.
#[derive(Debug)]
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `backoff_min * 2^(failures-1)`, capped, with up to 25 % taken off so
/// that many callers do not retry in step.
///
/// The share taken off is a hash of who retries (this node and the node
/// it retries; the process too, for a node without a name) and the
/// attempt: it differs between the nodes of a fleet, as a random one
/// would, and is the same in every run of a simulation with the same
/// seed, as a random one would not be.
fn backoff(options: &Options, failures: u32, who: &[&str]) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let base = options
        .backoff_min
        .saturating_mul(1 << exp)
        .min(options.backoff_max);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let pid = match who.first() {
        Some(name) if !name.is_empty() => [0; 4],
        _ => std::process::id().to_le_bytes(),
    };
    for bytes in who
        .iter()
        .map(|s| s.as_bytes())
        .chain([&pid[..], &failures.to_le_bytes()[..]])
    {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x0100_0000_01b3);
    }
    let jitter = base.mul_f64((h % 1000) as f64 / 4000.0);
    base - jitter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn yield_once_lets_the_tasks_woken_before_it_run_first() {
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let task = tokio::spawn({
            let ran = Arc::clone(&ran);
            async move { ran.store(true, Ordering::Relaxed) }
        });
        // On this current-thread runtime the task cannot run until the
        // test's own task steps back.
        assert!(!ran.load(Ordering::Relaxed));
        yield_once().await;
        assert!(ran.load(Ordering::Relaxed));
        task.await.expect("task");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let options = Options::default();
        let first = backoff(&options, 1, &["a", "b"]);
        assert!(first <= options.backoff_min && first >= options.backoff_min * 3 / 4);
        let late = backoff(&options, 40, &["a", "b"]);
        assert!(late <= options.backoff_max && late >= options.backoff_max * 3 / 4);
    }

    #[test]
    fn backoff_is_the_same_for_the_same_retry_and_differs_between_nodes() {
        let options = Options::default();
        let one = backoff(&options, 3, &["game1", "db"]);
        assert_eq!(one, backoff(&options, 3, &["game1", "db"]));
        let others: Vec<Duration> = (2..10)
            .map(|i| backoff(&options, 3, &[&format!("game{i}"), "db"]))
            .collect();
        assert!(others.iter().any(|d| *d != one), "{one:?} {others:?}");
    }
}
