//! One direction of a TCP byte stream, put back in order: the reassembler.
//!
//! A sender numbers every byte it sends; a segment's sequence number is the number of its
//! first byte, and a SYN or a FIN uses up one number of its own (RFC 9293 §3.4). The
//! receiver delivers bytes to the application in that order whatever order the segments
//! came in, once each, and so does [`Reassembler`] with a capture's segments:
//!
//! - a segment that starts where the stream stands is delivered at once (only its new
//!   bytes, when it overlaps what came before);
//! - one that starts further on waits in a buffer until the hole before it fills;
//! - one whose bytes were all delivered (or all wait already) is a retransmission;
//! - a hole that cannot fill is a *gap*: when the other side acknowledges bytes the
//!   capture never showed, when the buffer reaches its bound ([`SEGMENT_COST`] per
//!   waiting segment beyond its bytes), and when the capture ends.
//!
//! Sequence numbers are 32 bits and wrap around; comparisons are modulo 2³² (RFC 9293
//! §3.4, RFC 1982), and positions in the stream are 64-bit offsets, so a long transfer
//! that wraps is still in order.

use super::{Note, Piece};
use std::collections::BTreeMap;

/// What one buffered segment costs against
/// [`Limits::max_buffered`](super::Limits::max_buffered) beyond its bytes: its map entry
/// and bookkeeping. Without it a capture cut to its headers (segments whose data was
/// never captured) could queue millions of empty entries within the bound.
pub const SEGMENT_COST: usize = 64;

/// A segment waiting for the hole before it to fill.
#[derive(Debug, Clone)]
struct Waiting {
    /// The bytes captured.
    bytes: Vec<u8>,
    /// Its length on the wire (more than `bytes` when the capture cut it short).
    wire_len: u64,
}

/// One direction of a TCP byte stream, put back in order.
#[derive(Debug, Clone)]
pub struct Reassembler {
    /// Sequence number of the next byte to deliver; `None` until the first segment.
    next_seq: Option<u32>,
    /// Stream offset of the next byte to deliver (bytes delivered + gaps).
    offset: u64,
    /// Out-of-order segments by stream offset.
    pending: BTreeMap<u64, Waiting>,
    pending_bytes: usize,
    max_buffered: usize,
    /// Stream offset of this side's FIN (it occupies one sequence number), once seen.
    fin_at: Option<u64>,
    /// Counters for the summary.
    pub delivered: u64,
    pub gap_bytes: u64,
    pub gaps: u64,
}

impl Reassembler {
    pub fn new(max_buffered: usize) -> Reassembler {
        Reassembler {
            next_seq: None,
            offset: 0,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            max_buffered,
            fin_at: None,
            delivered: 0,
            gap_bytes: 0,
            gaps: 0,
        }
    }

    /// The stream offset of the next byte expected.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// What waits for a hole to fill: its bytes, and [`SEGMENT_COST`] per segment.
    pub fn buffered(&self) -> usize {
        self.pending_bytes
    }

    /// A SYN with sequence number `isn`: the first data byte is `isn + 1` (the SYN
    /// occupies one sequence number, RFC 9293 §3.4). Returns true when this SYN
    /// repeats one already seen (a retransmitted SYN).
    pub fn syn(&mut self, isn: u32) -> bool {
        let first = isn.wrapping_add(1);
        match self.next_seq {
            Some(n) if self.offset == 0 && n == first => true,
            Some(_) if self.offset > 0 => true,
            _ => {
                self.next_seq = Some(first);
                false
            }
        }
    }

    /// Where a sequence number falls in the stream, as a signed distance from the next
    /// expected byte. Sequence space is circular (modulo 2³²), so "before" and "after"
    /// mean "within 2³¹ behind or ahead" (RFC 9293 §3.4's comparisons, and RFC 1982).
    fn distance(&self, seq: u32) -> i64 {
        match self.next_seq {
            Some(n) => i64::from(seq.wrapping_sub(n) as i32),
            None => 0,
        }
    }

    /// A segment with sequence number `seq`, `data` captured of `wire_len` bytes sent
    /// (the capture may have cut it short). Delivers in-order pieces to `sink` and
    /// returns what it noticed.
    pub fn segment(
        &mut self,
        seq: u32,
        data: &[u8],
        wire_len: u64,
        notes: &mut Vec<Note>,
        sink: &mut impl FnMut(Piece<'_>),
    ) -> Option<u64> {
        let data = &data[..data
            .len()
            .min(usize::try_from(wire_len).unwrap_or(usize::MAX))];
        if wire_len == 0 {
            if self.next_seq.is_none() {
                self.next_seq = Some(seq);
            }
            return None;
        }
        if self.next_seq.is_none() {
            // Joined mid-stream (no SYN captured): the first byte seen starts the stream.
            self.next_seq = Some(seq);
        }
        let start = self.offset as i64 + self.distance(seq);
        let end = start + wire_len as i64;
        let at = u64::try_from(start).ok();
        if end <= self.offset as i64 || self.already_buffered(start, end) {
            notes.push(Note::Retransmission);
            return at;
        }
        if start > self.offset as i64 {
            notes.push(Note::PreviousSegmentNotCaptured);
            self.buffer(start as u64, data.to_vec(), wire_len, notes, sink);
            return at;
        }
        // In order, perhaps overlapping what was delivered: keep only the new bytes.
        let skip = (self.offset as i64 - start) as u64;
        if skip > 0 {
            notes.push(Note::Overlap {
                new_bytes: wire_len - skip,
            });
        }
        self.deliver(data, wire_len, skip, notes, sink);
        self.drain(notes, sink);
        at
    }

    fn already_buffered(&self, start: i64, end: i64) -> bool {
        if start < self.offset as i64 {
            return false;
        }
        let start = start as u64;
        let end = end as u64;
        self.pending
            .range(..=start)
            .next_back()
            .is_some_and(|(&o, w)| o <= start && o + w.wire_len >= end)
    }

    /// Deliver `data` (of `wire_len` sent) at the current offset, skipping the first
    /// `skip` bytes (already delivered).
    fn deliver(
        &mut self,
        data: &[u8],
        wire_len: u64,
        skip: u64,
        notes: &mut Vec<Note>,
        sink: &mut impl FnMut(Piece<'_>),
    ) {
        let have = data.len() as u64;
        if skip < have {
            // `skip < have <= data.len()`, so the cast and the slice cannot fail.
            let bytes = &data[skip as usize..];
            sink(Piece::Data {
                offset: self.offset,
                bytes,
            });
            self.offset += bytes.len() as u64;
            self.delivered += bytes.len() as u64;
        }
        let missing = wire_len - skip.max(have);
        if missing > 0 && wire_len > skip {
            // The capture cut the segment short (snap length): its tail is a gap.
            notes.push(Note::Gap {
                offset: self.offset,
                len: missing,
            });
            sink(Piece::Gap {
                offset: self.offset,
                len: missing,
            });
            self.offset += missing;
            self.gaps += 1;
            self.gap_bytes += missing;
        }
        self.next_seq = self
            .next_seq
            .map(|n| n.wrapping_add((wire_len - skip) as u32));
    }

    /// Deliver buffered segments that the stream has now reached.
    fn drain(&mut self, notes: &mut Vec<Note>, sink: &mut impl FnMut(Piece<'_>)) {
        while let Some(entry) = self.pending.first_entry() {
            let at = *entry.key();
            if at > self.offset {
                break;
            }
            let Waiting { bytes, wire_len } = entry.remove();
            self.pending_bytes -= bytes.len() + SEGMENT_COST;
            let skip = self.offset - at;
            if skip >= wire_len {
                continue; // wholly covered by what came before
            }
            self.deliver(&bytes, wire_len, skip, notes, sink);
        }
    }

    fn buffer(
        &mut self,
        at: u64,
        bytes: Vec<u8>,
        wire_len: u64,
        notes: &mut Vec<Note>,
        sink: &mut impl FnMut(Piece<'_>),
    ) {
        let cost = bytes.len() + SEGMENT_COST;
        while self.pending_bytes + cost > self.max_buffered && !self.pending.is_empty() {
            // Give up on the first hole: declare it a gap and deliver what follows it.
            notes.push(Note::BufferFull);
            self.skip_first_hole(notes, sink);
        }
        if self.pending_bytes + cost > self.max_buffered {
            // This segment alone is over the bound: the hole before it is a gap.
            notes.push(Note::BufferFull);
            self.gap_to(at, notes, sink);
            self.deliver(&bytes, wire_len, 0, notes, sink);
            self.drain(notes, sink);
            return;
        }
        self.pending_bytes += cost;
        // Two segments at one offset: keep the longer.
        match self.pending.get(&at) {
            Some(w) if w.wire_len >= wire_len => self.pending_bytes -= cost,
            Some(w) => {
                self.pending_bytes -= w.bytes.len() + SEGMENT_COST;
                self.pending.insert(at, Waiting { bytes, wire_len });
            }
            None => {
                self.pending.insert(at, Waiting { bytes, wire_len });
            }
        }
    }

    /// Report the hole from the current offset to `to` as a gap and move past it.
    fn gap_to(&mut self, to: u64, notes: &mut Vec<Note>, sink: &mut impl FnMut(Piece<'_>)) {
        if to <= self.offset {
            return;
        }
        let len = to - self.offset;
        notes.push(Note::Gap {
            offset: self.offset,
            len,
        });
        sink(Piece::Gap {
            offset: self.offset,
            len,
        });
        self.offset = to;
        self.gaps += 1;
        self.gap_bytes += len;
        self.next_seq = self.next_seq.map(|n| n.wrapping_add(len as u32));
    }

    fn skip_first_hole(&mut self, notes: &mut Vec<Note>, sink: &mut impl FnMut(Piece<'_>)) {
        if let Some((&at, _)) = self.pending.first_key_value() {
            self.gap_to(at, notes, sink);
            self.drain(notes, sink);
        }
    }

    /// This side sent a FIN with sequence number `seq` (after any data in its segment).
    pub fn fin(&mut self, seq: u32) {
        if self.next_seq.is_some() {
            let at = self.offset as i64 + self.distance(seq);
            self.fin_at = u64::try_from(at).ok();
        }
    }

    /// The other side acknowledged everything before `ack`. Bytes it acknowledged that
    /// the capture never showed were received, so the capture missed them: they are a
    /// gap now, and waiting for them would only delay what follows (tshark calls this
    /// "ACKed unseen segment").
    pub fn acked(&mut self, ack: u32, notes: &mut Vec<Note>, sink: &mut impl FnMut(Piece<'_>)) {
        if self.next_seq.is_none() {
            return;
        }
        let d = self.distance(ack);
        if d <= 0 {
            return;
        }
        let mut to = self.offset + d as u64;
        if let Some(f) = self.fin_at {
            to = to.min(f); // the FIN's sequence number is not a byte of data
        }
        // Bounded: each pass either moves past a buffered segment or ends the loop.
        while to > self.offset {
            match self.pending.first_key_value() {
                Some((&at, _)) if at <= to => {
                    self.gap_to(at, notes, sink);
                    self.drain(notes, sink);
                }
                _ => {
                    self.gap_to(to, notes, sink);
                    break;
                }
            }
        }
    }

    /// The capture ended: whatever still waits behind a hole is delivered after a gap.
    pub fn finish(&mut self, notes: &mut Vec<Note>, sink: &mut impl FnMut(Piece<'_>)) {
        while !self.pending.is_empty() {
            self.skip_first_hole(notes, sink);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed segments `(seq, bytes)` to a reassembler; return the stream it delivered
    /// (gaps as `_` per missing byte) and every note.
    fn run(r: &mut Reassembler, segs: &[(u32, &[u8])]) -> (String, Vec<Note>) {
        let mut out = String::new();
        let mut notes = Vec::new();
        let mut sink = |p: Piece<'_>| match p {
            Piece::Data { offset, bytes } => {
                assert_eq!(offset as usize, out.len(), "pieces arrive in order");
                out.push_str(std::str::from_utf8(bytes).unwrap());
            }
            Piece::Gap { offset, len } => {
                assert_eq!(offset as usize, out.len());
                out.push_str(&"_".repeat(len as usize));
            }
        };
        for (seq, b) in segs {
            r.segment(*seq, b, b.len() as u64, &mut notes, &mut sink);
        }
        r.finish(&mut notes, &mut sink);
        (out, notes)
    }

    #[test]
    fn in_order_and_out_of_order() {
        let mut r = Reassembler::new(1024);
        assert!(!r.syn(99));
        let (s, notes) = run(&mut r, &[(100, b"hello "), (111, b"!"), (106, b"world")]);
        assert_eq!(s, "hello world!", "{notes:?}");
        assert_eq!(notes, vec![Note::PreviousSegmentNotCaptured]);
        assert_eq!(r.buffered(), 0);
        assert_eq!((r.delivered, r.gaps), (12, 0));
    }

    #[test]
    fn retransmissions_and_overlaps_are_not_duplicated() {
        let mut r = Reassembler::new(1024);
        r.syn(0);
        let (s, notes) = run(
            &mut r,
            &[
                (1, b"abcd"),
                (1, b"abcd"),   // exact retransmission
                (3, b"cdefgh"), // overlaps "cd", brings "efgh"
                (9, b"ijkl"),
                (11, b"kl"), // retransmission inside what was delivered
                (15, b"op"), // out of order
                (15, b"op"), // retransmission of a buffered segment
                (13, b"mn"),
            ],
        );
        assert_eq!(s, "abcdefghijklmnop");
        assert_eq!(
            notes,
            vec![
                Note::Retransmission,
                Note::Overlap { new_bytes: 4 },
                Note::Retransmission,
                Note::PreviousSegmentNotCaptured,
                Note::Retransmission,
            ]
        );
    }

    #[test]
    fn a_missing_segment_is_a_gap() {
        let mut r = Reassembler::new(1024);
        r.syn(0);
        let (s, notes) = run(&mut r, &[(1, b"abc"), (7, b"ghi")]);
        assert_eq!(s, "abc___ghi");
        assert_eq!(
            notes,
            vec![
                Note::PreviousSegmentNotCaptured,
                Note::Gap { offset: 3, len: 3 }
            ]
        );
        assert_eq!((r.gaps, r.gap_bytes, r.delivered), (1, 3, 6));
    }

    #[test]
    fn bytes_acknowledged_but_never_captured_are_a_gap_at_once() {
        let mut r = Reassembler::new(1024);
        r.syn(0);
        let mut notes = Vec::new();
        let mut out = Vec::new();
        let mut sink = |p: Piece<'_>| out.push(format!("{p:?}"));
        r.segment(1, b"ab", 2, &mut notes, &mut sink);
        r.segment(6, b"fg", 2, &mut notes, &mut sink); // waits for 3..6
        r.acked(3, &mut notes, &mut sink); // nothing new: 1..3 was delivered
        assert_eq!(r.gaps, 0);
        r.acked(8, &mut notes, &mut sink); // the receiver had 3..6: the capture missed it
        assert_eq!((r.gaps, r.gap_bytes, r.offset()), (1, 3, 7));
        r.fin(8);
        r.acked(9, &mut notes, &mut sink); // the ACK of the FIN is not a missing byte
        assert_eq!((r.gaps, r.offset()), (1, 7));
        assert_eq!(
            out,
            [
                "Data { offset: 0, bytes: [97, 98] }",
                "Gap { offset: 2, len: 3 }",
                "Data { offset: 5, bytes: [102, 103] }"
            ]
        );
        assert_eq!(
            notes,
            [
                Note::PreviousSegmentNotCaptured,
                Note::Gap { offset: 2, len: 3 }
            ]
        );
    }

    #[test]
    fn sequence_numbers_wrap_around() {
        let mut r = Reassembler::new(1024);
        r.syn(u32::MAX - 4); // first byte at 2^32 - 3
        let (s, notes) = run(
            &mut r,
            &[
                (u32::MAX - 3, b"abcd"),
                (2, b"gh"),
                (0, b"ef"),
                (u32::MAX - 1, b"cd"),
            ],
        );
        assert_eq!(s, "abcdefgh");
        assert_eq!(
            notes,
            vec![Note::PreviousSegmentNotCaptured, Note::Retransmission]
        );
    }

    #[test]
    fn memory_is_bounded_and_the_hole_becomes_a_gap() {
        let mut r = Reassembler::new(8);
        r.syn(0);
        let mut out = Vec::new();
        let mut notes = Vec::new();
        let mut sink = |p: Piece<'_>| out.push(format!("{p:?}"));
        // Byte 1 never comes; 2.. arrive 4 at a time and must not pile up beyond 8.
        for k in 0..100u32 {
            r.segment(2 + 4 * k, b"wxyz", 4, &mut notes, &mut sink);
            assert!(r.buffered() <= 8, "buffered {}", r.buffered());
        }
        assert!(notes.contains(&Note::BufferFull));
        assert_eq!(
            notes
                .iter()
                .filter(|n| matches!(n, Note::Gap { .. }))
                .count(),
            1
        );
        assert_eq!(r.gap_bytes, 1);
        r.finish(&mut notes, &mut sink);
        assert_eq!(r.delivered, 400);
    }

    #[test]
    fn tiny_and_empty_segments_count_their_overhead_against_the_bound() {
        // 100,000 one-byte segments and as many with no captured byte, each behind a
        // hole of its own: without a per-segment cost they would all fit in 64 KiB.
        let bound = 64 * 1024;
        let mut r = Reassembler::new(bound);
        r.syn(0);
        let mut notes = Vec::new();
        let mut sink = |_: Piece<'_>| {};
        for k in 0..100_000u32 {
            r.segment(3 + 4 * k, b"x", 1, &mut notes, &mut sink);
            r.segment(5 + 4 * k, b"", 1, &mut notes, &mut sink);
            assert!(r.buffered() <= bound);
        }
        assert!(
            r.pending.len() <= bound / SEGMENT_COST,
            "{}",
            r.pending.len()
        );
        assert!(notes.contains(&Note::BufferFull));
        r.finish(&mut notes, &mut sink);
        assert_eq!(r.buffered(), 0);
        assert_eq!(r.delivered, 100_000);
    }

    #[test]
    fn a_segment_cut_short_by_the_capture_leaves_a_gap() {
        let mut r = Reassembler::new(64);
        r.syn(0);
        let mut notes = Vec::new();
        let mut got = Vec::new();
        r.segment(1, b"ab", 5, &mut notes, &mut |p| got.push(format!("{p:?}")));
        r.segment(6, b"f", 1, &mut notes, &mut |p| got.push(format!("{p:?}")));
        assert_eq!(
            got,
            [
                "Data { offset: 0, bytes: [97, 98] }",
                "Gap { offset: 2, len: 3 }",
                "Data { offset: 5, bytes: [102] }"
            ]
        );
        // Noted on the cut segment itself; the next one follows on (it is not
        // "previous segment not captured").
        assert_eq!(notes, [Note::Gap { offset: 2, len: 3 }]);
    }
}

/// Two segments buffered at one offset (a retransmission that carries more than the
/// first send, as when a sender coalesces segments): the longer one is kept, so no
/// byte that was captured is lost.
#[cfg(test)]
mod equal_offset_tests {
    use super::*;

    fn stream(segs: &[(u32, &[u8])]) -> (String, Vec<Note>) {
        let mut r = Reassembler::new(1024);
        r.syn(0);
        let mut out = String::new();
        let mut notes = Vec::new();
        let mut sink = |p: Piece<'_>| match p {
            Piece::Data { bytes, .. } => out.push_str(std::str::from_utf8(bytes).unwrap()),
            Piece::Gap { len, .. } => out.push_str(&"_".repeat(len as usize)),
        };
        for (seq, b) in segs {
            r.segment(*seq, b, b.len() as u64, &mut notes, &mut sink);
        }
        r.finish(&mut notes, &mut sink);
        assert_eq!(r.buffered(), 0);
        (out, notes)
    }

    #[test]
    fn of_two_buffered_segments_at_one_offset_the_longer_is_kept() {
        // Byte 1 is "a"; "bc" then "bcdef" wait at offset 1 for the hole at offset 0.
        let (s, notes) = stream(&[(2, b"bc"), (2, b"bcdef"), (1, b"a")]);
        assert_eq!(s, "abcdef", "{notes:?}");
        // Whichever order they came in.
        let (s, notes) = stream(&[(2, b"bcdef"), (2, b"bc"), (1, b"a")]);
        assert_eq!(s, "abcdef", "{notes:?}");
    }
}
