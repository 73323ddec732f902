//! The application layer: what programs say to each other over TCP and UDP.
//!
//! - [`http1`]: HTTP/1.x message heads, read with a size limit (RFC 9112).
//! - [`websocket`]: RFC 6455, sans-I/O: frames, masking, close codes, messages, the
//!   opening handshake and the connection's state machine.
//! - [`engineio`]: Engine.IO 4, the transport under Socket.IO: packets, long-polling
//!   payloads, the handshake query and a session as a state machine.
//! - [`dns`]: DNS messages, names with compression pointers, records (RFC 1035).
//! - [`push`]: the bytes of polling, long polling and Server-Sent Events.
//! - [`socketio`]: Socket.IO v5 packets and binary attachments, and a server's namespaces,
//!   rooms, acknowledgements and recovery as a state machine.
//! - [`redis`]: RESP, the Redis protocol: commands, replies, Pub/Sub pushes.
//! - [`queue`]: a message queue: the records of its log, the broker's decisions, its events.
//! - [`framing`]: how an application finds its messages again in a TCP byte stream.
//! - [`tls`]: the TLS record header, as much of TLS as a capture without keys shows
//!   (RFC 8446 §5.1).

pub mod dns;
pub mod engineio;
pub mod framing;
pub mod http1;
pub mod push;
pub mod queue;
pub mod redis;
pub mod socketio;
pub mod tls;
pub mod websocket;
