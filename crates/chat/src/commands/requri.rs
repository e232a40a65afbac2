//! `cmd:requri`: which channel server a client should use. Sent to the lookup (pool) URI
//! first; the answer is the channel URI of the node the server's lookup chooses for this
//! client (the least-loaded live node of the pool; this server's own when it is alone).

use xccos::{ReplyData, Uib};

use super::Outcome;
use crate::ChatService;

pub(super) fn run(chat: &ChatService) -> Outcome {
    Ok(ReplyData::ReqUri(Some(Uib::new(
        chat.hand_out_channel_uri().to_string(),
    ))))
}
