//! Directory records and hand-over tokens: their CBOR bodies, signing and
//! the checks a receiver makes before it trusts one.
//!
//! A signed object is carried as the exact body bytes plus a signature over
//! them. The receiver decodes the body only to find the public key in it,
//! verifies the signature over the received bytes, checks that the holder's
//! NodeId is the hash of that key, and only then validates and uses the
//! fields. Nothing is ever re-encoded before verifying.

use minicbor::{Decode, Encode};
use sha2::{Digest, Sha256};

use super::NamesError;
use crate::identity::{self, Identity, NodeId};
use crate::wire::WireError;
use crate::wire::control::{self, Bounded};
pub use crate::wire::name::{MAX_NAME_LEN, MAX_TEXT, valid_name};

/// Largest encoded record body. With the signature and framing a signed
/// record stays under [`MAX_RECORD`], so at least two fit in one packet.
pub const MAX_BODY: usize = 440;
/// Largest signed record on the wire (body, signature, CBOR framing).
pub const MAX_RECORD: usize = 512;
/// Most talkgroups one record may list.
pub const MAX_TALKGROUPS: usize = 16;
/// Largest encoded hand-over token body.
pub const MAX_HANDOVER_BODY: usize = 160;
/// Claim epoch of a holder that does not know the wall-clock time: it sorts
/// after every known epoch, so a device with a clock wins a conflict.
pub const EPOCH_UNKNOWN: u64 = u64::MAX;

/// Domain separation: the device key signs other things too, so each kind
/// of signed object gets its own prefix and one can never pass for another.
const RECORD_CONTEXT: &[u8] = b"callsign/names/record/v1\0";
const HANDOVER_CONTEXT: &[u8] = b"callsign/names/handover/v1\0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Encode, Decode)]
#[cbor(index_only)]
pub enum Presence {
    #[default]
    #[n(0)]
    Available,
    #[n(1)]
    Busy,
    #[n(2)]
    Emergency,
    #[n(3)]
    OffDuty,
}

/// Where the holder is, as its own GPS says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode)]
#[cbor(array)]
pub struct Position {
    /// Latitude in 1e-7 degrees.
    #[n(0)]
    pub lat_e7: i32,
    /// Longitude in 1e-7 degrees.
    #[n(1)]
    pub lon_e7: i32,
    #[n(2)]
    pub accuracy_m: u16,
    /// Fix time, Unix seconds by the holder's clock.
    #[n(3)]
    pub time_s: u64,
}

/// One directory record: "`holder` answers to `name`".
///
/// Leases: nodes share no clock, so a record carries a lease *duration*.
/// A receiver anchors it at its own receipt time (capped by the time the
/// relaying neighbour says is left, so relaying never lengthens a lease)
/// and re-anchors only on a newer version. The holder refreshes by issuing
/// a new version at three quarters of the lease.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct Record {
    #[n(0)]
    pub name: String,
    #[n(1)]
    pub holder: NodeId,
    /// The holder's Ed25519 public key; `holder` must be its hash.
    #[cbor(n(2), with = "minicbor::bytes")]
    pub key: [u8; 32],
    #[n(3)]
    pub agency: String,
    #[n(4)]
    pub unit: String,
    #[n(5)]
    pub talkgroups: Vec<String>,
    #[n(6)]
    pub presence: Presence,
    #[n(7)]
    pub position: Option<Position>,
    /// One holder only (`command`); see the store's conflict rule.
    #[n(8)]
    pub exclusive: bool,
    /// A release: the holder gave the name up. Kept as a tombstone for the
    /// lease so stale copies elsewhere are overridden.
    #[n(9)]
    pub released: bool,
    #[n(10)]
    pub lease_s: u32,
    /// Per holder, strictly increasing (all names of a device share one
    /// counter): a newer version replaces, older ones are replays.
    #[n(11)]
    pub version: u64,
    /// Exclusive roles: when this tenure began, Unix ms by the claimant's
    /// clock ([`EPOCH_UNKNOWN`] without one). A hand-over keeps the epoch.
    #[n(12)]
    pub epoch_ms: u64,
    /// Exclusive roles: hand-overs since the tenure began.
    #[n(13)]
    pub generation: u32,
    /// In a claim: the token that gave this holder the role. In a release:
    /// the token this holder gave away.
    #[n(14)]
    pub handover: Option<SignedHandover>,
}

/// The current holder of an exclusive role hands it to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct Handover {
    #[n(0)]
    pub role: String,
    #[n(1)]
    pub from: NodeId,
    #[cbor(n(2), with = "minicbor::bytes")]
    pub from_key: [u8; 32],
    #[n(3)]
    pub to: NodeId,
    /// The tenure's epoch and the new holder's generation.
    #[n(4)]
    pub epoch_ms: u64,
    #[n(5)]
    pub generation: u32,
    /// Every record of `from` for `role` up to this version is superseded.
    #[n(6)]
    pub from_version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct SignedHandover {
    #[cbor(n(0), with = "minicbor::bytes")]
    pub body: Vec<u8>,
    #[cbor(n(1), with = "minicbor::bytes")]
    pub signature: [u8; 64],
}

/// A record as it travels: the exact body bytes and the holder's signature.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct SignedRecord {
    #[cbor(n(0), with = "minicbor::bytes")]
    pub body: Vec<u8>,
    #[cbor(n(1), with = "minicbor::bytes")]
    pub signature: [u8; 64],
}

fn with_context(ctx: &[u8], body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(ctx.len() + body.len());
    m.extend_from_slice(ctx);
    m.extend_from_slice(body);
    m
}

fn valid_text(s: &str) -> bool {
    s.len() <= MAX_TEXT && !s.chars().any(char::is_control)
}

/// Short, stable key of `(name, holder)` used in digests and summaries.
/// 64 bits: a collision among a few thousand records is ~2^-40 likely and
/// would only delay one record's repair.
pub fn record_key(name: &str, holder: &NodeId) -> u64 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0u8]);
    h.update(holder.as_bytes());
    let d = h.finalize();
    let mut k = [0u8; 8];
    k.copy_from_slice(&d[..8]);
    u64::from_be_bytes(k)
}

impl Bounded for Record {
    fn check(&self) -> Result<(), WireError> {
        if self.talkgroups.len() > MAX_TALKGROUPS {
            return Err(WireError::Body("too many talkgroups".into()));
        }
        Ok(())
    }
}

impl Bounded for Handover {
    fn check(&self) -> Result<(), WireError> {
        Ok(())
    }
}

impl Record {
    /// Field checks that do not need the signature (done after it).
    fn validate(&self) -> Result<(), NamesError> {
        if !valid_name(&self.name) {
            return Err(NamesError::BadName(self.name.clone()));
        }
        if let Some(tg) = self.talkgroups.iter().find(|t| !valid_name(t)) {
            return Err(NamesError::BadName(tg.clone()));
        }
        if !valid_text(&self.agency) || !valid_text(&self.unit) {
            return Err(NamesError::BadField("agency or unit"));
        }
        if self.lease_s == 0 {
            return Err(NamesError::BadField("zero lease"));
        }
        Ok(())
    }

    /// Encode and sign with the holder's key. The caller sets `holder` and
    /// `key` from `ident`; a mismatch is refused here rather than later.
    pub fn sign(&self, ident: &Identity) -> Result<SignedRecord, NamesError> {
        if self.holder != ident.id() || self.key != ident.public_key() {
            return Err(NamesError::KeyMismatch);
        }
        self.validate()?;
        let body = control::encode(self);
        if body.len() > MAX_BODY {
            return Err(NamesError::TooLarge(body.len()));
        }
        let signature = ident.sign(&with_context(RECORD_CONTEXT, &body));
        Ok(SignedRecord { body, signature })
    }
}

impl SignedRecord {
    /// Verify and decode. Order matters: size, decode (total) to find the
    /// key, signature over the received bytes, id = hash(key), then fields
    /// and any hand-over token.
    pub fn open(&self) -> Result<Record, NamesError> {
        if self.body.len() > MAX_BODY {
            return Err(NamesError::TooLarge(self.body.len()));
        }
        let rec: Record = control::decode(&self.body)?;
        identity::verify(
            &rec.key,
            &with_context(RECORD_CONTEXT, &self.body),
            &self.signature,
        )
        .map_err(|_| NamesError::BadSignature)?;
        if NodeId::from_public_key(&rec.key) != rec.holder {
            return Err(NamesError::KeyMismatch);
        }
        rec.validate()?;
        if let Some(token) = &rec.handover {
            let h = token.open()?;
            let fits = if rec.released {
                // A release that hands the role on carries the token it gave.
                h.from == rec.holder
            } else {
                h.to == rec.holder && h.epoch_ms == rec.epoch_ms && h.generation == rec.generation
            };
            if !fits || h.role != rec.name || !rec.exclusive {
                return Err(NamesError::BadHandover("token does not fit the record"));
            }
        }
        Ok(rec)
    }

    /// Name, holder and version as the body claims them, *unverified*: only
    /// for deciding that a copy is not newer than what is stored (then it
    /// is dropped unread; a forged claim can only make us drop a copy we
    /// did not need). Anything newer goes through [`SignedRecord::open`].
    pub fn peek(&self) -> Option<(String, NodeId, u64)> {
        if self.body.len() > MAX_BODY {
            return None;
        }
        let rec: Record = control::decode(&self.body).ok()?;
        Some((rec.name, rec.holder, rec.version))
    }

    /// Bytes this record takes inside a message (for packing packets).
    pub fn wire_len(&self) -> usize {
        self.body.len() + 64 + 6
    }
}

impl Handover {
    pub fn sign(&self, ident: &Identity) -> Result<SignedHandover, NamesError> {
        if self.from != ident.id() || self.from_key != ident.public_key() {
            return Err(NamesError::KeyMismatch);
        }
        let body = control::encode(self);
        if body.len() > MAX_HANDOVER_BODY {
            return Err(NamesError::TooLarge(body.len()));
        }
        let signature = ident.sign(&with_context(HANDOVER_CONTEXT, &body));
        Ok(SignedHandover { body, signature })
    }
}

impl SignedHandover {
    /// Verify and decode, in the same order as [`SignedRecord::open`].
    pub fn open(&self) -> Result<Handover, NamesError> {
        if self.body.len() > MAX_HANDOVER_BODY {
            return Err(NamesError::BadHandover("too large"));
        }
        let h: Handover = control::decode(&self.body)?;
        identity::verify(
            &h.from_key,
            &with_context(HANDOVER_CONTEXT, &self.body),
            &self.signature,
        )
        .map_err(|_| NamesError::BadHandover("signature"))?;
        if NodeId::from_public_key(&h.from_key) != h.from {
            return Err(NamesError::BadHandover("id is not the hash of the key"));
        }
        if !valid_name(&h.role) {
            return Err(NamesError::BadName(h.role));
        }
        Ok(h)
    }
}

/// Sign arbitrary body bytes as a record, for tests that forge records a
/// well-behaved signer would refuse to make.
#[cfg(test)]
pub(crate) fn sign_raw(ident: &Identity, body: &[u8]) -> [u8; 64] {
    ident.sign(&with_context(RECORD_CONTEXT, body))
}
