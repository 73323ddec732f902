//! What a run's receipts say, counted: pure code over the numbers a run recorded (which
//! events were sent and when, which the consumer processed and when, when the fault hit).
//! Nothing here knows the mode: every figure is counted from what happened.

use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// What one run recorded.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Event ids the producer sent, with the time of their first emit.
    pub sent: HashMap<u64, Duration>,
    /// Every event the consumer processed, in the order it processed them.
    pub processed: Vec<(u64, Duration)>,
    /// When the fault hit, and at which event.
    pub fault_at: Option<Duration>,
}

/// The counts of one run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Counts {
    pub sent: u64,
    /// Distinct events processed.
    pub delivered: u64,
    /// Sent and never processed.
    pub lost: u64,
    /// Processed more than once (each extra time counts).
    pub duplicated: u64,
    /// Processed after an event with a higher number.
    pub out_of_order: u64,
    /// From the first emit to the first processing, over the delivered events.
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// From the fault to the first processing of an event sent after it.
    pub recover_ms: Option<f64>,
}

/// Count a run.
pub fn count(o: &Observed) -> Counts {
    let mut seen = HashSet::new();
    let mut duplicated = 0;
    let mut out_of_order = 0;
    let mut highest = 0;
    let mut latencies = Vec::new();
    for &(id, at) in &o.processed {
        if !seen.insert(id) {
            duplicated += 1;
        } else if let Some(sent) = o.sent.get(&id) {
            latencies.push(at.saturating_sub(*sent));
        }
        if id < highest {
            out_of_order += 1;
        }
        highest = highest.max(id);
    }
    let delivered = seen.iter().filter(|id| o.sent.contains_key(id)).count() as u64;
    let sent = o.sent.len() as u64;
    latencies.sort();
    let recover_ms = o.fault_at.and_then(|f| {
        o.processed
            .iter()
            .find(|(id, at)| *at >= f && o.sent.get(id).is_some_and(|s| *s >= f))
            .map(|(_, at)| ms(*at - f))
    });
    Counts {
        sent,
        delivered,
        lost: sent - delivered,
        duplicated,
        out_of_order,
        latency_p50_ms: percentile(&latencies, 50),
        latency_p99_ms: percentile(&latencies, 99),
        recover_ms,
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// The nearest-rank percentile (the smallest value with at least `p`% at or below it).
pub fn percentile(sorted: &[Duration], p: u32) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * p as usize).div_ceil(100).max(1);
    Some(ms(sorted[rank - 1]))
}

/// The first events that were never processed, in order (at most `max`).
pub fn missed(o: &Observed, max: usize) -> Vec<u64> {
    let processed: HashSet<u64> = o.processed.iter().map(|(id, _)| *id).collect();
    let mut ids: Vec<u64> = o
        .sent
        .keys()
        .filter(|id| !processed.contains(id))
        .copied()
        .collect();
    ids.sort_unstable();
    ids.truncate(max);
    ids
}

/// The first event processed twice, if any.
pub fn first_duplicate(o: &Observed) -> Option<u64> {
    let mut seen = HashSet::new();
    o.processed
        .iter()
        .find(|(id, _)| !seen.insert(*id))
        .map(|(id, _)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn observed(sent: u64, processed: &[(u64, u64)]) -> Observed {
        Observed {
            sent: (1..=sent).map(|i| (i, MS(i * 10))).collect(),
            processed: processed.iter().map(|&(i, t)| (i, MS(t))).collect(),
            fault_at: None,
        }
    }

    #[test]
    fn losses_duplicates_and_reordering_are_counted_from_the_receipts() {
        // 5 sent; 3 lost; 2 processed twice; 1 arrives after 4.
        let o = observed(5, &[(1, 12), (2, 25), (4, 45), (2, 60), (1, 70)]);
        let c = count(&o);
        assert_eq!(c.sent, 5);
        assert_eq!(c.delivered, 3);
        assert_eq!(c.lost, 2);
        assert_eq!(c.duplicated, 2);
        assert_eq!(c.out_of_order, 2, "2 and 1 came after 4");
        assert_eq!(c.sent, c.delivered + c.lost);
        assert_eq!(missed(&o, 10), vec![3, 5]);
        assert_eq!(first_duplicate(&o), Some(2));
    }

    #[test]
    fn latency_percentiles_use_the_first_processing() {
        let o = observed(4, &[(1, 11), (2, 22), (3, 33), (4, 84), (4, 99)]);
        let c = count(&o);
        // Latencies 1, 2, 3, 44 ms.
        assert_eq!(c.latency_p50_ms, Some(2.0));
        assert_eq!(c.latency_p99_ms, Some(44.0));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn recovery_is_timed_from_the_fault_to_the_next_event_sent_after_it() {
        // Sent at 10, 20, 30 ms; the fault at 15 ms; #1 processed late does not count.
        let mut o = observed(3, &[(1, 100), (3, 250)]);
        o.fault_at = Some(MS(15));
        assert_eq!(count(&o).recover_ms, Some(235.0));
        o.processed.truncate(1);
        assert_eq!(
            count(&o).recover_ms,
            None,
            "nothing sent after the fault came"
        );
    }
}
