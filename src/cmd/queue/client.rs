//! `netlab queue publish`, `consume` and `status`: the `/queue` events through netlab's
//! Socket.IO client (a WebSocket from the start, no reconnection: a client that loses
//! the broker says so and stops).

use super::Line;
use crate::cli::queue::{ConsumeArgs, PublishArgs, StatusArgs};
use crate::error::{usage, HintExt};
use crate::net::queue::{Status, NAMESPACE};
use crate::net::socketio::client::{Heard, SioClient};
use crate::net::ws::{WsConfig, WsUrl};
use crate::output::Output;
use crate::wire::application::queue::{message, Durability};
use crate::wire::application::socketio::Data;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// The longest wait for the broker's answer to subscribe or status.
const ANSWER: Duration = Duration::from_secs(10);

/// Connect to the broker's `/queue` namespace.
pub async fn connect(url: &str) -> anyhow::Result<SioClient> {
    let hint = "give the broker as http://HOST:PORT, e.g. http://127.0.0.1:4100";
    let as_ws = match url.strip_prefix("http://") {
        Some(rest) => format!("ws://{rest}"),
        None => url.to_owned(),
    };
    let parsed: WsUrl = as_ws.parse().map_err(|e: String| usage(e, hint))?;
    let cfg = WsConfig {
        idle_timeout: Duration::from_secs(3600),
        ..WsConfig::default()
    };
    let mut client = SioClient::connect(&parsed.host, parsed.port, NAMESPACE, None, cfg)
        .await
        .hinted(
            format!("could not reach the broker at {url}"),
            "start one with `netlab queue serve`, or give its --url",
        )?;
    loop {
        match client.next().await? {
            Heard::Connected { .. } => return Ok(client),
            Heard::ConnectError { payload } => {
                anyhow::bail!("the server at {url} has no /queue namespace: {payload}")
            }
            Heard::Closed { reason } => anyhow::bail!("the broker closed the connection: {reason}"),
            _ => {}
        }
    }
}

/// The answer to an emit with ack, read as JSON; `{error}` becomes an error.
fn answer(args: &[Data]) -> Result<Value, String> {
    let v = args
        .first()
        .and_then(Data::as_json)
        .cloned()
        .unwrap_or(Value::Null);
    match v.get("error").and_then(Value::as_str) {
        Some(e) => Err(e.to_owned()),
        None => Ok(v),
    }
}

/// Emit with an ack and wait for the answer (other events are ignored meanwhile).
async fn ask(client: &mut SioClient, event: &str, arg: Value) -> anyhow::Result<Value> {
    let id = client
        .emit(event, vec![arg.into()], true)
        .await?
        .unwrap_or_default();
    let wait = async {
        loop {
            match client.next().await? {
                Heard::Ack { id: got, args } if got == id => {
                    return answer(&args)
                        .map_err(|e| anyhow::anyhow!("the broker refused {event}: {e}"))
                }
                Heard::Closed { reason } => {
                    anyhow::bail!("the broker closed the connection: {reason}")
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(ANSWER, wait)
        .await
        .map_err(|_| anyhow::anyhow!("the broker did not answer {event} within {ANSWER:?}"))?
}

async fn messages(a: &PublishArgs) -> anyhow::Result<Vec<String>> {
    if a.message != "-" {
        return Ok(vec![a.message.clone()]);
    }
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut all = Vec::new();
    while let Some(line) = lines
        .next_line()
        .await
        .failed("could not read standard input")?
    {
        all.push(line);
    }
    Ok(all)
}

/// Publish each message with at most `window` waiting for their acknowledgements.
pub async fn publish(a: PublishArgs, out: &mut Output) -> anyhow::Result<()> {
    message::check_name(&a.topic)
        .map_err(|e| usage(e.to_string(), "a topic is a name like orders"))?;
    let all = messages(&a).await?;
    let mut client = connect(&a.url).await?;
    let mut inflight: HashSet<u64> = HashSet::new();
    let mut queue = all.into_iter();
    let (mut failed, mut acked) = (Vec::new(), 0usize);
    loop {
        while inflight.len() < a.window.max(1) {
            let Some(value) = queue.next() else { break };
            let mut m = json!({"topic": a.topic, "value": value});
            if let Some(k) = &a.key {
                m["key"] = json!(k);
            }
            let id = client.emit("publish", vec![m.into()], true).await?;
            inflight.extend(id);
        }
        if inflight.is_empty() {
            break;
        }
        match client.next().await? {
            Heard::Ack { id, args } if inflight.remove(&id) => match answer(&args) {
                Ok(v) => {
                    acked += 1;
                    out.event(&acked_line(&v))?;
                }
                Err(e) => failed.push(e),
            },
            Heard::Closed { reason } => anyhow::bail!(
                "the broker closed the connection ({reason}): {} publishes were not acknowledged",
                inflight.len() + queue.len()
            ),
            _ => {}
        }
    }
    let _ = client.disconnect().await;
    if let Some(first) = failed.first() {
        let message = format!(
            "{} of {} publishes failed ({acked} acknowledged); the first: {first}",
            failed.len(),
            failed.len() + acked
        );
        let hint = if first.contains("disk is full") {
            "the broker's disk is full: what was acknowledged is kept; free space where its --store is, or serve with a lower --retain-bytes"
        } else {
            "only the publishes acknowledged above are in the log: publish the others again"
        };
        return Err(crate::error::Hinted::failure(message)
            .with_hint(hint)
            .into());
    }
    Ok(())
}

fn acked_line(v: &Value) -> Line {
    let durability = serde_json::from_value(v["durability"].clone()).unwrap_or(Durability::Never);
    Line::Acked {
        topic: v["topic"].as_str().unwrap_or_default().to_owned(),
        partition: v["partition"].as_u64().unwrap_or(0) as u32,
        offset: v["offset"].as_u64().unwrap_or(0),
        durability,
        synced: v["synced"].as_bool().unwrap_or(false),
        detail: v["detail"].as_str().map(str::to_owned),
    }
}

/// A `message` event's fields.
fn message_line(v: &Value, answered: &'static str) -> Line {
    Line::Message {
        topic: v["topic"].as_str().unwrap_or_default().to_owned(),
        partition: v["partition"].as_u64().unwrap_or(0) as u32,
        offset: v["offset"].as_u64().unwrap_or(0),
        key: v["key"].as_str().map(str::to_owned),
        value: v["value"].as_str().unwrap_or_default().to_owned(),
        timestamp: v["timestamp"].as_u64().unwrap_or(0),
        attempt: v["attempt"].as_u64().unwrap_or(1) as u32,
        answered,
    }
}

/// Subscribe, then print and acknowledge each message.
pub async fn consume(a: ConsumeArgs, out: &mut Output) -> anyhow::Result<()> {
    message::check_name(&a.topic)
        .map_err(|e| usage(e.to_string(), "a topic is a name like orders"))?;
    message::check_name(&a.group)
        .map_err(|e| usage(e.to_string(), "a group is a name like kitchen"))?;
    let from = message::parse_from(&a.from)
        .map_err(|e| usage(e.to_string(), "--from earliest, --from latest or --from 42"))?;
    let from = match from {
        crate::wire::application::queue::From::Offset(n) => json!(n),
        other => serde_json::to_value(other)?,
    };
    let mut client = connect(&a.url).await?;
    let mut sub = json!({"topic": a.topic, "group": a.group, "from": from});
    if let Some(l) = a.limit {
        sub["limit"] = json!(l);
    }
    ask(&mut client, "subscribe", sub).await?;
    let (verb, answered) = match (a.nack, a.no_ack) {
        (true, _) => (Some("nack"), "nacked"),
        (_, true) => (None, "not answered"),
        _ => (Some("ack"), "acked"),
    };
    let idle = Duration::from_millis(a.idle_ms);
    let mut count = 0u64;
    while a.count.is_none_or(|c| count < c) {
        let heard = if a.exit_when_idle {
            match tokio::time::timeout(idle, client.next()).await {
                Ok(h) => h?,
                Err(_) => break,
            }
        } else {
            client.next().await?
        };
        match heard {
            Heard::Event { name, args, .. } if name == "message" => {
                let v = args
                    .first()
                    .and_then(Data::as_json)
                    .cloned()
                    .unwrap_or_default();
                out.event(&message_line(&v, answered))?;
                if let Some(verb) = verb {
                    let at = json!({"partition": v["partition"], "offset": v["offset"]});
                    client.emit(verb, vec![at.into()], false).await?;
                }
                count += 1;
            }
            Heard::Closed { reason } => anyhow::bail!("the broker closed the connection: {reason}"),
            Heard::Disconnected => anyhow::bail!("the broker took this consumer out of /queue"),
            _ => {}
        }
    }
    let _ = client.disconnect().await;
    Ok(())
}

/// Ask the broker for its topics and groups.
pub async fn status(a: StatusArgs, out: &mut Output) -> anyhow::Result<()> {
    let mut client = connect(&a.url).await?;
    let v = ask(&mut client, "status", json!({})).await?;
    let status: Status = serde_json::from_value(v)
        .map_err(|e| anyhow::anyhow!("the broker's status could not be read: {e}"))?;
    let _ = client.disconnect().await;
    out.report(&status)?;
    Ok(())
}
