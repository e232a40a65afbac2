//! Tokens, from issue to use. A token is bound to (principal, room, direction, file) when it
//! is issued, and every use checks it again: it exists, is not expired or spent, moves the
//! file the way asked, in the room named, and its principal still may post (or read) there.
//! Rights taken away after the token was issued take effect at its next use.

use parlance_clock::Clock;
use parlance_store::files::{Direction, FileState, FileToken, NewFileToken, StoredFile};
use parlance_store::rooms::RoomInfo;
use parlance_store::{Store, StoreError};
use xccos::ResponseCode;

use super::FileSettings;
use super::names::repository_name;
use crate::permissions::Standing;
use xccos::FileLink;

/// Checks tokens and keeps the records of the files they move. Cheap to clone: the web
/// layer holds one, the chat core another.
#[derive(Debug, Clone)]
pub struct Transfers {
    store: Store,
    clock: Clock,
    domain: String,
    settings: FileSettings,
}

/// A token that passed [`Transfers::authorize`], with what it was checked against.
#[derive(Debug, Clone)]
pub struct Grant {
    pub token: FileToken,
    pub room_guid: String,
    pub principal_uri: String,
    /// Upload: the file once a name is reserved. Download: the file the token reads,
    /// unless it was removed since.
    pub file: Option<StoredFile>,
}

/// A grant and where the feed of access changes stood when it was checked. That feed
/// (`Store::last_access_change`) records every change to anyone's rights, in the
/// transaction of the change; it is how live chat sessions learn of them too. While it has
/// not moved, a grant still holds whatever the change would have been.
#[derive(Debug, Clone)]
pub struct CheckedGrant {
    pub grant: Grant,
    rights_seen: i64,
}

/// Why a token or a file operation is refused. The `Display` text is a short reason fit to
/// show any client (a SOAP `faultstring`, a JSON `error`): it never tells whether a room the
/// caller may not see exists. The store's own errors are behind [`FileRefusal::Store`].
#[derive(Debug, thiserror::Error)]
pub enum FileRefusal {
    #[error("invalid token")]
    InvalidToken,
    #[error("token expired")]
    Expired,
    #[error("token already used")]
    Spent,
    #[error("token is for the other direction")]
    WrongDirection,
    #[error("token is for another room")]
    WrongRoom,
    #[error("not allowed")]
    NotAllowed,
    #[error("file posting is off in this room")]
    FilePostOff,
    #[error("no such file")]
    NoSuchFile,
    #[error("invalid file name")]
    BadName,
    #[error("file too large")]
    TooLarge,
    #[error("room quota exceeded")]
    QuotaExceeded,
    /// The service failed; the client is told no more than that.
    #[error("server error")]
    Store(#[from] StoreError),
}

impl Transfers {
    pub fn new(store: Store, clock: Clock, domain: String, settings: FileSettings) -> Transfers {
        Transfers {
            store,
            clock,
            domain,
            settings,
        }
    }

    pub fn settings(&self) -> &FileSettings {
        &self.settings
    }

    /// Every SOAP operation and plain API request starts here: the token exists, is not
    /// expired or spent, is for `direction`, its room is `channel_id` (a GUID in any case,
    /// braces allowed; `None` where the request names no room), and its principal still may
    /// post files (upload) or read the history (download) there, with the account enabled
    /// and the room not disabled.
    pub async fn authorize(
        &self,
        token: &str,
        channel_id: Option<&str>,
        direction: Direction,
    ) -> Result<Grant, FileRefusal> {
        self.authorize_for(token, channel_id, Some(direction)).await
    }

    /// As [`Transfers::authorize`], for a request that either kind of token may make (a
    /// limit of the service): the rights checked are those of the token's own direction.
    pub async fn authorize_either(
        &self,
        token: &str,
        channel_id: Option<&str>,
    ) -> Result<Grant, FileRefusal> {
        self.authorize_for(token, channel_id, None).await
    }

    async fn authorize_for(
        &self,
        token: &str,
        channel_id: Option<&str>,
        wanted: Option<Direction>,
    ) -> Result<Grant, FileRefusal> {
        let token = self
            .known_token(token)
            .await?
            .ok_or(FileRefusal::InvalidToken)?;
        if self.now() >= token.expires_at {
            return Err(FileRefusal::Expired);
        }
        if wanted.is_some_and(|d| d != token.direction) {
            return Err(FileRefusal::WrongDirection);
        }
        let direction = token.direction;
        if token.spent {
            return Err(FileRefusal::Spent);
        }
        let info = self
            .store
            .room_by_id(token.room_id)
            .await?
            .ok_or(FileRefusal::NotAllowed)?;
        if channel_id.is_some_and(|c| !same_guid(c, &info.room.guid)) {
            return Err(FileRefusal::WrongRoom);
        }
        let user = self
            .store
            .user_by_id(token.principal_id)
            .await?
            .filter(|u| !u.disabled)
            .ok_or(FileRefusal::NotAllowed)?;
        let standing = Standing::of(&self.store, &info, token.principal_id).await?;
        let access = standing.on(&info);
        match direction {
            Direction::Upload if !access.can_post_files() => {
                return Err(if access.can_post() {
                    FileRefusal::FilePostOff
                } else {
                    FileRefusal::NotAllowed
                });
            }
            Direction::Download if !access.can_read_history() => {
                return Err(FileRefusal::NotAllowed);
            }
            Direction::Upload | Direction::Download => {}
        }
        let file = match token.file_id {
            Some(id) => self.store.file(id).await?,
            None => None,
        };
        Ok(Grant {
            token,
            room_guid: info.room.guid,
            principal_uri: user.uri,
            file,
        })
    }

    /// As [`Transfers::authorize`], for the chunks of a transfer: the grant is dated, so that
    /// the next chunk can reuse it through [`Transfers::still_holds`].
    pub async fn authorize_chunks(
        &self,
        token: &str,
        channel_id: Option<&str>,
        direction: Direction,
    ) -> Result<CheckedGrant, FileRefusal> {
        // Read first: a change committed while the token is checked moves the feed past
        // this point, so the next chunk checks again.
        let rights_seen = self.store.last_access_change().await?;
        let grant = self.authorize(token, channel_id, direction).await?;
        Ok(CheckedGrant { grant, rights_seen })
    }

    /// Whether `checked` holds for the next chunk of its transfer, which names
    /// `channel_id`: the token not expired (on the clock), still unspent and naming the same
    /// file, and no change to anyone's rights recorded since it was checked. Two reads
    /// instead of [`Transfers::authorize`]'s six, for every chunk of a large file. `false`
    /// says only "check it all again": [`Transfers::authorize_chunks`] then says why a token
    /// no longer serves, if it does not.
    pub async fn still_holds(
        &self,
        checked: &CheckedGrant,
        channel_id: Option<&str>,
    ) -> Result<bool, FileRefusal> {
        let grant = &checked.grant;
        if self.now() >= grant.token.expires_at
            || channel_id.is_some_and(|c| !same_guid(c, &grant.room_guid))
        {
            return Ok(false);
        }
        let (token, rights) = tokio::try_join!(
            self.store.file_token(&grant.token.token),
            self.store.last_access_change()
        )?;
        Ok(rights == checked.rights_seen
            && token.is_some_and(|t| !t.spent && t.file_id == grant.token.file_id))
    }

    /// Upload: the token's repository name, `<GUID>.<ext>` (`<GUID>` for an empty
    /// extension), chosen now, or the one chosen at the token's first request.
    pub async fn reserve_name(
        &self,
        grant: &Grant,
        extension: &str,
    ) -> Result<StoredFile, FileRefusal> {
        upload_only(grant)?;
        let extension = super::names::extension(extension).ok_or(FileRefusal::BadName)?;
        // A token that already named its file gets that name again, whatever the count.
        if grant.file.is_none()
            && self.store.room_file_count(grant.token.room_id).await?
                >= self.settings.max_files_per_room
        {
            return Err(FileRefusal::QuotaExceeded);
        }
        let name = repository_name(&extension);
        self.store
            .reserve_upload(&grant.token.token, &name, self.now())
            .await
            .map_err(|e| match e {
                // Spent by a concurrent request since it was authorised.
                StoreError::NotFound(_) => FileRefusal::Spent,
                e => FileRefusal::Store(e),
            })
    }

    /// Upload: the largest file the room can take now, in bytes: the smaller of the size
    /// limit and what is left of the room's quota (the token's own upload in progress not
    /// counted against it).
    pub async fn max_file_bytes(&self, grant: &Grant) -> Result<u64, FileRefusal> {
        upload_only(grant)?;
        let used = self.store.room_file_bytes(grant.token.room_id).await?;
        let own = grant
            .file
            .as_ref()
            .filter(|f| f.state == FileState::Uploading)
            .map_or(0, |f| f.size);
        let left = self
            .settings
            .room_quota_bytes
            .saturating_sub(used.saturating_sub(own));
        Ok(left.min(self.settings.max_file_bytes))
    }

    /// Upload: checks a declared length against the size limit and the room's quota, and
    /// records it: it counts toward the quota while the upload is in progress.
    pub async fn begin_upload(
        &self,
        grant: &Grant,
        file: &StoredFile,
        file_length: u64,
    ) -> Result<(), FileRefusal> {
        upload_only(grant)?;
        if file_length > self.settings.max_file_bytes {
            return Err(FileRefusal::TooLarge);
        }
        self.store
            .declare_upload_length(
                &grant.token.token,
                file.id,
                file_length,
                self.settings.room_quota_bytes,
            )
            .await
            .map_err(|e| match e {
                StoreError::QuotaExceeded { .. } => FileRefusal::QuotaExceeded,
                StoreError::NotFound(_) => FileRefusal::NoSuchFile,
                e => FileRefusal::Store(e),
            })
    }

    /// Upload complete (after the file store's `finish`): the file becomes complete with
    /// its size, the token is spent and the FILEUPLOAD compliance row is written, in one
    /// transaction.
    pub async fn complete_upload(
        &self,
        grant: &Grant,
        file: &StoredFile,
        size: u64,
    ) -> Result<(), FileRefusal> {
        upload_only(grant)?;
        self.store
            .complete_upload(&grant.token.token, file.id, size, self.now())
            .await
            .map(drop)
            .map_err(|e| match e {
                // Not this token's upload, or abandoned or completed since it was authorised.
                StoreError::NotFound(_) => FileRefusal::NoSuchFile,
                e => FileRefusal::Store(e),
            })
    }

    /// Upload refused or abandoned: the file's row goes and the token may reserve a name
    /// again. The caller removes the partial blob.
    pub async fn abandon_upload(&self, file: &StoredFile) -> Result<(), FileRefusal> {
        self.store.abandon_upload(file.id).await?;
        Ok(())
    }

    /// Download: the complete file the token was issued for.
    pub fn download_file(grant: &Grant) -> Result<&StoredFile, FileRefusal> {
        if grant.token.direction != Direction::Download {
            return Err(FileRefusal::WrongDirection);
        }
        grant
            .file
            .as_ref()
            .filter(|f| f.state == FileState::Complete)
            .ok_or(FileRefusal::NoSuchFile)
    }

    /// Download start: the FILEDOWNLOAD compliance row, once per token, committed before
    /// the caller sends any byte.
    pub async fn record_download(&self, grant: &Grant) -> Result<(), FileRefusal> {
        Self::download_file(grant)?;
        self.store
            .record_download(&grant.token.token, self.now())
            .await?;
        Ok(())
    }

    /// Uploads whose token expired: for the web layer's sweeper, which removes their partial
    /// blobs and calls [`Transfers::abandon_upload`].
    pub async fn expired_uploads(&self) -> Result<Vec<StoredFile>, FileRefusal> {
        Ok(self.store.expired_uploads(self.now()).await?)
    }

    /// Deletes the expired tokens (keeping those of uploads not yet abandoned); for the same
    /// sweeper, after it has abandoned the expired uploads. Returns how many went.
    pub async fn prune_tokens(&self) -> Result<u64, FileRefusal> {
        Ok(self.store.prune_file_tokens(self.now()).await?)
    }

    /// At start: every upload an earlier run left in progress is forgotten (its partial blob
    /// did not survive `FileStore::open_local`). Returns how many.
    pub async fn discard_unfinished_uploads(&self) -> Result<u64, FileRefusal> {
        Ok(self.store.delete_unfinished_uploads().await?)
    }

    /// Issues a token for `cmd:getfutok` or `cmd:getfdtok`, the asker's rights already
    /// checked: `LimitExceeded` when the principal holds `max_tokens_per_user` live ones.
    pub(crate) async fn issue(
        &self,
        principal_id: i64,
        room_id: i64,
        direction: Direction,
        file_url: &str,
        file_id: Option<i64>,
    ) -> Result<Result<xccos::Token, ResponseCode>, StoreError> {
        let now = self.now();
        let lifetime = i64::try_from(self.settings.token_lifetime.as_nanos()).unwrap_or(i64::MAX);
        let new = NewFileToken {
            principal_id,
            room_id,
            direction,
            file_url,
            file_id,
            issued_at: now,
            expires_at: now.saturating_add(lifetime),
        };
        match self
            .store
            .issue_file_token(&new, self.settings.max_tokens_per_user)
            .await
        {
            Ok(token) => Ok(Ok(xccos::Token {
                token: token.token,
                server_uri: self.settings.service_url.clone(),
            })),
            Err(StoreError::TooMany { .. }) => Ok(Err(ResponseCode::LimitExceeded)),
            Err(e) => Err(e),
        }
    }

    /// The file a download token may be issued for: `file_url` is its repository name or
    /// its `ma-filelink:` link; the file is a complete file of the room, linked by a message
    /// posted there or uploaded by the asker. `None` for anything else, so that a file that
    /// does not qualify looks like one that does not exist.
    pub(crate) async fn downloadable(
        &self,
        info: &RoomInfo,
        principal_id: i64,
        file_url: &str,
    ) -> Result<Option<StoredFile>, StoreError> {
        let name = match FileLink::parse(file_url) {
            Some(link) if link.is_in(&self.domain, &info.room.guid) => link.name,
            Some(_) => return Ok(None),
            None => file_url.to_owned(),
        };
        let Some(file) = self.store.room_file(info.room.id, &name).await? else {
            return Ok(None);
        };
        if file.state != FileState::Complete {
            return Ok(None);
        }
        let qualifies = file.uploader_id == principal_id || self.store.file_linked(file.id).await?;
        Ok(qualifies.then_some(file))
    }

    /// A token as stored, if `token` is one: GUIDs only, in any case.
    async fn known_token(&self, token: &str) -> Result<Option<FileToken>, StoreError> {
        let is_guid =
            token.len() == 36 && token.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit());
        if !is_guid {
            return Ok(None);
        }
        self.store.file_token(&token.to_ascii_lowercase()).await
    }

    /// Unix nanoseconds on the server's clock.
    fn now(&self) -> i64 {
        self.clock.unix_nanos()
    }
}

/// The operation is an upload's.
fn upload_only(grant: &Grant) -> Result<(), FileRefusal> {
    match grant.token.direction {
        Direction::Upload => Ok(()),
        Direction::Download => Err(FileRefusal::WrongDirection),
    }
}

/// Whether a `channelId` names the room of this GUID: any case, braces allowed.
fn same_guid(channel_id: &str, guid: &str) -> bool {
    let bare = channel_id
        .strip_prefix('{')
        .and_then(|c| c.strip_suffix('}'))
        .unwrap_or(channel_id);
    bare.eq_ignore_ascii_case(guid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_id_is_the_room_guid_in_any_case_with_or_without_braces() {
        let guid = "094f5a4a-c492-4f6b-91c2-385eba134fd3";
        assert!(same_guid(guid, guid));
        assert!(same_guid(&guid.to_uppercase(), guid));
        assert!(same_guid(&format!("{{{guid}}}"), guid));
        assert!(!same_guid(&format!("{{{guid}"), guid));
        assert!(!same_guid(&format!("ma-chan://example.com/{guid}"), guid));
        assert!(!same_guid("", guid));
    }
}
