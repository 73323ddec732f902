//! HTTP compression of long-polling answers, as the reference server does it
//! (engine.io's `httpCompression`, on by default).
//!
//! A polling answer is compressed when three things hold: the client said it can
//! decompress (`Accept-Encoding: gzip, deflate`, RFC 9110 §12.5.3), the body is at least
//! [`THRESHOLD`] bytes, and a packet in it allowed compression (Socket.IO's
//! `compress(false)` takes a message out; the server's own packets allow it). The answer
//! then carries `Content-Encoding: gzip` (RFC 1952) or `deflate` (the zlib format, RFC
//! 1950; RFC 9110 §8.4.1.2). On a WebSocket the same choice is permessage-deflate's
//! (RFC 7692), made per frame.
//!
//! ```text
//!  gzip member (RFC 1952 §2.3):
//!  +---+---+---+---+---+---+---+---+---+---+========================+---+---+---+---+---+---+---+---+
//!  |1f |8b |CM |FLG|     MTIME     |XFL|OS | DEFLATE data (RFC 1951) |     CRC32     |     ISIZE     |
//!  +---+---+---+---+---+---+---+---+---+---+========================+---+---+---+---+---+---+---+---+
//!   ID1 ID2  8 = deflate, no flags, no time          CRC-32 of the original, its length mod 2^32,
//!                                                    both little-endian
//! ```
//!
//! The DEFLATE bit stream itself is the `miniz_oxide` crate's; the framing is here.

/// The smallest body worth compressing, in bytes (the reference server's default).
pub const THRESHOLD: usize = 1024;

/// A content coding netlab can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// RFC 1952.
    Gzip,
    /// The zlib format (RFC 1950), which HTTP calls `deflate`.
    Deflate,
}

impl Coding {
    /// The `Content-Encoding` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

/// The coding to use for a client that sent this `Accept-Encoding`: gzip if it accepts
/// it, else deflate, else none. A coding listed with `q=0` is refused (RFC 9110
/// §12.5.3); `*` accepts any.
pub fn choose(accept_encoding: &str) -> Option<Coding> {
    let accepts = |name: &str| {
        let mut verdict = None;
        for item in accept_encoding.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                let p = p.trim().replace(' ', "");
                p.strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            if coding.eq_ignore_ascii_case(name) {
                return !refused;
            }
            if coding == "*" {
                verdict = Some(!refused);
            }
        }
        verdict.unwrap_or(false)
    };
    [Coding::Gzip, Coding::Deflate]
        .into_iter()
        .find(|c| accepts(c.as_str()))
}

/// Should a body of `len` bytes be compressed?
pub fn worth_it(len: usize) -> bool {
    len >= THRESHOLD
}

/// The body encoded with `coding` (DEFLATE at zlib's default level, 6).
pub fn encode(coding: Coding, body: &[u8]) -> Vec<u8> {
    const LEVEL: u8 = 6;
    match coding {
        Coding::Deflate => miniz_oxide::deflate::compress_to_vec_zlib(body, LEVEL),
        Coding::Gzip => {
            let data = miniz_oxide::deflate::compress_to_vec(body, LEVEL);
            let mut out = Vec::with_capacity(data.len() + 18);
            // ID1 ID2, CM = 8 (deflate), FLG = 0, MTIME = 0 (none), XFL = 0, OS = 255
            // (unknown).
            out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
            out.extend_from_slice(&data);
            out.extend_from_slice(&crc32(body).to_le_bytes());
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out
        }
    }
}

/// The CRC-32 of gzip (RFC 1952 §8: polynomial 0xedb88320 reflected, starting and ending
/// with all bits inverted), one table lookup per byte.
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| {
        CRC_TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// The CRC of every byte value, computed once by the compiler.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        // The check value of the CRC-32 catalogue for "123456789".
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn chooses_as_the_client_allows() {
        assert_eq!(choose("gzip, deflate, br"), Some(Coding::Gzip));
        assert_eq!(choose("deflate"), Some(Coding::Deflate));
        assert_eq!(choose("gzip;q=0, deflate"), Some(Coding::Deflate));
        assert_eq!(choose("gzip; q=0.5"), Some(Coding::Gzip));
        assert_eq!(choose("br"), None);
        assert_eq!(choose(""), None);
        assert_eq!(choose("*"), Some(Coding::Gzip));
        assert_eq!(choose("*, gzip;q=0"), Some(Coding::Deflate));
    }

    #[test]
    fn gzip_members_inflate_back() {
        let body = "42[\"big\",\"".to_owned() + &"x".repeat(2000) + "\"]";
        let gz = encode(Coding::Gzip, body.as_bytes());
        assert_eq!(&gz[..4], &[0x1f, 0x8b, 8, 0]);
        // The reference server's gzip of this body was 46 bytes; ours is as small.
        assert!(gz.len() < 60, "{}", gz.len());
        let raw = miniz_oxide::inflate::decompress_to_vec(&gz[10..gz.len() - 8]).unwrap();
        assert_eq!(raw, body.as_bytes());
        let tail = &gz[gz.len() - 8..];
        assert_eq!(tail[..4], crc32(body.as_bytes()).to_le_bytes());
        assert_eq!(tail[4..], (body.len() as u32).to_le_bytes());
        let z = encode(Coding::Deflate, body.as_bytes());
        assert_eq!(
            miniz_oxide::inflate::decompress_to_vec_zlib(&z).unwrap(),
            body.as_bytes()
        );
    }
}
