//! The three servers, each in its own process, each running the same small app (netlab's
//! `--app bench`): `echo` acknowledged with its argument, `join ROOM`, `broadcast X` to
//! everyone but the sender, `room ROOM X` to everyone in ROOM.
//!
//! - `netlab`: the release binary, `netlab socketio server --app bench --quiet --port 0`;
//! - `socketioxide`: socketioxide 0.18 on axum 0.8, in this program (`sio-bench serve`),
//!   a multi-thread tokio runtime;
//! - `node`: socket.io 4.8 on Node (`peer.js` beside this crate's manifest), found in
//!   `NETLAB_NODE_MODULES` (default `/opt/netlab-peers/node_modules`).

use serde_json::Value;
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::SocketIo;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const ALL: [&str; 3] = ["netlab", "socketioxide", "node"];

/// A server process, killed when dropped.
pub struct Server {
    pub name: &'static str,
    child: std::process::Child,
    pub port: u16,
}

impl Drop for Server {
    /// SIGINT first, so a wrapper (`perf record`) writes its data and stops its child;
    /// SIGKILL after 3 s.
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill only sends a signal to our own child.
            unsafe { libc::kill(pid, libc::SIGINT) };
            for _ in 0..300 {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// User plus system CPU time so far, in seconds (`/proc/PID/stat`, clock ticks).
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        // utime and stime are fields 14 and 15 of proc_pid_stat(5); `rest` starts at field 3.
        let field = |i: usize| -> u64 {
            rest.split_whitespace()
                .nth(i)
                .and_then(|x| x.parse().ok())
                .unwrap_or(0)
        };
        let ticks = field(11) + field(12);
        // SAFETY: sysconf only reads a system constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        ticks as f64 / hz
    }
}

/// A `/proc/PID/status` figure in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn node_modules() -> String {
    std::env::var("NETLAB_NODE_MODULES").unwrap_or_else(|_| "/opt/netlab-peers/node_modules".into())
}

/// netlab's release binary: `--netlab PATH`, else the repository's `target/release/netlab`.
pub fn netlab_binary(given: Option<&str>) -> PathBuf {
    match given {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/netlab"),
    }
}

/// Starts one server; `pin` puts it on CPU 1 (taskset, util-linux).
pub fn start(name: &'static str, pin: bool, netlab: &Path) -> Result<Server, String> {
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "1"]);
        c
    } else {
        Command::new("env")
    };
    // SIO_BENCH_WRAP="perf record -g -o /tmp/perf.%s": run each server under a tool (the
    // server's name replaces %s).
    if let Ok(wrap) = std::env::var("SIO_BENCH_WRAP") {
        cmd.args(wrap.replace("%s", name).split_whitespace());
    }
    match name {
        "netlab" => {
            cmd.arg(netlab).args([
                "socketio", "server", "--app", "bench", "--quiet", "--port", "0", "--color",
                "never",
            ]);
        }
        "socketioxide" => {
            cmd.arg(std::env::current_exe().map_err(|e| e.to_string())?)
                .args(["serve", "socketioxide"]);
        }
        "node" => {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peer.js");
            cmd.arg("node").arg(script).env("NODE_PATH", node_modules());
        }
        other => return Err(format!("unknown server {other}")),
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("could not start {name}: {e}"))?;
    let mut out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    out.read_line(&mut line).map_err(|e| e.to_string())?;
    // netlab says `listening on http://127.0.0.1:PORT/socket.io/ (..)`; the others the port.
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .unwrap_or(&line)
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .and_then(|p| p.parse().ok());
    let Some(port) = port else {
        let _ = child.kill();
        return Err(format!("{name} did not say its port (it printed {line:?})"));
    };
    // Whatever the server prints later is read and dropped, so it never blocks on a pipe.
    std::thread::spawn(move || {
        let mut sink = [0u8; 8192];
        while matches!(out.read(&mut sink), Ok(n) if n > 0) {}
    });
    Ok(Server { name, child, port })
}

// ---------------------------------------------------------------- socketioxide -------

/// `sio-bench serve socketioxide`: the bench app on socketioxide, printing its port.
pub fn serve_socketioxide() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (layer, io) = SocketIo::new_layer();
        io.ns("/", async |s: SocketRef| {
            s.on("echo", async |Data::<Value>(v), ack: AckSender| {
                ack.send(&v).ok();
            });
            s.on(
                "join",
                async |s: SocketRef, Data::<String>(room), ack: AckSender| {
                    s.join(room.clone());
                    ack.send(&room).ok();
                },
            );
            s.on("broadcast", async |s: SocketRef, Data::<Value>(v)| {
                s.broadcast().emit("broadcast", &v).await.ok();
            });
            s.on(
                "room",
                async |s: SocketRef, Data::<(String, Value)>(args)| {
                    s.within(args.0.clone()).emit("room", &args).await.ok();
                },
            );
        });
        let app = axum::Router::new().layer(layer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("addr").port());
        axum::serve(listener, app).await.expect("serve");
    });
}
