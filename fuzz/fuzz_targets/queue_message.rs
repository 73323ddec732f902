//! Arbitrary events into the `/queue` namespace's reader: the first byte picks the event
//! name, the rest is the arguments' JSON. Must never panic; a request it accepts names
//! valid topics and groups.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::wire::application::queue::message::{check_name, parse, Request};

const NAMES: [&str; 6] = ["publish", "subscribe", "ack", "nack", "status", "other"];

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(*first) % NAMES.len()];
    let Ok(args) = serde_json::from_slice::<Vec<serde_json::Value>>(rest) else {
        return;
    };
    match parse(name, &args) {
        Ok(Request::Publish { topic, .. }) => assert!(check_name(&topic).is_ok()),
        Ok(Request::Subscribe { topic, group, .. }) => {
            assert!(check_name(&topic).is_ok() && check_name(&group).is_ok())
        }
        _ => {}
    }
});
