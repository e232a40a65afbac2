//! Property tests: every typed value survives serialise → parse unchanged (text with XML
//! specials, whitespace and non-ASCII included), and no input makes the parser panic.

use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;
use xccos::{
    Aib, Bcq, ChanId, Chanib, ChatMessage, Command, CommandKind, CommandRef, Envelope, Fib, Ftdb,
    GrpChat, Inv, JoinData, Limits, Message, Notice, Pref, Qib, Reply, ReplyData, Resp, Sib, Token,
    Uib,
};

/// What XML 1.0 can carry; the serialiser replaces anything else.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[<>&\"' \t\r\na-zA-Z0-9;#\u{e9}\u{4e2d}\u{1F600}\u{FFFD}]{0,16}",
        any::<String>().prop_map(|s| s.chars().filter(|&c| xml_char(c)).collect()),
    ]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    of(text())
}

fn chanid() -> impl Strategy<Value = ChanId> {
    (any::<u32>(), text(), text()).prop_map(|(key, domain, value)| ChanId { key, domain, value })
}

fn aib() -> impl Strategy<Value = Aib> {
    (text(), opt_text(), text()).prop_map(|(key, domain, value)| Aib { key, domain, value })
}

fn uib() -> impl Strategy<Value = Uib> {
    (of(any::<u64>()), text(), vec(aib(), 0..3)).prop_map(|(id, uri, aibs)| Uib { id, uri, aibs })
}

fn chat_message() -> impl Strategy<Value = ChatMessage> {
    (
        text(),
        text(),
        opt_text(),
        of(any::<u64>()),
        text(),
        any::<bool>(),
        opt_text(),
    )
        .prop_map(
            |(channel_uri, author, ts, message_id, text, alert, rtf)| ChatMessage {
                channel_uri,
                author,
                ts,
                message_id,
                text,
                alert,
                rtf,
            },
        )
}

fn chanib() -> impl Strategy<Value = Chanib> {
    (
        (text(), opt_text(), opt_text(), opt_text()),
        (of(any::<u64>()), opt_text()),
        (of(any::<bool>()), of(any::<bool>()), of(any::<bool>())),
        (
            vec(aib(), 0..3),
            vec(uib(), 0..3),
            vec(chat_message(), 0..3),
        ),
    )
        .prop_map(
            |(
                (uri, name, description, topic),
                (user_count, visibility),
                (file_post, invite, logged),
                (aibs, uibs, msgs),
            )| Chanib {
                uri,
                name,
                description,
                topic,
                user_count,
                visibility,
                file_post,
                invite,
                logged,
                aibs,
                uibs,
                msgs,
            },
        )
}

fn fib() -> impl Strategy<Value = Fib> {
    (text(), text(), opt_text()).prop_map(|(key, value, domain)| Fib { key, value, domain })
}

fn qib() -> impl Strategy<Value = Qib> {
    (text(), text(), any::<bool>()).prop_map(|(qtype, criteria, extended)| Qib {
        qtype,
        criteria,
        extended,
    })
}

fn bcq() -> impl Strategy<Value = Bcq> {
    prop_oneof![
        any::<u32>().prop_map(|cnt| Bcq::Last { cnt }),
        (any::<u64>(), any::<u32>()).prop_map(|(id, cnt)| Bcq::Before { id, cnt }),
        (any::<u64>(), any::<u32>()).prop_map(|(id, cnt)| Bcq::After { id, cnt }),
        (text(), any::<u32>()).prop_map(|(text, cnt)| Bcq::Search { text, cnt }),
    ]
}

fn inv() -> impl Strategy<Value = Inv> {
    (any::<u64>(), opt_text(), opt_text(), of(chanib())).prop_map(
        |(invite_id, domain, ts, chanib)| Inv {
            invite_id,
            domain,
            ts,
            chanib,
        },
    )
}

fn pref() -> impl Strategy<Value = Pref> {
    (text(), any::<u64>(), of(any::<bool>()), opt_text()).prop_map(
        |(label, seqid, create_default, content)| Pref {
            label,
            seqid,
            create_default,
            content,
        },
    )
}

fn sib() -> impl Strategy<Value = Sib> {
    (
        (opt_text(), opt_text(), opt_text()),
        (of(any::<u32>()), of(any::<u32>()), of(any::<u32>())),
        (opt_text(), opt_text(), opt_text()),
    )
        .prop_map(
            |(
                (domain, info_type, server_time),
                (search_limit, message_size_limit, story_size_limit),
                (root_uri, db_version, room_management_url),
            )| Sib {
                domain,
                info_type,
                server_time,
                search_limit,
                message_size_limit,
                story_size_limit,
                root_uri,
                db_version,
                room_management_url,
            },
        )
}

fn ftdb() -> impl Strategy<Value = Ftdb> {
    (text(), text()).prop_map(|(channel_uri, file_url)| Ftdb {
        channel_uri,
        file_url,
    })
}

fn token() -> impl Strategy<Value = Token> {
    (text(), text()).prop_map(|(token, server_uri)| Token { token, server_uri })
}

fn join_data() -> impl Strategy<Value = JoinData> {
    (vec(chanib(), 0..3), vec(uib(), 0..3), vec(fib(), 0..3)).prop_map(|(chanibs, uibs, fibs)| {
        JoinData {
            chanibs,
            uibs,
            fibs,
        }
    })
}

fn command_kind() -> impl Strategy<Value = CommandKind> {
    prop_oneof![
        Just(CommandKind::ReqUri),
        of(sib()).prop_map(CommandKind::GetServerInfo),
        qib().prop_map(CommandKind::ChanSrch),
        chanid().prop_map(CommandKind::Join),
        vec(chanid(), 0..4).prop_map(CommandKind::BJoin),
        text().prop_map(|channel_uri| CommandKind::Part { channel_uri }),
        (text(), bcq())
            .prop_map(|(channel_uri, query)| CommandKind::BcContext { channel_uri, query }),
        of(inv()).prop_map(CommandKind::GetInv),
        pref().prop_map(CommandKind::GetPref),
        pref().prop_map(CommandKind::SetPref),
        Just(CommandKind::NodesPermCreateChild),
        ftdb().prop_map(CommandKind::GetFuTok),
        ftdb().prop_map(CommandKind::GetFdTok),
        "cmd:x-[a-z]{0,8}".prop_map(|id| CommandKind::Unknown { id }),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    (any::<u64>(), command_kind()).prop_map(|(seqid, kind)| Command { seqid, kind })
}

fn reply_data() -> impl Strategy<Value = ReplyData> {
    prop_oneof![
        of(uib()).prop_map(ReplyData::ReqUri),
        of(sib()).prop_map(ReplyData::GetServerInfo),
        vec(chanib(), 0..3).prop_map(ReplyData::ChanSrch),
        join_data().prop_map(ReplyData::Join),
        join_data().prop_map(ReplyData::BJoin),
        vec(chanib(), 0..3).prop_map(ReplyData::Part),
        vec(chanib(), 0..3).prop_map(ReplyData::BcContext),
        vec(inv(), 0..3).prop_map(ReplyData::GetInv),
        of(pref()).prop_map(ReplyData::GetPref),
        of(pref()).prop_map(ReplyData::SetPref),
        vec(text(), 0..3).prop_map(ReplyData::NodesPermCreateChild),
        of(token()).prop_map(ReplyData::GetFTok),
        "rpl:x-[a-z]{0,8}".prop_map(|id| ReplyData::Unknown { id }),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    (
        any::<u64>(),
        of((any::<u64>(), any::<u64>()).prop_map(|(seqid, envid)| CommandRef { seqid, envid })),
        (any::<u16>(), text()).prop_map(|(code, text)| Resp { code, text }),
        reply_data(),
    )
        .prop_map(|(seqid, command, resp, data)| Reply {
            seqid,
            command,
            resp,
            data,
        })
}

fn notice() -> impl Strategy<Value = Notice> {
    prop_oneof![
        vec(uib(), 0..3).prop_map(Notice::Join),
        vec(uib(), 0..3).prop_map(Notice::BJoin),
        vec(chanib(), 0..3).prop_map(Notice::Part),
        vec(chanib(), 0..3).prop_map(Notice::ChanUpd),
        "ntc:x-[a-z]{0,8}".prop_map(|id| Notice::Unknown { id }),
    ]
}

fn grpchat() -> impl Strategy<Value = GrpChat> {
    (any::<u64>(), chat_message()).prop_map(|(seqid, message)| GrpChat { seqid, message })
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        command().prop_map(Message::Command),
        reply().prop_map(Message::Reply),
        notice().prop_map(Message::Notice),
        grpchat().prop_map(Message::GrpChat),
    ]
}

fn envelope_of(messages: impl Strategy<Value = Message>) -> impl Strategy<Value = Envelope> {
    (any::<u64>(), vec(messages, 1..4)).prop_map(|(envid, messages)| Envelope { envid, messages })
}

fn round_trip(envelope: &Envelope) -> Result<(), TestCaseError> {
    let xml = envelope.to_xml();
    // Escaping and defaulted attributes can make a body longer than the one it came from.
    let limits = Limits {
        max_body_bytes: usize::MAX,
        ..Limits::default()
    };
    let parsed = Envelope::parse(xml.as_bytes(), &limits);
    prop_assert_eq!(parsed.as_ref(), Ok(envelope), "body: {}", xml);
    Ok(())
}

/// Parsing never panics; whatever parses serialises to a body that parses to the same value.
fn parse_is_stable(body: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(envelope) = Envelope::parse(body, &Limits::default()) {
        round_trip(&envelope)?;
    }
    Ok(())
}

proptest! {
    #[test]
    fn commands_round_trip(envelope in envelope_of(command().prop_map(Message::Command))) {
        round_trip(&envelope)?;
    }

    #[test]
    fn replies_round_trip(envelope in envelope_of(reply().prop_map(Message::Reply))) {
        round_trip(&envelope)?;
    }

    #[test]
    fn notices_round_trip(envelope in envelope_of(notice().prop_map(Message::Notice))) {
        round_trip(&envelope)?;
    }

    #[test]
    fn grpchats_round_trip(envelope in envelope_of(grpchat().prop_map(Message::GrpChat))) {
        round_trip(&envelope)?;
    }

    #[test]
    fn mixed_envelopes_round_trip(envelope in envelope_of(message())) {
        round_trip(&envelope)?;
    }

    /// `history_len` is exactly what one more message adds to a history reply, escaping
    /// included: the server cuts replies to a body limit by it.
    #[test]
    fn a_message_adds_its_history_len_to_a_reply(
        first in chat_message(),
        second in chat_message(),
        uri in text(),
    ) {
        let body = |msgs: Vec<ChatMessage>| {
            let reply = Reply {
                seqid: 1,
                command: Some(CommandRef { seqid: 1, envid: 2 }),
                resp: Resp { code: 200, text: "SUCCESS_OK".into() },
                data: ReplyData::BcContext(vec![Chanib { msgs, ..Chanib::new(uri.clone()) }]),
            };
            Envelope::new(3, reply).to_xml().len()
        };
        prop_assert_eq!(
            body(vec![first.clone(), second.clone()]),
            body(vec![first]) + second.history_len()
        );
    }

    #[test]
    fn arbitrary_strings_never_panic(body in any::<String>()) {
        parse_is_stable(body.as_bytes())?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in vec(any::<u8>(), 0..512)) {
        parse_is_stable(&body)?;
    }

    #[test]
    fn xml_like_noise_never_panics(body in "[<>/=\"'&;#!?a-z:\\[\\] \u{e9}-]{0,200}") {
        parse_is_stable(body.as_bytes())?;
    }

    #[test]
    fn mutated_envelopes_never_panic(
        envelope in envelope_of(message()),
        edits in vec((any::<prop::sample::Index>(), 0usize..3, "[<>/\"&;#a-z]{0,3}"), 1..6),
    ) {
        let mut body = envelope.to_xml().into_bytes();
        for (at, delete, insert) in edits {
            let at = at.index(body.len() + 1);
            let end = (at + delete).min(body.len());
            body.splice(at..end, insert.bytes());
        }
        parse_is_stable(&body)?;
    }
}
