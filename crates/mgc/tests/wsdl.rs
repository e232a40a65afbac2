//! The WSDL is well-formed XML, declares the six operations with their SOAPActions and the
//! service's address, and its schema describes exactly the bodies the codec writes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use mgc::{OperationName, Request, Response, write_request, write_response};
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

const URL: &str = "https://chat.example.com:8443/PersistentChat/MGCWebService.asmx";

/// A minimal element tree: name as written, attributes, children.
#[derive(Debug)]
struct Node {
    name: String,
    attributes: BTreeMap<String, String>,
    children: Vec<Node>,
}

impl Node {
    fn new(start: &BytesStart<'_>) -> Self {
        let attributes = start
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                let value = a
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .unwrap()
                    .into_owned();
                (a.key.as_ref().to_owned(), value)
            })
            .collect();
        Self {
            name: start.name().as_ref().to_owned(),
            attributes,
            children: Vec::new(),
        }
    }

    fn attr(&self, name: &str) -> &str {
        self.attributes
            .get(name)
            .unwrap_or_else(|| panic!("{} has no {name}", self.name))
    }

    fn all<'a>(&'a self, name: &str, found: &mut Vec<&'a Node>) {
        if self.name == name {
            found.push(self);
        }
        for child in &self.children {
            child.all(name, found);
        }
    }

    fn find_all(&self, name: &str) -> Vec<&Node> {
        let mut found = Vec::new();
        self.all(name, &mut found);
        found
    }
}

/// Parses a whole document, failing on anything quick-xml finds wrong.
fn tree(xml: &str) -> Node {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_comments = true;
    let mut open: Vec<Node> = Vec::new();
    let mut root = None;
    loop {
        match reader.read_event().expect("well-formed") {
            Event::Start(start) => open.push(Node::new(&start)),
            Event::Empty(start) => {
                let node = Node::new(&start);
                match open.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                let node = open.pop().expect("balanced");
                match open.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => {
                        assert!(root.is_none(), "one root element");
                        root = Some(node);
                    }
                }
            }
            Event::DocType(_) | Event::PI(_) => panic!("no DTD or processing instruction"),
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(open.is_empty(), "every element closed");
    root.expect("a root element")
}

#[test]
fn declares_every_operation_with_its_soap_action_and_the_address() {
    let wsdl = tree(&mgc::wsdl(URL));
    assert_eq!(wsdl.name, "wsdl:definitions");
    assert_eq!(wsdl.attr("targetNamespace"), mgc::NAMESPACE);
    let names: Vec<&str> = OperationName::ALL.iter().map(|op| op.as_str()).collect();

    let port_type = &wsdl.find_all("wsdl:portType")[0];
    let declared: Vec<&str> = port_type
        .find_all("wsdl:operation")
        .iter()
        .map(|op| op.attr("name"))
        .collect();
    assert_eq!(declared, names);

    let binding = &wsdl.find_all("wsdl:binding")[0];
    assert_eq!(
        binding.find_all("soap:binding")[0].attr("transport"),
        "http://schemas.xmlsoap.org/soap/http"
    );
    let actions: Vec<(&str, &str)> = binding
        .find_all("wsdl:operation")
        .iter()
        .map(|op| {
            let soap = &op.find_all("soap:operation")[0];
            assert_eq!(soap.attr("style"), "document");
            for body in op.find_all("soap:body") {
                assert_eq!(body.attr("use"), "literal");
            }
            (op.attr("name"), soap.attr("soapAction"))
        })
        .collect();
    let expected: Vec<(&str, String)> = OperationName::ALL
        .iter()
        .map(|op| (op.as_str(), format!("http://www.microsoft.com/{op}")))
        .collect();
    assert_eq!(
        actions,
        expected
            .iter()
            .map(|(op, action)| (*op, action.as_str()))
            .collect::<Vec<_>>()
    );

    assert_eq!(wsdl.find_all("soap:address")[0].attr("location"), URL);
}

#[test]
fn the_address_is_escaped() {
    let url = "https://chat.example.com/x?a=1&b=\"<2>\"";
    let wsdl = tree(&mgc::wsdl(url));
    assert_eq!(wsdl.find_all("soap:address")[0].attr("location"), url);
}

/// The children of the one element in the Body of `body`, by local name, in order.
fn payload(body: &[u8]) -> (String, Vec<String>) {
    let envelope = tree(std::str::from_utf8(body).unwrap());
    let element = &envelope.children[0].children[0];
    let children = element.children.iter().map(|c| c.name.clone()).collect();
    (element.name.clone(), children)
}

#[test]
fn the_schema_describes_the_bodies_the_codec_writes() {
    let wsdl = tree(&mgc::wsdl(URL));
    let schema = &wsdl.find_all("s:schema")[0];
    assert_eq!(schema.attr("elementFormDefault"), "qualified");
    let elements: BTreeMap<&str, Vec<(&str, &str)>> = schema
        .children
        .iter()
        .map(|element| {
            let fields = element
                .find_all("s:element")
                .into_iter()
                // The first is the global element itself.
                .skip(1)
                .map(|field| (field.attr("name"), field.attr("type")))
                .collect();
            (element.attr("name"), fields)
        })
        .collect();
    assert_eq!(elements.len(), 12);

    let requests = [
        Request::RequestUniqueFilenameWithExtension {
            token: "t".into(),
            channel_id: "c".into(),
            extension: "txt".into(),
        },
        Request::GetMaxFileSizeInKB {
            token: "t".into(),
            channel_id: "c".into(),
        },
        Request::GetMaxRequestContentInKB {
            token: "t".into(),
            channel_id: "c".into(),
        },
        Request::AppendChunk {
            token: "t".into(),
            channel_id: "c".into(),
            unique_filename: "u".into(),
            file_chunk: vec![1],
            offset: 0,
            file_length: 1,
        },
        Request::GetFileSize {
            token: "t".into(),
            channel_id: "c".into(),
            repos_file_name: "f".into(),
        },
        Request::DownloadChunk {
            token: "t".into(),
            channel_id: "c".into(),
            repos_file_name: "f".into(),
            offset: 0,
            buffer_size: 1,
        },
    ];
    let responses = [
        Response::UniqueFilename("n".into()),
        Response::MaxFileSizeInKB(1),
        Response::MaxRequestContentInKB(1),
        Response::AppendChunk(1),
        Response::FileSize(1),
        Response::DownloadChunk(vec![1]),
    ];
    let bodies = requests
        .iter()
        .map(write_request)
        .chain(responses.iter().map(write_response));
    for body in bodies {
        let (element, children) = payload(&body);
        let declared: Vec<&str> = elements[element.as_str()]
            .iter()
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(children, declared, "{element}");
    }
    assert_eq!(
        elements["AppendChunk"],
        [
            ("token", "s:string"),
            ("channelId", "s:string"),
            ("uniqueFilename", "s:string"),
            ("fileChunk", "s:base64Binary"),
            ("offset", "s:long"),
            ("fileLength", "s:long"),
        ]
    );
    assert_eq!(
        elements["GetMaxRequestContentInKBResponse"],
        [("GetMaxRequestContentInKBResult", "s:int")]
    );
    assert_eq!(
        elements["DownloadChunkResponse"],
        [("DownloadChunkResult", "s:base64Binary")]
    );
}

/// Where libxml2's checker is installed, it must accept the document too; a missing binary
/// is not a failure, a rejecting one is.
#[test]
fn xmllint_accepts_it_where_installed() {
    let xmllint = Path::new("/usr/bin/xmllint");
    if !xmllint.exists() {
        return;
    }
    let path = std::env::temp_dir().join(format!("mgc-wsdl-{}.xml", std::process::id()));
    std::fs::write(&path, mgc::wsdl(URL)).unwrap();
    let output = Command::new(xmllint)
        .arg("--noout")
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(
        output.status.success(),
        "xmllint rejects the WSDL: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
