//! `codec = path` takes any `Codec`.
#![deny(warnings)]

use skycluster::codec::Bincode;

/// A codec that is bincode under another name.
pub type Mine = Bincode;

#[skycluster::service(codec = Mine)]
pub trait Custom {
    async fn go(&self) -> u8;
}

fn main() {}
