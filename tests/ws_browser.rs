//! A real browser: headless Chromium's own `WebSocket` against `netlab ws server --echo`,
//! with multi-byte UTF-8 text, binary and a 1 MiB message (the page checks every echo and
//! reports the verdict as a last message, which the server prints); and the same with the
//! server's trace on, to see permessage-deflate (RFC 7692) on the wire.

mod common;
mod ws_support;

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use ws_support::Server;

/// Load the test page in headless Chromium against `server`; `check` runs while it
/// is open and its result is returned once the browser is gone.
fn with_browser<T>(browser: &str, server: &Server, check: impl FnOnce() -> T) -> T {
    let unique = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let profile =
        std::env::temp_dir().join(format!("netlab-chromium-{}-{unique}", std::process::id()));
    std::fs::create_dir_all(&profile).unwrap();
    let page =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ws_support/browser.html");
    let url = format!("file://{}?port={}", page.display(), server.port);
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(&url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&profile);
    match result {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e),
    }
}

#[test]
fn chromium_websocket_echoes_utf8_binary_and_one_mebibyte() {
    let Some(browser) = common::chromium() else {
        return;
    };
    let server = Server::start(&["--echo"]);
    let line = with_browser(browser, &server, || {
        // The server reports messages in order: the 1 MiB one comes before the verdict.
        let big = server.wait_line(Duration::from_secs(60), |v| {
            v["event"] == "message" && v["len"] == 1 << 20
        });
        assert_eq!(big["kind"], "binary");
        server.wait_line(Duration::from_secs(30), |v| {
            v["event"] == "message" && v["summary"].as_str().unwrap_or("").contains("RESULT:")
        })
    });
    let summary = line["summary"].as_str().unwrap();
    assert!(
        summary.contains("RESULT:PASS"),
        "the browser said: {summary}"
    );
}

/// Chromium offers permessage-deflate and netlab's server accepts it by default: the
/// page's 1 MiB message (a repeating pattern) crosses compressed both ways, RSV1 set,
/// at a small fraction of its size, and still comes back byte for byte.
#[test]
fn chromium_sends_one_mebibyte_compressed() {
    let Some(browser) = common::chromium() else {
        return;
    };
    let server = Server::start(&["--echo", "--trace", "--deflate", "on"]);
    let (handshake, from_browser, echoed, verdict) = with_browser(browser, &server, || {
        let handshake = server.wait_line(Duration::from_secs(60), |v| {
            v["trace"] == "handshake" && v["from"] == "server"
        });
        let compressed = |from: &'static str| {
            move |v: &serde_json::Value| {
                v["trace"] == "frame"
                    && v["from"] == from
                    && v["deflate"]["inflated_bytes"] == 1 << 20
            }
        };
        let from_browser = server.wait_line(Duration::from_secs(60), compressed("client"));
        let echoed = server.wait_line(Duration::from_secs(30), compressed("server"));
        let verdict = server.wait_line(Duration::from_secs(30), |v| {
            v["event"] == "message" && v["summary"].as_str().unwrap_or("").contains("RESULT:")
        });
        (handshake, from_browser, echoed, verdict)
    });
    let agreed = handshake["headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["name"] == "Sec-WebSocket-Extensions" && h["value"] == "permessage-deflate");
    assert!(agreed, "the 101 accepts permessage-deflate: {handshake}");
    for (who, f) in [("browser", &from_browser), ("server", &echoed)] {
        let wire = f["deflate"]["wire_bytes"].as_u64().unwrap();
        assert!(wire < 100 * 1024, "{who}: 1 MiB compressed to {wire} bytes");
        assert_eq!(f["deflate"]["outcome"], "compressed", "{who}: {f}");
    }
    // RSV1 is on the first frame of the message, which the server's own frame is.
    assert_eq!(echoed["rsv"], 4, "{echoed}");
    let summary = verdict["summary"].as_str().unwrap();
    assert!(
        summary.contains("RESULT:PASS"),
        "the browser said: {summary}"
    );
}
