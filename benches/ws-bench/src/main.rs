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
//! With `--deflate`, the same scenarios run with permessage-deflate (RFC 7692) offered by
//! the load generator, against netlab's server with it accepted and Node's `ws` with
//! `perMessageDeflate` (tokio-tungstenite 0.28 has no permessage-deflate); both compress
//! messages of 1 KiB and more, the smaller go plain. Node's `ws` is found in
//! `NETLAB_NODE_MODULES` (default `/opt/netlab-peers/node_modules`).
//!
//! `--pin` runs every server on CPU 1 and the load generator on CPU 0 (each server then
//! has one core, whatever its runtime would like). `--idle N` opens N idle connections to
//! each server and reports the resident memory each one costs.
//!
//! Every scenario starts the servers afresh, so each server's peak resident memory
//! (`VmHWM`) is the peak of that scenario; the load generator's own CPU use is reported,
//! to show it was not the limit.
//!
//!     cd benches/ws-bench && cargo run --release -- [--millis MS] [--rounds R] [--conns 1,64] [--sizes 64,1024,16384] [--deflate] [--pin] [--idle 10000]
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

const PLAIN: [&str; 3] = ["netlab", "tungstenite", "fastwebsockets"];
const DEFLATE: [&str; 2] = ["netlab-deflate", "node-ws-deflate"];
const CONNS: [usize; 2] = [1, 64];
const SIZES: [usize; 3] = [64, 1024, 16 * 1024];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        if args.iter().any(|a| a == "--pin") {
            pin_to_cpu(1);
        }
        serve(&args[2]);
        return;
    }
    let pin = args.iter().any(|a| a == "--pin");
    if pin {
        pin_to_cpu(0);
    }
    raise_fd_limit();
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
    let servers: &'static [&'static str] = if args.iter().any(|a| a == "--deflate") {
        &DEFLATE
    } else {
        &PLAIN
    };
    // `--servers a,b`: only these (for profiling one server).
    let servers: &'static [&'static str] = match args.iter().position(|a| a == "--servers") {
        Some(i) => {
            let wanted: Vec<&str> = args[i + 1].split(',').collect();
            let kept: Vec<&'static str> = servers.iter().copied().filter(|s| wanted.contains(s)).collect();
            Box::leak(kept.into_boxed_slice())
        }
        None => servers,
    };
    let plan = Plan {
        servers,
        pin,
        deflate: servers.iter().any(|s| s.ends_with("-deflate")),
        dur: Duration::from_millis(millis),
        rounds,
    };
    let idle = flag("--idle", 0) as usize;
    if idle > 0 {
        idle_memory(&plan, idle);
    } else {
        run(&plan, &conns, &sizes);
    }
}

/// What one run measures.
struct Plan {
    servers: &'static [&'static str],
    pin: bool,
    deflate: bool,
    dur: Duration,
    rounds: usize,
}

/// Run this process (and the threads it starts later) on one CPU only.
fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it, and
    // sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            eprintln!("ws-bench: could not pin to CPU {cpu}: {}", std::io::Error::last_os_error());
        }
    }
}

/// 10,000 idle connections need more descriptors than the usual 1,024 (children inherit it).
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit read and write the one struct passed.
    unsafe {
        let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// This process's CPU time so far (user + system).
fn own_cpu() -> Duration {
    // SAFETY: getrusage fills the struct passed.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// A `/proc/PID/status` figure in KiB (`VmHWM`: peak resident, `VmRSS`: resident now).
fn proc_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
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
            "netlab" | "netlab-deflate" => {
                let (tx, mut rx) = tokio::sync::mpsc::channel(16);
                let (_stop, stop_rx) = tokio::sync::watch::channel(false);
                let mut cfg = WsConfig::default();
                cfg.policy.deflate = which == "netlab-deflate";
                let opts = ServeOptions {
                    mode: ServeMode::Echo,
                    cfg,
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

/// Node's `ws` echo server with permessage-deflate (its default threshold: 1 KiB).
const NODE_WS: &str = r#"
const { WebSocketServer } = require("ws");
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: true });
wss.on("listening", () => console.log(wss.address().port));
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
"#;

fn start(which: &str, pin: bool) -> Child {
    let mut cmd = if pin {
        // taskset (util-linux) pins any program, Node included, to CPU 1.
        let mut c = Command::new("taskset");
        c.args(["-c", "1"]);
        c
    } else {
        Command::new("env")
    };
    // WS_BENCH_WRAP="strace -c -f -o /tmp/calls.%s": run each server under a tool (the
    // server's name replaces %s), e.g. to count its system calls per message.
    if let Ok(wrap) = std::env::var("WS_BENCH_WRAP") {
        cmd.args(wrap.replace("%s", which).split_whitespace());
    }
    if which == "node-ws-deflate" {
        let modules = std::env::var("NETLAB_NODE_MODULES")
            .unwrap_or_else(|_| "/opt/netlab-peers/node_modules".into());
        cmd.args(["node", "-e", NODE_WS]).env("NODE_PATH", modules);
    } else {
        cmd.arg(std::env::current_exe().expect("own path"))
            .args(["serve", which]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn server (node for node-ws-deflate)");
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
    /// The load generator's CPU time over the round's wall time (1.0 = one core busy).
    load_cpu: f64,
}

async fn load(port: u16, conns: usize, size: usize, dur: Duration, deflate: bool) -> Sample {
    let url = WsUrl {
        host: "127.0.0.1".into(),
        port,
        resource: "/".into(),
    };
    let cfg = WsConfig {
        offer_deflate: deflate,
        ..WsConfig::default()
    };
    let mut clients = Vec::new();
    for _ in 0..conns {
        clients.push(nws::connect(&url, cfg.clone(), &[]).await.expect("connect"));
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
        load_cpu: 0.0,
    }
}

fn median(mut v: Vec<Sample>) -> Sample {
    v.sort_by(|a, b| a.msgs_per_s.total_cmp(&b.msgs_per_s));
    v[v.len() / 2].clone()
}

/// One scenario: fresh servers, `rounds` rounds in rotating order; returns every
/// server's samples and its peak resident memory in KiB.
fn scenario(
    plan: &Plan,
    rt: &tokio::runtime::Runtime,
    conns: usize,
    size: usize,
) -> (Vec<Vec<Sample>>, Vec<u64>) {
    let servers: Vec<Child> = plan.servers.iter().map(|s| start(s, plan.pin)).collect();
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); servers.len()];
    for round in 0..plan.rounds {
        for k in 0..servers.len() {
            let i = (k + round) % servers.len();
            let (cpu0, t0) = (own_cpu(), Instant::now());
            let mut s = rt.block_on(load(servers[i].port, conns, size, plan.dur, plan.deflate));
            s.load_cpu = (own_cpu() - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64();
            println!(
                "{}",
                serde_json::json!({"server": plan.servers[i], "conns": conns, "size": size,
                    "round": round, "msgs_per_s": s.msgs_per_s, "p50_us": s.p50_us,
                    "p99_us": s.p99_us, "load_cpu": s.load_cpu})
            );
            samples[i].push(s);
        }
    }
    let peaks = servers
        .iter()
        .map(|c| proc_kib(c.child.id(), "VmHWM:"))
        .collect();
    (samples, peaks)
}

fn run(plan: &Plan, conn_set: &[usize], size_set: &[usize]) {
    // The load generator: a multi-thread runtime, like the servers.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let names = plan.servers;
    let mut head = "| conns | size |".to_string();
    for n in names {
        head += &format!(" {n} msg/s |");
    }
    for n in &names[1..] {
        head += &format!(" {} / {n} |", names[0]);
    }
    head += " peak RSS MB (each server) | p50 / p99 RTT µs (each server) | load generator CPU |";
    let mut rows = Vec::new();
    for &conns in conn_set {
        for &size in size_set {
            let (samples, peaks) = scenario(plan, &rt, conns, size);
            // Paired ratios: in each round the servers ran back to back, so a ratio of one
            // round's figures cancels most of the background load of that moment.
            let ratio = |a: usize, b: usize| -> f64 {
                let mut r: Vec<f64> = (0..plan.rounds)
                    .map(|k| samples[a][k].msgs_per_s / samples[b][k].msgs_per_s)
                    .collect();
                r.sort_by(f64::total_cmp);
                r[r.len() / 2]
            };
            let load_cpu = samples
                .iter()
                .flatten()
                .map(|s| s.load_cpu)
                .fold(0.0, f64::max);
            let ratios: Vec<f64> = (1..names.len()).map(|b| ratio(0, b)).collect();
            let med: Vec<Sample> = samples.into_iter().map(median).collect();
            let mut row = format!("| {conns} | {size} B |");
            for m in &med {
                row += &format!(" {:.0} |", m.msgs_per_s);
            }
            for r in &ratios {
                row += &format!(" {r:.2} |");
            }
            let mb: Vec<String> = peaks.iter().map(|k| format!("{:.1}", *k as f64 / 1024.0)).collect();
            let rtt: Vec<String> = med.iter().map(|m| format!("{:.0}/{:.0}", m.p50_us, m.p99_us)).collect();
            row += &format!(" {} | {} | ≤ {load_cpu:.2} cores |", mb.join(" · "), rtt.join(" · "));
            rows.push(row);
        }
    }
    println!();
    println!("{head}");
    println!("{}", head.split(" |").skip(1).map(|_| "---:|").collect::<String>().replacen("", "|", 1));
    for r in rows {
        println!("{r}");
    }
}

/// Open `n` idle connections to each server (fresh, one at a time) and report what each
/// costs in resident memory.
fn idle_memory(plan: &Plan, n: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("| server | resident before, MB | with {n} idle connections, MB | per connection, KB |");
    println!("|---|---:|---:|---:|");
    for name in plan.servers {
        let server = start(name, plan.pin);
        std::thread::sleep(Duration::from_millis(300));
        let before = proc_kib(server.child.id(), "VmRSS:");
        let url = WsUrl {
            host: "127.0.0.1".into(),
            port: server.port,
            resource: "/".into(),
        };
        let cfg = WsConfig {
            offer_deflate: plan.deflate,
            ..WsConfig::default()
        };
        let held = rt.block_on(async {
            let mut held = Vec::with_capacity(n);
            for _ in 0..n {
                held.push(nws::connect(&url, cfg.clone(), &[]).await.expect("connect"));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            held
        });
        let after = proc_kib(server.child.id(), "VmRSS:");
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} |",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            (after.saturating_sub(before)) as f64 * 1024.0 / n as f64 / 1000.0
        );
        drop(held);
    }
}
