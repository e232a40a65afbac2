//! The stateful proxy: forking a request to every target, matching responses to forks by
//! our Via branch, choosing the final answer (RFC 3261 §16.7), CANCEL, timeouts; and the
//! client transactions of requests the server itself sends and waits for. (The chat
//! service's deliveries match their own answers: see the group chat's `unanswered`.)
//!
//! Every connection is a flow (RFC 5626): we Record-Route dialog-creating requests with a
//! signed token naming both connections, so in-dialog requests go back over the flow they
//! belong to even when the client's Contact is not reachable (pidgin-sipe does not listen).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use sip_proto::{BRANCH_COOKIE, CSeq, Headers, Method, Request, Response, Uri, name};
use tokio::sync::oneshot;

use parlance_clock::Clock;

use crate::endpoint::{RequestError, Requests};
use crate::ids::random_hex;
use crate::transport::{ConnHandle, ConnId, Connections};

/// Timer F (non-INVITE) and Timer C (INVITE) of RFC 3261, for a whole proxied request.
const NON_INVITE_TIMEOUT: Duration = Duration::from_secs(32);
const INVITE_TIMEOUT: Duration = Duration::from_secs(180);

/// The user part of our Record-Route URIs.
const RR_USER: &str = "parlance";
/// The Record-Route parameter carrying the flow token.
const FLOW_PARAM: &str = "pf";
/// The Record-Route and Via parameter naming the pool node that put it there: a request or
/// answer arriving at another node is forwarded to that one (`crate::forward`).
pub(crate) const NODE_PARAM: &str = "pn";

/// Identifies a server transaction for CANCEL matching: the RFC 3261 branch where the client
/// sent one, else Call-ID and CSeq number (pidgin-sipe's in-dialog requests have no branch).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TxKey {
    Branch(String),
    CallSeq(String, u32),
}

impl TxKey {
    pub fn of(req: &Request) -> TxKey {
        match req
            .top_via()
            .and_then(|v| v.rfc3261_branch().map(str::to_owned))
        {
            Some(b) => TxKey::Branch(b),
            None => TxKey::CallSeq(req.call_id().to_owned(), req.cseq().map_or(0, |c| c.seq)),
        }
    }
}

/// Where a forwarded request goes.
#[derive(Debug, Clone)]
pub struct Target {
    pub conn: ConnHandle,
    /// The new Request-URI (a registered contact), or `None` to keep it.
    pub uri: Option<Uri>,
}

enum Pending {
    Proxy { tx: Arc<ProxyTx>, fork: usize },
    Local(oneshot::Sender<Response>),
}

struct ProxyTx {
    origin: ConnHandle,
    key: (ConnId, TxKey),
    method: Method,
    /// The request as received, for answers we generate ourselves (408, 487, …).
    received: Headers,
    to_tag: String,
    state: Mutex<ProxyState>,
}

struct ProxyState {
    forks: Vec<Fork>,
    best: Option<Response>,
    /// A final answer has gone upstream.
    answered: bool,
}

struct Fork {
    branch: String,
    conn: ConnHandle,
    request: Request,
    final_status: Option<u16>,
}

pub struct Proxy {
    connections: Arc<Connections>,
    /// Transaction timers run on the server's clock, which tests advance.
    clock: Clock,
    /// This node's id in a pool; `None` on a single server, whose messages name no node.
    node: Option<String>,
    flow_secret: [u8; 32],
    pending: Mutex<HashMap<String, Pending>>,
    /// Proxied INVITEs still open, by the client's transaction key, for CANCEL.
    invites: Mutex<HashMap<(ConnId, TxKey), Arc<ProxyTx>>>,
    /// Proxied requests still open, by the connection they came from: each holds copies of
    /// its request until answered or timed out, so one sender's share must be bounded.
    open_by_origin: Mutex<HashMap<ConnId, usize>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").finish_non_exhaustive()
    }
}

impl Proxy {
    pub fn new(connections: Arc<Connections>, clock: Clock, node: Option<String>) -> Proxy {
        let mut flow_secret = [0u8; 32];
        rand::rng().fill_bytes(&mut flow_secret);
        Proxy {
            connections,
            clock,
            node,
            flow_secret,
            pending: Mutex::new(HashMap::new()),
            invites: Mutex::new(HashMap::new()),
            open_by_origin: Mutex::new(HashMap::new()),
        }
    }

    pub fn connections(&self) -> &Arc<Connections> {
        &self.connections
    }

    /// Proxied requests from `origin` still waiting for their final answer.
    pub fn open_from(&self, origin: ConnId) -> usize {
        self.open_by_origin
            .lock()
            .expect("open by origin lock")
            .get(&origin)
            .copied()
            .unwrap_or(0)
    }

    /// Forwards `req` (received on `origin`) to every target; the answer reaches `origin`
    /// when the forks have answered.
    pub fn forward(
        self: &Arc<Self>,
        origin: &ConnHandle,
        req: Request,
        targets: Vec<Target>,
        to_tag: &str,
    ) {
        let record_route = matches!(
            req.method,
            Method::Invite | Method::Subscribe | Method::Refer
        );
        let txid = random_hex(8);
        let tx = Arc::new(ProxyTx {
            origin: origin.clone(),
            key: (origin.id(), TxKey::of(&req)),
            method: req.method.clone(),
            received: req.headers.clone(),
            to_tag: to_tag.to_owned(),
            state: Mutex::new(ProxyState {
                forks: Vec::new(),
                best: None,
                answered: false,
            }),
        });
        let mut forks = Vec::with_capacity(targets.len());
        for (i, target) in targets.into_iter().enumerate() {
            let branch = format!("{BRANCH_COOKIE}{txid}.{i}");
            let mut out = req.clone();
            strip_hop_credentials(&mut out.headers);
            if let Some(uri) = target.uri {
                out.uri = uri;
            }
            out.headers.set(
                name::MAX_FORWARDS,
                req.max_forwards().saturating_sub(1).to_string(),
            );
            if record_route {
                let rr = self.record_route(origin, &target.conn);
                out.headers.push_front(name::RECORD_ROUTE, rr);
            }
            out.headers.push_front(name::VIA, target.conn.via(&branch));
            forks.push(Fork {
                branch,
                conn: target.conn,
                request: out,
                final_status: None,
            });
        }
        {
            let mut pending = self.pending.lock().expect("pending lock");
            for (i, f) in forks.iter().enumerate() {
                pending.insert(
                    f.branch.clone(),
                    Pending::Proxy {
                        tx: tx.clone(),
                        fork: i,
                    },
                );
            }
        }
        if tx.method == Method::Invite {
            self.invites
                .lock()
                .expect("invites lock")
                .insert(tx.key.clone(), tx.clone());
        }
        *self
            .open_by_origin
            .lock()
            .expect("open by origin lock")
            .entry(origin.id())
            .or_default() += 1;
        let sends: Vec<(ConnHandle, Request)> = forks
            .iter()
            .map(|f| (f.conn.clone(), f.request.clone()))
            .collect();
        tx.state.lock().expect("proxy tx lock").forks = forks;
        for (i, (conn, request)) in sends.into_iter().enumerate() {
            if conn.send_request(request).is_err() {
                self.fork_final(&tx, i, unreachable_answer(&tx));
            }
        }
        let timeout = if tx.method == Method::Invite {
            INVITE_TIMEOUT
        } else {
            NON_INVITE_TIMEOUT
        };
        let proxy = Arc::downgrade(self);
        let clock = self.clock.clone();
        tokio::spawn(async move {
            clock.sleep(timeout).await;
            if let Some(proxy) = proxy.upgrade() {
                proxy.expire(&tx);
            }
        });
    }

    /// Sends an ACK for a 2xx (end-to-end, no answer) to `target` without transaction state.
    pub fn forward_stateless(&self, mut req: Request, target: &Target) {
        strip_hop_credentials(&mut req.headers);
        if let Some(uri) = &target.uri {
            req.uri = uri.clone();
        }
        req.headers.set(
            name::MAX_FORWARDS,
            req.max_forwards().saturating_sub(1).to_string(),
        );
        req.headers.push_front(
            name::VIA,
            target
                .conn
                .via(&format!("{BRANCH_COOKIE}{}", random_hex(8))),
        );
        let _ = target.conn.send_request(req);
    }

    /// Handles a CANCEL received on `origin`. Returns false when no INVITE matches (481).
    pub fn cancel(&self, origin: &ConnHandle, cancel: &Request) -> bool {
        let key = (origin.id(), TxKey::of(cancel));
        let Some(tx) = self
            .invites
            .lock()
            .expect("invites lock")
            .get(&key)
            .cloned()
        else {
            return false;
        };
        let state = tx.state.lock().expect("proxy tx lock");
        for fork in state.forks.iter().filter(|f| f.final_status.is_none()) {
            let _ = fork.conn.send_request(cancel_for(&fork.request));
        }
        true
    }

    /// Routes a response received on any connection to what awaits it.
    pub fn on_response(&self, mut resp: Response) {
        let Some(branch) = resp.top_via().and_then(|v| v.branch().map(str::to_owned)) else {
            tracing::debug!("response without Via branch dropped");
            return;
        };
        // Answers to our CANCELs share the INVITE's branch; they end nothing.
        if resp.cseq().is_some_and(|c| c.method == Method::Cancel) {
            return;
        }
        let final_answer = resp.status >= 200;
        let mut pending = self.pending.lock().expect("pending lock");
        match pending.get(&branch) {
            None => {
                tracing::debug!(%branch, status = resp.status, "response matches no transaction")
            }
            Some(Pending::Local(_)) if !final_answer => {}
            Some(Pending::Local(_)) => {
                if let Some(Pending::Local(done)) = pending.remove(&branch) {
                    let _ = done.send(resp);
                }
            }
            Some(Pending::Proxy { tx, fork }) => {
                let (tx, fork) = (tx.clone(), *fork);
                drop(pending);
                resp.headers.pop_first_list_element(name::VIA);
                strip_hop_credentials(&mut resp.headers);
                if final_answer {
                    self.fork_final(&tx, fork, resp);
                } else if resp.status > 100 {
                    let _ = tx.origin.send_response(resp);
                }
            }
        }
    }

    /// A fork has its final answer: pass it on or keep it, and finish when all are in.
    fn fork_final(&self, tx: &Arc<ProxyTx>, fork: usize, resp: Response) {
        let mut state = tx.state.lock().expect("proxy tx lock");
        let Some(f) = state.forks.get_mut(fork) else {
            return;
        };
        if f.final_status.is_some() {
            return;
        }
        f.final_status = Some(resp.status);
        if tx.method == Method::Invite && resp.status >= 300 && !f.conn.is_closed() {
            // A non-2xx final answer to an INVITE is acknowledged hop by hop (§17.1.1.3).
            let _ = f.conn.send_request(ack_for(&f.request, &resp));
        }
        let success = resp.status < 300;
        if success {
            // Every 2xx goes upstream (several forks may accept an INVITE).
            let _ = tx.origin.send_response(resp);
            if !state.answered && tx.method == Method::Invite {
                for other in state.forks.iter().filter(|o| o.final_status.is_none()) {
                    let _ = other.conn.send_request(cancel_for(&other.request));
                }
            }
            state.answered = true;
        } else if better(&resp, state.best.as_ref()) {
            state.best = Some(resp);
        }
        if state.forks.iter().all(|f| f.final_status.is_some()) {
            if !state.answered {
                if let Some(best) = state.best.take() {
                    let _ = tx.origin.send_response(best);
                }
                state.answered = true;
            }
            let branches: Vec<String> = state.forks.iter().map(|f| f.branch.clone()).collect();
            drop(state);
            self.finish(tx, &branches);
        }
    }

    fn expire(&self, tx: &Arc<ProxyTx>) {
        let open: Vec<usize> = {
            let state = tx.state.lock().expect("proxy tx lock");
            state
                .forks
                .iter()
                .enumerate()
                .filter(|(_, f)| f.final_status.is_none())
                .map(|(i, _)| i)
                .collect()
        };
        for i in open {
            let status = if tx.method == Method::Invite {
                480
            } else {
                408
            };
            self.fork_final(
                tx,
                i,
                Response::for_headers(&tx.received, status).with_to_tag(&tx.to_tag),
            );
        }
    }

    fn finish(&self, tx: &Arc<ProxyTx>, branches: &[String]) {
        let mut pending = self.pending.lock().expect("pending lock");
        for b in branches {
            pending.remove(b);
        }
        drop(pending);
        self.invites.lock().expect("invites lock").remove(&tx.key);
        let mut open = self.open_by_origin.lock().expect("open by origin lock");
        if let Some(n) = open.get_mut(&tx.key.0) {
            *n -= 1;
            if *n == 0 {
                open.remove(&tx.key.0);
            }
        }
    }

    /// Answers still owed for forks sent over a connection that has closed.
    pub fn on_connection_closed(&self, conn: ConnId) {
        let affected: Vec<(Arc<ProxyTx>, usize)> = self
            .pending
            .lock()
            .expect("pending lock")
            .values()
            .filter_map(|p| match p {
                Pending::Proxy { tx, fork } => Some((tx.clone(), *fork)),
                Pending::Local(_) => None,
            })
            .filter(|(tx, fork)| {
                tx.state
                    .lock()
                    .expect("proxy tx lock")
                    .forks
                    .get(*fork)
                    .is_some_and(|f| f.conn.id() == conn)
            })
            .collect();
        for (tx, fork) in affected {
            self.fork_final(&tx, fork, unreachable_answer(&tx));
        }
        self.invites
            .lock()
            .expect("invites lock")
            .retain(|(c, _), _| *c != conn);
    }

    /// Sends a request of the server's own over `conn` and waits for its final answer.
    pub async fn request(
        &self,
        conn: &ConnHandle,
        mut req: Request,
    ) -> Result<Response, RequestError> {
        let branch = format!("{BRANCH_COOKIE}{}", random_hex(8));
        req.headers.push_front(name::VIA, conn.via(&branch));
        let (done, answer) = oneshot::channel();
        self.pending
            .lock()
            .expect("pending lock")
            .insert(branch.clone(), Pending::Local(done));
        let outcome = if conn.send_request(req).is_err() {
            Err(RequestError::Closed)
        } else {
            tokio::select! {
                answer = answer => answer.map_err(|_| RequestError::Closed),
                () = self.clock.sleep(NON_INVITE_TIMEOUT) => Err(RequestError::Timeout),
            }
        };
        self.pending.lock().expect("pending lock").remove(&branch);
        outcome
    }

    /// A Record-Route value naming the flows on both sides of this hop, and in a pool this
    /// node, which alone knows them.
    fn record_route(&self, a: &ConnHandle, b: &ConnHandle) -> String {
        let token = format!("{}.{}", a.id(), b.id());
        let host = b.local();
        let node = match &self.node {
            Some(node) => format!(";{NODE_PARAM}={node}"),
            None => String::new(),
        };
        format!(
            "<sip:{RR_USER}@{}:{};transport={};lr;{FLOW_PARAM}={token}.{}{node}>",
            host.ip(),
            host.port(),
            b.transport().via_token().to_ascii_lowercase(),
            self.flow_mac(&token)
        )
    }

    /// The other pool node whose Record-Route is the top Route of `req`: the dialog's
    /// flows are there, and so must the request go.
    pub fn route_elsewhere(&self, req: &Request) -> Option<String> {
        let top = req.headers.get_list(name::ROUTE).next()?;
        let route = sip_proto::NameAddr::parse(top).ok()?;
        let uri = route.uri.as_sip()?;
        if uri.user.as_deref() != Some(RR_USER) {
            return None;
        }
        self.elsewhere(uri.params.value(NODE_PARAM)?)
    }

    /// The other pool node whose Via is on top of `resp`: the transaction is there.
    pub fn answer_elsewhere(&self, resp: &Response) -> Option<String> {
        self.elsewhere(resp.top_via()?.params.value(NODE_PARAM)?)
    }

    fn elsewhere(&self, node: &str) -> Option<String> {
        let own = self.node.as_deref()?;
        (node != own).then(|| node.to_owned())
    }

    fn flow_mac(&self, token: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.flow_secret).expect("HMAC takes any key length");
        mac.update(token.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    /// If the top Route is ours, removes it and returns the connection on the other side
    /// of the flow from `arrived_on` (when it is still open).
    pub fn pop_own_route(
        &self,
        req: &mut Request,
        arrived_on: &ConnHandle,
    ) -> Option<Option<ConnHandle>> {
        let top = req.headers.get_list(name::ROUTE).next()?;
        let route = sip_proto::NameAddr::parse(top).ok()?;
        let uri = route.uri.as_sip()?;
        if uri.user.as_deref() != Some(RR_USER) {
            return None;
        }
        let token = uri.params.value(FLOW_PARAM)?.to_owned();
        req.headers.pop_first_list_element(name::ROUTE);
        let mut parts = token.split('.');
        let (Some(a), Some(b), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Some(None);
        };
        if self.flow_mac(&format!("{a}.{b}")) != mac {
            tracing::info!(conn = arrived_on.id(), "forged flow token in Route ignored");
            return Some(None);
        }
        let (Ok(a), Ok(b)) = (a.parse::<ConnId>(), b.parse::<ConnId>()) else {
            return Some(None);
        };
        let other = if arrived_on.id() == a {
            b
        } else if arrived_on.id() == b {
            a
        } else {
            return Some(None);
        };
        Some(self.connections.get(other).filter(|c| !c.is_closed()))
    }
}

/// Removes what authenticated the previous hop: signatures and NTLM credentials are for
/// this server, and each receiver gets the message signed for its own connection.
fn strip_hop_credentials(headers: &mut Headers) {
    headers.remove(name::AUTHENTICATION_INFO);
    headers.remove(name::PROXY_AUTHORIZATION);
    let end_to_end: Vec<String> = headers
        .get_all(name::AUTHORIZATION)
        .filter(|v| !sip_proto::auth::AuthHeader::parse(v).is_ok_and(|h| h.is_scheme("NTLM")))
        .map(str::to_owned)
        .collect();
    headers.remove(name::AUTHORIZATION);
    for v in end_to_end {
        headers.push(name::AUTHORIZATION, v);
    }
}

fn unreachable_answer(tx: &ProxyTx) -> Response {
    Response::for_headers(&tx.received, 480).with_to_tag(&tx.to_tag)
}

/// RFC 3261 §16.7 step 6, simplified: 6xx beats everything, then the lowest class.
fn better(candidate: &Response, current: Option<&Response>) -> bool {
    let rank = |s: u16| if s >= 600 { 0 } else { s / 100 };
    current.is_none_or(|c| rank(candidate.status) < rank(c.status))
}

/// A CANCEL for a forwarded request (§9.1): same Request-URI, top Via, Call-ID, From, To,
/// Route and CSeq number.
fn cancel_for(req: &Request) -> Request {
    let mut cancel = Request::new(Method::Cancel, req.uri.clone());
    if let Some(via) = req.headers.get_list(name::VIA).next() {
        cancel.headers.push(name::VIA, via);
    }
    for h in [name::FROM, name::TO, name::CALL_ID, name::ROUTE] {
        for v in req.headers.get_all(h) {
            cancel.headers.push(h, v);
        }
    }
    let seq = req.cseq().map_or(1, |c| c.seq);
    cancel.headers.push(
        name::CSEQ,
        CSeq {
            seq,
            method: Method::Cancel,
        }
        .to_string(),
    );
    cancel.headers.push(name::MAX_FORWARDS, "70");
    cancel
}

/// The ACK for a non-2xx final answer to a forwarded INVITE (§17.1.1.3).
fn ack_for(invite: &Request, resp: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    if let Some(via) = invite.headers.get_list(name::VIA).next() {
        ack.headers.push(name::VIA, via);
    }
    for h in [name::FROM, name::CALL_ID, name::ROUTE] {
        for v in invite.headers.get_all(h) {
            ack.headers.push(h, v);
        }
    }
    if let Some(to) = resp.headers.get(name::TO) {
        ack.headers.push(name::TO, to);
    }
    let seq = invite.cseq().map_or(1, |c| c.seq);
    ack.headers.push(
        name::CSEQ,
        CSeq {
            seq,
            method: Method::Ack,
        }
        .to_string(),
    );
    ack.headers.push(name::MAX_FORWARDS, "70");
    ack
}

impl Requests for Proxy {
    fn request<'a>(
        &'a self,
        conn: &'a ConnHandle,
        request: Request,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Response, RequestError>> + Send + 'a>> {
        Box::pin(Proxy::request(self, conn, request))
    }
}
