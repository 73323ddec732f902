//! The capture decoder on frames that break RFC 6455, read from a capture file: each
//! conversation of a hand-built pcap is a correct opening handshake (RFC 6455 §1.3's
//! own key and Accept) followed by one frame that breaks one rule, and
//! `netlab capture --follow N --json` must name the rule. One conversation keeps every
//! rule (no problem may be reported), and one answers with a wrong
//! `Sec-WebSocket-Accept` (§4.2.2), which must be judged wrong.
//!
//! The unit tests beside the decoder (`src/wire/dissect/app/websocket.rs`,
//! `rule_tests`) check the same rules on the decoder alone; this checks them through
//! the whole path a student uses: pcap reader, Ethernet, IPv4, TCP reassembly, HTTP,
//! WebSocket, JSON.

mod common;
use common::netlab;

/// RFC 6455 §1.3's example key and the Accept it asks for.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const SERVER_PORT: u16 = 8080;
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// One TCP segment (ACK|PSH) over IPv4 in an Ethernet frame, appended as a pcap record.
/// Checksums are left at zero: netlab reads them as "not verified", like tshark.
fn segment(
    pcap: &mut Vec<u8>,
    from_client: bool,
    client_port: u16,
    seq: u32,
    ack: u32,
    data: &[u8],
    ts: u32,
) {
    let (client, server) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let (src, dst, sport, dport) = if from_client {
        (client, server, client_port, SERVER_PORT)
    } else {
        (server, client, SERVER_PORT, client_port)
    };
    let ip_len = (20 + 20 + data.len()) as u16;
    let mut f = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&ip_len.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]); // ACK|PSH
    f.extend_from_slice(data);
    pcap.extend_from_slice(&ts.to_le_bytes());
    pcap.extend_from_slice(&0u32.to_le_bytes());
    pcap.extend_from_slice(&(f.len() as u32).to_le_bytes());
    pcap.extend_from_slice(&(f.len() as u32).to_le_bytes());
    pcap.extend_from_slice(&f);
}

/// A conversation from `client_port`: the upgrade request, a 101 with `accept`, then
/// `frame` from the client (`from_client`) or the server.
fn conversation(
    pcap: &mut Vec<u8>,
    client_port: u16,
    accept: &str,
    from_client: bool,
    frame: &[u8],
) {
    let req = format!(
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    let (mut c, mut s) = (1000u32, 5000u32);
    let ts = u32::from(client_port);
    segment(pcap, true, client_port, c, s, req.as_bytes(), ts);
    c += req.len() as u32;
    segment(pcap, false, client_port, s, c, resp.as_bytes(), ts);
    s += resp.len() as u32;
    if from_client {
        segment(pcap, true, client_port, c, s, frame, ts);
    } else {
        segment(pcap, false, client_port, s, c, frame, ts);
    }
}

/// A frame header byte pair and payload, masked with [`MASK`] when `masked`.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![first, payload.len() as u8 | if masked { 0x80 } else { 0 }];
    if masked {
        f.extend_from_slice(&MASK);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// Each case: who sends the frame, the frame, and words of the rule it must be named
/// with (`None`: it keeps every rule).
fn cases() -> Vec<(bool, Vec<u8>, Option<&'static str>)> {
    let mut long_len = vec![0x81, 126, 0, 5];
    long_len.extend_from_slice(b"hello");
    let mut big_pong = vec![0x8a, 126, 0, 126];
    big_pong.extend_from_slice(&[0; 126]);
    vec![
        (true, frame(0x81, b"hi", true), None),
        (false, frame(0x81, b"hi", false), None),
        (
            true,
            frame(0x81, b"hi", false),
            Some("a client must mask every frame"),
        ),
        (
            false,
            frame(0x81, b"hi", true),
            Some("a server must not mask its frames"),
        ),
        (true, frame(0x09, b"p", true), Some("never fragmented")),
        (false, big_pong, Some("at most 125 bytes")),
        (false, long_len, Some("not in its shortest form")),
        (
            false,
            frame(0x83, b"", false),
            Some("opcode 0x3 is reserved"),
        ),
        (
            false,
            frame(0xc1, b"hi", false),
            Some("RSV bit is set without an extension"),
        ),
        (
            false,
            frame(0x91, b"hi", false),
            Some("RSV bit is set without an extension"),
        ),
    ]
}

fn write_capture(path: &std::path::Path) {
    let mut p = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    p.extend_from_slice(&[0, 0, 4, 0, 1, 0, 0, 0]); // snap length 262144, Ethernet
    for (i, (from_client, f, _)) in cases().into_iter().enumerate() {
        conversation(&mut p, 40000 + i as u16, ACCEPT, from_client, &f);
    }
    // The last conversation: a server that got the Accept wrong (it is the key itself).
    conversation(&mut p, 41000, KEY, false, &frame(0x81, b"hi", false));
    std::fs::write(path, p).unwrap();
}

/// The application messages `--follow n --json` reports.
fn follow(path: &std::path::Path, n: usize) -> Vec<serde_json::Value> {
    let r = netlab(&[
        "--json",
        "capture",
        "--read",
        path.to_str().unwrap(),
        "--follow",
        &n.to_string(),
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    r.json()["application"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].clone())
        .collect()
}

#[test]
fn each_broken_rule_is_named_and_a_wrong_accept_is_judged_wrong() {
    let dir = std::env::temp_dir().join(format!("netlab-ws-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.pcap");
    write_capture(&path);
    let cases = cases();
    for (i, (_, f, rule)) in cases.iter().enumerate() {
        let messages = follow(&path, i + 1);
        let accept = messages
            .iter()
            .find_map(|m| m.get("websocket_accept").filter(|a| a.is_object()))
            .unwrap_or_else(|| panic!("case {i}: no Accept check: {messages:#?}"));
        assert_eq!(accept["ok"], true, "case {i}: {accept}");
        let frames: Vec<&serde_json::Value> = messages
            .iter()
            .filter(|m| m["kind"] == "web_socket_frame")
            .collect();
        assert_eq!(frames.len(), 1, "case {i} {f:02x?}: {messages:#?}");
        let problem = frames[0]["problem"].as_str();
        match rule {
            None => assert_eq!(problem, None, "case {i} {f:02x?} keeps every rule"),
            Some(rule) => assert!(
                problem.is_some_and(|p| p.contains(rule)),
                "case {i} {f:02x?}: expected {rule:?}, got {problem:?}"
            ),
        }
    }
    let messages = follow(&path, cases.len() + 1);
    let accept = messages
        .iter()
        .find_map(|m| m.get("websocket_accept").filter(|a| a.is_object()))
        .unwrap_or_else(|| panic!("no Accept check: {messages:#?}"));
    assert_eq!(accept["ok"], false, "{accept}");
    assert_eq!(
        (accept["expected"].as_str(), accept["got"].as_str()),
        (Some(ACCEPT), Some(KEY))
    );
    let _ = std::fs::remove_dir_all(&dir);
}
