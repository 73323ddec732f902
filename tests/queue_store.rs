//! The queue's log on real files: killed with SIGKILL while it appends, it keeps every
//! append it acknowledged under `always` and `batch`, once; a flipped byte is detected;
//! a cut file opens cleanly.
//!
//! The behaviour every store owes the broker runs against the files and against a
//! private Redis (`appendonly yes`, `appendfsync always`); so does the SIGKILL test,
//! with Redis itself killed and restarted too.
//!
//! The appending child is this test binary itself, run again with `QUEUE_STORE_CHILD`
//! set: it runs only `child_appends`, which appends through the log thread and prints
//! one line per acknowledged append.

mod common;

use common::redis::RedisServer;
use netlab::net::queue::log::{self, Command, Reply};
use netlab::net::queue::{FileConfig, FileStore, RedisStore, Store};
use netlab::wire::application::queue::Durability;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = "QUEUE_STORE_CHILD";

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("netlab-queue-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn small_segments() -> FileConfig {
    FileConfig {
        segment_bytes: 8192,
        retain_bytes: None,
        retain_ms: None,
    }
}

/// The child: append "p{partition}-{n}" to two topics for ever, printing
/// `topic partition offset value` for each acknowledged append.
#[test]
fn child_appends() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let (dir, policy) = spec.split_once('|').expect("DIR|POLICY");
    let policy = match policy {
        "always" => Durability::Always,
        "batch" => Durability::Batch,
        _ => Durability::Never,
    };
    let store: Box<dyn Store> = if dir.starts_with("redis://") {
        Box::new(RedisStore::open(dir, &small_segments()).expect("Redis answers"))
    } else {
        Box::new(FileStore::open(Path::new(dir), small_segments()).expect("the log opens"))
    };
    let (tx, mut rx, _thread) = log::spawn(store, policy);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut values = HashMap::new();
    let mut id = 0u64;
    let mut out = std::io::stdout().lock();
    loop {
        for _ in 0..16 {
            id += 1;
            let topic = if id.is_multiple_of(2) { "even" } else { "odd" };
            let value = format!("{topic}-{id}");
            values.insert(id, (topic, value.clone()));
            let _ = tx.send(Command::Append {
                id,
                topic: topic.into(),
                partitions: 2,
                partition: (id % 3 % 2) as u32,
                key: Vec::new(),
                value: value.into_bytes(),
            });
        }
        for _ in 0..16 {
            let Some(Reply::Appended { id, result: Ok(a) }) = rt.block_on(rx.recv()) else {
                panic!("an append failed");
            };
            use std::io::Write;
            let (_, value) = &values[&id];
            writeln!(out, "{} {} {} {value}", a.topic, a.partition, a.offset).unwrap();
            out.flush().unwrap();
        }
    }
}

/// Run the child on `dir` (a folder or a Redis URL), read `n` acknowledgements, kill -9
/// it; the acknowledged appends.
fn kill_while_appending(dir: &str, policy: &str, n: usize) -> Vec<(String, u32, u64, String)> {
    let mut child = Process::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_appends",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, format!("{dir}|{policy}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the test binary runs again");
    let stdout = child.stdout.take().unwrap();
    let mut acked = Vec::new();
    let start = Instant::now();
    for line in std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
    {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() == 4 {
            acked.push((
                f[0].to_owned(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].to_owned(),
            ));
        }
        if acked.len() >= n || start.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    // SIGKILL: no destructor, no flush, no last sync.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        acked.len() >= n,
        "the child acknowledged only {} appends",
        acked.len()
    );
    acked
}

/// Every acknowledged append is in the reopened log at its offset, and no value is
/// there twice.
fn check_after_crash(policy: &str) {
    let dir = temp(policy);
    let acked = kill_while_appending(&dir.display().to_string(), policy, 600);
    let store = FileStore::open(&dir, small_segments()).expect("the log opens after a crash");
    check_acked(Box::new(store), &acked);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every acknowledged append is in `store` at its offset, no value is there twice, and
/// the log takes appends again after its last record.
fn check_acked(store: Box<dyn Store>, acked: &[(String, u32, u64, String)]) {
    for note in store.notes() {
        assert_eq!(
            note.action, "torn tail cut",
            "only a torn tail may be found: {note:?}"
        );
    }
    for (topic, partition, offset, value) in acked {
        let r = store.read(topic, *partition, *offset).unwrap();
        let r = r
            .unwrap_or_else(|| panic!("{topic}/{partition} offset {offset} acknowledged but gone"));
        assert_eq!(String::from_utf8_lossy(&r.value), *value);
    }
    let mut seen = HashMap::new();
    for t in store.topics() {
        for (p, info) in t.partitions.iter().enumerate() {
            for o in info.start..info.end {
                if let Some(r) = store.read(&t.name, p as u32, o).unwrap() {
                    *seen.entry(r.value).or_insert(0) += 1;
                }
            }
        }
    }
    assert!(seen.len() >= acked.len());
    assert!(
        seen.values().all(|n| *n == 1),
        "a value is in the log twice"
    );
    // And the log takes appends again, after the last record.
    let mut store = store;
    let end = store.topics()[0].partitions[0].end;
    let topic = store.topics()[0].name.clone();
    assert_eq!(store.append(&topic, 0, b"", b"after", 0).unwrap(), end);
}

#[test]
fn sigkill_under_always_loses_no_acknowledged_append() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    check_after_crash("always");
}

#[test]
fn sigkill_under_batch_loses_no_acknowledged_append() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    check_after_crash("batch");
}

fn write_three(dir: &Path) -> PathBuf {
    let mut s = FileStore::open(dir, FileConfig::default()).unwrap();
    s.create("t", 1).unwrap();
    for v in ["first", "second", "third"] {
        s.append("t", 0, b"", v.as_bytes(), 0).unwrap();
    }
    s.sync().unwrap();
    dir.join("t/0/00000000000000000000.log")
}

#[test]
fn a_flipped_byte_anywhere_is_detected() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let dir = temp("flip");
    let seg = write_three(&dir);
    let clean = std::fs::read(&seg).unwrap();
    // Every byte of the middle record, one at a time.
    let (from, to) = (34 + 5, 34 + 5 + 34 + 6);
    for i in from..to {
        let mut bytes = clean.clone();
        bytes[i] ^= 0x01;
        std::fs::write(&seg, &bytes).unwrap();
        let s = FileStore::open(&dir, FileConfig::default()).unwrap();
        assert!(!s.notes().is_empty(), "byte {i}: no note");
        let values: Vec<Vec<u8>> = (0..3)
            .filter_map(|o| s.read("t", 0, o).unwrap())
            .map(|r| r.value)
            .collect();
        assert!(
            values
                .iter()
                .all(|v| [&b"first"[..], b"second", b"third"].contains(&v.as_slice())),
            "byte {i}: {values:?}"
        );
        assert!(
            !values.contains(&b"second".to_vec()),
            "byte {i}: the damaged record was returned"
        );
        std::fs::write(&seg, &clean).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_truncated_file_opens_cleanly_at_every_length() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let dir = temp("cut");
    let seg = write_three(&dir);
    let clean = std::fs::read(&seg).unwrap();
    let ends = [0, 39, 79, clean.len()];
    for cut in 0..=clean.len() {
        std::fs::write(&seg, &clean[..cut]).unwrap();
        let mut s = FileStore::open(&dir, FileConfig::default()).unwrap();
        let whole = ends.iter().filter(|e| **e <= cut).count() as u64 - 1;
        assert_eq!(s.topics()[0].partitions[0].end, whole, "cut at {cut}");
        assert_eq!(
            s.notes().len(),
            usize::from(!ends.contains(&cut)),
            "cut at {cut}"
        );
        assert_eq!(
            std::fs::metadata(&seg).unwrap().len(),
            ends[whole as usize] as u64
        );
        assert_eq!(s.append("t", 0, b"", b"next", 0).unwrap(), whole);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// What any [`Store`] must do, through the trait alone: another engine keeping the same
/// topics runs this too. `open` opens the same log again each time.
fn behaviour(open: &dyn Fn() -> Box<dyn Store>) {
    let mut s = open();
    s.create("orders", 2).unwrap();
    s.create("orders", 2).unwrap();
    let t = &s.topics()[0];
    assert_eq!((t.name.as_str(), t.partitions.len()), ("orders", 2));
    for (i, v) in ["a", "b", "c"].iter().enumerate() {
        assert_eq!(
            s.append("orders", 0, b"k", v.as_bytes(), 100 + i as u64)
                .unwrap(),
            i as u64
        );
    }
    assert_eq!(s.append("orders", 1, b"", b"z", 7).unwrap(), 0);
    s.sync().unwrap();
    let r = s.read("orders", 0, 1).unwrap().unwrap();
    assert_eq!(
        (r.offset, r.timestamp, r.key.as_slice(), r.value.as_slice()),
        (1, 101, &b"k"[..], &b"b"[..])
    );
    assert_eq!(s.read("orders", 0, 3).unwrap(), None, "past the end");
    assert!(s.read("missing", 0, 0).is_err(), "no such topic");
    assert!(
        s.append("orders", 2, b"", b"x", 0).is_err(),
        "no such partition"
    );
    s.commit("orders", "g", &[2, 1], true).unwrap();
    drop(s);
    let s = open();
    assert!(s.notes().is_empty());
    let ends: Vec<u64> = s.topics()[0].partitions.iter().map(|p| p.end).collect();
    assert_eq!(ends, [3, 1]);
    assert_eq!(s.read("orders", 1, 0).unwrap().unwrap().value, b"z");
    assert_eq!(
        s.committed(),
        [("orders".to_owned(), "g".to_owned(), vec![2, 1])]
    );
}

#[test]
fn the_file_store_passes_the_store_behaviour() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let dir = temp("behaviour");
    behaviour(&|| Box::new(FileStore::open(&dir, small_segments()).unwrap()));
    let _ = std::fs::remove_dir_all(&dir);
}

fn durable_redis() -> Option<RedisServer> {
    RedisServer::start(&["--appendonly", "yes", "--appendfsync", "always"])
}

#[test]
fn the_redis_store_passes_the_store_behaviour() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let Some(redis) = durable_redis() else {
        return;
    };
    let url = redis.url();
    behaviour(&|| Box::new(RedisStore::open(&url, &small_segments()).unwrap()));
    // The groups' offsets are the streams' consumer groups, for redis-cli to see.
    let groups = redis.command(&["XINFO", "GROUPS", "netlab:queue:orders:0"]);
    assert!(
        groups.contains("last-delivered-id") && groups.contains("2-0"),
        "{groups}"
    );
}

#[test]
fn sigkill_of_the_appender_and_of_redis_loses_no_acknowledged_append() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let Some(mut redis) = durable_redis() else {
        return;
    };
    let acked = kill_while_appending(&redis.url(), "always", 300);
    // Redis killed as a crash would, then started again on its append-only file.
    redis.kill();
    redis.restart();
    let store = RedisStore::open(&redis.url(), &small_segments()).expect("Redis answers again");
    let promise = store.promise(Durability::Batch);
    assert_eq!(promise.durability, Durability::Always, "{promise:?}");
    check_acked(Box::new(store), &acked);
}

#[test]
fn a_redis_store_says_where_it_stands_and_comes_back_after_redis_does() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let Some(mut redis) = RedisServer::start(&["--appendonly", "no"]) else {
        return;
    };
    let mut s = RedisStore::open(&redis.url(), &small_segments()).unwrap();
    let promise = s.promise(Durability::Always);
    assert_eq!(
        promise.durability,
        Durability::Never,
        "memory only is no sync"
    );
    assert!(promise.detail.unwrap().contains("appendonly no"));
    s.create("t", 1).unwrap();
    assert_eq!(s.append("t", 0, b"", b"a", 1).unwrap(), 0);
    redis.kill();
    let down = s.append("t", 0, b"", b"b", 2).unwrap_err().to_string();
    assert!(down.contains("Redis"), "{down}");
    redis.restart();
    // Without an append-only file the restarted Redis is empty: the store reads the
    // ends again and starts the partition over, rather than leaving a hole.
    s.create("t", 1).unwrap();
    assert_eq!(s.append("t", 0, b"", b"c", 3).unwrap(), 0);
    assert!(RedisStore::open("redis://127.0.0.1:1", &small_segments())
        .unwrap_err()
        .to_string()
        .contains("no Redis answers"));
}
