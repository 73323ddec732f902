//! A Socket.IO 5 server on real sockets: the sans-I/O machine
//! `wire::application::socketio::Server` (where every Socket.IO decision is made) fed by
//! netlab's Engine.IO server (`net::engineio`) and tokio's timers.
//!
//! ```text
//!   EngineServer ──accept──► one task per session ── open · message · upgraded · closed ──┐
//!        ▲                        (owns its EngineSocket)                                 ▼
//!        │                                                                  the machine task
//!        │◄──────────── send · send_volatile · close (an EngineSender per session) ───────┤
//!        │                                                                  owns `Server`,
//!   client (polling, WebSocket)                                             runs its timer,
//!                                                                           calls the `App`
//! ```
//!
//! - One task owns the [`Server`] machine: nothing else touches it, so there are no locks.
//!   It feeds the machine what the sessions report, runs its timer
//!   (`poll_timeout`/`handle_timeout`, time as the `Duration` since [`serve`] started) and
//!   carries out its [`Action`]s at once: a `Send` is queued on the Engine.IO session (a
//!   volatile one only if the transport can take it now, as the real server decides
//!   while the application's emit runs), a `Close` closes the session once what is
//!   queued has gone, an `App` event goes to the [`App`].
//! - One task per Engine.IO session owns its [`EngineSocket`] and forwards its events to
//!   the machine task.
//! - The [`App`] gets every [`AppEvent`] with `&mut Server`, so it answers with the
//!   builders of `socketio::api` (`io.socket(ns, id).emit(..)`, `io.to(room).emit(..)`).
//!
//! Socket ids come from the operating system's random source, in the real server's format
//! ([`socket_id`]: 12 random bytes and a sequence number, 20 characters).

pub mod adapter;
pub mod client;

use crate::net::engineio::{EngineConfig, EngineSender, EngineServer, EngineSocket};
use crate::wire::application::engineio::{
    CloseReason, Event, Message, SendError, SendOptions, Transport,
};
use crate::wire::application::socketio::{
    socket_id, Action, AppEvent, DisconnectReason, EngineMessage, Options, Server,
};
use std::collections::HashMap;
use std::future::Future;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The path the real Socket.IO server and client use (Engine.IO's own default is
/// `/engine.io/`).
pub const PATH: &str = "/socket.io/";

/// How many reports from sessions may wait for the machine task (backpressure: a
/// session's task waits, and so stops reading its client).
const INPUT_QUEUE: usize = 1024;

/// How long [`serve`] waits, after a shutdown, for the sessions to hand their last
/// messages over.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// How long [`serve`] waits at most, after the sessions have ended, for the connections
/// to write their last bytes (a WebSocket's closing handshake included).
const LAST_WRITES: Duration = Duration::from_secs(5);

/// Engine.IO settings for Socket.IO: the path `/socket.io/`, the rest as Engine.IO's.
pub fn engine_config() -> EngineConfig {
    EngineConfig {
        path: PATH.to_owned(),
        ..EngineConfig::default()
    }
}

/// What happened to an Engine.IO session, below Socket.IO (for the application to show).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    Opened {
        session: String,
        transport: Transport,
    },
    /// The session moved from long-polling to its WebSocket.
    Upgraded { session: String },
    Closed {
        session: String,
        reason: CloseReason,
    },
}

/// Which way an Engine.IO message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the client.
    In,
    /// To the client.
    Out,
}

/// The application on top of the machine.
pub trait App: Send + 'static {
    /// A Socket.IO event for the application; answer through `io` (the `api` builders,
    /// `io.ack(..)`, `io.accept(..)`).
    fn event(&mut self, io: &mut Server, event: AppEvent);

    /// An Engine.IO session opened, upgraded or closed.
    fn session(&mut self, _event: SessionEvent) {}

    /// Every Engine.IO message in and out, for tracing.
    fn trace(&mut self, _session: &str, _direction: Direction, _message: &EngineMessage) {}

    /// The Redis adapter connected, lost Redis, or skipped a message ([`serve_with`]).
    fn adapter(&mut self, _event: adapter::AdapterEvent) {}

    /// The application's own inputs (answers from a thread it started, its timers),
    /// polled by the machine task beside the sessions. Act on what is ready through `io`
    /// and return `Ready` when something was done, so that the machine's actions are
    /// carried out; `Pending` once nothing is ready (with the waker registered, as any
    /// `poll`). The default has no inputs of its own.
    fn poll_inputs(&mut self, _io: &mut Server, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

/// A new machine with socket ids from the OS random source.
pub fn machine(options: Options) -> Server {
    let mut sequence: u32 = 0;
    let ids = move || {
        let mut random = [0u8; 12];
        // Should the OS have no randomness to give, the sequence number alone (in the last
        // bytes) still keeps the ids distinct on this server.
        let _ = getrandom::fill(&mut random);
        let id = socket_id(random, sequence);
        sequence = sequence.wrapping_add(1);
        id
    };
    Server::new(options, Box::new(ids))
}

/// What a session's task tells the machine task.
enum Input {
    Opened {
        session: String,
        transport: Transport,
        sender: EngineSender,
    },
    Message(String, Message),
    Upgraded(String),
    Closed(String, CloseReason),
}

/// Serve Socket.IO on `engine` with the machine `io` and the application `app` until
/// `shutdown` completes (then every session closes: `server shutting down`).
pub async fn serve(
    engine: EngineServer,
    io: Server,
    app: impl App,
    shutdown: impl Future<Output = ()>,
) {
    serve_with(engine, io, app, shutdown, None).await;
}

/// [`serve`], as one node of several when `link` connects it to the others through
/// Redis (see [`adapter`]).
pub async fn serve_with(
    mut engine: EngineServer,
    mut io: Server,
    mut app: impl App,
    shutdown: impl Future<Output = ()>,
    mut link: Option<adapter::Link>,
) {
    let started = Instant::now();
    let (input_tx, mut input) = mpsc::channel(INPUT_QUEUE);
    let mut sessions: HashMap<String, EngineSender> = HashMap::new();
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let due = io.poll_timeout();
        let timer = async move {
            match due {
                Some(due) => tokio::time::sleep_until(started + due).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            socket = engine.accept() => {
                let Some(socket) = socket else { break };
                tasks.spawn(run_session(socket, input_tx.clone()));
            }
            Some(report) = input.recv() => {
                let now = started.elapsed();
                take_input(&mut io, &mut app, &mut sessions, report, now);
            }
            () = timer => io.handle_timeout(started.elapsed()),
            report = adapter::recv(&mut link) => {
                adapter::take(&mut io, &mut app, report, started.elapsed());
            }
            () = std::future::poll_fn(|cx| app.poll_inputs(&mut io, cx)) => {}
            () = &mut shutdown => {
                io.shutdown(started.elapsed());
                carry_out(&mut io, &mut app, &mut sessions);
                break;
            }
        }
        // Reap the session tasks that have ended, so the set stays as small as the table.
        while tasks.try_join_next().is_some() {}
        carry_out(&mut io, &mut app, &mut sessions);
        adapter::flush(&mut io, &mut link, &mut app, started.elapsed());
        carry_out(&mut io, &mut app, &mut sessions);
    }
    // Every session still open closes once its queued messages have gone.
    sessions.values().for_each(EngineSender::close);
    drop(sessions);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    // A session ends when its close packet is handed to its transport; the connection
    // tasks of `net::engineio` then write it (the answer to a polling GET, a WebSocket
    // frame and close): wait for them.
    engine.shut_down(LAST_WRITES).await;
}

/// Feed the machine one report from a session.
fn take_input(
    io: &mut Server,
    app: &mut impl App,
    sessions: &mut HashMap<String, EngineSender>,
    report: Input,
    now: Duration,
) {
    match report {
        Input::Opened {
            session,
            transport,
            sender,
        } => {
            sessions.insert(session.clone(), sender);
            io.open(&session, now);
            app.session(SessionEvent::Opened { session, transport });
        }
        Input::Message(session, message) => {
            let message = match message {
                Message::Text(t) => EngineMessage::Text(t),
                Message::Binary(b) => EngineMessage::Binary(b),
            };
            app.trace(&session, Direction::In, &message);
            io.message(&session, message, now);
        }
        Input::Upgraded(session) => app.session(SessionEvent::Upgraded { session }),
        Input::Closed(session, reason) => {
            sessions.remove(&session);
            io.closed(&session, disconnect_reason(reason), now);
            app.session(SessionEvent::Closed { session, reason });
        }
    }
}

/// Why the sockets of a session leave, from why Engine.IO closed it (the same words).
pub fn disconnect_reason(reason: CloseReason) -> DisconnectReason {
    match reason {
        CloseReason::TransportClose => DisconnectReason::TransportClose,
        CloseReason::TransportError => DisconnectReason::TransportError,
        CloseReason::PingTimeout => DisconnectReason::PingTimeout,
        CloseReason::ForcedClose => DisconnectReason::ForcedClose,
        CloseReason::ParseError => DisconnectReason::ParseError,
    }
}

/// Do everything the machine asks. Each action comes from an input already taken, so the
/// loop ends, unless the application answers every event with another one forever.
fn carry_out(io: &mut Server, app: &mut impl App, sessions: &mut HashMap<String, EngineSender>) {
    while let Some(action) = io.poll_action() {
        match action {
            Action::Send {
                session,
                messages,
                volatile,
                compress,
            } => {
                let Some(sender) = sessions.get(&session) else {
                    continue;
                };
                messages
                    .iter()
                    .for_each(|m| app.trace(&session, Direction::Out, m));
                if hand_over(sender, &messages, volatile, compress) == HandOver::Closed {
                    sessions.remove(&session);
                }
            }
            Action::Close { session } => {
                if let Some(sender) = sessions.remove(&session) {
                    sender.close();
                }
            }
            Action::App(event) => app.event(io, event),
        }
    }
}

/// What became of a batch handed to a session.
#[derive(Debug, PartialEq, Eq)]
enum HandOver {
    Queued,
    /// A volatile batch the transport could not take now (or with the buffer full).
    Dropped,
    /// The session is closed, or was closed because its client does not keep up.
    Closed,
}

/// Queue a batch (a packet and its attachments) on the Engine.IO session. A volatile
/// batch goes only if the transport can take it now (a polling GET waits, the WebSocket
/// is not busy writing), as the real server's `if (volatile && !transport.writable)`;
/// its attachments follow its first message. When the session's buffer is full, a
/// volatile batch is dropped and anything else closes the session: losing a message
/// silently would be worse, and so would a packet cut from its attachments, which would
/// derail the client's decoder. `compress: false` (the application's `compress(false)`)
/// sends every message of the batch uncompressed.
fn hand_over(
    sender: &EngineSender,
    messages: &[EngineMessage],
    volatile: bool,
    compress: bool,
) -> HandOver {
    for (i, m) in messages.iter().enumerate() {
        let m = match m {
            EngineMessage::Text(t) => Message::Text(t.clone()),
            EngineMessage::Binary(b) => Message::Binary(b.clone()),
        };
        let first_volatile = volatile && i == 0;
        let opts = SendOptions {
            volatile: first_volatile,
            compress,
        };
        let sent = sender.send_with(m, opts);
        match sent {
            Ok(()) => {}
            Err(SendError::NotWritable) => return HandOver::Dropped,
            Err(SendError::BufferFull { .. }) if first_volatile => return HandOver::Dropped,
            Err(SendError::BufferFull { .. }) => {
                sender.close();
                return HandOver::Closed;
            }
            Err(SendError::Closed) => return HandOver::Closed,
        }
    }
    HandOver::Queued
}

/// One session's task: report its events to the machine task until the session ends
/// (or the machine task is gone, which drops the socket and so closes the session).
async fn run_session(mut socket: EngineSocket, input: mpsc::Sender<Input>) {
    let session = socket.sid().to_owned();
    let opened = Input::Opened {
        session: session.clone(),
        transport: socket.transport(),
        sender: socket.sender(),
    };
    if input.send(opened).await.is_err() {
        return;
    }
    while let Some(event) = socket.next_event().await {
        let report = match event {
            Event::Message(m) => Input::Message(session.clone(), m),
            Event::Upgraded => Input::Upgraded(session.clone()),
            Event::Closed(reason) => Input::Closed(session.clone(), reason),
        };
        let last = matches!(report, Input::Closed(..));
        if input.send(report).await.is_err() || last {
            break;
        }
    }
}

/// Bind an Engine.IO server for Socket.IO on `addr` (see [`engine_config`]).
pub async fn bind(
    addr: std::net::SocketAddr,
    config: EngineConfig,
) -> std::io::Result<EngineServer> {
    EngineServer::bind(addr, config).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn socket_ids_look_like_the_real_servers_and_differ() {
        // The CONNECT answer a real socket.io 4.8 server sent: `0{"sid":"wZX3oN0bSVIhsaknAAAI"}`.
        let real = "wZX3oN0bSVIhsaknAAAI";
        let mut io = machine(Options::default());
        io.open("s1", Duration::ZERO);
        io.message("s1", EngineMessage::Text("0".into()), Duration::ZERO);
        io.open("s2", Duration::ZERO);
        io.message("s2", EngineMessage::Text("0".into()), Duration::ZERO);
        let ids = io.sockets("/");
        assert_eq!(ids.len(), 2);
        for id in &ids {
            assert_eq!(id.len(), real.len(), "{id}");
            let bytes = base64::engine::general_purpose::URL_SAFE
                .decode(id)
                .expect("URL-safe base64");
            assert_eq!(bytes.len(), 15);
        }
        assert_ne!(ids[0][..16], ids[1][..16], "random parts differ");
    }

    #[test]
    fn engineio_close_reasons_keep_their_words() {
        for reason in [
            CloseReason::TransportClose,
            CloseReason::TransportError,
            CloseReason::PingTimeout,
            CloseReason::ForcedClose,
            CloseReason::ParseError,
        ] {
            assert_eq!(disconnect_reason(reason).as_str(), reason.as_str());
        }
    }
}
