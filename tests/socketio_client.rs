//! `netlab socketio client` against the reference server (socket.io 4.8, run by node,
//! `tests/socketio_support/client_peer.js`) over long-polling, WebSocket and polling then
//! the upgrade: emits, acknowledgements both ways, binary attachments both ways,
//! namespaces and a middleware's refusal, `--auth`, recovery after a forced disconnect,
//! the send buffer, and every disconnect reason the client can be made to see. Then the
//! same client against netlab's own server, and its errors. Every server binds 127.0.0.1
//! on a port the kernel chooses; every wait is bounded.

mod common;

use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

/// The reference server on a free port, with `options` (see `client_peer.js`), killed
/// when dropped.
fn node_server(peers: &Path, options: Value) -> common::NodeServer {
    let args = [options.to_string()];
    common::NodeServer::start(peers, "socketio_support/client_peer.js", &args, LIMIT)
}

fn peers() -> Option<std::path::PathBuf> {
    common::node_peers(&["socket.io"])
}

/// `netlab --jsonl socketio client URL EXTRA…` with `input` typed: its exit code and lines.
fn run_client(url: &str, extra: &[&str], input: &str) -> (i32, Vec<Value>, String) {
    let mut args = vec!["--jsonl", "socketio", "client", url];
    args.extend_from_slice(extra);
    let run = common::netlab_with_stdin(&args, input, LIMIT);
    let lines = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    (run.code(), lines, run.stderr)
}

/// The client's lines, which must end with exit code 0.
fn client(url: &str, extra: &[&str], input: &str) -> Vec<Value> {
    let (code, lines, stderr) = run_client(url, extra, input);
    assert_eq!(code, 0, "{lines:#?}\n{stderr}");
    lines
}

fn named<'a>(lines: &'a [Value], name: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == name).collect()
}

/// The events of one name the client heard: their arguments.
fn heard(lines: &[Value], name: &str) -> Vec<Value> {
    named(lines, "event")
        .into_iter()
        .filter(|l| l["name"] == name)
        .map(|l| l["args"].clone())
        .collect()
}

fn reasons(lines: &[Value]) -> Vec<String> {
    named(lines, "disconnected")
        .iter()
        .map(|l| l["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// What the server saw of one event name: the arguments of each.
fn server_events(seen: &[Value], name: &str) -> Vec<Value> {
    seen.iter()
        .filter(|l| l["event"] == name)
        .map(|l| l["args"].clone())
        .collect()
}

const EXCHANGE: &str = "emit hello \"a b\" 42\n\
emit q {\"x\":[1,2]} word --ack\n\
emit call\n\
emit binary\n\
wait bin 10\n\
emit file hex:00ff10\n\
wait file 10\n";

/// Emit, emit with ack, the server's emit with ack (acknowledged back), binary both ways.
fn exchange(transport: Option<&str>) {
    let Some(peers) = peers() else {
        return;
    };
    let server = node_server(&peers, json!({}));
    let mut extra = vec![];
    let mut input = String::new();
    if let Some(t) = transport {
        extra = vec!["--transport", t];
    } else {
        input.push_str("wait upgraded 10\n");
    }
    input.push_str(EXCHANGE);
    let lines = client(&server.url(), &extra, &input);
    let seen = server.seen();
    let connected = named(&lines, "connected");
    assert_eq!(connected.len(), 1, "{lines:#?}");
    let expected = transport.unwrap_or("polling");
    assert_eq!(connected[0]["transport"], expected, "{lines:#?}");
    assert_eq!(connected[0]["recovered"], false);
    let id = connected[0]["socket"].clone();
    assert_eq!(heard(&lines, "welcome"), [json!([{"id": id}])]);
    // Emit: the server got it and sent it back.
    assert_eq!(server_events(&seen, "hello"), [json!(["a b", 42])]);
    assert_eq!(heard(&lines, "hello"), [json!(["a b", 42])]);
    // Emit with ack: the answer carries the id the emit asked with.
    assert_eq!(server_events(&seen, "q"), [json!([{"x": [1, 2]}, "word"])]);
    let acks = named(&lines, "ack");
    assert_eq!(acks.len(), 1, "{lines:#?}");
    assert_eq!(
        (&acks[0]["id"], &acks[0]["args"]),
        (&json!(0), &json!([{"x": [1, 2]}, "word"]))
    );
    // The server's emit with ack: the client acknowledged it.
    assert_eq!(
        named(&lines, "event")
            .iter()
            .filter(|l| l["name"] == "question" && l["ack"].is_u64())
            .count(),
        1
    );
    assert!(seen.contains(&json!({"answered": []})), "{seen:#?}");
    // Binary both ways, nested in an object too.
    assert_eq!(
        heard(&lines, "bin"),
        [json!(["<3 bytes: 01 02 03>", {"nested": "<2 bytes: ff 00>"}])]
    );
    assert_eq!(
        server_events(&seen, "file"),
        [json!([{"$bin": [0, 255, 16]}])]
    );
    assert_eq!(heard(&lines, "file"), [json!(["<3 bytes: 00 ff 10>"])]);
    // The session and the socket on the server's side.
    let connect = seen
        .iter()
        .find(|l| l.get("connect").is_some())
        .expect("a connect");
    assert_eq!(connect["connect"], id);
    assert_eq!(connect["transport"], expected);
    if transport.is_none() {
        assert_eq!(named(&lines, "upgraded").len(), 1, "{lines:#?}");
        assert!(seen.contains(&json!({"upgrade": "websocket"})), "{seen:#?}");
    }
    assert_eq!(reasons(&lines), ["io client disconnect"]);
    assert!(
        seen.contains(&json!({"disconnect": "client namespace disconnect"})),
        "{seen:#?}"
    );
}

#[test]
fn exchange_over_long_polling() {
    exchange(Some("polling"));
}

#[test]
fn exchange_over_websocket() {
    exchange(Some("websocket"));
}

#[test]
fn exchange_over_polling_then_the_upgrade() {
    exchange(None);
}

#[test]
fn auth_reaches_the_servers_handshake_auth() {
    let Some(peers) = peers() else {
        return;
    };
    let server = node_server(&peers, json!({}));
    let auth = json!({"token": "abc", "n": [1, 2]});
    let lines = client(&server.url(), &["--auth", &auth.to_string()], "");
    assert_eq!(named(&lines, "connected").len(), 1, "{lines:#?}");
    let seen = server.seen();
    let connect = seen
        .iter()
        .find(|l| l.get("connect").is_some())
        .expect("a connect");
    assert_eq!(connect["auth"], auth);
}

#[test]
fn a_middleware_refuses_with_data_and_a_token_gets_in() {
    let Some(peers) = peers() else {
        return;
    };
    let server = node_server(&peers, json!({}));
    let lines = client(&server.url(), &["--namespace", "/admin"], "");
    let refused = named(&lines, "connect_error");
    assert_eq!(refused.len(), 1, "{lines:#?}");
    assert_eq!(
        refused[0]["payload"],
        json!({"message": "not authorized", "data": {"reason": "no token"}})
    );
    assert!(named(&lines, "connected").is_empty());
    // With the token, in; and `namespace` moves a socket from / to /admin.
    let auth = ["--auth", r#"{"token":"secret"}"#];
    let lines = client(
        &server.url(),
        &auth,
        "namespace /admin\nwait connected 10\nemit here 1\nwait here 10\n",
    );
    let connected = named(&lines, "connected");
    let spaces: Vec<&Value> = connected.iter().map(|l| &l["namespace"]).collect();
    assert_eq!(spaces, [&json!("/"), &json!("/admin")], "{lines:#?}");
    assert_eq!(heard(&lines, "here"), [json!([1])]);
    let seen = server.seen();
    assert!(
        seen.contains(&json!({"event": "here", "nsp": "/admin", "args": [1]})),
        "{seen:#?}"
    );
    assert!(
        seen.contains(&json!({"disconnect": "client namespace disconnect"})),
        "{seen:#?}"
    );
}

/// Delays short enough for a test: 300 ms, then 600 ms.
const QUICK: [&str; 4] = [
    "--reconnection-delay-ms",
    "300",
    "--reconnection-delay-max-ms",
    "600",
];

fn recovery(transport: Option<&str>) {
    let Some(peers) = peers() else {
        return;
    };
    let server = node_server(&peers, json!({"recovery": true}));
    let mut extra = QUICK.to_vec();
    if let Some(t) = transport {
        extra.extend(["--transport", t]);
    }
    let input = "emit kill\nwait disconnected 10\nwait connected 10\nsleep 500\n";
    let lines = client(&server.url(), &extra, input);
    assert_eq!(reasons(&lines)[0], "transport close", "{lines:#?}");
    let reconnecting = named(&lines, "reconnecting");
    assert_eq!(reconnecting.len(), 1, "{lines:#?}");
    let delay = reconnecting[0]["delay_ms"].as_u64().unwrap();
    assert!((150..=450).contains(&delay), "300 ms ± half: {delay}");
    let connected = named(&lines, "connected");
    assert_eq!(connected.len(), 2, "{lines:#?}");
    assert_eq!(connected[0]["recovered"], false);
    assert_eq!(connected[1]["recovered"], true, "{lines:#?}");
    // The same socket id, and what was emitted while away, replayed in order (the
    // server adds each event's offset as a last argument).
    assert_eq!(connected[0]["socket"], connected[1]["socket"]);
    let missed: Vec<Value> = heard(&lines, "missed")
        .iter()
        .map(|a| a[0].clone())
        .collect();
    assert_eq!(missed, [json!(1), json!(2)], "{lines:#?}");
    let seen = server.seen();
    let connects: Vec<&Value> = seen.iter().filter(|l| l.get("connect").is_some()).collect();
    assert_eq!(connects.len(), 2, "{seen:#?}");
    assert_eq!(connects[1]["recovered"], true);
}

#[test]
fn recovery_after_a_forced_disconnect() {
    recovery(None);
}

#[test]
fn recovery_after_a_forced_disconnect_over_long_polling() {
    recovery(Some("polling"));
}

#[test]
fn the_send_buffer_delivers_in_order_after_reconnecting() {
    let Some(peers) = peers() else {
        return;
    };
    let server = node_server(&peers, json!({}));
    let input = "emit kill\nwait disconnected 10\nemit b 1\nemit b 2\nvolatile v 0\nemit b 3\n\
                 wait connected 10\nwait b 10\nsleep 300\n";
    let lines = client(&server.url(), &QUICK, input);
    let deliveries: Vec<(Value, Value)> = named(&lines, "sent")
        .iter()
        .map(|l| (l["name"].clone(), l["delivery"].clone()))
        .collect();
    assert_eq!(
        deliveries,
        [
            (json!("kill"), json!("sent")),
            (json!("b"), json!("buffered")),
            (json!("b"), json!("buffered")),
            (json!("v"), json!("dropped")),
            (json!("b"), json!("buffered")),
        ]
    );
    let seen = server.seen();
    assert_eq!(
        server_events(&seen, "b"),
        [json!([1]), json!([2]), json!([3])],
        "{seen:#?}"
    );
    assert!(server_events(&seen, "v").is_empty());
    // The new socket got them (recovery is off: a new id).
    let connected = named(&lines, "connected");
    assert_eq!(connected.len(), 2, "{lines:#?}");
    assert_ne!(connected[0]["socket"], connected[1]["socket"]);
}

/// The reasons the client gives, `--no-reconnection`.
fn reason_for(options: Value, transport: &str, input: &str) -> (Vec<String>, Vec<Value>) {
    let peers = peers().expect("checked");
    let server = node_server(&peers, options);
    let extra = ["--no-reconnection", "--transport", transport];
    let lines = client(&server.url(), &extra, input);
    assert!(named(&lines, "reconnecting").is_empty(), "{lines:#?}");
    (reasons(&lines), server.seen())
}

#[test]
fn every_disconnect_reason_the_client_can_see() {
    if peers().is_none() {
        return;
    }
    let wait = "wait disconnected 10\n";
    let (r, seen) = reason_for(json!({}), "polling", &format!("emit bye\n{wait}"));
    assert_eq!(r, ["io server disconnect"]);
    assert!(seen.contains(&json!({"disconnect": "server namespace disconnect"})));
    let (r, _) = reason_for(json!({}), "websocket", "emit x\n");
    assert_eq!(r, ["io client disconnect"]);
    let quick = json!({"pingInterval": 300, "pingTimeout": 200});
    let (r, _) = reason_for(quick, "websocket", &format!("emit freeze\n{wait}"));
    assert_eq!(r, ["ping timeout"]);
    for transport in ["polling", "websocket"] {
        let (r, _) = reason_for(json!({}), transport, &format!("emit kill\n{wait}"));
        assert_eq!(r, ["transport close"], "{transport}");
    }
    // The server's process ends: a long-polling request fails, a WebSocket closes.
    let (r, _) = reason_for(json!({}), "polling", &format!("emit exit\n{wait}"));
    assert_eq!(r, ["transport error"]);
    let (r, _) = reason_for(json!({}), "websocket", &format!("emit exit\n{wait}"));
    assert_eq!(r, ["transport close"]);
    for transport in ["polling", "websocket"] {
        let (r, _) = reason_for(json!({}), transport, &format!("emit garbage\n{wait}"));
        assert_eq!(r, ["parse error"], "{transport}");
    }
}

/// A netlab echo server and its base URL.
fn netlab_server() -> (common::Background, String) {
    let args: Vec<String> = ["socketio", "server", "--port", "0", "--app", "echo"]
        .map(String::from)
        .to_vec();
    let (server, first) = common::Background::start(&args);
    let url = first["url"].as_str().expect("a URL").to_owned();
    (server, url.trim_end_matches("/socket.io/").to_owned())
}

#[test]
fn the_basics_against_netlabs_own_server() {
    let (_server, url) = netlab_server();
    for transport in [Some("polling"), Some("websocket"), None] {
        let mut extra = vec![];
        let mut input = String::new();
        match transport {
            Some(t) => extra = vec!["--transport", t],
            None => input.push_str("wait upgraded 10\n"),
        }
        input.push_str("emit hello \"a b\" 42\nemit q 1 --ack\nemit file hex:0102\nwait file 10\n");
        let lines = client(&url, &extra, &input);
        assert_eq!(
            heard(&lines, "hello"),
            [json!(["a b", 42])],
            "{transport:?} {lines:#?}"
        );
        assert_eq!(heard(&lines, "file"), [json!(["<2 bytes: 01 02>"])]);
        let ack = named(&lines, "ack");
        assert_eq!((&ack[0]["id"], &ack[0]["args"]), (&json!(0), &json!([1])));
        // With the upgrade, the CONNECT answer may come before or after it (a loaded
        // machine has seen both): the namespace is joined on whichever carried it.
        let on = named(&lines, "connected")[0]["transport"].clone();
        match transport {
            Some(t) => assert_eq!(on, t, "{lines:#?}"),
            None => assert!(on == "polling" || on == "websocket", "{lines:#?}"),
        }
        if transport.is_none() {
            assert_eq!(named(&lines, "upgraded").len(), 1, "{lines:#?}");
        }
        assert_eq!(reasons(&lines), ["io client disconnect"]);
    }
}

#[test]
fn errors_say_what_went_wrong_with_their_exit_codes() {
    // Nothing listens: refused, exit 1.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (code, _, stderr) = run_client(&format!("http://127.0.0.1:{port}"), &[], "");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("could not connect"), "{stderr}");
    // Bad URL, bad --auth: usage, exit 2.
    let (code, _, stderr) = run_client("ftp://127.0.0.1:1", &[], "");
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = run_client("http://127.0.0.1:1", &["--auth", "{nope"], "");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not JSON"), "{stderr}");
    let Some(peers) = peers() else {
        return;
    };
    // A server that takes WebSocket only answers the polling handshake 400.
    let server = node_server(&peers, json!({"websocketOnly": true}));
    let (code, _, stderr) = run_client(&server.url(), &["--transport", "polling"], "");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("400"), "{stderr}");
    assert!(stderr.contains("Transport unknown"), "{stderr}");
    // Bad JSON in a typed argument: a note, and the client goes on.
    let lines = client(
        &server.url(),
        &["--transport", "websocket"],
        "emit x {\"a\":\nemit y 1\nwait y 10\n",
    );
    let notes = named(&lines, "note");
    assert_eq!(notes.len(), 1, "{lines:#?}");
    assert!(notes[0]["text"].as_str().unwrap().contains("not JSON"));
    assert_eq!(heard(&lines, "y"), [json!([1])]);
}

#[test]
fn reconnection_gives_up_after_its_attempts() {
    let Some(peers) = peers() else {
        return;
    };
    let server = node_server(&peers, json!({}));
    let mut extra = QUICK.to_vec();
    extra.extend(["--reconnection-attempts", "2", "--transport", "websocket"]);
    // The server ends: every attempt is refused.
    let lines = client(
        &server.url(),
        &extra,
        "emit exit\nwait disconnected 10\nsleep 2500\n",
    );
    let steps: Vec<(&Value, &Value)> = lines
        .iter()
        .filter(|l| {
            ["reconnecting", "reconnect_failed", "gave_up"].contains(&l["event"].as_str().unwrap())
        })
        .map(|l| (&l["event"], l.get("attempt").or(l.get("attempts")).unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            (&json!("reconnecting"), &json!(1)),
            (&json!("reconnect_failed"), &json!(1)),
            (&json!("reconnecting"), &json!(2)),
            (&json!("reconnect_failed"), &json!(2)),
            (&json!("gave_up"), &json!(2)),
        ],
        "{lines:#?}"
    );
    assert_eq!(named(&lines, "connected").len(), 1);
}

/// The library's WebSocket-only `connect` (what `netlab socketio demo` builds on): the
/// namespace answers, an emit with ack is answered, the session closes on `disconnect`.
#[test]
fn the_library_client_connects_emits_and_leaves() {
    use netlab::net::socketio::client::{Heard, SioClient};
    use netlab::wire::application::socketio::Data;
    let (_server, url) = netlab_server();
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let run = async {
            let cfg = netlab::net::ws::WsConfig::default();
            let mut c = SioClient::connect("127.0.0.1", port, "/", None, cfg)
                .await
                .unwrap();
            assert!(matches!(c.next().await.unwrap(), Heard::Connected { .. }));
            assert_eq!(c.transport(), "websocket");
            let id = c.emit("q", vec![Data::from(json!(5))], true).await.unwrap();
            assert_eq!(id, Some(0));
            let heard = c.next().await.unwrap();
            assert_eq!(
                heard,
                Heard::Ack {
                    id: 0,
                    args: vec![Data::from(json!(5))]
                }
            );
            // The CONNECT, the event and its answer, as Socket.IO text.
            let texts: Vec<String> = c
                .take_wire()
                .into_iter()
                .map(|w| format!("{}{:?}", if w.outgoing { "> " } else { "< " }, w.message))
                .collect();
            assert_eq!(texts.len(), 4, "{texts:?}");
            c.disconnect().await.unwrap();
        };
        tokio::time::timeout(LIMIT, run)
            .await
            .expect("the client hung");
    });
}
