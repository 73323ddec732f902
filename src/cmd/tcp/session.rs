//! `netlab tcp listen` and `netlab tcp connect`: netcat, narrated.
//!
//! stdin goes to the peer and the peer's bytes to stdout; everything netlab says about
//! the connection (4-tuple, options, half-close, close or reset, byte counts) goes to
//! stderr in human mode, or to stdout as JSON with `--json` / `--jsonl`.

use super::{buffer_notes, describe_opts, finish, human_bytes, seconds, sock_opts};
use crate::cli::tcp::{ConnectArgs, ListenArgs};
use crate::cmd::reach;
use crate::error::{HintExt, Hinted};
use crate::net::host::{self, TcpState};
use crate::net::tcp::{
    self, session, CloseHow, EffectiveOpts, Happening, Mode, SessionConfig, SessionEnd, SockOpts,
};
use crate::net::Endpoint;
use crate::output::chunk::ChunkTagger;
use crate::output::{Format, Output, Paint, Render, Style};
use crate::wire::Role;
use serde::Serialize;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A validated `netlab tcp listen`.
#[derive(Debug, Clone)]
pub struct ListenPlan {
    pub addr: SocketAddr,
    pub mode: Mode,
    pub max_clients: Option<u32>,
    pub idle: Duration,
    pub opts: SockOpts,
    /// Clients' bytes as they are (`--raw`), not tagged `[conn N]` and escaped.
    pub raw: bool,
}

impl TryFrom<&ListenArgs> for ListenPlan {
    type Error = anyhow::Error;

    fn try_from(a: &ListenArgs) -> anyhow::Result<ListenPlan> {
        if a.max_clients == Some(0) {
            return Err(crate::error::usage(
                "--max-clients 0 would stop before anyone connects",
                "give 1 or more, or leave it out to serve clients until Ctrl-C",
            ));
        }
        Ok(ListenPlan {
            addr: SocketAddr::new(a.bind, a.port),
            mode: if a.echo {
                Mode::Echo
            } else if a.discard {
                Mode::Discard
            } else {
                Mode::Interactive
            },
            max_clients: a.max_clients,
            idle: seconds("--idle-timeout", a.idle_timeout, 86400.0)?,
            opts: sock_opts(&a.opts)?,
            raw: a.raw,
        })
    }
}

/// A validated `netlab tcp connect`.
#[derive(Debug, Clone)]
pub struct ConnectPlan {
    pub to: Endpoint,
    pub timeout: Duration,
    pub idle: Duration,
    pub opts: SockOpts,
}

impl TryFrom<&ConnectArgs> for ConnectPlan {
    type Error = anyhow::Error;

    fn try_from(a: &ConnectArgs) -> anyhow::Result<ConnectPlan> {
        if a.to.port == 0 {
            return Err(crate::error::usage(
                format!("cannot connect to port 0 of {}", a.to.host),
                "port 0 means \"any port\" when listening; a connection needs the real port",
            ));
        }
        Ok(ConnectPlan {
            to: a.to.clone(),
            timeout: seconds("--timeout", a.timeout, 600.0)?,
            idle: seconds("--idle-timeout", a.idle_timeout, 86400.0)?,
            opts: sock_opts(&a.opts)?,
        })
    }
}

/// One connection, as the listener saw it.
#[derive(Debug, Clone, Serialize)]
pub struct ConnRow {
    pub conn: u32,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration_ms: Option<u64>,
    /// `None` while the connection is still open.
    #[serde(flatten)]
    pub how: Option<CloseHow>,
}

/// What `netlab tcp listen` saw, when it stops.
#[derive(Debug, Serialize)]
pub struct ListenReport {
    pub local: SocketAddr,
    pub mode: Mode,
    pub options: EffectiveOpts,
    pub connections: Vec<ConnRow>,
    /// Stopped by Ctrl-C (open connections were dropped).
    pub interrupted: bool,
    /// Everything that happened, in order (`--json` only; `--jsonl` prints them as lines).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Happening>,
}

/// What `netlab tcp connect` saw.
#[derive(Debug, Serialize)]
pub struct ConnectReport {
    pub to: String,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub options: EffectiveOpts,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration_ms: u64,
    #[serde(flatten)]
    pub how: CloseHow,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Happening>,
}

/// Prints happenings the way each format wants them, and keeps them for `--json`.
struct Log<'a> {
    out: &'a mut Output,
    kept: Vec<Happening>,
    /// A listener's clients' bytes are tagged and escaped (see `output::chunk`); `None`
    /// writes them as they are (`tcp connect`, `tcp listen --raw`).
    tagger: Option<ChunkTagger>,
}

impl<'a> Log<'a> {
    fn new(out: &'a mut Output, tagger: Option<ChunkTagger>) -> Log<'a> {
        out.narrate_to_stderr();
        Log {
            out,
            kept: Vec::new(),
            tagger,
        }
    }

    fn emit(&mut self, h: Happening) -> io::Result<()> {
        match self.out.format() {
            Format::Human => match &h {
                // Several clients, or bytes that could command the terminal: each line
                // tagged with its connection, control characters shown as escapes.
                Happening::Received { conn, raw, .. } if self.tagger.is_some() => {
                    let text = self.tagger.as_mut().map(|t| t.render(*conn, raw));
                    self.out.data(text.unwrap_or_default().as_bytes())
                }
                // Netcat: the peer's bytes, as they are, on stdout.
                Happening::Received { raw, .. } => self.out.data(raw),
                Happening::Closed(end) if self.tagger.is_some() => {
                    let nl = self.tagger.as_mut().map_or("", |t| t.close(end.conn));
                    self.out.data(nl.as_bytes())?;
                    self.out.event(&h)
                }
                // The user typed it; saying so again would be noise.
                Happening::Sent { .. } => Ok(()),
                _ => self.out.event(&h),
            },
            Format::Jsonl => self.out.event(&h),
            Format::Json => {
                self.kept.push(h);
                Ok(())
            }
        }
    }
}

/// `netlab tcp listen`: accept clients until Ctrl-C or `--max-clients`.
pub async fn listen(plan: ListenPlan, out: &mut Output) -> anyhow::Result<()> {
    let listener = tcp::listen(plan.addr, &plan.opts).map_err(|e| listen_error(e, &plan))?;
    let local = listener
        .local_addr()
        .failed("could not read the listening address")?;
    let options =
        tcp::options_of(&listener, &plan.opts).failed("could not read the socket's options")?;
    let ctrl_c = tcp::interrupt().failed("could not watch for Ctrl-C")?;
    tokio::pin!(ctrl_c);
    let mut log = Log::new(out, (!plan.raw).then(ChunkTagger::new));
    log.emit(Happening::Listening {
        local,
        options: options.clone(),
    })?;
    if let Some(r) = reach::reachable(local, crate::wire::transport::Transport::Tcp) {
        log.out.event(&r)?;
    }

    let (events_tx, mut events) = mpsc::unbounded_channel();
    let mut stdin = (plan.mode == Mode::Interactive).then(tcp::spawn_stdin_reader);
    let mut clients = Clients {
        rows: Vec::new(),
        inputs: Vec::new(),
        next_conn: 1,
        finished: 0,
    };
    let mut interrupted = false;
    let setup = Setup {
        plan: &plan,
        per_conn_opts: SockOpts {
            reuseaddr: false,
            ..plan.opts.clone()
        },
        local,
        events_tx,
    };

    loop {
        if plan.max_clients.is_some_and(|max| clients.finished >= max) {
            break;
        }
        let accepting = plan.max_clients.is_none_or(|max| clients.next_conn <= max);
        tokio::select! {
            accepted = listener.accept(), if accepting => {
                let (stream, remote) = accepted.failed("accept() failed")?;
                clients.accept(stream, remote, &setup, &mut log, stdin.is_some())?;
            }
            Some(h) = events.recv() => clients.on_happening(h, &mut log)?,
            chunk = recv_stdin(&mut stdin), if stdin.is_some() => match chunk {
                Some(data) => clients.send_to_all(data).await,
                None => {
                    // stdin ended (Ctrl-D): every connection half-closes from our side.
                    stdin = None;
                    clients.inputs.clear();
                }
            },
            _ = &mut ctrl_c => {
                interrupted = true;
                break;
            }
        }
    }
    let mut rows = clients.rows;
    if interrupted {
        for row in rows.iter_mut().filter(|r| r.how.is_none()) {
            row.how = Some(CloseHow::Interrupted);
        }
    }
    let report = ListenReport {
        local,
        mode: plan.mode,
        options,
        connections: rows,
        interrupted,
        events: std::mem::take(&mut log.kept),
    };
    finish(log.out, &report)?;
    Ok(())
}

/// What every accepted connection is set up with.
struct Setup<'p> {
    plan: &'p ListenPlan,
    /// The listener's options, without SO_REUSEADDR (a listening socket's business).
    per_conn_opts: SockOpts,
    /// The listening address, for a connection whose own address cannot be read.
    local: SocketAddr,
    events_tx: mpsc::UnboundedSender<Happening>,
}

/// Where stdin goes for one connection (interactive mode).
struct ClientInput {
    conn: u32,
    tx: mpsc::Sender<Vec<u8>>,
}

/// The listener's connections: their rows for the report, and their input channels.
struct Clients {
    rows: Vec<ConnRow>,
    inputs: Vec<ClientInput>,
    next_conn: u32,
    /// Connections that have closed, for `--max-clients`.
    finished: u32,
}

impl Clients {
    /// A client connected: number it, report its 4-tuple and options, and run its
    /// session on its own task.
    fn accept(
        &mut self,
        stream: tokio::net::TcpStream,
        remote: SocketAddr,
        setup: &Setup<'_>,
        log: &mut Log<'_>,
        with_input: bool,
    ) -> anyhow::Result<()> {
        let plan = setup.plan;
        let conn = self.next_conn;
        self.next_conn += 1;
        // Linux copies most options from the listening socket to the accepted
        // one; setting them again makes that explicit, and the read-back shows it.
        tcp::set_options(&stream, &setup.per_conn_opts).failed("could not set socket options")?;
        let options =
            tcp::options_of(&stream, &plan.opts).failed("could not read the socket's options")?;
        let local = stream.local_addr().unwrap_or(setup.local);
        self.rows.push(ConnRow {
            conn,
            local,
            remote,
            bytes_in: 0,
            bytes_out: 0,
            duration_ms: None,
            how: None,
        });
        log.emit(Happening::Connected {
            conn,
            role: Role::Server,
            local,
            remote,
            options,
        })?;
        let input = if with_input {
            let (tx, rx) = mpsc::channel(16);
            self.inputs.push(ClientInput { conn, tx });
            Some(rx)
        } else {
            None
        };
        let cfg = SessionConfig {
            conn,
            mode: plan.mode,
            idle: plan.idle,
            abort_on_close: plan.opts.linger == Some(Duration::ZERO),
        };
        tokio::spawn(session(stream, cfg, input, setup.events_tx.clone()));
        Ok(())
    }

    /// Something happened on a connection: count it, forget a closed one's input, log it.
    fn on_happening(&mut self, h: Happening, log: &mut Log<'_>) -> io::Result<()> {
        track(&mut self.rows, &h);
        if let Happening::Closed(end) = &h {
            self.finished += 1;
            self.inputs.retain(|i| i.conn != end.conn);
        }
        log.emit(h)
    }

    /// A chunk of stdin goes to every open connection.
    async fn send_to_all(&self, data: Vec<u8>) {
        for input in &self.inputs {
            // A connection that has ended drops its receiver; that is fine.
            let _ = input.tx.send(data.clone()).await;
        }
    }
}

fn track(rows: &mut [ConnRow], h: &Happening) {
    let conn = match h {
        Happening::Received { conn, .. }
        | Happening::Sent { conn, .. }
        | Happening::Closed(SessionEnd { conn, .. }) => *conn,
        _ => return,
    };
    let Some(row) = rows.iter_mut().find(|r| r.conn == conn) else {
        return;
    };
    match h {
        Happening::Received { bytes, .. } => row.bytes_in += *bytes as u64,
        Happening::Sent { bytes, .. } => row.bytes_out += *bytes as u64,
        Happening::Closed(end) => {
            row.bytes_in = end.bytes_in;
            row.bytes_out = end.bytes_out;
            row.duration_ms = Some(end.duration_ms);
            row.how = Some(end.how.clone());
        }
        _ => {}
    }
}

async fn recv_stdin(stdin: &mut Option<mpsc::Receiver<Vec<u8>>>) -> Option<Vec<u8>> {
    match stdin {
        Some(rx) => rx.recv().await,
        None => None,
    }
}

fn listen_error(e: io::Error, plan: &ListenPlan) -> anyhow::Error {
    let (ip, port) = (plan.addr.ip(), plan.addr.port());
    let hint = match e.kind() {
        io::ErrorKind::AddrInUse => port_in_use_hint(port, &host::sockets_on_port(port)),
        io::ErrorKind::AddrNotAvailable => format!(
            "{ip} is not an address of this machine (`ip addr` lists them); 127.0.0.1 always is"
        ),
        io::ErrorKind::PermissionDenied => {
            "ports below 1024 need privileges: use --port 1024 or above".to_owned()
        }
        _ => {
            return anyhow::Error::new(e).context(Hinted::failure(format!(
                "could not listen on {}",
                plan.addr
            )))
        }
    };
    let message = match e.kind() {
        io::ErrorKind::AddrInUse => format!("port {port} on {ip} is already in use"),
        _ => format!("could not listen on {}", plan.addr),
    };
    anyhow::Error::new(e).context(Hinted::failure(message).with_hint(hint))
}

/// Why `bind()` found port `port` taken, told apart by what holds it (`states`, from
/// `/proc/net/tcp{,6}`): a listener, or only connections that are still closing.
fn port_in_use_hint(port: u16, states: &[TcpState]) -> String {
    const OTHER_PORT: &str = "Pick another --port, or --port 0 to let the kernel choose.";
    if states.contains(&TcpState::Listen) {
        return format!(
            "another socket already listens on port {port} (another `netlab tcp listen`? \
             `ss -ltnp` shows who). {OTHER_PORT}"
        );
    }
    if states.is_empty() {
        return format!(
            "another socket holds port {port} (`ss -tanp` shows which program). {OTHER_PORT}"
        );
    }
    let mut names: Vec<&str> = states.iter().map(|s| s.name()).collect();
    names.dedup();
    let closing = states.iter().all(|s| s.is_closing());
    format!(
        "nothing listens on port {port}: {} connection(s) that used it {} ({}; \
         `ss -tan 'sport = :{port}'` shows them). netlab's listeners set SO_REUSEADDR, \
         which lets them bind past closing connections that had it too; these belong to a \
         program that did not set it (a client, or another server). TIME-WAIT ends within \
         60 s. {OTHER_PORT}",
        states.len(),
        if closing {
            "are still closing"
        } else {
            "still hold it"
        },
        names.join(", ")
    )
}

/// `netlab tcp connect`: one connection, stdin to the server, the server to stdout.
pub async fn connect(plan: ConnectPlan, out: &mut Output) -> anyhow::Result<()> {
    let stream = connect_any(&plan).await?;
    let local = stream
        .local_addr()
        .failed("could not read the local address")?;
    let remote = stream
        .peer_addr()
        .failed("could not read the peer address")?;
    let options =
        tcp::options_of(&stream, &plan.opts).failed("could not read the socket's options")?;
    let mut log = Log::new(out, None);
    log.emit(Happening::Connected {
        conn: 1,
        role: Role::Client,
        local,
        remote,
        options: options.clone(),
    })?;

    let (events_tx, mut events) = mpsc::unbounded_channel();
    let cfg = SessionConfig {
        conn: 1,
        mode: Mode::Interactive,
        idle: plan.idle,
        abort_on_close: plan.opts.linger == Some(Duration::ZERO),
    };
    let started = Instant::now();
    let task = tokio::spawn(session(
        stream,
        cfg,
        Some(tcp::spawn_stdin_reader()),
        events_tx,
    ));
    let ctrl_c = tcp::interrupt().failed("could not watch for Ctrl-C")?;
    tokio::pin!(ctrl_c);
    let mut end = None;
    let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
    while end.is_none() {
        tokio::select! {
            h = events.recv() => match h {
                Some(h) => {
                    match &h {
                        Happening::Closed(e) => end = Some(e.clone()),
                        Happening::Received { bytes, .. } => bytes_in += *bytes as u64,
                        Happening::Sent { bytes, .. } => bytes_out += *bytes as u64,
                        _ => {}
                    }
                    log.emit(h)?;
                }
                None => break,
            },
            _ = &mut ctrl_c => {
                task.abort();
                break;
            }
        }
    }
    let end = end.unwrap_or(SessionEnd {
        conn: 1,
        local,
        remote,
        bytes_in,
        bytes_out,
        duration_ms: started.elapsed().as_millis() as u64,
        how: CloseHow::Interrupted,
    });
    let report = ConnectReport {
        to: plan.to.to_string(),
        local,
        remote,
        options,
        bytes_in: end.bytes_in,
        bytes_out: end.bytes_out,
        duration_ms: end.duration_ms,
        how: end.how.clone(),
        events: std::mem::take(&mut log.kept),
    };
    finish(log.out, &report)?;
    close_outcome(end, remote, plan.idle)
}

/// Resolve the server's name and connect to its first address that answers.
async fn connect_any(plan: &ConnectPlan) -> anyhow::Result<tokio::net::TcpStream> {
    let addrs = plan.to.resolve().await?;
    let mut stream = None;
    let mut last_error = None;
    // A name may have several addresses (localhost: ::1 and 127.0.0.1): try each in turn.
    for addr in addrs {
        match tcp::connect(addr, &plan.opts, plan.timeout).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_error = Some((addr, e)),
        }
    }
    match (stream, last_error) {
        (Some(s), _) => Ok(s),
        (None, Some((addr, e))) => Err(connect_error(e, addr, plan)),
        // `resolve` returns at least one address or an error, so one of the two is set.
        (None, None) => Err(Hinted::failure(format!("'{}' has no addresses", plan.to.host)).into()),
    }
}

/// How the connection ended, as the exit status: a reset, an idle timeout or an error
/// fails, with what it means; an orderly or chosen end succeeds.
fn close_outcome(end: SessionEnd, remote: SocketAddr, idle: Duration) -> anyhow::Result<()> {
    match end.how {
        CloseHow::ResetByPeer => Err(Hinted::failure(format!(
            "connection reset by {remote} after {} received and {} sent",
            human_bytes(end.bytes_in),
            human_bytes(end.bytes_out)
        ))
        .with_hint(
            "the peer's kernel sent RST: the program there closed with SO_LINGER 0, \
             crashed, or closed with unread data. Bytes still in flight are lost.",
        )
        .into()),
        CloseHow::IdleTimeout => Err(Hinted::failure(format!(
            "nothing was sent or received for {} s",
            idle.as_secs_f64()
        ))
        .with_hint("raise --idle-timeout, or check that the server answers")
        .into()),
        CloseHow::Error(msg) => {
            Err(Hinted::failure(format!("the connection failed: {msg}")).into())
        }
        CloseHow::Orderly | CloseHow::AbortedByUs | CloseHow::Interrupted => Ok(()),
    }
}

fn connect_error(e: io::Error, addr: SocketAddr, plan: &ConnectPlan) -> anyhow::Error {
    let port = addr.port();
    let (message, hint) = match e.kind() {
        io::ErrorKind::ConnectionRefused => (
            format!("connection refused by {addr}"),
            format!(
                "nothing listens on port {port} there: its kernel answered our SYN with RST. \
                 Start a server first, e.g. `netlab tcp listen --port {port}`."
            ),
        ),
        io::ErrorKind::TimedOut => (
            format!(
                "no answer from {addr} within {} s",
                plan.timeout.as_secs_f64()
            ),
            "our SYN got no SYN-ACK and no RST: the host is down, or a firewall drops \
             packets silently. Check the address, or raise --timeout."
                .to_owned(),
        ),
        io::ErrorKind::NetworkUnreachable => (
            format!(
                "network unreachable: this machine has no route to {}",
                addr.ip()
            ),
            "the kernel refused before sending anything: check the address and the routes \
             (`ip route`); is the interface up?"
                .to_owned(),
        ),
        io::ErrorKind::HostUnreachable => (
            format!("host {} is unreachable", addr.ip()),
            "no machine answered on the way (ARP/ND failed, or a router sent ICMP \
             unreachable): check the address"
                .to_owned(),
        ),
        io::ErrorKind::AddrNotAvailable => (
            format!("cannot connect to {addr}"),
            "that address cannot be a destination (0.0.0.0?), or no local port is free".to_owned(),
        ),
        _ => {
            return anyhow::Error::new(e)
                .context(Hinted::failure(format!("could not connect to {addr}")))
        }
    };
    anyhow::Error::new(e).context(Hinted::failure(message).with_hint(hint))
}

impl Render for Happening {
    fn render_human(&self, style: &Style) -> String {
        let tag = |conn: &u32| style.paint(Paint::Dim, format!("[conn {conn}]"));
        match self {
            Happening::Listening { local, options } => {
                // On 0.0.0.0 or ::, a `Reachable` event follows with the real addresses.
                let try_it = if local.ip().is_unspecified() {
                    String::new()
                } else {
                    format!(" Try: netlab tcp connect {local}")
                };
                let mut s = format!(
                    "{} on {local} (TCP).{try_it}\n  options: {}",
                    style.paint(Paint::Bold, "listening"),
                    describe_opts(options)
                );
                for n in buffer_notes(options) {
                    s.push_str(&format!("\n  note: {n}"));
                }
                s
            }
            Happening::Connected {
                conn,
                role,
                local,
                remote,
                options,
            } => {
                let (us, them) = match role {
                    Role::Client => ("client", "server"),
                    Role::Server => ("server", "client"),
                };
                let mut s = format!(
                    "{} {}: handshake done. 4-tuple: us ({us}) {local} ⇄ {them} {remote}\n  \
                     options: {}",
                    tag(conn),
                    style.paint(Paint::Good, "connected"),
                    describe_opts(options)
                );
                for n in buffer_notes(options) {
                    s.push_str(&format!("\n  note: {n}"));
                }
                s
            }
            Happening::Received { conn, bytes, .. } => {
                format!("{} received {}", tag(conn), human_bytes(*bytes as u64))
            }
            Happening::Sent { conn, bytes } => {
                format!("{} sent {}", tag(conn), human_bytes(*bytes as u64))
            }
            Happening::PeerHalfClosed { conn } => format!(
                "{} the peer half-closed: read() returned 0 because its FIN arrived. It will \
                 send nothing more; we may still send.",
                tag(conn)
            ),
            Happening::HalfClosed { conn } => format!(
                "{} we half-closed: shutdown(Write) sent our FIN. We can still receive.",
                tag(conn)
            ),
            Happening::Closed(end) => format!(
                "{} {} after {} ms: {} received, {} sent",
                tag(&end.conn),
                how_text(&end.how, style),
                end.duration_ms,
                human_bytes(end.bytes_in),
                human_bytes(end.bytes_out)
            ),
        }
    }
}

fn how_text(how: &CloseHow, style: &Style) -> String {
    match how {
        CloseHow::Orderly => style.paint(Paint::Good, "closed in order (FIN both ways)"),
        CloseHow::ResetByPeer => style.paint(
            Paint::Warn,
            "reset by the peer (its kernel sent RST: connection reset)",
        ),
        CloseHow::AbortedByUs => style.paint(
            Paint::Warn,
            "aborted by us (SO_LINGER 0: close() sent RST, not FIN)",
        ),
        CloseHow::IdleTimeout => style.paint(Paint::Warn, "closed after the idle timeout"),
        CloseHow::Interrupted => style.paint(Paint::Warn, "dropped when netlab was stopped"),
        CloseHow::Error(e) => style.paint(Paint::Bad, format!("failed: {e}")),
    }
}

impl Render for ListenReport {
    fn render_human(&self, style: &Style) -> String {
        let mut s = format!(
            "{} on {}: {} connection(s)\n",
            style.paint(Paint::Bold, "summary"),
            self.local,
            self.connections.len()
        );
        if self.connections.is_empty() {
            return s;
        }
        let mut t = style.table();
        t.set_header(vec![
            "conn",
            "client",
            "received",
            "sent",
            "time",
            "how it ended",
        ]);
        for c in &self.connections {
            t.add_row(vec![
                c.conn.to_string(),
                c.remote.to_string(),
                human_bytes(c.bytes_in),
                human_bytes(c.bytes_out),
                c.duration_ms
                    .map(|ms| format!("{ms} ms"))
                    .unwrap_or_else(|| "-".to_owned()),
                c.how
                    .as_ref()
                    .map(|h| how_text(h, style))
                    .unwrap_or_else(|| "still open".to_owned()),
            ]);
        }
        s.push_str(&t.to_string());
        s
    }
}

impl Render for ConnectReport {
    fn render_human(&self, style: &Style) -> String {
        format!(
            "{} {} ⇄ {}: {} after {} ms, {} received, {} sent",
            style.paint(Paint::Bold, "summary"),
            self.local,
            self.remote,
            how_text(&self.how, style),
            self.duration_ms,
            human_bytes(self.bytes_in),
            human_bytes(self.bytes_out)
        )
    }
}
