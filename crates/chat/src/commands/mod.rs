//! The XCCOS dispatcher: one INFO body in, one module per wire command out. Each command
//! lives in the file named by its wire id without the `cmd:` prefix (`cmd:chansrch` in
//! `chansrch.rs`, `cmd:join` and `cmd:bjoin` in `join.rs`, `cmd:getpref` and `cmd:setpref`
//! in `pref.rs`); a posted message, `grpchat`, in `grpchat.rs`. A module's function (`run`,
//! or one per wire id where a module holds two: `join::bjoin`, `pref::set`) decides the
//! command's [`Outcome`]; this module turns it into the reply the asking session gets.
//! What several commands share stays beside them: who may do what in `permissions.rs`,
//! who is present in `roster.rs`, search bounds in `search.rs`, reply sizes in `output.rs`,
//! file tokens and links in `files/`.
//!
//! Adding a command: parse it in `xccos` (`CommandKind`), write `<wire id>.rs` here, and add
//! its arm to [`ChatService::run`].

mod bccontext;
pub(crate) mod chansrch;
mod getassoc;
mod getfdtok;
mod getfutok;
mod getinv;
mod getserverinfo;
mod grpchat;
mod join;
mod nodespermcreatechild;
mod part;
mod pref;
mod requri;

use xccos::{Command, CommandKind, Envelope, Message, Reply, ReplyData, ResponseCode};

use crate::{Answer, ChatError, ChatService, Principal, SessionId};

/// What a command comes to: the data of its reply, or the code it is refused with.
type Outcome = Result<ReplyData, ResponseCode>;

impl ChatService {
    /// Handles one INFO body from a session. `respond` is called once with the answer to
    /// the INFO, before any reply or message that the body causes is delivered.
    pub async fn handle(
        &self,
        session: SessionId,
        body: &[u8],
        respond: impl FnOnce(Answer) + Send,
    ) {
        let envelope = match Envelope::parse(body, &self.settings.xccos_limits) {
            Ok(e) => e,
            Err(e) => {
                tracing::info!(session, error = %e, "malformed XCCOS");
                return respond(Answer::Malformed);
            }
        };
        let Some(principal) = self.rosters().principal(session).cloned() else {
            return respond(Answer::NoSession);
        };
        let mut respond = Some(respond);
        for message in envelope.messages {
            match message {
                Message::GrpChat(chat) => {
                    let answer = |a: Answer| {
                        if let Some(r) = respond.take() {
                            r(a);
                        }
                    };
                    grpchat::run(self, session, &principal, chat, answer).await;
                }
                Message::Command(command) => {
                    if let Some(r) = respond.take() {
                        r(Answer::Accepted);
                    }
                    self.command(session, &principal, envelope.envid, command)
                        .await;
                }
                Message::Reply(_) | Message::Notice(_) => {}
            }
        }
        if let Some(r) = respond.take() {
            r(Answer::Accepted);
        }
    }

    /// Runs one command and sends its reply to the asking session.
    async fn command(
        &self,
        session: SessionId,
        principal: &Principal,
        envid: u64,
        command: Command,
    ) {
        let outcome = match self.run(session, principal, &command.kind).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %e, command = command.kind.id(), "command failed");
                Err(ResponseCode::Server)
            }
        };
        // Lync 2013 expects the rooms' history after `rpl:bjoin` without asking for it.
        let pushed = match (&command.kind, &outcome) {
            (CommandKind::BJoin(_), Ok(ReplyData::BJoin(data)))
                if self.rosters().pushes_history_on_bjoin(session) =>
            {
                Some(data.chanibs.iter().map(|c| c.uri.clone()).collect())
            }
            _ => None,
        };
        let reply = match outcome {
            Ok(data) => Reply::answer(&command, envid, ResponseCode::Ok, data),
            Err(code) => Reply::failure(&command, envid, code),
        };
        // A reply too large to send is still answered, so the client does not wait for it.
        if !self.send(&[session], reply) {
            self.send(
                &[session],
                Reply::failure(&command, envid, ResponseCode::LimitExceeded),
            );
        }
        if let Some(rooms) = pushed {
            bccontext::push(self, session, principal, command.seqid, rooms).await;
        }
    }

    /// The dispatch: one arm per wire command, each to the module of that name.
    async fn run(
        &self,
        session: SessionId,
        principal: &Principal,
        kind: &CommandKind,
    ) -> Result<Outcome, ChatError> {
        Ok(match kind {
            CommandKind::ReqUri => requri::run(self),
            CommandKind::GetServerInfo(asked) => {
                getserverinfo::run(self, session, principal, asked.as_ref())
            }
            CommandKind::ChanSrch(qib) => chansrch::run(self, principal, qib).await?,
            CommandKind::Join(chanid) => join::join(self, session, principal, chanid).await?,
            CommandKind::BJoin(chanids) => join::bjoin(self, session, principal, chanids).await?,
            CommandKind::Part { channel_uri } => {
                part::run(self, session, principal, channel_uri).await?
            }
            CommandKind::BcContext { channel_uri, query } => {
                bccontext::run(self, principal, channel_uri, query).await?
            }
            CommandKind::GetInv(inv) => getinv::run(self, principal, inv.as_ref()).await?,
            CommandKind::GetPref(pref) => pref::get(self, principal, pref).await?,
            CommandKind::SetPref(pref) => pref::set(self, principal, pref).await?,
            CommandKind::NodesPermCreateChild => nodespermcreatechild::run(self, principal).await?,
            CommandKind::GetAssoc => getassoc::run(self, principal).await?,
            CommandKind::GetFuTok(ftdb) => getfutok::run(self, principal, ftdb).await?,
            CommandKind::GetFdTok(ftdb) => getfdtok::run(self, principal, ftdb).await?,
            CommandKind::Unknown { .. } => Err(ResponseCode::MsgNotSupported),
        })
    }
}
