//! `cmd:getfutok`: a token to upload a file to a room. File transfer is served by the file
//! web service, which is not in yet: refused as not supported.

use xccos::ResponseCode;

use super::Outcome;

pub(super) fn run() -> Outcome {
    Err(ResponseCode::MsgNotSupported)
}
