//! netlab's own small HTTP/1.1 connection: a TCP stream that counts every byte it
//! reads and writes, plus reading message heads (through `wire::application::http1`) and bodies with a
//! timeout on every wait. Used by the comparison lab (`netlab compare`) on both ends.
//!
//! The counts are taken at the socket API: what `write` handed to the kernel and what
//! `read` got back. TCP/IP headers, handshakes and ACKs are not in them (a capture
//! counts those).

use crate::net::ws::ReadReady;
use crate::wire::application::http1::{
    self, HeadError, RequestHead, ResponseHead, Scan, DEFAULT_HEAD_LIMIT,
};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Bytes through the socket API, shared by every connection of one side.
#[derive(Debug, Default)]
pub struct ByteCount {
    read: AtomicU64,
    written: AtomicU64,
}

impl ByteCount {
    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

/// A stream that adds what it reads and writes to a [`ByteCount`].
pub struct Counted<S> {
    inner: S,
    count: Arc<ByteCount>,
}

impl<S> Counted<S> {
    pub fn new(inner: S, count: Arc<ByteCount>) -> Counted<S> {
        Counted { inner, count }
    }

    /// The stream inside.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let n = buf.filled().len() - before;
            this.count.read.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            this.count.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            this.count.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// What went wrong on an HTTP connection.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    Head(#[from] HeadError),
    #[error("timed out {0}")]
    Timeout(&'static str),
    #[error("the peer closed the connection {0}")]
    Closed(&'static str),
    #[error("the response is malformed: {0}")]
    Malformed(String),
}

/// A response read in full: its head, the head's size on the wire and the body.
#[derive(Debug, Clone)]
pub struct Response {
    pub head: ResponseHead,
    pub head_len: usize,
    pub body: Vec<u8>,
}

/// One HTTP/1.1 connection with a read buffer; bytes past a head stay buffered for the
/// next read (a body, an event stream, WebSocket frames).
/// How much room a read makes in a connection's buffer.
const READ_CHUNK: usize = 16 * 1024;

pub struct HttpConn {
    stream: Counted<TcpStream>,
    /// Bytes read but not yet consumed.
    pub buf: Vec<u8>,
    /// A request head handed back with [`HttpConn::unread`], returned by the next read.
    unread: Option<(RequestHead, usize)>,
    /// Header lines (each ending in CRLF) a server adds to its answer to the current
    /// request, such as CORS's; set per request by the server.
    pub answer_headers: String,
}

impl HttpConn {
    pub fn new(stream: TcpStream, count: Arc<ByteCount>) -> HttpConn {
        // Small messages go out at once instead of waiting on Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        HttpConn {
            stream: Counted::new(stream, count),
            buf: Vec::with_capacity(4096),
            unread: None,
            answer_headers: String::new(),
        }
    }

    /// Connect to `addr` within `limit`.
    pub async fn connect(
        addr: std::net::SocketAddr,
        count: Arc<ByteCount>,
        limit: Duration,
    ) -> Result<HttpConn, HttpError> {
        match timeout(limit, TcpStream::connect(addr)).await {
            Ok(s) => Ok(HttpConn::new(s?, count)),
            Err(_) => Err(HttpError::Timeout("connecting")),
        }
    }

    pub async fn write_all(&mut self, bytes: &[u8]) -> Result<(), HttpError> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    pub async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// Read more bytes into the buffer; `Ok(0)` at the end of the stream.
    pub async fn read_more(
        &mut self,
        limit: Duration,
        what: &'static str,
    ) -> Result<usize, HttpError> {
        // Wait for bytes without holding room for them (a connection idle between
        // requests keeps no buffer, and this wait no 16 KiB of its own), then read them
        // straight into the connection's buffer.
        if self.buf.is_empty() {
            self.buf = Vec::new();
        }
        let stream = &mut self.stream;
        let buf = &mut self.buf;
        let read = async move {
            std::future::poll_fn(|cx| stream.poll_read_ready(cx)).await?;
            buf.reserve(READ_CHUNK);
            stream.read_buf(buf).await
        };
        match timeout(limit, read).await {
            Ok(n) => Ok(n?),
            Err(_) => Err(HttpError::Timeout(what)),
        }
    }

    /// Hand the connection over to another protocol (a WebSocket upgrade): the counted
    /// stream and the bytes read but not yet consumed.
    pub fn into_parts(mut self) -> (Counted<TcpStream>, Vec<u8>) {
        self.buf.shrink_to_fit();
        (self.stream, self.buf)
    }

    /// Remove the first `n` buffered bytes.
    pub fn consume(&mut self, n: usize) -> Vec<u8> {
        self.buf.drain(..n).collect()
    }

    /// The next request head, or `None` when the client closed the connection cleanly
    /// between requests (how a keep-alive connection ends).
    pub async fn read_request_head(
        &mut self,
        limit: Duration,
    ) -> Result<Option<(RequestHead, usize)>, HttpError> {
        if let Some(head) = self.unread.take() {
            return Ok(Some(head));
        }
        loop {
            if let Scan::Complete { value, head_len } =
                http1::parse_request(&self.buf, DEFAULT_HEAD_LIMIT)?
            {
                self.consume(head_len);
                return Ok(Some((value, head_len)));
            }
            if self.read_more(limit, "waiting for a request").await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(HttpError::Closed("in the middle of a request"))
                };
            }
        }
    }

    /// Give a request head back: the next [`HttpConn::read_request_head`] returns it.
    pub fn unread(&mut self, head: RequestHead, head_len: usize) {
        self.unread = Some((head, head_len));
    }

    /// The next response head; what follows it stays in [`HttpConn::buf`].
    pub async fn read_response_head(
        &mut self,
        limit: Duration,
    ) -> Result<(ResponseHead, usize), HttpError> {
        loop {
            if let Scan::Complete { value, head_len } =
                http1::parse_response(&self.buf, DEFAULT_HEAD_LIMIT)?
            {
                self.consume(head_len);
                return Ok((value, head_len));
            }
            if self.read_more(limit, "waiting for a response").await? == 0 {
                return Err(HttpError::Closed("before its response"));
            }
        }
    }

    /// The next `len` bytes (a body framed by `Content-Length`).
    pub async fn read_body(&mut self, len: usize, limit: Duration) -> Result<Vec<u8>, HttpError> {
        while self.buf.len() < len {
            if self.read_more(limit, "waiting for a body").await? == 0 {
                return Err(HttpError::Closed("in the middle of a body"));
            }
        }
        Ok(self.consume(len))
    }

    /// A whole response whose body is framed by `Content-Length` (or absent: 1xx, 204,
    /// 304, RFC 9112 §6.3).
    pub async fn read_response(&mut self, limit: Duration) -> Result<Response, HttpError> {
        let (head, head_len) = self.read_response_head(limit).await?;
        let len = if matches!(head.status, 100..=199 | 204 | 304) {
            0
        } else {
            let v = head
                .headers
                .get("content-length")
                .ok_or_else(|| HttpError::Malformed("no Content-Length".into()))?;
            v.parse::<usize>()
                .map_err(|_| HttpError::Malformed(format!("Content-Length {v:?}")))?
        };
        while self.buf.len() < len {
            if self.read_more(limit, "waiting for a response body").await? == 0 {
                return Err(HttpError::Closed("in the middle of a response body"));
            }
        }
        let body = self.consume(len);
        Ok(Response {
            head,
            head_len,
            body,
        })
    }
}
