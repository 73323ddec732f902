//! Wireshark's TCP analysis: from both directions' state and a segment to [`Note`]s.
//!
//! Wireshark marks segments with "expert" flags (`tcp.analysis.*`) that a student meets in
//! every capture of a real network. netlab follows Wireshark's definitions (its
//! `packet-tcp.c`, `tcp_analyze_sequence_number`, checked against tshark 4.0) so each
//! note can be checked against `tshark` packet by packet (`tests/capture_flow.rs`). They
//! compare a segment with what its sender did before (this side's [`Seen`]) and with
//! what the other side said last (the other side's [`Seen`]):
//!
//! | note | the segment | RFC |
//! |---|---|---|
//! | [`Note::ZeroWindowProbe`] | 1 byte at the next sequence number, the peer's window 0 | 9293 §3.8.6.1 |
//! | [`Note::ZeroWindow`] | advertises a window of 0: the peer must stop sending | 9293 §3.8.6 |
//! | [`Note::PreviousSegmentNotCaptured`] | starts beyond the highest byte sent so far | 9293 §3.4 |
//! | [`Note::KeepAlive`] | 0 or 1 byte, one behind what the side already sent | 9293 §3.8.4 |
//! | [`Note::WindowUpdate`] | no data, same ACK, only the window changed | 9293 §3.8.6 |
//! | [`Note::WindowFull`] | data up to the last byte the peer's window allows | 9293 §3.8.6 |
//! | [`Note::KeepAliveAck`] | the same ACK again, answering the peer's keep-alive | 9293 §3.8.4 |
//! | [`Note::ZeroWindowProbeAck`] | the same ACK and zero window, answering a probe | 9293 §3.8.6.1 |
//! | [`Note::DuplicateAck`] | no data, same ACK and window as this side's last | 5681 §2, §3.2 |
//! | [`Note::AckedUnseenSegment`] | acknowledges bytes the capture never showed | |
//! | [`Note::SpuriousRetransmission`] | resent, but the peer had already acknowledged it | 5681 §3.2 |
//! | [`Note::FastRetransmission`] | resent right after ≥ 2 duplicate ACKs asking for it | 5681 §3.2 |
//! | [`Note::OutOfOrder`] | from behind the highest, soon after it (one round trip) | |
//! | [`Note::Retransmission`] | from behind the highest, otherwise | 9293 §3.8.1 |
//!
//! The rules are tried in this order, as Wireshark does: a zero window probe, a
//! keep-alive ACK or a zero window probe ACK stops the checks of acknowledgements
//! (it is not also a duplicate ACK), and the last four are exclusive, the first that
//! fits wins. A fast retransmission and a spurious one are retransmissions too: they
//! carry a [`Note::Retransmission`] beside their own note, as tshark sets
//! `tcp.analysis.retransmission` beside `tcp.analysis.fast_retransmission`.
//!
//! "Where it falls" is measured against the highest sequence number this side has sent
//! (`Seen::next`, Wireshark's "next expected sequence number"), not against the bytes
//! the [`Reassembler`](super::Reassembler) delivered in order: the reassembler's own
//! "retransmission" and "previous segment not captured" are replaced by these.
//! Pure functions of the state: no clock (times come with the segment).

use super::Note;
use crate::wire::transport::tcp::Repr as TcpRepr;

/// A TCP segment as the analysis sees it.
pub(super) struct Segment<'a> {
    pub(super) tcp: &'a TcpRepr,
    /// The sequence number of its first data byte (after a SYN's own number).
    pub(super) seq: u32,
    /// When it was captured, in microseconds.
    pub(super) ts_us: u64,
    /// Its number among the packets fed to the table (from 1): a duplicate ACK names
    /// the packet it repeats.
    pub(super) number: u64,
}

impl<'a> Segment<'a> {
    pub(super) fn new(tcp: &'a TcpRepr, ts_us: u64, number: u64) -> Segment<'a> {
        Segment {
            tcp,
            // A SYN uses up one sequence number; its data (if any) starts after it.
            seq: if tcp.flags.syn() {
                tcp.seq.wrapping_add(1)
            } else {
                tcp.seq
            },
            ts_us,
            number,
        }
    }
}

/// When the handshake's round trip is unknown (or too small to measure), "soon after"
/// means within 3 ms, as in Wireshark.
const OUT_OF_ORDER_US: u64 = 3_000;

/// Duplicate ACKs count towards a fast retransmission only if the last came less than
/// 20 ms before it (Wireshark's bound: the sender answers the third duplicate at once,
/// RFC 5681 §3.2).
const FAST_RETRANSMISSION_US: u64 = 20_000;

/// What this side agreed on for window scaling (RFC 7323 §2.2: both SYNs must carry the
/// option, or neither side scales).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WindowScale {
    /// The handshake was not captured: the window's unit is unknown.
    Unknown,
    /// One SYN lacked the option: windows are in bytes.
    NotUsed,
    /// Windows are in units of 2^shift bytes.
    Shift(u8),
}

/// Which probe this side sent last: the other side's next segment may answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Probe {
    None,
    KeepAlive,
    ZeroWindow,
}

/// What the analysis remembers about one side (Wireshark's `tcp_flow_t`).
#[derive(Debug, Clone)]
pub(super) struct Seen {
    /// The sequence number after the highest byte this side has sent, and when that
    /// segment was seen (Wireshark's "next expected sequence number" and its time).
    pub(super) next: Option<u32>,
    pub(super) next_ts: u64,
    /// The end of the bytes this side sent without a hole: the other side acknowledging
    /// beyond it acknowledges bytes the capture never showed.
    pub(super) contiguous: Option<u32>,
    /// This side's last acknowledgement number, and when it was sent.
    pub(super) last_ack: Option<u32>,
    pub(super) last_ack_ts: u64,
    /// This side's last window, as sent, and whether it came in a SYN (never scaled).
    pub(super) last_win: Option<u16>,
    pub(super) win_in_syn: bool,
    pub(super) scale: WindowScale,
    /// The last packet from this side that was not a duplicate ACK, and how many
    /// duplicates followed it.
    pub(super) ack_packet: u64,
    pub(super) dup_acks: u32,
    /// The other side acknowledged bytes beyond everything this side was seen to send,
    /// and that was reported: until this side's own acknowledgement changes, further
    /// such ACKs are about the same missing bytes (Wireshark keeps this in its
    /// duplicate-ACK counter, as -1).
    pub(super) unseen_reported: bool,
    pub(super) probe: Probe,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen {
            next: None,
            next_ts: 0,
            contiguous: None,
            last_ack: None,
            last_ack_ts: 0,
            last_win: None,
            win_in_syn: false,
            scale: WindowScale::Unknown,
            ack_packet: 0,
            dup_acks: 0,
            unseen_reported: false,
            probe: Probe::None,
        }
    }
}

/// `a` comes after `b` in sequence space (RFC 9293 §3.4: compared modulo 2³²).
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Notes about the segment's acknowledgement and window, and about where it starts;
/// decided before its bytes go to the reassembler. Returns the notes that decide how
/// the rest goes: whether it was a keep-alive or a zero window probe.
pub(super) fn acknowledgements(
    this: &mut Seen,
    other: &Seen,
    s: &Segment<'_>,
    notes: &mut Vec<Note>,
) -> Probe {
    let t = s.tcp;
    let (seq, len, win) = (t.seq, t.payload_len as u32, t.window);
    let plain = !(t.flags.syn() || t.flags.fin() || t.flags.rst());
    let at_next = this.next == Some(seq);
    let same_ack = this.last_ack == Some(t.ack);
    let same_win = this.last_win == Some(win);
    // A probe of a closed window: one byte the peer has no room for (RFC 9293 §3.8.6.1).
    if len == 1 && at_next && other.last_win == Some(0) {
        notes.push(Note::ZeroWindowProbe);
        return Probe::ZeroWindow;
    }
    if win == 0 && plain {
        notes.push(Note::ZeroWindow);
    }
    if this.next.is_some_and(|n| after(seq, n)) && !t.flags.rst() {
        notes.push(Note::PreviousSegmentNotCaptured);
    }
    let keep_alive = len <= 1 && plain && this.next == Some(seq.wrapping_add(1));
    if keep_alive {
        notes.push(Note::KeepAlive);
    }
    let bare = len == 0 && plain && at_next && same_ack;
    if bare && win != 0 && !same_win {
        notes.push(Note::WindowUpdate);
    }
    if len > 0 && plain && other.window_edge() == Some(seq.wrapping_add(len)) {
        notes.push(Note::WindowFull);
    }
    if bare && win != 0 && same_win && other.probe == Probe::KeepAlive {
        // (checked first: an answer to a probe is not a duplicate ACK)
        notes.push(Note::KeepAliveAck);
    } else if bare && win == 0 && same_win && other.probe == Probe::ZeroWindow {
        notes.push(Note::ZeroWindowProbeAck);
    } else if bare && win != 0 && same_win {
        // After an "ACKed unseen segment" report Wireshark's counter restarts at 1.
        this.dup_acks = if this.unseen_reported {
            1
        } else {
            this.dup_acks + 1
        };
        this.unseen_reported = false;
        notes.push(Note::DuplicateAck {
            of: this.ack_packet,
            count: this.dup_acks,
        });
    }
    if keep_alive {
        Probe::KeepAlive
    } else {
        Probe::None
    }
}

impl Seen {
    /// The sequence number just past the last byte this side's window lets the other
    /// side send: its last acknowledgement plus its window, scaled unless it came in a
    /// SYN. Unknown when the handshake (and so the scale) was not captured.
    fn window_edge(&self) -> Option<u32> {
        let shift = match self.scale {
            WindowScale::Unknown => return None,
            WindowScale::NotUsed => 0,
            WindowScale::Shift(_) if self.win_in_syn => 0,
            WindowScale::Shift(s) => s.min(14),
        };
        let win = u32::from(self.last_win?) << shift;
        Some(self.last_ack?.wrapping_add(win))
    }
}

/// The retransmission kinds and what this side remembers afterwards (called after the
/// reassembler saw the segment; `notes[mark..]` are its notes about it, whose
/// "retransmission" and "previous segment not captured" these rules replace).
pub(super) fn sequence(
    this: &mut Seen,
    other: &mut Seen,
    s: &Segment<'_>,
    probe: Probe,
    irtt_us: Option<u64>,
    (notes, mark): (&mut Vec<Note>, usize),
) {
    let t = s.tcp;
    let (seq, len) = (t.seq, t.payload_len as u32);
    notes.retain_from(mark, |n| {
        !matches!(n, Note::Retransmission | Note::PreviousSegmentNotCaptured)
    });
    // A new acknowledgement: later repeats count from this packet (Wireshark resets
    // its duplicate-ACK counter only when the number changes, so a window update
    // between repeats does not restart the count).
    if this.last_ack != Some(t.ack) {
        this.ack_packet = s.number;
        this.dup_acks = 0;
        this.unseen_reported = false;
    }
    if t.flags.ack() {
        acked_unseen(other, t.ack, notes);
    }
    let syn_fin = u32::from(t.flags.syn() || t.flags.fin());
    if (len > 0 || syn_fin == 1) && probe != Probe::KeepAlive {
        if let Some(kind) = resent(this, other, s, irtt_us) {
            notes.push(kind);
            // Wireshark sets `tcp.analysis.retransmission` on these two as well.
            if matches!(
                kind,
                Note::FastRetransmission | Note::SpuriousRetransmission
            ) {
                notes.push(Note::Retransmission);
            }
        }
    }
    let end = seq.wrapping_add(len).wrapping_add(syn_fin);
    if probe != Probe::ZeroWindow {
        if this.next.is_none_or(|n| after(end, n)) {
            this.next = Some(end);
            this.next_ts = s.ts_us;
        }
        if this.contiguous.is_none_or(|c| c == seq) {
            this.contiguous = this.next;
        }
    }
    this.last_ack = Some(t.ack);
    this.last_ack_ts = s.ts_us;
    this.last_win = Some(t.window);
    this.win_in_syn = t.flags.syn();
    this.probe = probe;
}

/// An acknowledgement of bytes the capture never showed going the other way (beyond
/// what `other` sent without a hole): reported once per hole. When the ACK goes beyond
/// everything the other side was seen to send (no hole to step over: the bytes may yet
/// show up, captured after their ACK), it is reported only if the other side has not
/// repeated its own ACK since, and once until that side's ACK changes.
fn acked_unseen(other: &mut Seen, ack: u32, notes: &mut Vec<Note>) {
    if !other.contiguous.is_some_and(|c| after(ack, c)) {
        return;
    }
    if other.contiguous != other.next {
        notes.push(Note::AckedUnseenSegment);
        other.contiguous = other.next;
    } else {
        if other.dup_acks == 0 && !other.unseen_reported {
            notes.push(Note::AckedUnseenSegment);
        }
        other.dup_acks = 0;
        other.unseen_reported = true;
    }
}

/// Is a segment with data (or a SYN, or a FIN) from behind `this.next` sent again, and
/// which kind? Spurious first (already acknowledged), then fast retransmission, out of
/// order, plain.
fn resent(this: &Seen, other: &Seen, s: &Segment<'_>, irtt_us: Option<u64>) -> Option<Note> {
    let t = s.tcp;
    let (seq, len) = (t.seq, t.payload_len as u32);
    let syn_fin = u32::from(t.flags.syn() || t.flags.fin());
    let mut behind = this.next.is_some_and(|n| after(n, seq));
    // One byte behind with more data after it: a keep-alive's byte followed by new
    // data (the byte before the next was a probe), not a resend.
    if len > 1 && this.next == Some(seq.wrapping_add(1)) {
        behind = false;
    }
    // Every byte of it was acknowledged already: whatever the timing, a resend.
    let end_of_data = seq.wrapping_add(len);
    if len > 0
        && other
            .last_ack
            .is_some_and(|a| a != 0 && !after(end_of_data, a))
    {
        return Some(Note::SpuriousRetransmission);
    }
    // Microseconds since `then`; a segment stamped before it (a capture merged or
    // reordered after the fact) is never "soon": Wireshark counts unsigned.
    let since = |then: u64| s.ts_us.checked_sub(then).unwrap_or(u64::MAX);
    if behind
        && other.dup_acks >= 2
        && other.last_ack == Some(seq)
        && since(other.last_ack_ts) < FAST_RETRANSMISSION_US
    {
        return Some(Note::FastRetransmission);
    }
    let threshold = irtt_us.filter(|&r| r > 0).unwrap_or(OUT_OF_ORDER_US);
    let end = seq.wrapping_add(len).wrapping_add(syn_fin);
    if behind && since(this.next_ts) < threshold && this.next != Some(end) {
        return Some(Note::OutOfOrder);
    }
    behind.then_some(Note::Retransmission)
}

/// The window scale the handshake agreed on, from a SYN's or SYN-ACK's options
/// (RFC 7323 §2.2): the SYN says what its sender offers; the SYN-ACK settles it for
/// both sides (without the option in both, neither scales).
pub(super) fn handshake_scale(this: &mut Seen, other: &mut Seen, t: &TcpRepr) {
    match t.options.window_scale {
        Some(shift) => this.scale = WindowScale::Shift(shift),
        None => this.scale = WindowScale::NotUsed,
    }
    if t.flags.ack() && (this.scale == WindowScale::NotUsed || other.scale == WindowScale::NotUsed)
    {
        this.scale = WindowScale::NotUsed;
        other.scale = WindowScale::NotUsed;
    }
}

/// `Vec::retain` over the notes from `mark` on (the earlier ones are not this step's).
trait RetainFrom<T> {
    fn retain_from(&mut self, mark: usize, keep: impl FnMut(&T) -> bool);
}

impl<T> RetainFrom<T> for Vec<T> {
    fn retain_from(&mut self, mark: usize, mut keep: impl FnMut(&T) -> bool) {
        let mut k = mark;
        while k < self.len() {
            if keep(&self[k]) {
                k += 1;
            } else {
                self.remove(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_segment as seg;
    use super::super::{Direction, FlowTable, Limits, Piece, Step, Update};
    use super::*;
    use crate::wire::transport::tcp::Flags;
    use core::net::{IpAddr, Ipv4Addr};

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
    fn a_resend_right_after_two_duplicate_acks_is_a_fast_retransmission() {
        let c = (IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);
        let s = (IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);
        let mut t = FlowTable::new(Limits::default());
        let mut sink = |_: u32, _: Direction, _: Piece<'_>| {};
        let mut feed = |from, to, r: TcpRepr, ts: u64| {
            t.packets += 1;
            let data = vec![b'x'; r.payload_len];
            t.tcp(from, to, &r, &data, ts, &mut sink).notes
        };
        feed(c, s, seg(Flags::SYN, 0, 0, 0), 0);
        feed(s, c, seg(Flags::SYN | Flags::ACK, 0, 1, 0), 10);
        feed(c, s, seg(Flags::ACK, 1, 1, 0), 20);
        // Four segments sent; the second is lost after the capture point.
        for (k, seq) in [1u32, 5, 9, 13].into_iter().enumerate() {
            feed(c, s, seg(Flags::ACK, seq, 1, 4), 100 + k as u64);
        }
        // The receiver has bytes 1..=4 and asks for byte 5, again and again.
        assert!(feed(s, c, seg(Flags::ACK, 1, 5, 0), 200).is_empty());
        assert_eq!(
            feed(s, c, seg(Flags::ACK, 1, 5, 0), 210),
            [Note::DuplicateAck { of: 8, count: 1 }]
        );
        assert_eq!(
            feed(s, c, seg(Flags::ACK, 1, 5, 0), 220),
            [Note::DuplicateAck { of: 8, count: 2 }]
        );
        // Resent 5 ms later (beyond the 3 ms out-of-order window): fast, and a
        // retransmission as tshark also says.
        assert_eq!(
            feed(c, s, seg(Flags::ACK, 5, 1, 4), 5_220),
            [Note::FastRetransmission, Note::Retransmission]
        );
        // Once acknowledged, the same bytes again are a spurious retransmission.
        assert!(feed(s, c, seg(Flags::ACK, 1, 17, 0), 5_300).is_empty());
        assert_eq!(
            feed(c, s, seg(Flags::ACK, 13, 1, 4), 9_000),
            [Note::SpuriousRetransmission, Note::Retransmission]
        );
    }

    #[test]
    fn a_one_byte_probe_of_a_zero_window_and_its_answer() {
        let c = (IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);
        let s = (IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);
        let mut t = FlowTable::new(Limits::default());
        let mut sink = |_: u32, _: Direction, _: Piece<'_>| {};
        let mut feed = |from, to, r: TcpRepr, win: u16| {
            let mut r = r;
            r.window = win;
            let data = vec![b'x'; r.payload_len];
            t.tcp(from, to, &r, &data, 0, &mut sink).notes
        };
        feed(c, s, seg(Flags::SYN, 0, 0, 0), 100);
        feed(s, c, seg(Flags::SYN | Flags::ACK, 0, 1, 0), 100);
        feed(c, s, seg(Flags::ACK, 1, 1, 0), 100);
        // 100 bytes fill the server's window (no window scaling: both SYNs lack it).
        assert_eq!(
            feed(c, s, seg(Flags::ACK, 1, 1, 100), 100),
            [Note::WindowFull]
        );
        assert_eq!(
            feed(s, c, seg(Flags::ACK, 1, 101, 0), 0),
            [Note::ZeroWindow]
        );
        assert_eq!(
            feed(c, s, seg(Flags::ACK, 101, 1, 1), 100),
            [Note::ZeroWindowProbe]
        );
        assert_eq!(
            feed(s, c, seg(Flags::ACK, 1, 101, 0), 0),
            [Note::ZeroWindow, Note::ZeroWindowProbeAck]
        );
        // The probe did not move the sender on: its next byte is still 101.
        assert_eq!(
            feed(c, s, seg(Flags::ACK, 101, 1, 1), 100),
            [Note::ZeroWindowProbe]
        );
    }
}
