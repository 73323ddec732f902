//! What this machine's kernel says about its own network state, read from `/proc` (no
//! `unsafe`, no helper program): which TCP sockets hold a local port, and which addresses
//! the machine has.
//!
//! - [`sockets_on_port`] reads `/proc/net/tcp` and `/proc/net/tcp6` (`proc(5)`): one line
//!   per socket, the local address and port in hex, the state as a number from the
//!   kernel's `enum tcp_state`. `netlab tcp listen` uses it to tell "another program
//!   listens there" from "only connections that are still closing hold the port".
//! - [`local_addresses`] reads `/proc/net/fib_trie` for IPv4 (every address the kernel
//!   delivers locally is a `/32 host LOCAL` leaf of the local routing table) and
//!   `/proc/net/if_inet6` for IPv6, so a listener bound to `0.0.0.0` or `::` can say which
//!   addresses a client may actually use. (`getifaddrs(3)` would need `unsafe` code, which
//!   the crate forbids.)
//!
//! The parsers are pure functions of the file's text, tested below on real samples.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A TCP socket's state as `/proc/net/tcp` numbers it (`include/net/tcp_states.h`), with
/// the names RFC 9293 §3.3.2 gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TcpState {
    Established,
    SynSent,
    SynReceived,
    FinWait1,
    FinWait2,
    TimeWait,
    Closed,
    CloseWait,
    LastAck,
    Listen,
    Closing,
}

impl TcpState {
    /// The state from the `st` column (hex), or `None` for numbers Linux uses internally.
    pub fn from_proc(st: u8) -> Option<TcpState> {
        use TcpState::*;
        Some(match st {
            0x01 => Established,
            0x02 => SynSent,
            0x03 => SynReceived,
            0x04 => FinWait1,
            0x05 => FinWait2,
            0x06 => TimeWait,
            0x07 => Closed,
            0x08 => CloseWait,
            0x09 => LastAck,
            0x0A => Listen,
            0x0B => Closing,
            _ => return None,
        })
    }

    /// RFC 9293's name, as `ss` prints it (with a hyphen).
    pub fn name(self) -> &'static str {
        use TcpState::*;
        match self {
            Established => "ESTABLISHED",
            SynSent => "SYN-SENT",
            SynReceived => "SYN-RECEIVED",
            FinWait1 => "FIN-WAIT-1",
            FinWait2 => "FIN-WAIT-2",
            TimeWait => "TIME-WAIT",
            Closed => "CLOSED",
            CloseWait => "CLOSE-WAIT",
            LastAck => "LAST-ACK",
            Listen => "LISTEN",
            Closing => "CLOSING",
        }
    }

    /// A connection on its way out (one side has sent its FIN, or both have).
    pub fn is_closing(self) -> bool {
        use TcpState::*;
        matches!(
            self,
            FinWait1 | FinWait2 | TimeWait | CloseWait | LastAck | Closing
        )
    }
}

/// The states of the sockets whose *local* port is `port`, from the text of
/// `/proc/net/tcp` or `/proc/net/tcp6` (a header line, then `sl local rem st …`).
pub fn sockets_on_port_in(proc_net_tcp: &str, port: u16) -> Vec<TcpState> {
    proc_net_tcp
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let local = f.nth(1)?;
            let st = f.nth(1)?;
            let (_, p) = local.rsplit_once(':')?;
            (u16::from_str_radix(p, 16).ok()? == port)
                .then(|| TcpState::from_proc(u8::from_str_radix(st, 16).ok()?))
                .flatten()
        })
        .collect()
}

/// The states of every TCP socket (IPv4 and IPv6) in this network namespace whose local
/// port is `port`, sorted. Empty when `/proc` cannot be read.
pub fn sockets_on_port(port: u16) -> Vec<TcpState> {
    let mut states: Vec<TcpState> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| sockets_on_port_in(&text, port))
        .collect();
    states.sort();
    states
}

/// A TCP listener on 127.0.0.1:`port`, held by this process to stand for "another program
/// already listens there" (a lab step that shows the error a second listener gets).
/// `Ok(None)` when the port is already taken: another program holds it, which shows the
/// same thing.
pub fn hold_tcp_port(port: u16) -> std::io::Result<Option<std::net::TcpListener>> {
    match std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(l) => Ok(Some(l)),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Ok(None),
        Err(e) => Err(e),
    }
}

/// The IPv4 addresses in `/proc/net/fib_trie` text: each `|-- ADDR` leaf followed by a
/// `/32 host LOCAL` line (the kernel delivers packets to ADDR to this machine). Each
/// address once, in order of first appearance.
pub fn ipv4_in_fib_trie(fib_trie: &str) -> Vec<Ipv4Addr> {
    let mut found = Vec::new();
    let mut leaf: Option<Ipv4Addr> = None;
    for line in fib_trie.lines() {
        let t = line.trim();
        if let Some(a) = t.strip_prefix("|-- ") {
            leaf = a.parse().ok();
        } else if t.starts_with("/32 host LOCAL") {
            if let Some(a) = leaf {
                if !found.contains(&a) {
                    found.push(a);
                }
            }
        }
    }
    found
}

/// The IPv6 addresses in `/proc/net/if_inet6` text (`ADDR32HEX IFINDEX PREFIX SCOPE FLAGS
/// NAME` per line), with their interface names. Link-local addresses (`fe80::/10`) are
/// left out: a client must add `%interface` to use them.
pub fn ipv6_in_if_inet6(if_inet6: &str) -> Vec<(Ipv6Addr, String)> {
    if_inet6
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (hex, name) = (f.first()?, f.get(5)?);
            let bits = u128::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() == 32)?;
            let a = Ipv6Addr::from(bits);
            let link_local = a.segments()[0] & 0xffc0 == 0xfe80;
            (!link_local).then(|| (a, (*name).to_owned()))
        })
        .collect()
}

/// The addresses a client can reach this machine at: IPv4 ones, and with `ipv6` the IPv6
/// ones too; loopback first. Empty when `/proc` cannot be read.
pub fn local_addresses(ipv6: bool) -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = std::fs::read_to_string("/proc/net/fib_trie")
        .map(|t| ipv4_in_fib_trie(&t).into_iter().map(IpAddr::V4).collect())
        .unwrap_or_default();
    if ipv6 {
        if let Ok(t) = std::fs::read_to_string("/proc/net/if_inet6") {
            v.extend(ipv6_in_if_inet6(&t).into_iter().map(|(a, _)| IpAddr::V6(a)));
        }
    }
    // Loopback first (it always works), then the others as the kernel listed them.
    v.sort_by_key(|a| !a.is_loopback());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trimmed from a real `/proc/net/tcp`: a listener on 9000 (0x2328), one connection to
    /// it in TIME-WAIT, one on 9000's other side, and a listener on 22.
    const PROC_NET_TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123 1 0000000000000000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 124 1 0000000000000000 100 0 0 10 0
   2: 0100007F:2328 0100007F:A1B2 06 00000000:00000000 03:00001769 00000000     0        0 0 3 0000000000000000
   3: 0100007F:A1B2 0100007F:2328 05 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000
";

    #[test]
    fn sockets_are_found_by_local_port_only() {
        assert_eq!(
            sockets_on_port_in(PROC_NET_TCP, 9000),
            [TcpState::Listen, TcpState::TimeWait]
        );
        assert_eq!(
            sockets_on_port_in(PROC_NET_TCP, 0xA1B2),
            [TcpState::FinWait2]
        );
        assert_eq!(sockets_on_port_in(PROC_NET_TCP, 22), [TcpState::Listen]);
        assert!(sockets_on_port_in(PROC_NET_TCP, 80).is_empty());
        assert!(sockets_on_port_in("", 80).is_empty());
    }

    #[test]
    fn ipv6_lines_have_long_addresses() {
        let tcp6 = "  sl  local_address                         remote_address                        st
   0: 00000000000000000000000001000000:2328 00000000000000000000000000000000:0000 0A 00000000:00000000
";
        assert_eq!(sockets_on_port_in(tcp6, 9000), [TcpState::Listen]);
    }

    #[test]
    fn states_are_named_as_rfc_9293_names_them() {
        assert_eq!(TcpState::from_proc(0x06).unwrap().name(), "TIME-WAIT");
        assert!(TcpState::FinWait2.is_closing());
        assert!(!TcpState::Listen.is_closing());
        assert_eq!(TcpState::from_proc(0x0C), None, "NEW_SYN_RECV is internal");
    }

    #[test]
    fn local_ipv4_addresses_are_the_host_local_leaves() {
        let fib = "Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 172.17.0.0/16 2 0 2
        |-- 172.17.0.2
           /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 172.17.0.2
           /32 host LOCAL
";
        assert_eq!(
            ipv4_in_fib_trie(fib),
            [Ipv4Addr::LOCALHOST, Ipv4Addr::new(172, 17, 0, 2)]
        );
    }

    #[test]
    fn local_ipv6_addresses_leave_link_local_out() {
        let if_inet6 = "00000000000000000000000000000001 01 80 10 80       lo
fe800000000000000042acfffe110002 02 40 20 80     eth0
20010db8000000000000000000000005 02 40 00 80     eth0
";
        assert_eq!(
            ipv6_in_if_inet6(if_inet6),
            [
                (Ipv6Addr::LOCALHOST, "lo".to_owned()),
                ("2001:db8::5".parse().unwrap(), "eth0".to_owned())
            ]
        );
    }
}
