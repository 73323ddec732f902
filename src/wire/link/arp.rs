//! ARP, the Address Resolution Protocol (RFC 826): "who has 10.0.0.2? tell 10.0.0.1".
//!
//! OSI: between layers 2 and 3 (see `Protocol::Arp.placement_note()`) · TCP/IP link layer
//! (RFC 1122 §2.3.2) · PDU: **packet**, carried directly in an Ethernet frame
//! (EtherType 0x0806), with no IP header.
//!
//! ```text
//!  0        2        4    5    6        8                14        18               24        28
//! +--------+--------+----+----+--------+----------------+---------+----------------+---------+
//! | htype  | ptype  |hlen|plen| oper   | sender MAC     |sender IP| target MAC     |target IP|
//! +--------+--------+----+----+--------+----------------+---------+----------------+---------+
//! ```
//!
//! A request is broadcast with the target MAC unknown (zero); the owner of the target IP
//! answers with a unicast reply. Nothing on loopback needs ARP: you see it between two
//! network namespaces joined by a veth pair, or on a real LAN.
//!
//! The same packet also *announces* and *checks* addresses ([`Kind`]): a **gratuitous
//! ARP** names its sender's own address as the target (nobody is asked anything; every
//! host that hears it updates its cache), and RFC 5227's address conflict detection
//! sends an **ARP probe** ("is 10.0.0.7 taken?", from sender address 0.0.0.0 so that no
//! cache learns an address not yet owned) and then an **ARP announcement** (a request
//! whose sender and target address are the new address). Wireshark names them by the
//! same rules, which netlab follows.

use crate::layers::Protocol;
use crate::wire::link::ethernet::Mac;
use crate::wire::{be16, Error, Field, FieldSpec, Result};
use core::net::Ipv4Addr;
use serde::Serialize;
use std::fmt;

pub mod field {
    use std::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: Range<usize> = 4..5;
    pub const PLEN: Range<usize> = 5..6;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet, the only kind netlab decodes.
pub const HEADER_LEN: usize = field::TPA.end;

/// Every field the views show, in their order: name, bytes, meaning.
pub const FIELDS: [FieldSpec; 9] = [
    FieldSpec::new("htype", field::HTYPE, "hardware type: 1 = Ethernet"),
    FieldSpec::new(
        "ptype",
        field::PTYPE,
        "protocol type, an EtherType: 0x0800 = IPv4",
    ),
    FieldSpec::new(
        "hlen",
        field::HLEN,
        "hardware address length: 6 for MAC addresses",
    ),
    FieldSpec::new("plen", field::PLEN, "protocol address length: 4 for IPv4"),
    FieldSpec::new("oper", field::OPER, "operation: 1 request, 2 reply"),
    FieldSpec::new("sender_mac", field::SHA, "sender hardware (MAC) address"),
    FieldSpec::new("sender_ip", field::SPA, "sender protocol (IPv4) address"),
    FieldSpec::new(
        "target_mac",
        field::THA,
        "target MAC: zero in a request, since that is the question",
    ),
    FieldSpec::new(
        "target_ip",
        field::TPA,
        "target IPv4 address: whose MAC is wanted",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Request,
    Reply,
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(v: u16) -> Self {
        match v {
            1 => Operation::Request,
            2 => Operation::Reply,
            o => Operation::Unknown(o),
        }
    }
}

impl From<Operation> for u16 {
    fn from(v: Operation) -> u16 {
        match v {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::Unknown(o) => o,
        }
    }
}

/// A zero-copy view of an ARP packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let b = buffer.as_ref();
        // The fixed part (HTYPE to OPER) says how long the four addresses are.
        let fixed = field::OPER.end;
        if b.len() < fixed {
            return Err(Error::Truncated {
                protocol: Protocol::Arp,
                needed: fixed,
                got: b.len(),
            });
        }
        let (hlen, plen) = (b[field::HLEN.start], b[field::PLEN.start]);
        let needed = fixed + 2 * (usize::from(hlen) + usize::from(plen));
        if b.len() < needed {
            return Err(Error::Truncated {
                protocol: Protocol::Arp,
                needed,
                got: b.len(),
            });
        }
        if hlen != 6 || plen != 4 {
            return Err(Error::Malformed {
                protocol: Protocol::Arp,
                reason: "only Ethernet/IPv4 ARP (hlen 6, plen 4) is decoded",
            });
        }
        Ok(Packet { buffer })
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn htype(&self) -> u16 {
        be16(self.b(), field::HTYPE)
    }
    pub fn ptype(&self) -> u16 {
        be16(self.b(), field::PTYPE)
    }
    pub fn oper(&self) -> Operation {
        Operation::from(be16(self.b(), field::OPER))
    }
    pub fn sender_mac(&self) -> Mac {
        Mac::from_slice(&self.b()[field::SHA])
    }
    pub fn sender_ip(&self) -> Ipv4Addr {
        ip(&self.b()[field::SPA])
    }
    pub fn target_mac(&self) -> Mac {
        Mac::from_slice(&self.b()[field::THA])
    }
    pub fn target_ip(&self) -> Ipv4Addr {
        ip(&self.b()[field::TPA])
    }
}

fn ip(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Repr {
    pub htype: u16,
    pub ptype: u16,
    pub operation: Operation,
    pub sender_mac: Mac,
    pub sender_ip: Ipv4Addr,
    pub target_mac: Mac,
    pub target_ip: Ipv4Addr,
    /// What the packet is for, from its addresses.
    pub kind: Kind,
}

/// What an ARP packet is for, read from its addresses as Wireshark reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A question ("who has ...?") or its answer.
    Ordinary,
    /// Sender and target protocol address are the same: the sender tells everyone its
    /// own MAC and IP address (a request or a reply; RFC 5227 §3 calls it "broadcast ARP
    /// announcement" in general).
    Gratuitous,
    /// RFC 5227 §2.1.1: a request with sender address 0.0.0.0 and target MAC zero, asking
    /// whether anyone already uses the target address.
    Probe,
    /// RFC 5227 §2.3: a gratuitous request with target MAC zero, claiming the address
    /// after the probes found no one using it.
    Announcement,
}

impl Kind {
    /// Classify by the addresses. Wireshark's order: same sender and target address
    /// first (an announcement when it is a request with an unknown target MAC), then
    /// the probe.
    pub fn of(op: Operation, spa: Ipv4Addr, tha: Mac, tpa: Ipv4Addr) -> Kind {
        let unknown_target = tha == Mac([0; 6]);
        match op {
            Operation::Request if spa == tpa && unknown_target => Kind::Announcement,
            Operation::Request | Operation::Reply if spa == tpa => Kind::Gratuitous,
            Operation::Request if spa.is_unspecified() && unknown_target => Kind::Probe,
            _ => Kind::Ordinary,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Ordinary => "ordinary",
            Kind::Gratuitous => "gratuitous ARP",
            Kind::Probe => "ARP probe",
            Kind::Announcement => "ARP announcement",
        }
    }
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        let (operation, sender_ip, target_mac, target_ip) =
            (p.oper(), p.sender_ip(), p.target_mac(), p.target_ip());
        Repr {
            htype: p.htype(),
            ptype: p.ptype(),
            operation,
            sender_mac: p.sender_mac(),
            sender_ip,
            target_mac,
            target_ip,
            kind: Kind::of(operation, sender_ip, target_mac, target_ip),
        }
    }

    pub fn fields(&self) -> Vec<Field> {
        let mut op = match self.operation {
            Operation::Request => "1 (request)".to_owned(),
            Operation::Reply => "2 (reply)".to_owned(),
            Operation::Unknown(o) => format!("{o} (unknown)"),
        };
        if self.kind != Kind::Ordinary {
            op.push_str(": ");
            op.push_str(self.kind.name());
        }
        let [htype, ptype, hlen, plen, oper, sender_mac, sender_ip, target_mac, target_ip] =
            &FIELDS;
        vec![
            htype.with(self.htype.to_string()),
            ptype.with(format!("0x{:04x}", self.ptype)),
            hlen.with("6".into()),
            plen.with("4".into()),
            oper.with(op),
            sender_mac.with(self.sender_mac.to_string()),
            sender_ip.with(self.sender_ip.to_string()),
            target_mac.with(self.target_mac.to_string()),
            target_ip.with(self.target_ip.to_string()),
        ]
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (request, target) = (self.operation == Operation::Request, self.target_ip);
        match self.kind {
            Kind::Gratuitous if request => {
                return write!(f, "gratuitous ARP for {target} (request)")
            }
            Kind::Gratuitous => return write!(f, "gratuitous ARP for {target} (reply)"),
            Kind::Probe => return write!(f, "ARP who has {target}? (ARP probe)"),
            Kind::Announcement => return write!(f, "ARP announcement for {target}"),
            Kind::Ordinary => {}
        }
        match self.operation {
            Operation::Request => {
                write!(f, "ARP who has {}? tell {}", self.target_ip, self.sender_ip)
            }
            Operation::Reply => write!(f, "ARP {} is at {}", self.sender_ip, self.sender_mac),
            Operation::Unknown(o) => write!(f, "ARP operation {o}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ARP request between two namespaces on a veth pair (10.200.0.1 asks for 10.200.0.2).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, // htype Ethernet | ptype IPv4
        0x06, 0x04, 0x00, 0x01, // hlen 6, plen 4 | oper 1 (request)
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // sender MAC
        10, 200, 0, 1, // sender IP
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // target MAC: unknown
        10, 200, 0, 2, // target IP
    ];

    #[test]
    fn deconstruct() {
        let r = Repr::parse(&Packet::new_checked(&REQUEST[..]).unwrap());
        assert_eq!(r.operation, Operation::Request);
        assert_eq!(r.target_ip, Ipv4Addr::new(10, 200, 0, 2));
        assert_eq!(r.to_string(), "ARP who has 10.200.0.2? tell 10.200.0.1");
        assert_eq!(r.fields().len(), FIELDS.len());
    }

    /// The four kinds RFC 5227 and Wireshark name, from the addresses of
    /// `tests/fixtures/arp-kinds-netns.pcap` (which `capture_tshark` checks against
    /// tshark's `arp.isgratuitous`, `arp.isprobe` and `arp.isannouncement`), plus the
    /// corner cases tshark was asked about: a probe whose target MAC is the broadcast
    /// address is an ordinary request, and a probe for 0.0.0.0 counts as an announcement.
    #[test]
    fn gratuitous_probe_and_announcement() {
        use Operation::{Reply, Request};
        let (zero, bcast) = (Mac([0; 6]), Mac([0xff; 6]));
        let (none, own, new) = (
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::new(10, 196, 1, 1),
            Ipv4Addr::new(10, 196, 1, 7),
        );
        for (op, spa, tha, tpa, kind) in [
            (Request, own, zero, new, Kind::Ordinary),
            (Reply, new, zero, own, Kind::Ordinary),
            (Request, none, zero, new, Kind::Probe),
            (Request, none, bcast, new, Kind::Ordinary),
            (Request, new, zero, new, Kind::Announcement),
            (Request, own, bcast, own, Kind::Gratuitous),
            (Reply, own, bcast, own, Kind::Gratuitous),
            (Reply, new, zero, new, Kind::Gratuitous),
            (Request, none, zero, none, Kind::Announcement),
        ] {
            assert_eq!(
                Kind::of(op, spa, tha, tpa),
                kind,
                "{op:?} {spa} {tha} {tpa}"
            );
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for n in 0..REQUEST.len() {
            assert!(
                Packet::new_checked(&REQUEST[..n]).is_err(),
                "prefix of {n} bytes"
            );
        }
    }

    #[test]
    fn field_table_covers_the_header() {
        crate::wire::field::assert_table_covers(&FIELDS, HEADER_LEN);
    }
}
