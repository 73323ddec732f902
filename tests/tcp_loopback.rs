//! The TCP lab over real sockets on 127.0.0.1, driven through the real binary: echo,
//! half-close, several clients, reset with SO_LINGER 0, the errors, socket options, the
//! demo and the benchmark. Every port is chosen by the kernel (port 0), every wait is
//! bounded, and nothing sleeps to synchronise.

mod common;
use common::{netlab, netlab_cmd, netlab_with_limit};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdout, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(15);

/// A `netlab tcp listen --jsonl …` in the background, with its lines on a channel.
struct Listener {
    child: Child,
    lines: mpsc::Receiver<String>,
    addr: String,
}

impl Listener {
    fn start(extra: &[&str]) -> Listener {
        let mut args = vec!["--port", "0"];
        args.extend_from_slice(extra);
        Listener::on(&args)
    }

    /// `netlab tcp listen --jsonl ARGS` (ARGS give the port).
    fn on(args: &[&str]) -> Listener {
        let mut child = netlab_cmd()
            .args(["tcp", "listen", "--jsonl"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("netlab runs");
        let lines = line_channel(child.stdout.take().unwrap());
        let first = lines
            .recv_timeout(WAIT)
            .expect("the listener announces its address within 15 s");
        let v: Value = serde_json::from_str(&first).expect("the first line is JSON");
        assert_eq!(v["event"], "listening", "{first}");
        let addr = v["local"].as_str().unwrap().to_owned();
        Listener { child, lines, addr }
    }

    /// Every line until the listener exits (bounded in time), parsed.
    ///
    /// The process having exited does not mean its last lines are on the channel yet: the
    /// reader thread may still be between the pipe and `send`. So after the exit, lines are
    /// taken until the reader hangs up (it reached end of file), not just those already
    /// there (a `try_iter` here once lost the `closed` event and the report under load).
    fn finish(mut self) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "listener failed: {status:?}");
                break;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the listener did not exit within {WAIT:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => lines.push(serde_json::from_str(&l).unwrap()),
                Err(mpsc::RecvTimeoutError::Disconnected) => break lines,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("the listener's output did not end within {WAIT:?}")
                }
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn line_channel(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Run `netlab tcp connect ADDR extra…` with `input` on stdin, within a time limit.
fn connect(addr: &str, input: &[u8], extra: &[&str]) -> (i32, String, String) {
    let mut child = netlab_cmd()
        .args(["tcp", "connect", addr])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("netlab runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin); // EOF: netlab half-closes
    wait_output(child)
}

fn wait_output(mut child: Child) -> (i32, String, String) {
    // stdout may already be taken (read line by line elsewhere).
    let out = child.stdout.take();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut out) = out {
            let _ = out.read_to_string(&mut s);
        }
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("netlab tcp connect hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (
        status.code().unwrap_or(-1),
        o.join().unwrap(),
        e.join().unwrap(),
    )
}

fn events<'a>(lines: &'a [Value], name: &str) -> Vec<&'a Value> {
    lines.iter().filter(|v| v["event"] == name).collect()
}

#[test]
fn echo_round_trip_and_orderly_close() {
    let l = Listener::start(&["--echo", "--max-clients", "1"]);
    let (code, out, err) = connect(&l.addr, b"hello, stream\n", &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "hello, stream\n", "the echo comes back on stdout");
    assert!(err.contains("4-tuple"), "narration on stderr: {err}");
    assert!(err.contains("half-closed"), "{err}");
    let lines = l.finish();
    let closed = events(&lines, "closed");
    assert_eq!(closed.len(), 1, "{lines:?}");
    assert_eq!(closed[0]["how"], "orderly");
    assert_eq!(closed[0]["bytes_in"], 14);
    assert_eq!(closed[0]["bytes_out"], 14);
    // The client half-closed first (its FIN), then we half-closed after echoing.
    assert_eq!(events(&lines, "peer_half_closed").len(), 1);
    assert_eq!(events(&lines, "half_closed").len(), 1);
    let report = lines.last().unwrap();
    assert_eq!(report["connections"].as_array().unwrap().len(), 1);
}

#[test]
fn half_close_the_peer_still_sends_after_our_fin() {
    // A server written here: it replies only after it has seen the client's FIN.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = server.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap(); // returns at the client's FIN
        s.write_all(b"reply after your FIN\n").unwrap();
        got
    });
    let (code, out, err) = connect(&addr, b"request\n", &["--jsonl"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(handle.join().unwrap(), b"request\n");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let pos = |name: &str| lines.iter().position(|v| v["event"] == name);
    let half = pos("half_closed").expect("we half-closed");
    let recv = pos("received").expect("the reply arrived");
    assert!(half < recv, "the reply came after our FIN: {lines:?}");
    assert_eq!(lines[recv]["data"], "reply after your FIN\n");
    assert!(pos("peer_half_closed").unwrap() > recv);
    assert_eq!(lines.last().unwrap()["how"], "orderly");
}

#[test]
fn several_clients_at_once() {
    let l = Listener::start(&["--echo", "--max-clients", "2"]);
    // Client A connects and stays connected.
    let mut a = netlab_cmd()
        .args(["tcp", "connect", &l.addr])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut a_in = a.stdin.take().unwrap();
    let a_out = line_channel(a.stdout.take().unwrap());
    a_in.write_all(b"from a\n").unwrap();
    a_in.flush().unwrap();
    assert_eq!(a_out.recv_timeout(WAIT).unwrap(), "from a");
    // While A is still open, B comes and goes.
    let (code, out, err) = connect(&l.addr, b"from b\n", &[]);
    assert_eq!((code, out.as_str()), (0, "from b\n"), "{err}");
    // Now A finishes.
    drop(a_in);
    let (code, _, err) = wait_output(a);
    assert_eq!(code, 0, "{err}");
    let lines = l.finish();
    let connected = events(&lines, "connected");
    assert_eq!(connected.len(), 2);
    let closed = events(&lines, "closed");
    assert_eq!(closed.len(), 2);
    // B (conn 2) closed while A (conn 1) was still connected.
    assert_eq!(closed[0]["conn"], 2, "{lines:?}");
    assert_ne!(
        connected[0]["remote"], connected[1]["remote"],
        "two 4-tuples"
    );
}

#[test]
fn linger_zero_makes_the_peer_see_a_reset() {
    let l = Listener::start(&["--discard", "--max-clients", "1"]);
    let (code, _, err) = connect(&l.addr, b"hi\n", &["--linger", "0", "--json"]);
    assert_eq!(code, 0, "{err}");
    let lines = l.finish();
    let closed = events(&lines, "closed");
    assert_eq!(closed[0]["how"], "reset_by_peer", "{lines:?}");
}

#[test]
fn client_json_says_it_aborted_with_rst() {
    let l = Listener::start(&["--discard", "--max-clients", "1"]);
    let mut child = netlab_cmd()
        .args(["tcp", "connect", &l.addr, "--linger", "0", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take();
    let (code, out, err) = wait_output(child);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["how"], "aborted_by_us");
    assert_eq!(v["options"]["linger_s"], 0);
    drop(l);
}

#[test]
fn a_reset_mid_transfer_is_an_error_with_a_hint() {
    // The server echoes, then closes with SO_LINGER 0: RST instead of FIN.
    let l = Listener::start(&["--echo", "--linger", "0", "--max-clients", "1"]);
    let (code, _, err) = connect(&l.addr, b"hi\n", &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("error: connection reset"), "{err}");
    assert!(err.contains("hint: "), "{err}");
    let lines = l.finish();
    assert_eq!(events(&lines, "closed")[0]["how"], "aborted_by_us");
}

#[test]
fn connection_refused_is_explained() {
    // A port that was free a moment ago; nothing listens there now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = netlab(&["tcp", "connect", &format!("127.0.0.1:{port}")]);
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("error: connection refused by 127.0.0.1"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("hint:") && r.stderr.contains("RST"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn port_in_use_is_explained() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let r = netlab(&["tcp", "listen", "--port", &port]);
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("already in use"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
}

#[test]
fn rcvbuf_shows_what_the_kernel_set() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        // Accept and close at once: the client sees EOF and ends.
        let (s, _) = server.accept().unwrap();
        drop(s);
    });
    let asked: u64 = 65536;
    let (code, out, err) = connect(
        &addr,
        b"",
        &["--rcvbuf", &asked.to_string(), "--nodelay", "--jsonl"],
    );
    handle.join().unwrap();
    assert_eq!(code, 0, "{err}");
    let first: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["event"], "connected");
    let o = &first["options"];
    assert_eq!(o["rcvbuf_asked"], asked);
    assert_eq!(o["nodelay"], true);
    let got = o["rcvbuf"].as_u64().unwrap();
    if cfg!(target_os = "linux") {
        let max: u64 = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // socket(7): the kernel doubles the value, capped at rmem_max (then doubled).
        assert_eq!(got, 2 * asked.min(max), "{o}");
    } else {
        assert!(got > 0);
    }
}

#[test]
fn human_connect_explains_the_doubling() {
    let l = Listener::start(&["--discard", "--max-clients", "1"]);
    let (code, _, err) = connect(&l.addr, b"", &["--sndbuf", "32768"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("SO_SNDBUF"), "{err}");
    assert!(err.contains("asked 32768"), "{err}");
    drop(l);
}

#[test]
fn ctrl_c_stops_the_listener_with_a_summary() {
    if !common::have_tool("kill") {
        return;
    }
    let mut l = Listener::start(&[]);
    let pid = l.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + WAIT;
    while l.child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "SIGINT did not stop the listener"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let lines: Vec<Value> = l
        .lines
        .recv_timeout(WAIT)
        .into_iter()
        .map(|s| serde_json::from_str(&s).unwrap())
        .collect();
    assert_eq!(lines[0]["interrupted"], true, "{lines:?}");
}

#[test]
fn demo_shows_reads_that_do_not_match_writes() {
    let v = netlab_with_limit(&["tcp", "demo", "--json"], Duration::from_secs(60)).json();
    let cases = v["cases"].as_array().unwrap();
    let case = |id: &str| cases.iter().find(|c| c["id"] == id).unwrap();
    for c in cases {
        assert_eq!(c["stream_intact"], true, "{c}");
        assert_eq!(c["bytes_sent"], c["bytes_received"]);
    }
    for id in ["small-writes", "small-writes-nodelay"] {
        let c = case(id);
        let (w, r) = (
            c["writes"].as_array().unwrap().len(),
            c["reads"].as_array().unwrap().len(),
        );
        assert_eq!(w, 10);
        assert!(r < w, "{id}: {r} reads for {w} writes: {c}");
    }
    // Nagle meets delayed ACK: write-write-read is far slower without TCP_NODELAY.
    let median = |id: &str| {
        let mut v: Vec<u64> = case(id)["round_trips_us"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        v.sort_unstable();
        v[v.len() / 2]
    };
    let (nagle, nodelay) = (
        median("write-write-read"),
        median("write-write-read-nodelay"),
    );
    // Delayed ACK holds the second write for Linux's minimum delayed-ACK time (40 ms;
    // 20 ms is a floor that load cannot lower), while with TCP_NODELAY a round trip on
    // loopback takes tens of microseconds: a gap of three orders of magnitude, checked
    // as an order with a loose factor.
    assert!(
        nagle >= 20_000 && nagle > 4 * nodelay.max(1),
        "median round trip with Nagle {nagle} µs, with TCP_NODELAY {nodelay} µs"
    );
    let large = case("large-write");
    assert!(large["reads"].as_array().unwrap().len() > 1, "{large}");
    let small_buf = case("small-read-buffer");
    assert_eq!(small_buf["reads"].as_array().unwrap().len(), 7); // 100 B / 16 B
    for id in ["newline-framing", "length-prefix-framing"] {
        let f = &case(id)["framing"];
        assert_eq!(f["exact"], true, "{f}");
        assert_eq!(f["sent"], f["recovered"]);
        assert!(case(id)["reads"].as_array().unwrap().len() > f["sent"].as_array().unwrap().len());
    }
}

#[test]
fn demo_human_output_has_table_and_diagram() {
    let r = netlab_with_limit(&["tcp", "demo"], Duration::from_secs(60));
    assert_eq!(r.code(), 0, "{}", r.stderr);
    for needle in [
        "client write() calls",
        "server read() calls",
        "t (ms)",
        "─►",
        "✓",
    ] {
        assert!(r.stdout.contains(needle), "missing {needle}:\n{}", r.stdout);
    }
}

#[test]
fn bench_runs_and_counts_every_byte() {
    let v = netlab(&["tcp", "bench", "--seconds", "0.3", "--json"]).json();
    let sent = v["bytes_sent"].as_u64().unwrap();
    let size = v["size"].as_u64().unwrap();
    assert!(sent >= size, "not even one write of {size} bytes: {v}");
    assert_eq!(v["bytes_received"].as_u64(), Some(sent));
    // The rate is the bytes over the time they took, in 10^9 bits per second: turned
    // back into a duration it must be about the 0.3 s asked for (the receiver's clock
    // starts at its first byte; load only stretches it). Bytes for bits (x8) or Mbit
    // for Gbit (x1000) lands far outside.
    let gbit = v["gbit_per_s"].as_f64().unwrap();
    assert_eq!(v["receiver_gbit_per_s"].as_f64(), Some(gbit), "{v}");
    let took = sent as f64 * 8.0 / (gbit * 1e9);
    assert!((0.2..2.0).contains(&took), "{took} s implied: {v}");
    let sender_took = sent as f64 * 8.0 / (v["sender_gbit_per_s"].as_f64().unwrap() * 1e9);
    assert!(
        (0.2..2.0).contains(&sender_took),
        "{sender_took} s implied: {v}"
    );
}

#[test]
fn bench_to_a_netlab_sink() {
    let l = Listener::start(&["--discard", "--max-clients", "1"]);
    let r = netlab(&[
        "tcp",
        "bench",
        "--seconds",
        "0.3",
        "--to",
        &l.addr,
        "--json",
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let v = r.json();
    let lines = l.finish();
    assert_eq!(
        events(&lines, "closed")[0]["bytes_in"].as_u64(),
        v["bytes_sent"].as_u64()
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["tcp", "connect", "not-an-address"][..],
        &["tcp", "connect", "127.0.0.1:99999"],
        &["tcp", "connect", "127.0.0.1:0"],
        &["tcp", "listen", "--linger", "99"],
        &["tcp", "listen", "--max-clients", "0"],
        &["tcp", "bench", "--seconds", "0"],
        &["tcp", "demo", "--writes", "1"],
    ] {
        let r = netlab(args);
        assert_eq!(r.code(), 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("error:"), "{args:?}: {}", r.stderr);
    }
    let r = netlab(&["tcp", "connect", "not-an-address"]);
    assert!(r.stderr.contains("HOST:PORT"), "{}", r.stderr);
}

#[test]
fn unreachable_and_unresolvable_in_an_empty_network_namespace() {
    // A fresh network namespace has only `lo`, and it is down: nothing can leave it.
    if !common::have_root("creating a network namespace (unshare -n)")
        || !common::have_tool("unshare")
    {
        return;
    }
    let run = |args: &[&str]| {
        let out = std::process::Command::new("unshare")
            .arg("-n")
            .arg(env!("CARGO_BIN_EXE_netlab"))
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["tcp", "connect", "127.0.0.1:9", "--timeout", "2"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unreachable"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    let (code, err) = run(&[
        "tcp",
        "connect",
        "no-such-host.invalid:80",
        "--timeout",
        "2",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("could not resolve"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn the_demo_is_reusable_as_a_library_call() {
    // The UDP lab shows this report beside its own: it must run without printing.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let plan = netlab::cmd::tcp::DemoPlan {
        writes: 5,
        large: 256 * 1024,
        read_buf: 16 * 1024,
        timeout: Duration::from_secs(5),
    };
    let report = rt
        .block_on(async {
            tokio::time::timeout(
                Duration::from_secs(20),
                netlab::cmd::tcp::byte_stream_demo(&plan),
            )
            .await
        })
        .expect("the demo finished within 20 s")
        .unwrap();
    let small = &report.cases[0];
    assert_eq!(small.writes.len(), 5);
    assert!(small.reads.len() < small.writes.len(), "{small:?}");
    let large = report.cases.iter().find(|c| c.id == "large-write").unwrap();
    assert_eq!(large.bytes_received, 256 * 1024);
    // 256 KiB read with a 16 KiB buffer: at least 16 reads.
    assert!(large.reads.len() >= 16, "{large:?}");
    assert!(large.reads.iter().all(|r| r.done <= 16 * 1024));
}

#[test]
fn an_unanswered_syn_times_out_with_a_hint() {
    // A listener whose accept queue is full drops new SYNs without answering (Linux
    // counts them as ListenOverflows): from the client, exactly like a silent firewall.
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    listener.listen(0).unwrap(); // room for one queued connection, never accepted
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let _queued: Vec<std::net::TcpStream> = (0..2)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).ok()
        })
        .collect();
    let started = Instant::now();
    let r = netlab(&["tcp", "connect", &addr.to_string(), "--timeout", "0.5"]);
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("no answer from"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    // It waited for its --timeout, as a silent peer makes it (a lower bound, which load
    // cannot break); that it then gave up is the "no answer" above, and `netlab`'s own
    // run limit stops a hang.
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "gave up after {:?}",
        started.elapsed()
    );
}

/// Lab 1, step 3 to 4: stop a listener that still has a client (its side of the
/// connection then waits in FIN-WAIT-2) and start it again on the same port at once. The
/// listener sets SO_REUSEADDR, as servers do, so the restart binds.
#[test]
fn a_listener_restarts_at_once_while_its_old_connections_close() {
    let l = Listener::start(&[]);
    let addr = l.addr.clone();
    let port = addr.rsplit(':').next().unwrap().to_owned();
    let client = std::net::TcpStream::connect(&addr).unwrap();
    let connected = l.lines.recv_timeout(WAIT).expect("the client is seen");
    assert!(connected.contains("\"connected\""), "{connected}");
    drop(l); // killed: its kernel sends FIN for the accepted connection, which the
             // client does not answer with its own, so the old socket holds the port
    let again = Listener::on(&["--port", &port]);
    assert_eq!(again.addr, addr);
    drop(again);
    drop(client);
}

/// The two reasons a port is in use get two different hints: a listener holds it, or
/// only connections that are still closing (here a client's port in TIME-WAIT).
#[test]
fn port_in_use_tells_a_listener_from_closing_connections() {
    // A listener holds the port.
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let r = netlab(&["tcp", "listen", "--port", &port]);
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("already listens"), "{}", r.stderr);
    // A client that closed first: its port waits in TIME-WAIT (and its socket had no
    // SO_REUSEADDR, so it still blocks a bind).
    let client = std::net::TcpStream::connect(held.local_addr().unwrap()).unwrap();
    let client_port = client.local_addr().unwrap().port().to_string();
    let (mut server_side, _) = held.accept().unwrap();
    drop(client); // FIN from the client
    server_side.set_read_timeout(Some(WAIT)).unwrap();
    let _ = server_side.read(&mut [0u8; 8]); // its FIN arrived
    drop(server_side); // our FIN: the client's side enters TIME-WAIT
    let r = netlab(&["tcp", "listen", "--port", &client_port]);
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("nothing listens on port {client_port}")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("TIME-WAIT"), "{}", r.stderr);
    assert!(!r.stderr.contains("already listens"), "{}", r.stderr);
}

/// A human-mode listener and its stderr lines; the address comes from its first line.
fn human_listener(extra: &[&str]) -> (Child, String, mpsc::Receiver<String>) {
    let mut child = netlab_cmd()
        .args(["tcp", "listen", "--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(WAIT)
        .expect("the listener says where it listens");
    let addr = first
        .split_whitespace()
        .nth(2)
        .expect("listening on ADDR")
        .trim_end_matches('.')
        .to_owned();
    (child, addr, rx)
}

/// Everything `child` writes to stdout, and its exit code; killed after `WAIT`.
fn stdout_bytes(mut child: Child) -> (i32, Vec<u8>) {
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        let _ = tx.send(v);
    });
    let Ok(bytes) = rx.recv_timeout(WAIT) else {
        let _ = child.kill();
        panic!("the listener did not finish within {WAIT:?}");
    };
    let status = child.wait().unwrap();
    (status.code().unwrap_or(-1), bytes)
}

/// Send `bytes` to `addr`, half-close, read until the server closes.
fn send_and_close(addr: &str, bytes: &[u8]) {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.write_all(bytes).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let _ = c.read_to_end(&mut Vec::new());
}

/// Lab 1 step 3: two clients, and a client that sends a terminal escape. Each line is
/// tagged with its connection, and control characters are shown, not obeyed.
#[test]
fn listen_tags_each_client_and_escapes_control_characters() {
    let (child, addr, _err) = human_listener(&["--echo", "--max-clients", "2"]);
    send_and_close(&addr, b"\x1b]0;pwned\x07hello\n");
    send_and_close(&addr, b"second\n");
    let (code, out) = stdout_bytes(child);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 0);
    assert_eq!(
        out, "[conn 1] \\x1b]0;pwned\\x07hello\n[conn 2] second\n",
        "stdout: {out:?}"
    );
    assert!(!out.contains('\x1b') && !out.contains('\x07'));
}

/// `--raw` keeps a client's bytes exactly, for piping.
#[test]
fn listen_raw_passes_the_bytes_untouched() {
    let (child, addr, _err) = human_listener(&["--raw", "--max-clients", "1", "--discard"]);
    let bytes = b"\x1b]0;pwned\x07hello\r\n\xff";
    send_and_close(&addr, bytes);
    let (code, out) = stdout_bytes(child);
    assert_eq!(code, 0);
    assert_eq!(out, bytes);
}

/// Bound to 0.0.0.0 the listener suggests real addresses, not 0.0.0.0, and says the port
/// is reachable from the network.
#[test]
fn listening_on_every_address_lists_the_real_ones() {
    let (mut child, addr, err) = human_listener(&["--bind", "0.0.0.0"]);
    assert!(addr.starts_with("0.0.0.0:"), "{addr}");
    let port = addr.rsplit(':').next().unwrap();
    let mut said = Vec::new();
    let deadline = Instant::now() + WAIT;
    while !said.iter().any(|l: &String| l.contains("Try:")) && Instant::now() < deadline {
        if let Ok(l) = err.recv_timeout(Duration::from_millis(100)) {
            said.push(l);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = said.join("\n");
    assert!(
        text.contains(&format!("Try: netlab tcp connect 127.0.0.1:{port}")),
        "{text}"
    );
    assert!(text.contains("reachable from the network"), "{text}");
    assert!(!text.contains("connect 0.0.0.0"), "{text}");
}
