//! Per packet, netlab agrees with tshark: the expert notes of the one-line view (text
//! and JSON) against tshark's `tcp.analysis.*` flags, and the application layers of the
//! layer tree (`--layers`, JSON `layers`) against tshark's HTTP and WebSocket fields on
//! the packets where tshark attaches them (the packet in which the unit completes).
//!
//! To check another capture, add it to `NOTE_FIXTURES` / `APP_FIXTURES`.

mod common;
use common::{have_tool, netlab};
use std::collections::BTreeMap;
use std::process::Command;

/// Captures whose notes are compared packet by packet.
const NOTE_FIXTURES: &[&str] = &[
    "ws-demo-reordered.pcap",
    "zero-window.pcap",
    "http-keepalive.pcap",
    "ws-chromium.pcap",
    "ws-demo.pcap",
    "http-ipv4.pcap",
    "socketio-missed.pcap",
    "socketio.pcap",
    "socketio-recovered.pcap",
    "http-ipv6.pcap",
    "http-lossy.pcap",
    "peers-ws-python.pcap",
    "peers-ws-python-deflate.pcap",
    "peers-ws-node.pcap",
    "dns-tcp.pcap",
];

/// Captures whose HTTP and WebSocket layers are compared packet by packet.
const APP_FIXTURES: &[&str] = &[
    "ws-demo.pcap",
    "ws-demo-reordered.pcap",
    "ws-chromium.pcap",
    "http-keepalive.pcap",
    "http-ipv4.pcap",
    "http-ipv6.pcap",
    "http-lossy.pcap",
    "peers-ws-python.pcap",
    "peers-ws-python-deflate.pcap",
    "peers-ws-node.pcap",
];

/// tshark's flag, netlab's note kind, and the label the one-line view shows.
const FLAGS: &[(&str, &str, &str)] = &[
    ("retransmission", "retransmission", "[TCP Retransmission]"),
    ("duplicate_ack", "duplicate_ack", "[TCP Dup ACK "),
    ("zero_window", "zero_window", "[TCP ZeroWindow]"),
    ("out_of_order", "out_of_order", "[TCP Out-Of-Order]"),
    ("window_update", "window_update", "[TCP Window Update]"),
    ("keep_alive", "keep_alive", "[TCP Keep-Alive]"),
    (
        "lost_segment",
        "previous_segment_not_captured",
        "[TCP Previous segment not captured]",
    ),
];

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn tshark_fields(file: &str, extra: &[&str], fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r", file]).args(extra).args([
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

#[test]
fn notes_agree_packet_by_packet_with_tshark_analysis_flags() {
    if !have_tool("tshark") {
        return;
    }
    let mut seen: BTreeMap<&str, u64> = BTreeMap::new();
    for name in NOTE_FIXTURES {
        let file = fixture(name);
        let mut fields = vec!["frame.number".to_string()];
        fields.extend(FLAGS.iter().map(|f| format!("tcp.analysis.{}", f.0)));
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        // tshark's flags per packet.
        let theirs: Vec<Vec<&str>> = tshark_fields(&file, &[], &fields)
            .iter()
            .map(|row| {
                FLAGS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| row.get(i + 1).is_some_and(|v| !v.is_empty()))
                    .map(|(_, f)| f.1)
                    .collect()
            })
            .collect();
        // netlab's notes per packet, from JSON Lines.
        let r = netlab(&["--jsonl", "capture", "--read", &file]);
        assert_eq!(r.code(), 0, "{}", r.stderr);
        let ours: Vec<Vec<&str>> = r
            .stdout
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|j| j.get("number").is_some())
            .map(|j| {
                let kinds: Vec<String> = j["notes"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|n| n["kind"].as_str().unwrap().to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                FLAGS
                    .iter()
                    .filter(|f| kinds.iter().any(|k| k == f.1))
                    .map(|f| f.1)
                    .collect()
            })
            .collect();
        assert_eq!(ours.len(), theirs.len(), "{name}: packet count");
        for (k, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(o, t, "{name}: packet {}: netlab vs tshark", k + 1);
            for f in o {
                *seen.entry(f).or_default() += 1;
            }
        }
        // The one-line view shows the same notes, on the same packets.
        let text = netlab(&["capture", "--read", &file]).stdout;
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.contains(" B  ")
                    && l.trim_start()
                        .split(' ')
                        .next()
                        .is_some_and(|n| n.parse::<u64>().is_ok())
            })
            .collect();
        assert_eq!(lines.len(), theirs.len(), "{name}: lines");
        for (k, (line, t)) in lines.iter().zip(&theirs).enumerate() {
            for f in FLAGS {
                assert_eq!(
                    line.contains(f.2),
                    t.contains(&f.1),
                    "{name}: packet {}: {} in `{line}`",
                    k + 1,
                    f.2
                );
            }
        }
        // The summary counts them.
        let j = netlab(&["--json", "capture", "--read", &file, "--quiet"]).json();
        let total = |kind: &str| theirs.iter().filter(|t| t.contains(&kind)).count() as u64;
        for (ours, kind) in [
            ("retransmissions", "retransmission"),
            ("zero_windows", "zero_window"),
            ("keep_alives", "keep_alive"),
            ("window_updates", "window_update"),
            ("duplicate_acks", "duplicate_ack"),
            ("out_of_order", "out_of_order"),
            (
                "previous_segment_not_captured",
                "previous_segment_not_captured",
            ),
        ] {
            assert_eq!(
                j["tcp_notes"][ours].as_u64(),
                Some(total(kind)),
                "{name}: {ours}"
            );
        }
    }
    // The fixtures exercise the notes (a lossy capture adds duplicate ACKs).
    for (kind, least) in [
        ("retransmission", 2),
        ("zero_window", 5),
        ("window_update", 3),
        ("keep_alive", 3),
        ("out_of_order", 5),
        ("previous_segment_not_captured", 3),
    ] {
        assert!(
            seen.get(kind).copied().unwrap_or(0) >= least,
            "{kind}: {seen:?}"
        );
    }
}

/// One packet's HTTP and WebSocket units, as comparable text.
type Units = BTreeMap<u64, Vec<String>>;

fn tshark_units(file: &str, port: u64) -> Units {
    let rows = tshark_fields(
        file,
        &[
            "-d",
            &format!("tcp.port=={port},http"),
            "-o",
            "tcp.reassemble_out_of_order:TRUE",
            "-Y",
            "http or websocket",
        ],
        &[
            "frame.number",
            "http.request.method",
            "http.request.uri",
            "http.response.code",
            "websocket.opcode",
            "websocket.fin",
            "websocket.mask",
            "websocket.payload_length",
            "websocket.payload_length_ext_16",
            "websocket.payload_length_ext_64",
        ],
    );
    let mut m = Units::new();
    for r in rows {
        let col = |i: usize| -> Vec<&str> {
            r.get(i)
                .map(|c| c.split(',').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default()
        };
        let n: u64 = r[0].parse().unwrap();
        let mut v = Vec::new();
        for (meth, uri) in col(1).iter().zip(col(2)) {
            v.push(format!("request {meth} {uri}"));
        }
        for code in col(3) {
            v.push(format!("response {code}"));
        }
        // Extended lengths are listed only for the frames that have one, in order.
        let (mut e16, mut e64) = (col(8).into_iter(), col(9).into_iter());
        for (((op, fin), mask), len7) in col(4).iter().zip(col(5)).zip(col(6)).zip(col(7)) {
            let len = match len7 {
                "126" => e16.next().unwrap().to_string(),
                "127" => e64.next().unwrap().to_string(),
                l => l.to_string(),
            };
            let b = |s: &str| if s == "1" || s == "True" { "1" } else { "0" };
            v.push(format!(
                "ws op {op} fin {} mask {} len {len}",
                b(fin),
                b(mask)
            ));
        }
        if !v.is_empty() {
            m.insert(n, v);
        }
    }
    m
}

fn netlab_units(packets: &[serde_json::Value]) -> Units {
    let mut m = Units::new();
    for p in packets {
        let n = p["number"].as_u64().unwrap();
        let mut v = Vec::new();
        for l in p["layers"].as_array().unwrap() {
            let d = &l["decoded"];
            match d["kind"].as_str() {
                Some("http_request") => v.push(format!(
                    "request {} {}",
                    d["method"].as_str().unwrap(),
                    d["target"].as_str().unwrap()
                )),
                Some("http_response") => v.push(format!("response {}", d["status"])),
                Some("web_socket_frame") => v.push(format!(
                    "ws op {} fin {} mask {} len {}",
                    d["opcode_bits"],
                    u8::from(d["fin"] == true),
                    u8::from(d["masked"] == true),
                    d["payload_len"]
                )),
                _ => {}
            }
        }
        // tshark lists a packet's requests, then responses, then frames.
        v.sort_by_key(|s| !s.starts_with("request"));
        if !v.is_empty() {
            m.insert(n, v);
        }
    }
    m
}

#[test]
fn application_layers_agree_packet_by_packet_with_tshark() {
    if !have_tool("tshark") {
        return;
    }
    let mut frames = 0;
    let mut reassembled = 0;
    for name in APP_FIXTURES {
        let file = fixture(name);
        let j = netlab(&["--json", "capture", "--read", &file, "--layers"]).json();
        let packets = j["packets"].as_array().unwrap();
        let port = {
            let s = netlab(&["--json", "capture", "--read", &file, "--stats"]).json();
            s["conversations"][0]["b"][1].as_u64().unwrap()
        };
        let ours = netlab_units(packets);
        let theirs = tshark_units(&file, port);
        assert_eq!(ours, theirs, "{name}: HTTP and WebSocket units per packet");
        frames += ours
            .values()
            .flatten()
            .filter(|u| u.starts_with("ws"))
            .count();
        // Placement comes from layers.rs, like the lower layers.
        for p in packets {
            for l in p["layers"].as_array().unwrap() {
                if matches!(l["protocol"].as_str(), Some("http1" | "web_socket")) {
                    assert_eq!(
                        (l["osi_layer"].as_u64(), l["tcpip"].as_str()),
                        (Some(7), Some("Application")),
                        "{l}"
                    );
                    if !l["reassembled_from"].is_null() {
                        let r = &l["reassembled_from"];
                        assert!(r[0].as_u64() < p["number"].as_u64(), "{r}");
                        assert_eq!(r[1], p["number"]);
                        reassembled += 1;
                    }
                }
            }
        }
    }
    assert!(frames >= 40, "WebSocket frames compared: {frames}");
    assert!(
        reassembled >= 10,
        "units reassembled from several packets: {reassembled}"
    );
}

#[test]
fn the_layer_tree_explains_a_websocket_session() {
    let file = fixture("ws-chromium.pcap");
    let r = netlab(&["capture", "--read", &file, "--layers"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let packet = |n: u64| -> String {
        let start = format!("{n:>4} ");
        let next = format!("{:>4} ", n + 1);
        let mut out = String::new();
        let mut on = false;
        for l in r.stdout.lines() {
            if l.starts_with(&start) {
                on = true;
            } else if l.starts_with(&next) {
                break;
            }
            if on {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    };
    let p4 = packet(4);
    assert!(
        p4.contains("L7 Application  │ TCP/IP Application │ message   HTTP/1.x request"),
        "{p4}"
    );
    assert!(
        p4.contains("method             GET") && p4.contains("URI                /browser"),
        "{p4}"
    );
    let p6 = packet(6);
    assert!(
        p6.contains("Sec-WebSocket-Accept check correct: base64(SHA-1(key + GUID))"),
        "{p6}"
    );
    let p10 = packet(10);
    assert!(
        p10.contains("payload length     256 (126 + 16-bit length)"),
        "{p10}"
    );
    assert!(
        p10.contains("masking key") && p10.contains("MASK               1"),
        "{p10}"
    );
    let p92 = packet(92);
    assert!(
        p92.contains("[reassembled from packets 50–92: completes in this one]"),
        "{p92}"
    );
    assert!(
        p92.contains("payload length     1048576 (127 + 64-bit length)"),
        "{p92}"
    );
    let p51 = packet(51);
    assert!(
        p51.contains("part of a frame that completes in a later packet"),
        "{p51}"
    );
    let p97 = packet(97);
    assert!(
        p97.contains("close code         1001 (going away)"),
        "{p97}"
    );
    // Fragments: the message assembled from its frames, shown where it ends.
    let p47 = packet(47);
    assert!(
        p47.contains("WebSocket message") && p47.contains("frames"),
        "{p47}"
    );
    // --hex labels the WebSocket header's bytes; --osi fills layer 7 with the frame.
    let h = netlab(&["capture", "--read", &file, "--hex", "--count", "8"]).stdout;
    assert!(
        h.contains("WebSocket  FIN = 1") && h.contains("masking key = "),
        "{h}"
    );
    let o = netlab(&["capture", "--read", &file, "--osi", "--count", "8"]).stdout;
    assert!(
        o.contains("7 Application  ┆ WebSocket frame (text FIN masked, 41 bytes"),
        "{o}"
    );
}
