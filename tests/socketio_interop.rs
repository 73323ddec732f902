//! `netlab socketio server --app echo` against the reference client (socket.io-client 4,
//! run by node): long-polling only, WebSocket only, polling then the upgrade; events
//! echoed, acknowledgements, binary attachments, a namespace that does not exist, and the
//! reasons each side gives when a socket leaves. Every server binds 127.0.0.1 on a port
//! the kernel chooses (its first JSON line says which); every wait is bounded.

mod common;
#[path = "socketio_support/raw.rs"]
mod raw;

use common::Background;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(20);

/// A netlab echo server and its URL (`http://127.0.0.1:PORT`).
fn echo_server() -> (Background, String) {
    echo_server_with(&[])
}

fn echo_server_with(extra: &[&str]) -> (Background, String) {
    let mut args: Vec<String> = ["socketio", "server", "--port", "0", "--app", "echo"]
        .map(String::from)
        .to_vec();
    args.extend(extra.iter().map(|a| a.to_string()));
    let (server, first) = Background::start(&args);
    assert_eq!(first["event"], "listening", "{first}");
    assert_eq!(first["path"], "/socket.io/", "{first}");
    let url = first["url"].as_str().expect("a URL").to_owned();
    let base = url.trim_end_matches("/socket.io/").to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{url}");
    (server, base)
}

/// Run the reference client with `plan`; its JSON lines.
fn client(peers: &Path, url: &str, plan: Value) -> Vec<Value> {
    let args = [url.to_owned(), plan.to_string()];
    common::node_json_lines(
        peers,
        "socketio_support/client.js",
        &args,
        LIMIT,
        "the client",
    )
}

fn named<'a>(lines: &'a [Value], name: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == name).collect()
}

/// The one line named `name`.
fn one<'a>(lines: &'a [Value], name: &str) -> &'a Value {
    let found = named(lines, name);
    assert_eq!(found.len(), 1, "one {name:?} in {lines:#?}");
    found[0]
}

/// Wait until the server has logged a line with this `event` (and `reason`, if given).
fn server_logs(server: &mut Background, event: &str, reason: Option<&str>) -> bool {
    server.wait_for(
        |l| l["event"] == event && reason.is_none_or(|r| l["reason"] == r),
        LIMIT,
    )
}

/// Every byte value, as the plan writes a Buffer.
fn all_bytes() -> Value {
    json!({"$bin": (0..=255).collect::<Vec<u8>>()})
}

/// An event with text, numbers, nesting and unicode, echoed under its own name.
fn echo_once(transports: Value, upgrade: bool, after_upgrade: bool) -> (Vec<Value>, Vec<Value>) {
    let Some(peers) = common::node_peers(&["socket.io-client"]) else {
        return (Vec::new(), Vec::new());
    };
    let (mut server, url) = echo_server();
    let args = json!(["world ✓", 42, {"nested": [true, null, 1.5]}]);
    let plan = json!({
        "transports": transports, "upgrade": upgrade, "emitAfterUpgrade": after_upgrade,
        "emit": [{"name": "hello", "args": args}], "expect": 1,
    });
    let lines = client(&peers, &url, plan);
    let echoed = one(&lines, "event");
    assert_eq!(echoed["name"], "hello");
    assert_eq!(echoed["args"], args);
    assert!(server_logs(&mut server, "session_close", None));
    let log = server.stop();
    // The socket id the client was given is the one the server logged.
    let id = one(&lines, "connect")["id"].clone();
    assert_eq!(one(&log, "connect")["socket"], id, "{log:#?}");
    let event = one(&log, "event");
    assert_eq!((&event["name"], &event["args"]), (&json!("hello"), &args));
    (lines, log)
}

#[test]
fn polling_only_echoes_an_event() {
    let (lines, log) = echo_once(json!(["polling"]), false, false);
    if lines.is_empty() {
        return;
    }
    assert_eq!(one(&lines, "connect")["transport"], "polling");
    assert_eq!(one(&log, "session_open")["transport"], "polling");
    assert!(named(&log, "upgrade").is_empty(), "{log:#?}");
}

#[test]
fn websocket_only_echoes_an_event() {
    let (lines, log) = echo_once(json!(["websocket"]), false, false);
    if lines.is_empty() {
        return;
    }
    assert_eq!(one(&lines, "connect")["transport"], "websocket");
    assert_eq!(one(&log, "session_open")["transport"], "websocket");
    assert!(named(&log, "upgrade").is_empty(), "{log:#?}");
}

#[test]
fn polling_then_upgrade_echoes_on_the_websocket() {
    let (lines, log) = echo_once(json!(["polling", "websocket"]), true, true);
    if lines.is_empty() {
        return;
    }
    assert_eq!(one(&lines, "upgrade")["transport"], "websocket");
    assert_eq!(one(&log, "session_open")["transport"], "polling");
    one(&log, "upgrade");
    // The event went after the upgrade, so the server saw the upgrade first.
    let at = |name: &str| log.iter().position(|l| l["event"] == name);
    assert!(at("upgrade") < at("event"), "{log:#?}");
}

#[test]
fn an_event_with_ack_is_acknowledged_with_its_arguments() {
    let Some(peers) = common::node_peers(&["socket.io-client"]) else {
        return;
    };
    let (mut server, url) = echo_server();
    let plan = json!({
        "transports": ["websocket"],
        "emit": [{"name": "question", "args": ["a", 1], "ack": true},
                 {"name": "second", "args": [{"b": [2]}], "ack": true}],
        "expect": 2,
    });
    let lines = client(&peers, &url, plan);
    let acks = named(&lines, "ack");
    assert_eq!(acks.len(), 2, "{lines:#?}");
    assert_eq!(
        *acks[0],
        json!({"event": "ack", "name": "question", "args": ["a", 1]})
    );
    assert_eq!(
        *acks[1],
        json!({"event": "ack", "name": "second", "args": [{"b": [2]}]})
    );
    // Acknowledged instead of echoed.
    assert!(named(&lines, "event").is_empty(), "{lines:#?}");
    assert!(server_logs(&mut server, "session_close", None));
    let log = server.stop();
    let asked: Vec<&Value> = named(&log, "event").iter().map(|e| &e["ack"]).collect();
    assert_eq!(asked, [&json!(0), &json!(1)], "{log:#?}");
}

/// Buffers anywhere in the arguments come back intact, as event and as ack, on `transports`.
fn binary_round_trip(transports: Value) {
    let Some(peers) = common::node_peers(&["socket.io-client"]) else {
        return;
    };
    let (_server, url) = echo_server();
    let args = json!([all_bytes(), {"inner": [{"$bin": [1, 2, 3]}, "x"]}, {"$bin": []}]);
    let plan = json!({
        "transports": transports, "upgrade": false,
        "emit": [{"name": "file", "args": args}, {"name": "file", "args": args, "ack": true}],
        "expect": 2,
    });
    let lines = client(&peers, &url, plan);
    assert_eq!(one(&lines, "event")["args"], args, "{lines:#?}");
    assert_eq!(one(&lines, "ack")["args"], args, "{lines:#?}");
}

#[test]
fn binary_attachments_are_echoed_intact_over_polling() {
    binary_round_trip(json!(["polling"]));
}

#[test]
fn binary_attachments_are_echoed_intact_over_websocket() {
    binary_round_trip(json!(["websocket"]));
}

#[test]
fn a_namespace_that_does_not_exist_is_refused() {
    let Some(peers) = common::node_peers(&["socket.io-client"]) else {
        return;
    };
    let (mut server, url) = echo_server();
    let plan = json!({"transports": ["websocket"], "namespace": "/admin"});
    let lines = client(&peers, &url, plan);
    let refused = one(&lines, "connect_error");
    assert_eq!(refused["message"], "Invalid namespace", "{lines:#?}");
    assert_eq!(refused["data"], Value::Null);
    assert!(named(&lines, "connect").is_empty(), "{lines:#?}");
    assert!(server_logs(&mut server, "session_close", None));
    let log = server.stop();
    assert!(named(&log, "connect").is_empty(), "{log:#?}");
}

/// The reason the client and the server give when the client ends as `end` says.
fn reasons(end: &str) -> Option<(String, String)> {
    let peers = common::node_peers(&["socket.io-client"])?;
    let (mut server, url) = echo_server();
    let plan = json!({"transports": ["websocket"], "expect": 0, "end": end});
    let lines = client(&peers, &url, plan);
    let client_said = one(&lines, "disconnect")["reason"].as_str()?.to_owned();
    assert!(server_logs(&mut server, "disconnect", None));
    let log = server.stop();
    let server_said = one(&log, "disconnect")["reason"].as_str()?.to_owned();
    Some((client_said, server_said))
}

#[test]
fn a_client_that_disconnects_its_socket() {
    let Some((client, server)) = reasons("disconnect") else {
        return;
    };
    assert_eq!(client, "io client disconnect");
    assert_eq!(server, "client namespace disconnect");
}

#[test]
fn a_client_that_closes_its_connection() {
    let Some((client, server)) = reasons("close") else {
        return;
    };
    // socket.io-client's own words for a connection its application closed.
    assert_eq!(client, "forced close");
    assert_eq!(server, "transport close");
}

#[test]
fn a_server_that_shuts_down() {
    let Some(peers) = common::node_peers(&["socket.io-client"]) else {
        return;
    };
    for transports in [json!(["websocket"]), json!(["polling"])] {
        let (mut server, url) = echo_server();
        let plan = json!({"transports": transports, "upgrade": false, "expect": 0, "end": "wait"});
        let (tx, rx) = std::sync::mpsc::channel();
        let run = {
            let (peers, url) = (peers.clone(), url.clone());
            std::thread::spawn(move || {
                let lines = client(&peers, &url, plan);
                let _ = tx.send(());
                lines
            })
        };
        assert!(server_logs(&mut server, "connect", None), "{transports}");
        server.terminate();
        assert!(rx.recv_timeout(LIMIT).is_ok(), "the client ended");
        let lines = run.join().expect("the client thread");
        assert_eq!(
            one(&lines, "disconnect")["reason"],
            "transport close",
            "{transports}"
        );
        let log = server.stop();
        assert_eq!(one(&log, "shutting_down")["signal"], "SIGTERM");
        assert_eq!(one(&log, "disconnect")["reason"], "server shutting down");
    }
}

#[test]
fn the_chat_app_with_two_real_clients() {
    let Some(peers) = common::node_peers(&["socket.io-client"]) else {
        return;
    };
    let args: Vec<String> = ["socketio", "server", "--port", "0", "--app", "chat"]
        .map(String::from)
        .to_vec();
    let (_server, first) = Background::start(&args);
    assert_eq!(first["app"], "chat", "{first}");
    let url = first["url"].as_str().expect("a URL");
    let url = url.trim_end_matches("/socket.io/");
    let lines = common::node_json_lines(
        &peers,
        "socketio_support/chat.js",
        &[url.to_owned()],
        LIMIT,
        "the chat",
    );
    let ids = lines.iter().find(|l| l["client"] == "ids").expect("ids");
    let (a, b) = (ids["a"].clone(), ids["b"].clone());
    let got = |client: &str, event: &str| -> Vec<Value> {
        lines
            .iter()
            .filter(|l| l["client"] == client && l["event"] == event)
            .map(|l| l["args"].clone())
            .collect()
    };
    let answer = |client: &str, ack: &str| -> Vec<Value> {
        lines
            .iter()
            .filter(|l| l["client"] == client && l["ack"] == ack)
            .map(|l| l["args"][0].clone())
            .collect()
    };
    let welcome = &got("a", "welcome")[0][0];
    assert_eq!(welcome["id"], a);
    assert_eq!(welcome["events"][3], "chat message", "{welcome}");
    assert_eq!(answer("a", "nick"), [json!({"ok": true})]);
    assert_eq!(got("b", "nick"), [json!([{"id": a, "nick": "ann"}])]);
    // /news is another namespace on b's connection: it hears the chat's posts.
    let news = got("news", "news");
    assert_eq!(news[0], json!(["this is /news: the chat posts here"]));
    assert!(
        news.contains(&json!([format!(
            "{} is now called ann",
            a.as_str().unwrap()
        )])),
        "{news:?}"
    );
    assert!(news.contains(&json!(["ann joined r"])), "{news:?}");
    // To everyone but the sender, then to the room but the sender; each acknowledged.
    let hi = json!([{"from": a, "nick": "ann", "text": "hi all"}]);
    let room = json!([{"from": a, "nick": "ann", "text": "hi room", "room": "r"}]);
    assert_eq!(got("b", "chat message"), [hi, room]);
    assert!(got("a", "chat message").is_empty(), "{lines:#?}");
    assert_eq!(answer("a", "chat message"), vec![json!({"ok": true}); 2]);
    let psst = json!([{"from": b, "nick": null, "text": "psst"}]);
    assert_eq!(got("a", "private"), [psst]);
    assert_eq!(
        answer("a", "private"),
        [json!({"error": "no other socket \"nobody\" here"})]
    );
    assert_eq!(got("b", "typing"), [json!([{"from": a, "nick": "ann"}])]);
    assert!(got("a", "typing").is_empty(), "{lines:#?}");
    assert_eq!(
        answer("a", "dance"),
        [json!({"error": "the chat has no event \"dance\""})]
    );
    let left = json!([{"id": a, "nick": "ann", "room": "r"}]);
    assert_eq!(got("b", "left"), got("a", "left"));
    assert_eq!(got("a", "left"), [left]);
    assert_eq!(got("a", "gone"), [json!([{"id": b, "nick": null}])]);
}

/// The reference server (socket.io 4.8) on a free port, killed when dropped.
fn node_server(peers: &Path) -> common::NodeServer {
    common::NodeServer::start(peers, "socketio_support/server.js", &[], LIMIT)
}

/// `netlab socketio client` with `input` typed; its JSON lines.
fn netlab_client(url: &str, extra: &[&str], input: &str) -> Vec<Value> {
    let mut args = vec!["--jsonl", "socketio", "client", url];
    args.extend_from_slice(extra);
    let run = common::netlab_with_stdin(&args, input, LIMIT);
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout, run.stderr);
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

const TYPED: &str = "emit hello \"a b\" 42\nack question {\"x\":[1,2]} word\n";

/// What the client must have seen from an echo server (netlab's or Node's).
fn assert_client_saw_the_echo(lines: &[Value]) {
    let sent: Vec<&Value> = named(lines, "sent").iter().map(|l| &l["ack"]).collect();
    assert_eq!(sent, [&Value::Null, &json!(0)], "{lines:#?}");
    let echoed: Vec<&Value> = named(lines, "event")
        .into_iter()
        .filter(|l| l["name"] == "hello")
        .collect();
    assert_eq!(echoed.len(), 1, "{lines:#?}");
    assert_eq!(echoed[0]["args"], json!(["a b", 42]));
    let ack = one(lines, "ack");
    assert_eq!(ack["id"], 0);
    assert_eq!(ack["args"], json!([{"x": [1, 2]}, "word"]));
    assert_eq!(one(lines, "disconnected")["reason"], "io client disconnect");
}

#[test]
fn the_client_against_the_reference_server() {
    let Some(peers) = common::node_peers(&["socket.io"]) else {
        return;
    };
    let server = node_server(&peers);
    let url = format!("http://127.0.0.1:{}", server.port);
    let lines = netlab_client(&url, &[], TYPED);
    assert_client_saw_the_echo(&lines);
    let id = one(&lines, "connected")["socket"].clone();
    let welcome = named(&lines, "event")
        .into_iter()
        .find(|l| l["name"] == "welcome")
        .expect("welcome");
    assert_eq!(welcome["args"], json!([{"id": id}]));
    let seen = server.until(|l| l.get("disconnect").is_some(), LIMIT);
    assert_eq!(seen[0], json!({"connect": id}), "{seen:#?}");
    assert!(seen.contains(&json!({"event": "hello", "args": ["a b", 42]})));
    assert!(seen.contains(&json!({"event": "question", "args": [{"x": [1, 2]}, "word"]})));
    assert_eq!(
        seen.last(),
        Some(&json!({"disconnect": "client namespace disconnect"}))
    );
}

#[test]
fn the_client_is_refused_a_namespace_the_reference_server_lacks() {
    let Some(peers) = common::node_peers(&["socket.io"]) else {
        return;
    };
    let server = node_server(&peers);
    let url = format!("http://127.0.0.1:{}", server.port);
    let lines = netlab_client(&url, &["--namespace", "/admin"], "");
    let refused = one(&lines, "connect_error");
    assert_eq!(refused["payload"], json!({"message": "Invalid namespace"}));
}

#[test]
fn the_client_against_netlabs_own_server() {
    let (_server, url) = echo_server();
    let lines = netlab_client(&url, &["--trace"], TYPED);
    assert_client_saw_the_echo(&lines);
    // The trace shows the CONNECT answer carrying the socket's id.
    let id = one(&lines, "connected")["socket"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = format!("0{{\"sid\":\"{id}\"}}");
    assert!(
        named(&lines, "packet").iter().any(|p| p["text"] == answer),
        "{lines:#?}"
    );
}

#[test]
fn a_client_that_stops_answering_pings() {
    let Some(peers) = common::node_peers(&["socket.io-client"]) else {
        return;
    };
    let (mut server, url) =
        echo_server_with(&["--ping-interval-ms", "200", "--ping-timeout-ms", "300"]);
    let plan = json!({"transports": ["websocket"], "answerPings": false, "end": "wait"});
    let lines = client(&peers, &url, plan);
    assert_eq!(
        one(&lines, "disconnect")["reason"],
        "transport close",
        "{lines:#?}"
    );
    assert!(server_logs(&mut server, "disconnect", Some("ping timeout")));
    let log = server.stop();
    assert_eq!(
        one(&log, "session_close")["reason"],
        "ping timeout",
        "{log:#?}"
    );
}

/// The application of the volatile comparison, on the reference server: `go` from a
/// socket is answered `volatile.emit("v", 1)`, `emit("n", 2)`, `volatile.emit("v", 3)`,
/// then `done` goes to the observer (the socket whose CONNECT said `{"observer":true}`).
const VOLATILE_SCRIPT: &str = r#"
const { Server } = require(process.env.NETLAB_NODE_MODULES + "/socket.io");
const io = new Server(0, { serveClient: false });
let observer = null;
io.on("connection", (s) => {
  if (s.handshake.auth.observer) observer = s;
  s.on("go", () => {
    s.volatile.emit("v", 1);
    s.emit("n", 2);
    s.volatile.emit("v", 3);
    if (observer) observer.emit("done");
  });
});
io.httpServer.on("listening", () => console.log(JSON.stringify({ port: io.httpServer.address().port })));
setTimeout(() => process.exit(0), 15000);
"#;

/// The same application on netlab's server.
struct VolatileApp {
    observer: Option<String>,
}

impl netlab::net::socketio::App for VolatileApp {
    fn event(
        &mut self,
        io: &mut netlab::wire::application::socketio::Server,
        event: netlab::wire::application::socketio::AppEvent,
    ) {
        use netlab::wire::application::socketio::AppEvent;
        match event {
            AppEvent::Connected { socket, auth, .. }
                if auth.as_ref().and_then(|a| a.get("observer")) == Some(&json!(true)) =>
            {
                self.observer = Some(socket);
            }
            AppEvent::Event { socket, name, .. } if name == "go" => {
                let one = |n: i32| vec![json!(n).into()];
                io.socket("/", &socket)
                    .volatile()
                    .emit("v", one(1))
                    .unwrap();
                io.socket("/", &socket).emit("n", one(2)).unwrap();
                io.socket("/", &socket)
                    .volatile()
                    .emit("v", one(3))
                    .unwrap();
                if let Some(o) = &self.observer {
                    io.socket("/", o).emit("done", vec![]).unwrap();
                }
            }
            _ => {}
        }
    }
}

/// Play the volatile steps against a server at `addr` with raw polling clients; what the
/// client that asked (`go`) received on its next poll. Every step waits on the server:
/// the observer's `done` arrives only after the server has handled `go`.
fn volatile_steps(addr: std::net::SocketAddr) -> String {
    use raw::Polling;
    let client = Polling::open(addr, "/socket.io/");
    assert!(client.connect("").starts_with("40{"));
    let observer = Polling::open(addr, "/socket.io/");
    assert!(observer.connect(r#"{"observer":true}"#).starts_with("40{"));
    // The client is between polls (no GET waits) when the server emits.
    assert_eq!(client.post(r#"42["go"]"#).text(), "ok");
    assert_eq!(observer.get().text(), r#"42["done"]"#);
    client.get().text()
}

#[test]
fn a_volatile_event_is_dropped_when_no_poll_waits_as_the_reference_server_does() {
    let Some(peers) = common::node_peers(&["socket.io"]) else {
        return;
    };
    let node = raw::ScriptServer::start(&peers, VOLATILE_SCRIPT);
    let real = volatile_steps(node.addr);
    drop(node);
    let app = VolatileApp { observer: None };
    let server = raw::InProcess::start(app, netlab::net::socketio::engine_config());
    let ours = volatile_steps(server.addr);
    server.stop();
    // The reference server dropped both volatile events and kept the other.
    assert_eq!(real, r#"42["n",2]"#);
    assert_eq!(ours, real);
}

/// The application of the compression comparison, on the reference server with
/// permessage-deflate accepted: `big` is answered with a 2,000-character string, `plain`
/// with the same under `compress(false)`.
const COMPRESS_SCRIPT: &str = r#"
const { Server } = require(process.env.NETLAB_NODE_MODULES + "/socket.io");
const io = new Server(0, { serveClient: false, perMessageDeflate: { threshold: 1024 } });
const big = "x".repeat(2000);
io.on("connection", (s) => {
  s.on("big", () => s.emit("big", big));
  s.on("plain", () => s.compress(false).emit("plain", big));
});
io.httpServer.on("listening", () => console.log(JSON.stringify({ port: io.httpServer.address().port })));
setTimeout(() => process.exit(0), 15000);
"#;

/// The same application on netlab's server.
struct CompressApp;

impl netlab::net::socketio::App for CompressApp {
    fn event(
        &mut self,
        io: &mut netlab::wire::application::socketio::Server,
        event: netlab::wire::application::socketio::AppEvent,
    ) {
        use netlab::wire::application::socketio::AppEvent;
        if let AppEvent::Event { socket, name, .. } = event {
            let big = vec![json!("x".repeat(2000)).into()];
            let s = io.socket("/", &socket);
            let _ = match name.as_str() {
                "big" => s.emit("big", big),
                "plain" => s.compress(false).emit("plain", big),
                _ => Ok(()),
            };
        }
    }
}

/// What one event's answer looked like on each transport.
#[derive(Debug, PartialEq)]
struct Seen {
    /// Long-polling, with `Accept-Encoding: gzip, deflate`: the `Content-Encoding`.
    polling_encoding: Option<String>,
    /// The answer, decoded.
    polling_body: String,
    /// WebSocket with permessage-deflate: RSV1 of the frame.
    rsv1: bool,
}

/// Ask for `event` on both transports of a server at `addr`.
fn compress_steps(addr: std::net::SocketAddr, event: &str) -> Seen {
    use raw::{Polling, RawWs};
    let client = Polling::open(addr, "/socket.io/");
    assert!(client.connect("").starts_with("40{"));
    assert_eq!(client.post(&format!(r#"42["{event}"]"#)).text(), "ok");
    let target = client.target();
    let r = raw::request(
        addr,
        "GET",
        &target,
        &["Accept-Encoding: gzip, deflate"],
        b"",
    )
    .expect("a poll");
    let polling_encoding = r.header("content-encoding");
    let body = match polling_encoding.as_deref() {
        Some("gzip") => {
            assert_eq!(&r.body[..3], &[0x1f, 0x8b, 8], "a gzip member");
            miniz_oxide::inflate::decompress_to_vec(&r.body[10..r.body.len() - 8]).unwrap()
        }
        Some(other) => panic!("Content-Encoding: {other}"),
        None => r.body.clone(),
    };
    let mut ws = RawWs::connect(addr, "/socket.io/?EIO=4&transport=websocket", true).unwrap();
    assert!(ws.head.starts_with("HTTP/1.1 101"), "{}", ws.head);
    assert!(
        ws.head.to_ascii_lowercase().contains("permessage-deflate"),
        "{}",
        ws.head
    );
    // The open packet, then the CONNECT answer (compressed or not: not looked at).
    ws.read_frame(1 << 16).unwrap();
    ws.send_text("40").unwrap();
    ws.read_frame(1 << 16).unwrap();
    ws.send_text(&format!(r#"42["{event}"]"#)).unwrap();
    let frame = ws.read_frame(1 << 16).unwrap();
    assert!(frame.fin && frame.opcode == 1, "{frame:?}");
    if !frame.rsv1 {
        assert_eq!(frame.payload, body, "the same text on both transports");
    } else {
        assert!(frame.payload.len() < 200, "{} bytes", frame.payload.len());
    }
    Seen {
        polling_encoding,
        polling_body: String::from_utf8(body)
            .unwrap()
            .replace(&"x".repeat(2000), "x×2000"),
        rsv1: frame.rsv1,
    }
}

#[test]
fn compress_false_sends_a_large_message_uncompressed() {
    let Some(peers) = common::node_peers(&["socket.io"]) else {
        return;
    };
    let node = raw::ScriptServer::start(&peers, COMPRESS_SCRIPT);
    let real = [
        compress_steps(node.addr, "big"),
        compress_steps(node.addr, "plain"),
    ];
    drop(node);
    let config = netlab::net::engineio::EngineConfig {
        per_message_deflate: true,
        ..netlab::net::socketio::engine_config()
    };
    let server = raw::InProcess::start(CompressApp, config);
    let ours = [
        compress_steps(server.addr, "big"),
        compress_steps(server.addr, "plain"),
    ];
    server.stop();
    let x = "x×2000";
    let want = [
        Seen {
            polling_encoding: Some("gzip".into()),
            polling_body: format!(r#"42["big","{x}"]"#),
            rsv1: true,
        },
        Seen {
            polling_encoding: None,
            polling_body: format!(r#"42["plain","{x}"]"#),
            rsv1: false,
        },
    ];
    assert_eq!(ours, want);
    // On long-polling the reference server does the same. On the WebSocket, engine.io
    // 6.6 does not pass `compress` down to ws, which (with context takeover) compresses
    // every message, `compress(false)` and the open packet included: RFC 7692 §6 lets
    // netlab send the message uncompressed, as the option asks.
    for (real, want) in real.iter().zip(&want) {
        let polling = |s: &Seen| (s.polling_encoding.clone(), s.polling_body.clone());
        assert_eq!(polling(real), polling(want));
    }
}

/// An application that disconnects a socket on request (`kick`: the socket leaves its
/// namespace; `kick-all`: the whole session closes) and reports every disconnect reason.
struct ReasonApp(std::sync::mpsc::Sender<String>);

impl netlab::net::socketio::App for ReasonApp {
    fn event(
        &mut self,
        io: &mut netlab::wire::application::socketio::Server,
        event: netlab::wire::application::socketio::AppEvent,
    ) {
        use netlab::wire::application::socketio::AppEvent;
        match event {
            AppEvent::Event {
                namespace,
                socket,
                name,
                ..
            } => {
                let close = match name.as_str() {
                    "kick" => false,
                    "kick-all" => true,
                    _ => return,
                };
                io.socket(&namespace, &socket).disconnect(close).unwrap();
            }
            AppEvent::Disconnected { reason, .. } => {
                let _ = self.0.send(reason.as_str().to_owned());
            }
            _ => {}
        }
    }
}

/// The reasons the server gives that need the server's application or a client breaking
/// a rule (the others, `transport close`, `ping timeout`, `client namespace disconnect`
/// and `server shutting down`, are seen on `netlab socketio server --jsonl` above):
/// the reference client asking to be kicked, and raw clients that break the rules.
/// socket.io 4.8 gives the same reasons for these steps (`tests/socketio_hostile.rs`
/// compares the second poll and the attachments; `disconnect(true)` there also means
/// "server namespace disconnect"). `forced server close` is a reason neither server
/// reaches from outside: socket.io's `client.close()` gives it to the sockets still
/// connected, and every path to it has disconnected them first.
#[test]
fn every_other_disconnect_reason_the_server_reports() {
    use raw::Polling;
    let Some(peers) = common::node_peers(&["socket.io-client"]) else {
        return;
    };
    let (tx, reasons) = std::sync::mpsc::channel();
    let server = raw::InProcess::start(ReasonApp(tx), netlab::net::socketio::engine_config());
    let url = format!("http://{}", server.addr);
    let next = || reasons.recv_timeout(LIMIT).expect("a disconnect");
    let mut seen = Vec::new();
    for kick in ["kick", "kick-all"] {
        let plan = json!({"transports": ["websocket"], "emit": [{"name": kick}], "end": "wait"});
        let lines = client(&peers, &url, plan);
        assert_eq!(one(&lines, "disconnect")["reason"], "io server disconnect");
        seen.push(next());
    }
    // An Engine.IO payload that cannot be read.
    let c = Polling::open(server.addr, "/socket.io/");
    c.connect("");
    assert_eq!(c.post("9zz").text(), "ok");
    seen.push(next());
    // A second poll while one waits.
    let c = Polling::open(server.addr, "/socket.io/");
    c.connect("");
    let first = {
        let c = c.clone();
        std::thread::spawn(move || c.get())
    };
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.get().status, 400);
    assert_eq!(first.join().unwrap().text(), "1");
    seen.push(next());
    // A Socket.IO packet that breaks a rule: the server closes the session.
    let c = Polling::open(server.addr, "/socket.io/");
    c.connect("");
    c.post(r#"451000000000-["x",{"_placeholder":true,"num":0}]"#);
    seen.push(next());
    server.stop();
    assert_eq!(
        seen,
        [
            "server namespace disconnect",
            "server namespace disconnect",
            "parse error",
            "transport error",
            "forced close"
        ]
    );
}

/// At shutdown the server waits for its connections to write their last bytes (the
/// close packet that answers a waiting poll), not for a fixed time, and does not wait
/// for a connection idle between requests.
#[test]
fn a_shutdown_answers_the_waiting_poll_and_waits_for_nothing_else() {
    let (tx, _reasons) = std::sync::mpsc::channel();
    let server = raw::InProcess::start(ReasonApp(tx), netlab::net::socketio::engine_config());
    let client = raw::Polling::open(server.addr, "/socket.io/");
    assert!(client.connect("").starts_with("40{"));
    let poll = {
        let c = client.clone();
        std::thread::spawn(move || c.get())
    };
    // A client connected and silent, as a keep-alive connection between requests is.
    let idle = std::net::TcpStream::connect(server.addr).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    server.stop();
    let took = start.elapsed();
    let answer = poll.join().unwrap();
    assert_eq!((answer.status, answer.text()), (200, "1".to_owned()));
    assert!(took < Duration::from_secs(3), "the shutdown took {took:?}");
    drop(idle);
}
