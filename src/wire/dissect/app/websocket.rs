//! WebSocket frames in one direction of a captured connection, after the HTTP upgrade
//! (RFC 6455 §4.1) that [`super::http`] watches for.
//!
//! Each frame's header is read by `wire::application::websocket::FrameHeader::parse` (§5.2), the
//! same code netlab's live server uses, and its payload unmasked with `apply_mask`
//! (§5.3). The reader describes, it does not enforce: a frame that breaks a rule is
//! shown with the rule named:
//!
//! - a client masks every frame, a server none (§5.1);
//! - control frames carry at most 125 bytes and are never fragmented (§5.5);
//! - opcodes 0x3–0x7 and 0xB–0xF are reserved (§5.2), and so are the RSV bits unless an
//!   extension defines them; permessage-deflate (RFC 7692 §6) defines RSV1, on the
//!   first frame of a compressed message only;
//! - a length is written in its shortest form (§5.2);
//! - a close frame's payload is a code and a UTF-8 reason (§5.5.1).
//!
//! A message in several frames (§5.4) is joined as its continuations arrive, with
//! control frames allowed in between, and shown whole when its last frame comes.
//!
//! **Compressed messages** (permessage-deflate, RFC 7692). When the 101 agreed the
//! extension, each direction is inflated as its receiver did: the tail `00 00 ff ff`
//! put back after the message's last frame (§7.2.2), the window kept from message to
//! message unless the sender agreed `*_no_context_takeover` (§7.1.1), using the same
//! `Inflater` as netlab's live connection. The result goes on the message's last frame
//! ([`Inflated`]), and the inflated bytes go to the payload step as the message (so a
//! compressed Socket.IO message is read like any other). With context takeover, a message refers back into the ones before
//! it (§7.2.3.2), so once one could not be inflated (longer than the decoder keeps, or
//! not DEFLATE) every later one says so rather than guessing.
//!
//! **A capture that begins after the handshake** has no 101 to say what the bytes are.
//! When a direction's first bytes are not HTTP but whole frames end to end, each keeping
//! the rules above, and all masked or all not ([`joined_midstream`]), they are read as
//! WebSocket (masked: the client's). RSV1 is then taken for permessage-deflate, but no
//! message is inflated: the agreed parameters are unknown, and with context takeover a
//! message refers back into earlier ones the capture never saw; each says so
//! ([`Inflated::MissedHandshake`]) rather than guessing.

use super::{hex, AppEvent, AppMessage, Inflated, Step, Stream, PREVIEW};
use crate::wire::application::websocket::close::CloseFrame;
use crate::wire::application::websocket::deflate::{DirectionParams, InflateError, Inflater};
use crate::wire::application::websocket::{
    apply_mask, FrameHeader, LengthEncoding, OpCode, Parsed,
};
use crate::wire::dissect::flow::Direction;

/// A fragmented message in progress (RFC 6455 §5.4): its first frame began it,
/// continuations add to it, the one with FIN ends it.
#[derive(Debug, Clone)]
struct Fragmented {
    /// The first frame's opcode (text or binary): continuations carry 0.
    opcode: OpCode,
    /// Frames so far.
    frames: u32,
    /// The payload kept so far (at most `max_buffer` bytes).
    kept: Vec<u8>,
    /// The payload's length so far, kept or not.
    len: u64,
    /// The first frame had RSV1 with permessage-deflate: the message is compressed
    /// (RFC 7692 §6.1).
    compressed: bool,
}

/// Reads one direction's frames.
#[derive(Debug)]
pub(super) struct FrameReader {
    /// permessage-deflate was agreed in the handshake (RFC 7692 §5), so RSV1 means
    /// "compressed".
    deflate: bool,
    /// The client sends these frames (it masks them, RFC 6455 §5.1).
    client: bool,
    /// The capture began after the handshake: RSV1 is taken for permessage-deflate, but
    /// nothing can be inflated (the agreed parameters and, with context takeover, the
    /// earlier messages are missing).
    joined: bool,
    max_buffer: usize,
    /// A fragmented message in progress.
    fragments: Option<Fragmented>,
    /// Inflates this direction's compressed messages, when the extension was agreed.
    inflate: Option<CaptureInflater>,
}

/// One direction's decompressor and the message it is inflating.
#[derive(Debug)]
struct CaptureInflater {
    params: DirectionParams,
    inflater: Inflater,
    /// The compressed message in progress: what came out so far, or why it cannot be.
    current: Option<Result<Vec<u8>, Inflated>>,
    /// Is the message in progress text?
    text: bool,
    /// With context takeover, a message that was not inflated leaves the window unknown.
    lost: bool,
}

impl CaptureInflater {
    /// One frame of a compressed message (`whole`: its payload was kept entirely). On
    /// the message's last frame, what it inflated to, and the inflated bytes themselves
    /// when it could be inflated (for the payload step: what the message carries).
    fn frame(
        &mut self,
        h: &FrameHeader,
        payload: &[u8],
        whole: bool,
        max: usize,
    ) -> Option<(Inflated, Option<Vec<u8>>)> {
        if h.opcode != OpCode::Continuation {
            self.text = h.opcode == OpCode::Text;
            if self.params.no_context_takeover {
                self.inflater = Inflater::new(self.params);
                self.lost = false;
            }
            self.current = Some(if self.lost {
                Err(Inflated::MissedContext)
            } else {
                Ok(Vec::new())
            });
        }
        if let Some(Ok(buf)) = &mut self.current {
            let step = if whole {
                self.inflater.inflate(payload, h.fin, max, buf)
            } else {
                Err(InflateError::TooBig { max })
            };
            if let Err(e) = step {
                self.lost = true;
                self.current = Some(Err(match e {
                    InflateError::TooBig { .. } => Inflated::TooLong,
                    InflateError::Corrupt => Inflated::NotDeflate,
                }));
            }
        }
        if !h.fin {
            return None;
        }
        Some(match self.current.take()? {
            Ok(m) => {
                let shown = &m[..m.len().min(4 * PREVIEW)];
                let text = self
                    .text
                    .then(|| String::from_utf8_lossy(shown).into_owned());
                let inflated = Inflated::Message {
                    len: m.len() as u64,
                    hex: text
                        .is_none()
                        .then(|| hex(&shown[..shown.len().min(PREVIEW)])),
                    text,
                };
                (inflated, Some(m))
            }
            Err(why) => (why, None),
        })
    }
}

/// Do a direction's first bytes, in a conversation whose start the capture missed, read
/// as WebSocket frames? Only when they are whole frames end to end, each keeping the
/// rules of RFC 6455 §5.2 (a known opcode, no RSV bit but permessage-deflate's RSV1 on a
/// data frame, the shortest length, control frames short and whole), all masked or all
/// not, and the first is no continuation (a DNS stream's `00 39` length prefixes read as
/// continuation frames end to end). `Some(true)`: masked, so the client sent them (§5.1).
pub(super) fn joined_midstream(mut b: &[u8]) -> Option<bool> {
    if b.first().is_none_or(|&first| first & 0x0f == 0) {
        return None;
    }
    let mut masked = None;
    // Bounded: each pass consumes a whole frame (at least 2 bytes).
    while !b.is_empty() {
        let Ok(Parsed::Complete {
            value: h,
            header_len,
        }) = FrameHeader::parse(b)
        else {
            return None;
        };
        let total = (header_len as u64).checked_add(h.payload_len)?;
        let rsv_ok = h.rsv == 0 || (h.rsv == 0b100 && !h.opcode.is_control());
        let control_ok = !h.opcode.is_control() || (h.fin && h.payload_len <= 125);
        let ok = rsv_ok
            && control_ok
            && !matches!(h.opcode, OpCode::Reserved(_))
            && h.length_encoding == LengthEncoding::minimal(h.payload_len)
            && *masked.get_or_insert(h.mask.is_some()) == h.mask.is_some()
            && total <= b.len() as u64;
        if !ok {
            return None;
        }
        b = &b[total as usize..];
    }
    masked
}

/// What a frame's RSV1 bit and opcode say about compression (RFC 7692 §6.1).
struct Compression {
    rsv1: bool,
    /// This frame carries compressed data.
    compressed: bool,
}

/// Which rule of RFC 6455 (or RFC 7692) a frame breaks, if any: the first one found.
/// `client`: the client sent it.
fn problem(h: &FrameHeader, client: bool, c: &Compression) -> Option<String> {
    let first = if client && h.mask.is_none() {
        Some("a client must mask every frame (RFC 6455 §5.1)".to_string())
    } else if !client && h.mask.is_some() {
        Some("a server must not mask its frames (RFC 6455 §5.1)".to_string())
    } else if h.opcode.is_control() && (h.payload_len > 125 || !h.fin) {
        Some("control frames carry at most 125 bytes and are never fragmented (§5.5)".into())
    } else if let OpCode::Reserved(b) = h.opcode {
        Some(format!("opcode 0x{b:x} is reserved (§5.2)"))
    } else if h.length_encoding != LengthEncoding::minimal(h.payload_len) {
        Some("the length is not in its shortest form (§5.2)".into())
    } else {
        None
    };
    first.or_else(|| {
        if c.rsv1 && h.opcode == OpCode::Continuation {
            Some(
                "RSV1 on a continuation frame: permessage-deflate marks only a message's first frame (RFC 7692 §6.1)"
                    .into(),
            )
        } else if h.rsv != 0 && !(c.compressed && h.rsv == 0b100) {
            Some("an RSV bit is set without an extension that defines it (§5.2)".into())
        } else {
            None
        }
    })
}

impl FrameReader {
    /// A reader for one direction after the handshake; `deflate` holds the sender's
    /// permessage-deflate parameters when the handshake agreed the extension.
    pub(super) fn new(
        dir: Direction,
        deflate: Option<DirectionParams>,
        max_buffer: usize,
    ) -> FrameReader {
        FrameReader {
            deflate: deflate.is_some(),
            client: dir == Direction::AToB,
            joined: false,
            max_buffer,
            fragments: None,
            inflate: deflate.map(|params| CaptureInflater {
                params,
                inflater: Inflater::new(params),
                current: None,
                text: false,
                lost: false,
            }),
        }
    }

    /// A reader for a direction of a conversation the capture joined after its
    /// handshake, whose first bytes [look like frames](joined_midstream) (`client`: they
    /// are masked).
    pub(super) fn joined(client: bool, max_buffer: usize) -> FrameReader {
        FrameReader {
            deflate: true,
            client,
            joined: true,
            max_buffer,
            fragments: None,
            inflate: None,
        }
    }

    /// Read one frame from the front of `s`. A frame longer than `max_buffer` is
    /// described from its first bytes, and the rest of its payload skipped.
    pub(super) fn read(&mut self, dir: Direction, s: &mut Stream, out: &mut Vec<AppEvent>) -> Step {
        let (h, header_len) = match FrameHeader::parse(&s.buf) {
            Ok(Parsed::NeedMore { .. }) => return Step::NeedMore,
            Ok(Parsed::Complete { value, header_len }) => (value, header_len),
            Err(e) => return Step::Stop(format!("not a valid WebSocket frame: {e}")),
        };
        let at = s.at;
        let total = header_len as u64 + h.payload_len;
        let have = s.buf.len() as u64;
        let too_big = h.payload_len > self.max_buffer as u64;
        if have < total && !too_big {
            return Step::NeedMore; // wait for the whole frame
        }
        let kept = (have.min(total) - header_len as u64) as usize;
        let mut payload = s.buf[header_len..header_len + kept].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key, 0);
        }
        s.consume(header_len + kept);
        if too_big {
            s.skip = h.payload_len - kept as u64;
        }
        let mut frame = self.describe(&h, &payload);
        let compressed = matches!(
            frame,
            AppMessage::WebSocketFrame {
                compressed: true,
                ..
            }
        );
        // A compressed message's bytes as its receiver read them, once its last frame
        // has come and it could be inflated.
        let mut plain = None;
        if compressed && self.joined && h.fin {
            if let AppMessage::WebSocketFrame { inflated, .. } = &mut frame {
                *inflated = Some(Inflated::MissedHandshake);
            }
        }
        if let (true, Some(inf)) = (compressed, self.inflate.as_mut()) {
            let whole = !too_big;
            if let Some((result, bytes)) = inf.frame(&h, &payload, whole, self.max_buffer) {
                plain = bytes;
                if let AppMessage::WebSocketFrame { inflated, .. } = &mut frame {
                    *inflated = Some(result);
                }
            }
        }
        // A message in one frame, whole: its payload (inflated, when compressed) goes to
        // the payload step (what it carries). Like a continuation-less data frame in
        // `assemble`, it ends any fragmented message in progress.
        let data = matches!(h.opcode, OpCode::Text | OpCode::Binary);
        let whole = h.fin && data && !too_big;
        let (kept, message) = if whole {
            self.fragments = None;
            (if compressed { plain } else { Some(payload) }, None)
        } else {
            let mut message = self.assemble(&h, payload, compressed);
            if let Some((_, kept)) = &mut message {
                // A fragmented compressed message: its inflated bytes are the message.
                if compressed {
                    *kept = plain;
                }
            }
            (None, message)
        };
        out.push(AppEvent {
            direction: dir,
            offset: at,
            end: at + total,
            message: frame,
            payload: kept,
        });
        if let Some((message, payload)) = message {
            out.push(AppEvent {
                direction: dir,
                offset: at,
                end: at + total,
                message,
                payload,
            });
        }
        Step::Progress
    }

    /// The frame as an [`AppMessage::WebSocketFrame`]; `payload` is unmasked, and may be
    /// only the start of a long one.
    fn describe(&self, h: &FrameHeader, payload: &[u8]) -> AppMessage {
        let rsv1 = h.rsv & 0b100 != 0;
        // permessage-deflate sets RSV1 on a message's first frame only (RFC 7692 §6.1):
        // a continuation carries more of the compressed data of the message it continues.
        let continues = self
            .fragments
            .as_ref()
            .filter(|_| h.opcode == OpCode::Continuation);
        let continues_compressed = continues.is_some_and(|f| f.compressed);
        let compressed =
            (rsv1 && self.deflate && !h.opcode.is_control()) || (continues_compressed && !rsv1);
        let mut problem = problem(h, self.client, &Compression { rsv1, compressed });
        let is_text =
            h.opcode == OpCode::Text || continues.is_some_and(|f| f.opcode == OpCode::Text);
        let (mut close_code, mut close_reason) = (None, None);
        if h.opcode == OpCode::Close {
            match CloseFrame::parse(payload) {
                Ok(c) => {
                    close_code = c.code.map(|c| c.0);
                    close_reason = Some(c.reason);
                }
                Err(e) => {
                    problem.get_or_insert_with(|| format!("bad close frame: {e}"));
                }
            }
        }
        let shown = &payload[..payload.len().min(PREVIEW)];
        let text_ok = !compressed && is_text;
        let payload_text = if text_ok || matches!(h.opcode, OpCode::Ping | OpCode::Pong) {
            std::str::from_utf8(shown).ok().map(str::to_owned)
        } else {
            None
        };
        let payload_hex = payload_text.is_none().then(|| hex(shown));
        AppMessage::WebSocketFrame {
            fin: h.fin,
            rsv1,
            rsv2: h.rsv & 0b010 != 0,
            rsv3: h.rsv & 0b001 != 0,
            opcode: h.opcode,
            opcode_bits: h.opcode.bits(),
            masked: h.mask.is_some(),
            mask_key: h.mask.map(|k| hex(&k)),
            payload_len: h.payload_len,
            length_encoding: h.length_encoding,
            compressed,
            payload_text,
            payload_hex,
            not_shown: h.payload_len - shown.len() as u64,
            close_code,
            close_reason,
            problem,
            inflated: None,
            carried: None,
        }
    }

    /// Fragmented messages: a data frame without FIN starts one, continuations add,
    /// FIN ends it, and then the whole message is returned, with its payload when all of
    /// it was kept and it is not compressed. Control frames may come in between (§5.4)
    /// and do not interrupt.
    fn assemble(
        &mut self,
        h: &FrameHeader,
        payload: Vec<u8>,
        compressed: bool,
    ) -> Option<(AppMessage, Option<Vec<u8>>)> {
        if h.opcode.is_control() {
            return None;
        }
        match (h.opcode, h.fin, self.fragments.take()) {
            (OpCode::Continuation, fin, Some(mut m)) => {
                let room = self.max_buffer.saturating_sub(m.kept.len());
                m.kept
                    .extend_from_slice(&payload[..payload.len().min(room)]);
                m.len += h.payload_len;
                m.frames += 1;
                if !fin {
                    self.fragments = Some(m);
                    return None;
                }
                let text = (m.opcode == OpCode::Text && !m.compressed).then(|| {
                    String::from_utf8_lossy(&m.kept[..m.kept.len().min(4 * PREVIEW)]).into_owned()
                });
                let message = AppMessage::WebSocketMessage {
                    opcode: m.opcode,
                    frames: m.frames,
                    len: m.len,
                    text,
                    carried: None,
                };
                let whole = m.kept.len() as u64 == m.len && !m.compressed;
                Some((message, whole.then_some(m.kept)))
            }
            (op, false, _) if op != OpCode::Continuation => {
                self.fragments = Some(Fragmented {
                    opcode: op,
                    frames: 1,
                    kept: payload,
                    len: h.payload_len,
                    compressed,
                });
                None
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::wire::application::websocket::handshake::{accept_key, client_request};
    use crate::wire::dissect::app::testing::{decode, websocket_session};
    use crate::wire::dissect::app::*;

    /// RFC 7692 §6.1: RSV1 marks a compressed message on its first frame only; the
    /// continuations carry more of the same compressed data (seen from Python
    /// `websockets`, tests/fixtures/peers-ws-python-deflate.pcap).
    #[test]
    fn continuations_of_a_compressed_message_are_labelled_compressed() {
        let (key, req) = client_request("h", "/", [7; 16], &[], None);
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            accept_key(&key)
        );
        // Masked with the all-zero key, so the payload bytes are as written.
        let mut c = vec![0x41, 0x83, 0, 0, 0, 0, 0xca, 0x48, 0x04]; // FIN=0 RSV1=1 text
        c.extend([0x80, 0x82, 0, 0, 0, 0, 0x00, 0x00]); // FIN=1 RSV1=0 continuation
        c.extend([0xc0, 0x81, 0, 0, 0, 0, 0x00]); // FIN=1 RSV1=1 continuation: wrong
        let out = decode(
            &[
                (Direction::AToB, req),
                (Direction::BToA, resp.into_bytes()),
                (Direction::AToB, c),
            ],
            0,
        );
        let frames: Vec<(bool, bool, Option<String>, Option<String>)> = out
            .iter()
            .filter_map(|e| match &e.message {
                AppMessage::WebSocketFrame {
                    rsv1,
                    compressed,
                    payload_text,
                    problem,
                    ..
                } => Some((*rsv1, *compressed, payload_text.clone(), problem.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(frames[0], (true, true, None, None));
        assert_eq!(
            frames[1],
            (false, true, None, None),
            "part of the compressed message"
        );
        assert!(frames[2].3.as_deref().unwrap().contains("RFC 7692 §6.1"));
        let text = out.iter().find_map(|e| match &e.message {
            AppMessage::WebSocketMessage { frames, text, .. } => Some((*frames, text.clone())),
            _ => None,
        });
        assert_eq!(
            text,
            Some((2, None)),
            "compressed bytes are not shown as text"
        );
    }

    #[test]
    fn upgrade_hands_over_to_websocket_however_tcp_cut_the_bytes() {
        let whole = decode(&websocket_session(), 0);
        for step in [1, 2, 3, 7, 1460] {
            assert_eq!(
                decode(&websocket_session(), step),
                whole,
                "pieces of {step}"
            );
        }
        let kinds: Vec<String> = whole
            .iter()
            .map(|e| match &e.message {
                AppMessage::HttpRequest { method, upgrade_websocket, .. } => format!("req {method} {upgrade_websocket}"),
                AppMessage::HttpResponse { status, websocket_accept, switches_to_websocket, .. } => {
                    format!("resp {status} {} {switches_to_websocket}", websocket_accept.as_ref().unwrap().ok)
                }
                AppMessage::WebSocketFrame { opcode, fin, payload_len, length_encoding, masked, payload_text, close_code, close_reason, problem, .. } => {
                    assert!(problem.is_none(), "{problem:?}");
                    format!("{opcode} {fin} {payload_len} {length_encoding:?} {masked} {payload_text:?} {close_code:?} {close_reason:?}")
                }
                AppMessage::WebSocketMessage { opcode, frames, text, .. } => format!("msg {opcode} {frames} {text:?}"),
                AppMessage::Note { text } => text.clone(),
                AppMessage::Dns { summary, .. } => summary.clone(),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "req GET true",
                "resp 101 true true",
                "text false 3 Bits7 true Some(\"hel\") None None",
                "ping true 1 Bits7 true Some(\"p\") None None",
                "continuation true 2 Bits7 true Some(\"lo\") None None",
                "msg text 2 Some(\"hello\")",
                "binary true 70000 Bits64 true None None None",
                "pong true 1 Bits7 false Some(\"p\") None None",
                "close true 5 Bits7 false None Some(1000) Some(\"bye\")",
            ]
        );
    }

    /// A client session whose 101 answers `extensions`, then `messages` sent by a
    /// netlab client with permessage-deflate (compressing whatever their size).
    fn deflate_session(extensions: &str, messages: &[Vec<u8>]) -> Vec<AppEvent> {
        use crate::wire::application::websocket::deflate::Agreement;
        use crate::wire::application::websocket::{Compress, Connection, Limits, Message, Role};
        let (key, req) = client_request("h", "/", [7; 16], &[], None);
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: {extensions}\r\n\r\n",
            accept_key(&key)
        );
        let agreement = Agreement {
            client_no_context_takeover: extensions.contains("client_no_context_takeover"),
            ..Agreement::default()
        };
        let mut c = Connection::new(Role::Client, Limits::default(), Box::new(|| [1, 2, 3, 4]))
            .with_deflate(agreement, 0);
        for m in messages {
            c.send_with(&Message::binary(m.clone()), Compress::Always)
                .unwrap();
        }
        let frames = c.output().to_vec();
        decode(
            &[
                (Direction::AToB, req),
                (Direction::BToA, resp.into_bytes()),
                (Direction::AToB, frames),
            ],
            0,
        )
    }

    /// The real `socket.io-client` 4.8 (over `ws`, permessage-deflate with context
    /// takeover) talking to the real `socket.io` server: the upgrade request, the 101 and
    /// the client's first two messages, compressed (tests/fixtures/socketio-deflate.pcap,
    /// packets 4, 6, 10 and 12).
    const SIO_REQUEST: &str = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: cVEWk8CSkaLAqVYYWPQgHg==\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nHost: 127.0.0.1:18120\r\n\r\n";
    const SIO_101: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: DaGI/Gv0O3+rroujXsKJrQEPYcI=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
    /// `40` (CONNECT): FIN, RSV1, text; masked, 4 bytes of DEFLATE.
    const SIO_CONNECT: [u8; 10] = [0xc1, 0x84, 0x57, 0x49, 0xa5, 0xa2, 0x65, 0x78, 0xa5, 0xa2];
    /// `420["hello","compress me"]`: 28 bytes of DEFLATE, masked.
    const SIO_HELLO: [u8; 34] = [
        0xc1, 0x9c, 0x25, 0x4b, 0xc4, 0x77, 0x17, 0x7a, 0xf6, 0xff, 0x73, 0x81, 0x8c, 0xba, 0xec,
        0x82, 0x93, 0xa5, 0x74, 0x01, 0x0a, 0xb8, 0x08, 0x63, 0x8e, 0x5a, 0x0b, 0x1d, 0x0c, 0x3a,
        0x70, 0xc1, 0xc1, 0x77,
    ];

    /// A compressed Socket.IO message is read as Socket.IO once inflated: the carried
    /// step gets the bytes the receiver read, not the DEFLATE data on the wire.
    #[test]
    fn compressed_socketio_messages_are_read_once_inflated() {
        let mut frames = SIO_CONNECT.to_vec();
        frames.extend(SIO_HELLO);
        let parts = [
            (Direction::AToB, SIO_REQUEST.as_bytes().to_vec()),
            (Direction::BToA, SIO_101.as_bytes().to_vec()),
            (Direction::AToB, frames),
        ];
        let out = decode(&parts, 0);
        assert_eq!(decode(&parts, 3), out, "however TCP cut the bytes");
        let said: Vec<String> = out
            .iter()
            .filter_map(|e| e.message.carried())
            .map(Carried::describe)
            .collect();
        assert_eq!(
            said,
            [
                "Engine.IO: 4 message: Socket.IO CONNECT /",
                r#"Engine.IO: 4 message: Socket.IO EVENT / "hello" ["compress me"] (ack asked, id 0)"#
            ]
        );
    }

    /// A capture that begins after the handshake: the client's compressed `hello`
    /// alone. Its bytes read as a whole masked frame, so as the client's WebSocket; with
    /// the agreement and the context missing, it is not inflated, and says why.
    #[test]
    fn frames_after_a_missed_handshake_are_read_but_not_inflated() {
        use super::super::websocket::joined_midstream;
        assert_eq!(
            joined_midstream(&SIO_HELLO),
            Some(true),
            "masked: the client"
        );
        let mut two = SIO_CONNECT.to_vec();
        two.extend(SIO_HELLO);
        assert_eq!(joined_midstream(&two), Some(true));
        assert_eq!(joined_midstream(&[0x81, 0x02, b'h', b'i']), Some(false));
        assert_eq!(
            joined_midstream(&SIO_HELLO[..20]),
            None,
            "a frame cut short"
        );
        assert_eq!(joined_midstream(&two[..14]), None);
        let mixed = [&SIO_CONNECT[..], &[0x81, 0x00]].concat();
        assert_eq!(joined_midstream(&mixed), None, "masked, then not");
        assert_eq!(joined_midstream(b"\x16\x03\x01\x00\x05hello"), None, "TLS");
        assert_eq!(joined_midstream(&[0xc9, 0x00]), None, "RSV1 on a ping");
        assert_eq!(
            joined_midstream(&[0x80, 0x00]),
            None,
            "a continuation first"
        );
        let out = decode(&[(Direction::AToB, SIO_HELLO.to_vec())], 0);
        assert!(
            matches!(&out[0].message, AppMessage::Note { text } if text.contains("began after"))
        );
        assert_eq!(inflated(&out), [Inflated::MissedHandshake]);
        assert!(out.iter().all(|e| e.message.carried().is_none()));
        let AppMessage::WebSocketFrame { problem, .. } = &out[1].message else {
            panic!("{out:?}");
        };
        assert_eq!(
            *problem, None,
            "a masked frame from the client keeps the rules"
        );
    }

    fn inflated(out: &[AppEvent]) -> Vec<Inflated> {
        out.iter()
            .filter_map(|e| match &e.message {
                AppMessage::WebSocketFrame { inflated, .. } => inflated.clone(),
                _ => None,
            })
            .collect()
    }

    /// RFC 7692 §7.2.3.2: with context takeover, a message may refer back into the one
    /// before; once one could not be inflated, the decoder says so for every later one.
    #[test]
    fn a_message_not_inflated_breaks_the_context_that_follows() {
        // 2 MB of zeros: a few KB on the wire, more than the decoder's 1 MiB once inflated.
        let messages = [vec![0u8; 2_000_000], b"hello hello".to_vec()];
        let got = inflated(&deflate_session("permessage-deflate", &messages));
        assert_eq!(got, [Inflated::TooLong, Inflated::MissedContext]);
        // Without context takeover each message stands alone: the second inflates.
        let got = inflated(&deflate_session(
            "permessage-deflate; client_no_context_takeover",
            &messages,
        ));
        assert_eq!(got[0], Inflated::TooLong);
        assert!(
            matches!(&got[1], Inflated::Message { len: 11, hex: Some(h), .. } if h == "68656c6c6f2068656c6c6f"),
            "{got:?}"
        );
    }
}

/// Each RFC 6455 rule the reader names, broken once on captured bytes: the frame is
/// still described, with the rule it breaks, and a frame that keeps every rule has no
/// problem (so a check that stopped firing, or fired always, fails here).
#[cfg(test)]
mod rule_tests {
    use crate::wire::application::websocket::handshake::{accept_key, client_request};
    use crate::wire::application::websocket::Frame;
    use crate::wire::dissect::app::testing::decode;
    use crate::wire::dissect::app::*;

    /// The problem the reader reports for one frame sent after a plain handshake,
    /// in direction `dir` (`AToB` is the client).
    fn problem_of(dir: Direction, frame: Vec<u8>) -> Option<String> {
        let (key, req) = client_request("h", "/", [7; 16], &[], None);
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&key)
        );
        let out = decode(
            &[
                (Direction::AToB, req),
                (Direction::BToA, resp.into_bytes()),
                (dir, frame),
            ],
            0,
        );
        let frames: Vec<Option<String>> = out
            .iter()
            .filter_map(|e| match &e.message {
                AppMessage::WebSocketFrame { problem, .. } => Some(problem.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(frames.len(), 1, "one frame described: {out:?}");
        frames.into_iter().next().unwrap()
    }

    fn encoded(fin: bool, op: OpCode, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut v = Vec::new();
        Frame::encode(fin, op, payload, mask, &mut v);
        v
    }

    fn assert_names(dir: Direction, frame: Vec<u8>, rule: &str) {
        let p = problem_of(dir, frame.clone());
        assert!(
            p.as_deref().is_some_and(|p| p.contains(rule)),
            "frame {frame:02x?}: expected a problem naming {rule:?}, got {p:?}"
        );
    }

    const KEY: Option<[u8; 4]> = Some([1, 2, 3, 4]);

    #[test]
    fn frames_that_keep_the_rules_have_no_problem() {
        let c = encoded(true, OpCode::Text, b"hi", KEY);
        assert_eq!(problem_of(Direction::AToB, c), None);
        let s = encoded(true, OpCode::Text, b"hi", None);
        assert_eq!(problem_of(Direction::BToA, s), None);
        let ping = encoded(true, OpCode::Ping, &[0; 125], None);
        assert_eq!(
            problem_of(Direction::BToA, ping),
            None,
            "125 bytes is allowed"
        );
    }

    #[test]
    fn an_unmasked_client_frame_is_flagged() {
        let f = encoded(true, OpCode::Text, b"hi", None);
        assert_names(Direction::AToB, f, "a client must mask every frame");
    }

    #[test]
    fn a_masked_server_frame_is_flagged() {
        let f = encoded(true, OpCode::Text, b"hi", KEY);
        assert_names(Direction::BToA, f, "a server must not mask its frames");
    }

    #[test]
    fn a_fragmented_control_frame_is_flagged() {
        let f = encoded(false, OpCode::Ping, b"p", KEY);
        assert_names(Direction::AToB, f, "never fragmented (§5.5)");
    }

    #[test]
    fn an_oversized_control_frame_is_flagged() {
        let f = encoded(true, OpCode::Pong, &[0; 126], None);
        assert_names(Direction::BToA, f, "at most 125 bytes");
    }

    #[test]
    fn a_length_not_in_its_shortest_form_is_flagged() {
        // FIN text, length 126 = "the 16-bit field follows", which says 5: the 7-bit
        // field could have held it.
        let mut f = vec![0x81, 126, 0, 5];
        f.extend(b"hello");
        assert_names(Direction::BToA, f, "not in its shortest form");
        // And 64 bits for 5 bytes.
        let mut f = vec![0x81, 127, 0, 0, 0, 0, 0, 0, 0, 5];
        f.extend(b"hello");
        assert_names(Direction::BToA, f, "not in its shortest form");
    }

    #[test]
    fn reserved_opcodes_are_flagged() {
        for op in [0x3u8, 0x7, 0xB, 0xF] {
            let f = vec![0x80 | op, 0];
            assert_names(Direction::BToA, f, &format!("opcode 0x{op:x} is reserved"));
        }
    }

    #[test]
    fn rsv_bits_without_an_extension_are_flagged() {
        // RSV1, RSV2, RSV3 on a text frame; no extension was agreed in the handshake,
        // so even RSV1 (permessage-deflate's bit) is not allowed.
        for rsv in [0x40u8, 0x20, 0x10] {
            let f = vec![0x81 | rsv, 2, b'h', b'i'];
            assert_names(Direction::BToA, f, "RSV bit is set without an extension");
        }
    }
}
