//! Helpers shared by the examples, so that each one runs anywhere by itself:
//! a scratch directory, a clustername file on free ports, and child
//! processes that are always stopped.
//!
//! None of this is needed in production: there the clustername file is
//! written by hand (or by your deployment tool) with fixed ports, and each
//! node is its own process started by a supervisor.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A directory under the system temp dir, removed when dropped.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// Creates `<tmp>/skycluster-<label>-<pid>-<n>`.
    ///
    /// # Errors
    ///
    /// When the directory cannot be created.
    pub fn new(label: &str) -> io::Result<Scratch> {
        let base = std::env::temp_dir();
        for n in 0..1000 {
            let dir = base.join(format!("skycluster-{label}-{}-{n}", std::process::id()));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(Scratch { dir }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free scratch directory name",
        ))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes `clustername.lua` with every node of `nodes` on a free port
    /// of 127.0.0.1, and returns its path.
    ///
    /// # Errors
    ///
    /// When no port is free or the file cannot be written.
    pub fn clustername(&self, nodes: &[&str]) -> io::Result<PathBuf> {
        // `__nowaiting = true`: a call to a node missing from the file fails
        // at once, instead of waiting (Skynet's default) for a reload.
        let mut text = String::from("-- written by the skycluster examples\n__nowaiting = true\n");
        for node in nodes {
            let _ = writeln!(text, "{node} = \"127.0.0.1:{}\"", free_port()?);
        }
        let path = self.dir.join("clustername.lua");
        std::fs::write(&path, text)?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// The OS picks it; it can in principle be taken again before the node
/// binds it, which is why production configs use fixed ports instead.
///
/// # Errors
///
/// When binding fails.
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process that printed `ready`. [`Node::stop`] stops it cleanly;
/// dropping it kills it, so an early return or a panic leaves nothing
/// running.
///
/// Its stdin is a pipe held open here: a child started with
/// `--exit-with-stdin` exits by itself when this process dies, so no node
/// outlives the program that started it.
#[derive(Debug)]
pub struct Node {
    name: String,
    pid: u32,
    /// `None` once stopped.
    child: Option<Child>,
    _stdin: Option<ChildStdin>,
}

impl Node {
    /// Runs `command` and waits, at most `limit`, for its first stdout
    /// line to be `ready`.
    ///
    /// # Errors
    ///
    /// When it cannot start, exits first, prints something else, or is not
    /// ready in time.
    pub fn start(name: &str, mut command: Command, limit: Duration) -> io::Result<Node> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let mut node = Node {
            name: name.to_owned(),
            pid: child.id(),
            child: Some(child),
            _stdin: stdin,
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        match rx.recv_timeout(limit) {
            Ok(Some(Ok(line))) if line.trim() == "ready" => Ok(node),
            Ok(Some(Ok(line))) => Err(node.fail(format!("printed {line:?} instead of `ready`"))),
            Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(node.fail("exited before it was ready".to_owned()))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(node.fail(format!("not ready within {limit:?}")))
            }
        }
    }

    fn fail(&mut self, why: String) -> io::Error {
        self.kill();
        io::Error::other(format!("node {}: {why}", self.name))
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Kills the process at once (SIGKILL): a crash, as far as the
    /// cluster can tell.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the process to stop (SIGTERM) and waits at most `limit` for it.
    ///
    /// # Errors
    ///
    /// When it does not exit in time (it is then killed).
    pub fn stop(mut self, limit: Duration) -> io::Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            return Err(io::Error::other(format!("node {} was killed", self.name)));
        };
        signal(self.pid, "-TERM")?;
        // `Child::wait` has no timeout: wait on a thread, give up on ours.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        match rx.recv_timeout(limit) {
            Ok(status) => status,
            Err(_) => {
                let _ = signal(self.pid, "-KILL");
                let _ = rx.recv_timeout(limit);
                Err(io::Error::other(format!(
                    "node {}: still running {limit:?} after SIGTERM",
                    self.name
                )))
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends a signal (`-TERM`, `-KILL`) with the `kill` command: the
/// workspace forbids `unsafe`, which calling `libc::kill` would need.
///
/// # Errors
///
/// When `kill` cannot run or fails (no such process).
pub fn signal(pid: u32, signal: &str) -> io::Result<()> {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .stderr(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("kill {signal} {pid} failed")))
    }
}

/// Resolves when this process's stdin reaches end of file: the parent that
/// holds the other end has exited. For `--exit-with-stdin`.
pub fn stdin_closed() -> tokio::sync::oneshot::Receiver<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A plain thread, not tokio's stdin: that one can hold up runtime
    // shutdown while it is blocked in a read.
    std::thread::spawn(move || {
        let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
        let _ = tx.send(());
    });
    rx
}

/// Whether `flag` is among this process's arguments, as `--flag` or
/// `--flag=value`.
pub fn has_flag(flag: &str) -> bool {
    std::env::args().skip(1).any(|a| {
        a == flag
            || a.strip_prefix(flag)
                .is_some_and(|rest| rest.starts_with('='))
    })
}
