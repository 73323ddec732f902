//! netlab's Socket.IO packet code against the real one: `socket.io-parser` (the encoder and
//! decoder inside the npm `socket.io` server and `socket.io-client`), run by node.
//!
//! - netlab's encoding of each packet is byte for byte what `Encoder.encode` produces;
//! - the real `Decoder` reads netlab's messages back to the same packet;
//! - every message the real decoder refuses, netlab refuses too, and where netlab is
//!   stricter (`STRICTER`), the real decoder still lets the message through.

mod common;

use netlab::wire::application::socketio::{Data, Decoder, EngineMessage, Kind, Packet};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs in node: reads `{encode: [packet], decode: [[message]]}` on stdin, writes
/// `{encoded: [[message]], decoded: [packet | {error}]}`. A message is `{text}` or `{bin}`
/// (hex); a binary inside data is `{bin}`.
const SCRIPT: &str = r#"
const { Encoder, Decoder } = require(process.env.NETLAB_NODE_MODULES + "/socket.io-parser");
const toJs = (v) => Array.isArray(v) ? v.map(toJs)
  : v && typeof v === "object" ? (Object.keys(v).length === 1 && "bin" in v ? Buffer.from(v.bin, "hex")
    : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJs(x)]))) : v;
const fromJs = (v) => Buffer.isBuffer(v) ? { bin: v.toString("hex") } : Array.isArray(v) ? v.map(fromJs)
  : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromJs(x)])) : v;
const message = (m) => typeof m === "string" ? { text: m } : { bin: Buffer.from(m).toString("hex") };
let input = "";
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  const { encode, decode } = JSON.parse(input);
  const encoded = encode.map((p) => new Encoder().encode(toJs(p)).map(message));
  const decoded = decode.map((messages) => {
    const d = new Decoder();
    let out = { error: "incomplete" };
    d.on("decoded", (p) => (out = fromJs({ ...p })));
    try {
      for (const m of messages) d.add("text" in m ? m.text : Buffer.from(m.bin, "hex"));
    } catch (e) {
      out = { error: e.message };
    }
    return out;
  });
  process.stdout.write(JSON.stringify({ encoded, decoded }));
});
"#;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn data_json(d: &Data) -> Value {
    match d {
        Data::Json(v) => v.clone(),
        Data::Binary(b) => json!({ "bin": hex(b) }),
        Data::Array(items) => Value::Array(items.iter().map(data_json).collect()),
        Data::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, d)| (k.clone(), data_json(d)))
                .collect(),
        ),
    }
}

/// A packet as `socket.io-parser` represents it once decoded (binary types read back as
/// EVENT and ACK).
fn packet_json(p: &Packet) -> Value {
    let mut out = json!({ "nsp": p.namespace });
    let (kind, id, data) = match &p.kind {
        Kind::Connect(auth) => (0, None, auth.clone().map(Value::Object)),
        Kind::Disconnect => (1, None, None),
        Kind::Event { name, args, ack } => {
            let all = std::iter::once(json!(name))
                .chain(args.iter().map(data_json))
                .collect();
            (2, *ack, Some(Value::Array(all)))
        }
        Kind::Ack { id, args } => (
            3,
            Some(*id),
            Some(Value::Array(args.iter().map(data_json).collect())),
        ),
        Kind::ConnectError(v) => (4, None, Some(v.clone())),
    };
    out["type"] = json!(kind);
    if let Some(id) = id {
        out["id"] = json!(id);
    }
    if let Some(data) = data {
        out["data"] = data;
    }
    out
}

fn message_json(m: &EngineMessage) -> Value {
    match m {
        EngineMessage::Text(t) => json!({ "text": t }),
        EngineMessage::Binary(b) => json!({ "bin": hex(b) }),
    }
}

fn message_from_json(v: &Value) -> EngineMessage {
    match (v.get("text"), v.get("bin")) {
        (Some(t), _) => EngineMessage::Text(t.as_str().unwrap().to_owned()),
        (_, Some(b)) => EngineMessage::Binary(unhex(b.as_str().unwrap())),
        _ => panic!("a message is text or binary: {v}"),
    }
}

fn run_real_parser(input: &Value) -> Option<Value> {
    let modules = common::node_modules("socket.io-parser")?;
    let mut child = Command::new("node")
        .arg("-e")
        .arg(SCRIPT)
        .env("NETLAB_NODE_MODULES", &modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("node finishes");
    assert!(out.status.success(), "node failed: {}", out.status);
    Some(serde_json::from_slice(&out.stdout).expect("node wrote JSON"))
}

/// Our decoder on one message sequence: the packet, or the error.
fn ours(messages: &[EngineMessage]) -> Result<Option<Packet>, String> {
    let mut decoder = Decoder::default();
    let mut last = None;
    for m in messages {
        last = decoder.push(m.clone()).map_err(|e| e.to_string())?;
    }
    Ok(last)
}

fn packets() -> Vec<Packet> {
    let auth = json!({"token": "123"}).as_object().cloned();
    let nested = Data::Object(vec![
        ("x".into(), Data::Binary(vec![9])),
        (
            "y".into(),
            Data::Array(vec![
                Data::Binary(vec![8, 7]),
                Data::Json(json!({"a": [1, 2.5, null]})),
            ]),
        ),
    ]);
    vec![
        Packet::new("/", Kind::Connect(None)),
        Packet::new("/admin", Kind::Connect(auth)),
        Packet::new("/admin", Kind::Disconnect),
        Packet::event(
            "/",
            "chat",
            vec![
                json!("hé \"quoted\" \n").into(),
                json!({"b": true, "n": -3}).into(),
            ],
        ),
        Packet::new(
            "/x",
            Kind::Event {
                name: "q".into(),
                args: vec![],
                ack: Some(12),
            },
        ),
        Packet::event(
            "/",
            "bin",
            vec![json!("baz").into(), Data::Binary(vec![1, 2, 3, 4])],
        ),
        Packet::event("/admin", "two", vec![nested, Data::Binary(vec![])]),
        Packet::new(
            "/",
            Kind::Ack {
                id: 7,
                args: vec![json!("bar").into(), Data::Binary(vec![0xff])],
            },
        ),
        Packet::new(
            "/",
            Kind::Ack {
                id: 0,
                args: vec![],
            },
        ),
        Packet::new(
            "/nope",
            Kind::ConnectError(json!({"message": "Invalid namespace"})),
        ),
    ]
}

/// Messages the real decoder refuses; netlab must refuse each too.
const MALFORMED: &[&str] = &[
    "7",
    "x",
    "5[\"e\"]",
    "50-[\"e\"]",
    "511-[\"e\"]",
    "2[\"e\"",
    "0[]",
    "1{}",
    "4[]",
    "2{}",
    "2[]",
    "2[\"disconnect\"]",
    "2[\"connect\"]",
    "2[\"newListener\"]",
    "3{}",
    "2/admin,{}",
];

/// Messages the real decoder lets through and netlab refuses, each for a rule the
/// specification or the rest of Socket.IO states: a packet starts with its type digit (the
/// empty message reads as `Number("") == 0`, a CONNECT); an EVENT's payload is mandatory
/// and an ACK's too; an ACK names the event it answers; only EVENT and ACK carry an ack id;
/// an event name is a string; a namespace ends at `,`.
const STRICTER: &[&str] = &["", "2", "31", "3[]", "012{}", "2[1]", "2/admin[\"e\"]"];

#[test]
fn encoding_and_decoding_agree_with_socket_io_parser() {
    let packets = packets();
    let ours_encoded: Vec<Vec<EngineMessage>> = packets.iter().map(Packet::encode).collect();
    let mut decode: Vec<Value> = ours_encoded
        .iter()
        .map(|ms| Value::Array(ms.iter().map(message_json).collect()))
        .collect();
    decode.extend(
        MALFORMED
            .iter()
            .chain(STRICTER)
            .map(|m| json!([{ "text": m }])),
    );
    let input = json!({
        "encode": packets.iter().map(packet_json).collect::<Vec<_>>(),
        "decode": decode,
    });
    let Some(real) = run_real_parser(&input) else {
        return;
    };
    for (i, packet) in packets.iter().enumerate() {
        let theirs: Vec<EngineMessage> = real["encoded"][i]
            .as_array()
            .unwrap()
            .iter()
            .map(message_from_json)
            .collect();
        assert_eq!(ours_encoded[i], theirs, "encoding of {packet:?}");
        assert_eq!(
            real["decoded"][i],
            packet_json(packet),
            "the real decoder on our {packet:?}"
        );
        assert_eq!(
            ours(&theirs),
            Ok(Some(packet.clone())),
            "our decoder on the real encoding"
        );
    }
    for (i, text) in MALFORMED.iter().enumerate() {
        let verdict = &real["decoded"][packets.len() + i];
        assert!(
            verdict.get("error").is_some(),
            "the real decoder accepts {text:?}: {verdict}"
        );
        let message = [EngineMessage::Text(text.to_string())];
        assert!(
            ours(&message).is_err(),
            "netlab accepts {text:?}, which the real decoder refuses ({verdict})"
        );
    }
    for (i, text) in STRICTER.iter().enumerate() {
        let verdict = &real["decoded"][packets.len() + MALFORMED.len() + i];
        assert!(
            verdict.get("error").is_none(),
            "the real decoder now refuses {text:?}: {verdict}"
        );
        let message = [EngineMessage::Text(text.to_string())];
        assert!(ours(&message).is_err(), "netlab accepts {text:?}");
    }
}
