//! Where frames come from and go to: pcap and pcapng files (through `pcap-file`), and
//! live capture on an interface (through `pnet_datalink`, behind the `capture` feature,
//! in `capture/live.rs`).
//!
//! Everything here is I/O. Decoding is `wire::dissect`'s job; this module hands it
//! [`Frame`]s: a timestamp, the link type, the captured bytes and the length the packet
//! had on the wire.
//!
//! Two Linux quirks are handled here, not hidden:
//!
//! - **Loopback shows every packet twice.** A packet socket on `lo` receives the outgoing
//!   copy (as the packet leaves) and the incoming copy (as it arrives). libpcap drops the
//!   outgoing one on loopback, so tcpdump shows each packet once. pnet does not tell the
//!   two apart, so [`LoopbackDedup`] pairs identical frames seen close together and
//!   removes the second of each pair, counting how many it removed.
//! - **A blocking receiver.** pnet's receiver blocks, so it runs on its own thread and
//!   hands frames over a bounded channel. When the reader falls behind, frames are
//!   counted as dropped instead of stalling the capture.

use crate::wire::dissect::LinkType;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter, RawPcapPacket};
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::{DataLink, PcapError, TsResolution};
use serde::Serialize;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{self, BufWriter, Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The most bytes of one frame netlab captures or writes: tcpdump's default snapshot length,
/// well above the largest loopback frame (65,536-byte MTU plus the 14-byte header).
pub const SNAPLEN: usize = 262_144;

/// One captured frame, borrowed from the source's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Time since the Unix epoch, as the capture recorded it.
    pub ts: Duration,
    /// How many digits after the second the capture's clock kept: 6 for microseconds
    /// (pcap's classic files), 9 for nanoseconds (`tcpdump --nano`, pcapng's
    /// `if_tsresol` 9). `ts` is exact to that many digits and says nothing below them.
    pub ts_digits: u8,
    pub link: LinkType,
    /// pcapng: the interface the packet was captured on.
    pub interface: Option<&'a FileInterface>,
    pub data: &'a [u8],
    /// Length on the wire; more than `data.len()` when the snap length cut it.
    pub orig_len: u32,
}

impl Frame<'_> {
    /// The record says the packet was shorter on the wire than the bytes it kept: the
    /// file was written wrongly (a capture keeps at most what was on the wire). The
    /// bytes are decoded anyway, as Wireshark decodes them.
    pub fn claims_fewer_than_captured(&self) -> bool {
        self.data.len() > self.orig_len as usize
    }
}

/// An owned frame, for handing across threads.
#[derive(Debug, Clone)]
pub struct OwnedFrame {
    pub ts: Duration,
    pub ts_digits: u8,
    pub link: LinkType,
    pub data: Vec<u8>,
    pub orig_len: u32,
}

impl OwnedFrame {
    pub fn borrow(&self) -> Frame<'_> {
        Frame {
            ts: self.ts,
            ts_digits: self.ts_digits,
            link: self.link,
            interface: None,
            data: &self.data,
            orig_len: self.orig_len,
        }
    }
}

/// Why a capture could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("no interface named `{0}`")]
    NoSuchInterface(String),
    #[error("opening a raw capture on `{iface}` was refused by the operating system")]
    PermissionDenied {
        iface: String,
        #[source]
        source: io::Error,
    },
    #[error("could not open a capture on `{iface}`")]
    Open {
        iface: String,
        #[source]
        source: io::Error,
    },
    #[error("`{0}` is not an Ethernet-style interface; netlab cannot capture on it")]
    UnsupportedInterface(String),
    #[error("could not open `{path}`")]
    OpenFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{path}` is not a pcap or pcapng file: {reason}")]
    NotACapture { path: PathBuf, reason: String },
    #[error("`{path}`, record {record}: {problem}")]
    Record {
        path: PathBuf,
        record: u64,
        problem: String,
    },
    #[error("`{path}`, record {record}: link type {linktype} is not one netlab decodes")]
    UnsupportedLink {
        path: PathBuf,
        record: u64,
        linktype: u32,
    },
    #[error("could not write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("this netlab was built without live capture (the `capture` feature)")]
    NotBuilt,
}

/// A problem with one record; the reader may carry on after some of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordProblem {
    /// The file ends in the middle of this record (a capture stopped while writing).
    Truncated { record: u64 },
    /// This record cannot be read; nothing after it can be trusted.
    Corrupt { record: u64, reason: String },
    /// A packet on an interface whose link type netlab cannot decode.
    UnsupportedLink { record: u64, linktype: u32 },
}

enum Inner {
    Pcap(PcapReader<Cursor<Vec<u8>>>),
    PcapFile(Box<PcapReader<io::Chain<Cursor<[u8; 4]>, File>>>),
    PcapNg(
        Box<PcapNgReader<io::Chain<Cursor<[u8; 4]>, File>>>,
        Interfaces,
    ),
}

/// A pcap or pcapng file, read as a stream: memory stays flat however large the file.
pub struct FileSource {
    path: PathBuf,
    inner: Inner,
    record: u64,
    done: bool,
    /// pcap: byte offset of the next record (to examine a record the reader rejects).
    offset: u64,
    /// pcapng frames are copied here (the reader's buffer cannot be lent out of its loop).
    scratch: Vec<u8>,
    /// pcap's single link type (pcapng: per interface).
    pub link: LinkType,
    /// pcap's timestamp digits, 6 or 9 (pcapng: per interface).
    ts_digits: u8,
    pub format: &'static str,
}

/// The digits after the second of a pcap file's timestamps.
fn pcap_digits(r: TsResolution) -> u8 {
    match r {
        TsResolution::MicroSecond => 6,
        TsResolution::NanoSecond => 9,
    }
}

const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

impl FileSource {
    pub fn open(path: &Path) -> Result<FileSource, CaptureError> {
        let mut file = File::open(path).map_err(|source| CaptureError::OpenFile {
            path: path.into(),
            source,
        })?;
        let mut magic = [0u8; 4];
        if let Err(e) = file.read_exact(&mut magic) {
            return Err(CaptureError::NotACapture {
                path: path.into(),
                reason: format!("too short for a file header ({e})"),
            });
        }
        let stream = Cursor::new(magic).chain(file);
        let not_capture = |e: PcapError| CaptureError::NotACapture {
            path: path.into(),
            reason: describe(&e),
        };
        if magic == PCAPNG_MAGIC {
            let r = PcapNgReader::new(stream).map_err(not_capture)?;
            let mut ifaces = Interfaces::default();
            for i in r.interfaces() {
                ifaces.describe(i);
            }
            return Ok(FileSource {
                path: path.into(),
                inner: Inner::PcapNg(Box::new(r), ifaces),
                record: 0,
                done: false,
                offset: 0,
                scratch: Vec::new(),
                link: LinkType::Ethernet,
                ts_digits: 6,
                format: "pcapng",
            });
        }
        let r = PcapReader::new(stream).map_err(not_capture)?;
        let link = LinkType::from_linktype(u32::from(r.header().datalink));
        let ts_digits = pcap_digits(r.header().ts_resolution);
        Ok(FileSource {
            path: path.into(),
            inner: Inner::PcapFile(Box::new(r)),
            record: 0,
            done: false,
            offset: 24,
            scratch: Vec::new(),
            link,
            ts_digits,
            format: "pcap",
        })
    }

    /// Read a pcap held in memory (the fuzz target and tests use this).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<FileSource, CaptureError> {
        FileSource::from_bytes_named(PathBuf::from("<memory>"), bytes)
    }

    /// Read a pcap held in memory that errors call `path` (a capture built into netlab).
    pub fn from_bytes_named(path: PathBuf, bytes: Vec<u8>) -> Result<FileSource, CaptureError> {
        let r = PcapReader::new(Cursor::new(bytes)).map_err(|e| CaptureError::NotACapture {
            path: path.clone(),
            reason: describe(&e),
        })?;
        let link = LinkType::from_linktype(u32::from(r.header().datalink));
        let ts_digits = pcap_digits(r.header().ts_resolution);
        Ok(FileSource {
            path,
            inner: Inner::Pcap(r),
            record: 0,
            done: false,
            offset: 24,
            scratch: Vec::new(),
            link,
            ts_digits,
            format: "pcap",
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// pcapng: every interface described so far, with the packets read from each.
    pub fn interfaces(&self) -> &[FileInterface] {
        match &self.inner {
            Inner::PcapNg(_, ifaces) => &ifaces.all,
            _ => &[],
        }
    }

    /// Records read so far (packet records; pcapng's other blocks are not counted).
    pub fn records(&self) -> u64 {
        self.record
    }

    /// The next frame, a problem with a record, or `None` at the end. After a
    /// `Truncated` or `Corrupt` problem the source returns `None`.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, RecordProblem>> {
        if self.done {
            return None;
        }
        let record = self.record + 1;
        match &mut self.inner {
            Inner::Pcap(r) => {
                let link = (self.link, self.ts_digits);
                let next = next_checked(r);
                pcap_record(next, link, record, &mut self.record, &mut self.done)
            }
            Inner::PcapFile(r) => {
                let link = (self.link, self.ts_digits);
                let header = r.header();
                let next = next_checked(r);
                if let Some(Ok(p)) = &next {
                    self.offset += 16 + p.data.len() as u64;
                }
                if let Some(Err(e)) = &next {
                    if let Some(corrupt) = overclaim(&self.path, self.offset, &header, e, record) {
                        self.done = true;
                        self.record = record;
                        return Some(Err(corrupt));
                    }
                }
                pcap_record(next, link, record, &mut self.record, &mut self.done)
            }
            Inner::PcapNg(r, ifaces) => {
                let mut progress = Progress {
                    record,
                    count: &mut self.record,
                    done: &mut self.done,
                };
                pcapng_record(r, ifaces, &mut self.scratch, &mut progress)
            }
        }
    }

    /// Turn a record problem into an error naming this file.
    pub fn error(&self, p: &RecordProblem) -> CaptureError {
        match p {
            RecordProblem::Truncated { record } => CaptureError::Record {
                path: self.path.clone(),
                record: *record,
                problem: "the file ends in the middle of this record (truncated)".into(),
            },
            RecordProblem::Corrupt { record, reason } => CaptureError::Record {
                path: self.path.clone(),
                record: *record,
                problem: reason.clone(),
            },
            RecordProblem::UnsupportedLink { record, linktype } => CaptureError::UnsupportedLink {
                path: self.path.clone(),
                record: *record,
                linktype: *linktype,
            },
        }
    }
}

/// pcap-file's packet data is a `Cow` that borrows its read buffer.
fn borrow_cow(c: std::borrow::Cow<'_, [u8]>) -> &[u8] {
    match c {
        std::borrow::Cow::Borrowed(b) => b,
        // pcap-file's readers always borrow; an owned buffer cannot outlive this call,
        // so it is reported as empty rather than leaked.
        std::borrow::Cow::Owned(_) => &[],
    }
}

/// The next record, its header checked as tcpdump and Wireshark read it, not as strictly
/// as pcap-file's `next_packet`, which refuses a record whose original length exceeds the
/// file's snapshot length. That is every cut packet of a capture taken with a snap
/// length (`tcpdump -s 96`): the snapshot length bounds the bytes *kept*, not the
/// packet. Refused: more kept than the larger of the file's snapshot length and 262,144
/// (libpcap's largest for any link type), and a timestamp fraction of a second or more.
/// Read although wrong: more bytes kept than the packet had on the wire.
fn next_checked<R: io::Read>(r: &mut PcapReader<R>) -> Option<Result<PcapPacket<'_>, PcapError>> {
    let h = r.header();
    r.next_raw_packet().map(|p| p.and_then(|p| checked(p, &h)))
}

/// The most bytes a record of this file may keep: the larger of the header's snapshot
/// length and 262,144 (libpcap's largest for any link type).
fn most_kept(h: &PcapHeader) -> u32 {
    h.snaplen.max(SNAPLEN as u32)
}

/// The checks [`next_checked`] makes, and the packet they let through.
fn checked<'a>(p: RawPcapPacket<'a>, h: &PcapHeader) -> Result<PcapPacket<'a>, PcapError> {
    let nanos = match h.ts_resolution {
        TsResolution::MicroSecond => p.ts_frac.checked_mul(1000),
        TsResolution::NanoSecond => Some(p.ts_frac),
    }
    .filter(|&n| n < 1_000_000_000)
    .ok_or(PcapError::InvalidField(
        "PacketHeader: the timestamp's fraction is a second or more",
    ))?;
    if p.incl_len > most_kept(h) {
        return Err(PcapError::InvalidField("PacketHeader incl_len > snap_len"));
    }
    // More bytes kept than the packet had (incl_len > orig_len) is a writer's mistake,
    // but the bytes are there: they are read, as Wireshark reads them, and
    // `Frame::claims_fewer_than_captured` lets the views say so.
    Ok(PcapPacket {
        timestamp: Duration::new(u64::from(p.ts_sec), nanos),
        orig_len: p.orig_len,
        data: p.data,
    })
}

/// A pcap record as a frame; `(link, ts_digits)` are the file header's.
fn pcap_record<'a>(
    next: Option<Result<PcapPacket<'a>, PcapError>>,
    (link, ts_digits): (LinkType, u8),
    record: u64,
    count: &mut u64,
    done: &mut bool,
) -> Option<Result<Frame<'a>, RecordProblem>> {
    match next {
        None => {
            *done = true;
            None
        }
        Some(Ok(p)) => {
            *count = record;
            if let LinkType::Unknown(t) = link {
                *done = true;
                return Some(Err(RecordProblem::UnsupportedLink {
                    record,
                    linktype: t,
                }));
            }
            let (ts, orig_len) = (p.timestamp, p.orig_len);
            Some(Ok(Frame {
                ts,
                ts_digits,
                link,
                interface: None,
                data: borrow_cow(p.data),
                orig_len,
            }))
        }
        Some(Err(e)) => {
            *count = record;
            *done = true;
            Some(Err(problem(e, record)))
        }
    }
}

/// A record header claiming more bytes than the file holds looks like truncation to the
/// reader; a claim beyond the snapshot length is corruption, and saying "truncated" would
/// mislead. `Some` names the corruption when the record at `offset` is such a claim.
fn overclaim(
    path: &Path,
    offset: u64,
    header: &PcapHeader,
    e: &PcapError,
    record: u64,
) -> Option<RecordProblem> {
    let claimed = claimed_len(path, offset, header.endianness)?;
    (claimed > most_kept(header) && matches!(problem_kind(e), Kind::Truncated)).then(|| {
        RecordProblem::Corrupt {
            record,
            reason: format!("the record header claims {claimed} captured bytes, more than the file's snapshot length ({})", header.snaplen),
        }
    })
}

/// Where a [`FileSource`] stands while it reads one pcapng record: the number the next
/// packet record gets, and the source's counter and end flag to update.
struct Progress<'a> {
    record: u64,
    count: &'a mut u64,
    done: &'a mut bool,
}

/// One interface of a pcapng file, from its Interface Description Block: the id its
/// packets name it by (counted from 0 in each section), its name and description when
/// the writer recorded them (`if_name`, `if_description`: dumpcap does, mergecap keeps
/// them), its link type and its timestamp unit. A pcap file has no such block: its one
/// link type is in the file header.
#[derive(Debug, Clone, Serialize)]
pub struct FileInterface {
    pub id: u32,
    pub name: Option<String>,
    pub description: Option<String>,
    pub link: LinkType,
    /// Digits after the second its timestamps have (at most 9: netlab keeps nanoseconds).
    pub ts_digits: u8,
    /// Packets read from it so far.
    pub packets: u64,
    /// Timestamp units per second (the if_tsresol option).
    #[serde(skip)]
    units_per_second: u64,
}

impl FileInterface {
    fn described_by(
        id: usize,
        i: &pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock<'_>,
    ) -> FileInterface {
        use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption as O;
        let (units_per_second, ts_digits) = ts_resolution(&i.options);
        let (mut name, mut description) = (None, None);
        for o in &i.options {
            match o {
                O::IfName(n) => name = Some(n.to_string()),
                O::IfDescription(d) => description = Some(d.to_string()),
                _ => {}
            }
        }
        FileInterface {
            id: u32::try_from(id).unwrap_or(u32::MAX),
            name,
            description,
            link: LinkType::from_linktype(u32::from(i.linktype)),
            ts_digits,
            packets: 0,
            units_per_second,
        }
    }
}

/// The pcapng interfaces described so far, every section's, in file order; packets name
/// one by its id in their own section, which starts at `section`.
#[derive(Default)]
struct Interfaces {
    all: Vec<FileInterface>,
    section: usize,
}

impl Interfaces {
    fn describe(
        &mut self,
        i: &pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock<'_>,
    ) {
        let id = self.all.len() - self.section;
        self.all.push(FileInterface::described_by(id, i));
    }

    /// This section's interface `id`.
    fn get_mut(&mut self, id: u32) -> Option<&mut FileInterface> {
        let at = self.section.checked_add(usize::try_from(id).ok()?)?;
        self.all.get_mut(at)
    }
}

/// Read pcapng blocks until a packet: section headers start a new interface list,
/// interface descriptions add to it, and other blocks (statistics, name resolution) are
/// skipped.
#[inline]
fn pcapng_record<'s>(
    r: &mut PcapNgReader<io::Chain<Cursor<[u8; 4]>, File>>,
    ifaces: &'s mut Interfaces,
    scratch: &'s mut Vec<u8>,
    at: &mut Progress<'_>,
) -> Option<Result<Frame<'s>, RecordProblem>> {
    loop {
        let block = match r.next_block() {
            None => {
                *at.done = true;
                return None;
            }
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                *at.done = true;
                *at.count = at.record;
                return Some(Err(problem(e, at.record)));
            }
        };
        match block {
            Block::SectionHeader(_) => ifaces.section = ifaces.all.len(),
            Block::InterfaceDescription(i) => ifaces.describe(&i),
            Block::EnhancedPacket(p) => {
                *at.count = at.record;
                let iface = ifaces.get_mut(p.interface_id);
                return Some(enhanced_packet(&p, iface, scratch, at));
            }
            Block::SimplePacket(p) => {
                *at.count = at.record;
                let iface = ifaces.get_mut(0);
                return Some(simple_packet(&p, iface, scratch, at.record));
            }
            _ => {}
        }
    }
}

/// An Enhanced Packet Block: the frame of the interface it names, its timestamp in that
/// interface's units.
#[inline]
fn enhanced_packet<'s>(
    p: &pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock<'_>,
    iface: Option<&'s mut FileInterface>,
    scratch: &'s mut Vec<u8>,
    at: &mut Progress<'_>,
) -> Result<Frame<'s>, RecordProblem> {
    let record = at.record;
    let Some(iface) = iface else {
        *at.done = true;
        return Err(RecordProblem::Corrupt {
            record,
            reason: format!(
                "packet names interface {} which was never described",
                p.interface_id
            ),
        });
    };
    if let LinkType::Unknown(t) = iface.link {
        return Err(RecordProblem::UnsupportedLink {
            record,
            linktype: t,
        });
    }
    iface.packets += 1;
    // pcap-file hands the raw timestamp over as nanoseconds; its real
    // unit is the interface's if_tsresol (microseconds by default).
    let raw = p.timestamp.as_nanos();
    let nanos = raw.saturating_mul(1_000_000_000) / u128::from(iface.units_per_second.max(1));
    let ts = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
    let orig_len = p.original_len;
    scratch.clear();
    scratch.extend_from_slice(&p.data);
    let iface: &'s FileInterface = iface;
    Ok(Frame {
        ts,
        ts_digits: iface.ts_digits,
        link: iface.link,
        interface: Some(iface),
        data: scratch,
        orig_len,
    })
}

/// A Simple Packet Block: no interface id and no timestamp; it belongs to the section's
/// first interface.
#[inline]
fn simple_packet<'s>(
    p: &pcap_file::pcapng::blocks::simple_packet::SimplePacketBlock<'_>,
    iface: Option<&'s mut FileInterface>,
    scratch: &'s mut Vec<u8>,
    record: u64,
) -> Result<Frame<'s>, RecordProblem> {
    let iface = match iface {
        Some(i) if !matches!(i.link, LinkType::Unknown(_)) => i,
        other => {
            let linktype = other.map_or(u32::MAX, |i| i.link.to_linktype());
            return Err(RecordProblem::UnsupportedLink { record, linktype });
        }
    };
    iface.packets += 1;
    let orig_len = p.original_len;
    scratch.clear();
    scratch.extend_from_slice(&p.data);
    let iface: &'s FileInterface = iface;
    Ok(Frame {
        ts: Duration::ZERO,
        ts_digits: iface.ts_digits,
        link: iface.link,
        interface: Some(iface),
        data: scratch,
        orig_len,
    })
}

enum Kind {
    Truncated,
    Other,
}

fn problem_kind(e: &PcapError) -> Kind {
    match e {
        PcapError::IoError(io) if io.kind() == io::ErrorKind::UnexpectedEof => Kind::Truncated,
        PcapError::IncompleteBuffer => Kind::Truncated,
        _ => Kind::Other,
    }
}

/// Read the captured-length field of the pcap record header at `offset`.
fn claimed_len(path: &Path, offset: u64, endianness: pcap_file::Endianness) -> Option<u32> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path).ok()?;
    f.seek(SeekFrom::Start(offset + 8)).ok()?;
    let mut b = [0u8; 4];
    f.read_exact(&mut b).ok()?;
    Some(match endianness {
        pcap_file::Endianness::Big => u32::from_be_bytes(b),
        pcap_file::Endianness::Little => u32::from_le_bytes(b),
    })
}

fn problem(e: PcapError, record: u64) -> RecordProblem {
    match e {
        PcapError::IoError(ref io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            RecordProblem::Truncated { record }
        }
        PcapError::IncompleteBuffer => RecordProblem::Truncated { record },
        other => RecordProblem::Corrupt {
            record,
            reason: describe(&other),
        },
    }
}

fn describe(e: &PcapError) -> String {
    match e {
        PcapError::IoError(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            "the file ends too early".into()
        }
        PcapError::IoError(io) => io.to_string(),
        PcapError::InvalidField(f) => format!("invalid field ({f})"),
        other => other.to_string(),
    }
}

/// pcapng's if_tsresol option (RFC draft-ietf-opsawg-pcapng §4.2): units per second, and
/// the digits after the second they give. The high bit says the unit is a power of 2
/// (2^-n s, which needs about n × log10(2) decimal digits) instead of 10 (10^-n s: n
/// digits). netlab keeps nanoseconds, so a finer unit shows 9 digits.
fn ts_resolution(
    opts: &[pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption<'_>],
) -> (u64, u8) {
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption as O;
    for o in opts {
        if let O::IfTsResol(v) = o {
            let exp = v & 0x7f;
            let (units, digits) = if v & 0x80 == 0 {
                (10u64.checked_pow(u32::from(exp)), exp)
            } else {
                // 2^10 = 1024 units need 4 digits: ceil(n × 0.30103), in integers.
                let digits = (u32::from(exp) * 30_103).div_ceil(100_000) as u8;
                (2u64.checked_pow(u32::from(exp)), digits)
            };
            return match units {
                Some(u) => (u, digits.min(9)),
                None => (1_000_000, 6),
            };
        }
    }
    (1_000_000, 6) // default: microseconds
}

/// Writes frames to a pcap file: microsecond timestamps (the most widely readable kind),
/// or nanoseconds when the first frame's clock kept more than 6 digits, so a
/// nanosecond capture written back loses nothing.
pub struct PcapSink {
    path: PathBuf,
    writer: Option<PcapWriter<BufWriter<File>>>,
    link: Option<LinkType>,
}

impl PcapSink {
    pub fn create(path: &Path) -> Result<PcapSink, CaptureError> {
        // Create the file now, so a bad path fails before capturing anything.
        File::create(path).map_err(|source| CaptureError::Write {
            path: path.into(),
            source,
        })?;
        Ok(PcapSink {
            path: path.into(),
            writer: None,
            link: None,
        })
    }

    pub fn write(&mut self, f: &Frame<'_>) -> Result<(), CaptureError> {
        let wr = |e: PcapError| CaptureError::Write {
            path: self.path.clone(),
            source: io::Error::other(describe(&e)),
        };
        if self.writer.is_none() {
            let file = File::create(&self.path).map_err(|source| CaptureError::Write {
                path: self.path.clone(),
                source,
            })?;
            let ts_resolution = if f.ts_digits > 6 {
                TsResolution::NanoSecond
            } else {
                TsResolution::MicroSecond
            };
            let header = PcapHeader {
                datalink: DataLink::from(f.link.to_linktype()),
                snaplen: SNAPLEN as u32,
                ts_resolution,
                ..PcapHeader::default()
            };
            self.writer = Some(PcapWriter::with_header(BufWriter::new(file), header).map_err(wr)?);
            self.link = Some(f.link);
        }
        if self.link != Some(f.link) {
            return Err(CaptureError::Write {
                path: self.path.clone(),
                source: io::Error::other(format!(
                    "a pcap file holds one link type; this packet is {} but the file is {}",
                    f.link,
                    self.link.map(|l| l.to_string()).unwrap_or_default()
                )),
            });
        }
        let orig_len = f.orig_len.max(f.data.len() as u32); // a frame is far below 4 GiB
        let p = PcapPacket::new(f.ts, orig_len, f.data);
        if let Some(w) = self.writer.as_mut() {
            w.write_packet(&p).map_err(wr)?;
        }
        Ok(())
    }

    /// Flush; an empty capture still gets a valid file with just the header.
    pub fn finish(mut self, link: LinkType) -> Result<(), CaptureError> {
        use std::io::Write;
        if self.writer.is_none() {
            let file = File::create(&self.path).map_err(|source| CaptureError::Write {
                path: self.path.clone(),
                source,
            })?;
            let header = PcapHeader {
                datalink: DataLink::from(link.to_linktype()),
                ts_resolution: TsResolution::MicroSecond,
                ..PcapHeader::default()
            };
            let w = PcapWriter::with_header(BufWriter::new(file), header).map_err(|e| {
                CaptureError::Write {
                    path: self.path.clone(),
                    source: io::Error::other(describe(&e)),
                }
            })?;
            self.writer = Some(w);
        }
        if let Some(w) = self.writer.take() {
            w.into_writer()
                .flush()
                .map_err(|source| CaptureError::Write {
                    path: self.path.clone(),
                    source,
                })?;
        }
        Ok(())
    }
}

/// Removes the second copy of each frame on Linux loopback.
///
/// Each frame is remembered (by a hash of its bytes) for a short while. A frame equal to
/// a remembered, still unpaired one is its other copy: it is dropped and the pair closed.
/// Two genuinely distinct but byte-identical packets still come out as two, because each
/// pairs with one copy. Lookups are O(1), so a busy loopback does not slow the thread.
pub struct LoopbackDedup {
    /// Unpaired frames by hash: their arrival times, oldest first.
    unpaired: HashMap<u64, VecDeque<Duration>>,
    /// Every remembered frame in arrival order, to forget them when they age out.
    order: VecDeque<(u64, Duration)>,
    window: Duration,
    pub removed: u64,
}

impl Default for LoopbackDedup {
    fn default() -> Self {
        LoopbackDedup {
            unpaired: HashMap::new(),
            order: VecDeque::with_capacity(4096),
            window: Duration::from_millis(200),
            removed: 0,
        }
    }
}

/// At most this many frames are remembered (a burst longer than this between a packet's
/// two copies would show it twice; on loopback the copies are microseconds apart).
const DEDUP_MEMORY: usize = 4096;

impl LoopbackDedup {
    /// Returns true if `data`, seen at `at`, is the second copy of a frame already shown.
    pub fn is_duplicate(&mut self, data: &[u8], at: Duration) -> bool {
        let mut h = DefaultHasher::new();
        data.hash(&mut h);
        let key = h.finish();
        while let Some(&(k, t)) = self.order.front() {
            if at.saturating_sub(t) <= self.window && self.order.len() < DEDUP_MEMORY {
                break;
            }
            self.order.pop_front();
            if let Some(q) = self.unpaired.get_mut(&k) {
                if q.front() == Some(&t) {
                    q.pop_front();
                }
                if q.is_empty() {
                    self.unpaired.remove(&k);
                }
            }
        }
        if let Some(q) = self.unpaired.get_mut(&key) {
            if q.pop_front().is_some() {
                if q.is_empty() {
                    self.unpaired.remove(&key);
                }
                self.removed += 1;
                return true;
            }
        }
        self.unpaired.entry(key).or_default().push_back(at);
        self.order.push_back((key, at));
        false
    }
}

#[cfg(feature = "capture")]
pub use live::*;

#[cfg(feature = "capture")]
mod live;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_pairs_copies_and_keeps_identical_distinct_packets() {
        let mut d = LoopbackDedup::default();
        let ms = Duration::from_millis;
        // out1, in1, out2, in2 with identical bytes (UDP with IP id 0 does this).
        let seen: Vec<bool> = (0..4).map(|i| d.is_duplicate(b"same", ms(i))).collect();
        assert_eq!(seen, [false, true, false, true]);
        // Interleaved copies of different packets still pair up.
        let seen: Vec<bool> = [&b"a"[..], b"b", b"a", b"b"]
            .iter()
            .map(|p| d.is_duplicate(p, ms(10)))
            .collect();
        assert_eq!(seen, [false, false, true, true]);
        // Long after, the same bytes are a new packet.
        assert!(!d.is_duplicate(b"a", ms(5000)));
        assert_eq!(d.removed, 4);
    }

    fn pcap_bytes(records: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let header = PcapHeader {
                datalink: DataLink::ETHERNET,
                ..PcapHeader::default()
            };
            let mut w = PcapWriter::with_header(&mut out, header).unwrap();
            for (i, r) in records.iter().enumerate() {
                w.write_packet(&PcapPacket::new(
                    Duration::from_secs(i as u64),
                    r.len() as u32,
                    r,
                ))
                .unwrap();
            }
        }
        out
    }

    #[test]
    fn truncated_last_record_is_reported_after_the_good_ones() {
        let mut bytes = pcap_bytes(&[b"frame one.....", b"frame two....."]);
        bytes.truncate(bytes.len() - 3);
        let mut src = FileSource::from_bytes(bytes).unwrap();
        assert!(matches!(src.next_frame(), Some(Ok(f)) if f.data == b"frame one....."));
        assert_eq!(
            src.next_frame().unwrap().unwrap_err(),
            RecordProblem::Truncated { record: 2 }
        );
        assert!(src.next_frame().is_none());
    }

    /// A little-endian microsecond pcap with snapshot length `snaplen`, written field by
    /// field: records of `(incl_len, orig_len)` whose data is `incl_len` bytes of 0xab.
    fn pcap_with_snaplen(snaplen: u32, records: &[(u32, u32)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        for v in [0u32, 0, snaplen, 1] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for (i, &(incl, orig)) in records.iter().enumerate() {
            for v in [1_700_000_000 + i as u32, 250_000, incl, orig] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            b.resize(b.len() + incl as usize, 0xab);
        }
        b
    }

    #[test]
    fn a_capture_with_a_snap_length_reads_its_cut_packets() {
        // `tcpdump -s 80`: the header says 80, and packets longer than that are kept
        // cut to 80 bytes with their length on the wire. pcap-file's own check refused
        // these (orig_len > snap_len); libpcap and Wireshark read them.
        let bytes = pcap_with_snaplen(80, &[(60, 60), (80, 566), (80, 65_000)]);
        let mut src = FileSource::from_bytes(bytes).unwrap();
        let mut seen = Vec::new();
        while let Some(f) = src.next_frame() {
            let f = f.unwrap();
            seen.push((f.data.len(), f.orig_len, f.ts));
        }
        let ts = |s: u64| Duration::new(s, 250_000_000);
        assert_eq!(
            seen,
            [
                (60, 60, ts(1_700_000_000)),
                (80, 566, ts(1_700_000_001)),
                (80, 65_000, ts(1_700_000_002))
            ]
        );
    }

    #[test]
    fn records_claiming_impossible_lengths_are_refused_or_noted() {
        // More bytes kept than the packet had: read (Wireshark decodes it too, with an
        // expert note), and the frame says so.
        let mut src = FileSource::from_bytes(pcap_with_snaplen(80, &[(60, 50)])).unwrap();
        let f = src.next_frame().unwrap().unwrap();
        assert_eq!((f.data.len(), f.orig_len), (60, 50));
        assert!(f.claims_fewer_than_captured());
        assert!(src.next_frame().is_none());
        // More kept than the snapshot length, up to 262,144, is read, as Wireshark
        // reads it (some writers put 0 or a wrong number in the header) ...
        let mut src = FileSource::from_bytes(pcap_with_snaplen(80, &[(100, 100)])).unwrap();
        assert!(matches!(src.next_frame(), Some(Ok(f)) if f.data.len() == 100));
        // ... but not past it.
        let big = SNAPLEN as u32 + 1;
        let mut src = FileSource::from_bytes(pcap_with_snaplen(80, &[(big, big)])).unwrap();
        assert!(matches!(src.next_frame(), Some(Err(_))));
    }

    #[test]
    fn a_nanosecond_capture_is_written_back_in_nanoseconds() {
        let path = std::env::temp_dir().join(format!("netlab-ns-{}.pcap", std::process::id()));
        let ts = Duration::new(1_796_659_501, 102_775_562);
        let frame = |ts_digits| Frame {
            ts,
            ts_digits,
            interface: None,
            link: LinkType::Ethernet,
            data: b"0123456789abcdef",
            orig_len: 16,
        };
        for (digits, back) in [(9, ts), (6, Duration::new(1_796_659_501, 102_775_000))] {
            let mut sink = PcapSink::create(&path).unwrap();
            sink.write(&frame(digits)).unwrap();
            sink.finish(LinkType::Ethernet).unwrap();
            let mut src = FileSource::open(&path).unwrap();
            let f = src.next_frame().unwrap().unwrap();
            assert_eq!((f.ts, f.ts_digits), (back, digits));
        }
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn every_prefix_of_a_pcap_reads_without_panic() {
        let bytes = pcap_bytes(&[b"0123456789abcdef", b"x"]);
        for n in 0..bytes.len() {
            if let Ok(mut src) = FileSource::from_bytes(bytes[..n].to_vec()) {
                for _ in 0..4 {
                    if src.next_frame().is_none() {
                        break;
                    }
                }
            }
        }
    }
}
