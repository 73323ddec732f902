//! A message queue's protocol, without I/O: the record format of its log, the broker's
//! decisions and the messages clients exchange with it.
//!
//! - [`record`]: one record on disk (length, CRC-32C, offset, timestamp, key, value) and
//!   [`record::scan`], which reads a segment back, cutting a torn tail and stepping over
//!   damage in the middle.
//! - [`broker`]: topics with partitions, consumer groups with committed offsets,
//!   acknowledgements, redelivery after a timeout, dead letters and back-pressure, as a
//!   state machine with time as an input.
//! - [`message`]: the Socket.IO events of the `/queue` namespace, read with named errors.
//!
//! `net::queue` keeps the log in files and serves the broker over Socket.IO.

pub mod broker;
pub mod message;
pub mod record;

pub use broker::{partition_for, Action, Broker, BrokerError, Config, From, GroupStatus};
pub use message::{parse, MessageError, Request};
pub use record::{scan, Damage, Record, RecordError, Scan};

/// What an append's acknowledgement guarantees: the sync policy that was applied to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Written and `fsync`ed before the answer, one append at a time: on the disk.
    Always,
    /// Written, then `fsync`ed together with the appends that arrived meanwhile (group
    /// commit), and answered after that one `fsync`: on the disk.
    Batch,
    /// Written to the operating system only: lost if the machine (not just netlab)
    /// stops before the kernel writes it out.
    Never,
}

impl Durability {
    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Always => "always",
            Durability::Batch => "batch",
            Durability::Never => "never",
        }
    }

    /// Is an acknowledged append on the disk?
    pub fn synced(self) -> bool {
        self != Durability::Never
    }
}
