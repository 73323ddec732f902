//! The experiment's server application, written with the emit cheatsheet's builders: it
//! passes each `produce` event on to the room of consumers the way the mode says (plain,
//! volatile, or with an acknowledgement and a timeout, whose outcome it reports back to
//! the producer), and, when the consumer is the server itself (the client's send
//! buffer), processes the `event`s it receives.

use super::run::{Log, SharedLog};
use super::Mode;
use crate::net::socketio::App;
use crate::wire::application::socketio::{AppEvent, Data, Server};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// The room every consumer socket joins.
pub const ROOM: &str = "consumers";

/// How long the server waits for the consumer's acknowledgement.
pub const SERVER_ACK_TIMEOUT: Duration = Duration::from_millis(400);

/// An event's number: its first argument.
pub fn event_id(args: &[Data]) -> Option<u64> {
    args.first().and_then(Data::as_json).and_then(Value::as_u64)
}

fn role(auth: &Option<serde_json::Map<String, Value>>) -> &str {
    auth.as_ref()
        .and_then(|a| a.get("role"))
        .and_then(Value::as_str)
        .unwrap_or("client")
}

pub struct DeliveryApp {
    mode: Mode,
    log: SharedLog,
    /// The server's ack id → the producer's socket, its ack id, the event's number.
    pending: HashMap<u64, (String, u64, u64)>,
}

impl DeliveryApp {
    pub fn new(mode: Mode, log: SharedLog) -> DeliveryApp {
        DeliveryApp {
            mode,
            log,
            pending: HashMap::new(),
        }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn produce(&mut self, io: &mut Server, producer: &str, id: u64, ack: Option<u64>) {
        let args = || vec![Data::from(json!(id))];
        match self.mode {
            // Mode 7 is served by the queue broker (`queue.rs`), never by this application.
            Mode::Emit | Mode::Recovery | Mode::Buffer | Mode::Queue => {
                let _ = io.to(ROOM).emit("event", args());
            }
            Mode::Volatile => {
                let _ = io.to(ROOM).volatile().emit("event", args());
            }
            Mode::Ack | Mode::Dedup => {
                let asked = io
                    .to(ROOM)
                    .timeout(SERVER_ACK_TIMEOUT)
                    .emit_with_ack("event", args());
                match (asked, ack) {
                    (Ok(sid), Some(pack)) => {
                        self.pending.insert(sid, (producer.to_owned(), pack, id));
                    }
                    (Err(_), Some(pack)) => {
                        let _ = io.ack("/", producer, pack, vec![json!(false).into()]);
                    }
                    _ => {}
                }
            }
        }
        self.log()
            .note("server", format!("passed #{id} on"), Some(id));
    }

    /// The consumer's answer came (or its time ran out): tell the producer.
    fn answer(&mut self, io: &mut Server, sid: u64, ok: bool) {
        let Some((producer, pack, id)) = self.pending.remove(&sid) else {
            return;
        };
        let _ = io.ack("/", &producer, pack, vec![json!(ok).into()]);
        let what = if ok {
            format!("the consumer acknowledged #{id}: told the producer")
        } else {
            format!("no acknowledgement for #{id} in time: told the producer to retry")
        };
        self.log().note("server", what, Some(id));
    }
}

impl App for DeliveryApp {
    fn event(&mut self, io: &mut Server, event: AppEvent) {
        match event {
            AppEvent::Connected {
                socket,
                auth,
                recovered,
                ..
            } => {
                let role = role(&auth).to_owned();
                if role == "consumer" {
                    let _ = io.socket("/", &socket).join(ROOM);
                }
                let how = if recovered {
                    ": recovered, missed events replayed"
                } else {
                    ""
                };
                self.log()
                    .note("server", format!("the {role} joined{how}"), None);
            }
            AppEvent::Event {
                socket,
                name,
                args,
                ack,
                ..
            } => match (name.as_str(), event_id(&args)) {
                ("produce", Some(id)) => self.produce(io, &socket, id, ack),
                ("event", Some(id)) if self.mode == Mode::Buffer => {
                    let mut log = self.log();
                    let at = log.elapsed();
                    log.observed.processed.push((id, at));
                    log.note("server", format!("processed #{id}"), Some(id));
                }
                _ => {}
            },
            AppEvent::Acked { id, responses, .. } => self.answer(io, id, !responses.is_empty()),
            AppEvent::AckTimedOut { id, .. } => self.answer(io, id, false),
            AppEvent::Disconnected { reason, .. } => {
                let what = format!("a socket left: {}", reason.as_str());
                self.log().note("server", what, None);
            }
            _ => {}
        }
    }
}
