//! Capture speed, measured against named peers in the same run (not a test):
//!
//! ```sh
//! cargo bench --bench capture            # all of it (needs tcpdump, tshark, hyperfine; root for the flood)
//! NETLAB_BENCH_PACKETS=200000 cargo bench --bench capture   # a smaller file
//! ```
//!
//! 1. Generates a pcap of a realistic mix on loopback (default 1,000,000 packets, in
//!    `target/capture-bench/mix-N.pcap`): bulk TCP transfers in MSS-sized segments with
//!    their ACKs, WebSocket echo sessions with small frames, UDP datagrams of 32 and 1200
//!    bytes. `NETLAB_BENCH_GENERATE_ONLY=1` stops after writing it (for profiling).
//! 2. One-line decoding: `netlab capture --read F` vs `TZ=UTC tcpdump -n -r F` (the
//!    target) and `-nn`, in turn for 7 rounds; best wall and best CPU time of each.
//! 3. Layer trees: `netlab capture --read F --layers` vs `tshark -V -r F`.
//! 4. Memory: netlab's peak RSS on the whole file and on a quarter of it (streaming keeps
//!    it flat).
//! 5. Live (root only): a UDP flood on `lo` at a fixed rate, captured by netlab and by
//!    `tcpdump -w /dev/null` at the same time; packets missed by each.
//!
//! Results are printed as ratios; `docs/performance.md` records them.

use netlab::wire::checksum;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![0u8; 14]; // Ethernet, zero MACs as on lo
    p[12] = 0x08;
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&ip);
    p.extend_from_slice(payload);
    p
}

fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, data: &[u8], ts: u32) -> Vec<u8> {
    let mut t = Vec::with_capacity(32 + data.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[0x80, flags, 0xff, 0xff, 0, 0, 0, 0]); // 32-byte header, window 65535
    t.extend_from_slice(&[1, 1, 8, 10]);
    t.extend_from_slice(&ts.to_be_bytes());
    t.extend_from_slice(&ts.wrapping_sub(3).to_be_bytes());
    t.extend_from_slice(data);
    t
}

/// One side of a TCP conversation: its ports and the next sequence number it sends.
struct Side {
    port: u16,
    next: u32,
}

/// A TCP conversation between 127.0.0.1 and itself, written segment by segment with
/// sequence and acknowledgement numbers that follow the bytes sent (SYN and FIN count one).
struct Conv {
    client: Side,
    server: Side,
    ts: u32,
}

impl Conv {
    fn new(n: u32, server_port: u16) -> Conv {
        Conv {
            client: Side {
                port: 32768 + (n % 28000) as u16,
                next: n.wrapping_mul(2654435761),
            },
            server: Side {
                port: server_port,
                next: n.wrapping_mul(40503).wrapping_add(7),
            },
            ts: n,
        }
    }

    /// One segment from the client (`from_client`) or the server, as an Ethernet frame.
    fn segment(&mut self, from_client: bool, flags: u8, data: &[u8], id: u16) -> Vec<u8> {
        let (me, peer) = if from_client {
            (&mut self.client, &self.server)
        } else {
            (&mut self.server, &self.client)
        };
        let ack = if flags & 0x10 != 0 { peer.next } else { 0 };
        self.ts = self.ts.wrapping_add(1);
        let seg = tcp(me.port, peer.port, me.next, ack, flags, data, self.ts);
        let len = data.len() as u32 + u32::from(flags & 0x03 != 0); // SYN or FIN
        me.next = me.next.wrapping_add(len);
        ipv4([127, 0, 0, 1], [127, 0, 0, 1], 6, id, &seg)
    }

    fn open(&mut self, out: &mut Vec<Vec<u8>>, id: u16) {
        out.push(self.segment(true, 0x02, &[], id));
        out.push(self.segment(false, 0x12, &[], id));
        out.push(self.segment(true, 0x10, &[], id));
    }

    fn close(&mut self, out: &mut Vec<Vec<u8>>, id: u16) {
        out.push(self.segment(true, 0x11, &[], id));
        out.push(self.segment(false, 0x11, &[], id));
        out.push(self.segment(true, 0x10, &[], id));
    }
}

fn udp(sport: u16, dport: u16, len: usize, id: u16) -> Vec<u8> {
    let mut u = vec![0u8; 8 + len];
    u[0..2].copy_from_slice(&sport.to_be_bytes());
    u[2..4].copy_from_slice(&dport.to_be_bytes());
    u[4..6].copy_from_slice(&((8 + len) as u16).to_be_bytes());
    for (i, b) in u[8..].iter_mut().enumerate() {
        *b = b'a' + (i % 26) as u8;
    }
    ipv4([127, 0, 0, 1], [127, 0, 0, 1], 17, id, &u)
}

/// A WebSocket frame with a short text payload, masked when the client sends it.
fn ws_frame(text: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut f = vec![
        0x81,
        text.len() as u8 | if mask.is_some() { 0x80 } else { 0 },
    ];
    let start = f.len() + if mask.is_some() { 4 } else { 0 };
    if let Some(m) = mask {
        f.extend_from_slice(&m);
    }
    f.extend_from_slice(text);
    if let Some(m) = mask {
        netlab::wire::application::websocket::mask::apply_mask(&mut f[start..], m, 0);
    }
    f
}

/// One round of the mix: a bulk transfer (MSS-sized segments from the server, an ACK for
/// every second one), a WebSocket echo session (upgrade, then small text frames both
/// ways, each acknowledged), and UDP datagrams of two sizes, interleaved the way
/// concurrent connections interleave on a wire. About 150 packets.
fn round(n: u32, out: &mut Vec<Vec<u8>>) {
    use netlab::wire::application::websocket::handshake::accept_key;
    let id = (n & 0xffff) as u16;
    let mss = [0x5au8; 1448];
    let mut bulk = Conv::new(n * 2, 5001);
    let mut ws = Conv::new(n * 2 + 1, 8080);
    bulk.open(out, id);
    ws.open(out, id);
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let request = format!(
        "GET /echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    );
    out.push(ws.segment(true, 0x18, request.as_bytes(), id));
    out.push(ws.segment(false, 0x18, response.as_bytes(), id));
    for k in 0..24u32 {
        // Two MSS-sized segments and their ACK.
        out.push(bulk.segment(false, 0x10, &mss, id));
        out.push(bulk.segment(false, 0x18, &mss, id));
        out.push(bulk.segment(true, 0x10, &[], id));
        // A small message and its echo, with the ACK of the echo.
        let text = format!("message {k} of round {n}");
        let m = (n ^ k).to_be_bytes();
        out.push(ws.segment(true, 0x18, &ws_frame(text.as_bytes(), Some(m)), id));
        out.push(ws.segment(false, 0x18, &ws_frame(text.as_bytes(), None), id));
        out.push(ws.segment(true, 0x10, &[], id));
        if k % 4 == 0 {
            out.push(udp(50000 + (n % 1000) as u16, 9000, 32, id));
        } else if k % 4 == 2 {
            out.push(udp(50000 + (n % 1000) as u16, 9001, 1200, id));
        }
    }
    out.push(ws.segment(
        true,
        0x18,
        &[0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2],
        id,
    ));
    out.push(ws.segment(false, 0x18, &[0x88, 0x02, 0x03, 0xe8], id));
    bulk.close(out, id);
    ws.close(out, id);
}

/// The bench's capture: rounds of [`round`] until `packets` frames, one every 7 µs.
fn generate(path: &Path, packets: u64) {
    let file = BufWriter::new(File::create(path).unwrap());
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(file, header).unwrap();
    let mut i = 0u64;
    let mut frames = Vec::new();
    for n in 0u32.. {
        frames.clear();
        round(n, &mut frames);
        for frame in &frames {
            if i >= packets {
                return;
            }
            let ts = Duration::from_micros(1_700_000_000_000_000 + i * 7);
            w.write_packet(&PcapPacket::new(ts, frame.len() as u32, frame))
                .unwrap();
            i += 1;
        }
    }
}

/// Wall time of a shell command with stdout to /dev/null (best of `runs`).
fn time(cmd: &str, runs: u32) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        let st = Command::new("sh")
            .arg("-c")
            .arg(format!("{cmd} > /dev/null 2>&1"))
            .status()
            .unwrap();
        assert!(st.success(), "{cmd} failed");
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

/// Best wall times of `a` and `b`, run alternately `runs` times each, so a burst of load
/// from other work on the machine does not land on one side only.
fn interleaved(a: &str, b: &str, runs: u32) -> (f64, f64) {
    let (mut ta, mut tb) = (f64::MAX, f64::MAX);
    for _ in 0..runs {
        ta = ta.min(time(a, 1));
        tb = tb.min(time(b, 1));
    }
    (ta, tb)
}

/// One run of a shell command (stdout to /dev/null): wall seconds and CPU seconds
/// (user + system, from GNU time), the second less sensitive to other work on the machine.
fn wall_and_cpu(cmd: &str) -> (f64, f64) {
    let out = Command::new("/usr/bin/time")
        .args([
            "-f",
            "%e %U %S",
            "sh",
            "-c",
            &format!("{cmd} > /dev/null 2>/dev/null"),
        ])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "{cmd} failed");
    let text = String::from_utf8_lossy(&out.stderr);
    let v: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert_eq!(v.len(), 3, "GNU time said {text:?}");
    (v[0], v[1] + v[2])
}

/// Each command's best wall and best CPU time over `rounds` rounds, the commands run in
/// turn within each round.
fn rounds(cmds: &[&str], rounds: u32) -> Vec<(f64, f64)> {
    let mut best = vec![(f64::MAX, f64::MAX); cmds.len()];
    for _ in 0..rounds {
        for (c, b) in cmds.iter().zip(best.iter_mut()) {
            let (w, cpu) = wall_and_cpu(c);
            *b = (b.0.min(w), b.1.min(cpu));
        }
    }
    best
}

/// Peak resident memory (KiB) of a command, from GNU time.
fn peak_kib(cmd: &str) -> u64 {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M", "sh", "-c", &format!("{cmd} > /dev/null")])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` asks benches to list or test themselves
    }
    let netlab = env!("CARGO_BIN_EXE_netlab");
    let n: u64 = std::env::var("NETLAB_BENCH_PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/capture-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let full = dir.join(format!("mix-{n}.pcap"));
    let quarter = dir.join(format!("mix-{}.pcap", n / 4));
    if !full.exists() {
        generate(&full, n);
    }
    if !quarter.exists() {
        generate(&quarter, n / 4);
    }
    if std::env::var_os("NETLAB_BENCH_GENERATE_ONLY").is_some() {
        println!("wrote {} and {}", full.display(), quarter.display());
        return;
    }
    let f = full.display();
    println!(
        "file: {f} ({n} packets, {} MB)",
        std::fs::metadata(&full).unwrap().len() / 1_000_000
    );

    // The target names `tcpdump -n` (no address look-ups; port names still looked up);
    // `-nn` (numbers only) is shown beside it. The three run in turn, round after round.
    let best = rounds(
        &[
            &format!("{netlab} capture --read {f}"),
            &format!("TZ=UTC tcpdump -n -r {f}"),
            &format!("TZ=UTC tcpdump -nn -r {f}"),
        ],
        7,
    );
    let [(ours, ours_cpu), (theirs, theirs_cpu), (nn, nn_cpu)] = best[..] else {
        unreachable!("three commands")
    };
    let pps = |t: f64| n as f64 / t / 1000.0;
    println!(
        "one-line: netlab {ours:.2} s ({:.0}k packets/s; CPU {ours_cpu:.2} s), tcpdump -n {theirs:.2} s ({:.0}k/s; CPU {theirs_cpu:.2} s): netlab is {:.2}x faster by wall time, {:.2}x by CPU time (target >= 2x)",
        pps(ours),
        pps(theirs),
        theirs / ours,
        theirs_cpu / ours_cpu,
    );
    println!(
        "          tcpdump -nn {nn:.2} s (CPU {nn_cpu:.2} s): netlab {:.2}x by wall time, {:.2}x by CPU time",
        nn / ours,
        nn_cpu / ours_cpu
    );
    let mut missed = Vec::new();
    if theirs / ours < 2.0 {
        missed.push("one-line view under 2x tcpdump -n");
    }

    let (ours_l, theirs_l) = interleaved(
        &format!("{netlab} capture --read {f} --layers"),
        &format!("tshark -n -V -r {f}"),
        2,
    );
    println!(
        "layers: netlab --layers {ours_l:.2} s ({:.0}k packets/s), tshark -V {theirs_l:.2} s ({:.0}k/s): netlab is {:.2}x faster (target >= 10x)",
        pps(ours_l),
        pps(theirs_l),
        theirs_l / ours_l
    );
    if theirs_l / ours_l < 10.0 {
        missed.push("--layers under 10x tshark -V");
    }

    let m_full = peak_kib(&format!("{netlab} capture --read {f}"));
    let m_quarter = peak_kib(&format!("{netlab} capture --read {}", quarter.display()));
    println!(
        "memory: peak RSS {m_quarter} KiB for {} packets, {m_full} KiB for {n} packets",
        n / 4
    );

    if Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
    {
        flood(netlab);
    } else {
        println!("flood: skipped (needs root to capture)");
    }
    // A missed target is the bench's failure: say so and exit non-zero.
    if !missed.is_empty() {
        eprintln!("MISSED the target: {}", missed.join("; "));
        std::process::exit(1);
    }
}

/// A UDP flood on lo, captured by netlab and tcpdump at once; how many each missed.
fn flood(netlab: &str) {
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = rx.local_addr().unwrap().port();
    let filter = format!("udp port {port}");
    let mut dump = Command::new("tcpdump")
        .args(["-i", "lo", "-w", "/dev/null", "--immediate-mode", &filter])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let nl = Command::new(netlab)
        .args(["capture", "--quiet", "--jsonl", "--duration", "6", &filter])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2)); // both capturing (the bench may sleep; tests may not)
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (count, rate) = (200_000u64, 100_000u64); // datagrams, per second
    let start = Instant::now();
    for i in 0..count {
        let due = Duration::from_nanos(i * 1_000_000_000 / rate);
        while start.elapsed() < due {
            std::hint::spin_loop();
        }
        let _ = tx.send_to(&i.to_be_bytes(), ("127.0.0.1", port));
    }
    let out = nl.wait_with_output_limit();
    let _ = Command::new("kill")
        .args(["-INT", &dump.id().to_string()])
        .status();
    let mut err = String::new();
    use std::io::Read;
    dump.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let _ = dump.wait();
    let captured: u64 = err
        .lines()
        .find(|l| l.contains("packets captured"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let last = out.lines().last().unwrap_or("{}").to_owned();
    let summary: serde_json::Value = serde_json::from_str(&last).unwrap_or_default();
    let shown = summary["shown"].as_u64().unwrap_or(0);
    println!(
        "flood: {count} datagrams at {rate}/s on lo: netlab saw {shown} (missed {}, its queue dropped {}), tcpdump -w /dev/null captured {captured} (missed {})",
        count.saturating_sub(shown),
        summary["dropped"],
        count.saturating_sub(captured)
    );
}

trait WaitLimit {
    fn wait_with_output_limit(self) -> String;
}

impl WaitLimit for std::process::Child {
    fn wait_with_output_limit(self) -> String {
        let out = self.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
