//! Application layer on reassembled TCP streams: HTTP/1.x messages and, after an
//! `Upgrade: websocket` request answered by `101 Switching Protocols`, WebSocket frames.
//!
//! | | HTTP/1.x | WebSocket |
//! |---|---|---|
//! | OSI | 7 application | 7 application |
//! | TCP/IP (RFC 1122) | application | application |
//! | PDU | message | frame (frames make a message) |
//! | standard | RFC 9112, RFC 9110 | RFC 6455 |
//!
//! A capture shows segments; HTTP and WebSocket are written in *bytes of a stream*, with
//! no regard for where TCP cut them. So [`AppDecoder`] is fed the in-order pieces that
//! `wire::flow` reassembles, one direction at a time, and finds message boundaries the
//! way the receiving program does:
//!
//! - an HTTP head ends at the first empty line (`\r\n\r\n`); heads are read by
//!   `wire::http1`, the parser netlab's own WebSocket server uses;
//! - a body is as long as `Content-Length` says, or a run of chunks ending with a
//!   zero-size chunk (`Transfer-Encoding: chunked`, RFC 9112 §7.1), or, for a response
//!   with neither, lasts until the server closes (RFC 9112 §6.3);
//! - responses answer requests in order on one connection (keep-alive), so the Nth
//!   response is matched to the Nth request (RFC 9112 §9.3);
//! - after `101 Switching Protocols` to an Upgrade request, the next byte in each
//!   direction is the first byte of a WebSocket frame (RFC 6455 §4.1); frame headers are
//!   read by `wire::websocket::FrameHeader::parse`, the same code the live server uses,
//!   and payloads are unmasked with its `apply_mask`.
//!
//! The decoder describes what it sees rather than enforcing rules: a frame with an RSV
//! bit or an unmasked client frame is shown, and the broken rule named. After a gap
//! (bytes the capture missed) a direction cannot find the next boundary, so its
//! decoding stops and says so. Memory is bounded by `max_buffer` per direction: a
//! longer message has its head described and its remaining bytes counted, not kept.

use super::dns;
use super::flow::{Direction, Piece, Transport};
use super::http1::{self, Headers, Scan};
use super::websocket::close::CloseFrame;
use super::websocket::handshake::accept_key;
use super::websocket::{apply_mask, FrameHeader, LengthEncoding, OpCode, Parsed};
use serde::Serialize;

/// How much of a body or payload is kept as a preview in each event.
pub const PREVIEW: usize = 256;

/// How a body's length was known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFraming {
    None,
    ContentLength,
    Chunked,
    /// A response without a length: the body ends when the server closes.
    UntilClose,
}

/// The `Sec-WebSocket-Accept` check (RFC 6455 §4.2.2): base64(SHA-1(key + GUID)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcceptCheck {
    pub key: String,
    pub expected: String,
    pub got: String,
    pub ok: bool,
}

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
        body_preview: String,
        upgrade_websocket: bool,
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
        body_preview: String,
        websocket_accept: Option<AcceptCheck>,
        /// After this response the connection speaks WebSocket.
        switches_to_websocket: bool,
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
    },
    /// A fragmented message, complete: its frames' payloads joined.
    WebSocketMessage {
        #[serde(serialize_with = "opcode_name")]
        opcode: OpCode,
        frames: u32,
        len: u64,
        text: Option<String>,
    },
    /// A DNS message: over TCP after its two-byte length (RFC 1035 §4.2.2, RFC 7766
    /// §8), over UDP one per datagram.
    Dns {
        /// Serialised as "tcp" or "udp".
        transport: Transport,
        /// The message's length in bytes (over TCP: the value of the length prefix).
        length: u16,
        summary: String,
        message: Box<dns::Repr>,
    },
    /// Why decoding of this direction stopped, or something else worth saying.
    Note { text: String },
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Body {
    Length(u64),
    Chunked(ChunkState),
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading a chunk-size line.
    Size,
    /// Inside a chunk: this many data bytes left, then CRLF.
    Data(u64),
    /// After the last chunk: trailer lines until an empty one.
    Trailer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    /// Waiting for the first bytes to decide whether this is HTTP.
    Start,
    Head,
    Body {
        body: Body,
        /// The event being built (its body fields are filled in as bytes pass).
        event: Box<AppEvent>,
    },
    /// Client side after an Upgrade request: hold bytes until the server answers.
    AwaitUpgrade,
    WebSocket,
    /// DNS over TCP: a two-byte length, then a message of that length, repeated.
    Dns,
    /// Not HTTP, or lost after a gap or an error: bytes are ignored.
    Off,
}

#[derive(Debug, Clone)]
struct Side {
    mode: Mode,
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    at: u64,
    /// Payload bytes of an oversized frame still to skip.
    skip: u64,
    /// A fragmented message in progress.
    fragments: Option<Fragmented>,
}

/// A fragmented WebSocket message in progress (RFC 6455 §5.4): its first frame began
/// it, continuations add to it, the one with FIN ends it.
#[derive(Debug, Clone)]
struct Fragmented {
    /// The first frame's opcode (text or binary): continuations carry 0.
    opcode: OpCode,
    /// Frames so far.
    frames: u32,
    /// The payload kept so far (at most `max_buffer` bytes).
    kept: Vec<u8>,
    /// The payload's length so far, kept or not.
    len: u64,
    /// The first frame had RSV1 with permessage-deflate: the message is compressed
    /// (RFC 7692 §6.1).
    compressed: bool,
}

/// A request whose response has not come yet (responses come in request order,
/// RFC 9112 §9.3).
#[derive(Debug, Clone)]
struct PendingRequest {
    /// Counted from 1 on this connection.
    number: u32,
    /// A response to HEAD has no body, whatever its headers say (RFC 9110 §9.3.2).
    head: bool,
    /// The `Sec-WebSocket-Key` of an Upgrade request (empty when it had none).
    upgrade_key: Option<String>,
}

impl Side {
    fn new() -> Side {
        Side {
            mode: Mode::Start,
            buf: Vec::new(),
            at: 0,
            skip: 0,
            fragments: None,
        }
    }
}

/// Decodes one TCP conversation's application layer. Direction `AToB` is the client's.
#[derive(Debug, Clone)]
pub struct AppDecoder {
    sides: [Side; 2],
    max_buffer: usize,
    requests_seen: u32,
    responses_seen: u32,
    /// Requests awaiting a response, oldest first.
    pending: std::collections::VecDeque<PendingRequest>,
    deflate: bool,
}

fn version(minor: u8) -> String {
    format!("HTTP/1.{minor}")
}

fn preview(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(PREVIEW)]).into_owned()
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

impl AppDecoder {
    pub fn new(max_buffer: usize) -> AppDecoder {
        AppDecoder {
            sides: [Side::new(), Side::new()],
            max_buffer,
            requests_seen: 0,
            responses_seen: 0,
            pending: Default::default(),
            deflate: false,
        }
    }

    /// A decoder for a conversation between these two ports: DNS when either is 53
    /// (a TCP connection to port 53 carries length-prefixed DNS messages from its first
    /// byte, RFC 7766 §8), else HTTP/WebSocket detection as [`AppDecoder::new`].
    pub fn for_ports(max_buffer: usize, a: u16, b: u16) -> AppDecoder {
        let mut d = AppDecoder::new(max_buffer);
        if a == dns::PORT || b == dns::PORT {
            for s in &mut d.sides {
                s.mode = Mode::Dns;
            }
        }
        d
    }

    /// Decode one UDP datagram of a DNS conversation (no length prefix: the datagram
    /// is the message). Datagrams too short for a DNS header are noted.
    pub fn dns_datagram(dir: Direction, offset: u64, bytes: &[u8], out: &mut Vec<AppEvent>) {
        out.push(dns_event(dir, offset, Transport::Udp, bytes));
    }

    /// Feed one reassembled piece; decoded units are appended to `out`.
    pub fn piece(&mut self, dir: Direction, p: Piece<'_>, out: &mut Vec<AppEvent>) {
        let i = dir as usize;
        match p {
            Piece::Gap { offset, len } => {
                let s = &mut self.sides[i];
                if s.mode != Mode::Off && s.mode != Mode::Start {
                    out.push(AppEvent {
                        direction: dir,
                        offset,
                        end: offset,
                        message: AppMessage::Note {
                            text: format!(
                                "{len} bytes missing from the capture: message boundaries after them cannot be found, decoding of this direction stops"
                            ),
                        },
                    });
                }
                s.mode = Mode::Off;
                s.buf.clear();
            }
            Piece::Data { offset, bytes } => {
                let s = &mut self.sides[i];
                if s.mode == Mode::Off {
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
                self.run(dir, out);
                let s = &mut self.sides[i];
                if s.buf.len() > self.max_buffer {
                    out.push(AppEvent {
                        direction: dir,
                        offset: s.at,
                        end: s.at,
                        message: AppMessage::Note {
                            text: format!(
                                "more than {} bytes without a complete message: decoding of this direction stops",
                                self.max_buffer
                            ),
                        },
                    });
                    s.mode = Mode::Off;
                    s.buf.clear();
                }
            }
        }
    }

    /// Decode as much of the buffered bytes as possible. Each pass consumes bytes or
    /// returns, so the loop ends.
    fn run(&mut self, dir: Direction, out: &mut Vec<AppEvent>) {
        let i = dir as usize;
        // Bounded: every pass either consumes bytes, changes the mode or returns. The
        // mode is taken out (not cloned: a body's event holds its headers) and every
        // branch puts one back.
        loop {
            match std::mem::replace(&mut self.sides[i].mode, Mode::Off) {
                Mode::Off => return,
                Mode::AwaitUpgrade => {
                    self.sides[i].mode = Mode::AwaitUpgrade;
                    return;
                }
                Mode::Start => {
                    let b = &self.sides[i].buf;
                    let looks = match dir {
                        Direction::AToB => {
                            let n = b.len().min(8);
                            let word = &b[..n];
                            match word.iter().position(|&c| c == b' ') {
                                Some(0) => Some(false),
                                Some(k) => Some(word[..k].iter().all(u8::is_ascii_uppercase)),
                                None if n < 8 && word.iter().all(u8::is_ascii_uppercase) => None,
                                None => Some(false),
                            }
                        }
                        Direction::BToA => {
                            let n = b.len().min(5);
                            if b"HTTP/"[..n] != b[..n] {
                                Some(false)
                            } else if n < 5 {
                                None
                            } else {
                                Some(true)
                            }
                        }
                    };
                    self.sides[i].mode = match looks {
                        None => {
                            // Too few bytes to decide: wait for more.
                            self.sides[i].mode = Mode::Start;
                            return;
                        }
                        Some(true) => Mode::Head,
                        Some(false) => Mode::Off,
                    };
                }
                Mode::Head => {
                    self.sides[i].mode = Mode::Head;
                    if !self.head(dir, out) {
                        return;
                    }
                }
                Mode::Body { body, event } => {
                    if !self.body(dir, body, *event, out) {
                        return;
                    }
                }
                Mode::WebSocket => {
                    self.sides[i].mode = Mode::WebSocket;
                    if !self.frame(dir, out) {
                        return;
                    }
                }
                Mode::Dns => {
                    self.sides[i].mode = Mode::Dns;
                    if !self.dns(dir, out) {
                        return;
                    }
                }
            }
        }
    }

    /// One length-prefixed DNS message, when all its bytes are here; true when one was
    /// consumed.
    fn dns(&mut self, dir: Direction, out: &mut Vec<AppEvent>) -> bool {
        let i = dir as usize;
        let b = &self.sides[i].buf;
        let [hi, lo, ..] = b[..] else {
            return false;
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if b.len() < 2 + len {
            return false;
        }
        let ev = dns_event(dir, self.sides[i].at, Transport::Tcp, &b[2..2 + len]);
        out.push(ev);
        self.consume(i, 2 + len);
        true
    }

    fn consume(&mut self, i: usize, n: usize) {
        let s = &mut self.sides[i];
        s.buf.drain(..n);
        s.at += n as u64;
    }

    fn stop(&mut self, dir: Direction, text: String, out: &mut Vec<AppEvent>) {
        let s = &mut self.sides[dir as usize];
        out.push(AppEvent {
            direction: dir,
            offset: s.at,
            end: s.at,
            message: AppMessage::Note { text },
        });
        s.mode = Mode::Off;
        s.buf.clear();
    }

    /// Read a head; true when progress was made.
    fn head(&mut self, dir: Direction, out: &mut Vec<AppEvent>) -> bool {
        let i = dir as usize;
        let at = self.sides[i].at;
        let limit = self.max_buffer.min(64 * 1024);
        match dir {
            Direction::AToB => match http1::parse_request(&self.sides[i].buf, limit) {
                Ok(Scan::NeedMore) => false,
                Err(e) => {
                    self.stop(dir, format!("not a valid HTTP request: {e}"), out);
                    true
                }
                Ok(Scan::Complete { value, head_len }) => {
                    self.consume(i, head_len);
                    self.requests_seen += 1;
                    let number = self.requests_seen;
                    let upgrade = value.headers.has_token("upgrade", "websocket")
                        && value.headers.has_token("connection", "upgrade");
                    let key = value.headers.get("sec-websocket-key").map(str::to_owned);
                    self.pending.push_back(PendingRequest {
                        number,
                        head: value.method == "HEAD",
                        upgrade_key: upgrade.then(|| key.unwrap_or_default()),
                    });
                    let chunked = value.headers.has_token("transfer-encoding", "chunked");
                    let length = value
                        .headers
                        .get("content-length")
                        .and_then(|v| v.parse::<u64>().ok());
                    let (framing, body) = if chunked {
                        (BodyFraming::Chunked, Some(Body::Chunked(ChunkState::Size)))
                    } else {
                        match length {
                            Some(n) if n > 0 => (BodyFraming::ContentLength, Some(Body::Length(n))),
                            Some(_) => (BodyFraming::ContentLength, None),
                            None => (BodyFraming::None, None),
                        }
                    };
                    let ev = AppEvent {
                        direction: dir,
                        offset: at,
                        end: at,
                        message: AppMessage::HttpRequest {
                            number,
                            method: value.method,
                            target: value.target,
                            version: version(value.minor_version),
                            headers: value.headers,
                            framing,
                            body_len: 0,
                            chunks: 0,
                            body_preview: String::new(),
                            upgrade_websocket: upgrade,
                        },
                    };
                    self.after_head(dir, ev, body, upgrade, out);
                    true
                }
            },
            Direction::BToA => match http1::parse_response(&self.sides[i].buf, limit) {
                Ok(Scan::NeedMore) => false,
                Err(e) => {
                    self.stop(dir, format!("not a valid HTTP response: {e}"), out);
                    true
                }
                Ok(Scan::Complete { value, head_len }) => {
                    self.consume(i, head_len);
                    self.responses_seen += 1;
                    // 1xx responses are interim: the final response to the same request
                    // follows (except 101, which ends HTTP on this connection).
                    let interim = (100..200).contains(&value.status) && value.status != 101;
                    let req = if interim {
                        self.pending.front().cloned()
                    } else {
                        self.pending.pop_front()
                    };
                    let upgrade_key = req.as_ref().and_then(|r| r.upgrade_key.clone());
                    let switches = value.status == 101 && upgrade_key.is_some();
                    let websocket_accept =
                        match (&upgrade_key, value.headers.get("sec-websocket-accept")) {
                            (Some(key), Some(got)) if value.status == 101 => {
                                let expected = accept_key(key);
                                Some(AcceptCheck {
                                    key: key.clone(),
                                    ok: expected == got,
                                    expected,
                                    got: got.to_owned(),
                                })
                            }
                            _ => None,
                        };
                    if switches {
                        self.deflate = value
                            .headers
                            .get_all("sec-websocket-extensions")
                            .any(|v| v.contains("permessage-deflate"));
                    }
                    let head_request = req.as_ref().is_some_and(|r| r.head);
                    let chunked = value.headers.has_token("transfer-encoding", "chunked");
                    let length = value
                        .headers
                        .get("content-length")
                        .and_then(|v| v.parse::<u64>().ok());
                    // RFC 9112 §6.3: no body for HEAD, 1xx, 204 and 304.
                    let (framing, body) = if head_request
                        || (100..200).contains(&value.status)
                        || value.status == 204
                        || value.status == 304
                    {
                        (BodyFraming::None, None)
                    } else if chunked {
                        (BodyFraming::Chunked, Some(Body::Chunked(ChunkState::Size)))
                    } else {
                        match length {
                            Some(n) if n > 0 => (BodyFraming::ContentLength, Some(Body::Length(n))),
                            Some(_) => (BodyFraming::ContentLength, None),
                            None => (BodyFraming::UntilClose, Some(Body::UntilClose)),
                        }
                    };
                    let ev = AppEvent {
                        direction: dir,
                        offset: at,
                        end: at,
                        message: AppMessage::HttpResponse {
                            answers: req.map(|r| r.number),
                            version: version(value.minor_version),
                            status: value.status,
                            reason: value.reason,
                            headers: value.headers,
                            framing,
                            body_len: 0,
                            chunks: 0,
                            body_preview: String::new(),
                            websocket_accept,
                            switches_to_websocket: switches,
                        },
                    };
                    if switches {
                        let mut ev = ev;
                        ev.end = self.sides[i].at;
                        out.push(ev);
                        self.sides[1].mode = Mode::WebSocket;
                        let client = &mut self.sides[0];
                        if client.mode == Mode::AwaitUpgrade {
                            client.mode = Mode::WebSocket;
                            self.run(Direction::AToB, out);
                        }
                    } else {
                        if upgrade_key.is_some() && self.sides[0].mode == Mode::AwaitUpgrade {
                            // Upgrade refused: the client goes on speaking HTTP.
                            self.sides[0].mode = Mode::Head;
                            self.run(Direction::AToB, out);
                        }
                        self.after_head(dir, ev, body, false, out);
                    }
                    true
                }
            },
        }
    }

    fn after_head(
        &mut self,
        dir: Direction,
        ev: AppEvent,
        body: Option<Body>,
        upgrade: bool,
        out: &mut Vec<AppEvent>,
    ) {
        let i = dir as usize;
        match body {
            Some(body) => {
                self.sides[i].mode = Mode::Body {
                    body,
                    event: Box::new(ev),
                }
            }
            None => {
                let mut ev = ev;
                ev.end = self.sides[i].at;
                out.push(ev);
                self.sides[i].mode = if upgrade {
                    Mode::AwaitUpgrade
                } else {
                    Mode::Head
                };
            }
        }
    }

    /// Read body bytes; true when progress was made.
    fn body(
        &mut self,
        dir: Direction,
        body: Body,
        mut ev: AppEvent,
        out: &mut Vec<AppEvent>,
    ) -> bool {
        let i = dir as usize;
        let add = |ev: &mut AppEvent, data: &[u8], chunk: bool| {
            if let AppMessage::HttpRequest {
                body_len,
                body_preview,
                chunks,
                ..
            }
            | AppMessage::HttpResponse {
                body_len,
                body_preview,
                chunks,
                ..
            } = &mut ev.message
            {
                *body_len += data.len() as u64;
                if body_preview.len() < PREVIEW {
                    body_preview.push_str(&preview(&data[..data.len().min(PREVIEW)]));
                }
                if chunk {
                    *chunks += 1;
                }
            }
        };
        let buf_len = self.sides[i].buf.len();
        let (next, used, done) = match body {
            Body::UntilClose => {
                let data = std::mem::take(&mut self.sides[i].buf);
                self.sides[i].at += data.len() as u64;
                add(&mut ev, &data, false);
                self.sides[i].mode = Mode::Body {
                    body: Body::UntilClose,
                    event: Box::new(ev),
                };
                return false;
            }
            Body::Length(left) => {
                let n = buf_len.min(usize::try_from(left).unwrap_or(usize::MAX));
                add(&mut ev, &self.sides[i].buf[..n], false);
                let left = left - n as u64;
                (Body::Length(left), n, left == 0)
            }
            Body::Chunked(ChunkState::Size) => {
                let buf = &self.sides[i].buf;
                let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
                    if buf_len > 1024 {
                        self.stop(dir, "a chunk-size line longer than 1 KiB".into(), out);
                        return true;
                    }
                    self.sides[i].mode = Mode::Body {
                        body,
                        event: Box::new(ev),
                    };
                    return false;
                };
                let line = String::from_utf8_lossy(&buf[..eol]).into_owned();
                let size = line.split(';').next().unwrap_or("").trim();
                match u64::from_str_radix(size, 16) {
                    Ok(0) => (Body::Chunked(ChunkState::Trailer), eol + 2, false),
                    Ok(n) => {
                        if let AppMessage::HttpRequest { chunks, .. }
                        | AppMessage::HttpResponse { chunks, .. } = &mut ev.message
                        {
                            *chunks += 1;
                        }
                        (Body::Chunked(ChunkState::Data(n)), eol + 2, false)
                    }
                    Err(_) => {
                        self.stop(
                            dir,
                            format!("`{line}` is not a chunk size (hex digits)"),
                            out,
                        );
                        return true;
                    }
                }
            }
            Body::Chunked(ChunkState::Data(left)) => {
                if left == 0 {
                    if buf_len < 2 {
                        self.sides[i].mode = Mode::Body {
                            body,
                            event: Box::new(ev),
                        };
                        return false;
                    }
                    (Body::Chunked(ChunkState::Size), 2, false)
                } else {
                    let n = buf_len.min(usize::try_from(left).unwrap_or(usize::MAX));
                    add(&mut ev, &self.sides[i].buf[..n], false);
                    (Body::Chunked(ChunkState::Data(left - n as u64)), n, false)
                }
            }
            Body::Chunked(ChunkState::Trailer) => {
                let buf = &self.sides[i].buf;
                match buf.windows(2).position(|w| w == b"\r\n") {
                    Some(0) => (Body::Chunked(ChunkState::Trailer), 2, true),
                    Some(eol) => (Body::Chunked(ChunkState::Trailer), eol + 2, false),
                    None => {
                        self.sides[i].mode = Mode::Body {
                            body,
                            event: Box::new(ev),
                        };
                        return false;
                    }
                }
            }
        };
        self.consume(i, used);
        if done {
            ev.end = self.sides[i].at;
            out.push(ev);
            self.sides[i].mode = Mode::Head;
        } else {
            self.sides[i].mode = Mode::Body {
                body: next,
                event: Box::new(ev),
            };
        }
        used > 0 || done
    }

    /// Read one WebSocket frame; true when progress was made.
    fn frame(&mut self, dir: Direction, out: &mut Vec<AppEvent>) -> bool {
        let i = dir as usize;
        let (h, header_len) = match FrameHeader::parse(&self.sides[i].buf) {
            Ok(Parsed::NeedMore { .. }) => return false,
            Ok(Parsed::Complete { value, header_len }) => (value, header_len),
            Err(e) => {
                self.stop(dir, format!("not a valid WebSocket frame: {e}"), out);
                return true;
            }
        };
        let at = self.sides[i].at;
        let total = header_len as u64 + h.payload_len;
        let have = self.sides[i].buf.len() as u64;
        let too_big = h.payload_len > self.max_buffer as u64;
        if have < total && !too_big {
            return false; // wait for the whole frame
        }
        let kept = (have.min(total) - header_len as u64) as usize;
        let mut payload = self.sides[i].buf[header_len..header_len + kept].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key, 0);
        }
        self.consume(i, header_len + kept);
        if too_big {
            self.sides[i].skip = h.payload_len - kept as u64;
        }
        let mut problem = None;
        let client = dir == Direction::AToB;
        if client && h.mask.is_none() {
            problem = Some("a client must mask every frame (RFC 6455 §5.1)".to_string());
        } else if !client && h.mask.is_some() {
            problem = Some("a server must not mask its frames (RFC 6455 §5.1)".to_string());
        } else if h.opcode.is_control() && (h.payload_len > 125 || !h.fin) {
            problem = Some(
                "control frames carry at most 125 bytes and are never fragmented (§5.5)".into(),
            );
        } else if let OpCode::Reserved(b) = h.opcode {
            problem = Some(format!("opcode 0x{b:x} is reserved (§5.2)"));
        } else if h.length_encoding != LengthEncoding::minimal(h.payload_len) {
            problem = Some("the length is not in its shortest form (§5.2)".into());
        }
        let rsv1 = h.rsv & 0b100 != 0;
        // permessage-deflate sets RSV1 on a message's first frame only (RFC 7692 §6.1):
        // a continuation carries more of the compressed data of the message it continues.
        let continues_compressed = h.opcode == OpCode::Continuation
            && self.sides[i].fragments.as_ref().is_some_and(|f| f.compressed);
        let compressed =
            (rsv1 && self.deflate && !h.opcode.is_control()) || (continues_compressed && !rsv1);
        if rsv1 && h.opcode == OpCode::Continuation && problem.is_none() {
            problem = Some(
                "RSV1 on a continuation frame: permessage-deflate marks only a message's first frame (RFC 7692 §6.1)"
                    .into(),
            );
        }
        if h.rsv != 0 && !(compressed && h.rsv == 0b100) && problem.is_none() {
            problem = Some("an RSV bit is set without an extension that defines it (§5.2)".into());
        }
        let is_text = matches!(h.opcode, OpCode::Text)
            || (h.opcode == OpCode::Continuation
                && self.sides[i]
                    .fragments
                    .as_ref()
                    .is_some_and(|f| f.opcode == OpCode::Text));
        let (mut close_code, mut close_reason) = (None, None);
        if h.opcode == OpCode::Close {
            match CloseFrame::parse(&payload) {
                Ok(c) => {
                    close_code = c.code.map(|c| c.0);
                    close_reason = Some(c.reason);
                }
                Err(e) => {
                    if problem.is_none() {
                        problem = Some(format!("bad close frame: {e}"));
                    }
                }
            }
        }
        let shown = &payload[..payload.len().min(PREVIEW)];
        let text_ok = !compressed && is_text;
        let payload_text = if text_ok || matches!(h.opcode, OpCode::Ping | OpCode::Pong) {
            std::str::from_utf8(shown).ok().map(str::to_owned)
        } else {
            None
        };
        let payload_hex = payload_text.is_none().then(|| hex(shown));
        out.push(AppEvent {
            direction: dir,
            offset: at,
            end: at + total,
            message: AppMessage::WebSocketFrame {
                fin: h.fin,
                rsv1,
                rsv2: h.rsv & 0b010 != 0,
                rsv3: h.rsv & 0b001 != 0,
                opcode: h.opcode,
                opcode_bits: h.opcode.bits(),
                masked: h.mask.is_some(),
                mask_key: h.mask.map(|k| hex(&k)),
                payload_len: h.payload_len,
                length_encoding: h.length_encoding,
                compressed,
                payload_text,
                payload_hex,
                not_shown: h.payload_len - shown.len() as u64,
                close_code,
                close_reason,
                problem,
            },
        });
        // Fragmented messages: a data frame without FIN starts one, continuations add,
        // FIN ends it. Control frames may come in between (§5.4) and do not interrupt.
        if !h.opcode.is_control() {
            let s = &mut self.sides[i];
            match (h.opcode, h.fin, s.fragments.take()) {
                (OpCode::Continuation, fin, Some(mut m)) => {
                    let room = self.max_buffer.saturating_sub(m.kept.len());
                    m.kept
                        .extend_from_slice(&payload[..payload.len().min(room)]);
                    m.len += h.payload_len;
                    m.frames += 1;
                    if fin {
                        let text = (m.opcode == OpCode::Text && !m.compressed).then(|| {
                            String::from_utf8_lossy(&m.kept[..m.kept.len().min(4 * PREVIEW)])
                                .into_owned()
                        });
                        out.push(AppEvent {
                            direction: dir,
                            offset: at,
                            end: at + total,
                            message: AppMessage::WebSocketMessage {
                                opcode: m.opcode,
                                frames: m.frames,
                                len: m.len,
                                text,
                            },
                        });
                    } else {
                        s.fragments = Some(m);
                    }
                }
                (op, false, _) if op != OpCode::Continuation => {
                    s.fragments = Some(Fragmented {
                        opcode: op,
                        frames: 1,
                        kept: payload,
                        len: h.payload_len,
                        compressed,
                    });
                }
                _ => {}
            }
        }
        true
    }

    /// The capture ended: report bodies that were still open (a body read until the
    /// server closes ends here).
    pub fn finish(&mut self, out: &mut Vec<AppEvent>) {
        for s in &mut self.sides {
            if let Mode::Body { mut event, .. } = std::mem::replace(&mut s.mode, Mode::Off) {
                event.end = s.at;
                out.push(*event);
            }
        }
    }
}

/// Where one frame's TCP payload sits in its direction's stream: stream offsets
/// `stream_at..stream_at + len` are the frame's bytes `frame_at..frame_at + len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMap {
    pub stream_at: u64,
    pub frame_at: usize,
    pub len: usize,
}

impl FrameMap {
    /// The part of stream range `from..to` that lies in this frame, as frame offsets
    /// (empty `0..0` when none of it does).
    pub fn span(&self, from: u64, to: u64) -> std::ops::Range<usize> {
        let lo = from.max(self.stream_at);
        let hi = to.min(self.stream_at + self.len as u64);
        if lo >= hi {
            return 0..0;
        }
        let a = self.frame_at + (lo - self.stream_at) as usize;
        a..a + (hi - lo) as usize
    }
}

/// One application-layer unit shown in a packet's layer tree: the packet on which it
/// completed carries it, as Wireshark does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppLayer {
    pub protocol: crate::layers::Protocol,
    pub name: &'static str,
    /// Its unit: "message" or "frame".
    pub pdu: &'static str,
    pub summary: String,
    /// Fields; spans are frame offsets of the bytes in *this* frame (empty when the
    /// field travelled in an earlier packet).
    pub fields: Vec<super::dissect::Field>,
    /// The unit's bytes in this frame.
    pub here: std::ops::Range<usize>,
    /// First and last packet its bytes came in, when it spans more than one.
    pub reassembled_from: Option<(u64, u64)>,
    pub message: AppMessage,
}

fn quoted(s: &str, max: usize) -> String {
    let mut out = String::from("\"");
    for (k, c) in s.chars().enumerate() {
        if k == max {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push('.'),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl AppEvent {
    /// The layer-tree view of this unit; `map` places this frame's payload in the
    /// stream (when the unit travels in the same direction as the frame), so fields
    /// found in this frame get their byte spans.
    pub fn layer(&self, frame: &[u8], map: Option<FrameMap>) -> Option<AppLayer> {
        use super::dissect::Field;
        use crate::layers::Protocol;
        let span = |from: u64, to: u64| map.map(|m| m.span(from, to)).unwrap_or(0..0);
        let here = span(self.offset, self.end);
        let mut f: Vec<Field> = Vec::new();
        let (protocol, name, pdu, summary) = match &self.message {
            AppMessage::HttpRequest {
                method,
                target,
                version,
                headers,
                framing,
                body_len,
                chunks,
                body_preview,
                upgrade_websocket,
                ..
            } => {
                let lines = head_lines(frame, here.clone());
                let line = lines.first().cloned().unwrap_or(0..0);
                let (m, rest) = split_span(&line, method.len());
                let (t, v) = split_span(&rest, target.len());
                let line_text = format!("{method} {target} {version}");
                f.push(Field::new(
                    "request line",
                    line_text.clone(),
                    line,
                    "method, target and version, ending in CRLF (RFC 9112 §3)",
                ));
                f.push(Field::new(
                    "method",
                    method.clone(),
                    m,
                    "what the client asks the server to do (RFC 9110 §9)",
                ));
                f.push(Field::new(
                    "URI",
                    target.clone(),
                    t,
                    "the request target: which resource (RFC 9112 §3.2)",
                ));
                f.push(Field::new(
                    "version",
                    version.clone(),
                    v,
                    "the protocol version of this message",
                ));
                push_headers(&mut f, headers, &lines);
                push_body(&mut f, *framing, *body_len, *chunks, body_preview);
                if *upgrade_websocket {
                    let key = headers.get("sec-websocket-key").unwrap_or("(none)");
                    f.push(Field::new(
                        "WebSocket upgrade",
                        format!("requested, Sec-WebSocket-Key {key}"),
                        0..0,
                        "Upgrade: websocket + Connection: Upgrade (RFC 6455 §4.1)",
                    ));
                }
                let up = if *upgrade_websocket {
                    " (asks to switch to WebSocket)"
                } else {
                    ""
                };
                (
                    Protocol::Http1,
                    "HTTP/1.x request",
                    "message",
                    format!("{line_text}{up}"),
                )
            }
            AppMessage::HttpResponse {
                version,
                status,
                reason,
                headers,
                framing,
                body_len,
                chunks,
                body_preview,
                websocket_accept,
                switches_to_websocket,
                answers,
            } => {
                let lines = head_lines(frame, here.clone());
                let line = lines.first().cloned().unwrap_or(0..0);
                let (v, rest) = split_span(&line, version.len());
                let (c, r) = split_span(&rest, 3);
                let line_text = format!("{version} {status} {reason}");
                f.push(Field::new(
                    "status line",
                    line_text.clone(),
                    line,
                    "version, status code and reason phrase (RFC 9112 §4)",
                ));
                f.push(Field::new(
                    "version",
                    version.clone(),
                    v,
                    "the protocol version of this message",
                ));
                f.push(Field::new("status code", status.to_string(), c, "1xx informational, 2xx success, 3xx redirection, 4xx client error, 5xx server error (RFC 9110 §15)"));
                f.push(Field::new(
                    "reason",
                    reason.clone(),
                    r,
                    "words for people; programs read the code",
                ));
                if let Some(n) = answers {
                    f.push(Field::new(
                        "answers",
                        format!("request {n} on this connection"),
                        0..0,
                        "responses come back in request order (RFC 9112 §9.3)",
                    ));
                }
                push_headers(&mut f, headers, &lines);
                push_body(&mut f, *framing, *body_len, *chunks, body_preview);
                if let Some(a) = websocket_accept {
                    let verdict = if a.ok {
                        format!(
                            "correct: base64(SHA-1(key + GUID)) of key {} is {}",
                            a.key, a.expected
                        )
                    } else {
                        format!(
                            "WRONG: key {} needs {}, the server sent {}",
                            a.key, a.expected, a.got
                        )
                    };
                    f.push(Field::new(
                        "Sec-WebSocket-Accept check",
                        verdict,
                        0..0,
                        "the server proves it read this handshake (RFC 6455 §4.2.2)",
                    ));
                }
                if *switches_to_websocket {
                    f.push(Field::new(
                        "after this",
                        "both directions speak WebSocket frames".into(),
                        0..0,
                        "101 Switching Protocols ends HTTP on this connection (RFC 6455 §4.1)",
                    ));
                }
                (Protocol::Http1, "HTTP/1.x response", "message", line_text)
            }
            AppMessage::WebSocketFrame {
                fin,
                rsv1,
                rsv2,
                rsv3,
                opcode,
                opcode_bits,
                masked,
                mask_key,
                payload_len,
                length_encoding,
                compressed,
                payload_text,
                payload_hex,
                not_shown,
                close_code,
                close_reason,
                problem,
            } => {
                let o = self.offset;
                let ext: u64 = match length_encoding {
                    LengthEncoding::Bits7 => 0,
                    LengthEncoding::Bits16 => 2,
                    LengthEncoding::Bits64 => 8,
                };
                let key_at = o + 2 + ext;
                let data_at = key_at + if *masked { 4 } else { 0 };
                let bit = |b: bool| if b { "1" } else { "0" };
                f.push(Field::new(
                    "FIN",
                    format!(
                        "{} ({})",
                        bit(*fin),
                        if *fin {
                            "the last frame of its message"
                        } else {
                            "more frames of this message follow"
                        }
                    ),
                    span(o, o + 1),
                    "1 on the final fragment (RFC 6455 §5.2)",
                ));
                let rsv1_text = if *compressed {
                    "1: compressed (permessage-deflate)".to_string()
                } else {
                    bit(*rsv1).to_string()
                };
                f.push(Field::new("RSV1", rsv1_text, span(o, o + 1), "reserved for extensions; permessage-deflate marks compressed messages with it (RFC 7692 §6)"));
                f.push(Field::new(
                    "RSV2",
                    bit(*rsv2).into(),
                    span(o, o + 1),
                    "reserved: 0 unless an extension defines it",
                ));
                f.push(Field::new(
                    "RSV3",
                    bit(*rsv3).into(),
                    span(o, o + 1),
                    "reserved: 0 unless an extension defines it",
                ));
                f.push(Field::new(
                    "opcode",
                    format!("0x{opcode_bits:x} {}", opcode.name()),
                    span(o, o + 1),
                    "0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong (§5.2)",
                ));
                f.push(Field::new(
                    "MASK",
                    format!(
                        "{} ({})",
                        bit(*masked),
                        if *masked {
                            "masked: client to server"
                        } else {
                            "not masked: server to client"
                        }
                    ),
                    span(o + 1, o + 2),
                    "clients mask every frame, servers never do (§5.1)",
                ));
                f.push(Field::new(
                    "payload length",
                    format!("{payload_len} ({})", length_encoding.describe()),
                    span(o + 1, key_at),
                    "7 bits; 126 means a 16-bit length follows, 127 a 64-bit one (§5.2)",
                ));
                if let Some(k) = mask_key {
                    f.push(Field::new(
                        "masking key",
                        k.clone(),
                        span(key_at, data_at),
                        "XORed over the payload, 4 bytes round (§5.3)",
                    ));
                }
                let unmasked = if *masked { ", unmasked" } else { "" };
                let more = if *not_shown > 0 {
                    format!(" (+{not_shown} bytes not shown)")
                } else {
                    String::new()
                };
                let payload = match (payload_text, payload_hex) {
                    _ if *compressed => format!("{payload_len} bytes compressed (permessage-deflate, not inflated here): {}{more}", payload_hex.as_deref().unwrap_or("")),
                    (Some(t), _) if *opcode == OpCode::Close => format!("{}{more}", quoted(t, 200)),
                    (Some(t), _) => format!("text{unmasked}: {}{more}", quoted(t, 200)),
                    (None, Some(h)) if h.len() > 128 => {
                        format!("hex{unmasked}: {}… ({payload_len} bytes)", &h[..128])
                    }
                    (None, Some(h)) => format!("hex{unmasked}: {h}{more}"),
                    (None, None) => String::new(),
                };
                if *payload_len > 0 && !payload.is_empty() {
                    f.push(Field::new(
                        "payload",
                        payload,
                        span(data_at, data_at + payload_len),
                        "the application's bytes",
                    ));
                }
                if *compressed {
                    f.push(Field::new(
                        "compressed",
                        "yes: RSV1 set, permessage-deflate negotiated".into(),
                        0..0,
                        "the payload is DEFLATE data (RFC 7692)",
                    ));
                }
                if let Some(c) = close_code {
                    let meaning = super::websocket::close::CloseCode(*c).meaning();
                    f.push(Field::new(
                        "close code",
                        format!("{c} ({meaning})"),
                        span(data_at, data_at + 2),
                        "why the connection closes (§7.4)",
                    ));
                }
                if let Some(r) = close_reason {
                    f.push(Field::new(
                        "close reason",
                        quoted(r, 123),
                        span(data_at + 2, data_at + payload_len),
                        "UTF-8 text for people (§5.5.1)",
                    ));
                }
                if let Some(p) = problem {
                    f.push(Field::new(
                        "problem",
                        p.clone(),
                        0..0,
                        "a rule of RFC 6455 this frame breaks",
                    ));
                }
                let mut sum = opcode.name().to_string();
                if *fin {
                    sum.push_str(" FIN")
                }
                if *compressed {
                    sum.push_str(" compressed")
                }
                if *masked {
                    sum.push_str(" masked")
                }
                sum.push_str(&format!(", {payload_len} bytes"));
                if let Some(c) = close_code {
                    sum.push_str(&format!(", close {c}"));
                }
                if let (Some(t), false) = (payload_text, *compressed || *opcode == OpCode::Close) {
                    sum.push_str(&format!(": {}", quoted(t, 40)));
                }
                (Protocol::WebSocket, "WebSocket frame", "frame", sum)
            }
            AppMessage::Dns {
                transport,
                length,
                summary,
                message,
            } => {
                let start = self.offset + dns_prefix_len(*transport);
                if *transport == Transport::Tcp {
                    f.push(Field::new(
                        "length",
                        length.to_string(),
                        span(self.offset, start),
                        "over TCP each DNS message follows a 2-byte length (RFC 1035 §4.2.2)",
                    ));
                }
                for mut x in message.fields() {
                    x.span = span(start + x.span.start as u64, start + x.span.end as u64);
                    f.push(x);
                }
                (Protocol::Dns, "DNS message", "message", summary.clone())
            }
            AppMessage::WebSocketMessage {
                opcode,
                frames,
                len,
                text,
            } => {
                f.push(Field::new(
                    "message",
                    format!("{}, {len} bytes in {frames} frames", opcode.name()),
                    0..0,
                    "a fragmented message, its frames' payloads joined (§5.4)",
                ));
                if let Some(t) = text {
                    f.push(Field::new(
                        "text",
                        quoted(t, 400),
                        0..0,
                        "the whole message",
                    ));
                }
                (
                    Protocol::WebSocket,
                    "WebSocket message",
                    "message",
                    format!("{} message of {frames} frames, {len} bytes", opcode.name()),
                )
            }
            AppMessage::Note { .. } => return None,
        };
        Some(AppLayer {
            protocol,
            name,
            pdu,
            summary,
            fields: f,
            here,
            reassembled_from: None,
            message: self.message.clone(),
        })
    }
}

/// The lines of an HTTP head inside `span` of `frame` (each without its CRLF), up to
/// the empty line; empty when the head is not in this frame.
fn head_lines(frame: &[u8], span: std::ops::Range<usize>) -> Vec<std::ops::Range<usize>> {
    let mut v = Vec::new();
    let Some(bytes) = frame.get(span.clone()) else {
        return v;
    };
    let mut at = 0;
    // Bounded by the head's length: every pass moves `at` forward or ends.
    while let Some(k) = bytes[at..].windows(2).position(|w| w == b"\r\n") {
        if k == 0 {
            break;
        }
        v.push(span.start + at..span.start + at + k);
        at += k + 2;
    }
    v
}

/// Split `r` after `n` bytes and a space: (first n bytes, the rest after the space).
fn split_span(
    r: &std::ops::Range<usize>,
    n: usize,
) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    if r.is_empty() || r.len() < n {
        return (0..0, 0..0);
    }
    let rest = (r.start + n + 1).min(r.end)..r.end;
    (r.start..r.start + n, rest)
}

fn push_headers(f: &mut Vec<super::dissect::Field>, h: &Headers, lines: &[std::ops::Range<usize>]) {
    use super::dissect::Field;
    for (k, x) in h.0.iter().enumerate() {
        let span = lines.get(k + 1).cloned().unwrap_or(0..0);
        f.push(Field::new(
            "header",
            format!("{}: {}", x.name, x.value),
            span,
            "a header field: name, colon, value (RFC 9110 §5)",
        ));
    }
}

fn push_body(
    f: &mut Vec<super::dissect::Field>,
    framing: BodyFraming,
    len: u64,
    chunks: u32,
    preview: &str,
) {
    use super::dissect::Field;
    let how = match framing {
        BodyFraming::None => return,
        BodyFraming::ContentLength => "Content-Length".to_string(),
        BodyFraming::Chunked => format!("chunked, {chunks} chunks"),
        BodyFraming::UntilClose => "until the server closes".to_string(),
    };
    let glance = if preview.is_empty() {
        String::new()
    } else {
        format!(": {}", quoted(preview, 60))
    };
    f.push(Field::new(
        "body",
        format!("{len} bytes ({how}){glance}"),
        0..0,
        "how long a body is: Content-Length, chunks, or until close (RFC 9112 §6)",
    ));
}

impl AppDecoder {
    /// Is this direction holding the start of a unit not yet complete? Which protocol.
    pub fn holding(&self, dir: Direction) -> Option<crate::layers::Protocol> {
        use crate::layers::Protocol;
        let s = &self.sides[dir as usize];
        match &s.mode {
            Mode::Body { .. } => Some(Protocol::Http1),
            Mode::Head if !s.buf.is_empty() => Some(Protocol::Http1),
            Mode::WebSocket if !s.buf.is_empty() || s.skip > 0 => Some(Protocol::WebSocket),
            _ => None,
        }
    }
}

/// Bytes before a DNS message in its stream: over TCP its 2-byte length (RFC 1035
/// §4.2.2), over UDP none.
fn dns_prefix_len(transport: Transport) -> u64 {
    if transport == Transport::Tcp {
        2
    } else {
        0
    }
}

fn dns_event(dir: Direction, offset: u64, transport: Transport, msg: &[u8]) -> AppEvent {
    let length = u16::try_from(msg.len()).unwrap_or(u16::MAX);
    let message = match dns::Repr::parse_partial(msg) {
        Ok(r) => AppMessage::Dns {
            transport,
            length,
            summary: r.to_string(),
            message: Box::new(r),
        },
        Err(e) => AppMessage::Note {
            text: format!("{length} bytes where a DNS message was expected: {e}"),
        },
    };
    AppEvent {
        direction: dir,
        offset,
        end: offset + dns_prefix_len(transport) + msg.len() as u64,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::websocket::handshake::client_request;
    use crate::wire::websocket::Frame;

    /// Feed `(direction, bytes)` in pieces of `step` bytes (0: whole).
    fn decode(parts: &[(Direction, Vec<u8>)], step: usize) -> Vec<AppEvent> {
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

    fn websocket_session() -> Vec<(Direction, Vec<u8>)> {
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

    /// RFC 7692 §6.1: RSV1 marks a compressed message on its first frame only; the
    /// continuations carry more of the same compressed data (seen from Python
    /// `websockets`, tests/fixtures/peers-ws-python-deflate.pcap).
    #[test]
    fn continuations_of_a_compressed_message_are_labelled_compressed() {
        let (key, req) = client_request("h", "/", [7; 16], &[], None);
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            accept_key(&key)
        );
        // Masked with the all-zero key, so the payload bytes are as written.
        let mut c = vec![0x41, 0x83, 0, 0, 0, 0, 0xca, 0x48, 0x04]; // FIN=0 RSV1=1 text
        c.extend([0x80, 0x82, 0, 0, 0, 0, 0x00, 0x00]); // FIN=1 RSV1=0 continuation
        c.extend([0xc0, 0x81, 0, 0, 0, 0, 0x00]); // FIN=1 RSV1=1 continuation: wrong
        let out = decode(
            &[
                (Direction::AToB, req),
                (Direction::BToA, resp.into_bytes()),
                (Direction::AToB, c),
            ],
            0,
        );
        let frames: Vec<(bool, bool, Option<String>, Option<String>)> = out
            .iter()
            .filter_map(|e| match &e.message {
                AppMessage::WebSocketFrame {
                    rsv1,
                    compressed,
                    payload_text,
                    problem,
                    ..
                } => Some((*rsv1, *compressed, payload_text.clone(), problem.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(frames[0], (true, true, None, None));
        assert_eq!(
            frames[1],
            (false, true, None, None),
            "part of the compressed message"
        );
        assert!(frames[2].3.as_deref().unwrap().contains("RFC 7692 §6.1"));
        let text = out.iter().find_map(|e| match &e.message {
            AppMessage::WebSocketMessage { frames, text, .. } => Some((*frames, text.clone())),
            _ => None,
        });
        assert_eq!(
            text,
            Some((2, None)),
            "compressed bytes are not shown as text"
        );
    }

    #[test]
    fn upgrade_hands_over_to_websocket_however_tcp_cut_the_bytes() {
        let whole = decode(&websocket_session(), 0);
        for step in [1, 2, 3, 7, 1460] {
            assert_eq!(
                decode(&websocket_session(), step),
                whole,
                "pieces of {step}"
            );
        }
        let kinds: Vec<String> = whole
            .iter()
            .map(|e| match &e.message {
                AppMessage::HttpRequest { method, upgrade_websocket, .. } => format!("req {method} {upgrade_websocket}"),
                AppMessage::HttpResponse { status, websocket_accept, switches_to_websocket, .. } => {
                    format!("resp {status} {} {switches_to_websocket}", websocket_accept.as_ref().unwrap().ok)
                }
                AppMessage::WebSocketFrame { opcode, fin, payload_len, length_encoding, masked, payload_text, close_code, close_reason, problem, .. } => {
                    assert!(problem.is_none(), "{problem:?}");
                    format!("{opcode} {fin} {payload_len} {length_encoding:?} {masked} {payload_text:?} {close_code:?} {close_reason:?}")
                }
                AppMessage::WebSocketMessage { opcode, frames, text, .. } => format!("msg {opcode} {frames} {text:?}"),
                AppMessage::Note { text } => text.clone(),
                AppMessage::Dns { summary, .. } => summary.clone(),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "req GET true",
                "resp 101 true true",
                "text false 3 Bits7 true Some(\"hel\") None None",
                "ping true 1 Bits7 true Some(\"p\") None None",
                "continuation true 2 Bits7 true Some(\"lo\") None None",
                "msg text 2 Some(\"hello\")",
                "binary true 70000 Bits64 true None None None",
                "pong true 1 Bits7 false Some(\"p\") None None",
                "close true 5 Bits7 false None Some(1000) Some(\"bye\")",
            ]
        );
    }

    #[test]
    fn keep_alive_chunked_and_http_1_0() {
        let req = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcHEAD /c HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        let resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-T: 1\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.0 404 Not Found\r\n\r\nuntil close".to_vec();
        let ev = decode(&[(Direction::AToB, req), (Direction::BToA, resp)], 5);
        let got: Vec<String> = ev
            .iter()
            .map(|e| match &e.message {
                AppMessage::HttpRequest {
                    number,
                    method,
                    target,
                    body_len,
                    ..
                } => format!("{number} {method} {target} {body_len}"),
                AppMessage::HttpResponse {
                    answers,
                    status,
                    body_len,
                    chunks,
                    framing,
                    body_preview,
                    ..
                } => {
                    format!("{answers:?} {status} {body_len} {chunks} {framing:?} {body_preview}")
                }
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            [
                "1 GET /a 0",
                "2 POST /b 3",
                "3 HEAD /c 0",
                "Some(1) 200 5 2 Chunked abcde",
                "Some(2) 201 2 0 ContentLength ok",
                // A response to HEAD has no body, whatever Content-Length says.
                "Some(3) 200 0 0 None ",
                "None 404 11 0 UntilClose until close",
            ]
        );
    }

    #[test]
    fn layer_views_name_every_field_and_place_it_in_the_frame() {
        let (key, req) = client_request("h", "/c", [3; 16], &[], None);
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            accept_key(&key)
        );
        // A compressed text frame (RSV1, unmasked from the server) and a 300-byte binary
        // frame (16-bit length) in one piece.
        let mut s = vec![0xc1, 0x03, 0xf2, 0x48, 0x05];
        Frame::encode(true, OpCode::Binary, &[7u8; 300], None, &mut s);
        let ev = decode(
            &[
                (Direction::AToB, req),
                (Direction::BToA, resp.clone().into_bytes()),
                (Direction::BToA, s.clone()),
            ],
            0,
        );
        // The server's bytes as one frame's payload at frame offset 10.
        let mut frame = vec![0u8; 10];
        frame.extend_from_slice(resp.as_bytes());
        frame.extend_from_slice(&s);
        let map = FrameMap {
            stream_at: 0,
            frame_at: 10,
            len: frame.len() - 10,
        };
        let layers: Vec<AppLayer> = ev
            .iter()
            .filter(|e| e.direction == Direction::BToA)
            .filter_map(|e| e.layer(&frame, Some(map)))
            .collect();
        assert_eq!(layers.len(), 3, "{layers:?}");
        let field = |l: &AppLayer, n: &str| {
            l.fields
                .iter()
                .find(|f| f.name == n)
                .map(|f| (f.value.clone(), f.span.clone()))
                .unwrap_or_else(|| panic!("no {n} in {l:?}"))
        };
        let (v, span) = field(&layers[0], "status code");
        assert_eq!((v.as_str(), span), ("101", 19..22));
        assert!(field(&layers[0], "Sec-WebSocket-Accept check")
            .0
            .starts_with("correct"));
        let at = 10 + resp.len();
        let (v, span) = field(&layers[1], "RSV1");
        assert_eq!(
            (v.as_str(), span),
            ("1: compressed (permessage-deflate)", at..at + 1)
        );
        assert!(field(&layers[1], "compressed").0.starts_with("yes"));
        assert_eq!(layers[1].here, at..at + 5);
        let (v, span) = field(&layers[2], "payload length");
        assert_eq!(
            (v.as_str(), span),
            ("300 (126 + 16-bit length)", at + 6..at + 9)
        );
        let (_, span) = field(&layers[2], "payload");
        assert_eq!(span, at + 9..at + 309);
        // A frame whose bytes lie outside this frame has fields without spans.
        let other = FrameMap {
            stream_at: 10_000,
            frame_at: 10,
            len: 5,
        };
        let l = ev.last().unwrap().layer(&frame, Some(other)).unwrap();
        assert!(l.here.is_empty() && l.fields.iter().all(|f| f.span.is_empty()));
    }

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
                for s in &d.sides {
                    assert!(s.buf.len() <= 4096 + 600);
                }
            }
            d.finish(&mut out);
        }
    }

    #[test]
    fn dns_over_tcp_is_length_prefixed_however_tcp_cut_it() {
        // RFC 7766 §8: two messages back to back in one stream, each after its length.
        let q = crate::wire::dns::tests::QUERY_WWW_A;
        let mut stream = Vec::new();
        for _ in 0..2 {
            stream.extend_from_slice(&(q.len() as u16).to_be_bytes());
            stream.extend_from_slice(&q);
        }
        stream.extend_from_slice(&[0x00, 0x05, 1, 2, 3, 4, 5]); // too short for a header
        for step in [0, 1, 2, 3, 7, 58] {
            let mut d = AppDecoder::for_ports(1 << 16, 40000, 53);
            let mut out = Vec::new();
            let n = if step == 0 { stream.len() } else { step };
            for (k, c) in stream.chunks(n).enumerate() {
                let offset = (k * n) as u64;
                d.piece(Direction::AToB, Piece::Data { offset, bytes: c }, &mut out);
            }
            assert_eq!(out.len(), 3, "step {step}");
            let AppMessage::Dns {
                length,
                ref summary,
                ..
            } = out[1].message
            else {
                panic!("DNS expected")
            };
            assert_eq!((length, out[1].offset), (57, 59));
            assert_eq!(summary, "Standard query 0xa812 A www.example.test");
            assert!(matches!(out[2].message, AppMessage::Note { .. }));
        }
        // Without port 53, the same bytes are not taken for DNS.
        assert!(decode(&[(Direction::AToB, stream)], 0).is_empty());
    }
}
