//! Which server certificates the client accepts. Parlance's default certificate is
//! self-signed, so a person must say how to trust it — a CA file, a pinned fingerprint, or
//! an explicit "insecure" — and nothing is ever accepted silently. The fingerprint of the
//! certificate the server presented is kept, so that a refusal can show it.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::error::ClientError;

/// Where trust in the server's certificate comes from.
#[derive(Debug, Clone)]
pub enum Trust {
    /// The system's certificate authorities (`SSL_CERT_FILE`, else the usual bundle paths).
    System,
    /// These certificates as the only authorities (the server's own self-signed one works).
    Roots(Vec<CertificateDer<'static>>),
    /// Exactly the certificate with this SHA-256 fingerprint, whoever signed it.
    Pin(CertificatePin),
    /// Any certificate: the connection is encrypted but open to interception.
    Insecure,
}

/// Bundles that Debian, Fedora and macOS keep their authorities in.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

impl Trust {
    /// The certificates of a PEM file as the only authorities.
    pub fn ca_file(path: &Path) -> Result<Trust, ClientError> {
        Ok(Trust::Roots(read_pem(path)?))
    }
}

fn read_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let unreadable = |e: &dyn fmt::Display| {
        ClientError::Config(format!(
            "cannot read certificates from {}: {e}",
            path.display()
        ))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(&e))?;
    if certs.is_empty() {
        return Err(ClientError::Config(format!(
            "{} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

fn system_roots() -> Result<Vec<CertificateDer<'static>>, ClientError> {
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        return read_pem(Path::new(&file));
    }
    SYSTEM_BUNDLES
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .ok_or_else(|| {
            ClientError::Config("no system certificate bundle found (set SSL_CERT_FILE)".into())
        })
        .and_then(read_pem)
}

/// A SHA-256 fingerprint of a DER certificate. Parsed from 64 hex digits, with or without
/// colons and an optional `sha256:` prefix (so `openssl x509 -fingerprint -sha256` output
/// works); shown as upper-case hex pairs joined by colons, as openssl shows it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertificatePin([u8; 32]);

impl CertificatePin {
    pub fn of(certificate: &[u8]) -> CertificatePin {
        CertificatePin(Sha256::digest(certificate).into())
    }
}

impl FromStr for CertificatePin {
    type Err = ClientError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let body = trimmed.split_once('=').map_or(trimmed, |(_, v)| v);
        let body = body
            .strip_prefix("sha256:")
            .or_else(|| body.strip_prefix("SHA256:"))
            .unwrap_or(body);
        let hex: String = body.chars().filter(|c| *c != ':').collect();
        let invalid = || {
            ClientError::Config(format!(
                "{s:?} is not a SHA-256 fingerprint (64 hex digits)"
            ))
        };
        if hex.len() != 64 {
            return Err(invalid());
        }
        let mut pin = [0u8; 32];
        for (i, byte) in pin.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or_else(invalid)?, 16)
                .map_err(|_| invalid())?;
        }
        Ok(CertificatePin(pin))
    }
}

impl fmt::Display for CertificatePin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CertificatePin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertificatePin({self})")
    }
}

/// The fingerprint of the last certificate a server presented, shared with the verifier.
pub(crate) type Presented = Arc<Mutex<Option<CertificatePin>>>;

/// A rustls client configuration for `trust` offering the application protocols `alpn`,
/// and where the presented certificate's fingerprint will be recorded.
pub(crate) fn client_config(
    trust: &Trust,
    alpn: &[&[u8]],
) -> Result<(Arc<rustls::ClientConfig>, Presented), ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let policy = match trust {
        Trust::System => Policy::Authorities(authorities(system_roots()?, &provider)?),
        Trust::Roots(certs) => Policy::Authorities(authorities(certs.clone(), &provider)?),
        Trust::Pin(pin) => Policy::Pin(*pin),
        Trust::Insecure => Policy::Anything,
    };
    let presented = Presented::default();
    let verifier = Verifier {
        policy,
        provider: provider.clone(),
        presented: presented.clone(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Config(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok((Arc::new(config), presented))
}

fn authorities(
    certs: Vec<CertificateDer<'static>>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, ClientError> {
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(ClientError::Config(
            "none of the trusted certificates could be used".into(),
        ));
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| ClientError::Config(format!("TLS: {e}")))
}

#[derive(Debug)]
enum Policy {
    Authorities(Arc<WebPkiServerVerifier>),
    Pin(CertificatePin),
    Anything,
}

/// Checks the certificate as the policy says; handshake signatures are always verified, so
/// a pinned certificate is only accepted from whoever holds its key.
#[derive(Debug)]
struct Verifier {
    policy: Policy,
    provider: Arc<CryptoProvider>,
    presented: Presented,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fingerprint = CertificatePin::of(end_entity);
        *self.presented.lock().expect("presented lock") = Some(fingerprint);
        match &self.policy {
            Policy::Authorities(webpki) => webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
            Policy::Pin(pin) if *pin == fingerprint => Ok(ServerCertVerified::assertion()),
            Policy::Pin(_) => Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            )),
            Policy::Anything => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A handshake failure as a client error; certificate refusals name the reason and the
/// fingerprint of what the server presented.
pub(crate) fn handshake_error(
    server: &str,
    host: &str,
    error: &std::io::Error,
    presented: &Presented,
) -> ClientError {
    let fingerprint = presented
        .lock()
        .expect("presented lock")
        .map_or_else(|| "unknown".to_owned(), |p| p.to_string());
    match error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(reason)) => ClientError::CertificateRejected {
            server: server.to_owned(),
            reason: describe(reason, host),
            fingerprint,
        },
        Some(other) => ClientError::Tls {
            server: server.to_owned(),
            reason: other.to_string(),
        },
        None => ClientError::Tls {
            server: server.to_owned(),
            reason: error.to_string(),
        },
    }
}

fn describe(reason: &CertificateError, host: &str) -> String {
    match reason {
        // A self-signed certificate checked against another one with the same subject fails
        // its signature check rather than its issuer lookup: both mean "not trusted".
        CertificateError::UnknownIssuer | CertificateError::BadSignature => {
            "it is not signed by an authority you trust".into()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("it is not made out to {host}")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "it has expired".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "it is not valid yet".into()
        }
        CertificateError::ApplicationVerificationFailure => {
            "it does not match the pinned fingerprint".into()
        }
        other => format!("it is invalid ({other:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_in_the_usual_spellings() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let pin: CertificatePin = hex.parse().unwrap();
        let shown = pin.to_string();
        assert!(
            shown.starts_with("00:11:22") && shown.ends_with("EE:FF") && shown.len() == 95,
            "{shown}"
        );
        assert_eq!(shown.parse::<CertificatePin>().unwrap(), pin);
        assert_eq!(
            format!("sha256:{hex}").parse::<CertificatePin>().unwrap(),
            pin
        );
        assert_eq!(
            format!("sha256 Fingerprint={shown}")
                .parse::<CertificatePin>()
                .unwrap(),
            pin
        );
        for bad in ["", "00", &hex[1..], &format!("{}zz", &hex[2..])] {
            assert!(bad.parse::<CertificatePin>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_pin_is_the_sha256_of_the_der() {
        assert_eq!(
            CertificatePin::of(b"abc")
                .to_string()
                .replace(':', "")
                .to_ascii_lowercase(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
