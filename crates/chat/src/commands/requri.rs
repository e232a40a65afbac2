//! `cmd:requri`: which channel server a client should use. Sent to the lookup (pool) URI
//! first; one node serves everything today, and a pool makes this choice load-aware.

use xccos::{ReplyData, Uib};

use super::Outcome;
use crate::ChatService;

pub(super) fn run(chat: &ChatService) -> Outcome {
    Ok(ReplyData::ReqUri(Some(Uib::new(
        chat.settings.channel_uri.clone(),
    ))))
}
