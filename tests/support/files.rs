//! File transfer for the tests: rooms to post files into, members signed in to get tokens
//! over XCCOS, a SOAP client of `MGCWebService.asmx` built on the `mgc` crate's client
//! side, and a look at what the file store holds on disk.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use hyper::Method;
use mgc::{Request, Response, SoapError};
use parlance_store::rooms::{Behavior, NewCategory, NewRoom, Privacy, Role};

use crate::chat::ChatClient;
use crate::https::{Https, Reply};
use crate::{DOMAIN, TestServer};

/// The room GUID of a `ma-chan://domain/<GUID>` URI: what SOAP calls the `channelId`.
pub fn room_guid(room_uri: &str) -> &str {
    room_uri.rsplit('/').next().expect("a ma-chan URI")
}

/// A server with a closed room in which `members` may post, each signed in; more users
/// (outsiders) may be added with [`TestServer::add_user`].
#[allow(missing_debug_implementations)]
pub struct FileRoom {
    pub s: TestServer,
    pub room: String,
    pub members: Vec<ChatClient>,
}

impl FileRoom {
    pub async fn start(members: &[&str]) -> FileRoom {
        Self::start_with(members, |_| {}).await
    }

    pub async fn start_with(
        members: &[&str],
        tweak: impl FnOnce(&mut parlance_server::config::Config),
    ) -> FileRoom {
        let s = TestServer::start_with(tweak).await;
        for user in members {
            s.add_user(user, "pw").await;
        }
        let roles: Vec<(&str, Role)> = members.iter().map(|u| (*u, Role::Member)).collect();
        let room = s
            .add_room("Files", Privacy::Closed, Behavior::Normal, &roles)
            .await;
        let mut clients = Vec::new();
        for user in members {
            let mut client = ChatClient::connect(&s, user, "pw").await;
            assert!(client.join(&room).await.resp.is_success());
            clients.push(client);
        }
        FileRoom {
            s,
            room,
            members: clients,
        }
    }

    pub fn guid(&self) -> &str {
        room_guid(&self.room)
    }

    pub async fn upload_token(&mut self, member: usize, original_name: &str) -> String {
        let room = self.room.clone();
        let token = self.members[member]
            .file_token(true, &room, original_name)
            .await
            .expect("an upload token");
        assert_eq!(token.server_uri, self.service_url(), "serveruri");
        token.token
    }

    pub async fn download_token(&mut self, member: usize, name: &str) -> String {
        let room = self.room.clone();
        self.members[member]
            .file_token(false, &room, name)
            .await
            .expect("a download token")
            .token
    }

    /// Posts the file `name` into the room as Parlance's client does, so that other
    /// members may download it.
    pub async fn post_link(&mut self, member: usize, original_name: &str, name: &str) {
        let link = format!("ma-filelink://{DOMAIN}/{}/{name}", self.guid());
        let room = self.room.clone();
        let status = self.members[member]
            .post(&room, &format!("{original_name} {link}"))
            .await;
        assert_eq!(status, 200, "the post is taken");
    }

    /// The absolute URL the server hands out with its tokens.
    pub fn service_url(&self) -> String {
        format!(
            "https://{DOMAIN}:{}{}",
            self.s.https_addr().port(),
            mgc::PATH
        )
    }

    pub async fn soap(&self) -> Soap {
        Soap::new(self.s.https().await, self.max_chunk())
    }

    /// Uploads `data` over SOAP as `member`, under a fresh upload token for `original_name`,
    /// in chunks of `chunk` bytes. Returns the repository name, which keeps the original's
    /// extension.
    pub async fn upload(
        &mut self,
        soap: &mut Soap,
        member: usize,
        original_name: &str,
        data: &[u8],
        chunk: usize,
    ) -> String {
        let token = self.upload_token(member, original_name).await;
        let extension = original_name.rsplit_once('.').map_or("", |(_, e)| e);
        soap.upload(&token, self.guid(), extension, data, chunk)
            .await
            .unwrap_or_else(|e| panic!("upload of {} bytes as {original_name}: {e}", data.len()))
    }

    /// Downloads the file `name` over SOAP as `member`, under a fresh download token, in
    /// chunks of `chunk` bytes.
    pub async fn download(
        &mut self,
        soap: &mut Soap,
        member: usize,
        name: &str,
        chunk: usize,
    ) -> Vec<u8> {
        let token = self.download_token(member, name).await;
        soap.download(&token, self.guid(), name, chunk)
            .await
            .unwrap_or_else(|e| panic!("download of {name}: {e}"))
    }

    /// Starts an upload as member 0: a repository name for `.txt`, then the first 1,000
    /// bytes of 3,000, which wait on disk as a partial file for the rest.
    pub async fn start_upload(&mut self, soap: &mut Soap) -> Started {
        let token = self.upload_token(0, "notes.txt").await;
        let name = soap.unique_name(&token, self.guid(), "txt").await.unwrap();
        let answer = soap
            .call(&append(
                &token,
                self.guid(),
                &name,
                &content(1000, 1),
                0,
                3000,
            ))
            .await
            .unwrap();
        assert_eq!(answer, Response::AppendChunk(1000));
        assert!(
            self.stored_files()
                .iter()
                .any(|p| p.to_string_lossy().contains("/.partial/")),
            "the partial file is on disk"
        );
        Started {
            token,
            channel_id: self.guid().to_owned(),
            name,
            length: 3000,
        }
    }

    pub fn max_chunk(&self) -> usize {
        usize::try_from(self.s.config.files.max_chunk_kb * 1024).unwrap()
    }

    /// Every file under the file store's directory, uploads in progress included.
    pub fn stored_files(&self) -> Vec<PathBuf> {
        let dir = self.s.config.files.dir.clone();
        files_under(&dir.unwrap_or_else(|| self.s.config.data_dir.join("files")))
    }

    /// A room of its own whose category does not allow file posting.
    pub async fn add_room_without_filepost(&self, members: &[&str]) -> String {
        let store = &self.s.server().store;
        let root = store.root_category().await.unwrap();
        let category = store
            .add_category(&NewCategory {
                parent_id: root.id,
                name: "No files",
                description: "",
                file_post: false,
                invitations: true,
                logged: true,
            })
            .await
            .unwrap();
        let room = store
            .add_room(&NewRoom {
                category_id: category.id,
                name: "Text only",
                description: "",
                topic: "",
                privacy: Privacy::Closed,
                behavior: Behavior::Normal,
                invitations: true,
            })
            .await
            .unwrap();
        for user in members {
            let id = self.user_id(user).await;
            store
                .set_role(room.id, id, Role::Member, true)
                .await
                .unwrap();
        }
        format!("ma-chan://{DOMAIN}/{}", room.guid)
    }

    pub async fn user_id(&self, user: &str) -> i64 {
        self.s
            .server()
            .store
            .user(&format!("{user}@{DOMAIN}"))
            .await
            .unwrap()
            .expect("user exists")
            .id
    }

    pub async fn room_id(&self) -> i64 {
        self.s
            .server()
            .store
            .room_by_guid(self.guid())
            .await
            .unwrap()
            .expect("room exists")
            .room
            .id
    }

    /// The room's file rows, uploads in progress included.
    pub async fn file_rows(&self) -> Vec<parlance_store::files::StoredFile> {
        let room_id = self.room_id().await;
        self.s.server().store.room_files(room_id).await.unwrap()
    }

    /// The compliance rows about files, as (kind, principal, content).
    pub async fn file_events(&self) -> Vec<(String, i64, String)> {
        let events = self
            .s
            .server()
            .store
            .compliance_events(0, 10_000)
            .await
            .unwrap();
        events
            .into_iter()
            .filter(|e| e.kind.starts_with("file"))
            .map(|e| (e.kind.to_string(), e.principal_id, e.content.to_string()))
            .collect()
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// An upload in progress: its token, its room's GUID, its repository name, and the length
/// its first chunk declared.
#[derive(Debug)]
pub struct Started {
    pub token: String,
    pub channel_id: String,
    pub name: String,
    pub length: u64,
}

impl Started {
    /// The upload's next `AppendChunk`: `chunk` at `offset` of a file of `file_length` bytes.
    pub fn append(&self, chunk: &[u8], offset: u64, file_length: u64) -> Request {
        append(
            &self.token,
            &self.channel_id,
            &self.name,
            chunk,
            offset,
            file_length,
        )
    }
}

/// An `AppendChunk` request: `chunk` at `offset` of a file of `file_length` bytes.
pub fn append(
    token: &str,
    channel_id: &str,
    name: &str,
    chunk: &[u8],
    offset: u64,
    file_length: u64,
) -> Request {
    Request::AppendChunk {
        token: token.into(),
        channel_id: channel_id.into(),
        unique_filename: name.into(),
        file_chunk: chunk.to_vec(),
        offset,
        file_length,
    }
}

/// A `DownloadChunk` request: at most `buffer_size` bytes from `offset`.
pub fn download_chunk(
    token: &str,
    channel_id: &str,
    name: &str,
    offset: u64,
    buffer_size: u64,
) -> Request {
    Request::DownloadChunk {
        token: token.into(),
        channel_id: channel_id.into(),
        repos_file_name: name.into(),
        offset,
        buffer_size,
    }
}

/// A SOAP client of `MGCWebService.asmx` over one HTTPS connection.
#[allow(missing_debug_implementations)]
pub struct Soap {
    pub https: Https,
    limits: mgc::Limits,
}

impl Soap {
    pub fn new(https: Https, max_chunk: usize) -> Soap {
        Soap {
            https,
            limits: mgc::Limits::for_chunk(max_chunk),
        }
    }

    /// Posts a body with a `SOAPAction` (sent quoted, as .NET does) and returns the reply.
    pub async fn post(&mut self, soap_action: Option<&str>, body: impl Into<Bytes>) -> Reply {
        let action = soap_action.map(|a| format!("\"{a}\""));
        let mut headers = vec![("content-type", "text/xml; charset=utf-8")];
        if let Some(action) = &action {
            headers.push(("soapaction", action));
        }
        let reply = self
            .https
            .request(Method::POST, mgc::PATH, &headers, body)
            .await;
        assert_eq!(
            reply.header("content-type"),
            Some("text/xml; charset=utf-8"),
            "every answer is SOAP"
        );
        reply
    }

    /// One call: its result, or the fault it drew (always with HTTP 500).
    pub async fn call(&mut self, request: &Request) -> Result<Response, SoapError> {
        let reply = self
            .post(Some(&request.soap_action()), mgc::write_request(request))
            .await;
        let answer = mgc::parse_response(request.operation(), &reply.body, &self.limits);
        match &answer {
            Ok(_) => assert_eq!(reply.status, 200, "{}", reply.text()),
            Err(SoapError::Fault { .. }) => assert_eq!(reply.status, 500, "faults come with 500"),
            Err(e) => panic!("the answer does not parse: {e}: {}", reply.text()),
        }
        answer
    }

    /// `RequestUniqueFilenameWithExtension`: the repository name the token's upload gets.
    pub async fn unique_name(
        &mut self,
        token: &str,
        channel_id: &str,
        extension: &str,
    ) -> Result<String, SoapError> {
        match self
            .call(&Request::RequestUniqueFilenameWithExtension {
                token: token.to_owned(),
                channel_id: channel_id.to_owned(),
                extension: extension.to_owned(),
            })
            .await?
        {
            Response::UniqueFilename(name) => Ok(name),
            other => panic!("{other:?}"),
        }
    }

    /// Uploads `data` as Lync does: a name for the extension, the two limits, then the
    /// chunks in order. Returns the repository name.
    pub async fn upload(
        &mut self,
        token: &str,
        channel_id: &str,
        extension: &str,
        data: &[u8],
        chunk: usize,
    ) -> Result<String, SoapError> {
        let name = self.unique_name(token, channel_id, extension).await?;
        let (token, channel_id) = (token.to_owned(), channel_id.to_owned());
        let max_kb = self
            .call(&Request::GetMaxFileSizeInKB {
                token: token.clone(),
                channel_id: channel_id.clone(),
            })
            .await?;
        assert!(
            matches!(max_kb, Response::MaxFileSizeInKB(kb) if kb as usize * 1024 >= data.len())
        );
        let chunk_kb = self
            .call(&Request::GetMaxRequestContentInKB {
                token: token.clone(),
                channel_id: channel_id.clone(),
            })
            .await?;
        assert!(
            matches!(chunk_kb, Response::MaxRequestContentInKB(kb) if kb as usize * 1024 >= chunk)
        );
        let mut offset = 0;
        loop {
            let piece = &data[offset..data.len().min(offset + chunk)];
            let stored = self
                .call(&append(
                    &token,
                    &channel_id,
                    &name,
                    piece,
                    offset as u64,
                    data.len() as u64,
                ))
                .await?;
            offset += piece.len();
            assert_eq!(stored, Response::AppendChunk(offset as i64));
            if offset == data.len() {
                return Ok(name);
            }
        }
    }

    /// Downloads a file as Lync does: its size, then chunks of `chunk` bytes.
    pub async fn download(
        &mut self,
        token: &str,
        channel_id: &str,
        name: &str,
        chunk: usize,
    ) -> Result<Vec<u8>, SoapError> {
        let size = match self
            .call(&Request::GetFileSize {
                token: token.to_owned(),
                channel_id: channel_id.to_owned(),
                repos_file_name: name.to_owned(),
            })
            .await?
        {
            Response::FileSize(size) => usize::try_from(size).unwrap(),
            other => panic!("{other:?}"),
        };
        let mut data = Vec::with_capacity(size);
        while data.len() < size {
            match self
                .call(&download_chunk(
                    token,
                    channel_id,
                    name,
                    data.len() as u64,
                    chunk as u64,
                ))
                .await?
            {
                Response::DownloadChunk(bytes) => {
                    assert!(!bytes.is_empty(), "bytes until the end");
                    assert!(bytes.len() <= chunk);
                    data.extend_from_slice(&bytes);
                }
                other => panic!("{other:?}"),
            }
        }
        Ok(data)
    }
}

/// `len` bytes that differ from one position to the next (and from one file to another
/// with another `seed`), so that a misplaced chunk shows.
pub fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}
