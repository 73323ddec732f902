//! Arbitrary messages into the Socket.IO decoder. The input is a list of records: a byte
//! whose low bit says text or binary, a length byte, then that many bytes. Must never panic;
//! a packet it accepts must encode and decode back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::wire::application::socketio::{Decoder, EngineMessage, Limits};

fn messages(mut data: &[u8]) -> Vec<EngineMessage> {
    let mut out = Vec::new();
    while let [kind, len, rest @ ..] = data {
        let n = usize::from(*len).min(rest.len());
        let bytes = rest[..n].to_vec();
        data = &rest[n..];
        out.push(if kind & 1 == 0 {
            EngineMessage::Text(String::from_utf8_lossy(&bytes).into_owned())
        } else {
            EngineMessage::Binary(bytes)
        });
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_attachments: 4, max_attachment_bytes: 512 };
    let mut decoder = Decoder::new(limits);
    for message in messages(data) {
        if let Ok(Some(packet)) = decoder.push(message) {
            let mut again = Decoder::new(Limits::default());
            let mut decoded = None;
            for m in packet.encode() {
                decoded = again.push(m).expect("an encoded packet decodes");
            }
            assert_eq!(decoded.as_ref(), Some(&packet));
        }
    }
});
