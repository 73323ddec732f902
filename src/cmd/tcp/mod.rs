//! `netlab tcp`: the TCP streams lab.
//!
//! - `listen` / `connect` ([`session`]): a netcat that narrates the connection's life.
//! - `demo` ([`demo`]): TCP is a byte stream, not messages; framing fixes that.
//! - `bench` ([`mod@bench`]): throughput on loopback.
//!
//! Each subcommand's arguments become a validated plan here (usage errors exit with 2);
//! the I/O is in `net::tcp`, the framing codecs in `wire::application::framing`.

pub mod bench;
pub mod demo;
pub mod session;

pub use demo::{byte_stream_demo, same_writes_over_tcp, DemoPlan, DemoReport};

use crate::cli::tcp::{SockOptArgs, TcpArgs, TcpCommand};
use crate::error::usage;
use crate::net::runtime::{runtime, Runtime};
use crate::net::tcp::{EffectiveOpts, SockOpts};
use crate::output::{Format, Output, Render};
use std::time::Duration;

/// Run `netlab tcp …`.
pub fn run(args: TcpArgs, out: &mut Output) -> anyhow::Result<()> {
    match args.command {
        TcpCommand::Listen(a) => {
            let plan = session::ListenPlan::try_from(&a)?;
            runtime(Runtime::CurrentThread)?.block_on(session::listen(plan, out))
        }
        TcpCommand::Connect(a) => {
            let plan = session::ConnectPlan::try_from(&a)?;
            runtime(Runtime::CurrentThread)?.block_on(session::connect(plan, out))
        }
        TcpCommand::Demo(a) => {
            let plan = DemoPlan::try_from(&a)?;
            let report = runtime(Runtime::CurrentThread)?.block_on(
                demo::byte_stream_demo_with_progress(&plan, &mut |line| {
                    let _ = out.progress(line);
                }),
            )?;
            out.report(&report)?;
            Ok(())
        }
        TcpCommand::Bench(a) => {
            let plan = bench::BenchPlan::try_from(&a)?;
            bench::run(plan, out)
        }
    }
}

/// Validate the socket options the user typed.
pub fn sock_opts(a: &SockOptArgs) -> anyhow::Result<SockOpts> {
    const MAX_BUF: u64 = 1 << 30;
    let buf = |name: &str, v: Option<u64>| -> anyhow::Result<Option<usize>> {
        match v {
            None => Ok(None),
            Some(n) if (1..=MAX_BUF).contains(&n) => Ok(Some(n as usize)),
            Some(n) => Err(usage(
                format!("--{name} {n} is out of range"),
                format!("give a size in bytes from 1 to 1073741824 (1 GiB), e.g. --{name} 65536"),
            )),
        }
    };
    let keepalive = match a.keepalive {
        None => None,
        // Linux caps TCP_KEEPIDLE at 32767 s (MAX_TCP_KEEPIDLE in include/net/tcp.h).
        Some(s) if (1..=32767).contains(&s) => Some(Duration::from_secs(s)),
        Some(s) => {
            return Err(usage(
                format!("--keepalive={s} is out of range"),
                "give the idle time before the first probe in seconds, 1 to 32767",
            ))
        }
    };
    let linger = match a.linger {
        None => None,
        // A non-zero linger makes close() block until the data is acknowledged, which
        // would stall netlab; keep it short.
        Some(s) if s <= 10 => Some(Duration::from_secs(s)),
        Some(s) => {
            return Err(usage(
                format!("--linger {s} is too long for netlab"),
                "use 0 (close sends RST) or up to 10 seconds",
            ))
        }
    };
    Ok(SockOpts {
        nodelay: a.nodelay,
        sndbuf: buf("sndbuf", a.sndbuf)?,
        rcvbuf: buf("rcvbuf", a.rcvbuf)?,
        keepalive,
        linger,
        reuseaddr: a.reuseaddr,
    })
}

/// Validate a number of seconds: finite, above zero, at most `max`.
pub fn seconds(flag: &str, v: f64, max: f64) -> anyhow::Result<Duration> {
    if v.is_finite() && v > 0.0 && v <= max {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(usage(
            format!("{flag} {v} is out of range"),
            format!("give a number of seconds above 0 and at most {max}"),
        ))
    }
}

/// The options a socket ended up with, in one line for people.
pub fn describe_opts(o: &EffectiveOpts) -> String {
    let asked = |a: Option<usize>| match a {
        Some(n) => format!(" (asked {n})"),
        None => String::new(),
    };
    format!(
        "TCP_NODELAY {}, SO_SNDBUF {} B{}, SO_RCVBUF {} B{}, SO_KEEPALIVE {}, SO_LINGER {}, SO_REUSEADDR {}",
        on_off(o.nodelay),
        o.sndbuf,
        asked(o.sndbuf_asked),
        o.rcvbuf,
        asked(o.rcvbuf_asked),
        if o.keepalive {
            format!("on (first probe after {} s idle)", o.keepalive_idle_s)
        } else {
            "off".to_owned()
        },
        match o.linger_s {
            None => "off".to_owned(),
            Some(0) => "0 s (close sends RST)".to_owned(),
            Some(s) => format!("{s} s"),
        },
        on_off(o.reuseaddr),
    )
}

/// A note when the kernel did not set the buffer size that was asked for.
pub fn buffer_notes(o: &EffectiveOpts) -> Vec<String> {
    let mut notes = Vec::new();
    for (name, asked, got) in [
        ("SO_SNDBUF", o.sndbuf_asked, o.sndbuf),
        ("SO_RCVBUF", o.rcvbuf_asked, o.rcvbuf),
    ] {
        let Some(asked) = asked else { continue };
        if got == asked * 2 {
            notes.push(format!(
                "{name}: asked {asked} B, the kernel set {got} B: Linux doubles the value to \
                 leave room for its own bookkeeping (socket(7))"
            ));
        } else if got != asked {
            notes.push(format!(
                "{name}: asked {asked} B, the kernel set {got} B: Linux doubles the value, \
                 then clamps it between a minimum and net.core.{}mem_max (doubled)",
                if name == "SO_SNDBUF" { "w" } else { "r" }
            ));
        }
    }
    notes
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// A byte count for people: exact below 10 KiB, then KiB/MiB/GiB with one decimal.
pub fn human_bytes(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if n < 10 * 1024 {
        format!("{n} B")
    } else if f < K * K {
        format!("{:.1} KiB", f / K)
    } else if f < K * K * K {
        format!("{:.1} MiB", f / (K * K))
    } else {
        format!("{:.2} GiB", f / (K * K * K))
    }
}

/// The final report of a netcat-like command: with people, narration (stderr, so
/// stdout keeps only the peer's bytes); with scripts, the report on stdout.
fn finish<R: Render>(out: &mut Output, report: &R) -> std::io::Result<()> {
    match out.format() {
        Format::Human => out.event(report),
        Format::Json | Format::Jsonl => out.report(report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(10239), "10239 B");
        assert_eq!(human_bytes(64 * 1024), "64.0 KiB");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
    }

    #[test]
    fn doubling_is_explained() {
        let o = EffectiveOpts {
            nodelay: false,
            sndbuf_asked: None,
            sndbuf: 16384,
            rcvbuf_asked: Some(4096),
            rcvbuf: 8192,
            keepalive: false,
            keepalive_idle_s: 7200,
            linger_s: Some(0),
            reuseaddr: false,
        };
        let notes = buffer_notes(&o);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("doubles"), "{notes:?}");
        assert!(describe_opts(&o).contains("SO_RCVBUF 8192 B (asked 4096)"));
        assert!(describe_opts(&o).contains("close sends RST"));
    }

    #[test]
    fn option_ranges() {
        let mut a = SockOptArgs {
            nodelay: false,
            sndbuf: Some(0),
            rcvbuf: None,
            keepalive: None,
            linger: None,
            reuseaddr: false,
        };
        // The hint names the option that was wrong (it once said --rcvbuf for --sndbuf).
        let hint = |a: &SockOptArgs| {
            let e = sock_opts(a).unwrap_err();
            let h = e.downcast_ref::<crate::error::Hinted>().unwrap();
            h.hint.clone().unwrap_or_default()
        };
        assert!(hint(&a).contains("--sndbuf 65536"), "{}", hint(&a));
        a.sndbuf = None;
        a.rcvbuf = Some(1 << 31);
        assert!(hint(&a).contains("--rcvbuf 65536"), "{}", hint(&a));
        a.rcvbuf = None;
        a.sndbuf = Some(4096);
        a.linger = Some(0);
        let o = sock_opts(&a).unwrap();
        assert_eq!((o.sndbuf, o.linger), (Some(4096), Some(Duration::ZERO)));
        a.linger = Some(60);
        assert!(sock_opts(&a).is_err());
        assert!(seconds("--timeout", f64::NAN, 10.0).is_err());
        assert!(seconds("--timeout", 0.0, 10.0).is_err());
        assert_eq!(
            seconds("--timeout", 1.5, 10.0).unwrap(),
            Duration::from_millis(1500)
        );
    }
}
