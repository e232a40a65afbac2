//! `cmd:getfdtok`: a token to download one file of a room (docs/protocol.md, "Tokens").
//! `ftdb@fileUrl` is the file's repository name or its `ma-filelink:` link; the asker must
//! be allowed to read the room's history, and the file must be one it may have
//! (`Transfers::downloadable`). Any other file is answered as if it did not exist.

use parlance_store::files::Direction;
use xccos::{Ftdb, ReplyData, ResponseCode};

use super::Outcome;
use super::getfutok::file_room;
use crate::{ChatError, ChatService, Principal};

pub(super) async fn run(
    chat: &ChatService,
    principal: &Principal,
    ftdb: &Ftdb,
) -> Result<Outcome, ChatError> {
    let (transfers, info) = match file_room(chat, principal, ftdb, |a| a.can_read_history()).await?
    {
        Ok(found) => found,
        Err(code) => return Ok(Err(code)),
    };
    let Some(file) = transfers
        .downloadable(&info, principal.id, &ftdb.file_url)
        .await?
    else {
        return Ok(Err(ResponseCode::NoSuchNode));
    };
    let token = transfers
        .issue(
            principal.id,
            info.room.id,
            Direction::Download,
            &ftdb.file_url,
            Some(file.id),
        )
        .await?;
    Ok(token.map(|t| ReplyData::GetFTok(Some(t))))
}
