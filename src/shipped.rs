//! The captures shipped inside the binary: every capture that a lab, `netlab explain`, a
//! page of `docs/` or the tour reads, under a short name (`netlab capture --example
//! tcp-handshake`; `netlab capture --examples` lists them).
//!
//! They are real traffic recorded with tcpdump (`labs/captures/README.md` and
//! `tests/fixtures/README.md` say how each was made) and built in with `include_bytes!`, so
//! an installed netlab (`cargo install --path .`) reads them from any folder: a student
//! never needs the source tree to follow a guide. The repository keeps the files where
//! the tests and the scripts that remake them expect them; the test below checks that each
//! built-in copy is the file it names.
//!
//! Only what student-facing text uses is built in (about 2.8 MB, most of it the browser
//! capture with its 1 MiB message); the other fixtures stay test-only.

/// One capture built into netlab.
#[derive(Debug, PartialEq, Eq)]
pub struct Example {
    /// What `--example` takes.
    pub name: &'static str,
    /// Where the repository keeps the file (the tests read it from there).
    pub path: &'static str,
    /// One line: what traffic it holds.
    pub about: &'static str,
    /// The pcap file itself.
    pub bytes: &'static [u8],
}

macro_rules! example {
    ($name:literal, $dir:literal, $about:literal) => {
        Example {
            name: $name,
            path: concat!($dir, "/", $name, ".pcap"),
            about: $about,
            bytes: include_bytes!(concat!("../", $dir, "/", $name, ".pcap")),
        }
    };
}

/// Every built-in capture, in the order `--examples` lists them (the course's order).
pub static EXAMPLES: &[Example] = &[
    example!(
        "tcp-handshake",
        "labs/captures",
        "lab 3: a TCP handshake, 13 bytes echoed, the FIN teardown (10 packets)"
    ),
    example!(
        "udp-exchange",
        "labs/captures",
        "lab 3: one UDP datagram, its echo and netlab's END datagram (3 packets)"
    ),
    example!(
        "http-ipv4",
        "tests/fixtures",
        "an HTTP GET and its response over 127.0.0.1, handshake to teardown"
    ),
    example!("http-ipv6", "tests/fixtures", "the same over ::1 (IPv6)"),
    example!(
        "http-keepalive",
        "tests/fixtures",
        "lab 5: three HTTP/1.1 requests on one connection, one chunked response"
    ),
    example!(
        "http-keepalive-snaplen80",
        "tests/fixtures",
        "http-keepalive cut to 80 bytes a packet (a small snap length)"
    ),
    example!(
        "http-lossy",
        "tests/fixtures",
        "a 200,000-byte download through 4% loss: dup ACKs, SACK, retransmissions"
    ),
    example!(
        "zero-window",
        "tests/fixtures",
        "a receiver that stops reading: zero windows, probes, a window update"
    ),
    example!(
        "ws-demo",
        "tests/fixtures",
        "lab 5: `netlab ws demo`: the Upgrade, text, binary, fragments, ping/pong, close"
    ),
    example!(
        "ws-demo-reordered",
        "tests/fixtures",
        "lab 5: ws-demo with one retransmission and two segments out of order"
    ),
    example!(
        "ws-chromium",
        "tests/fixtures",
        "headless Chromium's WebSocket against `netlab ws server --echo` (1 MiB message)"
    ),
    example!(
        "peers-ws-node",
        "tests/fixtures",
        "Node.js `ws` server and client"
    ),
    example!(
        "peers-ws-python-deflate",
        "tests/fixtures",
        "Python `websockets` with permessage-deflate"
    ),
    example!(
        "socketio",
        "tests/fixtures",
        "socket.io 4.8.1: long-polling, the upgrade to WebSocket, emits with acks"
    ),
    example!(
        "socketio-polling",
        "tests/fixtures",
        "socket.io on long-polling only: batched events, binary attachments as base64"
    ),
    example!(
        "socketio-missed",
        "tests/fixtures",
        "a Socket.IO client away while the server broadcasts: tick 2 missed"
    ),
    example!(
        "socketio-recovered",
        "tests/fixtures",
        "the same with connection state recovery: tick 2 replayed"
    ),
    example!(
        "dns",
        "tests/fixtures",
        "dig asking dnsmasq over UDP: A, AAAA, CNAME, MX, TXT, NXDomain, truncation"
    ),
    example!(
        "dns-tcp",
        "tests/fixtures",
        "the same run's DNS over TCP, a retry and a zone transfer"
    ),
    example!(
        "arp-icmp-netns",
        "tests/fixtures",
        "ARP, ping and an ICMP port unreachable between two namespaces"
    ),
    example!(
        "ip-fragments-netns",
        "tests/fixtures",
        "one 3,500-byte UDP datagram in three IPv4 fragments"
    ),
    example!(
        "icmpv6-unreachable",
        "tests/fixtures",
        "a UDP datagram to a closed port on ::1 and the ICMPv6 error"
    ),
    example!(
        "any-sll2",
        "tests/fixtures",
        "HTTP as `tcpdump -i any` writes it (Linux cooked capture v2)"
    ),
];

/// The built-in capture called `name`.
pub fn example(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name)
}

/// The names, comma-separated (for hints).
pub fn names() -> String {
    EXAMPLES
        .iter()
        .map(|e| e.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_built_in_copy_is_the_file_it_names() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for e in EXAMPLES {
            let file = std::fs::read(root.join(e.path)).unwrap();
            assert_eq!(file, e.bytes, "{}", e.path);
            assert!(e.path.ends_with(&format!("/{}.pcap", e.name)));
        }
        let mut n: Vec<_> = EXAMPLES.iter().map(|e| e.name).collect();
        n.sort_unstable();
        n.dedup();
        assert_eq!(n.len(), EXAMPLES.len(), "names are unique");
        assert!(example("tcp-handshake").is_some() && example("nope").is_none());
    }
}
