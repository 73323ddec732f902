//! `netlab queue` over real sockets: the broker killed with SIGKILL while several
//! producers publish to several topics loses no acknowledged message and duplicates
//! none; a consumer killed with messages unacknowledged gets them redelivered to its
//! group; a message nacked too often goes to the dead-letter topic; the real
//! socket.io-client publishes and consumes; a full disk fails publishes clearly and
//! loses nothing acknowledged.

mod common;

use common::Background;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("netlab-queue-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Start `netlab queue serve` on a free port; the broker and its URL.
fn broker(store: &Path, extra: &[&str]) -> (Background, String) {
    let mut args: Vec<String> = ["queue", "serve", "--port", "0", "--store"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(store.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    let (b, first) = Background::start(&args);
    let url = first["url"]
        .as_str()
        .expect("the first line has the URL")
        .to_owned();
    (b, url)
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// Consume a whole topic as `group` until idle: (partition, offset) → message.
fn consume_all(url: &str, topic: &str, group: &str) -> BTreeMap<(u64, u64), Value> {
    let run = common::netlab_with_limit(
        &[
            "--jsonl", "queue", "consume", "--url", url, topic, "--group", group,
        ]
        .into_iter()
        .chain(["--exit-when-idle", "--idle-ms", "1500"])
        .collect::<Vec<_>>(),
        LIMIT,
    );
    assert_eq!(run.code(), 0, "consume failed: {}", run.stderr);
    let mut all = BTreeMap::new();
    for m in lines(&run.stdout) {
        let at = (
            m["partition"].as_u64().unwrap(),
            m["offset"].as_u64().unwrap(),
        );
        assert!(
            all.insert(at, m).is_none(),
            "{at:?} delivered twice to one consumer"
        );
    }
    all
}

/// A publisher reading its messages from stdin, its JSON lines collected as they come.
struct Producer {
    child: Child,
    topic: String,
    sent: Vec<String>,
    acked: Arc<Mutex<Vec<Value>>>,
    reader: std::thread::JoinHandle<()>,
}

fn producer(url: &str, topic: &str, name: &str, n: usize) -> Producer {
    let mut child = common::netlab_cmd()
        .args(["--jsonl", "queue", "publish", "--url", url, topic, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("netlab runs");
    let sent: Vec<String> = (0..n).map(|i| format!("{name}-{i}")).collect();
    let mut stdin = child.stdin.take().unwrap();
    let text = sent.join("\n") + "\n";
    std::thread::spawn(move || {
        let _ = stdin.write_all(text.as_bytes());
    });
    let out = child.stdout.take().unwrap();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let sink = acked.clone();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            sink.lock()
                .unwrap()
                .push(serde_json::from_str(&line).unwrap());
        }
    });
    Producer {
        child,
        topic: topic.to_owned(),
        sent,
        acked,
        reader,
    }
}

#[test]
fn sigkill_while_producers_publish_loses_no_acknowledged_message() {
    let store = temp("kill");
    let (b, url) = broker(&store, &["--sync", "batch"]);
    let mut producers: Vec<Producer> = [
        ("alpha", "a0"),
        ("alpha", "a1"),
        ("beta", "b0"),
        ("beta", "b1"),
    ]
    .iter()
    .map(|(topic, name)| producer(&url, topic, name, 20_000))
    .collect();
    let start = Instant::now();
    let total = |ps: &[Producer]| {
        ps.iter()
            .map(|p| p.acked.lock().unwrap().len())
            .sum::<usize>()
    };
    while total(&producers) < 2000 && start.elapsed() < LIMIT {
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL, mid-stream: publishes are in flight, some written and not yet synced.
    drop(b.stop());
    for p in &mut producers {
        let status = p.child.wait().unwrap();
        assert!(!status.success(), "a producer cut off must fail");
        // Its output is whole once the reader has seen the end of it.
        while !p.reader.is_finished() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let acked_total = total(&producers);
    assert!(acked_total >= 2000, "only {acked_total} acknowledged");
    let acked_sent: usize = producers.iter().map(|p| p.sent.len()).sum();
    assert!(acked_total < acked_sent, "the kill came before the end");

    let (b, url) = broker(&store, &[]);
    let mut logs = HashMap::new();
    for topic in ["alpha", "beta"] {
        logs.insert(topic, consume_all(&url, topic, "check"));
    }
    drop(b);
    let mut values = BTreeSet::new();
    for log in logs.values() {
        for m in log.values() {
            let v = m["value"].as_str().unwrap().to_owned();
            assert!(values.insert(v.clone()), "{v} is in the log twice");
        }
    }
    for p in &producers {
        // The answers come back in the order of the publishes: the k-th is the k-th line.
        for (k, a) in p.acked.lock().unwrap().iter().enumerate() {
            assert_eq!(a["durability"], "batch");
            let at = (
                a["partition"].as_u64().unwrap(),
                a["offset"].as_u64().unwrap(),
            );
            let m = logs[p.topic.as_str()]
                .get(&at)
                .unwrap_or_else(|| panic!("{} {at:?} was acknowledged and is gone", p.topic));
            assert_eq!(m["value"], p.sent[k].as_str());
        }
    }
    let _ = std::fs::remove_dir_all(&store);
}

fn publish(url: &str, topic: &str, messages: &[&str]) -> Vec<Value> {
    let input = messages.join("\n") + "\n";
    let run = common::netlab_with_stdin(
        &["--jsonl", "queue", "publish", "--url", url, topic, "-"],
        &input,
        LIMIT,
    );
    assert_eq!(run.code(), 0, "publish failed: {}", run.stderr);
    lines(&run.stdout)
}

#[test]
fn a_consumer_killed_mid_batch_gets_its_messages_redelivered() {
    let store = temp("crash");
    // A long timeout: what comes back, comes back because the consumer is gone.
    let (b, url) = broker(&store, &["--ack-timeout-ms", "60000"]);
    let words: Vec<String> = (0..10).map(|i| format!("job-{i}")).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    assert_eq!(publish(&url, "work", &words).len(), 10);
    let mut crash = common::netlab_cmd()
        .args([
            "--jsonl", "queue", "consume", "--url", &url, "work", "--group", "g",
        ])
        .args(["--limit", "4", "--no-ack"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(crash.stdout.take().unwrap());
    let held: Vec<Value> = out
        .lines()
        .take(4)
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert_eq!(held.len(), 4);
    crash.kill().unwrap();
    crash.wait().unwrap();
    let got = consume_all(&url, "work", "g");
    assert_eq!(got.len(), 10, "the group gets every message: {got:?}");
    for h in &held {
        let at = (
            h["partition"].as_u64().unwrap(),
            h["offset"].as_u64().unwrap(),
        );
        assert_eq!(got[&at]["attempt"], 2, "{at:?} went out again");
        assert_eq!(got[&at]["value"], h["value"]);
    }
    let others = got.values().filter(|m| m["attempt"] == 1).count();
    assert_eq!(others, 6);
    drop(b);
    let _ = std::fs::remove_dir_all(&store);
}

#[test]
fn a_message_nacked_too_often_goes_to_the_dead_letter_topic() {
    let store = temp("dead");
    let (b, url) = broker(&store, &["--max-attempts", "2"]);
    publish(&url, "risky", &["poison"]);
    let run = common::netlab_with_limit(
        &[
            "--jsonl", "queue", "consume", "--url", &url, "risky", "--group", "g", "--nack",
            "--count", "2",
        ],
        LIMIT,
    );
    let seen = lines(&run.stdout);
    let attempts: Vec<&Value> = seen.iter().map(|m| &m["attempt"]).collect();
    assert_eq!(attempts, [1, 2]);
    let dead = consume_all(&url, "risky.dead", "inspect");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead.values().next().unwrap()["value"], "poison");
    let status =
        common::netlab_with_limit(&["--json", "queue", "status", "--url", &url], LIMIT).json();
    let g = status["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["topic"] == "risky")
        .expect("the group");
    assert_eq!(g["dead_letters"], 1);
    assert_eq!(
        g["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["lag"].as_u64().unwrap())
            .sum::<u64>(),
        0
    );
    drop(b);
    let _ = std::fs::remove_dir_all(&store);
}

#[test]
fn the_real_socket_io_client_publishes_and_consumes() {
    let Some(peers) = common::node_peers(&["socket.io-client"]) else {
        return;
    };
    let store = temp("node");
    let (b, url) = broker(&store, &["--sync", "always"]);
    let out = common::node_json_lines(
        &peers,
        "queue_support/client.js",
        &[url],
        LIMIT,
        "socket.io-client",
    );
    let acked: Vec<&Value> = out.iter().filter_map(|l| l.get("acked")).collect();
    assert_eq!(acked.len(), 3, "{out:?}");
    let partition = &acked[0]["partition"];
    for (i, a) in acked.iter().enumerate() {
        assert_eq!(a["ok"], true);
        assert_eq!(a["durability"], "always");
        assert_eq!(&a["partition"], partition, "one key, one partition");
        assert_eq!(a["offset"], i as u64);
    }
    let got: Vec<&Value> = out.iter().filter_map(|l| l.get("message")).collect();
    let values: Vec<&Value> = got.iter().map(|m| &m["value"]).collect();
    assert_eq!(
        values,
        ["one", "two", "three"],
        "in order within the partition"
    );
    assert_eq!(got[0]["key"], "k");
    drop(b);
    let _ = std::fs::remove_dir_all(&store);
}

/// Lines of a child's stdout, as they come.
fn line_reader(child: &mut Child) -> std::sync::mpsc::Receiver<Value> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    rx
}

fn next_listening(rx: &std::sync::mpsc::Receiver<Value>) -> String {
    loop {
        let v = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the broker starts");
        if v["event"] == "listening" {
            return v["url"].as_str().unwrap().to_owned();
        }
    }
}

#[test]
fn a_full_disk_fails_publishes_clearly_and_loses_nothing_acknowledged() {
    if !common::have_root("a full disk (a tmpfs in a mount namespace of its own)")
        || !common::have_tool("unshare")
    {
        return;
    }
    let store = temp("full");
    std::fs::create_dir_all(&store).unwrap();
    // In a mount namespace of its own, a 256 KiB tmpfs on the store: the broker runs,
    // is killed, and runs again on the same (full) file system.
    let script = r#"mount -t tmpfs -o size=256k netlab-full "$0" || exit 1
"$1" --jsonl queue serve --port 0 --store "$0" --segment-bytes 65536 &
echo "{\"event\":\"pid\",\"pid\":$!}"
wait
exec "$1" --jsonl queue serve --port 0 --store "$0""#;
    let mut ns = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", script])
        .arg(&store)
        .arg(env!("CARGO_BIN_EXE_netlab"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = line_reader(&mut ns);
    let pid = rx.recv_timeout(Duration::from_secs(10)).unwrap()["pid"]
        .as_u64()
        .unwrap();
    let url = next_listening(&rx);
    let big = "x".repeat(1000);
    let input: String = (0..400).map(|i| format!("{i:04}{big}\n")).collect();
    let run = common::netlab_with_stdin(
        &["--jsonl", "queue", "publish", "--url", &url, "full", "-"],
        &input,
        LIMIT,
    );
    assert_eq!(run.code(), 1, "publishing 400 KB into 256 KiB must fail");
    assert!(run.stderr.contains("the disk is full"), "{}", run.stderr);
    assert!(
        run.stderr.contains("hint: the broker's disk is full"),
        "{}",
        run.stderr
    );
    let acked = lines(&run.stdout);
    assert!(acked.len() > 50, "some fit: {}", acked.len());
    assert!(acked.len() < 400);
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    let url = next_listening(&rx);
    let log = consume_all(&url, "full", "check");
    for a in &acked {
        let at = (
            a["partition"].as_u64().unwrap(),
            a["offset"].as_u64().unwrap(),
        );
        assert!(log.contains_key(&at), "{at:?} acknowledged, then lost");
    }
    assert_eq!(
        log.len(),
        acked.len(),
        "only what was acknowledged is there"
    );
    let _ = ns.kill();
    let _ = ns.wait();
    let _ = std::fs::remove_dir_all(&store);
}

#[test]
fn the_demo_tells_what_it_measured() {
    let run = common::netlab_with_limit(&["--jsonl", "queue", "demo"], LIMIT);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let steps: HashMap<String, Value> = lines(&run.stdout)
        .into_iter()
        .map(|s| (s["step"].as_str().unwrap().to_owned(), s["data"].clone()))
        .collect();
    let held = steps["crash"]["held"].as_array().unwrap();
    assert_eq!(held.len(), 2, "the cook's limit");
    let again: Vec<&Value> = steps["redelivery"]["delivered"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["attempt"] == 2)
        .map(|d| &d["value"])
        .collect();
    assert_eq!(again, held.iter().collect::<Vec<_>>());
    assert_eq!(
        steps["dead letter"]["attempts"],
        serde_json::json!([1, 2, 3])
    );
    assert_eq!(steps["dead letter"]["dead"]["value"], "poison");
    assert_eq!(steps["restart"]["orders"].as_array().unwrap().len(), 5);
    assert!(steps["restart"]["kitchen_left"].is_null());
}

#[test]
fn every_command_in_docs_queue_md_parses_and_the_clients_run() {
    use clap::Parser;
    let store = temp("docs");
    let (b, url) = broker(&store, &[]);
    let cmds = common::console_commands("docs/queue.md");
    assert!(cmds.len() >= 6, "docs/queue.md shows its commands");
    for cmd in &cmds {
        let argv = common::netlab_argv(cmd).unwrap_or_else(|| panic!("`{cmd}` runs no netlab"));
        if let Err(e) = netlab::cli::Cli::try_parse_from(&argv) {
            panic!("docs/queue.md: `{cmd}` does not parse:\n{e}");
        }
        let runs = cmd.contains(" publish ")
            || cmd.ends_with(" status")
            || (cmd.contains(" consume ") && cmd.contains("--exit-when-idle"));
        if !runs {
            continue; // serve runs until Ctrl-C (one runs above); the demo has its own test
        }
        let argv = common::with_flag(&argv, "--url", &url);
        let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
        let run = common::netlab_with_limit(&args, LIMIT);
        assert_eq!(run.code(), 0, "`{cmd}`: {}", run.stderr);
    }
    drop(b);
    let _ = std::fs::remove_dir_all(&store);
}

#[test]
fn past_the_ack_timeout_a_message_comes_back_and_a_slow_group_slows_only_itself() {
    let store = temp("timeout");
    let (b, url) = broker(&store, &["--ack-timeout-ms", "300", "--partitions", "1"]);
    let words: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    publish(
        &url,
        "t",
        &words.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    // The slow group: one consumer that holds one message and never answers.
    let run = common::netlab_with_limit(
        &[
            "--jsonl", "queue", "consume", "--url", &url, "t", "--group", "slow",
        ]
        .into_iter()
        .chain(["--limit", "1", "--no-ack", "--count", "3"])
        .collect::<Vec<_>>(),
        LIMIT,
    );
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let seen: Vec<(Value, Value)> = lines(&run.stdout)
        .into_iter()
        .map(|m| (m["offset"].clone(), m["attempt"].clone()))
        .collect();
    let again = |a: u64| (Value::from(0), Value::from(a));
    assert_eq!(
        seen,
        [again(1), again(2), again(3)],
        "offset 0 again and again, nothing after it"
    );
    // Meanwhile another group reads everything.
    assert_eq!(consume_all(&url, "t", "fast").len(), 20);
    let status =
        common::netlab_with_limit(&["--json", "queue", "status", "--url", &url], LIMIT).json();
    let lag = |group: &str| {
        let g = status["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["group"] == group)
            .unwrap();
        g["partitions"][0]["lag"].as_u64().unwrap()
    };
    assert_eq!((lag("slow"), lag("fast")), (20, 0));
    drop(b);
    let _ = std::fs::remove_dir_all(&store);
}
