//! Arbitrary bytes as a segment of the queue's log. `scan` must never panic, must cover
//! the input exactly (records, skipped damage and the torn tail, in order, no gap), and
//! every record it finds must read back at its position; a record `parse` accepts must
//! emit the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::wire::application::queue::record::{scan, Damage, Record};

fuzz_target!(|data: &[u8]| {
    let s = scan(data, 0);
    let mut spans: Vec<(usize, usize)> = s.records.iter().map(|f| (f.position, f.len)).collect();
    for d in &s.damage {
        match d {
            Damage::Skipped { position, len, .. } | Damage::TornTail { position, len, .. } => {
                spans.push((*position, *len))
            }
        }
    }
    spans.sort_unstable();
    let mut at = 0;
    for (position, len) in spans {
        assert_eq!(position, at, "a gap or an overlap at {at}");
        at += len;
    }
    assert_eq!(at, data.len());
    let mut last = None;
    for f in &s.records {
        let (r, len) = Record::parse(&data[f.position..]).expect("a found record reads");
        assert_eq!((r.offset, len), (f.offset, f.len));
        assert!(last.is_none_or(|l| r.offset > l), "offsets go up");
        last = Some(r.offset);
    }
    if let Ok((r, len)) = Record::parse(data) {
        let mut out = Vec::new();
        r.emit(&mut out).expect("a record read can be written");
        assert_eq!(&out[..], &data[..len]);
    }
});
