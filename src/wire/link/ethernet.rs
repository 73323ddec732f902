//! Ethernet II frames (IEEE 802.3 with the DIX type field, RFC 894 for IP) and the
//! IEEE 802.1Q VLAN tag.
//!
//! OSI layer 2 (data link) · TCP/IP link layer · PDU: **frame**.
//!
//! ```text
//!  0                   6                  12        14
//! +-------------------+-------------------+---------+---------------------------+
//! | destination MAC   | source MAC        | EtherType| payload (46-1500 bytes)  |
//! +-------------------+-------------------+---------+---------------------------+
//! ```
//!
//! What a capture shows is *not* the whole frame on the wire: the preamble, start-frame
//! delimiter and the 4-byte frame check sequence (CRC) are layer-1 business, checked and
//! stripped by the network card. On Linux `lo` there is no wire at all and the kernel
//! fakes a header with all-zero MAC addresses.
//!
//! A VLAN-tagged frame puts a 4-byte 802.1Q tag between the source MAC and the EtherType:
//! TPID `0x8100` (where the EtherType would be), then the tag control information
//! (priority 3 bits, drop-eligible 1 bit, VLAN id 12 bits), then the real EtherType.
//! netlab shows the tag as its own layer, as Wireshark does.

use crate::layers::Protocol;
use crate::wire::{be16, need_len, Field, FieldSpec, Result};
use serde::Serialize;
use std::fmt;

/// Where each field sits.
pub mod field {
    use std::ops::Range;
    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
}

pub const HEADER_LEN: usize = field::ETHERTYPE.end;

/// Every field the views show, in their order: name, bytes, meaning.
pub const FIELDS: [FieldSpec; 3] = [
    FieldSpec::new("destination", field::DESTINATION, "MAC address of the receiving interface (ff:ff:ff:ff:ff:ff is broadcast)"),
    FieldSpec::new("source", field::SOURCE, "MAC address of the sending interface"),
    FieldSpec::new("ethertype", field::ETHERTYPE, "which protocol the payload carries (0x0800 IPv4, 0x86dd IPv6, 0x0806 ARP, 0x8100 VLAN tag)"),
];

/// The code points of the EtherType field netlab knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EtherType {
    Ipv4,
    Arp,
    Vlan,
    Ipv6,
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> Self {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x8100 => EtherType::Vlan,
            0x86dd => EtherType::Ipv6,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(v: EtherType) -> u16 {
        match v {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Vlan => 0x8100,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Unknown(other) => other,
        }
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw = u16::from(*self);
        match self {
            // The known ones are constants (one per frame in the layer tree).
            EtherType::Ipv4 => f.write_str("IPv4 (0x0800)"),
            EtherType::Arp => f.write_str("ARP (0x0806)"),
            EtherType::Vlan => f.write_str("802.1Q VLAN tag (0x8100)"),
            EtherType::Ipv6 => f.write_str("IPv6 (0x86dd)"),
            EtherType::Unknown(_) if raw <= 1500 => {
                write!(f, "0x{raw:04x} (an 802.3 length, not a type)")
            }
            EtherType::Unknown(_) => write!(f, "0x{raw:04x} (unknown)"),
        }
    }
}

/// A 48-bit MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // By hand: capture views print two MACs per frame, and `{:02x}` six times over
        // was a visible cost on large files.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b':'; 17];
        for (i, b) in self.0.iter().enumerate() {
            out[i * 3] = HEX[usize::from(b >> 4)];
            out[i * 3 + 1] = HEX[usize::from(b & 0x0f)];
        }
        f.write_str(std::str::from_utf8(&out).unwrap_or("??:??:??:??:??:??"))
    }
}

impl Mac {
    pub fn from_slice(b: &[u8]) -> Mac {
        let mut m = [0u8; 6];
        m.copy_from_slice(&b[..6]);
        Mac(m)
    }
    pub fn is_broadcast(&self) -> bool {
        self.0 == [0xff; 6]
    }
}

/// A zero-copy view of an Ethernet II header.
#[derive(Debug, Clone, Copy)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// After this returns `Ok`, no accessor can panic.
    pub fn new_checked(buffer: T) -> Result<Frame<T>> {
        need_len(buffer.as_ref(), HEADER_LEN, Protocol::Ethernet)?;
        Ok(Frame { buffer })
    }
    pub fn destination(&self) -> Mac {
        Mac::from_slice(&self.buffer.as_ref()[field::DESTINATION])
    }
    pub fn source(&self) -> Mac {
        Mac::from_slice(&self.buffer.as_ref()[field::SOURCE])
    }
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(be16(self.buffer.as_ref(), field::ETHERTYPE))
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

/// What an Ethernet header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Repr {
    pub destination: Mac,
    pub source: Mac,
    pub ethertype: EtherType,
}

impl Repr {
    // Once per packet, from `dissect`: a hint to inline it there, so the speed of reading
    // a capture does not depend on how rustc happens to split the crate into codegen units.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(f: &Frame<T>) -> Repr {
        Repr {
            destination: f.destination(),
            source: f.source(),
            ethertype: f.ethertype(),
        }
    }

    pub fn fields(&self) -> Vec<Field> {
        let [destination, source, ethertype] = &FIELDS;
        vec![
            destination.with(self.destination.to_string()),
            source.with(self.source.to_string()),
            ethertype.with(self.ethertype.to_string()),
        ]
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Ethernet {} → {} type {}",
            self.source, self.destination, self.ethertype
        )
    }
}

/// The 802.1Q tag as netlab shows it: the 4 bytes after the TPID (TCI and inner type).
pub mod vlan {
    use super::*;

    pub mod field {
        use std::ops::Range;
        pub const TCI: Range<usize> = 0..2;
        pub const ETHERTYPE: Range<usize> = 2..4;
    }
    pub const HEADER_LEN: usize = field::ETHERTYPE.end;

    /// Every field the views show, in their order: the three parts of the tag control
    /// information share its two bytes.
    pub const FIELDS: [FieldSpec; 4] = [
        FieldSpec::new(
            "priority",
            field::TCI,
            "802.1p priority class, 0 (best effort) to 7",
        ),
        FieldSpec::new(
            "drop_eligible",
            field::TCI,
            "may be dropped first under congestion",
        ),
        FieldSpec::new(
            "vlan_id",
            field::TCI,
            "tag control: priority (3 bits, 802.1p), drop eligible (1 bit), VLAN id (12 bits)",
        ),
        FieldSpec::new(
            "ethertype",
            field::ETHERTYPE,
            "the protocol inside the tagged frame",
        ),
    ];

    /// A zero-copy view of the tag.
    #[derive(Debug, Clone, Copy)]
    pub struct Tag<T: AsRef<[u8]>> {
        buffer: T,
    }

    impl<T: AsRef<[u8]>> Tag<T> {
        pub fn new_checked(buffer: T) -> Result<Tag<T>> {
            crate::wire::need_len(buffer.as_ref(), HEADER_LEN, Protocol::Vlan)?;
            Ok(Tag { buffer })
        }
        // TCI: priority (3 bits), drop eligible (1 bit), VLAN ID (12 bits).
        pub fn priority(&self) -> u8 {
            self.buffer.as_ref()[field::TCI.start] >> 5
        }
        pub fn drop_eligible(&self) -> bool {
            self.buffer.as_ref()[field::TCI.start] & 0x10 != 0
        }
        pub fn vlan_id(&self) -> u16 {
            be16(self.buffer.as_ref(), field::TCI) & 0x0fff
        }
        pub fn ethertype(&self) -> EtherType {
            EtherType::from(be16(self.buffer.as_ref(), field::ETHERTYPE))
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
    pub struct Repr {
        pub priority: u8,
        pub drop_eligible: bool,
        pub vlan_id: u16,
        pub ethertype: EtherType,
    }

    impl Repr {
        pub fn parse<T: AsRef<[u8]>>(t: &Tag<T>) -> Repr {
            Repr {
                priority: t.priority(),
                drop_eligible: t.drop_eligible(),
                vlan_id: t.vlan_id(),
                ethertype: t.ethertype(),
            }
        }
        pub fn fields(&self) -> Vec<Field> {
            let [priority, drop_eligible, vlan_id, ethertype] = &FIELDS;
            vec![
                priority.with(self.priority.to_string()),
                drop_eligible.with(self.drop_eligible.to_string()),
                vlan_id.with(self.vlan_id.to_string()),
                ethertype.with(self.ethertype.to_string()),
            ]
        }
    }

    impl fmt::Display for Repr {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "802.1Q vlan {} priority {} type {}",
                self.vlan_id, self.priority, self.ethertype
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A broadcast ARP request's Ethernet header, tagged VLAN 42 priority 5 (hand-built
    /// from the 802.1Q layout; MACs of a veth pair).
    const TAGGED: [u8; 18] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination: broadcast
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // source (locally administered)
        0x81, 0x00, // TPID: 802.1Q tag follows
        0xa0, 0x2a, // priority 5, DEI 0, VLAN 42
        0x08, 0x06, // inner EtherType: ARP
    ];

    #[test]
    fn deconstruct() {
        let f = Frame::new_checked(&TAGGED[..]).unwrap();
        let r = Repr::parse(&f);
        assert!(r.destination.is_broadcast());
        assert_eq!(r.source.to_string(), "02:00:00:00:00:01");
        assert_eq!(r.ethertype, EtherType::Vlan);
        let t = vlan::Tag::new_checked(f.payload()).unwrap();
        let v = vlan::Repr::parse(&t);
        assert_eq!(
            (v.priority, v.drop_eligible, v.vlan_id, v.ethertype),
            (5, false, 42, EtherType::Arp)
        );
        assert_eq!(v.to_string(), "802.1Q vlan 42 priority 5 type ARP (0x0806)");
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for n in 0..HEADER_LEN {
            assert!(
                Frame::new_checked(&TAGGED[..n]).is_err(),
                "prefix of {n} bytes"
            );
        }
        for n in 0..vlan::HEADER_LEN {
            assert!(vlan::Tag::new_checked(&TAGGED[14..14 + n]).is_err());
        }
    }

    #[test]
    fn field_tables_cover_the_headers() {
        crate::wire::field::assert_table_covers(&FIELDS, HEADER_LEN);
        crate::wire::field::assert_table_covers(&vlan::FIELDS, vlan::HEADER_LEN);
    }

    #[test]
    fn ethertype_round_trips() {
        for v in [0x0800u16, 0x0806, 0x8100, 0x86dd, 0x88cc, 0x0040] {
            assert_eq!(u16::from(EtherType::from(v)), v);
            // The constant labels carry the right number.
            let label = EtherType::from(v).to_string();
            assert!(
                label.contains(&format!("(0x{v:04x})")) || label.starts_with(&format!("0x{v:04x}")),
                "{label}"
            );
        }
        assert!(EtherType::from(0x0040).to_string().contains("length"));
    }
}
