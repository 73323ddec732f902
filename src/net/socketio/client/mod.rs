//! A Socket.IO 5 client over Engine.IO's WebSocket transport (no long-polling): enough to
//! join a namespace, emit events (with or without an acknowledgement) and hear the
//! server's, with every Engine.IO message available for tracing.
//!
//! ```text
//!   GET /socket.io/?EIO=4&transport=websocket   (WebSocket handshake, net::ws)
//!   ◄ 0{"sid":..,"pingInterval":25000,..}        Engine.IO open
//!   ► 40                                         Socket.IO CONNECT to "/"
//!   ◄ 40{"sid":".."}                             the socket's id
//!   ► 42["hello","world"]   ◄ 2 (ping) ► 3 (pong)  ...
//! ```
//!
//! The Engine.IO ping is answered here; everything Socket.IO is decoded by
//! `wire::application::socketio` (`Decoder`, `Packet`).

use crate::net::ws::{self, Received, WsConfig, WsConnection, WsError, WsUrl};
use crate::wire::application::engineio::{Message, OpenInfo, Packet as EioPacket};
use crate::wire::application::socketio::{Data, Decoder, EngineMessage, Kind, Limits, Packet};
use crate::wire::application::websocket::{CloseCode, Message as WsMessage, MessageKind};
use serde_json::{Map, Value};

/// What can go wrong, each a rule the server or the connection broke.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Ws(#[from] WsError),
    #[error("the server's first Engine.IO packet was not `open` with its parameters")]
    NoOpen,
    #[error("an Engine.IO packet that could not be read: {0}")]
    Engine(#[from] crate::wire::application::engineio::PacketError),
    #[error("a Socket.IO packet that could not be read: {0}")]
    Packet(#[from] crate::wire::application::socketio::PacketError),
    #[error("a text WebSocket message that is not UTF-8")]
    NotUtf8,
    #[error("the server broke the WebSocket protocol: {0}")]
    Violation(crate::wire::application::websocket::ProtocolError),
}

/// What the client hears.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// The namespace let the socket in: its id.
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
    /// The server took the socket out of the namespace (DISCONNECT).
    Disconnected,
    /// The Engine.IO session ended: `transport close` (the server closed it).
    Closed { reason: &'static str },
}

/// One Engine.IO message, for tracing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    pub outgoing: bool,
    pub message: EngineMessage,
}

/// A client joined to one namespace.
pub struct SioClient {
    ws: WsConnection,
    decoder: Decoder,
    namespace: String,
    next_ack: u64,
    /// The Engine.IO session's parameters.
    pub open: OpenInfo,
    /// Every Engine.IO message in and out since the last [`SioClient::take_wire`].
    wire: Vec<Wire>,
}

/// The resource a WebSocket-only Engine.IO client asks for.
pub const RESOURCE: &str = "/socket.io/?EIO=4&transport=websocket";

impl SioClient {
    /// Open the WebSocket, read Engine.IO's open packet, ask to join `namespace`.
    pub async fn connect(
        host: &str,
        port: u16,
        namespace: &str,
        auth: Option<Map<String, Value>>,
        cfg: WsConfig,
    ) -> Result<SioClient, ClientError> {
        let url = WsUrl {
            host: host.to_owned(),
            port,
            resource: RESOURCE.to_owned(),
        };
        let mut ws = ws::connect(&url, cfg, &[]).await.map_err(|e| e.error)?;
        let first = ws.recv().await?;
        let Received::Message(m) = first else {
            return Err(ClientError::NoOpen);
        };
        let text = String::from_utf8(m.payload).map_err(|_| ClientError::NotUtf8)?;
        let wire = vec![Wire {
            outgoing: false,
            message: EngineMessage::Text(text.clone()),
        }];
        let open = match EioPacket::decode_text(&text)? {
            EioPacket::Open(json) => OpenInfo::from_json(&json).map_err(|_| ClientError::NoOpen)?,
            _ => return Err(ClientError::NoOpen),
        };
        let mut client = SioClient {
            ws,
            decoder: Decoder::new(Limits::default()),
            namespace: namespace.to_owned(),
            next_ack: 0,
            open,
            wire,
        };
        client
            .send(Packet::new(namespace, Kind::Connect(auth)))
            .await?;
        Ok(client)
    }

    /// The Engine.IO messages that went in and out since the last call.
    pub fn take_wire(&mut self) -> Vec<Wire> {
        std::mem::take(&mut self.wire)
    }

    /// Emit an event; with `ack`, the id its answer ([`Heard::Ack`]) will carry.
    pub async fn emit(
        &mut self,
        name: &str,
        args: Vec<Data>,
        ack: bool,
    ) -> Result<Option<u64>, ClientError> {
        let id = ack.then(|| {
            self.next_ack += 1;
            self.next_ack - 1
        });
        let kind = Kind::Event {
            name: name.to_owned(),
            args,
            ack: id,
        };
        self.send(Packet::new(self.namespace.clone(), kind)).await?;
        Ok(id)
    }

    /// Answer the server's event `id` (its ack callback).
    pub async fn ack(&mut self, id: u64, args: Vec<Data>) -> Result<(), ClientError> {
        let kind = Kind::Ack { id, args };
        self.send(Packet::new(self.namespace.clone(), kind)).await
    }

    /// Leave the namespace (DISCONNECT) and close the connection.
    pub async fn disconnect(&mut self) -> Result<(), ClientError> {
        self.send(Packet::new(self.namespace.clone(), Kind::Disconnect))
            .await?;
        self.ws.close(CloseCode(1000), "").await;
        Ok(())
    }

    async fn send(&mut self, packet: Packet) -> Result<(), ClientError> {
        for m in packet.encode() {
            let frame = match &m {
                EngineMessage::Text(t) => WsMessage::text(format!("4{t}")),
                EngineMessage::Binary(b) => WsMessage::binary(b.clone()),
            };
            self.wire.push(Wire {
                outgoing: true,
                message: m,
            });
            self.ws.send(&frame).await?;
        }
        Ok(())
    }

    /// The next thing the server says. Cancel-safe (it can sit in `tokio::select!`):
    /// bytes read are kept by the connection.
    pub async fn next(&mut self) -> Result<Heard, ClientError> {
        loop {
            let m = match self.ws.recv().await? {
                Received::Message(m) => m,
                Received::Ping(_) | Received::Pong(_) => continue,
                Received::Close(_) | Received::Eof => {
                    return Ok(Heard::Closed {
                        reason: "transport close",
                    })
                }
                Received::Violation(e) => return Err(ClientError::Violation(e)),
            };
            let message = match m.kind {
                MessageKind::Text => {
                    Message::Text(String::from_utf8(m.payload).map_err(|_| ClientError::NotUtf8)?)
                }
                MessageKind::Binary => Message::Binary(m.payload),
            };
            let message = match EioPacket::from_frame(&message)? {
                EioPacket::Ping(data) => {
                    self.ws.send(&WsMessage::text(format!("3{data}"))).await?;
                    continue;
                }
                EioPacket::Close => {
                    return Ok(Heard::Closed {
                        reason: "transport close",
                    })
                }
                EioPacket::Message(Message::Text(t)) => EngineMessage::Text(t),
                EioPacket::Message(Message::Binary(b)) => EngineMessage::Binary(b),
                _ => continue,
            };
            self.wire.push(Wire {
                outgoing: false,
                message: message.clone(),
            });
            let Some(packet) = self.decoder.push(message)? else {
                continue;
            };
            return Ok(match packet.kind {
                Kind::Connect(payload) => Heard::Connected {
                    sid: payload
                        .and_then(|p| p.get("sid").and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or_default(),
                },
                Kind::ConnectError(payload) => Heard::ConnectError { payload },
                Kind::Event { name, args, ack } => Heard::Event { name, args, ack },
                Kind::Ack { id, args } => Heard::Ack { id, args },
                Kind::Disconnect => Heard::Disconnected,
            });
        }
    }
}
