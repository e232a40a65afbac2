//! The URLs of the Persistent Chat Web Protocol (MS-PCWP): a client appends `clientlang`
//! (creating a room) or `clientlang` and `id` (viewing or editing one) to the base URL it
//! was provisioned, after whatever parameters the base URL already carries. The server side
//! reads them back ([`PcwpQuery::parse`]) and keeps every other parameter out of its way.

use std::fmt::Write as _;

/// The parameters the protocol defines, named as it names them.
pub const CLIENTLANG: &str = "clientlang";
pub const ID: &str = "id";
/// Parlance's own: a signed sign-in ticket a client may add (docs/protocol.md).
pub const TICKET: &str = "ticket";

/// The longest query string looked at; a client sends a few dozen bytes.
const MAX_QUERY_BYTES: usize = 2048;

/// `base` with the parameters appended as MS-PCWP §3.1.5 says: after the base URL's own
/// parameters when it has some (`&`), else as the query (`?`). Values are percent-encoded.
pub fn append(base: &str, params: &[(&str, &str)]) -> String {
    let mut url = base.to_owned();
    for (name, value) in params {
        url.push(if url.contains('?') { '&' } else { '?' });
        let _ = write!(
            url,
            "{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair(name, value)
                .finish()
        );
    }
    url
}

/// The room-creation URL (MS-PCWP §2.2.1).
pub fn create_url(base: &str, clientlang: &str) -> String {
    append(base, &[(CLIENTLANG, clientlang)])
}

/// The view-or-edit URL of a room (MS-PCWP §2.2.2): `id` is the GUID of its `ma-chan://`
/// URI, as the client found it.
pub fn room_url(base: &str, clientlang: &str, id: &str) -> String {
    append(base, &[(CLIENTLANG, clientlang), (ID, id)])
}

/// What a request to the base URL asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PcwpQuery {
    /// The client's language as it sent it, when it has the protocol's `ll-RR` shape.
    pub clientlang: Option<String>,
    /// The room, when `id` was given: `Err` keeps the answer for a malformed id the same as
    /// for an unknown one.
    pub room: Option<Result<Guid, MalformedId>>,
    pub ticket: Option<String>,
}

/// An `id` that is no GUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedId;

impl PcwpQuery {
    /// Reads the protocol's parameters from a query string; the first of each counts,
    /// others (an extension's parameters) are ignored.
    pub fn parse(query: Option<&str>) -> PcwpQuery {
        let mut q = PcwpQuery::default();
        let Some(query) = query else { return q };
        let query = &query.as_bytes()[..query.len().min(MAX_QUERY_BYTES)];
        for (name, value) in form_urlencoded::parse(query) {
            match &*name {
                CLIENTLANG if q.clientlang.is_none() => {
                    q.clientlang = Some(value.into_owned()).filter(|l| is_language_tag(l));
                }
                ID if q.room.is_none() => q.room = Some(Guid::parse(&value).ok_or(MalformedId)),
                TICKET if q.ticket.is_none() => q.ticket = Some(value.into_owned()),
                _ => {}
            }
        }
        q
    }
}

/// `<language>-<REGION>` as MS-PCWP §2.2.1 shapes it, case aside (clients differ): two or
/// three letters, a hyphen, two letters.
fn is_language_tag(tag: &str) -> bool {
    let Some((language, region)) = tag.split_once('-') else {
        return false;
    };
    (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_alphabetic())
        && region.len() == 2
        && region.bytes().all(|b| b.is_ascii_alphabetic())
}

/// A room GUID, in the store's form (lower case, hyphens, no braces), from any case, with
/// or without braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guid(String);

impl Guid {
    pub fn parse(s: &str) -> Option<Guid> {
        let s = s
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or(s);
        let groups: Vec<&str> = s.split('-').collect();
        let shape = [8, 4, 4, 4, 12];
        let ok = groups.len() == shape.len()
            && groups
                .iter()
                .zip(shape)
                .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()));
        ok.then(|| Guid(s.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Guid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUID: &str = "61E092C7-89BB-4DC4-A3F5-8C23FA940FAB";

    fn query_of(url: &str) -> PcwpQuery {
        PcwpQuery::parse(url.split_once('?').map(|(_, q)| q))
    }

    /// MS-PCWP §2.2.1's example.
    #[test]
    fn create_a_room() {
        let url = create_url("http://example.com/RM/", "en-US");
        assert_eq!(url, "http://example.com/RM/?clientlang=en-US");
        let q = query_of(&url);
        assert_eq!(q.clientlang.as_deref(), Some("en-US"));
        assert_eq!(q.room, None);
    }

    /// MS-PCWP §2.2.2's example: the GUID comes from the room's `ma-chan://` URI.
    #[test]
    fn view_or_edit_a_room() {
        let uri = format!("ma-chan://example.com/{GUID}");
        let id = uri.rsplit('/').next().unwrap();
        let url = room_url("http://example.com/RM/", "en-US", id);
        assert_eq!(
            url,
            "http://example.com/RM/?clientlang=en-US&id=61E092C7-89BB-4DC4-A3F5-8C23FA940FAB"
        );
        let q = query_of(&url);
        assert_eq!(
            q.room,
            Some(Ok(Guid("61e092c7-89bb-4dc4-a3f5-8c23fa940fab".into())))
        );
    }

    /// The three examples of MS-PCWP §4.
    #[test]
    fn protocol_examples() {
        assert_eq!(
            create_url("http://example.com/rm/", "en-US"),
            "http://example.com/rm/?clientlang=en-US"
        );
        let edit = room_url("http://example.com/rm/", "de-DE", GUID);
        assert_eq!(
            edit,
            "http://example.com/rm/?clientlang=de-DE&id=61E092C7-89BB-4DC4-A3F5-8C23FA940FAB"
        );
        assert_eq!(query_of(&edit).clientlang.as_deref(), Some("de-DE"));
        let extended = create_url("http://example.com/rm/?extensionparam=value", "en-US");
        assert_eq!(
            extended,
            "http://example.com/rm/?extensionparam=value&clientlang=en-US"
        );
        let q = query_of(&extended);
        assert_eq!(q.clientlang.as_deref(), Some("en-US"));
        assert_eq!(q.room, None, "an extension's parameter is no room");
    }

    #[test]
    fn guids_in_any_case_with_or_without_braces() {
        let canonical = Guid::parse(GUID).unwrap();
        for form in [
            GUID.to_owned(),
            GUID.to_lowercase(),
            format!("{{{GUID}}}"),
            format!("{{{}}}", GUID.to_lowercase()),
        ] {
            assert_eq!(Guid::parse(&form).as_ref(), Some(&canonical), "{form}");
        }
        for bad in [
            "",
            "61E092C7",
            "{61E092C7-89BB-4DC4-A3F5-8C23FA940FAB",
            "61E092C7-89BB-4DC4-A3F5-8C23FA940FAG",
            "61E092C789BB4DC4A3F58C23FA940FAB",
            "61E092C7-89BB-4DC4-A3F5-8C23FA940FAB-0000",
            "<script>",
        ] {
            assert_eq!(Guid::parse(bad), None, "{bad}");
        }
        assert_eq!(query_of("/?id=nonsense").room, Some(Err(MalformedId)));
    }

    #[test]
    fn a_language_must_have_the_protocols_shape() {
        assert_eq!(
            query_of("/?clientlang=de-DE").clientlang.as_deref(),
            Some("de-DE")
        );
        for bad in ["de", "deutsch-DE", "de-DEU", "d1-DE", "%3Cb%3E-DE"] {
            assert_eq!(
                query_of(&format!("/?clientlang={bad}")).clientlang,
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn the_first_of_each_parameter_counts_and_values_are_encoded() {
        let q = query_of("/?clientlang=de-DE&clientlang=en-US&ticket=a&ticket=b");
        assert_eq!(q.clientlang.as_deref(), Some("de-DE"));
        assert_eq!(q.ticket.as_deref(), Some("a"));
        assert_eq!(
            append("https://h/RM/", &[(TICKET, "a&b=c")]),
            "https://h/RM/?ticket=a%26b%3Dc"
        );
    }
}
