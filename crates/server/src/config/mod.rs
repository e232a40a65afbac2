//! Server configuration: one TOML file, every key optional, unknown keys rejected.
//! `docs/configuration.md` documents every key; keep the two in step.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;
use sip_proto::auth::Algorithm;

mod archive;
mod observe;
mod pool;
mod web;

pub use archive::{ComplianceConfig, RetentionConfig};
pub use observe::{AdminConfig, LogConfig};
pub use pool::PoolConfig;
pub use web::{FilesConfig, ManageConfig, WebConfig};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The SIP domain users belong to (`alice@<domain>`). Default: the host's name.
    pub domain: String,
    /// Where the database, keys and certificates live.
    pub data_dir: PathBuf,
    /// How often the server reads what the admin commands changed (roles, room privacy,
    /// passwords, disabled or removed accounts, unlocks) to apply it to live sessions.
    pub admin_changes_poll_ms: u64,
    pub sip: SipConfig,
    pub tls: TlsConfig,
    pub auth: AuthConfig,
    pub registrar: RegistrarConfig,
    pub chat: ChatConfig,
    pub web: WebConfig,
    pub files: FilesConfig,
    pub retention: RetentionConfig,
    pub compliance: ComplianceConfig,
    pub manage: ManageConfig,
    pub admin: AdminConfig,
    pub log: LogConfig,
    pub store: StoreConfig,
    pub bus: BusConfig,
    pub pool: PoolConfig,
}

/// How the nodes of a pool reach each other; without a URL the server is a single node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// The pool's NATS server, `nats://host:4222` (`tls://` for TLS); every node of the pool
    /// names the same one, and the same PostgreSQL `store.url`.
    pub url: Option<String>,
    /// How often a node compares what its sessions were given with the store's newest
    /// messages, and delivers what the relay lost.
    pub repair_interval_ms: u64,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            url: None,
            repair_interval_ms: 5000,
        }
    }
}

/// Where the server's state and history live.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite:PATH` or `postgres://user@host/database` (the password from `PGPASSWORD` or
    /// `~/.pgpass`, best kept out of the URL); default: `parlance.db` in the data directory.
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// Plain TCP listener; `None` (`"off"` or an empty string in TOML) disables it.
    #[serde(deserialize_with = "optional_addr")]
    pub tcp_listen: Option<SocketAddr>,
    /// TLS listener; `None` disables it.
    #[serde(deserialize_with = "optional_addr")]
    pub tls_listen: Option<SocketAddr>,
    /// Open connections at most; further ones are closed at once.
    pub max_connections: usize,
    /// A connection that sends nothing (not even a CRLF keep-alive) for this long is closed.
    pub idle_timeout_secs: u64,
    /// A message started must be complete within this many seconds (slow senders).
    pub message_timeout_secs: u64,
    /// The keep-alive interval asked of clients (`ms-keep-alive: … timeout=`).
    pub keep_alive_secs: u64,
    pub max_head_bytes: usize,
    pub max_headers: usize,
    pub max_body_bytes: usize,
    /// Bytes queued for one connection at most; a client that does not read is dropped.
    pub write_queue_bytes: usize,
    /// Requests one connection may have relayed and still unanswered; more get 503.
    pub max_pending_per_connection: usize,
    /// Open connections one source address may hold; further ones are closed at once.
    pub max_connections_per_address: usize,
    /// A connection that has not authenticated (REGISTER) within this long is closed.
    pub auth_timeout_secs: u64,
    /// How long TLS handshakes may take.
    pub handshake_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain; when unset a self-signed certificate is created in data_dir.
    pub cert: Option<PathBuf>,
    /// PEM private key for `cert`.
    pub key: Option<PathBuf>,
    /// Names the self-signed certificate is made for (besides the domain).
    pub hostnames: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Digest realm; defaults to the domain. Changing it invalidates stored Digest secrets.
    pub realm: Option<String>,
    /// Source networks (CIDR) whose REGISTERs are accepted without authentication. Off by
    /// default; meant for clients that speak no Digest (pidgin-sipe) on a trusted network.
    pub trusted_networks: Vec<String>,
    /// Digest algorithms offered, in this order. Many deployed clients (sipp among them) answer
    /// only the first challenge and know only MD5, so MD5 leads by default.
    pub digest_algorithms: Vec<String>,
    /// Offer NTLM with message signing (MS-SIPAE), which pidgin-sipe and Lync-family
    /// clients speak, next to Digest.
    pub ntlm: bool,
    /// The `targetname` of NTLM challenges: this server's host name; default the domain.
    pub ntlm_targetname: Option<String>,
    /// Lifetime of a Digest nonce; an older one is answered with `stale=true`.
    pub nonce_lifetime_secs: u64,
    /// Failed sign-ins for one account from one source address before that pair waits
    /// between attempts. Failures from other addresses never hold up the account.
    pub max_failures_per_account_address: u32,
    /// Failed sign-ins from one source address, whatever the accounts, before that address
    /// waits between attempts.
    pub max_failures_per_address: u32,
    /// The first wait; each further failure doubles it, up to `max_failure_delay_secs`.
    pub failure_delay_secs: u64,
    pub max_failure_delay_secs: u64,
    /// Failures are forgotten after this long without a new one.
    pub failure_window_secs: u64,
    /// The fewest characters a password set by `parlance user add|passwd` may have.
    pub min_password_length: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrarConfig {
    pub min_expires_secs: u32,
    pub max_expires_secs: u32,
    pub default_expires_secs: u32,
    /// Bindings one user may hold at once.
    pub max_bindings_per_user: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatConfig {
    /// The persistent chat pool (lookup) URI; default `sip:ocschat@<domain>`.
    pub pool_uri: Option<String>,
    /// This server's channel service URI, which `cmd:requri` hands out when it chooses this
    /// server; default `sip:chatsrv@<domain>`. Each server of a pool needs its own.
    pub channel_uri: Option<String>,
    /// Results of any search at most.
    pub search_limit: u32,
    /// Longest search query (history text or room-search criteria), in bytes.
    pub search_max_bytes: usize,
    /// Most words in a history search.
    pub search_max_terms: usize,
    /// A search still running after this long is stopped and refused.
    pub search_time_limit_ms: u64,
    /// Searches one user may make at once, then `searches_per_minute` on average.
    pub search_burst: u32,
    pub searches_per_minute: u32,
    /// Largest chat message, in bytes of UTF-8.
    pub message_size_limit: u32,
    /// Largest story (a message starting `[STORY]`), in bytes.
    pub story_size_limit: u32,
    /// History messages sent when a client asks for none, and the most one request gets.
    pub history_default: u32,
    pub history_max: u32,
    /// Rooms with more people present than this hide their roster: no join/part notices,
    /// and join replies list only the joiner (Lync Server's ParticipantUpdateLimit).
    pub participant_update_limit: u32,
    /// Chat dialogs not refreshed (UPDATE, INFO) within this long end.
    pub session_expires_secs: u64,
    /// Chat dialogs one user may hold at once, over all their connections.
    pub max_sessions_per_user: usize,
    /// Bytes one user's stored client preferences (`cmd:setpref`) may take in all.
    pub preference_quota_bytes: u64,
    /// Room-management web application URL for internal clients (MS-PCWP base URL);
    /// default, while the HTTPS listener is on, Parlance's own:
    /// `<web.public_url>/PersistentChat/RM/`.
    pub web_manager_url_internal: Option<String>,
    /// The same for external clients; defaults to the internal one.
    pub web_manager_url_external: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            domain: default_domain(),
            data_dir: PathBuf::from("parlance-data"),
            admin_changes_poll_ms: 1000,
            sip: SipConfig::default(),
            tls: TlsConfig::default(),
            auth: AuthConfig::default(),
            registrar: RegistrarConfig::default(),
            chat: ChatConfig::default(),
            web: WebConfig::default(),
            files: FilesConfig::default(),
            retention: RetentionConfig::default(),
            compliance: ComplianceConfig::default(),
            manage: ManageConfig::default(),
            admin: AdminConfig::default(),
            log: LogConfig::default(),
            store: StoreConfig::default(),
            bus: BusConfig::default(),
            pool: PoolConfig::default(),
        }
    }
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            tcp_listen: Some(SocketAddr::from(([0, 0, 0, 0], 5060))),
            tls_listen: Some(SocketAddr::from(([0, 0, 0, 0], 5061))),
            max_connections: 20_000,
            idle_timeout_secs: 900,
            message_timeout_secs: 30,
            keep_alive_secs: 300,
            max_head_bytes: 16 * 1024,
            max_headers: 100,
            max_body_bytes: 256 * 1024,
            write_queue_bytes: 8 * 1024 * 1024,
            max_pending_per_connection: 32,
            max_connections_per_address: 256,
            auth_timeout_secs: 60,
            handshake_timeout_secs: 15,
        }
    }
}

impl SipConfig {
    /// What one SIP message may be: the listeners frame by it, and a pool node applies it
    /// again to what another node relays.
    pub fn message_limits(&self) -> sip_proto::Limits {
        sip_proto::Limits {
            max_head: self.max_head_bytes,
            max_request_line: self.max_head_bytes.min(8192),
            max_headers: self.max_headers,
            max_body: self.max_body_bytes,
        }
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert: None,
            key: None,
            hostnames: vec!["localhost".into(), "127.0.0.1".into()],
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            realm: None,
            trusted_networks: Vec::new(),
            digest_algorithms: vec!["MD5".into(), "SHA-256".into()],
            ntlm: true,
            ntlm_targetname: None,
            nonce_lifetime_secs: 300,
            max_failures_per_account_address: 5,
            max_failures_per_address: 30,
            failure_delay_secs: 1,
            max_failure_delay_secs: 300,
            failure_window_secs: 900,
            min_password_length: 8,
        }
    }
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            min_expires_secs: 60,
            max_expires_secs: 7200,
            default_expires_secs: 3600,
            max_bindings_per_user: 16,
        }
    }
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            pool_uri: None,
            channel_uri: None,
            search_limit: 999,
            search_max_bytes: 1024,
            search_max_terms: 16,
            search_time_limit_ms: 1000,
            search_burst: 10,
            searches_per_minute: 30,
            message_size_limit: 16 * 1024,
            story_size_limit: 64 * 1024,
            history_default: 25,
            history_max: 500,
            participant_update_limit: 75,
            session_expires_secs: 1800,
            max_sessions_per_user: 16,
            preference_quota_bytes: 256 * 1024,
            web_manager_url_internal: None,
            web_manager_url_external: None,
        }
    }
}

impl Config {
    /// `auth.trusted_networks`, parsed.
    pub fn trusted_networks(&self) -> Result<Vec<IpNet>, ConfigError> {
        parse_networks("auth.trusted_networks", &self.auth.trusted_networks)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.display().to_string(),
            source: Box::new(source),
        })?;
        // A relative data_dir names a directory beside the file, as a reader of the file
        // expects, whichever directory the command runs from.
        if config.data_dir.is_relative()
            && let Some(parent) = path.parent()
        {
            config.data_dir = parent.join(&config.data_dir);
        }
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if let Some(url) = &self.store.url
            && let Err(e) = parlance_store::StoreUrl::parse(url)
        {
            return bad(format!("store.url: {e}"));
        }
        if let Some(url) = &self.bus.url {
            if !["nats://", "tls://"].iter().any(|s| url.starts_with(s)) {
                return bad(format!(
                    "bus.url {url:?}: not nats://host:port or tls://host:port"
                ));
            }
            if self
                .store
                .url
                .as_deref()
                .is_none_or(|u| !u.starts_with("postgres"))
            {
                return bad(
                    "bus.url needs a store every node shares: set store.url to PostgreSQL".into(),
                );
            }
        }
        if self.bus.repair_interval_ms == 0 {
            return bad("bus.repair_interval_ms must be at least 1".into());
        }
        if self.domain.is_empty() || self.domain.contains(['@', ':', '/', ' ']) {
            return bad(format!("domain {:?} is not a host name", self.domain));
        }
        if self.sip.tcp_listen.is_none() && self.sip.tls_listen.is_none() {
            return bad("both SIP listeners are disabled".into());
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return bad("tls.cert and tls.key go together".into());
        }
        let r = &self.registrar;
        if !(r.min_expires_secs <= r.default_expires_secs
            && r.default_expires_secs <= r.max_expires_secs)
        {
            return bad(
                "registrar: need min_expires_secs <= default_expires_secs <= max_expires_secs"
                    .into(),
            );
        }
        self.digest_algorithms()?;
        let a = &self.auth;
        if a.max_failures_per_account_address == 0 || a.max_failures_per_address == 0 {
            return bad("auth.max_failures_per_…: at least 1".into());
        }
        if a.min_password_length == 0 {
            return bad("auth.min_password_length: at least 1".into());
        }
        if a.failure_delay_secs == 0 || a.max_failure_delay_secs < a.failure_delay_secs {
            return bad("auth: need 1 <= failure_delay_secs <= max_failure_delay_secs".into());
        }
        if self.admin_changes_poll_ms == 0 {
            return bad("admin_changes_poll_ms must be at least 1".into());
        }
        self.trusted_networks()?;
        for (key, uri) in [
            ("chat.pool_uri", self.pool_uri()),
            ("chat.channel_uri", self.channel_uri()),
        ] {
            if !matches!(sip_proto::Uri::parse(&uri), Ok(sip_proto::Uri::Sip(ref u)) if u.user.is_some())
            {
                return bad(format!("{key} {uri:?} is not a sip:user@host URI"));
            }
        }
        if self.pool_uri() == self.channel_uri() {
            return bad("chat.pool_uri and chat.channel_uri must differ".into());
        }
        let c = &self.chat;
        for (key, value) in [
            ("chat.search_max_bytes", c.search_max_bytes as u64),
            ("chat.search_max_terms", c.search_max_terms as u64),
            ("chat.search_time_limit_ms", c.search_time_limit_ms),
            ("chat.search_burst", u64::from(c.search_burst)),
            ("chat.searches_per_minute", u64::from(c.searches_per_minute)),
        ] {
            if value == 0 {
                return bad(format!("{key} must be at least 1"));
            }
        }
        // Clients refresh 10 s before the end (sipe), so a shorter session could not live.
        if self.chat.session_expires_secs < 20 {
            return bad("chat.session_expires_secs must be at least 20".into());
        }
        self.validate_web()?;
        self.validate_observe()?;
        self.validate_pool()?;
        self.validate_archive()
    }

    /// The offered Digest algorithms, checked: MD5 and SHA-256, each at most once.
    pub fn digest_algorithms(&self) -> Result<Vec<Algorithm>, ConfigError> {
        let mut out = Vec::new();
        for name in &self.auth.digest_algorithms {
            match Algorithm::parse(name) {
                Some(a @ (Algorithm::Md5 | Algorithm::Sha256)) if !out.contains(&a) => out.push(a),
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "auth.digest_algorithms: {name:?} is not MD5 or SHA-256, or repeats"
                    )));
                }
            }
        }
        if out.is_empty() {
            return Err(ConfigError::Invalid(
                "auth.digest_algorithms is empty".into(),
            ));
        }
        Ok(out)
    }

    pub fn realm(&self) -> &str {
        self.auth.realm.as_deref().unwrap_or(&self.domain)
    }

    pub fn pool_uri(&self) -> String {
        self.chat
            .pool_uri
            .clone()
            .unwrap_or_else(|| format!("sip:ocschat@{}", self.domain))
    }

    pub fn channel_uri(&self) -> String {
        self.chat
            .channel_uri
            .clone()
            .unwrap_or_else(|| format!("sip:chatsrv@{}", self.domain))
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("parlance.db")
    }

    /// The store the server opens: `store.url`, or the SQLite file in the data directory.
    pub fn store_url(&self) -> String {
        self.store
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", self.database_path().display()))
    }

    pub fn server_key_path(&self) -> PathBuf {
        self.data_dir.join("server.key")
    }

    /// The lock a running server holds (docs/operations.md, "The lock").
    pub fn lock_path(&self) -> PathBuf {
        self.data_dir.join("parlance.lock")
    }
}

fn default_domain() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty() && !s.contains(['@', ':', '/', ' ']))
        .unwrap_or_else(|| "localhost".into())
}

fn optional_addr<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() || s.trim() == "off" {
        return Ok(None);
    }
    s.parse().map(Some).map_err(serde::de::Error::custom)
}

/// A list of networks under `key`, each parsed by [`parse_network`].
fn parse_networks(key: &str, list: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    list.iter()
        .map(|n| {
            parse_network(n).ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "{key}: {n:?} is not a CIDR network such as 192.0.2.0/24"
                ))
            })
        })
        .collect()
}

/// `192.0.2.0/24`, `::1/128`, or a bare address (that host alone).
pub fn parse_network(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<Config>("domain = \"x\"\nbogus = 1").unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
        let err = toml::from_str::<Config>("[sip]\ntcp_listn = \"\"").unwrap_err();
        assert!(err.to_string().contains("tcp_listn"), "{err}");
    }

    #[test]
    fn listeners_can_be_disabled_and_values_checked() {
        let c: Config =
            toml::from_str("domain = \"example.com\"\n[sip]\ntcp_listen = \"\"").unwrap();
        assert_eq!(c.sip.tcp_listen, None);
        c.validate().unwrap();
        assert_eq!(c.pool_uri(), "sip:ocschat@example.com");
        assert_eq!(c.realm(), "example.com");
        let c: Config = toml::from_str(
            "domain = \"example.com\"\n[auth]\ntrusted_networks = [\"10.0.0.0/33\"]",
        )
        .unwrap();
        assert!(c.validate().is_err());
        let c: Config = toml::from_str("domain = \"bad domain\"").unwrap();
        assert!(c.validate().is_err());
        let c: Config = toml::from_str(
            "domain = \"example.com\"\n[auth]\nfailure_delay_secs = 600\nmax_failure_delay_secs = 300",
        )
        .unwrap();
        assert!(c.validate().is_err(), "the first wait above the cap");
        let c: Config =
            toml::from_str("domain = \"example.com\"\nadmin_changes_poll_ms = 0").unwrap();
        assert!(c.validate().is_err());
        let c: Config =
            toml::from_str("domain = \"example.com\"\n[chat]\nsearches_per_minute = 0").unwrap();
        assert!(c.validate().is_err());
        let c: Config = toml::from_str("domain = \"example.com\"").unwrap();
        assert_eq!(c.store_url(), "sqlite:parlance-data/parlance.db");
        let c: Config = toml::from_str(
            "domain = \"example.com\"\n[store]\nurl = \"postgres://parlance@db.example.com/chat\"",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.store_url(), "postgres://parlance@db.example.com/chat");
        for bad in ["mysql://db/chat", "sqlite:", "parlance.db"] {
            let c: Config = toml::from_str(&format!(
                "domain = \"example.com\"\n[store]\nurl = \"{bad}\""
            ))
            .unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
        let c: Config = toml::from_str(
            "domain = \"example.com\"\n[store]\nurl = \"postgres://db/chat\"\n\
             [bus]\nurl = \"nats://127.0.0.1:4222\"",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.bus.repair_interval_ms, 5000);
        for bad in [
            "[bus]\nurl = \"nats://127.0.0.1:4222\"",
            "[store]\nurl = \"postgres://db/chat\"\n[bus]\nurl = \"http://nats\"",
            "[bus]\nrepair_interval_ms = 0",
        ] {
            let c: Config = toml::from_str(&format!("domain = \"example.com\"\n{bad}")).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
        let c: Config =
            toml::from_str("domain = \"example.com\"\n[retention]\ninterval_secs = 60").unwrap();
        c.validate().unwrap();
        assert_eq!((c.retention.interval_secs, c.retention.step), (60, 500));
        for bad in ["interval_secs = 0", "step = 0"] {
            let c: Config =
                toml::from_str(&format!("domain = \"example.com\"\n[retention]\n{bad}")).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
    }
}
