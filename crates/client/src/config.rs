//! What a client is told before it connects: where, as whom, how securely, how patiently.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::error::ClientError;
use crate::tls::Trust;

/// Everything [`crate::Client::connect`] needs.
#[derive(Clone)]
pub struct ClientConfig {
    /// The servers of one installation or pool, each `HOST:PORT` (`[v6]:PORT` for IPv6;
    /// without a port, 5061 for TLS and 5060 for TCP). A host name that resolves to several
    /// addresses counts as that many servers. The first sign-in tries them in this order;
    /// after a lost connection they are tried shuffled, the lost one last (docs/protocol.md,
    /// "The client").
    pub servers: Vec<String>,
    /// The account, `alice@example.com` (a `sip:` prefix is accepted).
    pub user: String,
    pub password: String,
    pub transport: Transport,
    pub reconnect: Reconnect,
    /// Messages of history fetched with every join (at least 1: the newest one seen is
    /// where catch-up after a reconnect starts).
    pub join_history: u32,
    /// How long one request may wait for its answer (RFC 3261 Timer F by default).
    pub request_timeout: Duration,
    /// How long opening the connection (TCP and TLS handshake) may take.
    pub connect_timeout: Duration,
    /// After this long without hearing from the server, an OPTIONS asks whether it is
    /// still there: a server that died without closing the connection (its machine lost
    /// power, a network between went down) is noticed even when nothing else is said.
    pub ping_interval: Duration,
    /// How long that OPTIONS may wait for any answer before the connection counts as lost.
    pub ping_timeout: Duration,
    /// The local address to connect from; the system chooses when `None`. Many clients on
    /// one machine need several (each source address has its own ephemeral ports).
    pub local_address: Option<IpAddr>,
}

/// How the connection is carried.
#[derive(Debug, Clone)]
pub enum Transport {
    /// SIP over TLS, trusting the server's certificate as [`Trust`] says.
    Tls(Trust),
    /// SIP over plain TCP: only when asked for, nothing is encrypted.
    Tcp,
}

/// Back-off between reconnect attempts (each tries every server once): doubles from
/// `first_delay` up to `max_delay`, with ±20 % jitter.
#[derive(Debug, Clone)]
pub struct Reconnect {
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Give up after this many failed attempts in a row; `None` tries for ever.
    pub max_attempts: Option<u32>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

impl ClientConfig {
    /// Settings for one server; more go into [`ClientConfig::servers`].
    pub fn new(
        server: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<String>,
        transport: Transport,
    ) -> Self {
        ClientConfig {
            servers: vec![server.into()],
            user: user.into(),
            password: password.into(),
            transport,
            reconnect: Reconnect::default(),
            join_history: 25,
            request_timeout: Duration::from_secs(32),
            connect_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(15),
            ping_timeout: Duration::from_secs(5),
            local_address: None,
        }
    }
}

// The password stays out of logs and panic messages.
impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("servers", &self.servers)
            .field("user", &self.user)
            .field("transport", &self.transport)
            .field("reconnect", &self.reconnect)
            .field("join_history", &self.join_history)
            .field("local_address", &self.local_address)
            .finish_non_exhaustive()
    }
}

/// The account, split: `user@domain`, and its address of record `sip:user@domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub user: String,
    pub domain: String,
    pub aor: String,
}

impl Identity {
    pub fn parse(account: &str) -> Result<Identity, ClientError> {
        let bare = account.trim();
        let bare = bare.strip_prefix("sip:").unwrap_or(bare);
        let invalid = || {
            ClientError::Config(format!(
                "{account:?} is not an account of the form user@domain"
            ))
        };
        let (user, domain) = bare.split_once('@').ok_or_else(invalid)?;
        let aor = format!("sip:{user}@{domain}");
        let parsed = sip_proto::Uri::parse(&aor).map_err(|_| invalid())?;
        let sip = parsed
            .as_sip()
            .filter(|u| u.port.is_none() && u.params.is_empty() && u.password.is_none());
        if user.is_empty() || domain.is_empty() || sip.is_none() {
            return Err(invalid());
        }
        Ok(Identity {
            user: user.to_owned(),
            domain: domain.to_ascii_lowercase(),
            aor: format!("sip:{user}@{}", domain.to_ascii_lowercase()),
        })
    }
}

/// `HOST:PORT` split, so that TLS can check the certificate against the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerAddr {
    pub host: String,
    pub port: u16,
}

impl ServerAddr {
    pub fn parse(server: &str, default_port: u16) -> Result<ServerAddr, ClientError> {
        let invalid = |why: &str| {
            ClientError::Config(format!(
                "{server:?} is not a server address ({why}); use HOST:PORT"
            ))
        };
        let s = server.trim();
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| invalid("unclosed ["))?;
            match after {
                "" => (host, None),
                p => (
                    host,
                    Some(p.strip_prefix(':').ok_or_else(|| invalid("text after ]"))?),
                ),
            }
        } else {
            match s.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => (s, None),
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let port = match port {
            Some(p) => p
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| invalid("bad port"))?,
            None => default_port,
        };
        Ok(ServerAddr {
            host: host.to_owned(),
            port,
        })
    }
}

impl ServerAddr {
    /// This server as people write it, with the address dialled after it when the host is
    /// a name.
    pub fn at(&self, addr: std::net::SocketAddr) -> String {
        if self.host == addr.ip().to_string() {
            self.to_string()
        } else {
            format!("{self} ({addr})")
        }
    }
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts() {
        let id = Identity::parse("sip:alice@Example.COM").unwrap();
        assert_eq!(
            (id.user.as_str(), id.domain.as_str(), id.aor.as_str()),
            ("alice", "example.com", "sip:alice@example.com")
        );
        assert_eq!(
            Identity::parse("bob@example.test").unwrap().aor,
            "sip:bob@example.test"
        );
        for bad in [
            "alice",
            "@example.com",
            "alice@",
            "alice@exa mple.com",
            "alice@example.com:5060",
        ] {
            assert!(
                matches!(Identity::parse(bad), Err(ClientError::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn server_addresses() {
        assert_eq!(
            ServerAddr::parse("127.0.0.1:5061", 1).unwrap(),
            ServerAddr {
                host: "127.0.0.1".into(),
                port: 5061
            }
        );
        assert_eq!(
            ServerAddr::parse("chat.example.com", 5061).unwrap().port,
            5061
        );
        assert_eq!(
            ServerAddr::parse("[::1]:7000", 1).unwrap(),
            ServerAddr {
                host: "::1".into(),
                port: 7000
            }
        );
        assert_eq!(
            ServerAddr::parse("::1", 5060).unwrap().to_string(),
            "[::1]:5060"
        );
        for bad in ["", ":5061", "host:0", "host:x", "[::1", "[::1]x"] {
            assert!(ServerAddr::parse(bad, 5061).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let c = ClientConfig::new("h:1", "a@b", "hunter2", Transport::Tcp);
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
