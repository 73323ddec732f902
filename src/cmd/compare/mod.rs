//! `netlab compare`: the same events over short polling, keep-alive polling, long
//! polling, Server-Sent Events and WebSocket push, measured side by side.
//!
//! `run.rs` runs each transport for real on loopback (`net::push`'s server and clients,
//! each side on a thread of its own, with `capture.rs` counting packets beside it) and
//! counts what happened; this module validates the workload, turns the counts into a
//! per-transport column (percentiles, loss, byte split) and hands the report to
//! `output`; `plot.rs` draws it for `--plot`.

use crate::cli::compare::{CompareArgs, DirectionArg, TransportArg};
use crate::error::{self, HintExt};
use crate::net::push::{PushTransport, Traffic, Workload};
use crate::net::runtime::{runtime, Runtime};
use crate::output::{Output, Paint, Render, Step, Style, Timeline};
use crate::wire::application::push::WireTally;
use crate::wire::application::push::{MAX_EVENT_ID, MIN_PAYLOAD};
use serde::Serialize;

pub mod capture;
pub mod plot;
pub mod run;

pub use run::{RunOptions, TraceStep, TransportRun};
use std::collections::HashSet;
use std::time::Duration;

/// The largest payload accepted per event.
pub const MAX_PAYLOAD: usize = 64 * 1024;
/// The most events one run may produce.
pub const MAX_EVENTS: u64 = 100_000;
/// A workload whose events alone would take longer than this is refused.
pub const MAX_SCHEDULE: Duration = Duration::from_secs(120);
/// The most clients per transport.
pub const MAX_CLIENTS: usize = 100;
/// Steps kept per transport for `--explain`.
const TRACE_STEPS: usize = 14;

/// A validated comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub workload: Workload,
    pub transports: Vec<PushTransport>,
    pub explain: bool,
    pub csv: bool,
    /// Draw latency distributions and bytes per event into this SVG file.
    pub plot: Option<std::path::PathBuf>,
    /// Whether to capture the packets of each run to count TCP/IP headers.
    pub capture: CaptureMode,
    /// The first of five consecutive server ports, one per transport (0: any free port).
    pub port: u16,
}

/// When to capture each run on loopback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMode {
    /// Capture when netlab may (root or CAP_NET_RAW); otherwise say it is not counted.
    Auto,
    /// `--capture`: capture, or fail before running anything.
    Required,
    /// `--no-capture`.
    Off,
}

impl TryFrom<&CompareArgs> for Plan {
    type Error = anyhow::Error;

    fn try_from(a: &CompareArgs) -> anyhow::Result<Plan> {
        let interval = check_ranges(a)?;
        let transports = if a.only.is_empty() {
            PushTransport::ALL.to_vec()
        } else {
            PushTransport::ALL
                .into_iter()
                .filter(|t| a.only.contains(&transport_arg(*t)))
                .collect()
        };
        Ok(Plan {
            workload: Workload {
                events: a.events,
                interval: Duration::from_millis(interval),
                payload: a.payload,
                poll_interval: Duration::from_millis(a.poll_interval),
                hold: Duration::from_millis(a.hold),
                clients: a.clients,
                direction: match a.direction {
                    DirectionArg::Down => Traffic::Down,
                    DirectionArg::Up => Traffic::Up,
                    DirectionArg::Both => Traffic::Both,
                },
            },
            transports,
            explain: a.explain,
            csv: a.csv,
            plot: a.plot.clone(),
            capture: if a.capture {
                CaptureMode::Required
            } else if a.no_capture {
                CaptureMode::Off
            } else {
                CaptureMode::Auto
            },
            port: a.port,
        })
    }
}

/// Every number the user gave, checked against what a run can do; the interval to use
/// (0 with `--burst`).
fn check_ranges(a: &CompareArgs) -> anyhow::Result<u64> {
    if a.events == 0 || a.events > MAX_EVENTS.min(MAX_EVENT_ID) {
        return Err(error::usage(
            format!("--events {} is out of range", a.events),
            format!("give between 1 and {MAX_EVENTS} events"),
        ));
    }
    if a.payload < MIN_PAYLOAD || a.payload > MAX_PAYLOAD {
        return Err(error::usage(
            format!("--payload {} is out of range", a.payload),
            format!(
                "give {MIN_PAYLOAD} to {MAX_PAYLOAD} bytes (the first {MIN_PAYLOAD} carry the event id)"
            ),
        ));
    }
    let interval = if a.burst { 0 } else { a.interval };
    let schedule = Duration::from_millis(interval.saturating_mul(a.events));
    if interval > 10_000 || schedule > MAX_SCHEDULE {
        return Err(error::usage(
            format!(
                "--interval {interval} ms × {} events would take {:.0} s per transport",
                a.events,
                schedule.as_secs_f64()
            ),
            format!(
                "keep --interval at most 10000 ms and events × interval under {} s",
                MAX_SCHEDULE.as_secs()
            ),
        ));
    }
    if a.poll_interval == 0 || a.poll_interval > 10_000 {
        return Err(error::usage(
            format!("--poll-interval {} is out of range", a.poll_interval),
            "give 1 to 10000 ms (0 would be a busy loop of requests)",
        ));
    }
    if a.hold == 0 || a.hold > 60_000 {
        return Err(error::usage(
            format!("--hold {} is out of range", a.hold),
            "give 1 to 60000 ms",
        ));
    }
    if a.clients == 0 || a.clients > MAX_CLIENTS {
        return Err(error::usage(
            format!("--clients {} is out of range", a.clients),
            format!("give 1 to {MAX_CLIENTS} clients"),
        ));
    }
    if a.port != 0 && a.port > u16::MAX - (PushTransport::ALL.len() as u16 - 1) {
        return Err(error::usage(
            format!("--port {} leaves no room for five ports", a.port),
            format!(
                "give 0 (any free port) or 1 to {} (PORT to PORT+4 are used)",
                u16::MAX - 4
            ),
        ));
    }
    Ok(interval)
}

fn transport_arg(t: PushTransport) -> TransportArg {
    match t {
        PushTransport::ShortPoll => TransportArg::ShortPoll,
        PushTransport::KeepAlivePoll => TransportArg::KeepAlive,
        PushTransport::LongPoll => TransportArg::LongPoll,
        PushTransport::Sse => TransportArg::Sse,
        PushTransport::WebSocket => TransportArg::Ws,
    }
}

/// Delivery latency percentiles, microseconds (nearest-rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Latency {
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub samples: usize,
}

impl Latency {
    pub fn of(samples: &[u64]) -> Option<Latency> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_unstable();
        let rank = |p: f64| {
            let i = ((p / 100.0) * s.len() as f64).ceil() as usize;
            s[i.clamp(1, s.len()) - 1]
        };
        Some(Latency {
            p50_us: rank(50.0),
            p95_us: rank(95.0),
            p99_us: rank(99.0),
            max_us: s[s.len() - 1],
            samples: s.len(),
        })
    }
}

/// Bytes counted at the clients' sockets, split by what they carried.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bytes {
    /// Event payload received.
    pub payload: u64,
    /// HTTP request and response heads, including the WebSocket upgrade.
    pub http_heads: u64,
    /// Everything else: WebSocket frame headers and close frames, SSE field syntax.
    pub framing: u64,
    /// Client to server.
    pub up: u64,
    /// Server to client.
    pub down: u64,
    pub total: u64,
    /// total / messages delivered (events down plus messages up).
    pub per_event: f64,
    /// (total − payload) / messages delivered.
    pub overhead_per_event: f64,
    /// Whether the server's socket counts equal the clients' (written = read, both ways).
    pub server_agrees: bool,
}

/// Client-to-server messages as the server received them.
#[derive(Debug, Clone, Serialize)]
pub struct UpDelivery {
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    /// From the client creating a message to the server having parsed it.
    pub latency: Option<Latency>,
    /// HTTP POSTs the server answered (0 for WebSocket: its messages are frames).
    pub posts: u64,
    pub payload_bytes: u64,
}

/// (delivered, lost, duplicated, out of order) over every receiver's arrivals.
fn delivery(received: &[Vec<u64>], expected_each: u64) -> (u64, u64, u64, u64) {
    let (mut delivered, mut lost, mut duplicated, mut out_of_order) = (0, 0, 0, 0);
    for r in received {
        let unique: HashSet<u64> = r.iter().copied().collect();
        let in_range = unique.iter().filter(|&&id| id < expected_each).count() as u64;
        delivered += in_range;
        lost += expected_each - in_range;
        duplicated += (r.len() - unique.len()) as u64;
        out_of_order += r.windows(2).filter(|w| w[1] < w[0]).count() as u64;
    }
    (delivered, lost, duplicated, out_of_order)
}

/// One transport's column.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub transport: PushTransport,
    pub title: &'static str,
    /// Events every client should have received, summed over clients.
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub latency: Option<Latency>,
    /// Client-to-server messages (direction up or both).
    pub up: Option<UpDelivery>,
    /// Every latency sample, microseconds (for `--plot`).
    #[serde(skip)]
    pub samples_us: Vec<u64>,
    pub requests: u64,
    pub empty_polls: u64,
    /// TCP connections opened by the clients (each one a three-way handshake).
    pub connections: u64,
    /// TCP connections the server accepted.
    pub accepted: u64,
    pub bytes: Bytes,
    /// CPU time of the server's thread (HTTP or WebSocket server and event source).
    pub server_cpu_ms: Option<f64>,
    /// CPU time of the clients' thread (every client of this transport).
    pub client_cpu_ms: Option<f64>,
    pub elapsed_ms: f64,
    pub error: Option<String>,
    /// The server's port on 127.0.0.1 during this run.
    pub server_port: u16,
    /// Packets and bytes on the wire, from a capture of the run (root only).
    pub wire: Option<WireTally>,
    /// Why `wire` is missing, or what limits it.
    pub wire_note: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<TraceStep>,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub workload: Workload,
    pub columns: Vec<Column>,
    /// Whether TCP/IP overhead was counted from a capture, or why not.
    pub tcpip_overhead: String,
    #[serde(skip)]
    pub explain: bool,
}

/// What the report says about TCP/IP overhead: counted from a capture, or not counted
/// and why (the first column's reason: they share it).
pub fn tcpip_overhead(columns: &[Column]) -> String {
    if columns.iter().any(|c| c.wire.is_some()) {
        return TCPIP_CAPTURED.to_owned();
    }
    let why = columns
        .iter()
        .filter_map(|c| c.wire_note.as_deref())
        .map(|n| n.strip_prefix("not counted: ").unwrap_or(n))
        .next();
    match why {
        Some(why) => format!("not counted ({why}): {TCPIP_NOTE}"),
        None => format!("not counted: {TCPIP_NOTE}"),
    }
}

const TCPIP_CAPTURED: &str = "counted from a capture of each run on loopback (IP and TCP \
headers, handshakes, ACKs); the byte rows above are still counted at the socket API";

const TCPIP_NOTE: &str = "bytes are counted at the socket API, so TCP/IP headers \
(40 B or more per packet), handshakes and ACKs are not included";

/// Turn what a run measured into a column.
pub fn column(run: &TransportRun, workload: &Workload) -> Column {
    let down_each = if workload.direction.down() {
        workload.events
    } else {
        0
    };
    let (delivered, mut lost, duplicated, out_of_order) = delivery(&run.tally.received, down_each);
    // Clients that never got going still expected their events.
    let missing_clients = workload.clients.saturating_sub(run.tally.received.len()) as u64;
    lost += missing_clients * down_each;
    let up = run.up.as_ref().map(|u| {
        let (delivered, lost, duplicated, out_of_order) = delivery(&u.received, workload.events);
        UpDelivery {
            expected: workload.events * workload.clients as u64,
            delivered,
            lost,
            duplicated,
            out_of_order,
            latency: Latency::of(&u.latencies_us),
            posts: u.posts,
            payload_bytes: u.payload_bytes,
        }
    });
    let up_delivered = up.as_ref().map(|u| u.delivered).unwrap_or(0);
    let total = run.client_read + run.client_written;
    let payload = run.tally.payload_bytes + up.as_ref().map(|u| u.payload_bytes).unwrap_or(0);
    let heads = run.tally.head_bytes;
    let messages = delivered + up_delivered;
    let per = |n: u64| {
        if messages == 0 {
            0.0
        } else {
            n as f64 / messages as f64
        }
    };
    Column {
        transport: run.transport,
        title: run.transport.title(),
        expected: down_each * workload.clients as u64,
        delivered,
        lost,
        duplicated,
        out_of_order,
        latency: Latency::of(&run.tally.latencies_us),
        up,
        samples_us: run.tally.latencies_us.clone(),
        requests: run.tally.requests,
        empty_polls: run.tally.empty_polls,
        connections: run.tally.connections,
        accepted: run.accepted,
        bytes: Bytes {
            payload,
            http_heads: heads,
            framing: total.saturating_sub(payload + heads),
            up: run.client_written,
            down: run.client_read,
            total,
            per_event: per(total),
            overhead_per_event: per(total.saturating_sub(payload)),
            server_agrees: run.server_written == run.client_read
                && run.server_read == run.client_written,
        },
        server_cpu_ms: run.server_cpu.map(|d| d.as_secs_f64() * 1000.0),
        client_cpu_ms: run.client_cpu.map(|d| d.as_secs_f64() * 1000.0),
        elapsed_ms: run.elapsed_us as f64 / 1000.0,
        error: run.error.as_ref().map(ToString::to_string),
        server_port: run.server_port,
        wire: run.wire,
        wire_note: run.wire_note.clone(),
        trace: run.trace.clone(),
    }
}

/// The column of a transport that could not start: nothing measured, and `why`.
fn failed_column(t: PushTransport, workload: &Workload, why: String) -> Column {
    let empty = TransportRun {
        transport: t,
        tally: Default::default(),
        client_read: 0,
        client_written: 0,
        server_read: 0,
        server_written: 0,
        accepted: 0,
        error: None,
        up: None,
        trace: Vec::new(),
        server_port: 0,
        wire: None,
        wire_note: Some("not counted: the run did not start".into()),
        elapsed_us: 0,
        server_cpu: None,
        client_cpu: None,
    };
    Column {
        error: Some(why),
        ..column(&empty, workload)
    }
}

/// Run every transport of the plan in turn (so they do not compete for the CPU).
pub async fn measure(plan: &Plan, mut progress: impl FnMut(&str)) -> CompareReport {
    let mut columns = Vec::new();
    for (i, &t) in plan.transports.iter().enumerate() {
        progress(&format!(
            "compare: {} ({}/{})…",
            t.title(),
            i + 1,
            plan.transports.len()
        ));
        let opts = RunOptions {
            trace_cap: if plan.explain { TRACE_STEPS } else { 0 },
            capture: plan.capture != CaptureMode::Off,
            port: transport_port(plan.port, t),
        };
        let col = match run::run_transport(t, &plan.workload, opts).await {
            Ok(run) => column(&run, &plan.workload),
            Err(e) => failed_column(t, &plan.workload, e.to_string()),
        };
        columns.push(col);
    }
    let tcpip_overhead = tcpip_overhead(&columns);
    CompareReport {
        workload: plan.workload.clone(),
        columns,
        tcpip_overhead,
        explain: plan.explain,
    }
}

/// The port of transport `t`: `base` plus its place in the table (0 stays 0: any free port).
pub fn transport_port(base: u16, t: PushTransport) -> u16 {
    if base == 0 {
        return 0;
    }
    let i = PushTransport::ALL.iter().position(|&x| x == t).unwrap_or(0) as u16;
    base.saturating_add(i)
}

pub fn run(args: CompareArgs, out: &mut Output) -> anyhow::Result<()> {
    let plan = Plan::try_from(&args)?;
    if plan.capture == CaptureMode::Required {
        capture::may_capture().hinted(
            "--capture",
            "capture needs root or CAP_NET_RAW: run with sudo, or grant it once with \
             `sudo setcap cap_net_raw,cap_net_admin=eip $(command -v netlab)`; \
             without --capture netlab measures the rest and says TCP/IP is not counted",
        )?;
    }
    // Create the chart's file before measuring, so a bad path fails in a moment rather
    // than after the whole run (as `capture -w` does).
    let chart = match &plan.plot {
        Some(path) => Some((
            std::fs::File::create(path).hinted(
                format!("could not write the chart to {}", path.display()),
                "check that the folder exists and is writable",
            )?,
            path,
        )),
        None => None,
    };
    let rt = runtime(Runtime::MultiThread)?;
    let report = rt.block_on(measure(&plan, |line| {
        let _ = out.progress(line);
    }));
    if let Some((mut file, path)) = chart {
        std::io::Write::write_all(&mut file, plot::svg(&report).as_bytes()).hinted(
            format!("could not write the chart to {}", path.display()),
            "check that the folder exists and is writable",
        )?;
    }
    if plan.csv && out.format() == crate::output::Format::Human {
        out.report(&CsvView(&report))?;
    } else {
        out.report(&report)?;
    }
    let failed: Vec<String> = report
        .columns
        .iter()
        .filter_map(|c| c.error.as_ref().map(|e| format!("{} ({e})", c.title)))
        .collect();
    if !failed.is_empty() {
        // The report above still has every transport that ran; the exit code says the
        // comparison is incomplete.
        return Err(error::Hinted::failure(format!(
            "{} of {} transport(s) failed: {}",
            failed.len(),
            report.columns.len(),
            failed.join("; ")
        ))
        .with_hint("the other columns were measured; see the report above")
        .into());
    }
    Ok(())
}

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

impl Column {
    fn wire_cell(&self, f: impl Fn(&WireTally) -> String) -> String {
        self.wire
            .as_ref()
            .map(f)
            .unwrap_or_else(|| "not counted".into())
    }

    /// Row label and value, in table order.
    fn rows(&self, show_up: bool) -> Vec<(&'static str, String)> {
        let lat = |f: fn(&Latency) -> u64| {
            self.latency
                .as_ref()
                .map(|l| ms(f(l)))
                .unwrap_or("-".into())
        };
        let mut rows = vec![
            (
                "events delivered",
                format!("{} / {}", self.delivered, self.expected),
            ),
            (
                "lost / duplicated / out of order",
                format!(
                    "{} / {} / {}",
                    self.lost, self.duplicated, self.out_of_order
                ),
            ),
            ("latency p50 (ms)", lat(|l| l.p50_us)),
            ("latency p95 (ms)", lat(|l| l.p95_us)),
            ("latency p99 (ms)", lat(|l| l.p99_us)),
            ("latency max (ms)", lat(|l| l.max_us)),
        ];
        if show_up {
            rows.extend(self.up_rows());
        }
        rows.extend(self.cost_rows());
        rows
    }

    /// The rows of messages going up (client to server), with `--direction up|both`.
    fn up_rows(&self) -> [(&'static str, String); 5] {
        let up = self.up.as_ref();
        let ulat = |f: fn(&Latency) -> u64| {
            up.and_then(|u| u.latency.as_ref())
                .map(|l| ms(f(l)))
                .unwrap_or("-".into())
        };
        [
            (
                "up: messages delivered",
                up.map(|u| format!("{} / {}", u.delivered, u.expected))
                    .unwrap_or("-".into()),
            ),
            (
                "up: lost / duplicated / out of order",
                up.map(|u| format!("{} / {} / {}", u.lost, u.duplicated, u.out_of_order))
                    .unwrap_or("-".into()),
            ),
            ("up: latency p50 (ms)", ulat(|l| l.p50_us)),
            ("up: latency p99 (ms)", ulat(|l| l.p99_us)),
            (
                "up: HTTP POSTs",
                up.map(|u| u.posts.to_string()).unwrap_or("-".into()),
            ),
        ]
    }

    /// What the delivery cost: requests, connections, bytes at the sockets and on the
    /// wire, CPU time.
    fn cost_rows(&self) -> Vec<(&'static str, String)> {
        let b = &self.bytes;
        vec![
            ("HTTP requests", self.requests.to_string()),
            ("empty polls", self.empty_polls.to_string()),
            ("TCP connections opened", self.connections.to_string()),
            ("bytes: event payload", b.payload.to_string()),
            ("bytes: HTTP heads", b.http_heads.to_string()),
            ("bytes: framing", b.framing.to_string()),
            (
                "bytes: total (up + down)",
                format!("{} ({} + {})", b.total, b.up, b.down),
            ),
            ("bytes per event", format!("{:.1}", b.per_event)),
            ("overhead per event", format!("{:.1}", b.overhead_per_event)),
            (
                "packets on the wire (capture)",
                self.wire_cell(|w| w.packets.to_string()),
            ),
            (
                "TCP/IP header bytes (capture)",
                self.wire_cell(|w| w.header_bytes().to_string()),
            ),
            (
                "bytes in IP packets (capture)",
                self.wire_cell(|w| w.ip_bytes.to_string()),
            ),
            (
                "TCP handshakes (SYNs seen)",
                self.wire_cell(|w| w.syns.to_string()),
            ),
            (
                "IP bytes per event (capture)",
                self.wire_cell(|w| {
                    format!("{:.1}", w.ip_bytes as f64 / self.delivered.max(1) as f64)
                }),
            ),
            (
                "server's count agrees",
                if b.server_agrees {
                    "yes".into()
                } else {
                    "NO".into()
                },
            ),
            (
                "CPU time, server (ms)",
                self.server_cpu_ms
                    .map(|c| format!("{c:.1}"))
                    .unwrap_or("-".into()),
            ),
            (
                "CPU time, clients (ms)",
                self.client_cpu_ms
                    .map(|c| format!("{c:.1}"))
                    .unwrap_or("-".into()),
            ),
            ("run time (ms)", format!("{:.0}", self.elapsed_ms)),
        ]
    }
}

fn timeline(steps: &[TraceStep]) -> Timeline {
    let mut t = Timeline::default();
    for s in steps {
        let side = s.end;
        t.push(match &s.sends {
            Some(what) => Step::send(Some(s.at_us), side, s.action.clone(), what.clone()),
            None => Step::local(Some(s.at_us), side, s.action.clone()),
        });
    }
    t
}

impl Render for CompareReport {
    fn render_human(&self, style: &Style) -> String {
        let w = &self.workload;
        let mut s = String::new();
        if self.explain {
            for c in &self.columns {
                s.push_str(&style.paint(Paint::Bold, format!("{}: the first exchanges", c.title)));
                s.push('\n');
                s.push_str(&timeline(&c.trace).render(style));
                s.push('\n');
            }
        }
        s.push_str(&style.paint(
            Paint::Bold,
            format!(
                "{} events of {} B {}, {}, {} client(s); poll every {} ms, long-poll hold {} ms",
                w.events,
                w.payload,
                match w.direction {
                    Traffic::Down => "server to client",
                    Traffic::Up => "client to server (per client)",
                    Traffic::Both => "each way (per client)",
                },
                if w.interval.is_zero() {
                    "all at once".to_owned()
                } else {
                    format!("one every {} ms", w.interval.as_millis())
                },
                w.clients,
                w.poll_interval.as_millis(),
                w.hold.as_millis()
            ),
        ));
        s.push('\n');
        let mut t = style.table();
        let mut header = vec![String::new()];
        header.extend(self.columns.iter().map(|c| c.title.to_owned()));
        t.set_header(header);
        let show_up = self.workload.direction.up();
        let rows: Vec<Vec<(&str, String)>> = self.columns.iter().map(|c| c.rows(show_up)).collect();
        if let Some(first) = rows.first() {
            for (i, (label, _)) in first.iter().enumerate() {
                let mut row = vec![(*label).to_owned()];
                row.extend(rows.iter().map(|r| r[i].1.clone()));
                t.add_row(row);
            }
        }
        s.push_str(&t.to_string());
        s.push('\n');
        for c in &self.columns {
            if let Some(e) = &c.error {
                s.push_str(&style.paint(Paint::Bad, format!("{} failed: {e}", c.title)));
                s.push('\n');
            }
            if c.delivered == 0 && c.expected > 0 {
                s.push_str(&style.paint(
                    Paint::Bad,
                    format!("{}: 0 event(s) delivered of {}", c.title, c.expected),
                ));
                s.push('\n');
            } else if c.lost > 0 || c.duplicated > 0 {
                s.push_str(&style.paint(
                    Paint::Warn,
                    format!(
                        "{}: {} event(s) lost, {} duplicated",
                        c.title, c.lost, c.duplicated
                    ),
                ));
                s.push('\n');
            }
        }
        s.push_str(&format!("TCP/IP overhead: {}.\n", self.tcpip_overhead));
        if self.columns.iter().any(|c| c.wire.is_some()) {
            for c in self.columns.iter().filter(|c| c.wire_note.is_some()) {
                s.push_str(&format!(
                    "{}: {}\n",
                    c.title,
                    c.wire_note.as_deref().unwrap_or("")
                ));
            }
        }
        s.push_str(EXPLANATION);
        s
    }
}

const EXPLANATION: &str = "\
What the numbers mean:
- latency is from the moment the server has an event to the moment the client has parsed it.
  A short-polling client only learns of an event at its next poll, so it waits on average
  about half the time between polls (poll interval + one round trip); long polling, SSE and
  WebSocket answer as soon as the event exists.
- HTTP heads are sent with every request and every answer (here a few dozen to ~150 B each;
  browsers add cookies and more, often several hundred). A WebSocket frame header is 2 B
  from server to client (2–10 B unmasked, 6–14 B masked from the client), after one
  upgrade request and its 101 answer, which are the first HTTP heads of the WebSocket column.
- empty polls are requests that came back with nothing (204 No Content): the price of asking
  before there is anything to get. short poll (new conn) also pays a TCP handshake per poll.
- CPU time: the server (with the event source) and the clients each run on a thread of
  their own, and each figure is that thread's time on a CPU: netlab's code plus the kernel's
  work in its system calls (on loopback, sending a packet also does most of its delivery).
";

/// The report as CSV: one row per transport.
pub struct CsvView<'a>(pub &'a CompareReport);

impl Serialize for CsvView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Render for CsvView<'_> {
    fn render_human(&self, _style: &Style) -> String {
        let mut s = String::from(
            "transport,expected,delivered,lost,duplicated,out_of_order,p50_us,p95_us,p99_us,max_us,\
requests,empty_polls,connections,payload_bytes,http_head_bytes,framing_bytes,up_bytes,down_bytes,\
total_bytes,bytes_per_event,server_cpu_ms,client_cpu_ms,error,up_delivered,up_lost,up_p50_us,up_p99_us,\
wire_packets,wire_tcpip_header_bytes,wire_ip_bytes,wire_syns\n",
        );
        for c in &self.0.columns {
            let l = c.latency;
            let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
            let b = &c.bytes;
            s.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.1},{},{},{},{},{},{},{},{},{},{},{}\n",
                serde_json::to_value(c.transport)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                c.expected,
                c.delivered,
                c.lost,
                c.duplicated,
                c.out_of_order,
                opt(l.map(|l| l.p50_us)),
                opt(l.map(|l| l.p95_us)),
                opt(l.map(|l| l.p99_us)),
                opt(l.map(|l| l.max_us)),
                c.requests,
                c.empty_polls,
                c.connections,
                b.payload,
                b.http_heads,
                b.framing,
                b.up,
                b.down,
                b.total,
                b.per_event,
                c.server_cpu_ms
                    .map(|v| format!("{v:.1}"))
                    .unwrap_or_default(),
                c.client_cpu_ms
                    .map(|v| format!("{v:.1}"))
                    .unwrap_or_default(),
                c.error.as_deref().unwrap_or("").replace([',', '\n'], ";"),
                opt(c.up.as_ref().map(|u| u.delivered)),
                opt(c.up.as_ref().map(|u| u.lost)),
                opt(c.up.as_ref().and_then(|u| u.latency).map(|l| l.p50_us)),
                opt(c.up.as_ref().and_then(|u| u.latency).map(|l| l.p99_us)),
                opt(c.wire.map(|w| w.packets)),
                opt(c.wire.map(|w| w.header_bytes())),
                opt(c.wire.map(|w| w.ip_bytes)),
                opt(c.wire.map(|w| w.syns)),
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::push;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        let l = Latency::of(&v).unwrap();
        assert_eq!((l.p50_us, l.p95_us, l.p99_us, l.max_us), (50, 95, 99, 100));
        let l = Latency::of(&[7]).unwrap();
        assert_eq!((l.p50_us, l.max_us), (7, 7));
        assert_eq!(Latency::of(&[]), None);
    }

    #[test]
    fn loss_duplicates_and_order_are_counted_from_what_arrived() {
        let w = Workload {
            events: 4,
            interval: Duration::ZERO,
            payload: 8,
            poll_interval: Duration::from_millis(1),
            hold: Duration::from_millis(1),
            clients: 2,
            direction: Traffic::Down,
        };
        let run = TransportRun {
            transport: PushTransport::Sse,
            tally: push::ClientTally {
                received: vec![vec![0, 2, 1, 2], vec![0, 1, 2, 3]],
                ..Default::default()
            },
            client_read: 10,
            client_written: 5,
            server_read: 5,
            server_written: 10,
            accepted: 2,
            error: None,
            up: None,
            trace: vec![],
            server_port: 1,
            wire: None,
            wire_note: None,
            elapsed_us: 1,
            server_cpu: None,
            client_cpu: None,
        };
        let c = column(&run, &w);
        assert_eq!(
            (
                c.expected,
                c.delivered,
                c.lost,
                c.duplicated,
                c.out_of_order
            ),
            (8, 7, 1, 1, 1)
        );
        assert!(c.bytes.server_agrees);
    }

    #[test]
    fn a_failed_transport_is_named_and_the_others_still_reported() {
        let w = Workload {
            events: 2,
            interval: Duration::ZERO,
            payload: 8,
            poll_interval: Duration::from_millis(1),
            hold: Duration::from_millis(1),
            clients: 1,
            direction: Traffic::Down,
        };
        let ok = TransportRun {
            transport: PushTransport::WebSocket,
            tally: push::ClientTally {
                received: vec![vec![0, 1]],
                latencies_us: vec![100, 200],
                ..Default::default()
            },
            client_read: 0,
            client_written: 0,
            server_read: 0,
            server_written: 0,
            accepted: 1,
            error: None,
            up: None,
            trace: vec![],
            server_port: 1,
            wire: None,
            wire_note: None,
            elapsed_us: 1,
            server_cpu: None,
            client_cpu: None,
        };
        let report = CompareReport {
            workload: w.clone(),
            columns: vec![
                failed_column(
                    PushTransport::Sse,
                    &w,
                    "could not bind: address in use".into(),
                ),
                column(&ok, &w),
            ],
            tcpip_overhead: String::new(),
            explain: false,
        };
        let text = report.render_human(&Style::plain());
        assert!(
            text.contains("SSE failed: could not bind: address in use"),
            "{text}"
        );
        assert!(text.contains("SSE: 0 event(s) delivered of 2"), "{text}");
        assert!(text.contains("WebSocket"));
        assert_eq!(report.columns[0].lost, 2);
        assert_eq!(report.columns[1].delivered, 2);
    }
}
