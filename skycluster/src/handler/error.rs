//! Error frames: what a local service answers instead of a reply, and how
//! a caller reads the text of one back.
//!
//! The texts a skycluster node writes for its own failures (an unknown
//! method, arguments that do not decode, an address nobody holds, a
//! handler that panicked) are made
//! here, and recognised here, so that the two can never drift apart.

use bytes::Bytes;

use crate::wire::Address;
use crate::ErrorKind;

/// Why a local service did not produce a reply. The text goes back to the
/// caller in an error frame.
///
/// A raw [`Handler`](crate::Handler) returns it, and so does a `#[service]` method whose
/// return type is written `Result<T, HandlerError>`: its `Err` is answered
/// with an error frame, as Lua's `error("room is full")` is, instead of a
/// reply. A Rust caller gets `ErrorKind::Remote` with the text; a Lua
/// caller's `cluster.call` raises (Skynet's sender turns every error frame
/// into `call failed`, and logs the text).
///
/// # Examples
///
/// ```
/// use skycluster::HandlerError;
///
/// let e = HandlerError::new("room is full");
/// assert_eq!(e.to_string(), "room is full");
/// assert_eq!(HandlerError::from("room is full"), e);
/// ```
///
/// A method that fails like Lua's `error(...)`:
///
/// ```
/// use skycluster::{Cluster, Config, ErrorKind, HandlerError};
///
/// #[skycluster::service(codec = lua)]
/// pub trait Rooms {
///     /// Lua: `if n > 8 then error("room is full") end; return n`
///     async fn join(&self, n: u32) -> Result<u32, HandlerError>;
/// }
///
/// struct Lobby;
///
/// #[skycluster::async_trait]
/// impl Rooms for Lobby {
///     async fn join(&self, n: u32) -> Result<u32, HandlerError> {
///         if n > 8 {
///             return Err("room is full".into());
///         }
///         Ok(n)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = Cluster::new(Config::new());
/// cluster.set_name("battle1")?;
/// let lobby = cluster.spawn::<dyn Rooms>(Lobby);
/// cluster.name(".lobby", lobby)?;
///
/// // The client's method returns `Result<u32, CallError>`: the error
/// // frame is the call's error, of kind `ErrorKind::Remote`.
/// let rooms = cluster.proxy::<dyn Rooms>("battle1", ".lobby");
/// assert_eq!(rooms.join(3).await?, 3);
/// let err = rooms.join(9).await.unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::Remote { text } if &**text == "room is full"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct HandlerError {
    text: String,
}

impl HandlerError {
    /// Prefix of the error text for a method the service does not have, so
    /// that a skycluster client can tell it from other remote errors.
    pub const UNKNOWN_METHOD: &'static str = "unknown method ";

    /// An error whose text is `text`.
    pub fn new(text: impl Into<String>) -> HandlerError {
        HandlerError { text: text.into() }
    }

    /// The error for a method `service` does not have. The method is its
    /// name as the caller sent it, text or bytes (bytes that are not UTF-8
    /// are shown lossily).
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::HandlerError;
    ///
    /// let e = HandlerError::unknown_method("BattleMgr", "create");
    /// assert_eq!(e.text(), "unknown method `create` of service `BattleMgr`");
    /// let e = HandlerError::unknown_method("BattleMgr", b"cr\xffate");
    /// assert_eq!(e.text(), "unknown method `cr\u{fffd}ate` of service `BattleMgr`");
    /// ```
    pub fn unknown_method(service: &str, method: impl AsRef<[u8]>) -> HandlerError {
        let method = String::from_utf8_lossy(method.as_ref());
        HandlerError::new(format!(
            "{}`{method}` of service `{service}`",
            Self::UNKNOWN_METHOD
        ))
    }

    /// The text sent to the caller.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl From<String> for HandlerError {
    fn from(text: String) -> HandlerError {
        HandlerError::new(text)
    }
}

impl From<&str> for HandlerError {
    fn from(text: &str) -> HandlerError {
        HandlerError::new(text)
    }
}

/// How a dispatcher's error text starts when a method's arguments do not
/// decode; a typed client turns such a reply into [`ErrorKind::Codec`].
pub(crate) const BAD_ARGUMENTS: &str = "cannot decode the arguments of ";

/// The answer to a request whose caller's deadline passed while its
/// handler ran: the work was dropped. (The caller has stopped waiting, so
/// it reads this only if the hop back was faster than its own clock.)
pub(crate) const DEADLINE_PASSED: &str =
    "the caller's deadline passed before the handler finished; its work was dropped";

/// The error text for arguments of `method` of `service` that did not
/// decode: the two sides disagree about the method's types.
pub(crate) fn bad_arguments(
    service: &str,
    method: &str,
    e: impl std::fmt::Display,
) -> HandlerError {
    HandlerError::new(format!(
        "{BAD_ARGUMENTS}`{method}` of service `{service}`: {e}"
    ))
}

/// The error text for an address node `node` cannot resolve.
pub(crate) fn unresolved(node: &str, address: &Address, why: &str) -> String {
    match address {
        // Skynet's exact text, then the detail.
        Address::Name(name) if name.as_bytes().first() == Some(&b'@') => {
            format!("Invalid name `{name}` on node `{node}`: {why}")
        }
        _ => format!("invalid address `{address}` on node `{node}`: {why}"),
    }
}

/// The error text for a method of a `#[service]` that panicked: the
/// service and method, then the panic's message if it has one.
pub(crate) fn method_panicked(
    service: &str,
    method: &str,
    panic: &(dyn std::any::Any + Send),
) -> HandlerError {
    HandlerError::new(with_message(
        format!("method `{method}` of service `{service}` panicked"),
        panic,
    ))
}

/// The error text for a hand-written handler (or a closure) that panicked
/// serving `address` on node `node`: the runtime knows no method there.
pub(crate) fn service_panicked(
    address: &Address,
    node: &str,
    panic: &(dyn std::any::Any + Send),
) -> String {
    with_message(
        format!("service at `{address}` on node `{node}` panicked"),
        panic,
    )
}

/// `text`, then `: ` and the panic's message, if it has one.
fn with_message(mut text: String, panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = super::unwind::message(panic) {
        text.push_str(": ");
        text.push_str(message);
    }
    text
}

/// What the text of an error frame from a peer means to its caller. A
/// skycluster service marks an unknown method, so that a mismatched client
/// can be told from a failing call; any other text is the peer's own.
pub(crate) fn classify(text: Bytes) -> ErrorKind {
    let text = String::from_utf8_lossy(&text);
    if let Some(rest) = text.strip_prefix(HandlerError::UNKNOWN_METHOD) {
        let method = rest.split('`').nth(1).unwrap_or(rest);
        return ErrorKind::UnknownMethod {
            method: method.into(),
        };
    }
    ErrorKind::Remote { text: text.into() }
}

/// The text of a remote error saying that the callee could not decode the
/// arguments sent, if `kind` is one.
pub(crate) fn bad_arguments_text(kind: &ErrorKind) -> Option<&str> {
    match kind {
        ErrorKind::Remote { text } if text.starts_with(BAD_ARGUMENTS) => Some(text),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_method_text_is_recognised() {
        let text = HandlerError::unknown_method("BattleMgr", "create")
            .text()
            .to_owned();
        assert!(matches!(
            classify(Bytes::from(text)),
            ErrorKind::UnknownMethod { method } if &*method == "create"
        ));
        assert!(matches!(
            classify(Bytes::from_static(b"Invalid name")),
            ErrorKind::Remote { .. }
        ));
    }

    #[test]
    fn bad_arguments_text_is_recognised() {
        let e = bad_arguments("BattleMgr", "create", "expected u8");
        let kind = classify(Bytes::from(e.text().to_owned()));
        assert_eq!(
            bad_arguments_text(&kind),
            Some("cannot decode the arguments of `create` of service `BattleMgr`: expected u8")
        );
        let other = ErrorKind::Remote {
            text: "room is full".into(),
        };
        assert_eq!(bad_arguments_text(&other), None);
    }

    #[test]
    fn a_panic_is_named_with_its_message_if_it_has_one() {
        let panic: Box<dyn std::any::Any + Send> = Box::new("index out of bounds");
        let e = method_panicked("BattleMgr", "create_room", &*panic);
        assert_eq!(
            e.text(),
            "method `create_room` of service `BattleMgr` panicked: index out of bounds"
        );
        let panic: Box<dyn std::any::Any + Send> = Box::new(String::from("no room 7"));
        let name: Address = "@echo".parse().expect("a valid name");
        assert_eq!(
            service_panicked(&name, "battle1", &*panic),
            "service at `@echo` on node `battle1` panicked: no room 7"
        );
        // A payload that is not text: the panic, without a message.
        let panic: Box<dyn std::any::Any + Send> = Box::new(7u32);
        assert_eq!(
            service_panicked(&Address::Handle(9), "battle1", &*panic),
            "service at `:00000009` on node `battle1` panicked"
        );
        assert_eq!(
            method_panicked("BattleMgr", "create_room", &*panic).text(),
            "method `create_room` of service `BattleMgr` panicked"
        );
        // A caller sees the peer's own text.
        let kind = classify(Bytes::from(e.text().to_owned()));
        assert!(matches!(kind, ErrorKind::Remote { text } if text.contains("panicked")));
    }

    #[test]
    fn an_unresolved_registered_name_keeps_skynets_text_first() {
        let name: Address = "@mgr".parse().expect("a valid name");
        assert_eq!(
            unresolved("battle1", &name, "not registered"),
            "Invalid name `@mgr` on node `battle1`: not registered"
        );
        assert_eq!(
            unresolved("battle1", &Address::Handle(9), "no service has this handle"),
            "invalid address `:00000009` on node `battle1`: no service has this handle"
        );
    }
}
