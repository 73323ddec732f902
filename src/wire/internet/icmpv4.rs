//! ICMP for IPv4 (RFC 792): echo (ping), and the error messages routers and hosts send.
//!
//! OSI layer 3 (network), though carried inside IP (protocol 1); see
//! `Protocol::Icmpv4.placement_note()` · TCP/IP internet layer · PDU: **message**.
//!
//! ```text
//!  0               1               2               3
//! +---------------+---------------+-------------------------------+
//! |     Type      |     Code      |           Checksum            |
//! +---------------+---------------+-------------------------------+
//! |  rest of header: echo → identifier | sequence; errors → unused |
//! +---------------------------------------------------------------+
//! |  data: echo → anything; errors → the offending packet's IP     |
//! |  header and at least its first 8 payload bytes (RFC 792)       |
//! +---------------------------------------------------------------+
//! ```
//!
//! "Fragmentation needed and DF set" (type 3, code 4) is how path MTU discovery works
//! (RFC 1191): a router that cannot forward a packet marked "don't fragment" drops it and
//! answers with this error, writing the **next-hop MTU** (the largest packet the next
//! link carries) in the last 2 bytes of the header, which RFC 792 left unused. The
//! sender then sends smaller packets.
//!
//! An error message *quotes* the packet that caused it, so the sender can tell which of
//! its conversations failed: the quoted UDP or TCP ports identify the socket. netlab
//! decodes that quoted header too and marks it as quoted.

use crate::layers::Protocol;
use crate::wire::checksum::{self, Checked};
use crate::wire::{be16, need_len, Field, FieldSpec, Result};
use serde::Serialize;
use std::fmt;

pub mod field {
    use std::ops::Range;
    pub const TYPE: Range<usize> = 0..1;
    pub const CODE: Range<usize> = 1..2;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const REST: Range<usize> = 4..8;
    pub const IDENT: Range<usize> = 4..6;
    pub const SEQ: Range<usize> = 6..8;
    /// Fragmentation needed (RFC 1191 §4): 2 unused bytes, then the next-hop MTU.
    pub const UNUSED: Range<usize> = 4..6;
    pub const NEXT_HOP_MTU: Range<usize> = 6..8;
}

pub const HEADER_LEN: usize = field::REST.end;

/// Every field the views show: type, code and checksum, then the last 4 bytes of the
/// header as an echo's identifier and sequence number, as "fragmentation needed"'s
/// unused half and next-hop MTU, or, for other types, as one field.
pub const FIELDS: [FieldSpec; 8] = [
    FieldSpec::new(
        "type",
        field::TYPE,
        "what kind of message: 8 echo request, 0 echo reply, 3 unreachable, 11 time exceeded",
    ),
    FieldSpec::new(
        "code",
        field::CODE,
        "detail within the type (for unreachable: 3 = port unreachable)",
    ),
    FieldSpec::new(
        "checksum",
        field::CHECKSUM,
        "Internet checksum over the whole ICMP message",
    ),
    FieldSpec::new(
        "identifier",
        field::IDENT,
        "matches replies to requests (often the process id)",
    ),
    FieldSpec::new("sequence", field::SEQ, "counts the requests: 1, 2, 3, ..."),
    FieldSpec::new(
        "rest_of_header",
        field::REST,
        "echo: identifier and sequence number; errors: unused or MTU/pointer",
    ),
    FieldSpec::new("unused", field::UNUSED, "zero"),
    FieldSpec::new(
        "next_hop_mtu",
        field::NEXT_HOP_MTU,
        "the largest packet the next link carries (RFC 1191): send smaller ones",
    ),
];

/// Destination unreachable's code 4: the packet needed fragmenting and said "don't".
pub const FRAGMENTATION_NEEDED: (u8, u8) = (3, 4);

/// Name a type/code pair.
pub fn describe(ty: u8, code: u8) -> (&'static str, Option<&'static str>) {
    let name = match ty {
        0 => "echo reply",
        3 => "destination unreachable",
        4 => "source quench (deprecated)",
        5 => "redirect",
        8 => "echo request",
        9 => "router advertisement",
        10 => "router solicitation",
        11 => "time exceeded",
        12 => "parameter problem",
        13 => "timestamp",
        14 => "timestamp reply",
        _ => "unknown type",
    };
    let detail = match (ty, code) {
        (3, 0) => Some("net unreachable"),
        (3, 1) => Some("host unreachable"),
        (3, 2) => Some("protocol unreachable"),
        (3, 3) => Some("port unreachable"),
        (3, 4) => Some("fragmentation needed and DF set"),
        (3, 5) => Some("source route failed"),
        (3, 9 | 10 | 13) => Some("administratively prohibited"),
        (5, 0) => Some("for the network"),
        (5, 1) => Some("for the host"),
        (11, 0) => Some("TTL exceeded in transit"),
        (11, 1) => Some("fragment reassembly time exceeded"),
        (12, 0) => Some("pointer indicates the error"),
        _ => None,
    };
    (name, detail)
}

/// Types whose data quotes the packet that caused them.
pub fn is_error(ty: u8) -> bool {
    matches!(ty, 3 | 4 | 5 | 11 | 12)
}

/// A zero-copy view of an ICMP message.
#[derive(Debug, Clone, Copy)]
pub struct Message<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Message<T> {
    pub fn new_checked(buffer: T) -> Result<Message<T>> {
        need_len(buffer.as_ref(), HEADER_LEN, Protocol::Icmpv4)?;
        Ok(Message { buffer })
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn msg_type(&self) -> u8 {
        self.b()[field::TYPE.start]
    }
    pub fn code(&self) -> u8 {
        self.b()[field::CODE.start]
    }
    pub fn checksum(&self) -> u16 {
        be16(self.b(), field::CHECKSUM)
    }
    pub fn ident(&self) -> u16 {
        be16(self.b(), field::IDENT)
    }
    pub fn seq(&self) -> u16 {
        be16(self.b(), field::SEQ)
    }
    /// "Fragmentation needed": the next-hop MTU (0 from routers older than RFC 1191).
    pub fn next_hop_mtu(&self) -> u16 {
        be16(self.b(), field::NEXT_HOP_MTU)
    }
    pub fn data(&self) -> &[u8] {
        &self.b()[HEADER_LEN..]
    }
    /// `complete`: whether the capture holds the whole message (else it cannot be checked).
    pub fn verify_checksum(&self, complete: bool) -> Checked {
        if !complete {
            return Checked::Unverifiable;
        }
        Checked::from_sum(self.checksum(), checksum::sum(self.b()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Repr {
    pub msg_type: u8,
    pub code: u8,
    pub checksum: u16,
    pub checksum_check: Checked,
    /// Echo request/reply: identifier and sequence number.
    pub echo: Option<(u16, u16)>,
    /// Fragmentation needed: the next-hop MTU (RFC 1191).
    pub next_hop_mtu: Option<u16>,
    pub data_len: usize,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(m: &Message<T>, complete: bool) -> Repr {
        let ty = m.msg_type();
        Repr {
            msg_type: ty,
            code: m.code(),
            checksum: m.checksum(),
            checksum_check: m.verify_checksum(complete),
            echo: matches!(ty, 0 | 8 | 13 | 14).then(|| (m.ident(), m.seq())),
            next_hop_mtu: ((ty, m.code()) == FRAGMENTATION_NEEDED).then(|| m.next_hop_mtu()),
            data_len: m.data().len(),
        }
    }
    pub fn fields(&self) -> Vec<Field> {
        let (name, detail) = describe(self.msg_type, self.code);
        let [ty, code, checksum, identifier, sequence, rest_of_header, unused, next_hop_mtu] =
            &FIELDS;
        let mut v = vec![
            ty.with(format!("{} ({name})", self.msg_type)),
            code.with(format!(
                "{}{}",
                self.code,
                detail.map(|d| format!(" ({d})")).unwrap_or_default()
            )),
            checksum.with(format!(
                "0x{:04x}: {}",
                self.checksum,
                self.checksum_check.describe(false)
            )),
        ];
        if let Some((id, seq)) = self.echo {
            v.push(identifier.with(id.to_string()));
            v.push(sequence.with(seq.to_string()));
        } else if let Some(mtu) = self.next_hop_mtu {
            v.push(unused.with("-".into()));
            v.push(next_hop_mtu.with(mtu.to_string()));
        } else {
            v.push(rest_of_header.with("-".into()));
        }
        v
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, detail) = describe(self.msg_type, self.code);
        write!(f, "ICMP {name}")?;
        if let Some(d) = detail {
            write!(f, " ({d})")?;
        }
        if let Some((id, seq)) = self.echo {
            write!(f, " id {id} seq {seq}")?;
        }
        if let Some(mtu) = self.next_hop_mtu {
            write!(f, " next-hop MTU {mtu}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ping -c1 127.0.0.1`'s request header plus 8 bytes of its data (checksum computed
    /// over these 16 bytes).
    fn echo_request() -> Vec<u8> {
        let mut m = vec![
            0x08, 0x00, 0x00, 0x00, // type 8 echo request | code 0 | checksum (filled below)
            0x12, 0x34, 0x00, 0x01, // identifier 0x1234 | sequence 1
            b'n', b'e', b't', b'l', b'a', b'b', b'!', b'!',
        ];
        let c = checksum::checksum(&m);
        m[2..4].copy_from_slice(&c.to_be_bytes());
        m
    }

    #[test]
    fn deconstruct() {
        let m = echo_request();
        let r = Repr::parse(&Message::new_checked(&m[..]).unwrap(), true);
        assert_eq!((r.msg_type, r.code, r.echo), (8, 0, Some((0x1234, 1))));
        assert_eq!(r.checksum_check, Checked::Correct);
        assert_eq!(r.to_string(), "ICMP echo request id 4660 seq 1");
        assert_eq!(
            describe(3, 3),
            ("destination unreachable", Some("port unreachable"))
        );
        assert!(is_error(3) && !is_error(8));
    }

    /// The router's answer in `tests/fixtures/pmtu-netns.pcap` (a 1400-byte datagram with
    /// DF towards a link of MTU 1280): the first 8 bytes, checksum as sent.
    #[test]
    fn rfc1191_fragmentation_needed_carries_the_next_hop_mtu() {
        let m = [0x03, 0x04, 0x9b, 0x59, 0x00, 0x00, 0x05, 0x00];
        let r = Repr::parse(&Message::new_checked(&m[..]).unwrap(), false);
        assert_eq!(r.next_hop_mtu, Some(1280));
        assert_eq!(
            r.to_string(),
            "ICMP destination unreachable (fragmentation needed and DF set) next-hop MTU 1280"
        );
        let f = r.fields();
        let mtu = f.iter().find(|f| f.name == "next_hop_mtu").unwrap();
        assert_eq!((mtu.value.as_str(), mtu.span.clone()), ("1280", 6..8));
        // Port unreachable's same bytes are unused, not an MTU.
        let m = [0x03, 0x03, 0x9b, 0x59, 0x00, 0x00, 0x05, 0x00];
        let r = Repr::parse(&Message::new_checked(&m[..]).unwrap(), false);
        assert_eq!(r.next_hop_mtu, None);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let m = echo_request();
        for n in 0..HEADER_LEN {
            assert!(
                Message::new_checked(&m[..n]).is_err(),
                "prefix of {n} bytes"
            );
        }
    }

    #[test]
    fn field_table_covers_the_header() {
        crate::wire::field::assert_table_covers(&FIELDS, HEADER_LEN);
    }
}
