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
    let keep = Box::new(move |b: &[u8]| filter.matches(&dissect(LinkType::Ethernet, b)));
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

/// Count what the capture saw, once the last packets (FIN, ACK) have had time to arrive.
#[cfg(feature = "capture")]
pub async fn finish(cap: Capture) -> Counted {
    use crate::wire::dissect::dissect;
    use std::sync::atomic::Ordering;
    use std::time::Duration;
    let counted = tokio::task::spawn_blocking(move || {
        let mut t = WireTally::default();
        // A quiet 200 ms ends the drain; the count bound keeps a flood from holding us.
        for _ in 0..10_000_000u64 {
            match cap.next_timeout(Duration::from_millis(200)) {
                Some(f) => t.add(&dissect(f.link, &f.data)),
                None => break,
            }
        }
        let dropped = cap.stats.dropped.load(Ordering::Relaxed);
        cap.finish();
        (t, dropped)
    })
    .await;
    match counted {
        Ok((t, 0)) => Counted {
            wire: Some(t),
            note: None,
        },
        Ok((t, dropped)) => Counted {
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
pub async fn finish(_cap: Capture) -> Counted {
    Counted {
        wire: None,
        note: Some("not counted: built without live capture".into()),
    }
}
