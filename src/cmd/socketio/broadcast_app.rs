//! `--app broadcast`: the broadcast operators on command, to watch them cross the nodes
//! of a cluster (`netlab socketio server --adapter redis://..`, several times, beside
//! Node servers with `@socket.io/redis-adapter`).
//!
//! | the client emits | the server does (in JavaScript) | answer (ack) |
//! |---|---|---|
//! | `"join", room` / `"leave", room` | `socket.join(room)` / `socket.leave(room)` | `"ok"` |
//! | `"all", text` | `io.emit("message", text)` | `"ok"` |
//! | `"room", room, text` | `io.to(room).emit("message", text)` | `"ok"` |
//! | `"except", room, text` | `io.except(room).emit("message", text)` | `"ok"` |
//! | `"local", text` | `io.local.emit("message", text)` | `"ok"` |
//! | `"ask", text` | `io.timeout(2000).emit("question", text, (err, answers) => ..)` | the answers, sorted |
//! | `"fetch"` / `"fetch", room` | `io.fetchSockets()` / `io.in(room).fetchSockets()` | the socket ids, sorted |
//! | `"sjoin", room` / `"sleave", room` | `io.socketsJoin(room)` / `io.in(room).socketsLeave(room)` | `"ok"` |
//! | `"kick", room` | `io.in(room).disconnectSockets(true)` | `"ok"` |
//! | `"sse", text` | `io.serverSideEmit("hello", text, (err, answers) => ..)` | the other nodes' answers, sorted |
//!
//! A node answers another node's `"hello", text` with `"netlab:" + text`.
//!
//! A client answers a `"question"` with what it likes; the asker gets every answer, from
//! the clients of every node.

use crate::wire::application::socketio::{AppEvent, Data, Server};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// How long an `ask` waits for every client of every node.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// What a client asked for that comes later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Later {
    Ask,
    Fetch,
    ServerSide,
}

/// Who asked: the socket and its ack id, by what comes later and its id.
#[derive(Debug, Default)]
pub struct Broadcaster {
    asks: HashMap<(Later, u64), (String, String, u64)>,
}

impl Broadcaster {
    pub fn event(&mut self, io: &mut Server, event: &AppEvent) {
        match event {
            AppEvent::Event {
                namespace,
                socket,
                name,
                args,
                ack,
            } => self.command(io, (namespace, socket), name, args, *ack),
            AppEvent::Acked { id, responses, .. } | AppEvent::AckTimedOut { id, responses, .. } => {
                let answers = responses
                    .iter()
                    .filter_map(|(_, args)| args.first().and_then(Data::as_json).cloned());
                self.answer(io, (Later::Ask, *id), answers.collect());
            }
            AppEvent::FetchedSockets { id, sockets, .. } => {
                let ids = sockets.iter().map(|s| json!(s.id)).collect();
                self.answer(io, (Later::Fetch, *id), ids);
            }
            AppEvent::ServerSideAcked { id, responses, .. } => {
                let answers = responses.iter().filter_map(Data::as_json).cloned();
                self.answer(io, (Later::ServerSide, *id), answers.collect());
            }
            AppEvent::ServerSideEmit {
                name,
                args,
                ack: Some(id),
                ..
            } if name == "hello" => {
                let text = args.first().and_then(Data::as_json).and_then(Value::as_str);
                let answer = format!("netlab:{}", text.unwrap_or_default());
                let _ = io.server_side_ack(*id, json!(answer).into());
            }
            _ => {}
        }
    }

    /// Acknowledge what `key` asked for with `values`, sorted.
    fn answer(&mut self, io: &mut Server, key: (Later, u64), mut values: Vec<Value>) {
        let Some((namespace, socket, ack)) = self.asks.remove(&key) else {
            return;
        };
        values.sort_by_key(Value::to_string);
        let _ = io.ack(&namespace, &socket, ack, vec![Value::Array(values).into()]);
    }

    fn command(
        &mut self,
        io: &mut Server,
        (namespace, socket): (&str, &str),
        name: &str,
        args: &[Data],
        ack: Option<u64>,
    ) {
        let text = |i: usize| args.get(i).and_then(Data::as_json).and_then(Value::as_str);
        let message = |i: usize| vec![Data::from(json!(text(i).unwrap_or_default()))];
        let done = match (name, text(0)) {
            ("join", Some(room)) => io.socket(namespace, socket).join(room),
            ("leave", Some(room)) => io.socket(namespace, socket).leave(room),
            ("all", _) => io.of(namespace).emit("message", message(0)),
            ("room", Some(room)) => io.of(namespace).to(room).emit("message", message(1)),
            ("except", Some(room)) => io.of(namespace).except(room).emit("message", message(1)),
            ("local", _) => io.of(namespace).local().emit("message", message(0)),
            ("sjoin", Some(room)) => io.of(namespace).sockets_join(room),
            ("sleave", Some(room)) => io.of(namespace).to(room).sockets_leave(room),
            ("kick", Some(room)) => io.of(namespace).to(room).disconnect_sockets(true),
            ("ask" | "fetch" | "sse", _) => {
                let asked = match (name, text(0)) {
                    ("ask", _) => io
                        .of(namespace)
                        .timeout(ASK_TIMEOUT)
                        .emit_with_ack("question", message(0))
                        .map(|id| (Later::Ask, id)),
                    ("fetch", Some(room)) => io
                        .of(namespace)
                        .to(room)
                        .fetch_sockets()
                        .map(|id| (Later::Fetch, id)),
                    ("fetch", None) => io
                        .of(namespace)
                        .fetch_sockets()
                        .map(|id| (Later::Fetch, id)),
                    _ => io
                        .of(namespace)
                        .server_side_emit_with_ack("hello", message(0))
                        .map(|id| (Later::ServerSide, id)),
                };
                if let (Ok(key), Some(ack)) = (asked, ack) {
                    self.asks
                        .insert(key, (namespace.to_owned(), socket.to_owned(), ack));
                }
                return;
            }
            _ => return,
        };
        if let Some(id) = ack {
            let answer = if done.is_ok() { "ok" } else { "error" };
            let _ = io.ack(namespace, socket, id, vec![json!(answer).into()]);
        }
    }
}
