//! `cmd`: what a client asks of the lookup or channel service.

use crate::error::ParseError;
use crate::files::Ftdb;
use crate::items::{ChanId, Chanib};
use crate::query::{Bcq, Inv, Pref, Qib};
use crate::server_info::Sib;
use crate::tree::Element;
use crate::write::XmlWriter;

/// `<cmd id="cmd:…" seqid="N"><data>…</data></cmd>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub seqid: u64,
    pub kind: CommandKind,
}

/// One variant per command id, holding the command's typed `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandKind {
    /// `cmd:requri`: which channel server should I use?
    ReqUri,
    /// `cmd:getserverinfo`, with the client's `sib` (domain, infoType) if any.
    GetServerInfo(Option<Sib>),
    /// `cmd:chansrch`: room search.
    ChanSrch(Qib),
    /// `cmd:join`.
    Join(ChanId),
    /// `cmd:bjoin`: join several rooms at once.
    BJoin(Vec<ChanId>),
    /// `cmd:part`: leave the room `data/chanib@uri`.
    Part { channel_uri: String },
    /// `cmd:bccontext`: history of `data/chanib@uri`.
    BcContext { channel_uri: String, query: Bcq },
    /// `cmd:getinv`: outstanding invitations.
    GetInv(Option<Inv>),
    /// `cmd:getpref`.
    GetPref(Pref),
    /// `cmd:setpref`.
    SetPref(Pref),
    /// `cmd:nodespermcreatechild`: where may I create rooms?
    NodesPermCreateChild,
    /// `cmd:getassoc`: the rooms I am associated with (hold a role in); its `data` is not
    /// read (the reference knows no shape, see [`crate::shapes`]).
    GetAssoc,
    /// `cmd:getfutok`: token to upload a file.
    GetFuTok(Ftdb),
    /// `cmd:getfdtok`: token to download a file.
    GetFdTok(Ftdb),
    /// Any other id, kept so the server can answer `501 ERR_MSG_NOT_SUPPORTED`.
    Unknown { id: String },
}

impl CommandKind {
    pub fn id(&self) -> &str {
        match self {
            Self::ReqUri => "cmd:requri",
            Self::GetServerInfo(_) => "cmd:getserverinfo",
            Self::ChanSrch(_) => "cmd:chansrch",
            Self::Join(_) => "cmd:join",
            Self::BJoin(_) => "cmd:bjoin",
            Self::Part { .. } => "cmd:part",
            Self::BcContext { .. } => "cmd:bccontext",
            Self::GetInv(_) => "cmd:getinv",
            Self::GetPref(_) => "cmd:getpref",
            Self::SetPref(_) => "cmd:setpref",
            Self::NodesPermCreateChild => "cmd:nodespermcreatechild",
            Self::GetAssoc => "cmd:getassoc",
            Self::GetFuTok(_) => "cmd:getfutok",
            Self::GetFdTok(_) => "cmd:getfdtok",
            Self::Unknown { id } => id,
        }
    }

    fn from_data(id: &str, data: &Element) -> Result<Self, ParseError> {
        let chanib_uri = || data.required_child("chanib")?.required_string("uri");
        Ok(match id {
            "cmd:requri" => Self::ReqUri,
            "cmd:getserverinfo" => {
                Self::GetServerInfo(data.child("sib").map(Sib::from_element).transpose()?)
            }
            "cmd:chansrch" => Self::ChanSrch(Qib::from_element(data.required_child("qib")?)?),
            "cmd:join" => Self::Join(ChanId::from_element(data.required_child("chanid")?)?),
            "cmd:bjoin" => Self::BJoin(
                data.children_named("chanid")
                    .map(ChanId::from_element)
                    .collect::<Result<_, _>>()?,
            ),
            "cmd:part" => Self::Part {
                channel_uri: chanib_uri()?,
            },
            "cmd:bccontext" => Self::BcContext {
                channel_uri: chanib_uri()?,
                query: Bcq::from_element(data.required_child("bcq")?)?,
            },
            "cmd:getinv" => Self::GetInv(data.child("inv").map(Inv::from_element).transpose()?),
            "cmd:getpref" => Self::GetPref(Pref::from_element(data.required_child("pref")?)?),
            "cmd:setpref" => Self::SetPref(Pref::from_element(data.required_child("pref")?)?),
            "cmd:nodespermcreatechild" => Self::NodesPermCreateChild,
            "cmd:getassoc" => Self::GetAssoc,
            "cmd:getfutok" => Self::GetFuTok(Ftdb::from_element(data.required_child("ftdb")?)?),
            "cmd:getfdtok" => Self::GetFdTok(Ftdb::from_element(data.required_child("ftdb")?)?),
            other => Self::Unknown {
                id: other.to_owned(),
            },
        })
    }

    fn write_data(&self, w: &mut XmlWriter) {
        match self {
            Self::ReqUri | Self::NodesPermCreateChild | Self::GetAssoc | Self::Unknown { .. } => {}
            Self::GetServerInfo(sib) => sib.iter().for_each(|s| s.write(w)),
            Self::ChanSrch(qib) => qib.write(w),
            Self::Join(chanid) => chanid.write(w),
            Self::BJoin(chanids) => chanids.iter().for_each(|c| c.write(w)),
            Self::Part { channel_uri } => Chanib::new(channel_uri.as_str()).write(w),
            Self::BcContext { channel_uri, query } => {
                Chanib::new(channel_uri.as_str()).write(w);
                query.write(w);
            }
            Self::GetInv(inv) => inv.iter().for_each(|i| i.write(w)),
            Self::GetPref(pref) | Self::SetPref(pref) => pref.write(w),
            Self::GetFuTok(ftdb) | Self::GetFdTok(ftdb) => ftdb.write(w),
        }
    }
}

impl Command {
    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        let id = e.required_attr("id")?;
        let seqid = e.required_parsed("seqid")?;
        let empty = Element::named("data");
        let kind = CommandKind::from_data(id, e.child("data").unwrap_or(&empty))?;
        Ok(Self { seqid, kind })
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.start("cmd")
            .attr("id", self.kind.id())
            .attr_display("seqid", self.seqid)
            .children(|w| w.start("data").children(|w| self.kind.write_data(w)));
    }
}
