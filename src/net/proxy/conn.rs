//! One proxied connection: a single task owns both sockets, reads whatever either peer
//! sends, queues each chunk with the time the schedule gives it, writes it when due, and
//! applies the faults. Readiness (`readable`, `writable`) plus non-blocking reads and
//! writes keep every wait cancel-safe, so one `select!` serves both directions.

use super::schedule::{CutWith, Dir, Fault, Schedule, Then};
use super::{Applied, Control, Ending, ProxyEvent, Shared, CONNECT_LIMIT};
use crate::net::tcp::{self, SockOpts};
use socket2::SockRef;
use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// The most bytes read at once.
const CHUNK: usize = 16 * 1024;

/// The most bytes held for one direction (a black hole, a slow link): past it the proxy
/// stops reading that side, and TCP's flow control makes its sender wait.
const MAX_QUEUED: usize = 1 << 20;

/// How long a FIN cut waits for the peers to close their side too (reading and
/// discarding meanwhile, so that closing does not turn into a RST).
const FIN_DRAIN: Duration = Duration::from_secs(1);

/// Everything a connection's task needs.
pub(super) struct Job {
    pub n: u64,
    pub peer: SocketAddr,
    pub upstream: SocketAddr,
    pub schedule: Schedule,
    pub control: watch::Receiver<Control>,
    pub stop: watch::Receiver<bool>,
    pub shared: Arc<Shared>,
    pub events: mpsc::UnboundedSender<ProxyEvent>,
}

struct Chunk {
    due: Duration,
    bytes: Vec<u8>,
    at: usize,
}

/// One direction's state.
#[derive(Default)]
struct Way {
    queue: VecDeque<Chunk>,
    queued: usize,
    /// Its source sent FIN.
    eof: bool,
    /// The FIN was passed on.
    shut: bool,
    written: u64,
}

impl Way {
    fn due_at(&self) -> Option<Duration> {
        self.queue.front().map(|c| c.due)
    }

    fn clear(&mut self) -> u64 {
        let lost = self.queued as u64;
        self.queue.clear();
        self.queued = 0;
        lost
    }
}

/// What woke the connection up.
enum Wake {
    Read(Dir),
    Write,
    Timer,
    Control,
    Stop,
}

struct Conn {
    job: Job,
    start: Instant,
    ways: [Way; 2],
    partitioned: bool,
    seen: Control,
    lost: u64,
}

fn idx(dir: Dir) -> usize {
    usize::from(dir == Dir::Down)
}

/// Relay one accepted client to a new upstream connection until it ends.
pub(super) async fn relay(client: TcpStream, job: Job) {
    let _ = client.set_nodelay(true);
    let upstream = match tcp::connect(job.upstream, &SockOpts::default(), CONNECT_LIMIT).await {
        Ok(s) => s,
        Err(e) => {
            job.shared.upstream_failures.fetch_add(1, Ordering::Relaxed);
            let error = format!("{} did not take the connection: {e}", job.upstream);
            let _ = job
                .events
                .send(ProxyEvent::UpstreamFailed { conn: job.n, error });
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    let _ = job.events.send(ProxyEvent::Accepted {
        conn: job.n,
        client: job.peer.to_string(),
        upstream: job.upstream.to_string(),
        drawn: job.schedule.drawn(),
    });
    let seen = *job.control.borrow();
    let mut conn = Conn {
        start: Instant::now(),
        ways: [Way::default(), Way::default()],
        partitioned: seen.partitioned,
        seen,
        lost: 0,
        job,
    };
    let how = conn.run(&client, &upstream).await;
    conn.finish(client, upstream, how).await;
}

impl Conn {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn event(&self, fault: Applied) {
        let at_ms = self.now().as_millis() as u64;
        let _ = self.job.events.send(ProxyEvent::Fault {
            conn: self.job.n,
            at_ms,
            fault,
        });
    }

    fn drop_all(&mut self) -> u64 {
        let lost = self.ways[0].clear() + self.ways[1].clear();
        self.lost += lost;
        lost
    }

    fn cut(&mut self, with: CutWith) -> Ending {
        let after_bytes = self.ways[0].written + self.ways[1].written;
        self.event(Applied::Cut { with, after_bytes });
        Ending::Cut(with)
    }

    fn holding(&self, now: Duration) -> bool {
        self.partitioned || self.job.schedule.holding(now)
    }

    async fn run(&mut self, client: &TcpStream, upstream: &TcpStream) -> Ending {
        if let Some(Fault::Cut(with)) = self.job.schedule.cut_at_once() {
            return self.cut(with);
        }
        let mut buf = vec![0u8; CHUNK];
        loop {
            let now = self.now();
            if let Some(end) = self.timed_faults(now) {
                return end;
            }
            if !self.holding(now) {
                for (dir, sock) in [(Dir::Up, upstream), (Dir::Down, client)] {
                    match self.flush(dir, sock, now) {
                        Ok(None) => {}
                        Ok(Some(end)) => return end,
                        Err(_) => return Ending::Reset,
                    }
                }
            }
            self.pass_fins(client, upstream);
            if self.ways.iter().all(|w| w.eof && w.shut) {
                return Ending::Closed;
            }
            let wake = self.wait(client, upstream, now).await;
            match wake {
                Wake::Read(dir) => {
                    let sock = if dir == Dir::Up { client } else { upstream };
                    if self.read(dir, sock, &mut buf).is_err() {
                        return Ending::Reset;
                    }
                }
                Wake::Write | Wake::Timer => {}
                Wake::Control => {
                    if let Some(end) = self.control() {
                        return end;
                    }
                }
                Wake::Stop => return Ending::Stopped,
            }
        }
    }

    async fn wait(&mut self, client: &TcpStream, upstream: &TcpStream, now: Duration) -> Wake {
        let can_read = |w: &Way| !w.eof && w.queued < MAX_QUEUED;
        let (read_up, read_down) = (can_read(&self.ways[0]), can_read(&self.ways[1]));
        let holding = self.holding(now);
        let ready = |w: &Way| !holding && w.due_at().is_some_and(|d| d <= now);
        let (write_up, write_down) = (ready(&self.ways[0]), ready(&self.ways[1]));
        let mut wake = self.job.schedule.poll_timeout();
        if !holding {
            for w in &self.ways {
                wake = match (wake, w.due_at().filter(|d| *d > now)) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        let start = self.start;
        let timer = async move {
            match wake {
                Some(d) => tokio::time::sleep_until(start + d).await,
                None => std::future::pending().await,
            }
        };
        let Job { control, stop, .. } = &mut self.job;
        tokio::select! {
            _ = client.readable(), if read_up => Wake::Read(Dir::Up),
            _ = upstream.readable(), if read_down => Wake::Read(Dir::Down),
            _ = upstream.writable(), if write_up => Wake::Write,
            _ = client.writable(), if write_down => Wake::Write,
            () = timer => Wake::Timer,
            r = control.changed() => if r.is_ok() { Wake::Control } else { Wake::Stop },
            _ = stop.changed() => Wake::Stop,
        }
    }

    /// Apply the faults whose time has come; `Some` ends the connection.
    fn timed_faults(&mut self, now: Duration) -> Option<Ending> {
        while let Some(fault) = self.job.schedule.handle_timeout(now) {
            match fault {
                Fault::Cut(with) => return Some(self.cut(with)),
                Fault::BlackholeStarts => self.event(Applied::BlackholeStarts),
                Fault::BlackholeEnds(then) => {
                    let held_bytes = self.held();
                    self.event(Applied::BlackholeEnds { then, held_bytes });
                    if then == Then::Drop {
                        self.drop_all();
                        return Some(self.cut(CutWith::Rst));
                    }
                }
            }
        }
        None
    }

    fn held(&self) -> u64 {
        (self.ways[0].queued + self.ways[1].queued) as u64
    }

    /// A run-time change from the handle.
    fn control(&mut self) -> Option<Ending> {
        let c = *self.job.control.borrow_and_update();
        let before = std::mem::replace(&mut self.seen, c);
        if c.cut_epoch > before.cut_epoch {
            return Some(self.cut(c.cut_with));
        }
        if c.partitioned && !self.partitioned {
            self.partitioned = true;
            self.event(Applied::Partitioned);
        } else if c.heal_epoch > before.heal_epoch && self.partitioned {
            self.partitioned = false;
            let held_bytes = self.held();
            self.event(Applied::Healed {
                then: c.heal_then,
                held_bytes,
            });
            if c.heal_then == Then::Drop {
                self.drop_all();
                return Some(self.cut(CutWith::Rst));
            }
        }
        None
    }

    /// Read what one side sent into the other direction's queue.
    fn read(&mut self, dir: Dir, sock: &TcpStream, buf: &mut [u8]) -> std::io::Result<()> {
        let size = self.job.schedule.read_size(buf.len());
        match sock.try_read(&mut buf[..size]) {
            Ok(0) => self.ways[idx(dir)].eof = true,
            Ok(n) => {
                self.job.shared.add(dir, n);
                let now = self.now();
                let due = self.job.schedule.due(dir, now, n);
                let way = &mut self.ways[idx(dir)];
                way.queued += n;
                way.queue.push_back(Chunk {
                    due,
                    bytes: buf[..n].to_vec(),
                    at: 0,
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Write the chunks that are due; `Some` when the byte cut was reached.
    fn flush(
        &mut self,
        dir: Dir,
        sock: &TcpStream,
        now: Duration,
    ) -> std::io::Result<Option<Ending>> {
        let i = idx(dir);
        while let Some(chunk) = self.ways[i].queue.front_mut() {
            if chunk.due > now {
                break;
            }
            let allowed = self.job.schedule.allow(chunk.bytes.len() - chunk.at);
            let n = match sock.try_write(&chunk.bytes[chunk.at..chunk.at + allowed]) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            };
            chunk.at += n;
            let done = chunk.at == chunk.bytes.len();
            let way = &mut self.ways[i];
            way.queued -= n;
            way.written += n as u64;
            if done {
                way.queue.pop_front();
            }
            if let Some(Fault::Cut(with)) = self.job.schedule.wrote(n) {
                return Ok(Some(self.cut(with)));
            }
            if !done {
                break;
            }
        }
        Ok(None)
    }

    /// Pass on a FIN once everything before it has been written.
    fn pass_fins(&mut self, client: &TcpStream, upstream: &TcpStream) {
        for (dir, dest) in [(Dir::Up, upstream), (Dir::Down, client)] {
            let way = &mut self.ways[idx(dir)];
            if way.eof && !way.shut && way.queue.is_empty() {
                let _ = SockRef::from(dest).shutdown(Shutdown::Write);
                way.shut = true;
            }
        }
    }

    /// Close both sockets as `how` says, and report.
    async fn finish(mut self, client: TcpStream, upstream: TcpStream, how: Ending) {
        let lost_bytes = self.lost + self.held();
        match how {
            Ending::Cut(CutWith::Rst) | Ending::Reset => {
                for s in [&client, &upstream] {
                    let _ = SockRef::from(s).set_linger(Some(Duration::ZERO));
                }
            }
            Ending::Cut(CutWith::Fin) => fin_and_drain(&client, &upstream).await,
            Ending::Closed | Ending::Stopped => {}
        }
        if matches!(how, Ending::Cut(_)) {
            self.job.shared.cuts.fetch_add(1, Ordering::Relaxed);
        }
        self.job
            .shared
            .lost
            .fetch_add(lost_bytes, Ordering::Relaxed);
        drop((client, upstream));
        let _ = self.job.events.send(ProxyEvent::Closed {
            conn: self.job.n,
            up_bytes: self.ways[0].written,
            down_bytes: self.ways[1].written,
            lost_bytes,
            how,
            after_ms: self.now().as_millis() as u64,
        });
        self.ways = [Way::default(), Way::default()];
    }
}

/// Send FIN both ways, then read and discard until both peers close (bounded): closing
/// a socket with unread bytes would send a RST instead.
async fn fin_and_drain(client: &TcpStream, upstream: &TcpStream) {
    for s in [client, upstream] {
        let _ = SockRef::from(s).shutdown(Shutdown::Write);
    }
    let mut buf = vec![0u8; CHUNK];
    let mut open = [true, true];
    let _ = tokio::time::timeout(FIN_DRAIN, async {
        while open[0] || open[1] {
            let which = tokio::select! {
                _ = client.readable(), if open[0] => 0,
                _ = upstream.readable(), if open[1] => 1,
            };
            let s = if which == 0 { client } else { upstream };
            match s.try_read(&mut buf) {
                Ok(0) => open[which] = false,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => open[which] = false,
            }
        }
    })
    .await;
}
