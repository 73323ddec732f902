//! `cargo +nightly fuzz run flow`: the TCP reassembler (`wire::dissect::flow::Reassembler`) and
//! the application decoder (`wire::dissect::app::AppDecoder`) must never panic on any sequence
//! of segments, must deliver each stream offset at most once and in order, and must
//! keep their buffers within their bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::wire::dissect::app::AppDecoder;
use netlab::wire::dissect::flow::{Direction, Note, Piece, Reassembler};

fuzz_target!(|data: &[u8]| {
    const BOUND: usize = 512;
    let mut r = [Reassembler::new(BOUND), Reassembler::new(BOUND)];
    let mut app = AppDecoder::new(BOUND);
    let mut next = [0u64; 2];
    let mut events = Vec::new();
    let mut rest = data;
    // Each record: dir/kind byte, 4-byte seq, 1-byte length, then the payload.
    while rest.len() >= 6 {
        let (head, tail) = rest.split_at(6);
        let dir = if head[0] & 1 == 0 { Direction::AToB } else { Direction::BToA };
        let i = dir as usize;
        let seq = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
        let n = usize::from(head[5]).min(tail.len());
        let (payload, after) = tail.split_at(n);
        rest = after;
        let mut notes: Vec<Note> = Vec::new();
        let mut sink = |p: Piece<'_>| {
            let (off, len) = match p {
                Piece::Data { offset, bytes } => (offset, bytes.len() as u64),
                Piece::Gap { offset, len } => (offset, len),
            };
            assert_eq!(off, next[i], "pieces are contiguous and in order");
            next[i] += len;
            app.piece(dir, p, &mut events);
        };
        match head[0] >> 1 & 3 {
            0 => r[i].syn(seq).then_some(()).unwrap_or(()),
            1 => r[i].acked(seq, &mut notes, &mut sink),
            2 => r[i].fin(seq),
            _ => r[i].segment(seq, payload, payload.len() as u64 + u64::from(head[0] >> 3 & 3), &mut notes, &mut sink),
        }
        assert!(r[i].buffered() <= BOUND);
        events.clear();
    }
    for (i, dir) in [(0, Direction::AToB), (1, Direction::BToA)] {
        let mut notes = Vec::new();
        let next = &mut next;
        r[i].finish(&mut notes, &mut |p| {
            if let Piece::Data { offset, .. } | Piece::Gap { offset, .. } = p {
                assert_eq!(offset, next[i]);
            }
            let len = match p {
                Piece::Data { bytes, .. } => bytes.len() as u64,
                Piece::Gap { len, .. } => len,
            };
            next[i] += len;
            app.piece(dir, p, &mut events);
        });
    }
    app.finish(&mut events);
});
