//! Names chosen where the protocol reference is silent (docs/protocol.md).
//!
//! Each choice lives here once so that a capture of real Lync traffic can correct it in one
//! place; `docs/protocol.md` ("XCCOS shapes chosen where the reference is silent") gives
//! the reason for each.

/// Reply id for `cmd:getserverinfo`. The 2010 OCS log copied into sipe says
/// `rpl:getservinfo`; MS-OCSPROT's overview says `rpl:getserverinfo`.
pub const REPLY_ID_GETSERVERINFO: &str = "rpl:getservinfo";

/// The other spelling, accepted when parsing.
pub const REPLY_ID_GETSERVERINFO_ALIAS: &str = "rpl:getserverinfo";

/// `sib` attribute carrying the room-management web application URL (the SDK's
/// `RoomManagementUrl`).
pub const SIB_ROOM_MANAGEMENT_URL: &str = "roomManagementUrl";

/// Attribute of `msg` and server `grpchat` carrying the per-room message sequence number,
/// which `bcq` `before`/`after` queries refer to.
pub const MESSAGE_ID_ATTR: &str = "msgid";

/// `bcq` form: the newest `cnt` messages.
pub const BCQ_LAST: &str = "last";
/// `bcq` form: up to `cnt` messages older than message `id`.
pub const BCQ_BEFORE: &str = "before";
/// `bcq` form: up to `cnt` messages newer than message `id`.
pub const BCQ_AFTER: &str = "after";
/// `bcq` form: up to `cnt` newest messages whose text matches `text`.
pub const BCQ_SEARCH: &str = "search";

/// Attribute of an `inv` in `rpl:getinv` carrying the invitation's creation time.
pub const INV_TS_ATTR: &str = "ts";

/// Element of `rpl:nodespermcreatechild` naming one category the user may create rooms in.
pub const CATEGORY_ELEMENT: &str = "catib";

/// Chat text starting with this marker is a story, measured against `storySizeLimit`
/// (the Persistent Chat store keeps stories in this form).
pub const STORY_PREFIX: &str = "[STORY]";

/// `qib@qtype`: the rooms of one category; `criteria` is its `ma-cat://<domain>/<GUID>` URI.
pub const QTYPE_BYCATEGORY: &str = "BYCATEGORY";
/// `qib@qtype`: the rooms the user manages; `criteria` is not read.
pub const QTYPE_BYMANAGER: &str = "BYMANAGER";
/// `qib@qtype`: the rooms the user is a member of; `criteria` is not read.
pub const QTYPE_BYMEMBER: &str = "BYMEMBER";

/// Scheme of category URIs: `ma-cat://<domain>/<GUID>`.
pub const CATEGORY_SCHEME: &str = "ma-cat://";

/// Attribute of `grpchat` and history `msg` marking a high-importance message (an alert):
/// `alert="true"`, absent otherwise. The original stores the flag (tblChat `isAlert`, the
/// SDK's `ChatMessage.IsAlert`); its wire form is unknown.
pub const ALERT_ATTR: &str = "alert";

/// Child of `grpchat` and history `msg`, after `chat`, carrying the message's RTF copy as
/// text (escaped like any XML text; RTF is 7-bit text, so no further encoding). The original
/// stores one (tblChat `rtf`, the SDK's `MessageRtfContent`); its wire form is unknown.
pub const RTF_CHILD: &str = "rtf";
