//! Bodies the parser must refuse, each with its typed error, and bodies it must tolerate.

use xccos::{CommandKind, Envelope, Limits, Message, ParseError};

fn parse(xml: &str) -> Result<Envelope, ParseError> {
    Envelope::parse(xml.as_bytes(), &Limits::default())
}

fn envelope(inner: &str) -> String {
    format!(r#"<xccos ver="1" envid="1" xmlns="urn:parlano:xml:ns:xccos">{inner}</xccos>"#)
}

fn cmd(id: &str, data: &str) -> String {
    envelope(&format!(
        r#"<cmd id="{id}" seqid="1"><data>{data}</data></cmd>"#
    ))
}

#[test]
fn dtd_is_refused() {
    let body = format!(
        "<!DOCTYPE xccos [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;\">]>{}",
        envelope(
            r#"<grpchat id="grpchat" seqid="1" chanUri="c" author="a"><chat>&b;</chat></grpchat>"#
        )
    );
    assert_eq!(parse(&body), Err(ParseError::Doctype));
    assert_eq!(
        parse("<!DOCTYPE xccos SYSTEM \"file:///etc/passwd\"><xccos/>"),
        Err(ParseError::Doctype)
    );
}

#[test]
fn undeclared_entities_are_refused_in_text_and_attributes() {
    let body = envelope(
        r#"<grpchat id="grpchat" seqid="1" chanUri="c" author="a"><chat>&nbsp;</chat></grpchat>"#,
    );
    assert_eq!(parse(&body), Err(ParseError::UnknownEntity("nbsp".into())));
    let body =
        envelope(r#"<grpchat id="grpchat" seqid="1" chanUri="&ext;" author="a"><chat/></grpchat>"#);
    assert_eq!(parse(&body), Err(ParseError::UnknownEntity("ext".into())));
}

#[test]
fn processing_instructions_are_refused() {
    let body = format!(
        "<?xml version=\"1.0\"?><?xml-stylesheet href=\"x\"?>{}",
        cmd("cmd:requri", "")
    );
    assert_eq!(
        parse(&body),
        Err(ParseError::ProcessingInstruction("xml-stylesheet".into()))
    );
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>{}",
        cmd("cmd:requri", "")
    );
    assert!(parse(&body).is_ok(), "the XML declaration itself is fine");
}

#[test]
fn nesting_beyond_the_depth_limit_is_refused() {
    let deep = format!("{}{}", "<a>".repeat(20), "</a>".repeat(20));
    assert_eq!(
        parse(&cmd("cmd:requri", &deep)),
        Err(ParseError::TooDeep { limit: 16 })
    );
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    assert!(Envelope::parse(cmd("cmd:requri", "").as_bytes(), &limits).is_ok());
    assert_eq!(
        Envelope::parse(cmd("cmd:requri", "<x/>").as_bytes(), &limits),
        Err(ParseError::TooDeep { limit: 3 })
    );
}

#[test]
fn too_many_attributes_are_refused() {
    let attrs: String = (0..40).map(|i| format!(" a{i}=\"v\"")).collect();
    assert_eq!(
        parse(&cmd("cmd:requri", &format!("<x{attrs}/>"))),
        Err(ParseError::TooManyAttributes {
            element: "x".into(),
            limit: 32
        })
    );
}

#[test]
fn too_many_items_are_refused() {
    let chanids: String = (0..1001)
        .map(|i| format!(r#"<chanid key="{i}" domain="d" value="v{i}"/>"#))
        .collect();
    assert_eq!(
        parse(&cmd("cmd:bjoin", &chanids)),
        Err(ParseError::TooManyItems {
            element: "data".into(),
            limit: 1000
        })
    );
    let limits = Limits {
        max_items: 2000,
        ..Limits::default()
    };
    let Message::Command(command) =
        &Envelope::parse(cmd("cmd:bjoin", &chanids).as_bytes(), &limits)
            .unwrap()
            .messages[0]
    else {
        panic!("expected a command")
    };
    assert!(matches!(&command.kind, CommandKind::BJoin(ids) if ids.len() == 1001));
}

#[test]
fn oversized_bodies_are_refused_before_parsing() {
    let limits = Limits {
        max_body_bytes: 100,
        ..Limits::default()
    };
    let body = cmd("cmd:requri", "");
    assert_eq!(
        Envelope::parse(body.as_bytes(), &limits),
        Err(ParseError::BodyTooLarge {
            size: body.len(),
            limit: 100
        })
    );
}

#[test]
fn unknown_commands_parse_as_unknown() {
    let Ok(envelope) = parse(&cmd("cmd:frobnicate", "<whatever a=\"b\"/>")) else {
        panic!("unknown commands must parse")
    };
    let Message::Command(command) = &envelope.messages[0] else {
        panic!("expected a command")
    };
    assert_eq!(
        command.kind,
        CommandKind::Unknown {
            id: "cmd:frobnicate".into()
        }
    );
    assert_eq!(command.seqid, 1);
}

#[test]
fn malformed_xml_is_a_typed_error() {
    for body in [
        "<xccos ver=\"1\" envid=\"1\"><cmd></xccos>",
        "<xccos ver=\"1\" envid=\"1\"",
        "<xccos ver=1 envid=\"1\"/>",
        "<xccos ver=\"1\" ver=\"1\" envid=\"1\"/>",
        "<xccos ver=\"1\" envid=\"1\"><cmd id=\"cmd:requri\" seqid=\"1\"/>&#0;</xccos>",
        "<xccos ver=\"1\" envid=\"1\"><cmd id=\"cmd:requri\" seqid=\"1\"/>&amp</xccos>",
    ] {
        assert!(
            matches!(parse(body), Err(ParseError::Malformed(_))),
            "{body}: {:?}",
            parse(body)
        );
    }
    assert_eq!(
        parse("<xccos ver=\"1\" envid=\"1\"><cmd id=\"cmd:requri\" seqid=\"1\">"),
        Err(ParseError::UnexpectedEof)
    );
    assert_eq!(parse(""), Err(ParseError::UnexpectedEof));
    assert_eq!(parse("hello"), Err(ParseError::TrailingContent));
    assert_eq!(
        Envelope::parse(
            b"<xccos ver=\"1\" envid=\"1\">\xff</xccos>",
            &Limits::default()
        ),
        Err(ParseError::NotUtf8)
    );
    assert_eq!(
        parse(&format!("{}<xccos/>", cmd("cmd:requri", ""))),
        Err(ParseError::TrailingContent)
    );
}

#[test]
fn envelope_errors() {
    assert_eq!(parse("<html/>"), Err(ParseError::NotXccos("html".into())));
    assert_eq!(
        parse(r#"<xccos ver="2" envid="1"><cmd id="cmd:requri" seqid="1"/></xccos>"#),
        Err(ParseError::UnsupportedVersion("2".into()))
    );
    assert_eq!(
        parse(r#"<xccos envid="1"/>"#),
        Err(ParseError::MissingAttribute {
            element: "xccos".into(),
            attribute: "ver"
        })
    );
    assert_eq!(
        parse(r#"<xccos ver="1" envid="-1"/>"#),
        Err(ParseError::InvalidAttribute {
            element: "xccos".into(),
            attribute: "envid"
        })
    );
    assert_eq!(parse(&envelope("")), Err(ParseError::EmptyEnvelope));
    assert_eq!(parse(&envelope("<other/>")), Err(ParseError::EmptyEnvelope));
}

#[test]
fn missing_required_attributes_and_elements() {
    let missing = |element: &str, attribute| ParseError::MissingAttribute {
        element: element.into(),
        attribute,
    };
    assert_eq!(
        parse(&envelope(r#"<cmd id="cmd:requri"><data/></cmd>"#)),
        Err(missing("cmd", "seqid"))
    );
    assert_eq!(
        parse(&envelope(r#"<cmd seqid="1"><data/></cmd>"#)),
        Err(missing("cmd", "id"))
    );
    assert_eq!(
        parse(&cmd("cmd:join", r#"<chanid key="0" domain="d"/>"#)),
        Err(missing("chanid", "value"))
    );
    assert_eq!(
        parse(&cmd("cmd:join", "")),
        Err(ParseError::MissingElement {
            parent: "data".into(),
            child: "chanid"
        })
    );
    assert_eq!(
        parse(&cmd("cmd:part", "<chanib/>")),
        Err(missing("chanib", "uri"))
    );
    assert_eq!(
        parse(&cmd("cmd:bccontext", r#"<chanib uri="u"/>"#)),
        Err(ParseError::MissingElement {
            parent: "data".into(),
            child: "bcq"
        })
    );
    assert_eq!(
        parse(&cmd(
            "cmd:bccontext",
            r#"<chanib uri="u"/><bcq><all/></bcq>"#
        )),
        Err(ParseError::UnsupportedQuery)
    );
    assert_eq!(
        parse(&cmd(
            "cmd:bccontext",
            r#"<chanib uri="u"/><bcq><last/></bcq>"#
        )),
        Err(missing("last", "cnt"))
    );
    assert_eq!(
        parse(&envelope(
            r#"<grpchat id="grpchat" seqid="1" author="a"><chat/></grpchat>"#
        )),
        Err(missing("grpchat", "chanUri"))
    );
    assert_eq!(
        parse(&envelope(
            r#"<grpchat id="grpchat" seqid="1" chanUri="c" author="a"/>"#
        )),
        Err(ParseError::MissingElement {
            parent: "grpchat".into(),
            child: "chat"
        })
    );
    assert_eq!(
        parse(&envelope(r#"<rpl id="rpl:join" seqid="1"><data/></rpl>"#)),
        Err(ParseError::MissingElement {
            parent: "rpl".into(),
            child: "resp"
        })
    );
    assert_eq!(
        parse(&envelope(r#"<ntc><data/></ntc>"#)),
        Err(missing("ntc", "id"))
    );
}

#[test]
fn invalid_values_are_typed_errors() {
    assert_eq!(
        parse(&cmd(
            "cmd:chansrch",
            r#"<qib qtype="BYNAME" extended="maybe"/>"#
        )),
        Err(ParseError::InvalidAttribute {
            element: "qib".into(),
            attribute: "extended"
        })
    );
    assert_eq!(
        parse(&envelope(r#"<cmd id="cmd:requri" seqid="one"/>"#)),
        Err(ParseError::InvalidAttribute {
            element: "cmd".into(),
            attribute: "seqid"
        })
    );
    let chansrch = |inner: &str| {
        envelope(&format!(
            r#"<rpl id="rpl:chansrch" seqid="1"><resp code="200"/><data><chanib uri="u">{inner}</chanib></data></rpl>"#
        ))
    };
    assert_eq!(
        parse(&chansrch(
            r#"<info id="urn:parlano:ma:info:ucnt">many</info>"#
        )),
        Err(ParseError::InvalidText {
            element: "info".into()
        })
    );
    assert_eq!(
        parse(&chansrch(
            r#"<prop id="urn:parlano:ma:prop:logged">yes</prop>"#
        )),
        Err(ParseError::InvalidText {
            element: "prop".into()
        })
    );
    assert!(
        parse(&chansrch(
            r#"<prop id="urn:parlano:ma:prop:unknown">yes</prop><info id="x">y</info>"#
        ))
        .is_ok(),
        "unknown info and prop ids are skipped"
    );
}

#[test]
fn prefixes_namespaces_comments_and_whitespace_are_tolerated() {
    let body = r#"<?xml version="1.0" encoding="utf-8"?>
<!-- a comment -->
<p:xccos xmlns:p="urn:parlano:xml:ns:xccos" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ver="1" envid="7">
  <p:cmd p:id="cmd:join" seqid="1">
    <p:data>
      <!-- room -->
      <p:chanid key="0" domain="example.com" value="GUID"/>
    </p:data>
  </p:cmd>
</p:xccos>
"#;
    let envelope = parse(body).unwrap();
    let Message::Command(command) = &envelope.messages[0] else {
        panic!("expected a command")
    };
    assert_eq!(
        command.kind,
        CommandKind::Join(xccos::ChanId::from_uri(0, "ma-chan://example.com/GUID").unwrap())
    );
}
