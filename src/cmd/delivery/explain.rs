//! `--explain`: for each mode, the timeline of one event that went missing (or, where
//! none did, one that was processed twice): what the producer, the server, the proxy and
//! the consumer did around it, read from that run's own log.

use super::run::Step;
use super::{Fault, Mode, Row};
use crate::output::{Paint, Style};
use serde::Serialize;

/// Connection and fault lines kept around the event: from a little before its first
/// line to this long after its last.
const AFTER_MS: f64 = 1500.0;
const BEFORE_MS: f64 = 50.0;
/// The most lines one timeline shows.
const MAX_LINES: usize = 40;

/// One event's story.
#[derive(Debug, Clone, Serialize)]
pub struct Explained {
    pub mode: Mode,
    pub fault: Fault,
    pub id: u64,
    /// `lost` or `duplicated`.
    pub what: &'static str,
    pub steps: Vec<Step>,
}

/// One story per mode that has a missed (or else a repeated) event.
pub fn explain(rows: &[Row]) -> Vec<Explained> {
    let mut out = Vec::new();
    let mut modes: Vec<Mode> = rows.iter().map(|r| r.mode).collect();
    modes.dedup();
    for mode in modes {
        let of_mode = || rows.iter().filter(move |r| r.mode == mode);
        let lost = of_mode().find_map(|r| r.missed.first().map(|id| (r, *id, "lost")));
        let pick =
            lost.or_else(|| of_mode().find_map(|r| r.duplicate.map(|id| (r, id, "duplicated"))));
        if let Some((r, id, what)) = pick {
            out.push(Explained {
                mode,
                fault: r.fault,
                id,
                what,
                steps: story(&r.timeline, id),
            });
        }
    }
    out
}

/// The lines about event `id`, with the connection and fault lines around them.
pub fn story(timeline: &[Step], id: u64) -> Vec<Step> {
    let mine = |s: &Step| s.id == Some(id);
    let first = timeline.iter().find(|s| mine(s)).map_or(0.0, |s| s.at_ms);
    let last = timeline
        .iter()
        .rev()
        .find(|s| mine(s))
        .map_or(first, |s| s.at_ms);
    let (from, to) = (first - BEFORE_MS, last + AFTER_MS);
    timeline
        .iter()
        .filter(|s| {
            mine(s) || s.who == "fault" || (s.id.is_none() && s.at_ms >= from && s.at_ms <= to)
        })
        .take(MAX_LINES)
        .cloned()
        .collect()
}

impl Explained {
    pub fn render_human(&self, style: &Style) -> String {
        let mut s = format!(
            "{} mode {} {} under {}: event #{} was {}\n",
            style.paint(Paint::Bold, "Timeline:"),
            self.mode.number(),
            self.mode.name(),
            self.fault.name(),
            self.id,
            self.what
        );
        for step in &self.steps {
            let line = format!("  {:>9.1} ms  {:<9} {}\n", step.at_ms, step.who, step.what);
            if step.id == Some(self.id) {
                s.push_str(&style.paint(Paint::Bold, line));
            } else {
                s.push_str(&line);
            }
        }
        let end = match self.what {
            "lost" => format!("  #{} was never processed.\n", self.id),
            _ => format!("  #{} was processed more than once.\n", self.id),
        };
        s.push_str(&end);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(at_ms: f64, who: &'static str, id: Option<u64>) -> Step {
        Step {
            at_ms,
            who,
            what: String::new(),
            id,
        }
    }

    #[test]
    fn a_story_keeps_the_event_the_faults_and_what_happened_around_it() {
        let t = vec![
            step(0.0, "consumer", None),
            step(100.0, "fault", Some(3)),
            step(105.0, "producer", Some(4)),
            step(110.0, "producer", Some(5)),
            step(120.0, "consumer", None),
            step(5000.0, "consumer", None),
        ];
        let s = story(&t, 5);
        let at: Vec<f64> = s.iter().map(|s| s.at_ms).collect();
        assert_eq!(at, vec![100.0, 110.0, 120.0]);
    }
}
