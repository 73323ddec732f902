//! One transport's run, the experiment around `net::push`: a server (with the event
//! source) and the clients on 127.0.0.1, until every client has every event or the
//! workload's deadline passes.
//!
//! The server and the clients each run on an OS thread of their own with a
//! single-threaded tokio runtime, so each thread's CPU time (`net::push::thread_cpu_time`)
//! is that side's CPU time: what it spent in netlab and in the kernel on its behalf. The
//! caller's runtime only waits for both. Beside the run, a capture on loopback counts the
//! packets when netlab may (`capture.rs`), and a `Trace` keeps the first steps of both
//! ends for `--explain`.

use super::capture::{self, Counted};
use crate::net::push::{
    self, ClientTally, Clients, ClientsError, Observer, PushTransport, ServerError, Shared,
    UpTally, Workload,
};
use crate::wire::application::push::WireTally;
use crate::wire::Role;
use serde::Serialize;
use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::time::timeout;

/// One thing that happened, for `--explain`'s sequence diagrams.
#[derive(Debug, Clone, Serialize)]
pub struct TraceStep {
    pub at_us: u64,
    pub end: Role,
    pub action: String,
    /// What crossed the connection, with its size, if anything.
    pub sends: Option<String>,
}

/// The first `cap` steps of a run, from both ends.
struct Trace {
    start: Instant,
    cap: usize,
    /// Each step with its exact time since `start` (the order; `at_us` is rounded down).
    steps: Mutex<Vec<(Duration, TraceStep)>>,
}

impl Observer for Trace {
    fn step(&self, at: Instant, end: Role, action: Cow<'static, str>, sends: Option<String>) {
        let mut steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        if steps.len() < self.cap {
            let since = at.saturating_duration_since(self.start);
            steps.push((
                since,
                TraceStep {
                    at_us: since.as_micros() as u64,
                    end,
                    action: action.into_owned(),
                    sends,
                },
            ));
        }
    }
}

impl Trace {
    /// The steps kept, in the order they happened: by the one clock both ends read, to
    /// the nanosecond (two steps in the same microsecond keep their order too).
    fn steps(&self) -> Vec<TraceStep> {
        let mut steps = self.steps.lock().unwrap_or_else(|e| e.into_inner()).clone();
        steps.sort_by_key(|(since, _)| *since);
        steps.into_iter().map(|(_, s)| s).collect()
    }
}

/// What one transport's run measured.
#[derive(Debug)]
pub struct TransportRun {
    pub transport: PushTransport,
    pub tally: ClientTally,
    /// Bytes the clients read and wrote at their sockets.
    pub client_read: u64,
    pub client_written: u64,
    /// Bytes the server read and wrote at its sockets.
    pub server_read: u64,
    pub server_written: u64,
    /// TCP connections the server accepted.
    pub accepted: u64,
    /// What the server received from the clients (direction up or both).
    pub up: Option<UpTally>,
    /// Why a client or the server failed, if one did (what it measured is kept).
    pub error: Option<RunError>,
    pub trace: Vec<TraceStep>,
    /// The server's port on 127.0.0.1 (to find the run in a capture).
    pub server_port: u16,
    /// Packets counted from a capture of the run, when one was asked for and allowed.
    pub wire: Option<WireTally>,
    /// Why there is no capture count, or what limits it.
    pub wire_note: Option<String>,
    /// Wall-clock time of the run.
    pub elapsed_us: u64,
    /// CPU time of the server's thread (server and event source), if it could be read.
    pub server_cpu: Option<Duration>,
    /// CPU time of the clients' thread, if it could be read.
    pub client_cpu: Option<Duration>,
}

/// Why a transport could not even start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The server's port could not be bound (taken, say) or set up.
    #[error("could not listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    /// The OS would not start the server's thread.
    #[error("could not start the server's thread: {0}")]
    Thread(#[source] io::Error),
}

/// Why a run that started measured less than it should have (what it measured is kept).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The OS would not start the clients' thread.
    #[error("could not start the client thread: {0}")]
    ClientThread(#[source] io::Error),
    /// The clients' thread could not build its tokio runtime.
    #[error("clients: {0}")]
    ClientRuntime(#[source] io::Error),
    /// The clients' thread ended without handing back a result (it panicked).
    #[error("the client thread ended without a result")]
    ClientThreadLost,
    /// A client failed, or the clients ran out of time.
    #[error(transparent)]
    Clients(ClientsError),
    /// The server's thread could not build its tokio runtime.
    #[error("server: {0}")]
    ServerRuntime(#[source] io::Error),
    /// The server failed (a connection, or accepting one).
    #[error("server: {0}")]
    Server(#[source] ServerError),
    /// The server's thread ended without handing back a result (it panicked).
    #[error("the server thread ended without a result")]
    ServerThreadLost,
    /// The server did not stop within 5 s of being told to.
    #[error("the server did not stop in time")]
    ServerStuck,
}

/// How much to record besides the counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Keep the first this many steps for a sequence diagram.
    pub trace_cap: usize,
    /// Capture the run's packets on loopback (needs root or CAP_NET_RAW).
    pub capture: bool,
    /// The server's port on 127.0.0.1; 0 lets the OS pick a free one.
    pub port: u16,
}

/// How long the server has to stop once the clients are done.
const SERVER_STOP: Duration = Duration::from_secs(5);

/// Run one transport on loopback: a server, `clients` clients and the event source, until
/// every client has every event or the workload's deadline passes.
pub async fn run_transport(
    transport: PushTransport,
    workload: &Workload,
    opts: RunOptions,
) -> Result<TransportRun, StartError> {
    let (listener, addr) = listen(opts.port)?;
    // The capture starts before the first SYN, so it sees every packet of the run.
    let capture = opts.capture.then(|| capture::start(addr.port()));
    let start = Instant::now();
    let trace = Arc::new(Trace {
        start,
        cap: opts.trace_cap,
        steps: Mutex::new(Vec::new()),
    });
    let shared = Arc::new(Shared::new(transport, workload, addr, start, trace.clone()));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = {
        let shared = shared.clone();
        on_own_thread("compare-server", move || {
            push::serve(listener, shared, stop_rx)
        })
        .map_err(StartError::Thread)?
    };
    let clients = {
        let shared = shared.clone();
        on_own_thread("compare-clients", move || push::run_clients(shared))
    };
    let clients = wait_clients(clients).await;
    let _ = stop_tx.send(());
    let server = wait_server(server).await;
    // One failure is reported per run: the clients', if any, else the server's.
    let (tally, client_cpu, client_error) = match clients {
        Ok(done) => (
            done.output.tally,
            done.cpu,
            done.output.error.map(RunError::Clients),
        ),
        Err(e) => (ClientTally::default(), None, Some(e)),
    };
    let (server_cpu, server_error) = match server {
        Ok(done) => (done.cpu, done.output.err().map(RunError::Server)),
        Err(e) => (None, Some(e)),
    };
    let trace = trace.steps();
    let counted = match capture {
        None => Counted {
            wire: None,
            note: Some("not counted: capture turned off with --no-capture".to_owned()),
        },
        Some(Err(why)) => Counted {
            wire: None,
            note: Some(format!("not counted: {why}")),
        },
        Some(Ok(cap)) => capture::finish(cap, addr).await,
    };
    let up = workload.direction.up().then(|| shared.up_tally());
    Ok(TransportRun {
        up,
        server_port: addr.port(),
        wire: counted.wire,
        wire_note: counted.note,
        transport,
        tally,
        client_read: shared.client_bytes().read(),
        client_written: shared.client_bytes().written(),
        server_read: shared.server_bytes().read(),
        server_written: shared.server_bytes().written(),
        accepted: shared.accepted(),
        error: client_error.or(server_error),
        trace,
        elapsed_us: start.elapsed().as_micros() as u64,
        server_cpu,
        client_cpu,
    })
}

/// Listen on 127.0.0.1:`port` (0: a port the OS picks), non-blocking for tokio.
fn listen(port: u16) -> Result<(std::net::TcpListener, SocketAddr), StartError> {
    let want = SocketAddr::from(([127, 0, 0, 1], port));
    let bind = |source| StartError::Bind { addr: want, source };
    let listener = std::net::TcpListener::bind(want).map_err(bind)?;
    listener.set_nonblocking(true).map_err(bind)?;
    let addr = listener.local_addr().map_err(bind)?;
    Ok((listener, addr))
}

/// What a side's thread hands back: its future's output and the thread's CPU time.
struct Finished<T> {
    output: T,
    cpu: Option<Duration>,
}

/// A side running on its own thread: `Err` if its runtime could not be built.
type Side<T> = oneshot::Receiver<io::Result<Finished<T>>>;

/// Run the future `make` returns on a new OS thread with a single-threaded tokio runtime
/// of its own, and measure that thread's CPU time around it (runtime shutdown included).
fn on_own_thread<M, F>(name: &str, make: M) -> io::Result<Side<F::Output>>
where
    M: FnOnce() -> F + Send + 'static,
    F: std::future::Future,
    F::Output: Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let before = push::thread_cpu_time();
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let output = rt.block_on(make());
            drop(rt);
            let cpu = match (before, push::thread_cpu_time()) {
                (Some(a), Some(b)) => Some(b.saturating_sub(a)),
                _ => None,
            };
            let _ = tx.send(Ok(Finished { output, cpu }));
        })?;
    Ok(rx)
}

/// Wait for the clients' thread: started, then finished, with its runtime built.
async fn wait_clients(started: io::Result<Side<Clients>>) -> Result<Finished<Clients>, RunError> {
    let side = started.map_err(RunError::ClientThread)?;
    let built = side.await.map_err(|_| RunError::ClientThreadLost)?;
    built.map_err(RunError::ClientRuntime)
}

/// Wait (bounded) for the server's thread, once it has been told to stop.
async fn wait_server(
    side: Side<Result<(), ServerError>>,
) -> Result<Finished<Result<(), ServerError>>, RunError> {
    let ended = timeout(SERVER_STOP, side)
        .await
        .map_err(|_| RunError::ServerStuck)?;
    let built = ended.map_err(|_| RunError::ServerThreadLost)?;
    built.map_err(RunError::ServerRuntime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::push::Traffic;

    #[test]
    fn the_trace_keeps_the_first_steps_it_is_told_and_sorts_them_by_time() {
        let start = Instant::now();
        let trace = Trace {
            start,
            cap: 2,
            steps: Mutex::new(Vec::new()),
        };
        let at = |ms| start + Duration::from_millis(ms);
        // The two sides' threads report out of order; a step drawn after the fact
        // (`record_at`) carries its own time.
        trace.step(at(5), Role::Server, "answers".into(), Some("204".into()));
        trace.step(at(1), Role::Client, "asks".into(), None);
        trace.step(at(0), Role::Client, "dropped: past the cap".into(), None);
        let steps = trace.steps();
        let seen: Vec<(u64, &str)> = steps.iter().map(|s| (s.at_us, s.action.as_str())).collect();
        assert_eq!(seen, [(1_000, "asks"), (5_000, "answers")]);
    }

    #[test]
    fn a_cause_and_its_effect_in_one_microsecond_keep_their_order() {
        // The server's answer left 400 ns before the client read it, but the client's
        // thread recorded first: ordered by the one clock, not by who reported first.
        let start = Instant::now();
        let trace = Trace {
            start,
            cap: 10,
            steps: Mutex::new(Vec::new()),
        };
        let at = |ns: u64| start + Duration::from_nanos(7_000 + ns);
        trace.step(at(500), Role::Client, "has event 0".into(), None);
        trace.step(
            at(100),
            Role::Server,
            "answers".into(),
            Some("200 OK".into()),
        );
        let steps = trace.steps();
        let seen: Vec<&str> = steps.iter().map(|s| s.action.as_str()).collect();
        assert_eq!(seen, ["answers", "has event 0"]);
        assert!(steps.iter().all(|s| s.at_us == 7));
    }

    #[test]
    fn a_port_already_taken_is_a_start_error_naming_the_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let workload = Workload {
            events: 1,
            interval: Duration::ZERO,
            payload: 8,
            poll_interval: Duration::from_millis(1),
            hold: Duration::from_millis(1),
            clients: 1,
            direction: Traffic::Down,
        };
        let opts = RunOptions {
            trace_cap: 0,
            capture: false,
            port,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let r = rt.block_on(run_transport(PushTransport::Sse, &workload, opts));
        let e = r.expect_err("the port is taken");
        assert!(matches!(e, StartError::Bind { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with(&format!("could not listen on 127.0.0.1:{port}: ")),
            "{e}"
        );
    }
}
