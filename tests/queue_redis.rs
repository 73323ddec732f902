//! `netlab queue serve --store redis://…` over real sockets and a private Redis
//! (`appendonly yes`, `appendfsync always`): publish, consume with a group, kill -9 the
//! broker, start it again: the group goes on where it committed and nothing acknowledged
//! is lost; kill -9 Redis and start it again: still nothing acknowledged is lost, and the
//! running broker works on. Without a Redis the command says how to start one.

mod common;

use common::redis::RedisServer;
use common::Background;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn broker(redis: &str) -> (Background, String) {
    let args: Vec<String> = ["queue", "serve", "--port", "0", "--store", redis]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (b, first) = Background::start(&args);
    let url = first["url"]
        .as_str()
        .unwrap_or_else(|| panic!("the first line has the URL: {first}"))
        .to_owned();
    (b, url)
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// Publish each message; the values acknowledged.
fn publish(url: &str, topic: &str, messages: &[String]) -> Vec<Value> {
    let input = messages.join("\n") + "\n";
    let run = common::netlab_with_stdin(
        &["--jsonl", "queue", "publish", "--url", url, topic, "-"],
        &input,
        LIMIT,
    );
    assert_eq!(run.code(), 0, "publish failed: {}", run.stderr);
    lines(&run.stdout)
}

/// Consume as `group` (at most `count` messages, or until idle): the values received.
fn consume(url: &str, topic: &str, group: &str, count: Option<usize>) -> Vec<String> {
    let count = count.map(|c| c.to_string());
    let mut args = vec![
        "--jsonl",
        "queue",
        "consume",
        "--url",
        url,
        topic,
        "--group",
        group,
        "--exit-when-idle",
        "--idle-ms",
        "1500",
    ];
    if let Some(c) = &count {
        args.extend(["--count", c]);
    }
    let run = common::netlab_with_limit(&args, LIMIT);
    assert_eq!(run.code(), 0, "consume failed: {}", run.stderr);
    lines(&run.stdout)
        .iter()
        .filter_map(|v| v["value"].as_str().map(str::to_owned))
        .collect()
}

fn messages(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

#[test]
fn a_broker_on_redis_loses_nothing_acknowledged_when_it_or_redis_is_killed() {
    let Some(mut redis) = RedisServer::start(&["--appendonly", "yes", "--appendfsync", "always"])
    else {
        return;
    };
    let (b, url) = broker(&redis.url());
    let first = messages("before", 30);
    let acks = publish(&url, "orders", &first);
    assert_eq!(acks.len(), first.len());
    for a in &acks {
        assert_eq!(a["durability"], "always", "{a}");
        let detail = a["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("appendfsync always"), "{a}");
    }
    let status = common::netlab_with_limit(&["--json", "queue", "status", "--url", &url], LIMIT);
    let store = status.json()["store"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(store.contains("appendfsync always"), "{}", status.stdout);
    // A group takes some, acknowledges them, and the broker is killed.
    let early = consume(&url, "orders", "kitchen", Some(10));
    assert_eq!(early.len(), 10);
    std::thread::sleep(Duration::from_millis(300));
    let offsets = redis.command(&["XINFO", "GROUPS", "netlab:queue:orders:0"]);
    assert!(
        offsets.contains("kitchen"),
        "the offsets are in Redis: {offsets}"
    );
    b.stop();
    let (b, url) = broker(&redis.url());
    let rest = consume(&url, "orders", "kitchen", None);
    let got: BTreeSet<&String> = early.iter().chain(&rest).collect();
    assert_eq!(got, first.iter().collect(), "the group got every message");
    assert!(
        rest.len() < first.len(),
        "the group went on from its committed offsets ({} again)",
        rest.len()
    );
    // Redis killed as a crash would, and started again on its append-only file; the
    // running broker connects again.
    redis.kill();
    redis.restart();
    let second = messages("after", 10);
    let acks = publish(&url, "orders", &second);
    assert_eq!(acks.len(), second.len());
    let all = consume(&url, "orders", "audit", None);
    let got: BTreeSet<&String> = all.iter().collect();
    for m in first.iter().chain(&second) {
        assert!(got.contains(m), "{m} was acknowledged and is gone");
    }
    b.stop();
}

#[test]
fn without_redis_serve_says_how_to_start_one() {
    let port = common::redis::free_port().to_string();
    let store = format!("redis://127.0.0.1:{port}");
    let run =
        common::netlab_with_limit(&["queue", "serve", "--port", "0", "--store", &store], LIMIT);
    assert_ne!(run.code(), 0);
    assert!(run.stderr.contains("no Redis answers"), "{}", run.stderr);
    assert!(run.stderr.contains("redis-server"), "{}", run.stderr);
    let bad = common::netlab_with_limit(
        &["queue", "serve", "--store", "redis://user:pw@127.0.0.1:1"],
        LIMIT,
    );
    assert_ne!(bad.code(), 0);
    assert!(bad.stderr.contains("password"), "{}", bad.stderr);
}
