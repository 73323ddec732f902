//! Header fields as the views show them: a name, the bytes it sits in, what it is for.
//!
//! Every protocol file describes its header's fields once, in a `FIELDS` table of
//! [`FieldSpec`]s built from the offsets in its `mod field`. Its `Repr::fields` pairs
//! each entry with the value it decoded ([`FieldSpec::with`]) to make a [`Field`]; the
//! layer tree, the annotated hexdump and JSON all show those `Field`s. So a field has one
//! name everywhere, and the hexdump labels each byte with the same offsets the parser
//! reads.
//!
//! Fields may share bytes: IPv4's version and IHL are the two halves of byte 0, and an
//! ICMP echo's identifier and sequence number are one reading of the 4 bytes other
//! message types call "rest of header". The hexdump joins fields that share bytes. A
//! table therefore covers its header without tiling it: every byte belongs to at least
//! one field.
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

impl FieldSpec {
    /// `const`, so a `FIELDS` table is a constant built at compile time.
    pub const fn new(name: &'static str, span: Range<usize>, about: &'static str) -> FieldSpec {
        FieldSpec { name, span, about }
    }

    /// This field holding `value`; the span stays relative to the header.
    pub fn with(&self, value: String) -> Field {
        Field::new(self.name, value, self.span.clone(), self.about)
    }
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

/// For each protocol's tests: every byte of a `len`-byte header is named by at least one
/// entry of `table`, and no two entries share a name.
#[cfg(test)]
pub(crate) fn assert_table_covers(table: &[FieldSpec], len: usize) {
    for at in 0..len {
        assert!(
            table.iter().any(|f| f.span.contains(&at)),
            "byte {at} of {len} is in no field"
        );
    }
    for (i, f) in table.iter().enumerate() {
        assert!(
            table[..i].iter().all(|g| g.name != f.name),
            "two fields named {}",
            f.name
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_with_a_value_is_a_field() {
        const TTL: FieldSpec = FieldSpec::new("ttl", 8..9, "time to live");
        assert_eq!(
            TTL.with("64".into()),
            Field::new("ttl", "64".into(), 8..9, "time to live")
        );
    }

    #[test]
    #[should_panic(expected = "byte 1 of 2 is in no field")]
    fn a_table_with_a_gap_is_caught() {
        assert_table_covers(&[FieldSpec::new("a", 0..1, "")], 2);
    }

    #[test]
    #[should_panic(expected = "two fields named a")]
    fn a_name_used_twice_is_caught() {
        let a = FieldSpec::new("a", 0..1, "");
        assert_table_covers(&[a.clone(), a], 1);
    }
}
