//! `netlab ws client URL`: type lines, see what comes back.

use super::render_trace;
use crate::cli::ws::ClientArgs;
use crate::error::{usage, HintExt};
use crate::net::ws::{
    self, AfterReceipt, Received, ServeMode, WsConfig, WsConnection, WsTrace, WsUrl,
};
use crate::output::{Output, Paint, Render, Style};
use crate::wire::application::websocket::{CloseCode, Message};
use crate::wire::text;
use serde::Serialize;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// A validated client plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub url: WsUrl,
    pub trace: bool,
    /// Non-interactive: send these, wait for a reply to each, then close.
    pub send: Vec<String>,
    pub protocols: Vec<String>,
    pub timeout: Duration,
    /// Offer permessage-deflate.
    pub deflate: bool,
}

impl TryFrom<ClientArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: ClientArgs) -> anyhow::Result<Plan> {
        let url: WsUrl = a
            .url
            .parse()
            .map_err(|e: String| usage(e, "for example: netlab ws client ws://127.0.0.1:9001/"))?;
        if a.timeout_ms == 0 {
            return Err(usage(
                "--timeout-ms must be positive",
                "the default is 5000",
            ));
        }
        Ok(Plan {
            url,
            trace: a.trace,
            send: a.send,
            protocols: a.protocol,
            timeout: Duration::from_millis(a.timeout_ms),
            deflate: a.deflate.is_on(),
        })
    }
}

/// Something the client saw.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ClientEvent {
    Connected {
        url: String,
        protocol: Option<String>,
        interactive: bool,
    },
    Trace(WsTrace),
    Received {
        summary: String,
        kind: crate::wire::application::websocket::MessageKind,
        len: usize,
        text: Option<String>,
    },
    Pong {
        payload: String,
    },
    Note {
        text: String,
    },
    Closed {
        initiated_by: &'static str,
        code: Option<u16>,
        reason: String,
    },
}

impl Render for ClientEvent {
    fn render_human(&self, style: &Style) -> String {
        match self {
            ClientEvent::Connected {
                url,
                protocol,
                interactive,
            } => {
                let p = protocol
                    .as_deref()
                    .map(|p| format!(", subprotocol {p}"))
                    .unwrap_or_default();
                let help = if *interactive {
                    ". Type a line to send it; /ping [TEXT], /binary HEX, /close [CODE [REASON]]"
                } else {
                    ""
                };
                format!(
                    "{} to {url}{p}{help}",
                    style.paint(Paint::Good, "connected")
                )
            }
            ClientEvent::Trace(t) => render_trace(t, style),
            ClientEvent::Received { summary, .. } => format!("< {summary}"),
            ClientEvent::Pong { payload } => {
                format!("< pong {}", text::quoted(payload.as_bytes(), usize::MAX))
            }
            ClientEvent::Note { text } => style.paint(Paint::Dim, text),
            ClientEvent::Closed {
                initiated_by,
                code,
                reason,
            } => {
                let code = code.map_or("no code".to_owned(), |c| CloseCode(c).to_string());
                let reason = text::quoted(reason.as_bytes(), usize::MAX);
                format!("closed: {code} {reason} (close started by: {initiated_by})")
            }
        }
    }
}

/// What the session amounted to.
#[derive(Debug, Default, Serialize)]
pub struct ClientReport {
    pub url: String,
    pub sent: u64,
    pub received: Vec<String>,
    pub close_code: Option<u16>,
}

impl Render for ClientReport {
    fn render_human(&self, _: &Style) -> String {
        format!(
            "{} message(s) sent, {} received, close code {}",
            self.sent,
            self.received.len(),
            self.close_code.map_or("none".into(), |c| c.to_string())
        )
    }
}

fn trace(conn: &mut WsConnection, out: &mut Output) -> anyhow::Result<()> {
    for t in conn.take_trace() {
        out.event(&ClientEvent::Trace(t))?;
    }
    Ok(())
}

/// Parse the hex of `/binary`.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !s.len().is_multiple_of(2) {
        return Err("hex needs an even number of digits".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16)
                .map_err(|_| format!("'{}' is not hex", &s[i..i + 2]))
        })
        .collect()
}

/// A line the user typed, understood.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Text(String),
    Binary(Vec<u8>),
    Ping(String),
    Close(u16, String),
    Bad(String),
}

pub fn parse_line(line: &str) -> Line {
    if let Some(rest) = line.strip_prefix("/ping") {
        return Line::Ping(rest.trim().to_owned());
    }
    if let Some(rest) = line.strip_prefix("/binary") {
        return match parse_hex(rest) {
            Ok(b) => Line::Binary(b),
            Err(e) => Line::Bad(e),
        };
    }
    if let Some(rest) = line.strip_prefix("/close") {
        let rest = rest.trim();
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.is_empty() {
            return Line::Close(1000, String::new());
        }
        return match code.parse::<u16>() {
            Ok(c) if CloseCode(c).is_sendable() => Line::Close(c, reason.to_owned()),
            _ => Line::Bad(format!(
                "{code} may not be sent: use 1000-1003, 1007-1014 or 3000-4999"
            )),
        };
    }
    Line::Text(line.to_owned())
}

/// What to make of a failed opening handshake: no server, or a server of another kind.
fn connect_hint(e: &ws::WsError, plan: &Plan) -> String {
    use crate::wire::application::websocket::handshake::ResponseError;
    let at = format!("{}:{}", plan.url.host, plan.url.port);
    let ws_answer = "a WebSocket server answers the upgrade request with `101 Switching Protocols`";
    match e {
        ws::WsError::NotHttp { .. } => format!(
            "something listens at {at}, but it is not a WebSocket server (not even HTTP): {ws_answer}"
        ),
        ws::WsError::BadResponse(ResponseError::NotSwitching { .. }) => format!(
            "an HTTP server listens at {at}, but it is not a WebSocket server, or not at `{}`: {ws_answer}",
            plan.url.resource
        ),
        ws::WsError::ClosedDuringHandshake => format!(
            "something at {at} accepted the connection and closed it without an answer: it is not a WebSocket server"
        ),
        ws::WsError::Timeout("waiting for the handshake") => format!(
            "something at {at} accepted the connection but sent no answer within {} ms: it is probably not a WebSocket server ({ws_answer} at once)",
            plan.timeout.as_millis()
        ),
        ws::WsError::BadResponse(_) => {
            "the server answered 101 but broke the rule above; `--trace` shows its answer".into()
        }
        _ => "is a server running there? try `netlab ws server` in another terminal".into(),
    }
}

/// Print a message or a pong.
fn show(r: &Received, out: &mut Output, report: &mut ClientReport) -> anyhow::Result<()> {
    match r {
        Received::Message(m) => {
            report.received.push(super::describe(m));
            out.event(&ClientEvent::Received {
                summary: super::describe(m),
                kind: m.kind,
                len: m.payload.len(),
                text: m.as_text().map(str::to_owned),
            })?;
        }
        Received::Pong(p) => out.event(&ClientEvent::Pong {
            payload: String::from_utf8_lossy(p).into_owned(),
        })?,
        _ => {}
    }
    Ok(())
}

/// Print what arrived; answer pings and closes. Returns whether the connection is over.
async fn on_receive(
    conn: &mut WsConnection,
    r: Received,
    out: &mut Output,
    report: &mut ClientReport,
) -> anyhow::Result<bool> {
    // The frames that carried `r` come first, then what they amount to.
    trace(conn, out)?;
    show(&r, out, report)?;
    let flow = conn.respond(&r).await;
    trace(conn, out)?;
    let over = match (&r, flow) {
        (Received::Close(c), _) => {
            report.close_code = c.code.map(|c| c.0);
            out.event(&ClientEvent::Closed {
                initiated_by: "server",
                code: c.code.map(|c| c.0),
                reason: c.reason.clone(),
            })?;
            true
        }
        (Received::Violation(e), _) => {
            report.close_code = Some(e.close_code().0);
            out.event(&ClientEvent::Closed {
                initiated_by: "client",
                code: Some(e.close_code().0),
                reason: e.to_string(),
            })?;
            true
        }
        (Received::Eof, _) => {
            out.event(&ClientEvent::Closed {
                initiated_by: "none",
                code: None,
                reason: "TCP ended without a close frame (1006)".into(),
            })?;
            true
        }
        (_, Ok(AfterReceipt::Closed)) | (_, Err(_)) => true,
        _ => false,
    };
    Ok(over)
}

async fn close(
    conn: &mut WsConnection,
    code: u16,
    reason: &str,
    out: &mut Output,
    report: &mut ClientReport,
) -> anyhow::Result<()> {
    let theirs = conn.close(CloseCode(code), reason).await;
    trace(conn, out)?;
    // Echoes and pongs still in flight when we closed (input piped in arrives faster
    // than replies).
    for r in conn.take_late() {
        show(&r, out, report)?;
    }
    report.close_code = Some(code);
    let (code, reason) = match theirs {
        Some(c) => (c.code.map(|c| c.0), c.reason),
        None => (None, "no close frame came back".to_owned()),
    };
    out.event(&ClientEvent::Closed {
        initiated_by: "client",
        code,
        reason,
    })?;
    Ok(())
}

/// `--send`: each text in turn, waiting for the echo of each (answering pings meanwhile),
/// except from a server that announced it broadcasts: it sends nothing back to the
/// sender. Returns whether the connection is still open.
async fn send_each(
    plan: &Plan,
    conn: &mut WsConnection,
    out: &mut Output,
    report: &mut ClientReport,
    stop: &mut (impl std::future::Future<Output = ()> + Unpin),
) -> anyhow::Result<bool> {
    let broadcast = conn.server_mode() == Some(ServeMode::Broadcast.name());
    if broadcast {
        out.event(&ClientEvent::Note {
            text: "the server broadcasts: it passes each message to its other clients and sends \
                   nothing back to the sender, so no reply is awaited"
                .into(),
        })?;
    }
    for text in &plan.send {
        conn.send(&Message::text(text.clone()))
            .await
            .failed("could not send")?;
        report.sent += 1;
        trace(conn, out)?;
        if broadcast {
            continue;
        }
        loop {
            let r = tokio::select! {
                r = conn.recv() => r.failed("waiting for a reply")?,
                _ = &mut *stop => {
                    interrupted(conn, out, report).await?;
                    return Ok(false);
                }
            };
            let is_message = matches!(r, Received::Message(_));
            if on_receive(conn, r, out, report).await? {
                return Ok(false);
            }
            if is_message {
                break;
            }
        }
    }
    Ok(true)
}

pub async fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let cfg = WsConfig {
        trace: plan.trace,
        handshake_timeout: plan.timeout,
        idle_timeout: if plan.send.is_empty() {
            Duration::from_secs(3600)
        } else {
            plan.timeout
        },
        offer_deflate: plan.deflate,
        ..WsConfig::default()
    };
    // Installed before connecting, so a Ctrl-C from then on is seen (and closes properly).
    let stop = crate::net::tcp::interrupt().failed("could not watch for Ctrl-C")?;
    tokio::pin!(stop);
    let mut conn = match ws::connect(&plan.url, cfg, &plan.protocols).await {
        Ok(c) => c,
        Err(e) => {
            // The heads exchanged so far (with --trace) show what the server answered.
            for t in e.trace {
                out.event(&ClientEvent::Trace(t))?;
            }
            let hint = connect_hint(&e.error, &plan);
            return Err(e.error)
                .hinted(format!("could not open a WebSocket to {}", plan.url), hint);
        }
    };
    let mut report = ClientReport {
        url: plan.url.to_string(),
        ..ClientReport::default()
    };
    trace(&mut conn, out)?;
    out.event(&ClientEvent::Connected {
        url: plan.url.to_string(),
        protocol: conn.protocol().map(str::to_owned),
        interactive: plan.send.is_empty(),
    })?;

    if !plan.send.is_empty() {
        if send_each(&plan, &mut conn, out, &mut report, &mut stop).await? {
            close(&mut conn, 1000, "done", out, &mut report).await?;
        }
    } else {
        interactive(&mut conn, out, &mut report, &mut stop).await?;
    }
    out.report(&report)?;
    Ok(())
}

/// Ctrl-C: leave as a server does when it stops, with 1001 (going away, RFC 6455
/// §7.4.1), and wait (bounded) for the server's close.
async fn interrupted(
    conn: &mut WsConnection,
    out: &mut Output,
    report: &mut ClientReport,
) -> anyhow::Result<()> {
    out.event(&ClientEvent::Note {
        text: "interrupted: closing with 1001 (going away)".into(),
    })?;
    close(
        conn,
        CloseCode::GOING_AWAY.0,
        "client interrupted",
        out,
        report,
    )
    .await
}

/// Lines typed (or piped) in, sent as they come; what arrives is printed meanwhile.
async fn interactive(
    conn: &mut WsConnection,
    out: &mut Output,
    report: &mut ClientReport,
    stop: &mut (impl std::future::Future<Output = ()> + Unpin),
) -> anyhow::Result<()> {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            _ = &mut *stop => return interrupted(conn, out, report).await,
            line = lines.next_line() => {
                let line = match line {
                    Ok(Some(l)) => l,
                    _ => return close(conn, 1000, "bye", out, report).await,
                };
                let sent = match parse_line(&line) {
                    Line::Text(t) => conn.send(&Message::text(t)).await,
                    Line::Binary(b) => conn.send(&Message::binary(b)).await,
                    Line::Ping(p) => conn.ping(p.as_bytes()).await,
                    Line::Close(code, reason) => return close(conn, code, &reason, out, report).await,
                    Line::Bad(e) => { out.event(&ClientEvent::Note { text: e })?; continue; }
                };
                sent.failed("could not send")?;
                report.sent += 1;
                trace(conn, out)?;
            }
            r = conn.recv() => {
                let r = r.failed("reading from the server")?;
                if on_receive(conn, r, out, report).await? { return Ok(()); }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_lines() {
        assert_eq!(parse_line("hi"), Line::Text("hi".into()));
        assert_eq!(
            parse_line("/binary 00 ff10"),
            Line::Binary(vec![0, 0xff, 0x10])
        );
        assert!(matches!(parse_line("/binary 0"), Line::Bad(_)));
        assert_eq!(parse_line("/ping hello"), Line::Ping("hello".into()));
        assert_eq!(parse_line("/close"), Line::Close(1000, String::new()));
        assert_eq!(
            parse_line("/close 4000 see you"),
            Line::Close(4000, "see you".into())
        );
        assert!(matches!(parse_line("/close 1005"), Line::Bad(_)));
    }
}
