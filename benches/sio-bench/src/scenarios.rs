//! The scenarios: each connects its clients to one server, then measures for a fixed
//! time (the window), reading the load generator's and the server's CPU time at the
//! window's two ends.

use crate::client::{number_after, Polling, Ws, STEP};
use crate::peers::Server;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::timeout;

/// What a scenario asks of the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Connects per second: 16 clients, each opening a WebSocket session, joining `/` and
    /// closing, in a loop.
    Connects,
    /// N clients, each a closed loop of `echo` with an ack.
    Ack(usize),
    /// One sender, N receivers: `broadcast`, at most `window` in flight.
    Broadcast(usize),
    /// `room` to the M members of a room among N clients (the sender is not a member).
    Room { members: usize, clients: usize },
    /// N long-polling clients, each a closed loop of `echo` with an ack (POST, then GET).
    Polling(usize),
}

impl Scenario {
    pub fn name(&self) -> String {
        match self {
            Scenario::Connects => "connects".into(),
            Scenario::Ack(n) => format!("ack-{n}"),
            Scenario::Broadcast(n) => format!("broadcast-{n}"),
            Scenario::Room { members, clients } => format!("room-{members}-of-{clients}"),
            Scenario::Polling(n) => format!("polling-{n}"),
        }
    }

    pub fn unit(&self) -> &'static str {
        match self {
            Scenario::Connects => "connects/s",
            Scenario::Ack(_) | Scenario::Polling(_) => "acks/s",
            Scenario::Broadcast(_) | Scenario::Room { .. } => "deliveries/s",
        }
    }

    pub fn parse(name: &str) -> Option<Scenario> {
        let n = |p: &str| name.strip_prefix(p)?.parse().ok();
        if name == "connects" {
            return Some(Scenario::Connects);
        }
        if let Some(rest) = name.strip_prefix("room-") {
            let (m, c) = rest.split_once("-of-")?;
            return Some(Scenario::Room {
                members: m.parse().ok()?,
                clients: c.parse().ok()?,
            });
        }
        n("ack-")
            .map(Scenario::Ack)
            .or_else(|| n("broadcast-").map(Scenario::Broadcast))
            .or_else(|| n("polling-").map(Scenario::Polling))
    }
}

/// The scenarios run when `--scenarios` is not given.
pub const DEFAULT: [Scenario; 7] = [
    Scenario::Connects,
    Scenario::Ack(1),
    Scenario::Ack(64),
    Scenario::Broadcast(100),
    Scenario::Broadcast(1000),
    Scenario::Room {
        members: 100,
        clients: 1000,
    },
    Scenario::Polling(16),
];

/// How a scenario runs.
#[derive(Debug, Clone, Copy)]
pub struct Knobs {
    pub window: Duration,
    /// Bytes of padding in each event's argument.
    pub size: usize,
    /// Broadcasts in flight at once.
    pub in_flight: u64,
}

/// One scenario on one server.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Operations per second (the scenario's unit).
    pub rate: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// The load generator's CPU time over the window (1.0 = one core busy).
    pub load_cpu: f64,
    /// The server's CPU time per operation, µs (`/proc/PID/stat`: 10 ms ticks).
    pub server_cpu_us: f64,
    /// Deliveries that reached a socket that should not get them (rooms).
    pub strays: usize,
}

/// This process's CPU time so far (user + system), in seconds.
pub fn own_cpu() -> f64 {
    // SAFETY: getrusage fills the struct passed.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// The window's clock and CPU readings.
struct Meter<'a> {
    server: &'a Server,
    start: Instant,
    own: f64,
    theirs: f64,
}

impl<'a> Meter<'a> {
    fn begin(server: &'a Server) -> Meter<'a> {
        Meter {
            server,
            start: Instant::now(),
            own: own_cpu(),
            theirs: server.cpu_seconds(),
        }
    }

    fn end(self, ops: u64, mut latencies_us: Vec<u32>) -> Sample {
        let wall = self.start.elapsed().as_secs_f64();
        latencies_us.sort_unstable();
        let pct = |p: f64| {
            latencies_us
                .get(((latencies_us.len() as f64 - 1.0) * p) as usize)
                .map_or(0.0, |&v| f64::from(v))
        };
        Sample {
            rate: ops as f64 / wall,
            p50_us: pct(0.5),
            p99_us: pct(0.99),
            load_cpu: (own_cpu() - self.own) / wall,
            server_cpu_us: (self.server.cpu_seconds() - self.theirs) * 1e6 / (ops.max(1) as f64),
            strays: 0,
        }
    }
}

fn micros(since: Instant) -> u32 {
    u32::try_from(since.elapsed().as_micros()).unwrap_or(u32::MAX)
}

fn lost(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{what} did not arrive within 10 s"),
    )
}

async fn joined<T: 'static>(mut set: JoinSet<io::Result<T>>) -> io::Result<Vec<T>> {
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        all.push(r.map_err(|e| io::Error::other(e.to_string()))??);
    }
    Ok(all)
}

/// `n` WebSocket clients joined to `/`, at most 64 connecting at once.
pub async fn connect_many(port: u16, n: usize) -> io::Result<Vec<Ws>> {
    let gate = Arc::new(Semaphore::new(64));
    let mut set = JoinSet::new();
    for i in 0..n {
        let gate = gate.clone();
        set.spawn(async move {
            let _permit = gate.acquire().await;
            Ws::connect(port, i as u32 + 7).await
        });
    }
    joined(set).await
}

/// Runs one scenario against one server.
pub async fn run(s: Scenario, server: &Server, k: Knobs) -> io::Result<Sample> {
    match s {
        Scenario::Connects => connects(server, k).await,
        Scenario::Ack(n) => acks(server, n, k).await,
        Scenario::Broadcast(n) => {
            let mut clients = connect_many(server.port, n + 1).await?;
            let sender = clients.pop().expect("n + 1 clients");
            fan_out(server, sender, clients, Vec::new(), "broadcast", k).await
        }
        Scenario::Room { members, clients } => {
            let mut all = connect_many(server.port, clients.max(members + 1)).await?;
            let others = all.split_off(members);
            for (i, ws) in all.iter_mut().enumerate() {
                let id = i + 1;
                ws.send(format!("42{id}[\"join\",\"r\"]").as_bytes())
                    .await?;
                let acked = timeout(STEP, async {
                    while number_after(ws.recv().await?, b"43") != Some(id as u64) {}
                    Ok::<_, io::Error>(())
                });
                acked.await.map_err(|_| lost("a join's ack"))??;
            }
            let mut others = others;
            let sender = others.pop().expect("a sender");
            fan_out(server, sender, all, others, "room", k).await
        }
        Scenario::Polling(n) => polling(server, n, k).await,
    }
}

async fn connects(server: &Server, k: Knobs) -> io::Result<Sample> {
    const WORKERS: u32 = 16;
    let meter = Meter::begin(server);
    let deadline = Instant::now() + k.window;
    let mut set = JoinSet::new();
    for w in 0..WORKERS {
        let port = server.port;
        set.spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                drop(Ws::connect(port, w + 1).await?);
                lat.push(micros(t));
            }
            Ok(lat)
        });
    }
    let lat: Vec<u32> = joined(set).await?.into_iter().flatten().collect();
    Ok(meter.end(lat.len() as u64, lat))
}

async fn acks(server: &Server, n: usize, k: Knobs) -> io::Result<Sample> {
    let clients = connect_many(server.port, n).await?;
    let pad = "x".repeat(k.size);
    let meter = Meter::begin(server);
    let deadline = Instant::now() + k.window;
    let mut set = JoinSet::new();
    for mut ws in clients {
        let pad = pad.clone();
        set.spawn(async move {
            let mut lat = Vec::with_capacity(1 << 16);
            let mut msg = Vec::with_capacity(pad.len() + 32);
            let mut id = 0u64;
            while Instant::now() < deadline {
                id += 1;
                msg.clear();
                use std::io::Write;
                let _ = write!(msg, "42{id}[\"echo\",\"{pad}\"]");
                let t = Instant::now();
                ws.send(&msg).await?;
                let answered = timeout(STEP, async {
                    while number_after(ws.recv().await?, b"43") != Some(id) {}
                    Ok::<_, io::Error>(())
                });
                answered.await.map_err(|_| lost("an ack"))??;
                lat.push(micros(t));
            }
            Ok(lat)
        });
    }
    let lat: Vec<u32> = joined(set).await?.into_iter().flatten().collect();
    Ok(meter.end(lat.len() as u64, lat))
}

/// Sequence numbers wrap in this table of send times (far more than `in_flight`).
const SLOTS: usize = 1 << 16;
/// The last event's number: receivers stop when it arrives.
const END: u64 = 999_999_999;

/// One sender emitting `event` (`broadcast X` or `room r X`) that every client in
/// `receivers` must get and no client in `bystanders` may get.
async fn fan_out(
    server: &Server,
    mut sender: Ws,
    receivers: Vec<Ws>,
    mut bystanders: Vec<Ws>,
    event: &str,
    k: Knobs,
) -> io::Result<Sample> {
    let n = receivers.len() as u64;
    let prefix: Arc<[u8]> = match event {
        "room" => b"42[\"room\",\"r\",\"".as_slice().into(),
        _ => b"42[\"broadcast\",\"".as_slice().into(),
    };
    let t0 = Instant::now();
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..SLOTS).map(|_| AtomicU64::new(0)).collect());
    // How many receivers got each event: the sender waits until event `seq - in_flight`
    // reached every receiver, so the slowest receiver bounds what is in flight.
    let got: Arc<Vec<AtomicU64>> = Arc::new((0..SLOTS).map(|_| AtomicU64::new(0)).collect());
    let wave_done = Arc::new(Notify::new());
    let mut set = JoinSet::new();
    for mut ws in receivers {
        let (prefix, sent_at, got, wave_done) = (
            prefix.clone(),
            sent_at.clone(),
            got.clone(),
            wave_done.clone(),
        );
        set.spawn(async move {
            let mut lat = Vec::with_capacity(1 << 12);
            loop {
                let msg = timeout(STEP, ws.recv())
                    .await
                    .map_err(|_| lost("a delivery"))??;
                let Some(seq) = number_after(msg, &prefix) else {
                    continue;
                };
                if seq == END {
                    return Ok(lat);
                }
                let at = sent_at[seq as usize % SLOTS].load(Ordering::Relaxed);
                let now = t0.elapsed().as_nanos() as u64;
                lat.push(u32::try_from(now.saturating_sub(at) / 1000).unwrap_or(u32::MAX));
                if got[seq as usize % SLOTS].fetch_add(1, Ordering::AcqRel) + 1 == n {
                    wave_done.notify_one();
                }
            }
        });
    }
    let pad = "x".repeat(k.size);
    let emit = |seq: u64| match event {
        "room" => format!("42[\"room\",\"r\",\"{seq}-{pad}\"]"),
        _ => format!("42[\"broadcast\",\"{seq}-{pad}\"]"),
    };
    let meter = Meter::begin(server);
    let deadline = Instant::now() + k.window;
    let mut seq = 0u64;
    while Instant::now() < deadline {
        if let Some(oldest) = seq.checked_sub(k.in_flight) {
            while got[oldest as usize % SLOTS].load(Ordering::Acquire) < n {
                if timeout(STEP, wave_done.notified()).await.is_err() {
                    return Err(stalled(&mut set));
                }
            }
        }
        got[seq as usize % SLOTS].store(0, Ordering::Release);
        sent_at[seq as usize % SLOTS].store(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        sender.send(emit(seq).as_bytes()).await?;
        seq += 1;
    }
    sender.send(emit(END).as_bytes()).await?;
    let lat: Vec<u32> = joined(set).await?.into_iter().flatten().collect();
    let mut sample = meter.end(seq * n, lat);
    for ws in &mut bystanders {
        sample.strays += ws.unread_count(&prefix[..prefix.len() - 1])?;
    }
    Ok(sample)
}

/// Why deliveries stopped: a receiver's own error when one has ended with one.
fn stalled(set: &mut JoinSet<io::Result<Vec<u32>>>) -> io::Error {
    while let Some(r) = set.try_join_next() {
        if let Ok(Err(e)) = r {
            return io::Error::new(e.kind(), format!("a receiver stopped: {e}"));
        }
    }
    lost("a broadcast's last delivery")
}

async fn polling(server: &Server, n: usize, k: Knobs) -> io::Result<Sample> {
    let mut clients = Vec::new();
    for _ in 0..n {
        clients.push(Polling::connect(server.port).await?);
    }
    let pad = "x".repeat(k.size);
    let meter = Meter::begin(server);
    let deadline = Instant::now() + k.window;
    let mut set = JoinSet::new();
    for mut p in clients {
        let pad = pad.clone();
        set.spawn(async move {
            let mut lat = Vec::with_capacity(1 << 14);
            let mut id = 0u64;
            while Instant::now() < deadline {
                id += 1;
                let t = Instant::now();
                let answered = timeout(STEP, async {
                    p.post(format!("42{id}[\"echo\",\"{pad}\"]").as_bytes())
                        .await?;
                    loop {
                        p.get().await?;
                        if p.packets().any(|m| number_after(m, b"43") == Some(id)) {
                            return Ok::<_, io::Error>(());
                        }
                    }
                });
                answered.await.map_err(|_| lost("an ack over polling"))??;
                lat.push(micros(t));
            }
            Ok(lat)
        });
    }
    let lat: Vec<u32> = joined(set).await?.into_iter().flatten().collect();
    Ok(meter.end(lat.len() as u64, lat))
}
