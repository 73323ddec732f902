//! Live capture on loopback (needs root or CAP_NET_RAW: runs in CI as root; skips with a
//! reason elsewhere). Known traffic is sent while netlab and tcpdump capture it; every
//! packet must be seen exactly once, decoded right, and counted as tcpdump counts it.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Start netlab capturing; returns once it says the capture is running.
fn start_netlab(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = common::netlab_cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("netlab did not start capturing within 10 s");
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["event"], "started", "{first}");
    (child, rx)
}

/// Start tcpdump writing to `file`; returns once it is listening.
fn start_tcpdump(file: &std::path::Path, filter: &str) -> Child {
    let mut child = Command::new("tcpdump")
        .args(["--immediate-mode", "-U", "-n", "-i", "lo", "-w"])
        .arg(file)
        .arg(filter)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump runs (.ci/run installs it)");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        while err.read_line(&mut line).unwrap_or(0) > 0 {
            if line.contains("listening on") {
                let _ = tx.send(());
            }
            line.clear();
        }
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("tcpdump did not start listening within 10 s");
    child
}

fn wait_with_limit(mut c: Child, limit: Duration) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s;
        }
        assert!(
            start.elapsed() < limit,
            "process still running after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Known traffic: 5 UDP datagrams to a bound socket, and one TCP connection that sends
/// "hello" and closes.
fn send_traffic(udp_to: &UdpSocket, listener: &TcpListener) {
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..5u8 {
        tx.send_to(&[b'd', i], udp_to.local_addr().unwrap())
            .unwrap();
    }
    let mut buf = [0u8; 16];
    udp_to
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    for _ in 0..5 {
        udp_to.recv_from(&mut buf).unwrap();
    }
    let mut c = TcpStream::connect_timeout(&listener.local_addr().unwrap(), Duration::from_secs(2))
        .unwrap();
    let (mut s, _) = listener.accept().unwrap();
    c.write_all(b"hello").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut got = [0u8; 5];
    s.read_exact(&mut got).unwrap();
    drop(c);
    let _ = s.read(&mut buf); // the FIN arrives
    drop(s);
}

/// The complete records in a pcap file that may still be being written.
fn count(p: &std::path::Path) -> usize {
    let Ok(mut src) = netlab::net::capture::FileSource::open(p) else {
        return 0;
    };
    let mut n = 0;
    while let Some(Ok(_)) = src.next_frame() {
        n += 1;
    }
    n
}

#[test]
fn loopback_packets_are_seen_once_and_counted_as_tcpdump_counts_them() {
    if !common::have_root("live capture on lo")
        || !common::have_tool("tcpdump")
        || !common::have_tool("kill")
    {
        return;
    }
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (up, tp) = (
        udp.local_addr().unwrap().port(),
        listener.local_addr().unwrap().port(),
    );
    let filter = format!("udp port {up} or tcp port {tp}");
    let dir = std::env::temp_dir().join(format!("netlab-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("tcpdump.pcap");
    let written = dir.join("netlab.pcap");
    let dump = start_tcpdump(&pcap, &filter);
    // No time window to race: both capture until every packet of the known traffic has
    // reached tcpdump's file and netlab's output (or 30 s pass), then both get SIGINT.
    let (nl, lines) = start_netlab(&[
        "capture",
        "--jsonl",
        "--duration",
        "120",
        "--write",
        written.to_str().unwrap(),
        &filter,
    ]);
    send_traffic(&udp, &listener);
    let mut events: Vec<serde_json::Value> = Vec::new();
    let start = std::time::Instant::now();
    // 5 datagrams, 3 handshake segments, "hello" and its ACK, two FINs and their ACKs.
    const AT_LEAST: usize = 5 + 3 + 2 + 2;
    while start.elapsed() < Duration::from_secs(30) {
        events.extend(
            lines
                .try_iter()
                .map(|l| serde_json::from_str::<serde_json::Value>(&l).unwrap()),
        );
        let seen = count(&pcap);
        if seen >= AT_LEAST && events.len() >= seen {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop_with_sigint(dump);
    let status = stop_with_sigint(nl);
    assert!(
        status.success(),
        "netlab stopped by Ctrl-C exits 0: {status:?}"
    );
    events.extend(
        lines
            .try_iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(&l).unwrap()),
    );
    let (summary, packets) = events.split_last().unwrap();
    assert!(
        summary.get("captured_len").is_none(),
        "a summary last: {summary}"
    );
    // Each UDP datagram exactly once.
    let udp_payloads: Vec<u64> = packets
        .iter()
        .filter(|p| p["protocol"] == "udp")
        .map(|p| p["layers"][2]["decoded"]["dst_port"].as_u64().unwrap())
        .collect();
    assert_eq!(
        udp_payloads,
        vec![u64::from(up); 5],
        "each datagram once: {packets:#?}"
    );
    // The TCP handshake, marked.
    let steps: Vec<&str> = packets
        .iter()
        .filter_map(|p| p["tcp"]["step"].as_str())
        .collect();
    assert!(
        steps.starts_with(&["syn", "syn_ack", "handshake_ack"]),
        "{steps:?}"
    );
    assert!(steps.contains(&"fin"), "{steps:?}");
    let data: Vec<&serde_json::Value> = packets
        .iter()
        .filter(|p| p["tcp"]["rel_seq"] == 1 && p["layers"][2]["decoded"]["payload_len"] == 5)
        .collect();
    assert_eq!(
        data.len(),
        1,
        "the 5-byte segment \"hello\" once, at relative seq 1"
    );
    // Loopback copies were removed, and counted.
    assert!(
        summary["loopback_duplicates_removed"].as_u64().unwrap() >= packets.len() as u64,
        "{summary}"
    );
    assert_eq!(summary["dropped"], 0);
    // Same count as tcpdump for the same traffic.
    assert_eq!(
        packets.len(),
        count(&pcap),
        "netlab and tcpdump disagree on the packet count"
    );
    // --write produced a pcap that tcpdump reads, with the same packets.
    let out = Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(&written)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        packets.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The largest UDP datagram over IPv4 (65,507 bytes of payload) makes a 65,549-byte frame
/// on `lo` (14 Ethernet + 20 IP + 8 UDP + 65,507). It must be captured whole: a receive
/// buffer of 64 KiB used to cut it silently and call the cut frame complete.
#[test]
fn the_largest_datagram_is_captured_whole() {
    if !common::have_root("live capture on lo") {
        return;
    }
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = rx.local_addr().unwrap().port();
    let filter = format!("udp port {port}");
    let (nl, lines) = start_netlab(&[
        "capture",
        "--jsonl",
        "--count",
        "1",
        "--duration",
        "10",
        &filter,
    ]);
    tx.send_to(&vec![0x5a; 65_507], ("127.0.0.1", port))
        .unwrap();
    assert!(wait_with_limit(nl, Duration::from_secs(15)).success());
    let packets: Vec<serde_json::Value> = lines
        .try_iter()
        .map(|l| serde_json::from_str(&l).unwrap())
        .filter(|v: &serde_json::Value| v.get("captured_len").is_some())
        .collect();
    assert_eq!(packets.len(), 1, "{packets:?}");
    assert_eq!(packets[0]["captured_len"], 65_549, "{}", packets[0]["info"]);
    assert_eq!(packets[0]["orig_len"], 65_549);
    assert!(packets[0]["stopped"].is_null(), "{}", packets[0]["stopped"]);
}

/// Stop tcpdump the way a user does (SIGINT), so it flushes its file.
fn stop_with_sigint(c: Child) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .args(["-INT", &c.id().to_string()])
        .status();
    wait_with_limit(c, Duration::from_secs(10))
}

#[test]
fn without_privilege_the_error_names_the_fixes() {
    if !common::have_root("dropping privilege to test the error") || !common::have_tool("setpriv") {
        return;
    }
    // Run netlab as nobody: no CAP_NET_RAW.
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_netlab"))
        .args(["capture", "--count", "1", "--duration", "1"])
        .env("NO_COLOR", "1")
        .output()
        .expect("setpriv (util-linux) runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines[0].starts_with("error: capturing on `lo`"), "{err}");
    assert!(
        lines[1].starts_with("hint:")
            && err.contains("sudo")
            && err.contains("setcap cap_net_raw,cap_net_admin=eip")
            && err.contains("--read"),
        "{err}"
    );
}

#[test]
fn own_namespace_captures_a_commands_traffic() {
    if !common::have_root("user namespaces (root may always create them)")
        || !common::have_tool("unshare")
        || !common::have_tool("python3")
    {
        return;
    }
    let r = common::netlab_with_limit(
        &[
            "capture",
            "--own-namespace",
            "--jsonl",
            "--",
            "python3",
            "-c",
            "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'inside', ('127.0.0.1', 9))",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let events: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let udp: Vec<&serde_json::Value> = events.iter().filter(|e| e["protocol"] == "udp").collect();
    assert_eq!(udp.len(), 1, "{}", r.stdout);
    // Nothing listens on port 9 inside the fresh namespace: the kernel answers with ICMP.
    assert!(
        events.iter().any(|e| e["protocol"] == "icmpv4"
            || e["info"].as_str().unwrap_or("").contains("unreachable")),
        "{}",
        r.stdout
    );
}

#[test]
fn own_namespace_works_for_an_unprivileged_user_or_says_why_not() {
    if !common::have_root("switching to an unprivileged user") || !common::have_tool("setpriv") {
        return;
    }
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_netlab"))
        .args([
            "capture",
            "--own-namespace",
            "--jsonl",
            "--",
            "/bin/bash",
            "-c",
            "echo hi > /dev/udp/127.0.0.1/9",
        ])
        .env("NO_COLOR", "1")
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .output()
        .expect("setpriv (util-linux) runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    if out.status.success() {
        // The kernel allows unprivileged user namespaces: nobody captured its own traffic.
        let events: Vec<serde_json::Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let udp = events.iter().filter(|e| e["protocol"] == "udp").count();
        assert_eq!(udp, 1, "{stdout}\n{stderr}");
    } else {
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("the kernel refused to create a user and network namespace"),
            "{stderr}"
        );
        assert!(
            stderr.contains("hint:") && stderr.contains("--read"),
            "{stderr}"
        );
    }
}
