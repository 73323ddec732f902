//! Arbitrary bytes as an opening-handshake request (server side) and response (client
//! side). Must never panic; an accepted request must produce a 101 that the client-side
//! validator accepts for the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::wire::application::http1::{parse_request, parse_response, Scan};
use netlab::wire::application::websocket::handshake::{validate_request, validate_response, ServerPolicy};

fuzz_target!(|data: &[u8]| {
    let policy = ServerPolicy {
        protocols: vec!["chat".into()],
        allowed_origins: Some(vec!["http://example.com".into()]),
    };
    if let Ok(Scan::Complete { value, head_len }) = parse_request(data, 8192) {
        assert!(head_len <= data.len());
        match validate_request(&value, &policy) {
            Ok(accepted) => {
                let resp = accepted.response_bytes();
                let Ok(Scan::Complete { value: head, .. }) = parse_response(&resp, 8192) else {
                    panic!("our own 101 does not parse");
                };
                let offered = vec!["chat".to_owned()];
                assert!(validate_response(&head, &accepted.key, &offered).is_ok());
            }
            Err(rejection) => {
                assert!(matches!(rejection.status, 400 | 403 | 426));
                let _ = rejection.response_bytes();
            }
        }
    }
    if let Ok(Scan::Complete { value, .. }) = parse_response(data, 8192) {
        let _ = validate_response(&value, "dGhlIHNhbXBsZSBub25jZQ==", &[]);
    }
});
