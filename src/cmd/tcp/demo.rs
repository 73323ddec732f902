//! `netlab tcp demo`: TCP is a byte stream, not messages.
//!
//! A client and a server run in this process on 127.0.0.1, one fresh connection per
//! case. Every `write()` the client makes and every `read()` the server makes is
//! recorded with its time and size, so the report shows what really happened: nothing
//! here is scripted, and on another machine the numbers may differ (the lesson does not).
//!
//! Pacing: in most cases the server starts reading only after the client's last
//! `write()` has returned, as a busy server would. The bytes wait in the server's
//! receive buffer, and `read()` returns as many as are there, whatever writes they
//! came from.

use super::{human_bytes, seconds};
use crate::cli::tcp::DemoArgs;
use crate::error::{usage, HintExt};
use crate::net::tcp::{self, IoCall, SockOpts};
use crate::output::wrap::fill_on_terminal;
use crate::output::{Paint, Render, Step, Style, Timeline};
use crate::wire::application::framing::{self, LengthPrefixDecoder, LineDecoder};
use crate::wire::Role;
use serde::Serialize;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A validated `netlab tcp demo`.
#[derive(Debug, Clone)]
pub struct DemoPlan {
    /// Small writes in the coalescing cases.
    pub writes: usize,
    /// Bytes in the single large write.
    pub large: usize,
    /// The server's read buffer for the large write.
    pub read_buf: usize,
    /// Limit on every connect, read and write.
    pub timeout: Duration,
}

impl Default for DemoPlan {
    fn default() -> DemoPlan {
        DemoPlan {
            writes: 10,
            large: 1 << 20,
            read_buf: 64 * 1024,
            timeout: Duration::from_secs(5),
        }
    }
}

impl TryFrom<&DemoArgs> for DemoPlan {
    type Error = anyhow::Error;

    fn try_from(a: &DemoArgs) -> anyhow::Result<DemoPlan> {
        if !(2..=1000).contains(&a.writes) {
            return Err(usage(
                format!("--writes {} is out of range", a.writes),
                "give 2 to 1000 small writes",
            ));
        }
        if !(1..=(256 << 20)).contains(&a.large) {
            return Err(usage(
                format!("--large {} is out of range", a.large),
                "give 1 byte to 256 MiB (268435456)",
            ));
        }
        if !(1..=(16 << 20)).contains(&a.read_buf) {
            return Err(usage(
                format!("--read-buf {} is out of range", a.read_buf),
                "give 1 byte to 16 MiB (16777216)",
            ));
        }
        Ok(DemoPlan {
            writes: a.writes,
            large: a.large,
            read_buf: a.read_buf,
            timeout: seconds("--timeout", a.timeout, 600.0)?,
        })
    }
}

/// What framing recovered in a framing case.
#[derive(Debug, Clone, Serialize)]
pub struct FramingResult {
    /// `newline` or `length-prefix`.
    pub kind: &'static str,
    pub sent: Vec<String>,
    pub recovered: Vec<String>,
    /// How many whole messages each read completed, read by read.
    pub completed_per_read: Vec<usize>,
    /// `recovered == sent`, byte for byte.
    pub exact: bool,
}

/// One case: one connection, the client's writes and the server's reads.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    pub id: &'static str,
    pub title: String,
    /// How the two sides were paced.
    pub setup: String,
    /// What to notice.
    pub lesson: &'static str,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub nodelay: bool,
    /// How many writes the application asked for (one `write_all` may take several
    /// `write()` calls).
    pub app_writes: usize,
    /// Every `write()` system call that moved bytes.
    pub writes: Vec<IoCall>,
    /// Every `read()` that returned bytes.
    pub reads: Vec<IoCall>,
    pub bytes_sent: usize,
    pub bytes_received: usize,
    /// The server received exactly the bytes the client sent, in order.
    pub stream_intact: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framing: Option<FramingResult>,
    /// Write-write-read cases: the client's time from its first write to the reply,
    /// round by round, in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round_trips_us: Option<Vec<u64>>,
}

/// The byte-stream demo's findings.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub cases: Vec<CaseReport>,
}

/// Run every case and return the report without printing (the UDP lab shows it beside
/// its own result).
pub async fn byte_stream_demo(plan: &DemoPlan) -> anyhow::Result<DemoReport> {
    byte_stream_demo_with_progress(plan, &mut |_| {}).await
}

/// [`byte_stream_demo`], telling `progress` how the large write is going (a line such as
/// "large write: 96.0 MiB of 256.0 MiB received") when it is big enough to take a while.
pub async fn byte_stream_demo_with_progress(
    plan: &DemoPlan,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<DemoReport> {
    let mut cases = Vec::new();
    let small: Vec<Vec<u8>> = (1..=plan.writes)
        .map(|i| format!("msg {i:02} of {:02}\n", plan.writes).into_bytes())
        .collect();
    let each = small.first().map_or(0, Vec::len);

    for nodelay in [false, true] {
        let mut case = run_case(plan, nodelay, &small, 64 * 1024, Pacing::WritesThenReads).await?;
        case.id = if nodelay {
            "small-writes-nodelay"
        } else {
            "small-writes"
        };
        case.title = format!(
            "{} small writes of {each} B, {}",
            plan.writes,
            if nodelay {
                "TCP_NODELAY (Nagle off)"
            } else {
                "Nagle on (the default)"
            }
        );
        case.lesson = if nodelay {
            "TCP_NODELAY sends each write at once, but the receiver still gets bytes, not \
             writes: the boundaries are gone either way"
        } else {
            "the writes' boundaries are not kept: read() returns whatever bytes have arrived"
        };
        cases.push(case);
    }

    // Nagle meets delayed ACK: a request in two small writes, then wait for the reply.
    for nodelay in [false, true] {
        cases.push(write_write_read_case(plan, nodelay).await?);
    }

    // One large write, read concurrently with a smaller buffer.
    let mut case = large_write_case(plan, progress).await?;
    case.id = "large-write";
    case.title = format!(
        "one write_all of {}, {} read buffer",
        human_bytes(plan.large as u64),
        human_bytes(plan.read_buf as u64)
    );
    case.lesson = "the kernel takes a large write whole or in parts (as much as fits in the \
                   send buffer), and the receiver gets it in pieces sized by its buffer and by \
                   timing, never by the write";
    cases.push(case);

    // A read buffer smaller than the write.
    let hundred: Vec<u8> = b"0123456789".repeat(10);
    let mut case = run_case(
        plan,
        false,
        std::slice::from_ref(&hundred),
        16,
        Pacing::WritesThenReads,
    )
    .await?;
    case.id = "small-read-buffer";
    case.title = "one write of 100 B, 16 B read buffer".to_owned();
    case.lesson = "read() never returns more than the buffer holds; the rest waits in the \
                   kernel for the next read()";
    cases.push(case);

    // Framing recovers the messages.
    let lines: Vec<&[u8]> = vec![
        b"hello",
        b"TCP keeps the bytes in order",
        b"but not where each message ends",
        b"",
        b"so each one ends with a newline",
    ];
    cases.push(framing_case(plan, Framing::Newline, &lines).await?);
    let binary: Vec<&[u8]> = vec![
        b"a message may contain\na newline",
        b"",
        b"the length comes first: 4 bytes, big-endian",
        &[0x00, 0xff, 0x0a, 0x00],
    ];
    cases.push(framing_case(plan, Framing::LengthPrefix, &binary).await?);
    Ok(DemoReport { cases })
}

/// Send `writes` over a fresh loopback TCP connection (Nagle on) and read them back only
/// after the last write returned. Returns the size of every `read()`: a byte stream is free
/// to merge the writes. The UDP demo shows this beside its datagrams, which it may not merge.
pub async fn same_writes_over_tcp(
    writes: &[Vec<u8>],
    timeout: Duration,
) -> anyhow::Result<Vec<usize>> {
    let plan = DemoPlan {
        timeout,
        ..DemoPlan::default()
    };
    let case = run_case(&plan, false, writes, 64 * 1024, Pacing::WritesThenReads).await?;
    if !case.stream_intact {
        anyhow::bail!("the TCP receiver did not get the bytes that were sent");
    }
    Ok(case.reads.iter().map(|r| r.done).collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pacing {
    /// The server reads only after the client's last write returned. (The large write,
    /// which outgrows the socket buffers, is read at the same time: `large_write_case`.)
    WritesThenReads,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Newline,
    LengthPrefix,
}

struct Raw {
    case: CaseReport,
    received: Vec<u8>,
}

async fn run_case(
    plan: &DemoPlan,
    nodelay: bool,
    writes: &[Vec<u8>],
    read_buf: usize,
    pacing: Pacing,
) -> anyhow::Result<CaseReport> {
    Ok(run_case_raw(plan, nodelay, writes, read_buf, pacing)
        .await?
        .case)
}

async fn run_case_raw(
    plan: &DemoPlan,
    nodelay: bool,
    writes: &[Vec<u8>],
    read_buf: usize,
    pacing: Pacing,
) -> anyhow::Result<Raw> {
    let opts = SockOpts {
        nodelay,
        ..SockOpts::default()
    };
    let (mut client, mut server) = tcp::loopback_pair(&opts, plan.timeout)
        .await
        .failed("could not set up a connection on 127.0.0.1")?;
    let client_addr = client.local_addr().failed("local address")?;
    let server_addr = server.local_addr().failed("server address")?;
    let total: usize = writes.iter().map(Vec::len).sum();
    let sent: Vec<u8> = writes.concat();
    let clock = Instant::now();
    let (mut wcalls, mut rcalls) = (Vec::new(), Vec::new());
    let limit = plan.timeout;
    let received = match pacing {
        Pacing::WritesThenReads => {
            for w in writes {
                tcp::write_recorded(&mut client, w, clock, &mut wcalls, limit)
                    .await
                    .failed("the client's write failed")?;
            }
            tcp::read_recorded(&mut server, read_buf, total, clock, &mut rcalls, limit)
                .await
                .failed("the server's read failed")?
        }
    };
    let setup = match pacing {
        Pacing::WritesThenReads => format!(
            "client makes {} write()s; the server starts reading (buffer {}) after the last \
             one returned",
            writes.len(),
            human_bytes(read_buf as u64)
        ),
    };
    Ok(Raw {
        case: CaseReport {
            id: "",
            title: String::new(),
            setup,
            lesson: "",
            client: client_addr,
            server: server_addr,
            nodelay,
            app_writes: writes.len(),
            writes: wcalls,
            reads: rcalls,
            bytes_sent: total,
            bytes_received: received.len(),
            stream_intact: received == sent,
            framing: None,
            round_trips_us: None,
        },
        received,
    })
}

/// The large write's bytes: byte `i` is `i mod 251`. 251 is prime, so no power-of-two
/// read or write size lines up with the pattern, and a piece delivered in the wrong place
/// shows.
const PATTERN_PERIOD: usize = 251;
/// The most pattern bytes offered to one `write()`: more than any send buffer takes at
/// once, so it changes nothing the student sees, and the memory stays a few MiB.
const PATTERN_WINDOW: usize = 8 << 20;
/// Below this size the large write is over in a blink: no progress line.
const PROGRESS_FROM: usize = 32 << 20;

/// One `write_all` of `plan.large` pattern bytes, read at the same time with
/// `plan.read_buf`: generated and checked on the fly, so `--large 268435456` needs a few
/// MiB, not three copies of 256 MiB; `progress` hears about every 16 MiB received.
async fn large_write_case(
    plan: &DemoPlan,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<CaseReport> {
    let (mut client, mut server) = tcp::loopback_pair(&SockOpts::default(), plan.timeout)
        .await
        .failed("could not set up a connection on 127.0.0.1")?;
    let client_addr = client.local_addr().failed("local address")?;
    let server_addr = server.local_addr().failed("server address")?;
    let total = plan.large;
    let window: Vec<u8> = (0..total.min(PATTERN_WINDOW) + PATTERN_PERIOD)
        .map(|i| (i % PATTERN_PERIOD) as u8)
        .collect();
    let clock = Instant::now();
    let (mut wcalls, mut rcalls) = (Vec::new(), Vec::new());
    let limit = plan.timeout;
    let write = tcp::write_pattern_recorded(
        &mut client,
        &window,
        PATTERN_PERIOD,
        total,
        clock,
        &mut wcalls,
        limit,
    );
    let (mut offset, mut intact, mut shown) = (0usize, true, 0usize);
    let read = tcp::read_each_recorded(
        &mut server,
        plan.read_buf,
        total,
        clock,
        &mut rcalls,
        limit,
        |bytes| {
            intact &= bytes
                .iter()
                .enumerate()
                .all(|(k, &b)| b == ((offset + k) % PATTERN_PERIOD) as u8);
            offset += bytes.len();
            if total >= PROGRESS_FROM && offset - shown >= 16 << 20 {
                shown = offset;
                progress(&format!(
                    "large write: {} of {} received",
                    human_bytes(offset as u64),
                    human_bytes(total as u64)
                ));
            }
        },
    );
    let (w, r) = tokio::join!(write, read);
    w.failed("the client's write failed")?;
    let received = r.failed("the server's read failed")?;
    Ok(CaseReport {
        id: "",
        title: String::new(),
        setup: format!(
            "client and server run at once; the server reads with a {} buffer",
            human_bytes(plan.read_buf as u64)
        ),
        lesson: "",
        client: client_addr,
        server: server_addr,
        nodelay: false,
        app_writes: 1,
        writes: wcalls,
        reads: rcalls,
        bytes_sent: total,
        bytes_received: received,
        stream_intact: intact && received == total,
        framing: None,
        round_trips_us: None,
    })
}

/// Rounds of the write-write-read case.
const ROUNDS: usize = 5;

/// A client sends each request as two 10-byte writes (a header, then a body) and waits
/// for a 2-byte reply; the server replies once it has read all 20 bytes. With Nagle on,
/// the second write waits in the client's kernel for the ACK of the first, and the
/// server's kernel delays that ACK (RFC 1122 §4.2.3.2) hoping to send it with a reply
/// that cannot come yet: each round waits for the delayed-ACK timer (about 40 ms on
/// Linux). Linux acknowledges at once for the first segments of a connection ("quick
/// ACK" mode), so the first round is usually fast.
async fn write_write_read_case(plan: &DemoPlan, nodelay: bool) -> anyhow::Result<CaseReport> {
    let opts = SockOpts {
        nodelay,
        ..SockOpts::default()
    };
    let (mut client, mut server) = tcp::loopback_pair(&opts, plan.timeout)
        .await
        .failed("could not set up a connection on 127.0.0.1")?;
    let client_addr = client.local_addr().failed("local address")?;
    let server_addr = server.local_addr().failed("server address")?;
    let limit = plan.timeout;
    let clock = Instant::now();
    let (header, body) = (b"HEADER-01\n", b"body-0001\n");
    let (mut wcalls, mut rcalls) = (Vec::new(), Vec::new());
    let client_side = async {
        let mut round_trips = Vec::with_capacity(ROUNDS);
        let mut ignored = Vec::new();
        for _ in 0..ROUNDS {
            let t0 = clock.elapsed();
            tcp::write_recorded(&mut client, header, clock, &mut wcalls, limit).await?;
            tcp::write_recorded(&mut client, body, clock, &mut wcalls, limit).await?;
            let reply = tcp::read_recorded(&mut client, 16, 2, clock, &mut ignored, limit).await?;
            if reply.len() < 2 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
            }
            round_trips.push((clock.elapsed() - t0).as_micros() as u64);
        }
        Ok::<_, std::io::Error>(round_trips)
    };
    let server_side = async {
        let mut received = 0;
        let mut ignored = Vec::new();
        for _ in 0..ROUNDS {
            let req = tcp::read_recorded(&mut server, 64, 20, clock, &mut rcalls, limit).await?;
            received += req.len();
            tcp::write_recorded(&mut server, b"ok", clock, &mut ignored, limit).await?;
        }
        Ok::<_, std::io::Error>(received)
    };
    let (c, s) = tokio::join!(client_side, server_side);
    let round_trips = c.failed("the client's side of the exchange failed")?;
    let received = s.failed("the server's side of the exchange failed")?;
    let sent = ROUNDS * (header.len() + body.len());
    Ok(CaseReport {
        id: if nodelay {
            "write-write-read-nodelay"
        } else {
            "write-write-read"
        },
        title: format!(
            "{ROUNDS} requests, each sent as two 10 B writes, then wait for the reply; {}",
            if nodelay { "TCP_NODELAY" } else { "Nagle on" }
        ),
        setup: "the server replies \"ok\" once it has read the whole 20 B request; the \
                client measures each round trip"
            .to_owned(),
        lesson: if nodelay {
            "with TCP_NODELAY the second write leaves at once: each round trip takes a \
             fraction of a millisecond"
        } else {
            "Nagle holds the second small write until the first is acknowledged, and the \
             receiver delays that ACK: each round waits for the delayed-ACK timer"
        },
        client: client_addr,
        server: server_addr,
        nodelay,
        app_writes: 2 * ROUNDS,
        writes: wcalls,
        reads: rcalls,
        bytes_sent: sent,
        bytes_received: received,
        stream_intact: received == sent,
        framing: None,
        round_trips_us: Some(round_trips),
    })
}

/// The middle value of some durations (the upper one of the two middle values).
pub fn median_us(values: &[u64]) -> Option<u64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

async fn framing_case(
    plan: &DemoPlan,
    kind: Framing,
    messages: &[&[u8]],
) -> anyhow::Result<CaseReport> {
    let framed: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| match kind {
            Framing::Newline => framing::encode_line(m),
            Framing::LengthPrefix => framing::encode_length_prefixed(m),
        })
        .collect::<Result<_, _>>()
        .failed("a demo message could not be framed")?;
    // Small read buffers, so frames (and, for length prefixes, the prefix itself) are
    // split across reads: the decoder has to put them back together.
    let read_buf = match kind {
        Framing::Newline => 8,
        Framing::LengthPrefix => 6,
    };
    let raw = run_case_raw(plan, false, &framed, read_buf, Pacing::WritesThenReads).await?;
    let mut case = raw.case;
    // Replay the bytes through the decoder read by read, exactly as they were cut.
    let mut recovered: Vec<Vec<u8>> = Vec::new();
    let mut completed_per_read = Vec::new();
    let mut line = LineDecoder::new(4096);
    let mut prefixed = LengthPrefixDecoder::new(4096);
    let mut at = 0;
    for r in &case.reads {
        let chunk = &raw.received[at..at + r.done];
        at += r.done;
        let got = match kind {
            Framing::Newline => line.push(chunk),
            Framing::LengthPrefix => prefixed.push(chunk),
        }
        .failed("the received stream did not decode")?;
        completed_per_read.push(got.len());
        recovered.extend(got);
    }
    let exact = recovered.len() == messages.len()
        && recovered.iter().zip(messages).all(|(a, b)| a == b)
        && match kind {
            Framing::Newline => line.finish().is_ok(),
            Framing::LengthPrefix => prefixed.finish().is_ok(),
        };
    let show = |m: &[u8]| String::from_utf8_lossy(m).into_owned();
    let (id, title, lesson) = match kind {
        Framing::Newline => (
            "newline-framing",
            format!("{} messages, newline-delimited, 8 B reads", messages.len()),
            "the decoder buffers partial lines and cuts at each \\n: the messages come back \
             exactly, however the reads fell",
        ),
        Framing::LengthPrefix => (
            "length-prefix-framing",
            format!(
                "{} messages, 4-byte length prefix, 6 B reads",
                messages.len()
            ),
            "the decoder waits for all 4 prefix bytes, then for that many payload bytes: any \
             byte may be in a message, newlines included",
        ),
    };
    case.id = id;
    case.title = title;
    case.lesson = lesson;
    case.framing = Some(FramingResult {
        kind: match kind {
            Framing::Newline => "newline",
            Framing::LengthPrefix => "length-prefix",
        },
        sent: messages.iter().map(|m| show(m)).collect(),
        recovered: recovered.iter().map(|m| show(m)).collect(),
        completed_per_read,
        exact,
    });
    Ok(case)
}

/// Sizes of calls, grouped: `13 B ×10`, or `64.0 KiB ×15, 48 B`.
fn sizes(calls: &[IoCall]) -> String {
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for c in calls {
        match groups.last_mut() {
            Some((size, n)) if *size == c.done => *n += 1,
            _ => groups.push((c.done, 1)),
        }
    }
    let shown: Vec<String> = groups
        .iter()
        .take(4)
        .map(|&(size, n)| {
            if n == 1 {
                human_bytes(size as u64)
            } else {
                format!("{} ×{n}", human_bytes(size as u64))
            }
        })
        .collect();
    let mut s = shown.join(", ");
    if groups.len() > 4 {
        s.push_str(", …");
    }
    s
}

impl CaseReport {
    /// One sentence on what happened, from the measurements.
    pub fn outcome(&self) -> String {
        let (w, r) = (self.writes.len(), self.reads.len());
        let plural = |n: usize, what: &str| {
            if n == 1 {
                format!("1 {what}")
            } else {
                format!("{n} {what}s")
            }
        };
        let mut s = if self.app_writes == 1 && w > 1 {
            format!(
                "1 application write took {w} write() calls; the server needed {}",
                plural(r, "read")
            )
        } else {
            format!("{} arrived in {}", plural(w, "write"), plural(r, "read"))
        };
        if let Some(rt) = &self.round_trips_us {
            if let Some(m) = median_us(rt) {
                s.push_str(&format!("; median round trip {:.2} ms", m as f64 / 1000.0));
            }
        }
        if !self.stream_intact {
            s.push_str("; THE BYTES DIFFER");
        }
        if let Some(f) = &self.framing {
            s.push_str(&format!(
                "; {} of {} messages recovered{}",
                f.recovered.len(),
                f.sent.len(),
                if f.exact { " exactly" } else { ", NOT exactly" }
            ));
        }
        s
    }

    /// The case as a client/server sequence diagram; long runs of calls are elided.
    pub fn timeline(&self) -> Timeline {
        let mut events: Vec<(u64, Role, usize, IoCall)> = self
            .writes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.at_us, Role::Client, i, *c))
            .chain(
                self.reads
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.at_us, Role::Server, i, *c)),
            )
            .collect();
        // A read cannot come before the write that sent its bytes, but clocks read on
        // one thread can tie: writes first on ties.
        events.sort_by_key(|&(t, side, i, _)| (t, side == Role::Server, i));
        const HEAD: usize = 8;
        const TAIL: usize = 3;
        let mut t = Timeline::default();
        let n = events.len();
        for (k, (at, side, i, c)) in events.into_iter().enumerate() {
            if n > HEAD + TAIL + 1 && k >= HEAD && k < n - TAIL {
                if k == HEAD {
                    t.push(Step::local(
                        None,
                        Role::Client,
                        format!("… {} more calls …", n - HEAD - TAIL),
                    ));
                }
                continue;
            }
            match side {
                Role::Client => t.push(Step::send(
                    Some(at),
                    side,
                    format!("write #{} → {}", i + 1, human_bytes(c.done as u64)),
                    human_bytes(c.done as u64),
                )),
                Role::Server => {
                    let mut action = format!("read #{} → {}", i + 1, human_bytes(c.done as u64));
                    if let Some(f) = &self.framing {
                        if let Some(&m) = f.completed_per_read.get(i) {
                            if m > 0 {
                                action.push_str(&format!(" ⇒ {m} msg"));
                            }
                        }
                    }
                    t.push(Step::local(Some(at), side, action));
                }
            }
        }
        t
    }
}

impl Render for DemoReport {
    fn render_human(&self, style: &Style) -> String {
        let mut s = String::new();
        s.push_str(&style.paint(
            Paint::Bold,
            "TCP is a byte stream, not messages: the client's write()s beside the server's read()s",
        ));
        s.push('\n');
        let mut t = style.table();
        t.set_header(vec![
            "case",
            "client write() calls",
            "server read() calls",
            "what happened",
        ]);
        for c in &self.cases {
            t.add_row(vec![
                c.id.to_owned(),
                format!("{}: {}", c.writes.len(), sizes(&c.writes)),
                format!("{}: {}", c.reads.len(), sizes(&c.reads)),
                c.outcome(),
            ]);
        }
        s.push_str(&t.to_string());
        s.push('\n');
        for (k, c) in self.cases.iter().enumerate() {
            s.push('\n');
            s.push_str(&style.paint(Paint::Bold, format!("{}. {}", k + 1, c.title)));
            s.push('\n');
            s.push_str(&style.paint(
                Paint::Dim,
                fill_on_terminal(
                    &format!("{} ⇄ {}; {}", c.client, c.server, c.setup),
                    style,
                    "   ",
                ),
            ));
            s.push('\n');
            s.push_str(&c.timeline().render(style));
            if let Some(rt) = &c.round_trips_us {
                let shown: Vec<String> = rt
                    .iter()
                    .map(|us| format!("{:.2} ms", *us as f64 / 1000.0))
                    .collect();
                s.push_str(&format!("   round trips: {}\n", shown.join(", ")));
            }
            if let Some(f) = &c.framing {
                s.push_str(&format!("   sent:      {:?}\n", f.sent));
                s.push_str(&format!(
                    "   recovered: {:?}  {}\n",
                    f.recovered,
                    if f.exact {
                        style.paint(Paint::Good, "✓ exactly the messages sent")
                    } else {
                        style.paint(Paint::Bad, "✗ not the messages sent")
                    }
                ));
            }
            s.push_str(&fill_on_terminal(&format!("→ {}", c.lesson), style, "   "));
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(at_us: u64, done: usize) -> IoCall {
        IoCall {
            at_us,
            asked: done,
            done,
        }
    }

    #[test]
    fn sizes_are_grouped() {
        let calls = [call(0, 13), call(1, 13), call(2, 13), call(3, 5)];
        assert_eq!(sizes(&calls), "13 B ×3, 5 B");
    }

    #[test]
    fn long_timelines_are_elided() {
        let case = CaseReport {
            id: "x",
            title: String::new(),
            setup: String::new(),
            lesson: "",
            client: SocketAddr::from(([127, 0, 0, 1], 1)),
            server: SocketAddr::from(([127, 0, 0, 1], 2)),
            nodelay: false,
            app_writes: 1,
            writes: (0..10).map(|i| call(i * 10, 100)).collect(),
            reads: (0..20).map(|i| call(i * 10 + 5, 50)).collect(),
            bytes_sent: 1000,
            bytes_received: 1000,
            stream_intact: true,
            framing: None,
            round_trips_us: None,
        };
        let t = case.timeline();
        assert_eq!(t.steps.len(), 8 + 1 + 3);
        assert!(t.steps[8].action.contains("19 more calls"));
        assert!(case.outcome().contains("10 write() calls"));
    }
}
