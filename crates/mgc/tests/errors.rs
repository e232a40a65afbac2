//! Bodies the parser must refuse, each with its typed error, and bodies it must tolerate.

use mgc::{
    FaultCode, Limits, OperationName, Request, Response, SoapError, parse_request, parse_response,
    write_fault, write_request,
};

const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";

fn envelope(body: &str) -> String {
    format!(r#"<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body>{body}</s:Body></s:Envelope>"#)
}

fn operation(name: &str, parameters: &str) -> String {
    envelope(&format!(
        r#"<{name} xmlns="http://www.microsoft.com">{parameters}</{name}>"#
    ))
}

fn file_size(parameters: &str) -> String {
    operation("GetFileSize", parameters)
}

const FILE_SIZE_PARAMETERS: &str =
    "<token>t</token><channelId>c</channelId><reposFileName>f.txt</reposFileName>";

fn append_chunk(chunk: &str, offset: &str, file_length: &str) -> String {
    operation(
        "AppendChunk",
        &format!(
            "<token>t</token><channelId>c</channelId><uniqueFilename>u.txt</uniqueFilename><fileChunk>{chunk}</fileChunk><offset>{offset}</offset><fileLength>{file_length}</fileLength>"
        ),
    )
}

fn parse(body: &str) -> Result<Request, SoapError> {
    parse_request(None, body.as_bytes(), &Limits::default())
}

fn file_size_request() -> Request {
    Request::GetFileSize {
        token: "t".into(),
        channel_id: "c".into(),
        repos_file_name: "f.txt".into(),
    }
}

#[test]
fn dtds_and_entity_declarations_are_refused() {
    let laughs = format!(
        "<!DOCTYPE s:Envelope [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\">]>{}",
        file_size("<token>&c;</token><channelId>c</channelId><reposFileName>f</reposFileName>")
    );
    assert_eq!(parse(&laughs), Err(SoapError::Doctype));
    let external = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        file_size("<token>&xxe;</token><channelId>c</channelId><reposFileName>f</reposFileName>")
    );
    assert_eq!(parse(&external), Err(SoapError::Doctype));
    let external_dtd = format!(
        "<!DOCTYPE s:Envelope SYSTEM \"http://attacker.example/x.dtd\">{}",
        file_size(FILE_SIZE_PARAMETERS)
    );
    assert_eq!(parse(&external_dtd), Err(SoapError::Doctype));
}

#[test]
fn undeclared_entities_are_refused_in_text_and_attributes() {
    assert_eq!(
        parse(&file_size(
            "<token>&xxe;</token><channelId>c</channelId><reposFileName>f</reposFileName>"
        )),
        Err(SoapError::UnknownEntity("xxe".into()))
    );
    assert_eq!(
        parse(&file_size(
            "<token x=\"&xxe;\">t</token><channelId>c</channelId><reposFileName>f</reposFileName>"
        )),
        Err(SoapError::UnknownEntity("xxe".into()))
    );
    assert_eq!(
        parse(&file_size(&format!("{FILE_SIZE_PARAMETERS}<x>&nbsp;</x>"))),
        Err(SoapError::UnknownEntity("nbsp".into()))
    );
}

#[test]
fn predefined_entities_character_references_and_cdata_are_resolved() {
    let request = parse(&file_size(
        "<token>a&lt;&#x42;&#67;<![CDATA[<d>]]>&amp;&quot;&apos;&gt;</token><channelId>c&#13;&#10;d\r\ne\rf</channelId><reposFileName>f.txt</reposFileName>",
    ));
    assert_eq!(
        request,
        Ok(Request::GetFileSize {
            token: "a<BC<d>&\"'>".into(),
            channel_id: "c\r\nd\ne\nf".into(),
            repos_file_name: "f.txt".into(),
        }),
        "raw line ends are normalised, referenced ones kept"
    );
}

#[test]
fn processing_instructions_are_refused_but_the_declaration_is_not() {
    let body = file_size(FILE_SIZE_PARAMETERS);
    assert_eq!(
        parse(&format!(
            "<?xml version=\"1.0\"?><?xml-stylesheet href=\"x\"?>{body}"
        )),
        Err(SoapError::ProcessingInstruction("xml-stylesheet".into()))
    );
    assert_eq!(
        parse(&envelope("<?php x?>")),
        Err(SoapError::ProcessingInstruction("php".into()))
    );
    assert_eq!(
        parse(&format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>{body}")),
        Ok(file_size_request())
    );
    assert_eq!(
        parse(&format!("\u{FEFF}<?xml version=\"1.0\"?>\r\n{body}\r\n")),
        Ok(file_size_request()),
        "a byte order mark and surrounding line ends are fine"
    );
    assert_eq!(
        parse(&format!(" <?xml version=\"1.0\"?>{body}")),
        Err(SoapError::MisplacedDeclaration)
    );
}

#[test]
fn soap_action_and_body_must_agree() {
    let body = file_size(FILE_SIZE_PARAMETERS);
    assert_eq!(
        parse_request(
            Some("http://www.microsoft.com/DownloadChunk"),
            body.as_bytes(),
            &Limits::default()
        ),
        Err(SoapError::ActionMismatch {
            action: OperationName::DownloadChunk,
            element: OperationName::GetFileSize,
        })
    );
    assert_eq!(
        parse_request(
            Some("\"http://www.microsoft.com/DeleteFile\""),
            body.as_bytes(),
            &Limits::default()
        ),
        Err(SoapError::UnknownOperation("DeleteFile".into()))
    );
}

#[test]
fn the_operation_must_be_known_and_in_its_namespace() {
    assert_eq!(
        parse(&operation("DeleteFile", FILE_SIZE_PARAMETERS)),
        Err(SoapError::UnknownOperation("DeleteFile".into()))
    );
    assert_eq!(
        parse(&envelope(&format!(
            r#"<GetFileSize xmlns="http://tempuri.org/">{FILE_SIZE_PARAMETERS}</GetFileSize>"#
        ))),
        Err(SoapError::WrongNamespace("GetFileSize".into()))
    );
    assert_eq!(
        parse(&envelope(&format!(
            "<GetFileSize>{FILE_SIZE_PARAMETERS}</GetFileSize>"
        ))),
        Err(SoapError::WrongNamespace("GetFileSize".into()))
    );
    // Parameters outside the operation's namespace are not its parameters.
    assert_eq!(
        parse(&envelope(
            r#"<m:GetFileSize xmlns:m="http://www.microsoft.com"><token>t</token><m:channelId>c</m:channelId><m:reposFileName>f</m:reposFileName></m:GetFileSize>"#
        )),
        Err(SoapError::MissingElement("token"))
    );
}

#[test]
fn prefixes_are_resolved_not_matched() {
    let body = format!(
        r#"<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:m="http://www.microsoft.com"><soapenv:Header/><soapenv:Body><m:GetFileSize><m:token>t</m:token><m:channelId>c</m:channelId><m:reposFileName>f.txt</m:reposFileName></m:GetFileSize></soapenv:Body></soapenv:Envelope>"#
    );
    assert_eq!(parse(&body), Ok(file_size_request()));
    let wrong = format!(
        r#"<s:Envelope xmlns:s="urn:not-soap"><s:Body>{}</s:Body></s:Envelope>"#,
        "<x/>"
    );
    assert_eq!(parse(&wrong), Err(SoapError::NotSoap11));
    assert!(matches!(
        parse(&format!(
            "<q:Envelope xmlns:s=\"{SOAP_ENV}\"><q:Body/></q:Envelope>"
        )),
        Err(SoapError::Malformed(_))
    ));
}

#[test]
fn only_soap_1_1_envelopes_are_read() {
    let soap12 = format!(
        r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><GetFileSize xmlns="http://www.microsoft.com">{FILE_SIZE_PARAMETERS}</GetFileSize></env:Body></env:Envelope>"#
    );
    assert_eq!(parse(&soap12), Err(SoapError::Soap12));
    assert_eq!(
        parse(&format!(
            "<GetFileSize xmlns=\"http://www.microsoft.com\">{FILE_SIZE_PARAMETERS}</GetFileSize>"
        )),
        Err(SoapError::NotSoap11)
    );
}

#[test]
fn the_envelope_must_carry_one_body_with_one_element() {
    assert_eq!(
        parse(&format!("<s:Envelope xmlns:s=\"{SOAP_ENV}\"/>")),
        Err(SoapError::MissingBody)
    );
    assert_eq!(
        parse(&format!(
            "<s:Envelope xmlns:s=\"{SOAP_ENV}\"><s:Header/></s:Envelope>"
        )),
        Err(SoapError::MissingBody)
    );
    assert_eq!(parse(&envelope("")), Err(SoapError::EmptyBody));
    assert_eq!(parse(&envelope(" \r\n ")), Err(SoapError::EmptyBody));
    let one = file_size(FILE_SIZE_PARAMETERS);
    let inner = one
        .split_once("<s:Body>")
        .and_then(|(_, rest)| rest.split_once("</s:Body>"))
        .map(|(inner, _)| inner.to_owned())
        .unwrap();
    assert_eq!(
        parse(&envelope(&format!("{inner}{inner}"))),
        Err(SoapError::SeveralBodyElements)
    );
    assert_eq!(
        parse(&format!(
            "<s:Envelope xmlns:s=\"{SOAP_ENV}\"><s:Body>{inner}</s:Body><s:Body/></s:Envelope>"
        )),
        Err(SoapError::DuplicateBody)
    );
}

#[test]
fn headers_are_ignored_unless_they_must_be_understood() {
    let body = |header: &str| {
        format!(
            "<s:Envelope xmlns:s=\"{SOAP_ENV}\"><s:Header>{header}</s:Header><s:Body><GetFileSize xmlns=\"http://www.microsoft.com\">{FILE_SIZE_PARAMETERS}</GetFileSize></s:Body></s:Envelope>"
        )
    };
    assert_eq!(
        parse(&body("<x:Trace xmlns:x=\"urn:x\"><x:id>1</x:id></x:Trace>")),
        Ok(file_size_request())
    );
    assert_eq!(
        parse(&body("<x:Trace xmlns:x=\"urn:x\" s:mustUnderstand=\"0\"/>")),
        Ok(file_size_request())
    );
    assert_eq!(
        parse(&body(
            "<w:Security xmlns:w=\"urn:wsse\" s:mustUnderstand=\"1\"><w:UsernameToken/></w:Security>"
        )),
        Err(SoapError::MustUnderstand("Security".into()))
    );
}

#[test]
fn unknown_children_are_ignored_and_order_does_not_matter() {
    let request = parse(&file_size(
        "<reposFileName>f.txt</reposFileName><extra><deeper>x</deeper></extra><channelId>c</channelId><!-- note --><token>t</token>",
    ));
    assert_eq!(request, Ok(file_size_request()));
}

#[test]
fn every_missing_parameter_is_named() {
    let cases: [(Request, &[&'static str]); 6] = [
        (
            Request::RequestUniqueFilenameWithExtension {
                token: "t".into(),
                channel_id: "c".into(),
                extension: "txt".into(),
            },
            &["token", "channelId", "extension"],
        ),
        (
            Request::GetMaxFileSizeInKB {
                token: "t".into(),
                channel_id: "c".into(),
            },
            &["token", "channelId"],
        ),
        (
            Request::GetMaxRequestContentInKB {
                token: "t".into(),
                channel_id: "c".into(),
            },
            &["token", "channelId"],
        ),
        (
            Request::AppendChunk {
                token: "t".into(),
                channel_id: "c".into(),
                unique_filename: "u.txt".into(),
                file_chunk: b"abc".to_vec(),
                offset: 0,
                file_length: 3,
            },
            &[
                "token",
                "channelId",
                "uniqueFilename",
                "fileChunk",
                "offset",
                "fileLength",
            ],
        ),
        (
            file_size_request(),
            &["token", "channelId", "reposFileName"],
        ),
        (
            Request::DownloadChunk {
                token: "t".into(),
                channel_id: "c".into(),
                repos_file_name: "f.txt".into(),
                offset: 0,
                buffer_size: 3,
            },
            &[
                "token",
                "channelId",
                "reposFileName",
                "offset",
                "bufferSize",
            ],
        ),
    ];
    for (request, parameters) in cases {
        let body = String::from_utf8(write_request(&request)).unwrap();
        assert_eq!(parse(&body).as_ref(), Ok(&request));
        for &name in parameters {
            let without = remove_element(&body, name);
            assert_eq!(
                parse(&without),
                Err(SoapError::MissingElement(name)),
                "{without}"
            );
        }
    }
}

fn remove_element(body: &str, name: &str) -> String {
    let start = body.find(&format!("<{name}>")).unwrap();
    let close = format!("</{name}>");
    let end = start + body[start..].find(&close).unwrap() + close.len();
    format!("{}{}", &body[..start], &body[end..])
}

#[test]
fn a_parameter_may_appear_once_and_hold_only_text() {
    assert_eq!(
        parse(&file_size(&format!(
            "{FILE_SIZE_PARAMETERS}<token>u</token>"
        ))),
        Err(SoapError::DuplicateElement("token"))
    );
    assert_eq!(
        parse(&file_size(
            "<token><b>t</b></token><channelId>c</channelId><reposFileName>f</reposFileName>"
        )),
        Err(SoapError::UnexpectedElement("token"))
    );
}

#[test]
fn numbers_must_be_non_negative_longs() {
    let chunk = append_chunk;
    for bad in [
        "",
        "abc",
        "1.5",
        "0x10",
        "1e3",
        "9223372036854775808",
        "- 1",
        "１",
    ] {
        assert_eq!(
            parse(&chunk("", bad, "0")),
            Err(SoapError::InvalidNumber("offset")),
            "{bad:?}"
        );
    }
    assert_eq!(
        parse(&chunk("", "0", "-1")),
        Err(SoapError::NegativeNumber("fileLength"))
    );
    assert_eq!(
        parse(&chunk("", "-9223372036854775808", "0")),
        Err(SoapError::NegativeNumber("offset"))
    );
    let Ok(Request::AppendChunk {
        offset,
        file_length,
        ..
    }) = parse(&chunk("", " \r\n+7\t", "9223372036854775807"))
    else {
        panic!("whitespace around a number and a leading + are XML Schema's")
    };
    assert_eq!((offset, file_length), (7, i64::MAX as u64));
    let body = operation(
        "DownloadChunk",
        "<token>t</token><channelId>c</channelId><reposFileName>f</reposFileName><offset>0</offset><bufferSize>-43</bufferSize>",
    );
    assert_eq!(parse(&body), Err(SoapError::NegativeNumber("bufferSize")));
}

#[test]
fn chunks_are_standard_padded_base64_with_whitespace_allowed() {
    let chunk_of = |text: &str| match parse(&append_chunk(text, "0", "0")) {
        Ok(Request::AppendChunk { file_chunk, .. }) => Ok(file_chunk),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e),
    };
    assert_eq!(chunk_of(""), Ok(Vec::new()));
    assert_eq!(chunk_of("QUJD\r\nREVG\r\nRw=="), Ok(b"ABCDEFG".to_vec()));
    assert_eq!(chunk_of("QUJD&#13;&#10;REVG"), Ok(b"ABCDEF".to_vec()));
    assert_eq!(chunk_of("QU<![CDATA[JD]]>"), Ok(b"ABC".to_vec()));
    assert_eq!(
        parse(&append_chunk("", "0", "0")).map(|r| r.operation()),
        Ok(OperationName::AppendChunk),
        "a zero-byte file is one empty chunk"
    );
    for bad in ["QUJ", "QQ", "QUJD=", "QQ==QUJD", "QU_D", "QU-D", "QR=="] {
        assert_eq!(
            chunk_of(bad),
            Err(SoapError::InvalidBase64("fileChunk")),
            "{bad:?}"
        );
    }
}

#[test]
fn oversize_bodies_chunks_and_strings_are_refused() {
    let limits = Limits {
        max_body_bytes: 1000,
        max_chunk_bytes: 6,
        max_string_chars: 8,
        max_depth: 8,
    };
    let parse_with = |body: &str| parse_request(None, body.as_bytes(), &limits);
    let body = append_chunk(&"QUJD".repeat(200), "0", "0");
    assert_eq!(
        parse_with(&body),
        Err(SoapError::BodyTooLarge {
            size: body.len(),
            limit: 1000
        })
    );
    assert!(parse_with(&append_chunk("QUJDREVG", "0", "6")).is_ok());
    assert_eq!(
        parse_with(&append_chunk("QUJDREVGRw==", "0", "7")),
        Err(SoapError::ChunkTooLarge {
            element: "fileChunk",
            limit: 6
        })
    );
    // Not even decodable, and still refused for its size first: nothing over the limit is
    // decoded.
    assert_eq!(
        parse_with(&append_chunk("!!!!!!!!!!!!", "0", "7")),
        Err(SoapError::ChunkTooLarge {
            element: "fileChunk",
            limit: 6
        })
    );
    assert!(
        parse_with(&file_size(
            "<token>ééééé中中中</token><channelId>c</channelId><reposFileName>f</reposFileName>"
        ))
        .is_ok()
    );
    assert_eq!(
        parse_with(&file_size(
            "<token>123456789</token><channelId>c</channelId><reposFileName>f</reposFileName>"
        )),
        Err(SoapError::StringTooLong {
            element: "token",
            limit: 8
        })
    );
}

#[test]
fn limits_for_a_chunk_size_admit_exactly_such_chunks() {
    let limits = Limits::for_chunk(3 * 1024);
    let chunk = vec![0xA5; 3 * 1024];
    let request = Request::AppendChunk {
        token: "t".repeat(limits.max_string_chars),
        channel_id: "c".repeat(limits.max_string_chars),
        unique_filename: "u".repeat(limits.max_string_chars),
        file_chunk: chunk.clone(),
        offset: u64::MAX >> 1,
        file_length: u64::MAX >> 1,
    };
    let body = write_request(&request);
    assert!(body.len() <= limits.max_body_bytes);
    assert_eq!(parse_request(None, &body, &limits), Ok(request));
    let mut bigger = chunk;
    bigger.push(0);
    let body = write_request(&Request::AppendChunk {
        token: "t".into(),
        channel_id: "c".into(),
        unique_filename: "u".into(),
        file_chunk: bigger,
        offset: 0,
        file_length: 0,
    });
    assert_eq!(
        parse_request(None, &body, &limits),
        Err(SoapError::ChunkTooLarge {
            element: "fileChunk",
            limit: 3 * 1024
        })
    );
}

#[test]
fn deep_nesting_is_refused_wherever_it_is() {
    let deep = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
    let in_header = format!(
        "<s:Envelope xmlns:s=\"{SOAP_ENV}\"><s:Header>{}</s:Header><s:Body/></s:Envelope>",
        deep(100)
    );
    assert_eq!(parse(&in_header), Err(SoapError::TooDeep { limit: 8 }));
    // Envelope, Body and GetFileSize are three levels.
    let in_parameters = file_size(&format!("{FILE_SIZE_PARAMETERS}{}", deep(6)));
    assert_eq!(parse(&in_parameters), Err(SoapError::TooDeep { limit: 8 }));
    let just_fits = file_size(&format!("{FILE_SIZE_PARAMETERS}{}", deep(5)));
    assert_eq!(parse(&just_fits), Ok(file_size_request()));
}

#[test]
fn every_truncation_is_refused() {
    let body = String::from_utf8(write_request(&file_size_request())).unwrap();
    for end in 0..body.len() {
        let truncated = &body[..end];
        assert!(
            parse(truncated).is_err(),
            "a body cut at {end} bytes was accepted: {truncated}"
        );
    }
    assert_eq!(
        parse(&body[..body.len() - "</soap:Envelope>".len()]),
        Err(SoapError::UnexpectedEof)
    );
    assert_eq!(parse(""), Err(SoapError::UnexpectedEof));
}

#[test]
fn not_well_formed_is_refused() {
    let good = file_size(FILE_SIZE_PARAMETERS);
    assert_eq!(parse(&format!("{good}<x/>")), Err(SoapError::OutsideRoot));
    assert_eq!(parse(&format!("{good}x")), Err(SoapError::OutsideRoot));
    assert_eq!(parse(&format!("x{good}")), Err(SoapError::OutsideRoot));
    assert_eq!(parse(&format!("&amp;{good}")), Err(SoapError::OutsideRoot));
    for bad in [
        good.replace("</token>", "</tokn>"),
        good.replace("<token>", "<token a=\"1\" a=\"2\">"),
        good.replace("<token>", "<token a>"),
        good.replace("<token>t", "<token>t<!-- a -- b -->"),
        good.replace("<token>t", "<token>a & b"),
        good.replace("<token>t", "<token>a < b"),
    ] {
        assert!(
            matches!(parse(&bad), Err(SoapError::Malformed(_))),
            "{bad}: {:?}",
            parse(&bad)
        );
    }
    assert_eq!(
        parse(&good.replace("<token>t", "<token>&#1;")),
        Err(SoapError::InvalidCharacter(1))
    );
    assert_eq!(
        parse(&good.replace("<token>t", "<token>\u{1}")),
        Err(SoapError::InvalidCharacter(1))
    );
    assert_eq!(
        parse(&good.replace("<token>", "<token a=\"\u{FFFE}\">")),
        Err(SoapError::InvalidCharacter(0xFFFE))
    );
}

#[test]
fn only_utf8_is_read() {
    let good = file_size(FILE_SIZE_PARAMETERS);
    let mut latin1 = good.replace("<token>t", "<token>\u{e9}").into_bytes();
    let at = latin1.windows(2).position(|w| w == "é".as_bytes()).unwrap();
    latin1.splice(at..at + 2, [0xE9]);
    assert_eq!(
        parse_request(None, &latin1, &Limits::default()),
        Err(SoapError::NotUtf8)
    );
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(good.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    assert_eq!(
        parse_request(None, &utf16, &Limits::default()),
        Err(SoapError::NotUtf8)
    );
    assert_eq!(
        parse(&format!(
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>{good}"
        )),
        Err(SoapError::NotUtf8),
        "a declaration naming another encoding means other characters than we would read"
    );
    assert_eq!(
        parse(&format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{good}")),
        Ok(file_size_request())
    );
}

#[test]
fn responses_must_answer_the_operation_asked() {
    let body = mgc::write_response(&Response::FileSize(1));
    assert_eq!(
        parse_response(OperationName::AppendChunk, &body, &Limits::default()),
        Err(SoapError::UnexpectedResponse {
            expected: OperationName::AppendChunk,
            element: "GetFileSizeResponse".into()
        })
    );
    let empty = envelope(r#"<GetFileSizeResponse xmlns="http://www.microsoft.com"/>"#);
    assert_eq!(
        parse_response(
            OperationName::GetFileSize,
            empty.as_bytes(),
            &Limits::default()
        ),
        Err(SoapError::MissingElement("GetFileSizeResult"))
    );
    let big = envelope(
        r#"<GetMaxRequestContentInKBResponse xmlns="http://www.microsoft.com"><GetMaxRequestContentInKBResult>2147483648</GetMaxRequestContentInKBResult></GetMaxRequestContentInKBResponse>"#,
    );
    assert_eq!(
        parse_response(
            OperationName::GetMaxRequestContentInKB,
            big.as_bytes(),
            &Limits::default()
        ),
        Err(SoapError::InvalidNumber("GetMaxRequestContentInKBResult"))
    );
}

#[test]
fn faults_parse_back_whatever_the_stack_that_wrote_them() {
    for op in OperationName::ALL {
        assert_eq!(
            parse_response(
                op,
                &write_fault(FaultCode::Client, "token expired"),
                &Limits::default()
            ),
            Err(SoapError::Fault {
                code: FaultCode::Client,
                reason: "token expired".into()
            })
        );
    }
    // As ASP.NET writes them: other prefixes, a detail element, dotted codes.
    let asp_net = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body><soap:Fault><faultcode>soap:Server.Database</faultcode><faultstring>Server was unable to process request. ---&gt; boom</faultstring><detail><x>1</x></detail></soap:Fault></soap:Body></soap:Envelope>"#;
    assert_eq!(
        parse_response(
            OperationName::AppendChunk,
            asp_net.as_bytes(),
            &Limits::default()
        ),
        Err(SoapError::Fault {
            code: FaultCode::Server,
            reason: "Server was unable to process request. ---> boom".into()
        })
    );
    let no_reason = envelope("<s:Fault><faultcode>s:Client</faultcode></s:Fault>");
    assert_eq!(
        parse_response(
            OperationName::AppendChunk,
            no_reason.as_bytes(),
            &Limits::default()
        ),
        Err(SoapError::MissingElement("faultstring"))
    );
}

#[test]
fn error_reasons_are_short_and_name_only_the_request() {
    let errors = [
        parse(&envelope("")).unwrap_err(),
        parse(&append_chunk("QUJ", "0", "0")).unwrap_err(),
        parse(&append_chunk("", "x", "0")).unwrap_err(),
        parse_request(Some("x"), b"", &Limits::default()).unwrap_err(),
    ];
    let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        reasons,
        [
            "the Body carries no element",
            "`fileChunk` is not valid base64",
            "`offset` is not a number",
            "unknown operation `x`",
        ]
    );
}

#[test]
fn names_quoted_back_are_cut_short() {
    let name = "X".repeat(100_000);
    let error = parse(&operation(&name, "")).unwrap_err();
    assert_eq!(
        error,
        SoapError::UnknownOperation(format!("{}…", "X".repeat(100)))
    );
    let error = parse_request(Some(&name), b"", &Limits::default()).unwrap_err();
    assert!(error.to_string().len() < 150, "{error}");
}
