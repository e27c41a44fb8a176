//! The file a cluster's shared secret is read from: one rule for every
//! node (`#[cluster_main]`'s `--secret-file`) and for the `skycluster`
//! command, so that both agree on what a file ending in a newline holds.

use std::io::Read;
use std::path::PathBuf;

#[cfg(feature = "auth")]
use super::auth::Auth;

/// The largest secret file read: a path naming the wrong file (a log,
/// `/dev/zero`) is refused rather than read whole.
const MAX_SECRET: u64 = 64 * 1024;

/// Where the secret file's path came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFile {
    /// The file.
    pub path: PathBuf,
    /// What named it, such as `--secret-file` or `SKYCLUSTER_SECRET_FILE`.
    pub named_by: &'static str,
}

/// Why the cluster secret could not be read from its file; each names the
/// file and what named it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretFileError {
    /// The file could not be opened or read.
    #[error("cannot read the cluster secret file {} (named by {named_by})", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What named it.
        named_by: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file holds nothing but line endings.
    #[error("the cluster secret file {} (named by {named_by}) is empty", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// What named it.
        named_by: &'static str,
    },
    /// The file is over 64 KiB: most likely not a secret.
    #[error(
        "the cluster secret file {} (named by {named_by}) is over {MAX_SECRET} bytes: \
         is it the right file?",
        path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What named it.
        named_by: &'static str,
    },
}

/// Reads the shared secret from `file`: its bytes, less any line endings
/// at the end (so that `echo secret > file` and an editor's final newline
/// give the same secret as a file without one). Every node and the
/// `skycluster` command read the file this way.
///
/// # Errors
///
/// A file that cannot be read, is empty (after the line endings), or is
/// over 64 KiB; each error names the file and the flag or variable that
/// named it.
///
/// # Examples
///
/// ```
/// use skycluster::{read_secret_file, SecretFile};
///
/// let path = std::env::temp_dir().join(format!("skycluster-doc-secret-{}", std::process::id()));
/// std::fs::write(&path, "s3cret\n")?;
/// let file = SecretFile { path: path.clone(), named_by: "--secret-file" };
/// assert_eq!(read_secret_file(&file)?, b"s3cret");
/// # std::fs::remove_file(path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_secret_file(file: &SecretFile) -> Result<Vec<u8>, SecretFileError> {
    let read_error = |source| SecretFileError::Read {
        path: file.path.clone(),
        named_by: file.named_by,
        source,
    };
    let mut secret = Vec::new();
    std::fs::File::open(&file.path)
        .and_then(|f| f.take(MAX_SECRET + 1).read_to_end(&mut secret))
        .map_err(read_error)?;
    if secret.len() as u64 > MAX_SECRET {
        return Err(SecretFileError::TooLarge {
            path: file.path.clone(),
            named_by: file.named_by,
        });
    }
    while secret.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
        secret.pop();
    }
    if secret.is_empty() {
        return Err(SecretFileError::Empty {
            path: file.path.clone(),
            named_by: file.named_by,
        });
    }
    Ok(secret)
}

#[cfg(feature = "auth")]
impl Auth {
    /// `Auth` with the secret [`read_secret_file`] reads from `file`.
    ///
    /// # Errors
    ///
    /// As [`read_secret_file`].
    pub fn from_secret_file(file: &SecretFile) -> Result<Auth, SecretFileError> {
        read_secret_file(file).map(Auth::new)
    }
}
