//! `cmd:nodespermcreatechild`: the categories in which the principal may create rooms (it
//! holds the creator role there), as `ma-cat:` URIs.

use xccos::ReplyData;

use super::Outcome;
use crate::{ChatError, ChatService, Principal};

pub(super) async fn run(chat: &ChatService, principal: &Principal) -> Result<Outcome, ChatError> {
    let categories = chat.store.creator_categories(principal.id).await?;
    Ok(Ok(ReplyData::NodesPermCreateChild(
        categories
            .into_iter()
            .map(|c| format!("ma-cat://{}/{}", chat.settings.domain, c.guid))
            .collect(),
    )))
}
