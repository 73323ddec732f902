//! What a traced connection shows (`--trace`, `--jsonl`): every handshake head and every
//! frame, with the time it crossed. The frames come from the connection's record
//! ([`FrameSeen`], kept by `wire::application::websocket::Connection`); the clock is read here, since
//! `wire` has none.

use crate::wire::application::http1::Headers;
use crate::wire::application::websocket::connection::{FrameSeen, RSV1};
use crate::wire::application::websocket::handshake::{self, Check};
use crate::wire::application::websocket::{apply_mask, FrameHeader, OpCode, Role};
use crate::wire::application::websocket::{DeflateNote, Uncompressed};
use crate::wire::text::hex;
use serde::Serialize;

/// A header line in a trace, with what it is for.
#[derive(Debug, Clone, Serialize)]
pub struct TracedHeader {
    pub name: String,
    pub value: String,
    pub about: &'static str,
}

/// One thing seen on a traced connection.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "trace", rename_all = "snake_case")]
pub enum WsTrace {
    /// An HTTP head of the opening handshake.
    Handshake {
        at_us: u64,
        from: Role,
        start_line: String,
        headers: Vec<TracedHeader>,
        /// The server's checks of §4.2.1, on the server's trace of the request.
        checks: Vec<Check>,
    },
    /// One frame, in either direction.
    Frame(FrameTrace),
}

/// One frame as it crossed the wire.
#[derive(Debug, Clone, Serialize)]
pub struct FrameTrace {
    pub at_us: u64,
    /// Who sent it.
    pub from: Role,
    pub fin: bool,
    pub rsv: u8,
    pub opcode: OpCode,
    pub masked: bool,
    /// The masking key in hex, when masked.
    pub mask_key: Option<String>,
    pub payload_len: u64,
    pub length_encoding: &'static str,
    /// The header bytes in hex.
    pub header_hex: String,
    /// The first bytes of the payload as sent (masked if a key was used), hex.
    pub wire_hex: String,
    /// The same bytes unmasked, hex.
    pub payload_hex: String,
    /// The unmasked preview as text, if it is UTF-8 (text, close reasons, pings).
    pub payload_text: Option<String>,
    /// True when the previews show only the start of the payload.
    pub truncated: bool,
    /// With permessage-deflate on: what it did with the message this frame starts (sent)
    /// or ends (received). Absent without the extension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deflate: Option<DeflateTrace>,
}

/// What permessage-deflate did with a message (RFC 7692), for the trace.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DeflateTrace {
    /// Compressed (RSV1): payload bytes on the wire, the message inflated, and their
    /// ratio (wire / inflated: 0.1 means it shrank to a tenth).
    Compressed {
        wire_bytes: usize,
        inflated_bytes: usize,
        ratio: f64,
    },
    /// Sent uncompressed: smaller than the threshold, not worth compressing.
    BelowThreshold { threshold: usize },
    /// Sent uncompressed because the sender asked (Socket.IO's `compress(false)`).
    NotAsked,
}

impl From<DeflateNote> for DeflateTrace {
    fn from(n: DeflateNote) -> Self {
        match n {
            DeflateNote::Compressed { wire, inflated } => DeflateTrace::Compressed {
                wire_bytes: wire,
                inflated_bytes: inflated,
                ratio: if inflated == 0 {
                    1.0
                } else {
                    // Two decimals are what a reader compares.
                    (wire as f64 / inflated as f64 * 100.0).round() / 100.0
                },
            },
            DeflateNote::Uncompressed(Uncompressed::BelowThreshold { threshold }) => {
                DeflateTrace::BelowThreshold { threshold }
            }
            DeflateNote::Uncompressed(Uncompressed::Asked) => DeflateTrace::NotAsked,
        }
    }
}

/// How many payload bytes a frame trace shows.
pub const PREVIEW: usize = 32;

/// The trace of a frame the connection recorded.
pub(crate) fn seen_trace(at_us: u64, seen: &FrameSeen) -> WsTrace {
    let mut f = frame_trace(at_us, seen.from, &seen.header, &seen.preview);
    f.deflate = seen.deflate.map(DeflateTrace::from);
    WsTrace::Frame(f)
}

/// A frame's trace from its header and the start of its payload, unmasked (`payload`
/// may be longer than [`PREVIEW`]; the length that counts is the header's).
fn frame_trace(at_us: u64, from: Role, header: &FrameHeader, payload: &[u8]) -> FrameTrace {
    let mut head = Vec::with_capacity(14);
    header.emit(&mut head);
    let n = payload.len().min(PREVIEW);
    let preview = &payload[..n];
    let mut wire = preview.to_vec();
    if let Some(key) = header.mask {
        apply_mask(&mut wire, key, 0);
    }
    let text_like = matches!(
        header.opcode,
        OpCode::Text | OpCode::Continuation | OpCode::Ping | OpCode::Pong
    );
    let payload_text = match header.opcode {
        OpCode::Close if payload.len() >= 2 => Some(format!(
            "code {} {}",
            u16::from_be_bytes([payload[0], payload[1]]),
            crate::wire::text::quoted(&preview[2.min(n)..], usize::MAX)
        )),
        // A compressed payload (RSV1) is DEFLATE, not text, whatever its opcode.
        _ if header.rsv & RSV1 != 0 => None,
        _ if text_like => std::str::from_utf8(preview).ok().map(str::to_owned),
        _ => None,
    };
    FrameTrace {
        at_us,
        from,
        fin: header.fin,
        rsv: header.rsv,
        opcode: header.opcode,
        masked: header.mask.is_some(),
        mask_key: header.mask.map(|k| hex(&k, "")),
        payload_len: header.payload_len,
        length_encoding: header.length_encoding.describe(),
        header_hex: hex(&head, " "),
        wire_hex: hex(&wire, " "),
        payload_hex: hex(preview, " "),
        payload_text,
        truncated: header.payload_len > PREVIEW as u64,
        deflate: None,
    }
}

pub(crate) fn head_trace(
    at_us: u64,
    from: Role,
    start_line: String,
    headers: &Headers,
    checks: Vec<Check>,
) -> WsTrace {
    WsTrace::Handshake {
        at_us,
        from,
        start_line,
        headers: headers
            .0
            .iter()
            .map(|h| TracedHeader {
                name: h.name.clone(),
                value: h.value.clone(),
                about: handshake::explain_header(&h.name),
            })
            .collect(),
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_shows_masked_and_unmasked_bytes() {
        let h = FrameHeader::new(true, OpCode::Text, Some([0x37, 0xfa, 0x21, 0x3d]), 5);
        let t = frame_trace(0, Role::Client, &h, b"Hello");
        assert_eq!(t.header_hex, "81 85 37 fa 21 3d");
        assert_eq!(t.wire_hex, "7f 9f 4d 51 58");
        assert_eq!(t.payload_hex, "48 65 6c 6c 6f");
        assert_eq!(t.payload_text.as_deref(), Some("Hello"));
        assert_eq!(t.mask_key.as_deref(), Some("37fa213d"));
    }

    #[test]
    fn a_preview_of_a_long_payload_is_marked_truncated() {
        let h = FrameHeader::new(true, OpCode::Binary, None, 1000);
        let whole = frame_trace(0, Role::Server, &h, &[1u8; 1000]);
        let preview = frame_trace(0, Role::Server, &h, &[1u8; PREVIEW]);
        assert!(whole.truncated && preview.truncated);
        assert_eq!(whole.payload_hex, preview.payload_hex);
    }
}
