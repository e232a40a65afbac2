//! Arbitrary bytes into the MGCWebService parsers, as a request and as the answer to each
//! operation: they must never panic, and whatever they accept must write to a body that
//! parses back to the same value (a fault to the same code and reason).

#![no_main]

use libfuzzer_sys::fuzz_target;
use mgc::{
    Limits, OperationName, SoapError, parse_request, parse_response, write_fault, write_request,
    write_response,
};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    // Escaping can make the output longer than the input.
    let unbounded = Limits {
        max_body_bytes: usize::MAX,
        ..limits
    };
    if let Ok(request) = parse_request(None, data, &limits) {
        let body = write_request(&request);
        let again = parse_request(Some(&request.soap_action()), &body, &unbounded)
            .unwrap_or_else(|e| panic!("written request does not parse: {e}\n{body:?}"));
        assert_eq!(again, request, "round trip changed the request");
    }
    for operation in OperationName::ALL {
        match parse_response(operation, data, &limits) {
            Ok(response) => {
                let again = parse_response(operation, &write_response(&response), &unbounded);
                assert_eq!(again, Ok(response), "round trip changed the response");
            }
            Err(SoapError::Fault { code, reason }) => {
                let again = parse_response(operation, &write_fault(code, &reason), &unbounded);
                assert_eq!(
                    again,
                    Err(SoapError::Fault { code, reason }),
                    "round trip changed the fault"
                );
            }
            Err(_) => {}
        }
    }
});
