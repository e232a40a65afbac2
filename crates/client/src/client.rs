//! The handle: cheap to clone, each call a message to the session task and an answer back.

use std::path::Path;
use std::sync::Arc;

use tokio::io::AsyncRead;
use tokio::sync::{mpsc, oneshot};
use xccos::{ChanId, CommandKind, Ftdb, Inv, Qib, Reply, ReplyData};

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::events::Events;
use crate::files::{self, Connector, FileLink};
use crate::session::{Call, Op, Session};
use crate::types::{
    BatchJoin, ChatLine, FileToken, HistoryQuery, Invitation, Joined, RoomInfo, ServerInfo,
    joined_rooms,
};

/// Calls waiting for the session; more wait in their callers.
const CALL_QUEUE: usize = 64;

/// A signed-in Group Chat client. Clones share one session.
#[derive(Debug, Clone)]
pub struct Client {
    ops: mpsc::Sender<Op>,
    user: Arc<str>,
    join_history: u32,
    files: Arc<Connector>,
}

impl Client {
    /// Connects, signs in and opens the chat session; the session then runs in its own task
    /// until [`Client::close`] or until every handle is dropped.
    pub async fn connect(config: ClientConfig) -> Result<(Client, Events), ClientError> {
        let (ops, ops_rx) = mpsc::channel(CALL_QUEUE);
        let (events, events_rx) = mpsc::unbounded_channel();
        let join_history = config.join_history.max(1);
        let files = Arc::new(Connector::new(&config));
        let mut session = Session::new(config, ops_rx, events)?;
        let conn = session.establish().await?;
        let user = Arc::from(session.aor());
        tokio::spawn(session.run(conn));
        Ok((
            Client {
                ops,
                user,
                join_history,
                files,
            },
            Events::new(events_rx),
        ))
    }

    /// Our address, `sip:user@domain`.
    pub fn user(&self) -> &str {
        &self.user
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, ClientError>>) -> Call,
    ) -> Result<T, ClientError> {
        let (respond, answer) = oneshot::channel();
        self.ops
            .send(Op::Call(make(respond)))
            .await
            .map_err(|_| ClientError::Closed)?;
        answer.await.map_err(|_| ClientError::Closed)?
    }

    async fn command(&self, kind: CommandKind) -> Result<Reply, ClientError> {
        self.call(|respond| Call::Command {
            kind: Box::new(kind),
            respond,
        })
        .await
    }

    /// Every room we may see.
    pub async fn rooms(&self) -> Result<Vec<RoomInfo>, ClientError> {
        self.search_rooms("", false).await
    }

    /// Rooms whose name (and description, with `descriptions`) contains `text`.
    pub async fn search_rooms(
        &self,
        text: &str,
        descriptions: bool,
    ) -> Result<Vec<RoomInfo>, ClientError> {
        let qib = Qib {
            qtype: xccos::QTYPE_BYNAME.to_owned(),
            criteria: text.to_owned(),
            extended: descriptions,
        };
        match self.command(CommandKind::ChanSrch(qib)).await?.data {
            ReplyData::ChanSrch(chanibs) => Ok(chanibs.iter().map(RoomInfo::from_chanib).collect()),
            other => Err(unexpected(&other)),
        }
    }

    /// The room with this name (any case) or `ma-chan:` URI.
    pub async fn find_room(&self, name_or_uri: &str) -> Result<RoomInfo, ClientError> {
        let wanted = name_or_uri.trim();
        let found = self
            .search_rooms(
                if wanted.starts_with(xccos::CHANNEL_SCHEME) {
                    ""
                } else {
                    wanted
                },
                false,
            )
            .await?;
        found
            .into_iter()
            .find(|r| r.uri == wanted || r.name.eq_ignore_ascii_case(wanted))
            .ok_or_else(|| ClientError::NoSuchRoom {
                room: wanted.to_owned(),
            })
    }

    /// Joins a room and fetches its latest history ([`ClientConfig::join_history`]).
    pub async fn join(&self, room: &str) -> Result<Joined, ClientError> {
        let chanid = ChanId::from_uri(0, room).ok_or_else(|| ClientError::NoSuchRoom {
            room: room.to_owned(),
        })?;
        let data = match self.command(CommandKind::Join(chanid)).await?.data {
            ReplyData::Join(data) => data,
            other => return Err(unexpected(&other)),
        };
        let mut joined = joined_rooms(&data)
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Protocol("the join reply names no room".into()))?;
        joined.history = self
            .history(&joined.room.uri, HistoryQuery::Last(self.join_history))
            .await?;
        Ok(joined)
    }

    /// Joins several rooms at once; those that cannot be joined are listed, not errors.
    pub async fn join_many(&self, rooms: &[&str]) -> Result<BatchJoin, ClientError> {
        let mut failed = Vec::new();
        let mut chanids = Vec::new();
        for room in rooms {
            match ChanId::from_uri(u32::try_from(chanids.len()).unwrap_or(u32::MAX), room) {
                Some(chanid) => chanids.push(chanid),
                None => failed.push((*room).to_owned()),
            }
        }
        let data = match self.command(CommandKind::BJoin(chanids)).await?.data {
            ReplyData::BJoin(data) => data,
            other => return Err(unexpected(&other)),
        };
        failed.extend(data.fibs.iter().map(|f| {
            ChanId {
                key: 0,
                domain: f.domain.clone().unwrap_or_default(),
                value: f.value.clone(),
            }
            .uri()
        }));
        let mut joined = joined_rooms(&data);
        for j in &mut joined {
            j.history = self
                .history(&j.room.uri, HistoryQuery::Last(self.join_history))
                .await?;
        }
        Ok(BatchJoin { joined, failed })
    }

    pub async fn part(&self, room: &str) -> Result<(), ClientError> {
        self.command(CommandKind::Part {
            channel_uri: room.to_owned(),
        })
        .await
        .map(drop)
    }

    /// History of a room, oldest first.
    pub async fn history(
        &self,
        room: &str,
        query: HistoryQuery,
    ) -> Result<Vec<ChatLine>, ClientError> {
        let kind = CommandKind::BcContext {
            channel_uri: room.to_owned(),
            query: query.to_bcq(),
        };
        match self.command(kind).await?.data {
            ReplyData::BcContext(chanibs) => Ok(chanibs
                .iter()
                .flat_map(|c| &c.msgs)
                .map(|m| ChatLine::from_message(m, false))
                .collect()),
            other => Err(unexpected(&other)),
        }
    }

    /// Posts a line; it returns once the server has stored it. The line itself comes back
    /// as an [`crate::Event::Message`] like everyone else's.
    pub async fn post(&self, room: &str, text: &str) -> Result<(), ClientError> {
        self.call(|respond| Call::Post {
            room: room.to_owned(),
            text: text.to_owned(),
            respond,
        })
        .await
    }

    /// Invitations with an id of at least `from`.
    pub async fn invitations(&self, from: u64) -> Result<Vec<Invitation>, ClientError> {
        let ask = Inv {
            invite_id: from,
            domain: None,
            ts: None,
            chanib: None,
        };
        match self.command(CommandKind::GetInv(Some(ask))).await?.data {
            ReplyData::GetInv(invs) => Ok(invs.iter().filter_map(Invitation::from_inv).collect()),
            other => Err(unexpected(&other)),
        }
    }

    pub async fn server_info(&self) -> Result<ServerInfo, ClientError> {
        match self.command(CommandKind::GetServerInfo(None)).await?.data {
            ReplyData::GetServerInfo(Some(sib)) => Ok(ServerInfo::from_sib(&sib)),
            other => Err(unexpected(&other)),
        }
    }

    /// A token to upload `file_name` to a room through the file web service.
    pub async fn upload_token(
        &self,
        room: &str,
        file_name: &str,
    ) -> Result<FileToken, ClientError> {
        self.file_token(CommandKind::GetFuTok(Ftdb {
            channel_uri: room.to_owned(),
            file_url: file_name.to_owned(),
        }))
        .await
    }

    /// A token to download the file at `file_url` from a room.
    pub async fn download_token(
        &self,
        room: &str,
        file_url: &str,
    ) -> Result<FileToken, ClientError> {
        self.file_token(CommandKind::GetFdTok(Ftdb {
            channel_uri: room.to_owned(),
            file_url: file_url.to_owned(),
        }))
        .await
    }

    async fn file_token(&self, kind: CommandKind) -> Result<FileToken, ClientError> {
        match self.command(kind).await?.data {
            ReplyData::GetFTok(Some(t)) => Ok(FileToken {
                token: t.token,
                server_uri: t.server_uri,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Uploads the file at `path` into a room and posts it there (its name, then its link);
    /// the link. `progress` hears (bytes sent, bytes in all) as the upload goes.
    pub async fn upload(
        &self,
        room: &str,
        path: &Path,
        progress: impl Fn(u64, u64),
    ) -> Result<FileLink, ClientError> {
        let unreadable = |e: std::io::Error| ClientError::LocalFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let original_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| ClientError::LocalFile {
                path: path.display().to_string(),
                reason: "not a file name".into(),
            })?;
        let file = tokio::fs::File::open(path).await.map_err(unreadable)?;
        let meta = file.metadata().await.map_err(unreadable)?;
        if !meta.is_file() {
            return Err(ClientError::LocalFile {
                path: path.display().to_string(),
                reason: "not a file".into(),
            });
        }
        self.upload_from(room, &original_name, file, meta.len(), progress)
            .await
    }

    /// Uploads `length` bytes of `reader` into a room as a file named `original_name`, and
    /// posts it there; the link. The bytes are streamed, never held whole.
    pub async fn upload_from(
        &self,
        room: &str,
        original_name: &str,
        reader: impl AsyncRead + Unpin,
        length: u64,
        progress: impl Fn(u64, u64),
    ) -> Result<FileLink, ClientError> {
        let token = self.upload_token(room, original_name).await?;
        let name = files::put(
            &self.files,
            &token,
            original_name,
            reader,
            length,
            &progress,
        )
        .await?;
        let link = FileLink::in_room(room, &name).ok_or_else(|| {
            ClientError::Protocol(format!("{room} and {name:?} make no file link"))
        })?;
        self.post(room, &format!("{original_name} {link}")).await?;
        Ok(link)
    }

    /// Downloads a file of a room, named by its link or its repository name, to
    /// `destination` (never replacing a file there); its size. What arrives is kept in a
    /// partial file beside the destination until it is whole, and asking again after a
    /// broken transfer resumes from there. `progress` hears (bytes so far, bytes in all).
    pub async fn download(
        &self,
        room: &str,
        file: &str,
        destination: &Path,
        progress: impl Fn(u64, u64),
    ) -> Result<u64, ClientError> {
        let name = match FileLink::parse(file) {
            Some(link) => link.name,
            None if xccos::is_repository_name(file) => file.to_owned(),
            None => {
                return Err(ClientError::NoSuchFile {
                    name: file.to_owned(),
                    room: room.to_owned(),
                });
            }
        };
        files::refuse_existing(destination).await?;
        let token = self.download_token(room, file).await?;
        files::get(&self.files, &token, &name, destination, &progress).await
    }

    /// Ends the chat session (BYE) and the connection; every handle is closed after it.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.ops.send(Op::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

fn unexpected(data: &ReplyData) -> ClientError {
    ClientError::Protocol(format!("unexpected reply {}", data.id()))
}
