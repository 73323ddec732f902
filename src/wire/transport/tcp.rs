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

use crate::layers::Protocol;
use crate::wire::checksum::{self, Checked, Pseudo};
use crate::wire::text::{self, Text};
use crate::wire::{be16, be32, Error, Field, FieldSpec, Result};
use serde::Serialize;
use std::fmt;

pub mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const OFFSET_FLAGS: Range<usize> = 12..14;
    /// The first byte of OFFSET_FLAGS: the data offset in its high four bits (the low
    /// four are reserved).
    pub const DATA_OFFSET: Range<usize> = 12..13;
    /// The second byte of OFFSET_FLAGS: the eight flag bits, CWR to FIN.
    pub const FLAGS: Range<usize> = 13..14;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
}

pub const MIN_HEADER_LEN: usize = field::URGENT.end;

/// The header's length in bytes, from the data offset: the high nibble of byte 12
/// counts 32-bit words (RFC 9293 §3.1). The caller has checked that byte is present.
fn data_offset_len(b: &[u8]) -> usize {
    usize::from(b[field::DATA_OFFSET.start] >> 4) * 4
}

/// TCP option kinds (RFC 9293 §3.1 and §3.2; the IANA "TCP Option Kind Numbers"
/// registry) and, for the options netlab decodes, the length their RFC gives: the
/// value of the length byte, which counts the kind and length bytes too.
pub mod option {
    use std::ops::Range;
    /// End of option list: one byte, no length; what follows is padding.
    pub const END: u8 = 0;
    /// No-operation: one byte, no length; aligns the next option.
    pub const NOP: u8 = 1;
    /// Maximum segment size (RFC 9293 §3.7.1), 16 bits, SYN only.
    pub const MSS: u8 = 2;
    pub const MSS_LEN: usize = 4;
    pub const MSS_VALUE: Range<usize> = 0..2;
    /// Window scale (RFC 7323 §2.2), an 8-bit shift count, SYN only.
    pub const WINDOW_SCALE: u8 = 3;
    pub const WINDOW_SCALE_LEN: usize = 3;
    /// SACK permitted (RFC 2018 §2), no data, SYN only.
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK_PERMITTED_LEN: usize = 2;
    /// SACK (RFC 2018 §3): blocks of two 32-bit sequence numbers, left and right edge.
    pub const SACK: u8 = 5;
    pub const SACK_BLOCK_LEN: usize = 8;
    pub const SACK_LEFT: Range<usize> = 0..4;
    pub const SACK_RIGHT: Range<usize> = 4..8;
    /// At most four blocks fit in the 40 bytes of options (RFC 2018 §3).
    pub const MAX_SACK_BLOCKS: usize = 4;
    /// Timestamps (RFC 7323 §3.2): TSval then TSecr, 32 bits each.
    pub const TIMESTAMPS: u8 = 8;
    pub const TIMESTAMPS_LEN: usize = 10;
    pub const TS_VAL: Range<usize> = 0..4;
    pub const TS_ECR: Range<usize> = 4..8;
    /// Every option but END and NOP starts with a kind byte and a length byte.
    pub const KIND_AND_LEN: usize = 2;
}

/// Every field of the fixed header the views show, in their order: name, bytes, meaning.
/// The data offset is the high 4 bits of byte 12 (the low 4 are reserved), the flags
/// byte 13.
pub const FIELDS: [FieldSpec; 9] = [
    FieldSpec::new("src_port", field::SRC_PORT, "the sending socket's port"),
    FieldSpec::new("dst_port", field::DST_PORT, "the receiving socket's port"),
    FieldSpec::new(
        "seq",
        field::SEQ,
        "sequence number of the first data byte (SYN and FIN use one number each)",
    ),
    FieldSpec::new(
        "ack",
        field::ACK,
        "the next sequence number the sender expects to receive (valid when ACK is set)",
    ),
    FieldSpec::new(
        "data_offset",
        field::DATA_OFFSET,
        "header length in 32-bit words",
    ),
    FieldSpec::new("flags", field::FLAGS, "CWR ECE URG ACK PSH RST SYN FIN"),
    FieldSpec::new(
        "window",
        field::WINDOW,
        "how many more bytes the sender can receive (scaled by the window scale option)",
    ),
    FieldSpec::new(
        "checksum",
        field::CHECKSUM,
        "Internet checksum over a pseudo-header, the header and the data",
    ),
    FieldSpec::new(
        "urgent",
        field::URGENT,
        "urgent pointer (valid when URG is set; rarely used)",
    ),
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
    pub sack: [(u32, u32); option::MAX_SACK_BLOCKS],
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
        option::END => "end of option list",
        option::NOP => "no-operation (padding)",
        option::MSS => "maximum segment size",
        option::WINDOW_SCALE => "window scale",
        option::SACK_PERMITTED => "SACK permitted",
        option::SACK => "SACK",
        option::TIMESTAMPS => "timestamps",
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
        if kind == option::END || kind == option::NOP {
            each(
                RawOption {
                    kind,
                    at: base + i,
                    len: 1,
                },
                &[],
            );
            i += 1;
            if kind == option::END {
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
        if len < option::KIND_AND_LEN || i + len > opts.len() {
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
            &opts[i + option::KIND_AND_LEN..i + len],
        );
        i += len;
    }
    Ok(())
}

/// One option's meaning. Kinds and lengths are matched here and nowhere else: the
/// gathered [`Options`] and the layer view's fields both start from this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    Mss(u16),
    WindowScale(u8),
    /// `exact`: the length byte is 2, as RFC 2018 §2 requires. The layer view names
    /// the option whatever its length; [`Options`] takes only an exact one.
    SackPermitted {
        exact: bool,
    },
    /// The blocks' bytes (see [`sack_edges`]); `exact`: a whole number of 8-byte blocks,
    /// which [`Options`] requires and the layer view does not.
    Sack {
        blocks: &'a [u8],
        exact: bool,
    },
    Timestamps {
        tsval: u32,
        tsecr: u32,
    },
    /// END, NOP, a kind netlab does not decode, or an MSS, window scale or timestamps
    /// option whose length is not its RFC's.
    Other(u8),
}

impl<'a> TcpOption<'a> {
    /// `data` is what follows the kind and length bytes, as [`walk_options`] hands it.
    pub fn decode(kind: u8, data: &'a [u8]) -> TcpOption<'a> {
        let len = option::KIND_AND_LEN + data.len();
        match (kind, len) {
            (option::MSS, option::MSS_LEN) => TcpOption::Mss(be16(data, option::MSS_VALUE)),
            (option::WINDOW_SCALE, option::WINDOW_SCALE_LEN) => TcpOption::WindowScale(data[0]),
            (option::SACK_PERMITTED, len) => TcpOption::SackPermitted {
                exact: len == option::SACK_PERMITTED_LEN,
            },
            (option::SACK, _) => TcpOption::Sack {
                blocks: data,
                exact: data.len().is_multiple_of(option::SACK_BLOCK_LEN),
            },
            (option::TIMESTAMPS, option::TIMESTAMPS_LEN) => TcpOption::Timestamps {
                tsval: be32(data, option::TS_VAL),
                tsecr: be32(data, option::TS_ECR),
            },
            (kind, _) => TcpOption::Other(kind),
        }
    }
}

/// The (left edge, right edge) pairs of a SACK option's data; a partial last block is
/// left out.
pub fn sack_edges(blocks: &[u8]) -> impl Iterator<Item = (u32, u32)> + '_ {
    blocks
        .chunks_exact(option::SACK_BLOCK_LEN)
        .map(|b| (be32(b, option::SACK_LEFT), be32(b, option::SACK_RIGHT)))
}

/// Gather the known options; malformed ones end the walk (what was read is kept).
pub fn parse_options(opts: &[u8]) -> Options {
    let mut o = Options::default();
    let _ = walk_options(opts, 0, |raw, data| {
        match TcpOption::decode(raw.kind, data) {
            TcpOption::Mss(mss) => o.mss = Some(mss),
            TcpOption::WindowScale(shift) => o.window_scale = Some(shift),
            TcpOption::SackPermitted { exact: true } => o.sack_permitted = true,
            TcpOption::Sack {
                blocks,
                exact: true,
            } => {
                for edges in sack_edges(blocks).take(option::MAX_SACK_BLOCKS) {
                    o.sack[usize::from(o.sack_count)] = edges;
                    o.sack_count += 1;
                }
            }
            TcpOption::Timestamps { tsval, tsecr } => o.timestamps = Some((tsval, tsecr)),
            _ => {}
        }
    });
    o
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
        let hl = data_offset_len(b);
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
        data_offset_len(self.b())
    }
    pub fn flags(&self) -> Flags {
        Flags(self.b()[field::FLAGS.start])
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
        let [src_port, dst_port, seq, ack, data_offset, flags, window, checksum, urgent] = &FIELDS;
        let mut v = vec![
            src_port.with(text::num(self.src_port)),
            dst_port.with(text::num(self.dst_port)),
            seq.with(text::num(self.seq)),
            ack.with(text::num(self.ack)),
            data_offset.with(
                Text::new()
                    .num((self.header_len / 4) as u64)
                    .str(" (")
                    .num(self.header_len as u64)
                    .str(" bytes)")
                    .into(),
            ),
            flags.with(format!("0x{:02x} ({})", self.flags.0, self.flags)),
            window.with(text::num(self.window)),
            checksum.with(
                Text::new()
                    .hex16(self.checksum)
                    .str(": ")
                    .str(&self.checksum_check.describe(true))
                    .into(),
            ),
            urgent.with(text::num(self.urgent)),
        ];
        if let Some(opts) = header.get(MIN_HEADER_LEN..self.header_len) {
            let _ = walk_options(opts, MIN_HEADER_LEN, |raw, data| {
                let value = match TcpOption::decode(raw.kind, data) {
                    TcpOption::Mss(mss) => Text::new().str("MSS ").num(mss).into(),
                    TcpOption::WindowScale(shift) => format!(
                        "window scale {} (multiply by {})",
                        shift,
                        1u32 << shift.min(14)
                    ),
                    TcpOption::SackPermitted { .. } => "SACK permitted".into(),
                    TcpOption::Sack { blocks, .. } => {
                        let blocks: Vec<String> = sack_edges(blocks)
                            .map(|(left, right)| format!("{left}-{right}"))
                            .collect();
                        format!("SACK {}", blocks.join(" "))
                    }
                    TcpOption::Timestamps { tsval, tsecr } => Text::new()
                        .str("timestamps val ")
                        .num(tsval)
                        .str(" ecr ")
                        .num(tsecr)
                        .into(),
                    // NOPs come in every segment with timestamps: no formatter.
                    TcpOption::Other(k) => Text::new()
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
    fn option_lengths_are_the_rfcs() {
        let mss = TcpOption::decode(option::MSS, &[0x05, 0xb4]);
        assert_eq!(mss, TcpOption::Mss(1460));
        // A known kind with the wrong length is named, not decoded.
        let short = TcpOption::decode(option::MSS, &[0x05]);
        assert_eq!(short, TcpOption::Other(option::MSS));
        let ts = TcpOption::decode(option::TIMESTAMPS, &[0; 4]);
        assert_eq!(ts, TcpOption::Other(option::TIMESTAMPS));
        let sp = TcpOption::decode(option::SACK_PERMITTED, &[1]);
        assert_eq!(sp, TcpOption::SackPermitted { exact: false });
        // The gathered options keep only what has its RFC's length.
        let o = parse_options(&[4, 3, 0, 5, 6, 0, 0, 0, 1]);
        assert!(!o.sack_permitted && o.sack_blocks().is_empty());
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
        crate::wire::field::assert_table_covers(&FIELDS, MIN_HEADER_LEN);
    }
}
