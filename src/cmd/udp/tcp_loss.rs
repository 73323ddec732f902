//! The TCP half of the demo's loss experiment: the same number of messages the UDP part
//! sent through its lossy relay, sent over TCP while nftables drops the same share of
//! segments, in a network namespace of its own.
//!
//! Two processes: `netlab udp demo` (the parent) re-runs netlab itself as the hidden
//! `netlab udp tcp-under-loss --json` inside a new network namespace (`net::netns`), and
//! parses the JSON it prints. Inside, [`run_here`] sends the messages once without loss
//! (the baseline) and once through the drop rule, reading the namespace's own TCP
//! counters around each transfer. Nothing outside the namespace is impaired, and the rule
//! disappears with it.

use crate::cli::udp::TcpUnderLossArgs;
use crate::error::{usage, HintExt, Hinted};
use crate::net::netns::{self, NetnsError, TcpCounters};
use crate::net::runtime::{runtime, Runtime};
use crate::net::tcp_loss::{self, NftError};
use crate::output::{Output, Paint, Render, Style};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A validated experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub messages: u32,
    pub size: usize,
    pub loss_percent: u32,
    pub gap: Duration,
    pub limit: Duration,
}

/// Every message starts with "probe NNNNNN/NNNNNN" and ends with a newline.
const MIN_SIZE: usize = 21;

impl TryFrom<&TcpUnderLossArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: &TcpUnderLossArgs) -> anyhow::Result<Plan> {
        if a.messages == 0 || a.messages > 1000 {
            return Err(usage(
                format!("--messages {} is out of range", a.messages),
                "give --messages a number from 1 to 1000",
            ));
        }
        if !(MIN_SIZE..=1000).contains(&a.size) {
            return Err(usage(
                format!("--size {} is out of range", a.size),
                format!("give --size a number of bytes from {MIN_SIZE} to 1000"),
            ));
        }
        if a.loss > 90 {
            return Err(usage(
                format!("--loss {} is out of range", a.loss),
                "give --loss a whole percentage from 0 to 90 (above that TCP may not finish in time)",
            ));
        }
        if a.gap_us > 100_000 || a.limit_ms == 0 || a.limit_ms > 60_000 {
            return Err(usage(
                "--gap-us or --limit-ms is out of range",
                "--gap-us takes 0 to 100000, --limit-ms 1 to 60000",
            ));
        }
        Ok(Plan {
            messages: a.messages,
            size: a.size,
            loss_percent: a.loss,
            gap: Duration::from_micros(a.gap_us),
            limit: Duration::from_millis(a.limit_ms),
        })
    }
}

impl Plan {
    /// The hidden subcommand's arguments for this plan (what the parent passes).
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "udp".into(),
            "tcp-under-loss".into(),
            "--json".into(),
            "--messages".into(),
            self.messages.to_string(),
            "--size".into(),
            self.size.to_string(),
            "--loss".into(),
            self.loss_percent.to_string(),
            "--gap-us".into(),
            self.gap.as_micros().to_string(),
            "--limit-ms".into(),
            self.limit.as_millis().to_string(),
        ]
    }
}

/// The messages: `probe 000001/000050....\n`, each exactly `size` bytes (size ≥ 21), so
/// a reader can tell them apart and check their order.
pub fn messages(n: u32, size: usize) -> Vec<Vec<u8>> {
    (1..=n)
        .map(|i| {
            let mut m = format!("probe {i:06}/{n:06}").into_bytes();
            m.resize(size.saturating_sub(1), b'.');
            m.push(b'\n');
            m
        })
        .collect()
}

/// How many of `sent` arrived whole and in order at the front of `received`.
pub fn delivered_in_order(sent: &[Vec<u8>], received: &[u8]) -> u32 {
    let mut rest = received;
    let mut n = 0;
    for m in sent {
        match rest.strip_prefix(m.as_slice()) {
            Some(r) => {
                rest = r;
                n += 1;
            }
            None => break,
        }
    }
    n
}

/// One transfer, as measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpRun {
    /// Messages that arrived whole and in order.
    pub delivered: u32,
    pub bytes_sent: usize,
    pub bytes_received: usize,
    /// The receiver read exactly the bytes written, in order.
    pub intact_in_order: bool,
    /// Reads it took (a stream is free to merge and split writes).
    pub reads: u32,
    pub elapsed_ms: f64,
    /// The namespace's TCP counters, after minus before.
    pub counters: TcpCounters,
    /// nftables' counts for the rule: non-SYN segments to the receiver, and those dropped
    /// (absent for the baseline, which has no rule).
    pub segments_to_receiver: Option<u64>,
    pub dropped_by_rule: Option<u64>,
}

/// The experiment: the same messages without loss, then at `loss_percent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpUnderLoss {
    pub messages: u32,
    pub message_bytes: usize,
    pub loss_percent: u32,
    /// The nftables rule that did the dropping, as loaded.
    pub rule: String,
    /// Made inside a new user namespace as well (not root).
    #[serde(default)]
    pub user_namespace: bool,
    pub baseline: TcpRun,
    pub lossy: TcpRun,
}

impl TcpUnderLoss {
    /// How many times longer the lossy transfer took than the baseline.
    pub fn slowdown(&self) -> f64 {
        self.lossy.elapsed_ms / self.baseline.elapsed_ms.max(0.001)
    }
}

/// Why the TCP half was not shown, and how to get it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotShown {
    pub reason: String,
    pub hint: String,
}

/// What the hidden subcommand prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Measured(Box<TcpUnderLoss>),
    NotShown(NotShown),
}

const SUDO_HINT: &str = "run the demo with sudo (root may make network namespaces), or on a \
     kernel that lets users make user namespaces; install `nft` (Debian: nftables), `unshare` \
     (util-linux) and `ip` (iproute2)";

fn not_shown(reason: impl Into<String>) -> Outcome {
    Outcome::NotShown(NotShown {
        reason: reason.into(),
        hint: SUDO_HINT.into(),
    })
}

/// A helper program the TCP half needs is not installed: privilege would not help, the
/// package would. Parts 1 to 4 ran without it.
fn missing_helper(reason: impl Into<String>, command: &str, package: &str) -> Outcome {
    Outcome::NotShown(NotShown {
        reason: reason.into(),
        hint: format!(
            "install `{command}` (Debian and Ubuntu: `sudo apt-get install {package}`), then run \
             the demo again; parts 1 to 4 need nothing more"
        ),
    })
}

/// Inside the namespace: run both transfers and print the outcome.
pub fn run_here(plan: &Plan, out: &mut Output) -> anyhow::Result<()> {
    let isolated = netns::only_loopback().failed("udp tcp-under-loss: reading /proc/net/dev")?;
    if !isolated {
        return Err(Hinted::failure(
            "udp tcp-under-loss: this network namespace has interfaces besides lo; refusing \
             to drop traffic here",
        )
        .with_hint(
            "this hidden command is run by `netlab udp demo` in a fresh namespace; run the demo",
        )
        .into());
    }
    let outcome = runtime(Runtime::CurrentThread)?.block_on(experiment(plan))?;
    out.report(&outcome)?;
    Ok(())
}

async fn experiment(plan: &Plan) -> anyhow::Result<Outcome> {
    let msgs = messages(plan.messages, plan.size);
    let fail = |what: &str| format!("udp tcp-under-loss: {what}");
    let hint = "TCP kept retransmitting for longer than the limit; run the demo again";

    // Baseline: no rule yet.
    let listener = tcp_loss::bind_receiver()
        .await
        .failed(fail("binding the receiver"))?;
    let before = TcpCounters::read().failed(fail("reading /proc/net/snmp"))?;
    let t = tcp_loss::transfer(&listener, &msgs, plan.gap, plan.limit)
        .await
        .hinted(fail("the transfer without loss"), hint)?;
    let counters = TcpCounters::read()
        .failed(fail("reading /proc/net/snmp"))?
        .since(&before);
    let baseline = tcp_run(&msgs, &t, counters, None);

    // The same messages through the drop rule, to a new receiver (its own port).
    let listener = tcp_loss::bind_receiver()
        .await
        .failed(fail("binding the receiver"))?;
    let port = listener.local_addr()?.port();
    let rule = tcp_loss::drop_ruleset(port, plan.loss_percent);
    match tcp_loss::nft_apply(&rule) {
        Ok(()) => {}
        Err(e @ NftError::Missing) => {
            return Ok(missing_helper(
                format!("nftables could not drop segments: {e}"),
                "nft",
                "nftables",
            ))
        }
        // nft there but not runnable (a PATH entry this user may not search gives EACCES):
        // the experiment is optional, so say why and carry on, as when it is missing.
        Err(e @ (NftError::Refused(_) | NftError::Io(_))) => {
            return Ok(not_shown(format!("nftables could not drop segments: {e}")))
        }
    }
    let before = TcpCounters::read().failed(fail("reading /proc/net/snmp"))?;
    let t = tcp_loss::transfer(&listener, &msgs, plan.gap, plan.limit)
        .await
        .hinted(
            fail(&format!("the transfer at {}% loss", plan.loss_percent)),
            hint,
        )?;
    let counters = TcpCounters::read()
        .failed(fail("reading /proc/net/snmp"))?
        .since(&before);
    let counts = tcp_loss::nft_counts().failed(fail("reading the nft counters"))?;
    let lossy = tcp_run(&msgs, &t, counters, Some(counts));
    Ok(Outcome::Measured(Box::new(TcpUnderLoss {
        messages: plan.messages,
        message_bytes: plan.size,
        loss_percent: plan.loss_percent,
        rule: rule.trim().to_owned(),
        user_namespace: false, // the parent knows; it fills this in
        baseline,
        lossy,
    })))
}

fn tcp_run(
    msgs: &[Vec<u8>],
    t: &tcp_loss::Transfer,
    counters: TcpCounters,
    nft: Option<(u64, u64)>,
) -> TcpRun {
    let sent: Vec<u8> = msgs.concat();
    TcpRun {
        delivered: delivered_in_order(msgs, &t.received),
        bytes_sent: sent.len(),
        bytes_received: t.received.len(),
        intact_in_order: t.received == sent,
        reads: t.reads,
        elapsed_ms: t.elapsed.as_secs_f64() * 1000.0,
        counters,
        segments_to_receiver: nft.map(|c| c.0),
        dropped_by_rule: nft.map(|c| c.1),
    }
}

/// In the parent: run the experiment in a new network namespace and read its outcome.
/// What stops the namespace from being made (no privilege, no `unshare`, `ip` or `nft`)
/// comes back as [`Outcome::NotShown`]; a transfer that fails inside it is an error.
pub fn measure_in_namespace(plan: &Plan) -> anyhow::Result<Outcome> {
    let exe = std::env::current_exe().failed("udp demo: finding netlab's own executable")?;
    // Two transfers, each bounded by plan.limit, plus time to start and read counters.
    let limit = plan.limit * 2 + Duration::from_secs(5);
    let run = match netns::run_in_new_netns(&exe, &plan.to_args(), limit) {
        Ok(run) => run,
        Err(e @ NetnsError::TimedOut(_)) => {
            return Err(anyhow::Error::new(e).context(
                Hinted::failure("udp demo: the TCP experiment in its network namespace")
                    .with_hint("run the demo again; if it keeps happening, report it"),
            ))
        }
        Err(e) => return Ok(not_shown(format!("no network namespace: {e}"))),
    };
    if run.status.success() {
        let mut outcome: Outcome = serde_json::from_str(&run.stdout).hinted(
            "udp demo: the TCP experiment printed something netlab cannot read",
            "report this as a bug, with the output of `netlab udp demo --json`",
        )?;
        if let Outcome::Measured(m) = &mut outcome {
            m.user_namespace = run.user_namespace;
        }
        return Ok(outcome);
    }
    // netlab's own failures inside the namespace say "error: ..." (and "hint: ...").
    let line = |p: &str| {
        run.stderr
            .lines()
            .find_map(|l| l.strip_prefix(p).map(str::to_owned))
    };
    match line("error: ") {
        Some(msg) => {
            let mut h = Hinted::failure(msg);
            if let Some(hint) = line("hint: ") {
                h = h.with_hint(hint);
            }
            Err(h.into())
        }
        // unshare or ip failed before netlab started: the namespace could not be made.
        None => {
            let first = run.stderr.lines().next().unwrap_or("no message").trim();
            let reason = format!("could not make a network namespace with lo up: {first}");
            // `sh` says "ip: not found" when iproute2 is missing.
            Ok(if first.contains("ip: not found") {
                missing_helper(reason, "ip", "iproute2")
            } else {
                not_shown(reason)
            })
        }
    }
}

impl Render for Outcome {
    fn render_human(&self, style: &Style) -> String {
        match self {
            Outcome::Measured(m) => format!(
                "TCP, {} messages: {} of {} delivered in order without loss ({:.0} ms); at {}% \
                 loss {} of {} ({:.0} ms), {} segments dropped, {} retransmitted",
                m.messages,
                m.baseline.delivered,
                m.messages,
                m.baseline.elapsed_ms,
                m.loss_percent,
                m.lossy.delivered,
                m.messages,
                m.lossy.elapsed_ms,
                m.lossy.dropped_by_rule.unwrap_or(0),
                m.lossy.counters.retrans_segs,
            ),
            Outcome::NotShown(n) => format!(
                "{} {}\nhint: {}",
                style.paint(Paint::Warn, "not shown:"),
                n.reason,
                n.hint
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_numbered_and_sized() {
        let m = messages(3, 25);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0], b"probe 000001/000003.....\n");
        assert!(m.iter().all(|m| m.len() == 25));
        assert_ne!(m[1], m[2]);
    }

    #[test]
    fn delivery_counts_whole_messages_in_order() {
        let m = messages(3, 21);
        let all = m.concat();
        assert_eq!(delivered_in_order(&m, &all), 3);
        assert_eq!(delivered_in_order(&m, &all[..30]), 1, "a partial message");
        let swapped = [m[1].clone(), m[0].clone(), m[2].clone()].concat();
        assert_eq!(delivered_in_order(&m, &swapped), 0, "out of order");
        assert_eq!(delivered_in_order(&m, b""), 0);
    }

    #[test]
    fn plan_round_trips_through_the_hidden_command_line() {
        use clap::Parser;
        let plan = Plan {
            messages: 50,
            size: 25,
            loss_percent: 20,
            gap: Duration::from_micros(500),
            limit: Duration::from_millis(8000),
        };
        let mut argv = vec!["netlab".to_owned()];
        argv.extend(plan.to_args());
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        assert!(cli.global.json);
        let crate::cli::Command::Udp(u) = cli.command else {
            panic!("not udp")
        };
        let crate::cli::udp::UdpCommand::TcpUnderLoss(a) = u.command else {
            panic!("not tcp-under-loss")
        };
        assert_eq!(Plan::try_from(&a).unwrap(), plan);
    }

    #[test]
    fn a_missing_program_is_named_with_its_package() {
        let Outcome::NotShown(n) = missing_helper("no nft", "nft", "nftables") else {
            panic!("not shown")
        };
        assert!(n.hint.contains("apt-get install nftables"), "{}", n.hint);
        assert!(!n.hint.contains("run the demo with sudo"), "{}", n.hint);
    }

    #[test]
    fn outcome_json_round_trips() {
        let o = not_shown("no privilege");
        let s = serde_json::to_string(&o).unwrap();
        assert!(s.starts_with("{\"not_shown\":"), "{s}");
        assert_eq!(serde_json::from_str::<Outcome>(&s).unwrap(), o);
    }
}
