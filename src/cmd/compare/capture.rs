//! The capture beside each run: when netlab may, each transport's run is captured live
//! on loopback, filtered to its server's port, and its packets are counted
//! (`wire::application::push::WireTally`): the IP and TCP headers, handshakes and ACKs that the byte
//! counts at the socket API cannot see (RFC 791 §3.1, RFC 9293 §3.1).

use crate::wire::application::push::WireTally;

/// Why a run is not captured, or `--capture` cannot be honoured.
///
/// Each message is the one line the report shows (the OS error behind it is left out, so
/// `error: --capture: …` stays one line; the hint says what to do).
#[derive(Debug, thiserror::Error)]
pub enum NoCapture {
    /// The filter for the run's port did not parse (netlab writes it, so a bug).
    #[error("{0}")]
    Filter(crate::wire::dissect::filter::FilterError),
    /// Opening a raw capture was refused: that needs root or CAP_NET_RAW.
    #[error("netlab may not capture here: that needs root or CAP_NET_RAW")]
    NotPermitted,
    /// The capture could not be opened.
    #[error("{0}")]
    Open(crate::net::capture::CaptureError),
    /// This netlab was built without the `capture` feature.
    #[error("this netlab was built without live capture (the `capture` feature)")]
    NotBuilt,
}

/// What a capture of one run counted, and what limits it (or why there is no count).
pub struct Counted {
    pub wire: Option<WireTally>,
    pub note: Option<String>,
}

#[cfg(feature = "capture")]
pub type Capture = crate::net::capture::LiveCapture;
#[cfg(not(feature = "capture"))]
pub type Capture = ();

/// Start capturing this run's packets on loopback, or say why not.
#[cfg(feature = "capture")]
pub fn start(port: u16) -> Result<Capture, NoCapture> {
    use crate::net::capture::CaptureError;
    use crate::net::capture::{loopback_name, LiveCapture};
    use crate::wire::dissect::filter::Filter;
    use crate::wire::dissect::{dissect, LinkType};
    let filter = Filter::parse(&format!("tcp port {port}")).map_err(NoCapture::Filter)?;
    let keep = Box::new(move |b: &[u8]| {
        let d = dissect(LinkType::Ethernet, b);
        filter.matches(&d) || is_end_mark(&d, b, port)
    });
    LiveCapture::start(&loopback_name(), 1 << 16, keep).map_err(|e| match e {
        CaptureError::PermissionDenied { .. } => NoCapture::NotPermitted,
        e => NoCapture::Open(e),
    })
}

/// Whether netlab may capture on loopback here (it opens a capture and closes it).
#[cfg(feature = "capture")]
pub fn may_capture() -> Result<(), NoCapture> {
    use crate::net::capture::{loopback_name, LiveCapture};
    let cap = LiveCapture::start(&loopback_name(), 16, Box::new(|_: &[u8]| false))
        .map_err(NoCapture::Open)?;
    cap.finish();
    Ok(())
}

#[cfg(not(feature = "capture"))]
pub fn may_capture() -> Result<(), NoCapture> {
    Err(NoCapture::NotBuilt)
}

#[cfg(not(feature = "capture"))]
pub fn start(_port: u16) -> Result<Capture, NoCapture> {
    Err(NoCapture::NotBuilt)
}

/// What ends a run's count: a UDP datagram with these bytes, sent to the run's port once
/// the run is over. The kernel hands a capture its packets in the order they crossed
/// `lo`, so when the capture thread passes this one on, it has passed on every packet of
/// the run before it, however late the thread got the CPU. (Waiting for a quiet spell
/// instead, as netlab once did, undercounts when the capture thread is starved: the
/// packets are still queued in the kernel while the spell passes.)
const END_MARK: &[u8] = b"netlab compare: end of the run";

/// Whether a captured frame is this run's end mark (a UDP datagram, not a quoted one in
/// an ICMP error, to `port`, carrying [`END_MARK`]).
#[cfg(feature = "capture")]
fn is_end_mark(d: &crate::wire::dissect::Dissection, frame: &[u8], port: u16) -> bool {
    d.tcp().is_none()
        && d.ports().is_some_and(|(_, to)| to == port)
        && frame.get(d.payload.clone()) == Some(END_MARK)
}

/// Count what the capture saw: every packet up to the end mark.
#[cfg(feature = "capture")]
pub async fn finish(cap: Capture, server: std::net::SocketAddr) -> Counted {
    use crate::wire::dissect::dissect;
    use std::sync::atomic::Ordering;
    use std::time::Duration;
    // The kernel sends a run's last packets on its own timers (a delayed ACK comes up
    // to 40 ms after the data it acknowledges), whatever this process is doing: give
    // them time to cross `lo` before the mark goes after them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let marked = crate::net::udp::bind_blocking(std::net::SocketAddr::new(server.ip(), 0))
        .and_then(|s| s.send_to(END_MARK, server))
        .is_ok();
    // With the mark sent, wait for it as long as a starved thread may need; without it
    // (the send failed), fall back to a quiet 200 ms.
    let wait = Duration::from_millis(if marked { 10_000 } else { 200 });
    let counted = tokio::task::spawn_blocking(move || {
        let mut t = WireTally::default();
        let mut saw_mark = false;
        // The count bound keeps a flood from holding us.
        for _ in 0..10_000_000u64 {
            let Some(f) = cap.next_timeout(wait) else {
                break;
            };
            let d = dissect(f.link, &f.data);
            if is_end_mark(&d, &f.data, server.port()) {
                saw_mark = true;
                break;
            }
            t.add(&d);
        }
        let dropped = cap.stats.dropped.load(Ordering::Relaxed);
        cap.finish();
        (t, dropped, saw_mark || !marked)
    })
    .await;
    match counted {
        Ok((t, _, false)) => Counted {
            wire: Some(t),
            note: Some(
                "the capture did not reach the end of the run in 10 s: its counts may be low"
                    .into(),
            ),
        },
        Ok((t, 0, true)) => Counted {
            wire: Some(t),
            note: None,
        },
        Ok((t, dropped, true)) => Counted {
            wire: Some(t),
            note: Some(format!(
                "the capture missed {dropped} packet(s): its counts are low"
            )),
        },
        Err(e) => Counted {
            wire: None,
            note: Some(format!("not counted: the capture thread failed: {e}")),
        },
    }
}

#[cfg(not(feature = "capture"))]
pub async fn finish(_cap: Capture, _server: std::net::SocketAddr) -> Counted {
    Counted {
        wire: None,
        note: Some("not counted: built without live capture".into()),
    }
}
