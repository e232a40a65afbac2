//! RFC 4475 torture messages, fed to the [`Decoder`] the way a TCP or TLS connection delivers
//! them: one byte stream, split at arbitrary points.
//!
//! The fixtures in `tests/rfc4475/` are the RFC's messages byte for byte, rebuilt from its text
//! (`<allOneLine>`, `<hex>` and `<repeat>` expanded, CRLF line ends); the thirteen valid ones are
//! pinned to the SHA-256 digests of the RFC's own bit-exact archive. The RFC phrases its
//! expectations for a message that arrived in a UDP datagram; on a stream, Content-Length alone
//! decides where a message ends, and where that changes the outcome the test says so.

use bytes::BytesMut;
use sha2::{Digest, Sha256};
use sip_proto::auth::{AuthHeader, Credentials, CredentialsError};
use sip_proto::{
    CSeq, Decoder, FramingError, Item, Limits, Message, Method, ParseError, Rejected, Request,
    Response, Uri, unescape, unquote,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/rfc4475/{name}.sip", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// How a stream ended after all its bytes were fed.
#[derive(Debug, PartialEq)]
enum End {
    /// Nothing is pending.
    Idle,
    /// Part of a message is buffered; the decoder waits for more bytes.
    Waiting,
    /// The stream could not be split any further.
    Failed(FramingError),
}

#[derive(Debug, PartialEq)]
struct Outcome {
    items: Vec<Item>,
    end: End,
}

fn decode_in_chunks(bytes: &[u8], chunk: usize) -> Outcome {
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    for piece in bytes.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        items,
                        end: End::Failed(e),
                    };
                }
            }
        }
    }
    let end = if decoder.is_between_messages(&buf) {
        End::Idle
    } else {
        End::Waiting
    };
    Outcome { items, end }
}

/// Decodes `bytes` in one piece and in several chunkings, which must all agree.
fn decode(bytes: &[u8]) -> Outcome {
    let whole = decode_in_chunks(bytes, bytes.len().max(1));
    for chunk in [1, 7, 64] {
        assert_eq!(
            decode_in_chunks(bytes, chunk),
            whole,
            "chunks of {chunk} bytes"
        );
    }
    whole
}

/// The single item a fixture decodes to, with nothing left pending.
fn single(name: &str) -> Item {
    let Outcome { mut items, end } = decode(&fixture(name));
    assert_eq!(end, End::Idle, "{name}");
    assert_eq!(items.len(), 1, "{name}: {items:?}");
    items.remove(0)
}

fn request(name: &str) -> Request {
    match single(name) {
        Item::Message(Message::Request(r)) => r,
        other => panic!("{name}: expected a request, got {other:?}"),
    }
}

fn response(name: &str) -> Response {
    match single(name) {
        Item::Message(Message::Response(r)) => r,
        other => panic!("{name}: expected a response, got {other:?}"),
    }
}

fn rejected(name: &str) -> Rejected {
    match single(name) {
        Item::Rejected(r) => r,
        other => panic!("{name}: expected a rejection, got {other:?}"),
    }
}

/// A rejected request: the error and the status of the answer it gets.
fn answered(name: &str) -> (ParseError, u16) {
    let r = rejected(name);
    let answer = r
        .response()
        .unwrap_or_else(|| panic!("{name}: no answer for {:?}", r.error));
    (r.error, answer.status)
}

fn framing_error(name: &str) -> FramingError {
    match decode(&fixture(name)) {
        Outcome {
            items,
            end: End::Failed(e),
        } if items.is_empty() => e,
        other => panic!("{name}: expected a framing error, got {other:?}"),
    }
}

// 3.1.1 Valid messages.

#[test]
fn wsinv_short_tortuous_invite() {
    let r = request("wsinv");
    assert_eq!(r.method, Method::Invite);
    let uri = r.uri.as_sip().unwrap();
    assert_eq!(
        (uri.user.as_deref(), uri.host.as_str()),
        (Some("vivekg"), "chair-dnrc.example.com")
    );
    assert_eq!(uri.params.get("unknownparam"), Some(None));
    assert_eq!(r.to().unwrap().tag(), Some("1918181833n"));
    let from = r.from().unwrap();
    assert_eq!(from.display.as_deref(), Some(r#""J Rosenberg \\\"""#));
    assert_eq!(
        unquote(from.display.as_deref().unwrap()).as_deref(),
        Some(r#"J Rosenberg \""#)
    );
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(r.max_forwards(), 68);
    assert_eq!(
        r.cseq(),
        Some(CSeq {
            seq: 9,
            method: Method::Invite
        })
    );
    let vias = r.vias();
    let sent: Vec<_> = vias
        .iter()
        .map(|v| (v.transport.as_str(), v.host.as_str(), v.branch()))
        .collect();
    assert_eq!(
        sent,
        [
            ("UDP", "192.0.2.2", Some("390skdjuw")),
            ("TCP", "spindle.example.com", Some("z9hG4bK9ikj8")),
            ("UDP", "192.168.255.111", Some("z9hG4bK30239")),
        ]
    );
    assert_eq!(vias[0].rfc3261_branch(), None);
    assert_eq!(r.headers.get("Subject"), Some(""));
    assert_eq!(
        r.headers.get("NewFangledHeader"),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(
        r.headers.get("UnknownHeaderWithUnusualValue"),
        Some(";;,,;;,;")
    );
    let contacts = r.contacts();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].params.value("newparam"), Some("newvalue"));
    assert_eq!(contacts[0].params.get("secondparam"), Some(None));
    assert_eq!(contacts[0].params.value("q"), Some("0.33"));
    assert_eq!(r.body.len(), 150);
}

#[test]
fn intmeth_wide_range_of_valid_characters() {
    let r = request("intmeth");
    let method = "!interesting-Method0123456789_*+`.%indeed'~";
    assert_eq!(r.method, Method::Other(method.into()));
    assert_eq!(
        r.cseq(),
        Some(CSeq {
            seq: 139122385,
            method: Method::Other(method.into())
        })
    );
    let uri = r.uri.as_sip().unwrap();
    assert_eq!(
        uri.user.as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        uri.password.as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(uri.host, "example.com");
    assert_eq!(
        r.top_via().unwrap().rfc3261_branch(),
        Some("z9hG4bK-.!%66*_+`'~")
    );
    let to = r.to().unwrap();
    assert_eq!(
        unquote(to.display.as_deref().unwrap()).as_deref(),
        Some("BEL:\x07 NUL:\0 DEL:\x7f")
    );
    let from = r.from().unwrap();
    assert_eq!(
        from.display.as_deref(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(
        from.params.value("fromParam''~+*_!.-%"),
        Some("\"работающий\"")
    );
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(r.call_id(), r#"intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{"#);
    assert_eq!(r.max_forwards(), 255);
    assert_eq!(
        r.headers.get("extensionHeader-!.%*+_`'~"),
        Some("\u{feff}大停電")
    );
}

#[test]
fn esc01_valid_percent_escapes() {
    let r = request("esc01");
    let uri = r.uri.as_sip().unwrap();
    assert_eq!(
        (uri.user.as_deref(), uri.host.as_str()),
        (Some("sips%3Auser%40example.com"), "example.net")
    );
    assert_eq!(uri.aor(), "sips:user@example.com@example.net");
    assert_eq!(
        r.to().unwrap().uri.as_sip().unwrap().aor(),
        "user@example.com"
    );
    assert_eq!(
        r.from().unwrap().uri.as_sip().unwrap().aor(),
        "I have spaces@example.net"
    );
    assert_eq!(r.call_id(), "esc01.239409asdfakjkn23onasd0-3234");
    let contact = r.contacts()[0].uri.as_sip().unwrap().clone();
    assert_eq!(contact.aor(), "caller@host5.example.net");
    assert_eq!(contact.params.get("%6C%72"), Some(None));
    // Unescaping is never recursive: the value is "value%41", not "valueA".
    assert_eq!(
        unescape(contact.params.value("n%61me").unwrap()),
        "value%41"
    );
    assert_eq!(r.headers.get("Content-Type"), Some("application/sdp"));
    assert_eq!(r.body.len(), 150);
}

#[test]
fn escnull_escaped_nulls_in_uris() {
    let r = request("escnull");
    assert_eq!(
        r.to().unwrap().uri.as_sip().unwrap().aor(),
        "null-\0-null@example.com"
    );
    assert_eq!(r.from().unwrap().tag(), Some("839923423"));
    let contacts: Vec<String> = r
        .contacts()
        .iter()
        .map(|c| c.uri.as_sip().unwrap().aor())
        .collect();
    assert_eq!(contacts, ["\0@host5.example.com", "\0\0@host5.example.com"]);
    assert!(r.body.is_empty());
}

#[test]
fn esc02_percent_that_is_not_an_escape() {
    let r = request("esc02");
    assert_eq!(r.method, Method::Other("RE%47IST%45R".into()));
    assert_eq!(r.cseq().unwrap().method, r.method);
    assert_eq!(r.to().unwrap().display.as_deref(), Some(r#""%Z%45""#));
    assert_eq!(
        r.top_via().unwrap().rfc3261_branch(),
        Some("z9hG4bK209%fzsnel234")
    );
    let contacts: Vec<String> = r.contacts().iter().map(|c| c.uri.to_string()).collect();
    assert_eq!(
        contacts,
        [
            "sip:alias1@host1.example.com",
            "sip:alias3@host3.example.com"
        ]
    );
    assert_eq!(
        r.headers.get("C%6Fntact"),
        Some("<sip:alias2@host2.example.com>")
    );
}

#[test]
fn lwsdisp_no_space_before_angle_bracket() {
    let r = request("lwsdisp");
    assert_eq!(r.method, Method::Options);
    let from = r.from().unwrap();
    assert_eq!(
        (from.display.as_deref(), from.tag()),
        (Some("caller"), Some("323"))
    );
    assert_eq!(from.uri.to_string(), "sip:caller@example.com");
}

#[test]
fn longreq_long_values() {
    let r = request("longreq");
    let to = r.to().unwrap();
    assert!(
        to.display
            .as_deref()
            .unwrap()
            .starts_with("\"I have a user name of extremeextreme")
    );
    let to_uri = to.uri.as_sip().unwrap();
    assert_eq!(to_uri.port, Some(6000));
    assert_eq!(to_uri.params.iter().count(), 3);
    let from = r.from().unwrap();
    assert_eq!(
        from.tag(),
        Some(format!("12{}424", "982".repeat(50)).as_str())
    );
    assert_eq!(from.params.iter().count(), 3);
    assert_eq!(
        r.call_id(),
        format!("longreq.one{}longcallid", "really".repeat(20))
    );
    let vias = r.vias();
    assert_eq!(vias.len(), 34);
    let hosts: Vec<_> = vias[..33].iter().map(|v| v.host.clone()).collect();
    let expected: Vec<_> = (1..=33)
        .rev()
        .map(|n| format!("sip{n}.example.com"))
        .collect();
    assert_eq!(hosts, expected);
    assert_eq!(vias[33].params.value("received"), Some("192.0.2.5"));
    assert_eq!(
        vias[33].branch(),
        Some(format!("very{}branchvalue", "long".repeat(50)).as_str())
    );
    assert_eq!(r.contacts().len(), 1);
    assert_eq!(r.body.len(), 150);
}

#[test]
fn dblreq_extra_octets_after_the_body() {
    let Outcome { items, end } = decode(&fixture("dblreq"));
    assert_eq!(end, End::Idle);
    // Over UDP the octets after the REGISTER are noise; on a stream they are the next message.
    let Item::Message(Message::Request(register)) = &items[0] else {
        panic!("{items:?}")
    };
    assert_eq!(register.method, Method::Register);
    assert!(register.body.is_empty());
    assert_eq!(register.call_id(), "dblreq.0ha0isndaksdj99sdfafnl3lk233412");
    assert_eq!(
        register.contacts()[0].uri.to_string(),
        "sip:j.user@host.example.com"
    );
    let Item::Message(Message::Request(invite)) = &items[1] else {
        panic!("{items:?}")
    };
    assert_eq!(invite.method, Method::Invite);
    assert_eq!(invite.call_id(), "dblreq.0ha0isnda977644900765@192.0.2.15");
    assert_eq!(invite.body.len(), 150);
    // The INVITE's body is longer than its Content-Length; the excess is a head nobody answers.
    for item in &items[2..] {
        assert!(
            matches!(item, Item::Rejected(r) if r.response().is_none()),
            "{item:?}"
        );
    }
}

#[test]
fn semiuri_semicolon_in_user_part() {
    let r = request("semiuri");
    let uri = r.uri.as_sip().unwrap();
    assert_eq!(uri.user.as_deref(), Some("user;par=u%40example.net"));
    assert_eq!(uri.host, "example.com");
    assert!(uri.params.is_empty());
    assert_eq!(
        unescape(uri.user.as_deref().unwrap()),
        "user;par=u@example.net"
    );
    let accept: Vec<_> = r.headers.get_list("Accept").collect();
    assert_eq!(accept.len(), 6);
    assert_eq!(accept[5], "message/sipfrag");
}

#[test]
fn transports_varied_and_unknown() {
    let r = request("transports");
    let transports: Vec<_> = r.vias().into_iter().map(|v| v.transport).collect();
    assert_eq!(transports, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
    assert_eq!(r.call_id(), "transports.kijh4akdnaqjkwendsasfdj");
}

#[test]
fn mpart01_multipart_with_binary_part() {
    let r = request("mpart01");
    assert_eq!(r.method, Method::Message);
    let via = r.top_via().unwrap();
    assert_eq!((via.host.as_str(), via.port), ("127.0.0.1", Some(5070)));
    assert_eq!(via.params.get("rport"), Some(None));
    assert_eq!(
        r.headers.get("Content-Type"),
        Some("multipart/mixed;boundary=7a9cbec02ceef655")
    );
    assert_eq!(r.body.len(), 553);
    assert!(r.body.contains(&0), "the binary part carries NUL octets");
    assert!(r.body.ends_with(b"--7a9cbec02ceef655--\r\n"));
}

#[test]
fn unreason_non_ascii_reason_phrase() {
    let r = response("unreason");
    assert_eq!(r.status, 200);
    assert_eq!(r.reason, "= 2**3 * 5**2 но сто девяносто девять - простое");
    assert_eq!(r.to().unwrap().tag(), Some("2229"));
    assert_eq!(r.body.len(), 154);
}

#[test]
fn noreason_empty_reason_phrase() {
    let r = response("noreason");
    assert_eq!((r.status, r.reason.as_str()), (100, ""));
    assert_eq!(r.to().unwrap().tag(), Some("902jndnke3"));
    assert_eq!(
        r.cseq(),
        Some(CSeq {
            seq: 35,
            method: Method::Invite
        })
    );
}

// 3.1.2 Invalid messages.

#[test]
fn badinv01_extraneous_separators() {
    assert_eq!(answered("badinv01"), (ParseError::BadHeader("Via"), 400));
}

#[test]
fn clerr_content_length_larger_than_message() {
    // Over UDP this is a 400; on a stream the decoder can only wait for the announced octets.
    assert_eq!(
        decode(&fixture("clerr")),
        Outcome {
            items: vec![],
            end: End::Waiting
        }
    );
}

#[test]
fn ncl_negative_content_length() {
    let e = framing_error("ncl");
    assert_eq!(e, FramingError::BadContentLength("-999".into()));
    assert_eq!(e.status().0, 400);
}

#[test]
fn scalar02_overlarge_request_scalars() {
    assert_eq!(answered("scalar02"), (ParseError::BadHeader("CSeq"), 400));
}

#[test]
fn scalarlg_overlarge_response_scalars_are_dropped() {
    let r = rejected("scalarlg");
    assert_eq!(r.error, ParseError::BadHeader("CSeq"));
    assert_eq!(r.response(), None);
}

#[test]
fn quotbal_unterminated_quoted_string() {
    assert_eq!(answered("quotbal"), (ParseError::BadHeader("To"), 400));
}

#[test]
fn ltgtruri_angle_brackets_around_request_uri() {
    let (error, status) = answered("ltgtruri");
    assert!(matches!(error, ParseError::BadRequestUri(_)), "{error:?}");
    assert_eq!(status, 400);
}

#[test]
fn lwsruri_whitespace_in_request_uri() {
    assert_eq!(answered("lwsruri"), (ParseError::BadStartLine, 400));
}

#[test]
fn lwsstart_multiple_spaces_in_request_line() {
    // The RFC lets a liberal element accept this; rejecting it is equally allowed.
    assert_eq!(answered("lwsstart"), (ParseError::BadStartLine, 400));
}

#[test]
fn trws_trailing_spaces_after_request_line() {
    // The RFC lets a liberal element accept this; rejecting it is equally allowed.
    assert_eq!(answered("trws"), (ParseError::BadStartLine, 400));
}

#[test]
fn escruri_headers_in_request_uri() {
    assert_eq!(answered("escruri"), (ParseError::RequestUriHeaders, 400));
}

#[test]
fn baddate_non_gmt_date_is_tolerated() {
    // A lenient element may ignore a Date it does not use; sip-proto keeps the value unread.
    let r = request("baddate");
    assert_eq!(r.headers.get("Date"), Some("Fri, 01 Jan 2010 16:00:00 EST"));
}

#[test]
fn regbadct_contact_uri_with_headers_outside_angle_brackets() {
    assert_eq!(
        answered("regbadct"),
        (ParseError::BadHeader("Contact"), 400)
    );
}

#[test]
fn badaspec_spaces_within_addr_spec() {
    assert_eq!(answered("badaspec"), (ParseError::BadHeader("To"), 400));
}

#[test]
fn baddn_non_token_display_name() {
    // The RFC's bytes stop after the last header line: on a stream the head is not over yet.
    let mut bytes = fixture("baddn");
    assert_eq!(
        decode(&bytes),
        Outcome {
            items: vec![],
            end: End::Waiting
        }
    );
    bytes.extend_from_slice(b"\r\n");
    let Outcome { items, end } = decode(&bytes);
    assert_eq!(end, End::Idle);
    let [Item::Rejected(r)] = &items[..] else {
        panic!("{items:?}")
    };
    assert_eq!(r.error, ParseError::BadHeader("From"));
    assert_eq!(r.response().unwrap().status, 400);
}

#[test]
fn badvers_unknown_protocol_version() {
    assert_eq!(
        answered("badvers"),
        (ParseError::UnsupportedVersion("SIP/7.0".into()), 505)
    );
}

#[test]
fn mismatch01_cseq_method_mismatch() {
    assert_eq!(
        answered("mismatch01"),
        (ParseError::CSeqMethodMismatch, 400)
    );
}

#[test]
fn mismatch02_unknown_method_with_cseq_mismatch() {
    // The RFC prefers 501 here but allows 400.
    assert_eq!(
        answered("mismatch02"),
        (ParseError::CSeqMethodMismatch, 400)
    );
}

#[test]
fn bigcode_overlarge_status_code_is_dropped() {
    let r = rejected("bigcode");
    assert_eq!(r.error, ParseError::BadStartLine);
    assert_eq!(r.response(), None);
}

// 3.2 Transaction layer.

#[test]
fn badbranch_cookie_without_identifier() {
    let r = request("badbranch");
    let via = r.top_via().unwrap();
    assert_eq!(via.branch(), Some("z9hG4bK"));
    // A bare cookie identifies no transaction: fall back to RFC 2543 matching.
    assert_eq!(via.rfc3261_branch(), None);
}

// 3.3 Application layer.

#[test]
fn insuf_missing_required_headers_still_get_a_400() {
    let r = rejected("insuf");
    assert!(
        matches!(r.error, ParseError::MissingHeader(_)),
        "{:?}",
        r.error
    );
    let answer = r
        .response()
        .expect("Via and CSeq are enough to address an answer");
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.cseq(),
        Some(CSeq {
            seq: 193942,
            method: Method::Invite
        })
    );
    assert_eq!(answer.top_via().unwrap().branch(), Some("z9hG4bKkdj.insuf"));
}

#[test]
fn unkscm_unknown_request_uri_scheme() {
    assert_eq!(answered("unkscm"), (ParseError::UnsupportedUriScheme, 416));
}

#[test]
fn novelsc_atypical_request_uri_scheme() {
    assert_eq!(answered("novelsc"), (ParseError::UnsupportedUriScheme, 416));
}

#[test]
fn unksm2_unknown_schemes_in_headers() {
    // Well formed; a registrar refuses the non-SIP address of record above the parser.
    let r = request("unksm2");
    assert_eq!(r.to().unwrap().uri, Uri::Other("isbn:2983792873".into()));
    assert_eq!(
        r.from().unwrap().uri,
        Uri::Other("http://www.example.com".into())
    );
    assert_eq!(r.contacts()[0].uri, Uri::Other("name:John_Smith".into()));
}

#[test]
fn bext01_unsupported_extensions() {
    // Well formed; the 420 naming the unsupported option tags is decided above the parser.
    let r = request("bext01");
    let require: Vec<_> = r.headers.get_list("Require").collect();
    assert_eq!(
        require,
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    assert_eq!(r.headers.get_list("Proxy-Require").count(), 2);
}

#[test]
fn invut_unknown_content_type() {
    let r = request("invut");
    assert_eq!(
        r.headers.get("Content-Type"),
        Some("application/unknownformat")
    );
    assert_eq!(
        &r.body[..],
        b"<audio>\r\n <pcmu port=\"443\"/>\r\n</audio>\r\n"
    );
}

#[test]
fn regaut01_unknown_authorization_scheme() {
    let r = request("regaut01");
    let auth = AuthHeader::parse(r.headers.get("Authorization").unwrap()).unwrap();
    assert!(auth.is_scheme("NoOneKnowsThisScheme"));
    assert_eq!(auth.param("opaque-data"), Some("here"));
    assert_eq!(
        Credentials::from_header(&auth),
        Err(CredentialsError::NotDigest)
    );
}

#[test]
fn multi01_repeated_single_value_headers() {
    let (error, status) = answered("multi01");
    assert!(matches!(error, ParseError::DuplicateHeader(_)), "{error:?}");
    assert_eq!(status, 400);
}

#[test]
fn mcl01_conflicting_content_lengths() {
    // Over UDP a 400; on a stream the message's extent is unknown, so the connection closes.
    let e = framing_error("mcl01");
    assert_eq!(e, FramingError::ConflictingContentLength);
    assert_eq!(e.status().0, 400);
}

#[test]
fn bcast_broadcast_via_parses() {
    let r = response("bcast");
    assert_eq!(r.status, 200);
    assert_eq!(r.vias()[1].host, "255.255.255.255");
}

#[test]
fn zeromf_max_forwards_of_zero() {
    let r = request("zeromf");
    assert_eq!(r.method, Method::Options);
    assert_eq!(r.max_forwards(), 0);
}

#[test]
fn cparam01_parameter_belongs_to_the_contact_header() {
    let contact = request("cparam01").contacts().remove(0);
    assert_eq!(contact.params.get("unknownparam"), Some(None));
    assert!(contact.uri.as_sip().unwrap().params.is_empty());
}

#[test]
fn cparam02_parameter_belongs_to_the_contact_uri() {
    let contact = request("cparam02").contacts().remove(0);
    assert!(contact.params.is_empty());
    assert_eq!(
        contact.uri.as_sip().unwrap().params.get("unknownparam"),
        Some(None)
    );
}

#[test]
fn regescrt_escaped_header_in_contact_uri() {
    let contact = request("regescrt").contacts().remove(0);
    let uri = contact.uri.as_sip().unwrap();
    assert_eq!(
        uri.headers.as_deref(),
        Some("Route=%3Csip:sip.example.com%3E")
    );
    assert_eq!(uri.aor(), "user@example.com");
}

#[test]
fn sdp01_unacceptable_accept() {
    // Well formed; the 415 for the unacceptable body is decided above the parser.
    let r = request("sdp01");
    assert_eq!(r.headers.get("Accept"), Some("text/nobodyKnowsThis"));
    assert_eq!(r.body.len(), 150);
}

// 3.4 Backward compatibility.

#[test]
fn inv2543_rfc2543_syntax() {
    // Streams need Content-Length (RFC 3261 §18.3): without it the body is not part of the INVITE.
    let Outcome { items, end } = decode(&fixture("inv2543"));
    let [Item::Message(Message::Request(r))] = &items[..] else {
        panic!("{items:?}")
    };
    assert_eq!(r.method, Method::Invite);
    assert!(r.body.is_empty());
    assert_eq!(r.from().unwrap().tag(), None);
    assert_eq!(
        r.headers.get("Record-Route"),
        Some("<sip:UserB@example.com;maddr=ss1.example.com>")
    );
    assert_eq!(end, End::Waiting);
}

#[test]
fn valid_fixtures_are_the_archived_bytes() {
    let digests = [
        (
            "wsinv",
            "d6f6cdee99cd0a1f8e3d9a0fdd67c877700e19ab86d8186dada06f61260e3e61",
        ),
        (
            "intmeth",
            "b957a8292c1c0a9851fe94705b90f94320738f43aacde64998e401f742ef688d",
        ),
        (
            "esc01",
            "be3a316d4ce5f69cad474646191e390dd4b50fc8371e44b5197fe1237781973e",
        ),
        (
            "escnull",
            "263fe2ecd12a5ccbb6c67b3174e9211d11da9b600e7d69666a86d2ee42873e90",
        ),
        (
            "esc02",
            "9a9c59449f00327b02071feafc8e5c2a261c98c818044167894cc17809a12199",
        ),
        (
            "lwsdisp",
            "d1b36b6316c12824f6f04bf6b1fd1f021cade9b74871693b9c3474cd9fa7f4e6",
        ),
        (
            "longreq",
            "185739292bc676760e5b1cca77c87705aa570240171c506ad76f8c35af0ecdaa",
        ),
        (
            "dblreq",
            "a6be48426565c2a705389c4ce2ea17e57b891cb13f80490a2cb9392c797b46ef",
        ),
        (
            "semiuri",
            "87bbaed6b4b354dbd3c5c7a20e66686303c63e43a0aa19b89de1ac75231611a2",
        ),
        (
            "transports",
            "33b4553a3b9418121b099ff07882535151edd6a1e81898c63a916aad2cbf90bc",
        ),
        (
            "mpart01",
            "92147c8e24997bac59629e1b163767697d0d6d499af87f89e325d69968bec3ba",
        ),
        (
            "unreason",
            "4f939d6ebf4817eea70f011d3209e83732872ffc20ffd304b244084dc392f4d7",
        ),
        (
            "noreason",
            "07e11e470a69fffa3674de805e5165d1351a9439a91045ee70c9570ea24ab4fe",
        ),
    ];
    for (name, digest) in digests {
        let hex: String = Sha256::digest(fixture(name))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, digest, "{name}.sip differs from the RFC's archive");
    }
}

#[test]
fn every_fixture_is_covered() {
    let mut names: Vec<String> =
        std::fs::read_dir(format!("{}/tests/rfc4475", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .filter_map(|e| {
                e.unwrap()
                    .file_name()
                    .to_str()?
                    .strip_suffix(".sip")
                    .map(str::to_owned)
            })
            .collect();
    names.sort();
    let source = include_str!("rfc4475.rs");
    for name in &names {
        assert!(
            source.contains(&format!("\"{name}\"")),
            "{name}.sip is not tested"
        );
    }
    assert_eq!(
        names.len(),
        49,
        "RFC 4475 §3 has 49 messages: 13 valid, 19 invalid, 17 for the layers above"
    );
}
