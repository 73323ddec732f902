//! The tour's seven chapters: each runs a lab's demo through its `cmd::*` function and
//! reads one line of meaning out of the report it returns.

use super::packet::{self, PacketReport};
use super::Chapter;
use crate::cmd::compare::{self, CompareReport};
use crate::cmd::delivery::{self, DeliveryReport, Fault, Mode};
use crate::cmd::socketio::demo::DemoReport as SioReport;
use crate::cmd::tcp::{self, DemoReport as TcpReport};
use crate::cmd::udp::demo::{self as udp_demo, DemoReport as UdpReport, StreamComparison};
use crate::cmd::udp::tcp_loss::{NotShown, Outcome};
use crate::cmd::ws::{self, HandshakePlan, HandshakeReport};
use crate::net::push::{PushTransport, Traffic, Workload};
use crate::net::runtime::{runtime, Runtime};
use crate::net::ws::WsTrace;
use crate::output::{Paint, Render, Style};
use crate::wire::application::websocket::Role;
use anyhow::Context;
use serde::Serialize;
use std::time::Duration;

/// The relay's seed in chapter 2: fixed, so every run (and every student) loses the same
/// probes. It is `netlab udp demo`'s default seed too.
pub const UDP_SEED: u64 = 1;

/// A chapter's demo report, as the lab's own command builds it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ChapterData {
    Tcp(TcpReport),
    Udp(Box<UdpReport>),
    Layers(Box<PacketReport>),
    WebSocket(Box<WsChapter>),
    Compare(CompareReport),
    SocketIo(Box<SioChapter>),
    Delivery(Box<DeliveryReport>),
}

impl Render for ChapterData {
    fn render_human(&self, style: &Style) -> String {
        match self {
            ChapterData::Tcp(r) => r.render_human(style),
            ChapterData::Udp(r) => r.render_human(style),
            ChapterData::Layers(r) => r.render_human(style),
            ChapterData::WebSocket(r) => r.render_human(style),
            ChapterData::Compare(r) => r.render_human(style),
            ChapterData::SocketIo(r) => r.render_human(style),
            ChapterData::Delivery(r) => r.render_human(style),
        }
    }
}

/// Run one chapter: its report and its takeaway.
pub fn run(c: Chapter, quick: bool) -> anyhow::Result<(ChapterData, String)> {
    match c {
        Chapter::Tcp => {
            let r = tcp_demo(quick)?;
            let t = tcp_takeaway(&r);
            Ok((ChapterData::Tcp(r), t))
        }
        Chapter::Udp => {
            let r = udp_demo(quick)?;
            let t = udp_takeaway(&r);
            Ok((ChapterData::Udp(Box::new(r)), t))
        }
        Chapter::Layers => {
            let r = packet::run()?;
            let t = r.takeaway();
            Ok((ChapterData::Layers(Box::new(r)), t))
        }
        Chapter::WebSocket => {
            let r = ws_chapter()?;
            let t = r.takeaway();
            Ok((ChapterData::WebSocket(Box::new(r)), t))
        }
        Chapter::Compare => {
            let r = comparison(quick)?;
            let t = compare_takeaway(&r)?;
            Ok((ChapterData::Compare(r), t))
        }
        Chapter::SocketIo => {
            let r = sio_chapter()?;
            let t = r.takeaway();
            Ok((ChapterData::SocketIo(Box::new(r)), t))
        }
        Chapter::Delivery => {
            let r = delivery_chapter(quick)?;
            let t = delivery_takeaway(&r)?;
            Ok((ChapterData::Delivery(Box::new(r)), t))
        }
    }
}

/// Chapter 7: `netlab delivery --modes 1,5,6 --faults cut,lost-ack`, with fewer events when
/// quick. The default seed, so a student can run the same with `netlab delivery`.
fn delivery_chapter(quick: bool) -> anyhow::Result<DeliveryReport> {
    let plan = delivery::Plan {
        events: if quick { 100 } else { 200 },
        interval: Duration::from_millis(10),
        modes: vec![Mode::Emit, Mode::Ack, Mode::Dedup],
        faults: vec![Fault::Cut, Fault::LostAck],
        seed: 1,
        explain: false,
        parallel: 6,
    };
    delivery::measure_all(&plan, &mut |_| {})
        .context("the delivery experiment (`netlab delivery --modes 1,5,6 --faults cut,lost-ack`)")
}

/// One line from the run: what emit lost, what retries processed twice, what dedup skipped.
fn delivery_takeaway(r: &DeliveryReport) -> anyhow::Result<String> {
    let row = |mode: Mode, fault: Fault| {
        r.rows
            .iter()
            .find(|x| x.mode == mode && x.fault == fault)
            .with_context(|| format!("no row for {} under {}", mode.name(), fault.name()))
    };
    let (emit, ack, dedup) = (
        row(Mode::Emit, Fault::Cut)?,
        row(Mode::Ack, Fault::LostAck)?,
        row(Mode::Dedup, Fault::LostAck)?,
    );
    Ok(format!(
        "A cut connection cost the plain emit {} of {} events, and nobody noticed. With \
         acknowledgements and retries nothing was lost, but a lost acknowledgement made the \
         consumer process {} event(s) twice; the consumer that remembers what it processed \
         skipped {} repeat(s) and processed each event once. No transport delivers exactly \
         once: at least once, to an idempotent receiver, gives its effect. To survive a \
         server restart too, a message queue keeps every message on disk until a consumer \
         acknowledges it: `netlab queue demo`.",
        emit.counts.lost, emit.counts.sent, ack.counts.duplicated, dedup.deduplicated
    ))
}

/// Chapter 6: `netlab socketio demo`, shown in part (the upgrade and the cheatsheet); the
/// JSON keeps the whole report.
#[derive(Debug, Serialize)]
pub struct SioChapter {
    pub demo: SioReport,
}

fn sio_chapter() -> anyhow::Result<SioChapter> {
    let rt = runtime(Runtime::MultiThread)?;
    let demo = rt.block_on(crate::cmd::socketio::demo::demo());
    rt.shutdown_background();
    let demo = demo.context("the Socket.IO demo (`netlab socketio demo`)")?;
    Ok(SioChapter { demo })
}

impl SioChapter {
    /// The upgrade's step, if the demo had one.
    fn upgrade(&self) -> Option<&crate::cmd::socketio::demo::Step> {
        self.demo.steps.iter().find(|s| s.title.contains("upgrade"))
    }

    /// One line from the run: how the session started, and what the cheatsheet showed.
    pub fn takeaway(&self) -> String {
        let rows = &self.demo.cheatsheet.rows;
        let clients = self.demo.cheatsheet.members.len();
        let reached = |code: &str| {
            rows.iter()
                .find(|r| r.code.starts_with(code))
                .map_or(0, |r| r.received_by.len())
        };
        format!(
            "The session opened over HTTP long-polling and moved to WebSocket once its probe \
             came back (the waiting GET got `{}`). Of {clients} clients, io.emit reached {}, \
             socket.broadcast.emit {}, io.to(\"room1\") {} and socket.to(socket.id) {}: \
             rooms and namespaces are the server's choice of receivers, one copy per \
             connection.",
            self.demo.session.released_get.join(" "),
            reached("io.emit"),
            reached("socket.broadcast.emit"),
            reached("io.to(\"room1\")"),
            reached("socket.to(socket.id)")
        )
    }
}

impl Render for SioChapter {
    fn render_human(&self, style: &Style) -> String {
        use crate::cmd::socketio::demo::render::{render_cheatsheet, render_step};
        let mut s = String::new();
        if let Some(step) = self.upgrade() {
            s.push_str(&render_step(1, step, style));
        }
        s.push_str(&render_cheatsheet(2, &self.demo.cheatsheet, style));
        s
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

// ---- 1. TCP ---------------------------------------------------------------------------

fn tcp_demo(quick: bool) -> anyhow::Result<TcpReport> {
    let plan = tcp::DemoPlan {
        // The large write must outgrow loopback's socket buffers to be cut; 256 KiB does.
        large: if quick { 256 << 10 } else { 1 << 20 },
        ..tcp::DemoPlan::default()
    };
    runtime(Runtime::CurrentThread)?
        .block_on(tcp::byte_stream_demo(&plan))
        .context("the TCP byte-stream demo (`netlab tcp demo`)")
}

/// Writes against reads, from the report.
pub fn tcp_takeaway(r: &TcpReport) -> String {
    let case = |id: &str| r.cases.iter().find(|c| c.id == id);
    let mut parts = Vec::new();
    if let Some(c) = case("small-writes") {
        let (w, rd) = (c.writes.len(), c.reads.len());
        parts.push(if w == rd {
            format!(
                "{} arrived in {} this time, by chance: TCP promises no boundaries",
                plural(w, "write", "writes"),
                plural(rd, "read", "reads")
            )
        } else {
            format!(
                "{} arrived in {}: TCP kept no boundaries between them",
                plural(w, "write", "writes"),
                plural(rd, "read", "reads")
            )
        });
        parts.push(format!(
            "the first connection was {} ⇄ {} (its 4-tuple)",
            c.client, c.server
        ));
    }
    if let Some(c) = case("large-write") {
        parts.push(format!(
            "one write_all of {} took {} and the server {}",
            tcp::human_bytes(c.bytes_sent as u64),
            plural(c.writes.len(), "write() call", "write() calls"),
            plural(c.reads.len(), "read", "reads")
        ));
    }
    if let Some(f) = case("newline-framing").and_then(|c| c.framing.as_ref()) {
        parts.push(format!(
            "newline framing recovered {} of {} messages{}",
            f.recovered.len(),
            f.sent.len(),
            if f.exact { " exactly" } else { ", NOT exactly" }
        ));
    }
    let intact = r.cases.iter().all(|c| c.stream_intact);
    parts.push(if intact {
        format!(
            "in all {} connections every byte arrived, in order",
            r.cases.len()
        )
    } else {
        "in some connection the bytes received DIFFER from those sent".to_owned()
    });
    let mut s = parts.join("; ");
    s.push('.');
    upper_first(s)
}

fn upper_first(s: String) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

// ---- 2. UDP ---------------------------------------------------------------------------

fn udp_demo(quick: bool) -> anyhow::Result<UdpReport> {
    let plan = udp_demo::Plan {
        seed: UDP_SEED,
        probes: if quick { 50 } else { 200 },
    };
    // `demo` runs its own runtime for the relay part, so it is called outside one.
    let report = udp_demo::demo(&plan).context("the UDP demo (`netlab udp demo`)")?;
    // The same sizes written to a TCP connection, for the side-by-side row.
    let sizes = report.boundaries.sends.clone();
    let writes: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![b'a'; n]).collect();
    let reads = runtime(Runtime::CurrentThread)?
        .block_on(tcp::same_writes_over_tcp(&writes, Duration::from_secs(2)))
        .context("the UDP demo's TCP comparison")?;
    Ok(report
        .with_tcp_comparison(StreamComparison {
            protocol: "TCP".into(),
            writes: sizes,
            reads,
        })
        .with_tcp_under_loss(Outcome::NotShown(NotShown {
            reason: "the tour leaves it out to stay short".into(),
            hint: "run `netlab udp demo` (with sudo, or where the kernel lets users make \
                   namespaces) to see TCP retransmit under the same loss"
                .into(),
        })))
}

/// Boundaries and loss, from the report.
pub fn udp_takeaway(r: &UdpReport) -> String {
    let b = &r.boundaries;
    let mut s = if b.one_to_one {
        format!(
            "{} of {:?} B arrived as {} of {:?} B: one receive per datagram, boundaries kept",
            plural(b.sends.len(), "datagram", "datagrams"),
            b.sends,
            plural(b.receives.len(), "receive", "receives"),
            b.receives
        )
    } else {
        format!(
            "the datagrams sent as {:?} B were received as {:?} B: NOT one for one",
            b.sends, b.receives
        )
    };
    if let Some(c) = &r.tcp_comparison {
        s.push_str(&format!(" (TCP read the same writes as {:?} B)", c.reads));
    }
    let l = &r.loss;
    match &l.receiver {
        Some(row) => {
            let same = if row.summary.lost == l.relay_dropped {
                "the same number"
            } else {
                "a different number"
            };
            s.push_str(&format!(
                ". The relay dropped {} of {} probes (seed {}); the receiver counted {} lost \
                 from the sequence numbers, {same}, and nobody resent them.",
                l.relay_dropped, l.sent, l.seed, row.summary.lost
            ));
        }
        None => s.push_str(&format!(
            ". The relay dropped {} of {} probes (seed {}) and no probe reached the receiver.",
            l.relay_dropped, l.sent, l.seed
        )),
    }
    upper_first(s)
}

// ---- 4. WebSocket -----------------------------------------------------------------------

/// The handshake computed for the demo's own key, beside the demo.
#[derive(Debug, Serialize)]
pub struct WsChapter {
    /// Sec-WebSocket-Accept computed here from the client's key, step by step.
    pub handshake: HandshakeReport,
    /// What the server sent in Sec-WebSocket-Accept.
    pub server_accept: Option<String>,
    pub accept_matches: bool,
    pub client_frames: usize,
    pub client_masked: usize,
    /// Different masking keys among the client's frames.
    pub mask_keys: usize,
    pub server_frames: usize,
    pub server_masked: usize,
    pub demo: ws::demo::DemoReport,
}

fn header<'t>(trace: &'t [WsTrace], from: Role, name: &str) -> Option<&'t str> {
    trace.iter().find_map(|t| match t {
        WsTrace::Handshake {
            from: f, headers, ..
        } if *f == from => headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str()),
        _ => None,
    })
}

fn ws_chapter() -> anyhow::Result<WsChapter> {
    let rt = runtime(Runtime::MultiThread)?;
    let demo = rt.block_on(ws::demo::demo());
    rt.shutdown_background();
    let demo = demo.context("the WebSocket demo (`netlab ws demo`)")?;
    let key = header(&demo.trace, Role::Client, "Sec-WebSocket-Key")
        .context("the demo's client sent no Sec-WebSocket-Key")?
        .to_owned();
    let server_accept =
        header(&demo.trace, Role::Server, "Sec-WebSocket-Accept").map(str::to_owned);
    let handshake = ws::handshake_report(&HandshakePlan { key });
    let frames: Vec<&crate::net::ws::FrameTrace> = demo
        .trace
        .iter()
        .filter_map(|t| match t {
            WsTrace::Frame(f) => Some(f),
            WsTrace::Handshake { .. } => None,
        })
        .collect();
    let client: Vec<_> = frames.iter().filter(|f| f.from == Role::Client).collect();
    let server: Vec<_> = frames.iter().filter(|f| f.from == Role::Server).collect();
    let keys: std::collections::BTreeSet<&str> = client
        .iter()
        .filter_map(|f| f.mask_key.as_deref())
        .collect();
    Ok(WsChapter {
        accept_matches: server_accept.as_deref() == Some(handshake.steps.accept.as_str()),
        server_accept,
        handshake,
        client_frames: client.len(),
        client_masked: client.iter().filter(|f| f.masked).count(),
        mask_keys: keys.len(),
        server_frames: server.len(),
        server_masked: server.iter().filter(|f| f.masked).count(),
        demo,
    })
}

impl WsChapter {
    /// The handshake and the masking, from the trace.
    pub fn takeaway(&self) -> String {
        let accept = match &self.server_accept {
            Some(a) if self.accept_matches => format!(
                "The server's Sec-WebSocket-Accept, {a}, is base64(SHA-1(key + GUID)) of the \
                 key this client sent, as computed above"
            ),
            Some(a) => format!(
                "The server's Sec-WebSocket-Accept, {a}, is NOT what the key gives ({})",
                self.handshake.steps.accept
            ),
            None => "The server sent no Sec-WebSocket-Accept".to_owned(),
        };
        format!(
            "{accept}; {} of {} client frames were masked, with {}, and {} of {} server \
             frames (RFC 6455 §5.1: client to server only).",
            self.client_masked,
            self.client_frames,
            plural(self.mask_keys, "key", "different keys"),
            self.server_masked,
            self.server_frames
        )
    }
}

impl Render for WsChapter {
    fn render_human(&self, style: &Style) -> String {
        format!(
            "{}\n{}\n{}",
            style.paint(
                Paint::Dim,
                "First the Accept computation, for the key the demo's client is about to send:"
            ),
            self.handshake.render_human(style),
            self.demo.render_human(style)
        )
    }
}

// ---- 5. HTTP versus WebSocket -----------------------------------------------------------

/// Chapter 5's workload: `netlab compare`'s defaults, with fewer events.
pub fn workload(quick: bool) -> Workload {
    Workload {
        events: if quick { 10 } else { 40 },
        interval: Duration::from_millis(20),
        payload: 32,
        poll_interval: Duration::from_millis(50),
        hold: Duration::from_millis(1000),
        clients: 1,
        direction: Traffic::Down,
    }
}

fn comparison(quick: bool) -> anyhow::Result<CompareReport> {
    let plan = compare::Plan {
        workload: workload(quick),
        transports: PushTransport::ALL.to_vec(),
        explain: false,
        csv: false,
        plot: None,
        // Counts packets and TCP/IP headers on the wire where netlab may capture; elsewhere
        // each column says why it could not.
        capture: compare::CaptureMode::Auto,
        port: 0,
    };
    let rt = runtime(Runtime::MultiThread)?;
    let report = rt.block_on(compare::measure(&plan, |_| {}));
    rt.shutdown_background();
    Ok(report)
}

/// WebSocket push against short polling, from the report. A transport that failed
/// fails the chapter: its numbers would mean nothing.
pub fn compare_takeaway(r: &CompareReport) -> anyhow::Result<String> {
    if let Some(c) = r.columns.iter().find(|c| c.error.is_some()) {
        anyhow::bail!(
            "{} failed during the comparison: {}",
            c.title,
            c.error.as_deref().unwrap_or("")
        );
    }
    let col = |t: PushTransport| {
        r.columns
            .iter()
            .find(|c| c.transport == t)
            .with_context(|| format!("the comparison has no {} column", t.title()))
    };
    let (ws, sp) = (
        col(PushTransport::WebSocket)?,
        col(PushTransport::ShortPoll)?,
    );
    let p50 = |c: &compare::Column| {
        c.latency.map_or("-".to_owned(), |l| {
            format!("{:.1} ms", l.p50_us as f64 / 1000.0)
        })
    };
    let ratio = if ws.bytes.per_event > 0.0 {
        format!(
            ": {:.1}× WebSocket's bytes per event",
            sp.bytes.per_event / ws.bytes.per_event
        )
    } else {
        String::new()
    };
    let wire = match (&ws.wire, &sp.wire) {
        (Some(w), Some(p)) => format!(
            " On the wire (captured), short polling took {} IP packets and WebSocket {}.",
            p.packets, w.packets
        ),
        _ => String::new(),
    };
    Ok(format!(
        "WebSocket push delivered {} of {} events, median latency {}, {:.0} B per event over {}; \
         short polling (a new connection per poll) made {} ({} came back empty), opened {} and spent {:.0} B per event, \
         median latency {}{ratio}.{wire}",
        ws.delivered,
        ws.expected,
        p50(ws),
        ws.bytes.per_event,
        plural(ws.connections as usize, "connection", "connections"),
        plural(sp.requests as usize, "request", "requests"),
        sp.empty_polls,
        plural(sp.connections as usize, "connection", "connections"),
        sp.bytes.per_event,
        p50(sp),
    ))
}
