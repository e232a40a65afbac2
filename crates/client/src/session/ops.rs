//! The calls handles make, carried out one at a time on the open connection, and the
//! server's refusals turned into [`ClientError`]s that name the room.

use sip_proto::Method;
use tokio::sync::oneshot;
use xccos::{CommandKind, Reply, Resp, ResponseCode};

use super::{Connected, Session, Which};
use crate::error::ClientError;
use crate::files::FileLink;

/// What a handle sends the session.
#[derive(Debug)]
pub(crate) enum Op {
    Call(Call),
    /// End the session (BYE) and stop.
    Close(oneshot::Sender<()>),
}

#[derive(Debug)]
pub(crate) enum Call {
    /// An XCCOS command; a failed `rpl` comes back as an error.
    Command {
        // Boxed: commands are large and calls wait in a queue.
        kind: Box<CommandKind>,
        respond: oneshot::Sender<Result<Reply, ClientError>>,
    },
    /// A chat line to a room.
    Post {
        room: String,
        text: String,
        respond: oneshot::Sender<Result<(), ClientError>>,
    },
}

impl Session {
    /// Carries out a call and answers it. Only a lost connection is an error here: the
    /// caller has been told already.
    pub(super) async fn perform(
        &mut self,
        conn: &mut Connected,
        call: Call,
    ) -> Result<(), ClientError> {
        match call {
            Call::Command { kind, respond } => {
                let result = self.command(conn, Which::Channel, (*kind).clone()).await;
                let lost = lost(&result);
                let _ = respond.send(result.and_then(|reply| self.judge(&kind, reply)));
                lost
            }
            Call::Post {
                room,
                text,
                respond,
            } => {
                let result = self.post(conn, &room, &text).await;
                let lost = lost(&result);
                let _ = respond.send(result.map_err(|e| match e {
                    e if e.is_connection_lost() => not_delivered(self.rooms.label(&room), &e),
                    e => e,
                }));
                lost
            }
        }
    }

    fn judge(&mut self, kind: &CommandKind, reply: Reply) -> Result<Reply, ClientError> {
        if reply.resp.is_success() {
            self.rooms.observe(kind, &reply);
            Ok(reply)
        } else {
            Err(self.refusal(kind, &reply.resp))
        }
    }

    /// The error a failed `resp` means for `kind`.
    pub(super) fn refusal(&self, kind: &CommandKind, resp: &Resp) -> ClientError {
        let room = match target(kind) {
            Some(uri) => self.rooms.label(&uri),
            None => "the rooms".to_owned(),
        };
        match resp.response_code() {
            // A download token for a file that does not exist, or that this user may not
            // fetch, is refused like an unknown room (docs/protocol.md, "Tokens").
            Some(ResponseCode::NoSuchNode) if let CommandKind::GetFdTok(ftdb) = kind => {
                ClientError::NoSuchFile {
                    name: FileLink::parse(&ftdb.file_url)
                        .map_or_else(|| ftdb.file_url.clone(), |link| link.name),
                    room,
                }
            }
            Some(ResponseCode::NoSuchNode) => ClientError::NoSuchRoom { room },
            Some(ResponseCode::Permission) => ClientError::Forbidden {
                action: action(kind),
                room,
            },
            Some(ResponseCode::NodeDisabled) => ClientError::RoomDisabled { room },
            Some(ResponseCode::UserNotJoined) => ClientError::NotJoined { room },
            Some(ResponseCode::MsgNotSupported) => ClientError::Unsupported {
                command: kind.id().to_owned(),
            },
            _ => ClientError::Refused {
                command: kind.id().to_owned(),
                code: resp.code,
                text: resp.text.clone(),
            },
        }
    }

    /// Posts a line. grpchat has no reply: its refusals are the SIP answer to the INFO
    /// (docs/protocol.md, "grpchat refusals are SIP answers").
    async fn post(
        &mut self,
        conn: &mut Connected,
        room: &str,
        text: &str,
    ) -> Result<(), ClientError> {
        let body = self.envelopes.chat(room, &self.identity.aor, text);
        let info = conn.in_dialog(Which::Channel, Method::Info, Some(body))?;
        let answer = self.transact(conn, info).await?;
        let room = self.rooms.label(room);
        match answer.status {
            200..=299 => Ok(()),
            404 => Err(ClientError::NoSuchRoom { room }),
            403 if answer.reason.eq_ignore_ascii_case("Not Joined") => {
                Err(ClientError::NotJoined { room })
            }
            403 => Err(ClientError::Forbidden {
                action: "post in",
                room,
            }),
            413 => Err(ClientError::TooLarge { room }),
            481 => Err(ClientError::Disconnected(
                "the chat session has ended".into(),
            )),
            code => Err(ClientError::Refused {
                command: "grpchat".into(),
                code,
                text: answer.reason,
            }),
        }
    }
}

/// A post that the connection's end left unconfirmed.
pub(super) fn not_delivered(room: String, why: &ClientError) -> ClientError {
    let reason = match why {
        ClientError::NotConnected => "the client is reconnecting".to_owned(),
        e => format!(
            "the connection was lost before the server confirmed it ({e}); \
             if the server stored it, it appears in the room after the reconnect"
        ),
    };
    ClientError::NotDelivered { room, reason }
}

fn lost<T>(result: &Result<T, ClientError>) -> Result<(), ClientError> {
    match result {
        Err(e) if e.is_connection_lost() => Err(e.clone()),
        _ => Ok(()),
    }
}

/// The room a command is about.
fn target(kind: &CommandKind) -> Option<String> {
    match kind {
        CommandKind::Join(chanid) => Some(chanid.uri()),
        CommandKind::Part { channel_uri } | CommandKind::BcContext { channel_uri, .. } => {
            Some(channel_uri.clone())
        }
        CommandKind::GetFuTok(ftdb) | CommandKind::GetFdTok(ftdb) => Some(ftdb.channel_uri.clone()),
        _ => None,
    }
}

/// What was refused, as in "you may not … Lobby".
fn action(kind: &CommandKind) -> &'static str {
    match kind {
        CommandKind::Join(_) | CommandKind::BJoin(_) => "join",
        CommandKind::Part { .. } => "leave",
        CommandKind::BcContext { .. } => "read the history of",
        CommandKind::GetFuTok(_) => "post files in",
        CommandKind::GetFdTok(_) => "fetch files from",
        _ => "use",
    }
}
