//! `netlab compare --capture` against tcpdump: the packets netlab counts for each
//! transport are the packets tcpdump saw on loopback, and the TCP payload on the wire
//! is exactly the bytes counted at the sockets. Needs root (skips with a reason without
//! it; fails under CI=true).

mod common;

use common::{have_root, netlab_with_limit};
use netlab::net::capture::FileSource;
use netlab::wire::dissect::dissect;
use netlab::wire::push::WireTally;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn capture_counts_agree_with_tcpdump_and_with_the_sockets() {
    if !have_root("comparing netlab's capture counts with tcpdump") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("netlab-compare-cap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("run.pcap");
    let mut tcpdump = Command::new("timeout")
        .args([
            "60",
            "tcpdump",
            "--immediate-mode",
            "-U",
            "-n",
            "-i",
            "lo",
            "-w",
        ])
        .arg(&pcap)
        .arg("tcp")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump runs");
    // tcpdump says "listening on lo" once its capture is open: wait for that line
    // (bounded: `timeout 60` ends tcpdump, which ends the stream).
    let mut err = BufReader::new(tcpdump.stderr.take().unwrap());
    let mut line = String::new();
    for _ in 0..20 {
        line.clear();
        if err.read_line(&mut line).unwrap_or(0) == 0 || line.contains("listening on") {
            break;
        }
    }
    assert!(
        line.contains("listening on"),
        "tcpdump did not start: {line}"
    );

    let run = netlab_with_limit(
        &[
            "compare",
            "--capture",
            "--json",
            "--events",
            "10",
            "--interval",
            "2",
            "--poll-interval",
            "5",
        ],
        Duration::from_secs(30),
    );
    let _ = Command::new("/bin/kill")
        .args(["-INT", &tcpdump.id().to_string()])
        .status();
    let _ = tcpdump.wait();
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let report = run.json();

    // Count tcpdump's packets per server port.
    let mut seen: HashMap<u16, WireTally> = HashMap::new();
    let mut src = FileSource::open(&pcap).expect("tcpdump wrote a pcap");
    for _ in 0..1_000_000 {
        let Some(frame) = src.next_frame() else { break };
        let Ok(frame) = frame else { break };
        let d = dissect(frame.link, frame.data);
        if let Some((a, b)) = d.ports() {
            for port in [a, b] {
                seen.entry(port).or_default().add(&d);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    for c in report["columns"].as_array().unwrap() {
        let title = c["title"].as_str().unwrap();
        let port = c["server_port"].as_u64().unwrap() as u16;
        let wire = &c["wire"];
        assert!(
            wire.is_object(),
            "{title}: no capture count: {}",
            c["wire_note"]
        );
        let theirs = seen.get(&port).copied().unwrap_or_default();
        assert_eq!(
            wire["packets"].as_u64(),
            Some(theirs.packets),
            "{title}: packets"
        );
        assert_eq!(
            wire["ip_bytes"].as_u64(),
            Some(theirs.ip_bytes),
            "{title}: IP bytes"
        );
        assert_eq!(wire["syns"].as_u64(), Some(theirs.syns), "{title}: SYNs");
        // The TCP payload on the wire is what the sockets counted, byte for byte.
        assert_eq!(wire["tcp_payload"], c["bytes"]["total"], "{title}: payload");
        // One SYN per TCP connection the clients opened.
        assert_eq!(wire["syns"], c["connections"], "{title}: handshakes");
    }
}
