//! `netlab socketio`: Socket.IO 5 on real sockets.
//!
//! - `server`: a Socket.IO server (echo or chat) that prints every session, socket and
//!   event, and with `--trace` every packet.
//! - `client`: joins a namespace over WebSocket and emits what is typed.
//! - `cluster`: several nodes behind a balancer: sticky sessions, broadcasts across nodes.
//!
//! The protocol is `wire::application::socketio` (no I/O); `net::socketio` joins it to
//! the Engine.IO server. This module turns arguments into a plan, holds the applications
//! ([`apps`]) and hands what happens to `output` as [`Line`]s.

pub mod apps;
pub mod broadcast_app;
pub mod client;
pub mod cluster;
pub mod demo;
pub mod server;
pub mod web;

use crate::cli::socketio::{AppKind, SocketioArgs, SocketioCommand};
use crate::net::runtime::{runtime, Runtime};
use crate::net::socketio::Direction;
use crate::output::{Output, Paint, Render, Style};
use crate::wire::application::socketio::{Data, EngineMessage};
use crate::wire::text;
use serde::Serialize;
use serde_json::Value;

/// Run one `netlab socketio` subcommand.
pub fn run(args: SocketioArgs, out: &mut Output) -> anyhow::Result<()> {
    match args.command {
        SocketioCommand::Server(a) => {
            let plan = server::Plan::try_from(a)?;
            let rt = runtime(Runtime::MultiThread)?;
            let r = rt.block_on(server::run(plan, out));
            rt.shutdown_background();
            r
        }
        SocketioCommand::Demo(_) => {
            let rt = runtime(Runtime::MultiThread)?;
            let r = rt.block_on(demo::run(out));
            rt.shutdown_background();
            r
        }
        SocketioCommand::Cluster(a) => {
            let plan = cluster::Plan::try_from(a)?;
            let rt = runtime(Runtime::MultiThread)?;
            let r = rt.block_on(cluster::run(plan, out));
            rt.shutdown_background();
            r
        }
        SocketioCommand::Client(a) => {
            let plan = client::Plan::try_from(a)?;
            let rt = runtime(Runtime::CurrentThread)?;
            let r = rt.block_on(client::run(plan, out));
            // A pending read of the terminal must not keep the process alive.
            rt.shutdown_background();
            r
        }
    }
}

/// One line of a server's log: what happened, to which session or socket.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Line {
    /// The first line: where to connect.
    Listening {
        url: String,
        path: &'static str,
        app: AppKind,
        /// The chat page's address, when the application has one.
        #[serde(skip_serializing_if = "Option::is_none")]
        page: Option<String>,
        /// The raw Engine.IO echo server's address (the conformance app).
        #[serde(skip_serializing_if = "Option::is_none")]
        engineio_echo: Option<String>,
    },
    /// An Engine.IO session opened (a client connected).
    SessionOpen {
        session: String,
        transport: &'static str,
    },
    /// The session moved from long-polling to its WebSocket.
    Upgrade {
        session: String,
    },
    SessionClose {
        session: String,
        reason: &'static str,
    },
    /// A socket joined a namespace (the CONNECT answer carries its id).
    Connect {
        namespace: String,
        socket: String,
        session: String,
    },
    /// An event from a client; binary arguments are shown as `<N bytes: hex>`.
    Event {
        namespace: String,
        socket: String,
        name: String,
        args: Vec<Value>,
        ack: Option<u64>,
    },
    Disconnect {
        namespace: String,
        socket: String,
        reason: &'static str,
    },
    /// A client broke the packet format; its session was closed.
    ProtocolError {
        session: String,
        error: String,
    },
    /// One Engine.IO message (`--trace`): a packet's text, or one binary attachment.
    Packet {
        session: String,
        direction: Direction,
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        binary: Option<String>,
    },
    /// Lines the terminal could not take fast enough and that were left out.
    Skipped {
        lines: u64,
    },
    ShuttingDown {
        signal: &'static str,
    },
    /// The Redis adapter (`--adapter`): `connected` (subscribed: broadcasts cross the
    /// nodes; `connection` 2 and on: back after a loss, with the messages for the other
    /// nodes `dropped` meanwhile), `lost` (Redis went away or cannot be reached: this node
    /// serves its own clients alone and retries) or `unreadable` (a message from another
    /// node skipped).
    Adapter {
        state: &'static str,
        detail: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        connection: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        dropped: Option<u64>,
    },
}

impl Line {
    /// A traced Engine.IO message.
    pub fn packet(session: &str, direction: Direction, m: &EngineMessage) -> Line {
        let (text, binary) = match m {
            EngineMessage::Text(t) => (Some(t.clone()), None),
            EngineMessage::Binary(b) => (None, Some(show_binary(b))),
        };
        Line::Packet {
            session: session.to_owned(),
            direction,
            text,
            binary,
        }
    }
}

/// Bytes as `<N bytes: 01 02 …>` (the first 32 bytes).
fn show_binary(bytes: &[u8]) -> String {
    const SHOWN: usize = 32;
    let hex: Vec<String> = bytes
        .iter()
        .take(SHOWN)
        .map(|b| format!("{b:02x}"))
        .collect();
    let more = if bytes.len() > SHOWN { " …" } else { "" };
    format!("<{} bytes: {}{more}>", bytes.len(), hex.join(" "))
}

/// An argument as JSON for the log: binary shown as `<N bytes: hex>`.
pub fn shown(data: &Data) -> Value {
    match data {
        Data::Json(v) => v.clone(),
        Data::Binary(b) => Value::String(show_binary(b)),
        Data::Array(items) => Value::Array(items.iter().map(shown).collect()),
        Data::Object(fields) => {
            Value::Object(fields.iter().map(|(k, v)| (k.clone(), shown(v))).collect())
        }
    }
}

fn adapter_line(
    style: &Style,
    state: &str,
    detail: &str,
    connection: u64,
    dropped: Option<u64>,
) -> String {
    let good = |w| style.paint(Paint::Good, w);
    let bad = |w| style.paint(Paint::Bad, w);
    match (state, connection) {
        ("connected", 0 | 1) => format!(
            "adapter {} to {detail}: broadcasts now cross the nodes",
            good("connected")
        ),
        ("connected", _) => format!(
            "adapter {} to {detail}: broadcasts cross the nodes again; {} message(s) for the other nodes were dropped while Redis was away, and what they published meanwhile never arrived here",
            good("connected again"),
            dropped.unwrap_or_default()
        ),
        ("lost", 0) => format!(
            "adapter {} Redis ({detail}): serving this node's clients alone, retrying",
            bad("cannot reach")
        ),
        ("lost", _) => format!(
            "adapter {} Redis ({detail}): serving this node's clients alone, retrying",
            bad("lost")
        ),
        _ => format!("adapter skipped a message from another node: {detail}"),
    }
}

/// The first 8 characters of an id: enough to tell sessions apart on a terminal.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// The first line: where to connect, what runs there, and the chat page or the raw
/// Engine.IO echo when there is one.
fn listening(
    style: &Style,
    url: &str,
    app: AppKind,
    page: Option<&str>,
    echo: Option<&str>,
) -> String {
    let what = match app {
        AppKind::Echo => "echo: every event goes back to its sender",
        AppKind::Chat => "chat: nicknames, rooms, private messages",
        AppKind::Conformance => "conformance: the protocol test suites' server",
        AppKind::Bench => "bench: echo, join, broadcast, room",
        AppKind::Broadcast => "broadcast: io.emit, io.to, io.except, io.local on command",
    };
    let extra = match (page, echo) {
        (Some(p), _) => format!("; the chat page: {}", style.paint(Paint::Bold, p)),
        (None, Some(e)) => format!("; raw Engine.IO echo: {}", style.paint(Paint::Bold, e)),
        (None, None) => String::new(),
    };
    format!(
        "listening on {} ({what}){extra}; Ctrl-C closes every session and stops",
        style.paint(Paint::Bold, url)
    )
}

impl Render for Line {
    fn render_human(&self, style: &Style) -> String {
        match self {
            Line::Listening {
                url,
                app,
                page,
                engineio_echo,
                ..
            } => listening(style, url, *app, page.as_deref(), engineio_echo.as_deref()),
            Line::SessionOpen { session, transport } => format!(
                "session {} {} over {transport}",
                short(session),
                style.paint(Paint::Good, "opened")
            ),
            Line::Adapter {
                state,
                detail,
                connection,
                dropped,
            } => adapter_line(style, state, detail, connection.unwrap_or(0), *dropped),
            Line::Upgrade { session } => format!(
                "session {} upgraded from polling to websocket",
                short(session)
            ),
            Line::SessionClose { session, reason } => {
                format!("session {} closed: {reason}", short(session))
            }
            Line::Connect {
                namespace,
                socket,
                session,
            } => format!(
                "socket {socket} {} {namespace} (session {})",
                style.paint(Paint::Good, "joined"),
                short(session)
            ),
            Line::Event {
                namespace,
                socket,
                name,
                args,
                ack,
            } => {
                let args = serde_json::to_string(args).unwrap_or_default();
                let ack = ack.map_or(String::new(), |id| format!(" (asks ack {id})"));
                let name = text::quoted(name.as_bytes(), 80);
                format!("socket {socket} {namespace}: event {name} {args}{ack}")
            }
            Line::Disconnect {
                namespace,
                socket,
                reason,
            } => format!("socket {socket} left {namespace}: {reason}"),
            Line::ProtocolError { session, error } => format!(
                "session {} {}: {error}",
                short(session),
                style.paint(Paint::Bad, "broke the protocol")
            ),
            Line::Packet {
                session,
                direction,
                text,
                binary,
            } => {
                let arrow = match direction {
                    Direction::In => style.paint(Paint::Client, "client → server"),
                    Direction::Out => style.paint(Paint::Server, "server → client"),
                };
                let what = match (text, binary) {
                    (Some(t), _) => text::quoted(t.as_bytes(), 200),
                    (None, Some(b)) => format!("attachment {b}"),
                    (None, None) => String::new(),
                };
                format!(
                    "  {} {arrow} {what}",
                    style.paint(Paint::Dim, short(session))
                )
            }
            Line::Skipped { lines } => style.paint(
                Paint::Warn,
                format!("({lines} line(s) left out: the terminal was too slow)"),
            ),
            Line::ShuttingDown { signal } => {
                format!("{signal}: closing every session (server shutting down)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn binary_arguments_are_shown_as_their_length_and_bytes() {
        let data = Data::Array(vec![
            Data::Json(json!("x")),
            Data::Object(vec![("file".into(), Data::Binary(vec![1, 2, 0xff]))]),
            Data::Binary((0..40).collect()),
        ]);
        let long = format!(
            "<40 bytes: {} …>",
            (0..32u8)
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert_eq!(
            shown(&data),
            json!(["x", {"file": "<3 bytes: 01 02 ff>"}, long])
        );
    }

    #[test]
    fn a_traced_packet_says_its_direction_in_json() {
        let line = Line::packet(
            "abc",
            Direction::In,
            &EngineMessage::Text("2[\"a\"]".into()),
        );
        assert_eq!(
            serde_json::to_value(&line).unwrap(),
            json!({"event": "packet", "session": "abc", "direction": "in", "text": "2[\"a\"]"})
        );
    }
}
