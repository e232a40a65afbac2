//! The SIP front end: registrar, authentication, in-band provisioning and routing — the
//! part every client talks to first. It implements [`Dispatch`] for the transport. A
//! REGISTER and its authentication are handled in `register.rs`; everything else here.

pub mod auth;
pub mod gruu;
pub mod networks;
pub mod ntlm;
pub mod provisioning;
pub mod proxy;
mod register;
pub mod registrar;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use parlance_chat::throttle::Throttle;
use parlance_store::{ServerKey, Store};
use sip_proto::{Message, Method, Rejected, Request, Response, ResponseMatch, Uri, name};

use self::auth::DigestAuth;
use self::networks::Networks;
use self::ntlm::{Gate, Ntlm};
use self::provisioning::{Asker, Provisioning};
use self::proxy::{Proxy, Target};
use self::registrar::Registrar;
use crate::endpoint::{Endpoint, Outbound, Peer};
use crate::forward::{Destination, Forwarder, Relayed};
use crate::ids::random_hex;
use crate::transport::{ConnHandle, Connections, Dispatch};

/// Methods the server understands (the Allow header).
const ALLOW: &str = "REGISTER, INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, MESSAGE, SUBSCRIBE, NOTIFY, BENOTIFY, SERVICE, REFER, PRACK, PUBLISH";
/// Option tags the server honours in Proxy-Require (MS-SIP best-effort NOTIFY is relayed).
const PROXY_EXTENSIONS: &[&str] = &["ms-benotify"];
/// Option tags honoured in Require of requests the server answers itself.
const UAS_EXTENSIONS: &[&str] = &["ms-benotify", "ms-piggyback-first-notify"];
const SERVER: &str = concat!("Parlance/", env!("CARGO_PKG_VERSION"));

/// Everything the front end is configured with.
#[derive(Debug, Clone)]
pub struct FrontEndSettings {
    pub domain: String,
    pub keep_alive_secs: u64,
    pub provisioning: Provisioning,
    pub trusted: Networks,
    /// Where users from outside connect from (`manage.external_networks`).
    pub external: Networks,
    /// Proxied requests one connection may have waiting for answers.
    pub max_pending_per_connection: usize,
}

pub struct FrontEnd {
    settings: FrontEndSettings,
    store: Store,
    key: ServerKey,
    connections: Arc<Connections>,
    auth: DigestAuth,
    /// NTLM per MS-SIPAE, when enabled.
    ntlm: Option<Ntlm>,
    /// Failed sign-ins of both mechanisms, and of the room-management web application
    /// (the same guesser must not get a fresh allowance by switching doors).
    throttle: Arc<Throttle>,
    registrar: Registrar,
    proxy: Arc<Proxy>,
    outbound: Outbound,
    /// Service URIs (address-of-record form) and the endpoint serving each.
    services: HashMap<String, Arc<dyn Endpoint>>,
    endpoints: Vec<Arc<dyn Endpoint>>,
    /// In a pool: where requests for what other nodes reach are relayed.
    forwarder: Option<Arc<Forwarder>>,
}

impl std::fmt::Debug for FrontEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontEnd")
            .field("domain", &self.settings.domain)
            .finish_non_exhaustive()
    }
}

impl FrontEnd {
    pub fn new(
        settings: FrontEndSettings,
        store: Store,
        key: ServerKey,
        auth: (DigestAuth, Option<Ntlm>, Arc<Throttle>),
        registrar: Registrar,
        proxy: Arc<Proxy>,
        endpoints: Vec<(Vec<String>, Arc<dyn Endpoint>)>,
    ) -> FrontEnd {
        let (auth, ntlm, throttle) = auth;
        let services = endpoints
            .iter()
            .flat_map(|(uris, e)| uris.iter().filter_map(|u| Some((aor_of(u)?, e.clone()))))
            .collect();
        let endpoints = endpoints.into_iter().map(|(_, e)| e).collect();
        FrontEnd {
            outbound: Outbound::new(proxy.clone()),
            connections: proxy.connections().clone(),
            settings,
            store,
            key,
            auth,
            ntlm,
            throttle,
            registrar,
            proxy,
            services,
            endpoints,
            forwarder: None,
        }
    }

    /// Makes this front end one node of a pool: what other nodes reach is relayed to them
    /// through `forwarder`, and this node's service URIs are made reachable from them.
    pub fn in_pool(mut self, forwarder: Arc<Forwarder>) -> FrontEnd {
        use crate::frontend::registrar::Announce;
        for service in self.services.keys() {
            forwarder.reachable(&format!("sip:{service}"));
        }
        self.forwarder = Some(forwarder);
        self
    }

    /// Makes the registration changes since the last call known to the pool (nothing on
    /// a single server).
    pub async fn announce(&self) {
        if let Some(forwarder) = &self.forwarder {
            forwarder.announce().await;
        }
    }

    /// The forwarder, for what arrived on `conn`: a message relayed from another node is
    /// never relayed again (its node routed it here; one hop is all there is).
    fn relay_from(&self, conn: &ConnHandle) -> Option<&Forwarder> {
        self.forwarder.as_deref().filter(|_| !conn.is_remote())
    }

    /// Relays `req` to the node `to` names, when this is a pool; true when the request
    /// was handled so (taken there, or answered 503 here for a busy flow).
    async fn relay(&self, conn: &ConnHandle, req: &Request, to: Destination<'_>) -> bool {
        let Some(forwarder) = self.relay_from(conn) else {
            return false;
        };
        match forwarder.relay_request(conn, req, to).await {
            Relayed::Taken => true,
            Relayed::Busy => {
                self.reply_with(conn, req, 503, |r| {
                    r.reason = "Too Many Pending Requests".into();
                    r.headers.push(name::RETRY_AFTER, "5");
                });
                true
            }
            Relayed::Nobody => false,
        }
    }

    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    pub fn auth(&self) -> &DigestAuth {
        &self.auth
    }

    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// Ends every session of an account: its connections close, and with them its
    /// registrations and chat sessions. Returns how many connections were closed.
    pub fn sign_out(&self, account: &str) -> usize {
        self.connections.close_identity(account)
    }

    /// `verified`: the address-of-record an NTLM signature proved, if any.
    async fn on_request(&self, conn: &ConnHandle, mut req: Request, verified: Option<String>) {
        if req.max_forwards() == 0 && req.method != Method::Options {
            return self.reply(conn, &req, 483, None);
        }
        if let Some(unsupported) = unsupported(&req, name::PROXY_REQUIRE, PROXY_EXTENSIONS) {
            return self.reply_with(conn, &req, 420, |r| {
                r.headers.push(name::UNSUPPORTED, unsupported)
            });
        }
        match req.method {
            Method::Other(_) => {
                self.reply_with(conn, &req, 501, |r| r.headers.push(name::ALLOW, ALLOW));
            }
            Method::Register if conn.is_remote() => {
                tracing::warn!(
                    conn = conn.id(),
                    "pool: a REGISTER relayed from another node refused"
                );
                self.reply(conn, &req, 403, Some("Register With Your Own Server"));
            }
            Method::Register => self.register(conn, &req, verified).await,
            Method::Cancel => {
                if self.proxy.cancel(conn, &req) {
                    return self.reply(conn, &req, 200, None);
                }
                // The INVITE may have gone to the node that reaches its target.
                let target = format!("sip:{}", aor_of_uri(&req.uri).unwrap_or_default());
                if !self.relay(conn, &req, Destination::Address(&target)).await {
                    self.reply(conn, &req, 481, None);
                }
            }
            Method::Ack => self.ack(conn, req).await,
            _ => {
                if let Some(aor) = verified.filter(|_| conn.identity().is_none()) {
                    conn.set_identity(&aor);
                }
                if let Some(node) = self.proxy.route_elsewhere(&req) {
                    return self.relay_in_dialog(conn, &req, &node).await;
                }
                let own_route = self.proxy.pop_own_route(&mut req, conn);
                self.route(conn, req, own_route).await;
            }
        }
    }

    /// A request in a dialog whose flows are on `node`: relayed there, or, when that node
    /// is gone, answered 481 so that the client starts over.
    async fn relay_in_dialog(&self, conn: &ConnHandle, req: &Request, node: &str) {
        if conn.identity().is_none() {
            return self.reply(conn, req, 403, Some("Register First"));
        }
        if !self.relay(conn, req, Destination::Node(node)).await {
            self.reply(conn, req, 481, None);
        }
    }

    async fn ack(&self, conn: &ConnHandle, mut req: Request) {
        if let Some(node) = self.proxy.route_elsewhere(&req) {
            // No answer either way: an ACK that reaches no one is lost as on a wire.
            self.relay(conn, &req, Destination::Node(&node)).await;
            return;
        }
        // An ACK for a 2xx travels end to end along the route set; one for a non-2xx answer
        // ends at whoever sent that answer, which is us or the proxy core: absorb it.
        match self.proxy.pop_own_route(&mut req, conn) {
            Some(Some(next)) => self.proxy.forward_stateless(
                req,
                &Target {
                    conn: next,
                    uri: None,
                },
            ),
            Some(None) => {
                if let Some(target) = self.contact_target(&req.uri) {
                    self.proxy.forward_stateless(req, &target);
                }
            }
            None => {
                let target = aor_of_uri(&req.uri);
                let Some(endpoint) = target.as_ref().and_then(|a| self.services.get(a)) else {
                    // Another node's service (the chat dialog's ACK), in a pool.
                    let target = format!("sip:{}", target.unwrap_or_default());
                    self.relay(conn, &req, Destination::Address(&target)).await;
                    return;
                };
                let identity = conn.identity().unwrap_or_default();
                endpoint
                    .handle(
                        req,
                        Peer {
                            conn,
                            identity: &identity,
                            outbound: &self.outbound,
                        },
                    )
                    .await;
            }
        }
    }

    /// Routes any request other than REGISTER, CANCEL and ACK.
    async fn route(
        &self,
        conn: &ConnHandle,
        mut req: Request,
        own_route: Option<Option<ConnHandle>>,
    ) {
        let to_server = self.is_server_uri(&req.uri);
        let identity = match conn.identity() {
            Some(id) => id,
            None if to_server && req.method == Method::Options => String::new(),
            None => {
                tracing::info!(conn = conn.id(), method = %req.method, "request before registration");
                return self.reply(conn, &req, 403, Some("Register First"));
            }
        };
        if !identity.is_empty()
            && req
                .from()
                .and_then(|f| aor_of_uri(&f.uri))
                .map(|a| format!("sip:{a}"))
                != Some(identity.clone())
        {
            tracing::warn!(conn = conn.id(), %identity, "From does not match the registered identity");
            return self.reply(
                conn,
                &req,
                403,
                Some("From Does Not Match Authenticated Identity"),
            );
        }
        if self.proxy.open_from(conn.id()) >= self.settings.max_pending_per_connection {
            if conn.first_refusal() {
                tracing::warn!(conn = conn.id(), peer = %conn.peer(), %identity, limit = self.settings.max_pending_per_connection, "pending request limit reached: further requests answered 503");
            }
            return self.reply_with(conn, &req, 503, |r| {
                r.reason = "Too Many Pending Requests".into();
                r.headers.push(name::RETRY_AFTER, "5");
            });
        }
        if let Some(next) = own_route {
            return match next
                .map(|c| Target { conn: c, uri: None })
                .or_else(|| self.contact_target(&req.uri))
            {
                Some(target) => {
                    assert_identity(&mut req, &identity);
                    self.proxy.forward(conn, req, vec![target], &random_hex(5))
                }
                None => self.reply(conn, &req, 481, None),
            };
        }
        if to_server {
            return self.answer_locally(conn, &req);
        }
        let target_aor = aor_of_uri(&req.uri);
        if let Some(endpoint) = target_aor.as_ref().and_then(|a| self.services.get(a)) {
            return endpoint
                .handle(
                    req,
                    Peer {
                        conn,
                        identity: &identity,
                        outbound: &self.outbound,
                    },
                )
                .await;
        }
        if req.method == Method::Subscribe
            && target_aor.as_ref().map(|a| format!("sip:{a}")) == Some(identity.clone())
        {
            return self.subscribe_self(conn, &req, &identity).await;
        }
        let in_domain = req.uri.as_sip().is_some_and(|u| {
            u.host.eq_ignore_ascii_case(&self.settings.domain) && u.user.is_some()
        });
        assert_identity(&mut req, &identity);
        // A GRUU names one device: it is reached through that binding or not at all.
        if in_domain && self.gruu_target(&req.uri).is_none() {
            let aor = format!("sip:{}", target_aor.unwrap_or_default());
            let bindings = self.registrar.lookup(&aor);
            if !bindings.is_empty() {
                let targets = bindings
                    .into_iter()
                    .map(|b| Target {
                        conn: b.conn,
                        uri: Some(b.contact.uri),
                    })
                    .collect();
                return self.proxy.forward(conn, req, targets, &random_hex(5));
            }
            // A user registered on another node, or another node's service.
            if self.relay(conn, &req, Destination::Address(&aor)).await {
                return;
            }
        }
        if let Some(target) = self.contact_target(&req.uri) {
            return self.proxy.forward(conn, req, vec![target], &random_hex(5));
        }
        if let Some((aor, epid)) = self.gruu_target(&req.uri) {
            let gruu = gruu::uri(&aor, epid);
            if self.relay(conn, &req, Destination::Address(&gruu)).await {
                return;
            }
        }
        if !in_domain {
            return self.reply(conn, &req, 403, Some("Relaying Not Allowed"));
        }
        // A request in a dialog that nobody holds any more (in a pool: a chat dialog on a
        // node that died): 481, so that the client starts the dialog over elsewhere.
        if req.to().is_some_and(|to| to.tag().is_some()) {
            return self.reply(conn, &req, 481, None);
        }
        match self
            .store
            .user(&format!("sip:{}", aor_of_uri(&req.uri).unwrap_or_default()))
            .await
        {
            Ok(Some(_)) => self.reply(conn, &req, 480, None),
            Ok(None) => self.reply(conn, &req, 404, None),
            Err(e) => {
                tracing::error!(error = %e, "user lookup failed");
                self.reply(conn, &req, 500, None);
            }
        }
    }

    /// A request-URI that is a registered contact, or names the address of an open
    /// connection (a client's own Contact, as used in-dialog).
    fn contact_target(&self, uri: &Uri) -> Option<Target> {
        if let Some((aor, epid)) = self.gruu_target(uri) {
            // RFC 5627 §8.4.1: the request is retargeted to the device's registered contact.
            return self.registrar.by_gruu(&aor, epid).map(|b| Target {
                conn: b.conn,
                uri: Some(b.contact.uri),
            });
        }
        if let Some(b) = self.registrar.by_contact(&uri.to_string()) {
            return Some(Target {
                conn: b.conn,
                uri: None,
            });
        }
        let sip = uri.as_sip()?;
        let host = sip
            .params
            .value("maddr")
            .unwrap_or(&sip.host)
            .trim_matches(['[', ']']);
        let addr = SocketAddr::new(host.parse().ok()?, sip.port?);
        self.connections
            .by_peer(addr)
            .map(|conn| Target { conn, uri: None })
    }

    /// Whether the client connects from outside (`manage.external_networks`): it then gets
    /// the external room-management URL and `ms-user-logon-data: RemoteUser`.
    fn is_outside(&self, conn: &ConnHandle) -> bool {
        self.settings.external.contains(conn.peer().ip())
    }

    /// The address-of-record and device id of a GRUU in our domain.
    fn gruu_target<'u>(&self, uri: &'u Uri) -> Option<(String, &'u str)> {
        let sip = uri
            .as_sip()
            .filter(|u| u.host.eq_ignore_ascii_case(&self.settings.domain))?;
        let epid = gruu::target(sip)?;
        Some((format!("sip:{}", aor_of_uri(uri)?), epid))
    }

    fn is_server_uri(&self, uri: &Uri) -> bool {
        uri.as_sip()
            .is_some_and(|u| u.user.is_none() && u.host.eq_ignore_ascii_case(&self.settings.domain))
    }

    fn answer_locally(&self, conn: &ConnHandle, req: &Request) {
        if let Some(unsupported) = unsupported(req, name::REQUIRE, UAS_EXTENSIONS) {
            return self.reply_with(conn, req, 420, |r| {
                r.headers.push(name::UNSUPPORTED, unsupported)
            });
        }
        let status = if req.method == Method::Options {
            200
        } else {
            405
        };
        self.reply_with(conn, req, status, |r| {
            r.headers.push(name::ALLOW, ALLOW);
            r.headers.push(name::ACCEPT, "application/sdp, text/plain");
            r.headers.push(name::SUPPORTED, "msrtc-event-categories");
            r.headers.push(name::ALLOW_EVENTS, provisioning::EVENT);
        });
    }

    /// SUBSCRIBE to the subscriber's own address: provisioning and Microsoft roaming events.
    async fn subscribe_self(&self, conn: &ConnHandle, req: &Request, identity: &str) {
        if let Some(unsupported) = unsupported(req, name::REQUIRE, UAS_EXTENSIONS) {
            return self.reply_with(conn, req, 420, |r| {
                r.headers.push(name::UNSUPPORTED, unsupported)
            });
        }
        let event = req
            .headers
            .get(name::EVENT)
            .map(|e| e.split(';').next().unwrap_or("").trim().to_owned());
        match event.as_deref() {
            Some(provisioning::EVENT) => {
                let persistent_chat = match self.store.user(identity).await {
                    Ok(user) => user.is_some_and(|u| u.persistent_chat),
                    Err(e) => {
                        tracing::error!(error = %e, identity, "provisioning: account not read");
                        return self.reply(conn, req, 500, None);
                    }
                };
                let asker = Asker {
                    persistent_chat,
                    outside: self.is_outside(conn),
                };
                let groups = provisioning::requested_groups(&req.body);
                let document = self.settings.provisioning.document(&groups, asker);
                let to_tag = random_hex(5);
                let (resp, notify) = Provisioning::answer(req, &to_tag, &document);
                let _ = conn.send_response(resp);
                if notify {
                    self.notify_provisioning(conn, req, &to_tag, document).await;
                }
            }
            Some(e) if provisioning::ACCEPTED_WITHOUT_DATA.contains(&e) => {
                let e = e.to_owned();
                self.reply_with(conn, req, 200, |r| {
                    r.headers.push(name::EVENT, e);
                    r.headers.push(name::EXPIRES, "3600");
                });
            }
            _ => self.reply_with(conn, req, 489, |r| {
                r.headers.push(name::ALLOW_EVENTS, provisioning::EVENT)
            }),
        }
    }

    /// The provisioning document as a NOTIFY, for clients that cannot take it piggy-backed.
    async fn notify_provisioning(
        &self,
        conn: &ConnHandle,
        sub: &Request,
        to_tag: &str,
        document: String,
    ) {
        let Some(contact) = sub.contacts().into_iter().next() else {
            return;
        };
        let mut notify = Request::new(Method::Notify, contact.uri);
        notify.headers.push(name::MAX_FORWARDS, "70");
        notify.headers.push(
            name::FROM,
            format!(
                "{};tag={to_tag}",
                sub.headers.get(name::TO).unwrap_or_default()
            ),
        );
        notify
            .headers
            .push(name::TO, sub.headers.get(name::FROM).unwrap_or_default());
        notify.headers.push(name::CALL_ID, sub.call_id());
        notify.headers.push(name::CSEQ, "1 NOTIFY");
        notify.headers.push(name::EVENT, provisioning::EVENT);
        notify
            .headers
            .push(name::SUBSCRIPTION_STATE, "terminated;reason=noresource");
        notify
            .headers
            .push(name::CONTENT_TYPE, provisioning::CONTENT_TYPE);
        notify.body = document.into_bytes().into();
        if let Err(e) = self.outbound.request(conn, notify).await {
            tracing::info!(conn = conn.id(), error = %e, "provisioning NOTIFY not answered");
        }
    }

    /// Whether an endpoint took this answer to one of its own requests.
    fn endpoint_answer(&self, conn: &ConnHandle, answer: &ResponseMatch<'_>) -> bool {
        self.endpoints.iter().any(|e| e.take_answer(conn, answer))
    }

    fn reply(&self, conn: &ConnHandle, req: &Request, status: u16, reason: Option<&str>) {
        self.reply_with(conn, req, status, |r| {
            if let Some(reason) = reason {
                r.reason = reason.to_owned();
            }
        });
    }

    fn reply_with(
        &self,
        conn: &ConnHandle,
        req: &Request,
        status: u16,
        edit: impl FnOnce(&mut Response),
    ) {
        let mut resp = Response::for_request(req, status);
        if status > 100 {
            resp = resp.with_to_tag(&random_hex(5));
        }
        resp.headers.push(name::SERVER, SERVER);
        edit(&mut resp);
        let _ = conn.send_response(resp);
    }
}

impl Dispatch for FrontEnd {
    async fn on_message(&self, conn: &ConnHandle, message: Message) {
        let verified = match self.ntlm_gate(conn, &message).await {
            Gate::NotNtlm => None,
            Gate::Authentic(aor) | Gate::Established(aor) => Some(aor),
            Gate::Answered | Gate::Refused | Gate::Drop => return,
            Gate::Close | Gate::Impersonation => return conn.close(),
        };
        match message {
            Message::Request(mut req) => {
                strip_claimed_identity(&mut req.headers);
                self.on_request(conn, req, verified).await
            }
            Message::Response(mut resp) => {
                if ResponseMatch::of(&resp).is_some_and(|m| self.endpoint_answer(conn, &m)) {
                    return;
                }
                strip_claimed_identity(&mut resp.headers);
                // An answer to a request that a remote flow on another node sent.
                if let Some(forwarder) = self.relay_from(conn)
                    && let Some(node) = self.proxy.answer_elsewhere(&resp)
                {
                    return forwarder.relay_answer(conn, &resp, &node).await;
                }
                self.proxy.on_response(resp)
            }
        }
    }

    fn take_answer(&self, conn: &ConnHandle, head: &[u8]) -> bool {
        // A signed connection's answers pass the NTLM gate first, parsed whole.
        !conn.signs() && ResponseMatch::scan(head).is_some_and(|m| self.endpoint_answer(conn, &m))
    }

    async fn on_rejected(&self, conn: &ConnHandle, rejected: Rejected) {
        tracing::warn!(conn = conn.id(), peer = %conn.peer(), error = %rejected.error, "malformed message");
        if let Some(resp) = rejected.response() {
            let _ = conn.send_response(resp);
        }
    }

    async fn on_closed(&self, conn: &ConnHandle) {
        if let Some(ntlm) = &self.ntlm {
            ntlm.connection_closed(conn.id());
        }
        self.registrar.remove_connection(conn.id());
        self.proxy.on_connection_closed(conn.id());
        if let Some(forwarder) = &self.forwarder {
            forwarder.connection_closed(conn.id()).await;
            forwarder.announce().await;
        }
        for endpoint in &self.endpoints {
            endpoint.connection_closed(conn.id()).await;
        }
    }
}

/// Identity assertions are the server's to make (RFC 3325 §5: a proxy removes those it did
/// not itself vouch for); a client's `P-Asserted-Identity` would be relayed as if checked.
fn strip_claimed_identity(headers: &mut sip_proto::Headers) {
    headers.remove(name::P_ASSERTED_IDENTITY);
    headers.remove(name::P_PREFERRED_IDENTITY);
}

/// What the server vouches for on a request it relays: the sender it authenticated.
fn assert_identity(req: &mut Request, identity: &str) {
    if !identity.is_empty() {
        req.headers
            .push(name::P_ASSERTED_IDENTITY, format!("<{identity}>"));
    }
}

/// The option tags of `header` that are not in `supported`, comma-joined.
fn unsupported(req: &Request, header: &str, supported: &[&str]) -> Option<String> {
    let missing: Vec<&str> = req
        .headers
        .get_list(header)
        .filter(|tag| !supported.iter().any(|s| s.eq_ignore_ascii_case(tag)))
        .collect();
    (!missing.is_empty()).then(|| missing.join(", "))
}

/// `user@host` of a SIP URI given as text.
fn aor_of(uri: &str) -> Option<String> {
    Uri::parse(uri).ok().as_ref().and_then(aor_of_uri)
}

fn aor_of_uri(uri: &Uri) -> Option<String> {
    uri.as_sip().filter(|u| u.user.is_some()).map(|u| u.aor())
}
