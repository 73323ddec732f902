//! TCP sockets, built with socket2 so that every option netlab teaches is set explicitly
//! and read back from the kernel, and the I/O loops the TCP lab runs on them.
//!
//! - [`SockOpts`] is what the user asked for; [`EffectiveOpts`] is what the kernel
//!   reports after setting it (Linux doubles `SO_SNDBUF`/`SO_RCVBUF`, see `socket(7)`).
//! - [`listen`] and [`connect`] build sockets with those options; [`connect`] has a time
//!   limit, because a SYN that gets no answer would otherwise be retried for minutes.
//! - [`session`] is the netcat-like loop: bytes from the peer are reported as
//!   [`Happening`]s, bytes from the user go to the peer, and the connection's life
//!   (half-close, orderly close, reset) is reported as it happens.
//! - [`write_recorded`] and [`read_recorded`] record every `write()`/`read()` call, for the
//!   byte-stream demo.
//! - [`bench_listener`], [`bench_sink`] and [`bench_send`] are plain blocking loops on
//!   threads, for throughput.

use crate::wire::Role;
use serde::Serialize;
use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

/// Socket options as the user asked for them. `None`/`false` leaves the kernel's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SockOpts {
    /// `TCP_NODELAY`: turn Nagle's algorithm off.
    pub nodelay: bool,
    /// `SO_SNDBUF` in bytes.
    pub sndbuf: Option<usize>,
    /// `SO_RCVBUF` in bytes.
    pub rcvbuf: Option<usize>,
    /// `SO_KEEPALIVE` on, with this idle time before the first probe (`TCP_KEEPIDLE`).
    pub keepalive: Option<Duration>,
    /// `SO_LINGER` on with this time; `Some(0)` makes `close()` send RST.
    pub linger: Option<Duration>,
    /// `SO_REUSEADDR` (listening sockets).
    pub reuseaddr: bool,
}

/// The options the kernel reports for a socket, read back with `getsockopt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectiveOpts {
    pub nodelay: bool,
    /// What was asked for `SO_SNDBUF`, if anything, and what the kernel reports.
    pub sndbuf_asked: Option<usize>,
    pub sndbuf: usize,
    pub rcvbuf_asked: Option<usize>,
    pub rcvbuf: usize,
    pub keepalive: bool,
    /// `TCP_KEEPIDLE`: seconds of silence before the first keepalive probe.
    pub keepalive_idle_s: u64,
    /// `SO_LINGER`: `None` is off (close returns at once, the kernel finishes sending).
    pub linger_s: Option<u64>,
    pub reuseaddr: bool,
}

/// Set `opts` on a socket. Buffer sizes must be set before `connect`/`listen` to take
/// full effect: the window scale is agreed in the handshake.
pub fn apply(sock: &SockRef<'_>, opts: &SockOpts) -> io::Result<()> {
    if opts.reuseaddr {
        sock.set_reuse_address(true)?;
    }
    if opts.nodelay {
        sock.set_tcp_nodelay(true)?;
    }
    if let Some(n) = opts.sndbuf {
        sock.set_send_buffer_size(n)?;
    }
    if let Some(n) = opts.rcvbuf {
        sock.set_recv_buffer_size(n)?;
    }
    if let Some(idle) = opts.keepalive {
        sock.set_tcp_keepalive(&TcpKeepalive::new().with_time(idle))?;
    }
    if let Some(t) = opts.linger {
        sock.set_linger(Some(t))?;
    }
    Ok(())
}

/// Read a socket's options back from the kernel.
pub fn effective(sock: &SockRef<'_>, asked: &SockOpts) -> io::Result<EffectiveOpts> {
    Ok(EffectiveOpts {
        nodelay: sock.tcp_nodelay()?,
        sndbuf_asked: asked.sndbuf,
        sndbuf: sock.send_buffer_size()?,
        rcvbuf_asked: asked.rcvbuf,
        rcvbuf: sock.recv_buffer_size()?,
        keepalive: sock.keepalive()?,
        keepalive_idle_s: sock.tcp_keepalive_time()?.as_secs(),
        linger_s: sock.linger()?.map(|d| d.as_secs()),
        reuseaddr: sock.reuse_address()?,
    })
}

/// Set `opts` on any socket (a tokio or std listener or stream).
pub fn set_options<'s, S>(socket: &'s S, opts: &SockOpts) -> io::Result<()>
where
    SockRef<'s>: From<&'s S>,
{
    apply(&SockRef::from(socket), opts)
}

/// Read back the options of any socket (a tokio or std listener or stream).
pub fn options_of<'s, S>(socket: &'s S, asked: &SockOpts) -> io::Result<EffectiveOpts>
where
    SockRef<'s>: From<&'s S>,
{
    effective(&SockRef::from(socket), asked)
}

fn new_socket(addr: SocketAddr, opts: &SockOpts) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    apply(&SockRef::from(&socket), opts)?;
    Ok(socket)
}

/// A listening socket on `addr` with `opts` (accepted sockets inherit most of them), and
/// `SO_REUSEADDR` on whatever `opts` says (see [`listener_opts`]).
pub fn listen(addr: SocketAddr, opts: &SockOpts) -> io::Result<TcpListener> {
    let socket = new_socket(addr, &listener_opts(opts))?;
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

/// `opts` for a listening socket: `SO_REUSEADDR` on, as every server sets it.
///
/// When a server stops, the connections it accepted do not vanish: the side that closed
/// first waits in FIN-WAIT-2 for the peer's FIN, then in TIME-WAIT for 2×MSL (60 s on
/// Linux) so that a late duplicate segment cannot be taken for part of a new connection
/// (RFC 9293 §3.6). Those sockets still hold the local port, so without `SO_REUSEADDR`
/// a restarted server's `bind()` fails with "address already in use" although nothing
/// listens. With it (on the listener, and so on the connections it accepts), Linux lets
/// a new listener bind past them; it never lets two sockets *listen* on one port (that
/// is `SO_REUSEPORT`, `socket(7)`).
pub fn listener_opts(opts: &SockOpts) -> SockOpts {
    SockOpts {
        reuseaddr: true,
        ..opts.clone()
    }
}

/// Connect to `addr` with `opts`, giving up after `limit`.
pub async fn connect(addr: SocketAddr, opts: &SockOpts, limit: Duration) -> io::Result<TcpStream> {
    let socket = new_socket(addr, opts)?;
    socket.set_nonblocking(true)?;
    let socket = TcpSocket::from_std_stream(socket.into());
    match tokio::time::timeout(limit, socket.connect(addr)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer to the SYN within {} ms", limit.as_millis()),
        )),
    }
}

/// A connected pair on loopback (client, server-side socket), for demos.
pub async fn loopback_pair(
    client_opts: &SockOpts,
    limit: Duration,
) -> io::Result<(TcpStream, TcpStream)> {
    let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)), &SockOpts::default())?;
    let addr = listener.local_addr()?;
    let accept = async {
        match tokio::time::timeout(limit, listener.accept()).await {
            Ok(r) => r.map(|(s, _)| s),
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "accept timed out")),
        }
    };
    let (client, server) = tokio::join!(connect(addr, client_opts, limit), accept);
    Ok((client?, server?))
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "how", content = "detail")]
pub enum CloseHow {
    /// Both sides sent FIN: every byte was delivered, then the connection closed.
    Orderly,
    /// The peer's kernel sent RST (`ECONNRESET`, or `EPIPE` on a later write).
    ResetByPeer,
    /// We closed with `SO_LINGER` 0: our kernel sent RST instead of FIN.
    AbortedByUs,
    /// Nothing happened in either direction for the idle time.
    IdleTimeout,
    /// netlab was stopped (Ctrl-C) while the connection was open.
    Interrupted,
    /// Some other error, as the kernel reported it.
    Error(String),
}

/// How one connection went, when it is over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionEnd {
    pub conn: u32,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration_ms: u64,
    #[serde(flatten)]
    pub how: CloseHow,
}

/// Something that happened on a socket, as it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Happening {
    /// The listening socket exists: clients may connect.
    Listening {
        local: SocketAddr,
        options: EffectiveOpts,
    },
    /// The three-way handshake finished: the 4-tuple names this connection.
    Connected {
        conn: u32,
        /// Which end of the connection netlab is.
        role: Role,
        local: SocketAddr,
        remote: SocketAddr,
        options: EffectiveOpts,
    },
    /// `read()` returned bytes from the peer.
    Received {
        conn: u32,
        bytes: usize,
        /// The bytes as text (invalid UTF-8 replaced).
        data: String,
        #[serde(skip)]
        raw: Vec<u8>,
    },
    /// `write()` handed bytes to our kernel for the peer.
    Sent { conn: u32, bytes: usize },
    /// `read()` returned 0: the peer sent FIN. It will send no more, but we still may.
    PeerHalfClosed { conn: u32 },
    /// We called `shutdown(Write)`: our kernel sent FIN. We can still receive.
    HalfClosed { conn: u32 },
    /// The connection is over.
    Closed(SessionEnd),
}

/// What the server side does with the bytes it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Show them, and send what the user types.
    Interactive,
    /// Send every byte straight back.
    Echo,
    /// Count them and throw them away.
    Discard,
}

/// How to run one connection.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub conn: u32,
    pub mode: Mode,
    /// End the connection after this long without traffic either way.
    pub idle: Duration,
    /// `SO_LINGER` 0 is set: closing our side aborts the connection with RST.
    pub abort_on_close: bool,
}

/// What an I/O error means for the connection.
pub fn close_how(e: &io::Error) -> CloseHow {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => CloseHow::ResetByPeer,
        io::ErrorKind::TimedOut => CloseHow::IdleTimeout,
        _ => CloseHow::Error(e.to_string()),
    }
}

/// Run one connection until both directions are closed, it is reset, or it idles out.
///
/// Bytes the peer sends become [`Happening::Received`]; chunks from `input` are sent to
/// the peer (`None` or a closed channel: nothing more to send). Our sending direction
/// is closed (FIN, or RST with `abort_on_close`) when there is nothing more to send:
/// in interactive mode when `input` ends, in echo and discard modes when the peer has
/// half-closed. Events go to `events`; a closed event channel is not an error.
pub async fn session(
    mut stream: TcpStream,
    cfg: SessionConfig,
    mut input: Option<mpsc::Receiver<Vec<u8>>>,
    events: mpsc::UnboundedSender<Happening>,
) -> SessionEnd {
    let started = Instant::now();
    let unknown = SocketAddr::from(([0, 0, 0, 0], 0));
    let local = stream.local_addr().unwrap_or(unknown);
    let remote = stream.peer_addr().unwrap_or(unknown);
    let mut c = Conn {
        input_ended: input.is_none() || cfg.mode != Mode::Interactive,
        cfg,
        events,
        bytes_in: 0,
        bytes_out: 0,
        peer_eof: false,
        write_closed: false,
    };
    let mut buf = vec![0u8; 64 * 1024];

    let how = loop {
        if c.peer_eof && c.write_closed {
            break CloseHow::Orderly;
        }
        if c.nothing_more_to_send() && !c.write_closed {
            if c.cfg.abort_on_close {
                // SO_LINGER with a zero timeout: close() discards anything unsent and
                // the kernel sends RST instead of FIN (RFC 9293 §3.6 "abort").
                drop(stream);
                break CloseHow::AbortedByUs;
            }
            match within(c.cfg.idle, stream.shutdown()).await {
                Ok(()) => {
                    c.write_closed = true;
                    c.send(Happening::HalfClosed { conn: c.cfg.conn });
                    continue;
                }
                Err(how) => break how,
            }
        }
        let want_input = !c.input_ended && !c.write_closed;
        tokio::select! {
            r = stream.read(&mut buf), if !c.peer_eof => {
                if let Err(how) = c.on_read(&mut stream, r, &buf).await {
                    break how;
                }
            }
            chunk = recv_input(&mut input), if want_input => match chunk {
                Some(data) => {
                    if let Err(how) = c.write(&mut stream, &data).await {
                        break how;
                    }
                }
                None => c.input_ended = true,
            },
            _ = tokio::time::sleep(c.cfg.idle) => break CloseHow::IdleTimeout,
        }
    };
    let end = SessionEnd {
        conn: c.cfg.conn,
        local,
        remote,
        bytes_in: c.bytes_in,
        bytes_out: c.bytes_out,
        duration_ms: started.elapsed().as_millis() as u64,
        how,
    };
    c.send(Happening::Closed(end.clone()));
    end
}

/// One connection's state while [`session`] runs it.
struct Conn {
    cfg: SessionConfig,
    events: mpsc::UnboundedSender<Happening>,
    bytes_in: u64,
    bytes_out: u64,
    /// `read()` returned 0: the peer sent FIN.
    peer_eof: bool,
    /// We called `shutdown(Write)`: our FIN is sent.
    write_closed: bool,
    /// Nothing more will come from `input` (or it is not ours to send).
    input_ended: bool,
}

impl Conn {
    /// Report a happening; a closed event channel is not an error.
    fn send(&self, h: Happening) {
        let _ = self.events.send(h);
    }

    /// Whether our sending direction is done: in interactive mode when `input` ends, in
    /// echo and discard modes when the peer has half-closed.
    fn nothing_more_to_send(&self) -> bool {
        match self.cfg.mode {
            Mode::Interactive => self.input_ended,
            Mode::Echo | Mode::Discard => self.peer_eof,
        }
    }

    /// What `read()` returned: 0 is the peer's FIN; bytes are reported, and sent back in
    /// echo mode while our side is open.
    async fn on_read(
        &mut self,
        stream: &mut TcpStream,
        r: io::Result<usize>,
        buf: &[u8],
    ) -> Result<(), CloseHow> {
        let conn = self.cfg.conn;
        match r {
            Ok(0) => {
                self.peer_eof = true;
                self.send(Happening::PeerHalfClosed { conn });
            }
            Ok(n) => {
                self.bytes_in += n as u64;
                let raw = buf[..n].to_vec();
                self.send(Happening::Received {
                    conn,
                    bytes: n,
                    data: String::from_utf8_lossy(&raw).into_owned(),
                    raw,
                });
                if self.cfg.mode == Mode::Echo && !self.write_closed {
                    self.write(stream, &buf[..n]).await?;
                }
            }
            Err(e) => return Err(close_how(&e)),
        }
        Ok(())
    }

    /// Send `data` to the peer within the idle timeout, and report it.
    async fn write(&mut self, stream: &mut TcpStream, data: &[u8]) -> Result<(), CloseHow> {
        within(self.cfg.idle, stream.write_all(data)).await?;
        self.bytes_out += data.len() as u64;
        self.send(Happening::Sent {
            conn: self.cfg.conn,
            bytes: data.len(),
        });
        Ok(())
    }
}

/// Run a socket operation, giving up after `idle`: a failure or the timeout says how the
/// connection ended.
async fn within(
    idle: Duration,
    op: impl std::future::Future<Output = io::Result<()>>,
) -> Result<(), CloseHow> {
    match tokio::time::timeout(idle, op).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(close_how(&e)),
        Err(_) => Err(CloseHow::IdleTimeout),
    }
}

async fn recv_input(input: &mut Option<mpsc::Receiver<Vec<u8>>>) -> Option<Vec<u8>> {
    match input {
        Some(rx) => rx.recv().await,
        None => None,
    }
}

/// Read standard input on its own thread (reading a terminal blocks, and must not block
/// the runtime) and hand each chunk over a bounded channel; the channel closes at EOF.
/// The thread is not joined: when netlab exits, it goes with it.
pub fn spawn_stdin_reader() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// One `write()` or `read()` system call that moved bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IoCall {
    /// Microseconds since the case started.
    pub at_us: u64,
    /// Bytes offered to `write()`, or the size of the buffer given to `read()`.
    pub asked: usize,
    /// Bytes the call actually moved.
    pub done: usize,
}

/// Write all of `data`, one `write()` call at a time, recording each call's result.
pub async fn write_recorded(
    stream: &mut TcpStream,
    data: &[u8],
    clock: Instant,
    calls: &mut Vec<IoCall>,
    limit: Duration,
) -> io::Result<()> {
    let mut off = 0;
    while off < data.len() {
        let n = match tokio::time::timeout(limit, stream.write(&data[off..])).await {
            Ok(r) => r?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")),
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        calls.push(IoCall {
            at_us: clock.elapsed().as_micros() as u64,
            asked: data.len() - off,
            done: n,
        });
        off += n;
    }
    Ok(())
}

/// Write `total` bytes of a periodic pattern, one `write()` call at a time, recording each
/// call as [`write_recorded`] does (`asked` is every byte still to go, as one `write_all`
/// offers them). `window` holds the pattern from offset 0 and is at least one `period`
/// longer than any slice offered, so no buffer of `total` bytes is ever built: a 256 MiB
/// write costs a few MiB of memory.
pub async fn write_pattern_recorded(
    stream: &mut TcpStream,
    window: &[u8],
    period: usize,
    total: usize,
    clock: Instant,
    calls: &mut Vec<IoCall>,
    limit: Duration,
) -> io::Result<()> {
    let most = window.len().saturating_sub(period).max(1);
    let mut off = 0;
    while off < total {
        let start = off % period;
        let len = (total - off).min(most);
        let n = match tokio::time::timeout(limit, stream.write(&window[start..start + len])).await {
            Ok(r) => r?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")),
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        calls.push(IoCall {
            at_us: clock.elapsed().as_micros() as u64,
            asked: total - off,
            done: n,
        });
        off += n;
    }
    Ok(())
}

/// Read with a `buf_size` buffer until `expect` bytes or EOF, recording each `read()` and
/// handing its bytes to `each` instead of keeping them; returns how many arrived.
pub async fn read_each_recorded(
    stream: &mut TcpStream,
    buf_size: usize,
    expect: usize,
    clock: Instant,
    calls: &mut Vec<IoCall>,
    limit: Duration,
    mut each: impl FnMut(&[u8]),
) -> io::Result<usize> {
    let mut buf = vec![0u8; buf_size.max(1)];
    let mut got = 0;
    while got < expect {
        let n = match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Ok(r) => r?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out")),
        };
        if n == 0 {
            break;
        }
        calls.push(IoCall {
            at_us: clock.elapsed().as_micros() as u64,
            asked: buf.len(),
            done: n,
        });
        each(&buf[..n]);
        got += n;
    }
    Ok(got)
}

/// Read with a `buf_size` buffer until `expect` bytes or EOF, recording each `read()`.
pub async fn read_recorded(
    stream: &mut TcpStream,
    buf_size: usize,
    expect: usize,
    clock: Instant,
    calls: &mut Vec<IoCall>,
    limit: Duration,
) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; buf_size.max(1)];
    let mut got = Vec::with_capacity(expect);
    while got.len() < expect {
        let n = match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Ok(r) => r?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out")),
        };
        if n == 0 {
            break;
        }
        calls.push(IoCall {
            at_us: clock.elapsed().as_micros() as u64,
            asked: buf.len(),
            done: n,
        });
        got.extend_from_slice(&buf[..n]);
    }
    Ok(got)
}

/// A blocking listening socket for the throughput sink.
pub fn bench_listener(addr: SocketAddr, opts: &SockOpts) -> io::Result<std::net::TcpListener> {
    let socket = new_socket(addr, &listener_opts(opts))?;
    socket.bind(&addr.into())?;
    socket.listen(8)?;
    Ok(socket.into())
}

/// What the sink measured.
#[derive(Debug, Clone, Copy)]
pub struct SinkStats {
    pub bytes: u64,
    /// From the first byte received to EOF.
    pub elapsed: Duration,
}

/// Accept one connection (within `limit`) and read it to EOF with `buf_size` reads,
/// adding to `received` as it goes. Each read waits at most `limit`.
pub fn bench_sink(
    listener: std::net::TcpListener,
    buf_size: usize,
    received: &AtomicU64,
    limit: Duration,
) -> io::Result<SinkStats> {
    // std's accept() has no timeout: poll a non-blocking accept, bounded by the deadline.
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + limit;
    let mut stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no sender connected to the sink",
                    ));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e),
        }
    };
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(limit))?;
    let mut buf = vec![0u8; buf_size.max(1)];
    let mut bytes = 0u64;
    let mut first: Option<Instant> = None;
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        first.get_or_insert_with(Instant::now);
        bytes += n as u64;
        received.fetch_add(n as u64, Ordering::Relaxed);
    }
    Ok(SinkStats {
        bytes,
        elapsed: first.map(|f| f.elapsed()).unwrap_or_default(),
    })
}

/// What the sender measured.
#[derive(Debug, Clone)]
pub struct SendStats {
    pub bytes: u64,
    /// From connected to the peer's FIN after ours (all bytes delivered), or to our FIN
    /// if the peer never closed.
    pub elapsed: Duration,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub options: EffectiveOpts,
}

/// Connect to `addr` and write `size`-byte buffers for `duration`, adding to `sent`.
/// Then half-close and wait (at most `limit`) for the peer to close too.
pub fn bench_send(
    addr: SocketAddr,
    opts: &SockOpts,
    size: usize,
    duration: Duration,
    sent: &AtomicU64,
    limit: Duration,
) -> io::Result<SendStats> {
    let socket = new_socket(addr, opts)?;
    socket.connect_timeout(&addr.into(), limit)?;
    let options = effective(&SockRef::from(&socket), opts)?;
    let mut stream: std::net::TcpStream = socket.into();
    stream.set_write_timeout(Some(limit))?;
    stream.set_read_timeout(Some(limit))?;
    let (local, remote) = (stream.local_addr()?, stream.peer_addr()?);
    let buf = vec![0x6eu8; size.max(1)];
    let start = Instant::now();
    let mut bytes = 0u64;
    while start.elapsed() < duration {
        let n = stream.write(&buf)?;
        bytes += n as u64;
        sent.fetch_add(n as u64, Ordering::Relaxed);
    }
    stream.shutdown(std::net::Shutdown::Write)?;
    // The peer closes after reading everything: its FIN is our proof of delivery.
    let mut probe = [0u8; 1024];
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match stream.read(&mut probe) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    Ok(SendStats {
        bytes,
        elapsed: start.elapsed(),
        local,
        remote,
        options,
    })
}

/// A future that completes at Ctrl-C (SIGINT). The handler is installed before this
/// returns, so a Ctrl-C that comes right after is not lost (and does not kill netlab
/// before it can print its summary).
pub fn interrupt() -> io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        Ok(async move {
            sigint.recv().await;
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
