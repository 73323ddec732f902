//! Application layer on reassembled TCP streams: HTTP/1.x messages, WebSocket frames
//! after an accepted upgrade, and DNS messages (over TCP after their length prefix, over
//! UDP one per datagram).
//!
//! | | HTTP/1.x | WebSocket | DNS |
//! |---|---|---|---|
//! | OSI | 7 application | 7 application | 7 application |
//! | TCP/IP (RFC 1122) | application | application | application |
//! | PDU | message | frame (frames make a message) | message |
//! | standard | RFC 9112, RFC 9110 | RFC 6455 (RFC 7692 compression) | RFC 1035, RFC 7766 |
//!
//! A capture shows segments; HTTP and WebSocket are written in *bytes of a stream*, with
//! no regard for where TCP cut them. So [`AppDecoder`] is fed the in-order pieces that
//! `wire::dissect::flow` reassembles, one direction at a time, and finds message boundaries the
//! way the receiving program does:
//!
//! - an HTTP head ends at the first empty line (`\r\n\r\n`); heads are read by
//!   `wire::application::http1`, the parser netlab's own WebSocket server uses;
//! - a body is as long as `Content-Length` says, or a run of chunks ending with a
//!   zero-size chunk (`Transfer-Encoding: chunked`, RFC 9112 §7.1), or, for a response
//!   with neither, lasts until the server closes (RFC 9112 §6.3);
//! - responses answer requests in order on one connection (keep-alive), so the Nth
//!   response is matched to the Nth request (RFC 9112 §9.3);
//! - after `101 Switching Protocols` to an Upgrade request, the next byte in each
//!   direction is the first byte of a WebSocket frame (RFC 6455 §4.1); frame headers are
//!   read by `wire::application::websocket::FrameHeader::parse`, the same code the live server uses,
//!   and payloads are unmasked with its `apply_mask`;
//! - on a connection to port 53 every DNS message follows a two-byte length (RFC 1035
//!   §4.2.2, RFC 7766 §8).
//!
//! The decoder describes what it sees rather than enforcing rules: a frame with an RSV
//! bit or an unmasked client frame is shown, and the broken rule named. After a gap
//! (bytes the capture missed) a direction cannot find the next boundary, so its
//! decoding stops and says so. Memory is bounded by `max_buffer` per direction: a
//! longer message has its head described and its remaining bytes counted, not kept.
//!
//! # The files
//!
//! - `mod.rs` (this page): the decoded units ([`AppMessage`], [`AppEvent`]), the bytes of each
//!   direction not yet decoded, and [`AppDecoder`], which picks a protocol for a
//!   conversation from `PROTOCOLS` and feeds it; the rules every protocol shares
//!   (a gap or too many bytes stop a direction) are applied here, once.
//! - `http.rs`: HTTP/1.x (RFC 9112): heads, bodies, keep-alive matching, and the
//!   Upgrade hand-over (RFC 6455 §4) after which a direction reads WebSocket.
//! - `websocket.rs`: WebSocket frames (RFC 6455 §5) and fragmented messages (§5.4) in
//!   one direction, with permessage-deflate's RSV1 (RFC 7692 §6).
//! - `dns.rs`: DNS over TCP (RFC 1035 §4.2.2, RFC 7766 §8); the message itself is read by
//!   `wire::application::dns`.
//! - `layer.rs`: the layer-tree view of a decoded unit (its fields and where their bytes
//!   are in a frame), one function per protocol.
//! - `carried.rs`: the payload step: what WebSocket messages and HTTP bodies carry, when
//!   the request target asked for it (Engine.IO: `EIO=4`), request by request.
//! - `engineio.rs`: Engine.IO packets and long-polling payloads, and the Socket.IO
//!   packets inside them.
//!
//! A new protocol carried on TCP is one new file with a type implementing
//! `StreamDecoder` and its `Registration`, plus one line in `PROTOCOLS`; the units it
//! finds are new `AppMessage` variants, shown by a new function in `layer.rs`.

mod carried;
mod dns;
mod engineio;
mod http;
mod layer;
mod websocket;

pub use carried::{first_request_is_http, request_is_carried, Carried};
pub use engineio::{EioPacket, EngineIo, SioPacket, SocketIo};

pub use http::{AcceptCheck, BodyFraming};
pub use layer::{AppLayer, FrameMap};

use crate::layers::Protocol;
use crate::wire::application::http1::Headers;
use crate::wire::application::websocket::{LengthEncoding, OpCode};
use crate::wire::dissect::flow::{Direction, Piece, Transport};
use crate::wire::text;
use serde::Serialize;

/// How much of a body or payload is kept as a preview in each event.
pub const PREVIEW: usize = 256;

/// One decoded application-layer unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppMessage {
    HttpRequest {
        /// Counted from 1 on this connection.
        number: u32,
        method: String,
        target: String,
        version: String,
        headers: Headers,
        framing: BodyFraming,
        body_len: u64,
        /// Chunks of a chunked body (not counting the last, empty one).
        chunks: u32,
        /// The body's first bytes (up to [`PREVIEW`]), serialised as text (invalid
        /// UTF-8 replaced).
        #[serde(serialize_with = "lossy_text")]
        body_preview: Vec<u8>,
        upgrade_websocket: bool,
        /// What the body carries (Engine.IO), when the request asked for it.
        #[serde(flatten)]
        carried: Option<Carried>,
    },
    HttpResponse {
        /// The request this answers (responses come back in request order).
        answers: Option<u32>,
        version: String,
        status: u16,
        reason: String,
        headers: Headers,
        framing: BodyFraming,
        body_len: u64,
        chunks: u32,
        /// The body's first bytes (up to [`PREVIEW`]), serialised as text (invalid
        /// UTF-8 replaced).
        #[serde(serialize_with = "lossy_text")]
        body_preview: Vec<u8>,
        websocket_accept: Option<AcceptCheck>,
        /// After this response the connection speaks WebSocket.
        switches_to_websocket: bool,
        /// What the body carries (Engine.IO), when the request asked for it.
        #[serde(flatten)]
        carried: Option<Carried>,
    },
    WebSocketFrame {
        fin: bool,
        rsv1: bool,
        rsv2: bool,
        rsv3: bool,
        /// Serialised by its name ("text", "close", "reserved"), as the JSON has always
        /// shown it.
        #[serde(serialize_with = "opcode_name")]
        opcode: OpCode,
        opcode_bits: u8,
        masked: bool,
        /// The masking key, as 8 hex digits.
        mask_key: Option<String>,
        payload_len: u64,
        length_encoding: LengthEncoding,
        /// Part of a message compressed by permessage-deflate (RFC 7692): RSV1 on its
        /// first frame, with the extension negotiated; its continuations too (§6.1).
        compressed: bool,
        /// The unmasked payload: text for text frames (and close reasons), else hex.
        payload_text: Option<String>,
        payload_hex: Option<String>,
        /// Payload bytes not kept (beyond the preview).
        not_shown: u64,
        close_code: Option<u16>,
        close_reason: Option<String>,
        /// A rule of RFC 6455 this frame breaks, if any.
        problem: Option<String>,
        /// On the last frame of a compressed message: the message inflated, or why it
        /// could not be (RFC 7692 §7.2.2). Absent otherwise.
        #[serde(skip_serializing_if = "Option::is_none")]
        inflated: Option<Inflated>,
        /// What a whole message in one frame carries (Engine.IO), on a connection whose
        /// upgrade request asked for it.
        #[serde(flatten)]
        carried: Option<Carried>,
    },
    /// A fragmented message, complete: its frames' payloads joined.
    WebSocketMessage {
        #[serde(serialize_with = "opcode_name")]
        opcode: OpCode,
        frames: u32,
        len: u64,
        text: Option<String>,
        /// What the message carries (Engine.IO), on a connection whose upgrade request
        /// asked for it.
        #[serde(flatten)]
        carried: Option<Carried>,
    },
    /// A DNS message: over TCP after its two-byte length (RFC 1035 §4.2.2, RFC 7766
    /// §8), over UDP one per datagram.
    Dns {
        /// Serialised as "tcp" or "udp".
        transport: Transport,
        /// The message's length in bytes (over TCP: the value of the length prefix).
        length: u16,
        summary: String,
        message: Box<crate::wire::application::dns::Repr>,
    },
    /// Why decoding of this direction stopped, or something else worth saying.
    Note { text: String },
}

impl AppMessage {
    /// What this message's payload or body carries, when a carried protocol read it.
    pub fn carried(&self) -> Option<&Carried> {
        match self {
            AppMessage::HttpRequest { carried, .. }
            | AppMessage::HttpResponse { carried, .. }
            | AppMessage::WebSocketFrame { carried, .. }
            | AppMessage::WebSocketMessage { carried, .. } => carried.as_ref(),
            _ => None,
        }
    }
}

/// A compressed WebSocket message as the capture decoder inflated it (RFC 7692 §7.2.2),
/// or why it could not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Inflated {
    /// Inflated: its length, and its start as text (a text message) or hex.
    Message {
        len: u64,
        text: Option<String>,
        hex: Option<String>,
    },
    /// An earlier message could not be inflated, and with context takeover this one may
    /// refer back into it (RFC 7692 §7.2.3.2): the capture misses what it needs.
    MissedContext,
    /// The capture began after the handshake: the agreed parameters and, with context
    /// takeover, the earlier messages this one may refer back into are missing.
    MissedHandshake,
    /// The message is longer than the decoder keeps, so it was not inflated whole.
    TooLong,
    /// The bytes are not DEFLATE data.
    NotDeflate,
}

impl Inflated {
    /// One line on it, for the follow view and the layer tree.
    pub fn describe(&self) -> String {
        match self {
            Self::Message { len, text, hex } => {
                let shown = match (text, hex) {
                    (Some(t), _) => format!(": {}", text::quoted(t.as_bytes(), usize::MAX)),
                    (None, Some(h)) => format!(": hex {h}"),
                    _ => String::new(),
                };
                format!("inflated (permessage-deflate) to {len} bytes{shown}")
            }
            Self::MissedContext => concat!(
                "not inflated: an earlier message was not, and with context takeover ",
                "this one may refer back into it (RFC 7692 §7.2.3.2)"
            )
            .into(),
            Self::MissedHandshake => concat!(
                "not inflated: the capture began after the handshake, so it misses the ",
                "agreed parameters and, with context takeover, the earlier messages this ",
                "one may refer back into (RFC 7692 §7.2.3.2)"
            )
            .into(),
            Self::TooLong => "not inflated: longer than the decoder keeps".into(),
            Self::NotDeflate => "not inflated: the payload is not DEFLATE data".into(),
        }
    }
}

/// An opcode as JSON shows it: its name alone, also for a reserved one (whose
/// `Display` adds the value, which `opcode_bits` already carries).
fn opcode_name<S: serde::Serializer>(op: &OpCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(op.name())
}

/// A decoded unit, with where it started in its direction's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppEvent {
    pub direction: Direction,
    pub offset: u64,
    /// Stream offset just after its last byte (so `offset..end` are its bytes).
    #[serde(skip)]
    pub end: u64,
    pub message: AppMessage,
    /// The whole payload of a WebSocket message or the whole body of an HTTP message,
    /// kept for the payload step (`carried.rs`) and dropped once it has run.
    #[serde(skip)]
    payload: Option<Vec<u8>>,
}

impl AppEvent {
    /// Something worth saying at stream offset `at` that is no unit of its own.
    fn note(direction: Direction, at: u64, text: String) -> AppEvent {
        AppEvent {
            direction,
            offset: at,
            end: at,
            message: AppMessage::Note { text },
            payload: None,
        }
    }
}

/// One direction's bytes that have arrived but are not decoded yet.
#[derive(Debug, Clone, Default)]
struct Stream {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    at: u64,
    /// Bytes of an oversized unit still to skip: its head was described, the rest is
    /// counted, not kept.
    skip: u64,
}

impl Stream {
    /// The first `n` bytes are decoded: drop them.
    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
        self.at += n as u64;
    }

    /// These bytes break the protocol: say so here and drop them. The decoder stops
    /// reading this direction.
    fn stop(&mut self, dir: Direction, text: String, out: &mut Vec<AppEvent>) {
        out.push(AppEvent::note(dir, self.at, text));
        self.buf.clear();
    }
}

/// What one step of a decoder did with the front of a direction's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Consumed bytes or moved on: try another step.
    Progress,
    /// The unit at the front is not complete: wait for more bytes.
    NeedMore,
    /// The bytes break the protocol: decoding of this direction stops, and this says why.
    Stop(String),
}

/// An application protocol's decoder for one TCP conversation. It holds both
/// directions, because one direction's messages can change how the other is read (an
/// HTTP response answers the oldest request; a `101` turns both directions to
/// WebSocket).
///
/// It reads from the front of a direction's [`Stream`] and consumes what it decoded.
/// It never sees a gap: [`AppDecoder`] stops the direction first.
trait StreamDecoder: std::fmt::Debug {
    /// Decode as much of `dir`'s bytes as possible. `streams` is indexed by direction.
    fn run(&mut self, dir: Direction, streams: &mut [Stream; 2], out: &mut Vec<AppEvent>);

    /// Stop decoding `dir` for good (bytes were lost, or too many came without a
    /// whole unit). True when it was decoding, so the loss deserves a note; false when
    /// it had stopped already or was still deciding whether this is its protocol.
    fn stop(&mut self, dir: Direction) -> bool;

    /// Has decoding of `dir` stopped? Its bytes are then dropped unread.
    fn stopped(&self, dir: Direction) -> bool;

    /// Does `dir` hold the start of a unit not yet complete? Of which protocol.
    fn holding(&self, dir: Direction, stream: &Stream) -> Option<Protocol>;

    /// The capture ended: report units still open, and stop both directions.
    fn finish(&mut self, streams: &[Stream; 2], out: &mut Vec<AppEvent>);
}

/// A protocol a TCP conversation can be decoded as.
struct Registration {
    /// Does a conversation between these two ports carry it?
    claims: fn(u16, u16) -> bool,
    /// Its decoder, keeping at most `max_buffer` bytes per direction.
    start: fn(max_buffer: usize) -> Box<dyn StreamDecoder>,
}

/// The protocols a TCP conversation is offered, in this order: the first that claims
/// it decodes it. The last claims every conversation.
const PROTOCOLS: &[Registration] = &[
    // Port 53: length-prefixed DNS messages from the first byte (RFC 7766 §8).
    dns::OVER_TCP,
    // Any port: HTTP if the first bytes look like it, WebSocket after an upgrade.
    http::BY_CONTENT,
];

/// Decodes one TCP conversation's application layer. Direction `AToB` is the client's.
#[derive(Debug)]
pub struct AppDecoder {
    /// Indexed by [`Direction`].
    streams: [Stream; 2],
    max_buffer: usize,
    protocol: Box<dyn StreamDecoder>,
    /// The payload step: what WebSocket messages and HTTP bodies carry.
    payloads: carried::Payloads,
}

/// Bytes as text for JSON: invalid UTF-8 replaced (views escape the bytes themselves).
fn lossy_text<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(b))
}

/// Bytes as lowercase hex digits, two per byte, no separator.
fn hex(b: &[u8]) -> String {
    text::hex(b, "")
}

impl AppDecoder {
    /// A decoder for a conversation whose ports are not known: HTTP, recognised by its
    /// first bytes, and WebSocket after an upgrade.
    pub fn new(max_buffer: usize) -> AppDecoder {
        AppDecoder::with(&http::BY_CONTENT, max_buffer)
    }

    /// A decoder for a conversation between these two ports: the first of
    /// `PROTOCOLS` that claims them (DNS when either is 53, else HTTP/WebSocket
    /// detection as [`AppDecoder::new`]).
    pub fn for_ports(max_buffer: usize, a: u16, b: u16) -> AppDecoder {
        let r = PROTOCOLS
            .iter()
            .find(|r| (r.claims)(a, b))
            .unwrap_or(&http::BY_CONTENT);
        AppDecoder::with(r, max_buffer)
    }

    fn with(r: &Registration, max_buffer: usize) -> AppDecoder {
        AppDecoder {
            streams: Default::default(),
            max_buffer,
            protocol: (r.start)(max_buffer),
            payloads: carried::Payloads::default(),
        }
    }

    /// Decode one UDP datagram of a DNS conversation (no length prefix: the datagram
    /// is the message). Datagrams too short for a DNS header are noted.
    pub fn dns_datagram(dir: Direction, offset: u64, bytes: &[u8], out: &mut Vec<AppEvent>) {
        out.push(dns::event(dir, offset, Transport::Udp, bytes));
    }

    /// Feed one reassembled piece; decoded units are appended to `out`.
    pub fn piece(&mut self, dir: Direction, p: Piece<'_>, out: &mut Vec<AppEvent>) {
        let s = &mut self.streams[dir as usize];
        match p {
            Piece::Gap { offset, len } => {
                if self.protocol.stop(dir) {
                    let text = format!(
                        "{len} bytes missing from the capture: message boundaries after them cannot be found, decoding of this direction stops"
                    );
                    out.push(AppEvent::note(dir, offset, text));
                }
                s.buf.clear();
            }
            Piece::Data { offset, bytes } => {
                if self.protocol.stopped(dir) {
                    return;
                }
                if s.buf.is_empty() {
                    s.at = offset;
                }
                let mut bytes = bytes;
                if s.skip > 0 {
                    let n = bytes
                        .len()
                        .min(usize::try_from(s.skip).unwrap_or(usize::MAX));
                    s.skip -= n as u64;
                    bytes = &bytes[n..];
                    s.at = offset + n as u64;
                }
                s.buf.extend_from_slice(bytes);
                let first = out.len();
                self.protocol.run(dir, &mut self.streams, out);
                self.payloads.apply(&mut out[first..]);
                let s = &mut self.streams[dir as usize];
                if s.buf.len() > self.max_buffer {
                    let text = format!(
                        "more than {} bytes without a complete message: decoding of this direction stops",
                        self.max_buffer
                    );
                    self.protocol.stop(dir);
                    s.stop(dir, text, out);
                }
            }
        }
    }

    /// The capture ended: report bodies that were still open (a body read until the
    /// server closes ends here).
    pub fn finish(&mut self, out: &mut Vec<AppEvent>) {
        let first = out.len();
        self.protocol.finish(&self.streams, out);
        self.payloads.apply(&mut out[first..]);
    }

    /// Can a later message of this conversation still carry something (Engine.IO)?
    /// Not when the client's bytes are not HTTP (or decoding them stopped), nor after an
    /// upgrade to WebSocket no carried protocol asked for: then no request follows.
    pub fn may_carry(&self) -> bool {
        self.payloads.may_carry() && !self.protocol.stopped(Direction::AToB)
    }

    /// Is this direction holding the start of a unit not yet complete? Which protocol.
    pub fn holding(&self, dir: Direction) -> Option<Protocol> {
        self.protocol.holding(dir, &self.streams[dir as usize])
    }
}

/// What the tests of every protocol file feed the decoder with.
#[cfg(test)]
pub(super) mod testing {
    use super::*;
    use crate::wire::application::websocket::handshake::{accept_key, client_request};
    use crate::wire::application::websocket::Frame;

    /// Feed `(direction, bytes)` in pieces of `step` bytes (0: whole).
    pub(in crate::wire::dissect::app) fn decode(
        parts: &[(Direction, Vec<u8>)],
        step: usize,
    ) -> Vec<AppEvent> {
        let mut d = AppDecoder::new(1 << 20);
        let mut out = Vec::new();
        let mut offsets = [0u64; 2];
        for (dir, bytes) in parts {
            let n = if step == 0 { bytes.len().max(1) } else { step };
            for c in bytes.chunks(n) {
                let i = *dir as usize;
                d.piece(
                    *dir,
                    Piece::Data {
                        offset: offsets[i],
                        bytes: c,
                    },
                    &mut out,
                );
                offsets[i] += c.len() as u64;
            }
        }
        d.finish(&mut out);
        out
    }

    pub(in crate::wire::dissect::app) fn websocket_session() -> Vec<(Direction, Vec<u8>)> {
        let (key, req) = client_request("h", "/chat", [7; 16], &[], None);
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&key)
        );
        let mut c = Vec::new();
        Frame::encode(false, OpCode::Text, b"hel", Some([1, 2, 3, 4]), &mut c);
        Frame::encode(true, OpCode::Ping, b"p", Some([5, 6, 7, 8]), &mut c); // between fragments
        Frame::encode(
            true,
            OpCode::Continuation,
            b"lo",
            Some([9, 9, 9, 9]),
            &mut c,
        );
        let big = vec![0xabu8; 70_000];
        Frame::encode(true, OpCode::Binary, &big, Some([1, 1, 1, 1]), &mut c);
        let mut s = Vec::new();
        Frame::encode(true, OpCode::Pong, b"p", None, &mut s);
        Frame::encode(
            true,
            OpCode::Close,
            &[0x03, 0xe8, b'b', b'y', b'e'],
            None,
            &mut s,
        );
        vec![
            (Direction::AToB, req),
            (Direction::BToA, resp.into_bytes()),
            (Direction::AToB, c),
            (Direction::BToA, s),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::testing::websocket_session;
    use super::*;

    #[test]
    fn a_gap_stops_decoding_and_non_http_is_left_alone() {
        let mut d = AppDecoder::new(1024);
        let mut out = Vec::new();
        d.piece(
            Direction::AToB,
            Piece::Data {
                offset: 0,
                bytes: b"GET / HTTP/1.1\r\n",
            },
            &mut out,
        );
        d.piece(Direction::AToB, Piece::Gap { offset: 16, len: 5 }, &mut out);
        d.piece(
            Direction::AToB,
            Piece::Data {
                offset: 21,
                bytes: b"\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            },
            &mut out,
        );
        d.piece(
            Direction::BToA,
            Piece::Data {
                offset: 0,
                bytes: b"SSH-2.0-OpenSSH\r\n",
            },
            &mut out,
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(
            matches!(&out[0].message, AppMessage::Note { text } if text.contains("5 bytes missing"))
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_memory_stays_bounded() {
        // A deterministic generator: the same "random" bytes on every run.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..300 {
            let mut d = AppDecoder::new(4096);
            let mut out = Vec::new();
            // Half the rounds start as a real upgrade so the frame parser sees noise too.
            if round % 2 == 0 {
                for (dir, b) in websocket_session().into_iter().take(2) {
                    d.piece(
                        dir,
                        Piece::Data {
                            offset: 0,
                            bytes: &b,
                        },
                        &mut out,
                    );
                }
            }
            for _ in 0..50 {
                let n = (next() % 600) as usize;
                let bytes: Vec<u8> = (0..n).map(|_| next() as u8).collect();
                let dir = if next() % 2 == 0 {
                    Direction::AToB
                } else {
                    Direction::BToA
                };
                d.piece(
                    dir,
                    Piece::Data {
                        offset: 0,
                        bytes: &bytes,
                    },
                    &mut out,
                );
                for s in &d.streams {
                    assert!(s.buf.len() <= 4096 + 600);
                }
            }
            d.finish(&mut out);
        }
    }
}
