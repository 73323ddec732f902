//! The opening handshake, RFC 6455 §4: an HTTP/1.1 Upgrade, validated step by step.
//!
//! ```text
//! client                                              server
//!   GET /chat HTTP/1.1                 ──────────►
//!   Host, Upgrade: websocket, Connection: Upgrade,
//!   Sec-WebSocket-Key: <base64 of 16 random bytes>,
//!   Sec-WebSocket-Version: 13
//!                                      ◄──────────   HTTP/1.1 101 Switching Protocols
//!                                                    Upgrade, Connection,
//!                                                    Sec-WebSocket-Accept:
//!                                                      base64(SHA-1(key + GUID))
//! ```
//!
//! The Accept value proves only that the server read *this* request and speaks
//! WebSocket (an HTTP server or cache that knows nothing of WebSocket could not produce
//! it). It is not authentication: anyone can compute it, and it says nothing about who
//! either side is.

use super::{deflate, extensions};
use crate::wire::application::http1::{Headers, RequestHead, ResponseHead};
use base64::Engine as _;
use serde::Serialize;
use sha1::{Digest, Sha1};

/// The GUID of §1.3, appended to the key before hashing.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The key of the RFC's own example (§1.3).
pub const RFC_EXAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    accept_steps(key).accept
}

/// Each step of the Accept computation, for `netlab ws handshake`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcceptSteps {
    pub key: String,
    /// How many bytes the key decodes to (a valid key decodes to 16), if it is base64.
    pub key_decoded_len: Option<usize>,
    pub guid: &'static str,
    pub concatenated: String,
    pub sha1_hex: String,
    pub accept: String,
}

pub fn accept_steps(key: &str) -> AcceptSteps {
    let concatenated = format!("{key}{GUID}");
    let digest = Sha1::digest(concatenated.as_bytes());
    AcceptSteps {
        key: key.to_owned(),
        key_decoded_len: b64().decode(key).ok().map(|b| b.len()),
        guid: GUID,
        sha1_hex: crate::wire::text::hex(&digest, ""),
        accept: b64().encode(digest),
        concatenated,
    }
}

/// The `Sec-WebSocket-Key` for 16 random bytes (the caller supplies the randomness).
pub fn key_from_nonce(nonce: [u8; 16]) -> String {
    b64().encode(nonce)
}

/// What a server accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServerPolicy {
    /// Subprotocols we speak, most preferred first; the first the client offers is chosen.
    pub protocols: Vec<String>,
    /// If set, a request whose `Origin` is not listed is refused with 403 (§4.2.2 item 4).
    /// Requests without `Origin` (non-browser clients) are let through: Origin protects
    /// browsers' users, it does not authenticate programs.
    pub allowed_origins: Option<Vec<String>>,
    /// Accept permessage-deflate (RFC 7692) when the client offers it.
    pub deflate: bool,
    /// More header fields for the 101 answer, as (name, value): §4.2.2 item 5 lets a
    /// server send "additional header fields" (netlab's says what it does with messages).
    pub extra_headers: Vec<(String, String)>,
}

/// One rule of §4.2.1 and how the request fared, for the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub rule: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// A request the server accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accepted {
    pub key: String,
    pub accept: String,
    pub protocol: Option<String>,
    /// Extensions the client offered, as written.
    pub offered_extensions: Vec<String>,
    /// The permessage-deflate parameters agreed, when the policy allows it and an offer
    /// was acceptable (RFC 7692 §5).
    pub deflate: Option<deflate::Agreement>,
    pub checks: Vec<Check>,
    /// The policy's additional header fields, written after the required ones.
    pub extra_headers: Vec<(String, String)>,
}

/// A request the server refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub status: u16,
    pub rule: String,
    pub checks: Vec<Check>,
}

impl Rejection {
    /// The HTTP response to send: 400 with the broken rule in the body; 426 with the
    /// version we speak (§4.2.2); 403 for an Origin not allowed (§4.2.2 suggests it).
    pub fn response_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            403 => "Forbidden",
            426 => "Upgrade Required",
            _ => "Bad Request",
        };
        let body = format!("WebSocket handshake refused: {}\n", self.rule);
        let mut s = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        if self.status == 426 {
            s.push_str("Sec-WebSocket-Version: 13\r\n");
        }
        s.push_str(&format!(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        s.into_bytes()
    }
}

impl Accepted {
    /// `101 Switching Protocols` (§4.2.2 item 5). `Sec-WebSocket-Extensions` names
    /// permessage-deflate when it was agreed; leaving it out declines every offer.
    pub fn response_bytes(&self) -> Vec<u8> {
        let mut s = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
            self.accept
        );
        if let Some(p) = &self.protocol {
            s.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
        }
        if let Some(a) = &self.deflate {
            s.push_str(&format!(
                "Sec-WebSocket-Extensions: {}\r\n",
                a.response_value()
            ));
        }
        for (name, value) in &self.extra_headers {
            s.push_str(&format!("{name}: {value}\r\n"));
        }
        s.push_str("\r\n");
        s.into_bytes()
    }
}

fn list(headers: &Headers, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Validate a client's opening handshake as §4.2.1 lists, in that order.
pub fn validate_request(head: &RequestHead, policy: &ServerPolicy) -> Result<Accepted, Rejection> {
    let mut c = Checker::default();
    let result = required_fields(head, policy, &mut c);
    let mut checks = c.checks;
    let h = &head.headers;
    let key = match result {
        Ok(key) => key,
        Err((status, rule)) => {
            return Err(Rejection {
                status,
                rule,
                checks,
            })
        }
    };
    // 8. Subprotocol: the first of ours the client offered, or none.
    let offered = list(h, "sec-websocket-protocol");
    let protocol = policy
        .protocols
        .iter()
        .find(|p| offered.iter().any(|o| o == *p))
        .cloned();
    let deflate = policy
        .deflate
        .then(|| negotiate_deflate(h, &mut checks))
        .flatten();
    let accept = accept_key(&key);
    checks.push(Check {
        rule: "Sec-WebSocket-Accept computed",
        passed: true,
        detail: format!("base64(SHA-1({key} + GUID)) = {accept}"),
    });
    Ok(Accepted {
        key,
        accept,
        protocol,
        offered_extensions: list(h, "sec-websocket-extensions"),
        deflate,
        checks,
        extra_headers: policy.extra_headers.clone(),
    })
}

/// The checks of a handshake, in order, each with what was seen.
#[derive(Default)]
struct Checker {
    checks: Vec<Check>,
}

impl Checker {
    /// Record one rule; a broken rule stops the handshake with `status`.
    fn step(
        &mut self,
        rule: &'static str,
        passed: bool,
        detail: String,
        status: u16,
    ) -> Result<(), (u16, String)> {
        let failed = (!passed).then(|| (status, format!("{rule}: {detail}")));
        self.checks.push(Check {
            rule,
            passed,
            detail,
        });
        failed.map_or(Ok(()), Err)
    }
}

/// Steps 1 to 7 of §4.2.1: what the opening request must carry. Returns the client's key.
fn required_fields(
    head: &RequestHead,
    policy: &ServerPolicy,
    c: &mut Checker,
) -> Result<String, (u16, String)> {
    let h = &head.headers;
    // 1. "An HTTP/1.1 or higher GET request, including a Request-URI".
    c.step(
        "method is GET",
        head.method == "GET",
        format!("method {}", head.method),
        400,
    )?;
    c.step(
        "HTTP/1.1 or later",
        head.minor_version >= 1,
        format!("HTTP/1.{}", head.minor_version),
        400,
    )?;
    // 2. "A |Host| header field containing the server's authority."
    c.step(
        "Host is present",
        h.count("host") == 1,
        format!("{} Host field(s)", h.count("host")),
        400,
    )?;
    // 3. "An |Upgrade| header field containing the value "websocket"" (case-insensitive).
    c.step(
        "Upgrade: websocket",
        h.has_token("upgrade", "websocket"),
        format!("Upgrade: {}", h.get("upgrade").unwrap_or("(missing)")),
        400,
    )?;
    // 4. "A |Connection| header field that includes the token "Upgrade"".
    c.step(
        "Connection includes Upgrade",
        h.has_token("connection", "upgrade"),
        format!("Connection: {}", h.get("connection").unwrap_or("(missing)")),
        400,
    )?;
    // 5. Sec-WebSocket-Key: base64 of a 16-byte value.
    let key = h.get("sec-websocket-key").unwrap_or("");
    let decoded = b64().decode(key).map(|b| b.len()).ok();
    c.step(
        "Sec-WebSocket-Key is base64 of 16 bytes",
        h.count("sec-websocket-key") == 1 && decoded == Some(16),
        match decoded {
            _ if key.is_empty() => "missing".to_owned(),
            Some(n) => format!("{key} decodes to {n} bytes"),
            None => format!("{key} is not base64"),
        },
        400,
    )?;
    // 6. Sec-WebSocket-Version: 13; otherwise 426 with the versions we speak (§4.4).
    let version = h.get("sec-websocket-version").unwrap_or("(missing)");
    let v13 = version == "13";
    c.step(
        "Sec-WebSocket-Version: 13",
        v13,
        format!("version {version}"),
        if h.get("sec-websocket-version").is_some() {
            426
        } else {
            400
        },
    )?;
    // 7. Origin (optional; browsers always send it).
    if let (Some(allowed), Some(origin)) = (&policy.allowed_origins, h.get("origin")) {
        let ok = allowed.iter().any(|a| a.eq_ignore_ascii_case(origin));
        c.step("Origin is allowed", ok, format!("Origin: {origin}"), 403)?;
    }
    Ok(key.to_owned())
}

/// Step 9, extensions (§9.1): the first acceptable permessage-deflate offer (RFC 7692
/// §5). A header that breaks the §9.1 grammar declines every offer rather than the request:
/// extensions are optional, the connection works without them.
fn negotiate_deflate(h: &Headers, checks: &mut Vec<Check>) -> Option<deflate::Agreement> {
    if h.count("sec-websocket-extensions") == 0 {
        return None;
    }
    let offers = match extensions::parse(h.get_all("sec-websocket-extensions")) {
        Ok(o) => o,
        Err(e) => {
            checks.push(Check {
                rule: "permessage-deflate offer",
                passed: false,
                detail: format!("declined: {e}"),
            });
            return None;
        }
    };
    let (agreed, verdicts) = deflate::accept_offers(&offers);
    for v in verdicts {
        checks.push(Check {
            rule: "permessage-deflate offer",
            passed: v.declined.is_none(),
            detail: match v.declined {
                None => format!("{} accepted", v.offer),
                Some(why) => format!("{} declined: {why}", v.offer),
            },
        });
    }
    agreed
}

/// Build a client's opening handshake (§4.1). Returns the key sent and the bytes.
pub fn client_request(
    host: &str,
    path: &str,
    nonce: [u8; 16],
    protocols: &[String],
    origin: Option<&str>,
) -> (String, Vec<u8>) {
    client_request_offering(host, path, nonce, protocols, origin, false)
}

/// [`client_request`], offering permessage-deflate ([`deflate::CLIENT_OFFER`]) when
/// `offer_deflate` is set.
pub fn client_request_offering(
    host: &str,
    path: &str,
    nonce: [u8; 16],
    protocols: &[String],
    origin: Option<&str>,
    offer_deflate: bool,
) -> (String, Vec<u8>) {
    let key = key_from_nonce(nonce);
    let mut s = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    );
    if !protocols.is_empty() {
        s.push_str(&format!(
            "Sec-WebSocket-Protocol: {}\r\n",
            protocols.join(", ")
        ));
    }
    if let Some(o) = origin {
        s.push_str(&format!("Origin: {o}\r\n"));
    }
    if offer_deflate {
        s.push_str(&format!(
            "Sec-WebSocket-Extensions: {}\r\n",
            deflate::CLIENT_OFFER
        ));
    }
    s.push_str("\r\n");
    (key, s.into_bytes())
}

/// Why a client refuses a server's answer (§4.1, "the client MUST _Fail the WebSocket
/// Connection_" when ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResponseError {
    #[error("the server answered {status} {reason}, not 101 Switching Protocols")]
    NotSwitching { status: u16, reason: String },
    #[error("the response's Upgrade field is not \"websocket\"")]
    BadUpgrade,
    #[error("the response's Connection field does not include \"Upgrade\"")]
    BadConnection,
    #[error("Sec-WebSocket-Accept is {got:?}, expected {expected:?}")]
    BadAccept { expected: String, got: String },
    #[error("the server chose extension(s) {0:?} that were not offered")]
    UnrequestedExtension(String),
    #[error("the server's permessage-deflate answer is refused: {0}")]
    BadDeflateAnswer(deflate::ParamError),
    #[error("the server chose subprotocol {0:?} that was not offered")]
    UnrequestedProtocol(String),
}

/// Validate the server's answer to a request sent with `key` offering `protocols`.
/// Returns the subprotocol the server chose, if any.
pub fn validate_response(
    head: &ResponseHead,
    key: &str,
    protocols: &[String],
) -> Result<Option<String>, ResponseError> {
    validate_response_offering(head, key, protocols, false).map(|a| a.protocol)
}

/// What the server's answer agreed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponseAgreed {
    pub protocol: Option<String>,
    pub deflate: Option<deflate::Agreement>,
}

/// [`validate_response`] for a request that offered permessage-deflate when
/// `offered_deflate` is set: the answer's parameters are checked (RFC 7692 §5).
pub fn validate_response_offering(
    head: &ResponseHead,
    key: &str,
    protocols: &[String],
    offered_deflate: bool,
) -> Result<ResponseAgreed, ResponseError> {
    let h = &head.headers;
    if head.status != 101 {
        return Err(ResponseError::NotSwitching {
            status: head.status,
            reason: head.reason.clone(),
        });
    }
    if !h.has_token("upgrade", "websocket") {
        return Err(ResponseError::BadUpgrade);
    }
    if !h.has_token("connection", "upgrade") {
        return Err(ResponseError::BadConnection);
    }
    let expected = accept_key(key);
    let got = h.get("sec-websocket-accept").unwrap_or("");
    if got != expected {
        return Err(ResponseError::BadAccept {
            expected,
            got: got.to_owned(),
        });
    }
    let deflate = match h.get("sec-websocket-extensions") {
        Some(ext) if !offered_deflate => {
            return Err(ResponseError::UnrequestedExtension(ext.to_owned()))
        }
        Some(ext) => {
            let answered = extensions::parse(h.get_all("sec-websocket-extensions"))
                .map_err(|_| ResponseError::UnrequestedExtension(ext.to_owned()))?;
            deflate::check_response(&answered, true).map_err(ResponseError::BadDeflateAnswer)?
        }
        None => None,
    };
    let protocol = match h.get("sec-websocket-protocol") {
        None => None,
        Some(p) if protocols.iter().any(|o| o == p) => Some(p.to_owned()),
        Some(p) => return Err(ResponseError::UnrequestedProtocol(p.to_owned())),
    };
    Ok(ResponseAgreed { protocol, deflate })
}

/// What a handshake header is for, in a sentence (for `--trace`).
pub fn explain_header(name: &str) -> &'static str {
    match name.to_ascii_lowercase().as_str() {
        "host" => "which site this is for (one server may host many); required by HTTP/1.1",
        "upgrade" => "asks to switch this TCP connection from HTTP to the named protocol",
        "connection" => "must list Upgrade, so proxies treat Upgrade as hop-by-hop",
        "sec-websocket-key" => {
            "16 random bytes in base64; the server must transform it to prove it understood"
        }
        "sec-websocket-version" => "the protocol version; 13 is RFC 6455",
        "sec-websocket-accept" => "base64(SHA-1(key + GUID)): proof the server read this request",
        "sec-websocket-protocol" => "subprotocols offered (request) or the one chosen (response)",
        "sec-websocket-extensions" => {
            "extensions offered (request) or accepted (response), e.g. permessage-deflate"
        }
        "origin" => "the page that opened the socket (sent by browsers); servers may refuse",
        "user-agent" => "the client software",
        "content-length" => "the size of the body that follows the head",
        "content-type" => "the kind of body",
        "netlab-mode" => {
            "netlab's server says what it does with messages (echo, broadcast); not RFC 6455"
        }
        _ => "not part of the WebSocket handshake",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::application::http1::{parse_request, parse_response, Scan};

    // RFC 6455 §1.2, the client's example handshake.
    const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

    fn req(bytes: &[u8]) -> RequestHead {
        match parse_request(bytes, 8192).unwrap() {
            Scan::Complete { value, .. } => value,
            Scan::NeedMore => panic!("incomplete"),
        }
    }

    #[test]
    fn rfc6455_1_3_accept_key() {
        assert_eq!(accept_key(RFC_EXAMPLE_KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let s = accept_steps(RFC_EXAMPLE_KEY);
        assert_eq!(s.sha1_hex, "b37a4f2cc0624f1690f64606cf385945b2bec4ea");
        assert_eq!(s.key_decoded_len, Some(16));
        assert!(s.concatenated.ends_with(GUID));
    }

    #[test]
    fn rfc6455_1_2_example_is_accepted() {
        let policy = ServerPolicy {
            protocols: vec!["chat".into()],
            allowed_origins: Some(vec!["http://example.com".into()]),
            deflate: false,
            ..ServerPolicy::default()
        };
        let a = validate_request(&req(RFC_REQUEST), &policy).unwrap();
        assert_eq!(a.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(a.protocol.as_deref(), Some("chat"));
        let resp = String::from_utf8(a.response_bytes()).unwrap();
        assert!(resp.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(resp.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(!resp.contains("Extensions"));
    }

    #[test]
    fn extra_header_fields_go_after_the_required_ones() {
        let policy = ServerPolicy {
            extra_headers: vec![("Netlab-Mode".into(), "broadcast".into())],
            ..ServerPolicy::default()
        };
        let a = validate_request(&req(RFC_REQUEST), &policy).unwrap();
        let resp = String::from_utf8(a.response_bytes()).unwrap();
        assert!(
            resp.ends_with("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nNetlab-Mode: broadcast\r\n\r\n"),
            "{resp}"
        );
    }

    #[test]
    fn permessage_deflate_is_negotiated_when_the_policy_allows_it() {
        let (key, request) = client_request_offering("h", "/", [9; 16], &[], None, true);
        let text = String::from_utf8(request).unwrap();
        assert!(text
            .contains("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"));
        let off = validate_request(&req(text.as_bytes()), &ServerPolicy::default()).unwrap();
        assert_eq!(off.deflate, None, "declined unless the policy allows it");
        let policy = ServerPolicy {
            deflate: true,
            ..ServerPolicy::default()
        };
        let on = validate_request(&req(text.as_bytes()), &policy).unwrap();
        assert!(on.deflate.is_some());
        assert!(on
            .checks
            .iter()
            .any(|c| c.rule == "permessage-deflate offer" && c.passed));
        let resp = on.response_bytes();
        assert!(String::from_utf8_lossy(&resp)
            .contains("Sec-WebSocket-Extensions: permessage-deflate\r\n"));
        let Scan::Complete { value, .. } = parse_response(&resp, 8192).unwrap() else {
            panic!("incomplete")
        };
        let agreed = validate_response_offering(&value, &key, &[], true).unwrap();
        assert_eq!(agreed.deflate, on.deflate);
        // A client that did not offer it refuses the same answer.
        assert!(matches!(
            validate_response(&value, &key, &[]),
            Err(ResponseError::UnrequestedExtension(_))
        ));
        // A malformed header declines the extension, not the connection.
        let bad = text.replace("client_max_window_bits", "client_max_window_bits=\"1");
        let a = validate_request(&req(bad.as_bytes()), &policy).unwrap();
        assert_eq!(a.deflate, None);
    }

    fn broken(from: &str, to: &str) -> Rejection {
        let text = std::str::from_utf8(RFC_REQUEST).unwrap().replace(from, to);
        validate_request(&req(text.as_bytes()), &ServerPolicy::default()).unwrap_err()
    }

    #[test]
    fn each_rule_is_named_when_broken() {
        let r = broken("GET", "POST");
        assert!(r.status == 400 && r.rule.contains("method is GET"), "{r:?}");
        assert_eq!(broken("HTTP/1.1", "HTTP/1.0").status, 400);
        assert!(broken("Host:", "X-Host:").rule.contains("Host"));
        assert!(broken("Upgrade: websocket", "Upgrade: h2c")
            .rule
            .contains("Upgrade"));
        assert!(broken("Connection: Upgrade", "Connection: close")
            .rule
            .contains("Connection"));
        let r = broken("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=");
        assert!(r.rule.contains("16 bytes") && r.status == 400, "{r:?}");
        let r = broken("Version: 13", "Version: 8");
        assert_eq!(r.status, 426);
        let resp = String::from_utf8(r.response_bytes()).unwrap();
        assert!(resp.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert!(resp.contains("Sec-WebSocket-Version: 13\r\n"));
        let resp =
            String::from_utf8(broken("Connection: Upgrade", "Connection: x").response_bytes())
                .unwrap();
        assert!(
            resp.starts_with("HTTP/1.1 400 Bad Request")
                && resp.contains("Connection includes Upgrade")
        );
    }

    #[test]
    fn case_and_token_lists_are_handled() {
        let text = std::str::from_utf8(RFC_REQUEST)
            .unwrap()
            .replace("Upgrade: websocket", "upgrade: WebSocket")
            .replace("Connection: Upgrade", "Connection: keep-alive, upgrade");
        assert!(validate_request(&req(text.as_bytes()), &ServerPolicy::default()).is_ok());
    }

    #[test]
    fn origin_allow_list() {
        let policy = ServerPolicy {
            protocols: vec![],
            allowed_origins: Some(vec!["http://good.example".into()]),
            deflate: false,
            ..ServerPolicy::default()
        };
        assert_eq!(
            validate_request(&req(RFC_REQUEST), &policy)
                .unwrap_err()
                .status,
            403
        );
    }

    #[test]
    fn client_side_round_trip() {
        let (key, bytes) = client_request("127.0.0.1:9", "/", [7; 16], &[], None);
        let a = validate_request(&req(&bytes), &ServerPolicy::default()).unwrap();
        assert_eq!(a.key, key);
        let resp = a.response_bytes();
        let Scan::Complete { value, .. } = parse_response(&resp, 8192).unwrap() else {
            panic!()
        };
        assert_eq!(validate_response(&value, &key, &[]), Ok(None));
        let wrong = key_from_nonce([8; 16]);
        assert!(matches!(
            validate_response(&value, &wrong, &[]),
            Err(ResponseError::BadAccept { .. })
        ));
    }
}
