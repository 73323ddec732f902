//! `ws-bench`: echo throughput and round-trip latency of three WebSocket echo servers,
//! measured with the same load generator in the same run:
//!
//! - `netlab`: `netlab::net::ws::serve` in echo mode (what `netlab ws server --quiet` runs),
//! - `tungstenite`: a tokio-tungstenite 0.28 echo server,
//! - `fastwebsockets`: a fastwebsockets 0.10 echo server (`FragmentCollector`, as in its
//!   own echo example).
//!
//! Each server runs in its own child process (a multi-thread tokio runtime, like netlab's
//! CLI). The load generator is netlab's own client (`net::ws::connect`, masking every
//! frame as RFC 6455 requires): C connections, each a closed loop of "send one message,
//! wait for its echo", for a fixed time. Rounds alternate the servers, and the median
//! round is reported, so a burst of background load does not favour one server.
//!
//!     cd benches/ws-bench && cargo run --release -- [--millis MS] [--rounds R] [--conns 1,64] [--sizes 64,1024,16384]
//!
//! Prints a Markdown table (for docs/performance.md) and JSON lines with every round.

use futures_util::{SinkExt, StreamExt};
use netlab::net::ws::{self as nws, Received, ServeMode, ServeOptions, WsConfig, WsUrl};
use netlab::wire::application::http1::{parse_request, Scan};
use netlab::wire::application::websocket::handshake::{validate_request, ServerPolicy};
use netlab::wire::application::websocket::{CloseCode, Message};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SERVERS: [&str; 3] = ["netlab", "tungstenite", "fastwebsockets"];
const CONNS: [usize; 2] = [1, 64];
const SIZES: [usize; 3] = [64, 1024, 16 * 1024];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        serve(&args[2]);
        return;
    }
    let flag = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let list = |name: &str, default: &[usize]| -> Vec<usize> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_else(|| default.to_vec())
    };
    let millis = flag("--millis", 1000);
    let rounds = flag("--rounds", 5) as usize;
    let conns = list("--conns", &CONNS);
    let sizes = list("--sizes", &SIZES);
    run(Duration::from_millis(millis), rounds, &conns, &sizes);
}

// ---------------------------------------------------------------- the servers --------

fn serve(which: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("addr").port());
        match which {
            "netlab" => {
                let (tx, mut rx) = tokio::sync::mpsc::channel(16);
                let (_stop, stop_rx) = tokio::sync::watch::channel(false);
                let opts = ServeOptions {
                    mode: ServeMode::Echo,
                    cfg: WsConfig::default(),
                    report_messages: false,
                };
                tokio::spawn(async move { while rx.recv().await.is_some() {} });
                nws::serve(listener, opts, tx, stop_rx)
                    .await
                    .expect("serve");
            }
            "tungstenite" => loop {
                let (s, _) = listener.accept().await.expect("accept");
                tokio::spawn(async move {
                    let _ = s.set_nodelay(true);
                    let Ok(mut ws) = tokio_tungstenite::accept_async(s).await else {
                        return;
                    };
                    while let Some(Ok(m)) = ws.next().await {
                        if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                            break;
                        }
                    }
                });
            },
            "fastwebsockets" => loop {
                let (s, _) = listener.accept().await.expect("accept");
                tokio::spawn(async move {
                    let _ = s.set_nodelay(true);
                    let Some(s) = handshake_by_hand(s).await else {
                        return;
                    };
                    let mut ws =
                        fastwebsockets::WebSocket::after_handshake(s, fastwebsockets::Role::Server);
                    ws.set_auto_close(true);
                    ws.set_auto_pong(true);
                    let mut ws = fastwebsockets::FragmentCollector::new(ws);
                    while let Ok(frame) = ws.read_frame().await {
                        // Clippy's suggested guard would move `frame` before the match.
                        #[allow(clippy::collapsible_match)]
                        match frame.opcode {
                            fastwebsockets::OpCode::Close => break,
                            fastwebsockets::OpCode::Text | fastwebsockets::OpCode::Binary => {
                                if ws.write_frame(frame).await.is_err() {
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                });
            },
            other => panic!("unknown server {other}"),
        }
    });
}

/// fastwebsockets leaves the HTTP upgrade to hyper; do it with netlab's handshake code
/// (once per connection, outside the measured loop).
async fn handshake_by_hand(mut s: tokio::net::TcpStream) -> Option<tokio::net::TcpStream> {
    let mut buf = Vec::new();
    loop {
        let n = s.read_buf(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        if let Ok(Scan::Complete { value, .. }) = parse_request(&buf, 8192) {
            let accepted = validate_request(&value, &ServerPolicy::default()).ok()?;
            s.write_all(&accepted.response_bytes()).await.ok()?;
            return Some(s);
        }
    }
}

struct Child {
    child: std::process::Child,
    port: u16,
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(which: &str) -> Child {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args(["serve", which])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port line");
    let port = line.trim().parse().expect("a port");
    Child { child, port }
}

// ---------------------------------------------------------------- the load -----------

#[derive(Debug, Clone)]
struct Sample {
    msgs_per_s: f64,
    p50_us: f64,
    p99_us: f64,
}

async fn load(port: u16, conns: usize, size: usize, dur: Duration) -> Sample {
    let url = WsUrl {
        host: "127.0.0.1".into(),
        port,
        resource: "/".into(),
    };
    let mut clients = Vec::new();
    for _ in 0..conns {
        clients.push(
            nws::connect(&url, WsConfig::default(), &[])
                .await
                .expect("connect"),
        );
    }
    let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = tokio::task::JoinSet::new();
    for mut c in clients {
        let m = Message::binary(payload.clone());
        tasks.spawn(async move {
            let mut rtts = Vec::with_capacity(100_000);
            while Instant::now() < deadline {
                let t = Instant::now();
                c.send(&m).await.expect("send");
                match c.recv().await.expect("recv") {
                    Received::Message(r) => assert_eq!(r.payload.len(), m.payload.len()),
                    other => panic!("unexpected {other:?}"),
                }
                rtts.push(t.elapsed().as_micros() as u32);
            }
            c.close(CloseCode::NORMAL, "").await;
            rtts
        });
    }
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r.expect("a load task"));
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0) as f64
    };
    Sample {
        msgs_per_s: all.len() as f64 / elapsed,
        p50_us: pct(0.5),
        p99_us: pct(0.99),
    }
}

fn median(mut v: Vec<Sample>) -> Sample {
    v.sort_by(|a, b| a.msgs_per_s.total_cmp(&b.msgs_per_s));
    v[v.len() / 2].clone()
}

fn run(dur: Duration, rounds: usize, conn_set: &[usize], size_set: &[usize]) {
    let servers: Vec<(&str, Child)> = SERVERS.iter().map(|s| (*s, start(s))).collect();
    // The load generator: a multi-thread runtime, like the servers.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut table = Vec::new();
    for &conns in conn_set {
        for &size in size_set {
            let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); servers.len()];
            for round in 0..rounds {
                // Rotate the order each round.
                for k in 0..servers.len() {
                    let i = (k + round) % servers.len();
                    let s = rt.block_on(load(servers[i].1.port, conns, size, dur));
                    println!(
                        "{}",
                        serde_json::json!({"server": servers[i].0, "conns": conns, "size": size, "round": round,
                            "msgs_per_s": s.msgs_per_s, "p50_us": s.p50_us, "p99_us": s.p99_us})
                    );
                    samples[i].push(s);
                }
            }
            // Paired ratios: in each round the servers ran back to back, so a ratio of one
            // round's figures cancels most of the background load of that moment.
            let ratio = |a: usize, b: usize| -> f64 {
                let mut r: Vec<f64> = (0..rounds)
                    .map(|k| samples[a][k].msgs_per_s / samples[b][k].msgs_per_s)
                    .collect();
                r.sort_by(f64::total_cmp);
                r[r.len() / 2]
            };
            let ratios = (ratio(0, 1), ratio(0, 2));
            let med: Vec<Sample> = samples.into_iter().map(median).collect();
            table.push((conns, size, med, ratios));
        }
    }
    println!();
    println!("| conns | size | netlab msg/s | tungstenite msg/s | fastwebsockets msg/s | netlab / tungstenite (median of paired rounds) | netlab / fastwebsockets (same) | p50 / p99 RTT µs (netlab · tungstenite · fastwebsockets) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---|");
    for (conns, size, m, (vs_t, vs_f)) in &table {
        println!(
            "| {conns} | {size} B | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {:.0}/{:.0} · {:.0}/{:.0} · {:.0}/{:.0} |",
            m[0].msgs_per_s, m[1].msgs_per_s, m[2].msgs_per_s,
            vs_t, vs_f,
            m[0].p50_us, m[0].p99_us, m[1].p50_us, m[1].p99_us, m[2].p50_us, m[2].p99_us
        );
    }
}
