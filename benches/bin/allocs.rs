//! Heap allocations per call on the steady path, client and server apart.
//!
//! Server and client run in this one process on two threads, each with its
//! own tokio current-thread runtime, over one loopback connection. The
//! global allocator counts allocations per thread (`allocation-counter`),
//! so each side's count is its own. After a warm-up, both threads count
//! over the same stretch of calls; the count divided by the calls
//! completed in it is the figure. A reallocation counts as an allocation.
//!
//! `cargo run --release -p benches --bin allocs [-- --systems skycluster,tarpc,ceiling]
//! [--workloads w1c1,w1c32,w2,w3]`

use std::process::ExitCode;

use benches::compare::{counting, Flags, System, Workload};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags = Flags::new(&args);
    // By default every workload but W1 at C=256.
    let defaults = [
        Workload::Echo { conc: 1, size: 16 },
        Workload::Echo { conc: 32, size: 16 },
        Workload::Echo {
            conc: 4,
            size: 256 << 10,
        },
        Workload::Push { size: 16 },
    ];
    let parsed = flags
        .list("--systems", &System::ALL)
        .and_then(|systems| Ok((systems, flags.list("--workloads", &defaults)?)));
    let (systems, workloads) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return fail(&e),
    };
    println!("| workload | system | client allocs/call | server allocs/call | client bytes/call | server bytes/call | calls counted |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for workload in workloads {
        for &system in &systems {
            match counting::count(system, workload, measure) {
                Ok(c) => println!(
                    "| {} | {system} | {:.2} | {:.2} | {:.0} | {:.0} | {} |",
                    workload.label(),
                    c.client.count_total as f64 / c.calls as f64,
                    c.server.count_total as f64 / c.served as f64,
                    c.client.bytes_total as f64 / c.calls as f64,
                    c.server.bytes_total as f64 / c.served as f64,
                    c.calls,
                ),
                Err(e) => return fail(&format!("{} {system}: {e}", workload.name())),
            }
        }
    }
    println!(
        "\nPer call completed after a warm-up (W3: per push queued on the client side, per \
         message counted on the server side), payload buffers included."
    );
    ExitCode::SUCCESS
}

/// Runs `f` and returns what it allocated on this thread.
fn measure(f: &mut dyn FnMut()) -> counting::Allocs {
    let info = allocation_counter::measure(f);
    counting::Allocs {
        count_total: info.count_total,
        bytes_total: info.bytes_total,
    }
}

fn fail(e: &str) -> ExitCode {
    eprintln!("allocs: {e}");
    ExitCode::FAILURE
}
