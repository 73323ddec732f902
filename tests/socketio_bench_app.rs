//! `netlab socketio server --app bench --quiet` with two reference clients
//! (socket.io-client 4, run by node): `join` acknowledged, `room` reaching the room's
//! member only, `broadcast` reaching everyone but the sender, `echo` acknowledged with
//! its argument, and `--quiet` leaving the events out of the log while the sockets stay
//! in it. The same app is what `benches/sio-bench` measures against socketioxide and
//! Node's socket.io. Every wait is bounded.

mod common;

use common::Background;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(20);

/// Two clients at argv[1]: `a` joins room r, `b` (not in it) emits to the room and
/// broadcasts, `a` asks for an echo. One JSON line per thing received.
const CLIENTS: &str = r#"
const { io } = require(process.env.NETLAB_NODE_MODULES + "/socket.io-client");
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
setTimeout(() => { out({ gave: "up" }); process.exit(1); }, 10000);
const open = (name) => new Promise((ok) => {
  const s = io(process.argv[1], { transports: ["websocket"], forceNew: true, reconnection: false });
  s.onAny((event, ...args) => out({ client: name, event, args }));
  s.on("connect", () => ok(s));
});
const next = (s, event) => new Promise((ok) => s.once(event, ok));
(async () => {
  const a = await open("a");
  const b = await open("b");
  out({ client: "a", ack: "join", args: [await a.emitWithAck("join", "r")] });
  let got = next(a, "room");
  b.emit("room", "r", 5);
  await got;
  got = next(a, "broadcast");
  b.emit("broadcast", 7);
  await got;
  out({ client: "a", ack: "echo", args: [await a.emitWithAck("echo", { x: [1, "two"] })] });
  a.close();
  b.close();
  out({ done: true });
  process.exit(0);
})();
"#;

#[test]
fn the_bench_app_with_two_real_clients() {
    let Some(peers) = common::node_peers(&["socket.io-client"]) else {
        return;
    };
    let args: Vec<String> = [
        "socketio", "server", "--port", "0", "--app", "bench", "--quiet",
    ]
    .map(String::from)
    .to_vec();
    let (server, first) = Background::start(&args);
    assert_eq!(first["app"], "bench", "{first}");
    let url = first["url"].as_str().expect("a URL");
    let url = url.trim_end_matches("/socket.io/");
    let mut child = std::process::Command::new("node")
        .args(["-e", CLIENTS, url])
        .env("NETLAB_NODE_MODULES", &peers)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    let start = Instant::now();
    while child.try_wait().expect("node is waited for").is_none() {
        assert!(start.elapsed() < LIMIT, "the clients did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("node's output");
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(output.status.success(), "{lines:#?}");
    let got = |client: &str, event: &str| -> Vec<Value> {
        lines
            .iter()
            .filter(|l| l["client"] == client && l["event"] == event)
            .map(|l| l["args"].clone())
            .collect()
    };
    let answer = |ack: &str| {
        lines
            .iter()
            .find(|l| l["ack"] == ack)
            .map(|l| l["args"][0].clone())
    };
    assert_eq!(answer("join"), Some(json!("r")));
    assert_eq!(got("a", "room"), [json!(["r", 5])]);
    assert!(got("b", "room").is_empty(), "{lines:#?}");
    assert_eq!(got("a", "broadcast"), [json!([7])]);
    assert!(got("b", "broadcast").is_empty(), "{lines:#?}");
    assert_eq!(answer("echo"), Some(json!({"x": [1, "two"]})));
    server.terminate();
    let log = server.stop();
    let kinds: Vec<&str> = log.iter().filter_map(|l| l["event"].as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "connect").count(),
        2,
        "{log:#?}"
    );
    assert!(
        !kinds.contains(&"event"),
        "--quiet logged an event: {log:#?}"
    );
}
