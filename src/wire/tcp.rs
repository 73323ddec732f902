//! TCP segments (RFC 9293, which obsoletes RFC 793) and their options.
//!
//! OSI layer 4 (transport) · TCP/IP transport layer · PDU: **segment**.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-------------------------------+-------------------------------+
//! |          Source Port          |       Destination Port        |
//! +-------------------------------+-------------------------------+
//! |                        Sequence Number                        |
//! +---------------------------------------------------------------+
//! |                    Acknowledgment Number                      |
//! +-------+-------+-+-+-+-+-+-+-+-+-------------------------------+
//! |  Data |       |C|E|U|A|P|R|S|F|                               |
//! | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//! |       |       |R|E|G|K|H|T|N|N|                               |
//! +-------+-------+-+-+-+-+-+-+-+-+-------------------------------+
//! |           Checksum            |         Urgent Pointer        |
//! +-------------------------------+-------------------------------+
//! |                    Options (data offset > 5)                  |
//! +---------------------------------------------------------------+
//! ```
//!
//! The sequence number counts bytes, not segments. A SYN and a FIN each use up one
//! sequence number although they carry no data: that is why the handshake's SYN-ACK
//! acknowledges the client's initial sequence number *plus one*. Initial sequence numbers
//! are chosen unpredictably (RFC 9293 §3.4.1, RFC 6528) so an off-path attacker cannot
//! guess them; captures therefore often show *relative* numbers, counted from the ISN.

use super::checksum::{self, Checked};
use super::dissect::Field;
use super::text::{self, Text};
use super::{be16, be32, Error, FieldSpec, Result};
use crate::layers::Protocol;
use serde::Serialize;
use std::fmt;

pub mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const OFFSET_FLAGS: Range<usize> = 12..14;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
}

pub const MIN_HEADER_LEN: usize = 20;

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "src_port",
        span: field::SRC_PORT,
        about: "the sending socket's port",
    },
    FieldSpec {
        name: "dst_port",
        span: field::DST_PORT,
        about: "the receiving socket's port",
    },
    FieldSpec {
        name: "seq",
        span: field::SEQ,
        about: "sequence number of the first data byte (SYN and FIN use one number each)",
    },
    FieldSpec {
        name: "ack",
        span: field::ACK,
        about: "the next sequence number the sender expects to receive (valid when ACK is set)",
    },
    FieldSpec {
        name: "offset_flags",
        span: field::OFFSET_FLAGS,
        about: "header length in 32-bit words, then the flags CWR ECE URG ACK PSH RST SYN FIN",
    },
    FieldSpec {
        name: "window",
        span: field::WINDOW,
        about: "how many more bytes the sender can receive (scaled by the window scale option)",
    },
    FieldSpec {
        name: "checksum",
        span: field::CHECKSUM,
        about: "Internet checksum over a pseudo-header, the header and the data",
    },
    FieldSpec {
        name: "urgent",
        span: field::URGENT,
        about: "urgent pointer (valid when URG is set; rarely used)",
    },
];

/// The eight flag bits, as a byte: CWR ECE URG ACK PSH RST SYN FIN from high to low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Flags(pub u8);

impl Flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
    pub fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    pub fn ack(self) -> bool {
        self.has(Self::ACK)
    }
    pub fn fin(self) -> bool {
        self.has(Self::FIN)
    }
    pub fn rst(self) -> bool {
        self.has(Self::RST)
    }
    pub fn psh(self) -> bool {
        self.has(Self::PSH)
    }
}

impl Flags {
    const NAMES: [(u8, &'static str); 8] = [
        (Flags::SYN, "SYN"),
        (Flags::FIN, "FIN"),
        (Flags::RST, "RST"),
        (Flags::PSH, "PSH"),
        (Flags::ACK, "ACK"),
        (Flags::URG, "URG"),
        (Flags::ECE, "ECE"),
        (Flags::CWR, "CWR"),
    ];

    /// Append the set flags' names ("SYN ACK"), or "none".
    pub fn push_names(self, s: &mut String) {
        let start = s.len();
        for (bit, name) in Self::NAMES {
            if self.has(bit) {
                if s.len() != start {
                    s.push(' ');
                }
                s.push_str(name);
            }
        }
        if s.len() == start {
            s.push_str("none");
        }
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for (bit, name) in Self::NAMES {
            if self.has(bit) {
                if any {
                    f.write_str(" ")?;
                }
                f.write_str(name)?;
                any = true;
            }
        }
        if !any {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// The TCP options netlab understands, gathered from one header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Options {
    /// Maximum segment size (RFC 9293 §3.7.1), SYN only.
    pub mss: Option<u16>,
    /// Window scale shift count (RFC 7323 §2), SYN only.
    pub window_scale: Option<u8>,
    /// SACK permitted (RFC 2018), SYN only.
    pub sack_permitted: bool,
    /// SACK blocks (left edge, right edge), at most 4 fit.
    pub sack: [(u32, u32); 4],
    pub sack_count: u8,
    /// Timestamps (TSval, TSecr), RFC 7323 §3.
    pub timestamps: Option<(u32, u32)>,
}

impl Options {
    pub fn sack_blocks(&self) -> &[(u32, u32)] {
        &self.sack[..usize::from(self.sack_count)]
    }
}

/// One option as it sits in the header: kind, offset inside the header, length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption {
    pub kind: u8,
    pub at: usize,
    pub len: usize,
}

pub fn option_name(kind: u8) -> &'static str {
    match kind {
        0 => "end of option list",
        1 => "no-operation (padding)",
        2 => "maximum segment size",
        3 => "window scale",
        4 => "SACK permitted",
        5 => "SACK",
        8 => "timestamps",
        19 => "MD5 signature",
        28 => "user timeout",
        29 => "TCP authentication",
        30 => "multipath TCP",
        34 => "TCP fast open cookie",
        _ => "unknown option",
    }
}

/// Walk the option bytes. `base` is the options' offset inside the header.
pub fn walk_options(
    opts: &[u8],
    base: usize,
    mut each: impl FnMut(RawOption, &[u8]),
) -> Result<()> {
    let mut i = 0;
    while i < opts.len() {
        let kind = opts[i];
        if kind == 0 || kind == 1 {
            each(
                RawOption {
                    kind,
                    at: base + i,
                    len: 1,
                },
                &[],
            );
            i += 1;
            if kind == 0 {
                break; // the rest is padding
            }
            continue;
        }
        let Some(&len) = opts.get(i + 1) else {
            return Err(Error::Malformed {
                protocol: Protocol::Tcp,
                reason: "option length missing",
            });
        };
        let len = usize::from(len);
        if len < 2 || i + len > opts.len() {
            return Err(Error::Malformed {
                protocol: Protocol::Tcp,
                reason: "option length out of range",
            });
        }
        each(
            RawOption {
                kind,
                at: base + i,
                len,
            },
            &opts[i + 2..i + len],
        );
        i += len;
    }
    Ok(())
}

/// Gather the known options; malformed ones end the walk (what was read is kept).
pub fn parse_options(opts: &[u8]) -> Options {
    let mut o = Options::default();
    let _ = walk_options(opts, 0, |raw, data| match (raw.kind, data.len()) {
        (2, 2) => o.mss = Some(u16::from_be_bytes([data[0], data[1]])),
        (3, 1) => o.window_scale = Some(data[0]),
        (4, 0) => o.sack_permitted = true,
        (5, n) if n % 8 == 0 => {
            for block in data.chunks_exact(8).take(4) {
                o.sack[usize::from(o.sack_count)] = (be32(block, 0..4), be32(block, 4..8));
                o.sack_count += 1;
            }
        }
        (8, 8) => o.timestamps = Some((be32(data, 0..4), be32(data, 4..8))),
        _ => {}
    });
    o
}

/// Where the pseudo-header addresses come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pseudo {
    V4([u8; 4], [u8; 4]),
    V6([u8; 16], [u8; 16]),
}

impl Pseudo {
    pub fn sum(self, protocol: u8, len: u32) -> u32 {
        match self {
            Pseudo::V4(s, d) => checksum::pseudo_v4(s, d, protocol, len as u16), // IPv4 lengths fit 16 bits
            Pseudo::V6(s, d) => checksum::pseudo_v6(s, d, protocol, len),
        }
    }
}

/// A zero-copy view of a TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct Segment<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Segment<T> {
    /// The header, options included, must be present. After `Ok` no accessor panics.
    pub fn new_checked(buffer: T) -> Result<Segment<T>> {
        let b = buffer.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(Error::Truncated {
                protocol: Protocol::Tcp,
                needed: MIN_HEADER_LEN,
                got: b.len(),
            });
        }
        let hl = usize::from(b[12] >> 4) * 4;
        if hl < MIN_HEADER_LEN {
            return Err(Error::Malformed {
                protocol: Protocol::Tcp,
                reason: "data offset below 5 (20 bytes)",
            });
        }
        if b.len() < hl {
            return Err(Error::Truncated {
                protocol: Protocol::Tcp,
                needed: hl,
                got: b.len(),
            });
        }
        Ok(Segment { buffer })
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn src_port(&self) -> u16 {
        be16(self.b(), field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.b(), field::DST_PORT)
    }
    pub fn seq(&self) -> u32 {
        be32(self.b(), field::SEQ)
    }
    pub fn ack(&self) -> u32 {
        be32(self.b(), field::ACK)
    }
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[12] >> 4) * 4
    }
    pub fn flags(&self) -> Flags {
        Flags(self.b()[13])
    }
    pub fn window(&self) -> u16 {
        be16(self.b(), field::WINDOW)
    }
    pub fn checksum(&self) -> u16 {
        be16(self.b(), field::CHECKSUM)
    }
    pub fn urgent(&self) -> u16 {
        be16(self.b(), field::URGENT)
    }
    pub fn options(&self) -> &[u8] {
        &self.b()[MIN_HEADER_LEN..self.header_len()]
    }
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }
    /// `complete`: the capture holds the whole segment (else the sum cannot be checked).
    pub fn verify_checksum(&self, pseudo: Pseudo, complete: bool) -> Checked {
        if !complete {
            return Checked::Unverifiable;
        }
        let len = self.b().len() as u32; // bounded by the IP length field
        Checked::from_sum(
            self.checksum(),
            pseudo.sum(6, len) + checksum::sum(self.b()),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Repr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub header_len: usize,
    pub flags: Flags,
    pub window: u16,
    pub checksum: u16,
    pub checksum_check: Checked,
    pub urgent: u16,
    pub options: Options,
    /// Payload bytes the segment carried on the wire, captured or not (tcpdump's
    /// `length`, tshark's `tcp.len`).
    pub payload_len: usize,
}

impl Repr {
    /// `wire_len` is the segment's length as the IP header gives it, header included:
    /// more than `s` holds when the capture cut the packet at its snap length.
    // Once per packet, from `dissect`: a hint to inline it there, so the speed of reading
    // a capture does not depend on how rustc happens to split the crate into codegen units.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(
        s: &Segment<T>,
        pseudo: Pseudo,
        complete: bool,
        wire_len: usize,
    ) -> Repr {
        Repr {
            src_port: s.src_port(),
            dst_port: s.dst_port(),
            seq: s.seq(),
            ack: s.ack(),
            header_len: s.header_len(),
            flags: s.flags(),
            window: s.window(),
            checksum: s.checksum(),
            checksum_check: s.verify_checksum(pseudo, complete),
            urgent: s.urgent(),
            options: parse_options(s.options()),
            payload_len: s
                .payload()
                .len()
                .max(wire_len.saturating_sub(s.header_len())),
        }
    }

    pub fn fields(&self, header: &[u8]) -> Vec<Field> {
        let a = |i: usize| FIELDS[i].about;
        let mut v = vec![
            Field::new("src_port", text::num(self.src_port), field::SRC_PORT, a(0)),
            Field::new("dst_port", text::num(self.dst_port), field::DST_PORT, a(1)),
            Field::new("seq", text::num(self.seq), field::SEQ, a(2)),
            Field::new("ack", text::num(self.ack), field::ACK, a(3)),
            Field::new(
                "data_offset",
                Text::new()
                    .num((self.header_len / 4) as u64)
                    .str(" (")
                    .num(self.header_len as u64)
                    .str(" bytes)")
                    .into(),
                12..13,
                "header length in 32-bit words",
            ),
            Field::new(
                "flags",
                format!("0x{:02x} ({})", self.flags.0, self.flags),
                13..14,
                "CWR ECE URG ACK PSH RST SYN FIN",
            ),
            Field::new("window", text::num(self.window), field::WINDOW, a(5)),
            Field::new(
                "checksum",
                Text::new()
                    .hex16(self.checksum)
                    .str(": ")
                    .str(&self.checksum_check.describe(true))
                    .into(),
                field::CHECKSUM,
                a(6),
            ),
            Field::new("urgent", text::num(self.urgent), field::URGENT, a(7)),
        ];
        if let Some(opts) = header.get(MIN_HEADER_LEN..self.header_len) {
            let _ = walk_options(opts, MIN_HEADER_LEN, |raw, data| {
                let value = match (raw.kind, data.len()) {
                    (2, 2) => Text::new()
                        .str("MSS ")
                        .num(u16::from_be_bytes([data[0], data[1]]))
                        .into(),
                    (3, 1) => format!(
                        "window scale {} (multiply by {})",
                        data[0],
                        1u32 << data[0].min(14)
                    ),
                    (4, _) => "SACK permitted".into(),
                    (5, _) => {
                        let blocks: Vec<String> = data
                            .chunks_exact(8)
                            .map(|b| format!("{}-{}", be32(b, 0..4), be32(b, 4..8)))
                            .collect();
                        format!("SACK {}", blocks.join(" "))
                    }
                    (8, 8) => Text::new()
                        .str("timestamps val ")
                        .num(be32(data, 0..4))
                        .str(" ecr ")
                        .num(be32(data, 4..8))
                        .into(),
                    // NOPs come in every segment with timestamps: no formatter.
                    (k, _) => Text::new()
                        .num(k)
                        .str(" (")
                        .str(option_name(k))
                        .str(")")
                        .into(),
                };
                v.push(Field::new(
                    "option",
                    value,
                    raw.at..raw.at + raw.len,
                    option_name(raw.kind),
                ));
            });
        }
        v
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TCP {} → {} [{}] seq {}",
            self.src_port, self.dst_port, self.flags, self.seq
        )?;
        if self.flags.ack() {
            write!(f, " ack {}", self.ack)?;
        }
        write!(f, " win {} len {}", self.window, self.payload_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SYN as Linux sends it (`curl http://127.0.0.1:8000/`), checksum filled for
    /// 127.0.0.1 → 127.0.0.1.
    fn syn() -> Vec<u8> {
        let mut s = vec![
            0xa0, 0x1c, 0x1f, 0x40, // src port 40988 | dst port 8000
            0x5b, 0x3a, 0x4c, 0x11, // sequence number (the ISN)
            0x00, 0x00, 0x00, 0x00, // acknowledgment number: unused in a SYN
            0xa0, 0x02, 0xff, 0xd7, // data offset 10 (40 bytes) | SYN | window 65495
            0x00, 0x00, 0x00, 0x00, // checksum (filled below) | urgent pointer 0
            0x02, 0x04, 0xff, 0xd7, // MSS 65495
            0x04, 0x02, // SACK permitted
            0x08, 0x0a, 0x9a, 0x3b, 0x2c, 0x1d, 0x00, 0x00, 0x00, 0x00, // timestamps
            0x01, // NOP
            0x03, 0x03, 0x07, // window scale 7
        ];
        let lo = [127, 0, 0, 1];
        let c = !checksum::fold(Pseudo::V4(lo, lo).sum(6, s.len() as u32) + checksum::sum(&s));
        s[16..18].copy_from_slice(&c.to_be_bytes());
        s
    }

    #[test]
    fn deconstruct() {
        let s = syn();
        let seg = Segment::new_checked(&s[..]).unwrap();
        let lo = [127, 0, 0, 1];
        let r = Repr::parse(&seg, Pseudo::V4(lo, lo), true, s.len());
        assert_eq!(
            (r.src_port, r.dst_port, r.seq, r.header_len),
            (40988, 8000, 0x5b3a4c11, 40)
        );
        assert!(r.flags.syn() && !r.flags.ack());
        assert_eq!(r.checksum_check, Checked::Correct);
        assert_eq!(r.options.mss, Some(65495));
        assert_eq!(r.options.window_scale, Some(7));
        assert!(r.options.sack_permitted);
        assert_eq!(r.options.timestamps, Some((0x9a3b2c1d, 0)));
        assert_eq!(
            r.to_string(),
            "TCP 40988 → 8000 [SYN] seq 1530547217 win 65495 len 0"
        );
        let opts: Vec<_> = r
            .fields(&s)
            .into_iter()
            .filter(|f| f.name == "option")
            .collect();
        assert_eq!(opts.len(), 5);
        assert_eq!(opts[4].span, 37..40);
    }

    #[test]
    fn sack_blocks() {
        let o = parse_options(&[
            1, 1, 5, 18, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0, 40,
        ]);
        assert_eq!(o.sack_blocks(), &[(10, 20), (30, 40)]);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let s = syn();
        for n in 0..s.len() {
            assert!(
                Segment::new_checked(&s[..n]).is_err(),
                "prefix of {n} bytes"
            );
        }
        // Options cut mid-way are malformed, not a panic.
        for n in 0..20 {
            let _ = parse_options(&s[20..20 + n]);
        }
    }

    #[test]
    fn field_table_covers_the_header() {
        assert_eq!(
            FIELDS.iter().map(|f| f.span.len()).sum::<usize>(),
            MIN_HEADER_LEN
        );
    }
}
