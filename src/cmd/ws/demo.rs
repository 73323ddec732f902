//! `netlab ws demo`: a server and a client in one process, every byte traced.

use super::render_trace;
use crate::error::HintExt;
use crate::net::ws::{self, Received, ServeMode, ServeOptions, WsConfig, WsTrace, WsUrl};
use crate::output::Style;
use crate::output::{Format, Output, Paint, Render, Step, Timeline};
use crate::wire::application::websocket::{CloseCode, Message, Role};
use crate::wire::text;
use serde::Serialize;
use std::time::Duration;

/// Everything the demo saw, from the client's side of the connection.
#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub url: String,
    /// The sequence diagram.
    pub timeline: Timeline,
    /// Every handshake head and frame, in order, with all fields.
    pub trace: Vec<WsTrace>,
    /// What came back for each thing the client did.
    pub replies: Vec<String>,
    pub close_code: Option<u16>,
    /// What the trace shows about masking, fragmentation and ping/pong, worked out from it.
    pub observations: Vec<String>,
}

impl Render for DemoReport {
    fn render_human(&self, style: &Style) -> String {
        let mut s = format!(
            "{}\n\n{}\n{}\n",
            style.paint(
                Paint::Bold,
                format!("WebSocket demo on {}: the client's view", self.url)
            ),
            self.timeline.render(style),
            style.paint(Paint::Bold, "Every head and frame, byte by byte")
        );
        for t in &self.trace {
            s.push_str(&render_trace(t, style));
        }
        s.push('\n');
        s.push_str(&self.observations.join("\n"));
        s.push('\n');
        s
    }
}

impl DemoReport {
    /// What the trace shows, worked out from the trace itself (not a script).
    pub fn observe(&self) -> Vec<String> {
        let frames: Vec<&crate::net::ws::FrameTrace> = self
            .trace
            .iter()
            .filter_map(|t| match t {
                WsTrace::Frame(f) => Some(f),
                WsTrace::Handshake { .. } => None,
            })
            .collect();
        let from = |r: Role| frames.iter().filter(move |f| f.from == r);
        let client_masked = from(Role::Client).filter(|f| f.masked).count();
        let server_masked = from(Role::Server).filter(|f| f.masked).count();
        let keys: std::collections::BTreeSet<&str> = from(Role::Client)
            .filter_map(|f| f.mask_key.as_deref())
            .collect();
        let mut notes = vec![format!(
            "Masking: {client_masked} of {} client frames were masked, with {} different keys; \
             {server_masked} of {} server frames were masked.",
            from(Role::Client).count(),
            keys.len(),
            from(Role::Server).count()
        )];
        let unfinished = from(Role::Client).filter(|f| !f.fin).count();
        if unfinished > 0 {
            // The server's first frame after the client's last fragment is the echo.
            let last = frames.iter().position(|f| {
                f.from == Role::Client
                    && f.fin
                    && f.opcode == crate::wire::application::websocket::OpCode::Continuation
            });
            let echo = last.and_then(|i| frames[i..].iter().find(|f| f.from == Role::Server));
            let echo = echo.map_or("no echo was seen".to_owned(), |e| {
                format!(
                    "the server echoed it as one {} frame with FIN={} ({} B)",
                    e.opcode,
                    u8::from(e.fin),
                    e.payload_len
                )
            });
            notes.push(format!(
                "Fragmentation: the client sent {unfinished} frame(s) with FIN=0 and a last \
                 continuation with FIN=1, one message in all; {echo}."
            ));
        }
        let ping = from(Role::Client)
            .find(|f| f.opcode == crate::wire::application::websocket::OpCode::Ping);
        let pong = from(Role::Server)
            .find(|f| f.opcode == crate::wire::application::websocket::OpCode::Pong);
        if let (Some(p), Some(q)) = (ping, pong) {
            let same = if p.payload_hex == q.payload_hex {
                "the same"
            } else {
                "a different"
            };
            notes.push(format!(
                "Ping/pong: the pong carried {same} payload as the ping."
            ));
        }
        if let Some(note) = compression_note(&frames) {
            notes.push(note);
        }
        notes
    }
}

/// What permessage-deflate did, from the frames the client sent.
fn compression_note(frames: &[&crate::net::ws::FrameTrace]) -> Option<String> {
    use crate::net::ws::trace::DeflateTrace;
    let sent = frames.iter().filter(|f| f.from == Role::Client);
    let (mut compressed, mut small) = (Vec::new(), 0);
    for f in sent {
        match &f.deflate {
            Some(DeflateTrace::Compressed {
                wire_bytes,
                inflated_bytes,
                ..
            }) => compressed.push((*wire_bytes, *inflated_bytes)),
            Some(DeflateTrace::BelowThreshold { .. }) => small += 1,
            _ => {}
        }
    }
    let (wire, inflated) = *compressed.first()?;
    Some(format!(
        "Compression: permessage-deflate was agreed; {small} small message(s) went \
         uncompressed (below the threshold), and the {inflated} B message went as {wire} B \
         with RSV1=1 on its frame."
    ))
}

fn step_for(t: &WsTrace) -> Step {
    match t {
        WsTrace::Handshake {
            at_us,
            from,
            start_line,
            ..
        } => {
            let side = if *from == Role::Client {
                Role::Client
            } else {
                Role::Server
            };
            let (action, label) = if *from == Role::Client {
                (
                    "send Upgrade request".to_owned(),
                    "GET + Upgrade: websocket".to_owned(),
                )
            } else {
                (
                    "accept, switch".to_owned(),
                    start_line.trim_start_matches("HTTP/1.1 ").to_owned(),
                )
            };
            Step::send(Some(*at_us), side, action, label)
        }
        WsTrace::Frame(f) => {
            let side = if f.from == Role::Client {
                Role::Client
            } else {
                Role::Server
            };
            let mut label = format!("{} {} B", f.opcode, f.payload_len);
            if !f.fin {
                label.push_str(" FIN=0");
            }
            if f.masked {
                label.push_str(" masked");
            }
            if f.rsv & 0b100 != 0 {
                label.push_str(" RSV1 compressed");
            }
            Step::send(Some(f.at_us), side, format!("send {}", f.opcode), label)
        }
    }
}

pub async fn run(out: &mut Output) -> anyhow::Result<()> {
    let report = demo().await?;
    if out.format() == Format::Jsonl {
        for t in &report.trace {
            out.event(&DemoTrace { trace: t.clone() })?;
        }
    }
    out.report(&report)?;
    Ok(())
}

/// Run the demo (server and client on 127.0.0.1, port 0) and return what the client saw,
/// without printing (the tour shows it between its own words).
pub async fn demo() -> anyhow::Result<DemoReport> {
    let listener = ws::bind("127.0.0.1:0".parse()?)
        .await
        .failed("could not listen on 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut server_cfg = WsConfig::default();
    server_cfg.policy.deflate = true;
    let opts = ServeOptions {
        mode: ServeMode::Echo,
        cfg: server_cfg,
        report_messages: false,
    };
    let server = tokio::spawn(ws::serve(listener, opts, tx, stop_rx));
    // Drain the server's events; the demo shows the client's trace.
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });

    let url = WsUrl {
        host: "127.0.0.1".into(),
        port: addr.port(),
        resource: "/demo".into(),
    };
    let cfg = WsConfig {
        trace: true,
        idle_timeout: Duration::from_secs(5),
        // As a browser does: small messages still go uncompressed (the trace says why).
        offer_deflate: true,
        ..WsConfig::default()
    };
    let mut conn = ws::connect(&url, cfg, &[])
        .await
        .failed("the demo client could not connect")?;
    let mut replies = exchange(&mut conn).await?;
    let theirs = conn.close(CloseCode::NORMAL, "demo over").await;
    replies.push(match &theirs {
        Some(c) => format!(
            "close: server answered {}",
            c.code.map_or("without a code".into(), |c| c.to_string())
        ),
        None => "close: no answer".into(),
    });
    let trace = conn.take_trace();
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;

    let mut timeline = Timeline::default();
    for t in &trace {
        timeline.push(step_for(t));
    }
    let mut report = DemoReport {
        url: url.to_string(),
        timeline,
        trace,
        replies,
        close_code: theirs.and_then(|c| c.code.map(|c| c.0)),
        observations: Vec::new(),
    };
    report.observations = report.observe();
    Ok(report)
}

/// The demo's conversation: a text, a binary, a fragmented message, a ping, and a
/// message big enough to be compressed; what came back, one line each.
async fn exchange(conn: &mut ws::WsConnection) -> anyhow::Result<Vec<String>> {
    let mut replies = Vec::new();
    let fragmented = Message::text("one message, three frames");
    let steps: Vec<(&str, Message)> = vec![
        ("text", Message::text("Hello, WebSocket! ¡Hola! 你好")),
        (
            "binary",
            Message::binary(vec![0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]),
        ),
        ("fragmented", fragmented.clone()),
    ];
    for (what, m) in steps {
        if what == "fragmented" {
            conn.send_fragmented(&m, 9).await.failed("sending")?;
        } else {
            conn.send(&m).await.failed("sending")?;
        }
        let reply = tokio::time::timeout(Duration::from_secs(5), conn.recv()).await;
        match reply {
            Ok(Ok(Received::Message(r))) => {
                replies.push(format!("{what}: echoed {}", super::describe(&r)))
            }
            other => replies.push(format!("{what}: unexpected {other:?}")),
        }
    }
    conn.ping(b"are you there?")
        .await
        .failed("sending a ping")?;
    match tokio::time::timeout(Duration::from_secs(5), conn.recv()).await {
        Ok(Ok(Received::Pong(p))) => {
            replies.push(format!("ping: pong {}", text::quoted(&p, usize::MAX)))
        }
        other => replies.push(format!("ping: unexpected {other:?}")),
    }
    // Above the 1 KiB threshold: compressed with permessage-deflate (RFC 7692), RSV1 set.
    let big = Message::text("All work and no play makes Jack a dull boy. ".repeat(48));
    conn.send(&big).await.failed("sending")?;
    match tokio::time::timeout(Duration::from_secs(5), conn.recv()).await {
        Ok(Ok(Received::Message(r))) => {
            replies.push(format!("compressed: echoed {}", super::describe(&r)))
        }
        other => replies.push(format!("compressed: unexpected {other:?}")),
    }
    Ok(replies)
}

/// One traced item as a streaming event (shown with `--jsonl`; in human mode the report
/// draws them all).
#[derive(Debug, Serialize)]
pub struct DemoTrace {
    #[serde(flatten)]
    pub trace: WsTrace,
}

impl Render for DemoTrace {
    fn render_human(&self, _: &Style) -> String {
        String::new()
    }
}
