//! UDP datagrams (RFC 768).
//!
//! OSI layer 4 (transport) · TCP/IP transport layer · PDU: **datagram**.
//!
//! ```text
//!  0               1               2               3
//! +-------------------------------+-------------------------------+
//! |          Source Port          |       Destination Port        |
//! +-------------------------------+-------------------------------+
//! |            Length             |           Checksum            |
//! +-------------------------------+-------------------------------+
//! |                          data ...                             |
//! ```
//!
//! Eight bytes, nothing more: no connection, no sequence numbers, no acknowledgements.
//! The length counts the header too, so an empty datagram says 8. A zero checksum over
//! IPv4 means "not computed" (RFC 768); over IPv6 it is mandatory (RFC 8200 §8.1).

use crate::layers::Protocol;
use crate::wire::checksum::{self, Checked, Pseudo};
use crate::wire::text::{self, Text};
use crate::wire::{be16, need_len, Error, Field, FieldSpec, Result};
use serde::Serialize;
use std::fmt;

pub mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

pub const HEADER_LEN: usize = field::CHECKSUM.end;

/// Every field the views show, in their order: name, bytes, meaning.
pub const FIELDS: [FieldSpec; 4] = [
    FieldSpec::new("src_port", field::SRC_PORT, "the sending socket's port (0 = none, no reply expected)"),
    FieldSpec::new("dst_port", field::DST_PORT, "the receiving socket's port"),
    FieldSpec::new("length", field::LENGTH, "header plus data, in bytes (8 for an empty datagram)"),
    FieldSpec::new("checksum", field::CHECKSUM, "Internet checksum over a pseudo-header, the header and the data; 0 = not computed (IPv4 only)"),
];

/// A zero-copy view of a UDP datagram.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Datagram<T> {
    /// Strict: the length field's bytes must all be present.
    pub fn new_checked(buffer: T) -> Result<Datagram<T>> {
        let d = Datagram::new_header_checked(buffer)?;
        let claimed = usize::from(d.length());
        let available = d.buffer.as_ref().len();
        if claimed > available {
            return Err(Error::BadLength {
                protocol: Protocol::Udp,
                claimed,
                available,
            });
        }
        Ok(d)
    }

    /// Lenient, for captures cut by a snap length: the 8-byte header must be present.
    pub fn new_header_checked(buffer: T) -> Result<Datagram<T>> {
        need_len(buffer.as_ref(), HEADER_LEN, Protocol::Udp)?;
        let d = Datagram { buffer };
        if usize::from(d.length()) < HEADER_LEN {
            return Err(Error::Malformed {
                protocol: Protocol::Udp,
                reason: "length field below 8",
            });
        }
        Ok(d)
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn src_port(&self) -> u16 {
        be16(self.b(), field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.b(), field::DST_PORT)
    }
    pub fn length(&self) -> u16 {
        be16(self.b(), field::LENGTH)
    }
    pub fn checksum(&self) -> u16 {
        be16(self.b(), field::CHECKSUM)
    }
    /// The data as captured.
    pub fn payload(&self) -> &[u8] {
        let end = usize::from(self.length()).min(self.b().len());
        &self.b()[HEADER_LEN..end]
    }
    pub fn verify_checksum(&self, pseudo: Pseudo) -> Checked {
        // RFC 768: "An all zero transmitted checksum value means that the transmitter
        // generated no checksum".
        if self.checksum() == 0 {
            return Checked::NotComputed;
        }
        let len = self.length();
        if usize::from(len) > self.b().len() {
            return Checked::Unverifiable;
        }
        let sum = pseudo.sum(17, u32::from(len)) + checksum::sum(&self.b()[..usize::from(len)]);
        Checked::from_sum(self.checksum(), sum)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Repr {
    pub src_port: u16,
    pub dst_port: u16,
    pub length: u16,
    pub checksum: u16,
    pub checksum_check: Checked,
    pub payload_len: usize,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(d: &Datagram<T>, pseudo: Pseudo) -> Repr {
        Repr {
            src_port: d.src_port(),
            dst_port: d.dst_port(),
            length: d.length(),
            checksum: d.checksum(),
            checksum_check: d.verify_checksum(pseudo),
            payload_len: usize::from(d.length()) - HEADER_LEN,
        }
    }
    pub fn fields(&self) -> Vec<Field> {
        let [src_port, dst_port, length, checksum] = &FIELDS;
        vec![
            src_port.with(text::num(self.src_port)),
            dst_port.with(text::num(self.dst_port)),
            length.with(
                Text::new()
                    .num(self.length)
                    .str(" (8 header + ")
                    .num(self.payload_len as u64)
                    .str(" data)")
                    .into(),
            ),
            checksum.with(
                Text::new()
                    .hex16(self.checksum)
                    .str(": ")
                    .str(&self.checksum_check.describe(true))
                    .into(),
            ),
        ]
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "UDP {} → {} len {}",
            self.src_port, self.dst_port, self.payload_len
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf hi | nc -u -p 40000 127.0.0.1 9000` (UDP part only; STYLE.md's fixture).
    const LO_HI: [u8; 10] = [
        0x9c, 0x40, 0x23, 0x28, // src port 40000 | dst port 9000
        0x00, 0x0a, 0xda, 0x05, // length 10      | checksum 0xda05
        0x68, 0x69, // "hi"
    ];
    const LO: [u8; 4] = [127, 0, 0, 1];

    #[test]
    fn deconstruct() {
        let d = Datagram::new_checked(&LO_HI[..]).unwrap();
        let r = Repr::parse(&d, Pseudo::V4(LO, LO));
        assert_eq!(
            (r.src_port, r.dst_port, r.length, r.payload_len),
            (40000, 9000, 10, 2)
        );
        assert_eq!(d.payload(), b"hi");
        assert_eq!(r.checksum_check, Checked::Correct);
        assert_eq!(r.to_string(), "UDP 40000 → 9000 len 2");
    }

    #[test]
    fn zero_checksum_means_not_computed() {
        let mut d = LO_HI;
        d[6] = 0;
        d[7] = 0;
        let r = Repr::parse(&Datagram::new_checked(&d[..]).unwrap(), Pseudo::V4(LO, LO));
        assert_eq!(r.checksum_check, Checked::NotComputed);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for n in 0..LO_HI.len() {
            assert!(
                Datagram::new_checked(&LO_HI[..n]).is_err(),
                "prefix of {n} bytes"
            );
        }
    }

    #[test]
    fn field_table_covers_the_header() {
        crate::wire::field::assert_table_covers(&FIELDS, HEADER_LEN);
    }
}
