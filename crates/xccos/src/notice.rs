//! `ntc`: unsolicited server notices: about other members of a room, a room changed, an
//! invitation.

use crate::error::ParseError;
use crate::items::{Chanib, Uib};
use crate::query::Inv;
use crate::tree::Element;
use crate::write::XmlWriter;

/// `<ntc id="ntc:…"><data>…</data></ntc>`; notices carry no `seqid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// `ntc:join`: each `uib` names, in its `aib`s, the rooms the user joined and the
    /// role held there.
    Join(Vec<Uib>),
    /// `ntc:bjoin`: as `ntc:join`, after a batch join.
    BJoin(Vec<Uib>),
    /// `ntc:part`: each `chanib` lists in its `uibs` the users who left it.
    Part(Vec<Chanib>),
    /// `ntc:chanupd`: a room's properties changed; each `chanib` carries them as they are
    /// now, in the shape of a `rpl:chansrch` listing with the topic. Parlance's own notice
    /// (docs/protocol.md): the reference names none for this.
    ChanUpd(Vec<Chanib>),
    /// `ntc:inv`: invitations made while the principal was connected, each as `rpl:getinv`
    /// lists it. Parlance's own notice (docs/protocol.md): the reference names none.
    Inv(Vec<Inv>),
    /// Any other notice id; its data is not interpreted.
    Unknown { id: String },
}

impl Notice {
    pub fn id(&self) -> &str {
        match self {
            Self::Join(_) => "ntc:join",
            Self::BJoin(_) => "ntc:bjoin",
            Self::Part(_) => "ntc:part",
            Self::ChanUpd(_) => "ntc:chanupd",
            Self::Inv(_) => "ntc:inv",
            Self::Unknown { id } => id,
        }
    }

    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        let id = e.required_attr("id")?;
        let empty = Element::named("data");
        let data = e.child("data").unwrap_or(&empty);
        let uibs = || -> Result<Vec<Uib>, ParseError> {
            data.children_named("uib").map(Uib::from_element).collect()
        };
        let chanibs = || -> Result<Vec<Chanib>, ParseError> {
            data.children_named("chanib")
                .map(Chanib::from_element)
                .collect()
        };
        Ok(match id {
            "ntc:join" => Self::Join(uibs()?),
            "ntc:bjoin" => Self::BJoin(uibs()?),
            "ntc:part" => Self::Part(chanibs()?),
            "ntc:chanupd" => Self::ChanUpd(chanibs()?),
            "ntc:inv" => Self::Inv(
                data.children_named("inv")
                    .map(Inv::from_element)
                    .collect::<Result<_, _>>()?,
            ),
            other => Self::Unknown {
                id: other.to_owned(),
            },
        })
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.start("ntc").attr("id", self.id()).children(|w| {
            w.start("data").children(|w| match self {
                Self::Join(uibs) | Self::BJoin(uibs) => uibs.iter().for_each(|u| u.write(w)),
                Self::Part(chanibs) | Self::ChanUpd(chanibs) => {
                    chanibs.iter().for_each(|c| c.write(w))
                }
                Self::Inv(invs) => invs.iter().for_each(|i| i.write(w)),
                Self::Unknown { .. } => {}
            });
        });
    }
}
