//! Registration (RFC 3261 §10.3) and what it takes to trust it: NTLM (MS-SIPAE), Digest,
//! or a trusted network; throttling of failures; the account's state. The front end hands
//! every REGISTER here; the rest of its requests are routed in `mod.rs`.

use sip_proto::auth::{AuthHeader, Credentials};
use sip_proto::{Message, Request, Response, Uri, name};

use super::auth::Verdict;
use super::ntlm::{Gate, Ntlm};
use super::registrar::RegisterError;
use super::{FrontEnd, SERVER, UAS_EXTENSIONS, gruu, provisioning, unsupported};
use crate::ids::random_hex;
use crate::transport::ConnHandle;
use parlance_chat::throttle::Wait;

impl FrontEnd {
    /// RFC 3261 §10.3 with NTLM, Digest authentication, or a trusted network.
    pub(super) async fn register(
        &self,
        conn: &ConnHandle,
        req: &Request,
        verified: Option<String>,
    ) {
        let domain = &self.settings.domain;
        let target_ok = req
            .uri
            .as_sip()
            .is_some_and(|u| u.host.eq_ignore_ascii_case(domain));
        let Some(aor) = req
            .to()
            .and_then(|to| to.uri.as_sip().cloned())
            .filter(|u| u.host.eq_ignore_ascii_case(domain) && u.user.is_some())
        else {
            return self.reply(conn, req, 404, Some("Domain Not Served"));
        };
        if !target_ok {
            return self.reply(conn, req, 404, Some("Domain Not Served"));
        }
        if let Some(unsupported) = unsupported(req, name::REQUIRE, UAS_EXTENSIONS) {
            return self.reply_with(conn, req, 420, |r| {
                r.headers.push(name::UNSUPPORTED, unsupported)
            });
        }
        let aor = format!("sip:{}", aor.aor());
        if let Some(owner) = conn.identity().filter(|owner| *owner != aor) {
            tracing::warn!(conn = conn.id(), %owner, %aor, "REGISTER for another principal on an authenticated connection");
            return self.reply(conn, req, 403, Some("Connection Belongs To Another User"));
        }
        match verified {
            Some(ntlm_aor) if ntlm_aor != aor => {
                tracing::warn!(conn = conn.id(), %aor, %ntlm_aor, "REGISTER for another account than the NTLM one");
                return self.reply(conn, req, 403, Some("Not Your Address"));
            }
            Some(_) => {}
            None => {
                if !self.authenticate(conn, req, &aor).await {
                    return;
                }
            }
        }
        self.throttle.record_success(&aor, conn.peer().ip());
        if !self.account_enabled(conn, req, &aor).await {
            return;
        }
        let bindings = match self.registrar.register(&aor, conn, req) {
            Ok(b) => b,
            Err(e) => {
                tracing::info!(conn = conn.id(), %aor, error = %e, "REGISTER refused");
                return match e {
                    RegisterError::BadWildcard => {
                        self.reply(conn, req, 400, Some("Invalid Wildcard Contact"))
                    }
                    RegisterError::IntervalTooBrief { min } => {
                        self.reply_with(conn, req, 423, |r| {
                            r.headers.push(name::MIN_EXPIRES, min.to_string())
                        })
                    }
                    RegisterError::TooManyBindings { .. } => {
                        self.reply(conn, req, 403, Some("Too Many Registrations"))
                    }
                    RegisterError::OutOfOrder => {
                        self.reply(conn, req, 500, Some("Out Of Order Registration"))
                    }
                    RegisterError::ContactInUse(_) => {
                        self.reply(conn, req, 403, Some("Contact Registered By Another User"))
                    }
                };
            }
        };
        conn.set_identity(&aor);
        // Before the 200: once registered, the user is reachable from every node.
        self.announce().await;
        let now = self.registrar.clock().now();
        let mut resp = Response::for_request(req, 200).with_to_tag(&random_hex(5));
        let gruus = gruu::wanted(req);
        for b in &bindings {
            let mut contact = b.contact.clone();
            contact
                .params
                .set("expires", Some(&b.remaining_secs(now).to_string()));
            if let Some(epid) = b.epid.as_deref().filter(|_| gruus) {
                contact
                    .params
                    .set("gruu", Some(&format!("\"{}\"", gruu::uri(&aor, epid))));
            }
            resp.headers.push(name::CONTACT, contact.to_string());
        }
        // sipe reads the Expires header (not the Contact parameter) and needs it above 0.
        let expires = bindings
            .iter()
            .filter(|b| req.contacts().iter().any(|c| c.uri == b.contact.uri))
            .map(|b| b.remaining_secs(now))
            .max()
            .unwrap_or(0);
        resp.headers.push(name::EXPIRES, expires.to_string());
        // sipe compares each Supported line as a whole: this one must stand alone.
        resp.headers.push(name::SUPPORTED, "msrtc-event-categories");
        // sipe splits Allow-Events on "," without trimming: no blanks.
        resp.headers.push(name::ALLOW_EVENTS, provisioning::EVENT);
        resp.headers.push(
            "ms-keep-alive",
            format!(
                "UAS; tcp=no; hop-hop=yes; end-end=no; timeout={}",
                self.settings.keep_alive_secs
            ),
        );
        resp.headers.push(name::SERVER, SERVER);
        if self.is_outside(conn) {
            resp.headers.push("ms-user-logon-data", "RemoteUser");
        }
        tracing::info!(conn = conn.id(), %aor, bindings = bindings.len(), expires, "registered");
        let _ = conn.send_response(resp);
    }

    /// Refuses a disabled account after it proved its password (so that only its owner
    /// learns that it is disabled), and closes the connection: an NTLM association made
    /// on it must not serve anything else. Refuses an address with no account: one from a
    /// trusted network, which proved nothing, or one removed since it proved its password.
    /// The one read of the account a sign-in makes.
    async fn account_enabled(&self, conn: &ConnHandle, req: &Request, aor: &str) -> bool {
        match self.store.user(aor).await {
            Ok(Some(user)) if user.disabled => {
                tracing::warn!(conn = conn.id(), %aor, ip = %conn.peer().ip(), "sign-in refused: account disabled");
                self.reply(conn, req, 403, Some("Account Disabled"));
                conn.close();
                false
            }
            Ok(Some(_)) => true,
            Ok(None) => {
                tracing::info!(conn = conn.id(), %aor, "REGISTER for an address without an account");
                self.reply(conn, req, 404, Some("Unknown User"));
                false
            }
            Err(e) => {
                tracing::error!(error = %e, "user lookup failed");
                self.reply(conn, req, 500, None);
                false
            }
        }
    }

    /// Answers an attempt that must wait: 403 with how long. Logged at debug only: the
    /// guesser decides how many of these there are, and the throttle logged the wait once.
    fn throttled(&self, conn: &ConnHandle, req: &Request, account: &str, wait: Wait) {
        tracing::debug!(conn = conn.id(), %account, ip = %conn.peer().ip(), key = wait.key, retry_after = wait.secs, "authentication throttled");
        self.reply_with(conn, req, 403, |r| {
            r.reason = "Too Many Failed Attempts".into();
            r.headers.push(name::RETRY_AFTER, wait.secs.to_string());
        });
    }

    /// Authenticates a REGISTER for `aor`. On failure the answer has been sent.
    async fn authenticate(&self, conn: &ConnHandle, req: &Request, aor: &str) -> bool {
        let ip = conn.peer().ip();
        // Trusted without a password: whether the account exists is asked next, by
        // `account_enabled`, with whether it is disabled.
        if self.settings.trusted.contains(ip) {
            return true;
        }
        if let Some(wait) = self.throttle.check(aor, ip) {
            self.throttled(conn, req, aor, wait);
            return false;
        }
        let digest = req
            .headers
            .get_all(name::AUTHORIZATION)
            .filter_map(|v| AuthHeader::parse(v).ok())
            .find(|h| h.is_scheme("Digest") && h.param("realm") == Some(self.auth.realm()));
        let Some(header) = digest else {
            self.challenge(conn, req, false);
            return false;
        };
        let creds = match Credentials::from_header(&header) {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(conn = conn.id(), %aor, error = %e, "malformed Digest credentials");
                self.reply(conn, req, 400, Some("Malformed Authorization Header"));
                return false;
            }
        };
        if !same_uri(&creds.uri, &req.uri) {
            self.reply(conn, req, 400, Some("Authorization URI Mismatch"));
            return false;
        }
        match self
            .auth
            .verify(&self.store, &self.key, aor, req.method.as_str(), &creds)
            .await
        {
            Verdict::Valid => true,
            Verdict::Stale => {
                self.challenge(conn, req, true);
                false
            }
            Verdict::Invalid(reason) => {
                tracing::warn!(conn = conn.id(), %aor, %ip, reason, "authentication failed");
                self.throttle.record_failure(aor, ip);
                self.challenge(conn, req, false);
                false
            }
        }
    }

    fn challenge(&self, conn: &ConnHandle, req: &Request, stale: bool) {
        let challenges = self.auth.challenges(stale);
        let ntlm = self.ntlm.as_ref().filter(|_| !stale).map(Ntlm::offer);
        self.reply_with(conn, req, 401, |r| {
            for c in challenges {
                r.headers.push(name::WWW_AUTHENTICATE, c.to_string());
            }
            // Last: clients that read only the first challenge get Digest.
            if let Some(offer) = ntlm {
                r.headers.push(name::WWW_AUTHENTICATE, offer);
            }
        });
    }

    /// Runs the NTLM check, throttled like Digest: an account and address (or an address)
    /// that must wait gets 403 before its AUTHENTICATE is even looked at.
    pub(super) async fn ntlm_gate(&self, conn: &ConnHandle, message: &Message) -> Gate {
        // A remote flow's messages were checked by the node holding the connection, the
        // only one with its NTLM association.
        let Some(ntlm) = self.ntlm.as_ref().filter(|_| !conn.is_remote()) else {
            return Gate::NotNtlm;
        };
        let ip = conn.peer().ip();
        let account = ntlm.authenticating_account(message.headers());
        if let (Some(account), Message::Request(req)) = (&account, message)
            && let Some(wait) = self.throttle.check(account, ip)
        {
            self.throttled(conn, req, account, wait);
            return Gate::Answered;
        }
        let gate = ntlm.check(conn, message).await;
        if gate == Gate::Refused {
            self.throttle
                .record_failure(account.as_deref().unwrap_or("unknown"), ip);
        }
        gate
    }
}

/// Digest `uri` against the Request-URI: equal as URIs, tolerant of case in scheme and host.
fn same_uri(digest_uri: &str, request_uri: &Uri) -> bool {
    match (Uri::parse(digest_uri), request_uri) {
        (Ok(Uri::Sip(a)), Uri::Sip(b)) => {
            a.scheme == b.scheme
                && a.user == b.user
                && a.host.eq_ignore_ascii_case(&b.host)
                && a.port == b.port
        }
        _ => digest_uri.trim() == request_uri.to_string(),
    }
}
