//! The targets this thread made endpoints for last, so that a proxy made
//! afresh for every call (`cluster.proxy::<dyn S>(node, addr).method()`,
//! the spelling the docs show) costs a lookup, not two allocations and a
//! sender lookup.
//!
//! Per thread, not per node: a shared map would put a lock, and a
//! reference count every thread touches, on every call. A handful of
//! slots, replaced in turn, covers the few targets a service calls again
//! and again; an endpoint for anything else is made as before.
//!
//! A slot holds its target (and so its node's state) until it is
//! replaced or the thread ends: memory only, nothing runs.

use std::cell::RefCell;
use std::sync::Arc;

use super::address::IntoAddress;
use super::Target;

/// Slots per thread.
const SLOTS: usize = 8;

struct Recent {
    slots: [Option<Arc<Target>>; SLOTS],
    /// The slot the next new target replaces.
    next: usize,
}

thread_local! {
    static RECENT: RefCell<Recent> = const {
        RefCell::new(Recent {
            slots: [const { None }; SLOTS],
            next: 0,
        })
    };
}

/// The target this thread made last for `address` on `node`, of the node
/// whose state is `state_id`.
pub(super) fn find(state_id: u64, node: &str, address: &impl IntoAddress) -> Option<Arc<Target>> {
    RECENT
        .try_with(|recent| {
            let recent = recent.try_borrow().ok()?;
            recent
                .slots
                .iter()
                .flatten()
                .find(|t| {
                    t.state.id == state_id
                        && &*t.node == node
                        && t.address.as_ref().is_ok_and(|a| address.is_address(a))
                })
                .cloned()
        })
        .ok()
        .flatten()
}

/// Keeps `target` for the next endpoint made for it on this thread.
pub(super) fn remember(target: &Arc<Target>) {
    let replaced = RECENT.try_with(|recent| {
        let mut recent = recent.try_borrow_mut().ok()?;
        let at = recent.next;
        recent.next = (at + 1) % SLOTS;
        recent.slots[at].replace(Arc::clone(target))
    });
    // Dropped here, outside the borrow: the last reference to a node's
    // state runs its services' destructors, which may make endpoints.
    drop(replaced);
}
