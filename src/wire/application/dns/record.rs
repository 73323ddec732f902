//! Resource records (RFC 1035 §3.2, §3.3, §4.1.3): the answer, authority and additional
//! sections of a DNS message are lists of them.
//!
//! ```text
//!                                 1  1  1  1  1  1
//!   0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! /                      NAME                     /   the owner, a name (see `name`)
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                      TYPE                     |   A, AAAA, MX, ...
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                     CLASS                     |   IN, almost always
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                      TTL                      |   seconds a cache may keep it
//! |                                               |
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                   RDLENGTH                    |   bytes of RDATA
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! /                     RDATA                     /   its meaning depends on TYPE
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! ```
//!
//! RDATA is decoded for A (§3.4.1), AAAA (RFC 3596), NS, CNAME, PTR (§3.3.11, §3.3.1,
//! §3.3.12), MX (§3.3.9), TXT (§3.3.14), SRV (RFC 2782), SOA (§3.3.13) and EDNS0's OPT
//! pseudo-record (RFC 6891 §6.1), whose class and TTL fields mean something else. Names
//! inside RDATA may be compressed too, pointing anywhere earlier in the message, so the
//! readers here take the whole message and an offset, not just the record's bytes.

use super::name::{read_name, read_name_with_pointer};
use super::{malformed, take, truncated};
use crate::wire::{be16, be32, Result};
use core::net::{Ipv4Addr, Ipv6Addr};
use serde::Serialize;
use std::fmt;
use std::fmt::Write as _;
use std::ops::Range;

/// Byte offsets inside a record. A record starts with its owner name, which has no fixed
/// length, so the fixed fields are counted from the end of that name; the RDATA fields
/// from the first byte of RDATA (or, for SOA, from the end of its second name).
pub mod field {
    use std::ops::Range;
    // §4.1.3, after NAME.
    pub const TYPE: Range<usize> = 0..2;
    pub const CLASS: Range<usize> = 2..4;
    pub const TTL: Range<usize> = 4..8;
    pub const RDLENGTH: Range<usize> = 8..10;
    // MX RDATA (§3.3.9), before the exchange's name.
    pub const MX_PREFERENCE: Range<usize> = 0..2;
    // SRV RDATA (RFC 2782), before the target's name.
    pub const SRV_PRIORITY: Range<usize> = 0..2;
    pub const SRV_WEIGHT: Range<usize> = 2..4;
    pub const SRV_PORT: Range<usize> = 4..6;
    // SOA RDATA (§3.3.13), after MNAME and RNAME.
    pub const SOA_SERIAL: Range<usize> = 0..4;
    pub const SOA_REFRESH: Range<usize> = 4..8;
    pub const SOA_RETRY: Range<usize> = 8..12;
    pub const SOA_EXPIRE: Range<usize> = 12..16;
    pub const SOA_MINIMUM: Range<usize> = 16..20;
    // One option in OPT's RDATA (RFC 6891 §6.1.2), before its data.
    pub const OPTION_CODE: Range<usize> = 0..2;
    pub const OPTION_LENGTH: Range<usize> = 2..4;
}

/// The bytes of a record between its owner name and its RDATA.
pub const FIXED_LEN: usize = field::RDLENGTH.end;

/// A record or query type (RFC 1035 §3.2.2, §3.2.3 and later RFCs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RrType(pub u16);

impl RrType {
    pub const A: RrType = RrType(1);
    pub const NS: RrType = RrType(2);
    pub const CNAME: RrType = RrType(5);
    pub const SOA: RrType = RrType(6);
    pub const PTR: RrType = RrType(12);
    pub const MX: RrType = RrType(15);
    pub const TXT: RrType = RrType(16);
    pub const AAAA: RrType = RrType(28);
    pub const SRV: RrType = RrType(33);
    pub const OPT: RrType = RrType(41);

    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "A",
            2 => "NS",
            5 => "CNAME",
            6 => "SOA",
            12 => "PTR",
            13 => "HINFO",
            15 => "MX",
            16 => "TXT",
            28 => "AAAA",
            33 => "SRV",
            35 => "NAPTR",
            39 => "DNAME",
            41 => "OPT",
            43 => "DS",
            46 => "RRSIG",
            47 => "NSEC",
            48 => "DNSKEY",
            50 => "NSEC3",
            64 => "SVCB",
            65 => "HTTPS",
            250 => "TSIG",
            251 => "IXFR",
            252 => "AXFR",
            255 => "ANY",
            257 => "CAA",
            _ => return None,
        })
    }
}

impl fmt::Display for RrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            // RFC 3597 §5's spelling of an unknown type.
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

/// A class (RFC 1035 §3.2.4): almost always IN, the Internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Class(pub u16);

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Multicast DNS (RFC 6762 §5.4, §10.2) borrows the class's top bit: in a question
        // "unicast response wanted" (QU), in a record "cache flush".
        if self.0 & 0x8000 != 0 && matches!(self.0 & 0x7fff, 1 | 3 | 4 | 255) {
            return write!(f, "{}+mDNS-bit", Class(self.0 & 0x7fff));
        }
        match self.0 {
            1 => f.write_str("IN"),
            3 => f.write_str("CH"),
            4 => f.write_str("HS"),
            254 => f.write_str("NONE"),
            255 => f.write_str("ANY"),
            c => write!(f, "CLASS{c}"),
        }
    }
}

/// The data of a resource record, decoded for the common types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Rdata {
    A {
        address: Ipv4Addr,
    },
    Aaaa {
        address: Ipv6Addr,
    },
    Ns {
        target: String,
    },
    Cname {
        target: String,
    },
    Ptr {
        target: String,
    },
    Mx {
        preference: u16,
        exchange: String,
    },
    /// One or more character-strings, each up to 255 bytes (RFC 1035 §3.3.14).
    Txt {
        strings: Vec<String>,
    },
    /// RFC 2782.
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    /// RFC 1035 §3.3.13.
    Soa {
        mname: String,
        rname: String,
        serial: u32,
        refresh: u32,
        retry: u32,
        expire: u32,
        minimum: u32,
    },
    /// EDNS(0)'s pseudo-record (RFC 6891 §6.1): the class and TTL fields are reused.
    Opt {
        udp_payload_size: u16,
        extended_rcode: u8,
        version: u8,
        dnssec_ok: bool,
        /// (option code, option length) pairs.
        options: Vec<(u16, u16)>,
    },
    /// A type netlab does not decode: only its length is shown.
    Other {
        len: u16,
    },
}

/// A resource record of the answer, authority or additional section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub name: String,
    pub rtype: RrType,
    pub rtype_name: String,
    pub class: Class,
    /// Seconds a cache may keep the record (for OPT, the extended RCODE and flags).
    pub ttl: u32,
    pub rdlength: u16,
    pub rdata: Rdata,
    /// The owner name ended in a compression pointer to this offset (RFC 1035 §4.1.4).
    pub name_pointer: Option<usize>,
    /// Offsets inside the message.
    pub span: Range<usize>,
}

fn edns_option_name(code: u16) -> &'static str {
    match code {
        3 => "NSID",
        8 => "client subnet",
        10 => "COOKIE",
        11 => "keepalive",
        12 => "padding",
        15 => "extended error",
        _ => "option",
    }
}

impl fmt::Display for Rdata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rdata::A { address } => write!(f, "{address}"),
            Rdata::Aaaa { address } => write!(f, "{address}"),
            Rdata::Ns { target } | Rdata::Cname { target } | Rdata::Ptr { target } => {
                f.write_str(target)
            }
            Rdata::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {exchange}"),
            Rdata::Txt { strings } => {
                for (i, s) in strings.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "\"{s}\"")?;
                }
                Ok(())
            }
            Rdata::Srv {
                priority,
                weight,
                port,
                target,
            } => write!(f, "{priority} {weight} {port} {target}"),
            Rdata::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => write!(
                f,
                "{mname} {rname} {serial} {refresh} {retry} {expire} {minimum}"
            ),
            Rdata::Opt {
                udp_payload_size,
                version,
                dnssec_ok,
                options,
                ..
            } => {
                write!(f, "EDNS{version} udp {udp_payload_size}")?;
                if *dnssec_ok {
                    f.write_str(" do")?;
                }
                for (code, len) in options {
                    write!(f, ", {} ({code}) {len} bytes", edns_option_name(*code))?;
                }
                Ok(())
            }
            Rdata::Other { len } => write!(f, "{len} bytes not decoded"),
        }
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Rdata::Opt { .. } = self.rdata {
            return write!(f, "OPT {}", self.rdata);
        }
        write!(
            f,
            "{} {} {} {} {}",
            self.name, self.ttl, self.class, self.rtype, self.rdata
        )
    }
}

/// Read a `<character-string>` (RFC 1035 §3.3): a length byte and that many bytes.
fn read_char_string(buf: &[u8], at: usize) -> Result<(String, usize)> {
    let n = usize::from(*buf.get(at).ok_or_else(|| truncated(at + 1, buf.len()))?);
    let s = take(buf, at + 1, n)?;
    let mut out = String::with_capacity(n);
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    Ok((out, at + 1 + n))
}

/// Where one record's RDATA sits: `msg[at..end]`. Names inside it may point anywhere
/// earlier, so the whole message travels along.
struct RdataSpan<'a> {
    msg: &'a [u8],
    at: usize,
    end: usize,
}

impl RdataSpan<'_> {
    /// A name inside RDATA must end inside it.
    fn name(&self, pos: usize) -> Result<(String, usize)> {
        let (n, after) = read_name(self.msg, pos)?;
        if after > self.end {
            return Err(malformed("a name runs past the end of its record's data"));
        }
        Ok((n, after))
    }

    /// The fields read must fill RDLENGTH exactly, no byte short and no byte over.
    fn exact(&self, used: usize) -> Result<()> {
        if used != self.end {
            return Err(malformed("record data length does not match its contents"));
        }
        Ok(())
    }
}

/// Decode the RDATA at `msg[at..at + len]` (names inside may point anywhere earlier).
fn read_rdata(
    msg: &[u8],
    rtype: RrType,
    class: u16,
    ttl: u32,
    at: usize,
    len: usize,
) -> Result<Rdata> {
    let end = at + len;
    let rd = take(msg, at, len)?;
    let span = RdataSpan { msg, at, end };
    Ok(match rtype {
        RrType::A => {
            let b: [u8; 4] = rd
                .try_into()
                .map_err(|_| malformed("an A record's data is not 4 bytes"))?;
            Rdata::A {
                address: Ipv4Addr::from(b),
            }
        }
        RrType::AAAA => {
            let b: [u8; 16] = rd
                .try_into()
                .map_err(|_| malformed("an AAAA record's data is not 16 bytes"))?;
            Rdata::Aaaa {
                address: Ipv6Addr::from(b),
            }
        }
        RrType::NS | RrType::CNAME | RrType::PTR => read_target(&span, rtype)?,
        RrType::MX => read_mx(&span)?,
        RrType::TXT => read_txt(rd)?,
        RrType::SRV => read_srv(&span)?,
        RrType::SOA => read_soa(&span)?,
        RrType::OPT => read_opt(rd, class, ttl)?,
        _ => Rdata::Other { len: len as u16 },
    })
}

/// NS, CNAME and PTR: RDATA is one name and nothing else.
fn read_target(span: &RdataSpan, rtype: RrType) -> Result<Rdata> {
    let (target, after) = span.name(span.at)?;
    span.exact(after)?;
    Ok(match rtype {
        RrType::NS => Rdata::Ns { target },
        RrType::CNAME => Rdata::Cname { target },
        _ => Rdata::Ptr { target },
    })
}

/// MX (RFC 1035 §3.3.9): a 16-bit preference, then the exchange's name.
fn read_mx(span: &RdataSpan) -> Result<Rdata> {
    let p = take(span.msg, span.at, field::MX_PREFERENCE.end)?;
    let (exchange, after) = span.name(span.at + field::MX_PREFERENCE.end)?;
    span.exact(after)?;
    Ok(Rdata::Mx {
        preference: be16(p, field::MX_PREFERENCE),
        exchange,
    })
}

/// TXT (RFC 1035 §3.3.14): one or more character-strings filling the RDATA `rd`.
fn read_txt(rd: &[u8]) -> Result<Rdata> {
    let mut strings = Vec::new();
    let mut pos = 0;
    // Each string consumes at least its length byte, so this ends.
    while pos < rd.len() {
        let (s, after) = read_char_string(rd, pos)?;
        strings.push(s);
        pos = after;
    }
    if strings.is_empty() {
        return Err(malformed("a TXT record with no character-string"));
    }
    Ok(Rdata::Txt { strings })
}

/// SRV (RFC 2782): priority, weight and port, 16 bits each, then the target's name.
fn read_srv(span: &RdataSpan) -> Result<Rdata> {
    let f = take(span.msg, span.at, field::SRV_PORT.end)?;
    let (target, after) = span.name(span.at + field::SRV_PORT.end)?;
    span.exact(after)?;
    Ok(Rdata::Srv {
        priority: be16(f, field::SRV_PRIORITY),
        weight: be16(f, field::SRV_WEIGHT),
        port: be16(f, field::SRV_PORT),
        target,
    })
}

/// SOA (RFC 1035 §3.3.13): two names, then five 32-bit numbers.
fn read_soa(span: &RdataSpan) -> Result<Rdata> {
    let (mname, a) = span.name(span.at)?;
    let (rname, b) = span.name(a)?;
    let n = take(span.msg, b, field::SOA_MINIMUM.end)?;
    span.exact(b + field::SOA_MINIMUM.end)?;
    Ok(Rdata::Soa {
        mname,
        rname,
        serial: be32(n, field::SOA_SERIAL),
        refresh: be32(n, field::SOA_REFRESH),
        retry: be32(n, field::SOA_RETRY),
        expire: be32(n, field::SOA_EXPIRE),
        minimum: be32(n, field::SOA_MINIMUM),
    })
}

/// OPT (RFC 6891 §6.1.2, §6.1.3): RDATA `rd` is a list of options (code, length, data);
/// the record's class is the asker's UDP payload size and its TTL carries the extended
/// RCODE, the EDNS version and the DO bit.
fn read_opt(rd: &[u8], class: u16, ttl: u32) -> Result<Rdata> {
    let mut options = Vec::new();
    let mut pos = 0;
    while pos < rd.len() {
        let h = take(rd, pos, field::OPTION_LENGTH.end)?;
        let code = be16(h, field::OPTION_CODE);
        let olen = be16(h, field::OPTION_LENGTH);
        let data_at = pos + field::OPTION_LENGTH.end;
        take(rd, data_at, usize::from(olen))?;
        options.push((code, olen));
        pos = data_at + usize::from(olen);
    }
    Ok(Rdata::Opt {
        udp_payload_size: class,
        extended_rcode: (ttl >> 24) as u8,
        version: (ttl >> 16) as u8,
        dnssec_ok: ttl & 0x8000 != 0,
        options,
    })
}

/// Read the resource record that starts at `pos`; returns it and the offset after it.
pub(super) fn read_record(msg: &[u8], pos: usize) -> Result<(Record, usize)> {
    let (name, after, name_pointer) = read_name_with_pointer(msg, pos)?;
    let h = take(msg, after, FIXED_LEN)?;
    let rtype = RrType(be16(h, field::TYPE));
    let class = be16(h, field::CLASS);
    let ttl = be32(h, field::TTL);
    let rdlength = be16(h, field::RDLENGTH);
    let at = after + FIXED_LEN;
    let rdata = read_rdata(msg, rtype, class, ttl, at, usize::from(rdlength))?;
    let end = at + usize::from(rdlength);
    Ok((
        Record {
            name,
            rtype,
            rtype_name: rtype.to_string(),
            class: Class(class),
            ttl,
            rdlength,
            rdata,
            name_pointer,
            span: pos..end,
        },
        end,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::application::dns::tests::header;
    use crate::wire::application::dns::Repr;

    #[test]
    fn rdata_of_every_common_type() {
        // One message, names spelled out, one record per type after the header.
        let mut m = header(0, 0);
        let mut n = 0u16;
        let mut rec = |m: &mut Vec<u8>, t: u16, rd: &[u8]| {
            m.extend_from_slice(b"\x01a\x00");
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            m.extend_from_slice(&(rd.len() as u16).to_be_bytes());
            m.extend_from_slice(rd);
            n += 1;
        };
        rec(
            &mut m,
            28,
            &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        );
        rec(&mut m, 15, b"\x00\x0a\x02mx\x00");
        rec(&mut m, 16, b"\x05hello\x02hi");
        rec(&mut m, 33, b"\x00\x01\x00\x02\x14\x95\x03sip\x00");
        rec(&mut m, 6, b"\x02ns\x00\x04root\x00\x00\x00\x00\x01\x00\x00\x0e\x10\x00\x00\x02\x58\x00\x09\x3a\x80\x00\x00\x01\x2c");
        rec(&mut m, 2, b"\x02ns\x00");
        rec(&mut m, 12, b"\x04host\x00");
        rec(&mut m, 99, b"\x01\x02\x03");
        m[6..8].copy_from_slice(&n.to_be_bytes());
        let r = Repr::parse(&m).unwrap();
        let shown: Vec<String> = r.answers.iter().map(|a| a.rdata.to_string()).collect();
        assert_eq!(
            shown,
            [
                "2001:db8::1",
                "10 mx",
                "\"hello\" \"hi\"",
                "1 2 5269 sip",
                "ns root 1 3600 600 604800 300",
                "ns",
                "host",
                "3 bytes not decoded"
            ]
        );
        assert_eq!(r.answers[7].rtype.to_string(), "TYPE99");
        assert_eq!(Class(0x8001).to_string(), "IN+mDNS-bit");
        assert_eq!(Class(0x8002).to_string(), "CLASS32770");
        // A wrong-sized A record is malformed, not misread.
        let mut m = header(0, 1);
        m.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 3, 1, 2, 3]);
        assert!(Repr::parse(&m).is_err());
    }
}
