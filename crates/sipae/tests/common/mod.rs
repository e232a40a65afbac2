//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test crate uses its own subset

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sip_proto::{HeadLimits, Message};

pub fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test vectors are hex")
}

pub fn hex16(s: &str) -> [u8; 16] {
    hex(s).try_into().unwrap()
}

pub fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// A fixed "now" for tests that do not depend on a recorded time.
pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// Parses a complete SIP head written with `\r\n` line ends and a final blank line.
pub fn sip(text: &str) -> Message {
    let head = text
        .strip_suffix("\r\n\r\n")
        .expect("head ends with a blank line");
    sip_proto::parse(
        head.as_bytes(),
        bytes::Bytes::new(),
        HeadLimits {
            max_request_line: 4096,
            max_headers: 100,
        },
    )
    .expect("valid SIP")
}
