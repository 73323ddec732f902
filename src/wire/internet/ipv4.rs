//! IPv4 packets (RFC 791).
//!
//! OSI layer 3 (network) · TCP/IP internet layer · PDU: **packet**.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-------+-------+-----------+---+-------------------------------+
//! |Version|  IHL  |   DSCP    |ECN|         Total Length          |
//! +-------+-------+-----------+---+-----+-------------------------+
//! |        Identification         |Flags|     Fragment Offset     |
//! +---------------+---------------+-----+-------------------------+
//! |  Time to Live |    Protocol   |        Header Checksum        |
//! +---------------+---------------+-------------------------------+
//! |                        Source Address                         |
//! +---------------------------------------------------------------+
//! |                     Destination Address                       |
//! +---------------------------------------------------------------+
//! |                 Options (IHL > 5)             |    Padding    |
//! +---------------------------------------------------------------+
//! ```
//!
//! The header checksum covers the header only (RFC 791 §3.1); it is recomputed at every
//! router because the TTL changes. Unlike TCP and UDP checksums, Linux always fills it in,
//! even on loopback, so a bad IPv4 header checksum means a damaged packet.

use crate::layers::Protocol;
use crate::wire::checksum::{self, Checked};
use crate::wire::text::{self, Text};
use crate::wire::{be16, Error, Field, FieldSpec, Result};
use core::net::Ipv4Addr;
use serde::Serialize;
use std::fmt;

pub mod field {
    use std::ops::Range;
    pub const VER_IHL: Range<usize> = 0..1;
    pub const DSCP_ECN: Range<usize> = 1..2;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: Range<usize> = 8..9;
    pub const PROTOCOL: Range<usize> = 9..10;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

/// Without options.
pub const MIN_HEADER_LEN: usize = field::DST.end;

/// The version, the high nibble of the first byte (RFC 791 §3.1).
fn version(b: &[u8]) -> u8 {
    b[field::VER_IHL.start] >> 4
}

/// The header's length in bytes: IHL, the low nibble of the first byte, counts 32-bit
/// words. The caller has checked that byte is present.
fn ihl_len(b: &[u8]) -> usize {
    usize::from(b[field::VER_IHL.start] & 0x0f) * 4
}

/// Option kinds with a meaning to the walk itself (RFC 791 §3.1): both are one byte,
/// with no length byte; every other option has a kind byte and a length byte.
pub mod option {
    pub const END: u8 = 0;
    pub const NOP: u8 = 1;
    pub const KIND_AND_LEN: usize = 2;
}

/// Every field of the fixed header the views show, in their order: name, bytes, meaning.
/// Fields that share bytes (version and IHL, DSCP and ECN, flags and fragment offset)
/// share a span.
pub const FIELDS: [FieldSpec; 13] = [
    FieldSpec::new("version", field::VER_IHL, "IP version"),
    FieldSpec::new(
        "ihl",
        field::VER_IHL,
        "version (4) and header length in 32-bit words (5 = 20 bytes, no options)",
    ),
    FieldSpec::new(
        "dscp",
        field::DSCP_ECN,
        "differentiated services code point (priority) and explicit congestion notification",
    ),
    FieldSpec::new(
        "ecn",
        field::DSCP_ECN,
        "differentiated services code point (priority) and explicit congestion notification",
    ),
    FieldSpec::new(
        "total_length",
        field::LENGTH,
        "header plus payload, in bytes",
    ),
    FieldSpec::new(
        "identification",
        field::IDENT,
        "labels the fragments of one original packet",
    ),
    FieldSpec::new(
        "flags",
        field::FLAGS_FRAG,
        "DF (don't fragment), MF (more fragments), and where this fragment goes, in 8-byte units",
    ),
    FieldSpec::new(
        "fragment_offset",
        field::FLAGS_FRAG,
        "where this fragment's data goes in the original payload, counted in 8-byte units",
    ),
    FieldSpec::new(
        "ttl",
        field::TTL,
        "time to live: each router subtracts 1 and drops the packet at 0",
    ),
    FieldSpec::new(
        "protocol",
        field::PROTOCOL,
        "what the payload is: 1 ICMP, 6 TCP, 17 UDP",
    ),
    FieldSpec::new(
        "header_checksum",
        field::CHECKSUM,
        "Internet checksum over the header only",
    ),
    FieldSpec::new("source", field::SRC, "source IPv4 address"),
    FieldSpec::new("destination", field::DST, "destination IPv4 address"),
];

/// IP protocol numbers (IANA), shared by IPv4's protocol field and IPv6's next header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IpProtocol {
    HopByHop,
    Icmp,
    Tcp,
    Udp,
    Ipv6Route,
    Ipv6Frag,
    Icmpv6,
    Ipv6NoNxt,
    Ipv6Opts,
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(v: u8) -> Self {
        match v {
            0 => IpProtocol::HopByHop,
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            43 => IpProtocol::Ipv6Route,
            44 => IpProtocol::Ipv6Frag,
            58 => IpProtocol::Icmpv6,
            59 => IpProtocol::Ipv6NoNxt,
            60 => IpProtocol::Ipv6Opts,
            o => IpProtocol::Unknown(o),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(v: IpProtocol) -> u8 {
        match v {
            IpProtocol::HopByHop => 0,
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Ipv6Route => 43,
            IpProtocol::Ipv6Frag => 44,
            IpProtocol::Icmpv6 => 58,
            IpProtocol::Ipv6NoNxt => 59,
            IpProtocol::Ipv6Opts => 60,
            IpProtocol::Unknown(o) => o,
        }
    }
}

impl IpProtocol {
    pub fn name(self) -> &'static str {
        match self {
            IpProtocol::HopByHop => "IPv6 hop-by-hop options",
            IpProtocol::Icmp => "ICMP",
            IpProtocol::Tcp => "TCP",
            IpProtocol::Udp => "UDP",
            IpProtocol::Ipv6Route => "IPv6 routing header",
            IpProtocol::Ipv6Frag => "IPv6 fragment header",
            IpProtocol::Icmpv6 => "ICMPv6",
            IpProtocol::Ipv6NoNxt => "no next header",
            IpProtocol::Ipv6Opts => "IPv6 destination options",
            IpProtocol::Unknown(_) => "unknown",
        }
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", u8::from(*self), self.name())
    }
}

/// A zero-copy view of an IPv4 header (and the payload behind it).
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Strict: the whole packet the total-length field promises must be present.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_header_checked(buffer)?;
        let got = p.buffer.as_ref().len();
        let claimed = usize::from(p.total_length());
        if claimed > got {
            return Err(Error::BadLength {
                protocol: Protocol::Ipv4,
                claimed,
                available: got,
            });
        }
        Ok(p)
    }

    /// Lenient, for captures cut short by a snap length: only the header must be present.
    /// After `Ok`, no accessor can panic; [`Packet::payload`] returns what was captured.
    pub fn new_header_checked(buffer: T) -> Result<Packet<T>> {
        let b = buffer.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(Error::Truncated {
                protocol: Protocol::Ipv4,
                needed: MIN_HEADER_LEN,
                got: b.len(),
            });
        }
        if version(b) != 4 {
            return Err(Error::Malformed {
                protocol: Protocol::Ipv4,
                reason: "version field is not 4",
            });
        }
        let hl = ihl_len(b);
        // RFC 791 §3.1: "the minimum value for a correct header is 5" (words).
        if hl < MIN_HEADER_LEN {
            return Err(Error::Malformed {
                protocol: Protocol::Ipv4,
                reason: "IHL below 5 (20 bytes)",
            });
        }
        if b.len() < hl {
            return Err(Error::Truncated {
                protocol: Protocol::Ipv4,
                needed: hl,
                got: b.len(),
            });
        }
        if usize::from(be16(b, field::LENGTH)) < hl {
            return Err(Error::Malformed {
                protocol: Protocol::Ipv4,
                reason: "total length is shorter than the header",
            });
        }
        Ok(Packet { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn header_len(&self) -> usize {
        ihl_len(self.b())
    }
    /// The high six bits of the second byte (RFC 2474).
    pub fn dscp(&self) -> u8 {
        self.b()[field::DSCP_ECN.start] >> 2
    }
    /// The low two bits of the second byte (RFC 3168).
    pub fn ecn(&self) -> u8 {
        self.b()[field::DSCP_ECN.start] & 0x03
    }
    pub fn total_length(&self) -> u16 {
        be16(self.b(), field::LENGTH)
    }
    pub fn ident(&self) -> u16 {
        be16(self.b(), field::IDENT)
    }
    // The three flags are the top bits of FLAGS_FRAG: reserved, DF, MF.
    pub fn dont_frag(&self) -> bool {
        self.b()[field::FLAGS_FRAG.start] & 0x40 != 0
    }
    pub fn more_frags(&self) -> bool {
        self.b()[field::FLAGS_FRAG.start] & 0x20 != 0
    }
    pub fn reserved_flag(&self) -> bool {
        self.b()[field::FLAGS_FRAG.start] & 0x80 != 0
    }
    /// In bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (be16(self.b(), field::FLAGS_FRAG) & 0x1fff) * 8
    }
    pub fn ttl(&self) -> u8 {
        self.b()[field::TTL.start]
    }
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol::from(self.b()[field::PROTOCOL.start])
    }
    pub fn checksum(&self) -> u16 {
        be16(self.b(), field::CHECKSUM)
    }
    pub fn src_addr(&self) -> [u8; 4] {
        let a = &self.b()[field::SRC];
        [a[0], a[1], a[2], a[3]]
    }
    pub fn dst_addr(&self) -> [u8; 4] {
        let a = &self.b()[field::DST];
        [a[0], a[1], a[2], a[3]]
    }
    pub fn options(&self) -> &[u8] {
        &self.b()[MIN_HEADER_LEN..self.header_len()]
    }
    /// The payload as captured: up to total length, or less when the capture was cut.
    pub fn payload(&self) -> &[u8] {
        let end = usize::from(self.total_length()).min(self.b().len());
        &self.b()[self.header_len()..end]
    }
    pub fn verify_checksum(&self) -> Checked {
        Checked::from_sum(
            self.checksum(),
            checksum::sum(&self.b()[..self.header_len()]),
        )
    }
}

/// One IPv4 option (RFC 791 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IpOption {
    pub kind: u8,
    /// Offset inside the header and length in bytes.
    pub at: usize,
    pub len: usize,
}

impl IpOption {
    pub fn name(&self) -> &'static str {
        match self.kind {
            option::END => "end of option list",
            option::NOP => "no operation (padding)",
            7 => "record route",
            68 => "timestamp",
            130 => "security",
            131 => "loose source route",
            137 => "strict source route",
            148 => "router alert",
            _ => "unknown option",
        }
    }
}

/// Walk an options area. Stops at end-of-list or at a malformed length.
pub fn walk_options(opts: &[u8], base: usize, mut each: impl FnMut(IpOption)) -> Result<()> {
    let mut i = 0;
    while i < opts.len() {
        let kind = opts[i];
        if kind == option::END || kind == option::NOP {
            each(IpOption {
                kind,
                at: base + i,
                len: 1,
            });
            i += 1;
            if kind == option::END {
                break;
            }
            continue;
        }
        let Some(&len) = opts.get(i + 1) else {
            return Err(Error::Malformed {
                protocol: Protocol::Ipv4,
                reason: "option length missing",
            });
        };
        let len = usize::from(len);
        if len < option::KIND_AND_LEN || i + len > opts.len() {
            return Err(Error::Malformed {
                protocol: Protocol::Ipv4,
                reason: "option length out of range",
            });
        }
        each(IpOption {
            kind,
            at: base + i,
            len,
        });
        i += len;
    }
    Ok(())
}

/// What an IPv4 header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Repr {
    pub header_len: usize,
    pub dscp: u8,
    pub ecn: u8,
    pub total_length: u16,
    pub ident: u16,
    pub dont_frag: bool,
    pub more_frags: bool,
    /// In bytes.
    pub frag_offset: u16,
    pub ttl: u8,
    pub protocol: IpProtocol,
    pub checksum: u16,
    pub checksum_check: Checked,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
}

impl Repr {
    // Once per packet, from `dissect`: a hint to inline it there, so the speed of reading
    // a capture does not depend on how rustc happens to split the crate into codegen units.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            header_len: p.header_len(),
            dscp: p.dscp(),
            ecn: p.ecn(),
            total_length: p.total_length(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
            more_frags: p.more_frags(),
            frag_offset: p.frag_offset(),
            ttl: p.ttl(),
            protocol: p.protocol(),
            checksum: p.checksum(),
            checksum_check: p.verify_checksum(),
            src: Ipv4Addr::from(p.src_addr()),
            dst: Ipv4Addr::from(p.dst_addr()),
        }
    }

    pub fn is_fragment(&self) -> bool {
        self.more_frags || self.frag_offset != 0
    }

    /// Field list for views; `header` is the header's bytes (for the options).
    pub fn fields(&self, header: &[u8]) -> Vec<Field> {
        let [version, ihl, dscp, ecn, length, ident, flags, frag, ttl, proto, checksum, src, dst] =
            &FIELDS;
        let mut set = Vec::new();
        if self.dont_frag {
            set.push("DF");
        }
        if self.more_frags {
            set.push("MF");
        }
        let mut v = vec![
            version.with("4".into()),
            ihl.with(
                Text::new()
                    .num((self.header_len / 4) as u64)
                    .str(" (")
                    .num(self.header_len as u64)
                    .str(" bytes)")
                    .into(),
            ),
            dscp.with(text::num(self.dscp)),
            ecn.with(text::num(self.ecn)),
            length.with(text::num(self.total_length)),
            ident.with(
                Text::new()
                    .hex16(self.ident)
                    .str(" (")
                    .num(self.ident)
                    .str(")")
                    .into(),
            ),
            flags.with(if set.is_empty() {
                "none".into()
            } else {
                set.join(" ")
            }),
            frag.with(
                Text::new()
                    .num(self.frag_offset / 8)
                    .str(" (x 8 = byte ")
                    .num(self.frag_offset)
                    .str(")")
                    .into(),
            ),
            ttl.with(text::num(self.ttl)),
            proto.with(
                Text::new()
                    .num(u8::from(self.protocol))
                    .str(" (")
                    .str(self.protocol.name())
                    .str(")")
                    .into(),
            ),
            checksum.with(
                Text::new()
                    .hex16(self.checksum)
                    .str(": ")
                    .str(&self.checksum_check.describe(false))
                    .into(),
            ),
            src.with(text::ipv4(self.src)),
            dst.with(text::ipv4(self.dst)),
        ];
        if let Some(opts) = header.get(MIN_HEADER_LEN..self.header_len) {
            let _ = walk_options(opts, MIN_HEADER_LEN, |o| {
                v.push(Field::new(
                    "option",
                    format!("{} ({})", o.kind, o.name()),
                    o.at..o.at + o.len,
                    "an IPv4 option",
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
            "IPv4 {} → {} {} ttl {} id {} len {}",
            self.src,
            self.dst,
            self.protocol.name(),
            self.ttl,
            self.ident,
            self.total_length
        )?;
        if self.dont_frag {
            f.write_str(" DF")?;
        }
        if self.is_fragment() {
            write!(
                f,
                " fragment offset {}{}",
                self.frag_offset,
                if self.more_frags { " MF" } else { "" }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// STYLE.md's loopback UDP "hi" packet (IPv4 part), checksum verified independently.
    const UDP_HI: [u8; 30] = [
        0x45, 0x00, 0x00, 0x1e, // version 4, IHL 5 | DSCP/ECN 0 | total length 30
        0x12, 0x34, 0x40, 0x00, // identification 0x1234 | DF, offset 0
        0x40, 0x11, 0x2a, 0x99, // TTL 64 | protocol 17 UDP | header checksum
        0x7f, 0x00, 0x00, 0x01, // source 127.0.0.1
        0x7f, 0x00, 0x00, 0x01, // destination 127.0.0.1
        0x9c, 0x40, 0x23, 0x28, 0x00, 0x0a, 0xda, 0x05, 0x68, 0x69, // UDP
    ];

    /// A header with options: router alert (4 bytes), as IGMP sends it; built by hand.
    fn with_router_alert() -> Vec<u8> {
        let mut p = vec![
            0x46, 0xc0, 0x00, 0x18, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0x00, 0x00, 10, 0, 0, 1,
            224, 0, 0, 22, 0x94, 0x04, 0x00, 0x00,
        ];
        let c = checksum::checksum(&p);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&UDP_HI[..]).unwrap();
        let r = Repr::parse(&p);
        assert_eq!(
            (r.header_len, r.total_length, r.ident, r.ttl),
            (20, 30, 0x1234, 64)
        );
        assert!(r.dont_frag && !r.more_frags && r.frag_offset == 0);
        assert_eq!(r.protocol, IpProtocol::Udp);
        assert_eq!(r.checksum_check, Checked::Correct);
        assert_eq!(p.payload().len(), 10);
        assert_eq!(
            r.to_string(),
            "IPv4 127.0.0.1 → 127.0.0.1 UDP ttl 64 id 4660 len 30 DF"
        );
    }

    #[test]
    fn options_are_walked() {
        let p = with_router_alert();
        let pk = Packet::new_checked(&p[..]).unwrap();
        let r = Repr::parse(&pk);
        assert_eq!(r.header_len, 24);
        assert_eq!(r.checksum_check, Checked::Correct);
        let fields = r.fields(&p);
        let opt = fields.iter().find(|f| f.name == "option").unwrap();
        assert_eq!(opt.value, "148 (router alert)");
        assert_eq!(opt.span, 20..24);
    }

    #[test]
    fn bad_checksum_is_reported_not_rejected() {
        let mut p = UDP_HI;
        p[8] = 0x3f; // TTL changed without fixing the checksum
        let r = Repr::parse(&Packet::new_checked(&p[..]).unwrap());
        assert!(matches!(
            r.checksum_check,
            Checked::Incorrect { found: 0x2a99, .. }
        ));
    }

    #[test]
    fn fragment_fields() {
        let mut p = UDP_HI;
        p[6] = 0x20; // MF
        p[7] = 0xb9; // offset 185 units = 1480 bytes
        let r = Repr::parse(&Packet::new_checked(&p[..]).unwrap());
        assert!(r.more_frags && r.is_fragment());
        assert_eq!(r.frag_offset, 1480);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for n in 0..UDP_HI.len() {
            assert!(
                Packet::new_checked(&UDP_HI[..n]).is_err(),
                "prefix of {n} bytes"
            );
        }
        let p = with_router_alert();
        for n in 0..p.len() {
            assert!(Packet::new_checked(&p[..n]).is_err(), "prefix of {n} bytes");
        }
    }

    #[test]
    fn field_table_covers_the_header() {
        crate::wire::field::assert_table_covers(&FIELDS, MIN_HEADER_LEN);
    }
}
