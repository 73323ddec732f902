//! A WebSocket connection on a byte stream: `wire::application::websocket::Connection` (where every
//! protocol decision is made) plus a socket, a clock, randomness and timeouts. Like
//! mini-redis's `Connection`, it turns a byte stream into messages and back; unlike it,
//! it decides nothing about the protocol: it reads into the connection, writes out what
//! the connection queued, and bounds every wait.
//!
//! - [`handshake`]: [`accept`] runs the server's side of the opening handshake,
//!   [`connect`] the client's (and their stream-generic forms), all failing with one
//!   [`HandshakeError`].
//! - [`WsConnection::recv`] waits for the next message, control frame, violation or end
//!   of stream. It is cancel-safe (the bytes it reads are kept in the connection, and a
//!   write it makes is accounted for as it completes), so it can sit in a
//!   `tokio::select!`.
//! - [`WsConnection::respond`] writes what the connection queued after a receipt (a pong
//!   for a ping, a close reply, the close that fails the connection) and ends the TCP
//!   connection when the closing handshake is over.
//! - [`server`]: the echo/broadcast server.
//! - [`trace`]: with tracing on, every handshake head and frame is recorded as a
//!   [`WsTrace`] for `--trace` and `--jsonl`.

pub mod handshake;
pub mod server;
pub mod trace;

pub use crate::wire::application::websocket::Event as Received;
pub use handshake::{
    accept, accept_request, accept_stream, connect, handshake_client, HandshakeError, WsUrl,
};
pub use server::{bind, serve, ServeMode, ServeOptions, ServerEvent};
pub use trace::{FrameTrace, TracedHeader, WsTrace};

use crate::wire::application::http1;
use crate::wire::application::websocket::close::CloseFrame;
use crate::wire::application::websocket::connection::{
    KeyUnavailable, Limits, MaskKeys, SendError,
};
use crate::wire::application::websocket::handshake::{self as wire_handshake, ServerPolicy};
use crate::wire::application::websocket::{
    deflate, CloseCode, Compress, Connection, Message, Role,
};
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout, Sleep};

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
    /// What a server accepts in the handshake (`policy.deflate`: permessage-deflate).
    pub policy: ServerPolicy,
    /// A client offers permessage-deflate (RFC 7692) in its handshake.
    pub offer_deflate: bool,
    /// With permessage-deflate on, messages smaller than this go uncompressed.
    pub deflate_threshold: usize,
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
            offer_deflate: false,
            deflate_threshold: deflate::DEFAULT_THRESHOLD,
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
    /// The server's first bytes cannot start an HTTP response (`HTTP/`): whatever
    /// listens there speaks another protocol.
    #[error("the server answered {first_bytes}, which is not an HTTP response")]
    NotHttp { first_bytes: String },
    /// The client's first bytes are a TLS record (RFC 8446 §5.1), a ClientHello from a
    /// `wss://` or `https://` client: netlab's server speaks plain ws://.
    #[error("this looks like TLS (a record of type {content_type}, version 3.{minor}): netlab's server speaks plain ws://")]
    Tls { content_type: u8, minor: u8 },
    #[error("{0}")]
    Head(#[from] http1::HeadError),
    #[error("handshake refused with {status}: {rule}")]
    Refused { status: u16, rule: String },
    #[error("{0}")]
    BadResponse(#[from] wire_handshake::ResponseError),
    #[error("randomness unavailable: {0}")]
    Random(String),
    /// The connection refused to queue a frame (after our close, or with its output full).
    #[error("{0}")]
    Send(SendError),
}

impl From<SendError> for WsError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::NoMaskKey(KeyUnavailable(why)) => WsError::Random(why),
            e => WsError::Send(e),
        }
    }
}

/// Whether to keep going after [`WsConnection::respond`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterReceipt {
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
}

impl MaskKeys for KeySource {
    fn next_key(&mut self) -> Result<[u8; 4], KeyUnavailable> {
        if self.used + 4 > self.pool.len() {
            getrandom::fill(&mut self.pool).map_err(|e| KeyUnavailable(e.to_string()))?;
            self.used = 0;
        }
        let k = &self.pool[self.used..self.used + 4];
        self.used += 4;
        Ok([k[0], k[1], k[2], k[3]])
    }
}

/// What the opening handshake hands to the connection.
struct Opened {
    peer: SocketAddr,
    role: Role,
    /// Bytes read after the HTTP head: the peer's first frames, if it was quick.
    leftover: Vec<u8>,
    /// When the handshake began (the zero of the trace's clock).
    started: Instant,
    trace: Vec<WsTrace>,
    /// The subprotocol agreed, if any.
    protocol: Option<String>,
    /// The permessage-deflate parameters agreed, if any.
    deflate: Option<deflate::Agreement>,
    /// What a netlab server said it does with messages ([`ServeMode::HEADER`]).
    server_mode: Option<String>,
    handshake_sent: usize,
    handshake_received: usize,
}

/// What the opening handshake agreed and cost.
#[derive(Debug, Clone, Default)]
struct Agreed {
    /// The subprotocol agreed in the handshake, if any.
    protocol: Option<String>,
    server_mode: Option<String>,
    /// Bytes of the handshake heads written and read by this end.
    sent: usize,
    received: usize,
}

/// Payloads above this size are written by a server straight from the message, beside
/// the frame header in one vectored write, rather than copied into the output buffer.
const ZERO_COPY_FROM: usize = 4096;

/// A byte stream that can tell whether a read would find bytes now, without taking them
/// (so a connection can wait for its peer without holding a read buffer).
pub trait ReadReady {
    /// Ready when the next read will not wait (or the stream ended or failed).
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>>;
}

impl ReadReady for TcpStream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        TcpStream::poll_read_ready(self, cx)
    }
}

impl<S: ReadReady> ReadReady for crate::net::http::Counted<S> {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_ref().poll_read_ready(cx)
    }
}

/// One WebSocket connection after a successful handshake, on a TCP stream or on any
/// byte stream that wraps one (the comparison lab uses `net::http::Counted<TcpStream>`
/// to count every byte at the socket API).
pub struct WsConnection<S = TcpStream> {
    stream: S,
    /// The protocol: what the bytes mean, what to answer, where the closing handshake is.
    conn: Connection,
    peer: SocketAddr,
    /// The timeouts (the limits went into `conn`).
    cfg: WsConfig,
    started: Instant,
    trace: Vec<WsTrace>,
    /// Messages and pongs that arrived after our close frame went out (RFC 6455 lets the
    /// peer's data in flight still arrive); kept for the caller to show.
    late: Vec<Received>,
    agreed: Agreed,
    /// The idle timeout: one timer for the connection's life, moved only when it fires
    /// (re-arming a timer on every read cost a few percent of a busy server's time).
    idle: Option<Pin<Box<Sleep>>>,
    /// When bytes last arrived: the connection is idle `idle_timeout` after it.
    last_read: Instant,
}

impl<S: AsyncRead + AsyncWrite + ReadReady + Unpin> WsConnection<S> {
    /// After the handshake. The caller has set TCP_NODELAY on a TCP socket (small
    /// messages go out at once rather than waiting for Nagle's algorithm).
    fn open(stream: S, cfg: WsConfig, opened: Opened) -> WsConnection<S> {
        let limits = Limits {
            max_message: cfg.max_message,
            ..Limits::default()
        };
        let mut conn = Connection::new(opened.role, limits, Box::new(KeySource::new()))
            .with_received(opened.leftover);
        if let Some(agreement) = opened.deflate {
            conn = conn.with_deflate(agreement, cfg.deflate_threshold);
        }
        if cfg.trace {
            conn.record_frames(trace::PREVIEW);
        }
        WsConnection {
            stream,
            conn,
            peer: opened.peer,
            cfg,
            started: opened.started,
            trace: opened.trace,
            late: Vec::new(),
            agreed: Agreed {
                protocol: opened.protocol,
                server_mode: opened.server_mode,
                sent: opened.handshake_sent,
                received: opened.handshake_received,
            },
            idle: None,
            last_read: Instant::now(),
        }
    }

    /// Bytes of the opening handshake this end sent and received (the HTTP heads of the
    /// upgrade request and its 101 answer).
    pub fn handshake_bytes(&self) -> (usize, usize) {
        (self.agreed.sent, self.agreed.received)
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The subprotocol agreed in the handshake (`Sec-WebSocket-Protocol`), if any.
    pub fn protocol(&self) -> Option<&str> {
        self.agreed.protocol.as_deref()
    }

    /// The mode a netlab server announced in its 101 answer (`echo`, `broadcast`), if
    /// the server is netlab's.
    pub fn server_mode(&self) -> Option<&str> {
        self.agreed.server_mode.as_deref()
    }

    /// The permessage-deflate parameters agreed in the handshake, if any.
    pub fn deflate(&self) -> Option<&deflate::Agreement> {
        self.conn.deflate()
    }

    pub fn role(&self) -> Role {
        self.conn.role()
    }

    /// Has a close frame been sent by us?
    pub fn close_sent(&self) -> bool {
        self.conn.close_sent()
    }

    /// The protocol state, for reading (where the closing handshake is, the failure).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Messages and pongs that arrived while our close handshake was finishing.
    pub fn take_late(&mut self) -> Vec<Received> {
        std::mem::take(&mut self.late)
    }

    /// The trace recorded since the last call (empty unless tracing is on).
    pub fn take_trace(&mut self) -> Vec<WsTrace> {
        std::mem::take(&mut self.trace)
    }

    /// Turn the frames the connection recorded into trace items, timed now.
    fn collect_trace(&mut self) {
        if self.cfg.trace {
            let at_us = self.started.elapsed().as_micros() as u64;
            for seen in self.conn.take_frames() {
                self.trace.push(trace::seen_trace(at_us, &seen));
            }
        }
    }

    /// Wait for the next message or control frame. Cancel-safe: bytes read are kept in
    /// the connection, and output is marked written as each write completes, so dropping
    /// this future loses nothing.
    pub async fn recv(&mut self) -> Result<Received, WsError> {
        loop {
            if let Some(event) = self.conn.next_event() {
                self.collect_trace();
                return Ok(event);
            }
            // Replies the connection queued go out before we wait. A peer that does not
            // read stops us here: that is the backpressure, in place of a growing buffer.
            // Once written, the bytes already buffered may hold more events.
            let had_output = self.conn.has_output();
            self.flush().await?;
            if had_output {
                continue;
            }
            let limit = self.cfg.idle_timeout;
            let idle = self
                .idle
                .get_or_insert_with(|| Box::pin(sleep_until((self.last_read + limit).into())));
            // Between frames with nothing to read yet, give the buffers back and take a
            // read buffer only once bytes arrive: a waiting connection holds none.
            let (stream, conn) = (&mut self.stream, &mut self.conn);
            let wait = conn.input_is_empty()
                && poll_fn(|cx| Poll::Ready(stream.poll_read_ready(cx).is_pending())).await;
            if wait {
                conn.shed_buffers();
            }
            let read = async {
                if wait {
                    poll_fn(|cx| stream.poll_read_ready(cx)).await?;
                }
                stream.read_buf(conn.read_buffer()).await
            };
            let n = tokio::select! {
                biased;
                r = read => r?,
                () = idle.as_mut() => {
                    // The timer was set for an earlier read: move it, unless silent since.
                    let due = self.last_read + limit;
                    if Instant::now() >= due {
                        return Err(WsError::Timeout("waiting for the peer to send"));
                    }
                    idle.as_mut().reset(due.into());
                    continue;
                }
            };
            self.last_read = Instant::now();
            if n == 0 {
                self.conn.receive_eof();
            }
        }
    }

    /// Write out everything the connection queued.
    async fn flush(&mut self) -> Result<(), WsError> {
        if let Some(e) = self.conn.take_reply_error() {
            return Err(e.into());
        }
        while self.conn.has_output() {
            let n = self.stream.write(self.conn.output()).await?;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
            }
            self.conn.consume_output(n);
        }
        Ok(())
    }

    /// Send a whole message in one frame.
    pub async fn send(&mut self, m: &Message) -> Result<(), WsError> {
        if self.conn.role().masks() || m.payload.len() <= ZERO_COPY_FROM {
            self.conn.send(m)?;
            self.collect_trace();
            return self.flush().await;
        }
        // A server sends the payload as it is: what is queued (the header) and the payload
        // go out in one vectored write, without copying the payload.
        let payload = self.conn.send_header_first(m)?;
        self.collect_trace();
        let queued = self.conn.output().len();
        write_all_vectored(&mut self.stream, self.conn.output(), payload).await?;
        self.conn.consume_output(queued);
        Ok(())
    }

    /// Send a whole message, choosing whether to compress it (with permessage-deflate
    /// on; [`Compress::Never`] is Socket.IO's `compress(false)`).
    pub async fn send_with(&mut self, m: &Message, compress: Compress) -> Result<(), WsError> {
        if compress == Compress::Auto {
            return self.send(m).await;
        }
        self.conn.send_with(m, compress)?;
        self.collect_trace();
        self.flush().await
    }

    /// Encode a whole message in one frame without writing it yet: what is queued goes
    /// out together, in as few writes as the socket takes, at
    /// [`flush_queued`](Self::flush_queued).
    pub fn queue(&mut self, m: &Message, compress: Compress) -> Result<(), WsError> {
        match compress {
            Compress::Auto => self.conn.send(m)?,
            other => self.conn.send_with(m, other)?,
        }
        self.collect_trace();
        Ok(())
    }

    /// Write everything [`queue`](Self::queue) encoded.
    pub async fn flush_queued(&mut self) -> Result<(), WsError> {
        self.flush().await
    }

    /// Send a message split into frames of at most `chunk` bytes (§5.4), to show
    /// fragmentation.
    pub async fn send_fragmented(&mut self, m: &Message, chunk: usize) -> Result<(), WsError> {
        self.conn.send_fragmented(m, chunk)?;
        self.collect_trace();
        self.flush().await
    }

    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), WsError> {
        self.conn.ping(payload)?;
        self.collect_trace();
        self.flush().await
    }

    /// Send our close frame (once).
    pub async fn send_close(&mut self, frame: &CloseFrame) -> Result<(), WsError> {
        self.conn.close(frame)?;
        self.collect_trace();
        self.flush().await
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
            while !self.conn.close_received() {
                match self.recv().await {
                    Ok(Received::Close(c)) => theirs = Some(c),
                    Ok(Received::Eof) | Err(_) | Ok(Received::Violation(_)) => break,
                    Ok(r @ (Received::Message(_) | Received::Pong(_)))
                        if self.late.len() < 1024 =>
                    {
                        self.late.push(r)
                    }
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
        if !self.conn.closes_tcp_first() {
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

    /// Do what the protocol requires after `r`: the connection queued it when it handed
    /// `r` out (a pong for a ping, a close reply, the close that fails the connection on a
    /// violation); this writes it and, when the connection is over, ends the TCP
    /// connection. Messages and pongs need nothing.
    pub async fn respond(&mut self, r: &Received) -> Result<AfterReceipt, WsError> {
        match r {
            Received::Message(_) | Received::Pong(_) => Ok(AfterReceipt::Continue),
            Received::Ping(_) => {
                self.flush().await?;
                Ok(AfterReceipt::Continue)
            }
            Received::Close(_) => {
                let _ = self.flush().await;
                self.shutdown().await;
                Ok(AfterReceipt::Closed)
            }
            Received::Violation(_) => {
                let _ = self.flush().await;
                self.finish_close().await;
                Ok(AfterReceipt::Closed)
            }
            Received::Eof => Ok(AfterReceipt::Closed),
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::DuplexStream;

    /// An in-memory pipe cannot say whether a read would wait: always "try the read",
    /// so a connection on it keeps its buffers as it waits.
    impl ReadReady for DuplexStream {
        fn poll_read_ready(&self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A server connection on one end of an in-memory pipe of `capacity` bytes.
    fn server_on_pipe(capacity: usize) -> (WsConnection<DuplexStream>, DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(capacity);
        let opened = Opened {
            peer: "127.0.0.1:9".parse().unwrap(),
            role: Role::Server,
            leftover: Vec::new(),
            started: Instant::now(),
            trace: Vec::new(),
            protocol: None,
            deflate: None,
            server_mode: None,
            handshake_sent: 0,
            handshake_received: 0,
        };
        (
            WsConnection::open(ours, WsConfig::default(), opened),
            theirs,
        )
    }

    /// What a client would send: `f` queues frames on a client connection.
    fn client_bytes(f: impl FnOnce(&mut Connection)) -> Vec<u8> {
        let mut c = Connection::new(Role::Client, Limits::default(), Box::new(|| [1, 2, 3, 4]));
        f(&mut c);
        c.output().to_vec()
    }

    #[tokio::test]
    async fn recv_loses_nothing_when_cancelled() {
        let (mut server, mut peer) = server_on_pipe(1 << 16);
        let text = "cancelled many times, delivered once ✓".repeat(20);
        let bytes = client_bytes(|c| c.send(&Message::text(text.clone())).unwrap());
        tokio::spawn(async move {
            for piece in bytes.chunks(7) {
                peer.write_all(piece).await.unwrap();
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            peer // kept open until the test ends
        });
        let mut cancelled = 0;
        let got = loop {
            tokio::select! {
                r = server.recv() => break r.unwrap(),
                _ = tokio::time::sleep(Duration::from_micros(100)) => cancelled += 1,
            }
        };
        assert_eq!(got, Received::Message(Message::text(text)));
        assert!(cancelled > 0, "the test never cancelled a recv");
    }

    /// The idle timeout counts from the last bytes that arrived, not from the first wait:
    /// a peer that keeps talking is never timed out, a silent one is, once.
    #[tokio::test]
    async fn the_idle_timeout_counts_from_the_last_bytes() {
        let (mut server, mut peer) = server_on_pipe(1 << 16);
        server.cfg.idle_timeout = Duration::from_millis(300);
        let ping = client_bytes(|c| c.ping(b"still here").unwrap());
        let talker = tokio::spawn(async move {
            // Every 100 ms for 1 s: never 300 ms of silence, although 1 s > 300 ms.
            for _ in 0..10 {
                peer.write_all(&ping).await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peer
        });
        let start = Instant::now();
        let mut pings = 0;
        let err = loop {
            match server.recv().await {
                Ok(Received::Ping(_)) => pings += 1,
                Ok(other) => panic!("{other:?}"),
                Err(e) => break e,
            }
        };
        assert_eq!(pings, 10);
        assert!(matches!(err, WsError::Timeout(_)), "{err}");
        // Timed out after the last ping (at 0.9 s) plus the limit, not at the first 0.3 s.
        assert!(
            start.elapsed() >= Duration::from_millis(1100),
            "{:?}",
            start.elapsed()
        );
        drop(talker);
    }

    #[tokio::test]
    async fn a_peer_that_stops_reading_stalls_the_server_not_its_memory() {
        let (mut server, mut peer) = server_on_pipe(4096);
        let pings = client_bytes(|c| {
            for _ in 0..10_000 {
                c.ping(b"are you reading?").unwrap();
            }
        });
        // The peer sends 220 kB of pings and reads none of the pongs.
        let writer = tokio::spawn(async move {
            let _ = peer.write_all(&pings).await;
            peer
        });
        let mut answered = 0;
        let serve = async {
            loop {
                let r = server.recv().await.unwrap();
                server.respond(&r).await.unwrap();
                answered += 1;
            }
        };
        let stalled = timeout(Duration::from_millis(300), serve).await;
        assert!(stalled.is_err(), "the server kept going");
        // The pipe holds 4096 bytes of pongs (18 bytes each); what is left waits in the
        // connection's output: at most one pong.
        assert!(answered < 300, "{answered} pings answered");
        assert!(
            server.conn.output().len() <= 18,
            "{}",
            server.conn.output().len()
        );
        writer.abort();
    }
}
