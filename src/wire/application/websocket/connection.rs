//! One WebSocket connection without I/O, RFC 6455 §5 to §8: bytes in, events out; calls
//! in, bytes out. Everything the protocol decides after the opening handshake is here.
//!
//! ```text
//!             ┌────────────────────────── Connection ──────────────────────────┐
//!  socket ──► │ read_buffer() / receive()  ──► frames ──► MessageAssembler ──►  │ ──► next_event()
//!  (bytes)    │   receive_eof()                 │ §5.2 rules   §5.4 + §8.1     │     Message, Ping, Pong,
//!             │                                 ▼                              │     Close, Violation, Eof
//!             │          automatic replies: pong (§5.5.2), close reply         │
//!             │          (§5.5.1), close with the broken rule's code (§7.1.7)  │
//!  socket ◄── │ output() / consume_output() ◄── send(), send_fragmented(),     │ ◄── the application
//!  (bytes)    │                                 ping(), close()                │
//!             └────────────────────────────────────────────────────────────────┘
//! ```
//!
//! The shape is the one of quinn-proto's `Connection` and tungstenite's
//! `WebSocketContext`: the caller (`net::ws` for a socket, the tests below for two
//! connections joined by byte buffers) moves bytes, and this file decides.
//!
//! - **Receiving.** Bytes from the peer go into [`Connection::read_buffer`] (a read can
//!   fill it directly, so nothing is copied) or [`Connection::receive`]; the end of the
//!   stream is [`Connection::receive_eof`]. [`Connection::next_event`] hands out what the
//!   buffered bytes amount to, one [`Event`] at a time.
//! - **Replying.** A ping is answered with a pong carrying the same payload (§5.5.2), a
//!   close with a close echoing its code (§5.5.1), a broken rule by *failing the
//!   connection* (§7.1.7): a close frame with the rule's code (1002 protocol error, 1007
//!   invalid UTF-8, 1009 too big), after which nothing more the peer sends is read. These
//!   replies are queued when the event is handed out; the caller only writes them.
//! - **Sending.** [`Connection::send`], [`send_fragmented`](Connection::send_fragmented)
//!   (§5.4), [`ping`](Connection::ping) and [`close`](Connection::close) append frames
//!   to the output buffer. After our close frame, no data frame may follow (§5.5.1).
//! - **UTF-8 as soon as possible.** Text is checked while a frame is still arriving, so
//!   invalid UTF-8 fails the connection "as soon as" it is certain (§8.1), not when the
//!   frame or message is complete.
//! - **Closing** ([`CloseState`]): each side sends one close frame and answers the other's;
//!   the closing handshake is complete when both have crossed, in whichever order (one
//!   side first, or both at once). Then the TCP connection ends, the server's side first
//!   (§7.1.1, [`Connection::closes_tcp_first`]).
//!
//! What it leaves to its caller: sockets, timers (handshake, idle, close: the caller
//! decides how long to wait), the clock, and randomness. A client's masking keys (§5.3)
//! come from a [`MaskKeys`] the caller supplies; this file never generates one, so every
//! test is deterministic.
//!
//! **Backpressure.** A peer that sends pings but never reads would make the pongs pile up.
//! The output buffer has a high-water mark ([`Limits::max_output`]): at or above it,
//! [`Connection::next_event`] reads no further input and every send is refused with
//! [`SendError::Backpressure`] until the caller has written the output out. Memory stays
//! bounded, and the pressure is visible to the caller instead of growing a buffer.
//!
//! **Extensions** (§9). Without one, every RSV bit fails the connection
//! ([`FrameHeader::check`]). permessage-deflate (RFC 7692, the one browsers offer; see
//! [`deflate`](super::deflate)) plugs in at three places when the handshake agreed it
//! ([`Connection::with_deflate`]):
//! - `Connection::accept_header`: RSV1 means "compressed", on the first frame of a data
//!   message only; on a control frame or a continuation it fails the connection (1002).
//! - `Connection::parse_one`: the frames of a compressed message bypass the assembler and
//!   are inflated as they arrive (`inflate_frame`), so the limit applies to the inflated
//!   size as it grows (1009) and UTF-8 is checked on the inflated text (1007), since
//!   compressed text is not UTF-8.
//! - the senders: a message is compressed ([`Compress`]: by default when it is at least
//!   the threshold) and its first frame gets RSV1. An uncompressed message takes the same
//!   path as without the extension: no copy, no allocation.

use super::assemble::{Incoming, Message, MessageAssembler, MessageKind, Utf8Validator};
use super::buffers::{EarlyUtf8, Input, Output};
use super::close::CloseFrame;
use super::deflate::{
    Agreement, Compress, DeflateNote, InflateError, PerMessageDeflate, Uncompressed,
};
use super::frame::{Frame, FrameHeader, Parsed};
use super::{apply_mask, OpCode, ProtocolError, Role};

/// What the connection accepts and keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest message accepted; a bigger one fails the connection with 1009.
    pub max_message: usize,
    /// The high-water mark of the output buffer, in bytes (see the module docs).
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 64 << 20,
            max_output: 1 << 20,
        }
    }
}

/// What the peer's bytes amounted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Message(Message),
    /// A ping; the pong is already queued (unless our close frame went out first).
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// The peer's close frame; our reply, if one was still due, is queued.
    Close(CloseFrame),
    /// The peer broke a rule. The connection is failed (§7.1.7): a close frame with
    /// [`ProtocolError::close_code`] is queued and no more input is read. Handed out again
    /// on every later call.
    Violation(ProtocolError),
    /// The byte stream ended (without a close frame unless one came before). Handed out
    /// again on every later call, as a read of a closed socket keeps returning 0.
    Eof,
}

/// Who sent the first close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    Us,
    Peer,
}

/// Where the closing handshake is (§7.1.2 to §7.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseState {
    /// No close frame has crossed yet.
    Open,
    /// Ours is queued or sent; the peer's has not arrived.
    SentOurs,
    /// Both close frames crossed: the WebSocket connection is closed and the TCP
    /// connection should end next. When both sides close at once, each sees itself as the
    /// initiator.
    Complete { initiated_by: Initiator },
}

/// Where a client's masking keys come from. §5.3: each frame gets a fresh key "derived
/// from a strong source of entropy"; `net` reads them from the operating system, tests
/// use fixed ones. A closure returning `[u8; 4]` is a `MaskKeys`.
pub trait MaskKeys: Send {
    fn next_key(&mut self) -> Result<[u8; 4], KeyUnavailable>;
}

impl<F: FnMut() -> [u8; 4] + Send> MaskKeys for F {
    fn next_key(&mut self) -> Result<[u8; 4], KeyUnavailable> {
        Ok(self())
    }
}

/// The source of masking keys failed (the operating system had no randomness to give).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyUnavailable(pub String);

/// Why a frame was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("randomness unavailable: {0}")]
    NoMaskKey(KeyUnavailable),
    #[error("our close frame went out: no data frame may follow it (§5.5.1)")]
    AfterClose,
    #[error("{buffered} bytes are waiting to be written; write them out first")]
    Backpressure { buffered: usize },
}

/// A frame that crossed, kept when recording is on (for `--trace`): its header and the
/// first bytes of its payload, unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSeen {
    /// Who sent it.
    pub from: Role,
    pub header: FrameHeader,
    pub preview: Vec<u8>,
    /// With permessage-deflate on: what happened to the message this frame starts (sent)
    /// or ends (received).
    pub deflate: Option<DeflateNote>,
}

/// The RSV1 bit of a header's `rsv` (RFC 7692 §6: "Per-Message Compressed").
pub const RSV1: u8 = 0b100;

/// A compressed message whose frames are arriving: inflated frame by frame.
#[derive(Debug)]
struct Inflating {
    kind: MessageKind,
    payload: Vec<u8>,
    /// Compressed bytes received so far.
    wire: usize,
    utf8: Utf8Validator,
}

/// One WebSocket connection after the opening handshake: the role, the message
/// assembler, the closing handshake, the limits and the two buffers. See the module docs.
pub struct Connection {
    role: Role,
    limits: Limits,
    assembler: MessageAssembler,
    input: Input,
    output: Output,
    close: CloseState,
    /// Set when we failed the connection (§7.1.7): nothing more is read.
    failed: Option<ProtocolError>,
    /// An automatic reply that could not be queued, for the caller to hear about.
    reply_error: Option<SendError>,
    keys: Box<dyn MaskKeys>,
    /// The frames that crossed, when recording (and how many payload bytes to keep).
    recording: Option<Recording>,
    /// permessage-deflate, when the handshake agreed it.
    deflate: Option<Box<PerMessageDeflate>>,
    /// The compressed message being received, if one is.
    inflating: Option<Inflating>,
    /// Reused for compressed output, so sending compressed messages allocates rarely.
    scratch: Vec<u8>,
}

struct Recording {
    preview: usize,
    frames: Vec<FrameSeen>,
}

impl Connection {
    /// A connection for `role`; `keys` gives a client its masking keys (a server never
    /// asks).
    pub fn new(role: Role, limits: Limits, keys: Box<dyn MaskKeys>) -> Connection {
        Connection {
            role,
            limits,
            assembler: MessageAssembler::new(limits.max_message),
            input: Input::default(),
            output: Output::default(),
            close: CloseState::Open,
            failed: None,
            reply_error: None,
            keys,
            recording: None,
            deflate: None,
            inflating: None,
            scratch: Vec::new(),
        }
    }

    /// Run permessage-deflate as `agreement` says; messages below `threshold` bytes go
    /// uncompressed unless sent with [`Compress::Always`].
    pub fn with_deflate(mut self, agreement: Agreement, threshold: usize) -> Connection {
        self.deflate = Some(Box::new(PerMessageDeflate::new(
            agreement, self.role, threshold,
        )));
        self
    }

    /// The permessage-deflate parameters in use, if the extension is on.
    pub fn deflate(&self) -> Option<&Agreement> {
        self.deflate.as_deref().map(|d| &d.agreement)
    }

    /// Start with `bytes` already received: what a handshake read after the HTTP head.
    pub fn with_received(mut self, bytes: Vec<u8>) -> Connection {
        self.input.buf = bytes;
        self.input.pos = 0;
        self
    }

    /// Keep a [`FrameSeen`] for every frame sent or received, with up to `preview` bytes
    /// of payload, until [`take_frames`](Self::take_frames).
    pub fn record_frames(&mut self, preview: usize) {
        self.recording = Some(Recording {
            preview,
            frames: Vec::new(),
        });
    }

    /// The frames recorded since the last call (none unless recording).
    pub fn take_frames(&mut self) -> Vec<FrameSeen> {
        self.recording
            .as_mut()
            .map(|r| std::mem::take(&mut r.frames))
            .unwrap_or_default()
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn close_state(&self) -> CloseState {
        self.close
    }

    /// Has our close frame been queued?
    pub fn close_sent(&self) -> bool {
        self.close != CloseState::Open
    }

    /// Has the peer's close frame arrived (so the closing handshake is complete)?
    pub fn close_received(&self) -> bool {
        matches!(self.close, CloseState::Complete { .. })
    }

    /// The rule the peer broke, once we failed the connection.
    pub fn failure(&self) -> Option<&ProtocolError> {
        self.failed.as_ref()
    }

    /// §7.1.1: once the closing handshake is done, the server closes the TCP connection
    /// first (so the TIME_WAIT state lands on the server); a client waits for it.
    pub fn closes_tcp_first(&self) -> bool {
        self.role == Role::Server
    }

    // ------------------------------------------------------------- receiving --------

    /// The buffer to append received bytes to (a read can fill it in place). Only append:
    /// what is already in it has not all been parsed. Room is made for the rest of the
    /// frame being read, at least 16 KiB and at most 4 MiB at a time (a frame's claimed
    /// length is not trusted).
    pub fn read_buffer(&mut self) -> &mut Vec<u8> {
        self.input.room_for_read()
    }

    /// Whether every byte received so far has been parsed (the peer is between frames).
    pub fn input_is_empty(&self) -> bool {
        self.input.is_empty()
    }

    /// Give back the read, output and compression buffers while waiting for the peer,
    /// when nothing in them is pending: a connection that waits then holds no buffer,
    /// and the next read or send allocates one again. Idle connections are most of a
    /// busy server's connections, so this is most of its memory.
    pub fn shed_buffers(&mut self) {
        self.input.shed();
        self.output.shed();
        self.scratch = Vec::new();
    }

    /// Take bytes received from the peer (a copy; [`read_buffer`](Self::read_buffer)
    /// avoids it).
    pub fn receive(&mut self, bytes: &[u8]) {
        self.input.compact();
        self.input.buf.extend_from_slice(bytes);
    }

    /// The peer's byte stream ended (a read returned 0).
    pub fn receive_eof(&mut self) {
        self.input.eof = true;
    }

    /// The next thing the received bytes amount to, or `None` when more bytes are needed
    /// (or the output must be written out first: see the module docs on backpressure).
    pub fn next_event(&mut self) -> Option<Event> {
        if let Some(e) = &self.failed {
            return Some(Event::Violation(e.clone()));
        }
        if self.output.pending() >= self.limits.max_output {
            return None;
        }
        // After the peer's close frame, nothing it sends means anything (§5.5.1).
        if !self.close_received() {
            match self.parse_buffered() {
                Ok(Some(event)) => return Some(self.react(event)),
                Ok(None) => {}
                Err(e) => return Some(self.fail(e)),
            }
        }
        self.input.eof.then_some(Event::Eof)
    }

    /// Frames from the buffer until one completes something.
    fn parse_buffered(&mut self) -> Result<Option<Event>, ProtocolError> {
        loop {
            if let Some(event) = self.parse_one()? {
                return Ok(Some(event));
            }
            if self.input.need > self.input.buf.len() - self.input.pos {
                // The frame is incomplete: check the text that is here (§8.1 "as soon as").
                self.check_partial_text()?;
                return Ok(None);
            }
        }
    }

    /// Parse one frame if it is all here. `Ok(None)` either stored a fragment (`need` is
    /// 0 then) or needs more bytes (`need` says how many in all).
    fn parse_one(&mut self) -> Result<Option<Event>, ProtocolError> {
        let so_far = self.assembler.partial_len() + self.inflating.as_ref().map_or(0, |m| m.wire);
        let max_payload = self.limits.max_message.saturating_sub(so_far);
        let avail = &self.input.buf[self.input.pos..];
        let (header, header_len) = match FrameHeader::parse(avail)? {
            Parsed::Complete { value, header_len } => (value, header_len),
            Parsed::NeedMore { at_least } => {
                self.input.need = at_least;
                return Ok(None);
            }
        };
        // Judged before any payload is buffered: a frame claiming 2^62 bytes is refused
        // on its header.
        self.accept_header(&header, max_payload)?;
        // `accept_header` bounded payload_len by max_payload, a usize: this cannot truncate.
        let total = header_len + header.payload_len as usize;
        if avail.len() < total {
            self.input.need = total;
            return Ok(None);
        }
        let mut payload = avail[header_len..total].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        self.input.pos += total;
        self.input.need = 0;
        self.input.early = None;
        let frame = Frame { header, payload };
        self.record(self.role.peer(), &frame.header, &frame.payload);
        if self.is_compressed(&frame.header) {
            return self.inflate_frame(frame);
        }
        if self.inflating.is_some() && !frame.header.opcode.is_control() {
            // An uncompressed text/binary frame inside a compressed message (§5.4).
            return Err(ProtocolError::ExpectedContinuation {
                opcode: frame.header.opcode,
            });
        }
        Ok(match self.assembler.push(frame)? {
            Incoming::Fragment => None,
            Incoming::Message(m) => Some(Event::Message(m)),
            Incoming::Ping(p) => Some(Event::Ping(p)),
            Incoming::Pong(p) => Some(Event::Pong(p)),
            Incoming::Close(c) => Some(Event::Close(c)),
        })
    }

    /// The header rules a receiver enforces (§5.2, §5.5), and the size we accept. With
    /// permessage-deflate, RSV1 is allowed on the first frame of a data message only
    /// (RFC 7692 §6.1).
    fn accept_header(&self, h: &FrameHeader, max_payload: usize) -> Result<(), ProtocolError> {
        if self.deflate.is_some() && h.rsv & RSV1 != 0 {
            if h.opcode.is_control() {
                return Err(ProtocolError::CompressedControlFrame { opcode: h.opcode });
            }
            if h.opcode == OpCode::Continuation {
                return Err(ProtocolError::CompressedContinuation);
            }
            let rest = FrameHeader {
                rsv: h.rsv & !RSV1,
                ..*h
            };
            return rest.check(self.role, max_payload);
        }
        h.check(self.role, max_payload)
    }

    /// Is this (checked) frame part of a compressed message: its first frame (RSV1) or a
    /// continuation of one?
    fn is_compressed(&self, h: &FrameHeader) -> bool {
        self.deflate.is_some()
            && (h.rsv & RSV1 != 0 || (h.opcode == OpCode::Continuation && self.inflating.is_some()))
    }

    /// One frame of a compressed message: inflate it onto what came before (RFC 7692
    /// §6.2), within the message limit, checking text as it grows; the last frame hands
    /// the message out.
    fn inflate_frame(&mut self, frame: Frame) -> Result<Option<Event>, ProtocolError> {
        let Frame { header, payload } = frame;
        if header.opcode != OpCode::Continuation {
            if self.assembler.in_message() || self.inflating.is_some() {
                return Err(ProtocolError::ExpectedContinuation {
                    opcode: header.opcode,
                });
            }
            let kind = match header.opcode {
                OpCode::Text => MessageKind::Text,
                _ => MessageKind::Binary,
            };
            self.inflating = Some(Inflating {
                kind,
                payload: Vec::new(),
                wire: 0,
                utf8: Utf8Validator::default(),
            });
        }
        let max = self.limits.max_message;
        let (Some(d), Some(m)) = (self.deflate.as_mut(), self.inflating.as_mut()) else {
            return Err(ProtocolError::UnexpectedContinuation); // is_compressed() said both
        };
        let before = m.payload.len();
        m.wire += payload.len();
        d.inflater
            .inflate(&payload, header.fin, max, &mut m.payload)
            .map_err(|e| match e {
                InflateError::TooBig { max } => ProtocolError::MessageTooBig {
                    len: m.payload.len() as u64,
                    max,
                },
                InflateError::Corrupt => ProtocolError::BadDeflateData,
            })?;
        if m.kind == MessageKind::Text {
            m.utf8.feed(&m.payload[before..])?;
            if header.fin {
                m.utf8.finish()?;
            }
        }
        if !header.fin {
            return Ok(None);
        }
        let Some(m) = self.inflating.take() else {
            return Ok(None);
        };
        let note = DeflateNote::Compressed {
            wire: m.wire,
            inflated: m.payload.len(),
        };
        if let Some(r) = &mut self.recording {
            if let Some(last) = r.frames.last_mut() {
                last.deflate = Some(note);
            }
        }
        Ok(Some(Event::Message(Message {
            kind: m.kind,
            payload: m.payload,
        })))
    }

    /// While a text frame's payload is still arriving, check the part that is here, so
    /// invalid UTF-8 fails the connection without waiting for the rest (§8.1 "as soon as").
    fn check_partial_text(&mut self) -> Result<(), ProtocolError> {
        let input = &mut self.input;
        let avail = &input.buf[input.pos..];
        let Ok(Parsed::Complete {
            value: h,
            header_len,
        }) = FrameHeader::parse(avail)
        else {
            return Ok(());
        };
        let is_text = h.opcode == OpCode::Text
            || (h.opcode == OpCode::Continuation && self.assembler.in_text_message());
        // Compressed text is checked once inflated, not here.
        if !is_text || self.is_compressed(&h) || self.accept_header(&h, usize::MAX).is_err() {
            return Ok(());
        }
        let input = &mut self.input;
        let have = (input.buf.len() - input.pos - header_len).min(h.payload_len as usize);
        let early = match &mut input.early {
            Some(e) if e.frame_at == input.pos => e,
            _ => input.early.insert(EarlyUtf8 {
                frame_at: input.pos,
                checked: 0,
                validator: self.assembler.utf8_state(),
            }),
        };
        if have <= early.checked {
            return Ok(());
        }
        let start = input.pos + header_len;
        let mut piece = input.buf[start + early.checked..start + have].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut piece, key, early.checked);
        }
        early.checked = have;
        early.validator.feed(&piece)
    }

    /// Queue what the protocol requires after `event` (§5.5.1, §5.5.2) and hand it out.
    fn react(&mut self, event: Event) -> Event {
        match &event {
            Event::Ping(p) if !self.close_sent() => {
                // §5.5.2: "a Pong frame sent in response to a Ping frame must have
                // identical Application data".
                let p = p.clone();
                self.queue_reply(OpCode::Pong, &p);
            }
            Event::Close(c) => {
                // §5.5.1: answer with a close frame, typically echoing the status code.
                let initiated_by = match self.close {
                    CloseState::Open => {
                        let reply = match c.code {
                            Some(code) => CloseFrame::new(code, ""),
                            None => CloseFrame {
                                code: None,
                                reason: String::new(),
                            },
                        };
                        self.queue_reply(OpCode::Close, &reply.payload());
                        Initiator::Peer
                    }
                    _ => Initiator::Us,
                };
                self.close = CloseState::Complete { initiated_by };
            }
            _ => {}
        }
        event
    }

    /// Fail the connection (§7.1.7): our close frame with the rule's code, then no more
    /// reading.
    fn fail(&mut self, e: ProtocolError) -> Event {
        if self.close == CloseState::Open {
            self.close = CloseState::SentOurs;
            self.queue_reply(
                OpCode::Close,
                &CloseFrame::new(e.close_code(), "").payload(),
            );
        }
        self.failed = Some(e.clone());
        Event::Violation(e)
    }

    /// Queue an automatic reply. It is never refused for backpressure (the input stops
    /// instead); a missing masking key is kept for [`take_reply_error`](Self::take_reply_error).
    fn queue_reply(&mut self, opcode: OpCode, payload: &[u8]) {
        if let Err(e) = self.queue_frame(true, opcode, payload) {
            self.reply_error = Some(e);
        }
    }

    /// An automatic reply (pong, close) that could not be queued since the last call.
    pub fn take_reply_error(&mut self) -> Option<SendError> {
        self.reply_error.take()
    }

    // --------------------------------------------------------------- sending --------

    /// The bytes waiting to be written to the peer.
    pub fn output(&self) -> &[u8] {
        &self.output.buf[self.output.pos..]
    }

    /// `n` bytes of [`output`](Self::output) were written.
    pub fn consume_output(&mut self, n: usize) {
        self.output.consume(n);
    }

    /// Is anything waiting to be written?
    pub fn has_output(&self) -> bool {
        self.output.pending() > 0
    }

    /// Send a whole message in one frame (compressed if permessage-deflate is on and the
    /// message reaches the threshold: [`Compress::Auto`]).
    pub fn send(&mut self, m: &Message) -> Result<(), SendError> {
        self.send_with(m, Compress::Auto)
    }

    /// Send a whole message in one frame, choosing whether to compress it.
    pub fn send_with(&mut self, m: &Message, compress: Compress) -> Result<(), SendError> {
        self.send_fragmented_with(m, usize::MAX, compress)
    }

    /// Does `compress` mean this message goes compressed? Notes why not, if the extension
    /// is on. `None` when it is off.
    fn compresses(&self, m: &Message, compress: Compress) -> Option<Result<(), Uncompressed>> {
        let d = self.deflate.as_deref()?;
        Some(match compress {
            Compress::Always => Ok(()),
            Compress::Never => Err(Uncompressed::Asked),
            Compress::Auto if m.payload.len() >= d.threshold => Ok(()),
            Compress::Auto => Err(Uncompressed::BelowThreshold {
                threshold: d.threshold,
            }),
        })
    }

    /// Send a message whose payload the caller writes itself, to save a copy of a large
    /// payload: when this role does not mask (a server, §5.1), only the frame header is
    /// queued and the returned slice (the payload) must be written right after
    /// [`output`](Self::output), before anything else is queued. A client's payload is
    /// masked, so it is queued whole and the returned slice is empty.
    pub fn send_header_first<'m>(&mut self, m: &'m Message) -> Result<&'m [u8], SendError> {
        // A compressed payload is not the message's: it is queued whole too.
        if self.role.masks() || matches!(self.compresses(m, Compress::Auto), Some(Ok(()))) {
            self.send(m)?;
            return Ok(&[]);
        }
        self.may_send(m.kind.opcode())?;
        let header = FrameHeader::new(true, m.kind.opcode(), None, m.payload.len() as u64);
        let mark = self.recorded();
        self.record(self.role, &header, &m.payload);
        if let Some(Err(why)) = self.compresses(m, Compress::Auto) {
            self.annotate(mark, DeflateNote::Uncompressed(why));
        }
        header.emit(&mut self.output.buf);
        Ok(&m.payload)
    }

    /// Send a message split into frames of at most `chunk` bytes (§5.4).
    pub fn send_fragmented(&mut self, m: &Message, chunk: usize) -> Result<(), SendError> {
        self.send_fragmented_with(m, chunk, Compress::Auto)
    }

    /// Send a message in frames of at most `chunk` bytes, choosing whether to compress
    /// it. A compressed message is compressed whole, then cut: RSV1 on its first frame
    /// only (RFC 7692 §6.1).
    pub fn send_fragmented_with(
        &mut self,
        m: &Message,
        chunk: usize,
        compress: Compress,
    ) -> Result<(), SendError> {
        self.may_send(m.kind.opcode())?;
        let mark = self.recorded();
        match self.compresses(m, compress) {
            Some(Ok(())) => {
                let mut out = std::mem::take(&mut self.scratch);
                out.clear();
                if let Some(d) = self.deflate.as_deref_mut() {
                    d.deflater.compress(&m.payload, &mut out);
                }
                let sent = self.queue_chunks(m.kind.opcode(), &out, chunk, RSV1);
                let note = DeflateNote::Compressed {
                    wire: out.len(),
                    inflated: m.payload.len(),
                };
                // Keep the buffer for the next message, unless it grew large.
                if out.capacity() <= 256 * 1024 {
                    self.scratch = out;
                }
                sent?;
                self.annotate(mark, note);
            }
            other => {
                self.queue_chunks(m.kind.opcode(), &m.payload, chunk, 0)?;
                if let Some(Err(why)) = other {
                    self.annotate(mark, DeflateNote::Uncompressed(why));
                }
            }
        }
        Ok(())
    }

    /// Queue `payload` in frames of at most `chunk` bytes; `rsv` on the first.
    fn queue_chunks(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        chunk: usize,
        rsv: u8,
    ) -> Result<(), SendError> {
        if payload.len() <= chunk {
            return self.queue_frame_rsv(true, rsv, opcode, payload);
        }
        let chunks: Vec<&[u8]> = payload.chunks(chunk.max(1)).collect();
        let last = chunks.len() - 1;
        for (i, c) in chunks.iter().enumerate() {
            let (op, bits) = if i == 0 {
                (opcode, rsv)
            } else {
                (OpCode::Continuation, 0)
            };
            self.queue_frame_rsv(i == last, bits, op, c)?;
        }
        Ok(())
    }

    /// Send a ping; a payload longer than 125 bytes is cut (§5.5).
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.may_send(OpCode::Ping)?;
        self.queue_frame(true, OpCode::Ping, &payload[..payload.len().min(125)])
    }

    /// Send our close frame and start the closing handshake (§7.1.2). Only the first
    /// close is sent; later calls do nothing.
    pub fn close(&mut self, frame: &CloseFrame) -> Result<(), SendError> {
        if self.close_sent() {
            return Ok(());
        }
        self.may_send(OpCode::Close)?;
        self.close = CloseState::SentOurs;
        self.queue_frame(true, OpCode::Close, &frame.payload())
    }

    /// The rules for anything the application sends: backpressure, and no data frame after
    /// our close frame (§5.5.1).
    fn may_send(&self, opcode: OpCode) -> Result<(), SendError> {
        let buffered = self.output.pending();
        if buffered >= self.limits.max_output {
            return Err(SendError::Backpressure { buffered });
        }
        if !opcode.is_control() && self.close_sent() {
            return Err(SendError::AfterClose);
        }
        Ok(())
    }

    /// Append one frame to the output, masked with a fresh key if this role masks
    /// (§5.3).
    fn queue_frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.queue_frame_rsv(fin, 0, opcode, payload)
    }

    /// [`queue_frame`](Self::queue_frame) with RSV bits (RSV1 marks a compressed message).
    fn queue_frame_rsv(
        &mut self,
        fin: bool,
        rsv: u8,
        opcode: OpCode,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let mask = if self.role.masks() {
            Some(self.keys.next_key().map_err(SendError::NoMaskKey)?)
        } else {
            None
        };
        if self.recording.is_some() {
            let mut header = FrameHeader::new(fin, opcode, mask, payload.len() as u64);
            header.rsv = rsv;
            self.record(self.role, &header, payload);
        }
        let at = self.output.buf.len();
        Frame::encode(fin, opcode, payload, mask, &mut self.output.buf);
        // The RSV bits are bits 6..4 of the first byte (§5.2).
        self.output.buf[at] |= rsv << 4;
        Ok(())
    }

    fn record(&mut self, from: Role, header: &FrameHeader, payload: &[u8]) {
        if let Some(r) = &mut self.recording {
            r.frames.push(FrameSeen {
                from,
                header: *header,
                preview: payload[..payload.len().min(r.preview)].to_vec(),
                deflate: None,
            });
        }
    }

    /// How many frames are recorded so far (where the next one will be).
    fn recorded(&self) -> usize {
        self.recording.as_ref().map_or(0, |r| r.frames.len())
    }

    /// Attach what permessage-deflate did to the recorded frame at `at`.
    fn annotate(&mut self, at: usize, note: DeflateNote) {
        if let Some(f) = self.recording.as_mut().and_then(|r| r.frames.get_mut(at)) {
            f.deflate = Some(note);
        }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("limits", &self.limits)
            .field("close", &self.close)
            .field("failed", &self.failed)
            .field("deflate", &self.deflate())
            .field("buffered_in", &(self.input.buf.len() - self.input.pos))
            .field("buffered_out", &self.output.pending())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CloseCode, MessageKind};
    use super::*;

    /// RFC 6455 §5.7's masking key, so the client's bytes are the RFC's examples.
    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn client() -> Connection {
        Connection::new(Role::Client, Limits::default(), Box::new(|| KEY))
    }

    fn server() -> Connection {
        server_with(Limits::default())
    }

    fn server_with(limits: Limits) -> Connection {
        Connection::new(
            Role::Server,
            limits,
            Box::new(|| -> [u8; 4] { unreachable!() }),
        )
    }

    /// Move everything `from` has to send into `to`, as a socket pair would.
    fn pump(from: &mut Connection, to: &mut Connection) {
        let bytes = from.output().to_vec();
        from.consume_output(bytes.len());
        to.receive(&bytes);
    }

    /// The events `c` has now, up to and including a terminal one (which would repeat).
    fn events(c: &mut Connection) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(e) = c.next_event() {
            let terminal = matches!(e, Event::Violation(_) | Event::Eof);
            out.push(e);
            if terminal {
                break;
            }
        }
        out
    }

    /// The frames waiting in `c`'s output, as the peer would read them.
    fn frames_out(c: &Connection) -> Vec<Frame> {
        let mut at = c.output();
        let mut frames = Vec::new();
        while !at.is_empty() {
            match Frame::parse(at, c.role().peer(), usize::MAX).unwrap() {
                Parsed::Complete { value, header_len } => {
                    frames.push(value);
                    at = &at[header_len..];
                }
                Parsed::NeedMore { .. } => panic!("a partial frame in the output"),
            }
        }
        frames
    }

    fn close_code_out(c: &Connection) -> Option<u16> {
        let frames = frames_out(c);
        let [f] = frames.as_slice() else {
            panic!("expected one close frame, got {frames:?}")
        };
        assert_eq!(f.header.opcode, OpCode::Close);
        CloseFrame::parse(&f.payload).unwrap().code.map(|c| c.0)
    }

    #[test]
    fn a_waiting_connection_sheds_its_buffers_and_reads_on() {
        let (mut c, mut s) = (client(), server());
        c.send(&Message::text("Hello")).unwrap();
        pump(&mut c, &mut s);
        assert!(!s.input_is_empty());
        s.send(&Message::text("queued")).unwrap();
        assert_eq!(events(&mut s).len(), 1);
        assert!(s.input_is_empty());
        // The reply is still to be written: the output buffer is kept.
        s.shed_buffers();
        assert_eq!(s.input.buf.capacity(), 0);
        assert!(s.has_output());
        pump(&mut s, &mut c);
        s.shed_buffers();
        assert_eq!(s.output.buf.capacity(), 0);
        // Half a frame received: nothing is shed, and the rest completes it.
        c.send(&Message::text("Hello")).unwrap();
        let bytes = c.output().to_vec();
        c.consume_output(bytes.len());
        s.receive(&bytes[..4]);
        assert!(events(&mut s).is_empty());
        s.shed_buffers();
        s.receive(&bytes[4..]);
        let got = events(&mut s);
        assert!(
            matches!(&got[..], [Event::Message(m)] if m.payload == b"Hello"),
            "{got:?}"
        );
    }

    #[test]
    fn echo_with_the_rfc_bytes() {
        let (mut c, mut s) = (client(), server());
        c.send(&Message::text("Hello")).unwrap();
        // §5.7: "A single-frame masked text message".
        assert_eq!(
            c.output(),
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        pump(&mut c, &mut s);
        let got = events(&mut s);
        assert_eq!(got, [Event::Message(Message::text("Hello"))]);
        let Event::Message(m) = &got[0] else {
            unreachable!()
        };
        s.send(m).unwrap();
        // §5.7: "A single-frame unmasked text message".
        assert_eq!(s.output(), [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        pump(&mut s, &mut c);
        assert_eq!(events(&mut c), [Event::Message(Message::text("Hello"))]);
        assert!(!c.has_output() && !s.has_output());
    }

    #[test]
    fn a_large_server_payload_is_left_to_the_caller() {
        let (mut c, mut s) = (client(), server());
        let m = Message::binary(vec![7u8; 70_000]);
        let tail = s.send_header_first(&m).unwrap();
        assert_eq!(s.output(), [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
        assert_eq!(tail.len(), 70_000);
        c.receive(s.output());
        c.receive(tail);
        assert_eq!(events(&mut c), [Event::Message(m.clone())]);
        // A client masks, so its payload is copied into the output whole.
        assert!(c.send_header_first(&m).unwrap().is_empty());
        pump(&mut c, &mut s);
        assert_eq!(events(&mut s), [Event::Message(m)]);
    }

    #[test]
    fn fragmented_with_a_ping_in_between() {
        let (mut c, mut s) = (client(), server());
        let m = Message::text("one message, three frames");
        c.send_fragmented(&m, 9).unwrap();
        let frames = frames_out(&c);
        let shape: Vec<(bool, OpCode)> = frames
            .iter()
            .map(|f| (f.header.fin, f.header.opcode))
            .collect();
        assert_eq!(
            shape,
            [
                (false, OpCode::Text),
                (false, OpCode::Continuation),
                (true, OpCode::Continuation)
            ]
        );
        // The first two frames, a ping, then the last frame (§5.4: control frames may
        // come between fragments).
        let out = c.output().to_vec();
        c.consume_output(out.len());
        let last_at = out.len() - (6 + 7);
        s.receive(&out[..last_at]);
        assert_eq!(events(&mut s), []);
        c.ping(b"?").unwrap();
        pump(&mut c, &mut s);
        s.receive(&out[last_at..]);
        assert_eq!(
            events(&mut s),
            [Event::Ping(b"?".to_vec()), Event::Message(m)]
        );
        // An empty message is one frame even when fragmenting.
        c.send_fragmented(&Message::binary(vec![]), 4).unwrap();
        assert_eq!(frames_out(&c).len(), 1);
    }

    #[test]
    fn every_split_of_the_bytes_gives_the_same_events() {
        let mut c = client();
        c.send_fragmented(&Message::text("κόσμε, κόσμε"), 5)
            .unwrap();
        c.ping(b"ping").unwrap();
        c.send(&Message::binary(vec![1, 2, 3])).unwrap();
        let bytes = c.output().to_vec();
        let want = [
            Event::Message(Message::text("κόσμε, κόσμε")),
            Event::Ping(b"ping".to_vec()),
            Event::Message(Message::binary(vec![1, 2, 3])),
        ];
        for cut in 0..=bytes.len() {
            let mut s = server();
            let mut got = Vec::new();
            s.read_buffer().extend_from_slice(&bytes[..cut]);
            got.extend(events(&mut s));
            s.read_buffer().extend_from_slice(&bytes[cut..]);
            got.extend(events(&mut s));
            assert_eq!(got, want, "cut at {cut}");
        }
        // And one byte at a time.
        let mut s = server();
        let mut got = Vec::new();
        for b in &bytes {
            s.receive(std::slice::from_ref(b));
            got.extend(events(&mut s));
        }
        assert_eq!(got, want);
    }

    #[test]
    fn a_ping_is_answered_with_the_same_payload() {
        let (mut c, mut s) = (client(), server());
        c.ping(b"Hello").unwrap();
        pump(&mut c, &mut s);
        assert_eq!(events(&mut s), [Event::Ping(b"Hello".to_vec())]);
        // §5.7: "Unmasked Ping request and masked Ping response" (here the other way round).
        assert_eq!(s.output(), [0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        pump(&mut s, &mut c);
        assert_eq!(events(&mut c), [Event::Pong(b"Hello".to_vec())]);
        // A pong needs no answer; a ping payload over 125 bytes is cut.
        assert!(!c.has_output());
        c.ping(&[b'x'; 200]).unwrap();
        assert_eq!(frames_out(&c)[0].payload.len(), 125);
    }

    #[test]
    fn close_started_by_the_client() {
        let (mut c, mut s) = (client(), server());
        c.close(&CloseFrame::new(CloseCode::NORMAL, "bye")).unwrap();
        assert_eq!(c.close_state(), CloseState::SentOurs);
        c.close(&CloseFrame::new(CloseCode::GOING_AWAY, "again"))
            .unwrap();
        assert_eq!(frames_out(&c).len(), 1, "only one close frame is sent");
        pump(&mut c, &mut s);
        assert_eq!(
            events(&mut s),
            [Event::Close(CloseFrame::new(CloseCode::NORMAL, "bye"))]
        );
        assert_eq!(close_code_out(&s), Some(1000), "the code is echoed");
        assert_eq!(
            s.close_state(),
            CloseState::Complete {
                initiated_by: Initiator::Peer
            }
        );
        pump(&mut s, &mut c);
        assert_eq!(
            events(&mut c),
            [Event::Close(CloseFrame::new(CloseCode::NORMAL, ""))]
        );
        assert_eq!(
            c.close_state(),
            CloseState::Complete {
                initiated_by: Initiator::Us
            }
        );
        assert!(!c.has_output(), "a reply is not answered");
        // §7.1.1: the server ends the TCP connection first.
        assert!(s.closes_tcp_first() && !c.closes_tcp_first());
        s.receive_eof();
        c.receive_eof();
        assert_eq!(events(&mut c), [Event::Eof]);
        assert_eq!(c.next_event(), Some(Event::Eof), "EOF repeats");
    }

    #[test]
    fn close_started_by_the_server_with_data_still_in_flight() {
        let (mut c, mut s) = (client(), server());
        c.send(&Message::text("in flight")).unwrap();
        s.close(&CloseFrame::new(CloseCode::GOING_AWAY, "shutting down"))
            .unwrap();
        assert_eq!(
            s.send(&Message::text("no")),
            Err(SendError::AfterClose),
            "§5.5.1: no data after our close"
        );
        pump(&mut c, &mut s);
        pump(&mut s, &mut c);
        // Data the peer sent before it saw our close still arrives (§5.5.1).
        assert_eq!(events(&mut s), [Event::Message(Message::text("in flight"))]);
        assert_eq!(
            events(&mut c),
            [Event::Close(CloseFrame::new(
                CloseCode::GOING_AWAY,
                "shutting down"
            ))]
        );
        assert_eq!(close_code_out(&c), Some(1001));
        pump(&mut c, &mut s);
        assert_eq!(
            events(&mut s),
            [Event::Close(CloseFrame::new(CloseCode::GOING_AWAY, ""))]
        );
        assert_eq!(
            s.close_state(),
            CloseState::Complete {
                initiated_by: Initiator::Us
            }
        );
        assert_eq!(
            c.close_state(),
            CloseState::Complete {
                initiated_by: Initiator::Peer
            }
        );
    }

    #[test]
    fn both_close_at_once() {
        let (mut c, mut s) = (client(), server());
        c.close(&CloseFrame::new(CloseCode(4000), "c")).unwrap();
        s.close(&CloseFrame::new(CloseCode(4001), "s")).unwrap();
        pump(&mut c, &mut s);
        pump(&mut s, &mut c);
        assert_eq!(
            events(&mut s),
            [Event::Close(CloseFrame::new(CloseCode(4000), "c"))]
        );
        assert_eq!(
            events(&mut c),
            [Event::Close(CloseFrame::new(CloseCode(4001), "s"))]
        );
        for side in [&c, &s] {
            assert!(!side.has_output(), "neither answers: both sent one already");
            assert_eq!(
                side.close_state(),
                CloseState::Complete {
                    initiated_by: Initiator::Us
                }
            );
        }
    }

    #[test]
    fn a_close_without_a_code_is_answered_without_one() {
        let (mut c, mut s) = (client(), server());
        c.close(&CloseFrame {
            code: None,
            reason: String::new(),
        })
        .unwrap();
        pump(&mut c, &mut s);
        events(&mut s);
        assert_eq!(close_code_out(&s), None);
        assert_eq!(frames_out(&s)[0].payload, b"");
    }

    #[test]
    fn after_a_violation_nothing_more_is_read() {
        let (mut c, mut s) = (client(), server());
        // §5.1: a client's frames must be masked. "Hello" unmasked, then a valid ping.
        s.receive(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        c.ping(b"later").unwrap();
        pump(&mut c, &mut s);
        let e = ProtocolError::UnmaskedFrameFromClient;
        assert_eq!(events(&mut s), [Event::Violation(e.clone())]);
        assert_eq!(close_code_out(&s), Some(1002));
        assert_eq!(s.failure(), Some(&e));
        assert_eq!(s.close_state(), CloseState::SentOurs);
        // The violation repeats; the ping behind it is never read, the close not resent.
        pump(&mut s, &mut c);
        assert_eq!(s.next_event(), Some(Event::Violation(e)));
        assert!(!s.has_output());
        // The client answers the 1002; the failed server reads no more, not even that.
        assert_eq!(
            events(&mut c),
            [Event::Close(CloseFrame::new(CloseCode::PROTOCOL_ERROR, ""))]
        );
        assert_eq!(close_code_out(&c), Some(1002));
        pump(&mut c, &mut s);
        assert_eq!(s.close_state(), CloseState::SentOurs);
    }

    #[test]
    fn a_violation_after_our_close_sends_no_second_close() {
        let (mut c, mut s) = (client(), server());
        s.close(&CloseFrame::new(CloseCode::NORMAL, "")).unwrap();
        s.consume_output(s.output().len());
        c.receive(&[0x8a, 0x80, 0, 0, 0, 0]); // a masked pong: a server never masks
        assert_eq!(
            events(&mut c),
            [Event::Violation(ProtocolError::MaskedFrameFromServer)]
        );
        assert_eq!(close_code_out(&c), Some(1002));
        c.consume_output(c.output().len());
        s.receive(&[0x88, 0x80, 0, 0, 0, 0]); // masked empty close
        assert_eq!(events(&mut s).len(), 1);
        assert!(!s.has_output(), "our close went out already");
    }

    #[test]
    fn the_tcp_connection_ends_without_a_close_frame() {
        let (mut c, mut s) = (client(), server());
        c.send(&Message::text("last words")).unwrap();
        pump(&mut c, &mut s);
        // Half a frame, then the end of the stream: the bytes are simply lost.
        s.receive(&[0x81, 0x85]);
        s.receive_eof();
        assert_eq!(
            events(&mut s),
            [Event::Message(Message::text("last words")), Event::Eof]
        );
        assert_eq!(s.next_event(), Some(Event::Eof));
        assert_eq!(s.close_state(), CloseState::Open, "1006: no close frame");
        assert!(!s.has_output());
    }

    #[test]
    fn a_peer_that_stops_reading_meets_a_bounded_output() {
        let limits = Limits {
            max_message: 1 << 20,
            max_output: 64,
        };
        let (mut c, mut s) = (client(), server_with(limits));
        for _ in 0..100 {
            c.ping(b"0123456789").unwrap(); // 16 bytes on the wire, 12-byte pong
        }
        pump(&mut c, &mut s);
        // The server answers pings until its output reaches the mark, then reads no more.
        let first = events(&mut s);
        assert_eq!(first.len(), 6);
        assert_eq!(s.output().len(), 6 * 12);
        assert_eq!(s.next_event(), None, "the input waits for the output");
        assert_eq!(
            s.send(&Message::text("x")),
            Err(SendError::Backpressure { buffered: 72 })
        );
        // Written out (even in part, below the mark), reading goes on.
        s.consume_output(20);
        assert_eq!(s.next_event(), Some(Event::Ping(b"0123456789".to_vec())));
        let mut total = first.len() + 1;
        while total < 100 {
            let n = events(&mut s).len();
            total += n;
            let out = s.output().len();
            s.consume_output(out);
        }
        assert_eq!(total, 100);
        assert!(s.send(&Message::text("x")).is_ok());
    }

    #[test]
    fn invalid_utf8_fails_before_the_frame_is_complete() {
        let (mut c, mut s) = (client(), server());
        let mut text = "valid so far ".as_bytes().to_vec();
        text.extend_from_slice(&[0xf4, 0x90]); // above U+10FFFF: never valid
        text.extend_from_slice(&[b'x'; 1000]);
        c.send(&Message {
            kind: MessageKind::Text,
            payload: text,
        })
        .unwrap();
        let bytes = c.output().to_vec();
        // Header (8 bytes) and the first 14 payload bytes: not invalid yet.
        s.receive(&bytes[..8 + 14]);
        assert_eq!(events(&mut s), []);
        // One more byte makes it certain, 985 bytes before the frame ends (§8.1).
        s.receive(&bytes[8 + 14..8 + 15]);
        assert_eq!(
            events(&mut s),
            [Event::Violation(ProtocolError::InvalidUtf8)]
        );
        assert_eq!(close_code_out(&s), Some(1007));
    }

    #[test]
    fn invalid_utf8_in_a_continuation_fails_early_too() {
        let (mut c, mut s) = (client(), server());
        let mut text = "κόσμε".as_bytes().to_vec();
        text.push(0xce); // the start of a character the next fragment must finish
        text.push(b'!'); // ... but does not
        text.extend_from_slice(&[b'x'; 500]);
        c.send_fragmented(
            &Message {
                kind: MessageKind::Text,
                payload: text,
            },
            11,
        )
        .unwrap();
        let bytes = c.output().to_vec();
        // The first fragment (6 + 11 bytes) holds "κόσμε" and the 0xce; the second frame's
        // header and first payload byte show the break.
        s.receive(&bytes[..17 + 6]);
        assert_eq!(events(&mut s), []);
        s.receive(&bytes[17 + 6..17 + 7]);
        assert_eq!(
            events(&mut s),
            [Event::Violation(ProtocolError::InvalidUtf8)]
        );
    }

    #[test]
    fn a_message_over_the_limit_fails_with_1009() {
        let limits = Limits {
            max_message: 10,
            max_output: 1 << 20,
        };
        // One frame claiming too much: refused on its header alone.
        let (mut c, mut s) = (client(), server_with(limits));
        c.send(&Message::binary(vec![0u8; 11])).unwrap();
        let bytes = c.output().to_vec();
        s.receive(&bytes[..6]);
        assert_eq!(
            events(&mut s),
            [Event::Violation(ProtocolError::MessageTooBig {
                len: 11,
                max: 10
            })]
        );
        assert_eq!(close_code_out(&s), Some(1009));
        // Fragments that add up to too much: the second (6 bytes) claims more than the 4
        // left, and is refused on its header too.
        let (mut c, mut s) = (client(), server_with(limits));
        c.send_fragmented(&Message::binary(vec![0u8; 12]), 6)
            .unwrap();
        pump(&mut c, &mut s);
        assert_eq!(
            events(&mut s),
            [Event::Violation(ProtocolError::MessageTooBig {
                len: 6,
                max: 4
            })]
        );
        assert_eq!(close_code_out(&s), Some(1009));
    }

    #[test]
    fn control_frame_rules_fail_with_1002() {
        let masked = |b0: u8, b1: u8, payload: &[u8]| {
            let mut f = vec![b0, 0x80 | b1, 0, 0, 0, 0];
            f.extend_from_slice(payload);
            f
        };
        let cases = [
            // §5.5: at most 125 bytes.
            (
                {
                    let mut f = vec![0x89, 0xfe, 0x00, 0x7e, 0, 0, 0, 0];
                    f.extend_from_slice(&[0u8; 126]);
                    f
                },
                ProtocolError::ControlFrameTooLong {
                    opcode: OpCode::Ping,
                    len: 126,
                },
            ),
            // §5.5: not fragmented.
            (
                masked(0x09, 1, b"x"),
                ProtocolError::FragmentedControlFrame {
                    opcode: OpCode::Ping,
                },
            ),
            // §5.5.1: a 1-byte close payload.
            (masked(0x88, 1, b"x"), ProtocolError::CloseTooShort),
            // §7.4: 1005 may not be sent.
            (
                masked(0x88, 2, &[0x03, 0xed]),
                ProtocolError::BadCloseCode { code: 1005 },
            ),
            // §5.2: reserved opcode and RSV bits without an extension.
            (
                masked(0x8b, 0, b""),
                ProtocolError::ReservedOpcode { opcode: 0xb },
            ),
            (
                masked(0xc1, 0, b""),
                ProtocolError::ReservedBitsSet { bits: 0b100 },
            ),
        ];
        for (bytes, want) in cases {
            let mut s = server();
            s.receive(&bytes);
            assert_eq!(events(&mut s), [Event::Violation(want.clone())], "{want}");
            assert_eq!(close_code_out(&s), Some(1002), "{want}");
        }
    }

    #[test]
    fn after_our_close_pings_get_no_pong() {
        let (mut c, mut s) = (client(), server());
        s.close(&CloseFrame::new(CloseCode::NORMAL, "")).unwrap();
        s.consume_output(s.output().len());
        c.ping(b"?").unwrap();
        pump(&mut c, &mut s);
        assert_eq!(events(&mut s), [Event::Ping(b"?".to_vec())]);
        assert!(!s.has_output());
        // Pings are control frames: still allowed to send after our close.
        assert!(s.ping(b"!").is_ok());
    }

    #[test]
    fn a_missing_mask_key_is_reported() {
        let keys = || -> Result<[u8; 4], KeyUnavailable> { Err(KeyUnavailable("no".into())) };
        struct Failing<F>(F);
        impl<F: FnMut() -> Result<[u8; 4], KeyUnavailable> + Send> MaskKeys for Failing<F> {
            fn next_key(&mut self) -> Result<[u8; 4], KeyUnavailable> {
                (self.0)()
            }
        }
        let mut c = Connection::new(Role::Client, Limits::default(), Box::new(Failing(keys)));
        let err = c.send(&Message::text("x")).unwrap_err();
        assert_eq!(err.to_string(), "randomness unavailable: no");
        // An automatic reply that fails is kept for the caller.
        c.receive(&[0x89, 0x00]);
        assert_eq!(events(&mut c), [Event::Ping(vec![])]);
        assert!(matches!(
            c.take_reply_error(),
            Some(SendError::NoMaskKey(_))
        ));
    }

    #[test]
    fn recording_keeps_headers_and_previews() {
        let (mut c, mut s) = (client(), server());
        c.record_frames(4);
        s.record_frames(4);
        c.send(&Message::text("Hello")).unwrap();
        pump(&mut c, &mut s);
        events(&mut s);
        let sent = c.take_frames();
        let got = s.take_frames();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent, got, "both ends saw the same frame");
        assert_eq!(sent[0].from, Role::Client);
        assert_eq!(sent[0].header.mask, Some(KEY));
        assert_eq!(sent[0].preview, b"Hell");
        assert!(c.take_frames().is_empty());
    }

    // ------------------------------------------------ permessage-deflate (RFC 7692) ----

    /// The headers waiting in `c`'s output (RSV bits allowed, unlike [`frames_out`]).
    fn headers_out(c: &Connection) -> Vec<FrameHeader> {
        let mut at = c.output();
        let mut headers = Vec::new();
        while let Ok(Parsed::Complete { value, header_len }) = FrameHeader::parse(at) {
            headers.push(value);
            at = &at[header_len + value.payload_len as usize..];
        }
        headers
    }

    fn deflate_pair(agreement: Agreement) -> (Connection, Connection) {
        (
            client().with_deflate(agreement, 1024),
            server().with_deflate(agreement, 1024),
        )
    }

    #[test]
    fn rfc7692_7_2_3_1_a_compressed_hello_on_the_wire() {
        let (_, mut s) = deflate_pair(Agreement::default());
        s.send_with(&Message::text("Hello"), Compress::Always)
            .unwrap();
        // §7.2.3.1: RSV1 set (0xc1), and the payload without its 00 00 ff ff tail.
        assert_eq!(
            s.output(),
            [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
        // And the same bytes from the peer, masked, come out as "Hello".
        let mut c = client().with_deflate(Agreement::default(), 1024);
        c.receive(&[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        assert_eq!(events(&mut c), [Event::Message(Message::text("Hello"))]);
        // §7.2.3.2: the second Hello with context takeover is a back-reference.
        c.receive(&[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
        assert_eq!(events(&mut c), [Event::Message(Message::text("Hello"))]);
    }

    #[test]
    fn compressed_messages_both_ways_with_and_without_context_takeover() {
        let big = "a compressible sentence, again and again. ".repeat(100);
        for agreement in [
            Agreement::default(),
            Agreement {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: 9,
                client_max_window_bits: 8,
            },
        ] {
            let (mut c, mut s) = deflate_pair(agreement);
            for _ in 0..3 {
                c.send(&Message::text(big.clone())).unwrap();
                assert_eq!(c.output()[0], 0xc1, "RSV1 on the client's frame");
                pump(&mut c, &mut s);
                assert_eq!(events(&mut s), [Event::Message(Message::text(big.clone()))]);
                s.send(&Message::binary(big.clone().into_bytes())).unwrap();
                // Smaller either way; much smaller with the full window (a 2^9 window
                // is served with run-length matches only: see `deflate`).
                let shrunk = if agreement.server_max_window_bits == 15 {
                    4
                } else {
                    1
                };
                assert!(s.output().len() < big.len() / shrunk);
                pump(&mut s, &mut c);
                assert_eq!(
                    events(&mut c),
                    [Event::Message(Message::binary(big.clone().into_bytes()))]
                );
            }
        }
    }

    #[test]
    fn a_compressed_message_in_fragments_has_rsv1_on_the_first_only() {
        let (mut c, mut s) = deflate_pair(Agreement::default());
        let text = "κόσμε ".repeat(500);
        c.send_fragmented_with(&Message::text(text.clone()), 10, Compress::Always)
            .unwrap();
        let frames = headers_out(&c);
        assert!(frames.len() > 2);
        assert_eq!(frames[0].rsv, RSV1);
        assert!(frames[1..].iter().all(|f| f.rsv == 0));
        pump(&mut c, &mut s);
        assert_eq!(events(&mut s), [Event::Message(Message::text(text))]);
    }

    #[test]
    fn small_messages_and_compress_never_go_uncompressed_and_say_why() {
        let (mut c, mut s) = deflate_pair(Agreement::default());
        c.record_frames(4);
        c.send(&Message::text("small")).unwrap();
        c.send_with(&Message::text("x".repeat(5000)), Compress::Never)
            .unwrap();
        c.send(&Message::text("y".repeat(5000))).unwrap();
        assert_eq!(
            headers_out(&c).iter().map(|f| f.rsv).collect::<Vec<_>>(),
            [0, 0, RSV1]
        );
        let seen = c.take_frames();
        assert_eq!(
            seen[0].deflate,
            Some(DeflateNote::Uncompressed(Uncompressed::BelowThreshold {
                threshold: 1024
            }))
        );
        assert_eq!(
            seen[1].deflate,
            Some(DeflateNote::Uncompressed(Uncompressed::Asked))
        );
        assert!(matches!(
            seen[2].deflate,
            Some(DeflateNote::Compressed { inflated: 5000, wire }) if wire < 100
        ));
        s.record_frames(4);
        pump(&mut c, &mut s);
        assert_eq!(events(&mut s).len(), 3);
        let got = s.take_frames();
        assert_eq!(got[0].deflate, None, "the receiver cannot know why");
        assert!(matches!(
            got[2].deflate,
            Some(DeflateNote::Compressed { inflated: 5000, .. })
        ));
    }

    #[test]
    fn rsv1_on_a_control_frame_or_a_continuation_fails_with_1002() {
        let masked = |b0: u8, payload: &[u8]| {
            let mut f = vec![b0, 0x80 | payload.len() as u8, 0, 0, 0, 0];
            f.extend_from_slice(payload);
            f
        };
        let cases = [
            (
                masked(0xc9, b""),
                ProtocolError::CompressedControlFrame {
                    opcode: OpCode::Ping,
                },
            ),
            (
                [masked(0x41, &[0xf2, 0x48]), masked(0xc0, &[0xcd])].concat(),
                ProtocolError::CompressedContinuation,
            ),
            // RSV2 stays reserved.
            (
                masked(0xa1, b""),
                ProtocolError::ReservedBitsSet { bits: 0b010 },
            ),
            // An uncompressed frame inside a compressed message.
            (
                [masked(0x41, &[0xf2, 0x48]), masked(0x81, b"x")].concat(),
                ProtocolError::ExpectedContinuation {
                    opcode: OpCode::Text,
                },
            ),
        ];
        for (bytes, want) in cases {
            let mut s = server().with_deflate(Agreement::default(), 1024);
            s.receive(&bytes);
            assert_eq!(events(&mut s), [Event::Violation(want.clone())], "{want}");
            assert_eq!(close_code_out(&s), Some(1002), "{want}");
        }
        // Not DEFLATE at all: 1007.
        let mut s = server().with_deflate(Agreement::default(), 1024);
        s.receive(&masked(0xc2, &[0xff, 0xff, 0xff]));
        assert_eq!(
            events(&mut s),
            [Event::Violation(ProtocolError::BadDeflateData)]
        );
        assert_eq!(close_code_out(&s), Some(1007));
    }

    #[test]
    fn a_tiny_frame_that_inflates_past_the_limit_fails_with_1009() {
        let limits = Limits {
            max_message: 100_000,
            max_output: 1 << 20,
        };
        let mut c = client().with_deflate(Agreement::default(), 0);
        c.send(&Message::binary(vec![0u8; 5_000_000])).unwrap();
        let bytes = c.output().to_vec();
        assert!(
            bytes.len() < 10_000,
            "5 MB of zeros in {} bytes",
            bytes.len()
        );
        let mut s = server_with(limits).with_deflate(Agreement::default(), 0);
        s.receive(&bytes);
        let got = events(&mut s);
        assert!(
            matches!(got[..], [Event::Violation(ProtocolError::MessageTooBig { max: 100_000, len })] if len < 200_000),
            "{got:?}"
        );
        assert_eq!(close_code_out(&s), Some(1009));
    }

    #[test]
    fn invalid_utf8_inside_compressed_text_fails_with_1007() {
        let (mut c, mut s) = deflate_pair(Agreement::default());
        c.send_with(
            &Message {
                kind: MessageKind::Text,
                payload: vec![b'a', 0xff, b'b'],
            },
            Compress::Always,
        )
        .unwrap();
        pump(&mut c, &mut s);
        assert_eq!(
            events(&mut s),
            [Event::Violation(ProtocolError::InvalidUtf8)]
        );
    }
}
