//! Gates the tests that run a real Lua Skynet node: with `SKYNET_HOME` set
//! (a built Skynet tree, see `lua/README.md`) they are compiled with
//! `cfg(skynet)` and run; without it each is ignored with the reason.
//! `SKYCLUSTER_ETCD` (an etcd client URL) gates the etcd tests the same
//! way, with `cfg(etcd)`.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(skynet)");
    println!("cargo:rerun-if-env-changed=SKYNET_HOME");
    if std::env::var_os("SKYNET_HOME").is_some() {
        println!("cargo:rustc-cfg=skynet");
    }
    // The etcd membership tests likewise need a running etcd, whose
    // client URL `SKYCLUSTER_ETCD` gives (.ci/run starts one).
    println!("cargo::rustc-check-cfg=cfg(etcd)");
    println!("cargo:rerun-if-env-changed=SKYCLUSTER_ETCD");
    if std::env::var_os("SKYCLUSTER_ETCD").is_some() {
        println!("cargo:rustc-cfg=etcd");
    }
}
