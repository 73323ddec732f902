//! TCP conversations, as far as the one-line view needs them: which segment is which
//! step of the three-way handshake or the teardown, and sequence numbers *relative* to
//! each side's initial sequence number (ISN).
//!
//! Initial sequence numbers are random (RFC 9293 §3.4.1 and RFC 6528: a clock plus a
//! keyed hash of the addresses and ports), so raw sequence numbers look like noise.
//! Counting from the ISN, a SYN is seq 0, the first data byte is seq 1, and the ACK of
//! the handshake says ack 1: the SYN used up one sequence number.
//!
//! Byte-stream reassembly and application decoding build on this later; this module
//! only remembers each direction's ISN and where the handshake stands.

use super::dissect::Dissection;
use super::tcp::Repr;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;

/// What a segment is in its conversation's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Handshake 1/3: the client's SYN.
    Syn,
    /// Handshake 2/3: the server's SYN-ACK.
    SynAck,
    /// Handshake 3/3: the client's ACK of the SYN-ACK.
    HandshakeAck,
    /// A FIN: this side has no more data to send.
    Fin,
    /// A RST: the connection is torn down at once.
    Rst,
}

impl Step {
    pub fn describe(self) -> &'static str {
        match self {
            Step::Syn => "handshake 1/3: SYN",
            Step::SynAck => "handshake 2/3: SYN-ACK",
            Step::HandshakeAck => "handshake 3/3: ACK",
            Step::Fin => "teardown: FIN",
            Step::Rst => "reset: RST",
        }
    }
}

/// What the tracker says about one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Annotation {
    pub step: Option<Step>,
    /// Sequence number counted from this side's ISN.
    pub rel_seq: u32,
    /// Acknowledgement number counted from the other side's ISN (when ACK is set and
    /// that ISN is known).
    pub rel_ack: Option<u32>,
    /// Which conversation (numbered in order of appearance, from 1).
    pub stream: u32,
}

type End = (IpAddr, u16);

/// A small multiplicative hasher for the conversation table. SipHash (the default) resists
/// crafted collisions; here the table is bounded and rebuilt when full, and hashing was a
/// tenth of the one-line view's time on large captures.
#[derive(Default, Clone, Copy)]
pub struct ConvHasher(u64);

impl std::hash::Hasher for ConvHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.0 =
                (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type ConvMap = HashMap<(End, End), Conv, std::hash::BuildHasherDefault<ConvHasher>>;

#[derive(Debug, Clone)]
struct Conv {
    /// The side that sent the first segment netlab saw (the client when that was a SYN).
    a: End,
    isn_a: Option<u32>,
    isn_b: Option<u32>,
    /// Waiting for the client's ACK of the SYN-ACK.
    awaiting_ack: bool,
    /// FIN seen from side a / side b.
    fin_a: bool,
    fin_b: bool,
    stream: u32,
}

/// Tracks TCP conversations across packets.
#[derive(Debug, Default)]
pub struct Tracker {
    convs: ConvMap,
    next_stream: u32,
}

/// Bound on remembered conversations, so memory stays flat on any capture.
const MAX_CONVERSATIONS: usize = 65_536;

impl Tracker {
    /// Annotate a dissected packet; `None` when it carries no TCP segment of its own.
    pub fn annotate(&mut self, d: &Dissection) -> Option<Annotation> {
        let tcp = d.tcp()?;
        let (src, dst) = d.ip_addrs()?;
        Some(self.segment((src, tcp.src_port), (dst, tcp.dst_port), tcp))
    }

    pub fn segment(&mut self, from: End, to: End, t: &Repr) -> Annotation {
        let key = if from <= to { (from, to) } else { (to, from) };
        if self.convs.len() >= MAX_CONVERSATIONS && !self.convs.contains_key(&key) {
            self.convs.clear();
        }
        let fresh_syn = t.flags.syn() && !t.flags.ack();
        let next_stream = &mut self.next_stream;
        let conv = self.convs.entry(key).or_insert_with(|| {
            *next_stream += 1;
            Conv {
                a: from,
                isn_a: None,
                isn_b: None,
                awaiting_ack: false,
                fin_a: false,
                fin_b: false,
                stream: *next_stream,
            }
        });
        if fresh_syn && conv.a != from {
            // A SYN defines who the client is.
            conv.a = from;
            std::mem::swap(&mut conv.isn_a, &mut conv.isn_b);
        }
        let from_a = conv.a == from;
        let (mine, theirs) = if from_a {
            (&mut conv.isn_a, conv.isn_b)
        } else {
            (&mut conv.isn_b, conv.isn_a)
        };
        if t.flags.syn() || mine.is_none() {
            // Without the SYN, the first sequence number seen stands in for the ISN
            // (relative numbers then start at 0 mid-stream, as Wireshark does).
            *mine = Some(t.seq);
        }
        let rel_seq = t.seq.wrapping_sub(mine.unwrap_or(t.seq));
        let rel_ack = if t.flags.ack() {
            theirs.map(|isn| t.ack.wrapping_sub(isn))
        } else {
            None
        };
        let step = if t.flags.rst() {
            Some(Step::Rst)
        } else if fresh_syn {
            conv.awaiting_ack = false;
            Some(Step::Syn)
        } else if t.flags.syn() && t.flags.ack() {
            conv.awaiting_ack = true;
            Some(Step::SynAck)
        } else if t.flags.fin() {
            Some(Step::Fin)
        } else if conv.awaiting_ack && from_a && t.flags.ack() && rel_ack == Some(1) {
            conv.awaiting_ack = false;
            Some(Step::HandshakeAck)
        } else {
            None
        };
        if t.flags.fin() {
            if from_a {
                conv.fin_a = true;
            } else {
                conv.fin_b = true;
            }
        }
        let ann = Annotation {
            step,
            rel_seq,
            rel_ack,
            stream: conv.stream,
        };
        // A reset, or the last ACK after both FINs, ends the conversation: forget it, so
        // memory stays flat however long the capture.
        let closed = t.flags.rst() || (conv.fin_a && conv.fin_b && !t.flags.fin() && t.flags.ack());
        if closed {
            self.convs.remove(&key);
        }
        ann
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::Checked;
    use crate::wire::tcp::{Flags, Options};
    use std::net::Ipv4Addr;

    fn seg(flags: u8, seq: u32, ack: u32) -> Repr {
        Repr {
            src_port: 0,
            dst_port: 0,
            seq,
            ack,
            header_len: 20,
            flags: Flags(flags),
            window: 0,
            checksum: 0,
            checksum_check: Checked::Correct,
            urgent: 0,
            options: Options::default(),
            payload_len: 0,
        }
    }

    #[test]
    fn handshake_data_and_teardown() {
        let c = (IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);
        let s = (IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);
        let mut t = Tracker::default();
        let (isn_c, isn_s) = (0xfffffff0, 1000);
        let a = t.segment(c, s, &seg(Flags::SYN, isn_c, 0));
        assert_eq!((a.step, a.rel_seq, a.rel_ack), (Some(Step::Syn), 0, None));
        let a = t.segment(
            s,
            c,
            &seg(Flags::SYN | Flags::ACK, isn_s, isn_c.wrapping_add(1)),
        );
        assert_eq!(
            (a.step, a.rel_seq, a.rel_ack),
            (Some(Step::SynAck), 0, Some(1))
        );
        let a = t.segment(c, s, &seg(Flags::ACK, isn_c.wrapping_add(1), isn_s + 1));
        assert_eq!(
            (a.step, a.rel_seq, a.rel_ack),
            (Some(Step::HandshakeAck), 1, Some(1))
        );
        let a = t.segment(
            c,
            s,
            &seg(Flags::ACK | Flags::PSH, isn_c.wrapping_add(1), isn_s + 1),
        );
        assert_eq!(a.step, None, "data is not part of the handshake");
        let a = t.segment(
            s,
            c,
            &seg(Flags::FIN | Flags::ACK, isn_s + 101, isn_c.wrapping_add(6)),
        );
        assert_eq!(
            (a.step, a.rel_seq, a.rel_ack),
            (Some(Step::Fin), 101, Some(6))
        );
        let a = t.segment(
            c,
            s,
            &seg(Flags::FIN | Flags::ACK, isn_c.wrapping_add(6), isn_s + 102),
        );
        assert_eq!(
            (a.step, a.rel_seq, a.rel_ack),
            (Some(Step::Fin), 6, Some(102))
        );
        assert_eq!(t.convs.len(), 1);
        let a = t.segment(s, c, &seg(Flags::ACK, isn_s + 102, isn_c.wrapping_add(7)));
        assert_eq!((a.step, a.rel_seq, a.rel_ack), (None, 102, Some(7)));
        assert!(t.convs.is_empty(), "a closed conversation is forgotten");
        let a = t.segment(c, s, &seg(Flags::RST, isn_c.wrapping_add(7), 0));
        assert_eq!((a.step, a.stream), (Some(Step::Rst), 2));
        assert!(t.convs.is_empty());
    }
}
