//! Opt-in authentication between Rust nodes: a shared-secret
//! challenge-response handshake.
//!
//! Skynet's cluster port has no authentication: anyone who can reach it can
//! call any registered service. A cluster of skycluster nodes can close
//! that door. With [`Auth`] set, a listener challenges every connection
//! before reading a single frame, and a sender answers the challenge of
//! each node it authenticates to. The secret never crosses the wire: each
//! side proves it knows it with an HMAC-SHA256 over fresh nonces from both
//! sides, so a recorded handshake cannot be replayed.
//!
//! A node with `Auth` is not byte-compatible with Lua Skynet nodes on its
//! listener: a Lua sender does not answer the challenge and is closed.
//! Its senders stay compatible with Lua nodes listed as
//! [plain](Auth::with_plain_node). Leave `Auth` unset on nodes that must
//! serve Lua callers.
//!
//! The exchange, after TCP connects:
//!
//! | from | bytes |
//! | --- | --- |
//! | listener | `SKYA`, version 1, 32-byte nonce `s` |
//! | sender | `SKYA`, version 1, 32-byte nonce `c`, `HMAC(secret, "skycluster sender" ‖ s ‖ c)` |
//! | listener | `HMAC(secret, "skycluster listener" ‖ c ‖ s)` |
//!
//! Then Skynet frames flow as usual.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const MAGIC: &[u8; 4] = b"SKYA";
const VERSION: u8 = 1;
const NONCE: usize = 32;
const MAC: usize = 32;

/// A shared secret, and which connections must prove they know it.
///
/// # Examples
///
/// ```
/// use skycluster::{Auth, Options};
///
/// // Every node of the cluster gets the same secret (from a file or the
/// // environment, not from source code). `db_lua` is a Lua Skynet node:
/// // calls to it go without the handshake.
/// let options = Options::default()
///     .with_auth(Some(Auth::new(b"a long random secret".to_vec()).with_plain_node("db_lua")));
/// # drop(options);
/// ```
#[derive(Clone)]
pub struct Auth {
    secret: Arc<[u8]>,
    plain_nodes: HashSet<String>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("Auth")
            .field("plain_nodes", &self.plain_nodes)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// What a listener with `Auth` sends first on every connection it
    /// accepts, before reading anything: a client can tell from it that
    /// the node asks for the cluster secret. (Lua nodes and skycluster
    /// nodes without `Auth` send nothing first.)
    pub const GREETING: &'static [u8; 4] = MAGIC;

    /// Requires the handshake on every connection this node accepts, and
    /// performs it on every connection it makes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Auth {
        Auth {
            secret: secret.into().into(),
            plain_nodes: HashSet::new(),
        }
    }

    /// Calls to `node` go without the handshake: it is a Lua node, or a
    /// skycluster node without `Auth`.
    pub fn with_plain_node(mut self, node: impl Into<String>) -> Auth {
        self.plain_nodes.insert(node.into());
        self
    }

    pub(crate) fn applies_to(&self, node: &str) -> bool {
        !self.plain_nodes.contains(node)
    }

    fn mac(&self, label: &[u8], first: &[u8], second: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(label);
        mac.update(first);
        mac.update(second);
        mac
    }
}

/// Why a handshake failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthError {
    #[error("the peer did not complete the handshake within {0:?}")]
    Timeout(Duration),
    #[error("the peer does not speak the skycluster handshake")]
    NotAHandshake,
    #[error("the peer does not know the cluster secret")]
    BadProof,
    #[error("no randomness for a nonce: {0}")]
    Random(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn nonce() -> Result<[u8; NONCE], AuthError> {
    let mut n = [0u8; NONCE];
    getrandom::fill(&mut n).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(n)
}

async fn bounded<T>(
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, AuthError>>,
) -> Result<T, AuthError> {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or(Err(AuthError::Timeout(limit)))
}

/// The listener's side: challenge, check the proof, prove back.
pub(crate) async fn accept<S>(stream: &mut S, auth: &Auth, limit: Duration) -> Result<(), AuthError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    bounded(limit, async {
        let s = nonce()?;
        let mut hello = Vec::with_capacity(5 + NONCE);
        hello.extend_from_slice(MAGIC);
        hello.push(VERSION);
        hello.extend_from_slice(&s);
        stream.write_all(&hello).await?;

        let mut answer = [0u8; 5 + NONCE + MAC];
        // Check the magic first, so a peer speaking plain Skynet frames is
        // turned away at once instead of at the timeout.
        stream.read_exact(&mut answer[..5]).await?;
        if &answer[..4] != MAGIC || answer[4] != VERSION {
            return Err(AuthError::NotAHandshake);
        }
        stream.read_exact(&mut answer[5..]).await?;
        let c = &answer[5..5 + NONCE];
        auth.mac(b"skycluster sender", &s, c)
            .verify_slice(&answer[5 + NONCE..])
            .map_err(|_| AuthError::BadProof)?;
        let proof = auth
            .mac(b"skycluster listener", c, &s)
            .finalize()
            .into_bytes();
        stream.write_all(&proof).await?;
        Ok(())
    })
    .await
}

/// The sender's side: answer the challenge, check the listener's proof.
pub(crate) async fn connect<S>(
    stream: &mut S,
    auth: &Auth,
    limit: Duration,
) -> Result<(), AuthError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    bounded(limit, async {
        let mut hello = [0u8; 5 + NONCE];
        stream.read_exact(&mut hello).await?;
        if &hello[..4] != MAGIC || hello[4] != VERSION {
            return Err(AuthError::NotAHandshake);
        }
        let s = &hello[5..];
        let c = nonce()?;
        let proof = auth
            .mac(b"skycluster sender", s, &c)
            .finalize()
            .into_bytes();
        let mut answer = Vec::with_capacity(5 + NONCE + MAC);
        answer.extend_from_slice(MAGIC);
        answer.push(VERSION);
        answer.extend_from_slice(&c);
        answer.extend_from_slice(&proof);
        stream.write_all(&answer).await?;

        let mut back = [0u8; MAC];
        stream.read_exact(&mut back).await?;
        auth.mac(b"skycluster listener", &c, s)
            .verify_slice(&back)
            .map_err(|_| AuthError::BadProof)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn handshake(
        server: &Auth,
        client: &Auth,
    ) -> (Result<(), AuthError>, Result<(), AuthError>) {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let limit = Duration::from_secs(5);
        tokio::join!(
            async move {
                let r = accept(&mut a, server, limit).await;
                drop(a);
                r
            },
            async move {
                let r = connect(&mut b, client, limit).await;
                drop(b);
                r
            }
        )
    }

    #[tokio::test]
    async fn the_same_secret_passes_both_ways() {
        let auth = Auth::new(b"s3cret".to_vec());
        let (server, client) = handshake(&auth, &auth).await;
        server.unwrap();
        client.unwrap();
    }

    #[tokio::test]
    async fn a_different_secret_is_refused() {
        let (server, client) =
            handshake(&Auth::new(b"a".to_vec()), &Auth::new(b"b".to_vec())).await;
        assert!(matches!(server, Err(AuthError::BadProof)));
        assert!(client.is_err());
    }

    #[tokio::test]
    async fn a_skynet_frame_is_not_a_handshake() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let auth = Auth::new(b"x".to_vec());
        let (server, _) = tokio::join!(accept(&mut a, &auth, Duration::from_secs(5)), async {
            let mut hello = [0u8; 37];
            b.read_exact(&mut hello).await.unwrap();
            // A request frame where the answer should be.
            b.write_all(&[0u8; 69]).await.unwrap();
        });
        assert!(matches!(server, Err(AuthError::NotAHandshake)));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let text = format!("{:?}", Auth::new(b"hunter2".to_vec()));
        assert!(!text.contains("hunter2"));
    }
}
