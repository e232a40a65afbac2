//! `cmd:getfutok`: a token to upload one file into a room (docs/protocol.md, "Tokens").
//! `ftdb@fileUrl` is the file's original name; the asker must be allowed to post files
//! there (`Access::can_post_files`), and is refused as for any post otherwise.

use parlance_store::files::Direction;
use xccos::{Ftdb, ReplyData, ResponseCode};

use super::Outcome;
use crate::files::is_original_name;
use crate::{ChatError, ChatService, Principal};

pub(super) async fn run(
    chat: &ChatService,
    principal: &Principal,
    ftdb: &Ftdb,
) -> Result<Outcome, ChatError> {
    let Some(transfers) = &chat.transfers else {
        return Ok(Err(ResponseCode::MsgNotSupported));
    };
    if !is_original_name(&ftdb.file_url) {
        return Ok(Err(ResponseCode::BadRequest));
    }
    let Some(info) = chat.room_by_uri(&ftdb.channel_uri).await? else {
        return Ok(Err(ResponseCode::NoSuchNode));
    };
    let standing = chat.standing(&info, principal).await?;
    let access = standing.on(&info);
    if !access.can_post_files() {
        return Ok(Err(access.refusal()));
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
