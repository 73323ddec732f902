//! "Follow stream" views: one conversation's reassembled bytes, each direction marked
//! (`>` from the first speaker, `<` back) and coloured like the sequence diagrams
//! (client cyan, server magenta), as text or as a hexdump.
//! Under the bytes, the application events decoded from them ([`write_app`]): HTTP
//! messages, WebSocket frames and messages, DNS messages.

use super::{Paint, Style};
use crate::wire::dissect::app::{AppEvent, AppMessage, Carried};
use crate::wire::dissect::flow::Direction;
use crate::wire::text;
use std::fmt::Write as _;

fn paint_for(dir: Direction) -> Paint {
    match dir {
        Direction::AToB => Paint::Client,
        Direction::BToA => Paint::Server,
    }
}

/// Write `bytes` as text lines, each starting with the direction's marker. Bytes that
/// are not printable ASCII (or a tab) are shown as `.`, as Wireshark's ASCII view does;
/// `\r\n` and `\n` end lines. `at_line_start` carries across calls so a line split over
/// two segments is printed as one.
pub fn write_text(out: &mut String, dir: Direction, bytes: &[u8], style: &Style) {
    let mut line = String::new();
    let flush = |out: &mut String, line: &mut String| {
        let _ = writeln!(
            out,
            "{} {}",
            style.paint(paint_for(dir), dir.arrow()),
            style.paint(paint_for(dir), &*line)
        );
        line.clear();
    };
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\n' => flush(out, &mut line),
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {}
            0x20..=0x7e | b'\t' => line.push(char::from(b)),
            _ => line.push('.'),
        }
        i += 1;
    }
    if !line.is_empty() {
        // No newline at the end of this piece: show it as a line anyway (Wireshark does
        // the same when the next piece comes from the other side).
        flush(out, &mut line);
    }
}

/// Write `bytes` as a hexdump: stream offset, 16 bytes in hex, the same as text.
pub fn write_hex(out: &mut String, dir: Direction, offset: u64, bytes: &[u8], style: &Style) {
    for (k, row) in bytes.chunks(16).enumerate() {
        // Two groups of eight, as hexdump -C writes them.
        let (left, right) = row.split_at(row.len().min(8));
        let mut hex = text::hex(left, " ");
        if !right.is_empty() {
            hex.push_str("  ");
            text::push_hex(&mut hex, right, " ");
        }
        let ascii: String = row
            .iter()
            .map(|&b| {
                if (0x20..=0x7e).contains(&b) {
                    char::from(b)
                } else {
                    '.'
                }
            })
            .collect();
        let line = format!("{:08x}  {hex:<49} {ascii}", offset + 16 * k as u64);
        let _ = writeln!(
            out,
            "{} {}",
            style.paint(paint_for(dir), dir.arrow()),
            style.paint(paint_for(dir), line)
        );
    }
}

/// A hole in the stream: bytes that were sent but never captured.
pub fn write_gap(out: &mut String, dir: Direction, offset: u64, len: u64, style: &Style) {
    let _ = writeln!(
        out,
        "{} {}",
        dir.arrow(),
        style.paint(
            Paint::Warn,
            format!("[{len} bytes missing at stream offset {offset}: never captured]")
        )
    );
}

/// One decoded application event (an HTTP message, a WebSocket frame or message, a DNS
/// message, a note), as `--follow` lists them under the stream.
pub fn write_app(s: &mut String, ev: &AppEvent, style: &Style) {
    let mark = style.paint(paint_for(ev.direction), ev.direction.arrow());
    match &ev.message {
        AppMessage::HttpRequest { .. } | AppMessage::HttpResponse { .. } => {
            write_http(s, &mark, &ev.message, style)
        }
        AppMessage::WebSocketFrame { .. } | AppMessage::WebSocketMessage { .. } => {
            write_websocket(s, &mark, &ev.message, style)
        }
        AppMessage::Note { text } => {
            let _ = writeln!(s, "{mark} {}", style.paint(Paint::Warn, text));
        }
        AppMessage::Dns { .. } => write_dns(s, &mark, &ev.message, style),
    }
    if let Some(c) = ev.message.carried() {
        write_carried(s, c);
    }
}

/// What a message carries (Engine.IO and the Socket.IO inside): a line per packet.
fn write_carried(s: &mut String, c: &Carried) {
    match c {
        Carried::EngineIo(e) if e.packets.len() == 1 && e.problem.is_none() => {
            let _ = writeln!(
                s,
                "    Engine.IO over {}: {}",
                e.transport.name(),
                e.packets[0].describe()
            );
        }
        Carried::EngineIo(e) => {
            let n = e.packets.len();
            let _ = writeln!(
                s,
                "    Engine.IO payload ({}), {n} packets:",
                e.transport.name()
            );
            for p in &e.packets {
                let _ = writeln!(s, "      {}", p.describe());
            }
            if let Some(pr) = &e.problem {
                let _ = writeln!(s, "      {pr}");
            }
        }
    }
}

/// An HTTP request or response head (RFC 9112 §3, §4), its body's framing (§6), and
/// what it says about a switch to WebSocket (RFC 6455 §4.1, §4.2.2).
fn write_http(s: &mut String, mark: &str, m: &AppMessage, style: &Style) {
    match m {
        AppMessage::HttpRequest {
            number,
            method,
            target,
            version,
            headers,
            framing,
            body_len,
            chunks,
            upgrade_websocket,
            ..
        } => {
            let _ = writeln!(
                s,
                "{mark} HTTP request {number}: {method} {target} {version}  ({} headers, body {body_len} bytes{})",
                headers.0.len(),
                body_desc(*framing, *chunks)
            );
            if *upgrade_websocket {
                let key = headers.get("sec-websocket-key").unwrap_or("(none)");
                let _ = writeln!(
                    s,
                    "    asks to switch to WebSocket: Upgrade: websocket, Sec-WebSocket-Key: {key}"
                );
            }
        }
        AppMessage::HttpResponse {
            answers,
            version,
            status,
            reason,
            headers,
            framing,
            body_len,
            chunks,
            websocket_accept,
            switches_to_websocket,
            ..
        } => {
            let to = answers
                .map(|n| format!(" to request {n}"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "{mark} HTTP response{to}: {version} {status} {reason}  ({} headers, body {body_len} bytes{})",
                headers.0.len(),
                body_desc(*framing, *chunks)
            );
            if let Some(a) = websocket_accept {
                let verdict = if a.ok {
                    style.paint(Paint::Good, "matches")
                } else {
                    style.paint(Paint::Bad, "does NOT match")
                };
                let _ = writeln!(
                    s,
                    "    Sec-WebSocket-Accept {} {verdict} base64(SHA-1(key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)) = {}",
                    a.got, a.expected
                );
            }
            if *switches_to_websocket {
                let _ = writeln!(
                    s,
                    "    from the next byte on, both directions carry WebSocket frames"
                );
            }
        }
        _ => {}
    }
}

/// A WebSocket frame's header fields (RFC 6455 §5.2) and payload, or a whole message
/// put together from its frames (§5.4).
fn write_websocket(s: &mut String, mark: &str, m: &AppMessage, style: &Style) {
    match m {
        AppMessage::WebSocketFrame {
            fin,
            rsv1,
            rsv2,
            rsv3,
            opcode,
            opcode_bits,
            mask_key,
            payload_len,
            length_encoding,
            compressed,
            payload_text,
            payload_hex,
            not_shown,
            close_code,
            close_reason,
            problem,
            inflated,
            ..
        } => {
            let opcode = opcode.name();
            let b = |x: bool| u8::from(x);
            let mask = match mask_key {
                Some(k) => format!("MASK=1 key {k}"),
                None => "MASK=0".into(),
            };
            let _ = write!(
                s,
                "{mark} WebSocket frame: FIN={} RSV={}{}{} opcode {opcode} (0x{opcode_bits:x}) {mask} len {payload_len} ({})",
                b(*fin),
                b(*rsv1),
                b(*rsv2),
                b(*rsv3),
                length_encoding.describe()
            );
            if *compressed {
                s.push_str(" compressed (permessage-deflate)");
            }
            if let Some(code) = close_code {
                let _ = write!(
                    s,
                    " close code {}",
                    crate::wire::application::websocket::CloseCode(*code)
                );
            }
            match (payload_text, payload_hex, close_reason) {
                (_, _, Some(r)) if !r.is_empty() => {
                    let _ = write!(s, " reason {}", text::quoted(r.as_bytes(), usize::MAX));
                }
                (Some(t), _, None) => {
                    let _ = write!(s, " {}", text::quoted(t.as_bytes(), usize::MAX));
                }
                (None, Some(h), None) if !h.is_empty() => {
                    let _ = write!(s, " hex {h}");
                }
                _ => {}
            }
            if *not_shown > 0 {
                let _ = write!(s, " (+{not_shown} bytes not shown)");
            }
            s.push('\n');
            if let Some(i) = inflated {
                let _ = writeln!(s, "    {}", i.describe());
            }
            if let Some(p) = problem {
                let _ = writeln!(s, "    {}", style.paint(Paint::Warn, p));
            }
        }
        AppMessage::WebSocketMessage {
            opcode,
            frames,
            len,
            text,
            ..
        } => {
            let opcode = opcode.name();
            let _ = write!(
                s,
                "{mark}   = one {opcode} message of {len} bytes from {frames} frames"
            );
            if let Some(t) = text {
                let _ = write!(s, ": {}", text::quoted(t.as_bytes(), usize::MAX));
            }
            s.push('\n');
        }
        _ => {}
    }
}

/// A DNS message: its summary, then the header's fields (RFC 1035 §4.1.1).
fn write_dns(s: &mut String, mark: &str, m: &AppMessage, style: &Style) {
    if let AppMessage::Dns {
        transport,
        length,
        summary,
        message,
    } = m
    {
        let framing = if *transport == crate::wire::dissect::flow::Transport::Tcp {
            "after its 2-byte length"
        } else {
            "one datagram"
        };
        let _ = writeln!(
            s,
            "{mark} DNS message, {length} bytes ({framing}): {summary}"
        );
        let _ = writeln!(
                s,
                "    id 0x{:04x}, flags {} [{}], rcode {}; {} question{}, {} answer{}, {} authority, {} additional",
                message.id,
                if message.qr { "response" } else { "query" },
                message.flags.names(),
                message.rcode_text(),
                message.qdcount,
                if message.qdcount == 1 { "" } else { "s" },
                message.ancount,
                if message.ancount == 1 { "" } else { "s" },
                message.nscount,
                message.arcount
            );
        if let Some(p) = &message.problem {
            let _ = writeln!(
                s,
                "    {}",
                style.paint(Paint::Warn, format!("malformed: {p}"))
            );
        }
    }
}

fn body_desc(f: crate::wire::dissect::app::BodyFraming, chunks: u32) -> String {
    use crate::wire::dissect::app::BodyFraming;
    match f {
        BodyFraming::None => String::new(),
        BodyFraming::ContentLength => ", by Content-Length".into(),
        BodyFraming::Chunked => format!(", chunked: {chunks} chunks"),
        BodyFraming::UntilClose => ", until the server closed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_are_marked_and_unprintables_dotted() {
        let mut s = String::new();
        write_text(
            &mut s,
            Direction::AToB,
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            &Style::plain(),
        );
        write_text(&mut s, Direction::BToA, b"bin\x00\xffary", &Style::plain());
        assert_eq!(s, "> GET / HTTP/1.1\n> Host: x\n> \n< bin..ary\n");
    }

    #[test]
    fn hex_rows_carry_stream_offsets() {
        let mut s = String::new();
        write_hex(&mut s, Direction::BToA, 16, &[0x41; 17], &Style::plain());
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("< 00000010  41 41"), "{s}");
        assert!(lines[1].starts_with("< 00000020  41 "), "{s}");
        assert!(lines[0].ends_with("AAAAAAAAAAAAAAAA"));
    }
}
