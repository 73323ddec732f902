//! `netlab delivery`: what happens when a client misses an event, measured. N numbered
//! events go from a producer to a consumer over real Socket.IO connections (netlab's
//! server and client, or for mode 7 netlab's queue broker, in this process, on
//! 127.0.0.1) through `netlab proxy`, once per delivery mode and fault; the table counts
//! what the consumer processed.
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | modes, faults, the plan, running every pair, the report and its table |
//! | `run.rs` | one run: server, proxy, producer, consumer, the fault at its event |
//! | `app.rs` | the server application (passes events on as the mode says) |
//! | `queue.rs` | one run of mode 7: the `netlab queue` broker, restarted on its own log |
//! | `measure.rs` | the counts, from the receipts (pure) |
//! | `explain.rs` | `--explain`: the timeline of one missed event per mode |
//!
//! A further mode is one more [`Mode`] variant, its server side in `app.rs` and its
//! producer and consumer in `run.rs`.

pub mod app;
pub mod explain;
pub mod measure;
pub mod queue;
pub mod run;

use crate::cli::delivery::DeliveryArgs;
use crate::error::usage;
use crate::net::runtime::{runtime, Runtime};
use crate::output::{Output, Paint, Render, Style};
use crate::wire::measure::impair::SplitMix64;
use measure::Counts;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the producer's events are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// 1. `emit`: at most once.
    Emit,
    /// 2. `volatile`: dropped when the transport cannot take it now.
    Volatile,
    /// 3. The client's send buffer while disconnected (client to server).
    Buffer,
    /// 4. Connection state recovery: the server replays what a socket missed.
    Recovery,
    /// 5. Acknowledgement, timeout and retries: at least once.
    Ack,
    /// 6. As 5, with a consumer that skips an event id it already processed.
    Dedup,
    /// 7. A durable queue (`netlab queue`): a log on disk, consumer groups, offsets.
    Queue,
}

impl Mode {
    pub const ALL: [Mode; 7] = [
        Mode::Emit,
        Mode::Volatile,
        Mode::Buffer,
        Mode::Recovery,
        Mode::Ack,
        Mode::Dedup,
        Mode::Queue,
    ];

    pub fn number(self) -> u8 {
        self as u8 + 1
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Emit => "emit",
            Mode::Volatile => "volatile",
            Mode::Buffer => "buffer",
            Mode::Recovery => "recovery",
            Mode::Ack => "ack",
            Mode::Dedup => "dedup",
            Mode::Queue => "queue",
        }
    }

    /// What the mode promises, in a few words.
    pub fn promise(self) -> &'static str {
        match self {
            Mode::Emit => "at most once",
            Mode::Volatile => "at most once, may drop while connected",
            Mode::Buffer => "at most once; the client keeps emits while it knows it is offline",
            Mode::Recovery => "at most once; missed events replayed within the recovery window",
            Mode::Ack => "at least once (duplicates possible)",
            Mode::Dedup => "at least once + idempotent consumer: the effect of exactly once",
            Mode::Queue => {
                "at least once from a log on disk: survives a broker restart (duplicates possible)"
            }
        }
    }

    /// Does the mode promise that nothing is processed twice?
    pub fn at_most_once(self) -> bool {
        !matches!(self, Mode::Ack | Mode::Queue)
    }

    /// Does the mode promise that nothing is lost, whatever the fault?
    pub fn at_least_once(self) -> bool {
        matches!(self, Mode::Ack | Mode::Dedup | Mode::Queue)
    }

    fn parse(s: &str) -> Option<Mode> {
        Mode::ALL
            .into_iter()
            .find(|m| s == m.name() || s.parse::<u8>().ok() == Some(m.number()))
    }
}

/// What breaks during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    None,
    /// The proxy cuts the consumer's connection (RST).
    Cut,
    /// Nothing gets through for longer than the ping timeout; then the held bytes are lost.
    Partition,
    /// The server stops and starts again, losing what it kept in memory.
    Restart,
    /// The consumer processes an event and acknowledges it; the acknowledgement is lost.
    LostAck,
    /// The consumer crashes after receiving an event, before processing it.
    Crash,
    /// Events arrive before the consumer registered its handler.
    Early,
}

impl Fault {
    pub const ALL: [Fault; 7] = [
        Fault::None,
        Fault::Cut,
        Fault::Partition,
        Fault::Restart,
        Fault::LostAck,
        Fault::Crash,
        Fault::Early,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::Cut => "cut",
            Fault::Partition => "partition",
            Fault::Restart => "restart",
            Fault::LostAck => "lost-ack",
            Fault::Crash => "crash",
            Fault::Early => "early",
        }
    }

    fn parse(s: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Why this fault does not apply to `mode`, if it does not.
    pub fn not_for(self, mode: Mode) -> Option<&'static str> {
        match (mode, self) {
            (Mode::Buffer, Fault::LostAck) => Some(
                "in this mode the consumer is the server application, and plain emits ask for \
                 no acknowledgement",
            ),
            (Mode::Buffer, Fault::Crash) => Some(
                "in this mode the consumer is the server application: its crash is the server \
                 restart",
            ),
            (Mode::Buffer, Fault::Early) => Some(
                "in this mode the consumer is the server application, whose handler is there \
                 before any client connects",
            ),
            _ => None,
        }
    }
}

/// A validated `netlab delivery`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub events: u64,
    pub interval: Duration,
    pub modes: Vec<Mode>,
    pub faults: Vec<Fault>,
    pub seed: u64,
    pub explain: bool,
    /// Runs at the same time.
    pub parallel: usize,
}

impl TryFrom<&DeliveryArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: &DeliveryArgs) -> anyhow::Result<Plan> {
        if !(10..=10_000).contains(&a.events) {
            return Err(usage(
                format!("--events {} is out of range", a.events),
                "give --events from 10 to 10000",
            ));
        }
        if !(a.interval.is_finite() && (0.5..=1000.0).contains(&a.interval)) {
            return Err(usage(
                format!("--interval {} is out of range", a.interval),
                "give --interval in milliseconds, from 0.5 to 1000",
            ));
        }
        let modes = match &a.modes {
            None => Mode::ALL.to_vec(),
            Some(list) => list
                .iter()
                .map(|m| {
                    Mode::parse(m.trim()).ok_or_else(|| {
                        usage(
                            format!("--modes: '{m}' is not a delivery mode"),
                            "modes are 1 emit, 2 volatile, 3 buffer, 4 recovery, 5 ack, 6 dedup, \
                             7 queue (numbers or names, separated by commas)",
                        )
                    })
                })
                .collect::<anyhow::Result<_>>()?,
        };
        let faults = match &a.faults {
            None => Fault::ALL.to_vec(),
            Some(list) => list
                .iter()
                .map(|f| {
                    Fault::parse(f.trim()).ok_or_else(|| {
                        usage(
                            format!("--faults: '{f}' is not a fault"),
                            "faults are none, cut, partition, restart, lost-ack, crash, early",
                        )
                    })
                })
                .collect::<anyhow::Result<_>>()?,
        };
        Ok(Plan {
            events: a.events,
            interval: Duration::from_secs_f64(a.interval / 1000.0),
            modes: dedup_sorted(modes),
            faults: dedup_sorted(faults),
            seed: a.seed,
            explain: a.explain,
            parallel: a.parallel.clamp(1, 16),
        })
    }
}

fn dedup_sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v.dedup();
    v
}

/// The event at which `fault` hits in `mode`'s run: drawn from the seed, the mode and the
/// fault only, so a seed repeats every position. A handler registered late comes in the
/// first tenth of the run, a partition in its first third (so that the run goes on after
/// it ends), the other faults between a fifth and a half.
pub fn fault_event(seed: u64, mode: Mode, fault: Fault, events: u64) -> Option<u64> {
    if fault == Fault::None {
        return None;
    }
    let key = (mode as u64) << 8 | fault as u64;
    let mut rng = SplitMix64::new(seed ^ key.wrapping_mul(0xd6e8_feb8_6659_fd93));
    let r = rng.next_u64();
    Some(match fault {
        Fault::Early => 2 + r % (events / 10).max(1),
        Fault::Partition => events / 10 + r % (events / 3 - events / 10).max(1),
        _ => events / 5 + r % (events / 2 - events / 5).max(1),
    })
}

/// One row of the table: a mode under a fault, as measured.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub mode: Mode,
    pub mode_number: u8,
    pub fault: Fault,
    /// The event at which the fault was to hit, and the one at which the run saw it hit.
    pub fault_at_event: Option<u64>,
    pub fault_hit_event: Option<u64>,
    #[serde(flatten)]
    pub counts: Counts,
    /// Repeats the dedup consumer recognised and skipped.
    pub deduplicated: u64,
    /// Events that arrived before the consumer had a handler for them.
    pub no_handler: u64,
    /// Events the producer stopped retrying.
    pub gave_up: u64,
    /// Bytes and reads (about one TCP segment each) the proxy carried, both ways.
    pub wire_bytes: u64,
    pub wire_packets: u64,
    /// The same, beyond this mode's run without a fault (when it was run).
    pub extra_bytes: Option<i64>,
    pub extra_packets: Option<i64>,
    /// The first events never processed, and the first processed twice.
    pub missed: Vec<u64>,
    pub duplicate: Option<u64>,
    #[serde(skip)]
    pub timeline: Vec<run::Step>,
}

/// A pair that was not run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct NotRun {
    pub mode: Mode,
    pub fault: Fault,
    pub why: &'static str,
}

/// Everything one `netlab delivery` measured.
#[derive(Debug, Serialize)]
pub struct DeliveryReport {
    pub events: u64,
    pub interval_ms: f64,
    pub seed: u64,
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
    pub partition_ms: u64,
    pub rows: Vec<Row>,
    pub not_run: Vec<NotRun>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub explained: Vec<explain::Explained>,
    pub seconds: f64,
}

/// Run every pair the plan names and report.
pub fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let report = measure_all(&plan, &mut |line| {
        let _ = out.progress(line);
    })?;
    out.report(&report)?;
    Ok(())
}

/// Run the experiment without printing, telling `progress` as runs finish.
pub fn measure_all(plan: &Plan, progress: &mut dyn FnMut(&str)) -> anyhow::Result<DeliveryReport> {
    let start = Instant::now();
    let mut pairs = Vec::new();
    let mut not_run = Vec::new();
    for &mode in &plan.modes {
        for &fault in &plan.faults {
            match fault.not_for(mode) {
                Some(why) => not_run.push(NotRun { mode, fault, why }),
                None => pairs.push((mode, fault)),
            }
        }
    }
    let rt = runtime(Runtime::MultiThread)?;
    let rows = rt.block_on(run_pairs(plan, &pairs, progress))?;
    let rows = with_extras(rows);
    let explained = if plan.explain {
        explain::explain(&rows)
    } else {
        Vec::new()
    };
    Ok(DeliveryReport {
        events: plan.events,
        interval_ms: plan.interval.as_secs_f64() * 1000.0,
        seed: plan.seed,
        ping_interval_ms: run::PING_INTERVAL.as_millis() as u64,
        ping_timeout_ms: run::PING_TIMEOUT.as_millis() as u64,
        partition_ms: run::PARTITION.as_millis() as u64,
        rows,
        not_run,
        explained,
        seconds: start.elapsed().as_secs_f64(),
    })
}

async fn run_pairs(
    plan: &Plan,
    pairs: &[(Mode, Fault)],
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<Row>> {
    let permits = Arc::new(tokio::sync::Semaphore::new(plan.parallel));
    let mut tasks = tokio::task::JoinSet::new();
    for &(mode, fault) in pairs {
        let setting = run::Setting {
            mode,
            fault,
            events: plan.events,
            interval: plan.interval,
            fault_event: fault_event(plan.seed, mode, fault, plan.events),
        };
        let (permits, seed) = (permits.clone(), plan.seed);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (setting, run::run(setting, seed).await)
        });
    }
    let mut rows = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (setting, outcome) = done?;
        let outcome = outcome.map_err(|e| {
            e.context(format!(
                "the run of mode {} under fault {} failed",
                setting.mode.name(),
                setting.fault.name()
            ))
        })?;
        rows.push(row(setting, outcome));
        progress(&format!(
            "delivery: {} of {} runs done",
            rows.len(),
            pairs.len()
        ));
    }
    rows.sort_by_key(|r| (r.mode, r.fault));
    Ok(rows)
}

fn row(s: run::Setting, o: run::Outcome) -> Row {
    let w = o.wire;
    Row {
        mode: s.mode,
        mode_number: s.mode.number(),
        fault: s.fault,
        fault_at_event: s.fault_event,
        fault_hit_event: o
            .log
            .timeline
            .iter()
            .find(|step| step.who == "fault")
            .and_then(|step| step.id),
        counts: measure::count(&o.log.observed),
        deduplicated: o.log.deduplicated,
        no_handler: o.log.no_handler,
        gave_up: o.log.gave_up,
        wire_bytes: w.up_bytes + w.down_bytes,
        wire_packets: w.up_reads + w.down_reads,
        extra_bytes: None,
        extra_packets: None,
        missed: measure::missed(&o.log.observed, 5),
        duplicate: measure::first_duplicate(&o.log.observed),
        timeline: o.log.timeline,
    }
}

/// Each row's traffic beyond its mode's run without a fault.
fn with_extras(mut rows: Vec<Row>) -> Vec<Row> {
    let base: std::collections::HashMap<Mode, (u64, u64)> = rows
        .iter()
        .filter(|r| r.fault == Fault::None)
        .map(|r| (r.mode, (r.wire_bytes, r.wire_packets)))
        .collect();
    for r in &mut rows {
        if let Some(&(b, p)) = base.get(&r.mode) {
            r.extra_bytes = Some(r.wire_bytes as i64 - b as i64);
            r.extra_packets = Some(r.wire_packets as i64 - p as i64);
        }
    }
    rows
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

fn signed(v: Option<i64>) -> String {
    v.map_or("-".into(), |v| format!("{v:+}"))
}

impl Render for DeliveryReport {
    fn render_human(&self, style: &Style) -> String {
        let mut t = style.table();
        t.set_header(vec![
            "mode",
            "fault",
            "at #",
            "sent",
            "deliv",
            "lost",
            "dup",
            "ooo",
            "+pkts",
            "+bytes",
            "p50 ms",
            "p99 ms",
            "recover ms",
        ]);
        for r in &self.rows {
            let c = &r.counts;
            let lost = if c.lost > 0 {
                style.paint(Paint::Bad, c.lost.to_string())
            } else {
                c.lost.to_string()
            };
            let mut dup = if c.duplicated > 0 {
                style.paint(Paint::Warn, c.duplicated.to_string())
            } else {
                c.duplicated.to_string()
            };
            if r.deduplicated > 0 {
                dup.push_str(&format!(" ({} skipped)", r.deduplicated));
            }
            t.add_row(vec![
                format!("{} {}", r.mode_number, r.mode.name()),
                r.fault.name().to_owned(),
                r.fault_hit_event.map_or("-".into(), |e| e.to_string()),
                c.sent.to_string(),
                c.delivered.to_string(),
                lost,
                dup,
                c.out_of_order.to_string(),
                signed(r.extra_packets),
                signed(r.extra_bytes),
                opt_ms(c.latency_p50_ms),
                opt_ms(c.latency_p99_ms),
                opt_ms(c.recover_ms),
            ]);
        }
        let mut s = format!(
            "{} {} events, one every {} ms, per mode and fault (seed {}; heartbeat {} ms + {} \
             ms; a partition lasts {} ms):\n{t}\n",
            style.paint(Paint::Bold, "Delivery:"),
            self.events,
            self.interval_ms,
            self.seed,
            self.ping_interval_ms,
            self.ping_timeout_ms,
            self.partition_ms
        );
        s.push_str(
            "lost: sent, never processed; dup: processed again; ooo: processed after a higher \
             number (skipped: repeats the dedup consumer recognised); +pkts/+bytes: reads and bytes at the proxy beyond the mode's run without \
             a fault; recover: from the fault to the first event sent after it being processed.\n",
        );
        let mut modes: Vec<Mode> = self.rows.iter().map(|r| r.mode).collect();
        modes.dedup();
        for m in modes {
            s.push_str(&format!("  {} {}: {}\n", m.number(), m.name(), m.promise()));
        }
        for n in &self.not_run {
            s.push_str(&format!(
                "not run: {} {} under {}: {}\n",
                n.mode.number(),
                n.mode.name(),
                n.fault.name(),
                n.why
            ));
        }
        for e in &self.explained {
            s.push('\n');
            s.push_str(&e.render_human(style));
        }
        s.push_str(&format!(
            "Measured in {:.1} s. The same --seed puts every fault at the same event.\n",
            self.seconds
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_positions_come_from_the_seed() {
        let a = fault_event(1, Mode::Ack, Fault::Cut, 100);
        assert_eq!(a, fault_event(1, Mode::Ack, Fault::Cut, 100));
        let all: Vec<_> = (0..50)
            .map(|seed| fault_event(seed, Mode::Emit, Fault::Cut, 100).unwrap())
            .collect();
        assert!(all.iter().all(|k| (20..50).contains(k)), "{all:?}");
        assert!(all.windows(2).any(|w| w[0] != w[1]));
        let early = fault_event(3, Mode::Emit, Fault::Early, 100).unwrap();
        assert!((2..12).contains(&early));
        assert_eq!(fault_event(3, Mode::Emit, Fault::None, 100), None);
    }

    #[test]
    fn modes_by_number_or_name() {
        assert_eq!(Mode::parse("5"), Some(Mode::Ack));
        assert_eq!(Mode::parse("dedup"), Some(Mode::Dedup));
        assert_eq!(Mode::parse("7"), Some(Mode::Queue));
        assert_eq!(Mode::parse("queue"), Some(Mode::Queue));
        assert_eq!(Mode::parse("8"), None);
        assert_eq!(Fault::parse("lost-ack"), Some(Fault::LostAck));
    }
}
