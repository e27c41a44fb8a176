//! What can be wrong with a frame: [`FrameError`] for one body that cannot
//! be parsed or a value that cannot be framed, [`ReassemblyError`] for the
//! pieces of a multi-part message that cannot be joined.

/// Why a frame body could not be parsed, or a value could not be framed.
///
/// This is the hot-path error: small, `Copy`, never allocated. Each variant
/// says what was wrong with the bytes; the runtime adds the node and the
/// connection when it logs or answers one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A request body of zero bytes.
    #[error("empty request body")]
    Empty,
    /// The type byte is not one the protocol defines.
    #[error("unknown frame type {kind:#04x}")]
    UnknownType {
        /// The type byte that was read.
        kind: u8,
    },
    /// The body is shorter (or, for fixed-size frames, longer) than its
    /// type requires.
    #[error("frame type {kind:#04x} needs {expected} bytes, body has {actual}")]
    BadLength {
        /// The type byte.
        kind: u8,
        /// The length the type requires (the minimum, for variable-size frames).
        expected: usize,
        /// The body's length.
        actual: usize,
    },
    /// A body too short to hold even the bytes that say its type: a reply
    /// body under 5 bytes, whose type byte comes after the session.
    #[error("body is too short: {actual} bytes, at least {minimum}")]
    TooShort {
        /// The fewest bytes any body in this direction has.
        minimum: usize,
        /// The body's length.
        actual: usize,
    },
    /// A name of zero bytes, or longer than 255.
    #[error("name length is invalid, must be between 1 and 255 bytes, got {len}")]
    NameLength {
        /// The length given.
        len: usize,
    },
    /// A payload of 4 GiB or more: multi-part headers carry 32-bit sizes.
    #[error("payload of {len} bytes is too large for the wire, at most 4294967295")]
    TooLarge {
        /// The payload's length.
        len: usize,
    },
    /// A trace tag longer than 0x8000 bytes.
    #[error("trace tag is too long: {len} bytes, at most 32768")]
    TraceTooLong {
        /// The tag's length.
        len: usize,
    },
}

/// Why a multi-part message could not be put back together.
///
/// The agent answers these with Skynet's `Invalid large req` error text,
/// followed by the reason, so a Lua peer sees the text it knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReassemblyError {
    /// A piece arrived for a session with no multi-part header before it.
    #[error("piece for session {session} without a header")]
    NoHeader {
        /// The piece's session.
        session: u32,
    },
    /// The pieces add up to more, or (at the last piece) less, than the
    /// header announced.
    #[error("session {session}: header announced {announced} bytes, pieces bring {received}")]
    SizeMismatch {
        /// The message's session.
        session: u32,
        /// The total size the header claimed.
        announced: usize,
        /// The bytes received so far.
        received: usize,
    },
    /// The header announced a message larger than the configured limit.
    #[error("session {session}: message of {announced} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The message's session.
        session: u32,
        /// The total size the header claimed.
        announced: usize,
        /// [`Limits::max_message`](super::Limits::max_message).
        limit: usize,
    },
    /// Too many multi-part messages are incomplete on this connection.
    #[error("session {session}: {limit} multi-part messages already pending on this connection")]
    TooManyPending {
        /// The refused message's session.
        session: u32,
        /// [`Limits::max_pending`](super::Limits::max_pending).
        limit: usize,
    },
    /// Buffered multi-part bytes on this connection would exceed the limit.
    #[error("session {session}: {limit} bytes of multi-part messages already buffered on this connection")]
    BufferFull {
        /// The refused message's session.
        session: u32,
        /// [`Limits::max_buffered`](super::Limits::max_buffered).
        limit: usize,
    },
}

impl ReassemblyError {
    /// The session of the message that failed.
    pub fn session(&self) -> u32 {
        match *self {
            ReassemblyError::NoHeader { session }
            | ReassemblyError::SizeMismatch { session, .. }
            | ReassemblyError::TooLarge { session, .. }
            | ReassemblyError::TooManyPending { session, .. }
            | ReassemblyError::BufferFull { session, .. } => session,
        }
    }
}
