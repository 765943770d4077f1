//! Device identity: an Ed25519 key per device and the NodeId derived from it.
//!
//! NodeId is the first 128 bits of SHA-256 over the public key: long enough
//! that two devices never collide (birthday bound ~2^64), so a NodeId on the
//! wire is never ambiguous.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error("node id must be 32 hex digits, got {0:?}")]
    BadNodeId(String),
    #[error("key material must be 32 bytes, got {0}")]
    BadKeyLength(usize),
    #[error("public key is not a valid Ed25519 point")]
    BadPublicKey,
    #[error("signature does not verify")]
    BadSignature,
}

/// 128-bit node identifier.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NodeId(pub [u8; 16]);

impl NodeId {
    pub const LEN: usize = 16;

    pub fn from_public_key(pk: &[u8; 32]) -> Self {
        let h = Sha256::digest(pk);
        let mut id = [0u8; 16];
        id.copy_from_slice(&h[..16]);
        NodeId(id)
    }

    pub fn from_slice(b: &[u8]) -> Option<Self> {
        let a: [u8; 16] = b.try_into().ok()?;
        Some(NodeId(a))
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// First 8 hex digits: what operators read in logs and tables.
    pub fn short(&self) -> String {
        // The first four bytes in hex: the same as the head of `to_string`,
        // without formatting the other twelve.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(8);
        for b in &self.0[..4] {
            s.push(HEX[usize::from(b >> 4)] as char);
            s.push(HEX[usize::from(b & 15)] as char);
        }
        s
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.short())
    }
}

impl FromStr for NodeId {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || IdentityError::BadNodeId(s.to_string());
        if s.len() != 32 || !s.is_ascii() {
            return Err(bad());
        }
        let mut id = [0u8; 16];
        for (i, out) in id.iter_mut().enumerate() {
            *out = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(NodeId(id))
    }
}

impl serde::Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A device's signing key. The secret is created by the driver (from the OS
/// RNG in the daemon, from the seed in the simulator) and handed in.
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
    id: NodeId,
}

impl Identity {
    pub fn from_secret(secret: &[u8; 32]) -> Self {
        let key = SigningKey::from_bytes(secret);
        let id = NodeId::from_public_key(&key.verifying_key().to_bytes());
        Identity { key, id }
    }

    pub fn from_secret_slice(b: &[u8]) -> Result<Self, IdentityError> {
        let a: [u8; 32] = b
            .try_into()
            .map_err(|_| IdentityError::BadKeyLength(b.len()))?;
        Ok(Self::from_secret(&a))
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    pub fn secret(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The X25519 secret twin of the signing key (messages are sealed to
    /// a device's one published key, see `msg::seal`).
    pub fn x25519_secret(&self) -> [u8; 32] {
        self.key.to_scalar_bytes()
    }

    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Verify `sig` over `msg` by public key `pk`.
pub fn verify(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Result<(), IdentityError> {
    let vk = VerifyingKey::from_bytes(pk).map_err(|_| IdentityError::BadPublicKey)?;
    vk.verify(msg, &Signature::from_bytes(sig))
        .map_err(|_| IdentityError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_is_hash_of_public_key() {
        let ident = Identity::from_secret(&[7u8; 32]);
        assert_eq!(ident.id(), NodeId::from_public_key(&ident.public_key()));
        let other = Identity::from_secret(&[8u8; 32]);
        assert_ne!(ident.id(), other.id());
    }

    #[test]
    fn node_id_parses_its_display() {
        let id = Identity::from_secret(&[1u8; 32]).id();
        assert_eq!(id.to_string().parse::<NodeId>(), Ok(id));
        assert!("zz".parse::<NodeId>().is_err());
        assert!("é".repeat(16).parse::<NodeId>().is_err());
    }

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let ident = Identity::from_secret(&[3u8; 32]);
        let sig = ident.sign(b"engine-3");
        assert!(verify(&ident.public_key(), b"engine-3", &sig).is_ok());
        assert_eq!(
            verify(&ident.public_key(), b"engine-4", &sig),
            Err(IdentityError::BadSignature)
        );
    }
}
