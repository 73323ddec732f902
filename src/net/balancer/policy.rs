//! The balancer's decisions, apart from its sockets: which node a connection goes to, how
//! the cookie that names a node is read from a request and written into a response.
//! Nothing here reads the clock or a socket, so every rule is tested on bytes.

use crate::wire::application::http1::Headers;
use std::net::IpAddr;

/// How the balancer spreads connections over its nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Each new TCP connection goes to the next node in turn (haproxy `balance
    /// roundrobin` in TCP mode). Two connections of one client may land on two nodes.
    RoundRobin,
    /// The client's IP address picks the node, always the same one for one address
    /// (haproxy `balance source`, nginx `ip_hash`). On loopback every client comes from
    /// 127.0.0.1, so all of them land on one node.
    Source,
    /// HTTP-aware: the first response to a client without the cookie sets
    /// `netlab_node=nK` (the node that answered, chosen in turn); a connection whose
    /// first request carries the cookie goes to that node (haproxy `cookie … insert`).
    Cookie,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::RoundRobin => "round_robin",
            Policy::Source => "source",
            Policy::Cookie => "cookie",
        }
    }
}

/// The cookie that names a node.
pub const COOKIE: &str = "netlab_node";

/// A node's name in the cookie and in reports: `n1`, `n2`, … (index 0 is `n1`).
pub fn node_name(index: usize) -> String {
    format!("n{}", index + 1)
}

/// The node for a client address: FNV-1a over the address's bytes, modulo the number of
/// nodes. The same address always gives the same node (while the list of nodes stays the
/// same); different addresses spread. `nodes` must not be 0.
pub fn by_source(ip: IpAddr, nodes: usize) -> usize {
    let octets: Vec<u8> = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in octets {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    usize::try_from(hash % nodes.max(1) as u64).unwrap_or(0)
}

/// The node a request's `Cookie` fields name (`netlab_node=n2` → index 1), when it names
/// one of `nodes`. Several `Cookie` fields and `; `-separated pairs are read
/// (RFC 6265 §5.4); an unknown or malformed value names none.
pub fn cookie_node(headers: &Headers, nodes: usize) -> Option<usize> {
    headers
        .get_all("cookie")
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| value.trim().strip_prefix('n'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| (1..=nodes).contains(n))
        .map(|n| n - 1)
}

/// The `Set-Cookie` field that keeps a client on node `index`: for every path, not for
/// scripts, and a session cookie (gone when the browser closes).
pub fn set_cookie(index: usize) -> String {
    format!(
        "Set-Cookie: {COOKIE}={}; Path=/; HttpOnly\r\n",
        node_name(index)
    )
}

/// A response head with one more field, put just before the blank line that ends it.
/// `head` is the whole head, blank line included (as `http1::parse_response` measured
/// it); anything else is returned unchanged.
pub fn add_field(head: &[u8], field: &str) -> Vec<u8> {
    let Some(body_at) = head.len().checked_sub(2) else {
        return head.to_vec();
    };
    if !head.ends_with(b"\r\n\r\n") {
        return head.to_vec();
    }
    let mut out = Vec::with_capacity(head.len() + field.len());
    out.extend_from_slice(&head[..body_at]);
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::application::http1::{parse_request, parse_response, Scan};

    fn request_headers(raw: &str) -> Headers {
        match parse_request(raw.as_bytes(), 8192).expect("a request") {
            Scan::Complete { value, .. } => value.headers,
            Scan::NeedMore => panic!("incomplete"),
        }
    }

    #[test]
    fn the_cookie_names_a_node_among_other_cookies() {
        // What engine.io-client (withCredentials) sent back after haproxy's Set-Cookie.
        let h = request_headers(
            "GET /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: a\r\n\
             Cookie: io=abc; netlab_node=n2; other=1\r\n\r\n",
        );
        assert_eq!(cookie_node(&h, 2), Some(1));
        assert_eq!(cookie_node(&h, 1), None, "n2 is not a node of one");
        let two_fields =
            request_headers("GET / HTTP/1.1\r\nCookie: a=b\r\nCookie: netlab_node=n1\r\n\r\n");
        assert_eq!(cookie_node(&two_fields, 3), Some(0));
        for bad in [
            "netlab_node=n0",
            "netlab_node=x1",
            "netlab_node=",
            "NETLAB_NODE=n1",
        ] {
            let h = request_headers(&format!("GET / HTTP/1.1\r\nCookie: {bad}\r\n\r\n"));
            assert_eq!(cookie_node(&h, 3), None, "{bad}");
        }
        assert_eq!(
            cookie_node(&request_headers("GET / HTTP/1.1\r\n\r\n"), 3),
            None
        );
    }

    #[test]
    fn a_set_cookie_field_goes_before_the_blank_line() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
        let out = add_field(head, &set_cookie(2));
        assert_eq!(
            String::from_utf8(out.clone()).expect("text"),
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: netlab_node=n3; Path=/; \
             HttpOnly\r\n\r\n"
        );
        let Scan::Complete { value, head_len } = parse_response(&out, 8192).expect("parses") else {
            panic!("incomplete")
        };
        assert_eq!(head_len, out.len());
        assert_eq!(
            value.headers.get("set-cookie"),
            Some("netlab_node=n3; Path=/; HttpOnly")
        );
        // Not a whole head: left alone.
        assert_eq!(
            add_field(b"HTTP/1.1 200 OK\r\n", "X: y\r\n"),
            b"HTTP/1.1 200 OK\r\n"
        );
        assert_eq!(add_field(b"", "X: y\r\n"), b"");
    }

    #[test]
    fn one_source_address_always_gets_one_node_and_addresses_spread() {
        let ip: IpAddr = "127.0.0.1".parse().expect("an address");
        let first = by_source(ip, 3);
        assert!((0..100).all(|_| by_source(ip, 3) == first));
        let mut used = [false; 3];
        for last in 1..=30u8 {
            used[by_source(IpAddr::from([10, 0, 0, last]), 3)] = true;
        }
        assert_eq!(used, [true; 3], "30 addresses reach every one of 3 nodes");
        assert_eq!(by_source("::1".parse().expect("v6"), 1), 0);
    }
}
