//! `netlab capture --stats`: what a capture holds, counted. A protocol hierarchy (packets
//! and bytes per protocol, by layer), the conversations (both directions of each, with
//! its state) and what the reassembler noticed (retransmissions, out-of-order segments,
//! gaps, resets).

use crate::layers::Protocol;
use crate::output::{Paint, Render, Style};
use crate::wire::dissect::app::{AppDecoder, AppEvent, AppMessage, Carried, SocketIo};
use crate::wire::dissect::flow::{Conversation, FlowTable, Limits, Note, Piece, Transport};
use crate::wire::dissect::Dissection;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// One protocol's row in the hierarchy.
#[derive(Debug, Clone, Serialize)]
pub struct ProtocolRow {
    pub protocol: Protocol,
    pub name: &'static str,
    pub osi_layer: u8,
    pub osi: &'static str,
    pub tcpip: &'static str,
    /// Packets that carry this protocol's header.
    pub packets: u64,
    /// Bytes of those packets on the wire (whole frames, as Wireshark counts them).
    pub bytes: u64,
    /// Application layers: messages (HTTP) or frames (WebSocket) decoded from the
    /// reassembled stream; `packets` then counts the packets in which one ended.
    pub units: u64,
}

/// Counts of what the reassembler noticed, over the whole capture.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NoteCounts {
    pub retransmissions: u64,
    pub out_of_order: u64,
    pub overlaps: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub buffer_full: u64,
    pub resets: u64,
    pub duplicate_acks: u64,
    pub zero_windows: u64,
    pub window_updates: u64,
    pub keep_alives: u64,
    /// Segments that started beyond a hole (Wireshark: "previous segment not captured").
    pub previous_segment_not_captured: u64,
    /// Retransmissions of these two kinds (counted in `retransmissions` too).
    pub fast_retransmissions: u64,
    pub spurious_retransmissions: u64,
    pub window_full: u64,
    pub keep_alive_acks: u64,
    pub zero_window_probes: u64,
    pub zero_window_probe_acks: u64,
    pub acked_unseen_segments: u64,
}

impl NoteCounts {
    /// Count one packet's notes.
    pub fn add(&mut self, notes: &[Note]) {
        for n in notes {
            match n {
                Note::Retransmission => self.retransmissions += 1,
                Note::OutOfOrder => self.out_of_order += 1,
                Note::PreviousSegmentNotCaptured => self.previous_segment_not_captured += 1,
                Note::Overlap { .. } => self.overlaps += 1,
                Note::Gap { len, .. } => {
                    self.gaps += 1;
                    self.gap_bytes += len;
                }
                Note::BufferFull => self.buffer_full += 1,
                Note::Reset => self.resets += 1,
                Note::DuplicateAck { .. } => self.duplicate_acks += 1,
                Note::ZeroWindow => self.zero_windows += 1,
                Note::WindowUpdate => self.window_updates += 1,
                Note::KeepAlive => self.keep_alives += 1,
                Note::FastRetransmission => self.fast_retransmissions += 1,
                Note::SpuriousRetransmission => self.spurious_retransmissions += 1,
                Note::WindowFull => self.window_full += 1,
                Note::KeepAliveAck => self.keep_alive_acks += 1,
                Note::ZeroWindowProbe => self.zero_window_probes += 1,
                Note::ZeroWindowProbeAck => self.zero_window_probe_acks += 1,
                Note::AckedUnseenSegment => self.acked_unseen_segments += 1,
            }
        }
    }
}

/// What Engine.IO carried over the capture, counted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EngineIoCounts {
    /// Engine.IO packets by type ("message", "ping", …).
    pub packets: BTreeMap<String, u64>,
    /// Heartbeats: pings and pongs that are not upgrade probes.
    pub heartbeats: u64,
    /// Socket.IO packets by type ("EVENT", "ACK", …).
    pub socketio_packets: BTreeMap<String, u64>,
    /// Socket.IO events by name (EVENT and BINARY_EVENT).
    pub socketio_events: BTreeMap<String, u64>,
}

impl EngineIoCounts {
    /// Count what one message or body carried.
    fn add(&mut self, c: &Carried) {
        let Carried::EngineIo(e) = c;
        for p in &e.packets {
            let name = format!("{:?}", p.packet_type).to_lowercase();
            *self.packets.entry(name).or_default() += 1;
            if p.purpose == Some("heartbeat") {
                self.heartbeats += 1;
            }
            if let Some(SocketIo::Packet(sp)) = &p.socketio {
                *self
                    .socketio_packets
                    .entry(sp.packet_type.to_string())
                    .or_default() += 1;
                if let Some(ev) = &sp.event {
                    *self.socketio_events.entry(ev.clone()).or_default() += 1;
                }
            }
        }
    }

    /// `Engine.IO packets: message 8, ping 2, …` and the Socket.IO lines.
    fn write(&self, s: &mut String) {
        let list = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        s.push_str(&format!(
            "\n\nEngine.IO packets: {} ({} heartbeats)",
            list(&self.packets),
            self.heartbeats
        ));
        if !self.socketio_packets.is_empty() {
            s.push_str(&format!(
                "\nSocket.IO packets: {}",
                list(&self.socketio_packets)
            ));
        }
        if !self.socketio_events.is_empty() {
            s.push_str(&format!(
                "\nSocket.IO events by name: {}",
                list(&self.socketio_events)
            ));
        }
    }
}

/// What `--stats` reports.
#[derive(Debug, Serialize)]
pub struct StatsReport {
    pub packets: u64,
    pub bytes: u64,
    pub hierarchy: Vec<ProtocolRow>,
    pub conversations: Vec<Conversation>,
    pub notes: NoteCounts,
    /// Packets of conversations beyond the table's bound (counted, not followed).
    pub untracked_packets: u64,
    /// The bounds on reassembly (`max_buffered`: `--max-stream-buffer`).
    pub limits: Limits,
    /// Engine.IO packets by type and Socket.IO events by name, on connections whose
    /// requests asked for Engine.IO (absent when there were none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engineio: Option<EngineIoCounts>,
}

/// Bytes one direction's application decoder may hold while a message is incomplete
/// (statistics only count, so a smaller bound than `--follow`'s).
const APP_BUFFER: usize = 256 * 1024;
/// Application decoders alive at once.
const MAX_DECODERS: usize = 65_536;

/// Collects the statistics packet by packet.
#[derive(Debug, Default)]
pub struct Stats {
    table: FlowTable,
    apps: std::collections::HashMap<u32, AppDecoder>,
    events: Vec<AppEvent>,
    protocols: BTreeMap<(u8, usize), ProtocolRow>,
    packets: u64,
    bytes: u64,
    notes: NoteCounts,
    engineio: Option<EngineIoCounts>,
}

impl Stats {
    pub fn new() -> Stats {
        Stats::with_limits(Limits::default())
    }

    /// Statistics whose reassembler holds at most `limits` (`--max-stream-buffer`).
    pub fn with_limits(limits: Limits) -> Stats {
        Stats {
            table: FlowTable::new(limits),
            ..Stats::default()
        }
    }

    pub fn packet(&mut self, d: &Dissection, frame: &[u8], orig_len: u32, ts_us: u64) {
        self.packets += 1;
        self.bytes += u64::from(orig_len);
        // A protocol counts once per packet, even when it appears twice (IP in IP).
        let mut seen: Vec<Protocol> = Vec::with_capacity(6);
        for l in d.layers.iter().filter(|l| !l.quoted) {
            if seen.contains(&l.protocol) {
                continue;
            }
            seen.push(l.protocol);
            let row = self
                .protocols
                .entry((l.protocol.osi().number(), l.protocol as usize))
                .or_insert_with(|| ProtocolRow {
                    protocol: l.protocol,
                    name: l.protocol.name(),
                    osi_layer: l.protocol.osi().number(),
                    osi: l.protocol.osi().name(),
                    tcpip: l.protocol.tcpip().name(),
                    packets: 0,
                    bytes: 0,
                    units: 0,
                });
            row.packets += 1;
            row.bytes += u64::from(orig_len);
            if l.protocol == Protocol::Dns {
                row.units += 1; // over UDP: one message per datagram
            }
        }
        // Reassembled bytes of TCP conversations go to their application decoder.
        let tcp = d.tcp().is_some();
        let (pa, pb) = d.ports().unwrap_or((0, 0));
        let apps = &mut self.apps;
        let events = &mut self.events;
        let mut sink = |id: u32, dir, p: Piece<'_>| {
            if !tcp {
                return;
            }
            if !apps.contains_key(&id) && apps.len() >= MAX_DECODERS {
                return;
            }
            apps.entry(id)
                .or_insert_with(|| AppDecoder::for_ports(APP_BUFFER, pa, pb))
                .piece(dir, p, events);
        };
        let Some(u) = self.table.packet(d, frame, ts_us, &mut sink) else {
            return;
        };
        self.count(&u.notes);
        if u.conversation != 0 {
            let ended = self
                .table
                .conversations
                .get((u.conversation - 1) as usize)
                .is_some_and(|c| {
                    matches!(
                        c.state,
                        crate::wire::dissect::flow::State::Closed
                            | crate::wire::dissect::flow::State::Reset
                    )
                });
            if ended {
                if let Some(mut a) = self.apps.remove(&u.conversation) {
                    a.finish(&mut self.events);
                }
            }
        }
        self.app_rows(orig_len);
    }

    /// Count this packet under each application protocol whose unit it completed.
    fn app_rows(&mut self, orig_len: u32) {
        let (mut http, mut ws, mut dns) = (0u64, 0u64, 0u64);
        for e in self.events.drain(..) {
            if let Some(c) = e.message.carried() {
                self.engineio.get_or_insert_with(Default::default).add(c);
            }
            match e.message {
                AppMessage::HttpRequest { .. } | AppMessage::HttpResponse { .. } => http += 1,
                AppMessage::WebSocketFrame { .. } => ws += 1,
                AppMessage::Dns { .. } => dns += 1,
                _ => {}
            }
        }
        for (p, units) in [
            (Protocol::Http1, http),
            (Protocol::WebSocket, ws),
            (Protocol::Dns, dns),
        ] {
            if units == 0 {
                continue;
            }
            let row = self
                .protocols
                .entry((p.osi().number(), p as usize))
                .or_insert_with(|| ProtocolRow {
                    protocol: p,
                    name: p.name(),
                    osi_layer: p.osi().number(),
                    osi: p.osi().name(),
                    tcpip: p.tcpip().name(),
                    packets: 0,
                    bytes: 0,
                    units: 0,
                });
            row.packets += 1;
            row.bytes += u64::from(orig_len);
            row.units += units;
        }
    }

    fn count(&mut self, notes: &[Note]) {
        self.notes.add(notes);
    }

    pub fn finish(mut self) -> StatsReport {
        let mut sink = |_: u32, _, _: Piece<'_>| {};
        for u in self.table.finish(&mut sink) {
            self.count(&u.notes);
        }
        let mut apps: Vec<_> = std::mem::take(&mut self.apps).into_iter().collect();
        apps.sort_by_key(|a| a.0);
        for (_, mut a) in apps {
            a.finish(&mut self.events);
        }
        self.app_rows(0);
        // The totals are the conversations' own (each gap, a hole or the tail of a
        // segment cut at the snap length, is counted where it happened).
        self.notes.gaps = self.table.conversations.iter().map(|c| c.gaps).sum();
        self.notes.gap_bytes = self.table.conversations.iter().map(|c| c.gap_bytes).sum();
        let limits = self.table.limits();
        let mut hierarchy: Vec<ProtocolRow> = self.protocols.into_values().collect();
        hierarchy.sort_by_key(|r| (r.osi_layer, std::cmp::Reverse(r.packets)));
        StatsReport {
            packets: self.packets,
            bytes: self.bytes,
            hierarchy,
            conversations: self.table.conversations,
            notes: self.notes,
            untracked_packets: self.table.untracked_packets,
            limits,
            engineio: self.engineio,
        }
    }
}

fn sock(e: (std::net::IpAddr, u16)) -> String {
    SocketAddr::from(e).to_string()
}

impl Render for StatsReport {
    fn render_human(&self, style: &Style) -> String {
        let mut s = String::new();
        self.write_hierarchy(&mut s, style);
        s.push_str("\n\n");
        self.write_conversations(&mut s, style);
        if let Some(e) = &self.engineio {
            e.write(&mut s);
        }
        let n = &self.notes;
        s.push_str(&format!(
            "\n\nTCP notes: {} retransmissions, {} out of order, {} overlaps, {} gaps ({} bytes never captured), {} resets,\n  {} duplicate ACKs, {} zero windows, {} window updates, {} keep-alives",
            n.retransmissions, n.out_of_order, n.overlaps, n.gaps, n.gap_bytes, n.resets,
            n.duplicate_acks, n.zero_windows, n.window_updates, n.keep_alives
        ));
        let more = [
            (n.fast_retransmissions, "fast retransmissions"),
            (n.spurious_retransmissions, "spurious retransmissions"),
            (n.window_full, "windows full"),
            (n.keep_alive_acks, "keep-alive ACKs"),
            (n.zero_window_probes, "zero window probes"),
            (n.zero_window_probe_acks, "zero window probe ACKs"),
            (n.acked_unseen_segments, "ACKed unseen segments"),
        ];
        let more: Vec<String> = more
            .iter()
            .filter(|m| m.0 > 0)
            .map(|(k, what)| format!("{k} {what}"))
            .collect();
        if !more.is_empty() {
            s.push_str(&format!("\n  {}", more.join(", ")));
        }
        if n.previous_segment_not_captured > 0 {
            s.push_str(&format!(
                "\n  {} segments arrived after a hole (Wireshark: previous segment not captured)",
                n.previous_segment_not_captured
            ));
        }
        if n.buffer_full > 0 {
            s.push_str(&format!(
                "\n{}",
                style.paint(
                    Paint::Warn,
                    format!(
                        "{} times a conversation's out-of-order buffer was full: the hole before it was declared a gap (--max-stream-buffer raises the bound)",
                        n.buffer_full
                    )
                )
            ));
        }
        if self.untracked_packets > 0 {
            s.push_str(&format!(
                "\n{} packets belonged to conversations beyond the table's bound and were only counted",
                self.untracked_packets
            ));
        }
        s
    }
}

impl StatsReport {
    /// The protocol hierarchy's heading and table.
    fn write_hierarchy(&self, s: &mut String, style: &Style) {
        s.push_str(&style.paint(
            Paint::Bold,
            format!(
                "Protocol hierarchy: {} packets, {} bytes",
                self.packets, self.bytes
            ),
        ));
        s.push('\n');
        let mut t = style.table();
        t.set_header(vec![
            "OSI layer",
            "TCP/IP layer",
            "protocol",
            "packets",
            "% packets",
            "bytes",
            "messages / frames",
        ]);
        for r in &self.hierarchy {
            let pct = if self.packets == 0 {
                0.0
            } else {
                100.0 * r.packets as f64 / self.packets as f64
            };
            t.add_row(vec![
                format!("{} {}", r.osi_layer, r.osi),
                r.tcpip.to_string(),
                r.name.to_string(),
                r.packets.to_string(),
                format!("{pct:.1}"),
                r.bytes.to_string(),
                if r.units > 0 {
                    r.units.to_string()
                } else {
                    String::new()
                },
            ]);
        }
        s.push_str(&t.to_string());
    }

    /// The conversations' heading and table.
    fn write_conversations(&self, s: &mut String, style: &Style) {
        s.push_str(&style.paint(
            Paint::Bold,
            format!(
                "Conversations: {} (follow one with --follow N)",
                self.conversations.len()
            ),
        ));
        s.push('\n');
        let mut t = style.table();
        t.set_header(vec![
            "N",
            "proto",
            "A (first to speak)",
            "B",
            "packets A→B",
            "bytes A→B",
            "packets B→A",
            "bytes B→A",
            "duration s",
            "state",
        ]);
        for c in &self.conversations {
            let mut state = c.state.describe().to_string();
            if c.transport == Transport::Tcp && !c.handshake_seen {
                state.push_str(", no handshake seen");
            }
            t.add_row(vec![
                c.id.to_string(),
                c.transport.name().to_string(),
                sock(c.a),
                sock(c.b),
                c.packets_a_to_b.to_string(),
                c.bytes_a_to_b.to_string(),
                c.packets_b_to_a.to_string(),
                c.bytes_b_to_a.to_string(),
                format!(
                    "{:.6}",
                    c.last_ts_us.saturating_sub(c.first_ts_us) as f64 / 1e6
                ),
                state,
            ]);
        }
        s.push_str(&t.to_string());
    }
}
