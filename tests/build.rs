//! Gates the tests that run a real Lua Skynet node: with `SKYNET_HOME` set
//! (a built Skynet tree, see `lua/README.md`) they are compiled with
//! `cfg(skynet)` and run; without it each is ignored with the reason. The
//! same for the tests that build network namespaces (`cfg(netns)`, with
//! `SKYCLUSTER_NETNS=1`) and the etcd tests (`cfg(etcd)`, with
//! `SKYCLUSTER_ETCD`, an etcd client URL).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(skynet)");
    println!("cargo:rerun-if-env-changed=SKYNET_HOME");
    if std::env::var_os("SKYNET_HOME").is_some() {
        println!("cargo:rustc-cfg=skynet");
    }
    // The kernel-fault tests make network namespaces: root and iproute2.
    // `.ci/run` sets SKYCLUSTER_NETNS=1 after checking both.
    println!("cargo::rustc-check-cfg=cfg(netns)");
    println!("cargo:rerun-if-env-changed=SKYCLUSTER_NETNS");
    if std::env::var_os("SKYCLUSTER_NETNS").is_some_and(|v| v == "1") {
        println!("cargo:rustc-cfg=netns");
    }
    // The etcd membership tests likewise need a running etcd, whose
    // client URL `SKYCLUSTER_ETCD` gives (.ci/run starts one).
    println!("cargo::rustc-check-cfg=cfg(etcd)");
    println!("cargo:rerun-if-env-changed=SKYCLUSTER_ETCD");
    if std::env::var_os("SKYCLUSTER_ETCD").is_some() {
        println!("cargo:rustc-cfg=etcd");
    }
}
