//! A Socket.IO 5 server on real sockets: the sans-I/O machine
//! `wire::application::socketio::Server` (where every Socket.IO decision is made) fed by
//! netlab's Engine.IO server (`net::engineio`) and tokio's timers.
//!
//! ```text
//!   EngineServer ──accept──► one task per session ── open · message · upgraded · closed ──┐
//!        ▲                        (owns its EngineSocket)                                 ▼
//!        │                              ▲                                   the machine task
//!        │                              └──── Send(messages) / channel dropped = close ───┤
//!        │                                                                  owns `Server`,
//!   client (polling, WebSocket)                                             runs its timer,
//!                                                                           calls the `App`
//! ```
//!
//! - One task owns the [`Server`] machine: nothing else touches it, so there are no locks.
//!   It feeds the machine what the sessions report, runs its timer
//!   (`poll_timeout`/`handle_timeout`, time as the `Duration` since [`serve`] started) and
//!   carries out its [`Action`]s: a `Send` goes to the session's task, a `Close` drops the
//!   channel to that task (which then closes the Engine.IO session once the messages
//!   already queued are handed over), an `App` event goes to the [`App`].
//! - One task per Engine.IO session owns its [`EngineSocket`]: it forwards the session's
//!   events to the machine task and hands the machine's messages to the session.
//! - The [`App`] gets every [`AppEvent`] with `&mut Server`, so it answers with the
//!   builders of `socketio::api` (`io.socket(ns, id).emit(..)`, `io.to(room).emit(..)`).
//!
//! Socket ids come from the operating system's random source, in the real server's format
//! ([`socket_id`]: 12 random bytes and a sequence number, 20 characters).

pub mod client;

use crate::net::engineio::{EngineConfig, EngineServer, EngineSocket};
use crate::wire::application::engineio::{CloseReason, Event, Message, SendError, Transport};
use crate::wire::application::socketio::{
    socket_id, Action, AppEvent, DisconnectReason, EngineMessage, Options, Server,
};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The path the real Socket.IO server and client use (Engine.IO's own default is
/// `/engine.io/`).
pub const PATH: &str = "/socket.io/";

/// How many batches of messages may wait for one session's task; past it, a volatile
/// event is dropped and anything else closes the session (its client cannot keep up).
const SESSION_QUEUE: usize = 256;

/// How many reports from sessions may wait for the machine task (backpressure: a
/// session's task waits, and so stops reading its client).
const INPUT_QUEUE: usize = 1024;

/// How long [`serve`] waits, after a shutdown, for the sessions to hand their last
/// messages over.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// How long [`serve`] waits, after the sessions have ended, for their last bytes to leave.
const LAST_WRITES: Duration = Duration::from_millis(100);

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
        to_session: mpsc::Sender<Outbound>,
    },
    Message(String, Message),
    Upgraded(String),
    Closed(String, CloseReason),
}

/// Messages for one session.
struct Outbound {
    messages: Arc<[EngineMessage]>,
    volatile: bool,
}

/// Serve Socket.IO on `engine` with the machine `io` and the application `app` until
/// `shutdown` completes (then every session closes: `server shutting down`).
pub async fn serve(
    mut engine: EngineServer,
    mut io: Server,
    mut app: impl App,
    shutdown: impl Future<Output = ()>,
) {
    let started = Instant::now();
    let (input_tx, mut input) = mpsc::channel(INPUT_QUEUE);
    let mut sessions: HashMap<String, mpsc::Sender<Outbound>> = HashMap::new();
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
            () = &mut shutdown => {
                io.shutdown(started.elapsed());
                carry_out(&mut io, &mut app, &mut sessions);
                break;
            }
        }
        // Reap the session tasks that have ended, so the set stays as small as the table.
        while tasks.try_join_next().is_some() {}
        carry_out(&mut io, &mut app, &mut sessions);
    }
    // Dropping the channels closes every session once its queued messages are handed over.
    drop(sessions);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    // A session ends when its close packet is handed to its transport; the connection
    // tasks of `net::engineio` then write it (the answer to a polling GET, a WebSocket
    // frame), and cannot be awaited from here: give them a moment.
    tokio::time::sleep(LAST_WRITES).await;
}

/// Feed the machine one report from a session.
fn take_input(
    io: &mut Server,
    app: &mut impl App,
    sessions: &mut HashMap<String, mpsc::Sender<Outbound>>,
    report: Input,
    now: Duration,
) {
    match report {
        Input::Opened {
            session,
            transport,
            to_session,
        } => {
            sessions.insert(session.clone(), to_session);
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
fn carry_out(
    io: &mut Server,
    app: &mut impl App,
    sessions: &mut HashMap<String, mpsc::Sender<Outbound>>,
) {
    while let Some(action) = io.poll_action() {
        match action {
            Action::Send {
                session,
                messages,
                volatile,
                compress: _,
            } => {
                let Some(to_session) = sessions.get(&session) else {
                    continue;
                };
                messages
                    .iter()
                    .for_each(|m| app.trace(&session, Direction::Out, m));
                let full = to_session
                    .try_send(Outbound { messages, volatile })
                    .is_err();
                if full && !volatile {
                    // The client does not keep up: losing a message silently would be
                    // worse than closing.
                    sessions.remove(&session);
                }
            }
            Action::Close { session } => {
                sessions.remove(&session);
            }
            Action::App(event) => app.event(io, event),
        }
    }
}

/// One session's task: report its events to the machine task, hand the machine's
/// messages to it, close it when the machine drops its channel.
async fn run_session(mut socket: EngineSocket, input: mpsc::Sender<Input>) {
    let session = socket.sid().to_owned();
    let (to_session, mut outbound) = mpsc::channel(SESSION_QUEUE);
    let opened = Input::Opened {
        session: session.clone(),
        transport: socket.transport(),
        to_session,
    };
    if input.send(opened).await.is_err() {
        return;
    }
    let mut machine_open = true;
    loop {
        tokio::select! {
            event = socket.next_event() => {
                let report = match event {
                    Some(Event::Message(m)) => Input::Message(session.clone(), m),
                    Some(Event::Upgraded) => Input::Upgraded(session.clone()),
                    Some(Event::Closed(reason)) => Input::Closed(session.clone(), reason),
                    None => break,
                };
                let last = matches!(report, Input::Closed(..));
                if input.send(report).await.is_err() || last {
                    break;
                }
            }
            out = outbound.recv(), if machine_open => match out {
                Some(out) => hand_over(&socket, out),
                None => {
                    machine_open = false;
                    socket.close();
                }
            },
        }
    }
}

/// Queue a batch on the Engine.IO session. When its buffer is full, a volatile batch is
/// dropped and anything else closes the session (so does a batch cut after its first
/// message: a packet without its attachments would derail the client's decoder).
fn hand_over(socket: &EngineSocket, out: Outbound) {
    for (i, m) in out.messages.iter().enumerate() {
        let m = match m {
            EngineMessage::Text(t) => Message::Text(t.clone()),
            EngineMessage::Binary(b) => Message::Binary(b.clone()),
        };
        match socket.send(m) {
            Ok(()) => {}
            Err(SendError::BufferFull { .. }) if out.volatile && i == 0 => return,
            Err(SendError::BufferFull { .. }) => return socket.close(),
            Err(SendError::Closed) => return,
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
