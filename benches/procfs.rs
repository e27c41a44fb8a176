//! CPU time and resident memory of a process, read from `/proc`.
//!
//! CPU time comes from each thread's `schedstat` (nanoseconds on a CPU),
//! falling back to `stat`'s `utime + stime` (clock ticks) where the kernel
//! has no schedstat. Both count user and system time, so a system that
//! makes more syscalls per call pays for them here.

use std::io;
use std::time::Duration;

/// Clock ticks per second of `/proc/<pid>/stat`: `USER_HZ`, 100 on Linux.
const TICKS_PER_SEC: u64 = 100;

/// CPU time `pid` has used so far, all its threads together.
///
/// # Errors
///
/// When `/proc/<pid>` cannot be read (the process is gone).
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    let mut total = 0u64;
    let mut threads = 0usize;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        // A thread may end between the listing and the read; it then
        // takes its time with it, which a bench's steady threads never do.
        let Ok(text) = std::fs::read_to_string(entry?.path().join("schedstat")) else {
            continue;
        };
        if let Some(ns) = text
            .split_whitespace()
            .next()
            .and_then(|f| f.parse::<u64>().ok())
        {
            total += ns;
            threads += 1;
        }
    }
    if threads > 0 {
        return Ok(Duration::from_nanos(total));
    }
    stat_cpu_time(pid)
}

/// `utime + stime` from `/proc/<pid>/stat`, 10 ms resolution.
fn stat_cpu_time(pid: u32) -> io::Result<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses; fields resume
    // after the last `)`. utime and stime are fields 14 and 15.
    let rest = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => Ok(Duration::from_millis(
            (user + system) * 1000 / TICKS_PER_SEC,
        )),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected /proc/{pid}/stat: {text}"),
        )),
    }
}

/// Resident memory of this process, in KiB (`VmRSS` of `/proc/self/status`).
///
/// # Errors
///
/// When the file cannot be read or has no `VmRSS` line.
pub fn rss_kib() -> io::Result<u64> {
    vm_rss("/proc/self/status")
}

/// Resident memory of process `pid`, in KiB (`VmRSS` of
/// `/proc/<pid>/status`).
///
/// # Errors
///
/// When the file cannot be read (the process is gone) or has no `VmRSS`
/// line (it is a zombie).
pub fn rss_kib_of(pid: u32) -> io::Result<u64> {
    vm_rss(&format!("/proc/{pid}/status"))
}

fn vm_rss(path: &str) -> io::Result<u64> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("no VmRSS in {path}")))
}

/// The 1-minute load average, from `/proc/loadavg`.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The CPU model, from `/proc/cpuinfo`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let mut x = 0u64;
        for i in 0..1_000_000u64 {
            x = x.wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        assert!(cpu_time(std::process::id()).expect("own /proc") > Duration::ZERO);
        assert!(rss_kib().expect("own status") > 0);
        assert!(rss_kib_of(std::process::id()).expect("own status by pid") > 0);
    }
}
