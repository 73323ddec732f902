//! A Socket.IO 5 client, as socket.io-client 4 behaves: Engine.IO over long-polling, a
//! WebSocket, or polling then the upgrade ([`engine`]); one namespace at a time;
//! emits with or without an acknowledgement, `volatile` emits; reconnection with
//! back-off; a send buffer while disconnected; connection state recovery.
//!
//! ```text
//!   GET  /socket.io/?EIO=4&transport=polling&t=1   ◄ 0{"sid":..,"upgrades":["websocket"],..}
//!   POST ...&sid=..                                 ► 40{"token":..}       CONNECT (auth)
//!   GET  ...&sid=..                                 ◄ 40{"sid":"..","pid":".."}
//!   WebSocket ...&transport=websocket&sid=..        ► 2probe ◄ 3probe ► 5  (the upgrade)
//!                                                   ► 42["hello","world"]
//! ```
//!
//! When the connection drops for a reason other than a deliberate disconnect (by either
//! side), the client waits (1 s, 2 s, 4 s, 5 s, … each moved by up to half at random),
//! opens a new session and sends CONNECT again with `pid` and `offset` in its auth: the
//! server that keeps state answers with the same `pid` and replays what was missed
//! (`recovered`). Emits made while disconnected wait in a buffer and go out, in order,
//! once the namespace lets the socket in again; `volatile` emits are dropped instead.

pub mod engine;

use crate::net::http::HttpError;
use crate::net::ws::{WsConfig, WsError};
use crate::wire::application::engineio::client::{Backoff, CloseReason};
use crate::wire::application::engineio::{OpenInfo, PayloadError, PayloadLimits, Transport};
use crate::wire::application::socketio::{Data, Decoder, EngineMessage, Kind, Limits, Packet};
pub use engine::TransportChoice;
use engine::{Carried, Engine, EngineConfig, EngineEvent};
use serde_json::{Map, Value};
use std::collections::VecDeque;

/// What can go wrong, each a rule the server or the connection broke.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Ws(#[from] WsError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("the server answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("the server's first Engine.IO packet was not `open` with its parameters")]
    NoOpen,
    #[error("an Engine.IO packet that could not be read: {0}")]
    Engine(#[from] crate::wire::application::engineio::PacketError),
    #[error("a long-polling body that could not be read: {0}")]
    Payload(#[from] PayloadError),
    #[error("a Socket.IO packet that could not be read: {0}")]
    Packet(#[from] crate::wire::application::socketio::PacketError),
    #[error("a text WebSocket message that is not UTF-8")]
    NotUtf8,
    #[error("the server broke the WebSocket protocol: {0}")]
    Violation(crate::wire::application::websocket::ProtocolError),
    #[error("the send buffer holds {0} packets already (the client is disconnected)")]
    BufferFull(usize),
}

/// What the client hears.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// The namespace let the socket in: its id ([`SioClient::recovered`] says whether
    /// the server restored the previous session).
    Connected { sid: String },
    /// The namespace refused it (`{"message": ..}`).
    ConnectError { payload: Value },
    Event {
        name: String,
        args: Vec<Data>,
        ack: Option<u64>,
    },
    /// The answer to an emit with ack.
    Ack { id: u64, args: Vec<Data> },
    /// The server took the socket out of the namespace (DISCONNECT): `io server
    /// disconnect`, no reconnection.
    Disconnected,
    /// The Engine.IO session ended, with socket.io-client's reason.
    Closed { reason: &'static str },
    /// A new Engine.IO session opened (after a reconnection, or `reconnect`).
    Opened {
        session: String,
        transport: &'static str,
    },
    /// The session moved from long-polling onto its WebSocket.
    Upgraded,
    /// The next attempt to connect again, after `delay_ms`.
    Reconnecting { attempt: u32, delay_ms: u64 },
    /// An attempt to connect again failed.
    ReconnectFailed { attempt: u32, error: String },
    /// No attempts left: the client stays disconnected.
    GaveUp { attempts: u32 },
}

/// One Socket.IO message (a packet's text, or one attachment), for tracing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    pub outgoing: bool,
    pub message: EngineMessage,
}

/// What became of an emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Handed to the transport.
    Sent,
    /// Disconnected: kept in the send buffer until the socket is connected again.
    Buffered,
    /// A `volatile` emit while disconnected: dropped.
    Dropped,
}

/// How to connect, with socket.io-client's defaults.
#[derive(Debug, Clone)]
pub struct Options {
    pub namespace: String,
    /// The server's path (`/socket.io/`).
    pub path: String,
    pub transport: TransportChoice,
    /// CONNECT's payload (the server's `socket.handshake.auth`).
    pub auth: Option<Map<String, Value>>,
    pub reconnection: bool,
    /// Attempts before giving up; `None` tries for ever.
    pub reconnection_attempts: Option<u32>,
    pub backoff: Backoff,
    pub ws: WsConfig,
    /// Packets kept while disconnected.
    pub send_buffer: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            namespace: "/".to_owned(),
            path: "/socket.io/".to_owned(),
            transport: TransportChoice::PollingThenUpgrade,
            auth: None,
            reconnection: true,
            reconnection_attempts: None,
            backoff: Backoff::default(),
            ws: WsConfig::default(),
            send_buffer: 10_000,
        }
    }
}

/// A client joined to one namespace.
pub struct SioClient {
    host: String,
    port: u16,
    options: Options,
    engine: Option<Engine>,
    transport: Transport,
    decoder: Decoder,
    namespace: String,
    next_ack: u64,
    /// The Engine.IO session's parameters (the latest session's).
    pub open: OpenInfo,
    /// Every Socket.IO message in and out since the last [`SioClient::take_wire`].
    wire: Vec<Wire>,
    carried: Vec<Carried>,
    connected: bool,
    sid: Option<String>,
    /// Connection state recovery: the private session id and the last event's offset.
    pid: Option<String>,
    offset: Option<String>,
    recovered: bool,
    buffer: VecDeque<Packet>,
    /// When the next reconnection attempt starts.
    reconnect_at: Option<tokio::time::Instant>,
    queue: VecDeque<Heard>,
}

/// The resource a WebSocket-only Engine.IO client asks for.
pub const RESOURCE: &str = "/socket.io/?EIO=4&transport=websocket";

impl SioClient {
    /// Open a WebSocket, read Engine.IO's open packet, ask to join `namespace` (no
    /// reconnection).
    pub async fn connect(
        host: &str,
        port: u16,
        namespace: &str,
        auth: Option<Map<String, Value>>,
        cfg: WsConfig,
    ) -> Result<SioClient, ClientError> {
        let options = Options {
            namespace: namespace.to_owned(),
            transport: TransportChoice::WebSocket,
            auth,
            reconnection: false,
            ws: cfg,
            ..Options::default()
        };
        SioClient::connect_with(host, port, options).await
    }

    /// Open an Engine.IO session as `options` says and ask to join the namespace.
    pub async fn connect_with(
        host: &str,
        port: u16,
        options: Options,
    ) -> Result<SioClient, ClientError> {
        let mut client = SioClient {
            host: host.to_owned(),
            port,
            namespace: options.namespace.clone(),
            engine: None,
            transport: Transport::Polling,
            decoder: Decoder::new(Limits::default()),
            next_ack: 0,
            open: OpenInfo {
                sid: String::new(),
                upgrades: Vec::new(),
                ping_interval: 0,
                ping_timeout: 0,
                max_payload: 0,
            },
            wire: Vec::new(),
            carried: Vec::new(),
            connected: false,
            sid: None,
            pid: None,
            offset: None,
            recovered: false,
            buffer: VecDeque::new(),
            reconnect_at: None,
            queue: VecDeque::new(),
            options,
        };
        client.start_engine();
        loop {
            let engine = client.engine.as_mut().ok_or(ClientError::NoOpen)?;
            match engine.recv().await {
                Some(EngineEvent::Trace(c)) => client.carried.push(c),
                Some(EngineEvent::Open { info, transport }) => {
                    client.opened(info, transport).await;
                    return Ok(client);
                }
                Some(EngineEvent::Failed(e)) => return Err(e),
                _ => return Err(ClientError::NoOpen),
            }
        }
    }

    fn start_engine(&mut self) {
        self.decoder = Decoder::new(Limits::default());
        self.engine = Some(Engine::start(EngineConfig {
            host: self.host.clone(),
            port: self.port,
            path: self.options.path.clone(),
            transport: self.options.transport,
            ws: self.options.ws.clone(),
            limits: PayloadLimits::default(),
        }));
    }

    /// A session opened: ask to join the namespace, with `pid` and `offset` when there
    /// was a session before.
    async fn opened(&mut self, info: OpenInfo, transport: Transport) {
        self.open = info;
        self.transport = transport;
        let _ = self.send(self.connect_packet()).await;
    }

    fn connect_packet(&self) -> Packet {
        let mut auth = self.options.auth.clone();
        if let Some(pid) = &self.pid {
            let a = auth.get_or_insert_with(Map::new);
            a.insert("pid".into(), Value::String(pid.clone()));
            if let Some(offset) = &self.offset {
                a.insert("offset".into(), Value::String(offset.clone()));
            }
        }
        Packet::new(self.namespace.clone(), Kind::Connect(auth))
    }

    /// The Socket.IO messages that went in and out since the last call.
    pub fn take_wire(&mut self) -> Vec<Wire> {
        std::mem::take(&mut self.wire)
    }

    /// The Engine.IO packets that went in and out since the last call, each with what
    /// carried it.
    pub fn take_carried(&mut self) -> Vec<Carried> {
        std::mem::take(&mut self.carried)
    }

    /// Did the server restore the previous session at the last CONNECT?
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    /// The private session id of the last CONNECT answer, when recovery is on.
    pub fn pid(&self) -> Option<&str> {
        self.pid.as_deref()
    }

    /// The offset of the last event received, when recovery is on.
    pub fn offset(&self) -> Option<&str> {
        self.offset.as_deref()
    }

    /// The transport in use: `polling` or `websocket`.
    pub fn transport(&self) -> &'static str {
        self.transport.name()
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Is the socket in its namespace now?
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Packets waiting in the send buffer.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Emit an event; with `ack`, the id its answer ([`Heard::Ack`]) will carry.
    pub async fn emit(
        &mut self,
        name: &str,
        args: Vec<Data>,
        ack: bool,
    ) -> Result<Option<u64>, ClientError> {
        Ok(self.emit_with(name, args, ack, false).await?.0)
    }

    /// Emit an event, `volatile` or not: the ack id, and whether it went out, waits in
    /// the send buffer or was dropped.
    pub async fn emit_with(
        &mut self,
        name: &str,
        args: Vec<Data>,
        ack: bool,
        volatile: bool,
    ) -> Result<(Option<u64>, Delivery), ClientError> {
        let id = ack.then(|| {
            self.next_ack += 1;
            self.next_ack - 1
        });
        let kind = Kind::Event {
            name: name.to_owned(),
            args,
            ack: id,
        };
        let packet = Packet::new(self.namespace.clone(), kind);
        if self.connected && self.send(packet.clone()).await.is_ok() {
            return Ok((id, Delivery::Sent));
        }
        if volatile {
            return Ok((id, Delivery::Dropped));
        }
        if self.buffer.len() >= self.options.send_buffer {
            return Err(ClientError::BufferFull(self.buffer.len()));
        }
        self.buffer.push_back(packet);
        Ok((id, Delivery::Buffered))
    }

    /// Answer the server's event `id` (its ack callback).
    pub async fn ack(&mut self, id: u64, args: Vec<Data>) -> Result<(), ClientError> {
        let kind = Kind::Ack { id, args };
        self.send(Packet::new(self.namespace.clone(), kind)).await
    }

    /// Leave the namespace (DISCONNECT) and close the connection: no reconnection.
    pub async fn disconnect(&mut self) -> Result<(), ClientError> {
        if self.connected {
            let _ = self
                .send(Packet::new(self.namespace.clone(), Kind::Disconnect))
                .await;
        }
        self.connected = false;
        self.reconnect_at = None;
        if let Some(engine) = self.engine.take() {
            engine.close().await;
        }
        Ok(())
    }

    /// Leave and connect again at once, in a new Engine.IO session (what a
    /// `socket.disconnect().connect()` does). The next events tell how it went.
    pub async fn reconnect(&mut self) -> Result<(), ClientError> {
        self.disconnect().await?;
        self.options.backoff.reset();
        self.start_engine();
        Ok(())
    }

    /// Leave this namespace and join `namespace` on the same session.
    pub async fn switch_namespace(&mut self, namespace: &str) -> Result<(), ClientError> {
        if self.connected {
            self.send(Packet::new(self.namespace.clone(), Kind::Disconnect))
                .await?;
        }
        self.connected = false;
        self.namespace = namespace.to_owned();
        self.pid = None;
        self.offset = None;
        if self.engine.is_some() {
            self.send(self.connect_packet()).await?;
        }
        Ok(())
    }

    async fn send(&mut self, packet: Packet) -> Result<(), ClientError> {
        let messages = packet.encode();
        for m in &messages {
            let w = Wire {
                outgoing: true,
                message: m.clone(),
            };
            keep(&mut self.wire, w);
        }
        match &self.engine {
            Some(engine) if engine.send(messages).await => Ok(()),
            _ => Err(ClientError::Http(HttpError::Closed(
                "before the packet was sent",
            ))),
        }
    }

    /// The next thing that happens. Cancel-safe (it can sit in `tokio::select!`): the
    /// session runs in its own task and a reconnection waits for a fixed instant. When
    /// the client is disconnected and will not reconnect, it waits for ever.
    pub async fn next(&mut self) -> Result<Heard, ClientError> {
        loop {
            if let Some(h) = self.queue.pop_front() {
                return Ok(h);
            }
            let Some(engine) = self.engine.as_mut() else {
                let Some(at) = self.reconnect_at else {
                    std::future::pending::<()>().await;
                    continue;
                };
                tokio::time::sleep_until(at).await;
                self.reconnect_at = None;
                self.start_engine();
                continue;
            };
            let Some(event) = engine.recv().await else {
                return Ok(self.closed(CloseReason::TransportError));
            };
            match event {
                EngineEvent::Trace(c) => keep(&mut self.carried, c),
                EngineEvent::Open { info, transport } => {
                    let session = info.sid.clone();
                    self.opened(info, transport).await;
                    return Ok(Heard::Opened {
                        session,
                        transport: transport.name(),
                    });
                }
                EngineEvent::Failed(e) => return Ok(self.attempt_failed(e)),
                EngineEvent::Upgraded => {
                    self.transport = Transport::WebSocket;
                    return Ok(Heard::Upgraded);
                }
                EngineEvent::Closed { reason, .. } => return Ok(self.closed(reason)),
                EngineEvent::Message(m) => {
                    let w = Wire {
                        outgoing: false,
                        message: m.clone(),
                    };
                    keep(&mut self.wire, w);
                    let packet = match self.decoder.push(m) {
                        Ok(Some(p)) => p,
                        Ok(None) => continue,
                        Err(_) => {
                            if let Some(engine) = self.engine.take() {
                                engine.abort();
                            }
                            return Ok(self.closed(CloseReason::ParseError));
                        }
                    };
                    if packet.namespace != self.namespace {
                        continue;
                    }
                    return Ok(self.on_packet(packet.kind).await);
                }
            }
        }
    }

    async fn on_packet(&mut self, kind: Kind) -> Heard {
        match kind {
            Kind::Connect(payload) => {
                let field = |k: &str| {
                    payload
                        .as_ref()
                        .and_then(|p| p.get(k).and_then(Value::as_str).map(str::to_owned))
                };
                let sid = field("sid").unwrap_or_default();
                let pid = field("pid");
                self.recovered = pid.is_some() && pid == self.pid;
                if !self.recovered {
                    self.offset = None;
                }
                self.pid = pid;
                self.sid = Some(sid.clone());
                self.connected = true;
                self.options.backoff.reset();
                while let Some(mut p) = self.buffer.pop_front() {
                    p.namespace = self.namespace.clone();
                    if self.send(p).await.is_err() {
                        break;
                    }
                }
                Heard::Connected { sid }
            }
            Kind::ConnectError(payload) => Heard::ConnectError { payload },
            Kind::Event { name, args, ack } => {
                // With recovery on, the server adds the event's offset as a last
                // argument; socket.io-client keeps the latest (and leaves it in place).
                if self.pid.is_some() {
                    if let Some(Data::Json(Value::String(o))) = args.last() {
                        self.offset = Some(o.clone());
                    }
                }
                Heard::Event { name, args, ack }
            }
            Kind::Ack { id, args } => Heard::Ack { id, args },
            Kind::Disconnect => {
                self.connected = false;
                if let Some(engine) = self.engine.take() {
                    engine.close().await;
                }
                Heard::Disconnected
            }
        }
    }

    /// The session ended: schedule the next attempt when the reason allows one.
    fn closed(&mut self, reason: CloseReason) -> Heard {
        self.connected = false;
        self.engine = None;
        if reason.reconnects() && self.options.reconnection {
            self.schedule();
        }
        Heard::Closed {
            reason: reason.as_str(),
        }
    }

    fn attempt_failed(&mut self, e: ClientError) -> Heard {
        self.engine = None;
        let attempt = self.options.backoff.attempts;
        if self.options.reconnection {
            self.schedule();
        }
        Heard::ReconnectFailed {
            attempt,
            error: e.to_string(),
        }
    }

    /// Queue `Reconnecting` (or `GaveUp`) and set the time of the next attempt.
    fn schedule(&mut self) {
        let attempts = self.options.backoff.attempts;
        if self
            .options
            .reconnection_attempts
            .is_some_and(|max| attempts >= max)
        {
            self.queue.push_back(Heard::GaveUp { attempts });
            return;
        }
        let delay = self.options.backoff.next_delay(random_unit());
        self.reconnect_at = Some(tokio::time::Instant::now() + delay);
        self.queue.push_back(Heard::Reconnecting {
            attempt: attempts + 1,
            delay_ms: delay.as_millis() as u64,
        });
    }
}

/// The most trace entries kept for a caller that does not take them.
const TRACE_KEPT: usize = 10_000;

/// Keep a trace entry; past [`TRACE_KEPT`], the older half goes.
fn keep<T>(list: &mut Vec<T>, item: T) {
    if list.len() >= TRACE_KEPT {
        list.drain(..TRACE_KEPT / 2);
    }
    list.push(item);
}

/// A number in [0, 1) from the system's randomness (0.5 when there is none).
fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

impl Drop for SioClient {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            engine.abort();
        }
    }
}
