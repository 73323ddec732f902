//! `netlab udp listen`: one socket, every sender, each datagram shown as it arrives.

use super::{millis_arg, seconds_arg, Preview};
use crate::cli::udp::ListenArgs;
use crate::cmd::reach;
use crate::error::HintExt;
use crate::net::udp::{Interrupt, Recv, UdpPort};
use crate::output::{Output, Paint, Render, Style};
use crate::wire::measure::probe;
use crate::wire::measure::reception::{Arrival, StreamStats, StreamSummary};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// With `--json`, at most this many datagrams are listed in the report (the counts cover all).
const MAX_LISTED: usize = 1000;

/// A validated `netlab udp listen`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub bind: SocketAddr,
    pub echo: bool,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    pub late_budget_us: u64,
    pub quiet: bool,
    /// Stop after the first END datagram (the demo and tests use this; the CLI does not).
    pub stop_after_end: bool,
}

impl TryFrom<&ListenArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: &ListenArgs) -> anyhow::Result<Plan> {
        Ok(Plan {
            bind: SocketAddr::new(a.bind, a.port),
            echo: a.echo,
            count: a.count,
            duration: a.seconds.map(|s| seconds_arg("--seconds", s)).transpose()?,
            late_budget_us: millis_arg("--late-ms", a.late_ms)?,
            quiet: a.quiet,
            stop_after_end: false,
        })
    }
}

/// The first thing a listener says: where it listens (the port matters with `--port 0`).
#[derive(Debug, Clone, Serialize)]
pub struct ListeningEvent {
    pub event: &'static str,
    pub addr: String,
    pub echo: bool,
}

impl Render for ListeningEvent {
    fn render_human(&self, style: &Style) -> String {
        format!(
            "{} UDP on {}{} (Ctrl-C stops and prints the summary)",
            style.paint(Paint::Bold, "listening"),
            self.addr,
            if self.echo { ", echoing" } else { "" }
        )
    }
}

/// One datagram as it arrived.
#[derive(Debug, Clone, Serialize)]
pub struct DatagramEvent {
    pub event: &'static str,
    /// Milliseconds since the listener started.
    pub at_ms: f64,
    pub from: String,
    /// UDP payload length in bytes.
    pub len: usize,
    /// The netlab probe header, if the payload starts with one.
    pub probe: Option<probe::Repr>,
    /// For probes: in order, reordered, duplicate.
    pub arrival: Option<Arrival>,
    /// For anything else: why it is not a probe, and the first bytes.
    pub raw: Option<RawPayload>,
    /// For probes that carry a message after the 20-byte header (`udp send MESSAGE`):
    /// its first characters, escaped as `raw` previews are. Absent for padding only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Preview>,
    pub echoed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RawPayload {
    pub why_not_probe: String,
    pub preview: Preview,
}

impl Render for DatagramEvent {
    fn render_human(&self, style: &Style) -> String {
        let what = match (&self.probe, &self.raw) {
            (Some(p), _) if p.end => format!("END of stream {:08x}: {} sent", p.stream, p.seq),
            (Some(p), _) => {
                let tag = match self.arrival {
                    Some(Arrival::Reordered) => style.paint(Paint::Warn, "  reordered"),
                    Some(Arrival::Duplicate) => style.paint(Paint::Warn, "  duplicate"),
                    _ => String::new(),
                };
                // What the sender typed follows the header: show it, as for raw datagrams.
                let text = self
                    .message
                    .as_ref()
                    .map(|m| format!("  {}", m.quoted()))
                    .unwrap_or_default();
                format!("seq {} (stream {:08x}){text}{tag}", p.seq, p.stream)
            }
            (None, Some(r)) => format!("raw {}", r.preview.quoted()),
            (None, None) => String::new(),
        };
        format!(
            "{:>10.3} ms  {} {} {:>5} B  {}{}",
            self.at_ms,
            style.paint(Paint::Client, &self.from),
            style.arrow(),
            self.len,
            what,
            if self.echoed { "  (echoed)" } else { "" }
        )
    }
}

/// One sender's stream of probes.
#[derive(Debug, Clone, Serialize)]
pub struct StreamRow {
    pub peer: String,
    pub stream: String,
    #[serde(flatten)]
    pub summary: StreamSummary,
}

/// One sender's datagrams without netlab's header.
#[derive(Debug, Clone, Serialize)]
pub struct RawRow {
    pub peer: String,
    pub datagrams: u64,
    pub bytes: u64,
}

/// What `netlab udp listen` saw.
#[derive(Debug, Clone, Serialize)]
pub struct ListenReport {
    pub listening_on: String,
    pub seconds: f64,
    /// Every datagram, END markers included.
    pub datagrams: u64,
    pub bytes: u64,
    /// Distinct source addresses.
    pub peers: usize,
    pub echoed: u64,
    pub streams: Vec<StreamRow>,
    pub raw: Vec<RawRow>,
    pub stopped_by: String,
    /// The datagrams themselves (`--json` only; at most 1000).
    pub events: Vec<DatagramEvent>,
    pub events_omitted: u64,
}

/// A bound listener, ready to serve (tests bind first, then learn the port).
#[derive(Debug)]
pub struct Listener {
    port: UdpPort,
    plan: Plan,
}

impl Listener {
    pub fn bind(plan: Plan) -> anyhow::Result<Listener> {
        let port = UdpPort::bind(plan.bind).hinted(
            format!("could not listen on UDP {}", plan.bind),
            "another socket already holds that port, or the address is not this machine's: \
             pick another --port (0 lets the kernel choose) or --bind 127.0.0.1",
        )?;
        Ok(Listener { port, plan })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.port.local_addr()
    }

    /// Receive until stopped; events go to `out`, the summary is returned.
    pub async fn serve(
        self,
        mut stop: Interrupt,
        out: &mut Output,
    ) -> anyhow::Result<ListenReport> {
        let plan = &self.plan;
        let local = self.port.local_addr()?;
        let start = Instant::now();
        let deadline = plan.duration.map(|d| start + d);
        let mut buf = vec![0u8; 65_536];
        let mut t = Tally::default();
        out.event(&ListeningEvent {
            event: "listening",
            addr: local.to_string(),
            echo: plan.echo,
        })?;
        if let Some(r) = reach::reachable(local, crate::wire::transport::Transport::Udp) {
            out.event(&r)?;
        }
        let stopped_by = loop {
            if plan.count.is_some_and(|c| t.counted >= c) {
                break "count";
            }
            let (len, from) = match self
                .port
                .recv_from_until(&mut buf, deadline, &mut stop)
                .await
            {
                Ok(Recv::Datagram { len, from }) => (len, from),
                Ok(Recv::TimedOut) => break "time",
                Ok(Recv::Interrupted) => break "interrupt",
                // Linux reports an ICMP error from an earlier echo (the sender had gone)
                // on the next receive; for a server that is no reason to stop.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(anyhow::Error::new(e).context("receiving a datagram")),
            };
            let arrived_us = start.elapsed().as_micros() as u64;
            let payload = &buf[..len];
            let mut ev = t.receive(payload, from, arrived_us, plan.late_budget_us);
            let is_end = ev.probe.is_some_and(|p| p.end);
            if !is_end {
                t.counted += 1;
                if plan.echo {
                    // Best effort, as UDP is: a failed echo is one lost reply, not a crash.
                    if self.port.send_to(payload, from).await.is_ok() {
                        t.echoed += 1;
                        ev.echoed = true;
                    }
                }
            }
            if !plan.quiet {
                out.event(&ev)?;
            }
            t.list(ev);
            if is_end && plan.stop_after_end {
                break "end";
            }
        };
        let keep_events = out.format() == crate::output::Format::Json;
        Ok(t.report(local, start, stopped_by, keep_events))
    }
}

/// A probe stream is named by its sender and the stream id the sender chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct StreamKey {
    peer: SocketAddr,
    stream: u32,
}

/// Datagrams and bytes from one sender that did not carry netlab's header.
#[derive(Debug, Clone, Copy, Default)]
struct RawCount {
    datagrams: u64,
    bytes: u64,
}

/// What the listener has seen so far, for the report.
#[derive(Default)]
struct Tally {
    streams: BTreeMap<StreamKey, StreamStats>,
    raw: BTreeMap<SocketAddr, RawCount>,
    peers: std::collections::BTreeSet<SocketAddr>,
    datagrams: u64,
    bytes: u64,
    echoed: u64,
    /// Datagrams that count towards `--count` (END markers do not).
    counted: u64,
    events: Vec<DatagramEvent>,
    events_omitted: u64,
}

impl Tally {
    /// Count one datagram and decode it: a probe feeds its stream's statistics (arrival,
    /// loss, reordering), anything else is counted as raw with why it is not a probe.
    fn receive(
        &mut self,
        payload: &[u8],
        from: SocketAddr,
        arrived_us: u64,
        late_budget_us: u64,
    ) -> DatagramEvent {
        let len = payload.len();
        self.datagrams += 1;
        self.bytes += len as u64;
        self.peers.insert(from);
        let mut ev = DatagramEvent {
            event: "datagram",
            at_ms: arrived_us as f64 / 1000.0,
            from: from.to_string(),
            len,
            probe: None,
            arrival: None,
            raw: None,
            message: None,
            echoed: false,
        };
        match probe::Repr::from_bytes(payload) {
            Ok(p) => {
                let key = StreamKey {
                    peer: from,
                    stream: p.stream,
                };
                let s = self
                    .streams
                    .entry(key)
                    .or_insert_with(|| StreamStats::new(late_budget_us));
                if p.end {
                    s.on_end(p.seq);
                } else {
                    ev.arrival = Some(s.on_data(p.seq, p.sent_us, arrived_us, len));
                }
                ev.message = probe_message(payload);
                ev.probe = Some(p);
            }
            Err(e) => {
                let r = self.raw.entry(from).or_default();
                r.datagrams += 1;
                r.bytes += len as u64;
                ev.raw = Some(RawPayload {
                    why_not_probe: e.to_string(),
                    preview: Preview::of(payload, 60),
                });
            }
        }
        ev
    }

    /// Keep the event for the JSON report, up to [`MAX_LISTED`].
    fn list(&mut self, ev: DatagramEvent) {
        if self.events.len() < MAX_LISTED {
            self.events.push(ev);
        } else {
            self.events_omitted += 1;
        }
    }

    fn report(
        self,
        local: SocketAddr,
        start: Instant,
        stopped_by: &str,
        keep_events: bool,
    ) -> ListenReport {
        ListenReport {
            listening_on: local.to_string(),
            seconds: start.elapsed().as_secs_f64(),
            datagrams: self.datagrams,
            bytes: self.bytes,
            peers: self.peers.len(),
            echoed: self.echoed,
            streams: self
                .streams
                .iter()
                .map(|(k, s)| StreamRow {
                    peer: k.peer.to_string(),
                    stream: format!("{:08x}", k.stream),
                    summary: s.summary(),
                })
                .collect(),
            raw: self
                .raw
                .iter()
                .map(|(peer, r)| RawRow {
                    peer: peer.to_string(),
                    datagrams: r.datagrams,
                    bytes: r.bytes,
                })
                .collect(),
            stopped_by: stopped_by.to_owned(),
            events: if keep_events { self.events } else { Vec::new() },
            events_omitted: self.events_omitted,
        }
    }
}

/// The message a probe carries after its header: `udp send` writes MESSAGE there and pads
/// with zero bytes up to `--size`, so the padding is not part of it.
fn probe_message(payload: &[u8]) -> Option<Preview> {
    let after = payload.get(probe::HEADER_LEN..)?;
    let end = after.iter().rposition(|&b| b != 0)? + 1;
    Some(Preview::of(&after[..end], 60))
}

pub async fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let listener = Listener::bind(plan)?;
    let report = listener.serve(Interrupt::on_ctrl_c(), out).await?;
    out.report(&report)?;
    Ok(())
}

/// The per-stream table, shared with the demo.
pub fn streams_table(style: &Style, rows: &[StreamRow]) -> String {
    let mut t = style.table();
    t.set_header(vec![
        "from",
        "stream",
        "received",
        "expected",
        "lost",
        "dup",
        "reordered",
        "late",
        "jitter (ms)",
        "END seen",
    ]);
    for r in rows {
        let s = &r.summary;
        t.add_row(vec![
            r.peer.clone(),
            r.stream.clone(),
            s.received.to_string(),
            s.expected.to_string(),
            s.lost.to_string(),
            s.duplicates.to_string(),
            s.reordered.to_string(),
            s.late.to_string(),
            format!("{:.3}", s.jitter_ms),
            if s.end_seen { "yes" } else { "no" }.to_owned(),
        ]);
    }
    t.to_string()
}

impl Render for ListenReport {
    fn render_human(&self, style: &Style) -> String {
        let mut s = format!(
            "{} on {} for {:.1} s: {} datagrams, {} bytes, from {} peer{}; stopped by {}.\n",
            style.paint(Paint::Bold, "Listened"),
            self.listening_on,
            self.seconds,
            self.datagrams,
            self.bytes,
            self.peers,
            if self.peers == 1 { "" } else { "s" },
            self.stopped_by,
        );
        if self.echoed > 0 {
            s.push_str(&format!(
                "Echoed {} datagrams back to their senders.\n",
                self.echoed
            ));
        }
        if !self.streams.is_empty() {
            s.push_str("\nnetlab probe streams (counted by sequence number):\n");
            s.push_str(&streams_table(style, &self.streams));
            s.push_str(
                "\nlost = expected - distinct received; expected comes from the highest sequence \
                 number, or the sender's END datagram. late = transit exceeded the fastest \
                 by more than the playout budget. jitter: RFC 3550 §6.4.1.\n",
            );
            if self.streams.iter().any(|r| !r.summary.end_seen) {
                s.push_str(
                    "A stream without its END datagram may have lost datagrams at its tail \
                     that no receiver can know about.\n",
                );
            }
        }
        if !self.raw.is_empty() {
            s.push_str("\nDatagrams without netlab's header (shown raw, not counted for loss):\n");
            let mut t = style.table();
            t.set_header(vec!["from", "datagrams", "bytes"]);
            for r in &self.raw {
                t.add_row(vec![
                    r.peer.clone(),
                    r.datagrams.to_string(),
                    r.bytes.to_string(),
                ]);
            }
            s.push_str(&t.to_string());
            s.push('\n');
        }
        if self.datagrams == 0 {
            s.push_str(
                "No datagram arrived. UDP has no connection: nothing tells a listener that \
                         a sender tried, or a sender that nobody listened.\n",
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_datagram_line_shows_source_and_length() {
        let ev = DatagramEvent {
            event: "datagram",
            at_ms: 1.5,
            from: "127.0.0.1:40000".into(),
            len: 25,
            probe: Some(probe::Repr {
                stream: 0xab,
                seq: 3,
                sent_us: 0,
                end: false,
            }),
            arrival: Some(Arrival::Reordered),
            raw: None,
            message: None,
            echoed: true,
        };
        let line = ev.render_human(&Style::plain());
        assert_eq!(
            line,
            "     1.500 ms  127.0.0.1:40000 →    25 B  seq 3 (stream 000000ab)  reordered  (echoed)"
        );
        let raw = DatagramEvent {
            probe: None,
            arrival: None,
            raw: Some(RawPayload {
                why_not_probe: "x".into(),
                preview: Preview::of(b"hello", 60),
            }),
            echoed: false,
            ..ev.clone()
        };
        assert!(raw
            .render_human(&Style::plain())
            .ends_with("127.0.0.1:40000 →    25 B  raw \"hello\""));
        // A probe with a message shows the message too (`udp send ADDR hello`).
        let with_text = DatagramEvent {
            message: Some(Preview::of(b"hello", 60)),
            arrival: None,
            echoed: false,
            ..ev
        };
        assert!(with_text
            .render_human(&Style::plain())
            .ends_with("seq 3 (stream 000000ab)  \"hello\""));
    }

    #[test]
    fn a_probes_message_is_what_follows_the_header_without_padding() {
        let mut d = vec![0u8; probe::HEADER_LEN];
        assert_eq!(probe_message(&d), None, "header only");
        d.extend_from_slice(b"hi\n\0\0\0");
        assert_eq!(probe_message(&d).unwrap().to_string(), "hi\\n");
        assert_eq!(probe_message(b"short"), None);
    }

    #[test]
    fn plan_validates_durations() {
        let args = |seconds: Option<f64>, late_ms: f64| ListenArgs {
            bind: "127.0.0.1".parse().unwrap(),
            port: 0,
            echo: false,
            count: None,
            seconds,
            late_ms,
            quiet: false,
        };
        assert!(Plan::try_from(&args(Some(1.0), 50.0)).is_ok());
        assert!(Plan::try_from(&args(Some(-1.0), 50.0)).is_err());
        assert!(Plan::try_from(&args(None, f64::NAN)).is_err());
    }
}
