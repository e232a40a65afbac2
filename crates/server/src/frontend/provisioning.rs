//! In-band provisioning (MS-SIPREGE): the `vnd-microsoft-provisioning-v2` document that tells
//! a Lync-family client where persistent chat and the room-management application are, and
//! whether it may use them. The client names the groups it wants; each is answered.

use quick_xml::Writer;
use quick_xml::events::{BytesText, Event};
use quick_xml::reader::Reader;
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

/// The provisioning groups Parlance answers: those the reference names (sipe asks for these
/// four). Any other group asked for is left out of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    ServerConfiguration,
    MeetingPolicy,
    PersistentChatConfiguration,
    UcPolicy,
}

impl Group {
    const ALL: [Group; 4] = [
        Group::ServerConfiguration,
        Group::MeetingPolicy,
        Group::PersistentChatConfiguration,
        Group::UcPolicy,
    ];

    /// The group's name on the wire (MS-SIPREGE spells them so, case and all).
    pub fn name(self) -> &'static str {
        match self {
            Group::ServerConfiguration => "ServerConfiguration",
            Group::MeetingPolicy => "meetingPolicy",
            Group::PersistentChatConfiguration => "persistentChatConfiguration",
            Group::UcPolicy => "ucPolicy",
        }
    }

    fn from_name(name: &str) -> Option<Group> {
        Group::ALL
            .into_iter()
            .find(|g| g.name().eq_ignore_ascii_case(name))
    }
}

/// The groups a SUBSCRIBE body (`provisioningGroupList`) asks for, each once, in the order
/// of [`Group`]. A body that names none of ours — empty, another format, not XML — asks for
/// all of them, as a client that sends no list wants the whole document.
pub fn requested_groups(body: &[u8]) -> Vec<Group> {
    let mut reader = Reader::from_reader(body);
    let mut groups = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e))
                if e.local_name().as_ref() == "provisioningGroup" =>
            {
                let named = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.local_name().as_ref() == "name")
                    .and_then(|a| Group::from_name(&a.value));
                groups.extend(named);
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
        buf.clear();
    }
    if groups.is_empty() {
        return Group::ALL.to_vec();
    }
    groups.sort();
    groups.dedup();
    groups
}

/// What the server provisions, whoever asks.
#[derive(Debug, Clone)]
pub struct Provisioning {
    pub pool_uri: String,
    pub web_manager_internal: Option<String>,
    pub web_manager_external: Option<String>,
}

/// What one answer depends on: the asking user's policy and where they come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asker {
    /// The user may use persistent chat (`parlance user chat`).
    pub persistent_chat: bool,
    /// The client connects from one of `manage.external_networks`.
    pub outside: bool,
}

impl Provisioning {
    /// The room-management URL a user gets: the external one for users from outside (the
    /// internal one when none is configured), else the internal one.
    pub fn web_manager_url(&self, outside: bool) -> Option<&str> {
        let internal = self.web_manager_internal.as_deref();
        match outside {
            true => self.web_manager_external.as_deref().or(internal),
            false => internal,
        }
    }

    pub fn document(&self, groups: &[Group], asker: Asker) -> String {
        let mut w = Writer::new(Vec::new());
        w.create_element("provisionGroupList")
            .with_attribute((
                "xmlns",
                "http://schemas.microsoft.com/2006/09/sip/provisiongrouplist-notification",
            ))
            .write_inner_content(|w| {
                for group in groups {
                    let props = match group {
                        Group::PersistentChatConfiguration => self.chat_properties(asker),
                        // Nothing of these is Parlance's to configure: an empty list says
                        // so in the group's own shape, and clients keep their defaults.
                        Group::ServerConfiguration | Group::MeetingPolicy | Group::UcPolicy => {
                            Vec::new()
                        }
                    };
                    w.create_element("provisionGroup")
                        .with_attribute(("name", group.name()))
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
                }
                Ok(())
            })
            .expect("writing to a Vec does not fail");
        String::from_utf8(w.into_inner()).expect("quick-xml writes the UTF-8 it is given")
    }

    /// The persistentChatConfiguration group (SIPREGE-PC). A user from outside gets the
    /// external room-management URL as both, since a client that reached us directly
    /// cannot tell it is outside and would pick the internal one.
    fn chat_properties(&self, asker: Asker) -> Vec<(&'static str, String)> {
        let mut props = vec![
            ("EnablePersistentChat", asker.persistent_chat.to_string()),
            ("DefaultPersistentChatPoolUri", self.pool_uri.clone()),
            ("PersistentChatPoolUris", self.pool_uri.clone()),
        ];
        let internal = self.web_manager_url(asker.outside);
        let external = self.web_manager_url(true);
        if let Some(url) = internal {
            props.push(("PersistentChatWebManagerUriInt", url.to_owned()));
        }
        if let Some(url) = external {
            props.push(("PersistentChatWebManagerUriExt", url.to_owned()));
        }
        props
    }

    /// The 200 to a provisioning SUBSCRIBE, for `document`. With `ms-piggyback-first-notify`
    /// the document rides in the 200 itself; otherwise it follows in a NOTIFY (the `bool`).
    pub fn answer(req: &Request, to_tag: &str, document: &str) -> (Response, bool) {
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
            resp.body = document.as_bytes().to_vec().into();
        }
        (resp, !piggyback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSIDE: Asker = Asker {
        persistent_chat: true,
        outside: false,
    };

    fn provisioning(external: Option<&str>) -> Provisioning {
        Provisioning {
            pool_uri: "sip:ocschat@example.com".into(),
            web_manager_internal: Some("https://chat.example.com:8443/rooms?a=1&b=2".into()),
            web_manager_external: external.map(str::to_owned),
        }
    }

    #[test]
    fn document_lists_the_chat_configuration() {
        let doc = provisioning(None).document(&[Group::PersistentChatConfiguration], INSIDE);
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
            p.document(&[Group::PersistentChatConfiguration], INSIDE),
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

    #[test]
    fn every_known_group_asked_for_is_answered_and_no_other() {
        let body = br#"<provisioningGroupList xmlns="http://schemas.microsoft.com/2006/09/sip/provisioninggrouplist"> <provisioningGroup name="ucPolicy"/> <provisioningGroup name="ServerConfiguration"/> <provisioningGroup name="privacyPublicationGrammar"/> <provisioningGroup name="ucpolicy"/></provisioningGroupList>"#;
        let groups = requested_groups(body);
        assert_eq!(groups, [Group::ServerConfiguration, Group::UcPolicy]);
        let doc = provisioning(None).document(&groups, INSIDE);
        assert_eq!(
            doc,
            "<provisionGroupList xmlns=\"http://schemas.microsoft.com/2006/09/sip/provisiongrouplist-notification\">\
             <provisionGroup name=\"ServerConfiguration\"><propertyEntryList></propertyEntryList></provisionGroup>\
             <provisionGroup name=\"ucPolicy\"><propertyEntryList></propertyEntryList></provisionGroup>\
             </provisionGroupList>"
        );
    }

    #[test]
    fn a_body_naming_none_of_ours_asks_for_all() {
        for body in [
            &b""[..],
            b"not xml <<<",
            b"<provisioningGroupList/>",
            br#"<provisioningGroupList><provisioningGroup name="mobilityPolicy"/></provisioningGroupList>"#,
        ] {
            assert_eq!(requested_groups(body), Group::ALL, "{body:?}");
        }
    }

    #[test]
    fn the_policy_and_the_asker_place_are_provisioned() {
        let p = provisioning(Some("https://chat.example.net/rooms"));
        let off = Asker {
            persistent_chat: false,
            outside: false,
        };
        let doc = p.document(&[Group::PersistentChatConfiguration], off);
        assert!(doc.contains("<property name=\"EnablePersistentChat\">false</property>"));
        assert!(doc.contains(
            "PersistentChatWebManagerUriInt\">https://chat.example.com:8443/rooms?a=1&amp;b=2<"
        ));
        let outside = Asker {
            persistent_chat: true,
            outside: true,
        };
        let doc = p.document(&[Group::PersistentChatConfiguration], outside);
        assert!(doc.contains("PersistentChatWebManagerUriInt\">https://chat.example.net/rooms<"));
        assert!(doc.contains("PersistentChatWebManagerUriExt\">https://chat.example.net/rooms<"));
        assert_eq!(p.web_manager_url(false), p.web_manager_internal.as_deref());
        assert_eq!(
            provisioning(None).web_manager_url(true),
            provisioning(None).web_manager_internal.as_deref(),
            "no external URL: the internal one for everyone"
        );
    }
}
