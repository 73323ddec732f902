//! The Engine.IO fuzz targets compiled as plain Rust and run on a few inputs, so they
//! build and hold without cargo-fuzz's nightly toolchain. `fuzz_target!` here turns the
//! target's body into a function `run`.

// The targets say `use libfuzzer_sys::fuzz_target;`: this crate stands in for it.
extern crate self as libfuzzer_sys;

#[macro_export]
macro_rules! fuzz_target {
    (|$data:ident: &[u8]| $body:block) => {
        pub fn run($data: &[u8]) $body
    };
}

#[allow(unused_attributes, unused_imports)]
#[path = "../fuzz/fuzz_targets/eio_payload.rs"]
mod eio_payload;

#[allow(unused_attributes, unused_imports)]
#[path = "../fuzz/fuzz_targets/eio_query.rs"]
mod eio_query;

const INPUTS: &[&[u8]] = &[
    b"",
    b"4hello\x1ebAQIDBA==\x1e2",
    b"0{\"sid\":\"x\"}\x1e1\x1e2probe\x1e3probe\x1e5\x1e6",
    b"b!!!",
    b"4\xff\xfe",
    b"9\x1e\x1e",
    b"/engine.io/?EIO=4&transport=polling&t=N8hyd6w",
    b"/engine.io/?EIO=4&transport=websocket&sid=a",
    b"/engine.io/?EIO=3&transport=polling&sid=a&sid=b",
    b"?&&==&transport&EIO",
];

#[test]
fn eio_payload_holds_on_sample_inputs() {
    for input in INPUTS {
        eio_payload::run(input);
    }
}

#[test]
fn eio_query_holds_on_sample_inputs() {
    for input in INPUTS {
        eio_query::run(input);
    }
}
