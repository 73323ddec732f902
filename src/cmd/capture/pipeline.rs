//! The capture pipeline: every frame, from a file or a live capture, goes through
//! [`Pipeline::frame`]: decoded by `wire::dissect`, filtered, counted, written to
//! `--write`'s file, then handed to `--stats`, to `--follow`, or to the conversation
//! table and out as a packet event.

use super::report::{CaptureSummary, Decoded, LayerOut, PacketEvent, PacketInterface, Reassembly};
use super::{applayers, follow, stats, Plan};
use crate::error::HintExt;
use crate::layers::Protocol;
use crate::net::capture::{Frame, PcapSink};
use crate::output::{oneline, Format, Output};
use crate::wire::checksum::Checked;
use crate::wire::dissect::app::AppLayer;
use crate::wire::dissect::flow::{FlowTable, Limits, State};
use crate::wire::dissect::{dissect, reassembled, Dissection, LayerRepr, LinkType};
use crate::wire::internet::fragments::{self, Defragmenter, Outcome};

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
pub(super) struct Pipeline<'o> {
    out: &'o mut Output,
    plan: Plan,
    /// Conversations, reassembly and expert notes (the same table `--follow` and
    /// `--stats` use, so conversation numbers agree).
    flows: FlowTable,
    /// IP datagrams whose fragments are still arriving.
    defrag: Defragmenter,
    /// Application layers per packet, for JSON and the detailed views.
    apps: Option<applayers::AppLayers>,
    sink: Option<PcapSink>,
    pub(super) summary: CaptureSummary,
    json_all: bool,
    full: bool,
    follower: Option<follow::Follower>,
    stats: Option<stats::Stats>,
}

impl<'o> Pipeline<'o> {
    pub(super) fn new(
        out: &'o mut Output,
        plan: Plan,
        source: String,
    ) -> anyhow::Result<Pipeline<'o>> {
        let sink = match &plan.write {
            Some(p) => Some(super::capture_failed(
                PcapSink::create(p),
                format!("could not create `{}`", p.display()),
            )?),
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
            filter: plan.filter.as_ref().map(|f| f.text.clone()),
            dropped: None,
            loopback_duplicates_removed: None,
            decode_stopped: 0,
            checksums_not_verified: 0,
            tcp_notes: Default::default(),
            truncated_record: None,
            interfaces: Vec::new(),
            written: plan.write.clone(),
            note: None,
            packets: Vec::new(),
        };
        Ok(Pipeline {
            out,
            plan,
            flows: FlowTable::streaming(Limits::default()),
            // The one-line view decodes only Engine.IO conversations, to name what they
            // carry; the other views decode every conversation.
            apps: Some(if full {
                applayers::AppLayers::default()
            } else {
                applayers::AppLayers::carried_only()
            }),
            sink,
            summary,
            json_all,
            full,
            follower,
            stats,
            defrag: Defragmenter::new(fragments::Limits::default()),
        })
    }

    fn done(&self) -> bool {
        self.plan.count.is_some_and(|c| self.summary.shown >= c)
    }

    /// Handle one frame; `Ok(true)` when the count is reached.
    pub(super) fn frame(&mut self, f: Frame<'_>) -> anyhow::Result<bool> {
        self.summary.frames += 1;
        self.summary.link.get_or_insert(f.link);
        let d = dissect(f.link, f.data);
        if let Some(f) = &self.plan.filter {
            if !f.filter.matches(&d) {
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
            super::capture_failed(sink.write(&f), "writing the capture file".into())?;
        }
        let ts_us = u64::try_from(f.ts.as_micros()).unwrap_or(u64::MAX);
        if let Some(st) = self.stats.as_mut() {
            st.packet(&d, f.data, f.orig_len, ts_us);
        } else if let Some(fo) = self.follower.as_mut() {
            fo.packet(&d, f.data, ts_us);
        } else {
            self.packet(f, d, ts_us)?;
        }
        Ok(self.done())
    }

    /// The packet views: track the conversation (notes, application layers), then hand
    /// the packet to `output` as an event (or keep it for `--json`'s one document).
    fn packet(&mut self, f: Frame<'_>, d: Dissection, ts_us: u64) -> anyhow::Result<()> {
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
        // Only a fragment does any reassembly work.
        let reassembly = d
            .fragment(f.data.len())
            .map(|at| self.reassemble(&at, f.data, number, ts_us));
        if self.plan.quiet {
            return Ok(());
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
            number,
            ts_us,
            ts_ns: u64::try_from(f.ts.as_nanos()).unwrap_or(u64::MAX),
            ts_digits: f.ts_digits,
            captured_len: f.data.len(),
            orig_len: f.orig_len,
            link: f.link,
            interface: f.interface.filter(|_| self.full).map(PacketInterface::of),
            network: network(&d),
            protocol: d.top().map(|l| l.protocol),
            src: ips.map(|(s, _)| oneline::endpoint(s, ports.map(|p| p.0))),
            dst: ips.map(|(_, t)| oneline::endpoint(t, ports.map(|p| p.1))),
            info: json_fields.then(|| oneline::info(&d, ann.as_ref(), &notes)),
            tcp: ann,
            notes,
            pdu_continues: app.continues,
            reassembly,
            layers: (self.full && json_fields).then(|| layers(&d, f.data, &app.layers)),
            payload: d.payload.clone(),
            stopped: d.stopped.clone(),
            record_note: f.claims_fewer_than_captured().then(|| {
                format!(
                    "the record says {} bytes on the wire but holds {}: the file was written wrongly; \
                     the {} bytes are decoded",
                    f.orig_len,
                    f.data.len(),
                    f.data.len()
                )
            }),
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
        Ok(())
    }

    /// Hand an IP fragment to the defragmenter; when it completes its datagram, decode
    /// the transport header over the whole datagram (checksum included).
    fn reassemble(
        &mut self,
        at: &crate::wire::dissect::FragmentAt,
        frame: &[u8],
        number: u64,
        ts_us: u64,
    ) -> Reassembly {
        let piece = fragments::Piece {
            key: at.key,
            offset: at.offset,
            more: at.more,
            data: &frame[at.data.clone()],
            frame: number,
            ts_us,
        };
        match self.defrag.fragment(piece) {
            Outcome::Pending => Reassembly::Pending,
            Outcome::Complete(g) => Reassembly::Complete {
                frames: g.frames.clone(),
                length: g.payload.len(),
                transport: reassembled(&g),
            },
            Outcome::Refused(why) => Reassembly::Refused {
                reason: why.describe(),
            },
        }
    }

    pub(super) fn finish(mut self) -> anyhow::Result<CaptureSummary> {
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

/// The packet's own network layer (not one quoted inside an ICMP error).
fn network(d: &Dissection) -> Option<Protocol> {
    d.layers
        .iter()
        .find(|l| {
            !l.quoted && matches!(l.protocol, Protocol::Ipv4 | Protocol::Ipv6 | Protocol::Arp)
        })
        .map(|l| l.protocol)
}

/// Every layer as data for JSON: the frame's headers, then the application units that
/// completed in this packet.
fn layers(d: &Dissection, frame: &[u8], app: &[AppLayer]) -> Vec<LayerOut> {
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
            fields: l.fields(frame),
            decoded: Decoded::Wire(l.repr.clone()),
            reassembled_from: None,
        })
        .collect();
    v.extend(app.iter().map(|a| LayerOut {
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
}
