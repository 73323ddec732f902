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
fn requests(sse_a: &str, sse_b: &str, all_rooms: bool) -> Vec<Value> {
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
        // Every room of both nodes (r2 is empty since sleave), a socket's own by its name.
        json!({"step": "b1 rooms", "rooms": ["a1", "b1", "b2", "r1"]}),
        json!({"step": "b2 kick r1", "answer": "ok", "received": kicked}),
    ]
    .into_iter()
    .filter(|v| all_rooms || v["step"] != "b1 rooms")
    .collect()
}

fn check(lines: &[Value], sse_a: &str, sse_b: &str, all_rooms: bool) {
    assert_eq!(lines.len(), 19 + usize::from(all_rooms), "{lines:#?}");
    let (broadcasts, rest) = lines.split_at(8);
    let (asks, requests_seen) = rest.split_at(2);
    assert_eq!(broadcasts, expected(), "broadcasts across the nodes");
    assert_eq!(
        requests_seen,
        requests(sse_a, sse_b, all_rooms),
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
    check(&lines, "node:hi", "netlab:hi", true);
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
    check(&lines, "netlab:hi", "netlab:hi", false);
}

/// A node script that reads commands on stdin and answers one JSON line each.
struct Driven {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<Value>,
}

impl Driven {
    fn start(peers: &std::path::Path, script: &str, args: &[String]) -> Driven {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let mut child = Command::new("node")
            .arg(format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR")))
            .args(args)
            .env("NETLAB_NODE_MODULES", peers)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let v: Value = serde_json::from_str(&line).expect("a JSON line");
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Driven { child, lines }
    }

    fn next(&self, what: &str) -> Value {
        self.lines
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("no answer to {what:?} within 15 s"))
    }

    fn say(&mut self, line: &str) -> Value {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("piped");
        writeln!(stdin, "{line}").expect("node reads its stdin");
        self.next(line)
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait for a node's adapter line in `state` after `connection` connections, then
/// check it with `check`.
fn adapter_says(node: &mut Background, state: &str, connection: u64, check: fn(&Value) -> bool) {
    let line = move |v: &Value| {
        v["event"] == "adapter" && v["state"] == state && v["connection"] == json!(connection)
    };
    let said = node.wait_for(line, Duration::from_secs(15));
    assert!(said, "no adapter line {state} (connection {connection})");
    // The line is among those seen: this looks at it again.
    let right = node.wait_for(move |v| line(v) && check(v), Duration::ZERO);
    assert!(
        right,
        "the adapter line {state} (connection {connection}) is not as expected"
    );
}

#[test]
fn a_node_that_loses_redis_serves_its_own_clients_and_rejoins() {
    let Some(peers) = common::node_peers(&["socket.io-client"]) else {
        return;
    };
    let Some(mut redis) = RedisServer::start(&[]) else {
        return;
    };
    let (mut a_node, a) = netlab_node(&redis.url());
    let (mut b_node, b) = netlab_node(&redis.url());
    let mut clients = Driven::start(&peers, "socketio_adapter_loss.js", &[a, b]);
    assert_eq!(clients.next("ready"), json!({"ready": true}));
    let both = |tag: &str| json!({"a1": [tag], "b1": [tag]});
    let step =
        |line: &str, received: Value| json!({"step": line, "answer": "ok", "received": received});
    assert_eq!(
        clients.say("all before"),
        step("all before", both("before"))
    );

    redis.kill();
    let says_why = |v: &Value| v["detail"].as_str().is_some_and(|d| !d.is_empty());
    adapter_says(&mut a_node, "lost", 1, says_why);
    adapter_says(&mut b_node, "lost", 1, says_why);
    // A keeps serving its own client; b1 (on B) misses what A sends meanwhile.
    assert_eq!(
        clients.say("all during"),
        step("all during", json!({"a1": ["during"], "b1": []}))
    );
    // An emit with ack counts this node alone: it completes with a1's answer, no wait.
    assert_eq!(
        clients.say("ask"),
        json!({"step": "ask", "answers": ["a1"]})
    );

    redis.restart();
    // What A dropped while away: the broadcast and the ask's request; B sent nothing.
    adapter_says(&mut a_node, "connected", 2, |v| v["dropped"] == 2);
    adapter_says(&mut b_node, "connected", 2, |v| v["dropped"] == 0);
    assert_eq!(clients.say("all after"), step("all after", both("after")));
    let answers = clients.say("ask");
    assert_eq!(answers, json!({"step": "ask", "answers": ["a1", "b1"]}));
}
