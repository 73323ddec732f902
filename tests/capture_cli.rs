//! `netlab capture --read`: the views, the JSON, filters, and what happens with damaged
//! or unsupported files. No privilege needed.

mod common;
use common::netlab;
use std::path::PathBuf;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("netlab-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn one_line_view_marks_the_handshake_with_relative_numbers() {
    let r = netlab(&["capture", "--read", &fixture("http-ipv4.pcap")]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].contains("[SYN] seq 0 ") && lines[0].contains("handshake 1/3: SYN"),
        "{}",
        r.stdout
    );
    assert!(
        lines[1].contains("[SYN ACK] seq 0 ack 1 ") && lines[1].contains("handshake 2/3"),
        "{}",
        r.stdout
    );
    assert!(
        lines[2].contains("[ACK] seq 1 ack 1 ") && lines[2].contains("handshake 3/3"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("teardown: FIN"));
    assert!(
        r.stdout.contains("12 packets shown of 12 frames"),
        "{}",
        r.stdout
    );
}

#[test]
fn json_carries_the_full_dissection() {
    let v = netlab(&["capture", "--read", &fixture("udp-exchange.pcap"), "--json"]).json();
    let packets = v["packets"].as_array().unwrap();
    assert_eq!(packets.len(), 8);
    let first = &packets[0];
    let layers = first["layers"].as_array().unwrap();
    let names: Vec<&str> = layers
        .iter()
        .map(|l| l["protocol"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ethernet", "ipv4", "udp"]);
    assert_eq!(layers[2]["osi_layer"], 4);
    assert_eq!(layers[2]["tcpip"], "Transport");
    assert_eq!(layers[2]["pdu"], "datagram");
    assert_eq!(layers[1]["header"]["start"], 14);
    let len = layers[2]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "length")
        .unwrap();
    assert!(
        len["value"]
            .as_str()
            .unwrap()
            .starts_with("13 (8 header + 5 data)"),
        "{len}"
    );
    // The ICMP error quotes the datagram that caused it.
    let last = packets.last().unwrap()["layers"].as_array().unwrap();
    assert!(last
        .iter()
        .any(|l| l["quoted"] == true && l["protocol"] == "udp"));
}

#[test]
fn jsonl_streams_one_object_per_packet_then_the_summary() {
    let r = netlab(&[
        "capture",
        "--read",
        &fixture("http-ipv6.pcap"),
        "--jsonl",
        "--count",
        "3",
    ]);
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["network"], "ipv6");
    assert_eq!(lines[0]["tcp"]["step"], "syn");
    assert_eq!(lines[3]["shown"], 3);
}

#[test]
fn filters_select_packets_and_bad_ones_point_at_the_word() {
    let v = netlab(&[
        "capture",
        "--read",
        &fixture("arp-icmp-netns.pcap"),
        "--json",
        "arp",
    ])
    .json();
    assert_eq!(v["shown"], 2);
    let v = netlab(&[
        "capture",
        "--read",
        &fixture("arp-icmp-netns.pcap"),
        "--json",
        "icmp",
        "and",
        "not",
        "(",
        "src",
        "host",
        "10.199.0.2",
        ")",
    ])
    .json();
    assert_eq!(v["shown"], 2, "the two echo requests");
    let v = netlab(&[
        "capture",
        "--read",
        &fixture("udp-exchange.pcap"),
        "--json",
        "udp dst port 19091",
    ])
    .json();
    assert_eq!(v["shown"], 1);
    let r = netlab(&[
        "capture",
        "--read",
        &fixture("udp-exchange.pcap"),
        "udp",
        "and",
        "prot",
        "5",
    ]);
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr.contains("`prot`")
            && r.stderr
                .contains("      udp and prot 5\n              ^^^^"),
        "{}",
        r.stderr
    );
}

#[test]
fn layer_tree_osi_view_and_hexdump() {
    let r = netlab(&[
        "capture",
        "--read",
        &fixture("udp-exchange.pcap"),
        "--count",
        "1",
        "--layers",
        "--osi",
        "--hex",
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    for needle in [
        "L2 Data link",
        "TCP/IP Link",
        "frame",
        "L3 Network",
        "TCP/IP Internet",
        "packet",
        "L4 Transport",
        "datagram",
        "7 Application",
        "5 Session",
        "1 Physical",
        "not captured",
        "RFC 1122",
        "Ethernet II frame [ IPv4 packet [ UDP datagram [ 5 bytes of data ] ] ]",
        "ttl = 64",
        "\"hello\"",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?}:\n{}",
            r.stdout
        );
    }
    let c = netlab(&[
        "--color",
        "always",
        "capture",
        "--read",
        &fixture("udp-exchange.pcap"),
        "--count",
        "1",
        "--hex",
    ]);
    assert!(
        c.stdout.contains("\x1b[32m"),
        "layer colours with --color always"
    );
}

#[test]
fn every_supported_file_kind_reads() {
    for (f, link, n) in [
        ("udp-exchange-nsec.pcap", "ethernet", 8),
        ("udp-exchange-bigendian.pcap", "ethernet", 8),
        ("udp-exchange-rawip.pcap", "raw", 8),
        ("udp-exchange-null.pcap", "null", 8),
        ("any-sll2.pcap", "linux_sll2", 11),
        ("two-interfaces.pcapng", "ethernet", 23),
    ] {
        let v = netlab(&["capture", "--read", &fixture(f), "--json"]).json();
        assert_eq!(v["shown"], n, "{f}");
        assert_eq!(v["link"], link, "{f}");
        assert!(
            v["packets"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["stopped"].is_null()),
            "{f} decodes to the end"
        );
    }
    // The nanosecond file keeps the same times as the microsecond one.
    let a = netlab(&["capture", "--read", &fixture("udp-exchange.pcap"), "--json"]).json();
    let b = netlab(&[
        "capture",
        "--read",
        &fixture("udp-exchange-nsec.pcap"),
        "--json",
    ])
    .json();
    assert_eq!(a["packets"][7]["ts_us"], b["packets"][7]["ts_us"]);
    // pcapng with two interfaces: the second interface's packets are Linux cooked.
    let v = netlab(&[
        "capture",
        "--read",
        &fixture("two-interfaces.pcapng"),
        "--json",
    ])
    .json();
    let links: std::collections::BTreeSet<String> = v["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["link"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(links.len(), 2, "{links:?}");
}

#[test]
fn truncated_last_record_is_reported_after_every_complete_one_with_exit_code_3() {
    let r = netlab(&["capture", "--read", &fixture("http-ipv4-truncated.pcap")]);
    assert_eq!(r.code(), 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("is truncated") && r.stderr.contains("record 12"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("11 packets shown") && r.stdout.contains("record 12 is truncated"),
        "{}",
        r.stdout
    );
}

#[test]
fn corrupt_record_is_an_error_naming_file_and_record_after_the_good_packets() {
    let mut bytes = std::fs::read(fixture("udp-exchange.pcap")).unwrap();
    // Record 3's header: walk two records, then claim 1 GB of captured bytes.
    let mut at = 24;
    for _ in 0..2 {
        let incl = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + incl;
    }
    bytes[at + 8..at + 12].copy_from_slice(&0x4000_0000u32.to_le_bytes());
    let path = tmp("corrupt.pcap");
    std::fs::write(&path, bytes).unwrap();
    let r = netlab(&["capture", "--read", path.to_str().unwrap()]);
    assert_eq!(r.code(), 1);
    assert!(r.stdout.contains("2 packets shown"), "{}", r.stdout);
    assert!(
        r.stderr.contains("corrupt.pcap") && r.stderr.contains("record 3"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
}

#[test]
fn unsupported_link_type_and_non_capture_files_are_clear_errors() {
    let mut bytes = std::fs::read(fixture("udp-exchange.pcap")).unwrap();
    bytes[20..24].copy_from_slice(&147u32.to_le_bytes()); // LINKTYPE_USER0
    let path = tmp("user0.pcap");
    std::fs::write(&path, bytes).unwrap();
    let r = netlab(&["capture", "--read", path.to_str().unwrap()]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr.contains("user0.pcap")
            && r.stderr.contains("record 1")
            && r.stderr.contains("link type 147"),
        "{}",
        r.stderr
    );
    let r = netlab(&[
        "capture",
        "--read",
        concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
    ]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr.contains("not a pcap or pcapng file"),
        "{}",
        r.stderr
    );
    let r = netlab(&["capture", "--read", "/no/such/file.pcap"]);
    assert_eq!(r.code(), 1);
}

#[test]
fn write_produces_a_pcap_that_tshark_and_tcpdump_open() {
    let out = tmp("written.pcap");
    let r = netlab(&[
        "capture",
        "--read",
        &fixture("http-ipv6.pcap"),
        "--write",
        out.to_str().unwrap(),
        "tcp",
        "port",
        "18081",
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    for tool in [&["tshark", "-r"][..], &["tcpdump", "-r"]] {
        let Ok(o) = std::process::Command::new(tool[0])
            .args(&tool[1..])
            .arg(&out)
            .output()
        else {
            common::skip(&format!("{} is not installed", tool[0]));
            continue;
        };
        assert!(
            o.status.success(),
            "{}: {}",
            tool[0],
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).lines().count(),
            12,
            "{}",
            tool[0]
        );
    }
    // And netlab reads back the same bytes it read.
    let a = netlab(&["capture", "--read", &fixture("http-ipv6.pcap"), "--json"]).json();
    let b = netlab(&["capture", "--read", out.to_str().unwrap(), "--json"]).json();
    assert_eq!(a["packets"], b["packets"]);
}

#[test]
fn dissect_never_panics_on_any_prefix_of_any_fixture_frame() {
    use netlab::net::capture::FileSource;
    use netlab::wire::dissect::dissect;
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut frames = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("pcap" | "pcapng")
        ) {
            continue;
        }
        let mut src = FileSource::open(&path).unwrap();
        while let Some(Ok(f)) = src.next_frame() {
            frames += 1;
            for n in 0..=f.data.len() {
                let d = dissect(f.link, &f.data[..n]);
                for l in &d.layers {
                    assert!(
                        l.header.end <= n,
                        "{}: a layer beyond {n} bytes",
                        path.display()
                    );
                    let _ = (l.summary(), l.fields(&f.data[..n]));
                }
            }
        }
    }
    assert!(frames > 100, "only {frames} frames");
}

#[test]
fn list_shows_loopback_with_its_addresses_and_unknown_interfaces_are_named() {
    let v = netlab(&["capture", "--list", "--json"]).json();
    let lo = v["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["loopback"] == true)
        .expect("a loopback interface");
    let addrs: Vec<&str> = lo["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        addrs.iter().any(|a| a.starts_with("127.0.0.1")),
        "{addrs:?}"
    );
    let r = netlab(&["capture", "--interface", "no-such-if0", "--count", "1"]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr.contains("no interface named `no-such-if0`")
            && r.stderr.contains("netlab capture --list"),
        "{}",
        r.stderr
    );
}

/// `--own-namespace` where the kernel refuses (simulated: this kernel allows unprivileged
/// namespaces, so a stand-in `unshare` says what a refusing kernel makes it say), and where
/// util-linux is missing. Both are one clear error with a hint, exit code 1.
#[test]
fn own_namespace_says_clearly_when_it_cannot_be_had() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("netlab-no-userns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("unshare");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

    let run = |path: &std::path::Path| {
        let out = common::netlab_cmd()
            .env("PATH", path)
            .args(["capture", "--own-namespace", "--count", "1", "--", "true"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&dir);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("error: the kernel refused to create a user and network namespace"),
        "{err}"
    );
    assert!(
        err.contains("Operation not permitted"),
        "the kernel's own words: {err}"
    );
    assert!(
        err.contains("hint:") && err.contains("sudo") && err.contains("--read"),
        "{err}"
    );
    assert_eq!(
        err.lines().count(),
        2,
        "one error line and one hint line: {err}"
    );

    std::fs::remove_file(&fake).unwrap();
    let (code, err) = run(&dir);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("could not run `unshare`"), "{err}");
    assert!(err.contains("hint:") && err.contains("util-linux"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The decoder on a frame read from a file, whole and cut where `tcpdump -s 80` cuts it:
/// TCP's length comes from the IP header, not from the bytes captured.
#[test]
fn a_segment_cut_at_the_snap_length_keeps_its_length_on_the_wire() {
    use netlab::net::capture::FileSource;
    use netlab::wire::dissect::{dissect, Dissection, LinkType};
    // Packet 10 of a real capture: curl's second request, 86 bytes of TCP payload.
    let path = fixture("http-keepalive.pcap");
    let mut src = FileSource::open(std::path::Path::new(&path)).unwrap();
    for _ in 0..9 {
        src.next_frame().unwrap().unwrap();
    }
    let frame = src.next_frame().unwrap().unwrap().data.to_vec();
    assert_eq!(frame.len(), 152);
    let tcp = |d: &Dissection| match d.tcp() {
        Some(t) => t.payload_len,
        None => panic!("no TCP in {d:?}"),
    };
    let whole = dissect(LinkType::Ethernet, &frame);
    assert_eq!((tcp(&whole), whole.payload.clone()), (86, 66..152));
    // Kept to 80 bytes (`tcpdump -s 80`): 14 payload bytes captured, 86 sent, as
    // tcpdump's `length 86` and tshark's `tcp.len` say.
    let cut = dissect(LinkType::Ethernet, &frame[..80]);
    assert_eq!((tcp(&cut), cut.payload.clone()), (86, 66..80));
}

/// A capture taken with a snap length (`tcpdump -s 80`): netlab reads every record
/// (the header's 80 bounds the bytes kept, not the packet), each TCP segment's `len`
/// is its length on the wire as tcpdump prints it, and each cut tail is a gap noted on
/// its own packet.
#[test]
fn a_capture_cut_at_a_snap_length_reads_whole_with_lengths_from_the_wire() {
    let file = fixture("http-keepalive-snaplen80.pcap");
    let r = netlab(&["capture", "--read", &file]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let ours: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.contains(" TCP "))
        .map(|l| l.split(" len ").nth(1).unwrap().split(' ').next().unwrap())
        .collect();
    if common::have_tool("tcpdump") {
        let out = std::process::Command::new("tcpdump")
            .args(["-nn", "-r", &file])
            .output()
            .unwrap();
        let theirs = String::from_utf8(out.stdout).unwrap();
        let theirs: Vec<&str> = theirs
            .lines()
            .map(|l| l.rsplit("length ").next().unwrap())
            .collect();
        assert_eq!(ours, theirs, "TCP lengths, netlab against tcpdump");
    }
    assert_eq!(ours.len(), 22, "{}", r.stdout);
    let line = |n: &str| {
        r.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{n} ")))
            .unwrap()
    };
    // Packet 10: 86 bytes sent, 14 kept (80 minus 66 bytes of headers).
    assert!(
        line("10").ends_with("len 86 [TS] [72 bytes never captured]"),
        "{}",
        line("10")
    );
    assert!(!r.stdout.contains("Previous segment"), "{}", r.stdout);
    assert!(r.stdout.contains("TCP notes: 7 gaps"), "{}", r.stdout);
}

#[test]
fn writing_where_the_file_system_refuses_gets_a_hint_about_the_file() {
    // /sys refuses new files even to root (EACCES, or EROFS where it is mounted
    // read-only). The hint used to be the generic one for "permission denied": ports
    // below 1024.
    let r = netlab(&[
        "capture",
        "--example",
        "udp-exchange",
        "-w",
        "/sys/netlab-x.pcap",
    ]);
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("could not create `/sys/netlab-x.pcap`"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("1024"), "{}", r.stderr);
    assert!(
        r.stderr.contains("its folder does not allow it"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_built_in_captures_are_listed_and_read_by_name_from_any_folder() {
    // netlab_cmd runs in a folder outside the repository: nothing here comes from it.
    let list = netlab(&["--json", "capture", "--examples"]).json();
    let names: Vec<&str> = list["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for n in [
        "tcp-handshake",
        "udp-exchange",
        "ws-demo",
        "ws-demo-reordered",
        "socketio",
        "dns",
    ] {
        assert!(names.contains(&n), "{n} not in {names:?}");
    }
    let r = netlab(&["capture", "--example", "tcp-handshake", "--count", "3"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("3 packets shown of 3 frames from example tcp-handshake (pcap)"),
        "{}",
        r.stdout
    );
    // A wrong name is a usage error that lists the right ones; an old path finds its name.
    let r = netlab(&["capture", "--example", "tcp-handshak"]);
    assert_eq!(r.code(), 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("tcp-handshake, udp-exchange"),
        "{}",
        r.stderr
    );
    let r = netlab(&[
        "capture",
        "--example",
        "labs/captures/tcp-handshake.pcap",
        "--count",
        "1",
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let r = netlab(&["capture", "--example", "dns", "--read", "x.pcap"]);
    assert_eq!(r.code(), 2, "{}", r.stderr);
    let help = netlab(&["capture", "--help"]);
    assert!(help.stdout.contains("--examples"), "{}", help.stdout);
}
