//! `netlab capture --follow CONV`: one conversation's reassembled bytes, like
//! Wireshark's "Follow TCP Stream". The capture pipeline feeds every packet to
//! [`Follower::packet`]; `wire::dissect::flow` puts each direction's bytes in order, and this
//! module keeps the chosen conversation's pieces for the report.

use crate::error::usage;
use crate::output::{follow, Paint, Render, Style};
use crate::wire::dissect::app::{AppDecoder, AppEvent};
use crate::wire::dissect::flow::{Conversation, Direction, FlowTable, Limits, Piece, Which};
use crate::wire::dissect::Dissection;
use serde::Serialize;
use std::net::SocketAddr;

/// Bytes of the followed conversation kept for the report; past this, the rest is
/// counted, not kept (so a capture of an endless stream cannot fill memory).
pub const MAX_FOLLOW_BYTES: usize = 64 * 1024 * 1024;

/// What a chunk costs against [`MAX_FOLLOW_BYTES`] beyond its bytes, so a stream of
/// millions of tiny holes and runs cannot grow the report without bound either.
const CHUNK_COST: usize = 64;

/// Application events kept for the report; past this they are counted.
pub const MAX_APP_EVENTS: usize = 100_000;

/// Parse `N` or `HOST:PORT-HOST:PORT` (IPv6 in brackets: `[::1]:80-[::1]:5000`).
pub fn parse_which(s: &str) -> anyhow::Result<Which> {
    if let Ok(n) = s.parse::<u32>() {
        if n == 0 {
            return Err(usage(
                "--follow 0: conversations are numbered from 1",
                "run `netlab capture --read FILE --follow 1`, or name the ends: --follow 127.0.0.1:40000-127.0.0.1:8000",
            ));
        }
        return Ok(Which::Id(n));
    }
    let parsed = s.split_once('-').and_then(|(x, y)| {
        Some((
            x.trim().parse::<SocketAddr>().ok()?,
            y.trim().parse::<SocketAddr>().ok()?,
        ))
    });
    match parsed {
        Some((x, y)) => Ok(Which::Ends((x.ip(), x.port()), (y.ip(), y.port()))),
        None => Err(usage(
            format!("--follow {s}: not a conversation number or HOST:PORT-HOST:PORT"),
            "for example --follow 1, --follow 127.0.0.1:40000-127.0.0.1:8000 or --follow '[::1]:40000-[::1]:8000'",
        )),
    }
}

/// The most `--max-stream-buffer` may be.
pub const MAX_STREAM_BUFFER: usize = 1 << 30;

/// Parse `--max-stream-buffer`: `65536`, `64k`, `4M` (k = KiB, M = MiB, G = GiB).
pub fn parse_bytes(s: &str) -> anyhow::Result<usize> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let mult: u64 = match unit {
        "" => 1,
        "k" | "K" | "KiB" => 1 << 10,
        "m" | "M" | "MiB" => 1 << 20,
        "g" | "G" | "GiB" => 1 << 30,
        _ => 0,
    };
    let bytes = num
        .parse::<u64>()
        .ok()
        .filter(|_| mult > 0)
        .and_then(|n| n.checked_mul(mult));
    match bytes {
        Some(n) if n <= MAX_STREAM_BUFFER as u64 => Ok(n as usize),
        Some(_) => Err(usage(
            format!("--max-stream-buffer {s} is more than 1G"),
            "netlab holds at most 1 GiB of out-of-order bytes per direction; the default is 4M",
        )),
        None => Err(usage(
            format!("--max-stream-buffer {s}: not a number of bytes"),
            "for example --max-stream-buffer 65536, 64k or 4M",
        )),
    }
}

/// One run of bytes in one direction, or a hole. In JSON the bytes appear twice: as
/// `text` (invalid UTF-8 replaced) and as `hex`.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub direction: Direction,
    /// Offset of the first byte in this direction's stream.
    pub offset: u64,
    /// Bytes missing here (never captured); 0 for data.
    pub missing: u64,
    pub data: Vec<u8>,
}

impl Serialize for Chunk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let hex = crate::wire::text::hex(&self.data, "");
        let mut st = s.serialize_struct("Chunk", 5)?;
        st.serialize_field("direction", &self.direction)?;
        st.serialize_field("offset", &self.offset)?;
        st.serialize_field("missing", &self.missing)?;
        st.serialize_field("text", &String::from_utf8_lossy(&self.data))?;
        st.serialize_field("hex", &hex)?;
        st.end()
    }
}

/// What `--follow` reports.
#[derive(Debug, Serialize)]
pub struct FollowReport {
    pub conversation: Conversation,
    /// In capture order: a chunk per run of same-direction bytes.
    pub chunks: Vec<Chunk>,
    /// Bytes not kept because of [`MAX_FOLLOW_BYTES`].
    pub not_kept: u64,
    /// Application events not kept because of [`MAX_APP_EVENTS`].
    pub events_not_kept: u64,
    /// HTTP/1.x messages and WebSocket frames decoded from the reassembled bytes.
    pub application: Vec<AppEvent>,
    /// The bounds on reassembly (`max_buffered`: `--max-stream-buffer`).
    pub limits: Limits,
    #[serde(skip)]
    pub hex: bool,
}

/// Feeds packets to the flow table and keeps the followed conversation's bytes.
#[derive(Debug)]
pub struct Follower {
    which: Which,
    table: FlowTable,
    /// The followed conversation's number, once seen.
    id: Option<u32>,
    chunks: Vec<Chunk>,
    kept: usize,
    not_kept: u64,
    scratch: Vec<(Direction, u64, Result<Vec<u8>, u64>)>,
    app: AppDecoder,
    application: Vec<AppEvent>,
    events_not_kept: u64,
}

/// Bytes one direction's application decoder may hold while a message is incomplete.
const APP_BUFFER: usize = 16 * 1024 * 1024;

impl Follower {
    pub fn new(which: Which) -> Follower {
        Follower::with_limits(which, Limits::default())
    }

    /// A follower whose reassembler holds at most `limits` (`--max-stream-buffer`).
    pub fn with_limits(which: Which, limits: Limits) -> Follower {
        Follower {
            which,
            table: FlowTable::new(limits),
            id: None,
            chunks: Vec::new(),
            kept: 0,
            not_kept: 0,
            scratch: Vec::new(),
            app: AppDecoder::new(APP_BUFFER),
            application: Vec::new(),
            events_not_kept: 0,
        }
    }

    pub fn packet(&mut self, d: &Dissection, frame: &[u8], ts_us: u64) {
        let want = self.id;
        let scratch = &mut self.scratch;
        let mut sink = |id: u32, dir: Direction, p: Piece<'_>| {
            if want.is_some_and(|w| w != id) {
                return;
            }
            match p {
                Piece::Data { offset, bytes } => scratch.push((dir, offset, Ok(bytes.to_vec()))),
                Piece::Gap { offset, len } => scratch.push((dir, offset, Err(len))),
            }
        };
        let Some(u) = self.table.packet(d, frame, ts_us, &mut sink) else {
            return;
        };
        if self.id.is_none() && u.conversation != 0 {
            let idx = (u.conversation - 1) as usize;
            if self
                .table
                .conversations
                .get(idx)
                .is_some_and(|c| c.matches(&self.which))
            {
                self.id = Some(u.conversation);
                if let Some((a, b)) = d.ports() {
                    self.app = AppDecoder::for_ports(APP_BUFFER, a, b);
                }
            }
        }
        let pieces = std::mem::take(&mut self.scratch);
        if self.id == Some(u.conversation) {
            for p in pieces {
                self.keep(p);
            }
        }
    }

    fn followed(&self) -> Option<&crate::wire::dissect::flow::Conversation> {
        self.id
            .and_then(|id| self.table.conversations.get((id - 1) as usize))
    }

    fn keep(&mut self, (dir, offset, p): (Direction, u64, Result<Vec<u8>, u64>)) {
        let tcp = self
            .followed()
            .is_some_and(|c| c.transport == crate::wire::dissect::flow::Transport::Tcp);
        if tcp {
            let piece = match &p {
                Ok(bytes) => Piece::Data { offset, bytes },
                Err(len) => Piece::Gap { offset, len: *len },
            };
            self.app.piece(dir, piece, &mut self.application);
        } else if let (Some(c), Ok(bytes)) = (self.followed(), &p) {
            // UDP: each datagram of a DNS conversation is one message.
            if c.a.1 == crate::wire::application::dns::PORT
                || c.b.1 == crate::wire::application::dns::PORT
            {
                AppDecoder::dns_datagram(dir, offset, bytes, &mut self.application);
            }
        }
        if self.application.len() > MAX_APP_EVENTS {
            self.events_not_kept += (self.application.len() - MAX_APP_EVENTS) as u64;
            self.application.truncate(MAX_APP_EVENTS);
        }
        let room = MAX_FOLLOW_BYTES - self.kept;
        match p {
            Err(len) => {
                // Past the bound a hole is still counted in the conversation's gaps.
                if room >= CHUNK_COST {
                    self.kept += CHUNK_COST;
                    self.chunks.push(Chunk {
                        direction: dir,
                        offset,
                        missing: len,
                        data: Vec::new(),
                    });
                }
            }
            Ok(bytes) => {
                let extend =
                    matches!(self.chunks.last(), Some(c) if c.direction == dir && c.missing == 0);
                let room = if extend {
                    room
                } else {
                    room.saturating_sub(CHUNK_COST)
                };
                let take = bytes.len().min(room);
                self.not_kept += (bytes.len() - take) as u64;
                if take == 0 {
                    return;
                }
                self.kept += take;
                let bytes = &bytes[..take];
                match self.chunks.last_mut() {
                    Some(c) if extend => c.data.extend_from_slice(bytes),
                    _ => {
                        self.kept += CHUNK_COST;
                        self.chunks.push(Chunk {
                            direction: dir,
                            offset,
                            missing: 0,
                            data: bytes.to_vec(),
                        })
                    }
                }
            }
        }
    }

    /// The capture ended: the report, or an error naming the conversations there were.
    pub fn finish(mut self, hex: bool) -> anyhow::Result<FollowReport> {
        if let Some(id) = self.id {
            let scratch = &mut self.scratch;
            self.table.finish(&mut |cid, dir, p| {
                if cid == id {
                    match p {
                        Piece::Data { offset, bytes } => {
                            scratch.push((dir, offset, Ok(bytes.to_vec())))
                        }
                        Piece::Gap { offset, len } => scratch.push((dir, offset, Err(len))),
                    }
                }
            });
            for p in std::mem::take(&mut self.scratch) {
                self.keep(p);
            }
            self.app.finish(&mut self.application);
        }
        let limits = self.table.limits();
        let conv = self
            .id
            .and_then(|id| self.table.conversations.get((id - 1) as usize).cloned());
        match conv {
            Some(conversation) => Ok(FollowReport {
                conversation,
                chunks: self.chunks,
                not_kept: self.not_kept,
                events_not_kept: self.events_not_kept,
                application: self.application,
                limits,
                hex,
            }),
            None => {
                let list: Vec<String> = self
                    .table
                    .conversations
                    .iter()
                    .take(20)
                    .map(|c| {
                        format!(
                            "  {}  {} {}-{}",
                            c.id,
                            c.transport.name(),
                            sock(c.a),
                            sock(c.b)
                        )
                    })
                    .collect();
                let hint = if list.is_empty() {
                    "this capture (after the filter) has no TCP or UDP conversations".to_string()
                } else {
                    format!("the conversations in this capture:\n{}", list.join("\n"))
                };
                Err(crate::error::Hinted::failure(format!(
                    "no conversation {} in this capture",
                    which_text(&self.which)
                ))
                .with_hint(hint)
                .into())
            }
        }
    }
}

fn sock(e: (std::net::IpAddr, u16)) -> String {
    SocketAddr::from(e).to_string()
}

/// `--follow`'s text for a conversation, as [`parse_which`] reads it back.
pub fn which_text(w: &Which) -> String {
    match w {
        Which::Id(n) => n.to_string(),
        Which::Ends(x, y) => format!("{}-{}", sock(*x), sock(*y)),
    }
}

impl Render for FollowReport {
    fn render_human(&self, style: &Style) -> String {
        let mut s = String::new();
        self.write_heading(&mut s, style);
        s.push_str("\n\n");
        for ch in &self.chunks {
            if ch.missing > 0 {
                follow::write_gap(&mut s, ch.direction, ch.offset, ch.missing, style);
            } else if self.hex {
                follow::write_hex(&mut s, ch.direction, ch.offset, &ch.data, style);
            } else {
                follow::write_text(&mut s, ch.direction, &ch.data, style);
            }
        }
        if !self.application.is_empty() {
            s.push('\n');
            s.push_str(&style.paint(
                Paint::Bold,
                "Application layer (OSI 7, TCP/IP application), decoded from the reassembled bytes:",
            ));
            s.push('\n');
            for ev in &self.application {
                follow::write_app(&mut s, ev, style);
            }
        }
        if self.events_not_kept > 0 {
            s.push_str(&style.paint(
                Paint::Warn,
                format!(
                    "\n{} more application events not shown (netlab keeps at most {MAX_APP_EVENTS})\n",
                    self.events_not_kept
                ),
            ));
        }
        if self.not_kept > 0 {
            s.push_str(&style.paint(
                Paint::Warn,
                format!(
                    "\n{} more bytes not shown (netlab keeps at most {} MiB of one conversation)\n",
                    self.not_kept,
                    MAX_FOLLOW_BYTES >> 20
                ),
            ));
        }
        s.trim_end().to_string()
    }
}

impl FollowReport {
    /// Which conversation, its two directions and what the reassembler saw.
    fn write_heading(&self, s: &mut String, style: &Style) {
        let c = &self.conversation;
        s.push_str(&style.paint(
            Paint::Bold,
            format!(
                "{} conversation {}: {} ⇄ {}",
                c.transport.name(),
                c.id,
                sock(c.a),
                sock(c.b)
            ),
        ));
        s.push('\n');
        s.push_str(&format!(
            "{} {} → {} ({} packets, {} bytes)   {} {} → {} ({} packets, {} bytes)\n",
            style.paint(Paint::Client, ">"),
            sock(c.a),
            sock(c.b),
            c.packets_a_to_b,
            c.bytes_a_to_b,
            style.paint(Paint::Server, "<"),
            sock(c.b),
            sock(c.a),
            c.packets_b_to_a,
            c.bytes_b_to_a,
        ));
        let mut facts = vec![format!("state: {}", c.state.describe())];
        if c.transport == crate::wire::dissect::flow::Transport::Tcp {
            facts.push(if c.handshake_seen {
                "handshake captured".into()
            } else {
                "handshake not captured (joined mid-stream)".into()
            });
            facts.push(format!("retransmissions dropped: {}", c.retransmissions));
            facts.push(format!("out of order: {}", c.out_of_order));
            facts.push(format!("gaps: {} ({} bytes)", c.gaps, c.gap_bytes));
        }
        s.push_str(&style.paint(Paint::Dim, facts.join(", ")));
        if c.buffer_full > 0 {
            s.push('\n');
            s.push_str(&style.paint(
                Paint::Warn,
                format!(
                    "the out-of-order buffer was full {} times: netlab stopped waiting for the missing bytes, marked them as a gap and went on (--max-stream-buffer raises the bound)",
                    c.buffer_full
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_buffer_sizes_take_units() {
        assert_eq!(parse_bytes("65536").unwrap(), 65536);
        assert_eq!(parse_bytes("64k").unwrap(), 65536);
        assert_eq!(parse_bytes("4M").unwrap(), 4 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("0").unwrap(), 0);
        for bad in [
            "",
            "k",
            "1.5M",
            "2G",
            "99999999999999999999",
            "4 M",
            "-1",
            "3T",
        ] {
            let e = parse_bytes(bad).unwrap_err();
            assert!(crate::output::describe_fatal(&e).is_some(), "{bad}");
        }
    }

    #[test]
    fn conversations_are_named_by_number_or_ends() {
        assert_eq!(parse_which("3").unwrap(), Which::Id(3));
        let w = parse_which("127.0.0.1:40000-127.0.0.1:8000").unwrap();
        assert_eq!(
            w,
            Which::Ends(
                ("127.0.0.1".parse().unwrap(), 40000),
                ("127.0.0.1".parse().unwrap(), 8000)
            )
        );
        assert!(matches!(
            parse_which("[::1]:5-[::1]:6").unwrap(),
            Which::Ends(..)
        ));
        for bad in ["0", "x", "127.0.0.1-127.0.0.2", "1.2.3.4:5"] {
            let e = parse_which(bad).unwrap_err();
            assert!(crate::output::describe_fatal(&e).is_some(), "{bad}");
        }
    }
}
