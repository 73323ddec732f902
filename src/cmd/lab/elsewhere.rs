//! Checking a step's other-terminal commands: after the student presses Enter, netlab
//! looks for the sockets those commands leave behind, instead of taking "done" on trust.
//!
//! A TCP listener and its connections are visible to every process on the machine in
//! `/proc/net/tcp` (what `ss -tan` reads), and a connection that closed stays there in
//! TIME-WAIT for a minute (2×MSL, RFC 9293 §3.6.1), so the check works after the student
//! has already stopped the programs, as the steps ask.

use crate::labs::netlab_part;
use crate::net::host::{sockets_on_port, TcpState};

/// The TCP port a step's other-terminal commands use: the `--port N` of `netlab tcp
/// listen`, the port of `netlab tcp connect HOST:N`, or the port of a WebSocket URL
/// (`netlab ws client ws://HOST:N/`; WebSocket runs over TCP), or of a Socket.IO server or
/// client (`--port N`, `http://HOST:N`). `None` when they use no
/// TCP port netlab could look for.
pub fn tcp_port(commands: &[String]) -> Option<u16> {
    for c in commands {
        let words: Vec<&str> = netlab_part(c).split_whitespace().collect();
        if words.get(1) == Some(&"ws") {
            let url = words.iter().find_map(|w| w.strip_prefix("ws://"));
            let port = url.and_then(port_of_url);
            if port.is_some() {
                return port;
            }
            continue;
        }
        if words.get(1) == Some(&"socketio") {
            // `socketio server --port N`, or `socketio client http://HOST:N`.
            let url = words.iter().find_map(|w| {
                w.strip_prefix("http://")
                    .or_else(|| w.strip_prefix("ws://"))
            });
            let port = url.and_then(port_of_url);
            if port.is_some() {
                return port;
            }
        } else if words.get(1) != Some(&"tcp") {
            continue;
        }
        if let Some(i) = words.iter().position(|w| *w == "--port") {
            if let Some(p) = words.get(i + 1).and_then(|p| p.parse().ok()) {
                return Some(p);
            }
        }
        if words.get(2) == Some(&"connect") {
            let port = words
                .get(3)
                .and_then(|a| a.rsplit_once(':'))
                .and_then(|(_, p)| p.parse().ok());
            if port.is_some() {
                return port;
            }
        }
    }
    None
}

/// What netlab sees on `port` now, one `STATE ×N` per state ("LISTEN, TIME-WAIT ×2"); empty
/// when nothing.
pub fn seen(port: u16) -> String {
    describe(&sockets_on_port(port))
}

fn describe(states: &[TcpState]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < states.len() {
        let n = states[i..].iter().take_while(|s| **s == states[i]).count();
        parts.push(if n == 1 {
            states[i].name().to_owned()
        } else {
            format!("{} ×{n}", states[i].name())
        });
        i += n;
    }
    parts.join(", ")
}

/// The port of a URL without its scheme (`HOST:PORT/path` gives PORT).
fn port_of_url(url: &str) -> Option<u16> {
    url.split('/')
        .next()
        .and_then(|a| a.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_comes_from_listen_or_connect() {
        let v = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            tcp_port(&v(&[
                "netlab tcp listen --port 9000",
                "netlab tcp connect 127.0.0.1:9000"
            ])),
            Some(9000)
        );
        assert_eq!(tcp_port(&v(&["netlab tcp connect [::1]:8123"])), Some(8123));
        assert_eq!(tcp_port(&v(&["netlab udp listen --port 9001"])), None);
        assert_eq!(tcp_port(&v(&["netlab ws server"])), None);
        assert_eq!(
            tcp_port(&v(&[
                "netlab ws server --broadcast",
                "netlab ws client ws://127.0.0.1:9001/"
            ])),
            Some(9001)
        );
        assert_eq!(
            tcp_port(&v(&[
                "echo \"hi there\" | netlab tcp connect 127.0.0.1:9000"
            ])),
            Some(9000)
        );
        assert_eq!(
            tcp_port(&v(&["netlab socketio server --port 3000 --trace"])),
            Some(3000)
        );
        assert_eq!(
            tcp_port(&v(&[
                "netlab socketio client http://127.0.0.1:3001 --trace"
            ])),
            Some(3001)
        );
        assert_eq!(tcp_port(&v(&["netlab socketio demo"])), None);
    }

    #[test]
    fn states_are_counted() {
        use TcpState::*;
        assert_eq!(
            describe(&[Listen, TimeWait, TimeWait]),
            "LISTEN, TIME-WAIT ×2"
        );
        assert_eq!(describe(&[]), "");
    }
}
