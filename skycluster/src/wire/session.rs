//! Session numbers: how a sender matches replies to the calls waiting for them.

use std::fmt;
use std::num::NonZeroU32;

/// A request session: a number in `1..=0x7FFF_FFFF`.
///
/// Skynet numbers a connection's requests from 1 and wraps from
/// `0x7FFF_FFFF` (`INT32_MAX`) back to 1. Session 0 means "no reply wanted"
/// and is written only by single-frame pushes, so it is not a `Session`:
/// a request that expects a reply cannot be built without a real one.
///
/// # Examples
///
/// ```
/// use skycluster::wire::Session;
///
/// let first = Session::FIRST;
/// assert_eq!(first.get(), 1);
/// assert_eq!(first.next().get(), 2);
/// assert_eq!(Session::new(0x7FFF_FFFF).unwrap().next(), Session::FIRST);
/// assert!(Session::new(0).is_none());
/// assert!(Session::new(0x8000_0000).is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Session(NonZeroU32);

impl Session {
    /// The first session a sender uses.
    pub const FIRST: Session = Session(NonZeroU32::MIN);

    /// The largest session; the one after it is [`Session::FIRST`].
    pub const MAX: u32 = 0x7FFF_FFFF;

    /// Returns the session numbered `n`, or `None` when `n` is 0 or above
    /// [`Session::MAX`] (Skynet rejects those with `Invalid request session`).
    pub const fn new(n: u32) -> Option<Session> {
        if n > Self::MAX {
            return None;
        }
        match NonZeroU32::new(n) {
            Some(n) => Some(Session(n)),
            None => None,
        }
    }

    /// The number written on the wire.
    pub const fn get(self) -> u32 {
        self.0.get()
    }

    /// The session that follows this one, wrapping after [`Session::MAX`].
    pub const fn next(self) -> Session {
        if self.0.get() == Self::MAX {
            Self::FIRST
        } else {
            // In range: at most MAX, and never 0.
            match Session::new(self.0.get() + 1) {
                Some(s) => s,
                None => Self::FIRST,
            }
        }
    }
}

impl fmt::Display for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_wrap_to_one_never_zero() {
        let last = Session::new(Session::MAX).unwrap();
        assert_eq!(last.next(), Session::FIRST);
        assert_eq!(Session::FIRST.next().get(), 2);
    }

    #[test]
    fn out_of_range_numbers_are_not_sessions() {
        assert_eq!(Session::new(0), None);
        assert_eq!(Session::new(0x8000_0000), None);
        assert_eq!(Session::new(u32::MAX), None);
    }
}
