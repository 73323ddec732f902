//! Application layers per packet, for the capture's layer tree (`--layers`, `--osi`,
//! `--hex`) and its JSON. The capture `Pipeline` hands every reassembled piece of every
//! TCP conversation to that conversation's `wire::dissect::app::AppDecoder` (the decoder
//! `--follow` and `--stats` use) and remembers which packet brought which stream bytes.
//! A unit (an HTTP message, a WebSocket frame) is shown on the packet in which it
//! completed, with the packets it was reassembled from, as Wireshark does; a packet
//! that carries the start or middle of a unfinished unit says so.

use crate::layers::Protocol;
use crate::wire::dissect::app::{
    first_request_is_http, request_is_carried, AppDecoder, AppEvent, AppLayer, FrameMap,
};
use crate::wire::dissect::flow::{Direction, Piece, Update};
use crate::wire::dissect::Dissection;
use std::collections::{HashMap, VecDeque};

/// Bytes one direction's decoder may hold while a unit is incomplete (as `--follow`).
const APP_BUFFER: usize = 16 * 1024 * 1024;
/// Decoders alive at once; conversations beyond are not decoded.
const MAX_DECODERS: usize = 4096;
/// Packets remembered per direction for "reassembled from packets N–M".
const MAX_RANGES: usize = 65_536;

#[derive(Debug, Default)]
struct Conv {
    app: Option<AppDecoder>,
    /// Not decoded (the one-line view decodes only what may carry Engine.IO, and this
    /// conversation is not HTTP, or switched to a WebSocket nobody claimed).
    skip: bool,
    /// An HTTP conversation the one-line view watches for a request that asks for
    /// Engine.IO, without decoding it yet.
    watching: bool,
    /// Per direction: (stream offset after the bytes, packet that brought them).
    ranges: [VecDeque<(u64, u64)>; 2],
}

/// What one packet carries at the application layer.
#[derive(Debug, Default)]
pub struct PacketApp {
    pub layers: Vec<AppLayer>,
    /// Bytes of a unit that completes in a later packet.
    pub continues: Option<Protocol>,
}

/// The per-conversation application decoders of one capture.
#[derive(Debug, Default)]
pub struct AppLayers {
    /// Decode only conversations that may carry a protocol (Engine.IO) inside HTTP,
    /// for the one-line view.
    carried_only: bool,
    convs: HashMap<u32, Conv>,
    events: Vec<(u32, AppEvent)>,
    touched: Vec<(u32, Direction)>,
    number: u64,
}

impl AppLayers {
    /// Decoders for the one-line view, on what may carry Engine.IO only. A conversation
    /// whose first bytes are no HTTP/1.x request line is looked at once and left; on one
    /// that is, each client segment that starts a request line is looked at, and the
    /// first whose target asks for Engine.IO (`EIO=4`; a browser's comes after `GET /`
    /// for the page) starts the decoder. It is dropped again once nothing more can be
    /// carried (after an upgrade no request target claimed).
    pub fn carried_only() -> AppLayers {
        AppLayers {
            carried_only: true,
            ..AppLayers::default()
        }
    }

    /// A new packet (numbered as shown) is about to be fed.
    pub fn start(&mut self, number: u64) {
        self.number = number;
        self.events.clear();
        self.touched.clear();
    }

    /// A reassembled piece of TCP conversation `id` (from `wire::dissect::flow`'s sink);
    /// `ports` are the packet's, so a conversation with port 53 is read as DNS.
    pub fn piece(&mut self, id: u32, dir: Direction, p: Piece<'_>, ports: (u16, u16)) {
        if !self.convs.contains_key(&id) && self.convs.len() >= MAX_DECODERS {
            return;
        }
        let c = self.convs.entry(id).or_default();
        if self.carried_only && c.app.is_none() {
            let client = match p {
                Piece::Data { offset, bytes } if dir == Direction::AToB => Some((offset, bytes)),
                _ => None,
            };
            if !c.watching {
                match client {
                    Some((0, first)) if !c.skip && first_request_is_http(first) => {
                        c.watching = true;
                    }
                    _ => {
                        c.skip = true;
                        return;
                    }
                }
            }
            if c.skip || !client.is_some_and(|(_, b)| request_is_carried(b)) {
                return;
            }
        }
        let app = c
            .app
            .get_or_insert_with(|| AppDecoder::for_ports(APP_BUFFER, ports.0, ports.1));
        if let Piece::Data { offset, bytes } = p {
            let r = &mut c.ranges[dir as usize];
            let end = offset + bytes.len() as u64;
            match r.back_mut() {
                Some(last) if last.1 == self.number => last.0 = end,
                _ => r.push_back((end, self.number)),
            }
            if r.len() > MAX_RANGES {
                r.pop_front();
            }
            if !self.touched.contains(&(id, dir)) {
                self.touched.push((id, dir));
            }
        }
        let mut out = Vec::new();
        app.piece(dir, p, &mut out);
        if self.carried_only && !app.may_carry() {
            c.app = None;
            c.skip = true;
        }
        self.events.extend(out.into_iter().map(|e| (id, e)));
    }

    /// The packet has been fed: its application layers. `closed` when its conversation
    /// ended with it (bodies read until close end here).
    pub fn finish_packet(
        &mut self,
        d: &Dissection,
        frame: &[u8],
        u: Option<&Update>,
        closed: bool,
    ) -> PacketApp {
        if closed {
            if let Some(id) = u.map(|u| u.conversation) {
                if let Some(mut c) = self.convs.remove(&id) {
                    if let Some(app) = c.app.as_mut() {
                        let mut out = Vec::new();
                        app.finish(&mut out);
                        self.events.extend(out.into_iter().map(|e| (id, e)));
                    }
                    // Keep the ranges for the events just finished.
                    self.convs.insert(
                        id,
                        Conv {
                            app: None,
                            skip: c.skip,
                            watching: false,
                            ranges: c.ranges,
                        },
                    );
                }
            }
        }
        let mut out = PacketApp::default();
        let payload_len = d.payload.len();
        for (id, ev) in std::mem::take(&mut self.events) {
            let map = u.and_then(|u| {
                (u.conversation == id && u.direction == ev.direction)
                    .then_some(u.payload_offset)
                    .flatten()
                    .map(|stream_at| FrameMap {
                        stream_at,
                        frame_at: d.payload.start,
                        len: payload_len,
                    })
            });
            let Some(mut layer) = ev.layer(frame, map) else {
                continue;
            };
            if let Some(c) = self.convs.get_mut(&id) {
                let r = &mut c.ranges[ev.direction as usize];
                let first = r
                    .iter()
                    .find(|(end, _)| *end > ev.offset)
                    .map(|(_, n)| *n)
                    .unwrap_or(self.number);
                if first != self.number {
                    layer.reassembled_from = Some((first, self.number));
                }
                // Bytes before this unit's end are done with.
                while r.front().is_some_and(|(end, _)| *end <= ev.end) && r.len() > 1 {
                    r.pop_front();
                }
            }
            out.layers.push(layer);
        }
        for &(id, dir) in &self.touched {
            if let Some(p) = self
                .convs
                .get(&id)
                .and_then(|c| c.app.as_ref())
                .and_then(|a| a.holding(dir))
            {
                out.continues = Some(p);
            }
        }
        if closed {
            if let Some(id) = u.map(|u| u.conversation) {
                self.convs.remove(&id);
            }
        }
        out
    }
}
