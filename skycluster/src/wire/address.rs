//! Where a request goes: a numeric service handle or a name.

use std::fmt;

use bytes::Bytes;

use super::error::FrameError;

/// The destination of a request.
///
/// Skynet writes a number as a 4-byte handle and a string as a name,
/// exactly as the caller spelled it: `"@echo"` (a name registered with
/// `cluster.register`), `".echo"` (a node-local name) or `":0000000a"` (a
/// handle in hex). A numeric *string* such as `"10"` is a name, not handle 10.
/// Handle 0 is reserved for name queries (`cluster.query`).
///
/// # Examples
///
/// ```
/// use skycluster::wire::Address;
///
/// let by_handle = Address::from(10u32);
/// let by_name: Address = "@echo".parse().unwrap();
/// assert_eq!(by_handle.to_string(), ":0000000a");
/// assert_eq!(by_name.to_string(), "@echo");
/// assert!("".parse::<Address>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// A service handle on the remote node. `Handle(0)` is a name query.
    Handle(u32),
    /// A name, sent as written (`@registered`, `.local`, `:hex`).
    Name(Name),
}

impl Address {
    /// The address Skynet uses for name queries.
    pub const QUERY: Address = Address::Handle(0);

    /// Whether this is address 0, which asks for a registered name's handle.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::wire::Address;
    ///
    /// assert!(Address::QUERY.is_query());
    /// assert!(!Address::Handle(10).is_query());
    /// ```
    pub fn is_query(&self) -> bool {
        matches!(self, Address::Handle(0))
    }
}

impl From<u32> for Address {
    fn from(handle: u32) -> Self {
        Address::Handle(handle)
    }
}

impl From<Name> for Address {
    fn from(name: Name) -> Self {
        Address::Name(name)
    }
}

impl std::str::FromStr for Address {
    type Err = FrameError;

    /// Parses a name. Every string is a name, as in Skynet; use
    /// [`Address::Handle`] (or `From<u32>`) for numeric handles.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Name::new(Bytes::copy_from_slice(s.as_bytes())).map(Address::Name)
    }
}

impl TryFrom<&str> for Address {
    type Error = FrameError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Handle(h) => write!(f, ":{h:08x}"),
            Address::Name(n) => n.fmt(f),
        }
    }
}

/// A service name as it travels on the wire: 1 to 255 bytes.
///
/// # Examples
///
/// ```
/// use skycluster::wire::Name;
///
/// let name = Name::new("@battle").unwrap();
/// assert_eq!(name.as_bytes(), b"@battle");
/// assert!(Name::new("").is_err());
/// assert!(Name::new("n".repeat(256)).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name(Bytes);

impl Name {
    /// The longest name the wire can carry: its length is one byte.
    pub const MAX_LEN: usize = 255;

    /// Checks the length and wraps the bytes.
    ///
    /// # Errors
    ///
    /// [`FrameError::NameLength`] when `name` is empty or longer than 255 bytes.
    pub fn new(name: impl Into<Bytes>) -> Result<Name, FrameError> {
        let name = name.into();
        if name.is_empty() || name.len() > Self::MAX_LEN {
            return Err(FrameError::NameLength { len: name.len() });
        }
        Ok(Name(name))
    }

    /// Makes a name from a `'static` string, checking it at compile time
    /// when used in a `const`.
    ///
    /// # Panics
    ///
    /// When `name` is empty or longer than 255 bytes.
    pub const fn from_static(name: &'static str) -> Name {
        assert!(
            !name.is_empty() && name.len() <= Self::MAX_LEN,
            "a name is 1 to 255 bytes"
        );
        Name(Bytes::from_static(name.as_bytes()))
    }

    /// The name's bytes, as sent.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The name's bytes as a shared buffer.
    pub fn to_bytes(&self) -> Bytes {
        self.0.clone()
    }
}

impl TryFrom<&str> for Name {
    type Error = FrameError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Name::new(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl TryFrom<String> for Name {
    type Error = FrameError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Name::new(s)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({:?})", String::from_utf8_lossy(&self.0))
    }
}
