//! Live capture on an interface (`--interface`, loopback by default): frames from
//! `net::capture::LiveCapture` through the pipeline until Ctrl-C, `--duration`, `--count`,
//! or (inside `--own-namespace`'s namespace) the command's exit.

use super::{capture_failed, Plan};
#[cfg(not(feature = "capture"))]
use crate::net::capture::CaptureError;
use crate::output::Output;
#[cfg(feature = "capture")]
use {
    super::{CaptureStarted, Pipeline},
    crate::wire::dissect::{dissect, LinkType},
    std::time::Duration,
};

#[cfg(not(feature = "capture"))]
pub(super) fn live(
    _: Plan,
    _: Option<String>,
    _: Option<Spawn>,
    _: &mut Output,
) -> anyhow::Result<()> {
    capture_failed(
        Err(CaptureError::NotBuilt),
        "starting a live capture".into(),
    )
}

/// Starts the command whose traffic is captured (once the capture is running).
pub(super) type Spawn = Box<dyn FnOnce() -> anyhow::Result<std::process::Child>>;

/// Live capture. With `spawn`, start that command once the capture runs, and capture
/// until it exits (then drain briefly).
#[cfg(feature = "capture")]
pub(super) fn live(
    plan: Plan,
    interface: Option<String>,
    spawn: Option<Spawn>,
    out: &mut Output,
) -> anyhow::Result<()> {
    use crate::net::capture::LiveCapture;
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    let iface = interface.unwrap_or_else(crate::net::capture::loopback_name);
    let keep: crate::net::capture::Keep = match plan.filter.clone() {
        Some(f) => Box::new(move |bytes| f.filter.matches(&dissect(LinkType::Ethernet, bytes))),
        None => Box::new(|_| true),
    };
    let cap = capture_failed(
        LiveCapture::start(&iface, plan.queue, keep),
        format!("capturing on `{iface}`"),
    )?;
    // Ctrl-C ends the capture cleanly, so the summary (and dropped: N) is still printed.
    let interrupted = ctrl_c_flag();
    out.event(&CaptureStarted {
        event: "started",
        interface: iface.clone(),
        loopback: cap.loopback,
        filter: plan.filter.as_ref().map(|f| f.text.clone()),
    })?;
    let mut child = match spawn {
        Some(f) => Some(f()?),
        None => None,
    };
    let started = Instant::now();
    let mut child_done_at: Option<Instant> = None;
    let mut p = Pipeline::new(out, plan.clone(), format!("interface {iface} (live)"))?;
    loop {
        if interrupted.load(Ordering::Relaxed)
            || plan.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        if let Some(c) = child.as_mut() {
            if child_done_at.is_none() && !matches!(c.try_wait(), Ok(None)) {
                child_done_at = Some(Instant::now());
            }
        }
        // After the command exits, keep reading what is already queued for a moment.
        if child_done_at.is_some_and(|t| t.elapsed() > Duration::from_millis(300)) {
            break;
        }
        if let Some(f) = cap.next_timeout(Duration::from_millis(50)) {
            if p.frame(f.borrow())? {
                break;
            }
        }
    }
    if let Some(mut c) = child {
        if matches!(c.try_wait(), Ok(None)) {
            let _ = c.kill();
        }
        let _ = c.wait();
    }
    let stats = cap.stats.clone();
    let loopback = cap.loopback;
    cap.finish();
    p.summary.dropped = Some(stats.dropped.load(Ordering::Relaxed));
    if loopback {
        p.summary.loopback_duplicates_removed = Some(stats.duplicates.load(Ordering::Relaxed));
    }
    p.finish()?;
    Ok(())
}

/// A flag set when Ctrl-C arrives (SIGINT on Unix), watched on a thread of its own.
#[cfg(feature = "capture")]
fn ctrl_c_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    std::thread::spawn(move || {
        if let Ok(rt) = crate::net::runtime::runtime(crate::net::runtime::Runtime::CurrentThread) {
            rt.block_on(async {
                if tokio::signal::ctrl_c().await.is_ok() {
                    flag.store(true, Ordering::Relaxed);
                }
            });
        }
    });
    interrupted
}
