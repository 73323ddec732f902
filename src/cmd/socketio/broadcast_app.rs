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
//!
//! A client answers a `"question"` with what it likes; the asker gets every answer, from
//! the clients of every node.

use crate::wire::application::socketio::{AppEvent, Data, Server};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// How long an `ask` waits for every client of every node.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// Who asked: the socket and its ack id, by the id of the emit with ack.
#[derive(Debug, Default)]
pub struct Broadcaster {
    asks: HashMap<u64, (String, String, u64)>,
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
                let Some((namespace, socket, ack)) = self.asks.remove(id) else {
                    return;
                };
                let mut answers: Vec<Value> = responses
                    .iter()
                    .filter_map(|(_, args)| args.first().and_then(Data::as_json).cloned())
                    .collect();
                answers.sort_by_key(Value::to_string);
                let _ = io.ack(&namespace, &socket, ack, vec![Value::Array(answers).into()]);
            }
            _ => {}
        }
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
            ("ask", _) => {
                let asked = io
                    .of(namespace)
                    .timeout(ASK_TIMEOUT)
                    .emit_with_ack("question", message(0));
                if let (Ok(id), Some(ack)) = (asked, ack) {
                    self.asks
                        .insert(id, (namespace.to_owned(), socket.to_owned(), ack));
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
