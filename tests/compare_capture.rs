//! `netlab compare --capture` against tcpdump: the packets netlab counts for each
//! transport are the packets tcpdump saw on loopback, and the TCP payload on the wire
//! is exactly the bytes counted at the sockets. Needs root (skips with a reason without
//! it; fails under CI=true).

mod common;

use common::{have_root, have_tool, netlab_with_limit};
use netlab::net::capture::FileSource;
use netlab::wire::application::push::WireTally;
use netlab::wire::dissect::dissect;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn capture_counts_agree_with_tcpdump_and_with_the_sockets() {
    if !have_root("comparing netlab's capture counts with tcpdump")
        || !have_tool("tcpdump")
        || !have_tool("timeout")
        || !have_tool("/bin/kill")
    {
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

/// Run netlab as the user nobody (no CAP_NET_RAW), killed after `limit_s` seconds
/// (`timeout` exits with 124 then).
fn netlab_unprivileged(args: &[&str], limit_s: u32) -> (i32, String, String) {
    let out = Command::new("timeout")
        .arg(limit_s.to_string())
        .args([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_netlab"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("timeout (coreutils) and setpriv (util-linux) run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn capture_is_automatic_with_privilege_and_said_not_counted_without() {
    if !have_root("comparing runs with and without capture privilege")
        || !have_tool("setpriv")
        || !have_tool("timeout")
    {
        return;
    }
    let small = ["--events", "3", "--interval", "1", "--only", "sse,ws"];
    let with = |extra: &[&'static str]| {
        let mut a = vec!["compare", "--json"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&small);
        a
    };
    // Privileged, no flag: every run is captured.
    let run = netlab_with_limit(&with(&[]), Duration::from_secs(30));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let v = run.json();
    assert!(
        v["tcpip_overhead"]
            .as_str()
            .unwrap()
            .starts_with("counted from a capture"),
        "{}",
        v["tcpip_overhead"]
    );
    for c in v["columns"].as_array().unwrap() {
        assert!(c["wire"]["packets"].as_u64().unwrap() > 0, "{c}");
    }
    // --no-capture turns it off, and says so.
    let run = netlab_with_limit(&with(&["--no-capture"]), Duration::from_secs(30));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let v = run.json();
    for c in v["columns"].as_array().unwrap() {
        assert!(c["wire"].is_null(), "{c}");
    }
    assert!(v["tcpip_overhead"]
        .as_str()
        .unwrap()
        .starts_with("not counted (capture turned off with --no-capture)"));

    // Unprivileged: everything else is measured, TCP/IP overhead is "not counted".
    let (code, stdout, stderr) = netlab_unprivileged(&with(&[]), 30);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    for c in v["columns"].as_array().unwrap() {
        assert!(c["wire"].is_null(), "{c}");
        assert_eq!(c["delivered"], 3, "{c}");
    }
    let note = v["tcpip_overhead"].as_str().unwrap();
    assert!(
        note.starts_with("not counted (netlab may not capture here")
            && note.contains("CAP_NET_RAW"),
        "{note}"
    );
    let table: Vec<&str> = std::iter::once("compare").chain(small).collect();
    let (code, stdout, stderr) = netlab_unprivileged(&table, 30);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("TCP/IP overhead: not counted (netlab may not capture here"),
        "{stdout}"
    );
    assert!(stdout.contains("not counted"), "{stdout}");
    // --capture requires the capture: a clear error before anything runs.
    let (code, _, stderr) = netlab_unprivileged(&["compare", "--capture"], 30);
    assert_eq!(code, 1, "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines[0].starts_with("error: --capture: "), "{stderr}");
    assert!(
        lines[1].starts_with("hint:") && lines[1].contains("CAP_NET_RAW"),
        "{stderr}"
    );
}

/// The default comparison with capture (as root) and without (as nobody). How long each
/// takes is held to 10 s by benches/compare-default.sh; the limits here only stop a hang.
#[test]
fn the_default_comparison_runs_with_and_without_capture() {
    if !have_root("the default comparison with capture, then as nobody")
        || !have_tool("setpriv")
        || !have_tool("timeout")
    {
        return;
    }
    let run = netlab_with_limit(&["compare", "--json"], Duration::from_secs(60));
    assert_eq!(run.code(), 0, "{}", run.stderr);
    for c in run.json()["columns"].as_array().unwrap() {
        assert!(c["wire"].is_object(), "captured: {c}");
    }
    let (code, stdout, stderr) = netlab_unprivileged(&["compare", "--json"], 60);
    assert_ne!(code, 124, "the unprivileged default run hung (over 60 s)");
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    for c in v["columns"].as_array().unwrap() {
        assert_eq!(c["lost"], 0, "{c}");
    }
}
