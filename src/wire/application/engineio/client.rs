//! The client's side of Engine.IO, sans I/O: the requests it makes, when it gives up on a
//! silent server, how long it waits before trying again, and the reasons it gives when a
//! session ends.
//!
//! ```text
//!   GET  /socket.io/?EIO=4&transport=polling&t=1              ◄ 0{"sid":"S",...}   open
//!   POST /socket.io/?EIO=4&transport=polling&sid=S&t=2        ► 40                 (Socket.IO)
//!   GET  /socket.io/?EIO=4&transport=polling&sid=S&t=3        ◄ 2                  ping
//!   POST ...                                                  ► 3                  pong
//!   GET  /socket.io/?EIO=4&transport=websocket&sid=S          (the upgrade)
//!        ► 2probe  ◄ 3probe   (polling paused: the server answers the waiting GET with 6)
//!        ► 5                  (from now on, the WebSocket only)
//! ```
//!
//! `t` is a cache buster: a number that changes with every request, so no cache between
//! the client and the server answers a poll with an old body.

use super::query::Transport;
use core::time::Duration;

/// The request target of one Engine.IO request: `path` (as `/socket.io/`), the protocol
/// version, the transport, the session once there is one, and the cache buster `t`
/// (polling only).
pub fn target(path: &str, transport: Transport, sid: Option<&str>, t: Option<u64>) -> String {
    let mut s = format!(
        "{path}?EIO={}&transport={}",
        super::PROTOCOL,
        transport.name()
    );
    if let Some(sid) = sid {
        s.push_str("&sid=");
        s.push_str(sid);
    }
    if let Some(t) = t {
        s.push_str("&t=");
        s.push_str(&t.to_string());
    }
    s
}

/// How long a client waits for the next ping before deciding the server is gone: the
/// server promised one every `pingInterval` and allows `pingTimeout` for the answer,
/// so the client allows the sum (engine.io-client's `resetPingTimeout`).
pub fn ping_deadline(ping_interval_ms: u64, ping_timeout_ms: u64) -> Duration {
    Duration::from_millis(ping_interval_ms.saturating_add(ping_timeout_ms))
}

/// The reasons a client gives when its connection ends, in socket.io-client's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The server sent Socket.IO's DISCONNECT: the server decided (no reconnection).
    ServerDisconnect,
    /// The client left on purpose (no reconnection).
    ClientDisconnect,
    /// No ping within `pingInterval + pingTimeout`.
    PingTimeout,
    /// The server closed the connection (or sent Engine.IO's close).
    TransportClose,
    /// A request failed or was refused (an unknown `sid` answers 400), or the
    /// connection broke.
    TransportError,
    /// The server sent bytes that are not an Engine.IO or Socket.IO packet.
    ParseError,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ServerDisconnect => "io server disconnect",
            CloseReason::ClientDisconnect => "io client disconnect",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::ParseError => "parse error",
        }
    }

    /// Does the client try again on its own after this? Not when either side ended it
    /// on purpose.
    pub fn reconnects(self) -> bool {
        !matches!(
            self,
            CloseReason::ServerDisconnect | CloseReason::ClientDisconnect
        )
    }
}

/// socket.io-client's reconnection delays: exponential back-off with jitter.
///
/// Attempt `n` (from 0) waits `min · 2ⁿ`, moved up or down by a random part of
/// `randomization · that`, and never more than `max`. The defaults are
/// socket.io-client's: 1000 ms, 5000 ms, 0.5.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub min_ms: u64,
    pub max_ms: u64,
    /// Between 0 (no jitter) and 1.
    pub randomization: f64,
    /// Attempts made since the last success.
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            min_ms: 1000,
            max_ms: 5000,
            randomization: 0.5,
            attempts: 0,
        }
    }
}

impl Backoff {
    /// The delay before the next attempt, counting it. `random` is a number in [0, 1)
    /// the caller drew (this module draws nothing): its value decides the size of the
    /// jitter and, through its first decimal digit, its sign (as backo2 does).
    pub fn next_delay(&mut self, random: f64) -> Duration {
        let factor = 2f64.powi(self.attempts.min(62) as i32);
        self.attempts = self.attempts.saturating_add(1);
        let mut ms = self.min_ms as f64 * factor;
        let jitter = self.randomization.clamp(0.0, 1.0);
        if jitter > 0.0 {
            let random = if random.is_finite() {
                random.clamp(0.0, 1.0)
            } else {
                0.0
            };
            let deviation = (random * jitter * ms).floor();
            if ((random * 10.0).floor() as u64) & 1 == 0 {
                ms -= deviation;
            } else {
                ms += deviation;
            }
        }
        Duration::from_millis(ms.min(self.max_ms as f64).max(0.0) as u64)
    }

    /// A connection succeeded: the next failure starts from `min` again.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_targets_as_socket_io_client_sends_them() {
        // socket.io-client 4 on node 20: the handshake, then a poll of session "S".
        assert_eq!(
            target("/socket.io/", Transport::Polling, None, Some(1)),
            "/socket.io/?EIO=4&transport=polling&t=1"
        );
        assert_eq!(
            target("/socket.io/", Transport::Polling, Some("S"), Some(7)),
            "/socket.io/?EIO=4&transport=polling&sid=S&t=7"
        );
        assert_eq!(
            target("/socket.io/", Transport::WebSocket, Some("S"), None),
            "/socket.io/?EIO=4&transport=websocket&sid=S"
        );
    }

    #[test]
    fn the_ping_deadline_is_interval_plus_timeout() {
        assert_eq!(ping_deadline(25_000, 20_000), Duration::from_secs(45));
        assert_eq!(ping_deadline(u64::MAX, 1), Duration::from_millis(u64::MAX));
    }

    #[test]
    fn backoff_doubles_up_to_its_maximum_without_jitter() {
        let mut b = Backoff {
            randomization: 0.0,
            ..Backoff::default()
        };
        let delays: Vec<u64> = (0..5)
            .map(|_| b.next_delay(0.3).as_millis() as u64)
            .collect();
        assert_eq!(delays, [1000, 2000, 4000, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(0.3), Duration::from_secs(1));
    }

    #[test]
    fn backoff_jitter_moves_either_way_within_randomization() {
        // random 0.25: first decimal 2 (even) takes away 0.25 · 0.5 · 1000 = 125 ms.
        assert_eq!(Backoff::default().next_delay(0.25).as_millis(), 875);
        // random 0.35: first decimal 3 (odd) adds 175 ms.
        assert_eq!(Backoff::default().next_delay(0.35).as_millis(), 1175);
        // The cap holds whatever the draw.
        let mut b = Backoff {
            attempts: 40,
            ..Backoff::default()
        };
        assert_eq!(b.next_delay(0.99).as_millis(), 5000);
        // Nonsense draws are clamped, never a panic.
        assert!(Backoff::default().next_delay(f64::NAN) <= Duration::from_secs(5));
        assert!(Backoff::default().next_delay(-3.0) <= Duration::from_secs(5));
    }

    #[test]
    fn only_deliberate_ends_stop_reconnection() {
        assert!(!CloseReason::ServerDisconnect.reconnects());
        assert!(!CloseReason::ClientDisconnect.reconnects());
        for r in [
            CloseReason::PingTimeout,
            CloseReason::TransportClose,
            CloseReason::TransportError,
            CloseReason::ParseError,
        ] {
            assert!(r.reconnects(), "{}", r.as_str());
        }
    }
}
