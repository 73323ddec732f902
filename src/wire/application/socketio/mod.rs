//! Socket.IO (protocol version 5), sans I/O: packets, binary attachments, and a server's
//! namespaces, rooms, acknowledgements and connection state recovery as a state machine.
//!
//! | | |
//! |---|---|
//! | OSI | 7 application (above Engine.IO, which rides on HTTP long-polling or WebSocket) |
//! | TCP/IP (RFC 1122) | application |
//! | PDU | packet; each packet is one Engine.IO *message* (text), plus one binary message per attachment |
//! | standard | the Socket.IO protocol, 5th revision (`socketio/socket.io-protocol`); `socket.io-parser` 4.x is the reference encoder |
//!
//! The text form of a packet (each part in brackets may be absent; below, spaces only
//! separate the parts, the wire has none: `51-14["foo",..]`):
//!
//! ```text
//!  <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
//!
//!  2           ["chat","hi"]            EVENT on "/", no ack asked
//!  2 /admin,   13 ["foo"]              EVENT on "/admin", ack id 13
//!  5 1- 14     ["foo",{"_placeholder":true,"num":0}]  + one binary message 01 02 03 04
//!  0           {"sid":"wZX3oN0bSVIhsaknAAAI"}        the server's CONNECT answer
//! ```
//!
//! Engine.IO prefixes every message with its own type `4` on the wire, so the EVENT above
//! travels as `42["chat","hi"]`; this module sees the message without that prefix.
//!
//! - [`packet`]: the seven packet types, [`Packet`], the text form both ways.
//! - [`data`]: [`Data`], JSON with binary inside, and the placeholders that carry it.
//! - [`decoder`]: [`Decoder`], messages into packets: a binary packet waits for its
//!   attachments, within [`Limits`].
//! - [`server`]: [`Server`], the server's side of every session as a state machine:
//!   Engine.IO-level inputs and time in, [`Action`]s out; [`events`] holds what goes in
//!   and out ([`Options`], [`Action`], [`AppEvent`], [`Flags`], [`DisconnectReason`]).
//! - [`rooms`]: each namespace's rooms and the choice of receivers for a broadcast.
//! - [`recovery`]: connection state recovery (off by default).
//! - [`adapter`]: what servers say to each other through Redis (the Redis adapter's
//!   channels, broadcasts, requests and responses), so an emit reaches every node.
//! - [`api`]: builders that read like the JavaScript emit cheatsheet
//!   (`io.to("room1").emit(..)`) and produce the server's inputs.
//!
//! Nothing here reads a socket, a clock or a random number generator: socket ids, session
//! ids and the current time are arguments (time as a `Duration` since an origin the driver
//! picks), so every test is deterministic.

pub mod adapter;
pub mod api;
pub mod data;
pub mod decoder;
pub mod events;
pub mod packet;
pub mod recovery;
pub mod rooms;
pub mod server;

pub use data::{placeholder, Data};
pub use decoder::{Decoder, Limits};
pub use events::{socket_id, Action, AppEvent, DisconnectReason, Emit, EmitError, Flags, Options};
pub use packet::{Kind, Packet, PacketType};
pub use recovery::RecoveryOptions;
pub use rooms::Target;
pub use server::Server;

/// One Engine.IO message: what Engine.IO carries for Socket.IO. A packet is one text
/// message, followed by one binary message per attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineMessage {
    Text(String),
    Binary(Vec<u8>),
}

/// Event names the real server and client keep for themselves (`socket.io-parser`'s
/// `RESERVED_EVENTS`): a peer may not send an event by one of these names, and an
/// application may not emit one.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// A rule of the Socket.IO packet format that a message broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("an empty message: a packet starts with its type digit")]
    Empty,
    #[error("unknown packet type {found:?}: the types are 0 to 6")]
    UnknownType { found: char },
    #[error("a binary packet's attachment count is not digits followed by `-`")]
    BadAttachmentCount,
    #[error("a binary packet with no attachment: BINARY_EVENT and BINARY_ACK carry at least one")]
    NoAttachments,
    #[error("a packet announcing {claimed} attachments; at most {max} are accepted")]
    TooManyAttachments { claimed: u64, max: usize },
    #[error("attachments of {len} bytes in all exceed the limit of {max} bytes")]
    AttachmentsTooLarge { len: usize, max: usize },
    #[error("a namespace {reason}")]
    BadNamespace { reason: &'static str },
    #[error("an acknowledgement id that is not a number below 2^64")]
    BadAckId,
    #[error("a {kind} packet with an acknowledgement id: only EVENT and ACK carry one")]
    UnexpectedAckId { kind: PacketType },
    #[error("an ACK packet without the id of the event it answers")]
    MissingAckId,
    #[error("a payload that is not JSON")]
    BadJson,
    #[error("a CONNECT payload that is not a JSON object")]
    ConnectNotObject,
    #[error("a DISCONNECT packet with a payload: it carries none")]
    DisconnectWithPayload,
    #[error("a CONNECT_ERROR payload that is neither a string nor an object")]
    BadConnectError,
    #[error("an EVENT payload that is not a JSON array")]
    EventNotArray,
    #[error("an EVENT with an empty array: the first element is the event name")]
    EventWithoutName,
    #[error("an event name that is not a string")]
    EventNameNotString,
    #[error("the event name {name:?} is reserved")]
    ReservedEventName { name: String },
    #[error("an ACK payload that is not a JSON array")]
    AckNotArray,
    #[error("a placeholder that names no attachment (`num` missing or out of range)")]
    BadPlaceholder,
    #[error("two placeholders naming the same attachment {num}")]
    PlaceholderReused { num: u64 },
    #[error("a text message while {missing} attachment(s) of the previous packet are awaited")]
    TextWhileAwaitingAttachments { missing: usize },
    #[error("a binary message with no binary packet awaiting it")]
    UnexpectedBinary,
}
