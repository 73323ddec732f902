//! The request target of every Engine.IO request, and the checks the server makes
//! before serving one.
//!
//! ```text
//! GET /engine.io/?EIO=4&transport=polling&t=N8hyd6w                 opens a session
//! GET /engine.io/?EIO=4&transport=polling&sid=lv_VI97HAXpY6yYWAAAC  waits for packets
//! POST /engine.io/?EIO=4&transport=polling&sid=lv_VI97HAXpY6yYWAAAC sends packets
//! GET /engine.io/?EIO=4&transport=websocket&sid=lv_VI97HAXpY6yYWAAAC  (Upgrade: websocket)
//! ```
//!
//! `EIO` is the protocol revision, `transport` the way this request carries packets,
//! `sid` the session (absent on the request that opens one) and `t` a value that only
//! defeats caches. A request the server refuses gets a JSON body with a code; the codes
//! and messages here are the reference server's (engine.io 6, `Server.errors`), checked
//! in its order: transport, then the session, then the method.

use serde::Serialize;

/// The two transports of revision 4 (WebTransport aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Polling,
    #[serde(rename = "websocket")]
    WebSocket,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::WebSocket => "websocket",
        }
    }

    fn from_name(s: &str) -> Option<Transport> {
        match s {
            "polling" => Some(Transport::Polling),
            "websocket" => Some(Transport::WebSocket),
            _ => None,
        }
    }
}

/// The parts of a request target Engine.IO reads. Absent parameters are `None`; a
/// parameter given twice counts once (the first).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Query {
    /// The path before `?` (`/engine.io/` by default).
    pub path: String,
    pub eio: Option<String>,
    pub transport: Option<String>,
    pub sid: Option<String>,
    pub t: Option<String>,
}

impl Query {
    /// Split a request target into its path and the parameters Engine.IO reads. Values
    /// are taken as written (session ids and `t` are URL-safe already).
    pub fn parse(target: &str) -> Query {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut q = Query {
            path: path.to_owned(),
            ..Query::default()
        };
        for pair in query.split('&').take(64) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "EIO" => &mut q.eio,
                "transport" => &mut q.transport,
                "sid" => &mut q.sid,
                "t" => &mut q.t,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.to_owned());
            }
        }
        q
    }
}

/// The reference server's refusal codes (`Server.errors`) and their messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    UnknownTransport = 0,
    UnknownSid = 1,
    BadHandshakeMethod = 2,
    BadRequest = 3,
    Forbidden = 4,
    UnsupportedProtocolVersion = 5,
}

impl RefusalCode {
    pub fn message(self) -> &'static str {
        match self {
            RefusalCode::UnknownTransport => "Transport unknown",
            RefusalCode::UnknownSid => "Session ID unknown",
            RefusalCode::BadHandshakeMethod => "Bad handshake method",
            RefusalCode::BadRequest => "Bad request",
            RefusalCode::Forbidden => "Forbidden",
            RefusalCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }
}

/// A request the server will not serve: the code, and the rule it broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{} (code {}): {rule}", code.message(), *code as u8)]
pub struct Refusal {
    pub code: RefusalCode,
    pub rule: &'static str,
}

impl Refusal {
    fn new(code: RefusalCode, rule: &'static str) -> Refusal {
        Refusal { code, rule }
    }

    /// The HTTP status: 403 for forbidden, 400 for everything else.
    pub fn status(&self) -> u16 {
        if self.code == RefusalCode::Forbidden {
            403
        } else {
            400
        }
    }

    /// The body of the refusal of an HTTP request (`Content-Type: application/json`):
    /// `{"code":5,"message":"Unsupported protocol version"}`.
    pub fn json_body(&self) -> String {
        format!(
            r#"{{"code":{},"message":"{}"}}"#,
            self.code as u8,
            self.code.message()
        )
    }
}

/// What a request that passed the checks is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Route {
    /// Open a new session on this transport.
    Open { transport: Transport },
    /// A request of the session `sid` (a poll, a POST, or a WebSocket for it).
    Session { sid: String, transport: Transport },
}

/// Check a request as the reference server does (`Server.verify`, then `handshake`).
/// `upgrade` says the request asks for a WebSocket; `session_transport` looks up a
/// session by sid and says which transport it is on now.
pub fn check(
    method: &str,
    upgrade: bool,
    q: &Query,
    session_transport: impl Fn(&str) -> Option<Transport>,
) -> Result<Route, Refusal> {
    let transport = q
        .transport
        .as_deref()
        .and_then(Transport::from_name)
        .ok_or(Refusal::new(
            RefusalCode::UnknownTransport,
            "transport must be polling or websocket",
        ))?;
    let v4 = q.eio.as_deref() == Some("4");
    if let Some(sid) = q.sid.as_deref() {
        let current = session_transport(sid).ok_or(Refusal::new(
            RefusalCode::UnknownSid,
            "no open session has this sid",
        ))?;
        if !upgrade && current != transport {
            return Err(Refusal::new(
                RefusalCode::BadRequest,
                "a request on another transport than the session's, without an upgrade",
            ));
        }
        if !v4 {
            return Err(Refusal::new(
                RefusalCode::BadRequest,
                "a request of another protocol revision than the session's",
            ));
        }
        return Ok(Route::Session {
            sid: sid.to_owned(),
            transport,
        });
    }
    if method != "GET" {
        return Err(Refusal::new(
            RefusalCode::BadHandshakeMethod,
            "a session is opened with GET",
        ));
    }
    if transport == Transport::WebSocket && !upgrade {
        return Err(Refusal::new(
            RefusalCode::BadRequest,
            "transport=websocket without an Upgrade: websocket request",
        ));
    }
    if !v4 {
        return Err(Refusal::new(
            RefusalCode::UnsupportedProtocolVersion,
            "this server speaks revision 4 only (EIO=4)",
        ));
    }
    Ok(Route::Open { transport })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<Transport> {
        None
    }

    fn polling_abc(sid: &str) -> Option<Transport> {
        (sid == "abc").then_some(Transport::Polling)
    }

    #[test]
    fn parses_the_targets_the_reference_client_sends() {
        let q = Query::parse("/engine.io/?EIO=4&transport=polling&t=PZ1bL3a");
        assert_eq!(q.path, "/engine.io/");
        assert_eq!(q.eio.as_deref(), Some("4"));
        assert_eq!(q.transport.as_deref(), Some("polling"));
        assert_eq!(q.t.as_deref(), Some("PZ1bL3a"));
        assert_eq!(q.sid, None);
        let q = Query::parse("/engine.io/?EIO=4&transport=websocket&sid=S9brL3KXZlnkAmvHAAAA");
        assert_eq!(q.sid.as_deref(), Some("S9brL3KXZlnkAmvHAAAA"));
        assert_eq!(Query::parse("/engine.io/").transport, None);
        assert_eq!(Query::parse("/?sid=a&sid=b&x&=").sid.as_deref(), Some("a"));
    }

    /// Each refusal against the body the reference server (engine.io 6.6) sent for the
    /// same request, captured with node 20.
    #[test]
    fn refuses_as_the_reference_server_does() {
        let cases: [(&str, &str, &str); 7] = [
            (
                "GET",
                "/engine.io/?EIO=3&transport=polling",
                r#"{"code":5,"message":"Unsupported protocol version"}"#,
            ),
            (
                "GET",
                "/engine.io/?transport=polling",
                r#"{"code":5,"message":"Unsupported protocol version"}"#,
            ),
            (
                "GET",
                "/engine.io/?EIO=4&transport=foo",
                r#"{"code":0,"message":"Transport unknown"}"#,
            ),
            (
                "GET",
                "/engine.io/?EIO=3&transport=foo",
                r#"{"code":0,"message":"Transport unknown"}"#,
            ),
            (
                "GET",
                "/engine.io/?EIO=4&transport=polling&sid=nope",
                r#"{"code":1,"message":"Session ID unknown"}"#,
            ),
            (
                "POST",
                "/engine.io/?EIO=4&transport=polling",
                r#"{"code":2,"message":"Bad handshake method"}"#,
            ),
            (
                "GET",
                "/engine.io/?EIO=4&transport=websocket",
                r#"{"code":3,"message":"Bad request"}"#,
            ),
        ];
        for (method, target, body) in cases {
            let refusal = check(method, false, &Query::parse(target), none).unwrap_err();
            assert_eq!(refusal.json_body(), body, "{method} {target}");
            assert_eq!(refusal.status(), 400);
        }
    }

    #[test]
    fn routes_what_it_serves() {
        let open = check(
            "GET",
            false,
            &Query::parse("/engine.io/?EIO=4&transport=polling"),
            none,
        );
        assert_eq!(
            open,
            Ok(Route::Open {
                transport: Transport::Polling
            })
        );
        let ws = check(
            "GET",
            true,
            &Query::parse("/engine.io/?EIO=4&transport=websocket"),
            none,
        );
        assert_eq!(
            ws,
            Ok(Route::Open {
                transport: Transport::WebSocket
            })
        );
        let up = Query::parse("/engine.io/?EIO=4&transport=websocket&sid=abc");
        assert_eq!(
            check("GET", true, &up, polling_abc),
            Ok(Route::Session {
                sid: "abc".into(),
                transport: Transport::WebSocket
            })
        );
        // The same without Upgrade: the session is on polling.
        let refused = check("GET", false, &up, polling_abc).unwrap_err();
        assert_eq!(refused.code, RefusalCode::BadRequest);
        let v3 = Query::parse("/engine.io/?EIO=3&transport=polling&sid=abc");
        assert_eq!(
            check("GET", false, &v3, polling_abc).unwrap_err().code,
            RefusalCode::BadRequest
        );
        let forbidden = Refusal::new(RefusalCode::Forbidden, "");
        assert_eq!(forbidden.status(), 403);
    }
}
