//! The applications behind `netlab socketio server`, written with the emit cheatsheet's
//! builders (`io.socket(ns, id).emit(..)`, `io.of(ns).to(room).emit(..)`).

use crate::wire::application::socketio::{AppEvent, Data, Server};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Echo: every event goes back to its sender under the same name with the same
/// arguments; an event that asks for an acknowledgement is acknowledged with them instead.
pub fn echo(io: &mut Server, event: &AppEvent) {
    let AppEvent::Event {
        namespace,
        socket,
        name,
        args,
        ack,
    } = event
    else {
        return;
    };
    // Errors cannot happen here (the socket just spoke, clients cannot send reserved
    // names); a socket that left in between simply gets nothing.
    let _ = match ack {
        Some(id) => io.ack(namespace, socket, *id, args.clone()),
        None => io.socket(namespace, socket).emit(name, args.clone()),
    };
}

/// Bench: echo plus the few events a load generator needs to measure fan-out. The same
/// app runs on every server `benches/sio-bench` compares (Node socket.io, socketioxide).
///
/// | the client emits | the server does |
/// |---|---|
/// | `join ROOM` | puts the sender in ROOM |
/// | `broadcast ARGS…` | everyone in the namespace but the sender gets `broadcast ARGS…` |
/// | `room ROOM ARGS…` | everyone in ROOM gets `room ROOM ARGS…` |
/// | anything else | as `echo` |
///
/// An event that asks for an acknowledgement is acknowledged with its arguments.
pub fn bench(io: &mut Server, event: &AppEvent) {
    let AppEvent::Event {
        namespace,
        socket,
        name,
        args,
        ack,
    } = event
    else {
        return;
    };
    let room = || args.first().and_then(Data::as_json).and_then(Value::as_str);
    // As in `echo`, a socket that left in between simply gets nothing.
    let _ = match (name.as_str(), room()) {
        ("join", Some(room)) => io.socket(namespace, socket).join(room),
        ("broadcast", _) => io
            .socket(namespace, socket)
            .broadcast()
            .emit(name, args.clone()),
        ("room", Some(room)) => io.of(namespace).to(room).emit(name, args.clone()),
        _ => return echo(io, event),
    };
    if let Some(id) = ack {
        let _ = io.ack(namespace, socket, *id, args.clone());
    }
}

/// The longest nickname, room name or message the chat accepts, in characters.
const MAX_TEXT: usize = 500;

/// Chat: nicknames, rooms, messages to your rooms, private messages, "typing".
///
/// | the client emits | the server does |
/// |---|---|
/// | `nick NAME` | remembers your name; everyone gets `nick {id, nick}` |
/// | `join ROOM`, `leave ROOM` | puts you in the room or out; the room gets `joined` / `left` |
/// | `message TEXT` | your rooms (or everyone, in none) but you get `message {from, nick, text}` |
/// | `private SOCKET-ID TEXT` | that socket gets `private {from, nick, text}` |
/// | `typing` | the others get `typing {from, nick}`, volatile (may be dropped) |
///
/// An event that asks for an acknowledgement gets `{"ok":true}` or `{"error":..}`.
#[derive(Debug, Default)]
pub struct Chat {
    /// Socket id → nickname.
    nicks: HashMap<String, String>,
}

impl Chat {
    pub fn event(&mut self, io: &mut Server, event: &AppEvent) {
        match event {
            AppEvent::Connected {
                namespace, socket, ..
            } => {
                let _ = io.socket(namespace, socket).emit(
                    "welcome",
                    vec![json!({"id": socket, "commands":
                        ["nick NAME", "join ROOM", "leave ROOM", "message TEXT",
                         "private SOCKET-ID TEXT", "typing"]})
                    .into()],
                );
            }
            AppEvent::Disconnected {
                namespace, socket, ..
            } => {
                let nick = self.nicks.remove(socket);
                let _ = io
                    .of(namespace)
                    .emit("left", vec![json!({"id": socket, "nick": nick}).into()]);
            }
            AppEvent::Event {
                namespace,
                socket,
                name,
                args,
                ack,
            } => {
                let answer = self.command(io, namespace, socket, name, args);
                if let Some(id) = ack {
                    let answer = match answer {
                        Ok(()) => json!({"ok": true}),
                        Err(e) => json!({ "error": e }),
                    };
                    let _ = io.ack(namespace, socket, *id, vec![answer.into()]);
                }
            }
            _ => {}
        }
    }

    fn command(
        &mut self,
        io: &mut Server,
        ns: &str,
        socket: &str,
        name: &str,
        args: &[Data],
    ) -> Result<(), String> {
        let text = |i: usize| -> Result<String, String> {
            match args.get(i).and_then(Data::as_json) {
                Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_TEXT => {
                    Ok(s.clone())
                }
                _ => Err(format!(
                    "argument {} of {name:?} must be a string of 1 to {MAX_TEXT} characters",
                    i + 1
                )),
            }
        };
        let nick = self.nicks.get(socket).cloned();
        let from = json!({"from": socket, "nick": nick});
        let with = |mut v: Value, k: &str, t: String| {
            v[k] = Value::String(t);
            vec![Data::from(v)]
        };
        let done = match name {
            "nick" => {
                let nick = text(0)?;
                self.nicks.insert(socket.to_owned(), nick.clone());
                io.of(ns)
                    .emit("nick", vec![json!({"id": socket, "nick": nick}).into()])
            }
            "join" | "leave" => {
                let room = text(0)?;
                let joined = name == "join";
                let (said, r) = if joined {
                    ("joined", io.socket(ns, socket).join(&room))
                } else {
                    ("left", io.socket(ns, socket).leave(&room))
                };
                r.map_err(|e| e.to_string())?;
                io.of(ns).to(&room).emit(said, with(from, "room", room))
            }
            "message" => {
                let body = with(from, "text", text(0)?);
                let rooms: Vec<String> = io
                    .rooms_of(ns, socket)
                    .into_iter()
                    .filter(|r| r != socket)
                    .collect();
                let mut to = io.socket(ns, socket).broadcast();
                for room in &rooms {
                    to = to.to(room);
                }
                to.emit("message", body)
            }
            "private" => {
                let target = text(0)?;
                if !io.sockets(ns).contains(&target) {
                    return Err(format!("no socket {target:?} here"));
                }
                io.of(ns)
                    .to(&target)
                    .emit("private", with(from, "text", text(1)?))
            }
            "typing" => io
                .socket(ns, socket)
                .broadcast()
                .volatile()
                .emit("typing", vec![from.into()]),
            _ => return Err(format!("unknown command {name:?}")),
        };
        done.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::application::socketio::{Action, EngineMessage, Options};
    use std::time::Duration;

    const T0: Duration = Duration::ZERO;

    /// Runs the server's actions through `bench` until none are left; returns what each
    /// session was sent, as `session: text` lines.
    fn settle(io: &mut Server) -> Vec<String> {
        let mut sent = Vec::new();
        for _ in 0..100 {
            let actions = io.drain_actions();
            if actions.is_empty() {
                break;
            }
            for action in actions {
                match action {
                    Action::Send {
                        session, messages, ..
                    } => {
                        for m in messages.iter() {
                            if let EngineMessage::Text(t) = m {
                                sent.push(format!("{session}: {t}"));
                            }
                        }
                    }
                    Action::App(event) => bench(io, &event),
                    Action::Close { .. } => {}
                }
            }
        }
        sent
    }

    fn say(io: &mut Server, session: &str, text: &str) -> Vec<String> {
        io.message(session, EngineMessage::Text(text.to_owned()), T0);
        settle(io)
    }

    /// Three connected sockets `id1`..`id3` on sessions `a`..`c`.
    fn three() -> Server {
        let mut n = 0;
        let ids = Box::new(move || {
            n += 1;
            format!("id{n}")
        });
        let mut io = Server::new(Options::default(), ids);
        for s in ["a", "b", "c"] {
            io.open(s, T0);
            say(&mut io, s, "0");
        }
        io
    }

    #[test]
    fn bench_acks_echoes_joins_and_fans_out() {
        let mut io = three();
        assert_eq!(say(&mut io, "a", r#"27["echo","x"]"#), [r#"a: 37["x"]"#]);
        assert_eq!(say(&mut io, "a", r#"2["echo",1]"#), [r#"a: 2["echo",1]"#]);
        assert_eq!(say(&mut io, "a", r#"28["join","r"]"#), [r#"a: 38["r"]"#]);
        assert_eq!(say(&mut io, "b", r#"29["join","r"]"#), [r#"b: 39["r"]"#]);
        let mut to_all = say(&mut io, "a", r#"2["broadcast",5]"#);
        to_all.sort();
        assert_eq!(to_all, [r#"b: 2["broadcast",5]"#, r#"c: 2["broadcast",5]"#]);
        let mut to_room = say(&mut io, "c", r#"2["room","r",6]"#);
        to_room.sort();
        assert_eq!(to_room, [r#"a: 2["room","r",6]"#, r#"b: 2["room","r",6]"#]);
        // A room nobody joined reaches nobody.
        assert!(say(&mut io, "c", r#"2["room","empty",7]"#).is_empty());
    }
}
