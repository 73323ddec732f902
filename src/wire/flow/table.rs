//! The conversation table: which conversation a packet belongs to, and what it did there.

use super::reassembly::Reassembler;
use super::{
    Annotation, Conversation, Direction, End, Limits, Note, Piece, State, Step, Transport, Update,
};
use crate::wire::dissect::{Dissection, LayerRepr};
use crate::wire::tcp::Repr as TcpRepr;
use std::collections::HashMap;

/// A conversation's key: its transport and its two ends, the lower one first (so both
/// directions of a conversation have the same key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    transport: Transport,
    low: End,
    high: End,
}

impl Key {
    fn new(transport: Transport, x: End, y: End) -> Key {
        let (low, high) = if x <= y { (x, y) } else { (y, x) };
        Key {
            transport,
            low,
            high,
        }
    }
}

/// One direction of an open TCP conversation: what one side sent, and what the analysis
/// remembers about that side.
#[derive(Debug, Clone)]
pub(super) struct Half {
    /// The bytes this side sent, put back in order.
    pub(super) stream: Reassembler,
    /// This side sent a FIN.
    pub(super) fin: bool,
    /// This side's initial sequence number (or the first one seen, mid-stream).
    pub(super) isn: Option<u32>,
    /// This side's last acknowledgement number and window (for the expert notes).
    pub(super) last_ack: Option<u32>,
    pub(super) last_win: Option<u16>,
    /// The packet that first carried `last_ack`, and how many duplicates followed it.
    pub(super) ack_packet: u64,
    pub(super) dup_acks: u32,
    /// The sequence number after the highest byte this side has sent, and when that
    /// segment was seen (Wireshark's "next expected sequence number" and its time).
    pub(super) high: Option<u32>,
    pub(super) high_ts: u64,
}

impl Half {
    fn new(max_buffered: usize) -> Half {
        Half {
            stream: Reassembler::new(max_buffered),
            fin: false,
            isn: None,
            last_ack: None,
            last_win: None,
            ack_packet: 0,
            dup_acks: 0,
            high: None,
            high_ts: 0,
        }
    }
}

/// An open conversation's state (TCP's; a UDP conversation uses only `index`).
#[derive(Debug, Clone)]
struct Open {
    /// Its row in `FlowTable::conversations`.
    index: usize,
    /// a → b and b → a.
    halves: [Half; 2],
    syn_ack_seen: bool,
    /// When the last SYN was seen, and the handshake's round-trip time once known.
    syn_ts: Option<u64>,
    irtt_us: Option<u64>,
}

impl Open {
    fn new(index: usize, max_buffered: usize) -> Open {
        Open {
            index,
            halves: [Half::new(max_buffered), Half::new(max_buffered)],
            syn_ack_seen: false,
            syn_ts: None,
            irtt_us: None,
        }
    }
}

/// Every conversation in a capture.
#[derive(Debug, Clone, Default)]
pub struct FlowTable {
    limits: Limits,
    /// Open conversations: their ends, and where their state is in `slots`. The map holds
    /// only small entries (a look-up per packet stays in the cache); the state of a
    /// conversation (about 340 bytes) lives in the slab beside it.
    open: HashMap<Key, usize, std::hash::BuildHasherDefault<ConvHasher>>,
    slots: Vec<Option<Open>>,
    free_slots: Vec<usize>,
    /// Packets handed to [`FlowTable::packet`], so notes can name one by number.
    pub packets: u64,
    /// Every conversation seen, in order (closed ones stay for the statistics).
    pub conversations: Vec<Conversation>,
    /// Packets of conversations over the bound, counted but not followed.
    pub untracked_packets: u64,
    /// Conversations numbered so far.
    ids: u32,
    /// Streaming (see [`FlowTable::streaming`]): with this many open conversations,
    /// forget the ended ones and reuse their rows.
    forget_at: Option<usize>,
    free: Vec<usize>,
}

impl FlowTable {
    /// The bounds this table was made with.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn new(limits: Limits) -> FlowTable {
        FlowTable {
            limits,
            ..FlowTable::default()
        }
    }

    /// A table for a stream of packets that keeps no history: once 4,096 conversations
    /// are open, ended ones (closed by FIN, reset) are forgotten and their rows in
    /// `conversations` reused, so memory stays flat however long the capture. The
    /// one-line view uses it; `--stats` and `--follow`, which report every conversation,
    /// use [`FlowTable::new`]. A segment of a forgotten conversation (a very late
    /// retransmission) starts a new one.
    pub fn streaming(limits: Limits) -> FlowTable {
        FlowTable {
            limits,
            forget_at: Some(4096),
            ..FlowTable::default()
        }
    }

    fn forget_ended(&mut self) {
        let conversations = &self.conversations;
        let (slots, free_slots, free) = (&mut self.slots, &mut self.free_slots, &mut self.free);
        let keep_rows = self.forget_at.is_none();
        self.open.retain(|_, &mut slot| {
            let Some(o) = slots[slot].as_ref() else {
                return false;
            };
            let ended = matches!(conversations[o.index].state, State::Closed | State::Reset);
            if ended {
                if !keep_rows {
                    free.push(o.index);
                }
                slots[slot] = None;
                free_slots.push(slot);
            }
            !ended
        });
    }

    /// Stop following the conversation in `slot` (its buffers are freed now).
    fn close_slot(&mut self, key: &Key, slot: usize) {
        self.open.remove(key);
        self.slots[slot] = None;
        self.free_slots.push(slot);
    }

    /// Follow one dissected packet. `frame` is the bytes the dissection was made from;
    /// `sink` receives the conversation's reassembled pieces in order.
    pub fn packet(
        &mut self,
        d: &Dissection,
        frame: &[u8],
        ts_us: u64,
        sink: &mut impl FnMut(u32, Direction, Piece<'_>),
    ) -> Option<Update> {
        self.packets += 1;
        let (src, dst) = d.ip_addrs()?;
        let payload = frame.get(d.payload.clone()).unwrap_or(&[]);
        let l4 = d
            .layers
            .iter()
            .filter(|l| !l.quoted)
            .find_map(|l| match &l.repr {
                LayerRepr::Tcp(t) => Some(Ok(t)),
                LayerRepr::Udp(u) => Some(Err(u.payload_len)),
                _ => None,
            })?;
        match l4 {
            Ok(t) => Some(self.tcp(
                (src, t.src_port),
                (dst, t.dst_port),
                t,
                payload,
                ts_us,
                sink,
            )),
            Err(len) => {
                let ports = d.ports()?;
                Some(self.udp(
                    (src, ports.0),
                    (dst, ports.1),
                    payload,
                    len as u64,
                    ts_us,
                    sink,
                ))
            }
        }
    }

    /// Find or start the conversation: its slot in `slots`; `None` when the table is full.
    fn open(&mut self, t: Transport, a: End, b: End, ts_us: u64, fresh: bool) -> Option<usize> {
        let key = Key::new(t, a, b);
        if let Some(&slot) = self.open.get(&key) {
            let index = self.slots[slot].as_ref()?.index;
            let st = self.conversations[index].state;
            // A new SYN on the ends of a finished conversation: the ports were reused.
            if !(fresh && matches!(st, State::Closed | State::Reset)) {
                return Some(slot);
            }
            self.close_slot(&key, slot);
            if self.forget_at.is_some() {
                self.free.push(index);
            }
        }
        if let Some(at) = self.forget_at {
            if self.open.len() >= at {
                self.forget_ended();
                // Next time, only when the open ones have doubled (no scan per SYN).
                self.forget_at = Some(at.max(2 * self.open.len()));
            }
        }
        if self.open.len() >= self.limits.max_conversations {
            // Make room: forget the conversations that have ended.
            self.forget_ended();
        }
        if self.open.len() >= self.limits.max_conversations {
            self.untracked_packets += 1;
            return None;
        }
        self.ids = self.ids.saturating_add(1);
        let id = self.ids;
        let row = Conversation {
            id,
            transport: t,
            a,
            b,
            state: if t == Transport::Udp {
                State::Datagrams
            } else {
                State::Established
            },
            handshake_seen: false,
            packets_a_to_b: 0,
            packets_b_to_a: 0,
            bytes_a_to_b: 0,
            bytes_b_to_a: 0,
            gaps: 0,
            gap_bytes: 0,
            retransmissions: 0,
            out_of_order: 0,
            buffer_full: 0,
            duplicate_acks: 0,
            zero_windows: 0,
            window_updates: 0,
            keep_alives: 0,
            previous_segment_not_captured: 0,
            first_ts_us: ts_us,
            last_ts_us: ts_us,
        };
        let index = match self.free.pop() {
            Some(i) => {
                self.conversations[i] = row;
                i
            }
            None => {
                self.conversations.push(row);
                self.conversations.len() - 1
            }
        };
        let open = Open::new(index, self.limits.max_buffered);
        let slot = match self.free_slots.pop() {
            Some(i) => {
                self.slots[i] = Some(open);
                i
            }
            None => {
                self.slots.push(Some(open));
                self.slots.len() - 1
            }
        };
        self.open.insert(key, slot);
        Some(slot)
    }

    fn udp(
        &mut self,
        from: End,
        to: End,
        payload: &[u8],
        wire_len: u64,
        ts_us: u64,
        sink: &mut impl FnMut(u32, Direction, Piece<'_>),
    ) -> Update {
        let Some(slot) = self.open(Transport::Udp, from, to, ts_us, false) else {
            return untracked();
        };
        let Some(o) = self.slots[slot].as_ref() else {
            return untracked();
        };
        let c = &mut self.conversations[o.index];
        let dir = if c.a == from {
            Direction::AToB
        } else {
            Direction::BToA
        };
        c.last_ts_us = ts_us;
        let have = payload
            .len()
            .min(usize::try_from(wire_len).unwrap_or(usize::MAX));
        let (packets, bytes) = match dir {
            Direction::AToB => (&mut c.packets_a_to_b, &mut c.bytes_a_to_b),
            Direction::BToA => (&mut c.packets_b_to_a, &mut c.bytes_b_to_a),
        };
        let offset = *bytes;
        *packets += 1;
        *bytes += have as u64;
        sink(
            c.id,
            dir,
            Piece::Data {
                offset,
                bytes: &payload[..have],
            },
        );
        Update {
            conversation: c.id,
            direction: dir,
            notes: Vec::new(),
            state: Some(State::Datagrams),
            tcp: None,
            payload_offset: None,
        }
    }

    fn tcp(
        &mut self,
        from: End,
        to: End,
        t: &TcpRepr,
        payload: &[u8],
        ts_us: u64,
        sink: &mut impl FnMut(u32, Direction, Piece<'_>),
    ) -> Update {
        let number = self.packets;
        let fresh_syn = t.flags.syn() && !t.flags.ack();
        let (a, b) = if t.flags.syn() && t.flags.ack() {
            (to, from) // a SYN-ACK comes from the server
        } else {
            (from, to)
        };
        let Some(slot) = self.open(Transport::Tcp, a, b, ts_us, fresh_syn) else {
            return untracked();
        };
        let Some(o) = self.slots[slot].as_mut() else {
            return untracked();
        };
        let c = &mut self.conversations[o.index];
        let dir = if c.a == from {
            Direction::AToB
        } else {
            Direction::BToA
        };
        let i = dir as usize;
        let id = c.id;
        c.last_ts_us = ts_us;
        // Relative numbers, before anything below changes the ISNs.
        if t.flags.syn() || o.halves[i].isn.is_none() {
            o.halves[i].isn = Some(t.seq);
        }
        let rel_seq = t.seq.wrapping_sub(o.halves[i].isn.unwrap_or(t.seq));
        let rel_ack = if t.flags.ack() {
            o.halves[1 - i].isn.map(|isn| t.ack.wrapping_sub(isn))
        } else {
            None
        };
        let mut notes = Vec::new();
        let stream = &mut o.halves[i].stream;
        if t.flags.syn() && stream.syn(t.seq) {
            notes.push(Note::Retransmission);
        }
        if t.flags.syn() {
            if t.flags.ack() {
                o.syn_ack_seen = true;
            } else {
                o.syn_ts = Some(ts_us);
            }
            if c.state == State::Established && !c.handshake_seen {
                c.state = State::Opening;
            }
        }
        // Wireshark's definitions of its TCP analysis flags, for the ones netlab shows.
        let plain = !(t.flags.syn() || t.flags.fin() || t.flags.rst());
        let next = stream.next_seq();
        let keep_alive =
            plain && t.payload_len <= 1 && next.is_some_and(|n| t.seq == n.wrapping_sub(1));
        if plain {
            if keep_alive {
                notes.push(Note::KeepAlive);
            }
            if t.window == 0 {
                notes.push(Note::ZeroWindow);
            }
            let same_ack = t.flags.ack() && o.halves[i].last_ack == Some(t.ack);
            if t.payload_len == 0 && t.window != 0 && same_ack {
                if o.halves[i].last_win.is_some_and(|w| w != t.window) && next == Some(t.seq) {
                    notes.push(Note::WindowUpdate);
                } else if o.halves[i].last_win == Some(t.window) && !keep_alive && t.ack != 0 {
                    o.halves[i].dup_acks += 1;
                    notes.push(Note::DuplicateAck {
                        of: o.halves[i].ack_packet,
                        count: o.halves[i].dup_acks,
                    });
                }
            }
        }
        if t.flags.ack() {
            if o.halves[i].last_ack != Some(t.ack) || t.payload_len > 0 || t.flags.syn() {
                // A new acknowledgement (or one riding on data): later repeats count
                // from this packet.
                o.halves[i].ack_packet = number;
                o.halves[i].dup_acks = 0;
            }
            o.halves[i].last_ack = Some(t.ack);
        }
        o.halves[i].last_win = Some(t.window);
        let (before, gaps_before, gap_bytes_before) =
            (stream.delivered, stream.gaps, stream.gap_bytes);
        let seq = if t.flags.syn() {
            t.seq.wrapping_add(1)
        } else {
            t.seq
        };
        let mark = notes.len();
        let payload_offset =
            stream.segment(seq, payload, t.payload_len as u64, &mut notes, &mut |p| {
                sink(id, dir, p)
            });
        // Wireshark's rules, from the highest sequence number sent so far in this
        // direction (`high`), not from the bytes delivered in order: a segment that
        // starts beyond it is "previous segment not captured"; one from behind it is
        // out of order when it comes soon after the highest segment (the handshake's
        // round trip, or 3 ms when that is unknown or too small to measure) and does not
        // end where it does, and otherwise a retransmission, whether its bytes were seen
        // before (sent again) or not (it filled a hole, late).
        let end = seq.wrapping_add(t.payload_len as u32);
        let ahead = o.halves[i]
            .high
            .is_none_or(|h| (seq.wrapping_sub(h) as i32) > 0);
        let behind = o.halves[i].high.is_some_and(|h| {
            (seq.wrapping_sub(h) as i32) < 0 && !(t.payload_len > 1 && seq == h.wrapping_sub(1))
        });
        let mut k = mark;
        while k < notes.len() {
            let drop = match notes[k] {
                // Beyond the bytes delivered in order but not beyond `high`: an earlier
                // segment already left the hole, and Wireshark names it only there.
                Note::PreviousSegmentNotCaptured => !ahead,
                // Reclassified below by Wireshark's rule (a keep-alive's byte is old on
                // purpose: not a retransmission).
                Note::Retransmission => behind && t.payload_len > 0 && !t.flags.syn(),
                _ => false,
            };
            if drop {
                notes.remove(k);
            } else {
                k += 1;
            }
        }
        if t.payload_len > 0 && behind && !keep_alive && !t.flags.syn() {
            let threshold = o.irtt_us.filter(|&r| r > 0).unwrap_or(3_000);
            // A segment stamped earlier than the highest one (a capture merged or
            // reordered after the fact) is not "soon after" it: Wireshark counts the
            // difference unsigned, and so it falls beyond the threshold.
            let soon = ts_us
                .checked_sub(o.halves[i].high_ts)
                .is_some_and(|t| t < threshold);
            let ends_at_high = o.halves[i].high == Some(end);
            notes.push(if soon && !ends_at_high {
                Note::OutOfOrder
            } else {
                Note::Retransmission
            });
        }
        let sent_end = if t.flags.fin() {
            end.wrapping_add(1)
        } else {
            end
        };
        if o.halves[i]
            .high
            .is_none_or(|h| (sent_end.wrapping_sub(h) as i32) > 0)
        {
            o.halves[i].high = Some(sent_end);
            o.halves[i].high_ts = ts_us;
        }
        if t.flags.fin() {
            o.halves[i].fin = true;
            stream.fin(seq.wrapping_add(t.payload_len as u32));
        }
        let (other_before, other_gaps, other_gap_bytes) = {
            let s = &o.halves[1 - i].stream;
            (s.delivered, s.gaps, s.gap_bytes)
        };
        if t.flags.ack() && !t.flags.rst() {
            let other_dir = match dir {
                Direction::AToB => Direction::BToA,
                Direction::BToA => Direction::AToB,
            };
            o.halves[1 - i]
                .stream
                .acked(t.ack, &mut notes, &mut |p| sink(id, other_dir, p));
        }
        {
            let s = &o.halves[1 - i].stream;
            c.gaps += s.gaps - other_gaps;
            c.gap_bytes += s.gap_bytes - other_gap_bytes;
            let more = s.delivered - other_before;
            match dir {
                Direction::AToB => c.bytes_b_to_a += more,
                Direction::BToA => c.bytes_a_to_b += more,
            }
        }
        let stream = &o.halves[i].stream;
        let mut step = if t.flags.rst() {
            Some(Step::Rst)
        } else if fresh_syn {
            Some(Step::Syn)
        } else if t.flags.syn() {
            Some(Step::SynAck)
        } else if t.flags.fin() {
            Some(Step::Fin)
        } else {
            None
        };
        if c.state == State::Opening
            && o.syn_ack_seen
            && dir == Direction::AToB
            && t.flags.ack()
            && !t.flags.syn()
        {
            c.state = State::Established;
            c.handshake_seen = true;
            o.irtt_us = o.syn_ts.map(|s| ts_us.saturating_sub(s));
            if step.is_none() {
                step = Some(Step::HandshakeAck);
            }
        }
        if t.flags.rst() {
            notes.push(Note::Reset);
            c.state = State::Reset;
        } else if o.halves[0].fin && o.halves[1].fin {
            c.state = State::Closed;
        } else if o.halves[0].fin || o.halves[1].fin {
            c.state = State::HalfClosed;
        }
        let delivered = stream.delivered - before;
        c.gaps += stream.gaps - gaps_before;
        c.gap_bytes += stream.gap_bytes - gap_bytes_before;
        match dir {
            Direction::AToB => {
                c.packets_a_to_b += 1;
                c.bytes_a_to_b += delivered;
            }
            Direction::BToA => {
                c.packets_b_to_a += 1;
                c.bytes_b_to_a += delivered;
            }
        }
        count(c, &notes);
        Update {
            conversation: id,
            direction: dir,
            notes,
            state: Some(c.state),
            tcp: Some(Annotation {
                step,
                rel_seq,
                rel_ack,
                stream: id,
            }),
            payload_offset: if t.payload_len > 0 {
                payload_offset
            } else {
                None
            },
        }
    }

    /// The capture ended: flush every stream still waiting behind a hole.
    pub fn finish(&mut self, sink: &mut impl FnMut(u32, Direction, Piece<'_>)) -> Vec<Update> {
        let mut updates = Vec::new();
        self.open.clear();
        self.free_slots.clear();
        let mut open: Vec<Open> = self.slots.drain(..).flatten().collect();
        open.sort_by_key(|o| o.index);
        for mut o in open {
            let c = &mut self.conversations[o.index];
            for (i, dir) in [(0, Direction::AToB), (1, Direction::BToA)] {
                let mut notes = Vec::new();
                let stream = &mut o.halves[i].stream;
                let (before, gaps_before, gap_bytes_before) =
                    (stream.delivered, stream.gaps, stream.gap_bytes);
                let id = c.id;
                stream.finish(&mut notes, &mut |p| sink(id, dir, p));
                let delivered = stream.delivered - before;
                c.gaps += stream.gaps - gaps_before;
                c.gap_bytes += stream.gap_bytes - gap_bytes_before;
                match dir {
                    Direction::AToB => c.bytes_a_to_b += delivered,
                    Direction::BToA => c.bytes_b_to_a += delivered,
                }
                count(c, &notes);
                if !notes.is_empty() {
                    updates.push(Update {
                        conversation: id,
                        direction: dir,
                        notes,
                        state: Some(c.state),
                        tcp: None,
                        payload_offset: None,
                    });
                }
            }
        }
        updates
    }

    /// Out-of-order bytes held across all open conversations.
    pub fn buffered(&self) -> usize {
        self.slots
            .iter()
            .flatten()
            .map(|o| o.halves[0].stream.buffered() + o.halves[1].stream.buffered())
            .sum()
    }
}

fn untracked() -> Update {
    Update {
        conversation: 0,
        direction: Direction::AToB,
        notes: Vec::new(),
        state: None,
        tcp: None,
        payload_offset: None,
    }
}

/// A small multiplicative hasher for the conversation table. SipHash (the default) resists
/// crafted collisions; here the table is bounded and ended conversations are dropped when
/// it is full, and hashing was a tenth of the one-line view's time on large captures.
#[derive(Default, Clone, Copy)]
pub struct ConvHasher(u64);

impl std::hash::Hasher for ConvHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(w));
        }
    }
    // The key's parts arrive as integers (the derived `Hash` of enums, addresses and
    // ports): one mixing step each, instead of a copy into an 8-byte block per call.
    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }
    fn write_u16(&mut self, n: u16) {
        self.mix(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
    fn write_isize(&mut self, n: isize) {
        self.mix(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl ConvHasher {
    fn mix(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

fn count(c: &mut Conversation, notes: &[Note]) {
    for n in notes {
        match n {
            Note::Retransmission => c.retransmissions += 1,
            Note::OutOfOrder => c.out_of_order += 1,
            Note::PreviousSegmentNotCaptured => c.previous_segment_not_captured += 1,
            Note::BufferFull => c.buffer_full += 1,
            Note::DuplicateAck { .. } => c.duplicate_acks += 1,
            Note::ZeroWindow => c.zero_windows += 1,
            Note::WindowUpdate => c.window_updates += 1,
            Note::KeepAlive => c.keep_alives += 1,
            Note::Gap { .. } | Note::Overlap { .. } | Note::Reset => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Which;
    use super::*;
    use crate::wire::checksum::Checked;
    use crate::wire::tcp::{Flags, Options};
    use std::net::{IpAddr, Ipv4Addr};

    fn seg(flags: u8, seq: u32, ack: u32, len: usize) -> TcpRepr {
        TcpRepr {
            src_port: 0,
            dst_port: 0,
            seq,
            ack,
            header_len: 20,
            flags: Flags(flags),
            window: 100,
            checksum: 0,
            checksum_check: Checked::Correct,
            urgent: 0,
            options: Options::default(),
            payload_len: len,
        }
    }

    #[test]
    fn conversation_states_and_both_directions() {
        let c = (IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);
        let s = (IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);
        let mut t = FlowTable::new(Limits::default());
        let mut got: Vec<(u32, Direction, String)> = Vec::new();
        let mut sink = |id: u32, d: Direction, p: Piece<'_>| {
            if let Piece::Data { bytes, .. } = p {
                got.push((id, d, String::from_utf8_lossy(bytes).into_owned()));
            }
        };
        let state = |t: &FlowTable| t.conversations[0].state;
        let (ic, is) = (u32::MAX - 1, 5000);
        t.tcp(c, s, &seg(Flags::SYN, ic, 0, 0), b"", 1, &mut sink);
        assert_eq!(state(&t), State::Opening);
        t.tcp(
            s,
            c,
            &seg(Flags::SYN | Flags::ACK, is, ic.wrapping_add(1), 0),
            b"",
            2,
            &mut sink,
        );
        t.tcp(
            c,
            s,
            &seg(Flags::ACK, ic.wrapping_add(1), is + 1, 0),
            b"",
            3,
            &mut sink,
        );
        assert_eq!(state(&t), State::Established);
        assert!(t.conversations[0].handshake_seen);
        t.tcp(
            c,
            s,
            &seg(Flags::ACK | Flags::PSH, ic.wrapping_add(1), is + 1, 3),
            b"GET",
            4,
            &mut sink,
        );
        t.tcp(
            s,
            c,
            &seg(Flags::ACK | Flags::PSH, is + 1, 2, 2),
            b"OK",
            5,
            &mut sink,
        );
        t.tcp(
            c,
            s,
            &seg(Flags::FIN | Flags::ACK, 2, is + 3, 0),
            b"",
            6,
            &mut sink,
        );
        assert_eq!(state(&t), State::HalfClosed);
        t.tcp(
            s,
            c,
            &seg(Flags::FIN | Flags::ACK, is + 3, 3, 0),
            b"",
            7,
            &mut sink,
        );
        assert_eq!(state(&t), State::Closed);
        t.tcp(c, s, &seg(Flags::ACK, 3, is + 4, 0), b"", 8, &mut sink);
        assert_eq!(
            t.conversations.len(),
            1,
            "the last ACK is the same conversation"
        );
        // The same ports again, with a new SYN: a second conversation, then a reset.
        t.tcp(c, s, &seg(Flags::SYN, 77, 0, 0), b"", 9, &mut sink);
        t.tcp(
            s,
            c,
            &seg(Flags::RST | Flags::ACK, 0, 78, 0),
            b"",
            10,
            &mut sink,
        );
        assert_eq!(t.conversations.len(), 2);
        assert_eq!(t.conversations[1].state, State::Reset);
        assert_eq!(
            got,
            vec![
                (1, Direction::AToB, "GET".to_string()),
                (1, Direction::BToA, "OK".to_string())
            ]
        );
        let conv = &t.conversations[0];
        assert_eq!((conv.a, conv.b), (c, s));
        assert_eq!((conv.packets_a_to_b, conv.packets_b_to_a), (5, 3));
        assert_eq!((conv.bytes_a_to_b, conv.bytes_b_to_a), (3, 2));
        assert_eq!((conv.first_ts_us, conv.last_ts_us), (1, 8));
        assert!(conv.matches(&Which::Ends(s, c)));
        assert!(conv.matches(&Which::Id(1)) && !conv.matches(&Which::Id(2)));
    }

    #[test]
    fn expert_notes_follow_wiresharks_definitions() {
        let c = (IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);
        let s = (IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);
        let mut t = FlowTable::new(Limits::default());
        let mut sink = |_: u32, _: Direction, _: Piece<'_>| {};
        let with_win = |mut r: TcpRepr, w: u16| {
            r.window = w;
            r
        };
        t.tcp(c, s, &seg(Flags::SYN, 0, 0, 0), b"", 0, &mut sink);
        t.tcp(
            s,
            c,
            &seg(Flags::SYN | Flags::ACK, 0, 1, 0),
            b"",
            0,
            &mut sink,
        );
        t.tcp(c, s, &seg(Flags::ACK, 1, 1, 0), b"", 0, &mut sink);
        t.tcp(c, s, &seg(Flags::ACK, 1, 1, 4), b"abcd", 0, &mut sink);
        let n = |u: Update| u.notes;
        // The server acknowledges, then says the same again: a duplicate ACK.
        assert!(n(t.tcp(s, c, &seg(Flags::ACK, 1, 5, 0), b"", 0, &mut sink)).is_empty());
        assert_eq!(
            n(t.tcp(s, c, &seg(Flags::ACK, 1, 5, 0), b"", 0, &mut sink)),
            [Note::DuplicateAck { of: 0, count: 1 }]
        );
        // Its buffer is full: zero window; then room again: a window update.
        assert_eq!(
            n(t.tcp(
                s,
                c,
                &with_win(seg(Flags::ACK, 1, 5, 0), 0),
                b"",
                0,
                &mut sink
            )),
            [Note::ZeroWindow]
        );
        assert_eq!(
            n(t.tcp(s, c, &seg(Flags::ACK, 1, 5, 0), b"", 0, &mut sink)),
            [Note::WindowUpdate]
        );
        // The client probes with the last byte it sent: a keep-alive, not a retransmission.
        assert_eq!(
            n(t.tcp(c, s, &seg(Flags::ACK, 4, 1, 1), b"d", 0, &mut sink)),
            [Note::KeepAlive]
        );
        let conv = &t.conversations[0];
        assert_eq!(
            (
                conv.duplicate_acks,
                conv.zero_windows,
                conv.window_updates,
                conv.keep_alives
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(conv.retransmissions, 0);
    }

    #[test]
    fn a_late_segment_is_out_of_order_within_the_round_trip_and_a_retransmission_after() {
        let c = (IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);
        let s = (IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);
        let mut t = FlowTable::new(Limits::default());
        let mut sink = |_: u32, _: Direction, _: Piece<'_>| {};
        // Handshake with a 100 µs round trip (SYN at 0, the client's ACK at 100).
        t.tcp(c, s, &seg(Flags::SYN, 0, 0, 0), b"", 0, &mut sink);
        let sa = seg(Flags::SYN | Flags::ACK, 0, 1, 0);
        t.tcp(s, c, &sa, b"", 50, &mut sink);
        let u = t.tcp(c, s, &seg(Flags::ACK, 1, 1, 0), b"", 100, &mut sink);
        assert_eq!(u.tcp.unwrap().step, Some(Step::HandshakeAck));
        let mut data = |seq: u32, ts: u64| {
            let u = t.tcp(c, s, &seg(Flags::ACK, seq, 1, 4), b"abcd", ts, &mut sink);
            (u.notes, u.payload_offset, u.tcp.unwrap().rel_seq)
        };
        assert_eq!(data(1, 1000), (vec![], Some(0), 1));
        assert_eq!(
            data(9, 1010),
            (vec![Note::PreviousSegmentNotCaptured], Some(8), 9)
        );
        // 40 µs after the highest segment: reordered on the way.
        assert_eq!(data(5, 1050), (vec![Note::OutOfOrder], Some(4), 5));
        assert_eq!(data(17, 2000).0, vec![Note::PreviousSegmentNotCaptured]);
        // The next segment after the highest: the hole at 13 is not its business.
        assert_eq!(data(21, 2010).0, vec![]);
        // Bytes seen before, soon after the highest segment and not ending where it
        // does: Wireshark calls that out of order too; ending where it does, a
        // retransmission.
        assert_eq!(data(17, 2030).0, vec![Note::OutOfOrder]);
        assert_eq!(data(21, 2040).0, vec![Note::Retransmission]);
        // 3 ms later: the sender sent it again.
        assert_eq!(data(13, 5000).0, vec![Note::Retransmission]);
    }

    #[test]
    fn duplicate_acks_name_the_packet_they_repeat() {
        let c = (IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);
        let s = (IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);
        let mut t = FlowTable::new(Limits::default());
        let mut sink = |_: u32, _: Direction, _: Piece<'_>| {};
        let mut feed = |from, to, r: TcpRepr| {
            t.packets += 1; // as `packet` counts them
            let data = vec![b'x'; r.payload_len];
            t.tcp(from, to, &r, &data, 0, &mut sink).notes
        };
        feed(c, s, seg(Flags::SYN, 0, 0, 0));
        feed(s, c, seg(Flags::SYN | Flags::ACK, 0, 1, 0));
        feed(c, s, seg(Flags::ACK, 1, 1, 0));
        feed(c, s, seg(Flags::ACK, 1, 1, 8));
        assert!(feed(s, c, seg(Flags::ACK, 1, 5, 0)).is_empty()); // packet 5
        for k in 1..=3 {
            assert_eq!(
                feed(s, c, seg(Flags::ACK, 1, 5, 0)),
                [Note::DuplicateAck { of: 5, count: k }]
            );
        }
        assert!(feed(s, c, seg(Flags::ACK, 1, 9, 0)).is_empty(), "a new ACK");
    }

    #[test]
    fn a_streaming_table_forgets_ended_conversations_and_reuses_their_rows() {
        let s = (IpAddr::V4(Ipv4Addr::LOCALHOST), 80);
        let mut t = FlowTable::streaming(Limits::default());
        let mut sink = |_: u32, _: Direction, _: Piece<'_>| {};
        for k in 0..20_000u32 {
            let c = (IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + k)), 40000);
            let u = t.tcp(c, s, &seg(Flags::SYN, 7, 0, 0), b"", 0, &mut sink);
            assert_eq!(u.conversation, k + 1, "numbered in order all the same");
            let u = t.tcp(
                s,
                c,
                &seg(Flags::RST | Flags::ACK, 0, 8, 0),
                b"",
                0,
                &mut sink,
            );
            assert_eq!(u.state, Some(State::Reset));
        }
        assert!(
            t.conversations.len() <= 4097,
            "{} rows",
            t.conversations.len()
        );
        assert!(t.open.len() <= 4097);
        // A table for statistics keeps every row.
        let mut t = FlowTable::new(Limits::default());
        for k in 0..5_000u32 {
            let c = (IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + k)), 40000);
            t.tcp(c, s, &seg(Flags::SYN, 7, 0, 0), b"", 0, &mut sink);
            t.tcp(
                s,
                c,
                &seg(Flags::RST | Flags::ACK, 0, 8, 0),
                b"",
                0,
                &mut sink,
            );
        }
        assert_eq!(t.conversations.len(), 5_000);
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = FlowTable::new(Limits {
            max_buffered: 16,
            max_conversations: 3,
        });
        let s = (IpAddr::V4(Ipv4Addr::LOCALHOST), 80);
        let mut sink = |_: u32, _: Direction, _: Piece<'_>| {};
        for port in 1..=10u16 {
            let c = (IpAddr::V4(Ipv4Addr::LOCALHOST), port);
            t.tcp(c, s, &seg(Flags::ACK, 1, 1, 1), b"x", 0, &mut sink);
        }
        assert_eq!(t.conversations.len(), 3);
        assert_eq!(t.untracked_packets, 7);
        // Ended conversations make room.
        let c1 = (IpAddr::V4(Ipv4Addr::LOCALHOST), 1);
        t.tcp(c1, s, &seg(Flags::RST, 2, 0, 0), b"", 0, &mut sink);
        let c11 = (IpAddr::V4(Ipv4Addr::LOCALHOST), 11);
        let u = t.tcp(c11, s, &seg(Flags::ACK, 1, 1, 1), b"x", 0, &mut sink);
        assert_eq!(u.conversation, 4);
    }
}
