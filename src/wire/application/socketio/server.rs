//! The server's side of Socket.IO as a state machine, without I/O.
//!
//! The driver (in `net/`) tells it what Engine.IO did and what the application wants, and
//! carries out what it asks:
//!
//! ```text
//!   Engine.IO:    open(session) · message(session, text | binary) · closed(session, reason)
//!   application:  accept / refuse a connect · emit · ack · join / leave · disconnect
//!   time:         handle_timeout(now) when poll_timeout() says
//!        │
//!        ▼
//!   Server ──► poll_action(): Send { session, messages, volatile, compress } · Close { session }
//!                             · App(event for the application)
//! ```
//!
//! One Engine.IO session (a client's connection) may hold one socket per namespace. A
//! socket has an id of its own (never the Engine.IO session id, which the real server keeps
//! secret); ids come from the driver's random source (`Server::new`), formatted like the
//! real server's with [`socket_id`](super::socket_id).
//!
//! What the real server (socket.io 4.8) does and this machine copies:
//! - a CONNECT to a namespace that does not exist: `4/nsp,{"message":"Invalid namespace"}`;
//! - a namespace with middleware asks the application ([`AppEvent::ConnectRequest`]); a
//!   refusal is `4/nsp,{"message":..,"data":..}`;
//! - no namespace joined within `connect_timeout` (45 s), a packet for a namespace the
//!   client is not in, or a malformed packet: the server closes the session, and its
//!   sockets disconnect with `forced close`;
//! - acknowledgement ids come from one counter per namespace (`nsp._ids`), so a broadcast
//!   with an ack uses one id for all its receivers, and the packet is encoded once.

use super::data::Data;
use super::decoder::Decoder;
use super::events::{Action, AppEvent, DisconnectReason, Emit, EmitError, Flags, Options};
use super::packet::{Header, Kind, Packet, PacketType};
use super::recovery::{Restored, Store};
use super::rooms::Rooms;
use super::{EngineMessage, RESERVED_EVENTS};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

mod cluster;
mod requests;
pub use cluster::{AdapterOutput, Subscriptions};
pub use requests::REQUESTS_TIMEOUT;

/// One connected socket.
#[derive(Debug, Clone)]
struct SocketState {
    session: String,
    pid: Option<String>,
    /// Ack ids the client asked for that the application has not answered yet.
    asked: BTreeSet<u64>,
}

/// An emit with ack waiting for its answers.
#[derive(Debug, Clone)]
struct AckWait {
    waiting: BTreeSet<String>,
    expected: usize,
    responses: Vec<(String, Vec<Data>)>,
    deadline: Option<Duration>,
    /// The other nodes' part of this node's emit (with the Redis adapter).
    remote: Option<cluster::RemoteAcks>,
    /// Another node asked for this emit: forward each answer to it under this request id.
    relay: Option<String>,
}

#[derive(Debug, Clone)]
struct Namespace {
    middleware: bool,
    next_ack_id: u64,
    sockets: BTreeMap<String, SocketState>,
    rooms: Rooms,
    recovery: Option<Store>,
    acks: BTreeMap<u64, AckWait>,
}

/// A connect waiting for the application's decision.
#[derive(Debug, Clone)]
struct PendingConnect {
    auth: Option<Map<String, Value>>,
    restored: Option<Restored>,
}

/// One Engine.IO session (one client connection).
#[derive(Debug, Clone)]
struct Session {
    decoder: Decoder,
    opened_at: Duration,
    /// Namespace → socket id.
    joined: BTreeMap<String, String>,
    pending: BTreeMap<String, PendingConnect>,
}

/// The server: every namespace, session and socket. See the module documentation.
pub struct Server {
    options: Options,
    namespaces: BTreeMap<String, Namespace>,
    sessions: BTreeMap<String, Session>,
    actions: VecDeque<Action>,
    ids: Box<dyn FnMut() -> String + Send>,
    /// The latest time any input carried (the builders of [`super::api`] emit at it).
    now: Duration,
    /// The Redis adapter's state, when this server is one node of several.
    cluster: Option<cluster::Cluster>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("options", &self.options)
            .field("namespaces", &self.namespaces.keys().collect::<Vec<_>>())
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

/// The CONNECT answer, fields in the real server's order.
#[derive(Serialize)]
struct ConnectAnswer<'a> {
    sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<&'a str>,
}

/// The CONNECT_ERROR payload, fields in the real server's order.
#[derive(Serialize)]
struct Refusal<'a> {
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
}

/// Serialize a payload made of strings and JSON values (it cannot fail).
fn to_json(payload: &impl Serialize) -> String {
    serde_json::to_string(payload).unwrap_or_default()
}

impl Server {
    /// A server with the main namespace `/`. `ids` gives a fresh random id each call
    /// (socket ids and recovery's private session ids): randomness is the driver's.
    pub fn new(options: Options, ids: Box<dyn FnMut() -> String + Send>) -> Server {
        let mut server = Server {
            options,
            namespaces: BTreeMap::new(),
            sessions: BTreeMap::new(),
            actions: VecDeque::new(),
            ids,
            now: Duration::ZERO,
            cluster: None,
        };
        server.add_namespace("/", false);
        server
    }

    /// Create a namespace (`io.of(name)`); `middleware`: each connect waits for the
    /// application's [`Server::accept`] or [`Server::refuse`].
    pub fn add_namespace(&mut self, name: &str, middleware: bool) {
        let recovery = self.options.recovery.map(Store::new);
        let namespace = self.namespaces.entry(name.to_owned()).or_insert(Namespace {
            middleware,
            next_ack_id: 0,
            sockets: BTreeMap::new(),
            rooms: Rooms::default(),
            recovery,
            acks: BTreeMap::new(),
        });
        namespace.middleware = middleware;
    }

    /// The next thing for the driver to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Everything the driver has to do now, in order.
    pub fn drain_actions(&mut self) -> Vec<Action> {
        self.actions.drain(..).collect()
    }

    /// The sockets of `namespace`, by id.
    pub fn sockets(&self, namespace: &str) -> Vec<String> {
        self.namespaces
            .get(namespace)
            .map_or_else(Vec::new, |n| n.sockets.keys().cloned().collect())
    }

    /// The rooms `socket` is in (its own id among them).
    pub fn rooms_of(&self, namespace: &str, socket: &str) -> Vec<String> {
        self.namespaces
            .get(namespace)
            .map_or_else(Vec::new, |n| n.rooms.rooms_of(socket))
    }

    // ---- Engine.IO's inputs ------------------------------------------------------------

    /// A new Engine.IO session: it has `connect_timeout` to join a namespace. Engine.IO
    /// never reuses a session id; if a driver does, the old session ends first (its
    /// sockets leave with `transport close`) so that no socket outlives its session.
    pub fn open(&mut self, session: &str, now: Duration) {
        self.tick(now);
        self.closed(session, DisconnectReason::TransportClose, now);
        let state = Session {
            decoder: Decoder::new(self.options.limits),
            opened_at: now,
            joined: BTreeMap::new(),
            pending: BTreeMap::new(),
        };
        self.sessions.insert(session.to_owned(), state);
    }

    /// A message Engine.IO received on `session`.
    pub fn message(&mut self, session: &str, message: EngineMessage, now: Duration) {
        self.tick(now);
        let Some(state) = self.sessions.get_mut(session) else {
            return;
        };
        match state.decoder.push(message) {
            Ok(None) => {}
            Ok(Some(packet)) => self.packet(session, packet, now),
            Err(error) => {
                let session = session.to_owned();
                self.app(AppEvent::ProtocolError {
                    session: session.clone(),
                    error,
                });
                self.force_close(&session, now);
            }
        }
    }

    /// Engine.IO closed `session`: each of its sockets leaves with `reason`.
    pub fn closed(&mut self, session: &str, reason: DisconnectReason, now: Duration) {
        self.tick(now);
        if let Some(state) = self.sessions.remove(session) {
            for (namespace, socket) in state.joined {
                self.remove_socket(&namespace, &socket, reason, now);
            }
        }
    }

    /// Close every session; their sockets leave with `server shutting down`.
    pub fn shutdown(&mut self, now: Duration) {
        self.tick(now);
        let sessions: Vec<String> = self.sessions.keys().cloned().collect();
        for session in sessions {
            self.closed(&session, DisconnectReason::ServerShuttingDown, now);
            self.actions.push_back(Action::Close { session });
        }
    }

    // ---- time ----------------------------------------------------------------------------

    /// When [`Server::handle_timeout`] must be called next, if anything waits on time.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let connects = self
            .sessions
            .values()
            .filter(|s| s.joined.is_empty())
            .map(|s| s.opened_at.saturating_add(self.options.connect_timeout));
        let acks = self
            .namespaces
            .values()
            .flat_map(|n| n.acks.values().filter_map(|a| a.deadline));
        let recovery = self
            .namespaces
            .values()
            .filter_map(|n| n.recovery.as_ref()?.next_expiry());
        let requests = self.requests_deadline();
        connects.chain(acks).chain(recovery).chain(requests).min()
    }

    /// Act on every deadline that has passed at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.tick(now);
        let late: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.joined.is_empty())
            .filter(|(_, s)| s.opened_at.saturating_add(self.options.connect_timeout) <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for session in late {
            self.force_close(&session, now);
        }
        let (mut timed_out, mut forgotten) = (Vec::new(), Vec::new());
        for (name, namespace) in &mut self.namespaces {
            let expired: Vec<u64> = namespace
                .acks
                .iter()
                .filter(|(_, a)| a.deadline.is_some_and(|d| d <= now))
                .map(|(id, _)| *id)
                .collect();
            for id in expired {
                if let Some(wait) = namespace.acks.remove(&id) {
                    forgotten.push(wait.clone());
                    if wait.relay.is_some() {
                        continue;
                    }
                    timed_out.push(AppEvent::AckTimedOut {
                        namespace: name.clone(),
                        id,
                        responses: wait.responses,
                        expected: wait.expected,
                    });
                }
            }
            if let Some(store) = &mut namespace.recovery {
                store.expire(now);
            }
        }
        forgotten.iter().for_each(|w| self.forget_request(w));
        self.requests_timeout(now);
        timed_out.into_iter().for_each(|e| self.app(e));
    }

    // ---- packets from clients ------------------------------------------------------------

    fn packet(&mut self, session: &str, packet: Packet, now: Duration) {
        let Some(state) = self.sessions.get(session) else {
            return;
        };
        let namespace = packet.namespace;
        let joined = state.joined.get(&namespace).cloned();
        let pending = state.pending.contains_key(&namespace);
        match (packet.kind, joined) {
            (Kind::Connect(auth), None) if !pending => self.connect(session, &namespace, auth, now),
            (Kind::Event { name, args, ack }, Some(socket)) => {
                let max = self.options.max_unanswered_acks;
                if let (Some(id), Some(s)) = (ack, self.socket_mut(&namespace, &socket)) {
                    s.asked.insert(id);
                    while s.asked.len() > max {
                        s.asked.pop_first();
                    }
                }
                self.app(AppEvent::Event {
                    namespace,
                    socket,
                    name,
                    args,
                    ack,
                });
            }
            (Kind::Ack { id, args }, Some(socket)) => {
                self.ack_received(&namespace, &socket, id, args)
            }
            (Kind::Disconnect, Some(socket)) => {
                if let Some(state) = self.sessions.get_mut(session) {
                    state.joined.remove(&namespace);
                }
                self.remove_socket(
                    &namespace,
                    &socket,
                    DisconnectReason::ClientNamespaceDisconnect,
                    now,
                );
            }
            // A packet for a namespace the client is not in, a second CONNECT, or a
            // CONNECT_ERROR from a client: the real server closes the connection.
            _ => self.force_close(session, now),
        }
    }

    fn connect(
        &mut self,
        session: &str,
        namespace: &str,
        auth: Option<Map<String, Value>>,
        now: Duration,
    ) {
        let Some(ns) = self.namespaces.get_mut(namespace) else {
            let refusal = Refusal {
                message: "Invalid namespace",
                data: None,
            };
            return self.send_connect_error(session, namespace, &refusal);
        };
        let restored = match (&mut ns.recovery, auth.as_ref()) {
            (Some(store), Some(auth)) => restore(store, auth, now),
            _ => None,
        };
        let skip = restored.is_some()
            && ns
                .recovery
                .as_ref()
                .is_some_and(|s| s.options().skip_middlewares);
        if ns.middleware && !skip {
            if let Some(state) = self.sessions.get_mut(session) {
                state.pending.insert(
                    namespace.to_owned(),
                    PendingConnect {
                        auth: auth.clone(),
                        restored,
                    },
                );
            }
            let (session, namespace) = (session.to_owned(), namespace.to_owned());
            return self.app(AppEvent::ConnectRequest {
                session,
                namespace,
                auth,
            });
        }
        self.finish_connect(session, namespace, PendingConnect { auth, restored });
    }

    /// The application lets a pending connect in.
    pub fn accept(&mut self, session: &str, namespace: &str) -> Result<(), EmitError> {
        let pending = self.take_pending(session, namespace)?;
        self.finish_connect(session, namespace, pending);
        Ok(())
    }

    /// The application refuses a pending connect: `4/nsp,{"message":..,"data":..}`.
    pub fn refuse(
        &mut self,
        session: &str,
        namespace: &str,
        message: &str,
        data: Option<Value>,
    ) -> Result<(), EmitError> {
        self.take_pending(session, namespace)?;
        let refusal = Refusal {
            message,
            data: data.as_ref(),
        };
        self.send_connect_error(session, namespace, &refusal);
        Ok(())
    }

    fn take_pending(
        &mut self,
        session: &str,
        namespace: &str,
    ) -> Result<PendingConnect, EmitError> {
        self.sessions
            .get_mut(session)
            .and_then(|s| s.pending.remove(namespace))
            .ok_or_else(|| EmitError::NoPendingConnect {
                session: session.to_owned(),
                namespace: namespace.to_owned(),
            })
    }

    fn send_connect_error(&mut self, session: &str, namespace: &str, refusal: &Refusal) {
        let header = Header {
            packet_type: PacketType::ConnectError,
            attachments: 0,
            namespace,
            ack_id: None,
        };
        let text = header.write(Some(&to_json(refusal)));
        self.send(
            session,
            vec![EngineMessage::Text(text)].into(),
            Flags::default(),
        );
    }

    fn finish_connect(&mut self, session: &str, namespace: &str, pending: PendingConnect) {
        let recovery_on = self.options.recovery.is_some();
        let recovered = pending.restored.is_some();
        let (socket, pid, rooms, missed) = match pending.restored {
            Some(Restored {
                session: kept,
                missed,
            }) => (kept.socket, Some(kept.pid), kept.rooms, missed),
            None => {
                // The socket id first, then the pid, as the real server draws them.
                let socket = (self.ids)();
                let pid = recovery_on.then(|| (self.ids)());
                (socket, pid, Vec::new(), Vec::new())
            }
        };
        let Some(ns) = self.namespaces.get_mut(namespace) else {
            return;
        };
        let state = SocketState {
            session: session.to_owned(),
            pid: pid.clone(),
            asked: BTreeSet::new(),
        };
        ns.sockets.insert(socket.clone(), state);
        ns.rooms.join(&socket, &socket);
        for room in &rooms {
            ns.rooms.join(&socket, room);
        }
        if let Some(state) = self.sessions.get_mut(session) {
            state.joined.insert(namespace.to_owned(), socket.clone());
        }
        // The real server sends the missed events first, then the CONNECT answer; the
        // client holds them until it is connected.
        for (name, args) in missed {
            let messages = Packet::event(namespace, name, args).encode();
            self.send(session, messages.into(), Flags::default());
        }
        let answer = ConnectAnswer {
            sid: &socket,
            pid: pid.as_deref(),
        };
        let header = Header {
            packet_type: PacketType::Connect,
            attachments: 0,
            namespace,
            ack_id: None,
        };
        let text = header.write(Some(&to_json(&answer)));
        self.send(
            session,
            vec![EngineMessage::Text(text)].into(),
            Flags::default(),
        );
        self.app(AppEvent::Connected {
            namespace: namespace.to_owned(),
            socket,
            session: session.to_owned(),
            auth: pending.auth,
            recovered,
        });
    }

    fn ack_received(&mut self, namespace: &str, socket: &str, id: u64, args: Vec<Data>) {
        let Some(ns) = self.namespaces.get_mut(namespace) else {
            return;
        };
        // An answer nobody waits for (late, or from the wrong socket) is dropped, as the
        // real server does.
        let Some(wait) = ns.acks.get_mut(&id) else {
            return;
        };
        if !wait.waiting.remove(socket) {
            return;
        }
        if let Some(request) = wait.relay.clone() {
            self.relay_answer(&request, namespace, &args);
        } else {
            wait.responses.push((socket.to_owned(), args));
        }
        if self.ack_wait(namespace, id).is_some_and(|w| w.complete()) {
            self.complete_ack(namespace, id);
        }
    }

    fn complete_ack(&mut self, namespace: &str, id: u64) {
        let wait = self
            .namespaces
            .get_mut(namespace)
            .and_then(|n| n.acks.remove(&id));
        if let Some(wait) = wait {
            self.forget_request(&wait);
            if wait.relay.is_some() {
                return;
            }
            let namespace = namespace.to_owned();
            self.app(AppEvent::Acked {
                namespace,
                id,
                responses: wait.responses,
            });
        }
    }

    // ---- leaving -------------------------------------------------------------------------

    /// Take a socket out of its namespace, keeping its state for recovery when the reason
    /// allows it.
    fn remove_socket(
        &mut self,
        namespace: &str,
        socket: &str,
        reason: DisconnectReason,
        now: Duration,
    ) {
        let Some(ns) = self.namespaces.get_mut(namespace) else {
            return;
        };
        let Some(state) = ns.sockets.remove(socket) else {
            return;
        };
        if let (Some(store), Some(pid), true) =
            (&mut ns.recovery, &state.pid, reason.is_recoverable())
        {
            store.persist(socket, pid, ns.rooms.rooms_of(socket), now);
        }
        ns.rooms.leave_all(socket);
        // An emit with ack and no timeout stops waiting for a socket that left (the real
        // server drops the socket's pending acks with it); one with a timeout waits on.
        let mut done = Vec::new();
        for (id, wait) in ns.acks.iter_mut().filter(|(_, w)| w.deadline.is_none()) {
            if wait.waiting.remove(socket) && wait.complete() {
                done.push(*id);
            }
        }
        done.into_iter()
            .for_each(|id| self.complete_ack(namespace, id));
        let (namespace, socket) = (namespace.to_owned(), socket.to_owned());
        self.app(AppEvent::Disconnected {
            namespace,
            socket,
            reason,
        });
    }

    /// The server closes a session on its own: its sockets leave with `forced close`.
    fn force_close(&mut self, session: &str, now: Duration) {
        if self.sessions.contains_key(session) {
            self.closed(session, DisconnectReason::ForcedClose, now);
            self.actions.push_back(Action::Close {
                session: session.to_owned(),
            });
        }
    }

    /// `socket.disconnect(close)`: the socket leaves `namespace` (a DISCONNECT packet tells
    /// the client); with `close`, every socket of its session does and the session closes.
    pub fn disconnect(
        &mut self,
        namespace: &str,
        socket: &str,
        close: bool,
        now: Duration,
    ) -> Result<(), EmitError> {
        let session = self.socket_state(namespace, socket)?.session.clone();
        let sockets: Vec<(String, String)> = match (close, self.sessions.get(&session)) {
            (true, Some(state)) => state.joined.clone().into_iter().collect(),
            _ => vec![(namespace.to_owned(), socket.to_owned())],
        };
        for (namespace, socket) in sockets {
            let header = Header {
                packet_type: PacketType::Disconnect,
                attachments: 0,
                namespace: &namespace,
                ack_id: None,
            };
            self.send(
                &session,
                vec![EngineMessage::Text(header.write(None))].into(),
                Flags::default(),
            );
            if let Some(state) = self.sessions.get_mut(&session) {
                state.joined.remove(&namespace);
            }
            self.remove_socket(
                &namespace,
                &socket,
                DisconnectReason::ServerNamespaceDisconnect,
                now,
            );
        }
        if close {
            self.sessions.remove(&session);
            self.actions.push_back(Action::Close { session });
        }
        Ok(())
    }

    // ---- the application's requests ------------------------------------------------------

    /// Emit an event to `emit.target` in `namespace`: encoded once, sent to each receiver.
    /// With `flags.ack`, returns the ack id the answers will carry.
    pub fn emit(
        &mut self,
        namespace: &str,
        emit: Emit,
        now: Duration,
    ) -> Result<Option<u64>, EmitError> {
        self.tick(now);
        if RESERVED_EVENTS.contains(&emit.name.as_str()) {
            return Err(EmitError::ReservedEventName(emit.name));
        }
        let remote = (self.cluster.is_some() && !emit.flags.local).then(|| emit.clone());
        let ns = self
            .namespaces
            .get_mut(namespace)
            .ok_or_else(|| EmitError::UnknownNamespace(namespace.to_owned()))?;
        let receivers = ns.rooms.select(&emit.target);
        let Emit {
            target,
            name,
            mut args,
            flags,
        } = emit;
        let ack = flags.ack.then(|| {
            ns.next_ack_id += 1;
            ns.next_ack_id - 1
        });
        // Recovery keeps what a reconnecting socket could miss: not volatile events (they
        // may be dropped anyway) and not events with an ack (the answer could not come).
        if let (Some(store), None, false) = (&mut ns.recovery, ack, flags.volatile) {
            store.keep(&target, &name, &mut args, now);
        }
        let packet = Packet::new(namespace, Kind::Event { name, args, ack });
        let messages: Arc<[EngineMessage]> = packet.encode().into();
        let sessions: Vec<String> = receivers
            .iter()
            .filter_map(|s| ns.sockets.get(s))
            .map(|s| s.session.clone())
            .collect();
        if let Some(id) = ack {
            let deadline = flags.timeout.map(|t| now.saturating_add(t));
            let wait = AckWait {
                expected: receivers.len(),
                waiting: receivers,
                responses: Vec::new(),
                deadline,
                remote: None,
                relay: None,
            };
            ns.acks.insert(id, wait);
        }
        if let Some(remote) = remote {
            self.publish_emit(namespace, remote, ack);
        }
        if let Some(id) = ack {
            // Nobody to wait for: complete at once.
            if self.ack_wait(namespace, id).is_some_and(|w| w.complete()) {
                self.complete_ack(namespace, id);
            }
        }
        for session in sessions {
            self.send(&session, messages.clone(), flags);
        }
        Ok(ack)
    }

    /// Answer the client's event `id` (its ack callback): `3<nsp>,<id>[args]`.
    pub fn ack(
        &mut self,
        namespace: &str,
        socket: &str,
        id: u64,
        args: Vec<Data>,
    ) -> Result<(), EmitError> {
        let state = self
            .socket_mut(namespace, socket)
            .ok_or_else(|| unknown(namespace, socket))?;
        if !state.asked.remove(&id) {
            return Err(EmitError::AckNotAwaited {
                socket: socket.to_owned(),
                id,
            });
        }
        let session = state.session.clone();
        let messages = Packet::new(namespace, Kind::Ack { id, args }).encode();
        self.send(&session, messages.into(), Flags::default());
        Ok(())
    }

    /// Put `socket` in `room`.
    pub fn join(&mut self, namespace: &str, socket: &str, room: &str) -> Result<(), EmitError> {
        self.socket_state(namespace, socket)?;
        if let Some(ns) = self.namespaces.get_mut(namespace) {
            ns.rooms.join(socket, room);
        }
        Ok(())
    }

    /// Take `socket` out of `room`.
    pub fn leave(&mut self, namespace: &str, socket: &str, room: &str) -> Result<(), EmitError> {
        self.socket_state(namespace, socket)?;
        if let Some(ns) = self.namespaces.get_mut(namespace) {
            ns.rooms.leave(socket, room);
        }
        Ok(())
    }

    // ---- helpers -------------------------------------------------------------------------

    /// Time only moves forward: the latest `now` any input carried.
    fn tick(&mut self, now: Duration) {
        self.now = self.now.max(now);
    }

    /// The latest time the server was given.
    pub fn now(&self) -> Duration {
        self.now
    }

    fn socket_state(&self, namespace: &str, socket: &str) -> Result<&SocketState, EmitError> {
        self.namespaces
            .get(namespace)
            .and_then(|n| n.sockets.get(socket))
            .ok_or_else(|| unknown(namespace, socket))
    }

    fn socket_mut(&mut self, namespace: &str, socket: &str) -> Option<&mut SocketState> {
        self.namespaces.get_mut(namespace)?.sockets.get_mut(socket)
    }

    fn send(&mut self, session: &str, messages: Arc<[EngineMessage]>, flags: Flags) {
        self.actions.push_back(Action::Send {
            session: session.to_owned(),
            messages,
            volatile: flags.volatile,
            compress: flags.compress,
        });
    }

    fn app(&mut self, event: AppEvent) {
        self.actions.push_back(Action::App(event));
    }
}

fn unknown(namespace: &str, socket: &str) -> EmitError {
    EmitError::UnknownSocket {
        namespace: namespace.to_owned(),
        socket: socket.to_owned(),
    }
}

/// A recovery attempt: `{"pid": "..", "offset": ".."}` in the CONNECT's auth.
fn restore(store: &mut Store, auth: &Map<String, Value>, now: Duration) -> Option<Restored> {
    let pid = auth.get("pid")?.as_str()?;
    let offset = auth.get("offset")?.as_str()?;
    store.restore(pid, offset, now)
}

#[cfg(test)]
mod tests {
    use super::super::events::socket_id;
    use super::super::recovery::RecoveryOptions;
    use super::super::rooms::Target;
    use super::super::PacketError;
    use super::*;
    use serde_json::json;

    const T0: Duration = Duration::ZERO;

    /// Ids `id1`, `id2`, ... in the order the server draws them.
    fn counter() -> Box<dyn FnMut() -> String + Send> {
        let mut n = 0;
        Box::new(move || {
            n += 1;
            format!("id{n}")
        })
    }

    fn server(options: Options) -> Server {
        Server::new(options, counter())
    }

    fn text(s: &str) -> EngineMessage {
        EngineMessage::Text(s.to_owned())
    }

    /// What the server sent since the last call, as `(session, text or hex)` pairs, and
    /// the application events and closes apart.
    #[derive(Debug, Default)]
    struct Out {
        sent: Vec<(String, String)>,
        app: Vec<AppEvent>,
        closed: Vec<String>,
    }

    fn out(server: &mut Server) -> Out {
        let mut out = Out::default();
        for action in server.drain_actions() {
            match action {
                Action::Send {
                    session, messages, ..
                } => {
                    for m in messages.iter() {
                        let shown = match m {
                            EngineMessage::Text(t) => t.clone(),
                            EngineMessage::Binary(b) => format!("<{b:02x?}>"),
                        };
                        out.sent.push((session.clone(), shown));
                    }
                }
                Action::Close { session } => out.closed.push(session),
                Action::App(event) => out.app.push(event),
            }
        }
        out
    }

    fn sent(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// Open `session` and connect it to "/" (its socket gets the next id).
    fn join(server: &mut Server, session: &str) -> String {
        server.open(session, T0);
        server.message(session, text("0"), T0);
        let o = out(server);
        let Some(AppEvent::Connected { socket, .. }) = o.app.into_iter().next() else {
            panic!("{session} did not connect");
        };
        socket
    }

    fn emit(
        server: &mut Server,
        target: Target,
        name: &str,
        args: Vec<Data>,
        flags: Flags,
    ) -> Option<u64> {
        let e = Emit {
            target,
            name: name.into(),
            args,
            flags,
        };
        server.emit("/", e, T0).unwrap()
    }

    #[test]
    fn socket_ids_have_the_real_servers_shape() {
        // `wZX3oN0bSVIhsaknAAAI` from the specification: 12 random bytes, then number 8.
        let random = [
            0xc1, 0x95, 0xf7, 0xa0, 0xdd, 0x1b, 0x49, 0x52, 0x21, 0xb1, 0xa9, 0x27,
        ];
        assert_eq!(socket_id(random, 8), "wZX3oN0bSVIhsaknAAAI");
        assert_eq!(socket_id([0xff; 12], 0).len(), 20);
        assert!(!socket_id([0xff; 12], 0).contains(['+', '/']));
    }

    #[test]
    fn connect_to_the_main_namespace() {
        let mut s = server(Options::default());
        s.open("e1", T0);
        s.message("e1", text("0"), T0);
        let o = out(&mut s);
        assert_eq!(o.sent, sent(&[("e1", r#"0{"sid":"id1"}"#)]));
        assert_eq!(
            o.app,
            [AppEvent::Connected {
                namespace: "/".into(),
                socket: "id1".into(),
                session: "e1".into(),
                auth: None,
                recovered: false
            }]
        );
    }

    #[test]
    fn a_namespace_that_does_not_exist_is_refused_as_the_real_server_does() {
        let mut s = server(Options::default());
        s.open("e1", T0);
        s.message("e1", text("0/nope,"), T0);
        assert_eq!(
            out(&mut s).sent,
            sent(&[("e1", r#"4/nope,{"message":"Invalid namespace"}"#)])
        );
    }

    #[test]
    fn middleware_decides_each_connect() {
        let mut s = server(Options::default());
        s.add_namespace("/admin", true);
        s.open("e1", T0);
        s.message("e1", text(r#"0/admin,{"token":"no"}"#), T0);
        let o = out(&mut s);
        assert!(o.sent.is_empty());
        let auth = json!({"token": "no"}).as_object().cloned();
        let request = AppEvent::ConnectRequest {
            session: "e1".into(),
            namespace: "/admin".into(),
            auth,
        };
        assert_eq!(o.app, [request]);
        s.refuse("e1", "/admin", "Not authorized", Some(json!({"code": 7})))
            .unwrap();
        // The bytes socket.io 4.8.4 sent for `next(err)` with `err.data = {code: 7}`.
        let refusal = r#"4/admin,{"message":"Not authorized","data":{"code":7}}"#;
        assert_eq!(out(&mut s).sent, sent(&[("e1", refusal)]));
        assert!(s.refuse("e1", "/admin", "again", None).is_err());
        s.message("e1", text(r#"0/admin,{"token":"123"}"#), T0);
        out(&mut s);
        s.accept("e1", "/admin").unwrap();
        assert_eq!(
            out(&mut s).sent,
            sent(&[("e1", r#"0/admin,{"sid":"id1"}"#)])
        );
    }

    #[test]
    fn events_and_acknowledgements_from_a_client() {
        let mut s = server(Options::default());
        let id = join(&mut s, "e1");
        // socket.io-client's `emitWithAck("foo", "x", 1)`.
        s.message("e1", text(r#"20["foo","x",1]"#), T0);
        let o = out(&mut s);
        let args = vec![Data::Json(json!("x")), Data::Json(json!(1))];
        let event = AppEvent::Event {
            namespace: "/".into(),
            socket: id.clone(),
            name: "foo".into(),
            args,
            ack: Some(0),
        };
        assert_eq!(o.app, [event]);
        s.ack("/", &id, 0, vec![]).unwrap();
        assert_eq!(out(&mut s).sent, sent(&[("e1", "30[]")]));
        assert_eq!(
            s.ack("/", &id, 0, vec![]),
            Err(EmitError::AckNotAwaited { socket: id, id: 0 })
        );
    }

    #[test]
    fn acks_owed_to_a_client_are_bounded() {
        let mut s = server(Options {
            max_unanswered_acks: 2,
            ..Options::default()
        });
        let id = join(&mut s, "e1");
        for ack in 1..=3 {
            s.message("e1", text(&format!(r#"2{ack}["q"]"#)), T0);
        }
        out(&mut s);
        let forgotten = EmitError::AckNotAwaited {
            socket: id.clone(),
            id: 1,
        };
        assert_eq!(s.ack("/", &id, 1, vec![]), Err(forgotten));
        assert!(s.ack("/", &id, 2, vec![]).is_ok());
        assert!(s.ack("/", &id, 3, vec![]).is_ok());
    }

    #[test]
    fn binary_arguments_arrive_whole() {
        let mut s = server(Options::default());
        join(&mut s, "e1");
        s.message(
            "e1",
            text(r#"51-["bin","baz",{"_placeholder":true,"num":0}]"#),
            T0,
        );
        assert!(out(&mut s).app.is_empty());
        s.message("e1", EngineMessage::Binary(vec![1, 2, 3, 4]), T0);
        let Some(AppEvent::Event { args, .. }) = out(&mut s).app.pop() else {
            panic!("an event")
        };
        assert_eq!(
            args,
            [Data::Json(json!("baz")), Data::Binary(vec![1, 2, 3, 4])]
        );
    }

    /// Three sessions e1, e2, e3 with sockets id1, id2, id3; id1 and id2 in "red", id2 and
    /// id3 in "blue".
    fn three() -> Server {
        let mut s = server(Options::default());
        for e in ["e1", "e2", "e3"] {
            join(&mut s, e);
        }
        s.join("/", "id1", "red").unwrap();
        s.join("/", "id2", "red").unwrap();
        s.join("/", "id2", "blue").unwrap();
        s.join("/", "id3", "blue").unwrap();
        s
    }

    #[test]
    fn broadcasts_reach_each_receiver_once_with_one_encoding() {
        let mut s = three();
        let hi = vec![Data::Json(json!("hi"))];
        emit(
            &mut s,
            Target::room("red").to("blue"),
            "chat",
            hi.clone(),
            Flags::default(),
        );
        let actions = s.drain_actions();
        assert_eq!(actions.len(), 3);
        let shared: Vec<&Arc<[EngineMessage]>> = actions
            .iter()
            .filter_map(|a| {
                if let Action::Send { messages, .. } = a {
                    Some(messages)
                } else {
                    None
                }
            })
            .collect();
        assert!(
            shared.windows(2).all(|w| Arc::ptr_eq(w[0], w[1])),
            "encoded once"
        );
        emit(
            &mut s,
            Target::all().except("id2"),
            "chat",
            hi.clone(),
            Flags::default(),
        );
        let chat = r#"2["chat","hi"]"#;
        assert_eq!(out(&mut s).sent, sent(&[("e1", chat), ("e3", chat)]));
        emit(
            &mut s,
            Target::room("red").except("blue"),
            "chat",
            hi.clone(),
            Flags::default(),
        );
        assert_eq!(out(&mut s).sent, sent(&[("e1", chat)]));
        s.leave("/", "id1", "red").unwrap();
        emit(&mut s, Target::room("red"), "chat", hi, Flags::default());
        assert_eq!(out(&mut s).sent, sent(&[("e2", chat)]));
    }

    #[test]
    fn volatile_and_compress_are_flags_on_the_send() {
        let mut s = three();
        let flags = Flags {
            volatile: true,
            compress: false,
            ..Flags::default()
        };
        emit(&mut s, Target::room("id3"), "tick", vec![], flags);
        let [Action::Send {
            session,
            volatile,
            compress,
            ..
        }] = &s.drain_actions()[..]
        else {
            panic!("one send")
        };
        assert_eq!(
            (session.as_str(), *volatile, *compress),
            ("e3", true, false)
        );
    }

    #[test]
    fn a_broadcast_with_ack_collects_one_answer_per_receiver() {
        let mut s = three();
        let flags = Flags {
            ack: true,
            timeout: Some(Duration::from_secs(5)),
            ..Flags::default()
        };
        let id = emit(&mut s, Target::all(), "q", vec![], flags).unwrap();
        assert_eq!(id, 0);
        let q = r#"20["q"]"#;
        assert_eq!(out(&mut s).sent, sent(&[("e1", q), ("e2", q), ("e3", q)]));
        assert_eq!(s.poll_timeout(), Some(Duration::from_secs(5)));
        s.message("e1", text("30[1]"), T0);
        s.message("e1", text("30[1]"), T0); // a second answer from the same socket is ignored
        s.message("e3", text("30[3]"), T0);
        assert!(out(&mut s).app.is_empty());
        s.handle_timeout(Duration::from_secs(5));
        let responses = vec![
            ("id1".into(), vec![Data::Json(json!(1))]),
            ("id3".into(), vec![Data::Json(json!(3))]),
        ];
        let timed_out = AppEvent::AckTimedOut {
            namespace: "/".into(),
            id: 0,
            responses,
            expected: 3,
        };
        assert_eq!(out(&mut s).app, [timed_out]);
        // The next emit with ack gets the namespace's next id; all answer in time.
        let id = emit(&mut s, Target::room("red"), "q", vec![], flags).unwrap();
        assert_eq!(id, 1);
        out(&mut s);
        s.message("e2", text("31[]"), T0);
        s.message("e1", text("31[]"), T0);
        let responses = vec![("id2".into(), vec![]), ("id1".into(), vec![])];
        assert_eq!(
            out(&mut s).app,
            [AppEvent::Acked {
                namespace: "/".into(),
                id: 1,
                responses
            }]
        );
    }

    #[test]
    fn disconnect_reasons() {
        let mut s = three();
        let gone = |socket: &str, reason| AppEvent::Disconnected {
            namespace: "/".into(),
            socket: socket.into(),
            reason,
        };
        s.message("e1", text("1"), T0);
        assert_eq!(
            out(&mut s).app,
            [gone("id1", DisconnectReason::ClientNamespaceDisconnect)]
        );
        s.disconnect("/", "id2", false, T0).unwrap();
        let o = out(&mut s);
        assert_eq!(o.sent, sent(&[("e2", "1")]));
        assert_eq!(
            o.app,
            [gone("id2", DisconnectReason::ServerNamespaceDisconnect)]
        );
        s.closed("e3", DisconnectReason::TransportClose, T0);
        assert_eq!(
            out(&mut s).app,
            [gone("id3", DisconnectReason::TransportClose)]
        );
        assert!(s.sockets("/").is_empty());
    }

    #[test]
    fn the_server_closes_a_session_that_breaks_the_rules() {
        let mut s = three();
        // socket.io 4.8.4 closes the connection on `2[]` ("invalid payload") and on a packet
        // for a namespace the client is not in; the socket's reason is `forced close`.
        s.message("e1", text("2[]"), T0);
        let o = out(&mut s);
        assert_eq!(o.closed, ["e1"]);
        assert_eq!(
            o.app[0],
            AppEvent::ProtocolError {
                session: "e1".into(),
                error: PacketError::EventWithoutName
            }
        );
        let forced = AppEvent::Disconnected {
            namespace: "/".into(),
            socket: "id1".into(),
            reason: DisconnectReason::ForcedClose,
        };
        assert_eq!(o.app[1], forced);
        s.message("e2", text(r#"2/nope,["x"]"#), T0);
        assert_eq!(out(&mut s).closed, ["e2"]);
        s.message("e3", text("0"), T0); // a second CONNECT to "/"
        assert_eq!(out(&mut s).closed, ["e3"]);
    }

    #[test]
    fn a_session_that_joins_no_namespace_in_time_is_closed() {
        let mut s = server(Options::default());
        s.open("e1", T0);
        assert_eq!(s.poll_timeout(), Some(Duration::from_secs(45)));
        s.handle_timeout(Duration::from_secs(44));
        assert!(out(&mut s).closed.is_empty());
        s.handle_timeout(Duration::from_secs(45));
        assert_eq!(out(&mut s).closed, ["e1"]);
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn a_session_id_opened_again_ends_the_old_session() {
        // Found by the socketio_server fuzz target: the old session's sockets stayed in
        // their namespace with no session to reach them.
        let mut s = server(Options::default());
        let id = join(&mut s, "e1");
        s.open("e1", T0);
        let gone = AppEvent::Disconnected {
            namespace: "/".into(),
            socket: id,
            reason: DisconnectReason::TransportClose,
        };
        assert_eq!(out(&mut s).app, [gone]);
        assert!(s.sockets("/").is_empty());
    }

    #[test]
    fn shutdown_closes_everything() {
        let mut s = three();
        s.shutdown(T0);
        let o = out(&mut s);
        assert_eq!(o.closed, ["e1", "e2", "e3"]);
        assert!(o.app.iter().all(|e| matches!(
            e,
            AppEvent::Disconnected {
                reason: DisconnectReason::ServerShuttingDown,
                ..
            }
        )));
    }

    fn recovering() -> Server {
        server(Options {
            recovery: Some(RecoveryOptions::default()),
            ..Options::default()
        })
    }

    /// The session socket.io 4.8.4 ran with `connectionStateRecovery: {}`: the server's
    /// offsets were `yeast` strings (`Q9HG1a7`); here they count.
    #[test]
    fn recovery_replays_what_a_socket_missed() {
        let mut s = recovering();
        s.open("e1", T0);
        s.message("e1", text("0"), T0);
        assert_eq!(
            out(&mut s).sent,
            sent(&[("e1", r#"0{"sid":"id1","pid":"id2"}"#)])
        );
        s.join("/", "id1", "r1").unwrap();
        emit(
            &mut s,
            Target::room("id1"),
            "hi",
            vec![Data::Json(json!(0))],
            Flags::default(),
        );
        emit(
            &mut s,
            Target::all(),
            "all",
            vec![Data::Json(json!(1))],
            Flags::default(),
        );
        emit(
            &mut s,
            Target::room("id1"),
            "withack",
            vec![],
            Flags {
                ack: true,
                ..Flags::default()
            },
        );
        let o = out(&mut s);
        assert_eq!(
            o.sent,
            sent(&[
                ("e1", r#"2["hi",0,"1"]"#),
                ("e1", r#"2["all",1,"2"]"#),
                ("e1", r#"20["withack"]"#)
            ])
        );
        s.closed(
            "e1",
            DisconnectReason::TransportClose,
            Duration::from_secs(1),
        );
        out(&mut s);
        emit(
            &mut s,
            Target::all(),
            "missed",
            vec![Data::Json(json!(2))],
            Flags::default(),
        );
        emit(&mut s, Target::room("r1"), "room", vec![], Flags::default());
        emit(
            &mut s,
            Target::room("r2"),
            "other room",
            vec![],
            Flags::default(),
        );
        emit(
            &mut s,
            Target::all(),
            "vol",
            vec![],
            Flags {
                volatile: true,
                ..Flags::default()
            },
        );
        s.open("e2", Duration::from_secs(2));
        s.message(
            "e2",
            text(r#"0{"pid":"id2","offset":"2"}"#),
            Duration::from_secs(2),
        );
        let o = out(&mut s);
        // As the real server: the missed events first, then the CONNECT answer with the old ids.
        let expected = [
            ("e2", r#"2["missed",2,"3"]"#),
            ("e2", r#"2["room","4"]"#),
            ("e2", r#"0{"sid":"id1","pid":"id2"}"#),
        ];
        assert_eq!(o.sent, sent(&expected));
        assert!(
            matches!(&o.app[..], [AppEvent::Connected { recovered: true, socket, .. }] if socket == "id1")
        );
        assert_eq!(s.rooms_of("/", "id1"), ["id1", "r1"]);
    }

    #[test]
    fn no_recovery_after_leaving_on_purpose_or_too_late() {
        let mut s = recovering();
        join(&mut s, "e1");
        emit(&mut s, Target::all(), "a", vec![], Flags::default());
        s.message("e1", text("1"), T0); // the client leaves on purpose
        s.message("e1", text(r#"0{"pid":"id2","offset":"1"}"#), T0);
        let o = out(&mut s);
        assert_eq!(o.sent.last().unwrap().1, r#"0{"sid":"id3","pid":"id4"}"#);
        assert!(matches!(
            o.app.last(),
            Some(AppEvent::Connected {
                recovered: false,
                ..
            })
        ));
        emit(&mut s, Target::all(), "b", vec![], Flags::default());
        assert_eq!(out(&mut s).sent, sent(&[("e1", r#"2["b","2"]"#)]));
        s.closed("e1", DisconnectReason::PingTimeout, T0);
        let late = Duration::from_secs(120);
        s.open("e2", late);
        s.message("e2", text(r#"0{"pid":"id4","offset":"2"}"#), late);
        assert_eq!(
            out(&mut s).sent,
            sent(&[("e2", r#"0{"sid":"id5","pid":"id6"}"#)])
        );
    }
}
