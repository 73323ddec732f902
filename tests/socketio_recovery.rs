//! Connection state recovery, netlab's server machine against the real server (npm
//! `socket.io` 4.8 with `connectionStateRecovery: {}`), both running the same application
//! and fed the same steps by raw Engine.IO clients (npm `engine.io-client`).
//!
//! A client joins a room, receives events (each with an offset), loses its connection,
//! misses events (to everyone, to its room, to another room, a volatile one), comes back
//! with `{"pid":..,"offset":..}` and must get exactly what the real server replays. The
//! other client leaves on purpose, comes back with its pid and offset, and must not be
//! recovered. (One difference is left out on purpose: the real server keeps a session it
//! gave back until it expires, so the recovered client could recover it a second time,
//! even after leaving on purpose; netlab gives a session back once.) Socket ids, pids and offsets differ between
//! the two servers (random, or from a clock): each is renamed by its first appearance.

mod common;
mod socketio_support;

use netlab::wire::application::socketio::{
    Action, AppEvent, Data, DisconnectReason, EngineMessage, Options, RecoveryOptions, Server,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// `(client, step)`: a message to send, `close` (drop the connection), `open` (a new
/// connection), or `0$auth`: a CONNECT with the pid and last offset this client saw.
/// Played by `tests/socketio_support/steps.js`, which waits on the server, not on a clock.
const STEPS: &[(usize, &str)] = &[
    (0, "0"),
    (1, "0"),
    (0, r#"2["join","r1"]"#),
    (1, r#"2["all",1]"#),
    (1, r#"2["room","r1",2]"#),
    (1, r#"2["ask"]"#),
    (0, "close"),
    (1, r#"2["all",3]"#),
    (1, r#"2["room","r1",4]"#),
    (1, r#"2["room","r2",5]"#),
    (1, r#"2["vol",6]"#),
    (0, "open"),
    (0, "0$auth"),
    (1, r#"2["all",7]"#),
    (1, "1"),
    (1, "0$auth"),
];

const SCRIPT: &str = r#"
const NM = process.env.NETLAB_NODE_MODULES;
const { Server } = require(NM + "/socket.io");
const steps = JSON.parse(process.argv[1]);
const io = new Server(0, { connectionStateRecovery: {} });
const heard = [];
io.on("connection", (s) => {
  heard.push(s.recovered ? "recovered" : "new");
  s.on("disconnect", (r) => heard.push(r));
  s.on("join", (room) => s.join(room));
  s.on("all", (...a) => io.emit("news", ...a));
  s.on("room", (room, ...a) => io.to(room).emit("news", ...a));
  s.on("vol", (...a) => io.volatile.emit("news", ...a));
  s.on("ask", () => s.timeout(60000).emit("q", () => {}));
});
require(process.env.NETLAB_SIO_STEPS).play(io, steps, 2).then((logs) => {
  process.stdout.write(JSON.stringify({ logs, heard }));
  process.exit(0);
}, (e) => {
  console.error(e);
  process.exit(1);
});
"#;

fn text(m: &EngineMessage) -> String {
    match m {
        EngineMessage::Text(t) => t.clone(),
        EngineMessage::Binary(_) => "<binary>".into(),
    }
}

/// The pid of the last CONNECT answer, and the last offset received.
fn auth(log: &[String]) -> String {
    let pid = log
        .iter()
        .filter_map(|l| l.split(r#""pid":""#).nth(1))
        .filter_map(|r| r.split('"').next())
        .next_back();
    let offset = log
        .iter()
        .filter_map(|l| l.strip_prefix('2'))
        .map(|l| l.trim_start_matches(|c: char| c.is_ascii_digit()))
        .filter_map(|l| serde_json::from_str::<Vec<Value>>(l).ok())
        .filter_map(|a| a.last().and_then(Value::as_str).map(str::to_owned))
        .next_back();
    serde_json::json!({ "pid": pid, "offset": offset }).to_string()
}

fn application(io: &mut Server, event: AppEvent, heard: &mut Vec<String>) {
    let json = |args: &[Data]| -> Vec<Data> { args.to_vec() };
    match event {
        AppEvent::Connected { recovered, .. } => {
            heard.push(if recovered { "recovered" } else { "new" }.into())
        }
        AppEvent::Disconnected { reason, .. } => heard.push(reason.to_string()),
        AppEvent::Event {
            namespace,
            socket,
            name,
            args,
            ..
        } => {
            let first = args
                .first()
                .and_then(Data::as_json)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            match name.as_str() {
                "join" => io.socket(&namespace, &socket).join(&first).unwrap(),
                "all" => io.of("/").emit("news", json(&args)).unwrap(),
                "room" => io
                    .of("/")
                    .to(&first)
                    .emit("news", json(&args[1..]))
                    .unwrap(),
                "vol" => io.of("/").volatile().emit("news", json(&args)).unwrap(),
                "ask" => drop(
                    io.socket(&namespace, &socket)
                        .timeout(Duration::from_secs(60))
                        .emit_with_ack("q", vec![]),
                ),
                _ => {}
            }
        }
        _ => {}
    }
}

fn netlab_run() -> (Vec<Vec<String>>, Vec<String>) {
    let mut n = 0;
    let options = Options {
        recovery: Some(RecoveryOptions::default()),
        ..Options::default()
    };
    let mut io = Server::new(
        options,
        Box::new(move || {
            n += 1;
            format!("netlab-{n}")
        }),
    );
    let mut sessions = vec!["e0".to_string(), "e1".to_string()];
    let (mut logs, mut heard) = (vec![Vec::new(), Vec::new()], Vec::new());
    for s in &sessions {
        io.open(s, Duration::ZERO);
    }
    for (step_no, (client, step)) in STEPS.iter().enumerate() {
        let now = Duration::from_secs(step_no as u64);
        match *step {
            "close" => {
                io.closed(&sessions[*client], DisconnectReason::TransportClose, now);
                logs[*client].push("<closed>".to_string());
            }
            "open" => {
                sessions[*client] = format!("e{client}-again");
                io.open(&sessions[*client], now);
                logs[*client].push("<open>".to_string());
            }
            message => {
                let message = message.replace("$auth", &auth(&logs[*client]));
                io.message(&sessions[*client], EngineMessage::Text(message), now);
            }
        }
        while let Some(action) = io.poll_action() {
            match action {
                Action::Send {
                    session, messages, ..
                } => {
                    let i = sessions.iter().position(|s| *s == session).unwrap();
                    logs[i].extend(messages.iter().map(text));
                }
                Action::App(event) => application(&mut io, event, &mut heard),
                Action::Close { .. } => {}
            }
        }
    }
    (logs, heard)
}

/// Rename ids, pids and offsets (strings of the server's making) by first appearance, in
/// the text itself so that the order of the fields stays as sent.
fn renamed(logs: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::new();
    for log in logs {
        let mut lines = Vec::new();
        for line in log {
            let json = line.trim_start_matches(|c: char| c.is_ascii_digit());
            let mut made = Vec::new();
            match serde_json::from_str::<Value>(json) {
                Ok(Value::Object(o)) => made.extend(
                    ["sid", "pid"]
                        .iter()
                        .filter_map(|k| o.get(*k)?.as_str().map(str::to_owned)),
                ),
                Ok(Value::Array(a)) => {
                    made.extend(a.last().and_then(Value::as_str).map(str::to_owned))
                }
                _ => {}
            }
            let mut line = line.clone();
            for value in made {
                let next = format!("X{}", names.len() + 1);
                let name = names.entry(value.clone()).or_insert(next).clone();
                line = line.replace(&format!("\"{value}\""), &format!("\"{name}\""));
            }
            lines.push(line);
        }
        out.push(lines);
    }
    out
}

#[test]
fn recovery_replays_what_the_real_server_replays() {
    let Some(real) = socketio_support::run_real_server(SCRIPT, STEPS) else {
        return;
    };
    let real_logs: Vec<Vec<String>> = serde_json::from_value(real["logs"].clone()).unwrap();
    let real_heard: Vec<String> = serde_json::from_value(real["heard"].clone()).unwrap();
    assert!(
        real_heard.contains(&"recovered".to_string()),
        "the real server recovered nothing: {real_heard:?}"
    );
    let (logs, heard) = netlab_run();
    let (real_logs, logs) = (renamed(real_logs), renamed(logs));
    for (i, (theirs, ours)) in real_logs.iter().zip(&logs).enumerate() {
        assert_eq!(
            ours, theirs,
            "what client {i} received: netlab (left), socket.io (right)"
        );
    }
    assert_eq!(heard, real_heard, "what the application heard");
}
