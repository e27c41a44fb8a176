//! The generated code names everything by absolute path: it compiles with
//! no prelude and the crate renamed.
#![no_implicit_prelude]
#![deny(warnings)]

extern crate skycluster as sc;

// Only for async-trait's own expansion (the user's `impl` below, and the
// trait's boxed futures), which names `Box` unqualified.
use ::std::boxed::Box;

#[sc::service(crate = "sc")]
pub trait Bincoded {
    async fn get(&self, key: ::std::string::String) -> ::core::option::Option<u32>;
    async fn put(&self, key: ::std::string::String, value: u32) -> ::core::result::Result<(), u8>;
    #[push]
    async fn touch(&self);
}

#[sc::service(crate = "sc", codec = lua, name = "lua_side")]
pub trait Lua {
    async fn echo(&self, text: ::std::vec::Vec<u8>) -> ::std::vec::Vec<u8>;
}

struct Impl;

#[sc::async_trait]
impl Lua for Impl {
    async fn echo(&self, text: ::std::vec::Vec<u8>) -> ::std::vec::Vec<u8> {
        text
    }
}

fn main() {
    let imp: ::std::sync::Arc<dyn Lua> = ::std::sync::Arc::new(Impl);
    let _ = ServeLua::new(imp);
    let _ = <dyn Bincoded as sc::Service>::NAME;
    let _ = <dyn Lua as sc::Service>::NAME;
}
