//! The queue's log in Redis Streams: the same topics, partitions, offsets and committed
//! offsets as the file store ([`super::store`]), kept by a Redis server.
//!
//! ```text
//!   netlab:queue:topics                 hash    orders → 3          (topic → partitions)
//!   netlab:queue:orders:0               stream  0-1 {ts, k, v}, 1-1 {…}, 2-1 {…}, …
//!     └── consumer group "billing"      last-delivered-id 2-0        (committed offset 2)
//! ```
//!
//! - **Offsets and entry ids.** Every entry of a stream has an id `MS-SEQ` (two numbers),
//!   and ids only grow. netlab gives each entry its id itself (`XADD key ID …`): the
//!   record at offset N has the id `N-1` (the first number is the offset; the second is
//!   1 because Redis refuses the id `0-0`). So `XRANGE netlab:queue:orders:0 5-1 5-1`
//!   is offset 5, and because Redis refuses an id not above the stream's last, a second
//!   writer can never put two records at one offset.
//! - **A record** is the entry's fields `ts` (milliseconds since 1970), `k` (the key)
//!   and `v` (the value). Redis has no checksum per entry: it checks its append-only
//!   file as a whole when it starts.
//! - **Committed offsets** are the streams' own consumer groups: a group that committed
//!   offset C in a partition has the *last-delivered-id* `C-0` there, just below the id
//!   of offset C (`XGROUP SETID`, or `XGROUP CREATE … MKSTREAM` the first time). Reading
//!   them back is `XINFO GROUPS`. The broker keeps deliveries, acknowledgements, timeouts
//!   and dead letters itself (the same for both stores), so Redis's pending lists
//!   (`XREADGROUP`, `XACK`, `XPENDING`, `XAUTOCLAIM`) would be a second copy of that
//!   state; the group's position alone is what must survive a restart, and `redis-cli
//!   XINFO GROUPS KEY` shows it to anyone.
//! - **Durability** is Redis's own: an `XADD` is answered once Redis has applied it, and
//!   its `appendonly` and `appendfsync` settings decide whether it is on a disk by then.
//!   The store asks (`CONFIG GET`) on connecting and states the answer in every publish
//!   acknowledgement ([`Store::promise`]); `--sync` changes nothing here.
//! - **Retention** is by age: `XTRIM key MINID ID` removes the entries before the first
//!   one young enough. A byte limit is Redis's own `maxmemory` business.
//! - A lost connection fails the command that was on it; the next one connects again and
//!   reads every partition's end back from Redis (`XINFO STREAM`'s last-generated-id).

use super::resp::Connection;
use super::store::{FileConfig, Note, PartitionInfo, Promise, Store, StoreError, TopicInfo};
use crate::wire::application::queue::{Durability, Record};
use crate::wire::application::redis::Frame;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

/// The hash of topics and their partition counts.
const TOPICS: &str = "netlab:queue:topics";

/// Entries read per round of retention, at most.
const RETAIN_SCAN: usize = 1000;

/// The stream of one partition.
pub fn stream_key(topic: &str, partition: u32) -> String {
    format!("netlab:queue:{topic}:{partition}")
}

/// The entry id of the record at `offset`.
pub fn entry_id(offset: u64) -> String {
    format!("{offset}-1")
}

/// The offset of an entry id written by [`entry_id`].
pub fn offset_of(id: &[u8]) -> Option<u64> {
    let (ms, seq) = std::str::from_utf8(id).ok()?.split_once('-')?;
    (seq == "1").then_some(())?;
    ms.parse().ok()
}

/// The committed offset a group's last-delivered-id stands for: every entry above it is
/// still to consume.
pub fn committed_of(id: &[u8]) -> Option<u64> {
    let (ms, seq) = std::str::from_utf8(id).ok()?.split_once('-')?;
    let ms: u64 = ms.parse().ok()?;
    let seq: u64 = seq.parse().ok()?;
    Some(if seq >= 1 { ms + 1 } else { ms })
}

/// `redis://HOST:PORT` (the port defaults to 6379) as `HOST:PORT`.
pub fn parse_url(url: &str) -> Result<String, StoreError> {
    let bad = |why: &str| StoreError::RedisUrl {
        url: url.to_owned(),
        why: why.to_owned(),
    };
    let rest = url
        .strip_prefix("redis://")
        .ok_or_else(|| bad("it does not start with redis://"))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('@') || rest.contains('/') {
        return Err(bad("netlab connects without a password, to database 0"));
    }
    if rest.is_empty() {
        return Err(bad("no host"));
    }
    Ok(
        if rest
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            rest.to_owned()
        } else {
            format!("{rest}:6379")
        },
    )
}

/// What Redis's persistence settings make of an answered `XADD`.
pub fn promise_of(appendonly: Option<&str>, appendfsync: Option<&str>) -> Promise {
    let (durability, detail) = match (appendonly, appendfsync) {
        (Some("yes"), Some("always")) => (
            Durability::Always,
            "Redis appendonly yes, appendfsync always: in Redis's append-only file, \
             fsynced before Redis answered",
        ),
        (Some("yes"), Some("everysec")) => (
            Durability::Never,
            "Redis appendonly yes, appendfsync everysec: in Redis's append-only file, \
             written to the kernel and fsynced within about a second: a machine crash \
             may lose the last second or two",
        ),
        (Some("yes"), _) => (
            Durability::Never,
            "Redis appendonly yes, appendfsync no: in Redis's append-only file, written \
             to the kernel, which puts it on the disk when it chooses",
        ),
        (Some("no"), _) => (
            Durability::Never,
            "Redis appendonly no: in Redis's memory only (and in its next snapshot, if \
             it takes any): lost if Redis stops",
        ),
        _ => (
            Durability::Never,
            "Redis did not answer CONFIG GET appendonly: its durability is unknown",
        ),
    };
    Promise {
        durability,
        detail: Some(detail.to_owned()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ends {
    start: u64,
    end: u64,
}

/// The log in Redis Streams.
#[derive(Debug)]
pub struct RedisStore {
    addr: String,
    conn: RefCell<Option<Connection>>,
    /// A connection was lost: the ends must be read again before the next append.
    lost: Cell<bool>,
    retain_ms: Option<u64>,
    topics: BTreeMap<String, Vec<Ends>>,
    groups: BTreeMap<(String, String), Vec<u64>>,
    promise: Promise,
    notes: Vec<Note>,
}

/// A field of a reply shaped as a flat list of names and values (`XINFO`).
fn field<'a>(items: &'a [Frame], name: &str) -> Option<&'a Frame> {
    items
        .chunks_exact(2)
        .find(|kv| kv[0].as_bytes() == Some(name.as_bytes()))
        .map(|kv| &kv[1])
}

fn array(frame: &Frame) -> &[Frame] {
    match frame {
        Frame::Array(Some(items)) => items,
        _ => &[],
    }
}

/// A stream entry `[id, [field, value, …]]` as a record.
fn record_of(entry: &Frame) -> Option<Record> {
    let [id, fields] = array(entry) else {
        return None;
    };
    let fields = array(fields);
    let timestamp = std::str::from_utf8(field(fields, "ts")?.as_bytes()?)
        .ok()?
        .parse()
        .ok()?;
    Some(Record {
        offset: offset_of(id.as_bytes()?)?,
        timestamp,
        key: field(fields, "k")?.as_bytes()?.to_vec(),
        value: field(fields, "v")?.as_bytes()?.to_vec(),
    })
}

impl RedisStore {
    /// Connect to the Redis at `url` and read the topics, their ends and the groups'
    /// committed offsets.
    pub fn open(url: &str, config: &FileConfig) -> Result<RedisStore, StoreError> {
        let addr = parse_url(url)?;
        let conn = Connection::connect(&addr).map_err(|source| StoreError::RedisUnreachable {
            addr: addr.clone(),
            source,
        })?;
        let mut store = RedisStore {
            addr,
            conn: RefCell::new(Some(conn)),
            lost: Cell::new(false),
            retain_ms: config.retain_ms,
            topics: BTreeMap::new(),
            groups: BTreeMap::new(),
            promise: promise_of(None, None),
            notes: Vec::new(),
        };
        store.load()?;
        Ok(store)
    }

    /// Send one command; a Redis error answer becomes [`StoreError::RedisRefused`].
    /// Every command but `XADD` may be sent twice (it does the same the second time), so
    /// on a connection lost (Redis restarted) it is sent once more on a new one.
    fn call(&self, args: &[&[u8]]) -> Result<Frame, StoreError> {
        let once = args.first() != Some(&&b"XADD"[..]);
        let answer = self.pipeline_retrying(&[args.to_vec()], once)?.pop();
        let answer = answer.ok_or(StoreError::Failed)?;
        match answer {
            Frame::Error(error) => Err(StoreError::RedisRefused {
                addr: self.addr.clone(),
                command: String::from_utf8_lossy(args.first().copied().unwrap_or(b"")).into(),
                error,
            }),
            answer => Ok(answer),
        }
    }

    /// Send commands together (each may be sent twice); each answer as it came, error
    /// answers included.
    fn pipeline(&self, commands: &[Vec<&[u8]>]) -> Result<Vec<Frame>, StoreError> {
        self.pipeline_retrying(commands, true)
    }

    fn pipeline_retrying(
        &self,
        commands: &[Vec<&[u8]>],
        retry: bool,
    ) -> Result<Vec<Frame>, StoreError> {
        let mut slot = self.conn.borrow_mut();
        let mut tries = if retry { 2 } else { 1 };
        loop {
            tries -= 1;
            let fresh = slot.is_none();
            let conn = match slot.as_mut() {
                Some(conn) => conn,
                None => slot.insert(Connection::connect(&self.addr).map_err(|source| {
                    StoreError::RedisUnreachable {
                        addr: self.addr.clone(),
                        source,
                    }
                })?),
            };
            match conn.pipeline(commands) {
                Ok(answers) => return Ok(answers),
                Err(e) => {
                    *slot = None;
                    self.lost.set(true);
                    // A new connection that fails is no stale one: no second try.
                    if tries == 0 || fresh {
                        return Err(StoreError::RedisLost {
                            addr: self.addr.clone(),
                            error: e.to_string(),
                        });
                    }
                }
            }
        }
    }

    /// `XADD` the record at `offset` (its id: [`entry_id`]).
    fn send_xadd(
        &self,
        (topic, partition, offset): (&str, u32, u64),
        key: &[u8],
        value: &[u8],
        timestamp: u64,
    ) -> Result<Frame, StoreError> {
        let (stream, id, ts) = (
            stream_key(topic, partition),
            entry_id(offset),
            timestamp.to_string(),
        );
        self.call(&[
            b"XADD",
            stream.as_bytes(),
            id.as_bytes(),
            b"ts",
            ts.as_bytes(),
            b"k",
            key,
            b"v",
            value,
        ])
    }

    /// Append at the end of the partition. When the connection was lost on the way, the
    /// `XADD` may or may not have been applied: the ends are read again on a new
    /// connection; the record at the offset is taken for this one only if it is this
    /// one, and otherwise the record is sent once more at the end.
    fn xadd(
        &mut self,
        topic: &str,
        partition: u32,
        key: &[u8],
        value: &[u8],
        timestamp: u64,
    ) -> Result<u64, StoreError> {
        let offset = self.ends(topic, partition)?.end;
        match self.send_xadd((topic, partition, offset), key, value, timestamp) {
            Ok(_) => Ok(offset),
            Err(StoreError::RedisLost { .. }) => {
                self.load()?;
                let end = self.ends(topic, partition)?.end;
                if end == offset + 1 {
                    let there = self.read(topic, partition, offset)?;
                    if there.is_some_and(|r| {
                        (r.timestamp, r.key.as_slice(), r.value.as_slice())
                            == (timestamp, key, value)
                    }) {
                        return Ok(offset);
                    }
                }
                self.send_xadd((topic, partition, end), key, value, timestamp)?;
                Ok(end)
            }
            Err(e) => Err(e),
        }
    }

    /// After a lost connection, read everything back before writing again.
    fn recover(&mut self) -> Result<(), StoreError> {
        if self.lost.get() {
            self.load()?;
        }
        Ok(())
    }

    fn load(&mut self) -> Result<(), StoreError> {
        let config = self.pipeline(&[
            vec![b"CONFIG", b"GET", b"appendonly"],
            vec![b"CONFIG", b"GET", b"appendfsync"],
        ])?;
        let setting = |f: &Frame| {
            array(f)
                .get(1)
                .and_then(Frame::as_bytes)
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        self.promise = promise_of(
            setting(&config[0]).as_deref(),
            setting(&config[1]).as_deref(),
        );
        let listed = self.call(&[b"HGETALL", TOPICS.as_bytes()])?;
        let mut topics = BTreeMap::new();
        let mut groups: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
        for kv in array(&listed).chunks_exact(2) {
            let (Some(name), Some(n)) = (kv[0].as_bytes(), kv[1].as_bytes()) else {
                continue;
            };
            let name = String::from_utf8_lossy(name).into_owned();
            let n: u32 = String::from_utf8_lossy(n).parse().unwrap_or(0).min(1024);
            let mut parts = Vec::new();
            for p in 0..n {
                let key = stream_key(&name, p);
                let answers = self.pipeline(&[
                    vec![b"XINFO", b"STREAM", key.as_bytes()],
                    vec![b"XINFO", b"GROUPS", key.as_bytes()],
                ])?;
                parts.push(ends_of(&answers[0]));
                for g in array(&answers[1]) {
                    let g = array(g);
                    let (Some(group), Some(id)) = (
                        field(g, "name").and_then(Frame::as_bytes),
                        field(g, "last-delivered-id").and_then(Frame::as_bytes),
                    ) else {
                        continue;
                    };
                    let key = (name.clone(), String::from_utf8_lossy(group).into_owned());
                    let offsets = groups.entry(key).or_insert_with(|| vec![0; n as usize]);
                    offsets[p as usize] = committed_of(id).unwrap_or(0);
                }
            }
            topics.insert(name, parts);
        }
        self.topics = topics;
        self.groups = groups;
        self.lost.set(false);
        Ok(())
    }

    fn ends(&self, topic: &str, partition: u32) -> Result<Ends, StoreError> {
        let parts = self
            .topics
            .get(topic)
            .ok_or_else(|| StoreError::NoTopic(topic.to_owned()))?;
        parts
            .get(partition as usize)
            .copied()
            .ok_or_else(|| StoreError::NoPartition {
                topic: topic.to_owned(),
                partition,
            })
    }

    /// The first offset at least `max_ms` young at `now_ms`, if entries before it go.
    fn first_kept(&self, key: &str, ends: Ends, max_ms: u64, now_ms: u64) -> Option<u64> {
        let count = RETAIN_SCAN.to_string();
        let answer = self
            .call(&[
                b"XRANGE",
                key.as_bytes(),
                b"-",
                b"+",
                b"COUNT",
                count.as_bytes(),
            ])
            .ok()?;
        let mut kept = ends.start;
        for entry in array(&answer) {
            let r = record_of(entry)?;
            if r.timestamp.saturating_add(max_ms) >= now_ms {
                break;
            }
            kept = r.offset + 1;
        }
        // The newest record always stays (as the file store keeps its newest segment).
        let kept = kept.min(ends.end.saturating_sub(1));
        (kept > ends.start).then_some(kept)
    }
}

/// A partition's ends from `XINFO STREAM` (a missing stream is an empty partition).
fn ends_of(info: &Frame) -> Ends {
    let info = array(info);
    let end = field(info, "last-generated-id")
        .and_then(Frame::as_bytes)
        .and_then(offset_of)
        .map_or(0, |o| o + 1);
    let start = field(info, "first-entry")
        .and_then(|e| array(e).first())
        .and_then(Frame::as_bytes)
        .and_then(offset_of)
        .unwrap_or(end);
    Ends { start, end }
}

impl Store for RedisStore {
    fn create(&mut self, topic: &str, partitions: u32) -> Result<(), StoreError> {
        self.recover()?;
        let have = self.topics.get(topic).map_or(0, Vec::len) as u32;
        if have >= partitions {
            return Ok(());
        }
        let n = partitions.to_string();
        self.call(&[b"HSET", TOPICS.as_bytes(), topic.as_bytes(), n.as_bytes()])?;
        let parts = self.topics.entry(topic.to_owned()).or_default();
        parts.resize(partitions as usize, Ends { start: 0, end: 0 });
        Ok(())
    }

    fn topics(&self) -> Vec<TopicInfo> {
        self.topics
            .iter()
            .map(|(name, parts)| TopicInfo {
                name: name.clone(),
                partitions: parts
                    .iter()
                    .map(|e| PartitionInfo {
                        start: e.start,
                        end: e.end,
                        bytes: 0,
                        segments: 1,
                    })
                    .collect(),
            })
            .collect()
    }

    fn append(
        &mut self,
        topic: &str,
        partition: u32,
        key: &[u8],
        value: &[u8],
        timestamp: u64,
    ) -> Result<u64, StoreError> {
        self.recover()?;
        let offset = self.xadd(topic, partition, key, value, timestamp)?;
        if let Some(e) = self
            .topics
            .get_mut(topic)
            .and_then(|p| p.get_mut(partition as usize))
        {
            e.end = offset + 1;
        }
        Ok(offset)
    }

    /// Nothing to do: Redis answered each `XADD` once it held it as its settings say.
    fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn read(&self, topic: &str, partition: u32, offset: u64) -> Result<Option<Record>, StoreError> {
        let ends = self.ends(topic, partition)?;
        if offset >= ends.end {
            return Ok(None);
        }
        let (stream, id) = (stream_key(topic, partition), entry_id(offset));
        let answer = self.call(&[b"XRANGE", stream.as_bytes(), id.as_bytes(), id.as_bytes()])?;
        Ok(array(&answer)
            .first()
            .and_then(record_of)
            .filter(|r| r.offset == offset))
    }

    fn commit(
        &mut self,
        topic: &str,
        group: &str,
        offsets: &[u64],
        _durable: bool,
    ) -> Result<(), StoreError> {
        self.recover()?;
        let keys: Vec<String> = (0..offsets.len() as u32)
            .map(|p| stream_key(topic, p))
            .collect();
        let ids: Vec<String> = offsets.iter().map(|c| format!("{c}-0")).collect();
        let set: Vec<Vec<&[u8]>> = keys
            .iter()
            .zip(&ids)
            .map(|(k, id)| {
                vec![
                    &b"XGROUP"[..],
                    b"SETID",
                    k.as_bytes(),
                    group.as_bytes(),
                    id.as_bytes(),
                ]
            })
            .collect();
        let answers = self.pipeline(&set)?;
        // A group new to a partition (or a partition with no stream yet) is created.
        for ((k, id), a) in keys.iter().zip(&ids).zip(&answers) {
            if matches!(a, Frame::Error(_)) {
                self.call(&[
                    b"XGROUP",
                    b"CREATE",
                    k.as_bytes(),
                    group.as_bytes(),
                    id.as_bytes(),
                    b"MKSTREAM",
                ])?;
            }
        }
        self.groups
            .insert((topic.to_owned(), group.to_owned()), offsets.to_vec());
        Ok(())
    }

    fn committed(&self) -> Vec<(String, String, Vec<u64>)> {
        self.groups
            .iter()
            .map(|((t, g), o)| (t.clone(), g.clone(), o.clone()))
            .collect()
    }

    fn retain(&mut self, now_ms: u64) -> Result<Vec<(String, u32, u64)>, StoreError> {
        let Some(max_ms) = self.retain_ms else {
            return Ok(Vec::new());
        };
        self.recover()?;
        let mut moved = Vec::new();
        for (topic, parts) in &self.topics {
            for (p, ends) in parts.iter().enumerate() {
                let key = stream_key(topic, p as u32);
                if let Some(kept) = self.first_kept(&key, *ends, max_ms, now_ms) {
                    let id = entry_id(kept);
                    self.call(&[b"XTRIM", key.as_bytes(), b"MINID", id.as_bytes()])?;
                    moved.push((topic.clone(), p as u32, kept));
                }
            }
        }
        for (topic, p, kept) in &moved {
            if let Some(e) = self
                .topics
                .get_mut(topic)
                .and_then(|parts| parts.get_mut(*p as usize))
            {
                e.start = *kept;
            }
        }
        Ok(moved)
    }

    fn notes(&self) -> &[Note] {
        &self.notes
    }

    fn promise(&self, _policy: Durability) -> Promise {
        self.promise.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_entry_ids_map_both_ways() {
        assert_eq!(entry_id(0), "0-1");
        assert_eq!(offset_of(b"0-1"), Some(0));
        assert_eq!(offset_of(entry_id(1804).as_bytes()), Some(1804));
        // An id netlab did not write is no offset.
        assert_eq!(offset_of(b"1700000000000-0"), None);
        assert_eq!(offset_of(b"junk"), None);
        // A group at C-0 has consumed everything below offset C.
        assert_eq!(committed_of(b"0-0"), Some(0));
        assert_eq!(committed_of(b"12-0"), Some(12));
        assert_eq!(
            committed_of(b"11-1"),
            Some(12),
            "moved by XREADGROUP past 11-1"
        );
    }

    #[test]
    fn urls_name_a_host_and_port() {
        assert_eq!(
            parse_url("redis://127.0.0.1:6380").unwrap(),
            "127.0.0.1:6380"
        );
        assert_eq!(parse_url("redis://localhost/").unwrap(), "localhost:6379");
        assert!(parse_url("http://127.0.0.1:6379").is_err());
        assert!(parse_url("redis://user:pw@host:1").is_err());
        assert!(parse_url("redis://").is_err());
    }

    #[test]
    fn the_promise_follows_redis_settings() {
        let p = promise_of(Some("yes"), Some("always"));
        assert_eq!(p.durability, Durability::Always);
        for (a, f) in [
            (Some("yes"), Some("everysec")),
            (Some("yes"), Some("no")),
            (Some("no"), Some("always")),
            (None, None),
        ] {
            let p = promise_of(a, f);
            assert_eq!(p.durability, Durability::Never, "{a:?} {f:?}");
            assert!(p.detail.is_some());
        }
    }

    #[test]
    fn a_stream_entry_reads_as_a_record() {
        // `XRANGE netlab:queue:t:0 3-1 3-1` as Redis 7 answered it.
        let bytes = b"*1\r\n*2\r\n$3\r\n3-1\r\n*6\r\n$2\r\nts\r\n$2\r\n17\r\n$1\r\nk\r\n$0\r\n\r\n$1\r\nv\r\n$3\r\nabc\r\n";
        let (frame, _) = Frame::parse(bytes, &Default::default()).unwrap().unwrap();
        let r = record_of(&array(&frame)[0]).unwrap();
        assert_eq!(
            (r.offset, r.timestamp, r.key.as_slice(), r.value.as_slice()),
            (3, 17, &b""[..], &b"abc"[..])
        );
    }
}
