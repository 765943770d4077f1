//! Revocations: a CA's signed statement that a device (by NodeId, the
//! subject CN of every certificate it was issued) is out, for a lost or
//! stolen handset. Small enough to ride one link-local packet, so it
//! spreads hop by hop without waiting for the directory's gossip.
//!
//! # Format (version 1, all integers big-endian)
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `CSRV` |
//! | 1 | version, 1 |
//! | 16 | the revoked NodeId |
//! | 8 | issued at, Unix seconds (as the CA's clock read it) |
//! | 1 + n | reason: length, then n bytes of UTF-8 (n ≤ [`MAX_REASON`], no control characters) |
//! | 32 | the signer's Ed25519 public key (a trust root's) |
//! | 64 | Ed25519 signature over [`CONTEXT`] and every byte above |
//!
//! A NodeId is the hash of the device key, so one revocation shuts out
//! every certificate that key was ever given; the device needs a new key
//! to come back. Any trust root of the incident may revoke any device
//! (mutual aid: the roots already vouch for each other's devices); a
//! sub-CA cannot revoke. A revocation never expires: the list is bounded
//! instead ([`super::MAX_REVOKED`]).

use super::TrustError;
use crate::identity::{self, NodeId};

/// Magic at the start of every revocation.
pub const MAGIC: &[u8; 4] = b"CSRV";
/// The format version written and read.
pub const VERSION: u8 = 1;
/// Longest reason, in bytes.
pub const MAX_REASON: usize = 120;
/// Domain separation: a signature over a revocation is never valid as
/// anything else the CA key signs (certificates are DER, never this).
pub const CONTEXT: &[u8] = b"callsign revocation v1\0";
/// Size without the reason.
pub const MIN_LEN: usize = 4 + 1 + 16 + 8 + 1 + 32 + 64;
/// Largest encoded revocation.
pub const MAX_LEN: usize = MIN_LEN + MAX_REASON;

/// A decoded revocation. [`Revocation::decode`] checks its shape only;
/// [`Revocation::verify`] its signature; whether the signer is a root is
/// for [`super::Secured::revoke`] to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub node: NodeId,
    pub issued_unix_s: u64,
    pub reason: String,
    pub signer: [u8; 32],
    pub signature: [u8; 64],
}

fn valid_reason(reason: &str) -> bool {
    reason.len() <= MAX_REASON && !reason.chars().any(char::is_control)
}

impl Revocation {
    /// The signed bytes: [`CONTEXT`] and the body up to the signature.
    fn signed(node: &NodeId, issued: u64, reason: &str, signer: &[u8; 32]) -> Vec<u8> {
        let mut m = Vec::with_capacity(CONTEXT.len() + MAX_LEN);
        m.extend_from_slice(CONTEXT);
        m.extend_from_slice(&Self::body(node, issued, reason, signer));
        m
    }

    fn body(node: &NodeId, issued: u64, reason: &str, signer: &[u8; 32]) -> Vec<u8> {
        let mut b = Vec::with_capacity(MAX_LEN);
        b.extend_from_slice(MAGIC);
        b.push(VERSION);
        b.extend_from_slice(&node.0);
        b.extend_from_slice(&issued.to_be_bytes());
        // Callers check the length; `as u8` of a longer one cannot happen.
        b.push(reason.len().min(MAX_REASON) as u8);
        b.extend_from_slice(&reason.as_bytes()[..reason.len().min(MAX_REASON)]);
        b.extend_from_slice(signer);
        b
    }

    /// Sign a revocation of `node` with `sign` (the CA key: it gets the
    /// message and returns 64 bytes) whose public key is `signer`.
    pub fn sign(
        node: NodeId,
        issued_unix_s: u64,
        reason: &str,
        signer: [u8; 32],
        sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, TrustError>,
    ) -> Result<Self, TrustError> {
        if !valid_reason(reason) {
            return Err(TrustError::RevocationFormat(format!(
                "reason longer than {MAX_REASON} bytes or with control characters"
            )));
        }
        let sig = sign(&Self::signed(&node, issued_unix_s, reason, &signer))?;
        let signature: [u8; 64] = sig.try_into().map_err(|_| {
            TrustError::BadKey("the CA key did not give an Ed25519 signature".into())
        })?;
        let r = Revocation {
            node,
            issued_unix_s,
            reason: reason.to_string(),
            signer,
            signature,
        };
        r.verify()?;
        Ok(r)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b = Self::body(&self.node, self.issued_unix_s, &self.reason, &self.signer);
        b.extend_from_slice(&self.signature);
        b
    }

    /// Parse one revocation. Never panics: malformed input is an error.
    /// Trailing bytes are refused, so one revocation has one encoding.
    pub fn decode(b: &[u8]) -> Result<Self, TrustError> {
        let bad = |what: &str| TrustError::RevocationFormat(what.to_string());
        if b.len() < MIN_LEN || b.len() > MAX_LEN {
            return Err(bad("wrong length"));
        }
        if b.get(..4) != Some(MAGIC.as_slice()) {
            return Err(bad("not a revocation (no CSRV magic)"));
        }
        let version = b.get(4).copied().unwrap_or_default();
        if version != VERSION {
            return Err(bad(&format!(
                "version {version} (this callsign reads {VERSION})"
            )));
        }
        let node = NodeId::from_slice(b.get(5..21).ok_or_else(|| bad("short"))?)
            .ok_or_else(|| bad("node id"))?;
        let issued: [u8; 8] = b
            .get(21..29)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("short"))?;
        let n = usize::from(b.get(29).copied().ok_or_else(|| bad("short"))?);
        if b.len() != MIN_LEN + n {
            return Err(bad("reason length disagrees with the size"));
        }
        let reason = std::str::from_utf8(b.get(30..30 + n).ok_or_else(|| bad("short"))?)
            .map_err(|_| bad("reason is not UTF-8"))?;
        if !valid_reason(reason) {
            return Err(bad("reason has control characters"));
        }
        let signer: [u8; 32] = b
            .get(30 + n..62 + n)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("short"))?;
        let signature: [u8; 64] = b
            .get(62 + n..)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("short"))?;
        Ok(Revocation {
            node,
            issued_unix_s: u64::from_be_bytes(issued),
            reason: reason.to_string(),
            signer,
            signature,
        })
    }

    /// Whether the signature is the signer's over the rest.
    pub fn verify(&self) -> Result<(), TrustError> {
        let m = Self::signed(&self.node, self.issued_unix_s, &self.reason, &self.signer);
        identity::verify(&self.signer, &m, &self.signature)
            .map_err(|_| TrustError::RevocationSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn signed(ca: &Identity, node: NodeId, reason: &str) -> Revocation {
        Revocation::sign(node, 1_800_000_000, reason, ca.public_key(), |m| {
            Ok(ca.sign(m).to_vec())
        })
        .expect("sign")
    }

    #[test]
    fn revocation_round_trips_and_any_change_fails() {
        let ca = Identity::from_secret(&[1; 32]);
        let r = signed(&ca, NodeId([7; 16]), "stolen from engine 7");
        let bytes = r.encode();
        assert_eq!(Revocation::decode(&bytes), Ok(r.clone()));
        assert_eq!(r.verify(), Ok(()));
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            let ok = Revocation::decode(&b).and_then(|r| r.verify());
            assert!(ok.is_err(), "flipping byte {i} still verifies");
        }
        for len in 0..bytes.len() {
            assert!(Revocation::decode(&bytes[..len]).is_err());
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(Revocation::decode(&long).is_err());
    }

    #[test]
    fn revocation_reasons_are_bounded_and_printable() {
        let ca = Identity::from_secret(&[1; 32]);
        let sign = |reason: &str| {
            Revocation::sign(NodeId([7; 16]), 0, reason, ca.public_key(), |m| {
                Ok(ca.sign(m).to_vec())
            })
        };
        assert!(sign(&"x".repeat(MAX_REASON)).is_ok());
        assert!(sign(&"x".repeat(MAX_REASON + 1)).is_err());
        assert!(sign("lost\nfound").is_err());
        assert!(sign("").is_ok());
    }
}
