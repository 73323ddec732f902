//! `netlab socketio demo`: one narrated run of Socket.IO on loopback, every byte shown.
//!
//! Two netlab servers (`net::socketio::serve`) run in this process with the demo's own
//! application ([`app`]), and clients talk to them:
//!
//! 1. a client written out by hand ([`polling`]): the long-polling handshake over raw HTTP
//!    requests, a namespace joined, emits both ways, an acknowledgement, the upgrade
//!    (`2probe`, `3probe`, `5`) and a second namespace on the same WebSocket;
//! 2. six `SioClient`s in different rooms and namespaces, and the course's emit
//!    cheatsheet run line by line ([`cheatsheet`]): who received each line;
//! 3. a `volatile` event to a polling client with no GET waiting;
//! 4. on a second server with short heartbeats and connection state recovery on
//!    ([`recovery`]): a client that stops answering pings, and a missed event recovered.
//!
//! Everything the report says is read from what the clients received and the server
//! reported in this run.

pub mod app;
pub mod cheatsheet;
pub mod polling;
pub mod recovery;
pub mod render;

use crate::error::HintExt;
use crate::net::socketio::client::{Heard, SioClient};
use crate::net::socketio::{self, engine_config};
use crate::output::Output;
use crate::wire::application::socketio::{Options, RecoveryOptions};
use app::{DemoApp, SeenLog, ADMIN};
use cheatsheet::Cheatsheet;
use polling::Polling;
use recovery::{Heartbeat, Recovery};
use serde::Serialize;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The most packets any one wait reads before giving up (every wait is bounded).
pub const READ_LIMIT: usize = 64;

/// How long a client waits for the server's next packet.
const WAIT: Duration = Duration::from_secs(5);

/// Who sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Client,
    Server,
}

/// What carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    /// The body of a POST request.
    HttpPost,
    /// The body of the answer to a GET.
    HttpGet,
    /// A WebSocket text frame.
    WebSocket,
}

/// One Engine.IO message (or polling body) as it travelled.
#[derive(Debug, Clone, Serialize)]
pub struct WireMsg {
    pub from: Side,
    pub carrier: Carrier,
    /// The text, escaped (the record separator of a polling body shows as `\x1e`).
    pub text: String,
    pub bytes: usize,
}

impl WireMsg {
    pub fn new(from: Side, carrier: Carrier, text: &str) -> WireMsg {
        WireMsg {
            from,
            carrier,
            text: shown(text),
            bytes: text.len(),
        }
    }
}

/// A message as text: control characters (the record separator between the packets of
/// a polling body) as `\xNN`, the rest as it is.
fn shown(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            s.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            s.push(c);
        }
    }
    s
}

/// One narrated step: why, what travelled, what that shows.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub title: &'static str,
    pub why: &'static str,
    pub wire: Vec<WireMsg>,
    /// What this run shows, worked out from the wire and the server's reports.
    pub saw: Vec<String>,
}

/// The facts of the hand-written client's steps.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    /// Engine.IO's session id.
    pub sid: String,
    pub upgrades: Vec<String>,
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
    pub max_payload: u64,
    /// The socket id in `/` (the CONNECT answer), and in `/admin` on the same session.
    pub socket: String,
    pub admin_socket: String,
    /// The acknowledgement's answer, and the time from its POST to the GET's answer.
    pub ack_answer: String,
    pub ack_round_trip_us: u64,
    /// What the GET waiting during the upgrade received.
    pub released_get: Vec<String>,
    /// The welcome after the upgrade arrived over the WebSocket.
    pub after_upgrade: String,
}

/// The volatile step's facts.
#[derive(Debug, Clone, Serialize)]
pub struct Volatile {
    /// What the server emitted to the polling client, in order.
    pub emitted: Vec<String>,
    /// What its next GET received.
    pub delivered: Vec<String>,
    pub dropped: bool,
}

/// Everything the demo did and saw.
#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub url: String,
    /// The hand-written client's steps, before the cheatsheet.
    pub steps: Vec<Step>,
    /// The steps after it: volatile, heartbeat, recovery.
    pub later: Vec<Step>,
    pub session: Session,
    pub cheatsheet: Cheatsheet,
    pub volatile: Volatile,
    pub heartbeat: Heartbeat,
    pub recovery: Recovery,
}

/// Run the demo and print its report.
pub async fn run(out: &mut Output) -> anyhow::Result<()> {
    let report = demo().await?;
    out.report(&report)?;
    Ok(())
}

/// A server running in this process; [`Running::stop`] shuts it down.
struct Running {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    seen: SeenLog,
}

impl Running {
    async fn start(
        options: Options,
        ping: Option<(Duration, Duration)>,
    ) -> anyhow::Result<Running> {
        let mut config = engine_config();
        if let Some((interval, timeout)) = ping {
            config.session.ping_interval = interval;
            config.session.ping_timeout = timeout;
        }
        let engine = socketio::bind("127.0.0.1:0".parse()?, config)
            .await
            .failed("could not listen on 127.0.0.1")?;
        let addr = engine.local_addr();
        let mut io = socketio::machine(options);
        io.add_namespace(ADMIN, false);
        let seen = SeenLog::default();
        let app = DemoApp::new(seen.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(socketio::serve(engine, io, app, shutdown));
        Ok(Running {
            addr,
            stop,
            task,
            seen,
        })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// Run the demo without printing (the tour shows it between its own words).
pub async fn demo() -> anyhow::Result<DemoReport> {
    let main = Running::start(Options::default(), None).await?;
    let addr = main.addr;
    let (steps, session, upgraded) = by_hand(addr).await?;
    let cheatsheet = cheatsheet::run(addr.port()).await?;
    let (step, volatile) = volatile(addr, upgraded).await?;
    let mut later = vec![step];
    main.stop().await;

    let options = Options {
        recovery: Some(RecoveryOptions::default()),
        ..Options::default()
    };
    let ping = (recovery::PING_INTERVAL, recovery::PING_TIMEOUT);
    let second = Running::start(options, Some(ping)).await?;
    let (step, heartbeat) = recovery::heartbeat(second.addr.port(), &second.seen).await?;
    later.push(step);
    let (step, recovery) = recovery::recovery(second.addr.port(), &second.seen).await?;
    later.push(step);
    second.stop().await;
    Ok(DemoReport {
        url: format!("http://{addr}{}", socketio::PATH),
        steps,
        later,
        session,
        cheatsheet,
        volatile,
        heartbeat,
        recovery,
    })
}

/// The next thing a `SioClient` hears, within the demo's `WAIT`.
pub async fn next_heard(sio: &mut SioClient) -> anyhow::Result<Heard> {
    tokio::time::timeout(WAIT, sio.next())
        .await
        .failed("the server said nothing for 5 s")?
        .failed("a demo client failed")
}

/// The JSON after `prefix` in the first packet that starts with it.
fn json_after(packets: &[String], prefix: &str) -> serde_json::Value {
    packets
        .iter()
        .find_map(|p| p.strip_prefix(prefix))
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default()
}

/// Join the main namespace over polling (POST `40`, then GET its answer): the socket id.
async fn join_main(p: &mut Polling) -> anyhow::Result<String> {
    p.post(&["40"]).await?;
    let get = p.get().await?;
    let connected = p.got(get).await?;
    Ok(json_after(&connected, "40")["sid"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// Steps 1 to 5: the hand-written client, polling then WebSocket.
async fn by_hand(addr: SocketAddr) -> anyhow::Result<(Vec<Step>, Session, polling::Upgraded)> {
    let (mut p, open) = Polling::open(addr).await?;
    let info = crate::wire::application::engineio::OpenInfo::from_json(&open)?;
    let mut steps = vec![Step {
        title: "The handshake, over HTTP long-polling",
        why: "A Socket.IO client starts with plain HTTP requests: an HTTP request gets \
              through wherever the web does (proxies, firewalls, networks that refuse \
              WebSocket), and that is all it needs to open a session. The answer to its first \
              GET is Engine.IO's open packet: type `0`, then JSON.",
        wire: std::mem::take(&mut p.wire),
        saw: vec![format!(
            "the server named the session {}, offers the upgrade(s) {:?}, will ping every {} \
             ms and wait {} ms for each pong, and takes request bodies up to {} bytes",
            info.sid, info.upgrades, info.ping_interval, info.ping_timeout, info.max_payload
        )],
    }];
    let socket = join_main(&mut p).await?;
    steps.push(Step {
        title: "Joining the main namespace",
        why: "Engine.IO only carries messages; Socket.IO starts inside them. Every Engine.IO \
              message begins with `4`, and the Socket.IO packet follows: `0` is CONNECT, so \
              the client POSTs `40` (join `/`) and its next GET brings the answer.",
        wire: std::mem::take(&mut p.wire),
        saw: vec![format!(
            "the socket id {socket} is not the session id {}: a session can carry one socket \
             in each namespace",
            info.sid
        )],
    });
    let (step, ack_answer, ack_round_trip_us) = emits_over_polling(&mut p).await?;
    steps.push(step);
    let (up, released) = p.upgrade().await?;
    let (mut steps2, admin_socket, after_upgrade, up) = upgraded(up, &released).await?;
    steps.append(&mut steps2);
    let session = Session {
        sid: info.sid,
        upgrades: info.upgrades,
        ping_interval_ms: info.ping_interval,
        ping_timeout_ms: info.ping_timeout,
        max_payload: info.max_payload,
        socket,
        admin_socket,
        ack_answer,
        ack_round_trip_us,
        released_get: released,
        after_upgrade,
    };
    Ok((steps, session, up))
}

/// Step 3: an emit each way and an acknowledgement, over polling.
async fn emits_over_polling(p: &mut Polling) -> anyhow::Result<(Step, String, u64)> {
    // A GET waits first, as the real client keeps one waiting.
    let get = p.get().await?;
    p.post(&[r#"42["hello","from polling"]"#]).await?;
    let welcome = p.got(get).await?;
    let get = p.get().await?;
    let t0 = Instant::now();
    p.post(&[r#"421["add",2,3]"#]).await?;
    let answer = p.got(get).await?;
    let rt = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
    let ack = answer.iter().find(|a| a.starts_with("431")).cloned();
    let step = Step {
        title: "Emits both ways, and an acknowledgement",
        why: "The client's events go up in POST bodies; the server's come down as the answer \
              to a GET the client keeps waiting (long polling). `2` is EVENT. An event that \
              wants an answer carries an ack id after the type (`421…`: id 1); the answer is \
              an ACK packet `3` with the same id.",
        wire: std::mem::take(&mut p.wire),
        saw: vec![
            format!(
                "the server's EVENT came back in the waiting GET: {}",
                welcome.join(" ")
            ),
            format!(
                "the acknowledgement {} came {rt} µs after the POST, as the answer to the \
                 waiting GET",
                ack.as_deref().unwrap_or("did not come")
            ),
        ],
    };
    Ok((step, ack.unwrap_or_default(), rt))
}

/// Steps 4 and 5: the upgrade, then a second namespace on the same WebSocket.
async fn upgraded(
    mut up: polling::Upgraded,
    released: &[String],
) -> anyhow::Result<(Vec<Step>, String, String, polling::Upgraded)> {
    up.send(r#"42["hello","from websocket"]"#).await?;
    let after = up.next().await?;
    let probe_answer = up
        .wire
        .iter()
        .find(|w| w.text.contains("probe") && w.from == Side::Server)
        .map(|w| w.text.clone())
        .unwrap_or_default();
    let mut steps = vec![Step {
        title: "The upgrade to WebSocket",
        why: "Polling costs a request per message each way. With the session open, the \
              client opens a WebSocket carrying the same sid and probes it (`2probe`, a ping): \
              a proxy might have let the handshake through and still block the frames. Only \
              when `3probe` comes back does it send `5` (upgrade); the server first answers \
              the waiting GET with `6` (noop) so that polling stops cleanly. Nothing is lost \
              or reordered across the switch.",
        wire: std::mem::take(&mut up.wire),
        saw: vec![
            format!(
                "the probe came back as {probe_answer}; the waiting GET was answered with {}",
                released.join(" ")
            ),
            format!("after `5`, the server's EVENT arrived in a WebSocket frame: {after}"),
        ],
    }];
    up.send("40/admin,").await?;
    let joined = up.next().await?;
    let admin = json_after(std::slice::from_ref(&joined), "40/admin,")["sid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    up.send(r#"42/admin,["hello","from /admin"]"#).await?;
    let welcome = up.next().await?;
    steps.push(Step {
        title: "A second namespace on the same connection",
        why: "A namespace is a channel inside one connection. A packet for a namespace \
              other than `/` names it, followed by a comma: `40/admin,` joins `/admin`.",
        wire: std::mem::take(&mut up.wire),
        saw: vec![format!(
            "one Engine.IO session now carries two sockets: the one in / and {admin} in \
             /admin; the answer in /admin: {welcome}"
        )],
    });
    Ok((steps, admin, after, up))
}

/// Step: a volatile event to a polling client with no GET waiting, then a normal one.
async fn volatile(addr: SocketAddr, mut up: polling::Upgraded) -> anyhow::Result<(Step, Volatile)> {
    let (mut p, _) = Polling::open(addr).await?;
    let socket = join_main(&mut p).await?;
    p.wire.clear();
    // The upgraded client asks the server to emit to the polling client, and waits for
    // the acknowledgement: both emits are done when it comes.
    up.send(&format!(r#"422["volatile-to","{socket}"]"#))
        .await?;
    for _ in 0..READ_LIMIT {
        if up.next().await?.starts_with("432") {
            break;
        }
    }
    let get = p.get().await?;
    let delivered = p.got(get).await?;
    up.close().await;
    let emitted = vec![
        r#"42["tick",1] (volatile)"#.to_owned(),
        r#"42["tick",2]"#.to_owned(),
    ];
    let dropped = !delivered.iter().any(|d| d == r#"42["tick",1]"#);
    let saw = vec![format!(
        "the server emitted tick 1 (volatile) and tick 2 while no GET of this client was \
         waiting; its next GET received {}: the volatile event was {}",
        delivered.join(" "),
        if dropped { "dropped" } else { "delivered" }
    )];
    let step = Step {
        title: "A volatile event to a client that cannot take it now",
        why: "`socket.volatile.emit` is for events that are worthless late (a position, \
              \"typing…\"): the server drops one when the transport cannot take it now, \
              instead of queueing it. A polling client with no GET waiting cannot be written \
              to. A new polling client joins; another client asks the server to emit two \
              ticks to it, the first volatile; then the polling client sends its GET.",
        wire: std::mem::take(&mut p.wire),
        saw,
    };
    let facts = Volatile {
        emitted,
        delivered,
        dropped,
    };
    Ok((step, facts))
}
