//! A WebSocket connection on a TCP stream: `wire::websocket` (the codec) plus a socket,
//! a clock, randomness and timeouts. Like mini-redis's `Connection`, it turns a byte
//! stream into frames and messages and back; every protocol decision is in `wire`.
//!
//! - [`accept`] runs the server's side of the opening handshake, [`connect`] the client's.
//! - [`WsConnection::recv`] waits for the next message or control frame. It is
//!   cancel-safe (it only reads), so it can sit in a `tokio::select!`.
//! - [`WsConnection::respond`] does what the protocol requires after a receipt: a pong for
//!   a ping, a close reply, failing the connection with the right code.
//! - With tracing on, every handshake head and frame is recorded as a [`WsTrace`] for
//!   `--trace` and `--jsonl`.

use crate::wire::http1::{self, Headers, Scan, DEFAULT_HEAD_LIMIT};
use crate::wire::websocket::close::CloseFrame;
use crate::wire::websocket::handshake::{self, Check, ServerPolicy};
use crate::wire::websocket::{
    apply_mask, CloseCode, Frame, FrameHeader, Incoming, Message, MessageAssembler, MessageKind,
    OpCode, Parsed, ProtocolError, Role, Utf8Validator,
};
use serde::Serialize;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Limits and switches shared by both ends.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// The largest message accepted; bigger ones close the connection with 1009.
    pub max_message: usize,
    /// How long the opening handshake may take.
    pub handshake_timeout: Duration,
    /// How long a connection may stay silent before it is dropped.
    pub idle_timeout: Duration,
    /// How long to wait for the peer's close frame (and the TCP close) after ours.
    pub close_timeout: Duration,
    /// Record a [`WsTrace`] for every handshake head and frame.
    pub trace: bool,
    /// What a server accepts in the handshake.
    pub policy: ServerPolicy,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            max_message: 64 << 20,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            close_timeout: Duration::from_secs(3),
            trace: false,
            policy: ServerPolicy::default(),
        }
    }
}

/// Why a connection could not be set up or went wrong.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out {0}")]
    Timeout(&'static str),
    #[error("the peer closed the TCP connection during the handshake")]
    ClosedDuringHandshake,
    #[error("{0}")]
    Head(#[from] http1::HeadError),
    #[error("handshake refused with {status}: {rule}")]
    Refused { status: u16, rule: String },
    #[error("{0}")]
    BadResponse(#[from] handshake::ResponseError),
    #[error("randomness unavailable: {0}")]
    Random(String),
}

/// A `ws://host:port/path` URL. (`wss://` needs TLS, which netlab does not do.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub resource: String,
}

impl FromStr for WsUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<WsUrl, String> {
        let rest = if let Some(r) = s.strip_prefix("ws://") {
            r
        } else if s.starts_with("wss://") {
            return Err("wss:// needs TLS, which netlab does not speak; use ws://".into());
        } else {
            return Err(format!(
                "'{s}' is not a ws:// URL (for example ws://127.0.0.1:9001/)"
            ));
        };
        let (authority, resource) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, p) = v6.split_once(']').ok_or("an IPv6 host needs a closing ]")?;
            (h.to_owned(), p.strip_prefix(':').unwrap_or(""))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p),
                None => (authority.to_owned(), ""),
            }
        };
        if host.is_empty() {
            return Err(format!("'{s}' has no host"));
        }
        let port = if port.is_empty() {
            80
        } else {
            port.parse()
                .map_err(|_| format!("'{port}' is not a port number"))?
        };
        Ok(WsUrl {
            host,
            port,
            resource,
        })
    }
}

impl WsUrl {
    /// The value of the `Host` header (RFC 9110 §7.2: host, and port when not default).
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl fmt::Display for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "ws://{host}:{}{}", self.port, self.resource)
    }
}

/// A header line in a trace, with what it is for.
#[derive(Debug, Clone, Serialize)]
pub struct TracedHeader {
    pub name: String,
    pub value: String,
    pub about: &'static str,
}

/// One thing seen on a traced connection.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "trace", rename_all = "snake_case")]
pub enum WsTrace {
    /// An HTTP head of the opening handshake.
    Handshake {
        at_us: u64,
        from: Role,
        start_line: String,
        headers: Vec<TracedHeader>,
        /// The server's checks of §4.2.1, on the server's trace of the request.
        checks: Vec<Check>,
    },
    /// One frame, in either direction.
    Frame(FrameTrace),
}

/// One frame as it crossed the wire.
#[derive(Debug, Clone, Serialize)]
pub struct FrameTrace {
    pub at_us: u64,
    /// Who sent it.
    pub from: Role,
    pub fin: bool,
    pub rsv: u8,
    pub opcode: OpCode,
    pub masked: bool,
    /// The masking key in hex, when masked.
    pub mask_key: Option<String>,
    pub payload_len: u64,
    pub length_encoding: &'static str,
    /// The header bytes in hex.
    pub header_hex: String,
    /// The first bytes of the payload as sent (masked if a key was used), hex.
    pub wire_hex: String,
    /// The same bytes unmasked, hex.
    pub payload_hex: String,
    /// The unmasked preview as text, if it is UTF-8 (text, close reasons, pings).
    pub payload_text: Option<String>,
    /// True when the previews show only the start of the payload.
    pub truncated: bool,
}

const PREVIEW: usize = 32;

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn frame_trace(at_us: u64, from: Role, header: &FrameHeader, payload: &[u8]) -> FrameTrace {
    let mut head = Vec::with_capacity(14);
    header.emit(&mut head);
    let n = payload.len().min(PREVIEW);
    let preview = &payload[..n];
    let mut wire = preview.to_vec();
    if let Some(key) = header.mask {
        apply_mask(&mut wire, key, 0);
    }
    let text_like = matches!(
        header.opcode,
        OpCode::Text | OpCode::Continuation | OpCode::Ping | OpCode::Pong
    );
    let payload_text = match header.opcode {
        OpCode::Close if payload.len() >= 2 => Some(format!(
            "code {} {:?}",
            u16::from_be_bytes([payload[0], payload[1]]),
            String::from_utf8_lossy(&preview[2.min(n)..])
        )),
        _ if text_like => std::str::from_utf8(preview).ok().map(str::to_owned),
        _ => None,
    };
    FrameTrace {
        at_us,
        from,
        fin: header.fin,
        rsv: header.rsv,
        opcode: header.opcode,
        masked: header.mask.is_some(),
        mask_key: header.mask.map(|k| hex(&k).replace(' ', "")),
        payload_len: header.payload_len,
        length_encoding: header.length_encoding.describe(),
        header_hex: hex(&head),
        wire_hex: hex(&wire),
        payload_hex: hex(preview),
        payload_text,
        truncated: payload.len() > PREVIEW,
    }
}

fn head_trace(
    at_us: u64,
    from: Role,
    start_line: String,
    headers: &Headers,
    checks: Vec<Check>,
) -> WsTrace {
    WsTrace::Handshake {
        at_us,
        from,
        start_line,
        headers: headers
            .0
            .iter()
            .map(|h| TracedHeader {
                name: h.name.clone(),
                value: h.value.clone(),
                about: handshake::explain_header(&h.name),
            })
            .collect(),
        checks,
    }
}

/// What [`WsConnection::recv`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Message(Message),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// The peer's close frame.
    Close(CloseFrame),
    /// The peer broke a rule; [`WsConnection::respond`] closes with its code.
    Violation(ProtocolError),
    /// The TCP connection ended (without a close frame unless one was seen before).
    Eof,
}

/// Whether to keep going after [`WsConnection::respond`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Closed,
}

/// Randomness for masking keys, fetched from the OS 64 keys at a time.
struct KeySource {
    pool: [u8; 256],
    used: usize,
}

impl KeySource {
    fn new() -> KeySource {
        KeySource {
            pool: [0; 256],
            used: 256,
        }
    }

    fn next(&mut self) -> Result<[u8; 4], WsError> {
        if self.used + 4 > self.pool.len() {
            getrandom::fill(&mut self.pool).map_err(|e| WsError::Random(e.to_string()))?;
            self.used = 0;
        }
        let k = &self.pool[self.used..self.used + 4];
        self.used += 4;
        Ok([k[0], k[1], k[2], k[3]])
    }
}

/// An incremental UTF-8 check of a text frame whose payload is still arriving.
struct EarlyUtf8 {
    /// Where the frame starts in the read buffer; a new frame resets the check.
    frame_at: usize,
    checked: usize,
    validator: Utf8Validator,
}

/// One WebSocket connection after a successful handshake, on a TCP stream or on any
/// byte stream that wraps one (the comparison lab uses `net::http::Counted<TcpStream>`
/// to count every byte at the socket API).
pub struct WsConnection<S = TcpStream> {
    stream: S,
    role: Role,
    peer: SocketAddr,
    cfg: WsConfig,
    rbuf: Vec<u8>,
    rpos: usize,
    wbuf: Vec<u8>,
    assembler: MessageAssembler,
    early: Option<EarlyUtf8>,
    /// Bytes (from `rpos`) the frame being read needs in all, once its header is known.
    need: usize,
    keys: KeySource,
    started: Instant,
    trace: Vec<WsTrace>,
    close_sent: bool,
    close_received: bool,
    /// Messages that arrived after our close frame went out (RFC 6455 lets the peer's
    /// data in flight still arrive); kept for the caller to show.
    late: Vec<Message>,
    /// The subprotocol agreed in the handshake, if any.
    protocol: Option<String>,
    /// Bytes of the handshake heads written and read by this end.
    handshake_sent: usize,
    handshake_received: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsConnection<S> {
    /// `peer` is the stream's far end; the caller has set TCP_NODELAY on the socket
    /// (small messages go out at once rather than waiting for Nagle's algorithm).
    fn new(
        stream: S,
        peer: SocketAddr,
        role: Role,
        cfg: WsConfig,
        leftover: Vec<u8>,
        started: Instant,
        trace: Vec<WsTrace>,
    ) -> WsConnection<S> {
        let max = cfg.max_message;
        let mut rbuf = leftover;
        rbuf.reserve(16 * 1024);
        WsConnection {
            stream,
            role,
            peer,
            cfg,
            rbuf,
            rpos: 0,
            wbuf: Vec::with_capacity(16 * 1024),
            assembler: MessageAssembler::new(max),
            early: None,
            need: 0,
            keys: KeySource::new(),
            started,
            trace,
            close_sent: false,
            close_received: false,
            late: Vec::new(),
            protocol: None,
            handshake_sent: 0,
            handshake_received: 0,
        }
    }

    /// Bytes of the opening handshake this end sent and received (the HTTP heads of the
    /// upgrade request and its 101 answer).
    pub fn handshake_bytes(&self) -> (usize, usize) {
        (self.handshake_sent, self.handshake_received)
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The subprotocol agreed in the handshake (`Sec-WebSocket-Protocol`), if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// Has a close frame been sent by us?
    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// Messages that arrived while our close handshake was finishing.
    pub fn take_late_messages(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.late)
    }

    /// The trace recorded since the last call (empty unless tracing is on).
    pub fn take_trace(&mut self) -> Vec<WsTrace> {
        std::mem::take(&mut self.trace)
    }

    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    fn peer_role(&self) -> Role {
        match self.role {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }

    /// Wait for the next message or control frame. Cancel-safe: the only await is a read
    /// whose bytes are kept in the buffer, so dropping this future loses nothing.
    pub async fn recv(&mut self) -> Result<Received, WsError> {
        loop {
            if let Some(r) = self.parse_buffered() {
                return Ok(r);
            }
            if self.rpos > 0 && (self.rpos == self.rbuf.len() || self.rpos > 64 * 1024) {
                self.rbuf.drain(..self.rpos);
                if let Some(e) = self.early.as_mut() {
                    e.frame_at = e.frame_at.saturating_sub(self.rpos);
                }
                self.rpos = 0;
            }
            // Room for the rest of the frame being read (so one read can take it whole),
            // at least 16 KiB, at most 4 MiB at a time (a frame's claim is not trusted).
            let buffered = self.rbuf.len() - self.rpos;
            let want = self.need.saturating_sub(buffered).clamp(16 * 1024, 4 << 20);
            if self.rbuf.capacity() - self.rbuf.len() < want {
                self.rbuf.reserve(want);
            }
            let n = match timeout(self.cfg.idle_timeout, self.stream.read_buf(&mut self.rbuf)).await
            {
                Ok(r) => r?,
                Err(_) => return Err(WsError::Timeout("waiting for the peer to send")),
            };
            if n == 0 {
                return Ok(Received::Eof);
            }
        }
    }

    /// Take what the buffer holds: `Some` when a frame completed something.
    fn parse_buffered(&mut self) -> Option<Received> {
        loop {
            let avail = &self.rbuf[self.rpos..];
            let max_payload = self
                .cfg
                .max_message
                .saturating_sub(self.assembler.partial_len());
            let frame = match Frame::parse(avail, self.role, max_payload) {
                Ok(Parsed::Complete { value, header_len }) => {
                    self.rpos += header_len;
                    self.early = None;
                    value
                }
                Ok(Parsed::NeedMore { at_least }) => {
                    self.need = at_least;
                    return self.check_partial_text().err().map(Received::Violation);
                }
                Err(e) => return Some(Received::Violation(e)),
            };
            if self.cfg.trace {
                let t = frame_trace(
                    self.now_us(),
                    self.peer_role(),
                    &frame.header,
                    &frame.payload,
                );
                self.trace.push(WsTrace::Frame(t));
            }
            match self.assembler.push(frame) {
                Ok(Incoming::Fragment) => continue,
                Ok(Incoming::Message(m)) => return Some(Received::Message(m)),
                Ok(Incoming::Ping(p)) => return Some(Received::Ping(p)),
                Ok(Incoming::Pong(p)) => return Some(Received::Pong(p)),
                Ok(Incoming::Close(c)) => {
                    self.close_received = true;
                    return Some(Received::Close(c));
                }
                Err(e) => return Some(Received::Violation(e)),
            }
        }
    }

    /// While a text frame's payload is still arriving, check the part that is here, so
    /// invalid UTF-8 fails the connection without waiting for the rest (§8.1 "as soon as").
    fn check_partial_text(&mut self) -> Result<(), ProtocolError> {
        let avail = &self.rbuf[self.rpos..];
        let Ok(Parsed::Complete {
            value: h,
            header_len,
        }) = FrameHeader::parse(avail)
        else {
            return Ok(());
        };
        let is_text = h.opcode == OpCode::Text
            || (h.opcode == OpCode::Continuation && self.assembler.in_text_message());
        if !is_text || h.check(self.role, usize::MAX).is_err() {
            return Ok(());
        }
        let have = (avail.len() - header_len).min(h.payload_len as usize);
        let early = match &mut self.early {
            Some(e) if e.frame_at == self.rpos => e,
            _ => self.early.insert(EarlyUtf8 {
                frame_at: self.rpos,
                checked: 0,
                validator: self.assembler.utf8_state(),
            }),
        };
        if have <= early.checked {
            return Ok(());
        }
        let start = self.rpos + header_len;
        let mut piece = self.rbuf[start + early.checked..start + have].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut piece, key, early.checked);
        }
        early.checked = have;
        early.validator.feed(&piece)
    }

    async fn write_frame(
        &mut self,
        fin: bool,
        opcode: OpCode,
        payload: &[u8],
    ) -> Result<(), WsError> {
        let mask = if self.role.masks() {
            Some(self.keys.next()?)
        } else {
            None
        };
        if self.cfg.trace {
            let header = FrameHeader::new(fin, opcode, mask, payload.len() as u64);
            let t = frame_trace(self.now_us(), self.role, &header, payload);
            self.trace.push(WsTrace::Frame(t));
        }
        self.wbuf.clear();
        if mask.is_none() && payload.len() > 4096 {
            // A server sends the payload as it is: header and payload go out in one
            // vectored write, without copying the payload.
            FrameHeader::new(fin, opcode, None, payload.len() as u64).emit(&mut self.wbuf);
            write_all_vectored(&mut self.stream, &self.wbuf, payload).await?;
        } else {
            Frame::encode(fin, opcode, payload, mask, &mut self.wbuf);
            self.stream.write_all(&self.wbuf).await?;
        }
        Ok(())
    }

    /// Send a whole message in one frame.
    pub async fn send(&mut self, m: &Message) -> Result<(), WsError> {
        self.write_frame(true, m.kind.opcode(), &m.payload).await
    }

    /// Send a message split into frames of at most `chunk` bytes (§5.4), to show
    /// fragmentation.
    pub async fn send_fragmented(&mut self, m: &Message, chunk: usize) -> Result<(), WsError> {
        let chunks: Vec<&[u8]> = m.payload.chunks(chunk.max(1)).collect();
        let last = chunks.len().saturating_sub(1);
        if chunks.is_empty() {
            return self.send(m).await;
        }
        for (i, c) in chunks.iter().enumerate() {
            let op = if i == 0 {
                m.kind.opcode()
            } else {
                OpCode::Continuation
            };
            self.write_frame(i == last, op, c).await?;
        }
        Ok(())
    }

    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), WsError> {
        self.write_frame(true, OpCode::Ping, &payload[..payload.len().min(125)])
            .await
    }

    /// Send our close frame (once).
    pub async fn send_close(&mut self, frame: &CloseFrame) -> Result<(), WsError> {
        if self.close_sent {
            return Ok(());
        }
        self.close_sent = true;
        self.write_frame(true, OpCode::Close, &frame.payload())
            .await
    }

    /// Start the closing handshake and see it through: send our close, wait (bounded)
    /// for the peer's, then end the TCP connection. Returns the peer's close, if any.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Option<CloseFrame> {
        if self
            .send_close(&CloseFrame::new(code, reason))
            .await
            .is_err()
        {
            return None;
        }
        self.finish_close().await
    }

    /// After our close was sent: read until the peer's close (ignoring data, §5.5.1) and
    /// the end of the stream, within `close_timeout`.
    async fn finish_close(&mut self) -> Option<CloseFrame> {
        let limit = self.cfg.close_timeout;
        let mut theirs = None;
        let _ = timeout(limit, async {
            while !self.close_received {
                match self.recv().await {
                    Ok(Received::Close(c)) => theirs = Some(c),
                    Ok(Received::Eof) | Err(_) | Ok(Received::Violation(_)) => break,
                    Ok(Received::Message(m)) if self.late.len() < 1024 => self.late.push(m),
                    Ok(_) => {}
                }
            }
        })
        .await;
        self.shutdown().await;
        theirs
    }

    /// End the TCP connection. §7.1.1: the server closes first; a client waits (bounded)
    /// for the server to do so.
    async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
        if self.role == Role::Client {
            let mut scratch = [0u8; 1024];
            let _ = timeout(self.cfg.close_timeout, async {
                while let Ok(n) = self.stream.read(&mut scratch).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
        }
    }

    /// Do what the protocol requires after `r`: pong a ping, answer a close, fail the
    /// connection on a violation. Messages and pongs need nothing.
    pub async fn respond(&mut self, r: &Received) -> Result<Flow, WsError> {
        match r {
            Received::Message(_) | Received::Pong(_) => Ok(Flow::Continue),
            Received::Ping(p) => {
                // §5.5.2: "a Pong frame sent in response to a Ping frame must have
                // identical Application data".
                if !self.close_sent {
                    self.write_frame(true, OpCode::Pong, p).await?;
                }
                Ok(Flow::Continue)
            }
            Received::Close(c) => {
                // §5.5.1: answer with a close frame, typically echoing the status code.
                let reply = match c.code {
                    Some(code) => CloseFrame::new(code, ""),
                    None => CloseFrame {
                        code: None,
                        reason: String::new(),
                    },
                };
                let _ = self.send_close(&reply).await;
                self.shutdown().await;
                Ok(Flow::Closed)
            }
            Received::Violation(e) => {
                let _ = self.send_close(&CloseFrame::new(e.close_code(), "")).await;
                self.finish_close().await;
                Ok(Flow::Closed)
            }
            Received::Eof => Ok(Flow::Closed),
        }
    }
}

/// Write `head` then `body` with as few system calls as the kernel allows.
async fn write_all_vectored<S: AsyncWrite + Unpin>(
    stream: &mut S,
    head: &[u8],
    body: &[u8],
) -> std::io::Result<()> {
    let (mut h, mut b) = (head, body);
    while !h.is_empty() {
        let n = stream
            .write_vectored(&[std::io::IoSlice::new(h), std::io::IoSlice::new(b)])
            .await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let from_head = n.min(h.len());
        h = &h[from_head..];
        b = &b[n - from_head..];
    }
    stream.write_all(b).await
}

/// Read an HTTP head from `stream` (bounded in size and time). Returns the bytes read:
/// the head and whatever came after it.
async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    limit: Duration,
) -> Result<Vec<u8>, WsError> {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        loop {
            let n = stream.read_buf(&mut buf).await?;
            if n == 0 {
                return Err(WsError::ClosedDuringHandshake);
            }
            if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() >= DEFAULT_HEAD_LIMIT {
                return Ok(());
            }
        }
    };
    match timeout(limit, read).await {
        Ok(r) => r?,
        Err(_) => return Err(WsError::Timeout("waiting for the handshake")),
    }
    Ok(buf)
}

/// The server's side of the handshake on an accepted TCP stream.
pub async fn accept(
    stream: TcpStream,
    cfg: WsConfig,
) -> Result<WsConnection, (WsError, Vec<WsTrace>)> {
    let peer = match tcp_ready(&stream) {
        Ok(p) => p,
        Err(e) => return Err((e.into(), Vec::new())),
    };
    accept_stream(stream, peer, cfg).await
}

/// The far end of `stream`, after turning Nagle's algorithm off (small messages go out
/// at once rather than waiting to be merged).
fn tcp_ready(stream: &TcpStream) -> std::io::Result<SocketAddr> {
    stream.set_nodelay(true)?;
    stream.peer_addr()
}

/// The server's side of the handshake on any byte stream whose far end is `peer`.
pub async fn accept_stream<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    cfg: WsConfig,
) -> Result<WsConnection<S>, (WsError, Vec<WsTrace>)> {
    let started = Instant::now();
    let buf = match read_head(&mut stream, cfg.handshake_timeout).await {
        Ok(b) => b,
        Err(e) => return Err((e, Vec::new())),
    };
    let (head, head_len) = match http1::parse_request(&buf, DEFAULT_HEAD_LIMIT) {
        Ok(Scan::Complete { value, head_len }) => (value, head_len),
        Ok(Scan::NeedMore) => return Err((WsError::ClosedDuringHandshake, Vec::new())),
        Err(e) => {
            let rej = handshake::Rejection {
                status: 400,
                rule: e.to_string(),
                checks: vec![],
            };
            let _ = stream.write_all(&rej.response_bytes()).await;
            return Err((e.into(), Vec::new()));
        }
    };
    let leftover = buf[head_len..].to_vec();
    accept_request(stream, peer, &head, head_len, leftover, cfg, started).await
}

/// The server's side of the handshake once the request head (`head_len` bytes on the
/// wire) has been read from `stream`, for a server that reads heads itself and routes
/// some of them to WebSocket; `leftover` holds the bytes read after the head.
pub async fn accept_request<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    head: &http1::RequestHead,
    head_len: usize,
    leftover: Vec<u8>,
    cfg: WsConfig,
    started: Instant,
) -> Result<WsConnection<S>, (WsError, Vec<WsTrace>)> {
    let mut trace = Vec::new();
    let verdict = handshake::validate_request(head, &cfg.policy);
    let at = started.elapsed().as_micros() as u64;
    if cfg.trace {
        let checks = match &verdict {
            Ok(a) => a.checks.clone(),
            Err(r) => r.checks.clone(),
        };
        let line = format!(
            "{} {} HTTP/1.{}",
            head.method, head.target, head.minor_version
        );
        trace.push(head_trace(at, Role::Client, line, &head.headers, checks));
    }
    let (response, ok) = match &verdict {
        Ok(a) => (a.response_bytes(), true),
        Err(r) => (r.response_bytes(), false),
    };
    if cfg.trace {
        if let Ok(Scan::Complete { value, .. }) =
            http1::parse_response(&response, DEFAULT_HEAD_LIMIT)
        {
            let line = format!("HTTP/1.1 {} {}", value.status, value.reason);
            let at = started.elapsed().as_micros() as u64;
            trace.push(head_trace(at, Role::Server, line, &value.headers, vec![]));
        }
    }
    if let Err(e) = stream.write_all(&response).await {
        return Err((e.into(), trace));
    }
    if !ok {
        let _ = stream.shutdown().await;
        let (status, rule) = match verdict {
            Err(r) => (r.status, r.rule),
            Ok(_) => (0, String::new()),
        };
        return Err((WsError::Refused { status, rule }, trace));
    }
    let mut conn = WsConnection::new(stream, peer, Role::Server, cfg, leftover, started, trace);
    conn.handshake_sent = response.len();
    conn.handshake_received = head_len;
    Ok(conn)
}

/// Connect to `url` and run the client's side of the handshake (§4.1).
pub async fn connect(
    url: &WsUrl,
    cfg: WsConfig,
    protocols: &[String],
) -> Result<WsConnection, WsError> {
    let limit = cfg.handshake_timeout;
    let stream = match timeout(limit, TcpStream::connect((url.host.as_str(), url.port))).await {
        Ok(s) => s?,
        Err(_) => return Err(WsError::Timeout("connecting")),
    };
    let peer = tcp_ready(&stream)?;
    handshake_client(
        stream,
        peer,
        &url.host_header(),
        &url.resource,
        cfg,
        protocols,
    )
    .await
}

/// The client's side of the handshake (§4.1) on a stream already connected to `peer`,
/// asking for `resource` on `host` (the `Host` header's value).
pub async fn handshake_client<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    host: &str,
    resource: &str,
    cfg: WsConfig,
    protocols: &[String],
) -> Result<WsConnection<S>, WsError> {
    let started = Instant::now();
    let limit = cfg.handshake_timeout;
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| WsError::Random(e.to_string()))?;
    let (key, request) = handshake::client_request(host, resource, nonce, protocols, None);
    let mut trace = Vec::new();
    if cfg.trace {
        if let Ok(Scan::Complete { value, .. }) = http1::parse_request(&request, DEFAULT_HEAD_LIMIT)
        {
            let line = format!("{} {} HTTP/1.1", value.method, value.target);
            let at = started.elapsed().as_micros() as u64;
            trace.push(head_trace(at, Role::Client, line, &value.headers, vec![]));
        }
    }
    match timeout(limit, stream.write_all(&request)).await {
        Ok(r) => r?,
        Err(_) => return Err(WsError::Timeout("sending the handshake")),
    }
    let buf = read_head(&mut stream, limit).await?;
    let (head, head_len) = match http1::parse_response(&buf, DEFAULT_HEAD_LIMIT)? {
        Scan::Complete { value, head_len } => (value, head_len),
        Scan::NeedMore => return Err(WsError::ClosedDuringHandshake),
    };
    if cfg.trace {
        let line = format!(
            "HTTP/1.{} {} {}",
            head.minor_version, head.status, head.reason
        );
        let at = started.elapsed().as_micros() as u64;
        trace.push(head_trace(at, Role::Server, line, &head.headers, vec![]));
    }
    let protocol = handshake::validate_response(&head, &key, protocols)?;
    let leftover = buf[head_len..].to_vec();
    let mut conn = WsConnection::new(stream, peer, Role::Client, cfg, leftover, started, trace);
    conn.protocol = protocol;
    conn.handshake_sent = request.len();
    conn.handshake_received = head_len;
    Ok(conn)
}

/// A short description of a message for logs: the text (clipped) or the size.
pub fn describe(m: &Message) -> String {
    match m.kind {
        MessageKind::Text => {
            let t = m.as_text().unwrap_or("");
            let clipped: String = t.chars().take(60).collect();
            if clipped.len() < t.len() {
                format!("text {:?}… ({} B)", clipped, m.payload.len())
            } else {
                format!("text {:?}", t)
            }
        }
        MessageKind::Binary => {
            let n = m.payload.len().min(16);
            let more = if m.payload.len() > n { " …" } else { "" };
            format!(
                "binary {} B [{}{more}]",
                m.payload.len(),
                hex(&m.payload[..n])
            )
        }
    }
}

/// What a server does with each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServeMode {
    /// Send every message back to its sender.
    Echo,
    /// Send every message to every *other* connected client.
    Broadcast,
}

/// Something that happened on the server, for the lab to print.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ServerEvent {
    Connected {
        id: u64,
        peer: SocketAddr,
    },
    Refused {
        peer: SocketAddr,
        error: String,
    },
    Trace {
        id: u64,
        #[serde(flatten)]
        trace: WsTrace,
    },
    Message {
        id: u64,
        kind: MessageKind,
        len: usize,
        summary: String,
        /// How many clients it went to.
        delivered_to: usize,
    },
    /// A broadcast client fell so far behind that messages for it were dropped.
    Dropped {
        id: u64,
        messages: u64,
    },
    Closed {
        id: u64,
        /// Who sent the first close frame: "client", "server", or "none" (TCP just ended).
        initiated_by: &'static str,
        code: Option<u16>,
        reason: String,
        error: Option<String>,
    },
}

/// How a server runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub mode: ServeMode,
    pub cfg: WsConfig,
    /// Report every message (off under load: connections are still reported).
    pub report_messages: bool,
}

/// Bind a listening socket (tokio's listener: SO_REUSEADDR on Unix, backlog 1024).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

type Hub = tokio::sync::broadcast::Sender<(u64, std::sync::Arc<Message>)>;

/// Accept connections until `shutdown` turns true, then close every connection with
/// 1001 (going away) and wait, bounded, for them to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    opts: ServeOptions,
    events: tokio::sync::mpsc::Sender<ServerEvent>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let (hub, _) = tokio::sync::broadcast::channel::<(u64, std::sync::Arc<Message>)>(1024);
    let mut tasks = tokio::task::JoinSet::new();
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(a) => a,
                    // Out of file descriptors and similar: keep serving the others.
                    Err(_) => continue,
                };
                next_id += 1;
                tasks.spawn(handle(next_id, stream, opts.clone(), events.clone(), shutdown.clone(), hub.clone()));
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = stopped(&mut shutdown) => break,
        }
    }
    drop(listener);
    let grace = opts.cfg.close_timeout + Duration::from_secs(2);
    let _ = timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    tasks.abort_all();
    Ok(())
}

async fn emit_trace(
    conn: &mut WsConnection,
    id: u64,
    events: &tokio::sync::mpsc::Sender<ServerEvent>,
) {
    for trace in conn.take_trace() {
        let _ = events.send(ServerEvent::Trace { id, trace }).await;
    }
}

async fn handle(
    id: u64,
    stream: TcpStream,
    opts: ServeOptions,
    events: tokio::sync::mpsc::Sender<ServerEvent>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    hub: Hub,
) {
    let peer = match stream.peer_addr() {
        Ok(p) => p,
        Err(_) => return,
    };
    let mut conn = match accept(stream, opts.cfg.clone()).await {
        Ok(c) => c,
        Err((e, trace)) => {
            for trace in trace {
                let _ = events.send(ServerEvent::Trace { id, trace }).await;
            }
            let _ = events
                .send(ServerEvent::Refused {
                    peer,
                    error: e.to_string(),
                })
                .await;
            return;
        }
    };
    let _ = events.send(ServerEvent::Connected { id, peer }).await;
    emit_trace(&mut conn, id, &events).await;
    let mut inbox = hub.subscribe();
    let broadcast = opts.mode == ServeMode::Broadcast;
    let closed = loop {
        let received = tokio::select! {
            r = conn.recv() => r,
            _ = stopped(&mut shutdown) => {
                let theirs = conn.close(CloseCode::GOING_AWAY, "server shutting down").await;
                emit_trace(&mut conn, id, &events).await;
                break ServerEvent::Closed {
                    id,
                    initiated_by: "server",
                    code: Some(CloseCode::GOING_AWAY.0),
                    reason: "server shutting down".into(),
                    error: if theirs.is_some() { None } else { Some("no close frame came back".into()) },
                };
            }
            m = inbox.recv(), if broadcast => {
                let sent = match m {
                    Ok((from, m)) if from != id => conn.send(&m).await,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        // This client could not keep up: the hub dropped its oldest messages.
                        let _ = events.send(ServerEvent::Dropped { id, messages: n }).await;
                        Ok(())
                    }
                    _ => Ok(()), // our own message
                };
                emit_trace(&mut conn, id, &events).await;
                if let Err(e) = sent {
                    break closed_by_error(id, e);
                }
                continue;
            }
        };
        let r = match received {
            Ok(r) => r,
            Err(e) => break closed_by_error(id, e),
        };
        emit_trace(&mut conn, id, &events).await; // the frames that made `r`, first
        if let Received::Message(m) = &r {
            let delivered_to = if broadcast {
                let n = hub.receiver_count().saturating_sub(1);
                let _ = hub.send((id, std::sync::Arc::new(m.clone())));
                n
            } else {
                if let Err(e) = conn.send(m).await {
                    emit_trace(&mut conn, id, &events).await;
                    break closed_by_error(id, e);
                }
                1
            };
            if opts.report_messages {
                let _ = events
                    .send(ServerEvent::Message {
                        id,
                        kind: m.kind,
                        len: m.payload.len(),
                        summary: describe(m),
                        delivered_to,
                    })
                    .await;
            }
        }
        let flow = conn.respond(&r).await;
        emit_trace(&mut conn, id, &events).await;
        match (flow, &r) {
            (Ok(Flow::Continue), _) => continue,
            (_, Received::Close(c)) => {
                break ServerEvent::Closed {
                    id,
                    initiated_by: "client",
                    code: c.code.map(|c| c.0),
                    reason: c.reason.clone(),
                    error: None,
                }
            }
            (_, Received::Violation(e)) => {
                break ServerEvent::Closed {
                    id,
                    initiated_by: "server",
                    code: Some(e.close_code().0),
                    reason: String::new(),
                    error: Some(e.to_string()),
                }
            }
            (Err(e), _) => break closed_by_error(id, e),
            _ => {
                break ServerEvent::Closed {
                    id,
                    initiated_by: "none",
                    code: None,
                    reason: String::new(),
                    error: Some("the TCP connection ended without a close frame (1006)".into()),
                }
            }
        }
    };
    let _ = events.send(closed).await;
}

/// Resolves once `shutdown` is true (the guard `wait_for` returns is not `Send`).
async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn closed_by_error(id: u64, e: WsError) -> ServerEvent {
    ServerEvent::Closed {
        id,
        initiated_by: "none",
        code: None,
        reason: String::new(),
        error: Some(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u: WsUrl = "ws://127.0.0.1:9001/runCase?case=1".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 9001));
        assert_eq!(u.resource, "/runCase?case=1");
        assert_eq!(u.host_header(), "127.0.0.1:9001");
        let u: WsUrl = "ws://[::1]:80".parse().unwrap();
        assert_eq!((u.host.as_str(), u.resource.as_str()), ("::1", "/"));
        assert_eq!(u.host_header(), "[::1]");
        let u: WsUrl = "ws://localhost?x=1".parse().unwrap();
        assert_eq!((u.port, u.resource.as_str()), (80, "/?x=1"));
        assert!("wss://x".parse::<WsUrl>().unwrap_err().contains("TLS"));
        assert!("http://x".parse::<WsUrl>().is_err());
        assert!("ws://:80".parse::<WsUrl>().is_err());
    }

    #[test]
    fn trace_shows_masked_and_unmasked_bytes() {
        let h = FrameHeader::new(true, OpCode::Text, Some([0x37, 0xfa, 0x21, 0x3d]), 5);
        let t = frame_trace(0, Role::Client, &h, b"Hello");
        assert_eq!(t.header_hex, "81 85 37 fa 21 3d");
        assert_eq!(t.wire_hex, "7f 9f 4d 51 58");
        assert_eq!(t.payload_hex, "48 65 6c 6c 6f");
        assert_eq!(t.payload_text.as_deref(), Some("Hello"));
        assert_eq!(t.mask_key.as_deref(), Some("37fa213d"));
    }
}
