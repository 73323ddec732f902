//! Agreement with tshark: every fixture in `tests/fixtures/` (captured with tcpdump from
//! real programs, see its README) is decoded by netlab and by `tshark -T fields`, and
//! every field of every packet must match. A root-only test also makes a fresh ARP and
//! ICMP capture between two network namespaces and checks it the same way.

mod common;

use netlab::net::capture::FileSource;
use netlab::wire::dissect::{dissect, Dissection, LayerRepr};
use netlab::wire::internet::{icmpv6, ipv6, mld, nd};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tshark fields compared, in order.
const FIELDS: &[&str] = &[
    "ip.src",
    "ip.dst",
    "ip.proto",
    "ip.ttl",
    "ip.id",
    "ip.flags.df",
    "ip.flags.mf",
    "ip.frag_offset",
    "ip.len",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.nxt",
    "ipv6.hlim",
    "ipv6.plen",
    "ipv6.opt.type",
    "ipv6.opt.length",
    "ipv6.opt.router_alert",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.flags",
    "tcp.window_size_value",
    "tcp.len",
    "tcp.options.mss_val",
    "tcp.options.wscale.shift",
    "tcp.options.sack_perm",
    "tcp.options.timestamp.tsval",
    "tcp.options.timestamp.tsecr",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "icmp.type",
    "icmp.code",
    "icmp.mtu",
    "icmpv6.type",
    "icmpv6.code",
    "icmpv6.mtu",
    "icmpv6.nd.ns.target_address",
    "icmpv6.nd.na.target_address",
    "icmpv6.nd.rd.target_address",
    "icmpv6.nd.na.flag",
    "icmpv6.nd.ra.cur_hop_limit",
    "icmpv6.nd.ra.flag",
    "icmpv6.nd.ra.router_lifetime",
    "icmpv6.nd.ra.reachable_time",
    "icmpv6.nd.ra.retrans_timer",
    "icmpv6.opt.type",
    "icmpv6.opt.length",
    "icmpv6.opt.linkaddr",
    "icmpv6.opt.nonce",
    "icmpv6.opt.mtu",
    "icmpv6.opt.prefix",
    "icmpv6.opt.prefix.length",
    "icmpv6.opt.prefix.flag",
    "icmpv6.opt.prefix.valid_lifetime",
    "icmpv6.opt.prefix.preferred_lifetime",
    "icmpv6.mldr.nb_mcast_records",
    "icmpv6.mldr.mar.record_type",
    "icmpv6.mldr.mar.aux_data_len",
    "icmpv6.mldr.mar.nb_sources",
    "icmpv6.mldr.mar.multicast_address",
    "icmpv6.mldr.mar.source_address",
    "arp.opcode",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
    "arp.dst.hw_mac",
    "arp.dst.proto_ipv4",
    "arp.isgratuitous",
    "arp.isprobe",
    "arp.isannouncement",
];

/// tshark's reading: one map per packet, field → comma-separated occurrences.
fn tshark(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(path).args([
        "-o",
        "tcp.relative_sequence_numbers:FALSE",
        "-o",
        "ip.defragment:FALSE",
        "-o",
        "ipv6.defragment:FALSE",
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "occurrence=a",
    ]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            FIELDS
                .iter()
                .zip(line.split('\t'))
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// netlab's reading of the same packet, in tshark's vocabulary.
fn ours(d: &Dissection, frame: &[u8]) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut put = |k: &str, v: String| m.entry(k.to_owned()).or_default().push(v);
    for l in &d.layers {
        match &l.repr {
            LayerRepr::Ipv4(r) => {
                put("ip.src", r.src.to_string());
                put("ip.dst", r.dst.to_string());
                put("ip.proto", u8::from(r.protocol).to_string());
                put("ip.ttl", r.ttl.to_string());
                put("ip.id", format!("0x{:04x}", r.ident));
                put("ip.flags.df", u8::from(r.dont_frag).to_string());
                put("ip.flags.mf", u8::from(r.more_frags).to_string());
                // tshark gives the field as sent, in 8-byte units; netlab's Repr keeps bytes.
                put("ip.frag_offset", (r.frag_offset / 8).to_string());
                put("ip.len", r.total_length.to_string());
            }
            LayerRepr::Ipv6(r) => {
                put("ipv6.src", r.src.to_string());
                put("ipv6.dst", r.dst.to_string());
                put("ipv6.nxt", u8::from(r.next_header).to_string());
                put("ipv6.hlim", r.hop_limit.to_string());
                put("ipv6.plen", r.payload_len.to_string());
            }
            LayerRepr::Ipv6Ext(r) if r.fragment.is_none() && r.routing.is_none() => {
                // Hop-by-hop and destination options: each option's type, length
                // (Pad1 has none) and Router Alert's value.
                let header = &frame[l.header.clone()];
                let mut options = Vec::new();
                ipv6::walk_options(header, |o| {
                    options.push((o.kind, o.len_byte(), o.router_alert()))
                })
                .unwrap();
                for (kind, len, alert) in options {
                    put("ipv6.opt.type", format!("0x{kind:02x}"));
                    if let Some(len) = len {
                        put("ipv6.opt.length", len.to_string());
                    }
                    if let Some(v) = alert {
                        put("ipv6.opt.router_alert", v.to_string());
                    }
                }
            }
            LayerRepr::Tcp(r) => {
                put("tcp.srcport", r.src_port.to_string());
                put("tcp.dstport", r.dst_port.to_string());
                put("tcp.seq_raw", r.seq.to_string());
                put("tcp.ack_raw", r.ack.to_string());
                put("tcp.flags", format!("0x{:04x}", r.flags.0));
                put("tcp.window_size_value", r.window.to_string());
                put("tcp.len", r.payload_len.to_string());
                if let Some(v) = r.options.mss {
                    put("tcp.options.mss_val", v.to_string());
                }
                if let Some(v) = r.options.window_scale {
                    put("tcp.options.wscale.shift", v.to_string());
                }
                if r.options.sack_permitted {
                    put("tcp.options.sack_perm", "0402".into()); // tshark prints the option's bytes
                }
                if let Some((val, ecr)) = r.options.timestamps {
                    put("tcp.options.timestamp.tsval", val.to_string());
                    put("tcp.options.timestamp.tsecr", ecr.to_string());
                }
            }
            LayerRepr::Udp(r) => {
                put("udp.srcport", r.src_port.to_string());
                put("udp.dstport", r.dst_port.to_string());
                put("udp.length", r.length.to_string());
            }
            LayerRepr::Icmpv4(r) => {
                put("icmp.type", r.msg_type.to_string());
                put("icmp.code", r.code.to_string());
                if let Some(mtu) = r.next_hop_mtu {
                    put("icmp.mtu", mtu.to_string());
                }
            }
            LayerRepr::Icmpv6(r) => {
                put("icmpv6.type", r.msg_type.to_string());
                put("icmpv6.code", r.code.to_string());
                if let Some(mtu) = r.mtu {
                    put("icmpv6.mtu", mtu.to_string());
                }
                icmpv6_nd_and_mld(r, &frame[l.header.clone()], &mut put);
            }
            LayerRepr::Arp(r) => {
                put("arp.opcode", u16::from(r.operation).to_string());
                put("arp.src.hw_mac", r.sender_mac.to_string());
                put("arp.src.proto_ipv4", r.sender_ip.to_string());
                put("arp.dst.hw_mac", r.target_mac.to_string());
                put("arp.dst.proto_ipv4", r.target_ip.to_string());
                // tshark sets "is gratuitous" on announcements too (same sender and
                // target address), and shows each flag only when it is true.
                use netlab::wire::link::arp::Kind;
                if matches!(r.kind, Kind::Gratuitous | Kind::Announcement) {
                    put("arp.isgratuitous", "1".into());
                }
                if r.kind == Kind::Probe {
                    put("arp.isprobe", "1".into());
                }
                if r.kind == Kind::Announcement {
                    put("arp.isannouncement", "1".into());
                }
            }
            _ => {}
        }
    }
    m.into_iter().map(|(k, v)| (k, v.join(","))).collect()
}

/// Neighbor discovery (its fixed part and options) and MLDv2 records, as tshark names
/// them; `message` is the ICMPv6 layer's bytes.
fn icmpv6_nd_and_mld(r: &icmpv6::Repr, message: &[u8], put: &mut impl FnMut(&str, String)) {
    if let Some(t) = r.target {
        let name = match r.msg_type {
            135 => "icmpv6.nd.ns.target_address",
            136 => "icmpv6.nd.na.target_address",
            _ => "icmpv6.nd.rd.target_address",
        };
        put(name, t.to_string());
    }
    if let Some(f) = r.na_flags {
        let word =
            u32::from(f.router) << 31 | u32::from(f.solicited) << 30 | u32::from(f.override_) << 29;
        put("icmpv6.nd.na.flag", format!("0x{word:08x}"));
    }
    if let Some(ra) = r.router_advert {
        put("icmpv6.nd.ra.cur_hop_limit", ra.cur_hop_limit.to_string());
        put("icmpv6.nd.ra.flag", format!("0x{:02x}", ra.flags));
        put(
            "icmpv6.nd.ra.router_lifetime",
            ra.router_lifetime.to_string(),
        );
        put("icmpv6.nd.ra.reachable_time", ra.reachable_time.to_string());
        put("icmpv6.nd.ra.retrans_timer", ra.retrans_timer.to_string());
    }
    if let Some(start) = nd::options_start(r.msg_type) {
        let mut fields = Vec::new();
        nd::walk_options(message, start, |o| {
            fields.push(("icmpv6.opt.type", o.kind.to_string()));
            fields.push(("icmpv6.opt.length", o.units.to_string()));
            if let Some(m) = o.link_addr() {
                fields.push(("icmpv6.opt.linkaddr", m.to_string()));
            }
            if let Some(n) = o.nonce() {
                let hex: String = n.iter().map(|b| format!("{b:02x}")).collect();
                fields.push(("icmpv6.opt.nonce", hex));
            }
            if let Some(m) = o.mtu() {
                fields.push(("icmpv6.opt.mtu", m.to_string()));
            }
            if let Some(p) = o.prefix_info() {
                fields.push(("icmpv6.opt.prefix.length", p.prefix_len.to_string()));
                fields.push(("icmpv6.opt.prefix.flag", format!("0x{:02x}", p.flags)));
                fields.push((
                    "icmpv6.opt.prefix.valid_lifetime",
                    p.valid_lifetime.to_string(),
                ));
                fields.push((
                    "icmpv6.opt.prefix.preferred_lifetime",
                    p.preferred_lifetime.to_string(),
                ));
                fields.push(("icmpv6.opt.prefix", p.prefix.to_string()));
            }
        })
        .unwrap();
        for (k, v) in fields {
            put(k, v);
        }
    }
    if let Some(n) = r.mld_records {
        put("icmpv6.mldr.nb_mcast_records", n.to_string());
        let mut fields = Vec::new();
        mld::walk_records(message, |rec| {
            fields.push(("icmpv6.mldr.mar.record_type", rec.record_type.to_string()));
            fields.push(("icmpv6.mldr.mar.aux_data_len", rec.aux_words.to_string()));
            fields.push(("icmpv6.mldr.mar.nb_sources", rec.source_count().to_string()));
            fields.push(("icmpv6.mldr.mar.multicast_address", rec.group.to_string()));
            for a in rec.sources() {
                fields.push(("icmpv6.mldr.mar.source_address", a.to_string()));
            }
        })
        .unwrap();
        for (k, v) in fields {
            put(k, v);
        }
    }
}

/// Decode `path` both ways; return the number of packets compared and every mismatch.
fn compare(path: &Path) -> (usize, Vec<String>) {
    let theirs = tshark(path);
    let mut src = FileSource::open(path).unwrap();
    let mut mismatches = Vec::new();
    let mut n = 0;
    while let Some(frame) = src.next_frame() {
        let Ok(f) = frame else { break };
        let mine = ours(&dissect(f.link, f.data), f.data);
        let Some(t) = theirs.get(n) else {
            mismatches.push(format!("packet {}: tshark has no such packet", n + 1));
            break;
        };
        for k in FIELDS {
            let (a, b) = (mine.get(*k), t.get(*k));
            if a != b {
                mismatches.push(format!(
                    "{} packet {} field {k}: netlab {a:?}, tshark {b:?}",
                    path.display(),
                    n + 1
                ));
            }
        }
        n += 1;
    }
    if n != theirs.len() {
        mismatches.push(format!(
            "{}: netlab read {n} packets, tshark {}",
            path.display(),
            theirs.len()
        ));
    }
    (n, mismatches)
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .filter(|p| !p.to_string_lossy().contains("truncated"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_fixture_agrees_with_tshark_field_by_field() {
    if !common::have_tool("tshark") {
        return;
    }
    let files = fixtures();
    assert!(files.len() >= 10, "fixtures missing: {files:?}");
    let mut total = 0;
    let mut all = Vec::new();
    // Every field tshark showed on some packet: each compared field must occur, or the
    // comparison would pass for want of examples.
    let mut shown = std::collections::BTreeSet::new();
    for f in &files {
        let (n, mut m) = compare(f);
        assert!(n > 0, "{} has no packets", f.display());
        for packet in tshark(f) {
            shown.extend(packet.into_keys());
        }
        total += n;
        all.append(&mut m);
    }
    assert!(
        all.is_empty(),
        "{} mismatches over {total} packets:\n{}",
        all.len(),
        all.join("\n")
    );
    let missing: Vec<&&str> = FIELDS.iter().filter(|f| !shown.contains(**f)).collect();
    assert!(missing.is_empty(), "no fixture shows {missing:?}");
    // Every protocol the issue lists appears somewhere in the fixtures.
    let mut seen = std::collections::BTreeSet::new();
    for f in &files {
        let mut src = FileSource::open(f).unwrap();
        while let Some(Ok(fr)) = src.next_frame() {
            for l in dissect(fr.link, fr.data).layers {
                seen.insert(format!("{:?}", l.protocol));
            }
        }
    }
    for p in [
        "Arp", "Ipv4", "Ipv6", "Icmpv4", "Tcp", "Udp", "LinuxSll", "Ethernet",
    ] {
        assert!(seen.contains(p), "no {p} in the fixtures: {seen:?}");
    }
}

/// Two namespaces joined by a veth pair, made here; ARP and ICMP between them captured
/// with tcpdump; netlab and tshark must agree on every packet.
#[test]
fn fresh_arp_and_icmp_between_namespaces_agree_with_tshark() {
    if !common::have_root("creating network namespaces")
        || !["tshark", "tcpdump", "ip", "python3", "bash", "timeout"]
            .into_iter()
            .all(common::have_tool)
    {
        return;
    }
    let tag = format!("nlt{}", std::process::id() % 100_000);
    let (a, b) = (format!("{tag}a"), format!("{tag}b"));
    let dir = std::env::temp_dir().join(format!("netlab-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("ns.pcap");
    let script = format!(
        r#"set -e
cleanup() {{ ip netns del {a} 2>/dev/null || true; ip netns del {b} 2>/dev/null || true; }}
trap cleanup EXIT
ip netns add {a}; ip netns add {b}
ip link add {tag}0 netns {a} type veth peer name {tag}1 netns {b}
ip -n {a} addr add 10.198.0.1/24 dev {tag}0; ip -n {b} addr add 10.198.0.2/24 dev {tag}1
ip -n {a} link set {tag}0 up; ip -n {b} link set {tag}1 up
ip netns exec {a} timeout 20 tcpdump --immediate-mode -U -n -w {pcap} -i {tag}0 'arp or icmp or udp port 33434' 2>{dir}/err & cap=$!
for i in $(seq 100); do grep -q listening {dir}/err && break; sleep 0.05; done
ip netns exec {a} python3 -c '
import socket, struct
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); s.settimeout(3)
hdr = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"netlab!!"
s.sendto(struct.pack("!BBHHH", 8, 0, csum(hdr), 7, 1) + b"netlab!!", ("10.198.0.2", 0)); s.recvfrom(2048)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b"knock", ("10.198.0.2", 33434))
'
sleep 0.3; kill -INT $cap; wait $cap || true
"#,
        pcap = pcap.display(),
        dir = dir.display()
    );
    let st = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .status()
        .unwrap();
    assert!(st.success(), "namespace script failed");
    let (n, mismatches) = compare(&pcap);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    let mut src = FileSource::open(&pcap).unwrap();
    let mut kinds = Vec::new();
    while let Some(Ok(f)) = src.next_frame() {
        kinds.push(
            dissect(f.link, f.data)
                .top()
                .map(|l| format!("{:?}", l.protocol))
                .unwrap_or_default(),
        );
    }
    assert!(
        n >= 4,
        "expected ARP, echo request/reply, UDP and the ICMP error, got {kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "Arp"), "{kinds:?}");
    assert!(
        kinds
            .iter()
            .filter(|k| *k == "Icmpv4" || *k == "Udp")
            .count()
            >= 3,
        "{kinds:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// IP fragments put back together: for every fragment, the packet its datagram was
/// completed in (tshark's `ip.reassembled_in` / `ipv6.reassembled.in`, two passes), the
/// fragments of each datagram (`ip.fragment` / `ipv6.fragment`), and the transport
/// checksum checked over the whole datagram (`*.checksum.status`, UDP's check switched
/// on: tshark leaves it off by default).
#[test]
fn fragmented_datagrams_are_reassembled_as_tshark_does() {
    if !common::have_tool("tshark") {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut complete = 0;
    for name in ["ip-fragments-netns.pcap", "ip-fragments-lo.pcap"] {
        let file = dir.join(name);
        let out = Command::new("tshark")
            .args(["-2", "-n", "-r"])
            .arg(&file)
            .args(["-o", "udp.check_checksum:TRUE", "-T", "fields"])
            .args(["-e", "ip.reassembled_in", "-e", "ipv6.reassembled.in"])
            .args(["-e", "ip.fragment", "-e", "ipv6.fragment"])
            .args(["-e", "udp.checksum.status", "-e", "icmp.checksum.status"])
            .args(["-e", "icmpv6.checksum.status"])
            .output()
            .expect("tshark runs");
        assert!(out.status.success(), "tshark failed on {name}");
        let theirs: Vec<Vec<String>> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect();
        // netlab: "reassembled in" for each fragment, from the completing packet's list.
        let r = common::netlab(&["--jsonl", "capture", "--read", file.to_str().unwrap()]);
        assert_eq!(r.code(), 0, "{}", r.stderr);
        let packets: Vec<serde_json::Value> = r
            .stdout
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|j| j.get("number").is_some())
            .collect();
        assert_eq!(packets.len(), theirs.len(), "{name}: packets");
        let mut reassembled_in = vec![String::new(); packets.len()];
        for p in &packets {
            let re = &p["reassembly"];
            if re["kind"] != "complete" {
                continue;
            }
            complete += 1;
            let n = p["number"].as_u64().unwrap();
            let frames: Vec<String> = re["frames"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.to_string())
                .collect();
            for f in &frames {
                reassembled_in[f.parse::<usize>().unwrap() - 1] = n.to_string();
            }
            let t = &theirs[n as usize - 1];
            let their_frames = if t[2].is_empty() { &t[3] } else { &t[2] };
            assert_eq!(
                &frames.join(","),
                their_frames,
                "{name}: packet {n}: fragments"
            );
            // tshark: 0 bad, 1 good.
            let status = t[4..].iter().find(|s| !s.is_empty()).cloned();
            let ours = match re["transport"]["checksum_check"]["status"].as_str() {
                Some("correct") => "1",
                Some("incorrect") => "0",
                other => panic!("{name}: packet {n}: checksum {other:?}"),
            };
            assert_eq!(
                status.as_deref(),
                Some(ours),
                "{name}: packet {n}: checksum"
            );
        }
        for (k, t) in theirs.iter().enumerate() {
            // The completing packet names itself in neither tool.
            let theirs_in = if t[0].is_empty() { &t[1] } else { &t[0] };
            let ours = &reassembled_in[k];
            if ours != &(k + 1).to_string() {
                assert_eq!(ours, theirs_in, "{name}: packet {}: reassembled in", k + 1);
            }
        }
    }
    assert!(complete >= 6, "only {complete} datagrams reassembled");
}

/// Capture times, to the digit the file kept: for every fixture, each packet's time in
/// nanoseconds equals tshark's `frame.time_epoch`, and the one-line view's time of day
/// has the digits tshark's time column shows (`-t ud`: 6 for a microsecond pcap, 9
/// for `tcpdump --nano` and pcapng with `if_tsresol` 9).
#[test]
fn capture_times_keep_every_digit_the_file_holds() {
    if !common::have_tool("tshark") {
        return;
    }
    let mut nine = 0;
    for path in fixtures() {
        let out = Command::new("tshark")
            .args(["-n", "-t", "ud", "-r"])
            .arg(&path)
            .args([
                "-T",
                "fields",
                "-e",
                "frame.time_epoch",
                "-e",
                "_ws.col.Time",
            ])
            .output()
            .expect("tshark runs");
        assert!(out.status.success(), "tshark failed on {}", path.display());
        let text = String::from_utf8(out.stdout).unwrap();
        let mut src = FileSource::open(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let f = src.next_frame().unwrap().unwrap();
            let (epoch, column) = line.split_once('\t').unwrap();
            let (secs, frac) = epoch.split_once('.').unwrap();
            let theirs = secs.parse::<u128>().unwrap() * 1_000_000_000
                + format!("{frac:0<9}").parse::<u128>().unwrap();
            let at = format!("{} packet {}", path.display(), n + 1);
            assert_eq!(f.ts.as_nanos(), theirs, "{at}: time");
            // "2026-12-07 16:05:01.102775562": the time of day after the date.
            let time_of_day = column.split_once(' ').unwrap().1;
            let mut head = String::new();
            netlab::output::oneline::write_head(
                &mut head,
                1,
                (f.ts.as_nanos() as u64, f.ts_digits),
                0,
                false,
            );
            let ours = head.split_whitespace().nth(1).unwrap();
            assert_eq!(ours, time_of_day, "{at}: time of day");
            nine += usize::from(f.ts_digits == 9);
        }
    }
    assert!(nine >= 20, "only {nine} packets with nanosecond times");
    // The JSON carries the same nanoseconds and the digit count.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/time-nsec.pcapng");
    let v = common::netlab(&["capture", "--read", file.to_str().unwrap(), "--json"]).json();
    let first = &v["packets"][0];
    let mut src = FileSource::open(&file).unwrap();
    let f = src.next_frame().unwrap().unwrap();
    assert_eq!(first["ts_ns"].as_u64(), Some(f.ts.as_nanos() as u64));
    assert_eq!(first["ts_us"].as_u64(), Some(f.ts.as_micros() as u64));
    assert_eq!(first["ts_digits"], 9);
}

/// Wireshark's number for a link type (its `WTAP_ENCAP_*`, which `frame.encap_type`
/// shows), for the link types the fixtures hold.
fn wtap_encap(link: netlab::wire::dissect::LinkType) -> u32 {
    use netlab::wire::dissect::LinkType as L;
    match link {
        L::Ethernet => 1,
        L::Raw => 7,
        L::Null => 15,
        L::LinuxSll => 25,
        L::LinuxSll2 => 210,
        other => panic!("no Wireshark number known for {other}"),
    }
}

/// The interface each packet was captured on: for every fixture, the link type of each
/// packet (`frame.encap_type`), and for pcapng files the interface's id, name and
/// description (`frame.interface_*`; tshark says "unknown" for an unnamed interface).
/// The summary lists the file's interfaces with their packet counts.
#[test]
fn each_packet_names_the_interface_it_was_captured_on() {
    if !common::have_tool("tshark") {
        return;
    }
    let mut named = 0;
    for path in fixtures() {
        let out = Command::new("tshark")
            .args(["-n", "-r"])
            .arg(&path)
            .args(["-T", "fields", "-e", "frame.encap_type"])
            .args(["-e", "frame.interface_id", "-e", "frame.interface_name"])
            .args(["-e", "frame.interface_description"])
            .output()
            .expect("tshark runs");
        assert!(out.status.success(), "tshark failed on {}", path.display());
        let text = String::from_utf8(out.stdout).unwrap();
        let mut src = FileSource::open(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let f = src.next_frame().unwrap().unwrap();
            let t: Vec<&str> = line.split('\t').collect();
            let at = format!("{} packet {}", path.display(), n + 1);
            assert_eq!(wtap_encap(f.link).to_string(), t[0], "{at}: link type");
            let Some(i) = f.interface else {
                assert!(!path.to_string_lossy().ends_with(".pcapng"), "{at}");
                continue;
            };
            assert_eq!(i.link, f.link, "{at}");
            assert_eq!(i.id.to_string(), t[1], "{at}: interface id");
            assert_eq!(i.name.as_deref().unwrap_or("unknown"), t[2], "{at}: name");
            assert_eq!(i.description.as_deref().unwrap_or(""), t[3], "{at}");
            named += usize::from(i.name.is_some());
        }
    }
    assert!(named >= 13, "only {named} packets on a named interface");
    // JSON: per packet, and the summary's list.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/interfaces.pcapng");
    let v = common::netlab(&["capture", "--read", file.to_str().unwrap(), "--json"]).json();
    let on: Vec<String> = v["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["interface"]["name"].as_str().unwrap().to_owned())
        .collect();
    let lo = on.iter().filter(|n| *n == "lo").count();
    assert_eq!((on.len() - lo, lo), (11, 2), "{on:?}");
    let listed: Vec<(String, u64)> = v["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().into(),
                i["packets"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, [("nltm0".into(), 11), ("lo".into(), 2)]);
    let r = common::netlab(&["capture", "--read", file.to_str().unwrap(), "--layers"]);
    assert!(
        r.stdout
            .contains("captured on interface 1 (lo), link type Ethernet (1)"),
        "{}",
        r.stdout
    );
    assert!(r
        .stdout
        .contains("interface 0 nltm0: link type Ethernet (1), 11 packets"));
}

/// A record that keeps more bytes than it says the packet had on the wire (incl_len >
/// orig_len, a writer's mistake): tshark decodes the bytes with the expert note "Frame
/// length is less than captured length"; netlab decodes them too and notes it on that
/// packet only. Made from `udp-exchange.pcap` with record 2's orig_len lowered by 10.
#[test]
fn a_record_longer_than_its_packet_is_decoded_with_a_note() {
    if !common::have_tool("tshark") {
        return;
    }
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/udp-exchange.pcap");
    let mut bytes = std::fs::read(fixture).unwrap();
    let first_incl = u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as usize;
    let second = 24 + 16 + first_incl;
    let incl = u32::from_le_bytes(bytes[second + 8..second + 12].try_into().unwrap());
    bytes[second + 12..second + 16].copy_from_slice(&(incl - 10).to_le_bytes());
    let path = std::env::temp_dir().join(format!("netlab-overclaim-{}.pcap", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&path)
        .args(["-T", "fields", "-e", "frame.len", "-e", "frame.cap_len"])
        .args(["-e", "_ws.expert.message", "-e", "udp.length"])
        .output()
        .expect("tshark runs");
    assert!(out.status.success());
    let theirs: Vec<Vec<String>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    let v = common::netlab(&["capture", "--read", path.to_str().unwrap(), "--json"]);
    assert_eq!(v.code(), 0, "{}", v.stderr);
    let v = v.json();
    let packets = v["packets"].as_array().unwrap();
    assert_eq!(packets.len(), theirs.len());
    let mut noted = 0;
    for (p, t) in packets.iter().zip(&theirs) {
        assert_eq!(p["orig_len"].to_string(), t[0]);
        assert_eq!(p["captured_len"].to_string(), t[1]);
        let udp = p["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["protocol"] == "udp")
            .unwrap();
        assert_eq!(
            udp["decoded"]["length"].to_string(),
            t[3],
            "decoded all the same"
        );
        let tshark_notes = t[2].contains("Frame length is less than captured length");
        assert_eq!(p["record_note"].is_string(), tshark_notes, "{p}");
        noted += usize::from(tshark_notes);
    }
    assert_eq!(noted, 1);
    let _ = std::fs::remove_file(&path);
}

/// A file cut short in the middle of a record, pcap and pcapng: netlab shows every
/// complete record, as many as tshark shows, says the file is truncated, and exits with
/// 3 (tshark says "cut short in the middle of a packet"; it exits with 2 for the pcap).
#[test]
fn a_truncated_file_shows_every_complete_record_and_exits_with_3() {
    if !common::have_tool("tshark") || !common::have_tool("editcap") {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let tmp = std::env::temp_dir().join(format!("netlab-cut-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let ng = tmp.join("http.pcapng");
    let st = Command::new("editcap")
        .args(["-F", "pcapng"])
        .arg(dir.join("http-ipv4.pcap"))
        .arg(&ng)
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = std::fs::read(&ng).unwrap();
    let cut_ng = tmp.join("http-truncated.pcapng");
    std::fs::write(&cut_ng, &bytes[..bytes.len() - 30]).unwrap();
    for file in [dir.join("http-ipv4-truncated.pcap"), cut_ng] {
        let out = Command::new("tshark")
            .args(["-n", "-r"])
            .arg(&file)
            .args(["-T", "fields", "-e", "frame.number"])
            .output()
            .expect("tshark runs");
        let theirs = String::from_utf8(out.stdout).unwrap().lines().count();
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(said.contains("cut short"), "{said}");
        let r = common::netlab(&["--jsonl", "capture", "--read", file.to_str().unwrap()]);
        assert_eq!(r.code(), 3, "{}: {}", file.display(), r.stderr);
        let shown = r
            .stdout
            .lines()
            .filter(|l| l.contains("\"number\""))
            .count();
        assert_eq!(shown, theirs, "{}", file.display());
        assert!(r.stderr.contains("truncated"), "{}", r.stderr);
        let summary: serde_json::Value =
            serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
        assert_eq!(summary["truncated_record"], theirs + 1);
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// A transport header cut short by the snap length, at every byte: netlab shows the
/// fields whose bytes are all there, with their values, and names the first one
/// missing. tshark shows fewer (it reads TCP's ports as one 4-byte piece and the rest
/// only once 16 bytes are there): every field it shows, netlab shows with the same
/// value, and nothing tshark shows is at or after netlab's first missing field. The first record of `http-ipv4.pcap` (a SYN, TCP header with
/// options) and of `udp-exchange.pcap`, each kept to N bytes for every N inside the
/// transport header.
#[test]
fn a_header_cut_short_shows_the_fields_present_as_tshark_does() {
    if !common::have_tool("tshark") {
        return;
    }
    use netlab::wire::dissect::partial::Partial;
    let tcp: &[(&str, &str)] = &[
        ("src_port", "tcp.srcport"),
        ("dst_port", "tcp.dstport"),
        ("seq", "tcp.seq_raw"),
        ("ack", "tcp.ack_raw"),
        ("data_offset", "tcp.hdr_len"),
        ("flags", "tcp.flags"),
        ("window", "tcp.window_size_value"),
        ("checksum", "tcp.checksum"),
        ("urgent", "tcp.urgent_pointer"),
    ];
    let udp: &[(&str, &str)] = &[
        ("src_port", "udp.srcport"),
        ("dst_port", "udp.dstport"),
        ("length", "udp.length"),
        ("checksum", "udp.checksum"),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let tmp = std::env::temp_dir().join(format!("netlab-cut-hdr-{}.pcap", std::process::id()));
    let mut compared = 0;
    for (file, at, len, names) in [
        ("http-ipv4.pcap", 34, 20, tcp),
        ("udp-exchange.pcap", 34, 8, udp),
    ] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        for keep in at + 1..at + len {
            // The file header, then record 1 kept to `keep` bytes (its orig_len as it was).
            let mut cut = bytes[..24 + 8].to_vec();
            cut.extend_from_slice(&(keep as u32).to_le_bytes());
            cut.extend_from_slice(&bytes[36..40]);
            cut.extend_from_slice(&bytes[40..40 + keep]);
            std::fs::write(&tmp, &cut).unwrap();
            let mut cmd = Command::new("tshark");
            cmd.args(["-n", "-r"]).arg(&tmp).args(["-T", "fields"]);
            for (_, t) in names {
                cmd.args(["-e", t]);
            }
            let out = cmd.output().expect("tshark runs");
            let text = String::from_utf8(out.stdout).unwrap();
            let theirs: Vec<&str> = text.trim_end_matches('\n').split('\t').collect();
            let mut src = FileSource::open(&tmp).unwrap();
            let f = src.next_frame().unwrap().unwrap();
            let d = dissect(f.link, f.data);
            let layer = d.layers.last().unwrap();
            let LayerRepr::Partial(p) = &layer.repr else {
                panic!("{file} cut to {keep}: no partial header: {:?}", d.layers)
            };
            let p: &Partial = p;
            let fields = layer.fields(f.data);
            for ((ours, name), value) in names.iter().zip(&theirs) {
                let at = format!("{file} cut to {keep} bytes: {name}");
                let mine = fields.iter().find(|x| x.name == *ours);
                if value.is_empty() {
                    continue;
                }
                assert!(
                    mine.is_some(),
                    "{at}: tshark shows {value:?}, netlab nothing"
                );
                // Whole-number fields: the same number.
                if let (Some(m), Ok(n)) = (mine, value.parse::<u64>()) {
                    let number = m.value.split(" = ").nth(1);
                    if *ours != "data_offset" {
                        assert_eq!(number, Some(n.to_string().as_str()), "{at}");
                    }
                }
            }
            let first_absent = names
                .iter()
                .position(|(o, _)| !fields.iter().any(|x| x.name == *o));
            let first_absent = first_absent.expect("a cut header misses a field");
            assert_eq!(
                p.first_missing,
                Some(names[first_absent].0),
                "{file} {keep}"
            );
            assert!(
                theirs[first_absent..].iter().all(|v| v.is_empty()),
                "{file} cut to {keep}: tshark shows {theirs:?} past {:?}",
                p.first_missing
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 19 + 7);
    let _ = std::fs::remove_file(&tmp);
}
