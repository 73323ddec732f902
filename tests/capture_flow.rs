//! `netlab capture --follow`: each conversation's reassembled bytes agree with
//! tshark's "Follow Stream" (`-z follow,tcp,raw,N`) on real captures, including one
//! where a segment is retransmitted and two arrive out of order.

mod common;
use common::{have_tool, netlab};
use std::process::Command;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// One conversation as tshark follows it: its two ends and each direction's bytes.
struct Followed {
    node0: String,
    node1: String,
    to_node1: Vec<u8>,
    to_node0: Vec<u8>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Run tshark and return what it printed; a tshark that failed (a filter or field it
/// rejects, a file it cannot read) fails the test, so a comparison can never turn into
/// "netlab found nothing, and neither did a tshark that never ran".
fn tshark_stdout(cmd: &mut Command) -> String {
    let out = cmd.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed ({cmd:?}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// tshark's follow of stream `n` (0-based, per protocol); `None` past the last stream.
fn tshark_follow(file: &str, proto: &str, n: u32) -> Option<Followed> {
    let text = tshark_stdout(Command::new("tshark").args([
        "-r",
        file,
        "-q",
        "-z",
        &format!("follow,{proto},raw,{n}"),
    ]));
    let mut f = Followed {
        node0: String::new(),
        node1: String::new(),
        to_node1: Vec::new(),
        to_node0: Vec::new(),
    };
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Node 0: ") {
            f.node0 = v.to_string();
        } else if let Some(v) = line.strip_prefix("Node 1: ") {
            f.node1 = v.to_string();
        } else if let Some(h) = line.strip_prefix('\t') {
            f.to_node0.extend(unhex(h.trim()));
        } else if !line.is_empty() && line.bytes().all(|b| b.is_ascii_hexdigit()) {
            f.to_node1.extend(unhex(line));
        }
    }
    // tshark names no nodes for a stream that does not exist.
    (!f.node0.is_empty() && !f.node0.starts_with(':')).then_some(f)
}

/// netlab's follow of the conversation between `x` and `y`: bytes x → y and y → x.
fn netlab_follow(file: &str, x: &str, y: &str) -> (Vec<u8>, Vec<u8>, serde_json::Value) {
    let r = netlab(&[
        "--json",
        "capture",
        "--read",
        file,
        "--follow",
        &format!("{x}-{y}"),
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let j = r.json();
    let a = &j["conversation"]["a"];
    let a = format!(
        "{}:{}",
        match a[0].as_str().unwrap() {
            ip if ip.contains(':') => format!("[{ip}]"),
            ip => ip.to_string(),
        },
        a[1]
    );
    let (mut ab, mut ba) = (Vec::new(), Vec::new());
    for c in j["chunks"].as_array().unwrap() {
        assert_eq!(c["missing"], 0, "no gaps in these captures: {c}");
        let bytes = unhex(c["hex"].as_str().unwrap());
        match c["direction"].as_str().unwrap() {
            "a_to_b" => ab.extend(bytes),
            "b_to_a" => ba.extend(bytes),
            d => panic!("direction {d}"),
        }
    }
    if a == x {
        (ab, ba, j)
    } else {
        (ba, ab, j)
    }
}

#[test]
fn follow_agrees_with_tshark_on_every_conversation() {
    if !have_tool("tshark") {
        return;
    }
    let cases = [
        ("http-ipv4.pcap", "tcp"),
        ("http-ipv6.pcap", "tcp"),
        ("http-keepalive.pcap", "tcp"),
        ("ws-demo.pcap", "tcp"),
        ("ws-demo-reordered.pcap", "tcp"),
        ("any-sll2.pcap", "tcp"),
        ("udp-exchange.pcap", "udp"),
    ];
    let mut compared = 0;
    for (name, proto) in cases {
        let file = fixture(name);
        let mut n = 0;
        while let Some(t) = tshark_follow(&file, proto, n) {
            let (to1, to0, _) = netlab_follow(&file, &t.node0, &t.node1);
            assert_eq!(
                to1, t.to_node1,
                "{name} stream {n}: {} → {}",
                t.node0, t.node1
            );
            assert_eq!(
                to0, t.to_node0,
                "{name} stream {n}: {} → {}",
                t.node1, t.node0
            );
            assert!(
                !to1.is_empty() || !to0.is_empty(),
                "{name} stream {n} carried data"
            );
            compared += 1;
            n += 1;
            assert!(n < 50, "bounded");
        }
        assert!(n > 0, "tshark found no {proto} stream in {name}");
    }
    assert!(compared >= 7);
}

#[test]
fn reordered_capture_reports_what_was_repaired() {
    let r = netlab(&[
        "--json",
        "capture",
        "--read",
        &fixture("ws-demo-reordered.pcap"),
        "--follow",
        "1",
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let c = &r.json()["conversation"];
    // The repeated copy, and the late segment that filled the hole (after the segment
    // beyond it: Wireshark's rule calls that a retransmission, not reordering).
    assert_eq!(c["retransmissions"], 2, "{c}");
    assert_eq!(c["previous_segment_not_captured"], 1, "{c}");
    assert_eq!(c["out_of_order"], 0, "{c}");
    assert_eq!(c["gaps"], 0, "{c}");
    assert_eq!(c["state"], "closed");
    assert_eq!(c["handshake_seen"], true);
}

/// Records of a little-endian classic pcap file: (record header + data) each.
fn pcap_records(b: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut recs = Vec::new();
    let mut i = 24;
    while i + 16 <= b.len() {
        let incl = u32::from_le_bytes(b[i + 8..i + 12].try_into().unwrap()) as usize;
        recs.push(b[i..i + 16 + incl].to_vec());
        i += 16 + incl;
    }
    (b[..24].to_vec(), recs)
}

#[test]
fn a_segment_missing_from_the_capture_is_shown_as_a_gap() {
    // http-keepalive.pcap without the record carrying the first response body (11 bytes:
    // "first file\n"), as if the capture had missed it.
    let whole = std::fs::read(fixture("http-keepalive.pcap")).unwrap();
    let (hdr, recs) = pcap_records(&whole);
    let drop = recs
        .iter()
        .position(|r| r.windows(11).any(|w| w == b"first file\n"))
        .expect("the fixture carries the first file");
    let mut out = hdr;
    for (k, r) in recs.iter().enumerate() {
        if k != drop {
            out.extend_from_slice(r);
        }
    }
    let path = std::env::temp_dir().join(format!("netlab-gap-{}.pcap", std::process::id()));
    std::fs::write(&path, out).unwrap();
    let file = path.to_str().unwrap();
    let r = netlab(&["--json", "capture", "--read", file, "--follow", "1"]);
    let text = netlab(&["capture", "--read", file, "--follow", "1"]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(j["conversation"]["gaps"], 1);
    assert_eq!(j["conversation"]["gap_bytes"], 11);
    let gap: Vec<_> = j["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["missing"] != 0)
        .collect();
    assert_eq!(gap.len(), 1);
    assert_eq!(gap[0]["direction"], "b_to_a");
    assert_eq!(gap[0]["missing"], 11);
    assert!(
        text.stdout
            .contains("< [11 bytes missing at stream offset 186: never captured]"),
        "{}",
        text.stdout
    );
    // The bytes after the hole are still there, in order.
    assert!(text.stdout.contains("\n< chunk one, \n"), "{}", text.stdout);
}

#[test]
fn follow_shows_both_directions_marked_as_text_or_hex() {
    let file = fixture("ws-demo.pcap");
    let r = netlab(&["capture", "--read", &file, "--follow", "1"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let out = &r.stdout;
    assert!(out.starts_with("TCP conversation 1: 127.0.0.1:"), "{out}");
    assert!(out.contains("\n> GET /demo HTTP/1.1\n"), "{out}");
    assert!(out.contains("\n> Upgrade: websocket\n"), "{out}");
    assert!(
        out.contains("\n< HTTP/1.1 101 Switching Protocols\n"),
        "{out}"
    );
    assert!(
        out.contains("state: closed by FIN, handshake captured"),
        "{out}"
    );
    let h = netlab(&["capture", "--read", &file, "--follow", "1", "--hex"]);
    assert_eq!(h.code(), 0, "{}", h.stderr);
    assert!(
        h.stdout
            .contains("\n> 00000000  47 45 54 20 2f 64 65 6d  6f 20"),
        "{}",
        h.stdout
    );
    assert!(
        h.stdout.contains("\n< 00000000  48 54 54 50 2f 31 2e 31"),
        "{}",
        h.stdout
    );
}

#[test]
fn wrong_conversations_are_clear_errors() {
    let file = fixture("http-ipv4.pcap");
    let r = netlab(&["capture", "--read", &file, "--follow", "7"]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr.contains("no conversation 7 in this capture"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("1  TCP 127.0.0.1:34338-127.0.0.1:18080"),
        "{}",
        r.stderr
    );
    for bad in [
        &["--follow", "nope"][..],
        &["--follow", "1", "--layers"][..],
        &["--follow", "0"][..],
    ] {
        let mut args = vec!["capture", "--read", &file];
        args.extend_from_slice(bad);
        let r = netlab(&args);
        assert_eq!(r.code(), 2, "{bad:?}: {}", r.stderr);
    }
}

#[test]
fn help_examples_parse() {
    use clap::Parser as _;
    netlab::cli::Cli::try_parse_from([
        "netlab",
        "capture",
        "--read",
        "tests/fixtures/http-ipv4.pcap",
        "--follow",
        "1",
    ])
    .unwrap();
    netlab::cli::Cli::try_parse_from([
        "netlab",
        "capture",
        "--read",
        "f.pcap",
        "--follow",
        "[::1]:1-[::1]:2",
        "--hex",
    ])
    .unwrap();
}

/// tshark's fields for every WebSocket frame (one row per frame, in stream order per
/// direction), with `port` decoded as HTTP so tshark follows the Upgrade.
fn tshark_ws_frames(file: &str, port: u64) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args([
        "-r",
        file,
        "-d",
        &format!("tcp.port=={port},http"),
        "-Y",
        "websocket",
        // tshark leaves out-of-order segments alone unless asked to reorder them.
        "-o",
        "tcp.reassemble_out_of_order:TRUE",
    ])
    .args(["-T", "fields", "-E", "aggregator=~", "-E", "occurrence=a"])
    .args([
        "-e",
        "tcp.srcport",
        "-e",
        "websocket.fin",
        "-e",
        "websocket.opcode",
        "-e",
        "websocket.mask",
        "-e",
        "websocket.payload_length",
        "-e",
        "websocket.payload_length_ext_16",
        "-e",
        "websocket.payload_length_ext_64",
        "-e",
        "websocket.masking_key",
        "-e",
        "websocket.payload.text",
        "-e",
        "websocket.payload.close.status_code",
        "-e",
        "websocket.payload.close.reason",
        "-e",
        "websocket.payload.ping",
        "-e",
        "websocket.payload.pong",
        "-e",
        "data.data",
    ]);
    let text = tshark_stdout(&mut cmd);
    let mut rows = Vec::new();
    for line in text.lines() {
        let cols: Vec<Vec<&str>> = line.split('\t').map(|c| c.split('~').collect()).collect();
        // Several frames in one packet: each column holds one value per frame.
        let frames = cols[1].len();
        for k in 0..frames {
            let get = |i: usize| -> String {
                let c = &cols[i];
                if c.len() == frames {
                    c[k].to_string()
                } else {
                    c.first().unwrap_or(&"").to_string()
                }
            };
            let len7: u64 = get(4).parse().unwrap();
            let len = match len7 {
                126 => get(5).parse().unwrap(),
                127 => get(6).parse().unwrap(),
                n => n,
            };
            rows.push(vec![
                get(0),
                get(1),
                get(2),
                get(3),
                len.to_string(),
                get(7),
                get(8),
                get(9),
                get(10),
                get(11),
                get(12),
                get(13),
            ]);
        }
    }
    rows
}

#[test]
fn websocket_frames_agree_with_tshark() {
    if !have_tool("tshark") {
        return;
    }
    for name in ["ws-demo.pcap", "ws-demo-reordered.pcap", "ws-chromium.pcap"] {
        let file = fixture(name);
        let r = netlab(&["--json", "capture", "--read", &file, "--follow", "1"]);
        assert_eq!(r.code(), 0, "{}", r.stderr);
        let j = r.json();
        let conv = &j["conversation"];
        let (client_port, server_port) = (
            conv["a"][1].as_u64().unwrap(),
            conv["b"][1].as_u64().unwrap(),
        );
        let app = j["application"].as_array().unwrap();
        // netlab's frames as tshark's columns; text as tshark shows it (a fragmented
        // message's text on its last frame).
        let mut ours: Vec<Vec<String>> = Vec::new();
        let mut last_text: Option<usize> = None;
        for ev in app {
            let m = &ev["message"];
            let client = ev["direction"] == "a_to_b";
            let port = if client { client_port } else { server_port };
            match m["kind"].as_str().unwrap() {
                "web_socket_frame" => {
                    let op = m["opcode_bits"].as_u64().unwrap();
                    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
                    let text = if op == 1 && m["fin"] == true {
                        s(&m["payload_text"])
                    } else {
                        String::new()
                    };
                    let hex_or_text = |v: &serde_json::Value, t: &serde_json::Value| {
                        if v.is_string() {
                            s(v)
                        } else {
                            t.as_str()
                                .map(|t| t.bytes().map(|b| format!("{b:02x}")).collect())
                                .unwrap_or_default()
                        }
                    };
                    let payload = hex_or_text(&m["payload_hex"], &m["payload_text"]);
                    ours.push(vec![
                        port.to_string(),
                        u8::from(m["fin"] == true).to_string(),
                        op.to_string(),
                        u8::from(m["masked"] == true).to_string(),
                        m["payload_len"].to_string(),
                        s(&m["mask_key"]),
                        text,
                        m["close_code"]
                            .as_u64()
                            .map(|c| c.to_string())
                            .unwrap_or_default(),
                        s(&m["close_reason"]),
                        if op == 9 {
                            payload.clone()
                        } else {
                            String::new()
                        },
                        if op == 10 {
                            payload.clone()
                        } else {
                            String::new()
                        },
                        if op == 2 { payload } else { String::new() },
                    ]);
                    last_text = Some(ours.len() - 1);
                }
                "web_socket_message" => {
                    if let Some(k) = last_text {
                        ours[k][6] = m["text"].as_str().unwrap_or("").to_string();
                    }
                }
                _ => {}
            }
        }
        let mut theirs = tshark_ws_frames(&file, server_port);
        // Binary payloads are compared where both show the whole of one frame: netlab
        // keeps a 256-byte preview per frame, tshark shows a fragmented message's data
        // once, reassembled, on its last frame.
        for row in ours.iter_mut().chain(theirs.iter_mut()) {
            let whole = row[1] == "1" && row[2] == "2" && row[4].parse::<u64>().unwrap() <= 256;
            if !whole {
                row[11].clear();
            }
        }
        for dir_port in [client_port.to_string(), server_port.to_string()] {
            let a: Vec<_> = ours.iter().filter(|r| r[0] == dir_port).collect();
            let b: Vec<_> = theirs.iter().filter(|r| r[0] == dir_port).collect();
            assert_eq!(a, b, "{name}, frames from port {dir_port}");
        }
        let expected = if name == "ws-chromium.pcap" { 21 } else { 12 };
        assert_eq!(ours.len(), expected, "{name}: every frame");
        assert!(
            !app.iter().any(|e| e["message"]["kind"] == "note"
                || !e["message"]["problem"].is_null()
                    && e["message"]["kind"] == "web_socket_frame"),
            "{name}: decoded completely, no rule broken"
        );
    }
}

#[test]
fn http_requests_and_responses_agree_with_tshark() {
    if !have_tool("tshark") {
        return;
    }
    for name in [
        "http-keepalive.pcap",
        "http-ipv4.pcap",
        "http-ipv6.pcap",
        "ws-demo.pcap",
    ] {
        let file = fixture(name);
        let r = netlab(&["--json", "capture", "--read", &file, "--follow", "1"]);
        assert_eq!(r.code(), 0, "{}", r.stderr);
        let j = r.json();
        let port = j["conversation"]["b"][1].as_u64().unwrap();
        let mut ours = Vec::new();
        let mut targets = std::collections::HashMap::new();
        for ev in j["application"].as_array().unwrap() {
            let m = &ev["message"];
            match m["kind"].as_str().unwrap() {
                "http_request" => {
                    targets.insert(
                        m["number"].as_u64().unwrap(),
                        m["target"].as_str().unwrap().to_string(),
                    );
                    ours.push(format!(
                        "{} {}",
                        m["method"].as_str().unwrap(),
                        m["target"].as_str().unwrap()
                    ));
                }
                "http_response" => {
                    let t = &targets[&m["answers"].as_u64().unwrap()];
                    ours.push(format!("{} for {t}", m["status"]));
                }
                _ => {}
            }
        }
        let mut cmd = Command::new("tshark");
        cmd.args([
            "-r",
            &file,
            "-d",
            &format!("tcp.port=={port},http"),
            "-Y",
            "http",
        ])
        .args([
            "-T",
            "fields",
            "-e",
            "http.request.method",
            "-e",
            "http.request.uri",
        ])
        .args(["-e", "http.response.code", "-e", "http.response_for.uri"]);
        let theirs: Vec<String> = tshark_stdout(&mut cmd)
            .lines()
            .map(|l| {
                let c: Vec<&str> = l.split('\t').collect();
                if !c[0].is_empty() {
                    format!("{} {}", c[0], c[1])
                } else {
                    // response_for.uri is absolute: keep its path.
                    let path = c[3]
                        .splitn(4, '/')
                        .nth(3)
                        .map(|p| format!("/{p}"))
                        .unwrap_or_default();
                    format!("{} for {path}", c[2])
                }
            })
            .collect();
        assert_eq!(ours, theirs, "{name}");
        assert!(!ours.is_empty());
    }
}

#[test]
fn stats_conversations_and_hierarchy_agree_with_tshark() {
    if !have_tool("tshark") {
        return;
    }
    for name in [
        "http-ipv4.pcap",
        "http-keepalive.pcap",
        "ws-demo-reordered.pcap",
        "udp-exchange.pcap",
        "two-interfaces.pcapng",
    ] {
        let file = fixture(name);
        let r = netlab(&["--json", "capture", "--read", &file, "--stats"]);
        assert_eq!(r.code(), 0, "{}", r.stderr);
        let j = r.json();
        // Packets per conversation, netlab's and tshark's (tcp.stream / udp.stream).
        let mut ours: Vec<(String, u64)> = j["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let n =
                    c["packets_a_to_b"].as_u64().unwrap() + c["packets_b_to_a"].as_u64().unwrap();
                (c["transport"].as_str().unwrap().to_string(), n)
            })
            .collect();
        let mut cmd = Command::new("tshark");
        cmd.args([
            "-r",
            &file,
            "-T",
            "fields",
            "-e",
            "tcp.stream",
            "-e",
            "udp.stream",
        ])
        .args(["-Y", "(tcp or udp) and not icmp and not icmpv6"]);
        let mut per: std::collections::BTreeMap<(String, u64), u64> = Default::default();
        for l in tshark_stdout(&mut cmd).lines() {
            let c: Vec<&str> = l.split('\t').collect();
            let key = if !c[0].is_empty() {
                ("tcp".to_string(), c[0].parse().unwrap())
            } else {
                ("udp".to_string(), c[1].parse().unwrap())
            };
            *per.entry(key).or_default() += 1;
        }
        let mut theirs: Vec<(String, u64)> = per.into_iter().map(|((t, _), n)| (t, n)).collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{name}: packets per conversation");
        // The hierarchy counts every packet with a TCP header once.
        let tcp = j["hierarchy"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "TCP")
            .map(|r| r["packets"].as_u64().unwrap())
            .unwrap_or(0);
        let tshark_tcp = theirs
            .iter()
            .filter(|t| t.0 == "tcp")
            .map(|t| t.1)
            .sum::<u64>();
        assert_eq!(tcp, tshark_tcp, "{name}: TCP packets");
    }
    // Application rows: packets in which an HTTP message or a WebSocket frame ended,
    // against tshark's count of packets it shows as http / websocket.
    for (name, proto, filter) in [
        ("http-keepalive.pcap", "HTTP/1.x", "http"),
        ("ws-demo.pcap", "HTTP/1.x", "http"),
        ("ws-demo.pcap", "WebSocket", "websocket"),
        ("ws-demo-reordered.pcap", "WebSocket", "websocket"),
    ] {
        let file = fixture(name);
        let j = netlab(&["--json", "capture", "--read", &file, "--stats"]).json();
        let port = j["conversations"][0]["b"][1].as_u64().unwrap();
        let ours = j["hierarchy"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == proto)
            .map(|r| r["packets"].as_u64().unwrap())
            .unwrap_or(0);
        let theirs = tshark_stdout(
            Command::new("tshark")
                .args(["-r", &file, "-d", &format!("tcp.port=={port},http")])
                .args(["-o", "tcp.reassemble_out_of_order:TRUE", "-Y", filter]),
        )
        .lines()
        .count() as u64;
        assert_eq!(ours, theirs, "{name}: packets with {proto}");
        assert!(ours > 0);
    }
    let r = netlab(&[
        "--json",
        "capture",
        "--read",
        &fixture("ws-demo-reordered.pcap"),
        "--stats",
    ]);
    let n = &r.json()["notes"];
    assert_eq!(
        (
            n["retransmissions"].as_u64(),
            n["out_of_order"].as_u64(),
            n["previous_segment_not_captured"].as_u64()
        ),
        (Some(2), Some(0), Some(1))
    );
    let bad = netlab(&[
        "capture",
        "--read",
        &fixture("http-ipv4.pcap"),
        "--stats",
        "--follow",
        "1",
    ]);
    assert_eq!(bad.code(), 2);
}

#[test]
fn tcp_notes_agree_with_tshark_analysis_flags() {
    if !have_tool("tshark") {
        return;
    }
    let flags = [
        ("retransmissions", "retransmission"),
        ("duplicate_acks", "duplicate_ack"),
        ("zero_windows", "zero_window"),
        ("window_updates", "window_update"),
        ("keep_alives", "keep_alive"),
        ("previous_segment_not_captured", "lost_segment"),
        ("out_of_order", "out_of_order"),
    ];
    // Every flag must be present in some fixture, or its comparison is 0 == 0.
    let mut seen = [0u64; 7];
    for name in [
        "zero-window.pcap",
        "http-ipv4.pcap",
        "http-keepalive.pcap",
        "ws-demo.pcap",
        "ws-demo-reordered.pcap",
        // Cut at a snap length of 80: segments follow on (no lost segments), as tshark
        // reads them from the IP lengths.
        "http-keepalive-snaplen80.pcap",
        // nftables dropped server segments: duplicate ACKs, lost segments, out of order.
        "http-lossy.pcap",
    ] {
        let file = fixture(name);
        let j = netlab(&["--json", "capture", "--read", &file, "--stats"]).json();
        for (i, (ours, theirs)) in flags.iter().enumerate() {
            let n = tshark_stdout(Command::new("tshark").args([
                "-r",
                &file,
                "-Y",
                &format!("tcp.analysis.{theirs}"),
            ]))
            .lines()
            .count() as u64;
            assert_eq!(
                j["notes"][ours].as_u64(),
                Some(n),
                "{name}: {ours} vs tcp.analysis.{theirs}"
            );
            seen[i] += n;
        }
    }
    for ((ours, theirs), n) in flags.iter().zip(seen) {
        assert!(
            n > 0,
            "no fixture has tcp.analysis.{theirs}, so {ours} is compared only as 0 == 0"
        );
    }
}

/// Every `tcp.analysis.*` flag tshark sets, and the kind of netlab's note that says the
/// same (`duplicate_ack` is compared by its number and the packet it repeats).
const ANALYSIS_FLAGS: &[(&str, &str)] = &[
    ("retransmission", "retransmission"),
    ("fast_retransmission", "fast_retransmission"),
    ("spurious_retransmission", "spurious_retransmission"),
    ("out_of_order", "out_of_order"),
    ("lost_segment", "previous_segment_not_captured"),
    ("ack_lost_segment", "acked_unseen_segment"),
    ("window_full", "window_full"),
    ("window_update", "window_update"),
    ("zero_window", "zero_window"),
    ("zero_window_probe", "zero_window_probe"),
    ("zero_window_probe_ack", "zero_window_probe_ack"),
    ("keep_alive", "keep_alive"),
    ("keep_alive_ack", "keep_alive_ack"),
];

/// tshark's analysis of each packet of `file`, as sorted labels: the flags' names and
/// `dup_ack N of F` for a duplicate ACK.
fn tshark_analysis(file: &str) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r", file, "-T", "fields", "-E", "separator=\t"]);
    for (flag, _) in ANALYSIS_FLAGS {
        cmd.args(["-e", &format!("tcp.analysis.{flag}")]);
    }
    cmd.args(["-e", "tcp.analysis.duplicate_ack_num"]);
    cmd.args(["-e", "tcp.analysis.duplicate_ack_frame"]);
    let out = cmd.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed on {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Vec<&str> = line.split('\t').collect();
            let mut labels: Vec<String> = ANALYSIS_FLAGS
                .iter()
                .zip(&v)
                .filter(|(_, x)| !x.is_empty())
                .map(|((_, ours), _)| ours.to_string())
                .collect();
            let n = ANALYSIS_FLAGS.len();
            if let (Some(num), Some(frame)) = (v.get(n), v.get(n + 1)) {
                if !num.is_empty() {
                    labels.push(format!("dup_ack {num} of {frame}"));
                }
            }
            labels.sort();
            labels
        })
        .collect()
}

/// netlab's notes on each packet of `file` (JSON Lines), as the same labels.
fn netlab_analysis(file: &str) -> Vec<Vec<String>> {
    let r = netlab(&["--jsonl", "capture", "--read", file]);
    assert_eq!(r.code(), 0, "{file}: {}", r.stderr);
    r.stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|j| j.get("number").is_some())
        .map(|j| {
            let mut labels: Vec<String> = j["notes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| {
                    let kind = n["kind"].as_str().unwrap();
                    if kind == "duplicate_ack" {
                        return Some(format!("dup_ack {} of {}", n["count"], n["of"]));
                    }
                    ANALYSIS_FLAGS
                        .iter()
                        .any(|f| f.1 == kind)
                        .then(|| kind.to_string())
                })
                .collect();
            labels.sort();
            labels
        })
        .collect()
}

#[test]
fn every_tcp_analysis_flag_agrees_with_tshark_packet_by_packet() {
    if !have_tool("tshark") {
        return;
    }
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .filter(|p| p.ends_with(".pcap") || p.ends_with(".pcapng"))
        .filter(|p| !p.contains("truncated"))
        .collect();
    files.sort();
    let mut seen: std::collections::BTreeSet<String> = Default::default();
    let mut compared = 0;
    for file in &files {
        let theirs = tshark_analysis(file);
        let ours = netlab_analysis(file);
        assert_eq!(ours.len(), theirs.len(), "{file}: packet count");
        for (k, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(o, t, "{file}: packet {}: netlab vs tshark", k + 1);
            compared += t.len();
            seen.extend(t.iter().map(|l| l.split(' ').next().unwrap().to_string()));
        }
    }
    // The fixtures show every flag (tcp-lossy-bulk*.pcap and zero-window-probe.pcap
    // were made for the rarer ones, see fixtures/make-analysis.sh).
    for (flag, ours) in ANALYSIS_FLAGS {
        assert!(seen.contains(*ours), "no fixture shows tcp.analysis.{flag}");
    }
    assert!(seen.contains("dup_ack"), "no fixture shows a duplicate ACK");
    assert!(compared >= 150, "only {compared} flags compared");
}

#[test]
fn the_summary_counts_fast_and_spurious_retransmissions_as_retransmissions() {
    if !have_tool("tshark") {
        return;
    }
    let file = fixture("tcp-lossy-bulk.pcap");
    let j = netlab(&["--json", "capture", "--read", &file, "--quiet"]).json();
    let theirs = tshark_analysis(&file);
    let count = |kind: &str| {
        theirs
            .iter()
            .filter(|t| t.iter().any(|l| l == kind))
            .count() as u64
    };
    for (ours, kind) in [
        ("retransmissions", "retransmission"),
        ("fast_retransmissions", "fast_retransmission"),
        ("spurious_retransmissions", "spurious_retransmission"),
        ("keep_alive_acks", "keep_alive_ack"),
    ] {
        assert_eq!(j["tcp_notes"][ours].as_u64(), Some(count(kind)), "{ours}");
    }
    assert!(count("fast_retransmission") >= 1 && count("spurious_retransmission") >= 1);
}

#[test]
fn relative_sequence_numbers_agree_with_tshark_even_without_a_syn() {
    if !have_tool("tshark") {
        return;
    }
    // A RST answering a SYN (the server's side has no SYN) and a capture joined
    // mid-stream: tshark counts such a side from one before its first segment.
    for name in ["tcp-refused.pcap", "any-sll.pcap", "tcp-lossy-bulk.pcap"] {
        let file = fixture(name);
        let out = Command::new("tshark")
            .args(["-n", "-r", &file, "-T", "fields", "-e", "tcp.seq"])
            .args(["-e", "tcp.ack", "-e", "tcp.flags.ack"])
            .output()
            .expect("tshark runs");
        assert!(out.status.success(), "tshark failed on {name}");
        let theirs: Vec<(String, String)> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let v: Vec<&str> = l.split('\t').collect();
                let ack = if v[2] == "1" { v[1] } else { "" };
                (v[0].to_string(), ack.to_string())
            })
            .collect();
        let r = netlab(&["--jsonl", "capture", "--read", &file]);
        let ours: Vec<(String, String)> = r
            .stdout
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|j| j.get("number").is_some())
            .map(|j| {
                let t = &j["tcp"];
                let ack = t["rel_ack"].as_u64().map(|a| a.to_string());
                (t["rel_seq"].to_string(), ack.unwrap_or_default())
            })
            .collect();
        assert_eq!(ours, theirs, "{name}: (seq, ack) per packet");
    }
    let r = netlab(&["capture", "--read", &fixture("tcp-refused.pcap")]);
    assert!(r.stdout.contains("[RST ACK] seq 1 ack 1"), "{}", r.stdout);
}
