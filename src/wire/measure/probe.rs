//! netlab's probe header: the 20 bytes `netlab udp send` and `netlab udp bench` put at the
//! start of every datagram so the receiver can tell loss, duplication, reordering and
//! jitter apart.
//!
//! UDP itself carries no sequence number and no timestamp (RFC 768 gives it four fields:
//! two ports, a length and a checksum). Any application that wants to know what the network
//! did to its datagrams must number them itself, as RTP (RFC 3550 §5.1) does. This header is
//! netlab's small version of that idea; it lives *inside* the UDP payload, so to the network
//! it is ordinary application data (OSI layer 7, TCP/IP application layer).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     magic 'N'  'L'            |   version     |     flags     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           stream id                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        sequence number                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                send timestamp (µs, sender's clock)            |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  message / padding (any length)  ...
//! ```
//!
//! All fields are big-endian (network byte order). The timestamp counts microseconds from
//! an origin the sender chose (the start of its run); the receiver never compares it with
//! its own clock directly, only differences of differences (RFC 3550 §6.4.1), so the two
//! clocks need not agree. An `END` datagram (flag bit 0) closes a stream: its sequence
//! field holds how many data datagrams the sender sent, so the receiver can count the
//! datagrams lost at the tail too.

use crate::wire::{be16, be32, FieldSpec};
use serde::Serialize;
use std::fmt;

/// Bytes in the probe header.
pub const HEADER_LEN: usize = 20;
/// `'N' 'L'`: lets a receiver tell a netlab probe from any other payload.
pub const MAGIC: u16 = 0x4e4c;
/// The layout described above.
pub const VERSION: u8 = 1;
/// Flag bit 0: this datagram ends the stream; `seq` holds the number of data datagrams sent.
pub const FLAG_END: u8 = 0x01;

/// Why a payload is not a netlab probe. The probe is netlab's own header, not a protocol
/// of `layers.rs`, so it has its own small error instead of `wire::Error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Error {
    #[error("netlab probe: truncated: needs {needed} bytes, only {got} present")]
    Truncated { needed: usize, got: usize },
    #[error("not a netlab probe: {reason}")]
    NotAProbe { reason: &'static str },
}

pub type Result<T> = std::result::Result<T, Error>;

/// Where each field sits.
pub mod field {
    use std::ops::Range;
    pub const MAGIC: Range<usize> = 0..2;
    pub const VERSION: usize = 2;
    pub const FLAGS: usize = 3;
    pub const STREAM: Range<usize> = 4..8;
    pub const SEQ: Range<usize> = 8..12;
    pub const SENT_US: Range<usize> = 12..20;
}

/// The public map of the header, for annotated views and docs.
pub const FIELDS: [FieldSpec; 6] = [
    FieldSpec {
        name: "magic",
        span: field::MAGIC,
        about: "'N' 'L' (0x4e4c): this payload starts with a netlab probe header",
    },
    FieldSpec {
        name: "version",
        span: field::VERSION..field::VERSION + 1,
        about: "layout version, 1",
    },
    FieldSpec {
        name: "flags",
        span: field::FLAGS..field::FLAGS + 1,
        about: "bit 0: END (the stream is over; seq = number of data datagrams sent)",
    },
    FieldSpec {
        name: "stream id",
        span: field::STREAM,
        about: "chosen by the sender per run, so one receiver can tell senders and runs apart",
    },
    FieldSpec {
        name: "sequence number",
        span: field::SEQ,
        about:
            "0, 1, 2, ... per stream: gaps are losses, repeats duplicates, going back reordering",
    },
    FieldSpec {
        name: "send timestamp",
        span: field::SENT_US,
        about: "microseconds since the sender started, by the sender's clock (for RFC 3550 jitter)",
    },
];

/// A zero-copy view of a payload that may start with a probe header.
#[derive(Debug, Clone)]
pub struct Probe<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Probe<T> {
    /// Wrap without checking; call [`Probe::check_len`] before any accessor.
    pub const fn new_unchecked(buffer: T) -> Probe<T> {
        Probe { buffer }
    }

    /// Wrap and check that the whole header is present: after this no accessor can panic.
    pub fn new_checked(buffer: T) -> Result<Probe<T>> {
        let p = Probe::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        let got = self.buffer.as_ref().len();
        if got < HEADER_LEN {
            return Err(Error::Truncated {
                needed: HEADER_LEN,
                got,
            });
        }
        Ok(())
    }

    pub fn magic(&self) -> u16 {
        be16(self.buffer.as_ref(), field::MAGIC)
    }
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION]
    }
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }
    pub fn stream(&self) -> u32 {
        be32(self.buffer.as_ref(), field::STREAM)
    }
    pub fn seq(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQ)
    }
    pub fn sent_us(&self) -> u64 {
        let b = self.buffer.as_ref();
        let mut be = [0u8; 8];
        be.copy_from_slice(&b[field::SENT_US]);
        u64::from_be_bytes(be)
    }
    /// What follows the header: the message and any padding.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
    pub fn is_end(&self) -> bool {
        self.flags() & FLAG_END != 0
    }
}

/// The meaning of a probe header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Repr {
    pub stream: u32,
    pub seq: u32,
    pub sent_us: u64,
    /// True for the END datagram that closes a stream.
    pub end: bool,
}

impl Repr {
    /// Read a header. Anything that is not a netlab probe is an error naming why, so the
    /// receiver can show the datagram as raw bytes instead.
    pub fn parse<T: AsRef<[u8]>>(p: &Probe<T>) -> Result<Repr> {
        p.check_len()?;
        if p.magic() != MAGIC {
            return Err(Error::NotAProbe {
                reason: "the first two bytes are not 'N' 'L'",
            });
        }
        if p.version() != VERSION {
            return Err(Error::NotAProbe {
                reason: "unknown probe version",
            });
        }
        Ok(Repr {
            stream: p.stream(),
            seq: p.seq(),
            sent_us: p.sent_us(),
            end: p.is_end(),
        })
    }

    /// Parse the start of a payload.
    pub fn from_bytes(bytes: &[u8]) -> Result<Repr> {
        Repr::parse(&Probe::new_checked(bytes)?)
    }

    /// Write the header into the first [`HEADER_LEN`] bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        if buf.len() < HEADER_LEN {
            return Err(Error::Truncated {
                needed: HEADER_LEN,
                got: buf.len(),
            });
        }
        buf[field::MAGIC].copy_from_slice(&MAGIC.to_be_bytes());
        buf[field::VERSION] = VERSION;
        buf[field::FLAGS] = if self.end { FLAG_END } else { 0 };
        buf[field::STREAM].copy_from_slice(&self.stream.to_be_bytes());
        buf[field::SEQ].copy_from_slice(&self.seq.to_be_bytes());
        buf[field::SENT_US].copy_from_slice(&self.sent_us.to_be_bytes());
        Ok(())
    }

    /// Overwrite only the sequence number and timestamp of an emitted header (the bench's
    /// hot loop reuses one buffer).
    pub fn restamp(buf: &mut [u8], seq: u32, sent_us: u64) -> Result<()> {
        if buf.len() < HEADER_LEN {
            return Err(Error::Truncated {
                needed: HEADER_LEN,
                got: buf.len(),
            });
        }
        buf[field::SEQ].copy_from_slice(&seq.to_be_bytes());
        buf[field::SENT_US].copy_from_slice(&sent_us.to_be_bytes());
        Ok(())
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.end {
            write!(
                f,
                "probe END stream {:08x} after {} datagrams",
                self.stream, self.seq
            )
        } else {
            write!(
                f,
                "probe stream {:08x} seq {} sent at {} µs",
                self.stream, self.seq, self.sent_us
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Emitted by hand, field by field, to pin the layout the docs describe.
    const PROBE_SEQ_7: [u8; 22] = [
        0x4e, 0x4c, // magic 'N' 'L'
        0x01, // version 1
        0x00, // flags: none
        0xde, 0xad, 0xbe, 0xef, // stream id 0xdeadbeef
        0x00, 0x00, 0x00, 0x07, // sequence number 7
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xe2, 0x40, // sent at 123456 µs
        b'h', b'i', // message "hi"
    ];

    #[test]
    fn deconstruct() {
        let p = Probe::new_checked(&PROBE_SEQ_7[..]).unwrap();
        assert_eq!(p.magic(), MAGIC);
        assert_eq!(p.payload(), b"hi");
        let r = Repr::parse(&p).unwrap();
        assert_eq!(
            r,
            Repr {
                stream: 0xdead_beef,
                seq: 7,
                sent_us: 123_456,
                end: false
            }
        );
        assert_eq!(
            r.to_string(),
            "probe stream deadbeef seq 7 sent at 123456 µs"
        );
    }

    #[test]
    fn emit_matches_fixture() {
        let mut buf = [0u8; 22];
        buf[20..].copy_from_slice(b"hi");
        Repr {
            stream: 0xdead_beef,
            seq: 7,
            sent_us: 123_456,
            end: false,
        }
        .emit(&mut buf)
        .unwrap();
        assert_eq!(buf, PROBE_SEQ_7);
        Repr::restamp(&mut buf, 8, 1).unwrap();
        let r = Repr::from_bytes(&buf).unwrap();
        assert_eq!((r.seq, r.sent_us), (8, 1));
    }

    #[test]
    fn end_flag_round_trips() {
        let mut buf = [0u8; HEADER_LEN];
        let end = Repr {
            stream: 1,
            seq: 1000,
            sent_us: 5,
            end: true,
        };
        end.emit(&mut buf).unwrap();
        assert_eq!(buf[field::FLAGS], FLAG_END);
        assert_eq!(Repr::from_bytes(&buf).unwrap(), end);
    }

    #[test]
    fn every_prefix_is_truncated_not_a_panic() {
        for n in 0..HEADER_LEN {
            assert_eq!(
                Repr::from_bytes(&PROBE_SEQ_7[..n]),
                Err(Error::Truncated {
                    needed: HEADER_LEN,
                    got: n
                }),
                "prefix of {n} bytes"
            );
            assert!(Repr::restamp(&mut [0u8; 19][..n.min(19)], 0, 0).is_err());
        }
        assert!(Repr::from_bytes(&PROBE_SEQ_7[..HEADER_LEN]).is_ok());
    }

    #[test]
    fn other_payloads_are_not_probes() {
        let hello = b"hello, this is just text";
        assert!(matches!(
            Repr::from_bytes(hello),
            Err(Error::NotAProbe { .. })
        ));
        let mut v2 = PROBE_SEQ_7;
        v2[field::VERSION] = 2;
        assert!(Repr::from_bytes(&v2).is_err());
    }

    #[test]
    fn fields_cover_the_header_once() {
        let mut covered = [0u8; HEADER_LEN];
        for f in &FIELDS {
            for i in f.span.clone() {
                covered[i] += 1;
            }
        }
        assert!(covered.iter().all(|&c| c == 1), "{covered:?}");
    }
}
