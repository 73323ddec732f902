//! `netlab ws server`: an echo or broadcast server that prints what happens.

use super::render_trace;
use crate::cli::ws::ServerArgs;
use crate::error::{usage, HintExt};
use crate::net::ws::server::MessageHead;
use crate::net::ws::{self, ServeMode, ServeOptions, ServerEvent, WsConfig};
use crate::output::{Output, Paint, Render, Style};
use crate::wire::application::websocket::handshake::ServerPolicy;
use crate::wire::application::websocket::MessageKind;
use crate::wire::text;
use serde::Serialize;
use std::net::SocketAddr;
use std::time::Duration;

/// A validated server plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub addr: SocketAddr,
    pub mode: ServeMode,
    pub cfg: WsConfig,
    pub report_messages: bool,
}

impl TryFrom<ServerArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: ServerArgs) -> anyhow::Result<Plan> {
        let ip = crate::cmd::host_ip(&a.host)?;
        if a.max_message == 0 {
            return Err(usage(
                "--max-message must be at least 1 byte",
                "the default is 64 MiB",
            ));
        }
        if a.handshake_timeout_ms == 0 || a.idle_timeout_s == 0 {
            return Err(usage(
                "timeouts must be positive",
                "leave them at their defaults",
            ));
        }
        Ok(Plan {
            addr: SocketAddr::new(ip, a.port),
            mode: if a.broadcast {
                ServeMode::Broadcast
            } else {
                ServeMode::Echo
            },
            cfg: WsConfig {
                max_message: a.max_message,
                handshake_timeout: Duration::from_millis(a.handshake_timeout_ms),
                idle_timeout: Duration::from_secs(a.idle_timeout_s),
                trace: a.trace,
                policy: ServerPolicy {
                    protocols: a.protocol,
                    allowed_origins: (!a.origin.is_empty()).then_some(a.origin),
                    deflate: a.deflate.is_on(),
                    ..ServerPolicy::default()
                },
                ..WsConfig::default()
            },
            report_messages: !a.quiet,
        })
    }
}

/// The first event: where to connect.
#[derive(Debug, Serialize)]
pub struct Listening {
    pub event: &'static str,
    pub url: String,
    pub mode: ServeMode,
}

impl Render for Listening {
    fn render_human(&self, style: &Style) -> String {
        let what = match self.mode {
            ServeMode::Echo => "echo: every message goes back to its sender",
            ServeMode::Broadcast => "broadcast: every message goes to every other client",
        };
        format!(
            "listening on {} ({what}); Ctrl-C closes every connection with 1001 and stops",
            style.paint(Paint::Bold, &self.url)
        )
    }
}

/// The shutdown notice.
#[derive(Debug, Serialize)]
pub struct ShuttingDown {
    pub event: &'static str,
    pub signal: &'static str,
}

impl Render for ShuttingDown {
    fn render_human(&self, _: &Style) -> String {
        format!(
            "{}: closing every connection with 1001 (going away)",
            self.signal
        )
    }
}

impl Render for ServerEvent {
    fn render_human(&self, style: &Style) -> String {
        match self {
            ServerEvent::Connected { id, peer } => {
                format!(
                    "#{id} {} from {peer} (handshake done)",
                    style.paint(Paint::Good, "connected")
                )
            }
            ServerEvent::Refused { peer, error } => {
                format!("{} {peer}: {error}", style.paint(Paint::Warn, "refused"))
            }
            ServerEvent::Trace { id, trace } => format!("#{id} {}", render_trace(trace, style)),
            ServerEvent::Message {
                id,
                message,
                delivered_to,
            } => MessageLine::new(*id, message, *delivered_to).render_human(style),
            ServerEvent::Dropped { id, messages } => format!(
                "#{id} {}: {messages} broadcast message(s) dropped (this client is too slow)",
                style.paint(Paint::Warn, "lagging")
            ),
            ServerEvent::Closed {
                id,
                initiated_by,
                code,
                reason,
                error,
            } => {
                let mut s = format!("#{id} closed");
                match code {
                    Some(c) => s.push_str(&format!(" with {c}")),
                    None => s.push_str(" without a close code"),
                }
                if !reason.is_empty() {
                    s.push(' ');
                    s.push_str(&text::quoted(reason.as_bytes(), usize::MAX));
                }
                s.push_str(&format!(" (close started by: {initiated_by})"));
                if let Some(e) = error {
                    s.push_str(&format!(": {e}"));
                }
                s
            }
        }
    }
}

/// A message the server got, as printed: the event carries the message's head, and the
/// summary is written here.
#[derive(Debug, Serialize)]
pub struct MessageLine {
    pub event: &'static str,
    pub id: u64,
    pub kind: MessageKind,
    pub len: usize,
    pub summary: String,
    /// How many clients it went to.
    pub delivered_to: usize,
}

impl MessageLine {
    pub fn new(id: u64, m: &MessageHead, delivered_to: usize) -> MessageLine {
        MessageLine {
            event: "message",
            id,
            kind: m.kind,
            len: m.len,
            summary: super::summarize(m.kind, &m.head, m.len),
            delivered_to,
        }
    }
}

impl Render for MessageLine {
    fn render_human(&self, _: &Style) -> String {
        let (id, summary, delivered_to) = (self.id, &self.summary, self.delivered_to);
        format!("#{id} {summary} → sent to {delivered_to} client(s)")
    }
}

/// What the server did, printed when it stops.
#[derive(Debug, Default, Serialize)]
pub struct ServerReport {
    pub url: String,
    pub connections: u64,
    pub refused: u64,
    /// Messages received; `None` with `--quiet`, which does not count them.
    pub messages: Option<u64>,
    pub closed_with: std::collections::BTreeMap<String, u64>,
}

impl Render for ServerReport {
    fn render_human(&self, style: &Style) -> String {
        let mut t = style.table();
        t.set_header(vec!["server", "count"]);
        t.add_row(vec![
            "connections accepted".to_owned(),
            self.connections.to_string(),
        ]);
        t.add_row(vec![
            "handshakes refused".to_owned(),
            self.refused.to_string(),
        ]);
        t.add_row(vec![
            "messages received".to_owned(),
            self.messages
                .map_or("not counted (--quiet)".to_owned(), |n| n.to_string()),
        ]);
        for (code, n) in &self.closed_with {
            t.add_row(vec![format!("closed with {code}"), n.to_string()]);
        }
        format!(
            "{}\n{t}",
            style.paint(Paint::Bold, format!("stopped {}", self.url))
        )
    }
}

/// Serve until Ctrl-C or SIGTERM.
pub async fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let listener = ws::bind(plan.addr).await.hinted(
        format!("could not listen on {}", plan.addr),
        "pick another --port, or --port 0 to let the kernel choose",
    )?;
    let local = listener.local_addr()?;
    let url = format!("ws://{local}/");
    out.event(&Listening {
        event: "listening",
        url: url.clone(),
        mode: plan.mode,
    })?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let opts = ServeOptions {
        mode: plan.mode,
        cfg: plan.cfg,
        report_messages: plan.report_messages,
    };
    let server = tokio::spawn(ws::serve(listener, opts, tx, stop_rx));
    let mut sigterm = Term::new()?;
    let mut report = ServerReport {
        url,
        messages: plan.report_messages.then_some(0),
        ..ServerReport::default()
    };
    let mut stopping = false;
    loop {
        let signal = tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                match &ev {
                    ServerEvent::Connected { .. } => report.connections += 1,
                    ServerEvent::Refused { .. } => report.refused += 1,
                    ServerEvent::Message { .. } => *report.messages.get_or_insert(0) += 1,
                    ServerEvent::Closed { code, .. } => {
                        let k = code.map_or("no code".to_owned(), |c| c.to_string());
                        *report.closed_with.entry(k).or_default() += 1;
                    }
                    ServerEvent::Trace { .. } | ServerEvent::Dropped { .. } => {}
                }
                match &ev {
                    ServerEvent::Message { id, message, delivered_to } => {
                        out.event(&MessageLine::new(*id, message, *delivered_to))?
                    }
                    _ => out.event(&ev)?,
                }
                continue;
            }
            _ = tokio::signal::ctrl_c(), if !stopping => "SIGINT",
            _ = sigterm.recv(), if !stopping => "SIGTERM",
        };
        stopping = true;
        out.event(&ShuttingDown {
            event: "shutting_down",
            signal,
        })?;
        let _ = stop_tx.send(true);
    }
    server.await?.failed("the server stopped")?;
    out.report(&report)?;
    Ok(())
}

/// SIGTERM (what `kill` and service managers send) on Unix; nothing elsewhere.
pub struct Term {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Term {
    pub fn new() -> anyhow::Result<Term> {
        Ok(Term {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .failed("could not watch for SIGTERM")?,
        })
    }

    pub async fn recv(&mut self) {
        #[cfg(unix)]
        self.signal.recv().await;
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    }
}
