//! `netlab ws`: WebSocket built by hand (RFC 6455).
//!
//! - `handshake`: the Accept computation, step by step (pure, no sockets).
//! - `server`, `client`: a live echo/broadcast server and an interactive client.
//! - `demo`: both in one process, every byte traced.
//! - `autobahn`: the conformance suite's client protocol.
//!
//! The codec and the connection's protocol are `wire::application::websocket` (no I/O); `net::ws`
//! puts them on a socket. This module turns arguments into plans, runs them and hands
//! events and reports to `output` (and writes the one-line summary of a message,
//! [`describe`]).

pub mod autobahn;
pub mod client;
pub mod demo;
pub mod server;

use crate::cli::ws::{HandshakeArgs, WsArgs, WsCommand};
use crate::net::runtime::{runtime, Runtime};
use crate::net::ws::trace::DeflateTrace;
use crate::net::ws::{FrameTrace, WsTrace};
use crate::output::{Output, Paint, Render, Style};
use crate::wire::application::websocket::handshake::{accept_steps, AcceptSteps};
use crate::wire::application::websocket::{Message, MessageKind, Role};
use crate::wire::text;
use serde::Serialize;

/// Run one `netlab ws` subcommand.
pub fn run(args: WsArgs, out: &mut Output) -> anyhow::Result<()> {
    match args.command {
        WsCommand::Handshake(a) => {
            out.report(&handshake_report(&HandshakePlan::from(a)))?;
            Ok(())
        }
        WsCommand::Server(a) => {
            let plan = server::Plan::try_from(a)?;
            let rt = runtime(Runtime::MultiThread)?;
            let r = rt.block_on(server::run(plan, out));
            rt.shutdown_background();
            r
        }
        WsCommand::Client(a) => {
            let plan = client::Plan::try_from(a)?;
            let rt = runtime(Runtime::CurrentThread)?;
            let r = rt.block_on(client::run(plan, out));
            // A pending read of the terminal must not keep the process alive.
            rt.shutdown_background();
            r
        }
        WsCommand::Demo(_) => {
            let rt = runtime(Runtime::MultiThread)?;
            let r = rt.block_on(demo::run(out));
            rt.shutdown_background();
            r
        }
        WsCommand::Autobahn(a) => {
            let plan = autobahn::Plan::try_from(a)?;
            let rt = runtime(Runtime::CurrentThread)?;
            let r = rt.block_on(autobahn::run(plan, out));
            rt.shutdown_background();
            r
        }
    }
}

/// `netlab ws handshake`: which key to explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakePlan {
    pub key: String,
}

impl From<HandshakeArgs> for HandshakePlan {
    fn from(a: HandshakeArgs) -> Self {
        HandshakePlan { key: a.key }
    }
}

/// The Accept computation and what it means.
#[derive(Debug, Serialize)]
pub struct HandshakeReport {
    #[serde(flatten)]
    pub steps: AcceptSteps,
    /// Whether the key has the shape RFC 6455 §4.1 requires (base64 of 16 bytes).
    pub key_is_valid: bool,
    pub proves: Vec<&'static str>,
    pub does_not_prove: Vec<&'static str>,
}

pub fn handshake_report(plan: &HandshakePlan) -> HandshakeReport {
    let steps = accept_steps(&plan.key);
    HandshakeReport {
        key_is_valid: steps.key_decoded_len == Some(16),
        steps,
        proves: vec![
            "the server read this very request: the answer depends on the key, which is fresh each time",
            "the server speaks WebSocket: a plain HTTP server or a cache replaying an old response cannot produce it",
        ],
        does_not_prove: vec![
            "who the server is: anyone can compute SHA-1 and base64 (TLS, wss://, does that)",
            "who the client is: authenticate with a cookie, a token or TLS, not with the key",
            "secrecy or integrity of the messages: the key is sent in clear and nothing is encrypted",
        ],
    }
}

impl Render for HandshakeReport {
    fn render_human(&self, style: &Style) -> String {
        let s = &self.steps;
        let mut t = style.table();
        t.set_header(vec!["step", "value"]);
        t.add_row(vec![
            "1. Sec-WebSocket-Key (from the client)".to_owned(),
            s.key.clone(),
        ]);
        t.add_row(vec![
            "   decodes to".to_owned(),
            match s.key_decoded_len {
                Some(16) => "16 bytes (as §4.1 requires)".to_owned(),
                Some(n) => format!("{n} bytes: a server must refuse it (400)"),
                None => "not base64: a server must refuse it (400)".to_owned(),
            },
        ]);
        t.add_row(vec![
            "2. the GUID of RFC 6455 §1.3".to_owned(),
            s.guid.to_owned(),
        ]);
        t.add_row(vec![
            "3. key + GUID (as text)".to_owned(),
            s.concatenated.clone(),
        ]);
        t.add_row(vec![
            "4. SHA-1 of that (20 bytes, hex)".to_owned(),
            s.sha1_hex.clone(),
        ]);
        t.add_row(vec![
            "5. base64 of the 20 bytes = Sec-WebSocket-Accept".to_owned(),
            style.paint(Paint::Good, &s.accept),
        ]);
        let mut out = format!(
            "{}\n{t}\n\nThe server puts the last line in its 101 response; the client computes the \
             same and fails the connection if they differ.\n\n",
            style.paint(Paint::Bold, "Sec-WebSocket-Accept, step by step (RFC 6455 §4.2.2)")
        );
        out.push_str(&style.paint(Paint::Bold, "What it proves"));
        out.push('\n');
        for p in &self.proves {
            out.push_str(&format!("  + {p}\n"));
        }
        out.push_str(&style.paint(
            Paint::Bold,
            "What it does not prove (it is not authentication)",
        ));
        out.push('\n');
        for p in &self.does_not_prove {
            out.push_str(&format!("  - {p}\n"));
        }
        out
    }
}

/// Draw one trace item: a handshake head with each header explained, or a frame with
/// every field, in the direction it travelled.
/// A short description of a message for logs: the text (clipped) or the size.
pub fn describe(m: &Message) -> String {
    summarize(m.kind, &m.payload, m.payload.len())
}

/// [`describe`] from the start of a message (`head`, whole characters for text) and the
/// whole message's length `len`: the server's events carry only that much.
pub fn summarize(kind: MessageKind, head: &[u8], len: usize) -> String {
    match kind {
        MessageKind::Text => {
            let mut s = String::from("text ");
            text::push_preview(&mut s, &head[..head.len().min(60)], len as u64, true);
            s
        }
        MessageKind::Binary => {
            let n = head.len().min(16);
            let more = if len > n { " …" } else { "" };
            format!("binary {} B [{}{more}]", len, text::hex(&head[..n], " "))
        }
    }
}

pub fn render_trace(t: &WsTrace, style: &Style) -> String {
    match t {
        WsTrace::Handshake {
            at_us,
            from,
            start_line,
            headers,
            checks,
        } => {
            let mut s = format!(
                "{:>9.3} ms  {}  {}\n",
                *at_us as f64 / 1000.0,
                arrow(*from, style),
                style.paint(Paint::Bold, start_line)
            );
            let w = headers
                .iter()
                .map(|h| h.name.len() + h.value.len() + 2)
                .max()
                .unwrap_or(0);
            for h in headers {
                let field = format!("{}: {}", h.name, h.value);
                s.push_str(&format!(
                    "              {field:<w$}  {}\n",
                    style.paint(Paint::Dim, format!("← {}", h.about))
                ));
            }
            if !checks.is_empty() {
                s.push_str("              server's checks (RFC 6455 §4.2.1):\n");
                for c in checks {
                    let mark = if c.passed {
                        style.paint(Paint::Good, "ok  ")
                    } else {
                        style.paint(Paint::Bad, "FAIL")
                    };
                    s.push_str(&format!(
                        "                {mark} {}: {}\n",
                        c.rule, c.detail
                    ));
                }
            }
            s
        }
        WsTrace::Frame(f) => render_frame(f, style),
    }
}

fn arrow(from: Role, style: &Style) -> String {
    let (c, sv) = (
        style.paint(Paint::Client, "client"),
        style.paint(Paint::Server, "server"),
    );
    match from {
        Role::Client => format!("{c} ──► {sv}"),
        Role::Server => format!("{c} ◄── {sv}"),
    }
}

fn render_frame(f: &FrameTrace, style: &Style) -> String {
    let mask = match &f.mask_key {
        Some(k) => format!("MASK=1 key={k}"),
        None => "MASK=0".to_owned(),
    };
    let mut s = format!(
        "{:>9.3} ms  {}  {} FIN={} RSV={:03b} {}  len={} ({})\n",
        f.at_us as f64 / 1000.0,
        arrow(f.from, style),
        style.paint(Paint::Bold, f.opcode.to_string()),
        u8::from(f.fin),
        f.rsv,
        mask,
        f.payload_len,
        f.length_encoding
    );
    let more = if f.truncated { " …" } else { "" };
    s.push_str(&format!("              header   {}\n", f.header_hex));
    if f.payload_len > 0 {
        if f.masked {
            s.push_str(&format!(
                "              on wire  {}{more}  (masked)\n",
                f.wire_hex
            ));
            s.push_str(&format!("              unmasked {}{more}", f.payload_hex));
        } else {
            s.push_str(&format!("              payload  {}{more}", f.payload_hex));
        }
        if let Some(t) = &f.payload_text {
            s.push_str(&format!(
                "  {}",
                style.paint(Paint::Dim, text::quoted(t.as_bytes(), usize::MAX))
            ));
        }
        s.push('\n');
    }
    if let Some(d) = &f.deflate {
        s.push_str(&format!(
            "              {}\n",
            style.paint(Paint::Dim, describe_deflate(d))
        ));
    }
    s
}

/// One line on what permessage-deflate did with a message.
fn describe_deflate(d: &DeflateTrace) -> String {
    match d {
        DeflateTrace::Compressed {
            wire_bytes,
            inflated_bytes,
            ratio,
        } => format!(
            "permessage-deflate: {wire_bytes} B on the wire, {inflated_bytes} B inflated (ratio {ratio:.2})"
        ),
        DeflateTrace::BelowThreshold { threshold } => format!(
            "permessage-deflate: sent uncompressed, smaller than the {threshold} B threshold"
        ),
        DeflateTrace::NotAsked => {
            "permessage-deflate: sent uncompressed, as the sender asked".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_report_for_the_rfc_key() {
        let r = handshake_report(&HandshakePlan {
            key: "dGhlIHNhbXBsZSBub25jZQ==".into(),
        });
        assert!(r.key_is_valid);
        let text = r.render_human(&Style::plain());
        assert!(text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{text}");
        assert!(
            text.contains("b37a4f2cc0624f1690f64606cf385945b2bec4ea"),
            "{text}"
        );
        assert!(text.contains("not authentication"), "{text}");
        let bad = handshake_report(&HandshakePlan { key: "abc".into() });
        assert!(!bad.key_is_valid);
    }
}
