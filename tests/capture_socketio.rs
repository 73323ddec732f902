//! `netlab capture` reads Engine.IO and Socket.IO in the Socket.IO captures (real
//! `socket.io` 4.8 server and `socket.io-client`, see tests/fixtures/README.md), and
//! agrees with tshark: tshark has no Socket.IO dissector, but it shows each WebSocket
//! text payload and each HTTP body; split and parsed here the way the protocols say,
//! they must give the packets, event names and arguments netlab shows on the same
//! packet. The event counts of `--stats` are checked against what the fixture's node
//! scripts emit.

mod common;
use common::{have_tool, netlab};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

const FIXTURES: [&str; 6] = [
    "socketio.pcap",
    "socketio-polling.pcap",
    "socketio-missed.pcap",
    "socketio-recovered.pcap",
    // Every WebSocket message compressed (permessage-deflate): tshark inflates them too,
    // so its payload text is the inflated message.
    "socketio-deflate.pcap",
    // The page, then long-polling on the same kept-alive connection.
    "socketio-keepalive.pcap",
];

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Per packet: the Engine.IO packets netlab decoded, each as comparable text.
fn netlab_packets(file: &str) -> BTreeMap<u64, Vec<String>> {
    let r = netlab(&["capture", "--read", &fixture(file), "--layers", "--json"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let j = r.json();
    let mut m = BTreeMap::new();
    for p in j["packets"].as_array().expect("packets") {
        let n = p["number"].as_u64().unwrap();
        for l in p["layers"].as_array().unwrap() {
            let Some(e) = l["decoded"].get("engineio") else {
                continue;
            };
            for pk in e["packets"].as_array().unwrap() {
                m.entry(n)
                    .or_insert_with(Vec::new)
                    .push(describe_netlab(pk));
            }
        }
    }
    m
}

/// `4 EVENT "tick" [3]` from netlab's JSON: the Engine.IO type digit, then for a
/// Socket.IO packet its type, event name and the JSON array it came from.
fn describe_netlab(p: &Value) -> String {
    let digit = match p["type"].as_str().unwrap() {
        "open" => '0',
        "close" => '1',
        "ping" => '2',
        "pong" => '3',
        "message" => '4',
        "upgrade" => '5',
        _ => '6',
    };
    let Some(s) = p.get("socketio") else {
        return digit.to_string();
    };
    if s["kind"] == "attachment" {
        return format!("4 attachment of {} bytes", s["len"]);
    }
    let mut array: Vec<Value> = Vec::new();
    if let Some(e) = s.get("event") {
        array.push(e.clone());
    }
    if let Some(a) = s.get("args") {
        array.extend(a.as_array().unwrap().iter().cloned());
    }
    // A recovery offset is the last element on the wire.
    if let (Some(o), Some(_)) = (s.get("offset"), s.get("event")) {
        array.push(o.clone());
    }
    let json = match s.get("payload") {
        Some(v) => v.to_string(),
        None if s.get("args").is_some() => Value::Array(array).to_string(),
        None => String::new(),
    };
    format!("{digit} {} {json}", s["type"].as_str().unwrap())
}

/// The same from a payload's text as tshark shows it: split at `\x1e`, the type digit,
/// then the Socket.IO header read by hand (type digit, `/namespace,`, ack digits) and
/// the JSON after it.
fn describe_text(body: &str) -> Vec<String> {
    let names = [
        "CONNECT",
        "DISCONNECT",
        "EVENT",
        "ACK",
        "CONNECT_ERROR",
        "BINARY_EVENT",
        "BINARY_ACK",
    ];
    body.split('\u{1e}')
        .map(|p| {
            let digit = &p[..1];
            // A binary message in long-polling: `b` and base64 (4 characters per 3 bytes);
            // in these captures always an attachment.
            if let Some(b64) = p.strip_prefix('b') {
                let pad = b64.bytes().rev().take_while(|&c| c == b'=').count();
                return format!("4 attachment of {} bytes", b64.len() / 4 * 3 - pad);
            }
            if digit != "4" {
                return digit.to_string();
            }
            let sio = &p[1..];
            let kind = names[sio[..1].parse::<usize>().unwrap()];
            let json_at = sio.find(['[', '{']).unwrap_or(sio.len());
            let json = match &sio[json_at..] {
                "" => String::new(),
                j => serde_json::from_str::<Value>(j).unwrap().to_string(),
            };
            format!("4 {kind} {json}")
        })
        .collect()
}

fn tshark_packets(file: &str) -> BTreeMap<u64, Vec<String>> {
    let out = Command::new("tshark")
        .args(["-n", "-r", &fixture(file), "-Y", "websocket or http"])
        .args(["-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"])
        .args(["-e", "frame.number", "-e", "websocket.payload.text"])
        .args(["-e", "http.file_data", "-e", "http.request.uri"])
        .args(["-e", "http.response_for.uri", "-e", "http.request.method"])
        .args(["-e", "websocket.opcode", "-e", "data.data"])
        .output()
        .expect("tshark runs");
    assert!(out.status.success());
    let mut m = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let c: Vec<&str> = line.split('\t').collect();
        let n: u64 = c[0].parse().unwrap();
        let (ws, body) = (c[1], c.get(2).copied().unwrap_or(""));
        let uri = c.get(3).copied().unwrap_or("");
        let answered = c.get(4).copied().unwrap_or("");
        let method = c.get(5).copied().unwrap_or("");
        // A binary WebSocket message (inflated, if it was compressed): an attachment.
        let (opcode, data) = (c.get(6).copied(), c.get(7).copied().unwrap_or(""));
        if opcode == Some("2") {
            m.insert(n, vec![format!("4 attachment of {} bytes", data.len() / 2)]);
            continue;
        }
        // A POST's body is a payload; so is a GET's answer ("ok" answers a POST).
        let payload = (method == "POST" && uri.contains("EIO=4"))
            || (method.is_empty() && answered.contains("EIO=4") && body != "ok");
        if !ws.is_empty() {
            m.insert(n, describe_text(&unescape(ws)));
        } else if payload && !body.is_empty() {
            m.insert(n, describe_text(&unescape(body)));
        }
    }
    m
}

/// tshark escapes a few characters in field text.
fn unescape(s: &str) -> String {
    s.replace("\\\"", "\"").replace("\\\\", "\\")
}

#[test]
fn engineio_and_socketio_agree_packet_by_packet_with_tsharks_payload_text() {
    if !have_tool("tshark") {
        return;
    }
    for file in FIXTURES {
        let ours = netlab_packets(file);
        let theirs = tshark_packets(file);
        assert!(ours.len() >= 6, "{file}: only {} packets", ours.len());
        assert_eq!(ours, theirs, "{file}");
    }
}

#[test]
fn stats_count_the_events_the_node_scripts_emit() {
    let events = |file: &str| {
        let r = netlab(&["capture", "--read", &fixture(file), "--stats", "--json"]);
        assert_eq!(r.code(), 0, "{}", r.stderr);
        r.json()["engineio"]["socketio_events"].clone()
    };
    // server.js / client.js, scenario chat: the client emits "hello", the server "news".
    assert_eq!(
        events("socketio.pcap"),
        serde_json::json!({"hello": 1, "news": 1})
    );
    // polling: the client emits "hello" and "upload", the server "news" twice and "file".
    assert_eq!(
        events("socketio-polling.pcap"),
        serde_json::json!({"file": 1, "hello": 1, "news": 2, "upload": 1})
    );
    // deflate: the same kind of exchange, every message compressed.
    assert_eq!(
        events("socketio-deflate.pcap"),
        serde_json::json!({"file": 1, "hello": 1, "news": 1, "thanks": 1})
    );
    // keepalive: the page first, then "hello" and "news" by long-polling.
    assert_eq!(
        events("socketio-keepalive.pcap"),
        serde_json::json!({"hello": 1, "news": 1})
    );
    // missed: tick 1 and tick 3 reach the client; tick 2 went out while it was away.
    assert_eq!(
        events("socketio-missed.pcap"),
        serde_json::json!({"tick": 2})
    );
    // recovered: tick 2 replayed as well.
    assert_eq!(
        events("socketio-recovered.pcap"),
        serde_json::json!({"tick": 3})
    );
    let r = netlab(&["capture", "--example", "socketio", "--stats", "--json"]);
    let e = &r.json()["engineio"];
    assert_eq!(
        e["heartbeats"], 2,
        "one ping and one pong that are no probe"
    );
    assert_eq!(e["packets"]["upgrade"], 1);
}

#[test]
fn a_capture_without_engineio_has_no_engineio_counts() {
    let r = netlab(&["capture", "--example", "ws-demo", "--stats", "--json"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    assert!(r.json().get("engineio").is_none());
}

#[test]
fn the_one_line_view_names_what_engineio_carried_and_only_there() {
    let r = netlab(&["capture", "--example", "socketio"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let line = |n: &str| {
        r.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{n} ")))
            .unwrap_or_else(|| panic!("no packet {n}:\n{}", r.stdout))
            .to_owned()
    };
    assert!(line("6").ends_with("← Engine.IO payload of 1 packet: 0 open sid NN69nfAhjltKBvqdAAAA upgrades [websocket] pingInterval 300 ms pingTimeout 2000 ms maxPayload 1000000"));
    assert!(line("41").ends_with(
        r#"← Engine.IO: 4 message: Socket.IO EVENT / "hello" ["from the client"] (ack asked, id 0)"#
    ));
    assert!(line("48").ends_with("← Engine.IO: 2 ping (heartbeat)"));
    // The POST's answer `ok` is no payload; a bare TCP ACK carries nothing.
    assert!(!line("24").contains("Engine.IO"));
    assert!(!line("5").contains("Engine.IO"));
    let plain = netlab(&["capture", "--example", "ws-demo"]);
    assert!(!plain.stdout.contains("Engine.IO"));
}

/// `--layers`/`--hex` place the fields on the bytes: in packet 41 (a masked client frame,
/// 66 bytes of headers, 2 of WebSocket header and a 4-byte key), the Engine.IO type is the
/// payload's first byte and the Socket.IO packet the other 29.
#[test]
fn the_layer_fields_sit_on_the_payloads_bytes() {
    let r = netlab(&["capture", "--example", "socketio", "--layers", "--json"]);
    let j = r.json();
    let p = j["packets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["number"] == 41)
        .expect("packet 41")
        .clone();
    let fields: Vec<&Value> = p["layers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["fields"].as_array().into_iter().flatten())
        .collect();
    let span = |name: &str| {
        let f = fields.iter().find(|f| f["name"] == name).unwrap();
        (
            f["span"]["start"].as_u64().unwrap(),
            f["span"]["end"].as_u64().unwrap(),
        )
    };
    assert_eq!(span("Engine.IO packet"), (72, 73));
    assert_eq!(span("Socket.IO packet"), (73, 102));
    let event = fields.iter().find(|f| f["name"] == "event").unwrap();
    assert_eq!(event["value"], "hello");
}

/// Socket.IO inside compressed WebSocket messages (permessage-deflate with context
/// takeover, the real `socket.io` server and `socket.io-client`): read once inflated, in
/// the one-line view, the follow view and the JSON, with the event names and arguments
/// the node scripts sent.
#[test]
fn compressed_socketio_is_read_in_every_view() {
    let file = fixture("socketio-deflate.pcap");
    let hello = r#"Socket.IO EVENT / "hello" ["compress me"] (ack asked, id 0)"#;
    let oneline = netlab(&["capture", "--read", &file]);
    assert_eq!(oneline.code(), 0, "{}", oneline.stderr);
    assert!(
        oneline.stdout.lines().any(|l| l.ends_with(hello)),
        "{}",
        oneline.stdout
    );
    let follow = netlab(&["capture", "--read", &file, "--follow", "1"]);
    assert!(follow.stdout.contains(hello), "{}", follow.stdout);
    assert!(follow
        .stdout
        .contains("Socket.IO attachment 1 of 1 (4 bytes)"));
    let j = netlab(&["capture", "--read", &file, "--layers", "--json"]).json();
    let mut events = Vec::new();
    for p in j["packets"].as_array().unwrap() {
        for l in p["layers"].as_array().unwrap() {
            let d = &l["decoded"];
            let Some(e) = d.get("engineio") else { continue };
            assert_eq!(d["compressed"], true, "every message here is compressed");
            for pk in e["packets"].as_array().unwrap() {
                if let Some(name) = pk["socketio"].get("event") {
                    events.push((name.clone(), pk["socketio"]["args"].clone()));
                }
            }
            // The fields were read from inflated bytes, which are not on the wire.
            for f in l["fields"].as_array().unwrap() {
                if f["name"] == "Socket.IO packet" {
                    assert_eq!(f["span"]["start"], f["span"]["end"], "{f}");
                }
            }
        }
    }
    let news = "compressed ".repeat(120).trim().to_owned();
    assert_eq!(
        events,
        [
            ("hello".into(), serde_json::json!(["compress me"])),
            ("news".into(), serde_json::json!([news])),
            (
                "file".into(),
                serde_json::json!([{"name": "a.bin", "data": {"_placeholder": true, "num": 0}}])
            ),
            ("thanks".into(), serde_json::json!([2])),
        ]
    );
}

/// A browser fetches the page (`GET /`) and then long-polls Engine.IO on the same
/// kept-alive connection: each request's target decides, so the one-line view names
/// what Engine.IO carried on exactly the packets the layer tree does, on every fixture
/// (socketio-keepalive.pcap is that browser's connection).
#[test]
fn the_one_line_view_reads_engineio_on_the_packets_the_layer_tree_does() {
    for file in FIXTURES {
        let oneline = netlab(&["capture", "--read", &fixture(file)]);
        assert_eq!(oneline.code(), 0, "{}", oneline.stderr);
        let named: Vec<u64> = oneline
            .stdout
            .lines()
            .filter(|l| l.contains("← Engine.IO"))
            .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
            .collect();
        let layers: Vec<u64> = netlab_packets(file).into_keys().collect();
        assert_eq!(named, layers, "{file}");
    }
    let r = netlab(&["capture", "--read", &fixture("socketio-keepalive.pcap")]);
    let news = r#"Socket.IO EVENT / "news" ["on the same connection"]"#;
    assert!(r.stdout.lines().any(|l| l.ends_with(news)), "{}", r.stdout);
    let follow = netlab(&[
        "capture",
        "--read",
        &fixture("socketio-keepalive.pcap"),
        "--follow",
        "1",
    ]);
    assert!(follow.stdout.contains(news), "{}", follow.stdout);
    assert!(follow.stdout.contains("GET / HTTP/1.1"));
}

/// The same conversation with the capture starting after the handshake (packets 12–22
/// of socketio-deflate.pcap): the frames are read as WebSocket, but with context
/// takeover and no agreement seen nothing can be inflated, and each compressed message
/// says so instead of showing bytes that may be wrong.
#[test]
fn a_capture_joined_after_the_handshake_says_it_cannot_inflate() {
    let file = fixture("socketio-deflate-joined.pcap");
    let j = netlab(&["capture", "--read", &file, "--layers", "--json"]).json();
    let mut outcomes = Vec::new();
    for p in j["packets"].as_array().unwrap() {
        for l in p["layers"].as_array().unwrap() {
            let d = &l["decoded"];
            assert!(d.get("engineio").is_none(), "{d}");
            if d["kind"] == "web_socket_frame" {
                assert_eq!(d["compressed"], true);
                outcomes.push(d["inflated"]["outcome"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(outcomes, vec!["missed_handshake"; 6]);
    let follow = netlab(&["capture", "--read", &file, "--follow", "1"]);
    assert!(follow
        .stdout
        .contains("the capture began after the handshake"));
    assert!(!follow.stdout.contains("inflated (permessage-deflate)"));
}
