//! `netlab udp ...`: the UDP datagrams lab.
//!
//! | subcommand | what a student sees | file |
//! |---|---|---|
//! | `listen` | every datagram with its source and length; per-sender loss/dup/reorder/late/jitter | `listen.rs` |
//! | `send` | datagrams leaving, replies (or the silence) coming back | `send.rs` |
//! | `demo` | boundaries kept, truncation, the size limit, refused, loss through a relay | `demo.rs` |
//! | `relay` | seeded, deterministic loss, duplication, reordering, delay and jitter | `relay.rs` |
//! | `bench` | datagrams per second over loopback and the exact loss under load | `bench.rs` |
//! | (hidden) `tcp-under-loss` | the demo's TCP half, run in a fresh network namespace | `tcp_loss.rs` |
//!
//! The probe header, the jitter estimator, the reception counters and the impairment
//! generator are pure code in `wire/` (`probe`, `jitter`, `reception`, `impair`); the
//! sockets are in `net::udp`.

pub mod bench;
pub mod demo;
pub mod listen;
pub mod relay;
pub mod send;
pub mod tcp_loss;

use crate::cli::udp::{UdpArgs, UdpCommand};
use crate::error::usage;
use crate::net::runtime::{runtime, Runtime};
use crate::output::Output;
use crate::wire::text;
use std::time::Duration;

/// Dispatch `netlab udp <subcommand>`.
pub fn run(args: UdpArgs, out: &mut Output) -> anyhow::Result<()> {
    match args.command {
        UdpCommand::Listen(a) => {
            let plan = listen::Plan::try_from(&a)?;
            runtime(Runtime::CurrentThread)?.block_on(listen::run(plan, out))
        }
        UdpCommand::Send(a) => {
            let plan = send::Plan::try_from(&a)?;
            runtime(Runtime::CurrentThread)?.block_on(send::run(plan, out))
        }
        UdpCommand::Relay(a) => {
            let plan = relay::Plan::try_from(&a)?;
            runtime(Runtime::CurrentThread)?.block_on(relay::run(plan, out))
        }
        UdpCommand::Demo(a) => {
            let plan = demo::Plan::try_from(&a)?;
            demo::run(plan, out)
        }
        UdpCommand::Bench(a) => {
            let plan = bench::Plan::try_from(&a)?;
            bench::run(plan, out)
        }
        UdpCommand::TcpUnderLoss(a) => {
            let plan = tcp_loss::Plan::try_from(&a)?;
            tcp_loss::run_here(&plan, out)
        }
    }
}

/// `--seconds` as a duration: positive, finite, at most a day.
pub(crate) fn seconds_arg(flag: &str, s: f64) -> anyhow::Result<Duration> {
    if !(s.is_finite() && s > 0.0 && s <= 86_400.0) {
        return Err(usage(
            format!("{flag} {s} is not a duration netlab can use"),
            format!("give {flag} a number of seconds above 0 and at most 86400, e.g. {flag} 5"),
        ));
    }
    Ok(Duration::from_secs_f64(s))
}

/// A millisecond option as microseconds: finite, 0 to 60 000.
pub(crate) fn millis_arg(flag: &str, ms: f64) -> anyhow::Result<u64> {
    if !(ms.is_finite() && (0.0..=60_000.0).contains(&ms)) {
        return Err(usage(
            format!("{flag} {ms} is out of range"),
            format!("give {flag} a number of milliseconds from 0 to 60000"),
        ));
    }
    Ok((ms * 1000.0).round() as u64)
}

/// A percentage option as a fraction: 0 to 100.
pub(crate) fn percent_arg(flag: &str, p: f64) -> anyhow::Result<f64> {
    if !(p.is_finite() && (0.0..=100.0).contains(&p)) {
        return Err(usage(
            format!("{flag} {p} is not a percentage"),
            format!("{flag} takes a percentage from 0 to 100, e.g. {flag} 5 for 5%"),
        ));
    }
    Ok(p / 100.0)
}

/// The first bytes of a payload, as netlab's escaper shows them: JSON has the escaped
/// text with an ellipsis that counts the bytes left out (`hi\n… (3 more bytes)`), people
/// see it in quotes (`"hi\n"… (3 more bytes)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    head: Vec<u8>,
    len: usize,
}

impl Preview {
    /// At most `max` bytes of `bytes`.
    pub fn of(bytes: &[u8], max: usize) -> Preview {
        Preview {
            head: bytes[..bytes.len().min(max)].to_vec(),
            len: bytes.len(),
        }
    }

    pub fn quoted(&self) -> String {
        let mut s = String::new();
        text::push_preview(&mut s, &self.head, self.len as u64, true);
        s
    }
}

impl std::fmt::Display for Preview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        text::push_preview(&mut s, &self.head, self.len as u64, false);
        f.write_str(&s)
    }
}

impl serde::Serialize for Preview {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A stream id for this run: different per run so a listener tells runs apart. Not a
/// secret, only a label; the clock and the process id are enough.
pub(crate) fn new_stream_id() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut rng =
        crate::wire::measure::impair::SplitMix64::new(nanos ^ u64::from(std::process::id()));
    rng.next_u64() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_ranges() {
        assert!(percent_arg("--loss", 100.0).is_ok());
        assert_eq!(percent_arg("--loss", 5.0).unwrap(), 0.05);
        for bad in [-1.0, 100.5, f64::NAN, f64::INFINITY] {
            let e = percent_arg("--loss", bad).unwrap_err();
            let r = crate::output::describe_fatal(&e).unwrap();
            assert_eq!(r.exit_code, 2, "{bad}");
        }
        assert!(seconds_arg("--seconds", 0.0).is_err());
        assert_eq!(millis_arg("--delay", 1.5).unwrap(), 1500);
        assert!(millis_arg("--delay", -1.0).is_err());
    }

    #[test]
    fn a_preview_is_escaped_text_in_json_and_quoted_for_people() {
        let p = Preview::of(b"hi\n\x1b[2Jmore", 6);
        assert_eq!(p.to_string(), "hi\\n\\x1b[2… (5 more bytes)");
        assert_eq!(p.quoted(), "\"hi\\n\\x1b[2\"… (5 more bytes)");
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            "hi\\n\\x1b[2… (5 more bytes)"
        );
        assert_eq!(Preview::of(b"ok", 60).quoted(), "\"ok\"");
    }
}
