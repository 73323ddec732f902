//! CORS for long-polling: which other web origins may read the server's answers.
//!
//! A page from `http://localhost:8080` that polls a server at `http://127.0.0.1:3000`
//! makes *cross-origin* requests. The browser sends them, but lets the page read an answer
//! only when it carries `Access-Control-Allow-Origin` naming the page's origin (or `*`).
//! A POST with a `Content-Type` other than the three "simple" ones, or any custom header,
//! is first *preflighted*: the browser asks with `OPTIONS` and
//! `Access-Control-Request-Method`/`-Headers`, and sends the real request only if the
//! answer allows it (the Fetch standard, "CORS protocol"). A WebSocket is not subject to
//! CORS: the server sees the page's `Origin` in the handshake and decides itself.
//!
//! The reference server leaves CORS off until its `cors` option is set, and then answers
//! as the npm `cors` package does; so does this, with `--cors ORIGIN`.

use thiserror::Error;

/// The methods a preflight answer allows (those of the `cors` package's default).
pub const ALLOW_METHODS: &str = "GET,HEAD,PUT,PATCH,POST,DELETE";

/// Which origin may read the answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// `*`: any page.
    AnyOrigin,
    /// One origin, `scheme://host[:port]`, as a browser writes it in `Origin`.
    Origin(String),
}

/// Why an origin given to `--cors` is not one.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CorsError {
    #[error("an origin is `*` or scheme://host[:port] with http or https")]
    Scheme,
    #[error("an origin has no path, query or fragment (`http://localhost:8080`, not `http://localhost:8080/`)")]
    Path,
    #[error("an origin names a host")]
    NoHost,
}

impl Cors {
    /// Read `*` or an origin such as `http://localhost:8080`.
    pub fn parse(s: &str) -> Result<Cors, CorsError> {
        if s == "*" {
            return Ok(Cors::AnyOrigin);
        }
        let rest = s
            .strip_prefix("http://")
            .or_else(|| s.strip_prefix("https://"))
            .ok_or(CorsError::Scheme)?;
        if rest.contains(['/', '?', '#']) {
            return Err(CorsError::Path);
        }
        if rest.is_empty() || rest.starts_with(':') {
            return Err(CorsError::NoHost);
        }
        Ok(Cors::Origin(s.to_owned()))
    }

    /// The header lines (each ending in CRLF) every answer carries.
    pub fn answer_headers(&self) -> String {
        match self {
            Cors::AnyOrigin => "Access-Control-Allow-Origin: *\r\n".to_owned(),
            // The answer depends on the request's Origin: caches must keep them apart.
            Cors::Origin(o) => format!("Access-Control-Allow-Origin: {o}\r\nVary: Origin\r\n"),
        }
    }

    /// The header lines of the answer to a preflight (`OPTIONS`), which asked to send
    /// `requested` headers (its `Access-Control-Request-Headers`): they are allowed, as
    /// the `cors` package allows whatever is asked.
    pub fn preflight_headers(&self, requested: Option<&str>) -> String {
        let mut h = self.answer_headers();
        h.push_str(&format!(
            "Access-Control-Allow-Methods: {ALLOW_METHODS}\r\n"
        ));
        if let Some(r) = requested.filter(|r| !r.is_empty() && !r.contains(['\r', '\n'])) {
            h.push_str(&format!(
                "Access-Control-Allow-Headers: {r}\r\nVary: Access-Control-Request-Headers\r\n"
            ));
        }
        h
    }
}

/// Whether a request is a CORS preflight: `OPTIONS` that names the method it would use.
pub fn is_preflight(method: &str, request_method: Option<&str>) -> bool {
    method == "OPTIONS" && request_method.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_read_as_browsers_write_them() {
        assert_eq!(Cors::parse("*"), Ok(Cors::AnyOrigin));
        assert_eq!(
            Cors::parse("http://localhost:8080"),
            Ok(Cors::Origin("http://localhost:8080".into()))
        );
        assert!(Cors::parse("https://example.com").is_ok());
        assert_eq!(Cors::parse("localhost:8080"), Err(CorsError::Scheme));
        assert_eq!(Cors::parse("ftp://x"), Err(CorsError::Scheme));
        assert_eq!(Cors::parse("http://localhost:8080/"), Err(CorsError::Path));
        assert_eq!(Cors::parse("http://"), Err(CorsError::NoHost));
        assert_eq!(Cors::parse("http://:80"), Err(CorsError::NoHost));
    }

    #[test]
    fn answers_name_the_origin_and_vary_on_it() {
        let c = Cors::parse("http://localhost:8080").unwrap();
        assert_eq!(
            c.answer_headers(),
            "Access-Control-Allow-Origin: http://localhost:8080\r\nVary: Origin\r\n"
        );
        assert_eq!(
            Cors::AnyOrigin.answer_headers(),
            "Access-Control-Allow-Origin: *\r\n"
        );
    }

    #[test]
    fn a_preflight_allows_the_methods_and_the_headers_asked_for() {
        let c = Cors::AnyOrigin;
        let h = c.preflight_headers(Some("content-type"));
        assert!(h.contains("Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n"));
        assert!(h.contains("Access-Control-Allow-Headers: content-type\r\n"));
        // A header value cannot smuggle a line into the answer.
        let h = c.preflight_headers(Some("x\r\nSet-Cookie: a=b"));
        assert!(!h.contains("Set-Cookie"), "{h}");
        assert!(is_preflight("OPTIONS", Some("POST")));
        assert!(!is_preflight("OPTIONS", None));
        assert!(!is_preflight("GET", Some("POST")));
    }
}
