//! A private service, unused: the generated items don't warn.
#![deny(warnings)]

#[skycluster::service]
trait Quiet {
    async fn hush(&self, level: u8) -> bool;
}

fn main() {}
