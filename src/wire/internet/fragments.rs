//! IP fragment reassembly: the pieces of one datagram put back together.
//!
//! A datagram larger than a link's MTU travels as *fragments*: each carries a piece of
//! the datagram's payload, the piece's offset (in 8-byte units on the wire, bytes here)
//! and a "more fragments" flag that is clear on the last piece (RFC 791 §2.3 and §3.2
//! for IPv4, where any router may cut; RFC 8200 §4.5 for IPv6, where only the sender
//! does, in a Fragment extension header). The pieces of one datagram share its source,
//! destination, protocol and identification; only the first holds the transport header
//! (UDP's, ICMP's, …), so the transport checksum, which covers the whole datagram, can
//! be checked only once every piece is in:
//!
//! ```text
//!  datagram payload: | UDP header | data ........................................ |
//!  fragment 1:       | offset 0, MF  |
//!  fragment 2:                       | offset 1480, MF |
//!  fragment 3:                                         | offset 2960, last  |
//! ```
//!
//! [`Defragmenter`] holds the pieces of datagrams in progress and hands back the whole
//! payload when the last hole fills. It is bounded like a host's reassembly queue:
//! - at most [`Limits::max_datagrams`] datagrams in progress and
//!   [`Limits::max_bytes`] bytes held in all; a datagram that would exceed them is
//!   refused ([`Refused::Full`]);
//! - a datagram not complete within its timeout after its first piece is dropped
//!   (RFC 791 suggests at least 15 s, Linux waits 30 s; RFC 8200 §4.5 says 60 s for
//!   IPv6). Time is an input: the capture's timestamps, never a clock;
//! - pieces that overlap are refused and the datagram with them: RFC 5722 requires it
//!   for IPv6 (overlaps were used to slip past firewalls), and netlab applies the same
//!   rule to IPv4 rather than guess which copy of the overlapping bytes is right.
//!
//! Pure code: no I/O, no clock.

use core::net::IpAddr;

/// Which datagram a fragment belongs to: its ends, its protocol and its identification
/// (RFC 791: 16 bits; RFC 8200: 32 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub ident: u32,
}

/// One fragment as the dissector found it.
#[derive(Debug, Clone, Copy)]
pub struct Piece<'a> {
    pub key: Key,
    /// Where its bytes go in the datagram's payload, in bytes.
    pub offset: usize,
    /// More fragments follow (MF, or the M flag of IPv6's Fragment header).
    pub more: bool,
    /// Its bytes (after the IP header and, for IPv6, the Fragment header).
    pub data: &'a [u8],
    /// The packet it came in (its number in the capture) and when it was captured.
    pub frame: u64,
    pub ts_us: u64,
}

/// Bounds on memory and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_datagrams: usize,
    pub max_bytes: usize,
    pub timeout_v4_us: u64,
    pub timeout_v6_us: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_datagrams: 1024,
            max_bytes: 4 * 1024 * 1024,
            timeout_v4_us: 30_000_000,
            timeout_v6_us: 60_000_000,
        }
    }
}

/// Why a fragment was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// It overlaps a piece already held (RFC 5722): the whole datagram is dropped.
    Overlap,
    /// It ends beyond the largest datagram IP can carry (65,535 bytes of payload), or
    /// beyond the end a last fragment already fixed, or a second last fragment names
    /// another end: the pieces do not fit together.
    Inconsistent,
    /// The reassembly queue is full (datagrams or bytes).
    Full,
}

impl Refused {
    pub fn describe(self) -> &'static str {
        match self {
            Refused::Overlap => {
                "overlaps a fragment already received: the datagram is dropped (RFC 5722)"
            }
            Refused::Inconsistent => {
                "does not fit with the other fragments: the datagram is dropped"
            }
            Refused::Full => "the reassembly queue is full: not kept",
        }
    }
}

/// A datagram whose every piece arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub key: Key,
    /// The whole payload: the transport header and its data.
    pub payload: Vec<u8>,
    /// The packets that carried its pieces, in the order they came.
    pub frames: Vec<u64>,
}

/// What a fragment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Kept; the datagram still has holes.
    Pending,
    /// The last hole filled.
    Complete(Datagram),
    Refused(Refused),
}

/// Largest payload of an IP datagram: a 16-bit length (RFC 791 total length, RFC 8200
/// payload length; jumbograms are not fragmented).
const MAX_PAYLOAD: usize = 65_535;

/// The pieces of one datagram in progress.
#[derive(Debug, Clone)]
struct Partial {
    key: Key,
    first_ts: u64,
    /// Held pieces as (offset, bytes), kept sorted by offset; they never overlap.
    pieces: Vec<(usize, Vec<u8>)>,
    /// The payload's length, once the last fragment said it.
    end: Option<usize>,
    frames: Vec<u64>,
    held: usize,
}

impl Partial {
    /// All bytes from 0 to the end are here.
    fn complete(&self) -> bool {
        let Some(end) = self.end else { return false };
        let mut at = 0;
        for (off, b) in &self.pieces {
            if *off != at {
                return false;
            }
            at += b.len();
        }
        at == end
    }
}

/// Datagrams in progress (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Defragmenter {
    limits: Limits,
    partial: Vec<Partial>,
    held: usize,
}

impl Defragmenter {
    pub fn new(limits: Limits) -> Defragmenter {
        Defragmenter {
            limits,
            partial: Vec::new(),
            held: 0,
        }
    }

    /// Bytes held across all datagrams in progress.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Datagrams in progress.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Take one fragment. Datagrams whose time ran out (by the fragment's timestamp)
    /// are dropped first.
    pub fn fragment(&mut self, p: Piece<'_>) -> Outcome {
        self.expire(p.ts_us);
        let end = p.offset + p.data.len();
        if end > MAX_PAYLOAD {
            self.drop_key(&p.key);
            return Outcome::Refused(Refused::Inconsistent);
        }
        let i = match self.partial.iter().position(|d| d.key == p.key) {
            Some(i) => i,
            None => {
                if self.partial.len() >= self.limits.max_datagrams {
                    return Outcome::Refused(Refused::Full);
                }
                self.partial.push(Partial {
                    key: p.key,
                    first_ts: p.ts_us,
                    pieces: Vec::new(),
                    end: None,
                    frames: Vec::new(),
                    held: 0,
                });
                self.partial.len() - 1
            }
        };
        if let Err(why) = self.check(i, &p, end) {
            self.remove(i);
            return Outcome::Refused(why);
        }
        if self.held + p.data.len() > self.limits.max_bytes {
            self.remove(i);
            return Outcome::Refused(Refused::Full);
        }
        let d = &mut self.partial[i];
        let at = d.pieces.partition_point(|(off, _)| *off < p.offset);
        d.pieces.insert(at, (p.offset, p.data.to_vec()));
        d.frames.push(p.frame);
        d.held += p.data.len();
        self.held += p.data.len();
        if !p.more {
            d.end = Some(end);
        }
        if !d.complete() {
            return Outcome::Pending;
        }
        let d = self.remove(i);
        let mut payload = Vec::with_capacity(d.held);
        for (_, b) in d.pieces {
            payload.extend_from_slice(&b);
        }
        Outcome::Complete(Datagram {
            key: d.key,
            payload,
            frames: d.frames,
        })
    }

    /// Does the piece fit with those held for datagram `i`?
    fn check(&self, i: usize, p: &Piece<'_>, end: usize) -> Result<(), Refused> {
        let d = &self.partial[i];
        match d.end {
            // Nothing may lie beyond the end the last fragment fixed, and a second
            // last fragment must say the same end.
            Some(e) if end > e || (!p.more && end != e) => return Err(Refused::Inconsistent),
            _ => {}
        }
        if !p.more && d.pieces.iter().any(|(off, b)| off + b.len() > end) {
            return Err(Refused::Inconsistent);
        }
        // RFC 5722: any overlap (an exact duplicate included) drops the datagram. An
        // empty piece overlaps nothing.
        let overlaps = d
            .pieces
            .iter()
            .any(|(off, b)| p.offset < off + b.len() && *off < end);
        if overlaps {
            return Err(Refused::Overlap);
        }
        Ok(())
    }

    fn remove(&mut self, i: usize) -> Partial {
        let d = self.partial.swap_remove(i);
        self.held -= d.held;
        d
    }

    fn drop_key(&mut self, key: &Key) {
        if let Some(i) = self.partial.iter().position(|d| d.key == *key) {
            self.remove(i);
        }
    }

    /// Drop the datagrams whose timeout has passed at `now_us`.
    fn expire(&mut self, now_us: u64) {
        let limits = self.limits;
        let mut i = 0;
        while i < self.partial.len() {
            let d = &self.partial[i];
            let timeout = match d.key.src {
                IpAddr::V4(_) => limits.timeout_v4_us,
                IpAddr::V6(_) => limits.timeout_v6_us,
            };
            if now_us.saturating_sub(d.first_ts) > timeout {
                self.remove(i);
            } else {
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    fn key(ident: u32) -> Key {
        Key {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            protocol: 17,
            ident,
        }
    }

    fn piece(k: Key, offset: usize, more: bool, data: &[u8], frame: u64, ts_us: u64) -> Piece<'_> {
        Piece {
            key: k,
            offset,
            more,
            data,
            frame,
            ts_us,
        }
    }

    #[test]
    fn pieces_in_any_order_make_the_datagram() {
        let mut d = Defragmenter::new(Limits::default());
        let k = key(7);
        assert_eq!(
            d.fragment(piece(k, 16, false, b"cc", 1, 0)),
            Outcome::Pending
        );
        assert_eq!(
            d.fragment(piece(k, 0, true, b"aaaaaaaa", 2, 0)),
            Outcome::Pending
        );
        let Outcome::Complete(g) = d.fragment(piece(k, 8, true, b"bbbbbbbb", 3, 0)) else {
            panic!("complete");
        };
        assert_eq!(g.payload, b"aaaaaaaabbbbbbbbcc");
        assert_eq!(g.frames, [1, 2, 3]);
        assert_eq!((d.pending(), d.held()), (0, 0));
    }

    #[test]
    fn overlapping_fragments_drop_the_datagram_as_rfc_5722_asks() {
        let mut d = Defragmenter::new(Limits::default());
        let k = Key {
            src: IpAddr::V6(Ipv6Addr::LOCALHOST),
            dst: IpAddr::V6(Ipv6Addr::LOCALHOST),
            protocol: 17,
            ident: 1,
        };
        assert_eq!(
            d.fragment(piece(k, 0, true, &[0; 16], 1, 0)),
            Outcome::Pending
        );
        assert_eq!(
            d.fragment(piece(k, 8, false, &[1; 16], 2, 0)),
            Outcome::Refused(Refused::Overlap)
        );
        assert_eq!(d.pending(), 0, "the datagram is gone");
        // An exact duplicate overlaps too.
        d.fragment(piece(k, 0, true, &[0; 8], 3, 0));
        assert_eq!(
            d.fragment(piece(k, 0, true, &[0; 8], 4, 0)),
            Outcome::Refused(Refused::Overlap)
        );
    }

    #[test]
    fn pieces_that_do_not_fit_are_refused() {
        let mut d = Defragmenter::new(Limits::default());
        let k = key(1);
        d.fragment(piece(k, 0, false, &[0; 8], 1, 0));
        assert_eq!(d.pending(), 0, "a lone last piece at 0 is a whole datagram");
        d.fragment(piece(k, 8, false, &[0; 8], 2, 0));
        assert_eq!(
            d.fragment(piece(k, 16, true, &[0; 8], 3, 0)),
            Outcome::Refused(Refused::Inconsistent),
            "beyond the end the last piece fixed"
        );
        assert_eq!(
            d.fragment(piece(k, 65_528, true, &[0; 16], 4, 0)),
            Outcome::Refused(Refused::Inconsistent),
            "beyond 65,535 bytes"
        );
    }

    #[test]
    fn time_runs_out_by_the_capture_timestamps() {
        let mut d = Defragmenter::new(Limits::default());
        d.fragment(piece(key(1), 0, true, &[0; 8], 1, 0));
        assert_eq!(d.pending(), 1);
        // 31 s later another datagram's piece arrives: the first one has expired.
        d.fragment(piece(key(2), 0, true, &[0; 8], 2, 31_000_000));
        assert_eq!(d.pending(), 1);
        assert_eq!(
            d.fragment(piece(key(1), 8, false, &[0; 8], 3, 31_000_000)),
            Outcome::Pending,
            "the late piece starts over"
        );
    }

    #[test]
    fn memory_is_bounded() {
        let mut d = Defragmenter::new(Limits {
            max_datagrams: 2,
            max_bytes: 20,
            ..Limits::default()
        });
        d.fragment(piece(key(1), 0, true, &[0; 8], 1, 0));
        d.fragment(piece(key(2), 0, true, &[0; 8], 2, 0));
        assert_eq!(
            d.fragment(piece(key(3), 0, true, &[0; 8], 3, 0)),
            Outcome::Refused(Refused::Full)
        );
        assert_eq!(
            d.fragment(piece(key(1), 8, true, &[0; 8], 4, 0)),
            Outcome::Refused(Refused::Full),
            "24 bytes would be over 20"
        );
        assert!(d.held() <= 20);
    }
}
