//! permessage-deflate, RFC 7692: each message compressed on its own with DEFLATE
//! (RFC 1951), the compressor's memory optionally kept from one message to the next.
//!
//! ```text
//!  sender                                                         receiver
//!  "Hello" ─► DEFLATE, sync flush ─► f2 48 cd c9 c9 07 00 00 00 ff ff
//!                   §7.2.1: remove the empty block's tail ──────┘└──────┘
//!  frame: RSV1=1 (§6: "this message is compressed"), payload f2 48 cd c9 c9 07 00
//!                                             §7.2.2: append 00 00 ff ff, inflate ─► "Hello"
//! ```
//!
//! - **Negotiation** (§5, §7.1): the client offers `permessage-deflate` with parameters,
//!   possibly several offers; the server takes the first it can honour and answers with
//!   the parameters that apply ([`accept_offers`]); the client checks the answer
//!   ([`check_response`]). The four parameters:
//!   - `server_no_context_takeover` / `client_no_context_takeover` (§7.1.1): that side
//!     starts every message with an empty window, so the other side may forget too.
//!   - `server_max_window_bits` / `client_max_window_bits` (§7.1.2): that side's LZ77
//!     window is at most 2^N bytes (N in 8..=15), so the receiver needs no more memory.
//! - **Context takeover** (§7.2.1): by default the compressor keeps the last 32 KiB it
//!   saw, so the second "Hello" is only a back-reference (`f2 00 11 00 00`, §7.2.3.2).
//! - **The limit** ([`Inflater::inflate`]): a few compressed bytes can stand for
//!   gigabytes (a "zip bomb"); the receiver inflates in bounded steps and stops as soon
//!   as the message passes its limit, so it never holds more than the limit.
//!
//! The bit-level DEFLATE work is the `miniz_oxide` crate's; what is here is the
//! extension's logic. **Window bits.** `miniz_oxide` (like zlib) always decodes with a
//! 32 KiB window, which reads any smaller one, so the receiving side needs nothing. When
//! *sending* under a limit below 15, netlab cannot bound miniz_oxide's match distance
//! exactly, so it compresses with run-length matches only (distance 1, which fits any
//! window, even 8 bits): correct, if weaker (Autobahn's 13.3.* cases check it against
//! zlib with 2^9-byte windows). zlib cannot compress with an 8-bit window and servers
//! built on it answer 9 to an offer of 8; netlab honours 8 as asked.

use super::extensions::{ExtensionOffer, ExtensionParam};
use super::Role;
use miniz_oxide::deflate::core::{
    create_comp_flags_from_zip_params, CompressionStrategy, CompressorOxide,
};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};
use serde::Serialize;

/// The extension's name in `Sec-WebSocket-Extensions`.
pub const NAME: &str = "permessage-deflate";
/// §7.2.1: the last four bytes of a sync flush, removed by the sender.
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// Messages smaller than this go uncompressed by default, as Node's `ws` does: the
/// few bytes DEFLATE could save are not worth its time (and small messages rarely shrink).
pub const DEFAULT_THRESHOLD: usize = 1024;
/// The client's offer: the extension with `client_max_window_bits`, which says "you may
/// limit my window" (§7.1.2.2); netlab can honour any limit.
pub const CLIENT_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// What both sides agreed (the parameters of the server's answer, defaults filled in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Agreement {
    /// The server resets its compressor for every message (§7.1.1.1).
    pub server_no_context_takeover: bool,
    /// The client resets its compressor for every message (§7.1.1.2).
    pub client_no_context_takeover: bool,
    /// The server's window is at most 2^N bytes (§7.1.2.1); 15 when not limited.
    pub server_max_window_bits: u8,
    /// The client's window is at most 2^N bytes (§7.1.2.2); 15 when not limited.
    pub client_max_window_bits: u8,
}

impl Default for Agreement {
    fn default() -> Self {
        Agreement {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// One direction of the agreement: how one side compresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DirectionParams {
    pub no_context_takeover: bool,
    pub max_window_bits: u8,
}

impl Agreement {
    /// How `sender` compresses under this agreement.
    pub fn of(&self, sender: Role) -> DirectionParams {
        match sender {
            Role::Server => DirectionParams {
                no_context_takeover: self.server_no_context_takeover,
                max_window_bits: self.server_max_window_bits,
            },
            Role::Client => DirectionParams {
                no_context_takeover: self.client_no_context_takeover,
                max_window_bits: self.client_max_window_bits,
            },
        }
    }

    /// The server's answer, as a header value: only the parameters that differ from the
    /// defaults, as the RFC's examples write it.
    pub fn response_value(&self) -> String {
        let mut s = NAME.to_owned();
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            s.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        if self.client_max_window_bits < 15 {
            s.push_str(&format!(
                "; client_max_window_bits={}",
                self.client_max_window_bits
            ));
        }
        s
    }
}

/// Why an offer or an answer is refused, each naming the rule of RFC 7692 it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParamError {
    #[error("unknown parameter {name:?} (RFC 7692 §7.1)")]
    Unknown { name: String },
    #[error("parameter {name:?} appears twice (RFC 7692 §7.1)")]
    Duplicate { name: String },
    #[error("{name} takes no value, got {value:?} (RFC 7692 §7.1.1)")]
    UnexpectedValue { name: String, value: String },
    #[error("{name}={value:?}: window bits are a number from 8 to 15 (RFC 7692 §7.1.2)")]
    BadWindowBits { name: String, value: String },
    #[error("server_max_window_bits needs a value in an answer or an offer (RFC 7692 §7.1.2.1)")]
    MissingWindowBits,
    #[error("the server limited our window with client_max_window_bits, which we did not offer (RFC 7692 §7.1.2.2)")]
    ClientWindowNotOffered,
    #[error("the server answered with {0} extension(s); we offered one permessage-deflate")]
    UnexpectedExtensions(usize),
    #[error("the server chose extension {0:?}, which we did not offer")]
    NotOffered(String),
}

/// How an offer spoke of `client_max_window_bits` (§7.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientWindowOffer {
    /// Not mentioned: the server must not limit the client's window.
    Absent,
    /// Mentioned without a value: the client could honour a limit.
    Supported,
    /// The client will use at most 2^N bytes anyway.
    AtMost(u8),
}

/// A client's offer, its parameters read and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Offer {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: Option<u8>,
    pub client_max_window_bits: ClientWindowOffer,
}

/// Window bits: a decimal number from 8 to 15 (§7.1.2.1: "1*DIGIT", "MUST be an
/// integer in the range 8 to 15 inclusive"); netlab also refuses leading zeros ("08"),
/// which no implementation sends.
fn window_bits(p: &ExtensionParam) -> Result<Option<u8>, ParamError> {
    let Some(v) = &p.value else {
        return Ok(None);
    };
    let bad = || ParamError::BadWindowBits {
        name: p.name.clone(),
        value: v.clone(),
    };
    if v.starts_with('0') {
        return Err(bad());
    }
    match v.parse::<u8>() {
        Ok(n @ 8..=15) => Ok(Some(n)),
        _ => Err(bad()),
    }
}

/// A flag parameter: present, and without a value.
fn flag(p: &ExtensionParam) -> Result<bool, ParamError> {
    match &p.value {
        None => Ok(true),
        Some(v) => Err(ParamError::UnexpectedValue {
            name: p.name.clone(),
            value: v.clone(),
        }),
    }
}

/// Each parameter at most once, and only the four of §7.1.
fn check_names(params: &[ExtensionParam]) -> Result<(), ParamError> {
    for (i, p) in params.iter().enumerate() {
        let known = [
            "server_no_context_takeover",
            "client_no_context_takeover",
            "server_max_window_bits",
            "client_max_window_bits",
        ];
        if !known.contains(&p.name.as_str()) {
            return Err(ParamError::Unknown {
                name: p.name.clone(),
            });
        }
        if params[..i].iter().any(|q| q.name == p.name) {
            return Err(ParamError::Duplicate {
                name: p.name.clone(),
            });
        }
    }
    Ok(())
}

/// Read one `permessage-deflate` offer (§7.1: "a server MUST decline" an offer with an
/// unknown or repeated parameter, or an invalid value).
pub fn parse_offer(params: &[ExtensionParam]) -> Result<Offer, ParamError> {
    check_names(params)?;
    let mut offer = Offer {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: None,
        client_max_window_bits: ClientWindowOffer::Absent,
    };
    for p in params {
        match p.name.as_str() {
            "server_no_context_takeover" => offer.server_no_context_takeover = flag(p)?,
            "client_no_context_takeover" => offer.client_no_context_takeover = flag(p)?,
            "server_max_window_bits" => {
                offer.server_max_window_bits =
                    Some(window_bits(p)?.ok_or(ParamError::MissingWindowBits)?)
            }
            _ => {
                offer.client_max_window_bits = match window_bits(p)? {
                    None => ClientWindowOffer::Supported,
                    Some(n) => ClientWindowOffer::AtMost(n),
                }
            }
        }
    }
    Ok(offer)
}

/// The server's answer to one acceptable offer: honour what the client asked of the
/// server, echo `client_no_context_takeover` (the client said it will reset anyway), and
/// leave the client's window at what it offered (netlab's inflater reads any window).
pub fn answer(offer: &Offer) -> Agreement {
    Agreement {
        server_no_context_takeover: offer.server_no_context_takeover,
        client_no_context_takeover: offer.client_no_context_takeover,
        server_max_window_bits: offer.server_max_window_bits.unwrap_or(15),
        client_max_window_bits: match offer.client_max_window_bits {
            ClientWindowOffer::AtMost(n) => n,
            _ => 15,
        },
    }
}

/// How the server judged each offer, for the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfferVerdict {
    pub offer: String,
    /// `None` when accepted; the rule it broke otherwise.
    pub declined: Option<ParamError>,
}

/// The server's side (§5): the first acceptable `permessage-deflate` offer, with a verdict
/// for every offer looked at. Other extensions are declined by not answering them.
pub fn accept_offers(offers: &[ExtensionOffer]) -> (Option<Agreement>, Vec<OfferVerdict>) {
    let mut verdicts = Vec::new();
    for o in offers.iter().filter(|o| o.name.eq_ignore_ascii_case(NAME)) {
        let text = super::extensions::format(o);
        match parse_offer(&o.params) {
            Ok(offer) => {
                verdicts.push(OfferVerdict {
                    offer: text,
                    declined: None,
                });
                return (Some(answer(&offer)), verdicts);
            }
            Err(e) => verdicts.push(OfferVerdict {
                offer: text,
                declined: Some(e),
            }),
        }
    }
    (None, verdicts)
}

/// The client's side: check the server's answer to [`CLIENT_OFFER`] (§5: "the client
/// MUST _Fail the WebSocket Connection_" if the answer has an unknown or repeated
/// parameter, an invalid value, or limits a window the client did not let it).
pub fn check_response(
    answered: &[ExtensionOffer],
    offered: bool,
) -> Result<Option<Agreement>, ParamError> {
    let [ext] = answered else {
        return match answered.len() {
            0 => Ok(None),
            n => Err(ParamError::UnexpectedExtensions(n)),
        };
    };
    if !offered || !ext.name.eq_ignore_ascii_case(NAME) {
        return Err(ParamError::NotOffered(ext.name.clone()));
    }
    check_names(&ext.params)?;
    let mut a = Agreement::default();
    for p in &ext.params {
        match p.name.as_str() {
            "server_no_context_takeover" => a.server_no_context_takeover = flag(p)?,
            "client_no_context_takeover" => a.client_no_context_takeover = flag(p)?,
            "server_max_window_bits" => {
                a.server_max_window_bits = window_bits(p)?.ok_or(ParamError::MissingWindowBits)?
            }
            // Our offer carries client_max_window_bits, so a limit may come back; it
            // must have a value (§7.1.2.2).
            _ => {
                a.client_max_window_bits =
                    window_bits(p)?.ok_or(ParamError::ClientWindowNotOffered)?
            }
        }
    }
    Ok(Some(a))
}

// ------------------------------------------------- the sender's choice, the trace ---

/// Whether to compress a message when permessage-deflate is on (RFC 7692 §6: each
/// message is the sender's choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compress {
    /// When it is at least the threshold ([`DEFAULT_THRESHOLD`]).
    Auto,
    /// Never: Socket.IO's `compress(false)`.
    Never,
    /// Whatever its size.
    Always,
}

/// What permessage-deflate did with a message, for the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeflateNote {
    /// Compressed: `wire` payload bytes on the wire (all frames), `inflated` the message.
    Compressed { wire: usize, inflated: usize },
    /// Sent uncompressed although the extension is on.
    Uncompressed(Uncompressed),
}

/// Why a message went uncompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uncompressed {
    /// Smaller than the threshold: not worth compressing.
    BelowThreshold { threshold: usize },
    /// The sender asked ([`Compress::Never`]).
    Asked,
}

// ------------------------------------------------------------------ the codec -------

/// Why an inflate stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    /// The inflated message passed `max` bytes (it holds at most `max` + one step).
    TooBig { max: usize },
    /// The bytes are not valid DEFLATE.
    Corrupt,
}

/// The sending half: one compressor, reset per message or kept (context takeover).
pub struct Deflater {
    params: DirectionParams,
    /// Made on the first compressed message: a compressor holds ~300 KiB of tables, which
    /// a connection that sends only small messages never needs.
    compressor: Option<Box<CompressorOxide>>,
}

/// DEFLATE level 6: zlib's default, the one Node's `ws` and Python's `websockets` use.
const LEVEL: u8 = 6;

impl Deflater {
    pub fn new(params: DirectionParams) -> Deflater {
        Deflater {
            params,
            compressor: None,
        }
    }

    /// Compress one whole message into `out` (appended), without the 4-byte tail (§7.2.1).
    pub fn compress(&mut self, message: &[u8], out: &mut Vec<u8>) {
        let window = self.params.max_window_bits;
        let c = self.compressor.get_or_insert_with(|| {
            // Below 15 bits, run-length matches only: see the module docs. (The flags are
            // built by hand: `CompressorOxide::with_params` turns a small window into
            // level 1, whose fast path ignores the RLE strategy and matches 32 KiB back.)
            let strategy = if window < 15 {
                CompressionStrategy::RLE
            } else {
                CompressionStrategy::Default
            };
            // Negative window bits: raw DEFLATE, no zlib header (RFC 7692 §7.2.1).
            let flags = create_comp_flags_from_zip_params(LEVEL.into(), -15, strategy as i32);
            Box::new(CompressorOxide::new(flags))
        });
        let start = out.len();
        let mut input = message;
        loop {
            // Room for the input plus a little: DEFLATE rarely grows data by more.
            let room = input.len() + input.len() / 16 + 64;
            let at = out.len();
            out.resize(at + room, 0);
            let r = miniz_oxide::deflate::stream::deflate(c, input, &mut out[at..], MZFlush::Sync);
            out.truncate(at + r.bytes_written);
            input = &input[r.bytes_consumed..];
            // Done when everything went in and the flush had room to finish.
            if input.is_empty() && r.bytes_written < room {
                break;
            }
        }
        // §7.2.1: a sync flush ends with an empty stored block, 00 00 ff ff; drop it.
        if out[start..].ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if self.params.no_context_takeover {
            c.reset();
        }
    }
}

/// The receiving half: one decompressor, reset per message or kept.
pub struct Inflater {
    params: DirectionParams,
    state: Option<Box<InflateState>>,
    /// The peer ended a message with a final block (BFINAL, §7.2.3.5 allows it): the
    /// stream is over, so the next message starts from a fresh decompressor.
    ended: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("params", &self.params)
            .field("started", &self.state.is_some())
            .finish()
    }
}

/// How much an inflate step may add at a time: the most a message can pass its limit by.
const STEP: usize = 16 * 1024;

impl Inflater {
    pub fn new(params: DirectionParams) -> Inflater {
        Inflater {
            params,
            state: None,
            ended: false,
        }
    }

    /// Inflate the next piece of a compressed message into `out`, which must stay at most
    /// `max` bytes long; `last` marks the message's final piece, after which the tail is
    /// put back (§7.2.2). Called once per frame, so a message is inflated as it arrives.
    pub fn inflate(
        &mut self,
        piece: &[u8],
        last: bool,
        max: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), InflateError> {
        let state = self
            .state
            .get_or_insert_with(|| InflateState::new_boxed(DataFormat::Raw));
        if self.ended {
            state.reset(DataFormat::Raw); // without reallocating its 32 KiB window
            self.ended = false;
        }
        self.ended = Self::feed(state, piece, max, out)?;
        if last && !self.ended {
            self.ended = Self::feed(state, &TAIL, max, out)?;
        }
        if last && self.params.no_context_takeover {
            // §7.2.2: the peer starts every message afresh; so do we.
            state.reset(DataFormat::Raw);
            self.ended = false;
        }
        Ok(())
    }

    /// Push `input` through the decompressor in steps of at most [`STEP`] bytes of
    /// output. Returns whether the DEFLATE stream ended (a final block).
    fn feed(
        state: &mut InflateState,
        mut input: &[u8],
        max: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, InflateError> {
        loop {
            // The limit is checked before each step grows the buffer: at most max + STEP.
            if out.len() > max {
                return Err(InflateError::TooBig { max });
            }
            let at = out.len();
            out.resize(at + STEP, 0);
            let r =
                miniz_oxide::inflate::stream::inflate(state, input, &mut out[at..], MZFlush::None);
            out.truncate(at + r.bytes_written);
            input = &input[r.bytes_consumed..];
            match r.status {
                Ok(MZStatus::StreamEnd) => return Ok(true),
                // Output space left over means the decompressor had nothing more to give.
                Ok(_) if input.is_empty() && r.bytes_written < STEP => break,
                Ok(_) => {}
                Err(MZError::Buf) if input.is_empty() => break,
                Err(_) => return Err(InflateError::Corrupt),
            }
        }
        if out.len() > max {
            return Err(InflateError::TooBig { max });
        }
        Ok(false)
    }
}

/// Both halves for one end of a connection, and the sender's threshold.
pub struct PerMessageDeflate {
    pub agreement: Agreement,
    pub deflater: Deflater,
    pub inflater: Inflater,
    /// Messages smaller than this are sent uncompressed unless asked otherwise.
    pub threshold: usize,
}

impl PerMessageDeflate {
    /// The extension as `role` runs it: compress as `role`, inflate as its peer.
    pub fn new(agreement: Agreement, role: Role, threshold: usize) -> PerMessageDeflate {
        PerMessageDeflate {
            agreement,
            deflater: Deflater::new(agreement.of(role)),
            inflater: Inflater::new(agreement.of(role.peer())),
            threshold,
        }
    }
}

impl std::fmt::Debug for PerMessageDeflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerMessageDeflate")
            .field("agreement", &self.agreement)
            .field("threshold", &self.threshold)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::extensions;
    use super::*;

    fn offers(header: &str) -> Vec<ExtensionOffer> {
        extensions::parse([header]).unwrap()
    }

    fn both() -> DirectionParams {
        Agreement::default().of(Role::Server)
    }

    fn compress(d: &mut Deflater, m: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        d.compress(m, &mut out);
        out
    }

    fn inflate(i: &mut Inflater, piece: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        i.inflate(piece, true, 1 << 20, &mut out).unwrap();
        out
    }

    #[test]
    fn rfc7692_7_1_offers_and_answers() {
        // §7.1.1.1's example: the client asks the server not to keep its context.
        let (a, v) = accept_offers(&offers("permessage-deflate; server_no_context_takeover"));
        let a = a.unwrap();
        assert!(a.server_no_context_takeover && v[0].declined.is_none());
        assert_eq!(
            a.response_value(),
            "permessage-deflate; server_no_context_takeover"
        );
        // §7.1.3: two offers; the first asks for a window of 2^10, which the server
        // honours, so the second is not looked at.
        let (a, v) = accept_offers(&offers(
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits",
        ));
        assert_eq!(a.unwrap().server_max_window_bits, 10);
        assert_eq!(v.len(), 1);
        assert_eq!(
            a.unwrap().response_value(),
            "permessage-deflate; server_max_window_bits=10"
        );
        // A plain offer gets a plain answer.
        let (a, _) = accept_offers(&offers("permessage-deflate"));
        assert_eq!(a.unwrap(), Agreement::default());
        assert_eq!(a.unwrap().response_value(), "permessage-deflate");
        // The client's own limit is stated back.
        let (a, _) = accept_offers(&offers("permessage-deflate; client_max_window_bits=9"));
        assert_eq!(a.unwrap().client_max_window_bits, 9);
    }

    #[test]
    fn the_first_acceptable_offer_wins() {
        let (a, v) = accept_offers(&offers(
            "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=16, permessage-deflate; foo, permessage-deflate; client_no_context_takeover",
        ));
        assert_eq!(v.len(), 3, "the other extension is not looked at");
        assert!(matches!(
            v[0].declined,
            Some(ParamError::BadWindowBits { .. })
        ));
        assert!(matches!(v[1].declined, Some(ParamError::Unknown { .. })));
        assert!(a.unwrap().client_no_context_takeover);
    }

    #[test]
    fn malformed_offers_are_declined() {
        let p = |s: &str| parse_offer(&offers(&format!("permessage-deflate; {s}"))[0].params);
        assert_eq!(
            p("server_max_window_bits"),
            Err(ParamError::MissingWindowBits)
        );
        for bad in [
            "server_max_window_bits=7",
            "client_max_window_bits=16",
            "server_max_window_bits=08",
            "server_max_window_bits=x",
        ] {
            assert!(
                matches!(p(bad), Err(ParamError::BadWindowBits { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            p("server_no_context_takeover; server_no_context_takeover"),
            Err(ParamError::Duplicate { .. })
        ));
        assert!(matches!(
            p("client_no_context_takeover=1"),
            Err(ParamError::UnexpectedValue { .. })
        ));
        assert!(matches!(p("mystery"), Err(ParamError::Unknown { .. })));
        assert_eq!(
            p("client_max_window_bits=\"8\"")
                .unwrap()
                .client_max_window_bits,
            ClientWindowOffer::AtMost(8)
        );
    }

    #[test]
    fn the_client_checks_the_answer() {
        let check = |s: &str| check_response(&offers(s), true);
        assert_eq!(check("permessage-deflate"), Ok(Some(Agreement::default())));
        let a = check("permessage-deflate; server_no_context_takeover; client_max_window_bits=10")
            .unwrap()
            .unwrap();
        assert!(a.server_no_context_takeover);
        assert_eq!(a.of(Role::Client).max_window_bits, 10);
        assert_eq!(check_response(&[], true), Ok(None));
        assert_eq!(
            check("permessage-deflate; client_max_window_bits"),
            Err(ParamError::ClientWindowNotOffered)
        );
        assert!(matches!(
            check("permessage-deflate; x=1"),
            Err(ParamError::Unknown { .. })
        ));
        assert!(matches!(
            check("permessage-deflate; server_max_window_bits=10; server_max_window_bits=10"),
            Err(ParamError::Duplicate { .. })
        ));
        assert!(matches!(
            check("permessage-deflate, permessage-deflate"),
            Err(ParamError::UnexpectedExtensions(2))
        ));
        assert!(matches!(check("x-other"), Err(ParamError::NotOffered(_))));
        assert!(matches!(
            check_response(&offers("permessage-deflate"), false),
            Err(ParamError::NotOffered(_))
        ));
    }

    #[test]
    fn rfc7692_7_2_3_1_hello_compressed() {
        let mut i = Inflater::new(both());
        assert_eq!(
            inflate(&mut i, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
            b"Hello"
        );
        // What netlab's own compressor makes of it inflates back too.
        let mut d = Deflater::new(both());
        let c = compress(&mut d, b"Hello");
        assert!(!c.ends_with(&TAIL));
        assert_eq!(inflate(&mut Inflater::new(both()), &c), b"Hello");
    }

    #[test]
    fn rfc7692_7_2_3_2_context_takeover() {
        // The second "Hello" is a back-reference into the first (§7.2.3.2).
        let mut i = Inflater::new(both());
        assert_eq!(
            inflate(&mut i, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
            b"Hello"
        );
        assert_eq!(inflate(&mut i, &[0xf2, 0x00, 0x11, 0x00, 0x00]), b"Hello");
        // netlab's compressor does the same: the second copy is shorter.
        let mut d = Deflater::new(both());
        let first = compress(&mut d, b"Hello, Hello, Hello");
        let second = compress(&mut d, b"Hello, Hello, Hello");
        assert!(second.len() < first.len());
        let mut i = Inflater::new(both());
        assert_eq!(inflate(&mut i, &first), b"Hello, Hello, Hello");
        assert_eq!(inflate(&mut i, &second), b"Hello, Hello, Hello");
        // Without context takeover, both messages compress alike and stand alone.
        let reset = DirectionParams {
            no_context_takeover: true,
            max_window_bits: 15,
        };
        let mut d = Deflater::new(reset);
        let a = compress(&mut d, b"Hello, Hello, Hello");
        assert_eq!(compress(&mut d, b"Hello, Hello, Hello"), a);
        assert_eq!(
            inflate(&mut Inflater::new(both()), &a),
            b"Hello, Hello, Hello"
        );
    }

    #[test]
    fn rfc7692_7_2_3_3_and_4_stored_and_split_blocks() {
        // §7.2.3.3: "Hello" in a stored (uncompressed) DEFLATE block.
        let mut i = Inflater::new(both());
        assert_eq!(
            inflate(
                &mut i,
                &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]
            ),
            b"Hello"
        );
        // §7.2.3.4: two blocks in one message ("He", then "llo").
        let mut i = Inflater::new(both());
        let two = [
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ];
        assert_eq!(inflate(&mut i, &two), b"Hello");
    }

    #[test]
    fn rfc7692_7_2_3_5_a_final_block_then_a_new_message() {
        // BFINAL set: the stream ends inside the message; the next one starts afresh.
        let mut i = Inflater::new(both());
        assert_eq!(
            inflate(&mut i, &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]),
            b"Hello"
        );
        assert_eq!(
            inflate(&mut i, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
            b"Hello"
        );
    }

    #[test]
    fn a_small_window_still_round_trips() {
        for bits in [8, 9, 12, 15] {
            let p = DirectionParams {
                no_context_takeover: false,
                max_window_bits: bits,
            };
            let msg: Vec<u8> = (0..5000u32)
                .map(|i| b"abcabcaaaa"[(i % 10) as usize])
                .collect();
            let mut d = Deflater::new(p);
            let c = compress(&mut d, &msg);
            assert!(c.len() < msg.len() / 2, "{bits} bits: {}", c.len());
            assert_eq!(inflate(&mut Inflater::new(both()), &c), msg);
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        // 10 MB of zeros compress to about 10 KB; with a 64 KiB limit the inflater stops
        // after at most one step past it.
        let mut d = Deflater::new(both());
        let c = compress(&mut d, &vec![0u8; 10_000_000]);
        assert!(c.len() < 20_000);
        let mut out = Vec::new();
        let r = Inflater::new(both()).inflate(&c, true, 64 * 1024, &mut out);
        assert_eq!(r, Err(InflateError::TooBig { max: 64 * 1024 }));
        assert!(out.len() <= 64 * 1024 + STEP);
        assert!(
            out.capacity() <= 4 * (64 * 1024 + STEP),
            "{}",
            out.capacity()
        );
    }

    #[test]
    fn garbage_is_refused() {
        let mut out = Vec::new();
        let r = Inflater::new(both()).inflate(&[0xff, 0xff, 0xff, 0xff], true, 1 << 20, &mut out);
        assert_eq!(r, Err(InflateError::Corrupt));
    }

    #[test]
    fn a_message_inflates_frame_by_frame() {
        let msg: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let c = compress(&mut Deflater::new(both()), &msg);
        let mut i = Inflater::new(both());
        let mut out = Vec::new();
        let chunks: Vec<&[u8]> = c.chunks(7).collect();
        for (n, piece) in chunks.iter().enumerate() {
            i.inflate(piece, n + 1 == chunks.len(), 1 << 20, &mut out)
                .unwrap();
        }
        assert_eq!(out, msg);
    }
}
