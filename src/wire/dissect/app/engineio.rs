//! Engine.IO (revision 4) and the Socket.IO (revision 5) packets it carries, read from
//! the WebSocket messages and HTTP long-polling bodies of a captured connection.
//!
//! [`super::carried`] decides which connections are Engine.IO (by the request target,
//! `EIO=4`); this file reads what they carry:
//!
//! - a WebSocket message is one Engine.IO packet: a text frame holds the packet's text
//!   form (`4…` a message, `2` a ping), a binary frame is a binary message;
//! - a long-polling body (the answer to a GET, or a POST) is a *payload*: packets in
//!   text form joined by the record separator `\x1e`, binary ones as `b` + base64;
//! - a text message is a Socket.IO packet (`2["tick",3]`, see
//!   `wire::application::socketio::packet`), unless the path is Engine.IO's own
//!   `/engine.io/`; a BINARY_EVENT or BINARY_ACK announces N attachments, and the next N
//!   binary messages the same way are those attachments.
//!
//! Packets are read with the codecs netlab's own server uses
//! (`wire::application::engineio`, `wire::application::socketio`), and described, not
//! enforced: a packet breaking a rule is shown with the rule named.

use crate::wire::application::engineio::{OpenInfo, Packet, PacketType, Transport};
use crate::wire::application::socketio::decoder::Limits;
use crate::wire::application::socketio::packet::{check_payload, parse_payload, Header};
use crate::wire::application::socketio::PacketType as SioType;
use crate::wire::dissect::flow::Direction;
use crate::wire::{text, Field};
use serde::Serialize;
use serde_json::Value;

/// Packets read from one body at most (a body holding more is described up to here).
const MAX_PACKETS: usize = 256;

/// What Engine.IO carried in one WebSocket message or one long-polling body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineIo {
    /// "websocket" or "polling".
    pub transport: Transport,
    pub packets: Vec<EioPacket>,
    /// Why the rest of a body could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EioPacket {
    /// "open", "close", "ping", "pong", "message", "upgrade" or "noop".
    #[serde(rename = "type")]
    pub packet_type: PacketType,
    /// Where its text form starts in the message or body, and its length in bytes.
    #[serde(skip)]
    pub at: usize,
    #[serde(skip)]
    pub len: usize,
    /// The open packet's JSON, field by field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open: Option<OpenInfo>,
    /// A ping's or pong's data (`probe` during an upgrade), or a text message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// A binary message's length in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_len: Option<usize>,
    /// What a ping or pong is for: "heartbeat" or "upgrade probe".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socketio: Option<SocketIo>,
    /// A rule of the Engine.IO format this packet breaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// What a Socket.IO packet says, or which attachment a binary message is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SocketIo {
    Packet(Box<SioPacket>),
    /// Attachment `number` of `of` of the binary packet before it.
    Attachment {
        number: usize,
        of: usize,
        len: usize,
    },
    /// A binary message with no binary packet awaiting it.
    StrayBinary {
        len: usize,
    },
}

/// A Socket.IO packet in its text form, read part by part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SioPacket {
    /// CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT or BINARY_ACK.
    #[serde(rename = "type", serialize_with = "sio_type")]
    pub packet_type: SioType,
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_id: Option<u64>,
    /// An EVENT's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// An EVENT's arguments after its name, an ACK's arguments (the recovery offset
    /// taken off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<Value>>,
    /// A CONNECT's or CONNECT_ERROR's payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// Binary messages that follow (BINARY_EVENT, BINARY_ACK).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<usize>,
    /// The session id in the server's CONNECT answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Connection state recovery: the private id in the server's CONNECT answer (and
    /// in a returning client's CONNECT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// Connection state recovery: the offset the server appends to each event it
    /// sends (and a returning client's last one in its CONNECT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<String>,
    /// A rule of the Socket.IO format the packet breaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

fn sio_type<S: serde::Serializer>(t: &SioType, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

/// An attachment-bearing packet whose binary messages are still coming.
#[derive(Debug, Clone, Copy, Default)]
struct Awaiting {
    of: usize,
    seen: usize,
}

/// Reads one connection's Engine.IO, both directions. Direction `AToB` is the client's.
#[derive(Debug, Default)]
pub(super) struct EngineIoReader {
    /// Text messages are Socket.IO packets (the path is not Engine.IO's own).
    socketio: bool,
    /// Per direction: a binary packet's attachments still to come.
    awaiting: [Option<Awaiting>; 2],
    /// A CONNECT carried a `pid` (the server's answer, or a returning client's):
    /// connection state recovery is on, and the last argument of each event the server
    /// sends is its offset.
    recovery: bool,
}

/// Does this request target speak Engine.IO revision 4? (`EIO=4` in its query.)
pub(super) fn claims(target: &str) -> bool {
    let q = crate::wire::application::engineio::Query::parse(target);
    q.eio.as_deref() == Some("4")
}

impl EngineIoReader {
    pub(super) fn new(target: &str) -> EngineIoReader {
        let q = crate::wire::application::engineio::Query::parse(target);
        EngineIoReader {
            socketio: !q.path.trim_end_matches('/').ends_with("/engine.io"),
            ..Default::default()
        }
    }

    /// One WebSocket message, whole: one packet.
    pub(super) fn websocket(&mut self, dir: Direction, binary: bool, bytes: &[u8]) -> EngineIo {
        let packet = if binary {
            self.binary(dir, bytes.len(), 0, bytes.len())
        } else {
            match std::str::from_utf8(bytes) {
                Ok(t) => self.text(dir, t, 0),
                Err(_) => bad(0, bytes.len(), "a text frame that is not UTF-8".into()),
            }
        };
        EngineIo {
            transport: Transport::WebSocket,
            packets: vec![packet],
            problem: None,
        }
    }

    /// One long-polling body: packets joined by `\x1e` (Engine.IO's payload).
    pub(super) fn polling(&mut self, dir: Direction, body: &[u8]) -> EngineIo {
        let mut out = EngineIo {
            transport: Transport::Polling,
            packets: Vec::new(),
            problem: None,
        };
        let Ok(t) = std::str::from_utf8(body) else {
            out.problem =
                Some("a payload that is not UTF-8 text (binary travels as b + base64)".into());
            return out;
        };
        let mut at = 0;
        for (i, piece) in t.split('\u{1e}').enumerate() {
            if i == MAX_PACKETS {
                out.problem = Some(format!(
                    "more than {MAX_PACKETS} packets: the rest not read"
                ));
                break;
            }
            let p = match piece.strip_prefix('b') {
                Some(b64) => match Packet::decode_text(piece) {
                    Ok(Packet::Message(m)) => self.binary(dir, m.len(), at, piece.len()),
                    _ => bad(at, piece.len(), format!("`b{}` is not base64", short(b64))),
                },
                None => self.text(dir, piece, at),
            };
            out.packets.push(p);
            at += piece.len() + 1;
        }
        out
    }

    /// A packet in text form starting at `at`.
    fn text(&mut self, dir: Direction, t: &str, at: usize) -> EioPacket {
        let packet = match Packet::decode_text(t) {
            Ok(p) => p,
            Err(e) => return bad(at, t.len(), e.to_string()),
        };
        let data = t.get(1..).unwrap_or("");
        let mut p = EioPacket {
            packet_type: packet.kind(),
            at,
            len: t.len(),
            open: None,
            data: None,
            binary_len: None,
            purpose: None,
            socketio: None,
            problem: None,
        };
        match packet {
            Packet::Open(json) => match OpenInfo::from_json(&json) {
                Ok(info) => p.open = Some(info),
                Err(_) => p.problem = Some("an open packet whose JSON lacks sid, upgrades, pingInterval, pingTimeout or maxPayload".into()),
            },
            Packet::Ping(d) | Packet::Pong(d) => {
                p.purpose = Some(if d == "probe" { "upgrade probe" } else { "heartbeat" });
                p.data = (!d.is_empty()).then_some(d);
            }
            Packet::Message(_) if self.socketio => p.socketio = Some(self.socketio(dir, data)),
            Packet::Message(_) => p.data = Some(data.to_owned()),
            Packet::Close | Packet::Upgrade | Packet::Noop => {}
        }
        p
    }

    /// A binary message of `len` bytes (its text form, if any, at `at`, `text_len` long).
    fn binary(&mut self, dir: Direction, len: usize, at: usize, text_len: usize) -> EioPacket {
        let socketio = self.socketio.then(|| {
            let slot = &mut self.awaiting[dir as usize];
            match slot {
                Some(a) => {
                    a.seen += 1;
                    let (number, of) = (a.seen, a.of);
                    if a.seen >= a.of {
                        *slot = None;
                    }
                    SocketIo::Attachment { number, of, len }
                }
                None => SocketIo::StrayBinary { len },
            }
        });
        EioPacket {
            packet_type: PacketType::Message,
            at,
            len: text_len,
            open: None,
            data: None,
            binary_len: Some(len),
            purpose: None,
            socketio,
            problem: None,
        }
    }

    /// A Socket.IO packet in text form (an Engine.IO message's data).
    fn socketio(&mut self, dir: Direction, t: &str) -> SocketIo {
        let limits = Limits {
            max_attachments: 1000,
            ..Limits::default()
        };
        let mut p = SioPacket {
            packet_type: SioType::Event,
            namespace: "/".into(),
            ack_id: None,
            event: None,
            args: None,
            payload: None,
            attachments: None,
            sid: None,
            pid: None,
            offset: None,
            problem: None,
        };
        let (h, json) = match Header::parse(t, &limits) {
            Ok(x) => x,
            Err(e) => {
                p.problem = Some(format!("not a Socket.IO packet: {e}"));
                return SocketIo::Packet(Box::new(p));
            }
        };
        p.packet_type = h.packet_type;
        p.namespace = h.namespace.to_owned();
        p.ack_id = h.ack_id;
        if h.packet_type.is_binary() {
            p.attachments = Some(h.attachments);
            self.awaiting[dir as usize] = Some(Awaiting {
                of: h.attachments,
                seen: 0,
            });
        }
        let value = match parse_payload(json) {
            Ok(v) => v,
            Err(e) => {
                p.problem = Some(e.to_string());
                return SocketIo::Packet(Box::new(p));
            }
        };
        p.problem = check_payload(h.packet_type, h.ack_id, value.as_ref())
            .err()
            .map(|e| e.to_string());
        self.fields(dir, &mut p, value);
        SocketIo::Packet(Box::new(p))
    }

    /// The payload's parts: event name and arguments, CONNECT's sid, pid and offset.
    fn fields(&mut self, dir: Direction, p: &mut SioPacket, value: Option<Value>) {
        let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        match (p.packet_type, value) {
            (SioType::Event | SioType::BinaryEvent, Some(Value::Array(mut items))) => {
                if let Some(Value::String(name)) = items.first() {
                    p.event = Some(name.clone());
                    items.remove(0);
                }
                // With recovery on, the server appends the event's offset (a string).
                if self.recovery && dir == Direction::BToA && !items.is_empty() {
                    if let Some(Value::String(o)) = items.last() {
                        p.offset = Some(o.clone());
                        items.pop();
                    }
                }
                p.args = Some(items);
            }
            (SioType::Ack | SioType::BinaryAck, Some(Value::Array(items))) => p.args = Some(items),
            (SioType::Connect, Some(v)) => {
                p.sid = str_of(&v, "sid");
                p.pid = str_of(&v, "pid");
                p.offset = str_of(&v, "offset");
                if p.pid.is_some() {
                    self.recovery = true;
                }
                p.payload = Some(v);
            }
            (_, v) => p.payload = v,
        }
    }
}

/// A packet that could not be read.
fn bad(at: usize, len: usize, problem: String) -> EioPacket {
    EioPacket {
        packet_type: PacketType::Noop,
        at,
        len,
        open: None,
        data: None,
        binary_len: None,
        purpose: None,
        socketio: None,
        problem: Some(problem),
    }
}

/// The start of `s`, for a message about it.
fn short(s: &str) -> String {
    text::preview(s.as_bytes(), 24)
}

/// JSON as compact text, cut to about `max` characters.
fn json_short(v: &Value, max: usize) -> String {
    let s = v.to_string();
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

impl EngineIo {
    /// One line: the packets, `; `-separated (a long body's first ones).
    pub fn describe(&self) -> String {
        let mut s = String::from("Engine.IO");
        if self.transport == Transport::Polling {
            s.push_str(&format!(
                " payload of {}",
                text::num(self.packets.len() as u64)
            ));
            s.push_str(if self.packets.len() == 1 {
                " packet"
            } else {
                " packets"
            });
        }
        for (i, p) in self.packets.iter().enumerate().take(8) {
            s.push_str(if i == 0 { ": " } else { "; " });
            s.push_str(&p.describe());
        }
        if self.packets.len() > 8 {
            s.push_str("; …");
        }
        if let Some(pr) = &self.problem {
            s.push_str(&format!(" ({pr})"));
        }
        s
    }
}

impl EioPacket {
    /// `ping (heartbeat)`, `open sid … pingInterval 25000 ms`, `message: Socket.IO EVENT "tick" [3]`.
    pub fn describe(&self) -> String {
        if self.packet_type == PacketType::Noop && self.problem.is_some() {
            return format!("not a packet: {}", self.problem.as_deref().unwrap_or(""));
        }
        let name = format!("{:?}", self.packet_type).to_lowercase();
        let mut s = format!("{} {name}", self.packet_type.digit());
        if let Some(o) = &self.open {
            s.push_str(&format!(
                " sid {} upgrades [{}] pingInterval {} ms pingTimeout {} ms maxPayload {}",
                o.sid,
                o.upgrades.join(","),
                o.ping_interval,
                o.ping_timeout,
                o.max_payload
            ));
        }
        if let Some(d) = &self.data {
            s.push_str(&format!(" {}", text::quoted(d.as_bytes(), 60)));
        }
        if let Some(p) = self.purpose {
            s.push_str(&format!(" ({p})"));
        }
        if let Some(n) = self.binary_len {
            s.push_str(&format!(" binary, {n} bytes"));
        }
        if let Some(sio) = &self.socketio {
            s.push_str(": Socket.IO ");
            s.push_str(&sio.describe());
        }
        if let Some(pr) = &self.problem {
            s.push_str(&format!(" ({pr})"));
        }
        s
    }
}

impl SocketIo {
    /// `EVENT / "tick" [3]`, `attachment 1 of 2 (4 bytes)`.
    pub fn describe(&self) -> String {
        match self {
            SocketIo::Attachment { number, of, len } => {
                format!("attachment {number} of {of} ({len} bytes)")
            }
            SocketIo::StrayBinary { len } => {
                format!("binary message of {len} bytes with no binary packet awaiting it")
            }
            SocketIo::Packet(p) => p.describe(),
        }
    }
}

impl SioPacket {
    pub fn describe(&self) -> String {
        let mut s = format!("{} {}", self.packet_type, self.namespace);
        if let Some(e) = &self.event {
            s.push_str(&format!(" {}", Value::String(e.clone())));
        }
        if let Some(a) = &self.args {
            s.push_str(&format!(" {}", json_short(&Value::Array(a.clone()), 80)));
        }
        // A CONNECT's known fields by name (in a fixed order: serde_json's object does
        // not keep the wire's), the rest of a payload as JSON.
        let named = [
            ("sid", &self.sid),
            ("pid", &self.pid),
            ("offset", &self.offset),
        ];
        for (name, v) in named
            .iter()
            .filter(|_| self.packet_type == SioType::Connect)
        {
            if let Some(v) = v {
                s.push_str(&format!(" {name} {v}"));
            }
        }
        let rest = match &self.payload {
            Some(Value::Object(o)) if self.packet_type == SioType::Connect => {
                let mut o = o.clone();
                for (name, _) in named {
                    o.remove(name);
                }
                (!o.is_empty()).then_some(Value::Object(o))
            }
            other => other.clone(),
        };
        if let Some(v) = rest {
            s.push_str(&format!(" {}", json_short(&v, 80)));
        }
        if let Some(id) = self.ack_id {
            let what = if self.event.is_some() {
                "ack asked, id"
            } else {
                "answers id"
            };
            s.push_str(&format!(" ({what} {id})"));
        }
        if let Some(n) = self.attachments {
            let plural = if n == 1 { "" } else { "s" };
            s.push_str(&format!(
                " ({n} attachment{plural} follow{})",
                if n == 1 { "s" } else { "" }
            ));
        }
        if let (Some(o), Some(_)) = (&self.offset, &self.event) {
            s.push_str(&format!(" offset {o}"));
        }
        if let Some(pr) = &self.problem {
            s.push_str(&format!(" ({pr})"));
        }
        s
    }
}

/// Where a message's or body's bytes are in the frame being shown: `span(from, to)` of
/// its own offsets (empty when they are not in this frame).
pub(super) type SpanOf<'a> = &'a dyn Fn(usize, usize) -> std::ops::Range<usize>;

impl EngineIo {
    /// The layer tree's fields: one per Engine.IO packet, and the Socket.IO packet's
    /// parts inside a message.
    pub(super) fn push_fields(&self, span: SpanOf<'_>, f: &mut Vec<Field>) {
        for p in &self.packets {
            // The type character (`4`, or `b` before base64) is the Engine.IO byte; what
            // follows is its data. A binary WebSocket message has no type byte at all.
            let head = match p.binary_len {
                Some(n) if n == p.len => p.len,
                _ => p.len.min(1),
            };
            f.push(Field::new(
                "Engine.IO packet",
                p.describe_engineio(),
                span(p.at, p.at + head),
                "type digit: 0 open, 1 close, 2 ping, 3 pong, 4 message, 5 upgrade, 6 noop (Engine.IO v4)",
            ));
            if let Some(o) = &p.open {
                let v = format!(
                    "sid {}, upgrades [{}], pingInterval {} ms, pingTimeout {} ms, maxPayload {} bytes",
                    o.sid,
                    o.upgrades.join(", "),
                    o.ping_interval,
                    o.ping_timeout,
                    o.max_payload
                );
                f.push(Field::new("open", v, span(p.at + 1, p.at + p.len), "the session's name and its heartbeat: a ping every pingInterval, an answer within pingTimeout"));
            }
            match &p.socketio {
                Some(SocketIo::Packet(s)) => s.push_fields(span(p.at + 1, p.at + p.len), f),
                Some(other) => f.push(Field::new(
                    "Socket.IO",
                    other.describe(),
                    span(if head == p.len { p.at } else { p.at + head }, p.at + p.len),
                    "a binary packet's attachments follow it as binary messages, one each",
                )),
                None => {}
            }
        }
        if let Some(pr) = &self.problem {
            f.push(Field::new(
                "problem",
                pr.clone(),
                0..0,
                "a rule of the Engine.IO payload format this body breaks",
            ));
        }
    }
}

impl EioPacket {
    /// The Engine.IO part alone: `4 message`, `2 ping (heartbeat)`.
    fn describe_engineio(&self) -> String {
        if self.packet_type == PacketType::Noop && self.problem.is_some() {
            return format!("not a packet: {}", self.problem.as_deref().unwrap_or(""));
        }
        let mut s = format!(
            "{} {}",
            self.packet_type.digit(),
            format!("{:?}", self.packet_type).to_lowercase()
        );
        if let Some(d) = &self.data {
            s.push_str(&format!(" {}", text::quoted(d.as_bytes(), 60)));
        }
        if let Some(p) = self.purpose {
            s.push_str(&format!(" ({p})"));
        }
        if let Some(n) = self.binary_len {
            s.push_str(&format!(" binary, {n} bytes"));
        }
        s
    }
}

impl SioPacket {
    fn push_fields(&self, span: std::ops::Range<usize>, f: &mut Vec<Field>) {
        f.push(Field::new(
            "Socket.IO packet",
            self.describe(),
            span,
            "<type>[<attachments>-][<namespace>,][<ack id>][JSON] (Socket.IO v5)",
        ));
        let mut add = |name, value: String, about| f.push(Field::new(name, value, 0..0, about));
        add(
            "type",
            format!("{} {}", self.packet_type.digit(), self.packet_type),
            "0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5 BINARY_EVENT, 6 BINARY_ACK",
        );
        add(
            "namespace",
            self.namespace.clone(),
            "/ is the main namespace (never written)",
        );
        if let Some(id) = self.ack_id {
            add(
                "ack id",
                id.to_string(),
                "an EVENT asking for an answer, or the ACK answering it",
            );
        }
        if let Some(e) = &self.event {
            add(
                "event",
                e.clone(),
                "the event name: the first element of the array",
            );
        }
        if let Some(a) = &self.args {
            add(
                "arguments",
                json_short(&Value::Array(a.clone()), 300),
                "the rest of the array, JSON",
            );
        }
        if let Some(v) = &self.payload {
            add(
                "payload",
                json_short(v, 300),
                "CONNECT: auth, or the answer's sid; CONNECT_ERROR: why",
            );
        }
        if let Some(n) = self.attachments {
            add("attachments", n.to_string(), "binary messages that follow, one per placeholder {\"_placeholder\":true,\"num\":k}");
        }
        if let Some(p) = &self.pid {
            add(
                "pid",
                p.clone(),
                "connection state recovery: the private id a returning client presents",
            );
        }
        if let Some(o) = &self.offset {
            add("offset", o.clone(), "connection state recovery: the last event received, so the server can replay what came after");
        }
        if let Some(pr) = &self.problem {
            add(
                "problem",
                pr.clone(),
                "a rule of the Socket.IO packet format this packet breaks",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{EngineIoReader, PacketType, SioType, Transport, Value};
    use crate::wire::application::websocket::handshake::{accept_key, client_request};
    use crate::wire::application::websocket::{Frame, OpCode};
    use crate::wire::dissect::app::testing::decode;
    use crate::wire::dissect::app::*;

    /// A WebSocket upgrade to `target`, then the frames (client frames masked).
    fn over_websocket(target: &str, frames: &[(Direction, OpCode, &[u8])]) -> Vec<AppEvent> {
        let (key, req) = client_request("h", target, [7; 16], &[], None);
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&key)
        );
        let mut parts = vec![(Direction::AToB, req), (Direction::BToA, resp.into_bytes())];
        for (dir, op, payload) in frames {
            let mask = (*dir == Direction::AToB).then_some([1, 2, 3, 4]);
            let mut b = Vec::new();
            Frame::encode(true, *op, payload, mask, &mut b);
            parts.push((*dir, b));
        }
        decode(&parts, 0)
    }

    fn carried(events: &[AppEvent]) -> Vec<EngineIo> {
        events
            .iter()
            .filter_map(|e| e.message.carried().map(|Carried::EngineIo(x)| x.clone()))
            .collect()
    }

    fn sio(e: &EngineIo) -> &SioPacket {
        match e.packets[0].socketio.as_ref() {
            Some(SocketIo::Packet(p)) => p,
            other => panic!("not a Socket.IO packet: {other:?}"),
        }
    }

    /// The frames of tests/fixtures/socketio.pcap's WebSocket connection (socket.io 4.8.1
    /// and socket.io-client, Node.js), in their order.
    #[test]
    fn the_fixtures_websocket_frames_are_read_as_engineio_and_socketio() {
        use Direction::{AToB as C, BToA as S};
        let t = OpCode::Text;
        let frames: [(Direction, OpCode, &[u8]); 9] = [
            (C, t, b"2probe"),
            (S, t, b"3probe"),
            (C, t, b"5"),
            (C, t, br#"420["hello","from the client"]"#),
            (S, t, br#"430["hello received"]"#),
            (S, t, br#"420["news","from the server"]"#),
            (S, t, b"2"),
            (C, t, b"3"),
            (C, t, b"41"),
        ];
        let target = "/socket.io/?EIO=4&transport=websocket&sid=NN69nfAhjltKBvqdAAAA";
        let got = carried(&over_websocket(target, &frames));
        assert_eq!(got.len(), 9);
        let p = &got[0].packets[0];
        assert_eq!(
            (p.packet_type, p.purpose),
            (PacketType::Ping, Some("upgrade probe"))
        );
        assert_eq!(got[1].packets[0].packet_type, PacketType::Pong);
        assert_eq!(got[2].packets[0].packet_type, PacketType::Upgrade);
        let hello = sio(&got[3]);
        assert_eq!(hello.packet_type, SioType::Event);
        assert_eq!(hello.event.as_deref(), Some("hello"));
        assert_eq!(hello.args, Some(vec![Value::from("from the client")]));
        assert_eq!(hello.ack_id, Some(0));
        let ack = sio(&got[4]);
        assert_eq!((ack.packet_type, ack.ack_id), (SioType::Ack, Some(0)));
        assert_eq!(ack.args, Some(vec![Value::from("hello received")]));
        assert_eq!(got[6].packets[0].purpose, Some("heartbeat"));
        assert_eq!(got[7].packets[0].purpose, Some("heartbeat"));
        assert_eq!(sio(&got[8]).packet_type, SioType::Disconnect);
        assert_eq!(
            got[3].describe(),
            r#"Engine.IO: 4 message: Socket.IO EVENT / "hello" ["from the client"] (ack asked, id 0)"#
        );
    }

    #[test]
    fn a_websocket_whose_upgrade_did_not_ask_for_engineio_is_left_as_it_is() {
        let frames: [(Direction, OpCode, &[u8]); 1] =
            [(Direction::BToA, OpCode::Text, br#"42["tick",3]"#)];
        assert!(carried(&over_websocket("/chat", &frames)).is_empty());
        assert!(carried(&over_websocket(
            "/socket.io/?EIO=3&transport=websocket",
            &frames
        ))
        .is_empty());
    }

    /// Attachments, as socket.io-parser 4 encodes an emit with two buffers on "/admin"
    /// asking for ack 7 (Engine.IO puts its `4` before it): the text packet, then one
    /// binary message per placeholder.
    #[test]
    fn a_binary_event_names_its_attachments() {
        let text = br#"452-/admin,7["up",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]"#;
        let frames: [(Direction, OpCode, &[u8]); 4] = [
            (Direction::AToB, OpCode::Text, text),
            (Direction::AToB, OpCode::Binary, &[1, 2, 3]),
            (Direction::AToB, OpCode::Binary, &[4]),
            (Direction::AToB, OpCode::Binary, &[5]),
        ];
        let got = carried(&over_websocket(
            "/socket.io/?EIO=4&transport=websocket",
            &frames,
        ));
        let p = sio(&got[0]);
        assert_eq!(p.packet_type, SioType::BinaryEvent);
        assert_eq!(
            (p.namespace.as_str(), p.ack_id, p.attachments),
            ("/admin", Some(7), Some(2))
        );
        assert_eq!(p.event.as_deref(), Some("up"));
        assert_eq!(
            got[1].packets[0].socketio,
            Some(SocketIo::Attachment {
                number: 1,
                of: 2,
                len: 3
            })
        );
        assert_eq!(
            got[2].packets[0].socketio,
            Some(SocketIo::Attachment {
                number: 2,
                of: 2,
                len: 1
            })
        );
        assert_eq!(
            got[3].packets[0].socketio,
            Some(SocketIo::StrayBinary { len: 1 })
        );
    }

    /// Long-polling: the open packet answering the first GET, the client's POST of `40`
    /// (its `ok` answer is no payload), and a body of three packets as engine.io-parser 5
    /// encodes it (a Socket.IO event, binary 01 02 03 as base64, a ping).
    #[test]
    fn polling_bodies_are_payloads() {
        let open = r#"0{"sid":"NN69nfAhjltKBvqdAAAA","upgrades":["websocket"],"pingInterval":300,"pingTimeout":2000,"maxPayload":1000000}"#;
        let get = "GET /socket.io/?EIO=4&transport=polling&t=j0jjxjnq HTTP/1.1\r\nHost: h\r\n\r\n";
        let post = "POST /socket.io/?EIO=4&transport=polling&sid=NN69 HTTP/1.1\r\nContent-Length: 2\r\n\r\n40";
        let three = "42[\"a\"]\u{1e}bAQID\u{1e}2";
        let resp = |body: &str| {
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        let parts = vec![
            (Direction::AToB, get.as_bytes().to_vec()),
            (Direction::BToA, resp(open).into_bytes()),
            (Direction::AToB, post.as_bytes().to_vec()),
            (Direction::BToA, resp("ok").into_bytes()),
            (Direction::AToB, get.as_bytes().to_vec()),
            (Direction::BToA, resp(three).into_bytes()),
        ];
        let got = carried(&decode(&parts, 5));
        assert_eq!(got.len(), 3, "{got:?}");
        let o = got[0].packets[0].open.as_ref().expect("the open packet");
        assert_eq!(
            (o.sid.as_str(), o.ping_interval),
            ("NN69nfAhjltKBvqdAAAA", 300)
        );
        assert_eq!(sio(&got[1]).packet_type, SioType::Connect);
        let p = &got[2].packets;
        assert_eq!(p.len(), 3);
        assert_eq!(p[1].binary_len, Some(3));
        assert_eq!((p[1].at, p[1].len), (8, 5));
        assert_eq!(p[2].packet_type, PacketType::Ping);
        assert!(got.iter().all(|e| e.transport == Transport::Polling));
    }

    /// tests/fixtures/socketio-recovered.pcap: with recovery on, the server's CONNECT
    /// answer carries a pid and each event it sends ends with its offset.
    #[test]
    fn recovery_shows_pid_and_offsets() {
        let frames: [(Direction, OpCode, &[u8]); 3] = [
            (
                Direction::AToB,
                OpCode::Text,
                br#"40{"pid":"1R46kXFfwFt_bEWfAAAB","offset":"Q82CYs3"}"#,
            ),
            (Direction::BToA, OpCode::Text, br#"42["tick",2,"Q82CYs7"]"#),
            (
                Direction::BToA,
                OpCode::Text,
                br#"40{"sid":"1sOFvL_bNxjGw771AAAA","pid":"1R46kXFfwFt_bEWfAAAB"}"#,
            ),
        ];
        let got = carried(&over_websocket(
            "/socket.io/?EIO=4&transport=websocket",
            &frames,
        ));
        assert_eq!(sio(&got[0]).offset.as_deref(), Some("Q82CYs3"));
        let tick = sio(&got[1]);
        assert_eq!(tick.offset.as_deref(), Some("Q82CYs7"));
        assert_eq!(tick.args, Some(vec![Value::from(2)]));
        assert_eq!(sio(&got[2]).pid.as_deref(), Some("1R46kXFfwFt_bEWfAAAB"));
    }

    #[test]
    fn broken_packets_are_described_not_fatal() {
        let frames: [(Direction, OpCode, &[u8]); 4] = [
            (Direction::BToA, OpCode::Text, b""),
            (Direction::BToA, OpCode::Text, b"9"),
            (Direction::BToA, OpCode::Text, b"42[\"tick\""),
            (Direction::BToA, OpCode::Text, b"42[\"disconnect\"]"),
        ];
        let got = carried(&over_websocket(
            "/socket.io/?EIO=4&transport=websocket",
            &frames,
        ));
        assert!(got[0].packets[0].problem.is_some());
        assert!(got[1].packets[0]
            .problem
            .as_deref()
            .unwrap()
            .contains("unknown packet type"));
        assert!(sio(&got[2])
            .problem
            .as_deref()
            .unwrap()
            .contains("not JSON"));
        assert!(sio(&got[3])
            .problem
            .as_deref()
            .unwrap()
            .contains("reserved"));
    }

    #[test]
    fn arbitrary_messages_and_bodies_never_panic() {
        // A deterministic generator: the same "random" bytes on every run, drawn mostly
        // from the characters the formats use, so the parsers get deep.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"0123456789b-/,[]{}\"_:placeholdernum\x1etruefalse\xff\xc3";
        let mut reader = EngineIoReader::new("/socket.io/?EIO=4");
        for _ in 0..3000 {
            let n = (next() % 40) as usize;
            let bytes: Vec<u8> = (0..n)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let dir = if next() % 2 == 0 {
                Direction::AToB
            } else {
                Direction::BToA
            };
            for e in [
                reader.websocket(dir, next() % 5 == 0, &bytes),
                reader.polling(dir, &bytes),
            ] {
                let mut f = Vec::new();
                e.push_fields(&|a, b| a..b, &mut f);
                assert!(!e.describe().is_empty());
            }
        }
    }
}
