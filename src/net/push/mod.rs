//! Five ways for a server to get events to a client, run for real on loopback with the
//! same event source: short polling (a new TCP connection per request), short polling on
//! a keep-alive connection, long polling, Server-Sent Events and WebSocket push.
//!
//! Both ends count their bytes at the socket API ([`ByteCount`]); the client records
//! when each event arrived, so the delivery latency is "the server has it" to "the
//! client has parsed it", measured on one clock in one process. The bytes come from
//! `wire::push` (HTTP heads, SSE) and `wire::websocket` (handshake, frames).

mod client;
mod server;

use crate::net::http::{ByteCount, HttpError};
use crate::net::ws::{WsConfig, WsError};
use crate::wire::push::{self as wp, WireTally};
use crate::wire::websocket::{FrameHeader, Message};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::time::timeout;

/// How events get from the server to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// `GET /poll` every poll interval, each on a new TCP connection (`Connection: close`).
    ShortPoll,
    /// `GET /poll` every poll interval on one persistent connection.
    KeepAlivePoll,
    /// `GET /poll` that the server holds until an event exists (or a hold time passes).
    LongPoll,
    /// One `text/event-stream` response that never ends until the events do.
    Sse,
    /// One upgraded connection; the server sends a frame per event.
    WebSocket,
}

impl Transport {
    pub const ALL: [Transport; 5] = [
        Transport::ShortPoll,
        Transport::KeepAlivePoll,
        Transport::LongPoll,
        Transport::Sse,
        Transport::WebSocket,
    ];

    /// The column title.
    pub fn title(self) -> &'static str {
        match self {
            Transport::ShortPoll => "short poll (new conn)",
            Transport::KeepAlivePoll => "short poll (keep-alive)",
            Transport::LongPoll => "long poll",
            Transport::Sse => "SSE",
            Transport::WebSocket => "WebSocket",
        }
    }
}

/// Which way the messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Server to client: the events.
    Down,
    /// Client to server: each client sends as many messages (HTTP POSTs or WebSocket frames).
    Up,
    /// Both at once.
    Both,
}

impl Direction {
    pub fn down(self) -> bool {
        self != Direction::Up
    }
    pub fn up(self) -> bool {
        self != Direction::Down
    }
}

/// Client `c`'s message `i` has id `c * UP_STRIDE + i` (so ids tell clients apart).
pub const UP_STRIDE: u64 = 1_000_000;

/// The same workload for every transport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workload {
    pub events: u64,
    /// Time between events; zero means all at once (a burst).
    pub interval: Duration,
    /// Bytes of application payload per event.
    pub payload: usize,
    /// How long a short-polling client waits between one answer and the next request.
    pub poll_interval: Duration,
    /// How long a long-polling server holds a request with nothing to send.
    pub hold: Duration,
    /// Clients, each receiving every event.
    pub clients: usize,
    pub direction: Direction,
}

impl Workload {
    /// Past this, a transport that has not delivered everything is stopped and its
    /// missing events are counted as lost.
    pub fn deadline(&self) -> Duration {
        self.interval * (self.events.min(u32::MAX as u64) as u32)
            + self.hold
            + self.poll_interval
            + Duration::from_secs(5)
    }

    /// The limit on any one read or connect.
    fn io_limit(&self) -> Duration {
        self.hold + Duration::from_secs(5)
    }
}

/// The events, published one by one: event `i` exists from `created[i]` on.
struct EventSource {
    created: Mutex<Vec<Instant>>,
    published: watch::Sender<u64>,
}

impl EventSource {
    fn new() -> EventSource {
        EventSource {
            created: Mutex::new(Vec::new()),
            published: watch::Sender::new(0),
        }
    }

    fn published(&self) -> u64 {
        *self.published.borrow()
    }

    fn publish(&self) {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        created.push(Instant::now());
        let n = created.len() as u64;
        drop(created);
        self.published.send_replace(n);
    }

    fn created_at(&self, id: u64) -> Option<Instant> {
        let created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        created.get(id as usize).copied()
    }

    /// Wait until at least `n` events exist, or `limit` passes; the count either way.
    async fn wait_for(&self, n: u64, limit: Duration) -> u64 {
        let mut rx = self.published.subscribe();
        let _ = timeout(limit, rx.wait_for(|&c| c >= n)).await;
        self.published()
    }
}

/// Which end did something, in a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    Client,
    Server,
}

/// One thing that happened, for `--explain`'s sequence diagrams.
#[derive(Debug, Clone, Serialize)]
pub struct TraceStep {
    pub at_us: u64,
    pub end: End,
    pub action: String,
    /// What crossed the connection, with its size, if anything.
    pub sends: Option<String>,
}

/// The first `cap` steps of a run, from both ends.
struct Trace {
    start: Instant,
    cap: usize,
    steps: Mutex<Vec<TraceStep>>,
}

impl Trace {
    fn record(&self, end: End, action: impl Into<String>, sends: Option<String>) {
        self.record_at(Instant::now(), end, action, sends)
    }

    /// Record a step that happened at `at` (before the code that records it had the
    /// whole picture, as when a handshake's request is drawn once its answer is in).
    fn record_at(&self, at: Instant, end: End, action: impl Into<String>, sends: Option<String>) {
        let mut steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        if steps.len() < self.cap {
            steps.push(TraceStep {
                at_us: at.saturating_duration_since(self.start).as_micros() as u64,
                end,
                action: action.into(),
                sends,
            });
        }
    }
}

/// What the clients saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClientTally {
    /// HTTP requests sent (the WebSocket upgrade counts as one).
    pub requests: u64,
    /// Poll answers that carried no event.
    pub empty_polls: u64,
    /// TCP connections opened (each is one TCP three-way handshake).
    pub connections: u64,
    /// Event ids in the order they arrived, per client.
    #[serde(skip)]
    pub received: Vec<Vec<u64>>,
    /// Delivery latency of every event received, microseconds.
    #[serde(skip)]
    pub latencies_us: Vec<u64>,
    /// Bytes of HTTP heads sent and received (requests, responses, the upgrade).
    pub head_bytes: u64,
    /// Bytes of event payload received.
    pub payload_bytes: u64,
}

/// What one transport's run measured.
#[derive(Debug, Clone, Serialize)]
pub struct TransportRun {
    pub transport: Transport,
    pub tally: ClientTally,
    /// Bytes the clients read and wrote at their sockets.
    pub client_read: u64,
    pub client_written: u64,
    /// Bytes the server read and wrote at its sockets.
    pub server_read: u64,
    pub server_written: u64,
    /// TCP connections the server accepted.
    pub accepted: u64,
    /// What the server received from the clients (direction up or both).
    pub up: Option<UpTally>,
    /// Why a client or the server failed, if one did (what it measured is kept).
    pub error: Option<String>,
    pub trace: Vec<TraceStep>,
    /// The server's port on 127.0.0.1 (to find the run in a capture).
    pub server_port: u16,
    /// Packets counted from a capture of the run, when one was asked for and allowed.
    pub wire: Option<WireTally>,
    /// Why there is no capture count, or what limits it.
    pub wire_note: Option<String>,
    /// Wall-clock time of the run.
    pub elapsed_us: u64,
    /// CPU time of the server's thread (server and event source), if it could be read.
    pub server_cpu: Option<Duration>,
    /// CPU time of the clients' thread, if it could be read.
    pub client_cpu: Option<Duration>,
}

/// Why a transport could not even start.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("could not listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("could not start the server's thread: {0}")]
    Thread(std::io::Error),
}

struct Shared {
    source: EventSource,
    workload: Workload,
    transport: Transport,
    server_count: Arc<ByteCount>,
    client_count: Arc<ByteCount>,
    trace: Trace,
    addr: SocketAddr,
    up: Mutex<UpState>,
}

/// Client-to-server messages: when each was created, and what the server received.
#[derive(Debug, Default)]
struct UpState {
    created: std::collections::HashMap<u64, Instant>,
    tally: UpTally,
}

/// What the server received from the clients (direction up or both).
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpTally {
    /// HTTP POSTs received (zero for WebSocket, whose messages are frames).
    pub posts: u64,
    /// Message ids in arrival order, per client.
    #[serde(skip)]
    pub received: Vec<Vec<u64>>,
    /// Latency from the client creating a message to the server having parsed it, µs.
    #[serde(skip)]
    pub latencies_us: Vec<u64>,
    /// Bytes of message payload received.
    pub payload_bytes: u64,
}

impl Shared {
    fn up_created(&self, id: u64) {
        let mut up = self.up.lock().unwrap_or_else(|e| e.into_inner());
        up.created.insert(id, Instant::now());
    }

    fn up_received(&self, payload: &[u8], via_post: bool) {
        let now = Instant::now();
        let mut up = self.up.lock().unwrap_or_else(|e| e.into_inner());
        up.tally.payload_bytes += payload.len() as u64;
        if via_post {
            up.tally.posts += 1;
        }
        let Some(id) = wp::event_id(payload) else {
            return;
        };
        if let Some(&created) = up.created.get(&id) {
            let us = now.saturating_duration_since(created).as_micros() as u64;
            up.tally.latencies_us.push(us);
        }
        let c = (id / UP_STRIDE) as usize;
        if let Some(r) = up.tally.received.get_mut(c) {
            r.push(id % UP_STRIDE);
        }
    }

    fn start(&self) -> Instant {
        self.trace.start
    }
}

/// How much to record besides the counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Keep the first this many steps for a sequence diagram.
    pub trace_cap: usize,
    /// Capture the run's packets on loopback (needs root or CAP_NET_RAW).
    pub capture: bool,
    /// The server's port on 127.0.0.1; 0 lets the OS pick a free one.
    pub port: u16,
}

/// Run one transport on loopback: a server, `clients` clients and the event source, until
/// every client has every event or the workload's deadline passes.
///
/// The server (with the event source) and the clients each run on an OS thread of their
/// own with a single-threaded tokio runtime, so the CPU time of each thread is the CPU
/// time of that side: what it spent in netlab and in the kernel on its behalf.
pub async fn run(
    transport: Transport,
    workload: &Workload,
    opts: RunOptions,
) -> Result<TransportRun, PushError> {
    let trace_cap = opts.trace_cap;
    let want = SocketAddr::from(([127, 0, 0, 1], opts.port));
    let listener = std::net::TcpListener::bind(want).map_err(|e| PushError::Bind(want, e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| PushError::Bind(want, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| PushError::Bind(want, e))?;
    // The capture starts before the first SYN, so it sees every packet of the run.
    let mut capture = if opts.capture {
        Some(start_capture(addr.port()))
    } else {
        None
    };
    let start = Instant::now();
    let shared = Arc::new(Shared {
        source: EventSource::new(),
        workload: workload.clone(),
        transport,
        server_count: Arc::new(ByteCount::default()),
        client_count: Arc::new(ByteCount::default()),
        trace: Trace {
            start,
            cap: trace_cap,
            steps: Mutex::new(Vec::new()),
        },
        addr,
        up: Mutex::new(UpState {
            created: Default::default(),
            tally: UpTally {
                received: vec![Vec::new(); workload.clients],
                ..UpTally::default()
            },
        }),
    });
    let accepted = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = {
        let (shared, accepted) = (shared.clone(), accepted.clone());
        on_own_thread("compare-server", move || async move {
            let listener = match TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => return Some(format!("listen: {e}")),
            };
            let producer = tokio::spawn(server::produce(shared.clone(), start));
            let r = server::serve(listener, shared, accepted, stop_rx).await;
            producer.abort();
            r
        })
        .map_err(PushError::Thread)?
    };
    let clients = {
        let shared = shared.clone();
        on_own_thread("compare-clients", move || client::run_clients(shared))
    };
    let failed = |why: String| (ClientTally::default(), None, Some(why));
    let (tally, client_cpu, mut error) = match clients {
        Ok(rx) => match rx.await {
            Ok(Ok(((tally, e), cpu))) => (tally, cpu, e),
            Ok(Err(e)) => failed(format!("clients: {e}")),
            Err(_) => failed("the client thread ended without a result".into()),
        },
        Err(e) => failed(format!("could not start the client thread: {e}")),
    };
    let _ = stop_tx.send(());
    let server_cpu = match timeout(Duration::from_secs(5), server).await {
        Ok(Ok(Ok((e, cpu)))) => {
            if let Some(e) = e {
                error.get_or_insert(format!("server: {e}"));
            }
            cpu
        }
        Ok(Ok(Err(e))) => {
            error.get_or_insert(format!("server: {e}"));
            None
        }
        Ok(Err(_)) => {
            error.get_or_insert("the server thread ended without a result".to_owned());
            None
        }
        Err(_) => {
            error.get_or_insert("the server did not stop in time".to_owned());
            None
        }
    };
    let mut trace = shared
        .trace
        .steps
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    trace.sort_by_key(|s| s.at_us);
    let (wire, wire_note) = match capture.take() {
        None => (
            None,
            Some("not counted: capture turned off with --no-capture".to_owned()),
        ),
        Some(Err(why)) => (None, Some(format!("not counted: {why}"))),
        Some(Ok(cap)) => finish_capture(cap).await,
    };
    let up = if workload.direction.up() {
        let st = shared.up.lock().unwrap_or_else(|e| e.into_inner());
        Some(st.tally.clone())
    } else {
        None
    };
    Ok(TransportRun {
        up,
        server_port: addr.port(),
        wire,
        wire_note,
        transport,
        tally,
        client_read: shared.client_count.read(),
        client_written: shared.client_count.written(),
        server_read: shared.server_count.read(),
        server_written: shared.server_count.written(),
        accepted: accepted.load(Ordering::Relaxed),
        error,
        trace,
        elapsed_us: start.elapsed().as_micros() as u64,
        server_cpu,
        client_cpu,
    })
}

/// What a side's thread hands back: its result and the thread's CPU time, or why its
/// runtime could not start.
type SideResult<T> = Result<(T, Option<Duration>), String>;

/// Run the future `make` returns on a new OS thread with a single-threaded tokio runtime
/// of its own, and measure that thread's CPU time around it (runtime shutdown included).
fn on_own_thread<M, F>(
    name: &str,
    make: M,
) -> std::io::Result<oneshot::Receiver<SideResult<F::Output>>>
where
    M: FnOnce() -> F + Send + 'static,
    F: std::future::Future,
    F::Output: Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let before = thread_cpu_time();
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            };
            let out = rt.block_on(make());
            drop(rt);
            let cpu = match (before, thread_cpu_time()) {
                (Some(a), Some(b)) => Some(b.saturating_sub(a)),
                _ => None,
            };
            let _ = tx.send(Ok((out, cpu)));
        })?;
    Ok(rx)
}

/// The WebSocket limits for a comparison run.
fn ws_config(w: &Workload) -> WsConfig {
    WsConfig {
        max_message: 1 << 20,
        handshake_timeout: w.io_limit(),
        idle_timeout: w.io_limit(),
        close_timeout: Duration::from_secs(2),
        ..WsConfig::default()
    }
}

fn ws_error(e: WsError) -> HttpError {
    match e {
        WsError::Io(e) => HttpError::Io(e),
        e => HttpError::Malformed(e.to_string()),
    }
}

/// "text frame (2 B header + 32 B)": a frame's size as the trace shows it.
fn frame_label(m: &Message, mask: Option<[u8; 4]>) -> String {
    let header = FrameHeader::new(true, m.kind.opcode(), mask, m.payload.len() as u64).len();
    let kind = if mask.is_some() {
        "masked text frame"
    } else {
        "text frame"
    };
    format!("{kind} ({header} B header + {} B)", m.payload.len())
}

/// CPU time used so far by the calling thread, in the kernel and out of it (Linux: the
/// first field of `/proc/thread-self/schedstat`, nanoseconds on the CPU). `None` where
/// that is not available.
pub fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = text.split_whitespace().next()?.parse::<u64>().ok()?;
    Some(Duration::from_nanos(ns))
}

#[cfg(feature = "capture")]
type Capture = crate::net::capture::LiveCapture;
#[cfg(not(feature = "capture"))]
type Capture = ();

/// Start capturing this run's packets on loopback, or say why not.
#[cfg(feature = "capture")]
fn start_capture(port: u16) -> Result<Capture, String> {
    use crate::net::capture::CaptureError;
    use crate::net::capture::{loopback_name, LiveCapture};
    use crate::wire::dissect::{dissect, LinkType};
    use crate::wire::filter::Filter;
    let filter = Filter::parse(&format!("tcp port {port}")).map_err(|e| e.to_string())?;
    let keep = Box::new(move |b: &[u8]| filter.matches(&dissect(LinkType::Ethernet, b)));
    LiveCapture::start(&loopback_name(), 1 << 16, keep).map_err(|e| match e {
        CaptureError::PermissionDenied { .. } => {
            "netlab may not capture here: that needs root or CAP_NET_RAW".to_owned()
        }
        e => e.to_string(),
    })
}

/// Whether netlab may capture on loopback here (it opens a capture and closes it).
#[cfg(feature = "capture")]
pub fn may_capture() -> Result<(), String> {
    use crate::net::capture::{loopback_name, LiveCapture};
    let cap = LiveCapture::start(&loopback_name(), 16, Box::new(|_: &[u8]| false))
        .map_err(|e| e.to_string())?;
    cap.finish();
    Ok(())
}

#[cfg(not(feature = "capture"))]
pub fn may_capture() -> Result<(), String> {
    Err("this netlab was built without live capture (the `capture` feature)".into())
}

#[cfg(not(feature = "capture"))]
fn start_capture(_port: u16) -> Result<Capture, String> {
    Err("this netlab was built without live capture (the `capture` feature)".into())
}

/// Count what the capture saw, once the last packets (FIN, ACK) have had time to arrive.
#[cfg(feature = "capture")]
async fn finish_capture(cap: Capture) -> (Option<WireTally>, Option<String>) {
    use crate::wire::dissect::dissect;
    let counted = tokio::task::spawn_blocking(move || {
        let mut t = WireTally::default();
        // A quiet 200 ms ends the drain; the count bound keeps a flood from holding us.
        for _ in 0..10_000_000u64 {
            match cap.next_timeout(Duration::from_millis(200)) {
                Some(f) => t.add(&dissect(f.link, &f.data)),
                None => break,
            }
        }
        let dropped = cap.stats.dropped.load(Ordering::Relaxed);
        cap.finish();
        (t, dropped)
    })
    .await;
    match counted {
        Ok((t, 0)) => (Some(t), None),
        Ok((t, dropped)) => (
            Some(t),
            Some(format!(
                "the capture missed {dropped} packet(s): its counts are low"
            )),
        ),
        Err(e) => (
            None,
            Some(format!("not counted: the capture thread failed: {e}")),
        ),
    }
}

#[cfg(not(feature = "capture"))]
async fn finish_capture(_cap: Capture) -> (Option<WireTally>, Option<String>) {
    (None, Some("not counted: built without live capture".into()))
}
