//! Arbitrary request targets through Engine.IO's query parser and request checks, with
//! and without a session. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::wire::application::engineio::{check, Query, Transport};

fuzz_target!(|data: &[u8]| {
    let Ok(target) = std::str::from_utf8(data) else {
        return;
    };
    let q = Query::parse(target);
    for method in ["GET", "POST"] {
        for upgrade in [false, true] {
            if let Err(refusal) = check(method, upgrade, &q, |sid| {
                (sid == "a").then_some(Transport::Polling)
            }) {
                assert!(refusal.json_body().starts_with("{\"code\":"));
            }
        }
    }
});
