//! `[web]`, `[files]` and `[manage]`: the HTTPS listener and what it serves.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use ipnet::IpNet;

use super::{Config, ConfigError, optional_addr, parse_networks};
use crate::runtime::Priority;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// The HTTPS listener (file transfer); `None` (`"off"` in TOML) disables it, and with it
    /// file posting.
    #[serde(deserialize_with = "optional_addr")]
    pub listen: Option<SocketAddr>,
    /// The listener's address as clients reach it, `https://host[:port][/prefix]`; default
    /// `https://<domain>:<listen port>`. File tokens name the service under it.
    pub public_url: Option<String>,
    /// Open connections at most; further ones are closed at once.
    pub max_connections: usize,
    /// The TLS handshake, and then each request's head, must arrive within this long of the
    /// connection being ready for it (so an idle keep-alive connection lasts this long).
    pub header_timeout_secs: u64,
    /// A request body must arrive within this long plus the time its length takes at
    /// `min_body_kb_per_sec`: a slow uploader is cut off.
    pub body_timeout_secs: u64,
    pub min_body_kb_per_sec: u64,
    /// A connection on which no byte moves either way for this long is closed (a client
    /// that stops reading a download, or stops sending).
    pub idle_timeout_secs: u64,
    /// Threads that run HTTPS (TLS, SOAP, encryption at rest), apart from the chat's: file
    /// transfers, however many, use at most these and the file I/O threads, so that chat
    /// keeps its cores.
    pub threads: usize,
    /// How far below the chat's priority those threads run: `"idle"` (Linux's
    /// `SCHED_IDLE`), or a number of nice steps (0–19). Chat's fan-out gets the cores first
    /// when both want them.
    pub priority: Priority,
}

/// The room-management web application (MS-PCWP), served on the HTTPS listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManageConfig {
    /// A browser session not used for this long ends.
    pub session_idle_secs: u64,
    /// A browser session ends this long after sign-in, used or not.
    pub session_max_secs: u64,
    /// Signed-in browser sessions at most, over all users; a sign-in beyond it is refused.
    pub max_sessions: usize,
    /// Client networks (CIDR) whose users are outside: they are given the external
    /// room-management URL (`chat.web_manager_url_external`), in provisioning and in
    /// `getserverinfo`, and everyone else the internal one.
    pub external_networks: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesConfig {
    /// Where posted files are stored (encrypted); default `<data_dir>/files`.
    pub dir: Option<PathBuf>,
    /// The largest file, in KiB.
    pub max_file_size_kb: u64,
    /// The largest chunk of one `AppendChunk` or `DownloadChunk`, in KiB.
    pub max_chunk_kb: u64,
    /// What one room's files may take in all, in MiB.
    pub room_quota_mb: u64,
    /// Files one room may hold (uploads in progress count), whatever their size.
    pub max_files_per_room: u64,
    /// How long a file token stays valid after it is issued.
    pub token_lifetime_secs: u64,
    /// Live file tokens one user may hold.
    pub max_tokens_per_user: u32,
    /// Uploads one user may have in progress at once.
    pub max_uploads_per_user: usize,
    /// The longest a step of a file transfer waits for chat output queued on the
    /// connections to go out first; 0: transfers never wait. After a wait this long,
    /// transfers go on as long without waiting. Longer than a busy room's fan-out under
    /// load (40–100 ms to a thousand members on two cores), so that transfers do not take
    /// the cores back half-way through one: at 20 ms they did, and a room's p99 under fifty
    /// uploads was 1.8× its p99 without; at 100, 1.4×, the uploads as fast (BENCHMARKS.md,
    /// "Files (TLS)").
    pub yield_to_chat_ms: u64,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            listen: Some(SocketAddr::from(([0, 0, 0, 0], 8443))),
            public_url: None,
            max_connections: 1024,
            header_timeout_secs: 30,
            body_timeout_secs: 30,
            min_body_kb_per_sec: 8,
            idle_timeout_secs: 60,
            threads: 1,
            priority: Priority::Nice(19),
        }
    }
}

impl Default for ManageConfig {
    fn default() -> Self {
        ManageConfig {
            session_idle_secs: 1800,
            session_max_secs: 12 * 3600,
            max_sessions: 10_000,
            external_networks: Vec::new(),
        }
    }
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig {
            dir: None,
            max_file_size_kb: 20 * 1024,
            max_chunk_kb: 1024,
            room_quota_mb: 1024,
            max_files_per_room: 100_000,
            token_lifetime_secs: 1800,
            max_tokens_per_user: 64,
            max_uploads_per_user: 4,
            yield_to_chat_ms: 100,
        }
    }
}

/// The largest `files.max_chunk_kb`, in KiB.
const MAX_CHUNK_KB: u64 = 16 * 1024;

impl Config {
    pub(super) fn validate_web(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if let Some(url) = &self.web.public_url {
            let valid = url.strip_prefix("https://").is_some_and(|rest| {
                let host = rest.split('/').next().unwrap_or_default();
                !host.is_empty() && !rest.contains(|c: char| c.is_whitespace() || "?#@".contains(c))
            });
            if !valid {
                return bad(format!(
                    "web.public_url {url:?} is not an https://host[:port][/prefix] URL"
                ));
            }
        }
        let (w, f) = (&self.web, &self.files);
        for (key, value) in [
            ("web.max_connections", w.max_connections as u64),
            ("web.header_timeout_secs", w.header_timeout_secs),
            ("web.body_timeout_secs", w.body_timeout_secs),
            ("web.min_body_kb_per_sec", w.min_body_kb_per_sec),
            ("web.idle_timeout_secs", w.idle_timeout_secs),
            ("web.threads", w.threads as u64),
            ("files.max_file_size_kb", f.max_file_size_kb),
            ("files.max_chunk_kb", f.max_chunk_kb),
            ("files.room_quota_mb", f.room_quota_mb),
            ("files.max_files_per_room", f.max_files_per_room),
            ("files.token_lifetime_secs", f.token_lifetime_secs),
            (
                "files.max_tokens_per_user",
                u64::from(f.max_tokens_per_user),
            ),
            ("files.max_uploads_per_user", f.max_uploads_per_user as u64),
            ("manage.session_idle_secs", self.manage.session_idle_secs),
            ("manage.session_max_secs", self.manage.session_max_secs),
            ("manage.max_sessions", self.manage.max_sessions as u64),
        ] {
            if value == 0 {
                return bad(format!("{key} must be at least 1"));
            }
        }
        self.external_networks()?;
        // A SOAP request carries a whole chunk, base64-encoded, and is held in memory.
        if f.max_chunk_kb > MAX_CHUNK_KB {
            return bad(format!("files.max_chunk_kb must be at most {MAX_CHUNK_KB}"));
        }
        // The "InKB" operations answer in a 64-bit count of KiB; past that, bytes overflow.
        if f.max_file_size_kb > u64::MAX >> 10 || f.room_quota_mb > u64::MAX >> 20 {
            return bad("files.max_file_size_kb or files.room_quota_mb is too large".into());
        }
        Ok(())
    }

    /// The HTTPS listener's public URL once it listens on `port`, without a trailing `/`.
    pub fn public_url(&self, port: u16) -> String {
        match &self.web.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("https://{}:{port}", self.domain),
        }
    }

    /// The room-management application's base URL for internal clients: the configured
    /// one, else Parlance's own while the HTTPS listener is on (its port given).
    pub fn web_manager_url(&self, https_port: Option<u16>) -> Option<String> {
        self.chat.web_manager_url_internal.clone().or_else(|| {
            https_port
                .map(|port| format!("{}{}", self.public_url(port), parlance_web::manage::BASE))
        })
    }

    /// `manage.external_networks`, parsed.
    pub fn external_networks(&self) -> Result<Vec<IpNet>, ConfigError> {
        parse_networks("manage.external_networks", &self.manage.external_networks)
    }

    pub fn files_dir(&self) -> PathBuf {
        self.files
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("files"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_https_listener_and_its_files_are_configured_and_checked() {
        let c: Config = toml::from_str("domain = \"example.com\"").unwrap();
        assert_eq!(c.web.listen, Some(SocketAddr::from(([0, 0, 0, 0], 8443))));
        assert_eq!(c.public_url(8443), "https://example.com:8443");
        assert_eq!(c.files_dir(), PathBuf::from("parlance-data/files"));
        let c: Config = toml::from_str(
            "domain = \"example.com\"\n[web]\nlisten = \"off\"\npublic_url = \"https://chat.example.com/pc/\"",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.web.listen, None);
        assert_eq!(
            c.public_url(8443),
            "https://chat.example.com/pc",
            "no trailing slash"
        );
        for bad in [
            "[web]\npublic_url = \"http://chat.example.com\"",
            "[web]\npublic_url = \"https://\"",
            "[web]\npublic_url = \"https://chat.example.com/?x=1\"",
            "[web]\nmax_connections = 0",
            "[web]\nmin_body_kb_per_sec = 0",
            "[files]\nmax_chunk_kb = 0",
            "[files]\nmax_chunk_kb = 16385",
            "[files]\nmax_uploads_per_user = 0",
            "[manage]\nexternal_networks = [\"203.0.113.0/33\"]",
            "[manage]\nexternal_networks = [\"outside\"]",
        ] {
            let c: Config = toml::from_str(&format!("domain = \"example.com\"\n{bad}")).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
        let err = toml::from_str::<Config>("[files]\nmax_file_size = 1").unwrap_err();
        assert!(err.to_string().contains("max_file_size"), "{err}");
        for bad in [
            "priority = -1",
            "priority = 20",
            "priority = \"lowest\"",
            "nice = 19",
        ] {
            let err = toml::from_str::<Config>(&format!("[web]\n{bad}")).unwrap_err();
            assert!(
                err.to_string().contains("priority") || err.to_string().contains("nice"),
                "{err}"
            );
        }
        let c: Config = toml::from_str("[web]\npriority = \"idle\"").unwrap();
        assert_eq!(c.web.priority, Priority::Idle);
        let c: Config = toml::from_str("[web]\npriority = 0").unwrap();
        assert_eq!(c.web.priority, Priority::Nice(0));
    }

    #[test]
    fn the_room_management_url_defaults_to_parlances_own() {
        let c: Config = toml::from_str("domain = \"example.com\"").unwrap();
        assert_eq!(
            c.web_manager_url(Some(8443)).as_deref(),
            Some("https://example.com:8443/PersistentChat/RM/")
        );
        assert_eq!(c.web_manager_url(None), None, "no listener, no application");
        let c: Config = toml::from_str(
            "domain = \"example.com\"\n[web]\npublic_url = \"https://chat.example.com/pc/\"",
        )
        .unwrap();
        assert_eq!(
            c.web_manager_url(Some(8443)).as_deref(),
            Some("https://chat.example.com/pc/PersistentChat/RM/")
        );
        let c: Config = toml::from_str(
            "domain = \"example.com\"\n[chat]\nweb_manager_url_internal = \"https://rm.example.com/?a=1\"",
        )
        .unwrap();
        assert_eq!(
            c.web_manager_url(Some(8443)).as_deref(),
            Some("https://rm.example.com/?a=1"),
            "the configured one"
        );
        for bad in [
            "[manage]\nmax_sessions = 0",
            "[manage]\nsession_idle_secs = 0",
        ] {
            let c: Config = toml::from_str(&format!("domain = \"example.com\"\n{bad}")).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
    }
}
