//! TLS, as far as a capture without keys can see it: the record header (RFC 8446 §5.1).
//!
//! OSI layer 6 (presentation) · TCP/IP application layer · PDU: **record**.
//!
//! ```text
//!  0               1               2               3               4
//! +---------------+-------------------------------+-------------------------------+
//! | content type  |     legacy_record_version     |            length             |
//! +---------------+-------------------------------+-------------------------------+
//! |                 fragment (encrypted after the handshake) ...                  |
//! ```
//!
//! Every TLS record starts with these five bytes, in the clear, in every version since
//! SSL 3.0 (RFC 6101 §5.2.1). The content type is 20 (change_cipher_spec), 21 (alert),
//! 22 (handshake) or 23 (application_data) (RFC 8446 §5.1, §B.1); the version's first
//! byte is 3 and its second 0 to 4 (3.0 is SSL 3.0, 3.4 is TLS 1.3's own number; TLS 1.3
//! writes 3.3 here, and may write 3.1 in its first ClientHello, RFC 8446 §5.1). netlab does not
//! decrypt, so this is all it says about TLS: that the bytes after TCP's header are
//! probably a TLS record, not plain application data.

/// Does `payload` start like a TLS record (content type 20 to 23, version 3.0 to 3.4)?
/// A guess from three bytes, not a parse: other binary data may begin with them too
/// (text cannot: its bytes are tabs, line ends or 32 and above).
pub fn looks_like_record(payload: &[u8]) -> bool {
    matches!(payload, [20..=23, 3, 0..=4, ..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_headers_are_recognised() {
        // A TLS 1.3 ClientHello's record header (version 3.1, RFC 8446 §5.1), and an
        // application_data record as TLS 1.3 sends it (type 23, version 3.3).
        assert!(looks_like_record(&[22, 3, 1, 0x02, 0x00, 1]));
        assert!(looks_like_record(&[23, 3, 3, 0x00, 0x20]));
        assert!(looks_like_record(&[21, 3, 0]));
        // Not a record: HTTP, an unknown content type, SSL 2's versions, version 3.5.
        assert!(!looks_like_record(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_record(&[24, 3, 3, 0, 1]));
        assert!(!looks_like_record(&[22, 2, 0, 0, 1]));
        assert!(!looks_like_record(&[22, 3, 5, 0, 1]));
    }

    #[test]
    fn every_prefix_is_safe() {
        let header = [22u8, 3, 1, 0x02, 0x00];
        for n in 0..=header.len() {
            assert_eq!(looks_like_record(&header[..n]), n >= 3, "prefix {n}");
        }
    }
}
