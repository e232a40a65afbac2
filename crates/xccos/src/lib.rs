//! Sans-IO XCCOS for Parlance: the XML commands, replies, notices and chat messages that
//! Lync / OCS Group Chat clients and servers carry in SIP INFO bodies.
//!
//! [`Envelope::parse`] turns a body into typed values under hard [`Limits`], refusing DTDs,
//! entity declarations and processing instructions; [`Envelope::to_xml`] writes the exact
//! shapes of the protocol reference (compact, escaped). Names are matched by local name, so
//! prefixes and namespace declarations from real servers are harmless. A command the
//! server does not know parses as [`CommandKind::Unknown`] (answer it with
//! [`Reply::failure`] and [`ResponseCode::MsgNotSupported`]); a body that is not XCCOS is
//! a [`ParseError`] (answer the INFO with SIP 400).
//!
//! Where the reference is silent, the chosen names live in [`shapes`] and the `resp` table
//! in [`ResponseCode`]; `docs/protocol.md` explains each choice.
//!
//! ```
//! use xccos::{Command, CommandKind, Envelope, Limits, Message, Reply, ReplyData, ResponseCode, Uib};
//!
//! let body = br#"<xccos ver="1" envid="1804289383" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:requri" seqid="1"><data/></cmd></xccos>"#;
//! let envelope = Envelope::parse(body, &Limits::default()).unwrap();
//! let Message::Command(command) = &envelope.messages[0] else { unreachable!() };
//! assert_eq!(command.kind, CommandKind::ReqUri);
//!
//! let reply = Reply::answer(
//!     command,
//!     envelope.envid,
//!     ResponseCode::Ok,
//!     ReplyData::ReqUri(Some(Uib::new("sip:chatsrv1@example.com"))),
//! );
//! assert_eq!(
//!     Envelope::new(7, reply).to_xml(),
//!     r#"<xccos ver="1" envid="7" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:requri" seqid="1"><commandid seqid="1" envid="1804289383"/><resp code="200">SUCCESS_OK</resp><data><uib uri="sip:chatsrv1@example.com"/></data></rpl></xccos>"#
//! );
//! ```

mod code;
mod command;
mod envelope;
mod error;
mod filelink;
mod files;
mod grpchat;
mod items;
mod limits;
mod notice;
mod query;
mod reply;
mod server_info;
pub mod shapes;
mod time;
mod tree;
mod write;

pub use code::ResponseCode;
pub use command::{Command, CommandKind};
pub use envelope::{Envelope, Message, NAMESPACE, VERSION};
pub use error::{ChatTooLarge, ParseError, TimeError};
pub use filelink::{
    FILE_LINK_SCHEME, FileLink, MAX_EXTENSION_CHARS, file_links, is_repository_name,
};
pub use files::{Ftdb, Token};
pub use grpchat::{ChatMessage, GrpChat};
pub use items::{
    AIB_KEY_MANAGER, AIB_KEY_MEMBER, Aib, CHANNEL_SCHEME, ChanId, Chanib, FIB_OPERATION_FAILED,
    Fib, INFO_USER_COUNT, INFO_VISIBILITY, PROP_FILEPOST, PROP_INVITE, PROP_LOGGED, Uib,
    VISIBILITY_OPEN, VISIBILITY_PRIVATE, VISIBILITY_SCOPE,
};
pub use limits::{ChatSizeLimits, Limits};
pub use notice::Notice;
pub use query::{Bcq, Inv, Pref, QTYPE_BYNAME, Qib};
pub use reply::{CommandRef, JoinData, Reply, ReplyData, Resp, reply_id_for};
pub use server_info::Sib;
pub use time::{format_timestamp, parse_timestamp};
