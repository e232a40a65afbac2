//! The `resp` code table. Only `200 SUCCESS_OK` has been seen on the wire; the rest follow
//! the reference's recommendation of HTTP-like codes with upper-case symbolic texts, one
//! per Persistent Chat SDK error a server can report (see `docs/protocol.md`).

/// A reply outcome with its wire code and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseCode {
    Ok,
    BadRequest,
    InvalidToken,
    Permission,
    NoSuchNode,
    DataCollision,
    NodeDisabled,
    UserNotJoined,
    LimitExceeded,
    Server,
    MsgNotSupported,
}

impl ResponseCode {
    pub const ALL: [ResponseCode; 11] = [
        Self::Ok,
        Self::BadRequest,
        Self::InvalidToken,
        Self::Permission,
        Self::NoSuchNode,
        Self::DataCollision,
        Self::NodeDisabled,
        Self::UserNotJoined,
        Self::LimitExceeded,
        Self::Server,
        Self::MsgNotSupported,
    ];

    pub const fn code(self) -> u16 {
        self.entry().0
    }

    pub const fn text(self) -> &'static str {
        self.entry().1
    }

    /// The table itself.
    const fn entry(self) -> (u16, &'static str) {
        match self {
            Self::Ok => (200, "SUCCESS_OK"),
            Self::BadRequest => (400, "ERR_BAD_REQUEST"),
            Self::InvalidToken => (401, "ERR_INVALID_TOKEN"),
            Self::Permission => (403, "ERR_PERMISSION"),
            Self::NoSuchNode => (404, "ERR_NO_SUCH_NODE"),
            Self::DataCollision => (409, "ERR_DATA_COLLISION"),
            Self::NodeDisabled => (410, "ERR_NODE_DISABLED"),
            Self::UserNotJoined => (412, "ERR_USER_NOT_JOINED"),
            Self::LimitExceeded => (413, "ERR_LIMIT_EXCEEDED"),
            Self::Server => (500, "ERR_SERVER"),
            Self::MsgNotSupported => (501, "ERR_MSG_NOT_SUPPORTED"),
        }
    }

    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    pub const fn is_success(self) -> bool {
        matches!(self, Self::Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_map_back() {
        for c in ResponseCode::ALL {
            assert_eq!(ResponseCode::from_code(c.code()), Some(c));
        }
        assert_eq!(ResponseCode::from_code(299), None);
        assert_eq!(ResponseCode::Ok.text(), "SUCCESS_OK");
        assert_eq!(ResponseCode::MsgNotSupported.code(), 501);
    }
}
