//! A real browser: headless Chromium's own `WebSocket` against `netlab ws server --echo`,
//! with multi-byte UTF-8 text, binary and a 1 MiB message (the page checks every echo and
//! reports the verdict as a last message, which the server prints).

mod common;
mod ws_support;

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use ws_support::Server;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

#[test]
fn chromium_websocket_echoes_utf8_binary_and_one_mebibyte() {
    let Some(browser) = chromium() else {
        common::skip("no chromium on PATH (Debian: apt-get install chromium)");
        return;
    };
    let server = Server::start(&["--echo"]);
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
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // The server reports messages in order: the 1 MiB one comes before the verdict.
        let big = server.wait_line(Duration::from_secs(60), |v| {
            v["event"] == "message" && v["len"] == 1 << 20
        });
        assert_eq!(big["kind"], "binary");
        server.wait_line(Duration::from_secs(30), |v| {
            v["event"] == "message" && v["summary"].as_str().unwrap_or("").contains("RESULT:")
        })
    }));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&profile);
    let line = result.expect("the page reported no result within 60 s");
    let summary = line["summary"].as_str().unwrap();
    assert!(
        summary.contains("RESULT:PASS"),
        "the browser said: {summary}"
    );
}
