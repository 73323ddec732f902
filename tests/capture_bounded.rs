//! Bounded memory on a hostile capture: conversations that never end, with holes that
//! are never filled and application lengths that never come true. `--follow` and
//! `--stats` must finish, say that the out-of-order bound was hit, and keep their peak
//! memory far below what buffering everything would take. The same run with the bound
//! raised to 1G shows the memory the bound saves, so the assertion can fail.

mod common;
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A TCP segment over IPv4 in an Ethernet frame, as a pcap record: `payload` is what the
/// record holds, `payload_len` what the IP total length counts (more would mean the
/// snap length cut the segment).
fn record(
    out: &mut Vec<u8>,
    src: u16,
    dst: u16,
    seq: u32,
    payload: &[u8],
    payload_len: usize,
    ts: u32,
) {
    let ip_len = 20 + 20 + payload_len;
    let mut f = Vec::with_capacity(54 + payload.len());
    f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let (a, b) = if src == 80 {
        ([10, 0, 0, 2], [10, 0, 0, 1])
    } else {
        ([10, 0, 0, 1], [10, 0, 0, 2])
    };
    // IPv4: version 4, IHL 5 | total length | id 0 | DF | TTL 64 | TCP | checksum 0
    f.extend_from_slice(&[
        0x45,
        0,
        (ip_len >> 8) as u8,
        ip_len as u8,
        0,
        0,
        0x40,
        0,
        64,
        6,
        0,
        0,
    ]);
    f.extend_from_slice(&a);
    f.extend_from_slice(&b);
    f.extend_from_slice(&src.to_be_bytes());
    f.extend_from_slice(&dst.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    // No acknowledgement number: nothing is ever acked.
    f.extend_from_slice(&0u32.to_be_bytes());
    // data offset 5 words | flags | window 65535 | checksum (not checked) | urgent
    f.extend_from_slice(&[0x50, PSH, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    out.extend_from_slice(&ts.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(f.len() as u32).to_le_bytes());
    out.extend_from_slice(&((54 + payload_len) as u32).to_le_bytes());
    out.extend_from_slice(&f);
}

/// TCP flags of every segment: PSH alone (no ACK: nothing is acknowledged).
const PSH: u8 = 0x08;

/// Two conversations that never end, interleaved, each with a one-byte hole before every
/// segment (so every segment waits for bytes that never come), nothing acknowledged:
/// 1. (client port 40000) a WebSocket upgrade; the server sends a binary frame claiming
///    2^62 bytes and then 2,000 segments of it; the client sends 120,000 segments of 20
///    bytes.
/// 2. (client port 40001) an HTTP POST claiming a 10^15-byte body, then 100,000 segments
///    of 200 bytes; its sequence numbers wrap around 2^32.
///
/// Buffering everything would hold 22 MB of data plus 220,000 segment entries.
fn hostile_capture() -> Vec<u8> {
    let mut p = Vec::with_capacity(64 << 20);
    p.extend_from_slice(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    p.extend_from_slice(&[0, 0, 4, 0, 1, 0, 0, 0]); // snap length 262144, Ethernet
    let req = b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let frame = [0x82, 0x7f, 0x40, 0, 0, 0, 0, 0, 0, 0]; // FIN, binary, 2^62 bytes
    let post = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000000\r\n\r\n";
    let (c1, s1, c2) = (1_000u32, 9_000_000u32, 4_000_000_000u32); // c2 wraps around 2^32
    record(&mut p, 40000, 80, c1, req, req.len(), 1);
    record(&mut p, 80, 40000, s1, resp, resp.len(), 1);
    record(
        &mut p,
        80,
        40000,
        s1 + resp.len() as u32,
        &frame,
        frame.len(),
        1,
    );
    record(&mut p, 40001, 80, c2, post, post.len(), 1);
    let body = [b'x'; 1000];
    let mut s = s1 + (resp.len() + frame.len()) as u32;
    let ws_next = c1 + req.len() as u32 + 1; // one byte never sent
    let http_next = c2.wrapping_add(post.len() as u32 + 1);
    let (small, data) = ([b'z'; 20], [b'y'; 200]);
    for k in 0..120_000u32 {
        let ts = 2 + k / 10_000;
        record(&mut p, 40000, 80, ws_next + k * 21, &small, 20, ts);
        if k < 100_000 {
            record(
                &mut p,
                40001,
                80,
                http_next.wrapping_add(k * 201),
                &data,
                200,
                ts,
            );
        }
        if k % 60 == 0 {
            record(&mut p, 80, 40000, s, &body, body.len(), ts);
            s += 1000;
        }
    }
    p
}

/// Run netlab with `args`, reading its peak resident memory (VmHWM, a high-water mark)
/// from /proc while it runs. Returns (exit code, stdout, stderr, peak KiB).
fn run_measured(args: &[&str]) -> (i32, String, String, u64) {
    let mut child = common::netlab_cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("netlab runs");
    let status_file = format!("/proc/{}/status", child.id());
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let mut peak = 0u64;
    let status = loop {
        // Read before checking for exit: the last reading is taken while it still runs.
        if let Ok(st) = std::fs::read_to_string(&status_file) {
            if let Some(kb) = st
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(240) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("netlab {args:?} still running after 240 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (
        status.code().unwrap_or(-1),
        o.join().unwrap(),
        e.join().unwrap(),
        peak,
    )
}

#[test]
fn a_conversation_that_never_ends_keeps_memory_bounded() {
    let path = std::env::temp_dir().join(format!("netlab-hostile-{}.pcap", std::process::id()));
    {
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&hostile_capture()).unwrap();
    }
    let file = path.to_str().unwrap();

    let (code, out, err, stats_kib) = run_measured(&[
        "--json",
        "capture",
        "--read",
        file,
        "--stats",
        "--max-stream-buffer",
        "256k",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        j["notes"]["buffer_full"].as_u64().unwrap() > 0,
        "the bound was hit: {}",
        j["notes"]
    );
    assert_eq!(j["limits"]["max_buffered"], 256 << 10);
    assert_eq!(j["conversations"].as_array().unwrap().len(), 2);
    let (code, text, err, _) = run_measured(&["capture", "--read", file, "--stats"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("out-of-order buffer was full"),
        "says so: {text}"
    );

    let (code, out, err, follow_kib) = run_measured(&[
        "--json",
        "capture",
        "--read",
        file,
        "--follow",
        "1",
        "--max-stream-buffer",
        "256k",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &j["conversation"];
    assert!(c["buffer_full"].as_u64().unwrap() > 0, "{c}");
    assert_eq!(j["limits"]["max_buffered"], 256 << 10);
    // The huge frame was described, its bytes skipped, not kept.
    let frame = j["application"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["message"]["kind"] == "web_socket_frame")
        .expect("the server's frame");
    assert_eq!(frame["message"]["payload_len"], 1u64 << 62);
    // The holes are reported as gaps as the bound forces them.
    assert!(c["gaps"].as_u64().unwrap() > 100_000, "{c}");

    // Now without a useful bound: the same capture with up to 1 GiB buffered.
    let (code, _, err, unbounded_kib) = run_measured(&[
        "--json",
        "capture",
        "--read",
        file,
        "--stats",
        "--max-stream-buffer",
        "1G",
    ]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, 0, "{err}");
    eprintln!("peak RSS: --stats {stats_kib} KiB, --follow (256k bound) {follow_kib} KiB, --stats with a 1G bound {unbounded_kib} KiB");
    // Measured on the build machine (debug build): 27.6 MB bounded, 86.8 MB with 1G.
    let bound_kib = 48 * 1024;
    assert!(stats_kib < bound_kib, "--stats peak {stats_kib} KiB");
    // --follow also keeps the followed conversation for its report: bytes and holes up
    // to its 64 MiB budget (MAX_FOLLOW_BYTES, each hole and run counted with its
    // overhead), so its bound is that budget and the buffers (measured: 53 MB).
    assert!(follow_kib < 96 * 1024, "--follow peak {follow_kib} KiB");
    assert!(
        unbounded_kib > bound_kib,
        "buffering everything ({unbounded_kib} KiB) exceeds the bound the test sets, so the test can fail"
    );
}

#[test]
fn max_stream_buffer_is_checked() {
    let file = format!(
        "{}/tests/fixtures/http-ipv4.pcap",
        env!("CARGO_MANIFEST_DIR")
    );
    for (bad, says) in [
        ("lots", "not a number of bytes"),
        ("2G", "more than 1G"),
        ("1.5M", "not a number of bytes"),
        ("5X", "not a number of bytes"),
    ] {
        let r = common::netlab(&[
            "capture",
            "--read",
            &file,
            "--stats",
            "--max-stream-buffer",
            bad,
        ]);
        assert_eq!(r.code(), 2, "{bad}: {}", r.stderr);
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
        assert!(r.stderr.contains(says), "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("hint: "), "{}", r.stderr);
    }
    let r = common::netlab(&["capture", "--read", &file, "--max-stream-buffer", "64k"]);
    assert_eq!(r.code(), 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("add --follow N or --stats"),
        "{}",
        r.stderr
    );
    let r = common::netlab(&[
        "--json",
        "capture",
        "--read",
        &file,
        "--stats",
        "--max-stream-buffer",
        "64k",
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    assert_eq!(r.json()["limits"]["max_buffered"], 65536);
}
