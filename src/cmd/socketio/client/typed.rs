//! The lines a user types into `netlab socketio client`.

use crate::wire::application::socketio::Data;
use serde_json::Value;
use std::time::Duration;

/// A typed line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Emit {
        name: String,
        args: Vec<Data>,
        ack: bool,
        volatile: bool,
    },
    /// Leave the namespace and close the connection; the client keeps reading.
    Disconnect,
    /// Connect again in a new session.
    Reconnect,
    /// Leave this namespace and join another on the same session.
    Namespace(String),
    /// Read no more input until this happens (or the limit passes).
    Wait(Awaited, Duration),
    /// Read no more input for this long.
    Sleep(Duration),
    /// Leave and end.
    Quit,
    Nothing,
    Bad(String),
}

/// What `wait` waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Awaited {
    /// The socket joined its namespace (again).
    Connected,
    /// The connection ended.
    Disconnected,
    /// The session moved onto its WebSocket.
    Upgraded,
    /// An event of this name arrived.
    Event(String),
}

/// How long `wait` waits when no limit is given.
pub const WAIT_LIMIT: Duration = Duration::from_secs(30);

pub const USAGE: &str = "type emit EVENT [ARG…] [--ack], volatile EVENT [ARG…], namespace /NAME, \
disconnect, reconnect, wait connected|disconnected|upgraded|EVENT [MAX-SECONDS], sleep MS or quit";

/// Read one typed line. Arguments are JSON values (42, "a b", {"x":1}); a word that
/// does not start like JSON is a string; `hex:0102ff` is binary (an attachment).
pub fn parse_command(line: &str) -> Command {
    let line = line.trim();
    let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    match verb {
        "" => Command::Nothing,
        "disconnect" => Command::Disconnect,
        "reconnect" => Command::Reconnect,
        "quit" | "exit" => Command::Quit,
        "namespace" if rest.starts_with('/') && !rest.contains(char::is_whitespace) => {
            Command::Namespace(rest.to_owned())
        }
        "namespace" => Command::Bad("namespace needs a name that starts with /, as /admin".into()),
        "emit" | "ack" | "volatile" => emit(verb, rest),
        "wait" => wait(rest),
        "sleep" => match rest.parse::<u64>() {
            Ok(ms) if ms <= 600_000 => Command::Sleep(Duration::from_millis(ms)),
            _ => Command::Bad("sleep needs milliseconds, at most 600000: sleep 500".into()),
        },
        _ => Command::Bad(format!("unknown command {verb:?}: {USAGE}")),
    }
}

fn emit(verb: &str, rest: &str) -> Command {
    let (name, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if name.is_empty() {
        return Command::Bad(format!("{verb} needs an event name: {verb} EVENT [ARG…]"));
    }
    let mut rest = rest.trim_end();
    let mut ack = verb == "ack";
    if let Some(before) = rest.strip_suffix("--ack") {
        if before.is_empty() || before.ends_with(char::is_whitespace) {
            ack = true;
            rest = before.trim_end();
        }
    }
    match parse_args(rest) {
        Ok(args) => Command::Emit {
            name: name.to_owned(),
            args,
            ack,
            volatile: verb == "volatile",
        },
        Err(e) => Command::Bad(e),
    }
}

fn wait(rest: &str) -> Command {
    let mut words = rest.split_whitespace();
    let what = match words.next() {
        Some("connected") => Awaited::Connected,
        Some("disconnected") => Awaited::Disconnected,
        Some("upgraded") => Awaited::Upgraded,
        Some(name) => Awaited::Event(name.to_owned()),
        None => {
            return Command::Bad(
                "wait needs what: wait connected|disconnected|upgraded|EVENT".into(),
            )
        }
    };
    let limit = match words.next().map(str::parse::<u64>) {
        None => WAIT_LIMIT,
        Some(Ok(s)) if s <= 600 => Duration::from_secs(s),
        Some(_) => return Command::Bad("wait's limit is in seconds, at most 600".into()),
    };
    Command::Wait(what, limit)
}

/// JSON values one after the other; a word that does not start like JSON is a string.
fn parse_args(mut rest: &str) -> Result<Vec<Data>, String> {
    let mut args = Vec::new();
    for index in 1.. {
        rest = rest.trim_start();
        if rest.is_empty() || index > 1000 {
            break;
        }
        if let Some(hex) = rest.strip_prefix("hex:") {
            let (word, after) = hex.split_once(char::is_whitespace).unwrap_or((hex, ""));
            let bytes = from_hex(word).ok_or_else(|| {
                format!("argument {index}: hex:{word} is not an even number of hex digits")
            })?;
            args.push(Data::Binary(bytes));
            rest = after;
            continue;
        }
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        match values.next() {
            Some(Ok(v)) if ends_a_word(&rest[values.byte_offset()..]) => {
                args.push(Data::from(v));
                rest = &rest[values.byte_offset()..];
            }
            Some(Err(e)) if rest.starts_with(['{', '[', '"']) => {
                return Err(format!("argument {index} is not JSON: {e}"));
            }
            _ => {
                let (word, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                args.push(Data::Json(Value::String(word.to_owned())));
                rest = after;
            }
        }
    }
    Ok(args)
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Does a JSON value end here (`42abc` is a word, not the number 42)?
fn ends_a_word(after: &str) -> bool {
    after.chars().next().is_none_or(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_args(c: &Command) -> Vec<Value> {
        let Command::Emit { args, .. } = c else {
            panic!("{c:?}")
        };
        args.iter().map(|a| a.as_json().cloned().unwrap()).collect()
    }

    #[test]
    fn typed_commands() {
        let c = parse_command(r#"emit hello "a b" 42 {"x": [1, 2]} word 7up"#);
        assert_eq!(
            json_args(&c),
            [
                json!("a b"),
                json!(42),
                json!({"x": [1, 2]}),
                json!("word"),
                json!("7up")
            ]
        );
        assert!(matches!(
            c,
            Command::Emit {
                ack: false,
                volatile: false,
                ..
            }
        ));
        let c = parse_command("emit q 1 --ack");
        assert!(matches!(&c, Command::Emit { ack: true, .. }));
        assert_eq!(json_args(&c), [json!(1)]);
        assert!(matches!(
            parse_command("ack q"),
            Command::Emit { ack: true, .. }
        ));
        assert!(matches!(
            parse_command("volatile typing"),
            Command::Emit { volatile: true, .. }
        ));
        assert_eq!(parse_command("  "), Command::Nothing);
        assert_eq!(parse_command("disconnect"), Command::Disconnect);
        assert_eq!(parse_command("reconnect"), Command::Reconnect);
        assert_eq!(
            parse_command("namespace /admin"),
            Command::Namespace("/admin".into())
        );
        assert_eq!(
            parse_command("wait missed 5"),
            Command::Wait(Awaited::Event("missed".into()), Duration::from_secs(5))
        );
        assert_eq!(
            parse_command("sleep 20"),
            Command::Sleep(Duration::from_millis(20))
        );
        for bad in [
            "emit",
            "dance",
            "namespace admin",
            "wait",
            "sleep x",
            "emit x {\"a\":",
        ] {
            assert!(matches!(parse_command(bad), Command::Bad(_)), "{bad}");
        }
    }

    #[test]
    fn hex_words_are_attachments() {
        let Command::Emit { args, .. } = parse_command("emit file hex:01ff 2") else {
            panic!()
        };
        assert_eq!(args, [Data::Binary(vec![1, 0xff]), Data::Json(json!(2))]);
        assert!(matches!(parse_command("emit file hex:0"), Command::Bad(_)));
        assert!(matches!(parse_command("emit file hex:zz"), Command::Bad(_)));
    }
}
