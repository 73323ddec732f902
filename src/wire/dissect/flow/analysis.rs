//! Wireshark's TCP analysis: from one direction's state and a segment to [`Note`]s.
//!
//! Wireshark marks segments with "expert" flags (`tcp.analysis.*`) that a student meets in
//! every capture of a real network. netlab follows Wireshark's definitions (its
//! `packet-tcp.c`, `tcp_analyze_sequence_number`) so each note can be checked against
//! `tshark` packet by packet (`tests/capture_tshark.rs`). They compare a segment with
//! what its sender did before, which its `Half` remembers:
//!
//! | note | the segment | RFC |
//! |---|---|---|
//! | [`Note::KeepAlive`] | 0 or 1 byte, one behind what the side already sent | 9293 §3.8.4 |
//! | [`Note::ZeroWindow`] | advertises a window of 0: the peer must stop sending | 9293 §3.8.6 |
//! | [`Note::WindowUpdate`] | no data, same ACK, only the window changed | 9293 §3.8.6 |
//! | [`Note::DuplicateAck`] | no data, same ACK and window as this side's last | 5681 §2, §3.2 |
//! | [`Note::PreviousSegmentNotCaptured`] | starts beyond the highest byte sent so far | 9293 §3.4 |
//! | [`Note::OutOfOrder`] | from behind the highest, soon after it (one round trip) | |
//! | [`Note::Retransmission`] | from behind the highest, later (or ending where it does) | 9293 §3.8.1 |
//!
//! The first four look at acknowledgements and windows and are decided before the
//! segment's bytes go to the [`Reassembler`](super::Reassembler)
//! (`before_reassembly`); the last three look at where the segment falls against the
//! highest sequence number this side has sent (`Half::high`), not at the bytes
//! delivered in order, and correct what the reassembler said (`after_reassembly`).
//! Pure functions of the state: no clock (times come with the segment).

use super::table::Half;
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

/// The notes about acknowledgements and windows: keep-alive, zero window, window update,
/// duplicate ACK. They compare the segment with what this side sent last, so they come
/// before its bytes reach the reassembler; then this side's last acknowledgement and
/// window are the segment's. Returns whether the segment is a keep-alive.
pub(super) fn before_reassembly(this: &mut Half, s: &Segment<'_>, notes: &mut Vec<Note>) -> bool {
    let t = s.tcp;
    // Wireshark's definitions of its TCP analysis flags, for the ones netlab shows.
    let plain = !(t.flags.syn() || t.flags.fin() || t.flags.rst());
    let next = this.stream.next_seq();
    let keep_alive =
        plain && t.payload_len <= 1 && next.is_some_and(|n| t.seq == n.wrapping_sub(1));
    if plain {
        if keep_alive {
            notes.push(Note::KeepAlive);
        }
        if t.window == 0 {
            notes.push(Note::ZeroWindow);
        }
        let same_ack = t.flags.ack() && this.last_ack == Some(t.ack);
        if t.payload_len == 0 && t.window != 0 && same_ack {
            if this.last_win.is_some_and(|w| w != t.window) && next == Some(t.seq) {
                notes.push(Note::WindowUpdate);
            } else if this.last_win == Some(t.window) && !keep_alive && t.ack != 0 {
                this.dup_acks += 1;
                notes.push(Note::DuplicateAck {
                    of: this.ack_packet,
                    count: this.dup_acks,
                });
            }
        }
    }
    if t.flags.ack() {
        if this.last_ack != Some(t.ack) || t.payload_len > 0 || t.flags.syn() {
            // A new acknowledgement (or one riding on data): later repeats count
            // from this packet.
            this.ack_packet = s.number;
            this.dup_acks = 0;
        }
        this.last_ack = Some(t.ack);
    }
    this.last_win = Some(t.window);
    keep_alive
}

/// The notes about where the segment falls, by Wireshark's rules: from the highest
/// sequence number sent so far in this direction (`high`), not from the bytes delivered
/// in order. A segment that starts beyond it is "previous segment not captured"; one
/// from behind it is out of order when it comes soon after the highest segment (the
/// handshake's round trip `irtt_us`, or 3 ms when that is unknown or too small to
/// measure) and does not end where it does, and otherwise a retransmission, whether its
/// bytes were seen before (sent again) or not (it filled a hole, late).
///
/// `notes[mark..]` are the reassembler's notes about this segment; those the rules
/// above decide differently are taken out. Then `high` moves past the segment.
pub(super) fn after_reassembly(
    this: &mut Half,
    s: &Segment<'_>,
    keep_alive: bool,
    irtt_us: Option<u64>,
    notes: &mut Vec<Note>,
    mark: usize,
) {
    let t = s.tcp;
    let seq = s.seq;
    let end = seq.wrapping_add(t.payload_len as u32);
    let ahead = this.high.is_none_or(|h| (seq.wrapping_sub(h) as i32) > 0);
    let behind = this.high.is_some_and(|h| {
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
        let threshold = irtt_us.filter(|&r| r > 0).unwrap_or(OUT_OF_ORDER_US);
        // A segment stamped earlier than the highest one (a capture merged or
        // reordered after the fact) is not "soon after" it: Wireshark counts the
        // difference unsigned, and so it falls beyond the threshold.
        let soon = s
            .ts_us
            .checked_sub(this.high_ts)
            .is_some_and(|t| t < threshold);
        let ends_at_high = this.high == Some(end);
        notes.push(if soon && !ends_at_high {
            Note::OutOfOrder
        } else {
            Note::Retransmission
        });
    }
    // A FIN uses up one sequence number after the data.
    let sent_end = if t.flags.fin() {
        end.wrapping_add(1)
    } else {
        end
    };
    if this
        .high
        .is_none_or(|h| (sent_end.wrapping_sub(h) as i32) > 0)
    {
        this.high = Some(sent_end);
        this.high_ts = s.ts_us;
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
}
