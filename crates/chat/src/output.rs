//! What goes out must fit the body limit clients enforce. Escaping makes text up to five
//! times longer on the wire (`&` is `&amp;`), so sizes are measured as serialised: a post
//! is refused unless it fits both as delivered and alone in a history page, and a history
//! reply carries the messages nearest its anchor that fit, the rest a page further on.

use parlance_store::history::StoredMessage;
use xccos::{
    ChatMessage, CommandRef, Envelope, GrpChat, Reply, ReplyData, ResponseCode, format_timestamp,
};

/// A stored message as it goes out, in the room `channel_uri`.
pub(crate) fn chat_message(channel_uri: &str, m: StoredMessage) -> ChatMessage {
    ChatMessage {
        channel_uri: channel_uri.to_owned(),
        author: m.author_uri,
        ts: Some(format_timestamp(m.posted_at)),
        message_id: Some(m.seq as u64),
        text: m.content,
        alert: m.alert,
        rtf: m.rtf,
    }
}

/// Which end of a history page to keep when not all of it fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// The newest: for the latest page, a page before an id, and searches. The client asks
    /// for the page before the oldest it got next.
    Newest,
    /// The oldest: for a page after an id (catching up). The client asks for the page
    /// after the newest it got next.
    Oldest,
}

/// Whether a message fits `limit` as the server would send it: live in its own `grpchat`,
/// and as the only message of a history reply, stamped `now` (Unix nanoseconds). The
/// number the store has not chosen yet is counted at its widest.
pub(crate) fn fits_on_the_wire(limit: usize, message: &ChatMessage, seqid: u64, now: i64) -> bool {
    let message = ChatMessage {
        ts: Some(format_timestamp(now)),
        message_id: Some(u64::MAX),
        ..message.clone()
    };
    let history = history_overhead(&message.channel_uri) + message.history_len();
    let live = Envelope::new(u64::MAX, GrpChat { seqid, message })
        .to_xml()
        .len();
    live.max(history) <= limit
}

/// The messages of a history reply that fit `limit`, in their order, cut at the end away
/// from `keep`. A message too large for any reply (stored under a higher limit) is left out
/// and logged, so that paging still moves past it.
pub(crate) fn fit_history(
    limit: usize,
    room_uri: &str,
    messages: Vec<ChatMessage>,
    keep: Keep,
) -> Vec<ChatMessage> {
    let budget = limit.saturating_sub(history_overhead(room_uri));
    let total = messages.len();
    let mut ordered = messages;
    if keep == Keep::Newest {
        ordered.reverse();
    }
    let mut used = 0;
    let mut kept = Vec::with_capacity(ordered.len());
    for m in ordered {
        let len = m.history_len();
        if len > budget {
            tracing::warn!(
                room = room_uri,
                message_id = m.message_id,
                bytes = len,
                budget,
                "history message too large for any reply, left out"
            );
            continue;
        }
        if used + len > budget {
            break;
        }
        used += len;
        kept.push(m);
    }
    if keep == Keep::Newest {
        kept.reverse();
    }
    if kept.len() < total {
        tracing::debug!(
            room = room_uri,
            asked = total,
            sent = kept.len(),
            "history reply cut to the body limit"
        );
    }
    kept
}

/// The bytes of a history reply other than its messages, with every number at its widest:
/// a reply holding messages of `history_len` L1 … Ln is this plus their sum.
fn history_overhead(room_uri: &str) -> usize {
    let probe = ChatMessage {
        channel_uri: String::new(),
        author: String::new(),
        ts: None,
        message_id: None,
        text: String::new(),
        alert: false,
        rtf: None,
    };
    let reply = Reply {
        seqid: u64::MAX,
        command: Some(CommandRef {
            seqid: u64::MAX,
            envid: u64::MAX,
        }),
        resp: ResponseCode::Ok.into(),
        data: ReplyData::BcContext(vec![xccos::Chanib {
            msgs: vec![probe.clone()],
            ..xccos::Chanib::new(room_uri)
        }]),
    };
    Envelope::new(u64::MAX, reply).to_xml().len() - probe.history_len()
}

#[cfg(test)]
mod tests {
    use xccos::{Chanib, Limits, Message};

    use super::*;

    const ROOM: &str = "ma-chan://example.com/6b1f2c9e-4a7d-4f3b-9c2e-0a5d7e8f0002";
    /// 2023-11-14T22:13:20Z, in Unix nanoseconds.
    const NOW: i64 = 1_700_000_000_000_000_000;

    fn message(id: u64, text: &str) -> ChatMessage {
        ChatMessage {
            channel_uri: ROOM.into(),
            author: "sip:alice@example.com".into(),
            ts: Some(format_timestamp(NOW)),
            message_id: Some(id),
            text: text.into(),
            alert: false,
            rtf: None,
        }
    }

    /// The body of the reply the service would send, at the widest numbers.
    fn reply_len(msgs: Vec<ChatMessage>) -> usize {
        let reply = Reply {
            seqid: u64::MAX,
            command: Some(CommandRef {
                seqid: u64::MAX,
                envid: u64::MAX,
            }),
            resp: ResponseCode::Ok.into(),
            data: ReplyData::BcContext(vec![Chanib {
                msgs,
                ..Chanib::new(ROOM)
            }]),
        };
        Envelope::new(u64::MAX, reply).to_xml().len()
    }

    fn ids(msgs: &[ChatMessage]) -> Vec<u64> {
        msgs.iter().filter_map(|m| m.message_id).collect()
    }

    #[test]
    fn a_page_keeps_the_end_its_query_anchors_and_fits_exactly() {
        let page: Vec<ChatMessage> = (1..=20).map(|i| message(i, &"x".repeat(16_000))).collect();
        let limit = Limits::default().max_body_bytes;
        let newest = fit_history(limit, ROOM, page.clone(), Keep::Newest);
        let n = newest.len();
        assert!((10..20).contains(&n), "{n} of 20 fit");
        assert_eq!(ids(&newest), (21 - n as u64..=20).collect::<Vec<_>>());
        assert!(reply_len(newest) <= limit);
        let one_more = page[19 - n..].to_vec();
        assert!(
            reply_len(one_more) > limit,
            "the cut is as late as it can be"
        );

        let oldest = fit_history(limit, ROOM, page, Keep::Oldest);
        assert_eq!(ids(&oldest), (1..=n as u64).collect::<Vec<_>>());
    }

    #[test]
    fn escaping_is_counted_and_a_message_too_large_for_any_reply_is_left_out() {
        let limit = 4096;
        // 1000 bytes typed, 5000 on the wire.
        let page = vec![
            message(1, "a"),
            message(2, &"&".repeat(1000)),
            message(3, "b"),
        ];
        let kept = fit_history(limit, ROOM, page, Keep::Newest);
        assert_eq!(ids(&kept), [1, 3]);
        assert!(reply_len(kept) <= limit);
    }

    #[test]
    fn a_post_fits_only_if_its_escaped_form_does() {
        let limit = Limits::default().max_body_bytes;
        // Within a 64 KiB story limit as typed, four or five times that on the wire.
        let lt = message(1, &format!("[STORY]{}", "<".repeat(65_529)));
        assert!(!fits_on_the_wire(limit, &lt, 1, NOW));
        let amp = message(1, &"&".repeat(60_000));
        assert!(!fits_on_the_wire(limit, &amp, 1, NOW));
        let plain = message(1, &"x".repeat(65_536));
        assert!(fits_on_the_wire(limit, &plain, 1, NOW));
        // What it says is what the serialiser writes: the largest post that fits is sent
        // whole, a little more would not fit a history reply.
        let text = |n: usize| "<".repeat(n);
        let mut n = 0;
        while fits_on_the_wire(limit, &message(1, &text(n + 1024)), u64::MAX, NOW) {
            n += 1024;
        }
        let live = Envelope::new(
            u64::MAX,
            Message::GrpChat(GrpChat {
                seqid: u64::MAX,
                message: message(u64::MAX, &text(n)),
            }),
        );
        assert!(live.to_xml().len() <= limit);
        assert!(reply_len(vec![message(u64::MAX, &text(n))]) <= limit);
        assert!(reply_len(vec![message(u64::MAX, &text(n + 1024))]) > limit);
    }
}
