//! `netlab udp ...` as a student runs it: real binary, real loopback sockets, bounded waits.

mod common;
use common::{netlab, netlab_with_limit};
use std::net::UdpSocket;
use std::time::Duration;

#[test]
fn demo_shows_boundaries_truncation_limit_refused_and_loss() {
    let v = netlab(&["udp", "demo", "--json", "--probes", "60"]).json();
    // 1. Boundaries: three sends, three receives of the same sizes.
    let b = &v["boundaries"];
    assert_eq!(b["sends"], serde_json::json!([5, 300, 1200]));
    assert_eq!(b["receives"], b["sends"]);
    assert_eq!(b["one_to_one"], true);
    // Beside it, the same writes over TCP: every byte arrives, in reads of the kernel's
    // choosing (which may happen to match; on loopback they usually merge into one).
    let c = &v["tcp_comparison"];
    assert_eq!(c["protocol"], "TCP");
    assert_eq!(c["writes"], b["sends"]);
    let read_total: u64 = c["reads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_u64().unwrap())
        .sum();
    assert_eq!(read_total, 1505, "TCP must deliver every byte: {c}");
    // 2. Truncation: 16 of 100 bytes copied, MSG_TRUNC set, real length reported.
    let t = &v["truncation"]["run"]["received"][0];
    assert_eq!(t["copied"], 16);
    assert_eq!(t["datagram_len"], 100);
    assert_eq!(t["truncated"], true);
    // 3. The limit: 65,507 goes, 65,508 is EMSGSIZE (90 on Linux).
    let s = &v["size_limit"]["run"];
    assert_eq!(s["sent"][0]["len"], 65_507);
    assert!(s["sent"][0]["error"].is_null());
    assert_eq!(s["received"][0]["datagram_len"], 65_507);
    assert_eq!(s["sent"][1]["len"], 65_508);
    assert_eq!(s["sent"][1]["errno"], 90, "{}", s["sent"][1]);
    // 4. Refused on a connected socket only.
    let r = &v["refused"];
    assert_eq!(r["connected"]["send_ok"], true);
    assert_eq!(r["connected"]["refused"], true, "{r}");
    assert_eq!(r["unconnected"]["refused"], false, "{r}");
    // 5. The receiver's loss is the relay's.
    let l = &v["loss"];
    assert_eq!(l["sent"], 60);
    assert_eq!(l["receiver"]["lost"], l["relay_dropped"]);
    assert!(l["relay_dropped"].as_u64().unwrap() > 0);
}

#[test]
fn demo_human_output_explains() {
    let r = netlab(&["udp", "demo", "--probes", "20"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    for needle in [
        "exactly one recv_from",
        "MSG_TRUNC",
        "EMSGSIZE",
        "65507",
        "ICMP",
        "Connection refused",
        "TCP (byte stream)",
    ] {
        assert!(r.stdout.contains(needle), "missing {needle}:\n{}", r.stdout);
    }
}

/// A socket that receives but never answers: no reply, and no ICMP error either.
fn mute_peer() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

#[test]
fn send_says_plainly_when_no_reply_came() {
    let peer = mute_peer();
    let to = peer.local_addr().unwrap().to_string();
    let r = netlab(&["udp", "send", &to, "hi", "--wait-ms", "200", "--json"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(
        (v["sent"].as_u64(), v["replies"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(v["refused"], false);
    assert!(v["verdict"]
        .as_str()
        .unwrap()
        .contains("silence is a legal answer"));
    // The datagram did arrive: 20-byte header + "hi", then the 20-byte END.
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 100];
    assert_eq!(peer.recv(&mut buf).unwrap(), 22);
    assert_eq!(&buf[..2], b"NL");
    assert_eq!(&buf[20..22], b"hi");
}

#[test]
fn send_to_a_closed_port_is_refused_and_explained() {
    let dead = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().to_string()
    };
    let r = netlab(&["udp", "send", &dead, "--wait-ms", "2000"]);
    // The lesson is the ICMP error: reported, and the exit code says it failed.
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert!(r.stdout.contains("port unreachable"), "{}", r.stdout);
    assert!(
        r.stderr.starts_with("error: ") && r.stderr.contains("ICMP port unreachable"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint: start a listener"), "{}", r.stderr);
    let r = netlab(&["udp", "send", &dead, "--json", "--wait-ms", "2000"]);
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert_eq!(r.json()["refused"], true);
}

#[test]
fn echo_listener_serves_several_senders_at_once() {
    // Start the listener on a kernel-chosen port and read its address from the first line.
    use std::io::{BufRead, BufReader};
    let mut child = common::netlab_cmd()
        .args([
            "udp",
            "listen",
            "--port",
            "0",
            "--echo",
            "--count",
            "7",
            "--seconds",
            "20",
            "--jsonl",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["event"], "listening");
    let addr = first["addr"].as_str().unwrap().to_owned();
    // Two netlab senders and one plain socket, interleaved.
    let a = netlab(&["udp", "send", &addr, "from-a", "-n", "3", "--json"]).json();
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    stranger.send_to(b"NL\x01", &addr).unwrap(); // starts like a probe, but too short
    let b = netlab(&["udp", "send", &addr, "from-b", "-n", "2", "--json"]).json();
    stranger.send_to(b"plain \xff bytes", &addr).unwrap();
    assert_eq!(a["replies"], 3, "{a}");
    assert_eq!(b["replies"], 2, "{b}");
    // The round trips are the replies' own: each reply's rtt_ms is its arrival minus its
    // probe's send time (both on the sender's clock), and min and max are theirs.
    let events = a["events"].as_array().unwrap();
    let sent_at = |seq: &serde_json::Value| {
        events
            .iter()
            .find(|e| e["event"] == "sent" && &e["seq"] == seq)
            .and_then(|e| e["at_ms"].as_f64())
            .unwrap_or_else(|| panic!("no probe {seq} sent: {a}"))
    };
    let rtts: Vec<f64> = events
        .iter()
        .filter(|e| e["event"] == "reply")
        .map(|e| {
            let rtt = e["rtt_ms"].as_f64().unwrap();
            let between = e["at_ms"].as_f64().unwrap() - sent_at(&e["seq"]);
            assert!(rtt > 0.0 && (rtt - between).abs() < 0.01, "{e} in {a}");
            rtt
        })
        .collect();
    assert_eq!(rtts.len(), 3, "{a}");
    let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rtts.iter().copied().fold(0.0, f64::max);
    assert_eq!(a["rtt_min_ms"].as_f64(), Some(min), "{a}");
    assert_eq!(a["rtt_max_ms"].as_f64(), Some(max), "{a}");
    let rest: Vec<serde_json::Value> = lines
        .take(100)
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    let status = child.wait().unwrap();
    assert!(status.success());
    let report = rest.last().unwrap();
    assert_eq!(report["peers"], 3, "{report}");
    assert_eq!(report["streams"].as_array().unwrap().len(), 2);
    assert_eq!(report["raw"][0]["datagrams"], 2, "{report}");
    let raw: Vec<&serde_json::Value> = rest
        .iter()
        .filter(|e| e["event"] == "datagram" && !e["raw"].is_null())
        .collect();
    assert_eq!(raw.len(), 2);
    assert_eq!(raw[1]["raw"]["preview"], "plain \\xff bytes");
    assert!(raw[0]["raw"]["why_not_probe"]
        .as_str()
        .unwrap()
        .contains("truncated"));
}

#[test]
fn bench_counts_every_datagram() {
    let r = netlab_with_limit(
        &[
            "udp",
            "bench",
            "--seconds",
            "0.3",
            "--size",
            "200",
            "--rate",
            "20000",
            "--json",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let v = r.json();
    let sent = v["sent"].as_u64().unwrap();
    let (received, lost, dup) = (
        v["received"].as_u64().unwrap(),
        v["lost"].as_u64().unwrap(),
        v["duplicates"].as_u64().unwrap(),
    );
    assert!(sent > 1000, "{v}");
    assert_eq!(
        received - dup + lost,
        sent,
        "every sequence number accounted for: {v}"
    );
    // That sum holds by construction (lost = sent - distinct received). The check that
    // can fail: on loopback a datagram is lost only when the kernel drops it at the
    // receiver's full socket buffer, and the kernel counts those itself (per socket,
    // so other tests' traffic cannot add to it). A receiver that miscounted would
    // report losses the kernel never saw.
    let drops = v["socket_drops"].as_u64();
    if cfg!(target_os = "linux") {
        let drops = drops.unwrap_or_else(|| panic!("Linux has /proc/net/udp: {v}"));
        assert!(
            lost <= drops,
            "netlab says {lost} lost but the kernel dropped {drops} at the receiver: {v}"
        );
        assert!(
            received - dup + drops >= sent,
            "datagrams missing that the kernel did not drop: {v}"
        );
    }
}

#[test]
fn errors_are_lessons_not_panics() {
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &[
                "udp",
                "relay",
                "--listen",
                "127.0.0.1:0",
                "--to",
                "127.0.0.1:9",
                "--loss",
                "101",
            ],
            2,
            "0 to 100",
        ),
        (
            &[
                "udp",
                "relay",
                "--listen",
                "127.0.0.1:0",
                "--to",
                "127.0.0.1:9",
                "--dup=-5",
            ],
            2,
            "0 to 100",
        ),
        (
            &["udp", "send", "127.0.0.1:9", "--size", "65508"],
            2,
            "65,507",
        ),
        (&["udp", "send", "[::1]:9", "--size", "65528"], 2, "65,527"),
        (&["udp", "send", "127.0.0.1"], 2, "HOST:PORT"),
        (&["udp", "send", "no-such-host.invalid:9"], 1, "hint:"),
        (&["udp", "bench", "--size", "10"], 2, "header"),
        (&["udp", "listen", "--seconds", "0"], 2, "seconds"),
    ];
    for (args, code, needle) in cases {
        let r = netlab(args);
        assert_eq!(r.code(), *code, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn port_in_use_is_a_clear_error() {
    let holder = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let r = netlab(&["udp", "listen", "--port", &port, "--seconds", "1"]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr.contains("Address already in use"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
}

#[test]
fn ipv6_loopback_works_too() {
    if UdpSocket::bind("[::1]:0").is_err() {
        // The machine's configuration, not a missing tool: said on the terminal, and a
        // failure under CI, whose machine must offer what the lab teaches (--ipv6).
        common::skip(
            "this machine has no IPv6 loopback (sysctl net.ipv6.conf.lo.disable_ipv6=0 gives it one)",
        );
        return;
    }
    let peer = UdpSocket::bind("[::1]:0").unwrap();
    let to = peer.local_addr().unwrap().to_string();
    let v = netlab(&["udp", "send", &to, "six", "--wait-ms", "100", "--json"]).json();
    assert_eq!(v["sent"], 1);
    assert!(v["from"].as_str().unwrap().starts_with("[::1]"), "{v}");
}

#[test]
fn the_demo_loses_the_same_datagrams_for_the_same_seed() {
    let run = |seed: &str| {
        let v = netlab(&["udp", "demo", "--json", "--probes", "100", "--seed", seed]).json();
        (
            v["loss"]["relay_dropped"].as_u64().unwrap(),
            v["loss"]["receiver"]["lost"].as_u64().unwrap(),
        )
    };
    let a = run("5");
    assert_eq!(a.0, a.1, "receiver and relay agree");
    assert_eq!(a, run("5"), "an instructor's run and a student's agree");
}

/// `udp send ADDR MESSAGE` puts netlab's probe header before MESSAGE; the listener shows
/// the message as well as the sequence number, without `--raw`.
#[test]
fn the_listener_shows_what_a_probe_says() {
    use common::Background;
    let args: Vec<String> = ["udp", "listen", "--port", "0", "--seconds", "10"]
        .map(String::from)
        .to_vec();
    let (mut l, first) = Background::start(&args);
    let addr = first["addr"].as_str().unwrap().to_owned();
    let r = netlab(&["udp", "send", &addr, "hello there", "--wait-ms", "100"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let got = l.wait_for(
        |e| e["event"] == "datagram" && e["probe"].is_object(),
        std::time::Duration::from_secs(10),
    );
    let events = l.stop();
    assert!(got, "{events:?}");
    let d = events.iter().find(|e| e["event"] == "datagram").unwrap();
    assert_eq!(d["message"], "hello there", "{d}");
}

/// Bound to 0.0.0.0 the listener names addresses a sender can use (127.0.0.1 first) and
/// says the port is open to the network; it never suggests 0.0.0.0 as a destination.
#[test]
fn listening_on_every_address_lists_the_real_ones() {
    let r = netlab(&[
        "udp",
        "listen",
        "--bind",
        "0.0.0.0",
        "--port",
        "0",
        "--seconds",
        "0.2",
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("Try: netlab udp send 127.0.0.1:"), "{all}");
    assert!(all.contains("reachable from the network"), "{all}");
    assert!(!all.contains("send 0.0.0.0"), "{all}");
}
