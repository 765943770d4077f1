//! Directory messages between neighbours, in deterministic CBOR.
//!
//! Decoding goes through [`decode`] (the control-body decoder: total,
//! rejects trailing bytes, then the [`Bounded`] limits below).

use minicbor::{Decode, Encode};

use super::NamesError;
use super::record::{MAX_RECORD, SignedRecord};
use crate::wire::WireError;
use crate::wire::control::{self, Bounded};

/// Most records in one push (each is at most [`MAX_RECORD`] bytes, and a
/// packet is at most 1232; senders pack by bytes, see [`MAX_MSG`]).
pub const MAX_PUSH: usize = 8;
/// Most entries in a summary or a want list.
pub const MAX_SUMMARY: usize = 56;
/// Anti-entropy buckets: a mismatch costs one bucket's summary, not all.
pub const BUCKETS: usize = 16;
/// Encoded size a sender aims to stay under, leaving room for the packet
/// header inside [`crate::wire::MAX_PACKET`].
pub const MAX_MSG: usize = 1100;

/// A record as pushed by a neighbour, with the lease time it has left at
/// that neighbour. Not signed: it can only shorten the signed lease.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct PushEntry {
    #[n(0)]
    pub remaining_ms: u32,
    #[n(1)]
    pub record: SignedRecord,
    /// Secured mode: the holder's certificate chain (DER, leaf first, at
    /// most [`crate::wire::MAX_WIRE_CHAIN`] bytes). Outside the signed
    /// record because a certificate authenticates itself; absent in open
    /// mode, which then encodes exactly as before the field existed.
    #[cbor(n(2), with = "minicbor::bytes")]
    pub cert: Option<Vec<u8>>,
}

impl PushEntry {
    /// Bytes this entry adds to a push (an estimate within a few bytes).
    pub fn wire_len(&self) -> usize {
        self.record.wire_len() + 6 + self.cert.as_ref().map_or(0, |c| c.len() + 3)
    }
}

/// One `(name, holder)` in a summary: its key and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct SummaryEntry {
    #[n(0)]
    pub key: u64,
    #[n(1)]
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum NamesMsg {
    /// New or changed records (rumour), or records a neighbour lacks.
    #[n(0)]
    Push {
        #[n(0)]
        entries: Vec<PushEntry>,
    },
    /// Anti-entropy opener: a hash of every `(key, version)` held.
    #[n(1)]
    Digest {
        #[cbor(n(0), with = "minicbor::bytes")]
        hash: [u8; 16],
        #[n(1)]
        count: u32,
    },
    /// The digests differ: here are my per-bucket hashes.
    #[n(2)]
    Buckets {
        #[n(0)]
        hashes: Vec<u32>,
    },
    /// Everything I hold with keys in `lo..=hi` (a bucket, or part of one).
    #[n(3)]
    Summary {
        #[n(0)]
        lo: u64,
        #[n(1)]
        hi: u64,
        #[n(2)]
        entries: Vec<SummaryEntry>,
    },
    /// Send me the records with these keys.
    #[n(4)]
    Want {
        #[n(0)]
        keys: Vec<u64>,
    },
}

impl Bounded for NamesMsg {
    fn check(&self) -> Result<(), WireError> {
        let bad = |what: &str| Err(WireError::Body(format!("names: {what}")));
        match self {
            NamesMsg::Push { entries } => {
                if entries.len() > MAX_PUSH {
                    return bad("push too long");
                }
                if entries
                    .iter()
                    .any(|e| e.record.body.len() + e.record.signature.len() > MAX_RECORD)
                {
                    return bad("record too large");
                }
                if entries.iter().any(|e| {
                    e.cert
                        .as_ref()
                        .is_some_and(|c| c.len() > crate::wire::MAX_WIRE_CHAIN)
                }) {
                    return bad("certificate chain too large");
                }
            }
            NamesMsg::Digest { .. } => {}
            NamesMsg::Buckets { hashes } if hashes.len() != BUCKETS => return bad("buckets"),
            NamesMsg::Buckets { .. } => {}
            NamesMsg::Summary { lo, hi, entries } => {
                if entries.len() > MAX_SUMMARY || lo > hi {
                    return bad("summary");
                }
            }
            NamesMsg::Want { keys } if keys.len() > MAX_SUMMARY => return bad("want too long"),
            NamesMsg::Want { .. } => {}
        }
        Ok(())
    }
}

impl NamesMsg {
    pub fn encode(&self) -> Vec<u8> {
        control::encode(self)
    }

    /// Total: any bytes give a message or an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, NamesError> {
        Ok(control::decode(bytes)?)
    }
}

/// Decode a standalone signed record (e.g. from the daemon's store).
pub fn decode_record(bytes: &[u8]) -> Result<SignedRecord, NamesError> {
    if bytes.len() > MAX_RECORD {
        return Err(NamesError::TooLarge(bytes.len()));
    }
    Ok(control::decode(bytes)?)
}

impl Bounded for SignedRecord {
    fn check(&self) -> Result<(), WireError> {
        Ok(())
    }
}

/// Pack push entries into messages under [`MAX_MSG`] bytes and
/// [`MAX_PUSH`] entries each. An entry whose record and certificate
/// together would not fit one message goes without its certificate (the
/// receiver gets it from the holder's neighbours instead).
pub fn pack_push(entries: Vec<PushEntry>) -> Vec<NamesMsg> {
    let mut out = Vec::new();
    let mut cur: Vec<PushEntry> = Vec::new();
    let mut bytes = 0;
    for mut e in entries {
        if e.wire_len() > MAX_MSG {
            e.cert = None;
        }
        let len = e.wire_len();
        if !cur.is_empty() && (bytes + len > MAX_MSG || cur.len() == MAX_PUSH) {
            out.push(NamesMsg::Push {
                entries: std::mem::take(&mut cur),
            });
            bytes = 0;
        }
        bytes += len;
        cur.push(e);
    }
    if !cur.is_empty() {
        out.push(NamesMsg::Push { entries: cur });
    }
    out
}
