//! netlab's Engine.IO server (`net::engineio`) against the reference client
//! (engine.io-client 6, run by node): long-polling only, WebSocket only, polling then
//! the upgrade, binary messages, a client that stops answering pings, and the refusal
//! of protocol revision 3. Every server binds 127.0.0.1 on a free port; every wait is
//! bounded.

mod common;

use netlab::net::engineio::{EngineConfig, EngineServer};
use netlab::wire::application::engineio::{CloseReason, Config, Event};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

/// What the server saw of one session: every event, in order.
type Seen = mpsc::UnboundedReceiver<Vec<Event>>;

/// An echo server that reports each finished session's events.
async fn echo_server(session: Config) -> (String, Seen) {
    let config = EngineConfig {
        session,
        ..EngineConfig::default()
    };
    let mut server = EngineServer::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let url = format!("http://{}", server.local_addr());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(mut socket) = server.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while let Some(e) = socket.next_event().await {
                    if let Event::Message(m) = &e {
                        socket.send(m.clone()).unwrap();
                    }
                    seen.push(e);
                }
                let _ = tx.send(seen);
            });
        }
    });
    (url, rx)
}

/// Run the reference client with `plan`; its JSON lines.
async fn client(peers: PathBuf, url: &str, plan: Value) -> Vec<Value> {
    let args = [url.to_owned(), plan.to_string()];
    let script = "engineio_support/client.js";
    let run = move || common::node_json_lines(&peers, script, &args, LIMIT, "the client");
    tokio::task::spawn_blocking(run).await.unwrap()
}

fn events_named<'a>(lines: &'a [Value], name: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == name).collect()
}

async fn server_saw(seen: &mut Seen) -> Vec<Event> {
    timeout(LIMIT, seen.recv())
        .await
        .expect("the session ended")
        .unwrap()
}

fn reason(events: &[Event]) -> Option<CloseReason> {
    match events.last() {
        Some(Event::Closed(r)) => Some(*r),
        _ => None,
    }
}

/// The messages a plan sends: text, and binary with every byte value.
fn messages() -> Value {
    json!([{"text": "hello ✓"}, {"binary": (0..=255).collect::<Vec<u8>>()}, {"text": ""}])
}

fn assert_echoed(lines: &[Value], times: usize) {
    let got: Vec<Value> = events_named(lines, "message")
        .into_iter()
        .map(|m| {
            let mut m = m.clone();
            m.as_object_mut().unwrap().remove("event");
            m
        })
        .collect();
    let sent = messages().as_array().unwrap().clone();
    let want: Vec<Value> = sent
        .iter()
        .cycle()
        .take(sent.len() * times)
        .cloned()
        .collect();
    assert_eq!(got, want, "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_only() {
    let Some(peers) = common::node_peers(&["engine.io-client"]) else {
        return;
    };
    let (url, mut seen) = echo_server(Config::default()).await;
    let plan = json!({"transports": ["polling"], "send": messages(), "expect": 3});
    let lines = client(peers, &url, plan).await;
    assert_eq!(events_named(&lines, "open")[0]["transport"], "polling");
    assert!(events_named(&lines, "upgrade").is_empty());
    assert_echoed(&lines, 1);
    // The client's close packet travels in a POST.
    assert_eq!(
        reason(&server_saw(&mut seen).await),
        Some(CloseReason::TransportClose)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_only() {
    let Some(peers) = common::node_peers(&["engine.io-client"]) else {
        return;
    };
    let (url, mut seen) = echo_server(Config::default()).await;
    let plan = json!({"transports": ["websocket"], "send": messages(), "expect": 3});
    let lines = client(peers, &url, plan).await;
    assert_eq!(events_named(&lines, "open")[0]["transport"], "websocket");
    assert_echoed(&lines, 1);
    assert_eq!(
        reason(&server_saw(&mut seen).await),
        Some(CloseReason::TransportClose)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_then_upgrade_loses_and_reorders_nothing() {
    let Some(peers) = common::node_peers(&["engine.io-client"]) else {
        return;
    };
    let (url, mut seen) = echo_server(Config::default()).await;
    let plan = json!({"send": messages(), "resendAfterUpgrade": true, "expect": 6});
    let lines = client(peers, &url, plan).await;
    assert_eq!(events_named(&lines, "open")[0]["transport"], "polling");
    assert_eq!(events_named(&lines, "upgrade")[0]["transport"], "websocket");
    assert_echoed(&lines, 2);
    let events = server_saw(&mut seen).await;
    assert!(events.contains(&Event::Upgraded), "{events:?}");
    assert_eq!(reason(&events), Some(CloseReason::TransportClose));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_answering_pings_times_out() {
    let Some(peers) = common::node_peers(&["engine.io-client"]) else {
        return;
    };
    for transports in [json!(["polling"]), json!(["websocket"])] {
        let session = Config {
            ping_interval: Duration::from_millis(200),
            ping_timeout: Duration::from_millis(300),
            ..Config::default()
        };
        let (url, mut seen) = echo_server(session).await;
        let plan = json!({"transports": transports, "answerPings": false});
        let started = std::time::Instant::now();
        let lines = client(peers.clone(), &url, plan).await;
        assert_eq!(
            reason(&server_saw(&mut seen).await),
            Some(CloseReason::PingTimeout)
        );
        // The first ping at 200 ms, no pong by 500 ms.
        assert!(started.elapsed() >= Duration::from_millis(500));
        assert_eq!(events_named(&lines, "close").len(), 1, "{lines:?}");
    }
}

/// A raw request to the server and the whole answer (the server closes or answers with
/// `Content-Length`; read until the head and body are in).
async fn raw(addr: &str, request: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let _ = timeout(Duration::from_secs(2), async {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = s.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if len.is_some_and(|len| body.len() >= len) {
                    break;
                }
            }
        }
    })
    .await;
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn revision_3_is_refused_with_the_reference_servers_answer() {
    let (url, _seen) = echo_server(Config::default()).await;
    let addr = url.trim_start_matches("http://");
    // engine.io 6.6 answered the same requests with these bodies (captured with node 20).
    let polling = raw(
        addr,
        "GET /engine.io/?EIO=3&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert!(polling.starts_with("HTTP/1.1 400 "), "{polling}");
    assert!(
        polling.contains("Content-Type: application/json"),
        "{polling}"
    );
    assert!(
        polling.ends_with(r#"{"code":5,"message":"Unsupported protocol version"}"#),
        "{polling}"
    );
    let upgrade = raw(
        addr,
        "GET /engine.io/?EIO=3&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await;
    // engine.io 6.6 completes the WebSocket handshake first (101) and then writes this
    // same 400 onto the upgraded connection; netlab refuses before the handshake.
    assert!(
        upgrade.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{upgrade}"
    );
    assert!(
        upgrade.ends_with("\r\n\r\nUnsupported protocol version"),
        "{upgrade}"
    );
    let unknown = raw(
        addr,
        "GET /engine.io/?EIO=4&transport=polling&sid=nope HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert!(
        unknown.ends_with(r#"{"code":1,"message":"Session ID unknown"}"#),
        "{unknown}"
    );
}

/// The reference server (engine.io 6, node) on a free port; killed when dropped.
struct ReferenceServer {
    child: std::process::Child,
    addr: String,
}

impl ReferenceServer {
    fn start(peers: &std::path::Path, opts: Value) -> ReferenceServer {
        use std::io::BufRead;
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/engineio_support/server.js"
        );
        let mut child = std::process::Command::new("node")
            .arg(script)
            .arg(opts.to_string())
            .env("NETLAB_NODE_MODULES", peers)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the reference server says its port");
        let v: Value = serde_json::from_str(&line).expect("a JSON line");
        ReferenceServer {
            addr: format!("127.0.0.1:{}", v["port"]),
            child,
        }
    }
}

impl Drop for ReferenceServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request on its own connection (`Connection: close`): the status and the body.
async fn exchange(addr: &str, method: &str, target: &str, body: &[u8]) -> (u16, String) {
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: text/plain;charset=UTF-8\r\n"
    )
    .into_bytes();
    if method == "POST" {
        request.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body);
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&request).await.unwrap();
    let mut got = Vec::new();
    timeout(Duration::from_secs(5), s.read_to_end(&mut got))
        .await
        .expect("the server answered and closed")
        .unwrap();
    let text = String::from_utf8_lossy(&got).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    (
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    )
}

/// A chunked body (RFC 9112 §7.1) put back together.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

/// The same requests to a server: each answer, with the session's id replaced by `SID`
/// (19 HTTP requests, 2 WebSocket upgrades).
async fn conversation(addr: &str) -> Vec<(u16, String)> {
    const BASE: &str = "/engine.io/?EIO=4&transport=polling";
    let mut answers = Vec::new();
    let open = |answers: &mut Vec<(u16, String)>, (status, body): (u16, String)| {
        let sid = body
            .strip_prefix('0')
            .and_then(|j| netlab::wire::application::engineio::OpenInfo::from_json(j).ok())
            .map(|o| o.sid)
            .unwrap_or_default();
        answers.push((status, body.replace(&sid, "SID")));
        format!("{BASE}&sid={sid}")
    };
    let session = open(&mut answers, exchange(addr, "GET", BASE, b"").await);
    for (method, body) in [
        // One message per POST: the echo is the application's, and netlab's runs in its
        // own task, so two messages of one POST may come back in one poll or in two.
        ("POST", &b"4hello"[..]),
        ("GET", b""),
        ("POST", b"bAQID"),
        ("GET", b""),
        ("POST", b"1"),
        ("GET", b""),
    ] {
        answers.push(exchange(addr, method, &session, body).await);
    }
    // A body that cannot be read: "ok", then the session is gone.
    let session = open(&mut answers, exchange(addr, "GET", BASE, b"").await);
    answers.push(exchange(addr, "POST", &session, b"9zz").await);
    answers.push(exchange(addr, "GET", &session, b"").await);
    // A body over maxPayload (64 bytes here).
    let session = open(&mut answers, exchange(addr, "GET", BASE, b"").await);
    answers.push(exchange(addr, "POST", &session, &[b'4'; 65]).await);
    for (method, target) in [
        ("GET", "/engine.io/?EIO=3&transport=polling"),
        ("GET", "/engine.io/?transport=polling"),
        ("GET", "/engine.io/?EIO=4&transport=foo"),
        ("POST", BASE),
        ("PUT", BASE),
        ("GET", "/engine.io/?EIO=4&transport=websocket"),
        ("GET", "/engine.io/?EIO=4&transport=polling&sid=nope"),
    ] {
        answers.push(exchange(addr, method, target, b"").await);
    }
    // WebSocket upgrades refused before any handshake (Content-type: text/html).
    for target in [
        "/engine.io/?EIO=4&transport=websocket&sid=nope",
        "/engine.io/?EIO=4&transport=carrier-pigeon",
    ] {
        answers.push(upgrade_exchange(addr, target).await);
    }
    answers
}

/// A WebSocket upgrade request on its own connection: the status and the body.
async fn upgrade_exchange(addr: &str, target: &str) -> (u16, String) {
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    timeout(Duration::from_secs(5), s.read_to_end(&mut got))
        .await
        .expect("the server answered and closed")
        .unwrap();
    let text = String::from_utf8_lossy(&got).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_as_the_reference_server_does() {
    let Some(peers) = common::node_peers(&["engine.io"]) else {
        return;
    };
    let reference = ReferenceServer::start(
        &peers,
        json!({"pingInterval": 25000, "pingTimeout": 20000, "maxHttpBufferSize": 64}),
    );
    let session = Config {
        max_payload: 64,
        ..Config::default()
    };
    let (ours, _seen) = echo_server(session).await;
    let want = conversation(&reference.addr).await;
    let got = conversation(ours.trim_start_matches("http://")).await;
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "answer {i}: netlab {g:?}, engine.io {w:?}");
    }
}

#[tokio::test]
async fn closing_or_dropping_a_socket_ends_its_session() {
    let mut server = EngineServer::bind("127.0.0.1:0".parse().unwrap(), EngineConfig::default())
        .await
        .unwrap();
    let addr = server.local_addr().to_string();
    const BASE: &str = "/engine.io/?EIO=4&transport=polling";
    for drop_it in [false, true] {
        let (status, open) = exchange(&addr, "GET", BASE, b"").await;
        assert_eq!(status, 200, "{open}");
        let sid = netlab::wire::application::engineio::OpenInfo::from_json(&open[1..])
            .unwrap()
            .sid;
        let socket = timeout(LIMIT, server.accept()).await.unwrap().unwrap();
        assert_eq!(socket.sid(), sid);
        let mut kept = None;
        if drop_it {
            drop(socket);
        } else {
            let bye = netlab::wire::application::engineio::Message::Text("bye".into());
            socket.send(bye).unwrap();
            socket.close();
            // The session ends when the close packet has left, with the next poll.
            assert_eq!(socket.close_reason(), None);
            kept = Some(socket);
        }
        let session = format!("{BASE}&sid={sid}");
        let want = if drop_it { "1" } else { "4bye\u{1e}1" };
        let answer = exchange(&addr, "GET", &session, b"").await;
        assert_eq!(answer, (200, want.to_owned()));
        let (status, body) = exchange(&addr, "GET", &session, b"").await;
        let unknown = r#"{"code":1,"message":"Session ID unknown"}"#;
        assert_eq!((status, body.as_str()), (400, unknown));
        if let Some(mut socket) = kept {
            assert_eq!(timeout(LIMIT, socket.recv()).await.unwrap(), None);
            assert_eq!(socket.close_reason(), Some(CloseReason::ForcedClose));
        }
    }
}

/// One port, two Engine.IO paths with their own sessions and settings, and a page: each
/// request goes where its path says; a path no one serves gets 404.
#[tokio::test]
async fn pages_and_two_engineio_paths_share_one_port() {
    use netlab::net::engineio::Page;
    let page = Page {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: "<p>hello</p>",
    };
    let a = EngineConfig {
        pages: vec![page],
        ..EngineConfig::default()
    };
    let mut b = EngineConfig {
        path: "/socket.io/".to_owned(),
        ..EngineConfig::default()
    };
    b.session.ping_interval = Duration::from_millis(1234);
    let servers = EngineServer::bind_all("127.0.0.1:0".parse().unwrap(), vec![a, b])
        .await
        .unwrap();
    let addr = servers[0].local_addr().to_string();
    assert_eq!(servers[1].local_addr().to_string(), addr);
    let get =
        |target: &str| format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let home = raw(&addr, &get("/?x=1")).await;
    assert!(home.starts_with("HTTP/1.1 200 OK\r\n"), "{home}");
    assert!(
        home.contains("\r\nContent-Type: text/html; charset=utf-8\r\n"),
        "{home}"
    );
    assert!(home.ends_with("\r\n\r\n<p>hello</p>"), "{home}");
    let posted = raw(
        &addr,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert!(posted.starts_with("HTTP/1.1 405 "), "{posted}");
    let open = |path: &str| get(&format!("{path}?EIO=4&transport=polling"));
    let engine = raw(&addr, &open("/engine.io/")).await;
    assert!(engine.contains("\"pingInterval\":25000"), "{engine}");
    let socketio = raw(&addr, &open("/socket.io/")).await;
    assert!(socketio.contains("\"pingInterval\":1234"), "{socketio}");
    let elsewhere = raw(&addr, &open("/other/")).await;
    assert!(elsewhere.starts_with("HTTP/1.1 404 "), "{elsewhere}");
}
