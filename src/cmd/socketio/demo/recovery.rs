//! The demo's last server: short heartbeats and connection state recovery on. A raw
//! Engine.IO client that stops answering pings, then a client that loses its connection,
//! misses an event, and gets it back.

use super::app::SeenLog;
use super::{next_heard, Carrier, Side, Step, WireMsg, READ_LIMIT};
use crate::error::HintExt;
use crate::net::socketio::client::{Heard, SioClient};
use crate::net::socketio::PATH;
use crate::net::ws::{self, Received, WsConfig, WsUrl};
use crate::wire::application::socketio::{Data, EngineMessage};
use crate::wire::application::websocket::Message as WsMessage;
use serde::Serialize;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The heartbeat of this server (short, so the demo sees it).
pub const PING_INTERVAL: Duration = Duration::from_millis(400);
pub const PING_TIMEOUT: Duration = Duration::from_millis(300);

/// What the heartbeat step measured.
#[derive(Debug, Clone, Serialize)]
pub struct Heartbeat {
    /// What the open packet announced.
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
    /// From the open packet to the first ping, and from the pong to the second ping.
    pub pings_after_ms: Vec<u64>,
    /// From the unanswered ping to the end of the connection.
    pub closed_after_ms: u64,
    /// Why the server closed the session, in its own words.
    pub reason: String,
}

/// What the recovery step measured.
#[derive(Debug, Clone, Serialize)]
pub struct Recovery {
    /// The private session id of the CONNECT answer (only this client sees it).
    pub pid: String,
    /// The last offset the client received before its connection dropped.
    pub offset: String,
    pub socket_before: String,
    pub socket_after: String,
    /// The events that reached the client on its return, before the CONNECT answer.
    pub replayed: Vec<String>,
    /// The server's word: was the socket recovered?
    pub recovered: bool,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Why the server says session `sid` closed: its report reaches the application a moment
/// after the connection ends, so look a few times (bounded).
async fn closed_reason(seen: &SeenLog, sid: &str) -> String {
    for _ in 0..READ_LIMIT {
        let reason = seen.lock().ok().and_then(|s| {
            s.closes
                .iter()
                .find(|(session, _)| session == sid)
                .map(|(_, r)| (*r).to_owned())
        });
        if let Some(r) = reason {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    "not reported".into()
}

/// A raw client answers one ping, then stays silent.
pub async fn heartbeat(port: u16, seen: &SeenLog) -> anyhow::Result<(Step, Heartbeat)> {
    let url = WsUrl {
        host: "127.0.0.1".into(),
        port,
        resource: format!("{PATH}?EIO=4&transport=websocket"),
    };
    let mut ws = ws::connect(&url, WsConfig::default(), &[])
        .await
        .map_err(|e| e.error)
        .failed("the heartbeat client could not connect")?;
    let mut wire = Vec::new();
    let mut pings_after_ms = Vec::new();
    let mut since = Instant::now();
    let limit = PING_INTERVAL + PING_TIMEOUT + Duration::from_secs(5);
    let mut closed_after_ms = None;
    for _ in 0..READ_LIMIT {
        let r = tokio::time::timeout(limit, ws.recv())
            .await
            .failed("the heartbeat server said nothing")?;
        let text = match r {
            Ok(Received::Message(m)) => String::from_utf8_lossy(&m.payload).into_owned(),
            Ok(Received::Ping(_) | Received::Pong(_)) => continue,
            _ => {
                closed_after_ms = Some(ms(since.elapsed()));
                break;
            }
        };
        wire.push(WireMsg::new(Side::Server, Carrier::WebSocket, &text));
        if text == "2" {
            pings_after_ms.push(ms(since.elapsed()));
            if pings_after_ms.len() == 1 {
                wire.push(WireMsg::new(Side::Client, Carrier::WebSocket, "3"));
                ws.send(&WsMessage::text("3"))
                    .await
                    .failed("could not answer the ping")?;
            }
        }
        since = Instant::now();
    }
    let closed_after_ms = closed_after_ms.unwrap_or_default();
    // The open packet: the session's id and the heartbeat it announced.
    let open = wire
        .first()
        .and_then(|w| w.text.strip_prefix('0'))
        .and_then(|j| serde_json::from_str::<Value>(j).ok())
        .unwrap_or_default();
    let sid = open["sid"].as_str().unwrap_or_default();
    let reason = closed_reason(seen, sid).await;
    let facts = Heartbeat {
        ping_interval_ms: open["pingInterval"].as_u64().unwrap_or_default(),
        ping_timeout_ms: open["pingTimeout"].as_u64().unwrap_or_default(),
        pings_after_ms,
        closed_after_ms,
        reason,
    };
    let step = Step {
        title: "Heartbeats: the server pings, the client answers",
        why: "A connection can die without a word (a cable pulled, a laptop asleep): TCP \
              would not notice for a long time. So the Engine.IO server sends a ping `2` \
              every pingInterval and expects a pong `3` within pingTimeout. This server \
              uses short times; this client answers the first ping only.",
        wire,
        saw: heartbeat_saw(&facts),
    };
    Ok((step, facts))
}

fn heartbeat_saw(h: &Heartbeat) -> Vec<String> {
    let mut saw = Vec::new();
    if let [first, second, ..] = h.pings_after_ms[..] {
        saw.push(format!(
            "the first ping came {first} ms after the open packet, the second {second} ms \
             after the pong (pingInterval is {} ms)",
            h.ping_interval_ms
        ));
    }
    saw.push(format!(
        "the second ping went unanswered: the server closed the connection {} ms later \
         (pingTimeout is {} ms), reason `{}`",
        h.closed_after_ms, h.ping_timeout_ms, h.reason
    ));
    saw
}

/// The last argument of an event: its offset when recovery is on.
fn offset_of(args: &[Data]) -> Option<String> {
    args.last()
        .and_then(Data::as_json)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

async fn joined(sio: &mut SioClient) -> anyhow::Result<String> {
    for _ in 0..READ_LIMIT {
        if let Heard::Connected { sid } = next_heard(sio).await? {
            return Ok(sid);
        }
    }
    anyhow::bail!("no CONNECT answer")
}

/// Read until the event `name` comes; returns its arguments.
async fn until(sio: &mut SioClient, name: &str) -> anyhow::Result<Vec<Data>> {
    for _ in 0..READ_LIMIT {
        if let Heard::Event { name: n, args, .. } = next_heard(sio).await? {
            if n == name {
                return Ok(args);
            }
        }
    }
    anyhow::bail!("no {name:?} event came")
}

/// What a client sent and received since the last call, as on the wire. The first call
/// after `connect` starts with Engine.IO's open packet; every later text is a Socket.IO
/// packet inside an Engine.IO message (`4`).
fn texts(sio: &mut SioClient) -> Vec<WireMsg> {
    sio.take_wire()
        .into_iter()
        .enumerate()
        .filter_map(|(i, w)| match w.message {
            EngineMessage::Text(t) if i == 0 && !w.outgoing && t.starts_with('0') => {
                Some(WireMsg::new(Side::Server, Carrier::WebSocket, &t))
            }
            EngineMessage::Text(t) => {
                let side = if w.outgoing {
                    Side::Client
                } else {
                    Side::Server
                };
                Some(WireMsg::new(side, Carrier::WebSocket, &format!("4{t}")))
            }
            EngineMessage::Binary(_) => None,
        })
        .collect()
}

async fn connect(port: u16, auth: Value) -> anyhow::Result<SioClient> {
    SioClient::connect(
        "127.0.0.1",
        port,
        "/",
        auth.as_object().filter(|a| !a.is_empty()).cloned(),
        WsConfig::default(),
    )
    .await
    .failed("a recovery client could not connect")
}

/// X loses its connection, Y emits, X comes back with its pid and last offset.
pub async fn recovery(port: u16, seen: &SeenLog) -> anyhow::Result<(Step, Recovery)> {
    let mut x = connect(port, json!({})).await?;
    let socket_before = joined(&mut x).await?;
    let mut y = connect(port, json!({})).await?;
    joined(&mut y).await?;
    y.emit("news", vec![json!("first").into()], false)
        .await
        .failed("Y could not emit")?;
    let offset = offset_of(&until(&mut x, "news").await?).unwrap_or_default();
    until(&mut y, "news").await?;
    let mut wire = texts(&mut x);
    let pid = wire
        .iter()
        .filter(|w| w.from == Side::Server)
        .find_map(|w| w.text.strip_prefix("40"))
        .and_then(|j| serde_json::from_str::<Value>(j).ok())
        .and_then(|v| v["pid"].as_str().map(str::to_owned))
        .unwrap_or_default();
    // The connection drops: no DISCONNECT packet, no close frame.
    drop(x);
    until(&mut y, "gone").await?;
    y.emit("news", vec![json!("while X was away").into()], false)
        .await
        .failed("Y could not emit")?;
    until(&mut y, "news").await?;
    let auth = json!({ "pid": pid, "offset": offset });
    let mut x = connect(port, auth).await?;
    let mut replayed = Vec::new();
    let socket_after = loop {
        match next_heard(&mut x).await? {
            Heard::Event { name, args, .. } => {
                let shown: Vec<Value> = args.iter().filter_map(|a| a.as_json().cloned()).collect();
                replayed.push(format!("{name} {}", Value::Array(shown)));
            }
            Heard::Connected { sid } => break sid,
            _ => {}
        }
    };
    wire.extend(texts(&mut x));
    let recovered = seen
        .lock()
        .ok()
        .and_then(|s| s.connects.last().map(|c| c.1))
        .unwrap_or(false);
    let _ = x.disconnect().await;
    let _ = y.disconnect().await;
    let facts = Recovery {
        pid,
        offset,
        socket_before,
        socket_after,
        replayed,
        recovered,
    };
    let step = Step {
        title: "A missed event, recovered (connection state recovery)",
        why: "Client X's connection drops without a word; client Y emits while X is away. \
              With connection state recovery on, the server keeps X's socket id, rooms and \
              the events it emits (each with an offset as last argument) for a while. X \
              comes back with the private id `pid` of its first CONNECT answer and the last \
              offset it saw, in its CONNECT's auth.",
        wire,
        saw: recovery_saw(&facts),
    };
    Ok((step, facts))
}

fn recovery_saw(r: &Recovery) -> Vec<String> {
    let same = if r.socket_before == r.socket_after {
        "the same socket id as before"
    } else {
        "a new socket id"
    };
    vec![
        format!(
            "X came back with pid {} and offset {}; the server sent {} missed event(s) \
             first: {}",
            r.pid,
            r.offset,
            r.replayed.len(),
            r.replayed.join(", ")
        ),
        format!(
            "then its CONNECT answer, with {same} ({}); the server reported the socket as {}",
            r.socket_after,
            if r.recovered { "recovered" } else { "new" }
        ),
    ]
}
