//! Arbitrary bytes as an Engine.IO long-polling body and as a WebSocket text frame's
//! packet. Must never panic; every payload it accepts must encode back to a body that
//! decodes to the same packets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::wire::application::engineio::{decode_payload, encode_payload, Packet, PayloadLimits};

fuzz_target!(|data: &[u8]| {
    let limits = PayloadLimits {
        max_bytes: 1 << 16,
        max_packets: 256,
    };
    if let Ok(packets) = decode_payload(data, limits) {
        assert!(packets.len() <= 256);
        let again = encode_payload(&packets);
        assert_eq!(
            decode_payload(
                again.as_bytes(),
                PayloadLimits {
                    max_bytes: 1 << 20,
                    max_packets: 256
                }
            ),
            Ok(packets)
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Packet::decode_text(text);
    }
});
