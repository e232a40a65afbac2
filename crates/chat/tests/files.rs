//! File tokens end to end through the chat core: `cmd:getfutok`/`cmd:getfdtok` handled as
//! INFO bodies, posts that link files, and the web layer's side (`Transfers`) checking the
//! tokens it is handed. A real store on disk and the server's clock, moved by the tests.

mod common;

use common::{DOMAIN, Recorder};

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parlance_chat::files::{
    CheckedGrant, Direction, FileRefusal, FileSettings, FileState, Grant, StoredFile, Transfers,
};
use parlance_chat::{Answer, ChatService, SessionId};
use parlance_clock::Clock;
use parlance_store::Store;
use parlance_store::files::NewFileToken;
use parlance_store::rooms::{Behavior, Privacy, Role, RoomInfo, RoomUpdate};
use xccos::{ChanId, CommandKind, Ftdb, Reply, ReplyData};

/// The link a message posts a room's file with.
fn file_link(domain: &str, room_guid: &str, name: &str) -> String {
    xccos::FileLink {
        domain: domain.into(),
        room_guid: room_guid.into(),
        name: name.into(),
    }
    .to_string()
}

const SERVICE_URL: &str = "https://chat.example.test:8443/PersistentChat/MGCWebService.asmx";
const LIFETIME: Duration = Duration::from_secs(1800);
const MAX_FILE: u64 = 1_000;
const QUOTA: u64 = 2_500;
const TOKENS_PER_USER: u32 = 3;
const FILES_PER_ROOM: u64 = 8;

fn file_settings() -> FileSettings {
    FileSettings {
        service_url: SERVICE_URL.into(),
        token_lifetime: LIFETIME,
        max_file_bytes: MAX_FILE,
        room_quota_bytes: QUOTA,
        max_chunk_bytes: 64,
        max_tokens_per_user: TOKENS_PER_USER,
        max_files_per_room: FILES_PER_ROOM,
    }
}

/// A chat core on a fresh database, its file service on or off.
struct World {
    chat: ChatService,
    store: Store,
    clock: Clock,
    sink: Arc<Recorder>,
    transfers: Transfers,
    dir: PathBuf,
    sessions: AtomicU64,
}

/// A user with a chat session.
#[derive(Debug, Clone, Copy)]
struct User {
    id: i64,
    session: SessionId,
}

impl World {
    async fn start(files: Option<FileSettings>) -> World {
        let dir = common::scratch_dir("files");
        let store = Store::open_sqlite(&dir.join("chat.db")).await.unwrap();
        let clock = Clock::default();
        let sink = Arc::new(Recorder::default());
        let settings = common::settings(files, None);
        let chat = ChatService::new(store.clone(), settings, sink.clone(), clock.clone())
            .await
            .unwrap();
        let transfers =
            Transfers::new(store.clone(), clock.clone(), DOMAIN.into(), file_settings());
        World {
            chat,
            store,
            clock,
            sink,
            transfers,
            dir,
            sessions: AtomicU64::new(1),
        }
    }

    async fn finish(self) {
        self.store.close().await;
        std::fs::remove_dir_all(&self.dir).unwrap();
    }

    async fn user(&self, name: &str) -> User {
        let session = self.sessions.fetch_add(1, Ordering::SeqCst);
        let id = common::sign_in(&self.chat, &self.store, name, session).await;
        User { id, session }
    }

    /// A room in a category of its own, whose `filepost` is as given.
    async fn room(
        &self,
        name: &str,
        privacy: Privacy,
        behavior: Behavior,
        file_post: bool,
        roles: &[(User, Role)],
    ) -> RoomInfo {
        let room = common::room(&self.store, name, privacy, behavior, file_post).await;
        for (user, role) in roles {
            self.store
                .set_role(room.room.id, user.id, *role, true)
                .await
                .unwrap();
        }
        room
    }

    /// A Closed room whose members are `members`.
    async fn closed_room(&self, name: &str, members: &[User]) -> RoomInfo {
        let roles: Vec<(User, Role)> = members.iter().map(|m| (*m, Role::Member)).collect();
        self.room(name, Privacy::Closed, Behavior::Normal, true, &roles)
            .await
    }

    async fn open_room(&self, name: &str) -> RoomInfo {
        self.room(name, Privacy::Open, Behavior::Normal, true, &[])
            .await
    }

    /// Runs one command and returns its reply.
    async fn command(&self, user: User, kind: CommandKind) -> Reply {
        common::command(&self.chat, &self.sink, user.session, kind).await
    }

    /// `cmd:getfutok` (or `cmd:getfdtok`): the token, or the refusal's code.
    async fn token(
        &self,
        user: User,
        room: &RoomInfo,
        direction: Direction,
        file_url: &str,
    ) -> Result<String, u16> {
        let ftdb = Ftdb {
            channel_uri: room_uri(room),
            file_url: file_url.into(),
        };
        let kind = match direction {
            Direction::Upload => CommandKind::GetFuTok(ftdb),
            Direction::Download => CommandKind::GetFdTok(ftdb),
        };
        let reply = self.command(user, kind).await;
        match reply.data {
            ReplyData::GetFTok(Some(token)) if reply.resp.is_success() => {
                assert_eq!(token.server_uri, SERVICE_URL);
                Ok(token.token)
            }
            ReplyData::GetFTok(None) => Err(reply.resp.code),
            other => panic!("not rpl:getftok: {other:?}"),
        }
    }

    async fn upload_token(&self, user: User, room: &RoomInfo) -> String {
        self.token(user, room, Direction::Upload, "report.pdf")
            .await
            .unwrap()
    }

    async fn grant(&self, token: &str, room: &RoomInfo, direction: Direction) -> Grant {
        self.transfers
            .authorize(token, Some(&room.room.guid), direction)
            .await
            .unwrap()
    }

    /// An upload's first steps: a token, its grant, and the name it reserves.
    async fn reserve(
        &self,
        user: User,
        room: &RoomInfo,
        extension: &str,
    ) -> (String, Grant, StoredFile) {
        let token = self.upload_token(user, room).await;
        let grant = self.grant(&token, room, Direction::Upload).await;
        let file = self
            .transfers
            .reserve_name(&grant, extension)
            .await
            .unwrap();
        (token, grant, file)
    }

    /// What the web layer does with an upload token: a name, a length, completion.
    async fn upload(&self, user: User, room: &RoomInfo, size: u64) -> StoredFile {
        let (_, grant, file) = self.reserve(user, room, "pdf").await;
        self.transfers
            .begin_upload(&grant, &file, size)
            .await
            .unwrap();
        self.transfers
            .complete_upload(&grant, &file, size)
            .await
            .unwrap();
        self.store.file(file.id).await.unwrap().unwrap()
    }

    /// Gives `user` the member role in `room`, or takes it away.
    async fn member(&self, room: &RoomInfo, user: User, on: bool) {
        self.store
            .set_role(room.room.id, user.id, Role::Member, on)
            .await
            .unwrap();
    }

    async fn disable_bob(&self, disabled: bool) {
        self.store
            .set_disabled("sip:bob@example.test", disabled)
            .await
            .unwrap();
    }

    async fn join(&self, user: User, room: &RoomInfo) {
        let chanid = ChanId::from_uri(0, &room_uri(room)).unwrap();
        let reply = self.command(user, CommandKind::Join(chanid)).await;
        assert!(reply.resp.is_success(), "{reply:?}");
    }

    async fn post(&self, user: User, room: &RoomInfo, text: &str) -> Answer {
        let author = self.store.user_by_id(user.id).await.unwrap().unwrap().uri;
        let at = self.clock.unix_nanos();
        common::post(&self.chat, user.session, &author, &room_uri(room), at, text).await
    }

    async fn file_events(&self) -> Vec<(String, i64, String)> {
        self.store
            .compliance_events(0, u32::MAX)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind.starts_with("file"))
            .map(|e| (e.kind.to_string(), e.principal_id, e.content.to_string()))
            .collect()
    }
}

/// The file service on, a user and an open room: where most of these tests start.
async fn alice_in_lobby() -> (World, User, RoomInfo) {
    let world = World::start(Some(file_settings())).await;
    let alice = world.user("alice").await;
    let lobby = world.open_room("Lobby").await;
    (world, alice, lobby)
}

fn room_uri(room: &RoomInfo) -> String {
    format!("ma-chan://{DOMAIN}/{}", room.room.guid)
}

fn link(room: &RoomInfo, file: &StoredFile) -> String {
    file_link(DOMAIN, &room.room.guid, &file.name)
}

#[tokio::test]
async fn tokens_are_issued_for_each_direction_with_the_service_url() {
    let (world, alice, lobby) = alice_in_lobby().await;

    let upload = world
        .token(alice, &lobby, Direction::Upload, "TestInfoRecord.txt")
        .await
        .unwrap();
    assert_eq!(upload.len(), 36, "a GUID: {upload}");
    let grant = world.grant(&upload, &lobby, Direction::Upload).await;
    assert_eq!(
        (
            grant.token.direction,
            grant.token.file_url.as_str(),
            grant.room_guid.as_str(),
            grant.principal_uri.as_str(),
            grant.file.is_none()
        ),
        (
            Direction::Upload,
            "TestInfoRecord.txt",
            lobby.room.guid.as_str(),
            "sip:alice@example.test",
            true
        )
    );
    assert_eq!(
        grant.token.expires_at - grant.token.issued_at,
        LIFETIME.as_nanos() as i64
    );

    let file = world.upload(alice, &lobby, 43).await;
    for file_url in [file.name.clone(), link(&lobby, &file)] {
        let download = world
            .token(alice, &lobby, Direction::Download, &file_url)
            .await
            .unwrap();
        let grant = world.grant(&download, &lobby, Direction::Download).await;
        assert_eq!(Transfers::download_file(&grant).unwrap(), &file);
        assert!(matches!(
            world
                .transfers
                .authorize(&download, Some(&lobby.room.guid), Direction::Upload)
                .await,
            Err(FileRefusal::WrongDirection)
        ));
    }
    world.finish().await;
}

/// A limit of the service (`GetMaxRequestContentInKB`) may be asked with either kind of
/// token, still only a valid one of that room.
#[tokio::test]
async fn either_kind_of_token_may_ask_what_holds_for_both() {
    let (world, alice, lobby) = alice_in_lobby().await;
    let upload = world
        .token(alice, &lobby, Direction::Upload, "notes.txt")
        .await
        .unwrap();
    let file = world.upload(alice, &lobby, 43).await;
    let download = world
        .token(alice, &lobby, Direction::Download, &file.name)
        .await
        .unwrap();
    for (token, direction) in [
        (&upload, Direction::Upload),
        (&download, Direction::Download),
    ] {
        let grant = world
            .transfers
            .authorize_either(token, Some(&lobby.room.guid))
            .await
            .unwrap();
        assert_eq!(grant.token.direction, direction);
    }
    assert!(matches!(
        world
            .transfers
            .authorize_either(&download, Some("0b0e7c52-5e55-4c0b-b3f4-6b8e5e3b0a55"))
            .await,
        Err(FileRefusal::WrongRoom)
    ));
    assert!(matches!(
        world
            .transfers
            .authorize_either("0b0e7c52-5e55-4c0b-b3f4-6b8e5e3b0a55", None)
            .await,
        Err(FileRefusal::InvalidToken)
    ));
    world.finish().await;
}

#[tokio::test]
async fn without_the_file_service_tokens_are_not_supported() {
    let world = World::start(None).await;
    let alice = world.user("alice").await;
    let lobby = world.open_room("Lobby").await;
    for direction in [Direction::Upload, Direction::Download] {
        assert_eq!(
            world.token(alice, &lobby, direction, "a.txt").await,
            Err(501)
        );
    }
    world.finish().await;
}

#[tokio::test]
async fn upload_tokens_go_only_to_those_who_may_post_files_there() {
    let world = World::start(Some(file_settings())).await;
    let bob = world.user("bob").await;
    let carol = world.user("carol").await;
    let closed = world
        .room("Closed", Privacy::Closed, Behavior::Normal, true, &[])
        .await;
    let secret = world
        .room("Secret", Privacy::Secret, Behavior::Normal, true, &[])
        .await;
    let disabled = world
        .room(
            "Disabled",
            Privacy::Open,
            Behavior::Normal,
            true,
            &[(bob, Role::Member)],
        )
        .await;
    world
        .store
        .update_room(
            disabled.room.id,
            &RoomUpdate {
                disabled: Some(true),
                ..RoomUpdate::default()
            },
        )
        .await
        .unwrap();
    let no_files = world
        .room(
            "No files",
            Privacy::Open,
            Behavior::Normal,
            false,
            &[(bob, Role::Member)],
        )
        .await;
    let stage = world
        .room(
            "Stage",
            Privacy::Open,
            Behavior::Auditorium,
            true,
            &[
                (bob, Role::Member),
                (carol, Role::Member),
                (carol, Role::Presenter),
            ],
        )
        .await;

    let upload = |room| world.token(bob, room, Direction::Upload, "a.txt");
    assert_eq!(
        upload(&closed).await,
        Err(403),
        "not a member of a Closed room"
    );
    assert_eq!(
        upload(&secret).await,
        Err(404),
        "a Secret room is not revealed"
    );
    assert_eq!(upload(&disabled).await, Err(410));
    assert_eq!(upload(&no_files).await, Err(403), "filepost is off");
    assert_eq!(upload(&stage).await, Err(403), "not a presenter");
    assert!(
        world
            .token(carol, &stage, Direction::Upload, "a.txt")
            .await
            .is_ok()
    );
    let mut nowhere = world.open_room("Nowhere").await;
    nowhere.room.guid = "00000000-0000-4000-8000-000000000000".into();
    assert_eq!(upload(&nowhere).await, Err(404));

    let lobby = world.open_room("Lobby").await;
    // NUL and most C0 controls cannot travel in XML at all; those that can are refused.
    for bad in [
        "",
        "a\u{7f}b.txt",
        "tab\there.txt",
        "line\nbreak.txt",
        &"a".repeat(256),
    ] {
        assert_eq!(
            world.token(bob, &lobby, Direction::Upload, bad).await,
            Err(400),
            "{bad:?}"
        );
    }
    for _ in 0..TOKENS_PER_USER {
        upload(&lobby).await.unwrap();
    }
    assert_eq!(upload(&lobby).await, Err(413), "too many live tokens");
    world.clock.advance(LIFETIME);
    upload(&lobby).await.expect("expired tokens count no more");
    world.finish().await;
}

#[tokio::test]
async fn download_tokens_need_a_complete_file_linked_in_the_room_or_ones_own() {
    let world = World::start(Some(file_settings())).await;
    let alice = world.user("alice").await;
    let bob = world.user("bob").await;
    let mallory = world.user("mallory").await;
    let lobby = world.closed_room("Lobby", &[alice, bob]).await;
    let secret = world
        .room(
            "Secret",
            Privacy::Secret,
            Behavior::Normal,
            true,
            &[(alice, Role::Member)],
        )
        .await;
    let file = world.upload(alice, &lobby, 10).await;
    let hidden = world.upload(alice, &secret, 10).await;
    let world_ref = &world;
    let download = |user, room, url: String| async move {
        world_ref.token(user, room, Direction::Download, &url).await
    };

    assert_eq!(
        download(bob, &lobby, file.name.clone()).await,
        Err(404),
        "not linked, not bob's: as if it did not exist"
    );
    assert!(
        download(alice, &lobby, file.name.clone()).await.is_ok(),
        "the uploader's own"
    );
    world.join(alice, &lobby).await;
    let text = format!("report.pdf {}", link(&lobby, &file));
    assert_eq!(world.post(alice, &lobby, &text).await, Answer::Accepted);
    assert!(download(bob, &lobby, file.name.clone()).await.is_ok());
    assert!(download(bob, &lobby, link(&lobby, &file)).await.is_ok());

    assert_eq!(
        download(mallory, &lobby, file.name.clone()).await,
        Err(403),
        "a Closed room's outsider may not read it"
    );
    assert_eq!(
        download(mallory, &secret, hidden.name.clone()).await,
        Err(404)
    );
    assert_eq!(
        download(bob, &lobby, hidden.name.clone()).await,
        Err(404),
        "another room's file"
    );
    assert_eq!(
        download(bob, &lobby, link(&secret, &hidden)).await,
        Err(404),
        "a link to another room"
    );
    assert_eq!(
        download(
            bob,
            &lobby,
            file_link("other.test", &lobby.room.guid, &file.name)
        )
        .await,
        Err(404),
        "a link of another domain"
    );
    assert_eq!(
        download(bob, &lobby, "../../etc/passwd".into()).await,
        Err(404)
    );

    // A file still uploading is nobody's to download, not even its uploader's.
    let (_, _, partial) = world.reserve(alice, &lobby, "txt").await;
    assert_eq!(
        download(alice, &lobby, partial.name.clone()).await,
        Err(404)
    );
    world.finish().await;
}

#[tokio::test]
async fn a_post_links_only_complete_files_of_its_own_room() {
    let world = World::start(Some(file_settings())).await;
    let alice = world.user("alice").await;
    let bob = world.user("bob").await;
    let lobby = world.open_room("Lobby").await;
    let other = world.open_room("Other").await;
    let here = world.upload(alice, &lobby, 1).await;
    let there = world.upload(alice, &other, 1).await;
    let (_, _, partial) = world.reserve(alice, &lobby, "txt").await;

    world.join(alice, &lobby).await;
    let text = format!(
        "three files: {} {} {}, and {}",
        link(&lobby, &here),
        link(&lobby, &partial),
        link(&other, &there),
        file_link(DOMAIN, &lobby.room.guid, &there.name),
    );
    assert_eq!(world.post(alice, &lobby, &text).await, Answer::Accepted);
    assert!(world.store.file_linked(here.id).await.unwrap());
    assert!(!world.store.file_linked(partial.id).await.unwrap());
    assert!(!world.store.file_linked(there.id).await.unwrap());
    assert!(
        world
            .token(bob, &other, Direction::Download, &there.name)
            .await
            .is_err(),
        "linking it from another room grants nothing"
    );
    let history = world
        .store
        .read_history(
            lobby.room.id,
            bob.id,
            &parlance_store::history::HistoryQuery::Last(1),
            0,
        )
        .await
        .unwrap();
    assert_eq!(history[0].content, text, "history shows the text as posted");
    world.finish().await;
}

/// Alice and Bob, the members of a Closed room, and an Open room beside it.
async fn two_in_a_closed_lobby() -> (World, User, User, RoomInfo, RoomInfo) {
    let world = World::start(Some(file_settings())).await;
    let alice = world.user("alice").await;
    let bob = world.user("bob").await;
    let lobby = world.closed_room("Lobby", &[alice, bob]).await;
    let other = world.open_room("Other").await;
    (world, alice, bob, lobby, other)
}

#[tokio::test]
async fn every_use_of_a_token_checks_it_again() {
    let (world, alice, bob, lobby, other) = two_in_a_closed_lobby().await;
    let guid = lobby.room.guid.clone();
    let authorize = |token: String, channel: Option<String>, direction| {
        let transfers = world.transfers.clone();
        async move {
            transfers
                .authorize(&token, channel.as_deref(), direction)
                .await
                .map(|g| g.token.token)
        }
    };
    let upload = world.upload_token(bob, &lobby).await;

    assert!(
        authorize(
            upload.clone(),
            Some(format!("{{{}}}", guid.to_uppercase())),
            Direction::Upload
        )
        .await
        .is_ok(),
        "a channel id in any case, braces allowed"
    );
    assert!(
        authorize(upload.to_uppercase(), None, Direction::Upload)
            .await
            .is_ok()
    );
    for forged in [
        "00000000-0000-4000-8000-000000000000".to_owned(),
        "not a token".into(),
        String::new(),
        format!("{upload}0"),
    ] {
        assert!(
            matches!(
                authorize(forged.clone(), Some(guid.clone()), Direction::Upload).await,
                Err(FileRefusal::InvalidToken)
            ),
            "{forged:?}"
        );
    }
    assert!(matches!(
        authorize(
            upload.clone(),
            Some(other.room.guid.clone()),
            Direction::Upload
        )
        .await,
        Err(FileRefusal::WrongRoom)
    ));
    assert!(matches!(
        authorize(upload.clone(), Some(guid.clone()), Direction::Download).await,
        Err(FileRefusal::WrongDirection)
    ));

    // Rights taken away after the token was issued count at its next use.
    world.member(&lobby, bob, false).await;
    assert!(matches!(
        authorize(upload.clone(), Some(guid.clone()), Direction::Upload).await,
        Err(FileRefusal::NotAllowed)
    ));
    world.member(&lobby, bob, true).await;
    world.disable_bob(true).await;
    assert!(matches!(
        authorize(upload.clone(), Some(guid.clone()), Direction::Upload).await,
        Err(FileRefusal::NotAllowed)
    ));
    world.disable_bob(false).await;
    assert!(
        authorize(upload.clone(), Some(guid.clone()), Direction::Upload)
            .await
            .is_ok()
    );

    // A download token, whose room is then disabled.
    let file = world.upload(alice, &lobby, 3).await;
    let download = world
        .token(alice, &lobby, Direction::Download, &file.name)
        .await
        .unwrap();
    assert!(
        authorize(download.clone(), Some(guid.clone()), Direction::Download)
            .await
            .is_ok()
    );
    world
        .store
        .update_room(
            lobby.room.id,
            &RoomUpdate {
                disabled: Some(true),
                ..RoomUpdate::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        authorize(download.clone(), Some(guid.clone()), Direction::Download).await,
        Err(FileRefusal::NotAllowed)
    ));
    world
        .store
        .update_room(
            lobby.room.id,
            &RoomUpdate {
                disabled: Some(false),
                ..RoomUpdate::default()
            },
        )
        .await
        .unwrap();

    // A token for a room whose filepost is off (turned off after the token was issued: the
    // category is made that way here, the token written straight into the store).
    let no_files = world
        .room("No files", Privacy::Open, Behavior::Normal, false, &[])
        .await;
    let now = world.clock.unix_nanos();
    let stale = world
        .store
        .issue_file_token(
            &NewFileToken {
                principal_id: bob.id,
                room_id: no_files.room.id,
                direction: Direction::Upload,
                file_url: "a.txt",
                file_id: None,
                issued_at: now,
                expires_at: now + LIFETIME.as_nanos() as i64,
            },
            TOKENS_PER_USER,
        )
        .await
        .unwrap();
    assert!(matches!(
        authorize(stale.token, None, Direction::Upload).await,
        Err(FileRefusal::FilePostOff)
    ));

    // Expiry is on the server's clock.
    world.clock.advance(LIFETIME - Duration::from_secs(60));
    assert!(
        authorize(upload.clone(), Some(guid.clone()), Direction::Upload)
            .await
            .is_ok()
    );
    world.clock.advance(Duration::from_secs(60));
    assert!(matches!(
        authorize(upload, Some(guid.clone()), Direction::Upload).await,
        Err(FileRefusal::Expired)
    ));
    assert!(matches!(
        authorize(download, Some(guid), Direction::Download).await,
        Err(FileRefusal::Expired)
    ));
    world.finish().await;
}

#[tokio::test]
async fn a_transfer_reuses_its_grant_only_while_nothing_can_have_changed() {
    let (world, alice, bob, lobby, other) = two_in_a_closed_lobby().await;
    let guid = lobby.room.guid.clone();
    let t = &world.transfers;
    let holds = |checked: &CheckedGrant, channel: &str| {
        let (checked, channel) = (checked.clone(), channel.to_owned());
        async move { t.still_holds(&checked, Some(&channel)).await.unwrap() }
    };
    let check = |token: String, direction| {
        let guid = guid.clone();
        async move {
            t.authorize_chunks(&token, Some(&guid), direction)
                .await
                .unwrap()
        }
    };
    let upload = world.upload_token(bob, &lobby).await;
    let checked = check(upload.clone(), Direction::Upload).await;
    assert!(holds(&checked, &guid).await);
    assert!(holds(&checked, &format!("{{{}}}", guid.to_uppercase())).await);
    assert!(!holds(&checked, &other.room.guid).await, "another room");

    // A right given takes none away; any right taken from anyone, anywhere, sends the next
    // chunk through the full check.
    world.member(&other, alice, true).await;
    assert!(holds(&checked, &guid).await, "a right given");
    world.member(&other, alice, false).await;
    assert!(!holds(&checked, &guid).await, "a right taken elsewhere");
    let checked = check(upload.clone(), Direction::Upload).await;
    assert!(holds(&checked, &guid).await, "checked again");
    world.member(&lobby, bob, false).await;
    assert!(!holds(&checked, &guid).await);
    assert!(matches!(
        t.authorize_chunks(&upload, Some(&guid), Direction::Upload)
            .await,
        Err(FileRefusal::NotAllowed)
    ));
    world.member(&lobby, bob, true).await;
    let checked = check(upload.clone(), Direction::Upload).await;
    world.disable_bob(true).await;
    assert!(!holds(&checked, &guid).await, "an account disabled");
    world.disable_bob(false).await;

    // The token spent by its upload's completion.
    let checked = check(upload.clone(), Direction::Upload).await;
    let file = t.reserve_name(&checked.grant, "txt").await.unwrap();
    t.begin_upload(&checked.grant, &file, 3).await.unwrap();
    assert!(!holds(&checked, &guid).await, "the grant named no file yet");
    let checked = check(upload.clone(), Direction::Upload).await;
    assert!(holds(&checked, &guid).await);
    t.complete_upload(&checked.grant, &file, 3).await.unwrap();
    assert!(!holds(&checked, &guid).await, "spent");

    // A download token, whose file is then removed; and one that expires.
    let download = world
        .token(bob, &lobby, Direction::Download, &file.name)
        .await
        .unwrap();
    let checked = check(download.clone(), Direction::Download).await;
    assert!(holds(&checked, &guid).await);
    world.store.remove_file(file.id).await.unwrap();
    assert!(!holds(&checked, &guid).await, "the file removed");

    let file = world.upload(alice, &lobby, 3).await;
    let download = world
        .token(alice, &lobby, Direction::Download, &file.name)
        .await
        .unwrap();
    let checked = check(download.clone(), Direction::Download).await;
    world.clock.advance(LIFETIME - Duration::from_secs(1));
    assert!(holds(&checked, &guid).await);
    world.clock.advance(Duration::from_secs(1));
    assert!(!holds(&checked, &guid).await, "expired");
    world.finish().await;
}

#[tokio::test]
async fn a_repository_name_is_chosen_once_from_a_checked_extension() {
    let (world, alice, lobby) = alice_in_lobby().await;
    let token = world.upload_token(alice, &lobby).await;
    let grant = world.grant(&token, &lobby, Direction::Upload).await;

    for bad in [
        "../x",
        "..\\x",
        "t\0t",
        &"a".repeat(300),
        "tar.gz",
        "..",
        "a b",
    ] {
        assert!(
            matches!(
                world.transfers.reserve_name(&grant, bad).await,
                Err(FileRefusal::BadName)
            ),
            "{bad:?}"
        );
    }
    let file = world.transfers.reserve_name(&grant, ".TXT").await.unwrap();
    let (guid, ext) = file.name.split_once('.').unwrap();
    assert_eq!((guid.len(), ext), (36, "txt"));
    assert_eq!(
        (
            file.original_name.as_str(),
            file.uploader_id,
            file.room_id,
            file.state
        ),
        ("report.pdf", alice.id, lobby.room.id, FileState::Uploading)
    );
    let again = world.transfers.reserve_name(&grant, "pdf").await.unwrap();
    assert_eq!(again.name, file.name, "asking again returns the same name");

    let (_, _, file) = world.reserve(alice, &lobby, "").await;
    assert_eq!(file.name.len(), 36, "no extension: the GUID alone");
    assert!(!file.name.contains('.'));
    world.finish().await;
}

/// Empty files cost no bytes of the quota; a room still holds only so many files.
#[tokio::test]
async fn a_room_holds_only_so_many_files_however_small() {
    let (world, alice, lobby) = alice_in_lobby().await;
    let early = world.upload_token(alice, &lobby).await;
    let early = world.grant(&early, &lobby, Direction::Upload).await;
    let reserved = world.transfers.reserve_name(&early, "txt").await.unwrap();
    for _ in 1..FILES_PER_ROOM {
        world.upload(alice, &lobby, 0).await;
    }
    assert_eq!(
        world.store.room_file_count(lobby.room.id).await.unwrap(),
        FILES_PER_ROOM
    );
    let late = world.upload_token(alice, &lobby).await;
    let late = world.grant(&late, &lobby, Direction::Upload).await;
    assert!(matches!(
        world.transfers.reserve_name(&late, "txt").await,
        Err(FileRefusal::QuotaExceeded)
    ));
    // The token that named its file before the room filled up keeps that name.
    let early = world
        .grant(&early.token.token, &lobby, Direction::Upload)
        .await;
    assert_eq!(
        world
            .transfers
            .reserve_name(&early, "txt")
            .await
            .unwrap()
            .name,
        reserved.name
    );
    world.finish().await;
}

#[tokio::test]
async fn uploads_are_held_to_the_size_limit_and_the_room_quota() {
    let (world, alice, lobby) = alice_in_lobby().await;
    let token = world.upload_token(alice, &lobby).await;
    let grant = world.grant(&token, &lobby, Direction::Upload).await;
    assert_eq!(
        world.transfers.max_file_bytes(&grant).await.unwrap(),
        MAX_FILE
    );
    let file = world.transfers.reserve_name(&grant, "bin").await.unwrap();
    assert!(matches!(
        world
            .transfers
            .begin_upload(&grant, &file, MAX_FILE + 1)
            .await,
        Err(FileRefusal::TooLarge)
    ));

    world.upload(alice, &lobby, MAX_FILE).await;
    world.upload(alice, &lobby, MAX_FILE).await;
    let grant = world.grant(&token, &lobby, Direction::Upload).await;
    assert_eq!(
        world.transfers.max_file_bytes(&grant).await.unwrap(),
        QUOTA - 2 * MAX_FILE
    );
    assert!(matches!(
        world.transfers.begin_upload(&grant, &file, 501).await,
        Err(FileRefusal::QuotaExceeded)
    ));
    world
        .transfers
        .begin_upload(&grant, &file, 500)
        .await
        .unwrap();
    let grant = world.grant(&token, &lobby, Direction::Upload).await;
    assert_eq!(
        world.transfers.max_file_bytes(&grant).await.unwrap(),
        500,
        "an upload's own declared length is not held against it"
    );
    let other = world.upload_token(alice, &lobby).await;
    let other = world.grant(&other, &lobby, Direction::Upload).await;
    assert_eq!(
        world.transfers.max_file_bytes(&other).await.unwrap(),
        0,
        "but against every other"
    );
    let other_file = world.transfers.reserve_name(&other, "bin").await.unwrap();
    assert!(
        matches!(
            world.transfers.begin_upload(&other, &file, 1).await,
            Err(FileRefusal::NoSuchFile)
        ),
        "a grant works only on its own file"
    );
    assert!(matches!(
        world.transfers.begin_upload(&other, &other_file, 1).await,
        Err(FileRefusal::QuotaExceeded)
    ));
    world.finish().await;
}

#[tokio::test]
async fn a_completed_upload_is_visible_with_its_compliance_row_and_spends_its_token() {
    let (world, alice, lobby) = alice_in_lobby().await;
    let (token, grant, file) = world.reserve(alice, &lobby, "txt").await;
    world
        .transfers
        .begin_upload(&grant, &file, 43)
        .await
        .unwrap();
    assert!(world.file_events().await.is_empty());
    world
        .transfers
        .complete_upload(&grant, &file, 43)
        .await
        .unwrap();

    let stored = world
        .store
        .room_file(lobby.room.id, &file.name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.state, stored.size), (FileState::Complete, 43));
    assert!(stored.completed_at.is_some());
    assert_eq!(
        world.file_events().await,
        [("fileupload".to_owned(), alice.id, file.name.clone())]
    );
    assert!(matches!(
        world
            .transfers
            .authorize(&token, Some(&lobby.room.guid), Direction::Upload)
            .await,
        Err(FileRefusal::Spent)
    ));
    assert!(matches!(
        world.transfers.complete_upload(&grant, &file, 43).await,
        Err(FileRefusal::NoSuchFile)
    ));
    assert_eq!(world.file_events().await.len(), 1);
    world.finish().await;
}

#[tokio::test]
async fn a_download_is_recorded_once_per_token() {
    let world = World::start(Some(file_settings())).await;
    let alice = world.user("alice").await;
    let bob = world.user("bob").await;
    let lobby = world.open_room("Lobby").await;
    let file = world.upload(alice, &lobby, 5).await;
    world.join(alice, &lobby).await;
    world.post(alice, &lobby, &link(&lobby, &file)).await;

    let token = world
        .token(bob, &lobby, Direction::Download, &file.name)
        .await
        .unwrap();
    let grant = world.grant(&token, &lobby, Direction::Download).await;
    world.transfers.record_download(&grant).await.unwrap();
    world.transfers.record_download(&grant).await.unwrap();
    let downloads = |events: Vec<(String, i64, String)>| {
        events
            .into_iter()
            .filter(|(kind, _, _)| kind == "filedownload")
            .collect::<Vec<_>>()
    };
    assert_eq!(
        downloads(world.file_events().await),
        [("filedownload".to_owned(), bob.id, file.name.clone())]
    );
    let again = world
        .token(bob, &lobby, Direction::Download, &file.name)
        .await
        .unwrap();
    let grant = world.grant(&again, &lobby, Direction::Download).await;
    world.transfers.record_download(&grant).await.unwrap();
    assert_eq!(
        downloads(world.file_events().await).len(),
        2,
        "a new token is a new download"
    );

    let upload = world.upload_token(bob, &lobby).await;
    let upload = world.grant(&upload, &lobby, Direction::Upload).await;
    assert!(matches!(
        Transfers::download_file(&upload),
        Err(FileRefusal::WrongDirection)
    ));
    // A file removed after the token was issued is gone for it too.
    world.store.remove_file(file.id).await.unwrap();
    assert!(matches!(
        world
            .transfers
            .authorize(&again, Some(&lobby.room.guid), Direction::Download)
            .await,
        Err(FileRefusal::Spent)
    ));
    world.finish().await;
}

#[tokio::test]
async fn abandoned_expired_and_unfinished_uploads_go() {
    let (world, alice, lobby) = alice_in_lobby().await;
    let (token, grant, first) = world.reserve(alice, &lobby, "txt").await;
    world
        .transfers
        .begin_upload(&grant, &first, 10)
        .await
        .unwrap();
    world.transfers.abandon_upload(&first).await.unwrap();
    assert!(world.store.file(first.id).await.unwrap().is_none());
    let grant = world.grant(&token, &lobby, Direction::Upload).await;
    assert!(grant.file.is_none(), "the token starts over");
    let second = world.transfers.reserve_name(&grant, "txt").await.unwrap();
    assert_ne!(second.name, first.name);

    assert!(world.transfers.expired_uploads().await.unwrap().is_empty());
    world.clock.advance(LIFETIME);
    let expired = world.transfers.expired_uploads().await.unwrap();
    assert_eq!(expired, std::slice::from_ref(&second));
    assert_eq!(
        world.transfers.prune_tokens().await.unwrap(),
        0,
        "the token of an upload not yet abandoned stays"
    );
    world.transfers.abandon_upload(&second).await.unwrap();
    assert_eq!(world.transfers.prune_tokens().await.unwrap(), 1);

    let (_, _, unfinished) = world.reserve(alice, &lobby, "txt").await;
    assert_eq!(
        world.transfers.discard_unfinished_uploads().await.unwrap(),
        1
    );
    assert!(world.store.file(unfinished.id).await.unwrap().is_none());
    world.finish().await;
}
