//! `netlab proxy`: a TCP relay that breaks connections on purpose (`net::proxy`), with
//! one line per connection event and a summary at the end.

use crate::cli::proxy::ProxyArgs;
use crate::error::{usage, HintExt};
use crate::net::proxy::schedule::{
    self, Blackhole, CutAt, CutWith, FaultScript, ParseError, Pick, Then,
};
use crate::net::proxy::{Applied, Counters, Ending, Proxy, ProxyEvent};
use crate::net::runtime::{runtime, Runtime};
use crate::net::Endpoint;
use crate::output::{Output, Paint, Render, Style};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// A validated `netlab proxy`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub listen: SocketAddr,
    pub to: Endpoint,
    pub script: FaultScript,
    pub seed: u64,
    pub connections: Option<u64>,
}

fn arg<T>(flag: &str, r: Result<T, ParseError>) -> anyhow::Result<T> {
    r.map_err(|e| {
        usage(
            format!("{flag}: {e}"),
            format!("see `netlab proxy --help` for {flag}"),
        )
    })
}

/// `--listen`: a port on 127.0.0.1, or ADDRESS:PORT.
fn listen_addr(s: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    s.parse().map_err(|_| {
        usage(
            format!("--listen {s} is neither a port nor ADDRESS:PORT"),
            "give a port (9001, on 127.0.0.1) or an address and port (0.0.0.0:9001)",
        )
    })
}

impl TryFrom<ProxyArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: ProxyArgs) -> anyhow::Result<Plan> {
        let cut_with = match a.cut_with.as_str() {
            "fin" => CutWith::Fin,
            "rst" => CutWith::Rst,
            other => {
                return Err(usage(
                    format!("--cut-with {other} is not a way to cut"),
                    "use --cut-with fin (an end of stream) or --cut-with rst (a reset)",
                ))
            }
        };
        let then = match a.then.as_str() {
            "release" => Then::Release,
            "drop" => Then::Drop,
            other => {
                return Err(usage(
                    format!("--then {other} is not what a black hole can do"),
                    "use --then release (deliver the held bytes) or --then drop",
                ))
            }
        };
        let cut = a
            .cut_after
            .as_deref()
            .map(|s| arg("--cut-after", schedule::parse_cut_after(s)))
            .transpose()?;
        let blackhole = match a.blackhole.as_deref() {
            Some(b) => Some(Blackhole {
                at: arg(
                    "--blackhole-at",
                    schedule::parse_pick(&a.blackhole_at, schedule::parse_duration),
                )?,
                lasting: arg(
                    "--blackhole",
                    schedule::parse_pick(b, schedule::parse_duration),
                )?,
                then,
            }),
            None => None,
        };
        let delay = a
            .delay
            .as_deref()
            .map(|s| arg("--delay", schedule::parse_duration(s)))
            .transpose()?
            .unwrap_or(Duration::ZERO);
        let throttle = a
            .throttle
            .as_deref()
            .map(|s| arg("--throttle", schedule::parse_rate(s)))
            .transpose()?;
        Ok(Plan {
            listen: listen_addr(&a.listen)?,
            to: a.to,
            script: FaultScript {
                cut,
                cut_with,
                blackhole,
                delay,
                throttle,
            },
            seed: a.seed,
            connections: a.connections,
        })
    }
}

/// The proxy is up.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyingEvent {
    pub event: &'static str,
    pub listen: String,
    pub to: String,
    pub script: String,
    pub seed: u64,
}

impl Render for ProxyingEvent {
    fn render_human(&self, style: &Style) -> String {
        format!(
            "{} {} {} {}: {} (seed {}; Ctrl-C stops and prints the summary)",
            style.paint(Paint::Bold, "proxying"),
            self.listen,
            style.arrow(),
            self.to,
            self.script,
            self.seed
        )
    }
}

/// What the script does, in words.
pub fn describe(s: &FaultScript) -> String {
    let mut parts = Vec::new();
    match s.cut {
        Some(CutAt::Bytes(Pick::Fixed(n))) => parts.push(format!("cut after {n} bytes")),
        Some(CutAt::Bytes(Pick::Between(a, b))) => parts.push(format!("cut after {a}..{b} bytes")),
        Some(CutAt::Time(p)) => parts.push(format!("cut at {p}")),
        None => {}
    }
    if s.cut.is_some() {
        parts.push(format!("with {}", s.cut_with.as_str()));
    }
    if let Some(b) = s.blackhole {
        let then = match b.then {
            Then::Release => "then release",
            Then::Drop => "then drop and cut",
        };
        parts.push(format!("black hole at {} for {}, {then}", b.at, b.lasting));
    }
    if !s.delay.is_zero() {
        parts.push(format!("delay {} ms", s.delay.as_millis()));
    }
    if let Some(r) = s.throttle {
        parts.push(format!("throttle {r} B/s"));
    }
    if parts.is_empty() {
        "no faults: bytes pass as they come".into()
    } else {
        parts.join(", ")
    }
}

/// One connection event, for the live view.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyLine(pub ProxyEvent);

impl Render for ProxyLine {
    fn render_human(&self, style: &Style) -> String {
        match &self.0 {
            ProxyEvent::Accepted {
                conn,
                client,
                upstream,
                ..
            } => format!("#{conn:<4} accepted {client} {} {upstream}", style.arrow()),
            ProxyEvent::UpstreamFailed { conn, error } => format!(
                "#{conn:<4} {}: {error} (is the server running?)",
                style.paint(Paint::Bad, "upstream failed")
            ),
            ProxyEvent::Fault { conn, at_ms, fault } => format!(
                "#{conn:<4} {} at {at_ms} ms: {}",
                style.paint(Paint::Warn, "fault"),
                applied(fault)
            ),
            ProxyEvent::Closed {
                conn,
                up_bytes,
                down_bytes,
                lost_bytes,
                how,
                after_ms,
            } => {
                let how = ending(*how);
                format!(
                    "#{conn:<4} closed after {after_ms} ms ({how}): {up_bytes} B up, \
                     {down_bytes} B down, {lost_bytes} B never delivered"
                )
            }
        }
    }
}

/// How a connection ended, in words.
pub fn ending(how: Ending) -> String {
    match how {
        Ending::Closed => "both sides closed".to_owned(),
        Ending::Cut(w) => format!("cut with {}", w.as_str()),
        Ending::Reset => "a peer reset it".to_owned(),
        Ending::Stopped => "the proxy stopped".to_owned(),
    }
}

/// A fault as a line of text.
pub fn applied(a: &Applied) -> String {
    match a {
        Applied::Cut { with, after_bytes } => {
            format!("cut with {} after {after_bytes} bytes", with.as_str())
        }
        Applied::BlackholeStarts => "black hole: nothing gets through".into(),
        Applied::BlackholeEnds { then, held_bytes } => match then {
            Then::Release => format!("black hole ends: {held_bytes} held bytes released"),
            Then::Drop => format!("black hole ends: {held_bytes} held bytes dropped, cut"),
        },
        Applied::Partitioned => "partitioned".into(),
        Applied::Healed { then, held_bytes } => match then {
            Then::Release => format!("healed: {held_bytes} held bytes released"),
            Then::Drop => format!("healed: {held_bytes} held bytes dropped, cut"),
        },
    }
}

/// What the proxy did.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyReport {
    pub listen: String,
    pub to: String,
    pub script: String,
    pub seed: u64,
    #[serde(flatten)]
    pub counters: Counters,
    pub seconds: f64,
}

impl Render for ProxyReport {
    fn render_human(&self, style: &Style) -> String {
        let c = &self.counters;
        let mut s = format!(
            "{} {} {} {} for {:.1} s ({}): {} connections, {} cut; {} B up in {} reads, {} B \
             down in {} reads, {} B never delivered.\n",
            style.paint(Paint::Bold, "Proxied"),
            self.listen,
            style.arrow(),
            self.to,
            self.seconds,
            self.script,
            c.connections,
            c.cuts,
            c.up_bytes,
            c.up_reads,
            c.down_bytes,
            c.down_reads,
            c.lost_bytes
        );
        if c.upstream_failures > 0 {
            s.push_str(&format!(
                "{} connections could not reach {}: start the server first, or check --to.\n",
                c.upstream_failures, self.to
            ));
        }
        s
    }
}

/// Bind the proxy (tests read its address before running it).
pub async fn bind(plan: &Plan) -> anyhow::Result<Proxy> {
    let to = plan.to.resolve().await?[0];
    Proxy::bind(plan.listen, to, plan.script, plan.seed).hinted(
        format!("could not start the proxy on {}", plan.listen),
        "another socket may hold that port: pick another --listen port (0 lets the kernel choose)",
    )
}

/// Relay until Ctrl-C (or --connections), one event per connection event.
pub async fn serve(
    plan: &Plan,
    proxy: Proxy,
    stop: impl std::future::Future<Output = ()>,
    out: &mut Output,
) -> anyhow::Result<ProxyReport> {
    let listen = proxy.local_addr()?.to_string();
    let to = proxy.upstream().to_string();
    let script = describe(&plan.script);
    out.event(&ProxyingEvent {
        event: "proxying",
        listen: listen.clone(),
        to: to.clone(),
        script: script.clone(),
        seed: plan.seed,
    })?;
    let start = Instant::now();
    let mut write_err = None;
    let counters = proxy
        .run(stop, plan.connections, |e| {
            if write_err.is_none() {
                if let Err(err) = out.event(&ProxyLine(e)) {
                    write_err = Some(err);
                }
            }
        })
        .await;
    if let Some(e) = write_err {
        return Err(e.into());
    }
    Ok(ProxyReport {
        listen,
        to,
        script,
        seed: plan.seed,
        counters,
        seconds: start.elapsed().as_secs_f64(),
    })
}

pub fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    runtime(Runtime::CurrentThread)?.block_on(async {
        let proxy = bind(&plan).await?;
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let report = serve(&plan, proxy, stop, out).await?;
        out.report(&report)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> anyhow::Result<Plan> {
        use clap::Parser;
        let mut argv = vec![
            "netlab",
            "proxy",
            "--listen",
            "9001",
            "--to",
            "127.0.0.1:9000",
        ];
        argv.extend_from_slice(extra);
        let cli = crate::cli::Cli::try_parse_from(argv).expect("clap");
        match cli.command {
            crate::cli::Command::Proxy(a) => Plan::try_from(a),
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_plan_from_the_command_line() {
        let p = args(&[
            "--cut-after",
            "10KB",
            "--cut-with",
            "rst",
            "--delay",
            "50ms",
        ])
        .unwrap();
        assert_eq!(p.listen, "127.0.0.1:9001".parse().unwrap());
        assert_eq!(p.script.cut, Some(CutAt::Bytes(Pick::Fixed(10_000))));
        assert_eq!(p.script.cut_with, CutWith::Rst);
        assert_eq!(p.script.delay, Duration::from_millis(50));
        assert_eq!(
            describe(&p.script),
            "cut after 10000 bytes, with RST, delay 50 ms"
        );
    }

    #[test]
    fn bad_values_are_usage_errors_that_say_why() {
        for bad in [
            &["--cut-after", "soon"][..],
            &["--cut-with", "scissors"],
            &["--blackhole", "3 years"],
            &["--throttle", "10KB"],
            &["--delay", "5 parsecs"],
        ] {
            let e = args(bad).unwrap_err();
            let r = crate::output::describe_fatal(&e).unwrap();
            assert_eq!(r.exit_code, 2, "{bad:?}");
            assert!(e.to_string().contains(bad[0]), "{e}");
        }
    }
}
