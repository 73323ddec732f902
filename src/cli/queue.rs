//! `netlab queue ...`: arguments only (the work is in `cmd/queue/`).

use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

/// A small message broker with a durable log, served over Socket.IO (namespace `/queue`):
/// topics split into partitions, consumer groups with committed offsets,
/// acknowledgements, redelivery, dead letters and back-pressure.
#[derive(Debug, Args)]
pub struct QueueArgs {
    #[command(subcommand)]
    pub command: QueueCommand,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    Serve(ServeArgs),
    Publish(PublishArgs),
    Consume(ConsumeArgs),
    Status(StatusArgs),
    Demo(DemoArgs),
}

/// When the log calls `fsync`, and so what a publish's acknowledgement promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SyncArg {
    /// Every publish is synced to the disk before it is acknowledged, one at a time.
    Always,
    /// Publishes that arrive together share one sync (group commit), then are
    /// acknowledged: on the disk, at a fraction of the syncs.
    Batch,
    /// Acknowledged once handed to the operating system: lost if the machine stops.
    Never,
}

/// Run the broker. It prints where to connect, then one line per publish, subscription,
/// departure and dead letter. At start it checks every record of its log: a record
/// half-written when the broker was killed is cut off, a damaged one is skipped and
/// reported, never delivered.
///
/// The log lives in --store: one folder per topic, one per partition, segment files of
/// records each with a CRC-32C checksum, and each group's committed offsets. With
/// --store redis://HOST:PORT it lives in Redis Streams instead (one stream per
/// partition, the groups' offsets in the streams' consumer groups), as durable as
/// Redis's appendonly and appendfsync settings make it, which each acknowledgement
/// states (--sync applies to the files only).
///
/// Examples:
///
///   netlab queue serve
///   netlab queue serve --port 4100 --store /tmp/q --sync always
///   netlab queue serve --port 0 --jsonl      (the first line says which port)
///   netlab queue serve --store redis://127.0.0.1:6379
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ServeArgs {
    /// Address to listen on. 127.0.0.1 keeps the broker on this machine.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on; 0 lets the kernel choose.
    #[arg(long, default_value_t = 4100)]
    pub port: u16,
    /// The folder that holds the log, or redis://HOST:PORT to keep it in Redis Streams.
    #[arg(long, default_value = "netlab-queue")]
    pub store: PathBuf,
    /// When to fsync.
    #[arg(long, value_enum, default_value_t = SyncArg::Batch)]
    pub sync: SyncArg,
    /// Partitions of a topic created by its first publish.
    #[arg(long, default_value_t = 3)]
    pub partitions: u32,
    /// A delivered message not acknowledged within this time goes out again.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub ack_timeout_ms: u64,
    /// Deliveries of one message before it goes to the topic's dead-letter topic
    /// (TOPIC.dead).
    #[arg(long, default_value_t = 5)]
    pub max_attempts: u32,
    /// Unacknowledged messages a consumer may hold at most.
    #[arg(long, default_value_t = 32)]
    pub max_unacked: usize,
    /// Retention: bytes kept per partition at most (oldest segments go first).
    #[arg(long, default_value_t = 1 << 30)]
    pub retain_bytes: u64,
    /// Retention: seconds a message is kept at least.
    #[arg(long, default_value_t = 7 * 24 * 3600)]
    pub retain_secs: u64,
    /// Bytes per segment file.
    #[arg(long, default_value_t = 4 << 20)]
    pub segment_bytes: u64,
}

/// Publish messages and wait for each acknowledgement: it comes once the broker's log
/// holds the message as durably as its --sync promises, and says which (`always`,
/// `batch` or `never`), with the partition and offset the message got.
///
/// Examples:
///
///   netlab queue publish orders "one pizza"
///   netlab queue publish orders "one pizza" --key user-7   (same key, same partition)
///   seq 100 | netlab queue publish orders - --jsonl        (one message per line)
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct PublishArgs {
    /// The broker.
    #[arg(long, default_value = "http://127.0.0.1:4100")]
    pub url: String,
    /// The topic (created by its first message).
    pub topic: String,
    /// The message, or - to publish each line of standard input.
    pub message: String,
    /// The key: messages with the same key go to the same partition, in order.
    #[arg(long)]
    pub key: Option<String>,
    /// Publishes in flight at once (waiting for their acknowledgement).
    #[arg(long, default_value_t = 64)]
    pub window: usize,
}

/// Consume a topic as a member of a consumer group: print each message, then
/// acknowledge it. Every group gets every message; the consumers of one group share
/// them. A message not acknowledged in time (the consumer crashed) goes out again.
///
/// Examples:
///
///   netlab queue consume orders --group kitchen
///   netlab queue consume orders --group audit --from earliest --exit-when-idle --jsonl
///   netlab queue consume orders --group replay --from 0
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ConsumeArgs {
    /// The broker.
    #[arg(long, default_value = "http://127.0.0.1:4100")]
    pub url: String,
    pub topic: String,
    /// The consumer group.
    #[arg(long)]
    pub group: String,
    /// Where a new group starts: earliest, latest, or an offset (which also moves a
    /// group that nobody is consuming in).
    #[arg(long, default_value = "earliest")]
    pub from: String,
    /// Stop once no message came for --idle-ms.
    #[arg(long)]
    pub exit_when_idle: bool,
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub idle_ms: u64,
    /// Stop after this many messages.
    #[arg(long)]
    pub count: Option<u64>,
    /// Unacknowledged messages this consumer holds at most.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Answer `nack` instead of acknowledging (the message comes back, and after the
    /// broker's --max-attempts goes to TOPIC.dead).
    #[arg(long)]
    pub nack: bool,
    /// Receive and never answer, as a consumer that crashes before it processes: the
    /// broker sends the messages again after its acknowledgement timeout, or as soon as
    /// this consumer is gone.
    #[arg(long, conflicts_with = "nack")]
    pub no_ack: bool,
}

/// Show the broker's topics (partitions, offsets) and groups (committed offsets, lag,
/// pending messages, dead letters).
///
/// Examples:
///
///   netlab queue status
///   netlab queue status --json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct StatusArgs {
    #[arg(long, default_value = "http://127.0.0.1:4100")]
    pub url: String,
}

/// Watch the broker work, narrated, in one process: a publish acknowledged once synced,
/// a consumer that crashes with messages unacknowledged and gets them again, a message
/// that fails until it goes to the dead-letter topic, and a broker restart with nothing
/// lost.
///
/// Examples:
///
///   netlab queue demo
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct DemoArgs {}
