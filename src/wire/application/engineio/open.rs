//! The open packet: the server's first words in a session.
//!
//! ```text
//! 0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}
//! ```
//!
//! - `sid`: the session's name; every later request carries it (`&sid=…`).
//! - `upgrades`: the transports the client may move to (from long-polling: `websocket`).
//! - `pingInterval`, `pingTimeout` (milliseconds): the server sends a ping every
//!   `pingInterval`; a client that has not answered within `pingTimeout` is gone. A
//!   client that has heard nothing for `pingInterval + pingTimeout` may give up too.
//! - `maxPayload` (bytes): the largest body the server accepts in one POST.

use serde::{Deserialize, Serialize};

/// The open packet's JSON, field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenInfo {
    pub sid: String,
    pub upgrades: Vec<String>,
    pub ping_interval: u64,
    pub ping_timeout: u64,
    pub max_payload: u64,
}

impl OpenInfo {
    /// The JSON as the open packet carries it (fields in the reference server's order).
    pub fn to_json(&self) -> String {
        // A struct of strings and numbers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Read the JSON of an open packet.
    pub fn from_json(s: &str) -> Result<OpenInfo, serde_json::Error> {
        serde_json::from_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_servers_open_packet() {
        // engine.io 6.6 (pingInterval 300, pingTimeout 200), captured with node 20.
        let captured = r#"{"sid":"S9brL3KXZlnkAmvHAAAA","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#;
        let info = OpenInfo::from_json(captured).unwrap();
        assert_eq!(info.sid, "S9brL3KXZlnkAmvHAAAA");
        assert_eq!(info.upgrades, ["websocket"]);
        assert_eq!((info.ping_interval, info.ping_timeout), (300, 200));
        assert_eq!(info.max_payload, 1_000_000);
        assert_eq!(info.to_json(), captured);
    }

    #[test]
    fn refuses_an_open_packet_without_its_fields() {
        assert!(OpenInfo::from_json(r#"{"sid":"x"}"#).is_err());
        assert!(OpenInfo::from_json("").is_err());
    }
}
