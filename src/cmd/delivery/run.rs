//! One run of the experiment: a netlab Socket.IO server on loopback, `netlab proxy` in
//! front of it, a producer and a consumer (netlab's client), N numbered events, one fault.
//!
//! ```text
//!   modes 1, 2, 4, 5, 6:  producer ──────────────► server ──► proxy ──► consumer
//!   mode 3:               producer ──► proxy ──► server (the consumer)
//! ```
//!
//! Mode 7, the durable queue, runs in `queue.rs` with the same log and faults.
//!
//! The connection through the proxy is the one the fault breaks. Every count comes from
//! what the consumer processed and the proxy carried in this run.

use super::app::{event_id, DeliveryApp};
use super::measure::Observed;
use super::{Fault, Mode};
use crate::net::proxy::schedule::{CutWith, FaultScript, Then};
use crate::net::proxy::{Counters, Proxy, ProxyEvent, ProxyHandle};
use crate::net::socketio::client::{Heard, Options, SioClient, TransportChoice};
use crate::net::socketio::{self, engine_config};
use crate::net::ws::WsConfig;
use crate::wire::application::engineio::client::Backoff;
use crate::wire::application::socketio::{Options as ServerOptions, RecoveryOptions};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// The server's heartbeat: short, so that a partition outlasts it quickly.
pub const PING_INTERVAL: Duration = Duration::from_millis(250);
pub const PING_TIMEOUT: Duration = Duration::from_millis(250);
/// A partition: longer than a ping interval plus its timeout.
pub const PARTITION: Duration = Duration::from_millis(800);
/// How long the producer waits for an acknowledgement before it sends again.
pub const PRODUCER_ACK_TIMEOUT: Duration = Duration::from_millis(1000);
/// The pause before a retry the server answered "not delivered".
pub const RETRY_DELAY: Duration = Duration::from_millis(150);
/// Sends per event, the first included, before the producer gives up on it.
pub const MAX_ATTEMPTS: u32 = 8;
/// How long a crashed consumer stays down.
pub const CRASH_DOWN: Duration = Duration::from_millis(200);
/// After the last send: stop once nothing was processed for this long...
const SETTLE_QUIET: Duration = Duration::from_millis(800);
/// ...or after this long at most.
const SETTLE_MAX: Duration = Duration::from_secs(3);
/// The most timeline entries a run keeps.
const TIMELINE_MAX: usize = 20_000;
/// The most sessions a consumer opens in one run (every wait is bounded).
pub const MAX_SESSIONS: usize = 50;

/// What one run is.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub mode: Mode,
    pub fault: Fault,
    pub events: u64,
    pub interval: Duration,
    /// The event at which the fault hits (`None` for no fault).
    pub fault_event: Option<u64>,
}

/// One line of a run's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub at_ms: f64,
    pub who: &'static str,
    pub what: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
}

/// What a run records as it goes (shared by its tasks).
#[derive(Debug)]
pub struct Log {
    start: Instant,
    pub observed: Observed,
    pub deduplicated: u64,
    pub no_handler: u64,
    pub gave_up: u64,
    pub timeline: Vec<Step>,
}

pub type SharedLog = Arc<Mutex<Log>>;

impl Log {
    pub fn new() -> Log {
        Log {
            start: Instant::now(),
            observed: Observed::default(),
            deduplicated: 0,
            no_handler: 0,
            gave_up: 0,
            timeline: Vec::new(),
        }
    }

    /// When the run started.
    pub fn start(&self) -> Instant {
        self.start
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn note(&mut self, who: &'static str, what: String, id: Option<u64>) {
        if self.timeline.len() < TIMELINE_MAX {
            let at_ms = (self.elapsed().as_secs_f64() * 1e4).round() / 10.0;
            self.timeline.push(Step {
                at_ms,
                who,
                what,
                id,
            });
        }
    }

    pub fn fault(&mut self, what: String, id: u64) {
        if self.observed.fault_at.is_none() {
            self.observed.fault_at = Some(self.elapsed());
        }
        self.note("fault", what, Some(id));
    }
}

impl Default for Log {
    fn default() -> Log {
        Log::new()
    }
}

/// Wait (100 ms at most) until the proxy reports `n` connections partitioned in the
/// timeline from entry `from` on: the proxy's own tasks apply a partition, and an
/// acknowledgement written before they do would get through.
pub async fn partitioned(log: &SharedLog, from: usize, n: usize) {
    for _ in 0..100 {
        let seen = {
            let l = log.lock().unwrap_or_else(|e| e.into_inner());
            let from = from.min(l.timeline.len());
            l.timeline[from..]
                .iter()
                .filter(|s| s.who == "proxy" && s.what.starts_with("partitioned"))
                .count()
        };
        if seen >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// What a run gives back.
#[derive(Debug)]
pub struct Outcome {
    pub log: Log,
    pub wire: Counters,
}

/// Everything the run's parts share.
struct Ctx {
    s: Setting,
    log: SharedLog,
    proxy: ProxyHandle,
    /// The consumer's event handler is registered.
    handler: AtomicBool,
}

impl Ctx {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A server running in this process.
struct ServerRun {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl ServerRun {
    async fn start(addr: SocketAddr, mode: Mode, log: SharedLog) -> anyhow::Result<ServerRun> {
        let mut config = engine_config();
        config.session.ping_interval = PING_INTERVAL;
        config.session.ping_timeout = PING_TIMEOUT;
        // A restarted server takes the same port: the old one may need a moment to let go.
        let mut engine = None;
        for _ in 0..40 {
            match socketio::bind(addr, config.clone()).await {
                Ok(e) => {
                    engine = Some(e);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
        let engine = match engine {
            Some(e) => e,
            None => socketio::bind(addr, config).await?,
        };
        let addr = engine.local_addr();
        let options = ServerOptions {
            recovery: (mode == Mode::Recovery).then(|| RecoveryOptions {
                max_disconnection_duration: Duration::from_secs(30),
                ..RecoveryOptions::default()
            }),
            ..ServerOptions::default()
        };
        let io = socketio::machine(options);
        let (stop, stopped) = oneshot::channel::<()>();
        let app = DeliveryApp::new(mode, log);
        let task = tokio::spawn(socketio::serve(engine, io, app, async move {
            let _ = stopped.await;
        }));
        Ok(ServerRun { addr, stop, task })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(8), self.task).await;
    }
}

pub fn client_options(role: &str) -> Options {
    let mut auth = Map::new();
    auth.insert("role".into(), Value::String(role.into()));
    Options {
        transport: TransportChoice::WebSocket,
        auth: Some(auth),
        backoff: Backoff {
            min_ms: 100,
            max_ms: 400,
            randomization: 0.0,
            attempts: 0,
        },
        ws: WsConfig {
            handshake_timeout: Duration::from_secs(1),
            close_timeout: Duration::from_millis(500),
            ..WsConfig::default()
        },
        ..Options::default()
    }
}

/// Connect, trying again (bounded) while the server or the path is down.
async fn connect(port: u16, role: &str, stop: &mut watch::Receiver<bool>) -> Option<SioClient> {
    for _ in 0..100 {
        let attempt = SioClient::connect_with("127.0.0.1", port, client_options(role));
        tokio::select! {
            r = tokio::time::timeout(Duration::from_secs(2), attempt) => {
                if let Ok(Ok(sio)) = r {
                    return Some(sio);
                }
            }
            _ = stop.changed() => return None,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Run one setting to the end.
pub async fn run(s: Setting, seed: u64) -> anyhow::Result<Outcome> {
    if s.mode == Mode::Queue {
        return super::queue::run(s, seed).await;
    }
    let log: SharedLog = Arc::new(Mutex::new(Log::new()));
    let server = ServerRun::start("127.0.0.1:0".parse()?, s.mode, log.clone()).await?;
    let proxy = Proxy::bind(
        "127.0.0.1:0".parse()?,
        server.addr,
        FaultScript::default(),
        seed,
    )?;
    let port = proxy.local_addr()?.port();
    let ctx = Arc::new(Ctx {
        s,
        log: log.clone(),
        proxy: proxy.handle(),
        handler: AtomicBool::new(s.fault != Fault::Early),
    });
    let (proxy_stop, proxy_stopped) = oneshot::channel::<()>();
    let plog = log.clone();
    let proxy_task = tokio::spawn(proxy.run(
        async move {
            let _ = proxy_stopped.await;
        },
        None,
        move |e| note_proxy(&plog, e),
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut driver = Driver {
        ctx: ctx.clone(),
        server: Some(server),
        restarting: None,
        addr: None,
    };
    driver.addr = driver.server.as_ref().map(|s| s.addr);
    let result = driver.drive(port, stop_rx).await;
    let _ = stop_tx.send(true);
    let _ = proxy_stop.send(());
    let wire = tokio::time::timeout(Duration::from_secs(5), proxy_task)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    driver.shut_down().await;
    result?;
    drop(ctx);
    let log = Arc::try_unwrap(log)
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .unwrap_or_else(|shared| copy_log(&shared));
    Ok(Outcome { log, wire })
}

/// The log, when a task that ended late still holds it.
pub fn copy_log(shared: &SharedLog) -> Log {
    let l = shared.lock().unwrap_or_else(|e| e.into_inner());
    Log {
        start: l.start,
        observed: l.observed.clone(),
        deduplicated: l.deduplicated,
        no_handler: l.no_handler,
        gave_up: l.gave_up,
        timeline: l.timeline.clone(),
    }
}

pub fn note_proxy(log: &SharedLog, e: ProxyEvent) {
    let what = match e {
        ProxyEvent::Fault { fault, .. } => crate::cmd::proxy::applied(&fault),
        ProxyEvent::Closed {
            how, lost_bytes, ..
        } => {
            let how = crate::cmd::proxy::ending(how);
            format!("connection closed ({how}), {lost_bytes} bytes never delivered")
        }
        ProxyEvent::Accepted { .. } => "a new connection".into(),
        ProxyEvent::UpstreamFailed { .. } => "the server did not take a connection".into(),
    };
    let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
    l.note("proxy", what, None);
}

/// The producer's side of a run, and the server it may restart.
struct Driver {
    ctx: Arc<Ctx>,
    server: Option<ServerRun>,
    restarting: Option<tokio::task::JoinHandle<anyhow::Result<ServerRun>>>,
    addr: Option<SocketAddr>,
}

impl Driver {
    async fn drive(&mut self, port: u16, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let s = self.ctx.s;
        let addr = self.addr.ok_or_else(|| anyhow::anyhow!("no server"))?;
        let mut consumer = None;
        // The faulty leg goes through the proxy: the consumer's, or for the send buffer the
        // producer's.
        let producer_port = if s.mode == Mode::Buffer {
            port
        } else {
            let (ready_tx, ready) = oneshot::channel();
            let ctx = self.ctx.clone();
            consumer = Some(tokio::spawn(consume(ctx, port, stop.clone(), ready_tx)));
            tokio::time::timeout(Duration::from_secs(5), ready)
                .await
                .map_err(|_| anyhow::anyhow!("the consumer could not join within 5 s"))??;
            addr.port()
        };
        let mut sio = connect(producer_port, "producer", &mut stop)
            .await
            .ok_or_else(|| anyhow::anyhow!("the producer could not connect"))?;
        joined(&mut sio).await?;
        self.produce(&mut sio).await?;
        self.settle(&mut sio).await;
        let _ = sio.disconnect().await;
        if let Some(c) = consumer {
            c.abort();
        }
        Ok(())
    }

    /// Emit the events one interval apart, the fault at its event; with acknowledgements,
    /// send again what was not acknowledged.
    async fn produce(&mut self, sio: &mut SioClient) -> anyhow::Result<()> {
        let s = self.ctx.s;
        let acked = matches!(s.mode, Mode::Ack | Mode::Dedup);
        let name = if s.mode == Mode::Buffer {
            "event"
        } else {
            "produce"
        };
        let mut next_id = 1u64;
        let mut next_tick = Instant::now();
        // Ack id → (event, attempt, deadline); retries due.
        let mut waiting: HashMap<u64, (u64, u32, Instant)> = HashMap::new();
        let mut retries: VecDeque<(Instant, u64, u32)> = VecDeque::new();
        let far = Instant::now() + Duration::from_secs(3600);
        let limit = Instant::now() + Duration::from_secs(60);
        while next_id <= s.events || !waiting.is_empty() || !retries.is_empty() {
            if Instant::now() > limit {
                anyhow::bail!("the producer did not finish within 60 s");
            }
            let tick = if next_id <= s.events { next_tick } else { far };
            let retry = retries.front().map_or(far, |r| r.0);
            let deadline = waiting.values().map(|w| w.2).min().unwrap_or(far);
            let wake = tick.min(retry).min(deadline);
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                heard = sio.next() => {
                    let heard = heard?;
                    if let Heard::Ack { id, args } = &heard {
                        let ok = args.first().and_then(|a| a.as_json()) == Some(&json!(true));
                        if let Some((event, attempt, _)) = waiting.remove(id) {
                            if !ok {
                                retries.push_back((Instant::now() + RETRY_DELAY, event, attempt + 1));
                            }
                        }
                    } else {
                        self.heard("producer", &heard);
                    }
                    continue;
                }
            }
            let now = Instant::now();
            if now >= tick {
                if Some(next_id) == s.fault_event {
                    self.trigger(next_id);
                }
                let at = self.ctx.log().elapsed();
                self.ctx.log().observed.sent.insert(next_id, at);
                self.emit(sio, name, next_id, 1, acked, &mut waiting)
                    .await?;
                next_id += 1;
                next_tick += s.interval;
            }
            while retries.front().is_some_and(|r| r.0 <= now) {
                let Some((_, event, attempt)) = retries.pop_front() else {
                    break;
                };
                self.emit(sio, name, event, attempt, acked, &mut waiting)
                    .await?;
            }
            let late: Vec<u64> = waiting
                .iter()
                .filter(|(_, w)| w.2 <= now)
                .map(|(k, _)| *k)
                .collect();
            for k in late {
                if let Some((event, attempt, _)) = waiting.remove(&k) {
                    retries.push_back((now, event, attempt + 1));
                }
            }
        }
        Ok(())
    }

    async fn emit(
        &self,
        sio: &mut SioClient,
        name: &str,
        id: u64,
        attempt: u32,
        acked: bool,
        waiting: &mut HashMap<u64, (u64, u32, Instant)>,
    ) -> anyhow::Result<()> {
        if attempt > MAX_ATTEMPTS {
            let mut log = self.ctx.log();
            log.gave_up += 1;
            log.note("producer", format!("gave up on #{id}"), Some(id));
            return Ok(());
        }
        let (ack, delivery) = sio
            .emit_with(name, vec![json!(id).into()], acked, false)
            .await?;
        if let Some(ack) = ack {
            waiting.insert(ack, (id, attempt, Instant::now() + PRODUCER_ACK_TIMEOUT));
        }
        let what = match (attempt, delivery) {
            (1, d) => format!("emitted #{id} ({d:?})"),
            (n, d) => format!("emitted #{id} again, attempt {n} ({d:?})"),
        };
        self.ctx
            .log()
            .note("producer", what.to_lowercase(), Some(id));
        Ok(())
    }

    /// The fault at event `id`, on the producer's side of the run.
    fn trigger(&mut self, id: u64) {
        let what = match self.ctx.s.fault {
            Fault::Cut => {
                self.ctx.proxy.cut_now(CutWith::Rst);
                "the proxy cut the connection (RST)"
            }
            Fault::Partition => {
                self.ctx.proxy.partition();
                let h = self.ctx.proxy.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(PARTITION).await;
                    h.heal(Then::Drop);
                });
                "partition: nothing gets through for 800 ms, then what was held is dropped"
            }
            Fault::Restart => {
                let (Some(old), Some(addr)) = (self.server.take(), self.addr) else {
                    return;
                };
                let (mode, log) = (self.ctx.s.mode, self.ctx.log.clone());
                self.restarting = Some(tokio::spawn(async move {
                    old.stop().await;
                    ServerRun::start(addr, mode, log).await
                }));
                "the server restarts (its memory is lost)"
            }
            Fault::Early => {
                self.ctx.handler.store(true, Ordering::SeqCst);
                "the consumer registers its event handler only now"
            }
            Fault::None | Fault::LostAck | Fault::Crash => return,
        };
        self.ctx.log().fault(what.to_owned(), id);
    }

    fn heard(&self, who: &'static str, h: &Heard) {
        if let Some(what) = describe(h) {
            self.ctx.log().note(who, what, None);
        }
    }

    /// Keep the producer's connection alive until the consumer has everything, or nothing
    /// more came for a while.
    async fn settle(&mut self, sio: &mut SioClient) {
        let start = Instant::now();
        let mut last = (usize::MAX, Instant::now());
        while start.elapsed() < SETTLE_MAX {
            let (n, distinct) = {
                let log = self.ctx.log();
                let p = &log.observed.processed;
                let d: HashSet<u64> = p.iter().map(|x| x.0).collect();
                (p.len(), d.len() as u64)
            };
            if distinct >= self.ctx.s.events {
                break;
            }
            if n != last.0 {
                last = (n, Instant::now());
            } else if last.1.elapsed() > SETTLE_QUIET {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
                heard = sio.next() => match heard {
                    Ok(h) => self.heard("producer", &h),
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                },
            }
        }
    }

    async fn shut_down(&mut self) {
        if let Some(r) = self.restarting.take() {
            if let Ok(Ok(s)) = r.await {
                self.server = Some(s);
            }
        }
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }
}

/// Wait for the CONNECT answer.
async fn joined(sio: &mut SioClient) -> anyhow::Result<()> {
    for _ in 0..16 {
        let h = tokio::time::timeout(Duration::from_secs(5), sio.next()).await??;
        if matches!(h, Heard::Connected { .. }) {
            return Ok(());
        }
    }
    anyhow::bail!("no CONNECT answer")
}

/// A connection event in words (events and acks are noted where they are handled).
pub fn describe(h: &Heard) -> Option<String> {
    Some(match h {
        Heard::Connected { .. } => "connected".into(),
        Heard::Closed { reason } => format!("connection lost: {reason}"),
        Heard::Reconnecting { attempt, delay_ms } => {
            format!("reconnecting in {delay_ms} ms (attempt {attempt})")
        }
        Heard::ReconnectFailed { .. } => "a reconnection attempt failed".into(),
        Heard::Disconnected => "the server took it out of the namespace".into(),
        Heard::GaveUp { .. } => "gave up reconnecting".into(),
        _ => return None,
    })
}

/// The consumer: process each event (once, in the dedup mode), acknowledge it when
/// asked, and meet the consumer-side faults (a crash, a lost acknowledgement).
async fn consume(
    ctx: Arc<Ctx>,
    port: u16,
    mut stop: watch::Receiver<bool>,
    ready: oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut state = Consumer::default();
    for _ in 0..MAX_SESSIONS {
        let Some(mut sio) = connect(port, "consumer", &mut stop).await else {
            return;
        };
        loop {
            let heard = tokio::select! {
                h = sio.next() => h,
                _ = stop.changed() => return,
            };
            let Ok(heard) = heard else { break };
            match heard {
                Heard::Event { name, args, ack } if name == "event" => {
                    let Some(id) = event_id(&args) else { continue };
                    if state.on_event(&ctx, &mut sio, id, ack).await == Next::Crash {
                        drop(sio);
                        tokio::time::sleep(CRASH_DOWN).await;
                        ctx.log().note("consumer", "started again".into(), None);
                        break;
                    }
                }
                Heard::Connected { .. } => {
                    let what = if sio.recovered() {
                        "connected: the server recovered the session"
                    } else {
                        "connected"
                    };
                    ctx.log().note("consumer", what.into(), None);
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                Heard::Disconnected | Heard::GaveUp { .. } => break,
                other => {
                    if let Some(what) = describe(&other) {
                        ctx.log().note("consumer", what, None);
                    }
                }
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Next {
    Go,
    Crash,
}

/// The consumer's memory that outlives a crash (its database): the events it processed.
#[derive(Default)]
struct Consumer {
    processed: HashSet<u64>,
    crashed: bool,
    ack_lost: bool,
}

impl Consumer {
    async fn on_event(
        &mut self,
        ctx: &Ctx,
        sio: &mut SioClient,
        id: u64,
        ack: Option<u64>,
    ) -> Next {
        // The first event from the fault's on that arrives: a volatile emit may have
        // dropped the fault's own event, with nothing broken yet.
        let at_fault = ctx.s.fault_event.is_some_and(|f| id >= f);
        if !ctx.handler.load(Ordering::SeqCst) {
            let mut log = ctx.log();
            log.no_handler += 1;
            log.note(
                "consumer",
                format!("#{id} arrived before the handler was registered: nobody heard it"),
                Some(id),
            );
            return Next::Go;
        }
        if ctx.s.fault == Fault::Crash && at_fault && !self.crashed {
            self.crashed = true;
            let what = format!("the consumer crashed after receiving #{id}, before processing it");
            ctx.log().fault(what, id);
            return Next::Crash;
        }
        let lose_ack = ctx.s.fault == Fault::LostAck && at_fault && !self.ack_lost;
        if lose_ack {
            self.ack_lost = true;
            let from = ctx.log().timeline.len();
            ctx.proxy.partition();
            let what =
                format!("after #{id} arrived, the path back is lost: its acknowledgement too");
            ctx.log().fault(what, id);
            partitioned(&ctx.log, from, 1).await;
        }
        self.process(ctx, id);
        if let Some(a) = ack {
            let _ = sio.ack(a, vec![json!(true).into()]).await;
            ctx.log()
                .note("consumer", format!("acknowledged #{id}"), Some(id));
        }
        if lose_ack {
            tokio::time::sleep(Duration::from_millis(30)).await;
            ctx.proxy.heal(Then::Drop);
        }
        Next::Go
    }

    fn process(&mut self, ctx: &Ctx, id: u64) {
        let mut log = ctx.log();
        if ctx.s.mode == Mode::Dedup && self.processed.contains(&id) {
            log.deduplicated += 1;
            log.note(
                "consumer",
                format!("#{id} again: already processed, skipped"),
                Some(id),
            );
            return;
        }
        self.processed.insert(id);
        let at = log.elapsed();
        log.observed.processed.push((id, at));
        log.note("consumer", format!("processed #{id}"), Some(id));
    }
}
