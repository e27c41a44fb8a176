//! The error type shared by lua-seri encoding, decoding, serde and the literal parser.

use std::fmt;

/// A `Result` whose error defaults to the lua-seri [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while packing, unpacking, (de)serializing or parsing
/// lua-seri values: an [`ErrorKind`] behind one pointer.
///
/// Every decode error names the byte offset (from the start of the buffer
/// handed to the decoder) where the problem was found; [`Error::offset`]
/// returns it and [`Error::kind`] tells the cases apart.
///
/// The kind is boxed so that a `Result<T, Error>` fits in two registers:
/// with the 48-byte enum inline, the result of every field of a typed
/// decode went through the stack.
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::{unpack, ErrorKind};
///
/// // A type-7 tag: Skynet rejects it, and so do we.
/// let err = unpack(&[0x0a, 0x01, 0x07]).unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::InvalidTag { offset: 2, tag: 0x07 }));
/// assert_eq!(err.offset(), Some(2));
/// ```
#[derive(Clone, PartialEq, thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<ErrorKind>);

/// The cases of [`Error`].
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::{to_vec, Error, ErrorKind};
///
/// let err = to_vec(&u64::MAX).unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::IntegerOutOfRange(_)));
/// // A kind converts into an error, for comparisons and custom drivers.
/// assert_eq!(err, Error::from(err.kind().clone()));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended inside a value (Skynet: `Invalid serialize stream`).
    #[error(
        "unexpected end of input at byte {offset}: {what} needs {needed} byte(s), {available} left"
    )]
    Truncated {
        /// Where the missing bytes should have started.
        offset: usize,
        /// What was being read.
        what: &'static str,
        /// How many bytes that read needed.
        needed: u64,
        /// How many bytes were left.
        available: usize,
    },
    /// A tag byte of type 7, which lua-seri never uses.
    #[error("invalid tag 0x{tag:02x} at byte {offset}: type 7 is not a lua-seri type")]
    InvalidTag {
        /// Offset of the tag byte.
        offset: usize,
        /// The tag byte.
        tag: u8,
    },
    /// A number tag whose cookie is not 0, 1, 2, 4, 6 or 8.
    #[error("invalid number cookie {cookie} at byte {offset}")]
    InvalidNumberCookie {
        /// Offset of the tag byte.
        offset: usize,
        /// The cookie (tag >> 3).
        cookie: u8,
    },
    /// A long-string tag whose cookie is not 2 or 4.
    #[error("invalid long string cookie {cookie} at byte {offset}: expected 2 or 4")]
    InvalidStringCookie {
        /// Offset of the tag byte.
        offset: usize,
        /// The cookie (tag >> 3).
        cookie: u8,
    },
    /// A table with cookie 31 whose count is not an integer number value.
    #[error("table array count at byte {offset} is not an integer (tag 0x{tag:02x})")]
    InvalidTableCount {
        /// Offset of the count's tag byte.
        offset: usize,
        /// The count's tag byte.
        tag: u8,
    },
    /// A table whose array count is negative.
    #[error("table array count {count} at byte {offset} is negative")]
    NegativeTableCount {
        /// Offset of the count's tag byte.
        offset: usize,
        /// The count as decoded.
        count: i64,
    },
    /// A table key that is NaN (Skynet: `table index is NaN`).
    #[error("table key at byte {offset} is NaN")]
    NanKey {
        /// Offset of the key's tag byte.
        offset: usize,
    },
    /// Tables nested deeper than [`MAX_UNPACK_DEPTH`](super::MAX_UNPACK_DEPTH).
    #[error("table at byte {offset} is nested deeper than {limit} levels")]
    TooDeepToUnpack {
        /// Offset of the table's tag byte.
        offset: usize,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// Tables nested deeper than [`MAX_PACK_DEPTH`](super::MAX_PACK_DEPTH)
    /// (Skynet: `serialize can't pack too depth table`).
    #[error("can't pack a value nested deeper than {limit} tables")]
    TooDeepToPack {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A table key that can't be packed: nil (it would end the table) or NaN.
    #[error("can't pack table key: {0}")]
    InvalidKey(&'static str),
    /// A string longer than the u32 length field can hold.
    #[error("string of {len} bytes is longer than lua-seri's limit of 4294967295")]
    StringTooLong {
        /// The string's length.
        len: usize,
    },
    /// An integer outside Lua's `i64` range (a `u64` above `i64::MAX`, an `i128`).
    #[error("integer {0} does not fit in a lua integer (i64)")]
    IntegerOutOfRange(Box<str>),
    /// Bytes left over after the single value `from_slice` expects.
    #[error("trailing bytes at byte {offset} after the value")]
    TrailingBytes {
        /// Offset of the first byte not consumed.
        offset: usize,
    },
    /// A [`Value`](super::Value) conversion found another type.
    #[error("expected {expected}, found {found}")]
    TypeMismatch {
        /// The type that was asked for.
        expected: &'static str,
        /// The Lua type that was found.
        found: &'static str,
    },
    /// A Lua literal that could not be parsed.
    #[error("invalid lua literal at line {line}, column {column} (byte {offset}): {message}")]
    Syntax {
        /// What was wrong.
        message: Box<str>,
        /// Byte offset in the text.
        offset: usize,
        /// 1-based line.
        line: usize,
        /// 1-based column, counted in bytes.
        column: usize,
    },
    /// A serde error: a type mismatch, a missing field, or a custom message
    /// from a `Serialize`/`Deserialize` impl.
    #[error("{message}{}", AtOffset(*offset))]
    Message {
        /// The message.
        message: Box<str>,
        /// Where decoding was when it happened, if decoding.
        offset: Option<usize>,
    },
}

impl Error {
    /// What went wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::{from_slice, ErrorKind};
    ///
    /// let err = from_slice::<bool>(&[0x09, 0x01]).unwrap_err();
    /// assert_eq!(*err.kind(), ErrorKind::TrailingBytes { offset: 1 });
    /// ```
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// The kind, unboxed.
    pub fn into_kind(self) -> ErrorKind {
        *self.0
    }

    /// The byte offset this error points at, for decode and parse errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::unpack;
    ///
    /// // A 3-byte short string with only one byte present.
    /// let err = unpack(&[0x1c, 0x61]).unwrap_err();
    /// assert_eq!(err.offset(), Some(1));
    /// ```
    pub fn offset(&self) -> Option<usize> {
        self.0.offset()
    }

    /// Gives a serde message error the offset where decoding was, unless it
    /// already has one.
    #[cold]
    #[inline(never)]
    pub(crate) fn at(mut self, at: usize) -> Self {
        if let ErrorKind::Message { offset, .. } = &mut *self.0 {
            if offset.is_none() {
                *offset = Some(at);
            }
        }
        self
    }

    #[cold]
    pub(crate) fn out_of_range(value: impl fmt::Display) -> Self {
        ErrorKind::IntegerOutOfRange(value.to_string().into_boxed_str()).into()
    }

    #[cold]
    pub(crate) fn truncated(
        offset: usize,
        what: &'static str,
        needed: u64,
        available: usize,
    ) -> Self {
        ErrorKind::Truncated {
            offset,
            what,
            needed,
            available,
        }
        .into()
    }
}

impl ErrorKind {
    /// The byte offset this error points at, for decode and parse errors.
    pub fn offset(&self) -> Option<usize> {
        match *self {
            ErrorKind::Truncated { offset, .. }
            | ErrorKind::InvalidTag { offset, .. }
            | ErrorKind::InvalidNumberCookie { offset, .. }
            | ErrorKind::InvalidStringCookie { offset, .. }
            | ErrorKind::InvalidTableCount { offset, .. }
            | ErrorKind::NegativeTableCount { offset, .. }
            | ErrorKind::NanKey { offset }
            | ErrorKind::TooDeepToUnpack { offset, .. }
            | ErrorKind::TrailingBytes { offset }
            | ErrorKind::Syntax { offset, .. } => Some(offset),
            ErrorKind::Message { offset, .. } => offset,
            ErrorKind::TooDeepToPack { .. }
            | ErrorKind::InvalidKey(_)
            | ErrorKind::StringTooLong { .. }
            | ErrorKind::IntegerOutOfRange(_)
            | ErrorKind::TypeMismatch { .. } => None,
        }
    }
}

impl From<ErrorKind> for Error {
    #[cold]
    fn from(kind: ErrorKind) -> Self {
        Error(Box::new(kind))
    }
}

/// Shows the kind, as if the box were not there.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Formats `" at byte N"` when there is an offset.
struct AtOffset(Option<usize>);

impl fmt::Display for AtOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(offset) => write!(f, " at byte {offset}"),
            None => Ok(()),
        }
    }
}

impl serde::ser::Error for Error {
    #[cold]
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ErrorKind::Message {
            message: msg.to_string().into_boxed_str(),
            offset: None,
        }
        .into()
    }
}

impl serde::de::Error for Error {
    #[cold]
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ErrorKind::Message {
            message: msg.to_string().into_boxed_str(),
            offset: None,
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_name_the_offset() {
        let err = Error::truncated(3, "dword", 4, 3);
        assert_eq!(
            err.to_string(),
            "unexpected end of input at byte 3: dword needs 4 byte(s), 3 left"
        );
        let err = <Error as serde::de::Error>::custom("missing field `x`").at(7);
        assert_eq!(err.to_string(), "missing field `x` at byte 7");
        assert_eq!(err.offset(), Some(7));
        // An offset already set is kept.
        assert_eq!(err.at(9).offset(), Some(7));
    }

    #[test]
    fn results_fit_in_registers() {
        // Decode results pass through every level of a table and every
        // field; two words are returned in registers, more through memory.
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
        assert!(std::mem::size_of::<Result<u64>>() <= 2 * std::mem::size_of::<usize>());
    }
}
