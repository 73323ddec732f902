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
use super::flow::{Direction, Piece};
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
        opcode: &'static str,
        opcode_bits: u8,
        masked: bool,
        /// The masking key, as 8 hex digits.
        mask_key: Option<String>,
        payload_len: u64,
        length_encoding: LengthEncoding,
        /// RSV1 on a data frame with permessage-deflate negotiated (RFC 7692).
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
        opcode: &'static str,
        frames: u32,
        len: u64,
        text: Option<String>,
    },
    /// A DNS message: over TCP after its two-byte length (RFC 1035 §4.2.2, RFC 7766
    /// §8), over UDP one per datagram.
    Dns {
        /// "tcp" or "udp".
        transport: &'static str,
        /// The message's length in bytes (over TCP: the value of the length prefix).
        length: u16,
        summary: String,
        message: Box<dns::Repr>,
    },
    /// Why decoding of this direction stopped, or something else worth saying.
    Note { text: String },
}

/// A decoded unit, with where it started in its direction's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppEvent {
    pub direction: Direction,
    pub offset: u64,
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
    fragments: Option<(OpCode, u32, Vec<u8>, u64)>,
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
    /// Requests awaiting a response: (number, method, upgrade key).
    pending: std::collections::VecDeque<(u32, String, Option<String>)>,
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
        out.push(dns_event(dir, offset, "udp", bytes));
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
        let ev = dns_event(dir, self.sides[i].at, "tcp", &b[2..2 + len]);
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
                    self.pending.push_back((
                        number,
                        value.method.clone(),
                        upgrade.then(|| key.unwrap_or_default()),
                    ));
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
                    let upgrade_key = req.as_ref().and_then(|r| r.2.clone());
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
                    let head_request = req.as_ref().is_some_and(|r| r.1 == "HEAD");
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
                        message: AppMessage::HttpResponse {
                            answers: req.map(|r| r.0),
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
        let compressed = rsv1 && self.deflate && !h.opcode.is_control();
        if h.rsv != 0 && !compressed && problem.is_none() {
            problem = Some("an RSV bit is set without an extension that defines it (§5.2)".into());
        }
        let is_text = matches!(h.opcode, OpCode::Text)
            || (h.opcode == OpCode::Continuation
                && self.sides[i]
                    .fragments
                    .as_ref()
                    .is_some_and(|f| f.0 == OpCode::Text));
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
            message: AppMessage::WebSocketFrame {
                fin: h.fin,
                rsv1,
                rsv2: h.rsv & 0b010 != 0,
                rsv3: h.rsv & 0b001 != 0,
                opcode: h.opcode.name(),
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
                (OpCode::Continuation, fin, Some((op, n, mut data, len))) => {
                    let room = self.max_buffer.saturating_sub(data.len());
                    data.extend_from_slice(&payload[..payload.len().min(room)]);
                    let len = len + h.payload_len;
                    if fin {
                        let text = (op == OpCode::Text && !compressed).then(|| {
                            String::from_utf8_lossy(&data[..data.len().min(4 * PREVIEW)])
                                .into_owned()
                        });
                        out.push(AppEvent {
                            direction: dir,
                            offset: at,
                            message: AppMessage::WebSocketMessage {
                                opcode: op.name(),
                                frames: n + 1,
                                len,
                                text,
                            },
                        });
                    } else {
                        s.fragments = Some((op, n + 1, data, len));
                    }
                }
                (op, false, _) if op != OpCode::Continuation => {
                    s.fragments = Some((op, 1, payload, h.payload_len));
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
            if let Mode::Body { event, .. } = std::mem::replace(&mut s.mode, Mode::Off) {
                out.push(*event);
            }
        }
    }
}

fn dns_event(dir: Direction, offset: u64, transport: &'static str, msg: &[u8]) -> AppEvent {
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
