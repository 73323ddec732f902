//! `netlab udp demo`: both ends in one process, five short experiments that show what
//! UDP promises (message boundaries) and what it does not (delivery, order, feedback).

use super::listen::{self, Listener, StreamRow};
use super::tcp_loss::{self, NotShown, Outcome, TcpUnderLoss};
use super::{relay, send};
use crate::cli::udp::DemoArgs;
use crate::error::{usage, HintExt};
use crate::net::runtime::{runtime, Runtime};
use crate::net::udp::{
    closed_port, datagrams_over_loopback, errno_name, send_to_closed_port, DatagramRun, Interrupt,
    RefusedOutcome, MAX_PAYLOAD_V4, MAX_PAYLOAD_V6,
};
use crate::net::Endpoint;
use crate::output::{Format, Output, Paint, Render, Step, Style, Timeline};
use crate::wire::measure::impair::Impairment;
use crate::wire::Role;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// Sizes sent in part 1: each `send_to` is one datagram, whatever its size.
const BOUNDARY_SIZES: [usize; 3] = [5, 300, 1200];
/// Part 2: a datagram larger than the receive buffer.
const TRUNC_SENT: usize = 100;
const TRUNC_BUF: usize = 16;
/// Part 5: the relay's loss, and nftables' for the TCP half (a whole percentage).
const LOSS_PERCENT: f64 = 20.0;
const TCP_LOSS_PERCENT: u32 = 20;
/// Part 5: bytes per probe (netlab's header and "probe"); the TCP messages are as long.
const PROBE_SIZE: usize = crate::wire::measure::probe::HEADER_LEN + 5;
/// Part 5's TCP half runs for at most this many messages, to stay within seconds.
const TCP_MAX_MESSAGES: u32 = 1000;
/// Every receive in the demo gives up after this long.
const WAIT: Duration = Duration::from_secs(2);
/// How long part 4 waits for an ICMP error on the unconnected socket (it never comes).
const UNCONNECTED_WAIT: Duration = Duration::from_millis(300);

/// A validated `netlab udp demo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub seed: u64,
    pub probes: u32,
}

impl TryFrom<&DemoArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: &DemoArgs) -> anyhow::Result<Plan> {
        if a.probes == 0 || a.probes > 100_000 {
            return Err(usage(
                format!("--probes {} is out of range", a.probes),
                "give --probes a number from 1 to 100000",
            ));
        }
        Ok(Plan {
            seed: a.seed,
            probes: a.probes,
        })
    }
}

/// What a byte stream did with the same writes, for the side-by-side view. netlab's TCP
/// lab fills this in (`cmd::tcp`); the UDP demo leaves it empty when that lab is absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamComparison {
    pub protocol: String,
    /// Bytes per write, in order.
    pub writes: Vec<usize>,
    /// Bytes per read, in order: a stream is free to merge or split the writes.
    pub reads: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BoundaryPart {
    pub run: DatagramRun,
    /// Bytes per `send_to` and per `recv_from`.
    pub sends: Vec<usize>,
    pub receives: Vec<usize>,
    /// Every send arrived as exactly one receive of the same length.
    pub one_to_one: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TruncationPart {
    pub run: DatagramRun,
    pub buffer: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SizeLimitPart {
    pub max_ipv4: usize,
    pub max_ipv6: usize,
    pub run: DatagramRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefusedPart {
    pub port: u16,
    pub connected: RefusedOutcome,
    pub unconnected: RefusedOutcome,
}

#[derive(Debug, Clone, Serialize)]
pub struct LossPart {
    pub seed: u64,
    pub loss_percent: f64,
    pub sent: u32,
    pub relay_dropped: u64,
    pub receiver: Option<StreamRow>,
    /// The same number of messages over TCP while nftables dropped the same share of
    /// segments, in a network namespace of its own (needs root or a user namespace).
    pub tcp_under_loss: Option<TcpUnderLoss>,
    /// Why the TCP half is missing, when it is.
    pub tcp_not_shown: Option<NotShown>,
    pub tcp_note: &'static str,
}

/// Everything the demo showed.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub boundaries: BoundaryPart,
    /// The TCP lab's result for the same writes, when available.
    pub tcp_comparison: Option<StreamComparison>,
    pub truncation: TruncationPart,
    pub size_limit: SizeLimitPart,
    pub refused: RefusedPart,
    pub loss: LossPart,
    pub timeline: Timeline,
}

impl DemoReport {
    /// Attach a byte stream's result for the same writes (the integrator's hook for the
    /// TCP lab: `report.with_tcp_comparison(cmd::tcp::...)`).
    pub fn with_tcp_comparison(mut self, c: StreamComparison) -> DemoReport {
        self.tcp_comparison = Some(c);
        self
    }

    /// Attach the TCP half of part 5 (or why it could not be shown).
    pub fn with_tcp_under_loss(mut self, o: Outcome) -> DemoReport {
        match o {
            Outcome::Measured(m) => self.loss.tcp_under_loss = Some(*m),
            Outcome::NotShown(n) => self.loss.tcp_not_shown = Some(n),
        }
        self
    }
}

const TCP_NOTE: &str = "The relay carries UDP only, so TCP's half runs elsewhere: netlab \
     starts itself again in a new network namespace (its own loopback, firewall and counters; \
     the machine's loopback is never touched), where an nftables rule in the input hook drops \
     the same share of the TCP segments going to the receiver (`numgen random`: unseeded, so \
     each run drops different segments), and the namespace's kernel counts what TCP \
     retransmitted (`RetransSegs` in /proc/net/snmp). Making the namespace needs root, or a \
     kernel that lets users make user namespaces.";

fn payload(len: usize, fill: u8) -> Vec<u8> {
    vec![fill; len]
}

/// Run the four socket experiments (blocking, each bounded) and the relay experiment.
pub fn demo(plan: &Plan) -> anyhow::Result<DemoReport> {
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let fail = |what: &str| format!("udp demo: {what}");

    // 1. Boundaries.
    let sizes: Vec<Vec<u8>> = BOUNDARY_SIZES.iter().map(|&n| payload(n, b'a')).collect();
    let run = datagrams_over_loopback(lo, &sizes, 65_536, WAIT).failed(fail("boundaries"))?;
    let sends: Vec<usize> = run.sent.iter().map(|s| s.len).collect();
    let receives: Vec<usize> = run.received.iter().map(|r| r.datagram_len).collect();
    let one_to_one = sends == receives && run.received.iter().all(|r| !r.truncated);
    let boundaries = BoundaryPart {
        run,
        sends,
        receives,
        one_to_one,
    };

    // 2. Truncation.
    let trunc_msg: Vec<u8> = (0..TRUNC_SENT).map(|i| b'A' + (i % 26) as u8).collect();
    let truncation = TruncationPart {
        run: datagrams_over_loopback(lo, &[trunc_msg], TRUNC_BUF, WAIT)
            .failed(fail("truncation"))?,
        buffer: TRUNC_BUF,
    };

    // 3. The size limit.
    let limit = vec![
        payload(MAX_PAYLOAD_V4, b'x'),
        payload(MAX_PAYLOAD_V4 + 1, b'x'),
    ];
    let size_limit = SizeLimitPart {
        max_ipv4: MAX_PAYLOAD_V4,
        max_ipv6: MAX_PAYLOAD_V6,
        run: datagrams_over_loopback(lo, &limit, 65_536, WAIT).failed(fail("size limit"))?,
    };

    // 4. Nothing listening.
    let dead = closed_port(lo).failed(fail("finding a closed port"))?;
    let refused = RefusedPart {
        port: dead.port(),
        connected: send_to_closed_port(dead, true, WAIT).failed(fail("connected send"))?,
        unconnected: send_to_closed_port(dead, false, UNCONNECTED_WAIT)
            .failed(fail("unconnected send"))?,
    };

    // 5. Loss through the relay.
    let loss = runtime(Runtime::CurrentThread)?.block_on(loss_through_relay(plan))?;

    let timeline = timeline(&boundaries, &truncation, &size_limit, &refused);
    Ok(DemoReport {
        boundaries,
        tcp_comparison: None,
        truncation,
        size_limit,
        refused,
        loss,
        timeline,
    })
}

fn silent_output() -> Output {
    Output::new(
        Format::Human,
        Style::plain(),
        Box::new(std::io::sink()),
        Box::new(std::io::sink()),
    )
}

async fn loss_through_relay(plan: &Plan) -> anyhow::Result<LossPart> {
    let lplan = listen::Plan {
        bind: "127.0.0.1:0".parse()?,
        echo: false,
        count: None,
        duration: Some(Duration::from_secs(30)),
        late_budget_us: 50_000,
        quiet: true,
        stop_after_end: true,
    };
    let listener = Listener::bind(lplan)?;
    let laddr = listener.local_addr()?;
    let rplan = relay::Plan {
        listen: "127.0.0.1:0".parse()?,
        to: Endpoint {
            host: laddr.ip().to_string(),
            port: laddr.port(),
        },
        impairment: Impairment {
            loss: LOSS_PERCENT / 100.0,
            ..Impairment::default()
        },
        seed: plan.seed,
        count: None,
        duration: Some(Duration::from_secs(30)),
        quiet: true,
    };
    let r = relay::bind(&rplan).await?;
    let raddr = r.local_addr()?;
    let splan = send::Plan {
        to: Endpoint {
            host: raddr.ip().to_string(),
            port: raddr.port(),
        },
        message: b"probe".to_vec(),
        count: plan.probes,
        size: PROBE_SIZE,
        // Paced, so no socket buffer overflows: every loss here is the relay's.
        gap: Some(Duration::from_micros(500)),
        wait: Duration::ZERO,
        raw: false,
        quiet: true,
    };
    let (relay_trigger, relay_stop) = Interrupt::manual();
    let (mut o1, mut o2, mut o3) = (silent_output(), silent_output(), silent_output());
    let listened = async {
        let r = listener.serve(Interrupt::never(), &mut o1).await;
        relay_trigger.fire();
        r
    };
    let (lr, rr, sr) = tokio::join!(
        listened,
        relay::serve(&rplan, r, relay_stop, &mut o2),
        send::exchange(&splan, Interrupt::never(), &mut o3)
    );
    let (lr, rr, sr) = (lr?, rr?, sr?);
    Ok(LossPart {
        seed: plan.seed,
        loss_percent: LOSS_PERCENT,
        sent: sr.sent,
        relay_dropped: rr.counters.dropped,
        receiver: lr.streams.into_iter().next(),
        tcp_under_loss: None,
        tcp_not_shown: None,
        tcp_note: TCP_NOTE,
    })
}

fn timeline(b: &BoundaryPart, t: &TruncationPart, s: &SizeLimitPart, r: &RefusedPart) -> Timeline {
    let mut tl = Timeline::default();
    for (sent, got) in b.sends.iter().zip(&b.receives) {
        tl.push(Step::send(
            None,
            Role::Client,
            format!("sendto({sent} B)"),
            format!("datagram {sent} B"),
        ));
        tl.push(Step::local(
            None,
            Role::Server,
            format!("recvfrom → {got} B"),
        ));
    }
    if let Some(got) = t.run.received.first() {
        tl.push(Step::send(
            None,
            Role::Client,
            format!("sendto({} B)", got.datagram_len),
            format!("{} B", got.datagram_len),
        ));
        tl.push(Step::local(
            None,
            Role::Server,
            format!(
                "recvfrom(buf {}) → {} B{}",
                t.buffer,
                got.copied,
                if got.truncated { ", MSG_TRUNC" } else { "" }
            ),
        ));
    }
    for (i, sent) in s.run.sent.iter().enumerate() {
        match &sent.error {
            None => {
                tl.push(Step::send(
                    None,
                    Role::Client,
                    format!("sendto({} B)", sent.len),
                    format!("{} B", sent.len),
                ));
                if let Some(got) = s.run.received.get(i) {
                    tl.push(Step::local(
                        None,
                        Role::Server,
                        format!("recvfrom → {} B", got.datagram_len),
                    ));
                }
            }
            Some(_) => tl.push(Step::local(
                None,
                Role::Client,
                format!(
                    "sendto({} B) ✗ {}",
                    sent.len,
                    sent.errno.map_or("error", errno_name)
                ),
            )),
        }
    }
    tl.push(Step::send(
        None,
        Role::Client,
        "connect(); send(13 B)",
        "13 B",
    ));
    tl.push(Step::send(
        None,
        Role::Server,
        format!("no socket on :{}", r.port),
        "ICMP port unreachable",
    ));
    tl.push(Step::local(
        None,
        Role::Client,
        match r.connected.errno {
            Some(e) => format!("recv ✗ {}", errno_name(e)),
            None => format!("recv → {}", r.connected.next_recv),
        },
    ));
    tl
}

pub fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let report = demo(&plan)?;
    // The same writes over TCP, for the side-by-side table: a stream may merge them.
    let writes: Vec<Vec<u8>> = BOUNDARY_SIZES.iter().map(|&n| payload(n, b'a')).collect();
    let reads = runtime(Runtime::CurrentThread)?
        .block_on(crate::cmd::tcp::same_writes_over_tcp(&writes, WAIT))
        .map_err(|e| e.context("udp demo: the TCP comparison"))?;
    let report = report.with_tcp_comparison(StreamComparison {
        protocol: "TCP".into(),
        writes: BOUNDARY_SIZES.to_vec(),
        reads,
    });
    // Part 5's TCP half: the same number of messages through nftables' loss.
    let outcome = if plan.probes > TCP_MAX_MESSAGES {
        Outcome::NotShown(NotShown {
            reason: format!(
                "--probes {} is above {TCP_MAX_MESSAGES}: the TCP half runs only for up to \
                 {TCP_MAX_MESSAGES} messages, to stay within seconds",
                plan.probes
            ),
            hint: format!("run the demo with --probes {TCP_MAX_MESSAGES} or fewer"),
        })
    } else {
        tcp_loss::measure_in_namespace(&tcp_plan(plan.probes))?
    };
    let report = report.with_tcp_under_loss(outcome);
    out.report(&report)?;
    Ok(())
}

/// The TCP half's plan: as many messages as probes, each as long as a probe, paced as the
/// probes were; each transfer may take 25 s plus 3 ms per message before it counts as
/// hung. Linux's first retransmission timeout is at least 200 ms and doubles on each
/// repeat, so one segment dropped 6 times in a row (at 20%, 1 in 15,625) already costs
/// 12.6 s: the bound is for a transfer that is really stuck, not for bad luck.
fn tcp_plan(messages: u32) -> tcp_loss::Plan {
    tcp_loss::Plan {
        messages,
        size: PROBE_SIZE,
        loss_percent: TCP_LOSS_PERCENT,
        gap: Duration::from_micros(500),
        limit: Duration::from_millis(25_000 + 3 * u64::from(messages)),
    }
}

fn yes(style: &Style, ok: bool, text: &str) -> String {
    style.paint(if ok { Paint::Good } else { Paint::Bad }, text)
}

/// A part's heading, in bold.
fn heading(style: &Style, t: &str) -> String {
    style.paint(Paint::Bold, t)
}

impl Render for DemoReport {
    fn render_human(&self, style: &Style) -> String {
        let mut s = String::new();
        s.push_str(&heading(
            style,
            "UDP, seen from both ends (one process, loopback)",
        ));
        s.push_str("\n\n");
        s.push_str(&self.timeline.render(style));
        self.write_boundaries(style, &mut s);
        self.write_truncation(style, &mut s);
        self.write_size_limit(style, &mut s);
        self.write_refused(style, &mut s);
        self.write_loss(style, &mut s);
        s
    }
}

impl DemoReport {
    /// Part 1: each send_to arrives as exactly one recv_from; TCP's reads beside it.
    fn write_boundaries(&self, style: &Style, s: &mut String) {
        let b = &self.boundaries;
        s.push_str(&format!(
            "\n{}\n",
            heading(style, "1. Each send_to arrives as exactly one recv_from")
        ));
        let mut t = style.table();
        t.set_header(vec![
            "protocol",
            "bytes per send/write",
            "bytes per receive/read",
            "boundaries kept",
        ]);
        t.add_row(vec![
            "UDP (datagrams)".to_owned(),
            format!("{:?}", b.sends),
            format!("{:?}", b.receives),
            yes(style, b.one_to_one, if b.one_to_one { "yes" } else { "NO" }),
        ]);
        match &self.tcp_comparison {
            Some(c) => {
                let same = c.writes == c.reads;
                t.add_row(vec![
                    format!("{} (byte stream)", c.protocol),
                    format!("{:?}", c.writes),
                    format!("{:?}", c.reads),
                    if same {
                        "by chance".to_owned()
                    } else {
                        "no: merged or split".to_owned()
                    },
                ]);
            }
            None => {
                t.add_row(vec![
                    "TCP (byte stream)".to_owned(),
                    "same writes".to_owned(),
                    "see `netlab tcp demo`".to_owned(),
                    "not promised".to_owned(),
                ]);
            }
        }
        s.push_str(&t.to_string());
        s.push_str(
            "\nA datagram is a unit: the network delivers it whole or not at all (a receive \
             buffer too small for it is the receiver's own doing: part 2). TCP promises only \
             the order of bytes, so reads may merge or split what was written.\n",
        );
    }

    /// Part 2: a receive buffer smaller than the datagram (MSG_TRUNC).
    fn write_truncation(&self, style: &Style, s: &mut String) {
        let tr = &self.truncation;
        s.push_str(&format!(
            "\n{}\n",
            heading(style, "2. A receive buffer smaller than the datagram")
        ));
        if let Some(r) = tr.run.received.first() {
            s.push_str(&format!(
                "sent {} B, received into a {} B buffer: {} B copied ({}), recvmsg returned \
                 length {} with MSG_TRUNC {}.\n",
                r.datagram_len,
                tr.buffer,
                r.copied,
                crate::wire::text::quoted(&r.first_bytes, 40),
                r.datagram_len,
                if r.truncated {
                    style.paint(Paint::Warn, "set")
                } else {
                    "not set".to_owned()
                },
            ));
            s.push_str(&format!(
                "The other {} B are gone: one receive takes one datagram, and what does not fit is \
                 discarded. netlab asked with MSG_TRUNC so the kernel reports the real length; a \
                 plain recvfrom would have returned {} and said nothing.\n",
                r.datagram_len.saturating_sub(r.copied),
                r.copied
            ));
        }
    }

    /// Part 3: the largest datagram IPv4 and IPv6 can carry.
    fn write_size_limit(&self, style: &Style, s: &mut String) {
        let sl = &self.size_limit;
        s.push_str(&format!(
            "\n{}\n",
            heading(style, "3. The largest datagram")
        ));
        for (i, sent) in sl.run.sent.iter().enumerate() {
            match &sent.error {
                None => s.push_str(&format!(
                    "sendto({} B): ok, received {} B\n",
                    sent.len,
                    sl.run.received.get(i).map_or(0, |r| r.datagram_len)
                )),
                Some(e) => s.push_str(&format!(
                    "sendto({} B): {} {}\n",
                    sent.len,
                    style.paint(Paint::Bad, "error:"),
                    e
                )),
            }
        }
        s.push_str(&format!(
            "IPv4's total-length field is 16 bits: 65,535 bytes for the whole packet, minus 20 for \
             the IPv4 header and 8 for the UDP header leaves {} bytes of payload. Over IPv6 the \
             payload-length field excludes IPv6's own header, so the limit is {} (jumbograms, \
             RFC 2675, aside). On a real link (MTU about 1,500 bytes) the sending host cuts such a \
             datagram into IP fragments, and losing any one fragment loses the whole datagram; \
             loopback's MTU is 65,536, so here it goes whole.\n",
            sl.max_ipv4, sl.max_ipv6
        ));
    }

    /// Part 4: ICMP port unreachable, heard only by a connected socket.
    fn write_refused(&self, style: &Style, s: &mut String) {
        let r = &self.refused;
        s.push_str(&format!(
            "\n{}\n",
            heading(style, "4. Sending to a port where nothing listens")
        ));
        s.push_str(&format!(
            "connected socket:   send {}, then recv → {}\n",
            if r.connected.send_ok { "ok" } else { "failed" },
            yes(style, r.connected.refused, &r.connected.next_recv)
        ));
        s.push_str(&format!(
            "unconnected socket: send_to {}, then recv_from → {} (after {} ms)\n",
            if r.unconnected.send_ok {
                "ok"
            } else {
                "failed"
            },
            r.unconnected.next_recv,
            r.unconnected.waited_ms
        ));
        s.push_str(
            "The send succeeds both times: the datagram left, and UDP waits for no answer. The \
             receiving kernel finds no socket on that port and replies with ICMP \"destination \
             port unreachable\" (type 3, code 3: RFC 1122 §4.1.3.1 says a host SHOULD send it, \
             and §4.1.3.3 that UDP MUST pass such errors up to the application). Linux \
             reports it as ECONNREFUSED, \"connection refused\", on the next call, but only \
             on a connected socket, the one peer it can be about (udp(7)); an unconnected \
             socket hears nothing unless it asks with IP_RECVERR. There was never a \
             connection: the name comes from TCP.\n",
        );
    }

    /// Part 5: loss through the relay, and TCP under the same loss.
    fn write_loss(&self, style: &Style, s: &mut String) {
        let l = &self.loss;
        s.push_str(&format!(
            "\n{}\n",
            heading(
                style,
                &format!(
                    "5. Loss: {} probes through a relay dropping {}% (seed {})",
                    l.sent, l.loss_percent, l.seed
                )
            )
        ));
        if let Some(row) = &l.receiver {
            s.push_str(&listen::streams_table(style, std::slice::from_ref(row)));
            s.push('\n');
            let exact = row.summary.lost == l.relay_dropped;
            s.push_str(&format!(
                "The relay dropped {}; the receiver counted {} lost from the sequence numbers ({}). \
                 Nobody told the sender: UDP does not notice, and does not retransmit.\n",
                l.relay_dropped,
                row.summary.lost,
                yes(style, exact, if exact { "the same" } else { "they differ: see the kernel's drop counters" }),
            ));
        } else {
            s.push_str("No probe reached the receiver.\n");
        }
        s.push_str(&loss_comparison(style, l));
    }
}

/// Part 5 side by side: UDP through the relay, TCP through nftables.
fn loss_comparison(style: &Style, l: &LossPart) -> String {
    let mut s = String::new();
    let Some(t) = &l.tcp_under_loss else {
        tcp_not_shown(style, l, &mut s);
        return s;
    };
    s.push_str(&loss_table(style, l, t));
    tcp_how_it_recovered(t, &mut s);
    s.push_str(&format!("How: {}\n", l.tcp_note));
    s
}

/// Part 5 without its TCP half: why, and what it would have shown.
fn tcp_not_shown(style: &Style, l: &LossPart, s: &mut String) {
    s.push_str(&format!(
        "\nTCP under the same loss: {}",
        style.paint(Paint::Warn, "not shown")
    ));
    if let Some(n) = &l.tcp_not_shown {
        s.push_str(&format!(": {}.\nhint: {}\n", n.reason, n.hint));
    } else {
        s.push('\n');
    }
    s.push_str(&format!(
        "What it would show: TCP numbers every byte, waits for acknowledgements and \
         retransmits what was not acknowledged, so every message arrives, in order, late. {}\n",
        l.tcp_note
    ));
}

/// The table: sent, dropped, delivered, resent and time, UDP beside TCP.
fn loss_table(style: &Style, l: &LossPart, t: &TcpUnderLoss) -> String {
    let udp_lost = l
        .receiver
        .as_ref()
        .map_or(u64::from(l.sent), |r| r.summary.lost);
    let udp_got = l.receiver.as_ref().map_or(0, |r| r.summary.received);
    let lossy = &t.lossy;
    let mut tb = style.table();
    tb.set_header(vec![
        "",
        &format!("UDP through the relay ({}% loss)", l.loss_percent),
        &format!("TCP through nftables ({}% loss)", t.loss_percent),
    ]);
    tb.add_row(vec![
        "messages sent".to_owned(),
        format!("{} datagrams of {PROBE_SIZE} B", l.sent),
        format!("{} writes of {} B", t.messages, t.message_bytes),
    ]);
    tb.add_row(vec![
        "dropped on the way".to_owned(),
        format!("{} datagrams (relay)", l.relay_dropped),
        match (lossy.dropped_by_rule, lossy.segments_to_receiver) {
            (Some(d), Some(n)) => format!("{d} of {n} segments (nft counters)"),
            _ => "unknown".to_owned(),
        },
    ]);
    tb.add_row(vec![
        "delivered".to_owned(),
        yes(
            style,
            udp_lost == 0,
            &format!("{udp_got} of {}; {udp_lost} lost", l.sent),
        ),
        yes(
            style,
            lossy.intact_in_order,
            &format!(
                "{} of {}{}",
                lossy.delivered,
                t.messages,
                if lossy.intact_in_order {
                    ", intact, in order"
                } else {
                    ", NOT intact"
                }
            ),
        ),
    ]);
    tb.add_row(vec![
        "resent".to_owned(),
        "never: UDP does not know".to_owned(),
        format!(
            "{} segments (kernel's RetransSegs)",
            lossy.counters.retrans_segs
        ),
    ]);
    tb.add_row(vec![
        "time".to_owned(),
        "no waiting: what is lost stays lost".to_owned(),
        format!(
            "{:.0} ms, against {:.0} ms without loss ({:.1}× as long)",
            lossy.elapsed_ms,
            t.baseline.elapsed_ms,
            t.slowdown()
        ),
    ]);
    tb.to_string()
}

/// How TCP noticed and repaired the losses, from the kernel's TcpExt counters.
fn tcp_how_it_recovered(t: &TcpUnderLoss, s: &mut String) {
    let lossy = &t.lossy;
    s.push_str(&format!(
        "\nTCP delivered {} of {} messages by retransmitting {} segments. The kernel's \
         TcpExt counters say how it noticed: {} segments went out by fast retransmit \
         (duplicate or selective acknowledgements told the sender), the retransmission timer \
         expired {} times, and {} tail loss probes were sent. One retransmitted segment may \
         carry several lost ones, and acknowledgements can be dropped too, so retransmissions \
         need not equal drops. The receiver's reads never saw a gap: \
         TCP holds back later bytes until the missing ones arrive. {}\n",
        lossy.delivered,
        t.messages,
        lossy.counters.retrans_segs,
        lossy.counters.fast_retrans,
        lossy.counters.timeouts,
        lossy.counters.loss_probes,
        if lossy.counters.timeouts > 0 {
            "Each timer expiry made the sender wait at least 200 ms (Linux's minimum \
             retransmission timeout; RFC 6298 asks for 1 s), twice as long when it \
             happened again: that is where the time went."
        } else {
            "The timer never expired: fast retransmit and loss probes repaired every loss \
             within a few round trips, almost nothing on loopback, so the transfer was \
             hardly late. Run it \
             again: a lost retransmission, or a loss only the timer can reveal, costs 200 ms or more."
        },
    ));
}
