//! Whatever decodes, once written out, decodes to the same message, and writing that copy
//! out again gives the same bytes.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sip_proto::{Decoder, Item, Limits, Message, name};

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(data);
    while let Ok(Some(item)) = decoder.decode(&mut buf) {
        if let Item::Message(message) = item {
            check(&message);
        }
    }
});

fn check(message: &Message) {
    let bytes = message.to_bytes();
    // Full header names and the added Content-Length line can make the copy longer than an
    // original that just fit the limits; the copy is judged on content, not size.
    let roomy = Limits {
        max_head: bytes.len(),
        max_request_line: bytes.len(),
        max_headers: usize::MAX,
        max_body: bytes.len(),
    };
    let mut buf = BytesMut::from(&bytes[..]);
    let copy = match Decoder::new(roomy).decode(&mut buf) {
        Ok(Some(Item::Message(copy))) => copy,
        other => panic!(
            "{other:?} from our own output:\n{}",
            String::from_utf8_lossy(&bytes)
        ),
    };
    assert!(buf.is_empty(), "our own output framed short: {buf:?}");
    // The serialiser always writes its own Content-Length, last; everything else is kept.
    assert_eq!(
        without_content_length(&copy),
        without_content_length(message)
    );
    assert_eq!(copy.to_bytes(), bytes);
}

fn without_content_length(message: &Message) -> Message {
    let mut message = message.clone();
    match &mut message {
        Message::Request(r) => r.headers.remove(name::CONTENT_LENGTH),
        Message::Response(r) => r.headers.remove(name::CONTENT_LENGTH),
    };
    message
}
