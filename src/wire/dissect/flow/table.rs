//! The conversation table: which conversation a packet belongs to, and what it did there.
//!
//! A conversation is found by its *key*: its transport and its two ends, the lower end
//! first, so that both directions find the same entry. The map from keys holds only a
//! small number per conversation, the slot in a slab (`slots`) where the open
//! conversation's state lives; a slot freed by an ended conversation is reused
//! (`free_slots`), so conversations that come and go reuse the same memory, and a
//! packet costs one look-up. Every conversation also has a row in
//! [`FlowTable::conversations`] (its counters, which stay after it ends, for `--stats`).
//!
//! An open TCP conversation keeps one `Half` per direction: the bytes that side sent
//! (its [`Reassembler`]), its initial sequence number, whether it sent a FIN, and what
//! the analysis (`analysis.rs`) remembers about it. A segment's own side is "this" half,
//! the side it is sent to is the "other" half (`Open::sides`): the segment's bytes go
//! into this half's stream, its acknowledgement number speaks of the other half's.
//!
//! `FlowTable::tcp` takes a segment through named steps: relative numbers
//! (`Open::annotate`), the handshake (RFC 9293 §3.5, `Open::syn`), this side's
//! bytes and the analysis (`Half::send`), the acknowledgement of the other side's
//! bytes, and the conversation's state after it (§3.5 to §3.6, `Open::step`).

use super::analysis::{self, Seen, Segment};
use super::reassembly::Reassembler;
use super::{
    Annotation, Conversation, Direction, End, Limits, Note, Piece, State, Step, Transport, Update,
};
use crate::wire::dissect::{Dissection, LayerRepr};
use crate::wire::transport::tcp::Repr as TcpRepr;
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
    /// What the analysis remembers about this side (`analysis.rs`).
    pub(super) seen: Seen,
}

impl Half {
    fn new(max_buffered: usize) -> Half {
        Half {
            stream: Reassembler::new(max_buffered),
            fin: false,
            isn: None,
            seen: Seen::default(),
        }
    }

    /// This side's segment: the analysis of its acknowledgement and window (against
    /// what the `other` side said last), its bytes through the reassembler (in-order
    /// pieces go to `sink`), the analysis of where it falls in the sequence space, and
    /// its FIN. Returns the stream offset of its first byte, as
    /// [`Reassembler::segment`] does.
    fn send(
        &mut self,
        other: &mut Seen,
        s: &Segment<'_>,
        payload: &[u8],
        irtt_us: Option<u64>,
        notes: &mut Vec<Note>,
        sink: &mut impl FnMut(Piece<'_>),
    ) -> Option<u64> {
        let t = s.tcp;
        if t.flags.syn() {
            analysis::handshake_scale(&mut self.seen, other, t);
        }
        let probe = analysis::acknowledgements(&mut self.seen, other, s, notes);
        let mark = notes.len();
        let at = self
            .stream
            .segment(s.seq, payload, t.payload_len as u64, notes, sink);
        analysis::sequence(&mut self.seen, other, s, probe, irtt_us, (notes, mark));
        if t.flags.fin() {
            self.fin = true;
            self.stream.fin(s.seq.wrapping_add(t.payload_len as u32));
        }
        at
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

    /// The half that sent a segment going `dir` ("this"), and the half it is sent to
    /// ("other", whose bytes the segment's ACK acknowledges).
    fn sides(&mut self, dir: Direction) -> (&mut Half, &mut Half) {
        let [a_to_b, b_to_a] = &mut self.halves;
        match dir {
            Direction::AToB => (a_to_b, b_to_a),
            Direction::BToA => (b_to_a, a_to_b),
        }
    }

    /// Both streams' counters, a → b first.
    fn tallies(&self) -> [Tally; 2] {
        let [a_to_b, b_to_a] = &self.halves;
        [Tally::of(&a_to_b.stream), Tally::of(&b_to_a.stream)]
    }

    /// The segment's sequence number counted from this side's ISN, and its
    /// acknowledgement number from the other side's (see [`Annotation`]), taken before
    /// anything else changes the ISNs. A SYN sets this side's ISN. A side whose SYN was
    /// not captured counts, as Wireshark does, from one before its first segment (so
    /// that segment is seq 1, where it would be after a SYN), or from one before the
    /// first acknowledgement of its bytes, if that came first: a RST answering a SYN is
    /// seq 1, the first segment of a capture joined mid-stream too.
    fn annotate(&mut self, dir: Direction, t: &TcpRepr, stream: u32) -> Annotation {
        let (this, other) = self.sides(dir);
        if t.flags.syn() {
            this.isn = Some(t.seq);
        } else if this.isn.is_none() {
            this.isn = Some(t.seq.wrapping_sub(1));
        }
        let rel_seq = t.seq.wrapping_sub(this.isn.unwrap_or(t.seq));
        let rel_ack = if t.flags.ack() {
            let isn = *other.isn.get_or_insert(t.ack.wrapping_sub(1));
            Some(t.ack.wrapping_sub(isn))
        } else {
            None
        };
        Annotation {
            step: None,
            rel_seq,
            rel_ack,
            stream,
        }
    }

    /// A SYN or a SYN-ACK (RFC 9293 §3.5): it fixes where this side's stream starts (a
    /// second one with the same number is a retransmission, which the analysis says),
    /// and the conversation is opening until the handshake completes. The SYN's time
    /// starts the handshake's round trip.
    fn syn(&mut self, dir: Direction, t: &TcpRepr, ts_us: u64, c: &mut Conversation) {
        let (this, _) = self.sides(dir);
        this.stream.syn(t.seq);
        if t.flags.ack() {
            self.syn_ack_seen = true;
        } else {
            self.syn_ts = Some(ts_us);
        }
        if c.state == State::Established && !c.handshake_seen {
            c.state = State::Opening;
        }
    }

    /// What the segment is in the conversation's life, and where the conversation
    /// stands after it: the client's ACK of the SYN-ACK completes the handshake (RFC
    /// 9293 §3.5, and gives the round-trip time), a RST ends it at once (§3.5.3), a FIN
    /// from each side closes it (§3.6).
    fn step(
        &mut self,
        dir: Direction,
        t: &TcpRepr,
        ts_us: u64,
        c: &mut Conversation,
        notes: &mut Vec<Note>,
    ) -> Option<Step> {
        let mut step = if t.flags.rst() {
            Some(Step::Rst)
        } else if t.flags.syn() && !t.flags.ack() {
            Some(Step::Syn)
        } else if t.flags.syn() {
            Some(Step::SynAck)
        } else if t.flags.fin() {
            Some(Step::Fin)
        } else {
            None
        };
        if c.state == State::Opening
            && self.syn_ack_seen
            && dir == Direction::AToB
            && t.flags.ack()
            && !t.flags.syn()
        {
            c.state = State::Established;
            c.handshake_seen = true;
            self.irtt_us = self.syn_ts.map(|s| ts_us.saturating_sub(s));
            if step.is_none() {
                step = Some(Step::HandshakeAck);
            }
        }
        let [a_to_b, b_to_a] = &self.halves;
        if t.flags.rst() {
            notes.push(Note::Reset);
            c.state = State::Reset;
        } else if a_to_b.fin && b_to_a.fin {
            c.state = State::Closed;
        } else if a_to_b.fin || b_to_a.fin {
            c.state = State::HalfClosed;
        }
        step
    }
}

/// Every conversation in a capture.
#[derive(Debug, Clone, Default)]
pub struct FlowTable {
    limits: Limits,
    /// Open conversations: their ends, and where their state is in `slots`. The map holds
    /// only small entries (a look-up per packet stays in the cache); the state of a
    /// conversation (about 350 bytes) lives in the slab beside it.
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
        if !self.make_room() {
            self.untracked_packets += 1;
            return None;
        }
        let index = self.add_row(t, a, b, ts_us);
        let slot = self.place(Open::new(index, self.limits.max_buffered));
        self.open.insert(key, slot);
        Some(slot)
    }

    /// Before a conversation starts: a streaming table forgets the ended ones now and
    /// then, and any table does when it is full. False when it is still full.
    fn make_room(&mut self) -> bool {
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
        self.open.len() < self.limits.max_conversations
    }

    /// Number a new conversation and give it a row in `conversations` (a forgotten
    /// one's, when streaming). Returns the row's index.
    fn add_row(&mut self, t: Transport, a: End, b: End, ts_us: u64) -> usize {
        self.ids = self.ids.saturating_add(1);
        let row = Conversation::new(self.ids, t, a, b, ts_us);
        match self.free.pop() {
            Some(i) => {
                self.conversations[i] = row;
                i
            }
            None => {
                self.conversations.push(row);
                self.conversations.len() - 1
            }
        }
    }

    /// Put an open conversation's state in a free slot of the slab. Returns the slot.
    fn place(&mut self, open: Open) -> usize {
        match self.free_slots.pop() {
            Some(i) => {
                self.slots[i] = Some(open);
                i
            }
            None => {
                self.slots.push(Some(open));
                self.slots.len() - 1
            }
        }
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
        let dir = c.direction_from(from);
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

    /// Follow one TCP segment sent by `from` to `to`, step by step: its conversation,
    /// its relative numbers, the handshake, this side's bytes and their analysis, the
    /// acknowledgement of the other side's bytes, and the conversation's state after it.
    pub(super) fn tcp(
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
        let dir = c.direction_from(from);
        let id = c.id;
        c.last_ts_us = ts_us;
        let before = o.tallies();
        let mut annotation = o.annotate(dir, t, id);
        let mut notes = Vec::new();
        if t.flags.syn() {
            o.syn(dir, t, ts_us, c);
        }
        let segment = Segment::new(t, ts_us, number);
        let irtt_us = o.irtt_us;
        let (this, other) = o.sides(dir);
        let payload_offset = this.send(
            &mut other.seen,
            &segment,
            payload,
            irtt_us,
            &mut notes,
            &mut |p| sink(id, dir, p),
        );
        if t.flags.ack() && !t.flags.rst() {
            let back = dir.reverse();
            other
                .stream
                .acked(t.ack, &mut notes, &mut |p| sink(id, back, p));
        }
        annotation.step = o.step(dir, t, ts_us, c, &mut notes);
        c.add_segment(dir, before, o.tallies(), &notes);
        Update {
            conversation: id,
            direction: dir,
            notes,
            state: Some(c.state),
            tcp: Some(annotation),
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
            let id = c.id;
            for (half, dir) in o.halves.iter_mut().zip([Direction::AToB, Direction::BToA]) {
                let mut notes = Vec::new();
                let before = Tally::of(&half.stream);
                half.stream.finish(&mut notes, &mut |p| sink(id, dir, p));
                c.add_delivered(dir, before, Tally::of(&half.stream));
                c.count(&notes);
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
            .map(|o| {
                let [a_to_b, b_to_a] = &o.halves;
                a_to_b.stream.buffered() + b_to_a.stream.buffered()
            })
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

/// A reassembler's counters at one moment: what a call delivered is the difference of
/// two.
#[derive(Debug, Clone, Copy)]
struct Tally {
    delivered: u64,
    gaps: u64,
    gap_bytes: u64,
}

impl Tally {
    fn of(r: &Reassembler) -> Tally {
        Tally {
            delivered: r.delivered,
            gaps: r.gaps,
            gap_bytes: r.gap_bytes,
        }
    }
}

impl Conversation {
    /// A new row: nothing counted yet. A TCP conversation is established until a SYN
    /// says otherwise (a capture may join it mid-stream).
    fn new(id: u32, transport: Transport, a: End, b: End, ts_us: u64) -> Conversation {
        Conversation {
            id,
            transport,
            a,
            b,
            state: if transport == Transport::Udp {
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
            fast_retransmissions: 0,
            spurious_retransmissions: 0,
            window_full: 0,
            keep_alive_acks: 0,
            zero_window_probes: 0,
            zero_window_probe_acks: 0,
            acked_unseen_segments: 0,
            first_ts_us: ts_us,
            last_ts_us: ts_us,
        }
    }

    /// Which way a packet sent by `from` travels.
    fn direction_from(&self, from: End) -> Direction {
        if self.a == from {
            Direction::AToB
        } else {
            Direction::BToA
        }
    }

    /// Add what the stream going `dir` delivered between two tallies to the row.
    fn add_delivered(&mut self, dir: Direction, before: Tally, after: Tally) {
        self.gaps += after.gaps - before.gaps;
        self.gap_bytes += after.gap_bytes - before.gap_bytes;
        let delivered = after.delivered - before.delivered;
        match dir {
            Direction::AToB => self.bytes_a_to_b += delivered,
            Direction::BToA => self.bytes_b_to_a += delivered,
        }
    }

    /// Count a TCP segment going `dir`: the packet, what both streams delivered since
    /// `before` (this side's bytes, and the other side's its ACK let through), and its
    /// notes.
    // Every TCP segment comes through here: as a call of its own it cost about 0.5% more
    // instructions on `netlab capture --read` (cachegrind, a million packets).
    #[inline]
    fn add_segment(
        &mut self,
        dir: Direction,
        before: [Tally; 2],
        after: [Tally; 2],
        notes: &[Note],
    ) {
        match dir {
            Direction::AToB => self.packets_a_to_b += 1,
            Direction::BToA => self.packets_b_to_a += 1,
        }
        self.add_delivered(Direction::AToB, before[0], after[0]);
        self.add_delivered(Direction::BToA, before[1], after[1]);
        self.count(notes);
    }

    /// Count the notes in the row's totals.
    fn count(&mut self, notes: &[Note]) {
        for n in notes {
            match n {
                Note::Retransmission => self.retransmissions += 1,
                Note::OutOfOrder => self.out_of_order += 1,
                Note::PreviousSegmentNotCaptured => self.previous_segment_not_captured += 1,
                Note::BufferFull => self.buffer_full += 1,
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
                Note::Gap { .. } | Note::Overlap { .. } | Note::Reset => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_segment as seg;
    use super::super::Which;
    use super::*;
    use crate::wire::transport::tcp::Flags;
    use core::net::{IpAddr, Ipv4Addr};

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

/// Relative numbers across the 2³² wrap (RFC 9293 §3.4: sequence arithmetic is modulo
/// 2³²): an ISN just below the top counts on through zero.
#[cfg(test)]
mod wrap_tests {
    use super::super::test_segment as seg;
    use super::*;
    use crate::wire::transport::tcp::Flags;
    use core::net::{IpAddr, Ipv4Addr};

    #[test]
    fn relative_numbers_count_on_across_the_wrap() {
        let c = (IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);
        let s = (IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);
        let mut t = FlowTable::new(Limits::default());
        let mut sink = |_: u32, _: Direction, _: Piece<'_>| {};
        // The client's ISN is 10 below the wrap, the server's 3 below it.
        let (ic, is) = (u32::MAX - 9, u32::MAX - 2);
        let mut rel = |t: &mut FlowTable, from, to, flags, seq: u32, ack: u32, data: &[u8]| {
            let u = t.tcp(
                from,
                to,
                &seg(flags, seq, ack, data.len()),
                data,
                0,
                &mut sink,
            );
            let a = u.tcp.expect("a TCP segment is annotated");
            (a.rel_seq, a.rel_ack)
        };
        assert_eq!(rel(&mut t, c, s, Flags::SYN, ic, 0, b""), (0, None));
        let ack_of_syn = ic.wrapping_add(1);
        assert_eq!(
            rel(&mut t, s, c, Flags::SYN | Flags::ACK, is, ack_of_syn, b""),
            (0, Some(1))
        );
        // 20 bytes from the client: its sequence numbers cross zero.
        let data = [b'x'; 20];
        let (c_seq, s_seq) = (ic.wrapping_add(1), is.wrapping_add(1));
        assert_eq!(
            rel(&mut t, c, s, Flags::ACK | Flags::PSH, c_seq, s_seq, &data),
            (1, Some(1))
        );
        let after = c_seq.wrapping_add(20);
        assert!(after < 100, "the raw number wrapped: {after}");
        assert_eq!(
            rel(&mut t, c, s, Flags::ACK | Flags::PSH, after, s_seq, &data),
            (21, Some(1))
        );
        // The server answers past its own wrap and acknowledges past the client's.
        let s_after = s_seq.wrapping_add(5);
        assert!(s_after < 100, "the raw number wrapped: {s_after}");
        assert_eq!(
            rel(
                &mut t,
                s,
                c,
                Flags::ACK,
                s_after,
                after.wrapping_add(20),
                b""
            ),
            (6, Some(41))
        );
    }
}
