//! DNS messages (RFC 1034, RFC 1035; flags and codes as registered per RFC 6895, EDNS(0)
//! per RFC 6891).
//!
//! OSI layer 7 (application) · TCP/IP application layer · PDU: **message**.
//!
//! ```text
//!                                 1  1  1  1  1  1
//!   0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                      ID                       |
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                    QDCOUNT                    |   questions
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                    ANCOUNT                    |   answer records
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                    NSCOUNT                    |   authority records
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                    ARCOUNT                    |   additional records
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |  Question section: QNAME  QTYPE  QCLASS  ...  |
//! |  Answer, Authority, Additional sections:      |
//! |    NAME TYPE CLASS TTL RDLENGTH RDATA  ...    |
//! +-----------------------------------------------+
//! ```
//!
//! (RFC 1035 §4.1.1; AD and CD are RFC 4035's, taken from the old Z bits.)
//!
//! One format serves queries and responses: a response is the query, copied with its ID
//! and question, with QR set and records appended. The same message travels in a UDP
//! datagram (port 53) or, over TCP, after a two-byte length (RFC 1035 §4.2.2, RFC 7766).
//!
//! Each entry of the question section is a name and two 16-bit codes (RFC 1035 §4.1.2):
//!
//! ```text
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! /                     QNAME                     /   a name, any length
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                     QTYPE                     |
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                     QCLASS                    |
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! ```
//!
//! The files of this folder, one part of the message each:
//!
//! - this page: the header view [`Message`], [`Flags`], [`Opcode`], the response codes,
//!   the [`Question`] entry, and [`Repr`], which reads a whole message (§4.1).
//! - [`name`]: domain names in wire form and their compression pointers (§3.1, §4.1.4),
//!   read in bounded work however hostile the message.
//! - [`record`]: resource records (§4.1.3): [`RrType`], [`Class`], and the RDATA of A,
//!   AAAA, CNAME, NS, PTR, MX, TXT, SOA (§3.3, §3.4; RFC 3596), SRV (RFC 2782) and
//!   EDNS0's OPT (RFC 6891).
//!
//! Every public item of the sub-files is re-exported here, so `wire::application::dns::X` names it.

pub mod name;
pub mod record;

pub use name::{read_name, read_name_with_pointer, MAX_JUMPS, MAX_LABEL_LEN, MAX_NAME_LEN};
pub use record::{Class, Rdata, Record, RrType};

use crate::layers::Protocol;
use crate::wire::{be16, Error, Field, FieldSpec, Result};
use record::read_record;
use serde::Serialize;
use std::fmt;
use std::fmt::Write as _;
use std::ops::Range;

pub mod field {
    use std::ops::Range;
    pub const ID: Range<usize> = 0..2;
    pub const FLAGS: Range<usize> = 2..4;
    pub const QDCOUNT: Range<usize> = 4..6;
    pub const ANCOUNT: Range<usize> = 6..8;
    pub const NSCOUNT: Range<usize> = 8..10;
    pub const ARCOUNT: Range<usize> = 10..12;

    // A question's two codes (§4.1.2), counted from the end of its QNAME: the name has
    // no fixed length, so nothing after it has a fixed offset in the message.
    pub const QTYPE: Range<usize> = 0..2;
    pub const QCLASS: Range<usize> = 2..4;
}

pub const HEADER_LEN: usize = field::ARCOUNT.end;
/// The bytes of a question after its name: QTYPE and QCLASS.
pub const QUESTION_FIXED_LEN: usize = field::QCLASS.end;
/// The well-known port, for UDP and TCP alike.
pub const PORT: u16 = 53;
/// Multicast DNS (RFC 6762) uses the same message format on port 5353.
pub const MDNS_PORT: u16 = 5353;

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec { name: "id", span: field::ID, about: "chosen by the asker, copied into the response so it can be matched to its query" },
    FieldSpec { name: "flags", span: field::FLAGS, about: "QR (0 query, 1 response), opcode, AA, TC, RD, RA, Z, AD, CD and the response code" },
    FieldSpec { name: "qdcount", span: field::QDCOUNT, about: "entries in the question section" },
    FieldSpec { name: "ancount", span: field::ANCOUNT, about: "resource records in the answer section" },
    FieldSpec { name: "nscount", span: field::NSCOUNT, about: "resource records in the authority section (name servers, or the SOA of a negative answer)" },
    FieldSpec { name: "arcount", span: field::ARCOUNT, about: "resource records in the additional section (glue, EDNS0's OPT)" },
];

fn malformed(reason: &'static str) -> Error {
    Error::Malformed {
        protocol: Protocol::Dns,
        reason,
    }
}

fn truncated(needed: usize, got: usize) -> Error {
    Error::Truncated {
        protocol: Protocol::Dns,
        needed,
        got,
    }
}

/// Bytes `at..at + n` of `buf`, or [`Error::Truncated`].
fn take(buf: &[u8], at: usize, n: usize) -> Result<&[u8]> {
    let end = at.saturating_add(n);
    buf.get(at..end).ok_or_else(|| truncated(end, buf.len()))
}

/// A zero-copy view of a DNS message's fixed header.
#[derive(Debug, Clone, Copy)]
pub struct Message<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Message<T> {
    /// The 12-byte header must be present; the sections are read by [`Repr::parse`].
    pub fn new_checked(buffer: T) -> Result<Message<T>> {
        crate::wire::need_len(buffer.as_ref(), HEADER_LEN, Protocol::Dns)?;
        Ok(Message { buffer })
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn id(&self) -> u16 {
        be16(self.b(), field::ID)
    }
    pub fn flags(&self) -> Flags {
        Flags(be16(self.b(), field::FLAGS))
    }
    pub fn qdcount(&self) -> u16 {
        be16(self.b(), field::QDCOUNT)
    }
    pub fn ancount(&self) -> u16 {
        be16(self.b(), field::ANCOUNT)
    }
    pub fn nscount(&self) -> u16 {
        be16(self.b(), field::NSCOUNT)
    }
    pub fn arcount(&self) -> u16 {
        be16(self.b(), field::ARCOUNT)
    }
}

/// The 16 flag bits of the second header word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Flags(pub u16);

impl Flags {
    /// 0 = query, 1 = response.
    pub fn qr(self) -> bool {
        self.0 & 0x8000 != 0
    }
    pub fn opcode(self) -> Opcode {
        Opcode::from(((self.0 >> 11) & 0xf) as u8)
    }
    /// Authoritative Answer: the responding server owns the zone.
    pub fn aa(self) -> bool {
        self.0 & 0x0400 != 0
    }
    /// TrunCation: the message did not fit; ask again over TCP.
    pub fn tc(self) -> bool {
        self.0 & 0x0200 != 0
    }
    /// Recursion Desired (set by the asker, copied into the response).
    pub fn rd(self) -> bool {
        self.0 & 0x0100 != 0
    }
    /// Recursion Available (the server offers recursion).
    pub fn ra(self) -> bool {
        self.0 & 0x0080 != 0
    }
    /// The reserved bit: must be zero (RFC 1035 §4.1.1).
    pub fn z(self) -> bool {
        self.0 & 0x0040 != 0
    }
    /// Authentic Data (RFC 4035 §3.2.3): the resolver validated the answer with DNSSEC.
    pub fn ad(self) -> bool {
        self.0 & 0x0020 != 0
    }
    /// Checking Disabled (RFC 4035 §3.2.2): the asker will validate itself.
    pub fn cd(self) -> bool {
        self.0 & 0x0010 != 0
    }
    /// The header's 4-bit response code (EDNS0 extends it with 8 more bits).
    pub fn rcode(self) -> u8 {
        (self.0 & 0xf) as u8
    }

    /// The set one-bit flags by name, e.g. "qr aa rd ra".
    pub fn names(self) -> String {
        let mut s = String::new();
        for (on, n) in [
            (self.qr(), "qr"),
            (self.aa(), "aa"),
            (self.tc(), "tc"),
            (self.rd(), "rd"),
            (self.ra(), "ra"),
            (self.z(), "z"),
            (self.ad(), "ad"),
            (self.cd(), "cd"),
        ] {
            if on {
                if !s.is_empty() {
                    s.push(' ');
                }
                s.push_str(n);
            }
        }
        s
    }
}

/// What kind of message this is (RFC 1035 §4.1.1, RFC 6895 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Opcode {
    /// 0: a standard query (QUERY).
    Query,
    /// 1: inverse query, obsolete (RFC 3425).
    IQuery,
    /// 2: server status request.
    Status,
    /// 4: zone change notification (RFC 1996).
    Notify,
    /// 5: dynamic update (RFC 2136).
    Update,
    /// 6: DNS stateful operations (RFC 8490).
    Dso,
    Unknown(u8),
}

impl From<u8> for Opcode {
    fn from(v: u8) -> Opcode {
        match v {
            0 => Opcode::Query,
            1 => Opcode::IQuery,
            2 => Opcode::Status,
            4 => Opcode::Notify,
            5 => Opcode::Update,
            6 => Opcode::Dso,
            o => Opcode::Unknown(o),
        }
    }
}

impl Opcode {
    pub fn number(self) -> u8 {
        match self {
            Opcode::Query => 0,
            Opcode::IQuery => 1,
            Opcode::Status => 2,
            Opcode::Notify => 4,
            Opcode::Update => 5,
            Opcode::Dso => 6,
            Opcode::Unknown(o) => o,
        }
    }
    /// As in a capture's summary: "Standard query", "Dynamic update".
    pub fn describe(self) -> String {
        match self {
            Opcode::Query => "Standard query".into(),
            Opcode::IQuery => "Inverse query".into(),
            Opcode::Status => "Server status request".into(),
            Opcode::Notify => "Zone change notification".into(),
            Opcode::Update => "Dynamic update".into(),
            Opcode::Dso => "DNS stateful operation".into(),
            Opcode::Unknown(o) => format!("Opcode {o}"),
        }
    }
}

/// The mnemonic of a response code (RFC 1035 §4.1.1 for 0-5; the rest as registered
/// in the IANA "DNS RCODEs" registry, RFC 6895 §2.3). Codes above 15 need EDNS0's
/// extended RCODE (RFC 6891 §6.1.3); 16 is BADVERS in an OPT record and BADSIG in TSIG.
pub fn rcode_name(code: u16) -> Option<&'static str> {
    Some(match code {
        0 => "NoError",
        1 => "FormErr",
        2 => "ServFail",
        3 => "NXDomain",
        4 => "NotImp",
        5 => "Refused",
        6 => "YXDomain",
        7 => "YXRRSet",
        8 => "NXRRSet",
        9 => "NotAuth",
        10 => "NotZone",
        11 => "DSOTYPENI",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        _ => return None,
    })
}

/// What a response code means, in words.
pub fn rcode_meaning(code: u16) -> &'static str {
    match code {
        0 => "no error",
        1 => "format error: the server could not understand the query",
        2 => "server failure: the server could not answer (often: it could not reach the zone's servers)",
        3 => "no such name: the name does not exist (only an authoritative source can say so)",
        4 => "not implemented: the server does not support this kind of query",
        5 => "refused: the server will not answer this asker (policy)",
        6 => "a name exists that should not (dynamic update)",
        7 => "an RR set exists that should not (dynamic update)",
        8 => "an RR set that should exist does not (dynamic update)",
        9 => "server not authoritative for the zone, or not authorized",
        10 => "a name is not in the zone (dynamic update)",
        11 => "DSO type not implemented",
        16 => "bad OPT version",
        23 => "bad or missing server cookie",
        _ => "a code netlab has no words for",
    }
}

/// One entry of the question section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Question {
    pub name: String,
    pub qtype: RrType,
    pub qtype_name: String,
    pub class: Class,
    /// Offsets inside the message.
    pub span: Range<usize>,
}

impl fmt::Display for Question {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.name, self.class, self.qtype)
    }
}

/// Which section a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

/// The owned meaning of a whole message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repr {
    pub id: u16,
    pub flags: Flags,
    pub qr: bool,
    pub opcode: Opcode,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub z: bool,
    pub ad: bool,
    pub cd: bool,
    /// The full response code: the header's 4 bits, extended by an OPT record's upper
    /// 8 bits when there is one (RFC 6891 §6.1.3).
    pub rcode: u16,
    pub rcode_name: Option<&'static str>,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
    /// The message's length in bytes.
    pub len: usize,
    /// Why the sections could not all be read, if they could not (the header and the
    /// entries before the problem are still good).
    pub problem: Option<Error>,
}

impl Repr {
    /// Read a whole message strictly: any defect in any section is an error.
    pub fn parse(msg: &[u8]) -> Result<Repr> {
        let r = Repr::parse_partial(msg)?;
        match r.problem {
            Some(e) => Err(e),
            None => Ok(r),
        }
    }

    /// Read the header (an error if it is not all there), then as many entries as the
    /// bytes allow; the first defect stops the reading and is kept in `problem`.
    ///
    /// Counts are claims: a header saying 65535 answers costs nothing until the bytes
    /// run out, since every entry needs at least 5 (question) or 11 (record) bytes.
    pub fn parse_partial(msg: &[u8]) -> Result<Repr> {
        let m = Message::new_checked(msg)?;
        let flags = m.flags();
        let mut r = Repr {
            id: m.id(),
            flags,
            qr: flags.qr(),
            opcode: flags.opcode(),
            aa: flags.aa(),
            tc: flags.tc(),
            rd: flags.rd(),
            ra: flags.ra(),
            z: flags.z(),
            ad: flags.ad(),
            cd: flags.cd(),
            rcode: u16::from(flags.rcode()),
            rcode_name: rcode_name(u16::from(flags.rcode())),
            qdcount: m.qdcount(),
            ancount: m.ancount(),
            nscount: m.nscount(),
            arcount: m.arcount(),
            questions: Vec::new(),
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
            len: msg.len(),
            problem: None,
        };
        if let Err(e) = r.sections(msg) {
            r.problem = Some(e);
        }
        Ok(r)
    }

    fn sections(&mut self, msg: &[u8]) -> Result<()> {
        let mut pos = HEADER_LEN;
        for _ in 0..self.qdcount {
            let (name, after) = read_name(msg, pos)?;
            let t = take(msg, after, QUESTION_FIXED_LEN)?;
            let qtype = RrType(be16(t, field::QTYPE));
            self.questions.push(Question {
                name,
                qtype,
                qtype_name: qtype.to_string(),
                class: Class(be16(t, field::QCLASS)),
                span: pos..after + QUESTION_FIXED_LEN,
            });
            pos = after + QUESTION_FIXED_LEN;
        }
        for (count, section) in [
            (self.ancount, Section::Answer),
            (self.nscount, Section::Authority),
            (self.arcount, Section::Additional),
        ] {
            for _ in 0..count {
                let (rec, after) = read_record(msg, pos)?;
                if let Rdata::Opt { extended_rcode, .. } = rec.rdata {
                    self.rcode = (u16::from(extended_rcode) << 4) | u16::from(self.flags.rcode());
                    self.rcode_name = rcode_name(self.rcode);
                }
                match section {
                    Section::Answer => self.answers.push(rec),
                    Section::Authority => self.authority.push(rec),
                    Section::Additional => self.additional.push(rec),
                }
                pos = after;
            }
        }
        Ok(())
    }

    /// Every record with its section, in message order.
    pub fn records(&self) -> impl Iterator<Item = (Section, &Record)> {
        self.answers
            .iter()
            .map(|r| (Section::Answer, r))
            .chain(self.authority.iter().map(|r| (Section::Authority, r)))
            .chain(self.additional.iter().map(|r| (Section::Additional, r)))
    }

    /// The rcode as a name, or its number.
    pub fn rcode_text(&self) -> String {
        match self.rcode_name {
            Some(n) => n.to_owned(),
            None => format!("RCODE{}", self.rcode),
        }
    }

    /// Fields for the layer tree and hexdump: the header's, then one per entry, with
    /// spans relative to the message's first byte.
    pub fn fields(&self) -> Vec<Field> {
        let a = |i: usize| FIELDS[i].about;
        let f = self.flags;
        let mut v = vec![
            Field::new("id", format!("0x{:04x}", self.id), field::ID, a(0)),
            Field::new(
                "flags",
                format!(
                    "0x{:04x}: {} opcode {} ({}), rcode {} ({}){}",
                    f.0,
                    if self.qr { "response" } else { "query" },
                    self.opcode.number(),
                    self.opcode.describe(),
                    self.rcode,
                    self.rcode_text(),
                    if f.names().is_empty() {
                        String::new()
                    } else {
                        format!(", flags {}", f.names())
                    }
                ),
                field::FLAGS,
                a(1),
            ),
            Field::new("qdcount", self.qdcount.to_string(), field::QDCOUNT, a(2)),
            Field::new("ancount", self.ancount.to_string(), field::ANCOUNT, a(3)),
            Field::new("nscount", self.nscount.to_string(), field::NSCOUNT, a(4)),
            Field::new("arcount", self.arcount.to_string(), field::ARCOUNT, a(5)),
        ];
        for q in &self.questions {
            v.push(Field::new(
                "question",
                q.to_string(),
                q.span.clone(),
                "what is asked: a name, a class and a type",
            ));
        }
        for (s, r) in self.records() {
            let (name, about) = match s {
                Section::Answer => ("answer", "a record that answers the question"),
                Section::Authority => (
                    "authority",
                    "a record naming the zone's servers, or its SOA for a negative answer",
                ),
                Section::Additional => (
                    "additional",
                    "a record the server adds to save a later query (or EDNS0's OPT)",
                ),
            };
            let mut value = r.to_string();
            if let Some(p) = r.name_pointer {
                let _ = write!(value, "  (owner name compressed: pointer to offset {p})");
            }
            v.push(Field::new(name, value, r.span.clone(), about));
        }
        v
    }
}

impl fmt::Display for Repr {
    /// In the style of a capture tool's summary: "Standard query 0x1a2b A example.test",
    /// "Standard query response 0x1a2b A example.test A 10.0.0.1".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.opcode.describe())?;
        if self.qr {
            f.write_str(" response")?;
        }
        write!(f, " 0x{:04x}", self.id)?;
        if self.qr && self.rcode != 0 {
            write!(f, " {}", self.rcode_text())?;
        }
        if self.tc {
            f.write_str(" (truncated: TC)")?;
        }
        for q in &self.questions {
            write!(f, " {} {}", q.qtype, q.name)?;
        }
        const SHOWN: usize = 4;
        let rest: Vec<&Record> = self
            .answers
            .iter()
            .chain(self.authority.iter())
            .filter(|r| r.rtype != RrType::OPT)
            .collect();
        for (shown, r) in rest.iter().enumerate() {
            if shown == SHOWN {
                write!(f, " (+{} more)", rest.len() - SHOWN)?;
                break;
            }
            match r.rtype {
                RrType::SOA => {
                    if let Rdata::Soa { mname, .. } = &r.rdata {
                        write!(f, " SOA {mname}")?;
                    }
                }
                RrType::TXT => {
                    // Text can be long: a glance is enough on one line.
                    let t = r.rdata.to_string();
                    match t.char_indices().nth(24) {
                        Some((i, _)) => write!(f, " TXT {}…", &t[..i])?,
                        None => write!(f, " TXT {t}")?,
                    }
                }
                t => write!(f, " {t} {}", r.rdata)?,
            }
        }
        if let Some(p) = &self.problem {
            write!(f, " [malformed: {p}]")?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `dig @127.0.0.1 www.example.test A` against the fixture's dnsmasq
    /// (tests/fixtures/dns.pcap, frame 1, the UDP payload): ID 0xa812, RD and AD set,
    /// one question and an EDNS0 OPT record carrying dig's 8-byte client cookie.
    pub const QUERY_WWW_A: [u8; 57] = [
        0xa8, 0x12, 0x01, 0x20, // id | flags: RD, AD
        0x00, 0x01, 0x00, 0x00, // qdcount 1 | ancount 0
        0x00, 0x00, 0x00, 0x01, // nscount 0 | arcount 1
        0x03, b'w', b'w', b'w', 0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x04, b't', b'e',
        b's', b't', 0x00, // www.example.test
        0x00, 0x01, 0x00, 0x01, // type A, class IN
        0x00, // OPT: root name
        0x00, 0x29, 0x04, 0xd0, // type 41 | udp payload size 1232
        0x00, 0x00, 0x00, 0x00, // extended rcode 0, version 0, flags 0
        0x00, 0x0c, // rdlength 12
        0x00, 0x0a, 0x00, 0x08, // option COOKIE, length 8
        0xe7, 0x9c, 0xbc, 0x35, 0x42, 0x34, 0xa4, 0x1f,
    ];

    #[test]
    fn deconstruct_query() {
        let r = Repr::parse(&QUERY_WWW_A).unwrap();
        assert_eq!(
            (r.id, r.qr, r.opcode, r.rd, r.ad),
            (0xa812, false, Opcode::Query, true, true)
        );
        assert_eq!((r.qdcount, r.ancount, r.nscount, r.arcount), (1, 0, 0, 1));
        assert_eq!(r.questions[0].name, "www.example.test");
        assert_eq!(r.questions[0].qtype, RrType::A);
        assert_eq!(r.questions[0].span, 12..34);
        let Rdata::Opt {
            udp_payload_size,
            ref options,
            ..
        } = r.additional[0].rdata
        else {
            panic!("OPT expected")
        };
        assert_eq!(
            (udp_payload_size, options.as_slice()),
            (1232, &[(10, 8)][..])
        );
        assert_eq!(r.to_string(), "Standard query 0xa812 A www.example.test");
    }

    /// dnsmasq's answer to `dig alias.example.test A` (tests/fixtures/dns.pcap, frame 6):
    /// a CNAME whose owner is a pointer to the question's name (0xc00c), then an A record
    /// whose owner is a pointer to the CNAME's target (0xc030, offset 48).
    pub(super) fn response() -> Vec<u8> {
        let hex = "1c5a8500000100020001000105616c696173076578616d706c6504746573740000010001\
                   c00c0005000100000258001203777777076578616d706c65047465737400\
                   c030000100010000025800040a000001\
                   076578616d706c6504746573740000020001000002580011026e73076578616d706c65047465737400\
                   00002904d0000000000000";
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn deconstruct_response_with_compression() {
        let m = response();
        let r = Repr::parse(&m).unwrap();
        assert!(r.qr && r.aa && r.rd && !r.ra);
        assert_eq!(r.rcode_name, Some("NoError"));
        assert_eq!((r.ancount, r.nscount, r.arcount), (2, 1, 1));
        assert_eq!(r.answers[0].name, "alias.example.test");
        assert_eq!(
            r.answers[0].rdata,
            Rdata::Cname {
                target: "www.example.test".into()
            }
        );
        assert_eq!(r.answers[1].name, "www.example.test");
        assert_eq!(
            r.answers[1].to_string(),
            "www.example.test 600 IN A 10.0.0.1"
        );
        assert_eq!(
            r.authority[0].to_string(),
            "example.test 600 IN NS ns.example.test"
        );
        assert_eq!(r.additional[0].rtype, RrType::OPT);
        assert_eq!(
            r.to_string(),
            "Standard query response 0x1c5a A alias.example.test CNAME www.example.test A 10.0.0.1 NS ns.example.test"
        );
        let f = r.fields();
        assert_eq!(
            f[1].value,
            "0x8500: response opcode 0 (Standard query), rcode 0 (NoError), flags qr aa rd"
        );
        assert_eq!(f[7].span, 36..66);
        assert_eq!(f[8].span, 66..82);
    }

    #[test]
    fn every_truncated_prefix_is_an_error_not_a_panic() {
        for msg in [QUERY_WWW_A.to_vec(), response()] {
            for n in 0..msg.len() {
                assert!(Repr::parse(&msg[..n]).is_err(), "prefix of {n} bytes");
                if let Ok(r) = Repr::parse_partial(&msg[..n]) {
                    assert!(r.problem.is_some(), "prefix {n}");
                    let _ = (r.to_string(), r.fields());
                }
            }
        }
    }

    #[test]
    fn rcode_names_per_rfc_6895() {
        assert_eq!(rcode_name(3), Some("NXDomain"));
        assert_eq!(rcode_name(5), Some("Refused"));
        assert_eq!(rcode_name(16), Some("BADVERS"));
        assert_eq!(rcode_name(12), None);
        // An OPT record's extended RCODE supplies the upper 8 bits (RFC 6891 §6.1.3).
        let mut m = QUERY_WWW_A.to_vec();
        m[2] |= 0x80;
        m[39] = 1; // extended rcode 1, header rcode 0: 16 = BADVERS
        let r = Repr::parse(&m).unwrap();
        assert_eq!((r.rcode, r.rcode_name), (16, Some("BADVERS")));
    }

    /// A response header (QR, RD and RA set) claiming `qd` questions and `an` answers.
    pub(super) fn header(qd: u16, an: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80];
        m.extend_from_slice(&qd.to_be_bytes());
        m.extend_from_slice(&an.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        m
    }

    /// The fixture's response in a raw IPv4 packet, UDP from port 53.
    fn response_packet() -> Vec<u8> {
        let msg = response();
        let mut p = vec![
            0x45, 0, 0, 0, 0x2a, 0xc0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1, //
            0, 53, 0xb0, 0x03, 0, 0, 0, 0, // UDP 53 → 45059, no checksum
        ];
        p[2..4].copy_from_slice(&((28 + msg.len()) as u16).to_be_bytes());
        p[24..26].copy_from_slice(&((8 + msg.len()) as u16).to_be_bytes());
        p.extend_from_slice(&msg);
        p
    }

    #[test]
    fn dissect_places_dns_above_udp_and_survives_every_prefix() {
        use crate::layers::{OsiLayer, TcpIpLayer};
        use crate::wire::dissect::{dissect, LayerRepr, LinkType};
        let p = response_packet();
        let d = dissect(LinkType::Raw, &p);
        let l = d.top().unwrap();
        assert_eq!(l.protocol, Protocol::Dns);
        assert_eq!(
            (l.protocol.osi(), l.protocol.tcpip()),
            (OsiLayer::Application, TcpIpLayer::Application)
        );
        assert_eq!(l.header, 28..p.len());
        assert!(matches!(&l.repr, LayerRepr::Dns(r) if r.ancount == 2));
        assert!(d.stopped.is_none());
        // Field spans are absolute in the packet: the ID sits right after UDP's header.
        let f = l.fields(&p);
        assert_eq!((f[0].name, f[0].span.clone()), ("id", 28..30));
        for n in 0..p.len() {
            let d = dissect(LinkType::Raw, &p[..n]);
            for l in &d.layers {
                let _ = l.summary();
                for f in l.fields(&p[..n]) {
                    assert!(f.span.end <= n, "prefix {n}: {} beyond the bytes", f.name);
                }
            }
            // A cut DNS message keeps its layer only if the header survived, and then
            // says why decoding stopped.
            if let Some(l) = d.find(Protocol::Dns) {
                assert!(l.header.len() >= HEADER_LEN);
                assert!(d.stopped.is_some(), "prefix {n}");
            }
        }
        // Not port 53 or 5353: the same bytes stay plain data.
        let mut q = p.clone();
        q[20..22].copy_from_slice(&4000u16.to_be_bytes());
        assert!(!dissect(LinkType::Raw, &q).has(Protocol::Dns));
    }
}
