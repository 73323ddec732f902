//! Connection state recovery: a client that lost its connection for a moment gets back its
//! socket id, its rooms and the events it missed.
//!
//! Off by default. When on (the real server's `connectionStateRecovery` option):
//!
//! 1. The CONNECT answer carries a private session id beside the socket id:
//!    `0{"sid":"..","pid":".."}`. Only this client learns the pid.
//! 2. Every event broadcast without an ack and without `volatile` gets one more argument, an
//!    *offset* (a string), and is kept for `max_disconnection_duration`. The client remembers
//!    the last offset it received.
//! 3. When a socket disconnects for a reason that may be temporary (transport close, ping
//!    timeout, ...; not when either side left the namespace on purpose), its id, pid and
//!    rooms are kept.
//! 4. A client that reconnects sends `{"pid":..,"offset":..}` in its CONNECT's auth. If the
//!    session is still kept and the offset is found, the server sends the events emitted
//!    after that offset to rooms the socket was in, then the CONNECT answer with the old
//!    socket id and pid (the client sees the same pid and sets `recovered`).

use super::data::Data;
use super::rooms::Target;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// When recovery is on, how long and how much is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryOptions {
    /// How long a disconnected socket's session and the events it may miss are kept
    /// (the real server's default: 2 minutes).
    pub max_disconnection_duration: Duration,
    /// A recovered socket skips the namespace's middleware (the real server's default).
    pub skip_middlewares: bool,
    /// netlab's bound on the events kept per namespace (the oldest go first).
    pub max_packets: usize,
}

impl Default for RecoveryOptions {
    fn default() -> RecoveryOptions {
        RecoveryOptions {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_packets: 10_000,
        }
    }
}

/// A disconnected socket, as kept for its return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub socket: String,
    pub pid: String,
    pub rooms: Vec<String>,
    disconnected_at: Duration,
}

/// An event kept for sockets that might miss it.
#[derive(Debug, Clone, PartialEq)]
struct Kept {
    offset: String,
    target: Target,
    name: String,
    args: Vec<Data>,
    emitted_at: Duration,
}

/// What a successful recovery gives back.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    pub session: Session,
    /// The events missed, in order, each `(name, args)` with its offset as last argument.
    pub missed: Vec<(String, Vec<Data>)>,
}

/// One namespace's kept sessions and events.
#[derive(Debug, Clone, Default)]
pub struct Store {
    options: RecoveryOptions,
    sessions: BTreeMap<String, Session>,
    events: VecDeque<Kept>,
    next_offset: u64,
}

impl Store {
    pub fn new(options: RecoveryOptions) -> Store {
        Store {
            options,
            ..Store::default()
        }
    }

    /// Keep an event, appending its offset to `args`. The real server's offsets come from a
    /// clock (`yeast`); any string that names one event once will do, so here they count.
    pub fn keep(&mut self, target: &Target, name: &str, args: &mut Vec<Data>, now: Duration) {
        self.next_offset += 1;
        let offset = self.next_offset.to_string();
        args.push(Data::Json(offset.clone().into()));
        if self.events.len() >= self.options.max_packets {
            self.events.pop_front();
        }
        self.events.push_back(Kept {
            offset,
            target: target.clone(),
            name: name.to_owned(),
            args: args.clone(),
            emitted_at: now,
        });
    }

    /// Keep a socket that disconnected for a reason that may be temporary.
    pub fn persist(&mut self, socket: &str, pid: &str, rooms: Vec<String>, now: Duration) {
        let session = Session {
            socket: socket.to_owned(),
            pid: pid.to_owned(),
            rooms,
            disconnected_at: now,
        };
        self.sessions.insert(pid.to_owned(), session);
    }

    /// Give back the session `pid` and what it missed after `offset`. `None` when the
    /// session is unknown or expired, or the offset is no longer (or never was) kept: the
    /// client then connects as a new socket. The session is given back once: the real
    /// server keeps it until it expires, so a client there can recover the same session a
    /// second time, even after leaving the namespace on purpose.
    pub fn restore(&mut self, pid: &str, offset: &str, now: Duration) -> Option<Restored> {
        self.expire(now);
        let index = self.events.iter().position(|e| e.offset == offset)?;
        let session = self.sessions.remove(pid)?;
        let missed = self
            .events
            .iter()
            .skip(index + 1)
            .filter(|e| reaches(&session.rooms, &e.target))
            .map(|e| (e.name.clone(), e.args.clone()))
            .collect();
        Some(Restored { session, missed })
    }

    /// Forget sessions and events `max_disconnection_duration` old or older.
    pub fn expire(&mut self, now: Duration) {
        let max = self.options.max_disconnection_duration;
        let expired = |t: Duration| t.saturating_add(max) <= now;
        self.sessions.retain(|_, s| !expired(s.disconnected_at));
        while self.events.front().is_some_and(|e| expired(e.emitted_at)) {
            self.events.pop_front();
        }
    }

    /// When the next thing kept expires.
    pub fn next_expiry(&self) -> Option<Duration> {
        let max = self.options.max_disconnection_duration;
        let session = self.sessions.values().map(|s| s.disconnected_at).min();
        let event = self.events.front().map(|e| e.emitted_at);
        [session, event]
            .into_iter()
            .flatten()
            .min()
            .map(|t| t.saturating_add(max))
    }

    pub fn options(&self) -> RecoveryOptions {
        self.options
    }
}

/// Would a socket in `rooms` have received a broadcast to `target`?
fn reaches(rooms: &[String], target: &Target) -> bool {
    let included = target.rooms.is_empty() || rooms.iter().any(|r| target.rooms.contains(r));
    let excluded = rooms.iter().any(|r| target.except.contains(r));
    included && !excluded
}
