//! Domain names in a DNS message (RFC 1035 §3.1, §4.1.4), and how to read them without
//! looping forever.
//!
//! **Names** are sequences of labels, each a length byte (at most 63) and that many
//! bytes, ending with the zero-length root label; the whole name is at most 255 bytes
//! (RFC 1035 §2.3.4). To save space a name may end with a *compression pointer*: two
//! bytes whose top bits are `11`, holding the offset of an earlier name in the message
//! (§4.1.4). Pointers are where a hostile message can make a careless decoder loop
//! forever, so [`read_name`] only follows a pointer to an offset *before* the bytes it
//! is reading (each jump goes strictly backwards, so the walk must end) and caps the
//! number of jumps and the name's length.
//!
//! ```text
//!   label:    0 0 | length (0..=63) | that many bytes    (length 0: the root, the end)
//!
//!   pointer:  +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//!             | 1  1|                OFFSET                   |   from the message's
//!             +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+   first byte
//! ```
//!
//! The top two bits `01` and `10` are neither: RFC 6891 §5 retired the extended label
//! types that once used them.

use super::{malformed, take, truncated};
use crate::wire::Result;
use std::fmt::Write as _;

/// RFC 1035 §2.3.4: "names 255 octets or less" (in wire form, length bytes included).
pub const MAX_NAME_LEN: usize = 255;
/// RFC 1035 §2.3.4: "labels 63 octets or less".
pub const MAX_LABEL_LEN: usize = 63;
/// Compression pointers followed while reading one name. A legal name has at most 127
/// labels, so a real encoder never needs more.
pub const MAX_JUMPS: usize = 127;

/// Append one label to `out` in presentation form: `.` and `\` escaped, bytes outside
/// printable ASCII as `\DDD` (RFC 1035 §5.1), so what is shown can be typed back.
fn push_label(out: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'.' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x21..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
}

/// Read the name that starts at `at` in `msg` (the whole message, since pointers are
/// offsets from its first byte). Returns the name in presentation form (`"."` for the
/// root, else labels joined by dots without the final dot) and the offset just after
/// the name *where it started* (after the first pointer, if any).
///
/// Loop protection: a pointer must point before the start of the labels that led to it,
/// so each jump moves strictly backwards and the walk ends; jumps are capped at
/// [`MAX_JUMPS`]; the name may not exceed [`MAX_NAME_LEN`] bytes in wire form.
pub fn read_name(msg: &[u8], at: usize) -> Result<(String, usize)> {
    read_name_with_pointer(msg, at).map(|(n, end, _)| (n, end))
}

/// [`read_name`], also returning where the name's first compression pointer points.
pub fn read_name_with_pointer(msg: &[u8], at: usize) -> Result<(String, usize, Option<usize>)> {
    let mut first_pointer = None;
    let mut name = String::new();
    let mut pos = at;
    // Where the labels being read began: pointers must point before it.
    let mut segment_start = at;
    let mut end = None;
    let mut jumps = 0;
    let mut wire_len = 0usize;
    loop {
        let len = *msg.get(pos).ok_or_else(|| truncated(pos + 1, msg.len()))?;
        match len >> 6 {
            0b00 => {
                let n = usize::from(len);
                wire_len += 1 + n;
                if wire_len > MAX_NAME_LEN {
                    return Err(malformed("name longer than 255 bytes (RFC 1035 §2.3.4)"));
                }
                if n == 0 {
                    if name.is_empty() {
                        name.push('.');
                    }
                    return Ok((name, end.unwrap_or(pos + 1), first_pointer));
                }
                let label = take(msg, pos + 1, n)?;
                if !name.is_empty() {
                    name.push('.');
                }
                push_label(&mut name, label);
                pos += 1 + n;
            }
            0b11 => {
                let b = take(msg, pos, 2)?;
                let target = usize::from(u16::from_be_bytes([b[0] & 0x3f, b[1]]));
                if end.is_none() {
                    end = Some(pos + 2);
                    first_pointer = Some(target);
                }
                if target >= segment_start {
                    return Err(malformed(
                        "compression pointer does not point backwards (a loop or a forward reference)",
                    ));
                }
                jumps += 1;
                if jumps > MAX_JUMPS {
                    return Err(malformed("too many compression pointers in one name"));
                }
                pos = target;
                segment_start = target;
            }
            // 01 and 10: RFC 6891 §5 retired the extended label types.
            _ => {
                return Err(malformed(
                    "label type 01 or 10: neither a label (00) nor a pointer (11)",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::application::dns::tests::{header, response};
    use crate::wire::application::dns::Repr;
    use crate::wire::Error;

    /// RFC 1035 §4.1.4's example of compression, laid out at offset 20 as the RFC draws
    /// it: F.ISI.ARPA at 20, FOO.F.ISI.ARPA at 40 (a label, then a pointer to 20), and
    /// ARPA at 64 (a pointer to 26); the root at 70 is a single zero byte.
    fn rfc1035_4_1_4() -> Vec<u8> {
        let mut m = vec![0u8; 72];
        m[20..32].copy_from_slice(b"\x01F\x03ISI\x04ARPA\x00");
        m[40..46].copy_from_slice(b"\x03FOO\xc0\x14");
        m[64..66].copy_from_slice(b"\xc0\x1a");
        m
    }

    #[test]
    fn rfc1035_4_1_4_compression() {
        let m = rfc1035_4_1_4();
        assert_eq!(read_name(&m, 20).unwrap(), ("F.ISI.ARPA".into(), 32));
        assert_eq!(read_name(&m, 40).unwrap(), ("FOO.F.ISI.ARPA".into(), 46));
        assert_eq!(read_name(&m, 64).unwrap(), ("ARPA".into(), 66));
        assert_eq!(read_name(&m, 70).unwrap(), (".".into(), 71));
    }

    #[test]
    fn hostile_names_are_errors_in_bounded_work() {
        // A pointer to itself.
        let mut m = header(1, 0);
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert!(matches!(Repr::parse(&m), Err(Error::Malformed { .. })));
        // A loop of two pointers: 12 → 14 → 12.
        let mut m = header(1, 0);
        m.extend_from_slice(&[0xc0, 14, 0xc0, 12, 0, 1, 0, 1]);
        assert!(Repr::parse(&m).is_err());
        // A loop through a label: "a" then a pointer back to the label itself.
        let mut m = header(1, 0);
        m.extend_from_slice(&[1, b'a', 0xc0, 12, 0, 1, 0, 1]);
        assert!(Repr::parse(&m).is_err());
        // A pointer forward.
        let mut m = header(1, 0);
        m.extend_from_slice(&[0xc0, 16, 0, 1, 1, b'a', 0, 0, 1, 0, 1]);
        assert!(Repr::parse(&m).is_err());
        // A chain of backward pointers is fine until the jump cap... each jump must go
        // strictly backwards, so even 8000 of them end; the cap stops them sooner.
        let mut m = header(1, 0);
        m.push(0);
        for i in 0..8000u16 {
            // Pointer i sits at 13 + 2i and points at the one before it (the first at
            // the root label at 12).
            let target = if i == 0 { 12 } else { 11 + 2 * i };
            m.extend_from_slice(&(0xc000 | target).to_be_bytes());
        }
        let last = m.len() - 2;
        // The cap, not the chain's end, stopped the walk.
        let e = read_name(&m, last).unwrap_err();
        assert!(
            e.to_string().contains("too many compression pointers"),
            "{e}"
        );
        // A name of 256 bytes: four 63-byte labels plus the root.
        let mut m = header(1, 0);
        for _ in 0..4 {
            m.push(63);
            m.extend_from_slice(&[b'x'; 63]);
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert!(Repr::parse(&m).is_err());
        // 253 characters (255 bytes of wire form) is the longest legal name.
        let mut m = header(1, 0);
        for _ in 0..3 {
            m.push(63);
            m.extend_from_slice(&[b'x'; 63]);
        }
        m.push(61);
        m.extend_from_slice(&[b'x'; 61]);
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(Repr::parse(&m).unwrap().questions[0].name.len(), 253);
        // Reserved label types 01 and 10.
        for b in [0x40, 0x80] {
            let mut m = header(1, 0);
            m.extend_from_slice(&[b, 0, 0, 1, 0, 1]);
            assert!(Repr::parse(&m).is_err());
        }
        // Counts that claim 65535 questions and answers in a 12-byte message.
        let m = header(65535, 65535);
        let r = Repr::parse_partial(&m).unwrap();
        assert!(r.problem.is_some() && r.questions.is_empty());
        // And 65535 answers where four records are present: all four are read as
        // answers, then the bytes run out.
        let mut m = response();
        m[6] = 0xff;
        m[7] = 0xff;
        let r = Repr::parse_partial(&m).unwrap();
        assert_eq!(r.answers.len(), 4);
        assert!(matches!(r.problem, Some(Error::Truncated { .. })));
    }
}
