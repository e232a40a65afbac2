//! The web ticket: a short-lived signed sign-in link. A chat client is signed in over SIP
//! already; the `roomManagementUrl` it gets in `getserverinfo` carries a ticket naming its
//! principal, so the browser it opens starts signed in. The web app redeems a ticket once
//! (it keeps the spent ones until they expire) and drops it from the URL.
//!
//! A ticket is `base64url(principal id ‖ expiry ‖ HMAC-SHA256(key, principal id ‖ expiry))`
//! without padding: both numbers as 8 big-endian bytes, the expiry in Unix seconds, the key
//! derived from the server key for this purpose alone ([`WEB_TICKET_PURPOSE`]). Nothing is
//! stored: the signature is the proof, the expiry its bound.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

use super::Actor;
use crate::{ChatError, ChatService, Principal};

/// The purpose the server key derives the ticket key for.
pub const WEB_TICKET_PURPOSE: &str = "parlance web ticket v1";
/// How long a ticket opens the application: long enough for a browser to start.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(120);

const PAYLOAD_LEN: usize = 16;
const TAG_LEN: usize = 32;
/// A ticket's length in characters: 48 bytes in unpadded base64.
const TICKET_CHARS: usize = (PAYLOAD_LEN + TAG_LEN) * 4 / 3;

/// The key tickets are signed with.
#[derive(Clone)]
pub struct WebTicketKey(hmac::Key);

impl WebTicketKey {
    /// A key from 32 bytes derived for [`WEB_TICKET_PURPOSE`].
    pub fn new(bytes: &[u8; 32]) -> WebTicketKey {
        WebTicketKey(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }
}

impl std::fmt::Debug for WebTicketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebTicketKey(..)")
    }
}

impl ChatService {
    /// A ticket for this principal, valid for [`TICKET_LIFETIME`] from now.
    pub fn web_ticket(&self, principal: &Principal) -> String {
        let expiry = self.now_secs() + TICKET_LIFETIME.as_secs() as i64;
        let mut bytes = Vec::with_capacity(PAYLOAD_LEN + TAG_LEN);
        bytes.extend_from_slice(&principal.id.to_be_bytes());
        bytes.extend_from_slice(&expiry.to_be_bytes());
        let tag = hmac::sign(&self.settings.web_ticket_key.0, &bytes);
        bytes.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The actor a ticket names, if its signature holds, it has not expired and the account
    /// is still active; `None` for anything else (malformed, forged, expired, disabled).
    pub async fn redeem_web_ticket(&self, ticket: &str) -> Result<Option<Actor>, ChatError> {
        // Refusals are the web layer's to log, once, with the request they came with.
        let Some(principal_id) = self.verify_ticket(ticket) else {
            return Ok(None);
        };
        let Some(user) = self.store.user_by_id(principal_id).await? else {
            return Ok(None);
        };
        self.actor(&user.uri).await
    }

    /// The principal id of a ticket whose signature holds and which has not expired.
    fn verify_ticket(&self, ticket: &str) -> Option<i64> {
        // Decoding only what has a ticket's length bounds the work a forged one costs.
        if ticket.len() != TICKET_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(ticket).ok()?;
        let (payload, tag) = bytes.split_at(PAYLOAD_LEN);
        hmac::verify(&self.settings.web_ticket_key.0, payload, tag).ok()?;
        let number =
            |range: std::ops::Range<usize>| payload[range].try_into().ok().map(i64::from_be_bytes);
        let (principal_id, expiry) = (number(0..8)?, number(8..16)?);
        (self.now_secs() < expiry).then_some(principal_id)
    }

    fn now_secs(&self) -> i64 {
        self.now_nanos().div_euclid(1_000_000_000)
    }
}

/// The room management URL with a ticket appended as MS-PCWP appends parameters: after `?`,
/// or after `&` when the URL carries a query already.
pub(crate) fn with_ticket(url: &str, ticket: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}ticket={ticket}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_appended_as_parameters_are() {
        assert_eq!(
            with_ticket("https://example.com/rm/", "T"),
            "https://example.com/rm/?ticket=T"
        );
        assert_eq!(
            with_ticket("https://example.com/rm/?extensionparam=value", "T"),
            "https://example.com/rm/?extensionparam=value&ticket=T"
        );
    }
}
