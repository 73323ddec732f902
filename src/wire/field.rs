//! Header fields as the views show them: a name, the bytes it sits in, what it is for.
//!
//! A [`FieldSpec`] describes where a field sits in a header and what it means; a
//! [`Field`] is one field of one decoded header, its value in words. The layer tree, the
//! annotated hexdump and JSON all show `Field`s, so the hexdump labels each byte with the
//! same offsets the parser reads.
//!
//! This file sits below every protocol file and below `dissect.rs`, which walks them:
//! the protocols need `Field` and `dissect` needs the protocols.

use serde::Serialize;
use std::ops::Range;

/// One named field of a header: where it sits and what it means, for annotated views.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldSpec {
    pub name: &'static str,
    /// Byte offsets relative to the start of the header.
    pub span: Range<usize>,
    pub about: &'static str,
}

/// One field of one header, for the layer tree, the hexdump and JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub name: &'static str,
    /// The decoded value, in words ("64", "SYN ACK", "0x1c46: correct").
    pub value: String,
    /// Byte offsets: relative to the header inside protocol modules, absolute in the
    /// frame once [`Layer::fields`](super::dissect::Layer::fields) hands them out.
    pub span: Range<usize>,
    /// What the field is for.
    pub about: &'static str,
}

impl Field {
    pub fn new(
        name: &'static str,
        value: String,
        span: Range<usize>,
        about: &'static str,
    ) -> Field {
        Field {
            name,
            value,
            span,
            about,
        }
    }
}
