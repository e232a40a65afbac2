//! Reading the signed fields and the credentials out of `sip_proto` messages, so that the
//! field extraction happens in one place for every caller.

use sip_proto::{Headers, Request, Response, name};

use crate::buffer::MessageFields;
use crate::session::Inbound;

const P_ASSERTED_IDENTITY: &str = "P-Asserted-Identity";
const P_PREFERRED_IDENTITY: &str = "P-Preferred-Identity";

impl<'a> MessageFields<'a> {
    /// The fields of a message with these headers; `status` is `Some` for a response.
    /// `sip_proto` has already expanded compact header names and matches names
    /// case-insensitively, as the buffer rules require.
    pub fn from_headers(headers: &'a Headers, status: Option<u16>) -> MessageFields<'a> {
        let get = |n: &str| headers.get(n).unwrap_or_default();
        MessageFields {
            call_id: get(name::CALL_ID),
            cseq: get(name::CSEQ),
            from: get(name::FROM),
            to: get(name::TO),
            asserted_identity: headers
                .get(P_ASSERTED_IDENTITY)
                .or_else(|| headers.get(P_PREFERRED_IDENTITY)),
            expires: headers.get(name::EXPIRES),
            status,
        }
    }

    pub fn of_request(request: &'a Request) -> MessageFields<'a> {
        MessageFields::from_headers(&request.headers, None)
    }

    pub fn of_response(response: &'a Response) -> MessageFields<'a> {
        MessageFields::from_headers(&response.headers, Some(response.status))
    }
}

impl<'a> Inbound<'a> {
    pub fn from_headers(headers: &'a Headers, status: Option<u16>) -> Inbound<'a> {
        Inbound {
            fields: MessageFields::from_headers(headers, status),
            credentials: headers
                .get_all(name::AUTHORIZATION)
                .chain(headers.get_all(name::PROXY_AUTHORIZATION))
                .collect(),
        }
    }

    pub fn of_request(request: &'a Request) -> Inbound<'a> {
        Inbound::from_headers(&request.headers, None)
    }

    pub fn of_response(response: &'a Response) -> Inbound<'a> {
        Inbound::from_headers(&response.headers, Some(response.status))
    }
}
