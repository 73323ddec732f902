//! The broker's decisions, without I/O: which consumer gets which record next, when a
//! record goes out again, when it goes to the dead-letter topic, and how far each
//! consumer group has committed.
//!
//! ```text
//!  partition 0:  0  1  2  3  4  5  6  7  8  9      ◄ end (next offset to append)
//!                ─────────┬──┬──┬──────┬──
//!                 settled  │ P│ A│  P   ▲ cursor: next offset to hand out
//!                          ▲
//!                 committed: every offset below it is acknowledged (or dead-lettered)
//! ```
//!
//! - A **consumer group** sees every record of its topic; inside it, consumers compete:
//!   each record goes to one of them (round robin among those with room).
//! - A delivered record is **pending** until its consumer acknowledges it. Past the
//!   acknowledgement timeout, a `nack`, or when the consumer leaves, it becomes due
//!   again and goes out before newer records of its partition. After `max_attempts`
//!   deliveries it is given up on: a [`Action::DeadLetter`].
//! - **Back-pressure**: a consumer holds at most its limit of unacknowledged records; at
//!   the limit it gets nothing more until it acknowledges, which slows only it. A group
//!   reads at most `window` offsets past its committed offset, so what the broker
//!   remembers per group stays bounded whatever its consumers do.
//!
//! The driver appends, reads records and keeps time; it tells the broker what it did
//! ([`Broker::appended`], [`Broker::missing`]) and what consumers said, and carries out
//! the [`Action`]s. Time is a `Duration` on the driver's clock.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

/// The broker's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// A delivered record not acknowledged within this time goes out again.
    pub ack_timeout: Duration,
    /// Deliveries of one record before it goes to the dead-letter topic.
    pub max_attempts: u32,
    /// Unacknowledged records per consumer, unless it asks for fewer.
    pub max_unacked: usize,
    /// How far past its committed offset a group may read, per partition.
    pub window: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            ack_timeout: Duration::from_secs(10),
            max_attempts: 5,
            max_unacked: 32,
            window: 10_000,
        }
    }
}

/// Where a new group starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum From {
    /// The oldest record kept.
    Earliest,
    /// Only records published from now on.
    Latest,
    /// This offset in every partition (a replay: also moves a group nobody is in).
    Offset(u64),
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Read the record and send it to the consumer.
    Deliver {
        consumer: String,
        topic: String,
        partition: u32,
        offset: u64,
        /// 1 for the first delivery.
        attempt: u32,
    },
    /// Copy the record to the topic's dead-letter topic: it was delivered
    /// `attempts` times and never acknowledged.
    DeadLetter {
        topic: String,
        group: String,
        partition: u32,
        offset: u64,
        attempts: u32,
    },
    /// The group's committed offset moved: store it.
    Commit {
        topic: String,
        group: String,
        partition: u32,
        offset: u64,
    },
}

/// A consumer's request the broker refuses; each names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    #[error("this connection already consumes a topic; open another to consume a second")]
    AlreadySubscribed,
    #[error("this connection consumes no topic: subscribe first")]
    NotSubscribed,
    #[error("record {partition}/{offset} is not waiting for this consumer's acknowledgement")]
    NotPending { partition: u32, offset: u64 },
    #[error("topic {topic:?} has no partition {partition}")]
    NoPartition { topic: String, partition: u32 },
}

/// A record handed out and not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    /// `None`: due for another delivery.
    consumer: Option<String>,
    deadline: Duration,
    attempts: u32,
}

/// One partition as one group sees it.
#[derive(Debug, Clone, Default)]
struct Cursor {
    committed: u64,
    next: u64,
    pending: BTreeMap<u64, Pending>,
    /// Settled above `committed` (acknowledged out of order, dead-lettered, missing).
    settled: BTreeSet<u64>,
}

#[derive(Debug, Clone, Default)]
struct Group {
    partitions: Vec<Cursor>,
    /// Its consumers in the order they joined (round robin).
    consumers: Vec<String>,
    turn: usize,
    /// The partition new records are taken from next (round robin).
    partition_turn: usize,
    dead_letters: u64,
}

#[derive(Debug, Clone)]
struct Consumer {
    topic: String,
    group: String,
    limit: usize,
    unacked: usize,
}

/// A topic's partitions: where each starts (the oldest kept) and ends.
#[derive(Debug, Clone, Default)]
struct Topic {
    start: Vec<u64>,
    end: Vec<u64>,
}

/// One group's place in one partition, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupPartition {
    pub partition: u32,
    pub committed: u64,
    /// Records published and not yet acknowledged by the group.
    pub lag: u64,
    /// Delivered and waiting for an acknowledgement.
    pub pending: usize,
}

/// A group, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupStatus {
    pub topic: String,
    pub group: String,
    pub consumers: usize,
    pub dead_letters: u64,
    pub partitions: Vec<GroupPartition>,
}

/// The broker machine.
#[derive(Debug, Clone, Default)]
pub struct Broker {
    config: Config,
    topics: BTreeMap<String, Topic>,
    /// (topic, group) → group.
    groups: BTreeMap<(String, String), Group>,
    consumers: BTreeMap<String, Consumer>,
    actions: VecDeque<Action>,
}

impl Broker {
    pub fn new(config: Config) -> Broker {
        Broker {
            config,
            ..Broker::default()
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A topic the log holds, with each partition's first and next offset.
    pub fn topic(&mut self, topic: &str, start: Vec<u64>, end: Vec<u64>) {
        let t = self.topics.entry(topic.to_owned()).or_default();
        t.start = start;
        t.end = end;
    }

    /// The partitions of `topic`, if the broker knows it.
    pub fn partitions(&self, topic: &str) -> Option<u32> {
        self.topics.get(topic).map(|t| t.end.len() as u32)
    }

    /// A committed offset read back from the log when the broker starts.
    pub fn restore(&mut self, topic: &str, group: &str, partition: u32, offset: u64) {
        let Some(n) = self.partitions(topic) else {
            return;
        };
        let g = self.group_mut(topic, group, n);
        if let Some(c) = g.partitions.get_mut(partition as usize) {
            c.committed = offset;
            c.next = offset;
        }
    }

    fn group_mut(&mut self, topic: &str, group: &str, partitions: u32) -> &mut Group {
        let key = (topic.to_owned(), group.to_owned());
        let g = self.groups.entry(key).or_default();
        if g.partitions.len() < partitions as usize {
            g.partitions.resize(partitions as usize, Cursor::default());
        }
        g
    }

    /// A record was appended (and is as durable as the log promises): consumers may get it.
    pub fn appended(&mut self, topic: &str, partition: u32, offset: u64, now: Duration) {
        let t = self.topics.entry(topic.to_owned()).or_default();
        let p = partition as usize;
        if t.end.len() <= p {
            t.end.resize(p + 1, 0);
            t.start.resize(p + 1, 0);
        }
        t.end[p] = t.end[p].max(offset + 1);
        self.pump_topic(topic, now);
    }

    /// Retention removed records: a partition's oldest kept offset moved.
    pub fn trimmed(&mut self, topic: &str, partition: u32, start: u64) {
        if let Some(s) = self
            .topics
            .get_mut(topic)
            .and_then(|t| t.start.get_mut(partition as usize))
        {
            *s = start;
        }
    }

    /// A consumer joins `group` on `topic`, holding at most `limit` unacknowledged
    /// records (`None` or more than the broker allows: the broker's limit).
    pub fn subscribe(
        &mut self,
        consumer: &str,
        topic: &str,
        group: &str,
        from: From,
        limit: Option<usize>,
        now: Duration,
    ) -> Result<(), BrokerError> {
        if self.consumers.contains_key(consumer) {
            return Err(BrokerError::AlreadySubscribed);
        }
        let t = self.topics.entry(topic.to_owned()).or_default().clone();
        let key = (topic.to_owned(), group.to_owned());
        let is_new = !self.groups.contains_key(&key);
        let g = self.group_mut(topic, group, t.end.len() as u32);
        let idle = g.consumers.is_empty();
        for (i, c) in g.partitions.iter_mut().enumerate() {
            let (start, end) = (t.start[i], t.end[i]);
            let to = match from {
                From::Earliest if is_new => start,
                From::Latest if is_new => end,
                From::Offset(o) if idle => o.clamp(start, end),
                _ => continue,
            };
            *c = Cursor {
                committed: to,
                next: to,
                ..Cursor::default()
            };
        }
        g.consumers.push(consumer.to_owned());
        let limit = limit
            .unwrap_or(self.config.max_unacked)
            .clamp(1, self.config.max_unacked);
        self.consumers.insert(
            consumer.to_owned(),
            Consumer {
                topic: topic.to_owned(),
                group: group.to_owned(),
                limit,
                unacked: 0,
            },
        );
        if matches!(from, From::Offset(_)) && idle {
            self.commit_all(topic, group);
        }
        self.pump_topic(topic, now);
        Ok(())
    }

    fn commit_all(&mut self, topic: &str, group: &str) {
        let key = (topic.to_owned(), group.to_owned());
        if let Some(g) = self.groups.get(&key) {
            for (i, c) in g.partitions.iter().enumerate() {
                self.actions.push_back(Action::Commit {
                    topic: topic.to_owned(),
                    group: group.to_owned(),
                    partition: i as u32,
                    offset: c.committed,
                });
            }
        }
    }

    /// The consumer is gone (disconnected): what it held is due again.
    pub fn leave(&mut self, consumer: &str, now: Duration) {
        let Some(c) = self.consumers.remove(consumer) else {
            return;
        };
        let key = (c.topic.clone(), c.group.clone());
        if let Some(g) = self.groups.get_mut(&key) {
            g.consumers.retain(|x| x != consumer);
            for cursor in &mut g.partitions {
                for p in cursor.pending.values_mut() {
                    if p.consumer.as_deref() == Some(consumer) {
                        p.consumer = None;
                        p.deadline = now;
                    }
                }
            }
        }
        self.expire(&c.topic, &c.group, now);
        self.pump_topic(&c.topic, now);
    }

    /// The consumer processed the record.
    pub fn ack(
        &mut self,
        consumer: &str,
        partition: u32,
        offset: u64,
        now: Duration,
    ) -> Result<(), BrokerError> {
        self.take_back(consumer, partition, offset)?;
        let c = &self.consumers[consumer];
        let (topic, group) = (c.topic.clone(), c.group.clone());
        self.settle(&topic, &group, partition, offset);
        self.pump_topic(&topic, now);
        Ok(())
    }

    /// The consumer could not process the record: it goes out again now (the attempt
    /// counts).
    pub fn nack(
        &mut self,
        consumer: &str,
        partition: u32,
        offset: u64,
        now: Duration,
    ) -> Result<(), BrokerError> {
        let mut pending = self.take_back(consumer, partition, offset)?;
        let c = &self.consumers[consumer];
        let (topic, group) = (c.topic.clone(), c.group.clone());
        pending.consumer = None;
        pending.deadline = now;
        if let Some(cursor) = self.cursor_mut(&topic, &group, partition) {
            cursor.pending.insert(offset, pending);
        }
        self.expire(&topic, &group, now);
        self.pump_topic(&topic, now);
        Ok(())
    }

    /// Remove a pending record held by `consumer` and give the consumer its room back.
    fn take_back(
        &mut self,
        consumer: &str,
        partition: u32,
        offset: u64,
    ) -> Result<Pending, BrokerError> {
        let c = self
            .consumers
            .get(consumer)
            .ok_or(BrokerError::NotSubscribed)?;
        let (topic, group) = (c.topic.clone(), c.group.clone());
        let not_pending = BrokerError::NotPending { partition, offset };
        let cursor = self
            .cursor_mut(&topic, &group, partition)
            .ok_or(not_pending.clone())?;
        match cursor.pending.get(&offset) {
            Some(p) if p.consumer.as_deref() == Some(consumer) => {}
            _ => return Err(not_pending),
        }
        let pending = cursor.pending.remove(&offset).ok_or(not_pending)?;
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.unacked = c.unacked.saturating_sub(1);
        }
        Ok(pending)
    }

    /// The record to deliver could not be read (damaged, or removed by retention): the
    /// group moves past it.
    pub fn missing(&mut self, consumer: &str, partition: u32, offset: u64, now: Duration) {
        if self.take_back(consumer, partition, offset).is_ok() {
            let c = &self.consumers[consumer];
            let (topic, group) = (c.topic.clone(), c.group.clone());
            self.settle(&topic, &group, partition, offset);
            self.pump_topic(&topic, now);
        }
    }

    fn cursor_mut(&mut self, topic: &str, group: &str, partition: u32) -> Option<&mut Cursor> {
        let key = (topic.to_owned(), group.to_owned());
        self.groups
            .get_mut(&key)?
            .partitions
            .get_mut(partition as usize)
    }

    /// Mark the offset done and move the committed offset over every settled one.
    fn settle(&mut self, topic: &str, group: &str, partition: u32, offset: u64) {
        let Some(cursor) = self.cursor_mut(topic, group, partition) else {
            return;
        };
        cursor.settled.insert(offset);
        let before = cursor.committed;
        while cursor.settled.remove(&cursor.committed) {
            cursor.committed += 1;
        }
        let committed = cursor.committed;
        if committed != before {
            self.actions.push_back(Action::Commit {
                topic: topic.to_owned(),
                group: group.to_owned(),
                partition,
                offset: committed,
            });
        }
    }

    /// When the broker next needs [`Broker::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.groups
            .values()
            .flat_map(|g| g.partitions.iter())
            .flat_map(|c| c.pending.values())
            .filter(|p| p.consumer.is_some())
            .map(|p| p.deadline)
            .min()
    }

    /// Records past their acknowledgement timeout become due again.
    pub fn handle_timeout(&mut self, now: Duration) {
        let keys: Vec<(String, String)> = self.groups.keys().cloned().collect();
        for (topic, group) in &keys {
            self.expire(topic, group, now);
        }
        let topics: BTreeSet<String> = keys.into_iter().map(|(t, _)| t).collect();
        for t in topics {
            self.pump_topic(&t, now);
        }
    }

    /// Every record of the group past its deadline: due again, or dead-lettered after
    /// its last attempt.
    fn expire(&mut self, topic: &str, group: &str, now: Duration) {
        let key = (topic.to_owned(), group.to_owned());
        let Some(g) = self.groups.get_mut(&key) else {
            return;
        };
        let mut dead = Vec::new();
        for (i, cursor) in g.partitions.iter_mut().enumerate() {
            for (offset, p) in cursor.pending.iter_mut() {
                if p.deadline > now {
                    continue;
                }
                if let Some(holder) = p.consumer.take() {
                    if let Some(c) = self.consumers.get_mut(&holder) {
                        c.unacked = c.unacked.saturating_sub(1);
                    }
                }
                if p.attempts >= self.config.max_attempts {
                    dead.push((i as u32, *offset, p.attempts));
                }
            }
        }
        for (partition, offset, attempts) in dead {
            if let Some(c) = self.cursor_mut(topic, group, partition) {
                c.pending.remove(&offset);
            }
            if let Some(g) = self.groups.get_mut(&key) {
                g.dead_letters += 1;
            }
            self.actions.push_back(Action::DeadLetter {
                topic: topic.to_owned(),
                group: group.to_owned(),
                partition,
                offset,
                attempts,
            });
            self.settle(topic, group, partition, offset);
        }
    }

    /// Hand out what every group of `topic` can take now.
    fn pump_topic(&mut self, topic: &str, now: Duration) {
        let groups: Vec<String> = self
            .groups
            .keys()
            .filter(|(t, _)| t == topic)
            .map(|(_, g)| g.clone())
            .collect();
        for group in groups {
            self.pump(topic, &group, now);
        }
    }

    /// Deliver to the group's consumers while one has room and a record is due. Each
    /// turn hands out one record, so the loop ends within the consumers' total room.
    fn pump(&mut self, topic: &str, group: &str, now: Duration) {
        let room: usize = self
            .consumers
            .values()
            .filter(|c| c.topic == topic && c.group == group)
            .map(|c| c.limit.saturating_sub(c.unacked))
            .sum();
        for _ in 0..room {
            let Some(consumer) = self.next_consumer(topic, group) else {
                return;
            };
            let Some((partition, offset, attempt)) = self.next_record(topic, group) else {
                return;
            };
            let deadline = now + self.config.ack_timeout;
            if let Some(cursor) = self.cursor_mut(topic, group, partition) {
                cursor.pending.insert(
                    offset,
                    Pending {
                        consumer: Some(consumer.clone()),
                        deadline,
                        attempts: attempt,
                    },
                );
            }
            if let Some(c) = self.consumers.get_mut(&consumer) {
                c.unacked += 1;
            }
            self.actions.push_back(Action::Deliver {
                consumer,
                topic: topic.to_owned(),
                partition,
                offset,
                attempt,
            });
        }
    }

    /// The next consumer of the group with room, round robin.
    fn next_consumer(&mut self, topic: &str, group: &str) -> Option<String> {
        let key = (topic.to_owned(), group.to_owned());
        let g = self.groups.get_mut(&key)?;
        let n = g.consumers.len();
        for step in 0..n {
            let i = (g.turn + step) % n;
            let id = &g.consumers[i];
            if let Some(c) = self.consumers.get(id) {
                if c.unacked < c.limit {
                    g.turn = (i + 1) % n;
                    return Some(id.clone());
                }
            }
        }
        None
    }

    /// The next record the group should hand out: a due one first (lowest offset of
    /// the first partition that has one), else the next new one, partitions in turn.
    fn next_record(&mut self, topic: &str, group: &str) -> Option<(u32, u64, u32)> {
        let t = self.topics.get(topic)?.clone();
        let window = self.config.window;
        let key = (topic.to_owned(), group.to_owned());
        let g = self.groups.get_mut(&key)?;
        for (i, c) in g.partitions.iter_mut().enumerate() {
            let due = c.pending.iter().find(|(_, p)| p.consumer.is_none());
            if let Some((offset, p)) = due {
                return Some((i as u32, *offset, p.attempts + 1));
            }
        }
        let n = g.partitions.len();
        for step in 0..n {
            let i = (g.partition_turn + step) % n;
            let c = &mut g.partitions[i];
            let (start, end) = (t.start.get(i).copied()?, t.end.get(i).copied()?);
            if c.next < start {
                // Retention removed what the group had not read: it starts at the oldest.
                c.next = start;
                c.committed = c.committed.max(start);
                c.settled.retain(|o| *o >= start);
            }
            if c.next < end && c.next < c.committed + window {
                let offset = c.next;
                c.next += 1;
                g.partition_turn = (i + 1) % n;
                return Some((i as u32, offset, 1));
            }
        }
        None
    }

    /// The next action to carry out.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Every group, for `status`.
    pub fn status(&self) -> Vec<GroupStatus> {
        self.groups
            .iter()
            .map(|((topic, group), g)| {
                let end = self.topics.get(topic).map(|t| t.end.clone());
                let end = end.unwrap_or_default();
                GroupStatus {
                    topic: topic.clone(),
                    group: group.clone(),
                    consumers: g.consumers.len(),
                    dead_letters: g.dead_letters,
                    partitions: g
                        .partitions
                        .iter()
                        .enumerate()
                        .map(|(i, c)| GroupPartition {
                            partition: i as u32,
                            committed: c.committed,
                            lag: end.get(i).copied().unwrap_or(0).saturating_sub(c.committed),
                            pending: c.pending.len(),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// A group's committed offset in each partition.
    pub fn committed(&self, topic: &str, group: &str) -> Option<Vec<u64>> {
        let g = self.groups.get(&(topic.to_owned(), group.to_owned()))?;
        Some(g.partitions.iter().map(|c| c.committed).collect())
    }

    /// The records a consumer holds unacknowledged.
    pub fn unacked(&self, consumer: &str) -> Option<usize> {
        self.consumers.get(consumer).map(|c| c.unacked)
    }

    /// Which topic and group a consumer reads.
    pub fn consumer(&self, consumer: &str) -> Option<(&str, &str)> {
        self.consumers
            .get(consumer)
            .map(|c| (c.topic.as_str(), c.group.as_str()))
    }
}

/// The partition a key goes to: FNV-1a over its bytes, modulo the partitions, so the
/// same key always lands in the same partition (and keeps its order there).
pub fn partition_for(key: &[u8], partitions: u32) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in key {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Duration = Duration::ZERO;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn broker(partitions: usize, records: u64) -> Broker {
        let mut b = Broker::new(Config {
            ack_timeout: secs(5),
            max_attempts: 3,
            max_unacked: 4,
            window: 100,
        });
        b.topic("t", vec![0; partitions], vec![records; partitions]);
        b
    }

    fn drain(b: &mut Broker) -> Vec<Action> {
        std::iter::from_fn(|| b.poll_action()).collect()
    }

    fn delivered(actions: &[Action]) -> Vec<(String, u32, u64, u32)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Deliver {
                    consumer,
                    partition,
                    offset,
                    attempt,
                    ..
                } => Some((consumer.clone(), *partition, *offset, *attempt)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn fnv1a_partitions_keys_as_published() {
        // FNV-1a 32 of "a" is 0xe40c292c (the FNV authors' test vectors).
        assert_eq!(partition_for(b"a", u32::MAX), 0xe40c_292c);
        assert_eq!(partition_for(b"", 3), 0x811c_9dc5 % 3);
        assert_eq!(partition_for(b"user-7", 3), partition_for(b"user-7", 3));
    }

    #[test]
    fn a_consumer_gets_at_most_its_limit_then_more_as_it_acks() {
        let mut b = broker(1, 10);
        b.subscribe("c1", "t", "g", From::Earliest, None, T0)
            .unwrap();
        let d = delivered(&drain(&mut b));
        assert_eq!(d.iter().map(|x| x.2).collect::<Vec<_>>(), [0, 1, 2, 3]);
        b.ack("c1", 0, 1, T0).unwrap();
        let next = drain(&mut b);
        assert_eq!(delivered(&next), [("c1".into(), 0, 4, 1)]);
        assert!(
            !next.iter().any(|a| matches!(a, Action::Commit { .. })),
            "0 still pending"
        );
        b.ack("c1", 0, 0, T0).unwrap();
        let next = drain(&mut b);
        assert!(next.contains(&Action::Commit {
            topic: "t".into(),
            group: "g".into(),
            partition: 0,
            offset: 2
        }));
    }

    #[test]
    fn groups_each_see_everything_consumers_in_a_group_share() {
        let mut b = broker(1, 4);
        b.subscribe("a1", "t", "A", From::Earliest, Some(2), T0)
            .unwrap();
        b.subscribe("a2", "t", "A", From::Earliest, Some(2), T0)
            .unwrap();
        b.subscribe("b1", "t", "B", From::Earliest, Some(4), T0)
            .unwrap();
        let d = delivered(&drain(&mut b));
        let of = |c: &str| {
            d.iter()
                .filter(|x| x.0 == c)
                .map(|x| x.2)
                .collect::<Vec<_>>()
        };
        assert_eq!(of("a1"), [0, 1]);
        assert_eq!(of("a2"), [2, 3]);
        assert_eq!(of("b1"), [0, 1, 2, 3]);
    }

    #[test]
    fn an_unacked_record_comes_back_after_the_timeout_then_dead_letters() {
        let mut b = broker(1, 1);
        b.subscribe("c", "t", "g", From::Earliest, None, T0)
            .unwrap();
        assert_eq!(delivered(&drain(&mut b)), [("c".into(), 0, 0, 1)]);
        assert_eq!(b.poll_timeout(), Some(secs(5)));
        b.handle_timeout(secs(4));
        assert!(drain(&mut b).is_empty(), "not yet");
        b.handle_timeout(secs(5));
        assert_eq!(delivered(&drain(&mut b)), [("c".into(), 0, 0, 2)]);
        b.nack("c", 0, 0, secs(6)).unwrap();
        assert_eq!(delivered(&drain(&mut b)), [("c".into(), 0, 0, 3)]);
        b.handle_timeout(secs(11));
        let a = drain(&mut b);
        assert_eq!(
            a,
            [
                Action::DeadLetter {
                    topic: "t".into(),
                    group: "g".into(),
                    partition: 0,
                    offset: 0,
                    attempts: 3
                },
                Action::Commit {
                    topic: "t".into(),
                    group: "g".into(),
                    partition: 0,
                    offset: 1
                }
            ]
        );
        assert_eq!(b.status()[0].dead_letters, 1);
    }

    #[test]
    fn a_consumer_that_leaves_gives_its_records_to_the_others() {
        let mut b = broker(1, 3);
        b.subscribe("c1", "t", "g", From::Earliest, Some(3), T0)
            .unwrap();
        drain(&mut b);
        b.subscribe("c2", "t", "g", From::Earliest, Some(3), T0)
            .unwrap();
        assert!(delivered(&drain(&mut b)).is_empty());
        b.leave("c1", secs(1));
        let d = delivered(&drain(&mut b));
        assert_eq!(
            d,
            [
                ("c2".into(), 0, 0, 2),
                ("c2".into(), 0, 1, 2),
                ("c2".into(), 0, 2, 2)
            ]
        );
    }

    #[test]
    fn a_slow_consumer_slows_only_itself() {
        let mut b = broker(1, 50);
        b.subscribe("slow", "t", "g1", From::Earliest, Some(1), T0)
            .unwrap();
        b.subscribe("fast", "t", "g2", From::Earliest, Some(4), T0)
            .unwrap();
        drain(&mut b);
        for o in 0..40 {
            b.ack("fast", 0, o, T0).unwrap();
        }
        let st = b.status();
        assert_eq!(st[0].partitions[0].pending, 1, "g1 holds one");
        assert_eq!(st[1].partitions[0].committed, 40);
        assert_eq!(st[1].partitions[0].pending, 4);
    }

    #[test]
    fn from_latest_and_from_an_offset() {
        let mut b = broker(2, 5);
        b.subscribe("c", "t", "new", From::Latest, None, T0)
            .unwrap();
        assert!(delivered(&drain(&mut b)).is_empty());
        b.appended("t", 1, 5, T0);
        assert_eq!(delivered(&drain(&mut b)), [("c".into(), 1, 5, 1)]);
        b.subscribe("r", "t", "replay", From::Offset(3), None, T0)
            .unwrap();
        let d = delivered(&drain(&mut b));
        assert_eq!(d.len(), 4, "3 and 4 of both partitions: {d:?}");
    }

    #[test]
    fn a_restored_commit_is_where_the_group_resumes() {
        let mut b = broker(1, 6);
        b.restore("t", "g", 0, 4);
        b.subscribe("c", "t", "g", From::Earliest, None, T0)
            .unwrap();
        let d = delivered(&drain(&mut b));
        assert_eq!(d.iter().map(|x| x.2).collect::<Vec<_>>(), [4, 5]);
    }

    #[test]
    fn acks_are_checked() {
        let mut b = broker(1, 2);
        assert_eq!(b.ack("x", 0, 0, T0), Err(BrokerError::NotSubscribed));
        b.subscribe("c", "t", "g", From::Earliest, None, T0)
            .unwrap();
        assert_eq!(
            b.subscribe("c", "t", "g", From::Earliest, None, T0),
            Err(BrokerError::AlreadySubscribed)
        );
        assert_eq!(
            b.ack("c", 0, 9, T0),
            Err(BrokerError::NotPending {
                partition: 0,
                offset: 9
            })
        );
        b.ack("c", 0, 0, T0).unwrap();
        assert!(b.ack("c", 0, 0, T0).is_err(), "twice");
    }

    #[test]
    fn the_window_bounds_what_a_group_remembers() {
        let mut b = broker(1, 1000);
        b.subscribe("c", "t", "g", From::Earliest, None, T0)
            .unwrap();
        // Offset 0 is never acknowledged; everything after it is.
        let mut acked = 0;
        for _ in 0..500 {
            let d = delivered(&drain(&mut b));
            if d.is_empty() {
                break;
            }
            for (_, p, o, _) in d {
                if o != 0 {
                    b.ack("c", p, o, T0).unwrap();
                    acked += 1;
                }
            }
        }
        assert_eq!(acked, 99, "the window is 100 offsets past the committed 0");
    }
}
