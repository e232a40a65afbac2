//! File-transfer blocks: `ftdb` (what `cmd:getfutok`/`cmd:getfdtok` ask about) and `token`
//! (what `rpl:getftok` answers).

use crate::error::ParseError;
use crate::tree::Element;
use crate::write::XmlWriter;

/// `ftdb`: a file in a room. `file_url` is the original name on upload and the
/// repository name on download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ftdb {
    pub channel_uri: String,
    pub file_url: String,
}

impl Ftdb {
    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        Ok(Self {
            channel_uri: e.required_string("channelUri")?,
            file_url: e.required_string("fileUrl")?,
        })
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.start("ftdb")
            .attr("channelUri", &self.channel_uri)
            .attr("fileUrl", &self.file_url)
            .empty();
    }
}

/// `token`: a file-transfer token and the web service URL that accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub token: String,
    pub server_uri: String,
}

impl Token {
    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        Ok(Self {
            token: e.required_string("token")?,
            server_uri: e.required_string("serveruri")?,
        })
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        w.start("token")
            .attr("token", &self.token)
            .attr("serveruri", &self.server_uri)
            .empty();
    }
}
