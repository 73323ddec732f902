//! A step whose command is expected to fail (`expect_error` in labs.toml): a refused
//! connection, a port already in use, a datagram to a closed port. An error is the lesson
//! there, so the step checks that the command failed the way the guide says: exit code 1
//! (a failure, not a command line netlab could not parse, which is 2) and an error
//! message that contains the expected words. What the failure recorded goes to the
//! questions as `/error/message`, `/error/hint` and `/error/exit_code`, beside whatever
//! the command reported before it failed (`/report/...`).
//!
//! `hold_port` makes the failure happen on any machine: netlab itself listens on that
//! TCP port while the command runs, standing for the other program the guide describes.

use super::argv;
use super::command::recorded;
use super::session::{Plan, Say, Source};
use crate::error::Hinted;
use crate::net::host::hold_tcp_port;
use crate::output::{describe_fatal, Output};
use serde_json::{json, Value};

/// The exit code of a command that failed at run time (`describe_fatal`'s for a failure).
pub const FAILURE: u8 = 1;

/// Run `command`, which must fail with exit code 1 and an error containing `want`.
/// Returns what it recorded (with `error` added), the command as shown, and the source.
pub fn run(
    plan: &Plan,
    out: &mut Output,
    command: &str,
    want: &str,
    hold: Option<u16>,
) -> anyhow::Result<(Value, String, Source, Option<String>)> {
    let shown = command.replace(crate::labs::SEED, &plan.seed.unwrap_or(1).to_string());
    let lab = plan.lab.id;
    let (_, cli) = argv(command, plan.seed.unwrap_or(1)).map_err(|e| {
        Hinted::failure(format!("`{command}`: {e}"))
            .with_hint("labs/labs.toml has drifted from the CLI; `cargo test --test lab` shows it")
    })?;
    // Held until the command has run; dropped (closed) when this function returns.
    let held = match hold {
        Some(port) => Some(hold_tcp_port(port).map_err(|e| {
            Hinted::failure(format!("lab {lab}: could not listen on port {port}: {e}"))
        })?),
        None => None,
    };
    let mut note = None;
    if let (Some(port), Some(h)) = (hold, &held) {
        let text = if h.is_some() {
            format!(
                "netlab now listens on 127.0.0.1:{port} itself, standing for the other \
                 program; the next command asks for the same port"
            )
        } else {
            format!(
                "another program already listens on port {port} of this machine; the next \
                 command asks for the same port"
            )
        };
        out.event(&Say::Notice { text: text.clone() })?;
        note = Some(text);
    }
    out.event(&Say::Run {
        command: shown.clone(),
    })?;
    let (mut doc, outcome) = recorded(plan, out, cli);
    drop(held);
    let unexpected = |what: String| -> anyhow::Error {
        Hinted::failure(format!(
            "lab {lab}: `{shown}` was to fail with an error about \"{want}\", but {what}"
        ))
        .with_hint(
            "something on this machine differs from what the step assumes (a program \
             listening on the port it expects closed?); `ss -tulnp` shows who listens",
        )
        .into()
    };
    let Err(e) = outcome else {
        return Err(unexpected("it succeeded".to_owned()));
    };
    let Some(fatal) = describe_fatal(&e) else {
        return Err(unexpected("its output pipe closed".to_owned()));
    };
    if fatal.exit_code != FAILURE || !contains(&fatal.message, want) {
        return Err(unexpected(format!(
            "it failed with exit code {}: {}",
            fatal.exit_code, fatal.message
        )));
    }
    out.event(&Say::Failed {
        error: fatal.message.clone(),
        hint: fatal.hint.clone(),
        exit_code: fatal.exit_code,
    })?;
    doc["error"] = json!({
        "message": fatal.message,
        "hint": fatal.hint,
        "exit_code": fatal.exit_code,
    });
    Ok((doc, shown, Source::Live, note))
}

/// Whether `message` says `want` (case aside: the words, not the capitals, are the rule).
fn contains(message: &str, want: &str) -> bool {
    message.to_lowercase().contains(&want.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labs::Labs;
    use crate::output::{Format, Style};

    /// A session of lab 1 (`run` takes the command and the words as arguments).
    fn plan() -> Plan {
        Plan {
            lab: Labs::builtin().unwrap().get(1).unwrap().clone(),
            mode: super::super::session::Mode::Autopilot,
            instructor: false,
            offline: false,
            seed: None,
            narrate_to_stderr: false,
        }
    }

    fn quiet() -> Output {
        Output::new(
            Format::Human,
            Style::plain(),
            Box::new(std::io::sink()),
            Box::new(std::io::sink()),
        )
    }

    #[test]
    fn a_failure_with_the_expected_words_is_the_lesson() {
        // Nothing listens on port 9 of 127.0.0.1 here, as on any machine that runs no
        // discard service; the kernel refuses the connection.
        let p = plan();
        let (doc, _, source, _) = run(
            &p,
            &mut quiet(),
            "netlab tcp connect 127.0.0.1:9",
            "connection refused",
            None,
        )
        .unwrap();
        assert_eq!(source, Source::Live);
        assert_eq!(doc["error"]["exit_code"], 1);
        assert!(doc["error"]["hint"].as_str().unwrap().contains("RST"));
    }

    #[test]
    fn a_success_or_another_failure_stops_the_lab() {
        let p = plan();
        let e = run(&p, &mut quiet(), "netlab ws handshake", "refused", None).unwrap_err();
        assert!(e.to_string().contains("but it succeeded"), "{e}");
        let p = plan();
        let e = run(
            &p,
            &mut quiet(),
            "netlab tcp connect 127.0.0.1:9",
            "already in use",
            None,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("it failed with exit code 1: connection refused"),
            "{e}"
        );
    }

    #[test]
    fn the_expected_words_are_matched_without_case() {
        assert!(contains(
            "connection refused by 127.0.0.1:9: Connection refused (os error 111)",
            "Connection refused"
        ));
        assert!(!contains("port 9000 is already in use", "refused"));
    }
}
