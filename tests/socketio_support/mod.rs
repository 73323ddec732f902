//! What the tests that compare netlab's Socket.IO server machine with the real one share:
//! running the real server (npm `socket.io`) on the same steps.

use serde_json::Value;
use std::process::Command;

/// Run `script` (an application on the real socket.io server that ends by playing
/// `steps` through `steps.js` and printing JSON) and return what it printed; `None` when
/// node or the package is missing (a skip, or a failure under `CI=true`).
pub fn run_real_server(script: &str, steps: &[(usize, &str)]) -> Option<Value> {
    let modules = super::common::node_modules("socket.io")?;
    let out = Command::new("timeout")
        .args(["20", "node", "-e", script])
        .arg(serde_json::to_string(steps).unwrap())
        .env("NETLAB_NODE_MODULES", &modules)
        .env(
            "NETLAB_SIO_STEPS",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/socketio_support/steps.js"
            ),
        )
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("node wrote JSON"))
}
