//! Opt-in TLS between Rust nodes, on rustls (the `tls` feature).
//!
//! Skynet's cluster protocol crosses the network in clear: anyone on the
//! path reads every call and reply, and can change them. With [`Tls`] set
//! in [`Options::with_tls`](crate::Options::with_tls), a node's listener
//! presents its certificate and runs every accepted connection through a
//! TLS handshake before reading a single frame, and its senders connect
//! through TLS, verifying each node's certificate against the configured
//! CA roots. [Mutual TLS](Tls::with_client_auth) makes the listener ask
//! senders for a certificate from the same roots too.
//!
//! The user-facing type is [`Tls`], whose docs say what plaintext
//! exposes, how TLS combines with `Auth` and how failures show.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::{client, server, TlsAcceptor, TlsConnector};

use super::link::Link;

/// TLS settings for a node: its certificate and key, the CA roots it
/// trusts, and the nodes it calls in plaintext.
///
/// The certificate is what the node's listener presents; senders check it
/// against their roots, for the name of the host in the node's address in
/// the clustername file (an IP address or a DNS name; the certificate
/// must list it as a subject alternative name), or for
/// [`with_server_name`](Tls::with_server_name). With
/// [`with_client_auth`](Tls::with_client_auth) the same certificate is
/// also what the node's senders present.
///
/// # Lua nodes
///
/// Lua Skynet nodes cannot speak TLS. Calls to a node listed with
/// [`Tls::with_plain_node`] go in plaintext: everything sent to it and
/// everything it answers (service names, method names, arguments,
/// replies) can be read and changed by anyone on the network path between
/// the two, and nothing proves the peer is the node the config names.
/// Keep such links on a network you trust. A node with `Tls` accepts only
/// TLS on its listener, so Lua nodes cannot call it: leave `Tls` unset on
/// a node that must serve Lua callers.
///
/// # With `Auth`
///
/// [`Auth`](crate::Auth) and `Tls` combine: the TLS handshake comes first,
/// and the `Auth` challenge then runs inside the encrypted stream. TLS
/// proves the listener to the sender (and, with client auth, the sender to
/// the listener) and hides the traffic; `Auth` adds a proof that the
/// sender holds the cluster secret, which is simpler to hand out than a
/// client certificate per node. On its own `Auth` hides nothing, and an
/// attacker on the path can take over an authenticated connection after
/// the handshake; inside TLS it cannot.
///
/// # Failures
///
/// A handshake that fails (a certificate from another CA, an expired
/// one, a peer speaking plaintext, garbage) closes the connection: the
/// listener logs it with the peer's address, and the sender fails its
/// calls with [`ErrorKind::Connect`](crate::ErrorKind::Connect) naming the
/// node and saying "TLS handshake failed", then backs off as after any
/// failed connect. A handshake is bounded by
/// [`Options::connect_timeout`](crate::Options::connect_timeout) on the
/// sender and [`Options::frame_timeout`](crate::Options::frame_timeout) on
/// the listener.
///
/// With TLS 1.3 a listener that refuses a sender's client certificate
/// says so only after the sender's side of the handshake has finished:
/// the sender then sees the listener's alert as the connection dropping,
/// and its calls fail with [`ErrorKind::Disconnected`](crate::ErrorKind::Disconnected),
/// whose reason quotes the alert.
///
/// # Examples
///
/// ```no_run
/// use skycluster::{Options, Tls};
///
/// # fn main() -> Result<(), skycluster::TlsError> {
/// // `db_lua` is a Lua Skynet node: calls to it go in plaintext.
/// let tls = Tls::from_pem_files("node.crt", "node.key", "cluster-ca.crt")?
///     .with_plain_node("db_lua");
/// let options = Options::default().with_tls(Some(tls));
/// # drop(options);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Tls {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    /// Kept to build the client verifier when client auth is turned on.
    roots: Option<Arc<RootCertStore>>,
    client_auth: bool,
    server_name: Option<ServerName<'static>>,
    plain_nodes: HashSet<String>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("client_auth", &self.client_auth)
            .field("server_name", &self.server_name)
            .field("plain_nodes", &self.plain_nodes)
            .finish_non_exhaustive()
    }
}

/// Why TLS settings could not be made: each names the file (or, for
/// [`Tls::from_pem`], which argument) and what is wrong with it.
///
/// # Examples
///
/// ```
/// use skycluster::{Tls, TlsError};
///
/// let err = Tls::from_pem_files("/no/such/node.crt", "node.key", "ca.crt").unwrap_err();
/// assert!(matches!(err, TlsError::Read { .. }));
/// assert!(err.to_string().contains("/no/such/node.crt"), "{err}");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not PEM, or a PEM section in it does not decode.
    #[error("{} is not valid PEM (expected the {what}): {reason}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        what: &'static str,
        /// What the PEM reader found wrong.
        reason: String,
    },
    /// The file holds no PEM section of the kind needed.
    #[error("{} holds no {what} (expected a PEM \"-----BEGIN {label}-----\" section)", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        what: &'static str,
        /// The PEM label expected.
        label: &'static str,
    },
    /// A CA certificate in the file is not usable as a trust root.
    #[error("a CA certificate in {} is not usable: {source}", path.display())]
    BadRoot {
        /// The file.
        path: PathBuf,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
    /// rustls refused the certificate and key together (the key does not
    /// fit the certificate, or is of a kind it does not support).
    #[error("the certificate in {} and the key in {} are not usable together: {source}", cert.display(), key.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
    /// rustls refused the settings otherwise.
    #[error("TLS settings refused: {0}")]
    Config(#[source] rustls::Error),
    /// [`Tls::with_client_auth`] needs the CA roots, which settings made
    /// by [`Tls::from_rustls`] do not give.
    #[error("client auth needs CA roots: configure it in the rustls ServerConfig given to Tls::from_rustls")]
    NoRoots,
    /// The name given to [`Tls::with_server_name`] is neither a DNS name
    /// nor an IP address.
    #[error("{0:?} is not a DNS name or an IP address")]
    BadServerName(String),
}

/// A PEM source: a file's contents and the name to give in errors.
struct Pem<'a> {
    path: &'a Path,
    bytes: &'a [u8],
}

impl Pem<'_> {
    fn certificates(&self, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
        let certs = CertificateDer::pem_slice_iter(self.bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Pem {
                path: self.path.to_owned(),
                what,
                reason: e.to_string(),
            })?;
        if certs.is_empty() {
            return Err(TlsError::Missing {
                path: self.path.to_owned(),
                what,
                label: "CERTIFICATE",
            });
        }
        Ok(certs)
    }

    fn key(&self) -> Result<PrivateKeyDer<'static>, TlsError> {
        const WHAT: &str = "private key";
        PrivateKeyDer::from_pem_slice(self.bytes).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => TlsError::Missing {
                path: self.path.to_owned(),
                what: WHAT,
                label: "PRIVATE KEY",
            },
            e => TlsError::Pem {
                path: self.path.to_owned(),
                what: WHAT,
                reason: e.to_string(),
            },
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    // Explicit, not the process default: nothing to install first, and no
    // panic if another crate's rustls enables a second provider. ring, not
    // aws-lc-rs, for a build without cmake and nasm; rustls deprecates it
    // for lacking post-quantum key exchange, which nodes do not need yet.
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Tls {
    /// Loads the node's certificate chain (`cert`, the node's certificate
    /// first), its private key (`key`: PKCS#8, PKCS#1 or SEC1) and the CA
    /// certificates it trusts (`ca`), all PEM files.
    ///
    /// # Errors
    ///
    /// A [`TlsError`] naming the file that cannot be read, is not PEM,
    /// holds no certificate or key, or whose key does not fit the
    /// certificate.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use skycluster::Tls;
    ///
    /// let tls = Tls::from_pem_files("node.crt", "node.key", "cluster-ca.crt")?;
    /// # drop(tls);
    /// # Ok::<(), skycluster::TlsError>(())
    /// ```
    pub fn from_pem_files(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
        ca: impl AsRef<Path>,
    ) -> Result<Tls, TlsError> {
        let (cert, key, ca) = (cert.as_ref(), key.as_ref(), ca.as_ref());
        Tls::build(
            Pem {
                path: cert,
                bytes: &read(cert)?,
            },
            Pem {
                path: key,
                bytes: &read(key)?,
            },
            Pem {
                path: ca,
                bytes: &read(ca)?,
            },
        )
    }

    /// As [`from_pem_files`](Tls::from_pem_files), from PEM text already
    /// in memory. Errors name the argument (`cert`, `key` or `ca`) in
    /// place of a file.
    ///
    /// # Errors
    ///
    /// As [`from_pem_files`](Tls::from_pem_files).
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::{Tls, TlsError};
    ///
    /// let err = Tls::from_pem(b"not pem", b"", b"").unwrap_err();
    /// assert!(matches!(err, TlsError::Missing { .. }), "{err}");
    /// assert_eq!(
    ///     err.to_string(),
    ///     "cert holds no certificate chain (expected a PEM \"-----BEGIN CERTIFICATE-----\" section)",
    /// );
    /// ```
    pub fn from_pem(cert: &[u8], key: &[u8], ca: &[u8]) -> Result<Tls, TlsError> {
        Tls::build(
            Pem {
                path: Path::new("cert"),
                bytes: cert,
            },
            Pem {
                path: Path::new("key"),
                bytes: key,
            },
            Pem {
                path: Path::new("ca"),
                bytes: ca,
            },
        )
    }

    fn build(cert: Pem<'_>, key: Pem<'_>, ca: Pem<'_>) -> Result<Tls, TlsError> {
        let chain = cert.certificates("certificate chain")?;
        let private = key.key()?;
        let mut roots = RootCertStore::empty();
        for root in ca.certificates("CA certificates")? {
            roots.add(root).map_err(|source| TlsError::BadRoot {
                path: ca.path.to_owned(),
                source,
            })?;
        }
        let mismatch = |source| TlsError::KeyMismatch {
            cert: cert.path.to_owned(),
            key: key.path.to_owned(),
            source,
        };
        let roots = Arc::new(roots);
        let server = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_single_cert(chain.clone(), private.clone_key())
            .map_err(mismatch)?;
        let client = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_root_certificates(Arc::clone(&roots))
            // Sent only to a listener that asks for it (client auth).
            .with_client_auth_cert(chain, private)
            .map_err(mismatch)?;
        Ok(Tls {
            server: Arc::new(server),
            client: Arc::new(client),
            roots: Some(roots),
            client_auth: false,
            server_name: None,
            plain_nodes: HashSet::new(),
        })
    }

    /// Uses rustls configurations made by hand: `server` for the listener,
    /// `client` for the senders (other roots, other protocol versions, a
    /// certificate resolver, revocation lists...), made with the `rustls`
    /// crate, version 0.23, built with its `ring` provider as skycluster
    /// is.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use skycluster::{Options, Tls};
    ///
    /// /// Options for a node whose rustls configurations come from elsewhere
    /// /// (a certificate manager, say).
    /// fn options_with(server: rustls::ServerConfig, client: rustls::ClientConfig) -> Options {
    ///     let tls = Tls::from_rustls(Arc::new(server), Arc::new(client));
    ///     Options::default().with_tls(Some(tls))
    /// }
    /// # let _ = options_with;
    /// ```
    pub fn from_rustls(server: Arc<ServerConfig>, client: Arc<ClientConfig>) -> Tls {
        Tls {
            server,
            client,
            roots: None,
            client_auth: false,
            server_name: None,
            plain_nodes: HashSet::new(),
        }
    }

    /// Mutual TLS: the listener asks every sender for a certificate and
    /// accepts only one from the CA roots given, and this node's senders
    /// present the node's own certificate.
    ///
    /// # Errors
    ///
    /// [`TlsError::NoRoots`] for settings made by
    /// [`from_rustls`](Tls::from_rustls) (configure client auth in the
    /// `ServerConfig` there), or rustls's refusal of the roots.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use skycluster::Tls;
    ///
    /// let tls = Tls::from_pem_files("node.crt", "node.key", "cluster-ca.crt")?.with_client_auth()?;
    /// # drop(tls);
    /// # Ok::<(), skycluster::TlsError>(())
    /// ```
    pub fn with_client_auth(mut self) -> Result<Tls, TlsError> {
        let roots = self.roots.clone().ok_or(TlsError::NoRoots)?;
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
            .build()
            .map_err(|e| TlsError::Config(rustls::Error::General(e.to_string())))?;
        let server = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::clone(&self.server.cert_resolver));
        self.server = Arc::new(server);
        self.client_auth = true;
        Ok(self)
    }

    /// Verifies every node's certificate for `name` instead of for the
    /// host in the node's address: for a cluster whose nodes share one
    /// certificate, or are addressed by IP but certified by DNS name.
    ///
    /// # Errors
    ///
    /// [`TlsError::BadServerName`] if `name` is neither a DNS name nor an
    /// IP address.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use skycluster::Tls;
    ///
    /// let tls = Tls::from_pem_files("node.crt", "node.key", "cluster-ca.crt")?
    ///     .with_server_name("nodes.cluster.internal")?;
    /// # drop(tls);
    /// # Ok::<(), skycluster::TlsError>(())
    /// ```
    pub fn with_server_name(mut self, name: impl Into<String>) -> Result<Tls, TlsError> {
        let name = name.into();
        let parsed =
            ServerName::try_from(name.clone()).map_err(|_| TlsError::BadServerName(name))?;
        self.server_name = Some(parsed);
        Ok(self)
    }

    /// Calls to `node` go in plaintext: it is a Lua Skynet node, or a
    /// skycluster node without TLS. Everything on that link can be read
    /// and changed by anyone on the network path; see the
    /// [`Tls`](crate::Tls#lua-nodes) docs.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use skycluster::Tls;
    ///
    /// let tls = Tls::from_pem_files("node.crt", "node.key", "cluster-ca.crt")?
    ///     .with_plain_node("db_lua")
    ///     .with_plain_node("chat_lua");
    /// # drop(tls);
    /// # Ok::<(), skycluster::TlsError>(())
    /// ```
    #[must_use]
    pub fn with_plain_node(mut self, node: impl Into<String>) -> Tls {
        self.plain_nodes.insert(node.into());
        self
    }

    pub(crate) fn applies_to(&self, node: &str) -> bool {
        !self.plain_nodes.contains(node)
    }
}

/// The name a sender verifies the listener's certificate for: the one
/// configured, or the host of `addr` (`host:port`, `[v6]:port`).
fn server_name(tls: &Tls, addr: &str) -> std::io::Result<ServerName<'static>> {
    if let Some(name) = &tls.server_name {
        return Ok(name.clone());
    }
    let host = addr.rsplit_once(':').map_or(addr, |(host, _port)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("TLS: {host:?} is not a DNS name or an IP address to verify"),
        )
    })
}

/// The sender's handshake, within `limit`. The error says it was TLS.
pub(crate) async fn connect(
    tls: &Tls,
    stream: TcpStream,
    addr: &str,
    limit: Duration,
) -> std::io::Result<client::TlsStream<TcpStream>> {
    let name = server_name(tls, addr)?;
    let handshake = TlsConnector::from(Arc::clone(&tls.client)).connect(name, stream);
    match tokio::time::timeout(limit, handshake).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(std::io::Error::new(
            e.kind(),
            format!("TLS handshake failed: {e}"),
        )),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("TLS handshake failed: no answer within {limit:?}"),
        )),
    }
}

/// The listener's handshake, within `limit`.
pub(crate) async fn accept(
    tls: &Tls,
    stream: TcpStream,
    limit: Duration,
) -> std::io::Result<server::TlsStream<TcpStream>> {
    let handshake = TlsAcceptor::from(Arc::clone(&tls.server)).accept(stream);
    tokio::time::timeout(limit, handshake)
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no handshake within {limit:?}"),
            ))
        })
}

/// TLS streams split through tokio's lock: a TLS session is one state
/// machine for both directions. Uncontended on an agent (one task), and
/// held only for a poll on a sender (reader and writer tasks).
macro_rules! tls_link {
    ($stream:ty) => {
        impl Link for $stream {
            const BUFFERED: bool = true;
            type OwnedRead = ReadHalf<$stream>;
            type OwnedWrite = WriteHalf<$stream>;
            type Read<'a> = ReadHalf<&'a mut $stream>;
            type Write<'a> = WriteHalf<&'a mut $stream>;

            fn into_split(self) -> (Self::OwnedRead, Self::OwnedWrite) {
                tokio::io::split(self)
            }

            fn split(&mut self) -> (Self::Read<'_>, Self::Write<'_>) {
                tokio::io::split(self)
            }
        }
    };
}

tls_link!(client::TlsStream<TcpStream>);
tls_link!(server::TlsStream<TcpStream>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file_and_the_fault() {
        let err = Tls::from_pem(b"-----BEGIN CERTIFICATE-----\n!!\n", b"", b"").unwrap_err();
        assert!(matches!(err, TlsError::Pem { .. }), "{err}");
        assert!(
            err.to_string().starts_with("cert is not valid PEM"),
            "{err}"
        );
    }

    #[test]
    fn the_server_name_is_the_host_of_the_address() {
        let tls = Tls {
            server: Arc::new(
                ServerConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_no_client_auth()
                    .with_cert_resolver(
                        Arc::new(rustls::server::ResolvesServerCertUsingSni::new()),
                    ),
            ),
            client: Arc::new(
                ClientConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_root_certificates(RootCertStore::empty())
                    .with_no_client_auth(),
            ),
            roots: None,
            client_auth: false,
            server_name: None,
            plain_nodes: HashSet::new(),
        };
        let name = |addr| server_name(&tls, addr).map(|n| n.to_str().into_owned());
        assert_eq!(name("127.0.0.1:2528").unwrap(), "127.0.0.1");
        assert_eq!(name("[::1]:2528").unwrap(), "::1");
        assert_eq!(name("db.example:2528").unwrap(), "db.example");
        assert!(name("bad host:1").is_err());
        let named = tls.with_server_name("nodes.internal").unwrap();
        assert_eq!(
            server_name(&named, "127.0.0.1:1").unwrap().to_str(),
            "nodes.internal"
        );
    }
}
