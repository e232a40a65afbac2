//! Query and bookkeeping blocks: `qib` (room search), `bcq` (history query), `inv`
//! (invitations), `pref` (preference blobs).

use crate::error::ParseError;
use crate::items::Chanib;
use crate::shapes::{BCQ_AFTER, BCQ_BEFORE, BCQ_LAST, BCQ_SEARCH, INV_TS_ATTR};
use crate::tree::Element;
use crate::write::XmlWriter;

/// `qib@qtype` that lists rooms by name; empty `criteria` lists every visible room.
pub const QTYPE_BYNAME: &str = "BYNAME";

/// `qib`: a room search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qib {
    pub qtype: String,
    pub criteria: String,
    /// Whether descriptions are searched too.
    pub extended: bool,
}

impl Qib {
    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        Ok(Self {
            qtype: e.required_string("qtype")?,
            criteria: e.string_attr("criteria").unwrap_or_default(),
            extended: e.bool_attr("extended")?.unwrap_or(false),
        })
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.start("qib")
            .attr("qtype", &self.qtype)
            .attr("criteria", &self.criteria)
            .attr_display("extended", self.extended)
            .empty();
    }
}

/// `bcq`: which history a `cmd:bccontext` asks for. `last` is the form sipe sends; the
/// others are this implementation's choice (see [`crate::shapes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bcq {
    /// `<last cnt=N/>`: the newest `cnt` messages.
    Last { cnt: u32 },
    /// `<before id=M cnt=N/>`: up to `cnt` messages older than message `id`.
    Before { id: u64, cnt: u32 },
    /// `<after id=M cnt=N/>`: up to `cnt` messages newer than message `id`.
    After { id: u64, cnt: u32 },
    /// `<search text=T cnt=N/>`: up to `cnt` newest messages matching `text`.
    Search { text: String, cnt: u32 },
}

impl Bcq {
    /// Reads the first supported form among `bcq`'s children.
    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        for form in &e.children {
            let cnt = || form.required_parsed("cnt");
            return Ok(match form.name.as_str() {
                BCQ_LAST => Self::Last { cnt: cnt()? },
                BCQ_BEFORE => Self::Before {
                    id: form.required_parsed("id")?,
                    cnt: cnt()?,
                },
                BCQ_AFTER => Self::After {
                    id: form.required_parsed("id")?,
                    cnt: cnt()?,
                },
                BCQ_SEARCH => Self::Search {
                    text: form.required_string("text")?,
                    cnt: cnt()?,
                },
                _ => continue,
            });
        }
        Err(ParseError::UnsupportedQuery)
    }

    pub fn cnt(&self) -> u32 {
        match self {
            Self::Last { cnt }
            | Self::Before { cnt, .. }
            | Self::After { cnt, .. }
            | Self::Search { cnt, .. } => *cnt,
        }
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.start("bcq").children(|w| match self {
            Self::Last { cnt } => w.start(BCQ_LAST).attr_display("cnt", cnt).empty(),
            Self::Before { id, cnt } => w
                .start(BCQ_BEFORE)
                .attr_display("id", id)
                .attr_display("cnt", cnt)
                .empty(),
            Self::After { id, cnt } => w
                .start(BCQ_AFTER)
                .attr_display("id", id)
                .attr_display("cnt", cnt)
                .empty(),
            Self::Search { text, cnt } => w
                .start(BCQ_SEARCH)
                .attr("text", text)
                .attr_display("cnt", cnt)
                .empty(),
        });
    }
}

/// `inv`: in `cmd:getinv` the first invitation id the client wants (`inviteId`, its
/// domain); in `rpl:getinv` one invitation with its time and a `chanib` of the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inv {
    pub invite_id: u64,
    pub domain: Option<String>,
    pub ts: Option<String>,
    pub chanib: Option<Chanib>,
}

impl Inv {
    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        Ok(Self {
            invite_id: e.required_parsed("inviteId")?,
            domain: e.string_attr("domain"),
            ts: e.string_attr(INV_TS_ATTR),
            chanib: e.child("chanib").map(Chanib::from_element).transpose()?,
        })
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.start("inv")
            .attr_display("inviteId", self.invite_id)
            .attr_opt("domain", self.domain.as_deref())
            .attr_opt(INV_TS_ATTR, self.ts.as_deref())
            .children(|w| {
                if let Some(chanib) = &self.chanib {
                    chanib.write(w);
                }
            });
    }
}

/// `pref`: a named, versioned preference blob (`content` is opaque, base64 in practice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pref {
    pub label: String,
    pub seqid: u64,
    pub create_default: Option<bool>,
    pub content: Option<String>,
}

impl Pref {
    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        Ok(Self {
            label: e.required_string("label")?,
            seqid: e.required_parsed("seqid")?,
            create_default: e.bool_attr("createdefault")?,
            content: e.string_attr("content"),
        })
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.start("pref")
            .attr("label", &self.label)
            .attr_display("seqid", self.seqid)
            .attr_display_opt("createdefault", self.create_default)
            .attr_opt("content", self.content.as_deref())
            .empty();
    }
}
