//! Benchmarks of skycluster against what a user would pick instead.
//!
//! # Layout
//!
//! * [`compare`]: the comparison runner behind `--bin compare`. It starts
//!   a server and a client process per system (skycluster, tarpc and a
//!   raw-TCP ceiling), runs each workload, and prints one table with the
//!   ratios the targets are stated in.
//!   The same module holds the runner behind `--bin threads`: the server
//!   on a multi-thread runtime, the client over several connections.
//! * `mesh/`: the runner behind `--bin mesh`: N node processes, each
//!   calling every other; `calls.rs`, the calling tasks and measured
//!   window of its nodes (and of `fanin`'s clients); `tally.rs`, what each
//!   of those processes reports; `task.rs`, what one calling task saw (here
//!   and in `compare`'s client); `fields.rs`, the `key=value` report lines.
//! * `fanin/`: the runner behind `--bin fanin`: 100 to 10,000 connections
//!   into one node, and `max_clients` at its edge.
//! * `soak/`: the runner behind `--bin soak`: node processes calling each
//!   other while a chaos loop kills, restarts and disables them.
//! * `membership/`: the runner behind `--bin membership`: how fast nodes
//!   fed by etcd see a node join, and a killed one go.
//! * [`main`]: the one `main` of every runner binary, which also runs the
//!   runners' child processes (the binary itself, with a role argument).
//! * `runs.rs`: what every runner's `main` does around its runs
//!   (`--help`, its settings, the failures at the end); `windows.rs`, the
//!   warm-up, measured and idle windows of `mesh` and `fanin`.
//! * [`procfs`]: CPU time and resident memory of a process, from `/proc`.
//! * `bin/allocs.rs`: heap allocations per call on each side, counted
//!   per thread by a counting global allocator.
//! * `bin/idle_rss.rs`: the resident memory of nodes holding 1,000 idle
//!   connections.
//! * `wire.rs` (criterion): frame and codec encode/decode of small
//!   messages. `luaseri.rs` (criterion): lua-seri against bincode.

mod calls;
mod child;
pub mod compare;
mod entry;
mod fanin;
mod fields;
mod membership;
mod mesh;
pub mod procfs;
mod report;
mod runs;
mod soak;
mod tally;
mod task;
mod windows;

pub use entry::{main, Runner};
