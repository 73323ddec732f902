//! `netlab capture`: read frames (live or from a file), decode them with
//! `wire::dissect`, filter, annotate TCP conversations, and hand each packet to
//! `output` as an event; a summary report ends the run.

pub mod applayers;
pub mod follow;
pub mod stats;

use crate::cli::capture::CaptureArgs;
use crate::error::{usage, HintExt, Hinted};
use crate::layers::Protocol;
use crate::net::capture::{CaptureError, FileSource, Frame, PcapSink, RecordProblem};
use crate::output::{hexdump, oneline, packet, Format, Output, Paint, Render, Style};
use crate::wire::app::{AppLayer, AppMessage};
use crate::wire::checksum::Checked;
use crate::wire::dissect::{dissect, Dissection, Field, LayerRepr, LinkType, Stopped};
use crate::wire::filter::Filter;
use crate::wire::flow::{Annotation, FlowTable, Limits, Note, State};
use serde::Serialize;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

/// Where packets come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    File(PathBuf),
    Live {
        interface: Option<String>,
    },
    /// Re-run netlab inside a fresh user + network namespace around `command`.
    OwnNamespace {
        command: Vec<String>,
    },
    /// Inside that namespace: capture on its loopback while `command` runs.
    InNamespace {
        command: Vec<String>,
    },
    List,
}

/// Which views of each packet to show (human output).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct View {
    pub layers: bool,
    pub osi: bool,
    pub hex: bool,
}

impl View {
    fn detailed(self) -> bool {
        self.layers || self.osi || self.hex
    }
}

/// A validated `netlab capture`.
#[derive(Debug, Clone)]
pub struct Plan {
    pub source: Source,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    pub filter: Option<(String, Filter)>,
    pub view: View,
    pub write: Option<PathBuf>,
    pub queue: usize,
    /// Only the summary.
    pub quiet: bool,
    /// `--follow`: one conversation's reassembled bytes instead of packets.
    pub follow: Option<crate::wire::flow::Which>,
    /// `--stats`: a protocol hierarchy and conversations table instead of packets.
    pub stats: bool,
    /// Bounds on the reassembler's memory (`--max-stream-buffer`).
    pub limits: crate::wire::flow::Limits,
}

impl TryFrom<CaptureArgs> for Plan {
    type Error = anyhow::Error;

    fn try_from(a: CaptureArgs) -> anyhow::Result<Plan> {
        if a.list && (a.read.is_some() || a.own_namespace || !a.filter.is_empty()) {
            return Err(usage(
                "--list takes no other options",
                "run `netlab capture --list` on its own",
            ));
        }
        if a.read.is_some() && (a.interface.is_some() || a.own_namespace) {
            return Err(usage("--read takes packets from a file; it cannot be combined with --interface or --own-namespace", "drop one of them"));
        }
        if !(a.command.is_empty() || a.own_namespace || a.in_namespace) {
            return Err(usage(
                "a command after `--` is only run with --own-namespace",
                "netlab capture --own-namespace -- COMMAND ...",
            ));
        }
        if (a.own_namespace || a.in_namespace) && a.command.is_empty() {
            return Err(usage(
                "--own-namespace needs a command to run, after `--`",
                "for example: netlab capture --own-namespace -- curl -s http://127.0.0.1:8000/",
            ));
        }
        if a.own_namespace && a.interface.is_some() {
            return Err(usage("--own-namespace captures on the namespace's own loopback; --interface does not apply", "drop --interface"));
        }
        if a.count == Some(0) {
            return Err(usage(
                "--count must be at least 1",
                "leave it out to capture until the end (or Ctrl-C)",
            ));
        }
        let duration = match a.duration {
            None => None,
            Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Some(Duration::from_secs_f64(s)),
            Some(s) => {
                return Err(usage(
                    format!("--duration {s} is not a positive number of seconds"),
                    "for example --duration 5",
                ))
            }
        };
        if a.queue == 0 {
            return Err(usage("--queue must be at least 1", "the default is 16384"));
        }
        let filter = if a.filter.is_empty() {
            None
        } else {
            let text = a.filter.join(" ");
            match Filter::parse(&text) {
                Ok(f) => Some((text, f)),
                Err(e) => {
                    let marked: Vec<String> = e
                        .pointer(&text)
                        .lines()
                        .map(|l| format!("      {l}"))
                        .collect();
                    let hint = format!(
                        "the filter, with the problem marked:\n{}",
                        marked.join("\n")
                    );
                    return Err(Hinted::usage(format!("bad filter: {e}"))
                        .with_hint(hint)
                        .into());
                }
            }
        };
        let source = if a.list {
            Source::List
        } else if let Some(p) = a.read {
            Source::File(p)
        } else if a.in_namespace {
            Source::InNamespace { command: a.command }
        } else if a.own_namespace {
            Source::OwnNamespace { command: a.command }
        } else {
            Source::Live {
                interface: a.interface,
            }
        };
        let follow = match &a.follow {
            None => None,
            Some(f) => {
                if a.layers || a.osi || a.quiet {
                    return Err(usage(
                        "--follow shows one conversation's bytes; --layers, --osi and --quiet show packets",
                        "drop one of them (--hex with --follow gives a hexdump of the stream)",
                    ));
                }
                Some(follow::parse_which(f)?)
            }
        };
        if a.stats && (a.follow.is_some() || a.layers || a.osi || a.hex || a.quiet) {
            return Err(usage(
                "--stats counts the whole capture; it takes no packet view, --follow or --quiet",
                "run `netlab capture --read FILE --stats` on its own, then --follow N",
            ));
        }
        let mut limits = crate::wire::flow::Limits::default();
        if let Some(b) = &a.max_stream_buffer {
            if a.follow.is_none() && !a.stats {
                return Err(usage(
                    "--max-stream-buffer bounds the reassembly of --follow and --stats",
                    "add --follow N or --stats",
                ));
            }
            limits.max_buffered = follow::parse_bytes(b)?;
        }
        Ok(Plan {
            limits,
            stats: a.stats,
            follow,
            source,
            count: a.count,
            duration,
            filter,
            view: View {
                layers: a.layers,
                osi: a.osi,
                hex: a.hex,
            },
            write: a.write,
            queue: a.queue,
            quiet: a.quiet,
        })
    }
}

/// One decoded layer, as data (for `--json` / `--jsonl`).
#[derive(Debug, Serialize)]
pub struct LayerOut {
    pub protocol: Protocol,
    pub name: &'static str,
    pub osi_layer: u8,
    pub osi: &'static str,
    pub tcpip: &'static str,
    pub pdu: &'static str,
    /// Byte range of the header inside the frame.
    pub header: Range<usize>,
    pub quoted: bool,
    pub summary: String,
    pub fields: Vec<Field>,
    pub decoded: Decoded,
    /// Application layers: the first and last packet the unit's bytes came in, when
    /// it spans several (Wireshark's "reassembled TCP segments").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reassembled_from: Option<(u64, u64)>,
}

/// A layer's typed contents: a header decoded from this frame, or an application unit
/// decoded from the reassembled stream.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Decoded {
    Wire(LayerRepr),
    App(AppMessage),
}

/// One packet: what the one-line view says, and (for JSON and detailed views) every layer.
#[derive(Debug, Serialize)]
pub struct PacketEvent {
    pub number: u64,
    /// Capture time, microseconds since the Unix epoch (UTC).
    pub ts_us: u64,
    pub captured_len: usize,
    pub orig_len: u32,
    pub link: LinkType,
    pub network: Option<Protocol>,
    pub protocol: Option<Protocol>,
    /// Source and destination (address:port), the one-line view's text: filled for JSON;
    /// human output writes them straight from the dissection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    pub tcp: Option<Annotation>,
    /// What the conversation tracker noticed about this segment (retransmission,
    /// duplicate ACK, zero window, ...), in the one-line view as Wireshark shows them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<LayerOut>>,
    /// This packet carries bytes of an application unit that completes later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdu_continues: Option<Protocol>,
    pub payload: Range<usize>,
    pub stopped: Option<Stopped>,
    #[serde(skip)]
    view: View,
    /// Human output: the dissection (and, for detailed views, the frame's bytes).
    #[serde(skip)]
    dissection: Option<Dissection>,
    #[serde(skip)]
    frame: Option<Vec<u8>>,
    /// Human output: application layers for the detailed views.
    #[serde(skip)]
    app: Vec<AppLayer>,
}

/// The end of a run.
#[derive(Debug, Serialize)]
pub struct CaptureSummary {
    pub source: String,
    pub link: Option<LinkType>,
    /// Frames read from the file or handed over by the capture thread.
    pub frames: u64,
    /// Packets shown (that matched the filter).
    pub shown: u64,
    pub filter: Option<String>,
    /// Live: frames lost because netlab fell behind.
    pub dropped: Option<u64>,
    /// Live on loopback: second copies removed.
    pub loopback_duplicates_removed: Option<u64>,
    /// Packets whose decoding stopped before the payload.
    pub decode_stopped: u64,
    /// TCP/UDP/ICMPv6 checksums that did not verify (normal on loopback: offload).
    pub checksums_not_verified: u64,
    /// The conversation tracker's notes over the shown packets.
    pub tcp_notes: stats::NoteCounts,
    pub truncated_record: Option<u64>,
    pub written: Option<PathBuf>,
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packets: Vec<PacketEvent>,
}

/// Live capture has started: packets sent from now on are seen.
#[derive(Debug, Serialize)]
pub struct CaptureStarted {
    pub event: &'static str,
    pub interface: String,
    pub loopback: bool,
    pub filter: Option<String>,
}

impl Render for CaptureStarted {
    fn render_human(&self, style: &Style) -> String {
        let f = self
            .filter
            .as_ref()
            .map(|f| format!(", filter `{f}`"))
            .unwrap_or_default();
        style.paint(
            Paint::Dim,
            format!("capturing on {}{f} (Ctrl-C to stop)", self.interface),
        )
    }
}

/// `--list`.
#[cfg(feature = "capture")]
#[derive(Debug, Serialize)]
pub struct InterfaceList {
    pub interfaces: Vec<crate::net::capture::InterfaceInfo>,
}

#[cfg(feature = "capture")]
impl Render for InterfaceList {
    fn render_human(&self, style: &Style) -> String {
        let mut t = style.table();
        t.set_header(vec!["interface", "index", "state", "MAC", "addresses"]);
        for i in &self.interfaces {
            let state = format!(
                "{}{}",
                if i.up { "up" } else { "down" },
                if i.loopback { ", loopback" } else { "" }
            );
            t.add_row(vec![
                i.name.clone(),
                i.index.to_string(),
                state,
                i.mac.clone().unwrap_or_else(|| "-".into()),
                i.addresses.join("\n"),
            ]);
        }
        t.to_string()
    }
}

fn checksum_failed(d: &Dissection) -> bool {
    d.layers.iter().any(|l| {
        let c = match &l.repr {
            LayerRepr::Tcp(t) => t.checksum_check,
            LayerRepr::Udp(u) => u.checksum_check,
            LayerRepr::Icmpv6(i) => i.checksum_check,
            _ => return false,
        };
        matches!(c, Checked::Incorrect { .. })
    })
}

/// Turns frames into events and counts what happened.
struct Pipeline<'o> {
    out: &'o mut Output,
    plan: Plan,
    /// Conversations, reassembly and expert notes (the same table `--follow` and
    /// `--stats` use, so conversation numbers agree).
    flows: FlowTable,
    /// Application layers per packet, for JSON and the detailed views.
    apps: Option<applayers::AppLayers>,
    sink: Option<PcapSink>,
    summary: CaptureSummary,
    json_all: bool,
    full: bool,
    follower: Option<follow::Follower>,
    stats: Option<stats::Stats>,
}

impl<'o> Pipeline<'o> {
    fn new(out: &'o mut Output, plan: Plan, source: String) -> anyhow::Result<Pipeline<'o>> {
        let sink = match &plan.write {
            Some(p) => {
                Some(PcapSink::create(p).failed(format!("could not create `{}`", p.display()))?)
            }
            None => None,
        };
        let limits = plan.limits;
        let follower = plan
            .follow
            .map(|w| follow::Follower::with_limits(w, limits));
        let stats = plan.stats.then(|| stats::Stats::with_limits(limits));
        let json_all = out.format() == Format::Json;
        let full = out.format() != Format::Human || plan.view.detailed();
        let summary = CaptureSummary {
            source,
            link: None,
            frames: 0,
            shown: 0,
            filter: plan.filter.as_ref().map(|f| f.0.clone()),
            dropped: None,
            loopback_duplicates_removed: None,
            decode_stopped: 0,
            checksums_not_verified: 0,
            tcp_notes: Default::default(),
            truncated_record: None,
            written: plan.write.clone(),
            note: None,
            packets: Vec::new(),
        };
        Ok(Pipeline {
            out,
            plan,
            flows: FlowTable::streaming(Limits::default()),
            apps: full.then(applayers::AppLayers::default),
            sink,
            summary,
            json_all,
            full,
            follower,
            stats,
        })
    }

    fn done(&self) -> bool {
        self.plan.count.is_some_and(|c| self.summary.shown >= c)
    }

    /// Handle one frame; `Ok(true)` when the count is reached.
    fn frame(&mut self, f: Frame<'_>) -> anyhow::Result<bool> {
        self.summary.frames += 1;
        self.summary.link.get_or_insert(f.link);
        let d = dissect(f.link, f.data);
        if let Some((_, filter)) = &self.plan.filter {
            if !filter.matches(&d) {
                return Ok(false);
            }
        }
        self.summary.shown += 1;
        if d.stopped.is_some() {
            self.summary.decode_stopped += 1;
        }
        if checksum_failed(&d) {
            self.summary.checksums_not_verified += 1;
        }
        if let Some(sink) = self.sink.as_mut() {
            sink.write(&f).failed("writing the capture file")?;
        }
        if let Some(st) = self.stats.as_mut() {
            st.packet(
                &d,
                f.data,
                f.orig_len,
                u64::try_from(f.ts.as_micros()).unwrap_or(u64::MAX),
            );
            return Ok(self.done());
        }
        if let Some(fo) = self.follower.as_mut() {
            fo.packet(
                &d,
                f.data,
                u64::try_from(f.ts.as_micros()).unwrap_or(u64::MAX),
            );
            return Ok(self.done());
        }
        let ts_us = u64::try_from(f.ts.as_micros()).unwrap_or(u64::MAX);
        let number = self.summary.shown;
        let apps = &mut self.apps;
        if let Some(a) = apps.as_mut() {
            a.start(number);
        }
        let tcp = d.tcp().is_some();
        // Only the application decoders need them (port 53 is DNS).
        let ports = match apps {
            Some(_) => d.ports().unwrap_or((0, 0)),
            None => (0, 0),
        };
        let update = self.flows.packet(&d, f.data, ts_us, &mut |id, dir, p| {
            if let (true, Some(a)) = (tcp, apps.as_mut()) {
                a.piece(id, dir, p, ports);
            }
        });
        let (ann, notes) = match update.as_ref() {
            Some(u) => (u.tcp, u.notes.clone()),
            None => (None, Vec::new()),
        };
        self.summary.tcp_notes.add(&notes);
        if self.plan.quiet {
            return Ok(self.done());
        }
        let app = match self.apps.as_mut() {
            Some(a) => {
                let closed = update
                    .as_ref()
                    .is_some_and(|u| matches!(u.state, Some(State::Closed | State::Reset)));
                a.finish_packet(&d, f.data, update.as_ref(), closed)
            }
            None => Default::default(),
        };
        let human = self.out.format() == Format::Human;
        // `netlab lab run` reads answers from the events of a human-format run.
        let json_fields = !human || self.out.is_recording();
        let ips = if json_fields { d.ip_addrs() } else { None };
        let ports = d.ports();
        let ev = PacketEvent {
            number: self.summary.shown,
            ts_us: u64::try_from(f.ts.as_micros()).unwrap_or(u64::MAX),
            captured_len: f.data.len(),
            orig_len: f.orig_len,
            link: f.link,
            network: d
                .layers
                .iter()
                .find(|l| {
                    !l.quoted
                        && matches!(l.protocol, Protocol::Ipv4 | Protocol::Ipv6 | Protocol::Arp)
                })
                .map(|l| l.protocol),
            protocol: d.top().map(|l| l.protocol),
            src: ips.map(|(s, _)| oneline::endpoint(s, ports.map(|p| p.0))),
            dst: ips.map(|(_, t)| oneline::endpoint(t, ports.map(|p| p.1))),
            info: json_fields.then(|| oneline::info(&d, ann.as_ref(), &notes)),
            tcp: ann,
            notes,
            pdu_continues: app.continues,
            layers: (self.full && json_fields).then(|| {
                let mut v: Vec<LayerOut> = d
                    .layers
                    .iter()
                    .map(|l| LayerOut {
                        protocol: l.protocol,
                        name: l.name(),
                        osi_layer: l.protocol.osi().number(),
                        osi: l.protocol.osi().name(),
                        tcpip: l.protocol.tcpip().name(),
                        pdu: l.protocol.pdu(),
                        header: l.header.clone(),
                        quoted: l.quoted,
                        summary: l.summary(),
                        fields: l.fields(f.data),
                        decoded: Decoded::Wire(l.repr.clone()),
                        reassembled_from: None,
                    })
                    .collect();
                v.extend(app.layers.iter().map(|a| LayerOut {
                    protocol: a.protocol,
                    name: a.name,
                    osi_layer: a.protocol.osi().number(),
                    osi: a.protocol.osi().name(),
                    tcpip: a.protocol.tcpip().name(),
                    pdu: a.pdu,
                    header: a.here.clone(),
                    quoted: false,
                    summary: a.summary.clone(),
                    fields: a.fields.clone(),
                    decoded: Decoded::App(a.message.clone()),
                    reassembled_from: a.reassembled_from,
                }));
                v
            }),
            payload: d.payload.clone(),
            stopped: d.stopped.clone(),
            view: self.plan.view,
            frame: (human && self.plan.view.detailed()).then(|| f.data.to_vec()),
            dissection: human.then_some(d),
            app: if human { app.layers } else { Vec::new() },
        };
        if self.json_all {
            self.summary.packets.push(ev);
        } else {
            self.out.event(&ev)?;
        }
        Ok(self.done())
    }

    fn finish(mut self) -> anyhow::Result<CaptureSummary> {
        if let Some(sink) = self.sink {
            sink.finish(self.summary.link.unwrap_or(LinkType::Ethernet))
                .failed("finishing the capture file")?;
        }
        if let Some(st) = self.stats {
            self.out.report(&st.finish())?;
            return Ok(self.summary);
        }
        if let Some(fo) = self.follower {
            let report = fo.finish(self.plan.view.hex)?;
            self.out.report(&report)?;
            return Ok(self.summary);
        }
        // Holes still open when the capture ended are gaps too (as `--stats` counts them).
        for u in self.flows.finish(&mut |_, _, _| {}) {
            self.summary.tcp_notes.add(&u.notes);
        }
        let mut s = self.summary;
        if s.checksums_not_verified > 0 && s.note.is_none() {
            s.note = Some(
                "some TCP/UDP checksums did not verify: normal for packets captured on the sending host \
                 (loopback, checksum offload), where the kernel leaves the sum to the network card"
                    .into(),
            );
        }
        self.out.report(&s)?;
        Ok(s)
    }
}

impl Render for PacketEvent {
    fn render_human(&self, style: &Style) -> String {
        let mut line = String::with_capacity(160);
        oneline::write_head(
            &mut line,
            self.number,
            self.ts_us,
            self.orig_len,
            style.color,
        );
        match &self.dissection {
            Some(d) => oneline::write_packet(
                &mut line,
                d,
                self.network,
                self.protocol,
                self.tcp.as_ref(),
                &self.notes,
            ),
            None => oneline::write_texts(
                &mut line,
                self.src.as_deref(),
                self.dst.as_deref(),
                self.info.as_deref(),
            ),
        }
        if let (Some(d), Some(frame)) = (&self.dissection, &self.frame) {
            let mut out = if style.color {
                style.paint(Paint::Bold, &line)
            } else {
                line
            };
            out.push('\n');
            if self.view.layers {
                out.reserve(2048);
                packet::write_layer_tree(&mut out, d, frame, &self.app, style);
                if let Some(p) = self.pdu_continues {
                    packet::write_continues(&mut out, p, style);
                }
            }
            if self.view.osi {
                out.push_str(&packet::osi_view(d, frame, &self.app, style));
            }
            if self.view.hex {
                out.push_str(&hexdump::render(d, frame, &self.app, style));
            }
            return out;
        }
        line
    }
}

impl Render for CaptureSummary {
    fn render_human(&self, style: &Style) -> String {
        let mut s = String::new();
        let link = self
            .link
            .map(|l| format!(", link type {l}"))
            .unwrap_or_default();
        s.push_str(&style.paint(Paint::Bold, format!("{} packets shown", self.shown)));
        s.push_str(&format!(
            " of {} frames from {}{link}",
            self.frames, self.source
        ));
        if let Some(f) = &self.filter {
            s.push_str(&format!(", filter `{f}`"));
        }
        if let Some(n) = self.loopback_duplicates_removed {
            s.push_str(&format!("\nloopback: {n} duplicate copies removed (a packet socket on lo sees each packet leave and arrive; shown once, as tcpdump does)"));
        }
        if let Some(n) = self.dropped {
            let text = format!("dropped: {n}");
            s.push_str(&format!(
                "\n{}",
                if n > 0 {
                    style.paint(Paint::Warn, text)
                } else {
                    text
                }
            ));
        }
        let n = &self.tcp_notes;
        let counts: Vec<String> = [
            (n.retransmissions, "retransmission", "retransmissions"),
            (n.duplicate_acks, "duplicate ACK", "duplicate ACKs"),
            (n.out_of_order, "out of order", "out of order"),
            (
                n.previous_segment_not_captured,
                "after a hole (previous segment not captured)",
                "after a hole (previous segment not captured)",
            ),
            (n.zero_windows, "zero window", "zero windows"),
            (n.window_updates, "window update", "window updates"),
            (n.keep_alives, "keep-alive", "keep-alives"),
            (n.resets, "reset", "resets"),
            (
                n.gaps,
                "gap (bytes never captured)",
                "gaps (bytes never captured)",
            ),
        ]
        .iter()
        .filter(|c| c.0 > 0)
        .map(|&(k, one, many)| format!("{k} {}", if k == 1 { one } else { many }))
        .collect();
        if !counts.is_empty() {
            s.push_str(&format!("\nTCP notes: {}", counts.join(", ")));
        }
        if self.decode_stopped > 0 {
            s.push_str(&format!(
                "\n{} packets not decoded to the end (see each packet's reason)",
                self.decode_stopped
            ));
        }
        if let Some(r) = self.truncated_record {
            s.push_str(&format!("\n{}", style.paint(Paint::Warn, format!("record {r} is truncated: the file ends in the middle of it (the capture was cut short); it was not shown"))));
        }
        if let Some(n) = &self.note {
            s.push_str(&format!("\nnote: {n}"));
        }
        if let Some(w) = &self.written {
            s.push_str(&format!(
                "\nwritten to {} (pcap; open it with Wireshark or `tcpdump -r`)",
                w.display()
            ));
        }
        s
    }
}

/// Run a `netlab capture` plan.
pub fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    match plan.source.clone() {
        Source::File(path) => read_file(plan, &path, out),
        Source::List => list(out),
        Source::Live { interface } => live(plan, interface, None, out),
        Source::InNamespace { command } => in_namespace(plan, command, out),
        Source::OwnNamespace { command } => own_namespace(plan, &command),
    }
}

fn hinted(e: CaptureError, message: String) -> anyhow::Error {
    let hint = e.hint();
    let mut h = Hinted::failure(message);
    h.hint = hint;
    anyhow::Error::new(e).context(h)
}

fn read_file(plan: Plan, path: &std::path::Path, out: &mut Output) -> anyhow::Result<()> {
    let mut src =
        FileSource::open(path).map_err(|e| hinted(e, format!("reading `{}`", path.display())))?;
    out.buffer_events();
    let source = format!("{} ({})", path.display(), src.format);
    let mut p = Pipeline::new(out, plan, source)?;
    let mut fatal = None;
    loop {
        match src.next_frame() {
            None => break,
            Some(Ok(f)) => {
                if p.frame(f)? {
                    break;
                }
            }
            Some(Err(RecordProblem::Truncated { record })) => {
                p.summary.truncated_record = Some(record);
                break;
            }
            Some(Err(problem)) => {
                fatal = Some(src.error(&problem));
                break;
            }
        }
    }
    p.finish()?;
    match fatal {
        Some(e) => Err(hinted(e, format!("reading `{}` stopped", path.display()))),
        None => Ok(()),
    }
}

#[cfg(not(feature = "capture"))]
fn list(_out: &mut Output) -> anyhow::Result<()> {
    Err(hinted(CaptureError::NotBuilt, "listing interfaces".into()))
}

#[cfg(feature = "capture")]
fn list(out: &mut Output) -> anyhow::Result<()> {
    out.report(&InterfaceList {
        interfaces: crate::net::capture::interfaces(),
    })?;
    Ok(())
}

#[cfg(not(feature = "capture"))]
fn live(_: Plan, _: Option<String>, _: Option<Spawn>, _: &mut Output) -> anyhow::Result<()> {
    Err(hinted(
        CaptureError::NotBuilt,
        "starting a live capture".into(),
    ))
}

#[cfg(not(feature = "capture"))]
fn in_namespace(_: Plan, _: Vec<String>, _: &mut Output) -> anyhow::Result<()> {
    Err(hinted(
        CaptureError::NotBuilt,
        "starting a live capture".into(),
    ))
}

/// Starts the command whose traffic is captured (once the capture is running).
type Spawn = Box<dyn FnOnce() -> anyhow::Result<std::process::Child>>;

/// Live capture. With `spawn`, start that command once the capture runs, and capture
/// until it exits (then drain briefly).
#[cfg(feature = "capture")]
fn live(
    plan: Plan,
    interface: Option<String>,
    spawn: Option<Spawn>,
    out: &mut Output,
) -> anyhow::Result<()> {
    use crate::net::capture::LiveCapture;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    let iface = interface.unwrap_or_else(crate::net::capture::loopback_name);
    let keep: crate::net::capture::Keep = match plan.filter.clone() {
        Some((_, f)) => Box::new(move |bytes| f.matches(&dissect(LinkType::Ethernet, bytes))),
        None => Box::new(|_| true),
    };
    let cap = LiveCapture::start(&iface, plan.queue, keep)
        .map_err(|e| hinted(e, format!("capturing on `{iface}`")))?;
    // Ctrl-C ends the capture cleanly, so the summary (and dropped: N) is still printed.
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        std::thread::spawn(move || {
            if let Ok(rt) =
                crate::net::runtime::runtime(crate::net::runtime::Runtime::CurrentThread)
            {
                rt.block_on(async {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        flag.store(true, Ordering::Relaxed);
                    }
                });
            }
        });
    }
    out.event(&CaptureStarted {
        event: "started",
        interface: iface.clone(),
        loopback: cap.loopback,
        filter: plan.filter.as_ref().map(|f| f.0.clone()),
    })?;
    let mut child = match spawn {
        Some(f) => Some(f()?),
        None => None,
    };
    let started = Instant::now();
    let mut child_done_at: Option<Instant> = None;
    let mut p = Pipeline::new(out, plan.clone(), format!("interface {iface} (live)"))?;
    loop {
        if interrupted.load(Ordering::Relaxed)
            || plan.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        if let Some(c) = child.as_mut() {
            if child_done_at.is_none() && !matches!(c.try_wait(), Ok(None)) {
                child_done_at = Some(Instant::now());
            }
        }
        // After the command exits, keep reading what is already queued for a moment.
        if child_done_at.is_some_and(|t| t.elapsed() > Duration::from_millis(300)) {
            break;
        }
        if let Some(f) = cap.next_timeout(Duration::from_millis(50)) {
            if p.frame(f.borrow())? {
                break;
            }
        }
    }
    if let Some(mut c) = child {
        if matches!(c.try_wait(), Ok(None)) {
            let _ = c.kill();
        }
        let _ = c.wait();
    }
    let stats = cap.stats.clone();
    let loopback = cap.loopback;
    cap.finish();
    p.summary.dropped = Some(stats.dropped.load(Ordering::Relaxed));
    if loopback {
        p.summary.loopback_duplicates_removed = Some(stats.duplicates.load(Ordering::Relaxed));
    }
    p.finish()?;
    Ok(())
}

/// Inside the namespace netlab made: bring its loopback up, start capturing, run the
/// command, stop when it exits.
#[cfg(feature = "capture")]
fn in_namespace(plan: Plan, command: Vec<String>, out: &mut Output) -> anyhow::Result<()> {
    use std::process::{Command, Stdio};
    let status = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .failed("running `ip link set lo up` inside the namespace")?;
    if !status.success() {
        return Err(
            Hinted::failure("could not bring up the namespace's loopback interface")
                .with_hint("is iproute2 (`ip`) installed?")
                .into(),
        );
    }
    // Start the capture first so the command's first packet is seen, then the command.
    let mut command = command.into_iter();
    let prog = command.next().ok_or_else(|| {
        usage(
            "no command given",
            "netlab capture --own-namespace -- COMMAND",
        )
    })?;
    let args: Vec<String> = command.collect();
    let iface = Some("lo".to_owned());
    let spawn = move || {
        Command::new(&prog)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()))
            .stderr(Stdio::inherit())
            .spawn()
            .hinted(
                format!("could not run `{prog}`"),
                "check the command after `--`",
            )
    };
    live(plan, iface, Some(Box::new(spawn)), out)
}

/// Re-run this netlab inside `unshare --user --map-root-user --net`.
fn own_namespace(_plan: Plan, _command: &[String]) -> anyhow::Result<()> {
    use std::process::{Command, Stdio};
    let probe = Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    match probe {
        Err(e) => {
            return Err(anyhow::Error::new(e).context(
                Hinted::failure("could not run `unshare` (util-linux) to create a namespace")
                    .with_hint(
                        "install util-linux, or capture with sudo, or read a file with --read",
                    ),
            ))
        }
        Ok(o) if !o.status.success() => {
            let why = String::from_utf8_lossy(&o.stderr).trim().to_owned();
            return Err(Hinted::failure(format!("the kernel refused to create a user and network namespace: {why}"))
                .with_hint(
                    "unprivileged user namespaces are disabled here (see `sysctl user.max_user_namespaces`, \
                     `kernel.unprivileged_userns_clone`, or AppArmor's `kernel.apparmor_restrict_unprivileged_userns`). \
                     Capture with sudo instead, or read a saved capture with --read FILE",
                )
                .into());
        }
        Ok(_) => {}
    }
    let exe = std::env::current_exe().failed("finding the netlab executable")?;
    let args: Vec<String> = std::env::args()
        .skip(1)
        .map(|a| {
            if a == "--own-namespace" {
                "--in-namespace".to_owned()
            } else {
                a
            }
        })
        .collect();
    let status = Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "--"])
        .arg(exe)
        .args(args)
        .status()
        .failed("running netlab inside a new namespace")?;
    if status.success() {
        Ok(())
    } else {
        // The inner netlab already printed its error.
        Err(Hinted::failure(format!("capture inside the namespace failed ({status})")).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn plan(args: &[&str]) -> anyhow::Result<Plan> {
        let mut v = vec!["netlab", "capture"];
        v.extend_from_slice(args);
        let cli = crate::cli::Cli::try_parse_from(v).unwrap();
        match cli.command {
            crate::cli::Command::Capture(a) => Plan::try_from(a),
            _ => unreachable!(),
        }
    }

    #[test]
    fn plans_validate() {
        let p = plan(&["--read", "x.pcap", "tcp", "port", "80"]).unwrap();
        assert_eq!(p.source, Source::File("x.pcap".into()));
        assert_eq!(p.filter.unwrap().0, "tcp port 80");
        let p = plan(&["--own-namespace", "--", "curl", "-s", "x"]).unwrap();
        assert_eq!(
            p.source,
            Source::OwnNamespace {
                command: vec!["curl".into(), "-s".into(), "x".into()]
            }
        );
        for bad in [
            &["--count", "0"][..],
            &["--duration=-1"],
            &["--read", "x", "--interface", "lo"],
            &["--own-namespace"],
            &["--", "curl"],
            &["tcp", "prot", "80"],
            &["--list", "tcp"],
        ] {
            let e = plan(bad).unwrap_err();
            let h = e.downcast_ref::<Hinted>().expect("a hinted usage error");
            assert_eq!(h.kind, crate::error::ErrorKind::Usage, "{bad:?}");
        }
    }
}
