//! `cargo +nightly fuzz run ws_stream`: the WebSocket side of `wire::dissect::app::AppDecoder`.
//! A valid Upgrade and `101 Switching Protocols` (with permessage-deflate or not) put the
//! decoder in WebSocket mode; then arbitrary bytes arrive as frames from both sides, cut
//! at arbitrary places: any header, any claimed length (up to 2^63), masks, RSV bits,
//! fragments, control frames, close payloads. It must never panic or buffer without
//! bound, and each frame it reports must start within the bytes fed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::wire::dissect::app::{AppDecoder, AppEvent, AppMessage};
use netlab::wire::dissect::flow::{Direction, Piece};

const REQUEST: &[u8] =
    b"GET /f HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

/// Feed `bytes` as the next piece of `dir`'s stream.
fn feed(
    app: &mut AppDecoder,
    offsets: &mut [u64; 2],
    dir: Direction,
    bytes: &[u8],
    events: &mut Vec<AppEvent>,
) {
    let i = dir as usize;
    app.piece(
        dir,
        Piece::Data {
            offset: offsets[i],
            bytes,
        },
        events,
    );
    offsets[i] += bytes.len() as u64;
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, data)) = data.split_first() else {
        return;
    };
    let mut app = AppDecoder::new(1024);
    let mut events = Vec::new();
    let mut offsets = [0u64; 2];
    feed(
        &mut app,
        &mut offsets,
        Direction::AToB,
        REQUEST,
        &mut events,
    );
    feed(
        &mut app,
        &mut offsets,
        Direction::BToA,
        RESPONSE,
        &mut events,
    );
    let ext: &[u8] = if first & 1 == 1 {
        b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
    } else {
        b"\r\n"
    };
    feed(&mut app, &mut offsets, Direction::BToA, ext, &mut events);
    assert!(
        events.iter().any(|e| matches!(
            e.message,
            AppMessage::HttpResponse {
                switches_to_websocket: true,
                ..
            }
        )),
        "the handshake switches to WebSocket"
    );
    events.clear();
    let mut rest = data;
    // Each record: a control byte (bit 0: direction, bits 1..: length), then the bytes.
    while let Some((&ctl, tail)) = rest.split_first() {
        let dir = if ctl & 1 == 0 {
            Direction::AToB
        } else {
            Direction::BToA
        };
        let n = usize::from(ctl >> 1).min(tail.len());
        let (bytes, after) = tail.split_at(n);
        rest = after;
        feed(&mut app, &mut offsets, dir, bytes, &mut events);
        for e in events.drain(..) {
            assert!(
                e.offset <= offsets[e.direction as usize],
                "a frame within the stream"
            );
            if let AppMessage::WebSocketFrame {
                payload_hex,
                payload_text,
                ..
            } = &e.message
            {
                let shown = payload_hex.as_ref().map_or(0, |h| h.len() / 2)
                    + payload_text.as_ref().map_or(0, |t| t.len());
                assert!(shown <= 2 * 256, "previews stay bounded");
            }
        }
    }
    app.finish(&mut events);
});
