//! `cmd:getfutok`: a token to upload one file into a room (docs/protocol.md, "Tokens").
//! `ftdb@fileUrl` is the file's original name; the asker must be allowed to post files
//! there (`Access::can_post_files`), and is refused as for any post otherwise.

use parlance_store::files::Direction;
use parlance_store::rooms::RoomInfo;
use xccos::{Ftdb, ReplyData, ResponseCode};

use super::Outcome;
use crate::files::{Transfers, is_original_name};
use crate::{Access, ChatError, ChatService, Principal};

pub(super) async fn run(
    chat: &ChatService,
    principal: &Principal,
    ftdb: &Ftdb,
) -> Result<Outcome, ChatError> {
    let (transfers, info) = match file_room(chat, principal, ftdb, |a| a.can_post_files()).await? {
        Ok(found) => found,
        Err(code) => return Ok(Err(code)),
    };
    if !is_original_name(&ftdb.file_url) {
        return Ok(Err(ResponseCode::BadRequest));
    }
    let token = transfers
        .issue(
            principal.id,
            info.room.id,
            Direction::Upload,
            &ftdb.file_url,
            None,
        )
        .await?;
    Ok(token.map(|t| ReplyData::GetFTok(Some(t))))
}

/// What both token commands start with: the file service, and the room `ftdb` names if the
/// asker `may` move files there. Otherwise the refusal: `501` when the service is off, the
/// room's own refusal (`Access::refusal`) when the rights are missing.
pub(super) async fn file_room<'c>(
    chat: &'c ChatService,
    principal: &Principal,
    ftdb: &Ftdb,
    may: fn(&Access<'_>) -> bool,
) -> Result<Result<(&'c Transfers, RoomInfo), ResponseCode>, ChatError> {
    let Some(transfers) = &chat.transfers else {
        return Ok(Err(ResponseCode::MsgNotSupported));
    };
    let Some(info) = chat.room_by_uri(&ftdb.channel_uri).await? else {
        return Ok(Err(ResponseCode::NoSuchNode));
    };
    let standing = chat.standing(&info, principal).await?;
    let access = standing.on(&info);
    if !may(&access) {
        return Ok(Err(access.refusal()));
    }
    Ok(Ok((transfers, info)))
}
