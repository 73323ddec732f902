//! Numbers, addresses and bytes as text, without `format!`: netlab's one hex formatter
//! and its one escaper for bytes a peer sent.
//!
//! The capture views write millions of numbers: a port, a sequence number, an address
//! per field per packet. `to_string()` and `format!` go through the formatter's general
//! machinery (padding, precision, dynamic dispatch), which was most of the one-line
//! view's time and a third of `--layers`'. These helpers write the same text directly.
//! Each one is checked against `format!` in the tests below.

use core::net::Ipv4Addr;

/// "00" to "99": numbers are written two digits at a time. It is a `str`, so a slice of
/// it is text already (no UTF-8 check per number, which cost as much as the digits).
const PAIRS: &str = "0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Decimal text of every byte value: an IPv4 address is four table look-ups.
pub static OCTETS: [&str; 256] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
    "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31", "32",
    "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44", "45", "46", "47", "48",
    "49", "50", "51", "52", "53", "54", "55", "56", "57", "58", "59", "60", "61", "62", "63", "64",
    "65", "66", "67", "68", "69", "70", "71", "72", "73", "74", "75", "76", "77", "78", "79", "80",
    "81", "82", "83", "84", "85", "86", "87", "88", "89", "90", "91", "92", "93", "94", "95", "96",
    "97", "98", "99", "100", "101", "102", "103", "104", "105", "106", "107", "108", "109", "110",
    "111", "112", "113", "114", "115", "116", "117", "118", "119", "120", "121", "122", "123",
    "124", "125", "126", "127", "128", "129", "130", "131", "132", "133", "134", "135", "136",
    "137", "138", "139", "140", "141", "142", "143", "144", "145", "146", "147", "148", "149",
    "150", "151", "152", "153", "154", "155", "156", "157", "158", "159", "160", "161", "162",
    "163", "164", "165", "166", "167", "168", "169", "170", "171", "172", "173", "174", "175",
    "176", "177", "178", "179", "180", "181", "182", "183", "184", "185", "186", "187", "188",
    "189", "190", "191", "192", "193", "194", "195", "196", "197", "198", "199", "200", "201",
    "202", "203", "204", "205", "206", "207", "208", "209", "210", "211", "212", "213", "214",
    "215", "216", "217", "218", "219", "220", "221", "222", "223", "224", "225", "226", "227",
    "228", "229", "230", "231", "232", "233", "234", "235", "236", "237", "238", "239", "240",
    "241", "242", "243", "244", "245", "246", "247", "248", "249", "250", "251", "252", "253",
    "254", "255",
];

/// Append `n` (below 100) as two digits, `07` for 7.
pub fn push_pair(s: &mut String, n: u64) {
    let p = (n % 100) as usize * 2;
    s.push_str(&PAIRS[p..p + 2]);
}

/// Append `n` in decimal, as `{n}` would.
pub fn push_num(s: &mut String, n: u64) {
    if n < 10 {
        s.push(char::from(b'0' + n as u8));
        return;
    }
    // Split into two-digit groups, lowest first (a u64 has at most 10), then write them
    // highest first; the highest group alone may have one digit.
    let mut groups = [0u8; 10];
    let mut k = 0;
    let mut n = n;
    while n >= 100 {
        groups[k] = (n % 100) as u8;
        k += 1;
        n /= 100;
    }
    if n >= 10 {
        push_pair(s, n);
    } else {
        s.push(char::from(b'0' + n as u8));
    }
    for &g in groups[..k].iter().rev() {
        push_pair(s, u64::from(g));
    }
}

/// `n` in decimal: `n.to_string()` without the formatter.
pub fn num(n: impl Into<u64>) -> String {
    let mut s = String::with_capacity(20);
    push_num(&mut s, n.into());
    s
}

/// Append `v` as four lowercase hex digits, as `{v:04x}` would.
pub fn push_hex16(s: &mut String, v: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in [12, 8, 4, 0] {
        s.push(char::from(HEX[usize::from((v >> shift) & 0xf)]));
    }
}

/// Append an IPv4 address in dotted decimal, as `{a}` would.
pub fn push_ipv4(s: &mut String, a: Ipv4Addr) {
    for (i, b) in a.octets().iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        s.push_str(OCTETS[usize::from(*b)]);
    }
}

/// An IPv4 address in dotted decimal: `a.to_string()` without the formatter.
pub fn ipv4(a: Ipv4Addr) -> String {
    let mut s = String::with_capacity(15);
    push_ipv4(&mut s, a);
    s
}

/// A field's text built piece by piece, for the values the layer tree writes per packet:
/// `Text::new().num(5).str(" (").num(20).str(" bytes)").into()` is
/// `format!("{} ({} bytes)", 5, 20)` without the formatter.
#[derive(Debug, Default)]
pub struct Text(String);

impl Text {
    pub fn new() -> Text {
        Text(String::with_capacity(32))
    }

    pub fn str(mut self, s: &str) -> Text {
        self.0.push_str(s);
        self
    }

    pub fn num(mut self, n: impl Into<u64>) -> Text {
        push_num(&mut self.0, n.into());
        self
    }

    /// `0x` and four hex digits.
    pub fn hex16(mut self, v: u16) -> Text {
        self.0.push_str("0x");
        push_hex16(&mut self.0, v);
        self
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Append `bytes` as lowercase hex pairs with `sep` between them: `48 65 6c` with `" "`,
/// `48656c` with `""`, `00:1a:2b` with `":"`. netlab's one hex formatter.
pub fn push_hex(s: &mut String, bytes: &[u8], sep: &str) {
    s.reserve(bytes.len() * (2 + sep.len()));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push_str(sep);
        }
        s.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
        s.push(char::from(HEX_DIGITS[usize::from(b & 0x0f)]));
    }
}

/// `bytes` as lowercase hex pairs separated by `sep` (see [`push_hex`]).
pub fn hex(bytes: &[u8], sep: &str) -> String {
    let mut s = String::new();
    push_hex(&mut s, bytes, sep);
    s
}

/// Append `bytes` as text a terminal shows and never obeys. netlab's one escaper, for
/// every payload a peer sent: printable ASCII stays as it is; line feed, carriage return,
/// tab, backslash and double quote are written `\n` `\r` `\t` `\\` `\"`; other control
/// bytes (ESC, DEL, …) and bytes that are not UTF-8 are `\xNN`. Text that is valid UTF-8
/// is shown as the characters it encodes (`¡Hola`, `ünïcode`, as Wireshark shows them),
/// except the characters that steer a terminal or hide text: the C1 controls
/// (U+0080–U+009F), the bidirectional overrides and isolates, and the zero-width
/// characters are written `\u{202e}`. So no byte a peer chose can move the cursor, change
/// a title or reorder what is shown.
pub fn push_escaped(s: &mut String, bytes: &[u8]) {
    s.reserve(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped_char(s, c);
        }
        for &b in chunk.invalid() {
            push_byte_escape(s, b);
        }
    }
}

/// One character of [`push_escaped`].
fn push_escaped_char(s: &mut String, c: char) {
    match c {
        '\n' => s.push_str("\\n"),
        '\r' => s.push_str("\\r"),
        '\t' => s.push_str("\\t"),
        '\\' => s.push_str("\\\\"),
        '"' => s.push_str("\\\""),
        ' '..='~' => s.push(c),
        // ASCII controls and DEL: the byte.
        '\0'..='\x7f' => push_byte_escape(s, c as u8),
        // C1 controls, zero-width and joiner marks, bidirectional controls, the byte
        // order mark: invisible or steering, so named by their code point.
        '\u{80}'..='\u{9f}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2069}'
        | '\u{feff}' => {
            s.push_str("\\u{");
            push_hex_digits(s, u32::from(c));
            s.push('}');
        }
        _ => s.push(c),
    }
}

/// `\xNN`.
fn push_byte_escape(s: &mut String, b: u8) {
    s.push_str("\\x");
    s.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
    s.push(char::from(HEX_DIGITS[usize::from(b & 0x0f)]));
}

/// A number in lower-case hex, without leading zeros.
fn push_hex_digits(s: &mut String, v: u32) {
    let digits = (32 - v.leading_zeros()).div_ceil(4).max(1);
    for i in (0..digits).rev() {
        s.push(char::from(HEX_DIGITS[((v >> (4 * i)) & 0xf) as usize]));
    }
}

/// `bytes` escaped whole (see [`push_escaped`]).
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    push_escaped(&mut s, bytes);
    s
}

/// Append the preview of a payload of `total_len` bytes of which `shown` are at hand:
/// `shown` escaped, in double quotes when `quote`, then, when bytes were left out, an
/// ellipsis that counts them: `"GET / HT"… (120 more bytes)`.
pub fn push_preview(s: &mut String, shown: &[u8], total_len: u64, quote: bool) {
    if quote {
        s.push('"');
    }
    push_escaped(s, shown);
    if quote {
        s.push('"');
    }
    let left_out = total_len.saturating_sub(shown.len() as u64);
    if left_out > 0 {
        s.push_str("… (");
        push_num(s, left_out);
        s.push_str(if left_out == 1 {
            " more byte)"
        } else {
            " more bytes)"
        });
    }
}

/// At most `max` bytes of `bytes`, escaped, with an ellipsis counting the rest.
pub fn preview(bytes: &[u8], max: usize) -> String {
    let mut s = String::new();
    push_preview(
        &mut s,
        &bytes[..bytes.len().min(max)],
        bytes.len() as u64,
        false,
    );
    s
}

/// As [`preview`], in double quotes (the ellipsis after the closing quote).
pub fn quoted(bytes: &[u8], max: usize) -> String {
    let mut s = String::new();
    push_preview(
        &mut s,
        &bytes[..bytes.len().min(max)],
        bytes.len() as u64,
        true,
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_format() {
        let powers = (0..20).map(|e| 10u64.pow(e));
        let around = powers.flat_map(|p| [p - 1, p, p + 1, p.saturating_mul(5)]);
        for n in around.chain([12345, u64::from(u32::MAX), u64::MAX]) {
            assert_eq!(num(n), n.to_string());
        }
        for b in 0..=255u8 {
            assert_eq!(OCTETS[usize::from(b)], b.to_string());
        }
    }

    #[test]
    fn hex_and_addresses_match_format() {
        for v in [0u16, 0x0a, 0xbeef, 0x1c46, u16::MAX] {
            let mut s = String::new();
            push_hex16(&mut s, v);
            assert_eq!(s, format!("{v:04x}"));
        }
        for a in [
            Ipv4Addr::new(0, 0, 0, 0),
            Ipv4Addr::new(127, 0, 0, 1),
            Ipv4Addr::new(192, 168, 100, 255),
            Ipv4Addr::new(255, 255, 255, 255),
        ] {
            assert_eq!(ipv4(a), a.to_string());
        }
        let t: String = Text::new()
            .num(5u8)
            .str(" (")
            .num(20u16)
            .str(" bytes) ")
            .hex16(0x1c46)
            .into();
        assert_eq!(t, format!("{} ({} bytes) 0x{:04x}", 5, 20, 0x1c46));
    }
    #[test]
    fn hex_pairs_with_any_separator() {
        let b = [0x48, 0x65, 0x00, 0xff];
        assert_eq!(hex(&b, " "), "48 65 00 ff");
        assert_eq!(hex(&b, ""), "486500ff");
        assert_eq!(hex(&b, ":"), "48:65:00:ff");
        assert_eq!(hex(&[], " "), "");
        let each: String = b.iter().map(|x| format!("{x:02x}")).collect();
        assert_eq!(hex(&b, ""), each);
    }

    #[test]
    fn escaping_follows_one_rule_for_every_byte() {
        for b in 0..=255u8 {
            let e = escape(&[b]);
            let want = match b {
                b'\n' => "\\n".to_owned(),
                b'\r' => "\\r".to_owned(),
                b'\t' => "\\t".to_owned(),
                b'\\' => "\\\\".to_owned(),
                b'"' => "\\\"".to_owned(),
                0x20..=0x7e => char::from(b).to_string(),
                // A lone byte above 0x7f is never UTF-8 on its own.
                _ => format!("\\x{b:02x}"),
            };
            assert_eq!(e, want, "byte {b:#04x}");
            assert!(
                e.bytes().all(|c| (0x20..=0x7e).contains(&c)),
                "byte {b:#04x}"
            );
        }
    }

    #[test]
    fn a_terminal_escape_is_shown_not_obeyed() {
        // An OSC title change (ESC ] 0 ; … BEL), a C1 CSI (U+009B, c2 9b in UTF-8), a
        // right-to-left override (U+202E, e2 80 ae) and a zero-width space (U+200B).
        let shown = escape(b"\x1b]0;pwned\x07hi \xc2\x9b2J x\xe2\x80\xaey\xe2\x80\x8bz");
        assert_eq!(
            shown,
            "\\x1b]0;pwned\\x07hi \\u{9b}2J x\\u{202e}y\\u{200b}z"
        );
        assert!(shown.bytes().all(|c| (0x20..=0x7e).contains(&c)));
    }

    #[test]
    fn readable_text_in_any_language_stays_readable() {
        assert_eq!(
            escape("¡Hola, ünïcode ✓ 日本".as_bytes()),
            "¡Hola, ünïcode ✓ 日本"
        );
        // Not UTF-8 (a Latin-1 é, a cut sequence): the bytes.
        assert_eq!(escape(b"caf\xe9 \xe2\x9c"), "caf\\xe9 \\xe2\\x9c");
        assert_eq!(escape("é\n".as_bytes()), "é\\n");
    }

    #[test]
    fn a_preview_counts_what_it_leaves_out() {
        assert_eq!(preview(b"hi\n\x00", 10), "hi\\n\\x00");
        assert_eq!(preview(b"abcdef", 3), "abc… (3 more bytes)");
        assert_eq!(preview(b"abcd", 3), "abc… (1 more byte)");
        assert_eq!(quoted(b"say \"hi\"", 20), "\"say \\\"hi\\\"\"");
        assert_eq!(quoted(b"abcdef", 2), "\"ab\"… (4 more bytes)");
        let mut s = String::new();
        push_preview(&mut s, b"Hel", 5, true);
        assert_eq!(s, "\"Hel\"… (2 more bytes)");
    }
}
