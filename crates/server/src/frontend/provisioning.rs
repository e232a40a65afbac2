//! In-band provisioning (MS-SIPREGE): the `vnd-microsoft-provisioning-v2` document that tells
//! a Lync-family client where persistent chat and the room-management application are.

use quick_xml::Writer;
use quick_xml::events::BytesText;
use sip_proto::{Request, Response, name};

pub const EVENT: &str = "vnd-microsoft-provisioning-v2";
pub const CONTENT_TYPE: &str = "application/vnd-microsoft-roaming-provisioning-v2+xml";

/// Microsoft self-subscriptions a client may send when they are advertised; they are
/// accepted without data so the client carries on (docs/protocol.md, "Provisioning").
pub const ACCEPTED_WITHOUT_DATA: &[&str] = &[
    "vnd-microsoft-roaming-contacts",
    "vnd-microsoft-roaming-self",
    "vnd-microsoft-roaming-ACL",
    "vnd-microsoft-provisioning",
    "presence.wpending",
];

/// What the persistentChatConfiguration group says.
#[derive(Debug, Clone)]
pub struct Provisioning {
    pub pool_uri: String,
    pub web_manager_internal: Option<String>,
    pub web_manager_external: Option<String>,
}

impl Provisioning {
    pub fn document(&self) -> String {
        let mut props = vec![
            ("EnablePersistentChat", "true".to_owned()),
            ("DefaultPersistentChatPoolUri", self.pool_uri.clone()),
            ("PersistentChatPoolUris", self.pool_uri.clone()),
        ];
        let internal = self.web_manager_internal.clone();
        let external = self
            .web_manager_external
            .clone()
            .or_else(|| internal.clone());
        if let Some(url) = internal {
            props.push(("PersistentChatWebManagerUriInt", url));
        }
        if let Some(url) = external {
            props.push(("PersistentChatWebManagerUriExt", url));
        }
        let mut w = Writer::new(Vec::new());
        w.create_element("provisionGroupList")
            .with_attribute((
                "xmlns",
                "http://schemas.microsoft.com/2006/09/sip/provisiongrouplist-notification",
            ))
            .write_inner_content(|w| {
                w.create_element("provisionGroup")
                    .with_attribute(("name", "persistentChatConfiguration"))
                    .write_inner_content(|w| {
                        w.create_element("propertyEntryList")
                            .write_inner_content(|w| {
                                for (n, v) in &props {
                                    w.create_element("property")
                                        .with_attribute(("name", *n))
                                        .write_text_content(BytesText::new(v))?;
                                }
                                Ok(())
                            })?;
                        Ok(())
                    })?;
                Ok(())
            })
            .expect("writing to a Vec does not fail");
        String::from_utf8(w.into_inner()).expect("quick-xml writes the UTF-8 it is given")
    }

    /// The 200 to a provisioning SUBSCRIBE. With `ms-piggyback-first-notify` the document
    /// rides in the 200 itself; otherwise it follows in a NOTIFY (see [`Self::notify`]).
    pub fn answer(&self, req: &Request, to_tag: &str) -> (Response, bool) {
        let piggyback = req
            .headers
            .get_list(name::SUPPORTED)
            .any(|s| s.eq_ignore_ascii_case("ms-piggyback-first-notify"));
        let mut resp = Response::for_request(req, 200).with_to_tag(to_tag);
        resp.headers.push(name::EVENT, EVENT);
        // No dialog is created: the document is a one-shot answer (MS-SIPREGE 3.2.5).
        resp.headers.push(name::EXPIRES, "0");
        if piggyback {
            resp.headers
                .push(name::SUBSCRIPTION_STATE, "terminated;expires=0");
            resp.headers.push(
                "ms-piggyback-cseq",
                req.cseq().map_or(1, |c| c.seq).to_string(),
            );
            resp.headers.push(name::CONTENT_TYPE, CONTENT_TYPE);
            resp.body = self.document().into_bytes().into();
        }
        (resp, !piggyback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_lists_the_chat_configuration() {
        let p = Provisioning {
            pool_uri: "sip:ocschat@example.com".into(),
            web_manager_internal: Some("https://chat.example.com:8443/rooms?a=1&b=2".into()),
            web_manager_external: None,
        };
        let doc = p.document();
        assert!(doc.contains("<property name=\"EnablePersistentChat\">true</property>"));
        assert!(doc.contains(
            "<property name=\"DefaultPersistentChatPoolUri\">sip:ocschat@example.com</property>"
        ));
        assert!(doc.contains(
            "PersistentChatWebManagerUriExt\">https://chat.example.com:8443/rooms?a=1&amp;b=2<"
        ));
    }

    #[test]
    fn document_is_compact_and_escaped() {
        let p = Provisioning {
            pool_uri: "sip:ocschat@example.com".into(),
            web_manager_internal: Some("https://x/?a=1&b=<\"'>".into()),
            web_manager_external: Some("https://y/".into()),
        };
        assert_eq!(
            p.document(),
            "<provisionGroupList xmlns=\"http://schemas.microsoft.com/2006/09/sip/provisiongrouplist-notification\">\
             <provisionGroup name=\"persistentChatConfiguration\"><propertyEntryList>\
             <property name=\"EnablePersistentChat\">true</property>\
             <property name=\"DefaultPersistentChatPoolUri\">sip:ocschat@example.com</property>\
             <property name=\"PersistentChatPoolUris\">sip:ocschat@example.com</property>\
             <property name=\"PersistentChatWebManagerUriInt\">https://x/?a=1&amp;b=&lt;&quot;&apos;&gt;</property>\
             <property name=\"PersistentChatWebManagerUriExt\">https://y/</property>\
             </propertyEntryList></provisionGroup></provisionGroupList>"
        );
    }
}
