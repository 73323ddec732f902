//! ICMPv6 (RFC 4443), plus the Neighbor Discovery messages (RFC 4861) that replace ARP.
//!
//! OSI layer 3 (network), though carried inside IPv6 (next header 58) · TCP/IP internet
//! layer · PDU: **message**.
//!
//! ```text
//! +---------------+---------------+-------------------------------+
//! |     Type      |     Code      |           Checksum            |
//! +---------------+---------------+-------------------------------+
//! |                         Message Body                          |
//! ```
//!
//! Types below 128 are errors, which quote as much of the offending packet as fits in
//! the minimum IPv6 MTU (RFC 4443 §2.4 (c)); 128 and above are informational. Unlike
//! ICMPv4, the checksum covers an IPv6 pseudo-header too (RFC 4443 §2.3).

use crate::layers::Protocol;
use crate::wire::checksum::{self, Checked};
use crate::wire::internet::{mld, nd};
use crate::wire::link::ethernet::Mac;
use crate::wire::{be16, be32, need_len, Field, FieldSpec, Result};
use core::net::Ipv6Addr;
use serde::Serialize;
use std::fmt;

pub mod field {
    use std::ops::Range;
    pub const TYPE: Range<usize> = 0..1;
    pub const CODE: Range<usize> = 1..2;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const BODY: Range<usize> = 4..8;
    /// Echo request and reply read the body as two 16-bit halves.
    pub const IDENT: Range<usize> = 4..6;
    pub const SEQ: Range<usize> = 6..8;
    /// Neighbor solicitation, advertisement and redirect: the address after the body.
    pub const TARGET: Range<usize> = 8..24;
}

/// Type, code, checksum and the first 4 bytes of the body, present in every message.
pub const HEADER_LEN: usize = field::BODY.end;

/// Every field the views show: type, code and checksum; then the body's first 4 bytes
/// as an echo's identifier and sequence number, a Packet Too Big's MTU, or one field;
/// then a neighbor discovery message's target address.
pub const FIELDS: [FieldSpec; 8] = [
    FieldSpec::new("type", field::TYPE, "what kind of message: 128 echo request, 129 echo reply, 1 unreachable, 135 neighbor solicitation"),
    FieldSpec::new("code", field::CODE, "detail within the type (for unreachable: 4 = port unreachable)"),
    FieldSpec::new("checksum", field::CHECKSUM, "Internet checksum over an IPv6 pseudo-header and the whole message"),
    FieldSpec::new("identifier", field::IDENT, "matches replies to requests"),
    FieldSpec::new("sequence", field::SEQ, "counts the requests"),
    FieldSpec::new("mtu", field::BODY, "the largest packet the next link carries"),
    FieldSpec::new("body", field::BODY, "type-specific: identifier and sequence, MTU, pointer, or unused"),
    FieldSpec::new("target", field::TARGET, "the address being resolved or announced"),
];

pub fn describe(ty: u8, code: u8) -> (&'static str, Option<&'static str>) {
    let name = match ty {
        1 => "destination unreachable",
        2 => "packet too big",
        3 => "time exceeded",
        4 => "parameter problem",
        128 => "echo request",
        129 => "echo reply",
        130 => "multicast listener query",
        131 => "multicast listener report",
        132 => "multicast listener done",
        133 => "router solicitation",
        134 => "router advertisement",
        135 => "neighbor solicitation",
        136 => "neighbor advertisement",
        137 => "redirect",
        143 => "multicast listener report v2",
        _ => "unknown type",
    };
    let detail = match (ty, code) {
        (1, 0) => Some("no route to destination"),
        (1, 1) => Some("administratively prohibited"),
        (1, 3) => Some("address unreachable"),
        (1, 4) => Some("port unreachable"),
        (3, 0) => Some("hop limit exceeded in transit"),
        (3, 1) => Some("fragment reassembly time exceeded"),
        (4, 0) => Some("erroneous header field"),
        (4, 1) => Some("unrecognized next header"),
        (4, 2) => Some("unrecognized IPv6 option"),
        _ => None,
    };
    (name, detail)
}

/// RFC 4443 §2.1: types 0-127 are error messages (and quote the offending packet).
pub fn is_error(ty: u8) -> bool {
    ty < 128
}

/// Messages whose every byte is theirs: neighbor discovery (its options) and MLDv2
/// reports (their records). The views decode them whole; other messages end their
/// header after the body word (echo data, a quoted packet).
pub fn is_whole_message(ty: u8) -> bool {
    nd::options_start(ty).is_some() || ty == mld::REPORT_V2
}

#[derive(Debug, Clone, Copy)]
pub struct Message<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Message<T> {
    pub fn new_checked(buffer: T) -> Result<Message<T>> {
        need_len(buffer.as_ref(), HEADER_LEN, Protocol::Icmpv6)?;
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
    pub fn body_word(&self) -> u32 {
        be32(self.b(), field::BODY)
    }
    pub fn data(&self) -> &[u8] {
        &self.b()[HEADER_LEN..]
    }
    /// Neighbor solicitation/advertisement and redirect: the target address after the body word.
    pub fn target(&self) -> Option<Ipv6Addr> {
        let b = self.b().get(field::TARGET)?;
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        Some(Ipv6Addr::from(a))
    }
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr, complete: bool) -> Checked {
        if !complete {
            return Checked::Unverifiable;
        }
        let len = self.b().len() as u32; // an IPv6 payload length is at most 16 bits (jumbograms aside)
        let s = checksum::pseudo_v6(src.octets(), dst.octets(), 58, len) + checksum::sum(self.b());
        Checked::from_sum(self.checksum(), s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Repr {
    pub msg_type: u8,
    pub code: u8,
    pub checksum: u16,
    pub checksum_check: Checked,
    pub echo: Option<(u16, u16)>,
    /// Packet too big: the MTU.
    pub mtu: Option<u32>,
    /// Neighbor discovery target address.
    pub target: Option<Ipv6Addr>,
    /// Router advertisement: its fixed part.
    pub router_advert: Option<nd::RouterAdvert>,
    /// Neighbor advertisement: router, solicited, override.
    pub na_flags: Option<nd::NaFlags>,
    /// Neighbor discovery: the first link-layer address option's MAC.
    pub link_addr: Option<Mac>,
    /// MLDv2 report: how many records it says it holds.
    pub mld_records: Option<u16>,
    pub data_len: usize,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(
        m: &Message<T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        complete: bool,
    ) -> Repr {
        let ty = m.msg_type();
        let w = m.body_word();
        Repr {
            msg_type: ty,
            code: m.code(),
            checksum: m.checksum(),
            checksum_check: m.verify_checksum(src, dst, complete),
            echo: matches!(ty, 128 | 129).then_some(((w >> 16) as u16, (w & 0xffff) as u16)),
            mtu: (ty == 2).then_some(w),
            target: if matches!(ty, 135..=137) {
                m.target()
            } else {
                None
            },
            router_advert: (ty == 134)
                .then(|| nd::RouterAdvert::parse(m.b()))
                .flatten(),
            na_flags: (ty == 136).then(|| nd::NaFlags::from_word(w)),
            link_addr: nd::options_start(ty).and_then(|at| nd::first_link_addr(m.b(), at)),
            mld_records: (ty == mld::REPORT_V2)
                .then(|| mld::record_count(m.b()))
                .flatten(),
            data_len: m.data().len(),
        }
    }
    /// Field list for views; `message` is the message's bytes as the layer holds them
    /// (all of a neighbor discovery message or MLDv2 report, for its options or records).
    pub fn fields(&self, message: &[u8]) -> Vec<Field> {
        let (name, detail) = describe(self.msg_type, self.code);
        let [ty, code, checksum, identifier, sequence, mtu, body, target] = &FIELDS;
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
                self.checksum_check.describe(true)
            )),
        ];
        if let Some((id, seq)) = self.echo {
            v.push(identifier.with(id.to_string()));
            v.push(sequence.with(seq.to_string()));
        } else if let Some(m) = self.mtu {
            v.push(mtu.with(m.to_string()));
        } else if let Some(ra) = self.router_advert {
            v.extend(ra.fields());
        } else if let Some(f) = self.na_flags {
            v.push(Field::new(
                "flags",
                f.describe(),
                nd::field::NA_FLAGS,
                "R: sent by a router, S: answers a solicitation, O: replace the cached address",
            ));
        } else if self.mld_records.is_some() {
            v.push(Field::new(
                "reserved",
                "-".into(),
                mld::field::RESERVED,
                "zero",
            ));
        } else {
            v.push(body.with("-".into()));
        }
        if let Some(t) = self.target {
            v.push(target.with(t.to_string()));
        }
        if let Some(start) = nd::options_start(self.msg_type) {
            nd::option_fields(message, start, &mut v);
        }
        if self.mld_records.is_some() {
            mld::fields(message, &mut v);
        }
        v
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, detail) = describe(self.msg_type, self.code);
        write!(f, "ICMPv6 {name}")?;
        if let Some(d) = detail {
            write!(f, " ({d})")?;
        }
        if let Some((id, seq)) = self.echo {
            write!(f, " id {id} seq {seq}")?;
        }
        if let Some(t) = self.target {
            write!(f, " target {t}")?;
        }
        if let Some(flags) = self.na_flags {
            write!(f, " ({})", flags.describe())?;
        }
        match (self.link_addr, self.msg_type) {
            (Some(mac), 136 | 137) => write!(f, " is at {mac}")?,
            (Some(mac), _) => write!(f, " from {mac}")?,
            (None, _) => {}
        }
        if let Some(ra) = self.router_advert {
            write!(
                f,
                ", hop limit {}, router lifetime {} s",
                ra.cur_hop_limit, ra.router_lifetime
            )?;
        }
        if let Some(n) = self.mld_records {
            write!(f, ", {n} record{}", if n == 1 { "" } else { "s" })?;
        }
        if let Some(m) = self.mtu {
            write!(f, " MTU {m}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ping -6 -c1 ::1`'s echo request header with 4 data bytes; checksum computed with
    /// the ::1 → ::1 pseudo-header.
    fn echo_request() -> Vec<u8> {
        let mut m = vec![0x80, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x01, 1, 2, 3, 4];
        let lo = Ipv6Addr::LOCALHOST.octets();
        let c =
            !checksum::fold(checksum::pseudo_v6(lo, lo, 58, m.len() as u32) + checksum::sum(&m));
        m[2..4].copy_from_slice(&c.to_be_bytes());
        m
    }

    #[test]
    fn deconstruct() {
        let m = echo_request();
        let lo = Ipv6Addr::LOCALHOST;
        let r = Repr::parse(&Message::new_checked(&m[..]).unwrap(), lo, lo, true);
        assert_eq!((r.msg_type, r.echo), (128, Some((42, 1))));
        assert_eq!(r.checksum_check, Checked::Correct);
        assert_eq!(r.to_string(), "ICMPv6 echo request id 42 seq 1");
        assert!(is_error(1) && !is_error(128));
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
