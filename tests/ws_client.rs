//! `netlab ws client` where a first-time user trips: a server that is not a WebSocket
//! server, a URL with a user name, the order of `--trace`, a broadcast server, Ctrl-C, a
//! pong after `/close`, and a TLS client at `netlab ws server`. Real sockets on loopback,
//! ports chosen by the kernel, every wait bounded.

mod common;
mod ws_support;

use common::{netlab, netlab_cmd, netlab_with_limit};
use netlab::wire::application::websocket::handshake::accept_key;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};
use ws_support::Server;

const LIMIT: Duration = Duration::from_secs(10);

/// A one-connection server on 127.0.0.1 that runs `serve` on the accepted stream.
fn one_shot(serve: impl FnOnce(TcpStream) + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((s, _)) = listener.accept() {
            s.set_read_timeout(Some(LIMIT)).unwrap();
            serve(s);
        }
    });
    port
}

/// Read an HTTP request head (to its blank line).
fn read_request(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn events(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn a_plain_http_server_is_named_as_not_a_websocket_server() {
    let port = one_shot(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    });
    let url = format!("ws://127.0.0.1:{port}/");
    let r = netlab(&["ws", "client", &url, "--send", "x"]);
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("200 OK"), "{}", r.stderr);
    assert!(r.stderr.contains("not a WebSocket server"), "{}", r.stderr);
    assert!(!r.stderr.contains("is a server running"), "{}", r.stderr);
}

#[test]
fn a_banner_is_shown_at_once_and_named_as_not_a_websocket_server() {
    let port = one_shot(|mut s| {
        let _ = s.write_all(b"220 mail.example ESMTP ready\r\n");
        // Keep the connection open, as a real server waits for its command.
        let _ = s.read(&mut [0u8; 512]);
        let _ = s.read(&mut [0u8; 512]);
    });
    let url = format!("ws://127.0.0.1:{port}/");
    let start = Instant::now();
    let r = netlab(&["ws", "client", &url, "--send", "x", "--timeout-ms", "8000"]);
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "waited {:?} for an answer that had already come: {}",
        start.elapsed(),
        r.stderr
    );
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(r#""220 mail.example ESMTP ready\r\n""#),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("not a WebSocket server"), "{}", r.stderr);
}

#[test]
fn userinfo_in_the_url_is_a_usage_error() {
    let r = netlab(&[
        "ws",
        "client",
        "ws://user:pw@127.0.0.1:9003/",
        "--send",
        "x",
    ]);
    assert_eq!(r.code(), 2, "{}", r.stderr);
    assert!(r.stderr.contains("RFC 6455 §3"), "{}", r.stderr);
    assert!(!r.stderr.contains("lookup"), "{}", r.stderr);
}

#[test]
fn trace_shows_the_frame_before_the_message_it_completes() {
    let server = Server::start(&["--quiet"]);
    let r = netlab(&[
        "--jsonl",
        "ws",
        "client",
        &server.url,
        "--trace",
        "--send",
        "Hello",
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let ev = events(&r.stdout);
    let frame = ev
        .iter()
        .position(|e| e["trace"] == "frame" && e["from"] == "server" && e["opcode"] == "text")
        .expect("the echo's frame is traced");
    let message = ev
        .iter()
        .position(|e| e["event"] == "received")
        .expect("the echo is reported");
    assert!(
        frame < message,
        "frame at {frame}, message at {message}:\n{}",
        r.stdout
    );
}

#[test]
fn a_broadcast_server_is_not_waited_on_for_an_echo() {
    let server = Server::start(&["--broadcast", "--quiet"]);
    let start = Instant::now();
    let r = netlab_with_limit(
        &[
            "--jsonl",
            "ws",
            "client",
            &server.url,
            "--send",
            "hello",
            "--timeout-ms",
            "8000",
        ],
        LIMIT,
    );
    assert_eq!(r.code(), 0, "{}", r.stderr);
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    let ev = events(&r.stdout);
    assert!(
        ev.iter()
            .any(|e| e["event"] == "note" && e["text"].as_str().unwrap().contains("broadcasts")),
        "{}",
        r.stdout
    );
    let report = ev.last().unwrap();
    assert_eq!(
        (report["sent"].as_u64(), report["close_code"].as_u64()),
        (Some(1), Some(1000))
    );
}

#[test]
fn ctrl_c_closes_with_1001_and_the_server_sees_it() {
    let server = Server::start(&[]);
    let mut child = netlab_cmd()
        .args(["--jsonl", "ws", "client", &server.url])
        .stdin(Stdio::piped()) // held open: the client waits for lines
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    // The client prints `connected` once the handshake is done (its Ctrl-C handler is
    // installed before it connects).
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("\"connected\""), "{first}");
    server.wait_line(LIMIT, |v| v["event"] == "connected");
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let closed = server.wait_line(LIMIT, |v| v["event"] == "closed");
    assert_eq!(closed["code"], 1001, "{closed}");
    assert_eq!(closed["initiated_by"], "client", "{closed}");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < LIMIT, "the client did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter()
            .any(|l| l.contains("\"closed\"") && l.contains("1001")),
        "{rest:?}"
    );
}

#[test]
fn a_pong_that_arrives_after_close_is_shown() {
    // A server that answers only once the ping and the close are both in: its pong
    // necessarily arrives after the client's close frame went out.
    let port = one_shot(|mut s| {
        let head = read_request(&mut s);
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap_or_default();
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(key)
        );
        s.write_all(answer.as_bytes()).unwrap();
        // Masked ping "yo" (2 + 4 + 2 bytes), masked close 1000 (2 + 4 + 2 bytes).
        let mut frames = [0u8; 16];
        s.read_exact(&mut frames).unwrap();
        assert_eq!((frames[0], frames[8]), (0x89, 0x88), "{frames:02x?}");
        // Pong "yo", then close 1000 (RFC 6455 §5.5.3, §5.5.1), unmasked from a server.
        let _ = s.write_all(&[0x8a, 0x02, b'y', b'o', 0x88, 0x02, 0x03, 0xe8]);
        let _ = s.read(&mut [0u8; 64]);
    });
    let url = format!("ws://127.0.0.1:{port}/");
    let r = common::netlab_with_stdin(
        &["--jsonl", "ws", "client", &url],
        "/ping yo\n/close\n",
        LIMIT,
    );
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let ev = events(&r.stdout);
    let pong = ev
        .iter()
        .position(|e| e["event"] == "pong" && e["payload"] == "yo");
    let closed = ev.iter().position(|e| e["event"] == "closed");
    assert!(pong.is_some() && closed.is_some(), "{}", r.stdout);
    assert!(pong < closed, "{}", r.stdout);
}

/// The first 16 bytes curl 7.88 (OpenSSL 3.0) sent to `https://127.0.0.1:PORT/`: a TLS
/// record header (handshake 22, version 3.1, length 512), then a ClientHello (type 1,
/// length 508, legacy_version 3.3) and the start of its random.
const CURL_CLIENT_HELLO: [u8; 16] = [
    0x16, 0x03, 0x01, 0x02, 0x00, // record: handshake, TLS 1.0 on the record layer, 512 bytes
    0x01, 0x00, 0x01, 0xfc, // handshake: ClientHello, 508 bytes
    0x03, 0x03, // legacy_version TLS 1.2
    0x04, 0x8d, 0xb0, 0x6f, 0x4a, // random (first 5 of 32 bytes)
];

#[test]
fn a_tls_client_hello_is_recognised_at_once_and_logged() {
    let server = Server::start(&[]);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    let start = Instant::now();
    s.write_all(&CURL_CLIENT_HELLO).unwrap();
    // The server closes without waiting for its 10 s handshake timeout.
    let n = s.read(&mut [0u8; 64]).unwrap_or(0);
    assert_eq!(n, 0, "the server answered TLS with bytes");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let refused = server.wait_line(LIMIT, |v| v["event"] == "refused");
    let error = refused["error"].as_str().unwrap();
    assert!(error.contains("looks like TLS"), "{error}");
    assert!(error.contains("plain ws://"), "{error}");
}
