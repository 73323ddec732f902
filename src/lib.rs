//! # netlab: see what sockets, streams, datagrams, packets and WebSockets really are
//!
//! netlab is one binary of labs that a networking course runs on a laptop. This crate is
//! laid out so that a student can read it layer by layer:
//!
//! ```text
//!  main ─► app ─► cli                     (clap: what the user typed)
//!           ├──► cmd::*  ─► net::*        (sockets, capture: all I/O lives here)
//!           │         └───► wire::*       (pure: what bytes mean; no I/O, no clock)
//!           └──► output                   (the only printer: tables, JSON, diagrams)
//!  layers ◄── wire, output, cmd           (OSI and TCP/IP placement, in one place)
//! ```
//!
//! | concept | where it is taught |
//! |---|---|
//! | the whole course, narrated | [`cmd::tour`], `netlab tour` |
//! | the OSI, TCP/IP and five-layer models | [`layers`], `netlab osi` |
//! | errors that say what to do | [`error`], [`output::report_fatal`] |
//! | client/server timelines | [`output::diagram`] |
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod cmd;
pub mod error;
pub mod labs;
pub mod layers;
pub mod net;
pub mod output;
pub mod shipped;
pub mod vocabulary;
pub mod wire;
