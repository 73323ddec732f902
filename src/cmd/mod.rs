//! One module per subcommand. Each turns a validated `Plan` into a `Report` (and, for
//! streaming labs, `Event`s) by combining `net` adapters and `wire` decoders, and hands
//! them to `output`. Labs never print.

pub mod capture;
pub mod compare;
pub mod delivery;
pub mod explain;
pub mod lab;
pub mod osi;
pub mod proxy;
pub mod queue;
pub mod reach;
pub mod socketio;
pub mod tcp;
pub mod tour;
pub mod udp;
pub mod ws;

use crate::cli::Command;
use crate::output::Output;

/// Environment variable naming a file to which netlab appends, as one JSON line, what the
/// command reported: `{"command": "capture", "reports": [...], "events": [...]}`.
pub const RECORD_ENV: &str = "NETLAB_LAB_RECORD";

/// Hand one parsed command to its lab. `netlab lab run` also comes here to run a step's
/// command in-process, with an `Output` of its own.
pub fn dispatch(command: Command, out: &mut Output) -> anyhow::Result<()> {
    match command {
        Command::Osi(_) => osi::run(out),
        Command::Tcp(args) => tcp::run(args, out),
        Command::Udp(args) => udp::run(args, out),
        Command::Ws(args) => ws::run(args, out),
        Command::Socketio(args) => socketio::run(args, out),
        Command::Queue(args) => queue::run(args, out),
        Command::Capture(args) => capture::run(args.try_into()?, out),
        Command::Compare(args) => compare::run(args, out),
        Command::Proxy(args) => proxy::run(args.try_into()?, out),
        Command::Delivery(args) => delivery::run((&args).try_into()?, out),
        Command::Explain(args) => explain::run(args.try_into()?, out),
        Command::Tour(args) => tour::run(args, out),
        Command::Lab(args) => lab::run(args, out),
    }
}

/// The address a server binds, from its `--host`: an IP address, never a name (a server
/// listens on one of this machine's addresses).
pub fn host_ip(host: &str) -> anyhow::Result<std::net::IpAddr> {
    host.parse().map_err(|_| {
        crate::error::usage(
            format!("'{host}' is not an IP address"),
            "use 127.0.0.1 (this machine only), ::1, or 0.0.0.0 to accept other machines",
        )
    })
}
