//! SIGHUP: what a running server takes from its configuration file without a restart.
//!
//! Live: the TLS certificate and key (`[tls] cert`/`key`, or the self-signed pair, read
//! again even when the paths did not change, which is how a renewed certificate is put in
//! place) and the log filter (`[log] level`, applied by the binary, which owns the
//! logger). Everything else is read at start into the structures that use it (limits
//! into each listener and service, addresses into bound sockets, the domain into every
//! URI handed out): a change there is reported as waiting for a restart and not applied
//! halfway.
//!
//! A reload is all or nothing: a configuration that does not validate, or a certificate
//! that cannot be read or does not match its key, is refused and the server keeps what it
//! runs with.

use crate::Server;
use crate::config::{Config, ConfigError};
use crate::tls::{Certificate, TlsError};

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the certificate is refused: {0}")]
    Tls(#[from] TlsError),
}

/// What a reload did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// The certificate now presented to new TLS handshakes, when TLS is on.
    pub certificate: Option<String>,
    /// Sections whose new values wait for a restart (`"sip"`, `"web"`, …).
    pub need_restart: Vec<&'static str>,
}

impl Server {
    /// Applies what can change live from `new`; see the module documentation.
    pub fn reload(&mut self, new: Config) -> Result<Reloaded, ReloadError> {
        new.validate()?;
        let certificate = match &self.certificate_slot {
            Some(slot) => {
                let certificate = Certificate::load(
                    new.tls.cert.as_deref(),
                    new.tls.key.as_deref(),
                    &self.config.data_dir,
                    &crate::tls::names(&self.config),
                )?;
                slot.replace(&certificate);
                let path = certificate.info.cert_path.display().to_string();
                self.certificate = Some(certificate.info);
                Some(path)
            }
            None => None,
        };
        let need_restart = restart_only_changes(&self.config, &new);
        // What waits for a restart stays as it runs, so that the next reload names it again.
        self.config.tls = new.tls;
        self.config.log = new.log;
        Ok(Reloaded {
            certificate,
            need_restart,
        })
    }
}

/// The sections of `new` that differ from `old` and apply only at start.
fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    // Every section derives Debug over all its fields: equal renderings, equal values.
    let same =
        |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") == format!("{b:?}");
    let sections: [(&'static str, &dyn std::fmt::Debug, &dyn std::fmt::Debug); 15] = [
        ("domain", &old.domain, &new.domain),
        ("data_dir", &old.data_dir, &new.data_dir),
        (
            "admin_changes_poll_ms",
            &old.admin_changes_poll_ms,
            &new.admin_changes_poll_ms,
        ),
        ("sip", &old.sip, &new.sip),
        ("tls.hostnames", &old.tls.hostnames, &new.tls.hostnames),
        ("auth", &old.auth, &new.auth),
        ("registrar", &old.registrar, &new.registrar),
        ("chat", &old.chat, &new.chat),
        ("web", &old.web, &new.web),
        ("files", &old.files, &new.files),
        ("retention", &old.retention, &new.retention),
        ("compliance", &old.compliance, &new.compliance),
        ("manage", &old.manage, &new.manage),
        ("admin", &old.admin, &new.admin),
        ("bus", &old.bus, &new.bus),
    ];
    sections
        .into_iter()
        .filter(|(_, a, b)| !same(a, b))
        .map(|(name, _, _)| name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sections_that_changed_are_named() {
        let old = Config::default();
        let mut new = old.clone();
        assert!(restart_only_changes(&old, &new).is_empty());
        new.sip.max_connections += 1;
        new.log.level = "debug".into();
        new.tls.cert = Some("/elsewhere.pem".into());
        new.manage.max_sessions += 1;
        assert_eq!(restart_only_changes(&old, &new), ["sip", "manage"]);
    }
}
