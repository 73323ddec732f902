//! A real browser against `netlab socketio server`: headless Chromium, driven through its
//! DevTools protocol by `tests/socketio_support/browser.js` (node and the npm `ws`).
//!
//! - Two tabs of netlab's chat page (served at `/`, with netlab's client script from
//!   `/socket.io/socket.io.js`) chat through their forms: names, a room, a message to the
//!   room with its delivery receipt (the acknowledgement), one to everyone, the `/news`
//!   namespace; each tab starts on long-polling and upgrades to WebSocket.
//! - The official client (socket.io-client's `dist/socket.io.js` from npm) in a page of
//!   the server's origin against the echo app: connect, emit with an ack, receive.
//! - netlab's own client script on polling alone and on WebSocket alone.
//!
//! Every server binds 127.0.0.1 on a port the kernel chooses; every wait is bounded.

mod common;

use common::Background;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const LIMIT: Duration = Duration::from_secs(60);

/// A netlab server with `app`; its base URL (`http://127.0.0.1:PORT/`).
fn server(app: &str) -> (Background, String) {
    server_with(&["--app", app])
}

/// A netlab server with `extra` arguments and its base URL.
fn server_with(extra: &[&str]) -> (Background, String) {
    let mut args: Vec<String> = ["socketio", "server", "--port", "0"]
        .map(String::from)
        .to_vec();
    args.extend(extra.iter().map(|a| a.to_string()));
    let (server, first) = Background::start(&args);
    assert_eq!(first["event"], "listening", "{first}");
    let url = first["url"].as_str().expect("a URL");
    let base = format!("{}/", url.trim_end_matches("/socket.io/"));
    (server, base)
}

/// Headless Chromium with its DevTools protocol on a port it chooses; killed (and its
/// profile removed) when dropped.
struct Browser {
    child: Child,
    profile: PathBuf,
    devtools_port: u16,
}

impl Browser {
    fn start(program: &str) -> Browser {
        let unique = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let profile = std::env::temp_dir().join(format!(
            "netlab-sio-chromium-{}-{unique}",
            std::process::id()
        ));
        std::fs::create_dir_all(&profile).unwrap();
        let child = Command::new(program)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let mut browser = Browser {
            child,
            profile,
            devtools_port: 0,
        };
        // Chromium writes the port it chose, then a path, in this file of its profile.
        let file = browser.profile.join("DevToolsActivePort");
        let start = Instant::now();
        while browser.devtools_port == 0 {
            assert!(start.elapsed() < LIMIT, "chromium gave no DevTools port");
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            browser.devtools_port = text
                .lines()
                .next()
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            std::thread::sleep(Duration::from_millis(50));
        }
        browser
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Run the driver in `mode` against `url`; its JSON lines (it fails the test on a timeout).
fn drive(peers: &Path, browser: &Browser, mode: &str, url: &str) -> Vec<Value> {
    let mut args = vec![browser.devtools_port.to_string(), mode.into()];
    args.extend(url.split(' ').map(String::from));
    let script = "socketio_support/browser.js";
    common::node_json_lines(peers, script, &args, LIMIT, "the browser driver")
}

/// The line of page `name` that carries `key`.
fn page<'a>(lines: &'a [Value], name: &str, key: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["page"] == name && !l[key].is_null())
        .unwrap_or_else(|| panic!("no {key} for page {name} in {lines:#?}"))
}

fn texts(v: &Value) -> Vec<&str> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|t| t.as_str().unwrap_or(""))
        .collect()
}

#[test]
fn two_chat_pages_chat_in_a_room_with_delivery_receipts() {
    let Some(program) = common::chromium() else {
        return;
    };
    let Some(peers) = common::node_peers(&["ws"]) else {
        return;
    };
    let (mut server, url) = server("chat");
    let browser = Browser::start(program);
    let lines = drive(&peers, &browser, "chat", &url);
    let (a, b) = (page(&lines, "a", "log"), page(&lines, "b", "log"));
    let (a_log, b_log) = (texts(&a["log"]), texts(&b["log"]));
    // What each page shows: the other's messages, its own with a delivery receipt.
    assert!(b_log.contains(&"#r ann: hello room"), "{b_log:#?}");
    assert!(
        a_log.contains(&"#r me: hello room ✓ delivered"),
        "{a_log:#?}"
    );
    assert!(a_log.contains(&"bob: hi ann"), "{a_log:#?}");
    assert!(
        !a_log.iter().any(|l| l.starts_with("#r ann:")),
        "{a_log:#?}"
    );
    assert!(texts(&b["news"]).contains(&"ann joined r"), "{b:#?}");
    assert_eq!(
        (&a["transport"], &b["transport"]),
        (&json!("websocket"), &json!("websocket"))
    );
    // The server saw the same: both pages' sessions upgraded, the room message with an
    // ack id, from the socket id page a showed.
    let a_id = page(&lines, "a", "id")["id"].clone();
    let said = |l: &Value| {
        l["event"] == "event"
            && l["name"] == "chat message"
            && l["args"] == json!([{"room": "r", "text": "hello room"}])
    };
    assert!(
        server.wait_for(said, LIMIT),
        "the server logged the message"
    );
    let log = server.stop();
    let message = log.iter().find(|l| said(l)).unwrap();
    assert_eq!(message["socket"], a_id, "{message}");
    assert!(message["ack"].is_u64(), "{message}");
    let upgrades = log.iter().filter(|l| l["event"] == "upgrade").count();
    assert_eq!(upgrades, 2, "{log:#?}");
}

#[test]
fn the_official_client_script_in_a_page_connects_emits_with_ack_and_receives() {
    let Some(program) = common::chromium() else {
        return;
    };
    let Some(peers) = common::node_peers(&["ws", "socket.io-client"]) else {
        return;
    };
    let (mut server, url) = server("echo");
    let browser = Browser::start(program);
    let lines = drive(&peers, &browser, "official", &url);
    let r = &lines
        .iter()
        .find(|l| l["official"].is_object())
        .expect("a result")["official"];
    assert!(r["timedOut"].is_null(), "{r}");
    assert_eq!(r["manager"], "function", "the real client's script: {r}");
    assert_eq!(r["first"], "polling", "{r}");
    assert_eq!(r["upgraded"], "websocket", "{r}");
    // The echo app acknowledges with the arguments, and echoes an event without ack.
    assert_eq!(r["ack"], json!(["wörld ✓", {"n": 1}]), "{r}");
    assert_eq!(r["received"], json!([[1, 2, 3]]), "{r}");
    let connected = |l: &Value| l["event"] == "connect" && l["socket"] == r["id"];
    assert!(
        server.wait_for(connected, LIMIT),
        "the server logged {}",
        r["id"]
    );
}

/// netlab's own client script, on each transport alone (the chat page uses polling then
/// the upgrade): an ack, an event back, a second namespace over the same connection, and
/// CONNECT_ERROR for a namespace the echo app does not have.
#[test]
fn netlabs_client_script_on_polling_alone_and_websocket_alone() {
    let Some(program) = common::chromium() else {
        return;
    };
    let Some(peers) = common::node_peers(&["ws"]) else {
        return;
    };
    let (_server, url) = server("echo");
    let browser = Browser::start(program);
    let lines = drive(&peers, &browser, "netlab", &url);
    let results: Vec<&Value> = lines.iter().filter_map(|l| l.get("netlab")).collect();
    assert_eq!(results.len(), 2, "{lines:#?}");
    for (r, transport) in results.into_iter().zip(["polling", "websocket"]) {
        assert!(r["timedOut"].is_null(), "{r}");
        assert_eq!(r["transport"], transport, "{r}");
        assert_eq!(r["ack"], json!(["wörld ✓", {"n": 1}]), "{r}");
        assert_eq!(r["received"], json!([[1, 2, 3]]), "{r}");
        assert_eq!(r["custom"], json!([7]), "{r}");
        assert_eq!(r["refused"], "Invalid namespace", "{r}");
        assert_eq!(r["sameConnection"], true, "{r}");
    }
}

/// One HTTP/1.1 request on a fresh connection to `base` (`http://127.0.0.1:PORT/`); the
/// answer's head, lower-cased names.
fn request(base: &str, head: &str) -> String {
    use std::io::{Read, Write};
    let addr = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut s = std::net::TcpStream::connect(&addr).expect("the server listens");
    s.set_read_timeout(Some(LIMIT)).unwrap();
    let text = head.replace("HOST", &addr);
    s.write_all(text.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).expect("an answer");
        assert!(n > 0, "the server closed before answering: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    // Each header line ends in CRLF, the last one too.
    String::from_utf8_lossy(&got[..end + 2]).to_lowercase()
}

#[test]
fn cors_is_off_by_default_and_answers_as_the_cors_package_when_asked() {
    let page = "http://localhost:8080";
    let preflight = "OPTIONS /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: HOST\r\n\
        Origin: http://localhost:8080\r\nAccess-Control-Request-Method: POST\r\n\
        Access-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n";
    let open = "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: HOST\r\n\
        Origin: http://localhost:8080\r\nConnection: close\r\n\r\n";
    let (_on, with) = server_with(&["--app", "echo", "--cors", page]);
    let h = request(&with, preflight);
    assert!(h.starts_with("http/1.1 204"), "{h}");
    assert!(
        h.contains("access-control-allow-origin: http://localhost:8080\r\n"),
        "{h}"
    );
    assert!(
        h.contains("access-control-allow-methods: get,head,put,patch,post,delete"),
        "{h}"
    );
    assert!(
        h.contains("access-control-allow-headers: content-type\r\n"),
        "{h}"
    );
    let h = request(&with, open);
    assert!(h.starts_with("http/1.1 200"), "{h}");
    assert!(
        h.contains("access-control-allow-origin: http://localhost:8080\r\n"),
        "{h}"
    );
    assert!(h.contains("vary: origin\r\n"), "{h}");
    // Without --cors: no header, and OPTIONS is no handshake (the real server's 400).
    let (_off, without) = server("echo");
    let h = request(&without, open);
    assert!(
        h.starts_with("http/1.1 200") && !h.contains("access-control"),
        "{h}"
    );
    let h = request(&without, preflight);
    assert!(
        h.starts_with("http/1.1 400") && !h.contains("access-control"),
        "{h}"
    );
    // A bad origin is a usage error.
    let r = common::netlab(&[
        "socketio",
        "server",
        "--port",
        "0",
        "--cors",
        "localhost:8080",
    ]);
    assert_eq!(r.code(), 2, "{}", r.stderr);
    assert!(r.stderr.contains("--cors localhost:8080"), "{}", r.stderr);
}

#[test]
fn a_page_of_another_origin_polls_only_where_cors_lets_it() {
    let Some(program) = common::chromium() else {
        return;
    };
    let Some(peers) = common::node_peers(&["ws", "socket.io-client"]) else {
        return;
    };
    // The page comes from one server (its 404 page will do); it polls another.
    let (_page_server, page) = server("echo");
    let origin = page.trim_end_matches('/');
    let (_allowed, allowed) = server_with(&["--app", "echo", "--cors", origin]);
    let (_closed, closed) = server("echo");
    let browser = Browser::start(program);
    let result = |target: &str| -> Value {
        let lines = drive(&peers, &browser, "cross", &format!("{page} {target}"));
        lines
            .iter()
            .find(|l| l["cross"].is_object())
            .expect("a result")["cross"]
            .clone()
    };
    let ok = result(&allowed);
    assert_eq!(ok["origin"], origin, "{ok}");
    assert_eq!(ok["connected"], true, "{ok}");
    assert_eq!(
        ok["ack"],
        json!([1]),
        "the echo app acknowledges with the arguments: {ok}"
    );
    let refused = result(&closed);
    assert!(refused["connected"].is_null(), "{refused}");
    assert_eq!(
        refused["error"], "xhr poll error",
        "the browser hid the answer: {refused}"
    );
}
