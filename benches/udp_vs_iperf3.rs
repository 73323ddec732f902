//! `netlab udp bench` against `iperf3 -u -b 0` on the same machine, in the same run.
//!
//! Run with `cargo bench --bench udp_vs_iperf3` (a release build). Environment:
//! `UDP_BENCH_SIZES` (comma-separated payload sizes, default `64,1024,1400`),
//! `UDP_BENCH_SECONDS` (default 3), `UDP_BENCH_ROUNDS` (default 3; the two tools alternate,
//! and the best round of each counts, so a noisy neighbour on a shared machine penalises
//! neither more; every round is also printed on stderr).
//! Prints a Markdown table for `docs/performance.md`: datagrams per second sent by each
//! tool and their ratio (netlab / iperf3; the target is ≥ 1.0), plus the loss each
//! receiver counted. Exits with status 1 when any size misses the target, so a script
//! or CI job running the bench sees the miss.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

struct Measured {
    sent_per_s: f64,
    lost_percent: f64,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe socket");
    l.local_addr().expect("local address").port()
}

fn iperf3(size: usize, seconds: f64) -> Result<Measured, String> {
    let port = free_port().to_string();
    let mut server = Command::new("iperf3")
        // --forceflush: stdout is a pipe, and without it the "listening" line would sit
        // in iperf3's buffer until it exits.
        .args(["-s", "-1", "--forceflush", "-B", "127.0.0.1", "-p", &port])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("iperf3 is not installed or did not start: {e}"))?;
    // Wait for the server's own "Server listening" line (bounded: a few lines at most).
    let out = server.stdout.take().ok_or("no server stdout")?;
    let mut lines = BufReader::new(out).lines();
    let ready = lines
        .by_ref()
        .take(10)
        .any(|l| l.map(|l| l.contains("listening")).unwrap_or(false));
    if !ready {
        let _ = server.kill();
        return Err("the iperf3 server never said it was listening".into());
    }
    let client = Command::new("iperf3")
        .args(["-c", "127.0.0.1", "-p", &port, "-u", "-b", "0", "-J"])
        .args(["-l", &size.to_string(), "-t", &seconds.to_string()])
        .output()
        .map_err(|e| format!("iperf3 client: {e}"))?;
    let _ = server.wait();
    let v: serde_json::Value = serde_json::from_slice(&client.stdout)
        .map_err(|e| format!("iperf3 -J output is not JSON: {e}"))?;
    let sent = &v["end"]["sum_sent"];
    let recv = &v["end"]["sum_received"];
    let packets = sent["packets"].as_f64().ok_or("no sum_sent.packets")?;
    let secs = sent["seconds"].as_f64().ok_or("no sum_sent.seconds")?;
    Ok(Measured {
        sent_per_s: packets / secs,
        lost_percent: recv["lost_percent"].as_f64().unwrap_or(f64::NAN),
    })
}

fn netlab(size: usize, seconds: f64) -> Result<Measured, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["udp", "bench", "--json", "--size", &size.to_string()])
        .args(["--seconds", &seconds.to_string()])
        .output()
        .map_err(|e| format!("netlab: {e}"))?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("netlab --json output is not JSON: {e}"))?;
    Ok(Measured {
        sent_per_s: v["sent_per_s"].as_f64().ok_or("no sent_per_s")?,
        lost_percent: v["loss_percent"].as_f64().unwrap_or(f64::NAN),
    })
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass other flags: only
    // measure when asked to.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let sizes: Vec<usize> = env_or("UDP_BENCH_SIZES", "64,1024,1400")
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let seconds: f64 = env_or("UDP_BENCH_SECONDS", "3").parse().unwrap_or(3.0);
    let rounds: usize = env_or("UDP_BENCH_ROUNDS", "3").parse().unwrap_or(3);
    println!("| payload (B) | iperf3 -u -b 0 sent/s | netlab udp bench sent/s | ratio netlab/iperf3 | iperf3 loss | netlab loss |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let mut missed = Vec::new();
    for size in sizes {
        // Interleave the two tools round by round so both meet the same machine load.
        let (mut i_best, mut n_best): (Option<Measured>, Option<Measured>) = (None, None);
        for _ in 0..rounds {
            match (iperf3(size, seconds), netlab(size, seconds)) {
                (Ok(i), Ok(n)) => {
                    eprintln!(
                        "round: size {size}: iperf3 {:.0}/s ({:.2}% lost), netlab {:.0}/s ({:.2}% lost)",
                        i.sent_per_s, i.lost_percent, n.sent_per_s, n.lost_percent
                    );
                    if i_best.as_ref().is_none_or(|b| i.sent_per_s > b.sent_per_s) {
                        i_best = Some(i);
                    }
                    if n_best.as_ref().is_none_or(|b| n.sent_per_s > b.sent_per_s) {
                        n_best = Some(n);
                    }
                }
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("size {size}: {e}");
                    std::process::exit(1);
                }
            }
        }
        if let (Some(i), Some(n)) = (i_best, n_best) {
            println!(
                "| {size} | {:.0} | {:.0} | {:.2} | {:.2}% | {:.2}% |",
                i.sent_per_s,
                n.sent_per_s,
                n.sent_per_s / i.sent_per_s,
                i.lost_percent,
                n.lost_percent
            );
            let ratio = n.sent_per_s / i.sent_per_s;
            if ratio < TARGET_RATIO {
                missed.push(format!("{size} B: {ratio:.2}"));
            }
        }
    }
    if !missed.is_empty() {
        eprintln!(
            "MISSED the target (netlab/iperf3 >= {TARGET_RATIO}): {}",
            missed.join(", ")
        );
        std::process::exit(1);
    }
}

/// Datagrams per second sent, netlab / iperf3: netlab's sender is to keep up.
const TARGET_RATIO: f64 = 1.0;
