//! `netlab proxy` over real loopback sockets: each fault as a peer sees it. A FIN cut
//! after N bytes gives exactly N bytes and an end of stream; a RST cut a reset; a black
//! hole holds then delivers everything in order, or drops it and cuts; a delay shows in a
//! round trip; a throttle in the rate (measured loosely: never tighter than 2x); a
//! Socket.IO session through the proxy ends with `transport close` when it is cut. Then
//! the command line's errors. Every socket binds 127.0.0.1 on a port the kernel chooses.

mod common;

use netlab::net::proxy::schedule::{Blackhole, CutAt, CutWith, FaultScript, Pick, Then};
use netlab::net::proxy::{Counters, Proxy, ProxyEvent, ProxyHandle};
use netlab::net::socketio::client::{Heard, SioClient};
use netlab::net::socketio::{self, App};
use netlab::net::ws::WsConfig;
use netlab::wire::application::socketio::{AppEvent, Options, Server};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LIMIT: Duration = Duration::from_secs(10);
const MS: fn(u64) -> Duration = Duration::from_millis;

/// A proxy to `upstream` running in this runtime: its address, its handle, the events it
/// reported (filled as they come) and the task that returns its counters when stopped.
struct Running {
    addr: SocketAddr,
    handle: ProxyHandle,
    events: Arc<Mutex<Vec<ProxyEvent>>>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Counters>,
}

impl Running {
    fn start(upstream: SocketAddr, script: FaultScript) -> Running {
        let proxy = Proxy::bind("127.0.0.1:0".parse().unwrap(), upstream, script, 7).unwrap();
        let addr = proxy.local_addr().unwrap();
        let handle = proxy.handle();
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = events.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(proxy.run(
            async move {
                let _ = stopped.await;
            },
            None,
            move |e| seen.lock().unwrap().push(e),
        ));
        Running {
            addr,
            handle,
            events,
            stop,
            task,
        }
    }

    async fn stop(self) -> (Counters, Vec<ProxyEvent>) {
        let _ = self.stop.send(());
        let counters = tokio::time::timeout(LIMIT, self.task)
            .await
            .expect("the proxy stops")
            .unwrap();
        let events = self.events.lock().unwrap().clone();
        (counters, events)
    }
}

/// A server that accepts one connection and hands it to `serve`.
async fn server<F, Fut>(serve: F) -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>)
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Vec<u8>> + Send,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        serve(s).await
    });
    (addr, task)
}

/// Everything the socket reads until EOF or an error: the bytes and the error, if any.
async fn read_all(s: &mut TcpStream) -> (Vec<u8>, Option<std::io::Error>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(LIMIT, s.read(&mut buf)).await {
            Err(_) => panic!("no EOF or error within {LIMIT:?}"),
            Ok(Ok(0)) => return (got, None),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => return (got, Some(e)),
        }
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A server that writes `n` bytes then waits for its client to go.
async fn writer(n: usize) -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
    server(move |mut s| async move {
        let _ = s.write_all(&pattern(n)).await;
        let _ = read_all(&mut s).await;
        Vec::new()
    })
    .await
}

fn cut_after(bytes: u64, with: CutWith) -> FaultScript {
    FaultScript {
        cut: Some(CutAt::Bytes(Pick::Fixed(bytes))),
        cut_with: with,
        ..FaultScript::default()
    }
}

#[tokio::test]
async fn a_fin_after_n_bytes_gives_exactly_n_bytes_then_eof() {
    let (up, _server) = writer(100_000).await;
    let p = Running::start(up, cut_after(12_345, CutWith::Fin));
    let mut c = TcpStream::connect(p.addr).await.unwrap();
    let (got, err) = read_all(&mut c).await;
    assert!(err.is_none(), "an end of stream, not {err:?}");
    assert_eq!(got.len(), 12_345);
    assert_eq!(got, pattern(12_345), "the bytes are the server's, in order");
    drop(c);
    let (counters, events) = p.stop().await;
    assert_eq!(counters.cuts, 1);
    // What the server wrote beyond the cut was read by the proxy and never delivered.
    assert_eq!(counters.down_bytes - counters.lost_bytes, 12_345);
    assert!(events.iter().any(|e| matches!(e, ProxyEvent::Fault { .. })));
}

#[tokio::test]
async fn a_rst_cut_is_a_connection_reset() {
    let (up, _server) = writer(100_000).await;
    let p = Running::start(up, cut_after(5_000, CutWith::Rst));
    let mut c = TcpStream::connect(p.addr).await.unwrap();
    let (got, err) = read_all(&mut c).await;
    let err = err.expect("a RST makes the read fail");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    assert!(got.len() <= 5_000, "{} bytes", got.len());
    p.stop().await;
}

#[tokio::test]
async fn a_timed_cut_comes_at_its_time() {
    let (up, _server) = writer(0).await;
    let script = FaultScript {
        cut: Some(CutAt::Time(Pick::Fixed(MS(300)))),
        ..FaultScript::default()
    };
    let p = Running::start(up, script);
    let t0 = Instant::now();
    let mut c = TcpStream::connect(p.addr).await.unwrap();
    let (got, err) = read_all(&mut c).await;
    let after = t0.elapsed();
    assert!(got.is_empty() && err.is_none(), "{got:?} {err:?}");
    assert!(after >= MS(280), "the end of stream came after {after:?}");
    p.stop().await;
}

fn hole(at: u64, lasting: u64, then: Then) -> FaultScript {
    FaultScript {
        blackhole: Some(Blackhole {
            at: Pick::Fixed(MS(at)),
            lasting: Pick::Fixed(MS(lasting)),
            then,
        }),
        ..FaultScript::default()
    }
}

/// A server that reads until EOF and returns what it read.
async fn reader() -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
    server(|mut s| async move { read_all(&mut s).await.0 }).await
}

#[tokio::test]
async fn a_released_black_hole_delivers_everything_in_order_late() {
    let (up, server) = reader().await;
    let p = Running::start(up, hole(0, 400, Then::Release));
    let mut c = TcpStream::connect(p.addr).await.unwrap();
    let data = pattern(50_000);
    let t0 = Instant::now();
    c.write_all(&data).await.unwrap();
    c.shutdown().await.unwrap();
    let got = tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
    let took = t0.elapsed();
    assert_eq!(got, data, "nothing lost, nothing reordered");
    assert!(took >= MS(350), "held for {took:?}");
    p.stop().await;
}

#[tokio::test]
async fn a_dropped_black_hole_loses_the_bytes_and_cuts() {
    let (up, server) = reader().await;
    let p = Running::start(up, hole(0, 200, Then::Drop));
    let mut c = TcpStream::connect(p.addr).await.unwrap();
    c.write_all(&pattern(10_000)).await.unwrap();
    let (_, err) = read_all(&mut c).await;
    assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::ConnectionReset));
    let got = tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
    assert!(got.is_empty(), "the server got {} bytes", got.len());
    let (counters, _) = p.stop().await;
    assert_eq!(counters.lost_bytes, 10_000);
}

/// An echo server for one connection.
async fn echo() -> SocketAddr {
    let (addr, _task) = server(|mut s| async move {
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        Vec::new()
    })
    .await;
    addr
}

#[tokio::test]
async fn a_delay_shows_in_the_round_trip() {
    let up = echo().await;
    let script = FaultScript {
        delay: MS(100),
        ..FaultScript::default()
    };
    let p = Running::start(up, script);
    let mut c = TcpStream::connect(p.addr).await.unwrap();
    let t0 = Instant::now();
    c.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    tokio::time::timeout(LIMIT, c.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let rtt = t0.elapsed();
    assert_eq!(&buf, b"ping");
    // 100 ms each way.
    assert!(rtt >= MS(200), "round trip {rtt:?}");
    p.stop().await;
}

#[tokio::test]
async fn a_throttle_holds_the_rate_within_a_factor_of_two() {
    let (up, server) = reader().await;
    let rate = 100_000u64;
    let script = FaultScript {
        throttle: Some(rate),
        ..FaultScript::default()
    };
    let p = Running::start(up, script);
    let mut c = TcpStream::connect(p.addr).await.unwrap();
    let n = 100_000;
    let t0 = Instant::now();
    c.write_all(&pattern(n)).await.unwrap();
    c.shutdown().await.unwrap();
    let got = tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(got.len(), n);
    let measured = n as f64 / secs;
    assert!(
        measured > rate as f64 / 2.0 && measured < rate as f64 * 2.0,
        "{measured:.0} B/s for a throttle of {rate} B/s"
    );
    p.stop().await;
}

#[tokio::test]
async fn the_handle_partitions_and_heals() {
    let (up, server) = reader().await;
    let p = Running::start(up, FaultScript::default());
    let mut c = TcpStream::connect(p.addr).await.unwrap();
    c.write_all(b"before ").await.unwrap();
    tokio::time::sleep(MS(100)).await;
    p.handle.partition();
    tokio::time::sleep(MS(50)).await;
    c.write_all(b"during ").await.unwrap();
    tokio::time::sleep(MS(200)).await;
    p.handle.heal(Then::Release);
    c.write_all(b"after").await.unwrap();
    c.shutdown().await.unwrap();
    let got = tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
    assert_eq!(got, b"before during after");
    p.stop().await;
}

/// A Socket.IO application that does nothing but count connections.
struct Quiet(Arc<Mutex<u32>>);

impl App for Quiet {
    fn event(&mut self, _io: &mut Server, event: AppEvent) {
        if matches!(event, AppEvent::Connected { .. }) {
            *self.0.lock().unwrap() += 1;
        }
    }
}

#[tokio::test]
async fn a_cut_ends_a_socketio_session_with_transport_close() {
    let engine = socketio::bind("127.0.0.1:0".parse().unwrap(), socketio::engine_config())
        .await
        .unwrap();
    let up = engine.local_addr();
    let connects = Arc::new(Mutex::new(0));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let io = socketio::machine(Options::default());
    let server = tokio::spawn(socketio::serve(
        engine,
        io,
        Quiet(connects.clone()),
        async move {
            let _ = stopped.await;
        },
    ));
    let p = Running::start(up, FaultScript::default());
    let mut sio = SioClient::connect("127.0.0.1", p.addr.port(), "/", None, WsConfig::default())
        .await
        .unwrap();
    assert!(matches!(next(&mut sio).await, Heard::Connected { .. }));
    p.handle.cut_now(CutWith::Fin);
    let mut closed = None;
    for _ in 0..10 {
        if let Heard::Closed { reason } = next(&mut sio).await {
            closed = Some(reason);
            break;
        }
    }
    assert_eq!(closed, Some("transport close"));
    assert_eq!(*connects.lock().unwrap(), 1);
    let (counters, _) = p.stop().await;
    assert_eq!(counters.cuts, 1);
    assert!(counters.down_bytes > 0 && counters.up_bytes > 0);
    let _ = stop.send(());
    let _ = tokio::time::timeout(LIMIT, server).await;
}

async fn next(sio: &mut SioClient) -> Heard {
    tokio::time::timeout(LIMIT, sio.next())
        .await
        .expect("the client hears something")
        .expect("the client works")
}

#[test]
fn the_command_line_says_what_is_wrong() {
    let run = common::netlab(&[
        "proxy",
        "--listen",
        "0",
        "--to",
        "127.0.0.1:9",
        "--delay",
        "fast",
    ]);
    assert_eq!(run.code(), 2, "{}", run.stderr);
    assert!(run.stderr.contains("--delay"), "{}", run.stderr);
    let run = common::netlab(&[
        "proxy",
        "--listen",
        "0",
        "--to",
        "127.0.0.1:9",
        "--throttle",
        "10KB",
    ]);
    assert_eq!(run.code(), 2, "{}", run.stderr);
    assert!(run.stderr.contains("bytes per second"), "{}", run.stderr);
    // A port in use.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let run = common::netlab(&["proxy", "--listen", &port, "--to", "127.0.0.1:9"]);
    assert_eq!(run.code(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("could not start the proxy"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
}

#[test]
fn an_unreachable_upstream_is_reported_per_connection() {
    // A port nothing listens on: bind one, note it, close it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let to = format!("127.0.0.1:{port}");
    let args: Vec<String> = ["proxy", "--listen", "0", "--to", &to, "--connections", "1"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    let (mut bg, first) = common::Background::start(&args);
    assert_eq!(first["event"], "proxying", "{first}");
    let listen = first["listen"].as_str().unwrap().to_owned();
    let mut c = std::net::TcpStream::connect(listen).unwrap();
    let failed = |v: &serde_json::Value| v["event"] == "upstream_failed";
    assert!(bg.wait_for(failed, LIMIT), "no upstream_failed line");
    let mut buf = [0u8; 16];
    use std::io::Read;
    c.set_read_timeout(Some(LIMIT)).unwrap();
    let n = c.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the client's connection is closed");
    let lines = bg.stop();
    let line = lines.iter().find(|v| failed(v)).unwrap();
    assert!(
        line["error"].as_str().unwrap().contains("refused"),
        "{line}"
    );
}
