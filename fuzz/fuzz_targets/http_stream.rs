//! `cargo +nightly fuzz run http_stream`: the HTTP/1.x decoder of `wire::dissect::app::AppDecoder`
//! on arbitrary reassembled bytes, cut at arbitrary places, in both directions: heads,
//! Content-Length, chunked and until-close bodies, keep-alive matching, upgrades, gaps.
//! It must never panic, and the events it reports must lie within the bytes fed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::wire::dissect::app::AppDecoder;
use netlab::wire::dissect::flow::{Direction, Piece};

fuzz_target!(|data: &[u8]| {
    // A small bound, so the "too long without a complete message" path is reached.
    let mut app = AppDecoder::new(4096);
    let mut offsets = [0u64; 2];
    let mut events = Vec::new();
    let mut rest = data;
    // Each record: a control byte (bit 0: direction, bit 1: a gap instead of bytes,
    // bits 2..: length), then that many bytes.
    while let Some((&ctl, tail)) = rest.split_first() {
        let dir = if ctl & 1 == 0 {
            Direction::AToB
        } else {
            Direction::BToA
        };
        let i = dir as usize;
        let n = usize::from(ctl >> 2).min(tail.len());
        let (bytes, after) = tail.split_at(n);
        rest = after;
        if ctl & 2 != 0 && n == 1 {
            let len = u64::from(bytes[0]) + 1;
            app.piece(
                dir,
                Piece::Gap {
                    offset: offsets[i],
                    len,
                },
                &mut events,
            );
            offsets[i] += len;
        } else {
            app.piece(
                dir,
                Piece::Data {
                    offset: offsets[i],
                    bytes,
                },
                &mut events,
            );
            offsets[i] += n as u64;
        }
        for e in events.drain(..) {
            assert!(
                e.offset <= offsets[e.direction as usize],
                "an event within the stream"
            );
        }
    }
    app.finish(&mut events);
});
