//! Conversations and byte streams: what TCP promised the applications at both ends.
//!
//! A TCP connection is one *conversation* between two endpoints (address, port), with
//! one byte stream in each direction. On the wire a stream is cut into segments, each
//! carrying a sequence number: the position of its first byte in the stream (RFC 9293
//! §3.4). A capture shows the segments as they passed, which is not always the order
//! the bytes belong in:
//!
//! ```text
//!  seq:   1        101       201       301
//!         |  A     |   B     |   C     |        the stream the sender wrote
//!  wire:  A, C, B, B            C arrives early (out of order), B is sent twice
//!                               (a retransmission): the receiver keeps one copy
//! ```
//!
//! [`Reassembler`] puts one direction's bytes back in order: out-of-order segments wait
//! in a buffer, bytes already delivered are not delivered again (retransmissions and
//! overlaps), and a hole that never fills is reported as a *gap* (a segment the capture
//! never saw) rather than papered over. Sequence numbers are 32 bits and wrap around
//! (RFC 9293 §3.4: arithmetic modulo 2³²); positions here are 64-bit offsets into the
//! stream, so a long transfer that wraps is still in order.
//!
//! Memory is bounded: each direction buffers at most [`Limits::max_buffered`] bytes of
//! out-of-order data. When a segment would exceed that, the reassembler gives up waiting
//! for the hole, reports it as a gap, delivers what it holds and carries on (it says so
//! in the [`Note::BufferFull`] it returns). The table holds at most
//! [`Limits::max_conversations`] open conversations.
//!
//! [`FlowTable`] finds each packet's conversation by its addresses and ports (both
//! directions are one conversation, as Wireshark's "Follow TCP Stream" shows them),
//! follows its state (handshake, established, half-closed, closed, reset) and hands the
//! in-order bytes to the caller. UDP has no connection, but a pair of endpoints that
//! exchange datagrams is a conversation too: each datagram is delivered as it is.
//!
//! The folder, in the order a packet meets it:
//!
//! - `table.rs`: [`FlowTable`], the conversations by their ends, each TCP conversation's
//!   state through the handshake, data and teardown (RFC 9293 §3.5, §3.6), one `Half`
//!   per direction, and the steps a segment goes through.
//! - `analysis.rs`: Wireshark's TCP analysis, from both directions' state and a segment
//!   to [`Note`]s: retransmission (fast, spurious), out of order, previous segment not
//!   captured, ACKed unseen segment, duplicate ACK (RFC 5681 §3.2), zero window, zero
//!   window probe, window full and window update (RFC 9293 §3.8.6), keep-alive and its
//!   ACK (RFC 9293 §3.8.4).
//! - `reassembly.rs`: [`Reassembler`], one direction's bytes back in order (RFC 9293 §3.4),
//!   and what it costs to wait for a hole ([`SEGMENT_COST`]).
//! - this file: the words the others share: [`Conversation`], [`State`], [`Direction`],
//!   [`Note`], [`Piece`], [`Update`], [`Step`], [`Annotation`], [`Limits`].
//!
//! Pure code: time comes in as a number, nothing here prints or touches a socket.

use core::net::IpAddr;
use serde::Serialize;

mod analysis;
mod reassembly;
mod table;

/// Which transport carries a conversation (a type of the transport layer).
pub use crate::wire::transport::Transport;
pub use reassembly::{Reassembler, SEGMENT_COST};
pub use table::{ConvHasher, FlowTable};

/// One end of a conversation: an address and a port.
pub type End = (IpAddr, u16);

/// Which way bytes travel: from the conversation's first speaker `a` (the client, when
/// the SYN was captured) to `b`, or back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    AToB,
    BToA,
}

impl Direction {
    /// The marker Follow views use: `>` for a → b, `<` for b → a.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::AToB => ">",
            Direction::BToA => "<",
        }
    }

    /// The way back: where an acknowledgement of bytes going this way travels.
    fn reverse(self) -> Direction {
        match self {
            Direction::AToB => Direction::BToA,
            Direction::BToA => Direction::AToB,
        }
    }
}

/// Where a TCP conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// A SYN (and maybe the SYN-ACK) seen, the handshake not yet complete.
    Opening,
    /// Data can flow both ways (after the handshake, or joined mid-stream).
    Established,
    /// One side sent a FIN: it will send no more, but may still receive.
    HalfClosed,
    /// Both sides sent a FIN.
    Closed,
    /// A RST ended it at once.
    Reset,
    /// UDP: there is no connection to be in a state; datagrams were exchanged.
    Datagrams,
}

impl State {
    pub fn describe(self) -> &'static str {
        match self {
            State::Opening => "opening (handshake incomplete)",
            State::Established => "established",
            State::HalfClosed => "half-closed (one FIN)",
            State::Closed => "closed by FIN",
            State::Reset => "reset",
            State::Datagrams => "datagrams (UDP has no connection)",
        }
    }
}

/// What the reassembler and the analysis noticed about a segment: Wireshark's "expert"
/// notes, and the reassembler's own (overlaps, gaps, a full buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Note {
    /// Data (or a SYN or a FIN) from behind the highest sequence number sent so far in
    /// this direction that is not [`Note::OutOfOrder`]: the sender sent it again (its
    /// bytes were seen before, or it fills a hole long after). Also beside every
    /// [`Note::FastRetransmission`] and [`Note::SpuriousRetransmission`], as tshark
    /// sets it. Wireshark: `tcp.analysis.retransmission`.
    Retransmission,
    /// Part of the segment had been seen before; only the new bytes were kept.
    Overlap { new_bytes: u64 },
    /// The segment starts beyond the highest sequence number sent so far: something
    /// before it is missing (for now); it waits in the buffer. Wireshark: "Previous
    /// segment not captured" (`tcp.analysis.lost_segment`).
    PreviousSegmentNotCaptured,
    /// Data from behind the highest sequence number sent so far, arriving soon after it
    /// (within the handshake's round-trip time, or 3 ms when that is unknown) and not
    /// ending where it does: the network most likely reordered it. Wireshark's rule and
    /// name (`tcp.analysis.out_of_order`); it looks at time, not at which bytes were
    /// seen, so a quick resend is "out of order" too. Later than that, the same segment
    /// is a [`Note::Retransmission`].
    OutOfOrder,
    /// Bytes that never arrived: the stream continues after a hole of `len` bytes.
    Gap { offset: u64, len: u64 },
    /// The out-of-order buffer hit its bound; the hole before it was declared a gap.
    BufferFull,
    /// A RST.
    Reset,
    /// An ACK repeating this side's last acknowledgement and window, carrying no data:
    /// the sender of it is missing something (three in a row trigger fast
    /// retransmission, RFC 5681 §3.2). `of` is the number of the packet (as fed to the
    /// table, from 1) that first carried this acknowledgement, `count` how many
    /// repeats so far: Wireshark's "Dup ACK 12#1".
    DuplicateAck { of: u64, count: u32 },
    /// The sender of this segment has no room: the other side must stop sending.
    ZeroWindow,
    /// One byte sent into the peer's zero window, to learn when it opens again (RFC
    /// 9293 §3.8.6.1). Wireshark: `tcp.analysis.zero_window_probe`.
    ZeroWindowProbe,
    /// The answer to a zero window probe: the same acknowledgement, the window still
    /// 0. Wireshark: `tcp.analysis.zero_window_probe_ack`.
    ZeroWindowProbeAck,
    /// Data up to the last byte the receiver's window allows: the sender must now wait
    /// for an acknowledgement. Wireshark: `tcp.analysis.window_full`.
    WindowFull,
    /// The answer to a keep-alive: the same acknowledgement and window again, which is
    /// not a duplicate ACK. Wireshark: `tcp.analysis.keep_alive_ack`.
    KeepAliveAck,
    /// Resent right after at least two duplicate ACKs asking for exactly this sequence
    /// number, the last less than 20 ms before: the sender's fast retransmit (RFC 5681
    /// §3.2). Comes with a [`Note::Retransmission`]. Wireshark:
    /// `tcp.analysis.fast_retransmission`.
    FastRetransmission,
    /// Resent although the receiver had already acknowledged every byte of it: the
    /// sender's timer fired too early, or the ACK was lost after the capture point.
    /// Comes with a [`Note::Retransmission`]. Wireshark:
    /// `tcp.analysis.spurious_retransmission`.
    SpuriousRetransmission,
    /// Acknowledges bytes the capture never showed (they passed where the capture did
    /// not look, or the capture dropped them). Wireshark: `tcp.analysis.ack_lost_segment`.
    AckedUnseenSegment,
    /// Only the window changed (no data, same acknowledgement): room again.
    WindowUpdate,
    /// A segment one byte behind what was already sent, with 0 or 1 bytes: a probe
    /// asking "are you still there?" (RFC 9293 §3.8.4, keep-alives; also zero-window
    /// probes).
    KeepAlive,
}

impl Note {
    /// Append the note as the one-line view shows it, in Wireshark's words where
    /// Wireshark has one ("[TCP Retransmission]"). Returns false for notes the line
    /// leaves out (an overlap, a reset: the RST flag and "reset" step already say it).
    pub fn push_label(&self, s: &mut String) -> bool {
        use std::fmt::Write as _;
        match self {
            Note::Retransmission => s.push_str("[TCP Retransmission]"),
            Note::OutOfOrder => s.push_str("[TCP Out-Of-Order]"),
            Note::PreviousSegmentNotCaptured => s.push_str("[TCP Previous segment not captured]"),
            Note::DuplicateAck { of, count } => {
                let _ = write!(s, "[TCP Dup ACK {of}#{count}]");
            }
            Note::ZeroWindow => s.push_str("[TCP ZeroWindow]"),
            Note::WindowUpdate => s.push_str("[TCP Window Update]"),
            Note::KeepAlive => s.push_str("[TCP Keep-Alive]"),
            Note::KeepAliveAck => s.push_str("[TCP Keep-Alive ACK]"),
            Note::ZeroWindowProbe => s.push_str("[TCP ZeroWindowProbe]"),
            Note::ZeroWindowProbeAck => s.push_str("[TCP ZeroWindowProbeAck]"),
            Note::WindowFull => s.push_str("[TCP Window Full]"),
            Note::FastRetransmission => s.push_str("[TCP Fast Retransmission]"),
            Note::SpuriousRetransmission => s.push_str("[TCP Spurious Retransmission]"),
            Note::AckedUnseenSegment => s.push_str("[TCP ACKed unseen segment]"),
            Note::Gap { len, .. } => {
                let _ = write!(s, "[{len} bytes never captured]");
            }
            Note::BufferFull => s.push_str("[reassembly buffer full: a hole declared a gap]"),
            Note::Overlap { .. } | Note::Reset => return false,
        }
        true
    }
}

/// A piece of one direction's reassembled stream, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Bytes at stream offset `offset` (0 is the first data byte).
    Data { offset: u64, bytes: &'a [u8] },
    /// `len` bytes at `offset` were never captured.
    Gap { offset: u64, len: u64 },
}

/// Bounds on memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Out-of-order bytes one direction of one conversation may hold.
    pub max_buffered: usize,
    /// Conversations tracked at once; packets of further ones are counted, not followed.
    pub max_conversations: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_buffered: 4 * 1024 * 1024,
            max_conversations: 65_536,
        }
    }
}

/// What is known about one conversation (the row of a conversations table).
#[derive(Debug, Clone, Serialize)]
pub struct Conversation {
    /// Numbered from 1 in order of first packet, TCP and UDP together.
    pub id: u32,
    pub transport: Transport,
    /// The first speaker (the client, when its SYN was captured).
    pub a: End,
    pub b: End,
    pub state: State,
    /// The three-way handshake was captured.
    pub handshake_seen: bool,
    pub packets_a_to_b: u64,
    pub packets_b_to_a: u64,
    /// Payload bytes delivered in order, each way.
    pub bytes_a_to_b: u64,
    pub bytes_b_to_a: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub retransmissions: u64,
    pub out_of_order: u64,
    pub buffer_full: u64,
    pub duplicate_acks: u64,
    pub zero_windows: u64,
    pub window_updates: u64,
    pub keep_alives: u64,
    pub previous_segment_not_captured: u64,
    pub fast_retransmissions: u64,
    pub spurious_retransmissions: u64,
    pub window_full: u64,
    pub keep_alive_acks: u64,
    pub zero_window_probes: u64,
    pub zero_window_probe_acks: u64,
    pub acked_unseen_segments: u64,
    pub first_ts_us: u64,
    pub last_ts_us: u64,
}

impl Conversation {
    /// Does `spec` name this conversation? Either its number or `HOST:PORT-HOST:PORT`
    /// in either order.
    pub fn matches(&self, which: &Which) -> bool {
        match which {
            Which::Id(n) => self.id == *n,
            Which::Ends(x, y) => (self.a == *x && self.b == *y) || (self.a == *y && self.b == *x),
        }
    }
}

/// A conversation named by the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Which {
    Id(u32),
    Ends(End, End),
}

/// What one packet did to its conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub conversation: u32,
    pub direction: Direction,
    pub notes: Vec<Note>,
    /// Where the conversation stands after this packet.
    pub state: Option<State>,
    /// TCP: the segment's place in its conversation (for the one-line view).
    pub tcp: Option<Annotation>,
    /// TCP: the stream offset of the segment's first payload byte (0 is the first data
    /// byte after the SYN), when it is not before the stream's start.
    pub payload_offset: Option<u64>,
}

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

/// A TCP segment's place in its conversation.
///
/// Initial sequence numbers are random (RFC 9293 §3.4.1 and RFC 6528: a clock plus a
/// keyed hash of the addresses and ports), so raw sequence numbers look like noise.
/// Counted from the ISN, a SYN is seq 0, the first data byte is seq 1, and the ACK of
/// the handshake says ack 1: the SYN used up one sequence number. Without the SYN, the
/// numbers count from one before the first sequence number seen (or the first
/// acknowledgement of that side's bytes), so that the first segment is seq 1 as it
/// would be after a SYN: Wireshark's convention, which tshark's `tcp.seq` and `tcp.ack`
/// follow (a RST answering a SYN is seq 1, not 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Annotation {
    pub step: Option<Step>,
    /// Sequence number counted from this side's ISN.
    pub rel_seq: u32,
    /// Acknowledgement number counted from the other side's ISN (when ACK is set; an
    /// ISN not captured is supposed one before the first number acknowledged).
    pub rel_ack: Option<u32>,
    /// Which conversation: the number `--follow` and `--stats` use.
    pub stream: u32,
}

/// A bare TCP segment for the tests of the table and the analysis.
#[cfg(test)]
fn test_segment(flags: u8, seq: u32, ack: u32, len: usize) -> crate::wire::transport::tcp::Repr {
    use crate::wire::checksum::Checked;
    use crate::wire::transport::tcp::{Flags, Options, Repr};
    Repr {
        src_port: 0,
        dst_port: 0,
        seq,
        ack,
        header_len: 20,
        flags: Flags(flags),
        window: 100,
        checksum: 0,
        checksum_check: Checked::Correct,
        urgent: 0,
        options: Options::default(),
        payload_len: len,
    }
}
