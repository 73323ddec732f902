//! Seeded, deterministic impairment: which datagrams a relay drops, duplicates, holds
//! back (reorders) and delays. Pure code: the seed is an input, so the same seed gives
//! the same decisions on every machine, and an instructor's demo and a student's run agree.
//!
//! Each datagram costs exactly four draws from the generator, whatever is decided, so the
//! verdict for the n-th datagram depends only on the seed and n, not on the rates of the
//! other impairments.

use serde::Serialize;

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
/// OOPSLA 2014): a 64-bit counter passed through a mixing function. Small, fast, with good
/// statistical quality for simulation; not for cryptography.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub const fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform number in [0, 1): the top 53 bits, as many as an `f64` holds exactly.
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// What to do to traffic. Probabilities are fractions in [0, 1] (the CLI takes percent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Impairment {
    pub loss: f64,
    pub dup: f64,
    pub reorder: f64,
    pub delay_us: u64,
    /// Each datagram's delay is `delay_us` plus a uniform offset in ±`jitter_us`
    /// (never below zero).
    pub jitter_us: u64,
}

impl Impairment {
    pub fn is_none(&self) -> bool {
        *self == Impairment::default()
    }
}

/// The decision for one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Dropped: nothing is forwarded.
    pub drop: bool,
    /// Forwarded twice.
    pub duplicate: bool,
    /// Held back and released after the next forwarded datagram.
    pub hold: bool,
    /// How long to wait before forwarding, in µs.
    pub delay_us: u64,
}

/// Decides, datagram after datagram, from a seed.
#[derive(Debug, Clone)]
pub struct Impairer {
    plan: Impairment,
    rng: SplitMix64,
}

impl Impairer {
    pub fn new(plan: Impairment, seed: u64) -> Impairer {
        Impairer {
            plan,
            rng: SplitMix64::new(seed),
        }
    }

    pub fn plan(&self) -> &Impairment {
        &self.plan
    }

    /// The verdict for the next datagram. `may_hold` is false while another datagram is
    /// already held back (the relay holds at most one at a time, so every hold turns into
    /// exactly one reordering).
    pub fn next_verdict(&mut self, may_hold: bool) -> Verdict {
        // Always four draws, in this order, so verdict n depends only on (seed, n).
        let (a, b, c, d) = (
            self.rng.next_unit(),
            self.rng.next_unit(),
            self.rng.next_unit(),
            self.rng.next_unit(),
        );
        let drop = a < self.plan.loss;
        let duplicate = !drop && b < self.plan.dup;
        let hold = !drop && may_hold && c < self.plan.reorder;
        let j = self.plan.jitter_us;
        let delay_us = if j == 0 {
            self.plan.delay_us
        } else {
            // Uniform over the 2j+1 whole microseconds from -j to +j.
            let span = 2 * j + 1;
            let offset = ((d * span as f64) as u64).min(span - 1);
            (self.plan.delay_us + offset).saturating_sub(j)
        };
        Verdict {
            drop,
            duplicate,
            hold,
            delay_us: if drop { 0 } else { delay_us },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // First outputs for seed 0 (the reference C implementation, also quoted by
        // the xoshiro authors as the seeding generator).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        let u = SplitMix64::new(7).next_unit();
        assert!((0.0..1.0).contains(&u));
    }

    fn run(plan: Impairment, seed: u64, n: usize) -> Vec<Verdict> {
        let mut imp = Impairer::new(plan, seed);
        (0..n).map(|_| imp.next_verdict(true)).collect()
    }

    const PLAN: Impairment = Impairment {
        loss: 0.1,
        dup: 0.05,
        reorder: 0.05,
        delay_us: 2000,
        jitter_us: 500,
    };

    #[test]
    fn same_seed_same_decisions() {
        assert_eq!(run(PLAN, 42, 1000), run(PLAN, 42, 1000));
        assert_ne!(run(PLAN, 42, 1000), run(PLAN, 43, 1000));
    }

    #[test]
    fn drops_do_not_depend_on_the_other_rates() {
        let only_loss = Impairment {
            loss: 0.1,
            ..Impairment::default()
        };
        let a: Vec<bool> = run(PLAN, 9, 500).iter().map(|v| v.drop).collect();
        let b: Vec<bool> = run(only_loss, 9, 500).iter().map(|v| v.drop).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn rates_converge_to_the_requested_ones() {
        let n = 200_000;
        let v = run(PLAN, 1, n);
        let frac =
            |f: &dyn Fn(&Verdict) -> bool| v.iter().filter(|x| f(x)).count() as f64 / n as f64;
        // Binomial standard deviation for p = 0.1, n = 200 000 is 0.00067; allow ~5σ.
        assert!((frac(&|x| x.drop) - 0.10).abs() < 0.0035);
        // Duplicates and holds are decided among the datagrams not dropped.
        assert!((frac(&|x| x.duplicate) - 0.05 * 0.9).abs() < 0.0025);
        assert!((frac(&|x| x.hold) - 0.05 * 0.9).abs() < 0.0025);
        let kept: Vec<&Verdict> = v.iter().filter(|x| !x.drop).collect();
        let mean = kept.iter().map(|x| x.delay_us as f64).sum::<f64>() / kept.len() as f64;
        assert!((mean - 2000.0).abs() < 5.0, "mean delay {mean}");
        assert!(kept.iter().all(|x| (1500..=2500).contains(&x.delay_us)));
    }

    #[test]
    fn extremes() {
        let all = Impairment {
            loss: 1.0,
            ..Impairment::default()
        };
        assert!(run(all, 3, 1000).iter().all(|v| v.drop));
        assert!(run(Impairment::default(), 3, 1000)
            .iter()
            .all(|v| !v.drop && !v.duplicate && !v.hold && v.delay_us == 0));
        // Jitter larger than the delay is clamped at zero, never negative.
        let j = Impairment {
            delay_us: 10,
            jitter_us: 1000,
            ..Impairment::default()
        };
        assert!(run(j, 5, 1000).iter().all(|v| v.delay_us <= 1010));
        let mut imp = Impairer::new(
            Impairment {
                reorder: 1.0,
                ..Impairment::default()
            },
            1,
        );
        assert!(!imp.next_verdict(false).hold, "no hold while one is held");
    }
}
