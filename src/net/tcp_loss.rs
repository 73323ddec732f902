//! TCP under deliberate loss: an nftables rule that drops a share of the segments going
//! to one port, and a timed TCP transfer through it. Meant to run only inside a network
//! namespace made for it (see `net::netns`), never on the machine's own loopback.
//!
//! Why the *input* hook: on loopback every packet passes the output hook (leaving the
//! sender) and then the input hook (arriving at the receiver). A drop at the output hook
//! comes back to the sending TCP as a local error (the verdict becomes EPERM inside the
//! kernel), so TCP knows the segment never left: it sends the data again as new, not as a
//! retransmission (measured: 8 segments dropped there, `RetransSegs` unchanged, every byte
//! delivered). A drop at the input hook happens after the segment has been sent, as on a
//! lossy link: the sender learns of it only from the acknowledgements that do not come,
//! and must retransmit.

use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The nftables table netlab creates (in the namespace only).
pub const NFT_TABLE: &str = "netlab_tcp_loss";

/// The ruleset: in the input hook, of the TCP segments to `port` that are not SYNs
/// (connection setup is left alone, so the handshake's 1 s SYN timeout is not what the
/// student waits for), count all, and drop `percent` in 100 at random (and count those).
pub fn drop_ruleset(port: u16, percent: u32) -> String {
    format!(
        "table inet {NFT_TABLE} {{\n\
         \x20 chain input {{\n\
         \x20   type filter hook input priority filter; policy accept;\n\
         \x20   tcp dport {port} tcp flags & syn == 0 counter numgen random mod 100 < {percent} counter drop\n\
         \x20 }}\n\
         }}\n"
    )
}

/// Why nftables could not be used.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("the `nft` command (Debian package nftables) is not installed")]
    Missing,
    #[error("nft refused the rule: {0}")]
    Refused(String),
    #[error("could not run nft: {0}")]
    Io(#[from] io::Error),
}

/// Load a ruleset with `nft -f -`.
pub fn nft_apply(ruleset: &str) -> Result<(), NftError> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => NftError::Missing,
            _ => NftError::Io(e),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(ruleset.as_bytes())?;
    } // dropped here: nft sees end of input
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(NftError::Refused(
            err.lines().next().unwrap_or("no message").trim().to_owned(),
        ))
    }
}

/// The packet counts of netlab's table, in rule order: (segments seen, segments dropped).
pub fn nft_counts() -> Result<(u64, u64), NftError> {
    let out = Command::new("nft")
        .args(["list", "table", "inet", NFT_TABLE])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => NftError::Missing,
            _ => NftError::Io(e),
        })?;
    if !out.status.success() {
        return Err(NftError::Refused(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ));
    }
    match counter_packets(&String::from_utf8_lossy(&out.stdout))[..] {
        [seen, dropped] => Ok((seen, dropped)),
        ref other => Err(NftError::Refused(format!(
            "expected two counters in table {NFT_TABLE}, found {}",
            other.len()
        ))),
    }
}

/// Every `counter packets N` in `nft list` output, in order.
pub fn counter_packets(nft_list: &str) -> Vec<u64> {
    let words: Vec<&str> = nft_list.split_whitespace().collect();
    words
        .windows(3)
        .filter(|w| w[0] == "counter" && w[1] == "packets")
        .filter_map(|w| w[2].parse().ok())
        .collect()
}

/// A TCP listener on 127.0.0.1, port chosen by the kernel.
pub async fn bind_receiver() -> io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
}

/// What one transfer did.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// Everything the receiver read, in order.
    pub received: Vec<u8>,
    /// How many reads that took.
    pub reads: u32,
    /// From the first connect attempt to the receiver seeing the end of the stream.
    pub elapsed: Duration,
}

/// Connect to `listener`, write each message (TCP_NODELAY, `gap` between writes, so each
/// goes out as its own segment, as each UDP probe is its own datagram), close the sending
/// side and read everything on the other end. The whole transfer is bounded by `limit`.
pub async fn transfer(
    listener: &TcpListener,
    messages: &[Vec<u8>],
    gap: Duration,
    limit: Duration,
) -> io::Result<Transfer> {
    let addr = listener.local_addr()?;
    let start = Instant::now();
    let send = async {
        let mut s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        for (i, m) in messages.iter().enumerate() {
            if i > 0 && !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
            s.write_all(m).await?;
        }
        s.shutdown().await?;
        Ok::<TcpStream, io::Error>(s)
    };
    let receive = async {
        let (mut r, _) = listener.accept().await?;
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        let mut reads = 0u32;
        loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            reads += 1;
            received.extend_from_slice(&buf[..n]);
        }
        Ok::<(Vec<u8>, u32), io::Error>((received, reads))
    };
    let both = async { tokio::try_join!(send, receive) };
    let (_sender, (received, reads)) =
        tokio::time::timeout(limit, both).await.map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the TCP transfer did not finish within {limit:?}"),
            )
        })??;
    Ok(Transfer {
        received,
        reads,
        elapsed: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruleset_names_the_port_and_the_share() {
        let r = drop_ruleset(40_123, 20);
        assert!(r.contains("hook input"), "{r}");
        assert!(r.contains("tcp dport 40123 "), "{r}");
        assert!(r.contains("numgen random mod 100 < 20 counter drop"), "{r}");
        assert!(r.contains(&format!("table inet {NFT_TABLE}")), "{r}");
    }

    #[test]
    fn counters_from_nft_list() {
        // Captured with `nft list table inet netlab_tcp_loss` in a namespace after a run.
        let text = "table inet netlab_tcp_loss {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 40123 tcp flags ! syn counter packets 63 bytes 4920 numgen random mod 100 < 20 counter packets 13 bytes 1014 drop
	}
}
";
        assert_eq!(counter_packets(text), [63, 13]);
        assert!(counter_packets("table inet x { }").is_empty());
    }

    #[tokio::test]
    async fn a_transfer_without_loss_delivers_the_bytes() {
        let l = bind_receiver().await.unwrap();
        let msgs = vec![b"one ".to_vec(), b"two ".to_vec(), b"three".to_vec()];
        let t = transfer(&l, &msgs, Duration::ZERO, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(t.received, b"one two three");
        assert!(t.reads >= 1);
    }
}
