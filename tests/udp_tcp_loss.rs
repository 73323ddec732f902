//! Part 5 of `netlab udp demo`, TCP's half: the same messages over TCP while nftables drops
//! segments in a network namespace of netlab's own, and what the demo says when it cannot
//! make one.

mod common;
use common::{have_root, have_tool, netlab, netlab_cmd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// A fresh directory for a fake PATH, unique to this test process and `name`.
fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("netlab-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run the demo with PATH set to `path`, bounded in time, and parse its JSON.
fn demo_with_path(path: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut c = netlab_cmd();
    c.args(["udp", "demo", "--probes", "20"])
        .args(extra)
        .env("PATH", path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let id = child.id();
    // The demo bounds itself; this is the test's own guard against a hang.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(70)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-9", &id.to_string()])
                .status();
            panic!("netlab udp demo hung with PATH={}", path.display());
        }
    };
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn tcp_delivers_every_message_under_the_loss_that_udp_suffers() {
    if !have_root("making a network namespace with an nftables drop rule")
        || !have_tool("nft")
        || !have_tool("unshare")
        || !have_tool("ip")
    {
        return;
    }
    // `sudo netlab udp demo --json`, as docs/udp.md shows it (50 probes by default).
    let v = netlab(&["udp", "demo", "--json"]).json();
    let l = &v["loss"];
    // UDP: the relay dropped some, the receiver counted them, nobody resent them.
    let dropped = l["relay_dropped"].as_u64().unwrap();
    assert!(dropped > 0, "{l}");
    assert_eq!(l["receiver"]["lost"].as_u64(), Some(dropped), "{l}");
    assert_eq!(
        l["receiver"]["received"].as_u64(),
        Some(50 - dropped),
        "{l}"
    );
    // TCP: same number of messages, every one delivered intact and in order.
    assert!(l["tcp_not_shown"].is_null(), "{}", l["tcp_not_shown"]);
    let t = &l["tcp_under_loss"];
    assert_eq!(t["messages"], 50, "{t}");
    assert_eq!(t["loss_percent"], 20, "{t}");
    let lossy = &t["lossy"];
    assert_eq!(lossy["delivered"], 50, "{lossy}");
    assert_eq!(lossy["intact_in_order"], true, "{lossy}");
    assert_eq!(lossy["bytes_received"], lossy["bytes_sent"], "{lossy}");
    // The rule really dropped segments, and the namespace's kernel retransmitted.
    assert!(lossy["dropped_by_rule"].as_u64().unwrap() >= 1, "{lossy}");
    assert!(
        lossy["counters"]["retrans_segs"].as_u64().unwrap() >= 1,
        "{lossy}"
    );
    // A retransmission timeout waits at least Linux's TCP_RTO_MIN, 200 ms, and the
    // receiver saw the end of the stream only after the retransmissions: a lower bound
    // that load can only make truer.
    let timeouts = lossy["counters"]["timeouts"].as_u64().unwrap();
    if timeouts > 0 {
        assert!(
            lossy["elapsed_ms"].as_f64().unwrap() >= 200.0,
            "{timeouts} retransmission timeouts in under 200 ms: {lossy}"
        );
    }
    // The baseline ran through no rule and delivered everything too.
    let base = &t["baseline"];
    assert_eq!(base["delivered"], 50, "{base}");
    assert!(base["dropped_by_rule"].is_null(), "{base}");
    assert!(t["rule"].as_str().unwrap().contains("hook input"), "{t}");
}

#[test]
fn the_human_demo_puts_udp_and_tcp_side_by_side() {
    if !have_root("making a network namespace with an nftables drop rule")
        || !have_tool("nft")
        || !have_tool("unshare")
        || !have_tool("ip")
    {
        return;
    }
    // `sudo netlab udp demo`, as the lab and docs/udp.md show it.
    let r = netlab(&["udp", "demo"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    for needle in [
        "UDP through the relay (20% loss)",
        "TCP through nftables (20% loss)",
        "50 of 50, intact, in order",
        "RetransSegs",
        "without loss",
    ] {
        assert!(r.stdout.contains(needle), "missing {needle}:\n{}", r.stdout);
    }
}

#[test]
fn without_a_namespace_the_demo_says_why_and_carries_on() {
    // An `unshare` that fails as it does for a user the kernel refuses.
    let dir = scratch_dir("refused");
    let fake = dir.join("unshare");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["755", fake.to_str().unwrap()])
        .status()
        .unwrap();
    let (code, out, err) = demo_with_path(&dir, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let l = &v["loss"];
    assert!(l["tcp_under_loss"].is_null(), "{l}");
    let why = &l["tcp_not_shown"];
    assert!(
        why["reason"]
            .as_str()
            .unwrap()
            .contains("Operation not permitted"),
        "{why}"
    );
    assert!(why["hint"].as_str().unwrap().contains("sudo"), "{why}");
    // The UDP half is still there.
    assert!(l["relay_dropped"].as_u64().is_some(), "{l}");

    // No unshare at all, human output: the same facts in words.
    let empty = scratch_dir("empty");
    let (code, out, err) = demo_with_path(&empty, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("TCP under the same loss: not shown"), "{out}");
    assert!(out.contains("`unshare` command"), "{out}");
    assert!(out.contains("hint: run the demo with sudo"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(empty);
}

#[test]
fn without_nft_the_namespace_is_made_but_the_demo_says_nft_is_missing() {
    if !have_root("making a network namespace") || !have_tool("unshare") || !have_tool("ip") {
        return;
    }
    // PATH with unshare, sh and ip, but no nft.
    let dir = scratch_dir("no-nft");
    for tool in ["unshare", "sh", "ip"] {
        let found = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{tool} is not installed"));
        std::os::unix::fs::symlink(found, dir.join(tool)).unwrap();
    }
    let (code, out, err) = demo_with_path(&dir, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let why = &v["loss"]["tcp_not_shown"];
    assert!(why["reason"].as_str().unwrap().contains("`nft`"), "{why}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A fresh machine as root: no nftables. Parts 1 to 4 run, part 5 says what is missing
/// and how to get it (not "run with sudo", which would not help), and the demo exits 0.
#[test]
fn as_root_without_nft_parts_1_to_4_run_and_part_5_says_how_to_get_it() {
    if !have_root("the demo as root on a machine without nft")
        || !have_tool("unshare")
        || !have_tool("ip")
    {
        return;
    }
    let path = common::path_without("no-nft-human", &["nft"]);
    let (code, out, err) = demo_with_path(&path, &[]);
    assert_eq!(code, 0, "{err}");
    for part in ["1. ", "2. ", "3. ", "4. ", "5. "] {
        assert!(out.contains(part), "no part {part}:\n{out}");
    }
    assert!(out.contains("TCP under the same loss: not shown"), "{out}");
    assert!(out.contains("`nft`"), "{out}");
    assert!(out.contains("sudo apt-get install nftables"), "{out}");
    assert!(!out.contains("run the demo with sudo"), "{out}");
    let _ = std::fs::remove_dir_all(path);
}

#[test]
fn the_hidden_command_is_hidden_and_refuses_the_hosts_namespace() {
    let help = netlab(&["udp", "--help"]);
    assert!(!help.stdout.contains("tcp-under-loss"), "{}", help.stdout);
    let dev = std::fs::read_to_string("/proc/self/net/dev").unwrap();
    let names = netlab::net::netns::interfaces(&dev);
    let r = if names.iter().any(|n| n != "lo") {
        netlab(&["udp", "tcp-under-loss", "--messages", "3"])
    } else {
        // Only lo here (a sandbox): as root, give a namespace of the test's own an
        // interface besides lo (a veth pair: the dummy module is not always there), the
        // way a host has one, and check the refusal there.
        if !have_root("adding an interface in a namespace to check the refusal")
            || !have_tool("unshare")
            || !have_tool("ip")
        {
            return;
        }
        let out = std::process::Command::new("unshare")
            .args(["-n", "sh", "-c"])
            .arg(r#"ip link add netlab-v0 type veth peer name netlab-v1 && exec "$0" udp tcp-under-loss --messages 3"#)
            .arg(env!("CARGO_BIN_EXE_netlab"))
            .output()
            .expect("unshare runs");
        common::Run {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("refusing"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
}

#[test]
fn the_hidden_command_checks_its_arguments() {
    for args in [
        &["udp", "tcp-under-loss", "--messages", "0"][..],
        &["udp", "tcp-under-loss", "--loss", "95"],
        &["udp", "tcp-under-loss", "--size", "5"],
    ] {
        let r = netlab(args);
        assert_eq!(r.code(), 2, "{args:?}: {}", r.stderr);
    }
}

#[test]
fn an_ordinary_user_gets_a_user_namespace_or_is_told_why() {
    // Drop to `nobody` (needs root to do so), as a student without sudo would run it.
    if !have_root("switching to the user nobody with setpriv") || !have_tool("setpriv") {
        return;
    }
    let mut c = std::process::Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_netlab"))
        .args(["udp", "demo", "--json", "--probes", "20"])
        .env("NO_COLOR", "1")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = rx
        .recv_timeout(Duration::from_secs(70))
        .expect("the demo as nobody finishes within 70 s")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let l = &v["loss"];
    match (
        l["tcp_under_loss"].is_object(),
        l["tcp_not_shown"].is_object(),
    ) {
        // The kernel lets users make user namespaces: measured there.
        (true, false) => {
            let t = &l["tcp_under_loss"];
            assert_eq!(t["user_namespace"], true, "{t}");
            assert_eq!(t["lossy"]["delivered"], 20, "{t}");
            assert_eq!(t["lossy"]["intact_in_order"], true, "{t}");
        }
        // It does not: the reason and the way to get it.
        (false, true) => {
            let n = &l["tcp_not_shown"];
            assert!(!n["reason"].as_str().unwrap().is_empty(), "{n}");
            assert!(n["hint"].as_str().unwrap().contains("sudo"), "{n}");
        }
        other => panic!("exactly one of tcp_under_loss and tcp_not_shown: {other:?} {l}"),
    }
}
