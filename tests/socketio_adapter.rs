//! Socket.IO across nodes through Redis: netlab servers (`--adapter redis://..`) beside
//! Node socket.io servers with `@socket.io/redis-adapter`, each with real clients
//! (socket.io-client), on a private redis-server (tests/socketio_adapter.js drives them).

mod common;

use common::redis::RedisServer;
use common::Background;
use serde_json::{json, Value};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);
/// What the peers need from the npm folder.
const PEERS: [&str; 4] = [
    "socket.io",
    "socket.io-client",
    "@socket.io/redis-adapter",
    "redis",
];

/// A netlab node with the broadcast application on Redis `url`, once it has subscribed.
fn netlab_node(url: &str) -> (Background, String) {
    let args: Vec<String> = [
        "socketio",
        "server",
        "--port",
        "0",
        "--app",
        "broadcast",
        "--adapter",
        url,
    ]
    .map(String::from)
    .to_vec();
    let (mut node, first) = Background::start(&args);
    let base = first["url"]
        .as_str()
        .expect("a URL")
        .trim_end_matches("/socket.io/")
        .to_owned();
    let connected = node.wait_for(
        |v| v["event"] == "adapter" && v["state"] == "connected",
        Duration::from_secs(10),
    );
    assert!(
        connected,
        "netlab's adapter never said it connected to {url}"
    );
    (node, base)
}

/// Who receives each broadcast: a1 is on the first node, b1 and b2 on the second; a1
/// and b1 are in room r1.
fn expected() -> Vec<Value> {
    let steps = [
        (
            "a1 all from-a",
            json!({"a1": ["from-a"], "b1": ["from-a"], "b2": ["from-a"]}),
        ),
        (
            "b1 all from-b",
            json!({"a1": ["from-b"], "b1": ["from-b"], "b2": ["from-b"]}),
        ),
        (
            "a1 room r1 room-a",
            json!({"a1": ["room-a"], "b1": ["room-a"], "b2": []}),
        ),
        (
            "b2 room r1 room-b",
            json!({"a1": ["room-b"], "b1": ["room-b"], "b2": []}),
        ),
        (
            "a1 except r1 except-a",
            json!({"a1": [], "b1": [], "b2": ["except-a"]}),
        ),
        (
            "b1 except r1 except-b",
            json!({"a1": [], "b1": [], "b2": ["except-b"]}),
        ),
        (
            "a1 local local-a",
            json!({"a1": ["local-a"], "b1": [], "b2": []}),
        ),
        (
            "b1 local local-b",
            json!({"a1": [], "b1": ["local-b"], "b2": ["local-b"]}),
        ),
    ];
    steps
        .into_iter()
        .map(|(step, received)| json!({"step": step, "answer": "ok", "received": received}))
        .collect()
}

/// The requests between nodes: fetch, server-side emit (`sse`: the answers of the
/// other node, `a` for a1's, `b` for b2's), socketsJoin and socketsLeave, and
/// disconnectSockets (`kick`).
fn requests(sse_a: &str, sse_b: &str) -> Vec<Value> {
    let nobody = json!({"a1": [], "b1": [], "b2": []});
    let kicked = json!({
        "a1": ["disconnect: io server disconnect"],
        "b1": ["disconnect: io server disconnect"],
        "b2": []
    });
    vec![
        json!({"step": "a1 fetch", "sockets": ["a1", "b1", "b2"]}),
        json!({"step": "b1 fetch r1", "sockets": ["a1", "b1"]}),
        json!({"step": "a1 sse hi", "answers": [sse_a]}),
        json!({"step": "b2 sse hi", "answers": [sse_b]}),
        json!({"step": "a1 sjoin r2", "answer": "ok", "received": nobody}),
        json!({"step": "b2 room r2 in-r2", "answer": "ok",
               "received": {"a1": ["in-r2"], "b1": ["in-r2"], "b2": ["in-r2"]}}),
        json!({"step": "b1 sleave r2", "answer": "ok", "received": nobody}),
        json!({"step": "a1 room r2 left-r2", "answer": "ok", "received": nobody}),
        json!({"step": "b2 kick r1", "answer": "ok", "received": kicked}),
    ]
}

fn check(lines: &[Value], sse_a: &str, sse_b: &str) {
    assert_eq!(lines.len(), 19, "{lines:#?}");
    let (broadcasts, rest) = lines.split_at(8);
    let (asks, requests_seen) = rest.split_at(2);
    assert_eq!(broadcasts, expected(), "broadcasts across the nodes");
    assert_eq!(
        requests_seen,
        requests(sse_a, sse_b),
        "requests across the nodes"
    );
    // An emit with ack reaches the clients of both nodes, and each answer comes back.
    let everyone = json!(["a1", "b1", "b2"]);
    assert_eq!(
        asks,
        [
            json!({"step": "a1 ask", "answers": everyone}),
            json!({"step": "b1 ask", "answers": everyone}),
        ],
        "acknowledgements across the nodes"
    );
}

#[test]
fn a_netlab_node_and_a_node_socketio_node_share_broadcasts_acks_and_requests() {
    let Some(peers) = common::node_peers(&PEERS) else {
        return;
    };
    let Some(redis) = RedisServer::start(&[]) else {
        return;
    };
    let (_node, a) = netlab_node(&redis.url());
    let lines = common::node_json_lines(
        &peers,
        "socketio_adapter.js",
        &[redis.url(), a],
        LIMIT,
        "netlab beside a Node socket.io node",
    );
    check(&lines, "node:hi", "netlab:hi");
}

#[test]
fn two_netlab_nodes_share_broadcasts_acks_and_requests() {
    let Some(peers) = common::node_peers(&PEERS) else {
        return;
    };
    let Some(redis) = RedisServer::start(&[]) else {
        return;
    };
    let (_a_node, a) = netlab_node(&redis.url());
    let (_b_node, b) = netlab_node(&redis.url());
    let lines = common::node_json_lines(
        &peers,
        "socketio_adapter.js",
        &[redis.url(), a, b],
        LIMIT,
        "two netlab nodes",
    );
    check(&lines, "netlab:hi", "netlab:hi");
}
