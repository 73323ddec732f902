//! IPv6 packets (RFC 8200) and the extension headers between the fixed header and the
//! upper-layer protocol.
//!
//! OSI layer 3 (network) · TCP/IP internet layer · PDU: **packet**.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-------+---------------+---------------------------------------+
//! |Version| Traffic Class |              Flow Label               |
//! +-------+---------------+-------+---------------+---------------+
//! |         Payload Length        |  Next Header  |   Hop Limit   |
//! +-------------------------------+---------------+---------------+
//! |                  Source Address (128 bits)                    |
//! |                Destination Address (128 bits)                 |
//! +---------------------------------------------------------------+
//! ```
//!
//! There is no header checksum (the link and transport layers have their own) and no
//! fragmentation fields: those moved into optional *extension headers*, chained by their
//! "next header" fields. RFC 8200 §4.1 gives their order: hop-by-hop options, destination
//! options, routing, fragment, destination options again, then the upper layer.
//!
//! ```text
//! generic extension header (hop-by-hop 0, routing 43, destination options 60):
//! | next header | hdr ext len (8-byte units, not counting the first 8) | data ... |
//! fragment header (44), always 8 bytes:
//! | next header | reserved | fragment offset (13 bits) | res | M | identification (32) |
//! ```

use crate::layers::Protocol;
use crate::wire::internet::ipv4::IpProtocol;
use crate::wire::{be16, be32, Error, Field, FieldSpec, Result};
use core::net::Ipv6Addr;
use serde::Serialize;
use std::fmt;

pub mod field {
    use std::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    /// The version is the high nibble of the first byte.
    pub const VERSION: Range<usize> = 0..1;
    /// The traffic class straddles the first two bytes, after the version nibble.
    pub const VER_TC: Range<usize> = 0..2;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: Range<usize> = 6..7;
    pub const HOP_LIMIT: Range<usize> = 7..8;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

pub const HEADER_LEN: usize = field::DST.end;

/// Offsets inside an extension header (RFC 8200 §4.3-§4.6), from its first byte.
pub mod ext_field {
    use std::ops::Range;
    pub const NEXT_HEADER: Range<usize> = 0..1;
    /// Length in 8-byte units, not counting the first 8 (absent from the fragment header).
    pub const HDR_EXT_LEN: Range<usize> = 1..2;
    /// Hop-by-hop and destination options: type-length-value options from here.
    pub const OPTIONS_START: usize = 2;
    // Routing header (§4.4).
    pub const ROUTING_TYPE: Range<usize> = 2..3;
    pub const SEGMENTS_LEFT: Range<usize> = 3..4;
    pub const ROUTING_DATA_START: usize = 4;
    // Fragment header (§4.5): offset in 8-byte units, two reserved bits, M.
    pub const FRAG_OFFSET_M: Range<usize> = 2..4;
    pub const FRAG_IDENT: Range<usize> = 4..8;
}

/// Every extension header is a multiple of 8 bytes, and at least 8.
pub const EXT_UNIT: usize = 8;

/// Every field of the fixed header the views show, in their order: name, bytes, meaning.
/// Version, traffic class and flow label share the first 4 bytes (4, 8 and 20 bits).
pub const FIELDS: [FieldSpec; 8] = [
    FieldSpec::new("version", field::VERSION, "IP version"),
    FieldSpec::new(
        "traffic_class",
        field::VER_TC_FLOW,
        "priority and congestion notification",
    ),
    FieldSpec::new(
        "flow_label",
        field::VER_TC_FLOW,
        "marks packets that belong to one flow (0 = none)",
    ),
    FieldSpec::new(
        "payload_length",
        field::PAYLOAD_LEN,
        "bytes after this 40-byte header, extension headers included",
    ),
    FieldSpec::new(
        "next_header",
        field::NEXT_HEADER,
        "what follows: an extension header or the upper layer (6 TCP, 17 UDP, 58 ICMPv6)",
    ),
    FieldSpec::new(
        "hop_limit",
        field::HOP_LIMIT,
        "IPv6's TTL: each router subtracts 1",
    ),
    FieldSpec::new("source", field::SRC, "source IPv6 address"),
    FieldSpec::new("destination", field::DST, "destination IPv6 address"),
];

fn addr(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    Ipv6Addr::from(a)
}

/// A zero-copy view of the fixed IPv6 header.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Strict: the payload length's bytes must all be present.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_header_checked(buffer)?;
        let claimed = HEADER_LEN + usize::from(p.payload_len());
        let available = p.buffer.as_ref().len();
        if claimed > available {
            return Err(Error::BadLength {
                protocol: Protocol::Ipv6,
                claimed,
                available,
            });
        }
        Ok(p)
    }

    /// Lenient, for captures cut by a snap length: only the fixed header must be present.
    pub fn new_header_checked(buffer: T) -> Result<Packet<T>> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated {
                protocol: Protocol::Ipv6,
                needed: HEADER_LEN,
                got: b.len(),
            });
        }
        if b[field::VERSION.start] >> 4 != 6 {
            return Err(Error::Malformed {
                protocol: Protocol::Ipv6,
                reason: "version field is not 6",
            });
        }
        Ok(Packet { buffer })
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn traffic_class(&self) -> u8 {
        ((be16(self.b(), field::VER_TC) >> 4) & 0xff) as u8 // 8 bits after the version nibble
    }
    pub fn flow_label(&self) -> u32 {
        be32(self.b(), field::VER_TC_FLOW) & 0x000f_ffff
    }
    pub fn payload_len(&self) -> u16 {
        be16(self.b(), field::PAYLOAD_LEN)
    }
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.b()[field::NEXT_HEADER.start])
    }
    pub fn hop_limit(&self) -> u8 {
        self.b()[field::HOP_LIMIT.start]
    }
    pub fn src_addr(&self) -> Ipv6Addr {
        addr(&self.b()[field::SRC])
    }
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr(&self.b()[field::DST])
    }
    /// Everything after the fixed header, as captured (up to the payload length).
    pub fn payload(&self) -> &[u8] {
        let end = (HEADER_LEN + usize::from(self.payload_len())).min(self.b().len());
        &self.b()[HEADER_LEN..end]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Repr {
    pub traffic_class: u8,
    pub flow_label: u32,
    pub payload_len: u16,
    pub next_header: IpProtocol,
    pub hop_limit: u8,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
            payload_len: p.payload_len(),
            next_header: p.next_header(),
            hop_limit: p.hop_limit(),
            src: p.src_addr(),
            dst: p.dst_addr(),
        }
    }
    pub fn fields(&self) -> Vec<Field> {
        let [version, traffic_class, flow_label, payload_length, next_header, hop_limit, src, dst] =
            &FIELDS;
        vec![
            version.with("6".into()),
            traffic_class.with(self.traffic_class.to_string()),
            flow_label.with(format!("0x{:05x}", self.flow_label)),
            payload_length.with(self.payload_len.to_string()),
            next_header.with(self.next_header.to_string()),
            hop_limit.with(self.hop_limit.to_string()),
            src.with(self.src.to_string()),
            dst.with(self.dst.to_string()),
        ]
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPv6 {} → {} next {} hop limit {} payload {}",
            self.src,
            self.dst,
            self.next_header.name(),
            self.hop_limit,
            self.payload_len
        )
    }
}

/// Is this next-header value an extension header netlab walks?
pub fn is_extension(p: IpProtocol) -> bool {
    matches!(
        p,
        IpProtocol::HopByHop | IpProtocol::Ipv6Route | IpProtocol::Ipv6Frag | IpProtocol::Ipv6Opts
    )
}

/// One extension header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExtRepr {
    /// Which extension header this is.
    pub kind: IpProtocol,
    pub next_header: IpProtocol,
    /// Length in bytes, the first 8 included.
    pub len: usize,
    /// Routing header: routing type and segments left.
    pub routing: Option<(u8, u8)>,
    /// Fragment header: offset in bytes, more fragments, identification.
    pub fragment: Option<Fragment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fragment {
    pub offset: u16,
    pub more: bool,
    pub ident: u32,
}

impl ExtRepr {
    /// Parse the extension header of kind `kind` at the start of `b`.
    pub fn parse(kind: IpProtocol, b: &[u8]) -> Result<ExtRepr> {
        if b.len() < EXT_UNIT {
            return Err(Error::Truncated {
                protocol: Protocol::Ipv6,
                needed: EXT_UNIT,
                got: b.len(),
            });
        }
        let next_header = IpProtocol::from(b[ext_field::NEXT_HEADER.start]);
        if kind == IpProtocol::Ipv6Frag {
            let off = be16(b, ext_field::FRAG_OFFSET_M);
            return Ok(ExtRepr {
                kind,
                next_header,
                len: EXT_UNIT,
                routing: None,
                fragment: Some(Fragment {
                    offset: off & 0xfff8,
                    more: off & 1 != 0,
                    ident: be32(b, ext_field::FRAG_IDENT),
                }),
            });
        }
        let len = EXT_UNIT + usize::from(b[ext_field::HDR_EXT_LEN.start]) * EXT_UNIT;
        if b.len() < len {
            return Err(Error::Truncated {
                protocol: Protocol::Ipv6,
                needed: len,
                got: b.len(),
            });
        }
        let routing = (kind == IpProtocol::Ipv6Route).then(|| {
            (
                b[ext_field::ROUTING_TYPE.start],
                b[ext_field::SEGMENTS_LEFT.start],
            )
        });
        Ok(ExtRepr {
            kind,
            next_header,
            len,
            routing,
            fragment: None,
        })
    }

    pub fn fields(&self) -> Vec<Field> {
        let mut v = vec![Field::new(
            "next_header",
            self.next_header.to_string(),
            ext_field::NEXT_HEADER,
            "what follows this extension header",
        )];
        match (self.fragment, self.routing) {
            (Some(fr), _) => {
                v.push(Field::new(
                    "fragment_offset",
                    fr.offset.to_string(),
                    ext_field::FRAG_OFFSET_M,
                    "where this fragment's data goes, in bytes",
                ));
                v.push(Field::new(
                    "more_fragments",
                    fr.more.to_string(),
                    ext_field::FRAG_OFFSET_M,
                    "M flag: more fragments follow",
                ));
                v.push(Field::new(
                    "identification",
                    format!("0x{:08x}", fr.ident),
                    ext_field::FRAG_IDENT,
                    "labels the fragments of one original packet",
                ));
            }
            (None, Some((rtype, left))) => {
                v.push(Field::new(
                    "hdr_ext_len",
                    ((self.len - EXT_UNIT) / EXT_UNIT).to_string(),
                    ext_field::HDR_EXT_LEN,
                    "length in 8-byte units, not counting the first 8",
                ));
                v.push(Field::new(
                    "routing_type",
                    rtype.to_string(),
                    ext_field::ROUTING_TYPE,
                    "which routing scheme (4 = segment routing)",
                ));
                v.push(Field::new(
                    "segments_left",
                    left.to_string(),
                    ext_field::SEGMENTS_LEFT,
                    "how many listed nodes are still to be visited",
                ));
                v.push(Field::new(
                    "data",
                    format!("{} bytes", self.len - ext_field::ROUTING_DATA_START),
                    ext_field::ROUTING_DATA_START..self.len,
                    "type-specific data",
                ));
            }
            (None, None) => {
                v.push(Field::new(
                    "hdr_ext_len",
                    ((self.len - EXT_UNIT) / EXT_UNIT).to_string(),
                    ext_field::HDR_EXT_LEN,
                    "length in 8-byte units, not counting the first 8",
                ));
                v.push(Field::new(
                    "options",
                    format!("{} bytes", self.len - ext_field::OPTIONS_START),
                    ext_field::OPTIONS_START..self.len,
                    "type-length-value options (padding included)",
                ));
            }
        }
        v
    }
}

impl fmt::Display for ExtRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} bytes) next {}",
            self.kind.name(),
            self.len,
            self.next_header.name()
        )?;
        if let Some(fr) = self.fragment {
            write!(
                f,
                " offset {} id 0x{:08x}{}",
                fr.offset,
                fr.ident,
                if fr.more { " M" } else { "" }
            )?;
        }
        if let Some((t, left)) = self.routing {
            write!(f, " type {t} segments left {left}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv6 packet on `::1` carrying a hop-by-hop header (router alert, as MLD sends
    /// it), a fragment header and 8 bytes of UDP header: built by hand from RFC 8200.
    fn fixture() -> Vec<u8> {
        let mut p = vec![
            0x60, 0x00, 0x00, 0x00, // version 6, class 0, flow 0
            0x00, 0x18, 0x00, 0x40, // payload length 24 | next: hop-by-hop | hop limit 64
        ];
        p.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        p.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        p.extend_from_slice(&[0x2c, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00]); // HBH: next fragment, len 0, router alert, PadN
        p.extend_from_slice(&[0x11, 0x00, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]); // fragment: next UDP, offset 0, M, id
        p.extend_from_slice(&[0x9c, 0x40, 0x23, 0x28, 0x00, 0x10, 0x00, 0x00]); // UDP header
        p
    }

    #[test]
    fn deconstruct_and_walk() {
        let p = fixture();
        let pk = Packet::new_checked(&p[..]).unwrap();
        let r = Repr::parse(&pk);
        assert_eq!(
            (r.payload_len, r.hop_limit, r.next_header),
            (24, 64, IpProtocol::HopByHop)
        );
        assert_eq!(r.src, Ipv6Addr::LOCALHOST);
        let hbh = ExtRepr::parse(r.next_header, pk.payload()).unwrap();
        assert_eq!((hbh.len, hbh.next_header), (8, IpProtocol::Ipv6Frag));
        let frag = ExtRepr::parse(hbh.next_header, &pk.payload()[8..]).unwrap();
        assert_eq!(
            frag.fragment,
            Some(Fragment {
                offset: 0,
                more: true,
                ident: 0xdeadbeef
            })
        );
        assert_eq!(frag.next_header, IpProtocol::Udp);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let p = fixture();
        for n in 0..p.len() {
            assert!(Packet::new_checked(&p[..n]).is_err(), "prefix of {n} bytes");
        }
        for n in 0..8 {
            assert!(ExtRepr::parse(IpProtocol::HopByHop, &p[40..40 + n]).is_err());
        }
    }

    #[test]
    fn field_table_covers_the_header() {
        crate::wire::field::assert_table_covers(&FIELDS, HEADER_LEN);
    }
}
