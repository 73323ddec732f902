//! Where a listener bound to every address (`0.0.0.0` or `::`) can be reached.
//!
//! Binding to the unspecified address (RFC 1122 §3.2.1.3: "this host on this network",
//! usable only as a source or a local binding) tells the kernel to accept connections
//! or datagrams on *any* of the machine's addresses. It is not an address a client can
//! connect to, so "connect to 0.0.0.0:9000" is the wrong advice: the listener lists the
//! machine's real addresses instead (`net::host`), and says plainly that the port is now
//! open to the network, not only to programs on this machine.

use crate::net::host;
use crate::output::{Paint, Render, Style};
use crate::wire::transport::Transport;
use serde::Serialize;
use std::net::SocketAddr;

/// Said once after a listener bound to `0.0.0.0` or `::` starts.
#[derive(Debug, Clone, Serialize)]
pub struct Reachable {
    pub event: &'static str,
    pub transport: Transport,
    /// What the listener is bound to.
    pub bound: SocketAddr,
    /// Each of the machine's addresses with the listener's port, loopback first.
    pub addresses: Vec<SocketAddr>,
}

/// `Some` when `bound` is the unspecified address: the machine's addresses at its port
/// (IPv4 only for `0.0.0.0`; both families for `::`, which Linux makes dual-stack unless
/// `net.ipv6.bindv6only` is set).
pub fn reachable(bound: SocketAddr, transport: Transport) -> Option<Reachable> {
    if !bound.ip().is_unspecified() {
        return None;
    }
    let addresses = host::local_addresses(bound.is_ipv6())
        .into_iter()
        .map(|ip| SocketAddr::new(ip, bound.port()))
        .collect();
    Some(Reachable {
        event: "reachable",
        transport,
        bound,
        addresses,
    })
}

impl Render for Reachable {
    fn render_human(&self, style: &Style) -> String {
        let (cmd, verb) = match self.transport {
            Transport::Tcp => ("netlab tcp connect", "connect"),
            Transport::Udp => ("netlab udp send", "send"),
        };
        let mut s = format!(
            "  {} {} is every address of this machine, not one to {verb} to: the port is now \
             reachable from the network, not only from this machine.",
            style.paint(Paint::Warn, "note:"),
            self.bound.ip()
        );
        match self.addresses.split_first() {
            None => s.push_str(&format!(
                "\n  Try: {cmd} 127.0.0.1:{} (`ip addr` lists the others)",
                self.bound.port()
            )),
            Some((first, rest)) => {
                s.push_str(&format!("\n  Try: {cmd} {first}"));
                for a in rest {
                    s.push_str(&format!("\n   or: {cmd} {a}"));
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_specific_address_needs_no_list() {
        assert!(reachable("127.0.0.1:9000".parse().unwrap(), Transport::Tcp).is_none());
    }

    #[test]
    fn the_unspecified_address_lists_real_ones_and_warns() {
        let r = reachable("0.0.0.0:9000".parse().unwrap(), Transport::Tcp).unwrap();
        // Every Linux machine has 127.0.0.1, and it is listed first.
        assert_eq!(
            r.addresses.first(),
            Some(&"127.0.0.1:9000".parse().unwrap())
        );
        assert!(r.addresses.iter().all(|a| a.is_ipv4() && a.port() == 9000));
        let text = r.render_human(&Style::plain());
        assert!(
            text.contains("Try: netlab tcp connect 127.0.0.1:9000"),
            "{text}"
        );
        assert!(!text.contains("connect 0.0.0.0"), "{text}");
        assert!(text.contains("reachable from the network"), "{text}");
    }
}
