//! Child processes of the runners: started with piped stdin and stdout,
//! read line by line with a bound on every wait, and killed when dropped,
//! so that neither an error nor a panic in a runner leaves one behind.
//!
//! Every runner's children are the runner's own binary with a role as
//! the first argument (see [`crate::entry`]); each child exits when its
//! stdin closes, so a runner that is itself killed leaves nothing running
//! for long either.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::procfs;

/// How long a child may take to exit once told to.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a scale runner's child (a `mesh` node, a `fanin` server or
/// client) may take to start.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a scale runner's child may take to answer a command.
pub(crate) const REPLY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a scale runner's child may take to end its calls and report.
pub(crate) const RESULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A child process whose stdout lines arrive on a channel, so every wait
/// for one can be bounded. Killed if dropped while running.
#[derive(Debug)]
pub(crate) struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    what: String,
}

impl Proc {
    /// Starts `exe` with `args`, on the CPUs `cores` lists (`taskset -c`)
    /// if given. Its stderr goes to ours.
    pub(crate) fn spawn(
        exe: &Path,
        cores: Option<&str>,
        args: &[String],
        what: String,
    ) -> Result<Proc, String> {
        let mut cmd = match cores {
            Some(cores) => {
                let mut cmd = Command::new("taskset");
                cmd.arg("-c").arg(cores).arg(exe);
                cmd
            }
            None => Command::new(exe),
        };
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| format!("{what} has no stdout"))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Proc {
            child,
            stdin,
            lines,
            what,
        })
    }

    /// The child's process id (`taskset` execs the program, so it is the
    /// program's).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a line starting with `prefix`; returns the rest of it.
    pub(crate) fn expect(&mut self, prefix: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return Ok(rest.trim().to_owned());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!("{}: no `{prefix}` within {timeout:?}", self.what))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("{}: exited before `{prefix}`", self.what))
                }
            }
        }
    }

    /// The child's next line, whatever it says.
    pub(crate) fn next_line(&mut self, timeout: Duration) -> Result<String, String> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Ok(line),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(format!("{}: said nothing within {timeout:?}", self.what))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(format!("{}: exited", self.what)),
        }
    }

    /// The child's next line, which must start with `prefix`; returns the
    /// rest of it. A line starting `error` is the child's error.
    pub(crate) fn reply(&mut self, prefix: &str, timeout: Duration) -> Result<String, String> {
        let line = self.next_line(timeout)?;
        if let Some(rest) = line.strip_prefix(prefix) {
            return Ok(rest.trim().to_owned());
        }
        Err(format!("{}: `{line}` (waiting for `{prefix}`)", self.what))
    }

    /// Sends one line to the child's stdin.
    pub(crate) fn tell(&mut self, line: &str) -> Result<(), String> {
        use std::io::Write;
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("{}: stdin closed", self.what))?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("{}: {e}", self.what))
    }

    /// The child's CPU time so far, all its threads.
    pub(crate) fn cpu(&self) -> Result<Duration, String> {
        procfs::cpu_time(self.pid()).map_err(|e| format!("{} CPU time: {e}", self.what))
    }

    /// The child's resident memory, in KiB.
    pub(crate) fn rss_kib(&self) -> Result<u64, String> {
        procfs::rss_kib_of(self.pid()).map_err(|e| format!("{} VmRSS: {e}", self.what))
    }

    /// Closes stdin and waits for the exit; kills after [`EXIT_TIMEOUT`].
    pub(crate) fn finish(mut self) -> Result<(), String> {
        self.stdin = None;
        let deadline = Instant::now() + EXIT_TIMEOUT;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => return Err(format!("{} exited with {status}", self.what)),
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(format!("{}: {e}", self.what)),
            }
        }
        Err(format!(
            "{} did not exit within {EXIT_TIMEOUT:?}",
            self.what
        ))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether `taskset` can pin a process here.
pub(crate) fn taskset_works() -> bool {
    Command::new("taskset")
        .args(["-c", "0", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Raises this process's soft limit on open files to its hard limit (a
/// child inherits it), through `setrlimit` (rustix). Returns the soft
/// limit before and after.
pub(crate) fn raise_file_limit() -> Result<(u64, u64), String> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let before = limit.current.unwrap_or(u64::MAX);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    setrlimit(Resource::Nofile, raised)
        .map_err(|e| format!("cannot raise RLIMIT_NOFILE from {before}: {e}"))?;
    let after = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    Ok((before, after))
}

/// `args` as owned strings.
pub(crate) fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|&a| a.to_owned()).collect()
}

/// Tells every process `command`.
pub(crate) fn broadcast(procs: &mut [Proc], command: &str) -> Result<(), String> {
    procs.iter_mut().try_for_each(|p| p.tell(command))
}

/// Every process's reply starting with `prefix`, in order, all within
/// `timeout`.
pub(crate) fn gather(
    procs: &mut [Proc],
    prefix: &str,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let deadline = Instant::now() + timeout;
    procs
        .iter_mut()
        .map(|p| p.reply(prefix, deadline.saturating_duration_since(Instant::now())))
        .collect()
}
