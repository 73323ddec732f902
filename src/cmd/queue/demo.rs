//! `netlab queue demo`: the broker and its clients in one process, narrated: publishes
//! acknowledged once synced, a consumer that crashes holding messages and their
//! redelivery, a message that fails until it is a dead letter, and a restart of the
//! broker with nothing lost.

use super::client::connect;
use crate::net::queue::{self, QueueConfig};
use crate::net::socketio;
use crate::net::socketio::client::{Heard, SioClient};
use crate::output::{Output, Paint, Render, Style};
use crate::wire::application::queue::{Config, Durability};
use crate::wire::application::socketio::Data;
use serde::Serialize;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::oneshot;

/// How long the demo waits for any one thing.
const WAIT: Duration = Duration::from_secs(10);

/// One step of the story.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub text: String,
    /// What was measured in this step (offsets, attempts, counts).
    pub data: Value,
}

impl Render for Step {
    fn render_human(&self, style: &Style) -> String {
        format!(
            "{} {}",
            style.paint(Paint::Bold, format!("[{}]", self.step)),
            self.text
        )
    }
}

/// A broker on a free port of 127.0.0.1, stopped when its sender is used or dropped.
struct Running {
    url: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), crate::net::queue::StoreError>>,
}

async fn start(config: QueueConfig) -> anyhow::Result<Running> {
    let addr = "127.0.0.1:0".parse()?;
    let engine = socketio::bind(addr, socketio::engine_config()).await?;
    let url = format!("http://{}", engine.local_addr());
    let (stop, rx) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = rx.await;
    };
    let task = tokio::spawn(queue::serve(engine, config, shutdown, None));
    Ok(Running { url, stop, task })
}

async fn ask(client: &mut SioClient, event: &str, arg: Value) -> anyhow::Result<Value> {
    let id = client
        .emit(event, vec![arg.into()], true)
        .await?
        .unwrap_or_default();
    let wait = async {
        loop {
            if let Heard::Ack { id: got, args } = client.next().await? {
                if got == id {
                    return Ok(args
                        .first()
                        .and_then(Data::as_json)
                        .cloned()
                        .unwrap_or_default());
                }
            }
        }
    };
    tokio::time::timeout(WAIT, wait).await?
}

/// The next `message` event, if one comes within `wait`.
async fn message(client: &mut SioClient, wait: Duration) -> anyhow::Result<Option<Value>> {
    let next = async {
        loop {
            if let Heard::Event { name, args, .. } = client.next().await? {
                if name == "message" {
                    return anyhow::Ok(
                        args.first()
                            .and_then(Data::as_json)
                            .cloned()
                            .unwrap_or_default(),
                    );
                }
            }
        }
    };
    match tokio::time::timeout(wait, next).await {
        Ok(m) => m.map(Some),
        Err(_) => Ok(None),
    }
}

async fn answer(client: &mut SioClient, verb: &str, m: &Value) -> anyhow::Result<()> {
    let at = json!({"partition": m["partition"], "offset": m["offset"]});
    client.emit(verb, vec![at.into()], false).await?;
    Ok(())
}

async fn subscribe(url: &str, group: &str, limit: usize) -> anyhow::Result<SioClient> {
    let mut c = connect(url).await?;
    let sub = json!({"topic": "orders", "group": group, "from": "earliest", "limit": limit});
    ask(&mut c, "subscribe", sub).await?;
    Ok(c)
}

/// Run the story.
pub async fn run(out: &mut Output) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("netlab-queue-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = QueueConfig {
        store: dir.clone(),
        sync: Durability::Always,
        partitions: 1,
        broker: Config {
            ack_timeout: Duration::from_secs(1),
            max_attempts: 3,
            ..Config::default()
        },
        ..QueueConfig::default()
    };
    let r = story(config, out).await;
    let _ = std::fs::remove_dir_all(&dir);
    r
}

async fn story(config: QueueConfig, out: &mut Output) -> anyhow::Result<()> {
    let broker = start(config.clone()).await?;
    out.event(&Step {
        step: "broker",
        text: format!("a broker listens on {} (namespace /queue), --sync always, one partition, acknowledgement timeout 1 s, 3 attempts", broker.url),
        data: json!({"url": broker.url}),
    })?;
    let mut producer = connect(&broker.url).await?;
    let mut offsets = Vec::new();
    for order in ["pizza", "pasta", "salad", "soup", "poison"] {
        let a = ask(
            &mut producer,
            "publish",
            json!({"topic": "orders", "value": order}),
        )
        .await?;
        offsets.push(a["offset"].clone());
    }
    out.event(&Step {
        step: "publish",
        text: format!("5 orders published; each acknowledgement came after its fsync (durability \"always\"), offsets {}", json!(offsets)),
        data: json!({"offsets": offsets}),
    })?;
    crash_and_redeliver(&broker.url, out).await?;
    dead_letter(&broker.url, out).await?;
    drop(producer);
    let _ = broker.stop.send(());
    let _ = broker.task.await;
    restart(config, out).await
}

async fn crash_and_redeliver(url: &str, out: &mut Output) -> anyhow::Result<()> {
    let mut first = subscribe(url, "kitchen", 2).await?;
    let mut held = Vec::new();
    while let Some(m) = message(&mut first, Duration::from_millis(500)).await? {
        held.push(m["value"].clone());
    }
    // Gone without a word: the connection just closes, as when a process is killed.
    drop(first);
    out.event(&Step {
        step: "crash",
        text: format!(
            "cook 1 (limit 2 unacknowledged) took {} and crashed before acknowledging",
            json!(held)
        ),
        data: json!({"held": held}),
    })?;
    let mut second = subscribe(url, "kitchen", 8).await?;
    let mut got = Vec::new();
    while let Some(m) = message(&mut second, Duration::from_millis(500)).await? {
        if m["value"] != "poison" {
            answer(&mut second, "ack", &m).await?;
            got.push(json!({"value": m["value"], "attempt": m["attempt"]}));
        } else {
            answer(&mut second, "ack", &m).await?;
        }
    }
    out.event(&Step {
        step: "redelivery",
        text: format!(
            "cook 2 in the same group got what cook 1 held again (attempt 2) and the rest: {}",
            json!(got)
        ),
        data: json!({"delivered": got}),
    })?;
    Ok(())
}

async fn dead_letter(url: &str, out: &mut Output) -> anyhow::Result<()> {
    let mut picky = subscribe(url, "billing", 8).await?;
    let mut attempts = Vec::new();
    while let Some(m) = message(&mut picky, Duration::from_millis(500)).await? {
        if m["value"] == "poison" {
            attempts.push(m["attempt"].clone());
            answer(&mut picky, "nack", &m).await?;
        } else {
            answer(&mut picky, "ack", &m).await?;
        }
    }
    let mut c = connect(url).await?;
    ask(
        &mut c,
        "subscribe",
        json!({"topic": "orders.dead", "group": "inspect"}),
    )
    .await?;
    let dead = message(&mut c, WAIT).await?.unwrap_or_default();
    out.event(&Step {
        step: "dead letter",
        text: format!(
            "group billing (which sees every order too) refused \"poison\" at attempts {}; after the third it went to orders.dead: {}",
            json!(attempts),
            dead["value"]
        ),
        data: json!({"attempts": attempts, "dead": dead}),
    })?;
    Ok(())
}

async fn restart(config: QueueConfig, out: &mut Output) -> anyhow::Result<()> {
    let broker = start(config).await?;
    let mut audit = subscribe(&broker.url, "audit", 8).await?;
    let mut all = Vec::new();
    while let Some(m) = message(&mut audit, Duration::from_millis(500)).await? {
        answer(&mut audit, "ack", &m).await?;
        all.push(m["value"].clone());
    }
    let mut kitchen = subscribe(&broker.url, "kitchen", 8).await?;
    let left = message(&mut kitchen, Duration::from_millis(500)).await?;
    out.event(&Step {
        step: "restart",
        text: format!(
            "the broker stopped and started again on its log: a new group reads all {} orders {}; group kitchen resumes at its committed offset with {}",
            all.len(),
            json!(all),
            if left.is_none() { "nothing left to do".to_owned() } else { "more to do".to_owned() }
        ),
        data: json!({"orders": all, "kitchen_left": left}),
    })?;
    let _ = broker.stop.send(());
    let _ = broker.task.await;
    Ok(())
}
