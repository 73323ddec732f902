//! One run of mode 7, the durable queue: netlab's message broker (`net::queue`) on
//! loopback with its log in a temporary folder, `netlab proxy` in front of it, a
//! producer that publishes each event until the broker acknowledges it (once its log
//! holds it, synced with its batch), and a consumer in a consumer group that
//! acknowledges each message after processing it.
//!
//! ```text
//!   producer ──► proxy ──► broker (log on disk) ──► proxy ──► consumer
//! ```
//!
//! Both connections go through the proxy, so every fault breaks both. A restart stops
//! the broker and starts a new one on the same port and the same log: what it kept in
//! memory (deliveries waiting for an acknowledgement) is gone, what its log holds (the
//! messages, the group's committed offset) is not.

use super::run::{
    client_options, copy_log, describe, note_proxy, partitioned, Log, Outcome, Setting, SharedLog,
    CRASH_DOWN, MAX_SESSIONS, PARTITION, PING_INTERVAL, PING_TIMEOUT, PRODUCER_ACK_TIMEOUT,
    RETRY_DELAY,
};
use super::Fault;
use crate::net::proxy::schedule::{CutWith, FaultScript, Then};
use crate::net::proxy::{Proxy, ProxyHandle};
use crate::net::queue::{self, QueueConfig, QueueEvent};
use crate::net::socketio::client::{Heard, SioClient};
use crate::net::socketio::{self, engine_config};
use crate::wire::application::queue::{Config, Durability};
use crate::wire::application::socketio::Data;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// The topic and the consumer group of the run.
pub const TOPIC: &str = "delivery";
pub const GROUP: &str = "consumer";
/// A message delivered and not acknowledged within this time goes out again.
pub const BROKER_ACK_TIMEOUT: Duration = Duration::from_millis(500);
/// The broker's fsync policy: a publish is acknowledged once its batch is on the disk.
pub const SYNC: Durability = Durability::Batch;
/// Publishes of one event, the first included, before the producer gives up on it.
const MAX_PUBLISHES: u32 = 20;
/// After the last acknowledged publish: stop once nothing was processed for this long...
const SETTLE_QUIET: Duration = Duration::from_millis(1500);
/// ...or after this long at most.
const SETTLE_MAX: Duration = Duration::from_secs(5);

/// Everything the run's parts share.
struct Ctx {
    s: Setting,
    log: SharedLog,
    proxy: ProxyHandle,
    /// The consumer may subscribe (under `early`, only from the fault's event on).
    subscribe: AtomicBool,
}

impl Ctx {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A broker running in this process.
struct Broker {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Broker {
    async fn start(addr: SocketAddr, store: &Path, log: SharedLog) -> anyhow::Result<Broker> {
        let mut config = engine_config();
        config.session.ping_interval = PING_INTERVAL;
        config.session.ping_timeout = PING_TIMEOUT;
        // A restarted broker takes the same port: the old one may need a moment to let go.
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
        let queue_config = QueueConfig {
            store: store.to_path_buf(),
            sync: SYNC,
            partitions: 1,
            broker: Config {
                ack_timeout: BROKER_ACK_TIMEOUT,
                max_attempts: 1000,
                ..Config::default()
            },
            ..QueueConfig::default()
        };
        let (events, heard) = mpsc::unbounded_channel();
        tokio::spawn(note_broker(heard, log.clone()));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(e) = queue::serve(engine, queue_config, shutdown, Some(events)).await {
                let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
                l.note("broker", format!("could not open its log: {e}"), None);
            }
        });
        Ok(Broker { addr, stop, task })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(8), self.task).await;
    }
}

/// The broker's own report, in the run's timeline.
async fn note_broker(mut heard: mpsc::UnboundedReceiver<QueueEvent>, log: SharedLog) {
    while let Some(e) = heard.recv().await {
        let what = match e {
            QueueEvent::Subscribed { .. } => "the consumer subscribed".to_owned(),
            QueueEvent::Left { .. } => {
                "the consumer left: what it had not acknowledged goes out again".to_owned()
            }
            QueueEvent::Recovered { note } => format!("opening the log: {note:?}"),
            QueueEvent::PublishFailed { error, .. } => format!("a publish failed: {error}"),
            QueueEvent::Trouble { error } => error,
            QueueEvent::Published { .. } | QueueEvent::DeadLettered { .. } => continue,
        };
        let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
        l.note("broker", what, None);
    }
}

/// A folder of its own for the run's log.
fn store_dir(s: &Setting) -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "netlab-delivery-{}-{}-{nanos}",
        std::process::id(),
        s.fault.name()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| {
        anyhow::anyhow!("could not create the queue's folder {}: {e}", dir.display())
    })?;
    Ok(dir)
}

/// Run one setting of mode 7 to the end; the log's folder is removed afterwards.
pub async fn run(s: Setting, seed: u64) -> anyhow::Result<Outcome> {
    let dir = store_dir(&s)?;
    let result = run_in(s, seed, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_in(s: Setting, seed: u64, dir: &Path) -> anyhow::Result<Outcome> {
    let log: SharedLog = Arc::new(Mutex::new(Log::new()));
    let broker = Broker::start("127.0.0.1:0".parse()?, dir, log.clone()).await?;
    let proxy = Proxy::bind(
        "127.0.0.1:0".parse()?,
        broker.addr,
        FaultScript::default(),
        seed,
    )?;
    let port = proxy.local_addr()?.port();
    let ctx = Arc::new(Ctx {
        s,
        log: log.clone(),
        proxy: proxy.handle(),
        subscribe: AtomicBool::new(s.fault != Fault::Early),
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
    let (ready_tx, ready) = oneshot::channel();
    let consumer = tokio::spawn(consume(ctx.clone(), port, stop_rx.clone(), ready_tx));
    let mut producer = Producer {
        ctx: ctx.clone(),
        addr: broker.addr,
        store: dir.to_path_buf(),
        broker: Some(broker),
        restarting: None,
        port,
    };
    let result = match tokio::time::timeout(Duration::from_secs(5), ready).await {
        Ok(Ok(())) => producer.produce(stop_rx).await,
        _ => Err(anyhow::anyhow!("the consumer could not join within 5 s")),
    };
    if result.is_ok() {
        settle(&ctx).await;
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(2), consumer).await;
    let _ = proxy_stop.send(());
    let wire = tokio::time::timeout(Duration::from_secs(5), proxy_task)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    producer.shut_down().await;
    result?;
    drop(ctx);
    let log = Arc::try_unwrap(log)
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .unwrap_or_else(|shared| copy_log(&shared));
    Ok(Outcome { log, wire })
}

/// Wait until the consumer has processed every event, or nothing more came for a while.
async fn settle(ctx: &Ctx) {
    let start = Instant::now();
    let mut last = (usize::MAX, Instant::now());
    while start.elapsed() < SETTLE_MAX {
        let (n, distinct) = {
            let log = ctx.log();
            let p = &log.observed.processed;
            let d: HashSet<u64> = p.iter().map(|x| x.0).collect();
            (p.len(), d.len() as u64)
        };
        if distinct >= ctx.s.events {
            break;
        }
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > SETTLE_QUIET {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Connect to the broker's `/queue` through the proxy and wait for the CONNECT answer,
/// trying again (bounded) while the broker or the path is down.
async fn join(port: u16, role: &str, stop: &mut watch::Receiver<bool>) -> Option<SioClient> {
    for _ in 0..100 {
        let mut options = client_options(role);
        options.namespace = queue::NAMESPACE.to_owned();
        options.reconnection = false;
        let attempt = async {
            let mut sio = SioClient::connect_with("127.0.0.1", port, options)
                .await
                .ok()?;
            for _ in 0..16 {
                match sio.next().await.ok()? {
                    Heard::Connected { .. } => return Some(sio),
                    Heard::ConnectError { .. } | Heard::Closed { .. } => return None,
                    _ => {}
                }
            }
            None
        };
        tokio::select! {
            r = tokio::time::timeout(Duration::from_secs(2), attempt) => {
                if let Ok(Some(sio)) = r {
                    return Some(sio);
                }
            }
            _ = stop.changed() => return None,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Publishes waiting for the broker's answer, and publishes due.
#[derive(Default)]
struct Outbox {
    /// Ack id → (event, attempt, deadline).
    waiting: HashMap<u64, (u64, u32, Instant)>,
    /// (when, event, attempt).
    due: VecDeque<(Instant, u64, u32)>,
}

impl Outbox {
    fn is_empty(&self) -> bool {
        self.waiting.is_empty() && self.due.is_empty()
    }

    /// The connection is gone: whatever waited on it is published again.
    fn requeue_all(&mut self, now: Instant) {
        let mut lost: Vec<(u64, u32)> = self.waiting.drain().map(|(_, w)| (w.0, w.1)).collect();
        lost.sort();
        for (event, attempt) in lost {
            self.due.push_back((now, event, attempt + 1));
        }
    }

    fn wake(&self, far: Instant) -> Instant {
        let due = self.due.front().map_or(far, |d| d.0);
        let deadline = self.waiting.values().map(|w| w.2).min().unwrap_or(far);
        due.min(deadline)
    }

    /// Publishes whose answer did not come in time are due again.
    fn expire(&mut self, now: Instant) {
        let late: Vec<u64> = self
            .waiting
            .iter()
            .filter(|(_, w)| w.2 <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in late {
            if let Some((event, attempt, _)) = self.waiting.remove(&k) {
                self.due.push_back((now, event, attempt + 1));
            }
        }
    }
}

/// The producer's side of a run, and the broker it may restart.
struct Producer {
    ctx: Arc<Ctx>,
    addr: SocketAddr,
    store: PathBuf,
    broker: Option<Broker>,
    restarting: Option<tokio::task::JoinHandle<anyhow::Result<Broker>>>,
    port: u16,
}

impl Producer {
    /// Publish the events one interval apart, the fault at its event; publish again what
    /// the broker did not acknowledge, or refused, or whose connection was lost.
    async fn produce(&mut self, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let s = self.ctx.s;
        let mut sio: Option<SioClient> = None;
        let (mut next_id, mut next_tick) = (1u64, Instant::now());
        let mut out = Outbox::default();
        let far = Instant::now() + Duration::from_secs(3600);
        let limit = Instant::now() + Duration::from_secs(60);
        while next_id <= s.events || !out.is_empty() {
            if Instant::now() > limit {
                anyhow::bail!("the producer did not finish within 60 s");
            }
            let Some(c) = sio.as_mut() else {
                sio = join(self.port, "producer", &mut stop).await;
                if sio.is_none() {
                    anyhow::bail!("the producer could not reach the broker");
                }
                self.ctx.log().note("producer", "connected".into(), None);
                out.requeue_all(Instant::now());
                continue;
            };
            let tick = if next_id <= s.events { next_tick } else { far };
            tokio::select! {
                () = tokio::time::sleep_until(tick.min(out.wake(far))) => {}
                heard = c.next() => {
                    if !self.heard(heard, &mut out) {
                        sio = None;
                    }
                    continue;
                }
            }
            let now = Instant::now();
            // Events due while the broker was out of reach are produced now, each
            // stamped with the time it was due.
            while next_id <= s.events && next_tick <= now {
                if Some(next_id) == s.fault_event {
                    self.trigger(next_id);
                }
                let mut log = self.ctx.log();
                let at = next_tick.saturating_duration_since(log.start());
                log.observed.sent.insert(next_id, at);
                drop(log);
                out.due.push_back((now, next_id, 1));
                next_id += 1;
                next_tick += s.interval;
            }
            out.expire(now);
            if self.publish_due(c, &mut out, now).await.is_err() {
                self.ctx
                    .log()
                    .note("producer", "connection lost".into(), None);
                sio = None;
            }
        }
        if let Some(mut c) = sio {
            let _ = c.disconnect().await;
        }
        Ok(())
    }

    /// What the broker said; false when the connection is gone.
    fn heard(
        &self,
        heard: Result<Heard, crate::net::socketio::client::ClientError>,
        out: &mut Outbox,
    ) -> bool {
        let heard = match heard {
            Ok(h) => h,
            Err(e) => {
                let what = format!("connection lost: {e}");
                self.ctx.log().note("producer", what, None);
                return false;
            }
        };
        match heard {
            Heard::Ack { id, args } => {
                let Some((event, attempt, _)) = out.waiting.remove(&id) else {
                    return true;
                };
                let answer = args.first().and_then(Data::as_json);
                let offset = answer.and_then(|a| a.get("offset")).and_then(Value::as_u64);
                let mut log = self.ctx.log();
                match offset {
                    Some(o) => {
                        let what = format!("the broker acknowledged #{event}: offset {o}, synced");
                        log.note("producer", what, Some(event));
                    }
                    None => {
                        let what = format!("the broker refused #{event}: {answer:?}");
                        log.note("producer", what, Some(event));
                        out.due
                            .push_back((Instant::now() + RETRY_DELAY, event, attempt + 1));
                    }
                }
                true
            }
            Heard::Closed { .. } | Heard::Disconnected | Heard::GaveUp { .. } => {
                if let Some(what) = describe(&heard) {
                    self.ctx.log().note("producer", what, None);
                }
                false
            }
            _ => true,
        }
    }

    async fn publish_due(
        &self,
        sio: &mut SioClient,
        out: &mut Outbox,
        now: Instant,
    ) -> anyhow::Result<()> {
        while out.due.front().is_some_and(|d| d.0 <= now) {
            let Some((_, event, attempt)) = out.due.pop_front() else {
                break;
            };
            if attempt > MAX_PUBLISHES {
                let mut log = self.ctx.log();
                log.gave_up += 1;
                log.note("producer", format!("gave up on #{event}"), Some(event));
                continue;
            }
            let m = json!({"topic": TOPIC, "value": event.to_string()});
            match sio.emit("publish", vec![m.into()], true).await {
                Ok(Some(ack)) => {
                    out.waiting
                        .insert(ack, (event, attempt, now + PRODUCER_ACK_TIMEOUT));
                }
                Ok(None) => {}
                Err(e) => {
                    out.due.push_front((now, event, attempt));
                    return Err(e.into());
                }
            }
            let what = match attempt {
                1 => format!("published #{event}"),
                n => format!("published #{event} again, attempt {n}"),
            };
            self.ctx.log().note("producer", what, Some(event));
        }
        Ok(())
    }

    /// The fault at event `id`, on the producer's side of the run.
    fn trigger(&mut self, id: u64) {
        let what = match self.ctx.s.fault {
            Fault::Cut => {
                self.ctx.proxy.cut_now(CutWith::Rst);
                "the proxy cut both connections (RST)"
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
                let Some(old) = self.broker.take() else {
                    return;
                };
                let (addr, store, log) = (self.addr, self.store.clone(), self.ctx.log.clone());
                self.restarting = Some(tokio::spawn(async move {
                    old.stop().await;
                    Broker::start(addr, &store, log).await
                }));
                "the broker restarts on the same log (its memory is lost, its log is not)"
            }
            Fault::Early => {
                self.ctx.subscribe.store(true, Ordering::SeqCst);
                "the consumer subscribes only now"
            }
            Fault::None | Fault::LostAck | Fault::Crash => return,
        };
        self.ctx.log().fault(what.to_owned(), id);
    }

    async fn shut_down(&mut self) {
        if let Some(r) = self.restarting.take() {
            if let Ok(Ok(b)) = r.await {
                self.broker = Some(b);
            }
        }
        if let Some(b) = self.broker.take() {
            b.stop().await;
        }
    }
}

/// One message as the broker delivers it.
struct Message {
    id: u64,
    partition: u64,
    offset: u64,
    attempt: u64,
}

impl Message {
    fn read(args: &[Data]) -> Option<Message> {
        let v = args.first().and_then(Data::as_json)?;
        Some(Message {
            id: v.get("value")?.as_str()?.parse().ok()?,
            partition: v.get("partition")?.as_u64()?,
            offset: v.get("offset")?.as_u64()?,
            attempt: v.get("attempt").and_then(Value::as_u64).unwrap_or(1),
        })
    }
}

/// The consumer: subscribe in the group (from the committed offset, or the earliest for
/// a new group), process each message, then acknowledge it; meet the consumer-side
/// faults (a crash, a lost acknowledgement).
async fn consume(
    ctx: Arc<Ctx>,
    port: u16,
    mut stop: watch::Receiver<bool>,
    ready: oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut state = Consumer::default();
    for _ in 0..MAX_SESSIONS {
        let Some(mut sio) = join(port, "consumer", &mut stop).await else {
            return;
        };
        ctx.log().note("consumer", "connected".into(), None);
        if let Some(r) = ready.take() {
            let _ = r.send(());
        }
        while !ctx.subscribe.load(Ordering::SeqCst) {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(2)) => {}
                _ = stop.changed() => return,
            }
        }
        let sub = json!({"topic": TOPIC, "group": GROUP, "from": "earliest"});
        if sio
            .emit("subscribe", vec![sub.into()], false)
            .await
            .is_err()
        {
            continue;
        }
        loop {
            let heard = tokio::select! {
                h = sio.next() => h,
                _ = stop.changed() => return,
            };
            match heard {
                Ok(Heard::Event { name, args, .. }) if name == "message" => {
                    let Some(m) = Message::read(&args) else {
                        continue;
                    };
                    if state.on_message(&ctx, &mut sio, m).await {
                        drop(sio);
                        tokio::time::sleep(CRASH_DOWN).await;
                        ctx.log().note("consumer", "started again".into(), None);
                        break;
                    }
                }
                Ok(h @ (Heard::Closed { .. } | Heard::Disconnected | Heard::GaveUp { .. })) => {
                    if let Some(what) = describe(&h) {
                        ctx.log().note("consumer", what, None);
                    }
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    ctx.log()
                        .note("consumer", format!("connection lost: {e}"), None);
                    break;
                }
            }
        }
    }
}

/// What the consumer remembers across a crash: whether its one-time faults happened.
#[derive(Default)]
struct Consumer {
    crashed: bool,
    ack_lost: bool,
}

impl Consumer {
    /// Process and acknowledge one message; true when the consumer crashes instead.
    async fn on_message(&mut self, ctx: &Ctx, sio: &mut SioClient, m: Message) -> bool {
        let id = m.id;
        let at_fault = ctx.s.fault_event == Some(id);
        if ctx.s.fault == Fault::Crash && at_fault && !self.crashed {
            self.crashed = true;
            let what = format!("the consumer crashed after receiving #{id}, before processing it");
            ctx.log().fault(what, id);
            return true;
        }
        let lose_ack = ctx.s.fault == Fault::LostAck && at_fault && !self.ack_lost;
        if lose_ack {
            self.ack_lost = true;
            let from = ctx.log().timeline.len();
            ctx.proxy.partition();
            let what =
                format!("after #{id} arrived, the path back is lost: its acknowledgement too");
            ctx.log().fault(what, id);
            // Both connections, the producer's and the consumer's.
            partitioned(&ctx.log, from, 2).await;
        }
        {
            let mut log = ctx.log();
            let at = log.elapsed();
            log.observed.processed.push((id, at));
            let what = format!(
                "processed #{id} (offset {}, delivery {})",
                m.offset, m.attempt
            );
            log.note("consumer", what, Some(id));
        }
        let at = json!({"partition": m.partition, "offset": m.offset});
        if sio.emit("ack", vec![at.into()], false).await.is_ok() {
            ctx.log()
                .note("consumer", format!("acknowledged #{id}"), Some(id));
        }
        if lose_ack {
            tokio::time::sleep(Duration::from_millis(30)).await;
            ctx.proxy.heal(Then::Drop);
        }
        false
    }
}
