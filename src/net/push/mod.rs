//! Five ways for a server to get events to a client, run for real on loopback with the
//! same event source: short polling (a new TCP connection per request), short polling on
//! a keep-alive connection, long polling, Server-Sent Events and WebSocket push.
//!
//! Both ends count their bytes at the socket API ([`ByteCount`]); the client records
//! when each event arrived, so the delivery latency is "the server has it" to "the
//! client has parsed it", measured on one clock in one process. The bytes come from
//! `wire::application::push` (HTTP heads, SSE) and `wire::application::websocket` (handshake, frames).
//!
//! - `mod.rs`: the vocabulary ([`PushTransport`], [`Traffic`], [`Workload`]), [`Shared`]
//!   (what both ends of a run share), why a connection failed ([`ConnError`]), and a
//!   thread's CPU time.
//! - `server.rs`: [`serve`], the event source and the one server that speaks all five.
//! - `client.rs`: [`run_clients`], every client of a run, down and up.
//!
//! This module only serves and asks. The experiment around it (a thread per side, the
//! capture beside the run, the steps kept for `--explain`, the report) is
//! `cmd::compare`'s.

mod client;
mod server;

pub use client::{run_clients, Clients, ClientsError};
pub use server::{serve, ServerError};

use crate::net::http::{ByteCount, HttpError};
use crate::net::ws::{WsConfig, WsError};
use crate::wire::application::push as wp;
use crate::wire::application::websocket::{FrameHeader, Message, ProtocolError};
use crate::wire::Role;
use serde::Serialize;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::time::timeout;

/// How events get from the server to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PushTransport {
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

impl PushTransport {
    pub const ALL: [PushTransport; 5] = [
        PushTransport::ShortPoll,
        PushTransport::KeepAlivePoll,
        PushTransport::LongPoll,
        PushTransport::Sse,
        PushTransport::WebSocket,
    ];

    /// The column title.
    pub fn title(self) -> &'static str {
        match self {
            PushTransport::ShortPoll => "short poll (new conn)",
            PushTransport::KeepAlivePoll => "short poll (keep-alive)",
            PushTransport::LongPoll => "long poll",
            PushTransport::Sse => "SSE",
            PushTransport::WebSocket => "WebSocket",
        }
    }
}

/// Which way the messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Traffic {
    /// Server to client: the events.
    Down,
    /// Client to server: each client sends as many messages (HTTP POSTs or WebSocket frames).
    Up,
    /// Both at once.
    Both,
}

impl Traffic {
    pub fn down(self) -> bool {
        self != Traffic::Up
    }
    pub fn up(self) -> bool {
        self != Traffic::Down
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
    pub direction: Traffic,
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

/// Told every step the server and the clients take (a request, an answer, a frame), for
/// `--explain`'s sequence diagrams. Both sides' threads call it on every step of a run,
/// so it must be cheap: `cmd::compare` keeps the first few steps and drops the rest.
pub trait Observer: Send + Sync {
    /// `end` did `action` at `at`; `sends` is what crossed the connection, with its size.
    /// `action` is mostly a `&'static str`, so a step that is dropped costs no copy.
    fn step(&self, at: Instant, end: Role, action: Cow<'static, str>, sends: Option<String>);
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

/// What the server and the clients of one run share: the workload, the event source,
/// a byte count per side, the messages going up, and the observer of their steps. Both
/// sides read one clock (`Instant`), so a latency is measured across them.
pub struct Shared {
    source: EventSource,
    workload: Workload,
    transport: PushTransport,
    /// When the run started: event `i` is due at `start + (i + 1) × interval`.
    start: Instant,
    server_count: Arc<ByteCount>,
    client_count: Arc<ByteCount>,
    /// TCP connections the server accepted.
    accepted: AtomicU64,
    observer: Arc<dyn Observer>,
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
    /// A run of `transport` with its server on `addr`, started at `start`.
    pub fn new(
        transport: PushTransport,
        workload: &Workload,
        addr: SocketAddr,
        start: Instant,
        observer: Arc<dyn Observer>,
    ) -> Shared {
        Shared {
            source: EventSource::new(),
            workload: workload.clone(),
            transport,
            start,
            server_count: Arc::new(ByteCount::default()),
            client_count: Arc::new(ByteCount::default()),
            accepted: AtomicU64::new(0),
            observer,
            addr,
            up: Mutex::new(UpState {
                created: Default::default(),
                tally: UpTally {
                    received: vec![Vec::new(); workload.clients],
                    ..UpTally::default()
                },
            }),
        }
    }

    /// Bytes the clients read and wrote at their sockets.
    pub fn client_bytes(&self) -> &ByteCount {
        &self.client_count
    }

    /// Bytes the server read and wrote at its sockets.
    pub fn server_bytes(&self) -> &ByteCount {
        &self.server_count
    }

    /// TCP connections the server accepted.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// What the server received from the clients.
    pub fn up_tally(&self) -> UpTally {
        let st = self.up.lock().unwrap_or_else(|e| e.into_inner());
        st.tally.clone()
    }

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

    /// Tell the observer that `end` did `action` now.
    fn record(&self, end: Role, action: impl Into<Cow<'static, str>>, sends: Option<String>) {
        self.record_at(Instant::now(), end, action, sends)
    }

    /// Tell the observer of a step that happened at `at` (before the code that records it
    /// had the whole picture, as when a handshake's request is drawn once its answer is in).
    ///
    /// A step that sends bytes is timed just *before* its write: the peer can only read
    /// them after that instant, so on the one monotonic clock both ends share, a cause
    /// always sorts before its effect. Timed after the write (as it once was), the other
    /// end, on another thread, could read and record "has event 0" first, and the trace
    /// showed the event above the `200 OK` that carried it.
    fn record_at(
        &self,
        at: Instant,
        end: Role,
        action: impl Into<Cow<'static, str>>,
        sends: Option<String>,
    ) {
        self.observer.step(at, end, action.into(), sends)
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

/// Why one connection of a run failed, on the server's side or a client's.
///
/// The messages read as they did when these were strings inside an `HttpError` (the
/// report shows them), which is why a server-side failure may say "the response".
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// Reading or writing HTTP failed: I/O, a time limit, a head that does not parse.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The socket under a WebSocket connection failed.
    #[error(transparent)]
    WsIo(std::io::Error),
    /// The WebSocket connection failed otherwise: a time limit, the server's answer to
    /// the upgrade refused (RFC 6455 §4.1), the peer closing during the handshake.
    #[error("the response is malformed: {0}")]
    WebSocket(WsError),
    /// The server refused a client's upgrade request (RFC 6455 §4.2.1).
    #[error("the response is malformed: upgrade refused: {0}")]
    UpgradeRefused(WsError),
    /// The SSE subscription was answered with another status than `200 OK`.
    #[error("the response is malformed: status {0}")]
    SseStatus(u16),
    /// The server broke a rule of RFC 6455 (the client closed with the rule's code).
    #[error("the response is malformed: {0}")]
    Violation(ProtocolError),
    /// A POST without a `Content-Length` of at most 1 MiB (RFC 9112 §6.2; netlab's
    /// clients always send one).
    #[error("the response is malformed: a POST without a usable Content-Length")]
    PostWithoutLength,
}

impl From<WsError> for ConnError {
    /// A socket error stays an I/O error, shown as the OS words it; the rest are the
    /// WebSocket connection's own.
    fn from(e: WsError) -> ConnError {
        match e {
            WsError::Io(e) => ConnError::WsIo(e),
            e => ConnError::WebSocket(e),
        }
    }
}

/// CPU time used so far by the calling thread, in the kernel and out of it (Linux: the
/// first field of `/proc/thread-self/schedstat`, nanoseconds on the CPU). `None` where
/// that is not available.
pub fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = text.split_whitespace().next()?.parse::<u64>().ok()?;
    Some(Duration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_websocket_socket_error_reads_as_the_os_words_it_and_the_rest_as_before() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let shown = io.to_string();
        let e = ConnError::from(WsError::Io(io));
        assert!(matches!(e, ConnError::WsIo(_)), "{e:?}");
        assert_eq!(e.to_string(), shown);
        let e = ConnError::from(WsError::Timeout("reading a frame"));
        assert!(matches!(e, ConnError::WebSocket(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "the response is malformed: timed out reading a frame"
        );
        assert_eq!(
            ConnError::SseStatus(503).to_string(),
            "the response is malformed: status 503"
        );
    }

    #[test]
    fn a_failed_client_is_named_by_its_number() {
        let e = ClientsError::Client {
            client: 2,
            source: ConnError::PostWithoutLength,
        };
        assert_eq!(
            e.to_string(),
            "client 2: the response is malformed: a POST without a usable Content-Length"
        );
        assert_eq!(
            ServerError::from(ConnError::SseStatus(404)).to_string(),
            "the response is malformed: status 404"
        );
    }
}
