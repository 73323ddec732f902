//! netlab's Socket.IO server machine against the real server (npm `socket.io` 4.8), both
//! running the same small application and fed the same messages.
//!
//! Three raw Engine.IO clients (npm `engine.io-client`, so every Socket.IO packet is written
//! by hand here) send the same steps to the real server and, in memory, to
//! `wire::application::socketio::Server`. What each client receives, in order, must be the
//! same, socket ids aside (the real ones are random: each is renamed by its first
//! appearance), and so must the disconnect reasons the application hears. The steps are
//! played by `tests/socketio_support/steps.js`, which waits on the server, not on a clock.

mod common;
mod socketio_support;

use netlab::wire::application::socketio::{
    Action, AppEvent, Data, EngineMessage, Options, Server, Target,
};
use netlab::wire::application::socketio::{Emit, Flags};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The steps: which client (0, 1, 2) sends which message (text, or `bin:` and hex).
const STEPS: &[(usize, &str)] = &[
    (0, "0"),
    (1, "0"),
    (2, r#"0/admin,{"token":"no"}"#),
    (2, "0/nope,"),
    (2, r#"0/admin,{"token":"123"}"#),
    (2, "0"),
    (0, r#"2["join","red"]"#),
    (1, r#"2["join","red"]"#),
    (2, r#"2["to","red","hi",{"n":1}]"#),
    (0, r#"21["echo","x",2]"#),
    (2, r#"2/admin,5["echo",true]"#),
    (1, r#"51-["shout",{"_placeholder":true,"num":0}]"#),
    (1, "bin:0102"),
    (0, r#"2["bye"]"#),
    (0, r#"2["echo"]"#),
    (1, "2[]"),
];

/// The application, in JavaScript, and the clients that play the steps.
const SCRIPT: &str = r#"
const NM = process.env.NETLAB_NODE_MODULES;
const { Server } = require(NM + "/socket.io");
const steps = JSON.parse(process.argv[1]);
const io = new Server(0, {});
const reasons = [];
io.of("/admin").use((socket, next) => {
  if (socket.handshake.auth.token === "123") return next();
  const err = new Error("Not authorized");
  err.data = { code: 7 };
  next(err);
});
io.of("/admin").on("connection", (s) => s.on("echo", (...a) => a.pop()(...a)));
io.on("connection", (s) => {
  s.on("disconnect", (r) => reasons.push(r));
  s.on("join", (room) => s.join(room));
  s.on("echo", (...a) => a.pop()(...a));
  s.on("to", (room, ...a) => s.to(room).emit("said", ...a));
  s.on("shout", (...a) => s.broadcast.emit("shout", ...a));
  s.on("bye", () => s.disconnect());
});
require(process.env.NETLAB_SIO_STEPS).play(io, steps, 3).then((logs) => {
  process.stdout.write(JSON.stringify({ logs, reasons }));
  process.exit(0);
}, (e) => {
  console.error(e);
  process.exit(1);
});
"#;

/// The same application over netlab's machine: what it does with one event.
fn application(io: &mut Server, event: AppEvent, reasons: &mut Vec<String>) {
    match event {
        AppEvent::ConnectRequest {
            session,
            namespace,
            auth,
        } => {
            let token = auth
                .as_ref()
                .and_then(|a| a.get("token"))
                .and_then(Value::as_str);
            if token == Some("123") {
                io.accept(&session, &namespace).unwrap();
            } else {
                io.refuse(
                    &session,
                    &namespace,
                    "Not authorized",
                    Some(json!({"code": 7})),
                )
                .unwrap();
            }
        }
        AppEvent::Event {
            namespace,
            socket,
            name,
            args,
            ack,
        } => {
            let first = args
                .first()
                .and_then(Data::as_json)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            match (name.as_str(), ack) {
                ("echo", Some(id)) => io.ack(&namespace, &socket, id, args).unwrap(),
                ("join", _) => io.socket(&namespace, &socket).join(&first).unwrap(),
                ("to", _) => io
                    .socket(&namespace, &socket)
                    .to(&first)
                    .emit("said", args[1..].to_vec())
                    .unwrap(),
                ("shout", _) => {
                    let emit = Emit {
                        target: Target::all().except(&socket),
                        name: "shout".into(),
                        args,
                        flags: Flags::default(),
                    };
                    io.emit(&namespace, emit, Duration::ZERO).unwrap();
                }
                ("bye", _) => io.socket(&namespace, &socket).disconnect(false).unwrap(),
                _ => {}
            }
        }
        AppEvent::Disconnected {
            namespace, reason, ..
        } if namespace == "/" => reasons.push(reason.to_string()),
        _ => {}
    }
}

fn netlab_run() -> (Vec<Vec<String>>, Vec<String>) {
    let mut n = 0;
    let mut io = Server::new(
        Options::default(),
        Box::new(move || {
            n += 1;
            format!("netlab-id-{n}")
        }),
    );
    io.add_namespace("/admin", true);
    let sessions = ["e0", "e1", "e2"];
    for s in sessions {
        io.open(s, Duration::ZERO);
    }
    let (mut logs, mut reasons) = (vec![Vec::new(), Vec::new(), Vec::new()], Vec::new());
    for (client, message) in STEPS {
        let message = match message.strip_prefix("bin:") {
            Some(hex) => EngineMessage::Binary(
                (0..hex.len() / 2)
                    .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                    .collect(),
            ),
            None => EngineMessage::Text(message.to_string()),
        };
        io.message(sessions[*client], message, Duration::ZERO);
        while let Some(action) = io.poll_action() {
            let index = |s: &str| sessions.iter().position(|x| *x == s).unwrap();
            match action {
                Action::Send {
                    session, messages, ..
                } => {
                    for m in messages.iter() {
                        logs[index(&session)].push(match m {
                            EngineMessage::Text(t) => t.clone(),
                            EngineMessage::Binary(b) => format!(
                                "bin:{}",
                                b.iter().map(|x| format!("{x:02x}")).collect::<String>()
                            ),
                        });
                    }
                }
                Action::Close { session } => logs[index(&session)].push("<closed>".into()),
                Action::App(event) => application(&mut io, event, &mut reasons),
            }
        }
    }
    (logs, reasons)
}

/// Rename each socket id (`"sid":"..."`) by its first appearance: S1, S2, ...
fn without_ids(logs: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut renamed = Vec::new();
    for log in logs {
        let mut out = Vec::new();
        for line in log {
            let mut line = line;
            if let Some(at) = line.find(r#""sid":""#) {
                let start = at + 7;
                let end = start + line[start..].find('"').unwrap();
                let next = format!("S{}", names.len() + 1);
                let name = names
                    .entry(line[start..end].to_owned())
                    .or_insert(next)
                    .clone();
                line.replace_range(start..end, &name);
            }
            out.push(line);
        }
        renamed.push(out);
    }
    renamed
}

#[test]
fn the_same_application_answers_the_same_bytes_as_the_real_server() {
    let Some(real) = socketio_support::run_real_server(SCRIPT, STEPS) else {
        return;
    };
    let real_logs: Vec<Vec<String>> = serde_json::from_value(real["logs"].clone()).unwrap();
    let mut real_reasons: Vec<String> = serde_json::from_value(real["reasons"].clone()).unwrap();
    let (logs, mut reasons) = netlab_run();
    let lines: usize = real_logs.iter().map(Vec::len).sum();
    assert!(
        lines >= 15,
        "the real server answered too little to compare: {real_logs:?}"
    );
    let (real_logs, logs) = (without_ids(real_logs), without_ids(logs));
    for (i, (theirs, ours)) in real_logs.iter().zip(&logs).enumerate() {
        assert_eq!(
            ours, theirs,
            "what client {i} received: netlab (left), socket.io (right)"
        );
    }
    real_reasons.sort();
    reasons.sort();
    assert_eq!(reasons, real_reasons, "disconnect reasons");
}
