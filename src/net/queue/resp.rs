//! A small blocking Redis client for the log thread: one `std::net::TcpStream`, commands
//! written with `wire::application::redis::command` and answers read with `Frame::parse`.
//!
//! The log runs on its own thread and does one thing at a time, so a blocking socket is
//! the plain fit: no runtime, and a command's answer is simply the next frame (Redis
//! answers a connection's commands in order; a *pipeline* writes several commands
//! before reading their answers, one round trip for all of them).

use crate::wire::application::redis::{command, Frame, Limits, RespError};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long a command may wait for its answer (an `appendfsync always` write included).
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// How long connecting may take.
const CONNECT_WITHIN: Duration = Duration::from_secs(3);

/// Why talking to Redis failed.
#[derive(Debug, thiserror::Error)]
pub enum RespClientError {
    #[error("the connection failed: {0}")]
    Io(#[from] io::Error),
    #[error("Redis sent bytes that are not RESP: {0}")]
    Protocol(#[from] RespError),
    #[error("Redis closed the connection")]
    Closed,
}

/// One connection to Redis.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    /// Connect to `addr` (`HOST:PORT`).
    pub fn connect(addr: &str) -> io::Result<Connection> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
        for a in std::net::ToSocketAddrs::to_socket_addrs(addr)? {
            match TcpStream::connect_timeout(&a, CONNECT_WITHIN) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(ANSWER_WITHIN))?;
                    stream.set_write_timeout(Some(ANSWER_WITHIN))?;
                    stream.set_nodelay(true)?;
                    return Ok(Connection {
                        stream,
                        buf: Vec::new(),
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Send one command and read its answer (an error answer is a [`Frame::Error`]).
    pub fn call(&mut self, args: &[&[u8]]) -> Result<Frame, RespClientError> {
        let mut answers = self.pipeline(&[args.to_vec()])?;
        answers.pop().ok_or(RespClientError::Closed)
    }

    /// Send every command, then read one answer per command, in order.
    pub fn pipeline(&mut self, commands: &[Vec<&[u8]>]) -> Result<Vec<Frame>, RespClientError> {
        let mut bytes = Vec::new();
        for c in commands {
            bytes.extend_from_slice(&command(c));
        }
        self.stream.write_all(&bytes)?;
        let mut answers = Vec::with_capacity(commands.len());
        while answers.len() < commands.len() {
            answers.push(self.read_frame()?);
        }
        Ok(answers)
    }

    fn read_frame(&mut self) -> Result<Frame, RespClientError> {
        let limits = Limits::default();
        loop {
            if let Some((frame, used)) = Frame::parse(&self.buf, &limits)? {
                self.buf.drain(..used);
                return Ok(frame);
            }
            // Frame::parse refuses a frame past its limits, so the buffer stays bounded.
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(RespClientError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}
