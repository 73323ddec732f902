//! Network namespaces: run a command in a fresh one, and read a namespace's own counters.
//!
//! A new network namespace has its own interfaces, routes, firewall (nftables) and
//! protocol counters (`/proc/net/snmp`, `/proc/net/netstat`), and starts with a single
//! interface, `lo`, which is down. Experiments that impair traffic on purpose run in one,
//! so the machine's own loopback is never touched: when the command exits, the namespace
//! and everything in it disappear.
//!
//! netlab uses the `unshare` command (util-linux) rather than the `unshare(2)` system call
//! because the crate forbids `unsafe` code. As root it asks for a network namespace alone
//! (`unshare --net`); otherwise it asks for a user namespace too (`unshare --user
//! --map-root-user --net`), which many kernels allow to ordinary users and which grants
//! CAP_NET_ADMIN over the new network namespace only. Inside, `ip link set lo up` brings
//! loopback up before the command starts.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How a command in a new network namespace ended.
#[derive(Debug)]
pub struct NetnsRun {
    /// The namespace was made inside a new user namespace (not root).
    pub user_namespace: bool,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Why a command could not be run in a new network namespace.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("the `unshare` command (util-linux) is not installed")]
    UnshareMissing,
    #[error("could not start `unshare`: {0}")]
    Spawn(#[source] io::Error),
    #[error("still running after {0:?}; stopped it")]
    TimedOut(Duration),
}

/// Is this process's effective user id 0? (Read from `/proc/self/status`: no `unsafe`.)
pub fn effective_uid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// The `unshare` arguments that make a network namespace (with a user namespace when not
/// root), then bring `lo` up and `exec` the program with its arguments.
pub fn unshare_args(as_root: bool, program: &Path, args: &[String]) -> Vec<String> {
    let mut v: Vec<String> = if as_root {
        vec!["--net".into()]
    } else {
        vec!["--user".into(), "--map-root-user".into(), "--net".into()]
    };
    v.extend([
        "--".into(),
        "sh".into(),
        "-c".into(),
        // "$0" is the program, "$@" its arguments: no quoting problems with paths.
        r#"ip link set lo up && exec "$0" "$@""#.into(),
        program.to_string_lossy().into_owned(),
    ]);
    v.extend(args.iter().cloned());
    v
}

/// Run `program args` in a new network namespace with `lo` up; kill it after `limit`.
/// Stdout and stderr are captured. A non-zero exit is returned, not turned into an error:
/// the caller knows what the program's failures mean.
pub fn run_in_new_netns(
    program: &Path,
    args: &[String],
    limit: Duration,
) -> Result<NetnsRun, NetnsError> {
    let as_root = effective_uid_is_root();
    let mut child = Command::new("unshare")
        .args(unshare_args(as_root, program, args))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(unshare_error)?;
    let readers = [
        child.stdout.take().map(|s| spawn_reader(Box::new(s))),
        child.stderr.take().map(|s| spawn_reader(Box::new(s))),
    ];
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(NetnsError::Spawn(e)),
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(NetnsError::TimedOut(limit));
        }
        // Polling a child process: there is no portable, safe "wait with timeout".
        std::thread::sleep(Duration::from_millis(5));
    };
    let [out, err] = readers.map(|r| r.and_then(|h| h.join().ok()).unwrap_or_default());
    Ok(NetnsRun {
        user_namespace: !as_root,
        status,
        stdout: out,
        stderr: err,
    })
}

/// Run `program args` in a new network namespace with `lo` up, attached to this process's
/// standard input, output and error: what it prints reaches the user as it happens, and
/// so does Ctrl-C (the terminal sends SIGINT to the whole foreground process group).
/// No time limit: it runs until it exits. As [`run_in_new_netns`], a non-zero exit is
/// returned, not turned into an error.
pub fn run_attached_in_new_netns(
    program: &Path,
    args: &[String],
) -> Result<ExitStatus, NetnsError> {
    Command::new("unshare")
        .args(unshare_args(effective_uid_is_root(), program, args))
        .status()
        .map_err(unshare_error)
}

fn unshare_error(e: io::Error) -> NetnsError {
    match e.kind() {
        io::ErrorKind::NotFound => NetnsError::UnshareMissing,
        _ => NetnsError::Spawn(e),
    }
}

fn spawn_reader(mut r: Box<dyn Read + Send>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// The interface names in `/proc/net/dev` text (one per line after the two header lines).
pub fn interfaces(proc_net_dev: &str) -> Vec<String> {
    proc_net_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim().to_owned()))
        .collect()
}

/// True when this process's network namespace has no interface but `lo`: the sign of a
/// namespace made for the purpose, where impairing traffic harms nothing else.
pub fn only_loopback() -> io::Result<bool> {
    let dev = std::fs::read_to_string("/proc/self/net/dev")?;
    Ok(interfaces(&dev).iter().all(|n| n == "lo"))
}

/// Parse the two-line tables of `/proc/net/snmp` and `/proc/net/netstat`: a line
/// `Prefix: Name1 Name2 ...` followed by `Prefix: value1 value2 ...`. Returns the named
/// values of the table whose prefix is `table` (`"Tcp"`, `"TcpExt"`, `"Udp"`, ...).
/// Values are signed in the kernel's text (`MaxConn` is -1), so they are kept as i64.
pub fn counter_table(text: &str, table: &str) -> BTreeMap<String, i64> {
    let prefix = format!("{table}:");
    let mut lines = text
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(prefix.as_str()));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return BTreeMap::new();
    };
    names
        .split_whitespace()
        .skip(1)
        .zip(values.split_whitespace().skip(1))
        .filter_map(|(n, v)| v.parse().ok().map(|v| (n.to_owned(), v)))
        .collect()
}

/// TCP counters of the current network namespace (all its sockets together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TcpCounters {
    /// `Tcp: OutSegs`: segments sent, retransmissions excluded.
    pub out_segs: u64,
    /// `Tcp: RetransSegs`: segments retransmitted.
    pub retrans_segs: u64,
    /// `TcpExt: TCPFastRetrans`: retransmissions sent by fast retransmit/recovery
    /// (triggered by duplicate or selective acknowledgements, before any timer expired).
    pub fast_retrans: u64,
    /// `TcpExt: TCPTimeouts`: retransmission timer expirations (RTO).
    pub timeouts: u64,
    /// `TcpExt: TCPLossProbes`: tail loss probes sent (RFC 8985's PTO).
    pub loss_probes: u64,
}

impl TcpCounters {
    /// Pick the counters out of `/proc/net/snmp` and `/proc/net/netstat` text.
    pub fn parse(snmp: &str, netstat: &str) -> TcpCounters {
        let tcp = counter_table(snmp, "Tcp");
        let ext = counter_table(netstat, "TcpExt");
        let get = |m: &BTreeMap<String, i64>, k: &str| m.get(k).map_or(0, |v| (*v).max(0) as u64);
        TcpCounters {
            out_segs: get(&tcp, "OutSegs"),
            retrans_segs: get(&tcp, "RetransSegs"),
            fast_retrans: get(&ext, "TCPFastRetrans"),
            timeouts: get(&ext, "TCPTimeouts"),
            loss_probes: get(&ext, "TCPLossProbes"),
        }
    }

    /// Read this network namespace's counters now.
    pub fn read() -> io::Result<TcpCounters> {
        let snmp = std::fs::read_to_string("/proc/self/net/snmp")?;
        let netstat = std::fs::read_to_string("/proc/self/net/netstat").unwrap_or_default();
        Ok(TcpCounters::parse(&snmp, &netstat))
    }

    /// What changed between `before` and `self` (counters only grow).
    pub fn since(&self, before: &TcpCounters) -> TcpCounters {
        TcpCounters {
            out_segs: self.out_segs.saturating_sub(before.out_segs),
            retrans_segs: self.retrans_segs.saturating_sub(before.retrans_segs),
            fast_retrans: self.fast_retrans.saturating_sub(before.fast_retrans),
            timeouts: self.timeouts.saturating_sub(before.timeouts),
            loss_probes: self.loss_probes.saturating_sub(before.loss_probes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from this machine's kernel (Debian 12, `cat /proc/net/snmp`), Tcp lines
    /// with the Udp lines around them.
    const SNMP: &str = "\
Icmp: InMsgs InErrors InCsumErrors InDestUnreachs
Icmp: 1322 0 0 1322
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 40888 40731 88 2006 0 48505470 48494284 8091 0 1887 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 3151283 1322 283513 3435048 283513 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
";

    #[test]
    fn snmp_tables_by_name() {
        let tcp = counter_table(SNMP, "Tcp");
        assert_eq!(tcp["RetransSegs"], 8091);
        assert_eq!(tcp["OutSegs"], 48_494_284);
        assert_eq!(tcp["MaxConn"], -1);
        assert_eq!(tcp["RtoMin"], 200);
        // "Udp:" must not pick up "UdpLite:".
        assert_eq!(counter_table(SNMP, "Udp")["RcvbufErrors"], 283_513);
        assert_eq!(counter_table(SNMP, "UdpLite")["RcvbufErrors"], 0);
        assert!(counter_table(SNMP, "Ip").is_empty());
        assert!(
            counter_table("Tcp: A B\n", "Tcp").is_empty(),
            "no value line"
        );
    }

    #[test]
    fn tcp_counters_and_their_difference() {
        let netstat = "TcpExt: SyncookiesSent TCPTimeouts TCPLossProbes TCPFastRetrans\n\
                       TcpExt: 339 5184 2171 1709\n\
                       IpExt: InNoRoutes\nIpExt: 0\n";
        let now = TcpCounters::parse(SNMP, netstat);
        assert_eq!(
            now,
            TcpCounters {
                out_segs: 48_494_284,
                retrans_segs: 8091,
                fast_retrans: 1709,
                timeouts: 5184,
                loss_probes: 2171,
            }
        );
        let before = TcpCounters {
            retrans_segs: 8000,
            ..now
        };
        assert_eq!(now.since(&before).retrans_segs, 91);
        assert_eq!(now.since(&before).out_segs, 0);
        // Missing netstat (an old kernel): the TcpExt counters read 0, Tcp's still count.
        assert_eq!(TcpCounters::parse(SNMP, "").retrans_segs, 8091);
    }

    #[test]
    fn interfaces_from_proc_net_dev() {
        // Captured inside `unshare --net` (lo only), then with a host's eth0 added.
        let fresh = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
";
        assert_eq!(interfaces(fresh), ["lo"]);
        let host = format!("{fresh}  eth0: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n");
        assert_eq!(interfaces(&host), ["lo", "eth0"]);
    }

    #[test]
    fn unshare_arguments() {
        let args = unshare_args(true, Path::new("/bin/x y"), &["a".into(), "b c".into()]);
        assert_eq!(args[0], "--net");
        assert_eq!(args[1], "--");
        assert_eq!(&args[5..], ["/bin/x y", "a", "b c"]);
        let args = unshare_args(false, Path::new("/bin/x"), &[]);
        assert_eq!(&args[..3], ["--user", "--map-root-user", "--net"]);
    }
}
