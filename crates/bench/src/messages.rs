//! Messages the load generator writes itself, with the same codec as the server so that
//! they are byte for byte what the server would send: the relay's delivery, and the
//! `grpchat` a lean member posts.

use bytes::Bytes;
use xccos::{ChatMessage, Envelope, GrpChat};

use crate::measure::Stamp;
use crate::target::DOMAIN;

/// The INFO the relay carries: shaped like the server's delivery (same headers, a
/// `grpchat` body written by the same codec), so that both move the same bytes.
pub fn relay_info(text: &str) -> Bytes {
    let seq = Stamp::parse(text).map_or(0, |s| s.seq);
    let body = grpchat(
        seq + 1,
        &format!("ma-chan://{DOMAIN}/6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
        &format!("sip:member0@{DOMAIN}"),
        text,
        Some(seq + 1),
    );
    Bytes::from(format!(
        "INFO sip:member@127.0.0.1:50000;transport=tls SIP/2.0\r\n\
         Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK{seq:016x}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:chatsrv@{DOMAIN}>;tag=4c9a3f1e5b\r\n\
         To: <sip:member@{DOMAIN}>;tag=8d2e6b70aa\r\n\
         Call-ID: 3a7c9e1f-{seq}-bench\r\n\
         CSeq: {} INFO\r\n\
         Contact: <sip:chatsrv@{DOMAIN}>\r\n\
         Content-Type: text/plain\r\n\
         Content-Length: {}\r\n\r\n{body}",
        seq + 2,
        body.len()
    ))
}

/// A `grpchat` envelope of `text` by `author` in `room`, stamped now; `message_id` is the
/// room's sequence number, which only the server writes.
pub fn grpchat(
    envid: u64,
    room: &str,
    author: &str,
    text: &str,
    message_id: Option<u64>,
) -> String {
    let unix_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let chat = GrpChat {
        seqid: 1,
        message: ChatMessage {
            channel_uri: room.to_owned(),
            author: author.to_owned(),
            ts: Some(xccos::format_timestamp(unix_ns)),
            message_id,
            text: text.to_owned(),
            alert: false,
            rtf: None,
        },
    };
    Envelope::new(envid, chat).to_xml()
}
