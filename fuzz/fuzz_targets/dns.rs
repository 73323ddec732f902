//! `cargo +nightly fuzz run dns`: the DNS decoder (`wire::application::dns`) on arbitrary bytes, as a
//! message, as names at every offset, as a TCP stream of length-prefixed messages
//! (`wire::dissect::app::AppDecoder`) and as the payload of a UDP datagram to port 53 inside a
//! whole frame (`wire::dissect`). Nothing may panic or hang, and what is decoded must
//! stay inside the bytes it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::wire::dissect::app::AppDecoder;
use netlab::wire::dissect::{dissect, LinkType};
use netlab::wire::application::dns::{read_name, Repr, MAX_NAME_LEN};
use netlab::wire::dissect::flow::{Direction, Piece};

fuzz_target!(|data: &[u8]| {
    // The message itself: strict and lenient readings agree.
    match Repr::parse_partial(data) {
        Ok(r) => {
            assert_eq!(Repr::parse(data).is_ok(), r.problem.is_none());
            let _ = r.to_string();
            for f in r.fields() {
                assert!(f.span.start <= f.span.end && f.span.end <= data.len());
            }
        }
        Err(_) => assert!(data.len() < 12),
    }
    // Every offset as the start of a name: bounded, and no longer than RFC 1035 allows
    // (a label byte may be shown as \DDD, four characters).
    for at in 0..data.len().min(512) {
        if let Ok((name, end)) = read_name(data, at) {
            assert!(name.len() <= 4 * MAX_NAME_LEN);
            assert!(end > at && end <= data.len());
        }
    }
    // A TCP stream to port 53, cut into pieces of a size the first byte chooses.
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut app = AppDecoder::for_ports(1 << 16, 40000, 53);
    let mut out = Vec::new();
    for (k, c) in data.chunks(step).enumerate() {
        let offset = (k * step) as u64;
        app.piece(Direction::AToB, Piece::Data { offset, bytes: c }, &mut out);
        app.piece(Direction::BToA, Piece::Data { offset, bytes: c }, &mut out);
    }
    app.finish(&mut out);
    // A raw IPv4 frame carrying the bytes in a UDP datagram from port 53.
    let len = data.len().min(65_000);
    let mut frame = vec![
        0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1, // IPv4
        0, 53, 0x9c, 0x40, 0, 0, 0, 0, // UDP 53 → 40000, checksum 0
    ];
    frame[2..4].copy_from_slice(&((28 + len) as u16).to_be_bytes());
    frame[24..26].copy_from_slice(&((8 + len) as u16).to_be_bytes());
    frame.extend_from_slice(&data[..len]);
    let d = dissect(LinkType::Raw, &frame);
    for l in &d.layers {
        let _ = l.summary();
        for f in l.fields(&frame) {
            assert!(f.span.end <= frame.len());
        }
    }
});
