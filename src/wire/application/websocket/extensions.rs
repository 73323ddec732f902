//! The `Sec-WebSocket-Extensions` header, RFC 6455 §9.1: a list of extensions, each a
//! name and `;`-separated parameters, each parameter a token with an optional value.
//!
//! ```text
//! Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits,
//!                           permessage-deflate; server_max_window_bits="10"
//!                           └──── name ──────┘  └──── parameter (value quoted) ───┘
//! ```
//!
//! ```text
//! extension-list  = 1#extension
//! extension       = extension-token *( ";" extension-param )
//! extension-param = token [ "=" (token | quoted-string) ]
//! ```
//!
//! Several offers of the same extension may follow each other, most preferred first
//! (RFC 7692 §5: the server takes the first it can accept). A quoted value must still be
//! a token once its quotes are taken off (§9.1: "the value MUST conform to the 'token'
//! ABNF"). What the parameters *mean* is the extension's business (`deflate`); this file
//! only reads and writes the syntax.

use serde::Serialize;

/// One extension in the header: its name and parameters, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtensionOffer {
    pub name: String,
    pub params: Vec<ExtensionParam>,
}

/// `name` or `name=value` (the value without its quotes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtensionParam {
    pub name: String,
    pub value: Option<String>,
}

/// The header does not follow the §9.1 grammar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("Sec-WebSocket-Extensions: {what} in {value:?} (RFC 6455 §9.1)")]
pub struct SyntaxError {
    pub what: &'static str,
    pub value: String,
}

/// Read every extension of every `Sec-WebSocket-Extensions` field value, in order.
pub fn parse<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<ExtensionOffer>, SyntaxError> {
    let mut out = Vec::new();
    for value in values {
        for item in split_outside_quotes(value, ',') {
            if item.trim().is_empty() {
                continue; // `1#` allows empty list elements (RFC 9110 §5.6.1)
            }
            out.push(parse_one(item).map_err(|what| SyntaxError {
                what,
                value: value.to_owned(),
            })?);
        }
    }
    Ok(out)
}

fn parse_one(item: &str) -> Result<ExtensionOffer, &'static str> {
    let mut parts = split_outside_quotes(item, ';').into_iter();
    let name = parts.next().unwrap_or("").trim();
    if !is_token(name) {
        return Err("an extension name that is not a token");
    }
    let mut params = Vec::new();
    for p in parts {
        let (pname, value) = match p.split_once('=') {
            Some((n, v)) => (n.trim(), Some(unquote(v.trim())?)),
            None => (p.trim(), None),
        };
        if !is_token(pname) {
            return Err("a parameter name that is not a token");
        }
        params.push(ExtensionParam {
            name: pname.to_owned(),
            value,
        });
    }
    Ok(ExtensionOffer {
        name: name.to_owned(),
        params,
    })
}

/// A token, or a quoted string whose content is a token (§9.1).
fn unquote(v: &str) -> Result<String, &'static str> {
    let inner = match v.strip_prefix('"') {
        Some(rest) => rest
            .strip_suffix('"')
            .ok_or("an unterminated quoted value")?,
        None => v,
    };
    // A quoted-pair (`\x`) stands for x (RFC 9110 §5.6.4).
    let mut s = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        s.push(if c == '\\' {
            chars.next().unwrap_or('\\')
        } else {
            c
        });
    }
    if is_token(&s) {
        Ok(s)
    } else {
        Err("a parameter value that is not a token")
    }
}

/// RFC 9110 §5.6.2: `token = 1*tchar`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Split at `sep` where it is not inside a quoted string.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Write one extension as a header value: `name; a; b=10`.
pub fn format(offer: &ExtensionOffer) -> String {
    let mut s = offer.name.clone();
    for p in &offer.params {
        s.push_str("; ");
        s.push_str(&p.name);
        if let Some(v) = &p.value {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(name: &str, value: Option<&str>) -> ExtensionParam {
        ExtensionParam {
            name: name.into(),
            value: value.map(Into::into),
        }
    }

    #[test]
    fn two_offers_with_and_without_values_and_quotes() {
        // RFC 7692 §7.1.3's second example, with a quoted value and two field lines.
        let got = parse([
            "permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\"",
            "permessage-deflate;client_max_window_bits , x-other",
        ])
        .unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].name, "permessage-deflate");
        assert_eq!(
            got[0].params,
            [
                param("client_max_window_bits", None),
                param("server_max_window_bits", Some("10"))
            ]
        );
        assert_eq!(got[1].params, [param("client_max_window_bits", None)]);
        assert_eq!(got[2].name, "x-other");
        assert_eq!(
            format(&got[0]),
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10"
        );
    }

    #[test]
    fn a_comma_inside_quotes_does_not_split() {
        let got = parse(["x; a=\"1,2\""]);
        // The value is quoted correctly but "1,2" is not a token: refused, not split.
        assert!(got.is_err());
        assert_eq!(
            parse(["x; a=\"\\1\""]).unwrap()[0].params,
            [param("a", Some("1"))]
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in ["; a", "x; =1", "x; a=\"1", "x; a=", "x y", "x; a b"] {
            assert!(parse([bad]).is_err(), "{bad}");
        }
        assert_eq!(parse(["", " , "]).unwrap(), []);
    }
}
