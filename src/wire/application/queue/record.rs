//! One record of netlab's queue log, and how a segment of records is read back.
//!
//! ```text
//!  0        4        8     9     10                18                26        30        34
//!  +--------+--------+-----+-----+-----------------+-----------------+---------+---------+-----+-------+
//!  | length |  crc   | ver |  0  |     offset      |    timestamp    | key len | val len | key | value |
//!  +--------+--------+-----+-----+-----------------+-----------------+---------+---------+-----+-------+
//!   u32 BE   u32 BE    u8    u8        u64 BE         u64 BE (ms)       u32 BE    u32 BE
//! ```
//!
//! - `length` counts the bytes after itself (30 + key + value), so a reader knows where
//!   the next record starts without reading this one.
//! - `crc` is CRC-32C (Castagnoli, the checksum iSCSI, ext4 and Kafka use) over every byte
//!   after it: version through value. A torn write or a flipped bit changes it.
//! - `offset` is the record's place in its partition: 0, 1, 2, … A reader checks that the
//!   offsets it meets go up.
//! - `timestamp` is when the broker took the record, in milliseconds since 1970, given
//!   to [`Record::emit`] (this module reads no clock).
//!
//! [`scan`] reads a whole segment the way the log does when it opens: it stops at a torn
//! tail (the last write cut short by a crash) and steps over a damaged record in the
//! middle, reporting both, so a damaged record is never returned as data.

/// The format version this module writes and reads.
pub const VERSION: u8 = 1;

/// Bytes before the key: length, crc, version, attributes, offset, timestamp, two lengths.
pub const HEADER_LEN: usize = 34;

/// The largest key plus value a record may carry (a record is read into memory whole).
pub const MAX_PAYLOAD: usize = 1 << 20;

mod field {
    use core::ops::Range;
    pub const LENGTH: Range<usize> = 0..4;
    pub const CRC: Range<usize> = 4..8;
    pub const VERSION: usize = 8;
    pub const ATTRIBUTES: usize = 9;
    pub const OFFSET: Range<usize> = 10..18;
    pub const TIMESTAMP: Range<usize> = 18..26;
    pub const KEY_LEN: Range<usize> = 26..30;
    pub const VALUE_LEN: Range<usize> = 30..34;
}

/// Why bytes are not a record; each names the rule broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("a record needs {needed} bytes, only {got} are there")]
    Truncated { needed: usize, got: usize },
    #[error("the length field says {0} bytes, less than a record's fixed 30")]
    LengthTooShort(u32),
    #[error("the key and value hold {0} bytes, more than the 1 MiB a record may carry")]
    TooLarge(usize),
    #[error(
        "the checksum is {stored:#010x} but the bytes give {computed:#010x}: the record is damaged"
    )]
    BadChecksum { stored: u32, computed: u32 },
    #[error("format version {0}, this netlab reads version 1")]
    UnknownVersion(u8),
    #[error("offset {found} where {expected} or more was due: offsets go up in a partition")]
    OffsetBackwards { found: u64, expected: u64 },
    #[error("the key length {key} and value length {value} do not add up to the record's length {length}")]
    LengthMismatch { key: u32, value: u32, length: u32 },
}

/// A record, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub offset: u64,
    /// Milliseconds since 1970-01-01 UTC.
    pub timestamp: u64,
    /// Empty when the publisher gave no key.
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

fn be32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

impl Record {
    /// How many bytes [`Record::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.key.len() + self.value.len()
    }

    /// Append the record's bytes to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), RecordError> {
        let payload = self.key.len() + self.value.len();
        if payload > MAX_PAYLOAD {
            return Err(RecordError::TooLarge(payload));
        }
        let start = out.len();
        let length = (self.buffer_len() - 4) as u32;
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        out.push(VERSION);
        out.push(0);
        out.extend_from_slice(&self.offset.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&(self.key.len() as u32).to_be_bytes());
        out.extend_from_slice(&(self.value.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&self.value);
        let crc = crc32c::crc32c(&out[start + field::VERSION..]);
        out[start + field::CRC.start..start + field::CRC.end].copy_from_slice(&crc.to_be_bytes());
        Ok(())
    }

    /// Read the record at the start of `bytes`; returns it and how many bytes it took.
    pub fn parse(bytes: &[u8]) -> Result<(Record, usize), RecordError> {
        let total = Self::frame_len(bytes)?;
        // The cheap checks first: `scan` tries every byte of a damaged stretch, and most
        // fail here before a checksum over up to a megabyte is computed.
        if bytes[field::VERSION] != VERSION {
            return Err(RecordError::UnknownVersion(bytes[field::VERSION]));
        }
        let _attributes = bytes[field::ATTRIBUTES];
        let key_len = be32(&bytes[field::KEY_LEN]);
        let value_len = be32(&bytes[field::VALUE_LEN]);
        let length = be32(&bytes[field::LENGTH]);
        if u64::from(key_len) + u64::from(value_len) + 30 != u64::from(length) {
            return Err(RecordError::LengthMismatch {
                key: key_len,
                value: value_len,
                length,
            });
        }
        let stored = be32(&bytes[field::CRC]);
        let computed = crc32c::crc32c(&bytes[field::VERSION..total]);
        if stored != computed {
            return Err(RecordError::BadChecksum { stored, computed });
        }
        let key_end = HEADER_LEN + key_len as usize;
        let record = Record {
            offset: be64(&bytes[field::OFFSET]),
            timestamp: be64(&bytes[field::TIMESTAMP]),
            key: bytes[HEADER_LEN..key_end].to_vec(),
            value: bytes[key_end..total].to_vec(),
        };
        Ok((record, total))
    }

    /// The length of the record starting at `bytes`, from its length field alone,
    /// checked against the bounds and the bytes present.
    pub fn frame_len(bytes: &[u8]) -> Result<usize, RecordError> {
        if bytes.len() < HEADER_LEN {
            return Err(RecordError::Truncated {
                needed: HEADER_LEN,
                got: bytes.len(),
            });
        }
        let length = be32(&bytes[field::LENGTH]);
        if length < 30 {
            return Err(RecordError::LengthTooShort(length));
        }
        let payload = length as usize - 30;
        if payload > MAX_PAYLOAD {
            return Err(RecordError::TooLarge(payload));
        }
        let total = length as usize + 4;
        if bytes.len() < total {
            return Err(RecordError::Truncated {
                needed: total,
                got: bytes.len(),
            });
        }
        Ok(total)
    }
}

/// A record found by [`scan`]: where it sits in the segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub position: usize,
    pub len: usize,
    pub offset: u64,
    pub timestamp: u64,
}

/// Something [`scan`] stepped over or cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// Bytes between two good records that are no record: skipped. The offsets between
    /// the records on either side are missing from the log.
    Skipped {
        position: usize,
        len: usize,
        error: RecordError,
    },
    /// The segment ends in bytes that are no whole, good record (a write cut short):
    /// the log cuts the file at `position`.
    TornTail {
        position: usize,
        len: usize,
        error: RecordError,
    },
}

/// What a segment holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scan {
    pub records: Vec<Found>,
    pub damage: Vec<Damage>,
    /// Where good data ends: the length to cut the file to.
    pub valid_len: usize,
}

/// Read every record of a segment whose first record should carry `base` (or more).
///
/// A record that fails its checks is damage. If a good record with a higher offset
/// follows somewhere after it, the bytes in between are skipped with a note; if none
/// does, the rest of the segment is a torn tail. Offsets must go up; a record whose
/// offset does not is damage too.
pub fn scan(bytes: &[u8], base: u64) -> Scan {
    let mut scan = Scan::default();
    let mut position = 0;
    let mut next = base;
    while position < bytes.len() {
        match good_at(bytes, position, next) {
            Ok(found) => {
                position += found.len;
                next = found.offset + 1;
                scan.valid_len = position;
                scan.records.push(found);
            }
            Err(error) => match resync(bytes, position + 1, next) {
                Some(found) => {
                    scan.damage.push(Damage::Skipped {
                        position,
                        len: found.position - position,
                        error,
                    });
                    position = found.position;
                }
                None => {
                    scan.damage.push(Damage::TornTail {
                        position,
                        len: bytes.len() - position,
                        error,
                    });
                    break;
                }
            },
        }
    }
    scan
}

/// A good record at `position` with an offset of at least `next`.
fn good_at(bytes: &[u8], position: usize, next: u64) -> Result<Found, RecordError> {
    let (record, len) = Record::parse(&bytes[position..])?;
    if record.offset < next {
        // A stale or misplaced record is no part of the sequence: damage.
        return Err(RecordError::OffsetBackwards {
            found: record.offset,
            expected: next,
        });
    }
    Ok(Found {
        position,
        len,
        offset: record.offset,
        timestamp: record.timestamp,
    })
}

/// The first position from `from` on where a good record with offset ≥ `next` starts.
/// Bounded by the segment's length: one try per byte.
fn resync(bytes: &[u8], from: usize, next: u64) -> Option<Found> {
    (from..bytes.len()).find_map(|p| good_at(bytes, p, next).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: u64, key: &str, value: &str) -> Record {
        Record {
            offset,
            timestamp: 1_765_000_000_000 + offset,
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
        }
    }

    fn segment(records: &[Record]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            r.emit(&mut out).unwrap();
        }
        out
    }

    #[test]
    fn crc32c_matches_the_published_check_value() {
        // RFC 3720 (iSCSI) B.4 and every CRC catalogue: CRC-32C("123456789") = 0xE3069283.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn a_record_in_bytes() {
        let mut out = Vec::new();
        record(5, "k", "hi").emit(&mut out).unwrap();
        assert_eq!(out.len(), 37);
        assert_eq!(&out[0..4], &[0, 0, 0, 33], "length: 30 + 1 + 2");
        assert_eq!(out[8], 1, "version");
        assert_eq!(&out[10..18], &[0, 0, 0, 0, 0, 0, 0, 5], "offset");
        assert_eq!(&out[26..30], &[0, 0, 0, 1], "key length");
        assert_eq!(&out[30..34], &[0, 0, 0, 2], "value length");
        assert_eq!(&out[34..], b"khi");
        let crc = crc32c::crc32c(&out[8..]);
        assert_eq!(&out[4..8], &crc.to_be_bytes());
        let (back, len) = Record::parse(&out).unwrap();
        assert_eq!((back, len), (record(5, "k", "hi"), 37));
    }

    #[test]
    fn every_prefix_is_truncated_and_never_panics() {
        let mut out = Vec::new();
        record(1, "key", "value").emit(&mut out).unwrap();
        for cut in 0..out.len() {
            assert!(
                matches!(
                    Record::parse(&out[..cut]),
                    Err(RecordError::Truncated { .. })
                ),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let mut out = Vec::new();
        record(9, "k", "value").emit(&mut out).unwrap();
        for byte in 0..out.len() {
            for bit in 0..8 {
                let mut bad = out.clone();
                bad[byte] ^= 1 << bit;
                assert!(Record::parse(&bad).is_err(), "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn a_huge_length_is_refused_before_reading() {
        let mut out = vec![0xff, 0xff, 0xff, 0xff];
        out.resize(HEADER_LEN, 0);
        assert!(matches!(Record::parse(&out), Err(RecordError::TooLarge(_))));
        let mut out = Vec::new();
        let big = Record {
            value: vec![0; MAX_PAYLOAD + 1],
            ..record(0, "", "")
        };
        assert_eq!(
            big.emit(&mut out),
            Err(RecordError::TooLarge(MAX_PAYLOAD + 1))
        );
    }

    #[test]
    fn a_clean_segment_scans_whole() {
        let bytes = segment(&[
            record(10, "", "a"),
            record(11, "x", "b"),
            record(12, "", ""),
        ]);
        let s = scan(&bytes, 10);
        assert_eq!(
            s.records.iter().map(|f| f.offset).collect::<Vec<_>>(),
            [10, 11, 12]
        );
        assert!(s.damage.is_empty());
        assert_eq!(s.valid_len, bytes.len());
    }

    #[test]
    fn a_torn_tail_is_found_at_every_cut() {
        let bytes = segment(&[record(0, "", "first"), record(1, "", "second")]);
        let first_len = record(0, "", "first").buffer_len();
        for cut in first_len + 1..bytes.len() {
            let s = scan(&bytes[..cut], 0);
            assert_eq!(s.records.len(), 1, "cut {cut}");
            assert_eq!(s.valid_len, first_len);
            assert!(
                matches!(s.damage[..], [Damage::TornTail { position, .. }] if position == first_len)
            );
        }
    }

    #[test]
    fn a_damaged_record_in_the_middle_is_skipped_not_returned() {
        let records = [
            record(0, "", "one"),
            record(1, "", "two"),
            record(2, "", "three"),
        ];
        let mut bytes = segment(&records);
        let second = records[0].buffer_len();
        bytes[second + HEADER_LEN] ^= 0x20; // a letter of "two"
        let s = scan(&bytes, 0);
        assert_eq!(
            s.records.iter().map(|f| f.offset).collect::<Vec<_>>(),
            [0, 2]
        );
        assert!(matches!(
            &s.damage[..],
            [Damage::Skipped { position, len, error: RecordError::BadChecksum { .. } }]
                if *position == second && *len == records[1].buffer_len()
        ));
        assert_eq!(s.valid_len, bytes.len());
    }

    #[test]
    fn a_damaged_length_field_is_stepped_over_by_resyncing() {
        let records = [
            record(0, "", "one"),
            record(1, "", "two"),
            record(2, "", "three"),
        ];
        let mut bytes = segment(&records);
        let second = records[0].buffer_len();
        bytes[second] = 0x7f; // the length of record 1 now points far away
        let s = scan(&bytes, 0);
        assert_eq!(
            s.records.iter().map(|f| f.offset).collect::<Vec<_>>(),
            [0, 2]
        );
        assert_eq!(s.damage.len(), 1);
    }

    #[test]
    fn offsets_must_go_up() {
        let bytes = segment(&[record(4, "", "a"), record(4, "", "again")]);
        let s = scan(&bytes, 4);
        assert_eq!(s.records.len(), 1);
        assert!(matches!(s.damage[..], [Damage::TornTail { .. }]));
    }
}
