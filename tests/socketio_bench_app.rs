//! `netlab socketio server --app bench --quiet` with two reference clients
//! (socket.io-client 4, run by node): `join` acknowledged, `room` reaching the room's
//! member only, `broadcast` reaching everyone but the sender, `echo` acknowledged with
//! its argument, and `--quiet` leaving the events out of the log while the sockets stay
//! in it. The same app is what `benches/sio-bench` measures against socketioxide and
//! Node's socket.io. Every wait is bounded.

mod common;

use common::Background;
use serde_json::{json, Value};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

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
    let lines = common::node_json_lines(
        &peers,
        "socketio_support/bench_clients.js",
        &[url.to_owned()],
        LIMIT,
        "the two clients",
    );
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
