//! Five ways for a server to get events to a client, run for real on loopback with the
//! same event source: short polling (a new TCP connection per request), short polling on
//! a keep-alive connection, long polling, Server-Sent Events and WebSocket push.
//!
//! Both ends count their bytes at the socket API ([`ByteCount`]); the client records
//! when each event arrived, so the delivery latency is "the server has it" to "the
//! client has parsed it", measured on one clock in one process. The bytes come from
//! `wire::push` (HTTP heads, SSE) and `wire::websocket` (handshake, frames).

use crate::net::http::{ByteCount, HttpConn, HttpError};
use crate::net::ws::{self, Flow, Received, WsConfig, WsError};
use crate::wire::push::{self as wp, WireTally, MIN_PAYLOAD};
use crate::wire::websocket::{CloseCode, FrameHeader, Message, MessageKind};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
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
            let producer = tokio::spawn(produce(shared.clone(), start));
            let r = serve(listener, shared, accepted, stop_rx).await;
            producer.abort();
            r
        })
        .map_err(PushError::Thread)?
    };
    let clients = {
        let shared = shared.clone();
        on_own_thread("compare-clients", move || run_clients(shared))
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

/// Publish the events on the workload's schedule (the server's side).
async fn produce(shared: Arc<Shared>, start: Instant) {
    let w = &shared.workload;
    let events = if w.direction.down() { w.events } else { 0 };
    for i in 0..events {
        if !w.interval.is_zero() {
            let at = start + w.interval * ((i + 1).min(u32::MAX as u64) as u32);
            tokio::time::sleep_until(at.into()).await;
        }
        shared.source.publish();
        shared
            .trace
            .record(End::Server, format!("event {i} exists"), None);
    }
}

/// Every client of the run, until each has everything or the deadline passes: what they
/// saw together, and the first error.
async fn run_clients(shared: Arc<Shared>) -> (ClientTally, Option<String>) {
    let workload = &shared.workload;
    let mut clients = JoinSet::new();
    for c in 0..workload.clients {
        let shared = shared.clone();
        clients.spawn(async move {
            let mut tally = ClientTally {
                received: vec![Vec::new()],
                ..ClientTally::default()
            };
            let deadline = Instant::now() + shared.workload.deadline();
            let dir = shared.workload.direction;
            let mut up_tally = ClientTally {
                received: vec![Vec::new()],
                ..ClientTally::default()
            };
            let down = async {
                if !dir.down() {
                    return Ok(());
                }
                match shared.transport {
                    Transport::ShortPoll => {
                        poll_client(&shared, &mut tally, deadline, true, None).await
                    }
                    Transport::KeepAlivePoll => {
                        poll_client(&shared, &mut tally, deadline, false, None).await
                    }
                    Transport::LongPoll => {
                        let hold = Some(shared.workload.hold);
                        poll_client(&shared, &mut tally, deadline, false, hold).await
                    }
                    Transport::Sse => sse_client(&shared, &mut tally, deadline).await,
                    Transport::WebSocket => ws_client(&shared, &mut tally, deadline, c).await,
                }
            };
            // WebSocket sends its messages up on its one connection (in ws_client); the
            // HTTP transports POST them, on a connection of their own.
            let up = async {
                match shared.transport {
                    _ if !dir.up() => Ok(()),
                    Transport::WebSocket if dir.down() => Ok(()),
                    Transport::WebSocket => ws_client(&shared, &mut up_tally, deadline, c).await,
                    t => post_sender(&shared, &mut up_tally, c, t == Transport::ShortPoll).await,
                }
            };
            let (r_down, r_up) = tokio::join!(down, up);
            tally.requests += up_tally.requests;
            tally.connections += up_tally.connections;
            tally.head_bytes += up_tally.head_bytes;
            tally.payload_bytes += up_tally.payload_bytes;
            let r = r_down.and(r_up);
            (c, tally, r.err().map(|e| e.to_string()))
        });
    }
    let mut tally = ClientTally::default();
    let mut per_client: Vec<(usize, Vec<u64>)> = Vec::new();
    let mut error = None;
    let overall = workload.deadline() + Duration::from_secs(5);
    let joined = timeout(overall, async {
        while let Some(done) = clients.join_next().await {
            match done {
                Ok((c, t, e)) => {
                    tally.requests += t.requests;
                    tally.empty_polls += t.empty_polls;
                    tally.connections += t.connections;
                    tally.head_bytes += t.head_bytes;
                    tally.payload_bytes += t.payload_bytes;
                    tally.latencies_us.extend(t.latencies_us);
                    per_client.push((c, t.received.into_iter().flatten().collect()));
                    if let Some(e) = e {
                        error.get_or_insert(format!("client {c}: {e}"));
                    }
                }
                Err(e) => {
                    error.get_or_insert(format!("a client task failed: {e}"));
                }
            }
        }
    })
    .await;
    if joined.is_err() {
        clients.abort_all();
        error.get_or_insert("the clients did not finish in time".to_owned());
    }
    per_client.sort_by_key(|(c, _)| *c);
    tally.received = per_client.into_iter().map(|(_, r)| r).collect();
    (tally, error)
}

/// Accept connections until told to stop, then let the open ones finish (bounded).
/// Returns the first connection error, if any.
async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    accepted: Arc<AtomicU64>,
    mut stop: oneshot::Receiver<()>,
) -> Option<String> {
    let mut conns: JoinSet<Result<(), HttpError>> = JoinSet::new();
    let mut first_error = None;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            a = listener.accept() => match a {
                Ok((stream, _)) => {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    let conn = HttpConn::new(stream, shared.server_count.clone());
                    let shared = shared.clone();
                    conns.spawn(async move { serve_conn(conn, &shared).await });
                }
                Err(e) => {
                    first_error.get_or_insert(format!("accept: {e}"));
                    break;
                }
            },
            Some(done) = conns.join_next() => {
                if let Ok(Err(e)) = done {
                    first_error.get_or_insert(e.to_string());
                }
            }
        }
    }
    let _ = timeout(Duration::from_secs(2), async {
        while let Some(done) = conns.join_next().await {
            if let Ok(Err(e)) = done {
                first_error.get_or_insert(e.to_string());
            }
        }
    })
    .await;
    conns.abort_all();
    first_error
}

async fn serve_conn(mut conn: HttpConn, shared: &Shared) -> Result<(), HttpError> {
    let w = &shared.workload;
    let idle = w.deadline();
    let trace = &shared.trace;
    // Messages from the clients come as POSTs, on connections of their own.
    let Some((first, first_len)) = conn.read_request_head(idle).await? else {
        return Ok(());
    };
    if first.method == "POST" {
        conn.unread(first, first_len);
        return serve_posts(conn, shared).await;
    }
    conn.unread(first, first_len);
    match shared.transport {
        Transport::ShortPoll | Transport::KeepAlivePoll | Transport::LongPoll => loop {
            let Some((head, _)) = conn.read_request_head(idle).await? else {
                return Ok(()); // the client closed its keep-alive connection
            };
            let close = head.headers.has_token("connection", "close");
            let Some(q) = wp::parse_poll_target(&head.target) else {
                conn.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await?;
                return Ok(());
            };
            let mut have = shared.source.published();
            if have <= q.next {
                if let Some(ms) = q.hold_ms {
                    trace.record(End::Server, "holds the request", None);
                    have = shared
                        .source
                        .wait_for(q.next + 1, Duration::from_millis(ms))
                        .await;
                }
            }
            let have = have.min(w.events);
            let mut body = Vec::new();
            for id in q.next..have {
                body.extend_from_slice(&wp::event_payload(id, w.payload));
            }
            let head = wp::poll_response_head(body.len(), close);
            let label = if body.is_empty() {
                format!("204 No Content ({} B)", head.len())
            } else {
                format!(
                    "200 OK, events {}..{} ({} B head + {} B body)",
                    q.next,
                    have - 1,
                    head.len(),
                    body.len()
                )
            };
            let mut msg = head;
            msg.extend_from_slice(&body);
            conn.write_all(&msg).await?;
            trace.record(End::Server, "answers", Some(label));
            if close {
                conn.shutdown().await;
                return Ok(());
            }
        },
        Transport::Sse => {
            if conn.read_request_head(idle).await?.is_none() {
                return Ok(());
            }
            conn.write_all(wp::SSE_RESPONSE_HEAD).await?;
            trace.record(
                End::Server,
                "opens the stream",
                Some(format!(
                    "200 OK text/event-stream ({} B)",
                    wp::SSE_RESPONSE_HEAD.len()
                )),
            );
            for id in 0..w.events {
                if shared.source.wait_for(id + 1, idle).await <= id {
                    break;
                }
                let ev = wp::sse_event(id, &wp::event_payload(id, w.payload));
                conn.write_all(&ev).await?;
                trace.record(
                    End::Server,
                    "writes an event",
                    Some(format!("id: {id} data: … ({} B)", ev.len())),
                );
            }
            conn.shutdown().await;
            Ok(())
        }
        Transport::WebSocket => {
            let Some((head, head_len)) = conn.read_request_head(idle).await? else {
                return Ok(());
            };
            // From here on the connection is net::ws's, still counted at the socket.
            let (stream, leftover) = conn.into_parts();
            let peer = stream.get_ref().peer_addr()?;
            let cfg = ws_config(w);
            let mut ws =
                ws::accept_request(stream, peer, &head, head_len, leftover, cfg, Instant::now())
                    .await
                    .map_err(|e| HttpError::Malformed(format!("upgrade refused: {e}")))?;
            trace.record(
                End::Server,
                "accepts the upgrade",
                Some(format!(
                    "101 Switching Protocols ({} B)",
                    ws.handshake_bytes().0
                )),
            );
            let down_total = if w.direction.down() { w.events } else { 0 };
            let up_total = if w.direction.up() { w.events } else { 0 };
            let (mut sent, mut got) = (0u64, 0u64);
            // Send events as they appear and read the client's messages, until both
            // directions are done (each wait bounded; the loop ends on a timeout too).
            while sent < down_total || got < up_total {
                tokio::select! {
                    have = shared.source.wait_for(sent + 1, idle), if sent < down_total => {
                        if have <= sent {
                            break; // no new event within the idle limit
                        }
                        for id in sent..have.min(down_total) {
                            let m = Message {
                                kind: MessageKind::Text,
                                payload: wp::event_payload(id, w.payload),
                            };
                            ws.send(&m).await.map_err(ws_error)?;
                            trace.record(End::Server, "sends a frame", Some(frame_label(&m, None)));
                        }
                        sent = have.min(down_total);
                    }
                    r = ws.recv(), if got < up_total => {
                        match r.map_err(ws_error)? {
                            Received::Message(m) => {
                                shared.up_received(&m.payload, false);
                                got += 1;
                            }
                            Received::Eof => break,
                            other => {
                                // A ping, a close or a broken rule: what RFC 6455 asks for.
                                if ws.respond(&other).await.map_err(ws_error)? == Flow::Closed {
                                    return Ok(());
                                }
                            }
                        }
                    }
                }
            }
            // §7.1.1: the server starts the close and ends the TCP connection; `close`
            // waits (bounded) for the client's close frame first.
            ws.close(CloseCode(1000), "").await;
            Ok(())
        }
    }
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

/// Answer POSTs (client-to-server messages) on one connection until it closes.
async fn serve_posts(mut conn: HttpConn, shared: &Shared) -> Result<(), HttpError> {
    let idle = shared.workload.deadline();
    for _ in 0..=MAX_POSTS_PER_CONN {
        let Some((head, _)) = conn.read_request_head(idle).await? else {
            return Ok(());
        };
        let len = head
            .headers
            .get("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n <= 1 << 20)
            .ok_or_else(|| HttpError::Malformed("a POST without a usable Content-Length".into()))?;
        let body = conn.read_body(len, idle).await?;
        shared.up_received(&body, true);
        let close = head.headers.has_token("connection", "close");
        let answer = wp::post_response_head(close);
        conn.write_all(&answer).await?;
        shared.trace.record(
            End::Server,
            "has the message",
            Some(format!("204 No Content ({} B)", answer.len())),
        );
        if close {
            conn.shutdown().await;
            return Ok(());
        }
    }
    Ok(())
}

/// One connection serves at most this many POSTs (a bound on the loop).
const MAX_POSTS_PER_CONN: u64 = 10_000_000;

/// Send client `c`'s messages as HTTP POSTs, one per interval; `close` opens a new
/// connection for each.
async fn post_sender(
    shared: &Shared,
    tally: &mut ClientTally,
    c: usize,
    close: bool,
) -> Result<(), HttpError> {
    let w = &shared.workload;
    let limit = w.io_limit();
    let host = shared.addr.to_string();
    let mut conn: Option<HttpConn> = None;
    for i in 0..w.events {
        if !w.interval.is_zero() {
            let at = shared.start() + w.interval * ((i + 1).min(u32::MAX as u64) as u32);
            tokio::time::sleep_until(at.into()).await;
        }
        let id = c as u64 * UP_STRIDE + i;
        let body = wp::event_payload(id, w.payload);
        shared.up_created(id);
        let cn = match conn.as_mut() {
            Some(cn) => cn,
            None => {
                let cn = HttpConn::connect(shared.addr, shared.client_count.clone(), limit).await?;
                tally.connections += 1;
                conn.insert(cn)
            }
        };
        let req = wp::post_request(&host, &body, close);
        cn.write_all(&req).await?;
        tally.requests += 1;
        tally.head_bytes += (req.len() - body.len()) as u64;
        shared.trace.record(
            End::Client,
            format!("sends message {i}"),
            Some(format!(
                "POST /messages ({} B head + {} B)",
                req.len() - body.len(),
                body.len()
            )),
        );
        let resp = cn.read_response(limit).await?;
        tally.head_bytes += resp.head_len as u64;
        if close {
            conn = None;
        }
    }
    Ok(())
}

/// Note event `id` as received now by client 0 of this tally.
fn receive(shared: &Shared, tally: &mut ClientTally, payload: &[u8]) {
    let now = Instant::now();
    tally.payload_bytes += payload.len() as u64;
    let Some(id) = wp::event_id(payload) else {
        return;
    };
    if let Some(created) = shared.source.created_at(id) {
        tally
            .latencies_us
            .push(now.saturating_duration_since(created).as_micros() as u64);
    }
    tally.received[0].push(id);
}

fn have_all(shared: &Shared, tally: &ClientTally) -> bool {
    tally.received[0].len() as u64 >= shared.workload.events
}

async fn poll_client(
    shared: &Shared,
    tally: &mut ClientTally,
    deadline: Instant,
    close: bool,
    hold: Option<Duration>,
) -> Result<(), HttpError> {
    let w = &shared.workload;
    let limit = w.io_limit();
    let host = shared.addr.to_string();
    let mut conn: Option<HttpConn> = None;
    let mut next = 0u64;
    while !have_all(shared, tally) && Instant::now() < deadline {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => {
                let c = open_connection(shared, tally, limit).await?;
                conn.insert(c)
            }
        };
        let hold_ms = hold.map(|h| h.as_millis() as u64);
        let req = wp::poll_request(&host, next, hold_ms, close);
        c.write_all(&req).await?;
        tally.requests += 1;
        tally.head_bytes += req.len() as u64;
        shared.trace.record(
            End::Client,
            format!("asks for events from {next}"),
            Some(format!("GET /poll ({} B)", req.len())),
        );
        let resp = c.read_response(limit).await?;
        tally.head_bytes += resp.head_len as u64;
        if resp.body.is_empty() {
            tally.empty_polls += 1;
            shared.trace.record(End::Client, "nothing new", None);
        }
        for payload in resp.body.chunks(w.payload.max(MIN_PAYLOAD)) {
            receive(shared, tally, payload);
            if let Some(id) = wp::event_id(payload) {
                next = next.max(id + 1);
                shared
                    .trace
                    .record(End::Client, format!("has event {id}"), None);
            }
        }
        if close {
            conn = None; // the server closes after its answer; so do we
        }
        if hold.is_none() && !have_all(shared, tally) {
            tokio::time::sleep(w.poll_interval).await;
        }
    }
    Ok(())
}

/// Open one client connection to the server: counted for the report and drawn in the
/// `--explain` trace as the TCP handshake it costs.
async fn open_connection(
    shared: &Shared,
    tally: &mut ClientTally,
    limit: Duration,
) -> Result<HttpConn, HttpError> {
    let conn = HttpConn::connect(shared.addr, shared.client_count.clone(), limit).await?;
    tally.connections += 1;
    shared.trace.record(
        End::Client,
        "opens a TCP connection",
        Some("SYN, SYN-ACK, ACK".to_owned()),
    );
    Ok(conn)
}

async fn sse_client(
    shared: &Shared,
    tally: &mut ClientTally,
    deadline: Instant,
) -> Result<(), HttpError> {
    let limit = shared.workload.io_limit();
    let mut conn = open_connection(shared, tally, limit).await?;
    let req = wp::sse_request(&shared.addr.to_string());
    conn.write_all(&req).await?;
    tally.requests += 1;
    tally.head_bytes += req.len() as u64;
    shared.trace.record(
        End::Client,
        "subscribes",
        Some(format!("GET /events ({} B)", req.len())),
    );
    let (head, head_len) = conn.read_response_head(limit).await?;
    tally.head_bytes += head_len as u64;
    if head.status != 200 {
        return Err(HttpError::Malformed(format!("status {}", head.status)));
    }
    while !have_all(shared, tally) && Instant::now() < deadline {
        while let Some((ev, used)) = wp::parse_sse_event(&conn.buf) {
            conn.consume(used);
            receive(shared, tally, &ev.data);
            if let Some(id) = wp::event_id(&ev.data) {
                shared
                    .trace
                    .record(End::Client, format!("has event {id}"), None);
            }
        }
        if have_all(shared, tally) {
            break;
        }
        if conn.read_more(limit, "waiting for an event").await? == 0 {
            break;
        }
    }
    // Read to the end of the stream so every byte the server sent is counted.
    while conn
        .read_more(limit, "waiting for the end of the stream")
        .await?
        > 0
    {}
    Ok(())
}

async fn ws_client(
    shared: &Shared,
    tally: &mut ClientTally,
    deadline: Instant,
    c: usize,
) -> Result<(), HttpError> {
    let w = &shared.workload;
    let limit = w.io_limit();
    let conn = open_connection(shared, tally, limit).await?;
    // The TCP connection is net::ws's from here on, still counted at the socket.
    let (stream, _) = conn.into_parts();
    let asked_at = Instant::now();
    let host = shared.addr.to_string();
    let mut ws = ws::handshake_client(stream, shared.addr, &host, "/events", ws_config(w), &[])
        .await
        .map_err(|e| ws_error(e.error))?;
    let (sent, received) = ws.handshake_bytes();
    tally.requests += 1;
    tally.head_bytes += (sent + received) as u64;
    shared.trace.record_at(
        asked_at,
        End::Client,
        "asks to upgrade",
        Some(format!("GET /events Upgrade: websocket ({sent} B)")),
    );
    // Client-to-server messages (direction up or both) go on this same connection.
    let up_total = if w.direction.up() { w.events } else { 0 };
    let mut up_sent = 0u64;
    loop {
        let next_at = shared.start() + w.interval * ((up_sent + 1).min(u32::MAX as u64) as u32);
        tokio::select! {
            r = ws.recv() => match r.map_err(ws_error)? {
                Received::Message(m) => {
                    receive(shared, tally, &m.payload);
                    if let Some(id) = wp::event_id(&m.payload) {
                        shared.trace.record(End::Client, format!("has event {id}"), None);
                    }
                }
                Received::Eof => break,
                other => {
                    // The server's close (answered, §5.5.1, then the client waits for the
                    // server to end the TCP connection), a ping, or a broken rule.
                    if ws.respond(&other).await.map_err(ws_error)? == Flow::Closed {
                        if let Received::Violation(e) = other {
                            return Err(HttpError::Malformed(e.to_string()));
                        }
                        break;
                    }
                }
            },
            _ = tokio::time::sleep_until(next_at.into()), if up_sent < up_total => {
                let id = c as u64 * UP_STRIDE + up_sent;
                let m = Message {
                    kind: MessageKind::Text,
                    payload: wp::event_payload(id, w.payload),
                };
                shared.up_created(id);
                ws.send(&m).await.map_err(ws_error)?;
                shared.trace.record(
                    End::Client,
                    format!("sends message {up_sent}"),
                    Some(frame_label(&m, Some([0; 4]))),
                );
                up_sent += 1;
            }
            _ = tokio::time::sleep_until(deadline.into()) => break,
        }
    }
    Ok(())
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
