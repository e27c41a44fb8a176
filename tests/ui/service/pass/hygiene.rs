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
    async fn route(&self, cmd: u8, rest: sc::codec::luaseri::Values) -> sc::codec::luaseri::Values;
    async fn raise(&self) -> ::core::result::Result<u8, sc::HandlerError>;
}

struct Impl;

#[sc::async_trait]
impl Lua for Impl {
    async fn echo(&self, text: ::std::vec::Vec<u8>) -> ::std::vec::Vec<u8> {
        text
    }

    async fn route(&self, _: u8, rest: sc::codec::luaseri::Values) -> sc::codec::luaseri::Values {
        rest
    }

    async fn raise(&self) -> ::core::result::Result<u8, sc::HandlerError> {
        ::core::result::Result::Err(sc::HandlerError::new("raised"))
    }
}

fn main() {
    let imp: ::std::sync::Arc<dyn Lua> = ::std::sync::Arc::new(Impl);
    let _ = ServeLua::new(imp);
    let cluster = sc::Cluster::new(sc::Config::new());
    let _ = cluster.spawn::<dyn Lua>(Impl);
    let _ = cluster.spawn::<dyn Lua>(::std::sync::Arc::new(Impl));
    let _ = <dyn Bincoded as sc::Service>::NAME;
    let _ = <dyn Lua as sc::Service>::NAME;
}
