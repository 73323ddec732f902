//! The cluster's Redis: the one given with `--redis URL`, or a private `redis-server` on
//! a free port of 127.0.0.1 (no persistence, its own directory), stopped with the cluster.

use crate::error::HintExt;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Which Redis the cluster has.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "redis", rename_all = "snake_case")]
pub enum RedisState {
    /// Given with `--redis`.
    Given { url: String, answered_ping: bool },
    /// A private `redis-server` this command started.
    Started { url: String, answered_ping: bool },
    /// None given and `redis-server` is not installed.
    Missing { install: &'static str },
}

impl RedisState {
    /// The URL of a Redis that answered.
    pub fn usable_url(&self) -> Option<&str> {
        match self {
            RedisState::Given {
                url,
                answered_ping: true,
            }
            | RedisState::Started {
                url,
                answered_ping: true,
            } => Some(url),
            _ => None,
        }
    }
}

/// A private redis-server; killed when stopped or dropped.
pub struct Private {
    child: std::process::Child,
    dir: PathBuf,
    pub port: u16,
}

impl Private {
    pub async fn stop(self) {
        drop(self);
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The Redis to use: `given`, or a private one when `redis-server` is installed.
pub async fn prepare(given: Option<&str>) -> anyhow::Result<(RedisState, Option<Private>)> {
    if let Some(url) = given {
        let answered_ping = ping(url).await;
        return Ok((
            RedisState::Given {
                url: url.to_owned(),
                answered_ping,
            },
            None,
        ));
    }
    let Some(private) = start().await? else {
        return Ok((
            RedisState::Missing {
                install: "apt-get install redis-server",
            },
            None,
        ));
    };
    let url = format!("redis://127.0.0.1:{}", private.port);
    let answered_ping = ping(&url).await;
    Ok((RedisState::Started { url, answered_ping }, Some(private)))
}

/// Start `redis-server` on a free port; `None` when it is not installed.
async fn start() -> anyhow::Result<Option<Private>> {
    let port = super::haproxy::free_port()?.port();
    let dir = std::env::temp_dir().join(format!("netlab-redis-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).failed("could not make a directory for redis-server")?;
    let spawned = std::process::Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let child = match spawned {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let _ = std::fs::remove_dir_all(&dir);
            return Ok(None);
        }
        Err(e) => return Err(e).failed("could not start redis-server"),
    };
    let private = Private { child, dir, port };
    let url = format!("redis://127.0.0.1:{port}");
    for _ in 0..100 {
        if ping(&url).await {
            return Ok(Some(private));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    private.stop().await;
    anyhow::bail!("redis-server did not answer on port {port} within 5 s")
}

/// Does the Redis at `url` (`redis://HOST:PORT`) answer `PING` with `+PONG`?
pub async fn ping(url: &str) -> bool {
    let addr = url.strip_prefix("redis://").unwrap_or(url);
    let addr = addr.split('/').next().unwrap_or(addr);
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"*1\r\n$4\r\nPING\r\n").await.ok()?;
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).await.ok()?;
        Some(&buf == b"+PONG\r\n")
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}
