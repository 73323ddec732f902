//! What a receiver can tell from numbered datagrams, and the faults a relay makes on
//! purpose: the UDP lab's measurements.
//!
//! - [`probe`]: netlab's 20-byte probe header (sequence number, send time, stream).
//! - [`reception`]: loss, duplicates, reordering and lateness from sequence numbers.
//! - [`jitter`]: the interarrival jitter of RFC 3550 §6.4.1.
//! - [`impair`]: seeded, deterministic drops, duplicates, reordering and delay.

pub mod impair;
pub mod jitter;
pub mod probe;
pub mod reception;
