//! `netlab capture`: clap structs only.

use clap::Args;
use std::path::PathBuf;

/// Capture packets (live, or from a pcap/pcapng file) and show each one decoded layer by
/// layer, mapped to the OSI and TCP/IP models.
///
/// What you will see: by default one line per packet (time, size, addresses and ports,
/// protocol, TCP flags, lengths), with the TCP handshake (SYN, SYN-ACK, ACK) and
/// teardown (FIN, RST) marked and sequence numbers counted from each side's random
/// initial number. Wireshark's expert notes end a line where they apply
/// ([TCP Retransmission], [TCP Dup ACK 12#1], [TCP Out-Of-Order], [TCP ZeroWindow],
/// [TCP Window Update], [TCP Keep-Alive]) and the summary counts them. `--layers` shows
/// every header as a tree with its OSI layer, TCP/IP layer and unit of data (frame,
/// packet, segment, datagram), then the HTTP/1.x messages and WebSocket frames that
/// completed in the packet (decoded from the reassembled stream, with the packets they
/// came in), and inside them the Engine.IO and Socket.IO packets of a connection whose
/// request asked for Engine.IO (`EIO=4`); `--osi` lays one packet down all seven OSI
/// layers; `--hex` labels every byte with its layer and field.
///
/// Live capture needs the CAP_NET_RAW capability (root, or `setcap`); without it, use
/// `--read FILE`, `--example NAME` or `--own-namespace -- COMMAND`. On Linux `lo` every packet is seen
/// twice by a packet socket (outgoing and incoming copy): netlab shows each once, as
/// tcpdump does, and says how many copies it removed.
///
/// Examples:
///   netlab capture --examples
///   netlab capture --example tcp-handshake
///   netlab capture --example udp-exchange --layers udp
///   sudo netlab capture --count 10 tcp port 8000
///   netlab capture --own-namespace --layers -- curl -s http://127.0.0.1:1/
///   netlab capture --example http-ipv4 --follow 1
///   netlab capture --read mine.pcap --layers --count 8
///
/// The captures the labs and docs read are built into netlab: `--examples` lists them
/// (tcp-handshake, udp-exchange, http-keepalive, ws-demo, socketio, dns, …).
///
/// Exit status: 0 when the whole file was read; 3 when it ends in the middle of a record
/// (a capture cut short: every complete record is shown, then the summary and an error
/// name the cut record); 1 for other failures (a damaged record, a missing file);
/// 2 for a mistake on the command line.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CaptureArgs {
    /// Interface to capture on (default: the loopback interface). See `--list`.
    #[arg(short, long, value_name = "IF")]
    pub interface: Option<String>,
    /// Stop after this many packets (that match the filter).
    #[arg(short, long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this many seconds (live capture).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// List interfaces with their addresses, and exit.
    #[arg(long)]
    pub list: bool,
    /// Read packets from a pcap or pcapng file instead of capturing (no privilege needed).
    #[arg(short, long, value_name = "FILE")]
    pub read: Option<PathBuf>,
    /// Read one of the captures built into netlab (the ones the labs and docs use), by
    /// name: tcp-handshake, udp-exchange, ws-demo, … (`--examples` lists them all).
    #[arg(long, value_name = "NAME", conflicts_with = "read")]
    pub example: Option<String>,
    /// List the captures built into netlab, with what each one holds, and exit.
    #[arg(long)]
    pub examples: bool,
    /// Also write the packets shown to a pcap file (tcpdump and Wireshark open it).
    #[arg(short, long, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Show each packet as a tree of layers with OSI and TCP/IP placement, application
    /// layers (HTTP/1.x, WebSocket) included on the packet where each unit completes.
    #[arg(long)]
    pub layers: bool,
    /// Show each packet laid down the seven OSI layers, beside RFC 1122's four and the
    /// five-layer textbook model.
    #[arg(long)]
    pub osi: bool,
    /// Show an annotated hexdump: every byte labelled with its layer and field.
    #[arg(long)]
    pub hex: bool,
    /// Follow one conversation, like Wireshark's "Follow TCP Stream": print its bytes
    /// put back in order (retransmissions shown once, out-of-order segments sorted,
    /// bytes the capture missed marked as gaps), lines from the first speaker (the
    /// client) marked `>` and the replies `<`. CONV is the conversation's number
    /// (counted from 1 in order of first packet, TCP and UDP together; a wrong number
    /// lists them) or its ends, HOST:PORT-HOST:PORT. With --hex, a hexdump instead.
    #[arg(long, value_name = "CONV")]
    pub follow: Option<String>,
    /// Statistics instead of packets: a protocol hierarchy (packets and bytes per
    /// protocol, by OSI and TCP/IP layer), every conversation (ends, packets and bytes
    /// each way, duration, state; the N that --follow takes) and the TCP notes
    /// (retransmissions, out-of-order segments, gaps, resets).
    #[arg(long)]
    pub stats: bool,
    /// With --follow or --stats: how many out-of-order bytes one direction of one
    /// conversation may hold while it waits for a missing segment (default 4M). When a
    /// conversation reaches it, netlab stops waiting, declares the hole a gap, says so
    /// and carries on. BYTES is a number, or one with k or M (KiB, MiB); at most 1G.
    #[arg(long, value_name = "BYTES")]
    pub max_stream_buffer: Option<String>,
    /// Print no packets, only the summary at the end (counts, duplicates, drops).
    #[arg(short, long)]
    pub quiet: bool,
    /// Run COMMAND (after `--`) in a new user and network namespace with its own
    /// loopback, and capture its traffic there: no root needed where the kernel allows
    /// unprivileged user namespaces.
    #[arg(long)]
    pub own_namespace: bool,
    /// Frames the capture thread may queue for the printer before it counts drops.
    #[arg(long, default_value_t = 16_384, value_name = "N", hide = true)]
    pub queue: usize,
    /// Internal: set when netlab re-runs itself inside the namespace.
    #[arg(long, hide = true)]
    pub in_namespace: bool,
    /// A tcpdump-style filter: tcp, udp, icmp, icmp6, arp, ip, ip6, [src|dst] host A,
    /// [src|dst] port N, joined with and, or, not and parentheses.
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
    /// With --own-namespace: the command to run, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}
