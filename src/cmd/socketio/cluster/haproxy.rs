//! A real haproxy in front of the nodes: its configuration for each policy, and the
//! process (`haproxy -f CFG -db`, in the foreground, stopped with the cluster).
//!
//! haproxy works in HTTP mode here: it reads every request, so `balance roundrobin` picks
//! a server per request, `balance source` hashes the client's address, and `cookie … insert`
//! adds a cookie naming the server to the first response and follows it afterwards.
//! `timeout tunnel` keeps a WebSocket open after the upgrade.

use crate::error::HintExt;
use crate::net::balancer::{node_name, Policy, COOKIE};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// haproxy's configuration: listen on `front`, balance over `nodes` as `policy` says.
pub fn config(front: SocketAddr, nodes: &[SocketAddr], policy: Policy) -> String {
    let mut c = String::from(
        "global\n    maxconn 256\n\n\
         defaults\n    mode http\n    timeout connect 5s\n    timeout client 60s\n    \
         timeout server 60s\n    timeout tunnel 1h\n\n",
    );
    let _ = writeln!(
        c,
        "frontend socketio\n    bind {front}\n    default_backend nodes\n"
    );
    c.push_str("backend nodes\n");
    match policy {
        Policy::RoundRobin => c.push_str("    balance roundrobin\n"),
        Policy::Source => c.push_str("    balance source\n"),
        Policy::Cookie => {
            c.push_str("    balance roundrobin\n");
            let _ = writeln!(c, "    cookie {COOKIE} insert indirect nocache");
        }
    }
    for (i, addr) in nodes.iter().enumerate() {
        let name = node_name(i);
        let _ = write!(c, "    server {name} {addr}");
        if policy == Policy::Cookie {
            let _ = write!(c, " cookie {name}");
        }
        c.push('\n');
    }
    c
}

/// Is `haproxy` on PATH?
pub fn installed() -> bool {
    std::process::Command::new("haproxy")
        .arg("-v")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A running haproxy; killed when stopped or dropped.
pub struct Haproxy {
    child: std::process::Child,
    dir: PathBuf,
    pub front: SocketAddr,
}

impl Haproxy {
    /// Write the configuration into a directory of its own and start haproxy on `front`;
    /// wait (at most 5 s) until it accepts connections.
    pub async fn start(
        front: SocketAddr,
        nodes: &[SocketAddr],
        policy: Policy,
    ) -> anyhow::Result<Haproxy> {
        let dir = std::env::temp_dir().join(format!(
            "netlab-haproxy-{}-{}",
            std::process::id(),
            front.port()
        ));
        std::fs::create_dir_all(&dir).failed("could not make a directory for haproxy")?;
        let cfg = dir.join("haproxy.cfg");
        std::fs::write(&cfg, config(front, nodes, policy))
            .failed("could not write haproxy's configuration")?;
        let child = std::process::Command::new("haproxy")
            .arg("-f")
            .arg(&cfg)
            .arg("-db")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .hinted(
                "could not start haproxy",
                "install it (Debian: apt-get install haproxy) or use --balancer netlab",
            )?;
        let mut h = Haproxy { child, dir, front };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(front).await.is_ok() {
                return Ok(h);
            }
            if let Ok(Some(status)) = h.child.try_wait() {
                anyhow::bail!("haproxy ended at once ({status}); its configuration: {cfg:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        h.stop().await;
        anyhow::bail!("haproxy did not listen on {front} within 5 s")
    }

    /// Kill it and remove its directory.
    pub async fn stop(self) {
        drop(self);
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free port on 127.0.0.1 (the kernel's choice, released for haproxy to bind).
pub fn free_port() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").failed("no free port on 127.0.0.1")?;
    Ok(l.local_addr()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_configuration_names_each_server() {
        let nodes: Vec<SocketAddr> = vec![
            "127.0.0.1:4001".parse().expect("addr"),
            "127.0.0.1:4002".parse().expect("addr"),
        ];
        let c = config(
            "127.0.0.1:8000".parse().expect("addr"),
            &nodes,
            Policy::Cookie,
        );
        assert!(c.contains("    bind 127.0.0.1:8000\n"), "{c}");
        assert!(
            c.contains("    cookie netlab_node insert indirect nocache\n"),
            "{c}"
        );
        assert!(
            c.contains("    server n2 127.0.0.1:4002 cookie n2\n"),
            "{c}"
        );
        let s = config(
            "127.0.0.1:8000".parse().expect("addr"),
            &nodes,
            Policy::Source,
        );
        assert!(
            s.contains("    balance source\n") && !s.contains("cookie"),
            "{s}"
        );
    }
}
