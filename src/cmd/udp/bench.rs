//! `netlab udp bench`: datagrams per second over loopback, and the exact loss under load.
//!
//! A sender thread and a receiver thread, each on its own blocking socket: the same shape
//! as `iperf3 -u`, so the two can be compared (`benches/udp_vs_iperf3.rs`). The receiver
//! counts by sequence number with `wire::measure::reception`, and at the end it is told how many
//! datagrams were sent, so the loss it reports is exact: sent minus distinct received.

use super::{new_stream_id, seconds_arg};
use crate::cli::udp::BenchArgs;
use crate::error::{usage, HintExt};
use crate::net::udp::{
    bench_recv, bench_send, bind_blocking, kernel_rcvbuf_errors, recv_buffer_size, socket_drops,
    SendTotals, MAX_PAYLOAD_V4, MAX_PAYLOAD_V6,
};
use crate::output::{Output, Paint, Render, Style};
use crate::wire::measure::probe;
use crate::wire::measure::reception::StreamStats;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long the receiver keeps listening once the sender is done and the line is quiet.
const QUIET: Duration = Duration::from_millis(200);

/// A validated `netlab udp bench`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub size: usize,
    pub duration: Duration,
    pub rate: Option<u64>,
    pub ipv6: bool,
}

impl TryFrom<&BenchArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: &BenchArgs) -> anyhow::Result<Plan> {
        let max = if a.ipv6 {
            MAX_PAYLOAD_V6
        } else {
            MAX_PAYLOAD_V4
        };
        if a.size < probe::HEADER_LEN || a.size > max {
            return Err(usage(
                format!("--size {} is out of range", a.size),
                format!(
                    "give --size from {} (netlab's header) to {max} (the largest UDP payload over IPv{})",
                    probe::HEADER_LEN,
                    if a.ipv6 { 6 } else { 4 }
                ),
            ));
        }
        let duration = seconds_arg("--seconds", a.seconds)?;
        if duration > Duration::from_secs(600) {
            return Err(usage(
                format!("--seconds {} is longer than 10 minutes", a.seconds),
                "give --seconds at most 600",
            ));
        }
        let rate = match a.rate {
            None => None,
            Some(r) if (1.0..=100_000_000.0).contains(&r) => Some(r as u64),
            Some(r) => {
                return Err(usage(
                    format!("--rate {r} is out of range"),
                    "give --rate a number of datagrams per second of 1 or more",
                ))
            }
        };
        Ok(Plan {
            size: a.size,
            duration,
            rate,
            ipv6: a.ipv6,
        })
    }
}

/// What the benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub address_family: &'static str,
    pub size: usize,
    pub rate_limit: Option<u64>,
    /// How long the sender sent, in seconds.
    pub seconds: f64,
    pub sent: u64,
    /// Sends the kernel refused (ENOBUFS and the like): those never left.
    pub send_errors: u64,
    /// Datagrams received, duplicates included.
    pub received: u64,
    /// sent - distinct received: every missing sequence number, counted exactly.
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub loss_percent: f64,
    pub sent_per_s: f64,
    /// Distinct datagrams received per second of sending.
    pub received_per_s: f64,
    /// Payload megabits per second sent (10^6 bits).
    pub sent_mbit_per_s: f64,
    /// RFC 3550 jitter. It includes the receiver's batching (it drains its queue every
    /// 0.2 ms, see `net::udp::bench_recv`), so it is not the network's alone.
    pub jitter_ms: f64,
    /// The receive buffer the kernel granted (SO_RCVBUF as read back).
    pub recv_buffer_bytes: usize,
    /// The kernel's count of UDP datagrams dropped for a full receive buffer during the run
    /// (all sockets of this network namespace, so other traffic can add to it).
    pub kernel_rcvbuf_errors: Option<u64>,
    /// Datagrams on the receiver's port that were not this run's probes.
    pub foreign: u64,
    /// Datagrams the kernel dropped at the receiver's own socket (its buffer was full):
    /// counted by the kernel, not by netlab, so on loopback `lost` can be checked
    /// against it.
    pub socket_drops: Option<u64>,
}

/// Run the benchmark; `progress(sent, elapsed)` is called about four times a second.
pub fn bench(plan: &Plan, mut progress: impl FnMut(u64, Duration)) -> anyhow::Result<BenchReport> {
    let ip = if plan.ipv6 {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    };
    let hint = "is loopback up, and (for --ipv6) is IPv6 enabled?";
    let rx = bind_blocking(SocketAddr::new(ip, 0)).hinted("could not open the receiver", hint)?;
    let tx = bind_blocking(SocketAddr::new(ip, 0)).hinted("could not open the sender", hint)?;
    tx.connect(rx.local_addr()?)
        .failed("could not address the receiver")?;
    let recv_buffer_bytes = recv_buffer_size(&rx).unwrap_or(0);
    let stream = new_stream_id();
    let mut payload = vec![0u8; plan.size];
    probe::Repr {
        stream,
        seq: 0,
        sent_us: 0,
        end: false,
    }
    .emit(&mut payload)?;
    let kernel_before = kernel_rcvbuf_errors();
    let done = AtomicBool::new(false);
    let sent_so_far = AtomicU64::new(0);
    let start = Instant::now();
    let deadline = start + plan.duration;

    let (totals, received): (SendTotals, std::io::Result<Received>) = std::thread::scope(|s| {
        let receiver = s.spawn(|| receive_probes(&rx, &done, stream, start));
        let sender = s.spawn(|| {
            let t = bench_send(&tx, &mut payload, deadline, plan.rate, &sent_so_far);
            done.store(true, Ordering::Relaxed);
            t
        });
        while !sender.is_finished() {
            progress(sent_so_far.load(Ordering::Relaxed), start.elapsed());
            std::thread::sleep(Duration::from_millis(250).min(
                deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(10),
            ));
        }
        // A panic in either thread would be a bug in netlab; report it as an error.
        let totals = sender.join().unwrap_or_default();
        let received = receiver
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the receiver thread panicked")));
        (totals, received)
    });
    let mut received = received.failed("receiving")?;
    let kernel_after = kernel_rcvbuf_errors();
    let socket_drops = socket_drops(&rx);
    // The sender knows exactly how many it sent: tell the counters, so losses at the tail
    // count too (as a netlab END datagram would, without the risk of losing it).
    received
        .stats
        .on_end(u32::try_from(totals.sent).unwrap_or(u32::MAX));
    let kernel_drops = kernel_before
        .zip(kernel_after)
        .map(|(a, b)| b.saturating_sub(a));
    Ok(report(
        plan,
        &totals,
        &received,
        recv_buffer_bytes,
        kernel_drops,
        socket_drops,
    ))
}

/// What the receiver thread counted: this run's probes, and anything else on its port.
struct Received {
    stats: StreamStats,
    foreign: u64,
}

/// The receiver thread: count this run's probes by sequence number until the sender is
/// done and the socket has been quiet a moment.
fn receive_probes(
    rx: &std::net::UdpSocket,
    done: &AtomicBool,
    stream: u32,
    start: Instant,
) -> std::io::Result<Received> {
    let mut stats = StreamStats::new(50_000);
    let mut foreign = 0u64;
    bench_recv(rx, done, QUIET, |bytes, at| {
        match probe::Repr::from_bytes(bytes) {
            Ok(p) if p.stream == stream && !p.end => {
                let at_us = at.duration_since(start).as_micros() as u64;
                stats.on_data(p.seq, p.sent_us, at_us, bytes.len());
            }
            _ => foreign += 1,
        }
        true
    })
    .map(|()| Received { stats, foreign })
}

/// The rates and losses, from the sender's totals and the receiver's counts.
fn report(
    plan: &Plan,
    totals: &SendTotals,
    received: &Received,
    recv_buffer_bytes: usize,
    kernel_rcvbuf_errors: Option<u64>,
    socket_drops: Option<u64>,
) -> BenchReport {
    let sum = received.stats.summary();
    let secs = (totals.elapsed_us as f64 / 1e6).max(1e-9);
    BenchReport {
        address_family: if plan.ipv6 { "IPv6" } else { "IPv4" },
        size: plan.size,
        rate_limit: plan.rate,
        seconds: secs,
        sent: totals.sent,
        send_errors: totals.send_errors,
        received: sum.received,
        lost: sum.lost,
        duplicates: sum.duplicates,
        reordered: sum.reordered,
        loss_percent: if totals.sent == 0 {
            0.0
        } else {
            100.0 * sum.lost as f64 / totals.sent as f64
        },
        sent_per_s: totals.sent as f64 / secs,
        received_per_s: (sum.received - sum.duplicates) as f64 / secs,
        sent_mbit_per_s: totals.sent as f64 * plan.size as f64 * 8.0 / secs / 1e6,
        jitter_ms: sum.jitter_ms,
        recv_buffer_bytes,
        kernel_rcvbuf_errors,
        foreign: received.foreign,
        socket_drops,
    }
}

pub fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let secs = plan.duration.as_secs_f64();
    let report = bench(&plan, |sent, t| {
        // A progress line that cannot be drawn is not worth stopping the benchmark for.
        let _ = out.progress(&format!(
            "udp bench: {sent} datagrams sent, {:.1} of {secs:.1} s",
            t.as_secs_f64()
        ));
    })?;
    out.report(&report)?;
    Ok(())
}

fn si(n: f64) -> String {
    if n >= 1e6 {
        format!("{:.2} million", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} thousand", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

impl Render for BenchReport {
    fn render_human(&self, style: &Style) -> String {
        let mut t = style.table();
        t.set_header(vec!["", "datagrams", "per second"]);
        t.add_row(vec![
            "sent".to_owned(),
            self.sent.to_string(),
            format!(
                "{} datagrams/s ({:.1} Mbit/s of payload)",
                si(self.sent_per_s),
                self.sent_mbit_per_s
            ),
        ]);
        t.add_row(vec![
            "received".to_owned(),
            self.received.to_string(),
            format!("{} datagrams/s", si(self.received_per_s)),
        ]);
        t.add_row(vec![
            "lost (by sequence number)".to_owned(),
            style.paint(
                if self.lost == 0 {
                    Paint::Good
                } else {
                    Paint::Warn
                },
                self.lost.to_string(),
            ),
            format!("{:.3}%", self.loss_percent),
        ]);
        t.add_row(vec![
            "duplicated".to_owned(),
            self.duplicates.to_string(),
            String::new(),
        ]);
        t.add_row(vec![
            "reordered".to_owned(),
            self.reordered.to_string(),
            String::new(),
        ]);
        t.add_row(vec![
            "send errors (never left)".to_owned(),
            self.send_errors.to_string(),
            String::new(),
        ]);
        let mut s = format!(
            "{} {} B datagrams over {} loopback for {:.2} s{}:\n{}\n",
            style.paint(Paint::Bold, "UDP bench:"),
            self.size,
            self.address_family,
            self.seconds,
            self.rate_limit
                .map_or(String::new(), |r| format!(", limited to {r}/s")),
            t
        );
        s.push_str(&format!(
            "jitter (RFC 3550): {:.3} ms; receive buffer: {} B",
            self.jitter_ms, self.recv_buffer_bytes
        ));
        if let Some(k) = self.kernel_rcvbuf_errors {
            s.push_str(&format!("; the kernel's RcvbufErrors rose by {k}"));
        }
        if let Some(d) = self.socket_drops {
            s.push_str(&format!("; this receiver's socket dropped {d}"));
        }
        s.push_str(".\n");
        if self.lost > 0 {
            s.push_str(
                "The losses are real: the receiver fell behind, its socket buffer filled, and the \
                 kernel dropped what did not fit. Nobody retransmits them. Try --rate to send \
                 slower and watch the loss fall.\n",
            );
        }
        s
    }
}
