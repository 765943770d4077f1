//! Message packets between nodes, in deterministic CBOR (protocol
//! [`crate::wire::proto::MSG`], control class: acknowledged hop by hop).
//!
//! An [`Envelope`] is the sender's signed bytes: the signature covers the
//! exact CBOR of its [`Body`], so a relay can check it without re-encoding.
//! Only `copies` in an offer is outside any signature: a custodian that
//! lies about it can only waste its own budget of copies.
//! Decoding goes through [`crate::wire::control::decode`] (total, rejects
//! trailing bytes) and then the bounds below.

use minicbor::{Decode, Encode};

use super::{MAX_TEXT, MsgId};
use crate::identity::NodeId;
use crate::wire::WireError;
use crate::wire::control::{self, Bounded};

/// Most bytes of a name a message is addressed to (a role, a person or a
/// talkgroup), as in the directory.
pub const MAX_TO: usize = 64;
/// Sealed part: the CBOR plaintext (a few bytes of framing) plus the
/// ephemeral key and the tag ([`super::seal::OVERHEAD`]).
pub const MAX_SEALED: usize = MAX_TEXT + MAX_TO + 16 + super::seal::OVERHEAD;

/// What the sender signs.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct Body {
    #[cbor(n(0), with = "minicbor::bytes")]
    pub id: MsgId,
    #[n(1)]
    pub src: NodeId,
    /// The sender's Ed25519 key: `src` must be its hash, so any custodian
    /// checks the signature without the directory.
    #[cbor(n(2), with = "minicbor::bytes")]
    pub src_key: [u8; 32],
    #[n(3)]
    pub dst: NodeId,
    /// Per (sender, recipient) sequence number from 1: the recipient shows
    /// one sender's messages in this order.
    #[n(4)]
    pub seq: u64,
    /// The sender's wall clock, Unix ms.
    #[n(5)]
    pub created_ms: u64,
    #[n(6)]
    pub expires_ms: u64,
    /// [`Plain`] sealed to `dst` (layout in [`super::seal`]).
    #[cbor(n(7), with = "minicbor::bytes")]
    pub sealed: Vec<u8>,
    /// The sealing construction ([`super::seal::SEAL_HPKE`]); envelopes
    /// from before this field decode as 0 and are refused by name.
    #[cbor(n(8), default)]
    pub seal: u8,
}

/// A signed message for one recipient, as stored and carried.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct Envelope {
    #[cbor(n(0), with = "minicbor::bytes")]
    pub body: Vec<u8>,
    #[cbor(n(1), with = "minicbor::bytes")]
    pub sig: [u8; 64],
}

/// What only the recipient reads.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct Plain {
    /// The name the sender addressed (`medic-12`, or a talkgroup).
    #[n(0)]
    pub to: String,
    #[n(1)]
    pub talkgroup: bool,
    #[n(2)]
    pub text: String,
}

/// What the recipient signs when it has stored a message.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct ReceiptBody {
    #[cbor(n(0), with = "minicbor::bytes")]
    pub id: MsgId,
    /// The original sender, to whom the receipt travels.
    #[n(1)]
    pub src: NodeId,
    #[n(2)]
    pub dst: NodeId,
    #[cbor(n(3), with = "minicbor::bytes")]
    pub dst_key: [u8; 32],
    /// The recipient's wall clock when it stored the message.
    #[n(4)]
    pub delivered_ms: u64,
    /// The message's expiry: custodians of the receipt drop it then.
    #[n(5)]
    pub expires_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct Receipt {
    #[cbor(n(0), with = "minicbor::bytes")]
    pub body: Vec<u8>,
    #[cbor(n(1), with = "minicbor::bytes")]
    pub sig: [u8; 64],
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum MsgPacket {
    /// To the recipient along a route.
    #[n(0)]
    Deliver {
        #[n(0)]
        env: Envelope,
    },
    /// To a neighbour: take custody of `copies` of the copy budget.
    #[n(1)]
    Offer {
        #[n(0)]
        env: Envelope,
        #[n(1)]
        copies: u8,
    },
    /// The answer to an offer: how many copies were taken (0: refused).
    #[n(2)]
    Custody {
        #[cbor(n(0), with = "minicbor::bytes")]
        id: MsgId,
        #[n(1)]
        dst: NodeId,
        #[n(2)]
        copies: u8,
        #[n(3)]
        reason: String,
    },
    /// The recipient stored the message: back to whoever handed it over,
    /// and from there towards the sender.
    #[n(3)]
    Receipt {
        #[n(0)]
        receipt: Receipt,
    },
    /// The sender has the receipt: its custodian may forget it.
    #[n(4)]
    ReceiptTaken {
        #[cbor(n(0), with = "minicbor::bytes")]
        id: MsgId,
        #[n(1)]
        dst: NodeId,
    },
}

impl Bounded for MsgPacket {
    fn check(&self) -> Result<(), WireError> {
        match self {
            MsgPacket::Deliver { env } | MsgPacket::Offer { env, .. } => env.check(),
            MsgPacket::Custody { reason, .. } if reason.len() > 200 => {
                Err(WireError::Body("custody reason too long".into()))
            }
            MsgPacket::Receipt { receipt } if receipt.body.len() > 256 => {
                Err(WireError::Body("receipt too long".into()))
            }
            _ => Ok(()),
        }
    }
}

impl Bounded for Envelope {
    fn check(&self) -> Result<(), WireError> {
        if self.body.len() > MAX_SEALED + 256 {
            return Err(WireError::Body("envelope too long".into()));
        }
        Ok(())
    }
}

impl Bounded for Body {
    fn check(&self) -> Result<(), WireError> {
        if self.sealed.len() > MAX_SEALED {
            return Err(WireError::Body("sealed text too long".into()));
        }
        Ok(())
    }
}

impl Bounded for Plain {
    fn check(&self) -> Result<(), WireError> {
        if self.text.len() > MAX_TEXT || self.to.len() > MAX_TO {
            return Err(WireError::Body("message text or name too long".into()));
        }
        Ok(())
    }
}

impl Bounded for Receipt {
    fn check(&self) -> Result<(), WireError> {
        if self.body.len() > 256 {
            return Err(WireError::Body("receipt too long".into()));
        }
        Ok(())
    }
}

impl Bounded for ReceiptBody {
    fn check(&self) -> Result<(), WireError> {
        Ok(())
    }
}

impl MsgPacket {
    pub fn encode(&self) -> Vec<u8> {
        control::encode(self)
    }

    pub fn decode(b: &[u8]) -> Result<Self, WireError> {
        control::decode(b)
    }
}

impl Envelope {
    pub fn to_bytes(&self) -> Vec<u8> {
        control::encode(self)
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, WireError> {
        control::decode(b)
    }
}

impl Receipt {
    pub fn to_bytes(&self) -> Vec<u8> {
        control::encode(self)
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, WireError> {
        control::decode(b)
    }
}
