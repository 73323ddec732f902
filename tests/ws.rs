//! WebSocket over real loopback sockets: netlab against tokio-tungstenite in both
//! directions, robustness (slow handshakes, absurd lengths, 1,000 connections), graceful
//! shutdown, and the CLI. Every wait is bounded; ports are chosen by the kernel.

mod common;
mod ws_support;

use common::netlab;
use futures_util::{SinkExt, StreamExt};
use netlab::net::ws::{self as nws, Received, ServeMode, ServeOptions, WsConfig, WsUrl};
use netlab::wire::application::websocket::{CloseCode, Message, MessageKind};
use std::io::{Read, Write};
use std::time::{Duration, Instant};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::{self, protocol::frame::coding::CloseCode as TCode};
use ws_support::Server;

const LIMIT: Duration = Duration::from_secs(10);

/// A netlab echo server inside this process, on 127.0.0.1 port 0.
async fn netlab_echo() -> (String, tokio::sync::watch::Sender<bool>) {
    let listener = nws::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let opts = ServeOptions {
        mode: ServeMode::Echo,
        cfg: WsConfig::default(),
        report_messages: false,
    };
    tokio::spawn(nws::serve(listener, opts, tx, stop_rx));
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    (format!("ws://{addr}/"), stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tungstenite_client_against_netlab_server() {
    let (url, _stop) = netlab_echo().await;
    let (mut ws, resp) = timeout(LIMIT, tokio_tungstenite::connect_async(url.as_str()))
        .await
        .expect("connect hung")
        .expect("tungstenite accepted netlab's handshake");
    assert_eq!(resp.status(), 101);
    let text = "héllo wörld ✓ 你好 🚀";
    ws.send(tungstenite::Message::text(text)).await.unwrap();
    let got = timeout(LIMIT, ws.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(got, tungstenite::Message::text(text));
    let bin: Vec<u8> = (0..=255).cycle().take(70_000).collect(); // 64-bit length form
    ws.send(tungstenite::Message::binary(bin.clone()))
        .await
        .unwrap();
    let got = timeout(LIMIT, ws.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(got.into_data().as_ref(), bin.as_slice());
    ws.send(tungstenite::Message::Ping(b"p1".to_vec().into()))
        .await
        .unwrap();
    let got = timeout(LIMIT, ws.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(got, tungstenite::Message::Pong(b"p1".to_vec().into()));
    ws.close(Some(tungstenite::protocol::CloseFrame {
        code: TCode::from(4000),
        reason: "bye".into(),
    }))
    .await
    .unwrap();
    // The server echoes the code, then the stream ends.
    let mut echoed = None;
    while let Ok(Some(Ok(m))) = timeout(LIMIT, ws.next()).await {
        if let tungstenite::Message::Close(Some(f)) = m {
            echoed = Some(u16::from(f.code));
        }
    }
    assert_eq!(echoed, Some(4000));
}

/// A tokio-tungstenite echo server in this process.
async fn tungstenite_echo() -> WsUrl {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(s).await else {
                    return;
                };
                while let Some(Ok(m)) = ws.next().await {
                    if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    WsUrl {
        host: "127.0.0.1".into(),
        port,
        resource: "/".into(),
    }
}

#[tokio::test]
async fn netlab_client_against_tungstenite_server() {
    let url = tungstenite_echo().await;
    let mut c = timeout(LIMIT, nws::connect(&url, WsConfig::default(), &[]))
        .await
        .unwrap()
        .expect("netlab accepted tungstenite's 101");
    let msgs = [
        Message::text("Grüße, κόσμε"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::binary(vec![7u8; 200_000]),
    ];
    for m in &msgs {
        c.send(m).await.unwrap();
        let r = timeout(LIMIT, c.recv()).await.unwrap().unwrap();
        assert_eq!(r, Received::Message(m.clone()));
    }
    // A fragmented message (three frames) comes back whole.
    let frag = Message::text("fragmented across three frames");
    c.send_fragmented(&frag, 11).await.unwrap();
    assert_eq!(
        timeout(LIMIT, c.recv()).await.unwrap().unwrap(),
        Received::Message(frag)
    );
    c.ping(b"are you there").await.unwrap();
    assert_eq!(
        timeout(LIMIT, c.recv()).await.unwrap().unwrap(),
        Received::Pong(b"are you there".to_vec())
    );
    let theirs = timeout(LIMIT, c.close(CloseCode::NORMAL, "done"))
        .await
        .unwrap();
    assert_eq!(theirs.and_then(|f| f.code), Some(CloseCode::NORMAL));
}

fn raw_handshake(port: u16) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut b).unwrap(),
            1,
            "the server hung up mid-handshake"
        );
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    s
}

#[test]
fn a_2_62_byte_frame_is_closed_with_1009_before_any_payload() {
    let server = Server::start(&["--quiet"]);
    let mut s = raw_handshake(server.port);
    let rss_before = rss_kib(server.child.id());
    let mut frame = vec![0x82, 0xff]; // binary, FIN, MASK, 64-bit length follows
    frame.extend_from_slice(&(1u64 << 62).to_be_bytes());
    frame.extend_from_slice(&[0x11, 0x22, 0x33, 0x44]); // masking key; no payload at all
    s.write_all(&frame).unwrap();
    let mut reply = Vec::new();
    // The server closes after its close frame, with no payload sent: had it waited for
    // the payload, the read would time out (LIMIT) and fail here, whatever the clock.
    s.read_to_end(&mut reply).unwrap();
    assert_eq!(
        reply,
        [0x88, 0x02, 0x03, 0xf1],
        "expected an unmasked close frame with 1009"
    );
    // Nothing was allocated for the claimed payload: the server's resident memory barely
    // moved (Linux: VmRSS in /proc; elsewhere this check is skipped).
    if let (Some(before), Some(after)) = (rss_before, rss_kib(server.child.id())) {
        assert!(
            after < before + 8 * 1024,
            "RSS grew from {before} KiB to {after} KiB"
        );
    }
    // The server is still fine for others.
    let _ = raw_handshake(server.port);
}

/// Resident memory of a process in KiB, from /proc (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_handshake_sent_slowly_and_never_finished_times_out() {
    // A "slowloris" client: it keeps sending a byte of header every 100 ms and never
    // finishes. The limit is on the whole handshake, so trickling does not extend it.
    let server = Server::start(&["--quiet", "--handshake-timeout-ms", "500"]);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    let mut writer = s.try_clone().unwrap();
    let start = Instant::now();
    // 80 bytes, one per 100 ms: 8 s of trickling if the server never gave up.
    const TRICKLE: usize = 80;
    let trickle = std::thread::spawn(move || {
        let mut header =
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nX-Slow: ".to_vec();
        header.resize(TRICKLE, b'a');
        let mut sent = 0;
        for b in header {
            if writer.write_all(&[b]).is_err() {
                break; // the server has hung up
            }
            sent += 1;
            std::thread::sleep(Duration::from_millis(100)); // being slow is the point here
        }
        sent
    });
    let mut buf = [0u8; 64];
    // EOF (or a reset) when the server gives up; a read timeout (LIMIT) is a failure.
    let n = match s.read(&mut buf) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
        Err(e) => panic!("the server did not drop the connection: {e}"),
    };
    let waited = start.elapsed();
    assert_eq!(n, 0, "expected the connection to be dropped");
    // Not before its 500 ms: a lower bound a loaded machine cannot break.
    assert!(
        waited >= Duration::from_millis(450),
        "dropped after {waited:?}, before the 500 ms limit"
    );
    let refused = server.wait_line(LIMIT, |v| v["event"] == "refused");
    assert!(
        refused["error"].as_str().unwrap().contains("timed out"),
        "{refused}"
    );
    // Trickling did not extend the limit: the server hung up long before the trickle
    // ran out (a count of bytes, not a duration: the writer notices the hang-up at its
    // next write or the one after).
    let sent = trickle.join().unwrap();
    assert!(
        sent < TRICKLE,
        "all {sent} bytes were taken: trickling extended the limit"
    );
}

#[test]
fn bad_handshakes_get_400_or_426_naming_the_rule() {
    let server = Server::start(&["--quiet"]);
    for (request, status, needle) in [
        ("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", "426", "Sec-WebSocket-Version: 13"),
        ("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n", "400", "Sec-WebSocket-Key"),
        ("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", "400", "Connection includes Upgrade"),
    ] {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with(&format!("HTTP/1.1 {status}")), "{resp}");
        assert!(resp.contains(needle), "{resp}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_connections_echo() {
    let server = Server::start(&["--quiet"]);
    let url = server.url.clone();
    const N: usize = 1000;
    let run = async {
        // Open all of them first, so they are all open at once.
        let mut opening = tokio::task::JoinSet::new();
        for i in 0..N {
            let url = url.clone();
            opening.spawn(async move { (i, tokio_tungstenite::connect_async(url).await) });
        }
        let mut open = Vec::with_capacity(N);
        while let Some(r) = opening.join_next().await {
            let (i, r) = r.unwrap();
            open.push((i, r.unwrap_or_else(|e| panic!("connection {i}: {e}")).0));
        }
        assert_eq!(open.len(), N);
        let mut echoing = tokio::task::JoinSet::new();
        for (i, mut ws) in open {
            echoing.spawn(async move {
                let text = format!("message from connection {i}");
                ws.send(tungstenite::Message::text(text.clone()))
                    .await
                    .unwrap();
                let got = ws.next().await.unwrap().unwrap();
                assert_eq!(got, tungstenite::Message::text(text));
                ws.close(None).await.unwrap();
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
        let mut ok = 0;
        while let Some(r) = echoing.join_next().await {
            r.unwrap();
            ok += 1;
        }
        ok
    };
    let ok = timeout(Duration::from_secs(60), run)
        .await
        .expect("1,000 connections did not finish within 60 s");
    assert_eq!(ok, N);
}

#[tokio::test]
async fn sigint_and_sigterm_close_every_connection_with_1001() {
    for sig in ["-INT", "-TERM"] {
        let mut server = Server::start(&["--quiet"]);
        let mut clients = Vec::new();
        for _ in 0..3 {
            let (ws, _) = timeout(LIMIT, tokio_tungstenite::connect_async(server.url.as_str()))
                .await
                .unwrap()
                .unwrap();
            clients.push(ws);
        }
        // Wait until the server has seen all three, so none is still mid-handshake.
        for _ in 0..3 {
            server.wait_line(LIMIT, |v| v["event"] == "connected");
        }
        server.signal(sig);
        for ws in &mut clients {
            let mut code = None;
            while let Ok(Some(Ok(m))) = timeout(LIMIT, ws.next()).await {
                if let tungstenite::Message::Close(Some(f)) = m {
                    code = Some(u16::from(f.code));
                }
            }
            assert_eq!(code, Some(1001), "{sig}");
        }
        assert_eq!(server.wait_exit(LIMIT), 0, "{sig}");
    }
}

#[test]
fn cli_client_sends_and_prints_the_echo() {
    let server = Server::start(&["--quiet"]);
    let r = netlab(&[
        "--json",
        "ws",
        "client",
        &server.url,
        "--send",
        "hi there",
        "--send",
        "ünïcode",
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["sent"], 2);
    let got: Vec<&str> = v["received"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    // Text is shown as the characters it encodes (controls escaped: wire::text).
    assert_eq!(got, ["text \"hi there\"", r#"text "ünïcode""#]);
    assert_eq!(v["close_code"], 1000);
}

#[test]
fn cli_client_trace_jsonl_shows_every_frame() {
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
    let events: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let frames: Vec<&serde_json::Value> = events.iter().filter(|e| e["trace"] == "frame").collect();
    // text out, text back, close out, close back
    let ops: Vec<&str> = frames
        .iter()
        .map(|f| f["opcode"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["text", "text", "close", "close"], "{}", r.stdout);
    for f in &frames {
        let from_client = f["from"] == "client";
        assert_eq!(f["masked"], from_client, "clients mask, servers never: {f}");
    }
    assert!(events
        .iter()
        .any(|e| e["trace"] == "handshake" && e["start_line"].as_str().unwrap().contains("101")));
}

#[test]
fn cli_server_trace_explains_headers_and_checks() {
    let server = Server::start(&["--trace"]);
    let r = netlab(&["ws", "client", &server.url, "--send", "x"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let hs = server.wait_line(LIMIT, |v| {
        v["trace"] == "handshake" && v["from"] == "client"
    });
    let checks = hs["checks"].as_array().unwrap();
    assert!(
        checks.len() >= 7 && checks.iter().all(|c| c["passed"] == true),
        "{hs}"
    );
    let frame = server.wait_line(LIMIT, |v| v["trace"] == "frame" && v["from"] == "client");
    assert_eq!(frame["masked"], true);
    assert_eq!(frame["payload_text"], "x");
}

#[test]
fn broadcast_sends_to_the_others_only() {
    let server = Server::start(&["--broadcast", "--quiet"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url: WsUrl = server.url.parse().unwrap();
        let mut a = nws::connect(&url, WsConfig::default(), &[]).await.unwrap();
        let mut b = nws::connect(&url, WsConfig::default(), &[]).await.unwrap();
        for _ in 0..2 {
            server.wait_line(LIMIT, |v| v["event"] == "connected");
        }
        a.send(&Message::text("to everyone")).await.unwrap();
        let got = timeout(LIMIT, b.recv()).await.unwrap().unwrap();
        assert_eq!(got, Received::Message(Message::text("to everyone")));
        // a gets nothing back: a ping round trip shows nothing else was queued first.
        a.ping(b"x").await.unwrap();
        let got = timeout(LIMIT, a.recv()).await.unwrap().unwrap();
        assert_eq!(got, Received::Pong(b"x".to_vec()));
    });
}

#[test]
fn demo_runs_every_step() {
    let r = netlab(&["--json", "ws", "demo"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let v = r.json();
    let replies = v["replies"].as_array().unwrap();
    assert_eq!(replies.len(), 6, "{replies:?}");
    assert!(replies[0].as_str().unwrap().starts_with("text: echoed"));
    assert!(replies[3].as_str().unwrap().starts_with("ping: pong"));
    assert!(replies[4]
        .as_str()
        .unwrap()
        .starts_with("compressed: echoed"));
    assert_eq!(v["close_code"], 1000);
    let trace = v["trace"].as_array().unwrap();
    let fins: Vec<bool> = trace
        .iter()
        .filter(|t| t["trace"] == "frame" && t["from"] == "client")
        .map(|t| t["fin"].as_bool().unwrap())
        .collect();
    // text, binary, 3 fragments (FIN 0,0,1), ping, a compressed text, close
    assert_eq!(fins, [true, true, false, false, true, true, true, true]);
    // permessage-deflate: RSV1 on the compressed message only, in both directions.
    let rsv1: Vec<u64> = trace
        .iter()
        .filter(|t| t["trace"] == "frame" && t["rsv"] == 4)
        .map(|t| t["payload_len"].as_u64().unwrap())
        .collect();
    assert_eq!(rsv1.len(), 2, "{rsv1:?}");
    assert!(rsv1.iter().all(|&n| n < 200), "2 KiB compressed: {rsv1:?}");
    let obs = v["observations"].as_array().unwrap();
    assert!(
        obs[0]
            .as_str()
            .unwrap()
            .starts_with("Masking: 8 of 8 client frames were masked, with 8 different keys; 0 of"),
        "{obs:?}"
    );
    assert!(
        obs[2].as_str().unwrap().contains("the same payload"),
        "{obs:?}"
    );
    let human = netlab(&["ws", "demo"]);
    assert!(
        human.stdout.contains("continuation") && human.stdout.contains("101 Switching Protocols")
    );
}

#[test]
fn handshake_command_walks_through_the_rfc_example() {
    let v = netlab(&["--json", "ws", "handshake"]).json();
    assert_eq!(v["accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(v["sha1_hex"], "b37a4f2cc0624f1690f64606cf385945b2bec4ea");
    let v = netlab(&[
        "--json",
        "ws",
        "handshake",
        "--key",
        "x3JJHMbDL1EzLkh9GBhXDw==",
    ])
    .json();
    assert_eq!(v["accept"], "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["ws", "client", "http://x"][..],
        &["ws", "server", "--host", "not-an-ip"],
        &["ws", "server", "--echo", "--broadcast"],
    ] {
        let r = netlab(args);
        assert_eq!(r.code(), 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("error:"), "{}", r.stderr);
    }
    // Nothing listening: a failure (1) with a hint.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = netlab(&[
        "ws",
        "client",
        &format!("ws://127.0.0.1:{port}/"),
        "--send",
        "x",
    ]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
}

#[test]
fn message_kinds_serialize_as_words() {
    assert_eq!(serde_json::to_value(MessageKind::Text).unwrap(), "text");
}

#[test]
fn interactive_client_commands_from_a_pipe() {
    let server = Server::start(&["--quiet"]);
    let mut child = common::netlab_cmd()
        .args(["--json", "ws", "client", &server.url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"typed line\n/ping yo\n/binary 00ff10\n/close 4000 see you\n")
        .unwrap(); // dropping stdin ends the input
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < LIMIT, "the client hung");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sent"], 3, "{v}");
    let got: Vec<&str> = v["received"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(got, ["text \"typed line\"", "binary 3 B [00 ff 10]"], "{v}");
    assert_eq!(v["close_code"], 4000);
}

#[test]
fn invalid_utf8_fails_with_1007_before_the_frame_is_complete() {
    let server = Server::start(&["--quiet"]);
    let mut s = raw_handshake(server.port);
    // A text frame that claims 100 bytes; only 6 are sent: "ab" then 0xF4 0x90, which can
    // never start a valid character (it would be above U+10FFFF).
    let key = [0u8; 4]; // an all-zero key leaves the payload as it is
    let mut frame = vec![0x81, 0x80 | 100];
    frame.extend_from_slice(&key);
    frame.extend_from_slice(&[b'a', b'b', 0xf4, 0x90, b'c', b'd']);
    s.write_all(&frame).unwrap();
    let mut reply = [0u8; 4];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(
        reply,
        [0x88, 0x02, 0x03, 0xef],
        "expected a close frame with 1007"
    );
}

#[test]
fn an_unmasked_frame_from_a_client_is_closed_with_1002() {
    let server = Server::start(&["--quiet"]);
    let mut s = raw_handshake(server.port);
    s.write_all(&[0x81, 0x02, b'h', b'i']).unwrap(); // MASK=0: forbidden from a client
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    assert_eq!(
        reply,
        [0x88, 0x02, 0x03, 0xea],
        "expected a close frame with 1002"
    );
    let closed = server.wait_line(LIMIT, |v| v["event"] == "closed");
    assert!(
        closed["error"].as_str().unwrap().contains("unmasked"),
        "{closed}"
    );
}

#[test]
fn subprotocol_is_negotiated_and_reported() {
    let server = Server::start(&["--quiet", "--protocol", "chat.v2", "--protocol", "chat"]);
    let r = netlab(&[
        "--jsonl",
        "ws",
        "client",
        &server.url,
        "--protocol",
        "chat",
        "--send",
        "x",
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let first: serde_json::Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["event"], "connected");
    assert_eq!(first["protocol"], "chat", "the one both sides speak");
}

#[test]
fn the_server_summary_counts_what_happened() {
    let mut server = Server::start(&[]);
    let r = netlab(&[
        "ws",
        "client",
        &server.url,
        "--send",
        "one",
        "--send",
        "two",
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    server.wait_line(LIMIT, |v| v["event"] == "closed");
    server.signal("-INT");
    let summary = server.wait_line(LIMIT, |v| v.get("connections").is_some());
    assert_eq!(summary["connections"], 1, "{summary}");
    assert_eq!(summary["messages"], 2, "{summary}");
    assert_eq!(summary["closed_with"]["1000"], 1, "{summary}");
    assert_eq!(server.wait_exit(LIMIT), 0);
}
