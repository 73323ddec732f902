//! The payload step: protocols carried *inside* WebSocket messages and HTTP bodies
//! (Engine.IO, and Socket.IO within it).
//!
//! The bytes alone do not say what a WebSocket message or an HTTP body holds: `2` could
//! be anything. The request does. A client asks for Engine.IO by its request target
//! (`/socket.io/?EIO=4&transport=polling` for long-polling,
//! `/socket.io/?EIO=4&transport=websocket` for the upgrade), so this step watches each
//! HTTP request of a connection and reads:
//!
//! - the body of a claimed POST (a payload the client sends);
//! - the body of a `200` answering a claimed GET (a payload the server sends) — the
//!   `ok` answering a POST and the JSON of a refusal are no payloads;
//! - every WebSocket message after a `101` that answered a claimed upgrade (a message
//!   compressed by permessage-deflate as its receiver read it: inflated).
//!
//! Connections whose requests nobody claims are never read twice: the step costs a
//! look at each request target. A further carried protocol is one more entry in
//! `CARRIED` and a reader of its own; its findings are one more [`Carried`] variant.

use super::engineio::{self, EngineIo, EngineIoReader};
use super::{AppEvent, AppMessage};
use crate::wire::dissect::flow::Direction;
use serde::Serialize;
use std::collections::VecDeque;

/// What a carried protocol found in one WebSocket message or HTTP body. In JSON, an
/// object named after the protocol on the message that carried it (`"engineio": {…}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Carried {
    #[serde(rename = "engineio")]
    EngineIo(EngineIo),
}

impl Carried {
    /// One line on it, for the layer tree's summary and the follow view.
    pub fn describe(&self) -> String {
        match self {
            Carried::EngineIo(e) => e.describe(),
        }
    }
}

/// The target of the HTTP/1.x request line at the start of `bytes`, if they start with
/// one (whole, at most 2 KiB).
fn request_target(bytes: &[u8]) -> Option<&str> {
    // Most pieces are no request at all: one byte says so (a method is uppercase).
    if !bytes.first().is_some_and(u8::is_ascii_uppercase) {
        return None;
    }
    let head = &bytes[..bytes.len().min(2048)];
    let eol = head.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&head[..eol]).ok()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let method_ok = method.bytes().all(|c| c.is_ascii_uppercase());
    (method_ok && version.starts_with("HTTP/1.")).then_some(target)
}

/// Do a connection's first client bytes hold an HTTP/1.x request line? Any request on
/// such a connection may ask for a carried protocol: a browser fetches the page with
/// `GET /` and then sends `GET /socket.io/?EIO=4&…` on the same kept-alive connection.
pub fn first_request_is_http(first: &[u8]) -> bool {
    request_target(first).is_some()
}

/// Do these client bytes start with a request line whose target a carried protocol
/// claims (`GET /socket.io/?EIO=4&… HTTP/1.1`)? The one-line view starts decoding an
/// HTTP connection there (a request is written when the answer to the one before has
/// come, so it starts a segment), and drops the decoder once it
/// [cannot carry anything more](super::AppDecoder::may_carry).
pub fn request_is_carried(bytes: &[u8]) -> bool {
    request_target(bytes).is_some_and(|t| CARRIED.iter().any(|r| (r.claims)(t)))
}

/// A carried protocol: which requests start it on a connection, and its reader.
struct Registration {
    /// Does a request with this target ask for it?
    claims: fn(target: &str) -> bool,
    start: fn(target: &str) -> Reader,
}

/// The carried protocols, tried in order on each request target.
const CARRIED: &[Registration] = &[Registration {
    claims: engineio::claims,
    start: |t| Reader::EngineIo(EngineIoReader::new(t)),
}];

/// A carried protocol's reader for one connection.
#[derive(Debug)]
enum Reader {
    EngineIo(EngineIoReader),
}

impl Reader {
    fn websocket(&mut self, dir: Direction, binary: bool, bytes: &[u8]) -> Carried {
        match self {
            Reader::EngineIo(r) => Carried::EngineIo(r.websocket(dir, binary, bytes)),
        }
    }

    fn body(&mut self, dir: Direction, bytes: &[u8]) -> Carried {
        match self {
            Reader::EngineIo(r) => Carried::EngineIo(r.polling(dir, bytes)),
        }
    }
}

/// Claimed requests remembered while their answers are awaited.
const MAX_CLAIMED: usize = 64;

/// The payload step of one connection.
#[derive(Debug, Default)]
pub(super) struct Payloads {
    reader: Option<Reader>,
    /// Claimed requests awaiting an answer: number and method.
    claimed: VecDeque<(u32, String)>,
    /// The connection switched to WebSocket after a claimed upgrade.
    websocket: bool,
    /// The connection switched to WebSocket after an upgrade no carried protocol
    /// claimed: no request follows, so nothing on it is carried.
    unclaimed_websocket: bool,
}

impl Payloads {
    /// Can a later message on this connection still carry something? Not once it
    /// switched to WebSocket for a protocol nobody claimed.
    pub(super) fn may_carry(&self) -> bool {
        !self.unclaimed_websocket
    }

    /// Read what these events carry, and drop the bytes they kept for it.
    pub(super) fn apply(&mut self, events: &mut [AppEvent]) {
        for ev in events {
            let bytes = ev.payload.take();
            let dir = ev.direction;
            match &mut ev.message {
                AppMessage::HttpRequest {
                    number,
                    method,
                    target,
                    carried,
                    ..
                } => {
                    let Some(reg) = CARRIED.iter().find(|r| (r.claims)(target)) else {
                        continue;
                    };
                    let reader = self.reader.get_or_insert_with(|| (reg.start)(target));
                    if self.claimed.len() == MAX_CLAIMED {
                        self.claimed.pop_front();
                    }
                    self.claimed.push_back((*number, method.clone()));
                    if let (Some(b), "POST") = (&bytes, method.as_str()) {
                        *carried = (!b.is_empty()).then(|| reader.body(dir, b));
                    }
                }
                AppMessage::HttpResponse {
                    answers,
                    status,
                    switches_to_websocket,
                    carried,
                    ..
                } => {
                    let Some(i) = self.claimed.iter().position(|(n, _)| Some(*n) == *answers)
                    else {
                        self.unclaimed_websocket |= *switches_to_websocket;
                        continue;
                    };
                    let (_, method) = self.claimed.remove(i).unwrap_or_default();
                    self.websocket |= *switches_to_websocket;
                    if let (Some(r), "GET", 200, Some(b)) =
                        (&mut self.reader, method.as_str(), *status, &bytes)
                    {
                        *carried = (!b.is_empty()).then(|| r.body(dir, b));
                    }
                }
                AppMessage::WebSocketFrame {
                    opcode, carried, ..
                }
                | AppMessage::WebSocketMessage {
                    opcode, carried, ..
                } if self.websocket => {
                    let binary = *opcode == crate::wire::application::websocket::OpCode::Binary;
                    if let (Some(r), Some(b)) = (&mut self.reader, &bytes) {
                        *carried = Some(r.websocket(dir, binary, b));
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{first_request_is_http, request_is_carried};
    use crate::wire::dissect::app::testing::{decode, websocket_session};
    use crate::wire::dissect::app::{AppDecoder, AppMessage, Direction, Piece};

    #[test]
    fn the_first_request_line_decides() {
        let yes = b"GET /socket.io/?EIO=4&transport=polling&t=j0jjxjnq HTTP/1.1\r\nHost: h\r\n";
        assert!(first_request_is_http(yes));
        assert!(
            first_request_is_http(b"GET / HTTP/1.1\r\n"),
            "the page first"
        );
        assert!(
            !first_request_is_http(b"GET /socket.io/?EIO=4"),
            "line not whole"
        );
        assert!(!first_request_is_http(b"\x16\x03\x01\x02\x00\r\n"));
        assert!(!first_request_is_http(b"get / HTTP/1.1\r\n"));
        assert!(!first_request_is_http(b"SSH-2.0 x y\r\n"));
        assert!(request_is_carried(yes));
        assert!(!request_is_carried(b"GET / HTTP/1.1\r\n"));
        assert!(!request_is_carried(b"GET /socket.io/?EIO=3 HTTP/1.1\r\n"));
        assert!(!request_is_carried(
            b"\x81\x85GET /socket.io/?EIO=4 HTTP/1.1\r\n"
        ));
    }

    /// A browser on one kept-alive connection: the page, then Engine.IO. The request
    /// target of each request decides, not the connection's first one.
    #[test]
    fn each_request_on_a_kept_alive_connection_is_looked_at() {
        let page = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let open = r#"0{"sid":"s","upgrades":[],"pingInterval":300,"pingTimeout":2000,"maxPayload":1000000}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{open}",
            open.len()
        );
        let out = decode(
            &[
                (
                    Direction::AToB,
                    b"GET / HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(),
                ),
                (Direction::BToA, page.as_bytes().to_vec()),
                (
                    Direction::AToB,
                    b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(),
                ),
                (Direction::BToA, answer.into_bytes()),
            ],
            0,
        );
        let carried: Vec<bool> = out
            .iter()
            .filter(|e| matches!(e.message, AppMessage::HttpResponse { .. }))
            .map(|e| e.message.carried().is_some())
            .collect();
        assert_eq!(
            carried,
            [false, true],
            "the page carries nothing, the open packet does"
        );
    }

    /// After a WebSocket upgrade nobody claimed, no request follows: nothing more can be
    /// carried, and the one-line view stops decoding the connection.
    #[test]
    fn an_unclaimed_upgrade_carries_nothing_more() {
        let mut d = AppDecoder::new(1 << 20);
        let mut out = Vec::new();
        let session = websocket_session();
        for (dir, bytes) in session.iter().take(1) {
            d.piece(*dir, Piece::Data { offset: 0, bytes }, &mut out);
        }
        assert!(d.may_carry(), "an HTTP request is pending");
        let (dir, bytes) = &session[1];
        d.piece(*dir, Piece::Data { offset: 0, bytes }, &mut out);
        assert!(!d.may_carry(), "101 to an upgrade to /chat");
    }
}
