//! An Engine.IO 4 server on real sockets: `wire::application::engineio::Session` (where
//! every protocol decision is made) driven by netlab's HTTP connection (`net::http`), its
//! WebSocket connection (`net::ws`) and tokio's timers.
//!
//! The API the layers above use:
//!
//! ```text
//! let mut server = EngineServer::bind("127.0.0.1:0".parse()?, EngineConfig::default()).await?;
//! while let Some(socket) = server.accept().await {      // one EngineSocket per session
//!     tokio::spawn(async move {
//!         while let Some(m) = socket.recv().await {      // Message::Text or Message::Binary
//!             let _ = socket.send(m);                    // queued; the transport takes it
//!         }
//!         // socket.close_reason(): "transport close", "ping timeout", …
//!     });
//! }
//! ```
//!
//! - [`EngineServer`]: binds, accepts TCP connections and serves each one (`conn`):
//!   polling GETs and POSTs, and WebSockets, opened directly or as an upgrade (`ws`).
//!   A new session is handed out by [`EngineServer::accept`].
//! - [`EngineSocket`]: one session for the application: [`EngineSocket::recv`],
//!   [`EngineSocket::next_event`] (also says when the session moved to its WebSocket),
//!   [`EngineSocket::send`], [`EngineSocket::close`].
//! - [`echo`]: the echo server of the Engine.IO test suite: every message comes back.
//! - Beside Engine.IO, a server hands out fixed [`Page`]s (a chat page, a client script),
//!   and [`EngineServer::bind_all`] serves several Engine.IO paths on one port, each with
//!   its own sessions and settings (`/engine.io/` and `/socket.io/`).
//!
//! Each session has one timer task that sleeps until the session's `poll_timeout` and
//! removes the session from the table when it closes. Everything that changes a session
//! wakes whoever waits on it (a polling GET, the WebSocket, the timer, the application).

mod conn;
mod ws;

use crate::wire::application::engineio::cors::Cors;
use crate::wire::application::engineio::{
    CloseReason, Config, Event, Message, SendError, SendOptions, Session, Transport,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

/// The server's settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The session parameters (ping interval and timeout, maxPayload, …).
    pub session: Config,
    /// The path requests must start with.
    pub path: String,
    /// How long a client may take to send a request head or a POST body.
    pub request_timeout: Duration,
    /// The most sessions open at once; a handshake beyond it is refused (403).
    pub max_sessions: usize,
    /// Accept permessage-deflate (RFC 7692) on the WebSocket when the client offers it.
    /// Off by default, as in the reference server (`perMessageDeflate: false`).
    pub per_message_deflate: bool,
    /// Compress a polling answer of 1 KiB or more with gzip or deflate when the client
    /// accepts it (`Accept-Encoding`) and a message in it allows it. On by default, as
    /// in the reference server (`httpCompression`).
    pub http_compression: bool,
    /// Files served as they are, looked up before the Engine.IO path.
    pub pages: Vec<Page>,
    /// Which other web origins may read the polling answers (CORS); none by default, as
    /// in the reference server.
    pub cors: Option<Cors>,
}

/// A file the server answers a GET for at exactly `path` (the query is ignored), with its
/// `Content-Type`: how the real Socket.IO server serves `/socket.io/socket.io.js`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            session: Config::default(),
            path: "/engine.io/".to_owned(),
            request_timeout: Duration::from_secs(10),
            max_sessions: 10_000,
            pages: Vec::new(),
            cors: None,
            per_message_deflate: false,
            http_compression: true,
        }
    }
}

/// One session shared by the tasks that serve it.
///
/// Three wake-ups, so that a change wakes only the tasks it concerns: `outbound` for the
/// connection tasks that write (a frame or a poll's answer to carry), `timer` for the
/// session's timer (only when its deadline moved), `changed` for everyone else (the
/// application's reader, a reader waiting for room, a writer watching for the end). A
/// message the application queues wakes the writers only, unless it also ended the
/// session or gave the application an event: a broadcast to a thousand clients wakes a
/// thousand writers, not three thousand tasks.
struct Slot {
    session: Mutex<Session>,
    changed: Notify,
    outbound: Notify,
    timer: Notify,
}

impl Slot {
    fn new(session: Session) -> Slot {
        Slot {
            session: Mutex::new(session),
            changed: Notify::new(),
            outbound: Notify::new(),
            timer: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Session> {
        // A panic while holding the lock leaves a session we can still read.
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` on the session, then wake everyone waiting on it (the timer only if the
    /// deadline moved).
    fn with<R>(&self, f: impl FnOnce(&mut Session) -> R) -> R {
        let mut s = self.lock();
        let due = s.poll_timeout();
        let r = f(&mut s);
        let moved = s.poll_timeout() != due;
        drop(s);
        self.changed.notify_waiters();
        self.outbound.notify_waiters();
        if moved {
            self.timer.notify_waiters();
        }
        r
    }

    /// Run `f`, which queues something for the client, on the session; wake the writers,
    /// and the rest only if their part of the session changed too.
    fn queue<R>(&self, f: impl FnOnce(&mut Session) -> R) -> R {
        let mut s = self.lock();
        let seen = |s: &Session| (s.closed().is_some(), s.pending_events());
        let (due, before) = (s.poll_timeout(), seen(&s));
        let r = f(&mut s);
        let (moved, after) = (s.poll_timeout() != due, seen(&s));
        drop(s);
        self.outbound.notify_waiters();
        if after != before {
            self.changed.notify_waiters();
        }
        if moved {
            self.timer.notify_waiters();
        }
        r
    }

    /// Wait until `f` returns `Some`, re-checking after every change.
    async fn wait_for<R>(&self, f: impl FnMut(&mut Session) -> Option<R>) -> R {
        self.wait_on(&self.changed, f).await
    }

    /// Wait until `f` returns `Some`, re-checking after every change that concerns the
    /// connection tasks.
    async fn wait_for_outbound<R>(&self, f: impl FnMut(&mut Session) -> Option<R>) -> R {
        self.wait_on(&self.outbound, f).await
    }

    async fn wait_on<R>(&self, notify: &Notify, mut f: impl FnMut(&mut Session) -> Option<R>) -> R {
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(r) = f(&mut self.lock()) {
                return r;
            }
            notified.await;
        }
    }
}

/// What every connection task shares: the sessions, the clock, the settings.
struct Shared {
    config: EngineConfig,
    sessions: Mutex<HashMap<String, Arc<Slot>>>,
    /// The zero of the sessions' clock.
    started: Instant,
    accepted: mpsc::Sender<EngineSocket>,
}

/// Counts the connection tasks, so that a shutdown can wait for them to finish their
/// last writes; tells idle ones to stop waiting for another request.
#[derive(Default)]
struct Connections {
    live: std::sync::atomic::AtomicUsize,
    /// A connection ended (the count may have reached zero).
    ended: Notify,
    stopping: tokio::sync::watch::Sender<bool>,
}

/// One connection task's place in [`Connections`], given back when dropped.
struct Live(Arc<Connections>);

impl Drop for Live {
    fn drop(&mut self) {
        let c = &self.0;
        c.live.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        c.ended.notify_waiters();
    }
}

impl Connections {
    /// Resolves once the server is shutting down: a connection waiting for its next
    /// request gives up.
    async fn stopping(&self) {
        let mut rx = self.stopping.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

impl Shared {
    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    fn table(&self) -> MutexGuard<'_, HashMap<String, Arc<Slot>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An open session by its sid. A closed one is unknown at once, though its timer
    /// task takes it out of the table a moment later.
    fn find(&self, sid: &str) -> Option<Arc<Slot>> {
        let slot = self.table().get(sid).cloned()?;
        let open = slot.lock().closed().is_none();
        open.then_some(slot)
    }

    /// The transport a session is on, for the request checks.
    fn transport_of(&self, sid: &str) -> Option<Transport> {
        self.find(sid).map(|slot| slot.lock().transport())
    }

    /// Open a session: register it, start its timer, hand it to the application.
    /// `None` when the table is full, the application has too many sessions still to
    /// accept, or the OS has no randomness for a sid.
    fn open(self: &Arc<Self>, transport: Transport) -> Option<Arc<Slot>> {
        // A place in the queue of sessions the application has yet to accept, before the
        // session exists: when the application falls that far behind, the handshake is
        // refused rather than answered for a session closed at once.
        let place = self.accepted.try_reserve().ok()?;
        let sid = new_sid()?;
        let session = Session::new(
            sid.clone(),
            self.config.session.clone(),
            transport,
            self.now(),
        );
        let slot = Arc::new(Slot::new(session));
        {
            let mut table = self.table();
            if table.len() >= self.config.max_sessions {
                return None;
            }
            table.insert(sid.clone(), slot.clone());
        }
        tokio::spawn(run_timer(self.clone(), slot.clone()));
        let socket = EngineSocket {
            sid,
            slot: slot.clone(),
            shared: self.clone(),
            reason: None,
        };
        place.send(socket);
        Some(slot)
    }
}

/// A session id as the reference server makes them: 15 random bytes in URL-safe base64
/// (20 characters).
fn new_sid() -> Option<String> {
    use base64::Engine as _;
    let mut bytes = [0u8; 15];
    getrandom::fill(&mut bytes).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A session's timer: sleep until it needs time, feed it the time; when it has closed,
/// take it out of the table (a later request with its sid is "Session ID unknown").
async fn run_timer(shared: Arc<Shared>, slot: Arc<Slot>) {
    loop {
        let notified = slot.timer.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let due = slot.lock().poll_timeout();
        let Some(due) = due else { break };
        let wake = tokio::time::Instant::from_std(shared.started + due);
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {
                slot.with(|s| s.handle_timeout(shared.now()));
            }
            _ = &mut notified => {}
        }
    }
    let sid = slot.lock().sid().to_owned();
    shared.table().remove(&sid);
}

/// An Engine.IO server listening on a TCP port.
pub struct EngineServer {
    local: SocketAddr,
    accepted: mpsc::Receiver<EngineSocket>,
    /// Held: when the last server of a port goes, the port stops listening.
    listening: Arc<Listening>,
}

/// The task accepting TCP connections on one port and the connections it started; it
/// stops when the last server sharing the port goes.
struct Listening {
    task: tokio::task::JoinHandle<()>,
    connections: Arc<Connections>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EngineServer {
    /// Listen on `addr` and serve in the background; sessions wait in [`accept`].
    ///
    /// [`accept`]: EngineServer::accept
    pub async fn bind(addr: SocketAddr, config: EngineConfig) -> std::io::Result<EngineServer> {
        let mut servers = EngineServer::bind_all(addr, vec![config]).await?;
        servers
            .pop()
            .ok_or_else(|| std::io::Error::other("no server"))
    }

    /// Listen on `addr` for several Engine.IO paths at once, one server each (in the
    /// order of `configs`). A request goes to the first whose `path` starts its path;
    /// one that matches none (and no page) is answered as the first would answer it.
    pub async fn bind_all(
        addr: SocketAddr,
        configs: Vec<EngineConfig>,
    ) -> std::io::Result<Vec<EngineServer>> {
        let listener = crate::net::ws::bind(addr).await?;
        let local = listener.local_addr()?;
        let mut servers = Vec::new();
        let mut endpoints = Vec::new();
        for config in configs {
            let (tx, accepted) = mpsc::channel(1024);
            endpoints.push(Arc::new(Shared {
                config,
                sessions: Mutex::new(HashMap::new()),
                started: Instant::now(),
                accepted: tx,
            }));
            servers.push((local, accepted));
        }
        if endpoints.is_empty() {
            return Ok(Vec::new());
        }
        let connections = Arc::new(Connections::default());
        let task = tokio::spawn(listen(listener, endpoints.into(), connections.clone()));
        let listening = Arc::new(Listening { task, connections });
        Ok(servers
            .into_iter()
            .map(|(local, accepted)| EngineServer {
                local,
                accepted,
                listening: listening.clone(),
            })
            .collect())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The next new session.
    pub async fn accept(&mut self) -> Option<EngineSocket> {
        self.accepted.recv().await
    }

    /// Stop listening, tell connections waiting for their next request to end, and wait
    /// (at most `limit`) for every connection task to finish: the answer to a waiting
    /// poll, a WebSocket's last frames and close. Close the sessions first, so that
    /// their last packets are on their way.
    pub async fn shut_down(&mut self, limit: Duration) {
        self.listening.task.abort();
        let c = &self.listening.connections;
        c.stopping.send_replace(true);
        let _ = tokio::time::timeout(limit, async {
            loop {
                let ended = c.ended.notified();
                tokio::pin!(ended);
                ended.as_mut().enable();
                if c.live.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                    return;
                }
                ended.await;
            }
        })
        .await;
    }
}

async fn listen(
    listener: TcpListener,
    endpoints: Arc<[Arc<Shared>]>,
    connections: Arc<Connections>,
) {
    while let Ok((stream, peer)) = listener.accept().await {
        connections
            .live
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let live = Live(connections.clone());
        let endpoints = endpoints.clone();
        tokio::spawn(async move {
            conn::serve(stream, peer, endpoints, &live.0).await;
            drop(live);
        });
    }
}

/// One session, for the application.
pub struct EngineSocket {
    sid: String,
    slot: Arc<Slot>,
    shared: Arc<Shared>,
    reason: Option<CloseReason>,
}

impl EngineSocket {
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The transport the session is on now.
    pub fn transport(&self) -> Transport {
        self.slot.lock().transport()
    }

    /// The next event: a message, the upgrade to WebSocket, the end of the session.
    /// `None` after the end has been handed out.
    pub async fn next_event(&mut self) -> Option<Event> {
        if self.reason.is_some() {
            return None;
        }
        let event = self.slot.wait_for(|s| s.poll_event()).await;
        if let Event::Closed(reason) = event {
            self.reason = Some(reason);
        }
        Some(event)
    }

    /// The next message; `None` once the session has ended (see [`close_reason`]).
    ///
    /// [`close_reason`]: EngineSocket::close_reason
    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            match self.next_event().await? {
                Event::Message(m) => return Some(m),
                Event::Upgraded | Event::Closed(_) => {}
            }
        }
    }

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.reason.or_else(|| self.slot.lock().closed())
    }

    /// Queue a message for the client.
    pub fn send(&self, m: Message) -> Result<(), SendError> {
        self.sender().send(m)
    }

    /// Queue a volatile message: dropped ([`SendError::NotWritable`]) unless the
    /// transport can take it now (a polling GET waits, the WebSocket is not writing).
    pub fn send_volatile(&self, m: Message) -> Result<(), SendError> {
        self.sender().send_volatile(m)
    }

    /// End the session from the server's side ("forced close").
    pub fn close(&self) {
        self.sender().close()
    }

    /// A handle that sends on this session from another task (the socket itself stays
    /// with whoever reads its events).
    pub fn sender(&self) -> EngineSender {
        EngineSender {
            slot: self.slot.clone(),
            shared: self.shared.clone(),
        }
    }
}

/// The sending side of a session, for a task other than the one that reads it. Dropping
/// it changes nothing; the session ends when its [`EngineSocket`] is dropped or closed.
#[derive(Clone)]
pub struct EngineSender {
    slot: Arc<Slot>,
    shared: Arc<Shared>,
}

impl EngineSender {
    /// Queue a message for the client.
    pub fn send(&self, m: Message) -> Result<(), SendError> {
        let now = self.shared.now();
        self.slot.queue(|s| s.send(m, now))
    }

    /// Queue a volatile message: see [`EngineSocket::send_volatile`].
    pub fn send_volatile(&self, m: Message) -> Result<(), SendError> {
        let now = self.shared.now();
        self.slot.queue(|s| s.send_volatile(m, now))
    }

    /// Queue a message, volatile or not, compressible or not.
    pub fn send_with(&self, m: Message, opts: SendOptions) -> Result<(), SendError> {
        let now = self.shared.now();
        self.slot.queue(|s| s.send_with(m, opts, now))
    }

    /// End the session from the server's side ("forced close").
    pub fn close(&self) {
        let now = self.shared.now();
        self.slot.with(|s| s.close(now));
    }
}

/// Dropping the socket ends the session ("forced close"), so a session nobody reads
/// does not hold the client's messages forever.
impl Drop for EngineSocket {
    fn drop(&mut self) {
        self.close();
    }
}

/// The most events a session holds for an application that has not taken them; beyond
/// it, netlab stops reading that client's POSTs and WebSocket frames until it catches up.
const MAX_PENDING_EVENTS: usize = 1024;

impl Slot {
    /// Wait (the backpressure) until the application has taken most of the events.
    async fn wait_for_room(&self) {
        self.wait_for(|s| {
            (s.pending_events() < MAX_PENDING_EVENTS || s.closed().is_some()).then_some(())
        })
        .await
    }
}

/// The Engine.IO test suite's echo server: every message goes back to its sender, on
/// whichever transport the session is on. Runs until the server is dropped.
pub async fn echo(mut server: EngineServer) {
    while let Some(socket) = server.accept().await {
        tokio::spawn(echo_session(socket));
    }
}

/// Echo one session's messages until it ends; returns why it ended.
pub async fn echo_session(mut socket: EngineSocket) -> Option<CloseReason> {
    while let Some(m) = socket.recv().await {
        if socket.send(m).is_err() {
            break;
        }
    }
    socket.close_reason()
}
