//! One Engine.IO session on the server, as a state machine without I/O.
//!
//! The driver (`net::engineio`) feeds it what happens (a polling GET arrives, a POST's
//! body has been read, a WebSocket frame came in, time passed) and carries out what it
//! asks for: the body that answers the waiting GET ([`Session::take_poll_answer`]),
//! frames to write on the WebSocket ([`Session::take_transmit`]), and the events for
//! the application ([`Session::poll_event`]). [`Session::poll_timeout`] says when it
//! next needs [`Session::handle_timeout`]. Time is a `Duration` on the driver's clock
//! (since any zero it likes), so tests step it by hand.
//!
//! ```text
//!  client                                   server
//!  GET  ?EIO=4&transport=polling      ─►    (new session)
//!                                     ◄─    0{"sid":"…","pingInterval":25000,…}
//!  POST ?…&sid=…   4hello             ─►    message "hello" → application
//!                                     ◄─    ok
//!  GET  ?…&sid=…                      ─►    (waits: at most one GET at a time)
//!                                     ◄─    4hello                 (the echo)
//!  GET  ?…&sid=…                      ─►    (waits)
//!                                     ◄─    2          (ping, after pingInterval)
//!  POST ?…&sid=…   3                  ─►    pong: the client is alive
//!  ── upgrade ──
//!  WebSocket ?…&transport=websocket&sid=…   (the polling GET may still be waiting)
//!  2probe                             ─►
//!                                     ◄─    3probe
//!                                     ◄─    6 (noop, to the waiting GET: polling ends)
//!  5                                  ─►    upgraded: every packet now on the WebSocket
//! ```
//!
//! The rules are the reference server's (engine.io 6, `socket.js` and
//! `transports/polling.js`): a second GET while one waits is refused (400) and closes
//! the session with "transport error", as does a second POST while one is being read;
//! packets wait in one buffer in order, whichever transport takes them; a client that
//! does not answer a ping within `pingTimeout` is gone ("ping timeout").

use super::open::OpenInfo;
use super::packet::{Message, Packet};
use super::payload::{decode_payload, encode_payload, PayloadLimits};
use super::query::Transport;
use core::time::Duration;
use serde::Serialize;
use std::collections::VecDeque;

/// A reading of the driver's clock: the time since a zero of its choosing.
pub type Time = Duration;

/// A session's parameters (the open packet announces the first three).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// The largest POST body, in bytes (and, on the WebSocket, the largest message).
    pub max_payload: usize,
    /// How long a WebSocket may take to finish an upgrade it started.
    pub upgrade_timeout: Duration,
    /// How long a close waits for a polling GET to carry the close packet.
    pub close_timeout: Duration,
    /// The most packets waiting for a transport; a send beyond it is refused.
    pub max_buffered: usize,
}

impl Default for Config {
    /// The reference server's defaults.
    fn default() -> Self {
        Config {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
            upgrade_timeout: Duration::from_millis(10_000),
            close_timeout: Duration::from_millis(30_000),
            max_buffered: 10_000,
        }
    }
}

/// Why a session ended, in the reference server's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CloseReason {
    /// The client closed: a close packet, or its WebSocket ended.
    #[serde(rename = "transport close")]
    TransportClose,
    /// The client broke a rule of the transport: two GETs or two POSTs at once, a
    /// polling request that ended early, a body over `maxPayload`, a ping from the client.
    #[serde(rename = "transport error")]
    TransportError,
    /// No pong within `pingTimeout` of a ping.
    #[serde(rename = "ping timeout")]
    PingTimeout,
    /// The server closed the session.
    #[serde(rename = "forced close")]
    ForcedClose,
    /// A packet that could not be read.
    #[serde(rename = "parse error")]
    ParseError,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ParseError => "parse error",
        }
    }
}

impl core::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the application hears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Message(Message),
    /// The session moved from long-polling to its WebSocket.
    Upgraded,
    Closed(CloseReason),
}

/// What the driver writes on the session's WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// A frame, compressed if permessage-deflate is on and it is worth it (1 KiB or more).
    Frame(Message),
    /// A frame never compressed: the application asked (Socket.IO's `compress(false)`;
    /// RFC 7692 §6 lets a sender send any message uncompressed).
    FrameUncompressed(Message),
    /// End the WebSocket (the session closed, or an upgrade failed).
    CloseWebSocket,
}

/// The answer to a polling GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetAnswer {
    /// 200 with this body (`text/plain; charset=UTF-8`), at once.
    Body(String),
    /// Nothing to send yet: the GET waits for [`Session::take_poll_answer`].
    Wait,
    /// 400 with an empty body (the reference server's answer to an overlapping GET).
    Refused,
}

/// The answer to a POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostAnswer {
    /// 200 `ok` (also when the body could not be read: the session closes anyway).
    Ok,
    /// 400: another POST of this session is in flight, or the session is not on polling.
    Refused,
    /// 413: the body is larger than `maxPayload`.
    TooLarge,
}

/// Why a WebSocket could not take the session over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum UpgradeRefused {
    #[error("the session is closed")]
    Closed,
    #[error("the session is already being upgraded")]
    AlreadyUpgrading,
    #[error("the session is already on a WebSocket")]
    AlreadyUpgraded,
}

/// How to send one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOptions {
    /// Drop it unless the transport can take it now ([`Session::writable`]).
    pub volatile: bool,
    /// It may be compressed: permessage-deflate on the WebSocket, HTTP compression of
    /// the polling answer that carries it (the reference server's `compress` option).
    pub compress: bool,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            volatile: false,
            compress: true,
        }
    }
}

/// A packet waiting for a transport, and whether it may be compressed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Queued {
    packet: Packet,
    compress: bool,
}

impl Queued {
    /// A packet of the session's own (open, ping, close): compressible, as the reference
    /// server's `sendPacket` makes them.
    fn control(packet: Packet) -> Queued {
        Queued {
            packet,
            compress: true,
        }
    }
}

/// Why a message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum SendError {
    #[error("the session is closed or closing")]
    Closed,
    #[error("{max} packets are already waiting for the client to take them")]
    BufferFull { max: usize },
    /// A volatile message finds the transport busy: no polling GET waits for it, or the
    /// WebSocket is still writing what it was given. It is dropped, as the reference
    /// server drops it (`if (volatile && !transport.writable)`).
    #[error("the transport cannot take a message now (a volatile one is dropped)")]
    NotWritable,
}

/// Where an upgrade to WebSocket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    None,
    /// A WebSocket is open for the session; waiting for `2probe`.
    Attached {
        deadline: Time,
    },
    /// `3probe` sent; waiting for `5`.
    Probed {
        deadline: Time,
    },
}

/// The heartbeat: when the next ping goes out, or when its pong is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heartbeat {
    PingAt(Time),
    /// A ping is out. `refreshed`: another packet already pushed the deadline back once.
    PongBy {
        deadline: Time,
        refreshed: bool,
    },
}

/// One server-side session.
#[derive(Debug)]
pub struct Session {
    sid: String,
    config: Config,
    transport: Transport,
    upgrade: Upgrade,
    heartbeat: Heartbeat,
    /// A polling GET is waiting for packets.
    get_waiting: bool,
    /// A POST's body is being read.
    post_in_flight: bool,
    /// Packets for the client, oldest first.
    buffer: VecDeque<Queued>,
    poll_answer: Option<String>,
    /// The last body built for a GET may be compressed (a packet in it allowed it).
    answer_compress: bool,
    transmits: VecDeque<Transmit>,
    /// The driver took a frame and has not yet come back for the next one: the
    /// WebSocket is still writing it.
    ws_writing: bool,
    events: VecDeque<Event>,
    /// A close was asked for and waits (until this time) for a GET to carry it.
    closing: Option<Time>,
    closed: Option<CloseReason>,
}

impl Session {
    /// A new session on `transport`; the open packet is the first thing it sends.
    pub fn new(sid: impl Into<String>, config: Config, transport: Transport, now: Time) -> Session {
        let mut s = Session {
            sid: sid.into(),
            heartbeat: Heartbeat::PingAt(now + config.ping_interval),
            config,
            transport,
            upgrade: Upgrade::None,
            get_waiting: false,
            post_in_flight: false,
            buffer: VecDeque::new(),
            poll_answer: None,
            answer_compress: false,
            transmits: VecDeque::new(),
            ws_writing: false,
            events: VecDeque::new(),
            closing: None,
            closed: None,
        };
        let open = s.open_info().to_json();
        s.buffer.push_back(Queued::control(Packet::Open(open)));
        s.flush(now);
        s
    }

    /// The open packet's JSON.
    pub fn open_info(&self) -> OpenInfo {
        let upgrades = match self.transport {
            Transport::Polling => vec!["websocket".to_owned()],
            Transport::WebSocket => vec![],
        };
        OpenInfo {
            sid: self.sid.clone(),
            upgrades,
            ping_interval: self.config.ping_interval.as_millis() as u64,
            ping_timeout: self.config.ping_timeout.as_millis() as u64,
            max_payload: self.config.max_payload as u64,
        }
    }

    pub fn sid(&self) -> &str {
        &self.sid
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The transport that carries the session's packets now.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    pub fn closed(&self) -> Option<CloseReason> {
        self.closed
    }

    /// A polling GET arrived.
    pub fn get(&mut self, now: Time) -> GetAnswer {
        if self.closed.is_some() || self.transport != Transport::Polling {
            return GetAnswer::Refused;
        }
        if self.get_waiting {
            // "overlap from client": the waiting GET gets the close packet.
            self.finish(CloseReason::TransportError);
            return GetAnswer::Refused;
        }
        self.get_waiting = true;
        self.flush(now);
        if self.get_waiting && matches!(self.upgrade, Upgrade::Probed { .. }) {
            // An upgrade is under way: end this poll at once so the client can switch.
            self.answer_get(Packet::Noop.to_text());
        }
        match self.poll_answer.take() {
            Some(body) => GetAnswer::Body(body),
            None => GetAnswer::Wait,
        }
    }

    /// The body for the waiting GET, once there is one.
    pub fn take_poll_answer(&mut self) -> Option<String> {
        self.poll_answer.take()
    }

    /// May the last body built for a GET be compressed (HTTP compression, when the client
    /// accepts it and the body is large enough)? True when a packet in it allowed it.
    pub fn answer_compress(&self) -> bool {
        self.answer_compress
    }

    /// Is a GET waiting (and not yet answered)?
    pub fn get_waiting(&self) -> bool {
        self.get_waiting
    }

    /// The waiting GET's connection ended before it was answered.
    pub fn get_aborted(&mut self) {
        if self.get_waiting {
            self.get_waiting = false;
            self.finish(CloseReason::TransportError);
        }
    }

    /// A POST's head arrived; its body is about to be read (at most `max_payload` + 1
    /// bytes of it).
    pub fn post_begin(&mut self) -> PostAnswer {
        if self.closed.is_some() || self.transport != Transport::Polling {
            return PostAnswer::Refused;
        }
        if self.post_in_flight {
            self.finish(CloseReason::TransportError);
            return PostAnswer::Refused;
        }
        self.post_in_flight = true;
        PostAnswer::Ok
    }

    /// The POST announced a body larger than `max_payload` (its `Content-Length`); it
    /// is not read. The reference server answers 413 and closes ("transport error").
    pub fn post_too_large(&mut self) -> PostAnswer {
        self.post_aborted();
        PostAnswer::TooLarge
    }

    /// The POST could not be read to its end (the client left, or was too slow), or
    /// was not text: "transport error".
    pub fn post_aborted(&mut self) {
        self.post_in_flight = false;
        self.finish(CloseReason::TransportError);
    }

    /// The POST's body has been read.
    pub fn post_body(&mut self, body: &[u8], now: Time) -> PostAnswer {
        self.post_in_flight = false;
        if self.closed.is_some() {
            return PostAnswer::Ok;
        }
        if body.len() > self.config.max_payload {
            self.finish(CloseReason::TransportError);
            return PostAnswer::TooLarge;
        }
        let limits = PayloadLimits {
            max_bytes: self.config.max_payload,
            ..PayloadLimits::default()
        };
        match decode_payload(body, limits) {
            Ok(packets) => {
                for p in packets {
                    self.on_packet(p, now);
                }
            }
            Err(_) => self.finish(CloseReason::ParseError),
        }
        PostAnswer::Ok
    }

    /// A WebSocket for this session finished its opening handshake (an upgrade).
    pub fn ws_attach(&mut self, now: Time) -> Result<(), UpgradeRefused> {
        if self.closed.is_some() || self.closing.is_some() {
            return Err(UpgradeRefused::Closed);
        }
        if self.transport == Transport::WebSocket {
            return Err(UpgradeRefused::AlreadyUpgraded);
        }
        if self.upgrade != Upgrade::None {
            return Err(UpgradeRefused::AlreadyUpgrading);
        }
        self.upgrade = Upgrade::Attached {
            deadline: now + self.config.upgrade_timeout,
        };
        Ok(())
    }

    /// A frame arrived on the session's WebSocket.
    pub fn ws_frame(&mut self, frame: &Message, now: Time) {
        if self.closed.is_some() {
            return;
        }
        let packet = Packet::from_frame(frame);
        if self.transport == Transport::WebSocket {
            match packet {
                Ok(p) => self.on_packet(p, now),
                Err(_) => self.finish(CloseReason::ParseError),
            }
            return;
        }
        match (self.upgrade, packet) {
            (Upgrade::Attached { deadline }, Ok(Packet::Ping(probe))) if probe == "probe" => {
                self.transmits
                    .push_back(Transmit::Frame(Packet::Pong(probe).to_frame()));
                self.upgrade = Upgrade::Probed { deadline };
                if self.get_waiting && self.poll_answer.is_none() {
                    self.answer_get(Packet::Noop.to_text());
                }
            }
            (Upgrade::Probed { .. }, Ok(Packet::Upgrade)) => self.upgraded(now),
            // Anything else ends the upgrade, not the session.
            _ => self.cancel_upgrade(),
        }
    }

    /// The session's WebSocket ended (closed by the client, or failed).
    pub fn ws_closed(&mut self) {
        if self.transport == Transport::WebSocket {
            if self.closed.is_none() {
                self.finish(CloseReason::TransportClose);
            }
        } else if self.upgrade != Upgrade::None {
            self.upgrade = Upgrade::None;
        }
    }

    fn upgraded(&mut self, now: Time) {
        self.upgrade = Upgrade::None;
        self.transport = Transport::WebSocket;
        if self.get_waiting && self.poll_answer.is_none() {
            self.answer_get(Packet::Noop.to_text());
        }
        self.events.push_back(Event::Upgraded);
        self.flush(now);
    }

    fn cancel_upgrade(&mut self) {
        self.upgrade = Upgrade::None;
        self.transmits.push_back(Transmit::CloseWebSocket);
    }

    fn answer_get(&mut self, body: String) {
        self.answer_compress = false;
        self.poll_answer = Some(body);
        self.get_waiting = false;
    }

    /// A packet from the client on the session's transport.
    fn on_packet(&mut self, p: Packet, now: Time) {
        if self.closed.is_some() {
            return;
        }
        // Any packet while a pong is awaited shows the client alive: the deadline moves
        // once (the reference server's `hasRefreshedPingTimeout`).
        if let Heartbeat::PongBy {
            refreshed: false, ..
        } = self.heartbeat
        {
            if !matches!(p, Packet::Pong(_)) {
                self.heartbeat = Heartbeat::PongBy {
                    deadline: now + self.config.ping_timeout,
                    refreshed: true,
                };
            }
        }
        match p {
            Packet::Pong(_) => self.heartbeat = Heartbeat::PingAt(now + self.config.ping_interval),
            // In revision 4 the server pings and the client answers, never the reverse.
            Packet::Ping(_) => self.finish(CloseReason::TransportError),
            Packet::Message(m) => self.events.push_back(Event::Message(m)),
            Packet::Close => {
                // The client leaves: a GET it left waiting gets a noop, not a close
                // packet (the reference server's polling `onClose`; the Engine.IO test
                // suite's "forcefully closes the session" expects `6`).
                if self.get_waiting && self.poll_answer.is_none() {
                    self.answer_get(Packet::Noop.to_text());
                }
                self.finish(CloseReason::TransportClose)
            }
            Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
        }
    }

    /// Queue a message for the client.
    pub fn send(&mut self, m: Message, now: Time) -> Result<(), SendError> {
        self.send_with(m, SendOptions::default(), now)
    }

    /// Queue a volatile message: only when the transport can take it now
    /// ([`Session::writable`]); otherwise it is dropped ([`SendError::NotWritable`]).
    pub fn send_volatile(&mut self, m: Message, now: Time) -> Result<(), SendError> {
        let volatile = SendOptions {
            volatile: true,
            ..SendOptions::default()
        };
        self.send_with(m, volatile, now)
    }

    /// Queue a message for the client, volatile or not, compressible or not.
    pub fn send_with(&mut self, m: Message, opts: SendOptions, now: Time) -> Result<(), SendError> {
        if self.closed.is_some() || self.closing.is_some() {
            return Err(SendError::Closed);
        }
        if opts.volatile && !self.writable() {
            return Err(SendError::NotWritable);
        }
        if self.buffer.len() + self.transmits.len() >= self.config.max_buffered {
            return Err(SendError::BufferFull {
                max: self.config.max_buffered,
            });
        }
        self.buffer.push_back(Queued {
            packet: Packet::Message(m),
            compress: opts.compress,
        });
        self.flush(now);
        Ok(())
    }

    /// Can the transport take a packet now? On long-polling: a GET is waiting and not
    /// yet answered. On the WebSocket: nothing is queued for it and the driver is not
    /// still writing a frame (a client that stops reading fills the TCP send buffer, and
    /// the write waits). The reference server's `transport.writable`.
    pub fn writable(&self) -> bool {
        if self.closed.is_some() || self.closing.is_some() {
            return false;
        }
        match self.transport {
            Transport::Polling => self.get_waiting && self.poll_answer.is_none(),
            Transport::WebSocket => self.transmits.is_empty() && !self.ws_writing,
        }
    }

    /// Close the session from the server's side ("forced close"). Packets already
    /// queued go out first; on long-polling the close packet rides the next GET, after
    /// them in the same body (the reference server spends one more poll: `6␞1`).
    pub fn close(&mut self, now: Time) {
        if self.closed.is_some() || self.closing.is_some() {
            return;
        }
        match self.transport {
            Transport::WebSocket => {
                self.flush(now);
                self.finish(CloseReason::ForcedClose);
            }
            Transport::Polling => {
                self.buffer.push_back(Queued::control(Packet::Close));
                self.closing = Some(now + self.config.close_timeout);
                self.flush(now);
            }
        }
    }

    /// Hand packets waiting in the buffer to the transport that can take them now.
    fn flush(&mut self, _now: Time) {
        if self.buffer.is_empty() || self.closed.is_some() {
            return;
        }
        match self.transport {
            Transport::WebSocket => {
                for q in self.buffer.drain(..) {
                    let frame = q.packet.to_frame();
                    self.transmits.push_back(match q.compress {
                        true => Transmit::Frame(frame),
                        false => Transmit::FrameUncompressed(frame),
                    });
                }
            }
            Transport::Polling if self.get_waiting && self.poll_answer.is_none() => {
                let body = encode_payload(self.buffer.iter().map(|q| &q.packet));
                let closes = self.buffer.iter().any(|q| q.packet == Packet::Close);
                let compress = self.buffer.iter().any(|q| q.compress);
                self.buffer.clear();
                self.answer_get(body);
                self.answer_compress = compress;
                if closes {
                    self.finish(CloseReason::ForcedClose);
                }
            }
            Transport::Polling => {}
        }
    }

    /// The session is over: tell the application, end the transports.
    fn finish(&mut self, reason: CloseReason) {
        if self.closed.is_some() {
            return;
        }
        self.closed = Some(reason);
        self.closing = None;
        self.buffer.clear();
        if self.get_waiting && self.poll_answer.is_none() {
            self.answer_get(Packet::Close.to_text());
        }
        if self.transport == Transport::WebSocket || self.upgrade != Upgrade::None {
            self.transmits.push_back(Transmit::CloseWebSocket);
        }
        self.upgrade = Upgrade::None;
        self.events.push_back(Event::Closed(reason));
    }

    /// When [`Session::handle_timeout`] is next due; `None` once closed.
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.closed.is_some() {
            return None;
        }
        let beat = match self.heartbeat {
            Heartbeat::PingAt(t) => t,
            Heartbeat::PongBy { deadline, .. } => deadline,
        };
        let upgrade = match self.upgrade {
            Upgrade::None => None,
            Upgrade::Attached { deadline } | Upgrade::Probed { deadline } => Some(deadline),
        };
        [Some(beat), upgrade, self.closing]
            .into_iter()
            .flatten()
            .min()
    }

    /// Time has reached `now`: send a ping, give up on a silent client, an upgrade that
    /// did not finish or a close no GET came for.
    pub fn handle_timeout(&mut self, now: Time) {
        if self.closed.is_some() {
            return;
        }
        if let Some(deadline) = self.closing {
            if now >= deadline {
                return self.finish(CloseReason::ForcedClose);
            }
        }
        match self.upgrade {
            Upgrade::Attached { deadline } | Upgrade::Probed { deadline } if now >= deadline => {
                self.cancel_upgrade()
            }
            _ => {}
        }
        match self.heartbeat {
            Heartbeat::PongBy { deadline, .. } if now >= deadline => {
                self.finish(CloseReason::PingTimeout)
            }
            Heartbeat::PingAt(at) if now >= at && self.closing.is_none() => {
                self.heartbeat = Heartbeat::PongBy {
                    deadline: now + self.config.ping_timeout,
                    refreshed: false,
                };
                self.buffer
                    .push_back(Queued::control(Packet::Ping(String::new())));
                self.flush(now);
            }
            _ => {}
        }
    }

    /// Events not yet taken by the application. A driver stops reading from the client
    /// while this is high: the backpressure that bounds the queue.
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next thing to write on the WebSocket. The driver writes it to the end before
    /// it asks again; until then the WebSocket is busy ([`Session::writable`]).
    pub fn take_transmit(&mut self) -> Option<Transmit> {
        let next = self.transmits.pop_front();
        self.ws_writing = next.is_some();
        next
    }

    /// One more thing to write together with what the driver has taken and not yet
    /// written: the WebSocket stays busy even when there is none (it becomes writable
    /// when [`take_transmit`](Self::take_transmit) next finds nothing).
    pub fn take_another_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Time {
        Duration::from_millis(n)
    }

    fn config() -> Config {
        Config {
            ping_interval: ms(300),
            ping_timeout: ms(200),
            max_payload: 64,
            upgrade_timeout: ms(1000),
            close_timeout: ms(5000),
            max_buffered: 4,
        }
    }

    /// A polling session whose open packet has been fetched.
    fn opened() -> Session {
        let mut s = Session::new("S9brL3KXZlnkAmvHAAAA", config(), Transport::Polling, ms(0));
        match s.get(ms(0)) {
            GetAnswer::Body(b) => assert!(b.starts_with("0{\"sid\":\"S9brL3KXZlnkAmvHAAAA\"")),
            other => panic!("{other:?}"),
        }
        s
    }

    fn events(s: &mut Session) -> Vec<Event> {
        std::iter::from_fn(|| s.poll_event()).collect()
    }

    fn transmits(s: &mut Session) -> Vec<Transmit> {
        std::iter::from_fn(|| s.take_transmit()).collect()
    }

    fn text_frame(s: &str) -> Message {
        Message::Text(s.into())
    }

    #[test]
    fn the_handshake_answers_the_first_get_with_the_open_packet() {
        let mut s = Session::new("S9brL3KXZlnkAmvHAAAA", config(), Transport::Polling, ms(0));
        // The reference server's answer with the same parameters (engine.io 6.6, maxPayload
        // 64 here instead of its 1000000).
        let want = r#"0{"sid":"S9brL3KXZlnkAmvHAAAA","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":64}"#;
        assert_eq!(s.get(ms(0)), GetAnswer::Body(want.into()));
        assert_eq!(s.poll_timeout(), Some(ms(300)));
    }

    #[test]
    fn a_post_delivers_messages_and_the_echo_waits_for_a_get() {
        let mut s = opened();
        assert_eq!(s.post_begin(), PostAnswer::Ok);
        assert_eq!(s.post_body(b"4hello\x1ebAQID", ms(10)), PostAnswer::Ok);
        let got = events(&mut s);
        assert_eq!(
            got,
            vec![
                Event::Message(text_frame("hello")),
                Event::Message(Message::Binary(vec![1, 2, 3]))
            ]
        );
        for e in got {
            if let Event::Message(m) = e {
                s.send(m, ms(10)).unwrap();
            }
        }
        // Both wait for one GET, in order; the reference server answered "4hello\x1ebAQID".
        assert_eq!(s.get(ms(20)), GetAnswer::Body("4hello\u{1e}bAQID".into()));
        // The next GET waits; a message sent then answers it.
        assert_eq!(s.get(ms(30)), GetAnswer::Wait);
        assert!(s.get_waiting());
        s.send(text_frame("later"), ms(40)).unwrap();
        assert_eq!(s.take_poll_answer().as_deref(), Some("4later"));
        assert!(!s.get_waiting());
    }

    #[test]
    fn a_second_get_while_one_waits_is_refused_and_closes_the_session() {
        // The reference server: 400 with an empty body for the second GET, "1" for the
        // waiting one, the session closed with "transport error".
        let mut s = opened();
        assert_eq!(s.get(ms(1)), GetAnswer::Wait);
        assert_eq!(s.get(ms(2)), GetAnswer::Refused);
        assert_eq!(s.take_poll_answer().as_deref(), Some("1"));
        assert_eq!(
            events(&mut s),
            vec![Event::Closed(CloseReason::TransportError)]
        );
        assert_eq!(s.poll_timeout(), None);
        assert_eq!(s.send(text_frame("x"), ms(3)), Err(SendError::Closed));
    }

    #[test]
    fn a_second_post_in_flight_is_refused_and_closes_the_session() {
        let mut s = opened();
        assert_eq!(s.post_begin(), PostAnswer::Ok);
        assert_eq!(s.post_begin(), PostAnswer::Refused);
        assert_eq!(s.closed(), Some(CloseReason::TransportError));
        // The first POST's body, read after, is answered but changes nothing.
        assert_eq!(s.post_body(b"4late", ms(1)), PostAnswer::Ok);
        assert_eq!(
            events(&mut s),
            vec![Event::Closed(CloseReason::TransportError)]
        );
    }

    #[test]
    fn a_body_over_max_payload_is_413() {
        let mut s = opened();
        s.post_begin();
        assert_eq!(s.post_body(&[b'4'; 65], ms(1)), PostAnswer::TooLarge);
        assert_eq!(s.closed(), Some(CloseReason::TransportError));
    }

    #[test]
    fn an_unreadable_body_is_a_parse_error() {
        // The reference server answered "ok" to "9zz" and closed with "parse error".
        let mut s = opened();
        s.post_begin();
        assert_eq!(s.post_body(b"9zz", ms(1)), PostAnswer::Ok);
        assert_eq!(events(&mut s), vec![Event::Closed(CloseReason::ParseError)]);
    }

    #[test]
    fn a_close_packet_from_the_client_is_transport_close() {
        let mut s = opened();
        s.post_begin();
        s.post_body(b"1", ms(1));
        assert_eq!(
            events(&mut s),
            vec![Event::Closed(CloseReason::TransportClose)]
        );
    }

    #[test]
    fn a_close_packet_releases_the_waiting_get_with_a_noop() {
        let mut s = opened();
        assert_eq!(s.get(ms(1)), GetAnswer::Wait);
        s.post_begin();
        s.post_body(b"1", ms(2));
        assert_eq!(s.take_poll_answer().as_deref(), Some("6"));
        assert_eq!(
            events(&mut s),
            vec![Event::Closed(CloseReason::TransportClose)]
        );
    }

    #[test]
    fn a_ping_from_the_client_breaks_revision_4() {
        let mut s = opened();
        s.post_begin();
        s.post_body(b"2", ms(1));
        assert_eq!(s.closed(), Some(CloseReason::TransportError));
    }

    #[test]
    fn heartbeat_ping_pong_then_ping_timeout() {
        let mut s = opened();
        assert_eq!(s.get(ms(1)), GetAnswer::Wait);
        assert_eq!(s.poll_timeout(), Some(ms(300)));
        s.handle_timeout(ms(299));
        assert_eq!(s.take_poll_answer(), None);
        s.handle_timeout(ms(300));
        assert_eq!(s.take_poll_answer().as_deref(), Some("2"));
        assert_eq!(s.poll_timeout(), Some(ms(500)));
        // The pong: the next ping is pingInterval after it.
        s.post_begin();
        s.post_body(b"3", ms(350));
        assert_eq!(s.poll_timeout(), Some(ms(650)));
        assert_eq!(s.get(ms(351)), GetAnswer::Wait);
        s.handle_timeout(ms(650));
        assert_eq!(s.take_poll_answer().as_deref(), Some("2"));
        // No pong this time. As with the reference server, the next GET waits and is
        // answered with the close packet when pingTimeout runs out.
        assert_eq!(s.get(ms(660)), GetAnswer::Wait);
        s.handle_timeout(ms(849));
        assert_eq!(s.closed(), None);
        s.handle_timeout(ms(850));
        assert_eq!(s.take_poll_answer().as_deref(), Some("1"));
        assert_eq!(
            events(&mut s),
            vec![Event::Closed(CloseReason::PingTimeout)]
        );
    }

    #[test]
    fn another_packet_while_a_pong_is_due_moves_the_deadline_once() {
        let mut s = opened();
        s.handle_timeout(ms(300)); // ping queued, pong due by 500
        for (at, due) in [(400, 600), (450, 600)] {
            s.post_begin();
            s.post_body(b"4still here", ms(at));
            assert_eq!(s.poll_timeout(), Some(ms(due)));
        }
    }

    #[test]
    fn upgrade_probe_noop_then_everything_on_the_websocket_in_order() {
        let mut s = opened();
        assert_eq!(s.get(ms(1)), GetAnswer::Wait);
        s.ws_attach(ms(2)).unwrap();
        assert_eq!(s.transport(), Transport::Polling);
        s.ws_frame(&text_frame("2probe"), ms(3));
        assert_eq!(
            transmits(&mut s),
            vec![Transmit::Frame(text_frame("3probe"))]
        );
        // The waiting GET is released with a noop so the client can pause polling.
        assert_eq!(s.take_poll_answer().as_deref(), Some("6"));
        // A message sent during the upgrade waits for whichever transport comes first.
        s.send(text_frame("during"), ms(4)).unwrap();
        s.ws_frame(&text_frame("5"), ms(5));
        assert_eq!(s.transport(), Transport::WebSocket);
        assert_eq!(events(&mut s), vec![Event::Upgraded]);
        s.send(Message::Binary(vec![1, 2]), ms(6)).unwrap();
        assert_eq!(
            transmits(&mut s),
            vec![
                Transmit::Frame(text_frame("4during")),
                Transmit::Frame(Message::Binary(vec![1, 2]))
            ]
        );
        // On the WebSocket a binary frame is a binary message.
        s.ws_frame(&Message::Binary(vec![9]), ms(7));
        assert_eq!(
            events(&mut s),
            vec![Event::Message(Message::Binary(vec![9]))]
        );
        // Polling is over for this session.
        assert_eq!(s.get(ms(8)), GetAnswer::Refused);
        assert_eq!(s.ws_attach(ms(8)), Err(UpgradeRefused::AlreadyUpgraded));
        s.ws_closed();
        assert_eq!(
            events(&mut s),
            vec![Event::Closed(CloseReason::TransportClose)]
        );
    }

    /// The Engine.IO packets of `tests/fixtures/socketio.pcap` (socket.io 4.8.1 and
    /// socket.io-client in node, read with `netlab capture --follow`), the client's side
    /// replayed: the open on polling, a POST of `40`, the upgrade (`2probe`, `5`), a
    /// message, then the server's ping on the WebSocket after pingInterval (300 ms).
    #[test]
    fn replays_the_reference_client_from_the_socketio_capture() {
        let config = Config {
            ping_interval: ms(300),
            ping_timeout: ms(2000),
            max_payload: 1_000_000,
            ..Config::default()
        };
        let mut s = Session::new("NN69nfAhjltKBvqdAAAA", config, Transport::Polling, ms(0));
        let open = r#"0{"sid":"NN69nfAhjltKBvqdAAAA","upgrades":["websocket"],"pingInterval":300,"pingTimeout":2000,"maxPayload":1000000}"#;
        assert_eq!(s.get(ms(1)), GetAnswer::Body(open.into()));
        assert_eq!(s.post_begin(), PostAnswer::Ok);
        assert_eq!(s.post_body(b"40", ms(5)), PostAnswer::Ok);
        assert_eq!(events(&mut s), vec![Event::Message(text_frame("0"))]);
        assert_eq!(s.get(ms(6)), GetAnswer::Wait);
        s.send(text_frame(r#"0{"sid":"zhJk89u13y4YVZ9hAAAA"}"#), ms(7))
            .unwrap();
        assert_eq!(
            s.take_poll_answer().as_deref(),
            Some(r#"40{"sid":"zhJk89u13y4YVZ9hAAAA"}"#)
        );
        s.ws_attach(ms(8)).unwrap();
        s.ws_frame(&text_frame("2probe"), ms(9));
        assert_eq!(
            transmits(&mut s),
            vec![Transmit::Frame(text_frame("3probe"))]
        );
        s.ws_frame(&text_frame("5"), ms(10));
        s.ws_frame(&text_frame(r#"420["hello","from the client"]"#), ms(11));
        assert_eq!(
            events(&mut s),
            vec![
                Event::Upgraded,
                Event::Message(text_frame(r#"20["hello","from the client"]"#))
            ]
        );
        s.send(text_frame(r#"30["hello received"]"#), ms(12))
            .unwrap();
        assert_eq!(
            transmits(&mut s),
            vec![Transmit::Frame(text_frame(r#"430["hello received"]"#))]
        );
        s.handle_timeout(ms(300));
        assert_eq!(transmits(&mut s), vec![Transmit::Frame(text_frame("2"))]);
    }

    #[test]
    fn a_get_during_the_probe_is_released_at_once() {
        let mut s = opened();
        s.ws_attach(ms(1)).unwrap();
        assert_eq!(s.ws_attach(ms(1)), Err(UpgradeRefused::AlreadyUpgrading));
        s.ws_frame(&text_frame("2probe"), ms(2));
        assert_eq!(s.get(ms(3)), GetAnswer::Body("6".into()));
    }

    #[test]
    fn an_upgrade_that_does_not_finish_ends_the_websocket_not_the_session() {
        let mut s = opened();
        s.ws_attach(ms(1)).unwrap();
        assert_eq!(s.poll_timeout(), Some(ms(300)));
        s.handle_timeout(ms(300)); // a ping, then the upgrade deadline at 1001
        s.post_begin();
        s.post_body(b"3", ms(310));
        assert_eq!(s.poll_timeout(), Some(ms(610)));
        s.ws_frame(&text_frame("4not a probe"), ms(320));
        assert_eq!(transmits(&mut s), vec![Transmit::CloseWebSocket]);
        assert_eq!(s.closed(), None);
        s.ws_attach(ms(400)).unwrap();
        s.handle_timeout(ms(1400));
        assert_eq!(transmits(&mut s), vec![Transmit::CloseWebSocket]);
        assert_eq!(s.transport(), Transport::Polling);
    }

    #[test]
    fn websocket_only_sends_the_open_packet_as_a_frame() {
        let mut s = Session::new("x", config(), Transport::WebSocket, ms(0));
        match transmits(&mut s).as_slice() {
            [Transmit::Frame(Message::Text(t))] => {
                assert!(t.starts_with(r#"0{"sid":"x","upgrades":[],"#), "{t}")
            }
            other => panic!("{other:?}"),
        }
        s.ws_frame(&text_frame("4hi"), ms(1));
        s.ws_frame(&text_frame(""), ms(2));
        assert_eq!(
            events(&mut s),
            vec![
                Event::Message(text_frame("hi")),
                Event::Closed(CloseReason::ParseError)
            ]
        );
        assert_eq!(transmits(&mut s), vec![Transmit::CloseWebSocket]);
    }

    #[test]
    fn a_forced_close_rides_the_next_get_after_what_was_queued() {
        let mut s = opened();
        s.send(text_frame("last words"), ms(1)).unwrap();
        s.close(ms(2));
        assert_eq!(
            s.send(text_frame("too late"), ms(3)),
            Err(SendError::Closed)
        );
        assert_eq!(s.closed(), None);
        assert_eq!(s.get(ms(4)), GetAnswer::Body("4last words\u{1e}1".into()));
        assert_eq!(
            events(&mut s),
            vec![Event::Closed(CloseReason::ForcedClose)]
        );
        // On a WebSocket: the queued frames, then the end of the WebSocket.
        let mut w = Session::new("w", config(), Transport::WebSocket, ms(0));
        transmits(&mut w);
        w.close(ms(1));
        assert_eq!(transmits(&mut w), vec![Transmit::CloseWebSocket]);
        assert_eq!(
            events(&mut w),
            vec![Event::Closed(CloseReason::ForcedClose)]
        );
    }

    #[test]
    fn the_buffer_is_bounded() {
        let mut s = opened();
        for _ in 0..4 {
            s.send(text_frame("x"), ms(1)).unwrap();
        }
        assert_eq!(
            s.send(text_frame("x"), ms(1)),
            Err(SendError::BufferFull { max: 4 })
        );
        assert_eq!(
            s.get(ms(2)),
            GetAnswer::Body("4x\u{1e}4x\u{1e}4x\u{1e}4x".into())
        );
    }

    #[test]
    fn an_aborted_poll_is_a_transport_error() {
        let mut s = opened();
        assert_eq!(s.get(ms(1)), GetAnswer::Wait);
        s.get_aborted();
        assert_eq!(
            events(&mut s),
            vec![Event::Closed(CloseReason::TransportError)]
        );
    }

    #[test]
    fn a_volatile_message_is_dropped_when_no_get_waits() {
        // The reference server (socket.io 4.8) with a client that is between polls:
        // `volatile.emit("v", 1); emit("n", 2); volatile.emit("v", 3)`, then a GET,
        // answered `42["n",2]`; with a GET waiting, that GET gets `42["v",1]` and the next
        // `42["n",2]`: the first message ends the poll, so the third finds it busy.
        let mut s = opened();
        let (v1, n2, v3) = (text_frame("v1"), text_frame("n2"), text_frame("v3"));
        assert!(!s.writable());
        assert_eq!(
            s.send_volatile(v1.clone(), ms(1)),
            Err(SendError::NotWritable)
        );
        s.send(n2.clone(), ms(1)).unwrap();
        assert_eq!(
            s.send_volatile(v3.clone(), ms(1)),
            Err(SendError::NotWritable)
        );
        assert_eq!(s.get(ms(2)), GetAnswer::Body("4n2".into()));
        assert_eq!(s.get(ms(3)), GetAnswer::Wait);
        assert!(s.writable());
        s.send_volatile(v1, ms(4)).unwrap();
        s.send(n2, ms(4)).unwrap();
        assert_eq!(s.send_volatile(v3, ms(4)), Err(SendError::NotWritable));
        assert_eq!(s.take_poll_answer().as_deref(), Some("4v1"));
        assert_eq!(s.get(ms(5)), GetAnswer::Body("4n2".into()));
    }

    #[test]
    fn a_volatile_message_is_dropped_while_the_websocket_writes() {
        // The same three emits on a WebSocket: the reference server sent `42["v",1]` and
        // `42["n",2]`; the third came while the first was still being written.
        let mut s = Session::new("w", config(), Transport::WebSocket, ms(0));
        assert!(!s.writable(), "the open packet is queued");
        transmits(&mut s);
        assert!(s.writable());
        s.send_volatile(text_frame("v1"), ms(1)).unwrap();
        s.send(text_frame("n2"), ms(1)).unwrap();
        assert!(!s.writable());
        assert_eq!(s.take_transmit(), Some(Transmit::Frame(text_frame("4v1"))));
        assert_eq!(
            s.send_volatile(text_frame("v3"), ms(1)),
            Err(SendError::NotWritable)
        );
        assert_eq!(transmits(&mut s), vec![Transmit::Frame(text_frame("4n2"))]);
        // Every frame written: the next volatile message goes.
        assert!(s.writable());
        s.send_volatile(text_frame("v4"), ms(2)).unwrap();
        assert_eq!(transmits(&mut s), vec![Transmit::Frame(text_frame("4v4"))]);
    }

    #[test]
    fn frames_taken_together_keep_the_websocket_busy_until_written() {
        // The driver takes two frames to write at once: until it comes back for more and
        // finds none, a volatile message is dropped.
        let mut s = Session::new("w", config(), Transport::WebSocket, ms(0));
        transmits(&mut s);
        s.send(text_frame("n1"), ms(1)).unwrap();
        s.send(text_frame("n2"), ms(1)).unwrap();
        assert_eq!(s.take_transmit(), Some(Transmit::Frame(text_frame("4n1"))));
        assert_eq!(
            s.take_another_transmit(),
            Some(Transmit::Frame(text_frame("4n2")))
        );
        assert_eq!(s.take_another_transmit(), None);
        assert!(!s.writable(), "both frames are still being written");
        assert_eq!(
            s.send_volatile(text_frame("v3"), ms(1)),
            Err(SendError::NotWritable)
        );
        assert_eq!(s.take_transmit(), None);
        assert!(s.writable());
    }

    #[test]
    fn compress_false_reaches_the_transport() {
        let plain = SendOptions {
            compress: false,
            ..SendOptions::default()
        };
        // WebSocket: a frame the driver must not compress.
        let mut w = Session::new("w", config(), Transport::WebSocket, ms(0));
        transmits(&mut w);
        w.send_with(text_frame("a"), plain, ms(1)).unwrap();
        w.send(text_frame("b"), ms(1)).unwrap();
        assert_eq!(
            transmits(&mut w),
            vec![
                Transmit::FrameUncompressed(text_frame("4a")),
                Transmit::Frame(text_frame("4b"))
            ]
        );
        // Polling: a body may be compressed when any packet in it allows it (the
        // reference server's `packets.some(p => p.options.compress)`).
        let mut s = opened();
        s.send_with(text_frame("a"), plain, ms(1)).unwrap();
        assert_eq!(s.get(ms(2)), GetAnswer::Body("4a".into()));
        assert!(!s.answer_compress());
        s.send_with(text_frame("a"), plain, ms(3)).unwrap();
        s.send(text_frame("b"), ms(3)).unwrap();
        assert_eq!(s.get(ms(4)), GetAnswer::Body("4a\u{1e}4b".into()));
        assert!(s.answer_compress());
    }

    #[test]
    fn the_buffer_bound_counts_frames_the_websocket_has_not_taken() {
        // A client that stops reading: frames pile up for the driver, within the bound.
        let mut w = Session::new("w", config(), Transport::WebSocket, ms(0));
        transmits(&mut w);
        for _ in 0..4 {
            w.send(text_frame("x"), ms(1)).unwrap();
        }
        assert_eq!(
            w.send(text_frame("x"), ms(1)),
            Err(SendError::BufferFull { max: 4 })
        );
    }
}
