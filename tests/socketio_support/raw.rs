//! A raw Engine.IO long-polling client over std's blocking sockets, for the tests that
//! need to choose exactly when a client polls (or never polls): one HTTP/1.1 request per
//! TCP connection (`Connection: close`), every read bounded by a timeout.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long any one request may take.
pub const REQUEST_LIMIT: Duration = Duration::from_secs(10);

/// An HTTP response: status, the head's lines, the body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of a header field (name in any case).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// Send `method target` with `body` (and these extra header lines) on a new connection
/// and read the whole answer (the server closes after it).
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    extra: &[&str],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, REQUEST_LIMIT)?;
    s.set_read_timeout(Some(REQUEST_LIMIT))?;
    s.set_write_timeout(Some(REQUEST_LIMIT))?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    if method == "POST" {
        head.push_str(&format!(
            "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    // A server may answer (413) and close before the whole body is written: the write
    // fails, the answer is still there to read.
    let _ = s.write_all(body);
    let mut all = Vec::new();
    let read = s.read_to_end(&mut all);
    if all.is_empty() {
        read?;
    }
    parse(&all)
}

fn parse(all: &[u8]) -> std::io::Result<Response> {
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_owned());
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of head"))?;
    let head = String::from_utf8_lossy(&all[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let mut r = Response {
        status,
        head,
        body: all[end + 4..].to_vec(),
    };
    if r.header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        r.body = dechunk(&r.body);
    }
    Ok(r)
}

/// A chunked body put back together (bounded by what was read).
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        let start = eol + 2;
        if size == 0 || start + size > rest.len() {
            break;
        }
        out.extend_from_slice(&rest[start..start + size]);
        rest = &rest[(start + size + 2).min(rest.len())..];
    }
    out
}

/// One Engine.IO session on long-polling at `path` (`/socket.io/`).
#[derive(Debug, Clone)]
pub struct Polling {
    pub addr: SocketAddr,
    pub path: String,
    pub sid: String,
}

impl Polling {
    /// The handshake: a GET without sid, answered with the open packet.
    pub fn open(addr: SocketAddr, path: &str) -> Polling {
        let target = format!("{path}?EIO=4&transport=polling");
        let r = request(addr, "GET", &target, &[], b"").expect("the handshake");
        let text = r.text();
        assert_eq!(r.status, 200, "{text}");
        let open: serde_json::Value =
            serde_json::from_str(text.strip_prefix('0').expect("an open packet")).unwrap();
        Polling {
            addr,
            path: path.to_owned(),
            sid: open["sid"].as_str().expect("a sid").to_owned(),
        }
    }

    pub fn target(&self) -> String {
        format!("{}?EIO=4&transport=polling&sid={}", self.path, self.sid)
    }

    /// A GET: what the server has for this session (it may wait for something).
    pub fn get(&self) -> Response {
        request(self.addr, "GET", &self.target(), &[], b"").expect("a poll")
    }

    /// A POST of an Engine.IO payload.
    pub fn post(&self, body: &str) -> Response {
        request(self.addr, "POST", &self.target(), &[], body.as_bytes()).expect("a post")
    }

    /// Join the main namespace (`40` with this auth) and return the CONNECT answer.
    pub fn connect(&self, auth: &str) -> String {
        let r = self.post(&format!("40{auth}"));
        assert_eq!((r.status, r.text()), (200, "ok".to_owned()));
        self.get().text()
    }
}

/// The resident set size of a process (`VmRSS` in `/proc/PID/status`), in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// One WebSocket frame as it came off the wire.
#[derive(Debug, Clone)]
pub struct RawFrame {
    pub fin: bool,
    /// RSV1: with permessage-deflate, the message is compressed (RFC 7692 §6).
    pub rsv1: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

/// A WebSocket client that reads frames as bytes, to see their header bits.
pub struct RawWs {
    pub stream: TcpStream,
    /// The server's 101 head.
    pub head: String,
}

impl RawWs {
    /// Open `target` on `addr`, offering permessage-deflate when `deflate`.
    pub fn connect(addr: SocketAddr, target: &str, deflate: bool) -> std::io::Result<RawWs> {
        let mut stream = TcpStream::connect_timeout(&addr, REQUEST_LIMIT)?;
        stream.set_read_timeout(Some(REQUEST_LIMIT))?;
        stream.set_write_timeout(Some(REQUEST_LIMIT))?;
        let offer = if deflate {
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        } else {
            ""
        };
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
        );
        stream.write_all(request.as_bytes())?;
        // Read the head byte by byte, so no frame byte is taken with it.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte)?;
            head.push(byte[0]);
            if head.len() > 16 * 1024 {
                return Err(std::io::Error::other("a head over 16 KiB"));
            }
        }
        Ok(RawWs {
            stream,
            head: String::from_utf8_lossy(&head).into_owned(),
        })
    }

    /// Send a text message in one masked frame.
    pub fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        let key = [0x12, 0x34, 0x56, 0x78];
        let mut frame = vec![0x81];
        let len = text.len();
        match len {
            0..=125 => frame.push(0x80 | len as u8),
            126..=65535 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&key);
        frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ key[i % 4]));
        self.stream.write_all(&frame)
    }

    /// Read one frame (a server's frames are not masked), its payload at most `max` bytes.
    pub fn read_frame(&mut self, max: usize) -> std::io::Result<RawFrame> {
        let mut h = [0u8; 2];
        self.stream.read_exact(&mut h)?;
        let len = match h[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                self.stream.read_exact(&mut b)?;
                u16::from_be_bytes(b) as u64
            }
            127 => {
                let mut b = [0u8; 8];
                self.stream.read_exact(&mut b)?;
                u64::from_be_bytes(b)
            }
            n => n as u64,
        };
        if len > max as u64 {
            return Err(std::io::Error::other(format!("a frame of {len} bytes")));
        }
        let mut payload = vec![0u8; len as usize];
        self.stream.read_exact(&mut payload)?;
        Ok(RawFrame {
            fin: h[0] & 0x80 != 0,
            rsv1: h[0] & 0x40 != 0,
            opcode: h[0] & 0x0f,
            payload,
        })
    }
}

/// A reference server started with `node -e SCRIPT ARG` (which prints `{"port":N}`
/// first, then any JSON lines it likes) and its address; killed when dropped.
pub struct ScriptServer {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    /// The lines after the first.
    pub lines: std::sync::mpsc::Receiver<serde_json::Value>,
}

impl ScriptServer {
    pub fn start(peers: &std::path::Path, script: &str) -> ScriptServer {
        Self::start_with(peers, script, "{}")
    }

    /// Start it with one argument (`process.argv[1]`).
    pub fn start_with(peers: &std::path::Path, script: &str, arg: &str) -> ScriptServer {
        // node itself (not under `timeout`), so that the kill on drop reaches it.
        let mut child = std::process::Command::new("node")
            .args(["-e", script, arg])
            .env("NETLAB_NODE_MODULES", peers)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let Ok(v) = serde_json::from_str(&line) else {
                    continue;
                };
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let first: serde_json::Value = lines.recv_timeout(REQUEST_LIMIT).expect("node listens");
        let port = first["port"].as_u64().expect("a port");
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        ScriptServer { child, addr, lines }
    }

    /// The next line it prints (within `limit`).
    pub fn next_line(&self, limit: Duration) -> Option<serde_json::Value> {
        self.lines.recv_timeout(limit).ok()
    }
}

impl Drop for ScriptServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// netlab's Socket.IO server with `app`, in this process on its own runtime.
pub struct InProcess {
    pub rt: tokio::runtime::Runtime,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    pub addr: std::net::SocketAddr,
}

impl InProcess {
    pub fn start(
        app: impl netlab::net::socketio::App,
        config: netlab::net::engineio::EngineConfig,
    ) -> InProcess {
        Self::start_with(app, config, Default::default())
    }

    /// [`InProcess::start`] with the machine's options.
    pub fn start_with(
        app: impl netlab::net::socketio::App,
        config: netlab::net::engineio::EngineConfig,
        options: netlab::wire::application::socketio::Options,
    ) -> InProcess {
        use netlab::net::socketio;
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let engine = rt
            .block_on(socketio::bind("127.0.0.1:0".parse().unwrap(), config))
            .unwrap();
        let addr = engine.local_addr();
        let io = socketio::machine(options);
        let task = rt.spawn(socketio::serve(engine, io, app, async {
            let _ = stopped.await;
        }));
        InProcess {
            rt,
            stop,
            task,
            addr,
        }
    }

    /// Shut the server down and wait (bounded) for it to end.
    pub fn stop(self) {
        let _ = self.stop.send(());
        let task = self.task;
        let _ = self
            .rt
            .block_on(async { tokio::time::timeout(REQUEST_LIMIT * 2, task).await });
    }
}
