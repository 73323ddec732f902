//! Arbitrary bytes into the WebSocket frame parser and message assembler, as a server
//! and as a client would read them. Must never panic, never claim more bytes than it was
//! given, and every header it accepts must re-encode to the same bytes when minimal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::wire::application::websocket::{
    Frame, FrameHeader, LengthEncoding, MessageAssembler, Parsed, Role,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(Parsed::Complete { value, header_len }) = FrameHeader::parse(data) {
        assert!(header_len <= data.len());
        assert_eq!(value.len(), header_len);
        if value.length_encoding == LengthEncoding::minimal(value.payload_len) {
            let mut again = Vec::new();
            value.emit(&mut again);
            assert_eq!(again, data[..header_len]);
        }
    }
    for role in [Role::Server, Role::Client] {
        let mut assembler = MessageAssembler::new(1 << 16);
        let mut rest = data;
        // Bounded: every complete frame consumes at least 2 bytes.
        while let Ok(Parsed::Complete { value, header_len }) = Frame::parse(rest, role, 1 << 16) {
            assert!(header_len >= 2 && header_len <= rest.len());
            rest = &rest[header_len..];
            if assembler.push(value).is_err() {
                break;
            }
        }
    }
});
