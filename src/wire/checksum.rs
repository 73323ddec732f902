//! The Internet checksum (RFC 1071) and the pseudo-headers TCP, UDP and ICMPv6 add to it.
//!
//! The checksum is the ones' complement of the ones' complement sum of the data taken as
//! 16-bit big-endian words. A receiver sums everything *including* the checksum field; a
//! correct packet sums to `0xffff`.
//!
//! **On loopback, a "wrong" checksum is normal.** Linux hands TCP and UDP checksums to the
//! network card ("checksum offload", `CHECKSUM_PARTIAL`). On `lo` there is no card, the
//! packet never leaves memory, and a capture sees the partial sum the kernel left in the
//! field. netlab reports this; it never drops a packet for it.

use super::text::push_hex16;
use serde::Serialize;

/// Add `data` to a running sum as 16-bit big-endian words. An odd last byte is padded
/// with a zero byte on the right (RFC 1071 §4.1). The result is folded to 16 bits, so
/// callers can add a few such sums without overflow.
///
/// RFC 1071 §2 lists three tricks that give the same sum with less work, all used here:
/// (A) byte order independence: words read in the machine's own byte order sum to the
/// byte-swapped sum, so one swap at the end replaces one per word; (B) deferred carries:
/// add into a wider accumulator and fold the carries in once at the end; (C) parallel
/// summation: add 32-bit words, because a carry out of bit 31 is worth 2^32, which is 1
/// modulo 2^16 - 1, just like a carry out of bit 15. A 64-bit accumulator cannot
/// overflow: it holds the sum of 2^32 words, 16 GiB of data.
pub fn sum(data: &[u8]) -> u32 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder(); // 0 to 3 bytes, padded on the right
    let mut last = [0u8; 4];
    last[..rest.len()].copy_from_slice(rest);
    acc += u64::from(u32::from_ne_bytes(last));
    // 64 → 32 → 16 bits, each carry added back in at the bottom.
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    let native = fold(acc as u32); // at most 32 bits after the two folds above
    u32::from(u16::from_be(native)) // the sum in network byte order
}

/// Fold the carries back in until the sum fits 16 bits.
pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16 // the loop above leaves at most 16 bits
}

/// The checksum to put in a header: the complement of the folded sum.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data))
}

/// The IPv4 pseudo-header of RFC 793 §3.1 / RFC 768: source, destination, zero,
/// protocol, and the TCP or UDP length.
pub fn pseudo_v4(src: [u8; 4], dst: [u8; 4], protocol: u8, len: u16) -> u32 {
    sum(&src) + sum(&dst) + u32::from(protocol) + u32::from(len)
}

/// The IPv6 pseudo-header of RFC 8200 §8.1: source, destination, 32-bit upper-layer
/// length, three zero bytes and the next header value.
pub fn pseudo_v6(src: [u8; 16], dst: [u8; 16], next_header: u8, len: u32) -> u32 {
    sum(&src) + sum(&dst) + (len >> 16) + (len & 0xffff) + u32::from(next_header)
}

/// Where the pseudo-header addresses come from: the IP header around the TCP segment or
/// UDP datagram whose checksum is being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pseudo {
    V4([u8; 4], [u8; 4]),
    V6([u8; 16], [u8; 16]),
}

impl Pseudo {
    pub fn sum(self, protocol: u8, len: u32) -> u32 {
        match self {
            Pseudo::V4(s, d) => pseudo_v4(s, d, protocol, len as u16), // IPv4 lengths fit 16 bits
            Pseudo::V6(s, d) => pseudo_v6(s, d, protocol, len),
        }
    }
}

/// What a checksum check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Checked {
    /// The sum came out right.
    Correct,
    /// The sum came out wrong; `found` is what the header said, `expected` what it should be.
    Incorrect { found: u16, expected: u16 },
    /// The sender left the checksum out (UDP over IPv4 with a zero field, RFC 768).
    NotComputed,
    /// Not all the bytes were captured (snap length), so it cannot be checked.
    Unverifiable,
    /// The packet is one fragment of a larger IP datagram: the sum covers the whole
    /// datagram, so it is checked once the fragments are put back together
    /// (`wire::internet::fragments`).
    Fragmented,
}

impl Checked {
    /// Compare a received field against the sum over everything with the field zeroed
    /// out by the caller's arithmetic: `sum_with_field` includes the field itself.
    pub fn from_sum(found: u16, sum_with_field: u32) -> Checked {
        if fold(sum_with_field) == 0xffff {
            Checked::Correct
        } else {
            // Remove the field from the sum to say what it should have been.
            let without = fold(sum_with_field + u32::from(!found));
            let expected = !without;
            Checked::Incorrect { found, expected }
        }
    }

    pub fn describe(self, on_loopback_ok: bool) -> String {
        match self {
            Checked::Correct => "correct".into(),
            Checked::Incorrect { found, expected } => {
                let mut s = String::with_capacity(160);
                s.push_str("0x");
                push_hex16(&mut s, found);
                s.push_str(if on_loopback_ok {
                    " does not verify (expected 0x"
                } else {
                    " is wrong (expected 0x"
                });
                push_hex16(&mut s, expected);
                s.push(')');
                if on_loopback_ok {
                    s.push_str(
                        "; normal on loopback and with checksum offload: the kernel left the sum to hardware",
                    );
                }
                s
            }
            Checked::NotComputed => {
                "0 = not computed by the sender (allowed for UDP over IPv4)".into()
            }
            Checked::Unverifiable => "not verifiable: the capture cut the packet short".into(),
            Checked::Fragmented => {
                "not verifiable in this fragment: the sum covers the whole datagram, checked when its fragments are reassembled".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 §3's worked example: the words 0001 f203 f4f5 f6f7 sum to ddf2.
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    /// The 32-bit words and deferred carries of `sum` give what RFC 1071 §4.1's loop over
    /// 16-bit words gives, at every length (odd, even, not a multiple of 4) and with
    /// carries in every position (bytes near 0xff).
    #[test]
    fn wide_words_sum_like_16_bit_words() {
        let data: Vec<u8> = (0..300u32).map(|i| (0xff - (i * 7) % 5) as u8).collect();
        for len in 0..data.len() {
            let bytes = &data[..len];
            let mut acc: u32 = 0;
            for pair in bytes.chunks(2) {
                let word = u32::from(pair[0]) << 8 | u32::from(*pair.get(1).unwrap_or(&0));
                acc += word;
                acc = (acc & 0xffff) + (acc >> 16);
            }
            assert_eq!(fold(sum(bytes)), fold(acc), "length {len}");
        }
    }

    #[test]
    fn odd_length_pads_right() {
        assert_eq!(sum(&[0xab]), 0xab00);
    }

    #[test]
    fn incorrect_names_the_expected_value() {
        // A header whose right checksum is 0x2a99 (STYLE.md's loopback UDP fixture).
        let hdr = [
            0x45, 0x00, 0x00, 0x1e, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0x7f, 0, 0, 1,
            0x7f, 0, 0, 1,
        ];
        assert_eq!(checksum(&hdr), 0x2a99);
        let mut bad = hdr;
        bad[10] = 0x12;
        bad[11] = 0x34;
        assert_eq!(
            Checked::from_sum(0x1234, sum(&bad)),
            Checked::Incorrect {
                found: 0x1234,
                expected: 0x2a99
            }
        );
        bad[10] = 0x2a;
        bad[11] = 0x99;
        assert_eq!(Checked::from_sum(0x2a99, sum(&bad)), Checked::Correct);
    }
}
