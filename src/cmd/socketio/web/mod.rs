//! What the server hands a browser besides Socket.IO, built into the binary: the chat
//! page at `/` and netlab's Socket.IO client script at `/socket.io/socket.io.js` (the
//! path where the real server serves its own client). Both are plain files in this
//! folder, written to be read: no build step, nothing fetched from elsewhere.

use crate::cli::socketio::AppKind;
use crate::net::engineio::Page;

/// The chat page: HTML, CSS and script in one file.
pub const CHAT_PAGE: Page = Page {
    path: "/",
    content_type: "text/html; charset=utf-8",
    body: include_str!("chat.html"),
};

/// netlab's Socket.IO client for browsers: `io(url?, opts?)`, `on`, `emit` with an ack.
pub const CLIENT_SCRIPT: Page = Page {
    path: "/socket.io/socket.io.js",
    content_type: "application/javascript; charset=utf-8",
    body: include_str!("socket.io.js"),
};

/// The pages an application's server serves: the client script always (as the real
/// server does by default), the chat page with the chat.
pub fn pages(app: AppKind) -> Vec<Page> {
    match app {
        AppKind::Chat => vec![CHAT_PAGE, CLIENT_SCRIPT],
        AppKind::Echo | AppKind::Conformance | AppKind::Bench | AppKind::Broadcast => {
            vec![CLIENT_SCRIPT]
        }
    }
}
