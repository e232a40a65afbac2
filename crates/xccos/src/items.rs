//! The data items naming rooms and users: `chanid`, `chanib`, `uib`, `aib`, `fib`.

use crate::error::ParseError;
use crate::grpchat::ChatMessage;
use crate::tree::{Element, parse_bool};
use crate::write::XmlWriter;

/// Scheme of room (channel) URIs: `ma-chan://<domain>/<value>`.
pub const CHANNEL_SCHEME: &str = "ma-chan://";

/// `aib@key` of ordinary participants (opaque; seen in real logs).
pub const AIB_KEY_MEMBER: &str = "3984";
/// `aib@key` of room managers, shown by sipe as channel operators.
pub const AIB_KEY_MANAGER: &str = "12276";

/// `fib@key` of a room that could not be joined in a `rpl:bjoin`.
pub const FIB_OPERATION_FAILED: &str = "OPERATION_FAILED";

/// `chanib` `info` id: current user count. Spelling as sipe matches it.
pub const INFO_USER_COUNT: &str = "urn:parlano:ma:info:ucnt";
/// `chanib` `info` id: visibility — "visibilty" is sipe's spelling, matched literally.
pub const INFO_VISIBILITY: &str = "urn:parlano:ma:info:visibilty";
/// `chanib` `prop` id: file posting allowed.
pub const PROP_FILEPOST: &str = "urn:parlano:ma:prop:filepost";
/// `chanib` `prop` id: invitations on.
pub const PROP_INVITE: &str = "urn:parlano:ma:prop:invite";
/// `chanib` `prop` id: history kept.
pub const PROP_LOGGED: &str = "urn:parlano:ma:prop:logged";

/// Visibility values of the Persistent Chat store; sipe treats `private` as a private room.
pub const VISIBILITY_OPEN: &str = "open";
pub const VISIBILITY_SCOPE: &str = "scope";
pub const VISIBILITY_PRIVATE: &str = "private";

/// `chanid`: a room named by the two halves of its `ma-chan://domain/value` URI; `key` is
/// its index within a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChanId {
    pub key: u32,
    pub domain: String,
    pub value: String,
}

impl ChanId {
    /// Splits a `ma-chan://domain/value` URI; `None` for anything else.
    pub fn from_uri(key: u32, uri: &str) -> Option<Self> {
        let rest = uri.strip_prefix(CHANNEL_SCHEME)?;
        let (domain, value) = rest.split_once('/')?;
        if domain.is_empty() || value.is_empty() {
            return None;
        }
        Some(Self {
            key,
            domain: domain.to_owned(),
            value: value.to_owned(),
        })
    }

    pub fn uri(&self) -> String {
        format!("{CHANNEL_SCHEME}{}/{}", self.domain, self.value)
    }

    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        Ok(Self {
            key: e.required_parsed("key")?,
            domain: e.required_string("domain")?,
            value: e.required_string("value")?,
        })
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.start("chanid")
            .attr_display("key", self.key)
            .attr("domain", &self.domain)
            .attr("value", &self.value)
            .empty();
    }
}

/// `aib`: inside a `chanib`, `value` lists the `uib` ids holding role `key`
/// (comma-separated); inside a notice's `uib`, `domain` + `value` name the room the user
/// joined with role `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aib {
    pub key: String,
    pub domain: Option<String>,
    pub value: String,
}

impl Aib {
    /// The `chanib` form: users `ids` hold role `key`.
    pub fn users(key: &str, ids: impl IntoIterator<Item = u64>) -> Self {
        let value = ids
            .into_iter()
            .map(|id| id.to_string())
            .collect::<Vec<_>>()
            .join(",");
        Self {
            key: key.to_owned(),
            domain: None,
            value,
        }
    }

    /// The notice form: the user holds role `key` in room `channel`.
    pub fn room(key: &str, channel: &ChanId) -> Self {
        Self {
            key: key.to_owned(),
            domain: Some(channel.domain.clone()),
            value: channel.value.clone(),
        }
    }

    /// The `chanib` form read back; entries that are not numbers are skipped, as sipe does.
    pub fn user_ids(&self) -> Vec<u64> {
        self.value
            .split(',')
            .filter_map(|id| id.trim().parse().ok())
            .collect()
    }

    /// The notice form read back: the room's URI when `domain` is present.
    pub fn room_uri(&self) -> Option<String> {
        self.domain
            .as_ref()
            .map(|domain| format!("{CHANNEL_SCHEME}{domain}/{}", self.value))
    }

    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        Ok(Self {
            key: e.required_string("key")?,
            domain: e.string_attr("domain"),
            value: e.required_string("value")?,
        })
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.start("aib")
            .attr("key", &self.key)
            .attr_opt("domain", self.domain.as_deref())
            .attr("value", &self.value)
            .empty();
    }
}

/// `uib`: a user. `id` numbers the roster of a join reply (shared by all rooms of a
/// `rpl:bjoin`); `aibs` carry the rooms of a join notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uib {
    pub id: Option<u64>,
    pub uri: String,
    pub aibs: Vec<Aib>,
}

impl Uib {
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            id: None,
            uri: uri.into(),
            aibs: Vec::new(),
        }
    }

    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        Ok(Self {
            id: e.parsed_attr("id")?,
            uri: e.required_string("uri")?,
            aibs: e
                .children_named("aib")
                .map(Aib::from_element)
                .collect::<Result<_, _>>()?,
        })
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.start("uib")
            .attr_display_opt("id", self.id)
            .attr("uri", &self.uri)
            .children(|w| self.aibs.iter().for_each(|a| a.write(w)));
    }
}

/// `chanib`: a room. Search replies fill the descriptive fields, join replies add `aibs`
/// (roles by `uib` id), history replies carry `msgs`, part notices carry `uibs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chanib {
    pub uri: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub topic: Option<String>,
    /// `info` `urn:parlano:ma:info:ucnt`.
    pub user_count: Option<u64>,
    /// `info` `urn:parlano:ma:info:visibilty`, see the `VISIBILITY_*` constants.
    pub visibility: Option<String>,
    /// `prop` `urn:parlano:ma:prop:filepost`.
    pub file_post: Option<bool>,
    /// `prop` `urn:parlano:ma:prop:invite`.
    pub invite: Option<bool>,
    /// `prop` `urn:parlano:ma:prop:logged`.
    pub logged: Option<bool>,
    pub aibs: Vec<Aib>,
    pub uibs: Vec<Uib>,
    pub msgs: Vec<ChatMessage>,
}

impl Chanib {
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            ..Self::default()
        }
    }

    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        let mut chanib = Self::new(e.required_string("uri")?);
        chanib.name = e.string_attr("name");
        chanib.description = e.string_attr("description");
        chanib.topic = e.string_attr("topic");
        for child in &e.children {
            match child.name.as_str() {
                "info" => {
                    match child.attr("id") {
                        Some(INFO_USER_COUNT) => {
                            let count = child.text().trim().parse().map_err(|_| {
                                ParseError::InvalidText {
                                    element: child.name.clone(),
                                }
                            })?;
                            chanib.user_count = Some(count);
                        }
                        Some(INFO_VISIBILITY) => chanib.visibility = Some(child.text().to_owned()),
                        _ => {}
                    }
                }
                "prop" => {
                    let slot = match child.attr("id") {
                        Some(PROP_FILEPOST) => &mut chanib.file_post,
                        Some(PROP_INVITE) => &mut chanib.invite,
                        Some(PROP_LOGGED) => &mut chanib.logged,
                        _ => continue,
                    };
                    *slot = Some(parse_bool(child.text().trim()).ok_or_else(|| {
                        ParseError::InvalidText {
                            element: child.name.clone(),
                        }
                    })?);
                }
                "aib" => chanib.aibs.push(Aib::from_element(child)?),
                "uib" => chanib.uibs.push(Uib::from_element(child)?),
                "msg" if child.attr("id") == Some(ChatMessage::ID) => {
                    chanib.msgs.push(ChatMessage::from_element(child)?);
                }
                _ => {}
            }
        }
        Ok(chanib)
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.start("chanib")
            .attr("uri", &self.uri)
            .attr_opt("name", self.name.as_deref())
            .attr_opt("description", self.description.as_deref())
            .attr_opt("topic", self.topic.as_deref())
            .children(|w| {
                if let Some(count) = self.user_count {
                    w.start("info")
                        .attr("id", INFO_USER_COUNT)
                        .text(&count.to_string());
                }
                if let Some(visibility) = &self.visibility {
                    w.start("info").attr("id", INFO_VISIBILITY).text(visibility);
                }
                for (id, value) in [
                    (PROP_FILEPOST, self.file_post),
                    (PROP_INVITE, self.invite),
                    (PROP_LOGGED, self.logged),
                ] {
                    if let Some(value) = value {
                        w.start("prop")
                            .attr("id", id)
                            .text(if value { "true" } else { "false" });
                    }
                }
                self.aibs.iter().for_each(|a| a.write(w));
                self.uibs.iter().for_each(|u| u.write(w));
                self.msgs.iter().for_each(|m| m.write_msg(w));
            });
    }
}

/// `fib`: a room of a `cmd:bjoin` that could not be joined (`key` is
/// [`FIB_OPERATION_FAILED`], `domain` + `value` name the room).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fib {
    pub key: String,
    pub value: String,
    pub domain: Option<String>,
}

impl Fib {
    pub fn failed(channel: &ChanId) -> Self {
        Self {
            key: FIB_OPERATION_FAILED.to_owned(),
            value: channel.value.clone(),
            domain: Some(channel.domain.clone()),
        }
    }

    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        Ok(Self {
            key: e.required_string("key")?,
            value: e.required_string("value")?,
            domain: e.string_attr("domain"),
        })
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.start("fib")
            .attr("key", &self.key)
            .attr("value", &self.value)
            .attr_opt("domain", self.domain.as_deref())
            .empty();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chanid_splits_and_rebuilds_room_uris() {
        let id = ChanId::from_uri(3, "ma-chan://example.com/0f6a-4c2e").unwrap();
        assert_eq!(
            id,
            ChanId {
                key: 3,
                domain: "example.com".into(),
                value: "0f6a-4c2e".into()
            }
        );
        assert_eq!(id.uri(), "ma-chan://example.com/0f6a-4c2e");
        assert_eq!(ChanId::from_uri(0, "ma-cat://example.com/x"), None);
        assert_eq!(ChanId::from_uri(0, "ma-chan://example.com/"), None);
        assert_eq!(ChanId::from_uri(0, "ma-chan://example.com"), None);
    }

    #[test]
    fn aib_forms() {
        let a = Aib::users(AIB_KEY_MEMBER, [1, 2, 3]);
        assert_eq!(a.value, "1,2,3");
        assert_eq!(a.user_ids(), vec![1, 2, 3]);
        assert_eq!(a.room_uri(), None);
        let room = ChanId::from_uri(0, "ma-chan://d/v").unwrap();
        let a = Aib::room(AIB_KEY_MANAGER, &room);
        assert_eq!(a.room_uri().as_deref(), Some("ma-chan://d/v"));
        let garbled = Aib {
            key: AIB_KEY_MEMBER.into(),
            domain: None,
            value: "1, x,,4".into(),
        };
        assert_eq!(garbled.user_ids(), vec![1, 4]);
    }
}
