//! Property tests: every request, response and fault survives write → parse unchanged
//! (strings with XML specials, whitespace and non-ASCII, any chunk bytes), and no input
//! makes either parser panic.

use mgc::{
    FaultCode, Limits, OperationName, Request, Response, SoapError, parse_request, parse_response,
    write_fault, write_request, write_response,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// What XML 1.0 can carry; the writer replaces anything else.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[<>&\"' \t\r\na-zA-Z0-9;#=/:.\u{e9}\u{4e2d}\u{1F600}\u{FFFD}]{0,24}",
        "[ \t\r\n]{0,4}(&[a-z]{1,4};|&#[0-9]{1,3};|]]>|<!--|<!\\[CDATA\\[){1,4}[ \t\r\n]{0,4}",
        any::<String>().prop_map(|s| s.chars().filter(|&c| xml_char(c)).take(64).collect()),
    ]
}

/// `xs:long` byte counts.
fn count() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), Just(i64::MAX as u64), 0..=i64::MAX as u64]
}

fn chunk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(Vec::new()), vec(any::<u8>(), 0..4096)]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (text(), text(), text()).prop_map(|(token, channel_id, extension)| {
            Request::RequestUniqueFilenameWithExtension {
                token,
                channel_id,
                extension,
            }
        }),
        (text(), text())
            .prop_map(|(token, channel_id)| Request::GetMaxFileSizeInKB { token, channel_id }),
        (text(), text()).prop_map(|(token, channel_id)| Request::GetMaxRequestContentInKB {
            token,
            channel_id
        }),
        (text(), text(), text(), chunk(), count(), count()).prop_map(
            |(token, channel_id, unique_filename, file_chunk, offset, file_length)| {
                Request::AppendChunk {
                    token,
                    channel_id,
                    unique_filename,
                    file_chunk,
                    offset,
                    file_length,
                }
            }
        ),
        (text(), text(), text()).prop_map(|(token, channel_id, repos_file_name)| {
            Request::GetFileSize {
                token,
                channel_id,
                repos_file_name,
            }
        }),
        (text(), text(), text(), count(), count()).prop_map(
            |(token, channel_id, repos_file_name, offset, buffer_size)| Request::DownloadChunk {
                token,
                channel_id,
                repos_file_name,
                offset,
                buffer_size,
            }
        ),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        text().prop_map(Response::UniqueFilename),
        any::<i64>().prop_map(Response::MaxFileSizeInKB),
        any::<i32>().prop_map(Response::MaxRequestContentInKB),
        any::<i64>().prop_map(Response::AppendChunk),
        any::<i64>().prop_map(Response::FileSize),
        chunk().prop_map(Response::DownloadChunk),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn requests_survive_write_then_parse(request in request()) {
        let body = write_request(&request);
        let limits = Limits::default();
        prop_assert_eq!(parse_request(None, &body, &limits), Ok(request.clone()));
        let action = request.soap_action();
        prop_assert_eq!(parse_request(Some(&action), &body, &limits), Ok(request.clone()));
        let quoted = format!("\"{action}\"");
        prop_assert_eq!(parse_request(Some(&quoted), &body, &limits), Ok(request.clone()));
        // Any other operation's SOAPAction is refused.
        for other in OperationName::ALL.into_iter().filter(|&op| op != request.operation()) {
            prop_assert_eq!(
                parse_request(Some(&other.soap_action()), &body, &limits),
                Err(SoapError::ActionMismatch { action: other, element: request.operation() })
            );
        }
    }

    #[test]
    fn responses_survive_write_then_parse(response in response()) {
        let body = write_response(&response);
        prop_assert_eq!(
            parse_response(response.operation(), &body, &Limits::default()),
            Ok(response)
        );
    }

    #[test]
    fn faults_survive_write_then_parse(
        server in any::<bool>(),
        reason in text(),
        operation in proptest::sample::select(OperationName::ALL.to_vec()),
    ) {
        let code = if server { FaultCode::Server } else { FaultCode::Client };
        prop_assert_eq!(
            parse_response(operation, &write_fault(code, &reason), &Limits::default()),
            Err(SoapError::Fault { code, reason })
        );
    }

    #[test]
    fn written_strings_lose_only_what_xml_cannot_carry(s in any::<String>()) {
        let request = Request::GetMaxFileSizeInKB { token: s.clone(), channel_id: String::new() };
        let unbounded = Limits { max_string_chars: usize::MAX, ..Limits::default() };
        let expected: String = s.chars().map(|c| if xml_char(c) { c } else { '\u{FFFD}' }).collect();
        prop_assert_eq!(
            parse_request(None, &write_request(&request), &unbounded),
            Ok(Request::GetMaxFileSizeInKB { token: expected, channel_id: String::new() })
        );
    }

    #[test]
    fn no_bytes_make_the_parsers_panic(body in vec(any::<u8>(), 0..512)) {
        let limits = Limits::default();
        let _ = parse_request(None, &body, &limits);
        for op in OperationName::ALL {
            let _ = parse_response(op, &body, &limits);
        }
    }

    #[test]
    fn no_mutation_of_a_valid_body_makes_the_parser_panic(
        request in request(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut body = write_request(&request);
        let i = at.index(body.len());
        body[i] = byte;
        let _ = parse_request(None, &body, &Limits::default());
    }
}
