//! The layer-tree view of a decoded application unit: its name, a one-line summary and
//! its fields, each with a short explanation and the RFC section it comes from, and
//! where its bytes sit in the frame being shown.
//!
//! A unit often spans several TCP segments. The packet on which it completed carries it,
//! as Wireshark does; [`FrameMap`] places that packet's payload in the stream, so fields
//! whose bytes came in this packet get byte spans (for the hex view) and the others are
//! listed without one. One function per protocol builds the fields:
//!
//! - HTTP/1.x request and response: the start line cut into its parts (RFC 9112 §3,
//!   §4), a field per header line (RFC 9110 §5), the body's framing (RFC 9112 §6), the
//!   upgrade and the `Sec-WebSocket-Accept` check (RFC 6455 §4);
//! - a WebSocket frame: each header field of RFC 6455 §5.2 at its bit position, the
//!   masking key (§5.3), the unmasked payload, a close frame's code and reason (§5.5.1,
//!   §7.4), and any rule the frame breaks;
//! - a fragmented WebSocket message, whole (§5.4);
//! - a DNS message: over TCP its length prefix (RFC 1035 §4.2.2), then `wire::application::dns`'s
//!   own fields, moved to where the message starts.

use super::dns::prefix_len;
use super::{AcceptCheck, AppEvent, AppMessage, BodyFraming, Carried};
use crate::layers::Protocol;
use crate::wire::application::http1::Headers;
use crate::wire::application::websocket::{CloseCode, LengthEncoding, OpCode};
use crate::wire::dissect::flow::Transport;
use crate::wire::{text, Field};
use serde::Serialize;
use std::ops::Range;

/// Where one frame's TCP payload sits in its direction's stream: stream offsets
/// `stream_at..stream_at + len` are the frame's bytes `frame_at..frame_at + len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMap {
    pub stream_at: u64,
    pub frame_at: usize,
    pub len: usize,
}

impl FrameMap {
    /// The part of stream range `from..to` that lies in this frame, as frame offsets
    /// (empty `0..0` when none of it does).
    pub fn span(&self, from: u64, to: u64) -> Range<usize> {
        let lo = from.max(self.stream_at);
        let hi = to.min(self.stream_at + self.len as u64);
        if lo >= hi {
            return 0..0;
        }
        let a = self.frame_at + (lo - self.stream_at) as usize;
        a..a + (hi - lo) as usize
    }
}

/// One application-layer unit shown in a packet's layer tree: the packet on which it
/// completed carries it, as Wireshark does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppLayer {
    pub protocol: Protocol,
    pub name: &'static str,
    /// Its unit: "message" or "frame".
    pub pdu: &'static str,
    pub summary: String,
    /// Fields; spans are frame offsets of the bytes in *this* frame (empty when the
    /// field travelled in an earlier packet).
    pub fields: Vec<Field>,
    /// The unit's bytes in this frame.
    pub here: Range<usize>,
    /// First and last packet its bytes came in, when it spans more than one.
    pub reassembled_from: Option<(u64, u64)>,
    pub message: AppMessage,
}

/// What a layer is called and its one line; each protocol's function returns it.
struct Heading {
    protocol: Protocol,
    name: &'static str,
    /// "message" or "frame".
    pdu: &'static str,
    summary: String,
}

/// Stream offsets to this frame's offsets (empty when the bytes are not in this frame,
/// or the unit travels the other way).
#[derive(Debug, Clone, Copy)]
struct Spans(Option<FrameMap>);

impl Spans {
    fn of(self, from: u64, to: u64) -> Range<usize> {
        self.0.map(|m| m.span(from, to)).unwrap_or(0..0)
    }
}

/// The first `max` bytes of `t` in quotes, escaped by netlab's one escaper, with an
/// ellipsis counting the bytes left out (`not_kept` more were never kept).
fn quoted(t: &[u8], max: usize, not_kept: u64) -> String {
    let mut s = String::new();
    let total = t.len() as u64 + not_kept;
    text::push_preview(&mut s, &t[..t.len().min(max)], total, true);
    s
}

impl AppEvent {
    /// The layer-tree view of this unit; `map` places this frame's payload in the
    /// stream (when the unit travels in the same direction as the frame), so fields
    /// found in this frame get their byte spans.
    pub fn layer(&self, frame: &[u8], map: Option<FrameMap>) -> Option<AppLayer> {
        let spans = Spans(map);
        let here = spans.of(self.offset, self.end);
        let mut fields = Vec::new();
        let f = &mut fields;
        let heading = match &self.message {
            AppMessage::HttpRequest { .. } => http_request(&self.message, frame, &here, f),
            AppMessage::HttpResponse { .. } => http_response(&self.message, frame, &here, f),
            AppMessage::WebSocketFrame { .. } => websocket_frame(self, spans, f),
            AppMessage::WebSocketMessage { .. } => websocket_message(&self.message, f),
            AppMessage::Dns { .. } => dns(self, spans, f),
            AppMessage::Note { .. } => None,
        }?;
        let mut summary = heading.summary;
        if let Some(c) = self.message.carried() {
            // What the payload carries: its fields after the carrier's own.
            let start = carried_start(self);
            let span = |a: usize, b: usize| match start {
                Some(s) => spans.of(s + a as u64, s + b as u64),
                None => 0..0,
            };
            match c {
                Carried::EngineIo(e) => e.push_fields(&span, f),
            }
            summary = format!("{summary} · {}", c.describe());
        }
        Some(AppLayer {
            protocol: heading.protocol,
            name: heading.name,
            pdu: heading.pdu,
            summary,
            fields,
            here,
            reassembled_from: None,
            message: self.message.clone(),
        })
    }
}

/// Stream offset of the first byte of what a message carries: a frame's payload, a
/// body of known length (a chunked body's bytes are not contiguous; a fragmented
/// message's are spread over frames; a compressed message's were inflated and are not
/// on the wire as such: no spans for those).
fn carried_start(ev: &AppEvent) -> Option<u64> {
    match &ev.message {
        AppMessage::WebSocketFrame {
            length_encoding,
            masked,
            compressed: false,
            ..
        } => Some(FrameOffsets::new(ev.offset, *length_encoding, *masked).data),
        AppMessage::HttpRequest {
            framing: BodyFraming::ContentLength,
            body_len,
            ..
        }
        | AppMessage::HttpResponse {
            framing: BodyFraming::ContentLength,
            body_len,
            ..
        } => ev.end.checked_sub(*body_len),
        _ => None,
    }
}

/// An HTTP request: request line, headers, body, upgrade (RFC 9112 §3, RFC 6455 §4.1).
fn http_request(
    m: &AppMessage,
    frame: &[u8],
    here: &Range<usize>,
    f: &mut Vec<Field>,
) -> Option<Heading> {
    let AppMessage::HttpRequest {
        method,
        target,
        version,
        headers,
        framing,
        body_len,
        chunks,
        body_preview,
        upgrade_websocket,
        ..
    } = m
    else {
        return None;
    };
    let lines = head_lines(frame, here.clone());
    let line = lines.first().cloned().unwrap_or(0..0);
    let (m, rest) = split_span(&line, method.len());
    let (t, v) = split_span(&rest, target.len());
    let line_text = format!("{method} {target} {version}");
    f.push(Field::new(
        "request line",
        line_text.clone(),
        line,
        "method, target and version, ending in CRLF (RFC 9112 §3)",
    ));
    f.push(Field::new(
        "method",
        method.clone(),
        m,
        "what the client asks the server to do (RFC 9110 §9)",
    ));
    f.push(Field::new(
        "URI",
        target.clone(),
        t,
        "the request target: which resource (RFC 9112 §3.2)",
    ));
    f.push(Field::new(
        "version",
        version.clone(),
        v,
        "the protocol version of this message",
    ));
    push_headers(f, headers, &lines);
    push_body(f, *framing, *body_len, *chunks, body_preview);
    if *upgrade_websocket {
        let key = headers.get("sec-websocket-key").unwrap_or("(none)");
        f.push(Field::new(
            "WebSocket upgrade",
            format!("requested, Sec-WebSocket-Key {key}"),
            0..0,
            "Upgrade: websocket + Connection: Upgrade (RFC 6455 §4.1)",
        ));
    }
    let up = if *upgrade_websocket {
        " (asks to switch to WebSocket)"
    } else {
        ""
    };
    Some(Heading {
        protocol: Protocol::Http1,
        name: "HTTP/1.x request",
        pdu: "message",
        summary: format!("{line_text}{up}"),
    })
}

/// An HTTP response: status line, headers, body, and what it means for an upgrade
/// (RFC 9112 §4, RFC 6455 §4.2.2).
fn http_response(
    m: &AppMessage,
    frame: &[u8],
    here: &Range<usize>,
    f: &mut Vec<Field>,
) -> Option<Heading> {
    let AppMessage::HttpResponse {
        version,
        status,
        reason,
        headers,
        framing,
        body_len,
        chunks,
        body_preview,
        websocket_accept,
        switches_to_websocket,
        answers,
        ..
    } = m
    else {
        return None;
    };
    let lines = head_lines(frame, here.clone());
    let line = lines.first().cloned().unwrap_or(0..0);
    let (v, rest) = split_span(&line, version.len());
    let (c, r) = split_span(&rest, 3);
    let line_text = format!("{version} {status} {reason}");
    f.push(Field::new(
        "status line",
        line_text.clone(),
        line,
        "version, status code and reason phrase (RFC 9112 §4)",
    ));
    f.push(Field::new(
        "version",
        version.clone(),
        v,
        "the protocol version of this message",
    ));
    f.push(Field::new("status code", status.to_string(), c, "1xx informational, 2xx success, 3xx redirection, 4xx client error, 5xx server error (RFC 9110 §15)"));
    f.push(Field::new(
        "reason",
        reason.clone(),
        r,
        "words for people; programs read the code",
    ));
    if let Some(n) = answers {
        f.push(Field::new(
            "answers",
            format!("request {n} on this connection"),
            0..0,
            "responses come back in request order (RFC 9112 §9.3)",
        ));
    }
    push_headers(f, headers, &lines);
    push_body(f, *framing, *body_len, *chunks, body_preview);
    push_upgrade(f, websocket_accept.as_ref(), *switches_to_websocket);
    Some(Heading {
        protocol: Protocol::Http1,
        name: "HTTP/1.x response",
        pdu: "message",
        summary: line_text,
    })
}

/// What a response says about a WebSocket upgrade: the accept check, and whether
/// HTTP ends here (RFC 6455 §4.1, §4.2.2).
fn push_upgrade(f: &mut Vec<Field>, accept: Option<&AcceptCheck>, switches: bool) {
    if let Some(a) = accept {
        let verdict = if a.ok {
            format!(
                "correct: base64(SHA-1(key + GUID)) of key {} is {}",
                a.key, a.expected
            )
        } else {
            format!(
                "WRONG: key {} needs {}, the server sent {}",
                a.key, a.expected, a.got
            )
        };
        f.push(Field::new(
            "Sec-WebSocket-Accept check",
            verdict,
            0..0,
            "the server proves it read this handshake (RFC 6455 §4.2.2)",
        ));
    }
    if switches {
        f.push(Field::new(
            "after this",
            "both directions speak WebSocket frames".into(),
            0..0,
            "101 Switching Protocols ends HTTP on this connection (RFC 6455 §4.1)",
        ));
    }
}

/// Where a frame's parts start in the stream (RFC 6455 §5.2): two bytes of header,
/// then 0, 2 or 8 bytes of extended length, then the masking key if masked, then the
/// payload.
#[derive(Debug, Clone, Copy)]
struct FrameOffsets {
    /// The first header byte.
    start: u64,
    /// The masking key (where the payload starts when there is none).
    key: u64,
    /// The payload.
    data: u64,
}

impl FrameOffsets {
    fn new(start: u64, length_encoding: LengthEncoding, masked: bool) -> FrameOffsets {
        let ext: u64 = match length_encoding {
            LengthEncoding::Bits7 => 0,
            LengthEncoding::Bits16 => 2,
            LengthEncoding::Bits64 => 8,
        };
        let key = start + 2 + ext;
        FrameOffsets {
            start,
            key,
            data: key + if masked { 4 } else { 0 },
        }
    }
}

fn bit(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

/// A WebSocket frame: its header fields, then its payload.
fn websocket_frame(ev: &AppEvent, spans: Spans, f: &mut Vec<Field>) -> Option<Heading> {
    let AppMessage::WebSocketFrame {
        length_encoding,
        masked,
        ..
    } = &ev.message
    else {
        return None;
    };
    let at = FrameOffsets::new(ev.offset, *length_encoding, *masked);
    frame_first_byte_fields(&ev.message, spans.of(at.start, at.start + 1), f);
    frame_length_and_mask_fields(&ev.message, at, spans, f);
    frame_payload_fields(&ev.message, at, spans, f);
    Some(Heading {
        protocol: Protocol::WebSocket,
        name: "WebSocket frame",
        pdu: "frame",
        summary: frame_summary(&ev.message),
    })
}

/// The first header byte: FIN, RSV1-3 and the opcode (RFC 6455 §5.2).
fn frame_first_byte_fields(m: &AppMessage, first: Range<usize>, f: &mut Vec<Field>) {
    let AppMessage::WebSocketFrame {
        fin,
        rsv1,
        rsv2,
        rsv3,
        opcode,
        opcode_bits,
        compressed,
        ..
    } = m
    else {
        return;
    };
    let fin_means = if *fin {
        "the last frame of its message"
    } else {
        "more frames of this message follow"
    };
    f.push(Field::new(
        "FIN",
        format!("{} ({fin_means})", bit(*fin)),
        first.clone(),
        "1 on the final fragment (RFC 6455 §5.2)",
    ));
    let rsv1_text = if *compressed {
        "1: compressed (permessage-deflate)".to_string()
    } else {
        bit(*rsv1).to_string()
    };
    f.push(Field::new("RSV1", rsv1_text, first.clone(), "reserved for extensions; permessage-deflate marks compressed messages with it (RFC 7692 §6)"));
    let reserved = "reserved: 0 unless an extension defines it";
    f.push(Field::new(
        "RSV2",
        bit(*rsv2).into(),
        first.clone(),
        reserved,
    ));
    f.push(Field::new(
        "RSV3",
        bit(*rsv3).into(),
        first.clone(),
        reserved,
    ));
    f.push(Field::new(
        "opcode",
        format!("0x{opcode_bits:x} {}", opcode.name()),
        first,
        "0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong (§5.2)",
    ));
}

/// The header after its first byte: MASK, payload length and masking key (RFC 6455
/// §5.2, §5.3).
fn frame_length_and_mask_fields(
    m: &AppMessage,
    at: FrameOffsets,
    spans: Spans,
    f: &mut Vec<Field>,
) {
    let AppMessage::WebSocketFrame {
        masked,
        mask_key,
        payload_len,
        length_encoding,
        ..
    } = m
    else {
        return;
    };
    let o = at.start;
    let mask_means = if *masked {
        "masked: client to server"
    } else {
        "not masked: server to client"
    };
    f.push(Field::new(
        "MASK",
        format!("{} ({mask_means})", bit(*masked)),
        spans.of(o + 1, o + 2),
        "clients mask every frame, servers never do (§5.1)",
    ));
    f.push(Field::new(
        "payload length",
        format!("{payload_len} ({})", length_encoding.describe()),
        spans.of(o + 1, at.key),
        "7 bits; 126 means a 16-bit length follows, 127 a 64-bit one (§5.2)",
    ));
    if let Some(k) = mask_key {
        f.push(Field::new(
            "masking key",
            k.clone(),
            spans.of(at.key, at.data),
            "XORed over the payload, 4 bytes round (§5.3)",
        ));
    }
}

/// The payload as text or hex, and what it says: compression, a close code and
/// reason (§5.5.1, §7.4), a broken rule.
fn frame_payload_fields(m: &AppMessage, at: FrameOffsets, spans: Spans, f: &mut Vec<Field>) {
    let AppMessage::WebSocketFrame {
        opcode,
        masked,
        payload_len,
        compressed,
        payload_text,
        payload_hex,
        not_shown,
        close_code,
        close_reason,
        problem,
        inflated,
        ..
    } = m
    else {
        return;
    };
    let unmasked = if *masked { ", unmasked" } else { "" };
    let more = if *not_shown > 0 {
        format!(" (+{not_shown} bytes not shown)")
    } else {
        String::new()
    };
    let payload = match (payload_text, payload_hex) {
        _ if *compressed => format!(
            "{payload_len} bytes compressed (permessage-deflate): {}{more}",
            payload_hex.as_deref().unwrap_or("")
        ),
        (Some(t), _) if *opcode == OpCode::Close => quoted(t.as_bytes(), 200, *not_shown),
        (Some(t), _) => format!("text{unmasked}: {}", quoted(t.as_bytes(), 200, *not_shown)),
        (None, Some(h)) if h.len() > 128 => {
            format!("hex{unmasked}: {}… ({payload_len} bytes)", &h[..128])
        }
        (None, Some(h)) => format!("hex{unmasked}: {h}{more}"),
        (None, None) => String::new(),
    };
    let data_at = at.data;
    if *payload_len > 0 && !payload.is_empty() {
        f.push(Field::new(
            "payload",
            payload,
            spans.of(data_at, data_at + payload_len),
            "the application's bytes",
        ));
    }
    if *compressed {
        f.push(Field::new(
            "compressed",
            "yes: RSV1 set, permessage-deflate negotiated".into(),
            0..0,
            "the payload is DEFLATE data (RFC 7692)",
        ));
    }
    if let Some(i) = inflated {
        f.push(Field::new(
            "inflated",
            i.describe(),
            0..0,
            "the whole message, inflated as its receiver did (RFC 7692 §7.2.2)",
        ));
    }
    if let Some(c) = close_code {
        let meaning = CloseCode(*c).meaning();
        f.push(Field::new(
            "close code",
            format!("{c} ({meaning})"),
            spans.of(data_at, data_at + 2),
            "why the connection closes (§7.4)",
        ));
    }
    if let Some(r) = close_reason {
        f.push(Field::new(
            "close reason",
            quoted(r.as_bytes(), 123, 0),
            spans.of(data_at + 2, data_at + payload_len),
            "UTF-8 text for people (§5.5.1)",
        ));
    }
    if let Some(p) = problem {
        f.push(Field::new(
            "problem",
            p.clone(),
            0..0,
            "a rule of RFC 6455 this frame breaks",
        ));
    }
}

/// `text FIN masked, 5 bytes: "hello"`: opcode, flags, length, close code, and the
/// start of a text payload.
fn frame_summary(m: &AppMessage) -> String {
    let AppMessage::WebSocketFrame {
        fin,
        opcode,
        masked,
        payload_len,
        compressed,
        payload_text,
        not_shown,
        close_code,
        ..
    } = m
    else {
        return String::new();
    };
    let mut sum = opcode.name().to_string();
    if *fin {
        sum.push_str(" FIN")
    }
    if *compressed {
        sum.push_str(" compressed")
    }
    if *masked {
        sum.push_str(" masked")
    }
    sum.push_str(&format!(", {payload_len} bytes"));
    if let Some(c) = close_code {
        sum.push_str(&format!(", close {c}"));
    }
    if let (Some(t), false) = (payload_text, *compressed || *opcode == OpCode::Close) {
        sum.push_str(&format!(": {}", quoted(t.as_bytes(), 40, *not_shown)));
    }
    sum
}

/// A fragmented WebSocket message, its frames' payloads joined (§5.4).
fn websocket_message(m: &AppMessage, f: &mut Vec<Field>) -> Option<Heading> {
    let AppMessage::WebSocketMessage {
        opcode,
        frames,
        len,
        text,
        ..
    } = m
    else {
        return None;
    };
    f.push(Field::new(
        "message",
        format!("{}, {len} bytes in {frames} frames", opcode.name()),
        0..0,
        "a fragmented message, its frames' payloads joined (§5.4)",
    ));
    if let Some(t) = text {
        f.push(Field::new(
            "text",
            quoted(t.as_bytes(), 400, len.saturating_sub(t.len() as u64)),
            0..0,
            "the whole message",
        ));
    }
    Some(Heading {
        protocol: Protocol::WebSocket,
        name: "WebSocket message",
        pdu: "message",
        summary: format!("{} message of {frames} frames, {len} bytes", opcode.name()),
    })
}

/// A DNS message: over TCP its length prefix, then `wire::application::dns`'s fields, their spans
/// moved from message offsets to this frame's.
fn dns(ev: &AppEvent, spans: Spans, f: &mut Vec<Field>) -> Option<Heading> {
    let AppMessage::Dns {
        transport,
        length,
        summary,
        message,
    } = &ev.message
    else {
        return None;
    };
    let start = ev.offset + prefix_len(*transport);
    if *transport == Transport::Tcp {
        f.push(Field::new(
            "length",
            length.to_string(),
            spans.of(ev.offset, start),
            "over TCP each DNS message follows a 2-byte length (RFC 1035 §4.2.2)",
        ));
    }
    for mut x in message.fields() {
        x.span = spans.of(start + x.span.start as u64, start + x.span.end as u64);
        f.push(x);
    }
    Some(Heading {
        protocol: Protocol::Dns,
        name: "DNS message",
        pdu: "message",
        summary: summary.clone(),
    })
}

/// The lines of an HTTP head inside `span` of `frame` (each without its CRLF), up to
/// the empty line; empty when the head is not in this frame.
fn head_lines(frame: &[u8], span: Range<usize>) -> Vec<Range<usize>> {
    let mut v = Vec::new();
    let Some(bytes) = frame.get(span.clone()) else {
        return v;
    };
    let mut at = 0;
    // Bounded by the head's length: every pass moves `at` forward or ends.
    while let Some(k) = bytes[at..].windows(2).position(|w| w == b"\r\n") {
        if k == 0 {
            break;
        }
        v.push(span.start + at..span.start + at + k);
        at += k + 2;
    }
    v
}

/// Split `r` after `n` bytes and a space: (first n bytes, the rest after the space).
fn split_span(r: &Range<usize>, n: usize) -> (Range<usize>, Range<usize>) {
    if r.is_empty() || r.len() < n {
        return (0..0, 0..0);
    }
    let rest = (r.start + n + 1).min(r.end)..r.end;
    (r.start..r.start + n, rest)
}

fn push_headers(f: &mut Vec<Field>, h: &Headers, lines: &[Range<usize>]) {
    for (k, x) in h.0.iter().enumerate() {
        let span = lines.get(k + 1).cloned().unwrap_or(0..0);
        f.push(Field::new(
            "header",
            format!("{}: {}", x.name, x.value),
            span,
            "a header field: name, colon, value (RFC 9110 §5)",
        ));
    }
}

fn push_body(f: &mut Vec<Field>, framing: BodyFraming, len: u64, chunks: u32, preview: &[u8]) {
    let how = match framing {
        BodyFraming::None => return,
        BodyFraming::ContentLength => "Content-Length".to_string(),
        BodyFraming::Chunked => format!("chunked, {chunks} chunks"),
        BodyFraming::UntilClose => "until the server closes".to_string(),
    };
    let glance = if preview.is_empty() {
        String::new()
    } else {
        let kept = preview.len().min(60);
        format!(": {}", quoted(&preview[..kept], 60, len - kept as u64))
    };
    f.push(Field::new(
        "body",
        format!("{len} bytes ({how}){glance}"),
        0..0,
        "how long a body is: Content-Length, chunks, or until close (RFC 9112 §6)",
    ));
}

#[cfg(test)]
mod tests {
    use crate::wire::application::websocket::handshake::{accept_key, client_request};
    use crate::wire::application::websocket::{Frame, OpCode};
    use crate::wire::dissect::app::testing::decode;
    use crate::wire::dissect::app::*;

    #[test]
    fn layer_views_name_every_field_and_place_it_in_the_frame() {
        let (key, req) = client_request("h", "/c", [3; 16], &[], None);
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            accept_key(&key)
        );
        // A compressed text frame (RSV1, unmasked from the server) and a 300-byte binary
        // frame (16-bit length) in one piece.
        let mut s = vec![0xc1, 0x03, 0xf2, 0x48, 0x05];
        Frame::encode(true, OpCode::Binary, &[7u8; 300], None, &mut s);
        let ev = decode(
            &[
                (Direction::AToB, req),
                (Direction::BToA, resp.clone().into_bytes()),
                (Direction::BToA, s.clone()),
            ],
            0,
        );
        // The server's bytes as one frame's payload at frame offset 10.
        let mut frame = vec![0u8; 10];
        frame.extend_from_slice(resp.as_bytes());
        frame.extend_from_slice(&s);
        let map = FrameMap {
            stream_at: 0,
            frame_at: 10,
            len: frame.len() - 10,
        };
        let layers: Vec<AppLayer> = ev
            .iter()
            .filter(|e| e.direction == Direction::BToA)
            .filter_map(|e| e.layer(&frame, Some(map)))
            .collect();
        assert_eq!(layers.len(), 3, "{layers:?}");
        let field = |l: &AppLayer, n: &str| {
            l.fields
                .iter()
                .find(|f| f.name == n)
                .map(|f| (f.value.clone(), f.span.clone()))
                .unwrap_or_else(|| panic!("no {n} in {l:?}"))
        };
        let (v, span) = field(&layers[0], "status code");
        assert_eq!((v.as_str(), span), ("101", 19..22));
        assert!(field(&layers[0], "Sec-WebSocket-Accept check")
            .0
            .starts_with("correct"));
        let at = 10 + resp.len();
        let (v, span) = field(&layers[1], "RSV1");
        assert_eq!(
            (v.as_str(), span),
            ("1: compressed (permessage-deflate)", at..at + 1)
        );
        assert!(field(&layers[1], "compressed").0.starts_with("yes"));
        assert_eq!(layers[1].here, at..at + 5);
        let (v, span) = field(&layers[2], "payload length");
        assert_eq!(
            (v.as_str(), span),
            ("300 (126 + 16-bit length)", at + 6..at + 9)
        );
        let (_, span) = field(&layers[2], "payload");
        assert_eq!(span, at + 9..at + 309);
        // A frame whose bytes lie outside this frame has fields without spans.
        let other = FrameMap {
            stream_at: 10_000,
            frame_at: 10,
            len: 5,
        };
        let l = ev.last().unwrap().layer(&frame, Some(other)).unwrap();
        assert!(l.here.is_empty() && l.fields.iter().all(|f| f.span.is_empty()));
    }
}
