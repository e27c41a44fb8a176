//! The cluster secret, for nodes that run skycluster's `Auth` handshake:
//! read from the file `--secret-file` (or `SKYCLUSTER_SECRET_FILE`) names,
//! by the rule a `#[cluster_main]` node reads the same file by; and a check that
//! tells a node asking for the secret from one that dropped the call for
//! another reason.

use std::path::Path;
use std::time::Duration;

use skycluster::{read_secret_file, Auth, SecretFile};
use tokio::io::AsyncReadExt;

/// Which flag or variable names the file, for messages.
const NAMED_BY: &str = "--secret-file or SKYCLUSTER_SECRET_FILE";

/// The secret in `path`, read by the rule every node reads it by
/// ([`read_secret_file`]), so that the CLI and the nodes agree on a file
/// ending in a newline. The error is the message to print, its cause
/// included.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, String> {
    let file = SecretFile {
        path: path.to_owned(),
        named_by: NAMED_BY,
    };
    read_secret_file(&file).map_err(|e| crate::chain(&e))
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
        Some(&greeting == Auth::GREETING)
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
        let huge = TempFile::new("huge", &vec![b'k'; 64 * 1024 + 1]);
        assert!(read(&huge.0).unwrap_err().contains("over"));
    }
}
