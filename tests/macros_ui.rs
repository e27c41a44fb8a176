//! What `#[service]` and `#[cluster_main]` accept, and the error each
//! mistake gets: trybuild cases under `ui/`, one mistake per file.
//!
//! The `.stderr` files are the expected compiler output on the pinned
//! toolchain; refresh them with `TRYBUILD=overwrite cargo test --test
//! macros_ui` and review the diff.

use std::io::Write;

#[test]
fn ui() {
    // The `cluster_main` pass cases run: give them a node on an ephemeral
    // port. Their `main` inherits this process's environment.
    let mut config = std::env::temp_dir();
    config.push(format!("skycluster-macros-ui-{}.lua", std::process::id()));
    let mut file = std::fs::File::create(&config).expect("temp config");
    writeln!(file, "ui = \"127.0.0.1:0\"").expect("write temp config");
    drop(file);
    std::env::set_var("SKYCLUSTER_NODE", "ui");
    std::env::set_var("SKYCLUSTER_CONFIG", &config);

    let t = trybuild::TestCases::new();
    t.pass("ui/service/pass/*.rs");
    t.compile_fail("ui/service/fail/*.rs");
    t.pass("ui/cluster_main/pass/*.rs");
    t.compile_fail("ui/cluster_main/fail/*.rs");
    drop(t);

    let _ = std::fs::remove_file(&config);
}
