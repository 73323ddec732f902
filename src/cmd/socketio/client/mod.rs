//! `netlab socketio client URL`: join a namespace (over polling, then the upgrade, as
//! socket.io-client does), emit what you type, see what the server emits, and watch the
//! client connect again when the connection drops.

mod typed;

pub use typed::{parse_command, Awaited, Command};

use super::{shown, Line};
use crate::cli::socketio::{ClientArgs, ClientTransport};
use crate::error::{usage, HintExt};
use crate::net::socketio::client::{
    ClientError, Delivery, Heard, Options, SioClient, TransportChoice,
};
use crate::net::socketio::Direction;
use crate::net::ws::{WsConfig, WsUrl};
use crate::output::{Output, Paint, Render, Style};
use crate::wire::application::engineio::client::Backoff;
use crate::wire::application::socketio::Data;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// A validated client plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub host: String,
    pub port: u16,
    pub options: Options,
    pub trace: bool,
}

impl TryFrom<ClientArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: ClientArgs) -> anyhow::Result<Plan> {
        let hint = "give the server as http://HOST:PORT, e.g. http://127.0.0.1:3000";
        if a.url.starts_with("https://") || a.url.starts_with("wss://") {
            return Err(usage(
                format!("'{}' needs TLS, which netlab does not speak", a.url),
                hint,
            ));
        }
        let as_ws = match a.url.strip_prefix("http://") {
            Some(rest) => format!("ws://{rest}"),
            None => a.url.clone(),
        };
        let url: WsUrl = as_ws.parse().map_err(|e: String| usage(e, hint))?;
        if !a.namespace.starts_with('/') {
            return Err(usage(
                format!("'{}' is not a namespace", a.namespace),
                "a namespace starts with /, as /admin",
            ));
        }
        if !a.path.starts_with('/') {
            return Err(usage(
                format!("'{}' is not a path", a.path),
                "a path starts with /, as /socket.io/",
            ));
        }
        let auth = a.auth.as_deref().map(parse_auth).transpose()?;
        if !(0.0..=1.0).contains(&a.randomization_factor) {
            return Err(usage(
                format!("{} is not between 0 and 1", a.randomization_factor),
                "--randomization-factor 0.5 moves each delay by up to half",
            ));
        }
        if a.reconnection_delay_ms > a.reconnection_delay_max_ms {
            return Err(usage(
                "--reconnection-delay-ms is larger than --reconnection-delay-max-ms",
                "the first delay doubles up to the maximum: 1000 and 5000 by default",
            ));
        }
        let transport = match a.transport {
            None => TransportChoice::PollingThenUpgrade,
            Some(ClientTransport::Polling) => TransportChoice::Polling,
            Some(ClientTransport::Websocket) => TransportChoice::WebSocket,
        };
        let options = Options {
            namespace: a.namespace,
            path: a.path,
            transport,
            auth,
            reconnection: !a.no_reconnection,
            reconnection_attempts: a.reconnection_attempts,
            backoff: Backoff {
                min_ms: a.reconnection_delay_ms,
                max_ms: a.reconnection_delay_max_ms,
                randomization: a.randomization_factor,
                attempts: 0,
            },
            ws: WsConfig {
                idle_timeout: Duration::from_secs(3600),
                ..WsConfig::default()
            },
            ..Options::default()
        };
        Ok(Plan {
            host: url.host,
            port: url.port,
            options,
            trace: a.trace,
        })
    }
}

fn parse_auth(text: &str) -> anyhow::Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(usage(
            format!("--auth {text}: not a JSON object"),
            r#"auth is an object, as --auth '{"token":"abc"}'"#,
        )),
        Err(e) => Err(usage(
            format!("--auth {text}: not JSON ({e})"),
            r#"auth is an object, as --auth '{"token":"abc"}'"#,
        )),
    }
}

/// How long the end of input waits for the answers still awaited.
const LINGER: Duration = Duration::from_secs(2);

/// What the client prints.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ClientLine {
    /// An Engine.IO session opened.
    Opened {
        session: String,
        transport: String,
    },
    /// The session moved from long-polling onto its WebSocket.
    Upgraded {
        session: String,
    },
    /// The namespace let the socket in.
    Connected {
        namespace: String,
        socket: String,
        session: String,
        transport: String,
        /// The server restored the previous session and replays what was missed.
        recovered: bool,
    },
    ConnectError {
        payload: Value,
    },
    /// An event from the server.
    Event {
        name: String,
        args: Vec<Value>,
        ack: Option<u64>,
    },
    /// The answer to one of our emits with ack.
    Ack {
        id: u64,
        args: Vec<Value>,
    },
    /// Our emit: sent, buffered until connected again, or dropped (volatile).
    Sent {
        name: String,
        ack: Option<u64>,
        volatile: bool,
        delivery: &'static str,
    },
    Disconnected {
        reason: String,
    },
    Reconnecting {
        attempt: u32,
        delay_ms: u64,
    },
    ReconnectFailed {
        attempt: u32,
        error: String,
    },
    GaveUp {
        attempts: u32,
    },
    /// One Engine.IO packet and what carried it (`--trace`).
    Engine {
        direction: Direction,
        packet: String,
        carrier: String,
    },
    /// A typed line that is not a command, or a wait that ran out.
    Note {
        text: String,
    },
}

impl Render for ClientLine {
    fn render_human(&self, style: &Style) -> String {
        let json = |v: &[Value]| serde_json::to_string(v).unwrap_or_default();
        match self {
            ClientLine::Opened { session, transport } => {
                format!("session {session} opened over {transport}")
            }
            ClientLine::Upgraded { session } => {
                format!("session {session} upgraded from polling to websocket")
            }
            ClientLine::Connected {
                namespace,
                socket,
                recovered,
                transport,
                ..
            } => {
                let recovered = if *recovered { ", state recovered" } else { "" };
                format!(
                    "{} {namespace} as socket {socket} (over {transport}{recovered})",
                    style.paint(Paint::Good, "joined")
                )
            }
            ClientLine::ConnectError { payload } => {
                format!("{} {payload}", style.paint(Paint::Bad, "refused:"))
            }
            ClientLine::Event { name, args, ack } => {
                let ack = ack.map_or(String::new(), |id| format!(" (acknowledged, id {id})"));
                format!("← event {name:?} {}{ack}", json(args))
            }
            ClientLine::Ack { id, args } => format!("← ack {id} {}", json(args)),
            ClientLine::Sent {
                name,
                ack,
                volatile,
                delivery,
            } => {
                let ack = ack.map_or(String::new(), |id| format!(" (asks ack {id})"));
                let volatile = if *volatile { " volatile" } else { "" };
                let delivery = match *delivery {
                    "sent" => String::new(),
                    d => format!(": {}", style.paint(Paint::Warn, d)),
                };
                format!("→{volatile} event {name:?}{ack}{delivery}")
            }
            ClientLine::Disconnected { reason } => {
                format!("{} {reason}", style.paint(Paint::Bad, "disconnected:"))
            }
            ClientLine::Reconnecting { attempt, delay_ms } => {
                format!("reconnecting in {delay_ms} ms (attempt {attempt})")
            }
            ClientLine::ReconnectFailed { attempt, error } => {
                format!("attempt {attempt} failed: {error}")
            }
            ClientLine::GaveUp { attempts } => style.paint(
                Paint::Bad,
                format!("gave up reconnecting after {attempts} attempts"),
            ),
            ClientLine::Engine {
                direction,
                packet,
                carrier,
            } => {
                let arrow = match direction {
                    Direction::In => style.paint(Paint::Client, "  engine.io →"),
                    Direction::Out => style.paint(Paint::Server, "  engine.io ←"),
                };
                let packet = crate::wire::text::quoted(packet.as_bytes(), 200);
                format!(
                    "{arrow} {packet} {}",
                    style.paint(Paint::Dim, format!("in {carrier}"))
                )
            }
            ClientLine::Note { text } => style.paint(Paint::Warn, text),
        }
    }
}

/// What the loop is doing with the input.
struct Input {
    open: bool,
    /// Reading waits until this happens, or the instant passes.
    waiting: Option<(Awaited, tokio::time::Instant)>,
    sleeping_until: Option<tokio::time::Instant>,
    /// The namespace answered once (typed lines wait for it, as the first emits would).
    ready: bool,
}

/// Connect, then emit what is typed and print what arrives.
pub async fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let mut client = SioClient::connect_with(&plan.host, plan.port, plan.options.clone())
        .await
        .map_err(|e| connect_error(e, &plan))?;
    out.event(&ClientLine::Opened {
        session: client.open.sid.clone(),
        transport: client.transport().to_owned(),
    })?;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut awaited = BTreeSet::new();
    let mut input = Input {
        open: true,
        waiting: None,
        sleeping_until: None,
        ready: false,
    };
    let far = || tokio::time::Instant::now() + Duration::from_secs(86_400);
    let timer = tokio::time::sleep_until(far());
    tokio::pin!(timer);
    loop {
        trace(&mut client, &plan, out)?;
        let reading =
            input.open && input.ready && input.waiting.is_none() && input.sleeping_until.is_none();
        tokio::select! {
            line = lines.next_line(), if reading => {
                let line = line.ok().flatten();
                let command = line.as_deref().map_or(Command::Quit, parse_command);
                if line.is_none() {
                    input.open = false;
                    if !awaited.is_empty() {
                        timer.as_mut().reset(tokio::time::Instant::now() + LINGER);
                        continue;
                    }
                }
                let deadline = tokio::time::Instant::now();
                match command {
                    Command::Quit => break,
                    Command::Wait(what, _) if holds(&what, &client) => {}
                    Command::Wait(what, limit) => {
                        input.waiting = Some((what, deadline + limit));
                        timer.as_mut().reset(deadline + limit);
                    }
                    Command::Sleep(d) => {
                        input.sleeping_until = Some(deadline + d);
                        timer.as_mut().reset(deadline + d);
                    }
                    c => typed(c, &mut client, &mut awaited, out).await?,
                }
            }
            heard = client.next() => {
                let heard = heard.failed("reading from the server")?;
                match &heard {
                    Heard::Ack { id, .. } => { awaited.remove(id); }
                    Heard::Connected { .. } | Heard::ConnectError { .. } => input.ready = true,
                    _ => {}
                }
                if let Heard::Event { ack: Some(id), .. } = &heard {
                    client.ack(*id, Vec::new()).await.failed("could not send")?;
                }
                if input.waiting.as_ref().is_some_and(|(w, _)| answers(w, &heard)) {
                    input.waiting = None;
                }
                out.event(&line_of(heard, &client))?;
                if !input.open && awaited.is_empty() {
                    break;
                }
            }
            () = &mut timer => {
                if !input.open {
                    break;
                }
                if let Some((what, _)) = input.waiting.take() {
                    let text = format!("waited in vain for {}", describe(&what));
                    out.event(&ClientLine::Note { text })?;
                }
                input.sleeping_until = None;
                timer.as_mut().reset(far());
            }
        }
    }
    let was_connected = client.is_connected();
    client.disconnect().await.failed("could not disconnect")?;
    trace(&mut client, &plan, out)?;
    if was_connected {
        out.event(&ClientLine::Disconnected {
            reason: "io client disconnect".to_owned(),
        })?;
    }
    Ok(())
}

/// The error for a first connection that failed, with what to check.
fn connect_error(e: ClientError, plan: &Plan) -> anyhow::Error {
    let message = format!("could not connect to {}:{}", plan.host, plan.port);
    let hint = match &e {
        ClientError::Refused { status, .. } => format!(
            "the server answered {status}: is it a Socket.IO 4 server (Engine.IO 4) at {}?",
            plan.options.path
        ),
        _ => "is a Socket.IO server listening there? (netlab socketio server --port 3000)".into(),
    };
    Err::<(), _>(e).hinted(message, hint).unwrap_err()
}

/// What a `wait` waited for, in words.
fn describe(what: &Awaited) -> String {
    match what {
        Awaited::Connected => "the socket to join its namespace".to_owned(),
        Awaited::Disconnected => "the connection to end".to_owned(),
        Awaited::Upgraded => "the upgrade to websocket".to_owned(),
        Awaited::Event(name) => format!("an event {name:?}"),
    }
}

/// Is what a `wait` asks for already the case (the connection's state, not an event)?
fn holds(what: &Awaited, client: &SioClient) -> bool {
    match what {
        Awaited::Connected => client.is_connected(),
        Awaited::Disconnected => !client.is_connected(),
        Awaited::Upgraded => client.transport() == "websocket",
        Awaited::Event(_) => false,
    }
}

/// Does this answer a `wait`?
fn answers(what: &Awaited, heard: &Heard) -> bool {
    match (what, heard) {
        (Awaited::Connected, Heard::Connected { .. }) => true,
        (Awaited::Upgraded, Heard::Upgraded) => true,
        (Awaited::Disconnected, Heard::Closed { .. } | Heard::Disconnected) => true,
        (Awaited::Event(n), Heard::Event { name, .. }) => n == name,
        _ => false,
    }
}

/// Carry out a typed command.
async fn typed(
    command: Command,
    client: &mut SioClient,
    awaited: &mut BTreeSet<u64>,
    out: &mut Output,
) -> anyhow::Result<()> {
    match command {
        Command::Emit {
            name,
            args,
            ack,
            volatile,
        } => {
            let (id, delivery) = match client.emit_with(&name, args, ack, volatile).await {
                Ok(r) => r,
                Err(e) => {
                    return Ok(out.event(&ClientLine::Note {
                        text: e.to_string(),
                    })?)
                }
            };
            if delivery != Delivery::Dropped {
                awaited.extend(id);
            }
            let delivery = match delivery {
                Delivery::Sent => "sent",
                Delivery::Buffered => "buffered",
                Delivery::Dropped => "dropped",
            };
            out.event(&ClientLine::Sent {
                name,
                ack: id,
                volatile,
                delivery,
            })?;
        }
        Command::Disconnect => {
            let was = client.is_connected();
            client.disconnect().await.failed("could not disconnect")?;
            awaited.clear();
            if was {
                out.event(&ClientLine::Disconnected {
                    reason: "io client disconnect".to_owned(),
                })?;
            }
        }
        Command::Reconnect => {
            let was = client.is_connected();
            client.reconnect().await.failed("could not reconnect")?;
            awaited.clear();
            if was {
                out.event(&ClientLine::Disconnected {
                    reason: "io client disconnect".to_owned(),
                })?;
            }
        }
        Command::Namespace(ns) => {
            if let Err(e) = client.switch_namespace(&ns).await {
                out.event(&ClientLine::Note {
                    text: format!("not connected ({e}): type reconnect first"),
                })?;
            }
        }
        Command::Bad(text) => out.event(&ClientLine::Note { text })?,
        Command::Nothing | Command::Quit | Command::Wait(..) | Command::Sleep(_) => {}
    }
    Ok(())
}

fn line_of(heard: Heard, client: &SioClient) -> ClientLine {
    let all = |args: Vec<Data>| args.iter().map(shown).collect();
    match heard {
        Heard::Connected { sid } => ClientLine::Connected {
            namespace: client.namespace().to_owned(),
            socket: sid,
            session: client.open.sid.clone(),
            transport: client.transport().to_owned(),
            recovered: client.recovered(),
        },
        Heard::ConnectError { payload } => ClientLine::ConnectError { payload },
        Heard::Event { name, args, ack } => ClientLine::Event {
            name,
            args: all(args),
            ack,
        },
        Heard::Ack { id, args } => ClientLine::Ack {
            id,
            args: all(args),
        },
        Heard::Disconnected => ClientLine::Disconnected {
            reason: "io server disconnect".to_owned(),
        },
        Heard::Closed { reason } => ClientLine::Disconnected {
            reason: reason.to_owned(),
        },
        Heard::Opened { session, transport } => ClientLine::Opened {
            session,
            transport: transport.to_owned(),
        },
        Heard::Upgraded => ClientLine::Upgraded {
            session: client.open.sid.clone(),
        },
        Heard::Reconnecting { attempt, delay_ms } => ClientLine::Reconnecting { attempt, delay_ms },
        Heard::ReconnectFailed { attempt, error } => ClientLine::ReconnectFailed { attempt, error },
        Heard::GaveUp { attempts } => ClientLine::GaveUp { attempts },
    }
}

/// With `--trace`, the Socket.IO messages and the Engine.IO packets that went in and out.
fn trace(client: &mut SioClient, plan: &Plan, out: &mut Output) -> anyhow::Result<()> {
    let wire = client.take_wire();
    let carried = client.take_carried();
    if !plan.trace {
        return Ok(());
    }
    // `Direction` speaks of the client's side: `In` is from the client.
    let direction = |outgoing: bool| {
        if outgoing {
            Direction::In
        } else {
            Direction::Out
        }
    };
    let session = client.open.sid.clone();
    for w in wire {
        out.event(&Line::packet(&session, direction(w.outgoing), &w.message))?;
    }
    for c in carried {
        out.event(&ClientLine::Engine {
            direction: direction(c.outgoing),
            packet: c.packet,
            carrier: c.carrier,
        })?;
    }
    Ok(())
}
