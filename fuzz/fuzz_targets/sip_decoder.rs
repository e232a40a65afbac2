//! Arbitrary bytes, split into arbitrary chunks, through the streaming decoder and on into
//! the typed views of whatever it produces. Besides not panicking, the decoder must not care
//! where a read happened to split the stream.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sip_proto::auth::{AuthHeader, Credentials};
use sip_proto::{Decoder, FramingError, Headers, Item, Limits, Message, Response};

/// Small enough that short inputs reach every limit check.
const SMALL: Limits = Limits {
    max_head: 300,
    max_request_line: 80,
    max_headers: 8,
    max_body: 64,
};

fuzz_target!(|data: &[u8]| {
    for limits in [Limits::default(), SMALL] {
        let whole = run(data, limits, &[data.len()]);
        // The input's own bytes choose the read sizes, so the fuzzer steers the split points.
        let sizes: Vec<usize> = data.iter().map(|&b| usize::from(b % 32) + 1).collect();
        assert_eq!(
            run(data, limits, &sizes),
            whole,
            "the outcome depends on how reads split the stream"
        );
    }
});

#[derive(Debug, PartialEq)]
struct Outcome {
    items: Vec<Item>,
    error: Option<FramingError>,
    pending: bool,
}

fn run(data: &[u8], limits: Limits, sizes: &[usize]) -> Outcome {
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let mut rest = data;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(size.clamp(1, rest.len()));
        rest = tail;
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(item)) => {
                    exercise(&item);
                    items.push(item);
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = e.status();
                    return Outcome {
                        items,
                        error: Some(e),
                        pending: true,
                    };
                }
            }
        }
    }
    Outcome {
        items,
        error: None,
        pending: !decoder.is_between_messages(&buf),
    }
}

/// Runs the typed parsers a server would run on what the decoder produced.
fn exercise(item: &Item) {
    match item {
        Item::Message(message) => {
            let _ = message.to_bytes();
            match message {
                Message::Request(r) => {
                    let _ = (
                        r.vias(),
                        r.contacts(),
                        r.from(),
                        r.to(),
                        r.cseq(),
                        r.expires(),
                        r.max_forwards(),
                    );
                    credentials(&r.headers);
                    let _ = Response::for_request(r, 200).with_to_tag("fuzz").to_bytes();
                }
                Message::Response(r) => {
                    let _ = (
                        r.vias(),
                        r.contacts(),
                        r.from(),
                        r.to(),
                        r.cseq(),
                        r.expires(),
                    );
                    credentials(&r.headers);
                }
            }
        }
        Item::Rejected(rejected) => {
            let _ = rejected.response().map(|answer| answer.to_bytes());
        }
    }
}

fn credentials(headers: &Headers) {
    for name in ["Authorization", "Proxy-Authorization", "WWW-Authenticate"] {
        for value in headers.get_all(name) {
            if let Ok(auth) = AuthHeader::parse(value)
                && let Ok(c) = Credentials::from_header(&auth)
            {
                let _ = c.expected_response("0123456789abcdef", "REGISTER");
            }
        }
    }
}
