//! `netlab tcp bench`: how fast can one TCP connection go?
//!
//! A sender thread writes `size`-byte buffers for the given time; a sink thread in the
//! same process (or a server given with `--to`) reads them. Plain blocking sockets on
//! two OS threads: for one stream that is as fast as it gets, with no runtime between
//! the loop and the system calls. iperf3 measures the same way (one buffer of 128 KiB,
//! written in a loop), which makes the two comparable.

use super::{describe_opts, human_bytes, seconds, sock_opts};
use crate::cli::tcp::BenchArgs;
use crate::error::{usage, HintExt, Hinted};
use crate::net::runtime::{runtime, Runtime};
use crate::net::tcp::{self, EffectiveOpts, SockOpts};
use crate::net::Endpoint;
use crate::output::{Format, Output, Paint, Render, Style};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A validated `netlab tcp bench`.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    pub duration: Duration,
    pub size: usize,
    pub to: Option<Endpoint>,
    pub timeout: Duration,
    pub opts: SockOpts,
}

impl TryFrom<&BenchArgs> for BenchPlan {
    type Error = anyhow::Error;

    fn try_from(a: &BenchArgs) -> anyhow::Result<BenchPlan> {
        if !(1..=(64 << 20)).contains(&a.size) {
            return Err(usage(
                format!("--size {} is out of range", a.size),
                "give a buffer size from 1 byte to 64 MiB (67108864); iperf3 uses 131072",
            ));
        }
        Ok(BenchPlan {
            duration: seconds("--seconds", a.seconds, 3600.0)?,
            size: a.size,
            to: a.to.clone(),
            timeout: seconds("--timeout", a.timeout, 600.0)?,
            opts: sock_opts(&a.opts)?,
        })
    }
}

/// One second of sending, like iperf3's interval lines.
#[derive(Debug, Clone, Serialize)]
pub struct Interval {
    pub event: &'static str,
    pub from_s: f64,
    pub to_s: f64,
    pub bytes: u64,
    pub gbit_per_s: f64,
}

/// What the benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The sink ran in this process (loopback), or the server was given with `--to`.
    pub in_process_sink: bool,
    pub size: usize,
    pub seconds: f64,
    pub bytes_sent: u64,
    /// Sender's view: bytes written / time from connect to the peer's close.
    pub sender_gbit_per_s: f64,
    /// Receiver's view (in-process sink only): bytes read / first byte to EOF.
    pub bytes_received: Option<u64>,
    pub receiver_gbit_per_s: Option<f64>,
    /// The headline figure: the receiver's when known, else the sender's.
    pub gbit_per_s: f64,
    pub options: EffectiveOpts,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub intervals: Vec<Interval>,
}

fn gbit(bytes: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        bytes as f64 * 8.0 / s / 1e9
    } else {
        0.0
    }
}

/// Run the benchmark: threads for the I/O, this thread for the interval lines.
pub fn run(plan: BenchPlan, out: &mut Output) -> anyhow::Result<()> {
    let sent = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    let (target, sink) = match &plan.to {
        None => {
            let (addr, handle) = start_sink(&plan, &received)?;
            (addr, Some(handle))
        }
        Some(ep) => (resolve_target(ep)?, None),
    };

    let (done_tx, done_rx) = mpsc::channel();
    let sender = {
        let (sent, opts, size, duration, limit) = (
            sent.clone(),
            plan.opts.clone(),
            plan.size,
            plan.duration,
            plan.timeout,
        );
        std::thread::spawn(move || {
            let r = tcp::bench_send(target, &opts, size, duration, &sent, limit);
            let _ = done_tx.send(());
            r
        })
    };

    let intervals = watch_intervals(&plan, out, &sent, &done_rx)?;
    let send = sender
        .join()
        .map_err(|_| Hinted::failure("the sender thread panicked"))?
        .map_err(|e| send_error(e, target))?;
    let sink = match sink {
        Some(h) => Some(
            h.join()
                .map_err(|_| Hinted::failure("the sink thread panicked"))?
                .failed("the sink failed")?,
        ),
        None => None,
    };
    let sender_gbit = gbit(send.bytes, send.elapsed);
    let receiver_gbit = sink.map(|s| gbit(s.bytes, s.elapsed));
    let report = BenchReport {
        local: send.local,
        remote: send.remote,
        in_process_sink: sink.is_some(),
        size: plan.size,
        seconds: plan.duration.as_secs_f64(),
        bytes_sent: send.bytes,
        sender_gbit_per_s: sender_gbit,
        bytes_received: sink.map(|s| s.bytes),
        receiver_gbit_per_s: receiver_gbit,
        gbit_per_s: receiver_gbit.unwrap_or(sender_gbit),
        options: send.options,
        intervals: if out.format() == Format::Json {
            intervals
        } else {
            Vec::new()
        },
    };
    if let Some(s) = sink {
        if s.bytes != send.bytes {
            return Err(Hinted::failure(format!(
                "the sink received {} B but {} B were sent",
                s.bytes, send.bytes
            ))
            .into());
        }
    }
    out.report(&report)?;
    Ok(())
}

/// The in-process sink: a listener on loopback and a thread that reads until EOF.
fn start_sink(
    plan: &BenchPlan,
    received: &Arc<AtomicU64>,
) -> anyhow::Result<(SocketAddr, JoinHandle<std::io::Result<tcp::SinkStats>>)> {
    let listener = tcp::bench_listener(SocketAddr::from(([127, 0, 0, 1], 0)), &plan.opts)
        .failed("could not open the sink's listening socket")?;
    let addr = listener.local_addr().failed("sink address")?;
    let (received, size, limit) = (received.clone(), plan.size, plan.timeout);
    let handle = std::thread::spawn(move || tcp::bench_sink(listener, size, &received, limit));
    Ok((addr, handle))
}

/// The server given with `--to`, resolved to its first address.
fn resolve_target(ep: &Endpoint) -> anyhow::Result<SocketAddr> {
    let addrs = runtime(Runtime::CurrentThread)?.block_on(ep.resolve())?;
    // `resolve` returns at least one address or an error.
    let addr = addrs.first().copied().ok_or_else(|| {
        anyhow::Error::from(Hinted::failure(format!("'{}' has no addresses", ep.host)))
    })?;
    Ok(addr)
}

/// One line per second while the sender runs, until it says it is done.
fn watch_intervals(
    plan: &BenchPlan,
    out: &mut Output,
    sent: &AtomicU64,
    done_rx: &mpsc::Receiver<()>,
) -> anyhow::Result<Vec<Interval>> {
    let start = Instant::now();
    let mut intervals = Vec::new();
    let (mut last_bytes, mut last_t) = (0u64, 0.0f64);
    let mut next_tick = Duration::from_secs(1);
    // Bounded: the sender stops after `duration`, plus at most one write timeout and
    // one wait for the peer's close.
    let give_up = plan.duration + plan.timeout * 3 + Duration::from_secs(1);
    loop {
        let wait = next_tick.saturating_sub(start.elapsed());
        match done_rx.recv_timeout(wait) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let now = start.elapsed().as_secs_f64();
                let bytes = sent.load(Ordering::Relaxed);
                if now <= plan.duration.as_secs_f64() + 0.5 {
                    let iv = Interval {
                        event: "interval",
                        from_s: last_t,
                        to_s: now,
                        bytes: bytes - last_bytes,
                        gbit_per_s: gbit(bytes - last_bytes, Duration::from_secs_f64(now - last_t)),
                    };
                    if out.format() != Format::Json {
                        out.event(&iv)?;
                    }
                    intervals.push(iv);
                }
                out.progress(&format!("{:.0} s: {} sent", now, human_bytes(bytes)))?;
                last_bytes = bytes;
                last_t = now;
                next_tick += Duration::from_secs(1);
                if start.elapsed() > give_up {
                    return Err(Hinted::failure("the benchmark did not finish in time")
                        .with_hint("the receiver stalled; raise --timeout or check the server")
                        .into());
                }
            }
        }
    }
    Ok(intervals)
}

/// The sender's failure, with what to do when nothing listens at `target`.
fn send_error(e: std::io::Error, target: SocketAddr) -> anyhow::Error {
    let kind = e.kind();
    let err = anyhow::Error::new(e);
    match kind {
        std::io::ErrorKind::ConnectionRefused => err.context(
            Hinted::failure(format!("connection refused by {target}")).with_hint(
                "nothing listens there; start a sink with `netlab tcp listen --discard`",
            ),
        ),
        _ => err.context(Hinted::failure(format!("sending to {target} failed"))),
    }
}

impl Render for Interval {
    fn render_human(&self, style: &Style) -> String {
        style.paint(
            Paint::Dim,
            format!(
                "{:>6.2}-{:.2} s  {:>10}  {:>7.2} Gbit/s",
                self.from_s,
                self.to_s,
                human_bytes(self.bytes),
                self.gbit_per_s
            ),
        )
    }
}

impl Render for BenchReport {
    fn render_human(&self, style: &Style) -> String {
        let mut t = style.table();
        t.set_header(vec!["", "bytes", "Gbit/s", "measured over"]);
        t.add_row(vec![
            "sender".to_owned(),
            human_bytes(self.bytes_sent),
            format!("{:.2}", self.sender_gbit_per_s),
            "connect → the peer's FIN".to_owned(),
        ]);
        if let (Some(b), Some(g)) = (self.bytes_received, self.receiver_gbit_per_s) {
            t.add_row(vec![
                "receiver".to_owned(),
                human_bytes(b),
                format!("{g:.2}"),
                "first byte → EOF".to_owned(),
            ]);
        }
        format!(
            "{} {} → {}, {} s of {} writes\n  sender's options: {}\n{}\n{} {:.2} Gbit/s\n",
            style.paint(Paint::Bold, "TCP throughput"),
            self.local,
            self.remote,
            self.seconds,
            human_bytes(self.size as u64),
            describe_opts(&self.options),
            t,
            style.paint(Paint::Bold, "throughput:"),
            self.gbit_per_s
        )
    }
}
