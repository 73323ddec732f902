//! Framing: how an application finds its messages again in a TCP byte stream.
//!
//! OSI layer 7 (application) · TCP/IP application layer · the unit is a *message*.
//!
//! TCP (RFC 9293) delivers an ordered stream of bytes. It keeps no record of where one
//! `write()` ended and the next began: the receiver's `read()` returns whatever bytes
//! have arrived, which may be half a message, or three and a bit. An application that
//! wants messages must mark their boundaries inside the stream itself. The two classic
//! ways, both here:
//!
//! - **Delimiter framing** ([`LineDecoder`], [`encode_line`]): each message ends with a
//!   byte that cannot occur inside it, here `\n`. Simple and readable (SMTP, HTTP/1.1
//!   headers and Redis's inline commands end lines with `\r\n`), but the message may not
//!   contain the delimiter.
//! - **Length-prefix framing** ([`LengthPrefixDecoder`], [`encode_length_prefixed`]): each
//!   message is preceded by its length, here 4 bytes in network byte order (big-endian):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 length of the payload (u32, BE)               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 payload: exactly `length` bytes ...           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//!   Any byte may appear in the payload, so binary data is fine (TLS records, HTTP/2
//!   frames and WebSocket frames all carry a length field).
//!
//! Both decoders are *incremental*: feed them each chunk `read()` returned, in order, and
//! they hand back every message that is now complete, keeping the rest for later. A
//! frame split across reads, or a length prefix split in two, is the normal case, not an
//! error. Both refuse messages above a size limit, so a peer cannot make them buffer
//! without bound.
//!
//! Try it: `netlab tcp demo` (the framing cases at the end).

/// Why a byte stream could not be cut into messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A line grew past the limit without its `\n`.
    #[error("a line is longer than the {limit}-byte limit and has no newline yet")]
    LineTooLong { limit: usize },
    /// A length prefix announced more than the limit.
    #[error("a length prefix announces {claimed} bytes, more than the {limit}-byte limit")]
    MessageTooLong { claimed: usize, limit: usize },
    /// The message to send contains the delimiter, so the receiver would split it.
    #[error("the message contains a newline, which newline framing uses as its delimiter")]
    ContainsDelimiter,
    /// The stream ended (EOF) in the middle of a message.
    #[error("the stream ended in the middle of a message ({buffered} bytes of it had arrived)")]
    EndedMidMessage { buffered: usize },
}

/// The byte that ends a message in newline framing.
pub const DELIMITER: u8 = b'\n';

/// The size of the length prefix: a u32 in network byte order.
pub const PREFIX_LEN: usize = 4;

/// Frame one message for newline framing: the message, then `\n`.
pub fn encode_line(message: &[u8]) -> Result<Vec<u8>, FramingError> {
    if message.contains(&DELIMITER) {
        return Err(FramingError::ContainsDelimiter);
    }
    let mut framed = Vec::with_capacity(message.len() + 1);
    framed.extend_from_slice(message);
    framed.push(DELIMITER);
    Ok(framed)
}

/// Frame one message for length-prefix framing: 4-byte big-endian length, then the bytes.
///
/// Messages longer than `u32::MAX` bytes cannot be framed this way; that is the only
/// error.
pub fn encode_length_prefixed(message: &[u8]) -> Result<Vec<u8>, FramingError> {
    let len = u32::try_from(message.len()).map_err(|_| FramingError::MessageTooLong {
        claimed: message.len(),
        limit: u32::MAX as usize,
    })?;
    let mut framed = Vec::with_capacity(PREFIX_LEN + message.len());
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    Ok(framed)
}

/// Cuts a byte stream into `\n`-terminated messages (the `\n` is not part of the message).
#[derive(Debug, Clone)]
pub struct LineDecoder {
    buf: Vec<u8>,
    max_len: usize,
}

impl LineDecoder {
    /// A decoder that refuses lines longer than `max_len` bytes (without the `\n`).
    pub fn new(max_len: usize) -> LineDecoder {
        LineDecoder {
            buf: Vec::new(),
            max_len,
        }
    }

    /// Feed the bytes one `read()` returned; get every message they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, FramingError> {
        self.buf.extend_from_slice(bytes);
        let mut messages = Vec::new();
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == DELIMITER) {
            let end = start + pos;
            if end - start > self.max_len {
                return Err(FramingError::LineTooLong {
                    limit: self.max_len,
                });
            }
            messages.push(self.buf[start..end].to_vec());
            start = end + 1;
        }
        self.buf.drain(..start);
        // The rest has no newline yet; if it is already too long, it can never fit.
        if self.buf.len() > self.max_len {
            return Err(FramingError::LineTooLong {
                limit: self.max_len,
            });
        }
        Ok(messages)
    }

    /// Bytes received that do not yet form a whole message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The stream ended: fine between messages, an error in the middle of one.
    pub fn finish(&self) -> Result<(), FramingError> {
        match self.buf.len() {
            0 => Ok(()),
            buffered => Err(FramingError::EndedMidMessage { buffered }),
        }
    }
}

/// Cuts a byte stream into length-prefixed messages.
#[derive(Debug, Clone)]
pub struct LengthPrefixDecoder {
    buf: Vec<u8>,
    max_len: usize,
}

impl LengthPrefixDecoder {
    /// A decoder that refuses prefixes announcing more than `max_len` bytes.
    pub fn new(max_len: usize) -> LengthPrefixDecoder {
        LengthPrefixDecoder {
            buf: Vec::new(),
            max_len,
        }
    }

    /// Feed the bytes one `read()` returned; get every message they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, FramingError> {
        self.buf.extend_from_slice(bytes);
        let mut messages = Vec::new();
        let mut start = 0;
        loop {
            let rest = &self.buf[start..];
            // Common mistake: assuming the 4 prefix bytes arrive together. They may be
            // split across two reads like any other bytes, so wait for all four.
            let Some(prefix) = rest.get(..PREFIX_LEN) else {
                break;
            };
            let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
            if len > self.max_len {
                return Err(FramingError::MessageTooLong {
                    claimed: len,
                    limit: self.max_len,
                });
            }
            let Some(payload) = rest.get(PREFIX_LEN..PREFIX_LEN + len) else {
                break;
            };
            messages.push(payload.to_vec());
            start += PREFIX_LEN + len;
        }
        self.buf.drain(..start);
        Ok(messages)
    }

    /// Bytes received that do not yet form a whole message (prefix included).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The stream ended: fine between messages, an error in the middle of one.
    pub fn finish(&self) -> Result<(), FramingError> {
        match self.buf.len() {
            0 => Ok(()),
            buffered => Err(FramingError::EndedMidMessage { buffered }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(msgs: &[&[u8]]) -> Vec<Vec<u8>> {
        msgs.iter().map(|m| m.to_vec()).collect()
    }

    #[test]
    fn line_frames_in_one_read() {
        let mut d = LineDecoder::new(64);
        let got = d.push(b"hello\nworld\n\nlast").unwrap();
        assert_eq!(got, owned(&[b"hello", b"world", b""]));
        assert_eq!(d.buffered(), 4);
        assert_eq!(
            d.finish(),
            Err(FramingError::EndedMidMessage { buffered: 4 })
        );
        assert_eq!(d.push(b"\n").unwrap(), owned(&[b"last"]));
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn line_split_across_reads() {
        let mut d = LineDecoder::new(64);
        assert!(d.push(b"hel").unwrap().is_empty());
        assert!(d.push(b"lo wo").unwrap().is_empty());
        assert_eq!(d.push(b"rld\nne").unwrap(), owned(&[b"hello world"]));
        assert_eq!(d.push(b"xt\n").unwrap(), owned(&[b"next"]));
    }

    #[test]
    fn line_every_split_point_gives_the_same_messages() {
        let stream = b"one\ntwo two\n\nthree\n";
        for cut in 0..=stream.len() {
            let mut d = LineDecoder::new(64);
            let mut got = d.push(&stream[..cut]).unwrap();
            got.extend(d.push(&stream[cut..]).unwrap());
            assert_eq!(
                got,
                owned(&[b"one", b"two two", b"", b"three"]),
                "cut {cut}"
            );
            assert_eq!(d.finish(), Ok(()));
        }
        // And one byte per read.
        let mut d = LineDecoder::new(64);
        let got: Vec<Vec<u8>> = stream.iter().flat_map(|b| d.push(&[*b]).unwrap()).collect();
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn line_limit() {
        let mut d = LineDecoder::new(4);
        assert_eq!(d.push(b"abcd\n").unwrap(), owned(&[b"abcd"]));
        assert_eq!(
            d.push(b"abcde"),
            Err(FramingError::LineTooLong { limit: 4 })
        );
        let mut d = LineDecoder::new(4);
        assert_eq!(
            d.push(b"abcdef\n"),
            Err(FramingError::LineTooLong { limit: 4 })
        );
    }

    #[test]
    fn encode_line_refuses_the_delimiter() {
        assert_eq!(encode_line(b"hi").unwrap(), b"hi\n");
        assert_eq!(encode_line(b"a\nb"), Err(FramingError::ContainsDelimiter));
    }

    #[test]
    fn length_prefix_bytes() {
        // "hi" → length 2 as a big-endian u32, then the payload.
        assert_eq!(
            encode_length_prefixed(b"hi").unwrap(),
            [0x00, 0x00, 0x00, 0x02, b'h', b'i']
        );
        assert_eq!(encode_length_prefixed(b"").unwrap(), [0, 0, 0, 0]);
    }

    #[test]
    fn length_prefix_split_in_two() {
        let mut d = LengthPrefixDecoder::new(1024);
        // 0x0000_0105 = 261 bytes: the prefix arrives as 2 + 2 bytes.
        let payload = vec![0xab; 261];
        let framed = encode_length_prefixed(&payload).unwrap();
        assert_eq!(&framed[..4], &[0x00, 0x00, 0x01, 0x05]);
        assert!(d.push(&framed[..2]).unwrap().is_empty());
        assert_eq!(d.buffered(), 2);
        assert!(d.push(&framed[2..4]).unwrap().is_empty());
        assert!(d.push(&framed[4..100]).unwrap().is_empty());
        assert_eq!(d.push(&framed[100..]).unwrap(), vec![payload]);
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn length_prefix_payload_may_hold_any_byte() {
        let msgs: Vec<&[u8]> = vec![b"line\nbreak", b"", &[0, 0, 0, 9], b"\xff\xfe"];
        let stream: Vec<u8> = msgs
            .iter()
            .flat_map(|m| encode_length_prefixed(m).unwrap())
            .collect();
        for cut in 0..=stream.len() {
            let mut d = LengthPrefixDecoder::new(64);
            let mut got = d.push(&stream[..cut]).unwrap();
            got.extend(d.push(&stream[cut..]).unwrap());
            assert_eq!(got, owned(&msgs), "cut {cut}");
        }
    }

    #[test]
    fn length_prefix_limit_and_eof() {
        let mut d = LengthPrefixDecoder::new(8);
        assert_eq!(
            d.push(&[0, 0, 0, 9]),
            Err(FramingError::MessageTooLong {
                claimed: 9,
                limit: 8
            })
        );
        let mut d = LengthPrefixDecoder::new(8);
        d.push(&[0, 0, 0, 3, b'a']).unwrap();
        assert_eq!(
            d.finish(),
            Err(FramingError::EndedMidMessage { buffered: 5 })
        );
    }
}
