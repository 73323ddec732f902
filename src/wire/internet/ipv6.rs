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
//!
//! Hop-by-hop and destination options headers carry *options* (RFC 8200 §4.2), each a
//! type, a length and that many bytes of data, except Pad1, a single zero byte. Padding
//! (Pad1, PadN) fills the header to a multiple of 8 bytes. The two highest bits of the
//! type say what a node that does not know the option must do (skip it, or drop the
//! packet, with or without an ICMPv6 error), and the third whether the data may change
//! on the way. The best known is Router Alert (RFC 2711): "routers, look inside this
//! packet", which every MLD message carries so that routers see it.

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

/// Option types of hop-by-hop and destination options headers (IANA's "Destination
/// Options and Hop-by-Hop Options" registry).
pub mod option {
    /// One byte of padding, with no length byte.
    pub const PAD1: u8 = 0x00;
    /// Two or more bytes of padding.
    pub const PADN: u8 = 0x01;
    /// RFC 2473 §5.1: how many more times the packet may be tunnelled.
    pub const TUNNEL_ENCAP_LIMIT: u8 = 0x04;
    /// RFC 2711: routers should look at this packet (value 0: MLD, 1: RSVP).
    pub const ROUTER_ALERT: u8 = 0x05;
    /// RFC 2675: a payload over 65,535 bytes (hop-by-hop only).
    pub const JUMBO: u8 = 0xc2;
    /// RFC 6275 §6.3: Mobile IPv6's home address (destination options).
    pub const HOME_ADDRESS: u8 = 0xc9;
}

/// One option of a hop-by-hop or destination options header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Option<'a> {
    pub kind: u8,
    /// Where the option starts, from the extension header's first byte.
    pub offset: usize,
    /// The data after the type and length bytes (Pad1: none).
    pub data: &'a [u8],
}

impl Ipv6Option<'_> {
    /// The option's length byte (Pad1 has none).
    pub fn len_byte(&self) -> Option<u8> {
        (self.kind != option::PAD1).then_some(self.data.len() as u8) // at most 255 by construction
    }

    /// The bytes the option takes in the header.
    pub fn span(&self) -> std::ops::Range<usize> {
        let head = if self.kind == option::PAD1 { 1 } else { 2 };
        self.offset..self.offset + head + self.data.len()
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            option::PAD1 => "Pad1",
            option::PADN => "PadN",
            option::TUNNEL_ENCAP_LIMIT => "tunnel encapsulation limit",
            option::ROUTER_ALERT => "Router Alert",
            option::JUMBO => "Jumbo Payload",
            option::HOME_ADDRESS => "home address",
            // RFC 4727 §4.1: reserved for experiments.
            0x1e | 0x3e | 0x5e | 0x7e | 0x9e | 0xbe | 0xde | 0xfe => "experimental",
            _ => "unknown option",
        }
    }

    /// Router Alert's value: 0 MLD, 1 RSVP, 2 Active Networks (RFC 2711 §2.1).
    pub fn router_alert(&self) -> Option<u16> {
        match (self.kind, self.data) {
            (option::ROUTER_ALERT, &[a, b]) => Some(u16::from_be_bytes([a, b])),
            _ => None,
        }
    }

    /// What a node that does not know this option does (RFC 8200 §4.2: the type's two
    /// highest bits).
    pub fn if_unknown(&self) -> &'static str {
        match self.kind >> 6 {
            0 => "skip it",
            1 => "drop the packet",
            2 => "drop the packet and send ICMPv6 parameter problem",
            _ => "drop the packet and send ICMPv6 parameter problem unless multicast",
        }
    }

    /// The value as the layer view shows it.
    pub fn describe(&self) -> String {
        let mut s = format!("{} (type 0x{:02x}", self.name(), self.kind);
        if let Some(l) = self.len_byte() {
            s.push_str(&format!(", {l} bytes"));
        }
        s.push(')');
        match (self.router_alert(), self.kind) {
            (Some(v), _) => {
                let what = match v {
                    0 => " (MLD)",
                    1 => " (RSVP)",
                    2 => " (Active Networks)",
                    _ => "",
                };
                s.push_str(&format!(": {v}{what}"));
            }
            (None, option::PAD1 | option::PADN) => {}
            (None, option::JUMBO) if self.data.len() == 4 => {
                let len =
                    u32::from_be_bytes([self.data[0], self.data[1], self.data[2], self.data[3]]);
                s.push_str(&format!(": payload length {len}"));
            }
            (None, option::TUNNEL_ENCAP_LIMIT) if self.data.len() == 1 => {
                s.push_str(&format!(": {}", self.data[0]));
            }
            (None, _) => {
                s.push_str(&format!("; if unknown: {}", self.if_unknown()));
            }
        }
        s
    }
}

/// Walk the options of a hop-by-hop or destination options header (`header` is the
/// whole extension header, its first two bytes included). Each step consumes at least
/// one byte, so the walk ends; an option that runs past the header is an error, after
/// the options before it were handed to `each`.
pub fn walk_options<'a>(header: &'a [u8], mut each: impl FnMut(Ipv6Option<'a>)) -> Result<()> {
    let mut at = ext_field::OPTIONS_START;
    while at < header.len() {
        let kind = header[at];
        if kind == option::PAD1 {
            each(Ipv6Option {
                kind,
                offset: at,
                data: &[],
            });
            at += 1;
            continue;
        }
        let Some(&len) = header.get(at + 1) else {
            return Err(Error::Malformed {
                protocol: Protocol::Ipv6,
                reason: "an option's length byte is past the end of its header",
            });
        };
        let end = at + 2 + usize::from(len);
        let Some(data) = header.get(at + 2..end) else {
            return Err(Error::Malformed {
                protocol: Protocol::Ipv6,
                reason: "an option runs past the end of its header",
            });
        };
        each(Ipv6Option {
            kind,
            offset: at,
            data,
        });
        at = end;
    }
    Ok(())
}

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

    /// Field list for the views; `header` is the extension header's bytes (for its
    /// options).
    pub fn fields(&self, header: &[u8]) -> Vec<Field> {
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
                let walked = walk_options(header, |o| {
                    v.push(Field::new(
                        "option",
                        o.describe(),
                        o.span(),
                        "type, length and data of one option (RFC 8200 §4.2)",
                    ))
                });
                if let Err(e) = walked {
                    v.push(Field::new(
                        "options",
                        format!("malformed: {e}"),
                        ext_field::OPTIONS_START..self.len,
                        "type-length-value options (padding included)",
                    ));
                }
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

    /// The hop-by-hop header of an MLDv2 report from `tests/fixtures/ipv6-nd-mld-netns.pcap`
    /// (Router Alert for MLD, then PadN of 0 bytes), and the one python3 sent through
    /// IPV6_HOPOPTS (Router Alert, then two Pad1): the options and their bytes.
    #[test]
    fn hop_by_hop_options_are_walked() {
        let mld = [0x3a, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00];
        let mut seen = Vec::new();
        walk_options(&mld, |o| seen.push((o.name(), o.span(), o.router_alert()))).unwrap();
        assert_eq!(
            seen,
            [("Router Alert", 2..6, Some(0)), ("PadN", 6..8, None)]
        );
        let pad1 = [0x11, 0x00, 0x05, 0x02, 0x00, 0x00, 0x00, 0x00];
        let mut kinds = Vec::new();
        walk_options(&pad1, |o| kinds.push((o.kind, o.len_byte()))).unwrap();
        assert_eq!(kinds, [(5, Some(2)), (0, None), (0, None)]);
        let e = ExtRepr::parse(IpProtocol::HopByHop, &mld).unwrap();
        let f = e.fields(&mld);
        let ra = f.iter().find(|f| f.name == "option").unwrap();
        assert_eq!(ra.value, "Router Alert (type 0x05, 2 bytes): 0 (MLD)");
        // An option longer than its header is named, not read past the end.
        let bad = [0x3a, 0x00, 0x1e, 0x09, 0x00, 0x00, 0x00, 0x00];
        assert!(walk_options(&bad, |_| {}).is_err());
        assert!(e
            .fields(&bad)
            .iter()
            .any(|f| f.value.starts_with("malformed")));
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
