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
    let args: Vec<String> = ["socketio", "server", "--port", "0", "--app", app]
        .map(String::from)
        .to_vec();
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
    let args = [browser.devtools_port.to_string(), mode.into(), url.into()];
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
