//! `netlab queue serve`: the broker on a port until Ctrl-C or SIGTERM.

use super::Line;
use crate::cli::queue::ServeArgs;
use crate::cmd::ws::server::Term;
use crate::error::{usage, HintExt};
use crate::net::queue::{self, redis_store, FileConfig, QueueConfig, RedisStore, Store, NAMESPACE};
use crate::net::socketio;
use crate::output::Output;
use crate::wire::application::queue::Config;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

const REDIS_EXAMPLE: &str = "--store redis://127.0.0.1:6379";

/// Start a Redis this way, for the broker.
const START_REDIS: &str =
    "start one: redis-server --port 6379 --appendonly yes --appendfsync always \
    (install it with: sudo apt install redis-server), or give the address of yours with \
    --store redis://HOST:PORT";

/// A validated plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub addr: SocketAddr,
    pub config: QueueConfig,
}

impl TryFrom<ServeArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: ServeArgs) -> anyhow::Result<Plan> {
        let ip = crate::cmd::host_ip(&a.host)?;
        if a.partitions == 0 || a.partitions > 1024 {
            return Err(usage(
                format!("{} partitions", a.partitions),
                "a topic has 1 to 1024 partitions: --partitions 3",
            ));
        }
        if a.max_attempts == 0 || a.max_unacked == 0 {
            return Err(usage(
                "--max-attempts and --max-unacked must be at least 1",
                "the defaults are 5 and 32",
            ));
        }
        if a.segment_bytes < 1024 {
            return Err(usage(
                format!("--segment-bytes {} is too small", a.segment_bytes),
                "a segment holds at least 1024 bytes; the default is 4 MiB",
            ));
        }
        let redis = a
            .store
            .to_str()
            .filter(|s| s.starts_with("redis://"))
            .map(str::to_owned);
        if let Some(url) = &redis {
            redis_store::parse_url(url).map_err(|e| usage(e.to_string(), REDIS_EXAMPLE))?;
        }
        Ok(Plan {
            addr: SocketAddr::new(ip, a.port),
            config: QueueConfig {
                store: a.store,
                redis,
                sync: a.sync.into(),
                partitions: a.partitions,
                broker: Config {
                    ack_timeout: Duration::from_millis(a.ack_timeout_ms.max(1)),
                    max_attempts: a.max_attempts,
                    max_unacked: a.max_unacked,
                    ..Config::default()
                },
                files: FileConfig {
                    segment_bytes: a.segment_bytes,
                    retain_bytes: Some(a.retain_bytes),
                    retain_ms: Some(a.retain_secs.saturating_mul(1000)),
                },
            },
        })
    }
}

/// Serve until Ctrl-C or SIGTERM, printing what the broker reports.
pub async fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let engine = socketio::bind(plan.addr, socketio::engine_config())
        .await
        .hinted(
            format!("could not listen on {}", plan.addr),
            "pick another --port, or --port 0 to let the kernel choose",
        )?;
    let local = engine.local_addr();
    let topics = match &plan.config.redis {
        // Reach Redis before saying that the broker listens.
        Some(url) => RedisStore::open(url, &plan.config.files)
            .hinted(
                format!("the log in Redis at {url} could not be opened"),
                START_REDIS,
            )?
            .topics()
            .len(),
        None => std::fs::read_dir(&plan.config.store).map_or(0, |d| d.count()),
    };
    out.event(&Line::Listening {
        url: format!("http://{local}"),
        namespace: NAMESPACE,
        store: plan.config.store.display().to_string(),
        sync: plan.config.sync,
        topics,
    })?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let stop = async move {
        let _ = stop_rx.await;
    };
    let store = plan.config.store.display().to_string();
    let hint = match &plan.config.redis {
        Some(_) => START_REDIS,
        None => "check that the folder is writable, or give another --store",
    };
    let mut server = tokio::spawn(queue::serve(engine, plan.config, stop, Some(tx)));
    let mut sigterm = Term::new()?;
    let mut stop_tx = Some(stop_tx);
    loop {
        tokio::select! {
            Some(e) = rx.recv() => out.event(&Line::Broker(e))?,
            r = &mut server => {
                r?.hinted(
                    format!("the log in {store} could not be opened"),
                    hint,
                )?;
                break;
            }
            signal = async {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => "SIGINT",
                    () = sigterm.recv() => "SIGTERM",
                }
            }, if stop_tx.is_some() => {
                out.event(&Line::ShuttingDown { signal })?;
                if let Some(stop) = stop_tx.take() {
                    let _ = stop.send(());
                }
            }
        }
    }
    while let Ok(e) = rx.try_recv() {
        out.event(&Line::Broker(e))?;
    }
    Ok(())
}
