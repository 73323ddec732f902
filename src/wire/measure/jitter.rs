//! The interarrival jitter estimator of RFC 3550 §6.4.1, as RTP receivers compute it.
//!
//! Jitter here is *variation* in one-way delay, not the delay itself. For two datagrams
//! `i` and `j` with send times `S` and arrival times `R`, the RFC defines
//!
//! ```text
//! D(i,j) = (Rj - Ri) - (Sj - Si) = (Rj - Sj) - (Ri - Si)
//! ```
//!
//! the change in transit time from one datagram to the next. Sender and receiver clocks
//! need not agree: an offset between them cancels out in the difference. Each new
//! datagram `i`, taken with the previous one *in order of arrival* (not of sequence
//! number), updates a running estimate:
//!
//! ```text
//! J(i) = J(i-1) + ( |D(i-1,i)| - J(i-1) ) / 16
//! ```
//!
//! The gain 1/16 is the RFC's choice: it "gives a good noise reduction ratio while
//! maintaining a reasonable rate of convergence". RTP measures in RTP timestamp units
//! and keeps the estimate in integers (Appendix A.8); netlab measures in microseconds and
//! keeps it in `f64`, which is exact for the small examples in the tests.

use serde::Serialize;

/// The running RFC 3550 jitter estimate for one stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Jitter {
    /// Transit time (R - S) of the previous arrival, in µs (any clock offset included).
    prev_transit_us: Option<i64>,
    /// J, in microseconds.
    jitter_us: f64,
}

impl Jitter {
    pub fn new() -> Jitter {
        Jitter::default()
    }

    /// Feed one arrival: `sent_us` from the sender's clock, `arrived_us` from the
    /// receiver's. Returns the new estimate in µs.
    pub fn on_arrival(&mut self, sent_us: u64, arrived_us: u64) -> f64 {
        // Both clocks count microseconds from their own origin; i128 cannot overflow.
        let transit = (i128::from(arrived_us) - i128::from(sent_us))
            .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        if let Some(prev) = self.prev_transit_us {
            let d = transit.saturating_sub(prev).unsigned_abs() as f64;
            self.jitter_us += (d - self.jitter_us) / 16.0;
        }
        self.prev_transit_us = Some(transit);
        self.jitter_us
    }

    /// The current estimate, in microseconds.
    pub fn jitter_us(&self) -> f64 {
        self.jitter_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked by hand: datagrams sent every 20 ms, the third one held up 0.8 ms.
    ///
    /// | i | S (µs) | R (µs) | R - S | D(i-1,i) | J(i)                               |
    /// |---|--------|--------|-------|----------|------------------------------------|
    /// | 0 | 0      | 1000   | 1000  | —        | 0                                  |
    /// | 1 | 20000  | 21000  | 1000  | 0        | 0 + (0 - 0)/16 = 0                 |
    /// | 2 | 40000  | 41800  | 1800  | 800      | 0 + (800 - 0)/16 = 50              |
    /// | 3 | 60000  | 61000  | 1000  | -800     | 50 + (800 - 50)/16 = 96.875        |
    /// | 4 | 80000  | 81000  | 1000  | 0        | 96.875 + (0 - 96.875)/16 = 90.8203125 |
    #[test]
    fn rfc3550_6_4_1_hand_computed() {
        let mut j = Jitter::new();
        let expect = [0.0, 0.0, 50.0, 96.875, 90.820_312_5];
        let arrivals = [
            (0, 1000),
            (20_000, 21_000),
            (40_000, 41_800),
            (60_000, 61_000),
            (80_000, 81_000),
        ];
        for (k, ((s, r), want)) in arrivals.iter().zip(expect).enumerate() {
            assert_eq!(j.on_arrival(*s, *r), want, "after datagram {k}");
        }
    }

    #[test]
    fn a_constant_clock_offset_does_not_count() {
        // The receiver's clock is 5 s ahead; a perfectly regular stream has no jitter.
        let mut j = Jitter::new();
        for i in 0..100u64 {
            j.on_arrival(i * 1000, 5_000_000 + i * 1000 + 300);
        }
        assert_eq!(j.jitter_us(), 0.0);
    }

    #[test]
    fn order_of_arrival_not_sequence() {
        // Datagram 1 arrives before 0 (reordered): D is taken between arrivals.
        let mut j = Jitter::new();
        j.on_arrival(1000, 2000); // seq 1 first, transit 1000
        let after = j.on_arrival(0, 2100); // seq 0 second, transit 2100
        assert_eq!(after, 1100.0 / 16.0);
    }

    #[test]
    fn converges_to_the_mean_absolute_difference() {
        // Transit alternates 0 / 400 µs: |D| is always 400, so J tends to 400.
        let mut j = Jitter::new();
        for i in 0..1000u64 {
            j.on_arrival(i * 10_000, i * 10_000 + if i % 2 == 0 { 0 } else { 400 });
        }
        assert!((j.jitter_us() - 400.0).abs() < 1e-6, "{}", j.jitter_us());
    }
}
