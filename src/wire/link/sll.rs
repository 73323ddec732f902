//! Capture pseudo-headers: Linux "cooked" capture (SLL and SLL2) and BSD loopback (NULL).
//!
//! OSI layer 2 (data link) · TCP/IP link layer · PDU: **frame** (a stand-in for one).
//!
//! These headers never travel on any wire. The capturing kernel writes them when it
//! cannot, or chooses not to, hand over the real link-layer header: `tcpdump -i any`
//! captures from every interface at once, so Linux replaces each frame's own header with
//! a "cooked" one saying which direction the packet went and what protocol follows.
//!
//! ```text
//! SLL (LINKTYPE_LINUX_SLL = 113), 16 bytes:
//! +--------+--------+--------+------------------+--------+
//! | pkttype| ARPHRD | addrlen| address (8 bytes)| protocol|
//! +--------+--------+--------+------------------+--------+
//!   0..2     2..4     4..6     6..14              14..16
//!
//! SLL2 (LINKTYPE_LINUX_SLL2 = 276), 20 bytes:
//! +--------+--------+--------+------+------+-------+------------------+
//! |protocol|reserved| ifindex| ARPHRD|pkttype|addrlen| address (8 bytes)|
//! +--------+--------+--------+------+------+-------+------------------+
//!   0..2     2..4     4..8     8..10  10     11      12..20
//!
//! NULL (LINKTYPE_NULL = 0, BSD loopback), 4 bytes: the address family (2 = IPv4;
//! 24, 28 or 30 = IPv6 depending on the BSD) in the *capturing host's* byte order.
//! ```

use crate::layers::Protocol;
use crate::wire::link::ethernet::EtherType;
use crate::wire::{be16, be32, Error, Field, FieldSpec, Result};
use serde::Serialize;
use std::fmt;

pub mod field {
    use std::ops::Range;
    pub const PACKET_TYPE: Range<usize> = 0..2;
    pub const ARPHRD: Range<usize> = 2..4;
    pub const ADDR_LEN: Range<usize> = 4..6;
    pub const ADDRESS: Range<usize> = 6..14;
    pub const PROTOCOL: Range<usize> = 14..16;
}
pub const HEADER_LEN: usize = field::PROTOCOL.end;

pub mod field2 {
    use std::ops::Range;
    pub const PROTOCOL: Range<usize> = 0..2;
    pub const RESERVED: Range<usize> = 2..4;
    pub const IFINDEX: Range<usize> = 4..8;
    pub const ARPHRD: Range<usize> = 8..10;
    pub const PACKET_TYPE: Range<usize> = 10..11;
    pub const ADDR_LEN: Range<usize> = 11..12;
    pub const ADDRESS: Range<usize> = 12..20;
}
pub const HEADER_LEN2: usize = field2::ADDRESS.end;

/// Every field of the SLL header the views show, in their order: name, bytes, meaning.
pub const FIELDS: [FieldSpec; 5] = [
    FieldSpec::new(
        "packet_type",
        field::PACKET_TYPE,
        "direction: 0 to us, 1 broadcast, 2 multicast, 3 to another host, 4 sent by us",
    ),
    FieldSpec::new(
        "arphrd",
        field::ARPHRD,
        "the link's hardware type (1 Ethernet, 772 loopback)",
    ),
    FieldSpec::new(
        "addr_len",
        field::ADDR_LEN,
        "how many bytes of the address field are used",
    ),
    FieldSpec::new(
        "address",
        field::ADDRESS,
        "link-layer source address, padded to 8 bytes",
    ),
    FieldSpec::new("protocol", field::PROTOCOL, "EtherType of the payload"),
];

/// The same for SLL2, which reorders the fields and adds the interface index.
pub const FIELDS2: [FieldSpec; 7] = [
    FieldSpec::new("protocol", field2::PROTOCOL, "EtherType of the payload"),
    FieldSpec::new("reserved", field2::RESERVED, "reserved, zero"),
    FieldSpec::new(
        "ifindex",
        field2::IFINDEX,
        "the kernel's index of the interface the packet crossed",
    ),
    FieldSpec::new(
        "arphrd",
        field2::ARPHRD,
        "the link's hardware type (1 Ethernet, 772 loopback)",
    ),
    FieldSpec::new(
        "packet_type",
        field2::PACKET_TYPE,
        "direction: 0 to us, 1 broadcast, 2 multicast, 3 to another host, 4 sent by us",
    ),
    FieldSpec::new(
        "addr_len",
        field2::ADDR_LEN,
        "how many bytes of the address field are used",
    ),
    FieldSpec::new(
        "address",
        field2::ADDRESS,
        "link-layer source address, padded to 8 bytes",
    ),
];

/// Which version of the cooked header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Version {
    Sll,
    Sll2,
}

/// A zero-copy view of an SLL or SLL2 header.
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
    version: Version,
}

impl<T: AsRef<[u8]>> Header<T> {
    pub fn new_checked(buffer: T, version: Version) -> Result<Header<T>> {
        let needed = match version {
            Version::Sll => HEADER_LEN,
            Version::Sll2 => HEADER_LEN2,
        };
        let got = buffer.as_ref().len();
        if got < needed {
            return Err(Error::Truncated {
                protocol: Protocol::LinuxSll,
                needed,
                got,
            });
        }
        Ok(Header { buffer, version })
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn header_len(&self) -> usize {
        match self.version {
            Version::Sll => HEADER_LEN,
            Version::Sll2 => HEADER_LEN2,
        }
    }
    pub fn packet_type(&self) -> u16 {
        match self.version {
            Version::Sll => be16(self.b(), field::PACKET_TYPE),
            Version::Sll2 => u16::from(self.b()[field2::PACKET_TYPE.start]),
        }
    }
    pub fn arphrd(&self) -> u16 {
        match self.version {
            Version::Sll => be16(self.b(), field::ARPHRD),
            Version::Sll2 => be16(self.b(), field2::ARPHRD),
        }
    }
    pub fn protocol(&self) -> EtherType {
        EtherType::from(match self.version {
            Version::Sll => be16(self.b(), field::PROTOCOL),
            Version::Sll2 => be16(self.b(), field2::PROTOCOL),
        })
    }
    pub fn ifindex(&self) -> Option<u32> {
        match self.version {
            Version::Sll => None,
            Version::Sll2 => Some(be32(self.b(), field2::IFINDEX)),
        }
    }
    /// The used part of the address (at most 8 bytes).
    pub fn address(&self) -> &[u8] {
        let (len, at) = match self.version {
            Version::Sll => (be16(self.b(), field::ADDR_LEN) as usize, field::ADDRESS),
            Version::Sll2 => (
                usize::from(self.b()[field2::ADDR_LEN.start]),
                field2::ADDRESS,
            ),
        };
        &self.b()[at.start..at.start + len.min(at.len())]
    }
}

pub fn packet_type_name(t: u16) -> &'static str {
    match t {
        0 => "to us",
        1 => "broadcast",
        2 => "multicast",
        3 => "to another host",
        4 => "sent by us",
        _ => "unknown",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Repr {
    pub version: Version,
    pub packet_type: u16,
    pub arphrd: u16,
    pub ifindex: Option<u32>,
    pub address: [u8; 8],
    pub address_len: u8,
    pub protocol: EtherType,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(h: &Header<T>) -> Repr {
        let a = h.address();
        let mut address = [0u8; 8];
        address[..a.len()].copy_from_slice(a);
        Repr {
            version: h.version,
            packet_type: h.packet_type(),
            arphrd: h.arphrd(),
            ifindex: h.ifindex(),
            address,
            address_len: a.len() as u8, // at most 8, see `address`
            protocol: h.protocol(),
        }
    }

    fn address_text(&self) -> String {
        let a = &self.address[..usize::from(self.address_len)];
        if a.is_empty() {
            return "(none)".into();
        }
        crate::wire::text::hex(a, ":")
    }

    pub fn fields(&self) -> Vec<Field> {
        let pt = format!(
            "{} ({})",
            self.packet_type,
            packet_type_name(self.packet_type)
        );
        match self.version {
            Version::Sll => {
                let [packet_type, arphrd, addr_len, address, protocol] = &FIELDS;
                vec![
                    packet_type.with(pt),
                    arphrd.with(self.arphrd.to_string()),
                    addr_len.with(self.address_len.to_string()),
                    address.with(self.address_text()),
                    protocol.with(self.protocol.to_string()),
                ]
            }
            Version::Sll2 => {
                let [protocol, reserved, ifindex, arphrd, packet_type, addr_len, address] =
                    &FIELDS2;
                vec![
                    protocol.with(self.protocol.to_string()),
                    reserved.with("0".into()),
                    ifindex.with(self.ifindex.unwrap_or(0).to_string()),
                    arphrd.with(self.arphrd.to_string()),
                    packet_type.with(pt),
                    addr_len.with(self.address_len.to_string()),
                    address.with(self.address_text()),
                ]
            }
        }
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = match self.version {
            Version::Sll => "SLL",
            Version::Sll2 => "SLL2",
        };
        write!(
            f,
            "Linux cooked ({v}) {} type {}",
            packet_type_name(self.packet_type),
            self.protocol
        )
    }
}

/// BSD loopback (LINKTYPE_NULL): a 4-byte address family in the capturing host's order.
pub mod null {
    use super::*;

    pub mod field {
        use std::ops::Range;
        pub const FAMILY: Range<usize> = 0..4;
    }

    pub const HEADER_LEN: usize = field::FAMILY.end;
    /// The one field, for the views.
    pub const FIELDS: [FieldSpec; 1] = [
        FieldSpec::new("family", field::FAMILY, "address family of the payload in the capturing host's byte order (2 IPv4; 24, 28, 30 IPv6)"),
    ];

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
    pub struct Repr {
        pub family: u32,
    }

    impl Repr {
        pub fn parse(buf: &[u8]) -> Result<Repr> {
            let Some(b) = buf.get(field::FAMILY) else {
                return Err(Error::Truncated {
                    protocol: Protocol::Ethernet,
                    needed: HEADER_LEN,
                    got: buf.len(),
                });
            };
            let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            // The order is the capturing host's, which the file does not say: the small
            // value is the right reading.
            Ok(Repr { family: le.min(be) })
        }
        pub fn ethertype(&self) -> EtherType {
            match self.family {
                2 => EtherType::Ipv4,
                24 | 28 | 30 => EtherType::Ipv6,
                other => EtherType::Unknown(other as u16),
            }
        }
        pub fn fields(&self) -> Vec<Field> {
            let [family] = &FIELDS;
            vec![family.with(format!("{} ({})", self.family, self.ethertype()))]
        }
    }

    impl fmt::Display for Repr {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "BSD loopback family {} ({})",
                self.family,
                self.ethertype()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SLL header of an outgoing IPv4 packet on `lo`, as `tcpdump -i any` writes it.
    const SLL_OUT_LO: [u8; 16] = [
        0x00, 0x04, // packet type 4: sent by us
        0x03, 0x04, // ARPHRD 772: loopback
        0x00, 0x06, // address length 6
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // address (zero on lo), padding
        0x08, 0x00, // protocol IPv4
    ];

    /// SLL2 header of an incoming IPv6 packet on interface 1 (`lo`).
    const SLL2_IN_LO: [u8; 20] = [
        0x86, 0xdd, // protocol IPv6
        0x00, 0x00, // reserved
        0x00, 0x00, 0x00, 0x01, // ifindex 1
        0x03, 0x04, // ARPHRD 772: loopback
        0x00, // packet type 0: to us
        0x06, // address length 6
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // address
    ];

    #[test]
    fn deconstruct_sll_and_sll2() {
        let r = Repr::parse(&Header::new_checked(&SLL_OUT_LO[..], Version::Sll).unwrap());
        assert_eq!(
            (r.packet_type, r.arphrd, r.protocol, r.address_len),
            (4, 772, EtherType::Ipv4, 6)
        );
        assert_eq!(
            r.to_string(),
            "Linux cooked (SLL) sent by us type IPv4 (0x0800)"
        );
        let r = Repr::parse(&Header::new_checked(&SLL2_IN_LO[..], Version::Sll2).unwrap());
        assert_eq!(
            (r.packet_type, r.ifindex, r.protocol),
            (0, Some(1), EtherType::Ipv6)
        );
    }

    #[test]
    fn null_reads_either_byte_order() {
        assert_eq!(
            null::Repr::parse(&[2, 0, 0, 0]).unwrap().ethertype(),
            EtherType::Ipv4
        );
        assert_eq!(
            null::Repr::parse(&[0, 0, 0, 30]).unwrap().ethertype(),
            EtherType::Ipv6
        );
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for n in 0..HEADER_LEN {
            assert!(Header::new_checked(&SLL_OUT_LO[..n], Version::Sll).is_err());
        }
        for n in 0..HEADER_LEN2 {
            assert!(Header::new_checked(&SLL2_IN_LO[..n], Version::Sll2).is_err());
        }
        for n in 0..4 {
            assert!(null::Repr::parse(&[2, 0, 0, 0][..n]).is_err());
        }
    }

    #[test]
    fn field_tables_cover_the_headers() {
        crate::wire::field::assert_table_covers(&FIELDS, HEADER_LEN);
        crate::wire::field::assert_table_covers(&FIELDS2, HEADER_LEN2);
        crate::wire::field::assert_table_covers(&null::FIELDS, null::HEADER_LEN);
    }
}
