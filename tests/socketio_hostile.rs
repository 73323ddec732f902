//! netlab's Socket.IO server under hostile input, over real loopback sockets: unknown
//! session ids, a second poll on one session, thousands of waiting polls, a POST larger
//! than `maxPayload`, a packet claiming a billion attachments, a client that never
//! answers pings, and a client that stops reading during a broadcast flood. Where the
//! reference server (npm `socket.io` 4.8) has an answer, netlab's is compared with it.
//! Every wait is bounded.

mod common;
#[path = "socketio_support/raw.rs"]
mod raw;

use netlab::net::engineio::EngineConfig;
use netlab::net::socketio::{engine_config, App};
use netlab::wire::application::engineio::Config;
use netlab::wire::application::socketio::{AppEvent, Server};
use raw::{InProcess, Polling, RawWs, ScriptServer};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(20);

/// The tests that measure this process's memory take turns: run side by side, each
/// would count the other's clients and messages.
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn measuring() -> std::sync::MutexGuard<'static, ()> {
    MEASURING.lock().unwrap_or_else(|e| e.into_inner())
}

/// The reference server with the options in `argv[1]`; prints `{"disconnect":reason}`.
const SCRIPT: &str = r#"
const { Server } = require(process.env.NETLAB_NODE_MODULES + "/socket.io");
const io = new Server(0, Object.assign({ serveClient: false }, JSON.parse(process.argv[1])));
io.on("connection", (s) => {
  s.on("disconnect", (reason) => console.log(JSON.stringify({ disconnect: reason })));
});
io.httpServer.on("listening", () => console.log(JSON.stringify({ port: io.httpServer.address().port })));
setTimeout(() => process.exit(0), 60000);
"#;

/// What netlab's application heard: each socket's disconnect reason, each connect.
#[derive(Debug, Clone, PartialEq)]
enum Heard {
    Connected(String),
    Disconnected(String, String),
    /// A packet broke a rule: the error, in words.
    ProtocolError(String),
}

/// An application that reports what it hears, and floods on `flood` (`[count, size,
/// round]`): that many events `f` (numbered from `round * count`) with a string of that
/// size to every socket, then `end` with the round.
struct Recorder(mpsc::Sender<Heard>);

impl App for Recorder {
    fn event(&mut self, io: &mut Server, event: AppEvent) {
        match event {
            AppEvent::Connected { socket, .. } => {
                let _ = self.0.send(Heard::Connected(socket));
            }
            AppEvent::ProtocolError { error, .. } => {
                let _ = self.0.send(Heard::ProtocolError(error.to_string()));
            }
            AppEvent::Disconnected { socket, reason, .. } => {
                let _ = self
                    .0
                    .send(Heard::Disconnected(socket, reason.as_str().into()));
            }
            AppEvent::Event { name, args, .. } if name == "flood" => {
                let n = |i: usize| {
                    args.first()
                        .and_then(|a| a.as_json())
                        .and_then(|a| a.get(i))
                        .and_then(Value::as_u64)
                        .unwrap_or(0) as usize
                };
                let text = "x".repeat(n(1));
                let first = n(0) * n(2);
                for i in first..first + n(0) {
                    let _ = io
                        .of("/")
                        .emit("f", vec![json!(i).into(), json!(text).into()]);
                }
                let _ = io.of("/").emit("end", vec![json!(n(2)).into()]);
            }
            _ => {}
        }
    }
}

/// netlab's server with the recorder, and what it hears.
fn netlab_server(config: EngineConfig) -> (InProcess, mpsc::Receiver<Heard>) {
    let (tx, rx) = mpsc::channel();
    (InProcess::start(Recorder(tx), config), rx)
}

/// Wait (bounded) for a disconnect; its reason.
fn disconnect(heard: &mpsc::Receiver<Heard>) -> Option<String> {
    let start = Instant::now();
    while let Some(left) = LIMIT.checked_sub(start.elapsed()) {
        if let Heard::Disconnected(_, reason) = heard.recv_timeout(left).ok()? {
            return Some(reason);
        }
    }
    None
}

fn node_disconnect(node: &ScriptServer) -> Option<String> {
    let line = node.next_line(LIMIT)?;
    line["disconnect"].as_str().map(str::to_owned)
}

/// (status, body) of a request.
fn answer(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> (u16, String) {
    let r = raw::request(addr, method, target, &[], body).expect("an answer");
    (r.status, r.text())
}

/// Requests naming a session that does not exist.
fn unknown_sid(addr: SocketAddr) -> Vec<(u16, String)> {
    let target = "/socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA";
    vec![
        answer(addr, "GET", target, b""),
        answer(addr, "POST", target, b"40"),
    ]
}

#[test]
fn unknown_sids_get_the_reference_servers_answer() {
    let Some(peers) = common::node_peers(&["socket.io"]) else {
        return;
    };
    let node = ScriptServer::start_with(&peers, SCRIPT, "{}");
    let real = unknown_sid(node.addr);
    let (server, _) = netlab_server(engine_config());
    let ours = unknown_sid(server.addr);
    server.stop();
    let unknown = (
        400,
        r#"{"code":1,"message":"Session ID unknown"}"#.to_owned(),
    );
    assert_eq!(real, vec![unknown.clone(), unknown]);
    assert_eq!(ours, real);
}

/// A GET waits; a second GET on the same session. What each got, and what a third
/// request then gets.
fn second_get(addr: SocketAddr) -> Vec<(u16, String)> {
    let client = Polling::open(addr, "/socket.io/");
    assert!(client.connect("").starts_with("40{"));
    let first = {
        let c = client.clone();
        std::thread::spawn(move || c.get())
    };
    // Long enough for the first to be waiting on the server (it cannot say so).
    std::thread::sleep(Duration::from_millis(300));
    let second = client.get();
    let first = first.join().unwrap();
    let after = client.get();
    [first, second, after]
        .iter()
        .map(|r| (r.status, r.text()))
        .collect()
}

#[test]
fn a_second_poll_on_one_session_ends_it_as_the_reference_server_does() {
    let Some(peers) = common::node_peers(&["socket.io"]) else {
        return;
    };
    let node = ScriptServer::start_with(&peers, SCRIPT, "{}");
    let real = second_get(node.addr);
    let real_reason = node_disconnect(&node);
    let (server, heard) = netlab_server(engine_config());
    let ours = second_get(server.addr);
    let our_reason = disconnect(&heard);
    server.stop();
    // The waiting GET gets the close packet, the second 400, the session is gone.
    assert_eq!(
        real,
        vec![
            (200, "1".to_owned()),
            (400, String::new()),
            (
                400,
                r#"{"code":1,"message":"Session ID unknown"}"#.to_owned()
            )
        ]
    );
    assert_eq!(ours, real);
    assert_eq!(real_reason.as_deref(), Some("transport error"));
    assert_eq!(our_reason, real_reason);
}

/// A POST one byte over `maxPayload` (1,000,000 by default), then a GET.
fn too_large(addr: SocketAddr) -> Vec<u16> {
    let client = Polling::open(addr, "/socket.io/");
    assert!(client.connect("").starts_with("40{"));
    let body = format!(r#"42["{}"]"#, "x".repeat(1_000_001 - 6));
    assert_eq!(body.len(), 1_000_001);
    let post = raw::request(addr, "POST", &client.target(), &[], body.as_bytes()).expect("413");
    vec![post.status, client.get().status]
}

#[test]
fn a_post_over_max_payload_is_413_and_ends_the_session() {
    let Some(peers) = common::node_peers(&["socket.io"]) else {
        return;
    };
    let node = ScriptServer::start_with(&peers, SCRIPT, "{}");
    let real = too_large(node.addr);
    let real_reason = node_disconnect(&node);
    let (server, heard) = netlab_server(engine_config());
    let ours = too_large(server.addr);
    let our_reason = disconnect(&heard);
    server.stop();
    assert_eq!(real, vec![413, 400]);
    assert_eq!(ours, real);
    assert_eq!(real_reason.as_deref(), Some("transport error"));
    assert_eq!(our_reason, real_reason);
}

/// A BINARY_EVENT announcing a billion attachments, then a GET (which carries the
/// close, when the server closes the session).
fn billion_attachments(addr: SocketAddr) -> Vec<(u16, String)> {
    let client = Polling::open(addr, "/socket.io/");
    assert!(client.connect("").starts_with("40{"));
    let r = client.post(r#"451000000000-["x",{"_placeholder":true,"num":0}]"#);
    let get = client.get();
    vec![(r.status, r.text()), (get.status, get.text())]
}

#[test]
fn a_billion_attachments_are_refused_at_the_header() {
    let Some(peers) = common::node_peers(&["socket.io"]) else {
        return;
    };
    let node = ScriptServer::start_with(&peers, SCRIPT, "{}");
    let real = billion_attachments(node.addr);
    let real_reason = node_disconnect(&node);
    let _turn = measuring();
    let (server, heard) = netlab_server(engine_config());
    let before = raw::rss_kib(std::process::id()).unwrap_or(0);
    let ours = billion_attachments(server.addr);
    let error = std::iter::from_fn(|| heard.recv_timeout(LIMIT).ok()).find_map(|h| match h {
        Heard::ProtocolError(e) => Some(e),
        _ => None,
    });
    let our_reason = disconnect(&heard);
    let grew = raw::rss_kib(std::process::id()).unwrap_or(0) - before;
    server.stop();
    // The reference server closes the session (`conn.close()`): its GET carries a noop
    // and the close; its socket leaves with "forced close" ("parse error" is Engine.IO's
    // word for a packet it cannot read).
    assert_eq!(
        real,
        vec![(200, "ok".to_owned()), (200, "6\u{1e}1".to_owned())]
    );
    assert_eq!(real_reason.as_deref(), Some("forced close"));
    assert_eq!(
        (&ours[0], &our_reason),
        (&real[0], &real_reason),
        "{ours:?}"
    );
    // netlab names the rule: the count is refused as the header is read.
    assert_eq!(
        error.as_deref(),
        Some("a packet announcing 1000000000 attachments; at most 10 are accepted")
    );
    // Nothing was set aside for the attachments (a placeholder each would be gigabytes).
    assert!(grew < 16 * 1024, "the process grew by {grew} KiB");
}

/// Connect on polling, then never poll again (so never answer a ping): how long until
/// the server gives up.
fn silent_client(addr: SocketAddr, gone: impl FnOnce() -> Option<String>) -> (Duration, String) {
    let client = Polling::open(addr, "/socket.io/");
    assert!(client.connect("").starts_with("40{"));
    let start = Instant::now();
    let reason = gone().expect("a disconnect");
    (start.elapsed(), reason)
}

#[test]
fn a_client_that_never_answers_pings_is_dropped_after_interval_and_timeout() {
    let Some(peers) = common::node_peers(&["socket.io"]) else {
        return;
    };
    let node =
        ScriptServer::start_with(&peers, SCRIPT, r#"{"pingInterval":300,"pingTimeout":200}"#);
    let real = silent_client(node.addr, || node_disconnect(&node));
    let config = EngineConfig {
        session: Config {
            ping_interval: Duration::from_millis(300),
            ping_timeout: Duration::from_millis(200),
            ..Config::default()
        },
        ..engine_config()
    };
    let (server, heard) = netlab_server(config);
    let ours = silent_client(server.addr, || disconnect(&heard));
    server.stop();
    for (took, reason) in [&real, &ours] {
        assert_eq!(reason, "ping timeout");
        // pingInterval + pingTimeout after the handshake, which came a little before.
        assert!(
            *took >= Duration::from_millis(400) && *took < Duration::from_secs(5),
            "{took:?}"
        );
    }
}

#[test]
fn thousands_of_waiting_polls_stay_bounded_and_the_session_limit_refuses_cleanly() {
    const LIMIT_SESSIONS: usize = 5_000;
    const ATTEMPTS: usize = 10_000;
    let _turn = measuring();
    let config = EngineConfig {
        max_sessions: LIMIT_SESSIONS,
        ..engine_config()
    };
    let (server, _heard) = netlab_server(config);
    let addr = server.addr;
    let before = raw::rss_kib(std::process::id()).unwrap_or(0);
    let start = Instant::now();
    // Each attempt: a handshake, then (when a session was given) a GET left waiting.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (waiting, refused, answered) = rt.block_on(async move {
        let mut waiting = Vec::new();
        let mut refused = Vec::new();
        for _ in 0..ATTEMPTS {
            match open_and_wait(addr).await {
                Ok(stream) => waiting.push(stream),
                Err(body) => refused.push(body),
            }
        }
        // A poll that was answered (its session gone) is not waiting.
        let mut answered = 0;
        for s in &mut waiting {
            let mut byte = [0u8; 1];
            let read = tokio::time::timeout(Duration::from_millis(1), s.peek(&mut byte)).await;
            answered += usize::from(read.is_ok());
        }
        (waiting, refused, answered)
    });
    let after = raw::rss_kib(std::process::id()).unwrap_or(0);
    common::notice(&format!(
        "{} polls waiting, {} handshakes refused in {:?}; this process (server and clients) grew by {} KiB",
        waiting.len(),
        refused.len(),
        start.elapsed(),
        after.saturating_sub(before)
    ));
    assert_eq!(answered, 0, "polls answered at once");
    assert_eq!(waiting.len(), LIMIT_SESSIONS);
    assert_eq!(refused.len(), ATTEMPTS - LIMIT_SESSIONS);
    assert!(
        refused
            .iter()
            .all(|b| b == r#"{"code":4,"message":"Forbidden"}"#),
        "{:?}",
        refused.first()
    );
    // Memory stays bounded: at most 40 KiB per waiting poll, server and client together.
    let per_poll = after.saturating_sub(before) as usize * 1024 / LIMIT_SESSIONS;
    assert!(per_poll < 40 * 1024, "{per_poll} bytes per waiting poll");
    // The clients leave: their sessions end ("transport error") and the limit frees up.
    drop(waiting);
    let freed = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        raw::request(addr, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"")
            .is_ok_and(|r| r.status == 200)
    });
    server.stop();
    assert!(freed, "no session could open after the clients left");
}

/// A handshake, then a GET that waits: the connection holding it, or the refusal's body.
async fn open_and_wait(addr: SocketAddr) -> Result<tokio::net::TcpStream, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head =
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    s.write_all(head.as_bytes()).await.unwrap();
    let mut all = Vec::new();
    tokio::time::timeout(LIMIT, s.read_to_end(&mut all))
        .await
        .expect("a handshake answer")
        .unwrap();
    let text = String::from_utf8_lossy(&all);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    if !text.starts_with("HTTP/1.1 200") {
        return Err(body);
    }
    let sid = body
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a sid");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let get =
        format!("GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n");
    s.write_all(get.as_bytes()).await.unwrap();
    Ok(s)
}

/// A WebSocket client on the main namespace; its socket id.
fn ws_client(addr: SocketAddr) -> RawWs {
    let mut ws = RawWs::connect(addr, "/socket.io/?EIO=4&transport=websocket", false).unwrap();
    assert!(ws.head.starts_with("HTTP/1.1 101"), "{}", ws.head);
    ws.read_frame(1 << 16).unwrap();
    ws.send_text("40").unwrap();
    assert!(ws.read_frame(1 << 16).unwrap().payload.starts_with(b"40"));
    ws
}

#[test]
fn a_slow_reader_under_a_broadcast_flood_is_dropped_and_the_others_get_everything() {
    // Rounds of a flood to every client; reader 0 asks for the next round when it has
    // the last. The readers keep up; the slow client reads nothing, so once the kernel's
    // buffers are full its packets wait in its session, up to `max_buffered`.
    let _turn = measuring();
    const READERS: usize = 3;
    const ROUNDS: u64 = 16;
    const COUNT: u64 = 200;
    const SIZE: u64 = 16 * 1024;
    let config = EngineConfig {
        session: Config {
            max_buffered: 1_000,
            ..Config::default()
        },
        ..engine_config()
    };
    let (server, heard) = netlab_server(config);
    let addr = server.addr;
    let slow = ws_client(addr);
    let slow_id = match heard.recv_timeout(LIMIT) {
        Ok(Heard::Connected(id)) => id,
        other => panic!("{other:?}"),
    };
    let mut readers: Vec<RawWs> = (0..READERS).map(|_| ws_client(addr)).collect();
    let flood = |round: u64| format!(r#"42["flood",[{COUNT},{SIZE},{round}]]"#);
    readers[0].send_text(&flood(0)).unwrap();
    // Every reader reads until the last round's `end`, counting the events in order.
    let threads: Vec<_> = readers
        .drain(..)
        .enumerate()
        .map(|(who, mut ws)| {
            std::thread::spawn(move || {
                let mut next = 0u64;
                let mut rss_at_half = None;
                loop {
                    let frame = ws.read_frame(1 << 20).expect("a frame");
                    let text = String::from_utf8_lossy(&frame.payload).into_owned();
                    if let Some(round) = text.strip_prefix(r#"42["end","#) {
                        let round: u64 = round.trim_end_matches(']').parse().unwrap();
                        if round + 1 == ROUNDS {
                            return (next, rss_at_half.take());
                        }
                        if round + 1 == ROUNDS / 2 && who == 0 {
                            rss_at_half = raw::rss_kib(std::process::id());
                        }
                        if who == 0 {
                            ws.send_text(&flood(round + 1)).unwrap();
                        }
                    } else if text.starts_with(&format!(r#"42["f",{next},"#)) {
                        next += 1;
                    }
                }
            })
        })
        .collect();
    let results: Vec<(u64, Option<u64>)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let got: Vec<u64> = results.iter().map(|r| r.0).collect();
    let before = results[0].1.expect("the size halfway");
    assert_eq!(
        got,
        vec![ROUNDS * COUNT; READERS],
        "every reader got every event"
    );
    // The slow client was dropped when its buffer filled.
    let start = Instant::now();
    let mut dropped = None;
    while dropped.is_none() && start.elapsed() < LIMIT {
        if let Ok(Heard::Disconnected(id, reason)) = heard.recv_timeout(LIMIT) {
            if id == slow_id {
                dropped = Some(reason);
            }
        }
    }
    let after = raw::rss_kib(std::process::id()).unwrap_or(0);
    let grew = after.saturating_sub(before);
    common::notice(&format!(
        "slow reader dropped ({dropped:?}); this process grew by {grew} KiB during the second half of a flood of {} MiB per client",
        (ROUNDS * COUNT * SIZE) >> 20
    ));
    assert_eq!(dropped.as_deref(), Some("forced close"));
    drop(slow);
    server.stop();
    // Bounded: the second half of the flood (25 MiB to each client) does not make the
    // process grow by anything like it.
    assert!(grew < 32 * 1024, "grew {grew} KiB");
}
