//! `netlab udp send`: datagrams out, replies (or silence) back, always within a time limit.

use super::{new_stream_id, Preview};
use crate::cli::udp::SendArgs;
use crate::error::{usage, HintExt, Hinted};
use crate::net::udp::{
    any_for, max_payload, sleep_until, Interrupt, Recv, UdpPort, MAX_PAYLOAD_V6,
};
use crate::net::Endpoint;
use crate::output::{Output, Paint, Render, Style};
use crate::wire::measure::probe;
use serde::Serialize;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A validated `netlab udp send`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub to: Endpoint,
    pub message: Vec<u8>,
    pub count: u32,
    /// Total UDP payload per datagram.
    pub size: usize,
    pub gap: Option<Duration>,
    pub wait: Duration,
    pub raw: bool,
    pub quiet: bool,
}

impl TryFrom<&SendArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: &SendArgs) -> anyhow::Result<Plan> {
        let message = a.message.as_bytes().to_vec();
        let natural = if a.raw { 0 } else { probe::HEADER_LEN } + message.len();
        let size = a.size.unwrap_or(natural);
        if size < natural {
            return Err(usage(
                format!(
                    "--size {size} cannot hold {}the {}-byte message",
                    if a.raw {
                        ""
                    } else {
                        "netlab's 20-byte header and "
                    },
                    message.len()
                ),
                format!("use --size {natural} or more, or a shorter message"),
            ));
        }
        if size > MAX_PAYLOAD_V6 {
            return Err(too_big(size, MAX_PAYLOAD_V6));
        }
        if a.count == 0 || a.count == u32::MAX {
            return Err(usage(
                format!("--count {} is not a number of datagrams to send", a.count),
                "give --count 1 or more",
            ));
        }
        let gap = match a.rate {
            None => None,
            Some(r) if r.is_finite() && r > 0.0 && r <= 10_000_000.0 => {
                Some(Duration::from_secs_f64(1.0 / r))
            }
            Some(r) => {
                return Err(usage(
                    format!("--rate {r} is not a rate netlab can send at"),
                    "give --rate a number of datagrams per second above 0, e.g. --rate 10",
                ))
            }
        };
        if a.wait_ms > 60_000 {
            return Err(usage(
                format!("--wait-ms {} is more than a minute", a.wait_ms),
                "give --wait-ms at most 60000",
            ));
        }
        Ok(Plan {
            to: a.to.clone(),
            message,
            count: a.count,
            size,
            gap,
            wait: Duration::from_millis(a.wait_ms),
            raw: a.raw,
            quiet: a.quiet,
        })
    }
}

fn too_big(size: usize, max: usize) -> anyhow::Error {
    usage(
        format!("a {size}-byte datagram is larger than UDP can carry here (at most {max} bytes)"),
        "UDP's length field and the IP packet's 16-bit length cap a datagram at 65,507 bytes \
         of payload over IPv4 (65,535 - 20 IP - 8 UDP) and 65,527 over IPv6; send less, or \
         split the data over several datagrams",
    )
}

const BROADCAST_HINT: &str = "the kernel refuses a broadcast address unless the socket sets \
     SO_BROADCAST, which netlab does not: address one host instead";

/// One datagram sent.
#[derive(Debug, Clone, Serialize)]
pub struct SentEvent {
    pub event: &'static str,
    pub at_ms: f64,
    pub to: String,
    pub len: usize,
    /// The probe sequence number (none with `--raw`).
    pub seq: Option<u32>,
    pub end: bool,
}

impl Render for SentEvent {
    fn render_human(&self, style: &Style) -> String {
        let what = match (self.end, self.seq) {
            (true, Some(n)) => format!("END ({n} sent)"),
            (false, Some(n)) => format!("seq {n}"),
            _ => "raw".to_owned(),
        };
        format!(
            "{:>10.3} ms  sent {:>5} B {} {}  {}",
            self.at_ms,
            self.len,
            style.arrow(),
            style.paint(Paint::Server, &self.to),
            what
        )
    }
}

/// One reply received.
#[derive(Debug, Clone, Serialize)]
pub struct ReplyEvent {
    pub event: &'static str,
    pub at_ms: f64,
    pub from: String,
    pub len: usize,
    /// If the reply echoes one of our probes: its sequence number and the round trip.
    pub seq: Option<u32>,
    pub rtt_ms: Option<f64>,
    pub preview: Preview,
}

impl Render for ReplyEvent {
    fn render_human(&self, style: &Style) -> String {
        let what = match (self.seq, self.rtt_ms) {
            (Some(n), Some(rtt)) => format!("echo of seq {n}, round trip {rtt:.3} ms"),
            _ => self.preview.quoted(),
        };
        format!(
            "{:>10.3} ms  reply {:>4} B from {}  {}",
            self.at_ms,
            self.len,
            style.paint(Paint::Server, &self.from),
            what
        )
    }
}

/// What `netlab udp send` did and heard.
#[derive(Debug, Clone, Serialize)]
pub struct SendReport {
    pub to: String,
    pub from: String,
    /// The stream id in every probe header (none with `--raw`).
    pub stream: Option<String>,
    pub sent: u32,
    pub bytes_per_datagram: usize,
    pub replies: u64,
    /// The kernel reported ICMP port unreachable: nothing listens there.
    pub refused: bool,
    /// How long it waited for replies after the last datagram (at most `--wait-ms`).
    pub waited_ms: u64,
    pub wait_limit_ms: u64,
    pub rtt_min_ms: Option<f64>,
    pub rtt_max_ms: Option<f64>,
    pub verdict: String,
    /// Every send and reply (`--json` only).
    pub events: Vec<serde_json::Value>,
}

const SILENCE: &str = "No reply. UDP has no connection and no acknowledgement: silence is a legal \
     answer. The datagrams may have arrived and been ignored, or been lost; the sender cannot \
     tell which.";
const REFUSED: &str = "Connection refused: the destination's kernel answered with ICMP \
     \"port unreachable\" (type 3, code 3), so nothing listens on that port. The socket is \
     connected, which is why the kernel passed that ICMP error on to it.";

impl Render for SendReport {
    fn render_human(&self, style: &Style) -> String {
        let mut s = format!(
            "{} {} datagram{} of {} B from {} to {}",
            style.paint(Paint::Bold, "Sent"),
            self.sent,
            if self.sent == 1 { "" } else { "s" },
            self.bytes_per_datagram,
            self.from,
            self.to
        );
        if let Some(id) = &self.stream {
            s.push_str(&format!(" (probe stream {id})"));
        }
        s.push_str(&format!(
            "; {} repl{} (waiting up to {} ms after the last one).\n",
            self.replies,
            if self.replies == 1 { "y" } else { "ies" },
            self.wait_limit_ms
        ));
        if let (Some(lo), Some(hi)) = (self.rtt_min_ms, self.rtt_max_ms) {
            s.push_str(&format!("Round trips: {lo:.3} to {hi:.3} ms.\n"));
        }
        let paint = if self.replies > 0 {
            Paint::Good
        } else {
            Paint::Warn
        };
        s.push_str(&style.paint(paint, &self.verdict));
        s.push('\n');
        s
    }
}

pub async fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let report = exchange(&plan, Interrupt::on_ctrl_c(), out).await?;
    out.report(&report)?;
    if report.refused {
        // The report says what happened; the exit code says it to scripts: the datagrams
        // left, but the destination said nothing listens there (silence is not this).
        return Err(refused_error(&report.to));
    }
    Ok(())
}

/// `udp send` heard ICMP port unreachable: exit 1, with what to do about it.
fn refused_error(to: &str) -> anyhow::Error {
    let port = to
        .parse::<SocketAddr>()
        .map_or_else(|_| "PORT".to_owned(), |a| a.port().to_string());
    Hinted::failure(format!(
        "{to} answered with ICMP port unreachable: nothing listens on that port"
    ))
    .with_hint(format!(
        "start a listener there first (`netlab udp listen --port {port}`), or check the port"
    ))
    .into()
}

/// Resolve, send, wait for replies; events go to `out`.
pub async fn exchange(
    plan: &Plan,
    stop: Interrupt,
    out: &mut Output,
) -> anyhow::Result<SendReport> {
    let (to, sock) = open_socket(plan).await?;
    let from = sock.local_addr()?;
    let mut buf = vec![0u8; plan.size];
    let body_at = if plan.raw { 0 } else { probe::HEADER_LEN };
    buf[body_at..body_at + plan.message.len()].copy_from_slice(&plan.message);
    let mut x = Exchange {
        keep_events: out.format() == crate::output::Format::Json,
        plan,
        out,
        stop,
        sock,
        to,
        stream: new_stream_id(),
        start: Instant::now(),
        rbuf: vec![0u8; 65_536],
        sent: 0,
        replies: 0,
        rtts: Vec::new(),
        refused: false,
        events: Vec::new(),
    };

    for seq in 0..=plan.count {
        let end = seq == plan.count;
        if end && plan.raw {
            break;
        }
        if let Some(gap) = plan.gap {
            if !sleep_until(x.start + gap * seq, &mut x.stop).await {
                break;
            }
        }
        if x.stop.is_set() {
            break;
        }
        x.send_one(seq, end, &mut buf).await?;
        if x.refused {
            break;
        }
        // Collect replies already waiting, without blocking the sending schedule.
        while !x.refused && x.recv_reply(Instant::now()).await? {}
        if x.refused {
            break;
        }
    }

    // Then wait, at most `wait`, for the rest.
    let wait_start = Instant::now();
    let deadline = wait_start + plan.wait;
    while !x.refused && x.replies < u64::from(x.sent) && x.recv_reply(deadline).await? {}
    Ok(SendReport {
        to: to.to_string(),
        from: from.to_string(),
        stream: (!plan.raw).then(|| format!("{:08x}", x.stream)),
        sent: x.sent,
        bytes_per_datagram: plan.size,
        replies: x.replies,
        refused: x.refused,
        waited_ms: wait_start.elapsed().as_millis() as u64,
        wait_limit_ms: plan.wait.as_millis() as u64,
        rtt_min_ms: x.rtts.iter().copied().reduce(f64::min),
        rtt_max_ms: x.rtts.iter().copied().reduce(f64::max),
        verdict: verdict(x.refused, x.replies, x.sent),
        events: x.events,
    })
}

/// Resolve the destination and open a UDP socket connected to it.
async fn open_socket(plan: &Plan) -> anyhow::Result<(SocketAddr, UdpPort)> {
    let to: SocketAddr = plan.to.resolve().await?[0];
    let max = max_payload(&to);
    if plan.size > max {
        return Err(too_big(plan.size, max));
    }
    let sock = UdpPort::bind(any_for(&to)).failed("could not open a UDP socket")?;
    // Connected: only `to` may answer, and an ICMP port unreachable from it is reported
    // to us as ECONNREFUSED instead of being dropped.
    if let Err(e) = sock.connect(to).await {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
            BROADCAST_HINT
        } else {
            "check the address: is it reachable from here?"
        };
        return Err(e).hinted(format!("could not address {to}"), hint);
    }
    Ok((to, sock))
}

/// One `udp send` under way: the connected socket, and what has come back so far.
struct Exchange<'a> {
    plan: &'a Plan,
    out: &'a mut Output,
    stop: Interrupt,
    sock: UdpPort,
    to: SocketAddr,
    /// The probe stream id our datagrams carry, to recognise their echoes.
    stream: u32,
    start: Instant,
    rbuf: Vec<u8>,
    sent: u32,
    replies: u64,
    rtts: Vec<f64>,
    /// The kernel reported ICMP port unreachable (ECONNREFUSED).
    refused: bool,
    /// The first 1000 events, for the JSON report (kept only for JSON output).
    events: Vec<serde_json::Value>,
    keep_events: bool,
}

impl Exchange<'_> {
    fn note(&mut self, ev: serde_json::Value) {
        if self.keep_events && self.events.len() < 1000 {
            self.events.push(ev);
        }
    }

    /// Send datagram `seq` (the END marker when `end`), numbered and timestamped unless
    /// raw, and report it. A refusal sets `refused` instead of failing.
    async fn send_one(&mut self, seq: u32, end: bool, buf: &mut [u8]) -> anyhow::Result<()> {
        let (plan, to) = (self.plan, self.to);
        let sent_us = self.start.elapsed().as_micros() as u64;
        let len = if end { probe::HEADER_LEN } else { plan.size };
        if !plan.raw {
            // The buffer is at least a header long (checked in the plan).
            probe::Repr {
                stream: self.stream,
                seq,
                sent_us,
                end,
            }
            .emit(buf)?;
        }
        match self.sock.send(&buf[..len]).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                self.refused = true;
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(anyhow::Error::new(e).context(
                    Hinted::failure(format!("could not send datagram {seq} to {to}"))
                        .with_hint(BROADCAST_HINT),
                ))
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(Hinted::failure(format!(
                    "could not send datagram {seq} to {to}"
                ))))
            }
        }
        if !end {
            self.sent += 1;
        }
        let ev = SentEvent {
            event: "sent",
            at_ms: sent_us as f64 / 1000.0,
            to: to.to_string(),
            len,
            seq: (!plan.raw).then_some(seq),
            end,
        };
        if !plan.quiet {
            self.out.event(&ev)?;
        }
        self.note(serde_json::to_value(&ev)?);
        Ok(())
    }

    /// Wait until `deadline` for one reply and report it. `false`: nothing came (or the
    /// wait was interrupted); a refusal sets `refused`.
    async fn recv_reply(&mut self, deadline: Instant) -> anyhow::Result<bool> {
        match self
            .sock
            .recv_from_until(&mut self.rbuf, Some(deadline), &mut self.stop)
            .await
        {
            Ok(Recv::Datagram { len, from }) => {
                let ev = reply_event(&self.rbuf[..len], from, self.start, self.stream);
                self.replies += 1;
                self.rtts.extend(ev.rtt_ms);
                if !self.plan.quiet {
                    self.out.event(&ev)?;
                }
                self.note(serde_json::to_value(&ev)?);
                Ok(true)
            }
            Ok(_) => Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                self.refused = true;
                Ok(true)
            }
            Err(e) => Err(anyhow::Error::new(e).context("receiving a reply")),
        }
    }
}

/// The report's last line: refused, silence, some replies lost, or all answered.
fn verdict(refused: bool, replies: u64, sent: u32) -> String {
    if refused {
        REFUSED.to_owned()
    } else if replies == 0 {
        SILENCE.to_owned()
    } else if replies < u64::from(sent) {
        format!(
            "{} of {sent} datagrams got a reply. The rest (or their replies) were lost or \
             ignored: UDP does not retransmit.",
            replies
        )
    } else {
        "Every datagram got a reply.".to_owned()
    }
}

fn reply_event(payload: &[u8], from: SocketAddr, start: Instant, stream: u32) -> ReplyEvent {
    let now_us = start.elapsed().as_micros() as u64;
    let echo = probe::Repr::from_bytes(payload)
        .ok()
        .filter(|p| p.stream == stream && !p.end);
    ReplyEvent {
        event: "reply",
        at_ms: now_us as f64 / 1000.0,
        from: from.to_string(),
        len: payload.len(),
        seq: echo.map(|p| p.seq),
        rtt_ms: echo.map(|p| now_us.saturating_sub(p.sent_us) as f64 / 1000.0),
        preview: Preview::of(payload, 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(message: &str, size: Option<usize>, raw: bool) -> SendArgs {
        SendArgs {
            to: "127.0.0.1:9".parse().unwrap(),
            message: message.into(),
            count: 1,
            size,
            rate: None,
            wait_ms: 100,
            raw,
            quiet: false,
        }
    }

    #[test]
    fn size_must_hold_header_and_message() {
        assert_eq!(
            Plan::try_from(&args("hello", None, false)).unwrap().size,
            25
        );
        assert_eq!(Plan::try_from(&args("hello", None, true)).unwrap().size, 5);
        assert!(Plan::try_from(&args("hello", Some(24), false)).is_err());
        assert!(Plan::try_from(&args("hello", Some(65_527), false)).is_ok());
        let e = Plan::try_from(&args("hello", Some(65_528), false)).unwrap_err();
        assert!(e.to_string().contains("65527"), "{e}");
    }
}
