//! The applications behind `netlab socketio server`, written with the emit cheatsheet's
//! builders (`io.socket(ns, id).emit(..)`, `io.of(ns).to(room).emit(..)`).
//!
//! - [`Chat`] (the default): the course's chat example, which the page at `/` speaks.
//! - [`echo`]: every event back to its sender.
//! - [`conformance`]: what the Socket.IO protocol's test suite expects of a server.

use crate::wire::application::socketio::{AppEvent, Data, EmitError, Server};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The namespace the echo and conformance apps accept beside `/` (the name the Socket.IO
/// protocol's test suite uses).
pub const CUSTOM: &str = "/custom";

/// The chat's second namespace: a news feed the chat posts to (`io.of("/news")`).
pub const NEWS: &str = "/news";

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

/// The server the Socket.IO protocol's test suite talks to (its README gives it in
/// JavaScript): every socket, in `/` or `/custom`, first gets `auth` with the payload of
/// its CONNECT (`{}` without one); in `/`, `message` comes back as `message-back` with
/// the same arguments, and `message-with-ack` is acknowledged with its arguments.
pub fn conformance(io: &mut Server, event: &AppEvent) {
    let _ = match event {
        AppEvent::Connected {
            namespace,
            socket,
            auth,
            ..
        } => {
            let auth = Value::Object(auth.clone().unwrap_or_default());
            io.socket(namespace, socket).emit("auth", vec![auth.into()])
        }
        AppEvent::Event {
            namespace,
            socket,
            name,
            args,
            ack,
        } if namespace == "/" => match (name.as_str(), ack) {
            ("message", _) => io
                .socket(namespace, socket)
                .emit("message-back", args.clone()),
            ("message-with-ack", Some(id)) => io.ack(namespace, socket, *id, args.clone()),
            _ => Ok(()),
        },
        _ => Ok(()),
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

/// The course's chat. What a client emits (`socket.emit(..)` in the page's script) and
/// what the server does:
///
/// | the client emits | the server does |
/// |---|---|
/// | `"nick", name` | remembers the name; everyone gets `"nick", {id, nick}` |
/// | `"join", room` / `"leave", room` | puts the socket in the room or out (`socket.join`); the room gets `"joined"` / `"left"`, `{id, nick, room}` |
/// | `"chat message", text` | everyone else gets `"chat message", {from, nick, text}` (`socket.broadcast.emit`) |
/// | `"chat message", {room, text}` | the others in that room get it, with `room` (`socket.to(room).emit`) |
/// | `"private", {to, text}` | the socket with id `to` gets `"private", {from, nick, text}` |
/// | `"typing"` or `"typing", room` | the others (in the room) get `"typing", {from, nick}`, volatile: dropped rather than queued |
///
/// Every event may ask for an acknowledgement: the server answers `{"ok":true}` once it
/// has done it (for a message: once it is broadcast, the delivery receipt the page shows)
/// or `{"error":"…"}`. On connect a socket gets `"welcome", {id, events}`; when it leaves,
/// everyone gets `"gone", {id, nick}`. In the second namespace, `/news`, the server posts
/// `"news", text` when someone picks a name or joins a room: a client joins it over the
/// same connection (`io("/news")`), to see namespaces multiplexed.
#[derive(Debug, Default)]
pub struct Chat {
    /// Socket id (in `/`) → nickname.
    nicks: HashMap<String, String>,
}

/// The events the chat understands, for the welcome message.
const CHAT_EVENTS: [&str; 6] = ["nick", "join", "leave", "chat message", "private", "typing"];

impl Chat {
    pub fn event(&mut self, io: &mut Server, event: &AppEvent) {
        match event {
            AppEvent::Connected {
                namespace, socket, ..
            } => {
                let _ = if namespace == NEWS {
                    let hello = "this is /news: the chat posts here";
                    io.socket(namespace, socket)
                        .emit("news", vec![json!(hello).into()])
                } else {
                    let welcome = json!({"id": socket, "events": CHAT_EVENTS});
                    io.socket(namespace, socket)
                        .emit("welcome", vec![welcome.into()])
                };
            }
            AppEvent::Disconnected {
                namespace, socket, ..
            } if namespace == "/" => {
                let nick = self.nicks.remove(socket);
                let gone = json!({"id": socket, "nick": nick});
                let _ = io.of(namespace).emit("gone", vec![gone.into()]);
            }
            AppEvent::Event {
                namespace,
                socket,
                name,
                args,
                ack,
            } if namespace == "/" => {
                let done = self.command(io, socket, name, args);
                if let Some(id) = ack {
                    let answer = match done {
                        Ok(()) => json!({"ok": true}),
                        Err(e) => json!({ "error": e }),
                    };
                    let _ = io.ack(namespace, socket, *id, vec![answer.into()]);
                }
            }
            _ => {}
        }
    }

    /// Carry out one event from socket `me` in `/`.
    fn command(
        &mut self,
        io: &mut Server,
        me: &str,
        name: &str,
        args: &[Data],
    ) -> Result<(), String> {
        let arg = args.first().and_then(Data::as_json);
        let nick = self.nicks.get(me).cloned();
        // Who speaks, as every event about a socket names it.
        let from = |text: &str| json!({"from": me, "nick": nick, "text": text});
        let done = match name {
            "nick" => {
                let new = text(arg, "a nickname")?;
                self.nicks.insert(me.to_owned(), new.clone());
                let old = nick.unwrap_or_else(|| me.to_owned());
                news(io, &format!("{old} is now called {new}"));
                io.of("/")
                    .emit("nick", vec![json!({"id": me, "nick": new}).into()])
            }
            "join" | "leave" => {
                let room = text(arg, "a room name")?;
                let about = vec![json!({"id": me, "nick": nick, "room": room}).into()];
                if name == "join" {
                    io.socket("/", me).join(&room).map_err(|e| e.to_string())?;
                    news(
                        io,
                        &format!("{} joined {room}", nick.as_deref().unwrap_or(me)),
                    );
                    io.of("/").to(&room).emit("joined", about)
                } else {
                    // Said before leaving, so the one who leaves hears it too.
                    let said = io.of("/").to(&room).emit("left", about);
                    said.and_then(|()| io.socket("/", me).leave(&room))
                }
            }
            "chat message" => match arg {
                Some(Value::Object(o)) => {
                    let room = text(o.get("room"), "room")?;
                    let mut body = from(&text(o.get("text"), "text")?);
                    body["room"] = json!(room);
                    io.socket("/", me).to(&room).emit(name, vec![body.into()])
                }
                _ => {
                    let body = from(&text(arg, "a message")?);
                    io.socket("/", me).broadcast().emit(name, vec![body.into()])
                }
            },
            "private" => {
                let to = text(arg.and_then(|a| a.get("to")), "to")?;
                let body = from(&text(arg.and_then(|a| a.get("text")), "text")?);
                if to == me || !io.sockets("/").contains(&to) {
                    return Err(format!("no other socket {to:?} here"));
                }
                io.socket("/", &to).emit("private", vec![body.into()])
            }
            "typing" => {
                let who = vec![json!({"from": me, "nick": nick}).into()];
                match arg {
                    Some(Value::String(room)) => io.socket("/", me).to(room),
                    _ => io.socket("/", me).broadcast(),
                }
                .volatile()
                .emit("typing", who)
            }
            _ => return Err(format!("the chat has no event {name:?}")),
        };
        done.map_err(|e: EmitError| e.to_string())
    }
}

/// A string of 1 to [`MAX_TEXT`] characters, or an error naming `what` was expected.
fn text(value: Option<&Value>, what: &str) -> Result<String, String> {
    match value {
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_TEXT => Ok(s.clone()),
        _ => Err(format!(
            "{what} must be a string of 1 to {MAX_TEXT} characters"
        )),
    }
}

/// Post to the `/news` namespace (`io.of("/news").emit("news", text)`).
fn news(io: &mut Server, text: &str) {
    let _ = io.of(NEWS).emit("news", vec![json!(text).into()]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::application::socketio::{Action, EngineMessage, Options};
    use std::time::Duration;

    /// A machine with the chat's namespaces and ids `s0`, `s1`, …
    fn machine() -> Server {
        let mut n = 0;
        let ids = move || {
            n += 1;
            format!("s{}", n - 1)
        };
        let mut io = Server::new(Options::default(), Box::new(ids));
        io.add_namespace(NEWS, false);
        io
    }

    /// Feed `text` from `session`, let the chat answer; the sends, in order, as
    /// (session, text, volatile).
    fn step(
        io: &mut Server,
        chat: &mut Chat,
        session: &str,
        text: &str,
    ) -> Vec<(String, String, bool)> {
        io.message(session, EngineMessage::Text(text.into()), Duration::ZERO);
        let mut sent = Vec::new();
        while let Some(action) = io.poll_action() {
            match action {
                Action::Send {
                    session,
                    messages,
                    volatile,
                    ..
                } => {
                    for m in messages.iter() {
                        if let EngineMessage::Text(t) = m {
                            sent.push((session.clone(), t.clone(), volatile));
                        }
                    }
                }
                Action::App(e) => chat.event(io, &e),
                Action::Close { .. } => {}
            }
        }
        sent
    }

    fn two_in_the_chat() -> (Server, Chat) {
        let (mut io, mut chat) = (machine(), Chat::default());
        for session in ["a", "b"] {
            io.open(session, Duration::ZERO);
            step(&mut io, &mut chat, session, "0");
        }
        (io, chat)
    }

    #[test]
    fn a_message_is_acknowledged_after_its_broadcast() {
        let (mut io, mut chat) = two_in_the_chat();
        let sent = step(&mut io, &mut chat, "a", r#"27["chat message","hi"]"#);
        assert_eq!(
            sent,
            [
                (
                    "b".into(),
                    r#"2["chat message",{"from":"s0","nick":null,"text":"hi"}]"#.into(),
                    false
                ),
                ("a".into(), r#"37[{"ok":true}]"#.into(), false),
            ]
        );
    }

    #[test]
    fn typing_is_volatile_and_errors_are_acknowledged() {
        let (mut io, mut chat) = two_in_the_chat();
        let sent = step(&mut io, &mut chat, "a", r#"2["typing"]"#);
        assert_eq!(
            sent,
            [(
                "b".into(),
                r#"2["typing",{"from":"s0","nick":null}]"#.into(),
                true
            )]
        );
        let sent = step(
            &mut io,
            &mut chat,
            "a",
            r#"21["private",{"to":"s9","text":"x"}]"#,
        );
        assert_eq!(
            sent,
            [(
                "a".into(),
                r#"31[{"error":"no other socket \"s9\" here"}]"#.into(),
                false
            )]
        );
        let sent = step(&mut io, &mut chat, "b", r#"22["nick",""]"#);
        let refused = r#"32[{"error":"a nickname must be a string of 1 to 500 characters"}]"#;
        assert_eq!(sent, [("b".into(), refused.into(), false)]);
    }

    #[test]
    fn a_room_message_reaches_the_room_but_not_the_sender_nor_the_others() {
        let (mut io, mut chat) = two_in_the_chat();
        io.open("c", Duration::ZERO);
        step(&mut io, &mut chat, "c", "0");
        step(&mut io, &mut chat, "a", r#"2["join","r"]"#);
        step(&mut io, &mut chat, "b", r#"2["join","r"]"#);
        let sent = step(
            &mut io,
            &mut chat,
            "a",
            r#"2["chat message",{"room":"r","text":"yo"}]"#,
        );
        let to_room = r#"2["chat message",{"from":"s0","nick":null,"room":"r","text":"yo"}]"#;
        assert_eq!(sent, [("b".into(), to_room.into(), false)]);
    }
}

#[cfg(test)]
mod bench_tests {
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
