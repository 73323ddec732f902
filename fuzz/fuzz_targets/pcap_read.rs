//! `cargo +nightly fuzz run pcap_read`: reading a damaged pcap file must end in frames or
//! a named record problem, never a panic or an endless loop.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::net::capture::FileSource;
use netlab::wire::dissect::dissect;

fuzz_target!(|data: &[u8]| {
    let Ok(mut src) = FileSource::from_bytes(data.to_vec()) else { return };
    // Each record consumes at least its 16-byte header, so this bound is never reached
    // by a correct reader; it turns an endless loop into a finding.
    for _ in 0..=data.len() / 16 + 1 {
        match src.next_frame() {
            None => return,
            Some(Ok(f)) => {
                let _ = dissect(f.link, f.data);
            }
            Some(Err(_)) => {}
        }
    }
    panic!("the reader did not reach the end of {} bytes", data.len());
});
