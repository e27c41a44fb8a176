//! One `main` for every runner binary, and the child roles they start.
//!
//! A runner starts its children as its own binary with a role as the first
//! argument (`serve`, `client`, `mesh-node`, ...). Role names are unique
//! across runners and every runner binary knows all of them, so any one
//! binary can host any runner: `compare mesh --smoke` runs the same as
//! `mesh --smoke`. The test suite relies on that: it can reach only the
//! `compare` binary (built as `bench_compare` in `tests/`).

use std::process::ExitCode;

/// Which runner a binary runs when its first argument names none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    /// `--bin compare`: skycluster against tarpc and a raw-TCP ceiling.
    Compare,
    /// `--bin threads`: one server on a current-thread and a multi-thread
    /// runtime, from 1, 4 and 64 connections.
    Threads,
    /// `--bin mesh`: N node processes, each calling every other.
    Mesh,
    /// `--bin fanin`: 100 to 10,000 connections into one node.
    Fanin,
    /// `--bin soak`: node processes calling each other under chaos.
    Soak,
    /// `--bin membership`: how fast nodes fed by etcd see a node join, and
    /// a killed one go.
    Membership,
}

impl Runner {
    const ALL: [Runner; 6] = [
        Runner::Compare,
        Runner::Threads,
        Runner::Mesh,
        Runner::Fanin,
        Runner::Soak,
        Runner::Membership,
    ];

    /// The name of the binary, and of the first argument that picks it.
    pub fn name(self) -> &'static str {
        match self {
            Runner::Compare => "compare",
            Runner::Threads => "threads",
            Runner::Mesh => "mesh",
            Runner::Fanin => "fanin",
            Runner::Soak => "soak",
            Runner::Membership => "membership",
        }
    }

    fn run(self, args: &[String]) -> Result<(), String> {
        match self {
            Runner::Compare => crate::compare::run(args),
            Runner::Threads => crate::compare::run_threads(args),
            Runner::Mesh => crate::mesh::run(args),
            Runner::Fanin => crate::fanin::run(args),
            Runner::Soak => crate::soak::run(args),
            Runner::Membership => crate::membership::run(args),
        }
    }
}

/// A runner binary's `main`: a child role if the first argument names one,
/// else the runner it names, else `default`'s runner with every argument.
pub fn main(default: Runner) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let first = args.first().map(String::as_str);
    let rest = args.get(1..).unwrap_or_default();
    let (what, result) = match first {
        Some("serve") => ("serve", crate::compare::serve_role(rest)),
        Some("client") => ("client", crate::compare::client_role(rest)),
        Some("mesh-node") => ("mesh-node", crate::mesh::node_role(rest)),
        Some("fanin-serve") => ("fanin-serve", crate::fanin::serve_role(rest)),
        Some("fanin-client") => ("fanin-client", crate::fanin::client_role(rest)),
        Some("soak-node") => ("soak-node", crate::soak::node_role(rest)),
        Some("membership-node") => ("membership-node", crate::membership::node_role(rest)),
        _ => match Runner::ALL.into_iter().find(|r| Some(r.name()) == first) {
            Some(runner) => (runner.name(), runner.run(rest)),
            None => (default.name(), default.run(&args)),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{what}: {e}");
            ExitCode::FAILURE
        }
    }
}
