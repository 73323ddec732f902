//! `sio-bench`: netlab's Socket.IO server against socketioxide and Node's socket.io,
//! measured with one load generator of our own in the same run.
//!
//! The servers (see `peers.rs`) run the same small app in their own processes. The
//! load generator (`client.rs`) speaks Engine.IO 4 / Socket.IO 5 over WebSocket and over
//! long-polling. Each scenario (`scenarios.rs`) starts the servers afresh and runs
//! `--rounds` rounds; in each round the servers take their turn in a rotating order, so a
//! burst of background load does not favour one of them. Reported: the median round, and
//! the median over rounds of each round's ratio to socketioxide (a paired comparison).
//!
//! Then the memory check: each server started afresh, its resident memory read
//! (`/proc/PID/status`, VmRSS) before and after `--connections` idle clients join.
//!
//! Targets (exit 1 when one is missed): netlab ≥ socketioxide in every scenario, and
//! netlab's memory per connection ≤ the best peer's.
//!
//!     cd benches/sio-bench && cargo run --release -- [--millis MS] [--rounds R]
//!         [--scenarios connects,ack-1,ack-64,broadcast-100,broadcast-1000,room-100-of-1000,polling-16]
//!         [--servers netlab,socketioxide,node] [--connections 5000] [--size BYTES]
//!         [--in-flight N] [--pin] [--json] [--netlab PATH]
//!
//! netlab's release binary must be built first (`cargo build --release` at the top).

mod client;
mod peers;
mod scenarios;

use peers::Server;
use scenarios::{Knobs, Sample, Scenario};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

struct Plan {
    servers: Vec<&'static str>,
    scenarios: Vec<Scenario>,
    rounds: usize,
    knobs: Knobs,
    connections: usize,
    pin: bool,
    json: bool,
    netlab: PathBuf,
}

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).map(String::as_str)
}

fn number(args: &[String], name: &str, default: u64) -> u64 {
    arg(args, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn plan(args: &[String]) -> Result<Plan, String> {
    let servers: Vec<&'static str> = match arg(args, "--servers") {
        Some(list) => list
            .split(',')
            .map(|s| {
                peers::ALL
                    .into_iter()
                    .find(|k| *k == s)
                    .ok_or(format!("unknown server {s:?} (netlab, socketioxide, node)"))
            })
            .collect::<Result<_, _>>()?,
        None => peers::ALL.to_vec(),
    };
    let scenarios = match arg(args, "--scenarios") {
        Some("none") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| Scenario::parse(s).ok_or(format!("unknown scenario {s:?}")))
            .collect::<Result<_, _>>()?,
        None => scenarios::DEFAULT.to_vec(),
    };
    Ok(Plan {
        servers,
        scenarios,
        rounds: number(args, "--rounds", 3).max(1) as usize,
        knobs: Knobs {
            window: Duration::from_millis(number(args, "--millis", 1000)),
            size: number(args, "--size", 32) as usize,
            in_flight: number(args, "--in-flight", 8).max(1),
        },
        connections: number(args, "--connections", 5000) as usize,
        pin: args.iter().any(|a| a == "--pin"),
        json: args.iter().any(|a| a == "--json"),
        netlab: peers::netlab_binary(arg(args, "--netlab")),
    })
}

/// Run this process (and the threads it starts later) on one CPU only.
fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it, and
    // sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            eprintln!(
                "sio-bench: could not pin to CPU {cpu}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// 5,000 connections need more descriptors than the usual 1,024 (children inherit it).
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit read and write the one struct passed.
    unsafe {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        if args.iter().any(|a| a == "--pin") {
            pin_to_cpu(1);
        }
        peers::serve_socketioxide();
        return;
    }
    let plan = match plan(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("sio-bench: {e}");
            std::process::exit(2);
        }
    };
    if plan.servers.contains(&"netlab") && !plan.netlab.exists() {
        eprintln!(
            "sio-bench: no netlab binary at {} (build it: cargo build --release, at the top of the repository; or --netlab PATH)",
            plan.netlab.display()
        );
        std::process::exit(2);
    }
    if plan.pin {
        pin_to_cpu(0);
    }
    raise_fd_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let rows: Vec<Row> = plan
        .scenarios
        .iter()
        .map(|&s| scenario(&plan, &rt, s))
        .collect();
    let memory = (plan.connections > 0).then(|| memory(&plan, &rt));
    let missed = report(&plan, &rows, memory.as_deref());
    std::process::exit(i32::from(missed));
}

/// One scenario's results: per server (in `plan.servers` order) its rounds, or why it failed.
struct Row {
    scenario: Scenario,
    rounds: Vec<Result<Vec<Sample>, String>>,
}

fn start_all(plan: &Plan) -> Vec<Result<Server, String>> {
    plan.servers
        .iter()
        .map(|&name| peers::start(name, plan.pin, &plan.netlab))
        .collect()
}

fn scenario(plan: &Plan, rt: &tokio::runtime::Runtime, s: Scenario) -> Row {
    let servers = start_all(plan);
    let mut rounds: Vec<Result<Vec<Sample>, String>> = servers
        .iter()
        .map(|r| r.as_ref().map(|_| Vec::new()).map_err(Clone::clone))
        .collect();
    for round in 0..plan.rounds {
        for k in 0..servers.len() {
            let i = (k + round) % servers.len();
            let (Ok(server), Ok(samples)) = (&servers[i], &mut rounds[i]) else {
                continue;
            };
            match rt.block_on(scenarios::run(s, server, plan.knobs)) {
                Ok(sample) => {
                    eprintln!(
                        "{}",
                        json!({"scenario": s.name(), "server": server.name, "round": round,
                            "rate": sample.rate.round(), "p50_us": sample.p50_us,
                            "p99_us": sample.p99_us, "server_cpu_us": sample.server_cpu_us,
                            "load_cpu": sample.load_cpu, "strays": sample.strays})
                    );
                    samples.push(sample);
                }
                Err(e) => rounds[i] = Err(format!("round {round}: {e}")),
            }
            // Let the server finish closing this round's clients before the next one runs.
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Row {
        scenario: s,
        rounds,
    }
}

/// One server's resident memory: at start, and per idle connection.
struct Memory {
    name: &'static str,
    result: Result<(u64, f64), String>,
}

fn memory(plan: &Plan, rt: &tokio::runtime::Runtime) -> Vec<Memory> {
    let n = plan.connections;
    plan.servers
        .iter()
        .map(|&name| {
            let result = peers::start(name, plan.pin, &plan.netlab).and_then(|server| {
                std::thread::sleep(Duration::from_millis(500));
                let before = server.rss_kib();
                let held = rt
                    .block_on(scenarios::connect_many(server.port, n))
                    .map_err(|e| e.to_string())?;
                std::thread::sleep(Duration::from_secs(1));
                let after = server.rss_kib();
                drop(held);
                let per = after.saturating_sub(before) as f64 * 1024.0 / n as f64 / 1000.0;
                eprintln!("{}", json!({"memory": name, "start_kib": before, "after_kib": after, "connections": n}));
                Ok((before, per))
            });
            Memory { name, result }
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The median over rounds of `a`'s rate over `b`'s in the same round.
fn paired_ratio(a: &[Sample], b: &[Sample]) -> f64 {
    median(a.iter().zip(b).map(|(x, y)| x.rate / y.rate).collect())
}

/// The median round (by rate).
fn middle(samples: &[Sample]) -> Sample {
    let mut v = samples.to_vec();
    v.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    v.get(v.len() / 2).cloned().unwrap_or_default()
}

/// Prints the report; returns whether netlab missed a target (or could not be compared).
fn report(plan: &Plan, rows: &[Row], memory: Option<&[Memory]>) -> bool {
    let idx = |name: &str| plan.servers.iter().position(|s| *s == name);
    let (me, base) = (idx("netlab"), idx("socketioxide"));
    let mut missed = false;
    let mut table = Vec::new();
    let mut json_rows = Vec::new();
    for row in rows {
        let ratio_to_base = |i: usize| -> Option<f64> {
            let b = base?;
            match (&row.rounds[i], &row.rounds[b]) {
                (Ok(a), Ok(b)) if !a.is_empty() && !b.is_empty() => Some(paired_ratio(a, b)),
                _ => None,
            }
        };
        let met = me
            .and(base)
            .map(|_| me.and_then(ratio_to_base).is_some_and(|r| r >= 1.0));
        let strays: usize = row
            .rounds
            .iter()
            .flatten()
            .flatten()
            .map(|s| s.strays)
            .sum();
        if met == Some(false) || strays > 0 {
            missed = true;
            let ratio = me
                .and_then(ratio_to_base)
                .map_or("no figure".into(), |r| format!("×{r:.2}"));
            let strayed = match strays {
                0 => String::new(),
                n => format!(", {n} deliveries outside the room"),
            };
            eprintln!(
                "MISSED the target: {}: netlab {ratio} of socketioxide (≥ ×1.00 wanted){strayed}",
                row.scenario.name()
            );
        }
        let mut cells = vec![row.scenario.name(), row.scenario.unit().to_owned()];
        let mut servers = serde_json::Map::new();
        for (i, name) in plan.servers.iter().enumerate() {
            let v = match &row.rounds[i] {
                Ok(s) => {
                    let m = middle(s);
                    cells.push(format!(
                        "{:.0} ({}{:.0}/{:.0} µs, {:.1} µs CPU)",
                        m.rate,
                        ratio_to_base(i).map_or(String::new(), |r| format!("×{r:.2}, ")),
                        m.p50_us,
                        m.p99_us,
                        m.server_cpu_us
                    ));
                    json!({"rate": m.rate, "ratio_to_socketioxide": ratio_to_base(i),
                        "p50_us": m.p50_us, "p99_us": m.p99_us,
                        "server_cpu_us_per_op": m.server_cpu_us,
                        "rounds": s.iter().map(|x| x.rate).collect::<Vec<_>>()})
                }
                Err(e) => {
                    cells.push(format!("failed: {e}"));
                    json!({"error": e})
                }
            };
            servers.insert((*name).to_owned(), v);
        }
        let load = row
            .rounds
            .iter()
            .flatten()
            .flatten()
            .map(|s| s.load_cpu)
            .fold(0.0, f64::max);
        cells.push(format!("≤ {load:.2}"));
        cells.push(match met {
            Some(true) if strays == 0 => "met".into(),
            Some(_) if strays > 0 => format!("missed ({strays} deliveries outside the room)"),
            Some(_) => "missed".into(),
            None => "not checked".into(),
        });
        table.push(cells);
        json_rows.push(
            json!({"scenario": row.scenario.name(), "unit": row.scenario.unit(),
            "servers": servers, "load_generator_cores": load, "strays": strays,
            "target_met": met.map(|m| m && strays == 0)}),
        );
    }
    let json_memory = memory.map(|mem| memory_report(plan, mem, &mut missed, &mut table));
    if plan.json {
        let doc = json!({"rounds": plan.rounds, "window_ms": plan.knobs.window.as_millis() as u64,
            "size": plan.knobs.size, "in_flight": plan.knobs.in_flight, "pinned": plan.pin,
            "load_average": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
            "scenarios": json_rows, "memory": json_memory, "targets_met": !missed});
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
    } else {
        print_table(plan, &table);
        println!();
        let verdict = match (me.and(base), missed) {
            (None, _) => "not checked (netlab and socketioxide did not both run)",
            (Some(_), true) => "MISSED",
            (Some(_), false) => "met",
        };
        println!("targets: {verdict}");
    }
    missed
}

fn memory_report(
    plan: &Plan,
    mem: &[Memory],
    missed: &mut bool,
    table: &mut Vec<Vec<String>>,
) -> Value {
    let per = |m: &Memory| m.result.as_ref().ok().map(|r| r.1);
    let best_peer = mem
        .iter()
        .filter(|m| m.name != "netlab")
        .filter_map(per)
        .fold(f64::INFINITY, f64::min);
    let mine = mem.iter().find(|m| m.name == "netlab").and_then(per);
    let met = mine
        .filter(|_| best_peer.is_finite())
        .map(|k| k <= best_peer);
    if met == Some(false) {
        *missed = true;
        eprintln!(
            "MISSED the target: memory: netlab {:.1} KB per connection, the best peer {best_peer:.1} KB",
            mine.unwrap_or(f64::NAN)
        );
    }
    let mut cells = vec![
        format!("memory-{}", plan.connections),
        "KB/connection".into(),
    ];
    let mut servers = serde_json::Map::new();
    for m in mem {
        let (cell, v) = match &m.result {
            Ok((start, per)) => (
                format!("{per:.1} (start {:.1} MB)", *start as f64 / 1024.0),
                json!({"start_kib": start, "kb_per_connection": per}),
            ),
            Err(e) => (format!("failed: {e}"), json!({"error": e})),
        };
        cells.push(cell);
        servers.insert(m.name.to_owned(), v);
    }
    cells.push(String::new());
    cells.push(match met {
        Some(true) => "met".into(),
        Some(false) => "missed".into(),
        None => "not checked".into(),
    });
    table.push(cells);
    json!({"connections": plan.connections, "servers": servers, "target_met": met})
}

fn print_table(plan: &Plan, table: &[Vec<String>]) {
    let mut head = vec!["scenario".to_owned(), "unit".to_owned()];
    head.extend(
        plan.servers
            .iter()
            .map(|s| format!("{s} (×socketioxide, p50/p99, server CPU/op)")),
    );
    head.push("load generator cores".into());
    head.push("target".into());
    println!("| {} |", head.join(" | "));
    println!("|{}", "---|".repeat(head.len()));
    for cells in table {
        println!("| {} |", cells.join(" | "));
    }
}
