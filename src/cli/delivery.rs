//! `netlab delivery`: delivery guarantees, measured under faults.

use clap::Args;

/// What happens when a client misses an event, measured: N numbered events from a
/// producer to a consumer over real Socket.IO connections (netlab's server and client,
/// on 127.0.0.1) through `netlab proxy`, for each delivery mode under each fault.
///
/// Modes: 1 emit (at most once), 2 volatile, 3 the client's send buffer (client to
/// server), 4 connection state recovery, 5 acknowledgement + timeout + retries (at least
/// once), 6 the same with a consumer that skips ids it already processed (idempotent),
/// 7 a durable queue (`netlab queue`: a log on disk, a consumer group, committed offsets;
/// at least once, and survives a broker restart).
///
/// Faults: none, cut (the connection is reset), partition (nothing gets through for
/// longer than the ping timeout), restart (the server restarts), lost-ack (the
/// consumer's acknowledgement is lost), crash (the consumer crashes after receiving,
/// before processing), early (events arrive before the consumer registered its handler).
///
/// The table counts what the consumer processed: sent, delivered, lost, duplicated, out
/// of order, the extra packets and bytes the proxy carried, latency p50/p99 and the time
/// to recover. Every number is measured in this run.
///
/// Examples: `netlab delivery`, `netlab delivery --modes 1,5,6 --faults cut,lost-ack`,
/// `netlab delivery --explain --modes 4`, `netlab delivery --seed 7 --json`.
#[derive(Debug, Args)]
pub struct DeliveryArgs {
    /// Events per run.
    #[arg(long, default_value_t = 200)]
    pub events: u64,
    /// Milliseconds between two events.
    #[arg(long, default_value_t = 10.0, value_name = "MS")]
    pub interval: f64,
    /// The modes to run, by number or name (1,5,7 or emit,ack,queue). Default: all.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub modes: Option<Vec<String>>,
    /// The faults to apply (none,cut,partition,restart,lost-ack,crash,early). Default: all.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub faults: Option<Vec<String>>,
    /// The seed that places each fault at its event; the same seed, the same places.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Draw, for each mode, the timeline of one event that went missing.
    #[arg(long)]
    pub explain: bool,
    /// Runs at the same time (each has its own server, proxy and clients).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub parallel: usize,
}
