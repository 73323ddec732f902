//! DNS against tshark: every DNS message in the fixtures (dnsmasq answering dig, see
//! `tests/fixtures/make-dns.sh`) as netlab's `--json` reports it and as
//! `tshark -T fields` reads it: IDs, every flag, the four counts, rcodes, question names,
//! types and classes, and for every record its owner, type, class, TTL, length and data
//! (addresses, targets, MX preference, SRV fields, SOA fields, TXT strings, EDNS0).
//! Zero mismatches; a root-only test makes a fresh capture the same way and checks it.
//!
//! UDP messages come from the per-packet layers (`capture --read --json`), TCP ones from
//! the reassembled streams (`capture --follow N --json`).

mod common;
use common::{have_tool, netlab};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const FIELDS: &[&str] = &[
    "dns.id",
    "dns.flags",
    "dns.flags.response",
    "dns.flags.opcode",
    "dns.flags.authoritative",
    "dns.flags.truncated",
    "dns.flags.recdesired",
    "dns.flags.recavail",
    "dns.flags.z",
    "dns.flags.authenticated",
    "dns.flags.checkdisable",
    "dns.flags.rcode",
    "dns.count.queries",
    "dns.count.answers",
    "dns.count.auth_rr",
    "dns.count.add_rr",
    "dns.qry.name",
    "dns.qry.type",
    "dns.qry.class",
    "dns.resp.name",
    "dns.resp.type",
    "dns.resp.class",
    "dns.resp.ttl",
    "dns.resp.len",
    "dns.a",
    "dns.aaaa",
    "dns.cname",
    "dns.ns",
    "dns.ptr.domain_name",
    "dns.mx.preference",
    "dns.mx.mail_exchange",
    "dns.txt",
    "dns.srv.service",
    "dns.srv.proto",
    "dns.srv.name",
    "dns.srv.priority",
    "dns.srv.weight",
    "dns.srv.port",
    "dns.srv.target",
    "dns.soa.mname",
    "dns.soa.rname",
    "dns.soa.serial_number",
    "dns.soa.refresh_interval",
    "dns.soa.retry_interval",
    "dns.soa.expire_limit",
    "dns.soa.minimum_ttl",
    "dns.rr.udp_payload_size",
    "dns.resp.ext_rcode",
    "dns.resp.edns0_version",
    "dns.resp.z.do",
    "dns.opt.code",
    "dns.opt.len",
];

type Fields = BTreeMap<String, String>;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// tshark's reading: one map per frame that carries DNS (each of these frames carries
/// one message), field → comma-separated occurrences.
fn tshark(path: &str) -> Vec<Fields> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r", path, "-Y", "dns", "-T", "fields"])
        .args(["-E", "separator=\t", "-E", "occurrence=a"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(out.status.success(), "tshark failed on {path}");
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

fn u(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("a number expected, got {v}"))
}

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("a string expected, got {v}"))
        .to_owned()
}

fn b(v: &Value) -> String {
    u8::from(v.as_bool().expect("a bool")).to_string()
}

/// tshark spells the root name `<Root>`.
fn name(v: &Value) -> String {
    match v.as_str() {
        Some(".") => "<Root>".into(),
        Some(n) => n.to_owned(),
        None => panic!("a name expected, got {v}"),
    }
}

/// The RFC 1035 / RFC 6895 mnemonics of the codes the fixtures hold.
fn rfc_rcode_name(code: u64) -> &'static str {
    match code {
        0 => "NoError",
        3 => "NXDomain",
        other => panic!("rcode {other} in a fixture: add its RFC name here"),
    }
}

/// netlab's `dns::Repr` (as JSON) in tshark's vocabulary.
fn ours(m: &Value) -> Fields {
    let mut f: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut put = |k: &str, v: String| f.entry(k.to_owned()).or_default().push(v);
    let qr = m["qr"].as_bool().unwrap();
    put("dns.id", format!("0x{:04x}", u(&m["id"])));
    put("dns.flags", format!("0x{:04x}", u(&m["flags"])));
    put("dns.flags.response", b(&m["qr"]));
    let opcode = match m["opcode"].as_str() {
        Some("query") => 0,
        Some("i_query") => 1,
        Some("status") => 2,
        Some("notify") => 4,
        Some("update") => 5,
        Some("dso") => 6,
        _ => u(&m["opcode"]["unknown"]),
    };
    put("dns.flags.opcode", opcode.to_string());
    // tshark shows AA, RA and the rcode for responses only.
    if qr {
        put("dns.flags.authoritative", b(&m["aa"]));
        put("dns.flags.recavail", b(&m["ra"]));
        put("dns.flags.rcode", (u(&m["rcode"]) & 0xf).to_string());
        assert_eq!(
            m["rcode_name"].as_str(),
            Some(rfc_rcode_name(u(&m["rcode"]))),
            "rcode name"
        );
    }
    for (k, j) in [
        ("dns.flags.truncated", "tc"),
        ("dns.flags.recdesired", "rd"),
        ("dns.flags.z", "z"),
        ("dns.flags.authenticated", "ad"),
        ("dns.flags.checkdisable", "cd"),
    ] {
        put(k, b(&m[j]));
    }
    for (k, j) in [
        ("dns.count.queries", "qdcount"),
        ("dns.count.answers", "ancount"),
        ("dns.count.auth_rr", "nscount"),
        ("dns.count.add_rr", "arcount"),
    ] {
        put(k, u(&m[j]).to_string());
    }
    for q in m["questions"].as_array().unwrap() {
        put("dns.qry.name", name(&q["name"]));
        put("dns.qry.type", u(&q["qtype"]).to_string());
        put("dns.qry.class", format!("0x{:04x}", u(&q["class"])));
    }
    let records = ["answers", "authority", "additional"]
        .iter()
        .flat_map(|sec| m[*sec].as_array().unwrap().iter());
    for r in records {
        let rtype = u(&r["rtype"]);
        if rtype == 33 {
            // tshark splits an SRV owner into _service._proto.name (RFC 2782).
            let owner = s(&r["name"]);
            let mut parts = owner.splitn(3, '.');
            put("dns.srv.service", parts.next().unwrap().to_owned());
            put("dns.srv.proto", parts.next().unwrap().to_owned());
            put("dns.srv.name", parts.next().unwrap().to_owned());
        } else {
            put("dns.resp.name", name(&r["name"]));
        }
        put("dns.resp.type", rtype.to_string());
        if rtype != 41 {
            put("dns.resp.class", format!("0x{:04x}", u(&r["class"])));
            put("dns.resp.ttl", u(&r["ttl"]).to_string());
        }
        put("dns.resp.len", u(&r["rdlength"]).to_string());
        let d = &r["rdata"];
        match d["type"].as_str().unwrap() {
            "a" => put("dns.a", s(&d["address"])),
            "aaaa" => put("dns.aaaa", s(&d["address"])),
            "cname" => put("dns.cname", s(&d["target"])),
            "ns" => put("dns.ns", s(&d["target"])),
            "ptr" => put("dns.ptr.domain_name", s(&d["target"])),
            "mx" => {
                put("dns.mx.preference", u(&d["preference"]).to_string());
                put("dns.mx.mail_exchange", s(&d["exchange"]));
            }
            "txt" => {
                for t in d["strings"].as_array().unwrap() {
                    put("dns.txt", s(t));
                }
            }
            "srv" => {
                for k in ["priority", "weight", "port"] {
                    put(&format!("dns.srv.{k}"), u(&d[k]).to_string());
                }
                put("dns.srv.target", s(&d["target"]));
            }
            "soa" => {
                put("dns.soa.mname", s(&d["mname"]));
                put("dns.soa.rname", s(&d["rname"]));
                for (k, j) in [
                    ("dns.soa.serial_number", "serial"),
                    ("dns.soa.refresh_interval", "refresh"),
                    ("dns.soa.retry_interval", "retry"),
                    ("dns.soa.expire_limit", "expire"),
                    ("dns.soa.minimum_ttl", "minimum"),
                ] {
                    put(k, u(&d[j]).to_string());
                }
            }
            "opt" => {
                put(
                    "dns.rr.udp_payload_size",
                    u(&d["udp_payload_size"]).to_string(),
                );
                put(
                    "dns.resp.ext_rcode",
                    format!("0x{:02x}", u(&d["extended_rcode"])),
                );
                put("dns.resp.edns0_version", u(&d["version"]).to_string());
                put("dns.resp.z.do", b(&d["dnssec_ok"]));
                for o in d["options"].as_array().unwrap() {
                    put("dns.opt.code", u(&o[0]).to_string());
                    put("dns.opt.len", u(&o[1]).to_string());
                }
            }
            other => panic!("record data of kind {other} in a fixture: compare it too"),
        }
    }
    assert!(
        m["problem"].is_null(),
        "netlab found a problem: {}",
        m["problem"]
    );
    f.into_iter().map(|(k, v)| (k, v.join(","))).collect()
}

/// netlab's DNS messages in `path`, from each packet's layers in frame order (over
/// TCP, in the packet that completed the message). Over TCP `--follow` must find the
/// same messages in the reassembled stream.
fn netlab_messages(path: &str) -> Vec<Value> {
    let run = netlab(&["--json", "capture", "--read", path]);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let mut over_tcp = Vec::new();
    let msgs: Vec<Value> = run.json()["packets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["layers"].as_array().unwrap().iter())
        .filter(|l| l["protocol"] == "dns")
        .map(|l| match l["decoded"]["transport"].as_str() {
            // Reassembled from a TCP stream: an application message around it.
            Some(t) => {
                assert_eq!(t, "tcp", "{l}");
                over_tcp.push(l["decoded"]["message"].clone());
                l["decoded"]["message"].clone()
            }
            None => l["decoded"].clone(),
        })
        .collect();
    let stats = netlab(&["--json", "capture", "--read", path, "--stats"]).json();
    let mut followed = Vec::new();
    for c in stats["conversations"].as_array().unwrap() {
        if c["transport"] != "tcp" {
            continue;
        }
        let n = u(&c["id"]).to_string();
        let run = netlab(&["--json", "capture", "--read", path, "--follow", &n]);
        assert_eq!(run.code(), 0, "{}", run.stderr);
        for ev in run.json()["application"].as_array().unwrap() {
            assert_eq!(ev["message"]["kind"], "dns", "conversation {n}: {ev}");
            assert_eq!(ev["message"]["transport"], "tcp");
            followed.push(ev["message"]["message"].clone());
        }
    }
    assert_eq!(
        followed, over_tcp,
        "{path}: --follow and the packets' layers disagree on the DNS messages over TCP"
    );
    msgs
}

/// Compare every message of `path`; returns how many were compared.
fn compare(path: &str) -> usize {
    let theirs = tshark(path);
    let mine = netlab_messages(path);
    assert_eq!(
        mine.len(),
        theirs.len(),
        "{path}: netlab found {} DNS messages, tshark {}",
        mine.len(),
        theirs.len()
    );
    let mut mismatches = Vec::new();
    for (i, (m, t)) in mine.iter().zip(&theirs).enumerate() {
        let o = ours(m);
        for k in FIELDS {
            if o.get(*k) != t.get(*k) {
                mismatches.push(format!(
                    "{path} message {} field {k}: netlab {:?}, tshark {:?}",
                    i + 1,
                    o.get(*k),
                    t.get(*k)
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    mine.len()
}

#[test]
fn udp_fixture_agrees_with_tshark_message_by_message() {
    if !have_tool("tshark") {
        return;
    }
    let path = fixture("dns.pcap");
    assert_eq!(compare(&path), 26);
    // What the fixture was made to show is there: each common type, NXDOMAIN, an empty
    // answer (NODATA) and the truncated answer.
    let types: Vec<u64> = netlab_messages(&path)
        .iter()
        .flat_map(|m| m["answers"].as_array().unwrap().clone())
        .map(|r| u(&r["rtype"]))
        .collect();
    for t in [1, 28, 5, 15, 16, 2, 6, 12, 33] {
        assert!(types.contains(&t), "no answer of type {t}");
    }
    let msgs = netlab_messages(&path);
    assert!(msgs.iter().any(|m| m["rcode_name"] == "NXDomain"));
    assert!(msgs.iter().any(|m| m["tc"] == true));
    assert!(msgs
        .iter()
        .any(|m| m["qr"] == true && m["rcode"] == 0 && m["ancount"] == 0));
}

#[test]
fn tcp_fixture_agrees_with_tshark_message_by_message() {
    if !have_tool("tshark") {
        return;
    }
    // The query of +tcp, the retry of the truncated answer, and a zone transfer.
    assert_eq!(compare(&fixture("dns-tcp.pcap")), 6);
}

#[test]
fn fresh_dnsmasq_capture_agrees_with_tshark() {
    if !common::have_root("a fresh DNS capture in a network namespace") || !have_tool("tshark") {
        return;
    }
    for tool in ["dnsmasq", "dig", "tcpdump", "ip", "timeout"] {
        if !have_tool(tool) {
            return;
        }
    }
    let dir = std::env::temp_dir().join(format!("netlab-dns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/make-dns.sh");
    let out = Command::new("timeout")
        .arg("60")
        .arg(&script)
        .env("DNS_OUT", &dir)
        .output()
        .expect("make-dns.sh runs");
    assert!(
        out.status.success(),
        "make-dns.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let udp = compare(dir.join("dns.pcap").to_str().unwrap());
    let tcp = compare(dir.join("dns-tcp.pcap").to_str().unwrap());
    assert_eq!((udp, tcp), (26, 6));
    let _ = std::fs::remove_dir_all(&dir);
}
