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

#[allow(unused_attributes, unused_imports)]
#[path = "../fuzz/fuzz_targets/queue_record.rs"]
mod queue_record;

#[allow(unused_attributes, unused_imports)]
#[path = "../fuzz/fuzz_targets/queue_message.rs"]
mod queue_message;

#[allow(unused_attributes, unused_imports)]
#[path = "../fuzz/fuzz_targets/queue_broker.rs"]
mod queue_broker;

/// A small deterministic byte generator (an LCG), for inputs beyond the samples.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

#[test]
fn queue_record_holds_on_real_segments_damaged_every_way() {
    use netlab::wire::application::queue::Record;
    let mut segment = Vec::new();
    for (offset, value) in [(0, "first"), (1, "second"), (3, "after a gap")] {
        let r = Record {
            offset,
            timestamp: 1_765_000_000_000,
            key: b"k".to_vec(),
            value: value.into(),
        };
        r.emit(&mut segment).unwrap();
    }
    for cut in 0..=segment.len() {
        queue_record::run(&segment[..cut]);
    }
    for i in 0..segment.len() {
        let mut bad = segment.clone();
        bad[i] ^= 0x80;
        queue_record::run(&bad);
    }
    for seed in 0..200 {
        queue_record::run(&noise(seed, 300));
    }
}

#[test]
fn queue_message_holds_on_sample_inputs() {
    let inputs: &[&[u8]] = &[
        b"\x00[{\"topic\":\"orders\",\"value\":\"pizza\",\"key\":\"k\"}]",
        b"\x01[{\"topic\":\"t\",\"group\":\"g\",\"from\":-1,\"limit\":1e99}]",
        b"\x02[{\"partition\":1,\"offset\":18446744073709551615}]",
        b"\x03[null]",
        b"\x04[]",
        b"\x05[{}]",
        b"\x01[{\"topic\":\"\xc3\xbc\",\"group\":\"g\"}]",
    ];
    for input in inputs {
        queue_message::run(input);
    }
}

#[test]
fn queue_broker_holds_on_many_step_sequences() {
    queue_broker::run(b"");
    queue_broker::run(&[0, 0, 0, 1, 1, 0, 1, 1, 2, 0, 5, 200, 5, 200, 5, 200]);
    for seed in 0..300 {
        queue_broker::run(&noise(seed, 600));
    }
}
