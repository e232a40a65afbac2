//! Property tests: what sip-proto writes, it reads back unchanged, however the bytes arrive;
//! and no input makes the decoder panic.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use sip_proto::headers::canonical_name;
use sip_proto::{
    CSeq, Decoder, Headers, Item, Limits, Message, Method, NameAddr, Params, Request, Response,
    ResponseMatch, Scheme, SipUri, Uri, Via, quote,
};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.!%*_+`'~-]{1,10}"
}

fn method() -> impl Strategy<Value = Method> {
    let known = prop::sample::select(vec![
        "REGISTER",
        "INVITE",
        "ACK",
        "BYE",
        "CANCEL",
        "OPTIONS",
        "INFO",
        "UPDATE",
        "MESSAGE",
        "SUBSCRIBE",
        "NOTIFY",
        "BENOTIFY",
        "SERVICE",
        "REFER",
        "PRACK",
        "PUBLISH",
    ])
    .prop_map(str::to_owned);
    // Through `Method::parse`, so that a random "INVITE" is `Method::Invite` as it would be read.
    prop_oneof![known, token()].prop_map(|m| Method::parse(&m).expect("a token is a method"))
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?(\\.[a-zA-Z]{1,6}){0,3}",
        any::<[u8; 4]>().prop_map(|a| std::net::Ipv4Addr::from(a).to_string()),
        any::<[u16; 8]>().prop_map(|a| format!("[{}]", std::net::Ipv6Addr::from(a))),
    ]
}

fn params(
    name: &'static str,
    value: impl Strategy<Value = String>,
) -> impl Strategy<Value = Params> {
    prop::collection::vec((name, prop::option::of(value)), 0..4).prop_map(|list| {
        let mut params = Params::default();
        for (n, v) in &list {
            params.set(n, v.as_deref());
        }
        params
    })
}

fn sip_uri(with_headers: bool) -> impl Strategy<Value = SipUri> {
    let user = "([a-zA-Z0-9_.!~*'()&=+$,;?/-]|%[0-9A-Fa-f]{2}){1,10}";
    let password = "([a-zA-Z0-9_.!~*'()&=+$,-]|%[0-9A-Fa-f]{2}){0,8}";
    let userinfo = prop::option::of((user, prop::option::of(password)));
    let headers = if with_headers {
        prop::option::of("[a-zA-Z0-9=&%:+$/-]{0,12}").boxed()
    } else {
        Just(None).boxed()
    };
    (
        prop::bool::ANY,
        userinfo,
        host(),
        prop::option::of(any::<u16>()),
        params("[a-z][a-z0-9-]{0,8}", "[a-zA-Z0-9._~-]{0,8}"),
        headers,
    )
        .prop_map(|(sips, userinfo, host, port, params, headers)| {
            let (user, password) = userinfo.map_or((None, None), |(u, p)| (Some(u), p));
            SipUri {
                scheme: if sips { Scheme::Sips } else { Scheme::Sip },
                user,
                password,
                host,
                port,
                params,
                headers,
            }
        })
}

fn display_name() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        "[ -~\u{e9}\u{4e00}-\u{4e10}]{0,12}".prop_map(|s| quote(&s)),
        prop::collection::vec(token(), 1..3).prop_map(|t| t.join(" ")),
    ])
}

fn header_param_value() -> impl Strategy<Value = String> {
    prop_oneof![token(), "[ -~\u{e9}]{0,10}".prop_map(|s| quote(&s))]
}

fn name_addr() -> impl Strategy<Value = NameAddr> {
    (
        display_name(),
        sip_uri(true),
        params("[A-Za-z0-9.!%*_+`'~-]{1,8}", header_param_value()),
    )
        .prop_map(|(display, uri, params)| NameAddr {
            display,
            uri: Uri::Sip(uri),
            params,
        })
}

fn with_tag(addr: NameAddr, tag: Option<String>) -> NameAddr {
    let mut addr = addr;
    if let Some(tag) = tag {
        addr.params.set("tag", Some(&tag));
    }
    addr
}

fn via() -> impl Strategy<Value = Via> {
    let transport = prop_oneof![
        prop::sample::select(vec!["UDP", "TCP", "TLS", "SCTP", "WS", "tcp"])
            .prop_map(str::to_owned),
        token(),
    ];
    let extra = params("[a-z][a-z0-9-]{0,8}", token());
    (
        transport,
        host(),
        prop::option::of(any::<u16>()),
        token(),
        prop::option::of(any::<[u8; 4]>()),
        extra,
    )
        .prop_map(|(transport, host, port, branch, received, extra)| {
            let mut params = Params::default();
            params.set("branch", Some(&format!("z9hG4bK{branch}")));
            if let Some(r) = received {
                params.set("received", Some(&std::net::Ipv4Addr::from(r).to_string()));
            }
            for (n, v) in extra.iter() {
                params.set(n, v);
            }
            Via {
                transport,
                host,
                port,
                params,
            }
        })
}

/// Header lines the parser takes without interpretation. Names come in the forms peers send
/// (any case, compact); values never start or end with linear white space, which is not part
/// of a value.
fn extra_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        "X-[A-Za-z0-9-]{1,10}",
        prop::sample::select(vec![
            "s",
            "Subject",
            "SUBJECT",
            "user-agent",
            "k",
            "supported",
            "Allow",
            "c",
            "e",
            "Server",
            "accept",
            "Warning",
        ])
        .prop_map(str::to_owned),
    ];
    let value = concat!(
        "([!-~\u{a0}-\u{2ff}\u{4e00}-\u{4e10}]",
        "([ \t!-~\u{a0}-\u{2ff}]{0,24}[!-~\u{a0}-\u{4e10}])?)?"
    );
    prop::collection::vec((name, value), 0..5)
}

fn body() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..300).prop_map(Bytes::from)
}

/// The header lines of a message, shuffled, from typed parts.
fn header_lines(
    vias: Vec<Via>,
    from: NameAddr,
    to: NameAddr,
    call_id: String,
    cseq: CSeq,
    contacts: Vec<NameAddr>,
    extra: Vec<(String, String)>,
) -> impl Strategy<Value = Vec<(String, String)>> {
    let mut lines = vec![
        ("From".to_owned(), from.to_string()),
        ("t".to_owned(), to.to_string()),
        ("i".to_owned(), call_id),
        ("CSeq".to_owned(), cseq.to_string()),
    ];
    // Vias keep their relative order: they are a stack, one line or several.
    let vias: Vec<String> = vias.iter().map(Via::to_string).collect();
    lines.push(("Via".to_owned(), vias.join(", ")));
    if !contacts.is_empty() {
        let contacts: Vec<String> = contacts.iter().map(NameAddr::to_string).collect();
        lines.push(("m".to_owned(), contacts.join(", ")));
    }
    lines.extend(extra);
    Just(lines).prop_shuffle()
}

fn headers(lines: &[(String, String)]) -> Headers {
    let mut headers = Headers::new();
    for (n, v) in lines {
        headers.push(n.as_str(), v.as_str());
    }
    headers
}

fn request() -> impl Strategy<Value = Request> {
    (
        method(),
        sip_uri(false),
        prop::collection::vec(via(), 1..4),
        name_addr(),
        prop::option::of(token()),
        name_addr(),
        prop::option::of(token()),
        "[a-zA-Z0-9.!%*_+`'~-]{1,20}(@[a-z0-9.-]{1,12})?",
        0u32..(1 << 31),
        prop::collection::vec(name_addr(), 0..3),
        extra_headers(),
        (body(), prop::option::of(any::<u8>())),
    )
        .prop_flat_map(
            |(
                method,
                uri,
                vias,
                from,
                from_tag,
                to,
                to_tag,
                call_id,
                seq,
                contacts,
                extra,
                (body, mf),
            )| {
                let cseq = CSeq {
                    seq,
                    method: method.clone(),
                };
                let mut extra = extra;
                if let Some(mf) = mf {
                    extra.push(("Max-Forwards".to_owned(), mf.to_string()));
                }
                let from = with_tag(from, from_tag.or(Some("f".into())));
                let to = with_tag(to, to_tag);
                header_lines(vias, from, to, call_id, cseq, contacts, extra).prop_map(
                    move |lines| Request {
                        method: method.clone(),
                        uri: Uri::Sip(uri.clone()),
                        headers: headers(&lines),
                        body: body.clone(),
                    },
                )
            },
        )
}

fn response() -> impl Strategy<Value = Response> {
    (
        100u16..700,
        "[ -~\u{e9}\u{4e00}-\u{4e10}]{0,20}",
        prop::collection::vec(via(), 1..4),
        name_addr(),
        name_addr(),
        prop::option::of(token()),
        "[a-zA-Z0-9.!%*_+`'~-]{1,20}",
        0u32..(1 << 31),
        method(),
        prop::collection::vec(name_addr(), 0..2),
        extra_headers(),
        body(),
    )
        .prop_flat_map(
            |(
                status,
                reason,
                vias,
                from,
                to,
                to_tag,
                call_id,
                seq,
                method,
                contacts,
                extra,
                body,
            )| {
                let cseq = CSeq { seq, method };
                let from = with_tag(from, Some("f".into()));
                let to = with_tag(to, to_tag);
                header_lines(vias, from, to, call_id, cseq, contacts, extra).prop_map(
                    move |lines| Response {
                        status,
                        reason: reason.clone(),
                        headers: headers(&lines),
                        body: body.clone(),
                    },
                )
            },
        )
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        request().prop_map(Message::Request),
        response().prop_map(Message::Response)
    ]
}

/// What reading `sent` back yields: names in canonical spelling and the Content-Length the
/// serialiser adds last.
fn as_received(sent: &Message) -> Message {
    let mut received = sent.clone();
    let (headers, body) = match &mut received {
        Message::Request(r) => (&mut r.headers, r.body.len()),
        Message::Response(r) => (&mut r.headers, r.body.len()),
    };
    let mut canonical = Headers::new();
    for h in headers.iter() {
        canonical.push(canonical_name(&h.name), h.value.as_str());
    }
    canonical.push("Content-Length", body.to_string());
    *headers = canonical;
    received
}

/// Feeds `bytes` to a fresh decoder in pieces of the given sizes (cycled), collecting items.
fn decode_in_pieces(bytes: &[u8], sizes: &[usize]) -> Vec<Item> {
    decode_taking(bytes, sizes, |_| false)
}

/// [`decode_in_pieces`], offering each response's head to `take` first.
fn decode_taking(bytes: &[u8], sizes: &[usize], mut take: impl FnMut(&[u8]) -> bool) -> Vec<Item> {
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let mut rest = bytes;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(size.clamp(1, rest.len()));
        rest = tail;
        buf.extend_from_slice(piece);
        while let Some(item) = decoder
            .decode_with(&mut buf, &mut take)
            .expect("a written message frames")
        {
            items.push(item);
        }
    }
    assert!(
        decoder.is_between_messages(&buf),
        "bytes left over: {buf:?}"
    );
    items
}

proptest! {
    #[test]
    fn messages_read_back_as_written(message in message()) {
        let items = decode_in_pieces(&message.to_bytes(), &[usize::MAX]);
        prop_assert_eq!(items, vec![Item::Message(as_received(&message))]);
    }

    #[test]
    fn a_stream_splits_into_the_same_messages_at_any_boundary(
        messages in prop::collection::vec((message(), prop::bool::ANY), 1..5),
        sizes in prop::collection::vec(1usize..200, 1..20),
    ) {
        let mut stream = Vec::new();
        for (m, keepalive) in &messages {
            if *keepalive {
                stream.extend_from_slice(b"\r\n\r\n");
            }
            stream.extend_from_slice(&m.to_bytes());
        }
        let expected: Vec<Item> =
            messages.iter().map(|(m, _)| Item::Message(as_received(m))).collect();
        prop_assert_eq!(decode_in_pieces(&stream, &sizes), expected);
    }

    #[test]
    fn a_response_matches_the_same_from_its_head_as_parsed(response in response()) {
        let bytes = response.to_bytes();
        let head_len = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a head");
        let Message::Response(parsed) = as_received(&Message::Response(response)) else {
            unreachable!("a response reads back as one");
        };
        let expected = ResponseMatch::of(&parsed);
        prop_assert!(expected.is_some(), "every response written has a branch and a CSeq");
        prop_assert_eq!(ResponseMatch::scan(&bytes[..head_len]), expected);
    }

    #[test]
    fn responses_taken_from_a_stream_leave_the_rest_in_order(
        messages in prop::collection::vec(message(), 1..6),
        sizes in prop::collection::vec(1usize..200, 1..20),
    ) {
        let stream: Vec<u8> = messages.iter().flat_map(Message::to_bytes).collect();
        let mut taken = Vec::new();
        let items = decode_taking(&stream, &sizes, |head| {
            taken.push(ResponseMatch::scan(head).map(|m| m.status));
            true
        });
        let requests: Vec<Item> = messages
            .iter()
            .filter(|m| matches!(m, Message::Request(_)))
            .map(|m| Item::Message(as_received(m)))
            .collect();
        let statuses: Vec<Option<u16>> = messages
            .iter()
            .filter_map(|m| match m {
                Message::Response(r) => Some(Some(r.status)),
                Message::Request(_) => None,
            })
            .collect();
        prop_assert_eq!(items, requests);
        prop_assert_eq!(taken, statuses);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        sizes in prop::collection::vec(1usize..300, 1..8),
    ) {
        feed_without_panicking(&bytes, &sizes);
    }

    #[test]
    fn damaged_messages_never_panic(
        message in message(),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        sizes in prop::collection::vec(1usize..300, 1..8),
    ) {
        let mut bytes = message.to_bytes();
        for (at, byte) in damage {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        feed_without_panicking(&bytes, &sizes);
    }

    #[test]
    fn sip_uri_display_parses_back(uri in sip_uri(true)) {
        prop_assert_eq!(Uri::parse(&uri.to_string()), Ok(Uri::Sip(uri)));
    }

    #[test]
    fn name_addr_display_parses_back(addr in name_addr()) {
        prop_assert_eq!(NameAddr::parse(&addr.to_string()), Ok(addr));
    }

    #[test]
    fn via_display_parses_back(via in via()) {
        prop_assert_eq!(Via::parse(&via.to_string()), Ok(via));
    }
}

/// Decodes until the bytes run out or framing fails; each item must say what it is.
fn feed_without_panicking(bytes: &[u8], sizes: &[usize]) {
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut rest = bytes;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            return;
        }
        let (piece, tail) = rest.split_at(size.clamp(1, rest.len()));
        rest = tail;
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Item::Message(m))) => {
                    let _ = m.to_bytes();
                }
                Ok(Some(Item::Rejected(r))) => {
                    let _ = r.response().map(|resp| resp.to_bytes());
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = e.status();
                    return;
                }
            }
        }
    }
}
