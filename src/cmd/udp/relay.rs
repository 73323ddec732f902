//! `netlab udp relay`: a man in the middle that loses, duplicates, reorders and delays
//! datagrams on purpose, from a seed, so loss becomes visible on loopback without root.

use super::{millis_arg, percent_arg, seconds_arg};
use crate::cli::udp::RelayArgs;
use crate::error::HintExt;
use crate::net::udp::{Interrupt, Relay, RelayCounters, RelayEvent};
use crate::net::Endpoint;
use crate::output::{Output, Paint, Render, Style};
use crate::wire::measure::impair::Impairment;
use serde::Serialize;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A validated `netlab udp relay`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub listen: SocketAddr,
    pub to: Endpoint,
    pub impairment: Impairment,
    pub seed: u64,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    pub quiet: bool,
}

impl TryFrom<&RelayArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: &RelayArgs) -> anyhow::Result<Plan> {
        Ok(Plan {
            listen: a.listen,
            to: a.to.clone(),
            impairment: Impairment {
                loss: percent_arg("--loss", a.loss)?,
                dup: percent_arg("--dup", a.dup)?,
                reorder: percent_arg("--reorder", a.reorder)?,
                delay_us: millis_arg("--delay", a.delay)?,
                jitter_us: millis_arg("--jitter", a.jitter)?,
            },
            seed: a.seed,
            count: a.count,
            duration: a.seconds.map(|s| seconds_arg("--seconds", s)).transpose()?,
            quiet: a.quiet,
        })
    }
}

/// The relay is up.
#[derive(Debug, Clone, Serialize)]
pub struct RelayingEvent {
    pub event: &'static str,
    pub listen: String,
    pub to: String,
    pub seed: u64,
}

impl Render for RelayingEvent {
    fn render_human(&self, style: &Style) -> String {
        format!(
            "{} {} {} {} (seed {}; Ctrl-C stops and prints the summary)",
            style.paint(Paint::Bold, "relaying"),
            self.listen,
            style.arrow(),
            self.to,
            self.seed
        )
    }
}

/// One relay decision, for the live view.
#[derive(Debug, Clone, Serialize)]
pub struct RelayLine(pub RelayEvent);

impl Render for RelayLine {
    fn render_human(&self, style: &Style) -> String {
        match &self.0 {
            RelayEvent::Datagram {
                n,
                len,
                from,
                verdict,
            } => {
                let mut what = Vec::new();
                if verdict.drop {
                    what.push(style.paint(Paint::Bad, "dropped"));
                } else {
                    what.push(style.paint(Paint::Good, "forwarded"));
                    if verdict.duplicate {
                        what.push(style.paint(Paint::Warn, "twice"));
                    }
                    if verdict.hold {
                        what.push(style.paint(Paint::Warn, "held back"));
                    }
                    if verdict.delay_us > 0 {
                        what.push(format!("after {:.3} ms", verdict.delay_us as f64 / 1000.0));
                    }
                }
                format!("#{n:<6} {len:>5} B from {from}  {}", what.join(", "))
            }
            RelayEvent::Released { n } => {
                format!("#{n:<6} released after a later datagram (reordered)")
            }
            RelayEvent::Flushed { n } => format!("#{n:<6} released: nothing came after it"),
            RelayEvent::End { n } => format!("#{n:<6} END marker passed through"),
            RelayEvent::Reply { len, to } => format!("        reply {len} B back to {to}"),
        }
    }
}

/// The impairment asked for, in the units of the command line.
#[derive(Debug, Clone, Serialize)]
pub struct ImpairmentPercent {
    pub loss_percent: f64,
    pub dup_percent: f64,
    pub reorder_percent: f64,
    pub delay_ms: f64,
    pub jitter_ms: f64,
}

impl From<Impairment> for ImpairmentPercent {
    fn from(i: Impairment) -> Self {
        ImpairmentPercent {
            loss_percent: i.loss * 100.0,
            dup_percent: i.dup * 100.0,
            reorder_percent: i.reorder * 100.0,
            delay_ms: i.delay_us as f64 / 1000.0,
            jitter_ms: i.jitter_us as f64 / 1000.0,
        }
    }
}

/// What the relay did.
#[derive(Debug, Clone, Serialize)]
pub struct RelayReport {
    pub listen: String,
    pub to: String,
    pub seed: u64,
    pub asked: ImpairmentPercent,
    #[serde(flatten)]
    pub counters: RelayCounters,
    pub seconds: f64,
}

impl Render for RelayReport {
    fn render_human(&self, style: &Style) -> String {
        let c = &self.counters;
        let data = c.received - c.end_markers;
        let pct = |n: u64| {
            if data == 0 {
                0.0
            } else {
                100.0 * n as f64 / data as f64
            }
        };
        let mut t = style.table();
        t.set_header(vec!["", "datagrams", "share", "asked for"]);
        t.add_row(vec![
            "from the client".to_owned(),
            data.to_string(),
            String::new(),
            String::new(),
        ]);
        t.add_row(vec![
            "dropped".to_owned(),
            c.dropped.to_string(),
            format!("{:.1}%", pct(c.dropped)),
            format!("{}%", self.asked.loss_percent),
        ]);
        t.add_row(vec![
            "duplicated".to_owned(),
            c.duplicated.to_string(),
            format!("{:.1}%", pct(c.duplicated)),
            format!("{}% of those kept", self.asked.dup_percent),
        ]);
        t.add_row(vec![
            "reordered".to_owned(),
            c.reordered.to_string(),
            format!("{:.1}%", pct(c.reordered)),
            format!("{}% of those kept", self.asked.reorder_percent),
        ]);
        t.add_row(vec![
            "forwarded (copies)".to_owned(),
            c.forwarded.to_string(),
            String::new(),
            String::new(),
        ]);
        t.add_row(vec![
            "END markers".to_owned(),
            c.end_markers.to_string(),
            String::new(),
            String::new(),
        ]);
        t.add_row(vec![
            "replies passed back".to_owned(),
            c.replies.to_string(),
            String::new(),
            String::new(),
        ]);
        format!(
            "{} {} {} {} for {:.1} s, seed {}, delay {} ms ± {} ms:\n{}\nThe same seed gives the \
             same decisions in the same order: rerun with --seed {} to get exactly these losses.\n",
            style.paint(Paint::Bold, "Relayed"),
            self.listen,
            style.arrow(),
            self.to,
            self.seconds,
            self.seed,
            self.asked.delay_ms,
            self.asked.jitter_ms,
            t,
            self.seed
        )
    }
}

/// Bind the relay (tests read its address before running it).
pub async fn bind(plan: &Plan) -> anyhow::Result<Relay> {
    let to = plan.to.resolve().await?[0];
    Relay::bind(plan.listen, to, plan.impairment, plan.seed).await.hinted(
        format!("could not start the relay on {}", plan.listen),
        "another socket may hold that port: pick another --listen port (0 lets the kernel choose)",
    )
}

/// Relay until stopped; one event per decision unless quiet.
pub async fn serve(
    plan: &Plan,
    relay: Relay,
    stop: Interrupt,
    out: &mut Output,
) -> anyhow::Result<RelayReport> {
    let listen = relay.local_addr()?;
    let to = relay.upstream();
    out.event(&RelayingEvent {
        event: "relaying",
        listen: listen.to_string(),
        to: to.to_string(),
        seed: plan.seed,
    })?;
    let start = Instant::now();
    let mut write_err = None;
    let quiet = plan.quiet;
    let counters = relay
        .run(stop, plan.duration.map(|d| start + d), plan.count, |e| {
            if !quiet && write_err.is_none() {
                if let Err(err) = out.event(&RelayLine(e)) {
                    write_err = Some(err);
                }
            }
        })
        .await
        .failed("the relay stopped")?;
    if let Some(e) = write_err {
        return Err(e.into());
    }
    Ok(RelayReport {
        listen: listen.to_string(),
        to: to.to_string(),
        seed: plan.seed,
        asked: plan.impairment.into(),
        counters,
        seconds: start.elapsed().as_secs_f64(),
    })
}

pub async fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let relay = bind(&plan).await?;
    let report = serve(&plan, relay, Interrupt::on_ctrl_c(), out).await?;
    out.report(&report)?;
    Ok(())
}
