//! What a receiver can tell from sequence numbers and timestamps alone: how many datagrams
//! arrived, were lost, duplicated, reordered or late, and the RFC 3550 jitter.
//!
//! Definitions (the same ones the docs and the tables use):
//!
//! - **expected**: the highest sequence number seen plus one, or the count the sender's
//!   END datagram announced if that is larger (so datagrams lost at the very end count).
//! - **lost** = expected − distinct sequence numbers received. Exact, not estimated: every
//!   sequence number is remembered in a bitmap. (RFC 3550 §6.4.1 computes "cumulative
//!   number of packets lost" as expected − received *including* duplicates, which can go
//!   negative; netlab counts duplicates apart instead.)
//! - **duplicate**: a sequence number that had already arrived.
//! - **reordered**: a new sequence number lower than one already received (it arrived
//!   after a datagram that was sent later).
//! - **late**: its transit time (arrival − send, on the two clocks) exceeded the smallest
//!   transit seen so far by more than the playout budget: a jitter buffer that size would
//!   have had to discard it, as a voice call would. A datagram can be both reordered and late.
//! - **jitter**: [`crate::wire::measure::jitter::Jitter`] over the distinct arrivals, in arrival order.

use crate::wire::measure::jitter::Jitter;
use serde::Serialize;

/// How many sequence numbers one stream can remember (8 MiB of bitmap). Datagrams beyond
/// are counted as `untracked` rather than growing memory without bound.
pub const MAX_TRACKED_SEQ: u32 = 1 << 26;

/// What one arrival was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// The next one, or a jump forward past a gap.
    InOrder,
    /// Arrived after a higher sequence number.
    Reordered,
    /// Already seen.
    Duplicate,
    /// Sequence number too large to track.
    Untracked,
}

/// Counters for one stream (one sender's run), fed arrival by arrival.
#[derive(Debug, Clone, Serialize)]
pub struct StreamStats {
    /// Data datagrams that arrived, duplicates included.
    pub received: u64,
    /// Distinct sequence numbers that arrived.
    pub distinct: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub late: u64,
    pub untracked: u64,
    /// Payload bytes of data datagrams (duplicates included).
    pub bytes: u64,
    pub highest_seq: Option<u32>,
    /// The count the END datagram announced, if it came.
    pub end_announced: Option<u32>,
    /// The playout budget that decides "late", in µs.
    pub late_budget_us: u64,
    #[serde(skip)]
    seen: Vec<u64>,
    #[serde(skip)]
    jitter: Jitter,
    #[serde(skip)]
    min_transit_us: Option<i128>,
}

impl StreamStats {
    pub fn new(late_budget_us: u64) -> StreamStats {
        StreamStats {
            received: 0,
            distinct: 0,
            duplicates: 0,
            reordered: 0,
            late: 0,
            untracked: 0,
            bytes: 0,
            highest_seq: None,
            end_announced: None,
            late_budget_us,
            seen: Vec::new(),
            jitter: Jitter::new(),
            min_transit_us: None,
        }
    }

    /// One data datagram: its sequence number and send time (sender's clock, µs), its
    /// arrival time (receiver's clock, µs) and its payload length.
    pub fn on_data(&mut self, seq: u32, sent_us: u64, arrived_us: u64, len: usize) -> Arrival {
        self.received += 1;
        self.bytes += len as u64;
        if seq >= MAX_TRACKED_SEQ {
            self.untracked += 1;
            return Arrival::Untracked;
        }
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & (1 << bit) != 0 {
            self.duplicates += 1;
            return Arrival::Duplicate;
        }
        self.seen[word] |= 1 << bit;
        self.distinct += 1;
        self.jitter.on_arrival(sent_us, arrived_us);
        let transit = i128::from(arrived_us) - i128::from(sent_us);
        match self.min_transit_us {
            Some(min) if transit - min > i128::from(self.late_budget_us) => self.late += 1,
            Some(min) if transit >= min => {}
            _ => self.min_transit_us = Some(transit),
        }
        match self.highest_seq {
            Some(h) if seq < h => {
                self.reordered += 1;
                Arrival::Reordered
            }
            _ => {
                self.highest_seq = Some(seq);
                Arrival::InOrder
            }
        }
    }

    /// The sender's END datagram: it sent `total` data datagrams (sequence 0..total).
    pub fn on_end(&mut self, total: u32) {
        self.end_announced = Some(self.end_announced.map_or(total, |t| t.max(total)));
    }

    pub fn expected(&self) -> u64 {
        let by_seq = self.highest_seq.map_or(0, |h| u64::from(h) + 1);
        by_seq.max(u64::from(self.end_announced.unwrap_or(0)))
    }

    pub fn lost(&self) -> u64 {
        self.expected()
            .saturating_sub(self.distinct + self.untracked)
    }

    /// RFC 3550 interarrival jitter, in µs.
    pub fn jitter_us(&self) -> f64 {
        self.jitter.jitter_us()
    }

    /// A plain snapshot for reports.
    pub fn summary(&self) -> StreamSummary {
        StreamSummary {
            received: self.received,
            expected: self.expected(),
            lost: self.lost(),
            duplicates: self.duplicates,
            reordered: self.reordered,
            late: self.late,
            untracked: self.untracked,
            bytes: self.bytes,
            jitter_ms: self.jitter_us() / 1000.0,
            end_seen: self.end_announced.is_some(),
            late_budget_ms: self.late_budget_us as f64 / 1000.0,
        }
    }
}

/// The numbers a report shows for one stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamSummary {
    pub received: u64,
    pub expected: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub late: u64,
    pub untracked: u64,
    pub bytes: u64,
    /// RFC 3550 §6.4.1 interarrival jitter, in milliseconds.
    pub jitter_ms: f64,
    /// Whether the sender's END datagram arrived (without it, losses at the tail are unseen).
    pub end_seen: bool,
    pub late_budget_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(order: &[u32]) -> StreamStats {
        let mut s = StreamStats::new(50_000);
        for (i, &seq) in order.iter().enumerate() {
            let t = u64::from(seq) * 1000;
            s.on_data(seq, t, 10_000 + i as u64 * 1000, 10);
        }
        s
    }

    #[test]
    fn loss_dup_reorder_counted_exactly() {
        // 0..10 sent; 3 and 7 lost; 5 duplicated; 2 arrives after 4.
        let s = feed(&[0, 1, 4, 2, 5, 5, 6, 8, 9]);
        assert_eq!(s.received, 9);
        assert_eq!(s.distinct, 8);
        assert_eq!(s.duplicates, 1);
        assert_eq!(s.reordered, 1);
        assert_eq!(s.expected(), 10);
        assert_eq!(s.lost(), 2, "3 and 7 never came");
    }

    #[test]
    fn end_datagram_reveals_tail_loss() {
        let mut s = feed(&[0, 1, 2]);
        assert_eq!(s.lost(), 0, "without END, 3 and 4 are not known to exist");
        s.on_end(5);
        assert_eq!((s.expected(), s.lost()), (5, 2));
    }

    #[test]
    fn duplicate_of_a_reordered_datagram_counts_once_each() {
        let s = feed(&[1, 0, 0]);
        assert_eq!((s.reordered, s.duplicates, s.lost()), (1, 1, 0));
    }

    #[test]
    fn late_means_beyond_the_playout_budget() {
        let mut s = StreamStats::new(5_000);
        assert_eq!(s.on_data(0, 0, 1_000, 1), Arrival::InOrder); // transit 1 ms
        s.on_data(1, 20_000, 24_000, 1); // 4 ms: within 1 + 5
        s.on_data(2, 40_000, 47_000, 1); // 7 ms: 6 ms over the fastest → late
        assert_eq!(s.late, 1);
        assert_eq!(s.summary().late_budget_ms, 5.0);
    }

    #[test]
    fn huge_sequence_numbers_do_not_allocate_without_bound() {
        let mut s = StreamStats::new(0);
        assert_eq!(s.on_data(u32::MAX, 0, 0, 1), Arrival::Untracked);
        assert!(s.seen.is_empty());
        assert_eq!(s.untracked, 1);
    }

    #[test]
    fn jitter_comes_from_distinct_arrivals() {
        let mut s = StreamStats::new(1_000_000);
        s.on_data(0, 0, 1000, 1);
        s.on_data(1, 20_000, 21_800, 1);
        assert_eq!(s.jitter_us(), 50.0);
        s.on_data(1, 20_000, 90_000, 1); // a duplicate does not move the estimate
        assert_eq!(s.jitter_us(), 50.0);
    }
}
