//! Parlance storage.
//!
//! Everything durable goes through [`Store`], an enum over the storage engines: SQLite
//! embedded by default (one file, no service to run), and PostgreSQL for a pool of servers
//! sharing one database. Both pass one shared test suite.
//!
//! Password-equivalent secrets are sealed with a [`ServerKey`] kept outside the database.

/// `as_str`, `Display` and a case-insensitive `FromStr` for an enum stored as text. Defined
/// before the modules so that each can use it.
macro_rules! text_enum {
    ($t:ty { $($v:ident = $s:literal),* $(,)? }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> std::result::Result<Self, String> {
                match s.to_ascii_lowercase().as_str() {
                    $($s => Ok(Self::$v),)*
                    _ => Err(format!("{s:?} is not one of: {}", [$($s),*].join(", "))),
                }
            }
        }
    };
}

pub mod accounts;
pub mod audit;
pub mod changes;
mod engine;
mod error;
pub mod files;
pub mod history;
pub mod installation;
pub mod lock;
mod migrate;
pub mod nodes;
mod postgres;
pub mod retention;
pub mod rooms;
mod rows;
mod secrets;
pub mod signed_in;
mod sqlite;

use std::path::Path;

use sip_proto::auth::Algorithm;

pub use accounts::{Mechanisms, User};
pub use changes::{AccessChange, ChangeKind};
pub use error::{Result, StoreError};
pub use installation::{FileLocation, Installation};
pub use lock::LockFile;
pub use postgres::{PgStore, TableCopy};
pub use secrets::ServerKey;
pub use sqlite::{DEFAULT_SEARCH_TIME_LIMIT, SqliteStore};

use accounts::{DigestSecret, digest_context, normalize_user_uri};
use audit::{Audit, AuditEntry};
use files::{FileToken, NewFileToken, StoredFile};
use history::{
    ComplianceEvent, ComplianceKind, CompliancePage, HistoryQuery, Invitation, NewComplianceEvent,
    Post, Preference, StoredMessage,
};
use nodes::{Lease, Load, Node};
use retention::{HoldTarget, LegalHold, Purged, RetainedRoom};
use rooms::{
    Category, CategoryUpdate, NewCategory, NewRoom, Role, RoleHolder, Room, RoomInfo, RoomStanding,
    RoomUpdate, ScopeEntry, TextKind,
};
use signed_in::SignedIn;

/// Calls the same method on whichever engine is in use.
macro_rules! engine {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Store::Sqlite($s) => $call,
            Store::Postgres($s) => $call,
        }
    };
}

/// The storage engine in use.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Store {
    /// Opens the store a URL names: `sqlite:PATH` (the embedded file, created as needed) or
    /// `postgres://…` / `postgresql://…` (a database several servers may share). Either is
    /// migrated to this build's schema: for the commands that create or upgrade an
    /// installation.
    pub async fn open(url: &str) -> Result<Store> {
        match StoreUrl::parse(url)? {
            StoreUrl::Sqlite(path) => Store::open_sqlite(&path).await,
            StoreUrl::Postgres(url) => Ok(Store::Postgres(PgStore::open(&url).await?)),
        }
    }

    /// Opens the existing store a URL names at this build's schema, changing nothing (no
    /// file created, no migration run): [`StoreError::NoDatabase`] for a missing SQLite
    /// file, [`StoreError::SchemaTooOld`] (an empty PostgreSQL database too) or
    /// [`StoreError::SchemaTooNew`]. For commands that may run beside a server.
    pub async fn open_existing(url: &str) -> Result<Store> {
        match StoreUrl::parse(url)? {
            StoreUrl::Sqlite(path) => Store::open_sqlite_existing(&path).await,
            StoreUrl::Postgres(url) => Ok(Store::Postgres(PgStore::open_existing(&url).await?)),
        }
    }

    /// Copies the SQLite installation at `from` (`sqlite:PATH`) into the empty PostgreSQL
    /// database at `to` (`postgres://…`, migrated first), verified table by table by count
    /// and checksum; see [`PgStore::copy_from_sqlite`].
    pub async fn migrate(from: &str, to: &str) -> Result<Vec<TableCopy>> {
        let wrong = |why: &str| StoreError::Invalid {
            what: "store URL",
            why: why.into(),
        };
        let StoreUrl::Sqlite(path) = StoreUrl::parse(from)? else {
            return Err(wrong("--from must be a sqlite: URL"));
        };
        let StoreUrl::Postgres(url) = StoreUrl::parse(to)? else {
            return Err(wrong("--to must be a postgres:// URL"));
        };
        // Opening would create an empty database where a mistyped path points.
        if !path.is_file() {
            return Err(StoreError::NotFound(path.display().to_string()));
        }
        let source = SqliteStore::open(&path).await?;
        let target = PgStore::open(&url).await?;
        let copied = target.copy_from_sqlite(&source).await;
        source.close().await;
        target.close().await;
        copied
    }

    /// Opens (creating and migrating as needed) the embedded SQLite database at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Store> {
        Ok(Store::Sqlite(SqliteStore::open(path).await?))
    }

    /// Opens an existing SQLite database at this build's schema without changing it (no
    /// file created, no migration run): for commands that may run beside a server.
    pub async fn open_sqlite_existing(path: &Path) -> Result<Store> {
        Ok(Store::Sqlite(SqliteStore::open_existing(path).await?))
    }

    /// The newest schema version this build knows.
    pub fn known_schema() -> i64 {
        migrate::latest(&migrate::SQLITE)
    }

    /// The newest schema version applied to the database.
    pub async fn schema_version(&self) -> Result<i64> {
        engine!(self, s => s.schema_version().await)
    }

    /// The recorded identity of the installation, if one is recorded.
    pub async fn installation(&self) -> Result<Option<Installation>> {
        engine!(self, s => s.installation().await)
    }

    /// Records the identity unless one is recorded, and returns the one in force.
    pub async fn record_installation(
        &self,
        domain: &str,
        key_check: &[u8],
    ) -> Result<Installation> {
        engine!(self, s => s.record_installation(domain, key_check).await)
    }

    /// Changes the recorded domain; [`StoreError::NotFound`] when none is recorded.
    pub async fn set_domain(&self, domain: &str) -> Result<()> {
        engine!(self, s => s.set_domain(domain).await)
    }

    /// Whether anything in the database is sealed under the server key (password secrets,
    /// stored files): then a new key would lose it all.
    pub async fn holds_sealed_data(&self) -> Result<bool> {
        engine!(self, s => s.holds_sealed_data().await)
    }

    /// Writes a consistent copy of the whole database to `path`, which must not exist,
    /// while the server goes on writing.
    pub async fn snapshot_into(&self, path: &Path) -> Result<()> {
        engine!(self, s => s.snapshot_into(path).await)
    }

    /// Every complete file, as the file store names it.
    pub async fn complete_files(&self) -> Result<Vec<FileLocation>> {
        engine!(self, s => s.complete_files().await)
    }

    /// How long one search (history or rooms) may run before it is stopped with
    /// [`StoreError::SearchTimeLimit`]; [`DEFAULT_SEARCH_TIME_LIMIT`] until set.
    pub fn set_search_time_limit(&mut self, limit: std::time::Duration) {
        engine!(self, s => s.set_search_time_limit(limit))
    }

    /// Names the server node whose chat sessions this handle (and its clones made after)
    /// records joins and parts for, and whose connections it writes on the signed-in table:
    /// a dead node's open joins are then closed, and its connections taken off, without
    /// touching a live node's ([`Store::reap_node`]).
    pub fn set_node(&mut self, node: &str) {
        engine!(self, s => s.node = Some(node.into()))
    }

    /// Creates a user with a password. `realm` is the Digest realm the HA1 values are for.
    pub async fn add_user(
        &self,
        uri: &str,
        display_name: &str,
        password: &str,
        realm: &str,
        key: &ServerKey,
    ) -> Result<User> {
        let uri = normalize_user_uri(uri)?;
        let secrets = derive(&uri, password, realm, key, Mechanisms::ALL).await?;
        engine!(self, s => s.add_user(&uri, display_name, &secrets).await)
    }

    /// Creates an account at the address of a removed one, which [`Store::add_user`]
    /// refuses ([`StoreError::Removed`]): the administrator asks for the re-use knowingly.
    pub async fn reuse_user(
        &self,
        uri: &str,
        display_name: &str,
        password: &str,
        realm: &str,
        key: &ServerKey,
    ) -> Result<User> {
        let uri = normalize_user_uri(uri)?;
        let secrets = derive(&uri, password, realm, key, Mechanisms::ALL).await?;
        engine!(self, s => s.reuse_user(&uri, display_name, &secrets).await)
    }

    /// Creates accounts without any password or secret, in one transaction: they can sign
    /// in only from `auth.trusted_networks`. For load generation (`parlance bench`), where
    /// one argon2 hash per account would take minutes for thousands of accounts.
    pub async fn add_users_without_password(&self, uris: &[&str]) -> Result<Vec<User>> {
        let uris = uris
            .iter()
            .map(|u| normalize_user_uri(u))
            .collect::<Result<Vec<_>>>()?;
        engine!(self, s => s.add_users_without_password(&uris).await)
    }

    /// Replaces a user's password: the argon2 hash and the secrets of every mechanism the
    /// account allows. The user's sessions end.
    pub async fn set_password(
        &self,
        uri: &str,
        password: &str,
        realm: &str,
        key: &ServerKey,
    ) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        let user = self
            .user(&uri)
            .await?
            .ok_or_else(|| StoreError::NotFound(uri.clone()))?;
        let secrets = derive(&uri, password, realm, key, user.mechanisms).await?;
        engine!(self, s => s.set_password(&uri, &secrets).await)
    }

    /// Removes an account; its sessions end. A tombstone keeps the author of its messages,
    /// and its address is not given to a new account unless asked ([`Store::reuse_user`]).
    pub async fn remove_user(&self, uri: &str) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.remove_user(&uri).await)
    }

    /// Disables an account (its sessions end, sign-in is refused) or enables it again.
    pub async fn set_disabled(&self, uri: &str, disabled: bool) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.set_disabled(&uri, disabled).await)
    }

    /// Asks the running server to forget the failed sign-ins of an account.
    pub async fn request_unlock(&self, uri: &str) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.request_unlock(&uri).await)
    }

    /// Asks the running server to end every session of an account (`reason` is for its log);
    /// [`StoreError::NotFound`] when there is no such account.
    pub async fn request_sign_out(&self, uri: &str, reason: &str) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.request_sign_out(&uri, reason).await)
    }

    /// The sequence number of the newest access change (0 when none).
    pub async fn last_access_change(&self) -> Result<i64> {
        engine!(self, s => s.last_access_change().await)
    }

    /// Access changes after `seq`, oldest first, at most `limit`.
    pub async fn access_changes_after(&self, seq: i64, limit: u32) -> Result<Vec<AccessChange>> {
        engine!(self, s => s.access_changes_after(seq, limit).await)
    }

    /// Makes an account an administrator of the room-management application, or not.
    pub async fn set_admin(&self, uri: &str, admin: bool) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.set_admin(&uri, admin).await)
    }

    /// Lets an account use persistent chat (the default) or not; turned off, its sessions end.
    pub async fn set_persistent_chat(&self, uri: &str, enabled: bool) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.set_persistent_chat(&uri, enabled).await)
    }

    /// Active (not removed, not disabled) accounts whose address or display name contains
    /// `query`, case-insensitively, at most `limit`. Every character of the query is taken
    /// literally (`%`, `_`, `*`, `\` too); an empty query finds nobody.
    pub async fn search_users(&self, query: &str, limit: u32) -> Result<Vec<User>> {
        engine!(self, s => s.search_users(query, limit).await)
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        engine!(self, s => s.users().await)
    }

    pub async fn user(&self, uri: &str) -> Result<Option<User>> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.user(&uri).await)
    }

    /// An account by principal id; `None` once removed.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        engine!(self, s => s.user_by_id(id).await)
    }

    /// Checks a password against the stored argon2 hash (web login).
    pub async fn verify_password(&self, uri: &str, password: &str) -> Result<bool> {
        let uri = normalize_user_uri(uri)?;
        let phc = engine!(self, s => s.password_phc(&uri).await?);
        let Some(phc) = phc else { return Ok(false) };
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || accounts::verify_password(&phc, &password))
            .await
            .map_err(|e| StoreError::PasswordHash(e.to_string()))
    }

    /// The HA1 of `uri` for a Digest `username` and algorithm, opened with the server key.
    /// `None` when the account does not exist or has no secret for that form or realm.
    pub async fn digest_ha1(
        &self,
        uri: &str,
        algorithm: Algorithm,
        username: &str,
        realm: &str,
        key: &ServerKey,
    ) -> Result<Option<String>> {
        let uri = normalize_user_uri(uri)?;
        let secret: Option<DigestSecret> =
            engine!(self, s => s.digest_secret(&uri, algorithm.base(), username).await?);
        let Some(secret) = secret.filter(|s| s.realm == realm) else {
            return Ok(None);
        };
        let context = digest_context(&uri, secret.algorithm, username, realm);
        let plain = key.open(&context, &secret.sealed_ha1)?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|_| StoreError::Unseal)
    }

    /// The NT hash of an account that allows NTLM, opened with the server key.
    pub async fn nt_hash(&self, uri: &str, key: &ServerKey) -> Result<Option<[u8; 16]>> {
        let uri = normalize_user_uri(uri)?;
        let Some(sealed) = engine!(self, s => s.ntlm_secret(&uri).await)? else {
            return Ok(None);
        };
        let plain = key.open(&accounts::ntlm_context(&uri), &sealed)?;
        plain.try_into().map(Some).map_err(|_| StoreError::Unseal)
    }

    /// Sets the mechanisms an account may use. Secrets of mechanisms dropped are deleted;
    /// a mechanism added works once the password is set again (its secret needs it). The
    /// user's sessions end.
    pub async fn set_mechanisms(&self, uri: &str, mechanisms: Mechanisms) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.set_mechanisms(&uri, mechanisms).await)
    }

    pub async fn close(&self) {
        engine!(self, s => s.close().await)
    }

    pub async fn root_category(&self) -> Result<Category> {
        engine!(self, s => s.root_category().await)
    }

    pub async fn add_category(&self, new: &NewCategory<'_>) -> Result<Category> {
        engine!(self, s => s.add_category(new).await)
    }

    pub async fn find_category(&self, guid_or_name: &str) -> Result<Option<Category>> {
        engine!(self, s => s.find_category(guid_or_name).await)
    }

    pub async fn categories(&self) -> Result<Vec<Category>> {
        engine!(self, s => s.categories().await)
    }

    /// Renames a category; [`StoreError::Duplicate`] when another has that name (in any case).
    pub async fn rename_category(&self, category_id: i64, name: &str) -> Result<Category> {
        check_text("category name", TextKind::Name, name)?;
        engine!(self, s => s.rename_category(category_id, name).await)
    }

    /// Deletes a category with its creators, scope lists and audit records, moving its rooms
    /// to `rooms_to` first when given; refused ([`StoreError::Invalid`]) for the root, a
    /// category with categories below it, and one with rooms and nowhere to move them.
    /// Returns how many rooms moved.
    pub async fn delete_category(&self, category_id: i64, rooms_to: Option<i64>) -> Result<u64> {
        engine!(self, s => s.delete_category(category_id, rooms_to).await)
    }

    /// Takes this node's connections `ended` off the signed-in table and puts `started` on
    /// it as this node's ([`Store::set_node`]), moving their accounts' last sign-in (when
    /// later by more than a minute).
    pub async fn note_signed_in(&self, ended: &[u64], started: &[SignedIn]) -> Result<()> {
        engine!(self, s => s.note_signed_in(ended, started).await)
    }

    /// Removes this node's rows from the signed-in table, and those of nodes without a
    /// registry row, never a live node's: a server starting or stopping. Returns how many.
    pub async fn clear_signed_in(&self) -> Result<u64> {
        engine!(self, s => s.clear_signed_in().await)
    }

    /// The connections signed in to the running servers (every node of a pool), by
    /// account, oldest first.
    pub async fn signed_in(&self) -> Result<Vec<SignedIn>> {
        engine!(self, s => s.signed_in().await)
    }

    /// The last sign-in (unix seconds) of every account that has signed in, by principal id.
    pub async fn last_sign_ins(&self) -> Result<std::collections::BTreeMap<i64, i64>> {
        engine!(self, s => s.last_sign_ins().await)
    }

    pub async fn set_category_creator(
        &self,
        category_id: i64,
        principal_id: i64,
        creator: bool,
    ) -> Result<()> {
        engine!(self, s => s.set_category_creator(category_id, principal_id, creator).await)
    }

    pub async fn creator_categories(&self, principal_id: i64) -> Result<Vec<Category>> {
        engine!(self, s => s.creator_categories(principal_id).await)
    }

    pub async fn set_category_scope(
        &self,
        category_id: i64,
        principal_id: i64,
        entry: Option<ScopeEntry>,
    ) -> Result<()> {
        engine!(self, s => s.set_category_scope(category_id, principal_id, entry).await)
    }

    pub async fn in_scope(&self, category_id: i64, principal_id: i64) -> Result<bool> {
        engine!(self, s => s.in_scope(category_id, principal_id).await)
    }

    pub async fn add_room(&self, new: &NewRoom<'_>) -> Result<Room> {
        check_new_room(new)?;
        engine!(self, s => s.add_room(new).await)
    }

    /// Changes a room for an admin command, with the access changes a running server needs:
    /// a re-check when the change can shut someone out, and always the room's new settings
    /// for the sessions in it.
    pub async fn update_room(&self, room_id: i64, update: &RoomUpdate) -> Result<Room> {
        check_room_update(update)?;
        engine!(self, s => s.update_room(room_id, update).await)
    }

    /// Deletes a room with its history, files, roles, invitations, compliance outbox rows,
    /// audit records and released holds, in one transaction; [`StoreError::Held`] while a
    /// legal hold is in force on it. Purge its history first (the steps of
    /// [`Store::purge_history`] keep the writer free between them), and remove its files'
    /// stored bytes after.
    pub async fn delete_room(&self, room_id: i64) -> Result<()> {
        engine!(self, s => s.delete_room(room_id).await)
    }

    /// A room made through the room-management application: its creator (`audit.actor_id`)
    /// becomes its first member and manager, and the audit record is written with it.
    pub async fn create_room(
        &self,
        new: &NewRoom<'_>,
        file_post: Option<bool>,
        audit: &Audit<'_>,
    ) -> Result<Room> {
        check_new_room(new)?;
        engine!(self, s => s.create_room(new, file_post, audit).await)
    }

    /// [`Store::update_room`] with its audit record, in one transaction.
    pub async fn edit_room(
        &self,
        room_id: i64,
        update: &RoomUpdate,
        audit: &Audit<'_>,
    ) -> Result<Room> {
        check_room_update(update)?;
        engine!(self, s => s.edit_room(room_id, update, audit).await)
    }

    /// Gives one role to the principals of `add` and takes it from those of `remove`, with
    /// the audit record, in one transaction.
    pub async fn change_roles(
        &self,
        room_id: i64,
        role: Role,
        add: &[i64],
        remove: &[i64],
        audit: &Audit<'_>,
    ) -> Result<()> {
        engine!(self, s => s.change_roles(room_id, role, add, remove, audit).await)
    }

    /// Changes a category's settings, with the audit record, in one transaction.
    pub async fn edit_category(
        &self,
        category_id: i64,
        update: &CategoryUpdate,
        audit: &Audit<'_>,
    ) -> Result<Category> {
        if let Some(name) = &update.name {
            check_text("category name", TextKind::Name, name)?;
        }
        if let Some(description) = &update.description {
            check_text("category description", TextKind::Description, description)?;
        }
        engine!(self, s => s.edit_category(category_id, update, audit).await)
    }

    /// Sets (`true`) or takes away (`false`) the creator role of principals in a category and
    /// changes its scope lists (`None` takes a principal off them), with the audit record,
    /// in one transaction.
    pub async fn change_category_people(
        &self,
        category_id: i64,
        creators: &[(i64, bool)],
        scope: &[(i64, Option<ScopeEntry>)],
        audit: &Audit<'_>,
    ) -> Result<()> {
        engine!(self, s => s.change_category_people(category_id, creators, scope, audit).await)
    }

    /// The principal ids of a category's creators.
    pub async fn category_creators(&self, category_id: i64) -> Result<Vec<i64>> {
        engine!(self, s => s.category_creators(category_id).await)
    }

    /// A category's scope lists.
    pub async fn category_scope(&self, category_id: i64) -> Result<Vec<(i64, ScopeEntry)>> {
        engine!(self, s => s.category_scope(category_id).await)
    }

    /// A room's audit records, newest first, at most `limit`.
    pub async fn audit_for_room(&self, room_id: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        engine!(self, s => s.audit_for_room(room_id, limit).await)
    }

    /// A category's audit records, newest first, at most `limit`.
    pub async fn audit_for_category(
        &self,
        category_id: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        engine!(self, s => s.audit_for_category(category_id, limit).await)
    }

    pub async fn room_by_id(&self, room_id: i64) -> Result<Option<RoomInfo>> {
        engine!(self, s => s.room_by_id(room_id).await)
    }

    pub async fn room_by_guid(&self, guid: &str) -> Result<Option<RoomInfo>> {
        engine!(self, s => s.room_by_guid(guid).await)
    }

    /// The room of a GUID with the principal's roles there and whether it is inside the
    /// category's scope: [`Store::room_by_guid`], [`Store::roles_of`] and
    /// [`Store::in_scope`] in one query.
    pub async fn room_standing(
        &self,
        guid: &str,
        principal_id: i64,
    ) -> Result<Option<RoomStanding>> {
        engine!(self, s => s.room_standing(guid, principal_id).await)
    }

    pub async fn find_room(&self, guid_or_name: &str) -> Result<Option<RoomInfo>> {
        engine!(self, s => s.find_room(guid_or_name).await)
    }

    /// The rooms in which the principal holds `role`, by name.
    pub async fn rooms_with_role(&self, principal_id: i64, role: Role) -> Result<Vec<RoomInfo>> {
        engine!(self, s => s.rooms_with_role(principal_id, role).await)
    }

    /// The rooms of one category, by name, at most `limit`, leaving out the Secret rooms in
    /// which `visible_to` holds no role: candidates, as [`Store::search_rooms`] returns.
    pub async fn rooms_in_category(
        &self,
        category_id: i64,
        visible_to: i64,
        limit: u32,
    ) -> Result<Vec<RoomInfo>> {
        engine!(self, s => s.rooms_in_category(category_id, visible_to, limit).await)
    }

    pub async fn rooms(&self) -> Result<Vec<RoomInfo>> {
        engine!(self, s => s.rooms().await)
    }

    pub async fn search_rooms(
        &self,
        text: Option<&str>,
        in_description: bool,
        visible_to: Option<i64>,
        limit: u32,
    ) -> Result<Vec<RoomInfo>> {
        engine!(self, s => s.search_rooms(text, in_description, visible_to, limit).await)
    }

    pub async fn set_role(
        &self,
        room_id: i64,
        principal_id: i64,
        role: Role,
        on: bool,
    ) -> Result<()> {
        engine!(self, s => s.set_role(room_id, principal_id, role, on).await)
    }

    pub async fn roles_of(&self, room_id: i64, principal_id: i64) -> Result<Vec<Role>> {
        engine!(self, s => s.roles_of(room_id, principal_id).await)
    }

    pub async fn role_holders(&self, room_id: i64) -> Result<Vec<RoleHolder>> {
        engine!(self, s => s.role_holders(room_id).await)
    }

    /// Stores a message, its compliance event and its links to the files it names
    /// (`linked_files`: repository names; only complete files of the room are linked), in
    /// one transaction.
    pub async fn post_message(
        &self,
        room_id: i64,
        author_id: i64,
        post: &Post<'_>,
        posted_at: i64,
    ) -> Result<StoredMessage> {
        engine!(self, s => s.post_message(room_id, author_id, post, posted_at).await)
    }

    /// Appends messages to a room's history in one transaction (an import: no compliance
    /// events, nobody chatted now). Each is `(content, posted_at)`; returns the sequence
    /// number of the last one.
    pub async fn import_messages(
        &self,
        room_id: i64,
        author_id: i64,
        messages: &[(&str, i64)],
    ) -> Result<i64> {
        engine!(self, s => s.import_messages(room_id, author_id, messages).await)
    }

    /// Appends compliance events in one transaction (load generation: `parlance bench`).
    pub async fn import_compliance_events(&self, events: &[NewComplianceEvent<'_>]) -> Result<()> {
        engine!(self, s => s.import_compliance_events(events).await)
    }

    pub async fn read_history(
        &self,
        room_id: i64,
        viewer_id: i64,
        query: &HistoryQuery,
        at: i64,
    ) -> Result<Vec<StoredMessage>> {
        engine!(self, s => s.read_history(room_id, viewer_id, query, at).await)
    }

    /// Up to `n` messages of a room after `seq`, oldest first, without the compliance record
    /// a reader's history gets: what a pool node re-reads to fill a gap in what the relay
    /// brought it, for sessions that already received the messages around it.
    pub async fn messages_after(
        &self,
        room_id: i64,
        seq: i64,
        n: u32,
    ) -> Result<Vec<StoredMessage>> {
        engine!(self, s => s.messages_after(room_id, seq, n).await)
    }

    /// The sequence number of each room's newest message (0 before the first), for those of
    /// `room_ids` that exist, by room id. Deleted or purged messages keep their numbers.
    pub async fn last_seqs(&self, room_ids: &[i64]) -> Result<Vec<(i64, i64)>> {
        engine!(self, s => s.last_seqs(room_ids).await)
    }

    pub async fn search_history(
        &self,
        room_ids: &[i64],
        viewer_id: i64,
        text: &str,
        limit: u32,
        at: i64,
    ) -> Result<Vec<StoredMessage>> {
        engine!(self, s => s.search_history(room_ids, viewer_id, text, limit, at).await)
    }

    pub async fn record_event(
        &self,
        kind: ComplianceKind,
        room_id: i64,
        principal_id: i64,
        content: &str,
        at: i64,
    ) -> Result<()> {
        engine!(self, s => s.record_event(kind, room_id, principal_id, content, at).await)
    }

    /// Parts for the joins left open by servers that stopped without recording them and
    /// have no node row; see [`SqliteStore::close_open_joins`].
    pub async fn close_open_joins(&self, reason: &str, at: i64) -> Result<u64> {
        engine!(self, s => s.close_open_joins(reason, at).await)
    }

    /// Writes a node's row (replacing one of the same id): a server joining the pool.
    pub async fn register_node(&self, node: &Node) -> Result<()> {
        engine!(self, s => s.register_node(node).await)
    }

    /// Moves a node's heartbeat (unix milliseconds) and load; false when its row is gone
    /// (another node found it dead).
    pub async fn node_heartbeat(&self, id: &str, at: i64, load: &Load) -> Result<bool> {
        engine!(self, s => s.node_heartbeat(id, at, load).await)
    }

    /// Removes a node's row (a clean shutdown); false when there was none.
    pub async fn remove_node(&self, id: &str) -> Result<bool> {
        engine!(self, s => s.remove_node(id).await)
    }

    /// Every node's row, live or dead, oldest first.
    pub async fn nodes(&self) -> Result<Vec<Node>> {
        engine!(self, s => s.nodes().await)
    }

    /// Removes a dead node (heartbeat older than `stale_before`, unix milliseconds),
    /// closes its open joins (parts with `reason`, at `at` unix nanoseconds) and takes its
    /// connections off the signed-in table, in one transaction, exactly once however many
    /// nodes try: `Some(parts)` to the one that did.
    pub async fn reap_node(
        &self,
        id: &str,
        stale_before: i64,
        reason: &str,
        at: i64,
    ) -> Result<Option<u64>> {
        engine!(self, s => s.reap_node(id, stale_before, reason, at).await)
    }

    /// Takes or renews the lease `name` for `holder` until `expires_at` (unix milliseconds);
    /// false while another holder's lease is unexpired at `now`. Of concurrent takers, one
    /// wins.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool> {
        engine!(self, s => s.acquire_lease(name, holder, now, expires_at).await)
    }

    /// Gives up a lease `holder` has; false when it had none.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
        engine!(self, s => s.release_lease(name, holder).await)
    }

    /// Every lease as recorded, expired ones included, by name.
    pub async fn leases(&self) -> Result<Vec<Lease>> {
        engine!(self, s => s.leases().await)
    }

    pub async fn compliance_events(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<ComplianceEvent>> {
        engine!(self, s => s.compliance_events(after_id, limit).await)
    }

    /// The id of the last outbox row the compliance archive holds durably (0 before any).
    pub async fn export_cursor(&self) -> Result<i64> {
        engine!(self, s => s.export_cursor().await)
    }

    /// Outbox rows the compliance archive does not hold yet (after the export cursor).
    pub async fn compliance_backlog(&self) -> Result<u64> {
        engine!(self, s => s.compliance_backlog().await)
    }

    /// Moves the export cursor from `from` to `to`; [`StoreError::ExportCursorMoved`] when
    /// another exporter moved it meanwhile.
    pub async fn move_export_cursor(&self, from: i64, to: i64, at: i64) -> Result<()> {
        engine!(self, s => s.move_export_cursor(from, to, at).await)
    }

    /// Outbox rows after `after_id`, oldest first, at most `limit`, with the principals and
    /// rooms they name.
    pub async fn compliance_page(&self, after_id: i64, limit: u32) -> Result<CompliancePage> {
        engine!(self, s => s.compliance_page(after_id, limit).await)
    }

    /// Deletes exported outbox rows (ids up to `exported_id`) recorded before `before`,
    /// joins only with their parts; returns how many went.
    pub async fn prune_exported(&self, exported_id: i64, before: i64) -> Result<u64> {
        engine!(self, s => s.prune_exported(exported_id, before).await)
    }

    /// Invites principals to a room (each invitation with its access change, so that a
    /// running server pushes it); returns how many were not invited already.
    pub async fn invite(&self, room_id: i64, principal_ids: &[i64]) -> Result<u64> {
        engine!(self, s => s.invite(room_id, principal_ids).await)
    }

    pub async fn invitations(&self, principal_id: i64, from_id: i64) -> Result<Vec<Invitation>> {
        engine!(self, s => s.invitations(principal_id, from_id).await)
    }

    pub async fn preference(&self, principal_id: i64, label: &str) -> Result<Option<Preference>> {
        engine!(self, s => s.preference(principal_id, label).await)
    }

    /// Stores a preference blob; refused with [`StoreError::QuotaExceeded`] when the
    /// principal's preferences would take more than `quota_bytes`.
    pub async fn set_preference(
        &self,
        principal_id: i64,
        label: &str,
        content: &str,
        quota_bytes: u64,
    ) -> Result<Preference> {
        engine!(self, s => s.set_preference(principal_id, label, content, quota_bytes).await)
    }

    /// Issues a file-transfer token with a fresh random GUID, refused with
    /// [`StoreError::TooMany`] when the principal already holds `max_live` live tokens.
    pub async fn issue_file_token(
        &self,
        new: &NewFileToken<'_>,
        max_live: u32,
    ) -> Result<FileToken> {
        engine!(self, s => s.issue_file_token(new, max_live).await)
    }

    /// How many tokens the principal holds that are neither expired at `now` nor spent.
    pub async fn live_file_tokens(&self, principal_id: i64, now: i64) -> Result<u64> {
        engine!(self, s => s.live_file_tokens(principal_id, now).await)
    }

    pub async fn file_token(&self, token: &str) -> Result<Option<FileToken>> {
        engine!(self, s => s.file_token(token).await)
    }

    /// The file of an upload token: the one it reserved before, or a new upload in progress
    /// named `name`. [`StoreError::NotFound`] unless the token is an unspent upload token.
    pub async fn reserve_upload(&self, token: &str, name: &str, at: i64) -> Result<StoredFile> {
        engine!(self, s => s.reserve_upload(token, name, at).await)
    }

    /// Records the declared length of the upload in progress of `token`, refused with
    /// [`StoreError::QuotaExceeded`] when the room's files would take more than `room_quota`.
    pub async fn declare_upload_length(
        &self,
        token: &str,
        file_id: i64,
        length: u64,
        room_quota: u64,
    ) -> Result<()> {
        engine!(self, s => s.declare_upload_length(token, file_id, length, room_quota).await)
    }

    /// The file becomes complete, the token spent and the FILEUPLOAD row written: all or none.
    pub async fn complete_upload(
        &self,
        token: &str,
        file_id: i64,
        size: u64,
        at: i64,
    ) -> Result<StoredFile> {
        engine!(self, s => s.complete_upload(token, file_id, size, at).await)
    }

    /// Forgets an upload in progress; its token may reserve a name again.
    pub async fn abandon_upload(&self, file_id: i64) -> Result<bool> {
        engine!(self, s => s.abandon_upload(file_id).await)
    }

    /// The FILEDOWNLOAD row of a download token, at most once per token; whether written now.
    pub async fn record_download(&self, token: &str, at: i64) -> Result<bool> {
        engine!(self, s => s.record_download(token, at).await)
    }

    pub async fn file(&self, file_id: i64) -> Result<Option<StoredFile>> {
        engine!(self, s => s.file(file_id).await)
    }

    /// A room's file by repository name.
    pub async fn room_file(&self, room_id: i64, name: &str) -> Result<Option<StoredFile>> {
        engine!(self, s => s.room_file(room_id, name).await)
    }

    /// A room's files, uploads in progress included, oldest first.
    pub async fn room_files(&self, room_id: i64) -> Result<Vec<StoredFile>> {
        engine!(self, s => s.room_files(room_id).await)
    }

    /// The bytes a room's files take: complete sizes and declared lengths of uploads.
    pub async fn room_file_bytes(&self, room_id: i64) -> Result<u64> {
        engine!(self, s => s.room_file_bytes(room_id).await)
    }

    /// How many files a room holds, uploads in progress included.
    pub async fn room_file_count(&self, room_id: i64) -> Result<u64> {
        engine!(self, s => s.room_file_count(room_id).await)
    }

    /// Whether a message of the file's room links the file.
    pub async fn file_linked(&self, file_id: i64) -> Result<bool> {
        engine!(self, s => s.file_linked(file_id).await)
    }

    /// Uploads in progress whose tokens are all expired at `now`.
    pub async fn expired_uploads(&self, now: i64) -> Result<Vec<StoredFile>> {
        engine!(self, s => s.expired_uploads(now).await)
    }

    /// Removes every upload in progress (at start: their partial blobs did not survive).
    pub async fn delete_unfinished_uploads(&self) -> Result<u64> {
        engine!(self, s => s.delete_unfinished_uploads().await)
    }

    /// Removes a file's row and its links; tokens that named it serve no more.
    pub async fn remove_file(&self, file_id: i64) -> Result<bool> {
        engine!(self, s => s.remove_file(file_id).await)
    }

    /// One step of a purge of a room's history before `before` (unix nanoseconds; all when
    /// `None`), at most `limit` messages and `limit` files, held users' left, each author's
    /// and file's compliance `purge` row written; a held room is refused
    /// ([`StoreError::Held`]). The caller removes the returned files from the file store,
    /// and calls again while [`Purged::full`].
    pub async fn purge_history(
        &self,
        room_id: i64,
        before: Option<i64>,
        limit: u32,
        reason: &str,
        at: i64,
    ) -> Result<Purged> {
        engine!(self, s => s.purge_history(room_id, before, limit, reason, at).await)
    }

    /// Sets how many days a category's rooms keep their messages (`None`: forever).
    pub async fn set_category_retention(&self, category_id: i64, days: Option<u32>) -> Result<()> {
        engine!(self, s => s.set_category_retention(category_id, days).await)
    }

    /// The retention of every category that has one, by category id.
    pub async fn category_retentions(&self) -> Result<std::collections::BTreeMap<i64, u32>> {
        engine!(self, s => s.category_retentions().await)
    }

    /// The rooms of categories with a retention, less those a hold keeps whole.
    pub async fn retained_rooms(&self) -> Result<Vec<RetainedRoom>> {
        engine!(self, s => s.retained_rooms().await)
    }

    /// Places a legal hold (`placed_by`: the operating-system account; `at`: unix
    /// nanoseconds); [`StoreError::Duplicate`] when one is in force on the target already.
    pub async fn place_hold(
        &self,
        target: HoldTarget,
        reason: &str,
        placed_by: &str,
        at: i64,
    ) -> Result<LegalHold> {
        engine!(self, s => s.place_hold(target, reason, placed_by, at).await)
    }

    /// Releases the hold in force on a target (its row stays, as released); false when
    /// there was none.
    pub async fn release_hold(
        &self,
        target: HoldTarget,
        released_by: &str,
        at: i64,
    ) -> Result<bool> {
        engine!(self, s => s.release_hold(target, released_by, at).await)
    }

    /// Holds in force, oldest first; with `released`, the released ones too.
    pub async fn legal_holds(&self, released: bool) -> Result<Vec<LegalHold>> {
        engine!(self, s => s.legal_holds(released).await)
    }

    /// Deletes tokens expired at `now` that hold no upload in progress.
    pub async fn prune_file_tokens(&self, now: i64) -> Result<u64> {
        engine!(self, s => s.prune_file_tokens(now).await)
    }
}

/// What a store URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite:PATH` (also `sqlite://PATH`).
    Sqlite(std::path::PathBuf),
    /// `postgres://…` or `postgresql://…`, as given.
    Postgres(String),
}

impl StoreUrl {
    pub fn parse(url: &str) -> Result<StoreUrl> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(StoreError::Invalid {
                    what: "store URL",
                    why: "sqlite: needs a file path".into(),
                });
            }
            return Ok(StoreUrl::Sqlite(path.into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(url.to_owned()));
        }
        Err(StoreError::Invalid {
            what: "store URL",
            why: "expected sqlite:PATH or postgres://…".into(),
        })
    }
}

/// The rules of [`TextKind::check`] for a new room's texts.
fn check_new_room(new: &NewRoom<'_>) -> Result<()> {
    check_text("room name", TextKind::Name, new.name)?;
    check_text("room description", TextKind::Description, new.description)?;
    check_text("room topic", TextKind::Topic, new.topic)
}

/// The rules of [`TextKind::check`] for the texts an update sets.
fn check_room_update(update: &RoomUpdate) -> Result<()> {
    let texts = [
        ("room name", TextKind::Name, &update.name),
        (
            "room description",
            TextKind::Description,
            &update.description,
        ),
        ("room topic", TextKind::Topic, &update.topic),
    ];
    for (what, kind, value) in texts {
        if let Some(value) = value {
            check_text(what, kind, value)?;
        }
    }
    Ok(())
}

fn check_text(what: &'static str, kind: TextKind, value: &str) -> Result<()> {
    kind.check(value).map_err(|fault| StoreError::Invalid {
        what,
        why: fault.to_string(),
    })
}

/// A fresh random (version 4) GUID in its usual lower-case text form.
pub fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn derive(
    uri: &str,
    password: &str,
    realm: &str,
    key: &ServerKey,
    mechanisms: Mechanisms,
) -> Result<accounts::PasswordSecrets> {
    // Argon2 takes tens of milliseconds of CPU on purpose; keep it off the async workers.
    let (uri, password, realm) = (uri.to_owned(), password.to_owned(), realm.to_owned());
    let key = key.clone();
    tokio::task::spawn_blocking(move || {
        accounts::derive_password_secrets(&uri, &password, &realm, &key, mechanisms)
    })
    .await
    .map_err(|e| StoreError::PasswordHash(e.to_string()))?
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
