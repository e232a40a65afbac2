//! NTLM with message signing (MS-SIPAE) on top of the sans-IO `sipae` state machine: one
//! security association per connection, established by REGISTER, after which every message
//! in both directions is signed and checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use jiff::Timestamp;
use jiff::fmt::rfc2822::DateTimePrinter;
use parlance_store::{ServerKey, Store};
use sip_proto::auth::AuthHeader;
use sip_proto::{Headers, Message, Request, Response, name};
use sipae::{AuthenticateMessage, GssapiData, Inbound, MessageFields, NtHash, Verdict};

use crate::transport::{ConnHandle, ConnId, Signer};

/// What the front end does with a message after the NTLM check.
#[derive(Debug, PartialEq, Eq)]
pub enum Gate {
    /// No NTLM on this connection and none in the message: other rules decide.
    NotNtlm,
    /// Authentic, from the association's address-of-record.
    Authentic(String),
    /// A REGISTER that completed the handshake: register it for this address-of-record.
    Established(String),
    /// The check answered it already (a 401 of the handshake).
    Answered,
    /// The AUTHENTICATE was refused (wrong password, unknown account, …) and answered 401.
    Refused,
    /// The AUTHENTICATE proved one account's password for another's address (or for
    /// another principal than the connection's): the association was abandoned, the
    /// REGISTER answered 403. Close the connection.
    Impersonation,
    /// Drop it silently.
    Drop,
    /// Close the connection.
    Close,
}

#[derive(Debug)]
pub struct Ntlm {
    server: sipae::Server,
    store: Store,
    key: ServerKey,
    domain: String,
    sessions: Mutex<HashMap<ConnId, Arc<Security>>>,
}

/// One connection's NTLM state; also its signer.
#[derive(Debug, Default)]
struct Security {
    session: Mutex<sipae::Session>,
}

impl Signer for Security {
    fn sign(&self, message: &mut Message) {
        let (headers, status) = match message {
            Message::Request(r) => (&mut r.headers, None),
            // The handshake's 401s go out unsigned: the client has no keys for them.
            Message::Response(r) if r.status == 401 => return,
            Message::Response(r) => (&mut r.headers, Some(r.status)),
        };
        let mut session = self.session.lock().expect("ntlm session lock");
        if session.association().is_none() {
            return;
        }
        let signed = session.sign(
            &MessageFields::from_headers(headers, status),
            SystemTime::now(),
            &mut rand::rng(),
        );
        match signed {
            Ok(info) => headers.push(name::AUTHENTICATION_INFO, info.to_header_value()),
            Err(e) => tracing::warn!(error = %e, "message left unsigned"),
        }
    }
}

impl Ntlm {
    pub fn new(
        config: sipae::ServerConfig,
        store: Store,
        key: ServerKey,
        domain: &str,
    ) -> Result<Ntlm, sipae::ConfigError> {
        Ok(Ntlm {
            server: sipae::Server::new(config)?,
            store,
            key,
            domain: domain.to_owned(),
            sessions: Mutex::new(HashMap::new()),
        })
    }

    /// The `WWW-Authenticate` value offering NTLM.
    pub fn offer(&self) -> String {
        self.server.offer()
    }

    /// The account an AUTHENTICATE names: `user@domain` as sent, or the user in our domain
    /// (the NTLM domain is a Windows domain name, not the SIP one).
    fn account_of(&self, user: &str) -> String {
        let user = user.to_ascii_lowercase();
        if user.contains('@') {
            format!("sip:{user}")
        } else {
            format!("sip:{user}@{}", self.domain)
        }
    }

    /// The account named by an AUTHENTICATE in these credentials, if there is one.
    pub fn authenticating_account(&self, headers: &Headers) -> Option<String> {
        let creds = self.server.find_credentials(credential_values(headers))?;
        let GssapiData::Token(token) = &creds.gssapi_data else {
            return None;
        };
        let message = AuthenticateMessage::decode(token).ok()?;
        Some(self.account_of(&message.user))
    }

    /// Checks one incoming message; answers the handshake's 401s itself.
    pub async fn check(&self, conn: &ConnHandle, message: &Message) -> Gate {
        let headers = message.headers();
        let offers_ntlm = credential_values(headers)
            .any(|v| AuthHeader::parse(v).is_ok_and(|h| h.is_scheme(sipae::SCHEME)));
        let security = {
            let mut sessions = self.sessions.lock().expect("ntlm sessions lock");
            match sessions.get(&conn.id()) {
                Some(s) => s.clone(),
                None if !offers_ntlm => return Gate::NotNtlm,
                None => {
                    let s = Arc::new(Security::default());
                    sessions.insert(conn.id(), s.clone());
                    conn.set_signer(s.clone());
                    s
                }
            }
        };
        // The NT hash is looked up before the state machine runs, which cannot wait.
        let nt_hash = match self.authenticating_account(headers) {
            Some(account) => match self.store.nt_hash(&account, &self.key).await {
                Ok(hash) => hash.map(NtHash::from_bytes),
                Err(e) => {
                    tracing::error!(error = %e, %account, "NT hash lookup failed");
                    None
                }
            },
            None => None,
        };
        let inbound = match message {
            Message::Request(r) => Inbound::of_request(r),
            Message::Response(r) => Inbound::of_response(r),
        };
        let (verdict, aor, account) = {
            let mut session = security.session.lock().expect("ntlm session lock");
            let verdict = session.handle(
                &self.server,
                &inbound,
                SystemTime::now(),
                &mut rand::rng(),
                |_| nt_hash,
            );
            let aor = session.association().map(|a| normalise_aor(a.aor()));
            let account = session.identity().map(|id| self.account_of(&id.user));
            (verdict, aor, account)
        };
        match verdict {
            Verdict::Authentic => aor.map_or(Gate::Drop, Gate::Authentic),
            Verdict::Established => {
                let Some(aor) = aor else { return Gate::Drop };
                // The signature proves only that the client holds `account`'s password: the
                // address it registers must be that account's, and a connection stays with
                // the principal it first authenticated as.
                let owner = conn.identity();
                if account.as_deref() == Some(aor.as_str())
                    && owner.as_ref().is_none_or(|o| *o == aor)
                {
                    return Gate::Established(aor);
                }
                security
                    .session
                    .lock()
                    .expect("ntlm session lock")
                    .abandon();
                tracing::warn!(
                    conn = conn.id(),
                    peer = %conn.peer(),
                    account = account.as_deref().unwrap_or("?"),
                    %aor,
                    connection_identity = owner.as_deref().unwrap_or("none"),
                    "NTLM REGISTER for an address that is not the authenticated account's: refused"
                );
                if let Message::Request(req) = message {
                    let mut resp =
                        Response::for_request(req, 403).with_to_tag(&crate::ids::random_hex(5));
                    resp.reason = "Not Your Address".into();
                    let _ = conn.send_response(resp);
                }
                Gate::Impersonation
            }
            Verdict::Offer(header) | Verdict::Challenge(header) => {
                if let Message::Request(req) = message {
                    conn_unauthorized(conn, req, header);
                }
                Gate::Answered
            }
            Verdict::Rejected(e) => {
                tracing::warn!(conn = conn.id(), peer = %conn.peer(), error = %e, "NTLM authentication failed");
                if let Message::Request(req) = message {
                    conn_unauthorized(conn, req, self.server.offer());
                }
                Gate::Refused
            }
            Verdict::Discard(why) => {
                tracing::info!(conn = conn.id(), peer = %conn.peer(), ?why, "unauthenticated message dropped");
                Gate::Drop
            }
            Verdict::Close => {
                tracing::info!(conn = conn.id(), peer = %conn.peer(), "no NTLM association after a 401: closing");
                Gate::Close
            }
        }
    }

    pub fn connection_closed(&self, conn: ConnId) {
        self.sessions
            .lock()
            .expect("ntlm sessions lock")
            .remove(&conn);
    }
}

fn credential_values(headers: &Headers) -> impl Iterator<Item = &str> {
    headers
        .get_all(name::AUTHORIZATION)
        .chain(headers.get_all(name::PROXY_AUTHORIZATION))
}

/// `sip:user@host` in lower case, from a URI as the association recorded it.
fn normalise_aor(uri: &str) -> String {
    match sip_proto::Uri::parse(uri) {
        Ok(sip_proto::Uri::Sip(u)) => format!("sip:{}", u.aor()),
        _ => uri.to_ascii_lowercase(),
    }
}

/// A 401 of the NTLM handshake: unsigned, with `Date` (MS-SIPAE 3.2.5.1.1).
fn conn_unauthorized(conn: &ConnHandle, req: &Request, www_authenticate: String) {
    let mut resp = Response::for_request(req, 401).with_to_tag(&crate::ids::random_hex(5));
    resp.headers.push("Date", http_date(SystemTime::now()));
    resp.headers.push(name::WWW_AUTHENTICATE, www_authenticate);
    let _ = conn.send_response(resp);
}

/// RFC 1123 date, as SIP's Date header wants it (RFC 9110's IMF-fixdate is that form).
pub fn http_date(t: SystemTime) -> String {
    // A clock before 1970 reads as the epoch: jiff prints no negative years.
    let t = Timestamp::try_from(t).map_or(Timestamp::UNIX_EPOCH, |t| t.max(Timestamp::UNIX_EPOCH));
    DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&t)
        .expect("jiff prints every year from 1970 to 9999")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn dates_in_rfc_1123_form() {
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert_eq!(
            http_date(UNIX_EPOCH + Duration::from_secs(1_795_437_299)),
            "Mon, 23 Nov 2026 12:34:59 GMT"
        );
    }
}
