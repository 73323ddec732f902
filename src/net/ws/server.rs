//! The echo/broadcast server behind `netlab ws server`: accept connections, run the
//! handshake, echo each message to its sender or pass it to every other client, and
//! report what happened as [`ServerEvent`]s. On shutdown every connection is closed with
//! 1001 (going away, RFC 6455 §7.4.1), bounded by the close timeout.

use super::{accept, AfterReceipt, Received, WsConfig, WsConnection, WsError, WsTrace};
use crate::wire::application::websocket::{CloseCode, Message, MessageKind};
use serde::Serialize;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::timeout;

/// What a server does with each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServeMode {
    /// Send every message back to its sender.
    Echo,
    /// Send every message to every *other* connected client.
    Broadcast,
}

impl ServeMode {
    /// The header field in the server's 101 answer that names its mode, so a client knows
    /// whether to wait for an echo (a broadcast server sends nothing back to the sender).
    /// netlab's own field, not part of RFC 6455.
    pub const HEADER: &'static str = "Netlab-Mode";

    pub fn name(self) -> &'static str {
        match self {
            ServeMode::Echo => "echo",
            ServeMode::Broadcast => "broadcast",
        }
    }
}

/// Who sent the first close frame of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedBy {
    Client,
    Server,
    /// Nobody: the TCP connection just ended, or an error ended it.
    None,
}

impl fmt::Display for ClosedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClosedBy::Client => "client",
            ClosedBy::Server => "server",
            ClosedBy::None => "none",
        })
    }
}

/// The start of a message: enough for a one-line summary (`cmd::ws::describe`) without
/// keeping a large message alive while the event waits to be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageHead {
    pub kind: MessageKind,
    /// The whole message's length in bytes.
    pub len: usize,
    /// At most [`MessageHead::MAX`] bytes from its start; whole characters for text.
    pub head: Vec<u8>,
}

impl MessageHead {
    /// Enough for the 60 characters a summary shows (4 bytes each at most), and a byte
    /// more to see that there is more.
    pub const MAX: usize = 256;

    pub fn of(m: &Message) -> MessageHead {
        let mut end = m.payload.len().min(Self::MAX);
        if m.kind == MessageKind::Text {
            // A text payload is valid UTF-8 (the assembler checked): back up to the start
            // of the character that `end` may cut.
            while end < m.payload.len() && (m.payload[end] & 0xC0) == 0x80 {
                end -= 1;
            }
        }
        MessageHead {
            kind: m.kind,
            len: m.payload.len(),
            head: m.payload[..end].to_vec(),
        }
    }
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
    /// A message arrived (printed by `cmd::ws::server` with its summary).
    Message {
        id: u64,
        #[serde(skip)]
        message: MessageHead,
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
        /// Who sent the first close frame.
        initiated_by: ClosedBy,
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

/// A message from connection `from`, passed to every broadcast client.
#[derive(Debug, Clone)]
struct Broadcast {
    from: u64,
    message: Arc<Message>,
}

type Hub = broadcast::Sender<Broadcast>;

/// Accept connections until `shutdown` turns true, then close every connection with
/// 1001 (going away) and wait, bounded, for them to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    mut opts: ServeOptions,
    events: mpsc::Sender<ServerEvent>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let announce = (ServeMode::HEADER.to_owned(), opts.mode.name().to_owned());
    opts.cfg.policy.extra_headers.push(announce);
    let (hub, _) = broadcast::channel::<Broadcast>(1024);
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

/// One connection, from the handshake to its `Closed` event.
async fn handle(
    id: u64,
    stream: TcpStream,
    opts: ServeOptions,
    events: mpsc::Sender<ServerEvent>,
    shutdown: watch::Receiver<bool>,
    hub: Hub,
) {
    let peer = match stream.peer_addr() {
        Ok(p) => p,
        Err(_) => return,
    };
    let conn = match accept(stream, opts.cfg.clone()).await {
        Ok(c) => c,
        Err(e) => {
            for trace in e.trace {
                let _ = events.send(ServerEvent::Trace { id, trace }).await;
            }
            let _ = events
                .send(ServerEvent::Refused {
                    peer,
                    error: e.error.to_string(),
                })
                .await;
            return;
        }
    };
    let _ = events.send(ServerEvent::Connected { id, peer }).await;
    let inbox = hub.subscribe();
    let mut session = Session {
        id,
        conn,
        opts,
        events,
        hub,
    };
    session.emit_trace().await;
    let closed = session.run(shutdown, inbox).await;
    let _ = session.events.send(closed).await;
}

/// A connection being served.
struct Session {
    id: u64,
    conn: WsConnection,
    opts: ServeOptions,
    events: mpsc::Sender<ServerEvent>,
    hub: Hub,
}

impl Session {
    /// Serve until the connection closes; returns its `Closed` event.
    async fn run(
        &mut self,
        mut shutdown: watch::Receiver<bool>,
        mut inbox: broadcast::Receiver<Broadcast>,
    ) -> ServerEvent {
        let broadcast = self.opts.mode == ServeMode::Broadcast;
        // One wait for the stop signal for the whole session, not one per message (each
        // new wait registers with the channel and unregisters when dropped).
        let stop = stopped(&mut shutdown);
        tokio::pin!(stop);
        loop {
            let received = tokio::select! {
                biased;
                _ = &mut stop => return self.shut_down().await,
                r = self.conn.recv() => r,
                m = inbox.recv(), if broadcast => {
                    if let Err(e) = self.forward(m).await {
                        return closed_by_error(self.id, e);
                    }
                    continue;
                }
            };
            match received {
                Ok(r) => {
                    if let Some(closed) = self.on_received(r).await {
                        return closed;
                    }
                }
                Err(e) => return closed_by_error(self.id, e),
            }
        }
    }

    /// The server is stopping: close with 1001 and wait (bounded) for the client's close.
    async fn shut_down(&mut self) -> ServerEvent {
        let theirs = self
            .conn
            .close(CloseCode::GOING_AWAY, "server shutting down")
            .await;
        self.emit_trace().await;
        ServerEvent::Closed {
            id: self.id,
            initiated_by: ClosedBy::Server,
            code: Some(CloseCode::GOING_AWAY.0),
            reason: "server shutting down".into(),
            error: if theirs.is_some() {
                None
            } else {
                Some("no close frame came back".into())
            },
        }
    }

    /// Pass on another client's broadcast message.
    async fn forward(
        &mut self,
        m: Result<Broadcast, broadcast::error::RecvError>,
    ) -> Result<(), WsError> {
        let sent = match m {
            Ok(b) if b.from != self.id => self.conn.send(&b.message).await,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                // This client could not keep up: the hub dropped its oldest messages.
                let dropped = ServerEvent::Dropped {
                    id: self.id,
                    messages: n,
                };
                let _ = self.events.send(dropped).await;
                Ok(())
            }
            _ => Ok(()), // our own message
        };
        self.emit_trace().await;
        sent
    }

    /// Echo or broadcast a message, then do what the protocol requires; `Some` when the
    /// connection is over.
    async fn on_received(&mut self, r: Received) -> Option<ServerEvent> {
        self.emit_trace().await; // the frames that made `r`, first
        if let Received::Message(m) = &r {
            let delivered_to = if self.opts.mode == ServeMode::Broadcast {
                let n = self.hub.receiver_count().saturating_sub(1);
                let message = Arc::new(m.clone());
                let _ = self.hub.send(Broadcast {
                    from: self.id,
                    message,
                });
                n
            } else {
                if let Err(e) = self.conn.send(m).await {
                    self.emit_trace().await;
                    return Some(closed_by_error(self.id, e));
                }
                1
            };
            if self.opts.report_messages {
                let event = ServerEvent::Message {
                    id: self.id,
                    message: MessageHead::of(m),
                    delivered_to,
                };
                let _ = self.events.send(event).await;
            }
        }
        let flow = self.conn.respond(&r).await;
        self.emit_trace().await;
        match flow {
            Ok(AfterReceipt::Continue) => None,
            flow => Some(closed_after(self.id, &r, flow.err())),
        }
    }

    async fn emit_trace(&mut self) {
        for trace in self.conn.take_trace() {
            let _ = self
                .events
                .send(ServerEvent::Trace { id: self.id, trace })
                .await;
        }
    }
}

/// The `Closed` event after `r` ended the connection (`error`: what `respond` failed with).
fn closed_after(id: u64, r: &Received, error: Option<WsError>) -> ServerEvent {
    match (r, error) {
        (Received::Close(c), _) => ServerEvent::Closed {
            id,
            initiated_by: ClosedBy::Client,
            code: c.code.map(|c| c.0),
            reason: c.reason.clone(),
            error: None,
        },
        (Received::Violation(e), _) => ServerEvent::Closed {
            id,
            initiated_by: ClosedBy::Server,
            code: Some(e.close_code().0),
            reason: String::new(),
            error: Some(e.to_string()),
        },
        (_, Some(e)) => closed_by_error(id, e),
        _ => ServerEvent::Closed {
            id,
            initiated_by: ClosedBy::None,
            code: None,
            reason: String::new(),
            error: Some("the TCP connection ended without a close frame (1006)".into()),
        },
    }
}

/// Resolves once `shutdown` is true (the guard `wait_for` returns is not `Send`).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn closed_by_error(id: u64, e: WsError) -> ServerEvent {
    ServerEvent::Closed {
        id,
        initiated_by: ClosedBy::None,
        code: None,
        reason: String::new(),
        error: Some(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_head_keeps_whole_characters() {
        let text = "é".repeat(200); // 400 bytes, 2 per character
        let h = MessageHead::of(&Message::text(text.clone()));
        assert_eq!((h.len, h.head.len()), (400, 256));
        assert!(std::str::from_utf8(&h.head).is_ok());
        let text = format!("ab{}", "€".repeat(100)); // 2 + 300 bytes: 256 would cut a '€'
        let h = MessageHead::of(&Message::text(text));
        assert_eq!(h.head.len(), 254);
        assert!(std::str::from_utf8(&h.head).is_ok());
        let h = MessageHead::of(&Message::binary(vec![0xff; 300]));
        assert_eq!(h.head.len(), 256);
        let h = MessageHead::of(&Message::text("short"));
        assert_eq!((h.len, h.head.as_slice()), (5, &b"short"[..]));
    }
}
