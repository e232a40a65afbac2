//! TLS server configuration: the operator's certificate, or a self-signed one created on
//! first start so that the embedded default runs TLS with no preparation.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

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

/// The server's certificate and key, loaded once: SIP over TLS and HTTPS present the same
/// certificate, each through a rustls configuration of its own (they differ in ALPN).
#[derive(Debug)]
pub struct Certificate {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    pub info: CertificateInfo,
}

impl Certificate {
    /// The certificate `config` names, or the self-signed pair in its data directory
    /// (created for the domain and `tls.hostnames` when missing).
    pub fn for_config(config: &crate::config::Config) -> Result<Certificate, TlsError> {
        let mut names = config.tls.hostnames.clone();
        names.insert(0, config.domain.clone());
        names.dedup();
        Self::load(
            config.tls.cert.as_deref(),
            config.tls.key.as_deref(),
            &config.data_dir,
            &names,
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
        Ok(Certificate {
            chain,
            key,
            info: CertificateInfo {
                cert_path,
                self_signed,
            },
        })
    }

    /// A rustls server configuration presenting this certificate and offering the
    /// application protocols `alpn` (none for SIP, which does not negotiate one).
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
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
