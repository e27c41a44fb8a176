//! Rust-to-Rust extensions, invisible to Lua nodes.
//!
//! When a connection comes up, the sender asks the node what it offers,
//! with a name query (address 0) for a reserved name, once. A Rust node
//! answers with the extensions it reads, as a bit set; a Lua node looks
//! the reserved name up among its registered names, finds nothing, and
//! answers "name not found", which offers nothing. Until the answer, and
//! always towards a node that offers nothing, the connection carries
//! exactly the bytes Skynet's own sender would write; after it, the
//! sender may add what was offered: the deadline frame (`0x06`) before a
//! call, and the cancel frame (`0x07`) when a caller drops a call it
//! has not had an answer to.

use std::sync::Arc;

use bytes::Bytes;

use super::{Payload, Sender};
use crate::codec::luaseri::{self, Value};
use crate::node::clock::Deadline;
use crate::wire::Address;

/// The reserved name the query asks for.
pub(crate) const QUERY: &str = "skycluster/extensions/1";

/// The caller's remaining time with each call (`wire::encode_deadline`).
pub(crate) const DEADLINES: u32 = 1;

/// A caller's giving up on a call (`wire::encode_cancel`).
pub(crate) const CANCELS: u32 = 2;

/// What this build reads.
pub(crate) const OFFERED: u32 = DEADLINES | CANCELS;

/// Whether a name query's values are the extensions query.
pub(crate) fn is_query(values: &[Value]) -> bool {
    matches!(values, [Value::String(name)] if name == QUERY.as_bytes())
}

/// This node's answer: `skynet.pack(OFFERED)`.
pub(crate) fn answer() -> Result<Bytes, String> {
    luaseri::pack(&[Value::Integer(i64::from(OFFERED))])
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}

/// What an answer offers that this build also reads: nothing for an
/// error (a Lua node's "name not found") or anything else.
fn offered(answer: &[u8]) -> u32 {
    match luaseri::unpack(answer).as_deref() {
        Ok([Value::Integer(bits)]) => u32::try_from(*bits).unwrap_or(0) & OFFERED,
        _ => 0,
    }
}

impl Sender {
    /// Asks the node on connection `generation` what it offers, and
    /// records it for that connection. Calls do not wait for the answer:
    /// until it comes they go out as Skynet's would.
    pub(super) fn ask_extensions(self: &Arc<Self>, generation: u64) {
        if !self.options.extensions {
            return;
        }
        let sender = Arc::clone(self);
        tokio::spawn(async move {
            let query = match luaseri::pack(&[Value::String(QUERY.into())]) {
                Ok(query) => Bytes::from(query),
                Err(_) => return,
            };
            let deadline = Deadline::starting_now(sender.options.call_timeout);
            let answer =
                match sender.begin_internal(&Address::QUERY, Payload::Owned(query), deadline) {
                    Ok(call) => call.await,
                    Err(_) => return,
                };
            let bits = answer.map_or(0, |payload| offered(&payload));
            let mut st = sender.lock();
            if st.generation == generation {
                st.extensions = bits;
                tracing::debug!(node = %sender.node, extensions = bits, "extensions agreed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_offers_only_what_this_build_reads() {
        assert_eq!(offered(&answer().expect("packs")), OFFERED);
        let pack = |v: &[Value]| luaseri::pack(v).expect("packs");
        assert_eq!(offered(&pack(&[Value::Integer(0xff)])), OFFERED);
        assert_eq!(offered(&pack(&[Value::Integer(-1)])), 0);
        assert_eq!(offered(&pack(&[Value::String("x".into())])), 0);
        assert_eq!(offered(&[]), 0);
    }

    #[test]
    fn only_the_reserved_name_alone_is_the_query() {
        assert!(is_query(&[Value::String(QUERY.into())]));
        assert!(!is_query(&[Value::String("echo".into())]));
        assert!(!is_query(&[Value::String(QUERY.into()), Value::Integer(1)]));
    }
}
