//! UDP sockets, built with socket2 so their options are visible, and the small I/O
//! experiments and loops the UDP lab composes: truncation, the size limit, the refused
//! send, the impairing relay and the benchmark's sender and receiver.
//!
//! Nothing here prints: events go to callbacks and results come back as data.

use crate::wire::measure::impair::{Impairer, Impairment, Verdict};
use crate::wire::measure::probe;
use serde::Serialize;
use socket2::{Domain, MaybeUninitSlice, Protocol, SockRef, Socket, Type};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The largest UDP payload over IPv4: the IPv4 total-length field is 16 bits (65,535),
/// minus a 20-byte IPv4 header without options, minus the 8-byte UDP header.
pub const MAX_PAYLOAD_V4: usize = 65_535 - 20 - 8;
/// Over IPv6 the 16-bit payload-length field does not count IPv6's own 40-byte header,
/// so only the UDP header comes off (jumbograms, RFC 2675, aside).
pub const MAX_PAYLOAD_V6: usize = 65_535 - 8;

/// The largest datagram that can be sent to `addr`.
pub fn max_payload(addr: &SocketAddr) -> usize {
    if addr.is_ipv4() {
        MAX_PAYLOAD_V4
    } else {
        MAX_PAYLOAD_V6
    }
}

/// What we ask for as the receive buffer: big enough that a short stall of the reader
/// does not drop datagrams. Linux caps it at `net.core.rmem_max` (and doubles it for
/// bookkeeping); the size granted is what `recv_buffer_size` reports.
const RECV_BUFFER: usize = 4 << 20;

fn new_socket(addr: &SocketAddr) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(*addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        // Only IPv6: an IPv4 socket on the same port is a separate choice of the user's.
        s.set_only_v6(true)?;
    }
    // Best effort: a smaller buffer still works, it only drops sooner under load.
    let _ = s.set_recv_buffer_size(RECV_BUFFER);
    Ok(s)
}

/// A bound blocking socket (for the demo's experiments and the benchmark's threads).
pub fn bind_blocking(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let s = new_socket(&addr)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// The unspecified address of the same family as `peer` (to bind a client socket).
pub fn any_for(peer: &SocketAddr) -> SocketAddr {
    match peer {
        SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

/// The loopback address of the same family as `peer`.
pub fn loopback_for(peer: &SocketAddr) -> SocketAddr {
    match peer {
        SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
    }
}

/// The receive buffer the kernel granted, in bytes.
pub fn recv_buffer_size(sock: &std::net::UdpSocket) -> io::Result<usize> {
    SockRef::from(sock).recv_buffer_size()
}

// ---------------------------------------------------------------------------------------
// Stopping: Ctrl-C for people, a trigger for tests.
// ---------------------------------------------------------------------------------------

/// Something that can ask a long-running loop to stop.
#[derive(Debug, Clone)]
pub struct Interrupt(Option<watch::Receiver<bool>>);

/// The other end of a manual [`Interrupt`]. Dropping it without firing means "never".
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

impl Trigger {
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

impl Interrupt {
    /// Fires on Ctrl-C (SIGINT). Must be called inside a tokio runtime.
    pub fn on_ctrl_c() -> Interrupt {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = tx.send(true);
            }
        });
        Interrupt(Some(rx))
    }

    /// Fires when the returned trigger does.
    pub fn manual() -> (Trigger, Interrupt) {
        let (tx, rx) = watch::channel(false);
        (Trigger(tx), Interrupt(Some(rx)))
    }

    /// Never fires.
    pub fn never() -> Interrupt {
        Interrupt(None)
    }

    pub fn is_set(&self) -> bool {
        self.0.as_ref().is_some_and(|rx| *rx.borrow())
    }

    /// Resolves once fired; pends forever if it never can.
    pub async fn fired(&mut self) {
        if let Some(rx) = &mut self.0 {
            if rx.wait_for(|v| *v).await.is_ok() {
                return;
            }
        }
        std::future::pending::<()>().await;
    }
}

/// Sleep until `deadline`, or forever when there is none.
async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

// ---------------------------------------------------------------------------------------
// The async socket the lab's commands use.
// ---------------------------------------------------------------------------------------

/// What a bounded receive produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recv {
    Datagram {
        len: usize,
        from: SocketAddr,
    },
    /// The deadline passed first.
    TimedOut,
    /// Ctrl-C (or the test's trigger) came first.
    Interrupted,
}

/// A UDP socket for tokio, created through socket2.
#[derive(Debug)]
pub struct UdpPort {
    sock: tokio::net::UdpSocket,
}

impl UdpPort {
    /// Bind to `addr` (port 0: the kernel picks one). Must run inside a tokio runtime.
    pub fn bind(addr: SocketAddr) -> io::Result<UdpPort> {
        let s = new_socket(&addr)?;
        s.bind(&addr.into())?;
        s.set_nonblocking(true)?;
        Ok(UdpPort {
            sock: tokio::net::UdpSocket::from_std(s.into())?,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// Fix the peer: `send` goes there, only its datagrams are received, and ICMP errors
    /// about it (port unreachable) are reported on this socket.
    pub async fn connect(&self, peer: SocketAddr) -> io::Result<()> {
        self.sock.connect(peer).await
    }

    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.send(buf).await
    }

    pub async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.sock.send_to(buf, to).await
    }

    /// Receive one datagram, unless `deadline` passes or `stop` fires first.
    pub async fn recv_from_until(
        &self,
        buf: &mut [u8],
        deadline: Option<Instant>,
        stop: &mut Interrupt,
    ) -> io::Result<Recv> {
        if stop.is_set() {
            return Ok(Recv::Interrupted);
        }
        tokio::select! {
            r = self.sock.recv_from(buf) => r.map(|(len, from)| Recv::Datagram { len, from }),
            _ = sleep_until_opt(deadline) => Ok(Recv::TimedOut),
            _ = stop.fired() => Ok(Recv::Interrupted),
        }
    }
}

/// Wait until `at` (pacing a sender), unless `stop` fires first: returns false then.
pub async fn sleep_until(at: Instant, stop: &mut Interrupt) -> bool {
    tokio::select! {
        _ = tokio::time::sleep_until(at.into()) => true,
        _ = stop.fired() => false,
    }
}

// ---------------------------------------------------------------------------------------
// Experiments for `netlab udp demo` (blocking, each bounded by a read timeout).
// ---------------------------------------------------------------------------------------

/// One `recv_from` as the demo saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Received {
    /// Bytes copied into the buffer.
    pub copied: usize,
    /// The datagram's real length, as `recvmsg` returns it when asked with `MSG_TRUNC`.
    pub datagram_len: usize,
    /// `MSG_TRUNC` was set in the returned flags: the rest of the datagram was discarded.
    pub truncated: bool,
    pub from: String,
    /// The first bytes that fit in the buffer (at most [`FIRST_BYTES`] of them, for display).
    pub first_bytes: Vec<u8>,
}

/// How many received bytes a [`Received`] keeps for display.
pub const FIRST_BYTES: usize = 64;

/// Receive one datagram into a buffer of `buf_len` bytes and report what the kernel said
/// about truncation.
///
/// Two calls, both without `unsafe`: `peek_from` copies the bytes that fit (leaving the
/// datagram queued), then `recvmsg` with the `MSG_TRUNC` flag consumes it and returns the
/// datagram's real length plus `MSG_TRUNC` in the message flags when it did not fit
/// (Linux `recv(2)`, `udp(7)`). A plain `recv_from` would return only the copied count and
/// lose the rest silently.
pub fn recv_reporting_truncation(
    sock: &std::net::UdpSocket,
    buf_len: usize,
) -> io::Result<Received> {
    let mut bytes = vec![0u8; buf_len];
    let (copied, _) = sock.peek_from(&mut bytes)?;
    bytes.truncate(copied.min(FIRST_BYTES));
    let mut scratch = vec![MaybeUninit::new(0u8); buf_len];
    let mut bufs = [MaybeUninitSlice::new(&mut scratch)];
    let (datagram_len, flags, from) =
        SockRef::from(sock).recv_from_vectored_with_flags(&mut bufs, libc::MSG_TRUNC)?;
    Ok(Received {
        copied,
        datagram_len,
        truncated: flags.is_truncated(),
        from: from
            .as_socket()
            .map_or_else(|| "?".to_owned(), |a| a.to_string()),
        first_bytes: bytes,
    })
}

/// One `send_to` as the demo saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sent {
    pub len: usize,
    /// The error number, if the kernel refused the send, and its name (see [`errno_name`]).
    pub errno: Option<i32>,
    /// The kernel's error, if it refused the send (e.g. "Message too long (os error 90)").
    pub error: Option<String>,
}

/// Both ends of a loopback exchange and what each saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatagramRun {
    pub sender: String,
    pub receiver: String,
    pub sent: Vec<Sent>,
    /// One entry per receive, in order (only as many as sends that succeeded).
    pub received: Vec<Received>,
}

/// Send each payload with its own `send_to` from one loopback socket to another, then
/// receive once per successful send into a `recv_buf`-byte buffer. Each receive waits at
/// most `wait`.
pub fn datagrams_over_loopback(
    ip: IpAddr,
    payloads: &[Vec<u8>],
    recv_buf: usize,
    wait: Duration,
) -> io::Result<DatagramRun> {
    let rx = bind_blocking(SocketAddr::new(ip, 0))?;
    rx.set_read_timeout(Some(wait))?;
    let tx = bind_blocking(SocketAddr::new(ip, 0))?;
    let to = rx.local_addr()?;
    let sent: Vec<Sent> = payloads
        .iter()
        .map(|p| match tx.send_to(p, to) {
            Ok(n) => Sent {
                len: n,
                errno: None,
                error: None,
            },
            Err(e) => Sent {
                len: p.len(),
                errno: e.raw_os_error(),
                error: Some(e.to_string()),
            },
        })
        .collect();
    let ok = sent.iter().filter(|s| s.error.is_none()).count();
    let received = (0..ok)
        .map(|_| recv_reporting_truncation(&rx, recv_buf))
        .collect::<io::Result<Vec<_>>>()?;
    Ok(DatagramRun {
        sender: tx.local_addr()?.to_string(),
        receiver: to.to_string(),
        sent,
        received,
    })
}

/// The C name of an error number the UDP lab meets, for diagrams ("EMSGSIZE").
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EMSGSIZE => "EMSGSIZE",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ENOBUFS => "ENOBUFS",
        libc::EAGAIN => "EAGAIN",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EACCES => "EACCES",
        _ => "error",
    }
}

/// What happened when a datagram was sent to a port where nothing listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedOutcome {
    /// Did `send` itself succeed? (It does: the datagram left; the error comes back later.)
    pub send_ok: bool,
    /// What the next receive returned: the error text, or "timed out".
    pub next_recv: String,
    /// The next receive failed with ECONNREFUSED.
    pub refused: bool,
    /// The error number of the receive, if it failed.
    pub errno: Option<i32>,
    pub waited_ms: u64,
}

/// A port on `ip` where nothing listens: bind one, note it, close it. (Another program could
/// take it in between; on loopback, within a millisecond, that is unlikely, and the demo
/// says what it saw either way.)
pub fn closed_port(ip: IpAddr) -> io::Result<SocketAddr> {
    let s = bind_blocking(SocketAddr::new(ip, 0))?;
    s.local_addr()
}

/// Send one datagram to `dead` and then try to receive, on a connected socket (`connected`
/// true) or an unconnected one using `send_to`. The receive waits at most `wait`.
pub fn send_to_closed_port(
    dead: SocketAddr,
    connected: bool,
    wait: Duration,
) -> io::Result<RefusedOutcome> {
    let s = bind_blocking(loopback_for(&dead))?;
    s.set_read_timeout(Some(wait))?;
    let send = if connected {
        s.connect(dead)?;
        s.send(b"anyone there?")
    } else {
        s.send_to(b"anyone there?", dead)
    };
    let start = Instant::now();
    let mut buf = [0u8; 64];
    let r = s.recv_from(&mut buf);
    let waited_ms = start.elapsed().as_millis() as u64;
    let errno = r.as_ref().err().and_then(io::Error::raw_os_error);
    let (next_recv, refused) = match r {
        Ok((n, from)) => (format!("a {n}-byte datagram from {from}"), false),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            ("nothing (timed out)".to_owned(), false)
        }
        Err(e) => {
            let refused = e.kind() == io::ErrorKind::ConnectionRefused;
            (e.to_string(), refused)
        }
    };
    Ok(RefusedOutcome {
        send_ok: send.is_ok(),
        next_recv,
        refused,
        errno,
        waited_ms,
    })
}

// ---------------------------------------------------------------------------------------
// The impairing relay.
// ---------------------------------------------------------------------------------------

/// One thing the relay did, for the live view.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RelayEvent {
    /// Datagram number `n` (counting from 1) from the client, and what was decided for it.
    Datagram {
        n: u64,
        len: usize,
        from: SocketAddr,
        verdict: Verdict,
    },
    /// A held datagram went out after a later one: a reordering.
    Released { n: u64 },
    /// A held datagram went out because nothing came after it (not a reordering).
    Flushed { n: u64 },
    /// A netlab END datagram, passed through without impairment.
    End { n: u64 },
    /// A reply from the server, passed back to the client untouched.
    Reply { len: usize, to: SocketAddr },
}

/// What the relay did in total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RelayCounters {
    /// Datagrams received from clients (END datagrams included).
    pub received: u64,
    /// Datagrams sent on to the server (duplicates count twice).
    pub forwarded: u64,
    pub dropped: u64,
    pub duplicated: u64,
    /// Held datagrams released after a later one.
    pub reordered: u64,
    /// Held datagrams released because nothing followed (not reorderings).
    pub flushed: u64,
    pub end_markers: u64,
    pub replies: u64,
}

/// How long a held datagram waits for a successor before it goes out anyway.
const HOLD_LIMIT: Duration = Duration::from_millis(200);

/// A bound relay, ready to [`Relay::run`].
#[derive(Debug)]
pub struct Relay {
    front: UdpPort,
    back: UdpPort,
    to: SocketAddr,
    impairer: Impairer,
}

struct Queued {
    due: Instant,
    order: u64,
    bytes: Vec<u8>,
}
impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.due, self.order) == (o.due, o.order)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.due, self.order).cmp(&(o.due, o.order))
    }
}

impl Relay {
    /// Bind the client-facing socket on `listen` and a server-facing one connected to `to`.
    pub async fn bind(
        listen: SocketAddr,
        to: SocketAddr,
        impairment: Impairment,
        seed: u64,
    ) -> io::Result<Relay> {
        let front = UdpPort::bind(listen)?;
        let back = UdpPort::bind(any_for(&to))?;
        back.connect(to).await?;
        Ok(Relay {
            front,
            back,
            to,
            impairer: Impairer::new(impairment, seed),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.front.local_addr()
    }

    pub fn upstream(&self) -> SocketAddr {
        self.to
    }

    /// Relay until `stop` fires, `until` passes, or `max_datagrams` client datagrams
    /// have been handled. Datagrams still delayed when it stops are sent at once.
    pub async fn run(
        mut self,
        mut stop: Interrupt,
        until: Option<Instant>,
        max_datagrams: Option<u64>,
        mut on_event: impl FnMut(RelayEvent),
    ) -> io::Result<RelayCounters> {
        let mut st = RelayState::default();
        let mut client: Option<SocketAddr> = None;
        let mut up = vec![0u8; 65_536];
        let mut down = vec![0u8; 65_536];
        loop {
            if max_datagrams.is_some_and(|m| st.c.received >= m) && st.held.is_none() {
                break;
            }
            let next_due = st.schedule.next_due();
            let hold_deadline = st.held.as_ref().map(|h| h.since + HOLD_LIMIT);
            tokio::select! {
                r = self.front.sock.recv_from(&mut up) => {
                    let (len, from) = r?;
                    let now = Instant::now();
                    client = Some(from);
                    st.c.received += 1;
                    let bytes = up[..len].to_vec();
                    st.admit(&mut self.impairer, bytes, from, now, &mut on_event);
                }
                r = self.back.sock.recv(&mut down) => {
                    // A refused port upstream shows up here as an error: pass nothing back.
                    if let Ok(len) = r {
                        if let Some(to) = client {
                            self.front.send_to(&down[..len], to).await?;
                            st.c.replies += 1;
                            on_event(RelayEvent::Reply { len, to });
                        }
                    }
                }
                _ = sleep_until_opt(next_due) => {
                    let now = Instant::now();
                    while let Some(q) = st.schedule.pop_due(now) {
                        forward(&self.back, &q.bytes, &mut st.c).await;
                    }
                }
                _ = sleep_until_opt(hold_deadline) => st.flush_held(&mut on_event),
                _ = sleep_until_opt(until) => break,
                _ = stop.fired() => break,
            }
        }
        if let Some(h) = st.held.take() {
            for _ in 0..h.copies {
                forward(&self.back, &h.bytes, &mut st.c).await;
            }
            st.c.flushed += 1;
            on_event(RelayEvent::Flushed { n: h.n });
        }
        while let Some(Reverse(q)) = st.schedule.queue.pop() {
            forward(&self.back, &q.bytes, &mut st.c).await;
        }
        Ok(st.c)
    }
}

/// The datagram held back for reordering.
struct Held {
    /// Its number among the client's datagrams.
    n: u64,
    bytes: Vec<u8>,
    /// 2 when it is also duplicated.
    copies: u8,
    /// When its delay would have sent it.
    due: Instant,
    /// When it was held (it waits at most [`HOLD_LIMIT`] for a successor).
    since: Instant,
}

/// Datagrams waiting for their due time, earliest first; `order` keeps datagrams due at
/// the same instant in arrival order.
#[derive(Default)]
struct Schedule {
    queue: BinaryHeap<Reverse<Queued>>,
    order: u64,
}

impl Schedule {
    fn push(&mut self, due: Instant, bytes: Vec<u8>) {
        self.order += 1;
        self.queue.push(Reverse(Queued {
            due,
            order: self.order,
            bytes,
        }));
    }

    fn push_copies(&mut self, copies: u8, due: Instant, bytes: &[u8]) {
        for _ in 0..copies {
            self.push(due, bytes.to_vec());
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.queue.peek().map(|q| q.0.due)
    }

    /// The earliest datagram, if it is due by `now`.
    fn pop_due(&mut self, now: Instant) -> Option<Queued> {
        if self.next_due().is_some_and(|due| due <= now) {
            self.queue.pop().map(|q| q.0)
        } else {
            None
        }
    }
}

/// What [`Relay::run`] keeps between datagrams.
#[derive(Default)]
struct RelayState {
    c: RelayCounters,
    schedule: Schedule,
    held: Option<Held>,
}

impl RelayState {
    /// Datagram number `c.received` from the client: END passes untouched; anything else
    /// gets the impairer's verdict (drop, duplicate, delay, hold back to reorder).
    fn admit(
        &mut self,
        impairer: &mut Impairer,
        bytes: Vec<u8>,
        from: SocketAddr,
        now: Instant,
        on_event: &mut impl FnMut(RelayEvent),
    ) {
        let n = self.c.received;
        let len = bytes.len();
        if probe::Repr::from_bytes(&bytes).is_ok_and(|p| p.end) {
            self.pass_end(n, bytes, now, impairer, on_event);
            return;
        }
        let v = impairer.next_verdict(self.held.is_none());
        on_event(RelayEvent::Datagram {
            n,
            len,
            from,
            verdict: v,
        });
        if v.drop {
            self.c.dropped += 1;
            return;
        }
        let copies = if v.duplicate { 2 } else { 1 };
        if v.duplicate {
            self.c.duplicated += 1;
        }
        let due = now + Duration::from_micros(v.delay_us);
        if v.hold {
            self.held = Some(Held {
                n,
                bytes,
                copies,
                due,
                since: now,
            });
            return;
        }
        self.schedule.push_copies(copies, due, &bytes);
        if let Some(h) = self.held.take() {
            self.schedule
                .push_copies(h.copies, h.due.max(due), &h.bytes);
            self.c.reordered += 1;
            on_event(RelayEvent::Released { n: h.n });
        }
    }

    /// END passes untouched (after anything held), so the receiver learns the true count
    /// and can see losses at the tail.
    fn pass_end(
        &mut self,
        n: u64,
        bytes: Vec<u8>,
        now: Instant,
        impairer: &Impairer,
        on_event: &mut impl FnMut(RelayEvent),
    ) {
        self.flush_held(on_event);
        // And after every datagram still delayed, so jitter cannot put data
        // behind the END that announces it.
        let latest = self.schedule.queue.iter().map(|q| q.0.due).max();
        let due =
            (now + Duration::from_micros(impairer.plan().delay_us)).max(latest.unwrap_or(now));
        self.schedule.push(due, bytes);
        self.c.end_markers += 1;
        on_event(RelayEvent::End { n });
    }

    /// Send the held datagram at its own due time: nothing came after it in time, so it
    /// is not a reordering.
    fn flush_held(&mut self, on_event: &mut impl FnMut(RelayEvent)) {
        if let Some(h) = self.held.take() {
            self.schedule.push_copies(h.copies, h.due, &h.bytes);
            self.c.flushed += 1;
            on_event(RelayEvent::Flushed { n: h.n });
        }
    }
}

/// Send one datagram upstream. A send error (for example ECONNREFUSED left by an earlier
/// ICMP port unreachable) loses that datagram, as the network would; the relay carries on.
async fn forward(back: &UdpPort, bytes: &[u8], c: &mut RelayCounters) {
    if back.send(bytes).await.is_ok() {
        c.forwarded += 1;
    }
}

// ---------------------------------------------------------------------------------------
// The benchmark's two ends: plain threads and blocking sockets, the shortest path to the
// kernel (the same shape as iperf3's UDP client).
// ---------------------------------------------------------------------------------------

/// What the sending thread did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SendTotals {
    pub sent: u64,
    /// Sends the kernel refused (ENOBUFS, ECONNREFUSED, ...): those datagrams never left.
    pub send_errors: u64,
    pub elapsed_us: u64,
}

/// Send `payload` (its probe header restamped each time) to the connected socket until
/// `deadline`, at most `rate` datagrams per second (`None`: as fast as the kernel takes
/// them). `sent` is updated as it goes, for progress lines.
pub fn bench_send(
    sock: &std::net::UdpSocket,
    payload: &mut [u8],
    deadline: Instant,
    rate: Option<u64>,
    sent: &AtomicU64,
) -> SendTotals {
    let start = Instant::now();
    let mut t = SendTotals::default();
    let gap = rate.map(|r| Duration::from_secs_f64(1.0 / r.max(1) as f64));
    let mut seq: u32 = 0;
    loop {
        let now = Instant::now();
        if now >= deadline || seq == u32::MAX {
            break;
        }
        if let Some(gap) = gap {
            let due = start + gap * seq;
            if due > now {
                std::thread::sleep(due - now);
                continue;
            }
        }
        let sent_us = now.duration_since(start).as_micros() as u64;
        if probe::Repr::restamp(payload, seq, sent_us).is_err() {
            break; // the caller made the payload at least a header long
        }
        match sock.send(payload) {
            Ok(_) => {
                seq += 1;
                t.sent += 1;
                if t.sent % 1024 == 0 {
                    sent.store(t.sent, Ordering::Relaxed);
                }
            }
            Err(_) => t.send_errors += 1,
        }
    }
    sent.store(t.sent, Ordering::Relaxed);
    t.elapsed_us = start.elapsed().as_micros() as u64;
    t
}

/// How long the benchmark's receiver naps when its queue is empty.
const RECV_NAP: Duration = Duration::from_micros(200);

/// Receive until `on_datagram` returns false, or `done` is set and nothing arrived for
/// `quiet`. Each datagram is handed over with its arrival time.
///
/// The receiver does not block in `recv`: it drains the queue without waiting, then naps
/// for 0.2 ms. A receiver blocked in `recv` must be woken for every datagram, and on
/// loopback the *sender's* system call pays for that wakeup: in a quick experiment on the
/// development machine, a blocking reader halved the sender's rate (about 140k instead of
/// 250k datagrams/s). Napping batches the work, the way network drivers coalesce
/// interrupts (Linux NAPI). The cost is up to 0.2 ms of extra delay per datagram and a
/// queue that must hold 0.2 ms of traffic; with netlab's 4 MiB buffer request it does.
pub fn bench_recv(
    sock: &std::net::UdpSocket,
    done: &AtomicBool,
    quiet: Duration,
    mut on_datagram: impl FnMut(&[u8], Instant) -> bool,
) -> io::Result<()> {
    sock.set_nonblocking(true)?;
    let mut buf = vec![0u8; 65_536];
    let mut last_seen = Instant::now();
    loop {
        match sock.recv(&mut buf) {
            Ok(n) => {
                last_seen = Instant::now();
                if !on_datagram(&buf[..n], last_seen) {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if done.load(Ordering::Relaxed) && last_seen.elapsed() >= quiet {
                    return Ok(());
                }
                std::thread::sleep(RECV_NAP);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The kernel's own count of UDP datagrams dropped because a receive buffer was full
/// (`RcvbufErrors` in `/proc/net/snmp`, all sockets of this network namespace). `None`
/// where the file does not exist.
pub fn kernel_rcvbuf_errors() -> Option<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = udp.next()?.split_whitespace().collect();
    let values: Vec<&str> = udp.next()?.split_whitespace().collect();
    let i = names.iter().position(|n| *n == "RcvbufErrors")?;
    values.get(i)?.parse().ok()
}

/// The kernel's count of datagrams dropped at this one socket (the `drops` column of
/// `/proc/net/udp` or `/proc/net/udp6`, found by the socket's inode): the receive
/// buffer was full, so the kernel threw them away. Unlike [`kernel_rcvbuf_errors`] no
/// other socket adds to it, so on loopback it is a count of losses that the receiver's
/// own bookkeeping cannot influence. `None` where the files do not exist.
pub fn socket_drops(sock: &std::net::UdpSocket) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    // fstat(2) on a socket gives its sockfs inode, the number /proc/net/udp lists.
    let fd: std::os::fd::OwnedFd = sock.try_clone().ok()?.into();
    let inode = std::fs::File::from(fd).metadata().ok()?.ino().to_string();
    ["/proc/net/udp", "/proc/net/udp6"].iter().find_map(|path| {
        let table = std::fs::read_to_string(path).ok()?;
        table.lines().skip(1).find_map(|line| {
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
            let cols: Vec<&str> = line.split_whitespace().collect();
            (cols.get(9) == Some(&inode.as_str()))
                .then(|| cols.get(12)?.parse().ok())
                .flatten()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_limits_follow_the_headers() {
        assert_eq!(MAX_PAYLOAD_V4, 65_507);
        assert_eq!(MAX_PAYLOAD_V6, 65_527);
    }

    #[test]
    fn truncation_is_reported_not_silent() {
        let rx = bind_blocking("127.0.0.1:0".parse().unwrap()).unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = bind_blocking("127.0.0.1:0".parse().unwrap()).unwrap();
        let msg: Vec<u8> = (0..100u8).collect();
        tx.send_to(&msg, rx.local_addr().unwrap()).unwrap();
        let r = recv_reporting_truncation(&rx, 16).unwrap();
        assert_eq!((r.copied, r.datagram_len, r.truncated), (16, 100, true));
        assert_eq!(r.first_bytes, &msg[..16]);
        tx.send_to(b"short", rx.local_addr().unwrap()).unwrap();
        let r = recv_reporting_truncation(&rx, 16).unwrap();
        assert_eq!((r.copied, r.datagram_len, r.truncated), (5, 5, false));
    }
}
