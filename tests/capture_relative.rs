//! Relative sequence and acknowledgement numbers against tshark's `tcp.seq` and
//! `tcp.ack` (its default, relative view), on every fixture in `tests/fixtures/`.
//! `capture_tshark.rs` compares the raw numbers; this compares what netlab's one-line
//! view prints (`seq 1`, `ack 1`), which `FlowTable` computes from each side's initial
//! sequence number (docs/packets-and-layers.md, "Relative sequence numbers").
//!
//! A capture that starts mid-connection (`any-sll.pcap`) has no SYN: there netlab, like
//! tshark, supposes each side's SYN came just before its first segment, so the first
//! segment is `seq 1` and the first acknowledgement of a side's data `ack 1`.

mod common;

use common::have_tool;
use netlab::net::capture::FileSource;
use netlab::wire::dissect::dissect;
use netlab::wire::dissect::flow::{FlowTable, Limits};
use std::path::{Path, PathBuf};
use std::process::Command;

/// tshark's `(tcp.seq, tcp.ack)` per packet; `None` for a packet with no
/// (unquoted) TCP header.
fn tshark(path: &Path) -> Vec<Option<(u32, Option<u32>)>> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args([
            "-o",
            "tcp.relative_sequence_numbers:TRUE",
            "-o",
            "ip.defragment:FALSE",
            "-o",
            "ipv6.defragment:FALSE",
            "-T",
            "fields",
            "-E",
            "separator=\t",
            "-E",
            "occurrence=f",
            "-e",
            "tcp.seq",
            "-e",
            "tcp.ack",
            "-e",
            "tcp.flags.ack",
            "-e",
            "icmp.type",
            "-e",
            "icmpv6.type",
        ])
        .output()
        .expect("tshark runs");
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
            let f: Vec<&str> = line.split('\t').collect();
            let quoted = !f[3].is_empty() || !f[4].is_empty();
            if f[0].is_empty() || quoted {
                return None;
            }
            let seq = f[0].parse().expect("tcp.seq is a number");
            let ack = (f[2] == "1").then(|| f[1].parse().expect("tcp.ack is a number"));
            Some((seq, ack))
        })
        .collect()
}

/// netlab's `(rel_seq, rel_ack)` per packet, from `FlowTable`.
fn ours(path: &Path) -> Vec<Option<(u32, Option<u32>)>> {
    let mut src = FileSource::open(path).unwrap();
    let mut table = FlowTable::new(Limits::default());
    let mut rows = Vec::new();
    let mut ts = 0;
    while let Some(frame) = src.next_frame() {
        let Ok(f) = frame else { break };
        let d = dissect(f.link, f.data);
        ts += 1;
        let update = table.packet(&d, f.data, ts, &mut |_, _, _| {});
        rows.push(update.and_then(|u| u.tcp).map(|a| (a.rel_seq, a.rel_ack)));
    }
    rows
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        // Cut short mid-packet on purpose: tshark refuses it (capture_tshark.rs too).
        .filter(|p| !p.to_string_lossy().contains("truncated"))
        .collect();
    v.sort();
    v
}

#[test]
fn relative_numbers_match_tshark_on_every_fixture() {
    if !have_tool("tshark") {
        return;
    }
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for path in fixtures() {
        let (theirs, mine) = (tshark(&path), ours(&path));
        assert_eq!(
            theirs.len(),
            mine.len(),
            "{}: packet counts",
            path.display()
        );
        for (i, (t, m)) in theirs.iter().zip(&mine).enumerate() {
            if t.is_some() || m.is_some() {
                compared += 1;
            }
            if t != m {
                mismatches.push(format!(
                    "{} packet {}: netlab {m:?}, tshark {t:?}",
                    path.display(),
                    i + 1
                ));
            }
        }
    }
    assert!(compared > 1000, "only {compared} TCP packets compared");
    assert!(
        mismatches.is_empty(),
        "{} of {compared} differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
