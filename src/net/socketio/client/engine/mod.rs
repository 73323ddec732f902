//! One Engine.IO session on the client's side, run as a task: the handshake, long-polling
//! (one connection for the waiting GET, one for the POSTs), the WebSocket, the upgrade
//! from one to the other, and the heartbeat. The Socket.IO client above it
//! ([`super::SioClient`]) talks to it through two channels, so reading what arrives is
//! cancel-safe and the polling GET runs while a POST is on its way.
//!
//! ```text
//!   SioClient ──EngineCmd──►  engine task  ──HTTP / WebSocket──►  server
//!             ◄─EngineEvent─             ◄──
//! ```

mod polling;
mod websocket;

use super::ClientError;
use crate::net::http::{ByteCount, HttpConn, HttpError, Response};
use crate::net::ws::{self, Received, WsConfig, WsConnection, WsUrl};
use crate::wire::application::engineio::client::{ping_deadline, target, CloseReason};
use crate::wire::application::engineio::{
    decode_payload, encode_payload, Message, OpenInfo, Packet, PayloadLimits, Transport,
};
use crate::wire::application::http1::parse_chunked;
use crate::wire::application::socketio::EngineMessage;
use crate::wire::application::websocket::{CloseCode, Message as WsMessage, MessageKind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, timeout, Instant};

/// The transports a client uses, as socket.io-client's `transports` option chooses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportChoice {
    /// HTTP long-polling only.
    Polling,
    /// A WebSocket from the start.
    WebSocket,
    /// Long-polling first, then the upgrade to a WebSocket (socket.io-client's default).
    PollingThenUpgrade,
}

/// Where and how to open a session.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub host: String,
    pub port: u16,
    /// The server's path, as `/socket.io/`.
    pub path: String,
    pub transport: TransportChoice,
    pub ws: WsConfig,
    pub limits: PayloadLimits,
}

/// One Engine.IO packet as it travelled, and what carried it (`--trace`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    pub outgoing: bool,
    /// The packet in its text form (`42["hi"]`, `2`, `bAQID`); a binary WebSocket
    /// message as `<N bytes>`.
    pub packet: String,
    /// The HTTP request or WebSocket frame that carried it.
    pub carrier: String,
}

/// What the session tells the client.
#[derive(Debug)]
pub enum EngineEvent {
    Open {
        info: OpenInfo,
        transport: Transport,
    },
    Message(EngineMessage),
    /// The session moved onto its WebSocket.
    Upgraded,
    Trace(Carried),
    Closed {
        reason: CloseReason,
        detail: Option<String>,
    },
    /// The handshake failed: no session.
    Failed(ClientError),
}

/// What the client asks of the session.
#[derive(Debug)]
pub enum EngineCmd {
    /// The messages of one Socket.IO packet, sent together.
    Send(Vec<EngineMessage>),
    Close,
}

/// The handle on a running session.
pub struct Engine {
    cmds: mpsc::Sender<EngineCmd>,
    events: mpsc::Receiver<EngineEvent>,
    task: JoinHandle<()>,
}

/// Messages waiting either way: a reader that falls behind slows the session down.
const CHANNEL: usize = 1024;
/// How long a request may take beyond the heartbeat, and how long a close may take.
const SLACK: Duration = Duration::from_secs(5);

impl Engine {
    /// Start the session's task; its first event is `Open` or `Failed`.
    pub fn start(cfg: EngineConfig) -> Engine {
        let (cmd_tx, cmd_rx) = mpsc::channel(CHANNEL);
        let (ev_tx, ev_rx) = mpsc::channel(CHANNEL);
        let task = tokio::spawn(run(cfg, cmd_rx, ev_tx));
        Engine {
            cmds: cmd_tx,
            events: ev_rx,
            task,
        }
    }

    /// Queue a packet's messages; `false` when the session has ended.
    pub async fn send(&self, messages: Vec<EngineMessage>) -> bool {
        self.cmds.send(EngineCmd::Send(messages)).await.is_ok()
    }

    /// The next event; `None` once the task has ended. Cancel-safe.
    pub async fn recv(&mut self) -> Option<EngineEvent> {
        self.events.recv().await
    }

    /// Close the session after what was queued has gone out (bounded wait).
    pub async fn close(self) {
        let _ = self.cmds.send(EngineCmd::Close).await;
        let mut task = self.task;
        if timeout(SLACK, &mut task).await.is_err() {
            task.abort();
        }
    }

    /// Stop at once, sending nothing more (a parse error on the client's side).
    pub fn abort(self) {
        self.task.abort();
    }
}

async fn run(
    cfg: EngineConfig,
    cmds: mpsc::Receiver<EngineCmd>,
    events: mpsc::Sender<EngineEvent>,
) {
    let session = Session {
        cfg,
        events,
        t: Arc::new(AtomicU64::new(1)),
        heartbeat_ms: AtomicU64::new(0),
    };
    match session.cfg.transport {
        TransportChoice::WebSocket => match session.open_ws(None).await {
            Ok((ws, info)) => {
                let deadline = session.opened(info.clone(), Transport::WebSocket).await;
                session.websocket(ws, cmds, deadline).await;
            }
            Err(e) => session.emit(EngineEvent::Failed(e)).await,
        },
        _ => match session.poll_handshake().await {
            Ok((conn, info)) => {
                let deadline = session.opened(info.clone(), Transport::Polling).await;
                session.polling(conn, info, cmds, deadline).await;
            }
            Err(e) => session.emit(EngineEvent::Failed(e)).await,
        },
    }
}

/// What a long-polling GET brought back.
enum Poll {
    Body {
        packets: Vec<Packet>,
        carrier: String,
    },
    Failed {
        reason: CloseReason,
        detail: String,
    },
    /// The poller stopped, as asked, for the upgrade.
    Paused,
}

struct Session {
    cfg: EngineConfig,
    events: mpsc::Sender<EngineEvent>,
    /// The cache buster's counter.
    t: Arc<AtomicU64>,
    /// `pingInterval + pingTimeout` of the open session, in milliseconds.
    heartbeat_ms: AtomicU64,
}

/// A WebSocket probe's outcome.
type Probe = oneshot::Receiver<Result<WsConnection, String>>;

impl Session {
    async fn emit(&self, e: EngineEvent) {
        let _ = self.events.send(e).await;
    }

    async fn trace(&self, outgoing: bool, packet: String, carrier: String) {
        let c = Carried {
            outgoing,
            packet,
            carrier,
        };
        self.emit(EngineEvent::Trace(c)).await;
    }

    async fn closed(&self, reason: CloseReason, detail: Option<String>) {
        self.emit(EngineEvent::Closed { reason, detail }).await;
    }

    /// Announce the session; the first ping deadline.
    async fn opened(&self, info: OpenInfo, transport: Transport) -> Instant {
        let heartbeat = ping_deadline(info.ping_interval, info.ping_timeout);
        self.heartbeat_ms
            .store(heartbeat.as_millis() as u64, Ordering::Relaxed);
        let deadline = Instant::now() + heartbeat;
        self.emit(EngineEvent::Open { info, transport }).await;
        deadline
    }

    /// When the next ping is due at the latest, counting from now.
    fn ping_due(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.heartbeat_ms.load(Ordering::Relaxed))
    }

    fn next_t(&self) -> u64 {
        self.t.fetch_add(1, Ordering::Relaxed)
    }

    fn request(&self, method: &str, target: &str, body: &str) -> Vec<u8> {
        let host = format!("{}:{}", self.cfg.host, self.cfg.port);
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n");
        if method == "POST" {
            head.push_str("Content-Type: text/plain;charset=UTF-8\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("Connection: keep-alive\r\n\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        bytes
    }

    async fn connect_http(&self) -> Result<HttpConn, HttpError> {
        let addr = tokio::net::lookup_host((self.cfg.host.as_str(), self.cfg.port))
            .await?
            .next()
            .ok_or_else(|| HttpError::Malformed(format!("no address for {}", self.cfg.host)))?;
        HttpConn::connect(
            addr,
            Arc::new(ByteCount::default()),
            self.cfg.ws.handshake_timeout,
        )
        .await
    }

    /// The handshake GET: a new session and its open packet.
    async fn poll_handshake(&self) -> Result<(HttpConn, OpenInfo), ClientError> {
        let mut conn = self.connect_http().await?;
        let target = target(
            &self.cfg.path,
            Transport::Polling,
            None,
            Some(self.next_t()),
        );
        conn.write_all(&self.request("GET", &target, "")).await?;
        let r = read_response(
            &mut conn,
            self.cfg.ws.handshake_timeout,
            self.cfg.limits.max_bytes,
        )
        .await?;
        if r.head.status != 200 {
            return Err(ClientError::Refused {
                status: r.head.status,
                body: String::from_utf8_lossy(&r.body).into_owned(),
            });
        }
        let packets = decode_payload(&r.body, self.cfg.limits)?;
        let carrier = format!("GET {target} → {} ({} bytes)", r.head.status, r.body.len());
        let mut info = None;
        for p in &packets {
            self.trace(false, p.to_text(), carrier.clone()).await;
            if let Packet::Open(json) = p {
                info = OpenInfo::from_json(json).ok();
            }
        }
        Ok((conn, info.ok_or(ClientError::NoOpen)?))
    }

    /// Open a WebSocket (for a session `sid`, the upgrade; otherwise a new session and
    /// its open packet).
    async fn open_ws(&self, sid: Option<&str>) -> Result<(WsConnection, OpenInfo), ClientError> {
        let url = WsUrl {
            host: self.cfg.host.clone(),
            port: self.cfg.port,
            resource: target(&self.cfg.path, Transport::WebSocket, sid, None),
        };
        let mut ws = ws::connect(&url, self.cfg.ws.clone(), &[])
            .await
            .map_err(|e| e.error)?;
        let Received::Message(m) = ws.recv().await? else {
            return Err(ClientError::NoOpen);
        };
        let text = String::from_utf8(m.payload).map_err(|_| ClientError::NotUtf8)?;
        self.trace(
            false,
            text.clone(),
            frame_carrier(MessageKind::Text, text.len()),
        )
        .await;
        match Packet::decode_text(&text)? {
            Packet::Open(json) => Ok((
                ws,
                OpenInfo::from_json(&json).map_err(|_| ClientError::NoOpen)?,
            )),
            _ => Err(ClientError::NoOpen),
        }
    }
}

/// A whole response, its body framed by `Content-Length` or chunked (how node frames
/// the reference server's error answers), at most `max` bytes.
async fn read_response(
    conn: &mut HttpConn,
    limit: Duration,
    max: usize,
) -> Result<Response, HttpError> {
    let (head, head_len) = conn.read_response_head(limit).await?;
    let chunked = head
        .headers
        .get("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        loop {
            match parse_chunked(&conn.buf, max) {
                Ok(Some((body, used))) => {
                    conn.consume(used);
                    break body;
                }
                Ok(None) if conn.buf.len() <= max.saturating_mul(2) => {
                    if conn.read_more(limit, "waiting for a chunked body").await? == 0 {
                        return Err(HttpError::Closed("in the middle of a chunked body"));
                    }
                }
                Ok(None) => return Err(HttpError::Malformed("a chunked body too large".into())),
                Err(e) => return Err(HttpError::Malformed(e.to_string())),
            }
        }
    } else {
        let len = match head.headers.get("content-length") {
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| HttpError::Malformed(format!("Content-Length {v:?}")))?,
            None => 0,
        };
        if len > max {
            return Err(HttpError::Malformed(format!("a body of {len} bytes")));
        }
        conn.read_body(len, limit).await?
    };
    Ok(Response {
        head,
        head_len,
        body,
    })
}

fn frame_carrier(kind: MessageKind, len: usize) -> String {
    let kind = match kind {
        MessageKind::Text => "text",
        MessageKind::Binary => "binary",
    };
    format!("WebSocket {kind} frame ({len} bytes)")
}

/// An Engine.IO packet for one of Socket.IO's messages.
fn packet_of(m: EngineMessage) -> Packet {
    match m {
        EngineMessage::Text(t) => Packet::text(t),
        EngineMessage::Binary(b) => Packet::binary(b),
    }
}
