//! Correctness against real peers: captures of WebSocket libraries other than netlab's
//! (Python `websockets`, Node.js `ws`, one run with permessage-deflate) and of an HTTP
//! transfer under real packet loss (`tests/fixtures/make-peers.sh`), decoded by netlab and
//! by tshark. Every WebSocket frame, every HTTP message and the TCP notes must agree;
//! any mismatch fails.

mod common;
use common::{have_tool, netlab};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .expect("tshark runs");
    assert!(out.status.success(), "tshark {args:?}: {:?}", out.status);
    String::from_utf8(out.stdout).unwrap()
}

/// One WebSocket frame, as either decoder reports it. `payload` is the whole payload
/// after unmasking (for a compressed message: the compressed bytes as sent).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Frame {
    from_port: u16,
    fin: bool,
    rsv: u8,
    opcode: u8,
    masked: bool,
    mask_key: String,
    payload_len: u64,
    payload: Vec<u8>,
    close_code: Option<u16>,
    close_reason: Option<String>,
    /// The frame belongs to a message compressed with permessage-deflate.
    compressed: bool,
}

/// The first value under `key` anywhere inside `v` (tshark nests payload fields).
fn find<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m.get(key).or_else(|| m.values().find_map(|x| find(x, key))),
        Value::Array(a) => a.iter().find_map(|x| find(x, key)),
        _ => None,
    }
}

fn field<'a>(f: &'a Value, key: &str) -> Option<&'a str> {
    f.get(key).and_then(Value::as_str)
}

/// tshark's frames, in capture order, with `port` decoded as HTTP so it follows the
/// Upgrade. `-x` adds each field's bytes (`*_raw`): `websocket.payload_raw` is the
/// payload unmasked, as on the wire otherwise (tshark decompresses into a separate tree).
fn tshark_frames(file: &str, port: u16) -> Vec<Frame> {
    let text = tshark(&[
        "-r",
        file,
        "-d",
        &format!("tcp.port=={port},http"),
        "-Y",
        "websocket",
        "-T",
        "json",
        "-x",
        "-J",
        "tcp websocket",
    ]);
    let packets: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut frames = Vec::new();
    // permessage-deflate marks only a message's first frame (RFC 7692 §6.1).
    let mut message_compressed: BTreeMap<u16, bool> = BTreeMap::new();
    for p in &packets {
        let layers = &p["_source"]["layers"];
        let from_port: u16 = field(&layers["tcp"], "tcp.srcport")
            .unwrap()
            .parse()
            .unwrap();
        let ws = &layers["websocket"];
        let list: Vec<&Value> = match ws {
            Value::Array(a) => a.iter().collect(),
            one => vec![one],
        };
        for f in list {
            let num = |k: &str| field(f, k).map(|v| v.parse::<u64>().unwrap());
            let opcode = num("websocket.opcode").unwrap() as u8;
            let payload_len = match num("websocket.payload_length").unwrap() {
                126 => num("websocket.payload_length_ext_16").unwrap(),
                127 => num("websocket.payload_length_ext_64").unwrap(),
                n => n,
            };
            let payload = f
                .get("websocket.payload_raw")
                .map(|r| unhex(r[0].as_str().unwrap()))
                .unwrap_or_default();
            let pmc = field(f, "websocket.pmc") == Some("1");
            let compressed = if opcode >= 8 {
                false
            } else if opcode == 0 {
                message_compressed.get(&from_port).copied().unwrap_or(false)
            } else {
                message_compressed.insert(from_port, pmc);
                pmc
            };
            let close = (opcode == 8).then(|| {
                (
                    find(f, "websocket.payload.close.status_code")
                        .and_then(Value::as_str)
                        .map(|c| c.parse().unwrap()),
                    find(f, "websocket.payload.close.reason")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .or(Some(String::new())),
                )
            });
            frames.push(Frame {
                from_port,
                fin: field(f, "websocket.fin") == Some("1"),
                // Shown as the 3-bit value: RSV1 is 4.
                rsv: u8::from_str_radix(
                    field(f, "websocket.rsv").unwrap().trim_start_matches("0x"),
                    16,
                )
                .unwrap(),
                opcode,
                masked: field(f, "websocket.mask") == Some("1"),
                mask_key: field(f, "websocket.masking_key")
                    .unwrap_or("")
                    .replace(':', ""),
                payload_len,
                payload,
                close_code: close.as_ref().and_then(|c| c.0),
                close_reason: close.and_then(|c| c.1),
                compressed,
            });
        }
    }
    frames
}

/// netlab's `--follow --json` of conversation 1: its report and each direction's
/// reassembled bytes (a → b, b → a).
fn netlab_follow(file: &str) -> (Value, [Vec<u8>; 2]) {
    let r = netlab(&["--json", "capture", "--read", file, "--follow", "1"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let j = r.json();
    let mut streams = [Vec::new(), Vec::new()];
    for c in j["chunks"].as_array().unwrap() {
        assert_eq!(c["missing"], 0, "{file}: no bytes missing: {c}");
        let i = usize::from(c["direction"] != "a_to_b");
        assert_eq!(c["offset"].as_u64().unwrap(), streams[i].len() as u64);
        streams[i].extend(unhex(c["hex"].as_str().unwrap()));
    }
    (j, streams)
}

/// netlab's frames. The event carries a 256-byte preview; the whole payload is cut from
/// the reassembled stream at the event's offset, past the header netlab says the frame
/// has, and unmasked with the key netlab read: so frame boundaries, header lengths and
/// keys are all netlab's, checked over every byte.
fn netlab_frames(j: &Value, streams: &[Vec<u8>; 2]) -> Vec<Frame> {
    let ports = [
        j["conversation"]["a"][1].as_u64().unwrap() as u16,
        j["conversation"]["b"][1].as_u64().unwrap() as u16,
    ];
    let mut frames = Vec::new();
    for ev in j["application"].as_array().unwrap() {
        let m = &ev["message"];
        if m["kind"] != "web_socket_frame" {
            continue;
        }
        assert!(m["problem"].is_null(), "no rule broken: {m}");
        let i = usize::from(ev["direction"] != "a_to_b");
        let len = m["payload_len"].as_u64().unwrap();
        let masked = m["masked"] == true;
        let ext = match m["length_encoding"].as_str().unwrap() {
            "bits7" => 0,
            "bits16" => 2,
            "bits64" => 8,
            e => panic!("length encoding {e}"),
        };
        let start = ev["offset"].as_u64().unwrap() as usize + 2 + ext + 4 * usize::from(masked);
        let mut payload = streams[i][start..start + len as usize].to_vec();
        let key = m["mask_key"].as_str().unwrap_or("").to_string();
        if masked {
            let k = unhex(&key);
            for (n, b) in payload.iter_mut().enumerate() {
                *b ^= k[n % 4];
            }
        }
        // The preview is the payload's start: text (text frames, pings, pongs) or hex.
        let shown = &payload[..payload.len().min(256)];
        match (m["payload_text"].as_str(), m["payload_hex"].as_str()) {
            (Some(t), None) => assert_eq!(t.as_bytes(), shown, "{m}"),
            (None, Some(h)) => assert_eq!(unhex(h), shown, "{m}"),
            other => panic!("one preview per frame: {other:?}"),
        }
        assert_eq!(
            m["not_shown"].as_u64().unwrap(),
            len - shown.len() as u64,
            "{m}"
        );
        let rsv = u8::from(m["rsv1"] == true) << 2
            | u8::from(m["rsv2"] == true) << 1
            | u8::from(m["rsv3"] == true);
        frames.push(Frame {
            from_port: ports[i],
            fin: m["fin"] == true,
            rsv,
            opcode: m["opcode_bits"].as_u64().unwrap() as u8,
            masked,
            mask_key: key,
            payload_len: len,
            payload,
            close_code: m["close_code"].as_u64().map(|c| c as u16),
            close_reason: m["close_reason"].as_str().map(str::to_owned),
            compressed: m["compressed"] == true,
        });
    }
    frames
}

/// The captures of other libraries, with the server's port, how many frames each holds
/// and whether permessage-deflate was negotiated.
const PEERS: [(&str, u16, usize, bool); 3] = [
    ("peers-ws-python.pcap", 18130, 17, false),
    ("peers-ws-python-deflate.pcap", 18131, 17, true),
    ("peers-ws-node.pcap", 18132, 16, false),
];

#[test]
fn every_websocket_frame_of_real_peers_agrees_with_tshark() {
    if !have_tool("tshark") {
        return;
    }
    for (name, port, count, deflate) in PEERS {
        let file = fixture(name);
        let (j, streams) = netlab_follow(&file);
        assert_eq!(j["conversation"]["b"][1], port, "{name}: server port");
        let ours = netlab_frames(&j, &streams);
        let theirs = tshark_frames(&file, port);
        assert_eq!(ours.len(), count, "{name}: every frame");
        assert_eq!(theirs.len(), count, "{name}: tshark's frames");
        // Per direction, in stream order (across directions the order is the capture's,
        // which netlab keeps per reassembled stream).
        for p in [j["conversation"]["a"][1].as_u64().unwrap() as u16, port] {
            let a: Vec<&Frame> = ours.iter().filter(|f| f.from_port == p).collect();
            let b: Vec<&Frame> = theirs.iter().filter(|f| f.from_port == p).collect();
            assert_eq!(a.len(), b.len(), "{name}: frames from port {p}");
            for (k, (x, y)) in a.iter().zip(&b).enumerate() {
                assert_eq!(x, y, "{name}: frame {k} from port {p}");
            }
        }
        // What each capture was made to show.
        let has = |pred: &dyn Fn(&Frame) -> bool| ours.iter().any(pred);
        assert!(
            has(&|f| f.opcode == 2 && f.payload_len > 70_000),
            "{name}: a big message"
        );
        assert!(has(&|f| f.opcode == 9 && f.fin), "{name}: a ping");
        assert!(has(&|f| f.opcode == 10), "{name}: a pong");
        assert!(has(&|f| f.opcode == 0), "{name}: continuation frames");
        assert!(
            has(&|f| f.opcode == 8
                && f.close_code == Some(4000)
                && f.close_reason.as_deref() == Some("bye")),
            "{name}: close 4000 bye"
        );
        assert_eq!(
            has(&|f| f.compressed && f.rsv == 0b100),
            deflate,
            "{name}: RSV1 frames labelled compressed exactly when deflate was negotiated"
        );
        // A ping between two fragments of one message (RFC 6455 §5.4 allows it).
        let client: Vec<&Frame> = ours.iter().filter(|f| f.masked).collect();
        let first = client.iter().position(|f| !f.fin && f.opcode == 1).unwrap();
        assert_eq!(
            client[first + 1].opcode,
            9,
            "{name}: ping inside the message"
        );
        // The big message crossed many TCP segments.
        let segments = tshark(&[
            "-r",
            &file,
            "-Y",
            &format!("tcp.dstport=={port} && tcp.len>0"),
        ]);
        assert!(segments.lines().count() > 50, "{name}: many segments");
    }
}

#[test]
fn fragmented_messages_of_real_peers_are_reassembled() {
    if !have_tool("tshark") {
        return;
    }
    for (name, port, _, deflate) in PEERS {
        let file = fixture(name);
        let (j, _) = netlab_follow(&file);
        let messages: Vec<&Value> = j["application"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["message"])
            .filter(|m| m["kind"] == "web_socket_message")
            .collect();
        assert_eq!(
            messages.len(),
            1,
            "{name}: the client's one fragmented message"
        );
        let m = messages[0];
        assert_eq!(m["opcode"], "text");
        // The message is its frames' payloads joined: tshark's, first frame to FIN.
        // (tshark shows a reassembled text only when the last fragment is not empty;
        // Python's `websockets` ends its fragments with an empty one.)
        let frames = tshark_frames(&file, port);
        let first = frames.iter().position(|f| f.opcode == 1 && !f.fin).unwrap();
        let mut joined = Vec::new();
        let mut count = 0;
        for f in frames[first..]
            .iter()
            .filter(|f| f.from_port == frames[first].from_port && f.opcode < 8)
        {
            joined.extend_from_slice(&f.payload);
            count += 1;
            if f.fin {
                break;
            }
        }
        assert_eq!(m["frames"], count, "{name}");
        assert_eq!(m["len"], joined.len(), "{name}");
        if deflate {
            // Compressed: the joined bytes are DEFLATE, so the message line shows no text
            // (tshark 4.0 shows them as if they were text); netlab's inflated text is on
            // the last frame (see compressed_messages_are_inflated_as_tshark_inflates_them).
            assert!(m["text"].is_null(), "{m}");
        } else {
            assert_eq!(m["text"].as_str().unwrap().as_bytes(), joined, "{name}");
            assert_eq!(m["text"], "fragment one, fragment two, fragment three");
            assert_eq!(m["len"], 42);
        }
    }
}

/// HTTP messages as tshark reads them: "METHOD URI", or "STATUS for URI" with the body
/// (de-chunked) when there is one.
fn tshark_http(file: &str, port: u16) -> Vec<String> {
    tshark(&[
        "-r",
        file,
        "-d",
        &format!("tcp.port=={port},http"),
        "-o",
        "tcp.reassemble_out_of_order:TRUE",
        "-Y",
        "http",
        "-T",
        "fields",
        "-e",
        "http.request.method",
        "-e",
        "http.request.uri",
        "-e",
        "http.response.code",
        "-e",
        "http.response_for.uri",
        "-e",
        "http.file_data",
    ])
    .lines()
    .map(|l| {
        let c: Vec<&str> = l.split('\t').collect();
        if !c[0].is_empty() {
            format!("{} {}", c[0], c[1])
        } else {
            let path = c[3]
                .splitn(4, '/')
                .nth(3)
                .map(|p| format!("/{p}"))
                .unwrap_or_default();
            // tshark writes a newline in a string field as `\n`.
            let body: String = c[4].replace("\\n", "\n").chars().take(256).collect();
            format!("{} for {path}: {body:?}", c[2])
        }
    })
    .collect()
}

fn netlab_http(j: &Value) -> Vec<String> {
    let mut targets = BTreeMap::new();
    let mut out = Vec::new();
    for ev in j["application"].as_array().unwrap() {
        let m = &ev["message"];
        match m["kind"].as_str().unwrap() {
            "http_request" => {
                targets.insert(m["number"].as_u64().unwrap(), m["target"].clone());
                out.push(format!(
                    "{} {}",
                    m["method"].as_str().unwrap(),
                    m["target"].as_str().unwrap()
                ));
            }
            "http_response" => {
                let t = &targets[&m["answers"].as_u64().unwrap()];
                let body: String = m["body_preview"]
                    .as_str()
                    .unwrap()
                    .chars()
                    .take(256)
                    .collect();
                out.push(format!(
                    "{} for {}: {body:?}",
                    m["status"],
                    t.as_str().unwrap()
                ));
            }
            _ => {}
        }
    }
    out
}

#[test]
fn http_of_real_peers_agrees_with_tshark() {
    if !have_tool("tshark") {
        return;
    }
    for (name, port) in [
        ("http-lossy.pcap", 18140),
        ("http-keepalive.pcap", 18090),
        ("peers-ws-python.pcap", 18130),
        ("peers-ws-python-deflate.pcap", 18131),
        ("peers-ws-node.pcap", 18132),
    ] {
        let file = fixture(name);
        let (j, _) = netlab_follow(&file);
        let ours = netlab_http(&j);
        let theirs = tshark_http(&file, port);
        assert_eq!(ours, theirs, "{name}");
        assert!(ours.len() >= 2, "{name}");
    }
    // The chunked response after the loss, and the 200,000-byte body, whole.
    let (j, _) = netlab_follow(&fixture("http-lossy.pcap"));
    let responses: Vec<&Value> = j["application"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["message"])
        .filter(|m| m["kind"] == "http_response")
        .collect();
    assert_eq!(responses[0]["body_len"], 200_000);
    assert_eq!(responses[1]["framing"], "chunked");
    assert_eq!(responses[1]["chunks"], 3);
    let lengths = tshark(&[
        "-r",
        &fixture("http-lossy.pcap"),
        "-Y",
        "http.response",
        "-T",
        "fields",
        "-e",
        "http.content_length",
    ]);
    assert_eq!(lengths.lines().next(), Some("200000"));
}

/// Per frame of one capture: (source port, relative sequence number, payload length) and
/// tshark's `tcp.analysis.*` flags on it.
struct Segment {
    port: String,
    seq: u64,
    len: u64,
    flags: Vec<&'static str>,
}

const FLAGS: [&str; 6] = [
    "retransmission",
    "fast_retransmission",
    "spurious_retransmission",
    "out_of_order",
    "lost_segment",
    "duplicate_ack",
];

fn tshark_segments(file: &str) -> Vec<Segment> {
    let mut args = vec![
        "-r".to_string(),
        file.to_string(),
        "-T".into(),
        "fields".into(),
        "-e".into(),
        "tcp.srcport".into(),
        "-e".into(),
        "tcp.seq".into(),
        "-e".into(),
        "tcp.len".into(),
    ];
    for f in FLAGS {
        args.push("-e".into());
        args.push(format!("tcp.analysis.{f}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tshark(&args)
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Segment {
                port: c[0].to_string(),
                seq: c[1].parse().unwrap(),
                len: c[2].parse().unwrap(),
                flags: FLAGS
                    .iter()
                    .zip(&c[3..])
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(f, _)| *f)
                    .collect(),
            }
        })
        .collect()
}

/// Byte ranges seen so far in one direction, merged.
#[derive(Default)]
struct Seen(Vec<(u64, u64)>);

impl Seen {
    fn covers(&self, s: u64, e: u64) -> bool {
        self.0.iter().any(|&(a, b)| a <= s && e <= b)
    }
    fn add(&mut self, s: u64, e: u64) {
        self.0.push((s, e));
        self.0.sort();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for &(a, b) in &self.0 {
            match merged.last_mut() {
                Some(m) if a <= m.1 => m.1 = m.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.0 = merged;
    }
    /// The end of the highest bytes seen.
    fn highest(&self) -> u64 {
        self.0.last().map_or(1, |&(_, b)| b)
    }
}

#[test]
fn tcp_notes_on_a_lossy_capture_agree_with_tshark() {
    if !have_tool("tshark") {
        return;
    }
    let file = fixture("http-lossy.pcap");
    let j = netlab(&["--json", "capture", "--read", &file, "--stats"]).json();
    let n = &j["notes"];
    let segs = tshark_segments(&file);
    let count = |f: &str| segs.iter().filter(|s| s.flags.contains(&f)).count() as u64;

    // Duplicate ACKs mean the same in both: an ACK with no data repeating the last
    // acknowledgement and window.
    assert_eq!(n["duplicate_acks"].as_u64(), Some(count("duplicate_ack")));
    assert!(count("duplicate_ack") > 0, "the loss caused duplicate ACKs");

    // netlab follows Wireshark's rules (from the highest sequence number sent so far
    // and the time since it), so the counts agree with tshark's flags.
    let retransmitted = segs
        .iter()
        .filter(|s| s.flags.iter().any(|f| f.contains("retransmission")))
        .count() as u64;
    assert_eq!(n["retransmissions"].as_u64(), Some(retransmitted), "{n}");
    assert_eq!(
        n["out_of_order"].as_u64(),
        Some(count("out_of_order")),
        "{n}"
    );
    assert_eq!(
        n["previous_segment_not_captured"].as_u64(),
        Some(count("lost_segment")),
        "{n}"
    );
    // And they say something true about the bytes, read from tshark's own sequence
    // numbers: a segment that brings nothing new is flagged (retransmission or out of
    // order), and "previous segment not captured" starts beyond every byte seen.
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let (mut repeats, mut after_hole) = (0u64, 0u64);
    for s in segs.iter().filter(|s| s.len > 0) {
        let dir = seen.entry(s.port.clone()).or_default();
        let (start, end) = (s.seq, s.seq + s.len);
        if dir.covers(start, end) {
            repeats += 1;
            assert!(
                s.flags
                    .iter()
                    .any(|f| f.contains("retransmission") || *f == "out_of_order"),
                "every repeated segment is flagged (seq {start}): {:?}",
                s.flags
            );
        }
        if s.flags.contains(&"lost_segment") {
            after_hole += 1;
            assert!(
                start > dir.highest(),
                "lost_segment at {start} is after a hole"
            );
        }
        dir.add(start, end);
    }
    assert!(
        repeats > 0 && after_hole > 0,
        "the capture shows loss ({repeats}, {after_hole})"
    );
    assert_eq!(n["gaps"], 0, "every byte was captured in the end");
}

#[test]
fn a_lossy_transfer_is_followed_whole() {
    if !have_tool("tshark") {
        return;
    }
    let file = fixture("http-lossy.pcap");
    let (j, streams) = netlab_follow(&file);
    let text = tshark(&["-r", &file, "-q", "-z", "follow,tcp,raw,0"]);
    let (mut to1, mut to0) = (Vec::new(), Vec::new());
    for line in text.lines() {
        if let Some(h) = line.strip_prefix('\t') {
            to0.extend(unhex(h.trim()));
        } else if !line.is_empty() && line.bytes().all(|b| b.is_ascii_hexdigit()) {
            to1.extend(unhex(line));
        }
    }
    // Node 0 is the client (it sent the first packet), as netlab's `a`.
    assert_eq!(streams[0], to1, "client → server");
    assert_eq!(streams[1], to0, "server → client");
    assert!(streams[1].len() > 200_000);
    let c = &j["conversation"];
    assert!(c["retransmissions"].as_u64().unwrap() > 0, "{c}");
    assert_eq!(c["gaps"], 0);
    assert_eq!(c["state"], "closed");
}

#[test]
fn compressed_messages_are_inflated_as_tshark_inflates_them() {
    if !have_tool("tshark") {
        return;
    }
    let file = fixture("peers-ws-python-deflate.pcap");
    // tshark inflates a compressed message that fits one frame: text as
    // websocket.payload.text, binary as data.data (hex).
    let theirs: Vec<(String, String)> = tshark(&[
        "-r",
        &file,
        "-Y",
        "websocket.pmc==1 && websocket.fin==1 && websocket.opcode!=0",
        "-T",
        "fields",
        "-e",
        "websocket.payload.text",
        "-e",
        "data.data",
    ])
    .lines()
    .map(|l| {
        let c: Vec<&str> = l.split('\t').collect();
        (c[0].to_owned(), c.get(1).unwrap_or(&"").to_string())
    })
    .collect();
    let (j, _) = netlab_follow(&file);
    let frames: Vec<&Value> = j["application"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["message"])
        .filter(|m| m["kind"] == "web_socket_frame" && !m["inflated"].is_null())
        .collect();
    let single: Vec<&&Value> = frames.iter().filter(|m| m["rsv1"] == true).collect();
    assert_eq!(single.len(), theirs.len(), "{theirs:?}");
    assert!(theirs.len() >= 5);
    for (m, (text, data)) in single.iter().zip(&theirs) {
        let inflated = &m["inflated"];
        assert_eq!(inflated["outcome"], "message", "{m}");
        match inflated["text"].as_str() {
            Some(t) => assert_eq!(t, text),
            None => {
                let hex = inflated["hex"].as_str().unwrap();
                assert!(!hex.is_empty() && data.starts_with(hex), "{hex} vs {data}");
            }
        }
    }
    // The fragmented compressed message (RSV1 on its first frame only): tshark shows its
    // joined bytes uninflated; netlab inflates it across its frames and the ping between.
    let last_fragment = frames
        .iter()
        .find(|m| m["opcode"] == "continuation")
        .expect("the fragmented message");
    assert_eq!(
        last_fragment["inflated"]["text"],
        "fragment one, fragment two, fragment three"
    );
}
