//! Arbitrary bytes into the XCCOS parser: it must never panic, and whatever it accepts must
//! serialise to a body that parses back to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use xccos::{Envelope, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(envelope) = Envelope::parse(data, &limits) {
        let xml = envelope.to_xml();
        // Escaping and defaulted attributes can make the output longer than the input.
        let unbounded = Limits {
            max_body_bytes: usize::MAX,
            ..limits
        };
        let again = Envelope::parse(xml.as_bytes(), &unbounded)
            .unwrap_or_else(|e| panic!("serialised envelope does not parse: {e}\n{xml}"));
        assert_eq!(again, envelope, "round trip changed the value\n{xml}");
    }
});
