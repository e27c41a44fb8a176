//! A sender's sweeper: calls past their deadline, and liveness probes.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::clock;
use super::Sender;
use crate::ErrorKind;

impl Sender {
    /// Fails calls whose deadline has passed, and drops the connection if
    /// a liveness probe goes unanswered, for as long as the connection task
    /// lives. It sleeps until the earliest deadline that can be due, and is
    /// woken when a call or a probe brings an earlier one.
    pub(super) async fn sweep_loop(self: Arc<Self>) {
        loop {
            let next = {
                let st = self.lock();
                let probe = st.probe.map(|(deadline, _)| deadline);
                match (st.pending.next_sweep(), probe) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            };
            match next {
                None => self.sweep_wake.notified().await,
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => self.sweep(),
                        () = self.sweep_wake.notified() => {}
                    }
                }
            }
        }
    }

    fn sweep(&self) {
        let now = clock::now();
        let heard = self.heard.load(Ordering::Relaxed);
        let mut st = self.lock();
        if let Some((deadline, heard_then)) = st.probe {
            if heard != heard_then {
                // The peer spoke: it is alive.
                st.probe = None;
            } else if now >= deadline {
                let reason = format!(
                    "no answer to a liveness probe within {:?}",
                    self.options.probe_timeout
                );
                tracing::warn!(node = %self.node, %reason, "dropping the connection");
                self.metrics.probe(true);
                st.last_error = Some(reason.clone());
                // This aborts the connection task and, with it, the sweeper.
                self.reset(
                    &mut st,
                    ErrorKind::Disconnected {
                        reason: reason.into(),
                    },
                );
                return;
            }
        }
        let swept = st.pending.sweep(now, heard);
        drop(st);
        if swept.expired > 0 {
            tracing::debug!(node = %self.node, calls = swept.expired, "calls timed out");
        }
        if swept.silent {
            // Nothing at all came back while they waited: is anyone there?
            self.probe();
        }
    }
}
