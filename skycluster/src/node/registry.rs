//! The services a node hosts, by handle, local name and registered name.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::handler::Handler;
use crate::wire::Name;
use crate::{Error, Result};

/// A local service's number, what Skynet calls its address.
///
/// Remote nodes reach a service by its handle (`:0000000a`), by a local
/// name (`.battle_mgr`) or by a registered name (`@BattleMgr`).
///
/// # Examples
///
/// ```
/// use skycluster::Handle;
///
/// let h = Handle::from_raw(10);
/// assert_eq!(h.to_string(), ":0000000a");
/// assert_eq!(h.get(), 10);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(u32);

impl Handle {
    /// A handle from its number, e.g. one a name query returned.
    pub const fn from_raw(n: u32) -> Handle {
        Handle(n)
    }

    /// The handle's number, as sent on the wire.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ":{:08x}", self.0)
    }
}

/// Handles, local names and registered names of one node's services.
///
/// Read on every request, written rarely: plain read-write locks, held for
/// a map lookup and never across an await.
#[derive(Default)]
pub(crate) struct Registry {
    next: AtomicU32,
    /// Bumped by every change, so that agents can cache lookups.
    version: AtomicU64,
    services: RwLock<HashMap<u32, Arc<dyn Handler>>>,
    /// `.name` -> handle, keyed without the dot.
    local: RwLock<HashMap<Box<str>, Handle>>,
    /// `@name` -> handle, keyed without the `@`, as `cluster.register` does.
    registered: RwLock<HashMap<Box<str>, Handle>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("services", &read(&self.services).len())
            .finish_non_exhaustive()
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // A panic while holding the lock cannot leave these maps half-updated
    // (each write is one insert or remove), so poisoning is ignored.
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            // Handle 0 is the name-query address; services start at 1.
            next: AtomicU32::new(1),
            ..Registry::default()
        }
    }

    pub(crate) fn spawn(&self, handler: Arc<dyn Handler>) -> Handle {
        let handle = Handle(self.next.fetch_add(1, Ordering::Relaxed));
        write(&self.services).insert(handle.0, handler);
        self.bump();
        handle
    }

    pub(crate) fn get(&self, handle: u32) -> Option<Arc<dyn Handler>> {
        read(&self.services).get(&handle).cloned()
    }

    pub(crate) fn kill(&self, handle: Handle) -> bool {
        let removed = write(&self.services).remove(&handle.0).is_some();
        write(&self.local).retain(|_, h| *h != handle);
        write(&self.registered).retain(|_, h| *h != handle);
        self.bump();
        removed
    }

    /// Gives `handle` the local name `.name` (with or without the dot).
    /// Like `skynet.name`, a later call with the same name moves it.
    pub(crate) fn name(&self, name: &str, handle: Handle) -> Result<()> {
        let bare = name.strip_prefix('.').unwrap_or(name);
        check_name(name, bare, 1)?;
        self.require(handle)?;
        write(&self.local).insert(bare.into(), handle);
        self.bump();
        Ok(())
    }

    pub(crate) fn local(&self, bare: &str) -> Option<Handle> {
        read(&self.local).get(bare).copied()
    }

    /// `cluster.register(name, handle)`: registering a taken name is an
    /// error, not an overwrite.
    pub(crate) fn register(&self, name: &str, handle: Handle) -> Result<()> {
        let bare = name.strip_prefix('@').unwrap_or(name);
        check_name(name, bare, 1)?;
        self.require(handle)?;
        let mut registered = write(&self.registered);
        if let Some(&holder) = registered.get(bare) {
            return Err(Error::NameTaken {
                name: bare.to_owned(),
                handle: holder,
            });
        }
        registered.insert(bare.into(), handle);
        self.bump();
        Ok(())
    }

    pub(crate) fn unregister(&self, name: &str) -> Option<Handle> {
        let bare = name.strip_prefix('@').unwrap_or(name);
        let removed = write(&self.registered).remove(bare);
        self.bump();
        removed
    }

    fn bump(&self) {
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Changes so far; a lookup made at one version holds until it moves.
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Every registered name, without the `@`: what a membership source
    /// publishes.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))]
    pub(crate) fn registered_names(&self) -> Vec<String> {
        read(&self.registered)
            .keys()
            .map(|k| k.to_string())
            .collect()
    }

    pub(crate) fn registered(&self, bare: &str) -> Option<Handle> {
        read(&self.registered).get(bare).copied()
    }

    fn require(&self, handle: Handle) -> Result<()> {
        if read(&self.services).contains_key(&handle.0) {
            Ok(())
        } else {
            Err(Error::UnknownHandle { handle })
        }
    }
}

/// A name must fit the wire with its one-byte prefix.
fn check_name(name: &str, bare: &str, prefix: usize) -> Result<()> {
    let reason = if bare.is_empty() {
        "empty"
    } else if bare.len() + prefix > Name::MAX_LEN {
        "longer than 254 bytes"
    } else if bare.starts_with(['@', '.', ':']) {
        "starts with a second prefix"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::{HandlerError, Request};

    fn echo() -> Arc<dyn Handler> {
        Arc::new(|r: Request| async move { Ok::<_, HandlerError>(r.into_payload()) })
    }

    #[test]
    fn registering_a_taken_name_is_refused() {
        let reg = Registry::new();
        let a = reg.spawn(echo());
        let b = reg.spawn(echo());
        reg.register("@battle", a).unwrap();
        let err = reg.register("battle", b).unwrap_err();
        assert!(matches!(err, Error::NameTaken { handle, .. } if handle == a));
        assert_eq!(reg.unregister("battle"), Some(a));
        reg.register("battle", b).unwrap();
        assert_eq!(reg.registered("battle"), Some(b));
    }

    #[test]
    fn names_need_a_live_service_and_a_valid_spelling() {
        let reg = Registry::new();
        assert!(reg.name(".x", Handle::from_raw(99)).is_err());
        let a = reg.spawn(echo());
        assert!(reg.name(".", a).is_err());
        assert!(reg.register("@@x", a).is_err());
        reg.name(".mgr", a).unwrap();
        assert_eq!(reg.local("mgr"), Some(a));
        assert!(reg.kill(a));
        assert_eq!(reg.local("mgr"), None);
    }
}
