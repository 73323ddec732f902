//! Arbitrary bytes into a connection that agreed permessage-deflate (RFC 7692), as a
//! server (with and without context takeover): the first byte picks the agreement, the
//! rest is what the peer sent, RSV1 frames and all. Must never panic, never hand out a
//! message over the limit (a small frame may claim to inflate to gigabytes), and every
//! text message it hands out must be UTF-8. A second pass feeds the same bytes to the
//! inflater directly, as one compressed message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::wire::application::websocket::deflate::{Agreement, Inflater};
use netlab::wire::application::websocket::{Connection, Event, Limits, MessageKind, Role};

const MAX: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let agreement = Agreement {
        client_no_context_takeover: pick & 1 != 0,
        server_no_context_takeover: pick & 2 != 0,
        ..Agreement::default()
    };
    let limits = Limits {
        max_message: MAX,
        max_output: 1 << 20,
    };
    let mut conn = Connection::new(
        Role::Server,
        limits,
        Box::new(|| -> [u8; 4] { unreachable!("a server never masks") }),
    )
    .with_deflate(agreement, 0);
    conn.receive(bytes);
    conn.receive_eof();
    // Bounded: every event consumes input, and a violation or EOF ends it.
    for _ in 0..bytes.len() + 2 {
        match conn.next_event() {
            Some(Event::Message(m)) => {
                assert!(m.payload.len() <= MAX);
                if m.kind == MessageKind::Text {
                    assert!(std::str::from_utf8(&m.payload).is_ok());
                }
            }
            Some(Event::Violation(_)) | Some(Event::Eof) | None => break,
            Some(_) => {}
        }
        let n = conn.output().len();
        conn.consume_output(n);
    }
    let mut out = Vec::new();
    let _ = Inflater::new(agreement.of(Role::Client)).inflate(bytes, true, MAX, &mut out);
    // The limit holds as the message grows: at most one inflate step past it.
    assert!(out.len() <= MAX + 16 * 1024);
});
