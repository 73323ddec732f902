//! Arguments with binary inside, and the placeholders that carry the binary.
//!
//! JSON has no bytes, yet a JavaScript application may emit a `Buffer` anywhere in its
//! arguments, even deep inside an object. Socket.IO *deconstructs* such a packet: each
//! binary is replaced by `{"_placeholder":true,"num":N}` in the JSON, and the binaries
//! follow the text message as binary Engine.IO messages, in the order of `N`. The receiver
//! *reconstructs* it: each placeholder is replaced by attachment `N`.
//!
//! Why a tree of its own ([`Data`]) rather than `serde_json::Value` plus a list of buffers
//! beside it: a binary is an argument like any other, and may sit anywhere in it. With a
//! side list, the placeholder numbering is the application's job and a mistake (two
//! placeholders naming one buffer, a buffer nobody names) only shows on the other side.
//! With [`Data::Binary`] in the tree, [`Data::deconstruct`] numbers them, and what a
//! receiver reads is what the sender wrote. Parts without binary stay plain `Value`s
//! ([`Data::Json`]), so most arguments are exactly what serde_json gives.

use super::PacketError;
use serde_json::{Map, Value};

/// One argument of an event or an acknowledgement: JSON, with binary allowed anywhere.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// JSON with no binary inside.
    Json(Value),
    Binary(Vec<u8>),
    /// An array with binary somewhere inside.
    Array(Vec<Data>),
    /// An object with binary somewhere inside (keys in order).
    Object(Vec<(String, Data)>),
}

impl From<Value> for Data {
    fn from(value: Value) -> Data {
        Data::Json(value)
    }
}

/// The placeholder that stands for attachment `num`.
pub fn placeholder(num: usize) -> Value {
    let mut object = Map::new();
    object.insert("_placeholder".into(), Value::Bool(true));
    object.insert("num".into(), Value::from(num));
    Value::Object(object)
}

/// Is `value` a placeholder (`{"_placeholder": true, ..}`)?
fn is_placeholder(value: &Value) -> bool {
    value.get("_placeholder") == Some(&Value::Bool(true))
}

fn contains_placeholder(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(contains_placeholder),
        Value::Object(object) => is_placeholder(value) || object.values().any(contains_placeholder),
        _ => false,
    }
}

impl Data {
    /// Is there binary anywhere in this argument?
    pub fn has_binary(&self) -> bool {
        match self {
            Data::Json(_) => false,
            Data::Binary(_) => true,
            Data::Array(items) => items.iter().any(Data::has_binary),
            Data::Object(fields) => fields.iter().any(|(_, d)| d.has_binary()),
        }
    }

    /// The JSON with each binary replaced by a placeholder; the binaries are appended to
    /// `buffers` and numbered by their position there.
    pub fn deconstruct(&self, buffers: &mut Vec<Vec<u8>>) -> Value {
        match self {
            Data::Json(value) => value.clone(),
            Data::Binary(bytes) => {
                buffers.push(bytes.clone());
                placeholder(buffers.len() - 1)
            }
            Data::Array(items) => {
                Value::Array(items.iter().map(|d| d.deconstruct(buffers)).collect())
            }
            Data::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, d)| (k.clone(), d.deconstruct(buffers)))
                    .collect(),
            ),
        }
    }

    /// Put the attachments back where their placeholders are. Each attachment may be named
    /// once: a packet naming one large attachment a thousand times would otherwise make a
    /// thousand copies of it.
    pub fn reconstruct(value: Value, buffers: &mut [Option<Vec<u8>>]) -> Result<Data, PacketError> {
        if !contains_placeholder(&value) {
            return Ok(Data::Json(value));
        }
        if is_placeholder(&value) {
            let num = value.get("num").and_then(Value::as_u64);
            let slot = num
                .and_then(|n| usize::try_from(n).ok())
                .and_then(|n| buffers.get_mut(n))
                .ok_or(PacketError::BadPlaceholder)?;
            let bytes = slot.take().ok_or(PacketError::PlaceholderReused {
                num: num.unwrap_or_default(),
            })?;
            return Ok(Data::Binary(bytes));
        }
        match value {
            Value::Array(items) => items
                .into_iter()
                .map(|v| Data::reconstruct(v, buffers))
                .collect::<Result<_, _>>()
                .map(Data::Array),
            Value::Object(object) => object
                .into_iter()
                .map(|(k, v)| Ok((k, Data::reconstruct(v, buffers)?)))
                .collect::<Result<_, _>>()
                .map(Data::Object),
            other => Ok(Data::Json(other)),
        }
    }

    /// The JSON, if this argument holds no binary.
    pub fn as_json(&self) -> Option<&Value> {
        match self {
            Data::Json(value) => Some(value),
            _ => None,
        }
    }

    /// The bytes, if this argument is binary.
    pub fn as_binary(&self) -> Option<&[u8]> {
        match self {
            Data::Binary(bytes) => Some(bytes),
            _ => None,
        }
    }
}
