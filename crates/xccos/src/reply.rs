//! `rpl`: the server's answer to one `cmd`, sent in its own INFO.

use crate::code::ResponseCode;
use crate::command::{Command, CommandKind};
use crate::error::ParseError;
use crate::files::Token;
use crate::items::{Chanib, Fib, Uib};
use crate::query::{Inv, Pref};
use crate::server_info::Sib;
use crate::shapes::{CATEGORY_ELEMENT, REPLY_ID_GETSERVERINFO, REPLY_ID_GETSERVERINFO_ALIAS};
use crate::tree::Element;
use crate::write::XmlWriter;

/// `<rpl id="rpl:…" seqid="N"><commandid …/><resp code="…">TEXT</resp><data>…</data></rpl>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The answered command's `seqid`.
    pub seqid: u64,
    /// `commandid`; absent only in replies pushed without a command.
    pub command: Option<CommandRef>,
    pub resp: Resp,
    pub data: ReplyData,
}

/// `commandid`: the answered command's `seqid` and the `envid` of the envelope it came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandRef {
    pub seqid: u64,
    pub envid: u64,
}

/// `resp`: outcome code and text. Kept raw so codes outside [`ResponseCode`] survive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resp {
    pub code: u16,
    pub text: String,
}

impl Resp {
    pub fn response_code(&self) -> Option<ResponseCode> {
        ResponseCode::from_code(self.code)
    }

    pub fn is_success(&self) -> bool {
        self.code == ResponseCode::Ok.code()
    }
}

impl From<ResponseCode> for Resp {
    fn from(code: ResponseCode) -> Self {
        Self {
            code: code.code(),
            text: code.text().to_owned(),
        }
    }
}

/// Payload of `rpl:join` and `rpl:bjoin`: rooms with their role lists, the roster those
/// lists refer to, and rooms that could not be joined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinData {
    pub chanibs: Vec<Chanib>,
    pub uibs: Vec<Uib>,
    pub fibs: Vec<Fib>,
}

/// One variant per reply id, holding the reply's typed `data`; every payload may be empty,
/// as error replies are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyData {
    /// `rpl:requri`: `uib@uri` is the channel server.
    ReqUri(Option<Uib>),
    /// The reply to `cmd:getserverinfo` (id [`REPLY_ID_GETSERVERINFO`]).
    GetServerInfo(Option<Sib>),
    ChanSrch(Vec<Chanib>),
    Join(JoinData),
    BJoin(JoinData),
    Part(Vec<Chanib>),
    /// `rpl:bccontext`: one `chanib` per room, history in its `msgs`, oldest first.
    BcContext(Vec<Chanib>),
    GetInv(Vec<Inv>),
    GetPref(Option<Pref>),
    SetPref(Option<Pref>),
    /// `rpl:nodespermcreatechild`: URIs of categories the user may create rooms in.
    NodesPermCreateChild(Vec<String>),
    /// `rpl:getftok`, the reply to both `cmd:getfutok` and `cmd:getfdtok`.
    GetFTok(Option<Token>),
    /// `rpl:getassoc`: one `chanib` per associated room, as `rpl:chansrch` lists them.
    GetAssoc(Vec<Chanib>),
    /// Any other reply id; its data is not interpreted.
    Unknown {
        id: String,
    },
}

/// The reply id answering command id `command_id`: `cmd:NAME` → `rpl:NAME`.
pub fn reply_id_for(command_id: &str) -> String {
    let name = command_id.strip_prefix("cmd:").unwrap_or(command_id);
    format!("rpl:{name}")
}

impl ReplyData {
    pub fn id(&self) -> &str {
        match self {
            Self::ReqUri(_) => "rpl:requri",
            Self::GetServerInfo(_) => REPLY_ID_GETSERVERINFO,
            Self::ChanSrch(_) => "rpl:chansrch",
            Self::Join(_) => "rpl:join",
            Self::BJoin(_) => "rpl:bjoin",
            Self::Part(_) => "rpl:part",
            Self::BcContext(_) => "rpl:bccontext",
            Self::GetInv(_) => "rpl:getinv",
            Self::GetPref(_) => "rpl:getpref",
            Self::SetPref(_) => "rpl:setpref",
            Self::NodesPermCreateChild(_) => "rpl:nodespermcreatechild",
            Self::GetFTok(_) => "rpl:getftok",
            Self::GetAssoc(_) => "rpl:getassoc",
            Self::Unknown { id } => id,
        }
    }

    /// The empty payload of the reply to `kind`, for error replies.
    pub fn empty_for(kind: &CommandKind) -> Self {
        match kind {
            CommandKind::ReqUri => Self::ReqUri(None),
            CommandKind::GetServerInfo(_) => Self::GetServerInfo(None),
            CommandKind::ChanSrch(_) => Self::ChanSrch(Vec::new()),
            CommandKind::Join(_) => Self::Join(JoinData::default()),
            CommandKind::BJoin(_) => Self::BJoin(JoinData::default()),
            CommandKind::Part { .. } => Self::Part(Vec::new()),
            CommandKind::BcContext { .. } => Self::BcContext(Vec::new()),
            CommandKind::GetInv(_) => Self::GetInv(Vec::new()),
            CommandKind::GetPref(_) => Self::GetPref(None),
            CommandKind::SetPref(_) => Self::SetPref(None),
            CommandKind::NodesPermCreateChild => Self::NodesPermCreateChild(Vec::new()),
            CommandKind::GetAssoc => Self::GetAssoc(Vec::new()),
            CommandKind::GetFuTok(_) | CommandKind::GetFdTok(_) => Self::GetFTok(None),
            CommandKind::Unknown { id } => Self::Unknown {
                id: reply_id_for(id),
            },
        }
    }

    fn from_data(id: &str, data: &Element) -> Result<Self, ParseError> {
        fn all<T>(
            data: &Element,
            name: &str,
            parse: fn(&Element) -> Result<T, ParseError>,
        ) -> Result<Vec<T>, ParseError> {
            data.children_named(name).map(parse).collect()
        }
        fn first<T>(
            data: &Element,
            name: &str,
            parse: fn(&Element) -> Result<T, ParseError>,
        ) -> Result<Option<T>, ParseError> {
            data.child(name).map(parse).transpose()
        }
        let join = || -> Result<JoinData, ParseError> {
            Ok(JoinData {
                chanibs: all(data, "chanib", Chanib::from_element)?,
                uibs: all(data, "uib", Uib::from_element)?,
                fibs: all(data, "fib", Fib::from_element)?,
            })
        };
        Ok(match id {
            "rpl:requri" => Self::ReqUri(first(data, "uib", Uib::from_element)?),
            REPLY_ID_GETSERVERINFO | REPLY_ID_GETSERVERINFO_ALIAS => {
                Self::GetServerInfo(first(data, "sib", Sib::from_element)?)
            }
            "rpl:chansrch" => Self::ChanSrch(all(data, "chanib", Chanib::from_element)?),
            "rpl:join" => Self::Join(join()?),
            "rpl:bjoin" => Self::BJoin(join()?),
            "rpl:part" => Self::Part(all(data, "chanib", Chanib::from_element)?),
            "rpl:bccontext" => Self::BcContext(all(data, "chanib", Chanib::from_element)?),
            "rpl:getinv" => Self::GetInv(all(data, "inv", Inv::from_element)?),
            "rpl:getpref" => Self::GetPref(first(data, "pref", Pref::from_element)?),
            "rpl:setpref" => Self::SetPref(first(data, "pref", Pref::from_element)?),
            "rpl:nodespermcreatechild" => {
                Self::NodesPermCreateChild(all(data, CATEGORY_ELEMENT, |e| {
                    e.required_string("uri")
                })?)
            }
            "rpl:getftok" => Self::GetFTok(first(data, "token", Token::from_element)?),
            "rpl:getassoc" => Self::GetAssoc(all(data, "chanib", Chanib::from_element)?),
            other => Self::Unknown {
                id: other.to_owned(),
            },
        })
    }

    fn write_data(&self, w: &mut XmlWriter) {
        match self {
            Self::ReqUri(uib) => uib.iter().for_each(|u| u.write(w)),
            Self::GetServerInfo(sib) => sib.iter().for_each(|s| s.write(w)),
            Self::ChanSrch(chanibs)
            | Self::Part(chanibs)
            | Self::BcContext(chanibs)
            | Self::GetAssoc(chanibs) => {
                chanibs.iter().for_each(|c| c.write(w));
            }
            Self::Join(join) | Self::BJoin(join) => {
                join.chanibs.iter().for_each(|c| c.write(w));
                join.uibs.iter().for_each(|u| u.write(w));
                join.fibs.iter().for_each(|f| f.write(w));
            }
            Self::GetInv(invs) => invs.iter().for_each(|i| i.write(w)),
            Self::GetPref(pref) | Self::SetPref(pref) => pref.iter().for_each(|p| p.write(w)),
            Self::NodesPermCreateChild(categories) => {
                for uri in categories {
                    w.start(CATEGORY_ELEMENT).attr("uri", uri).empty();
                }
            }
            Self::GetFTok(token) => token.iter().for_each(|t| t.write(w)),
            Self::Unknown { .. } => {}
        }
    }
}

impl Reply {
    /// The reply to `command`, which arrived in the envelope with id `envid`.
    pub fn answer(command: &Command, envid: u64, resp: impl Into<Resp>, data: ReplyData) -> Self {
        Self {
            seqid: command.seqid,
            command: Some(CommandRef {
                seqid: command.seqid,
                envid,
            }),
            resp: resp.into(),
            data,
        }
    }

    /// A failed reply to `command`: `code` and the reply's empty payload.
    pub fn failure(command: &Command, envid: u64, code: ResponseCode) -> Self {
        Self::answer(command, envid, code, ReplyData::empty_for(&command.kind))
    }

    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        let id = e.required_attr("id")?;
        let seqid = e.required_parsed("seqid")?;
        let command = e
            .child("commandid")
            .map(|c| -> Result<CommandRef, ParseError> {
                Ok(CommandRef {
                    seqid: c.required_parsed("seqid")?,
                    envid: c.required_parsed("envid")?,
                })
            })
            .transpose()?;
        let resp = e.required_child("resp")?;
        let resp = Resp {
            code: resp.required_parsed("code")?,
            text: resp.text().to_owned(),
        };
        let empty = Element::named("data");
        let data = ReplyData::from_data(id, e.child("data").unwrap_or(&empty))?;
        Ok(Self {
            seqid,
            command,
            resp,
            data,
        })
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.start("rpl")
            .attr("id", self.data.id())
            .attr_display("seqid", self.seqid)
            .children(|w| {
                if let Some(command) = self.command {
                    w.start("commandid")
                        .attr_display("seqid", command.seqid)
                        .attr_display("envid", command.envid)
                        .empty();
                }
                w.start("resp")
                    .attr_display("code", self.resp.code)
                    .text(&self.resp.text);
                w.start("data").children(|w| self.data.write_data(w));
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_ids_follow_command_names() {
        assert_eq!(reply_id_for("cmd:frobnicate"), "rpl:frobnicate");
        assert_eq!(reply_id_for("frobnicate"), "rpl:frobnicate");
        assert_eq!(
            ReplyData::empty_for(&CommandKind::GetFdTok(crate::Ftdb {
                channel_uri: String::new(),
                file_url: String::new()
            }))
            .id(),
            "rpl:getftok"
        );
    }
}
