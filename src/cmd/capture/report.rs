//! What a capture hands to `output`: a [`PacketEvent`] per packet (the one-line view,
//! and for JSON and the detailed views every layer), [`CaptureStarted`] when a live
//! capture begins, [`InterfaceList`] for `--list`, and the [`CaptureSummary`] that ends a
//! run. The one-line text itself is written by `output::oneline`; the layer tree, the
//! OSI view and the hexdump by `output::packet` and `output::hexdump`.

use super::stats::NoteCounts;
use super::View;
use crate::layers::Protocol;
use crate::net::capture::FileInterface;
use crate::output::{hexdump, oneline, packet, Paint, Render, Style};
use crate::wire::checksum::Checked;
use crate::wire::dissect::app::{AppLayer, AppMessage};
use crate::wire::dissect::flow::{Annotation, Note};
use crate::wire::dissect::{Dissection, LayerRepr, LinkType, Stopped};
use crate::wire::Field;
use serde::Serialize;
use std::ops::Range;
use std::path::PathBuf;

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
    /// Capture time, microseconds since the Unix epoch (UTC), cut (not rounded) from
    /// `ts_ns`.
    pub ts_us: u64,
    /// Capture time, nanoseconds since the Unix epoch (UTC): exact to `ts_digits`
    /// digits after the second.
    pub ts_ns: u64,
    /// How many digits after the second the capture's clock kept: 6 (microseconds) for
    /// classic pcap files and live capture, 9 (nanoseconds) for `tcpdump --nano` files
    /// and most pcapng files; pcapng's `if_tsresol` may say anything from 0 to 9.
    pub ts_digits: u8,
    pub captured_len: usize,
    pub orig_len: u32,
    pub link: LinkType,
    /// pcapng: the interface the packet was captured on (JSON and the detailed views).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<PacketInterface>,
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
    /// An IP fragment: what became of its datagram (completed in this packet, or
    /// refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reassembly: Option<Reassembly>,
    pub payload: Range<usize>,
    pub stopped: Option<Stopped>,
    /// What is wrong with the file's record of this packet (it claims fewer bytes on
    /// the wire than it keeps), when something is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_note: Option<String>,
    #[serde(skip)]
    pub(super) view: View,
    /// Human output: the dissection (and, for detailed views, the frame's bytes).
    #[serde(skip)]
    pub(super) dissection: Option<Dissection>,
    #[serde(skip)]
    pub(super) frame: Option<Vec<u8>>,
    /// Human output: application layers for the detailed views.
    #[serde(skip)]
    pub(super) app: Vec<AppLayer>,
}

/// The interface a packet was captured on, as a pcapng file names it.
#[derive(Debug, Clone, Serialize)]
pub struct PacketInterface {
    /// The interface's number in the file (its section), as packets name it.
    pub id: u32,
    /// Its name (`if_name`), when the writer recorded one.
    pub name: Option<String>,
    pub link: LinkType,
}

impl PacketInterface {
    pub fn of(i: &FileInterface) -> PacketInterface {
        PacketInterface {
            id: i.id,
            name: i.name.clone(),
            link: i.link,
        }
    }
}

/// What an IP fragment did to its datagram (`wire::internet::fragments`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Reassembly {
    /// Kept; the datagram still has holes.
    Pending,
    /// This fragment completed the datagram: the packets that carried its pieces, its
    /// payload's length, and its transport header decoded over the whole (so its
    /// checksum is checked).
    Complete {
        frames: Vec<u64>,
        length: usize,
        transport: Option<LayerRepr>,
    },
    /// Not kept, and why.
    Refused { reason: &'static str },
}

impl Reassembly {
    /// The one-line view's words for it, after the packet's own.
    pub fn push_label(&self, s: &mut String) {
        use std::fmt::Write as _;
        match self {
            Reassembly::Pending => {}
            Reassembly::Complete {
                frames,
                length,
                transport,
            } => {
                let list: Vec<String> = frames.iter().map(u64::to_string).collect();
                let _ = write!(
                    s,
                    "  [reassembled from packets {}: {length} bytes",
                    list.join(", ")
                );
                if let Some((name, check)) = transport.as_ref().and_then(checksum_of) {
                    let _ = write!(s, ", {name} checksum {}", check.describe(true));
                }
                s.push(']');
            }
            Reassembly::Refused { reason } => {
                let _ = write!(s, "  [fragment {reason}]");
            }
        }
    }
}

/// A transport header's name and checksum verdict.
fn checksum_of(l: &LayerRepr) -> Option<(&'static str, Checked)> {
    match l {
        LayerRepr::Udp(u) => Some(("UDP", u.checksum_check)),
        LayerRepr::Tcp(t) => Some(("TCP", t.checksum_check)),
        LayerRepr::Icmpv4(i) => Some(("ICMP", i.checksum_check)),
        LayerRepr::Icmpv6(i) => Some(("ICMPv6", i.checksum_check)),
        _ => None,
    }
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
    pub tcp_notes: NoteCounts,
    pub truncated_record: Option<u64>,
    /// pcapng: the interfaces the file describes, with the packets read from each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<FileInterface>,
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

/// `--examples`: the captures built into netlab.
#[derive(Debug, Serialize)]
pub struct ExampleList {
    pub examples: Vec<ExampleRow>,
}

/// One built-in capture.
#[derive(Debug, Serialize)]
pub struct ExampleRow {
    pub name: &'static str,
    pub about: &'static str,
    pub bytes: usize,
}

impl ExampleList {
    pub fn all() -> ExampleList {
        ExampleList {
            examples: crate::shipped::EXAMPLES
                .iter()
                .map(|e| ExampleRow {
                    name: e.name,
                    about: e.about,
                    bytes: e.bytes.len(),
                })
                .collect(),
        }
    }
}

impl Render for ExampleList {
    fn render_human(&self, style: &Style) -> String {
        let mut t = style.table();
        t.set_header(vec!["name", "what it holds", "bytes"]);
        for e in &self.examples {
            t.add_row(vec![
                e.name.to_owned(),
                e.about.to_owned(),
                e.bytes.to_string(),
            ]);
        }
        format!(
            "{t}\nRead one with `netlab capture --example NAME` (every option of --read works: \
             --stats, --follow N, --layers, a filter).\n"
        )
    }
}

impl Render for PacketEvent {
    fn render_human(&self, style: &Style) -> String {
        let mut out = String::with_capacity(160);
        self.render_human_into(style, &mut out);
        out
    }

    fn render_human_into(&self, style: &Style, out: &mut String) {
        let start = out.len();
        oneline::write_head(
            out,
            self.number,
            (self.ts_ns, self.ts_digits),
            self.orig_len,
            style.color,
        );
        match &self.dissection {
            Some(d) => oneline::write_packet(
                out,
                d,
                self.network,
                self.protocol,
                self.tcp.as_ref(),
                &self.notes,
            ),
            None => oneline::write_texts(
                out,
                self.src.as_deref(),
                self.dst.as_deref(),
                self.info.as_deref(),
            ),
        }
        if let Some(r) = &self.reassembly {
            r.push_label(out);
        }
        if self.frame.is_none() {
            // The one-line view names what Engine.IO carried in the messages that
            // completed in this packet.
            for c in self.app.iter().filter_map(|l| l.message.carried()) {
                out.push_str("  ← ");
                out.push_str(&c.describe());
            }
        }
        if let Some(n) = &self.record_note {
            out.push_str("  [");
            out.push_str(n);
            out.push(']');
        }
        if let (Some(d), Some(frame)) = (&self.dissection, &self.frame) {
            if style.color {
                let bold = style.paint(Paint::Bold, &out[start..]);
                out.truncate(start);
                out.push_str(&bold);
            }
            out.push('\n');
            if self.view.layers {
                out.reserve(2048);
                if let Some(i) = &self.interface {
                    packet::write_interface(out, i.id, i.name.as_deref(), i.link, style);
                }
                packet::write_layer_tree(out, d, frame, &self.app, style);
                if let Some(p) = self.pdu_continues {
                    packet::write_continues(out, p, style);
                }
            }
            if self.view.osi {
                out.push_str(&packet::osi_view(d, frame, &self.app, style));
            }
            if self.view.hex {
                out.push_str(&hexdump::render(d, frame, &self.app, style));
            }
        }
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
        for i in &self.interfaces {
            let name = i
                .name
                .as_deref()
                .map(|n| format!(" {n}"))
                .unwrap_or_default();
            let about = i
                .description
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            s.push_str(&format!(
                "\ninterface {}{name}{about}: link type {}, {} packets",
                i.id, i.link, i.packets
            ));
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
        let counts = tcp_note_counts(&self.tcp_notes);
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

/// "3 retransmissions, 1 zero window", for every TCP note the capture counted.
fn tcp_note_counts(n: &NoteCounts) -> Vec<String> {
    [
        (n.retransmissions, "retransmission", "retransmissions"),
        (
            n.fast_retransmissions,
            "fast retransmission",
            "fast retransmissions",
        ),
        (
            n.spurious_retransmissions,
            "spurious retransmission",
            "spurious retransmissions",
        ),
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
        (n.keep_alive_acks, "keep-alive ACK", "keep-alive ACKs"),
        (n.window_full, "window full", "windows full"),
        (
            n.zero_window_probes,
            "zero window probe",
            "zero window probes",
        ),
        (
            n.zero_window_probe_acks,
            "zero window probe ACK",
            "zero window probe ACKs",
        ),
        (
            n.acked_unseen_segments,
            "ACK of bytes never captured (ACKed unseen segment)",
            "ACKs of bytes never captured (ACKed unseen segment)",
        ),
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
    .collect()
}
