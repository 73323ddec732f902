//! `netlab socketio server`: a Socket.IO server (echo or chat) that prints what happens.

use super::apps::{self, Chat};
use super::{shown, Line};
use crate::cli::socketio::{AppKind, ServerArgs};
use crate::cmd::ws::server::Term;
use crate::error::{usage, HintExt};
use crate::net::engineio::EngineConfig;
use crate::net::socketio::{self, App, Direction, SessionEvent};
use crate::output::Output;
use crate::wire::application::socketio::{AppEvent, EngineMessage, Options, Server};
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
}

impl TryFrom<ServerArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: ServerArgs) -> anyhow::Result<Plan> {
        let ip = crate::cmd::host_ip(&a.host)?;
        if a.ping_interval_ms == 0 || a.ping_timeout_ms == 0 {
            return Err(usage(
                "the ping interval and timeout must be positive",
                "leave them at their defaults (25000 and 20000 ms)",
            ));
        }
        let mut engine = socketio::engine_config();
        engine.session.ping_interval = Duration::from_millis(a.ping_interval_ms);
        engine.session.ping_timeout = Duration::from_millis(a.ping_timeout_ms);
        Ok(Plan {
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
            AppKind::Bench => apps::bench(io, &event),
        }
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

/// Serve until Ctrl-C or SIGTERM.
pub async fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let engine = socketio::bind(plan.addr, plan.engine).await.hinted(
        format!("could not listen on {}", plan.addr),
        "pick another --port, or --port 0 to let the kernel choose",
    )?;
    out.event(&Line::Listening {
        url: format!("http://{}{}", engine.local_addr(), socketio::PATH),
        path: socketio::PATH,
        app: plan.app,
    })?;
    let (tx, mut rx) = mpsc::channel(LINES);
    let lab = Lab {
        app: plan.app,
        chat: Chat::default(),
        trace: plan.trace,
        quiet: plan.quiet,
        lines: tx.clone(),
        skipped: 0,
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        let _ = stop_rx.await;
    };
    let io = socketio::machine(Options::default());
    let mut server = tokio::spawn(socketio::serve(engine, io, lab, stop));
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
