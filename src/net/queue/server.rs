//! The broker served over Socket.IO, in the `/queue` namespace of netlab's Socket.IO
//! server (`net::socketio::serve`).
//!
//! ```text
//!  client ── publish ──► Socket.IO machine task ──Append──► log thread (writes, fsyncs)
//!    ▲                     QueueApp + Broker      ◄─Appended─┘
//!    └── ack {offset, durability} ◄┘   │  Deliver ──Read──► log thread
//!    ◄── message {…} ◄─────────────────┘◄────── Read ──────┘
//! ```
//!
//! The [`QueueApp`] owns the pure [`Broker`]; the log runs on its own thread
//! (`log.rs`), so the machine task never waits for a disk. A publish is acknowledged
//! only when the log's answer arrives, with the durability it got.

use super::log::{self, Appended, Command, ReadFor, Reply};
use super::redis_store::RedisStore;
use super::store::{FileConfig, FileStore, Store, StoreError};
use crate::net::engineio::EngineServer;
use crate::net::socketio::{self, App};
use crate::wire::application::queue::{
    partition_for, Action, Broker, Config, Durability, GroupStatus, Request,
};
use crate::wire::application::socketio::{AppEvent, Data, Options, Server};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::mpsc as std_mpsc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

/// The namespace the broker answers in.
pub const NAMESPACE: &str = "/queue";

/// How the broker runs.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// The folder of the file store.
    pub store: PathBuf,
    /// `redis://HOST:PORT`: keep the log in Redis Streams instead of `store`.
    pub redis: Option<String>,
    pub sync: Durability,
    /// Partitions of a topic created by its first publish.
    pub partitions: u32,
    pub broker: Config,
    pub files: FileConfig,
}

impl Default for QueueConfig {
    fn default() -> QueueConfig {
        QueueConfig {
            store: PathBuf::from("netlab-queue"),
            redis: None,
            sync: Durability::Batch,
            partitions: 3,
            broker: Config::default(),
            files: FileConfig::default(),
        }
    }
}

/// What the broker reports as it runs (for a log on the terminal).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum QueueEvent {
    /// What opening the log found: a torn tail cut, a damaged record skipped.
    Recovered {
        note: super::store::Note,
    },
    Published {
        topic: String,
        partition: u32,
        offset: u64,
        durability: Durability,
    },
    PublishFailed {
        topic: String,
        error: String,
    },
    Subscribed {
        consumer: String,
        topic: String,
        group: String,
    },
    Left {
        consumer: String,
    },
    DeadLettered {
        topic: String,
        offset: u64,
    },
    Trouble {
        error: String,
    },
}

/// A status snapshot: what `status` answers.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Status {
    pub sync: Durability,
    /// Where the log is when not in files, and what that makes of an acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    pub topics: Vec<TopicStatus>,
    pub groups: Vec<GroupStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TopicStatus {
    pub topic: String,
    pub partitions: Vec<PartitionStatus>,
}

/// A partition's first kept offset and next offset.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PartitionStatus {
    pub partition: u32,
    pub start: u64,
    pub end: u64,
}

/// A publish waiting for the log.
struct Waiting {
    topic: String,
    /// The socket and the acknowledgement it waits for.
    answer: Option<(String, u64)>,
}

/// The application in `/queue`.
pub struct QueueApp {
    broker: Broker,
    log: std_mpsc::SyncSender<Command>,
    replies: mpsc::UnboundedReceiver<Reply>,
    started: Instant,
    timer: Pin<Box<Sleep>>,
    timer_at: Option<Duration>,
    config: QueueConfig,
    publishes: HashMap<u64, Waiting>,
    next_id: u64,
    round_robin: u32,
    /// Each topic's start and end, for status.
    ends: BTreeMap<String, (Vec<u64>, Vec<u64>)>,
    /// Committed offsets to hand to the log: (topic, group) → offsets.
    commits: BTreeMap<(String, String), Vec<u64>>,
    events: Option<mpsc::UnboundedSender<QueueEvent>>,
    /// The store's own words on durability (Redis), for `status`.
    store_detail: Option<String>,
}

impl QueueApp {
    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    fn report(&self, event: QueueEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(event);
        }
    }

    fn request(&mut self, io: &mut Server, socket: &str, request: Request, ack: Option<u64>) {
        let now = self.now();
        let answer = match request {
            Request::Publish { topic, key, value } => {
                return self.publish(io, socket, topic, key, value, ack)
            }
            Request::Subscribe {
                topic,
                group,
                from,
                limit,
            } => {
                self.ensure_topic(&topic);
                match self
                    .broker
                    .subscribe(socket, &topic, &group, from, limit, now)
                {
                    Ok(()) => {
                        self.report(QueueEvent::Subscribed {
                            consumer: socket.to_owned(),
                            topic: topic.clone(),
                            group: group.clone(),
                        });
                        let partitions = self.broker.partitions(&topic).unwrap_or(0);
                        json!({"ok": true, "topic": topic, "group": group, "partitions": partitions})
                    }
                    Err(e) => json!({"error": e.to_string()}),
                }
            }
            Request::Ack { partition, offset } => {
                match self.broker.ack(socket, partition, offset, now) {
                    Ok(()) => json!({"ok": true}),
                    Err(e) => json!({"error": e.to_string()}),
                }
            }
            Request::Nack { partition, offset } => {
                match self.broker.nack(socket, partition, offset, now) {
                    Ok(()) => json!({"ok": true}),
                    Err(e) => json!({"error": e.to_string()}),
                }
            }
            Request::Status => serde_json::to_value(self.status()).unwrap_or(Value::Null),
        };
        if let Some(id) = ack {
            let _ = io.ack(NAMESPACE, socket, id, vec![answer.into()]);
        }
    }

    /// A topic the broker has not seen: created with the default partitions (the log
    /// creates its folders with the first append).
    fn ensure_topic(&mut self, topic: &str) -> u32 {
        if let Some(n) = self.broker.partitions(topic).filter(|n| *n > 0) {
            return n;
        }
        let n = self.config.partitions;
        self.broker
            .topic(topic, vec![0; n as usize], vec![0; n as usize]);
        self.ends
            .insert(topic.to_owned(), (vec![0; n as usize], vec![0; n as usize]));
        n
    }

    fn publish(
        &mut self,
        io: &mut Server,
        socket: &str,
        topic: String,
        key: Option<String>,
        value: String,
        ack: Option<u64>,
    ) {
        let partitions = self.ensure_topic(&topic);
        let partition = match &key {
            Some(k) => partition_for(k.as_bytes(), partitions),
            None => {
                self.round_robin = self.round_robin.wrapping_add(1);
                self.round_robin % partitions
            }
        };
        self.next_id += 1;
        let id = self.next_id;
        let command = Command::Append {
            id,
            topic: topic.clone(),
            partitions,
            partition,
            key: key.unwrap_or_default().into_bytes(),
            value: value.into_bytes(),
        };
        match self.log.try_send(command) {
            Ok(()) => {
                let answer = ack.map(|a| (socket.to_owned(), a));
                self.publishes.insert(id, Waiting { topic, answer });
            }
            Err(_) => {
                let error = format!(
                    "the log is busy ({} appends wait): publish again in a moment",
                    log::COMMAND_QUEUE
                );
                self.report(QueueEvent::PublishFailed {
                    topic,
                    error: error.clone(),
                });
                if let Some(ack) = ack {
                    let _ = io.ack(
                        NAMESPACE,
                        socket,
                        ack,
                        vec![json!({ "error": error }).into()],
                    );
                }
            }
        }
    }

    fn status(&self) -> Status {
        Status {
            sync: self.config.sync,
            store: self.config.redis.as_ref().map(|url| {
                let detail = self.store_detail.as_deref().unwrap_or_default();
                format!("Redis Streams at {url}: {detail}")
            }),
            topics: self
                .ends
                .iter()
                .map(|(t, (start, end))| TopicStatus {
                    topic: t.clone(),
                    partitions: start
                        .iter()
                        .zip(end)
                        .enumerate()
                        .map(|(i, (s, e))| PartitionStatus {
                            partition: i as u32,
                            start: *s,
                            end: *e,
                        })
                        .collect(),
                })
                .collect(),
            groups: self.broker.status(),
        }
    }

    fn reply(&mut self, io: &mut Server, reply: Reply) {
        let now = self.now();
        match reply {
            Reply::Appended { id, result } => self.appended(io, id, result, now),
            Reply::Read { to, record } => match record {
                Some(r) => {
                    let message = json!({
                        "topic": to.topic,
                        "partition": to.partition,
                        "offset": r.offset,
                        "key": (!r.key.is_empty()).then(|| String::from_utf8_lossy(&r.key).into_owned()),
                        "value": String::from_utf8_lossy(&r.value),
                        "timestamp": r.timestamp,
                        "attempt": to.attempt,
                    });
                    // A consumer gone meanwhile gets nothing; its leaving made the record due.
                    let _ = io
                        .socket(NAMESPACE, &to.consumer)
                        .emit("message", vec![message.into()]);
                }
                None => self
                    .broker
                    .missing(&to.consumer, to.partition, to.offset, now),
            },
            Reply::DeadLettered { topic, result } => match result {
                Ok(a) => {
                    self.note_end(&a);
                    self.report(QueueEvent::DeadLettered {
                        topic,
                        offset: a.offset,
                    });
                    self.broker.appended(&a.topic, 0, a.offset, now);
                }
                Err(error) => self.report(QueueEvent::Trouble { error }),
            },
            Reply::Trimmed {
                topic,
                partition,
                start,
            } => {
                self.broker.trimmed(&topic, partition, start);
                if let Some(s) = self
                    .ends
                    .get_mut(&topic)
                    .and_then(|(s, _)| s.get_mut(partition as usize))
                {
                    *s = start;
                }
            }
            Reply::Trouble(error) => self.report(QueueEvent::Trouble { error }),
        }
    }

    fn note_end(&mut self, a: &Appended) {
        let (start, end) = self.ends.entry(a.topic.clone()).or_default();
        let p = a.partition as usize;
        if end.len() <= p {
            end.resize(p + 1, 0);
            start.resize(p + 1, 0);
        }
        end[p] = end[p].max(a.offset + 1);
    }

    fn appended(
        &mut self,
        io: &mut Server,
        id: u64,
        result: Result<Appended, String>,
        now: Duration,
    ) {
        let waiting = self.publishes.remove(&id);
        let answer = match result {
            Ok(a) => {
                self.note_end(&a);
                self.broker.appended(&a.topic, a.partition, a.offset, now);
                self.report(QueueEvent::Published {
                    topic: a.topic.clone(),
                    partition: a.partition,
                    offset: a.offset,
                    durability: a.durability,
                });
                json!({
                    "ok": true,
                    "topic": a.topic,
                    "partition": a.partition,
                    "offset": a.offset,
                    "timestamp": a.timestamp,
                    "durability": a.durability,
                    "synced": a.durability.synced(),
                    "detail": a.detail,
                })
            }
            Err(error) => {
                let topic = waiting
                    .as_ref()
                    .map(|w| w.topic.clone())
                    .unwrap_or_default();
                self.report(QueueEvent::PublishFailed {
                    topic,
                    error: error.clone(),
                });
                json!({ "error": error })
            }
        };
        if let Some((socket, ack)) = waiting.and_then(|w| w.answer) {
            let _ = io.ack(NAMESPACE, &socket, ack, vec![answer.into()]);
        }
    }

    /// Carry out the broker's actions: reads, dead letters, commits.
    fn carry_out(&mut self) {
        while let Some(action) = self.broker.poll_action() {
            match action {
                Action::Deliver {
                    consumer,
                    topic,
                    partition,
                    offset,
                    attempt,
                } => {
                    let to = ReadFor {
                        consumer,
                        topic,
                        partition,
                        offset,
                        attempt,
                    };
                    if self.log.try_send(Command::Read(to.clone())).is_err() {
                        // The record goes out again after the acknowledgement timeout.
                        self.report(QueueEvent::Trouble {
                            error: format!(
                                "the log is busy: delivery of {}/{} waits",
                                to.partition, to.offset
                            ),
                        });
                    }
                }
                Action::DeadLetter {
                    topic,
                    partition,
                    offset,
                    ..
                } => {
                    let _ = self.log.try_send(Command::DeadLetter {
                        topic,
                        partition,
                        offset,
                    });
                }
                Action::Commit {
                    topic,
                    group,
                    partition,
                    offset,
                } => {
                    let n = self.broker.partitions(&topic).unwrap_or(0) as usize;
                    let offsets = self
                        .commits
                        .entry((topic, group))
                        .or_insert_with(|| vec![0; n]);
                    if offsets.len() <= partition as usize {
                        offsets.resize(partition as usize + 1, 0);
                    }
                    offsets[partition as usize] = offset;
                }
            }
        }
        self.flush_commits();
    }

    fn flush_commits(&mut self) {
        for ((topic, group), offsets) in std::mem::take(&mut self.commits) {
            // The group's full set of committed offsets, so the file holds every partition.
            let full = self.broker.committed(&topic, &group).unwrap_or(offsets);
            let _ = self.log.try_send(Command::Commit {
                topic,
                group,
                offsets: full,
            });
        }
    }
}

impl App for QueueApp {
    fn event(&mut self, io: &mut Server, event: AppEvent) {
        match event {
            AppEvent::Event {
                namespace,
                socket,
                name,
                args,
                ack,
            } if namespace == NAMESPACE => {
                let args: Vec<Value> = args.iter().filter_map(|d| d.as_json().cloned()).collect();
                match crate::wire::application::queue::parse(&name, &args) {
                    Ok(request) => self.request(io, &socket, request, ack),
                    Err(e) => {
                        if let Some(id) = ack {
                            let _ = io.ack(
                                NAMESPACE,
                                &socket,
                                id,
                                vec![Data::Json(json!({"error": e.to_string()}))],
                            );
                        }
                    }
                }
            }
            AppEvent::Disconnected {
                namespace, socket, ..
            } if namespace == NAMESPACE => {
                if self.broker.consumer(&socket).is_some() {
                    self.report(QueueEvent::Left {
                        consumer: socket.clone(),
                    });
                }
                let now = self.now();
                self.broker.leave(&socket, now);
            }
            _ => {}
        }
        self.carry_out();
    }

    fn poll_inputs(&mut self, io: &mut Server, cx: &mut Context<'_>) -> Poll<()> {
        let mut acted = false;
        // Bounded: at most this many answers per turn, so sessions get their turn too.
        for _ in 0..256 {
            match self.replies.poll_recv(cx) {
                Poll::Ready(Some(reply)) => {
                    self.reply(io, reply);
                    acted = true;
                }
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        let due = self.broker.poll_timeout();
        if due != self.timer_at {
            self.timer_at = due;
            let at = due.map_or(self.started + Duration::from_secs(86_400 * 365), |d| {
                self.started + d
            });
            self.timer.as_mut().reset(at);
        }
        if self.timer_at.is_some() && self.timer.as_mut().poll(cx).is_ready() {
            let now = self.now();
            self.broker.handle_timeout(now);
            self.timer_at = None;
            acted = true;
        }
        self.carry_out();
        if acted {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Open the log in `config.store` (or the Redis of `config.redis`) and build the application with the broker restored
/// from it (topics, ends, committed offsets). Also returns what opening found and the
/// log thread, to join after serving.
pub fn open(
    config: QueueConfig,
    events: Option<mpsc::UnboundedSender<QueueEvent>>,
) -> Result<(QueueApp, std::thread::JoinHandle<()>), StoreError> {
    let store: Box<dyn Store> = match &config.redis {
        Some(url) => Box::new(RedisStore::open(url, &config.files)?),
        None => Box::new(FileStore::open(&config.store, config.files.clone())?),
    };
    let mut broker = Broker::new(config.broker.clone());
    let mut ends = BTreeMap::new();
    for t in store.topics() {
        let start: Vec<u64> = t.partitions.iter().map(|p| p.start).collect();
        let end: Vec<u64> = t.partitions.iter().map(|p| p.end).collect();
        broker.topic(&t.name, start.clone(), end.clone());
        ends.insert(t.name, (start, end));
    }
    for (topic, group, offsets) in store.committed() {
        for (p, o) in offsets.iter().enumerate() {
            broker.restore(&topic, &group, p as u32, *o);
        }
    }
    if let Some(tx) = &events {
        for note in store.notes() {
            let _ = tx.send(QueueEvent::Recovered { note: note.clone() });
        }
    }
    let store_detail = store.promise(config.sync).detail;
    let (log, replies, thread) = log::spawn(store, config.sync);
    let app = QueueApp {
        broker,
        log,
        replies,
        started: Instant::now(),
        timer: Box::pin(tokio::time::sleep(Duration::from_secs(86_400 * 365))),
        timer_at: None,
        config,
        publishes: HashMap::new(),
        next_id: 0,
        round_robin: 0,
        ends,
        commits: BTreeMap::new(),
        events,
        store_detail,
    };
    Ok((app, thread))
}

/// Serve the broker on `engine` until `shutdown` completes; then the log thread
/// finishes its last commands (syncs included) before this returns. This is the
/// in-process entry point; `netlab queue serve` wraps it.
pub async fn serve(
    engine: EngineServer,
    config: QueueConfig,
    shutdown: impl Future<Output = ()>,
    events: Option<mpsc::UnboundedSender<QueueEvent>>,
) -> Result<(), StoreError> {
    let (app, thread) = open(config, events)?;
    let mut io = socketio::machine(Options::default());
    io.add_namespace(NAMESPACE, false);
    socketio::serve(engine, io, app, shutdown).await;
    // `serve` dropped the app, and with it the command sender: the thread ends.
    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    Ok(())
}

/// Bind `addr` for Socket.IO and serve the broker there (see [`serve`]).
pub async fn serve_on(
    addr: std::net::SocketAddr,
    config: QueueConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let engine = socketio::bind(addr, socketio::engine_config()).await?;
    serve(engine, config, shutdown, None).await?;
    Ok(())
}
