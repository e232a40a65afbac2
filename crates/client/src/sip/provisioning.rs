//! In-band provisioning (MS-SIPREGE): a SUBSCRIBE to our own address that the server
//! answers with the document naming the persistent chat pool (docs/protocol.md, "Provisioning").

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use sip_proto::{Method, Request, Uri, name};

use super::local::Local;

pub(crate) const EVENT: &str = "vnd-microsoft-provisioning-v2";
const CONTENT_TYPE: &str = "application/vnd-microsoft-roaming-provisioning-v2+xml";
const GROUPS: &str = "<provisioningGroupList xmlns=\"http://schemas.microsoft.com/2006/09/sip/provisioninggrouplist\">\
    <provisioningGroup name=\"persistentChatConfiguration\"/></provisioningGroupList>";

/// The SUBSCRIBE, asking for the document in the 200 itself (`ms-piggyback-first-notify`).
pub(crate) fn subscribe(local: &Local) -> Result<Request, sip_proto::UriError> {
    let uri = Uri::parse(&local.identity.aor)?;
    let to = format!("<{}>", local.identity.aor);
    let mut req = local.request(
        Method::Subscribe,
        uri,
        &super::random_hex(5),
        &to,
        &super::random_hex(12),
        1,
    );
    req.headers.push(name::EVENT, EVENT);
    req.headers.push(name::ACCEPT, CONTENT_TYPE);
    req.headers
        .push(name::SUPPORTED, "ms-piggyback-first-notify");
    req.headers.push(name::EXPIRES, "0");
    req.headers.push(name::CONTENT_TYPE, CONTENT_TYPE);
    req.body = GROUPS.as_bytes().to_vec().into();
    Ok(req)
}

/// The persistentChatConfiguration settings the client acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ChatProvisioning {
    pub enabled: bool,
    pub pool_uri: Option<String>,
}

/// Reads the `property` entries of a provisioning document.
pub(crate) fn chat_settings(document: &[u8]) -> Result<ChatProvisioning, String> {
    let mut reader = Reader::from_reader(document);
    let mut settings = ChatProvisioning::default();
    // The property being read: its name and the text so far.
    let mut current: Option<(String, String)> = None;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(start) if start.local_name().as_ref() == "property" => {
                let name = start
                    .try_get_attribute("name")
                    .map_err(|e| e.to_string())?
                    .map(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map(|v| v.into_owned())
                    })
                    .transpose()
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default();
                current = Some((name, String::new()));
            }
            Event::Text(text) => {
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(&text.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                if let Some((_, value)) = current.as_mut() {
                    match reference.resolve_char_ref().map_err(|e| e.to_string())? {
                        Some(c) => value.push(c),
                        None => value.push_str(
                            resolve_predefined_entity(&reference).ok_or("unknown entity")?,
                        ),
                    }
                }
            }
            Event::End(end) if end.local_name().as_ref() == "property" => {
                if let Some((name, value)) = current.take() {
                    match name.as_str() {
                        "EnablePersistentChat" => {
                            settings.enabled = value.trim().eq_ignore_ascii_case("true")
                        }
                        "DefaultPersistentChatPoolUri" => {
                            settings.pool_uri =
                                Some(value.trim().to_owned()).filter(|v| !v.is_empty())
                        }
                        _ => {}
                    }
                }
            }
            Event::Eof => return Ok(settings),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_pool_uri() {
        let doc = "<provisionGroupList xmlns=\"http://schemas.microsoft.com/2006/09/sip/provisiongrouplist-notification\">\
            <provisionGroup name=\"persistentChatConfiguration\"><propertyEntryList>\
            <property name=\"EnablePersistentChat\">true</property>\
            <property name=\"DefaultPersistentChatPoolUri\">sip:ocschat@example.test</property>\
            <property name=\"PersistentChatWebManagerUriInt\">https://x/?a=1&amp;b=2</property>\
            </propertyEntryList></provisionGroup></provisionGroupList>";
        let s = chat_settings(doc.as_bytes()).unwrap();
        assert_eq!(
            s,
            ChatProvisioning {
                enabled: true,
                pool_uri: Some("sip:ocschat@example.test".into())
            }
        );
        assert_eq!(
            chat_settings(b"<provisionGroupList/>").unwrap(),
            ChatProvisioning::default()
        );
        assert!(chat_settings(b"<a><property name=\"x\">&bogus;</property></a>").is_err());
    }
}
