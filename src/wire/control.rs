//! Control bodies, in deterministic CBOR (minicbor, arrays with fixed
//! indices). Encoding the same value always yields the same bytes, which
//! later lets a signature cover exact bytes.
//!
//! Decoding goes through [`decode`], which maps every minicbor error to
//! [`WireError::Body`] and rejects trailing bytes and oversized lists.

use minicbor::decode::Decoder;
use minicbor::encode::{Encoder, Write};
use minicbor::{Decode, Encode};

use super::WireError;
use crate::identity::NodeId;

/// Upper bound on list lengths in any control body: a packet is at most
/// [`super::MAX_PACKET`] bytes, so longer lists can only be malicious.
pub const MAX_LIST: usize = 128;
/// Longest name carried in a hello.
pub const MAX_NAME: usize = 64;

impl<C> Encode<C> for NodeId {
    fn encode<W: Write>(
        &self,
        e: &mut Encoder<W>,
        _: &mut C,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        e.bytes(&self.0)?;
        Ok(())
    }
}

impl<'b, C> Decode<'b, C> for NodeId {
    fn decode(d: &mut Decoder<'b>, _: &mut C) -> Result<Self, minicbor::decode::Error> {
        let b = d.bytes()?;
        NodeId::from_slice(b).ok_or_else(|| minicbor::decode::Error::message("node id length"))
    }
}

/// What a node tells one neighbour about the link from it ("I heard you").
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct Ihu {
    #[n(0)]
    pub id: NodeId,
    /// Reception cost of the neighbour's hellos at the sender, 256 = perfect.
    #[n(1)]
    pub rxcost: u16,
    /// The sender chose this neighbour as a flood relay (MPR).
    #[n(2)]
    pub mpr: bool,
}

/// Hello body. Header `seq` is the hello sequence number of the stream
/// (multicast, or unicast to one neighbour).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
#[cbor(array)]
pub struct Hello {
    /// Time until the sender's next hello on this stream, in ms.
    /// 0 ends a unicast stream (the sender leaves fast mode).
    #[n(0)]
    pub interval_ms: u32,
    /// The receiver should answer at once with a unicast hello (liveness probe).
    #[n(1)]
    pub probe: bool,
    /// The answer to a probe.
    #[n(2)]
    pub probe_reply: bool,
    /// Neighbour list with link costs; sent every few hellos, not in each.
    #[n(3)]
    pub ihu: Option<Vec<Ihu>>,
    /// Names the sender holds (carried until the directory exists).
    #[n(4)]
    pub names: Vec<String>,
    /// Neighbours the sender just lost: a hint to probe them now, so that
    /// a dead relay's other neighbours find out in a fraction of a second
    /// instead of at their idle hold time.
    #[n(5)]
    pub lost: Vec<NodeId>,
    /// Sequence number of the sender's last multicast update on this
    /// interface: a receiver that missed one asks for it again.
    #[n(6)]
    pub update_seq: u32,
    /// With the neighbour list: how many routes the sender has selected.
    /// A neighbour holding clearly fewer of them asks for the whole table.
    #[n(7)]
    pub routes: Option<u32>,
    /// The sender's directory digest (`names::gossip` sync): a receiver
    /// whose own differs opens an anti-entropy exchange.
    #[n(8)]
    pub dir: Option<DirDigest>,
}

/// A short directory digest: the first 32 bits of the store's digest and
/// its record count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct DirDigest {
    #[n(0)]
    pub hash: u32,
    #[n(1)]
    pub count: u32,
}

/// One route advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct RouteEntry {
    #[n(0)]
    pub dest: NodeId,
    #[n(1)]
    pub seqno: u16,
    /// Metric to `dest` from the sender; `u16::MAX` retracts.
    #[n(2)]
    pub metric: u16,
    /// Hop count from the sender to `dest`.
    #[n(3)]
    pub hops: u8,
    /// `dest` is a base station.
    #[n(4)]
    pub base: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
#[cbor(array)]
pub struct Update {
    #[n(0)]
    pub entries: Vec<RouteEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum Request {
    /// Send me your full route table (a new neighbour).
    #[n(0)]
    Table,
    /// Route starvation: ask the source for a newer seqno (RFC 8966 §3.8.1.2).
    #[n(1)]
    Seqno {
        #[n(0)]
        dest: NodeId,
        #[n(1)]
        seqno: u16,
        /// Remaining hops the request may be forwarded.
        #[n(2)]
        hop_count: u8,
        /// The node that first asked (for duplicate suppression).
        #[n(3)]
        origin: NodeId,
    },
    /// I missed your multicast updates `from..=to`: send their routes again.
    #[n(2)]
    Resend {
        #[n(0)]
        from: u32,
        #[n(1)]
        to: u32,
    },
    /// Your table came with parts missing: send those again. `missing` has
    /// a bit per part from part 0, of a table of `parts` parts as you cut it.
    #[n(3)]
    TableParts {
        #[n(0)]
        parts: u16,
        #[n(1)]
        missing: u64,
    },
}

/// Hop-by-hop acknowledgement: (original source, sequence) pairs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
#[cbor(array)]
pub struct Ack {
    #[n(0)]
    pub acked: Vec<AckEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct AckEntry {
    #[n(0)]
    pub src: NodeId,
    #[n(1)]
    pub seq: u32,
}

/// Secured mode: the sender's certificate chain (DER, leaf first), sent
/// by unicast to a neighbour that is not yet enrolled here, or that asked.
/// Hellos never carry a certificate (they stay small); this packet goes
/// once per new neighbour, and again with backoff while it stays unknown.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
#[cbor(array)]
pub struct CertMsg {
    /// Empty when the sender has no certificate (it can only listen).
    #[cbor(n(0), with = "minicbor::bytes")]
    pub chain: Vec<u8>,
    /// The sender does not know the receiver's certificate: send yours.
    #[n(1)]
    pub want: bool,
}

/// Voice floods a neighbour missed: `src`'s floods `seqs` (at most
/// [`MAX_NACK`]), asked of the neighbour that brought its newest ones.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct FloodNack {
    #[n(0)]
    pub src: NodeId,
    #[n(1)]
    pub seqs: Vec<u32>,
}

/// Most floods one NACK names.
pub const MAX_NACK: usize = 16;

/// Bounds checked after decoding (minicbor bounds allocation by input size,
/// but our own limits are tighter).
pub trait Bounded {
    fn check(&self) -> Result<(), WireError>;
}

fn too_many(what: &str, n: usize) -> Result<(), WireError> {
    if n > MAX_LIST {
        Err(WireError::Body(format!("{what}: {n} entries")))
    } else {
        Ok(())
    }
}

impl Bounded for Hello {
    fn check(&self) -> Result<(), WireError> {
        too_many("ihu", self.ihu.as_ref().map_or(0, Vec::len))?;
        too_many("names", self.names.len())?;
        too_many("lost", self.lost.len())?;
        if self.names.iter().any(|n| n.len() > MAX_NAME) {
            return Err(WireError::Body("name too long".into()));
        }
        Ok(())
    }
}
impl Bounded for Update {
    fn check(&self) -> Result<(), WireError> {
        too_many("update", self.entries.len())
    }
}
impl Bounded for Request {
    fn check(&self) -> Result<(), WireError> {
        Ok(())
    }
}
impl Bounded for CertMsg {
    fn check(&self) -> Result<(), WireError> {
        if self.chain.len() > crate::wire::MAX_WIRE_CHAIN {
            return Err(WireError::Body("certificate chain too large".into()));
        }
        Ok(())
    }
}
impl Bounded for FloodNack {
    fn check(&self) -> Result<(), WireError> {
        if self.seqs.len() > MAX_NACK {
            return Err(WireError::Body(format!(
                "nack: {} entries",
                self.seqs.len()
            )));
        }
        Ok(())
    }
}
impl Bounded for Ack {
    fn check(&self) -> Result<(), WireError> {
        too_many("ack", self.acked.len())
    }
}

/// Decode a control body: total (never panics), rejects trailing bytes.
pub fn decode<'b, T: Decode<'b, ()> + Bounded>(body: &'b [u8]) -> Result<T, WireError> {
    let mut d = Decoder::new(body);
    let v: T = d.decode().map_err(|e| WireError::Body(e.to_string()))?;
    if d.position() != body.len() {
        return Err(WireError::Body("trailing bytes".into()));
    }
    v.check()?;
    Ok(v)
}

/// Encode a control body.
pub fn encode<T: Encode<()>>(v: &T) -> Vec<u8> {
    // Writing into a Vec cannot fail.
    minicbor::to_vec(v).unwrap_or_default()
}
