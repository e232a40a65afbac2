//! `sib`: the server information block of `cmd:getserverinfo` and its reply.

use crate::error::ParseError;
use crate::shapes::SIB_ROOM_MANAGEMENT_URL;
use crate::tree::Element;
use crate::write::XmlWriter;

/// `sib`. The command carries `domain` and `infoType`; the reply carries the server's
/// limits and identity. Every attribute is optional on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sib {
    pub domain: Option<String>,
    /// `infoType`: opaque (`123` in the only capture), echoed back.
    pub info_type: Option<String>,
    /// `serverTime`, in [`crate::format_timestamp`] form; clients correct clock skew with it.
    pub server_time: Option<String>,
    /// `searchLimit`: most results of any query.
    pub search_limit: Option<u32>,
    /// `messageSizeLimit`: most bytes of a chat message.
    pub message_size_limit: Option<u32>,
    /// `storySizeLimit`: most bytes of a story.
    pub story_size_limit: Option<u32>,
    /// `rootUri`: the root category, `ma-cat://domain/guid`.
    pub root_uri: Option<String>,
    /// `dbVersion`: a GUID naming the store's schema.
    pub db_version: Option<String>,
    /// The room-management web application (attribute [`SIB_ROOM_MANAGEMENT_URL`]).
    pub room_management_url: Option<String>,
}

impl Sib {
    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        Ok(Self {
            domain: e.string_attr("domain"),
            info_type: e.string_attr("infoType"),
            server_time: e.string_attr("serverTime"),
            search_limit: e.parsed_attr("searchLimit")?,
            message_size_limit: e.parsed_attr("messageSizeLimit")?,
            story_size_limit: e.parsed_attr("storySizeLimit")?,
            root_uri: e.string_attr("rootUri"),
            db_version: e.string_attr("dbVersion"),
            room_management_url: e.string_attr(SIB_ROOM_MANAGEMENT_URL),
        })
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.start("sib")
            .attr_opt("domain", self.domain.as_deref())
            .attr_opt("infoType", self.info_type.as_deref())
            .attr_opt("serverTime", self.server_time.as_deref())
            .attr_display_opt("searchLimit", self.search_limit)
            .attr_display_opt("messageSizeLimit", self.message_size_limit)
            .attr_display_opt("storySizeLimit", self.story_size_limit)
            .attr_opt("rootUri", self.root_uri.as_deref())
            .attr_opt("dbVersion", self.db_version.as_deref())
            .attr_opt(SIB_ROOM_MANAGEMENT_URL, self.room_management_url.as_deref())
            .empty();
    }
}
