//! Shared by the integration tests: run the real `netlab` binary with a time limit, and
//! decide whether a test that needs root may run.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod redis;

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

/// A `Command` for the netlab binary Cargo built for these tests, with colour off, run in
/// a folder outside the repository: as an installed netlab runs, away from the source tree, so
/// every command a doc or a lab shows must work without the repository's files (the
/// captures they read are built in). A file a test passes is named by an absolute path.
pub fn netlab_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_netlab"));
    c.env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .current_dir(away_from_the_repository());
    c
}

/// A folder outside the repository, shared by every test process and left in place (tests
/// run in parallel; nothing relies on what is in it, only on what is not: the repository).
pub fn away_from_the_repository() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join("netlab-test-cwd");
        std::fs::create_dir_all(&d).expect("a folder in the temporary directory");
        assert!(
            !d.starts_with(env!("CARGO_MANIFEST_DIR")),
            "the temporary folder is outside the repository"
        );
        d
    })
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

/// Run netlab with `args` and a 70 s limit (a guard against a hang, not a speed bound: the
/// udp demo's TCP half may retransmit for a while before it gives up).
pub fn netlab(args: &[&str]) -> Run {
    netlab_with_limit(args, Duration::from_secs(70))
}

/// Under `CI=true` nothing may skip: `.ci/run` runs as root and installs every tool.
pub fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// A line for the person running `cargo test`, on the terminal itself.
///
/// libtest captures what a passing test prints with `print!` and `eprint!` (and shows it
/// only when the test fails), so an `eprintln!` from a skipped test is never seen. The
/// capture works on those macros only: a write to the stderr handle bypasses it, so this
/// line appears among the `test … ok` lines of a plain `cargo test`.
pub fn notice(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// A check that cannot run here: under `CI=true` the test fails with `reason`; elsewhere
/// a `SKIPPED <test>: <reason>` line reaches the terminal (see [`notice`]) and the test
/// returns early (its caller returns; the test then counts as passed).
pub fn skip(reason: &str) {
    if ci() {
        panic!("{reason}, and CI=true: CI runs as root with every tool installed, so this must not skip");
    }
    // libtest names each test's thread after the test.
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    notice(&format!("SKIPPED {test}: {reason}"));
}

/// True when running as root. Otherwise: under `CI=true` the test fails (CI runs as root
/// and must never skip); on a student's laptop it says on the terminal why it skips and
/// returns false.
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
    skip(&format!(
        "{what} needs root (effective uid {uid}); run as root to include it"
    ));
    false
}

/// Whether `tool`, a program outside Rust that a test runs (tcpdump, tshark, nft,
/// unshare, …), is on PATH (or, given as a path, exists) and is executable. Without it
/// the test skips with a notice on the terminal, except with `CI=true`, where `.ci/run`
/// installs it, so a missing tool fails the test instead. Looked up, not run: some tools
/// have no harmless `--version`.
pub fn have_tool(tool: &str) -> bool {
    if on_path(tool) {
        return true;
    }
    skip(&format!(
        "`{tool}` is not installed (Debian: apt-get install {})",
        debian_package(tool)
    ));
    false
}

/// Is `tool` an executable file on PATH (or at the path given)?
pub fn on_path(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &std::path::Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if tool.contains('/') {
        return runnable(std::path::Path::new(tool));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| runnable(&dir.join(tool))))
}

/// A fresh directory to use as PATH: a symlink to every program in the usual system
/// directories except `hidden`, so a test sees the machine as if those were not installed
/// (nothing is removed from the machine). Unique to this process and `name`.
pub fn path_without(name: &str, hidden: &[&str]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("netlab-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dirs = [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ];
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(d) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            let file = e.file_name();
            if hidden.iter().any(|h| file == std::ffi::OsStr::new(h)) {
                continue;
            }
            // The first directory on the usual PATH wins, as it would in a shell.
            let _ = std::os::unix::fs::symlink(e.path(), dir.join(&file));
        }
    }
    dir
}

/// The Debian package that carries `tool` (what `.ci/run` installs).
fn debian_package(tool: &str) -> &str {
    match tool.rsplit('/').next().unwrap_or(tool) {
        "nft" => "nftables",
        "unshare" | "setpriv" => "util-linux",
        "script" => "bsdutils",
        "kill" => "procps",
        "ip" => "iproute2",
        "dig" => "bind9-dnsutils",
        "dnsmasq" => "dnsmasq-base",
        "timeout" => "coreutils",
        "node" => "nodejs",
        other => other,
    }
}

/// The one way the docs tests find commands: each `$ ` line of every ```console block in
/// `path` (relative to the crate root), with the output the page shows under it (the
/// block's following lines up to the next `$ ` line). Fences and `$ ` lines may be
/// indented (inside a list item).
pub fn console_sessions(path: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut sessions: Vec<(String, String)> = Vec::new();
    let mut inside = false;
    let mut current = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            inside = t == "```console";
            current = false;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(cmd) = t.strip_prefix("$ ") {
            sessions.push((cmd.to_owned(), String::new()));
            current = true;
        } else if current {
            let (_, out) = sessions.last_mut().expect("a command came first");
            out.push_str(line);
            out.push('\n');
        }
    }
    sessions
}

/// The `$ ` lines of every ```console block in `path` (see [`console_sessions`]): the
/// commands a guide shows, so tests can run them and the guide cannot rot.
pub fn console_commands(path: &str) -> Vec<String> {
    console_sessions(path).into_iter().map(|(c, _)| c).collect()
}

/// A console line's netlab command as argv: `sudo` dropped, the netlab part of a pipeline
/// (`echo hi | netlab ...`) kept, cut at the next pipe or redirection, words split as a
/// shell would (quotes group). `None` when the line runs no netlab.
pub fn netlab_argv(line: &str) -> Option<Vec<String>> {
    let line = line.trim();
    let start = if line.starts_with("netlab ") || line == "netlab" {
        0
    } else {
        line.find("| netlab ").map(|i| i + 2).or_else(|| {
            line.strip_prefix("sudo ")
                .filter(|r| r.starts_with("netlab"))
                .map(|_| 5)
        })?
    };
    let cmd = &line[start..];
    let end = [" | ", " > ", " 2>", " < "]
        .iter()
        .filter_map(|s| cmd.find(s))
        .min()
        .unwrap_or(cmd.len());
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in cmd[..end].chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, ' ') => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    assert!(quote.is_none(), "unbalanced quotes in `{line}`");
    if any {
        words.push(cur);
    }
    Some(words)
}

/// Every Markdown file in `dir` (relative to the crate root), sorted.
pub fn markdown_files(dir: &str) -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(root.join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    files.sort();
    files
}

/// A netlab running in the background (a listener, a relay), printing JSON Lines; killed
/// when dropped. Every wait on it is bounded.
pub struct Background {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    what: String,
    seen: Vec<serde_json::Value>,
}

impl Background {
    /// Start `netlab --jsonl ARGS` and wait (at most 10 s) for its first line, which says
    /// where it listens.
    pub fn start(args: &[String]) -> (Background, serde_json::Value) {
        let mut child = netlab_cmd()
            .arg("--jsonl")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the netlab binary runs");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let what = args.join(" ");
        let first = lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("`netlab {what}` printed nothing within 10 s"));
        let v = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{first}: {e}"));
        (
            Background {
                child,
                lines,
                what,
                seen: Vec::new(),
            },
            v,
        )
    }

    fn parse(&self, line: &str) -> serde_json::Value {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("`netlab {}`: {line}: {e}", self.what))
    }

    /// Wait (at most `limit`) until it prints a line that `pred` accepts.
    pub fn wait_for(&mut self, pred: impl Fn(&serde_json::Value) -> bool, limit: Duration) -> bool {
        if self.seen.iter().any(&pred) {
            return true;
        }
        let start = Instant::now();
        while let Some(left) = limit.checked_sub(start.elapsed()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let v = self.parse(&line);
                    let hit = pred(&v);
                    self.seen.push(v);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    }

    /// Ask it to stop as a service manager does (SIGTERM), so that it shuts down cleanly.
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Stop it and return every JSON line it printed after the first.
    pub fn stop(mut self) -> Vec<serde_json::Value> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut out = std::mem::take(&mut self.seen);
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            out.push(self.parse(&line));
        }
        out
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `argv` (netlab's, starting with "netlab") with the value after `flag` replaced, or the
/// flag and value added when absent.
pub fn with_flag(argv: &[String], flag: &str, value: &str) -> Vec<String> {
    let mut v = argv.to_vec();
    match v.iter().position(|a| a == flag) {
        Some(i) => v[i + 1] = value.to_owned(),
        None => {
            v.push(flag.to_owned());
            v.push(value.to_owned());
        }
    }
    v
}

/// Run netlab with `input` on stdin; kill it and fail the test after `limit`.
pub fn netlab_with_stdin(args: &[&str], input: &str, limit: Duration) -> Run {
    use std::io::Write;
    let mut child = netlab_cmd()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the netlab binary runs");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    // Write from a thread: a command that stops reading early closes its end.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
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
    let _ = writer.join();
    Run {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Run netlab on a pseudo-terminal (util-linux `script`), with stdin at end of input.
pub fn on_a_terminal(args: &str, no_color: bool) -> String {
    let mut c = Command::new("script");
    // `script` runs the command through a shell: `args` is one shell-quoted line.
    c.args([
        "-qec",
        &format!("{} {args}", env!("CARGO_BIN_EXE_netlab")),
        "/dev/null",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    c.env_remove("NO_COLOR");
    if no_color {
        c.env("NO_COLOR", "1");
    }
    let child = c
        .spawn()
        .expect("script (util-linux, Debian bsdutils) runs: .ci/run installs it");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("netlab {args} on a terminal hung"))
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run netlab on a pseudo-terminal `cols` columns wide (util-linux `script`, `stty`), colour
/// off; the lines it printed, carriage returns removed.
pub fn on_a_terminal_of_width(args: &str, cols: u16) -> Vec<String> {
    let out = Command::new("script")
        .args([
            "-qec",
            &format!(
                "stty cols {cols} rows 50; {} {args}",
                env!("CARGO_BIN_EXE_netlab")
            ),
            "/dev/null",
        ])
        .env("NO_COLOR", "1")
        .current_dir(away_from_the_repository())
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux, Debian bsdutils) runs: .ci/run installs it");
    assert!(
        out.status.success(),
        "netlab {args}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout)
        .replace('\r', "")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The folder of npm packages the tests' real peers come from (`NETLAB_NODE_MODULES`,
/// by default `/opt/netlab-peers/node_modules`), when `node` is on PATH and every one
/// of `packages` is in it. Otherwise the test skips as for a missing tool (fails under
/// `CI=true`).
pub fn node_peers(packages: &[&str]) -> Option<std::path::PathBuf> {
    if !have_tool("node") {
        return None;
    }
    let dir = std::env::var_os("NETLAB_NODE_MODULES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/opt/netlab-peers/node_modules".into());
    if let Some(missing) = packages.iter().find(|p| !dir.join(p).is_dir()) {
        skip(&format!(
            "the npm package `{missing}` is not in {} (npm install --prefix DIR {missing}, then NETLAB_NODE_MODULES=DIR/node_modules)",
            dir.display()
        ));
        return None;
    }
    Some(dir)
}

/// [`node_peers`] for one package.
pub fn node_modules(package: &str) -> Option<std::path::PathBuf> {
    node_peers(&[package])
}

/// The headless browser the browser tests drive: the first of Chromium's usual names on
/// PATH. Without one the test skips as for a missing tool (fails under `CI=true`).
pub fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| on_path(c));
    if found.is_none() {
        skip("no chromium on PATH (Debian: apt-get install chromium)");
    }
    found
}

/// Run `node tests/SCRIPT ARGS…` with [`node_peers`]' folder to its end (at most `limit`;
/// `what` names it in a failure); the JSON lines it printed. Node failing fails the test.
pub fn node_json_lines(
    peers: &std::path::Path,
    script: &str,
    args: &[String],
    limit: Duration,
    what: &str,
) -> Vec<serde_json::Value> {
    let mut child = Command::new("node")
        .arg(format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .env("NETLAB_NODE_MODULES", peers)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    // Read as it comes, so a chatty script cannot fill the pipe and stall.
    let mut out = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    while child.try_wait().expect("node is waited for").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("node's output");
    let stdout = reader.join().expect("node's stdout");
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// A node peer (`node tests/SCRIPT ARGS…`) that prints JSON lines, the first of them
/// `{"port": N}` once it listens on 127.0.0.1; killed when dropped.
pub struct NodeServer {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<serde_json::Value>,
    pub port: u16,
}

impl NodeServer {
    /// Start it and wait (at most `limit`) for its port.
    pub fn start(
        peers: &std::path::Path,
        script: &str,
        args: &[String],
        limit: Duration,
    ) -> NodeServer {
        let mut child = Command::new("node")
            .arg(format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR")))
            .args(args)
            .env("NETLAB_NODE_MODULES", peers)
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let first = lines.recv_timeout(limit).expect("the node server listens");
        let port = first["port"].as_u64().expect("a port") as u16;
        NodeServer { child, lines, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Lines until one `pred` accepts (each awaited at most `limit`); all of them.
    pub fn until(
        &self,
        pred: impl Fn(&serde_json::Value) -> bool,
        limit: Duration,
    ) -> Vec<serde_json::Value> {
        let mut seen = Vec::new();
        while let Ok(v) = self.lines.recv_timeout(limit) {
            let hit = pred(&v);
            seen.push(v);
            if hit {
                return seen;
            }
        }
        panic!("the node server never printed the line awaited: {seen:#?}");
    }

    /// Every line printed so far (waiting briefly for the last ones).
    pub fn seen(&self) -> Vec<serde_json::Value> {
        let mut seen = Vec::new();
        while let Ok(v) = self.lines.recv_timeout(Duration::from_millis(300)) {
            seen.push(v);
        }
        seen
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
