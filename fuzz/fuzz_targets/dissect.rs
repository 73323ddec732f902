//! `cargo +nightly fuzz run dissect`: `wire::dissect` must never panic, on any link type,
//! and every layer it reports must lie inside the bytes it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::wire::dissect::{dissect, LinkType};
use netlab::wire::dissect::filter::Filter;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else { return };
    let link = match selector % 7 {
        0 => LinkType::Ethernet,
        1 => LinkType::LinuxSll,
        2 => LinkType::LinuxSll2,
        3 => LinkType::Raw,
        4 => LinkType::Null,
        5 => LinkType::Ipv4,
        _ => LinkType::Ipv6,
    };
    let d = dissect(link, frame);
    for l in &d.layers {
        assert!(l.header.end <= frame.len());
        for f in l.fields(frame) {
            assert!(f.span.end <= frame.len() || l.quoted);
        }
        let _ = l.summary();
    }
    assert!(d.payload.end <= frame.len());
    if let Ok(f) = Filter::parse("tcp port 80 or (udp and not host ::1) or arp") {
        let _ = f.matches(&d);
    }
});
