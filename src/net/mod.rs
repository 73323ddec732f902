//! I/O adapters: every socket, capture handle and runtime lives under `net/`.
//! `wire/` stays pure; `cmd/` composes the two.

pub mod balancer;
pub mod capture;
pub mod engineio;
pub mod host;
pub mod http;
pub mod netns;
pub mod proxy;
pub mod push;
pub mod queue;
pub mod runtime;
pub mod socketio;
pub mod tcp;
pub mod tcp_loss;
pub mod udp;
pub mod ws;

use crate::error::{HintExt, Hinted};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// A `HOST:PORT` the user typed: an IP literal (`127.0.0.1:9000`, `[::1]:9000`) or a name
/// (`localhost:9000`). Parsing checks the shape; [`Endpoint::resolve`] does the lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Endpoint, String> {
        const SHAPE: &str =
            "expected HOST:PORT, for example 127.0.0.1:9000, [::1]:9000 or localhost:9000";
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(Endpoint {
                host: addr.ip().to_string(),
                port: addr.port(),
            });
        }
        let (host, port) = s.rsplit_once(':').ok_or_else(|| SHAPE.to_owned())?;
        if host.is_empty() || host.contains(':') || host.contains('[') {
            // A bare IPv6 address needs brackets: "::1:80" is ambiguous.
            return Err(format!("{SHAPE} (IPv6 addresses go in brackets)"));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("'{port}' is not a port number (0-65535); {SHAPE}"))?;
        Ok(Endpoint {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Endpoint {
    /// Look the name up (DNS or /etc/hosts); IP literals resolve to themselves.
    pub async fn resolve(&self) -> anyhow::Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .hinted(
                format!("could not resolve '{}'", self.host),
                "check the spelling; on this machine try 127.0.0.1 or [::1]",
            )?
            .collect();
        if addrs.is_empty() {
            return Err(Hinted::failure(format!("'{}' has no addresses", self.host))
                .with_hint("try 127.0.0.1 or [::1]")
                .into());
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_shapes() {
        let e: Endpoint = "127.0.0.1:9000".parse().unwrap();
        assert_eq!((e.host.as_str(), e.port), ("127.0.0.1", 9000));
        let e: Endpoint = "[::1]:80".parse().unwrap();
        assert_eq!(e.to_string(), "[::1]:80");
        let e: Endpoint = "localhost:1".parse().unwrap();
        assert_eq!(e.host, "localhost");
        for bad in ["127.0.0.1", "::1:80", ":80", "host:99999", "host:port", ""] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad} should be rejected");
        }
    }
}
