//! Gates the tests that run a real Lua Skynet node: with `SKYNET_HOME` set
//! (a built Skynet tree, see `lua/README.md`) they are compiled with
//! `cfg(skynet)` and run; without it each is ignored with the reason.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(skynet)");
    println!("cargo:rerun-if-env-changed=SKYNET_HOME");
    if std::env::var_os("SKYNET_HOME").is_some() {
        println!("cargo:rustc-cfg=skynet");
    }
}
