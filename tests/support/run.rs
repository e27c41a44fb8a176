//! Running the examples' and the CLI's binaries as child processes, every
//! wait bounded.

use std::io;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use examples::Scratch;

/// What a finished process left.
#[derive(Debug)]
pub struct Run {
    /// The exit code; `None` if a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    /// Panics, showing everything the process printed, unless it exited
    /// with `code`.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}\n--- stdout\n{}--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs `exe` with `args` (stdin closed) and waits at most `limit`; a
/// process still running then is killed and the test fails.
pub fn run(exe: &str, args: &[&str], limit: Duration) -> Run {
    let started = Instant::now();
    let child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
    let pid = child.id();
    // `wait_with_output` drains both pipes and has no timeout: run it on a
    // thread and give up on ours.
    let (tx, rx) = mpsc::channel::<io::Result<Output>>();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(limit) {
        Ok(output) => output.unwrap_or_else(|e| panic!("waiting for {exe}: {e}")),
        Err(_) => {
            let _ = examples::signal(pid, "-KILL");
            let partial = rx.recv_timeout(limit);
            let printed = partial
                .ok()
                .and_then(Result::ok)
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            panic!("{exe} {args:?} still running after {limit:?}; it printed:\n{printed}");
        }
    };
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// Whether process `pid` still exists (signal 0 checks without sending).
pub fn is_running(pid: u32) -> bool {
    examples::signal(pid, "-0").is_ok()
}

/// A clustername file in `scratch` with the given lines.
pub fn write_config(scratch: &Scratch, lines: &[String]) -> PathBuf {
    let path = scratch.path().join("clustername.lua");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write clustername");
    path
}
