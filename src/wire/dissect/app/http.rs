//! HTTP/1.x on a reassembled TCP connection (RFC 9112, RFC 9110), and the hand-over to
//! WebSocket after an accepted upgrade (RFC 6455 §4).
//!
//! Each direction is read the way its receiver reads it:
//!
//! 1. **Is it HTTP at all?** A client's first bytes are an uppercase method and a space
//!    (`GET `), a server's are `HTTP/`. Anything else (TLS, SSH, …) is left alone, quietly,
//!    unless it is whole WebSocket frames: then the capture began after the handshake
//!    (see [`super::websocket`]).
//! 2. **Head.** Everything up to the first empty line, read by `wire::application::http1`, the parser
//!    netlab's own WebSocket server uses (RFC 9112 §2.1).
//! 3. **Body.** Its length comes from the head (RFC 9112 §6.3): none for a response to
//!    HEAD or a 1xx, 204 or 304; else `Transfer-Encoding: chunked` (a run of chunks
//!    ending with an empty one, §7.1), else `Content-Length`; a response with neither
//!    lasts until the server closes, a request with neither has no body.
//! 4. **Keep-alive.** Then the next head, on the same connection. Responses come back in
//!    request order (RFC 9112 §9.3), so the Nth response answers the Nth request.
//!
//! An Upgrade request (`Upgrade: websocket` and `Connection: Upgrade`) makes the client
//! wait for the answer. `101 Switching Protocols` ends HTTP on the connection: from the
//! next byte on both directions carry WebSocket frames (read by [`FrameReader`]), and the
//! `Sec-WebSocket-Accept` it carries is checked against the request's key (RFC 6455
//! §4.2.2). Any other answer refuses the upgrade and the client goes on with HTTP.

use super::websocket::{joined_midstream, FrameReader};
use super::{AppEvent, AppMessage, Registration, Step, Stream, StreamDecoder, PREVIEW};
use crate::layers::Protocol;
use crate::wire::application::http1::{self, Headers, RequestHead, ResponseHead, Scan};
use crate::wire::application::websocket::handshake::accept_key;
use crate::wire::application::websocket::{deflate, extensions, Role};
use crate::wire::dissect::flow::Direction;
use serde::Serialize;
use std::collections::VecDeque;

/// Every TCP conversation not claimed before is offered to HTTP: it recognises itself by
/// its first bytes.
pub(super) const BY_CONTENT: Registration = Registration {
    claims: |_, _| true,
    start: |max_buffer| Box::new(Http::new(max_buffer)),
};

/// How a body's length was known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFraming {
    None,
    ContentLength,
    Chunked,
    /// A response without a length: the body ends when the server closes.
    UntilClose,
}

/// The `Sec-WebSocket-Accept` check (RFC 6455 §4.2.2): base64(SHA-1(key + GUID)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcceptCheck {
    pub key: String,
    pub expected: String,
    pub got: String,
    pub ok: bool,
}

/// Where in a body the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// `Content-Length`: this many bytes left.
    Length(u64),
    Chunked(ChunkState),
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading a chunk-size line.
    Size,
    /// Inside a chunk: this many data bytes left, then CRLF.
    Data(u64),
    /// After the last chunk: trailer lines until an empty one.
    Trailer,
}

/// What one direction is reading.
#[derive(Debug)]
enum Mode {
    /// Waiting for the first bytes to decide whether this is HTTP.
    Start,
    Head,
    Body {
        body: Body,
        /// The event being built (its body fields are filled in as bytes pass).
        event: Box<AppEvent>,
    },
    /// Client side after an Upgrade request: hold bytes until the server answers.
    AwaitUpgrade,
    /// After `101 Switching Protocols`.
    WebSocket(FrameReader),
    /// Not HTTP, or lost after a gap or an error: bytes are ignored.
    Off,
}

/// A request whose response has not come yet (responses come in request order,
/// RFC 9112 §9.3).
#[derive(Debug, Clone)]
struct PendingRequest {
    /// Counted from 1 on this connection.
    number: u32,
    /// A response to HEAD has no body, whatever its headers say (RFC 9110 §9.3.2).
    head_request: bool,
    /// The `Sec-WebSocket-Key` of an Upgrade request (empty when it had none).
    upgrade_key: Option<String>,
}

/// How far one step through a body got.
struct Advance {
    /// Where in the body the reader is after it.
    next: Body,
    /// Bytes it consumed.
    used: usize,
    /// The body ended.
    done: bool,
}

/// One connection's HTTP/1.x, both directions; direction `AToB` is the client's.
#[derive(Debug)]
pub(super) struct Http {
    /// Indexed by [`Direction`].
    modes: [Mode; 2],
    max_buffer: usize,
    requests_seen: u32,
    responses_seen: u32,
    /// Requests awaiting a response, oldest first.
    pending: VecDeque<PendingRequest>,
}

fn version(minor: u8) -> String {
    format!("HTTP/1.{minor}")
}

/// Do the first bytes of this direction look like HTTP? `None`: too few bytes to say.
/// A client starts with a method, uppercase letters and a space (RFC 9112 §3); a server
/// with `HTTP/` (§4).
fn looks_like_http(dir: Direction, b: &[u8]) -> Option<bool> {
    match dir {
        Direction::AToB => {
            let n = b.len().min(8);
            let word = &b[..n];
            match word.iter().position(|&c| c == b' ') {
                Some(0) => Some(false),
                Some(k) => Some(word[..k].iter().all(u8::is_ascii_uppercase)),
                None if n < 8 && word.iter().all(u8::is_ascii_uppercase) => None,
                None => Some(false),
            }
        }
        Direction::BToA => {
            let n = b.len().min(5);
            if b"HTTP/"[..n] != b[..n] {
                Some(false)
            } else if n < 5 {
                None
            } else {
                Some(true)
            }
        }
    }
}

/// How a message's body is delimited (RFC 9112 §6.3) when it may have one:
/// chunked first, then `Content-Length`; without either, a request has no body and a
/// response lasts until the server closes.
fn framing(headers: &Headers, request: bool) -> (BodyFraming, Option<Body>) {
    if headers.has_token("transfer-encoding", "chunked") {
        return (BodyFraming::Chunked, Some(Body::Chunked(ChunkState::Size)));
    }
    let length = headers
        .get("content-length")
        .and_then(|v| v.parse::<u64>().ok());
    match length {
        Some(n) if n > 0 => (BodyFraming::ContentLength, Some(Body::Length(n))),
        Some(_) => (BodyFraming::ContentLength, None),
        None if request => (BodyFraming::None, None),
        None => (BodyFraming::UntilClose, Some(Body::UntilClose)),
    }
}

/// The `Sec-WebSocket-Accept` check, when a `101` answers an Upgrade request and
/// carries one.
fn accept_check(upgrade_key: Option<&String>, head: &ResponseHead) -> Option<AcceptCheck> {
    match (upgrade_key, head.headers.get("sec-websocket-accept")) {
        (Some(key), Some(got)) if head.status == 101 => {
            let expected = accept_key(key);
            Some(AcceptCheck {
                key: key.clone(),
                ok: expected == got,
                expected,
                got: got.to_owned(),
            })
        }
        _ => None,
    }
}

/// Count body bytes into the message being built and keep the first ones as a preview.
fn add_body(ev: &mut AppEvent, data: &[u8]) {
    if let AppMessage::HttpRequest {
        body_len,
        body_preview,
        ..
    }
    | AppMessage::HttpResponse {
        body_len,
        body_preview,
        ..
    } = &mut ev.message
    {
        *body_len += data.len() as u64;
        let room = PREVIEW.saturating_sub(body_preview.len());
        body_preview.extend_from_slice(&data[..data.len().min(room)]);
    }
    // The whole body, for the payload step, up to Engine.IO's default maxPayload.
    if let Some(kept) = &mut ev.payload {
        if kept.len() + data.len() > BODY_KEPT {
            ev.payload = None;
        } else {
            kept.extend_from_slice(data);
        }
    }
}

/// The longest body kept whole for the payload step (what the body carries): the
/// reference Engine.IO server's default `maxHttpBufferSize`.
const BODY_KEPT: usize = 1_000_000;

/// One step through a chunked body (RFC 9112 §7.1); `None` when more bytes are needed.
fn chunked(state: ChunkState, buf: &[u8], ev: &mut AppEvent) -> Result<Option<Advance>, String> {
    let advance = |next, used, done| {
        Ok(Some(Advance {
            next: Body::Chunked(next),
            used,
            done,
        }))
    };
    match state {
        ChunkState::Size => {
            let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
                if buf.len() > 1024 {
                    return Err("a chunk-size line longer than 1 KiB".into());
                }
                return Ok(None);
            };
            let line = String::from_utf8_lossy(&buf[..eol]).into_owned();
            // A chunk extension (`;name=value`) may follow the size.
            let size = line.split(';').next().unwrap_or("").trim();
            match u64::from_str_radix(size, 16) {
                Ok(0) => advance(ChunkState::Trailer, eol + 2, false),
                Ok(n) => {
                    if let AppMessage::HttpRequest { chunks, .. }
                    | AppMessage::HttpResponse { chunks, .. } = &mut ev.message
                    {
                        *chunks += 1;
                    }
                    advance(ChunkState::Data(n), eol + 2, false)
                }
                Err(_) => Err(format!("`{line}` is not a chunk size (hex digits)")),
            }
        }
        // The chunk's data is read: its CRLF follows.
        ChunkState::Data(0) if buf.len() < 2 => Ok(None),
        ChunkState::Data(0) => advance(ChunkState::Size, 2, false),
        ChunkState::Data(left) => {
            let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            add_body(ev, &buf[..n]);
            advance(ChunkState::Data(left - n as u64), n, false)
        }
        ChunkState::Trailer => match buf.windows(2).position(|w| w == b"\r\n") {
            Some(0) => advance(ChunkState::Trailer, 2, true),
            Some(eol) => advance(ChunkState::Trailer, eol + 2, false),
            None => Ok(None),
        },
    }
}

impl Http {
    fn new(max_buffer: usize) -> Http {
        Http {
            modes: [Mode::Start, Mode::Start],
            max_buffer,
            requests_seen: 0,
            responses_seen: 0,
            pending: VecDeque::new(),
        }
    }

    /// Read a head.
    fn head(&mut self, dir: Direction, streams: &mut [Stream; 2], out: &mut Vec<AppEvent>) -> Step {
        let s = &mut streams[dir as usize];
        let at = s.at;
        let limit = self.max_buffer.min(64 * 1024);
        match dir {
            Direction::AToB => match http1::parse_request(&s.buf, limit) {
                Ok(Scan::NeedMore) => Step::NeedMore,
                Err(e) => Step::Stop(format!("not a valid HTTP request: {e}")),
                Ok(Scan::Complete { value, head_len }) => {
                    s.consume(head_len);
                    let end = s.at;
                    self.request(value, at, end, out);
                    Step::Progress
                }
            },
            Direction::BToA => match http1::parse_response(&s.buf, limit) {
                Ok(Scan::NeedMore) => Step::NeedMore,
                Err(e) => Step::Stop(format!("not a valid HTTP response: {e}")),
                Ok(Scan::Complete { value, head_len }) => {
                    s.consume(head_len);
                    self.response(value, at, streams, out);
                    Step::Progress
                }
            },
        }
    }

    /// A request head was read from stream offset `at` to `end`.
    fn request(&mut self, head: RequestHead, at: u64, end: u64, out: &mut Vec<AppEvent>) {
        self.requests_seen += 1;
        let number = self.requests_seen;
        let upgrade = head.headers.has_token("upgrade", "websocket")
            && head.headers.has_token("connection", "upgrade");
        let key = head.headers.get("sec-websocket-key").map(str::to_owned);
        self.pending.push_back(PendingRequest {
            number,
            head_request: head.method == "HEAD",
            upgrade_key: upgrade.then(|| key.unwrap_or_default()),
        });
        let (framing, body) = framing(&head.headers, true);
        let ev = AppEvent {
            direction: Direction::AToB,
            offset: at,
            end: at,
            message: AppMessage::HttpRequest {
                number,
                method: head.method,
                target: head.target,
                version: version(head.minor_version),
                headers: head.headers,
                framing,
                body_len: 0,
                chunks: 0,
                body_preview: Vec::new(),
                upgrade_websocket: upgrade,
                carried: None,
            },
            payload: Some(Vec::new()),
        };
        self.after_head(Direction::AToB, ev, body, upgrade, end, out);
    }

    /// A response head was read from stream offset `at` (its bytes are consumed).
    fn response(
        &mut self,
        head: ResponseHead,
        at: u64,
        streams: &mut [Stream; 2],
        out: &mut Vec<AppEvent>,
    ) {
        self.responses_seen += 1;
        // 1xx responses are interim: the final response to the same request follows
        // (except 101, which ends HTTP on this connection).
        let interim = (100..200).contains(&head.status) && head.status != 101;
        let req = if interim {
            self.pending.front().cloned()
        } else {
            self.pending.pop_front()
        };
        let upgrade_key = req.as_ref().and_then(|r| r.upgrade_key.clone());
        let switches = head.status == 101 && upgrade_key.is_some();
        let websocket_accept = accept_check(upgrade_key.as_ref(), &head);
        // permessage-deflate is agreed when the server's 101 names it (RFC 7692 §5); its
        // parameters say how each side compresses (the defaults if they do not parse).
        let deflate = (switches
            && head
                .headers
                .get_all("sec-websocket-extensions")
                .any(|v| v.contains("permessage-deflate")))
        .then(|| {
            extensions::parse(head.headers.get_all("sec-websocket-extensions"))
                .ok()
                .and_then(|exts| deflate::check_response(&exts, true).ok().flatten())
                .unwrap_or_default()
        });
        let head_request = req.as_ref().is_some_and(|r| r.head_request);
        // RFC 9112 §6.3: no body for HEAD, 1xx, 204 and 304.
        let (framing, body) = if head_request
            || (100..200).contains(&head.status)
            || head.status == 204
            || head.status == 304
        {
            (BodyFraming::None, None)
        } else {
            framing(&head.headers, false)
        };
        let ev = AppEvent {
            direction: Direction::BToA,
            offset: at,
            end: at,
            message: AppMessage::HttpResponse {
                answers: req.map(|r| r.number),
                version: version(head.minor_version),
                status: head.status,
                reason: head.reason,
                headers: head.headers,
                framing,
                body_len: 0,
                chunks: 0,
                body_preview: Vec::new(),
                websocket_accept,
                switches_to_websocket: switches,
                carried: None,
            },
            payload: Some(Vec::new()),
        };
        if switches {
            self.switch_to_websocket(ev, deflate, streams, out);
            return;
        }
        if upgrade_key.is_some() && matches!(self.modes[0], Mode::AwaitUpgrade) {
            // Upgrade refused: the client goes on speaking HTTP.
            self.modes[0] = Mode::Head;
            self.run(Direction::AToB, streams, out);
        }
        let end = streams[1].at;
        self.after_head(Direction::BToA, ev, body, false, end, out);
    }

    /// `101 Switching Protocols` answered an Upgrade request: the server's next byte is
    /// a WebSocket frame, and so is the client's if it was waiting for this answer
    /// (RFC 6455 §4.1).
    fn switch_to_websocket(
        &mut self,
        mut ev: AppEvent,
        deflate: Option<deflate::Agreement>,
        streams: &mut [Stream; 2],
        out: &mut Vec<AppEvent>,
    ) {
        ev.end = streams[1].at;
        out.push(ev);
        // Each direction inflates with its sender's parameters.
        let server = deflate.map(|a| a.of(Role::Server));
        let client = deflate.map(|a| a.of(Role::Client));
        let server = FrameReader::new(Direction::BToA, server, self.max_buffer);
        self.modes[1] = Mode::WebSocket(server);
        if matches!(self.modes[0], Mode::AwaitUpgrade) {
            let client = FrameReader::new(Direction::AToB, client, self.max_buffer);
            self.modes[0] = Mode::WebSocket(client);
            self.run(Direction::AToB, streams, out);
        }
    }

    /// A head is read: read its body next, or it is complete.
    fn after_head(
        &mut self,
        dir: Direction,
        mut ev: AppEvent,
        body: Option<Body>,
        upgrade: bool,
        end: u64,
        out: &mut Vec<AppEvent>,
    ) {
        self.modes[dir as usize] = match body {
            Some(body) => Mode::Body {
                body,
                event: Box::new(ev),
            },
            None => {
                ev.end = end;
                out.push(ev);
                if upgrade {
                    Mode::AwaitUpgrade
                } else {
                    Mode::Head
                }
            }
        };
    }

    /// Read body bytes.
    fn body(
        &mut self,
        dir: Direction,
        s: &mut Stream,
        body: Body,
        mut ev: AppEvent,
        out: &mut Vec<AppEvent>,
    ) -> Step {
        let i = dir as usize;
        let advance = match body {
            Body::UntilClose => {
                let data = std::mem::take(&mut s.buf);
                s.at += data.len() as u64;
                add_body(&mut ev, &data);
                None
            }
            Body::Length(left) => {
                let n = s.buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                add_body(&mut ev, &s.buf[..n]);
                let left = left - n as u64;
                Some(Advance {
                    next: Body::Length(left),
                    used: n,
                    done: left == 0,
                })
            }
            Body::Chunked(state) => match chunked(state, &s.buf, &mut ev) {
                Ok(advance) => advance,
                Err(text) => return Step::Stop(text),
            },
        };
        let Some(Advance { next, used, done }) = advance else {
            self.modes[i] = Mode::Body {
                body,
                event: Box::new(ev),
            };
            return Step::NeedMore;
        };
        s.consume(used);
        if done {
            ev.end = s.at;
            out.push(ev);
            self.modes[i] = Mode::Head;
        } else {
            self.modes[i] = Mode::Body {
                body: next,
                event: Box::new(ev),
            };
        }
        if used > 0 || done {
            Step::Progress
        } else {
            Step::NeedMore
        }
    }
}

impl StreamDecoder for Http {
    fn run(&mut self, dir: Direction, streams: &mut [Stream; 2], out: &mut Vec<AppEvent>) {
        let i = dir as usize;
        // Bounded: every pass either consumes bytes, changes the mode or returns. The
        // mode is taken out (not cloned: a body's event holds its headers) and every
        // branch that goes on puts one back.
        loop {
            let step = match std::mem::replace(&mut self.modes[i], Mode::Off) {
                Mode::Off => return,
                Mode::AwaitUpgrade => {
                    self.modes[i] = Mode::AwaitUpgrade;
                    return;
                }
                Mode::Start => match looks_like_http(dir, &streams[i].buf) {
                    // Too few bytes to decide: wait for more.
                    None => {
                        self.modes[i] = Mode::Start;
                        return;
                    }
                    Some(true) => {
                        self.modes[i] = Mode::Head;
                        Step::Progress
                    }
                    Some(false) => match joined_midstream(&streams[i].buf) {
                        // Not HTTP, but WebSocket frames: the capture began after the
                        // handshake (RFC 6455 §4 happened before it).
                        Some(client) => {
                            let text = concat!(
                                "no HTTP here, but whole WebSocket frames: the capture began ",
                                "after this connection's handshake, read as WebSocket"
                            );
                            out.push(AppEvent::note(dir, streams[i].at, text.into()));
                            let reader = FrameReader::joined(client, self.max_buffer);
                            self.modes[i] = Mode::WebSocket(reader);
                            Step::Progress
                        }
                        None => return,
                    },
                },
                Mode::Head => {
                    self.modes[i] = Mode::Head;
                    self.head(dir, streams, out)
                }
                Mode::Body { body, event } => self.body(dir, &mut streams[i], body, *event, out),
                Mode::WebSocket(mut frames) => {
                    let step = frames.read(dir, &mut streams[i], out);
                    self.modes[i] = Mode::WebSocket(frames);
                    step
                }
            };
            match step {
                Step::Progress => {}
                Step::NeedMore => return,
                Step::Stop(text) => {
                    streams[i].stop(dir, text, out);
                    self.modes[i] = Mode::Off;
                    return;
                }
            }
        }
    }

    fn stop(&mut self, dir: Direction) -> bool {
        let was = std::mem::replace(&mut self.modes[dir as usize], Mode::Off);
        !matches!(was, Mode::Off | Mode::Start)
    }

    fn stopped(&self, dir: Direction) -> bool {
        matches!(self.modes[dir as usize], Mode::Off)
    }

    fn holding(&self, dir: Direction, s: &Stream) -> Option<Protocol> {
        match &self.modes[dir as usize] {
            Mode::Body { .. } => Some(Protocol::Http1),
            Mode::Head if !s.buf.is_empty() => Some(Protocol::Http1),
            Mode::WebSocket(_) if !s.buf.is_empty() || s.skip > 0 => Some(Protocol::WebSocket),
            _ => None,
        }
    }

    fn finish(&mut self, streams: &[Stream; 2], out: &mut Vec<AppEvent>) {
        for (mode, s) in self.modes.iter_mut().zip(streams) {
            // A body read until the server closes ends here.
            if let Mode::Body { mut event, .. } = std::mem::replace(mode, Mode::Off) {
                event.end = s.at;
                out.push(*event);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::wire::dissect::app::testing::decode;
    use crate::wire::dissect::app::*;

    #[test]
    fn keep_alive_chunked_and_http_1_0() {
        let req = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcHEAD /c HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        let resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-T: 1\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.0 404 Not Found\r\n\r\nuntil close".to_vec();
        let ev = decode(&[(Direction::AToB, req), (Direction::BToA, resp)], 5);
        let got: Vec<String> = ev
            .iter()
            .map(|e| match &e.message {
                AppMessage::HttpRequest {
                    number,
                    method,
                    target,
                    body_len,
                    ..
                } => format!("{number} {method} {target} {body_len}"),
                AppMessage::HttpResponse {
                    answers,
                    status,
                    body_len,
                    chunks,
                    framing,
                    body_preview,
                    ..
                } => {
                    format!(
                        "{answers:?} {status} {body_len} {chunks} {framing:?} {}",
                        String::from_utf8_lossy(body_preview)
                    )
                }
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            [
                "1 GET /a 0",
                "2 POST /b 3",
                "3 HEAD /c 0",
                "Some(1) 200 5 2 Chunked abcde",
                "Some(2) 201 2 0 ContentLength ok",
                // A response to HEAD has no body, whatever Content-Length says.
                "Some(3) 200 0 0 None ",
                "None 404 11 0 UntilClose until close",
            ]
        );
    }
}

/// The `Sec-WebSocket-Accept` check judged on both answers (RFC 6455 §4.2.2 and §4.1:
/// a client fails the connection when the value is not the one its key asks for).
#[cfg(test)]
mod accept_tests {
    use crate::wire::application::websocket::handshake::{accept_key, client_request};
    use crate::wire::dissect::app::testing::decode;
    use crate::wire::dissect::app::*;

    fn check(accept: &str) -> AcceptCheck {
        let (_, req) = client_request("h", "/", [7; 16], &[], None);
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        let out = decode(
            &[(Direction::AToB, req), (Direction::BToA, resp.into_bytes())],
            0,
        );
        out.iter()
            .find_map(|e| match &e.message {
                AppMessage::HttpResponse {
                    websocket_accept, ..
                } => websocket_accept.clone(),
                _ => None,
            })
            .expect("a 101 with an Accept is checked")
    }

    #[test]
    fn the_right_accept_is_judged_correct() {
        let (key, _) = client_request("h", "/", [7; 16], &[], None);
        let c = check(&accept_key(&key));
        assert!(c.ok, "{c:?}");
        assert_eq!(c.got, c.expected);
    }

    #[test]
    fn a_wrong_accept_is_judged_wrong() {
        let (key, _) = client_request("h", "/", [7; 16], &[], None);
        let right = accept_key(&key);
        // The RFC 6455 §1.3 example's Accept, answered to a different key.
        let c = check("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_ne!(right, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert!(!c.ok, "{c:?}");
        assert_eq!(
            (c.expected.as_str(), c.got.as_str()),
            (right.as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        // The key alone (not hashed) is wrong too.
        assert!(!check(&key).ok);
    }
}
