//! One module per subcommand. Each turns a validated `Plan` into a `Report` (and, for
//! streaming labs, `Event`s) by combining `net` adapters and `wire` decoders, and hands
//! them to `output`. Labs never print.

pub mod applayers;
pub mod capture;
pub mod compare;
pub mod explain;
pub mod follow;
pub mod lab;
pub mod osi;
pub mod stats;
pub mod tcp;
pub mod tour;
pub mod udp;
pub mod ws;
