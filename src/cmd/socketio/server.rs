//! `netlab socketio server`: a Socket.IO server (echo or chat) that prints what happens.

use super::apps::{self, Chat};
use super::broadcast_app::Broadcaster;
use super::{shown, Line};
use crate::cli::socketio::{AppKind, ServerArgs};
use crate::cmd::ws::server::Term;
use crate::error::{usage, HintExt};
use crate::net::engineio::{self, EngineConfig, EngineServer};
use crate::net::socketio::adapter::{AdapterEvent, Link, RedisUrl};
use crate::net::socketio::{self, App, Direction, SessionEvent};
use crate::output::Output;
use crate::wire::application::engineio::cors::Cors;
use crate::wire::application::socketio::{AppEvent, EngineMessage, Options, Server};
use anyhow::Context as _;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;

/// A validated server plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub addr: SocketAddr,
    pub app: AppKind,
    pub trace: bool,
    /// No line per event (sessions and sockets still get theirs).
    pub quiet: bool,
    pub engine: EngineConfig,
    /// One node of several, through the Redis server here (`--adapter`).
    pub adapter: Option<RedisUrl>,
}

impl TryFrom<ServerArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: ServerArgs) -> anyhow::Result<Plan> {
        let ip = crate::cmd::host_ip(&a.host)?;
        // The test suites expect pings every 300 ms and 200 ms to answer.
        let (interval, timeout) = match a.app {
            AppKind::Conformance => (300, 200),
            AppKind::Chat | AppKind::Echo | AppKind::Bench | AppKind::Broadcast => (25_000, 20_000),
        };
        let interval = a.ping_interval_ms.unwrap_or(interval);
        let timeout = a.ping_timeout_ms.unwrap_or(timeout);
        if interval == 0 || timeout == 0 {
            return Err(usage(
                "the ping interval and timeout must be positive",
                "leave them at their defaults (25000 and 20000 ms)",
            ));
        }
        let mut engine = socketio::engine_config();
        engine.session.ping_interval = Duration::from_millis(interval);
        engine.session.ping_timeout = Duration::from_millis(timeout);
        engine.pages = super::web::pages(a.app);
        engine.cors =
            match a.cors.as_deref().map(Cors::parse) {
                None => None,
                Some(Ok(cors)) => Some(cors),
                Some(Err(e)) => return Err(usage(
                    format!("--cors {}: {e}", a.cors.unwrap_or_default()),
                    "give the page's origin as the browser writes it (http://localhost:8080) or *",
                )),
            };
        let adapter =
            match a.adapter.as_deref().map(str::parse::<RedisUrl>) {
                None => None,
                Some(Ok(url)) => Some(url),
                Some(Err(e)) => return Err(usage(
                    format!("--adapter {}: {e}", a.adapter.unwrap_or_default()),
                    "give the Redis server as redis://HOST:PORT, such as redis://127.0.0.1:6379",
                )),
            };
        Ok(Plan {
            adapter,
            addr: SocketAddr::new(ip, a.port),
            app: a.app,
            trace: a.trace,
            quiet: a.quiet,
            engine,
        })
    }
}

/// Lines waiting for the terminal; past this, lines are counted and left out.
const LINES: usize = 4096;

/// The application the driver calls: the chosen app, plus a line for the log per thing
/// that happens.
struct Lab {
    app: AppKind,
    chat: Chat,
    broadcaster: Broadcaster,
    trace: bool,
    quiet: bool,
    lines: mpsc::Sender<Line>,
    skipped: u64,
}

impl Lab {
    fn log(&mut self, line: Line) {
        if self.skipped > 0 {
            let note = Line::Skipped {
                lines: self.skipped,
            };
            if self.lines.try_send(note).is_ok() {
                self.skipped = 0;
            }
        }
        if self.lines.try_send(line).is_err() {
            self.skipped += 1;
        }
    }
}

impl App for Lab {
    fn event(&mut self, io: &mut Server, event: AppEvent) {
        // Under --quiet an event's line is not even built (its arguments are copied).
        let shown = !(self.quiet && matches!(event, AppEvent::Event { .. }));
        if let Some(line) = shown.then(|| line_of(&event)).flatten() {
            self.log(line);
        }
        match self.app {
            AppKind::Echo => apps::echo(io, &event),
            AppKind::Chat => self.chat.event(io, &event),
            AppKind::Conformance => apps::conformance(io, &event),
            AppKind::Bench => apps::bench(io, &event),
            AppKind::Broadcast => self.broadcaster.event(io, &event),
        }
    }

    fn adapter(&mut self, event: AdapterEvent) {
        let line = match event {
            AdapterEvent::Connected {
                url,
                connection,
                dropped,
            } => Line::Adapter {
                state: "connected",
                detail: url,
                connection: Some(connection),
                dropped: (connection > 1).then_some(dropped),
            },
            AdapterEvent::Lost { error, connections } => Line::Adapter {
                state: "lost",
                detail: error,
                connection: Some(connections),
                dropped: None,
            },
            AdapterEvent::Unreadable { channel, error } => Line::Adapter {
                state: "unreadable",
                detail: format!("{channel}: {error}"),
                connection: None,
                dropped: None,
            },
        };
        self.log(line);
    }

    fn session(&mut self, event: SessionEvent) {
        let line = match event {
            SessionEvent::Opened { session, transport } => Line::SessionOpen {
                session,
                transport: transport.name(),
            },
            SessionEvent::Upgraded { session } => Line::Upgrade { session },
            SessionEvent::Closed { session, reason } => Line::SessionClose {
                session,
                reason: reason.as_str(),
            },
        };
        self.log(line);
    }

    fn trace(&mut self, session: &str, direction: Direction, message: &EngineMessage) {
        if self.trace {
            self.log(Line::packet(session, direction, message));
        }
    }
}

/// The log line for an application event, if it gets one.
fn line_of(event: &AppEvent) -> Option<Line> {
    Some(match event {
        AppEvent::Connected {
            namespace,
            socket,
            session,
            ..
        } => Line::Connect {
            namespace: namespace.clone(),
            socket: socket.clone(),
            session: session.clone(),
        },
        AppEvent::Event {
            namespace,
            socket,
            name,
            args,
            ack,
        } => Line::Event {
            namespace: namespace.clone(),
            socket: socket.clone(),
            name: name.clone(),
            args: args.iter().map(shown).collect(),
            ack: *ack,
        },
        AppEvent::Disconnected {
            namespace,
            socket,
            reason,
        } => Line::Disconnect {
            namespace: namespace.clone(),
            socket: socket.clone(),
            reason: reason.as_str(),
        },
        AppEvent::ProtocolError { session, error } => Line::ProtocolError {
            session: session.clone(),
            error: error.to_string(),
        },
        _ => return None,
    })
}

/// Listen for Socket.IO; with the conformance app, also start the raw Engine.IO echo
/// server of the Engine.IO test suite on the same port (path `/engine.io/`, the same
/// heartbeat) and return its URL.
async fn bind(plan: &Plan) -> anyhow::Result<(EngineServer, Option<String>)> {
    let mut configs = vec![plan.engine.clone()];
    if plan.app == AppKind::Conformance {
        configs.push(EngineConfig {
            session: plan.engine.session.clone(),
            ..EngineConfig::default()
        });
    }
    let mut servers = EngineServer::bind_all(plan.addr, configs).await.hinted(
        format!("could not listen on {}", plan.addr),
        "pick another --port, or --port 0 to let the kernel choose",
    )?;
    let echo = (servers.len() > 1).then(|| servers.pop()).flatten();
    let echo = echo.map(|e| {
        let url = format!("http://{}{}", e.local_addr(), EngineConfig::default().path);
        tokio::spawn(engineio::echo(e));
        url
    });
    let socketio = servers.pop().context("no server was bound")?;
    Ok((socketio, echo))
}

/// A node's id for the adapter, as the real adapter draws it: 6 random characters.
pub fn node_uid() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut random = [0u8; 6];
    let _ = getrandom::fill(&mut random);
    random
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// Serve until Ctrl-C or SIGTERM.
pub async fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let has_page = plan.engine.pages.contains(&super::web::CHAT_PAGE);
    let (engine, echo) = bind(&plan).await?;
    let local = engine.local_addr();
    out.event(&Line::Listening {
        url: format!("http://{local}{}", socketio::PATH),
        path: socketio::PATH,
        app: plan.app,
        page: has_page.then(|| format!("http://{local}/")),
        engineio_echo: echo,
    })?;
    let (tx, mut rx) = mpsc::channel(LINES);
    let lab = Lab {
        app: plan.app,
        chat: Chat::default(),
        broadcaster: Broadcaster::default(),
        trace: plan.trace,
        quiet: plan.quiet,
        lines: tx.clone(),
        skipped: 0,
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        let _ = stop_rx.await;
    };
    let mut io = socketio::machine(Options::default());
    match plan.app {
        AppKind::Echo | AppKind::Conformance => io.add_namespace(apps::CUSTOM, false),
        AppKind::Chat => io.add_namespace(apps::NEWS, false),
        AppKind::Bench | AppKind::Broadcast => {}
    }
    let link = plan.adapter.clone().map(|url| {
        io.enable_adapter(&node_uid());
        Link::start(url, io.adapter_subscriptions())
    });
    let mut server = tokio::spawn(socketio::serve_with(engine, io, lab, stop, link));
    let mut sigterm = Term::new()?;
    let mut stop_tx = Some(stop_tx);
    loop {
        tokio::select! {
            Some(line) = rx.recv() => out.event(&line)?,
            r = &mut server => {
                r?;
                break;
            }
            signal = async {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => "SIGINT",
                    () = sigterm.recv() => "SIGTERM",
                }
            }, if stop_tx.is_some() => {
                out.event(&Line::ShuttingDown { signal })?;
                if let Some(stop) = stop_tx.take() {
                    let _ = stop.send(());
                }
            }
        }
    }
    // The lines the last moments produced.
    drop(tx);
    while let Ok(line) = rx.try_recv() {
        out.event(&line)?;
    }
    Ok(())
}
