//! Engine.IO, protocol version 4, sans I/O: the transport under Socket.IO.
//!
//! | | |
//! |---|---|
//! | OSI | 7 application (it rides on HTTP long-polling or on a WebSocket) |
//! | TCP/IP (RFC 1122) | application |
//! | PDU | packet; in long-polling, a payload of packets |
//! | standard | the Engine.IO protocol, revision 4 (github.com/socketio/engine.io-protocol) |
//!
//! Engine.IO gives a *session* (named by its `sid`) that outlives any one HTTP request:
//! the client opens it with a GET, then reads with long-polling GETs and writes with
//! POSTs, and usually moves the session onto a WebSocket ("upgrade"). Either way the
//! session carries *messages*, text or binary, and the server checks the client is still
//! there with a ping every `pingInterval`.
//!
//! ```text
//!  a packet:   <type digit><data>          4hello        (message "hello")
//!                                          2             (ping)
//!  a payload:  packet \x1e packet ...      4hello\x1ebAQID   (text, then binary 01 02 03)
//!  binary in long-polling:   b<base64>     bAQID
//!  binary on a WebSocket:    a binary frame holding the bytes themselves
//! ```
//!
//! - [`packet`]: the seven packet types and their text and binary encodings.
//! - [`open`]: the open packet's JSON (`sid`, `upgrades`, `pingInterval`, …).
//! - [`payload`]: long-polling bodies, packets joined by the record separator `0x1e`,
//!   read with a limit on count and size.
//! - [`query`]: the request target (`/engine.io/?EIO=4&transport=polling&sid=…`) and the
//!   checks the server makes before serving it, with the reference server's error codes.
//! - [`client`]: the client's side: its request targets, the ping deadline, the
//!   back-off between reconnection attempts and the reasons a client gives for an end.
//! - [`session`]: one server-side session as a state machine: requests and time in,
//!   answers, packets to send and events out.
//! - [`compression`]: HTTP compression of long-polling answers (gzip, deflate), as the
//!   reference server does it, with the choice Socket.IO's `compress(false)` undoes.
//!
//! Nothing here reads a socket or a clock: time comes in as a `Duration` on the
//! caller's clock, so every test is deterministic. `net::engineio` runs sessions on
//! netlab's HTTP and WebSocket connections.

pub mod client;
pub mod compression;
pub mod cors;
pub mod open;
pub mod packet;
pub mod payload;
pub mod query;
pub mod session;

pub use open::OpenInfo;
pub use packet::{Message, Packet, PacketError, PacketType};
pub use payload::{decode_payload, encode_payload, PayloadError, PayloadLimits};
pub use query::{check, Query, Refusal, RefusalCode, Route, Transport};

/// The protocol revision this module speaks (`EIO=4` in every request).
pub const PROTOCOL: u8 = 4;
pub use session::{
    CloseReason, Config, Event, GetAnswer, PostAnswer, SendError, SendOptions, Session, Time,
    Transmit, UpgradeRefused,
};
