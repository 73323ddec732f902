//! Live capture: on an interface (`--interface`, loopback by default), and around a
//! command in a network namespace of its own (`--own-namespace`), where netlab re-runs
//! itself inside the namespace (`--in-namespace`) and captures on the namespace's `lo`.

use super::{capture_failed, Pipeline, Plan};
use crate::error::{usage, HintExt, Hinted};
use crate::output::Output;
#[cfg(not(feature = "capture"))]
use crate::net::capture::CaptureError;
#[cfg(feature = "capture")]
use crate::{
    cmd::capture::CaptureStarted,
    wire::dissect::{dissect, LinkType},
};
#[cfg(feature = "capture")]
use std::time::Duration;

#[cfg(not(feature = "capture"))]
pub(super) fn live(_: Plan, _: Option<String>, _: Option<Spawn>, _: &mut Output) -> anyhow::Result<()> {
    capture_failed(
        Err(CaptureError::NotBuilt),
        "starting a live capture".into(),
    )
}

#[cfg(not(feature = "capture"))]
pub(super) fn in_namespace(_: Plan, _: Vec<String>, _: &mut Output) -> anyhow::Result<()> {
    capture_failed(
        Err(CaptureError::NotBuilt),
        "starting a live capture".into(),
    )
}

/// Starts the command whose traffic is captured (once the capture is running).
type Spawn = Box<dyn FnOnce() -> anyhow::Result<std::process::Child>>;

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
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    let iface = interface.unwrap_or_else(crate::net::capture::loopback_name);
    let keep: crate::net::capture::Keep = match plan.filter.clone() {
        Some((_, f)) => Box::new(move |bytes| f.matches(&dissect(LinkType::Ethernet, bytes))),
        None => Box::new(|_| true),
    };
    let cap = capture_failed(
        LiveCapture::start(&iface, plan.queue, keep),
        format!("capturing on `{iface}`"),
    )?;
    // Ctrl-C ends the capture cleanly, so the summary (and dropped: N) is still printed.
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        std::thread::spawn(move || {
            if let Ok(rt) =
                crate::net::runtime::runtime(crate::net::runtime::Runtime::CurrentThread)
            {
                rt.block_on(async {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        flag.store(true, Ordering::Relaxed);
                    }
                });
            }
        });
    }
    out.event(&CaptureStarted {
        event: "started",
        interface: iface.clone(),
        loopback: cap.loopback,
        filter: plan.filter.as_ref().map(|f| f.0.clone()),
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

/// Inside the namespace netlab made: bring its loopback up, start capturing, run the
/// command, stop when it exits.
#[cfg(feature = "capture")]
pub(super) fn in_namespace(plan: Plan, command: Vec<String>, out: &mut Output) -> anyhow::Result<()> {
    use std::process::{Command, Stdio};
    let status = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .failed("running `ip link set lo up` inside the namespace")?;
    if !status.success() {
        return Err(
            Hinted::failure("could not bring up the namespace's loopback interface")
                .with_hint("is iproute2 (`ip`) installed?")
                .into(),
        );
    }
    // Start the capture first so the command's first packet is seen, then the command.
    let mut command = command.into_iter();
    let prog = command.next().ok_or_else(|| {
        usage(
            "no command given",
            "netlab capture --own-namespace -- COMMAND",
        )
    })?;
    let args: Vec<String> = command.collect();
    let iface = Some("lo".to_owned());
    let spawn = move || {
        Command::new(&prog)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()))
            .stderr(Stdio::inherit())
            .spawn()
            .hinted(
                format!("could not run `{prog}`"),
                "check the command after `--`",
            )
    };
    live(plan, iface, Some(Box::new(spawn)), out)
}

/// Re-run this netlab inside `unshare --user --map-root-user --net`.
pub(super) fn own_namespace(_plan: Plan, _command: &[String]) -> anyhow::Result<()> {
    use std::process::{Command, Stdio};
    let probe = Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    match probe {
        Err(e) => {
            return Err(anyhow::Error::new(e).context(
                Hinted::failure("could not run `unshare` (util-linux) to create a namespace")
                    .with_hint(
                        "install util-linux, or capture with sudo, or read a file with --read",
                    ),
            ))
        }
        Ok(o) if !o.status.success() => {
            let why = String::from_utf8_lossy(&o.stderr).trim().to_owned();
            return Err(Hinted::failure(format!("the kernel refused to create a user and network namespace: {why}"))
                .with_hint(
                    "unprivileged user namespaces are disabled here (see `sysctl user.max_user_namespaces`, \
                     `kernel.unprivileged_userns_clone`, or AppArmor's `kernel.apparmor_restrict_unprivileged_userns`). \
                     Capture with sudo instead, or read a saved capture with --read FILE",
                )
                .into());
        }
        Ok(_) => {}
    }
    let exe = std::env::current_exe().failed("finding the netlab executable")?;
    let args: Vec<String> = std::env::args()
        .skip(1)
        .map(|a| {
            if a == "--own-namespace" {
                "--in-namespace".to_owned()
            } else {
                a
            }
        })
        .collect();
    let status = Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "--"])
        .arg(exe)
        .args(args)
        .status()
        .failed("running netlab inside a new namespace")?;
    if status.success() {
        Ok(())
    } else {
        // The inner netlab already printed its error.
        Err(Hinted::failure(format!("capture inside the namespace failed ({status})")).into())
    }
}
