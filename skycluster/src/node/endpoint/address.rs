//! [`IntoAddress`]: what an endpoint or a proxy can be made for.

use crate::wire::{Address, Name};
use crate::Handle;

/// Something that names a service on a node: a handle, or a name spelled
/// the Skynet way (`"@registered"`, `".local"`, `":0000000a"`).
///
/// # Examples
///
/// ```
/// use skycluster::{Handle, IntoAddress};
/// use skycluster::wire::Address;
///
/// assert_eq!(Handle::from_raw(10).into_address(), Ok(Address::Handle(10)));
/// assert!("@battle".into_address().is_ok());
/// let err = "".into_address().unwrap_err();
/// assert_eq!(err.written(), "");
/// ```
pub trait IntoAddress {
    /// The address, or why it cannot be sent.
    ///
    /// # Errors
    ///
    /// A name of 0 or more than 255 bytes.
    fn into_address(self) -> Result<Address, AddressError>;

    /// Whether `into_address` would give `address`: lets a proxy made for
    /// the same address again reuse what the last one set up, without
    /// building the address anew. `false` is always correct, only slower.
    #[doc(hidden)]
    fn is_address(&self, address: &Address) -> bool {
        let _ = address;
        false
    }
}

/// An address that cannot be sent, with what the caller wrote.
///
/// # Examples
///
/// ```
/// use skycluster::IntoAddress;
///
/// let err = "".into_address().unwrap_err();
/// assert_eq!(err.to_string(), "name ``: name length is invalid, must be between 1 and 255 bytes, got 0");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("name `{written}`: {reason}")]
pub struct AddressError {
    written: String,
    reason: String,
}

impl AddressError {
    /// The address as the caller wrote it.
    pub fn written(&self) -> &str {
        &self.written
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl IntoAddress for Address {
    fn into_address(self) -> Result<Address, AddressError> {
        Ok(self)
    }

    fn is_address(&self, address: &Address) -> bool {
        self == address
    }
}

impl IntoAddress for Handle {
    fn into_address(self) -> Result<Address, AddressError> {
        Ok(Address::Handle(self.get()))
    }

    fn is_address(&self, address: &Address) -> bool {
        *address == Address::Handle(self.get())
    }
}

impl IntoAddress for u32 {
    fn into_address(self) -> Result<Address, AddressError> {
        Ok(Address::Handle(self))
    }

    fn is_address(&self, address: &Address) -> bool {
        *address == Address::Handle(*self)
    }
}

impl IntoAddress for Name {
    fn into_address(self) -> Result<Address, AddressError> {
        Ok(Address::Name(self))
    }

    fn is_address(&self, address: &Address) -> bool {
        matches!(address, Address::Name(name) if name == self)
    }
}

impl IntoAddress for &str {
    fn into_address(self) -> Result<Address, AddressError> {
        self.parse()
            .map_err(|e: crate::wire::FrameError| AddressError {
                written: self.to_owned(),
                reason: e.to_string(),
            })
    }

    /// A string is sent as written, so it is `address` if its bytes are
    /// `address`'s name.
    fn is_address(&self, address: &Address) -> bool {
        matches!(address, Address::Name(name) if name.as_bytes() == self.as_bytes())
    }
}

impl IntoAddress for String {
    fn into_address(self) -> Result<Address, AddressError> {
        self.as_str().into_address()
    }

    fn is_address(&self, address: &Address) -> bool {
        self.as_str().is_address(address)
    }
}

impl IntoAddress for &String {
    fn into_address(self) -> Result<Address, AddressError> {
        self.as_str().into_address()
    }

    fn is_address(&self, address: &Address) -> bool {
        self.as_str().is_address(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_address` must never say yes to an address `into_address` would
    /// not give: a proxy would then reach the wrong service.
    #[test]
    fn is_address_agrees_with_into_address() {
        let named: Address = "@mgr".parse().expect("a valid name");
        let texts = ["@mgr", ".mgr", ":0000000a", "mgr", "@mgr2"];
        for text in texts {
            let built = text.into_address().expect("valid");
            assert!(text.is_address(&built), "{text}");
            assert_eq!(text.is_address(&named), built == named, "{text}");
            assert_eq!(text.to_owned().is_address(&named), built == named);
        }
        // A hex name is a name on the wire, not a handle.
        assert!(!":0000000a".is_address(&Address::Handle(10)));
        assert!(10u32.is_address(&Address::Handle(10)));
        assert!(!10u32.is_address(&Address::Handle(11)));
        assert!(Handle::from_raw(10).is_address(&Address::Handle(10)));
        assert!(!"".is_address(&named));
    }
}
