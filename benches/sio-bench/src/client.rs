//! The load generator's clients: just enough Engine.IO 4 and Socket.IO 5 to drive a
//! server, written for low cost rather than completeness (the servers are what is
//! measured, so the generator must not be the limit).
//!
//! - [`Ws`]: Engine.IO over WebSocket only (`transport=websocket`, no polling first).
//!   The RFC 6455 handshake, masked client frames written in one system call, server
//!   frames read from one growing buffer without a copy per message. Engine.IO pings (`2`)
//!   are answered (`3`) as they pass; text messages are handed out as byte slices.
//! - [`Polling`]: Engine.IO over HTTP/1.1 long-polling on one keep-alive connection: a
//!   POST carries packets up, a GET brings what waits (packets joined by `0x1e`).
//!
//! Both join the main namespace (`40` → `40{"sid":..}`) before they are handed out.

use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long any one step may wait for the server before the scenario gives up.
pub const STEP: Duration = Duration::from_secs(10);

/// The most bytes a server's single frame or HTTP body may hold (the generator's bound).
const MAX_MESSAGE: usize = 1 << 20;

fn broken(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

async fn step<T>(f: impl std::future::Future<Output = io::Result<T>>) -> io::Result<T> {
    timeout(STEP, f)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the server took over 10 s"))?
}

/// Reads until `buf` holds a whole HTTP head; returns its length (through `\r\n\r\n`).
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(i + 4);
        }
        if buf.len() > 16 * 1024 {
            return Err(broken("an HTTP head over 16 KiB"));
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(broken("the server closed during an HTTP head"));
        }
    }
}

/// One Socket.IO client over Engine.IO's WebSocket transport.
pub struct Ws {
    stream: TcpStream,
    /// Bytes received; `buf[start..]` not yet handed out.
    buf: Vec<u8>,
    start: usize,
    out: Vec<u8>,
    /// xorshift state for the mask keys (RFC 6455 §5.3 asks for unpredictable keys; a
    /// server cannot tell, and a cheap generator keeps the load generator light).
    mask: u32,
}

impl Ws {
    /// Connects, opens the Engine.IO session and joins the namespace `/`.
    pub async fn connect(port: u16, seed: u32) -> io::Result<Ws> {
        step(async {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
            stream.set_nodelay(true)?;
            let request = format!(
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
                 Upgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            );
            stream.write_all(request.as_bytes()).await?;
            let mut buf = Vec::with_capacity(4096);
            let head = read_head(&mut stream, &mut buf).await?;
            if !buf.starts_with(b"HTTP/1.1 101") {
                let line = buf.split(|&b| b == b'\r').next().unwrap_or_default();
                return Err(broken(format!(
                    "the upgrade was refused: {}",
                    String::from_utf8_lossy(line)
                )));
            }
            let mut ws = Ws {
                stream,
                buf,
                start: head,
                out: Vec::with_capacity(256),
                mask: seed | 1,
            };
            if !ws.recv().await?.starts_with(b"0{") {
                return Err(broken("the first Engine.IO packet is not an open packet"));
            }
            ws.send(b"40").await?;
            if !ws.recv().await?.starts_with(b"40") {
                return Err(broken("the namespace / was not joined"));
            }
            Ok(ws)
        })
        .await
    }

    fn next_mask(&mut self) -> [u8; 4] {
        let mut x = self.mask;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.mask = x;
        x.to_ne_bytes()
    }

    /// Sends one text frame (one Engine.IO packet).
    pub async fn send(&mut self, text: &[u8]) -> io::Result<()> {
        self.frame(0x1, text);
        self.stream.write_all(&self.out).await
    }

    fn frame(&mut self, opcode: u8, payload: &[u8]) {
        let key = self.next_mask();
        self.out.clear();
        self.out.push(0x80 | opcode);
        match payload.len() {
            n @ 0..=125 => self.out.push(0x80 | n as u8),
            n @ 126..=0xffff => {
                self.out.push(0x80 | 126);
                self.out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                self.out.push(0x80 | 127);
                self.out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        self.out.extend_from_slice(&key);
        self.out
            .extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
    }

    /// The next Engine.IO packet that is not a ping, as sent (for example `42["x",1]`).
    pub async fn recv(&mut self) -> io::Result<&[u8]> {
        loop {
            if let Some((opcode, range)) = self.parse()? {
                let payload = &self.buf[range.clone()];
                match opcode {
                    0x1 | 0x2 if payload == b"2" => self.send(b"3").await?,
                    0x1 | 0x2 => return Ok(&self.buf[range]),
                    0x8 => return Err(broken("the server closed the WebSocket")),
                    0x9 => {
                        let ping = payload.to_vec();
                        self.frame(0xA, &ping);
                        self.stream.write_all(&self.out).await?;
                    }
                    _ => {}
                }
                continue;
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            self.buf.reserve(8192);
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(broken("the server closed the connection"));
            }
        }
    }

    /// One whole frame at `buf[start..]`: its opcode and payload range, consumed.
    fn parse(&mut self) -> io::Result<Option<(u8, std::ops::Range<usize>)>> {
        let b = &self.buf[self.start..];
        if b.len() < 2 {
            return Ok(None);
        }
        if b[0] & 0x80 == 0 || b[0] & 0x0f == 0 {
            return Err(broken(
                "a fragmented frame (the servers send whole messages)",
            ));
        }
        if b[1] & 0x80 != 0 {
            return Err(broken("a masked frame from the server"));
        }
        let (len, head) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 if b.len() >= 10 => {
                let mut n = [0; 8];
                n.copy_from_slice(&b[2..10]);
                (
                    usize::try_from(u64::from_be_bytes(n)).unwrap_or(usize::MAX),
                    10,
                )
            }
            126 | 127 => return Ok(None),
            n => (usize::from(n), 2),
        };
        if len > MAX_MESSAGE {
            return Err(broken("a frame over 1 MiB"));
        }
        if b.len() < head + len {
            return Ok(None);
        }
        let opcode = b[0] & 0x0f;
        let from = self.start + head;
        self.start = from + len;
        Ok(Some((opcode, from..from + len)))
    }

    /// How many times `needle` occurs in what waits unread (read now, without waiting).
    pub fn unread_count(&mut self, needle: &[u8]) -> io::Result<usize> {
        let mut scratch = vec![0u8; 64 * 1024];
        let mut seen = 0;
        loop {
            match self.stream.try_read(&mut scratch) {
                Ok(0) => return Ok(seen),
                Ok(k) => {
                    seen += scratch[..k]
                        .windows(needle.len())
                        .filter(|w| w == &needle)
                        .count()
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(seen),
                Err(e) => return Err(e),
            }
        }
    }
}

/// One Socket.IO client over Engine.IO's long-polling transport, one keep-alive
/// connection, one request at a time.
pub struct Polling {
    stream: TcpStream,
    port: u16,
    sid: String,
    buf: Vec<u8>,
    body: Vec<u8>,
    out: Vec<u8>,
}

impl Polling {
    /// Opens the session (GET), joins `/` (POST `40`, GET `40{..}`).
    pub async fn connect(port: u16) -> io::Result<Polling> {
        step(async {
            let stream = TcpStream::connect(("127.0.0.1", port)).await?;
            stream.set_nodelay(true)?;
            let mut p = Polling {
                stream,
                port,
                sid: String::new(),
                buf: Vec::with_capacity(4096),
                body: Vec::with_capacity(4096),
                out: Vec::with_capacity(512),
            };
            p.get().await?;
            let open = std::str::from_utf8(&p.body).map_err(|_| broken("open packet"))?;
            let sid = open
                .split("\"sid\":\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .ok_or_else(|| broken(format!("no sid in the open packet {open:?}")))?;
            p.sid = sid.to_owned();
            p.post(b"40").await?;
            // The answer may follow other packets (socketioxide pings at once over
            // polling: `2<0x1e>40{..}`) or come with a later GET.
            for _ in 0..10 {
                p.get().await?;
                if p.packets().any(|m| m.starts_with(b"40")) {
                    return Ok(p);
                }
            }
            Err(broken("the namespace / was not joined"))
        })
        .await
    }

    fn request(&mut self, method: &str, body: &[u8]) {
        use std::io::Write;
        self.out.clear();
        let _ = write!(
            self.out,
            "{method} /socket.io/?EIO=4&transport=polling{}{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n",
            if self.sid.is_empty() { "" } else { "&sid=" },
            self.sid,
            self.port
        );
        if method == "POST" {
            let _ = write!(
                self.out,
                "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n",
                body.len()
            );
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(body);
    }

    /// POSTs packets (joined by `0x1e` already); the answer must be `ok`.
    pub async fn post(&mut self, packets: &[u8]) -> io::Result<()> {
        self.request("POST", packets);
        self.stream.write_all(&self.out).await?;
        self.response().await?;
        if self.body != b"ok" {
            return Err(broken("a POST was not answered ok"));
        }
        Ok(())
    }

    /// GETs what waits; the packets are in [`Polling::packets`], pings answered.
    pub async fn get(&mut self) -> io::Result<()> {
        self.request("GET", &[]);
        self.stream.write_all(&self.out).await?;
        self.response().await?;
        if self.body.split(|&b| b == 0x1e).any(|p| p == b"2") {
            let body = std::mem::take(&mut self.body);
            self.post(b"3").await?;
            self.body = body;
        }
        Ok(())
    }

    /// The packets of the last GET.
    pub fn packets(&self) -> impl Iterator<Item = &[u8]> {
        self.body.split(|&b| b == 0x1e)
    }

    /// Reads one response into `body` (by Content-Length or chunked).
    async fn response(&mut self) -> io::Result<()> {
        let head = read_head(&mut self.stream, &mut self.buf).await?;
        let text = String::from_utf8_lossy(&self.buf[..head]).to_ascii_lowercase();
        if !text.starts_with("http/1.1 200") {
            let line = text.lines().next().unwrap_or_default().to_owned();
            return Err(broken(format!("the server answered {line}")));
        }
        let length = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        let chunked = text.contains("transfer-encoding: chunked");
        self.buf.drain(..head);
        self.body.clear();
        match (length, chunked) {
            (Some(n), false) if n <= MAX_MESSAGE => {
                self.fill(n).await?;
                self.body.extend_from_slice(&self.buf[..n]);
                self.buf.drain(..n);
            }
            (_, true) => self.chunks().await?,
            _ => return Err(broken("a response without a usable length")),
        }
        Ok(())
    }

    async fn fill(&mut self, n: usize) -> io::Result<()> {
        while self.buf.len() < n {
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(broken("the server closed during a body"));
            }
        }
        Ok(())
    }

    async fn chunks(&mut self) -> io::Result<()> {
        loop {
            let line = loop {
                if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                if self.buf.len() > 64 || self.stream.read_buf(&mut self.buf).await? == 0 {
                    return Err(broken("a bad chunk size line"));
                }
            };
            let size = std::str::from_utf8(&self.buf[..line])
                .ok()
                .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
                .ok_or_else(|| broken("a bad chunk size"))?;
            if self.body.len() + size > MAX_MESSAGE {
                return Err(broken("a body over 1 MiB"));
            }
            self.fill(line + 2 + size + 2).await?;
            self.body
                .extend_from_slice(&self.buf[line + 2..line + 2 + size]);
            self.buf.drain(..line + 2 + size + 2);
            if size == 0 {
                return Ok(());
            }
        }
    }
}

/// The number at the start of `msg[prefix.len()..]`, when `msg` starts with `prefix`.
pub fn number_after(msg: &[u8], prefix: &[u8]) -> Option<u64> {
    let rest = msg.strip_prefix(prefix)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    Some(
        rest[..digits]
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_after_a_prefix() {
        assert_eq!(number_after(b"43[\"x\"]", b"4"), Some(3));
        assert_eq!(number_after(b"4312[\"x\"]", b"43"), Some(12));
        assert_eq!(
            number_after(b"42[\"broadcast\",\"77-aa\"]", b"42[\"broadcast\",\""),
            Some(77)
        );
        assert_eq!(
            number_after(b"42[\"other\",\"77\"]", b"42[\"broadcast\",\""),
            None
        );
        assert_eq!(number_after(b"43[\"x\"]", b"43"), None);
    }
}
