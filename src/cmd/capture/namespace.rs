//! `--own-namespace -- COMMAND`: capture one command's traffic, and nothing else, without
//! root where the kernel allows unprivileged user namespaces.
//!
//! A new network namespace (network_namespaces(7)) has its own interfaces, and so its
//! own loopback: every packet on that `lo` is the command's. Capturing needs
//! CAP_NET_RAW, which a user namespace grants over the network namespaces it owns
//! (user_namespaces(7)). The crate forbids `unsafe`, so netlab cannot call `unshare(2)`
//! and then carry on in the new namespace itself; instead it re-runs itself there through
//! `net::netns` (the `unshare` command, `lo` brought up first) with `--in-namespace` in
//! place of `--own-namespace`. The netlab inside captures on `lo`, starts COMMAND once
//! the capture runs, and stops when COMMAND exits; its output and its exit code are the
//! run's.

use super::Plan;
use crate::error::{HintExt, Hinted};
use crate::net::netns::{self, NetnsError};
use crate::output::{Format, Output};
use std::path::Path;
use std::time::Duration;

/// How long the trial namespace may take (it runs `true`).
const PROBE_LIMIT: Duration = Duration::from_secs(10);

/// Outside: make the namespace and re-run this netlab inside it, attached to this
/// terminal, with the same plan and output format.
pub(super) fn own_namespace(plan: &Plan, command: &[String], out: &Output) -> anyhow::Result<()> {
    // A trial run first, so that a kernel that refuses gets one clear error and a hint
    // rather than `unshare`'s own words halfway through the output.
    probe()?;
    let exe = std::env::current_exe().failed("finding the netlab executable")?;
    let args = inner_argv(plan, command, out.format(), out.style().color);
    let status = netns::run_attached_in_new_netns(&exe, &args).map_err(netns_failed)?;
    if status.success() {
        Ok(())
    } else {
        // The inner netlab already printed its error.
        Err(Hinted::failure(format!("capture inside the namespace failed ({status})")).into())
    }
}

/// Can a namespace be made here? Runs `true` in one.
fn probe() -> anyhow::Result<()> {
    let run = netns::run_in_new_netns(Path::new("true"), &[], PROBE_LIMIT).map_err(netns_failed)?;
    if run.status.success() {
        return Ok(());
    }
    let why = run.stderr.trim();
    // 127 is the shell's "command not found": here, `ip` (iproute2), which brings `lo` up.
    if run.status.code() == Some(127) {
        return Err(Hinted::failure(format!(
            "could not bring up the namespace's loopback interface: {why}"
        ))
        .with_hint("is iproute2 (`ip`) installed?")
        .into());
    }
    Err(Hinted::failure(format!(
        "the kernel refused to create a user and network namespace: {why}"
    ))
    .with_hint(
        "unprivileged user namespaces are disabled here (see `sysctl user.max_user_namespaces`, \
         `kernel.unprivileged_userns_clone`, or AppArmor's `kernel.apparmor_restrict_unprivileged_userns`). \
         Capture with sudo instead, or read a saved capture with --read FILE",
    )
    .into())
}

/// `unshare` could not be run at all: say so, and what else would work.
fn netns_failed(e: NetnsError) -> anyhow::Error {
    let message = match e {
        NetnsError::UnshareMissing => "could not run `unshare`",
        NetnsError::Spawn(_) | NetnsError::TimedOut(_) => "could not create a namespace",
    };
    anyhow::Error::new(e).context(
        Hinted::failure(message)
            .with_hint("install util-linux, or capture with sudo, or read a file with --read"),
    )
}

/// The inner netlab's arguments: the global options that shape its output, then
/// `capture --in-namespace`, the plan's options, the filter and `-- COMMAND`. Built from
/// the plan, not copied from this process's command line, so a plan made in-process (by
/// `netlab lab`) means the same.
fn inner_argv(plan: &Plan, command: &[String], format: Format, color: bool) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    let mut opt = |name: &str, value: Option<String>| {
        v.push(name.to_owned());
        v.extend(value);
    };
    match format {
        Format::Human => {}
        Format::Json => opt("--json", None),
        Format::Jsonl => opt("--jsonl", None),
    }
    // Decided once, here, from this terminal and NO_COLOR; the inner netlab shares both.
    opt(
        "--color",
        Some(if color { "always" } else { "never" }.into()),
    );
    opt("capture", None);
    opt("--in-namespace", None);
    if let Some(n) = plan.count {
        opt("--count", Some(n.to_string()));
    }
    if let Some(d) = plan.duration {
        opt("--duration", Some(d.as_secs_f64().to_string()));
    }
    let view = plan.view;
    for (on, name) in [
        (view.layers, "--layers"),
        (view.osi, "--osi"),
        (view.hex, "--hex"),
    ] {
        if on {
            opt(name, None);
        }
    }
    if let Some(p) = &plan.write {
        opt("--write", Some(p.to_string_lossy().into_owned()));
    }
    if let Some(w) = plan.follow {
        opt("--follow", Some(super::follow::which_text(&w)));
    }
    if plan.stats {
        opt("--stats", None);
    }
    if plan.limits != crate::wire::dissect::flow::Limits::default() {
        opt(
            "--max-stream-buffer",
            Some(plan.limits.max_buffered.to_string()),
        );
    }
    if plan.quiet {
        opt("--quiet", None);
    }
    opt("--queue", Some(plan.queue.to_string()));
    if let Some(f) = &plan.filter {
        // One argument: the inner netlab joins its filter words with spaces, as this one did.
        v.push(f.text.clone());
    }
    v.push("--".into());
    v.extend(command.iter().cloned());
    v
}

#[cfg(not(feature = "capture"))]
pub(super) fn in_namespace(_: Plan, _: Vec<String>, _: &mut Output) -> anyhow::Result<()> {
    super::capture_failed(
        Err(crate::net::capture::CaptureError::NotBuilt),
        "starting a live capture".into(),
    )
}

/// Inside the namespace netlab made (its `lo` is up): start capturing on `lo`, run the
/// command, stop when it exits.
#[cfg(feature = "capture")]
pub(super) fn in_namespace(
    plan: Plan,
    command: Vec<String>,
    out: &mut Output,
) -> anyhow::Result<()> {
    use crate::error::usage;
    use std::process::{Command, Stdio};
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
    super::live::live(plan, iface, Some(Box::new(spawn)), out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(argv: &[String]) -> crate::cli::Cli {
        crate::cli::Cli::try_parse_from(argv).unwrap()
    }

    /// The inner netlab gets the same plan (and output format) back from its arguments.
    #[test]
    fn the_inner_netlab_gets_the_same_plan() {
        for (line, format) in [
            ("capture --own-namespace -- curl -s http://127.0.0.1:8000/", Format::Human),
            ("--jsonl capture --own-namespace --layers --osi --hex tcp port 80 -- a b", Format::Jsonl),
            ("capture --own-namespace --count 3 --duration 2.5 --quiet --queue 7 -- x", Format::Human),
            ("--json capture --own-namespace --follow [::1]:40000-[::1]:8000 --max-stream-buffer 64k -- x", Format::Json),
            ("capture --own-namespace --stats --write /tmp/x.pcap not udp -- x -y", Format::Human),
            ("capture --own-namespace --duration 0.3 --follow 2 --hex -- x", Format::Human),
        ] {
            let mut argv: Vec<String> = vec!["netlab".into()];
            argv.extend(line.split(' ').map(String::from));
            let outer = cli(&argv);
            let crate::cli::Command::Capture(a) = outer.command else {
                unreachable!()
            };
            let plan = Plan::try_from(a).unwrap();
            let crate::cmd::capture::Source::OwnNamespace { command } = plan.source.clone() else {
                panic!("{line}: not --own-namespace")
            };
            for color in [false, true] {
                let mut inner_args = vec!["netlab".to_owned()];
                inner_args.extend(inner_argv(&plan, &command, format, color));
                let inner = cli(&inner_args);
                assert_eq!(
                    (inner.global.json, inner.global.jsonl),
                    (format == Format::Json, format == Format::Jsonl),
                    "{inner_args:?}"
                );
                let expected_color = if color {
                    crate::cli::ColorArg::Always
                } else {
                    crate::cli::ColorArg::Never
                };
                assert_eq!(inner.global.color, expected_color);
                let crate::cli::Command::Capture(a) = inner.command else {
                    unreachable!()
                };
                let mut again = Plan::try_from(a).unwrap();
                assert_eq!(
                    again.source,
                    crate::cmd::capture::Source::InNamespace {
                        command: command.clone()
                    }
                );
                again.source = plan.source.clone();
                assert_eq!(format!("{again:?}"), format!("{plan:?}"), "{inner_args:?}");
            }
        }
    }
}
