//! A connection's two byte buffers: what was read from the peer and how far it has been
//! parsed, and what is still to be written to it. [`Connection`](super::Connection)
//! owns one of each; this file decides how they grow, shrink and empty.

use super::assemble::Utf8Validator;

/// The bytes read from the peer and how far they have been parsed.
#[derive(Debug, Default)]
pub(super) struct Input {
    pub(super) buf: Vec<u8>,
    /// Bytes before `pos` have been parsed.
    pub(super) pos: usize,
    /// Bytes (from `pos`) the frame being read needs in all, once its header is known.
    pub(super) need: usize,
    /// The UTF-8 check of a text frame whose payload is still arriving.
    pub(super) early: Option<EarlyUtf8>,
    /// The peer's stream ended.
    pub(super) eof: bool,
}

/// An incremental UTF-8 check of a text frame whose payload is still arriving.
#[derive(Debug)]
pub(super) struct EarlyUtf8 {
    /// Where the frame starts in the read buffer; a new frame resets the check.
    pub(super) frame_at: usize,
    pub(super) checked: usize,
    pub(super) validator: Utf8Validator,
}

impl Input {
    /// The buffer with room for the rest of the frame being read: at least 16 KiB and
    /// at most 4 MiB at a time (a frame's claimed length is not trusted).
    pub(super) fn room_for_read(&mut self) -> &mut Vec<u8> {
        self.compact();
        let buffered = self.buf.len() - self.pos;
        let want = self.need.saturating_sub(buffered).clamp(16 * 1024, 4 << 20);
        if self.buf.capacity() - self.buf.len() < want {
            self.buf.reserve(want);
        }
        &mut self.buf
    }

    /// Whether every byte received has been parsed.
    pub(super) fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// Free the buffer when nothing in it waits to be parsed.
    pub(super) fn shed(&mut self) {
        if self.is_empty() && self.early.is_none() {
            self.buf = Vec::new();
            self.pos = 0;
        }
    }

    /// Drop the parsed bytes when all are parsed, or when they are many (so the buffer
    /// does not grow without end under a stream of small frames).
    pub(super) fn compact(&mut self) {
        if self.pos > 0 && (self.pos == self.buf.len() || self.pos > 64 * 1024) {
            self.buf.drain(..self.pos);
            if let Some(e) = self.early.as_mut() {
                e.frame_at = e.frame_at.saturating_sub(self.pos);
            }
            self.pos = 0;
        }
    }
}

/// The bytes to write to the peer; those before `pos` are written.
#[derive(Debug, Default)]
pub(super) struct Output {
    pub(super) buf: Vec<u8>,
    pub(super) pos: usize,
}

impl Output {
    pub(super) fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// `n` more bytes were written; once all are, the buffer starts over (kept).
    pub(super) fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
    }

    /// Free the buffer when nothing in it waits to be written.
    pub(super) fn shed(&mut self) {
        if self.pending() == 0 {
            self.buf = Vec::new();
            self.pos = 0;
        }
    }
}
