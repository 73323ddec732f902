//! The server-side application of `netlab socketio demo`, written with the emit
//! cheatsheet's builders (`io.socket(ns, id).to(room).emit(..)`): what the demo's clients
//! ask, it does, and it tells the demo driver what it saw through a shared log.

use super::cheatsheet::{Op, LINES};
use crate::net::socketio::{App, SessionEvent};
use crate::wire::application::socketio::{AppEvent, Data, Server};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The namespace besides `/` that the demo's server has.
pub const ADMIN: &str = "/admin";

/// How long the cheatsheet's emits with ack wait for their answers.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(2);

/// What the server saw, for the driver to report: Engine.IO session closes (with their
/// reason) and sockets connecting (with whether recovery gave their state back).
#[derive(Debug, Default)]
pub struct Seen {
    pub closes: Vec<(String, &'static str)>,
    pub connects: Vec<(String, bool)>,
}

pub type SeenLog = Arc<Mutex<Seen>>;

/// The demo's application.
pub struct DemoApp {
    /// Socket id → the name its client gave in its CONNECT auth (`{"name":"A"}`).
    names: HashMap<String, String>,
    /// Emit-with-ack id → the socket that ran the cheatsheet line, and the line.
    pending: HashMap<u64, (String, usize)>,
    seen: SeenLog,
}

impl DemoApp {
    pub fn new(seen: SeenLog) -> DemoApp {
        DemoApp {
            names: HashMap::new(),
            pending: HashMap::new(),
            seen,
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn name_of(&self, socket: &str) -> String {
        self.names
            .get(socket)
            .cloned()
            .unwrap_or_else(|| socket.to_owned())
    }

    /// The socket whose client is called `name`.
    fn socket_named(&self, name: &str) -> Option<String> {
        self.names
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map(|(s, _)| s.clone())
    }

    /// Tell every socket of both namespaces that line `i` is over: each session's messages
    /// stay in order, so a client that reads this has read all the line sent it.
    fn fence(io: &mut Server, i: usize) {
        let _ = io.of("/").emit("done", vec![json!(i).into()]);
        let _ = io.of(ADMIN).emit("done", vec![json!(i).into()]);
    }

    /// Run cheatsheet line `i` as the socket `me` of `/`.
    fn line(&mut self, io: &mut Server, me: &str, i: usize) {
        let Some(line) = LINES.get(i) else { return };
        let args = || vec![Data::from(json!(i))];
        // An emit fails only for a namespace or socket that is not there: the clients'
        // table then shows nobody receiving the line, which is what happened.
        let _ = match line.op {
            Op::SocketEmit => io.socket("/", me).emit("cheat", args()),
            // netlab's server is one node: everything is local.
            Op::IoEmit | Op::IoLocalEmit => io.of("/").emit("cheat", args()),
            Op::Broadcast => io.socket("/", me).broadcast().emit("cheat", args()),
            Op::ToRoom => io.to("room1").emit("cheat", args()),
            Op::ToRoomsExcept => io
                .of("/")
                .to("room1")
                .to("room2")
                .except("room3")
                .emit("cheat", args()),
            Op::SocketToRoom => io.socket("/", me).to("room1").emit("cheat", args()),
            Op::OfNamespace => io.of(ADMIN).emit("cheat", args()),
            Op::Private => {
                let to = self.socket_named("B").unwrap_or_default();
                io.socket("/", me).to(&to).emit("cheat", args())
            }
            Op::ToSelf => io.socket("/", me).to(me).emit("cheat", args()),
            Op::Volatile => io.socket("/", me).volatile().emit("cheat", args()),
            Op::SocketTimeout | Op::IoTimeout => {
                let asked = if line.op == Op::SocketTimeout {
                    io.socket("/", me)
                        .timeout(ACK_TIMEOUT)
                        .emit_with_ack("cheat", args())
                } else {
                    io.of("/")
                        .timeout(ACK_TIMEOUT)
                        .emit_with_ack("cheat", args())
                };
                if let Ok(id) = asked {
                    // The fence waits for the answers.
                    self.pending.insert(id, (me.to_owned(), i));
                    return;
                }
                Ok(())
            }
        };
        Self::fence(io, i);
    }

    /// The answers to an emit with ack came (or its time ran out).
    fn answered(
        &mut self,
        io: &mut Server,
        id: u64,
        responses: &[(String, Vec<Data>)],
        late: bool,
    ) {
        let Some((me, i)) = self.pending.remove(&id) else {
            return;
        };
        let mut from: Vec<String> = responses.iter().map(|(s, _)| self.name_of(s)).collect();
        from.sort();
        let body = json!({"line": i, "answers": from, "timed_out": late});
        let _ = io.socket("/", &me).emit("answers", vec![body.into()]);
        Self::fence(io, i);
    }

    fn on_event(
        &mut self,
        io: &mut Server,
        ns: &str,
        me: &str,
        name: &str,
        args: &[Data],
        ack: Option<u64>,
    ) {
        let first = args.first().and_then(Data::as_json).cloned();
        let reply: Option<Vec<Data>> = match name {
            "hello" => {
                let welcome = json!({"to": me, "namespace": ns});
                let _ = io.socket(ns, me).emit("welcome", vec![welcome.into()]);
                None
            }
            "add" => {
                let sum: i64 = args
                    .iter()
                    .filter_map(|a| a.as_json().and_then(Value::as_i64))
                    .fold(0, i64::saturating_add);
                Some(vec![json!(sum).into()])
            }
            "join" => {
                let room = first.as_ref().and_then(Value::as_str).unwrap_or_default();
                let _ = io.socket(ns, me).join(room);
                let rooms = io.rooms_of(ns, me);
                Some(vec![json!(rooms).into()])
            }
            "line" => {
                let i = first.as_ref().and_then(Value::as_u64).unwrap_or(u64::MAX);
                self.line(io, me, usize::try_from(i).unwrap_or(usize::MAX));
                None
            }
            "volatile-to" => {
                // Two ticks to a polling client: the first volatile, the second not.
                let to = first.as_ref().and_then(Value::as_str).unwrap_or_default();
                let _ = io
                    .of("/")
                    .to(to)
                    .volatile()
                    .emit("tick", vec![json!(1).into()]);
                let _ = io.of("/").to(to).emit("tick", vec![json!(2).into()]);
                Some(Vec::new())
            }
            "news" => {
                let _ = io.of(ns).emit("news", args.to_vec());
                None
            }
            _ => None,
        };
        if let (Some(id), Some(reply)) = (ack, reply) {
            let _ = io.ack(ns, me, id, reply);
        }
    }
}

impl App for DemoApp {
    fn event(&mut self, io: &mut Server, event: AppEvent) {
        match event {
            AppEvent::Connected {
                socket,
                auth,
                recovered,
                ..
            } => {
                let name = auth
                    .as_ref()
                    .and_then(|a| a.get("name"))
                    .and_then(Value::as_str);
                if let Some(name) = name {
                    self.names.insert(socket.clone(), name.to_owned());
                }
                self.seen().connects.push((socket, recovered));
            }
            AppEvent::Event {
                namespace,
                socket,
                name,
                args,
                ack,
            } => self.on_event(io, &namespace, &socket, &name, &args, ack),
            AppEvent::Acked { id, responses, .. } => self.answered(io, id, &responses, false),
            AppEvent::AckTimedOut { id, responses, .. } => self.answered(io, id, &responses, true),
            AppEvent::Disconnected {
                namespace, socket, ..
            } => {
                // To everyone but the socket that left: recovery will not replay this
                // notice to it when it comes back.
                let _ = io
                    .of(&namespace)
                    .except(&socket)
                    .emit("gone", vec![json!(socket).into()]);
            }
            _ => {}
        }
    }

    fn session(&mut self, event: SessionEvent) {
        if let SessionEvent::Closed { session, reason } = event {
            self.seen().closes.push((session, reason.as_str()));
        }
    }
}
