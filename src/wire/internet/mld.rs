//! Multicast Listener Discovery version 2 (RFC 3810): how an IPv6 host tells the routers
//! on its link which multicast groups it wants to receive.
//!
//! OSI layer 3 (network), inside ICMPv6 · TCP/IP internet layer · PDU: **message**.
//! Every IPv6 host joins groups as soon as an interface comes up (the all-nodes group,
//! and a solicited-node group per address, which neighbor discovery sends to), so MLD
//! reports are among the first packets an IPv6 interface sends. They go to `ff02::16`
//! (all MLDv2-capable routers) with a hop limit of 1 and a hop-by-hop header carrying
//! Router Alert, so that routers look at them although they are not addressed to them.
//!
//! A report (ICMPv6 type 143) holds multicast address records:
//!
//! ```text
//! | 143 | code | checksum | reserved (16) | number of records (16) |
//! record: | type | aux data len (32-bit words) | number of sources (16) |
//!         | multicast address (128) | source addresses (128 each) | aux data |
//! ```
//!
//! Record types (§5.2.12): 1 "is include", 2 "is exclude" (answers to a query), 3
//! "change to include", 4 "change to exclude" (a host joining a group with no source
//! filter sends this), 5 "allow new sources", 6 "block old sources".

use crate::layers::Protocol;
use crate::wire::{be16, Error, Field, Result};
use core::net::Ipv6Addr;

/// ICMPv6 type of an MLDv2 report.
pub const REPORT_V2: u8 = 143;

/// Offsets in a report, from the ICMPv6 message's first byte.
pub mod field {
    use std::ops::Range;
    pub const RESERVED: Range<usize> = 4..6;
    pub const RECORD_COUNT: Range<usize> = 6..8;
    pub const RECORDS_START: usize = 8;
}

/// A record's fixed part: type, aux data length, number of sources, multicast address.
pub const RECORD_HEADER_LEN: usize = 20;

/// One multicast address record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub record_type: u8,
    /// Auxiliary data, in 32-bit words (MLDv2 defines none).
    pub aux_words: u8,
    pub group: Ipv6Addr,
    /// The source addresses, 16 bytes each.
    pub sources: &'a [u8],
    /// Where the record starts and ends, from the message's first byte.
    pub span: std::ops::Range<usize>,
}

impl Record<'_> {
    pub fn source_count(&self) -> usize {
        self.sources.len() / 16
    }

    pub fn sources(&self) -> impl Iterator<Item = Ipv6Addr> + '_ {
        self.sources.chunks_exact(16).map(|c| {
            let mut a = [0u8; 16];
            a.copy_from_slice(c);
            Ipv6Addr::from(a)
        })
    }

    pub fn type_name(&self) -> &'static str {
        match self.record_type {
            1 => "is include",
            2 => "is exclude",
            3 => "change to include",
            4 => "change to exclude",
            5 => "allow new sources",
            6 => "block old sources",
            _ => "unknown record type",
        }
    }

    pub fn describe(&self) -> String {
        let mut s = format!("{} ({}) {}", self.type_name(), self.record_type, self.group);
        if self.source_count() == 0 {
            s.push_str(", no sources");
        }
        for (i, a) in self.sources().enumerate() {
            s.push_str(if i == 0 { ", sources " } else { " " });
            s.push_str(&a.to_string());
        }
        s
    }
}

/// The number of records a report says it holds.
pub fn record_count(message: &[u8]) -> Option<u16> {
    (message.len() >= field::RECORD_COUNT.end).then(|| be16(message, field::RECORD_COUNT))
}

/// Walk the records of report `message` (the whole ICMPv6 message). At most as many as
/// the count says, each at least 20 bytes, so the walk ends; a record past the end of
/// the message is an error, after the records before it were handed over.
pub fn walk_records<'a>(message: &'a [u8], mut each: impl FnMut(Record<'a>)) -> Result<()> {
    let count = record_count(message).ok_or(Error::Truncated {
        protocol: Protocol::Icmpv6,
        needed: field::RECORD_COUNT.end,
        got: message.len(),
    })?;
    let mut at = field::RECORDS_START;
    for _ in 0..count {
        let cut = |needed| Error::Truncated {
            protocol: Protocol::Icmpv6,
            needed,
            got: message.len(),
        };
        let head = message
            .get(at..at + RECORD_HEADER_LEN)
            .ok_or(cut(at + RECORD_HEADER_LEN))?;
        let sources = usize::from(be16(head, 2..4));
        let end = at + RECORD_HEADER_LEN + sources * 16 + usize::from(head[1]) * 4;
        if end > message.len() {
            return Err(cut(end));
        }
        let mut g = [0u8; 16];
        g.copy_from_slice(&head[4..20]);
        let from = at + RECORD_HEADER_LEN;
        each(Record {
            record_type: head[0],
            aux_words: head[1],
            group: Ipv6Addr::from(g),
            sources: &message[from..from + sources * 16],
            span: at..end,
        });
        at = end;
    }
    Ok(())
}

/// The report's count and records as fields for the views.
pub fn fields(message: &[u8], v: &mut Vec<Field>) {
    if let Some(n) = record_count(message) {
        v.push(Field::new(
            "records",
            n.to_string(),
            field::RECORD_COUNT,
            "how many multicast address records follow",
        ));
    }
    let walked = walk_records(message, |r| {
        v.push(Field::new(
            "record",
            r.describe(),
            r.span.clone(),
            "one group this host listens to, and how: include or exclude the sources listed",
        ));
    });
    if let Err(e) = walked {
        let start = field::RECORDS_START.min(message.len());
        v.push(Field::new(
            "records",
            format!("malformed: {e}"),
            start..message.len(),
            "multicast address records",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An MLDv2 report from `tests/fixtures/ipv6-nd-mld-netns.pcap`: two "change to
    /// exclude" records with no sources (joining ff02::1:ff00:1 and ff02::1:ffc0:c590).
    fn report() -> Vec<u8> {
        let mut m = vec![0x8f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02];
        for group in ["ff02::1:ff00:1", "ff02::1:ffc0:c590"] {
            m.extend_from_slice(&[4, 0, 0, 0]);
            m.extend_from_slice(&group.parse::<Ipv6Addr>().unwrap().octets());
        }
        m
    }

    #[test]
    fn records_are_walked() {
        let m = report();
        let mut seen = Vec::new();
        walk_records(&m, |r| seen.push((r.describe(), r.span))).unwrap();
        assert_eq!(
            seen,
            [
                (
                    "change to exclude (4) ff02::1:ff00:1, no sources".to_owned(),
                    8..28
                ),
                (
                    "change to exclude (4) ff02::1:ffc0:c590, no sources".to_owned(),
                    28..48
                )
            ]
        );
    }

    #[test]
    fn a_record_with_sources() {
        let mut m = vec![0x8f, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 2];
        m.extend_from_slice(&"ff05::2".parse::<Ipv6Addr>().unwrap().octets());
        m.extend_from_slice(&"fd00::1".parse::<Ipv6Addr>().unwrap().octets());
        m.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        let mut seen = Vec::new();
        walk_records(&m, |r| seen.push(r.describe())).unwrap();
        assert_eq!(seen, ["is include (1) ff05::2, sources fd00::1 fd00::2"]);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let m = report();
        for n in 0..m.len() {
            let mut count = 0;
            assert!(walk_records(&m[..n], |_| count += 1).is_err(), "prefix {n}");
            assert!(count <= 1);
        }
    }
}
