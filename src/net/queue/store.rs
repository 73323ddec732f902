//! The queue's log in files: one folder per topic, one per partition, segment files of
//! records (`wire::application::queue::record`), a sparse index per segment, and the
//! groups' committed offsets.
//!
//! ```text
//!   STORE/orders/0/00000000000000000000.log     records 0, 1, 2, …   (the format: record.rs)
//!   STORE/orders/0/00000000000000000000.index   every 4 KiB: offset u64 BE, position u64 BE
//!   STORE/orders/0/00000000000000001804.log     the next segment starts at offset 1804
//!   STORE/orders/groups/billing.offsets         {"partitions":[1804,0,12]}
//! ```
//!
//! - **Appending** writes a record at the end of the partition's newest segment. Nothing
//!   is on the disk until [`Store::sync`] (`fsync(2)`: the kernel writes the file's
//!   pages and waits for the device); the caller decides when, by its sync policy.
//! - **Opening** reads every segment back with `record::scan`: a torn tail (a write the
//!   crash cut short) is cut off the file; a damaged record in the middle is skipped and
//!   reported in [`Store::notes`]; neither is ever returned as data.
//! - A failed write (a full disk) is cut back off the file, so the segment stays a clean
//!   sequence of records, and the append fails.
//! - **Retention** deletes a partition's oldest segments while it holds more than its
//!   byte limit or while their newest record is older than the age limit; the segment
//!   being written is always kept.
//! - The `.index` file is rewritten when a segment is opened and appended to as records
//!   are; it is never trusted over the records (the scan at opening rebuilds it).
//!
//! [`Store`] is the interface a broker needs, so that another engine can keep the same
//! topics and pass the same behaviour tests.

use crate::wire::application::queue::record::{self, Damage, Record, HEADER_LEN};
use crate::wire::application::queue::Durability;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// An index entry every this many bytes of segment.
const INDEX_EVERY: u64 = 4096;

/// What a store holds of one partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionInfo {
    /// The oldest offset kept.
    pub start: u64,
    /// The next offset to append.
    pub end: u64,
    pub bytes: u64,
    pub segments: usize,
}

/// A topic and its partitions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: Vec<PartitionInfo>,
}

/// Something opening the log found and dealt with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    pub file: String,
    pub position: u64,
    pub bytes: u64,
    /// `torn tail cut` or `damaged record skipped`.
    pub action: &'static str,
    pub error: String,
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the disk is full: the record was not written ({0})")]
    DiskFull(io::Error),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: io::Error,
    },
    #[error("no topic {0:?} in the log")]
    NoTopic(String),
    #[error("topic {topic:?} has no partition {partition}")]
    NoPartition { topic: String, partition: u32 },
    #[error("the record cannot be written: {0}")]
    Record(#[from] record::RecordError),
    #[error("an earlier fsync failed; the log takes no more appends until it is opened again")]
    Failed,
    #[error("{url:?} is not a Redis address redis://HOST:PORT: {why}")]
    RedisUrl { url: String, why: String },
    #[error("no Redis answers at {addr}: {source}")]
    RedisUnreachable { addr: String, source: io::Error },
    #[error("the connection to Redis at {addr} was lost: {error}")]
    RedisLost { addr: String, error: String },
    #[error("Redis at {addr} refused {command}: {error}")]
    RedisRefused {
        addr: String,
        command: String,
        error: String,
    },
}

/// What an acknowledged append is: the durability, and a sentence when the engine rather
/// than the sync policy decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promise {
    pub durability: Durability,
    pub detail: Option<String>,
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.display().to_string();
    move |source| StoreError::Io { what, path, source }
}

/// The interface of a log engine.
pub trait Store: Send {
    /// Make sure `topic` exists with (at least) `partitions` partitions.
    fn create(&mut self, topic: &str, partitions: u32) -> Result<(), StoreError>;
    /// Every topic with its partitions.
    fn topics(&self) -> Vec<TopicInfo>;
    /// Write a record at the end of the partition; its offset. Not durable before
    /// [`Store::sync`].
    fn append(
        &mut self,
        topic: &str,
        partition: u32,
        key: &[u8],
        value: &[u8],
        timestamp: u64,
    ) -> Result<u64, StoreError>;
    /// Put everything appended so far on the disk.
    fn sync(&mut self) -> Result<(), StoreError>;
    /// The record at `offset`; `None` if the log does not hold it (never appended,
    /// removed by retention, or damaged).
    fn read(&self, topic: &str, partition: u32, offset: u64) -> Result<Option<Record>, StoreError>;
    /// Store a group's committed offsets (one per partition); with `durable`, on the
    /// disk before returning.
    fn commit(
        &mut self,
        topic: &str,
        group: &str,
        offsets: &[u64],
        durable: bool,
    ) -> Result<(), StoreError>;
    /// Every group's committed offsets: (topic, group, offsets).
    fn committed(&self) -> Vec<(String, String, Vec<u64>)>;
    /// Apply retention at `now_ms`; the partitions whose oldest offset moved.
    fn retain(&mut self, now_ms: u64) -> Result<Vec<(String, u32, u64)>, StoreError>;
    /// What opening the log found.
    fn notes(&self) -> &[Note];
    /// What an append acknowledged under the sync `policy` is: for the files, what the
    /// policy says.
    fn promise(&self, policy: Durability) -> Promise {
        Promise {
            durability: policy,
            detail: None,
        }
    }
}

/// Limits of the file store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileConfig {
    /// A new segment starts when the newest reaches this size.
    pub segment_bytes: u64,
    /// Retention: at most this many bytes per partition (`None`: no limit).
    pub retain_bytes: Option<u64>,
    /// Retention: records older than this many milliseconds go (`None`: no limit).
    pub retain_ms: Option<u64>,
}

impl Default for FileConfig {
    fn default() -> FileConfig {
        FileConfig {
            segment_bytes: 4 << 20,
            retain_bytes: Some(1 << 30),
            retain_ms: Some(7 * 24 * 3600 * 1000),
        }
    }
}

#[derive(Debug)]
struct Segment {
    base: u64,
    path: PathBuf,
    file: File,
    index_file: Option<File>,
    len: u64,
    /// (offset, position), one every [`INDEX_EVERY`] bytes and after every skipped damage.
    index: Vec<(u64, u64)>,
    last_indexed: u64,
    newest_timestamp: u64,
}

#[derive(Debug)]
struct Partition {
    dir: PathBuf,
    segments: Vec<Segment>,
    next: u64,
}

/// The log in files under one folder.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    config: FileConfig,
    topics: BTreeMap<String, Vec<Partition>>,
    groups: BTreeMap<(String, String), Vec<u64>>,
    /// Segments written since the last sync: (topic, partition, base).
    dirty: BTreeSet<(String, u32, u64)>,
    notes: Vec<Note>,
    failed: bool,
}

fn segment_name(base: u64, ext: &str) -> String {
    format!("{base:020}.{ext}")
}

/// `fsync` a folder, so that the files created or removed in it stay so after a crash.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("could not sync the folder", dir))
}

impl FileStore {
    /// Open (or create) the log in `dir`, checking every record.
    pub fn open(dir: &Path, config: FileConfig) -> Result<FileStore, StoreError> {
        fs::create_dir_all(dir).map_err(io_err("could not create", dir))?;
        let mut store = FileStore {
            dir: dir.to_owned(),
            config,
            topics: BTreeMap::new(),
            groups: BTreeMap::new(),
            dirty: BTreeSet::new(),
            notes: Vec::new(),
            failed: false,
        };
        for topic_dir in sorted_entries(dir)? {
            let Some(name) = file_name(&topic_dir) else {
                continue;
            };
            if !topic_dir.is_dir() {
                continue;
            }
            let mut partitions = Vec::new();
            for n in 0u32.. {
                let pdir = topic_dir.join(n.to_string());
                if !pdir.is_dir() {
                    break;
                }
                partitions.push(store.open_partition(&pdir)?);
            }
            store.read_groups(&name, &topic_dir.join("groups"))?;
            store.topics.insert(name, partitions);
        }
        Ok(store)
    }

    fn read_groups(&mut self, topic: &str, dir: &Path) -> Result<(), StoreError> {
        if !dir.is_dir() {
            return Ok(());
        }
        for path in sorted_entries(dir)? {
            let Some(group) =
                file_name(&path).and_then(|n| n.strip_suffix(".offsets").map(str::to_owned))
            else {
                continue;
            };
            let text = fs::read_to_string(&path).map_err(io_err("could not read", &path))?;
            let offsets = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| serde_json::from_value::<Vec<u64>>(v["partitions"].clone()).ok());
            match offsets {
                Some(o) => {
                    self.groups.insert((topic.to_owned(), group), o);
                }
                None => self.notes.push(Note {
                    file: path.display().to_string(),
                    position: 0,
                    bytes: text.len() as u64,
                    action: "group offsets ignored",
                    error: "not {\"partitions\":[…]}".to_owned(),
                }),
            }
        }
        Ok(())
    }

    fn open_partition(&mut self, dir: &Path) -> Result<Partition, StoreError> {
        let mut bases: Vec<u64> = sorted_entries(dir)?
            .iter()
            .filter_map(|p| file_name(p)?.strip_suffix(".log")?.parse().ok())
            .collect();
        bases.sort_unstable();
        let mut segments = Vec::new();
        let mut next = bases.first().copied().unwrap_or(0);
        for base in bases {
            let segment = self.open_segment(dir, base, &mut next)?;
            segments.push(segment);
        }
        if segments.is_empty() {
            segments.push(new_segment(dir, 0)?);
        }
        Ok(Partition {
            dir: dir.to_owned(),
            segments,
            next,
        })
    }

    /// Scan one segment, cut its torn tail, note its damage, rebuild its index.
    fn open_segment(
        &mut self,
        dir: &Path,
        base: u64,
        next: &mut u64,
    ) -> Result<Segment, StoreError> {
        let path = dir.join(segment_name(base, "log"));
        let bytes = fs::read(&path).map_err(io_err("could not read", &path))?;
        let scan = record::scan(&bytes, base.max(*next));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err("could not open", &path))?;
        let mut holes_end = BTreeSet::new();
        for d in &scan.damage {
            let (position, len, error, action) = match d {
                Damage::Skipped {
                    position,
                    len,
                    error,
                } => {
                    holes_end.insert((position + len) as u64);
                    (position, len, error, "damaged record skipped")
                }
                Damage::TornTail {
                    position,
                    len,
                    error,
                } => (position, len, error, "torn tail cut"),
            };
            self.notes.push(Note {
                file: path.display().to_string(),
                position: *position as u64,
                bytes: *len as u64,
                action,
                error: error.to_string(),
            });
        }
        if (scan.valid_len as u64) < bytes.len() as u64 {
            file.set_len(scan.valid_len as u64)
                .and_then(|()| file.sync_all())
                .map_err(io_err("could not cut the torn tail of", &path))?;
        }
        let mut segment = Segment {
            base,
            path: path.clone(),
            file,
            index_file: None,
            len: scan.valid_len as u64,
            index: Vec::new(),
            last_indexed: 0,
            newest_timestamp: 0,
        };
        for found in &scan.records {
            let position = found.position as u64;
            if segment.index.is_empty()
                || position >= segment.last_indexed + INDEX_EVERY
                || holes_end.contains(&position)
            {
                segment.index.push((found.offset, position));
                segment.last_indexed = position;
            }
            segment.newest_timestamp = found.timestamp;
            *next = found.offset + 1;
        }
        segment.rewrite_index(dir)?;
        Ok(segment)
    }

    fn partition(&self, topic: &str, partition: u32) -> Result<&Partition, StoreError> {
        let parts = self
            .topics
            .get(topic)
            .ok_or_else(|| StoreError::NoTopic(topic.to_owned()))?;
        parts
            .get(partition as usize)
            .ok_or_else(|| StoreError::NoPartition {
                topic: topic.to_owned(),
                partition,
            })
    }

    /// Start a new segment if the newest is full.
    fn roll(&mut self, topic: &str, partition: u32) -> Result<(), StoreError> {
        let limit = self.config.segment_bytes;
        let Some(p) = self
            .topics
            .get_mut(topic)
            .and_then(|t| t.get_mut(partition as usize))
        else {
            return Ok(());
        };
        let full = p.segments.last().is_some_and(|s| s.len >= limit);
        if full {
            let segment = new_segment(&p.dir, p.next)?;
            self.dirty
                .insert((topic.to_owned(), partition, segment.base));
            p.segments.push(segment);
        }
        Ok(())
    }
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io_err("could not list", dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    Ok(entries)
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name()?.to_str().map(str::to_owned)
}

/// Create an empty segment (and its folder's entry, synced).
fn new_segment(dir: &Path, base: u64) -> Result<Segment, StoreError> {
    let path = dir.join(segment_name(base, "log"));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_err("could not create", &path))?;
    sync_dir(dir)?;
    let mut segment = Segment {
        base,
        path,
        file,
        index_file: None,
        len: 0,
        index: Vec::new(),
        last_indexed: 0,
        newest_timestamp: 0,
    };
    segment.rewrite_index(dir)?;
    Ok(segment)
}

impl Segment {
    fn rewrite_index(&mut self, dir: &Path) -> Result<(), StoreError> {
        let path = dir.join(segment_name(self.base, "index"));
        let mut bytes = Vec::with_capacity(self.index.len() * 16);
        for (offset, position) in &self.index {
            bytes.extend_from_slice(&offset.to_be_bytes());
            bytes.extend_from_slice(&position.to_be_bytes());
        }
        let mut file = File::create(&path).map_err(io_err("could not write", &path))?;
        file.write_all(&bytes)
            .map_err(io_err("could not write", &path))?;
        self.index_file = Some(file);
        Ok(())
    }

    /// Write one record's bytes at the end; on failure cut them off again.
    fn append(&mut self, offset: u64, bytes: &[u8], timestamp: u64) -> Result<(), StoreError> {
        if let Err(e) = self.file.write_all_at(bytes, self.len) {
            // Whatever part was written is no record: take it back off the file.
            let _ = self.file.set_len(self.len);
            return Err(if e.raw_os_error() == Some(libc::ENOSPC) {
                StoreError::DiskFull(e)
            } else {
                io_err("could not write", &self.path)(e)
            });
        }
        let position = self.len;
        self.len += bytes.len() as u64;
        self.newest_timestamp = timestamp;
        if self.index.is_empty() || position >= self.last_indexed + INDEX_EVERY {
            self.index.push((offset, position));
            self.last_indexed = position;
            if let Some(f) = &mut self.index_file {
                let mut entry = [0u8; 16];
                entry[..8].copy_from_slice(&offset.to_be_bytes());
                entry[8..].copy_from_slice(&position.to_be_bytes());
                // The index is rebuilt at opening: a failed write here loses nothing.
                let _ = f.write_all(&entry);
            }
        }
        Ok(())
    }

    /// The record at `offset`, scanning forward from the index entry before it.
    fn read(&self, offset: u64) -> Result<Option<Record>, StoreError> {
        let i = self.index.partition_point(|(o, _)| *o <= offset);
        let Some(&(_, mut position)) = i.checked_sub(1).and_then(|i| self.index.get(i)) else {
            return Ok(None);
        };
        let mut header = [0u8; HEADER_LEN];
        while position + HEADER_LEN as u64 <= self.len {
            self.file
                .read_exact_at(&mut header, position)
                .map_err(io_err("could not read", &self.path))?;
            let Ok(len) = Record::frame_len(&header).or_else(|e| match e {
                record::RecordError::Truncated { needed, .. } => Ok(needed),
                e => Err(e),
            }) else {
                return Ok(None);
            };
            if position + len as u64 > self.len {
                return Ok(None);
            }
            let mut bytes = vec![0u8; len];
            self.file
                .read_exact_at(&mut bytes, position)
                .map_err(io_err("could not read", &self.path))?;
            let Ok((rec, _)) = Record::parse(&bytes) else {
                // Damage: what was asked for is not here as data.
                return Ok(None);
            };
            match rec.offset.cmp(&offset) {
                std::cmp::Ordering::Equal => return Ok(Some(rec)),
                std::cmp::Ordering::Greater => return Ok(None),
                std::cmp::Ordering::Less => position += len as u64,
            }
        }
        Ok(None)
    }
}

impl Store for FileStore {
    fn create(&mut self, topic: &str, partitions: u32) -> Result<(), StoreError> {
        let have = self.topics.get(topic).map_or(0, Vec::len) as u32;
        if have >= partitions {
            return Ok(());
        }
        let tdir = self.dir.join(topic);
        fs::create_dir_all(&tdir).map_err(io_err("could not create", &tdir))?;
        let mut new = Vec::new();
        for n in have..partitions {
            let pdir = tdir.join(n.to_string());
            fs::create_dir_all(&pdir).map_err(io_err("could not create", &pdir))?;
            new.push(Partition {
                segments: vec![new_segment(&pdir, 0)?],
                dir: pdir,
                next: 0,
            });
        }
        sync_dir(&tdir)?;
        sync_dir(&self.dir)?;
        self.topics.entry(topic.to_owned()).or_default().extend(new);
        Ok(())
    }

    fn topics(&self) -> Vec<TopicInfo> {
        self.topics
            .iter()
            .map(|(name, parts)| TopicInfo {
                name: name.clone(),
                partitions: parts
                    .iter()
                    .map(|p| PartitionInfo {
                        start: p.segments.first().map_or(p.next, |s| s.base.min(p.next)),
                        end: p.next,
                        bytes: p.segments.iter().map(|s| s.len).sum(),
                        segments: p.segments.len(),
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
        if self.failed {
            return Err(StoreError::Failed);
        }
        self.partition(topic, partition)?;
        self.roll(topic, partition)?;
        let p = &mut self.topics.get_mut(topic).ok_or(StoreError::Failed)?[partition as usize];
        let offset = p.next;
        let rec = Record {
            offset,
            timestamp,
            key: key.to_vec(),
            value: value.to_vec(),
        };
        let mut bytes = Vec::with_capacity(rec.buffer_len());
        rec.emit(&mut bytes)?;
        let segment = p.segments.last_mut().ok_or(StoreError::Failed)?;
        segment.append(offset, &bytes, timestamp)?;
        p.next += 1;
        self.dirty
            .insert((topic.to_owned(), partition, segment.base));
        Ok(offset)
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        let dirty = std::mem::take(&mut self.dirty);
        for (topic, partition, base) in dirty {
            let Ok(p) = self.partition(&topic, partition) else {
                continue;
            };
            let Some(s) = p.segments.iter().find(|s| s.base == base) else {
                continue;
            };
            if let Err(e) = s.file.sync_data() {
                // After a failed fsync the kernel may have dropped the pages it could not
                // write (and forgotten the error): nothing written since the last good
                // sync can be trusted, so stop taking appends.
                let error = io_err("could not sync", &s.path)(e);
                self.failed = true;
                return Err(error);
            }
        }
        Ok(())
    }

    fn read(&self, topic: &str, partition: u32, offset: u64) -> Result<Option<Record>, StoreError> {
        let p = self.partition(topic, partition)?;
        let i = p.segments.partition_point(|s| s.base <= offset);
        match i.checked_sub(1).and_then(|i| p.segments.get(i)) {
            Some(s) if offset < p.next => s.read(offset),
            _ => Ok(None),
        }
    }

    fn commit(
        &mut self,
        topic: &str,
        group: &str,
        offsets: &[u64],
        durable: bool,
    ) -> Result<(), StoreError> {
        let dir = self.dir.join(topic).join("groups");
        fs::create_dir_all(&dir).map_err(io_err("could not create", &dir))?;
        let path = dir.join(format!("{group}.offsets"));
        let tmp = dir.join(format!("{group}.offsets.new"));
        let text = serde_json::json!({ "partitions": offsets }).to_string();
        // Write aside, then rename over: a crash leaves the old file or the new, whole.
        let mut f = File::create(&tmp).map_err(io_err("could not write", &tmp))?;
        f.write_all(text.as_bytes())
            .map_err(io_err("could not write", &tmp))?;
        if durable {
            f.sync_data().map_err(io_err("could not sync", &tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io_err("could not rename", &tmp))?;
        if durable {
            sync_dir(&dir)?;
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
        let mut moved = Vec::new();
        let (max_bytes, max_ms) = (self.config.retain_bytes, self.config.retain_ms);
        for (topic, parts) in &mut self.topics {
            for (n, p) in parts.iter_mut().enumerate() {
                let mut removed = false;
                while p.segments.len() > 1 {
                    let total: u64 = p.segments.iter().map(|s| s.len).sum();
                    let oldest = &p.segments[0];
                    let too_big = max_bytes.is_some_and(|m| total > m);
                    let too_old = max_ms.is_some_and(|m| oldest.newest_timestamp + m < now_ms);
                    if !(too_big || too_old) {
                        break;
                    }
                    let s = p.segments.remove(0);
                    let index = p.dir.join(segment_name(s.base, "index"));
                    fs::remove_file(&s.path).map_err(io_err("could not remove", &s.path))?;
                    let _ = fs::remove_file(index);
                    removed = true;
                }
                if removed {
                    sync_dir(&p.dir)?;
                    moved.push((topic.clone(), n as u32, p.segments[0].base));
                }
            }
        }
        Ok(moved)
    }

    fn notes(&self) -> &[Note] {
        &self.notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("netlab-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn small() -> FileConfig {
        FileConfig {
            segment_bytes: 200,
            retain_bytes: None,
            retain_ms: None,
        }
    }

    #[test]
    fn appends_read_back_across_segments_and_reopening() {
        let dir = temp("rw");
        let mut s = FileStore::open(&dir, small()).unwrap();
        s.create("t", 2).unwrap();
        for i in 0..20u64 {
            let v = format!("value {i}");
            assert_eq!(s.append("t", 1, b"k", v.as_bytes(), 1000 + i).unwrap(), i);
        }
        s.sync().unwrap();
        assert!(s.topics()[0].partitions[1].segments > 3, "rolled");
        let check = |s: &FileStore| {
            for i in 0..20u64 {
                let r = s.read("t", 1, i).unwrap().expect("there");
                assert_eq!((r.offset, r.value), (i, format!("value {i}").into_bytes()));
            }
            assert_eq!(s.read("t", 1, 20).unwrap(), None);
            assert_eq!(s.read("t", 0, 0).unwrap(), None);
        };
        check(&s);
        drop(s);
        let s = FileStore::open(&dir, small()).unwrap();
        assert!(s.notes().is_empty(), "{:?}", s.notes());
        assert_eq!(s.topics()[0].partitions[1].end, 20);
        check(&s);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_flipped_byte_is_reported_and_the_record_is_not_returned() {
        let dir = temp("flip");
        let mut s = FileStore::open(&dir, FileConfig::default()).unwrap();
        s.create("t", 1).unwrap();
        for i in 0..3u64 {
            s.append("t", 0, b"", b"abc", i).unwrap();
        }
        s.sync().unwrap();
        drop(s);
        let seg = dir.join("t/0").join(segment_name(0, "log"));
        let mut bytes = fs::read(&seg).unwrap();
        bytes[37 + 35] ^= 1; // in record 1's value
        fs::write(&seg, &bytes).unwrap();
        let s = FileStore::open(&dir, FileConfig::default()).unwrap();
        assert_eq!(s.notes().len(), 1);
        assert_eq!(s.notes()[0].action, "damaged record skipped");
        assert!(s.read("t", 0, 0).unwrap().is_some());
        assert_eq!(s.read("t", 0, 1).unwrap(), None);
        assert!(s.read("t", 0, 2).unwrap().is_some());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_tail_is_cut_and_appending_goes_on() {
        let dir = temp("torn");
        let mut s = FileStore::open(&dir, FileConfig::default()).unwrap();
        s.create("t", 1).unwrap();
        s.append("t", 0, b"", b"whole", 1).unwrap();
        s.append("t", 0, b"", b"torn", 2).unwrap();
        s.sync().unwrap();
        drop(s);
        let seg = dir.join("t/0").join(segment_name(0, "log"));
        let len = fs::metadata(&seg).unwrap().len();
        File::options()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        let mut s = FileStore::open(&dir, FileConfig::default()).unwrap();
        assert_eq!(s.notes()[0].action, "torn tail cut");
        assert_eq!(fs::metadata(&seg).unwrap().len(), 39);
        assert_eq!(s.append("t", 0, b"", b"next", 3).unwrap(), 1);
        assert_eq!(s.read("t", 0, 1).unwrap().unwrap().value, b"next");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn retention_drops_old_segments_and_keeps_the_newest() {
        let dir = temp("retain");
        let config = FileConfig {
            retain_bytes: Some(400),
            ..small()
        };
        let mut s = FileStore::open(&dir, config).unwrap();
        s.create("t", 1).unwrap();
        for i in 0..30u64 {
            s.append("t", 0, b"", b"0123456789", i).unwrap();
        }
        let moved = s.retain(0).unwrap();
        let info = &s.topics()[0].partitions[0];
        assert!(info.bytes <= 400 + 200, "{info:?}");
        assert_eq!(moved, [("t".to_owned(), 0, info.start)]);
        assert_eq!(s.read("t", 0, 0).unwrap(), None);
        assert!(s.read("t", 0, 29).unwrap().is_some());
        let mut aged = FileStore::open(
            &dir,
            FileConfig {
                retain_ms: Some(10),
                ..small()
            },
        )
        .unwrap();
        aged.retain(1_000).unwrap();
        assert_eq!(aged.topics()[0].partitions[0].segments, 1);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn committed_offsets_survive_reopening() {
        let dir = temp("groups");
        let mut s = FileStore::open(&dir, FileConfig::default()).unwrap();
        s.create("t", 2).unwrap();
        s.commit("t", "g", &[3, 4], true).unwrap();
        s.commit("t", "g", &[5, 4], false).unwrap();
        drop(s);
        let s = FileStore::open(&dir, FileConfig::default()).unwrap();
        assert_eq!(
            s.committed(),
            [("t".to_owned(), "g".to_owned(), vec![5, 4])]
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
