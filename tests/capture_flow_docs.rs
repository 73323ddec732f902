//! Every `netlab` command shown in the conversation and stream docs and in lab 5 parses
//! and runs (they read fixtures, so no privilege is needed), and prints something.

mod common;
use clap::Parser;
use common::netlab;

const FILES: [&str; 4] = [
    "docs/tcp-connections.md",
    "docs/http.md",
    "docs/websocket.md",
    "labs/05-follow-the-stream.md",
];

#[test]
fn every_capture_command_in_the_stream_docs_runs() {
    let mut ran = 0;
    for file in FILES {
        for cmd in common::console_commands(file) {
            if !cmd.starts_with("netlab capture") {
                continue; // other labs' commands are tested by their own docs tests
            }
            if cmd.contains("--own-namespace") {
                // `netlab lab run 5` runs it, and falls back where namespaces are refused
                // (tests/lab.rs covers both).
                continue;
            }
            let argv: Vec<&str> = cmd.split_whitespace().collect();
            if let Err(e) = netlab::cli::Cli::try_parse_from(&argv) {
                panic!("{file}: `{cmd}` does not parse:\n{e}");
            }
            let r = netlab(&argv[1..]);
            assert_eq!(r.code(), 0, "{file}: `{cmd}` failed:\n{}", r.stderr);
            assert!(!r.stdout.is_empty(), "{file}: `{cmd}` printed nothing");
            ran += 1;
        }
    }
    assert!(ran >= 12, "only {ran} commands ran");
}

#[test]
fn the_lab_answers_match_the_fixtures() {
    // Q2/Q3: three requests, the second chunked with chunks of 0xb and 0xd bytes.
    let r = netlab(&["capture", "--example", "http-keepalive", "--follow", "1"]);
    assert_eq!(
        r.stdout.matches("HTTP response to request").count(),
        3,
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\n< b\n") && r.stdout.contains("\n< d\n"),
        "{}",
        r.stdout
    );
    // Q6: the client's first frame starts 81 a0.
    let j = netlab(&["--json", "capture", "--example", "ws-demo", "--follow", "1"]).json();
    let first = j["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["direction"] == "a_to_b")
        .nth(1)
        .expect("a client chunk after the handshake");
    assert!(
        first["hex"].as_str().unwrap().starts_with("81a0"),
        "{first}"
    );
    // Q1: 13 packets one way, 9 the other; 9 carry data.
    let s = netlab(&[
        "--json",
        "capture",
        "--example",
        "http-keepalive",
        "--stats",
    ])
    .json();
    let c = &s["conversations"][0];
    assert_eq!(
        (c["packets_a_to_b"].as_u64(), c["packets_b_to_a"].as_u64()),
        (Some(13), Some(9))
    );
    let p = netlab(&["--jsonl", "capture", "--example", "http-keepalive"]);
    let data = p
        .stdout
        .lines()
        .filter(|l| l.contains("\"payload_len\"") && !l.contains("\"payload_len\":0"))
        .count();
    assert_eq!(data, 9, "{}", p.stdout);
    // Q9: two retransmissions (the copy and the late hole-filler), one segment after a hole.
    let s = netlab(&[
        "--json",
        "capture",
        "--example",
        "ws-demo-reordered",
        "--stats",
    ])
    .json();
    assert_eq!(s["notes"]["retransmissions"], 2);
    assert_eq!(s["notes"]["previous_segment_not_captured"], 1);
    assert_eq!(s["notes"]["out_of_order"], 0);
}
