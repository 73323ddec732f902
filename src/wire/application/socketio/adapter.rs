//! What Socket.IO servers say to each other through Redis: the messages of the Redis
//! adapter (`@socket.io/redis-adapter` 8), so that an emit on one node reaches the
//! clients of every node.
//!
//! Each node publishes on Redis channels named after the namespace, and subscribes to
//! the same channels (prefix `socket.io`, namespace `/`):
//!
//! ```text
//!  socket.io#/#          a broadcast (to everyone, or to several rooms)
//!  socket.io#/#room1#    a broadcast to exactly one room (nodes without it may skip it)
//!  socket.io-request#/#  a request to every node: fetch sockets, join, leave, disconnect,
//!                        an emit to the other servers, a broadcast that awaits acks
//!  socket.io-response#/# the answers
//! ```
//!
//! A broadcast is a MessagePack array of three: the sender's node id (`uid`, so a node
//! skips its own messages), the Socket.IO packet as an object and the options:
//!
//! ```text
//!  [ "O8QQk8",
//!    { "type": 2, "data": ["hello", "world", <bin 01 02 03>], "nsp": "/" },
//!    { "rooms": ["r1"], "except": ["r2"], "flags": { "volatile": true } } ]
//! ```
//!
//! Binary travels as MessagePack binary, not as placeholders. A request or a response is
//! one object, in JSON (its first byte is `{`) or in MessagePack: the requests that carry
//! a packet (a broadcast awaiting acknowledgements, type 7) and the answers that carry a
//! client's acknowledgement (type 9) are MessagePack.

use super::data::Data;
use super::rooms::Target;
use rmpv::Value as Mp;
use serde_json::{Map, Number, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// The prefix the real adapter uses unless told otherwise (`key` option).
pub const PREFIX: &str = "socket.io";

/// The channels of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    /// `socket.io#/#`; broadcasts to one room go to `socket.io#/#ROOM#`.
    pub broadcast: String,
    pub request: String,
    pub response: String,
}

impl Channels {
    pub fn new(prefix: &str, namespace: &str) -> Channels {
        Channels {
            broadcast: format!("{prefix}#{namespace}#"),
            request: format!("{prefix}-request#{namespace}#"),
            response: format!("{prefix}-response#{namespace}#"),
        }
    }

    /// The pattern a node subscribes to for every broadcast of the namespace.
    pub fn broadcast_pattern(&self) -> String {
        format!("{}*", self.broadcast)
    }

    /// Where a broadcast to `target` is published: the room's own channel when it names
    /// exactly one room, as the real adapter does.
    pub fn broadcast_for(&self, target: &Target) -> String {
        match (target.rooms.len(), target.rooms.first()) {
            (1, Some(room)) => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
    }
}

/// A rule of the adapter's messages that a payload broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    #[error("a payload that is neither MessagePack nor JSON: {0}")]
    Undecodable(String),
    #[error("a broadcast that is not an array of [uid, packet, options]")]
    NotATriple,
    #[error("a field {field:?} missing or of the wrong type")]
    BadField { field: &'static str },
    #[error("a packet of type {0}: only EVENT (2) and BINARY_EVENT (5) are broadcast")]
    NotAnEvent(u64),
    #[error("an event with no name: the packet's data starts with the event name")]
    NoEventName,
    #[error("a MessagePack map key that is not a string (JSON objects have string keys)")]
    NonStringKey,
    #[error("a MessagePack extension type, which Socket.IO arguments never hold")]
    Extension,
    #[error("an unknown request type {0}")]
    UnknownRequest(u64),
}

/// The flags of a broadcast that travel with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteFlags {
    pub volatile: bool,
    /// `Some(false)`: the sender's application said `compress(false)`.
    pub compress: Option<bool>,
    /// How long the sender waits for acknowledgements.
    pub timeout: Option<Duration>,
}

/// A Socket.IO event between nodes: the packet's `data` is `[name, args..]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteEvent {
    pub namespace: String,
    pub name: String,
    pub args: Vec<Data>,
}

/// A broadcast published for the other nodes (on `socket.io#NSP#`).
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    pub uid: String,
    pub event: RemoteEvent,
    pub target: Target,
    pub flags: RemoteFlags,
}

/// A socket as another node describes it in answer to a fetch.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteSocket {
    pub id: String,
    pub rooms: Vec<String>,
    pub data: Value,
}

/// The request types of the real adapter (`RequestType`).
pub mod request_type {
    pub const SOCKETS: u64 = 0;
    pub const ALL_ROOMS: u64 = 1;
    pub const REMOTE_JOIN: u64 = 2;
    pub const REMOTE_LEAVE: u64 = 3;
    pub const REMOTE_DISCONNECT: u64 = 4;
    pub const REMOTE_FETCH: u64 = 5;
    pub const SERVER_SIDE_EMIT: u64 = 6;
    pub const BROADCAST: u64 = 7;
    pub const BROADCAST_CLIENT_COUNT: u64 = 8;
    pub const BROADCAST_ACK: u64 = 9;
}

/// A request on `socket.io-request#NSP#`.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// A broadcast whose sender awaits each client's acknowledgement (type 7).
    Broadcast {
        uid: String,
        request_id: String,
        event: RemoteEvent,
        target: Target,
        flags: RemoteFlags,
    },
    /// `io.fetchSockets()` (type 5).
    Fetch {
        uid: String,
        request_id: String,
        target: Target,
    },
    /// `io.socketsJoin(rooms)` (type 2) and `io.socketsLeave(rooms)` (type 3).
    Rooms {
        uid: String,
        join: bool,
        target: Target,
        rooms: Vec<String>,
    },
    /// `io.disconnectSockets(close)` (type 4).
    Disconnect {
        uid: String,
        target: Target,
        close: bool,
    },
    /// `io.serverSideEmit(name, args..)` (type 6); with a request id, the sender awaits
    /// one answer per other node.
    ServerSideEmit {
        uid: String,
        request_id: Option<String>,
        name: String,
        args: Vec<Data>,
    },
    /// `adapter.allRooms()` (type 1): every room of every node.
    AllRooms { uid: String, request_id: String },
    /// A type netlab reads but does not answer (0, or a form it does not support).
    Other { uid: String, kind: u64 },
}

/// An answer on `socket.io-response#NSP#`. Answers to a fetch or a server-side emit carry
/// no type: the request id says what they answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// How many clients of the answering node got a broadcast awaiting acks (type 8).
    ClientCount {
        request_id: String,
        count: u64,
    },
    /// One client's acknowledgement (type 9): its first argument.
    Ack {
        request_id: String,
        value: Data,
    },
    /// The answer to a server-side emit with ack (type 6).
    ServerSideAck {
        request_id: String,
        value: Data,
    },
    /// The sockets of the answering node that a fetch selected.
    Sockets {
        request_id: String,
        sockets: Vec<RemoteSocket>,
    },
    /// The rooms of the answering node (to `allRooms`).
    Rooms {
        request_id: String,
        rooms: Vec<String>,
    },
    Other {
        request_id: Option<String>,
    },
}

// ---- MessagePack and JSON, both ways -----------------------------------------------------

/// A Socket.IO argument as MessagePack: JSON's types, binary as `bin`.
pub fn to_msgpack(data: &Data) -> Mp {
    match data {
        Data::Json(v) => json_to_mp(v),
        Data::Binary(b) => Mp::Binary(b.clone()),
        Data::Array(items) => Mp::Array(items.iter().map(to_msgpack).collect()),
        Data::Object(fields) => Mp::Map(
            fields
                .iter()
                .map(|(k, d)| (Mp::from(k.as_str()), to_msgpack(d)))
                .collect(),
        ),
    }
}

fn json_to_mp(v: &Value) -> Mp {
    match v {
        Value::Null => Mp::Nil,
        Value::Bool(b) => Mp::Boolean(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Mp::from(u),
            (_, Some(i), _) => Mp::from(i),
            (_, _, f) => Mp::F64(f.unwrap_or_default()),
        },
        Value::String(s) => Mp::from(s.as_str()),
        Value::Array(items) => Mp::Array(items.iter().map(json_to_mp).collect()),
        Value::Object(o) => Mp::Map(
            o.iter()
                .map(|(k, v)| (Mp::from(k.as_str()), json_to_mp(v)))
                .collect(),
        ),
    }
}

/// A MessagePack value as a Socket.IO argument (binary stays binary).
pub fn from_msgpack(v: &Mp) -> Result<Data, AdapterError> {
    Ok(match v {
        Mp::Binary(b) => Data::Binary(b.clone()),
        Mp::Array(items) => {
            let items = items
                .iter()
                .map(from_msgpack)
                .collect::<Result<Vec<_>, _>>()?;
            if items.iter().any(Data::has_binary) {
                Data::Array(items)
            } else {
                Data::Json(Value::Array(items.into_iter().map(plain).collect()))
            }
        }
        Mp::Map(pairs) => {
            let mut fields = Vec::with_capacity(pairs.len());
            for (k, v) in pairs {
                let k = k.as_str().ok_or(AdapterError::NonStringKey)?;
                fields.push((k.to_owned(), from_msgpack(v)?));
            }
            if fields.iter().any(|(_, d)| d.has_binary()) {
                Data::Object(fields)
            } else {
                let object: Map<String, Value> =
                    fields.into_iter().map(|(k, d)| (k, plain(d))).collect();
                Data::Json(Value::Object(object))
            }
        }
        Mp::Ext(..) => return Err(AdapterError::Extension),
        scalar => Data::Json(scalar_to_json(scalar)),
    })
}

/// The JSON of an argument known to hold no binary.
fn plain(d: Data) -> Value {
    match d {
        Data::Json(v) => v,
        _ => Value::Null,
    }
}

fn scalar_to_json(v: &Mp) -> Value {
    match v {
        Mp::Boolean(b) => Value::Bool(*b),
        Mp::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => Value::from(u),
            (_, Some(i)) => Value::from(i),
            _ => Value::Null,
        },
        Mp::F32(f) => Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number),
        Mp::F64(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Mp::String(s) => Value::String(s.as_str().unwrap_or_default().to_owned()),
        _ => Value::Null,
    }
}

/// Decode a request or response body: JSON if it starts with `{`, MessagePack otherwise.
pub fn decode_body(bytes: &[u8]) -> Result<Mp, AdapterError> {
    if bytes.first() == Some(&b'{') {
        let json: Value =
            serde_json::from_slice(bytes).map_err(|e| AdapterError::Undecodable(e.to_string()))?;
        return Ok(json_to_mp(&json));
    }
    let mut reader = bytes;
    rmpv::decode::read_value_with_max_depth(&mut reader, 64)
        .map_err(|e| AdapterError::Undecodable(e.to_string()))
}

fn encode(value: &Mp) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, value);
    out
}

fn map(pairs: Vec<(&str, Mp)>) -> Mp {
    Mp::Map(pairs.into_iter().map(|(k, v)| (Mp::from(k), v)).collect())
}

fn get<'a>(v: &'a Mp, key: &str) -> Option<&'a Mp> {
    v.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

fn get_str(v: &Mp, field: &'static str) -> Result<String, AdapterError> {
    get(v, field)
        .and_then(Mp::as_str)
        .map(str::to_owned)
        .ok_or(AdapterError::BadField { field })
}

fn strings(v: Option<&Mp>) -> BTreeSet<String> {
    v.and_then(Mp::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| match i {
                    Mp::String(s) => s.as_str().map(str::to_owned),
                    // A room named by a number (a JavaScript application may do that).
                    Mp::Integer(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

// ---- the parts -------------------------------------------------------------------------

impl RemoteEvent {
    /// The packet object: `{type: 2, data: [name, args..], nsp}` (`id` only when given).
    fn to_msgpack(&self, id: Option<u64>) -> Mp {
        let mut data = vec![Mp::from(self.name.as_str())];
        data.extend(self.args.iter().map(to_msgpack));
        let mut pairs = vec![
            ("type", Mp::from(2u8)),
            ("data", Mp::Array(data)),
            ("nsp", Mp::from(self.namespace.as_str())),
        ];
        if let Some(id) = id {
            pairs.push(("id", Mp::from(id)));
        }
        map(pairs)
    }

    fn from_msgpack(packet: &Mp) -> Result<RemoteEvent, AdapterError> {
        let kind = get(packet, "type")
            .and_then(Mp::as_u64)
            .ok_or(AdapterError::BadField { field: "type" })?;
        if kind != 2 && kind != 5 {
            return Err(AdapterError::NotAnEvent(kind));
        }
        let data = get(packet, "data")
            .and_then(Mp::as_array)
            .ok_or(AdapterError::BadField { field: "data" })?;
        let (name, args) = data.split_first().ok_or(AdapterError::NoEventName)?;
        let name = name.as_str().ok_or(AdapterError::NoEventName)?.to_owned();
        let args = args.iter().map(from_msgpack).collect::<Result<_, _>>()?;
        // The real adapter fills in `/` when the packet names no namespace.
        let namespace = get(packet, "nsp")
            .and_then(Mp::as_str)
            .unwrap_or("/")
            .to_owned();
        Ok(RemoteEvent {
            namespace,
            name,
            args,
        })
    }
}

fn target_to_msgpack(target: &Target) -> Vec<(&'static str, Mp)> {
    let list = |s: &BTreeSet<String>| Mp::Array(s.iter().map(|r| Mp::from(r.as_str())).collect());
    vec![
        ("rooms", list(&target.rooms)),
        ("except", list(&target.except)),
    ]
}

fn target_from_msgpack(opts: Option<&Mp>) -> Target {
    Target {
        rooms: strings(opts.and_then(|o| get(o, "rooms"))),
        except: strings(opts.and_then(|o| get(o, "except"))),
    }
}

impl RemoteFlags {
    fn to_msgpack(self) -> Mp {
        let mut pairs = Vec::new();
        if self.volatile {
            pairs.push(("volatile", Mp::Boolean(true)));
        }
        if let Some(compress) = self.compress {
            pairs.push(("compress", Mp::Boolean(compress)));
        }
        if let Some(t) = self.timeout {
            pairs.push((
                "timeout",
                Mp::from(u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            ));
        }
        map(pairs)
    }

    fn from_msgpack(flags: Option<&Mp>) -> RemoteFlags {
        let flag = |name| flags.and_then(|f| get(f, name));
        RemoteFlags {
            volatile: flag("volatile").and_then(Mp::as_bool).unwrap_or(false),
            compress: flag("compress").and_then(Mp::as_bool),
            timeout: flag("timeout")
                .and_then(|t| t.as_u64().or_else(|| t.as_f64().map(|f| f.max(0.0) as u64)))
                .map(Duration::from_millis),
        }
    }
}

fn opts_to_msgpack(target: &Target, flags: RemoteFlags) -> Mp {
    let mut pairs = target_to_msgpack(target);
    pairs.push(("flags", flags.to_msgpack()));
    map(pairs)
}

// ---- broadcasts --------------------------------------------------------------------------

impl Broadcast {
    /// The MessagePack bytes the real adapter publishes.
    pub fn encode(&self) -> Vec<u8> {
        encode(&Mp::Array(vec![
            Mp::from(self.uid.as_str()),
            self.event.to_msgpack(None),
            opts_to_msgpack(&self.target, self.flags),
        ]))
    }

    pub fn decode(bytes: &[u8]) -> Result<Broadcast, AdapterError> {
        let value = decode_body(bytes)?;
        let [uid, packet, opts] = value.as_array().map(Vec::as_slice).unwrap_or_default() else {
            return Err(AdapterError::NotATriple);
        };
        let uid = uid
            .as_str()
            .ok_or(AdapterError::BadField { field: "uid" })?
            .to_owned();
        Ok(Broadcast {
            uid,
            event: RemoteEvent::from_msgpack(packet)?,
            target: target_from_msgpack(Some(opts)),
            flags: RemoteFlags::from_msgpack(get(opts, "flags")),
        })
    }
}

// ---- requests ------------------------------------------------------------------------------

impl Request {
    /// The sending node's id.
    pub fn uid(&self) -> &str {
        match self {
            Request::Broadcast { uid, .. }
            | Request::Fetch { uid, .. }
            | Request::Rooms { uid, .. }
            | Request::Disconnect { uid, .. }
            | Request::ServerSideEmit { uid, .. }
            | Request::AllRooms { uid, .. }
            | Request::Other { uid, .. } => uid,
        }
    }

    /// The bytes, as the real adapter writes them: MessagePack for a broadcast (it
    /// carries a packet, perhaps binary), JSON for the others.
    pub fn encode(&self) -> Vec<u8> {
        use request_type as t;
        let uid = Mp::from(self.uid());
        let value = match self {
            Request::Broadcast {
                request_id,
                event,
                target,
                flags,
                ..
            } => {
                return encode(&map(vec![
                    ("uid", uid),
                    ("requestId", Mp::from(request_id.as_str())),
                    ("type", Mp::from(t::BROADCAST)),
                    ("packet", event.to_msgpack(None)),
                    ("opts", opts_to_msgpack(target, *flags)),
                ]))
            }
            Request::Fetch {
                request_id, target, ..
            } => map(vec![
                ("uid", uid),
                ("requestId", Mp::from(request_id.as_str())),
                ("type", Mp::from(t::REMOTE_FETCH)),
                ("opts", map(target_to_msgpack(target))),
            ]),
            Request::Rooms {
                join,
                target,
                rooms,
                ..
            } => map(vec![
                ("uid", uid),
                (
                    "type",
                    Mp::from(if *join {
                        t::REMOTE_JOIN
                    } else {
                        t::REMOTE_LEAVE
                    }),
                ),
                ("opts", map(target_to_msgpack(target))),
                (
                    "rooms",
                    Mp::Array(rooms.iter().map(|r| Mp::from(r.as_str())).collect()),
                ),
            ]),
            Request::Disconnect { target, close, .. } => map(vec![
                ("uid", uid),
                ("type", Mp::from(t::REMOTE_DISCONNECT)),
                ("opts", map(target_to_msgpack(target))),
                ("close", Mp::Boolean(*close)),
            ]),
            Request::ServerSideEmit {
                request_id,
                name,
                args,
                ..
            } => {
                let mut data = vec![Mp::from(name.as_str())];
                data.extend(args.iter().map(to_msgpack));
                let mut pairs = vec![("uid", uid)];
                if let Some(id) = request_id {
                    pairs.push(("requestId", Mp::from(id.as_str())));
                }
                pairs.push(("type", Mp::from(t::SERVER_SIDE_EMIT)));
                pairs.push(("data", Mp::Array(data)));
                map(pairs)
            }
            Request::AllRooms { request_id, .. } => map(vec![
                ("uid", uid),
                ("requestId", Mp::from(request_id.as_str())),
                ("type", Mp::from(t::ALL_ROOMS)),
            ]),
            Request::Other { kind, .. } => map(vec![("uid", uid), ("type", Mp::from(*kind))]),
        };
        mp_to_json_text(&value)
    }

    pub fn decode(bytes: &[u8]) -> Result<Request, AdapterError> {
        use request_type as t;
        let v = decode_body(bytes)?;
        let uid = get_str(&v, "uid")?;
        let kind = get(&v, "type")
            .and_then(Mp::as_u64)
            .ok_or(AdapterError::BadField { field: "type" })?;
        let request_id = get(&v, "requestId").and_then(Mp::as_str).map(str::to_owned);
        let target = || target_from_msgpack(get(&v, "opts"));
        Ok(match kind {
            t::BROADCAST => Request::Broadcast {
                uid,
                request_id: request_id.ok_or(AdapterError::BadField { field: "requestId" })?,
                event: RemoteEvent::from_msgpack(
                    get(&v, "packet").ok_or(AdapterError::BadField { field: "packet" })?,
                )?,
                target: target(),
                flags: RemoteFlags::from_msgpack(get(&v, "opts").and_then(|o| get(o, "flags"))),
            },
            t::REMOTE_FETCH => Request::Fetch {
                uid,
                request_id: request_id.ok_or(AdapterError::BadField { field: "requestId" })?,
                target: target(),
            },
            // The older form names one socket (`sid`, `room`): netlab does not send it.
            t::REMOTE_JOIN | t::REMOTE_LEAVE if get(&v, "opts").is_some() => Request::Rooms {
                uid,
                join: kind == t::REMOTE_JOIN,
                target: target(),
                rooms: strings(get(&v, "rooms")).into_iter().collect(),
            },
            t::REMOTE_DISCONNECT if get(&v, "opts").is_some() => Request::Disconnect {
                uid,
                target: target(),
                close: get(&v, "close").and_then(Mp::as_bool).unwrap_or(false),
            },
            t::SERVER_SIDE_EMIT => {
                let data = get(&v, "data")
                    .and_then(Mp::as_array)
                    .ok_or(AdapterError::BadField { field: "data" })?;
                let (name, args) = data.split_first().ok_or(AdapterError::NoEventName)?;
                Request::ServerSideEmit {
                    uid,
                    request_id,
                    name: name.as_str().ok_or(AdapterError::NoEventName)?.to_owned(),
                    args: args.iter().map(from_msgpack).collect::<Result<_, _>>()?,
                }
            }
            t::ALL_ROOMS if request_id.is_some() => Request::AllRooms {
                uid,
                request_id: request_id.unwrap_or_default(),
            },
            t::SOCKETS..=t::BROADCAST_ACK => Request::Other { uid, kind },
            other => return Err(AdapterError::UnknownRequest(other)),
        })
    }
}

/// JSON text of a value built from JSON's types (binary, if any, as an array of bytes).
fn mp_to_json_text(v: &Mp) -> Vec<u8> {
    fn to_json(v: &Mp) -> Value {
        match v {
            Mp::Nil => Value::Null,
            Mp::Array(items) => Value::Array(items.iter().map(to_json).collect()),
            Mp::Map(pairs) => Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), to_json(v)))
                    .collect(),
            ),
            Mp::Binary(b) => Value::Array(b.iter().map(|&x| Value::from(x)).collect()),
            scalar => scalar_to_json(scalar),
        }
    }
    serde_json::to_vec(&to_json(v)).unwrap_or_default()
}

// ---- responses -----------------------------------------------------------------------------

impl Response {
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Response::ClientCount { request_id, .. }
            | Response::Ack { request_id, .. }
            | Response::ServerSideAck { request_id, .. }
            | Response::Sockets { request_id, .. }
            | Response::Rooms { request_id, .. } => Some(request_id),
            Response::Other { request_id } => request_id.as_deref(),
        }
    }

    /// The bytes, as the real adapter writes them (an ack in MessagePack, the rest JSON).
    pub fn encode(&self) -> Vec<u8> {
        use request_type as t;
        match self {
            Response::ClientCount { request_id, count } => mp_to_json_text(&map(vec![
                ("type", Mp::from(t::BROADCAST_CLIENT_COUNT)),
                ("requestId", Mp::from(request_id.as_str())),
                ("clientCount", Mp::from(*count)),
            ])),
            Response::Ack { request_id, value } => encode(&map(vec![
                ("type", Mp::from(t::BROADCAST_ACK)),
                ("requestId", Mp::from(request_id.as_str())),
                ("packet", to_msgpack(value)),
            ])),
            Response::ServerSideAck { request_id, value } => mp_to_json_text(&map(vec![
                ("type", Mp::from(t::SERVER_SIDE_EMIT)),
                ("requestId", Mp::from(request_id.as_str())),
                ("data", to_msgpack(value)),
            ])),
            Response::Sockets {
                request_id,
                sockets,
            } => {
                let sockets = sockets
                    .iter()
                    .map(|s| {
                        map(vec![
                            ("id", Mp::from(s.id.as_str())),
                            ("handshake", map(vec![])),
                            (
                                "rooms",
                                Mp::Array(s.rooms.iter().map(|r| Mp::from(r.as_str())).collect()),
                            ),
                            ("data", json_to_mp(&s.data)),
                        ])
                    })
                    .collect();
                mp_to_json_text(&map(vec![
                    ("requestId", Mp::from(request_id.as_str())),
                    ("sockets", Mp::Array(sockets)),
                ]))
            }
            Response::Rooms { request_id, rooms } => mp_to_json_text(&map(vec![
                ("requestId", Mp::from(request_id.as_str())),
                (
                    "rooms",
                    Mp::Array(rooms.iter().map(|r| Mp::from(r.as_str())).collect()),
                ),
            ])),
            Response::Other { request_id } => {
                let id = request_id.as_deref().map_or(Mp::Nil, Mp::from);
                mp_to_json_text(&map(vec![("requestId", id)]))
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<Response, AdapterError> {
        use request_type as t;
        let v = decode_body(bytes)?;
        let request_id = get(&v, "requestId").and_then(Mp::as_str).map(str::to_owned);
        let kind = get(&v, "type").and_then(Mp::as_u64);
        let Some(request_id) = request_id else {
            return Ok(Response::Other { request_id: None });
        };
        Ok(match kind {
            Some(t::BROADCAST_CLIENT_COUNT) => Response::ClientCount {
                request_id,
                count: get(&v, "clientCount").and_then(Mp::as_u64).ok_or(
                    AdapterError::BadField {
                        field: "clientCount",
                    },
                )?,
            },
            Some(t::BROADCAST_ACK) => Response::Ack {
                request_id,
                value: from_msgpack(get(&v, "packet").unwrap_or(&Mp::Nil))?,
            },
            Some(t::SERVER_SIDE_EMIT) => Response::ServerSideAck {
                request_id,
                value: from_msgpack(get(&v, "data").unwrap_or(&Mp::Nil))?,
            },
            _ => match get(&v, "sockets").and_then(Mp::as_array) {
                Some(items) => Response::Sockets {
                    request_id,
                    sockets: items.iter().filter_map(remote_socket).collect(),
                },
                None => match get(&v, "rooms") {
                    Some(rooms) => Response::Rooms {
                        request_id,
                        rooms: strings(Some(rooms)).into_iter().collect(),
                    },
                    None => Response::Other {
                        request_id: Some(request_id),
                    },
                },
            },
        })
    }
}

fn remote_socket(v: &Mp) -> Option<RemoteSocket> {
    Some(RemoteSocket {
        id: get(v, "id")?.as_str()?.to_owned(),
        rooms: strings(get(v, "rooms")).into_iter().collect(),
        data: get(v, "data")
            .and_then(|d| from_msgpack(d).ok())
            .map(plain)
            .unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What a socket.io 4.8 node with `@socket.io/redis-adapter` 8.3 published for
    /// `io.emit("hello", "world", 1, Buffer.from([1, 2, 3]))` (node id `O8QQk8`).
    const EMIT: &[u8] = b"\x93\xa6O8QQk8\x83\xa4type\x02\xa4data\x94\xa5hello\xa5world\x01\xc4\x03\x01\x02\x03\xa3nsp\xa1/\x83\xa5rooms\x90\xa6except\x90\xa5flags\x80";
    /// `io.to("r1").except("r2").emit("room", {a: 1})`, on `socket.io#/#r1#`.
    const ROOM: &[u8] = b"\x93\xa6O8QQk8\x83\xa4type\x02\xa4data\x92\xa4room\x81\xa1a\x01\xa3nsp\xa1/\x83\xa5rooms\x91\xa2r1\xa6except\x91\xa2r2\xa5flags\x80";
    /// `io.volatile.compress(false).emit("vol")`.
    const VOLATILE: &[u8] = b"\x93\xa6O8QQk8\x83\xa4type\x02\xa4data\x91\xa3vol\xa3nsp\xa1/\x83\xa5rooms\x90\xa6except\x90\xa5flags\x82\xa8volatile\xc3\xa8compress\xc2";
    /// `io.timeout(500).emit("ask", 5, callback)`, on `socket.io-request#/#`.
    const ASK: &[u8] = b"\x85\xa3uid\xa6O8QQk8\xa9requestId\xa62RDcI8\xa4type\x07\xa6packet\x83\xa4type\x02\xa4data\x92\xa3ask\x05\xa3nsp\xa1/\xa4opts\x83\xa5rooms\x90\xa6except\x90\xa5flags\x81\xa7timeout\xcd\x01\xf4";

    #[test]
    fn the_real_adapters_broadcasts_both_ways() {
        let emit = Broadcast::decode(EMIT).unwrap();
        assert_eq!(emit.uid, "O8QQk8");
        assert_eq!(emit.event.namespace, "/");
        assert_eq!(emit.event.name, "hello");
        assert_eq!(
            emit.event.args,
            [
                Data::from(json!("world")),
                Data::from(json!(1)),
                Data::Binary(vec![1, 2, 3])
            ]
        );
        assert_eq!(emit.target, Target::all());
        assert_eq!(emit.flags, RemoteFlags::default());
        let room = Broadcast::decode(ROOM).unwrap();
        assert_eq!(room.target, Target::room("r1").except("r2"));
        assert_eq!(room.event.args, [Data::from(json!({"a": 1}))]);
        let volatile = Broadcast::decode(VOLATILE).unwrap();
        assert!(volatile.flags.volatile);
        assert_eq!(volatile.flags.compress, Some(false));
        // netlab writes the same bytes.
        for (bytes, decoded) in [(EMIT, emit), (ROOM, room), (VOLATILE, volatile)] {
            assert_eq!(decoded.encode(), bytes);
        }
    }

    #[test]
    fn channels_are_named_after_the_namespace_and_room() {
        let c = Channels::new(PREFIX, "/");
        assert_eq!(c.broadcast, "socket.io#/#");
        assert_eq!(c.broadcast_pattern(), "socket.io#/#*");
        assert_eq!(c.request, "socket.io-request#/#");
        assert_eq!(c.response, "socket.io-response#/#");
        assert_eq!(c.broadcast_for(&Target::room("r1")), "socket.io#/#r1#");
        assert_eq!(c.broadcast_for(&Target::room("a").to("b")), "socket.io#/#");
        assert_eq!(
            Channels::new(PREFIX, "/admin").broadcast,
            "socket.io#/admin#"
        );
    }

    #[test]
    fn a_broadcast_awaiting_acks_and_its_answers() {
        let ask = Request::decode(ASK).unwrap();
        let Request::Broadcast {
            uid,
            request_id,
            event,
            flags,
            ..
        } = &ask
        else {
            panic!("{ask:?}");
        };
        assert_eq!((uid.as_str(), request_id.as_str()), ("O8QQk8", "2RDcI8"));
        assert_eq!(event.args, [Data::from(json!(5))]);
        assert_eq!(flags.timeout, Some(Duration::from_millis(500)));
        assert_eq!(ask.encode(), ASK);
        // The answers a Node node gives: the count in JSON, each ack in MessagePack.
        let count = br#"{"type":8,"requestId":"2RDcI8","clientCount":1}"#;
        assert_eq!(
            Response::decode(count).unwrap(),
            Response::ClientCount {
                request_id: "2RDcI8".into(),
                count: 1
            }
        );
        let ack = b"\x83\xa4type\x09\xa9requestId\xa62RDcI8\xa6packet\xa3ans";
        let decoded = Response::decode(ack).unwrap();
        assert_eq!(
            decoded,
            Response::Ack {
                request_id: "2RDcI8".into(),
                value: Data::from(json!("ans"))
            }
        );
        assert_eq!(decoded.encode(), ack);
    }

    #[test]
    fn json_requests_of_the_real_adapter() {
        let cases: [(&[u8], Request); 4] = [
            (
                br#"{"uid":"O8QQk8","type":6,"data":["sse",1]}"#,
                Request::ServerSideEmit {
                    uid: "O8QQk8".into(),
                    request_id: None,
                    name: "sse".into(),
                    args: vec![json!(1).into()],
                },
            ),
            (
                br#"{"uid":"O8QQk8","type":2,"opts":{"rooms":[],"except":[]},"rooms":["r3"]}"#,
                Request::Rooms {
                    uid: "O8QQk8".into(),
                    join: true,
                    target: Target::all(),
                    rooms: vec!["r3".into()],
                },
            ),
            (
                br#"{"uid":"O8QQk8","type":3,"opts":{"rooms":["r3"],"except":[]},"rooms":["r3"]}"#,
                Request::Rooms {
                    uid: "O8QQk8".into(),
                    join: false,
                    target: Target::room("r3"),
                    rooms: vec!["r3".into()],
                },
            ),
            (
                br#"{"uid":"O8QQk8","type":4,"opts":{"rooms":["zz"],"except":[]},"close":true}"#,
                Request::Disconnect {
                    uid: "O8QQk8".into(),
                    target: Target::room("zz"),
                    close: true,
                },
            ),
        ];
        for (bytes, request) in cases {
            assert_eq!(Request::decode(bytes).unwrap(), request);
            // netlab's bytes decode to the same request (JSON key order aside).
            assert_eq!(Request::decode(&request.encode()).unwrap(), request);
        }
    }

    #[test]
    fn all_rooms_and_its_answer() {
        let request = br#"{"uid":"O8QQk8","requestId":"abc123","type":1}"#;
        assert_eq!(
            Request::decode(request).unwrap(),
            Request::AllRooms {
                uid: "O8QQk8".into(),
                request_id: "abc123".into()
            }
        );
        let answer = Response::Rooms {
            request_id: "abc123".into(),
            rooms: vec!["r1".into(), "wZX3oN0bSVIhsaknAAAI".into()],
        };
        assert_eq!(
            answer.encode(),
            br#"{"requestId":"abc123","rooms":["r1","wZX3oN0bSVIhsaknAAAI"]}"#
        );
        assert_eq!(Response::decode(&answer.encode()).unwrap(), answer);
    }

    #[test]
    fn broken_messages_are_named() {
        assert_eq!(
            Broadcast::decode(b"\x92\xa1a\xa1b"),
            Err(AdapterError::NotATriple)
        );
        assert!(matches!(
            Broadcast::decode(b"\x93\xa6O8"),
            Err(AdapterError::Undecodable(_))
        ));
        assert!(matches!(
            Request::decode(b"{nope"),
            Err(AdapterError::Undecodable(_))
        ));
        let not_event = b"\x93\xa1u\x82\xa4type\x03\xa4data\x90\x80";
        assert_eq!(
            Broadcast::decode(not_event),
            Err(AdapterError::NotAnEvent(3))
        );
        let no_name = b"\x93\xa1u\x82\xa4type\x02\xa4data\x90\x80";
        assert_eq!(Broadcast::decode(no_name), Err(AdapterError::NoEventName));
        assert_eq!(
            Request::decode(br#"{"uid":"u","type":42}"#),
            Err(AdapterError::UnknownRequest(42))
        );
        assert_eq!(
            from_msgpack(&Mp::Map(vec![(Mp::from(1), Mp::Nil)])),
            Err(AdapterError::NonStringKey)
        );
    }
}
