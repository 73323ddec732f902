//! What clients and the broker say to each other in the `/queue` namespace, as
//! Socket.IO events with one JSON object each.
//!
//! | the client emits (with an ack) | the broker answers |
//! |---|---|
//! | `publish {topic, value, key?}` | `{ok, topic, partition, offset, durability}` once the log says what it guarantees, or `{error}` |
//! | `subscribe {topic, group, from?, limit?}` | `{ok, topic, group, partitions}`; then `message` events |
//! | `ack {partition, offset}` | `{ok}`: the group is done with the record |
//! | `nack {partition, offset}` | `{ok}`: deliver it again (the attempt counts) |
//! | `status {}` | topics, partitions, groups, lag, pending, dead letters |
//!
//! The broker emits `message {topic, partition, offset, key, value, timestamp, attempt}`
//! to a subscribed consumer, which answers with `ack` or `nack`. `from` is `"earliest"`,
//! `"latest"` or an offset; `limit` caps the consumer's unacknowledged records.

use super::broker::From;
use serde_json::{Map, Value};

/// The longest topic or group name.
pub const MAX_NAME: usize = 100;

/// A request from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Publish {
        topic: String,
        key: Option<String>,
        value: String,
    },
    Subscribe {
        topic: String,
        group: String,
        from: From,
        limit: Option<usize>,
    },
    Ack {
        partition: u32,
        offset: u64,
    },
    Nack {
        partition: u32,
        offset: u64,
    },
    Status,
}

/// Why an event is no request; each names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("no event {0:?} in the queue namespace (publish, subscribe, ack, nack, status)")]
    UnknownEvent(String),
    #[error("{event} takes one JSON object")]
    NotAnObject { event: &'static str },
    #[error("{event} needs the field {field:?}")]
    Missing {
        event: &'static str,
        field: &'static str,
    },
    #[error("{event}: {field:?} must be {expected}")]
    WrongType {
        event: &'static str,
        field: &'static str,
        expected: &'static str,
    },
    #[error(
        "{0:?} is no name: 1 to 100 letters, digits, '.', '_' or '-', not starting with '_' or '.'"
    )]
    BadName(String),
    #[error("from is \"earliest\", \"latest\" or an offset, not {0}")]
    BadFrom(String),
}

/// Read a client's event. `args` are the event's arguments as JSON.
pub fn parse(name: &str, args: &[Value]) -> Result<Request, MessageError> {
    let event: &'static str = match name {
        "publish" => "publish",
        "subscribe" => "subscribe",
        "ack" => "ack",
        "nack" => "nack",
        "status" => "status",
        other => return Err(MessageError::UnknownEvent(other.to_owned())),
    };
    let empty = Map::new();
    let object = match args.first() {
        Some(Value::Object(m)) => m,
        None if event == "status" => &empty,
        _ => return Err(MessageError::NotAnObject { event }),
    };
    let fields = Fields { event, object };
    Ok(match event {
        "publish" => Request::Publish {
            topic: name_field(&fields, "topic")?,
            key: fields.optional_str("key")?,
            value: fields.str("value")?,
        },
        "subscribe" => Request::Subscribe {
            topic: name_field(&fields, "topic")?,
            group: name_field(&fields, "group")?,
            from: from_field(&fields)?,
            limit: fields.optional_u64("limit")?.map(|n| n as usize),
        },
        "ack" | "nack" => {
            let partition = fields.u64("partition")?;
            let partition = u32::try_from(partition).map_err(|_| MessageError::WrongType {
                event,
                field: "partition",
                expected: "a partition number",
            })?;
            let offset = fields.u64("offset")?;
            if event == "ack" {
                Request::Ack { partition, offset }
            } else {
                Request::Nack { partition, offset }
            }
        }
        _ => Request::Status,
    })
}

struct Fields<'a> {
    event: &'static str,
    object: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn get(&self, field: &'static str) -> Result<&Value, MessageError> {
        match self.object.get(field) {
            Some(Value::Null) | None => Err(MessageError::Missing {
                event: self.event,
                field,
            }),
            Some(v) => Ok(v),
        }
    }

    fn wrong(&self, field: &'static str, expected: &'static str) -> MessageError {
        MessageError::WrongType {
            event: self.event,
            field,
            expected,
        }
    }

    fn str(&self, field: &'static str) -> Result<String, MessageError> {
        let v = self.get(field)?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.wrong(field, "a string"))
    }

    fn optional_str(&self, field: &'static str) -> Result<Option<String>, MessageError> {
        match self.get(field) {
            Err(MessageError::Missing { .. }) => Ok(None),
            _ => self.str(field).map(Some),
        }
    }

    fn u64(&self, field: &'static str) -> Result<u64, MessageError> {
        let v = self.get(field)?;
        v.as_u64()
            .ok_or_else(|| self.wrong(field, "a whole number, 0 or more"))
    }

    fn optional_u64(&self, field: &'static str) -> Result<Option<u64>, MessageError> {
        match self.get(field) {
            Err(MessageError::Missing { .. }) => Ok(None),
            _ => self.u64(field).map(Some),
        }
    }
}

fn name_field(fields: &Fields, field: &'static str) -> Result<String, MessageError> {
    let name = fields.str(field)?;
    check_name(&name)?;
    Ok(name)
}

/// A topic or group name: 1 to 100 of `[A-Za-z0-9._-]`, not starting with `_` (netlab's
/// own topics) or `.`.
pub fn check_name(name: &str) -> Result<(), MessageError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with(['_', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(MessageError::BadName(
            name.chars().take(MAX_NAME + 1).collect(),
        ))
    }
}

fn from_field(fields: &Fields) -> Result<From, MessageError> {
    match fields.object.get("from") {
        None | Some(Value::Null) => Ok(From::Earliest),
        Some(Value::String(s)) => parse_from(s),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(From::Offset)
            .ok_or_else(|| MessageError::BadFrom(n.to_string())),
        Some(other) => Err(MessageError::BadFrom(other.to_string())),
    }
}

/// `earliest`, `latest` or an offset, as the command line and the event both write it.
pub fn parse_from(s: &str) -> Result<From, MessageError> {
    match s {
        "earliest" => Ok(From::Earliest),
        "latest" => Ok(From::Latest),
        n => n.parse().map(From::Offset).map_err(|_| {
            MessageError::BadFrom(format!("{:?}", s.chars().take(40).collect::<String>()))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(name: &str, text: &str) -> Result<Request, MessageError> {
        // The arguments as a client sends them: `42["publish",{..}]` after the event name.
        let args: Vec<Value> = serde_json::from_str(text).unwrap();
        parse(name, &args)
    }

    #[test]
    fn a_publish_as_socket_io_client_sends_it() {
        assert_eq!(
            read(
                "publish",
                r#"[{"topic":"orders","value":"pizza","key":"user-7"}]"#
            ),
            Ok(Request::Publish {
                topic: "orders".into(),
                key: Some("user-7".into()),
                value: "pizza".into()
            })
        );
        assert_eq!(
            read("publish", r#"[{"topic":"orders","value":""}]"#),
            Ok(Request::Publish {
                topic: "orders".into(),
                key: None,
                value: String::new()
            })
        );
    }

    #[test]
    fn subscribe_reads_from_and_limit() {
        let r = read(
            "subscribe",
            r#"[{"topic":"t","group":"g","from":"latest","limit":2}]"#,
        );
        assert_eq!(
            r,
            Ok(Request::Subscribe {
                topic: "t".into(),
                group: "g".into(),
                from: From::Latest,
                limit: Some(2)
            })
        );
        let r = read("subscribe", r#"[{"topic":"t","group":"g","from":17}]"#).unwrap();
        assert!(matches!(
            r,
            Request::Subscribe {
                from: From::Offset(17),
                ..
            }
        ));
        assert_eq!(
            read("subscribe", r#"[{"topic":"t","group":"g","from":"soon"}]"#),
            Err(MessageError::BadFrom("\"soon\"".into()))
        );
    }

    #[test]
    fn each_broken_rule_has_its_error() {
        assert_eq!(
            read("delete", "[{}]"),
            Err(MessageError::UnknownEvent("delete".into()))
        );
        assert_eq!(
            read("publish", r#"["orders"]"#),
            Err(MessageError::NotAnObject { event: "publish" })
        );
        assert_eq!(
            read("publish", r#"[{"topic":"t"}]"#),
            Err(MessageError::Missing {
                event: "publish",
                field: "value"
            })
        );
        assert_eq!(
            read("publish", r#"[{"topic":"t","value":5}]"#),
            Err(MessageError::WrongType {
                event: "publish",
                field: "value",
                expected: "a string"
            })
        );
        assert_eq!(
            read("publish", r#"[{"topic":"__offsets","value":"x"}]"#),
            Err(MessageError::BadName("__offsets".into()))
        );
        assert!(read("ack", r#"[{"partition":-1,"offset":0}]"#).is_err());
        assert!(read("ack", r#"[{"partition":4294967296,"offset":0}]"#).is_err());
        assert_eq!(read("status", "[]"), Ok(Request::Status));
        assert_eq!(
            parse("nack", &[json!({"partition": 1, "offset": 9})]),
            Ok(Request::Nack {
                partition: 1,
                offset: 9
            })
        );
    }

    #[test]
    fn names() {
        for good in ["orders", "a", "x.y-z_1", &"n".repeat(100)] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in ["", "_x", ".x", "a b", "ü", "a/b", &"n".repeat(101)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
