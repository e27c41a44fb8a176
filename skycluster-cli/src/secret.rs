//! The cluster secret, for nodes that run skycluster's `Auth` handshake:
//! read from the file `--secret-file` (or `SKYCLUSTER_SECRET_FILE`) names,
//! the way a `#[cluster_main]` node reads the same file; and a check that
//! tells a node asking for the secret from one that dropped the call for
//! another reason.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use tokio::io::AsyncReadExt;

/// The largest secret file read, as on the nodes: a path naming the wrong
/// file (a log, `/dev/zero`) is refused rather than read whole.
const MAX_SECRET: u64 = 64 * 1024;

/// What a node with `Auth` sends first on every connection it accepts,
/// before reading anything (`skycluster/src/node/auth.rs`).
const AUTH_MAGIC: &[u8; 4] = b"SKYA";

/// Which flag or variable names the file, for messages.
const NAMED_BY: &str = "--secret-file or SKYCLUSTER_SECRET_FILE";

/// The secret in `path`: its bytes, less any line endings at the end, as
/// the nodes read it (`skycluster::__private::read_secret_file`), so that
/// the CLI and the nodes agree on a file ending in a newline.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, String> {
    let mut secret = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SECRET + 1).read_to_end(&mut secret))
        .map_err(|e| {
            format!(
                "cannot read the cluster secret file {} ({NAMED_BY}): {e}",
                path.display()
            )
        })?;
    if secret.len() as u64 > MAX_SECRET {
        return Err(format!(
            "the cluster secret file {} ({NAMED_BY}) is over {MAX_SECRET} bytes: \
             is it the right file?",
            path.display()
        ));
    }
    while secret.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
        secret.pop();
    }
    if secret.is_empty() {
        return Err(format!(
            "the cluster secret file {} ({NAMED_BY}) is empty",
            path.display()
        ));
    }
    Ok(secret)
}

/// Whether the node at `addr` greets a new connection with the `Auth`
/// challenge, i.e. closed our call because we sent no secret. A node
/// without `Auth` (Lua or skycluster) sends nothing first, so this waits
/// at most `limit` for a greeting that never comes.
pub(crate) async fn asks_for_secret(addr: &str, limit: Duration) -> bool {
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let mut greeting = [0u8; 4];
        stream.read_exact(&mut greeting).await.ok()?;
        Some(&greeting == AUTH_MAGIC)
    };
    matches!(tokio::time::timeout(limit, probe).await, Ok(Some(true)))
}

/// The hint added to a failure against a node that asks for the secret.
pub(crate) fn hint(node: &str) -> String {
    format!(
        "node `{node}` asks for the cluster secret: pass --secret-file FILE \
         or set SKYCLUSTER_SECRET_FILE"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file in the temp directory, removed on drop.
    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new(name: &str, bytes: &[u8]) -> TempFile {
            let path =
                std::env::temp_dir().join(format!("skycluster-cli-{}-{name}", std::process::id()));
            std::fs::write(&path, bytes).expect("write temp file");
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn a_secret_loses_only_its_trailing_line_endings() {
        let file = TempFile::new("secret", b" s3cret\t\r\n\n");
        assert_eq!(read(&file.0), Ok(b" s3cret\t".to_vec()));
    }

    #[test]
    fn a_missing_empty_or_huge_file_is_refused_naming_it() {
        let err = read(Path::new("/nonexistent/skycluster/secret")).unwrap_err();
        assert!(err.contains("/nonexistent/skycluster/secret"), "{err}");
        assert!(err.contains("--secret-file"), "{err}");
        let empty = TempFile::new("empty", b"\n");
        let err = read(&empty.0).unwrap_err();
        assert!(err.contains("is empty"), "{err}");
        let huge = TempFile::new("huge", &vec![b'k'; MAX_SECRET as usize + 1]);
        assert!(read(&huge.0).unwrap_err().contains("over"));
    }
}
