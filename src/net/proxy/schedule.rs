//! The proxy's fault script and, per connection, its schedule: pure code, with time as an
//! input (a `Duration` since the connection was accepted) and randomness from a seed.
//!
//! ```text
//!   client ──► [ read ] ──► held while black-holed ──► due = max(now + delay, link free)
//!                                                        + len / rate ──► [ write ] ──► server
//!   cut: after N bytes forwarded (both ways together), or at a time; with FIN or RST
//! ```
//!
//! A script may give a range instead of a value (`--cut-after 2KB..8KB`, `--blackhole-at
//! 1s..3s`): each connection draws its own value from the seed and its number, so the same
//! seed cuts the same connections at the same places on every run.

use crate::wire::measure::impair::SplitMix64;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// A value that is fixed or drawn, per connection, from a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick<T> {
    Fixed(T),
    /// Inclusive bounds, `low <= high`.
    Between(T, T),
}

/// When a connection is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutAt {
    /// After this many bytes have been forwarded, both ways together.
    Bytes(Pick<u64>),
    /// At this time after the connection was accepted.
    Time(Pick<Duration>),
}

/// How a connection is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CutWith {
    /// `shutdown(SHUT_WR)` on both sockets: each peer reads what was forwarded, then EOF.
    Fin,
    /// `SO_LINGER` 0 then `close`: a RST; the peers' next read fails with ECONNRESET.
    Rst,
}

impl CutWith {
    pub fn as_str(self) -> &'static str {
        match self {
            CutWith::Fin => "FIN",
            CutWith::Rst => "RST",
        }
    }
}

/// What happens to the bytes held by a black hole when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Then {
    /// Delivered, in order, as if the network had only been slow.
    Release,
    /// Thrown away, and the connection cut (with RST): a partition that lost the bytes.
    Drop,
}

/// A black hole: from `at` for `lasting`, nothing is written either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blackhole {
    pub at: Pick<Duration>,
    pub lasting: Pick<Duration>,
    pub then: Then,
}

/// Everything the proxy does to each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultScript {
    pub cut: Option<CutAt>,
    pub cut_with: CutWith,
    pub blackhole: Option<Blackhole>,
    /// Added to every chunk, each way.
    pub delay: Duration,
    /// Bytes per second, each way; `None` is as fast as the sockets go.
    pub throttle: Option<u64>,
}

impl Default for FaultScript {
    fn default() -> FaultScript {
        FaultScript {
            cut: None,
            cut_with: CutWith::Fin,
            blackhole: None,
            delay: Duration::ZERO,
            throttle: None,
        }
    }
}

/// Which way bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

impl Dir {
    fn index(self) -> usize {
        match self {
            Dir::Up => 0,
            Dir::Down => 1,
        }
    }
}

/// A fault whose time has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Cut(CutWith),
    BlackholeStarts,
    BlackholeEnds(Then),
}

/// The values this connection drew from its script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Drawn {
    pub cut_after_bytes: Option<u64>,
    pub cut_at_ms: Option<u64>,
    pub blackhole_at_ms: Option<u64>,
    pub blackhole_ms: Option<u64>,
}

/// One connection's schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    script: FaultScript,
    cut_bytes: Option<u64>,
    cut_time: Option<Duration>,
    /// Start and end of the black hole.
    hole: Option<(Duration, Duration)>,
    hole_started: bool,
    hole_ended: bool,
    cut_done: bool,
    forwarded: u64,
    /// When each direction's throttled link is free again.
    link_free: [Duration; 2],
}

impl Schedule {
    /// Connection number `conn` (from 1) under `script`, its ranges drawn from `seed`.
    pub fn new(script: FaultScript, seed: u64, conn: u64) -> Schedule {
        // One generator per connection: connection n's draws do not depend on how many
        // draws the others made.
        let mut rng = SplitMix64::new(seed ^ conn.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let (cut_bytes, cut_time) = match script.cut {
            Some(CutAt::Bytes(p)) => (Some(draw_u64(p, &mut rng)), None),
            Some(CutAt::Time(p)) => (None, Some(draw_duration(p, &mut rng))),
            None => (None, None),
        };
        let hole = script.blackhole.map(|b| {
            let at = draw_duration(b.at, &mut rng);
            (at, at + draw_duration(b.lasting, &mut rng))
        });
        Schedule {
            script,
            cut_bytes,
            cut_time,
            hole,
            hole_started: false,
            hole_ended: false,
            cut_done: false,
            forwarded: 0,
            link_free: [Duration::ZERO; 2],
        }
    }

    pub fn drawn(&self) -> Drawn {
        let ms = |d: Duration| d.as_millis() as u64;
        Drawn {
            cut_after_bytes: self.cut_bytes,
            cut_at_ms: self.cut_time.map(ms),
            blackhole_at_ms: self.hole.map(|h| ms(h.0)),
            blackhole_ms: self.hole.map(|h| ms(h.1 - h.0)),
        }
    }

    pub fn cut_with(&self) -> CutWith {
        self.script.cut_with
    }

    /// How many bytes to ask a read for: a throttled link reads at most a twentieth of a
    /// second's worth, so its bytes leave smoothly rather than in bursts.
    pub fn read_size(&self, max: usize) -> usize {
        match self.script.throttle {
            Some(rate) => (rate / 20).clamp(1, max as u64) as usize,
            None => max,
        }
    }

    /// When a chunk of `len` bytes read at `now` may be written: after the delay, after
    /// the chunk before it has gone, and after the time `len` bytes take at the rate.
    pub fn due(&mut self, dir: Dir, now: Duration, len: usize) -> Duration {
        let i = dir.index();
        let mut at = now + self.script.delay;
        if let Some(rate) = self.script.throttle {
            let start = at.max(self.link_free[i]);
            let takes = Duration::from_secs_f64(len as f64 / rate.max(1) as f64);
            at = start + takes;
            self.link_free[i] = at;
        }
        at
    }

    /// Of `len` bytes about to be written, how many may go before the byte cut.
    pub fn allow(&self, len: usize) -> usize {
        match self.cut_bytes {
            Some(n) if !self.cut_done => {
                (n.saturating_sub(self.forwarded)).min(len as u64) as usize
            }
            _ => len,
        }
    }

    /// `n` bytes were written; `Some` when that reached the byte cut.
    pub fn wrote(&mut self, n: usize) -> Option<Fault> {
        self.forwarded += n as u64;
        match self.cut_bytes {
            Some(limit) if !self.cut_done && self.forwarded >= limit => {
                self.cut_done = true;
                Some(Fault::Cut(self.script.cut_with))
            }
            _ => None,
        }
    }

    /// Is the black hole swallowing bytes at `now`?
    pub fn holding(&self, now: Duration) -> bool {
        self.hole.is_some_and(|(a, b)| now >= a && now < b)
    }

    /// A cut of zero bytes happens before anything is forwarded.
    pub fn cut_at_once(&mut self) -> Option<Fault> {
        if self.cut_bytes == Some(0) && !self.cut_done {
            self.cut_done = true;
            return Some(Fault::Cut(self.script.cut_with));
        }
        None
    }

    /// The next time a fault is due, if any.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let cut = self.cut_time.filter(|_| !self.cut_done);
        let hole = match self.hole {
            Some((a, _)) if !self.hole_started => Some(a),
            Some((_, b)) if !self.hole_ended => Some(b),
            _ => None,
        };
        [cut, hole].into_iter().flatten().min()
    }

    /// The fault due at `now`, if any (call again until `None`).
    pub fn handle_timeout(&mut self, now: Duration) -> Option<Fault> {
        if let Some(t) = self.cut_time {
            if !self.cut_done && now >= t {
                self.cut_done = true;
                return Some(Fault::Cut(self.script.cut_with));
            }
        }
        let (a, b) = self.hole?;
        let then = self.script.blackhole.map_or(Then::Release, |h| h.then);
        if !self.hole_started && now >= a {
            self.hole_started = true;
            return Some(Fault::BlackholeStarts);
        }
        if self.hole_started && !self.hole_ended && now >= b {
            self.hole_ended = true;
            return Some(Fault::BlackholeEnds(then));
        }
        None
    }
}

fn draw_u64(p: Pick<u64>, rng: &mut SplitMix64) -> u64 {
    match p {
        Pick::Fixed(v) => v,
        Pick::Between(lo, hi) => lo + rng.next_u64() % (hi - lo + 1),
    }
}

fn draw_duration(p: Pick<Duration>, rng: &mut SplitMix64) -> Duration {
    match p {
        Pick::Fixed(v) => v,
        Pick::Between(lo, hi) => {
            let span = (hi - lo).as_micros() as u64;
            lo + Duration::from_micros(rng.next_u64() % (span + 1))
        }
    }
}

/// A duration, a size or a rate the command line gave that netlab cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("'{0}' is not a duration: give a number and a unit, e.g. 500ms, 2s, 1.5s, 1m")]
    Duration(String),
    #[error("'{0}' is not a size: give a number of bytes, e.g. 100B, 10KB, 1.5MB (KB is 1000 bytes, KiB 1024)")]
    Size(String),
    #[error("'{0}' is not a rate: give bytes per second, e.g. 10KB/s, 1MB/s")]
    Rate(String),
    #[error("'{0}' is neither a duration (2s, 500ms) nor a size (10KB)")]
    CutAfter(String),
    #[error("in the range '{0}', the first value is larger than the second")]
    Backwards(String),
    #[error("'{0}' is larger than netlab takes (a day, or 1 TB)")]
    TooLarge(String),
}

/// The longest duration and the largest size a script may name.
const MAX_SECONDS: f64 = 86_400.0;
const MAX_BYTES: f64 = 1e12;

/// Split a number from its unit: `1.5s` → (1.5, "s").
fn number_unit(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let value: f64 = s[..end].parse().ok()?;
    value.is_finite().then_some((value, s[end..].trim()))
}

/// `500ms`, `2s`, `1.5s`, `1m`, `250us`.
pub fn parse_duration(s: &str) -> Result<Duration, ParseError> {
    let bad = || ParseError::Duration(s.to_owned());
    let (v, unit) = number_unit(s).ok_or_else(bad)?;
    let seconds = match unit.to_ascii_lowercase().as_str() {
        "us" | "µs" => v / 1e6,
        "ms" => v / 1e3,
        "s" => v,
        "m" | "min" => v * 60.0,
        _ => return Err(bad()),
    };
    if seconds > MAX_SECONDS {
        return Err(ParseError::TooLarge(s.to_owned()));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `100B`, `100`, `10KB`, `10KiB`, `1.5MB`.
pub fn parse_size(s: &str) -> Result<u64, ParseError> {
    let bad = || ParseError::Size(s.to_owned());
    let (v, unit) = number_unit(s).ok_or_else(bad)?;
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "kib" => 1024.0,
        "mb" | "m" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "gb" | "g" => 1e9,
        _ => return Err(bad()),
    };
    let bytes = v * factor;
    if bytes > MAX_BYTES {
        return Err(ParseError::TooLarge(s.to_owned()));
    }
    Ok(bytes.round() as u64)
}

/// `10KB/s`: bytes per second, above zero.
pub fn parse_rate(s: &str) -> Result<u64, ParseError> {
    let bad = || ParseError::Rate(s.to_owned());
    let size = s.trim().strip_suffix("/s").ok_or_else(bad)?;
    match parse_size(size) {
        Ok(0) | Err(ParseError::Size(_)) => Err(bad()),
        other => other,
    }
}

/// A value or a range `LOW..HIGH` of values.
pub fn parse_pick<T: PartialOrd + Copy>(
    s: &str,
    one: impl Fn(&str) -> Result<T, ParseError>,
) -> Result<Pick<T>, ParseError> {
    match s.split_once("..") {
        None => Ok(Pick::Fixed(one(s)?)),
        Some((lo, hi)) => {
            let (lo, hi) = (one(lo)?, one(hi)?);
            if lo > hi {
                return Err(ParseError::Backwards(s.to_owned()));
            }
            Ok(Pick::Between(lo, hi))
        }
    }
}

/// `--cut-after`: a duration (`2s`) or a size (`10KB`), or a range of either.
pub fn parse_cut_after(s: &str) -> Result<CutAt, ParseError> {
    if let Ok(p) = parse_pick(s, parse_duration) {
        return Ok(CutAt::Time(p));
    }
    match parse_pick(s, parse_size) {
        Ok(p) => Ok(CutAt::Bytes(p)),
        Err(e @ (ParseError::Backwards(_) | ParseError::TooLarge(_))) => Err(e),
        Err(_) => Err(ParseError::CutAfter(s.to_owned())),
    }
}

impl fmt::Display for Pick<Duration> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pick::Fixed(d) => write!(f, "{} ms", d.as_millis()),
            Pick::Between(a, b) => write!(f, "{}..{} ms", a.as_millis(), b.as_millis()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn durations_sizes_and_rates() {
        assert_eq!(parse_duration("2s"), Ok(MS(2000)));
        assert_eq!(parse_duration("1.5s"), Ok(MS(1500)));
        assert_eq!(parse_duration("50ms"), Ok(MS(50)));
        assert_eq!(parse_duration("1m"), Ok(MS(60_000)));
        assert_eq!(parse_size("10KB"), Ok(10_000));
        assert_eq!(parse_size("10KiB"), Ok(10_240));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_rate("10KB/s"), Ok(10_000));
        for bad in ["", "2", "s", "2 parsecs", "-1s", "NaNs", "1e3s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        for bad in ["KB", "10XB", "-5"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert!(parse_rate("10KB").is_err());
        assert!(parse_rate("0KB/s").is_err());
        assert!(matches!(
            parse_duration("999999s"),
            Err(ParseError::TooLarge(_))
        ));
    }

    #[test]
    fn cut_after_is_a_time_or_a_size() {
        assert_eq!(
            parse_cut_after("2s"),
            Ok(CutAt::Time(Pick::Fixed(MS(2000))))
        );
        assert_eq!(
            parse_cut_after("10KB"),
            Ok(CutAt::Bytes(Pick::Fixed(10_000)))
        );
        assert_eq!(
            parse_cut_after("1KB..2KB"),
            Ok(CutAt::Bytes(Pick::Between(1000, 2000)))
        );
        assert!(matches!(
            parse_cut_after("2KB..1KB"),
            Err(ParseError::Backwards(_))
        ));
        assert!(matches!(
            parse_cut_after("soon"),
            Err(ParseError::CutAfter(_))
        ));
    }

    fn script(cut: Option<CutAt>) -> FaultScript {
        FaultScript {
            cut,
            ..FaultScript::default()
        }
    }

    #[test]
    fn a_byte_cut_lets_exactly_n_bytes_through() {
        let mut s = Schedule::new(script(Some(CutAt::Bytes(Pick::Fixed(10)))), 1, 1);
        assert_eq!(s.allow(4), 4);
        assert_eq!(s.wrote(4), None);
        assert_eq!(s.allow(100), 6, "the chunk that crosses the limit is split");
        assert_eq!(s.wrote(6), Some(Fault::Cut(CutWith::Fin)));
        assert_eq!(s.wrote(0), None, "a cut happens once");
        let mut zero = Schedule::new(script(Some(CutAt::Bytes(Pick::Fixed(0)))), 1, 1);
        assert_eq!(zero.cut_at_once(), Some(Fault::Cut(CutWith::Fin)));
    }

    #[test]
    fn a_timed_cut_and_a_black_hole_come_in_time_order() {
        let mut sc = script(Some(CutAt::Time(Pick::Fixed(MS(500)))));
        sc.cut_with = CutWith::Rst;
        sc.blackhole = Some(Blackhole {
            at: Pick::Fixed(MS(100)),
            lasting: Pick::Fixed(MS(200)),
            then: Then::Drop,
        });
        let mut s = Schedule::new(sc, 7, 1);
        assert_eq!(s.poll_timeout(), Some(MS(100)));
        assert_eq!(s.handle_timeout(MS(50)), None);
        assert!(!s.holding(MS(50)));
        assert_eq!(s.handle_timeout(MS(100)), Some(Fault::BlackholeStarts));
        assert!(s.holding(MS(150)));
        assert_eq!(s.poll_timeout(), Some(MS(300)));
        assert_eq!(
            s.handle_timeout(MS(300)),
            Some(Fault::BlackholeEnds(Then::Drop))
        );
        assert!(!s.holding(MS(300)));
        assert_eq!(s.poll_timeout(), Some(MS(500)));
        assert_eq!(s.handle_timeout(MS(600)), Some(Fault::Cut(CutWith::Rst)));
        assert_eq!(s.poll_timeout(), None);
        assert_eq!(s.handle_timeout(MS(700)), None);
    }

    #[test]
    fn delay_and_throttle_set_each_chunks_time() {
        let mut sc = script(None);
        sc.delay = MS(50);
        let mut s = Schedule::new(sc, 1, 1);
        assert_eq!(s.due(Dir::Up, MS(10), 1000), MS(60));
        sc.delay = Duration::ZERO;
        sc.throttle = Some(10_000);
        let mut s = Schedule::new(sc, 1, 1);
        assert_eq!(s.read_size(16_384), 500);
        // 1000 bytes at 10 KB/s take 100 ms; the next chunk waits for the link.
        assert_eq!(s.due(Dir::Up, MS(0), 1000), MS(100));
        assert_eq!(s.due(Dir::Up, MS(0), 500), MS(150));
        assert_eq!(
            s.due(Dir::Down, MS(0), 500),
            MS(50),
            "each way has its own link"
        );
        assert_eq!(
            s.due(Dir::Up, MS(1000), 500),
            MS(1050),
            "an idle link starts now"
        );
    }

    #[test]
    fn ranges_are_drawn_per_connection_and_repeat_with_the_seed() {
        let sc = script(Some(CutAt::Bytes(Pick::Between(1000, 9000))));
        let draws = |seed| {
            (1..=20)
                .map(|c| Schedule::new(sc, seed, c).drawn().cut_after_bytes.unwrap())
                .collect::<Vec<_>>()
        };
        let a = draws(42);
        assert_eq!(a, draws(42));
        assert_ne!(a, draws(43));
        assert!(a.iter().all(|b| (1000..=9000).contains(b)));
        assert!(
            a.windows(2).any(|w| w[0] != w[1]),
            "connections differ: {a:?}"
        );
    }
}
