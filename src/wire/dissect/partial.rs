//! A header cut short: the capture ends (or the packet says it ends) inside a header.
//!
//! The walk cannot decode such a header, but the fields whose bytes are all there can
//! still be shown, as Wireshark shows them: they are read from the same `FIELDS` table
//! the full decoder uses, as raw bytes (a value such as "version and IHL" needs the
//! whole byte, and the decoder's meaning needs the whole header). The first field whose
//! bytes are not all there is named, so the reader knows where the capture stopped.
//! A snap length (`tcpdump -s 40`), a damaged file, and ICMP errors that quote only the
//! first 8 bytes of a TCP header (RFC 792) all produce them.

use crate::layers::Protocol;
use crate::wire::internet::{icmpv4, icmpv6, ipv4, ipv6};
use crate::wire::link::{arp, ethernet};
use crate::wire::text::push_num;
use crate::wire::transport::{tcp, udp};
use crate::wire::{Field, FieldSpec};
use serde::Serialize;

/// The part of a header the capture holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partial {
    /// Header bytes present.
    pub present: usize,
    /// Bytes the header needs.
    pub needed: usize,
    /// The fields whose bytes are all present, in the table's order.
    pub fields_present: Vec<&'static str>,
    /// The first field (by position) whose bytes are not all present; `None` when the
    /// fixed part is whole and only options are cut.
    pub first_missing: Option<&'static str>,
    #[serde(skip)]
    table: &'static [FieldSpec],
}

/// The field table of a protocol netlab decodes with one.
pub fn table(p: Protocol) -> Option<&'static [FieldSpec]> {
    Some(match p {
        Protocol::Ethernet => &ethernet::FIELDS,
        Protocol::Arp => &arp::FIELDS,
        Protocol::Ipv4 => &ipv4::FIELDS,
        Protocol::Ipv6 => &ipv6::FIELDS,
        Protocol::Icmpv4 => &icmpv4::FIELDS,
        Protocol::Icmpv6 => &icmpv6::FIELDS,
        Protocol::Tcp => &tcp::FIELDS,
        Protocol::Udp => &udp::FIELDS,
        _ => return None,
    })
}

impl Partial {
    /// `present` bytes of a header of `needed` bytes, described by `table`.
    pub fn new(table: &'static [FieldSpec], present: usize, needed: usize) -> Partial {
        let mut fields_present = Vec::new();
        for f in table.iter().filter(|f| f.span.end <= present) {
            if !fields_present.contains(&f.name) {
                fields_present.push(f.name);
            }
        }
        let first_missing = table
            .iter()
            .filter(|f| f.span.end > present)
            .min_by_key(|f| f.span.start)
            .map(|f| f.name);
        Partial {
            present,
            needed,
            fields_present,
            first_missing,
            table,
        }
    }

    /// The fields present, their values the raw bytes (hex, and as a number when they
    /// are 2 or 4 bytes long); `header` is the bytes present.
    pub fn fields(&self, header: &[u8]) -> Vec<Field> {
        let mut v = Vec::new();
        for f in self.table.iter().filter(|f| f.span.end <= self.present) {
            if v.iter().any(|g: &Field| g.name == f.name) {
                continue;
            }
            let Some(bytes) = header.get(f.span.clone()) else {
                continue;
            };
            let mut value = String::from("0x");
            for b in bytes {
                value.push_str(&format!("{b:02x}"));
            }
            if matches!(bytes.len(), 2 | 4) {
                let n = bytes.iter().fold(0u64, |n, &b| n << 8 | u64::from(b));
                value.push_str(&format!(" = {n}"));
            }
            v.push(f.with(value));
        }
        v
    }

    /// "cut short: 8 of 20 bytes; src_port, dst_port, seq present; the first field
    /// missing is ack".
    pub fn describe(&self) -> String {
        let present = if self.fields_present.is_empty() {
            "no field".to_owned()
        } else {
            self.fields_present.join(", ")
        };
        format!(
            "{}; {present} present; {}",
            self.brief(),
            self.what_is_missing()
        )
    }

    /// "cut short: 8 of 20 bytes", the layer's one-line summary.
    pub fn brief(&self) -> String {
        format!("cut short: {} of {} bytes", self.present, self.needed)
    }

    /// Append "header cut short: 8 of 20 bytes; the first field missing is ack" (the
    /// one-line view's words, without the formatter).
    pub fn push_line(&self, s: &mut String) {
        s.push_str("header cut short: ");
        push_num(s, self.present as u64);
        s.push_str(" of ");
        push_num(s, self.needed as u64);
        s.push_str(" bytes; ");
        s.push_str(&self.what_is_missing());
    }

    fn what_is_missing(&self) -> String {
        match self.first_missing {
            Some(m) => format!("the first field missing is {m}"),
            None => "the fixed fields are whole, the options are cut".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tcp_header_quoted_by_an_icmp_error_keeps_ports_and_sequence_number() {
        // RFC 792: an ICMP error quotes the first 8 bytes after the IP header.
        let bytes = [0xc3, 0x50, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78];
        let p = Partial::new(table(Protocol::Tcp).unwrap(), 8, tcp::MIN_HEADER_LEN);
        assert_eq!(p.fields_present, ["src_port", "dst_port", "seq"]);
        assert_eq!(p.first_missing, Some("ack"));
        let f = p.fields(&bytes);
        let values: Vec<(&str, &str)> = f.iter().map(|f| (f.name, f.value.as_str())).collect();
        assert_eq!(
            values,
            [
                ("src_port", "0xc350 = 50000"),
                ("dst_port", "0x0050 = 80"),
                ("seq", "0x12345678 = 305419896")
            ]
        );
        assert_eq!(
            p.describe(),
            "cut short: 8 of 20 bytes; src_port, dst_port, seq present; the first field missing is ack"
        );
    }

    #[test]
    fn every_cut_of_an_ipv4_header_names_a_missing_field_until_the_last() {
        let t = table(Protocol::Ipv4).unwrap();
        for n in 0..ipv4::MIN_HEADER_LEN {
            let p = Partial::new(t, n, ipv4::MIN_HEADER_LEN);
            assert!(p.first_missing.is_some(), "{n}");
            assert_eq!(p.fields(&[0u8; 20][..n]).len(), p.fields_present.len());
        }
        assert_eq!(Partial::new(t, 20, 24).first_missing, None);
    }
}
