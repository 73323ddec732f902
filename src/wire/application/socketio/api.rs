//! The server's API in the words of the JavaScript emit cheatsheet.
//!
//! Builders over [`Server`] that produce its inputs ([`Emit`], join, leave, disconnect):
//! each modifier returns a new builder, the last call acts. They emit at the latest time
//! the server was given ([`Server::now`]).
//!
//! | JavaScript (socket.io 4) | netlab |
//! |---|---|
//! | `socket.emit("hello", "world")` | `io.socket("/", id).emit("hello", args)` |
//! | `io.emit("hello")` | `io.of("/").emit("hello", args)` |
//! | `io.to("room1").emit(..)` | `io.of("/").to("room1").emit(..)` |
//! | `io.to(["room1", "room2"]).except("room3").emit(..)` | `io.of("/").to("room1").to("room2").except("room3").emit(..)` |
//! | `socket.broadcast.emit(..)` | `io.socket("/", id).broadcast().emit(..)` |
//! | `socket.to("room1").emit(..)` (all in room1 but the sender) | `io.socket("/", id).to("room1").emit(..)` |
//! | `io.of("/admin").emit(..)` | `io.of("/admin").emit(..)` |
//! | `io.local.emit(..)` (this node's clients only, with an adapter) | `io.of("/").local().emit(..)` |
//! | `socket.volatile.emit(..)` | `io.socket("/", id).volatile().emit(..)` |
//! | `socket.compress(false).emit(..)` | `io.socket("/", id).compress(false).emit(..)` |
//! | `socket.timeout(5000).emit("q", (err, answer) => ..)` | `io.socket("/", id).timeout(d).emit_with_ack("q", args)` |
//! | `io.timeout(5000).emit("q", (err, answers) => ..)` | `io.of("/").timeout(d).emit_with_ack("q", args)` |
//! | `socket.join("room1")`, `socket.leave("room1")` | `io.socket("/", id).join("room1")`, `.leave("room1")` |
//! | `socket.disconnect()`, `socket.disconnect(true)` | `io.socket("/", id).disconnect(false)`, `.disconnect(true)` |
//!
//!
//! With the Redis adapter ([`Server::enable_adapter`]), these reach the other nodes too
//! (see `server::requests`):
//!
//! | JavaScript (socket.io 4) | netlab |
//! |---|---|
//! | `await io.fetchSockets()`, `io.in("room1").fetchSockets()` | `io.of("/").fetch_sockets()`, `io.of("/").to("room1").fetch_sockets()` |
//! | `io.socketsJoin("room1")`, `io.in("room1").socketsLeave("room1")` | `io.of("/").sockets_join("room1")`, `io.of("/").to("room1").sockets_leave("room1")` |
//! | `io.in("room1").disconnectSockets(true)` | `io.of("/").to("room1").disconnect_sockets(true)` |
//! | `io.serverSideEmit("hello", "world")` | `io.of("/").server_side_emit("hello", args)` |
//! | `io.serverSideEmit("ping", (err, answers) => ..)` | `io.of("/").server_side_emit_with_ack("ping", args)` |
//!
//! The answers to an emit with ack come back as [`AppEvent::Acked`] or
//! [`AppEvent::AckTimedOut`] carrying the id `emit_with_ack` returned.
//!
//! [`AppEvent::Acked`]: super::AppEvent::Acked
//! [`AppEvent::AckTimedOut`]: super::AppEvent::AckTimedOut

use super::data::Data;
use super::events::{Emit, EmitError, Flags};
use super::rooms::Target;
use super::server::Server;
use std::time::Duration;

/// A broadcast being described: `io.of(..)`, `.to(..)`, `.except(..)`, flags, then
/// `.emit(..)`.
#[derive(Debug)]
pub struct Operator<'a> {
    server: &'a mut Server,
    namespace: String,
    target: Target,
    flags: Flags,
}

impl Server {
    /// `io.of(namespace)`: everything in that namespace, to be narrowed down.
    pub fn of(&mut self, namespace: &str) -> Operator<'_> {
        Operator {
            server: self,
            namespace: namespace.to_owned(),
            target: Target::all(),
            flags: Flags::default(),
        }
    }

    /// `io.to(room)` in the main namespace.
    pub fn to(&mut self, room: &str) -> Operator<'_> {
        self.of("/").to(room)
    }

    /// One socket: `socket.emit`, `socket.broadcast`, `socket.join`, ...
    pub fn socket(&mut self, namespace: &str, id: &str) -> SocketRef<'_> {
        SocketRef {
            server: self,
            namespace: namespace.to_owned(),
            id: id.to_owned(),
            flags: Flags::default(),
        }
    }
}

impl Operator<'_> {
    /// Include the sockets of `room` (several calls: their union).
    pub fn to(mut self, room: &str) -> Self {
        self.target = self.target.to(room);
        self
    }

    /// Leave out the sockets of `room`.
    pub fn except(mut self, room: &str) -> Self {
        self.target = self.target.except(room);
        self
    }

    /// The driver may drop the event for a receiver whose transport cannot take it now.
    pub fn volatile(mut self) -> Self {
        self.flags.volatile = true;
        self
    }

    /// `io.local`: to this node's sockets only, not to the other nodes of a cluster.
    pub fn local(mut self) -> Self {
        self.flags.local = true;
        self
    }

    pub fn compress(mut self, compress: bool) -> Self {
        self.flags.compress = compress;
        self
    }

    /// How long [`Operator::emit_with_ack`] waits for the answers.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.flags.timeout = Some(timeout);
        self
    }

    /// Send the event to every socket chosen.
    pub fn emit(self, name: &str, args: Vec<Data>) -> Result<(), EmitError> {
        self.send(name, args, false).map(drop)
    }

    /// Send the event and ask each receiver to answer; returns the ack id.
    pub fn emit_with_ack(self, name: &str, args: Vec<Data>) -> Result<u64, EmitError> {
        let id = self.send(name, args, true)?;
        // `Server::emit` returns an id whenever `flags.ack` is set.
        Ok(id.unwrap_or_default())
    }

    /// `fetchSockets()`: the sockets chosen, on every node; they come as
    /// [`AppEvent::FetchedSockets`](super::AppEvent::FetchedSockets) with the id returned.
    pub fn fetch_sockets(self) -> Result<u64, EmitError> {
        self.server.fetch_sockets(&self.namespace, self.target)
    }

    /// `socketsJoin(room)`: the sockets chosen, on every node, join `room`.
    pub fn sockets_join(self, room: &str) -> Result<(), EmitError> {
        let rooms = vec![room.to_owned()];
        self.server
            .sockets_rooms(&self.namespace, self.target, rooms, true)
    }

    /// `socketsLeave(room)`.
    pub fn sockets_leave(self, room: &str) -> Result<(), EmitError> {
        let rooms = vec![room.to_owned()];
        self.server
            .sockets_rooms(&self.namespace, self.target, rooms, false)
    }

    /// `disconnectSockets(close)`: the sockets chosen, on every node, leave the namespace
    /// (with `close`, their connections close).
    pub fn disconnect_sockets(self, close: bool) -> Result<(), EmitError> {
        self.server
            .disconnect_sockets(&self.namespace, self.target, close)
    }

    /// `serverSideEmit(name, ..args)`: an event for the other nodes' applications.
    pub fn server_side_emit(self, name: &str, args: Vec<Data>) -> Result<(), EmitError> {
        self.server
            .server_side_emit(&self.namespace, name, args, false)
            .map(drop)
    }

    /// `serverSideEmit(name, ..args, callback)`: each other node answers once; the answers
    /// come as [`AppEvent::ServerSideAcked`](super::AppEvent::ServerSideAcked).
    pub fn server_side_emit_with_ack(self, name: &str, args: Vec<Data>) -> Result<u64, EmitError> {
        self.server
            .server_side_emit(&self.namespace, name, args, true)
    }

    fn send(self, name: &str, args: Vec<Data>, ack: bool) -> Result<Option<u64>, EmitError> {
        let now = self.server.now();
        let flags = Flags { ack, ..self.flags };
        let emit = Emit {
            target: self.target,
            name: name.to_owned(),
            args,
            flags,
        };
        self.server.emit(&self.namespace, emit, now)
    }
}

/// One socket of a namespace.
#[derive(Debug)]
pub struct SocketRef<'a> {
    server: &'a mut Server,
    namespace: String,
    id: String,
    flags: Flags,
}

impl<'a> SocketRef<'a> {
    /// `socket.broadcast`: every socket of the namespace but this one.
    pub fn broadcast(self) -> Operator<'a> {
        let target = Target::all().except(&self.id);
        Operator {
            server: self.server,
            namespace: self.namespace,
            target,
            flags: self.flags,
        }
    }

    /// `socket.to(room)`: the sockets of `room` but this one.
    pub fn to(self, room: &str) -> Operator<'a> {
        self.broadcast().to(room)
    }

    pub fn volatile(mut self) -> Self {
        self.flags.volatile = true;
        self
    }

    pub fn compress(mut self, compress: bool) -> Self {
        self.flags.compress = compress;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.flags.timeout = Some(timeout);
        self
    }

    /// `socket.emit(..)`: to this socket only (a broadcast to the room named by its id, as
    /// the real server does when recovery is on).
    pub fn emit(self, name: &str, args: Vec<Data>) -> Result<(), EmitError> {
        self.only().emit(name, args)
    }

    /// `socket.emit(.., callback)`: returns the ack id its answer will carry.
    pub fn emit_with_ack(self, name: &str, args: Vec<Data>) -> Result<u64, EmitError> {
        self.only().emit_with_ack(name, args)
    }

    /// The socket is on this node: no other node needs to hear of the emit.
    fn only(self) -> Operator<'a> {
        let target = Target::room(&self.id);
        Operator {
            server: self.server,
            namespace: self.namespace,
            target,
            flags: self.flags,
        }
        .local()
    }

    pub fn join(self, room: &str) -> Result<(), EmitError> {
        self.server.join(&self.namespace, &self.id, room)
    }

    pub fn leave(self, room: &str) -> Result<(), EmitError> {
        self.server.leave(&self.namespace, &self.id, room)
    }

    /// Leave the namespace (the client is told); with `close`, close the whole connection.
    pub fn disconnect(self, close: bool) -> Result<(), EmitError> {
        let now = self.server.now();
        self.server
            .disconnect(&self.namespace, &self.id, close, now)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Action, AppEvent, EngineMessage, Options};
    use super::*;
    use serde_json::json;

    /// Sessions e1, e2, e3 on "/" (sockets id1, id2, id3) and e1 also on "/admin" (id4).
    fn io() -> Server {
        let mut n = 0;
        let mut io = Server::new(
            Options::default(),
            Box::new(move || {
                n += 1;
                format!("id{n}")
            }),
        );
        io.add_namespace("/admin", false);
        for e in ["e1", "e2", "e3"] {
            io.open(e, Duration::ZERO);
            io.message(e, EngineMessage::Text("0".into()), Duration::ZERO);
        }
        io.message("e1", EngineMessage::Text("0/admin,".into()), Duration::ZERO);
        io.drain_actions();
        io
    }

    /// `(session, text)` of every message sent since the last call.
    fn sent(io: &mut Server) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for action in io.drain_actions() {
            if let Action::Send {
                session, messages, ..
            } = action
            {
                for m in messages.iter() {
                    if let EngineMessage::Text(t) = m {
                        out.push((session.clone(), t.clone()));
                    }
                }
            }
        }
        out
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn the_cheatsheet() {
        let mut io = io();
        let hi = || vec![Data::from(json!("hi"))];
        io.socket("/", "id1").join("room1").unwrap();
        io.socket("/", "id2").join("room1").unwrap();
        io.socket("/", "id1").emit("hello", hi()).unwrap();
        assert_eq!(sent(&mut io), pairs(&[("e1", r#"2["hello","hi"]"#)]));
        io.to("room1").emit("hello", hi()).unwrap();
        assert_eq!(
            sent(&mut io),
            pairs(&[("e1", r#"2["hello","hi"]"#), ("e2", r#"2["hello","hi"]"#)])
        );
        io.socket("/", "id1")
            .broadcast()
            .emit("hello", hi())
            .unwrap();
        assert_eq!(
            sent(&mut io),
            pairs(&[("e2", r#"2["hello","hi"]"#), ("e3", r#"2["hello","hi"]"#)])
        );
        io.socket("/", "id1")
            .to("room1")
            .emit("hello", hi())
            .unwrap();
        assert_eq!(sent(&mut io), pairs(&[("e2", r#"2["hello","hi"]"#)]));
        io.of("/")
            .to("room1")
            .except("id2")
            .emit("hello", hi())
            .unwrap();
        assert_eq!(sent(&mut io), pairs(&[("e1", r#"2["hello","hi"]"#)]));
        io.of("/admin").emit("hello", hi()).unwrap();
        assert_eq!(sent(&mut io), pairs(&[("e1", r#"2/admin,["hello","hi"]"#)]));
        assert_eq!(
            io.of("/").emit("disconnect", vec![]),
            Err(EmitError::ReservedEventName("disconnect".into()))
        );
    }

    #[test]
    fn acks_volatile_and_disconnect_through_the_builders() {
        let mut io = io();
        let id = io
            .socket("/", "id3")
            .timeout(Duration::from_secs(1))
            .emit_with_ack("q", vec![])
            .unwrap();
        assert_eq!(sent(&mut io), pairs(&[("e3", &format!(r#"2{id}["q"]"#))]));
        io.message(
            "e3",
            EngineMessage::Text(format!("3{id}[42]")),
            Duration::ZERO,
        );
        let responses = vec![("id3".to_string(), vec![Data::from(json!(42))])];
        let acked = AppEvent::Acked {
            namespace: "/".into(),
            id,
            responses,
        };
        assert_eq!(io.drain_actions(), [Action::App(acked)]);
        io.of("/")
            .volatile()
            .compress(false)
            .emit("tick", vec![])
            .unwrap();
        assert!(io.drain_actions().iter().all(|a| matches!(
            a,
            Action::Send {
                volatile: true,
                compress: false,
                ..
            }
        )));
        io.socket("/", "id1").disconnect(true).unwrap();
        let actions = io.drain_actions();
        assert!(actions.contains(&Action::Close {
            session: "e1".into()
        }));
        assert!(io.sockets("/admin").is_empty());
    }
}
