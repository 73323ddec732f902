//! A small tcpdump-style filter language, applied to a [`Dissection`].
//!
//! ```text
//! expr    := and ( ("or" | "||") and )*
//! and     := unary ( ("and" | "&&") unary )*
//! unary   := ("not" | "!") unary | primary
//! primary := "(" expr ")"
//!          | "tcp" | "udp" | "icmp" | "icmp6" | "arp" | "ip" | "ip6"
//!          | [ "src" | "dst" ] "host" ADDRESS
//!          | [ "src" | "dst" ] "port" NUMBER
//!          | PROTOCOL primary        (tcpdump's qualified form: `tcp port 80`)
//! ```
//!
//! Examples: `tcp port 8000`, `udp and not port 53`, `src host ::1 or arp`.
//! As in tcpdump, `and` binds tighter than `or`, and `port` matches TCP or UDP. Errors
//! say which token is wrong and where it starts (a character offset).

use crate::layers::Protocol;
use crate::wire::dissect::{Dissection, LayerRepr};
use core::net::IpAddr;
use std::fmt;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Proto(Protocol),
    Host(Dir, IpAddr),
    Port(Dir, u16),
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

/// Which end of the packet an address or port must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Src,
    Dst,
    Either,
}

/// A filter that could not be parsed: what is wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at character {position}")]
pub struct FilterError {
    pub message: String,
    /// Character offset of the offending token in the expression.
    pub position: usize,
    /// The offending token ("" at the end of the expression).
    pub token: String,
}

impl FilterError {
    /// The expression with a caret under the bad token, for the error's hint.
    pub fn pointer(&self, expr: &str) -> String {
        let width = self.token.chars().count().max(1);
        format!("{expr}\n{}{}", " ".repeat(self.position), "^".repeat(width))
    }
}

#[derive(Debug, Clone)]
struct Token<'a> {
    text: &'a str,
    at: usize,
}

fn tokenize(s: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let single = c == '(' || c == ')' || c == '!';
        let double = (c == '&' || c == '|') && chars.peek().map(|&(_, n)| n) == Some(c);
        if c.is_whitespace() || single || double {
            if let Some(st) = start.take() {
                out.push(Token {
                    text: &s[st..i],
                    at: st,
                });
            }
            if single {
                out.push(Token {
                    text: &s[i..i + 1],
                    at: i,
                });
            } else if double {
                chars.next();
                out.push(Token {
                    text: &s[i..i + 2],
                    at: i,
                });
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        out.push(Token {
            text: &s[st..],
            at: st,
        });
    }
    out
}

struct Parser<'a> {
    toks: Vec<Token<'a>>,
    pos: usize,
    src: &'a str,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.toks.get(self.pos).map(|t| t.text)
    }

    fn err(&self, message: impl Into<String>) -> FilterError {
        match self.toks.get(self.pos) {
            Some(t) => FilterError {
                message: message.into(),
                position: self.src[..t.at].chars().count(),
                token: t.text.to_owned(),
            },
            None => FilterError {
                message: message.into(),
                position: self.src.chars().count(),
                token: String::new(),
            },
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Filter, FilterError> {
        if depth > 64 {
            return Err(self.err("too deeply nested"));
        }
        let mut left = self.and(depth)?;
        while matches!(self.peek(), Some("or" | "||")) {
            self.pos += 1;
            let right = self.and(depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let mut left = self.unary(depth)?;
        while matches!(self.peek(), Some("and" | "&&")) {
            self.pos += 1;
            let right = self.unary(depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, FilterError> {
        if matches!(self.peek(), Some("not" | "!")) {
            self.pos += 1;
            if depth > 64 {
                return Err(self.err("too deeply nested"));
            }
            return Ok(Filter::Not(Box::new(self.unary(depth + 1)?)));
        }
        self.primary(depth)
    }

    fn primary(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let Some(word) = self.peek() else {
            return Err(self.err("the expression ends where a primitive (tcp, udp, host A, port N, ...) was expected"));
        };
        let proto = match word {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "icmp" => Some(Protocol::Icmpv4),
            "icmp6" => Some(Protocol::Icmpv6),
            "arp" => Some(Protocol::Arp),
            "ip" => Some(Protocol::Ipv4),
            "ip6" => Some(Protocol::Ipv6),
            _ => None,
        };
        if let Some(p) = proto {
            self.pos += 1;
            // tcpdump's qualified primitives: `tcp port 80` is `tcp and port 80`.
            if matches!(self.peek(), Some("port" | "host" | "src" | "dst")) {
                let rest = self.primary(depth + 1)?;
                return Ok(Filter::And(Box::new(Filter::Proto(p)), Box::new(rest)));
            }
            return Ok(Filter::Proto(p));
        }
        if word == "(" {
            self.pos += 1;
            let inner = self.expr(depth + 1)?;
            if self.peek() != Some(")") {
                return Err(self.err("expected `)` to close the parenthesis"));
            }
            self.pos += 1;
            return Ok(inner);
        }
        let dir = match word {
            "src" => Dir::Src,
            "dst" => Dir::Dst,
            _ => Dir::Either,
        };
        if dir != Dir::Either {
            self.pos += 1;
        }
        match self.peek() {
            Some("host") => {
                self.pos += 1;
                let Some(a) = self.peek() else {
                    return Err(self.err("`host` needs an IP address"));
                };
                let addr = a.parse::<IpAddr>().map_err(|_| self.err(format!("`{a}` is not an IP address (names are not looked up)")))?;
                self.pos += 1;
                Ok(Filter::Host(dir, addr))
            }
            Some("port") => {
                self.pos += 1;
                let Some(n) = self.peek() else {
                    return Err(self.err("`port` needs a number"));
                };
                let port = n.parse::<u16>().map_err(|_| self.err(format!("`{n}` is not a port number (0-65535)")))?;
                self.pos += 1;
                Ok(Filter::Port(dir, port))
            }
            Some(other) if dir != Dir::Either => Err(self.err(format!("expected `host` or `port` after `{word}`, found `{other}`"))),
            None if dir != Dir::Either => Err(self.err(format!("expected `host` or `port` after `{word}`"))),
            Some(other) => Err(self.err(format!(
                "unknown word `{other}`: expected tcp, udp, icmp, icmp6, arp, ip, ip6, host, port, src, dst, not or `(`"
            ))),
            None => Err(self.err("unexpected end")),
        }
    }
}

impl Filter {
    /// Parse an expression. The empty expression is an error; callers treat "no filter"
    /// as `None`.
    pub fn parse(s: &str) -> Result<Filter, FilterError> {
        let mut p = Parser {
            toks: tokenize(s),
            pos: 0,
            src: s,
        };
        let f = p.expr(0)?;
        if p.pos < p.toks.len() {
            return Err(p.err("unexpected word here; join primitives with `and` or `or`"));
        }
        Ok(f)
    }

    /// Does the packet match? Quoted headers inside ICMP errors do not count.
    pub fn matches(&self, d: &Dissection) -> bool {
        match self {
            Filter::Proto(p) => d.has(*p),
            Filter::Host(dir, a) => d.layers.iter().filter(|l| !l.quoted).any(|l| {
                let (s, t) = match &l.repr {
                    LayerRepr::Ipv4(r) => (IpAddr::V4(r.src), IpAddr::V4(r.dst)),
                    LayerRepr::Ipv6(r) => (IpAddr::V6(r.src), IpAddr::V6(r.dst)),
                    LayerRepr::Arp(r) => (IpAddr::V4(r.sender_ip), IpAddr::V4(r.target_ip)),
                    _ => return false,
                };
                match dir {
                    Dir::Src => s == *a,
                    Dir::Dst => t == *a,
                    Dir::Either => s == *a || t == *a,
                }
            }),
            Filter::Port(dir, p) => match d.ports() {
                Some((s, t)) => match dir {
                    Dir::Src => s == *p,
                    Dir::Dst => t == *p,
                    Dir::Either => s == *p || t == *p,
                },
                None => false,
            },
            Filter::Not(f) => !f.matches(d),
            Filter::And(a, b) => a.matches(d) && b.matches(d),
            Filter::Or(a, b) => a.matches(d) || b.matches(d),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = |d: &Dir| match d {
            Dir::Src => "src ",
            Dir::Dst => "dst ",
            Dir::Either => "",
        };
        match self {
            Filter::Proto(p) => f.write_str(match p {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
                Protocol::Icmpv4 => "icmp",
                Protocol::Icmpv6 => "icmp6",
                Protocol::Arp => "arp",
                Protocol::Ipv4 => "ip",
                _ => "ip6",
            }),
            Filter::Host(d, a) => write!(f, "{}host {a}", dir(d)),
            Filter::Port(d, p) => write!(f, "{}port {p}", dir(d)),
            Filter::Not(x) => write!(f, "not {x}"),
            Filter::And(a, b) => write!(f, "({a} and {b})"),
            Filter::Or(a, b) => write!(f, "({a} or {b})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dissect::{dissect, tests::LO_FRAME_UDP_HI, LinkType};

    fn m(expr: &str) -> bool {
        Filter::parse(expr)
            .unwrap()
            .matches(&dissect(LinkType::Ethernet, &LO_FRAME_UDP_HI))
    }

    #[test]
    fn primitives_and_precedence() {
        assert!(m("udp"));
        assert!(m("udp port 9000") && !m("tcp port 9000") && m("ip src host 127.0.0.1"));
        assert!(!m("tcp"));
        assert!(m("ip and not ip6"));
        assert!(m("port 9000") && m("dst port 9000") && !m("src port 9000"));
        assert!(m("src port 40000 && host 127.0.0.1"));
        assert!(m("tcp or udp and port 9000"), "and binds tighter than or");
        assert!(!m("(tcp or udp) and port 1"));
        assert!(m("!(tcp)"));
        assert!(!m("host ::1"));
        assert_eq!(
            Filter::parse("tcp or udp and port 1").unwrap().to_string(),
            "(tcp or (udp and port 1))"
        );
    }

    #[test]
    fn errors_point_at_the_bad_token() {
        let e = Filter::parse("tcp and prot 80").unwrap_err();
        assert_eq!((e.position, e.token.as_str()), (8, "prot"));
        assert_eq!(
            e.pointer("tcp and prot 80"),
            "tcp and prot 80\n        ^^^^"
        );
        let e = Filter::parse("port 99999").unwrap_err();
        assert_eq!(e.token, "99999");
        let e = Filter::parse("(tcp").unwrap_err();
        assert_eq!(e.position, 4);
        let e = Filter::parse("tcp udp").unwrap_err();
        assert_eq!(e.token, "udp");
        let e = Filter::parse("src 10.0.0.1").unwrap_err();
        assert_eq!(e.token, "10.0.0.1");
        assert!(Filter::parse("").is_err());
        assert!(Filter::parse(&"(".repeat(500)).is_err());
        assert!(Filter::parse(&"not ".repeat(500)).is_err());
    }
}
