//! Shared by the integration tests: run the real `netlab` binary with a time limit, and
//! decide whether a test that needs root may run.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What a finished `netlab` run left behind.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// Parse stdout as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// A `Command` for the netlab binary Cargo built for these tests, with colour off.
pub fn netlab_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_netlab"));
    c.env("NO_COLOR", "1").stdin(Stdio::null());
    c
}

/// Run netlab with `args`; kill it and fail the test if it runs longer than `limit`.
pub fn netlab_with_limit(args: &[&str], limit: Duration) -> Run {
    let mut child = netlab_cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the netlab binary runs");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("netlab {args:?} hung: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Run netlab with `args` and a 30 s limit.
pub fn netlab(args: &[&str]) -> Run {
    netlab_with_limit(args, Duration::from_secs(30))
}

/// True when running as root. Otherwise: under `CI=true` the test fails (CI runs as root
/// and must never skip); on a student's laptop it prints why it skips and returns false.
pub fn have_root(what: &str) -> bool {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned))
        })
        .unwrap_or_default();
    if uid == "0" {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} needs root, and CI=true: CI runs as root, so this must not skip");
    }
    eprintln!("SKIPPED: {what} needs root (effective uid {uid}); run as root to include it");
    false
}

/// The `$ ` lines of every ```console block in `path` (relative to the crate root): the
/// commands a guide shows, so tests can run them and the guide cannot rot.
pub fn console_commands(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            inside = line.trim() == "```console";
            continue;
        }
        if inside {
            if let Some(cmd) = line.strip_prefix("$ ") {
                out.push(cmd.to_owned());
            }
        }
    }
    out
}
