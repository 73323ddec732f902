//! The demo's client by hand: Engine.IO long-polling with raw HTTP requests, then the
//! upgrade to WebSocket with raw frames, so every byte the real client sends is visible.
//!
//! ```text
//!   GET  /socket.io/?EIO=4&transport=polling            ◄ 0{"sid":..,"upgrades":["websocket"],..}
//!   POST /socket.io/?EIO=4&transport=polling&sid=..  40 ◄ ok
//!   GET  ...&sid=..                                      ◄ 40{"sid":..}
//!   WebSocket ...&transport=websocket&sid=..  2probe ◄ 3probe   (the waiting GET gets 6)
//!                                             5      then everything over the WebSocket
//! ```

use super::{Carrier, Side, WireMsg, READ_LIMIT};
use crate::error::HintExt;
use crate::net::http::{ByteCount, HttpConn};
use crate::net::socketio::PATH;
use crate::net::ws::{self, Received, WsConfig, WsConnection, WsUrl};
use crate::wire::application::engineio::{decode_payload, PayloadLimits};
use crate::wire::application::websocket::Message as WsMessage;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long any one request or frame may take.
const LIMIT: Duration = Duration::from_secs(5);

/// One request's answer: status and body.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// One HTTP request on a connection of its own.
async fn http(addr: SocketAddr, method: &str, target: &str, body: &str) -> anyhow::Result<Answer> {
    answer(request(addr, method, target, body).await?).await
}

/// Connect and send a request; the answer is read by [`answer`].
async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    body: &str,
) -> anyhow::Result<HttpConn> {
    let mut conn = HttpConn::connect(addr, Arc::new(ByteCount::default()), LIMIT)
        .await
        .failed("the polling client could not connect")?;
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain;charset=UTF-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(head.as_bytes())
        .await
        .failed("the polling client could not send")?;
    Ok(conn)
}

async fn answer(mut conn: HttpConn) -> anyhow::Result<Answer> {
    let r = conn
        .read_response(LIMIT)
        .await
        .failed("the polling client got no answer")?;
    Ok(Answer {
        status: r.head.status,
        body: String::from_utf8_lossy(&r.body).into_owned(),
    })
}

/// A long-polling client: its session id and everything it sent and received.
pub struct Polling {
    addr: SocketAddr,
    pub sid: String,
    pub wire: Vec<WireMsg>,
}

impl Polling {
    /// The first GET, without a session: the answer is the open packet.
    pub async fn open(addr: SocketAddr) -> anyhow::Result<(Polling, String)> {
        let target = format!("{PATH}?EIO=4&transport=polling");
        let a = http(addr, "GET", &target, "").await?;
        if a.status != 200 {
            anyhow::bail!("the handshake was refused with {}: {}", a.status, a.body);
        }
        let json = a.body.strip_prefix('0').unwrap_or_default().to_owned();
        let info = crate::wire::application::engineio::OpenInfo::from_json(&json)
            .failed("the first answer was not an Engine.IO open packet")?;
        let mut p = Polling {
            addr,
            sid: info.sid,
            wire: Vec::new(),
        };
        p.wire
            .push(WireMsg::new(Side::Server, Carrier::HttpGet, &a.body));
        Ok((p, json))
    }

    fn target(&self) -> String {
        format!("{PATH}?EIO=4&transport=polling&sid={}", self.sid)
    }

    /// POST packets (joined by the record separator); the answer is `ok`.
    pub async fn post(&mut self, packets: &[&str]) -> anyhow::Result<()> {
        let body = packets.join("\u{1e}");
        self.wire
            .push(WireMsg::new(Side::Client, Carrier::HttpPost, &body));
        let a = http(self.addr, "POST", &self.target(), &body).await?;
        if a.status != 200 {
            anyhow::bail!("a POST was refused with {}: {}", a.status, a.body);
        }
        Ok(())
    }

    /// Send a GET that waits until the server has something (long polling); its answer
    /// is read by [`Polling::got`]. The request is sent before this returns.
    pub async fn get(&self) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<Answer>>> {
        let conn = request(self.addr, "GET", &self.target(), "").await?;
        Ok(tokio::spawn(answer(conn)))
    }

    /// The answer to a GET: its packets, each as text.
    pub async fn got(
        &mut self,
        get: tokio::task::JoinHandle<anyhow::Result<Answer>>,
    ) -> anyhow::Result<Vec<String>> {
        let a = get.await??;
        self.wire
            .push(WireMsg::new(Side::Server, Carrier::HttpGet, &a.body));
        let packets = decode_payload(a.body.as_bytes(), PayloadLimits::default())
            .failed("the GET's body was not an Engine.IO payload")?;
        Ok(packets.iter().map(|p| p.to_text()).collect())
    }

    /// Upgrade: open the WebSocket with this sid, probe, upgrade. A GET waits meanwhile,
    /// as the real client's does; the server releases it with a noop.
    pub async fn upgrade(mut self) -> anyhow::Result<(Upgraded, Vec<String>)> {
        let waiting = self.get().await?;
        let url = WsUrl {
            host: self.addr.ip().to_string(),
            port: self.addr.port(),
            resource: format!("{PATH}?EIO=4&transport=websocket&sid={}", self.sid),
        };
        let ws = ws::connect(&url, WsConfig::default(), &[])
            .await
            .map_err(|e| e.error)
            .failed("the WebSocket for the upgrade could not open")?;
        let mut up = Upgraded {
            ws,
            wire: std::mem::take(&mut self.wire),
        };
        up.send("2probe").await?;
        up.next().await?;
        let released = self.got(waiting).await?;
        up.wire.append(&mut self.wire);
        up.send("5").await?;
        Ok((up, released))
    }
}

/// The same session after the upgrade: Engine.IO packets in WebSocket text frames.
pub struct Upgraded {
    ws: WsConnection,
    pub wire: Vec<WireMsg>,
}

impl Upgraded {
    pub async fn send(&mut self, text: &str) -> anyhow::Result<()> {
        self.wire
            .push(WireMsg::new(Side::Client, Carrier::WebSocket, text));
        self.ws
            .send(&WsMessage::text(text))
            .await
            .failed("could not send a frame")
    }

    /// The next Engine.IO packet, a ping answered on the way (not recorded).
    pub async fn next(&mut self) -> anyhow::Result<String> {
        for _ in 0..READ_LIMIT {
            let r = tokio::time::timeout(LIMIT, self.ws.recv())
                .await
                .failed("the server said nothing")?
                .failed("the WebSocket failed")?;
            let Received::Message(m) = r else {
                if matches!(r, Received::Close(_) | Received::Eof) {
                    anyhow::bail!("the server closed the WebSocket");
                }
                continue;
            };
            let text = String::from_utf8_lossy(&m.payload).into_owned();
            if text == "2" {
                self.ws
                    .send(&WsMessage::text("3"))
                    .await
                    .failed("could not answer a ping")?;
                continue;
            }
            self.wire
                .push(WireMsg::new(Side::Server, Carrier::WebSocket, &text));
            return Ok(text);
        }
        anyhow::bail!("only pings came")
    }

    pub async fn close(mut self) {
        let _ = self
            .ws
            .close(crate::wire::application::websocket::CloseCode(1000), "")
            .await;
    }
}
