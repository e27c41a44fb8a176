//! Nodes as separate processes.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process running `test_node`, killed when dropped.
pub struct NodeProcess {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
}

impl NodeProcess {
    /// Starts `test_node` listening on `addr` and waits (bounded) for its
    /// `ready` line.
    pub fn start(addr: &str) -> NodeProcess {
        NodeProcess::start_with(addr, &[])
    }

    /// Starts `test_node` with extra flags (see its source).
    pub fn start_with(addr: &str, flags: &[&str]) -> NodeProcess {
        NodeProcess::spawn(Command::new(env!("CARGO_BIN_EXE_test_node")), addr, flags)
    }

    /// Starts `test_node` inside network namespace `netns` (`ip netns
    /// exec`, which execs it: the child is the node itself).
    #[allow(dead_code)]
    pub fn start_in(netns: &str, addr: &str, flags: &[&str]) -> NodeProcess {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", netns])
            .arg(env!("CARGO_BIN_EXE_test_node"));
        NodeProcess::spawn(command, addr, flags)
    }

    fn spawn(mut command: Command, addr: &str, flags: &[&str]) -> NodeProcess {
        let mut child = command
            .arg(addr)
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start test_node");
        let line = first_line(&mut child, "test_node");
        let addr = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("ready line has an address");
        NodeProcess { child, addr }
    }

    /// The process's resident memory in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS line")
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::yield_now();
        }
        panic!("test_node did not die within 20 s");
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first line `child` (its stdout piped) prints, waited for with a
/// bound of 20 s: a node's `ready ...`.
pub fn first_line(child: &mut Child, what: &str) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what} printed nothing within 20 s"))
}
