//! Capture speed, measured against named peers in the same run (not a test):
//!
//! ```sh
//! cargo bench --bench capture            # all of it (needs tcpdump, tshark, hyperfine; root for the flood)
//! NETLAB_BENCH_PACKETS=200000 cargo bench --bench capture   # a smaller file
//! ```
//!
//! 1. Generates a pcap of loopback traffic (default 1,000,000 packets: TCP conversations
//!    with handshakes, data, ACKs and teardowns, and UDP datagrams) in `target/`.
//! 2. One-line decoding: `netlab capture --read F` vs `TZ=UTC tcpdump -nn -r F`.
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
    t.extend_from_slice(&[0x80, flags, 0x02, 0x00, 0, 0, 0, 0]); // 32-byte header, window 512
    t.extend_from_slice(&[1, 1, 8, 10]);
    t.extend_from_slice(&ts.to_be_bytes());
    t.extend_from_slice(&ts.wrapping_sub(3).to_be_bytes());
    t.extend_from_slice(data);
    t
}

/// Loopback-like traffic: TCP conversations of 50 packets (handshake, requests and ACKs,
/// FIN from each side, last ACK) with a UDP datagram in place of every 10th segment.
fn generate(path: &Path, packets: u64) {
    let file = BufWriter::new(File::create(path).unwrap());
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(file, header).unwrap();
    let lo = [127, 0, 0, 1];
    let body = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let mut i = 0u64;
    let mut conv = 0u32;
    while i < packets {
        let (c, s) = (40000 + (conv % 20000) as u16, 8000u16);
        let (isn_c, isn_s) = (
            conv.wrapping_mul(2654435761),
            conv.wrapping_mul(40503).wrapping_add(7),
        );
        for k in 0..50u32 {
            if i >= packets {
                break;
            }
            let ts = Duration::from_micros(1_700_000_000_000_000 + i * 7);
            let frame = if k % 10 == 9 && k != 49 {
                let mut u = vec![0u8; 8];
                u[0..2].copy_from_slice(&(50000 + (k as u16)).to_be_bytes());
                u[2..4].copy_from_slice(&9000u16.to_be_bytes());
                u[4..6].copy_from_slice(&(8 + 12u16).to_be_bytes());
                u.extend_from_slice(b"hello, world");
                ipv4(lo, lo, 17, 0, &u)
            } else {
                let (from_client, flags, data): (bool, u8, &[u8]) = match k {
                    0 => (true, 0x02, &[]),
                    1 => (false, 0x12, &[]),
                    2 => (true, 0x10, &[]),
                    47 => (true, 0x11, &[]),
                    48 => (false, 0x11, &[]),
                    49 => (true, 0x10, &[]),
                    _ if k % 2 == 1 => (true, 0x18, &body[..]),
                    _ => (false, 0x10, &[]),
                };
                // Sequence numbers as a real stack writes them: each side's next byte
                // follows its last (the client's requests went out in the odd slots
                // before this one; SYN and FIN take one number each), so the stream has
                // no holes and the ACKs acknowledge what was sent.
                let sent = (3..k).filter(|j| j % 2 == 1 && j % 10 != 9).count() as u32;
                let step = sent * body.len() as u32;
                let (sp, dp, seq, ack) = if from_client {
                    let seq = match k {
                        0 => isn_c,
                        49 => isn_c.wrapping_add(2 + step),
                        _ => isn_c.wrapping_add(1 + step),
                    };
                    (c, s, seq, isn_s.wrapping_add(if k == 49 { 2 } else { 1 }))
                } else {
                    (
                        s,
                        c,
                        isn_s.wrapping_add(if k == 1 { 0 } else { 1 }),
                        isn_c.wrapping_add(1 + step + u32::from(k == 48)),
                    )
                };
                let seg = tcp(sp, dp, seq, if k == 0 { 0 } else { ack }, flags, data, k);
                ipv4(lo, lo, 6, (i & 0xffff) as u16, &seg)
            };
            w.write_packet(&PcapPacket::new(ts, frame.len() as u32, &frame))
                .unwrap();
            i += 1;
        }
        conv += 1;
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
    let full = dir.join(format!("lo-{n}.pcap"));
    let quarter = dir.join(format!("lo-{}.pcap", n / 4));
    if !full.exists() {
        generate(&full, n);
    }
    if !quarter.exists() {
        generate(&quarter, n / 4);
    }
    let f = full.display();
    println!(
        "file: {f} ({n} packets, {} MB)",
        std::fs::metadata(&full).unwrap().len() / 1_000_000
    );

    let (ours, theirs) = interleaved(
        &format!("{netlab} capture --read {f}"),
        &format!("TZ=UTC tcpdump -nn -r {f}"),
        5,
    );
    println!("one-line: netlab {ours:.2} s, tcpdump -nn {theirs:.2} s: netlab is {:.1}x faster (target >= 2x)", theirs / ours);
    let mut missed = Vec::new();
    if theirs / ours < 2.0 {
        missed.push("one-line view under 2x tcpdump -nn");
    }

    let (ours_l, theirs_l) = interleaved(
        &format!("{netlab} capture --read {f} --layers"),
        &format!("tshark -n -V -r {f}"),
        2,
    );
    println!("layers: netlab --layers {ours_l:.2} s, tshark -V {theirs_l:.2} s: netlab is {:.1}x faster (target >= 10x)", theirs_l / ours_l);
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
