//! Signing in, as a real client does (docs/protocol.md, "The client"): REGISTER with Digest, the
//! provisioning SUBSCRIBE, an INVITE to the pool URI and `cmd:requri` there, BYE, an
//! INVITE to the channel server it names, and a look at outstanding invitations.

use std::time::Duration;

use sip_proto::Method;
use tokio::time::Instant;
use xccos::{CommandKind, Inv, ReplyData};

use super::liveness::Liveness;
use super::{Connected, Session, Which};
use crate::error::ClientError;
use crate::events::Event;
use crate::link::Link;
use crate::servers::{Candidate, failover_order};
use crate::sip::dialog::Dialog;
use crate::sip::digest::DigestChallenge;
use crate::sip::local::Local;
use crate::sip::provisioning;
use crate::sip::register::{Granted, Registration};
use crate::types::Invitation;

/// CRLF keep-alives when the server asks for no interval: sipe's first interval.
const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(60);

impl Session {
    /// Opens a connection to one of the servers and signs in over it: the servers in the
    /// order given the first time, in failover order after a lost connection
    /// ([`crate::servers`]). A refusal that no other server would change (a wrong
    /// password, a rejected certificate) ends the search; otherwise the last failure is
    /// the answer when no server is usable.
    pub async fn establish(&mut self) -> Result<Connected, ClientError> {
        let candidates = self.servers.resolve(self.config.local_address).await?;
        let order = match &self.current {
            Some(lost) => failover_order(candidates, lost, &mut rand::rng()),
            None => candidates,
        };
        let mut failure = None;
        for candidate in order {
            match self.establish_at(&candidate).await {
                Ok(conn) => {
                    tracing::info!(server = %candidate, "signed in");
                    self.current = Some(candidate);
                    return Ok(conn);
                }
                Err(error) if error.is_fatal() => return Err(error),
                Err(error) => {
                    tracing::info!(server = %candidate, %error, "server not usable");
                    failure = Some(error);
                }
            }
        }
        Err(failure.unwrap_or_else(|| ClientError::Config("no server is given".into())))
    }

    /// The server signed in to last, as people write it.
    pub fn server(&self) -> String {
        self.current
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    async fn establish_at(&mut self, server: &Candidate) -> Result<Connected, ClientError> {
        let link = Link::open(
            &server.name,
            server.addr,
            &self.config.transport,
            self.config.local_address,
            self.config.connect_timeout,
        )
        .await?;
        let local = Local::new(
            self.identity.clone(),
            self.epid.clone(),
            self.instance.clone(),
            link.transport(),
            link.local(),
        );
        let liveness = Liveness::new(
            self.config.ping_interval,
            self.config.ping_timeout,
            Instant::now(),
        );
        let mut conn = Connected::new(link, local, liveness);
        self.register(&mut conn).await?;
        let pool = self.provisioned_pool(&mut conn).await?;
        let channel = self.look_up(&mut conn, &pool).await?;
        self.open_channel(&mut conn, &channel).await?;
        self.check_invitations(&mut conn).await?;
        Ok(conn)
    }

    /// Registers (or renews), answering the Digest challenge; a stale nonce is answered
    /// once more, any other second challenge means the password was refused.
    pub(super) async fn register(&mut self, conn: &mut Connected) -> Result<(), ClientError> {
        let account = self.account();
        let mut authorization: Option<String> = None;
        let mut stale_retry = true;
        loop {
            let req = conn
                .registration
                .request(&conn.local, authorization.as_deref());
            let answer = self.transact(conn, req).await?;
            match answer.status {
                200..=299 => {
                    let granted = Granted::from_response(&answer);
                    conn.renew_at = Instant::now() + granted.renew_after();
                    conn.link
                        .keep_alive(granted.keep_alive.unwrap_or(DEFAULT_KEEP_ALIVE));
                    return Ok(());
                }
                401 => {
                    let challenge = DigestChallenge::from_response(&answer).ok_or_else(|| {
                        ClientError::SignInRefused {
                            user: account.clone(),
                            status: 401,
                            reason: "no Digest challenge this client can answer".into(),
                        }
                    })?;
                    if authorization.is_some() {
                        if !(challenge.stale && stale_retry) {
                            return Err(ClientError::WrongPassword { user: account });
                        }
                        stale_retry = false;
                    }
                    let uri = Registration::uri(&conn.local);
                    authorization = Some(challenge.authorization(
                        &self.identity.user,
                        &self.config.password,
                        "REGISTER",
                        &uri,
                        1,
                    ));
                }
                status => {
                    return Err(ClientError::SignInRefused {
                        user: account,
                        status,
                        reason: answer.reason,
                    });
                }
            }
        }
    }

    /// `user@domain`, as people write it.
    fn account(&self) -> String {
        format!("{}@{}", self.identity.user, self.identity.domain)
    }

    /// The chat pool URI from provisioning; `sip:ocschat@<domain>` when the server has no
    /// document, as sipe does (docs/protocol.md, "The client").
    async fn provisioned_pool(&mut self, conn: &mut Connected) -> Result<String, ClientError> {
        let fallback = format!("sip:ocschat@{}", self.identity.domain);
        let subscribe =
            provisioning::subscribe(&conn.local).map_err(|e| ClientError::Config(e.to_string()))?;
        let answer = self.transact(conn, subscribe).await?;
        if !(200..300).contains(&answer.status) || answer.body.is_empty() {
            return Ok(fallback);
        }
        let settings = provisioning::chat_settings(&answer.body).map_err(|e| {
            ClientError::Protocol(format!("the provisioning document is unreadable: {e}"))
        })?;
        if !settings.enabled {
            return Err(ClientError::ChatUnavailable {
                status: answer.status,
                reason: "persistent chat is not enabled for this account".into(),
            });
        }
        Ok(match settings.pool_uri {
            Some(uri) if uri.starts_with("sip:") => uri,
            Some(uri) => format!("sip:{uri}"),
            None => fallback,
        })
    }

    /// Asks the pool which channel server to use, then ends the lookup dialog.
    async fn look_up(&mut self, conn: &mut Connected, pool: &str) -> Result<String, ClientError> {
        let dialog = self.invite(conn, pool).await?;
        conn.session_expires = dialog.session_expires;
        conn.lookup = Some(dialog);
        let reply = self
            .command(conn, Which::Lookup, CommandKind::ReqUri)
            .await?;
        let channel = match reply.data {
            ReplyData::ReqUri(Some(uib)) if reply.resp.is_success() => uib.uri,
            _ => {
                return Err(ClientError::Protocol(
                    "the chat pool named no channel server".into(),
                ));
            }
        };
        let bye = conn.in_dialog(Which::Lookup, Method::Bye, None)?;
        self.transact(conn, bye).await?;
        conn.lookup = None;
        Ok(channel)
    }

    async fn open_channel(&mut self, conn: &mut Connected, uri: &str) -> Result<(), ClientError> {
        let dialog = self.invite(conn, uri).await?;
        if dialog.session_expires.is_some() {
            conn.session_expires = dialog.session_expires;
        }
        conn.channel = Some(dialog);
        conn.schedule_refresh();
        Ok(())
    }

    /// INVITE, and ACK the 2xx.
    async fn invite(&mut self, conn: &mut Connected, uri: &str) -> Result<Dialog, ClientError> {
        let invite = Dialog::invite(&conn.local, uri)
            .map_err(|_| ClientError::Protocol(format!("{uri:?} is not a SIP URI")))?;
        let answer = self.transact(conn, invite.clone()).await?;
        if !(200..300).contains(&answer.status) {
            return Err(ClientError::ChatUnavailable {
                status: answer.status,
                reason: answer.reason,
            });
        }
        let dialog = Dialog::established(&invite, &answer).map_err(ClientError::Protocol)?;
        conn.link.send(dialog.ack(&conn.local).to_bytes());
        Ok(dialog)
    }

    /// Reports invitations not reported before. A refusal here does not stop signing in.
    async fn check_invitations(&mut self, conn: &mut Connected) -> Result<(), ClientError> {
        let ask = Inv {
            invite_id: self.next_invitation,
            domain: Some(self.identity.domain.clone()),
            ts: None,
            chanib: None,
        };
        let reply = match self
            .command(conn, Which::Channel, CommandKind::GetInv(Some(ask)))
            .await
        {
            Ok(reply) => reply,
            Err(e) if e.is_connection_lost() => return Err(e),
            Err(error) => {
                tracing::debug!(%error, "invitations not fetched");
                return Ok(());
            }
        };
        if let ReplyData::GetInv(invs) = &reply.data {
            let first = self.next_invitation;
            for invitation in invs
                .iter()
                .filter(|i| i.invite_id >= first)
                .filter_map(Invitation::from_inv)
            {
                self.next_invitation = self.next_invitation.max(invitation.id + 1);
                self.emit(Event::Invited(invitation));
            }
        }
        Ok(())
    }
}
