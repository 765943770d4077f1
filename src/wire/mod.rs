//! Packet formats.
//!
//! Every overlay packet starts with one versioned header:
//!
//! ```text
//!  0        1        2        3
//! +--------+--------+--------+--------+
//! |version |  type  | flags  |hop lim.|
//! +--------+--------+--------+--------+
//! |  source NodeId (16 bytes)         |
//! +-----------------------------------+
//! |  sequence (u32, big endian)       |
//! +-----------------------------------+
//! |  destination NodeId or GroupId    |  only for routed types
//! |  (16 bytes)                       |  (Data, Flood)
//! +-----------------------------------+
//! |  body                             |
//! ```
//!
//! Link-local packets (hello, route update, requests, acks, directory,
//! certificates) travel one hop and omit the destination: 24 bytes of
//! header. Routed packets carry it: 40. In secured mode every link-local
//! packet ends with a 24-byte MAC trailer ([`crate::trust::mac`]) after
//! the body; open mode has none.
//! Control bodies are deterministic CBOR (minicbor, see [`control`]); data
//! bodies are fixed-layout (a one-byte protocol number, then the payload).
//!
//! Voice flows (types 7 to 10, [`flow`]) start with the same version and
//! type bytes but are not [`PacketType`]s: a compressed frame is version,
//! type, hop limit, label (u32), frame seq (u16), 9 bytes in all, then the
//! payload; `FlowFull` is the routed header plus label and frame seq.
//!
//! Parsing never panics: [`Packet::new_checked`] validates lengths once, and
//! [`Header::parse`] returns a [`WireError`] for any malformed input. The
//! proptest suite feeds arbitrary bytes to every decoder, and the fuzz targets
//! under `fuzz/` do the same with coverage guidance.

pub mod control;
pub mod flow;
pub mod map;
pub mod name;
pub mod reader;

use crate::identity::NodeId;

pub const VERSION: u8 = 1;
pub const LINK_HEADER_LEN: usize = 24;
pub const ROUTED_HEADER_LEN: usize = 40;
/// Largest packet the core emits (fits an IPv6 minimum-MTU datagram).
pub const MAX_PACKET: usize = 1232;
/// Largest certificate chain (DER) that rides the mesh, in a directory
/// push or a certificate packet: it must fit one packet beside its header
/// and MAC trailer. A device with a longer chain (deep sub-CAs) is never
/// learnt by others: shorten the chain.
pub const MAX_WIRE_CHAIN: usize = 1100;
/// Hop limit given to originated routed packets.
pub const DEFAULT_HOP_LIMIT: u8 = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum WireError {
    #[error("packet too short: {len} bytes, need {need}")]
    Truncated { len: usize, need: usize },
    #[error("unsupported version {0}")]
    Version(u8),
    #[error("unknown packet type {0}")]
    UnknownType(u8),
    #[error("packet too long: {0} bytes")]
    TooLong(usize),
    #[error("malformed body: {0}")]
    Body(String),
}

/// Packet types. Values are stable on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// Neighbour discovery and link quality (multicast beacon or unicast).
    Hello = 1,
    /// Distance-vector route updates.
    Update = 2,
    /// Seqno request (route starvation) or route table request.
    Request = 3,
    /// Hop-by-hop acknowledgement of control-class data.
    Ack = 4,
    /// Directory gossip between neighbours (`names::NamesMsg`).
    Names = 5,
    /// Secured mode: a device's certificate chain, to a new neighbour
    /// ([`control::CertMsg`]). Never sent in open mode.
    Cert = 6,
    /// A neighbour asks for voice floods it missed
    /// ([`control::FloodNack`], `flood::repair`).
    FloodNack = 11,
    /// Secured mode: a trust root's revocation of a device
    /// ([`crate::trust::revoke`] format, the whole body), passed hop by
    /// hop to every neighbour. Never sent in open mode.
    Revoke = 12,
    /// Unicast data relayed hop by hop.
    Data = 16,
    /// Group data flooded through the mesh.
    Flood = 17,
}

impl PacketType {
    pub fn from_u8(v: u8) -> Result<Self, WireError> {
        Ok(match v {
            1 => PacketType::Hello,
            2 => PacketType::Update,
            3 => PacketType::Request,
            4 => PacketType::Ack,
            5 => PacketType::Names,
            6 => PacketType::Cert,
            11 => PacketType::FloodNack,
            12 => PacketType::Revoke,
            16 => PacketType::Data,
            17 => PacketType::Flood,
            other => return Err(WireError::UnknownType(other)),
        })
    }

    /// Whether the header carries a destination (the packet is relayed).
    pub fn is_routed(self) -> bool {
        matches!(self, PacketType::Data | PacketType::Flood)
    }

    pub fn header_len(self) -> usize {
        if self.is_routed() {
            ROUTED_HEADER_LEN
        } else {
            LINK_HEADER_LEN
        }
    }
}

/// Header flags.
pub mod flags {
    /// Data: the sender wants a hop-by-hop acknowledgement (control class).
    pub const ACK_REQ: u8 = 0x01;
    /// Data/Flood: voice class (priority queue, never retransmitted).
    pub const VOICE: u8 = 0x02;
    /// Hello: sent by unicast to one neighbour (vs multicast beacon).
    pub const UNICAST: u8 = 0x04;
    /// Hello/Update: the sender is a base station.
    pub const BASE: u8 = 0x08;
    /// Update: part of the sender's full table, sent to one neighbour.
    pub const TABLE: u8 = 0x10;
    /// Update: sent to one neighbour that asked for a seqno, with our
    /// current route (not the answer to a resend request).
    pub const ANSWER: u8 = 0x20;
    /// Flood (voice): the body starts with copies of the origin's previous
    /// voice floods (sequence one less, two less, ...): their count (u8),
    /// then each one's length (u16) and bytes ([`super::split_redundant`]).
    pub const REDUNDANT: u8 = 0x40;
    /// Data (control class): background traffic (the map's lists),
    /// acknowledged hop by hop like the rest, but neither end of a link
    /// starts fast hellos for it: a request every few hundred
    /// milliseconds would keep every link on its routes in fast mode
    /// (six times the mesh's air while a map was open). A relay that dies
    /// under it is found by the idle timers, and the sender asks again.
    pub const BACKGROUND: u8 = 0x80;
}

/// Most earlier floods one redundant voice flood carries.
pub const MAX_REDUNDANT: usize = 4;

/// A redundant voice flood's body: the payloads of the origin's previous
/// floods (sequence one less first, then two less, ...) and this one's.
/// `None` when a count or length points past the end.
pub fn split_redundant(body: &[u8]) -> Option<(Vec<&[u8]>, &[u8])> {
    let (&n, mut rest) = body.split_first()?;
    if usize::from(n) > MAX_REDUNDANT {
        return None;
    }
    let mut prev = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let (len, r) = rest.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        if len > r.len() {
            return None;
        }
        let (p, r) = r.split_at(len);
        prev.push(p);
        rest = r;
    }
    Some((prev, rest))
}

/// A voice flood body carrying `prev` (newest first) before `cur` (see
/// [`flags::REDUNDANT`]); at most [`MAX_REDUNDANT`] are kept.
pub fn join_redundant(prev: &[&[u8]], cur: &[u8]) -> Vec<u8> {
    let prev = &prev[..prev.len().min(MAX_REDUNDANT)];
    let total: usize = prev.iter().map(|p| 2 + p.len()).sum();
    let mut v = Vec::with_capacity(1 + total + cur.len());
    v.push(prev.len() as u8);
    for p in prev {
        v.extend_from_slice(&(p.len().min(u16::MAX as usize) as u16).to_be_bytes());
        v.extend_from_slice(&p[..p.len().min(u16::MAX as usize)]);
    }
    v.extend_from_slice(cur);
    v
}

/// A read-only view over a packet's bytes whose length has been checked,
/// so the accessors cannot go out of bounds (smoltcp style).
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    buf: &'a [u8],
    ty: PacketType,
}

impl<'a> Packet<'a> {
    /// Validate version, type and length; never panics.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < LINK_HEADER_LEN {
            return Err(WireError::Truncated {
                len: buf.len(),
                need: LINK_HEADER_LEN,
            });
        }
        if buf.len() > MAX_PACKET {
            return Err(WireError::TooLong(buf.len()));
        }
        if buf[0] != VERSION {
            return Err(WireError::Version(buf[0]));
        }
        let ty = PacketType::from_u8(buf[1])?;
        if buf.len() < ty.header_len() {
            return Err(WireError::Truncated {
                len: buf.len(),
                need: ty.header_len(),
            });
        }
        Ok(Packet { buf, ty })
    }

    pub fn packet_type(&self) -> PacketType {
        self.ty
    }
    pub fn flags(&self) -> u8 {
        self.buf[2]
    }
    pub fn hop_limit(&self) -> u8 {
        self.buf[3]
    }
    pub fn src(&self) -> NodeId {
        let mut id = [0u8; 16];
        id.copy_from_slice(&self.buf[4..20]);
        NodeId(id)
    }
    pub fn seq(&self) -> u32 {
        u32::from_be_bytes([self.buf[20], self.buf[21], self.buf[22], self.buf[23]])
    }
    pub fn dst(&self) -> Option<NodeId> {
        if self.ty.is_routed() {
            let mut id = [0u8; 16];
            id.copy_from_slice(&self.buf[24..40]);
            Some(NodeId(id))
        } else {
            None
        }
    }
    pub fn body(&self) -> &'a [u8] {
        &self.buf[self.ty.header_len()..]
    }
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
}

/// The validated header, as a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub ty: PacketType,
    pub flags: u8,
    pub hop_limit: u8,
    pub src: NodeId,
    pub seq: u32,
    /// Present exactly when `ty.is_routed()`.
    pub dst: Option<NodeId>,
}

impl Header {
    pub fn link(ty: PacketType, flags: u8, src: NodeId, seq: u32) -> Self {
        debug_assert!(!ty.is_routed());
        Header {
            ty,
            flags,
            hop_limit: 1,
            src,
            seq,
            dst: None,
        }
    }

    pub fn routed(ty: PacketType, flags: u8, src: NodeId, dst: NodeId, seq: u32) -> Self {
        debug_assert!(ty.is_routed());
        Header {
            ty,
            flags,
            hop_limit: DEFAULT_HOP_LIMIT,
            src,
            seq,
            dst: Some(dst),
        }
    }

    /// Parse a header and return it with the body.
    pub fn parse(buf: &[u8]) -> Result<(Header, &[u8]), WireError> {
        let p = Packet::new_checked(buf)?;
        Ok((
            Header {
                ty: p.packet_type(),
                flags: p.flags(),
                hop_limit: p.hop_limit(),
                src: p.src(),
                seq: p.seq(),
                dst: p.dst(),
            },
            p.body(),
        ))
    }

    pub fn len(&self) -> usize {
        self.ty.header_len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Append the header to `out`. A routed type without a destination
    /// is written with an all-zero destination.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(VERSION);
        out.push(self.ty as u8);
        out.push(self.flags);
        out.push(self.hop_limit);
        out.extend_from_slice(&self.src.0);
        out.extend_from_slice(&self.seq.to_be_bytes());
        if self.ty.is_routed() {
            out.extend_from_slice(&self.dst.unwrap_or_default().0);
        }
    }

    /// Header followed by `body`, as one packet.
    pub fn to_packet(&self, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len() + body.len());
        self.emit(&mut out);
        out.extend_from_slice(body);
        out
    }
}

/// Decrement the hop limit of a routed packet in place (relaying).
/// Returns the new value, or `None` if the packet must not be forwarded.
pub fn decrement_hop_limit(buf: &mut [u8]) -> Option<u8> {
    let h = buf.get_mut(3)?;
    if *h <= 1 {
        return None;
    }
    *h -= 1;
    Some(*h)
}

/// Hops a routed packet has travelled, from its remaining hop limit.
pub fn hops_travelled(hop_limit: u8) -> u8 {
    DEFAULT_HOP_LIMIT
        .saturating_sub(hop_limit)
        .saturating_add(1)
}

/// Data body: a protocol number and an opaque payload.
pub mod proto {
    /// Application payload handed to the user of the node.
    pub const APP: u8 = 0;
    /// Overlay echo request (`callsign ping`).
    pub const ECHO_REQUEST: u8 = 1;
    /// Overlay echo reply.
    pub const ECHO_REPLY: u8 = 2;
    /// SIP call signalling between daemons (`session`).
    pub const SIP: u8 = 3;
    /// Instant texts between daemons and their receipts (`session::text`).
    pub const TEXT: u8 = 5;
    /// Store-and-forward text messages (`msg`).
    pub const MSG: u8 = 4;
    /// A talkgroup member's unicast to a talker (`app::group_wire`: loss
    /// reports).
    pub const GROUP: u8 = 6;
    /// PAR roll calls: request, acknowledgement, close (`app::par_wire`).
    pub const PAR: u8 = 7;
    /// The console's mesh map: neighbour-list request and answer
    /// (`wire::map`, `node::map`).
    pub const MAP: u8 = 8;
}

#[cfg(test)]
mod tests;
