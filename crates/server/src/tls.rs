//! TLS server configuration: the operator's certificate, or a self-signed one created on
//! first start so that the embedded default runs TLS with no preparation.
//!
//! The certificate can be replaced while the server runs (SIGHUP): both listeners' rustls
//! configurations ask a [`CertificateSlot`] for it at every handshake, so a new handshake
//! presents the new certificate while connections already open keep the session they
//! negotiated.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Pem { path: String, message: String },
    #[error("cannot create a self-signed certificate: {0}")]
    Generate(String),
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Where the certificate came from, for the start-up banner.
#[derive(Debug, Clone)]
pub struct CertificateInfo {
    pub cert_path: PathBuf,
    pub self_signed: bool,
}

/// The server's certificate and key: SIP over TLS and HTTPS present the same certificate,
/// each through a rustls configuration of its own (they differ in ALPN).
#[derive(Debug)]
pub struct Certificate {
    key: Arc<CertifiedKey>,
    pub info: CertificateInfo,
}

/// The certificate the listeners present now. A read lock per handshake, never held
/// across an await; a reload holds the write lock only to swap one pointer.
#[derive(Debug)]
pub struct CertificateSlot(RwLock<Arc<CertifiedKey>>);

impl CertificateSlot {
    pub fn new(certificate: &Certificate) -> Arc<CertificateSlot> {
        Arc::new(CertificateSlot(RwLock::new(certificate.key.clone())))
    }

    /// Presents `certificate` from the next handshake on.
    pub fn replace(&self, certificate: &Certificate) {
        *self.0.write().expect("certificate lock") = certificate.key.clone();
    }

    /// A rustls server configuration presenting the slot's certificate and offering the
    /// application protocols `alpn` (none for SIP, which does not negotiate one).
    pub fn server_config(self: &Arc<Self>, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for CertificateSlot {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().expect("certificate lock").clone())
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Certificate {
    /// The certificate `config` names, or the self-signed pair in its data directory
    /// (created for the domain and `tls.hostnames` when missing).
    pub fn for_config(config: &crate::config::Config) -> Result<Certificate, TlsError> {
        Self::load(
            config.tls.cert.as_deref(),
            config.tls.key.as_deref(),
            &config.data_dir,
            &names(config),
        )
    }

    /// Reads `cert`/`key`, or the self-signed pair in `data_dir` (created for `names` when
    /// missing).
    pub fn load(
        cert: Option<&Path>,
        key: Option<&Path>,
        data_dir: &Path,
        names: &[String],
    ) -> Result<Certificate, TlsError> {
        let (cert_path, key_path, self_signed) = match (cert, key) {
            (Some(c), Some(k)) => (c.to_path_buf(), k.to_path_buf(), false),
            _ => {
                let (c, k) = (data_dir.join("tls-cert.pem"), data_dir.join("tls-key.pem"));
                if !c.exists() || !k.exists() {
                    create_self_signed(&c, &k, names)?;
                }
                (c, k, true)
            }
        };
        let pem_err = |path: &Path, e: rustls::pki_types::pem::Error| TlsError::Pem {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let chain = CertificateDer::pem_file_iter(&cert_path)
            .map_err(|e| pem_err(&cert_path, e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_err(&cert_path, e))?;
        if chain.is_empty() {
            return Err(TlsError::Pem {
                path: cert_path.display().to_string(),
                message: "no certificate".into(),
            });
        }
        let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| pem_err(&key_path, e))?;
        // Checked here, not at the first handshake: a key that does not match its
        // certificate is refused at start and at reload alike.
        let key = CertifiedKey::from_der(chain, key, &provider())?;
        Ok(Certificate {
            key: Arc::new(key),
            info: CertificateInfo {
                cert_path,
                self_signed,
            },
        })
    }
}

fn create_self_signed(cert_path: &Path, key_path: &Path, names: &[String]) -> Result<(), TlsError> {
    let certified = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| TlsError::Io { path, source }
    };
    write_private(key_path, certified.key_pair.serialize_pem().as_bytes()).map_err(io(key_path))?;
    std::fs::write(cert_path, certified.cert.pem()).map_err(io(cert_path))?;
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// The names a self-signed certificate is made for: the domain, then `tls.hostnames`.
pub(crate) fn names(config: &crate::config::Config) -> Vec<String> {
    let mut names = config.tls.hostnames.clone();
    names.insert(0, config.domain.clone());
    names.dedup();
    names
}
