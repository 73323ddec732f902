//! The store on its own thread, so that an `fsync` never holds up the Socket.IO machine.
//!
//! Commands go in through a bounded channel; answers come back on a tokio channel the
//! broker's task polls. The sync policy is applied here:
//!
//! - `always`: each append is written and synced before its answer.
//! - `batch` (group commit): the thread takes every command waiting, writes all their
//!   appends, syncs once, then answers them all. While it syncs, new appends gather for
//!   the next round, so the busier the broker, the more appends share one sync.
//! - `never`: answered once written to the kernel.

use super::store::{Store, StoreError};
use crate::wire::application::queue::{Durability, Record};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Commands waiting for the thread, at most (publishers past it are told to retry).
pub const COMMAND_QUEUE: usize = 8192;

/// Commands taken in one round of group commit, at most.
const BATCH: usize = 1024;

/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(1);

/// Where a read's answer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFor {
    pub consumer: String,
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub attempt: u32,
}

/// What the thread is asked to do.
#[derive(Debug)]
pub enum Command {
    Append {
        id: u64,
        topic: String,
        partitions: u32,
        partition: u32,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Read(ReadFor),
    /// Copy a record to the dead-letter topic `topic.dead` (one partition).
    DeadLetter {
        topic: String,
        partition: u32,
        offset: u64,
    },
    Commit {
        topic: String,
        group: String,
        offsets: Vec<u64>,
    },
}

/// An append that worked: where, and what its acknowledgement guarantees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub timestamp: u64,
    pub durability: Durability,
    /// What the engine says of it, when it decides the durability (Redis).
    pub detail: Option<String>,
}

/// What the thread answers.
#[derive(Debug)]
pub enum Reply {
    Appended {
        id: u64,
        result: Result<Appended, String>,
    },
    Read {
        to: ReadFor,
        record: Option<Record>,
    },
    /// A dead letter was appended (or could not be).
    DeadLettered {
        topic: String,
        result: Result<Appended, String>,
    },
    /// Retention moved a partition's oldest offset.
    Trimmed {
        topic: String,
        partition: u32,
        start: u64,
    },
    /// Something failed that no request waits for (a commit, retention).
    Trouble(String),
}

/// Milliseconds since 1970 by the system clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Start the thread; it ends when every command sender is gone, after its last answers.
pub fn spawn(
    store: Box<dyn Store>,
    policy: Durability,
) -> (
    std_mpsc::SyncSender<Command>,
    mpsc::UnboundedReceiver<Reply>,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = std_mpsc::sync_channel(COMMAND_QUEUE);
    let (reply_tx, reply_rx) = mpsc::unbounded_channel();
    let handle = std::thread::Builder::new()
        .name("queue-log".into())
        .spawn(move || run(store, policy, rx, reply_tx))
        .expect("the operating system could not start a thread");
    (tx, reply_rx, handle)
}

struct Runner {
    store: Box<dyn Store>,
    policy: Durability,
    replies: mpsc::UnboundedSender<Reply>,
    /// Appends written and waiting for this round's sync (batch).
    waiting: Vec<(u64, Appended)>,
    dead_waiting: Vec<Appended>,
    /// (topic, group) → the latest committed offsets of the round.
    commits: std::collections::BTreeMap<(String, String), Vec<u64>>,
}

fn run(
    store: Box<dyn Store>,
    policy: Durability,
    rx: std_mpsc::Receiver<Command>,
    replies: mpsc::UnboundedSender<Reply>,
) {
    let mut r = Runner {
        store,
        policy,
        replies,
        waiting: Vec::new(),
        dead_waiting: Vec::new(),
        commits: std::collections::BTreeMap::new(),
    };
    let mut last_retention = std::time::Instant::now();
    loop {
        let first = match rx.recv_timeout(RETENTION_EVERY) {
            Ok(c) => Some(c),
            Err(std_mpsc::RecvTimeoutError::Timeout) => None,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let more = std::iter::from_fn(|| rx.try_recv().ok());
        for command in first.into_iter().chain(more).take(BATCH) {
            r.take(command);
        }
        r.finish_round();
        if last_retention.elapsed() >= RETENTION_EVERY {
            last_retention = std::time::Instant::now();
            r.retain();
        }
    }
    r.finish_round();
}

impl Runner {
    fn send(&self, reply: Reply) {
        let _ = self.replies.send(reply);
    }

    fn take(&mut self, command: Command) {
        match command {
            Command::Append {
                id,
                topic,
                partitions,
                partition,
                key,
                value,
            } => {
                let result = self.append(&topic, partitions, partition, &key, &value);
                match result {
                    Ok(a) if self.policy == Durability::Batch => self.waiting.push((id, a)),
                    result => self.send(Reply::Appended {
                        id,
                        result: result.map_err(|e| e.to_string()),
                    }),
                }
            }
            Command::Read(to) => {
                // A read that fails is answered as missing: the broker moves on, and the
                // failure is reported.
                let record = match self.store.read(&to.topic, to.partition, to.offset) {
                    Ok(r) => r,
                    Err(e) => {
                        self.send(Reply::Trouble(e.to_string()));
                        None
                    }
                };
                self.send(Reply::Read { to, record });
            }
            Command::DeadLetter {
                topic,
                partition,
                offset,
            } => self.dead_letter(topic, partition, offset),
            Command::Commit {
                topic,
                group,
                offsets,
            } => {
                // Only a group's latest offsets of the round are written (at its end).
                self.commits.insert((topic, group), offsets);
            }
        }
    }

    /// Write each group's latest committed offsets of the round: one file write (and,
    /// unless `never`, one sync) per group per round, however many acks came.
    fn write_commits(&mut self) {
        let durable = self.policy.synced();
        for ((topic, group), offsets) in std::mem::take(&mut self.commits) {
            if let Err(e) = self.store.commit(&topic, &group, &offsets, durable) {
                self.send(Reply::Trouble(format!(
                    "could not store the offsets of {group}: {e}"
                )));
            }
        }
    }

    /// Append, and under `always` sync at once.
    fn append(
        &mut self,
        topic: &str,
        partitions: u32,
        partition: u32,
        key: &[u8],
        value: &[u8],
    ) -> Result<Appended, StoreError> {
        self.store.create(topic, partitions)?;
        let timestamp = now_ms();
        let offset = self.store.append(topic, partition, key, value, timestamp)?;
        if self.policy == Durability::Always {
            self.store.sync()?;
        }
        let promise = self.store.promise(self.policy);
        Ok(Appended {
            topic: topic.to_owned(),
            partition,
            offset,
            timestamp,
            durability: promise.durability,
            detail: promise.detail,
        })
    }

    fn dead_letter(&mut self, topic: String, partition: u32, offset: u64) {
        let dead = format!("{topic}.dead");
        let result = match self.store.read(&topic, partition, offset) {
            Ok(Some(rec)) => self.append(&dead, 1, 0, &rec.key, &rec.value),
            Ok(None) => return,
            Err(e) => Err(e),
        };
        match result {
            Ok(a) if self.policy == Durability::Batch => self.dead_waiting.push(a),
            result => self.send(Reply::DeadLettered {
                topic: dead,
                result: result.map_err(|e| e.to_string()),
            }),
        }
    }

    /// Batch: one sync for every append of the round, then their answers.
    fn finish_round(&mut self) {
        self.write_commits();
        if self.waiting.is_empty() && self.dead_waiting.is_empty() {
            return;
        }
        let synced = self.store.sync().map_err(|e| e.to_string());
        for (id, a) in std::mem::take(&mut self.waiting) {
            let result = synced.clone().map(|()| a);
            self.send(Reply::Appended { id, result });
        }
        for a in std::mem::take(&mut self.dead_waiting) {
            let topic = a.topic.clone();
            let result = synced.clone().map(|()| a);
            self.send(Reply::DeadLettered { topic, result });
        }
    }

    fn retain(&mut self) {
        match self.store.retain(now_ms()) {
            Ok(moved) => {
                for (topic, partition, start) in moved {
                    self.send(Reply::Trimmed {
                        topic,
                        partition,
                        start,
                    });
                }
            }
            Err(e) => self.send(Reply::Trouble(format!("retention failed: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::queue::store::{Note, TopicInfo};
    use std::sync::{Arc, Mutex};

    /// A store that only counts: how many appends, and how many of them a sync covered.
    #[derive(Default)]
    struct Counts {
        appended: u64,
        synced_upto: u64,
        syncs: u64,
    }

    struct Counting(Arc<Mutex<Counts>>);

    impl Store for Counting {
        fn create(&mut self, _: &str, _: u32) -> Result<(), StoreError> {
            Ok(())
        }
        fn topics(&self) -> Vec<TopicInfo> {
            Vec::new()
        }
        fn append(
            &mut self,
            _: &str,
            _: u32,
            _: &[u8],
            _: &[u8],
            _: u64,
        ) -> Result<u64, StoreError> {
            let mut c = self.0.lock().unwrap();
            c.appended += 1;
            Ok(c.appended - 1)
        }
        fn sync(&mut self) -> Result<(), StoreError> {
            // A slow disk: appends pile up meanwhile.
            std::thread::sleep(Duration::from_millis(20));
            let mut c = self.0.lock().unwrap();
            c.synced_upto = c.appended;
            c.syncs += 1;
            Ok(())
        }
        fn read(&self, _: &str, _: u32, _: u64) -> Result<Option<Record>, StoreError> {
            Ok(None)
        }
        fn commit(&mut self, _: &str, _: &str, _: &[u64], _: bool) -> Result<(), StoreError> {
            Ok(())
        }
        fn committed(&self) -> Vec<(String, String, Vec<u64>)> {
            Vec::new()
        }
        fn retain(&mut self, _: u64) -> Result<Vec<(String, u32, u64)>, StoreError> {
            Ok(Vec::new())
        }
        fn notes(&self) -> &[Note] {
            &[]
        }
    }

    /// Send `n` appends at once; (syncs, whether each answer came after a sync covered it).
    fn run_policy(policy: Durability, n: u64) -> (u64, Vec<bool>) {
        let counts = Arc::new(Mutex::new(Counts::default()));
        let (tx, mut rx, thread) = spawn(Box::new(Counting(counts.clone())), policy);
        for id in 0..n {
            tx.send(Command::Append {
                id,
                topic: "t".into(),
                partitions: 1,
                partition: 0,
                key: Vec::new(),
                value: b"v".to_vec(),
            })
            .unwrap();
        }
        let mut covered = Vec::new();
        for _ in 0..n {
            let Some(Reply::Appended { result: Ok(a), .. }) = rx.blocking_recv() else {
                panic!("an append answered");
            };
            assert_eq!(a.durability, policy, "the answer states the policy");
            covered.push(counts.lock().unwrap().synced_upto > a.offset);
        }
        drop(tx);
        thread.join().unwrap();
        let syncs = counts.lock().unwrap().syncs;
        (syncs, covered)
    }

    #[test]
    fn always_syncs_each_append_before_its_answer() {
        let (syncs, covered) = run_policy(Durability::Always, 10);
        assert_eq!(syncs, 10);
        assert!(covered.iter().all(|c| *c));
    }

    #[test]
    fn batch_answers_after_one_sync_shared_by_the_appends_waiting() {
        let (syncs, covered) = run_policy(Durability::Batch, 50);
        assert!(covered.iter().all(|c| *c), "an answer came before its sync");
        assert!(syncs < 50, "group commit: {syncs} syncs for 50 appends");
    }

    #[test]
    fn never_answers_without_a_sync() {
        let (syncs, covered) = run_policy(Durability::Never, 10);
        assert_eq!(syncs, 0);
        assert!(covered.iter().all(|c| !*c));
    }
}
