//! `netlab queue`: a message broker with a durable log, over Socket.IO.
//!
//! - `serve`: the broker (`net::queue`), printing what happens.
//! - `publish`, `consume`, `status`: clients speaking the `/queue` events through
//!   netlab's Socket.IO client.
//! - `demo`: the broker and its clients in one process, narrated.
//!
//! The decisions are `wire::application::queue`'s (the broker machine, the record
//! format, the events); `net::queue` holds the files, the log thread and the server.

pub mod client;
pub mod demo;
pub mod serve;

use crate::cli::queue::{QueueArgs, QueueCommand, SyncArg};
use crate::net::queue::{QueueEvent, Status};
use crate::net::runtime::{runtime, Runtime};
use crate::output::{Output, Paint, Render, Style};
use crate::wire::application::queue::Durability;
use crate::wire::text;
use serde::Serialize;

/// Run one `netlab queue` subcommand.
pub fn run(args: QueueArgs, out: &mut Output) -> anyhow::Result<()> {
    let (kind, command) = match args.command {
        QueueCommand::Serve(a) => (Runtime::MultiThread, Sub::Serve(serve::Plan::try_from(a)?)),
        QueueCommand::Publish(a) => (Runtime::CurrentThread, Sub::Publish(a)),
        QueueCommand::Consume(a) => (Runtime::CurrentThread, Sub::Consume(a)),
        QueueCommand::Status(a) => (Runtime::CurrentThread, Sub::Status(a)),
        QueueCommand::Demo(_) => (Runtime::MultiThread, Sub::Demo),
    };
    let rt = runtime(kind)?;
    let r = rt.block_on(async {
        match command {
            Sub::Serve(plan) => serve::run(plan, out).await,
            Sub::Publish(a) => client::publish(a, out).await,
            Sub::Consume(a) => client::consume(a, out).await,
            Sub::Status(a) => client::status(a, out).await,
            Sub::Demo => demo::run(out).await,
        }
    });
    // A pending read of standard input must not keep the process alive.
    rt.shutdown_background();
    r
}

enum Sub {
    Serve(serve::Plan),
    Publish(crate::cli::queue::PublishArgs),
    Consume(crate::cli::queue::ConsumeArgs),
    Status(crate::cli::queue::StatusArgs),
    Demo,
}

impl From<SyncArg> for Durability {
    fn from(s: SyncArg) -> Durability {
        match s {
            SyncArg::Always => Durability::Always,
            SyncArg::Batch => Durability::Batch,
            SyncArg::Never => Durability::Never,
        }
    }
}

/// What a durability promises, in words.
fn promise(d: Durability) -> &'static str {
    match d {
        Durability::Always => "synced to disk",
        Durability::Batch => "synced to disk with its batch",
        Durability::Never => "written, not synced: lost if the machine stops",
    }
}

/// One line of the broker's log or a client's output.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Line {
    Listening {
        url: String,
        namespace: &'static str,
        store: String,
        sync: Durability,
        topics: usize,
    },
    /// A publish acknowledged (client side).
    Acked {
        topic: String,
        partition: u32,
        offset: u64,
        durability: Durability,
        synced: bool,
        /// What the store says of it, when the store decides (Redis's settings).
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A message received (client side).
    Message {
        topic: String,
        partition: u32,
        offset: u64,
        key: Option<String>,
        value: String,
        timestamp: u64,
        attempt: u32,
        answered: &'static str,
    },
    ShuttingDown {
        signal: &'static str,
    },
    /// What the broker reports, with its own `event` tag.
    #[serde(untagged)]
    Broker(QueueEvent),
}

impl Render for Line {
    fn render_human(&self, style: &Style) -> String {
        match self {
            Line::Listening {
                url,
                store,
                sync,
                topics,
                ..
            } if store.starts_with("redis://") => format!(
                "{} {url} namespace /queue, log in Redis Streams at {store} ({topics} topics), \
                 as durable as Redis's appendonly and appendfsync settings (each \
                 acknowledgement says which)",
                style.paint(Paint::Bold, "listening on"),
            ),
            Line::Listening {
                url,
                store,
                sync,
                topics,
                ..
            } => format!(
                "{} {url} namespace /queue, log in {store} ({topics} topics), --sync {} ({})",
                style.paint(Paint::Bold, "listening on"),
                sync.as_str(),
                promise(*sync)
            ),
            Line::Broker(e) => broker_line(e, style),
            Line::Acked {
                topic,
                partition,
                offset,
                durability,
                detail,
                ..
            } => format!(
                "{} {topic}/{partition} offset {offset}: {}",
                style.paint(Paint::Good, "acknowledged"),
                detail.as_deref().unwrap_or(promise(*durability))
            ),
            Line::Message {
                topic,
                partition,
                offset,
                key,
                value,
                attempt,
                answered,
                ..
            } => {
                let key = key
                    .as_deref()
                    .map(|k| format!(" key {}", text::quoted(k.as_bytes(), 40)));
                let again = if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                format!(
                    "{topic}/{partition} offset {offset}{}{again}: {}  [{answered}]",
                    key.unwrap_or_default(),
                    text::quoted(value.as_bytes(), 200)
                )
            }
            Line::ShuttingDown { signal } => format!("{signal}: shutting down"),
        }
    }
}

fn broker_line(e: &QueueEvent, style: &Style) -> String {
    match e {
        QueueEvent::Recovered { note } => format!(
            "{} {} at byte {} of {} ({} bytes): {}",
            style.paint(Paint::Warn, "log check:"),
            note.action,
            note.position,
            note.file,
            note.bytes,
            note.error
        ),
        QueueEvent::Published {
            topic,
            partition,
            offset,
            durability,
        } => format!(
            "published {topic}/{partition} offset {offset} ({})",
            durability.as_str()
        ),
        QueueEvent::PublishFailed { topic, error } => {
            format!(
                "{} {topic}: {error}",
                style.paint(Paint::Bad, "publish failed")
            )
        }
        QueueEvent::Subscribed {
            consumer,
            topic,
            group,
        } => format!("{consumer} consumes {topic} in group {group}"),
        QueueEvent::Left { consumer } => {
            format!("{consumer} left: what it had not acknowledged goes out again")
        }
        QueueEvent::DeadLettered { topic, offset } => format!(
            "{} {topic} offset {offset}",
            style.paint(Paint::Warn, "dead letter:")
        ),
        QueueEvent::Trouble { error } => format!("{} {error}", style.paint(Paint::Bad, "trouble:")),
    }
}

impl Render for Status {
    fn render_human(&self, style: &Style) -> String {
        let mut t = match &self.store {
            Some(store) => format!("{} log in {store}\n", style.paint(Paint::Bold, "broker")),
            None => format!(
                "{} --sync {} ({})\n",
                style.paint(Paint::Bold, "broker"),
                self.sync.as_str(),
                promise(self.sync)
            ),
        };
        t.push_str(&format!("{}\n", style.paint(Paint::Bold, "topics")));
        for topic in &self.topics {
            let parts: Vec<String> = topic
                .partitions
                .iter()
                .map(|p| format!("{}: {}..{}", p.partition, p.start, p.end))
                .collect();
            let total: u64 = topic.partitions.iter().map(|p| p.end - p.start).sum();
            t.push_str(&format!(
                "  {:<24} {total:>8} messages   {}\n",
                topic.topic,
                parts.join("  ")
            ));
        }
        t.push_str(&format!("{}\n", style.paint(Paint::Bold, "groups")));
        for g in &self.groups {
            let lag: u64 = g.partitions.iter().map(|p| p.lag).sum();
            let pending: usize = g.partitions.iter().map(|p| p.pending).sum();
            t.push_str(&format!(
                "  {:<16} on {:<16} consumers {:>3}  lag {lag:>6}  pending {pending:>4}  dead letters {}\n",
                g.group, g.topic, g.consumers, g.dead_letters
            ));
        }
        t
    }
}
